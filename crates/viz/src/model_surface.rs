//! Loss surfaces of models: the loss on a 2-D slice of parameter space, computed in parallel,
//! and optimizer trajectories projected onto the slice.
//!
//! A slice is a [`Plane`] `θ(α, β) = θ₀ + α·d₁ + β·d₂` through parameter space (flattened in
//! PyTorch `state_dict` order). Three ways to choose it:
//! - [`parameter_pair_plane`]: two single parameters by name (`"0.weight[0]"`, `"0.bias[0]"`),
//!   the rest held at the model's values; the axes are the two parameters' own values — for
//!   `y = b + w x` this is the lectures' (w, b) error surface;
//! - [`random_plane`]: two random directions with filter-wise normalization (Li et al., 2018,
//!   "Visualizing the Loss Landscape of Neural Nets"), so that surfaces of differently scaled
//!   networks are comparable;
//! - [`direction_plane`]: two given directions, e.g. the Hessian eigenvectors of the largest and
//!   the most negative eigenvalue, along which a saddle shows as a saddle (random slices
//!   rarely do).

use crate::error::{Result, VizError};
use crate::grid::{Grid, Window};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use trainscope_core::{no_grad, seeded_rng, Element, Rng, Tensor};
use trainscope_nn::{ForwardCtx, Loss, Mode, Sequential, Target};

/// A model's loss on fixed data: what every grid point evaluates.
#[derive(Debug, Clone, Copy)]
pub struct LossProblem<'a, T: Element> {
    /// The model; its parameters are replaced by the slice's points, its batch-norm running
    /// statistics are used as they are ([`Mode::Eval`]).
    pub model: &'a Sequential<T>,
    /// Inputs `[batch, features]`: the whole data set, one full-data loss per point.
    pub inputs: &'a Tensor<T>,
    /// Targets for `loss`.
    pub target: Target<'a, T>,
    /// The loss function.
    pub loss: Loss,
}

/// A 2-D affine slice `θ(α, β) = center + α·d1 + β·d2` of a model's flattened parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plane {
    /// The point at `(α, β) = (0, 0)`.
    pub center: Vec<f64>,
    /// Direction of the horizontal axis.
    pub d1: Vec<f64>,
    /// Direction of the vertical axis.
    pub d2: Vec<f64>,
    /// Name of the horizontal axis.
    pub x_label: String,
    /// Name of the vertical axis.
    pub y_label: String,
    /// Where the model's own parameters sit in the plane: `(0, 0)` for direction slices, the
    /// two parameters' values for [`parameter_pair_plane`].
    pub origin: [f64; 2],
}

impl Plane {
    /// The plane through `center` along `d1` and `d2` (used as given), with `(0, 0)` at the
    /// center. Errors unless all three have the same length, are finite, and neither direction
    /// is zero.
    pub fn new(
        center: Vec<f64>,
        d1: Vec<f64>,
        d2: Vec<f64>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Result<Self> {
        let n = center.len();
        if !center.iter().all(|v| v.is_finite()) {
            return Err(VizError::invalid("the plane's center must be finite"));
        }
        for (name, d) in [("first", &d1), ("second", &d2)] {
            if d.len() != n {
                return Err(VizError::invalid(format!(
                    "the {name} direction has {} entries, the parameters have {n}",
                    d.len()
                )));
            }
            if !d.iter().all(|v| v.is_finite()) || d.iter().all(|&v| v == 0.0) {
                return Err(VizError::invalid(format!(
                    "the {name} direction must be finite and not zero"
                )));
            }
        }
        Ok(Plane {
            center,
            d1,
            d2,
            x_label: x_label.into(),
            y_label: y_label.into(),
            origin: [0.0, 0.0],
        })
    }

    /// Number of parameters the plane lives in.
    pub fn dim(&self) -> usize {
        self.center.len()
    }

    /// `center + α·d1 + β·d2`, written into `out` (resized to [`Plane::dim`]).
    pub fn point_into(&self, alpha: f64, beta: f64, out: &mut Vec<f64>) {
        out.clear();
        out.extend(
            self.center
                .iter()
                .zip(&self.d1)
                .zip(&self.d2)
                .map(|((c, u), v)| c + alpha * u + beta * v),
        );
    }

    /// `center + α·d1 + β·d2`.
    pub fn point(&self, alpha: f64, beta: f64) -> Vec<f64> {
        let mut out = Vec::new();
        self.point_into(alpha, beta, &mut out);
        out
    }

    /// A square window of half-width `radius` around [`Plane::origin`].
    pub fn window(&self, radius: f64) -> Window {
        Window::around(self.origin, radius)
    }

    /// Coordinates `(α, β)` of the point of the plane nearest to `theta`: the least-squares
    /// solution of `α·d1 + β·d2 ≈ theta − center` (exact when `theta` lies in the plane).
    pub fn project(&self, theta: &[f64]) -> Result<[f64; 2]> {
        if theta.len() != self.dim() {
            return Err(VizError::invalid(format!(
                "cannot project a point with {} parameters onto a plane in {} parameters",
                theta.len(),
                self.dim()
            )));
        }
        let (mut g11, mut g12, mut g22, mut r1, mut r2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (((t, c), u), v) in theta.iter().zip(&self.center).zip(&self.d1).zip(&self.d2) {
            let w = t - c;
            g11 += u * u;
            g12 += u * v;
            g22 += v * v;
            r1 += u * w;
            r2 += v * w;
        }
        let det = g11 * g22 - g12 * g12;
        // NaN-safe: a NaN determinant is refused too.
        if det.is_nan() || det <= 1e-12 * g11 * g22 {
            return Err(VizError::invalid(
                "the plane's directions are zero or parallel; cannot project onto it",
            ));
        }
        Ok([(g22 * r1 - g12 * r2) / det, (g11 * r2 - g12 * r1) / det])
    }

    /// [`Plane::project`] for every point of an optimizer's trajectory (`θ_t`, flattened in
    /// `state_dict` order).
    pub fn project_trajectory<P: AsRef<[f64]>>(&self, thetas: &[P]) -> Result<Vec<[f64; 2]>> {
        thetas.iter().map(|t| self.project(t.as_ref())).collect()
    }
}

/// A model's parameters flattened into one vector in `state_dict` order, as f64.
pub fn flat_parameters<T: Element>(model: &Sequential<T>) -> Vec<f64> {
    model
        .parameters()
        .iter()
        .flat_map(|p| p.data().iter().map(|&v| Element::to_f64(v)))
        .collect()
}

/// Position of a named scalar parameter in the flattened parameter vector.
///
/// Accepts `"name[k]"` with a row-major flat index `k`, `"name[i,j]"` with one index per
/// dimension, or `"name"` alone for a tensor of one element. Names are PyTorch's
/// (`"0.weight"`, `"2.bias"`).
pub fn parameter_index<T: Element>(model: &Sequential<T>, spec: &str) -> Result<usize> {
    let spec = spec.trim();
    let (name, index) = match spec.find('[') {
        Some(open) => {
            let inner = spec[open + 1..].strip_suffix(']').ok_or_else(|| {
                VizError::invalid(format!("parameter \"{spec}\": missing closing ']'"))
            })?;
            let idx: std::result::Result<Vec<usize>, _> = inner
                .split(',')
                .map(|s| s.trim().parse::<usize>())
                .collect();
            let idx = idx.map_err(|_| {
                VizError::invalid(format!(
                    "parameter \"{spec}\": the index must be whole numbers, e.g. \"0.weight[3]\""
                ))
            })?;
            (&spec[..open], Some(idx))
        }
        None => (spec, None),
    };
    let names = model.parameter_names();
    let k = names.iter().position(|n| n == name).ok_or_else(|| {
        VizError::invalid(format!(
            "unknown parameter \"{name}\" (the model has {})",
            names.join(", ")
        ))
    })?;
    let p = &model.parameters()[k];
    let dims = p.dims();
    let flat = match index {
        None if p.numel() == 1 => 0,
        None => {
            return Err(VizError::invalid(format!(
                "parameter \"{name}\" has shape {dims:?}; pick one element, e.g. \"{name}[0]\""
            )))
        }
        Some(idx) if idx.len() == 1 => idx[0],
        Some(idx) if idx.len() == dims.len() => {
            if idx.iter().zip(dims).any(|(&i, &d)| i >= d) {
                return Err(VizError::invalid(format!(
                    "parameter \"{spec}\": index out of range for shape {dims:?}"
                )));
            }
            idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
        }
        Some(idx) => {
            return Err(VizError::invalid(format!(
                "parameter \"{spec}\": {} indices for a tensor of shape {dims:?}",
                idx.len()
            )))
        }
    };
    if flat >= p.numel() {
        return Err(VizError::invalid(format!(
            "parameter \"{spec}\": index out of range for shape {dims:?} ({} elements)",
            p.numel()
        )));
    }
    let offset: usize = model.parameters()[..k].iter().map(|p| p.numel()).sum();
    Ok(offset + flat)
}

/// The slice through two single parameters, the rest held at the model's values.
///
/// The plane's coordinates are the two parameters' own values (the center has zeros in
/// their places), so a grid over `(w, b)` is the lectures' error surface of `y = b + w x`
/// and a trajectory projects to the exact values the two parameters took.
pub fn parameter_pair_plane<T: Element>(
    model: &Sequential<T>,
    first: &str,
    second: &str,
) -> Result<Plane> {
    let i = parameter_index(model, first)?;
    let j = parameter_index(model, second)?;
    if i == j {
        return Err(VizError::invalid(format!(
            "\"{first}\" and \"{second}\" are the same parameter"
        )));
    }
    let mut center = flat_parameters(model);
    let origin = [center[i], center[j]];
    center[i] = 0.0;
    center[j] = 0.0;
    let mut d1 = vec![0.0; center.len()];
    let mut d2 = d1.clone();
    d1[i] = 1.0;
    d2[j] = 1.0;
    Ok(Plane {
        center,
        d1,
        d2,
        x_label: first.trim().to_string(),
        y_label: second.trim().to_string(),
        origin,
    })
}

/// Rescales `direction` filter by filter to the model's weights (Li et al., 2018): every row
/// of a weight matrix (one output neuron's filter) gets the norm of the matching row of the
/// model's weight, and every one-dimensional parameter — biases, batch-norm γ and β — is set
/// to zero. A zero row stays zero.
pub fn filter_normalize<T: Element>(model: &Sequential<T>, direction: &mut [f64]) -> Result<()> {
    let total = model.num_parameters();
    if direction.len() != total {
        return Err(VizError::invalid(format!(
            "direction has {} entries, the model has {total} parameters",
            direction.len()
        )));
    }
    let mut offset = 0;
    for p in model.parameters() {
        let n = p.numel();
        let d = &mut direction[offset..offset + n];
        if p.rank() >= 2 && n > 0 {
            let rows = p.dims()[0].max(1);
            let len = n / rows;
            for (dr, wr) in d.chunks_mut(len).zip(p.data().chunks(len)) {
                let dn = dr.iter().map(|v| v * v).sum::<f64>().sqrt();
                let wn = wr
                    .iter()
                    .map(|&v| Element::to_f64(v).powi(2))
                    .sum::<f64>()
                    .sqrt();
                if dn > 0.0 {
                    dr.iter_mut().for_each(|v| *v *= wn / dn);
                }
            }
        } else {
            d.fill(0.0);
        }
        offset += n;
    }
    Ok(())
}

/// A random Gaussian direction, filter-normalized with [`filter_normalize`].
pub fn filter_normalized_direction<T: Element>(
    model: &Sequential<T>,
    rng: &mut Rng,
) -> Result<Vec<f64>> {
    let n = model.num_parameters();
    let mut d = Tensor::<f64>::normal(&[n.max(1)], 0.0, 1.0, rng)?.to_vec();
    d.truncate(n);
    filter_normalize(model, &mut d)?;
    Ok(d)
}

/// The slice through the model's parameters along two random filter-normalized directions
/// drawn from a generator seeded with `seed`; axes `α` and `β`, the model at `(0, 0)`.
pub fn random_plane<T: Element>(model: &Sequential<T>, seed: u64) -> Result<Plane> {
    let mut rng = seeded_rng(seed);
    let d1 = filter_normalized_direction(model, &mut rng)?;
    let d2 = filter_normalized_direction(model, &mut rng)?;
    Ok(Plane {
        center: flat_parameters(model),
        d1,
        d2,
        x_label: "α (random direction 1)".into(),
        y_label: "β (random direction 2)".into(),
        origin: [0.0, 0.0],
    })
}

/// The slice through the model's parameters along two given flat directions (used as
/// given, not normalized), e.g. Hessian eigenvectors of the largest and the most negative
/// eigenvalue; the model at `(0, 0)`.
pub fn direction_plane<T: Element>(
    model: &Sequential<T>,
    d1: Vec<f64>,
    d2: Vec<f64>,
    x_label: impl Into<String>,
    y_label: impl Into<String>,
) -> Result<Plane> {
    Plane::new(flat_parameters(model), d1, d2, x_label, y_label)
}

/// The values of any function of the flat parameters on an `nx × ny` grid of a plane, rows in
/// parallel (one scratch vector per worker). For losses that are not a model's, e.g. an
/// analytic surface seen through its Hessian's eigenvectors.
pub fn function_surface(
    f: impl Fn(&[f64]) -> f64 + Sync,
    plane: &Plane,
    window: &Window,
    nx: usize,
    ny: usize,
) -> Result<Grid> {
    let mut grid = Grid::empty(window, nx, ny)?.with_labels(&plane.x_label, &plane.y_label);
    let xs = grid.x.clone();
    let ys = grid.y.clone();
    grid.values
        .par_chunks_mut(nx)
        .zip(ys.par_iter())
        .for_each_init(Vec::new, |theta, (row, &beta)| {
            for (v, &alpha) in row.iter_mut().zip(&xs) {
                plane.point_into(alpha, beta, theta);
                *v = f(theta);
            }
        });
    Ok(grid)
}

/// Examples per chunk of the data, chosen so one layer's activations for a chunk stay in
/// the core's cache (a full-width pass over a large batch is bound by memory traffic).
fn chunk_rows<T: Element>(model: &Sequential<T>, batch: usize) -> usize {
    let width = model
        .parameters()
        .iter()
        .map(|p| p.dims().first().copied().unwrap_or(1))
        .chain(std::iter::once(model.input_size()))
        .max()
        .unwrap_or(1)
        .max(1);
    // Not `clamp`: a data set smaller than the floor of 16 rows is one chunk.
    (CHUNK_ELEMENTS / width).max(16).min(batch.max(1))
}

/// Activation elements per chunk (256 KiB in f64).
const CHUNK_ELEMENTS: usize = 32 * 1024;

/// A slice of the targets matching one chunk of the inputs.
enum ChunkTarget<T: Element> {
    Values(Tensor<T>),
    Classes(std::ops::Range<usize>),
}

/// The data cut into chunks once, shared by every worker.
struct Chunks<T: Element> {
    parts: Vec<(Tensor<T>, ChunkTarget<T>, f64)>,
}

impl<T: Element> Chunks<T> {
    fn new(problem: &LossProblem<'_, T>) -> Result<Self> {
        let x = problem.inputs;
        if x.rank() != 2 {
            return Err(VizError::invalid(format!(
                "inputs must be [batch, features], got shape {:?}",
                x.dims()
            )));
        }
        let (n, w) = (x.dims()[0], x.dims()[1]);
        if n == 0 {
            return Err(VizError::invalid("the data set is empty"));
        }
        match problem.target {
            Target::Values(t) if t.dims().first() != Some(&n) => {
                return Err(VizError::invalid(format!(
                    "targets have shape {:?} but there are {n} examples",
                    t.dims()
                )))
            }
            Target::Classes(c) if c.len() != n => {
                return Err(VizError::invalid(format!(
                    "{} class labels for {n} examples",
                    c.len()
                )))
            }
            _ => {}
        }
        let rows = chunk_rows(problem.model, n);
        let mut parts = Vec::new();
        let mut r0 = 0;
        while r0 < n {
            let r1 = (r0 + rows).min(n);
            let xs = Tensor::from_slice(&x.data()[r0 * w..r1 * w], &[r1 - r0, w])?;
            let ts = match problem.target {
                Target::Values(t) => {
                    let tw = t.numel() / n;
                    let mut dims = t.dims().to_vec();
                    dims[0] = r1 - r0;
                    ChunkTarget::Values(Tensor::from_slice(&t.data()[r0 * tw..r1 * tw], &dims)?)
                }
                Target::Classes(_) => ChunkTarget::Classes(r0..r1),
            };
            // Every loss is a mean over examples, so the full-data loss is the chunk losses
            // weighted by their share of the examples.
            parts.push((xs, ts, (r1 - r0) as f64 / n as f64));
            r0 = r1;
        }
        Ok(Chunks { parts })
    }
}

/// One worker's scratch: parameter tensors overwritten in place for every point.
struct Evaluator<'p, 'a, T: Element> {
    problem: &'p LossProblem<'a, T>,
    plane: &'p Plane,
    chunks: &'p Chunks<T>,
    params: Vec<Tensor<T>>,
}

impl<'p, 'a, T: Element> Evaluator<'p, 'a, T> {
    fn new(
        problem: &'p LossProblem<'a, T>,
        plane: &'p Plane,
        chunks: &'p Chunks<T>,
    ) -> Result<Self> {
        let params = problem
            .model
            .parameters()
            .iter()
            .map(|p| Tensor::zeros(p.dims()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Evaluator {
            problem,
            plane,
            chunks,
            params,
        })
    }

    fn loss(&mut self, alpha: f64, beta: f64) -> Result<f64> {
        let pl = self.plane;
        let mut offset = 0;
        for p in &mut self.params {
            // Nothing else holds these tensors once the previous forward pass is dropped, so
            // this writes in place without copying.
            let data = p.data_mut();
            let n = data.len();
            let (c, u, v) = (
                &pl.center[offset..offset + n],
                &pl.d1[offset..offset + n],
                &pl.d2[offset..offset + n],
            );
            for (k, x) in data.iter_mut().enumerate() {
                *x = T::from_f64(c[k] + alpha * u[k] + beta * v[k]);
            }
            offset += n;
        }
        let pb = self.problem;
        let params = &self.params;
        let mut total = 0.0;
        for (xs, ts, weight) in &self.chunks.parts {
            let value = no_grad(|| {
                let out = pb.model.forward_with(
                    params,
                    xs,
                    Mode::Eval,
                    &mut ForwardCtx::without_rng(),
                )?;
                let target = match (ts, pb.target) {
                    (ChunkTarget::Values(t), _) => Target::Values(t),
                    (ChunkTarget::Classes(r), Target::Classes(c)) => Target::Classes(&c[r.clone()]),
                    (ChunkTarget::Classes(_), t) => t,
                };
                pb.loss.compute(&out, target)?.item()
            })?;
            total += weight * Element::to_f64(value);
        }
        Ok(total)
    }
}

fn check_plane<T: Element>(problem: &LossProblem<'_, T>, plane: &Plane) -> Result<()> {
    let n = problem.model.num_parameters();
    if plane.center.len() != n || plane.d1.len() != n || plane.d2.len() != n {
        return Err(VizError::invalid(format!(
            "the plane lives in {} parameters (directions {} and {}), the model has {n}",
            plane.center.len(),
            plane.d1.len(),
            plane.d2.len()
        )));
    }
    Ok(())
}

/// The full-data loss at `θ(α, β)` of `plane`, evaluated exactly as [`loss_surface`] does.
pub fn loss_at<T: Element>(
    problem: &LossProblem<'_, T>,
    plane: &Plane,
    alpha: f64,
    beta: f64,
) -> Result<f64> {
    check_plane(problem, plane)?;
    let chunks = Chunks::new(problem)?;
    Evaluator::new(problem, plane, &chunks)?.loss(alpha, beta)
}

/// The loss on an `nx × ny` grid over `window` of the plane's coordinates (the lectures use
/// 51 × 51; 101 × 101 is fine).
///
/// Grid rows are computed in parallel; each worker builds its own parameter tensors once and
/// overwrites them for every point, and evaluates without recording a graph in
/// [`Mode::Eval`] (batch norm uses its running statistics, dropout is off). Non-finite
/// losses (a diverging slice) are kept as they are.
pub fn loss_surface<T: Element>(
    problem: &LossProblem<'_, T>,
    plane: &Plane,
    window: &Window,
    nx: usize,
    ny: usize,
) -> Result<Grid> {
    check_plane(problem, plane)?;
    let mut grid = Grid::empty(window, nx, ny)?.with_labels(&plane.x_label, &plane.y_label);
    let chunks = Chunks::new(problem)?;
    let xs = grid.x.clone();
    let ys = grid.y.clone();
    grid.values
        .par_chunks_mut(nx)
        .zip(ys.par_iter())
        .try_for_each_init(
            || Evaluator::new(problem, plane, &chunks),
            |ev, (row, &beta)| -> Result<()> {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => return Err(VizError::invalid(e.to_string())),
                };
                for (v, &alpha) in row.iter_mut().zip(&xs) {
                    *v = ev.loss(alpha, beta)?;
                }
                Ok(())
            },
        )?;
    Ok(grid)
}
