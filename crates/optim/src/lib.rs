//! Optimizers and learning-rate schedules for trainscope, on flat parameter slices.
//!
//! An optimizer is a chain of small [gradient transforms](transform) (Optax's design): clip
//! the global norm, add weight decay, scale by momentum / by a root mean square / by Adam's
//! moments, scale by the learning rate. Every chain fits the lecture's summary form
//!
//! ```text
//! θ_i^{t+1} = θ_i^t − (η^t / σ_i^t) m_i^t
//! ```
//!
//! with η^t a learning-rate [`schedule`], σ a root mean square and m a momentum. Named optimizers
//! ([`SgdOptions`], [`AdagradOptions`], [`RmspropOptions`], [`AdamOptions`],
//! [`AdamWOptions`], [`RAdamOptions`]) are short chains whose defaults follow PyTorch and the
//! papers; where the lecture defines a formula of its own (momentum, Adagrad, RMSProp),
//! `variant: Variant::Lecture` selects it.
//!
//! Parameters and gradients are lists of flat slices, one per tensor, and are updated in
//! place; state buffers are allocated on the first step only. The element type is any
//! [`num_traits::Float`] (`f32`, `f64`).
//!
//! ```
//! use trainscope_optim::{AdamOptions, OptimizerOptions, ScheduleConfig};
//!
//! // Minimise f(x, y) = x² + 10 y², two "tensors" of one element each.
//! let mut params = vec![vec![3.0_f64], vec![-2.0]];
//! let schedule = ScheduleConfig::Cosine { t_max: 500, eta_min: 0.0 };
//! let mut opt = AdamOptions { lr: 0.1, ..Default::default() }
//!     .build_with_schedule::<f64>(&schedule)?;
//! let mut grads = vec![vec![0.0], vec![0.0]];
//! for _ in 0..500 {
//!     grads[0][0] = 2.0 * params[0][0];
//!     grads[1][0] = 20.0 * params[1][0];
//!     opt.step(&mut params, &grads)?;
//! }
//! assert!(params[0][0].abs() < 1e-3 && params[1][0].abs() < 1e-3);
//!
//! // Save and restore for an exact resume.
//! let state = opt.state();
//! let mut resumed = AdamOptions { lr: 0.1, ..Default::default() }
//!     .build_with_schedule::<f64>(&schedule)?;
//! resumed.load_state(&state)?;
//! assert_eq!(resumed.step_count(), 500);
//! # Ok::<(), trainscope_optim::OptimError>(())
//! ```
//!
//! Configurations deserialize from any serde format; the `kind` key selects the optimizer
//! ([`OptimizerConfig`]) or schedule ([`ScheduleConfig`]) and unknown keys are errors.

#![warn(missing_docs)]

pub mod error;
pub mod optimizer;
pub mod optimizers;
pub mod schedule;
pub mod transform;

pub use error::OptimError;
pub use optimizer::{Optimizer, OptimizerState, StepReport};
pub use optimizers::{
    AdagradOptions, AdamOptions, AdamWOptions, OptimizerConfig, OptimizerOptions, RAdamOptions,
    RmspropOptions, SgdOptions, Variant,
};
pub use schedule::{
    Constant, Cosine, CosineRestarts, Exponential, InverseTime, Linear, LrScheduler, MetricSwitch,
    MultiStep, Noam, PlateauMode, PlateauOptions, PlateauState, Polynomial, ReduceOnPlateau,
    Schedule, ScheduleConfig, ScheduleUnit, SchedulerState, Sequential, StepDecay, ThresholdMode,
};
pub use transform::{
    global_norm, AddDecayedWeights, ClipByGlobalNorm, GradientTransform, Scalar, ScaleByAdam,
    ScaleByLearningRate, ScaleByRadam, ScaleByRms, ScaleByRmsLecture, ScaleByRootMeanSquare,
    ScaleByRootSumSquare, StepContext, Trace, MAX_STATE_BUFFERS,
};
