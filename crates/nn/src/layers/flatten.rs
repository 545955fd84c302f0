//! `torch.nn.Flatten`: each example's axes into one.

use crate::layer::{LayerForward, LayerShape, LeafIo};
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

/// Each example's axes flattened into one (`torch.nn.Flatten()`, start_dim 1): `[N, C, H, W]`
/// → `[N, C·H·W]`, in row-major order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flatten {}

impl LayerShape for Flatten {
    fn describe(&self) -> String {
        "Flatten".into()
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        Ok(vec![input.iter().product()])
    }
}

impl<T: Element> LayerForward<T> for Flatten {
    fn forward(
        &self,
        x: &Tensor<T>,
        _: &LeafIo<'_, T>,
        _: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        let n = x.dims().first().copied().unwrap_or(1);
        x.reshape(&[n, x.numel() / n.max(1)])
    }
}
