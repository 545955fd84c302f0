use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while loading, splitting, standardizing or batching data.
///
/// Messages name the thing that is wrong: the file, the 1-based line and column, the column's
/// header name, the offending text. They start with `path:line:col:` where those are known, so
/// an editor can jump to the spot.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read (including a corrupt gzip stream).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file has no bytes at all, or not even a header row.
    #[error("{}: file is empty", path.display())]
    EmptyFile { path: PathBuf },

    /// The CSV file has a header but not a single data row.
    #[error("{}: no data rows after the header", path.display())]
    NoRows { path: PathBuf },

    /// The CSV reader itself failed, e.g. on text that is not UTF-8.
    #[error("{}:{line}: {message}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// A row has a different number of fields than the header.
    #[error("{}:{line}: expected {expected} fields, found {found}", path.display())]
    Ragged {
        path: PathBuf,
        line: u64,
        expected: usize,
        found: usize,
    },

    /// A cell that must hold a number does not parse as one.
    #[error(
        "{}:{line}:{col}: expected a number, found {} (column {})",
        path.display(),
        echo(value),
        echo(column)
    )]
    NotANumber {
        path: PathBuf,
        line: u64,
        /// 1-based index of the field in its row.
        col: usize,
        /// The column's header name.
        column: String,
        value: String,
    },

    /// A cell parses as a number but is NaN or infinite.
    #[error(
        "{}:{line}:{col}: expected a finite number, found {} (column {})",
        path.display(),
        echo(value),
        echo(column)
    )]
    NotFinite {
        path: PathBuf,
        line: u64,
        col: usize,
        column: String,
        value: String,
    },

    /// A class label cell is empty.
    #[error("{}:{line}:{col}: empty class label (column {})", path.display(), echo(column))]
    EmptyLabel {
        path: PathBuf,
        line: u64,
        col: usize,
        column: String,
    },

    /// The target column named by the caller is not in the header.
    #[error(
        "{}: no target column {}; the columns are: {}",
        path.display(),
        echo(column),
        echo_list(available)
    )]
    MissingTarget {
        path: PathBuf,
        column: String,
        available: Vec<String>,
    },

    /// A feature column named by the caller (or recorded in a schema) is not in the header.
    #[error(
        "{}: no feature column {}; the columns are: {}",
        path.display(),
        echo(column),
        echo_list(available)
    )]
    UnknownColumn {
        path: PathBuf,
        column: String,
        available: Vec<String>,
    },

    /// Two header fields carry the same name, so selecting columns by name would be ambiguous.
    #[error(
        "{}:{line}: duplicate column name {} (columns {first} and {second})",
        path.display(),
        echo(column)
    )]
    DuplicateHeader {
        path: PathBuf,
        line: u64,
        column: String,
        first: usize,
        second: usize,
    },

    /// The caller's list of feature columns is unusable (repeats a name, contains the target,
    /// or is empty).
    #[error("invalid feature selection: {0}")]
    FeatureSelection(String),

    /// A class label in a validation, test or prediction file that the training data never had.
    #[error(
        "{}:{line}: label {} was not seen in training (known labels: {})",
        path.display(),
        echo(label),
        echo_list(known)
    )]
    UnseenLabel {
        path: PathBuf,
        line: u64,
        label: String,
        known: Vec<String>,
    },

    /// An IDX file whose header is not what its role requires.
    #[error("{}: {message}", path.display())]
    IdxFormat { path: PathBuf, message: String },

    /// IDX image and label files that describe different numbers of examples.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    IdxCountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },

    /// Parts of a dataset, or data and a fitted transform, disagree in their sizes.
    #[error("shape mismatch in {context}: {message}")]
    Shape {
        context: &'static str,
        message: String,
    },

    /// A NaN or infinite value where statistics are computed.
    #[error("{context}: value {value} at row {row}, feature {feature} is not finite")]
    NonFiniteValue {
        context: &'static str,
        row: usize,
        feature: usize,
        value: f64,
    },

    /// A parameter outside its allowed range, e.g. a validation fraction of 1.5.
    #[error("invalid {name} = {value}: {allowed}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        allowed: String,
    },

    /// An operation that needs class labels (or regression values) got the other kind.
    #[error("{0}")]
    WrongTask(String),

    /// A prepared dataset (its manifest or one of its shards) is damaged or does not fit.
    #[error("{}: {message}", path.display())]
    Prepared { path: PathBuf, message: String },
}

/// The longest text an error message echoes from a file, in characters.
const ECHO_CHARS: usize = 60;
/// The most names an error message lists.
const ECHO_NAMES: usize = 20;

/// `text` as an error message shows it: quoted, control characters escaped (so the message
/// stays on one line), and cut after [`ECHO_CHARS`] characters with the full length stated, so a
/// runaway field (a whole file after an unterminated quote) is not echoed.
///
/// ```
/// use trainscope_data::echo;
/// assert_eq!(echo("n/a"), r#""n/a""#);
/// assert_eq!(echo("a\nb"), r#""a\nb""#);
/// assert_eq!(echo(&"x".repeat(100)), format!("\"{}…\" (100 characters)", "x".repeat(60)));
/// ```
pub fn echo(text: &str) -> String {
    let (shown, cut) = clip(text);
    match cut {
        Some(n) => format!("\"{shown}…\" ({n} characters)"),
        None => format!("\"{shown}\""),
    }
}

/// Names joined with `, ` (unquoted, escaped and cut as by [`echo`]), at most [`ECHO_NAMES`] of
/// them and then the count.
pub fn echo_list(names: &[String]) -> String {
    let mut out: Vec<String> = names
        .iter()
        .take(ECHO_NAMES)
        .map(|name| match clip(name) {
            (shown, Some(n)) => format!("{shown}… ({n} characters)"),
            (shown, None) => shown,
        })
        .collect();
    if names.len() > ECHO_NAMES {
        out.push(format!("… ({} in all)", names.len()));
    }
    out.join(", ")
}

/// The first [`ECHO_CHARS`] characters of `text` with control characters, quotes and
/// backslashes escaped, and the full length when it was cut.
fn clip(text: &str) -> (String, Option<usize>) {
    let n = text.chars().count();
    let shown = text
        .chars()
        .take(ECHO_CHARS)
        .flat_map(|c| {
            // As `{:?}` of a string does: a single quote needs no escape inside double ones.
            let plain = c == '\'';
            let mut buf = [0u8; 4];
            let one = c.encode_utf8(&mut buf).to_string();
            if plain {
                one.chars().collect::<Vec<_>>()
            } else {
                c.escape_debug().collect()
            }
        })
        .collect();
    (shown, (n > ECHO_CHARS).then_some(n))
}

/// Result with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

pub(crate) fn invalid(
    name: &'static str,
    value: impl ToString,
    allowed: impl Into<String>,
) -> DataError {
    DataError::InvalidParameter {
        name,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}
