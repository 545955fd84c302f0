//! Learning-rate schedules η^t.
//!
//! A [`Schedule`] is a pure function from the step index to the learning rate, as in Optax.
//! What the step counts is the optimizer's [`ScheduleUnit`]. By default step `t` counts
//! optimizer updates from 0: `lr(0)` is the rate of the first update. This equals the rate a
//! PyTorch scheduler puts in the optimizer before its `t`-th `step()` when `scheduler.step()`
//! is called once after every `optimizer.step()`. Counted in epochs, step `t` is the number of
//! epochs ended ([`Optimizer::end_epoch`](crate::Optimizer::end_epoch)), and every update of
//! epoch `t` (from 0) uses `lr(t)`: PyTorch's `scheduler.step()` once per epoch.
//!
//! Schedules that react to a metric are small stateful wrappers instead:
//! [`ReduceOnPlateau`] and [`MetricSwitch`], each with `observe(metric)`. [`LrScheduler`]
//! holds any of the three kinds behind one interface, which is what an
//! [`Optimizer`](crate::Optimizer) carries.

use std::f64::consts::PI;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::check::SCHED;
use crate::error::OptimError;

/// What a schedule's step counts.
///
/// ```
/// use trainscope_optim::{Optimizer, ScheduleUnit, SgdOptions, OptimizerOptions, ScheduleConfig};
///
/// // StepLR(step_size = 2, gamma = 0.5) stepped once per epoch, three updates per epoch.
/// let step = ScheduleConfig::Step { step_size: 2, gamma: 0.5 };
/// let mut opt = SgdOptions { lr: 0.1, ..Default::default() }
///     .build_with_schedule::<f64>(&step)?
///     .with_schedule_unit(ScheduleUnit::Epoch);
/// let (mut p, g) = (vec![vec![0.0]], vec![vec![1.0]]);
/// let mut rates = Vec::new();
/// for _epoch in 0..4 {
///     for _update in 0..3 {
///         rates.push(opt.step(&mut p, &g)?.lr);
///     }
///     opt.end_epoch();
/// }
/// assert_eq!(rates, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]);
/// # Ok::<(), trainscope_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleUnit {
    /// Step `t` = optimizer updates made (Optax; PyTorch with `scheduler.step()` after every
    /// `optimizer.step()`). The default.
    #[default]
    Update,
    /// Step `t` = epochs ended: every update of epoch `t` (from 0) uses `lr(t)` (PyTorch with
    /// `scheduler.step()` once per epoch, as its StepLR examples do).
    Epoch,
}

impl ScheduleUnit {
    /// `"update"` or `"epoch"`, as configurations write it.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleUnit::Update => "update",
            ScheduleUnit::Epoch => "epoch",
        }
    }
}

/// A learning-rate schedule: a pure function of the step index (0 = first update).
///
/// Closures `Fn(u64) -> f64` are schedules too.
pub trait Schedule: Send + Sync {
    /// Learning rate of update `step`.
    fn lr(&self, step: u64) -> f64;
}

impl<F: Fn(u64) -> f64 + Send + Sync> Schedule for F {
    fn lr(&self, step: u64) -> f64 {
        self(step)
    }
}

/// `η^t = η`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant {
    lr: f64,
}

impl Constant {
    /// Fails unless `lr` is finite and ≥ 0.
    pub fn new(lr: f64) -> Result<Self, OptimError> {
        Ok(Constant {
            lr: SCHED.non_negative("lr", lr)?,
        })
    }
}

impl Schedule for Constant {
    fn lr(&self, _step: u64) -> f64 {
        self.lr
    }
}

/// Step decay, `torch.optim.lr_scheduler.StepLR`: `η^t = η · γ^⌊t / step_size⌋`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepDecay {
    /// `step_size` ≥ 1, `gamma` finite and ≥ 0.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<Self, OptimError> {
        if step_size == 0 {
            return Err(OptimError::schedule("step_size", 0, "must be >= 1"));
        }
        Ok(StepDecay {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            step_size,
            gamma: SCHED.non_negative("gamma", gamma)?,
        })
    }
}

impl Schedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * self.gamma.powf((step / self.step_size) as f64)
    }
}

/// Multi-step decay, `torch.optim.lr_scheduler.MultiStepLR`:
/// `η^t = η · γ^{#{milestones m : m ≤ t}}` (a repeated milestone counts twice, as in torch).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiStep {
    base_lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
}

impl MultiStep {
    /// Milestones in any order; `gamma` finite and ≥ 0.
    pub fn new(base_lr: f64, mut milestones: Vec<u64>, gamma: f64) -> Result<Self, OptimError> {
        milestones.sort_unstable();
        Ok(MultiStep {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            milestones,
            gamma: SCHED.non_negative("gamma", gamma)?,
        })
    }
}

impl Schedule for MultiStep {
    fn lr(&self, step: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= step);
        self.base_lr * self.gamma.powf(passed as f64)
    }
}

/// Exponential decay, `torch.optim.lr_scheduler.ExponentialLR`: `η^t = η · γ^t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exponential {
    base_lr: f64,
    gamma: f64,
}

impl Exponential {
    /// `gamma` finite and ≥ 0.
    pub fn new(base_lr: f64, gamma: f64) -> Result<Self, OptimError> {
        Ok(Exponential {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            gamma: SCHED.non_negative("gamma", gamma)?,
        })
    }
}

impl Schedule for Exponential {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * self.gamma.powf(step as f64)
    }
}

/// Inverse-time decay, `η^t = η / (1 + γ · t / decay_steps)`.
///
/// This is Optax's `inverse_time_decay` / Keras' `InverseTimeDecay` (non-staircase); PyTorch
/// has no built-in equivalent. With `decay_steps = 1` it is the textbook `η / (1 + γ t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseTime {
    base_lr: f64,
    gamma: f64,
    decay_steps: u64,
}

impl InverseTime {
    /// `gamma` finite and ≥ 0; `decay_steps` ≥ 1.
    pub fn new(base_lr: f64, gamma: f64, decay_steps: u64) -> Result<Self, OptimError> {
        if decay_steps == 0 {
            return Err(OptimError::schedule("decay_steps", 0, "must be >= 1"));
        }
        Ok(InverseTime {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            gamma: SCHED.non_negative("gamma", gamma)?,
            decay_steps,
        })
    }
}

impl Schedule for InverseTime {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr / (1.0 + self.gamma * step as f64 / self.decay_steps as f64)
    }
}

/// Polynomial decay to zero, `torch.optim.lr_scheduler.PolynomialLR`:
/// `η^t = η · (1 − min(t, T) / T)^power`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polynomial {
    base_lr: f64,
    total_iters: u64,
    power: f64,
}

impl Polynomial {
    /// `total_iters` T ≥ 1, `power` finite and ≥ 0.
    pub fn new(base_lr: f64, total_iters: u64, power: f64) -> Result<Self, OptimError> {
        if total_iters == 0 {
            return Err(OptimError::schedule("total_iters", 0, "must be >= 1"));
        }
        Ok(Polynomial {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            total_iters,
            power: SCHED.non_negative("power", power)?,
        })
    }
}

impl Schedule for Polynomial {
    fn lr(&self, step: u64) -> f64 {
        let done = step.min(self.total_iters) as f64 / self.total_iters as f64;
        self.base_lr * (1.0 - done).powf(self.power)
    }
}

/// Cosine annealing, the closed form of `torch.optim.lr_scheduler.CosineAnnealingLR`
/// (Loshchilov & Hutter, 2017, SGDR without restarts):
/// `η^t = η_min + (η − η_min)(1 + cos(π t / T_max)) / 2`.
///
/// Past `T_max` the cosine continues, so the rate climbs back up, as PyTorch's does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosine {
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl Cosine {
    /// `t_max` ≥ 1, `eta_min` finite and ≥ 0.
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Result<Self, OptimError> {
        if t_max == 0 {
            return Err(OptimError::schedule("t_max", 0, "must be >= 1"));
        }
        Ok(Cosine {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            t_max,
            eta_min: SCHED.non_negative("eta_min", eta_min)?,
        })
    }
}

fn cosine(base: f64, eta_min: f64, t: f64, period: f64) -> f64 {
    eta_min + (base - eta_min) * (1.0 + (PI * t / period).cos()) / 2.0
}

impl Schedule for Cosine {
    fn lr(&self, step: u64) -> f64 {
        cosine(self.base_lr, self.eta_min, step as f64, self.t_max as f64)
    }
}

/// Cosine annealing with warm restarts, `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`
/// (Loshchilov & Hutter, 2017, SGDR). Cycle `i` lasts `T_i = T_0 · t_mult^i` steps; within it
/// `η^t = η_min + (η − η_min)(1 + cos(π T_cur / T_i)) / 2` with `T_cur` the steps since the
/// last restart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineRestarts {
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
}

impl CosineRestarts {
    /// `t_0` ≥ 1, integer `t_mult` ≥ 1 (as torch requires), `eta_min` finite and ≥ 0.
    pub fn new(base_lr: f64, t_0: u64, t_mult: u64, eta_min: f64) -> Result<Self, OptimError> {
        if t_0 == 0 {
            return Err(OptimError::schedule("t_0", 0, "must be >= 1"));
        }
        if t_mult == 0 {
            return Err(OptimError::schedule("t_mult", 0, "must be >= 1"));
        }
        Ok(CosineRestarts {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            t_0,
            t_mult,
            eta_min: SCHED.non_negative("eta_min", eta_min)?,
        })
    }
}

impl Schedule for CosineRestarts {
    fn lr(&self, step: u64) -> f64 {
        // Integer arithmetic finds the cycle exactly; torch's log-based formula can land on
        // the wrong side of a restart through rounding.
        let (t_cur, t_i) = if self.t_mult == 1 {
            (step % self.t_0, self.t_0)
        } else {
            let (mut t_cur, mut t_i) = (step, self.t_0);
            while t_cur >= t_i {
                t_cur -= t_i;
                t_i = t_i.saturating_mul(self.t_mult);
            }
            (t_cur, t_i)
        };
        cosine(self.base_lr, self.eta_min, t_cur as f64, t_i as f64)
    }
}

/// Linear ramp of a factor, `torch.optim.lr_scheduler.LinearLR`:
/// `η^t = η · (s + (e − s) · min(t, T) / T)`, from `start_factor` s to `end_factor` e over
/// `total_iters` T steps. With `s < e` it is a linear warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    base_lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
}

impl Linear {
    /// `start_factor` in (0, 1], `end_factor` in [0, 1] (torch's ranges), `total_iters` ≥ 1.
    pub fn new(
        base_lr: f64,
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    ) -> Result<Self, OptimError> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(OptimError::schedule(
                "start_factor",
                start_factor,
                "must be in (0, 1]",
            ));
        }
        if total_iters == 0 {
            return Err(OptimError::schedule("total_iters", 0, "must be >= 1"));
        }
        Ok(Linear {
            base_lr: SCHED.non_negative("lr", base_lr)?,
            start_factor,
            end_factor: SCHED.unit_closed("end_factor", end_factor)?,
            total_iters,
        })
    }
}

impl Schedule for Linear {
    fn lr(&self, step: u64) -> f64 {
        let frac = step.min(self.total_iters) as f64 / self.total_iters as f64;
        self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)
    }
}

/// Two schedules joined at a milestone, `torch.optim.lr_scheduler.SequentialLR`:
/// `η^t = first(t)` for `t < milestone`, else `then(t − milestone)`.
///
/// The second schedule restarts its own count at the milestone, which is what makes
/// "linear warm-up, then cosine" work: the cosine starts at its peak.
pub struct Sequential {
    first: Box<dyn Schedule>,
    then: Box<dyn Schedule>,
    milestone: u64,
}

impl Sequential {
    /// Joins `first` and `then` at `milestone`.
    pub fn new(first: Box<dyn Schedule>, then: Box<dyn Schedule>, milestone: u64) -> Self {
        Sequential {
            first,
            then,
            milestone,
        }
    }
}

impl fmt::Debug for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sequential")
            .field("milestone", &self.milestone)
            .finish_non_exhaustive()
    }
}

impl Schedule for Sequential {
    fn lr(&self, step: u64) -> f64 {
        if step < self.milestone {
            self.first.lr(step)
        } else {
            self.then.lr(step - self.milestone)
        }
    }
}

/// The Transformer ("Noam") schedule, Vaswani et al. (2017), §5.3:
///
/// ```text
/// η^t = scale · d_model^−0.5 · min(s^−0.5, s · warmup_steps^−1.5),   s = t + 1
/// ```
///
/// Linear warm-up for `warmup_steps` updates, then decay ∝ 1/√s. The paper counts steps from
/// 1, hence `s = t + 1` (the same as `LambdaLR` with `lambda step: f(step + 1)`). The rate is
/// absolute: an optimizer's own `lr` is not used (`scale` = 1 is the paper).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noam {
    d_model: u64,
    warmup_steps: u64,
    scale: f64,
}

impl Noam {
    /// `d_model` ≥ 1, `warmup_steps` ≥ 1, `scale` finite and > 0.
    pub fn new(d_model: u64, warmup_steps: u64, scale: f64) -> Result<Self, OptimError> {
        if d_model == 0 {
            return Err(OptimError::schedule("d_model", 0, "must be >= 1"));
        }
        if warmup_steps == 0 {
            return Err(OptimError::schedule("warmup_steps", 0, "must be >= 1"));
        }
        Ok(Noam {
            d_model,
            warmup_steps,
            scale: SCHED.positive("scale", scale)?,
        })
    }
}

impl Schedule for Noam {
    fn lr(&self, step: u64) -> f64 {
        let s = step as f64 + 1.0;
        self.scale
            * (self.d_model as f64).powf(-0.5)
            * s.powf(-0.5).min(s * (self.warmup_steps as f64).powf(-1.5))
    }
}

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    /// A loss or an error rate: lower is better.
    #[default]
    Min,
    /// An accuracy: higher is better.
    Max,
}

/// How much better a metric must be to count as an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// `best · (1 ∓ threshold)`.
    #[default]
    Rel,
    /// `best ∓ threshold`.
    Abs,
}

/// Hyperparameters of [`ReduceOnPlateau`]; `Default` is PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlateauOptions {
    /// Min or max mode.
    pub mode: PlateauMode,
    /// Multiplier applied on a plateau, in (0, 1). Default 0.1.
    pub factor: f64,
    /// Observations without improvement tolerated before reducing. Default 10.
    pub patience: u64,
    /// Minimal improvement, see `threshold_mode`. Default 1e-4.
    pub threshold: f64,
    /// Relative or absolute threshold. Default relative.
    pub threshold_mode: ThresholdMode,
    /// Observations to wait after a reduction before counting again. Default 0.
    pub cooldown: u64,
    /// Lower bound on the rate. Default 0.
    pub min_lr: f64,
    /// Reductions smaller than this are skipped. Default 1e-8.
    pub eps: f64,
}

impl Default for PlateauOptions {
    fn default() -> Self {
        PlateauOptions {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// Saved state of a [`ReduceOnPlateau`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// Current learning rate.
    pub lr: f64,
    /// Best metric so far, `None` before the first observation.
    pub best: Option<f64>,
    /// Observations since the last improvement.
    pub num_bad_epochs: u64,
    /// Observations left in the current cool-down.
    pub cooldown_counter: u64,
}

/// Reduce the rate when a metric stops improving,
/// `torch.optim.lr_scheduler.ReduceLROnPlateau`.
///
/// On each [`observe`](Self::observe): if the metric beats the best by the threshold
/// (`min`/`rel`: `m < best · (1 − threshold)`; `min`/`abs`: `m < best − threshold`; `max`
/// mirrors these) it becomes the best, else a bad observation is counted; bad observations
/// during a cool-down are forgotten; after more than `patience` of them
/// `η ← max(η · factor, min_lr)` (skipped if that changes η by ≤ `eps`) and a cool-down of
/// `cooldown` observations starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceOnPlateau {
    options: PlateauOptions,
    state: PlateauState,
}

impl ReduceOnPlateau {
    /// Starts at `base_lr`; validates the options.
    pub fn new(base_lr: f64, options: PlateauOptions) -> Result<Self, OptimError> {
        SCHED.non_negative("lr", base_lr)?;
        SCHED.unit_open("factor", options.factor)?;
        SCHED.non_negative("threshold", options.threshold)?;
        SCHED.non_negative("min_lr", options.min_lr)?;
        SCHED.non_negative("eps", options.eps)?;
        Ok(ReduceOnPlateau {
            options,
            state: PlateauState {
                lr: base_lr,
                best: None,
                num_bad_epochs: 0,
                cooldown_counter: 0,
            },
        })
    }

    /// The learning rate now.
    pub fn lr(&self) -> f64 {
        self.state.lr
    }

    fn is_better(&self, m: f64, best: f64) -> bool {
        let o = &self.options;
        match (o.mode, o.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => m < best * (1.0 - o.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => m < best - o.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => m > best * (o.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => m > best + o.threshold,
        }
    }

    /// Feeds one metric value; returns true if the rate was reduced. A NaN metric counts as
    /// a bad observation.
    pub fn observe(&mut self, metric: f64) -> bool {
        let better = match self.state.best {
            None => !metric.is_nan(),
            Some(best) => self.is_better(metric, best),
        };
        let s = &mut self.state;
        if better {
            s.best = Some(metric);
            s.num_bad_epochs = 0;
        } else {
            s.num_bad_epochs += 1;
        }
        if s.cooldown_counter > 0 {
            s.cooldown_counter -= 1;
            s.num_bad_epochs = 0;
        }
        if s.num_bad_epochs > self.options.patience {
            s.cooldown_counter = self.options.cooldown;
            s.num_bad_epochs = 0;
            let new_lr = (s.lr * self.options.factor).max(self.options.min_lr);
            if s.lr - new_lr > self.options.eps {
                s.lr = new_lr;
                return true;
            }
        }
        false
    }

    /// Current state, for saving.
    pub fn state(&self) -> PlateauState {
        self.state
    }

    /// Restores a saved state.
    pub fn load_state(&mut self, state: PlateauState) {
        self.state = state;
    }
}

/// A rate switched once by a metric: `lr_before` until an observed metric (the ResNet paper's
/// training error) falls below `threshold`, then `lr_after` for good.
///
/// He et al. (2016), §4.2, for the 110-layer CIFAR ResNet: "we use 0.01 to warm up the
/// training until the training error is below 80% (about 400 iterations), and then go back
/// to 0.1". The switch is triggered by the metric, not by a step count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSwitch {
    lr_before: f64,
    lr_after: f64,
    threshold: f64,
    switched: bool,
}

impl MetricSwitch {
    /// Rates before and after, and the threshold the metric must fall strictly below.
    pub fn new(lr_before: f64, lr_after: f64, threshold: f64) -> Result<Self, OptimError> {
        Ok(MetricSwitch {
            lr_before: SCHED.non_negative("lr_before", lr_before)?,
            lr_after: SCHED.non_negative("lr_after", lr_after)?,
            threshold: SCHED.finite("threshold", threshold)?,
            switched: false,
        })
    }

    /// The learning rate now.
    pub fn lr(&self) -> f64 {
        if self.switched {
            self.lr_after
        } else {
            self.lr_before
        }
    }

    /// Feeds one metric value; returns true on the observation that flips the switch.
    pub fn observe(&mut self, metric: f64) -> bool {
        if !self.switched && metric < self.threshold {
            self.switched = true;
            return true;
        }
        false
    }

    /// Whether the switch has happened.
    pub fn switched(&self) -> bool {
        self.switched
    }
}

/// Saved state of an [`LrScheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SchedulerState {
    /// A pure schedule: nothing beyond the optimizer's step count.
    Pure,
    /// A [`ReduceOnPlateau`].
    Plateau(PlateauState),
    /// A [`MetricSwitch`].
    MetricSwitch {
        /// Whether it has switched.
        switched: bool,
    },
}

/// Any learning-rate policy: a pure [`Schedule`] or one of the metric-driven wrappers.
pub enum LrScheduler {
    /// A function of the step.
    Schedule(Box<dyn Schedule>),
    /// Reduce on plateau.
    Plateau(ReduceOnPlateau),
    /// Metric-triggered switch.
    MetricSwitch(MetricSwitch),
}

impl fmt::Debug for LrScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LrScheduler::Schedule(_) => f.write_str("LrScheduler::Schedule(..)"),
            LrScheduler::Plateau(p) => f.debug_tuple("LrScheduler::Plateau").field(p).finish(),
            LrScheduler::MetricSwitch(s) => {
                f.debug_tuple("LrScheduler::MetricSwitch").field(s).finish()
            }
        }
    }
}

impl LrScheduler {
    /// A constant rate. Not validated: the optimizers validate `lr` themselves.
    pub fn constant(lr: f64) -> Self {
        LrScheduler::Schedule(Box::new(Constant { lr }))
    }

    /// Wraps a pure schedule.
    pub fn from_schedule(schedule: impl Schedule + 'static) -> Self {
        LrScheduler::Schedule(Box::new(schedule))
    }

    /// Learning rate of update `step`.
    pub fn lr(&self, step: u64) -> f64 {
        match self {
            LrScheduler::Schedule(s) => s.lr(step),
            LrScheduler::Plateau(p) => p.lr(),
            LrScheduler::MetricSwitch(s) => s.lr(),
        }
    }

    /// Feeds a metric to a metric-driven scheduler; pure schedules ignore it. Returns true if
    /// the rate changed.
    pub fn observe(&mut self, metric: f64) -> bool {
        match self {
            LrScheduler::Schedule(_) => false,
            LrScheduler::Plateau(p) => p.observe(metric),
            LrScheduler::MetricSwitch(s) => s.observe(metric),
        }
    }

    /// Current state, for saving.
    pub fn state(&self) -> SchedulerState {
        match self {
            LrScheduler::Schedule(_) => SchedulerState::Pure,
            LrScheduler::Plateau(p) => SchedulerState::Plateau(p.state()),
            LrScheduler::MetricSwitch(s) => SchedulerState::MetricSwitch {
                switched: s.switched,
            },
        }
    }

    /// Restores a saved state; its kind must match this scheduler's.
    pub fn load_state(&mut self, state: &SchedulerState) -> Result<(), OptimError> {
        match (self, state) {
            (LrScheduler::Schedule(_), SchedulerState::Pure) => Ok(()),
            (LrScheduler::Plateau(p), SchedulerState::Plateau(s)) => {
                p.load_state(*s);
                Ok(())
            }
            (LrScheduler::MetricSwitch(m), SchedulerState::MetricSwitch { switched }) => {
                m.switched = *switched;
                Ok(())
            }
            (me, other) => Err(OptimError::StateMismatch(format!(
                "scheduler is {} but the saved state is for {}",
                me.kind_name(),
                match other {
                    SchedulerState::Pure => "a pure schedule",
                    SchedulerState::Plateau(_) => "reduce-on-plateau",
                    SchedulerState::MetricSwitch { .. } => "a metric switch",
                }
            ))),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            LrScheduler::Schedule(_) => "a pure schedule",
            LrScheduler::Plateau(_) => "reduce-on-plateau",
            LrScheduler::MetricSwitch(_) => "a metric switch",
        }
    }
}

impl<S: Schedule + 'static> From<S> for LrScheduler {
    fn from(s: S) -> Self {
        LrScheduler::Schedule(Box::new(s))
    }
}

fn default_one_u64() -> u64 {
    1
}
fn default_one() -> f64 {
    1.0
}
fn default_start_factor() -> f64 {
    1.0 / 3.0
}
fn default_linear_iters() -> u64 {
    5
}

/// A schedule as written in a configuration file; `kind` selects the schedule and unknown
/// keys are errors. Field names follow PyTorch's arguments.
///
/// ```toml
/// kind = "sequential"
/// milestone = 5
/// warmup = { kind = "linear", start_factor = 0.1, total_iters = 5 }
/// then = { kind = "cosine", t_max = 30 }
/// ```
///
/// The base rate is not part of it: [`build`](Self::build) takes it (normally the
/// optimizer's `lr`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// [`Constant`]. Written as a struct variant so that stray keys are rejected.
    Constant {},
    /// [`StepDecay`].
    Step {
        /// Steps between decays.
        step_size: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// [`MultiStep`].
    #[serde(rename = "multistep")]
    MultiStep {
        /// Steps at which to decay.
        milestones: Vec<u64>,
        /// Decay factor.
        gamma: f64,
    },
    /// [`Exponential`].
    Exponential {
        /// Decay factor per step.
        gamma: f64,
    },
    /// [`InverseTime`].
    InverseTime {
        /// Decay rate.
        gamma: f64,
        /// Step unit; default 1.
        #[serde(default = "default_one_u64")]
        decay_steps: u64,
    },
    /// [`Polynomial`].
    Polynomial {
        /// Steps to reach zero.
        total_iters: u64,
        /// Exponent; default 1.
        #[serde(default = "default_one")]
        power: f64,
    },
    /// [`Cosine`].
    Cosine {
        /// Half period.
        t_max: u64,
        /// Floor; default 0.
        #[serde(default)]
        eta_min: f64,
    },
    /// [`CosineRestarts`].
    CosineRestarts {
        /// First cycle length.
        t_0: u64,
        /// Cycle growth; default 1.
        #[serde(default = "default_one_u64")]
        t_mult: u64,
        /// Floor; default 0.
        #[serde(default)]
        eta_min: f64,
    },
    /// [`Linear`].
    Linear {
        /// Initial factor; default 1/3 (torch).
        #[serde(default = "default_start_factor")]
        start_factor: f64,
        /// Final factor; default 1.
        #[serde(default = "default_one")]
        end_factor: f64,
        /// Ramp length; default 5 (torch).
        #[serde(default = "default_linear_iters")]
        total_iters: u64,
    },
    /// [`Sequential`].
    Sequential {
        /// Schedule before the milestone (must be a pure schedule).
        warmup: Box<ScheduleConfig>,
        /// Schedule from the milestone on, counting from 0 there (must be pure).
        then: Box<ScheduleConfig>,
        /// Step at which `then` takes over.
        milestone: u64,
    },
    /// [`Noam`].
    Noam {
        /// Model width.
        d_model: u64,
        /// Warm-up length.
        warmup_steps: u64,
        /// Multiplier; default 1.
        #[serde(default = "default_one")]
        scale: f64,
    },
    /// [`ReduceOnPlateau`].
    Plateau(PlateauOptions),
    /// [`MetricSwitch`].
    MetricSwitch {
        /// Rate before the switch; default the base rate.
        #[serde(default)]
        lr_before: Option<f64>,
        /// Rate after the switch.
        lr_after: f64,
        /// The metric must fall strictly below this.
        threshold: f64,
    },
}

impl ScheduleConfig {
    /// True for the kinds driven by a measured metric (`plateau`, `metric_switch`), which
    /// need `observe` calls rather than a step count alone.
    pub fn metric_driven(&self) -> bool {
        matches!(
            self,
            ScheduleConfig::Plateau(_) | ScheduleConfig::MetricSwitch { .. }
        )
    }

    /// Builds the scheduler with base rate `base_lr`.
    pub fn build(&self, base_lr: f64) -> Result<LrScheduler, OptimError> {
        Ok(match self {
            ScheduleConfig::Plateau(o) => LrScheduler::Plateau(ReduceOnPlateau::new(base_lr, *o)?),
            ScheduleConfig::MetricSwitch {
                lr_before,
                lr_after,
                threshold,
            } => LrScheduler::MetricSwitch(MetricSwitch::new(
                lr_before.unwrap_or(base_lr),
                *lr_after,
                *threshold,
            )?),
            pure => LrScheduler::Schedule(pure.build_pure(base_lr)?),
        })
    }

    /// Builds a pure schedule; metric-driven kinds are an error here.
    pub fn build_pure(&self, base_lr: f64) -> Result<Box<dyn Schedule>, OptimError> {
        Ok(match self {
            ScheduleConfig::Constant {} => Box::new(Constant::new(base_lr)?),
            ScheduleConfig::Step { step_size, gamma } => {
                Box::new(StepDecay::new(base_lr, *step_size, *gamma)?)
            }
            ScheduleConfig::MultiStep { milestones, gamma } => {
                Box::new(MultiStep::new(base_lr, milestones.clone(), *gamma)?)
            }
            ScheduleConfig::Exponential { gamma } => Box::new(Exponential::new(base_lr, *gamma)?),
            ScheduleConfig::InverseTime { gamma, decay_steps } => {
                Box::new(InverseTime::new(base_lr, *gamma, *decay_steps)?)
            }
            ScheduleConfig::Polynomial { total_iters, power } => {
                Box::new(Polynomial::new(base_lr, *total_iters, *power)?)
            }
            ScheduleConfig::Cosine { t_max, eta_min } => {
                Box::new(Cosine::new(base_lr, *t_max, *eta_min)?)
            }
            ScheduleConfig::CosineRestarts {
                t_0,
                t_mult,
                eta_min,
            } => Box::new(CosineRestarts::new(base_lr, *t_0, *t_mult, *eta_min)?),
            ScheduleConfig::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => Box::new(Linear::new(
                base_lr,
                *start_factor,
                *end_factor,
                *total_iters,
            )?),
            ScheduleConfig::Sequential {
                warmup,
                then,
                milestone,
            } => Box::new(Sequential::new(
                warmup.build_pure(base_lr)?,
                then.build_pure(base_lr)?,
                *milestone,
            )),
            ScheduleConfig::Noam {
                d_model,
                warmup_steps,
                scale,
            } => Box::new(Noam::new(*d_model, *warmup_steps, *scale)?),
            ScheduleConfig::Plateau(_) => {
                return Err(OptimError::schedule(
                    "kind",
                    "\"plateau\"",
                    "a metric-driven schedule cannot be nested in a sequential schedule",
                ))
            }
            ScheduleConfig::MetricSwitch { .. } => {
                return Err(OptimError::schedule(
                    "kind",
                    "\"metric_switch\"",
                    "a metric-driven schedule cannot be nested in a sequential schedule",
                ))
            }
        })
    }
}
