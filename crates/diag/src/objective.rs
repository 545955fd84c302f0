//! The training loss as a function of one flat parameter vector θ, over the whole training set.

use crate::error::{finite, Error, Result};
use crate::lanczos::{check_len, norm, SymmetricOperator};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use trainscope_core::{grad, no_grad, seeded_rng, Result as CoreResult, SecondOrder, Tensor};
use trainscope_nn::{ForwardCtx, Loss, Mode, Sequential, Target};

/// A loss as an arbitrary function of parameter tensors (analytic test functions, other tools).
pub type LossClosure<'a> = dyn Fn(&[Tensor<f64>]) -> CoreResult<Tensor<f64>> + Send + Sync + 'a;

/// Sums a buffer over the processes that share a loss function's rows, in place: every
/// process must call it with a buffer of the same length, and every process receives the same
/// sums.
pub type Reducer = Arc<dyn Fn(&mut [f64]) + Send + Sync>;

/// One process's share of the rows of a [`LossFunction`] spread over `size` processes (MPI):
/// process `rank` evaluates rows `⌊rank·N/size⌋..⌊(rank+1)·N/size⌋`, weighted by their share
/// of all `N`, and `sum` adds the processes' losses, gradients, Hessian-vector products and
/// Hessians, so each of them is the whole data's on every process.
#[derive(Clone)]
pub struct Share {
    /// This process's index.
    pub rank: usize,
    /// The number of processes.
    pub size: usize,
    /// The sum over the processes.
    pub sum: Reducer,
}

impl Share {
    /// This process's rows of `0..rows`.
    pub fn rows(&self, rows: usize) -> Range<usize> {
        let at = |r: usize| r * rows / self.size.max(1);
        at(self.rank)..at(self.rank + 1)
    }
}

/// Training targets for all `N` examples.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Values, row-major `N × width` (regression, or 0/1 labels for binary cross-entropy).
    Values {
        /// The values.
        data: Vec<f64>,
        /// Values per example (the model's output width).
        width: usize,
    },
    /// One class index per example (cross-entropy, softmax-MSE).
    Classes(Vec<u32>),
}

/// How the whole-data loss is evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Examples per batch. The loss is the example-weighted mean of batch losses, so the batch
    /// size changes memory and speed, never the value — except for batch norm in
    /// [`Mode::Train`], whose statistics are per batch.
    pub batch_size: usize,
    /// [`Mode::Eval`] (default): batch norm uses its running statistics and dropout is off, so
    /// the loss is one deterministic function of θ. [`Mode::Train`] gives the mini-batch loss
    /// the optimizer saw (batch statistics; dropout masks drawn from `dropout_seed`, fixed
    /// across evaluations).
    pub mode: Mode,
    /// Most bytes the per-batch gradient graphs may occupy for reuse across Hessian-vector
    /// products (an estimate, see [`LossFunction::graph_bytes_estimate`]); above it every
    /// product rebuilds each batch's graph (one extra forward and backward pass per batch).
    pub graph_cache_bytes: u64,
    /// Seed of the dropout masks in [`Mode::Train`].
    pub dropout_seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            batch_size: 1024,
            mode: Mode::Eval,
            graph_cache_bytes: 2 << 30,
            dropout_seed: 0,
        }
    }
}

enum BatchTarget {
    Values(Tensor<f64>),
    Classes(Vec<u32>),
}

struct Batch {
    x: Tensor<f64>,
    y: BatchTarget,
    /// `n_b / N`: the batch's share of the mean.
    weight: f64,
}

enum Source<'a> {
    Model {
        model: Box<Sequential<f64>>,
        loss: Loss,
        batches: Vec<Batch>,
        widths: usize,
    },
    Closure(Box<LossClosure<'a>>),
}

/// The loss `L(θ)` of a model on a whole training set, or of any closure, as a function of one
/// flat parameter vector θ (parameters concatenated in PyTorch `state_dict` order).
///
/// For a model, `L(θ) = Σ_b (n_b/N) L_b(θ)` over batches of the data, where `L_b` is the
/// batch's mean loss: exactly the mean over all `N` examples, with memory bounded by the batch
/// size. Gradients and Hessian-vector products are the same weighted sums (evaluated in
/// parallel over batches, summed in batch order so results do not depend on threads).
pub struct LossFunction<'a> {
    source: Source<'a>,
    mode: Mode,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    num_params: usize,
    examples: usize,
    initial: Vec<f64>,
    opts: EvalOptions,
    /// With several processes: this one's share of the rows, and the sum over them.
    share: Option<Share>,
}

/// The loss and its gradient at a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gradient {
    /// `L(θ)`.
    pub loss: f64,
    /// `∇L(θ)`, flat.
    pub flat: Vec<f64>,
}

/// The Euclidean norm of one parameter tensor's block of the gradient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamNorm {
    /// PyTorch name (`0.weight`).
    pub name: String,
    /// Number of scalars in the tensor.
    pub numel: usize,
    /// `‖∂L/∂θ_tensor‖₂`.
    pub norm: f64,
}

/// The gradient summarized: global norm and per-tensor norms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientReport {
    /// `L(θ)`.
    pub loss: f64,
    /// `‖∇L(θ)‖₂`.
    pub grad_norm: f64,
    /// Norm per parameter tensor, in parameter order.
    pub grad_norm_per_layer: Vec<ParamNorm>,
}

impl<'a> LossFunction<'a> {
    /// The loss of `model` on a data set: `features` row-major `rows × model.input_size()`,
    /// `targets` for the same rows, `loss` as in training.
    ///
    /// ```
    /// use trainscope_diag::{EvalOptions, LossFunction, Targets};
    /// use trainscope_nn::{Loss, ModelSpec, Sequential};
    /// let model = Sequential::<f64>::from_seed(ModelSpec::linear(1, 1), 0).unwrap();
    /// let x = vec![0.0, 1.0, 2.0];
    /// let y = Targets::Values { data: vec![1.0, 3.0, 5.0], width: 1 };
    /// let f = LossFunction::from_model(model, &x, y, Loss::Mse, EvalOptions::default()).unwrap();
    /// // y = 1 + 2x exactly: zero loss and gradient there.
    /// let g = f.gradient(&[2.0, 1.0]).unwrap();
    /// assert!(g.loss < 1e-24 && g.flat.iter().all(|d| d.abs() < 1e-12));
    /// ```
    pub fn from_model(
        model: Sequential<f64>,
        features: &[f64],
        targets: Targets,
        loss: Loss,
        opts: EvalOptions,
    ) -> Result<LossFunction<'static>> {
        Self::from_model_shared(model, features, targets, loss, opts, None)
    }

    /// [`LossFunction::from_model`] spread over processes: with `share`, this process keeps
    /// only its rows (batched as `opts` says), and every loss, gradient, Hessian-vector product
    /// and Hessian is its rows' part summed over the processes by `share.sum`. Every process
    /// must then make the same calls in the same order.
    pub fn from_model_shared(
        model: Sequential<f64>,
        features: &[f64],
        targets: Targets,
        loss: Loss,
        opts: EvalOptions,
        share: Option<Share>,
    ) -> Result<LossFunction<'static>> {
        let d = model.input_size();
        if features.is_empty() || features.len() % d != 0 {
            return Err(Error::invalid(
                "features",
                format!(
                    "{} values are not a whole number (≥ 1) of rows of {d} features",
                    features.len()
                ),
            ));
        }
        if opts.batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        let rows = features.len() / d;
        let out = model.output_size();
        match (&targets, loss.takes_classes()) {
            (Targets::Classes(c), true) => {
                if c.len() != rows {
                    return Err(Error::invalid(
                        "targets",
                        format!("{} class labels for {rows} examples", c.len()),
                    ));
                }
                if let Some(bad) = c.iter().find(|&&c| c as usize >= out) {
                    return Err(Error::invalid(
                        "targets",
                        format!("class {bad} out of range for a model with {out} outputs"),
                    ));
                }
            }
            (Targets::Values { data, width }, false) => {
                if *width != out || data.len() != rows * out {
                    return Err(Error::invalid(
                        "targets",
                        format!(
                            "{} values of width {width} for {rows} examples of a model with \
                             {out} outputs",
                            data.len()
                        ),
                    ));
                }
            }
            (_, true) => {
                return Err(Error::invalid(
                    "targets",
                    format!("loss {} needs class labels", loss.name()),
                ))
            }
            (_, false) => {
                return Err(Error::invalid(
                    "targets",
                    format!("loss {} needs target values, not class labels", loss.name()),
                ))
            }
        }
        let b = opts.batch_size;
        let mine = share.as_ref().map_or(0..rows, |s| s.rows(rows));
        let mut batches = Vec::new();
        for start in mine.clone().step_by(b) {
            let end = (start + b).min(mine.end);
            let nb = end - start;
            let x = Tensor::from_slice(&features[start * d..end * d], &[nb, d])?;
            let y = match &targets {
                Targets::Values { data, width } => BatchTarget::Values(Tensor::from_slice(
                    &data[start * width..end * width],
                    &[nb, *width],
                )?),
                Targets::Classes(c) => BatchTarget::Classes(c[start..end].to_vec()),
            };
            batches.push(Batch {
                x,
                y,
                weight: nb as f64 / rows as f64,
            });
        }
        let widths = model.spec().activation_size();
        let names = model.parameter_names();
        let shapes = model.parameter_shapes();
        let initial: Vec<f64> = model.parameters().iter().flat_map(|t| t.to_vec()).collect();
        Ok(LossFunction {
            num_params: initial.len(),
            mode: opts.mode,
            names,
            shapes,
            examples: rows,
            initial,
            opts,
            share,
            source: Source::Model {
                model: Box::new(model),
                loss,
                batches,
                widths,
            },
        })
    }

    /// Any scalar function of tensors of the given `shapes` (named `names`, or `p0`, `p1`, …
    /// when `None`). Evaluated as one piece; batch options do not apply.
    ///
    /// ```
    /// use trainscope_diag::LossFunction;
    /// // f(x, y) = x² − y²
    /// let f = LossFunction::from_closure(
    ///     |p| Ok(p[0].gather(0, &[0])?.powf(2.0).sub(&p[0].gather(0, &[1])?.powf(2.0))?.sum()),
    ///     vec![vec![2]],
    ///     None,
    /// )
    /// .unwrap();
    /// assert_eq!(f.loss(&[3.0, 1.0]).unwrap(), 8.0);
    /// ```
    pub fn from_closure(
        f: impl Fn(&[Tensor<f64>]) -> CoreResult<Tensor<f64>> + Send + Sync + 'a,
        shapes: Vec<Vec<usize>>,
        names: Option<Vec<String>>,
    ) -> Result<LossFunction<'a>> {
        let names = match names {
            Some(n) if n.len() != shapes.len() => {
                return Err(Error::invalid(
                    "names",
                    format!("{} names for {} tensors", n.len(), shapes.len()),
                ))
            }
            Some(n) => n,
            None => (0..shapes.len()).map(|i| format!("p{i}")).collect(),
        };
        let num_params = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
        Ok(LossFunction {
            source: Source::Closure(Box::new(f)),
            mode: Mode::Eval,
            names,
            shapes,
            num_params,
            examples: 0,
            initial: vec![0.0; num_params],
            opts: EvalOptions::default(),
            share: None,
        })
    }

    /// Number of scalar parameters `n`.
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    /// Parameter tensor names, in order.
    pub fn parameter_names(&self) -> &[String] {
        &self.names
    }

    /// Parameter tensor shapes, in order.
    pub fn parameter_shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// Number of training examples (0 for a closure).
    pub fn num_examples(&self) -> usize {
        self.examples
    }

    /// Number of batches the data is evaluated in (1 for a closure).
    pub fn num_batches(&self) -> usize {
        match &self.source {
            Source::Model { batches, .. } => batches.len(),
            Source::Closure(_) => 1,
        }
    }

    /// The mode of batch norm and dropout.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The sentence reports carry about the mode (and so about what the Hessian is of).
    pub fn eval_mode_note(&self) -> String {
        match (&self.source, self.mode) {
            (Source::Closure(_), _) => "loss given as a function of the parameters".into(),
            (Source::Model { .. }, Mode::Eval) => format!(
                "full training set ({} examples, {} batch{}), eval mode: batch norm uses its \
                 running statistics and dropout is off, so the loss is one deterministic \
                 function of the parameters",
                self.examples,
                self.num_batches(),
                if self.num_batches() == 1 { "" } else { "es" }
            ),
            (Source::Model { .. }, Mode::Train) => format!(
                "full training set ({} examples) in train mode: batch norm uses the \
                 statistics of each of the {} batches (of {}) and dropout masks are fixed by a \
                 seed — the mini-batch loss, not the model's inference loss",
                self.examples,
                self.num_batches(),
                self.opts.batch_size
            ),
        }
    }

    /// The model's own parameters, flat (zeros for a closure).
    pub fn initial_parameters(&self) -> Vec<f64> {
        self.initial.clone()
    }

    /// Estimated bytes of all per-batch gradient graphs kept for Hessian-vector products:
    /// `8 · Σ_b (12 · n_b · W + 4 · n)`, with `W` the sum of the layer widths (input included)
    /// and `n` the parameter count. The factors count the tensors a recorded forward and
    /// backward pass keep per activation (outputs, local derivatives, gradients) and per
    /// parameter (gradient and its graph). Zero for a closure (one graph, always kept).
    pub fn graph_bytes_estimate(&self) -> u64 {
        match &self.source {
            Source::Model {
                batches, widths, ..
            } => batches
                .iter()
                .map(|b| 8 * (12 * b.x.dims()[0] * widths + 4 * self.num_params) as u64)
                .sum(),
            Source::Closure(_) => 0,
        }
    }

    /// Parameters in `theta` as tensors (leaves; callers decide about gradients).
    pub fn unflatten(&self, theta: &[f64]) -> Result<Vec<Tensor<f64>>> {
        check_len(theta, self.num_params)
            .map_err(|_| Error::invalid("parameters", self.len_msg(theta.len())))?;
        let mut off = 0;
        self.shapes
            .iter()
            .map(|s| {
                let k: usize = s.iter().product();
                let t = Tensor::from_slice(&theta[off..off + k], s);
                off += k;
                Ok(t?)
            })
            .collect()
    }

    fn len_msg(&self, got: usize) -> String {
        format!(
            "{got} values given, the model has {} parameters",
            self.num_params
        )
    }

    /// Batch `b`'s share `(n_b/N)·L_b(params)` (the whole loss for a closure), recorded.
    fn batch_loss(&self, b: usize, params: &[Tensor<f64>]) -> CoreResult<Tensor<f64>> {
        match &self.source {
            Source::Closure(f) => f(params),
            Source::Model {
                model,
                loss,
                batches,
                ..
            } => {
                let batch = &batches[b];
                let mut rng = seeded_rng(self.opts.dropout_seed.wrapping_add(b as u64));
                let mut ctx = ForwardCtx::new(&mut rng);
                let out = model.forward_with(params, &batch.x, self.mode, &mut ctx)?;
                let target = match &batch.y {
                    BatchTarget::Values(t) => Target::Values(t),
                    BatchTarget::Classes(c) => Target::Classes(c),
                };
                let l = loss.compute(&out, target)?;
                if l.numel() != 1 {
                    return Err(trainscope_core::Error::InvalidArgument {
                        op: "loss",
                        msg: format!("must be a scalar, has shape {}", l.shape()),
                    });
                }
                // One batch of all the rows: its mean is the loss as it is.
                Ok(if batch.weight == 1.0 {
                    l
                } else {
                    l.mul_scalar(batch.weight)
                })
            }
        }
    }

    /// Sums `buf` over the processes sharing the rows (nothing to do alone).
    fn sum_shares(&self, buf: &mut [f64]) {
        if let Some(share) = &self.share {
            (share.sum)(buf);
        }
    }

    /// A loss and a gradient summed over the processes sharing the rows, in one sum.
    fn sum_gradient(&self, loss: f64, flat: Vec<f64>) -> (f64, Vec<f64>) {
        if self.share.is_none() {
            return (loss, flat);
        }
        let mut buf = flat;
        buf.push(loss);
        self.sum_shares(&mut buf);
        let loss = buf.pop().unwrap_or(f64::NAN);
        (loss, buf)
    }

    /// Runs `f` on every batch in parallel; results in batch order.
    fn per_batch<R: Send>(&self, f: impl Fn(usize) -> Result<R> + Sync + Send) -> Result<Vec<R>> {
        (0..self.num_batches()).into_par_iter().map(f).collect()
    }

    /// `L(θ)`, nothing recorded.
    pub fn loss(&self, theta: &[f64]) -> Result<f64> {
        let params = self.unflatten(theta)?;
        let parts = self.per_batch(|b| {
            no_grad(|| {
                let l = self.batch_loss(b, &params)?;
                Ok(l.item()?)
            })
        })?;
        let mut total = [parts.iter().sum()];
        self.sum_shares(&mut total);
        finite("loss", total[0])
    }

    /// `L(θ)` and `∇L(θ)` (one forward and backward pass per batch).
    pub fn gradient(&self, theta: &[f64]) -> Result<Gradient> {
        let base = self.unflatten(theta)?;
        let parts = self.per_batch(|b| {
            let params: Vec<Tensor<f64>> = base.iter().map(|t| t.clone().into_param()).collect();
            let l = self.batch_loss(b, &params)?;
            let g = grad(&l, &params, false)?;
            let flat: Vec<f64> = g.iter().flat_map(|t| t.data().iter().copied()).collect();
            Ok((l.item()?, flat))
        })?;
        let mut loss = 0.0;
        let mut flat = vec![0.0; self.num_params];
        for (l, g) in parts {
            loss += l;
            for (a, b) in flat.iter_mut().zip(&g) {
                *a += b;
            }
        }
        let (loss, flat) = self.sum_gradient(loss, flat);
        finite("loss", loss)?;
        finite("gradient norm", norm(&flat))?;
        Ok(Gradient { loss, flat })
    }

    /// The gradient's global and per-tensor norms.
    pub fn gradient_report(&self, theta: &[f64]) -> Result<GradientReport> {
        let g = self.gradient(theta)?;
        Ok(self.summarize_gradient(&g))
    }

    pub(crate) fn summarize_gradient(&self, g: &Gradient) -> GradientReport {
        let mut off = 0;
        let per = self
            .names
            .iter()
            .zip(&self.shapes)
            .map(|(name, s)| {
                let k: usize = s.iter().product();
                let n = norm(&g.flat[off..off + k]);
                off += k;
                ParamNorm {
                    name: name.clone(),
                    numel: k,
                    norm: n,
                }
            })
            .collect();
        GradientReport {
            loss: g.loss,
            grad_norm: norm(&g.flat),
            grad_norm_per_layer: per,
        }
    }

    /// The Hessian at θ as an operator: exact Hessian-vector products `H v`, each one backward
    /// pass per batch through gradient graphs built here. The graphs are kept for reuse when
    /// [`LossFunction::graph_bytes_estimate`] is within [`EvalOptions::graph_cache_bytes`];
    /// otherwise each product rebuilds them.
    pub fn hessian_at(&self, theta: &[f64]) -> Result<HessianOperator<'_, 'a>> {
        let params = self.unflatten(theta)?;
        let cache = self.graph_bytes_estimate() <= self.opts.graph_cache_bytes;
        let (graphs, grad) = if cache {
            let graphs =
                self.per_batch(|b| Ok(SecondOrder::new(|p| self.batch_loss(b, p), &params)?))?;
            let mut flat = vec![0.0; self.num_params];
            let mut loss = 0.0;
            for so in &graphs {
                loss += so.loss()?;
                for (a, b) in flat.iter_mut().zip(so.gradient_flat()) {
                    *a += b;
                }
            }
            let (loss, flat) = self.sum_gradient(loss, flat);
            (Some(graphs), Gradient { loss, flat })
        } else {
            (None, self.gradient(theta)?)
        };
        finite("loss", grad.loss)?;
        finite("gradient norm", norm(&grad.flat))?;
        Ok(HessianOperator {
            f: self,
            params,
            graphs,
            grad,
            products: AtomicUsize::new(0),
        })
    }

    /// The dense Hessian `∇²L(θ)`, row-major `n × n`, symmetrized (`(H + Hᵀ)/2`, which only
    /// removes rounding). One Hessian-vector product per column, columns in parallel; peak
    /// memory `8·n²` bytes plus one batch's graph. Meant for small models (see
    /// [`crate::analyse`] for the limits).
    pub fn hessian(&self, theta: &[f64]) -> Result<Vec<f64>> {
        let n = self.num_params;
        let params = self.unflatten(theta)?;
        let mut h = vec![0.0; n * n];
        for b in 0..self.num_batches() {
            let so = SecondOrder::new(|p| self.batch_loss(b, p), &params)?;
            // Row j receives H_b e_j, the j-th column (H is symmetric).
            h.par_chunks_mut(n)
                .enumerate()
                .try_for_each(|(j, row)| -> Result<()> {
                    let mut e = vec![0.0; n];
                    e[j] = 1.0;
                    let col = so.hvp_flat(&e)?;
                    for (r, c) in row.iter_mut().zip(col) {
                        *r += c;
                    }
                    Ok(())
                })?;
        }
        self.sum_shares(&mut h);
        for i in 0..n {
            for j in 0..i {
                let s = 0.5 * (h[i * n + j] + h[j * n + i]);
                h[i * n + j] = s;
                h[j * n + i] = s;
            }
        }
        for &x in &h {
            finite("Hessian entry", x)?;
        }
        Ok(h)
    }
}

/// The Hessian of a [`LossFunction`] at one point, applied through exact Hessian-vector
/// products (reverse over reverse: `H v = ∇⟨∇L, v⟩`; Pearlmutter 1994).
pub struct HessianOperator<'f, 'a> {
    f: &'f LossFunction<'a>,
    params: Vec<Tensor<f64>>,
    graphs: Option<Vec<SecondOrder<f64>>>,
    grad: Gradient,
    products: AtomicUsize,
}

impl HessianOperator<'_, '_> {
    /// Loss and gradient at the point.
    pub fn gradient(&self) -> &Gradient {
        &self.grad
    }

    /// Whether the per-batch graphs are kept (else rebuilt for every product).
    pub fn graphs_cached(&self) -> bool {
        self.graphs.is_some()
    }

    /// Hessian-vector products computed so far.
    pub fn products(&self) -> usize {
        self.products.load(Ordering::Relaxed)
    }

    /// `H v`, summed over batches in batch order.
    pub fn hvp(&self, v: &[f64]) -> Result<Vec<f64>> {
        let n = self.f.num_params;
        check_len(v, n).map_err(|_| Error::invalid("direction", self.f.len_msg(v.len())))?;
        self.products.fetch_add(1, Ordering::Relaxed);
        let parts = match &self.graphs {
            Some(g) => g
                .par_iter()
                .map(|so| Ok(so.hvp_flat(v)?))
                .collect::<Result<Vec<_>>>()?,
            None => self.f.per_batch(|b| {
                let so = SecondOrder::new(|p| self.f.batch_loss(b, p), &self.params)?;
                Ok(so.hvp_flat(v)?)
            })?,
        };
        let mut out = vec![0.0; n];
        for p in parts {
            for (a, b) in out.iter_mut().zip(p) {
                *a += b;
            }
        }
        self.f.sum_shares(&mut out);
        Ok(out)
    }
}

impl SymmetricOperator for HessianOperator<'_, '_> {
    fn dim(&self) -> usize {
        self.f.num_params
    }

    fn apply(&self, v: &[f64]) -> Result<Vec<f64>> {
        self.hvp(v)
    }
}
