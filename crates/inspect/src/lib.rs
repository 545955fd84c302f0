//! # trainscope-inspect
//!
//! The lectures' diagnostics applied to real runs. The pieces of `trainscope-diag` (exact
//! Hessian spectra, verdicts, saddle escape, stuck detection) work on a loss function; this
//! crate builds that function from what training leaves behind — a checkpoint with its
//! metadata and the training data its run directory names — and runs the course's experiments
//! end to end:
//!
//! - [`diagnose`]: one checkpoint's full-training-set loss, gradient, Hessian verdict and, at
//!   a saddle, the escape along the most negative eigenvector (saved as a checkpoint that
//!   `predict`, `eval` and `model.init` accept);
//! - [`run_findings`]: what went wrong in a run directory's run, why, and what to try
//!   (`trainscope-findings` over the facts its files record);
//! - [`critical_experiment`]: train per seed, descend `‖∇L‖²` to a critical point, classify it,
//!   and plot loss against minimum ratio;
//! - [`guide`]: a ladder of models from linear to deep, and the general guide's verdicts
//!   (model bias, optimization issue, overfitting, mismatch) by stated numeric rules;
//! - [`batch_size_comparison`]: the lectures' small-versus-large batch table on the user's data.
//!
//! ```no_run
//! use std::path::Path;
//! use trainscope_inspect::{diagnose, DiagnoseOptions};
//!
//! let d = diagnose(Path::new("runs/sinc"), &DiagnoseOptions::default())?;
//! println!("{} at loss {:.4e}", d.hessian.verdict.describe(), d.hessian.loss);
//! # Ok::<(), trainscope_inspect::Error>(())
//! ```

#![warn(missing_docs)]

mod batch;
mod critical;
mod diagnose;
mod error;
mod findings;
mod guide;
mod saved;
mod subject;

pub use batch::{
    batch_claims, batch_size_comparison, plot_comparison, BatchChoice, BatchComparison,
    BatchOptions, BatchRow, NOISE_BATCHES, PERTURBATIONS, PERTURBATION_SIZE,
};
pub use critical::{
    critical_claims, critical_experiment, plot_critical, verdict_point, CriticalExperiment,
    CriticalRow, ExperimentOptions,
};
pub use diagnose::{diagnose, plot_spectrum, run_stuck, DiagnoseOptions, Diagnosis};
pub use error::{Error, Result};
pub use findings::{
    facts, parse_epochs, parse_summary, read_epochs, run_facts, run_findings, stuck_from_findings,
};
pub use guide::{
    baseline_loss, guide, plot_ladder, Finding, FindingKind, GuideOptions, GuideReport, GuideRules,
    Rung, MAX_DEPTH,
};
pub use saved::{config_stamp, save_analysis};
pub use subject::{
    loss_function, loss_function_shared, resolve_checkpoint, save_parameters, Resolved, Subject,
    SubjectData,
};
