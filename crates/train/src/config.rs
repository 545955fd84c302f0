//! The training configuration: a TOML file, `--set key=value` overrides, and validation whose
//! errors name the file, line and column, or the key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use trainscope_data::Task;
use trainscope_nn::{Activation, Loss};
use trainscope_optim::{
    AdamOptions, OptimizerConfig, OptimizerOptions, ScheduleConfig, ScheduleUnit,
};

use crate::error::ConfigError;

/// A whole training configuration, as read from TOML. Every key is documented in the README's
/// "Configuration" section; unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Seeds the initialization, the validation split, the shuffles and dropout.
    #[serde(default)]
    pub seed: u64,
    /// Threads for large matrix products; 0 uses every core.
    #[serde(default)]
    pub threads: usize,
    /// Element type of the model and of training.
    #[serde(default)]
    pub dtype: DTypeName,
    /// Where the data comes from and how it is prepared.
    pub data: DataConfig,
    /// The model; without a `[model]` table, [`ModelConfig::default`] (an MLP).
    #[serde(default)]
    pub model: ModelConfig,
    /// The optimizer (optim's configuration, selected by `kind`, which defaults to `"adam"`).
    #[serde(
        default = "default_optimizer",
        deserialize_with = "optimizer_adam_by_default"
    )]
    pub optimizer: OptimizerConfig,
    /// An optional learning-rate schedule (optim's configuration, selected by `kind`) and
    /// the unit its steps count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSection>,
    /// Epochs, batches, loss, early stopping.
    #[serde(default)]
    pub training: TrainingConfig,
}

fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig::Adam(AdamOptions::default())
}

/// The optimizer kind an `[optimizer]` table without `kind` selects (as the README says).
const DEFAULT_OPTIMIZER_KIND: &str = "adam";

/// Reads `[optimizer]`, taking a missing `kind` as [`DEFAULT_OPTIMIZER_KIND`]: the tagged enum
/// alone would reject `[optimizer] lr = 0.1` with "missing field `kind`".
fn optimizer_adam_by_default<'de, D: Deserializer<'de>>(d: D) -> Result<OptimizerConfig, D::Error> {
    let mut table = toml::Table::deserialize(d)?;
    table
        .entry("kind")
        .or_insert_with(|| toml::Value::String(DEFAULT_OPTIMIZER_KIND.into()));
    // The message alone: the outer deserializer adds the table's position, which `located`
    // then narrows to the key.
    OptimizerConfig::deserialize(toml::Value::Table(table))
        .map_err(|e| de::Error::custom(e.message().trim()))
}

/// The `[schedule]` table: a schedule (optim's [`ScheduleConfig`], selected by `kind`) and
/// `unit`, what its steps count.
///
/// ```toml
/// [schedule]
/// kind = "step"
/// step_size = 30      # epochs, with unit = "epoch"
/// gamma = 0.1
/// unit = "epoch"      # "update" (the default) or "epoch"
/// ```
///
/// With `unit = "update"` step `t` counts optimizer updates; with `unit = "epoch"` it counts
/// epochs, so every update of epoch `e` (from 0) uses `lr(e)` and the schedule's step counts
/// (`step_size`, `milestones`, `t_max`, `warmup_steps`, …) are epochs: PyTorch's
/// `scheduler.step()` once per epoch. The metric-driven kinds (`plateau`, `metric_switch`)
/// observe a metric once per epoch whatever the unit, so their unit is `"epoch"` and
/// `"update"` is refused. Loading always resolves `unit`, so a run directory's `config.toml`
/// states it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSection {
    /// The schedule.
    pub schedule: ScheduleConfig,
    /// What its steps count.
    pub unit: ScheduleUnit,
}

/// The start of the error for `unit = "update"` on a metric-driven schedule (the `--set`
/// handling recognizes it when a kind change brings it in).
const UNIT_PER_EPOCH: &str = "schedule.unit = \"update\" does not apply";

impl ScheduleSection {
    /// `schedule` in its default unit: epochs for the metric-driven kinds, updates otherwise.
    pub fn new(schedule: ScheduleConfig) -> Self {
        let unit = if metric_driven(&schedule) {
            ScheduleUnit::Epoch
        } else {
            ScheduleUnit::Update
        };
        ScheduleSection { schedule, unit }
    }
}

/// Whether a schedule observes a metric (once per epoch) instead of following its step.
fn metric_driven(s: &ScheduleConfig) -> bool {
    matches!(
        s,
        ScheduleConfig::Plateau(_) | ScheduleConfig::MetricSwitch { .. }
    )
}

impl Serialize for ScheduleSection {
    /// The schedule's own keys, `kind` first, then `unit`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Flattening works when serializing (reading back is what it cannot do with a tagged
        // enum and unknown-key checks, hence the hand-written `Deserialize`).
        #[derive(Serialize)]
        struct Table<'a> {
            #[serde(flatten)]
            schedule: &'a ScheduleConfig,
            unit: ScheduleUnit,
        }
        Table {
            schedule: &self.schedule,
            unit: self.unit,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ScheduleSection {
    /// Takes `unit` out of the table and reads the rest as the schedule `kind` selects (whose
    /// unknown keys are errors). A missing `unit` is the kind's default.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(d)?;
        if !table.contains_key("kind") {
            // E.g. `--set schedule.unit=epoch` on a configuration without a schedule.
            return Err(de::Error::custom(
                "missing field `kind`: a schedule names its kind (constant, step, multistep, \
                 exponential, inverse_time, polynomial, cosine, cosine_restarts, linear, \
                 sequential, noam, plateau, metric_switch)",
            ));
        }
        let unit = table.remove("unit");
        // The message alone: the outer deserializer adds the table's position, which
        // `located` then narrows to the key.
        let schedule = ScheduleConfig::deserialize(toml::Value::Table(table))
            .map_err(|e| de::Error::custom(e.message().trim()))?;
        let mut section = ScheduleSection::new(schedule);
        let Some(unit) = unit else {
            return Ok(section);
        };
        section.unit = match unit.as_str() {
            Some("update") => ScheduleUnit::Update,
            Some("epoch") => ScheduleUnit::Epoch,
            _ => {
                return Err(de::Error::custom(format!(
                    "schedule.unit must be \"update\" or \"epoch\", not {unit}"
                )))
            }
        };
        if metric_driven(&section.schedule) && section.unit == ScheduleUnit::Update {
            let kind = match section.schedule {
                ScheduleConfig::Plateau(_) => "plateau",
                _ => "metric_switch",
            };
            return Err(de::Error::custom(format!(
                "{UNIT_PER_EPOCH} to {kind}, which observes a metric once per epoch: its unit is \"epoch\""
            )));
        }
        Ok(section)
    }
}

/// `"f32"` or `"f64"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DTypeName {
    /// Single precision (the default: twice the speed, half the memory).
    #[default]
    F32,
    /// Double precision.
    F64,
}

impl DTypeName {
    /// `"f32"` or `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            DTypeName::F32 => "f32",
            DTypeName::F64 => "f64",
        }
    }
}

/// `data.target`: one column name, or a list of them (regression with several outputs).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TargetColumns {
    /// `target = "y"`.
    One(String),
    /// `target = ["y0", "y1"]`.
    Many(Vec<String>),
}

impl TargetColumns {
    /// The column names, in order.
    pub fn names(&self) -> &[String] {
        match self {
            TargetColumns::One(name) => std::slice::from_ref(name),
            TargetColumns::Many(names) => names,
        }
    }
}

impl<'de> Deserialize<'de> for TargetColumns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = TargetColumns;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a column name or a list of column names")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(TargetColumns::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(TargetColumns::Many(names))
            }
        }
        d.deserialize_any(Names)
    }
}

impl From<&str> for TargetColumns {
    fn from(name: &str) -> Self {
        TargetColumns::One(name.to_string())
    }
}

/// How the training data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// A CSV file with a header row (plain or gzip).
    #[default]
    Csv,
    /// MNIST-style IDX image and label files (plain or gzip).
    Idx,
}

/// The `[data]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `"csv"` (default) or `"idx"`.
    #[serde(default)]
    pub format: DataFormat,
    /// CSV: the training file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<PathBuf>,
    /// CSV: the target column, or for a regression with several outputs a list of columns
    /// (one model output each, in this order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetColumns>,
    /// CSV: `"regression"` or `"classification"` (IDX is always classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// CSV: the feature columns, in order; default every column but the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// CSV: a validation file with the same columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<PathBuf>,
    /// Hold out this fraction of the training rows for validation (seeded by `seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,
    /// Keep class proportions in the validation split and in cross-validation folds.
    #[serde(default)]
    pub stratify: bool,
    /// Standardize features with the training set's mean and standard deviation.
    #[serde(default = "yes")]
    pub standardize: bool,
    /// Regression: standardize the target too (predictions are converted back). Unset means
    /// yes for regression (see [`Config::standardizes_target`]); loading a file records the
    /// choice so that a run directory's `config.toml` states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardize_target: Option<bool>,
    /// CSV: a test file, evaluated once at the end (never used to choose anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<PathBuf>,
    /// IDX: training images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_images: Option<PathBuf>,
    /// The shape `[C, H, W]` of one example when the feature columns are an image's pixels in
    /// C, H, W row-major order (what a convolution needs); without it, rows are flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_shape: Option<Vec<usize>>,
    /// Augmentation: shift each training image by up to this many pixels in each direction
    /// (uniform whole numbers; vacated pixels are zero). 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub augment_shift: usize,
    /// Augmentation: mirror each training image left to right with probability 1/2.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub augment_hflip: bool,
    /// IDX: training labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_labels: Option<PathBuf>,
    /// IDX: test images, evaluated once at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_images: Option<PathBuf>,
    /// IDX: test labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_labels: Option<PathBuf>,
    /// A prepared dataset (`data.train` a `.tsd` directory): the rows of this many shards,
    /// taken in a shuffled shard order, are shuffled among themselves each epoch (see
    /// [`trainscope_data::Window`]); default: shards making about 256 MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle_window: Option<usize>,
}

impl DataConfig {
    /// Whether training images are augmented (`augment_shift` or `augment_hflip`).
    pub fn augments(&self) -> bool {
        self.augment_shift > 0 || self.augment_hflip
    }
}

fn yes() -> bool {
    true
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// `linear`, `sigmoids`, `mlp`, `resnet_mlp` or `cnn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// `y = b + Wx`.
    Linear,
    /// `y = b + cᵀσ(b + W x)` with `count` sigmoids.
    Sigmoids,
    /// Hidden layers of the widths in `hidden`.
    Mlp,
    /// `depth` hidden layers of `width` units, every one after the first inside a residual
    /// block (`residual = true`, the default) or plain, optionally layer-normalized.
    #[serde(rename = "resnet_mlp")]
    ResnetMlp,
    /// Convolution stages of the widths in `channels` (convolution, batch norm if
    /// `batch_norm`, activation, 2 × 2 max pooling), then an MLP head of the widths in
    /// `hidden`; needs images (`data.image_shape`, or IDX files).
    Cnn,
}

/// The `[model]` section. Without one, the model is [`ModelConfig::default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The model family. With `init`, only for a plain state dict, whose layers it describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// `sigmoids`: how many sigmoids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// `mlp`: hidden layer widths; `cnn`: the head's hidden widths after the flatten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    /// `mlp`, `resnet_mlp`, `cnn`: hidden activation (default relu).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// `mlp`: batch normalization after every hidden linear layer; `cnn`: after every
    /// convolution.
    #[serde(default)]
    pub batch_norm: bool,
    /// `mlp`: dropout probability after every hidden activation.
    #[serde(default)]
    pub dropout: f64,
    /// `resnet_mlp`: units of every hidden layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    /// `resnet_mlp`: hidden layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// `resnet_mlp`: hidden layers after the first inside residual blocks (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual: Option<bool>,
    /// `resnet_mlp`: layer normalization before each block's linear layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub layer_norm: bool,
    /// `cnn`: output channels of each convolution stage (default `[16, 32]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<usize>>,
    /// `cnn`: the convolutions' kernel size, odd (default 3); padding `kernel_size / 2` keeps
    /// the image size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_size: Option<usize>,
    /// A checkpoint whose model and weights start the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// An explicit layer list, as a checkpoint's model description writes it (PyTorch's
    /// constructor argument names; residual blocks nest theirs in `body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<trainscope_nn::Layer>>,
}

/// `cnn`: the default output channels of the convolution stages.
pub const CNN_CHANNELS: [usize; 2] = [16, 32];
/// `cnn`: the default kernel size.
pub const CNN_KERNEL_SIZE: usize = 3;

impl ModelConfig {
    /// A `[model]` table (or `--set model.…`) that names no preset and no checkpoint is the
    /// default MLP with what it does give; an MLP without `hidden` has the default `[64]`.
    /// `count` belongs to the sigmoids preset, which must be named.
    fn fill_defaults(&mut self) {
        if self.preset.is_none()
            && self.init.is_none()
            && self.count.is_none()
            && self.layers.is_none()
        {
            self.preset = Some(Preset::Mlp);
        }
        if self.preset == Some(Preset::Mlp) && self.hidden.is_none() {
            self.hidden = ModelConfig::default().hidden;
        }
        // Written out, so that a run directory's config.toml states the model.
        if self.preset == Some(Preset::Cnn) {
            self.channels.get_or_insert_with(|| CNN_CHANNELS.to_vec());
            self.kernel_size.get_or_insert(CNN_KERNEL_SIZE);
        }
    }
}

impl Default for ModelConfig {
    /// A small general-purpose model, used when the configuration has no `[model]` table:
    /// `preset = "mlp"`, `hidden = [64]`, ReLU.
    fn default() -> Self {
        ModelConfig {
            preset: Some(Preset::Mlp),
            count: None,
            hidden: Some(vec![64]),
            activation: None,
            batch_norm: false,
            dropout: 0.0,
            width: None,
            depth: None,
            residual: None,
            layer_norm: false,
            channels: None,
            kernel_size: None,
            init: None,
            layers: None,
        }
    }
}

/// `batch_size`: a number of rows, or `"full"` for full-batch gradient descent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// Batches of this many rows.
    Rows(usize),
    /// One batch holding every training row.
    Full,
}

impl Serialize for BatchSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BatchSize::Rows(n) => s.serialize_u64(*n as u64),
            BatchSize::Full => s.serialize_str("full"),
        }
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BatchSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number of rows or \"full\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BatchSize, E> {
                match usize::try_from(v) {
                    Ok(n) if n > 0 => Ok(BatchSize::Rows(n)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BatchSize, E> {
                match usize::try_from(v) {
                    Ok(n) if n > 0 => Ok(BatchSize::Rows(n)),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BatchSize, E> {
                if v == "full" {
                    Ok(BatchSize::Full)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `loss`: `"auto"` or a loss name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossChoice {
    /// mse for regression; cross_entropy for 3 or more classes; binary_cross_entropy_with_logits
    /// with one output for 2 classes.
    #[default]
    Auto,
    /// Mean absolute error.
    Mae,
    /// Mean squared error.
    Mse,
    /// Softmax cross-entropy on K logits.
    CrossEntropy,
    /// Sigmoid cross-entropy on one logit (2 classes).
    BinaryCrossEntropyWithLogits,
    /// Squared error between softmax and one-hot labels.
    SoftmaxMse,
}

/// The `[training]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training data.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Rows per update, or `"full"`.
    #[serde(default = "default_batch_size")]
    pub batch_size: BatchSize,
    /// The loss.
    #[serde(default)]
    pub loss: LossChoice,
    /// Stop after this many epochs without a lower validation loss, then restore the best weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_patience: Option<usize>,
    /// Skip an epoch's last batch when it is smaller than `batch_size`.
    #[serde(default)]
    pub drop_last: bool,
    /// Minimum seconds between checkpoints (model, best model, resume state), stretched to 19
    /// times the last checkpoint's writing time (at most 5 % of the run); 0 writes them after
    /// every epoch. The last epoch is always saved.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_s: f64,
    /// Append the flat parameters after every epoch (and before the first) to
    /// `trajectory.jsonl`, so the path can be drawn on a loss surface. Off by default: each
    /// line is as large as the model.
    #[serde(default, skip_serializing_if = "is_false")]
    pub record_trajectory: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_checkpoint_interval() -> f64 {
    2.0
}

fn default_epochs() -> usize {
    10
}

fn default_batch_size() -> BatchSize {
    BatchSize::Rows(32)
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            loss: LossChoice::Auto,
            early_stopping_patience: None,
            drop_last: false,
            checkpoint_interval_s: default_checkpoint_interval(),
            record_trajectory: false,
        }
    }
}

impl Config {
    /// Reads a configuration file, applies `overrides` (`key=value` with dotted keys, values in
    /// TOML syntax, or taken as a string when they are not TOML), resolves relative paths against
    /// the file's directory, and validates the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Config::parse(&text, path, base, overrides)
    }

    /// [`Config::load`] on text already read; `path` is only used in messages, `base` is the
    /// directory relative paths are taken from.
    pub fn parse(
        text: &str,
        path: &Path,
        base: &Path,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        // Deserializing the text itself keeps the positions for messages about the file.
        let from_file = toml::from_str::<Config>(text);
        let mut config = if overrides.is_empty() {
            from_file.map_err(|e| located(path, text, &e))?
        } else {
            let base: toml::Table = toml::from_str(text).map_err(|e| located(path, text, &e))?;
            let mut table = base.clone();
            let mut sets = Overrides::default();
            for o in overrides {
                sets.apply(&mut table, o)?;
            }
            match deserialize(table.clone()) {
                Ok(c) => c,
                Err(e) => {
                    let msg = e.message().trim().to_string();
                    if let Err(fe) = &from_file {
                        if fe.message().trim() == msg {
                            return Err(located(path, text, fe));
                        }
                    }
                    sets.missing_after_kind_change(&table)?;
                    // Name the override that brings the error in.
                    let mut table = base;
                    let mut sets = Overrides::default();
                    for o in overrides {
                        sets.apply(&mut table, o)?;
                        if let Err(e) = deserialize(table.clone()) {
                            if e.message().trim() == msg {
                                return Err(ConfigError::BadSet {
                                    spec: o.clone(),
                                    msg,
                                });
                            }
                        }
                    }
                    return Err(ConfigError::Override {
                        detail: msg,
                        overrides: overrides.join(" "),
                    });
                }
            }
        };
        config.resolve_paths(base);
        config.model.fill_defaults();
        config.fill_from_prepared()?;
        config.validate()?;
        if config.task() == Task::Regression {
            config.data.standardize_target = Some(config.standardizes_target());
        }
        Ok(config)
    }

    /// With `data.train` a prepared dataset (a `.tsd` directory), its manifest gives the
    /// target column(s) and the task, so the configuration need not repeat them; if it does,
    /// they must agree. The columns were chosen when the data was prepared: `data.features`,
    /// if given, must name them.
    fn fill_from_prepared(&mut self) -> Result<(), ConfigError> {
        let d = &mut self.data;
        let Some(path) = d.train.as_ref().filter(|p| trainscope_data::is_prepared(p)) else {
            if d.shuffle_window.is_some() {
                return Err(ConfigError::Invalid {
                    key: "data.shuffle_window".into(),
                    msg: "only used with data.train naming a prepared dataset (a .tsd directory made by `trainscope prepare`)".into(),
                });
            }
            return Ok(());
        };
        let bad = |key: &str, msg: String| ConfigError::Invalid {
            key: key.into(),
            msg,
        };
        let prepared =
            trainscope_data::Prepared::open(path).map_err(|e| bad("data.train", e.to_string()))?;
        let m = prepared.manifest();
        if d.format != DataFormat::Csv {
            return Err(bad(
                "data.format",
                format!(
                    "{} is a prepared dataset: leave data.format out",
                    path.display()
                ),
            ));
        }
        if d.features
            .as_ref()
            .is_some_and(|f| *f != m.schema.feature_names)
        {
            return Err(bad(
                "data.features",
                format!(
                    "{} is a prepared dataset whose columns were chosen when it was prepared, not these; drop data.features",
                    path.display()
                ),
            ));
        }
        if d.shuffle_window == Some(0) {
            return Err(bad(
                "data.shuffle_window",
                "must be at least 1 shard".into(),
            ));
        }
        let targets = match m.schema.targets.as_slice() {
            [one] => TargetColumns::One(one.clone()),
            many => TargetColumns::Many(many.to_vec()),
        };
        match &d.target {
            Some(t) if t.names() != m.schema.targets.as_slice() => {
                return Err(bad(
                    "data.target",
                    format!(
                        "{:?}, but {} was prepared with {:?}",
                        t.names(),
                        path.display(),
                        m.schema.targets
                    ),
                ))
            }
            Some(_) => {}
            None => d.target = Some(targets),
        }
        match d.task {
            Some(t) if t != m.task => {
                return Err(bad(
                    "data.task",
                    format!(
                        "{t:?}, but {} was prepared for {:?}",
                        path.display(),
                        m.task
                    )
                    .to_lowercase(),
                ))
            }
            Some(_) => {}
            None => d.task = Some(m.task),
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let base = if base.is_absolute() {
            base.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(base))
                .unwrap_or_else(|_| base.to_path_buf())
        };
        let d = &mut self.data;
        for p in [
            &mut d.train,
            &mut d.validation,
            &mut d.test,
            &mut d.train_images,
            &mut d.train_labels,
            &mut d.test_images,
            &mut d.test_labels,
            &mut self.model.init,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = normalize(&base.join(&*p));
            }
        }
    }

    /// Checks what serde cannot: keys that only make sense together, and value ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: String| {
            Err(ConfigError::Invalid {
                key: key.into(),
                msg,
            })
        };
        let d = &self.data;
        match d.format {
            DataFormat::Csv => {
                for (key, set) in [
                    ("data.train_images", d.train_images.is_some()),
                    ("data.train_labels", d.train_labels.is_some()),
                    ("data.test_images", d.test_images.is_some()),
                    ("data.test_labels", d.test_labels.is_some()),
                ] {
                    if set {
                        return bad(key, "only used with data.format = \"idx\"".into());
                    }
                }
                if d.train.is_none() {
                    return bad("data.train", "missing: the training CSV file".into());
                }
                let Some(target) = &d.target else {
                    return bad(
                        "data.target",
                        "missing: the name of the target column".into(),
                    );
                };
                if d.task.is_none() {
                    return bad(
                        "data.task",
                        "missing: \"regression\" or \"classification\"".into(),
                    );
                }
                let names = target.names();
                if names.is_empty() {
                    return bad("data.target", "the list of target columns is empty".into());
                }
                if names.len() > 1 && d.task == Some(Task::Classification) {
                    return bad(
                        "data.target",
                        format!(
                            "a classification has one target column, not {} ({names:?}); several columns are for a regression",
                            names.len()
                        ),
                    );
                }
                if let Some(i) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
                    return bad(
                        "data.target",
                        format!("column {:?} is listed twice", names[i]),
                    );
                }
                if let Some(f) = d.features.iter().flatten().find(|f| names.contains(f)) {
                    return bad(
                        "data.features",
                        format!(
                            "{f:?} is a target column (data.target) and cannot also be a feature"
                        ),
                    );
                }
            }
            DataFormat::Idx => {
                for (key, set) in [
                    ("data.train", d.train.is_some()),
                    ("data.target", d.target.is_some()),
                    ("data.features", d.features.is_some()),
                    ("data.validation", d.validation.is_some()),
                    ("data.test", d.test.is_some()),
                    (
                        "data.standardize_target",
                        d.standardize_target == Some(true),
                    ),
                ] {
                    if set {
                        return bad(key, "not used with data.format = \"idx\"".into());
                    }
                }
                if d.task == Some(Task::Regression) {
                    return bad("data.task", "IDX data is always a classification".into());
                }
                if d.train_images.is_none() {
                    return bad(
                        "data.train_images",
                        "missing: the training image file".into(),
                    );
                }
                if d.train_labels.is_none() {
                    return bad(
                        "data.train_labels",
                        "missing: the training label file".into(),
                    );
                }
                if d.test_images.is_some() != d.test_labels.is_some() {
                    return bad(
                        if d.test_images.is_some() {
                            "data.test_labels"
                        } else {
                            "data.test_images"
                        },
                        "test images and test labels go together".into(),
                    );
                }
            }
        }
        if d.validation.is_some() && d.validation_fraction.is_some() {
            return bad(
                "data.validation_fraction",
                "give either a validation file (data.validation) or a fraction, not both".into(),
            );
        }
        if let Some(f) = d.validation_fraction {
            if !(f > 0.0 && f < 1.0) {
                return bad(
                    "data.validation_fraction",
                    format!("must be strictly between 0 and 1, got {f}"),
                );
            }
        }
        if d.standardize_target == Some(true) && self.task() != Task::Regression {
            return bad(
                "data.standardize_target",
                "only a regression target can be standardized".into(),
            );
        }
        if d.stratify && self.task() != Task::Classification {
            return bad(
                "data.stratify",
                "stratification needs class labels (a classification task)".into(),
            );
        }

        let m = &self.model;
        // model.init with a preset or layers is a plain state dict read with that description
        // (a trainscope checkpoint brings its own, which is checked when it is read).
        match (m.preset, &m.init, &m.layers) {
            (Some(_), _, Some(_)) => {
                return bad(
                    "model.layers",
                    "give either model.preset or model.layers, not both".into(),
                )
            }
            (None, None, None) => {
                return bad(
                    "model.preset",
                    "missing: \"linear\", \"sigmoids\", \"mlp\", \"resnet_mlp\" or \"cnn\" (or model.layers = [...], or model.init = a checkpoint)"
                        .into(),
                )
            }
            _ => {}
        }
        if let Some(shape) = &d.image_shape {
            if shape.len() != 3 || shape.contains(&0) {
                return bad(
                    "data.image_shape",
                    format!("must be [channels, height, width], each at least 1, got {shape:?}"),
                );
            }
        }
        if d.augments() && d.format == DataFormat::Csv && d.image_shape.is_none() {
            return bad(
                if d.augment_shift > 0 {
                    "data.augment_shift"
                } else {
                    "data.augment_hflip"
                },
                "augmentation moves the pixels of images: give data.image_shape = [channels, height, width] (IDX images have theirs)".into(),
            );
        }
        let preset = m.preset;
        if preset != Some(Preset::Sigmoids) && m.count.is_some() {
            return bad("model.count", "only used with preset = \"sigmoids\"".into());
        }
        if preset == Some(Preset::Sigmoids) && m.count.map_or(true, |c| c == 0) {
            return bad(
                "model.count",
                "preset \"sigmoids\" needs count = the number of sigmoids (at least 1)".into(),
            );
        }
        if preset != Some(Preset::ResnetMlp) {
            for (key, set) in [
                ("model.width", m.width.is_some()),
                ("model.depth", m.depth.is_some()),
                ("model.residual", m.residual.is_some()),
                ("model.layer_norm", m.layer_norm),
            ] {
                if set {
                    return bad(key, "only used with preset = \"resnet_mlp\"".into());
                }
            }
        } else {
            if m.width.map_or(true, |w| w == 0) {
                return bad(
                    "model.width",
                    "preset \"resnet_mlp\" needs width = the units of every hidden layer (at least 1)".into(),
                );
            }
            if m.depth.is_none() {
                return bad(
                    "model.depth",
                    "preset \"resnet_mlp\" needs depth = the number of hidden layers".into(),
                );
            }
            if m.depth.is_some_and(|d| d > 1000) {
                return bad("model.depth", "at most 1000 hidden layers".into());
            }
        }
        if preset != Some(Preset::Cnn) {
            for (key, set) in [
                ("model.channels", m.channels.is_some()),
                ("model.kernel_size", m.kernel_size.is_some()),
            ] {
                if set {
                    return bad(key, "only used with preset = \"cnn\"".into());
                }
            }
        } else {
            match &m.channels {
                Some(c) if c.is_empty() => {
                    return bad(
                        "model.channels",
                        "preset \"cnn\" needs at least one convolution stage".into(),
                    )
                }
                Some(c) if c.contains(&0) => {
                    return bad(
                        "model.channels",
                        "every stage needs at least 1 channel".into(),
                    )
                }
                _ => {}
            }
            if let Some(k) = m.kernel_size {
                if k % 2 == 0 {
                    return bad(
                        "model.kernel_size",
                        format!("must be odd (padding kernel_size / 2 then keeps the image size), got {k}"),
                    );
                }
            }
            if m.hidden.as_ref().is_some_and(|h| h.contains(&0)) {
                return bad(
                    "model.hidden",
                    "every hidden width must be at least 1".into(),
                );
            }
            if m.dropout != 0.0 {
                return bad("model.dropout", "only used with preset = \"mlp\"".into());
            }
        }
        let mlp_keys = [
            ("model.hidden", m.hidden.is_some()),
            ("model.batch_norm", m.batch_norm),
            ("model.dropout", m.dropout != 0.0),
        ];
        if preset == Some(Preset::ResnetMlp) {
            if let Some((key, _)) = mlp_keys.iter().find(|(_, set)| *set) {
                return bad(key, "only used with preset = \"mlp\"".into());
            }
        } else if preset == Some(Preset::Cnn) {
            // Checked above.
        } else if preset != Some(Preset::Mlp) {
            for (key, set) in mlp_keys
                .into_iter()
                .chain([("model.activation", m.activation.is_some())])
            {
                if set {
                    return bad(key, "only used with preset = \"mlp\"".into());
                }
            }
        } else {
            match &m.hidden {
                None => {
                    return bad(
                        "model.hidden",
                        "preset \"mlp\" needs hidden = [widths of the hidden layers]".into(),
                    )
                }
                Some(h) if h.contains(&0) => {
                    return bad(
                        "model.hidden",
                        "every hidden width must be at least 1".into(),
                    )
                }
                _ => {}
            }
            if !(0.0..1.0).contains(&m.dropout) {
                return bad(
                    "model.dropout",
                    format!("must be in [0, 1), got {}", m.dropout),
                );
            }
        }
        // Sizes are refused before any data is read: with one input and one output the model
        // has the fewest parameters it can have, so exceeding the limit here is final.
        let inputs = match &d.image_shape {
            Some(shape) => trainscope_nn::Inputs::shape(shape.clone()),
            None => trainscope_nn::Inputs::width(1),
        };
        crate::trainer::check_model_size(self, &inputs, 1)?;

        self.optimizer
            .validate()
            .map_err(|e| ConfigError::Invalid {
                key: "optimizer".into(),
                msg: e.to_string(),
            })?;
        if let Some(s) = &self.schedule {
            s.schedule
                .build(self.optimizer.lr())
                .map_err(|e| ConfigError::Invalid {
                    key: "schedule".into(),
                    msg: e.to_string(),
                })?;
        }
        let t = &self.training;
        if !(t.checkpoint_interval_s >= 0.0 && t.checkpoint_interval_s.is_finite()) {
            return bad(
                "training.checkpoint_interval_s",
                format!(
                    "must be a finite number >= 0, got {}",
                    t.checkpoint_interval_s
                ),
            );
        }
        if t.early_stopping_patience.is_some()
            && d.validation.is_none()
            && d.validation_fraction.is_none()
        {
            return bad(
                "training.early_stopping_patience",
                "early stopping watches the validation loss: set data.validation or data.validation_fraction".into(),
            );
        }
        if t.early_stopping_patience == Some(0) {
            return bad(
                "training.early_stopping_patience",
                "must be at least 1".into(),
            );
        }
        check_loss_fits(t.loss, self.task())?;
        Ok(())
    }

    /// Regression or classification (IDX data is always classification).
    pub fn task(&self) -> Task {
        match self.data.format {
            DataFormat::Idx => Task::Classification,
            DataFormat::Csv => self.data.task.unwrap_or(Task::Regression),
        }
    }

    /// Whether the regression target is standardized: `data.standardize_target`, by default
    /// yes for regression (a target in the hundreds would otherwise need its own learning rate);
    /// never for classification.
    pub fn standardizes_target(&self) -> bool {
        self.task() == Task::Regression && self.data.standardize_target.unwrap_or(true)
    }

    /// True when a validation set is configured.
    pub fn has_validation(&self) -> bool {
        self.data.validation.is_some() || self.data.validation_fraction.is_some()
    }

    /// The configuration as TOML (what a run directory's `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
    }
}

/// The losses that fit a task, besides `auto` (which fits both).
const REGRESSION_LOSSES: [LossChoice; 2] = [LossChoice::Mse, LossChoice::Mae];
const CLASSIFICATION_LOSSES: [LossChoice; 3] = [
    LossChoice::CrossEntropy,
    LossChoice::BinaryCrossEntropyWithLogits,
    LossChoice::SoftmaxMse,
];

impl LossChoice {
    /// The losses that fit `task`; `auto` fits both and is not listed.
    pub fn fitting(task: Task) -> &'static [LossChoice] {
        match task {
            Task::Regression => &REGRESSION_LOSSES,
            Task::Classification => &CLASSIFICATION_LOSSES,
        }
    }
}

/// Whether the loss `choice` fits `task`: the one check behind [`Config::validate`] and
/// [`resolve_loss`](crate::resolve_loss). The error names `training.loss` and lists the losses
/// of each task.
pub(crate) fn check_loss_fits(choice: LossChoice, task: Task) -> Result<(), ConfigError> {
    if choice == LossChoice::Auto || LossChoice::fitting(task).contains(&choice) {
        return Ok(());
    }
    let list = |task| {
        LossChoice::fitting(task)
            .iter()
            .map(|&l| loss_name(l))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(ConfigError::Invalid {
        key: "training.loss".into(),
        msg: format!(
            "{:?} does not fit a {} task (regression: {}; classification: {})",
            loss_name(choice),
            match task {
                Task::Regression => "regression",
                Task::Classification => "classification",
            },
            list(Task::Regression),
            list(Task::Classification)
        ),
    })
}

/// The serialized name of a loss choice.
pub fn loss_name(l: LossChoice) -> &'static str {
    match l {
        LossChoice::Auto => "auto",
        LossChoice::Mae => Loss::Mae.name(),
        LossChoice::Mse => Loss::Mse.name(),
        LossChoice::CrossEntropy => Loss::CrossEntropy.name(),
        LossChoice::BinaryCrossEntropyWithLogits => Loss::BinaryCrossEntropyWithLogits.name(),
        LossChoice::SoftmaxMse => Loss::SoftmaxMse.name(),
    }
}

fn deserialize(table: toml::Table) -> Result<Config, toml::de::Error> {
    toml::Value::Table(table).try_into()
}

/// Removes `.` and `a/..` components so resolved paths read cleanly in messages.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A TOML error as `file:line:col: message`.
pub(crate) fn located(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    if let Some(refined) = e.span().and_then(|span| optimizer_error(text, span.start)) {
        let (line, col) = line_col(text, refined.0);
        return ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            col,
            msg: refined.1,
        };
    }
    let (line, col) = match e.span() {
        Some(span) => line_col(
            text,
            key_in_span(text, span.clone(), e.message()).unwrap_or(span.start),
        ),
        None => (0, 0),
    };
    ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        col,
        msg: e.message().trim().to_string(),
    }
}

/// An error inside the `[optimizer]` table whose header starts at `start`, found again by
/// reading the table as the options struct its `kind` selects: that pins a mistyped value to
/// its key (the tagged enum can only point at the header). Returns the offset and message.
fn optimizer_error(text: &str, start: usize) -> Option<(usize, String)> {
    use trainscope_optim::{
        AdagradOptions, AdamWOptions, RAdamOptions, RmspropOptions, SgdOptions,
    };
    let rest = text.get(start..)?;
    let header_end = rest.find('\n')? + 1;
    if rest[..header_end].trim() != "[optimizer]" {
        return None;
    }
    let body_start = start + header_end;
    let body_len = text[body_start..]
        .split_inclusive('\n')
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::len)
        .sum::<usize>();
    let body = &text[body_start..body_start + body_len];
    let kind = match body.parse::<toml::Table>().ok()?.get("kind") {
        Some(k) => k.as_str()?.to_string(),
        None => DEFAULT_OPTIMIZER_KIND.to_string(),
    };
    // Blank the `kind` line (keeping its length) so positions stay those of the file.
    let blanked: String = body
        .split_inclusive('\n')
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("kind") && t[4..].trim_start().starts_with('=') {
                l.chars().map(|c| if c == '\n' { c } else { ' ' }).collect()
            } else {
                l.to_string()
            }
        })
        .collect();
    fn check<T: serde::de::DeserializeOwned>(body: &str) -> Option<toml::de::Error> {
        toml::from_str::<T>(body).err()
    }
    let err = match kind.as_str() {
        "sgd" => check::<SgdOptions>(&blanked),
        "adagrad" => check::<AdagradOptions>(&blanked),
        "rmsprop" => check::<RmspropOptions>(&blanked),
        "adam" => check::<AdamOptions>(&blanked),
        "adamw" => check::<AdamWOptions>(&blanked),
        "radam" => check::<RAdamOptions>(&blanked),
        _ => None,
    }?;
    let span = err.span()?;
    Some((body_start + span.start, err.message().trim().to_string()))
}

/// Inside tables selected by a `kind` tag (optimizer, schedule) the deserializer can only point
/// at the whole table; an unknown key (or `unit`, whose value is refused) is then found by
/// name within it.
fn key_in_span(text: &str, span: std::ops::Range<usize>, msg: &str) -> Option<usize> {
    let name = match msg.strip_prefix("schedule.unit") {
        Some(_) => "unit",
        None => msg.strip_prefix("unknown field `")?.split('`').next()?,
    };
    // The span is the table's header; its keys follow until the next header.
    let body = text.get(span.start..)?;
    let mut offset = span.start;
    for (i, line) in body.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if i > 0 && trimmed.starts_with('[') {
            break;
        }
        let rest = trimmed
            .strip_prefix(name)
            .or_else(|| trimmed.strip_prefix(&format!("\"{name}\"")))
            .or_else(|| trimmed.strip_prefix(&format!("'{name}'")));
        if rest.is_some_and(|r| r.trim_start().starts_with('=')) {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The sections whose `kind` selects which other keys they accept.
const KINDED: [&str; 2] = ["optimizer", "schedule"];

/// Applies `--set` overrides in order, remembering what they set, so that changing a
/// section's `kind` can drop the keys the file gave for the previous kind.
#[derive(Default)]
struct Overrides {
    /// Dotted keys set by an override so far (never dropped: a mistyped one must be reported).
    explicit: Vec<String>,
    /// `(section, new kind, the override)` for every override that changed a section's kind.
    kind_changes: Vec<(&'static str, String, String)>,
}

impl Overrides {
    fn apply(&mut self, table: &mut toml::Table, spec: &str) -> Result<(), ConfigError> {
        let old_kind = |table: &toml::Table, section: &str| {
            let t = table.get(section)?.as_table()?;
            match t.get("kind") {
                Some(k) => k.as_str().map(str::to_string),
                None if section == "optimizer" => Some(DEFAULT_OPTIMIZER_KIND.to_string()),
                None => None,
            }
        };
        let key = spec.split_once('=').map_or(spec, |(k, _)| k);
        let key: String = key.split('.').map(str::trim).collect::<Vec<_>>().join(".");
        let section = KINDED
            .into_iter()
            .find(|s| key.strip_prefix(s) == Some(".kind"));
        let before = section.and_then(|s| old_kind(table, s));
        apply_override(table, spec)?;
        self.explicit.push(key);
        let Some(section) = section else {
            return Ok(());
        };
        let after = old_kind(table, section);
        if before.is_some() && before != after {
            self.drop_keys_of_old_kind(table, section);
            if let Some(kind) = after {
                self.kind_changes.push((section, kind, spec.to_string()));
            }
        }
        Ok(())
    }

    /// Removes, one by one, the keys of `section` that its new kind rejects as unknown, unless
    /// an override set them.
    fn drop_keys_of_old_kind(&self, table: &mut toml::Table, section: &str) {
        while let Err(msg) = check_section(table, section) {
            // `unit = "update"` of a step-driven kind goes too when the new kind acts once
            // per epoch.
            let name = if msg.starts_with(UNIT_PER_EPOCH) {
                Some("unit")
            } else {
                msg.strip_prefix("unknown field `")
                    .and_then(|r| r.split('`').next())
            };
            let Some(name) = name else {
                return;
            };
            let dotted = format!("{section}.{name}");
            let Some(t) = table.get_mut(section).and_then(|t| t.as_table_mut()) else {
                return;
            };
            if self.explicit.contains(&dotted) || t.remove(name).is_none() {
                return;
            }
        }
    }

    /// After a kind change, a key the new kind requires is named with the override that
    /// changed the kind (the deserializer alone says only "missing field").
    fn missing_after_kind_change(&self, table: &toml::Table) -> Result<(), ConfigError> {
        for (section, kind, spec) in &self.kind_changes {
            if let Err(msg) = check_section(table, section) {
                if let Some(field) = msg
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                {
                    return Err(ConfigError::BadSet {
                        spec: spec.clone(),
                        msg: format!("{section}.{field} is required for kind = {kind}"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Deserializes one kind-selected section on its own; the error message when it fails.
fn check_section(table: &toml::Table, section: &str) -> Result<(), String> {
    let Some(value) = table.get(section).cloned() else {
        return Ok(());
    };
    let result = match section {
        "optimizer" => optimizer_adam_by_default(value).map(drop),
        _ => ScheduleSection::deserialize(value).map(drop),
    };
    result.map_err(|e| e.message().trim().to_string())
}

/// Sets `key.path=value` in `table`, creating missing tables on the way.
fn apply_override(table: &mut toml::Table, spec: &str) -> Result<(), ConfigError> {
    let bad = |msg: String| ConfigError::BadSet {
        spec: spec.to_string(),
        msg,
    };
    let (key, raw) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected key=value, e.g. training.epochs=5".into()))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad(format!("{key:?} is not a dotted key path")));
    }
    let raw = raw.trim();
    // A value is TOML (5, 0.01, true, [64, 32], "text"); a bare word is taken as a string so
    // `--set optimizer.kind=sgd` works without shell quoting.
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let (last, parents) = parts.split_last().expect("at least one part");
    let mut cur = table;
    for (i, part) in parents.iter().enumerate() {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(bad(format!(
                    "{} is a value, not a section, so {key:?} does not exist",
                    parts[..=i].join(".")
                )))
            }
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[data]
train = "d.csv"
target = "y"
task = "regression"

[model]
preset = "linear"
"#;

    fn parse(text: &str, sets: &[&str]) -> Result<Config, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::parse(text, Path::new("c.toml"), Path::new("/base"), &sets)
    }

    #[test]
    fn defaults_and_paths() {
        let c = parse(MINIMAL, &[]).unwrap();
        assert_eq!(c.data.train.as_deref(), Some(Path::new("/base/d.csv")));
        assert_eq!(c.training.epochs, 10);
        assert_eq!(c.training.batch_size, BatchSize::Rows(32));
        assert!(c.data.standardize);
        assert_eq!(c.dtype, DTypeName::F32);
        assert_eq!(c.optimizer, default_optimizer());
    }

    #[test]
    fn unknown_key_has_position() {
        let text = format!("{MINIMAL}\n[training]\nepochz = 3\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:11:1:"), "{e}");
        assert!(e.contains("epochz"), "{e}");
    }

    #[test]
    fn unknown_optimizer_key_is_named() {
        let text = format!("{MINIMAL}\n[optimizer]\nkind = \"adam\"\n  lrr = 0.1\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.contains("lrr") && e.starts_with("c.toml:12:3:"), "{e}");
    }

    #[test]
    fn wrong_type_has_position() {
        let text = format!("{MINIMAL}\n[training]\nepochs = \"ten\"\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:11:10:"), "{e}");
    }

    #[test]
    fn overrides() {
        let c = parse(
            MINIMAL,
            &[
                "training.epochs=5",
                "optimizer.kind=sgd",
                "optimizer.lr=0.5",
                "training.batch_size=\"full\"",
                "schedule.kind=cosine",
                "schedule.t_max=9",
            ],
        )
        .unwrap();
        assert_eq!(c.training.epochs, 5);
        assert_eq!(c.training.batch_size, BatchSize::Full);
        assert_eq!(c.optimizer.lr(), 0.5);
        assert!(matches!(c.optimizer, OptimizerConfig::Sgd(_)));
        assert!(matches!(
            c.schedule.map(|s| s.schedule),
            Some(ScheduleConfig::Cosine { t_max: 9, .. })
        ));
        let e = parse(MINIMAL, &["training.epochz=5"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("epochz"), "{e}");
        let e = parse(MINIMAL, &["seed.x=5"]).unwrap_err().to_string();
        assert!(e.contains("seed.x"), "{e}");
    }

    #[test]
    fn optimizer_kind_defaults_to_adam() {
        let text = format!("{MINIMAL}\n[optimizer]\nlr = 0.1\n");
        let c = parse(&text, &[]).unwrap();
        assert!(matches!(c.optimizer, OptimizerConfig::Adam(o) if o.lr == 0.1));
        // `--set` creates the table without a kind.
        let c = parse(MINIMAL, &["optimizer.lr=0.1"]).unwrap();
        assert!(matches!(c.optimizer, OptimizerConfig::Adam(o) if o.lr == 0.1));
        // A mistyped key without `kind` is still pinned to its line and column.
        let text = format!("{MINIMAL}\n[optimizer]\nlr = 0.1\n  betaz = 0.5\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.contains("betaz") && e.starts_with("c.toml:12:3:"), "{e}");
        let text = format!("{MINIMAL}\n[optimizer]\nlr = \"fast\"\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:11:6:"), "{e}");
    }

    #[test]
    fn changing_kind_drops_the_old_kinds_keys() {
        let text = format!(
            "{MINIMAL}\n[schedule]\nkind = \"cosine\"\nt_max = 9\neta_min = 0.1\n\
             [optimizer]\nkind = \"sgd\"\nlr = 0.5\nmomentum = 0.9\n"
        );
        let c = parse(
            &text,
            &[
                "schedule.kind=step",
                "schedule.step_size=3",
                "schedule.gamma=0.5",
            ],
        )
        .unwrap();
        assert_eq!(
            c.schedule,
            Some(ScheduleSection::new(ScheduleConfig::Step {
                step_size: 3,
                gamma: 0.5
            }))
        );
        // Keys both kinds accept (lr) stay; momentum goes.
        let c = parse(&text, &["optimizer.kind=adam"]).unwrap();
        assert!(matches!(c.optimizer, OptimizerConfig::Adam(o) if o.lr == 0.5));
        // Order does not matter for keys the new kind accepts.
        let c = parse(
            &text,
            &[
                "schedule.step_size=3",
                "schedule.gamma=0.5",
                "schedule.kind=step",
            ],
        )
        .unwrap();
        assert!(matches!(
            c.schedule.map(|s| s.schedule),
            Some(ScheduleConfig::Step { step_size: 3, .. })
        ));
        // A required key of the new kind is named.
        let e = parse(&text, &["schedule.kind=step"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedule.step_size is required for kind = step"),
            "{e}"
        );
        // A key set on the command line is never dropped silently.
        let e = parse(&text, &["schedule.stepsize=3", "schedule.kind=step"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("stepsize"), "{e}");
    }

    #[test]
    fn regression_targets_are_standardized_by_default() {
        let c = parse(MINIMAL, &[]).unwrap();
        assert!(c.standardizes_target());
        assert_eq!(c.data.standardize_target, Some(true));
        assert!(c.to_toml().contains("standardize_target = true"));
        let c = parse(MINIMAL, &["data.standardize_target=false"]).unwrap();
        assert!(!c.standardizes_target());
        let c = parse(MINIMAL, &["data.task=\"classification\""]).unwrap();
        assert!(!c.standardizes_target());
        assert_eq!(c.data.standardize_target, None);
        let e = parse(
            MINIMAL,
            &[
                "data.task=\"classification\"",
                "data.standardize_target=true",
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("data.standardize_target"), "{e}");
    }

    #[test]
    fn a_model_table_without_a_preset_is_the_default_mlp_with_what_it_gives() {
        let text = "[data]\ntrain = \"d.csv\"\ntarget = \"y\"\ntask = \"regression\"\n";
        let c = parse(text, &["model.hidden=[8, 4]"]).unwrap();
        assert_eq!(c.model.preset, Some(Preset::Mlp));
        assert_eq!(c.model.hidden, Some(vec![8, 4]));
        let c = parse(text, &["model.activation=\"tanh\""]).unwrap();
        assert_eq!(c.model.hidden, Some(vec![64]));
        let c = parse(text, &["model.preset=\"mlp\""]).unwrap();
        assert_eq!(c.model.hidden, Some(vec![64]));
        // The sigmoids' count without its preset stays an error naming the key.
        let e = parse(text, &["model.count=3"]).unwrap_err().to_string();
        assert!(e.contains("model.preset"), "{e}");
    }

    #[test]
    fn model_defaults_to_an_mlp() {
        let text = "[data]\ntrain = \"d.csv\"\ntarget = \"y\"\ntask = \"regression\"\n";
        let c = parse(text, &[]).unwrap();
        assert_eq!(c.model, ModelConfig::default());
        assert_eq!(c.model.preset, Some(Preset::Mlp));
        assert_eq!(c.model.hidden, Some(vec![64]));
    }

    #[test]
    fn round_trip_through_toml() {
        let text = format!(
            "{MINIMAL}\n[schedule]\nkind = \"plateau\"\npatience = 3\n[training]\nbatch_size = \"full\"\n"
        );
        let c = parse(&text, &[]).unwrap();
        let again: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let e = parse(MINIMAL, &["model.count=3"]).unwrap_err().to_string();
        assert!(e.contains("model.count"), "{e}");
        let e = parse(MINIMAL, &["data.validation_fraction=1.5"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.validation_fraction"), "{e}");
        let e = parse(MINIMAL, &["training.loss=\"cross_entropy\""])
            .unwrap_err()
            .to_string();
        assert!(e.contains("training.loss"), "{e}");
    }

    #[test]
    fn a_loss_that_does_not_fit_the_task_is_refused_alike_by_validation_and_resolution() {
        let e = parse(MINIMAL, &["training.loss=\"cross_entropy\""])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "training.loss: \"cross_entropy\" does not fit a regression task \
             (regression: mse, mae; classification: cross_entropy, \
             binary_cross_entropy_with_logits, softmax_mse)"
        );
        let r = crate::resolve_loss(LossChoice::CrossEntropy, Task::Regression, None)
            .unwrap_err()
            .to_string();
        assert_eq!(r, e);
        let r = crate::resolve_loss(LossChoice::Mse, Task::Classification, Some(3))
            .unwrap_err()
            .to_string();
        assert!(
            r.starts_with("training.loss: \"mse\" does not fit a classification task"),
            "{r}"
        );
        for task in [Task::Regression, Task::Classification] {
            for &l in LossChoice::fitting(task) {
                assert!(check_loss_fits(l, task).is_ok());
            }
            assert!(check_loss_fits(LossChoice::Auto, task).is_ok());
        }
    }

    #[test]
    fn the_schedule_unit_defaults_to_updates_and_is_always_written() {
        let text = format!("{MINIMAL}\n[schedule]\nkind = \"step\"\nstep_size = 3\ngamma = 0.5\n");
        let c = parse(&text, &[]).unwrap();
        let s = c.schedule.as_ref().unwrap();
        assert_eq!(s.unit, ScheduleUnit::Update);
        let toml = c.to_toml();
        assert!(toml.contains("unit = \"update\""), "{toml}");
        let again: Config = toml::from_str(&toml).unwrap();
        assert_eq!(again, c);

        let c = parse(&format!("{text}unit = \"epoch\"\n"), &[]).unwrap();
        assert_eq!(c.schedule.as_ref().unwrap().unit, ScheduleUnit::Epoch);
        assert!(c.to_toml().contains("unit = \"epoch\""));
        // Metric-driven schedules act once per epoch: that is their unit.
        let c = parse(MINIMAL, &["schedule.kind=plateau"]).unwrap();
        assert_eq!(c.schedule.as_ref().unwrap().unit, ScheduleUnit::Epoch);
        assert!(c.to_toml().contains("unit = \"epoch\""));
    }

    #[test]
    fn the_schedule_unit_can_be_set_and_survives_a_kind_change() {
        let text = format!("{MINIMAL}\n[schedule]\nkind = \"cosine\"\nt_max = 9\n");
        let c = parse(&text, &["schedule.unit=epoch"]).unwrap();
        assert_eq!(c.schedule.as_ref().unwrap().unit, ScheduleUnit::Epoch);
        // Switching kinds keeps the unit, from the file or from --set, in either order.
        let with_unit = format!("{text}unit = \"epoch\"\n");
        let c = parse(
            &with_unit,
            &[
                "schedule.kind=step",
                "schedule.step_size=3",
                "schedule.gamma=0.5",
            ],
        )
        .unwrap();
        assert_eq!(
            c.schedule,
            Some(ScheduleSection {
                schedule: ScheduleConfig::Step {
                    step_size: 3,
                    gamma: 0.5
                },
                unit: ScheduleUnit::Epoch
            })
        );
        for sets in [
            ["schedule.unit=epoch", "schedule.kind=step"],
            ["schedule.kind=step", "schedule.unit=epoch"],
        ] {
            let mut sets = sets.to_vec();
            sets.extend(["schedule.step_size=3", "schedule.gamma=0.5"]);
            let c = parse(&text, &sets).unwrap();
            assert_eq!(c.schedule.unwrap().unit, ScheduleUnit::Epoch, "{sets:?}");
        }
        // A file's unit = "update" goes with the step schedule when plateau takes over; one
        // given on the command line is refused.
        let update = format!("{text}unit = \"update\"\n");
        let c = parse(&update, &["schedule.kind=plateau"]).unwrap();
        assert_eq!(c.schedule.unwrap().unit, ScheduleUnit::Epoch);
        let e = parse(&text, &["schedule.kind=plateau", "schedule.unit=update"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedule.unit") && e.contains("once per epoch"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_schedule_unit_is_one_line_naming_the_key_and_the_values() {
        let text = format!("{MINIMAL}\n[schedule]\nkind = \"step\"\nstep_size = 3\ngamma = 0.5\n");
        let e = parse(&text, &["schedule.unit=epochs"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--set schedule.unit=epochs: schedule.unit must be \"update\" or \"epoch\", not \"epochs\""
        );
        let e = parse(&format!("{text}unit = 2\n"), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "c.toml:14:1: schedule.unit must be \"update\" or \"epoch\", not 2"
        );
        assert!(!e.contains('\n'));
        let e = parse(
            &format!("{MINIMAL}\n[schedule]\nkind = \"plateau\"\nunit = \"update\"\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("c.toml:12:1: schedule.unit = \"update\" does not apply to plateau"),
            "{e}"
        );
        // A unit needs a schedule.
        let e = parse(MINIMAL, &["schedule.unit=epoch"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--set schedule.unit=epoch: missing field `kind`: a schedule names its kind (constant, step,"),
            "{e}"
        );
        // A unit inside a sequential schedule's parts is not a key of theirs.
        let e = parse(
            &format!(
                "{MINIMAL}\n[schedule]\nkind = \"sequential\"\nmilestone = 2\n\
                 warmup = {{ kind = \"linear\", unit = \"epoch\" }}\nthen = {{ kind = \"constant\" }}\n"
            ),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unit"), "{e}");
    }
}
