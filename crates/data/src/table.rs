//! Reading CSV files with a header into datasets.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use csv::{ReaderBuilder, StringRecord, Trim};

use crate::dataset::{Dataset, PredictionData, Schema, Targets, Task};
use crate::error::{DataError, Result};
use crate::features::{Features, Precision};
use crate::labels::LabelMap;
use crate::source;

/// How to read a training CSV: which column is the target, which columns are features, and
/// whether the task is regression or classification.
///
/// The file must have a header row; it may be gzip-compressed (recognized by its first bytes,
/// whatever its name). Fields are separated by commas, semicolons or tabs, whichever the header
/// line holds most of. Cells are trimmed of surrounding spaces. Feature cells and regression
/// targets must be finite numbers; class labels may be any non-empty text (see [`LabelMap`] for
/// how they become class indices).
///
/// ```
/// use trainscope_data::{CsvOptions, Task};
///
/// let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap() + "/../../examples/data";
/// let data = CsvOptions::classification("target")
///     .with_features(["mean_radius", "mean_texture"])
///     .load(format!("{dir}/breast_cancer.csv"))?;
/// assert_eq!(data.task(), Task::Classification);
/// assert_eq!((data.n_rows(), data.n_features()), (569, 2));
/// assert_eq!(data.class_counts(), Some(vec![212, 357]));
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    targets: Vec<String>,
    task: Task,
    features: Option<Vec<String>>,
    precision: Precision,
}

impl CsvOptions {
    /// Target column `target`, all other columns as features.
    pub fn new(target: impl Into<String>, task: Task) -> CsvOptions {
        CsvOptions {
            targets: vec![target.into()],
            task,
            features: None,
            precision: Precision::F64,
        }
    }

    /// A regression on the column named `target`.
    pub fn regression(target: impl Into<String>) -> CsvOptions {
        CsvOptions::new(target, Task::Regression)
    }

    /// A regression on several target columns at once (one model output each), in this order.
    /// An empty list is an error when the file is read.
    pub fn regression_on<I, S>(targets: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CsvOptions {
            targets: targets.into_iter().map(Into::into).collect(),
            task: Task::Regression,
            features: None,
            precision: Precision::F64,
        }
    }

    /// A classification on the column named `target`.
    pub fn classification(target: impl Into<String>) -> CsvOptions {
        CsvOptions::new(target, Task::Classification)
    }

    /// Use only these columns as features, in this order (instead of all non-target columns in
    /// file order).
    pub fn with_features<I, S>(mut self, names: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.features = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Store the features in `precision` (see [`Precision`]; exact `f64` by default).
    pub fn with_precision(mut self, precision: Precision) -> CsvOptions {
        self.precision = precision;
        self
    }

    /// Reads a training file, as a stream: memory holds the values read, not the file. For
    /// classification the label map is built from this file's labels.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Dataset> {
        let path = path.as_ref();
        self.read(path, source::open(path)?)
    }

    /// [`CsvOptions::load`] on the content of a file already in memory (plain or gzip); `path`
    /// only names it in errors.
    pub fn parse(&self, path: &Path, bytes: &[u8]) -> Result<Dataset> {
        self.read(path, source::from_bytes(path, bytes)?)
    }

    /// Reads a training file as [`CsvOptions::load`] does (same columns, same errors naming
    /// file, line and column) without keeping its rows: every few thousand rows are handed to
    /// `sink` (features in this reader's precision, regression values, and class ids in order
    /// of first appearance), which takes them out of the buffers. Returns the feature names,
    /// the label map (classification) with the class of each appearance id, and the row count.
    pub(crate) fn stream(&self, path: &Path, sink: Sink<'_>) -> Result<Streamed> {
        check_targets(&self.targets, self.task)?;
        if let Some(names) = &self.features {
            check_selection(names, &self.targets)?;
        }
        let plan = self.plan();
        let (mut reader, seen) = csv_reader(path, source::open(path)?)?;
        let table = read_table(path, &mut reader, &seen, &plan, Some(sink));
        if table.is_err() {
            seen.borrow_mut().counting_lines = false;
            let _ = std::io::copy(reader.get_mut(), &mut std::io::sink());
        }
        let open = seen.borrow().unterminated_quote();
        if let Some(line) = open {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line,
                message:
                    "unterminated quote: the quoted field that opens on this line never closes"
                        .into(),
            });
        }
        let table = table?;
        let map = table.targets.and_then(|(_, map)| map);
        Ok((table.feature_names, map, table.class_index, table.rows))
    }

    fn plan(&self) -> Plan<'_> {
        Plan {
            features: self.features.as_deref(),
            precision: self.precision,
            target: Some(TargetPlan {
                names: &self.targets,
                required: true,
                kind: match self.task {
                    Task::Regression => TargetKind::Regression,
                    Task::Classification => TargetKind::Classes(None),
                },
            }),
        }
    }

    /// The target columns, and the task.
    pub(crate) fn targets(&self) -> (&[String], Task) {
        (&self.targets, self.task)
    }

    fn read(&self, path: &Path, input: source::Input<'_>) -> Result<Dataset> {
        check_targets(&self.targets, self.task)?;
        if let Some(names) = &self.features {
            check_selection(names, &self.targets)?;
        }
        let table = parse_table(path, input, &self.plan())?;
        finish_dataset(table, &self.targets)
    }
}

impl Schema {
    /// Reads a validation or test file with the target column: the schema's feature columns by
    /// name (in the schema's order, wherever they are in the file) and its label map, so a label
    /// the training data did not have is an error naming the line.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Dataset> {
        self.load_as(path, Precision::F64)
    }

    /// [`Schema::load`] with the features stored in `precision` (see [`Precision`]).
    pub fn load_as(&self, path: impl AsRef<Path>, precision: Precision) -> Result<Dataset> {
        let path = path.as_ref();
        let table = parse_table(path, source::open(path)?, &self.plan(true, precision))?;
        finish_dataset(table, &self.targets)
    }

    /// [`Schema::load`] on the content of a file already in memory; `path` only names it.
    pub fn parse(&self, path: &Path, bytes: &[u8]) -> Result<Dataset> {
        let input = source::from_bytes(path, bytes)?;
        let table = parse_table(path, input, &self.plan(true, Precision::F64))?;
        finish_dataset(table, &self.targets)
    }

    /// Reads prediction inputs: the schema's feature columns by name. The target column may be
    /// absent; if present it is read too (with the schema's label map), so predictions can be
    /// scored.
    pub fn load_for_prediction(&self, path: impl AsRef<Path>) -> Result<PredictionData> {
        let path = path.as_ref();
        self.read_for_prediction(path, source::open(path)?)
    }

    /// [`Schema::load_for_prediction`] on the content of a file already in memory; `path` only
    /// names it.
    pub fn parse_for_prediction(&self, path: &Path, bytes: &[u8]) -> Result<PredictionData> {
        self.read_for_prediction(path, source::from_bytes(path, bytes)?)
    }

    fn read_for_prediction(&self, path: &Path, input: source::Input<'_>) -> Result<PredictionData> {
        let table = parse_table(path, input, &self.plan(false, Precision::F64))?;
        Ok(PredictionData {
            features: table.features.to_f64(),
            feature_names: table.feature_names,
            targets: table.targets.map(|(targets, _)| targets),
            lines: table.lines,
        })
    }

    fn plan(&self, target_required: bool, precision: Precision) -> Plan<'_> {
        Plan {
            features: Some(&self.feature_names),
            precision,
            target: Some(TargetPlan {
                names: &self.targets,
                required: target_required,
                kind: match &self.label_map {
                    None => TargetKind::Regression,
                    Some(map) => TargetKind::Classes(Some(map)),
                },
            }),
        }
    }
}

/// One target column for classes, at least one for regression, none twice.
fn check_targets(targets: &[String], task: Task) -> Result<()> {
    if targets.is_empty() {
        return Err(DataError::FeatureSelection(
            "the list of target columns is empty".into(),
        ));
    }
    if task == Task::Classification && targets.len() > 1 {
        return Err(DataError::WrongTask(format!(
            "a classification has one target column, not {} ({targets:?})",
            targets.len()
        )));
    }
    for (i, name) in targets.iter().enumerate() {
        if let Some(first) = targets[..i].iter().position(|t| t == name) {
            return Err(DataError::FeatureSelection(format!(
                "target column {name:?} is listed twice (positions {} and {})",
                first + 1,
                i + 1
            )));
        }
    }
    Ok(())
}

fn check_selection(names: &[String], targets: &[String]) -> Result<()> {
    if names.is_empty() {
        return Err(DataError::FeatureSelection(
            "the list of feature columns is empty".into(),
        ));
    }
    if let Some(target) = names.iter().find(|n| targets.contains(n)) {
        return Err(DataError::FeatureSelection(format!(
            "{target:?} is the target column and cannot also be a feature"
        )));
    }
    let mut seen = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = seen.insert(name.as_str(), i) {
            return Err(DataError::FeatureSelection(format!(
                "column {name:?} is listed twice (positions {} and {})",
                first + 1,
                i + 1
            )));
        }
    }
    Ok(())
}

fn finish_dataset(table: Table, targets: &[String]) -> Result<Dataset> {
    // A required target always yields targets; the `None` arm only guards that invariant.
    let (values, map) = table.targets.ok_or_else(|| DataError::MissingTarget {
        path: table.path.clone(),
        column: targets[0].clone(),
        available: Vec::new(),
    })?;
    Dataset::from_parts(
        table.features,
        table.feature_names,
        targets.to_vec(),
        values,
        map,
    )
}

struct Plan<'a> {
    /// `None`: every column except the target, in file order.
    features: Option<&'a [String]>,
    precision: Precision,
    target: Option<TargetPlan<'a>>,
}

struct TargetPlan<'a> {
    /// One column for classes; one or more for regression.
    names: &'a [String],
    required: bool,
    kind: TargetKind<'a>,
}

enum TargetKind<'a> {
    Regression,
    /// With a map: labels must be in it. Without: the map is built from this file.
    Classes(Option<&'a LabelMap>),
}

struct Table {
    path: PathBuf,
    features: Features,
    feature_names: Vec<String>,
    targets: Option<(Targets, Option<LabelMap>)>,
    /// The line of every row (empty when the rows were streamed to a sink).
    lines: Vec<u64>,
    /// The number of data rows.
    rows: usize,
    /// For classes numbered by this file: the class of each label id in order of first
    /// appearance (what a sink was handed); empty otherwise.
    class_index: Vec<usize>,
}

/// The delimiters a header line is checked for, the default first.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// The field delimiter of a CSV: whichever of comma, semicolon and tab occurs most often
/// (outside quotes) in the first non-blank line, the header; comma on a tie or when none occurs.
/// Spreadsheets in locales with a decimal comma write semicolons, and tab-separated exports are
/// common; guessing from the header spares a setting (a one-column file has no delimiter to find).
fn delimiter_of(bytes: &[u8]) -> u8 {
    let header = bytes
        .split(|&b| b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or(&[]);
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
                counts[i] += 1;
            }
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// The column names in the header row of the CSV file `path` (gzip or plain, any of the
/// delimiters [`CsvOptions`] accepts), for callers that choose the columns themselves.
pub fn csv_columns(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let (mut reader, seen) = csv_reader(path, source::open(path)?)?;
    let header = reader
        .headers()
        .map_err(|e| csv_error(path, e, &mut seen.borrow_mut()))?;
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok(header.iter().map(str::to_string).collect())
}

/// A csv reader on a file's content (read as a stream, see [`source::Input`]) with the
/// delimiter its header line holds most of, and what it has read ([`Seen`]) for line numbers.
///
/// The csv reader's own line numbers are wrong after blank lines and with CRLF line ends, so
/// [`Seen`] recomputes them from the bytes as they stream past; it keeps only the bytes between
/// the last record asked about and the reader's read-ahead.
fn csv_reader<'a>(
    path: &Path,
    input: source::Input<'a>,
) -> Result<(csv::Reader<Tap<'a>>, Rc<RefCell<Seen>>)> {
    let mut reader = input.reader;
    // The lines up to the first non-blank one, the header, decide the delimiter; they are
    // read again by the csv reader.
    let mut head = Vec::new();
    loop {
        let from = head.len();
        let n = reader
            .read_until(b'\n', &mut head)
            .map_err(|source| source::io_error(path, source))?;
        if n == 0 || head[from..].iter().any(|b| !b.is_ascii_whitespace()) {
            break;
        }
    }
    let delimiter = delimiter_of(&head);
    let seen = Rc::new(RefCell::new(Seen::new(delimiter)));
    let tap = Tap {
        inner: Box::new(std::io::Cursor::new(head).chain(reader)),
        seen: Rc::clone(&seen),
    };
    let reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        // Ragged rows are reported by us, with the expected and the found count.
        .flexible(true)
        .trim(Trim::All)
        .from_reader(tap);
    Ok((reader, seen))
}

fn parse_table(path: &Path, input: source::Input<'_>, plan: &Plan<'_>) -> Result<Table> {
    let (mut reader, seen) = csv_reader(path, input)?;
    let table = read_table(path, &mut reader, &seen, plan, None);
    if table.is_err() {
        // An unterminated quote further on is what went wrong first, whatever error the
        // records before it gave: read on (without keeping anything) to see whether one is
        // left open at the end. A read error here leaves the first error standing.
        seen.borrow_mut().counting_lines = false;
        let _ = std::io::copy(reader.get_mut(), &mut std::io::sink());
    }
    let open = seen.borrow().unterminated_quote();
    match open {
        // The csv reader took the rest of the file as one field, and whatever error (or
        // value) came of it would echo it; the line where the quote opened is what the user
        // needs.
        Some(line) => Err(DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: "unterminated quote: the quoted field that opens on this line never closes"
                .into(),
        }),
        None => table,
    }
}

/// What a streaming reader hands its rows to: every [`FLUSH_ROWS`] rows and at the end, the
/// rows read since the last call (features, regression values, class ids in order of first
/// appearance — [`Table::class_index`] maps them to classes at the end), to be taken out.
type Sink<'s> = &'s mut dyn FnMut(&mut Features, &mut Vec<f64>, &mut Vec<usize>) -> Result<()>;

/// What a streamed read returns: the feature names, the label map (classification), the class
/// of each label id in order of first appearance, and the number of rows.
pub(crate) type Streamed = (Vec<String>, Option<LabelMap>, Vec<usize>, usize);

/// Rows a streaming reader holds before handing them on.
const FLUSH_ROWS: usize = 4096;

fn read_table(
    path: &Path,
    reader: &mut csv::Reader<Tap<'_>>,
    seen: &RefCell<Seen>,
    plan: &Plan<'_>,
    mut sink: Option<Sink<'_>>,
) -> Result<Table> {
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(e) => return Err(csv_error(path, e, &mut seen.borrow_mut())),
    };
    let header_line = seen.borrow_mut().line_of(header.position());
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let names: Vec<String> = header.iter().map(str::to_string).collect();

    let mut index_of = HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = index_of.insert(name.as_str(), i) {
            return Err(DataError::DuplicateHeader {
                path: path.to_path_buf(),
                line: header_line,
                column: name.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }

    // The target columns: all of them, or (when not required) none unless all are present.
    let target_cols: Option<Vec<usize>> = match &plan.target {
        None => None,
        Some(t) => {
            let mut cols = Vec::with_capacity(t.names.len());
            for name in t.names {
                match index_of.get(name.as_str()) {
                    Some(&i) => cols.push(i),
                    None if t.required => {
                        return Err(DataError::MissingTarget {
                            path: path.to_path_buf(),
                            column: name.clone(),
                            available: names.clone(),
                        })
                    }
                    None => {
                        cols.clear();
                        break;
                    }
                }
            }
            (!cols.is_empty()).then_some(cols)
        }
    };
    let is_target = |i: usize| target_cols.as_ref().is_some_and(|c| c.contains(&i));

    let feature_cols: Vec<usize> = match plan.features {
        Some(selected) => selected
            .iter()
            .map(|name| {
                index_of
                    .get(name.as_str())
                    .copied()
                    .ok_or_else(|| DataError::UnknownColumn {
                        path: path.to_path_buf(),
                        column: name.clone(),
                        available: names.clone(),
                    })
            })
            .collect::<Result<_>>()?,
        None => (0..names.len()).filter(|&i| !is_target(i)).collect(),
    };
    if feature_cols.is_empty() {
        return Err(DataError::FeatureSelection(format!(
            "{}: no feature columns besides the target",
            path.display()
        )));
    }
    let feature_names: Vec<String> = feature_cols.iter().map(|&i| names[i].clone()).collect();

    let cell = |record: &StringRecord, line: u64, col: usize| -> Result<f64> {
        parse_number(path, line, col, &names[col], &record[col])
    };

    let mut features = match plan.precision {
        Precision::F64 => Features::F64(Vec::new()),
        Precision::F32 => Features::F32(Vec::new()),
    };
    let mut regression = Vec::new();
    let mut classes = Vec::new();
    // When the map is built from this file, each row keeps the index of its label among the
    // distinct labels (in order of appearance) until the whole file is read.
    let mut distinct: Vec<String> = Vec::new();
    let mut label_ids: HashMap<String, usize> = HashMap::new();
    let mut lines = Vec::new();
    let mut rows = 0usize;
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e, &mut seen.borrow_mut())),
        }
        let line = seen.borrow_mut().line_of(record.position());
        if record.len() != names.len() {
            return Err(DataError::Ragged {
                path: path.to_path_buf(),
                line,
                expected: names.len(),
                found: record.len(),
            });
        }
        for &col in &feature_cols {
            features.push(cell(&record, line, col)?);
        }
        if let (Some(cols), Some(target)) = (&target_cols, &plan.target) {
            match target.kind {
                TargetKind::Regression => {
                    for &col in cols {
                        regression.push(cell(&record, line, col)?);
                    }
                }
                TargetKind::Classes(map) => {
                    let col = cols[0];
                    let label = &record[col];
                    if label.is_empty() {
                        return Err(DataError::EmptyLabel {
                            path: path.to_path_buf(),
                            line,
                            col: col + 1,
                            column: names[col].clone(),
                        });
                    }
                    match map {
                        None => {
                            let next = distinct.len();
                            let id = *label_ids.entry(label.to_string()).or_insert(next);
                            if id == next {
                                distinct.push(label.to_string());
                            }
                            classes.push(id);
                        }
                        Some(map) => classes.push(map.index_of(label).ok_or_else(|| {
                            DataError::UnseenLabel {
                                path: path.to_path_buf(),
                                line,
                                label: label.to_string(),
                                known: map.labels().to_vec(),
                            }
                        })?),
                    }
                }
            }
        }
        rows += 1;
        match sink.as_mut() {
            None => lines.push(line),
            Some(sink) if rows % FLUSH_ROWS == 0 => {
                sink(&mut features, &mut regression, &mut classes)?
            }
            Some(_) => {}
        }
    }
    if let Some(sink) = sink.as_mut() {
        sink(&mut features, &mut regression, &mut classes)?;
    }
    if rows == 0 {
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    }

    let mut class_index = Vec::new();
    let targets = match (&target_cols, &plan.target) {
        (Some(_), Some(target)) => Some(match target.kind {
            TargetKind::Regression => (Targets::Regression(regression), None),
            TargetKind::Classes(Some(map)) => (Targets::Classes(classes), Some(map.clone())),
            TargetKind::Classes(None) => {
                // The same map as from every row's label: repeats change nothing in it.
                let map = LabelMap::from_labels(&distinct);
                let index: Vec<usize> = distinct
                    .iter()
                    .map(|l| {
                        map.index_of(l)
                            .expect("every training label is in its own map")
                    })
                    .collect();
                for c in &mut classes {
                    *c = index[*c];
                }
                class_index = index;
                (Targets::Classes(classes), Some(map))
            }
        }),
        _ => None,
    };

    Ok(Table {
        path: path.to_path_buf(),
        features,
        feature_names,
        targets,
        lines,
        rows,
        class_index,
    })
}

fn parse_number(path: &Path, line: u64, col: usize, column: &str, text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(DataError::NotFinite {
            path: path.to_path_buf(),
            line,
            col: col + 1,
            column: column.to_string(),
            value: text.to_string(),
        }),
        Err(_) => Err(DataError::NotANumber {
            path: path.to_path_buf(),
            line,
            col: col + 1,
            column: column.to_string(),
            value: text.to_string(),
        }),
    }
}

fn csv_error(path: &Path, error: csv::Error, lines: &mut Seen) -> DataError {
    let line = lines.line_of(error.position());
    match error.into_kind() {
        csv::ErrorKind::Io(source) => source::io_error(path, source),
        csv::ErrorKind::Utf8 { err, .. } => DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!("field {} is not valid UTF-8", err.field() + 1),
        },
        // Only reachable through csv features this crate does not use (serde, seeking).
        other => DataError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// The csv reader's input: a file's content, with what passes through noted in [`Seen`].
struct Tap<'a> {
    inner: Box<dyn Read + 'a>,
    seen: Rc<RefCell<Seen>>,
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.seen.borrow_mut();
        if n == 0 && !buf.is_empty() {
            seen.eof = true;
        }
        if seen.counting_lines {
            seen.window.extend(&buf[..n]);
        }
        for &b in &buf[..n] {
            seen.quotes.feed(b);
        }
        Ok(n)
    }
}

/// What the csv reader has read: for 1-based line numbers of records from their byte offsets,
/// and for a quoted field still open at the end.
///
/// The csv reader reports as a record's position the end of the previous record, before any
/// blank lines and (with CRLF) before the `\n`; so the record really starts after the line
/// breaks that follow. A line break is `\n`, `\r\n` or a lone `\r`. Records come in order, so
/// counting resumes where the previous record left off, and the bytes before it are let go.
struct Seen {
    /// Bytes read but not yet counted, from file offset `base` on.
    window: VecDeque<u8>,
    base: u64,
    /// Line breaks before `base`.
    breaks: u64,
    quotes: Quotes,
    /// The csv reader has read to the end of the content.
    eof: bool,
    /// Bytes are kept for line numbers (not while reading on only to look for quotes).
    counting_lines: bool,
}

impl Seen {
    fn new(delimiter: u8) -> Seen {
        Seen {
            window: VecDeque::new(),
            base: 0,
            breaks: 0,
            quotes: Quotes::new(delimiter),
            eof: false,
            counting_lines: true,
        }
    }

    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return self.breaks + 1;
        };
        // A position already counted past (asked twice) gets the line counted so far.
        let Some(offset) = position.byte().checked_sub(self.base) else {
            return self.breaks + 1;
        };
        let w = &self.window;
        let mut start = usize::try_from(offset).unwrap_or(usize::MAX).min(w.len());
        while start < w.len() && matches!(w[start], b'\r' | b'\n') {
            start += 1;
        }
        self.breaks += (0..start)
            .filter(|&i| w[i] == b'\n' || (w[i] == b'\r' && w.get(i + 1) != Some(&b'\n')))
            .count() as u64;
        self.window.drain(..start);
        self.base += start as u64;
        self.breaks + 1
    }

    /// The line a quoted field opened on, when the content ended inside it.
    fn unterminated_quote(&self) -> Option<u64> {
        (self.eof && self.quotes.open()).then_some(self.quotes.opened)
    }
}

/// Follows quotes as the csv reader parses them, a byte at a time: a `"` opens a quoted field
/// only as the field's first byte, `""` inside it is an escaped quote, and a line break inside
/// it belongs to the field; fields are separated by `delimiter`.
struct Quotes {
    delimiter: u8,
    /// 1-based line of the next byte.
    line: u64,
    /// The line the last quoted field opened on.
    opened: u64,
    field_start: bool,
    quoted: bool,
    /// Inside a quoted field, a `"` was read: the next byte says whether it closes the field
    /// or is the first of an escaped `""`.
    quote_pending: bool,
    after_cr: bool,
}

impl Quotes {
    fn new(delimiter: u8) -> Quotes {
        Quotes {
            delimiter,
            line: 1,
            opened: 0,
            field_start: true,
            quoted: false,
            quote_pending: false,
            after_cr: false,
        }
    }

    fn feed(&mut self, b: u8) {
        if self.quote_pending {
            self.quote_pending = false;
            if b == b'"' {
                // An escaped quote: the field goes on.
                self.count_line(b);
                return;
            }
            self.quoted = false;
        }
        if self.quoted {
            self.quote_pending = b == b'"';
            self.field_start = false;
        } else if b == b'"' && self.field_start {
            self.quoted = true;
            self.opened = self.line;
            self.field_start = false;
        } else {
            self.field_start = b == self.delimiter || b == b'\n' || b == b'\r';
        }
        self.count_line(b);
    }

    /// `\r\n` is one line break, a lone `\r` or `\n` one each.
    fn count_line(&mut self, b: u8) {
        if b == b'\r' || (b == b'\n' && !self.after_cr) {
            self.line += 1;
        }
        self.after_cr = b == b'\r';
    }

    /// A quoted field is open (a `"` just read at the end would have closed it).
    fn open(&self) -> bool {
        self.quoted && !self.quote_pending
    }
}

#[cfg(test)]
mod delimiter_tests {
    use super::delimiter_of;

    #[test]
    fn the_header_decides_the_delimiter() {
        assert_eq!(delimiter_of(b"x1,x2,color\n1,2,red\n"), b',');
        assert_eq!(delimiter_of(b"x1;x2;color\n1,5;2,5;red\n"), b';');
        assert_eq!(delimiter_of(b"\n\nx1\tx2\tcolor\n1\t2\tred\n"), b'\t');
        // Delimiters inside a quoted name do not count.
        assert_eq!(delimiter_of(b"\"a;b;c\",y\n"), b',');
        // One column, or nothing: the default.
        assert_eq!(delimiter_of(b"y\n1\n"), b',');
        assert_eq!(delimiter_of(b""), b',');
    }
}
