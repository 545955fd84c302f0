//! # trainscope-viz
//!
//! The pictures the lectures teach with, as library functions that return serializable
//! structs and write files:
//!
//! - [`analytic`]: surfaces `f(x, y)` with exact gradients — the lectures' elongated bowl,
//!   Rosenbrock, the saddle `x² − y²`, the monkey saddle `x³ − 3xy²`;
//! - [`playground`]: any optimizer of `trainscope-optim` (with an optional schedule) run on
//!   them, paths with loss and gradient norm per step, and the lectures' error-surface story
//!   ([`lecture_story`]) replayed and measured: fixed-η GD oscillating (η = 1e-2) or stalling
//!   (η = 1e-7), Adagrad bursting out after reaching the minimum, Adagrad with decay arriving;
//! - [`presets`]: the lectures' other optimization claims replayed and checked the same way —
//!   momentum rolling past a local minimum and a saddle point, MSE on softmax stuck on a
//!   plateau where cross-entropy is not, standardized features rounding the error surface,
//!   warm-up taming Adam's first steps;
//! - [`lecture_networks`]: the claims that need a network, measured on small MLPs trained
//!   full-batch — standardized inputs and batch normalization in an MLP, warm-up on a deep
//!   network;
//! - [`model_surface`]: a model's full-data loss on a 2-D slice of parameter space — two named
//!   parameters, two filter-normalized random directions, or two given directions (Hessian
//!   eigenvectors) — computed in parallel, saved as CSV, with trajectories projected onto it;
//! - [`plot`]: SVG or PNG figures (contours with paths, loss curves, loss beside gradient
//!   norm, learning rate, Hessian spectrum by sign, minimum ratio by verdict, grouped bars,
//!   bias–complexity), every axis from [`ticks`] (round ticks, one log-scale rule);
//! - [`tensorboard`]: a run's scalars as a TensorBoard event file, and a checking reader.
//!
//! ```no_run
//! use trainscope_viz::plot::{contour_plot, ContourOptions, PathSeries};
//! use trainscope_viz::lecture_story;
//!
//! let story = lecture_story()?;
//! for (claim, held) in story.findings.claims() {
//!     println!("[{}] {claim}", if held { "holds" } else { "fails" });
//! }
//! let s = story.surface;
//! let grid = s.grid(&s.default_window(), 101, 101)?;
//! grid.write_csv("bowl.csv")?;
//! let paths: Vec<PathSeries> = story
//!     .trajectories
//!     .iter()
//!     .map(|t| PathSeries { label: &t.label, points: &t.points })
//!     .collect();
//! let opts = ContourOptions { log_levels: true, marks: s.marks(), ..Default::default() };
//! contour_plot(&grid, &paths, &opts, "lecture.png")?;
//! # Ok::<(), trainscope_viz::VizError>(())
//! ```
//!
//! A model's surface:
//!
//! ```
//! use trainscope_core::Tensor;
//! use trainscope_nn::{Loss, ModelSpec, Sequential, Target};
//! use trainscope_viz::{loss_surface, parameter_pair_plane, LossProblem, Window};
//!
//! // y = b + w x on data from w = 2, b = 1: the lectures' (w, b) error surface.
//! let x = Tensor::<f64>::from_vec(vec![-1.0, 0.0, 1.0], &[3, 1])?;
//! let y = Tensor::from_vec(vec![-1.0, 1.0, 3.0], &[3, 1])?;
//! let model = Sequential::<f64>::from_seed(ModelSpec::linear(1, 1), 0)?;
//! let plane = parameter_pair_plane(&model, "0.weight[0]", "0.bias[0]")?;
//! let problem = LossProblem { model: &model, inputs: &x, target: Target::Values(&y), loss: Loss::Mse };
//! let grid = loss_surface(&problem, &plane, &Window::new(0.0, 4.0, -1.0, 3.0), 5, 5)?;
//! let (i, j, loss) = grid.argmin().unwrap();
//! assert_eq!((grid.x[i], grid.y[j], loss), (2.0, 1.0, 0.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod analytic;
mod error;
pub mod grid;
pub mod lecture_networks;
pub mod model_surface;
pub mod playground;
pub mod plot;
pub mod presets;
pub mod tensorboard;
pub mod ticks;

pub use analytic::{feature_data, two_class_data, AnalyticSurface, BOWL_COEFFICIENTS};
pub use error::{Result, VizError};
pub use grid::{Grid, Window};
pub use model_surface::{
    direction_plane, filter_normalize, filter_normalized_direction, flat_parameters,
    function_surface, loss_at, loss_surface, parameter_index, parameter_pair_plane, random_plane,
    LossProblem, Plane,
};
pub use playground::{
    distance, find_burst, lecture_runs, lecture_story, oscillation, run_playground,
    run_playgrounds, Burst, LectureFindings, LectureStory, Oscillation, PlaygroundRun, Trajectory,
};
pub use tensorboard::{
    read_event_file, write_tensorboard, EpochScalars, EventFile, EventWriter, ScalarEvent,
};

/// Writes any serializable result (a [`LectureStory`], a [`Grid`], a list of
/// [`Trajectory`]s) as pretty-printed JSON.
pub fn write_json<T: serde::Serialize>(value: &T, path: impl AsRef<std::path::Path>) -> Result<()> {
    let path = path.as_ref();
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| VizError::invalid(format!("cannot serialize to JSON: {e}")))?;
    std::fs::write(path, text).map_err(|e| VizError::io(path, e))
}
