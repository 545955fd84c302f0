//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong when building or stepping an optimizer or a schedule.
///
/// Messages name the offending field or tensor, e.g.
/// `invalid optimizer setting "beta2" = 1.5: must be in [0, 1)`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OptimError {
    /// A hyperparameter of an optimizer is outside its allowed range.
    #[error("invalid optimizer setting \"{field}\" = {value}: {requirement}")]
    InvalidSetting {
        /// Field name as spelled in the configuration.
        field: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The allowed range, e.g. `must be in [0, 1)`.
        requirement: String,
    },
    /// A hyperparameter of a learning-rate schedule is outside its allowed range.
    #[error("invalid schedule setting \"{field}\" = {value}: {requirement}")]
    InvalidSchedule {
        /// Field name as spelled in the configuration.
        field: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The allowed range.
        requirement: String,
    },
    /// `params` and `grads` hold a different number of tensors.
    #[error("optimizer step got {params} parameter tensors but {grads} gradient tensors")]
    TensorCountMismatch {
        /// Number of parameter slices.
        params: usize,
        /// Number of gradient slices.
        grads: usize,
    },
    /// A gradient slice is not as long as its parameter slice.
    #[error("parameter tensor {index}: gradient has {grad} elements, parameter has {param}")]
    LengthMismatch {
        /// Position of the tensor in the list.
        index: usize,
        /// Elements in the parameter slice.
        param: usize,
        /// Elements in the gradient slice.
        grad: usize,
    },
    /// The parameters no longer have the total size the optimizer state was built for.
    #[error("optimizer state holds {expected} elements but the parameters have {got} in total")]
    ParameterSizeChanged {
        /// Elements the state was allocated for.
        expected: usize,
        /// Elements in the parameters passed now.
        got: usize,
    },
    /// A saved state does not fit this optimizer or schedule.
    #[error("cannot load optimizer state: {0}")]
    StateMismatch(String),
}

impl OptimError {
    pub(crate) fn setting(field: &'static str, value: impl ToString, requirement: &str) -> Self {
        OptimError::InvalidSetting {
            field,
            value: value.to_string(),
            requirement: requirement.to_string(),
        }
    }

    pub(crate) fn schedule(field: &'static str, value: impl ToString, requirement: &str) -> Self {
        OptimError::InvalidSchedule {
            field,
            value: value.to_string(),
            requirement: requirement.to_string(),
        }
    }
}

/// Checks shared by optimizer and schedule validation. Each returns the value on success so
/// a validating constructor reads as a list of field checks. `NaN` fails every check.
pub(crate) mod check {
    use super::OptimError;

    type Mk = fn(&'static str, f64, &str) -> OptimError;

    fn mk_setting(field: &'static str, v: f64, req: &str) -> OptimError {
        OptimError::setting(field, v, req)
    }
    fn mk_schedule(field: &'static str, v: f64, req: &str) -> OptimError {
        OptimError::schedule(field, v, req)
    }

    /// Selects whether failures are reported as optimizer or schedule settings.
    #[derive(Clone, Copy)]
    pub(crate) struct Checker(Mk);

    pub(crate) const OPT: Checker = Checker(mk_setting);
    pub(crate) const SCHED: Checker = Checker(mk_schedule);

    impl Checker {
        pub(crate) fn positive(self, field: &'static str, v: f64) -> Result<f64, OptimError> {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err((self.0)(field, v, "must be finite and > 0"))
            }
        }
        pub(crate) fn non_negative(self, field: &'static str, v: f64) -> Result<f64, OptimError> {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err((self.0)(field, v, "must be finite and >= 0"))
            }
        }
        pub(crate) fn unit_half_open(self, field: &'static str, v: f64) -> Result<f64, OptimError> {
            if (0.0..1.0).contains(&v) {
                Ok(v)
            } else {
                Err((self.0)(field, v, "must be in [0, 1)"))
            }
        }
        pub(crate) fn unit_closed(self, field: &'static str, v: f64) -> Result<f64, OptimError> {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err((self.0)(field, v, "must be in [0, 1]"))
            }
        }
        pub(crate) fn unit_open(self, field: &'static str, v: f64) -> Result<f64, OptimError> {
            if v > 0.0 && v < 1.0 {
                Ok(v)
            } else {
                Err((self.0)(field, v, "must be in (0, 1)"))
            }
        }
        pub(crate) fn finite(self, field: &'static str, v: f64) -> Result<f64, OptimError> {
            if v.is_finite() {
                Ok(v)
            } else {
                Err((self.0)(field, v, "must be finite"))
            }
        }
    }
}
