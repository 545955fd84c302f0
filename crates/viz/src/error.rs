//! The one error type of this crate.

use std::path::Path;

/// Everything that can go wrong while computing surfaces, drawing plots or writing files.
///
/// Messages name the file, the parameter or the argument at fault, e.g.
/// `unknown parameter "3.weight" (the model has 0.weight, 0.bias, 2.weight, 2.bias)`.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file, as given.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A tensor operation (forward pass, loss) failed.
    #[error(transparent)]
    Tensor(#[from] trainscope_core::Error),
    /// The model could not be used.
    #[error(transparent)]
    Model(#[from] trainscope_nn::Error),
    /// A loss function, gradient or Hessian of diag failed.
    #[error(transparent)]
    Diag(#[from] trainscope_diag::Error),
    /// The optimizer or schedule configuration is invalid, or a step failed.
    #[error(transparent)]
    Optim(#[from] trainscope_optim::OptimError),
    /// An argument is out of range or inconsistent with the others.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Drawing a plot failed.
    #[error("plot {path}: {msg}")]
    Plot {
        /// The output file.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// A TensorBoard event file is malformed.
    #[error("event file {path}: {msg}")]
    EventFile {
        /// The file read.
        path: String,
        /// What is wrong with it, and where.
        msg: String,
    },
}

/// A result with this crate's [`VizError`].
pub type Result<T> = std::result::Result<T, VizError>;

impl VizError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        VizError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        VizError::Invalid(msg.into())
    }
}
