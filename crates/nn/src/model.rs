//! Sequential models: parameters in PyTorch `state_dict` order and a functional forward pass.

use crate::error::Result;
use crate::layer::{Init, Layer, LeafIo, Mode};
use crate::layers::forward_error;
use crate::spec::ModelSpec;
use crate::tree::{Plan, Step};
use trainscope_core::{no_grad, Element, Error as CoreError, Result as CoreResult, Rng, Tensor};

/// Statistics one batch-norm layer saw during a [`Mode::Train`] forward pass, as
/// [`Sequential::update_running_stats`] needs them.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats<T: Element> {
    /// Index of the batch-norm layer among the model's leaves ([`ModelSpec::leaves`]; for a
    /// model without residual blocks, its index in the model).
    pub layer: usize,
    /// Number of values per channel in the batch (examples, times pixels for images).
    pub batch: usize,
    /// Per-feature batch mean.
    pub mean: Vec<T>,
    /// Per-feature *unbiased* batch variance, `Σ (x − μ)² / (batch − 1)`.
    pub var_unbiased: Vec<T>,
}

/// What a forward pass needs besides parameters and input, and what it leaves behind: the
/// random generator for dropout masks, and the batch statistics that batch-norm layers saw in
/// [`Mode::Train`] (applied afterwards with [`Sequential::update_running_stats`], so the forward
/// pass itself never mutates the model).
pub struct ForwardCtx<'r, T: Element> {
    pub(crate) rng: Option<&'r mut Rng>,
    pub(crate) stats: Vec<BatchStats<T>>,
}

impl<'r, T: Element> ForwardCtx<'r, T> {
    /// A context whose dropout masks are drawn from `rng`.
    pub fn new(rng: &'r mut Rng) -> Self {
        ForwardCtx {
            rng: Some(rng),
            stats: Vec::new(),
        }
    }

    /// A context without a generator: enough for [`Mode::Eval`] and for models without
    /// dropout; a [`Mode::Train`] pass through a dropout layer with `p > 0` is an error.
    pub fn without_rng() -> ForwardCtx<'static, T> {
        ForwardCtx {
            rng: None,
            stats: Vec::new(),
        }
    }

    /// The batch statistics collected so far, in the order the layers ran.
    pub fn batch_stats(&self) -> &[BatchStats<T>] {
        &self.stats
    }

    /// Removes and returns the collected batch statistics.
    pub fn take_batch_stats(&mut self) -> Vec<BatchStats<T>> {
        std::mem::take(&mut self.stats)
    }
}

/// A feed-forward model: the layers of a [`ModelSpec`] applied in order, like
/// `torch.nn.Sequential`, residual blocks adding their input to their body's output.
///
/// Parameters are kept as gradient-requiring leaves in PyTorch `state_dict` order under
/// PyTorch's names (`0.weight`, `0.bias`, …; a layer's index is its position, activations and
/// dropout included; `1.body.0.weight` inside a residual block). Batch-norm running statistics
/// are buffers: constants to the forward pass, changed only by
/// [`Sequential::update_running_stats`].
#[derive(Clone, Debug)]
pub struct Sequential<T: Element> {
    spec: ModelSpec,
    plan: Plan,
    outputs: usize,
    /// Expected parameter shapes, kept so the per-call check of `forward_with` allocates nothing.
    shapes: Vec<Vec<usize>>,
    params: Vec<Tensor<T>>,
    buffers: Vec<Tensor<T>>,
    tracked: Vec<u64>,
}

impl<T: Element> Sequential<T> {
    /// Builds the model described by `spec` with PyTorch's default initialization, drawing
    /// from `rng` layer by layer in `state_dict` order (weight, then bias):
    /// Linear and Conv2d `W, b ~ U(−1/√fan_in, 1/√fan_in)` (`kaiming_uniform_(a = √5)` and its
    /// bias rule); BatchNorm and LayerNorm `γ = 1, β = 0`, running mean 0, running variance 1,
    /// no batches tracked. The draws are made in f64, so an f32 model is the f64 one rounded.
    pub fn new(spec: ModelSpec, rng: &mut Rng) -> Result<Self> {
        let mut model = Self::zeroed(spec)?;
        let decls: Vec<_> = model.plan.parameters().map(|(_, d)| d.clone()).collect();
        for (p, d) in model.params.iter_mut().zip(decls) {
            if let Init::Uniform(bound) = d.init {
                *p = uniform_as::<T>(&d.shape, bound, rng)?.into_param();
            }
        }
        Ok(model)
    }

    /// [`Sequential::new`] with a generator seeded by `seed`.
    pub fn from_seed(spec: ModelSpec, seed: u64) -> Result<Self> {
        Self::new(spec, &mut trainscope_core::seeded_rng(seed))
    }

    /// The model with every randomly drawn parameter zero and the others (norms, running
    /// statistics) at their defaults; the checkpoint loaders fill it in.
    pub(crate) fn zeroed(spec: ModelSpec) -> Result<Self> {
        let outputs = spec.validate()?;
        let plan = spec.plan()?;
        let fill = |init: Init| match init {
            Init::Uniform(_) => T::zero(),
            Init::Fill(v) => T::from_f64(v),
        };
        let mut shapes = Vec::new();
        let mut params = Vec::new();
        for (_, d) in plan.parameters() {
            shapes.push(d.shape.clone());
            params.push(Tensor::full(&d.shape, fill(d.init))?.into_param());
        }
        let mut buffers = Vec::new();
        for (_, d) in plan.buffers() {
            buffers.push(Tensor::full(&d.shape, fill(d.init))?);
        }
        let tracked = vec![0; plan.tracked_names().len()];
        Ok(Sequential {
            spec,
            plan,
            outputs,
            shapes,
            params,
            buffers,
            tracked,
        })
    }

    /// The description this model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Numbers per input example (features, or `C·H·W` for images).
    pub fn input_size(&self) -> usize {
        self.spec.inputs.numel()
    }

    /// One input example's shape (`[features]` or `[C, H, W]`).
    pub fn input_shape(&self) -> &[usize] {
        self.spec.inputs.dims()
    }

    /// Width of the output.
    pub fn output_size(&self) -> usize {
        self.outputs
    }

    /// The parameters in PyTorch `state_dict` order (`model.parameters()`).
    pub fn parameters(&self) -> &[Tensor<T>] {
        &self.params
    }

    /// Mutable parameters, for in-place updates (`Tensor::data_mut`). Replacing a tensor with one
    /// of another shape makes later forward passes fail with an error.
    pub fn parameters_mut(&mut self) -> &mut [Tensor<T>] {
        &mut self.params
    }

    /// PyTorch names of [`Sequential::parameters`] (`[n for n, _ in model.named_parameters()]`).
    pub fn parameter_names(&self) -> Vec<String> {
        self.plan.parameters().map(|(n, _)| n).collect()
    }

    /// Shapes of [`Sequential::parameters`].
    pub fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.params.iter().map(|p| p.dims().to_vec()).collect()
    }

    /// Total number of scalar parameters (`sum(p.numel() for p in model.parameters())`).
    pub fn num_parameters(&self) -> usize {
        self.params.iter().map(|p| p.numel()).sum()
    }

    /// The float buffers (`running_mean`, `running_var` of each batch norm, in that order).
    pub fn buffers(&self) -> &[Tensor<T>] {
        &self.buffers
    }

    /// Mutable float buffers.
    pub fn buffers_mut(&mut self) -> &mut [Tensor<T>] {
        &mut self.buffers
    }

    /// PyTorch names of [`Sequential::buffers`].
    pub fn buffer_names(&self) -> Vec<String> {
        self.plan.buffers().map(|(n, _)| n).collect()
    }

    /// `num_batches_tracked` of each batch norm: how many training batches updated its running
    /// statistics.
    pub fn batches_tracked(&self) -> &[u64] {
        &self.tracked
    }

    /// Mutable `num_batches_tracked` counters.
    pub fn batches_tracked_mut(&mut self) -> &mut [u64] {
        &mut self.tracked
    }

    /// PyTorch names of [`Sequential::batches_tracked`].
    pub fn batches_tracked_names(&self) -> Vec<String> {
        self.plan.tracked_names()
    }

    /// The model's output for `x: [batch, inputs]` (or `[batch, C, H, W]` for image inputs)
    /// using `params` in place of the model's own parameters (same order and shapes as
    /// [`Sequential::parameters`]). This is what makes the loss a function of any tensors —
    /// trainer leaves, or the differentiation variables of [`trainscope_core::SecondOrder`].
    ///
    /// In [`Mode::Train`], batch norm normalizes with the batch statistics (which are recorded
    /// in `ctx`) and dropout draws its masks from `ctx`'s generator; in [`Mode::Eval`] batch
    /// norm uses the running statistics and dropout is the identity. The model is not changed.
    /// PyTorch: `torch.func.functional_call(model, params, (x,))`.
    pub fn forward_with(
        &self,
        params: &[Tensor<T>],
        x: &Tensor<T>,
        mode: Mode,
        ctx: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        self.forward_visiting(params, x, mode, ctx, &mut |_, _, _| {})
    }

    /// [`Sequential::forward_with`] that also shows `visit(i, layer, input)` each leaf layer's
    /// input (`i` its position in [`ModelSpec::leaves`]): how diagnostics look inside (which
    /// ReLU units ever fire) without a second pass.
    pub fn forward_visiting(
        &self,
        params: &[Tensor<T>],
        x: &Tensor<T>,
        mode: Mode,
        ctx: &mut ForwardCtx<'_, T>,
        visit: &mut dyn FnMut(usize, &Layer, &Tensor<T>),
    ) -> CoreResult<Tensor<T>> {
        self.check_params(params)?;
        let shape = self.spec.inputs.dims();
        let n = x.dims().first().copied().unwrap_or(0);
        let flat = x.rank() == 2 && x.dims()[1] == self.input_size();
        let whole = x.rank() == shape.len() + 1 && &x.dims()[1..] == shape;
        if !flat && !whole {
            return Err(forward_error(format!(
                "input must be [batch, {}], got {}",
                self.input_size(),
                x.shape()
            )));
        }
        let h = if whole {
            x.clone()
        } else {
            let mut dims = vec![n];
            dims.extend_from_slice(shape);
            x.reshape(&dims)?
        };
        self.run(&self.plan.steps, h, params, mode, ctx, visit)
    }

    fn run(
        &self,
        steps: &[Step],
        mut h: Tensor<T>,
        params: &[Tensor<T>],
        mode: Mode,
        ctx: &mut ForwardCtx<'_, T>,
        visit: &mut dyn FnMut(usize, &Layer, &Tensor<T>),
    ) -> CoreResult<Tensor<T>> {
        for step in steps {
            h = match step {
                Step::Leaf(i) => {
                    let leaf = &self.plan.leaves[*i];
                    visit(*i, &leaf.layer, &h);
                    let io = LeafIo {
                        params: &params[leaf.param..leaf.param + leaf.params.len()],
                        buffers: &self.buffers[leaf.buffer..leaf.buffer + leaf.buffers.len()],
                        mode,
                        leaf: *i,
                        name: &leaf.name,
                    };
                    leaf.layer
                        .leaf_forward::<T>()
                        .expect("a plan's leaves are leaf layers")
                        .forward(&h, &io, ctx)?
                }
                Step::Residual { body, .. } => {
                    let y = self.run(body, h.clone(), params, mode, ctx, visit)?;
                    h.add(&y)?
                }
            };
        }
        Ok(h)
    }

    /// A training forward pass with the model's own parameters, followed by the running-statistics
    /// update. The output stays differentiable with respect to [`Sequential::parameters`].
    /// PyTorch: `model.train(); model(x)`.
    pub fn forward_train(&mut self, x: &Tensor<T>, rng: &mut Rng) -> CoreResult<Tensor<T>> {
        let mut ctx = ForwardCtx::new(rng);
        let y = self.forward_with(&self.params, x, Mode::Train, &mut ctx)?;
        self.update_running_stats(&mut ctx)?;
        Ok(y)
    }

    /// The model's output in [`Mode::Eval`] with nothing recorded for differentiation.
    /// PyTorch: `model.eval(); with torch.no_grad(): model(x)`.
    pub fn predict(&self, x: &Tensor<T>) -> CoreResult<Tensor<T>> {
        no_grad(|| self.forward_with(&self.params, x, Mode::Eval, &mut ForwardCtx::without_rng()))
    }

    /// Applies (and removes from `ctx`) the batch statistics of earlier [`Mode::Train`] passes,
    /// exactly as PyTorch's batch norms do after each training batch:
    /// `running_mean ← (1 − m)·running_mean + m·μ_batch`,
    /// `running_var ← (1 − m)·running_var + m·σ²_batch,unbiased`, `num_batches_tracked += 1`.
    ///
    /// Statistics that do not belong to this model (wrong layer or width) are an error and
    /// nothing is changed.
    pub fn update_running_stats(&mut self, ctx: &mut ForwardCtx<'_, T>) -> CoreResult<()> {
        for s in &ctx.stats {
            let ok = self.plan.leaves.get(s.layer).is_some_and(|l| {
                l.tracked.is_some()
                    && l.buffers.first().is_some_and(|b| {
                        b.shape == [s.mean.len()] && s.var_unbiased.len() == s.mean.len()
                    })
            });
            if !ok {
                return Err(CoreError::InvalidArgument {
                    op: "Sequential::update_running_stats",
                    msg: format!(
                        "batch statistics for layer {} ({} features) do not fit this model",
                        s.layer,
                        s.mean.len()
                    ),
                });
            }
        }
        for s in ctx.take_batch_stats() {
            let leaf = &self.plan.leaves[s.layer];
            let (Some(m), Some(tracked)) =
                (leaf.layer.leaf().and_then(|l| l.momentum()), leaf.tracked)
            else {
                continue;
            };
            let m = T::from_f64(m);
            let keep = T::one() - m;
            let update = |r: &mut [T], batch: &[T]| {
                for (r, &b) in r.iter_mut().zip(batch) {
                    *r = keep * *r + m * b;
                }
            };
            update(self.buffers[leaf.buffer].data_mut(), &s.mean);
            update(self.buffers[leaf.buffer + 1].data_mut(), &s.var_unbiased);
            // A count read from a file may already be at the top; it stays there.
            self.tracked[tracked] = self.tracked[tracked].saturating_add(1);
        }
        Ok(())
    }

    fn check_params(&self, params: &[Tensor<T>]) -> CoreResult<()> {
        if params.len() != self.params.len() {
            return Err(forward_error(format!(
                "{} parameter tensors given, the model has {}",
                params.len(),
                self.params.len()
            )));
        }
        for (i, (shape, p)) in self.shapes.iter().zip(params).enumerate() {
            if p.dims() != shape.as_slice() {
                let name = &self.parameter_names()[i];
                return Err(forward_error(format!(
                    "parameter \"{name}\" has shape {}, expected {shape:?}",
                    p.shape()
                )));
            }
        }
        Ok(())
    }
}

/// `U(−bound, bound)` drawn in f64 and rounded to `T`, so a seed gives the same model (up to
/// rounding) in either precision.
fn uniform_as<T: Element>(dims: &[usize], bound: f64, rng: &mut Rng) -> CoreResult<Tensor<T>> {
    let u = Tensor::<f64>::uniform(dims, -bound, bound, rng)?;
    Tensor::from_vec(u.data().iter().map(|&x| T::from_f64(x)).collect(), dims)
}
