//! The [`Trainer`]: a run's session and where it stands, and the loop that drives it through
//! its steps (updates, the end of each epoch, checkpoints) to its end, a stop, or a divergence.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use trainscope_core::Element;
use trainscope_nn::{Layer, Sequential};
use trainscope_record::Named;

use super::checkpoint::LastEpoch;
use super::epoch_end::Best;
use super::evaluate::{confusion, end_of_run_facts, evaluate};
use super::resume::{self, restore};
use super::session::Session;
use super::summary::write_summary;
use super::update::{BatchBuffers, EpochSums, Update};
use super::{files, Divergence, EpochMetrics, Observer, Position, RunInfo, RunOptions, Summary};
use crate::config::Config;
use crate::data::RunData;
use crate::distributed::Cluster;
use crate::error::{ConfigError, Context, Result, TrainError};
use crate::evidence::LayerGroups;
use crate::stamp;

/// Where a run stands; what the resume state restores.
pub(super) struct Progress {
    /// Epochs completed.
    pub(super) epoch: usize,
    /// Seconds trained before this process (a resumed run's earlier part).
    pub(super) elapsed_before: f64,
    /// True once the run has ended (last epoch, or early stopping).
    pub(super) finished: bool,
    /// True when early stopping ended the run.
    pub(super) stopped_early: bool,
    /// The best epoch and the early-stopping count.
    pub(super) best: Best,
    /// The last completed epoch's record.
    pub(super) last: Option<EpochMetrics>,
    /// The epoch whose weights `model.safetensors` holds.
    pub(super) saved_epoch: usize,
    /// The sums of the epoch in progress, when resuming a run that stopped inside it.
    pub(super) partial: Option<EpochSums>,
}

impl Progress {
    /// A run about to begin.
    pub(super) fn start() -> Progress {
        Progress {
            epoch: 0,
            elapsed_before: 0.0,
            finished: false,
            stopped_early: false,
            best: Best::default(),
            last: None,
            saved_epoch: 0,
            partial: None,
        }
    }
}

/// A run in progress: the session (model, optimizer, batcher, data), where the run stands,
/// and what its steps keep between calls. Each step is a method that can be called on its own:
/// [`update`](Trainer::update) (one mini-batch), [`end_epoch`](Trainer::end_epoch) (the
/// metrics record, the schedule's per-epoch step, early stopping),
/// [`validate`](Trainer::validate), [`checkpoint`](Trainer::checkpoint),
/// [`resume`](Trainer::resume); [`run`](Trainer::run) is the loop over them.
pub(crate) struct Trainer<'a, T: Element> {
    pub(super) s: Session<'a, T>,
    pub(super) progress: Progress,
    pub(super) config: &'a Config,
    pub(super) opts: &'a RunOptions,
    /// The layers that hold parameters (per-layer gradient norms).
    pub(super) groups: LayerGroups,
    pub(super) batch: BatchBuffers<T>,
    /// With a run directory: the last completed epoch's weights.
    pub(super) last_epoch: Option<LastEpoch<T>>,
    /// A better epoch whose weights `best.safetensors` does not hold yet.
    pub(super) best_unsaved: bool,
    pub(super) last_checkpoint: Instant,
    /// Seconds the last checkpoint took to write.
    pub(super) last_checkpoint_cost: f64,
    /// The processes sharing each batch (one alone by default).
    pub(super) cluster: Cluster,
    /// With more than one process: the flat gradient summed over them.
    pub(super) flat: Vec<T>,
    started: Instant,
}

impl<'a, T: Element> Trainer<'a, T> {
    /// A run about to begin, set up as `config` says on `data`. With a run directory the data
    /// files are stamped (every resume state carries the stamp); nothing is written yet.
    pub(crate) fn new(config: &'a Config, data: &'a RunData, opts: &'a RunOptions) -> Result<Self> {
        let started = Instant::now();
        let mut s = Session::<T>::new(config, data)?;
        if opts.out_dir.is_some() {
            s.data_stamp = Some(stamp::stamp(config, data)?);
        }
        let groups = LayerGroups::of(&s.model);
        let batch = BatchBuffers::with_capacity(s.batcher.effective_batch_size());
        Ok(Trainer {
            s,
            progress: Progress::start(),
            config,
            opts,
            groups,
            batch,
            last_epoch: None,
            best_unsaved: false,
            last_checkpoint: Instant::now(),
            last_checkpoint_cost: 0.0,
            cluster: Cluster::single(),
            flat: Vec::new(),
            started,
        })
    }

    /// The run spread over the processes of `cluster`, each computing its part of every batch.
    /// Refuses what depends on a whole batch in one process: dropout (its masks are drawn for
    /// the rows of one forward pass) and batch normalization (its statistics are the batch's).
    pub(crate) fn on(mut self, cluster: &Cluster) -> Result<Self> {
        if cluster.is_distributed() {
            let size = cluster.size();
            for (_, layer) in self.s.model.spec().leaves() {
                let what = match layer {
                    Layer::Dropout(d) if d.p > 0.0 => "dropout",
                    Layer::BatchNorm1d(_) | Layer::BatchNorm2d(_) => "batch normalization",
                    _ => continue,
                };
                return Err(TrainError::Config(ConfigError::Invalid {
                    key: "model".into(),
                    msg: format!(
                        "{what} is not supported across {size} processes (each process sees only its part of a batch); train it in one process"
                    ),
                }));
            }
        }
        self.cluster = cluster.clone();
        Ok(self)
    }

    /// The run directory, if any.
    pub(super) fn dir(&self) -> Option<&'a Path> {
        self.opts.out_dir.as_deref()
    }

    /// Seconds of training, including those before a resume.
    pub(super) fn elapsed(&self) -> f64 {
        self.progress.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// Epochs completed.
    pub(super) fn epochs_done(&self) -> usize {
        self.progress.epoch
    }

    /// Continues the run in `dir` from its resume state (after checking that the
    /// configuration, the data and every size fit); cuts `metrics.jsonl` and the trajectory
    /// back to the state's epoch.
    pub(super) fn resume(&mut self, dir: &Path) -> Result<()> {
        restore(dir, self.config, &mut self.s, &mut self.progress)
    }

    /// Continues the run in `dir` from its resume state without writing anything or checking
    /// the data stamp (the other processes of a distributed run; rank 0 checks and writes).
    pub(super) fn resume_read_only(&mut self, dir: &Path) -> Result<()> {
        let (path, bytes) = resume::read_state(dir)?;
        self.resume_from_bytes(&path, &bytes)
    }

    /// Continues from a resume state given as the bytes of its file; `path` names it in errors.
    pub(super) fn resume_from_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let state = resume::decode(path, bytes)?;
        resume::apply(path, state, self.config, &mut self.s, &mut self.progress)
    }

    /// The sums an epoch starts from: those saved by a run stopped inside it, or empty ones.
    pub(super) fn begin_epoch(&mut self) -> EpochSums {
        let layers = self.groups.names.len();
        let lr = self.s.optimizer.lr();
        self.progress
            .partial
            .take()
            .unwrap_or_else(|| EpochSums::new(lr, layers))
    }

    fn info(&self) -> RunInfo {
        let s = &self.s;
        RunInfo {
            epochs: s.epochs,
            start_epoch: self.progress.epoch,
            batches_per_epoch: s.batcher.batches_per_epoch(),
            parameters: s.model.num_parameters(),
            train_rows: s.train.n,
            val_rows: s.val.as_ref().map(|v| v.n),
            loss: s.loss,
            task: s.meta.task,
            model: s.model.spec().clone(),
        }
    }

    /// Whether a stop was asked for (on any process: all stop at the same update).
    fn stop_requested(&self) -> bool {
        let asked = self
            .opts
            .stop
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed));
        if self.cluster.is_distributed() {
            self.cluster.any(asked)
        } else {
            asked
        }
    }

    /// Runs the remaining epochs: updates until the batcher runs out (or a stop is
    /// requested), then the end of the epoch and, when due, a checkpoint; at the end, the
    /// summary. A loss, gradient or parameter that stops being finite ends the run with
    /// [`TrainError::Diverged`].
    pub(crate) fn run(&mut self, observer: &mut dyn Observer) -> Result<Summary> {
        observer.on_start(&self.info());
        // Only a run directory needs the last completed epoch's weights (to write them when the
        // run diverges or stops inside an epoch). A run resumed inside an epoch has them in
        // model.safetensors already, written when it stopped.
        if self.dir().is_some() && self.progress.partial.is_none() {
            LastEpoch::keep(&mut self.last_epoch, self.progress.epoch, &self.s.model);
        }
        self.last_checkpoint = Instant::now();
        let mut stopped_at = None;
        while !self.progress.finished && self.progress.epoch < self.s.epochs {
            let epoch = self.progress.epoch + 1;
            let mut sums = self.begin_epoch();
            let mut stop = false;
            while let Some(made) = self.update(epoch, &mut sums)? {
                match made {
                    Update::Diverged(dv) => return Err(self.diverge(dv)),
                    Update::Made { loss, .. } => observer.on_update(epoch, sums.updates, loss),
                }
                if self.stop_requested() {
                    stop = true;
                    break;
                }
            }
            if stop {
                stopped_at = Some(self.stop_inside_epoch(epoch, &sums)?);
                break;
            }
            self.check_parameters(epoch, &sums)?;
            let metrics = self.end_epoch(epoch, &sums)?;
            observer.on_epoch(&metrics);
            // A stop requested while the epoch was being evaluated ends the run here, at the
            // epoch's end, like `stop_after_epoch`.
            let stop_here = !self.progress.finished
                && (self.opts.stop_after_epoch == Some(epoch) || self.stop_requested());
            if self.dir().is_some() && !self.progress.finished {
                LastEpoch::keep(&mut self.last_epoch, epoch, &self.s.model);
            }
            if self.progress.finished || stop_here || self.checkpoint_due() {
                self.checkpoint(epoch, metrics.elapsed_s)?;
            }
            if stop_here {
                stopped_at = Some(Position {
                    epoch,
                    update: sums.updates,
                    step: self.s.optimizer.step_count(),
                });
                break;
            }
        }
        self.finish(stopped_at)
    }

    /// A divergence when a parameter is no longer finite after the updates of epoch `epoch`.
    fn check_parameters(&mut self, epoch: usize, sums: &EpochSums) -> Result<()> {
        match non_finite_parameter(&self.s.model) {
            Some(what) => Err(self.diverge(Divergence {
                epoch,
                update: sums.updates,
                step: self.s.optimizer.step_count(),
                what,
            })),
            None => Ok(()),
        }
    }

    /// Stops between two updates of epoch `epoch`: the state saved continues with the next
    /// one, the epoch's sums included; `model.safetensors` keeps its meaning, the last
    /// completed epoch's weights, and `metrics.jsonl` gets the epoch when it completes.
    fn stop_inside_epoch(&mut self, epoch: usize, sums: &EpochSums) -> Result<Position> {
        self.check_parameters(epoch, sums)?;
        if let Some(dir) = self.dir() {
            self.save_last_epoch(dir)?;
            let elapsed = self.elapsed();
            self.write_best(dir)?;
            resume::write_resume(
                &self.s,
                self.config,
                &self.progress,
                dir,
                elapsed,
                Some(sums),
            )?;
        }
        Ok(Position {
            epoch,
            update: sums.updates,
            step: self.s.optimizer.step_count(),
        })
    }

    /// Ends a run whose loss, gradient or parameters stopped being finite. `model.safetensors`
    /// gets the last completed epoch's weights (epoch 0: the initial ones) and
    /// `best.safetensors` a better epoch not yet written; the error carries the summary up to
    /// that epoch.
    ///
    /// The resume state is left at the last checkpoint: resuming replays the same updates
    /// with the same configuration, so it would diverge again at the same step; to go on from
    /// the last good weights, start a new run from `model.safetensors` (`model.init`) with
    /// other settings.
    pub(super) fn diverge(&mut self, divergence: Divergence) -> TrainError {
        if let Some(dir) = self.dir() {
            // Best effort: a failed (atomic) write leaves the earlier file, and the error still
            // names the epoch that file holds.
            let _ = self.save_last_epoch(dir);
            let _ = self.write_best(dir);
        }
        let mut summary = self.summary(self.progress.last.as_ref());
        summary.diverged = Some(divergence.clone());
        if let Some(dir) = self.dir() {
            let _ = write_summary(dir, &summary);
        }
        TrainError::Diverged {
            epoch: divergence.epoch,
            update: divergence.update,
            step: divergence.step,
            what: divergence.what,
            last_good: self
                .dir()
                .map(|d| (d.join(files::MODEL), self.progress.saved_epoch)),
            summary: Some(Box::new(summary)),
        }
    }

    /// The end of the run: with early stopping the best weights (whether or not it stopped
    /// early), and, unless it was interrupted (`stopped_at`), the test set, the confusion
    /// matrices and the end-of-run facts; `summary.json`.
    fn finish(&mut self, stopped_at: Option<Position>) -> Result<Summary> {
        let interrupted = stopped_at.is_some();
        let dir = self.dir();
        let mut reported = self.progress.last.clone();
        if self.progress.finished && !interrupted && self.s.patience.is_some() {
            if let (Some(w), Some(m)) = (&self.progress.best.weights, &self.progress.best.metrics) {
                w.apply(&mut self.s.model).map_err(|e| {
                    TrainError::Mismatch(format!("restoring the best weights: {e}"))
                })?;
                reported = Some(m.clone());
                if let Some(dir) = dir {
                    self.s.save_model(&dir.join(files::MODEL), m.epoch)?;
                }
            }
        }
        let evaluate_only = reported.is_none() && !interrupted && self.s.epochs == 0;
        if reported.is_none() && !interrupted && !evaluate_only {
            return Err(TrainError::Mismatch(
                "the run has no completed epoch to report".into(),
            ));
        }
        let mut summary = self.summary(reported.as_ref());
        if evaluate_only {
            // training.epochs = 0: the starting weights (model.init), evaluated as they are.
            let s = &self.s;
            let (loss, accuracy) =
                evaluate(&s.model, s.loss, &s.train).context(|| "training set".into())?;
            summary.train_loss = loss;
            summary.train_accuracy = accuracy;
            if let Some(v) = &s.val {
                let (loss, accuracy) =
                    evaluate(&s.model, s.loss, v).context(|| "validation set".into())?;
                summary.val_loss = Some(loss);
                summary.val_accuracy = accuracy;
            }
            if let Some(dir) = dir {
                self.s.save_model(&dir.join(files::MODEL), 0)?;
            }
        }
        // Only rank 0 reports: the other processes skip the end-of-run evaluations.
        if !interrupted && self.cluster.is_root() {
            let s = &self.s;
            if let Some(t) = &s.test {
                let (l, a) = evaluate(&s.model, s.loss, t).context(|| "test set".into())?;
                summary.test_loss = Some(l);
                summary.test_accuracy = a;
            }
            if let Some(labels) = &s.meta.schema.label_map {
                let labels = labels.labels().to_vec();
                if let Some(v) = &s.val {
                    summary.val_confusion = Some(
                        confusion(&s.model, s.loss, v, labels.clone())
                            .context(|| "validation confusion matrix".into())?,
                    );
                }
                if let Some(t) = &s.test {
                    summary.test_confusion = Some(
                        confusion(&s.model, s.loss, t, labels)
                            .context(|| "test confusion matrix".into())?,
                    );
                }
            }
            let groups = &self.groups;
            let (norm, per_layer, units) = end_of_run_facts(&s.model, s.loss, &s.train, groups)
                .context(|| "full-data gradient".into())?;
            summary.relu_units = units;
            summary.full_grad_norm = Some(norm);
            summary.full_grad_norm_per_layer =
                Named(groups.names.iter().cloned().zip(per_layer).collect());
        }
        summary.interrupted = interrupted;
        summary.stopped_at = stopped_at;
        if let Some(dir) = dir {
            write_summary(dir, &summary)?;
        }
        Ok(summary)
    }
}

/// The first parameter holding a non-finite value, as the reason for a divergence.
fn non_finite_parameter<T: Element>(model: &Sequential<T>) -> Option<String> {
    model
        .parameter_names()
        .into_iter()
        .zip(model.parameters())
        .find(|(_, p)| p.data().iter().any(|v| !v.is_finite()))
        .map(|(name, _)| format!("parameter {name} is no longer finite"))
}
