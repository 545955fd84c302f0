//! What a detector may look at: the facts a run leaves behind, gathered by the caller from the
//! run directory (metrics, configuration, the trainer's end-of-run summary).

use serde::{Deserialize, Serialize};

/// Regression or classification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Real-valued targets.
    #[default]
    Regression,
    /// Class labels.
    Classification,
}

/// Everything the detectors read about one run. Fields that are unknown (an older run
/// directory, a run without validation) are `None` or empty, and the detectors that need them
/// stay silent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunFacts {
    /// Regression or classification.
    pub task: Task,
    /// The loss trained with (`mse`, `cross_entropy`, …).
    pub loss: String,
    /// One entry per completed epoch, in order.
    pub epochs: Vec<EpochFacts>,
    /// `training.epochs`.
    pub epochs_planned: usize,
    /// Optimizer updates per epoch.
    pub updates_per_epoch: usize,
    /// Training rows.
    pub train_rows: usize,
    /// Loss of the trivial model (constant prediction: training mean or class frequencies) on
    /// the training rows.
    pub baseline_train_loss: Option<f64>,
    /// The trivial model's validation loss.
    pub baseline_val_loss: Option<f64>,
    /// Validation accuracy of always predicting the majority class.
    pub baseline_val_accuracy: Option<f64>,
    /// The epoch whose weights the run ended with (the best one after early stopping).
    pub reported_epoch: Option<u64>,
    /// `training.early_stopping_patience`.
    pub early_stopping_patience: Option<usize>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
    /// The optimizer as configured.
    pub optimizer: OptimizerFacts,
    /// The learning-rate schedule's `kind`, if any.
    pub schedule: Option<String>,
    /// What the schedule's steps count: `update` or `epoch` (`schedule.unit`); `None` without
    /// a schedule, or from a run directory older than the key (which counted updates).
    pub schedule_unit: Option<String>,
    /// Set when the loss, a gradient or a parameter became non-finite.
    pub diverged: Option<Divergence>,
    /// The model's layers that hold parameters, input side first.
    pub layers: Vec<LayerFacts>,
    /// The hidden activation (`relu`, `sigmoid`, `tanh`, …), if the model has one.
    pub activation: Option<String>,
    /// True when the model is a preset MLP with hidden layers (so `model.*` keys apply).
    pub hidden_layers: usize,
    /// `model.batch_norm`.
    pub batch_norm: bool,
    /// `model.dropout`.
    pub dropout: f64,
    /// The gradient norm of the loss over every training row at the final weights; unlike the
    /// mini-batch norms it has no sampling noise.
    pub full_grad_norm: Option<f64>,
    /// ReLU activity at the end of training on the training rows, one entry per ReLU layer.
    pub relu_units: Vec<UnitActivity>,
    /// The raw scales of the data before any standardization.
    pub data: Option<DataFacts>,
}

/// One epoch of `metrics.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EpochFacts {
    /// 1-based epoch.
    pub epoch: u64,
    /// Mean training loss over the epoch's updates.
    pub train_loss: f64,
    /// Validation loss after the epoch.
    pub val_loss: Option<f64>,
    /// Training accuracy over the epoch (classification).
    pub train_accuracy: Option<f64>,
    /// Validation accuracy after the epoch (classification).
    pub val_accuracy: Option<f64>,
    /// Mean mini-batch gradient norm over the epoch.
    pub grad_norm: Option<f64>,
    /// The learning rate of the epoch's last update.
    pub lr: Option<f64>,
    /// Mean mini-batch gradient norm of each parameterized layer, by layer name.
    pub grad_norm_per_layer: Vec<(String, f64)>,
}

/// The optimizer's settings that remedies depend on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizerFacts {
    /// `sgd`, `adagrad`, `rmsprop`, `adam`, `adamw`, `radam`.
    pub kind: String,
    /// The base learning rate (`optimizer.lr`).
    pub lr: f64,
    /// SGD or RMSProp momentum (0 when none).
    pub momentum: f64,
    /// `optimizer.weight_decay`.
    pub weight_decay: f64,
    /// `optimizer.clip_global_norm`.
    pub clip_global_norm: Option<f64>,
}

impl OptimizerFacts {
    /// True for optimizers that scale each parameter's step by its own gradient history.
    pub fn adaptive(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "adagrad" | "rmsprop" | "adam" | "adamw" | "radam"
        )
    }
}

/// Where and how a run stopped being finite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Divergence {
    /// The epoch in which it happened.
    pub epoch: u64,
    /// The update within that epoch.
    pub update: u64,
    /// What became non-finite.
    pub what: String,
}

/// A layer with parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LayerFacts {
    /// The layer's name, as in the parameter names (`"0"` for `0.weight`).
    pub name: String,
    /// `linear`, `batch_norm1d`, …
    pub kind: String,
    /// Scalar parameters in the layer.
    pub parameters: usize,
}

/// How many units of one ReLU layer ever fire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnitActivity {
    /// The ReLU layer's name.
    pub layer: String,
    /// Units in the layer.
    pub units: usize,
    /// Units whose input is ≤ 0 on every training row: they pass no signal and get no
    /// gradient.
    pub dead: usize,
}

/// Mean and standard deviation of one column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColumnScale {
    /// Column name.
    pub name: String,
    /// Mean over the training rows.
    pub mean: f64,
    /// Standard deviation over the training rows.
    pub std: f64,
}

/// The raw scales of the training data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataFacts {
    /// Every feature column.
    pub features: Vec<ColumnScale>,
    /// The target column (regression).
    pub target: Option<ColumnScale>,
    /// `data.standardize`.
    pub features_standardized: bool,
    /// `data.standardize_target`.
    pub target_standardized: bool,
}
