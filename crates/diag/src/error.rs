/// Errors from the diagnostics. Messages name what is wrong and, where there is one, the way
/// around it (for example the iterative mode when a dense Hessian would not fit).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation (forward pass, loss, backward pass) failed.
    #[error(transparent)]
    Tensor(#[from] trainscope_core::Error),
    /// A model could not be built.
    #[error(transparent)]
    Model(#[from] trainscope_nn::Error),
    /// An argument or option out of range; `what` names it.
    #[error("invalid {what}: {msg}")]
    Invalid {
        /// The argument or option.
        what: &'static str,
        /// Why it is rejected.
        msg: String,
    },
    /// The dense Hessian was asked for but does not fit the stated limits.
    #[error(
        "dense Hessian refused: {params} parameters need {needed_bytes} bytes \
         (Hessian 8·n² plus eigendecomposition workspace); limits are {max_params} parameters \
         and {max_bytes} bytes. Use the iterative mode (Lanczos) instead, or raise the limits"
    )]
    TooLarge {
        /// Parameter count `n`.
        params: usize,
        /// Bytes the dense analysis would need.
        needed_bytes: u64,
        /// The parameter limit in force.
        max_params: usize,
        /// The memory limit in force.
        max_bytes: u64,
    },
    /// The eigendecomposition did not converge.
    #[error("eigendecomposition of a {n}×{n} matrix did not converge")]
    Eigen {
        /// Matrix size.
        n: usize,
    },
    /// A value that must be finite was not (the loss diverged, or parameters hold NaN).
    #[error("non-finite {what}: {value}")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A metrics file could not be read or parsed; `line` is 1-based (0: the file as a whole).
    #[error("{path}:{line}: {msg}")]
    Metrics {
        /// The file, as given.
        path: String,
        /// 1-based line number, 0 when the whole file is at fault.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

/// A result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn invalid(what: &'static str, msg: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            msg: msg.into(),
        }
    }
}

/// Fails with [`Error::NonFinite`] unless `value` is finite.
pub(crate) fn finite(what: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite { what, value })
    }
}

/// True for a positive number (false for NaN).
pub(crate) fn is_positive(x: f64) -> bool {
    x > 0.0
}
