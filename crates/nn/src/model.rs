//! Sequential models: parameters in PyTorch `state_dict` order and a functional forward pass.

use crate::error::Result;
use crate::layer::{Layer, Mode};
use crate::spec::{ModelSpec, Slot};
use trainscope_core::{no_grad, Element, Error as CoreError, Result as CoreResult, Rng, Tensor};

fn forward_error(msg: String) -> CoreError {
    CoreError::InvalidArgument {
        op: "Sequential::forward",
        msg,
    }
}

/// Statistics one batch-norm layer saw during a [`Mode::Train`] forward pass, as
/// [`Sequential::update_running_stats`] needs them.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats<T: Element> {
    /// Index of the batch-norm layer in the model.
    pub layer: usize,
    /// Number of examples in the batch.
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
    rng: Option<&'r mut Rng>,
    stats: Vec<BatchStats<T>>,
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
/// `torch.nn.Sequential`.
///
/// Parameters are kept as gradient-requiring leaves in PyTorch `state_dict` order under
/// PyTorch's names (`0.weight`, `0.bias`, …; a layer's index is its position, activations and
/// dropout included). Batch-norm running statistics are buffers: constants to the forward pass,
/// changed only by [`Sequential::update_running_stats`].
#[derive(Clone, Debug)]
pub struct Sequential<T: Element> {
    spec: ModelSpec,
    outputs: usize,
    slots: Vec<Slot>,
    /// Expected parameter shapes, kept so the per-call check of `forward_with` allocates nothing.
    shapes: Vec<Vec<usize>>,
    params: Vec<Tensor<T>>,
    buffers: Vec<Tensor<T>>,
    tracked: Vec<u64>,
}

impl<T: Element> Sequential<T> {
    /// Builds the model described by `spec` with PyTorch's default initialization, drawing
    /// from `rng` layer by layer (weight, then bias):
    /// Linear `W, b ~ U(−1/√in, 1/√in)` (`kaiming_uniform_(a = √5)` and its bias rule);
    /// BatchNorm `γ = 1, β = 0`, running mean 0, running variance 1, no batches tracked.
    /// The draws are made in f64, so an f32 model is the f64 one rounded.
    pub fn new(spec: ModelSpec, rng: &mut Rng) -> Result<Self> {
        let mut model = Self::zeroed(spec)?;
        for (layer, slot) in model.spec.layers.iter().zip(&model.slots) {
            if let Layer::Linear {
                in_features,
                out_features,
            } = *layer
            {
                let bound = 1.0 / (in_features as f64).sqrt();
                let w = uniform_as::<T>(&[out_features, in_features], bound, rng)?;
                let b = uniform_as::<T>(&[out_features], bound, rng)?;
                model.params[slot.param] = w.into_param();
                model.params[slot.param + 1] = b.into_param();
            }
        }
        Ok(model)
    }

    /// [`Sequential::new`] with a generator seeded by `seed`.
    pub fn from_seed(spec: ModelSpec, seed: u64) -> Result<Self> {
        Self::new(spec, &mut trainscope_core::seeded_rng(seed))
    }

    /// The model with every Linear parameter zero and batch norm at its defaults; the
    /// checkpoint loaders fill it in.
    pub(crate) fn zeroed(spec: ModelSpec) -> Result<Self> {
        let outputs = spec.validate()?;
        let slots = spec.slots();
        let shapes = spec
            .parameter_entries()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let mut params = Vec::new();
        for (name, shape) in spec.parameter_entries() {
            let fill = if name.ends_with(".weight") && shape.len() == 1 {
                T::one()
            } else {
                T::zero()
            };
            params.push(Tensor::full(&shape, fill)?.into_param());
        }
        let mut buffers = Vec::new();
        for (name, shape) in spec.buffer_entries() {
            let fill = if name.ends_with(".running_var") {
                T::one()
            } else {
                T::zero()
            };
            buffers.push(Tensor::full(&shape, fill)?);
        }
        let tracked = vec![0; spec.batches_tracked_names().len()];
        Ok(Sequential {
            spec,
            outputs,
            slots,
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

    /// Features per input example.
    pub fn input_size(&self) -> usize {
        self.spec.inputs
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
        self.spec.parameter_names()
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
        self.spec
            .buffer_entries()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
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
        self.spec.batches_tracked_names()
    }

    /// The model's output for `x: [batch, inputs]` using `params` in place of the model's own
    /// parameters (same order and shapes as [`Sequential::parameters`]). This is what makes the
    /// loss a function of any tensors — trainer leaves, or the differentiation variables of
    /// [`trainscope_core::SecondOrder`].
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

    /// [`Sequential::forward_with`] that also shows `visit(i, layer, input)` each layer's
    /// input: how diagnostics look inside (which ReLU units ever fire) without a second pass.
    pub fn forward_visiting(
        &self,
        params: &[Tensor<T>],
        x: &Tensor<T>,
        mode: Mode,
        ctx: &mut ForwardCtx<'_, T>,
        visit: &mut dyn FnMut(usize, &Layer, &Tensor<T>),
    ) -> CoreResult<Tensor<T>> {
        self.check_params(params)?;
        if x.rank() != 2 || x.dims()[1] != self.spec.inputs {
            return Err(forward_error(format!(
                "input must be [batch, {}], got {}",
                self.spec.inputs,
                x.shape()
            )));
        }
        let mut h = x.clone();
        for (i, (layer, slot)) in self.spec.layers.iter().zip(&self.slots).enumerate() {
            visit(i, layer, &h);
            h = match *layer {
                Layer::Linear { .. } => h
                    .matmul_t(&params[slot.param], false, true)?
                    .add(&params[slot.param + 1])?,
                Layer::Sigmoid => h.sigmoid(),
                Layer::Relu => h.relu(),
                Layer::Tanh => h.tanh(),
                Layer::HardSigmoid => h.hard_sigmoid(),
                Layer::BatchNorm1d { eps, .. } => {
                    let (w, b) = (&params[slot.param], &params[slot.param + 1]);
                    let eps = T::from_f64(eps);
                    let normalized = match mode {
                        Mode::Train => batch_norm_train(&h, i, eps, ctx)?,
                        Mode::Eval => {
                            let (rm, rv) =
                                (&self.buffers[slot.buffer], &self.buffers[slot.buffer + 1]);
                            h.sub(rm)?.div(&rv.add_scalar(eps).sqrt())?
                        }
                    };
                    normalized.mul(w)?.add(b)?
                }
                Layer::Dropout { p } => match mode {
                    Mode::Eval => h,
                    Mode::Train => dropout_train(&h, i, p, ctx)?,
                },
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
    /// exactly as PyTorch's `BatchNorm1d` does after each training batch:
    /// `running_mean ← (1 − m)·running_mean + m·μ_batch`,
    /// `running_var ← (1 − m)·running_var + m·σ²_batch,unbiased`, `num_batches_tracked += 1`.
    ///
    /// Statistics that do not belong to this model (wrong layer or width) are an error and
    /// nothing is changed.
    pub fn update_running_stats(&mut self, ctx: &mut ForwardCtx<'_, T>) -> CoreResult<()> {
        for s in &ctx.stats {
            let ok = match self.spec.layers.get(s.layer) {
                Some(Layer::BatchNorm1d { num_features, .. }) => {
                    s.mean.len() == *num_features && s.var_unbiased.len() == *num_features
                }
                _ => false,
            };
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
            let slot = self.slots[s.layer];
            let m = match self.spec.layers[s.layer] {
                Layer::BatchNorm1d { momentum, .. } => T::from_f64(momentum),
                _ => continue,
            };
            let keep = T::one() - m;
            let update = |r: &mut [T], batch: &[T]| {
                for (r, &b) in r.iter_mut().zip(batch) {
                    *r = keep * *r + m * b;
                }
            };
            update(self.buffers[slot.buffer].data_mut(), &s.mean);
            update(self.buffers[slot.buffer + 1].data_mut(), &s.var_unbiased);
            self.tracked[slot.tracked] += 1;
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
                let name = &self.spec.parameter_names()[i];
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

/// `(x − μ) / √(σ² + eps)` with the batch mean and biased variance, recording the statistics.
fn batch_norm_train<T: Element>(
    x: &Tensor<T>,
    layer: usize,
    eps: T,
    ctx: &mut ForwardCtx<'_, T>,
) -> CoreResult<Tensor<T>> {
    let n = x.dims()[0];
    // PyTorch refuses too: the variance of one example is 0 and the output would be β alone.
    if n < 2 {
        return Err(forward_error(format!(
            "layer {layer} (BatchNorm1d) needs more than 1 example per batch in Train mode, got {n}"
        )));
    }
    let mean = x.mean_axis(0, true)?;
    let centered = x.sub(&mean)?;
    let var = centered.powf(T::from_f64(2.0)).mean_axis(0, true)?;
    let unbias = T::from_f64(n as f64 / (n as f64 - 1.0));
    ctx.stats.push(BatchStats {
        layer,
        batch: n,
        mean: mean.to_vec(),
        var_unbiased: var.data().iter().map(|&v| v * unbias).collect(),
    });
    centered.div(&var.add_scalar(eps).sqrt())
}

/// Inverted dropout: keep each unit with probability `1 − p`, scaled by `1/(1 − p)`.
fn dropout_train<T: Element>(
    x: &Tensor<T>,
    layer: usize,
    p: f64,
    ctx: &mut ForwardCtx<'_, T>,
) -> CoreResult<Tensor<T>> {
    if p == 0.0 {
        return Ok(x.clone());
    }
    let rng = ctx.rng.as_deref_mut().ok_or_else(|| {
        forward_error(format!(
            "layer {layer} (Dropout) in Train mode needs a random generator in the ForwardCtx"
        ))
    })?;
    let u = Tensor::<T>::uniform(x.dims(), T::zero(), T::one(), rng)?;
    // p = 1 drops everything; 1/(1 − p) would turn the zeros into NaN.
    let scale = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
    let mask = u.ge_scalar(T::from_f64(p)).mul_scalar(T::from_f64(scale));
    x.mul(&mask)
}
