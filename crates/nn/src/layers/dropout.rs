//! Inverted dropout (`torch.nn.Dropout`).

use crate::layer::{LayerForward, LayerShape, LeafIo, Mode};
use crate::layers::forward_error;
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

/// Inverted dropout: in [`Mode::Train`] each unit is zeroed with probability `p` and the kept
/// ones are scaled by `1/(1 − p)`, so the expected output equals the input; in [`Mode::Eval`]
/// it is the identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropout {
    /// Probability of zeroing a unit, in [0, 1].
    pub p: f64,
}

impl LayerShape for Dropout {
    fn describe(&self) -> String {
        format!("Dropout(p = {})", self.p)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(format!("p must be in [0, 1], got {}", self.p));
        }
        Ok(input.to_vec())
    }
}

impl<T: Element> LayerForward<T> for Dropout {
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        ctx: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        let p = self.p;
        if io.mode == Mode::Eval || p == 0.0 {
            return Ok(x.clone());
        }
        let rng = ctx.rng.as_deref_mut().ok_or_else(|| {
            forward_error(format!(
                "layer {} (Dropout) in Train mode needs a random generator in the ForwardCtx",
                io.name
            ))
        })?;
        let u = Tensor::<T>::uniform(x.dims(), T::zero(), T::one(), rng)?;
        // p = 1 drops everything; 1/(1 − p) would turn the zeros into NaN.
        let scale = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
        let mask = u.ge_scalar(T::from_f64(p)).mul_scalar(T::from_f64(scale));
        x.mul(&mask)
    }
}
