//! Layer normalization (`torch.nn.LayerNorm`).

use crate::layer::{Init, LayerForward, LayerShape, LeafIo, TensorDecl};
use crate::ForwardCtx;
use serde::{Deserialize, Deserializer, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

fn default_eps() -> f64 {
    1e-5
}

/// Each example normalized over its last axes (`normalized_shape`) with its own mean and
/// *biased* variance, then scaled and shifted elementwise:
/// `y = γ ⊙ (x − μ) / √(σ² + eps) + β`, γ starting at 1 and β at 0. The same in training and
/// evaluation (no running statistics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNorm {
    /// The trailing axes normalized over: a width (`8`) or a shape (`[4, 8]`).
    #[serde(deserialize_with = "one_or_many")]
    pub normalized_shape: Vec<usize>,
    /// Added to the variance before the square root (PyTorch: 1e-5).
    #[serde(default = "default_eps")]
    pub eps: f64,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(usize),
        Many(Vec<usize>),
    }
    match Form::deserialize(d)
        .map_err(|_| serde::de::Error::custom("expected a width or a list of widths"))?
    {
        Form::One(n) => Ok(vec![n]),
        Form::Many(v) => Ok(v),
    }
}

impl LayerNorm {
    /// With PyTorch's eps.
    pub fn new(normalized_shape: Vec<usize>) -> Self {
        LayerNorm {
            normalized_shape,
            eps: default_eps(),
        }
    }

    fn size(&self) -> usize {
        self.normalized_shape.iter().product()
    }
}

impl LayerShape for LayerNorm {
    fn describe(&self) -> String {
        match self.normalized_shape.as_slice() {
            [n] => format!("LayerNorm({n})"),
            s => format!("LayerNorm({s:?})"),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(format!("eps must be positive and finite, got {}", self.eps));
        }
        let k = self.normalized_shape.len();
        if k == 0
            || self.size() == 0
            || k > input.len()
            || input[input.len() - k..] != self.normalized_shape[..]
        {
            return Err(format!(
                "normalized_shape {:?} is not the end of the input shape {input:?}",
                self.normalized_shape
            ));
        }
        Ok(input.to_vec())
    }

    fn parameters(&self) -> Vec<TensorDecl> {
        vec![
            TensorDecl::new("weight", self.normalized_shape.clone(), Init::Fill(1.0)),
            TensorDecl::new("bias", self.normalized_shape.clone(), Init::Fill(0.0)),
        ]
    }
}

impl<T: Element> LayerForward<T> for LayerNorm {
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        _: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        let m = self.size();
        let rows = x.numel() / m.max(1);
        let h = x.reshape(&[rows, m])?;
        let mean = h.mean_axis(1, true)?;
        let centered = h.sub(&mean)?;
        let var = centered.powf(T::from_f64(2.0)).mean_axis(1, true)?;
        centered
            .div(&var.add_scalar(T::from_f64(self.eps)).sqrt())?
            .mul(&io.params[0].reshape(&[m])?)?
            .add(&io.params[1].reshape(&[m])?)?
            .reshape(x.dims())
    }
}
