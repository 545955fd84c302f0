//! The training loop: seeded setup, one update per batch, per-epoch validation, metrics,
//! checkpoints, early stopping, and an exact resume.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use trainscope_core::{grad, no_grad, seeded_rng, Element, Rng, Tensor};
use trainscope_data::{Batcher, Standardizer, Task};
use trainscope_nn::{ForwardCtx, Layer, Loss, Mode, ModelSpec, Sequential, Target};
use trainscope_optim::{Optimizer, OptimizerOptions, ScheduleConfig};

use crate::baseline::Baseline;
use crate::config::{BatchSize, Config, DTypeName, LossChoice, Preset};
use crate::confusion::Confusion;
use crate::data::{Arrays, RunData};
use crate::error::{io_err, Context, Result, TrainError};
use crate::evidence::{self, DataScales, LayerGroups, LayerInfo, ReluActivity};
use crate::meta::{write_atomic, ModelMeta};
use crate::stamp::{self, DataStamp};
pub use trainscope_record::EpochMetrics;
use trainscope_record::Named;

mod resume;
use resume::{restore, write_resume, Weights};

/// The run directory layout (re-exported from the run record).
pub use trainscope_record::files;

/// Rows per forward pass when evaluating: large enough to keep the matrix products efficient,
/// small enough that a big validation set does not need a big graph-free buffer.
const EVAL_CHUNK: usize = 1024;

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

/// A point in a run: just after update `update` of epoch `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// 1-based epoch.
    pub epoch: usize,
    /// Updates made in that epoch (1-based index of the last one).
    pub update: usize,
    /// Updates made since the run started.
    pub step: u64,
}

/// Where and how a run diverged: the update whose loss or gradient, or the epoch whose
/// parameters, stopped being finite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based update within the epoch.
    pub update: usize,
    /// 1-based update since the run started.
    pub step: u64,
    /// What became non-finite, e.g. `the loss became NaN`.
    pub what: String,
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

/// The outcome of a run (what `trainscope train --json` prints, and `summary.json` holds).
///
/// The losses and accuracies are those of the epoch whose weights `model.safetensors` holds;
/// when no epoch completed (a run stopped or diverged inside its first epoch) `train_loss` is
/// NaN, which JSON writes as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Training loss of the epoch whose weights the model holds.
    pub train_loss: f64,
    /// Its validation loss.
    pub val_loss: Option<f64>,
    /// Its training accuracy (classification).
    pub train_accuracy: Option<f64>,
    /// Its validation accuracy (classification).
    pub val_accuracy: Option<f64>,
    /// Loss on the test set with the final weights.
    pub test_loss: Option<f64>,
    /// Accuracy on the test set with the final weights (classification).
    pub test_accuracy: Option<f64>,
    /// Classification: the confusion matrix and per-class scores of the final weights on the
    /// validation rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_confusion: Option<Confusion>,
    /// Classification: the same on the test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_confusion: Option<Confusion>,
    /// Validation loss of the trivial model: a constant prediction, the training mean
    /// (regression) or the training class frequencies (classification).
    pub baseline_val_loss: Option<f64>,
    /// Validation accuracy of always predicting the training set's majority class.
    pub baseline_val_accuracy: Option<f64>,
    /// The trivial model's loss on the training rows.
    pub baseline_train_loss: Option<f64>,
    /// Updates made (all epochs).
    pub steps: u64,
    /// Epochs completed.
    pub epochs: usize,
    /// Wall-clock seconds of the run (including time before a resume).
    pub seconds: f64,
    /// The run directory.
    pub run_dir: Option<PathBuf>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
    /// Epoch with the lowest validation loss.
    pub best_epoch: Option<usize>,
    /// True when `stop_after_epoch` or the `stop` flag ended the run before its last epoch.
    pub interrupted: bool,
    /// Where an interrupted run stopped (the resume continues just after it); `null` otherwise.
    pub stopped_at: Option<Position>,
    /// What diverged, when the run ended because the loss, the gradient or the parameters
    /// stopped being finite (the other fields then describe the last completed epoch);
    /// `null` otherwise.
    pub diverged: Option<Divergence>,
    /// The loss trained with.
    pub loss: String,
    /// Scalar parameters of the model.
    pub parameters: usize,
    /// The model as a table: every layer with its output shape and parameters.
    #[serde(default)]
    pub model: Vec<trainscope_nn::LayerRow>,
    /// Features the model takes.
    #[serde(default)]
    pub inputs: usize,
    /// The layers that hold parameters, input side first.
    #[serde(default)]
    pub layers: Vec<LayerInfo>,
    /// For every ReLU layer, how many units never fire on the training rows with the final
    /// weights (eval mode).
    #[serde(default)]
    pub relu_units: Vec<ReluActivity>,
    /// The gradient norm of the loss over all training rows at the final weights (eval mode).
    pub full_grad_norm: Option<f64>,
    /// The same per parameterized layer, by layer name.
    #[serde(default)]
    pub full_grad_norm_per_layer: Named,
    /// The raw scales of the training data, before standardization.
    pub data_scales: Option<DataScales>,
}

/// Trains as `config` says on `data`, writing to `opts.out_dir` if given.
pub fn train(
    config: &Config,
    data: &RunData,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let result = match config.dtype {
        DTypeName::F32 => train_typed::<f32>(config, data, opts, observer),
        DTypeName::F64 => train_typed::<f64>(config, data, opts, observer),
    };
    observer.on_finish();
    result
}

/// Independent random streams from one seed, so that e.g. adding dropout does not change the
/// initialization.
fn stream_seed(seed: u64, stream: u64) -> u64 {
    // splitmix64
    let mut z = seed.wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The loss `choice` resolves to, and the number of model outputs it needs. A loss that does
/// not fit the task is refused as [`Config::validate`] refuses it (key `training.loss`).
pub fn resolve_loss(
    choice: LossChoice,
    task: Task,
    classes: Option<usize>,
) -> Result<(Loss, usize)> {
    crate::config::check_loss_fits(choice, task)?;
    Ok(match task {
        Task::Regression => match choice {
            LossChoice::Auto | LossChoice::Mse => (Loss::Mse, 1),
            LossChoice::Mae => (Loss::Mae, 1),
            other => unreachable!("checked: {other:?} fits a regression"),
        },
        Task::Classification => {
            let k = classes.unwrap_or(0);
            if k < 2 {
                return Err(TrainError::Mismatch(format!(
                    "the training data has {k} class{}; classification needs at least 2",
                    if k == 1 { "" } else { "es" }
                )));
            }
            match choice {
                LossChoice::Auto if k == 2 => (Loss::BinaryCrossEntropyWithLogits, 1),
                LossChoice::Auto | LossChoice::CrossEntropy => (Loss::CrossEntropy, k),
                LossChoice::SoftmaxMse => (Loss::SoftmaxMse, k),
                LossChoice::BinaryCrossEntropyWithLogits if k == 2 => {
                    (Loss::BinaryCrossEntropyWithLogits, 1)
                }
                LossChoice::BinaryCrossEntropyWithLogits => {
                    return Err(TrainError::Config(crate::error::ConfigError::Invalid {
                        key: "training.loss".into(),
                        msg: format!(
                            "binary_cross_entropy_with_logits needs 2 classes, the data has {k}"
                        ),
                    }))
                }
                other => unreachable!("checked: {other:?} fits a classification"),
            }
        }
    })
}

/// The model a configuration describes, for `inputs` features and `outputs` outputs.
pub fn model_spec(config: &Config, inputs: usize, outputs: usize) -> Option<ModelSpec> {
    let m = &config.model;
    Some(match m.preset? {
        Preset::Linear => ModelSpec::linear(inputs, outputs),
        Preset::Sigmoids => ModelSpec::sigmoids(inputs, m.count.unwrap_or(1), outputs),
        Preset::Mlp => ModelSpec::mlp(
            inputs,
            m.hidden.as_deref().unwrap_or(&[]),
            m.activation.unwrap_or(trainscope_nn::Activation::Relu),
            m.batch_norm,
            m.dropout,
            outputs,
        ),
    })
}

/// Refuses a preset whose model for `inputs` features and `outputs` outputs would have more
/// than [`trainscope_nn::MAX_PARAMETERS`] parameters, naming the key that sizes it.
pub(crate) fn check_model_size(
    config: &Config,
    inputs: usize,
    outputs: usize,
) -> std::result::Result<(), crate::error::ConfigError> {
    let Some(spec) = model_spec(config, inputs, outputs) else {
        return Ok(());
    };
    let limit = trainscope_nn::MAX_PARAMETERS;
    let n = spec.parameter_count();
    if n.is_some_and(|n| n <= limit) {
        return Ok(());
    }
    let key = match config.model.preset {
        Some(Preset::Sigmoids) => "model.count",
        Some(Preset::Mlp) => "model.hidden",
        _ => "model.preset",
    };
    let count = n.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string());
    Err(crate::error::ConfigError::Invalid {
        key: key.into(),
        msg: format!(
            "the model would have {count} parameters ({inputs} inputs, {outputs} outputs), more than the limit of {limit}"
        ),
    })
}

/// Early-stopping bookkeeping and the best epoch so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Best {
    val_loss: Option<f64>,
    epoch: Option<usize>,
    epochs_without_improvement: usize,
    metrics: Option<EpochMetrics>,
    /// For best.safetensors and for early stopping, which restores them at the end. Stored as
    /// tensors of the resume state, not in its JSON (`resume.json` of earlier versions held
    /// them there, and is still read).
    #[serde(default, skip_serializing)]
    weights: Option<Weights>,
}

impl Best {
    /// Everything but the weights: what the resume state's JSON holds.
    fn bookkeeping(&self) -> Best {
        Best {
            val_loss: self.val_loss,
            epoch: self.epoch,
            epochs_without_improvement: self.epochs_without_improvement,
            metrics: self.metrics.clone(),
            weights: None,
        }
    }
}

/// The running sums of an epoch in progress: what its line of `metrics.jsonl` is computed
/// from. Saved when a run stops inside an epoch, so the resumed epoch reports exactly what an
/// uninterrupted one would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct EpochSums {
    /// Updates made in the epoch.
    updates: usize,
    /// Σ batch loss × batch rows.
    loss_sum: f64,
    /// Rows trained on.
    rows: usize,
    /// Rows classified correctly (classification).
    correct: usize,
    /// Σ gradient norm over the updates.
    norm_sum: f64,
    /// The last update's gradient norm.
    norm_last: f64,
    /// The last update's learning rate (before the first update: the optimizer's).
    lr: f64,
    /// Σ over the updates of each layer's gradient norm.
    #[serde(default)]
    layer_norm_sum: Vec<f64>,
}

/// The weights at the end of the last completed epoch, kept in memory so that a run that
/// diverges or stops inside an epoch can still write them as `model.safetensors`. Refreshed
/// after every epoch by copying into the same buffers: one memcpy of the parameters and
/// buffers per epoch.
struct LastEpoch<T: Element> {
    epoch: usize,
    params: Vec<Vec<T>>,
    buffers: Vec<Vec<T>>,
    batches_tracked: Vec<u64>,
}

impl<T: Element> LastEpoch<T> {
    /// Stores `model`'s weights as those of `epoch` in `slot`, reusing its buffers.
    fn keep(slot: &mut Option<LastEpoch<T>>, epoch: usize, model: &Sequential<T>) {
        let kept = slot.get_or_insert_with(|| LastEpoch {
            epoch,
            params: Vec::new(),
            buffers: Vec::new(),
            batches_tracked: Vec::new(),
        });
        let copy = |dst: &mut Vec<Vec<T>>, src: &[Tensor<T>]| {
            dst.resize_with(src.len(), Vec::new);
            for (d, t) in dst.iter_mut().zip(src) {
                d.clear();
                d.extend_from_slice(t.data());
            }
        };
        kept.epoch = epoch;
        copy(&mut kept.params, model.parameters());
        copy(&mut kept.buffers, model.buffers());
        kept.batches_tracked.clear();
        kept.batches_tracked
            .extend_from_slice(model.batches_tracked());
    }

    /// A copy of `model` holding the kept weights.
    fn model(&self, model: &Sequential<T>) -> Sequential<T> {
        let mut m = model.clone();
        for (t, v) in m.parameters_mut().iter_mut().zip(&self.params) {
            t.data_mut().copy_from_slice(v);
        }
        for (t, v) in m.buffers_mut().iter_mut().zip(&self.buffers) {
            t.data_mut().copy_from_slice(v);
        }
        m.batches_tracked_mut()
            .copy_from_slice(&self.batches_tracked);
        m
    }
}

/// A model and everything that drives its training.
struct Session<T: Element> {
    model: Sequential<T>,
    optimizer: Optimizer<T>,
    batcher: Batcher,
    rng: Rng,
    loss: Loss,
    train: Arrays<T>,
    val: Option<Arrays<T>>,
    test: Option<Arrays<T>>,
    meta: ModelMeta,
    baseline: (Option<f64>, Option<f64>),
    baseline_train: Option<f64>,
    data_scales: DataScales,
    plateau_like: ScheduleKind,
    patience: Option<usize>,
    epochs: usize,
    /// The data files and set sizes, stamped into every resume state (only with a run
    /// directory: hashing the files costs a read of each).
    data_stamp: Option<DataStamp>,
}

#[derive(Clone, Copy, PartialEq)]
enum ScheduleKind {
    Pure,
    Plateau,
    MetricSwitch,
}

impl<T: Element> Session<T> {
    fn new(config: &Config, data: &RunData) -> Result<Self> {
        let train = &data.train;
        let task = train.task();
        let (loss, outputs) = resolve_loss(config.training.loss, task, train.num_classes())?;
        let feature_std = if config.data.standardize {
            Some(Standardizer::fit_features(train).context(|| "data.standardize".into())?)
        } else {
            None
        };
        let target_std = if config.standardizes_target() {
            Some(Standardizer::fit_targets(train).context(|| "data.standardize_target".into())?)
        } else {
            None
        };
        let arrays = |d: &trainscope_data::Dataset| {
            Arrays::<T>::new(d, feature_std.as_ref(), target_std.as_ref())
        };
        let train_arrays = arrays(train)?;
        let val = data.validation.as_ref().map(arrays).transpose()?;
        let test = data.test.as_ref().map(arrays).transpose()?;
        let d = train.n_features();

        check_model_size(config, d, outputs)?;
        let model = match (&config.model.init, model_spec(config, d, outputs)) {
            (Some(init), _) => {
                let m = Sequential::<T>::load(init)?.model;
                if m.input_size() != d || m.output_size() != outputs {
                    return Err(TrainError::Mismatch(format!(
                        "model.init: {} has {} inputs and {} outputs, the data needs {d} and {outputs}",
                        init.display(),
                        m.input_size(),
                        m.output_size()
                    )));
                }
                m
            }
            (None, Some(spec)) => {
                let mut rng = seeded_rng(stream_seed(config.seed, 1));
                Sequential::<T>::new(spec, &mut rng).context(|| "model".into())?
            }
            (None, None) => unreachable!("validated: model.preset or model.init"),
        };

        let optimizer = match &config.schedule {
            Some(s) => config.optimizer.build_with_schedule::<T>(s),
            None => config.optimizer.build::<T>(),
        }
        .context(|| "optimizer".into())?;
        let plateau_like = match &config.schedule {
            Some(ScheduleConfig::Plateau(_)) => ScheduleKind::Plateau,
            Some(ScheduleConfig::MetricSwitch { .. }) => ScheduleKind::MetricSwitch,
            _ => ScheduleKind::Pure,
        };

        let n = train.n_rows();
        let batch = match config.training.batch_size {
            BatchSize::Rows(b) => b.min(n),
            BatchSize::Full => n,
        };
        let has_bn = model
            .spec()
            .layers
            .iter()
            .any(|l| matches!(l, Layer::BatchNorm1d { .. }));
        if has_bn && (batch < 2 || (!config.training.drop_last && n % batch == 1)) {
            return Err(TrainError::Config(crate::error::ConfigError::Invalid {
                key: "training.batch_size".into(),
                msg: format!(
                    "batch normalization needs at least 2 rows per batch, but {n} training rows in batches of {batch} leave a batch of 1; change the batch size or set training.drop_last = true"
                ),
            }));
        }
        let batcher = Batcher::new(n, batch, stream_seed(config.seed, 2))
            .context(|| "training.batch_size".into())?
            .with_drop_last(config.training.drop_last);
        let rng = seeded_rng(stream_seed(config.seed, 3));

        let meta = ModelMeta {
            schema: train.schema(),
            feature_standardizer: feature_std,
            target_standardizer: target_std,
            task,
            loss,
            dtype: config.dtype,
            epoch: 0,
        };
        let trivial = Baseline::fit(&train_arrays, outputs);
        let baseline_train = Some(trivial.loss(loss, &train_arrays)?);
        let baseline = match &val {
            Some(v) => (Some(trivial.loss(loss, v)?), trivial.accuracy(v)),
            None => (None, None),
        };
        Ok(Session {
            model,
            optimizer,
            batcher,
            rng,
            loss,
            train: train_arrays,
            val,
            test,
            meta,
            baseline,
            baseline_train,
            data_scales: evidence::data_scales(train),
            plateau_like,
            patience: config.training.early_stopping_patience,
            epochs: config.training.epochs,
            data_stamp: None,
        })
    }

    fn save_model(&mut self, path: &Path, epoch: usize) -> Result<()> {
        self.meta.epoch = epoch;
        self.model.save(path, &self.meta.to_metadata())?;
        Ok(())
    }
}

/// Whether a checkpoint is due `since_last` seconds after the previous one, which took
/// `last_cost` seconds to write: after `interval` seconds, and (unless `interval` is 0, every
/// epoch) no sooner than 19 times the last write's cost, so that writing a large model's
/// checkpoints takes at most 5 % of the run.
fn checkpoint_due(since_last: f64, interval: f64, last_cost: f64) -> bool {
    interval == 0.0 || since_last >= interval.max(19.0 * last_cost)
}

/// The Euclidean norm of all gradients together, in f64. Each tensor's two halves are summed
/// as separate pieces, side by side on the `par` team, and the pieces added in a fixed order,
/// so the result does not depend on the thread count.
#[cfg(test)]
fn global_norm<T: Element>(grads: &[Tensor<T>]) -> f64 {
    norms(grads).0
}

/// The global norm and each tensor's sum of squares.
fn norms<T: Element>(grads: &[Tensor<T>]) -> (f64, Vec<f64>) {
    let pieces: Vec<&[T]> = grads
        .iter()
        .flat_map(|g| {
            let d = g.data();
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

/// The loss of `out` against targets given as values (`[b, 1]`) or classes.
pub(crate) fn batch_loss<T: Element>(
    loss: Loss,
    out: &Tensor<T>,
    values: &[T],
    classes: &[u32],
) -> trainscope_core::Result<Tensor<T>> {
    if loss.takes_classes() {
        loss.compute(out, Target::Classes(classes))
    } else {
        let t = Tensor::from_slice(values, &[values.len(), 1])?;
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
fn eval_chunks<T: Element>(
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
        let x = Tensor::from_slice(&a.x[start * d..end * d], &[end - start, d])?;
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
        let l = batch_loss(loss, &out, &a.values[start..end], classes)?;
        each(start..end, &out, &l)?;
        start = end;
    }
    Ok(())
}

/// Mean loss and accuracy on `a` in Eval mode, without recording, in chunks.
fn evaluate<T: Element>(
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
fn confusion<T: Element>(
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
fn end_of_run_facts<T: Element>(
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

/// Where a run stands; what the resume state restores.
struct Progress {
    epoch: usize,
    elapsed_before: f64,
    finished: bool,
    stopped_early: bool,
    best: Best,
    last: Option<EpochMetrics>,
    /// The epoch whose weights `model.safetensors` holds.
    saved_epoch: usize,
    /// The sums of the epoch in progress, when resuming a run that stopped inside it.
    partial: Option<EpochSums>,
}

impl Progress {
    /// A run about to begin.
    fn start() -> Progress {
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
        let started = Instant::now();
        let mut s = Session::<T>::new(config, data)?;
        let mut progress = Progress::start();
        resume::apply(
            path,
            resume::decode(path, bytes)?,
            config,
            &mut s,
            &mut progress,
        )?;
        run_epochs(
            &mut s,
            config,
            &RunOptions::default(),
            &mut progress,
            started,
            observer,
        )
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
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let started = Instant::now();
    let mut s = Session::<T>::new(config, data)?;
    let mut progress = Progress::start();
    let dir = opts.out_dir.as_deref();
    let mut created = false;
    if let Some(dir) = dir {
        s.data_stamp = Some(stamp::stamp(config, data)?);
        if opts.resume {
            restore(dir, config, &mut s, &mut progress)?;
        } else {
            created = !dir.exists();
            fs::create_dir_all(dir).map_err(io_err(dir, "cannot create the run directory"))?;
            for f in [
                files::METRICS,
                files::MODEL,
                files::BEST,
                files::RESUME,
                files::LEGACY_RESUME,
                files::TRAJECTORY,
                files::SUMMARY,
            ] {
                let p = dir.join(f);
                if p.exists() {
                    fs::remove_file(&p)
                        .map_err(io_err(&p, "cannot remove the earlier run's file"))?;
                }
            }
            // Analyses of the earlier weights would describe a model that no longer exists.
            files::remove_analyses(dir)
                .map_err(io_err(dir, "cannot remove the earlier run's analyses"))?;
        }
    }
    let result = (|| {
        if let Some(dir) = dir {
            let p = dir.join(files::CONFIG);
            write_atomic(&p, config.to_toml().as_bytes()).map_err(io_err(&p, "cannot write"))?;
            if !opts.resume {
                // The weights before training: the last good checkpoint should the first
                // epoch diverge.
                s.save_model(&dir.join(files::MODEL), 0)?;
                if config.training.record_trajectory {
                    append_trajectory(dir, 0, &s.model)?;
                }
            }
        }
        run_epochs(&mut s, config, opts, &mut progress, started, observer)
    })();
    if let (Err(e), Some(dir)) = (&result, dir) {
        let keep = matches!(e, TrainError::Diverged { .. }) || progress.epoch > 0;
        if created && !keep {
            let _ = fs::remove_dir_all(dir);
        }
    }
    result
}

fn append_trajectory<T: Element>(dir: &Path, epoch: usize, model: &Sequential<T>) -> Result<()> {
    let params: Vec<f64> = model
        .parameters()
        .iter()
        .flat_map(|p| p.data().iter().map(|&v| Element::to_f64(v)))
        .collect();
    let line = serde_json::json!({ "epoch": epoch, "params": params }).to_string();
    append_line(&dir.join(files::TRAJECTORY), &line)
}

/// A resumed run must be the same run: only the number of epochs and the thread count may
/// change.
fn check_same_run(dir: &Path, config: &Config) -> Result<()> {
    let path = dir.join(files::CONFIG);
    let text = fs::read_to_string(&path).map_err(io_err(&path, "cannot read"))?;
    let saved: toml::Value = toml::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        msg: e.message().to_string(),
    })?;
    let now: toml::Value =
        toml::from_str(&config.to_toml()).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            msg: e.message().to_string(),
        })?;
    if let Some(key) = first_difference(&saved, &now, "") {
        return Err(TrainError::Checkpoint {
            path,
            msg: format!(
                "--resume: the configuration differs from the run's at {key}; only training.epochs and threads may change"
            ),
        });
    }
    Ok(())
}

fn first_difference(a: &toml::Value, b: &toml::Value, prefix: &str) -> Option<String> {
    const FREE: [&str; 3] = [
        "training.epochs",
        "threads",
        "training.checkpoint_interval_s",
    ];
    match (a, b) {
        (toml::Value::Table(ta), toml::Value::Table(tb)) => {
            let mut keys: Vec<&String> = ta.keys().chain(tb.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if FREE.contains(&key.as_str()) {
                    continue;
                }
                match (ta.get(k), tb.get(k)) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = first_difference(x, y, &key) {
                            return Some(d);
                        }
                    }
                    _ => return Some(key),
                }
            }
            None
        }
        _ => (a != b).then(|| prefix.to_string()),
    }
}

fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path, "cannot open"))?;
    f.write_all(format!("{line}\n").as_bytes())
        .map_err(io_err(path, "cannot write"))
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

fn stop_requested(opts: &RunOptions) -> bool {
    opts.stop
        .as_ref()
        .is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Why the updates of an epoch ended before the batcher ran out.
enum Halt {
    Diverged(Divergence),
    Stop,
}

fn run_epochs<T: Element>(
    s: &mut Session<T>,
    config: &Config,
    opts: &RunOptions,
    progress: &mut Progress,
    started: Instant,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let dir = opts.out_dir.as_deref();
    observer.on_start(&RunInfo {
        epochs: s.epochs,
        start_epoch: progress.epoch,
        batches_per_epoch: s.batcher.batches_per_epoch(),
        parameters: s.model.num_parameters(),
        train_rows: s.train.n,
        val_rows: s.val.as_ref().map(|v| v.n),
        loss: s.loss,
        task: s.meta.task,
        model: s.model.spec().clone(),
    });
    let (d, k) = (s.train.d, s.model.output_size());
    // Reused across updates so that steady training allocates no batch buffers.
    let cap = s.batcher.effective_batch_size();
    let mut yb: Vec<T> = Vec::with_capacity(cap);
    let mut cb: Vec<u32> = Vec::with_capacity(cap);
    let mut lb: Vec<usize> = Vec::with_capacity(cap);
    let takes_classes = s.loss.takes_classes();
    let mut interrupted = false;
    let mut stopped_at = None;
    let mut best_unsaved = false;
    let mut last_checkpoint = Instant::now();
    let mut last_checkpoint_cost = 0.0;
    let groups = LayerGroups::of(&s.model);
    // Only a run directory needs the last completed epoch's weights (to write them when the
    // run diverges or stops inside an epoch). A run resumed inside an epoch has them in
    // model.safetensors already, written when it stopped.
    let mut last_epoch: Option<LastEpoch<T>> = None;
    if dir.is_some() && progress.partial.is_none() {
        LastEpoch::keep(&mut last_epoch, progress.epoch, &s.model);
    }

    while !progress.finished && progress.epoch < s.epochs {
        let epoch = progress.epoch + 1;
        let mut sums = progress.partial.take().unwrap_or_else(|| EpochSums {
            lr: s.optimizer.lr(),
            layer_norm_sum: vec![0.0; groups.names.len()],
            ..EpochSums::default()
        });
        let mut halt = None;
        while let Some(idx) = s.batcher.next_indices() {
            sums.updates += 1;
            let update = sums.updates;
            let b = idx.len();
            yb.clear();
            cb.clear();
            lb.clear();
            for &r in idx {
                if takes_classes {
                    cb.push(s.train.classes[r]);
                } else {
                    yb.push(s.train.values[r]);
                }
                if let Some(labels) = &s.train.labels {
                    lb.push(labels[r]);
                }
            }
            let step = s.optimizer.step_count() + 1;
            let at = |what: &str| format!("epoch {epoch}, update {update}: {what}");
            let mut ctx = ForwardCtx::new(&mut s.rng);
            // The graph (x, out, loss) is dropped at the end of this block, before the update,
            // so the parameters' buffers are no longer shared and change in place.
            let (loss_value, grads) = {
                let x = Tensor::gather_rows(&s.train.x, d, idx).context(|| at("batch"))?;
                let out = s
                    .model
                    .forward_with(s.model.parameters(), &x, Mode::Train, &mut ctx)
                    .context(|| at("forward pass"))?;
                let loss = batch_loss(s.loss, &out, &yb, &cb).context(|| at("loss"))?;
                let value = loss.item().context(|| at("loss"))?.to_f64();
                if !value.is_finite() {
                    halt = Some(Halt::Diverged(Divergence {
                        epoch,
                        update,
                        step,
                        what: format!("the loss became {value}"),
                    }));
                    break;
                }
                if !lb.is_empty() {
                    sums.correct += count_correct(out.data(), k, &lb);
                }
                let grads =
                    grad(&loss, s.model.parameters(), false).context(|| at("backward pass"))?;
                (value, grads)
            };
            let (norm, tensor_sums) = norms(&grads);
            if !norm.is_finite() {
                halt = Some(Halt::Diverged(Divergence {
                    epoch,
                    update,
                    step,
                    what: format!("the gradient norm became {norm}"),
                }));
                break;
            }
            {
                let grad_slices: Vec<&[T]> = grads.iter().map(|g| g.data()).collect();
                let mut params: Vec<&mut [T]> = s
                    .model
                    .parameters_mut()
                    .iter_mut()
                    .map(|p| p.data_mut())
                    .collect();
                let report = s
                    .optimizer
                    .step(&mut params, &grad_slices)
                    .context(|| at("optimizer step"))?;
                sums.lr = report.lr;
            }
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
            observer.on_update(epoch, update, loss_value);
            if stop_requested(opts) {
                halt = Some(Halt::Stop);
                break;
            }
        }

        let step = s.optimizer.step_count();
        let diverged = |what| Divergence {
            epoch,
            update: sums.updates,
            step,
            what,
        };
        match halt {
            Some(Halt::Diverged(dv)) => {
                return Err(diverge(
                    s,
                    progress,
                    last_epoch.as_ref(),
                    best_unsaved,
                    dv,
                    dir,
                    started,
                ))
            }
            // Stopped between two updates: the state saved continues with the next one, the
            // epoch's sums included; metrics.jsonl gets the epoch when it completes.
            Some(Halt::Stop) => {
                if let Some(what) = non_finite_parameter(&s.model) {
                    let dv = diverged(what);
                    return Err(diverge(
                        s,
                        progress,
                        last_epoch.as_ref(),
                        best_unsaved,
                        dv,
                        dir,
                        started,
                    ));
                }
                if let Some(dir) = dir {
                    // model.safetensors keeps its meaning, the last completed epoch's weights.
                    if let Some(kept) = &last_epoch {
                        s.meta.epoch = kept.epoch;
                        kept.model(&s.model)
                            .save(dir.join(files::MODEL), &s.meta.to_metadata())?;
                        progress.saved_epoch = kept.epoch;
                    }
                    let elapsed = progress.elapsed_before + started.elapsed().as_secs_f64();
                    write_best(s, progress, dir, &mut best_unsaved)?;
                    write_resume(s, config, progress, dir, elapsed, Some(&sums))?;
                }
                stopped_at = Some(Position {
                    epoch,
                    update: sums.updates,
                    step,
                });
                interrupted = true;
                break;
            }
            None => {}
        }
        if let Some(what) = non_finite_parameter(&s.model) {
            let dv = diverged(what);
            return Err(diverge(
                s,
                progress,
                last_epoch.as_ref(),
                best_unsaved,
                dv,
                dir,
                started,
            ));
        }
        let (val_loss, val_accuracy) = match &s.val {
            Some(v) => {
                let (l, a) = evaluate(&s.model, s.loss, v)
                    .context(|| format!("epoch {epoch}: validation"))?;
                (Some(l), a)
            }
            None => (None, None),
        };
        let train_loss = sums.loss_sum / sums.rows.max(1) as f64;
        let train_accuracy = s
            .train
            .labels
            .as_ref()
            .map(|_| sums.correct as f64 / sums.rows.max(1) as f64);
        let metrics = EpochMetrics {
            epoch,
            step,
            train_loss,
            val_loss,
            train_accuracy,
            val_accuracy,
            grad_norm: sums.norm_sum / sums.updates.max(1) as f64,
            grad_norm_last: sums.norm_last,
            grad_norm_per_layer: Named(
                groups
                    .names
                    .iter()
                    .cloned()
                    .zip(
                        sums.layer_norm_sum
                            .iter()
                            .map(|v| v / sums.updates.max(1) as f64),
                    )
                    .collect(),
            ),
            lr: sums.lr,
            elapsed_s: progress.elapsed_before + started.elapsed().as_secs_f64(),
        };
        // Metric-driven schedules: plateau watches the validation loss; the metric switch
        // watches the training error rate in classification (the ResNet warm-up's trigger) and
        // the validation loss in regression. Without validation, the training loss stands in.
        let watched = match (s.plateau_like, train_accuracy) {
            (ScheduleKind::Pure, _) => None,
            (ScheduleKind::MetricSwitch, Some(acc)) => Some(1.0 - acc),
            _ => Some(val_loss.unwrap_or(train_loss)),
        };
        if let Some(m) = watched {
            s.optimizer.observe(m);
        }

        if let Some(dir) = dir {
            let line = serde_json::to_string(&metrics).expect("metrics serialize");
            append_line(&dir.join(files::METRICS), &line)?;
            if config.training.record_trajectory {
                append_trajectory(dir, epoch, &s.model)?;
            }
        }
        if let Some(v) = val_loss {
            if progress.best.val_loss.is_none_or_greater(v) {
                progress.best.val_loss = Some(v);
                progress.best.epoch = Some(epoch);
                progress.best.epochs_without_improvement = 0;
                progress.best.metrics = Some(metrics.clone());
                progress.best.weights = Some(Weights::of(&s.model));
                best_unsaved = true;
            } else {
                progress.best.epochs_without_improvement += 1;
            }
        }
        progress.epoch = epoch;
        progress.last = Some(metrics.clone());
        observer.on_epoch(&metrics);
        if let Some(p) = s.patience {
            if progress.best.epochs_without_improvement >= p {
                progress.stopped_early = true;
            }
        }
        progress.finished = progress.stopped_early || epoch >= s.epochs;
        // A stop requested while the epoch was being evaluated ends the run here, at the
        // epoch's end, like `stop_after_epoch`.
        let stop_here =
            !progress.finished && (opts.stop_after_epoch == Some(epoch) || stop_requested(opts));
        if dir.is_some() && !progress.finished {
            LastEpoch::keep(&mut last_epoch, epoch, &s.model);
        }

        // Checkpoints are synced to disk, which costs more than a whole epoch of a small
        // model: they are written at most every `checkpoint_interval_s` (and no more often
        // than keeps them within 5 % of the time), and always at the end. A run killed in
        // between resumes from the last one and replays the rest exactly.
        let due = progress.finished
            || stop_here
            || checkpoint_due(
                last_checkpoint.elapsed().as_secs_f64(),
                config.training.checkpoint_interval_s,
                last_checkpoint_cost,
            );
        if let (Some(dir), true) = (dir, due) {
            let written = Instant::now();
            write_best(s, progress, dir, &mut best_unsaved)?;
            s.save_model(&dir.join(files::MODEL), epoch)?;
            progress.saved_epoch = epoch;
            write_resume(s, config, progress, dir, metrics.elapsed_s, None)?;
            last_checkpoint_cost = written.elapsed().as_secs_f64();
            last_checkpoint = Instant::now();
        }
        if stop_here {
            interrupted = true;
            stopped_at = Some(Position {
                epoch,
                update: sums.updates,
                step,
            });
            break;
        }
    }

    // With early stopping the run ends on the best weights, whether or not it stopped early.
    let mut reported = progress.last.clone();
    if progress.finished && !interrupted && s.patience.is_some() {
        if let (Some(w), Some(m)) = (&progress.best.weights, &progress.best.metrics) {
            w.apply(&mut s.model)
                .map_err(|e| TrainError::Mismatch(format!("restoring the best weights: {e}")))?;
            reported = Some(m.clone());
            if let Some(dir) = dir {
                s.save_model(&dir.join(files::MODEL), m.epoch)?;
            }
        }
    }
    if reported.is_none() && !interrupted {
        return Err(TrainError::Mismatch(
            "the run has no completed epoch to report".into(),
        ));
    }
    let mut summary = summarize(s, progress, reported.as_ref(), dir, started);
    if !interrupted {
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
        let (norm, per_layer, units) = end_of_run_facts(&s.model, s.loss, &s.train, &groups)
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

/// `summary.json`: what the findings read besides the metrics and the configuration.
fn write_summary(dir: &Path, summary: &Summary) -> Result<()> {
    let p = dir.join(files::SUMMARY);
    let json = serde_json::to_vec_pretty(summary).map_err(|e| TrainError::Checkpoint {
        path: p.clone(),
        msg: format!("cannot encode the summary: {e}"),
    })?;
    write_atomic(&p, &json).map_err(io_err(&p, "cannot write"))
}

/// The summary of the run so far, reporting the metrics of `reported` (the epoch whose weights
/// the model holds); no test-set figures.
fn summarize<T: Element>(
    s: &Session<T>,
    progress: &Progress,
    reported: Option<&EpochMetrics>,
    dir: Option<&Path>,
    started: Instant,
) -> Summary {
    Summary {
        train_loss: reported.map_or(f64::NAN, |m| m.train_loss),
        val_loss: reported.and_then(|m| m.val_loss),
        train_accuracy: reported.and_then(|m| m.train_accuracy),
        val_accuracy: reported.and_then(|m| m.val_accuracy),
        test_loss: None,
        test_accuracy: None,
        val_confusion: None,
        test_confusion: None,
        baseline_val_loss: s.baseline.0,
        baseline_val_accuracy: s.baseline.1,
        baseline_train_loss: s.baseline_train,
        steps: s.optimizer.step_count(),
        epochs: progress.epoch,
        seconds: progress.elapsed_before + started.elapsed().as_secs_f64(),
        run_dir: dir.map(Path::to_path_buf),
        stopped_early: progress.stopped_early,
        best_epoch: progress.best.epoch,
        interrupted: false,
        stopped_at: None,
        diverged: None,
        loss: s.loss.name().to_string(),
        parameters: s.model.num_parameters(),
        layers: evidence::layer_infos(&s.model),
        model: s.model.spec().summary(),
        inputs: s.model.input_size(),
        relu_units: Vec::new(),
        full_grad_norm: None,
        full_grad_norm_per_layer: Named::default(),
        data_scales: Some(s.data_scales.clone()),
    }
}

/// Ends a run whose loss, gradient or parameters stopped being finite. `model.safetensors`
/// gets the last completed epoch's weights (epoch 0: the initial ones) and `best.safetensors`
/// a better epoch not yet written; the error carries the summary up to that epoch.
///
/// `resume.json` is left at the last checkpoint: resuming replays the same updates with the
/// same configuration, so it would diverge again at the same step; to go on from the last
/// good weights, start a new run from `model.safetensors` (`model.init`) with other settings.
fn diverge<T: Element>(
    s: &mut Session<T>,
    progress: &mut Progress,
    last_epoch: Option<&LastEpoch<T>>,
    mut best_unsaved: bool,
    divergence: Divergence,
    dir: Option<&Path>,
    started: Instant,
) -> TrainError {
    if let Some(dir) = dir {
        // Best effort: a failed (atomic) write leaves the earlier file, and the error still
        // names the epoch that file holds.
        if let Some(kept) = last_epoch {
            s.meta.epoch = kept.epoch;
            if kept
                .model(&s.model)
                .save(dir.join(files::MODEL), &s.meta.to_metadata())
                .is_ok()
            {
                progress.saved_epoch = kept.epoch;
            }
        }
        let _ = write_best(s, progress, dir, &mut best_unsaved);
    }
    let mut summary = summarize(s, progress, progress.last.as_ref(), dir, started);
    summary.diverged = Some(divergence.clone());
    if let Some(dir) = dir {
        let _ = write_summary(dir, &summary);
    }
    TrainError::Diverged {
        epoch: divergence.epoch,
        update: divergence.update,
        step: divergence.step,
        what: divergence.what,
        last_good: dir.map(|d| (d.join(files::MODEL), progress.saved_epoch)),
        summary: Some(Box::new(summary)),
    }
}

/// Writes `best.safetensors` when a better epoch has not been written yet.
fn write_best<T: Element>(
    s: &mut Session<T>,
    progress: &Progress,
    dir: &Path,
    best_unsaved: &mut bool,
) -> Result<()> {
    if !*best_unsaved {
        return Ok(());
    }
    if let Some(w) = &progress.best.weights {
        let mut best = s.model.clone();
        w.apply(&mut best).map_err(TrainError::Mismatch)?;
        s.meta.epoch = progress.best.epoch.unwrap_or(progress.epoch);
        best.save(dir.join(files::BEST), &s.meta.to_metadata())?;
    }
    *best_unsaved = false;
    Ok(())
}

trait Improves {
    fn is_none_or_greater(&self, v: f64) -> bool;
}

impl Improves for Option<f64> {
    fn is_none_or_greater(&self, v: f64) -> bool {
        match self {
            None => v.is_finite(),
            Some(best) => v < *best,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{checkpoint_due, global_norm, sum_of_squares};
    use trainscope_core::{set_num_threads, Tensor};

    #[test]
    fn checkpoints_keep_to_the_interval_and_to_five_percent_of_the_time() {
        // Cheap checkpoints: the interval decides.
        assert!(!checkpoint_due(1.9, 2.0, 0.01));
        assert!(checkpoint_due(2.0, 2.0, 0.01));
        // A checkpoint that took 0.5 s: the next one waits 9.5 s, not 2.
        assert!(!checkpoint_due(5.0, 2.0, 0.5));
        assert!(checkpoint_due(9.5, 2.0, 0.5));
        // Interval 0 means every epoch, whatever the cost.
        assert!(checkpoint_due(0.0, 0.0, 10.0));
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
