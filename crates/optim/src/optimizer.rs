//! The optimizer: a chain of gradient transforms plus a learning-rate scheduler.

use serde::{Deserialize, Serialize};

use crate::error::OptimError;
use crate::schedule::{LrScheduler, ScheduleUnit, SchedulerState};
use std::ops::Range;

use crate::transform::{GradientTransform, Scalar, StepContext, MAX_STATE_BUFFERS};

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
    /// Epochs ended ([`Optimizer::end_epoch`]): the step of a schedule counted in epochs.
    /// 0 in states saved before it was kept.
    #[serde(default)]
    pub epochs: u64,
    /// Total parameter elements the buffers were allocated for; `None` before the first step.
    pub num_elements: Option<usize>,
    /// `("<position>.<transform>.<buffer>", values)`, e.g. `"1.adam.mu"`, in chain order.
    pub buffers: Vec<(String, Vec<T>)>,
    /// The learning-rate scheduler's state.
    pub scheduler: SchedulerState,
}

/// Elements per block: the chain runs over one block at a time while it sits in the L1
/// cache (one pass over memory per step instead of one per transform).
const BLOCK: usize = 1024;

/// Below this many elements one thread is faster than handing blocks to others.
const PARALLEL_MIN: usize = 1 << 15;

/// A chain of [`GradientTransform`]s applied to the gradient, whose result is added to the
/// parameters:
///
/// ```text
/// u ← g;  for each transform f in order: u ← f(u, θ);  θ ← θ + u
/// ```
///
/// Parameters and gradients are lists of flat slices (one per tensor). The chain runs block
/// by block (each block of [`BLOCK`] elements goes through every transform and into the
/// parameters before the next is read), on several threads when the parameters are large.
/// All state lives in buffers allocated on the first step, stored block-interleaved: for each
/// block, each state buffer's elements of that block in turn. Later steps allocate nothing
/// on one thread, and one small list of slices per thread when they run on several.
#[derive(Debug)]
pub struct Optimizer<T: Scalar> {
    transforms: Vec<Box<dyn GradientTransform<T>>>,
    scheduler: LrScheduler,
    step: u64,
    /// What the schedule's step counts.
    unit: ScheduleUnit,
    /// Epochs ended, counted by [`end_epoch`](Self::end_epoch).
    epochs: u64,
    /// For each transform, `(first, count)`: where its buffers sit among a block's buffers.
    slots: Vec<(usize, usize)>,
    /// State buffers per block, over the whole chain.
    width: usize,
    /// The chain cut before every global transform past the first position: each segment
    /// needs the complete output of the one before.
    segments: Vec<Range<usize>>,
    state: State<T>,
    /// The update vector between segments, per tensor (only for chains of several segments).
    scratch: Vec<Vec<T>>,
}

/// Where the optimizer's state is.
#[derive(Debug)]
enum State<T> {
    /// Before the first step.
    Empty,
    /// Restored from a save, before a step tells the tensor sizes: one flat vector per buffer.
    Flat { len: usize, buffers: Vec<Vec<T>> },
    /// Per tensor, block after block; within a block each buffer's [`BLOCK`] elements in turn.
    Blocked {
        sizes: Vec<usize>,
        tensors: Vec<Vec<T>>,
    },
}

/// Consecutive whole blocks of one tensor: parameters, gradient, state.
type Run<'a, T> = (&'a mut [T], &'a [T], &'a mut [T]);

/// What a block's final update goes into.
enum Sink<'a, T> {
    /// Added to the parameters.
    Apply(&'a [T]),
    /// Written to the scratch update vector.
    Store(&'a [T], &'a mut [T]),
    /// Read from and written back to the scratch update vector.
    InPlace(&'a mut [T]),
}

impl<T: Scalar> Optimizer<T> {
    /// Chains `transforms` in order; the learning rate comes from `scheduler` and is applied
    /// wherever the chain holds a [`ScaleByLearningRate`](crate::ScaleByLearningRate).
    ///
    /// # Panics
    /// If a transform names more than [`MAX_STATE_BUFFERS`] state buffers.
    pub fn new(
        transforms: Vec<Box<dyn GradientTransform<T>>>,
        scheduler: impl Into<LrScheduler>,
    ) -> Self {
        let mut slots = Vec::with_capacity(transforms.len());
        let mut width = 0;
        for t in &transforms {
            let count = t.state_names().len();
            assert!(
                count <= MAX_STATE_BUFFERS,
                "transform {} names {count} state buffers; at most {MAX_STATE_BUFFERS} are supported",
                t.name()
            );
            slots.push((width, count));
            width += count;
        }
        let mut segments = Vec::new();
        let mut start = 0;
        for (i, t) in transforms.iter().enumerate().skip(1) {
            if t.is_global() {
                segments.push(start..i);
                start = i;
            }
        }
        segments.push(start..transforms.len());
        Optimizer {
            transforms,
            scheduler: scheduler.into(),
            step: 0,
            unit: ScheduleUnit::Update,
            epochs: 0,
            slots,
            width,
            segments,
            state: State::Empty,
            scratch: Vec::new(),
        }
    }

    /// Replaces the learning-rate scheduler (keeps the step count).
    pub fn with_scheduler(mut self, scheduler: impl Into<LrScheduler>) -> Self {
        self.scheduler = scheduler.into();
        self
    }

    /// Counts the schedule's steps in `unit`: updates (the default) or epochs.
    pub fn with_schedule_unit(mut self, unit: ScheduleUnit) -> Self {
        self.unit = unit;
        self
    }

    /// What the schedule's step counts.
    pub fn schedule_unit(&self) -> ScheduleUnit {
        self.unit
    }

    /// Updates completed so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Epochs ended so far ([`end_epoch`](Self::end_epoch)).
    pub fn epoch_count(&self) -> u64 {
        self.epochs
    }

    /// Marks the end of an epoch: a schedule counted in epochs moves to its next step, like
    /// PyTorch's `scheduler.step()` once per epoch. Counted whatever the unit.
    pub fn end_epoch(&mut self) {
        self.epochs += 1;
    }

    /// The step the schedule is at: updates made, or epochs ended.
    pub fn schedule_step(&self) -> u64 {
        match self.unit {
            ScheduleUnit::Update => self.step,
            ScheduleUnit::Epoch => self.epochs,
        }
    }

    /// The learning rate the next [`step`](Self::step) will use.
    pub fn lr(&self) -> f64 {
        self.scheduler.lr(self.schedule_step())
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
        P: AsMut<[T]> + Send,
        G: AsRef<[T]> + Sync,
    {
        let lr = self.lr();
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
        P: AsMut<[T]> + Send,
        G: AsRef<[T]> + Sync,
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
        self.lay_out(params, total)?;

        let mut ctx = StepContext {
            step: self.step,
            lr,
            grad_norm: None,
        };
        let Optimizer {
            transforms,
            slots,
            width,
            segments,
            state,
            scratch,
            ..
        } = self;
        let State::Blocked { tensors, .. } = state else {
            unreachable!("lay_out leaves the state blocked")
        };
        let stride = stride(*width);
        let last = segments.len() - 1;
        for (j, seg) in segments.iter().enumerate() {
            if let Some(t) = transforms[seg.clone()]
                .first_mut()
                .filter(|t| t.is_global())
            {
                if j == 0 {
                    t.prepare(&mut grads.iter().map(|g| g.as_ref()), &mut ctx);
                } else {
                    t.prepare(&mut scratch.iter().map(|s| &s[..]), &mut ctx);
                }
            }
            let chain = Chain {
                transforms: &transforms[seg.clone()],
                slots: &slots[seg.clone()],
                ctx: &ctx,
            };
            if last == 0 {
                chain.apply(params, grads, tensors, stride, total >= PARALLEL_MIN);
                continue;
            }
            let mut u = [T::zero(); BLOCK];
            for (i, (p, st)) in params.iter_mut().zip(tensors.iter_mut()).enumerate() {
                let p = p.as_mut();
                for (b, (pb, sb)) in p.chunks_mut(BLOCK).zip(st.chunks_mut(stride)).enumerate() {
                    let range = b * BLOCK..b * BLOCK + pb.len();
                    let sink = match j {
                        0 => Sink::Store(&grads[i].as_ref()[range.clone()], &mut scratch[i][range]),
                        j if j == last => Sink::Apply(&scratch[i][range]),
                        _ => Sink::InPlace(&mut scratch[i][range]),
                    };
                    chain.run_block(&mut u, pb, sb, sink);
                }
            }
        }
        self.step += 1;
        Ok(StepReport {
            lr,
            grad_norm: ctx.grad_norm,
        })
    }

    /// Makes the state blocked for these tensor sizes: allocated on the first step, laid out
    /// from a restored save, or re-laid out if the same total is now split differently.
    fn lay_out<P: AsMut<[T]>>(&mut self, params: &mut [P], total: usize) -> Result<(), OptimError> {
        let same_sizes = |sizes: &[usize], params: &mut [P]| {
            sizes.len() == params.len()
                && sizes
                    .iter()
                    .zip(params.iter_mut())
                    .all(|(&n, p)| p.as_mut().len() == n)
        };
        match &self.state {
            State::Blocked { sizes, .. } if same_sizes(sizes, params) => return Ok(()),
            State::Blocked { sizes, .. } if sizes.iter().sum::<usize>() != total => {
                return Err(OptimError::ParameterSizeChanged {
                    expected: sizes.iter().sum(),
                    got: total,
                })
            }
            State::Flat { len, .. } if *len != total => {
                return Err(OptimError::ParameterSizeChanged {
                    expected: *len,
                    got: total,
                })
            }
            _ => {}
        }
        let sizes: Vec<usize> = params.iter_mut().map(|p| p.as_mut().len()).collect();
        let flat = match std::mem::replace(&mut self.state, State::Empty) {
            State::Empty => self.initial_buffers(total),
            State::Flat { buffers, .. } => buffers,
            State::Blocked { sizes, tensors } => to_flat(&sizes, &tensors, self.width),
        };
        let tensors = to_blocked(&flat, &sizes, self.width);
        if self.segments.len() > 1 {
            self.scratch = sizes.iter().map(|&n| vec![T::zero(); n]).collect();
        }
        self.state = State::Blocked { sizes, tensors };
        Ok(())
    }

    /// Every buffer at its transform's starting value.
    fn initial_buffers(&self, total: usize) -> Vec<Vec<T>> {
        self.transforms
            .iter()
            .flat_map(|t| (0..t.state_names().len()).map(move |k| vec![t.state_init(k); total]))
            .collect()
    }

    /// `"<position>.<transform>.<buffer>"` for every buffer, in chain order.
    fn buffer_names(&self) -> Vec<String> {
        self.transforms
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                let name = t.name();
                t.state_names()
                    .iter()
                    .map(move |b| format!("{i}.{name}.{b}"))
            })
            .collect()
    }

    /// A copy of the complete state, for checkpoints.
    pub fn state(&self) -> OptimizerState<T> {
        let (num_elements, flat) = match &self.state {
            State::Empty => (None, vec![Vec::new(); self.width]),
            State::Flat { len, buffers } => (Some(*len), buffers.clone()),
            State::Blocked { sizes, tensors } => (
                Some(sizes.iter().sum()),
                to_flat(sizes, tensors, self.width),
            ),
        };
        OptimizerState {
            step: self.step,
            epochs: self.epochs,
            num_elements,
            buffers: self.buffer_names().into_iter().zip(flat).collect(),
            scheduler: self.scheduler.state(),
        }
    }

    /// Restores a state saved from an optimizer built from the same configuration.
    ///
    /// Checks that buffer names and order match this chain and that every buffer has
    /// `num_elements` entries; on error nothing is changed.
    pub fn load_state(&mut self, state: &OptimizerState<T>) -> Result<(), OptimError> {
        let expected = self.buffer_names();
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

        self.step = state.step;
        self.epochs = state.epochs;
        self.state = match state.num_elements {
            Some(len) => State::Flat {
                len,
                buffers: state.buffers.iter().map(|(_, v)| v.clone()).collect(),
            },
            None => State::Empty,
        };
        Ok(())
    }
}

/// One segment of the chain, ready to run over blocks.
struct Chain<'a, T: Scalar> {
    transforms: &'a [Box<dyn GradientTransform<T>>],
    slots: &'a [(usize, usize)],
    ctx: &'a StepContext,
}

impl<T: Scalar> Chain<'_, T> {
    /// The whole chain from the gradients into the parameters, block ranges on several
    /// threads when `parallel` (each element's result is the same either way).
    fn apply<P, G>(
        &self,
        params: &mut [P],
        grads: &[G],
        tensors: &mut [Vec<T>],
        stride: usize,
        parallel: bool,
    ) where
        P: AsMut<[T]> + Send,
        G: AsRef<[T]> + Sync,
    {
        let threads = if parallel {
            trainscope_par::threads()
        } else {
            1
        };
        if threads > 1 {
            // Runs of whole blocks, cut into one part per thread by block count.
            let blocks: usize = tensors.iter().map(|st| st.len() / stride).sum();
            let per_part = blocks.div_ceil(threads);
            let mut parts: Vec<Vec<Run<'_, T>>> = (0..threads).map(|_| Vec::new()).collect();
            let mut block = 0;
            for ((p, g), st) in params.iter_mut().zip(grads).zip(tensors.iter_mut()) {
                let (mut p, mut g, mut st) = (p.as_mut(), g.as_ref(), st.as_mut_slice());
                while !p.is_empty() {
                    let part = block / per_part;
                    let take = ((part + 1) * per_part - block).min(st.len() / stride);
                    let len = (take * BLOCK).min(p.len());
                    let (p0, p1) = std::mem::take(&mut p).split_at_mut(len);
                    let (g0, g1) = g.split_at(len);
                    let (s0, s1) = std::mem::take(&mut st).split_at_mut(take * stride);
                    if let Some(runs) = parts.get_mut(part) {
                        runs.push((p0, g0, s0));
                    }
                    (p, g, st) = (p1, g1, s1);
                    block += take;
                }
            }
            trainscope_par::for_each_part(parts, &|runs| {
                let mut u = [T::zero(); BLOCK];
                for (p, g, st) in runs {
                    self.run_blocks(&mut u, p, g, st, stride);
                }
            });
            return;
        }
        let mut u = [T::zero(); BLOCK];
        for ((p, g), st) in params.iter_mut().zip(grads).zip(tensors.iter_mut()) {
            self.run_blocks(&mut u, p.as_mut(), g.as_ref(), st, stride);
        }
    }

    /// The chain over consecutive blocks of one tensor, from its gradient into its values.
    fn run_blocks(&self, u: &mut [T; BLOCK], p: &mut [T], g: &[T], st: &mut [T], stride: usize) {
        for ((pb, gb), sb) in p
            .chunks_mut(BLOCK)
            .zip(g.chunks(BLOCK))
            .zip(st.chunks_mut(stride))
        {
            self.run_block(u, pb, sb, Sink::Apply(gb));
        }
    }

    /// Every transform over one block: `params` the block's parameters, `state` its
    /// block-interleaved state, `u` room for the update.
    fn run_block(&self, u: &mut [T; BLOCK], params: &mut [T], state: &mut [T], sink: Sink<'_, T>) {
        let n = params.len();
        let u = &mut u[..n];
        u.copy_from_slice(match &sink {
            Sink::Apply(src) | Sink::Store(src, _) => src,
            Sink::InPlace(src) => src,
        });
        for (t, &(first, count)) in self.transforms.iter().zip(self.slots) {
            let mut views: [&mut [T]; MAX_STATE_BUFFERS] = Default::default();
            let region = &mut state[first * BLOCK..(first + count) * BLOCK];
            for (view, buf) in views.iter_mut().zip(region.chunks_mut(BLOCK)) {
                *view = &mut buf[..n];
            }
            let p: &[T] = if t.uses_params() { params } else { &[] };
            t.update(u, p, &mut views[..count], self.ctx);
        }
        match sink {
            Sink::Apply(_) => params
                .iter_mut()
                .zip(u.iter())
                .for_each(|(x, d)| *x = *x + *d),
            Sink::Store(_, dst) => dst.copy_from_slice(u),
            Sink::InPlace(dst) => dst.copy_from_slice(u),
        }
    }
}

/// Length of one block's state: `width` buffers of [`BLOCK`] elements (1 when stateless,
/// so the per-tensor vectors still have one entry per block to pair with).
fn stride(width: usize) -> usize {
    (width * BLOCK).max(1)
}

/// Flat buffers (one per state buffer, over all tensors back to back) → per-tensor,
/// block-interleaved storage.
fn to_blocked<T: Scalar>(flat: &[Vec<T>], sizes: &[usize], width: usize) -> Vec<Vec<T>> {
    let mut offset = 0;
    sizes
        .iter()
        .map(|&n| {
            let blocks = n.div_ceil(BLOCK);
            let mut data = vec![T::zero(); blocks * stride(width)];
            for (b, block) in data.chunks_mut(stride(width)).enumerate() {
                let lo = offset + b * BLOCK;
                let len = BLOCK.min(n - b * BLOCK);
                for (s, buf) in flat.iter().enumerate() {
                    block[s * BLOCK..s * BLOCK + len].copy_from_slice(&buf[lo..lo + len]);
                }
            }
            offset += n;
            data
        })
        .collect()
}

/// The inverse of [`to_blocked`].
fn to_flat<T: Scalar>(sizes: &[usize], tensors: &[Vec<T>], width: usize) -> Vec<Vec<T>> {
    let total = sizes.iter().sum();
    (0..width)
        .map(|s| {
            let mut buf = Vec::with_capacity(total);
            for (&n, data) in sizes.iter().zip(tensors) {
                for (b, block) in data.chunks(stride(width)).enumerate() {
                    let len = BLOCK.min(n - b * BLOCK);
                    buf.extend_from_slice(&block[s * BLOCK..s * BLOCK + len]);
                }
            }
            buf
        })
        .collect()
}
