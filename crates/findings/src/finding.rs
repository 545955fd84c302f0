//! A finding: what a detector concluded, the numbers it used, and what to try.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The fixed vocabulary of findings. Each kind's rule, thresholds and remedies are documented
/// in the README's findings table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The loss, a gradient or a parameter became non-finite.
    Diverged,
    /// The model ends worse than predicting a constant.
    WorseThanBaseline,
    /// The final training loss is above half the trivial model's.
    BarelyLearned,
    /// The schedule drove the learning rate near zero while the loss was still falling.
    LrVanished,
    /// Loss flat or rising at a high level while the gradient stays large.
    LrTooLarge,
    /// The loss falls steadily but far too slowly for the gradient it has.
    LrTooSmall,
    /// Flat loss with a vanishing gradient at a high loss.
    CriticalPoint,
    /// Validation loss rising from its minimum while the training loss keeps falling.
    Overfitting,
    /// The first layers get orders of magnitude less gradient than the last.
    VanishingGradients,
    /// Gradients grow by orders of magnitude (over time or towards the input).
    ExplodingGradients,
    /// Most units of a ReLU layer never fire.
    DeadUnits,
    /// A regression target far from unit scale, left unstandardized.
    UnscaledTarget,
    /// Features of very different or very large scales, left unstandardized.
    UnscaledFeatures,
}

impl Kind {
    /// Every kind, in the order findings are listed within a severity.
    pub const ALL: [Kind; 13] = [
        Kind::Diverged,
        Kind::WorseThanBaseline,
        Kind::UnscaledTarget,
        Kind::UnscaledFeatures,
        Kind::LrVanished,
        Kind::LrTooLarge,
        Kind::LrTooSmall,
        Kind::CriticalPoint,
        Kind::ExplodingGradients,
        Kind::VanishingGradients,
        Kind::DeadUnits,
        Kind::Overfitting,
        Kind::BarelyLearned,
    ];

    /// The snake_case name used in JSON and in the README.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Diverged => "diverged",
            Kind::WorseThanBaseline => "worse_than_baseline",
            Kind::BarelyLearned => "barely_learned",
            Kind::LrVanished => "lr_vanished",
            Kind::LrTooLarge => "lr_too_large",
            Kind::LrTooSmall => "lr_too_small",
            Kind::CriticalPoint => "critical_point",
            Kind::Overfitting => "overfitting",
            Kind::VanishingGradients => "vanishing_gradients",
            Kind::ExplodingGradients => "exploding_gradients",
            Kind::DeadUnits => "dead_units",
            Kind::UnscaledTarget => "unscaled_target",
            Kind::UnscaledFeatures => "unscaled_features",
        }
    }

    /// A few words for people.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Diverged => "diverged",
            Kind::WorseThanBaseline => "worse than the trivial model",
            Kind::BarelyLearned => "barely learned",
            Kind::LrVanished => "learning rate decayed to nothing",
            Kind::LrTooLarge => "learning rate too large",
            Kind::LrTooSmall => "learning rate too small",
            Kind::CriticalPoint => "stuck near a critical point",
            Kind::Overfitting => "overfitting",
            Kind::VanishingGradients => "vanishing gradients",
            Kind::ExplodingGradients => "exploding gradients",
            Kind::DeadUnits => "dead ReLU units",
            Kind::UnscaledTarget => "unscaled target",
            Kind::UnscaledFeatures => "unscaled features",
        }
    }

    fn rank(self) -> usize {
        Kind::ALL
            .iter()
            .position(|&k| k == self)
            .unwrap_or(usize::MAX)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The run failed, or ends worse than the trivial model.
    Problem,
    /// The run is hampered.
    Warning,
    /// Worth knowing; nothing to fix.
    Note,
}

impl Severity {
    /// `problem`, `warning` or `note`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Problem => "problem",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One thing to try: a sentence, and where it applies, the configuration key and its new
/// value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    /// What to do and why, in one sentence.
    pub action: String,
    /// The configuration key to change, e.g. `optimizer.lr`.
    pub key: Option<String>,
    /// Its suggested value, in TOML (`0.001`, `true`, `"adam"`).
    pub value: Option<String>,
}

impl Remedy {
    /// A remedy that changes `key` to `value`.
    pub fn set(key: &str, value: impl Into<String>, action: impl Into<String>) -> Remedy {
        Remedy {
            action: action.into(),
            key: Some(key.to_string()),
            value: Some(value.into()),
        }
    }

    /// A remedy that is not a configuration change (a command to run, a thing to check).
    pub fn advice(action: impl Into<String>) -> Remedy {
        Remedy {
            action: action.into(),
            key: None,
            value: None,
        }
    }

    /// `--set`-style text: `optimizer.lr = 0.001` or the action alone.
    pub fn short(&self) -> String {
        match (&self.key, &self.value) {
            (Some(k), Some(v)) => format!("set {k} = {v} ({})", self.action),
            _ => self.action.clone(),
        }
    }
}

/// One conclusion about a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// How much it matters.
    pub severity: Severity,
    /// The epochs it concerns (first, last), if it concerns a stretch of the run.
    pub epochs: Option<[u64; 2]>,
    /// The numbers the rule used, by name.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// What it means, in a sentence or two.
    pub explanation: String,
    /// Things to try, best first; none that the run already does.
    pub remedies: Vec<Remedy>,
    /// The rule, with its thresholds.
    pub rule: String,
}

impl Finding {
    /// The order findings are listed in: problems first, then by kind.
    pub fn order_key(&self) -> (Severity, usize) {
        (self.severity, self.kind.rank())
    }

    /// One line: severity, kind, epochs, explanation.
    pub fn headline(&self) -> String {
        let span = match self.epochs {
            Some([a, b]) if a == b => format!(" (epoch {a})"),
            Some([a, b]) => format!(" (epochs {a}–{b})"),
            None => String::new(),
        };
        format!(
            "{}: {}{span}: {}",
            self.severity.name(),
            self.kind.title(),
            self.explanation
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline())?;
        for (i, r) in self.remedies.iter().enumerate() {
            writeln!(f, "  {}. {}", i + 1, r.short())?;
        }
        let ev: Vec<String> = self
            .evidence
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(f, "  evidence: {}", ev.join(", "))?;
        writeln!(f, "  rule: {}", self.rule)
    }
}
