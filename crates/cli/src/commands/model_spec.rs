//! `--model-spec FILE` and the schema flags: a plain PyTorch state dict read as a trainscope
//! checkpoint by every command that takes one.

use std::path::{Path, PathBuf};

use trainscope_data::Task;
use trainscope_train::config::LossChoice;
use trainscope_train::{Import, TrainedModel};

/// How to read a checkpoint that is a plain state dict.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelSpecArgs {
    /// The checkpoint is a plain state dict (PyTorch's `state_dict()` saved with safetensors):
    /// its layers are the `[model]` table of this TOML file (a whole configuration works too).
    #[arg(long, value_name = "FILE")]
    model_spec: Option<PathBuf>,
    /// With --model-spec: the target column, or the comma-separated target columns of a
    /// regression with several outputs.
    #[arg(
        long,
        value_name = "COL",
        value_delimiter = ',',
        requires = "model_spec"
    )]
    target: Option<Vec<String>>,
    /// With --model-spec: the feature columns in the order of the model's inputs,
    /// comma-separated [default: every column of the data but the target].
    #[arg(
        long,
        value_name = "COLS",
        value_delimiter = ',',
        requires = "model_spec"
    )]
    features: Option<Vec<String>>,
    /// With --model-spec: regression or classification [default: what --loss implies].
    #[arg(long, value_enum, requires = "model_spec")]
    task: Option<TaskArg>,
    /// With --model-spec: the loss the model was trained with [default: mse for a regression,
    /// cross_entropy for a classifier with several outputs, binary_cross_entropy_with_logits
    /// for one].
    #[arg(long, value_enum, requires = "model_spec")]
    loss: Option<LossArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TaskArg {
    Regression,
    Classification,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
enum LossArg {
    Mse,
    Mae,
    CrossEntropy,
    BinaryCrossEntropyWithLogits,
    SoftmaxMse,
}

impl ModelSpecArgs {
    /// The import the flags describe, or `None` for a trainscope checkpoint.
    pub fn import(&self) -> Option<Import> {
        let model_spec = self.model_spec.clone()?;
        Some(Import {
            model_spec,
            targets: self.target.clone(),
            features: self.features.clone(),
            task: self.task.map(|t| match t {
                TaskArg::Regression => Task::Regression,
                TaskArg::Classification => Task::Classification,
            }),
            loss: self.loss.map(|l| match l {
                LossArg::Mse => LossChoice::Mse,
                LossArg::Mae => LossChoice::Mae,
                LossArg::CrossEntropy => LossChoice::CrossEntropy,
                LossArg::BinaryCrossEntropyWithLogits => LossChoice::BinaryCrossEntropyWithLogits,
                LossArg::SoftmaxMse => LossChoice::SoftmaxMse,
            }),
        })
    }

    /// The model at `path` (a checkpoint or run directory, or with --model-spec a state dict);
    /// `data` is the CSV file the command reads, whose header gives the features by default.
    pub fn trained_model(
        &self,
        path: &Path,
        data: &Path,
        needs_target: bool,
    ) -> anyhow::Result<TrainedModel> {
        Ok(match self.import() {
            Some(import) => {
                let bytes = import.checkpoint(path, Some(data), needs_target)?;
                TrainedModel::parse(path, &bytes)?
            }
            None => TrainedModel::load(path)?,
        })
    }
}
