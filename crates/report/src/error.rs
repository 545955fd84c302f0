use std::path::{Path, PathBuf};

/// What can go wrong reading a run or drawing it; messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is not what it should be.
    #[error("{}: {msg}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A run directory's file.
    #[error(transparent)]
    Record(#[from] trainscope_record::RecordError),
    /// An argument or a combination of inputs that cannot work.
    #[error("{0}")]
    Invalid(String),
    /// From the plotting and surface code.
    #[error(transparent)]
    Viz(#[from] trainscope_viz::VizError),
    /// From reading the run's configuration, data or checkpoint.
    #[error(transparent)]
    Train(#[from] trainscope_train::TrainError),
    /// From reading the run's configuration.
    #[error(transparent)]
    Config(#[from] trainscope_train::ConfigError),
    /// From the Hessian analysis.
    #[error(transparent)]
    Diag(#[from] trainscope_diag::Error),
    /// From loading a checkpoint.
    #[error(transparent)]
    Nn(#[from] trainscope_nn::Error),
    /// From building tensors.
    #[error(transparent)]
    Core(#[from] trainscope_core::Error),
    /// From reading data files.
    #[error(transparent)]
    Data(#[from] trainscope_data::DataError),
    /// From redrawing another command's figure.
    #[error(transparent)]
    Inspect(#[from] trainscope_inspect::Error),
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, msg: impl Into<String>) -> Self {
        ReportError::Malformed {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        ReportError::Invalid(msg.into())
    }
}

/// This crate's result type.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
