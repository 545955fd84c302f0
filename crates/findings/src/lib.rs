//! # trainscope-findings
//!
//! What went wrong in a training run, why, and the one thing to try. Detectors read the facts
//! a run leaves behind — per-epoch losses, gradient norms (global and per layer), the learning
//! rate actually applied, the trivial model's loss, the activity of ReLU units at the end, the
//! raw scales of the data, the configuration — and return [`Finding`]s from a fixed vocabulary
//! ([`Kind`]), each with its evidence, its rule and ranked remedies that the run does not
//! already use.
//!
//! The detectors are built to stay silent on healthy runs: a change counts only when it stands
//! out from the loss's own epoch-to-epoch noise ([`series`]), "high" means compared with the
//! trivial model, and a plateau under a learning rate the schedule has taken to zero is the
//! schedule's doing, not a critical point.
//!
//! ```
//! use trainscope_findings::{find, EpochFacts, RunFacts, Kind};
//!
//! // A loss that never leaves the trivial model's level while the gradient stays large.
//! let epochs = (1..=30)
//!     .map(|e| EpochFacts {
//!         epoch: e,
//!         train_loss: 1.0 + 0.2 * ((e * 7 % 5) as f64 - 2.0) / 2.0,
//!         grad_norm: Some(5.0),
//!         lr: Some(0.5),
//!         ..Default::default()
//!     })
//!     .collect();
//! let facts = RunFacts {
//!     epochs,
//!     baseline_train_loss: Some(1.0),
//!     optimizer: trainscope_findings::OptimizerFacts { kind: "sgd".into(), lr: 0.5, ..Default::default() },
//!     ..Default::default()
//! };
//! let report = find(&facts);
//! assert!(report.findings.iter().any(|f| f.kind == Kind::LrTooLarge));
//! ```

#![warn(missing_docs)]

pub mod detectors;
mod facts;
mod finding;
pub mod remedies;
pub mod series;

pub use facts::{
    ColumnScale, DataFacts, Divergence, EpochFacts, LayerFacts, OptimizerFacts, RunFacts, Task,
    UnitActivity,
};
pub use finding::{Finding, Kind, Remedy, Severity};

use detectors::Ctx;
use serde::{Deserialize, Serialize};

/// The findings of one run, most severe first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Epochs examined.
    pub epochs: usize,
    /// The findings, problems first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing is a problem or a warning.
    pub fn healthy(&self) -> bool {
        self.findings.iter().all(|f| f.severity == Severity::Note)
    }

    /// The findings of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}

/// Kinds that name a cause: when one of them is a warning, "barely learned" says nothing more.
/// (A critical point is not one: the general guide still has to tell a poor local minimum of
/// a too-simple model from an optimization issue.)
const CAUSES: [Kind; 9] = [
    Kind::Diverged,
    Kind::LrVanished,
    Kind::LrTooLarge,
    Kind::LrTooSmall,
    Kind::VanishingGradients,
    Kind::ExplodingGradients,
    Kind::DeadUnits,
    Kind::UnscaledTarget,
    Kind::UnscaledFeatures,
];

/// Runs every detector over `facts`.
///
/// Afterwards: "barely learned" is dropped when a cause is known (a warning of another kind)
/// or the run is worse than the trivial model;
/// "worse than the trivial model" puts the causes' first remedies before its own.
pub fn find(facts: &RunFacts) -> Report {
    let Some(c) = Ctx::new(facts) else {
        return Report::default();
    };
    let detectors: [fn(&Ctx) -> Option<Finding>; 13] = [
        detectors::diverged,
        detectors::worse_than_baseline,
        detectors::barely_learned,
        detectors::lr_vanished,
        detectors::lr_too_large,
        detectors::lr_too_small,
        detectors::critical_point,
        detectors::overfitting,
        detectors::vanishing_gradients,
        detectors::exploding_gradients,
        detectors::dead_units,
        detectors::unscaled_target,
        detectors::unscaled_features,
    ];
    let mut found: Vec<Finding> = detectors.iter().filter_map(|d| d(&c)).collect();
    let serious = |f: &Finding| f.severity != Severity::Note;
    if found.iter().any(|f| serious(f) && CAUSES.contains(&f.kind)) {
        found.retain(|f| f.kind != Kind::BarelyLearned);
    }
    if found.iter().any(|f| f.kind == Kind::WorseThanBaseline) {
        found.retain(|f| f.kind != Kind::BarelyLearned);
    }
    found.sort_by_key(|f| f.order_key());
    let cause_remedies: Vec<Remedy> = found
        .iter()
        .filter(|f| serious(f) && CAUSES.contains(&f.kind))
        .filter_map(|f| f.remedies.first().cloned())
        .collect();
    if let Some(w) = found.iter_mut().find(|f| f.kind == Kind::WorseThanBaseline) {
        let mut rs = cause_remedies;
        rs.append(&mut w.remedies);
        w.remedies = remedies::ranked(rs.into_iter().map(Some));
    }
    Report {
        epochs: facts.epochs.len(),
        findings: found,
    }
}
