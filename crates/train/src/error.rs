//! Errors of configuration, training and prediction. Each names what is at fault (the file and
//! position, the configuration key, the epoch and update) and keeps its cause as `source`, so a
//! front end can print the whole chain.

use std::path::PathBuf;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type, at a position in the file.
    #[error("{}:{line}:{col}: {msg}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        col: usize,
        /// What is wrong.
        msg: String,
    },
    /// A `--set` that is not `key=value` or whose key path runs through a value.
    #[error("--set {spec}: {msg}")]
    BadSet {
        /// The argument as given.
        spec: String,
        /// What is wrong.
        msg: String,
    },
    /// The configuration with the overrides applied does not deserialize.
    #[error("after --set {overrides}: {detail}")]
    Override {
        /// All overrides, as given.
        overrides: String,
        /// The deserializer's message (names the key).
        detail: String,
    },
    /// A value out of range, or keys that do not go together.
    #[error("{key}: {msg}")]
    Invalid {
        /// The dotted key, e.g. `training.epochs`.
        key: String,
        /// What is wrong.
        msg: String,
    },
}

/// Anything that stops a run, a prediction or an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// See [`ConfigError`].
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A data file that cannot be used; the message names the file (and line and column).
    #[error(transparent)]
    DataFile(Box<trainscope_data::DataError>),
    /// A checkpoint that cannot be read or written; the message names the file.
    #[error(transparent)]
    ModelFile(Box<trainscope_nn::Error>),
    /// Reading or preparing data failed (the cause names file, line and column).
    #[error("{context}")]
    Data {
        /// What was being done.
        context: String,
        /// The data crate's error.
        #[source]
        source: Box<trainscope_data::DataError>,
    },
    /// Building, loading or saving a model failed.
    #[error("{context}")]
    Model {
        /// What was being done.
        context: String,
        /// The nn crate's error.
        #[source]
        source: Box<trainscope_nn::Error>,
    },
    /// A tensor operation failed (a bug or a model that does not fit its data).
    #[error("{context}")]
    Tensor {
        /// What was being done.
        context: String,
        /// The core crate's error.
        #[source]
        source: Box<trainscope_core::Error>,
    },
    /// The optimizer could not be built or stepped, or its saved state does not fit.
    #[error("{context}")]
    Optim {
        /// What was being done.
        context: String,
        /// The optim crate's error.
        #[source]
        source: Box<trainscope_optim::OptimError>,
    },
    /// A file of the run directory could not be written or read.
    #[error("{}: {what}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The loss, the gradient or the parameters stopped being finite.
    #[error(
        "training diverged at epoch {epoch}, update {update} of the epoch (step {step}): {what}. \
         Try a lower learning rate (optimizer.lr), gradient clipping (optimizer.clip_global_norm), \
         or standardized inputs (data.standardize = true).{}",
        match last_good { Some((p, e)) => format!(" The last good weights (epoch {e}) are in {}.", p.display()), None => String::new() }
    )]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based update within the epoch.
        update: usize,
        /// 1-based update since the run started.
        step: u64,
        /// What became non-finite, e.g. `the loss became NaN`.
        what: String,
        /// The checkpoint that still holds finite weights, and their epoch: the last completed
        /// one (0: the initial weights).
        last_good: Option<(PathBuf, usize)>,
        /// The run up to its last completed epoch, with `diverged` filled, so that a front end
        /// can still report it.
        summary: Option<Box<crate::trainer::Summary>>,
    },
    /// A checkpoint or resume file that does not fit the run or is malformed.
    #[error("{}: {msg}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The data and the configuration or model disagree.
    #[error("{0}")]
    Mismatch(String),
}

impl From<trainscope_data::DataError> for TrainError {
    fn from(e: trainscope_data::DataError) -> Self {
        TrainError::DataFile(Box::new(e))
    }
}

impl From<trainscope_nn::Error> for TrainError {
    fn from(e: trainscope_nn::Error) -> Self {
        TrainError::ModelFile(Box::new(e))
    }
}

/// Result with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// Attaches a context to errors of the workspace crates.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, trainscope_data::DataError> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| TrainError::Data {
            context: what(),
            source: Box::new(source),
        })
    }
}

impl<T> Context<T> for std::result::Result<T, trainscope_nn::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| TrainError::Model {
            context: what(),
            source: Box::new(source),
        })
    }
}

impl<T> Context<T> for std::result::Result<T, trainscope_core::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| TrainError::Tensor {
            context: what(),
            source: Box::new(source),
        })
    }
}

impl<T> Context<T> for std::result::Result<T, trainscope_optim::OptimError> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| TrainError::Optim {
            context: what(),
            source: Box::new(source),
        })
    }
}

pub(crate) fn io_err(
    path: impl Into<PathBuf>,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, what, source }
}
