//! The leaf layers, one kind (or one family) per file; each is registered in
//! [`crate::layer`]'s `leaf_layers!`.

mod activations;
mod batch_norm;
mod conv2d;
mod dropout;
mod flatten;
mod layer_norm;
mod linear;
mod pool;
mod residual;
mod size2;

pub use activations::{HardSigmoid, Relu, Sigmoid, Tanh};
pub use batch_norm::{BatchNorm1d, BatchNorm2d};
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use pool::{AvgPool2d, MaxPool2d};
pub use residual::Residual;
pub use size2::Size2;

use trainscope_core::Error as CoreError;

pub(crate) fn forward_error(msg: String) -> CoreError {
    CoreError::InvalidArgument {
        op: "Sequential::forward",
        msg,
    }
}
