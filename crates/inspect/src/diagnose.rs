//! One checkpoint, diagnosed: loss, gradient, Hessian verdict, escape from a saddle, and the
//! run's plateaus.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trainscope_diag::{
    analyse, escape_from, AnalysisMode, AnalysisOptions, EscapeOptions, EscapeReport, EvalOptions,
    HessianReport, Share, StuckReport, Verdict,
};
use trainscope_record::{files, Stamp};
use trainscope_train::distributed::Cluster;
use trainscope_train::Import;
use trainscope_viz::plot::{line_plot, spectrum_plot, LineOptions, Series};

use crate::error::{invalid, Result};
use crate::saved::save_analysis;
use crate::subject::{
    loss_function_shared, resolve_checkpoint, save_parameters, Subject, SubjectData,
};

/// Options of [`diagnose`].
#[derive(Debug, Clone, Default)]
pub struct DiagnoseOptions {
    /// Rows to evaluate the loss on instead of the run's training rows.
    pub data: Option<PathBuf>,
    /// Mode, limits, thresholds and Lanczos settings.
    pub analysis: AnalysisOptions,
    /// Where to save the escaped parameters as a checkpoint (at a saddle).
    pub escape_out: Option<PathBuf>,
    /// Where to draw the spectrum (SVG or PNG by extension).
    pub plot: Option<PathBuf>,
    /// The checkpoint is a plain state dict, read with this model description and schema.
    pub import: Option<Import>,
    /// The processes sharing the rows (one alone by default): each evaluates its part and
    /// every product is summed over them; all run the same analysis, only rank 0 writes.
    pub cluster: Cluster,
}

/// What [`diagnose`] found (`diagnose.json`, and what `--json` prints; the report reads it
/// back as this type). The JSON object holds every field of the Hessian report at its top
/// level (`loss`, `grad_norm`, `eigenvalues`, `positive`, `negative`, `zero`, `min_ratio`,
/// `verdict`, `course_verdict`, …) next to the fields below.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diagnosis {
    /// What was analysed: the checkpoint by content hash, its epoch, the rows (always written;
    /// absent in files written before results were stamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
    /// The checkpoint analysed.
    pub checkpoint: PathBuf,
    /// The rows the loss is over.
    pub data: SubjectData,
    /// The loss's name.
    pub loss_name: String,
    /// The Hessian analysis.
    #[serde(flatten)]
    pub hessian: HessianReport,
    /// At a saddle (or maximum): the step along the most negative eigenvector.
    pub escape: Option<EscapeReport>,
    /// Where the escaped parameters were saved.
    pub escape_checkpoint: Option<PathBuf>,
    /// Why there is no escape, when one was asked for but the point is not a saddle.
    pub escape_note: Option<String>,
    /// Plateaus of the run's `metrics.jsonl` (run directories only): the findings about a
    /// stuck loss in the earlier form.
    pub stuck: Option<StuckReport>,
    /// What went wrong in the run, why, and what to try (run directories only).
    pub findings: Option<trainscope_findings::Report>,
    /// The spectrum plot written.
    pub plot: Option<PathBuf>,
    /// Where the result was saved: `diagnose.json` in the run directory analysed.
    #[serde(skip)]
    pub saved: Option<PathBuf>,
}

/// The stuck-loss findings of a run directory in the earlier plateau form; `None` when the
/// directory has no metrics.
pub fn run_stuck(run_dir: &Path) -> Result<Option<StuckReport>> {
    Ok(crate::findings::run_findings(run_dir, None)?
        .map(|r| crate::findings::stuck_from_findings(&r)))
}

/// An iterative analysis cannot find more extreme eigenvalues than the Hessian has: a `k`
/// above the parameter count is refused rather than silently clamped.
fn check_k(analysis: &AnalysisOptions, parameters: usize) -> Result<()> {
    let iterative = match analysis.mode {
        AnalysisMode::Iterative => true,
        AnalysisMode::Auto => parameters > analysis.dense_max_params,
        AnalysisMode::Dense => false,
    };
    let k = analysis.lanczos.k_largest.max(analysis.lanczos.k_smallest);
    if iterative && k > parameters {
        return Err(invalid(format!(
            "--k: {k} eigenvalues at each end, but the model has only {parameters} parameters"
        )));
    }
    Ok(())
}

/// Diagnoses the checkpoint `target` names (a run directory or a checkpoint file) on its
/// training rows (or `opts.data`): the full-data loss in f64 in eval mode, its gradient, the
/// Hessian's spectrum, the verdict by the definitions and the course's minimum-ratio verdict;
/// at a saddle or maximum (by the definitions) the escape along the most negative eigenvector;
/// for a run directory the stuck analysis of its metrics.
pub fn diagnose(target: &Path, opts: &DiagnoseOptions) -> Result<Diagnosis> {
    let mut resolved = resolve_checkpoint(target)?;
    let bytes = match &opts.import {
        Some(import) => {
            // The configuration beside a state dict is not its own; the model description
            // stands in for it when it is a whole configuration.
            resolved.config =
                Some(import.model_spec.clone()).filter(|_| import.names_training_data());
            if opts.data.is_none() && resolved.config.is_none() {
                return Err(invalid(format!(
                    "{}: give the rows to analyse with --data FILE (or a configuration naming \
                     data.train as the model description)",
                    resolved.checkpoint.display()
                )));
            }
            import.checkpoint(&resolved.checkpoint, opts.data.as_deref(), true)?
        }
        None => std::fs::read(&resolved.checkpoint).map_err(|e| {
            invalid(format!(
                "{}: cannot read: {e}",
                resolved.checkpoint.display()
            ))
        })?,
    };
    let subject = Subject::parse(&resolved.checkpoint, &bytes)?;
    let (rows, source) = subject.data(opts.data.as_deref(), resolved.config.as_deref())?;
    let stamp = Stamp::of_checkpoint(
        &resolved.checkpoint,
        Some(subject.meta.epoch),
        Some((source.clone(), rows.n_rows())),
        trainscope_train::VERSION,
    )?;
    let meta = subject.meta.clone();
    let cluster = &opts.cluster;
    let share = cluster.reducer().map(|sum| Share {
        rank: cluster.rank(),
        size: cluster.size(),
        sum,
    });
    let f = loss_function_shared(&meta, subject.model, &rows, EvalOptions::default(), share)?;
    let theta = f.initial_parameters();
    check_k(&opts.analysis, theta.len())?;
    let hessian = analyse(&f, &theta, &opts.analysis)?;
    // Only a direction that goes down is worth a step: the course's verdict may call a flat
    // minimum a saddle, but it has no negative eigenvalue to escape along.
    let saddle_like = matches!(
        hessian.verdict,
        Verdict::SaddlePoint | Verdict::LocalMaximum
    );
    let escape = if saddle_like && hessian.most_negative().is_some() {
        Some(escape_from(
            &f,
            &theta,
            &hessian,
            &EscapeOptions::default(),
        )?)
    } else {
        None
    };
    let mut escape_checkpoint = None;
    let mut escape_note = None;
    if let Some(out) = opts.escape_out.as_ref().filter(|_| cluster.is_root()) {
        match &escape {
            Some(e) if e.lowered => {
                save_parameters(&resolved.checkpoint, &bytes, &e.parameters, out)?;
                escape_checkpoint = Some(out.clone());
            }
            Some(_) => {
                escape_note = Some(
                    "no step along the escape direction lowered the loss; nothing saved".into(),
                )
            }
            None => {
                escape_note = Some(format!(
                    "the point is {}, not a saddle: no escape direction, nothing saved",
                    hessian.verdict.describe()
                ))
            }
        }
    }
    let findings = match &resolved.run_dir {
        Some(dir) => crate::findings::run_findings(dir, None)?,
        None => None,
    };
    let stuck = findings.as_ref().map(crate::findings::stuck_from_findings);
    let plot = match opts.plot.as_ref().filter(|_| cluster.is_root()) {
        Some(p) => {
            plot_spectrum(&hessian, p)?;
            Some(p.clone())
        }
        None => None,
    };
    let mut d = Diagnosis {
        stamp: Some(stamp),
        checkpoint: resolved.checkpoint,
        data: SubjectData {
            source,
            rows: rows.n_rows(),
        },
        loss_name: meta.loss.name().to_string(),
        hessian,
        escape,
        escape_checkpoint,
        escape_note,
        stuck,
        findings,
        plot,
        saved: None,
    };
    if let Some(dir) = resolved.run_dir.as_ref().filter(|_| cluster.is_root()) {
        d.saved = Some(save_analysis(dir, files::DIAGNOSE, &d)?);
    }
    Ok(d)
}

/// The figure of the Hessian's spectrum (`diagnose --plot` draws it, and the report and
/// `plot` redraw it from `diagnose.json`): the exact spectrum by sign; in iterative mode the
/// estimated density as a curve.
pub fn plot_spectrum(h: &HessianReport, out: &Path) -> Result<()> {
    if let Some(ev) = &h.eigenvalues {
        spectrum_plot(ev, h.zero_tolerance, out)?;
        return Ok(());
    }
    let d = h
        .density
        .as_ref()
        .ok_or_else(|| invalid("--plot: the iterative analysis estimated no spectral density"))?;
    let opts = LineOptions {
        title: format!(
            "Hessian spectral density (stochastic Lanczos quadrature, {} parameters)",
            h.num_params
        ),
        x_label: "eigenvalue λ".into(),
        y_label: "density".into(),
        ..Default::default()
    };
    let series = [Series {
        label: "estimated density",
        x: &d.grid,
        y: &d.density,
    }];
    line_plot(&series, &opts, out)?;
    Ok(())
}
