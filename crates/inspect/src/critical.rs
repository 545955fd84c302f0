//! The course's critical-point experiment: train, descend `‖∇L‖²` to a critical point,
//! classify it by the Hessian (by the definitions, and by the course's minimum ratio), and plot
//! loss against minimum ratio.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trainscope_diag::{
    analyse, escape_from, find_critical_point, AnalysisOptions, CriticalOptions, EscapeOptions,
    EvalOptions, Thresholds, Verdict,
};
use trainscope_train::{files, load_run_data, train, Config, RunOptions, Silent};
use trainscope_viz::plot::{min_ratio_plot, VerdictPoint};
use trainscope_viz::presets::Claim;

use crate::error::{invalid, Result};
use crate::subject::{loss_function, Subject};

/// Options of [`critical_experiment`].
#[derive(Debug, Clone)]
pub struct ExperimentOptions {
    /// The seeds to train with (one critical point each).
    pub seeds: Vec<u64>,
    /// Where the runs, `critical.json`, `critical.svg` and `critical.png` go.
    pub out_dir: PathBuf,
    /// The search for a critical point.
    pub critical: CriticalOptions,
    /// The Hessian analysis at the point found.
    pub analysis: AnalysisOptions,
}

/// One seed's critical point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CriticalRow {
    /// The seed.
    pub seed: u64,
    /// Full-training-set loss at the end of training.
    pub trained_loss: f64,
    /// `‖∇L‖` at the end of training.
    pub trained_grad_norm: f64,
    /// Loss at the point the search reached.
    pub loss: f64,
    /// `‖∇L‖` there.
    pub grad_norm: f64,
    /// Whether `‖∇L‖` fell below the search's target.
    pub converged: bool,
    /// Search steps taken.
    pub steps: usize,
    /// Why the search stopped.
    pub stop_reason: String,
    /// Positive eigenvalues.
    pub positive: Option<usize>,
    /// Negative eigenvalues.
    pub negative: Option<usize>,
    /// Zero eigenvalues (within the tolerance).
    pub zero: Option<usize>,
    /// positive / all.
    pub min_ratio: Option<f64>,
    /// What the point is by the definitions (a saddle needs a negative eigenvalue).
    pub verdict: Verdict,
    /// The course's minimum-ratio verdict.
    pub course_verdict: Option<Verdict>,
    /// Zero eigenvalues: directions the second-order test cannot judge.
    pub flat_directions: Option<usize>,
    /// Why the two verdicts differ, when they do.
    pub verdict_note: Option<String>,
    /// At a saddle point (by the definitions): the most negative eigenvalue, the one
    /// `diagnose` escapes along.
    #[serde(default)]
    pub escape_eigenvalue: Option<f64>,
    /// At a saddle point: `L(θ) − L(θ + αu)` for the best step along that eigenvector's `±u`
    /// (α from 1e-4 to 10, as `diagnose` tries); positive when the loss fell, 0 when no step
    /// lowered it.
    #[serde(default)]
    pub escape_loss_drop: Option<f64>,
    /// The run directory of this seed.
    pub run_dir: PathBuf,
}

/// The experiment's result (`critical.json`, and what `--json` prints; the report reads it
/// back as this type).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CriticalExperiment {
    /// What was run: the resolved configuration (saved beside the result) by content hash,
    /// the training data and its rows (always written; absent in files written before results
    /// were stamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<trainscope_record::Stamp>,
    /// One row per seed.
    pub rows: Vec<CriticalRow>,
    /// Parameters of the model.
    pub parameters: usize,
    /// Training rows the loss is over.
    pub rows_in_loss: usize,
    /// The verdict's thresholds and zero tolerance.
    pub thresholds: Thresholds,
    /// The search's stopping threshold on `‖∇L‖`.
    pub target_grad_norm: f64,
    /// What the Hessian is of.
    pub eval_mode_note: String,
    /// The plots written.
    pub plots: Vec<PathBuf>,
    /// The lecture's claims about the points found, each with whether it held
    /// ([`critical_claims`]; empty in files written before they were checked).
    #[serde(default)]
    pub claims: Vec<Claim>,
}

/// The lecture's claims about critical points, measured on the experiment's rows: that in
/// high dimension a point where training is stuck is usually a saddle point (more saddle
/// points than local-minimum-like points by the true Hessian; the course's minimum-ratio
/// verdict counted beside), and that stepping along the eigenvector of the most negative
/// eigenvalue lowers the loss at every saddle point.
pub fn critical_claims(rows: &[CriticalRow]) -> Vec<Claim> {
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    let saddles = count(Verdict::SaddlePoint);
    let minima = count(Verdict::LocalMinimumLike);
    let not_critical = count(Verdict::NotACriticalPoint);
    let other = rows.len() - saddles - minima - not_critical;
    let course_saddles = rows
        .iter()
        .filter(|r| r.verdict != Verdict::NotACriticalPoint)
        .filter(|r| r.course_verdict == Some(Verdict::SaddlePoint))
        .count();
    let critical = rows.len() - not_critical;
    let mut first = format!(
        "where training stops, it is usually at a saddle point: of {} seeds, {saddles} end at a saddle point and {minima} at a local-minimum-like point by the true Hessian's eigenvalues",
        rows.len()
    );
    if other > 0 {
        first += &format!(", {other} at another kind of point");
    }
    first += &format!(
        "; {not_critical} reached no critical point (‖g‖ ≥ 1e-3); the course's minimum-ratio rule calls {course_saddles} of the {critical} critical points saddle points"
    );
    let drops: Vec<f64> = rows
        .iter()
        .filter(|r| r.verdict == Verdict::SaddlePoint)
        .filter_map(|r| r.escape_loss_drop)
        .collect();
    let lowered = drops.iter().filter(|d| **d > 0.0).count();
    let second = if saddles == 0 {
        "the escape along the most negative eigenvector lowers the loss at every saddle point: no saddle point to escape from".to_string()
    } else {
        let rel: Vec<f64> = rows
            .iter()
            .filter(|r| r.verdict == Verdict::SaddlePoint)
            .filter_map(|r| Some(r.escape_loss_drop? / r.loss))
            .collect();
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        format!(
            "the escape along the most negative eigenvector lowers the loss at every saddle point: at {lowered} of {saddles}, by {:.2e} to {:.2e} (at most {:.2} % of the loss)",
            min(&drops),
            max(&drops),
            100.0 * max(&rel)
        )
    };
    vec![
        Claim {
            claim: first,
            held: saddles > minima,
        },
        Claim {
            claim: second,
            held: saddles > 0 && lowered == saddles && drops.len() == saddles,
        },
    ]
}

/// For each seed: trains `config` with that seed (run directory `out_dir/seed-<s>`), then
/// minimizes `½‖∇L‖²` over the full training set from the trained weights until
/// `‖∇L‖ < critical.target_grad_norm` (or the step budget ends), and analyses the Hessian
/// there. Writes `critical.json` and the figure of loss against minimum ratio by verdict
/// (`critical.svg`, `critical.png`). `on_row` sees each seed as it finishes.
pub fn critical_experiment(
    config: &Config,
    opts: &ExperimentOptions,
    on_row: &mut dyn FnMut(&CriticalRow),
) -> Result<CriticalExperiment> {
    if opts.seeds.is_empty() {
        return Err(invalid("--seeds: need at least one seed"));
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| invalid(format!("cannot create {}: {e}", opts.out_dir.display())))?;
    let mut rows = Vec::new();
    let (mut parameters, mut rows_in_loss, mut note) = (0, 0, String::new());
    for &seed in &opts.seeds {
        let mut cfg = config.clone();
        cfg.seed = seed;
        let data = load_run_data(&cfg)?;
        let run_dir = opts.out_dir.join(format!("seed-{seed}"));
        let run = RunOptions {
            out_dir: Some(run_dir.clone()),
            ..Default::default()
        };
        train(&cfg, &data, &run, &mut Silent)?;
        let subject = Subject::load(&run_dir.join(files::MODEL))?;
        let f = loss_function(
            &subject.meta,
            subject.model,
            &data.train,
            EvalOptions::default(),
        )?;
        let theta = f.initial_parameters();
        let start = f.gradient_report(&theta)?;
        let cp = find_critical_point(&f, &theta, &opts.critical)?;
        let h = analyse(&f, &cp.parameters, &opts.analysis)?;
        // At a saddle point by the definitions, the step `diagnose` takes out of it.
        let escape = match (h.verdict, h.most_negative()) {
            (Verdict::SaddlePoint, Some(_)) => Some(escape_from(
                &f,
                &cp.parameters,
                &h,
                &EscapeOptions::default(),
            )?),
            _ => None,
        };
        parameters = f.num_params();
        rows_in_loss = f.num_examples();
        note = h.eval_mode_note.clone();
        let row = CriticalRow {
            seed,
            trained_loss: start.loss,
            trained_grad_norm: start.grad_norm,
            loss: h.loss,
            grad_norm: h.grad_norm,
            converged: cp.converged,
            steps: cp.steps,
            stop_reason: cp.stop_reason.clone(),
            positive: h.positive,
            negative: h.negative,
            zero: h.zero,
            min_ratio: h.min_ratio,
            verdict: h.verdict,
            course_verdict: h.course_verdict,
            flat_directions: h.flat_directions,
            verdict_note: h.verdict_note.clone(),
            escape_eigenvalue: escape.as_ref().map(|e| e.eigenvalue),
            escape_loss_drop: escape.as_ref().map(|e| e.loss_drop.max(0.0)),
            run_dir,
        };
        on_row(&row);
        rows.push(row);
    }
    let mut plots = Vec::new();
    for ext in ["svg", "png"] {
        let p = opts.out_dir.join(format!("critical.{ext}"));
        plot_critical(&rows, opts.analysis.thresholds.min_ratio, &p)?;
        plots.push(p);
    }
    let claims = critical_claims(&rows);
    let exp = CriticalExperiment {
        stamp: Some(crate::saved::config_stamp(
            &opts.out_dir,
            trainscope_record::files::CRITICAL,
            config,
            Some(rows_in_loss),
        )?),
        rows,
        parameters,
        rows_in_loss,
        thresholds: opts.analysis.thresholds.clone(),
        target_grad_norm: opts.critical.target_grad_norm,
        eval_mode_note: note,
        plots,
        claims,
    };
    crate::saved::save_analysis(&opts.out_dir, trainscope_record::files::CRITICAL, &exp)?;
    Ok(exp)
}

/// The experiment's figure (`critical` draws it, and the report and `plot` redraw it from
/// `critical.json`): loss against minimum ratio at the points found, one legend entry per
/// verdict, the course's threshold `min_ratio_threshold` drawn.
pub fn plot_critical(rows: &[CriticalRow], min_ratio_threshold: f64, out: &Path) -> Result<()> {
    let points: Vec<VerdictPoint> = rows
        .iter()
        .filter_map(|r| verdict_point(r.min_ratio?, r.loss, Some(r.verdict), r.course_verdict))
        .collect();
    min_ratio_plot(&points, min_ratio_threshold, out)?;
    Ok(())
}

/// A point of the minimum-ratio figure; its legend entry is the verdict by the definitions,
/// and says so when the course's verdict differs (the figure's axis is the course's ratio).
pub fn verdict_point(
    min_ratio: f64,
    loss: f64,
    verdict: Option<Verdict>,
    course: Option<Verdict>,
) -> Option<VerdictPoint> {
    let verdict = match (verdict, course) {
        (Some(v), Some(c)) if c != v => format!("{} (course: {})", v.describe(), c.describe()),
        (Some(v), _) => v.describe().to_string(),
        (None, _) => "no verdict recorded".to_string(),
    };
    (min_ratio.is_finite() && loss.is_finite()).then_some(VerdictPoint {
        min_ratio,
        loss,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(verdict: Verdict, course: Verdict, drop: Option<f64>) -> CriticalRow {
        CriticalRow {
            seed: 0,
            trained_loss: 1.0,
            trained_grad_norm: 1.0,
            loss: 0.5,
            grad_norm: 1e-4,
            converged: false,
            steps: 1,
            stop_reason: String::new(),
            positive: None,
            negative: None,
            zero: None,
            min_ratio: None,
            verdict,
            course_verdict: Some(course),
            flat_directions: None,
            verdict_note: None,
            escape_eigenvalue: drop.map(|_| -1.0),
            escape_loss_drop: drop,
            run_dir: PathBuf::new(),
        }
    }

    #[test]
    fn claims_count_the_verdicts_and_the_escapes() {
        use Verdict::*;
        let rows = [
            row(SaddlePoint, SaddlePoint, Some(0.01)),
            row(SaddlePoint, SaddlePoint, Some(0.02)),
            row(LocalMinimumLike, SaddlePoint, None),
            row(NotACriticalPoint, SaddlePoint, None),
        ];
        let c = critical_claims(&rows);
        assert!(c[0].held && c[1].held, "{c:?}");
        assert!(
            c[0].claim
                .contains("of 4 seeds, 2 end at a saddle point and 1 at a local-minimum-like"),
            "{}",
            c[0].claim
        );
        assert!(
            c[0].claim.contains("1 reached no critical point"),
            "{}",
            c[0].claim
        );
        assert!(
            c[0].claim.contains("calls 3 of the 3 critical points"),
            "{}",
            c[0].claim
        );
        assert!(
            c[1].claim
                .contains("at 2 of 2, by 1.00e-2 to 2.00e-2 (at most 4.00 %"),
            "{}",
            c[1].claim
        );
        // A saddle whose escape found no lower loss, and more minima than saddles: neither holds.
        let rows = [
            row(SaddlePoint, SaddlePoint, Some(0.0)),
            row(LocalMinimumLike, LocalMinimumLike, None),
            row(LocalMinimumLike, LocalMinimumLike, None),
        ];
        let c = critical_claims(&rows);
        assert!(!c[0].held && !c[1].held, "{c:?}");
        // No saddle at all: nothing to escape from, said so.
        let c = critical_claims(&[row(LocalMinimumLike, LocalMinimumLike, None)]);
        assert!(
            !c[1].held && c[1].claim.contains("no saddle point"),
            "{c:?}"
        );
    }
}
