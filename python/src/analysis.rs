//! The Hessian analyses on numpy data: `diagnose` (the same analysis and verdicts as
//! `trainscope diagnose`), the dense Hessian, Hessian-vector products, the gradient and 2-D
//! loss surfaces. Each releases the GIL while it computes.

use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use serde::Serialize;
use trainscope_diag::{
    analyse, escape_from, AnalysisMode, AnalysisOptions, EscapeOptions, EscapeReport, EvalOptions,
    HessianReport, LossFunction, Verdict,
};
use trainscope_nn::Mode;
use trainscope_report::{model_surface, Directions, TrainedProblem};

use crate::arrays::{loss_data, LossData};
use crate::error;
use crate::model::Model;

/// Most eigenvalues at each end an iterative analysis may be asked for (as `diagnose --k`).
const MAX_K: usize = 1000;

fn loss_function(
    model: &Model,
    data: LossData,
    train_mode: bool,
) -> PyResult<LossFunction<'static>> {
    let mut opts = EvalOptions::default();
    if train_mode {
        // Batch statistics over the whole data, as one forward pass of a PyTorch module in
        // training mode computes them.
        opts.mode = Mode::Train;
        opts.batch_size = data.rows;
    }
    LossFunction::from_model(
        model.model.clone(),
        &data.features,
        data.targets,
        data.loss,
        opts,
    )
    .map_err(error)
}

/// The loss of `model` on `(x, y)` and the model's own weights, where the Hessian, HVP and
/// gradient are taken.
fn at_weights(
    model: &Model,
    x: &PyReadonlyArrayDyn<'_, f64>,
    y: &PyReadonlyArrayDyn<'_, f64>,
    loss: Option<&str>,
    train_mode: bool,
) -> PyResult<(LossFunction<'static>, Vec<f64>)> {
    let f = loss_function(model, loss_data(model, x, y, loss)?, train_mode)?;
    let theta = f.initial_parameters();
    Ok((f, theta))
}

fn vectors<'py>(py: Python<'py>, vs: &[Vec<f64>], n: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let flat: Vec<f64> = vs.iter().flatten().copied().collect();
    Ok(Array2::from_shape_vec((vs.len(), n), flat)
        .map_err(error)?
        .into_pyarray(py))
}

/// What `diagnose` returns before the Python side turns lists into arrays: the fields of
/// `trainscope diagnose --json` that do not depend on a run directory.
#[derive(Serialize)]
struct Diagnosis<'a> {
    loss_name: &'static str,
    #[serde(flatten)]
    hessian: &'a HessianReport,
    escape: Option<&'a EscapeReport>,
    escape_note: Option<String>,
}

/// The Hessian analysis of the loss of `model` on `(x, y)` at its current weights: the JSON of
/// the report, the eigenvectors of the smallest and largest eigenvalues found (rows, in
/// `state_dict` order), and at a saddle the parameters after the escape step.
#[pyfunction]
#[pyo3(signature = (model, x, y, loss = None, mode = "auto", k = 20, zero_tol = None, grad_tol = None, min_ratio = None, dense_limit = None, train_mode = false, seed = 0))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn diagnose<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    loss: Option<&str>,
    mode: &str,
    k: usize,
    zero_tol: Option<f64>,
    grad_tol: Option<f64>,
    min_ratio: Option<f64>,
    dense_limit: Option<usize>,
    train_mode: bool,
    seed: u64,
) -> PyResult<(
    String,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Option<Bound<'py, PyArray1<f64>>>,
)> {
    let mut opts = AnalysisOptions {
        mode: match mode {
            "auto" => AnalysisMode::Auto,
            "dense" => AnalysisMode::Dense,
            "iterative" => AnalysisMode::Iterative,
            other => {
                return Err(error(format!(
                    "mode \"{other}\": expected \"auto\", \"dense\" or \"iterative\""
                )))
            }
        },
        seed,
        ..Default::default()
    };
    if k == 0 || k > MAX_K {
        return Err(error(format!(
            "k: {k} eigenvalues at each end; between 1 and {MAX_K}"
        )));
    }
    opts.lanczos.k_largest = k;
    opts.lanczos.k_smallest = k;
    if let Some(v) = zero_tol {
        opts.thresholds.zero_tol = v;
    }
    if let Some(v) = grad_tol {
        opts.thresholds.grad_tol = v;
    }
    if let Some(v) = min_ratio {
        opts.thresholds.min_ratio = v;
    }
    if let Some(v) = dense_limit {
        opts.dense_max_params = v;
    }
    let data = loss_data(model, &x, &y, loss)?;
    let loss_name = data.loss.name();
    let f = loss_function(model, data, train_mode)?;
    let theta = f.initial_parameters();
    let n = theta.len();
    let iterative = match opts.mode {
        AnalysisMode::Iterative => true,
        AnalysisMode::Auto => n > opts.dense_max_params,
        AnalysisMode::Dense => false,
    };
    if iterative && k > n {
        return Err(error(format!(
            "k: {k} eigenvalues at each end, but the model has only {n} parameters"
        )));
    }
    let (report, escape) = py
        .detach(|| -> trainscope_diag::Result<_> {
            let report = analyse(&f, &theta, &opts)?;
            let saddle_like =
                matches!(report.verdict, Verdict::SaddlePoint | Verdict::LocalMaximum);
            let escape = if saddle_like && report.most_negative().is_some() {
                Some(escape_from(&f, &theta, &report, &EscapeOptions::default())?)
            } else {
                None
            };
            Ok((report, escape))
        })
        .map_err(error)?;
    let escape_note = match &escape {
        None => Some(format!(
            "the point is {}, not a saddle: no escape direction",
            report.verdict.describe()
        )),
        Some(e) if !e.lowered => {
            Some("no step along the escape direction lowered the loss".to_string())
        }
        Some(_) => None,
    };
    let json = serde_json::to_string(&Diagnosis {
        loss_name,
        hessian: &report,
        escape: escape.as_ref(),
        escape_note,
    })
    .map_err(error)?;
    let smallest = vectors(py, &report.smallest_vectors, n)?;
    let largest = vectors(py, &report.largest_vectors, n)?;
    let escaped = escape
        .filter(|e| e.lowered)
        .map(|e| Array1::from(e.parameters).into_pyarray(py));
    Ok((json, smallest, largest, escaped))
}

/// The extreme eigenvalues of the Hessian of the loss at the model's weights by Lanczos alone
/// (one Krylov space for both ends, full re-orthogonalization; no trace or density): the
/// `k` smallest and `k` largest Ritz values with their residuals `‖H x − θ x‖`, the eigenvectors
/// (rows), the Hessian-vector products used, and whether every pair met
/// `residual ≤ tol · max|θ|`.
#[pyfunction]
#[pyo3(signature = (model, x, y, loss = None, k = 20, tol = 1e-8, max_steps = 400, train_mode = false, seed = 0))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn eigenvalues<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    loss: Option<&str>,
    k: usize,
    tol: f64,
    max_steps: usize,
    train_mode: bool,
    seed: u64,
) -> PyResult<(
    [Bound<'py, PyArray1<f64>>; 4],
    [Bound<'py, PyArray2<f64>>; 2],
    usize,
    bool,
)> {
    let (f, theta) = at_weights(model, &x, &y, loss, train_mode)?;
    let n = theta.len();
    if k == 0 || k > MAX_K.min(n) {
        return Err(error(format!(
            "k: {k} eigenvalues at each end; between 1 and {}",
            MAX_K.min(n)
        )));
    }
    let opts = trainscope_diag::LanczosOptions {
        k_largest: k,
        k_smallest: k,
        max_steps,
        tol,
        seed,
    };
    let r = py
        .detach(|| -> trainscope_diag::Result<_> {
            let h = f.hessian_at(&theta)?;
            trainscope_diag::lanczos_extremes(&h, &opts)
        })
        .map_err(error)?;
    let column = |v: Vec<f64>| Array1::from(v).into_pyarray(py);
    let values = [
        column(r.smallest.iter().map(|p| p.value).collect()),
        column(r.largest.iter().map(|p| p.value).collect()),
        column(r.smallest.iter().map(|p| p.residual).collect()),
        column(r.largest.iter().map(|p| p.residual).collect()),
    ];
    let vecs = [
        vectors(py, &r.smallest_vectors, n)?,
        vectors(py, &r.largest_vectors, n)?,
    ];
    Ok((values, vecs, r.steps, r.converged))
}

/// The dense Hessian (`P × P`) of the loss at the model's weights.
#[pyfunction]
#[pyo3(signature = (model, x, y, loss = None, train_mode = false))]
pub fn hessian<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    loss: Option<&str>,
    train_mode: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (f, theta) = at_weights(model, &x, &y, loss, train_mode)?;
    let n = theta.len();
    let limit = AnalysisOptions::default().dense_max_params;
    if n > limit {
        return Err(error(format!(
            "the dense Hessian of {n} parameters is above the limit of {limit} \
             ({n}² values); use diagnose(mode=\"iterative\") or hvp"
        )));
    }
    let h = py.detach(|| f.hessian(&theta)).map_err(error)?;
    Ok(Array2::from_shape_vec((n, n), h)
        .map_err(error)?
        .into_pyarray(py))
}

/// The Hessian-vector product `H v` of the loss at the model's weights, exact (a second
/// backward pass, no finite differences).
#[pyfunction]
#[pyo3(signature = (model, x, y, v, loss = None, train_mode = false))]
pub fn hvp<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    v: PyReadonlyArrayDyn<'py, f64>,
    loss: Option<&str>,
    train_mode: bool,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (f, theta) = at_weights(model, &x, &y, loss, train_mode)?;
    let v: Vec<f64> = v.as_array().iter().copied().collect();
    if v.len() != theta.len() {
        return Err(error(format!(
            "v: {} values for a model with {} parameters",
            v.len(),
            theta.len()
        )));
    }
    let hv = py.detach(|| f.hessian_at(&theta)?.hvp(&v)).map_err(error)?;
    Ok(Array1::from(hv).into_pyarray(py))
}

/// The loss and its gradient (flat, `state_dict` order) at the model's weights.
#[pyfunction]
#[pyo3(signature = (model, x, y, loss = None, train_mode = false))]
pub fn gradient<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    loss: Option<&str>,
    train_mode: bool,
) -> PyResult<(f64, Bound<'py, PyArray1<f64>>)> {
    let (f, theta) = at_weights(model, &x, &y, loss, train_mode)?;
    let g = py.detach(|| f.gradient(&theta)).map_err(error)?;
    Ok((g.loss, Array1::from(g.flat).into_pyarray(py)))
}

/// The loss on a `grid × grid` slice of parameter space through the model's weights: along two
/// random filter-normalized directions (`directions="random"`), the Hessian eigenvectors of the
/// largest and most negative eigenvalue (`"hessian"`), or two named parameters
/// (`("0.weight[0]", "0.bias[0]")`). Returns the axes' coordinates, the loss grid (rows along
/// the second axis), the axis labels and where the model sits.
#[pyfunction]
#[pyo3(signature = (model, x, y, loss = None, directions = "random", parameters = None, grid = 41, radius = 1.0, seed = 0))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn loss_surface<'py>(
    py: Python<'py>,
    model: &Model,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    loss: Option<&str>,
    directions: &str,
    parameters: Option<(String, String)>,
    grid: usize,
    radius: f64,
    seed: u64,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f64>>,
    (String, String),
    (f64, f64),
    String,
)> {
    let directions = match (directions, parameters) {
        (_, Some((a, b))) => Directions::Parameters(a, b),
        ("random", None) => Directions::Random(seed),
        ("hessian", None) => Directions::Hessian,
        (other, None) => {
            return Err(error(format!(
                "directions \"{other}\": expected \"random\" or \"hessian\" \
                 (or give parameters=(a, b))"
            )))
        }
    };
    let data = loss_data(model, &x, &y, loss)?;
    let problem = TrainedProblem {
        model: model.model.clone(),
        features: data.features,
        rows: data.rows,
        targets: data.targets,
        loss: data.loss,
        run_dir: None,
        checkpoint: model.source().into(),
    };
    let s = py
        .detach(|| model_surface(&problem, &directions, grid, radius))
        .map_err(error)?;
    let (nx, ny) = (s.grid.nx(), s.grid.ny());
    let values = Array2::from_shape_vec((ny, nx), s.grid.values.clone()).map_err(error)?;
    Ok((
        Array1::from(s.grid.x.clone()).into_pyarray(py),
        Array1::from(s.grid.y.clone()).into_pyarray(py),
        values.into_pyarray(py),
        (s.plane.x_label.clone(), s.plane.y_label.clone()),
        (s.trained[0], s.trained[1]),
        s.description,
    ))
}
