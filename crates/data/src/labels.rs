use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// How the labels of a [`LabelMap`] compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelKind {
    /// Every label is a number; labels are ordered and matched by numeric value, so `"1"` and
    /// `"1.0"` are the same class and `"10"` comes after `"9"`.
    Numeric,
    /// Labels are text; ordered by byte-wise string comparison and matched exactly.
    Text,
}

/// The map between class labels as written in the data and class indices `0..K`.
///
/// Built from the training data in a deterministic order that does not depend on which label
/// happens to come first in the file: if every label is a number they are sorted numerically,
/// otherwise lexicographically (byte-wise). Save it with the model (it is `Serialize`) and
/// reapply it to validation, test and prediction data, so that class 3 always means the same
/// label.
///
/// ```
/// use trainscope_data::LabelMap;
///
/// let map = LabelMap::from_labels(["10", "9", "2", "9"]);
/// assert_eq!(map.labels(), ["2", "9", "10"]); // numeric order, not "10" < "2"
/// assert_eq!(map.index_of("9"), Some(1));
/// assert_eq!(map.index_of("9.0"), Some(1)); // numeric labels match by value
/// assert_eq!(map.index_of("7"), None);
///
/// let text = LabelMap::from_labels(["cat", "dog", "ant"]);
/// assert_eq!(text.labels(), ["ant", "cat", "dog"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LabelMapRepr", into = "LabelMapRepr")]
pub struct LabelMap {
    kind: LabelKind,
    /// Sorted; for numeric maps `values[i]` is `labels[i]` parsed.
    labels: Vec<String>,
    values: Vec<f64>,
}

impl LabelMap {
    /// Builds the map from every label of the training data (repeats allowed).
    ///
    /// Labels are trimmed of surrounding whitespace. For numeric labels that are equal as
    /// numbers but spelled differently (`"1"`, `"1.0"`), the first spelling is kept for display.
    pub fn from_labels<I, S>(labels: I) -> LabelMap
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let labels: Vec<String> = labels
            .into_iter()
            .map(|l| l.as_ref().trim().to_string())
            .collect();
        let numeric: Option<Vec<f64>> = labels.iter().map(|l| parse_label_number(l)).collect();
        match numeric {
            Some(values) if !labels.is_empty() => {
                let mut pairs: Vec<(f64, usize)> = values.into_iter().zip(0..).collect();
                // Stable sort on the value keeps the first spelling of equal numbers in front.
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                pairs.dedup_by(|later, earlier| later.0 == earlier.0);
                LabelMap {
                    kind: LabelKind::Numeric,
                    labels: pairs.iter().map(|&(_, i)| labels[i].clone()).collect(),
                    values: pairs.iter().map(|&(v, _)| v).collect(),
                }
            }
            _ => {
                let mut labels = labels;
                labels.sort();
                labels.dedup();
                LabelMap {
                    kind: LabelKind::Text,
                    labels,
                    values: Vec::new(),
                }
            }
        }
    }

    /// The map `"0" → 0, "1" → 1, …, "k-1" → k-1`, as for data whose labels already are class
    /// indices (MNIST's IDX label files).
    pub fn range(k: usize) -> LabelMap {
        LabelMap {
            kind: LabelKind::Numeric,
            labels: (0..k).map(|i| i.to_string()).collect(),
            values: (0..k).map(|i| i as f64).collect(),
        }
    }

    /// The class index of `label`, or `None` for a label the map does not know.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        let label = label.trim();
        match self.kind {
            LabelKind::Numeric => {
                let v = parse_label_number(label)?;
                self.values
                    .binary_search_by(|probe| probe.total_cmp(&v))
                    .ok()
            }
            LabelKind::Text => self
                .labels
                .binary_search_by(|probe| probe.as_str().cmp(label))
                .ok(),
        }
    }

    /// The label of class `index`, or `None` when `index ≥ K`.
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.get(index).map(String::as_str)
    }

    /// All labels, in class-index order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The number of classes K.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the map has no classes.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Whether labels are matched as numbers or as text.
    pub fn kind(&self) -> LabelKind {
        self.kind
    }
}

/// A label counts as numeric when it parses as a finite number; `"nan"` or `"inf"` as class
/// names are far more likely to be text than measurements.
fn parse_label_number(s: &str) -> Option<f64> {
    // Adding 0.0 turns -0.0 into 0.0, so that "-0" and "0" are one class under `total_cmp`.
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v + 0.0)
}

/// The serialized form: the kind and the labels in class order. Values are re-derived, and the
/// order is checked when reading, so a hand-edited file cannot silently renumber classes.
#[derive(Serialize, Deserialize)]
struct LabelMapRepr {
    kind: LabelKind,
    labels: Vec<String>,
}

impl From<LabelMap> for LabelMapRepr {
    fn from(map: LabelMap) -> Self {
        LabelMapRepr {
            kind: map.kind,
            labels: map.labels,
        }
    }
}

impl TryFrom<LabelMapRepr> for LabelMap {
    type Error = String;

    fn try_from(repr: LabelMapRepr) -> Result<Self, String> {
        let values = match repr.kind {
            LabelKind::Numeric => repr
                .labels
                .iter()
                .map(|l| {
                    parse_label_number(l).ok_or_else(|| format!("numeric label map holds {l:?}"))
                })
                .collect::<Result<Vec<f64>, String>>()?,
            LabelKind::Text => Vec::new(),
        };
        let increasing = match repr.kind {
            LabelKind::Numeric => values
                .windows(2)
                .all(|w| w[0].total_cmp(&w[1]) == Ordering::Less),
            LabelKind::Text => repr.labels.windows(2).all(|w| w[0] < w[1]),
        };
        if !increasing {
            return Err(format!(
                "labels of a {:?} label map must be strictly increasing, found {:?}",
                repr.kind, repr.labels
            ));
        }
        Ok(LabelMap {
            kind: repr.kind,
            labels: repr.labels,
            values,
        })
    }
}
