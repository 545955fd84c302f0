//! Loss surfaces of trained models and of the analytic functions, ready to save and draw.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trainscope_core::Tensor;
use trainscope_data::{Dataset, Targets as DataTargets};
use trainscope_diag::{analyse, AnalysisOptions, EvalOptions, LossFunction, Targets};
use trainscope_nn::{Checkpoint, Loss, Sequential, Target};
use trainscope_record::Stamp;
use trainscope_train::{files, load_run_data, Config, Import, ModelMeta};
use trainscope_viz::{
    direction_plane, flat_parameters, function_surface, loss_surface, parameter_pair_plane,
    random_plane, AnalyticSurface, Grid, LossProblem, Plane, Window,
};

use crate::error::{ReportError, Result};
use crate::run::read_trajectory;

/// A trained model with the data its loss is measured on, as training saw it (features and,
/// if configured, the target standardized).
pub struct TrainedProblem {
    /// The model, in f64 whatever precision it trained in.
    pub model: Sequential<f64>,
    /// Features, row-major `rows × inputs`.
    pub features: Vec<f64>,
    /// Number of rows.
    pub rows: usize,
    /// Targets in the form the loss takes.
    pub targets: Targets,
    /// The training loss.
    pub loss: Loss,
    /// The run directory, when the model came from one.
    pub run_dir: Option<PathBuf>,
    /// The checkpoint read.
    pub checkpoint: PathBuf,
}

impl TrainedProblem {
    /// Reads a run directory (its model, `files::checkpoint_of`) or a checkpoint file, and the data:
    /// `data` (a labelled CSV file with the model's columns) or else the run's training rows
    /// as its `config.toml` names them.
    pub fn load(run_or_checkpoint: &Path, data: Option<&Path>) -> Result<TrainedProblem> {
        TrainedProblem::load_with(run_or_checkpoint, data, None)
    }

    /// [`TrainedProblem::load`], or with `import` a plain state dict read with that model
    /// description and schema: its rows are then `data`, or the training rows of the
    /// description when it is a whole configuration.
    pub fn load_with(
        run_or_checkpoint: &Path,
        data: Option<&Path>,
        import: Option<&Import>,
    ) -> Result<TrainedProblem> {
        if let Some(import) = import {
            if !run_or_checkpoint.is_file() {
                return Err(ReportError::invalid(format!(
                    "{}: no such state dict file",
                    run_or_checkpoint.display()
                )));
            }
            let config = Some(import.model_spec.clone()).filter(|_| import.names_training_data());
            if data.is_none() && config.is_none() {
                return Err(ReportError::invalid(format!(
                    "{}: give the rows with --data FILE (or a configuration naming data.train \
                     as the model description)",
                    run_or_checkpoint.display()
                )));
            }
            let bytes = import.checkpoint(run_or_checkpoint, data, true)?;
            let ckpt = Sequential::<f64>::parse(run_or_checkpoint, &bytes)?;
            let dataset = match (data, config) {
                (Some(file), _) => ModelMeta::from_metadata(run_or_checkpoint, &ckpt.metadata)?
                    .schema
                    .load(file)?,
                (None, Some(config)) => load_run_data(&Config::load(&config, &[])?)?.train,
                (None, None) => unreachable!("refused above"),
            };
            return TrainedProblem::of(run_or_checkpoint.to_path_buf(), None, ckpt, dataset);
        }
        let (checkpoint, run_dir) = if run_or_checkpoint.is_dir() {
            (
                files::checkpoint_of(run_or_checkpoint),
                Some(run_or_checkpoint.to_path_buf()),
            )
        } else {
            let parent = run_or_checkpoint
                .parent()
                .filter(|p| p.join(files::CONFIG).is_file())
                .map(Path::to_path_buf);
            (run_or_checkpoint.to_path_buf(), parent)
        };
        if !checkpoint.is_file() {
            return Err(ReportError::invalid(format!(
                "{} does not exist (give a run directory or a checkpoint file)",
                checkpoint.display()
            )));
        }
        let ckpt = Sequential::<f64>::load(&checkpoint)?;
        let meta = ModelMeta::from_metadata(&checkpoint, &ckpt.metadata)?;
        let dataset = match (data, &run_dir) {
            (Some(file), _) => meta.schema.load(file)?,
            (None, Some(dir)) => {
                let config = Config::load(&dir.join(files::CONFIG), &[])?;
                load_run_data(&config)?.train
            }
            (None, None) => {
                return Err(ReportError::invalid(format!(
                    "{} is not in a run directory; give the data with --data FILE",
                    checkpoint.display()
                )))
            }
        };
        TrainedProblem::of(checkpoint, run_dir, ckpt, dataset)
    }

    /// The problem of a loaded checkpoint on `dataset` (read with its schema).
    fn of(
        checkpoint: PathBuf,
        run_dir: Option<PathBuf>,
        ckpt: Checkpoint<f64>,
        dataset: Dataset,
    ) -> Result<TrainedProblem> {
        let meta = ModelMeta::from_metadata(&checkpoint, &ckpt.metadata)?;
        meta.check_scorable(&checkpoint, ckpt.model.output_size())?;
        let mut features = dataset.features().to_vec();
        if let Some(s) = &meta.feature_standardizer {
            s.transform(&mut features)?;
        }
        let rows = dataset.n_rows();
        let loss = meta.loss;
        let targets = match dataset.targets() {
            DataTargets::Regression(y) => {
                let mut y = y.clone();
                if let Some(s) = &meta.target_standardizer {
                    s.transform(&mut y)?;
                }
                Targets::Values {
                    data: y,
                    width: dataset.n_targets(),
                }
            }
            DataTargets::Classes(c) if loss.takes_classes() => {
                Targets::Classes(c.iter().map(|&k| k as u32).collect())
            }
            DataTargets::Classes(c) => Targets::Values {
                data: c.iter().map(|&k| k as f64).collect(),
                width: 1,
            },
        };
        Ok(TrainedProblem {
            model: ckpt.model,
            features,
            rows,
            targets,
            loss,
            run_dir,
            checkpoint,
        })
    }
}

/// How to choose the slice through parameter space.
#[derive(Debug, Clone, PartialEq)]
pub enum Directions {
    /// Two named scalar parameters, e.g. `0.weight[0]` and `0.bias[0]`.
    Parameters(String, String),
    /// Two random filter-normalized directions from this seed.
    Random(u64),
    /// The Hessian eigenvectors of the largest and the most negative (else the smallest)
    /// eigenvalue.
    Hessian,
}

/// What `surface RUN` saves beside its figures as `surface-<slice>.json`, and the report reads
/// back: the slice, the grid and the lowest point on it, stamped with the checkpoint it was cut
/// through. (The fields after `stamp` are in name order, as the file has always had them.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceRecord {
    /// The checkpoint the slice was cut through and the rows the loss is over (always
    /// written; absent in files written before results were stamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
    /// The files written beside it (CSV, SVG, PNG), by name, in the run directory.
    pub files: Vec<Option<String>>,
    /// Grid points per axis.
    pub grid: usize,
    /// The lowest loss on the grid and where it is.
    pub lowest: SurfaceLowest,
    /// Half-width of the window around the trained weights (before it grew to hold the path).
    pub radius: f64,
    /// How the slice was chosen, in words.
    pub slice: String,
    /// Where the trained weights sit in the slice.
    pub trained: [f64; 2],
    /// Epochs of the recorded training path projected onto the slice, if any.
    pub trajectory_epochs: Option<usize>,
}

/// The lowest point of a surface's grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceLowest {
    /// The loss there (`null` when the grid holds no finite value).
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub loss: f64,
    /// Its first coordinate.
    pub x: f64,
    /// Its second coordinate.
    pub y: f64,
}

/// A model surface computed.
#[derive(Debug, Clone)]
pub struct ModelSurface {
    /// The loss on the grid.
    pub grid: Grid,
    /// The slice.
    pub plane: Plane,
    /// The recorded training path projected onto the slice, if the run recorded one.
    pub trajectory: Option<Vec<[f64; 2]>>,
    /// Where the trained weights sit in the slice.
    pub trained: [f64; 2],
    /// How the slice was chosen, in words (with the eigenvalues for Hessian slices).
    pub description: String,
}

/// The loss of `p` on a `grid × grid` slice of half-width `radius` around the trained
/// weights; the window grows to hold the recorded trajectory.
pub fn model_surface(
    p: &TrainedProblem,
    directions: &Directions,
    grid: usize,
    radius: f64,
) -> Result<ModelSurface> {
    if !(radius.is_finite() && radius > 0.0) {
        return Err(ReportError::invalid(format!(
            "--radius must be a positive number, got {radius}"
        )));
    }
    if !(2..=1001).contains(&grid) {
        return Err(ReportError::invalid(format!(
            "--grid must be between 2 and 1001, got {grid}"
        )));
    }
    let model = &p.model;
    let (plane, description) = match directions {
        Directions::Parameters(a, b) => (
            parameter_pair_plane(model, a, b)?,
            format!("the parameters {a} and {b}, the others at their trained values"),
        ),
        Directions::Random(seed) => (
            random_plane(model, *seed)?,
            format!("two random filter-normalized directions (seed {seed})"),
        ),
        Directions::Hessian => hessian_plane(p)?,
    };
    let trajectory = match &p.run_dir {
        Some(dir) => match read_trajectory(dir)? {
            Some(points) if !points.is_empty() => {
                let thetas: Vec<&[f64]> = points.iter().map(|(_, t)| t.as_slice()).collect();
                // A slice whose directions are parallel (filter normalization zeroes biases, so a
                // one-weight model gets two copies of one axis) cannot show a path.
                plane.project_trajectory(&thetas).ok()
            }
            _ => None,
        },
        None => None,
    };
    let mut window = plane.window(radius);
    if let Some(t) = &trajectory {
        window = cover(window, t);
    }
    let x = Tensor::<f64>::from_vec(p.features.clone(), &[p.rows, model.input_size()])?;
    let (values, classes);
    let target = match &p.targets {
        Targets::Values { data, width } => {
            values = Tensor::<f64>::from_vec(data.clone(), &[p.rows, *width])?;
            Target::Values(&values)
        }
        Targets::Classes(c) => {
            classes = c.clone();
            Target::Classes(&classes)
        }
    };
    let problem = LossProblem {
        model,
        inputs: &x,
        target,
        loss: p.loss,
    };
    let grid = loss_surface(&problem, &plane, &window, grid, grid)?;
    Ok(ModelSurface {
        grid,
        trained: plane.origin,
        plane,
        trajectory,
        description,
    })
}

/// The window grown (10 % margin) to hold every finite point.
fn cover(w: Window, points: &[[f64; 2]]) -> Window {
    let (mut x0, mut x1, mut y0, mut y1) = (w.x_min, w.x_max, w.y_min, w.y_max);
    for p in points
        .iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
    {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let (mx, my) = (0.05 * (x1 - x0), 0.05 * (y1 - y0));
    if (x0, x1, y0, y1) == (w.x_min, w.x_max, w.y_min, w.y_max) {
        return w;
    }
    Window::new(x0 - mx, x1 + mx, y0 - my, y1 + my)
}

/// The slice along the eigenvectors of the largest and the most negative eigenvalue of the
/// true Hessian at the trained weights: along them a saddle shows as a saddle.
fn hessian_plane(p: &TrainedProblem) -> Result<(Plane, String)> {
    let f = LossFunction::from_model(
        p.model.clone(),
        &p.features,
        p.targets.clone(),
        p.loss,
        EvalOptions::default(),
    )?;
    let theta = flat_parameters(&p.model);
    let report = analyse(&f, &theta, &AnalysisOptions::default())?;
    let (top, top_vec) = report
        .largest
        .iter()
        .zip(&report.largest_vectors)
        .max_by(|a, b| a.0.value.total_cmp(&b.0.value))
        .map(|(r, v)| (r.value, v.clone()))
        .ok_or_else(|| ReportError::invalid("the Hessian analysis found no largest eigenvalue"))?;
    let (low, low_vec, negative) = match report.most_negative() {
        Some(e) => (e.value, e.vector, true),
        None => {
            let (r, v) = report
                .smallest
                .first()
                .zip(report.smallest_vectors.first())
                .ok_or_else(|| {
                    ReportError::invalid("the Hessian analysis found no smallest eigenvalue")
                })?;
            (r.value, v.clone(), false)
        }
    };
    let x_label = format!("α (eigenvector of λ_max = {top:.4e})");
    let y_label = if negative {
        format!("β (eigenvector of λ_min = {low:.4e}, negative)")
    } else {
        format!("β (eigenvector of λ_min = {low:.4e}; no negative eigenvalue)")
    };
    let plane = direction_plane(&p.model, top_vec, low_vec, x_label, y_label)?;
    let description = format!(
        "Hessian eigenvectors of the largest eigenvalue {top:.4e} and the {} eigenvalue {low:.4e} ({})",
        if negative { "most negative" } else { "smallest" },
        report.verdict.describe()
    );
    Ok((plane, description))
}

/// An analytic surface on an `n × n` grid over `window`, rows in parallel.
pub fn analytic_surface(s: AnalyticSurface, window: &Window, n: usize) -> Result<Grid> {
    if !(2..=2001).contains(&n) {
        return Err(ReportError::invalid(format!(
            "--grid must be between 2 and 2001, got {n}"
        )));
    }
    window.validate()?;
    let plane = Plane::new(vec![0.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0], "x", "y")?;
    Ok(function_surface(
        |p| s.value(p[0], p[1]),
        &plane,
        window,
        n,
        n,
    )?)
}
