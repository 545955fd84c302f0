use std::path::Path;

/// Errors from building models and reading or writing checkpoints.
///
/// Forward passes and losses return [`trainscope_core::Error`] directly (so they compose with
/// [`trainscope_core::grad`] and [`trainscope_core::SecondOrder`]); it converts into this type
/// with `?`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] trainscope_core::Error),
    /// A [`crate::ModelSpec`] that cannot describe a working model.
    #[error("invalid model: {0}")]
    Spec(String),
    /// A checkpoint could not be written or read; the message names the file and the tensor.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The file, as given.
        path: String,
        /// What went wrong.
        msg: String,
    },
}

/// A result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn checkpoint(path: &Path, msg: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }
}
