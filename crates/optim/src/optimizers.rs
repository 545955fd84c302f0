//! Named optimizers: each is a short chain of transforms built from a hyperparameter struct
//! whose `Default` matches PyTorch / the paper.
//!
//! | optimizer | chain (before the final update θ ← θ + u) |
//! | --- | --- |
//! | SGD (PyTorch) | clip? → L2? → trace(μ, dampening, nesterov)? → −η |
//! | SGD (lecture) | clip? → L2? → −η → trace(λ)? |
//! | Adagrad (PyTorch) | clip? → L2? → root-sum-square → −η |
//! | Adagrad (lecture) | clip? → L2? → root-mean-square → −η |
//! | RMSProp (PyTorch) | clip? → L2? → rms(α, ε, centered) → trace(μ)? → −η |
//! | RMSProp (lecture) | clip? → L2? → rms-lecture(α) → trace(μ)? → −η |
//! | Adam | clip? → L2? → adam(β1, β2, ε) → −η |
//! | AdamW | clip? → adam(β1, β2, ε) → decoupled decay → −η |
//! | RAdam | clip? → L2? → radam(β1, β2, ε) → −η |

use serde::{Deserialize, Serialize};

use crate::error::check::OPT;
use crate::error::OptimError;
use crate::optimizer::Optimizer;
use crate::schedule::{LrScheduler, ScheduleConfig};
use crate::transform::{
    AddDecayedWeights, ClipByGlobalNorm, GradientTransform, Scalar, ScaleByAdam,
    ScaleByLearningRate, ScaleByRadam, ScaleByRms, ScaleByRmsLecture, ScaleByRootMeanSquare,
    ScaleByRootSumSquare, Trace,
};

/// Which formula an optimizer with two definitions follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// `torch.optim` semantics.
    #[default]
    Pytorch,
    /// The lecture's formula (see each optimizer's documentation).
    Lecture,
}

type Chain<T> = Vec<Box<dyn GradientTransform<T>>>;

/// Shared behaviour of the hyperparameter structs.
pub trait OptimizerOptions {
    /// The base learning rate.
    fn lr(&self) -> f64;
    /// Checks every field; the error names the first bad one and its allowed range.
    fn validate(&self) -> Result<(), OptimError>;
    /// The transform chain, without validation.
    fn chain<T: Scalar>(&self) -> Vec<Box<dyn GradientTransform<T>>>;

    /// Validates and builds with a constant learning rate `lr`.
    fn build<T: Scalar>(&self) -> Result<Optimizer<T>, OptimError> {
        self.build_with_scheduler(LrScheduler::constant(self.lr()))
    }

    /// Validates and builds with the given scheduler (its rates replace `lr`).
    fn build_with_scheduler<T: Scalar>(
        &self,
        scheduler: impl Into<LrScheduler>,
    ) -> Result<Optimizer<T>, OptimError> {
        self.validate()?;
        Ok(Optimizer::new(self.chain(), scheduler))
    }

    /// Validates and builds with a configured schedule whose base rate is `lr`.
    fn build_with_schedule<T: Scalar>(
        &self,
        schedule: &ScheduleConfig,
    ) -> Result<Optimizer<T>, OptimError> {
        self.validate()?;
        let lr = self.lr();
        Ok(Optimizer::new(self.chain(), schedule.build(lr)?))
    }
}

fn assemble<T: Scalar>(clip: Option<f64>, weight_decay: f64, core: Chain<T>) -> Chain<T> {
    let mut chain: Chain<T> = Vec::with_capacity(core.len() + 2);
    if let Some(max_norm) = clip {
        chain.push(Box::new(ClipByGlobalNorm::new(max_norm)));
    }
    if weight_decay != 0.0 {
        chain.push(Box::new(AddDecayedWeights::new(weight_decay)));
    }
    chain.extend(core);
    chain
}

fn check_common(lr: f64, weight_decay: f64, clip: Option<f64>) -> Result<(), OptimError> {
    OPT.non_negative("lr", lr)?;
    OPT.non_negative("weight_decay", weight_decay)?;
    if let Some(c) = clip {
        OPT.positive("clip_global_norm", c)?;
    }
    Ok(())
}

fn pytorch_only(field: &'static str, value: impl ToString) -> OptimError {
    OptimError::setting(field, value, "only available with variant \"pytorch\"")
}

macro_rules! validated {
    ($t:ty) => {
        impl $t {
            /// Returns the options if every field is in range, else an error naming the field.
            pub fn validated(self) -> Result<Self, OptimError> {
                OptimizerOptions::validate(&self)?;
                Ok(self)
            }
        }
    };
}

/// Stochastic gradient descent, `torch.optim.SGD`, with optional momentum (Polyak 1964;
/// Sutskever et al. 2013 for Nesterov) and L2 weight decay.
///
/// PyTorch variant: `g ← g + wd·θ; b ← μ b + (1 − dampening) g (b = g on the first step);
/// d = nesterov ? g + μ b : b; θ ← θ − η d`.
///
/// Lecture variant: `m^0 = 0; m^{t+1} = λ m^t − η g^t; θ^{t+1} = θ^t + m^{t+1}` with
/// λ = `momentum`. Identical to PyTorch's while η is constant; with a schedule, past steps keep
/// the η they were taken with. `dampening` and `nesterov` exist only in the PyTorch variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdOptions {
    /// η, default 0.001 (torch).
    pub lr: f64,
    /// μ (λ in the lecture), in [0, 1); default 0.
    pub momentum: f64,
    /// In [0, 1]; default 0.
    pub dampening: f64,
    /// Nesterov momentum; needs momentum > 0 and dampening 0.
    pub nesterov: bool,
    /// L2 coefficient, ≥ 0; default 0.
    pub weight_decay: f64,
    /// PyTorch or lecture momentum.
    pub variant: Variant,
    /// Clip the global gradient norm to this before the step.
    pub clip_global_norm: Option<f64>,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            variant: Variant::Pytorch,
            clip_global_norm: None,
        }
    }
}
validated!(SgdOptions);

impl OptimizerOptions for SgdOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), OptimError> {
        check_common(self.lr, self.weight_decay, self.clip_global_norm)?;
        OPT.unit_half_open("momentum", self.momentum)?;
        OPT.unit_closed("dampening", self.dampening)?;
        if self.nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            return Err(OptimError::setting(
                "nesterov",
                true,
                "requires momentum > 0 and dampening = 0",
            ));
        }
        if self.variant == Variant::Lecture {
            if self.nesterov {
                return Err(pytorch_only("nesterov", true));
            }
            if self.dampening != 0.0 {
                return Err(pytorch_only("dampening", self.dampening));
            }
        }
        Ok(())
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        let mut core: Chain<T> = Vec::new();
        let momentum = (self.momentum != 0.0)
            .then(|| Box::new(Trace::new(self.momentum, self.dampening, self.nesterov)));
        match self.variant {
            Variant::Pytorch => {
                if let Some(m) = momentum {
                    core.push(m);
                }
                core.push(Box::new(ScaleByLearningRate));
            }
            Variant::Lecture => {
                core.push(Box::new(ScaleByLearningRate));
                if let Some(m) = momentum {
                    core.push(m);
                }
            }
        }
        assemble(self.clip_global_norm, self.weight_decay, core)
    }
}

/// Adagrad (Duchi, Hazan & Singer, 2011).
///
/// PyTorch variant (`torch.optim.Adagrad`): `s ← s + g²` (s starts at
/// `initial_accumulator_value`), `θ ← θ − η_t g / (√s + ε)`, `η_t = η / (1 + t·lr_decay)`.
///
/// Lecture variant: root *mean* square, `σ^t = sqrt(mean_{s≤t} (g^s)²)`,
/// `θ ← θ − (η / σ^t) g^t`, so `σ^0 = |g^0|` and the first step is exactly `±η`; ε is a floor
/// on σ (see [`ScaleByRootMeanSquare`]). `lr_decay` and `initial_accumulator_value` exist only
/// in the PyTorch variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdagradOptions {
    /// η, default 0.01 (torch).
    pub lr: f64,
    /// Default 0.
    pub lr_decay: f64,
    /// L2 coefficient, default 0.
    pub weight_decay: f64,
    /// Starting value of the sum, default 0.
    pub initial_accumulator_value: f64,
    /// Default 1e-10.
    pub eps: f64,
    /// PyTorch (root sum) or lecture (root mean).
    pub variant: Variant,
    /// Clip the global gradient norm to this before the step.
    pub clip_global_norm: Option<f64>,
}

impl Default for AdagradOptions {
    fn default() -> Self {
        AdagradOptions {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            variant: Variant::Pytorch,
            clip_global_norm: None,
        }
    }
}
validated!(AdagradOptions);

fn check_eps(eps: f64, variant: Variant) -> Result<(), OptimError> {
    match variant {
        Variant::Pytorch => OPT.non_negative("eps", eps).map(drop),
        // The lecture variants divide by max(σ, ε); ε = 0 would let σ = 0 produce NaN.
        Variant::Lecture => OPT.positive("eps", eps).map(drop),
    }
}

impl OptimizerOptions for AdagradOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), OptimError> {
        check_common(self.lr, self.weight_decay, self.clip_global_norm)?;
        OPT.non_negative("lr_decay", self.lr_decay)?;
        OPT.non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        check_eps(self.eps, self.variant)?;
        if self.variant == Variant::Lecture {
            if self.lr_decay != 0.0 {
                return Err(pytorch_only("lr_decay", self.lr_decay));
            }
            if self.initial_accumulator_value != 0.0 {
                return Err(pytorch_only(
                    "initial_accumulator_value",
                    self.initial_accumulator_value,
                ));
            }
        }
        Ok(())
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        let scale: Box<dyn GradientTransform<T>> = match self.variant {
            Variant::Pytorch => Box::new(ScaleByRootSumSquare::new(
                self.eps,
                self.initial_accumulator_value,
                self.lr_decay,
            )),
            Variant::Lecture => Box::new(ScaleByRootMeanSquare::new(self.eps)),
        };
        assemble(
            self.clip_global_norm,
            self.weight_decay,
            vec![scale, Box::new(ScaleByLearningRate)],
        )
    }
}

/// RMSProp (Hinton, Neural Networks for Machine Learning, lecture 6e).
///
/// PyTorch variant (`torch.optim.RMSprop`): `v ← α v + (1 − α) g²` from `v = 0`;
/// centered: `c ← α c + (1 − α) g`, `v − c²` under the root; `d = g / (√· + ε)`;
/// momentum: `b ← μ b + d`, `θ ← θ − η b`; otherwise `θ ← θ − η d`.
///
/// Lecture variant: `σ^0 = |g^0|`, `σ^t = sqrt(α (σ^{t−1})² + (1 − α)(g^t)²)`,
/// `θ ← θ − (η / σ^t) g^t`, 0 < α < 1; ε is a floor on σ. `centered` exists only in the
/// PyTorch variant; momentum works in both.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmspropOptions {
    /// η, default 0.01 (torch).
    pub lr: f64,
    /// Smoothing constant α, default 0.99.
    pub alpha: f64,
    /// Default 1e-8.
    pub eps: f64,
    /// L2 coefficient, default 0.
    pub weight_decay: f64,
    /// Momentum μ in [0, 1), default 0.
    pub momentum: f64,
    /// Normalise by the estimated variance instead of the second moment.
    pub centered: bool,
    /// PyTorch (average from 0, ε added) or lecture (σ⁰ = |g⁰|).
    pub variant: Variant,
    /// Clip the global gradient norm to this before the step.
    pub clip_global_norm: Option<f64>,
}

impl Default for RmspropOptions {
    fn default() -> Self {
        RmspropOptions {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            variant: Variant::Pytorch,
            clip_global_norm: None,
        }
    }
}
validated!(RmspropOptions);

impl OptimizerOptions for RmspropOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), OptimError> {
        check_common(self.lr, self.weight_decay, self.clip_global_norm)?;
        check_eps(self.eps, self.variant)?;
        OPT.unit_half_open("momentum", self.momentum)?;
        match self.variant {
            Variant::Pytorch => {
                OPT.unit_half_open("alpha", self.alpha)?;
            }
            Variant::Lecture => {
                OPT.unit_open("alpha", self.alpha)?;
                if self.centered {
                    return Err(pytorch_only("centered", true));
                }
            }
        }
        Ok(())
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        let mut core: Chain<T> = Vec::new();
        match self.variant {
            Variant::Pytorch => core.push(Box::new(ScaleByRms::new(
                self.alpha,
                self.eps,
                self.centered,
            ))),
            Variant::Lecture => core.push(Box::new(ScaleByRmsLecture::new(self.alpha, self.eps))),
        }
        if self.momentum != 0.0 {
            // RMSprop's buffer starts at zero, which Trace's "copy on first step" equals
            // because 0·μ + d = d.
            core.push(Box::new(Trace::new(self.momentum, 0.0, false)));
        }
        core.push(Box::new(ScaleByLearningRate));
        assemble(self.clip_global_norm, self.weight_decay, core)
    }
}

macro_rules! adam_family {
    ($(#[$doc:meta])* $name:ident, default_wd = $wd:expr, wd_doc = $wd_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// α (η), default 0.001.
            pub lr: f64,
            /// First-moment decay β1 in [0, 1), default 0.9.
            pub beta1: f64,
            /// Second-moment decay β2 in [0, 1), default 0.999.
            pub beta2: f64,
            /// Default 1e-8.
            pub eps: f64,
            #[doc = $wd_doc]
            pub weight_decay: f64,
            /// Clip the global gradient norm to this before the step.
            pub clip_global_norm: Option<f64>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    lr: 1e-3,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: $wd,
                    clip_global_norm: None,
                }
            }
        }
        validated!($name);

        impl $name {
            fn check(&self) -> Result<(), OptimError> {
                check_common(self.lr, self.weight_decay, self.clip_global_norm)?;
                OPT.unit_half_open("beta1", self.beta1)?;
                OPT.unit_half_open("beta2", self.beta2)?;
                OPT.non_negative("eps", self.eps)?;
                Ok(())
            }
        }
    };
}

adam_family!(
    /// Adam, Kingma & Ba (2015), Algorithm 1 — identical to `torch.optim.Adam`:
    /// `m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; θ ← θ − α m̂ / (√v̂ + ε)` with
    /// `m̂ = m/(1−β1^t)`, `v̂ = v/(1−β2^t)`. `weight_decay` is *coupled* L2 (added to the
    /// gradient before the moments, torch's `weight_decay`); for decoupled decay use AdamW.
    AdamOptions,
    default_wd = 0.0,
    wd_doc = "Coupled L2 coefficient, default 0."
);

adam_family!(
    /// AdamW, Loshchilov & Hutter (2019), `torch.optim.AdamW`: Adam with *decoupled* weight
    /// decay, `θ ← θ(1 − ηλ) − η m̂ / (√v̂ + ε)`. Unlike L2, the decay is not rescaled by
    /// `1/√v̂`.
    AdamWOptions,
    default_wd = 1e-2,
    wd_doc = "Decoupled decay λ, default 0.01 (torch)."
);

adam_family!(
    /// RAdam, Liu et al. (2020), `torch.optim.RAdam`: Adam whose adaptive step is multiplied by
    /// a variance rectification term and skipped (plain momentum SGD) while the approximated
    /// SMA length ρ_t ≤ 5. See [`ScaleByRadam`]. `weight_decay` is coupled L2 (torch's default).
    RAdamOptions,
    default_wd = 0.0,
    wd_doc = "Coupled L2 coefficient, default 0."
);

impl OptimizerOptions for AdamOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), OptimError> {
        self.check()
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        assemble(
            self.clip_global_norm,
            self.weight_decay,
            vec![
                Box::new(ScaleByAdam::new(self.beta1, self.beta2, self.eps)),
                Box::new(ScaleByLearningRate),
            ],
        )
    }
}

impl OptimizerOptions for AdamWOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), OptimError> {
        self.check()
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        let mut core: Chain<T> = vec![Box::new(ScaleByAdam::new(self.beta1, self.beta2, self.eps))];
        if self.weight_decay != 0.0 {
            core.push(Box::new(AddDecayedWeights::new(self.weight_decay)));
        }
        core.push(Box::new(ScaleByLearningRate));
        assemble(self.clip_global_norm, 0.0, core)
    }
}

impl OptimizerOptions for RAdamOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn validate(&self) -> Result<(), OptimError> {
        self.check()
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        assemble(
            self.clip_global_norm,
            self.weight_decay,
            vec![
                Box::new(ScaleByRadam::new(self.beta1, self.beta2, self.eps)),
                Box::new(ScaleByLearningRate),
            ],
        )
    }
}

/// An optimizer as written in a configuration file: `kind` selects it, the other keys are
/// the fields of its options struct (all optional, defaulting as documented there), and
/// unknown keys are errors.
///
/// ```toml
/// kind = "rmsprop"
/// lr = 0.01
/// alpha = 0.9
/// variant = "lecture"
/// clip_global_norm = 1.0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// [`SgdOptions`].
    Sgd(SgdOptions),
    /// [`AdagradOptions`].
    Adagrad(AdagradOptions),
    /// [`RmspropOptions`].
    Rmsprop(RmspropOptions),
    /// [`AdamOptions`].
    Adam(AdamOptions),
    /// [`AdamWOptions`].
    Adamw(AdamWOptions),
    /// [`RAdamOptions`].
    Radam(RAdamOptions),
}

macro_rules! dispatch {
    ($self:expr, $o:ident => $body:expr) => {
        match $self {
            OptimizerConfig::Sgd($o) => $body,
            OptimizerConfig::Adagrad($o) => $body,
            OptimizerConfig::Rmsprop($o) => $body,
            OptimizerConfig::Adam($o) => $body,
            OptimizerConfig::Adamw($o) => $body,
            OptimizerConfig::Radam($o) => $body,
        }
    };
}

impl OptimizerOptions for OptimizerConfig {
    fn lr(&self) -> f64 {
        dispatch!(self, o => o.lr)
    }
    fn validate(&self) -> Result<(), OptimError> {
        dispatch!(self, o => o.validate())
    }
    fn chain<T: Scalar>(&self) -> Chain<T> {
        dispatch!(self, o => o.chain())
    }
}
