//! The trivial model every run is judged against: a constant prediction fitted to the training
//! rows, the training mean (regression, in the target's standardized units when the
//! configuration standardizes it) or the logits of the training class frequencies
//! (classification), and always predicting the majority class for accuracy.
//!
//! One implementation for the trainer (`baseline_*` in `summary.json`, in the training
//! precision) and for the guide (its baseline, in f64 through [`baseline_loss`]).

use trainscope_core::{no_grad, Element, Tensor};
use trainscope_data::{Dataset, Standardizer};
use trainscope_nn::Loss;

use crate::config::Config;
use crate::data::Arrays;
use crate::error::{Context, Result};
use crate::trainer::{batch_loss, loss_for_data};

/// The trivial model fitted to training rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Baseline {
    /// The constant output row: the target means (one per target column), `[ln(p₁/p₀)]` for one
    /// logit, or `ln pₖ` for K logits.
    row: Vec<f64>,
    /// The most frequent training class (the lowest index on a tie), in classification.
    majority: Option<usize>,
}

impl Baseline {
    /// Fits the constant to the targets of `train` for a model of `outputs` outputs.
    ///
    /// Regression: `meanⱼ = Σᵢ yᵢⱼ / n` per target column j (summed in f64 over the targets in
    /// `T`). Classification:
    /// `pₖ = max(countₖ, ½) / n` (half a count for an absent class keeps the logits finite),
    /// as logits `ln pₖ`, or `ln(p₁ / p₀)` for one logit.
    pub(crate) fn fit<T: Element>(train: &Arrays<T>, outputs: usize) -> Baseline {
        let n = train.n as f64;
        let Some(labels) = &train.labels else {
            let w = train.width;
            let mut row = vec![0.0; w];
            for y in train.values.chunks_exact(w) {
                for (m, &v) in row.iter_mut().zip(y) {
                    *m += v.to_f64();
                }
            }
            row.iter_mut().for_each(|m| *m /= n);
            return Baseline {
                row,
                majority: None,
            };
        };
        let k = if outputs == 1 { 2 } else { outputs };
        let mut counts = vec![0usize; k];
        for &c in labels {
            counts[c] += 1;
        }
        let p: Vec<f64> = counts.iter().map(|&c| (c as f64).max(0.5) / n).collect();
        let row = if outputs == 1 {
            vec![(p[1] / p[0]).ln()]
        } else {
            p.iter().map(|q| q.ln()).collect()
        };
        let majority = (0..k).max_by_key(|&c| (counts[c], usize::MAX - c));
        Baseline { row, majority }
    }

    /// The loss of the constant prediction on `rows` (in `T`, as training computes losses).
    pub(crate) fn loss<T: Element>(&self, loss: Loss, rows: &Arrays<T>) -> Result<f64> {
        let outputs = self.row.len();
        let out: Vec<T> = (0..rows.n)
            .flat_map(|_| self.row.iter().map(|&c| T::from_f64(c)))
            .collect();
        let out = Tensor::from_vec(out, &[rows.n, outputs]).context(|| "baseline".into())?;
        Ok(
            no_grad(|| batch_loss(loss, &out, &rows.values, rows.width, &rows.classes))
                .and_then(|l| l.item())
                .context(|| "baseline".into())?
                .to_f64(),
        )
    }

    /// The accuracy of always predicting the majority class on `rows` (classification).
    pub(crate) fn accuracy<T: Clone>(&self, rows: &Arrays<T>) -> Option<f64> {
        let labels = rows.labels.as_ref()?;
        let hits = labels.iter().filter(|&&c| Some(c) == self.majority).count();
        Some(hits as f64 / rows.n as f64)
    }
}

/// The trivial model's loss on `data`, fitted to `data` itself (the guide's baseline): the
/// configuration's loss, in f64, with the target standardized as the configuration says.
pub fn baseline_loss(config: &Config, data: &Dataset) -> Result<f64> {
    let (loss, outputs) = loss_for_data(config.training.loss, data)?;
    let target = if config.standardizes_target() {
        Some(Standardizer::fit_targets(data).context(|| "data.standardize_target".into())?)
    } else {
        None
    };
    let rows = Arrays::<f64>::targets_only(data, target.as_ref())?;
    Baseline::fit(&rows, outputs).loss(loss, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainscope_data::{LabelMap, Targets};

    fn regression(y: &[f64]) -> Dataset {
        let n = y.len();
        Dataset::new(
            vec![0.0; n],
            vec!["x".into()],
            "y",
            Targets::Regression(y.to_vec()),
            None,
        )
        .unwrap()
    }

    #[test]
    fn regression_predicts_the_training_mean() {
        // y = 1, 2, 6: mean 3, MSE = (4 + 1 + 9) / 3 = 14/3; MAE = (2 + 1 + 3) / 3 = 2.
        let d = regression(&[1.0, 2.0, 6.0]);
        let rows = Arrays::<f64>::targets_only(&d, None).unwrap();
        let b = Baseline::fit(&rows, 1);
        assert_eq!(b.row, vec![3.0]);
        assert!((b.loss(Loss::Mse, &rows).unwrap() - 14.0 / 3.0).abs() < 1e-15);
        assert!((b.loss(Loss::Mae, &rows).unwrap() - 2.0).abs() < 1e-15);
        assert_eq!(b.accuracy(&rows), None);
    }

    #[test]
    fn several_targets_get_one_mean_each() {
        // Two columns: y₀ = 1, 3 (mean 2), y₁ = 10, 30 (mean 20). MSE over all 4 entries:
        // (1 + 1 + 100 + 100) / 4 = 50.5, as PyTorch's `nn.MSELoss()` averages over N × K.
        let d = Dataset::with_targets(
            vec![0.0; 2],
            vec!["x".into()],
            vec!["y0".into(), "y1".into()],
            Targets::Regression(vec![1.0, 10.0, 3.0, 30.0]),
            None,
        )
        .unwrap();
        let rows = Arrays::<f64>::targets_only(&d, None).unwrap();
        let b = Baseline::fit(&rows, 2);
        assert_eq!(b.row, vec![2.0, 20.0]);
        assert!((b.loss(Loss::Mse, &rows).unwrap() - 50.5).abs() < 1e-12);
    }

    #[test]
    fn classification_predicts_the_class_frequencies() {
        // Classes 0, 0, 0, 1 (one logit): p = (3/4, 1/4), logit ln(1/3);
        // BCE = −(3 ln(3/4) + ln(1/4)) / 4, the entropy of the frequencies.
        let d = Dataset::new(
            vec![0.0; 4],
            vec!["x".into()],
            "c",
            Targets::Classes(vec![0, 0, 0, 1]),
            Some(LabelMap::from_labels(["a", "b"])),
        )
        .unwrap();
        let rows = Arrays::<f64>::targets_only(&d, None).unwrap();
        let b = Baseline::fit(&rows, 1);
        assert!((b.row[0] - (1.0f64 / 3.0).ln()).abs() < 1e-15);
        let entropy = -(3.0 * 0.75f64.ln() + 0.25f64.ln()) / 4.0;
        let l = b.loss(Loss::BinaryCrossEntropyWithLogits, &rows).unwrap();
        assert!((l - entropy).abs() < 1e-12, "{l} vs {entropy}");
        assert_eq!(b.accuracy(&rows), Some(0.75));
        // Three logits, class 2 absent: p = (3/4, 1/4, 0.5/4); the loss is the same entropy
        // (softmax of ln p renormalizes: Σp = 9/8).
        let b = Baseline::fit(&rows, 3);
        let l = b.loss(Loss::CrossEntropy, &rows).unwrap();
        let want = -(3.0 * (0.75f64 / 1.125).ln() + (0.25f64 / 1.125).ln()) / 4.0;
        assert!((l - want).abs() < 1e-12, "{l} vs {want}");
    }
}
