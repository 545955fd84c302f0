//! One update: the next mini-batch through the model in training mode, its loss and gradient,
//! the checks that both are finite, the optimizer's step, the batch-norm statistics, and the
//! running sums of the epoch that its metrics record is computed from.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use trainscope_core::{grad, Element, Tensor};
use trainscope_nn::{ForwardCtx, Mode};

use super::evaluate::{batch_loss, count_correct};
use super::run::Trainer;
use super::Divergence;
use crate::error::{Context, Result};

/// The running sums of an epoch in progress: what its line of `metrics.jsonl` is computed
/// from. Saved when a run stops inside an epoch, so the resumed epoch reports exactly what an
/// uninterrupted one would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct EpochSums {
    /// Updates made in the epoch.
    pub(super) updates: usize,
    /// Σ batch loss × batch rows.
    pub(super) loss_sum: f64,
    /// Rows trained on.
    pub(super) rows: usize,
    /// Rows classified correctly (classification).
    pub(super) correct: usize,
    /// Σ gradient norm over the updates.
    pub(super) norm_sum: f64,
    /// The last update's gradient norm.
    pub(super) norm_last: f64,
    /// The last update's learning rate (before the first update: the optimizer's).
    pub(super) lr: f64,
    /// Σ over the updates of each layer's gradient norm.
    #[serde(default)]
    pub(super) layer_norm_sum: Vec<f64>,
}

impl EpochSums {
    /// The sums before an epoch's first update, at learning rate `lr`, for `layers` layers.
    pub(super) fn new(lr: f64, layers: usize) -> EpochSums {
        EpochSums {
            lr,
            layer_norm_sum: vec![0.0; layers],
            ..EpochSums::default()
        }
    }

    /// The epoch's mean training loss over its rows.
    pub(super) fn train_loss(&self) -> f64 {
        self.loss_sum / self.rows.max(1) as f64
    }
}

/// The rows of one batch, gathered into buffers reused across updates so that steady training
/// allocates none.
pub(super) struct BatchBuffers<T> {
    /// Target values (losses that take values).
    values: Vec<T>,
    /// Target classes (losses that take classes).
    classes: Vec<u32>,
    /// Labels for the accuracy (classification).
    labels: Vec<usize>,
}

impl<T> BatchBuffers<T> {
    /// Room for batches of `rows` rows.
    pub(super) fn with_capacity(rows: usize) -> Self {
        BatchBuffers {
            values: Vec::with_capacity(rows),
            classes: Vec::with_capacity(rows),
            labels: Vec::with_capacity(rows),
        }
    }
}

/// What one update did.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Update {
    /// The parameters moved; the batch's mean loss before the step and the learning rate of
    /// the step.
    Made {
        /// The batch loss.
        loss: f64,
        /// The learning rate the optimizer applied.
        lr: f64,
    },
    /// The loss or the gradient was not finite: nothing moved.
    Diverged(Divergence),
}

impl<T: Element> Trainer<'_, T> {
    /// One update of epoch `epoch` on the batcher's next mini-batch (its images augmented, if
    /// configured): forward pass (training mode, dropout from the run's generator), loss, gradient, the optimizer's step on the
    /// parameters in place, the batch-norm statistics, and the batch's share of `sums`.
    /// `None` when the epoch has no batch left; [`Update::Diverged`] when the loss or the
    /// gradient norm is not finite (the parameters are then untouched).
    pub(super) fn update(&mut self, epoch: usize, sums: &mut EpochSums) -> Result<Option<Update>> {
        let Trainer {
            s,
            batch,
            groups,
            cluster,
            flat,
            ..
        } = self;
        let Some(idx) = s.batcher.next_indices() else {
            return Ok(None);
        };
        let (d, k) = (s.train.d, s.model.output_size());
        sums.updates += 1;
        let update = sums.updates;
        let b = idx.len();
        // With several processes this one takes its contiguous part of the batch, and its
        // mean loss is weighted by the part's share of the rows, so that the parts' losses
        // and gradients sum to the batch's.
        let distributed = cluster.is_distributed();
        let mine = cluster.part(b);
        let own = &idx[mine.clone()];
        batch.values.clear();
        batch.classes.clear();
        batch.labels.clear();
        let takes_classes = s.loss.takes_classes();
        for &r in own {
            if takes_classes {
                batch.classes.push(s.train.classes[r]);
            } else {
                let w = s.train.width;
                batch
                    .values
                    .extend_from_slice(&s.train.values[r * w..(r + 1) * w]);
            }
            if let Some(labels) = &s.train.labels {
                batch.labels.push(labels[r]);
            }
        }
        let step = s.optimizer.step_count() + 1;
        let at = |what: &str| format!("epoch {epoch}, update {update}: {what}");
        let diverged = |what: String| {
            Ok(Some(Update::Diverged(Divergence {
                epoch,
                update,
                step,
                what,
            })))
        };
        // Every process draws the whole batch's augmentation, as one process would, and
        // keeps its rows.
        let augmented = match &mut s.augment {
            Some(augment) if distributed => {
                let mut all = s.train.gather(idx)?;
                augment.apply(all.data_mut(), &mut s.augment_rng);
                Some(all)
            }
            _ => None,
        };
        let mut ctx = ForwardCtx::new(&mut s.rng);
        let mut correct = 0;
        // The graph (x, out, loss) is dropped at the end of this block, before the update,
        // so the parameters' buffers are no longer shared and change in place.
        let (mut loss_value, grads) = if own.is_empty() {
            (0.0, None)
        } else {
            let mut x = match &augmented {
                Some(all) => {
                    let rows: Vec<usize> = (0..own.len()).collect();
                    let part = &all.data()[mine.start * d..mine.end * d];
                    Tensor::gather_rows(part, d, &rows).context(|| at("batch"))?
                }
                None => s.train.gather(own)?,
            };
            if let (Some(augment), None) = (&mut s.augment, &augmented) {
                augment.apply(x.data_mut(), &mut s.augment_rng);
            }
            let out = s
                .model
                .forward_with(s.model.parameters(), &x, Mode::Train, &mut ctx)
                .context(|| at("forward pass"))?;
            let mut loss = batch_loss(s.loss, &out, &batch.values, s.train.width, &batch.classes)
                .context(|| at("loss"))?;
            if distributed {
                loss = loss.mul_scalar(T::from_f64(own.len() as f64 / b as f64));
            }
            let value = loss.item().context(|| at("loss"))?.to_f64();
            // Alone, a loss that is not finite ends the update before the backward pass; with
            // several processes the check waits for the sum, which every process sees alike.
            if !distributed && !value.is_finite() {
                return diverged(format!("the loss became {value}"));
            }
            if !batch.labels.is_empty() {
                correct = count_correct(out.data(), k, &batch.labels);
            }
            let grads = grad(&loss, s.model.parameters(), false).context(|| at("backward pass"))?;
            (value, Some(grads))
        };
        if distributed {
            let mut small = [loss_value, correct as f64];
            cluster.sum_f64(&mut small);
            loss_value = small[0];
            correct = small[1] as usize;
            flat.clear();
            match &grads {
                Some(grads) => grads.iter().for_each(|g| flat.extend_from_slice(g.data())),
                None => flat.resize(s.model.num_parameters(), T::zero()),
            }
            cluster.sum(flat);
            if !loss_value.is_finite() {
                return diverged(format!("the loss became {loss_value}"));
            }
        }
        sums.correct += correct;
        let grad_slices: Vec<&[T]> = match &grads {
            Some(grads) if !distributed => grads.iter().map(|g| g.data()).collect(),
            _ => {
                let mut rest = &flat[..];
                s.model
                    .parameters()
                    .iter()
                    .map(|p| {
                        let (head, tail) = rest.split_at(p.numel());
                        rest = tail;
                        head
                    })
                    .collect()
            }
        };
        let (norm, tensor_sums) = norms(&grad_slices);
        if !norm.is_finite() {
            return diverged(format!("the gradient norm became {norm}"));
        }
        let lr = {
            let mut params: Vec<&mut [T]> = s
                .model
                .parameters_mut()
                .iter_mut()
                .map(|p| p.data_mut())
                .collect();
            s.optimizer
                .step(&mut params, &grad_slices)
                .context(|| at("optimizer step"))?
                .lr
        };
        drop(grads);
        sums.lr = lr;
        s.model
            .update_running_stats(&mut ctx)
            .context(|| at("batch-norm statistics"))?;
        sums.loss_sum += loss_value * b as f64;
        sums.rows += b;
        sums.norm_sum += norm;
        sums.norm_last = norm;
        for (acc, l) in sums
            .layer_norm_sum
            .iter_mut()
            .zip(groups.norms(&tensor_sums))
        {
            *acc += l;
        }
        Ok(Some(Update::Made {
            loss: loss_value,
            lr,
        }))
    }
}

/// The Euclidean norm of all gradients together, in f64. Each tensor's two halves are summed
/// as separate pieces, side by side on the `par` team, and the pieces added in a fixed order,
/// so the result does not depend on the thread count.
#[cfg(test)]
fn global_norm<T: Element>(grads: &[Tensor<T>]) -> f64 {
    let slices: Vec<&[T]> = grads.iter().map(|g| g.data()).collect();
    norms(&slices).0
}

/// The global norm and each tensor's sum of squares.
fn norms<T: Element>(grads: &[&[T]]) -> (f64, Vec<f64>) {
    let pieces: Vec<&[T]> = grads
        .iter()
        .flat_map(|d| {
            let (a, b) = d.split_at(d.len() / 2);
            [a, b]
        })
        .collect();
    let sums: Vec<AtomicU64> = pieces.iter().map(|_| AtomicU64::new(0)).collect();
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let sum_piece = |i: usize| {
        sums[i].store(sum_of_squares(pieces[i]).to_bits(), Ordering::Relaxed);
    };
    if total >= 1 << 16 {
        trainscope_par::for_each_piece(pieces.len(), &sum_piece);
    } else {
        (0..pieces.len()).for_each(sum_piece);
    }
    let sums: Vec<f64> = sums
        .iter()
        .map(|s| f64::from_bits(s.load(Ordering::Relaxed)))
        .collect();
    let per_tensor = sums.chunks_exact(2).map(|p| p[0] + p[1]).collect();
    (sums.iter().sum::<f64>().sqrt(), per_tensor)
}

/// `Σ x²` accumulated in f64 on 32 independent lanes, so that it vectorizes and the adds do
/// not wait on each other.
fn sum_of_squares<T: Element>(x: &[T]) -> f64 {
    let mut lanes = [0.0f64; 32];
    let chunks = x.chunks_exact(32);
    let rest = chunks.remainder();
    for c in chunks {
        for (acc, &v) in lanes.iter_mut().zip(c) {
            let v = v.to_f64();
            *acc += v * v;
        }
    }
    let tail: f64 = rest.iter().map(|&v| v.to_f64() * v.to_f64()).sum();
    lanes.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::test_problems;
    use trainscope_core::set_num_threads;

    #[test]
    fn one_update_moves_the_weights_as_sgd_says() {
        // A linear model y = w x + b, full batch, plain SGD at lr 0.1, f64. With residuals
        // rᵢ = w xᵢ + b − yᵢ the MSE's gradient is ∂w = 2/n Σ rᵢ xᵢ, ∂b = 2/n Σ rᵢ, and
        // the step is θ ← θ − 0.1 ∂θ.
        let (config, data) = test_problems::regression(&[]);
        let opts = crate::RunOptions::default();
        let mut t = Trainer::<f64>::new(&config, &data, &opts).unwrap();
        let (w, b) = (
            t.s.model.parameters()[0].data()[0],
            t.s.model.parameters()[1].data()[0],
        );
        let (x, y) = (test_problems::X, test_problems::Y);
        let n = x.len() as f64;
        let r: Vec<f64> = x.iter().zip(y).map(|(x, y)| w * x + b - y).collect();
        let gw = 2.0 / n * r.iter().zip(x).map(|(r, x)| r * x).sum::<f64>();
        let gb = 2.0 / n * r.iter().sum::<f64>();
        let mse = r.iter().map(|r| r * r).sum::<f64>() / n;

        let mut sums = t.begin_epoch();
        let Some(Update::Made { loss, lr }) = t.update(1, &mut sums).unwrap() else {
            panic!("the update did not happen");
        };
        assert!((loss - mse).abs() < 1e-12, "{loss} vs {mse}");
        assert_eq!(lr, 0.1);
        let (w1, b1) = (
            t.s.model.parameters()[0].data()[0],
            t.s.model.parameters()[1].data()[0],
        );
        assert!(
            (w1 - (w - 0.1 * gw)).abs() < 1e-12,
            "{w1} vs {}",
            w - 0.1 * gw
        );
        assert!(
            (b1 - (b - 0.1 * gb)).abs() < 1e-12,
            "{b1} vs {}",
            b - 0.1 * gb
        );
        assert_eq!((sums.updates, sums.rows), (1, x.len()));
        assert_eq!(sums.lr, 0.1);
        assert!((sums.norm_last - gw.hypot(gb)).abs() < 1e-12);
        assert_eq!(t.s.optimizer.step_count(), 1);
        // Full batch: the epoch has no second update.
        assert_eq!(t.update(1, &mut sums).unwrap(), None);
    }

    #[test]
    fn sum_of_squares_matches_the_plain_sum() {
        for n in [0usize, 1, 7, 8, 9, 1000, 1003] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let plain: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            let ours = sum_of_squares(&x);
            assert!(
                (ours - plain).abs() <= 1e-12 * plain.max(1.0),
                "{n}: {ours} vs {plain}"
            );
        }
    }

    #[test]
    fn the_global_norm_covers_every_tensor_and_ignores_the_thread_count() {
        for sizes in [
            vec![3usize, 5, 1],
            vec![200_000, 256, 65_536, 256, 2_560, 10],
        ] {
            let grads: Vec<Tensor<f32>> = sizes
                .iter()
                .enumerate()
                .map(|(t, &n)| {
                    let v = (0..n).map(|i| ((i * 7 + t) as f32 * 0.01).cos()).collect();
                    Tensor::from_vec(v, &[n]).unwrap()
                })
                .collect();
            let plain: f64 = grads
                .iter()
                .flat_map(|g| g.data().iter().map(|&v| f64::from(v) * f64::from(v)))
                .sum::<f64>()
                .sqrt();
            set_num_threads(2);
            let two = global_norm(&grads);
            set_num_threads(1);
            let one = global_norm(&grads);
            set_num_threads(0);
            assert!(
                (two - plain).abs() <= 1e-12 * plain,
                "{sizes:?}: {two} vs {plain}"
            );
            assert_eq!(one.to_bits(), two.to_bits(), "{sizes:?}");
        }
    }
}
