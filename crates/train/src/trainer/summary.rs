//! What a run reports: the [`Summary`] (`train --json`, `summary.json`), where it stopped
//! ([`Position`]) and how it diverged ([`Divergence`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trainscope_core::Element;
use trainscope_record::Named;

use super::run::Trainer;
use super::{files, EpochMetrics};
use crate::confusion::Confusion;
use crate::error::{io_err, Result, TrainError};
use crate::evidence::{self, DataScales, LayerInfo, ReluActivity};
use crate::meta::write_atomic;

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

/// `summary.json`: what the findings read besides the metrics and the configuration.
pub(super) fn write_summary(dir: &Path, summary: &Summary) -> Result<()> {
    let p = dir.join(files::SUMMARY);
    let json = serde_json::to_vec_pretty(summary).map_err(|e| TrainError::Checkpoint {
        path: p.clone(),
        msg: format!("cannot encode the summary: {e}"),
    })?;
    write_atomic(&p, &json).map_err(io_err(&p, "cannot write"))
}

impl<T: Element> Trainer<'_, T> {
    /// The summary of the run so far, reporting the metrics of `reported` (the epoch whose
    /// weights the model holds); no test-set figures and no end-of-run facts.
    pub(super) fn summary(&self, reported: Option<&EpochMetrics>) -> Summary {
        Summary {
            train_loss: reported.map_or(f64::NAN, |m| m.train_loss),
            val_loss: reported.and_then(|m| m.val_loss),
            train_accuracy: reported.and_then(|m| m.train_accuracy),
            val_accuracy: reported.and_then(|m| m.val_accuracy),
            test_loss: None,
            test_accuracy: None,
            val_confusion: None,
            test_confusion: None,
            baseline_val_loss: self.s.baseline.0,
            baseline_val_accuracy: self.s.baseline.1,
            baseline_train_loss: self.s.baseline_train,
            steps: self.s.optimizer.step_count(),
            epochs: self.progress.epoch,
            seconds: self.elapsed(),
            run_dir: self.dir().map(Path::to_path_buf),
            stopped_early: self.progress.stopped_early,
            best_epoch: self.progress.best.epoch,
            interrupted: false,
            stopped_at: None,
            diverged: None,
            loss: self.s.loss.name().to_string(),
            parameters: self.s.model.num_parameters(),
            layers: evidence::layer_infos(&self.s.model),
            model: self.s.model.spec().summary(),
            inputs: self.s.model.input_size(),
            relu_units: Vec::new(),
            full_grad_norm: None,
            full_grad_norm_per_layer: Named::default(),
            data_scales: Some(self.s.data_scales.clone()),
        }
    }
}
