//! The layers a [`crate::Sequential`] model is made of, as plain serializable data.

use serde::{Deserialize, Serialize};

/// Whether a forward pass trains or evaluates: batch norm uses batch statistics in
/// [`Mode::Train`] and running statistics in [`Mode::Eval`]; dropout is active only in
/// [`Mode::Train`]. PyTorch: `module.train()` / `module.eval()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Training: batch statistics, active dropout.
    Train,
    /// Evaluation: running statistics, no dropout.
    Eval,
}

fn default_eps() -> f64 {
    1e-5
}

fn default_momentum() -> f64 {
    0.1
}

/// One layer of a sequential model. Serialized with a `"type"` tag, e.g.
/// `{"type": "linear", "in_features": 4, "out_features": 8}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Layer {
    /// `y = x Wᵀ + b` with `W: [out_features, in_features]`, `b: [out_features]`
    /// (`torch.nn.Linear`). Initialized as PyTorch does: `W, b ~ U(−1/√in, 1/√in)`.
    Linear {
        /// Width of the input.
        in_features: usize,
        /// Width of the output.
        out_features: usize,
    },
    /// `σ(x) = 1 / (1 + e^−x)` (`torch.nn.Sigmoid`).
    Sigmoid,
    /// `max(0, x)` (`torch.nn.ReLU`).
    Relu,
    /// `tanh(x)` (`torch.nn.Tanh`).
    Tanh,
    /// `clamp(x/6 + 1/2, 0, 1)` (`torch.nn.Hardsigmoid`), the lectures' difference of two ReLUs.
    HardSigmoid,
    /// Batch normalization over the batch axis of `[batch, num_features]` inputs
    /// (`torch.nn.BatchNorm1d`):
    /// `y = γ ⊙ (x − μ) / √(σ² + eps) + β`.
    ///
    /// In [`Mode::Train`], μ and σ² are the batch mean and *biased* variance, and the running
    /// statistics are then updated as `r ← (1 − momentum)·r + momentum·s` with the batch mean
    /// and the *unbiased* variance (see [`crate::Sequential::update_running_stats`]). In
    /// [`Mode::Eval`], μ and σ² are the running statistics. γ starts at 1, β at 0, the running
    /// mean at 0 and the running variance at 1.
    #[serde(rename = "batch_norm1d")]
    BatchNorm1d {
        /// Width of the input (and output).
        num_features: usize,
        /// Added to the variance before the square root, for stability (PyTorch: 1e-5).
        #[serde(default = "default_eps")]
        eps: f64,
        /// Weight of the newest batch in the running statistics (PyTorch: 0.1).
        #[serde(default = "default_momentum")]
        momentum: f64,
    },
    /// Inverted dropout (`torch.nn.Dropout`): in [`Mode::Train`] each unit is zeroed with
    /// probability `p` and the kept ones are scaled by `1/(1 − p)`, so the expected output equals
    /// the input; in [`Mode::Eval`] it is the identity.
    Dropout {
        /// Probability of zeroing a unit, in [0, 1].
        p: f64,
    },
}

impl Layer {
    /// `Linear { in_features, out_features }`.
    pub fn linear(in_features: usize, out_features: usize) -> Self {
        Layer::Linear {
            in_features,
            out_features,
        }
    }

    /// `BatchNorm1d` with PyTorch's defaults, eps = 1e-5 and momentum = 0.1.
    pub fn batch_norm1d(num_features: usize) -> Self {
        Layer::BatchNorm1d {
            num_features,
            eps: default_eps(),
            momentum: default_momentum(),
        }
    }

    /// `Dropout { p }`.
    pub fn dropout(p: f64) -> Self {
        Layer::Dropout { p }
    }

    /// Trainable scalars of the layer (weights, biases, γ and β), or `None` on overflow.
    pub fn parameter_count(&self) -> Option<usize> {
        Some(match *self {
            Layer::Linear {
                in_features,
                out_features,
            } => in_features.checked_add(1)?.checked_mul(out_features)?,
            Layer::BatchNorm1d { num_features, .. } => num_features.checked_mul(2)?,
            _ => 0,
        })
    }

    /// Width of the output for an input of width `inputs`.
    pub fn output_width(&self, inputs: usize) -> usize {
        match *self {
            Layer::Linear { out_features, .. } => out_features,
            _ => inputs,
        }
    }

    /// A short name for messages, e.g. `Linear(4 → 8)`.
    pub fn describe(&self) -> String {
        match self {
            Layer::Linear {
                in_features,
                out_features,
            } => format!("Linear({in_features} → {out_features})"),
            Layer::Sigmoid => "Sigmoid".into(),
            Layer::Relu => "ReLU".into(),
            Layer::Tanh => "Tanh".into(),
            Layer::HardSigmoid => "Hardsigmoid".into(),
            Layer::BatchNorm1d { num_features, .. } => format!("BatchNorm1d({num_features})"),
            Layer::Dropout { p } => format!("Dropout(p = {p})"),
        }
    }
}

/// The activation of the hidden layers of [`crate::ModelSpec::mlp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// [`Layer::Sigmoid`].
    Sigmoid,
    /// [`Layer::Relu`].
    Relu,
    /// [`Layer::Tanh`].
    Tanh,
    /// [`Layer::HardSigmoid`].
    HardSigmoid,
}

impl Activation {
    /// The layer that applies this activation.
    pub fn layer(self) -> Layer {
        match self {
            Activation::Sigmoid => Layer::Sigmoid,
            Activation::Relu => Layer::Relu,
            Activation::Tanh => Layer::Tanh,
            Activation::HardSigmoid => Layer::HardSigmoid,
        }
    }
}
