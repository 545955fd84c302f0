//! `y = x Wᵀ + b` (`torch.nn.Linear`).

use crate::layer::{Init, LayerForward, LayerShape, LeafIo, TensorDecl};
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

/// `y = x Wᵀ + b` with `W: [out_features, in_features]`, `b: [out_features]`, applied to the
/// last axis. Initialized as PyTorch does: `W, b ~ U(−1/√in, 1/√in)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// Width of the input.
    pub in_features: usize,
    /// Width of the output.
    pub out_features: usize,
}

impl LayerShape for Linear {
    fn describe(&self) -> String {
        format!("Linear({} → {})", self.in_features, self.out_features)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let width = input.last().copied().unwrap_or(0);
        if self.in_features != width {
            return Err(format!(
                "in_features {} does not match the {width} features coming in",
                self.in_features
            ));
        }
        if self.out_features == 0 {
            return Err("out_features must be at least 1".into());
        }
        let mut out = input.to_vec();
        *out.last_mut().expect("checked above") = self.out_features;
        Ok(out)
    }

    fn parameters(&self) -> Vec<TensorDecl> {
        let bound = Init::Uniform(1.0 / (self.in_features as f64).sqrt());
        vec![
            TensorDecl::new("weight", vec![self.out_features, self.in_features], bound),
            TensorDecl::new("bias", vec![self.out_features], bound),
        ]
    }
}

impl<T: Element> LayerForward<T> for Linear {
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        _: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        let (w, b) = (&io.params[0], &io.params[1]);
        if x.rank() == 2 {
            return x.matmul_t(w, false, true)?.add(b);
        }
        let rows = x.numel() / self.in_features.max(1);
        let mut dims = x.dims().to_vec();
        *dims.last_mut().unwrap_or(&mut 0) = self.out_features;
        x.reshape(&[rows, self.in_features])?
            .matmul_t(w, false, true)?
            .add(b)?
            .reshape(&dims)
    }
}
