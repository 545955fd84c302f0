//! Remedies that know what the run already does: each returns `None` when the run already
//! uses it (Adam is not suggested to a run that uses Adam, a decay not to a run with a schedule),
//! and names the configuration key to change.

use crate::facts::{RunFacts, Task};
use crate::finding::Remedy;

/// A compact number for a TOML value: `0.001`, `1e-5`, `30`.
pub fn toml_number(x: f64) -> String {
    if x == 0.0 {
        return "0.0".into();
    }
    let a = x.abs();
    if (1e-3..1e6).contains(&a) {
        let s = format!("{:.4}", x);
        let s = s.trim_end_matches('0');
        if s.ends_with('.') {
            format!("{s}0")
        } else {
            s.to_string()
        }
    } else {
        format!("{:e}", (x * 1e6).round() / 1e6)
    }
}

/// The remedies for one run.
pub struct Remedies<'a> {
    f: &'a RunFacts,
}

impl<'a> Remedies<'a> {
    /// Remedies for the run `f` describes.
    pub fn new(f: &'a RunFacts) -> Self {
        Remedies { f }
    }

    fn lr(&self) -> f64 {
        self.f.optimizer.lr
    }

    /// A learning rate `factor` times smaller.
    pub fn lower_lr(&self, factor: f64, why: &str) -> Option<Remedy> {
        (self.lr() > 0.0).then(|| {
            Remedy::set(
                "optimizer.lr",
                toml_number(self.lr() / factor),
                format!("now {}; {why}", toml_number(self.lr())),
            )
        })
    }

    /// A learning rate `factor` times larger.
    pub fn raise_lr(&self, factor: f64, why: &str) -> Option<Remedy> {
        (self.lr() > 0.0).then(|| {
            Remedy::set(
                "optimizer.lr",
                toml_number(self.lr() * factor),
                format!("now {}; {why}", toml_number(self.lr())),
            )
        })
    }

    /// Adam instead of plain SGD (only for runs without a per-parameter rate).
    pub fn adaptive(&self, why: &str) -> Option<Remedy> {
        (!self.f.optimizer.adaptive()).then(|| Remedy::set("optimizer.kind", "\"adam\"", why))
    }

    /// Momentum for SGD without it.
    pub fn momentum(&self, why: &str) -> Option<Remedy> {
        (self.f.optimizer.kind == "sgd" && self.f.optimizer.momentum == 0.0)
            .then(|| Remedy::set("optimizer.momentum", "0.9", why))
    }

    /// Global-norm clipping, when none is set.
    pub fn clip(&self, why: &str) -> Option<Remedy> {
        self.f
            .optimizer
            .clip_global_norm
            .is_none()
            .then(|| Remedy::set("optimizer.clip_global_norm", "1.0", why))
    }

    /// A cosine decay over the whole run, when the run has no schedule.
    pub fn decay(&self, why: &str) -> Option<Remedy> {
        if self.f.schedule.is_some() {
            return None;
        }
        let total = (self.f.epochs_planned.max(1) * self.f.updates_per_epoch.max(1)) as u64;
        Some(Remedy::set(
            "schedule",
            format!("{{ kind = \"cosine\", t_max = {total} }}"),
            why,
        ))
    }

    /// Standardized regression targets.
    pub fn standardize_target(&self) -> Option<Remedy> {
        let d = self.f.data.as_ref()?;
        (self.f.task == Task::Regression && d.target.is_some() && !d.target_standardized).then(
            || {
                Remedy::set(
                    "data.standardize_target",
                    "true",
                    "train on (y − mean)/std; predictions are converted back to the original units",
                )
            },
        )
    }

    /// Standardized features.
    pub fn standardize_features(&self) -> Option<Remedy> {
        let d = self.f.data.as_ref()?;
        (!d.features_standardized).then(|| {
            Remedy::set(
                "data.standardize",
                "true",
                "every feature on the same scale: one learning rate suits every direction",
            )
        })
    }

    /// Batch normalization in a preset MLP without it.
    pub fn batch_norm(&self, why: &str) -> Option<Remedy> {
        (self.f.hidden_layers > 0 && !self.f.batch_norm)
            .then(|| Remedy::set("model.batch_norm", "true", why))
    }

    /// Early stopping, when the run has none.
    pub fn early_stopping(&self) -> Option<Remedy> {
        self.f.early_stopping_patience.is_none().then(|| {
            Remedy::set(
                "training.early_stopping_patience",
                "10",
                "stop when the validation loss has not improved for 10 epochs and keep the best weights",
            )
        })
    }

    /// Dropout in a preset MLP without it.
    pub fn dropout(&self) -> Option<Remedy> {
        (self.f.hidden_layers > 0 && self.f.dropout == 0.0).then(|| {
            Remedy::set(
                "model.dropout",
                "0.2",
                "a less flexible model: each hidden unit is dropped with probability 0.2 while training",
            )
        })
    }

    /// L2 weight decay, when there is none.
    pub fn weight_decay(&self) -> Option<Remedy> {
        (self.f.optimizer.weight_decay == 0.0).then(|| {
            Remedy::set(
                "optimizer.weight_decay",
                "0.0001",
                "regularization: keeps the weights small",
            )
        })
    }

    /// ReLU instead of a saturating activation.
    pub fn relu(&self, why: &str) -> Option<Remedy> {
        match self.f.activation.as_deref() {
            Some("sigmoid") | Some("tanh") | Some("hard_sigmoid") if self.f.hidden_layers > 0 => {
                Some(Remedy::set("model.activation", "\"relu\"", why))
            }
            _ => None,
        }
    }

    /// A non-ReLU activation for a ReLU network whose units died.
    pub fn tanh(&self, why: &str) -> Option<Remedy> {
        (self.f.activation.as_deref() == Some("relu") && self.f.hidden_layers > 0)
            .then(|| Remedy::set("model.activation", "\"tanh\"", why))
    }

    /// More epochs.
    pub fn more_epochs(&self, why: &str) -> Option<Remedy> {
        (self.f.epochs_planned > 0).then(|| {
            Remedy::set(
                "training.epochs",
                (self.f.epochs_planned * 3).to_string(),
                format!("now {}; {why}", self.f.epochs_planned),
            )
        })
    }

    /// The general guide, which tells model bias from an optimization issue.
    pub fn guide(&self) -> Remedy {
        Remedy::advice(
            "run `trainscope guide CONFIG`: it trains shallower and deeper models and tells model bias (too simple) from an optimization issue",
        )
    }

    /// The Hessian analysis of the checkpoint.
    pub fn diagnose(&self) -> Remedy {
        Remedy::advice(
            "run `trainscope diagnose RUN_DIR`: the full-data gradient and the Hessian's eigenvalues say whether this is a saddle point (and which way out) or a minimum",
        )
    }
}

/// The remedies that exist, in the order given.
pub fn ranked(items: impl IntoIterator<Item = Option<Remedy>>) -> Vec<Remedy> {
    let mut out: Vec<Remedy> = Vec::new();
    for r in items.into_iter().flatten() {
        if !out.iter().any(|o| o.key.is_some() && o.key == r.key) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::toml_number;

    #[test]
    fn numbers_read_as_typed() {
        assert_eq!(toml_number(0.001), "0.001");
        assert_eq!(toml_number(0.01), "0.01");
        assert_eq!(toml_number(0.1), "0.1");
        assert_eq!(toml_number(3.0), "3.0");
        assert_eq!(toml_number(1e-5), "1e-5");
        assert_eq!(toml_number(0.0003), "3e-4");
    }
}
