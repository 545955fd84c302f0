//! The confusion matrix of a classifier and the per-class precision, recall and F1 it gives.

use serde::{Deserialize, Serialize};

/// Counts of (true class, predicted class) pairs, with the scores derived from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Class labels, in class-index order.
    pub labels: Vec<String>,
    /// `counts[t][p]`: rows of true class `t` predicted as `p`.
    pub counts: Vec<Vec<u64>>,
    /// Precision, recall and F1 of each class, in class-index order.
    pub classes: Vec<ClassScores>,
    /// Unweighted mean of the classes' F1 scores (classes with an undefined F1 left out).
    pub macro_f1: Option<f64>,
}

/// One class's scores. A score whose denominator is zero (a class never predicted, or absent
/// from the rows) is `null`, not 0: nothing was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The class's label.
    pub label: String,
    /// Rows of this class.
    pub support: u64,
    /// Of the rows predicted as this class, the fraction that are: `tp / (tp + fp)`.
    pub precision: Option<f64>,
    /// Of the rows of this class, the fraction predicted as it: `tp / (tp + fn)`.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall, `2tp / (2tp + fp + fn)`.
    pub f1: Option<f64>,
}

impl Confusion {
    /// An empty matrix over `labels`.
    pub fn new(labels: Vec<String>) -> Confusion {
        let k = labels.len();
        Confusion {
            labels,
            counts: vec![vec![0; k]; k],
            classes: Vec::new(),
            macro_f1: None,
        }
    }

    /// Counts one row; indices outside the labels are ignored (they cannot occur for a model
    /// whose output size matches its label map).
    pub fn add(&mut self, truth: usize, predicted: usize) {
        if let Some(c) = self
            .counts
            .get_mut(truth)
            .and_then(|row| row.get_mut(predicted))
        {
            *c += 1;
        }
    }

    /// Fills in the per-class scores from the counts.
    pub fn finish(mut self) -> Confusion {
        let k = self.labels.len();
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        self.classes = (0..k)
            .map(|c| {
                let tp = self.counts[c][c];
                let support: u64 = self.counts[c].iter().sum();
                let predicted: u64 = self.counts.iter().map(|row| row[c]).sum();
                let (fp, fn_) = (predicted - tp, support - tp);
                ClassScores {
                    label: self.labels[c].clone(),
                    support,
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, support),
                    f1: ratio(2 * tp, 2 * tp + fp + fn_),
                }
            })
            .collect();
        let f1s: Vec<f64> = self.classes.iter().filter_map(|c| c.f1).collect();
        self.macro_f1 = (!f1s.is_empty()).then(|| f1s.iter().sum::<f64>() / f1s.len() as f64);
        self
    }

    /// The matrix and scores of `truth` against `predicted`.
    pub fn of(labels: Vec<String>, truth: &[usize], predicted: &[usize]) -> Confusion {
        let mut m = Confusion::new(labels);
        for (&t, &p) in truth.iter().zip(predicted) {
            m.add(t, p);
        }
        m.finish()
    }

    /// Rows counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// The matrix and the per-class scores as aligned text (rows: true class, columns:
    /// predicted); long labels are cut to 12 characters in the matrix.
    pub fn to_text(&self) -> String {
        let short = |s: &str| -> String {
            if s.chars().count() > 12 {
                s.chars().take(11).chain(['…']).collect()
            } else {
                s.to_string()
            }
        };
        let w = self
            .labels
            .iter()
            .map(|l| short(l).chars().count())
            .chain(self.counts.iter().flatten().map(|c| c.to_string().len()))
            .max()
            .unwrap_or(1)
            .max(5);
        let mut out = format!("{:>w$}  predicted →\n", "true ↓");
        out += &format!("{:>w$}", "");
        for l in &self.labels {
            out += &format!(" {:>w$}", short(l));
        }
        out.push('\n');
        for (l, row) in self.labels.iter().zip(&self.counts) {
            out += &format!("{:>w$}", short(l));
            for c in row {
                out += &format!(" {c:>w$}");
            }
            out.push('\n');
        }
        let s = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.3}"));
        out += &format!(
            "{:>w$} {:>9} {:>9} {:>9} {:>9}\n",
            "class", "precision", "recall", "F1", "rows"
        );
        for c in &self.classes {
            out += &format!(
                "{:>w$} {:>9} {:>9} {:>9} {:>9}\n",
                short(&c.label),
                s(c.precision),
                s(c.recall),
                s(c.f1),
                c.support
            );
        }
        out += &format!("macro F1 {}\n", s(self.macro_f1));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counts_and_scores_match_a_hand_count() {
        // truth:     a a a b b c
        // predicted: a b a b c c
        let m = Confusion::of(
            labels(&["a", "b", "c"]),
            &[0, 0, 0, 1, 1, 2],
            &[0, 1, 0, 1, 2, 2],
        );
        assert_eq!(m.counts, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert_eq!(m.total(), 6);
        let a = &m.classes[0];
        assert_eq!(
            (a.support, a.precision, a.recall),
            (3, Some(1.0), Some(2.0 / 3.0))
        );
        assert!((a.f1.unwrap() - 0.8).abs() < 1e-15);
        let b = &m.classes[1];
        assert_eq!(
            (b.precision, b.recall, b.f1),
            (Some(0.5), Some(0.5), Some(0.5))
        );
        let c = &m.classes[2];
        assert_eq!((c.precision, c.recall), (Some(0.5), Some(1.0)));
        assert!((c.f1.unwrap() - 2.0 / 3.0).abs() < 1e-15);
        let macro_f1 = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((m.macro_f1.unwrap() - macro_f1).abs() < 1e-15);
    }

    #[test]
    fn a_class_never_predicted_has_no_precision_rather_than_zero() {
        let m = Confusion::of(labels(&["no", "yes"]), &[0, 0, 1], &[0, 0, 0]);
        assert_eq!(m.classes[1].precision, None);
        assert_eq!(m.classes[1].recall, Some(0.0));
        assert_eq!(m.classes[1].f1, Some(0.0));
        let text = m.to_text();
        assert!(text.contains("macro F1"), "{text}");
        assert!(text.lines().count() >= 6, "{text}");
    }
}
