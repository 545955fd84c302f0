//! A plain state dict (what `safetensors.torch.save_file(model.state_dict(), path)` writes) made
//! into a complete trainscope checkpoint: its layers from a model description file (a
//! configuration's `[model]` table), its schema from the caller's options or that file, and no
//! standardization — the model takes the data's columns as they are, as it did in PyTorch.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use trainscope_core::Element;
use trainscope_data::{csv_columns, LabelMap, Schema, Task};
use trainscope_nn::{FileHeader, Inputs, Loss, ModelSpec, Sequential};

use crate::config::{located, DTypeName, LossChoice, ModelConfig, TargetColumns};
use crate::error::{ConfigError, Result, TrainError};
use crate::meta::{task_name, ModelMeta};

/// How to read a plain state dict: the file that describes its layers, and the parts of the
/// schema given directly, each of which takes the place of the file's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    /// A TOML file with a `[model]` table as a configuration has one (`layers = [...]` or a
    /// preset). A whole configuration works too: its `data.target`, `data.features`,
    /// `data.task`, `data.image_shape` and `training.loss` then fill what is not given here.
    pub model_spec: PathBuf,
    /// The target columns (one, or one per output of a regression).
    pub targets: Option<Vec<String>>,
    /// The feature columns in the order of the model's inputs [default: every column of the
    /// data file but the targets].
    pub features: Option<Vec<String>>,
    /// Regression or classification [default: what the loss implies].
    pub task: Option<Task>,
    /// The loss [default: mse for a regression, cross-entropy for several class outputs,
    /// binary cross-entropy on logits for one].
    pub loss: Option<LossChoice>,
}

/// What a model description file holds; the rest of a whole configuration is ignored.
#[derive(Deserialize)]
struct SpecFile {
    model: Option<ModelConfig>,
    #[serde(default)]
    data: SpecData,
    #[serde(default)]
    training: SpecTraining,
}

#[derive(Deserialize, Default)]
struct SpecData {
    target: Option<TargetColumns>,
    features: Option<Vec<String>>,
    task: Option<Task>,
    image_shape: Option<Vec<usize>>,
    train: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
struct SpecTraining {
    loss: Option<LossChoice>,
}

impl Import {
    /// True when the model description file is a whole configuration naming training data,
    /// whose training rows can then stand in for a data file.
    pub fn names_training_data(&self) -> bool {
        self.read_spec()
            .map(|s| s.data.train.is_some())
            .unwrap_or(false)
    }

    /// The complete checkpoint (trainscope's metadata and the model description added) for the
    /// state dict at `path`. `data`, a CSV file, gives the feature columns when neither the
    /// options nor the description file do; `needs_target` refuses to go on without a target
    /// column (scoring needs one; predicting names its output columns `output` without it).
    pub fn checkpoint(
        &self,
        path: &Path,
        data: Option<&Path>,
        needs_target: bool,
    ) -> Result<Vec<u8>> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            msg: format!("cannot read: {e}"),
        })?;
        self.checkpoint_of(path, &bytes, data, needs_target)
    }

    /// [`Import::checkpoint`] on a state dict already in memory; `path` names it in errors.
    pub fn checkpoint_of(
        &self,
        path: &Path,
        bytes: &[u8],
        data: Option<&Path>,
        needs_target: bool,
    ) -> Result<Vec<u8>> {
        let header = FileHeader::parse(path, bytes)?;
        if header.describes_model() {
            return Err(TrainError::Checkpoint {
                path: path.to_path_buf(),
                msg: "a trainscope checkpoint, which brings its own model and schema: use it \
                      without a model description"
                    .into(),
            });
        }
        let spec_file = self.read_spec()?;
        let spec_path = &self.model_spec;
        let invalid = |key: &str, msg: String| {
            TrainError::Config(ConfigError::Invalid {
                key: format!("{}: {key}", spec_path.display()),
                msg,
            })
        };
        let model = spec_file.model.ok_or_else(|| {
            invalid(
                "model",
                "missing: the model description needs a [model] table with layers = [...] or a preset".into(),
            )
        })?;
        if model.init.is_some() {
            return Err(invalid(
                "model.init",
                "a model description cannot start from a checkpoint: the state dict is the weights"
                    .into(),
            ));
        }
        if model.preset.is_none() && model.layers.is_none() {
            return Err(invalid(
                "model",
                "give the layers (layers = [...]) or a preset (preset = \"mlp\", …)".into(),
            ));
        }

        let targets: Vec<String> = match (&self.targets, &spec_file.data.target) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t.names().to_vec(),
            (None, None) if needs_target => {
                return Err(TrainError::Mismatch(format!(
                    "{}: no target column: give it with --target NAME (or data.target in {})",
                    path.display(),
                    spec_path.display()
                )))
            }
            (None, None) => vec!["output".into()],
        };
        if targets.is_empty() || targets.iter().any(|t| t.is_empty()) {
            return Err(TrainError::Mismatch(
                "--target: a column name is empty".into(),
            ));
        }
        // A whole configuration's training file stands in for a data file.
        let train_file = spec_file
            .data
            .train
            .as_ref()
            .map(|t| spec_path.parent().unwrap_or(Path::new("")).join(t));
        let data = data.or(train_file.as_deref());
        let features: Vec<String> = match (&self.features, &spec_file.data.features, data) {
            (Some(f), _, _) | (None, Some(f), _) => f.clone(),
            (None, None, Some(data)) => csv_columns(data)?
                .into_iter()
                .filter(|c| !targets.contains(c))
                .collect(),
            (None, None, None) => {
                return Err(TrainError::Mismatch(format!(
                    "{}: the feature columns are unknown: give them with --features a,b,… (or \
                     data.features in {}, or a data file whose other columns they are)",
                    path.display(),
                    spec_path.display()
                )))
            }
        };
        if features.is_empty() {
            return Err(TrainError::Mismatch(format!(
                "{}: no feature columns (every column is a target)",
                path.display()
            )));
        }
        let image_shape = spec_file.data.image_shape;
        if let Some(shape) = &image_shape {
            let pixels: usize = shape.iter().product();
            if shape.len() != 3 || pixels != features.len() {
                return Err(invalid(
                    "data.image_shape",
                    format!(
                        "{shape:?} must be [channels, height, width] with one feature column per \
                         number ({} columns)",
                        features.len()
                    ),
                ));
            }
        }

        let spec = spec_of(
            &model,
            image_shape.as_deref(),
            features.len(),
            &header,
            path,
            spec_path,
        )?;
        let outputs = spec.outputs().map_err(|e| TrainError::Checkpoint {
            path: spec_path.clone(),
            msg: format!("model description: {e}"),
        })?;

        let choice = self.loss.or(spec_file.training.loss).unwrap_or_default();
        let task = match self.task.or(spec_file.data.task) {
            Some(task) => task,
            None => match choice {
                LossChoice::Mse | LossChoice::Mae => Task::Regression,
                LossChoice::Auto => {
                    return Err(TrainError::Mismatch(format!(
                    "{}: is the model a regression or a classification? give --task (or --loss)",
                    path.display()
                )))
                }
                _ => Task::Classification,
            },
        };
        crate::config::check_loss_fits(choice, task)?;
        let (loss, label_map) = match task {
            Task::Regression => {
                if targets.len() != 1 && targets.len() != outputs {
                    return Err(TrainError::Mismatch(format!(
                        "{}: {} target columns for a model with {outputs} outputs: give one, or \
                         one per output",
                        path.display(),
                        targets.len()
                    )));
                }
                let loss = if choice == LossChoice::Mae {
                    Loss::Mae
                } else {
                    Loss::Mse
                };
                (loss, None)
            }
            Task::Classification => {
                if targets.len() != 1 {
                    return Err(TrainError::Mismatch(format!(
                        "{}: a classification has one target column, not {}",
                        path.display(),
                        targets.len()
                    )));
                }
                let (loss, classes) = match (choice, outputs) {
                    (LossChoice::Auto | LossChoice::BinaryCrossEntropyWithLogits, 1) => {
                        (Loss::BinaryCrossEntropyWithLogits, 2)
                    }
                    (LossChoice::BinaryCrossEntropyWithLogits, k) => {
                        return Err(TrainError::Mismatch(format!(
                            "{}: binary_cross_entropy_with_logits takes one output, the model \
                             has {k}",
                            path.display()
                        )))
                    }
                    (_, 1) => {
                        return Err(TrainError::Mismatch(format!(
                            "{}: a classifier with one output is read with \
                             binary_cross_entropy_with_logits, not {}",
                            path.display(),
                            loss_name(choice)
                        )))
                    }
                    (LossChoice::SoftmaxMse, k) => (Loss::SoftmaxMse, k),
                    (_, k) => (Loss::CrossEntropy, k),
                };
                (loss, Some(LabelMap::range(classes)))
            }
        };
        let meta = ModelMeta {
            schema: Schema {
                feature_names: features,
                targets,
                label_map,
            },
            feature_standardizer: None,
            target_standardizer: None,
            task,
            loss,
            dtype: if header.single_precision {
                DTypeName::F32
            } else {
                DTypeName::F64
            },
            epoch: 0,
        };
        debug_assert_eq!(task_name(task), task_name(meta.schema.task()));
        match meta.dtype {
            DTypeName::F32 => encode::<f32>(path, bytes, spec, &meta),
            DTypeName::F64 => encode::<f64>(path, bytes, spec, &meta),
        }
    }

    fn read_spec(&self) -> Result<SpecFile> {
        let path = &self.model_spec;
        let text = std::fs::read_to_string(path).map_err(|source| {
            TrainError::Config(ConfigError::Read {
                path: path.clone(),
                source,
            })
        })?;
        toml::from_str(&text).map_err(|e| TrainError::Config(located(path, &text, &e)))
    }
}

/// The model `m` describes for `inputs` features (images of `image_shape` when given); a
/// preset's output count is read off the state dict's last layer, which every preset ends with.
fn spec_of(
    m: &ModelConfig,
    image_shape: Option<&[usize]>,
    inputs: usize,
    header: &FileHeader,
    path: &Path,
    spec_path: &Path,
) -> Result<ModelSpec> {
    let shape = match image_shape {
        Some(s) => Inputs::shape(s.to_vec()),
        None => Inputs::width(inputs),
    };
    let spec = |outputs: usize| {
        crate::trainer::model_spec_for(m, &shape, outputs).ok_or_else(|| {
            TrainError::Config(ConfigError::Invalid {
                key: format!("{}: data.image_shape", spec_path.display()),
                msg: "this preset needs images: give their [channels, height, width]".into(),
            })
        })
    };
    if m.layers.is_some() {
        return spec(0);
    }
    let (last, _) = spec(1)?
        .parameter_entries()
        .pop()
        .expect("every preset ends with a linear layer");
    match header.shapes.get(&last) {
        Some(shape) if !shape.is_empty() && shape[0] > 0 => spec(shape[0]),
        _ => Err(TrainError::Checkpoint {
            path: path.to_path_buf(),
            msg: format!(
                "no tensor \"{last}\" with the output count, which the preset's last layer needs"
            ),
        }),
    }
}

fn encode<T: Element>(
    path: &Path,
    bytes: &[u8],
    spec: ModelSpec,
    meta: &ModelMeta,
) -> Result<Vec<u8>> {
    let model = Sequential::<T>::parse_pytorch(path, bytes, spec)?;
    Ok(model.encode(path, &meta.to_metadata())?)
}

fn loss_name(choice: LossChoice) -> &'static str {
    match choice {
        LossChoice::Auto => "auto",
        LossChoice::Mae => "mae",
        LossChoice::Mse => "mse",
        LossChoice::CrossEntropy => "cross_entropy",
        LossChoice::BinaryCrossEntropyWithLogits => "binary_cross_entropy_with_logits",
        LossChoice::SoftmaxMse => "softmax_mse",
    }
}
