//! Errors: each names the file or option at fault.

/// What went wrong while inspecting a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Training, configuration or checkpoint metadata.
    #[error(transparent)]
    Train(#[from] trainscope_train::TrainError),
    /// A configuration file.
    #[error(transparent)]
    Config(#[from] trainscope_train::ConfigError),
    /// The diagnostics (Hessian, escape, metrics).
    #[error(transparent)]
    Diag(#[from] trainscope_diag::Error),
    /// A checkpoint or model.
    #[error(transparent)]
    Model(#[from] trainscope_nn::Error),
    /// A data file.
    #[error(transparent)]
    Data(#[from] trainscope_data::DataError),
    /// A plot or JSON file.
    #[error(transparent)]
    Viz(#[from] trainscope_viz::VizError),
    /// Tensor arithmetic.
    #[error(transparent)]
    Tensor(#[from] trainscope_core::Error),
    /// A run directory's file.
    #[error(transparent)]
    Record(#[from] trainscope_record::RecordError),
    /// An argument, path or combination that cannot work; the message names it.
    #[error("{0}")]
    Invalid(String),
}

/// A result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}
