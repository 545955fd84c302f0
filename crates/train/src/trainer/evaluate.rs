//! Evaluation in eval mode without recording: the mean loss and accuracy of a set of rows, its
//! confusion matrix, and what one pass over the training rows at the final weights tells the
//! findings (the full-data gradient, the ReLU units that never fire).

use trainscope_core::{grad, no_grad, Element, Tensor};
use trainscope_nn::{ForwardCtx, Layer, Loss, Mode, Sequential, Target};

use super::run::Trainer;
use crate::confusion::Confusion;
use crate::data::Arrays;
use crate::evidence::{self, LayerGroups, ReluActivity};

/// Rows per forward pass when evaluating: large enough to keep the matrix products efficient,
/// small enough that a big validation set does not need a big graph-free buffer.
const EVAL_CHUNK: usize = 1024;

/// The loss of `out` against targets given as values (`[b, width]`, row-major) or classes.
pub(crate) fn batch_loss<T: Element>(
    loss: Loss,
    out: &Tensor<T>,
    values: &[T],
    width: usize,
    classes: &[u32],
) -> trainscope_core::Result<Tensor<T>> {
    if loss.takes_classes() {
        loss.compute(out, Target::Classes(classes))
    } else {
        let t = Tensor::from_slice(values, &[values.len() / width.max(1), width])?;
        loss.compute(out, Target::Values(&t))
    }
}

/// The predicted class of each row of `out` (`[b, k]` logits; one logit means two classes).
pub(crate) fn count_correct<T: Element>(out: &[T], k: usize, labels: &[usize]) -> usize {
    labels
        .iter()
        .enumerate()
        .filter(|&(i, &label)| predicted_class(&out[i * k..(i + 1) * k]) == label)
        .count()
}

pub(crate) fn predicted_class<T: Element>(row: &[T]) -> usize {
    if row.len() == 1 {
        usize::from(row[0] >= T::zero())
    } else {
        let mut best = 0;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = j;
            }
        }
        best
    }
}

/// Eval-mode forward passes over `a` in chunks of [`EVAL_CHUNK`] rows: `each(rows, out, loss)`
/// gets every chunk's output and mean loss, `visit` every layer's input.
pub(super) fn eval_chunks<T: Element>(
    model: &Sequential<T>,
    loss: Loss,
    a: &Arrays<T>,
    visit: &mut dyn FnMut(usize, &Layer, &Tensor<T>),
    mut each: impl FnMut(std::ops::Range<usize>, &Tensor<T>, &Tensor<T>) -> trainscope_core::Result<()>,
) -> trainscope_core::Result<()> {
    let d = a.d;
    let mut start = 0;
    while start < a.n {
        let end = (start + EVAL_CHUNK).min(a.n);
        let x = Tensor::from_slice(&a.chunk(start..end)?, &[end - start, d])?;
        let out = model.forward_visiting(
            model.parameters(),
            &x,
            Mode::Eval,
            &mut ForwardCtx::without_rng(),
            visit,
        )?;
        let classes = if a.classes.is_empty() {
            &[][..]
        } else {
            &a.classes[start..end]
        };
        let w = a.width;
        let l = batch_loss(loss, &out, &a.values[start * w..end * w], w, classes)?;
        each(start..end, &out, &l)?;
        start = end;
    }
    Ok(())
}

/// Mean loss and accuracy on `a` in Eval mode, without recording, in chunks.
pub(super) fn evaluate<T: Element>(
    model: &Sequential<T>,
    loss: Loss,
    a: &Arrays<T>,
) -> trainscope_core::Result<(f64, Option<f64>)> {
    no_grad(|| {
        let k = model.output_size();
        let (mut sum, mut correct) = (0.0, 0);
        eval_chunks(model, loss, a, &mut |_, _, _| {}, |rows, out, l| {
            sum += l.item()?.to_f64() * rows.len() as f64;
            if let Some(labels) = &a.labels {
                correct += count_correct(out.data(), k, &labels[rows]);
            }
            Ok(())
        })?;
        let n = a.n as f64;
        Ok((sum / n, a.labels.as_ref().map(|_| correct as f64 / n)))
    })
}

/// The confusion matrix of `model` on the labelled rows of `a` (Eval mode).
pub(super) fn confusion<T: Element>(
    model: &Sequential<T>,
    loss: Loss,
    a: &Arrays<T>,
    labels: Vec<String>,
) -> trainscope_core::Result<Confusion> {
    let mut m = Confusion::new(labels);
    let Some(truth) = &a.labels else {
        return Ok(m.finish());
    };
    let k = model.output_size();
    no_grad(|| {
        eval_chunks(model, loss, a, &mut |_, _, _| {}, |rows, out, _| {
            for (row, &t) in out.data().chunks_exact(k).zip(&truth[rows]) {
                m.add(t, predicted_class(row));
            }
            Ok(())
        })
    })?;
    Ok(m.finish())
}

/// What one pass over the training rows at the final weights tells the findings: the gradient
/// of the mean loss over all of `a` (Eval mode, summed in f64) as a global norm and per layer,
/// and which ReLU units ever fire. Mini-batch norms include sampling noise
/// (`E‖g_B‖² = ‖g‖² + tr Σ / B`); this one tells a vanishing gradient from a noisy one.
pub(super) fn end_of_run_facts<T: Element>(
    model: &Sequential<T>,
    loss: Loss,
    a: &Arrays<T>,
    groups: &LayerGroups,
) -> trainscope_core::Result<(f64, Vec<f64>, Vec<ReluActivity>)> {
    let mut sums: Vec<Vec<f64>> = model
        .parameters()
        .iter()
        .map(|p| vec![0.0; p.numel()])
        .collect();
    let mut relus = evidence::ReluTracker::new(model);
    eval_chunks(
        model,
        loss,
        a,
        &mut |i, _, h| relus.see(i, h),
        |rows, _, l| {
            let w = rows.len() as f64 / a.n as f64;
            for (acc, g) in sums.iter_mut().zip(grad(l, model.parameters(), false)?) {
                for (s, &v) in acc.iter_mut().zip(g.data()) {
                    *s += w * v.to_f64();
                }
            }
            Ok(())
        },
    )?;
    let per_tensor: Vec<f64> = sums.iter().map(|v| v.iter().map(|x| x * x).sum()).collect();
    Ok((
        per_tensor.iter().sum::<f64>().sqrt(),
        groups.norms(&per_tensor),
        relus.finish(),
    ))
}

impl<T: Element> Trainer<'_, T> {
    /// The validation loss and accuracy (classification) of the model as it is now, in eval
    /// mode; `(None, None)` without validation rows.
    pub(super) fn validate(&self) -> trainscope_core::Result<(Option<f64>, Option<f64>)> {
        match &self.s.val {
            Some(v) => {
                let (l, a) = evaluate(&self.s.model, self.s.loss, v)?;
                Ok((Some(l), a))
            }
            None => Ok((None, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::test_problems;
    use trainscope_data::{Dataset, LabelMap, Targets};

    /// A linear model of one input with weight `w` and bias `b`.
    fn linear(w: f64, b: f64) -> Sequential<f64> {
        let spec = trainscope_nn::ModelSpec::linear(1, 1);
        let mut m = Sequential::<f64>::from_seed(spec, 0).unwrap();
        m.parameters_mut()[0].data_mut()[0] = w;
        m.parameters_mut()[1].data_mut()[0] = b;
        m
    }

    fn rows(x: &[f64], targets: Targets, map: Option<LabelMap>) -> Arrays<'static, f64> {
        let d = Dataset::new(x.to_vec(), vec!["x".into()], "y", targets, map).unwrap();
        let a = Arrays::new(&d, None, None).unwrap();
        // The features are borrowed from `d`: keep a copy instead.
        Arrays {
            x: std::borrow::Cow::Owned(a.x.to_vec()),
            ..Arrays::targets_only(&d, None).unwrap()
        }
    }

    #[test]
    fn evaluation_matches_a_hand_computation() {
        // y = 2x + 1 on x = 0, 1, 2 predicts 1, 3, 5; against y = 1, 2, 7 the errors are
        // 0, 1, −2: MSE = 5/3, MAE = 1.
        let m = linear(2.0, 1.0);
        let a = rows(
            &[0.0, 1.0, 2.0],
            Targets::Regression(vec![1.0, 2.0, 7.0]),
            None,
        );
        let (mse, acc) = evaluate(&m, Loss::Mse, &a).unwrap();
        assert!((mse - 5.0 / 3.0).abs() < 1e-15, "{mse}");
        assert_eq!(acc, None);
        let (mae, _) = evaluate(&m, Loss::Mae, &a).unwrap();
        assert!((mae - 1.0).abs() < 1e-15, "{mae}");

        // One logit z = x on x = −1, 2, 0.5 with classes 0, 1, 0: the binary cross-entropy is
        // softplus(z) for class 0 and softplus(−z) for class 1, so
        // L = (ln(1 + e⁻¹) + ln(1 + e⁻²) + ln(1 + e^0.5)) / 3; z ≥ 0 predicts class 1, so the
        // third row is wrong: accuracy 2/3.
        let m = linear(1.0, 0.0);
        let a = rows(
            &[-1.0, 2.0, 0.5],
            Targets::Classes(vec![0, 1, 0]),
            Some(LabelMap::from_labels(["no", "yes"])),
        );
        let (l, acc) = evaluate(&m, Loss::BinaryCrossEntropyWithLogits, &a).unwrap();
        let want = ((1.0 + (-1.0f64).exp()).ln()
            + (1.0 + (-2.0f64).exp()).ln()
            + (1.0 + 0.5f64.exp()).ln())
            / 3.0;
        assert!((l - want).abs() < 1e-15, "{l} vs {want}");
        assert_eq!(acc, Some(2.0 / 3.0));
        let c = confusion(
            &m,
            Loss::BinaryCrossEntropyWithLogits,
            &a,
            vec!["no".into(), "yes".into()],
        )
        .unwrap();
        assert_eq!(c.counts, vec![vec![1, 1], vec![0, 1]]);
    }

    #[test]
    fn the_trainer_validates_on_its_validation_rows() {
        let (config, data) = test_problems::regression(&[]);
        let opts = crate::RunOptions::default();
        let t = Trainer::<f64>::new(&config, &data, &opts).unwrap();
        let (w, b) = (
            t.s.model.parameters()[0].data()[0],
            t.s.model.parameters()[1].data()[0],
        );
        let (x, y) = (test_problems::VAL_X, test_problems::VAL_Y);
        let mse = x
            .iter()
            .zip(y)
            .map(|(x, y)| (w * x + b - y).powi(2))
            .sum::<f64>()
            / x.len() as f64;
        let (l, acc) = t.validate().unwrap();
        assert!((l.unwrap() - mse).abs() < 1e-12, "{l:?} vs {mse}");
        assert_eq!(acc, None);
    }
}
