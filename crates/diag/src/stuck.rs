//! The plateau report: how `train --json` and `diagnose --json` have described a stuck loss
//! (`stuck`). The conclusions themselves now come from `trainscope-findings`; this keeps the
//! shape of the JSON that scripts read.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The thresholds of a plateau rule.
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

/// Plateaus of a run's training loss, each with its verdict.
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
