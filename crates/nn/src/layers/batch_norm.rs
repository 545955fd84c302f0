//! Batch normalization over the batch (and spatial) axes: `torch.nn.BatchNorm1d` on
//! `[N, C]`, `torch.nn.BatchNorm2d` on `[N, C, H, W]`.

use crate::layer::{Init, LayerForward, LayerShape, LeafIo, Mode, TensorDecl};
use crate::layers::forward_error;
use crate::model::BatchStats;
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

fn default_eps() -> f64 {
    1e-5
}

fn default_momentum() -> f64 {
    0.1
}

/// Batch normalization of `[batch, num_features]` inputs:
/// `y = γ ⊙ (x − μ) / √(σ² + eps) + β`.
///
/// In [`Mode::Train`], μ and σ² are the batch mean and *biased* variance, and the running
/// statistics are then updated as `r ← (1 − momentum)·r + momentum·s` with the batch mean and
/// the *unbiased* variance (see [`crate::Sequential::update_running_stats`]). In
/// [`Mode::Eval`], μ and σ² are the running statistics. γ starts at 1, β at 0, the running
/// mean at 0 and the running variance at 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNorm1d {
    /// Width of the input (and output).
    pub num_features: usize,
    /// Added to the variance before the square root, for stability (PyTorch: 1e-5).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Weight of the newest batch in the running statistics (PyTorch: 0.1).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
}

/// [`BatchNorm1d`] per channel of `[N, C, H, W]` images: the statistics are over the batch
/// and both spatial axes (`N·H·W` values per channel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNorm2d {
    /// Channels of the input (and output).
    pub num_features: usize,
    /// Added to the variance before the square root (PyTorch: 1e-5).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Weight of the newest batch in the running statistics (PyTorch: 0.1).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
}

impl BatchNorm1d {
    /// With PyTorch's eps and momentum.
    pub fn new(num_features: usize) -> Self {
        BatchNorm1d {
            num_features,
            eps: default_eps(),
            momentum: default_momentum(),
        }
    }
}

impl BatchNorm2d {
    /// With PyTorch's eps and momentum.
    pub fn new(num_features: usize) -> Self {
        BatchNorm2d {
            num_features,
            eps: default_eps(),
            momentum: default_momentum(),
        }
    }
}

fn check(num_features: usize, eps: f64, momentum: f64) -> Result<(), String> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(format!("eps must be positive and finite, got {eps}"));
    }
    if !(0.0..=1.0).contains(&momentum) {
        return Err(format!("momentum must be in [0, 1], got {momentum}"));
    }
    if num_features == 0 {
        return Err("num_features must be at least 1".into());
    }
    Ok(())
}

fn tensors(c: usize) -> Vec<TensorDecl> {
    vec![
        TensorDecl::new("weight", vec![c], Init::Fill(1.0)),
        TensorDecl::new("bias", vec![c], Init::Fill(0.0)),
    ]
}

fn running(c: usize) -> Vec<TensorDecl> {
    vec![
        TensorDecl::new("running_mean", vec![c], Init::Fill(0.0)),
        TensorDecl::new("running_var", vec![c], Init::Fill(1.0)),
    ]
}

impl LayerShape for BatchNorm1d {
    fn describe(&self) -> String {
        format!("BatchNorm1d({})", self.num_features)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        check(self.num_features, self.eps, self.momentum)?;
        match input {
            [w] if *w == self.num_features => Ok(input.to_vec()),
            [w] => Err(format!(
                "num_features {} does not match the {w} features coming in",
                self.num_features
            )),
            _ => Err(format!(
                "needs [N, features] inputs, got [N, {}]",
                input
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    fn parameters(&self) -> Vec<TensorDecl> {
        tensors(self.num_features)
    }
    fn buffers(&self) -> Vec<TensorDecl> {
        running(self.num_features)
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
}

impl LayerShape for BatchNorm2d {
    fn describe(&self) -> String {
        format!("BatchNorm2d({})", self.num_features)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        check(self.num_features, self.eps, self.momentum)?;
        match input {
            [c, _, _] if *c == self.num_features => Ok(input.to_vec()),
            [c, _, _] => Err(format!(
                "num_features {} does not match the {c} channels coming in",
                self.num_features
            )),
            _ => Err(format!(
                "needs [N, C, H, W] images, got [N, {}]",
                input
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    fn parameters(&self) -> Vec<TensorDecl> {
        tensors(self.num_features)
    }
    fn buffers(&self) -> Vec<TensorDecl> {
        running(self.num_features)
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
}

impl<T: Element> LayerForward<T> for BatchNorm1d {
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        ctx: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        let c = self.num_features;
        normalize(x, &[1, c], self.eps, "BatchNorm1d", io, ctx)
    }
}

impl<T: Element> LayerForward<T> for BatchNorm2d {
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        ctx: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        let c = self.num_features;
        normalize(x, &[1, c, 1, 1], self.eps, "BatchNorm2d", io, ctx)
    }
}

/// `γ ⊙ (x − μ) / √(σ² + eps) + β` per channel, the channel axis being the one `kept` (the
/// shape the statistics reduce to) leaves unreduced.
fn normalize<T: Element>(
    x: &Tensor<T>,
    kept: &[usize],
    eps: f64,
    kind: &str,
    io: &LeafIo<'_, T>,
    ctx: &mut ForwardCtx<'_, T>,
) -> CoreResult<Tensor<T>> {
    let eps = T::from_f64(eps);
    let channel = &kept[1..];
    let normalized = match io.mode {
        Mode::Train => {
            let n = x.numel() / kept[1].max(1);
            // PyTorch refuses too: the variance of one value is 0 and the output would be β.
            if n < 2 {
                let what = if kept.len() == 2 {
                    "example per batch"
                } else {
                    "value per channel"
                };
                return Err(forward_error(format!(
                    "layer {} ({kind}) needs more than 1 {what} in Train mode, got {n}",
                    io.name
                )));
            }
            let scale = T::one() / T::from_f64(n as f64);
            let mean = x.sum_to(kept)?.mul_scalar(scale);
            let centered = x.sub(&mean)?;
            let var = centered
                .powf(T::from_f64(2.0))
                .sum_to(kept)?
                .mul_scalar(scale);
            let unbias = T::from_f64(n as f64 / (n as f64 - 1.0));
            ctx.stats.push(BatchStats {
                layer: io.leaf,
                batch: n,
                mean: mean.to_vec(),
                var_unbiased: var.data().iter().map(|&v| v * unbias).collect(),
            });
            centered.div(&var.add_scalar(eps).sqrt())?
        }
        Mode::Eval => {
            let (rm, rv) = (&io.buffers[0], &io.buffers[1]);
            let (rm, rv) = (rm.reshape(channel)?, rv.reshape(channel)?);
            x.sub(&rm)?.div(&rv.add_scalar(eps).sqrt())?
        }
    };
    normalized
        .mul(&io.params[0].reshape(channel)?)?
        .add(&io.params[1].reshape(channel)?)
}
