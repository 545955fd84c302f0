//! # trainscope-report
//!
//! Seeing a run: its figures ([`plot_run`]), the loss surface of a trained model around its
//! weights ([`model_surface`]; two named parameters, two filter-normalized random directions,
//! or the Hessian's extreme eigenvectors, with the recorded training path projected on top),
//! TensorBoard export of its metrics ([`export_tensorboard`], [`LiveExport`] while it trains),
//! optimizer playgrounds from a TOML file ([`PlaygroundFile`]), one self-contained HTML page
//! ([`write_report`]; for the output directory of `guide`, `critical` or `batch-size`, the
//! experiment's page, [`write_experiment_report`]), and several runs on one page
//! ([`write_compare`]).
//!
//! ```no_run
//! use std::path::Path;
//! let page = trainscope_report::write_report(Path::new("runs/sinc"), None)?;
//! println!("open {}", page.display());
//! # Ok::<(), trainscope_report::ReportError>(())
//! ```

#![warn(missing_docs)]

pub mod compare;
mod error;
pub mod experiment;
pub mod figures;
pub mod html;
pub mod playground;
pub mod run;
mod sections;
pub mod surface;
pub mod tensorboard;

pub use compare::{compare, find_runs, write_compare, Comparison, Difference, RunRow};
pub use error::{ReportError, Result};
pub use experiment::{render_experiment, write_experiment_report, Experiment};
pub use figures::{plot_run, FigureFile, Format};
pub use html::{render_report, run_findings, write_report};
pub use playground::{default_start, parse_spec, parse_surface, PlaygroundFile, RunEntry};
pub use run::{
    extras, parse_metrics_jsonl, read_metrics_jsonl, read_trajectory, Analysis, Run, SetAside,
};
pub use surface::{
    analytic_surface, model_surface, Directions, ModelSurface, SurfaceLowest, SurfaceRecord,
    TrainedProblem,
};
pub use tensorboard::{export_tensorboard, LiveExport, EVENT_FILE_PREFIX};
