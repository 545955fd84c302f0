//! The residual block, `y = x + body(x)`: the only layer with layers inside.

use crate::layer::Layer;
use serde::{Deserialize, Serialize};

/// `y = x + body(x)`; the body's output must have the input's shape. PyTorch: a module with an
/// `nn.Sequential` attribute `body`, so parameters are named `<i>.body.<j>.weight`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residual {
    /// The layers of the branch, in order.
    pub body: Vec<Layer>,
}
