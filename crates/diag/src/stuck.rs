//! Why a run stopped improving: plateaus of the training loss, told apart by the gradient norm.

use crate::error::{is_positive, Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// One epoch of a run, as the trainer's `metrics.jsonl` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number.
    pub epoch: u64,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation loss, if measured.
    #[serde(default)]
    pub val_loss: Option<f64>,
    /// Mean mini-batch gradient norm over the epoch, if recorded.
    #[serde(default)]
    pub grad_norm: Option<f64>,
    /// Learning rate in effect, if recorded.
    #[serde(default)]
    pub lr: Option<f64>,
}

/// Reads a trainer's `metrics.jsonl`: one JSON object per line with at least `epoch` and
/// `train_loss` (`val_loss`, `grad_norm`, `lr` optional or `null`; other fields such as
/// `step`, accuracies, `grad_norm_last`, `elapsed_s` are ignored). Blank lines are skipped.
/// Errors name the file and the 1-based line.
pub fn read_metrics(path: impl AsRef<Path>) -> Result<Vec<EpochRecord>> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Metrics {
        path: shown.clone(),
        line: 0,
        msg: format!("cannot read: {e}"),
    })?;
    parse_metrics(&text, &shown)
}

/// [`read_metrics`] on text already read; `source` names it in errors.
pub fn parse_metrics(text: &str, source: &str) -> Result<Vec<EpochRecord>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |msg: String| Error::Metrics {
            path: source.to_string(),
            line: i + 1,
            msg,
        };
        let rec: EpochRecord =
            serde_json::from_str(line).map_err(|e| err(format!("not a metrics record: {e}")))?;
        if !rec.train_loss.is_finite() {
            return Err(err(format!("train_loss is {}", rec.train_loss)));
        }
        out.push(rec);
    }
    Ok(out)
}

/// Options of [`detect_stuck`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StuckOptions {
    /// Window `w` in epochs over which the loss must fall.
    pub window: usize,
    /// An epoch `t ≥ w` is flat when `|L_{t−w} − L_t| < rel_change · |L_{t−w}|`.
    pub rel_change: f64,
    /// The gradient is "small" on a plateau when its median there is below this fraction of
    /// the largest gradient norm before the plateau…
    pub grad_rel_small: f64,
    /// …or below this absolute value.
    pub grad_abs_small: f64,
    /// A loss at or below this is converged, not stuck (flat because there is nothing left).
    pub converged_loss: f64,
}

impl Default for StuckOptions {
    fn default() -> Self {
        StuckOptions {
            window: 5,
            rel_change: 0.01,
            grad_rel_small: 0.1,
            grad_abs_small: 1e-3,
            converged_loss: 1e-8,
        }
    }
}

/// What a plateau looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauKind {
    /// Flat loss with a small gradient: near a critical point.
    CriticalPoint,
    /// Flat loss with a gradient that stays large: bouncing between the walls of a valley.
    Oscillating,
    /// Flat at a loss that is essentially zero: nothing left to gain.
    Converged,
    /// No gradient norms recorded, so the two cannot be told apart.
    Unknown,
}

/// One plateau of the training loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// First epoch of the plateau (the start of the first flat window).
    pub start_epoch: u64,
    /// Last epoch of the plateau.
    pub end_epoch: u64,
    /// Training loss at the start and the end.
    pub loss_start: f64,
    /// Training loss at the end.
    pub loss_end: f64,
    /// Median gradient norm over the plateau.
    pub grad_norm_median: Option<f64>,
    /// Largest gradient norm before the plateau (the reference for "small").
    pub grad_norm_reference: Option<f64>,
    /// The diagnosis.
    pub kind: PlateauKind,
    /// One sentence of explanation.
    pub explanation: String,
    /// The lectures' remedies for this kind.
    pub remedies: Vec<String>,
}

/// The result of [`detect_stuck`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StuckReport {
    /// Epochs read.
    pub epochs: usize,
    /// The plateaus found, in order.
    pub plateaus: Vec<Plateau>,
    /// The rule and options used.
    pub options: StuckOptions,
    /// The plateau rule in words.
    pub rule: String,
    /// Caveat about mini-batch gradient norms.
    pub note: String,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    Some(if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    })
}

/// Finds plateaus of the training loss and says, for each, whether the gradient norm is small
/// (near a critical point) or stays large (oscillating across a valley), with the lectures'
/// remedies.
///
/// Rule: epoch `t ≥ w` is *flat* when the loss changed by less than `rel_change` (relative)
/// over the last `w` epochs, `|L_{t−w} − L_t| < rel_change·|L_{t−w}|`. Consecutive flat epochs
/// form one plateau, which starts at `t − w` of its first flat epoch; plateaus that share
/// epochs are merged into one. On a plateau the gradient
/// is *small* when its median there is below `grad_rel_small` × the largest gradient norm
/// before the plateau, or below `grad_abs_small`; otherwise it *stays large*.
///
/// "Training stuck is not the same as a small gradient" (the lectures): a large gradient norm
/// with a flat loss means the steps bounce between the walls of a valley.
pub fn detect_stuck(records: &[EpochRecord], opts: &StuckOptions) -> Result<StuckReport> {
    if opts.window == 0 {
        return Err(Error::invalid("window", "must be at least 1 epoch"));
    }
    if !is_positive(opts.rel_change) {
        return Err(Error::invalid(
            "rel_change",
            format!("must be positive, got {}", opts.rel_change),
        ));
    }
    let w = opts.window;
    let n = records.len();
    let flat: Vec<bool> = (0..n)
        .map(|t| {
            t >= w && {
                let (a, b) = (records[t - w].train_loss, records[t].train_loss);
                (a - b).abs() < opts.rel_change * a.abs()
            }
        })
        .collect();
    // Runs of flat epochs → spans (from w epochs before the run's first flat epoch);
    // spans that share epochs are one plateau (a single noisy epoch breaks a run of flat
    // epochs, but the windows on both sides overlap).
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut t = 0;
    while t < n {
        if !flat[t] {
            t += 1;
            continue;
        }
        let first = t;
        while t < n && flat[t] {
            t += 1;
        }
        let (s, e) = (first - w, t - 1);
        match spans.last_mut() {
            Some(last) if s <= last.1 => last.1 = e,
            _ => spans.push((s, e)),
        }
    }
    let plateaus = spans
        .into_iter()
        .map(|(s, e)| diagnose(records, s, e, opts))
        .collect();
    Ok(StuckReport {
        epochs: n,
        plateaus,
        options: opts.clone(),
        rule: format!(
            "flat: the training loss changed by less than {}% over {} epochs; gradient small: \
             median on the plateau < {} × the largest earlier value, or < {:.0e}",
            opts.rel_change * 100.0,
            w,
            opts.grad_rel_small,
            opts.grad_abs_small
        ),
        note: "the recorded gradient norm is the mean mini-batch norm, which sampling noise keeps \
               above the full-data norm; confirm a suspected critical point with the full-data \
               gradient and the Hessian analysis"
            .into(),
    })
}

fn diagnose(records: &[EpochRecord], s: usize, e: usize, opts: &StuckOptions) -> Plateau {
    let on: Vec<f64> = records[s..=e].iter().filter_map(|r| r.grad_norm).collect();
    let before = records[..s]
        .iter()
        .filter_map(|r| r.grad_norm)
        .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))));
    let med = median(on);
    let (ls, le) = (records[s].train_loss, records[e].train_loss);
    let kind = if le <= opts.converged_loss {
        PlateauKind::Converged
    } else {
        match med {
            None => PlateauKind::Unknown,
            Some(g) => {
                let small =
                    g < opts.grad_abs_small || before.is_some_and(|b| g < opts.grad_rel_small * b);
                if small {
                    PlateauKind::CriticalPoint
                } else {
                    PlateauKind::Oscillating
                }
            }
        }
    };
    let fmt_g = |g: Option<f64>| g.map_or("n/a".to_string(), |g| format!("{g:.3e}"));
    let (explanation, remedies): (String, Vec<&str>) = match kind {
        PlateauKind::CriticalPoint => (
            format!(
                "the loss is flat and the gradient norm is small (median {} vs {} earlier): \
                 the parameters sit near a critical point (a saddle or a local minimum)",
                fmt_g(med),
                fmt_g(before)
            ),
            vec![
                "analyse the Hessian there: a negative eigenvalue means a saddle, and its eigenvector is an escape direction",
                "momentum: accumulated past steps carry the parameters over flat regions and through saddles",
                "a smaller batch: noisier gradients do not stay stuck where the full gradient vanishes",
            ],
        ),
        PlateauKind::Oscillating => (
            format!(
                "the loss is flat but the gradient norm stays large (median {} vs {} earlier): \
                 the steps bounce between the walls of a valley instead of moving along it",
                fmt_g(med),
                fmt_g(before)
            ),
            vec![
                "an adaptive learning rate per parameter (Adagrad, RMSProp, Adam): smaller steps across the steep walls, larger along the flat floor",
                "learning-rate decay (or a smaller learning rate): shrinking steps settle into the valley",
            ],
        ),
        PlateauKind::Converged => (
            format!("the loss is flat at {le:.3e}: training has converged"),
            vec!["nothing to fix in optimization; compare the validation loss for overfitting"],
        ),
        PlateauKind::Unknown => (
            "the loss is flat but no gradient norms were recorded, so a critical point and \
             oscillation cannot be told apart"
                .to_string(),
            vec!["record grad_norm during training, or analyse the full-data gradient at the checkpoint"],
        ),
    };
    Plateau {
        start_epoch: records[s].epoch,
        end_epoch: records[e].epoch,
        loss_start: ls,
        loss_end: le,
        grad_norm_median: med,
        grad_norm_reference: before,
        kind,
        explanation,
        remedies: remedies.into_iter().map(String::from).collect(),
    }
}

impl fmt::Display for StuckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Stuck detection over {} epochs", self.epochs)?;
        writeln!(f, "  rule: {}", self.rule)?;
        if self.plateaus.is_empty() {
            writeln!(f, "  no plateau: the training loss keeps falling")?;
        }
        for p in &self.plateaus {
            writeln!(
                f,
                "  epochs {}–{}: loss {:.4e} → {:.4e}: {:?}",
                p.start_epoch, p.end_epoch, p.loss_start, p.loss_end, p.kind
            )?;
            writeln!(f, "    {}", p.explanation)?;
            for r in &p.remedies {
                writeln!(f, "    - {r}")?;
            }
        }
        writeln!(f, "  note: {}", self.note)
    }
}
