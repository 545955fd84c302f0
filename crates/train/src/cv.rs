//! N-fold cross validation of a configuration.

use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::data::{load_training_data, RunData};
use crate::error::{Context, Result};
use crate::trainer::{train, Observer, RunOptions};

/// The result of one fold: the final metrics of a run trained on the other folds and
/// validated on this one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvFold {
    /// 1-based fold number.
    pub fold: usize,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows validated on.
    pub val_rows: usize,
    /// Final training loss.
    pub train_loss: f64,
    /// Final validation loss (on this fold).
    pub val_loss: f64,
    /// Final training accuracy (classification).
    pub train_accuracy: Option<f64>,
    /// Final validation accuracy (classification).
    pub val_accuracy: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
    /// Epoch with the lowest validation loss.
    pub best_epoch: Option<usize>,
    /// True when early stopping ended the run (its figures are those of `best_epoch`).
    pub stopped_early: bool,
}

/// Mean and sample standard deviation (divisor K − 1) over the folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanStd {
    /// Mean over the folds.
    pub mean: f64,
    /// Sample standard deviation over the folds.
    pub std: f64,
}

impl MeanStd {
    fn of(values: &[f64]) -> MeanStd {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// What `trainscope cv --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvSummary {
    /// Number of folds.
    pub folds: usize,
    /// Each fold's result.
    pub per_fold: Vec<CvFold>,
    /// Final training loss over the folds.
    pub train_loss: MeanStd,
    /// Final validation loss over the folds.
    pub val_loss: MeanStd,
    /// Final training accuracy over the folds (classification).
    pub train_accuracy: Option<MeanStd>,
    /// Final validation accuracy over the folds (classification).
    pub val_accuracy: Option<MeanStd>,
    /// Wall-clock seconds of all folds.
    pub seconds: f64,
}

/// Trains `config` K times on the training data (`data.train` or the IDX training files; any
/// validation and test settings are ignored), each time holding out one fold for validation.
/// Folds are seeded by `seed` and stratified when `data.stratify` is set. Standardization is
/// fitted on each run's training folds only. With early stopping, each run watches its
/// held-out fold, which makes the fold's validation figures slightly optimistic.
pub fn cross_validate(
    config: &Config,
    k: usize,
    observer: &mut dyn Observer,
    on_fold: &mut dyn FnMut(&CvFold),
) -> Result<CvSummary> {
    let started = Instant::now();
    let full = load_training_data(config)?;
    let splits = full
        .k_fold(k, config.seed, config.data.stratify)
        .context(|| "--folds".into())?;
    let mut per_fold = Vec::with_capacity(k);
    for (i, split) in splits.iter().enumerate() {
        let (train_part, val_part) = full.split(split).context(|| format!("fold {}", i + 1))?;
        let data = RunData {
            train: train_part,
            validation: Some(val_part),
            test: None,
            shards: Default::default(),
        };
        let s = train(config, &data, &RunOptions::default(), observer)?;
        let fold = CvFold {
            fold: i + 1,
            train_rows: data.train.n_rows(),
            val_rows: split.validation.len(),
            train_loss: s.train_loss,
            val_loss: s.val_loss.unwrap_or(f64::NAN),
            train_accuracy: s.train_accuracy,
            val_accuracy: s.val_accuracy,
            epochs: s.epochs,
            best_epoch: s.best_epoch,
            stopped_early: s.stopped_early,
        };
        on_fold(&fold);
        per_fold.push(fold);
    }
    let col = |f: &dyn Fn(&CvFold) -> Option<f64>| -> Option<MeanStd> {
        let v: Option<Vec<f64>> = per_fold.iter().map(f).collect();
        v.map(|v| MeanStd::of(&v))
    };
    Ok(CvSummary {
        folds: k,
        train_loss: col(&|f| Some(f.train_loss)).expect("every fold has a loss"),
        val_loss: col(&|f| Some(f.val_loss)).expect("every fold has a loss"),
        train_accuracy: col(&|f| f.train_accuracy),
        val_accuracy: col(&|f| f.val_accuracy),
        per_fold,
        seconds: started.elapsed().as_secs_f64(),
    })
}
