use std::path::{Path, PathBuf};

/// Why a run directory's file could not be read or written; each names the file.
#[derive(Debug)]
pub enum RecordError {
    /// The file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not what its name says (line numbers included where there are lines).
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. `line 3: missing field epoch`.
        msg: String,
    },
}

impl RecordError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RecordError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn malformed(path: &Path, msg: impl Into<String>) -> Self {
        RecordError::Malformed {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            RecordError::Malformed { path, msg } => write!(f, "{}: {msg}", path.display()),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecordError::Io { source, .. } => Some(source),
            RecordError::Malformed { .. } => None,
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, RecordError>;
