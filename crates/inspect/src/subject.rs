//! A checkpoint and the data it was trained on, as the loss function the diagnostics analyse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trainscope_core::Element;
use trainscope_data::{Dataset, Targets};
use trainscope_diag::{EvalOptions, LossFunction, Share, Targets as DiagTargets};
use trainscope_nn::Sequential;
use trainscope_train::{files, load_run_data, Config, DTypeName, ModelMeta};

use crate::error::{invalid, Result};

/// Where a checkpoint and its run directory are, from a path that names either.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// The run directory when the path named one (its metrics are then analysed too).
    pub run_dir: Option<PathBuf>,
    /// A run configuration that names the training data: the run directory's `config.toml`,
    /// or the one beside a checkpoint file.
    pub config: Option<PathBuf>,
}

/// Resolves a run directory (its model, [`files::checkpoint_of`]: the same checkpoint for
/// every command) or a checkpoint file.
pub fn resolve_checkpoint(path: &Path) -> Result<Resolved> {
    if path.is_dir() {
        let checkpoint = files::checkpoint_of(path);
        if !checkpoint.is_file() {
            return Err(invalid(format!(
                "{}: no {} in this directory: not a run directory",
                path.display(),
                files::MODEL
            )));
        }
        let config = Some(path.join(files::CONFIG)).filter(|c| c.is_file());
        return Ok(Resolved {
            checkpoint,
            run_dir: Some(path.to_path_buf()),
            config,
        });
    }
    if path.is_file() {
        let config = path
            .parent()
            .map(|d| d.join(files::CONFIG))
            .filter(|c| c.is_file());
        return Ok(Resolved {
            checkpoint: path.to_path_buf(),
            run_dir: None,
            config,
        });
    }
    Err(invalid(format!(
        "{}: no such run directory or checkpoint",
        path.display()
    )))
}

/// Where the rows of a [`Subject`] came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubjectData {
    /// The file, or the configuration whose training rows were used.
    pub source: String,
    /// Number of rows.
    pub rows: usize,
}

/// A loaded checkpoint with its metadata, ready to be turned into a loss function.
pub struct Subject {
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// Its trainscope metadata (schema, standardization, loss, dtype).
    pub meta: ModelMeta,
    /// The model in f64 (an f32 checkpoint is widened exactly).
    pub model: Sequential<f64>,
}

impl Subject {
    /// Loads a trainscope checkpoint; errors name the file.
    pub fn load(checkpoint: &Path) -> Result<Subject> {
        let bytes = std::fs::read(checkpoint)
            .map_err(|e| invalid(format!("{}: cannot read: {e}", checkpoint.display())))?;
        Subject::parse(checkpoint, &bytes)
    }

    /// [`Subject::load`] on a checkpoint's content already in memory (or a state dict made
    /// into one, [`trainscope_train::Import`]); `checkpoint` names it in errors.
    pub fn parse(checkpoint: &Path, bytes: &[u8]) -> Result<Subject> {
        let ckpt = Sequential::<f64>::parse(checkpoint, bytes)?;
        let meta = ModelMeta::from_metadata(checkpoint, &ckpt.metadata)?;
        if ckpt.model.input_size() != meta.schema.feature_names.len() {
            return Err(invalid(format!(
                "{}: the model takes {} inputs but the schema lists {} features",
                checkpoint.display(),
                ckpt.model.input_size(),
                meta.schema.feature_names.len()
            )));
        }
        meta.check_scorable(checkpoint, ckpt.model.output_size())?;
        Ok(Subject {
            checkpoint: checkpoint.to_path_buf(),
            meta,
            model: ckpt.model,
        })
    }

    /// The rows to analyse: `data` read with the checkpoint's schema, else the training rows of
    /// `config` (after its validation split, exactly as the run trained).
    pub fn data(&self, data: Option<&Path>, config: Option<&Path>) -> Result<(Dataset, String)> {
        match (data, config) {
            (Some(d), _) => Ok((self.meta.schema.load(d)?, d.display().to_string())),
            (None, Some(c)) => {
                let config = Config::load(c, &[])?;
                let run = load_run_data(&config)?;
                let train = run.train;
                if train.feature_names() != self.meta.schema.feature_names.as_slice() {
                    return Err(invalid(format!(
                        "{}: its training data's columns do not match the checkpoint's features; \
                         give the data with --data",
                        c.display()
                    )));
                }
                Ok((train, format!("the training rows of {}", c.display())))
            }
            (None, None) => Err(invalid(format!(
                "{}: no config.toml beside the checkpoint to find the training data; give it \
                 with --data FILE",
                self.checkpoint.display()
            ))),
        }
    }
}

/// The full-data loss of `model` on `data` exactly as training computed it: features (and a
/// regression target) standardized with the checkpoint's statistics, classes or 0/1 values as
/// the loss takes them, evaluated in f64 with the options' mode (Eval: batch norm's running
/// statistics, no dropout).
pub fn loss_function(
    meta: &ModelMeta,
    model: Sequential<f64>,
    data: &Dataset,
    opts: EvalOptions,
) -> Result<LossFunction<'static>> {
    loss_function_shared(meta, model, data, opts, None)
}

/// [`loss_function`] with this process's share of the rows (several processes, MPI).
pub fn loss_function_shared(
    meta: &ModelMeta,
    model: Sequential<f64>,
    data: &Dataset,
    opts: EvalOptions,
    share: Option<Share>,
) -> Result<LossFunction<'static>> {
    let mut x = data.features().to_vec();
    if let Some(s) = &meta.feature_standardizer {
        s.transform(&mut x)?;
    }
    let targets = match data.targets() {
        Targets::Regression(y) => {
            let mut y = y.clone();
            if let Some(s) = &meta.target_standardizer {
                s.transform(&mut y)?;
            }
            DiagTargets::Values {
                data: y,
                width: data.n_targets(),
            }
        }
        Targets::Classes(c) if meta.loss.takes_classes() => {
            DiagTargets::Classes(c.iter().map(|&k| k as u32).collect())
        }
        Targets::Classes(c) => DiagTargets::Values {
            data: c.iter().map(|&k| k as f64).collect(),
            width: 1,
        },
    };
    Ok(LossFunction::from_model_shared(
        model, &x, targets, meta.loss, opts, share,
    )?)
}

/// Writes the checkpoint `bytes` (read from `checkpoint`) with its parameters replaced by the
/// flat vector `theta` (PyTorch `state_dict` order) to `out`: same model, buffers and metadata,
/// in the checkpoint's own precision, so `predict`, `eval` and `model.init` accept it like the
/// original.
pub fn save_parameters(checkpoint: &Path, bytes: &[u8], theta: &[f64], out: &Path) -> Result<()> {
    let head = Sequential::<f64>::parse(checkpoint, bytes)?;
    let meta = ModelMeta::from_metadata(checkpoint, &head.metadata)?;
    match meta.dtype {
        DTypeName::F64 => write_with::<f64>(checkpoint, bytes, theta, out),
        DTypeName::F32 => write_with::<f32>(checkpoint, bytes, theta, out),
    }
}

fn write_with<T: Element>(
    checkpoint: &Path,
    bytes: &[u8],
    theta: &[f64],
    out: &Path,
) -> Result<()> {
    let mut ckpt = Sequential::<T>::parse(checkpoint, bytes)?;
    let n = ckpt.model.num_parameters();
    if theta.len() != n {
        return Err(invalid(format!(
            "{} parameter values for a model with {n}",
            theta.len()
        )));
    }
    let mut rest = theta;
    for t in ckpt.model.parameters_mut() {
        let (head, tail) = rest.split_at(t.numel());
        for (x, &v) in t.data_mut().iter_mut().zip(head) {
            *x = T::from_f64(v);
        }
        rest = tail;
    }
    let metadata: BTreeMap<String, String> = ckpt.metadata;
    ckpt.model.save(out, &metadata)?;
    Ok(())
}
