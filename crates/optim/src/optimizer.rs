//! The optimizer: a chain of gradient transforms plus a learning-rate scheduler.

use serde::{Deserialize, Serialize};

use crate::error::OptimError;
use crate::schedule::{LrScheduler, SchedulerState};
use crate::transform::{GradientTransform, Scalar, StepContext};

/// What one [`Optimizer::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Learning rate used for this update.
    pub lr: f64,
    /// Global gradient norm before clipping, when the chain clips
    /// (`torch.nn.utils.clip_grad_norm_`'s return value).
    pub grad_norm: Option<f64>,
}

/// Everything needed to resume an optimizer bit for bit: the step counter, every state buffer
/// by name, and the scheduler's state. Hyperparameters are not included; they come from the
/// configuration the optimizer is rebuilt from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState<T> {
    /// Updates completed.
    pub step: u64,
    /// Total parameter elements the buffers were allocated for; `None` before the first step.
    pub num_elements: Option<usize>,
    /// `("<position>.<transform>.<buffer>", values)`, e.g. `"1.adam.mu"`, in chain order.
    pub buffers: Vec<(String, Vec<T>)>,
    /// The learning-rate scheduler's state.
    pub scheduler: SchedulerState,
}

/// A chain of [`GradientTransform`]s applied to the gradient, whose result is added to the
/// parameters:
///
/// ```text
/// u ← g;  for each transform f in order: u ← f(u, θ);  θ ← θ + u
/// ```
///
/// Parameters and gradients are lists of flat slices (one per tensor). All state lives in
/// buffers of the total parameter length, allocated on the first step; later steps do not
/// allocate.
#[derive(Debug)]
pub struct Optimizer<T: Scalar> {
    transforms: Vec<Box<dyn GradientTransform<T>>>,
    scheduler: LrScheduler,
    step: u64,
    len: Option<usize>,
    updates: Vec<T>,
    param_copy: Vec<T>,
    uses_params: bool,
}

impl<T: Scalar> Optimizer<T> {
    /// Chains `transforms` in order; the learning rate comes from `scheduler` and is applied
    /// wherever the chain holds a [`ScaleByLearningRate`](crate::ScaleByLearningRate).
    pub fn new(
        transforms: Vec<Box<dyn GradientTransform<T>>>,
        scheduler: impl Into<LrScheduler>,
    ) -> Self {
        let uses_params = transforms.iter().any(|t| t.uses_params());
        Optimizer {
            transforms,
            scheduler: scheduler.into(),
            step: 0,
            len: None,
            updates: Vec::new(),
            param_copy: Vec::new(),
            uses_params,
        }
    }

    /// Replaces the learning-rate scheduler (keeps the step count).
    pub fn with_scheduler(mut self, scheduler: impl Into<LrScheduler>) -> Self {
        self.scheduler = scheduler.into();
        self
    }

    /// Updates completed so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The learning rate the next [`step`](Self::step) will use.
    pub fn lr(&self) -> f64 {
        self.scheduler.lr(self.step)
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &LrScheduler {
        &self.scheduler
    }

    /// The scheduler, e.g. to feed it a metric.
    pub fn scheduler_mut(&mut self) -> &mut LrScheduler {
        &mut self.scheduler
    }

    /// Feeds a metric (validation loss, training error) to a metric-driven scheduler;
    /// returns true if the rate changed. Pure schedules ignore it.
    pub fn observe(&mut self, metric: f64) -> bool {
        self.scheduler.observe(metric)
    }

    /// One update with the scheduler's learning rate.
    ///
    /// `params[k]` and `grads[k]` are the k-th tensor, flattened; any slice-like type works
    /// (`&mut [T]`, `Vec<T>`, …). Errors if the lists or slices disagree in length or the
    /// total size differs from earlier steps; parameters are then left untouched.
    pub fn step<P, G>(&mut self, params: &mut [P], grads: &[G]) -> Result<StepReport, OptimError>
    where
        P: AsMut<[T]>,
        G: AsRef<[T]>,
    {
        let lr = self.scheduler.lr(self.step);
        self.step_with_lr(params, grads, lr)
    }

    /// One update with an explicit learning rate, bypassing the scheduler (which still sees
    /// the step counter advance).
    pub fn step_with_lr<P, G>(
        &mut self,
        params: &mut [P],
        grads: &[G],
        lr: f64,
    ) -> Result<StepReport, OptimError>
    where
        P: AsMut<[T]>,
        G: AsRef<[T]>,
    {
        if params.len() != grads.len() {
            return Err(OptimError::TensorCountMismatch {
                params: params.len(),
                grads: grads.len(),
            });
        }
        let mut total = 0;
        for (index, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (param, grad) = (p.as_mut().len(), g.as_ref().len());
            if param != grad {
                return Err(OptimError::LengthMismatch { index, param, grad });
            }
            total += param;
        }
        match self.len {
            None => {
                for t in &mut self.transforms {
                    t.init(total);
                }
                self.allocate(total);
            }
            Some(expected) if expected != total => {
                return Err(OptimError::ParameterSizeChanged {
                    expected,
                    got: total,
                })
            }
            Some(_) => {}
        }

        let mut offset = 0;
        for g in grads {
            let g = g.as_ref();
            self.updates[offset..offset + g.len()].copy_from_slice(g);
            offset += g.len();
        }
        if self.uses_params {
            let mut offset = 0;
            for p in params.iter_mut() {
                let p = p.as_mut();
                self.param_copy[offset..offset + p.len()].copy_from_slice(p);
                offset += p.len();
            }
        }

        let mut ctx = StepContext {
            step: self.step,
            lr,
            grad_norm: None,
        };
        for t in &mut self.transforms {
            t.update(&mut self.updates, &self.param_copy, &mut ctx);
        }

        let mut offset = 0;
        for p in params.iter_mut() {
            let p = p.as_mut();
            let n = p.len();
            for (x, u) in p.iter_mut().zip(&self.updates[offset..offset + n]) {
                *x = *x + *u;
            }
            offset += n;
        }
        self.step += 1;
        Ok(StepReport {
            lr,
            grad_norm: ctx.grad_norm,
        })
    }

    fn allocate(&mut self, total: usize) {
        self.updates = vec![T::zero(); total];
        self.param_copy = if self.uses_params {
            vec![T::zero(); total]
        } else {
            Vec::new()
        };
        self.len = Some(total);
    }

    /// A copy of the complete state, for checkpoints.
    pub fn state(&self) -> OptimizerState<T> {
        let buffers = self
            .transforms
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                let name = t.name();
                t.buffers()
                    .into_iter()
                    .map(move |(b, v)| (format!("{i}.{name}.{b}"), v.to_vec()))
            })
            .collect();
        OptimizerState {
            step: self.step,
            num_elements: self.len,
            buffers,
            scheduler: self.scheduler.state(),
        }
    }

    /// Restores a state saved from an optimizer built from the same configuration.
    ///
    /// Checks that buffer names and order match this chain and that every buffer has
    /// `num_elements` entries; on error nothing is changed.
    pub fn load_state(&mut self, state: &OptimizerState<T>) -> Result<(), OptimError> {
        let expected: Vec<String> = self
            .transforms
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                let name = t.name();
                t.buffers()
                    .into_iter()
                    .map(move |(b, _)| format!("{i}.{name}.{b}"))
            })
            .collect();
        let found: Vec<&str> = state.buffers.iter().map(|(n, _)| n.as_str()).collect();
        if expected != found {
            return Err(OptimError::StateMismatch(format!(
                "expected buffers [{}], found [{}]",
                expected.join(", "),
                found.join(", ")
            )));
        }
        let want = state.num_elements.unwrap_or(0);
        if let Some((name, v)) = state.buffers.iter().find(|(_, v)| v.len() != want) {
            return Err(OptimError::StateMismatch(format!(
                "buffer \"{name}\" has {} elements, expected {want}",
                v.len()
            )));
        }
        // The scheduler check is the last that can fail, so a failed load changes nothing.
        self.scheduler.load_state(&state.scheduler)?;

        let mut saved = state.buffers.iter();
        for t in &mut self.transforms {
            for (_, buf) in t.buffers_mut() {
                if let Some((_, v)) = saved.next() {
                    buf.clear();
                    buf.extend_from_slice(v);
                }
            }
        }
        self.step = state.step;
        match state.num_elements {
            Some(n) => self.allocate(n),
            None => {
                self.len = None;
                self.updates = Vec::new();
                self.param_copy = Vec::new();
            }
        }
        Ok(())
    }
}
