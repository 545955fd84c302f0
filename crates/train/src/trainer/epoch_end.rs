//! The end of an epoch: validation, the epoch's metrics record (`metrics.jsonl`, the
//! trajectory), the schedule's per-epoch step, and the early-stopping bookkeeping.

use serde::{Deserialize, Serialize};
use trainscope_core::Element;
use trainscope_record::Named;

use super::checkpoint::{append_line, append_trajectory};
use super::resume::Weights;
use super::run::Trainer;
use super::session::ScheduleKind;
use super::update::EpochSums;
use super::{files, EpochMetrics};
use crate::error::{Context, Result};

/// Early-stopping bookkeeping and the best epoch so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Best {
    /// The lowest validation loss so far.
    pub(super) val_loss: Option<f64>,
    /// Its epoch.
    pub(super) epoch: Option<usize>,
    /// Epochs since it (what early stopping's patience counts).
    pub(super) epochs_without_improvement: usize,
    /// Its epoch's metrics (what a run that ends on the best weights reports).
    pub(super) metrics: Option<EpochMetrics>,
    /// For best.safetensors and for early stopping, which restores them at the end. Stored as
    /// tensors of the resume state, not in its JSON (`resume.json` of earlier versions held
    /// them there, and is still read).
    #[serde(default, skip_serializing)]
    pub(super) weights: Option<Weights>,
}

impl Best {
    /// Everything but the weights: what the resume state's JSON holds.
    pub(super) fn bookkeeping(&self) -> Best {
        Best {
            val_loss: self.val_loss,
            epoch: self.epoch,
            epochs_without_improvement: self.epochs_without_improvement,
            metrics: self.metrics.clone(),
            weights: None,
        }
    }

    /// Records the validation loss `val_loss` of epoch `epoch`, whose record is `metrics`: a
    /// lower loss than any before (or the first finite one) becomes the best and resets the
    /// count of epochs without improvement; any other (a NaN too) adds one to it. Returns true
    /// for a new best, whose weights the caller keeps.
    pub(super) fn record(&mut self, epoch: usize, val_loss: f64, metrics: &EpochMetrics) -> bool {
        let better = match self.val_loss {
            None => val_loss.is_finite(),
            Some(best) => val_loss < best,
        };
        if better {
            self.val_loss = Some(val_loss);
            self.epoch = Some(epoch);
            self.epochs_without_improvement = 0;
            self.metrics = Some(metrics.clone());
        } else {
            self.epochs_without_improvement += 1;
        }
        better
    }

    /// Whether early stopping with `patience` ends the run: that many epochs without a lower
    /// validation loss.
    pub(super) fn patience_exhausted(&self, patience: Option<usize>) -> bool {
        patience.is_some_and(|p| self.epochs_without_improvement >= p)
    }
}

impl<T: Element> Trainer<'_, T> {
    /// Ends epoch `epoch`, whose updates summed to `sums`: validates, makes the epoch's
    /// metrics record and appends it to `metrics.jsonl` (and the weights to the trajectory when
    /// asked), gives the schedule its per-epoch step, keeps the best epoch and counts the
    /// epochs without improvement; then marks the epoch done, and the run finished when it was
    /// the last epoch or early stopping ends it. Checkpoints are a separate step.
    pub(super) fn end_epoch(&mut self, epoch: usize, sums: &EpochSums) -> Result<EpochMetrics> {
        let (val_loss, val_accuracy) = self
            .validate()
            .context(|| format!("epoch {epoch}: validation"))?;
        let metrics = self.epoch_metrics(epoch, sums, val_loss, val_accuracy);
        self.schedule_epoch(&metrics);
        if let Some(dir) = self.dir() {
            let line = serde_json::to_string(&metrics).expect("metrics serialize");
            append_line(&dir.join(files::METRICS), &line)?;
            if self.config.training.record_trajectory {
                append_trajectory(dir, epoch, &self.s.model)?;
            }
        }
        if let Some(v) = val_loss {
            if self.progress.best.record(epoch, v, &metrics) {
                self.progress.best.weights = Some(Weights::of(&self.s.model));
                self.best_unsaved = true;
            }
        }
        let p = &mut self.progress;
        p.epoch = epoch;
        p.last = Some(metrics.clone());
        if p.best.patience_exhausted(self.s.patience) {
            p.stopped_early = true;
        }
        p.finished = p.stopped_early || epoch >= self.s.epochs;
        Ok(metrics)
    }

    /// The metrics record of epoch `epoch` from its sums and its validation figures.
    fn epoch_metrics(
        &self,
        epoch: usize,
        sums: &EpochSums,
        val_loss: Option<f64>,
        val_accuracy: Option<f64>,
    ) -> EpochMetrics {
        let updates = sums.updates.max(1) as f64;
        EpochMetrics {
            epoch,
            step: self.s.optimizer.step_count(),
            train_loss: sums.train_loss(),
            val_loss,
            train_accuracy: self
                .s
                .train
                .labels
                .as_ref()
                .map(|_| sums.correct as f64 / sums.rows.max(1) as f64),
            val_accuracy,
            grad_norm: sums.norm_sum / updates,
            grad_norm_last: sums.norm_last,
            grad_norm_per_layer: Named(
                self.groups
                    .names
                    .iter()
                    .cloned()
                    .zip(sums.layer_norm_sum.iter().map(|v| v / updates))
                    .collect(),
            ),
            lr: sums.lr,
            elapsed_s: self.elapsed(),
        }
    }

    /// The schedule's step at the end of an epoch. A schedule counted in epochs moves to its
    /// next step (the optimizer counts the epochs whatever the unit). Metric-driven schedules
    /// observe a metric: plateau the validation loss; the metric switch the training error
    /// rate in classification (the ResNet warm-up's trigger) and the validation loss in
    /// regression. Without validation, the training loss stands in.
    fn schedule_epoch(&mut self, m: &EpochMetrics) {
        self.s.optimizer.end_epoch();
        let watched = match (self.s.plateau_like, m.train_accuracy) {
            (ScheduleKind::Pure, _) => None,
            (ScheduleKind::MetricSwitch, Some(acc)) => Some(1.0 - acc),
            _ => Some(m.val_loss.unwrap_or(m.train_loss)),
        };
        if let Some(v) = watched {
            self.s.optimizer.observe(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::test_problems;
    use crate::trainer::update::Update;

    fn metrics(epoch: usize) -> EpochMetrics {
        EpochMetrics {
            epoch,
            step: epoch as u64,
            train_loss: 1.0,
            val_loss: None,
            train_accuracy: None,
            val_accuracy: None,
            grad_norm: 0.0,
            grad_norm_last: 0.0,
            grad_norm_per_layer: Named::default(),
            lr: 0.1,
            elapsed_s: 0.0,
        }
    }

    #[test]
    fn early_stopping_bookkeeping_keeps_the_best_epoch() {
        let mut best = Best::default();
        // Epoch:             1     2     3     4     5     6
        let losses = [f64::NAN, 0.8, 0.9, 0.8, 0.7, 0.75];
        let new_best = [false, true, false, false, true, false];
        let best_epoch = [None, Some(2), Some(2), Some(2), Some(5), Some(5)];
        let waited = [1, 0, 1, 2, 0, 1];
        for (i, &l) in losses.iter().enumerate() {
            let epoch = i + 1;
            assert_eq!(
                best.record(epoch, l, &metrics(epoch)),
                new_best[i],
                "epoch {epoch}"
            );
            assert_eq!(best.epoch, best_epoch[i], "epoch {epoch}");
            assert_eq!(best.epochs_without_improvement, waited[i], "epoch {epoch}");
        }
        // A tie (0.8 at epoch 4) is no improvement; the kept record is the best epoch's.
        assert_eq!(best.val_loss, Some(0.7));
        assert_eq!(best.metrics.as_ref().map(|m| m.epoch), Some(5));
        assert!(best.patience_exhausted(Some(1)));
        assert!(!best.patience_exhausted(Some(2)));
        assert!(!best.patience_exhausted(None));
    }

    #[test]
    fn the_end_of_an_epoch_writes_one_metrics_record() {
        let dir = tempfile::tempdir().unwrap();
        let (config, data) = test_problems::regression_in(dir.path(), &[]);
        let opts = crate::RunOptions {
            out_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let mut t = Trainer::<f64>::new(&config, &data, &opts).unwrap();
        let read = || -> Vec<EpochMetrics> {
            std::fs::read_to_string(dir.path().join(files::METRICS))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        for epoch in 1..=2 {
            let mut sums = t.begin_epoch();
            while t.update(epoch, &mut sums).unwrap().is_some() {}
            let (val_loss, _) = t.validate().unwrap();
            let m = t.end_epoch(epoch, &sums).unwrap();
            let lines = read();
            assert_eq!(lines.len(), epoch);
            let last = lines.last().unwrap();
            assert_eq!(last, &m);
            assert_eq!((m.epoch, m.step), (epoch, epoch as u64));
            assert_eq!(m.train_loss, sums.train_loss());
            assert_eq!(m.val_loss, val_loss);
            assert_eq!(m.lr, 0.1);
            assert_eq!(t.progress.epoch, epoch);
            assert_eq!(t.progress.best.epoch, Some(epoch), "the loss falls");
        }
        assert!(!t.progress.finished);
    }

    #[test]
    fn a_schedule_counted_in_epochs_steps_once_per_epoch() {
        // StepLR(step_size = 2, gamma = 0.5) with scheduler.step() once per epoch: every
        // update of epoch e (from 1) uses 0.1 · 0.5^⌊(e − 1) / 2⌋. Four rows in batches of one:
        // four updates per epoch.
        let expect = |e: usize| 0.1 * 0.5f64.powi(((e - 1) / 2) as i32);
        let sets = [
            "training.batch_size=1",
            "schedule.kind=step",
            "schedule.step_size=2",
            "schedule.gamma=0.5",
        ];
        let mut epoch_unit = sets.to_vec();
        epoch_unit.push("schedule.unit=epoch");
        let (config, data) = test_problems::regression(&epoch_unit);
        let opts = crate::RunOptions::default();
        let mut t = Trainer::<f64>::new(&config, &data, &opts).unwrap();
        for epoch in 1..=6 {
            let mut sums = t.begin_epoch();
            assert_eq!(sums.lr, expect(epoch), "the rate before epoch {epoch}");
            let mut rates = Vec::new();
            while let Some(u) = t.update(epoch, &mut sums).unwrap() {
                let Update::Made { lr, .. } = u else {
                    panic!("diverged");
                };
                rates.push(lr);
            }
            assert_eq!(rates, vec![expect(epoch); 4], "epoch {epoch}");
            let m = t.end_epoch(epoch, &sums).unwrap();
            assert_eq!(m.lr, expect(epoch));
            assert_eq!(t.s.optimizer.epoch_count(), epoch as u64);
        }

        // Counted in updates (the default), the same schedule halves every second update.
        let (config, data) = test_problems::regression(&sets);
        let mut t = Trainer::<f64>::new(&config, &data, &opts).unwrap();
        let mut sums = t.begin_epoch();
        let mut rates = Vec::new();
        while let Some(Update::Made { lr, .. }) = t.update(1, &mut sums).unwrap() {
            rates.push(lr);
        }
        assert_eq!(rates, [0.1, 0.1, 0.05, 0.05]);
    }
}
