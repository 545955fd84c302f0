use crate::shape::Shape;

/// Errors from tensor operations. Messages name the operation and the shapes involved so a
/// user can find the offending layer without a debugger.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("shape mismatch in {op}: lhs {lhs}, rhs {rhs}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Shape,
        rhs: Shape,
    },
    #[error("invalid argument to {op}: {msg}")]
    InvalidArgument { op: &'static str, msg: String },
    #[error("{op} supports ranks 0 to {max}, got a tensor of rank {rank}")]
    RankTooLarge {
        op: &'static str,
        rank: usize,
        max: usize,
    },
    #[error("{op} needs {expected} elements for shape {shape}, got {got}")]
    ElementCount {
        op: &'static str,
        shape: Shape,
        expected: usize,
        got: usize,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
        }
    }
}
