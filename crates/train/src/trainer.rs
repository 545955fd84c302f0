//! Training from a configuration: the entry points ([`train`], [`train_from_state`]), how a
//! run is followed ([`Observer`]) and what it reports ([`Summary`]). The work is done by a
//! `Trainer` (`trainer/run.rs`) in steps that can be called on their own:
//!
//! | file | what it holds |
//! |---|---|
//! | `session.rs` | the seeded setup: model, optimizer, batcher, dropout generator, loss, arrays, the trivial model's losses |
//! | `run.rs` | the `Trainer`, where a run stands (`Progress`), its loop, its end, a stop and a divergence |
//! | `update.rs` | one update (one mini-batch) and the running sums of an epoch |
//! | `epoch_end.rs` | the end of an epoch: the metrics record, the schedule's per-epoch step, early-stopping bookkeeping |
//! | `evaluate.rs` | evaluation in eval mode: loss, accuracy, confusion matrix, the end-of-run gradient and ReLU activity |
//! | `checkpoint.rs` | the run directory: checkpoints and when they are due, metrics and trajectory lines, the same-run check |
//! | `resume.rs` | the resume state (`resume.safetensors`): writing, reading, restoring |
//! | `summary.rs` | the [`Summary`] of a run and `summary.json` |
//! | `test_problems.rs` | tiny problems in memory for the steps' unit tests |

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use trainscope_core::Element;
use trainscope_data::Task;
use trainscope_nn::{Loss, ModelSpec};

use crate::config::{Config, DTypeName};
use crate::data::RunData;
use crate::distributed::Cluster;
use crate::error::{Result, TrainError};
pub use trainscope_record::EpochMetrics;

mod checkpoint;
mod epoch_end;
mod evaluate;
mod resume;
mod run;
mod session;
mod summary;
#[cfg(test)]
mod test_problems;
mod update;

pub(crate) use evaluate::{batch_loss, predicted_class};
pub(crate) use session::check_model_size;
pub use session::{loss_for_data, model_spec, model_spec_for, resolve_loss};
pub use summary::{Divergence, Position, Summary};

use run::Trainer;

/// The run directory layout (re-exported from the run record).
pub use trainscope_record::files;

/// How to run: where to write, whether to continue an earlier run, and when to stop early.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The run directory; `None` trains in memory only (cross validation).
    pub out_dir: Option<PathBuf>,
    /// Continue the run in `out_dir` from its resume state (`resume.safetensors`).
    pub resume: bool,
    /// Stop after this epoch as if interrupted (the run can be resumed).
    pub stop_after_epoch: Option<usize>,
    /// When another thread (a signal handler) sets this flag, the run stops after the update in
    /// progress: it writes the checkpoints and a resume state that continues with the next
    /// update, and returns a [`Summary`] with `interrupted` set. Checked after every update (one
    /// atomic load), so an epoch of a large dataset need not be waited for.
    pub stop: Option<Arc<AtomicBool>>,
}

/// What an [`Observer`] learns before the first epoch.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The last epoch of the run.
    pub epochs: usize,
    /// Epochs already done (non-zero when resuming).
    pub start_epoch: usize,
    /// Updates per epoch.
    pub batches_per_epoch: usize,
    /// Scalar parameters of the model.
    pub parameters: usize,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows validated on.
    pub val_rows: Option<usize>,
    /// The loss.
    pub loss: Loss,
    /// Regression or classification.
    pub task: Task,
    /// The model's layers (`ModelSpec::summary` gives its table).
    pub model: ModelSpec,
}

/// Follows a run: progress bars, log lines, or nothing.
pub trait Observer {
    /// Before the first epoch.
    fn on_start(&mut self, _info: &RunInfo) {}
    /// After every update, with its batch loss.
    fn on_update(&mut self, _epoch: usize, _update: usize, _loss: f64) {}
    /// After every epoch.
    fn on_epoch(&mut self, _metrics: &EpochMetrics) {}
    /// When the run ends, successfully or not.
    fn on_finish(&mut self) {}
}

/// An observer that reports nothing.
pub struct Silent;
impl Observer for Silent {}

/// Trains as `config` says on `data`, writing to `opts.out_dir` if given.
pub fn train(
    config: &Config,
    data: &RunData,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    train_on(config, data, opts, &Cluster::single(), observer)
}

/// [`train`] spread over the processes of `cluster` (data-parallel, see
/// [`crate::distributed`]): every process trains the same model on its part of each batch;
/// only rank 0 writes `opts.out_dir` (the others read its resume state when resuming, so on a
/// cluster the run directory must be on a shared file system). The other ranks' summaries
/// leave out the end-of-run evaluations (test set, confusion matrices, full-data gradient).
pub fn train_on(
    config: &Config,
    data: &RunData,
    opts: &RunOptions,
    cluster: &Cluster,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let result = match config.dtype {
        DTypeName::F32 => train_typed::<f32>(config, data, opts, cluster, observer),
        DTypeName::F64 => train_typed::<f64>(config, data, opts, cluster, observer),
    };
    observer.on_finish();
    result
}

/// Continues a run from a resume state given as the bytes of its file (`resume.safetensors`,
/// or `resume.json` of earlier versions when `path` ends in `.json`), in memory: what
/// `train --resume` does after reading the file, without a run directory (nothing is written,
/// and the data stamp and configuration are not compared). `path` only names the file in
/// errors.
pub fn train_from_state(
    config: &Config,
    data: &RunData,
    path: &Path,
    bytes: &[u8],
    observer: &mut dyn Observer,
) -> Result<Summary> {
    fn typed<T: Element>(
        config: &Config,
        data: &RunData,
        path: &Path,
        bytes: &[u8],
        observer: &mut dyn Observer,
    ) -> Result<Summary> {
        let opts = RunOptions::default();
        let mut trainer = Trainer::<T>::new(config, data, &opts)?;
        trainer.resume_from_bytes(path, bytes)?;
        trainer.run(observer)
    }
    let result = match config.dtype {
        DTypeName::F32 => typed::<f32>(config, data, path, bytes, observer),
        DTypeName::F64 => typed::<f64>(config, data, path, bytes, observer),
    };
    observer.on_finish();
    result
}

fn train_typed<T: Element>(
    config: &Config,
    data: &RunData,
    opts: &RunOptions,
    cluster: &Cluster,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    if !cluster.is_root() {
        // Writes nothing; reads the resume state rank 0 restores.
        let quiet = RunOptions {
            out_dir: None,
            resume: false,
            ..opts.clone()
        };
        let mut trainer = Trainer::<T>::new(config, data, &quiet)?.on(cluster)?;
        if let (true, Some(dir)) = (opts.resume, opts.out_dir.as_deref()) {
            trainer.resume_read_only(dir)?;
        }
        return trainer.run(observer);
    }
    let mut trainer = Trainer::<T>::new(config, data, opts)?.on(cluster)?;
    let dir = opts.out_dir.as_deref();
    let mut created = false;
    if let Some(dir) = dir {
        if opts.resume {
            trainer.resume(dir)?;
        } else {
            created = !dir.exists();
            checkpoint::clear_run_dir(dir)?;
        }
    }
    let result = trainer.start_run_dir().and_then(|()| trainer.run(observer));
    if let (Err(e), Some(dir)) = (&result, dir) {
        let keep = matches!(e, TrainError::Diverged { .. }) || trainer.epochs_done() > 0;
        if created && !keep {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}
