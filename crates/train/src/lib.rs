//! # trainscope-train
//!
//! Training from a configuration: the TOML [`Config`] (with `--set`-style overrides), the
//! datasets it names ([`load_run_data`]), the training loop ([`train`]) with per-epoch metrics
//! (`metrics.jsonl`), checkpoints that carry everything prediction needs
//! (`model.safetensors`, `best.safetensors`), early stopping, and an exact resume
//! (`resume.safetensors`); cross validation ([`cross_validate`]); and prediction and evaluation with a
//! trained checkpoint ([`TrainedModel`]).
//!
//! ```no_run
//! use std::path::Path;
//! use trainscope_train::{load_run_data, train, Config, RunOptions, Silent};
//!
//! let config = Config::load(Path::new("examples/digits.toml"), &["training.epochs=5".into()])?;
//! let data = load_run_data(&config)?;
//! let opts = RunOptions { out_dir: Some("runs/digits".into()), ..Default::default() };
//! let summary = train(&config, &data, &opts, &mut Silent)?;
//! println!("validation accuracy {:?}", summary.val_accuracy);
//! # Ok::<(), trainscope_train::TrainError>(())
//! ```

#![warn(missing_docs)]

pub mod augment;
mod baseline;
pub mod config;
mod confusion;
mod cv;
mod data;
pub mod distributed;
mod error;
mod evidence;
mod import;
mod meta;
mod predict;
mod stamp;
mod trainer;

pub use baseline::baseline_loss;
pub use config::{
    BatchSize, Config, DTypeName, DataConfig, DataFormat, LossChoice, ModelConfig, Preset,
    ScheduleSection, TargetColumns, TrainingConfig,
};
pub use confusion::{ClassScores, Confusion};
pub use cv::{cross_validate, CvFold, CvSummary, MeanStd};
pub use data::{
    feature_precision, input_shape, load_run_data, load_training_data, load_training_run, RunData,
    Shards,
};
pub use error::{ConfigError, Result, TrainError};
pub use evidence::{ColumnStats, DataScales, LayerInfo, Named, ReluActivity};
pub use import::Import;
pub use meta::{keys as metadata_keys, task_name, write_atomic, ModelMeta};
pub use predict::{
    format_number, round_significant, Digits, Evaluation, Predictions, TrainedModel,
};
pub use trainer::{
    files, loss_for_data, model_spec, model_spec_for, resolve_loss, train, train_from_state,
    train_on, Divergence, EpochMetrics, Observer, Position, RunInfo, RunOptions, Silent, Summary,
};

/// This crate's version, written into checkpoints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
