//! The per-epoch metrics schema (`metrics.jsonl`), declared once for every reader and writer.

use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RecordError;

/// Values by name in a fixed order, written as a JSON object in that order
/// (`{"0": 0.12, "2": 0.031}`): layers stay input-first even past ten of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Named(pub Vec<(String, f64)>);

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Named;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of numbers by layer name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Named, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, f64>()? {
                    out.push((k, v));
                }
                Ok(Named(out))
            }
            fn visit_unit<E>(self) -> Result<Named, E> {
                Ok(Named::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// One line of `metrics.jsonl`. The field names are a stable interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Updates so far (all epochs).
    pub step: u64,
    /// Mean of the epoch's batch losses weighted by batch size (Train mode: dropout on, batch
    /// statistics in batch norm).
    pub train_loss: f64,
    /// Loss on the validation set after the epoch (Eval mode), or `null`.
    pub val_loss: Option<f64>,
    /// Classification: fraction of the epoch's training rows classified correctly as the model
    /// was when it saw them (like `train_loss`); `null` for regression.
    pub train_accuracy: Option<f64>,
    /// Classification: validation accuracy after the epoch; `null` otherwise.
    pub val_accuracy: Option<f64>,
    /// Mean over the epoch's updates of the global L2 norm of the batch gradient (before
    /// clipping), `‖g‖ = sqrt(Σ over every parameter element of g²)`.
    pub grad_norm: f64,
    /// Global L2 norm of the last update's batch gradient.
    pub grad_norm_last: f64,
    /// Mean over the epoch's updates of each parameterized layer's gradient norm (weight and
    /// bias together, before clipping), by layer name: `{"0": 0.41, "2": 0.12}`.
    #[serde(default)]
    pub grad_norm_per_layer: Named,
    /// Learning rate of the epoch's last update.
    pub lr: f64,
    /// Seconds since the run started (resumed runs include the time before the interruption).
    pub elapsed_s: f64,
}

/// Reads `metrics.jsonl`; errors name the file and line. An empty file is an empty run.
pub fn read_metrics(path: &Path) -> crate::Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(path).map_err(|e| RecordError::io(path, e))?;
    parse_metrics(path, &text)
}

/// [`read_metrics`] on the text of the file; `path` only names it in errors.
pub fn parse_metrics(path: &Path, text: &str) -> crate::Result<Vec<EpochMetrics>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                RecordError::malformed(path, format!("line {}: not a metrics record: {e}", i + 1))
            })
        })
        .collect()
}
