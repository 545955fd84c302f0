//! The seeded setup of a run: the loss resolved from the task, the data standardized and
//! converted once, the model, the optimizer with its schedule, the batcher, the dropout and the
//! augmentation generators, each from its own stream of the configuration's seed.

use std::path::Path;

use trainscope_core::{seeded_rng, Element, Rng};
use trainscope_data::{Batcher, Standardizer, Task};
use trainscope_nn::{Activation, Inputs, Layer, Loss, ModelSpec, Sequential};
use trainscope_optim::{Optimizer, OptimizerOptions, ScheduleConfig};

use crate::augment::Augmenter;
use crate::baseline::Baseline;
use crate::config::{
    BatchSize, Config, LossChoice, ModelConfig, Preset, CNN_CHANNELS, CNN_KERNEL_SIZE,
};
use crate::data::{Arrays, RunData};
use crate::error::{Context, Result, TrainError};
use crate::evidence::{self, DataScales};
use crate::meta::ModelMeta;
use crate::stamp::DataStamp;

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

/// [`resolve_loss`] for the rows of `data`: a regression on K target columns needs K outputs.
pub fn loss_for_data(choice: LossChoice, data: &trainscope_data::Dataset) -> Result<(Loss, usize)> {
    let (loss, outputs) = resolve_loss(choice, data.task(), data.num_classes())?;
    Ok(match data.task() {
        Task::Regression => (loss, data.n_targets()),
        Task::Classification => (loss, outputs),
    })
}

/// Where a regression's number of outputs comes from, for errors: ` (data.target lists 2
/// columns: …)`; empty for classification.
fn targets_note(data: &trainscope_data::Dataset, outputs: usize) -> String {
    match (data.task(), data.label_map()) {
        (Task::Regression, _) => format!(
            " (one per target column: data.target lists {outputs}: {})",
            data.target_names().join(", ")
        ),
        (Task::Classification, Some(map)) => format!(
            " (for the {} classes {})",
            map.len(),
            map.labels().join(", ")
        ),
        (Task::Classification, None) => String::new(),
    }
}

/// The model a configuration describes, for `inputs` features and `outputs` outputs, the rows
/// being images of `data.image_shape` when it is given. See [`model_spec_for`].
pub fn model_spec(config: &Config, inputs: usize, outputs: usize) -> Option<ModelSpec> {
    let shape = match &config.data.image_shape {
        Some(s) => Inputs::shape(s.clone()),
        None => Inputs::width(inputs),
    };
    model_spec_for(&config.model, &shape, outputs)
}

/// The model a configuration describes for examples of shape `inputs` (a width, or an image's
/// `[C, H, W]`) and `outputs` outputs. An explicit layer list gets that shape; whether its
/// layers fit it and give `outputs` outputs is checked when the model is built. The flat
/// presets see `C·H·W` features. `None` for `model.init` (the checkpoint brings its model), and
/// for the `cnn` preset without an image shape.
pub fn model_spec_for(m: &ModelConfig, inputs: &Inputs, outputs: usize) -> Option<ModelSpec> {
    if let Some(layers) = &m.layers {
        return Some(ModelSpec::new(inputs.clone(), layers.clone()));
    }
    let width = inputs.numel();
    let activation = m.activation.unwrap_or(Activation::Relu);
    Some(match m.preset? {
        Preset::Linear => ModelSpec::linear(width, outputs),
        Preset::Sigmoids => ModelSpec::sigmoids(width, m.count.unwrap_or(1), outputs),
        Preset::ResnetMlp => ModelSpec::resnet_mlp(
            width,
            m.width.unwrap_or(1),
            m.depth.unwrap_or(0),
            activation,
            m.residual.unwrap_or(true),
            m.layer_norm,
            outputs,
        ),
        Preset::Mlp => ModelSpec::mlp(
            width,
            m.hidden.as_deref().unwrap_or(&[]),
            activation,
            m.batch_norm,
            m.dropout,
            outputs,
        ),
        Preset::Cnn => {
            let &[c, h, w] = inputs.dims() else {
                return None;
            };
            ModelSpec::cnn(
                [c, h, w],
                m.channels.as_deref().unwrap_or(&CNN_CHANNELS),
                m.kernel_size.unwrap_or(CNN_KERNEL_SIZE),
                m.hidden.as_deref().unwrap_or(&[]),
                activation,
                m.batch_norm,
                outputs,
            )
        }
    })
}

/// Refuses a preset whose model for examples of shape `inputs` and `outputs` outputs would
/// have more than [`trainscope_nn::MAX_PARAMETERS`] parameters, naming the key that sizes it.
/// A `cnn` given no image yet (before the data is read) is sized on the smallest image its
/// stages take: its convolutions' parameters do not depend on the image, its head's are then
/// fewest.
pub(crate) fn check_model_size(
    config: &Config,
    inputs: &Inputs,
    outputs: usize,
) -> std::result::Result<(), crate::error::ConfigError> {
    let m = &config.model;
    let nominal;
    let inputs = match (m.preset, inputs.dims()) {
        (Some(Preset::Cnn), [_]) if m.layers.is_none() => {
            let side = 1usize << m.channels.as_ref().map_or(2, Vec::len).min(20);
            nominal = Inputs::shape(vec![1, side, side]);
            &nominal
        }
        _ => inputs,
    };
    let count = |config: &Config| model_spec_for(&config.model, inputs, outputs)?.parameter_count();
    let limit = trainscope_nn::MAX_PARAMETERS;
    let fits = |n: Option<usize>| n.is_some_and(|n| n <= limit);
    let n = count(config);
    if m.init.is_some() || fits(n) {
        return Ok(());
    }
    let key = match m.preset {
        _ if m.layers.is_some() => "model.layers",
        Some(Preset::Sigmoids) => "model.count",
        Some(Preset::Mlp) => "model.hidden",
        Some(Preset::ResnetMlp) => "model.width",
        Some(Preset::Cnn) => {
            // The first of head, kernel and channels that, taken away, brings it in.
            let mut smaller = config.clone();
            smaller.model.hidden = None;
            if fits(count(&smaller)) {
                "model.hidden"
            } else {
                smaller.model.kernel_size = Some(1);
                if fits(count(&smaller)) {
                    "model.kernel_size"
                } else {
                    "model.channels"
                }
            }
        }
        _ => "model.preset",
    };
    let count = n.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string());
    let size = match inputs.dims() {
        [w] => format!("{w} inputs"),
        d => format!(
            "inputs {}",
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" × ")
        ),
    };
    Err(crate::error::ConfigError::Invalid {
        key: key.into(),
        msg: format!(
            "the model would have {count} parameters ({size}, {outputs} outputs), more than the limit of {limit}"
        ),
    })
}

/// The starting model `model.init` names: a trainscope checkpoint brings its own description;
/// a plain state dict (PyTorch's) is read with the configuration's layers or preset (`spec`).
fn init_model<T: Element>(init: &Path, spec: Option<ModelSpec>) -> Result<Sequential<T>> {
    let bytes = std::fs::read(init).map_err(|e| TrainError::Checkpoint {
        path: init.to_path_buf(),
        msg: format!("cannot read: {e}"),
    })?;
    let own = trainscope_nn::FileHeader::parse(init, &bytes)?.describes_model();
    let invalid = |msg: String| {
        TrainError::Config(crate::error::ConfigError::Invalid {
            key: "model.init".into(),
            msg,
        })
    };
    match (own, spec) {
        (true, None) => Ok(Sequential::<T>::parse(init, &bytes)?.model),
        (false, Some(spec)) => Ok(Sequential::<T>::parse_pytorch(init, &bytes, spec)?),
        (true, Some(_)) => Err(invalid(format!(
            "{} is a trainscope checkpoint, which brings its own model: drop model.preset and \
             model.layers",
            init.display()
        ))),
        (false, None) => Err(invalid(format!(
            "{} is a plain state dict: describe its layers with model.layers = [...] or a preset",
            init.display()
        ))),
    }
}

/// The augmentation `config` asks for, on the images of `train` (`data.image_shape`, or the
/// IDX files' own), standardized by `standardizer`.
fn augmenter(
    config: &Config,
    train: &trainscope_data::Dataset,
    standardizer: Option<&Standardizer>,
) -> Result<Option<Augmenter>> {
    let d = &config.data;
    if !d.augments() {
        return Ok(None);
    }
    let key = if d.augment_shift > 0 {
        "data.augment_shift"
    } else {
        "data.augment_hflip"
    };
    let bad = |msg: String| {
        TrainError::Config(crate::error::ConfigError::Invalid {
            key: key.into(),
            msg,
        })
    };
    let shape = match (d.image_shape.as_deref(), train.image_shape()) {
        (Some(&[c, h, w]), _) => [c, h, w],
        (None, Some(shape)) => shape,
        _ => {
            return Err(bad(
                "augmentation moves the pixels of images: give data.image_shape = [channels, height, width]".into(),
            ))
        }
    };
    let [_, h, w] = shape;
    if d.augment_shift >= h.min(w) {
        return Err(TrainError::Config(crate::error::ConfigError::Invalid {
            key: "data.augment_shift".into(),
            msg: format!(
                "a shift of {} pixels can move a {h} × {w} image out of its frame; at most {}",
                d.augment_shift,
                h.min(w) - 1
            ),
        }));
    }
    Ok(Augmenter::new(
        d.augment_shift,
        d.augment_hflip,
        shape,
        standardizer,
    ))
}

/// A model and everything that drives its training.
pub(super) struct Session<'a, T: Element> {
    pub(super) model: Sequential<T>,
    pub(super) optimizer: Optimizer<T>,
    pub(super) batcher: Batcher,
    pub(super) rng: Rng,
    /// The augmentation of training images, if configured.
    pub(super) augment: Option<Augmenter>,
    /// Its generator (drawn from even when there is none, so that nothing else depends on it).
    pub(super) augment_rng: Rng,
    pub(super) loss: Loss,
    pub(super) train: Arrays<'a, T>,
    pub(super) val: Option<Arrays<'a, T>>,
    pub(super) test: Option<Arrays<'a, T>>,
    pub(super) meta: ModelMeta,
    pub(super) baseline: (Option<f64>, Option<f64>),
    pub(super) baseline_train: Option<f64>,
    pub(super) data_scales: DataScales,
    pub(super) plateau_like: ScheduleKind,
    pub(super) patience: Option<usize>,
    pub(super) epochs: usize,
    /// The data files and set sizes, stamped into every resume state (only with a run
    /// directory: hashing the files costs a read of each).
    pub(super) data_stamp: Option<DataStamp>,
}

/// How a schedule is driven: by the step alone, or by a metric observed after every epoch.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum ScheduleKind {
    /// A function of the step.
    Pure,
    /// Reduce on plateau: watches the validation loss.
    Plateau,
    /// The metric switch: watches the training error rate (classification).
    MetricSwitch,
}

impl<'a, T: Element> Session<'a, T> {
    /// Everything seeded from the configuration: the model (initialized, or loaded from
    /// `model.init`), the optimizer with its schedule, the batcher, the dropout generator; the
    /// data standardized with the training rows' statistics, in `T`.
    pub(super) fn new(config: &Config, data: &'a RunData) -> Result<Self> {
        let train = &data.train;
        let task = train.task();
        let (loss, outputs) = loss_for_data(config.training.loss, train)?;
        // A prepared dataset brings the statistics of its rows (computed while preparing):
        // no pass over the shards.
        let prepared = data.shards.train.as_ref();
        let feature_std = match (config.data.standardize, prepared) {
            (false, _) => None,
            (true, Some(p)) => Some(p.manifest().standardizer.clone()),
            (true, None) => {
                Some(Standardizer::fit_features(train).context(|| "data.standardize".into())?)
            }
        };
        let target_std = if config.standardizes_target() {
            Some(Standardizer::fit_targets(train).context(|| "data.standardize_target".into())?)
        } else {
            None
        };
        let arrays = |d: &'a trainscope_data::Dataset| {
            Arrays::<T>::new(d, feature_std.as_ref(), target_std.as_ref())
        };
        // Shards of a window, and the next window's at its edge, stay mapped.
        let window = prepared.map(|p| trainscope_data::Window {
            rows_per_shard: p.manifest().rows_per_shard,
            shards: config
                .data
                .shuffle_window
                .unwrap_or_else(|| trainscope_data::default_shuffle_window(p.manifest())),
        });
        let train_arrays = match (prepared, window) {
            (Some(p), Some(w)) => Arrays::<T>::sharded(
                train,
                p,
                2 * w.shards.min(p.manifest().shards.len()) + 1,
                feature_std.as_ref(),
                target_std.as_ref(),
            )?,
            _ => arrays(train)?,
        };
        let val = match (&data.validation, &data.shards.validation) {
            (Some(v), Some(p)) => Some(Arrays::<T>::sharded(
                v,
                p,
                2,
                feature_std.as_ref(),
                target_std.as_ref(),
            )?),
            (v, _) => v.as_ref().map(arrays).transpose()?,
        };
        let test = data.test.as_ref().map(arrays).transpose()?;
        let d = train.n_features();

        if config.model.init.is_none() {
            if let Some(shape) = &config.data.image_shape {
                let pixels: usize = shape.iter().product();
                if pixels != d {
                    return Err(TrainError::Config(crate::error::ConfigError::Invalid {
                        key: "data.image_shape".into(),
                        msg: format!(
                            "{shape:?} is {pixels} numbers per row, but the data has {d} features"
                        ),
                    }));
                }
            }
        }
        let inputs = crate::data::input_shape(config, train);
        let is_image = inputs.dims().len() == 3;
        if config.model.init.is_none() && config.model.preset == Some(Preset::Cnn) && !is_image {
            return Err(TrainError::Config(crate::error::ConfigError::Invalid {
                key: "data.image_shape".into(),
                msg: format!(
                    "preset \"cnn\" needs images: give the shape [channels, height, width] of the {d} features of a row, or read IDX image files"
                ),
            }));
        }
        check_model_size(config, &inputs, outputs)?;
        let model = match (
            &config.model.init,
            model_spec_for(&config.model, &inputs, outputs),
        ) {
            (Some(init), spec) => {
                let m = init_model::<T>(init, spec)?;
                if m.input_size() != d || m.output_size() != outputs {
                    return Err(TrainError::Mismatch(format!(
                        "model.init: {} has {} inputs and {} outputs, the data needs {d} and {outputs}{}",
                        init.display(),
                        m.input_size(),
                        m.output_size(),
                        targets_note(train, outputs)
                    )));
                }
                m
            }
            (None, Some(spec)) => {
                let key = if config.model.layers.is_some() {
                    "model.layers"
                } else {
                    "model"
                };
                let width = spec.validate().map_err(|e| {
                    let mut msg = match e {
                        trainscope_nn::Error::Spec(m) => m,
                        other => other.to_string(),
                    };
                    if !is_image && msg.contains("[N, C, H, W] images") {
                        msg += " (rows of pixels become images with data.image_shape = [channels, height, width])";
                    }
                    TrainError::Config(crate::error::ConfigError::Invalid {
                        key: key.into(),
                        msg,
                    })
                })?;
                if width != outputs {
                    return Err(TrainError::Config(crate::error::ConfigError::Invalid {
                        key: key.into(),
                        msg: format!(
                            "the last layer gives {width} outputs, but the data needs {outputs}{}",
                            targets_note(train, outputs)
                        ),
                    }));
                }
                let mut rng = seeded_rng(stream_seed(config.seed, 1));
                Sequential::<T>::new(spec, &mut rng).context(|| "model".into())?
            }
            (None, None) => unreachable!("validated: model.preset or model.init"),
        };

        let optimizer = match &config.schedule {
            Some(s) => config
                .optimizer
                .build_with_schedule::<T>(&s.schedule)
                .map(|o| o.with_schedule_unit(s.unit)),
            None => config.optimizer.build::<T>(),
        }
        .context(|| "optimizer".into())?;
        let plateau_like = match config.schedule.as_ref().map(|s| &s.schedule) {
            Some(ScheduleConfig::Plateau(_)) => ScheduleKind::Plateau,
            Some(ScheduleConfig::MetricSwitch { .. }) => ScheduleKind::MetricSwitch,
            _ => ScheduleKind::Pure,
        };

        let n = train.n_rows();
        let batch = match config.training.batch_size {
            BatchSize::Rows(b) => b.min(n),
            BatchSize::Full => n,
        };
        // BatchNorm2d has H·W values per channel even in a batch of one image.
        let has_bn = model
            .spec()
            .leaves()
            .iter()
            .any(|(_, l)| matches!(l, Layer::BatchNorm1d(_)));
        if has_bn && (batch < 2 || (!config.training.drop_last && n % batch == 1)) {
            return Err(TrainError::Config(crate::error::ConfigError::Invalid {
                key: "training.batch_size".into(),
                msg: format!(
                    "batch normalization needs at least 2 rows per batch, but {n} training rows in batches of {batch} leave a batch of 1; change the batch size or set training.drop_last = true"
                ),
            }));
        }
        let mut batcher = Batcher::new(n, batch, stream_seed(config.seed, 2))
            .context(|| "training.batch_size".into())?
            .with_drop_last(config.training.drop_last);
        if let Some(w) = window {
            batcher = batcher
                .with_window(w)
                .context(|| "data.shuffle_window".into())?;
        }
        let rng = seeded_rng(stream_seed(config.seed, 3));
        let augment_rng = seeded_rng(stream_seed(config.seed, 4));
        let augment = augmenter(config, train, feature_std.as_ref())?;

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
            augment,
            augment_rng,
            loss,
            train: train_arrays,
            val,
            test,
            meta,
            baseline,
            baseline_train,
            data_scales: match prepared {
                Some(p) => evidence::data_scales_of_manifest(p.manifest(), train),
                None => evidence::data_scales(train),
            },
            plateau_like,
            patience: config.training.early_stopping_patience,
            epochs: config.training.epochs,
            data_stamp: None,
        })
    }

    /// Saves the model as the weights of `epoch`, with everything prediction needs.
    pub(super) fn save_model(&mut self, path: &Path, epoch: usize) -> Result<()> {
        self.meta.epoch = epoch;
        self.model.save(path, &self.meta.to_metadata())?;
        Ok(())
    }
}
