//! The resume state of a run directory, `resume.safetensors`: every tensor that training
//! carries from one update to the next (weights and batch-norm buffers, optimizer buffers,
//! the best weights so far) in the training precision, so that a resumed run is bit-identical
//! to an uninterrupted one, and the small bookkeeping (epoch, step, batcher, dropout and
//! augmentation generators, early-stopping counters, the sums of an epoch in progress, the data stamp) as
//! JSON in the file's metadata under [`KEY`].
//!
//! One file, not a JSON file beside a tensor file: a run killed at any moment leaves either the
//! previous state or the new one whole (one atomic rename), and never a bookkeeping file of
//! one checkpoint paired with tensors of another; no hash to cross-check, no generations of
//! tensor files to name and tidy.
//!
//! `resume.json` of earlier versions (the same bookkeeping with every float as decimal text)
//! is still read when no `resume.safetensors` is present.

use std::fs;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use trainscope_core::{DType, Element, Rng, Tensor};
use trainscope_data::{Batcher, BatcherState};
use trainscope_nn::Sequential;
use trainscope_optim::{OptimizerState, SchedulerState};

use super::checkpoint::check_same_run;
use super::epoch_end::Best;
use super::run::Progress;
use super::session::Session;
use super::update::EpochSums;
use super::{files, EpochMetrics};
use crate::config::{Config, DTypeName};
use crate::error::{io_err, Result, TrainError};
use crate::evidence::LayerGroups;
use crate::meta::write_atomic;
use crate::stamp::{self, DataStamp};

/// Metadata key of the bookkeeping JSON in `resume.safetensors`.
pub(crate) const KEY: &str = "trainscope.resume";

/// Parameters and buffers as f64 values (f32 widens exactly, and narrows back exactly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Weights {
    params: Vec<Vec<f64>>,
    buffers: Vec<Vec<f64>>,
    batches_tracked: Vec<u64>,
}

impl Weights {
    pub(crate) fn of<T: Element>(model: &Sequential<T>) -> Weights {
        let f = |ts: &[Tensor<T>]| -> Vec<Vec<f64>> {
            ts.iter()
                .map(|t| t.data().iter().map(|&x| Element::to_f64(x)).collect())
                .collect()
        };
        Weights {
            params: f(model.parameters()),
            buffers: f(model.buffers()),
            batches_tracked: model.batches_tracked().to_vec(),
        }
    }

    /// Whether every saved tensor has the length of the model's, naming the first that does not
    /// by its key in the resume state (`prefix` is `weights` or `best`).
    fn fits<T: Element>(
        &self,
        prefix: &str,
        model: &Sequential<T>,
    ) -> std::result::Result<(), String> {
        let check = |what: &str, ts: &[Tensor<T>], vs: &[Vec<f64>]| {
            if ts.len() != vs.len() {
                let (how, i) = if vs.len() < ts.len() {
                    ("missing", vs.len())
                } else {
                    ("unexpected", ts.len())
                };
                return Err(format!(
                    "{how} tensor \"{prefix}.{what}.{i}\": the configured model has {} {what} tensors, the saved weights {}",
                    ts.len(),
                    vs.len()
                ));
            }
            match ts.iter().zip(vs).position(|(t, v)| t.numel() != v.len()) {
                Some(i) => Err(format!(
                    "{prefix}.{what}.{i}: saved {what} tensor {i} has {} elements, the configured model's {}",
                    vs[i].len(),
                    ts[i].numel()
                )),
                None => Ok(()),
            }
        };
        check("param", model.parameters(), &self.params)?;
        check("buffer", model.buffers(), &self.buffers)?;
        if model.batches_tracked().len() != self.batches_tracked.len() {
            return Err(format!(
                "{prefix}.batches_tracked: the saved weights hold {} batch counters, the configured model {}",
                self.batches_tracked.len(),
                model.batches_tracked().len()
            ));
        }
        Ok(())
    }

    /// Copies the weights into `model`, after checking that they fit.
    pub(crate) fn apply<T: Element>(
        &self,
        model: &mut Sequential<T>,
    ) -> std::result::Result<(), String> {
        self.fits("weights", model)?;
        let copy = |ts: &mut [Tensor<T>], vs: &[Vec<f64>]| {
            for (t, v) in ts.iter_mut().zip(vs) {
                for (x, &y) in t.data_mut().iter_mut().zip(v) {
                    *x = T::from_f64(y);
                }
            }
        };
        copy(model.parameters_mut(), &self.params);
        copy(model.buffers_mut(), &self.buffers);
        model
            .batches_tracked_mut()
            .copy_from_slice(&self.batches_tracked);
        Ok(())
    }
}

/// The optimizer's state without its buffers' values (which are tensors).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OptimizerBook {
    step: u64,
    /// Epochs ended: the step of a schedule counted in epochs. Missing in states saved before
    /// it was kept, which counted their schedules in updates; the epochs completed stand in.
    #[serde(default)]
    epochs: Option<u64>,
    num_elements: Option<usize>,
    /// Buffer names in chain order; buffer `n` is the tensor `optimizer.n`.
    buffers: Vec<String>,
    scheduler: SchedulerState,
}

/// The bookkeeping JSON of `resume.safetensors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Book {
    version: String,
    dtype: DTypeName,
    /// Epochs completed.
    epoch: usize,
    step: u64,
    elapsed_s: f64,
    /// True once the run has ended (last epoch, or early stopping).
    finished: bool,
    stopped_early: bool,
    optimizer: OptimizerBook,
    batcher: BatcherState,
    dropout_rng: Rng,
    /// The augmentation generator; missing in states saved before augmentation existed (whose
    /// runs did not augment).
    #[serde(default)]
    augment_rng: Option<Rng>,
    /// Without its weights, which are the tensors `best.*`.
    best: Best,
    last: Option<EpochMetrics>,
    /// The epoch in progress when the run stopped between two of its updates; `null` at an
    /// epoch's end.
    #[serde(default)]
    partial: Option<EpochSums>,
    /// The data the run trained on.
    #[serde(default)]
    data: Option<DataStamp>,
}

/// `resume.json` as earlier versions wrote it: the bookkeeping with the weights, the best
/// weights and the optimizer buffers inline, every float as decimal text.
#[derive(Debug, Clone, Deserialize)]
struct Legacy {
    version: String,
    dtype: DTypeName,
    epoch: usize,
    step: u64,
    elapsed_s: f64,
    finished: bool,
    stopped_early: bool,
    weights: Weights,
    optimizer: OptimizerState<f64>,
    batcher: BatcherState,
    dropout_rng: Rng,
    best: Best,
    last: Option<EpochMetrics>,
    #[serde(default)]
    partial: Option<EpochSums>,
    #[serde(default)]
    data: Option<DataStamp>,
}

/// A resume state as read, either format: the weights at the end of `book.epoch` (before any
/// restore of the best weights), or, when `book.partial` is set, after the last update made
/// inside epoch `book.epoch + 1`.
pub(crate) struct State {
    book: Book,
    weights: Weights,
    optimizer: OptimizerState<f64>,
}

impl From<Legacy> for State {
    fn from(l: Legacy) -> State {
        State {
            book: Book {
                version: l.version,
                dtype: l.dtype,
                epoch: l.epoch,
                step: l.step,
                elapsed_s: l.elapsed_s,
                finished: l.finished,
                stopped_early: l.stopped_early,
                optimizer: OptimizerBook {
                    step: l.optimizer.step,
                    epochs: None,
                    num_elements: l.optimizer.num_elements,
                    buffers: l.optimizer.buffers.iter().map(|(n, _)| n.clone()).collect(),
                    scheduler: l.optimizer.scheduler,
                },
                batcher: l.batcher,
                dropout_rng: l.dropout_rng,
                augment_rng: None,
                best: l.best,
                last: l.last,
                partial: l.partial,
                data: l.data,
            },
            weights: l.weights,
            optimizer: OptimizerState {
                epochs: l.epoch as u64,
                ..l.optimizer
            },
        }
    }
}

/// A tensor to write: little-endian bytes with dtype and shape.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn float_dtype<T: Element>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// `values` as a 1-D tensor of `T` (values that came from `T` narrow back exactly).
fn floats<T: Element>(values: impl ExactSizeIterator<Item = f64>) -> Raw {
    let n = values.len();
    let mut bytes = Vec::with_capacity(n * std::mem::size_of::<T>());
    match T::DTYPE {
        DType::F32 => values.for_each(|x| bytes.extend_from_slice(&(x as f32).to_le_bytes())),
        DType::F64 => values.for_each(|x| bytes.extend_from_slice(&x.to_le_bytes())),
    }
    Raw {
        dtype: float_dtype::<T>(),
        shape: vec![n],
        bytes,
    }
}

fn counts(values: &[u64]) -> Raw {
    Raw {
        dtype: Dtype::U64,
        shape: vec![values.len()],
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// Writes `resume.safetensors` with the state as it is now: at the end of epoch
/// `progress.epoch`, or inside the next one with its running sums `partial`.
pub(crate) fn write_resume<T: Element>(
    s: &Session<'_, T>,
    config: &Config,
    progress: &Progress,
    dir: &Path,
    elapsed_s: f64,
    partial: Option<&EpochSums>,
) -> Result<()> {
    let path = dir.join(files::RESUME);
    let optimizer = s.optimizer.state();
    let book = Book {
        version: crate::VERSION.into(),
        dtype: config.dtype,
        epoch: progress.epoch,
        step: s.optimizer.step_count(),
        elapsed_s,
        finished: progress.finished,
        stopped_early: progress.stopped_early,
        optimizer: OptimizerBook {
            step: optimizer.step,
            epochs: Some(optimizer.epochs),
            num_elements: optimizer.num_elements,
            buffers: optimizer.buffers.iter().map(|(n, _)| n.clone()).collect(),
            scheduler: optimizer.scheduler,
        },
        batcher: s.batcher.state(),
        dropout_rng: s.rng.clone(),
        augment_rng: Some(s.augment_rng.clone()),
        best: progress.best.bookkeeping(),
        last: progress.last.clone(),
        partial: partial.cloned(),
        data: s.data_stamp.clone(),
    };
    let bad = |msg: String| TrainError::Checkpoint {
        path: path.clone(),
        msg,
    };
    let json = serde_json::to_string(&book)
        .map_err(|e| bad(format!("cannot encode the resume state: {e}")))?;

    let mut tensors: Vec<(String, Raw)> = Vec::new();
    let m = &s.model;
    for (i, t) in m.parameters().iter().enumerate() {
        let values = t.data().iter().map(|&x| x.to_f64());
        tensors.push((format!("weights.param.{i}"), floats::<T>(values)));
    }
    for (i, t) in m.buffers().iter().enumerate() {
        let values = t.data().iter().map(|&x| x.to_f64());
        tensors.push((format!("weights.buffer.{i}"), floats::<T>(values)));
    }
    tensors.push((
        "weights.batches_tracked".into(),
        counts(m.batches_tracked()),
    ));
    if let Some(w) = &progress.best.weights {
        for (i, v) in w.params.iter().enumerate() {
            tensors.push((format!("best.param.{i}"), floats::<T>(v.iter().copied())));
        }
        for (i, v) in w.buffers.iter().enumerate() {
            tensors.push((format!("best.buffer.{i}"), floats::<T>(v.iter().copied())));
        }
        tensors.push(("best.batches_tracked".into(), counts(&w.batches_tracked)));
    }
    for (name, v) in &optimizer.buffers {
        let values = v.iter().map(|&x| x.to_f64());
        tensors.push((format!("optimizer.{name}"), floats::<T>(values)));
    }
    let metadata = std::collections::HashMap::from([(KEY.to_string(), json)]);
    let bytes =
        safetensors::serialize(tensors.iter().map(|(n, r)| (n.as_str(), r)), Some(metadata))
            .map_err(|e| bad(format!("cannot encode the resume state: {e}")))?;
    write_atomic(&path, &bytes).map_err(io_err(&path, "cannot write"))?;
    // The state of an earlier version, now superseded (and never read while this one exists).
    let legacy = dir.join(files::LEGACY_RESUME);
    match fs::remove_file(&legacy) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io_err(&legacy, "cannot remove the superseded resume state")(e))
        }
        _ => Ok(()),
    }
}

/// Reads a resume state from its bytes: `resume.safetensors`, or `resume.json` of earlier
/// versions when `path` ends in `.json`. Checks that every tensor is there, of the state's
/// precision and one-dimensional, and that no other is; their lengths are checked against the
/// model by [`apply`]. Errors name `path` and the key at fault.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<State> {
    let bad = |msg: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        msg,
    };
    if path.extension().is_some_and(|e| e == "json") {
        let legacy: Legacy = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("malformed resume state: {e}")))?;
        return Ok(legacy.into());
    }
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(KEY))
        .ok_or_else(|| bad(format!("no \"{KEY}\" metadata: not a resume state")))?;
    let mut book: Book = serde_json::from_str(json)
        .map_err(|e| bad(format!("malformed resume state: \"{KEY}\": {e}")))?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let want = match book.dtype {
        DTypeName::F32 => Dtype::F32,
        DTypeName::F64 => Dtype::F64,
    };
    let mut read = Reader {
        st: &st,
        want,
        used: Vec::new(),
    };
    let weights = read.weights("weights").map_err(bad)?;
    let best = if read.has("best.batches_tracked") {
        Some(read.weights("best").map_err(bad)?)
    } else {
        None
    };
    let mut buffers = Vec::with_capacity(book.optimizer.buffers.len().min(16));
    for name in &book.optimizer.buffers {
        let v = read.floats(&format!("optimizer.{name}")).map_err(bad)?;
        buffers.push((name.clone(), v));
    }
    let mut names = st.names();
    names.sort();
    if let Some(extra) = names
        .into_iter()
        .find(|n| !read.used.iter().any(|u| u == *n))
    {
        return Err(bad(format!(
            "unexpected tensor \"{extra}\" (not part of a resume state)"
        )));
    }
    book.best.weights = best;
    let optimizer = OptimizerState {
        step: book.optimizer.step,
        epochs: book.optimizer.epochs.unwrap_or(book.epoch as u64),
        num_elements: book.optimizer.num_elements,
        buffers,
        scheduler: book.optimizer.scheduler,
    };
    Ok(State {
        book,
        weights,
        optimizer,
    })
}

/// Reads the tensors of a resume state, remembering which it took.
struct Reader<'a, 'b> {
    st: &'a SafeTensors<'b>,
    want: Dtype,
    used: Vec<String>,
}

impl<'b> Reader<'_, 'b> {
    fn has(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }

    /// The 1-D tensor `name` of dtype `want` (F32 or F64), as f64.
    fn floats(&mut self, name: &str) -> std::result::Result<Vec<f64>, String> {
        let view = self.view(name, self.want)?;
        let data = view.data();
        Ok(match self.want {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            _ => data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8")))
                .collect(),
        })
    }

    /// The 1-D U64 tensor `name`.
    fn counts(&mut self, name: &str) -> std::result::Result<Vec<u64>, String> {
        let view = self.view(name, Dtype::U64)?;
        Ok(view
            .data()
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
            .collect())
    }

    fn view(
        &mut self,
        name: &str,
        dtype: Dtype,
    ) -> std::result::Result<safetensors::tensor::TensorView<'b>, String> {
        let view = self
            .st
            .tensor(name)
            .map_err(|_| format!("missing tensor \"{name}\""))?;
        if view.dtype() != dtype || view.shape().len() != 1 {
            return Err(format!(
                "tensor \"{name}\" is {:?} of shape {:?}, expected a one-dimensional {dtype:?}",
                view.dtype(),
                view.shape()
            ));
        }
        self.used.push(name.to_string());
        Ok(view)
    }

    /// `prefix.param.0 …`, `prefix.buffer.0 …` (as many as there are, numbered from 0) and
    /// `prefix.batches_tracked`.
    fn weights(&mut self, prefix: &str) -> std::result::Result<Weights, String> {
        let mut list = |kind: &str| -> std::result::Result<Vec<Vec<f64>>, String> {
            let mut out = Vec::new();
            while self.has(&format!("{prefix}.{kind}.{}", out.len())) {
                out.push(self.floats(&format!("{prefix}.{kind}.{}", out.len()))?);
            }
            Ok(out)
        };
        let params = list("param")?;
        let buffers = list("buffer")?;
        let batches_tracked = self.counts(&format!("{prefix}.batches_tracked"))?;
        Ok(Weights {
            params,
            buffers,
            batches_tracked,
        })
    }
}

/// Reads the resume state of the run in `dir` and restores it into `s` and `progress`, after
/// checking that the configuration, the data and every saved size fit; then cuts
/// `metrics.jsonl` and `trajectory.jsonl` back to the state's epoch.
pub(crate) fn restore<T: Element>(
    dir: &Path,
    config: &Config,
    s: &mut Session<'_, T>,
    progress: &mut Progress,
) -> Result<()> {
    let (path, bytes) = read_state(dir)?;
    let state = decode(&path, &bytes)?;
    check_same_run(dir, config)?;
    apply(&path, state, config, s, progress)?;
    let epoch = progress.epoch;
    // An epoch may have been logged just before an interruption that kept its state unsaved.
    // (A run stopped inside an epoch has logged only the epochs before it.)
    cut_lines(&dir.join(files::METRICS), epoch)?;
    // The same for the trajectory, whose first line is epoch 0.
    cut_lines(&dir.join(files::TRAJECTORY), epoch.saturating_add(1))
}

/// The path and bytes of the resume state in `dir` (`resume.safetensors`, or `resume.json` of
/// earlier versions when only that exists).
pub(crate) fn read_state(dir: &Path) -> Result<(PathBuf, Vec<u8>)> {
    let current = dir.join(files::RESUME);
    let legacy = dir.join(files::LEGACY_RESUME);
    let path = if !current.exists() && legacy.exists() {
        legacy
    } else {
        current
    };
    let bytes = fs::read(&path).map_err(io_err(
        &path,
        "cannot read the state to resume from (was the run started with this --out?)",
    ))?;
    Ok((path, bytes))
}

/// Keeps the first `n` lines of the file at `path`, if it exists.
fn cut_lines(path: &Path, n: usize) -> Result<()> {
    if let Ok(text) = fs::read_to_string(path) {
        let kept: String = text.lines().take(n).map(|l| format!("{l}\n")).collect();
        if kept.len() != text.len() {
            write_atomic(path, kept.as_bytes()).map_err(io_err(path, "cannot write"))?;
        }
    }
    Ok(())
}

/// Restores `state` (read from `path`, which errors name) into `s` and `progress`, after
/// checking it against the data stamp, the model, the batcher and the configuration.
pub(crate) fn apply<T: Element>(
    path: &Path,
    state: State,
    config: &Config,
    s: &mut Session<'_, T>,
    progress: &mut Progress,
) -> Result<()> {
    let bad = |msg: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        msg,
    };
    let State {
        book,
        weights,
        optimizer,
    } = state;
    if let (Some(then), Some(now)) = (&book.data, &s.data_stamp) {
        stamp::check(then, now)?;
    }
    check_sizes(&book, &weights, &optimizer, s).map_err(bad)?;
    if book.dtype != config.dtype {
        return Err(bad(format!(
            "dtype: the run trained in {}, the configuration says dtype = {:?}",
            book.dtype.name(),
            config.dtype.name()
        )));
    }
    if book.partial.is_some() != book.batcher.in_epoch {
        return Err(bad(
            "partial: the batcher and the epoch sums disagree on whether an epoch is in progress"
                .into(),
        ));
    }
    weights.apply(&mut s.model).map_err(bad)?;
    s.optimizer
        .load_state(&narrow::<T>(&optimizer))
        .map_err(|e| bad(format!("optimizer: {e}")))?;
    s.batcher = Batcher::from_state(book.batcher).map_err(|e| bad(format!("batcher: {e}")))?;
    s.rng = book.dropout_rng;
    if let Some(rng) = book.augment_rng {
        s.augment_rng = rng;
    }
    *progress = Progress {
        epoch: book.epoch,
        elapsed_before: book.elapsed_s,
        finished: book.finished && (book.stopped_early || book.epoch >= config.training.epochs),
        stopped_early: book.stopped_early,
        best: book.best,
        last: book.last,
        saved_epoch: book.epoch,
        partial: book.partial,
    };
    Ok(())
}

fn narrow<T: Element>(s: &OptimizerState<f64>) -> OptimizerState<T> {
    OptimizerState {
        step: s.step,
        epochs: s.epochs,
        num_elements: s.num_elements,
        buffers: s
            .buffers
            .iter()
            .map(|(n, v)| (n.clone(), v.iter().map(|&x| T::from_f64(x)).collect()))
            .collect(),
        scheduler: s.scheduler,
    }
}

/// Bounds-checks every size and index the resume state holds against the session built from
/// the configuration and data, before any of them sizes an allocation or indexes a row: the
/// batcher's rows, batch size and position, the optimizer's element count, the shapes of the
/// weights and of the best weights, the epoch in progress. Messages start with the key.
fn check_sizes<T: Element>(
    book: &Book,
    weights: &Weights,
    optimizer: &OptimizerState<f64>,
    s: &Session<'_, T>,
) -> std::result::Result<(), String> {
    let b = &book.batcher;
    let rows = s.batcher.n_rows();
    if b.n_rows != rows {
        return Err(format!(
            "batcher.n_rows: the saved batcher covers {} rows, the training set has {rows}",
            b.n_rows
        ));
    }
    if b.batch_size.min(rows) != s.batcher.effective_batch_size() {
        return Err(format!(
            "batcher.batch_size: the saved batcher draws batches of {} rows, the configuration {}",
            b.batch_size,
            s.batcher.effective_batch_size()
        ));
    }
    if b.position > rows {
        return Err(format!(
            "batcher.position: the saved batcher position {} is past the {rows} training rows",
            b.position
        ));
    }
    if optimizer.epochs != book.epoch as u64 {
        return Err(format!(
            "optimizer.epochs: the saved schedule counted {} epochs, the state is at the end of epoch {}",
            optimizer.epochs, book.epoch
        ));
    }
    let params: usize = s.model.parameters().iter().map(|p| p.numel()).sum();
    if let Some(n) = optimizer.num_elements {
        if n != params {
            return Err(format!(
                "optimizer.num_elements: the saved optimizer state covers {n} parameters, the model has {params}"
            ));
        }
    }
    let want = optimizer.num_elements.unwrap_or(0);
    if let Some((name, v)) = optimizer.buffers.iter().find(|(_, v)| v.len() != want) {
        return Err(format!(
            "optimizer.{name}: {} elements, the optimizer state covers {want}",
            v.len()
        ));
    }
    weights.fits("weights", &s.model)?;
    if let Some(w) = &book.best.weights {
        w.fits("best", &s.model)?;
    }
    if let Some(p) = &book.partial {
        if p.rows > rows || p.updates > s.batcher.batches_per_epoch() {
            return Err(format!(
                "partial: the saved epoch in progress has {} updates over {} rows, more than an epoch holds",
                p.updates, p.rows
            ));
        }
        // Empty in states saved before per-layer norms were kept.
        let layers = LayerGroups::of(&s.model).names.len();
        if !p.layer_norm_sum.is_empty() && p.layer_norm_sum.len() != layers {
            return Err(format!(
                "partial.layer_norm_sum: {} layers saved, the model has {layers}",
                p.layer_norm_sum.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod measure {
    use super::super::{train, RunOptions, Silent};
    use super::*;
    use std::time::Instant;

    /// Size and time of the resume state of a 784-256-256-10 MLP (269,322 parameters, f32,
    /// Adam, best weights kept): `cargo test -p trainscope-train --release -- --ignored
    /// --nocapture resume_state_of_a_fashion_mnist_mlp`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn resume_state_of_a_fashion_mnist_mlp() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv: String = (0..784).map(|j| format!("px{j},")).collect();
        csv += "label\n";
        for i in 0..200usize {
            for j in 0..784usize {
                csv += &format!("{},", ((i * 31 + j * 7) % 256) as f64 / 255.0);
            }
            csv += &format!("{}\n", i % 10);
        }
        let data_path = dir.path().join("pixels.csv");
        std::fs::write(&data_path, csv).unwrap();
        let text = format!(
            "seed = 1\ndtype = \"f32\"\n[data]\ntrain = {:?}\ntarget = \"label\"\n\
             task = \"classification\"\nvalidation_fraction = 0.1\n[model]\npreset = \"mlp\"\n\
             hidden = [256, 256]\n[optimizer]\nkind = \"adam\"\nlr = 0.001\n[training]\n\
             epochs = 1\nbatch_size = 64\nearly_stopping_patience = 5\n",
            data_path.display().to_string()
        );
        let config = Config::parse(&text, Path::new("m.toml"), dir.path(), &[]).unwrap();
        let data = crate::load_run_data(&config).unwrap();
        let run = dir.path().join("run");
        let opts = RunOptions {
            out_dir: Some(run.clone()),
            ..Default::default()
        };
        train(&config, &data, &opts, &mut Silent).unwrap();

        let mut s = Session::<f32>::new(&config, &data).unwrap();
        s.data_stamp = Some(stamp::stamp(&config, &data).unwrap());
        let mut progress = Progress::start();
        restore(&run, &config, &mut s, &mut progress).unwrap();
        let n = 10;
        let t = Instant::now();
        for _ in 0..n {
            write_resume(&s, &config, &progress, &run, 0.0, None).unwrap();
        }
        let write = t.elapsed().as_secs_f64() / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            restore(&run, &config, &mut s, &mut progress).unwrap();
        }
        let read = t.elapsed().as_secs_f64() / n as f64;
        let bytes: u64 = std::fs::read_dir(&run)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("resume."))
            .map(|e| e.metadata().unwrap().len())
            .sum();
        eprintln!(
            "{} parameters: resume state {bytes} bytes, write {:.1} ms, restore {:.1} ms",
            s.model.num_parameters(),
            write * 1e3,
            read * 1e3
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::test_problems;
    use crate::trainer::{train, RunOptions, Silent};

    #[test]
    fn a_state_saved_before_the_epoch_count_was_kept_counts_the_epochs_completed() {
        let dir = tempfile::tempdir().unwrap();
        let (config, data) = test_problems::regression_in(
            dir.path(),
            &[
                "schedule.kind=step",
                "schedule.step_size=1",
                "schedule.gamma=0.5",
                "training.epochs=2",
            ],
        );
        let run = dir.path().join("run");
        let opts = RunOptions {
            out_dir: Some(run.clone()),
            ..Default::default()
        };
        train(&config, &data, &opts, &mut Silent).unwrap();
        let path = run.join(files::RESUME);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(decode(&path, &bytes).unwrap().optimizer.epochs, 2);

        // The same file without the count, as earlier versions wrote it.
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut book: serde_json::Value =
            serde_json::from_str(&header.metadata().as_ref().unwrap()[KEY]).unwrap();
        assert!(book["optimizer"]
            .as_object_mut()
            .unwrap()
            .remove("epochs")
            .is_some());
        let metadata = std::collections::HashMap::from([(KEY.to_string(), book.to_string())]);
        let old = safetensors::serialize(st.tensors(), Some(metadata)).unwrap();
        let state = decode(&path, &old).unwrap();
        assert_eq!((state.book.epoch, state.optimizer.epochs), (2, 2));
    }
}
