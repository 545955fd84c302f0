//! The lectures' small-versus-large batch comparison on the user's own data.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use trainscope_train::{
    files, load_run_data, train, BatchSize, Config, RunOptions, Silent, TrainedModel,
};
use trainscope_viz::plot::{bar_table_plot, BarPanel, BarTable};

use crate::error::{invalid, Error, Result};

/// A batch size: rows per update, or the whole training set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchChoice {
    /// Rows per update.
    Rows(usize),
    /// Full-batch gradient descent.
    Full,
}

impl FromStr for BatchChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "full" => Ok(BatchChoice::Full),
            t => match t.parse::<usize>() {
                Ok(n) if n > 0 => Ok(BatchChoice::Rows(n)),
                _ => Err(invalid(format!(
                    "--sizes: {t:?} is not a batch size (a positive number of rows, or \"full\")"
                ))),
            },
        }
    }
}

impl BatchChoice {
    /// Parses a comma-separated list such as `1,8,32,full`.
    pub fn parse_list(text: &str) -> Result<Vec<BatchChoice>> {
        let v: Vec<BatchChoice> = text.split(',').map(str::parse).collect::<Result<_>>()?;
        if v.is_empty() {
            return Err(invalid("--sizes: need at least one batch size"));
        }
        Ok(v)
    }

    fn name(self) -> String {
        match self {
            BatchChoice::Rows(n) => n.to_string(),
            BatchChoice::Full => "full".into(),
        }
    }
}

/// Options of [`batch_size_comparison`].
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The batch sizes to compare.
    pub sizes: Vec<BatchChoice>,
    /// Give every size the same wall-clock budget instead of the configuration's epochs.
    pub budget_seconds: Option<f64>,
    /// Where the runs, `batch_size.json`, `.svg` and `.png` go.
    pub out_dir: PathBuf,
}

/// One batch size's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRow {
    /// `32` or `full`.
    pub batch_size: String,
    /// Rows per update.
    pub rows_per_batch: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Updates made.
    pub updates: u64,
    /// Wall-clock seconds of the run (updates, and validation after each epoch).
    pub seconds: f64,
    /// Seconds per update.
    pub time_per_update: f64,
    /// Seconds per epoch.
    pub time_per_epoch: f64,
    /// Final training loss: the trained model on all training rows (eval mode).
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub train_loss: f64,
    /// Final validation loss.
    pub val_loss: Option<f64>,
}

/// The comparison (`batch_size.json`, and what `--json` prints; the report reads it back as
/// this type).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchComparison {
    /// What was run: the resolved configuration (saved beside the result) by content hash,
    /// the training data and its rows.
    /// (Absent in files written before results were stamped.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<trainscope_record::Stamp>,
    /// One row per size, in the order given.
    pub rows: Vec<BatchRow>,
    /// `same epochs (N)` or `same budget (S s)`.
    pub mode: String,
    /// Training rows.
    pub train_rows: usize,
    /// The loss's name.
    pub loss_name: String,
    /// The plots written.
    pub plots: Vec<PathBuf>,
    /// What the lectures say to look for.
    pub lecture: Vec<String>,
}

/// Trains `config` once per batch size, everything else equal, with the configuration's
/// epochs, or with as many epochs as fit `budget_seconds` (measured by a one-epoch trial run
/// of each size). Writes `batch_size.json`, `batch_size.svg` and `batch_size.png`.
pub fn batch_size_comparison(
    config: &Config,
    opts: &BatchOptions,
    on_row: &mut dyn FnMut(&BatchRow),
) -> Result<BatchComparison> {
    if opts.sizes.is_empty() {
        return Err(invalid("--sizes: need at least one batch size"));
    }
    if let Some(b) = opts.budget_seconds {
        if !(b > 0.0 && b.is_finite()) {
            return Err(invalid(format!(
                "--budget-seconds: must be positive, got {b}"
            )));
        }
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| invalid(format!("cannot create {}: {e}", opts.out_dir.display())))?;
    let data = load_run_data(config)?;
    let n = data.train.n_rows();
    let mut rows = Vec::new();
    let mut loss_name = String::new();
    for &size in &opts.sizes {
        let mut cfg = config.clone();
        cfg.training.batch_size = match size {
            BatchChoice::Rows(k) => BatchSize::Rows(k),
            BatchChoice::Full => BatchSize::Full,
        };
        // Only the final weights are needed; checkpoints in between would be timed too.
        cfg.training.checkpoint_interval_s = 1e9;
        if let Some(budget) = opts.budget_seconds {
            let mut probe = cfg.clone();
            probe.training.epochs = 1;
            probe.training.early_stopping_patience = None;
            let s = train(&probe, &data, &RunOptions::default(), &mut Silent)?;
            cfg.training.epochs = ((budget / s.seconds.max(1e-9)).floor() as usize).max(1);
        }
        cfg.validate()?;
        let dir = opts.out_dir.join(format!("batch-{}", size.name()));
        let run = RunOptions {
            out_dir: Some(dir.clone()),
            ..Default::default()
        };
        let s = train(&cfg, &data, &run, &mut Silent)?;
        loss_name = s.loss.to_string();
        let model = TrainedModel::load(&dir.join(files::MODEL))?;
        let row = BatchRow {
            batch_size: size.name(),
            rows_per_batch: match size {
                BatchChoice::Rows(k) => k.min(n),
                BatchChoice::Full => n,
            },
            epochs: s.epochs,
            updates: s.steps,
            seconds: s.seconds,
            time_per_update: s.seconds / s.steps.max(1) as f64,
            time_per_epoch: s.seconds / s.epochs.max(1) as f64,
            train_loss: model.evaluate(&data.train)?.loss,
            val_loss: s.val_loss,
        };
        on_row(&row);
        rows.push(row);
    }
    let mode = match opts.budget_seconds {
        Some(b) => format!("same budget ({b} s)"),
        None => format!("same epochs ({})", config.training.epochs),
    };
    let mut plots = Vec::new();
    for ext in ["svg", "png"] {
        let p = opts.out_dir.join(format!("batch_size.{ext}"));
        plot_comparison(&rows, n, &mode, &loss_name, &p)?;
        plots.push(p);
    }
    let cmp = BatchComparison {
        stamp: Some(crate::saved::config_stamp(
            &opts.out_dir,
            trainscope_record::files::BATCH_SIZE,
            config, Some(n))?),
        rows,
        mode,
        train_rows: n,
        loss_name,
        plots,
        lecture: vec![
            "time per update: about the same for small and large batches while the hardware runs a batch in parallel; grows once the batch is too large".into(),
            "time per epoch: large batches are faster (fewer updates)".into(),
            "gradient: small batches are noisy, which helps escape critical points".into(),
            "optimization and generalization: small batches tend to be better".into(),
        ],
    };
    crate::saved::save_analysis(&opts.out_dir, trainscope_record::files::BATCH_SIZE, &cmp)?;
    Ok(cmp)
}

/// The comparison's figure (`batch-size` draws it, and the report and `plot` redraw it from
/// `batch_size.json`): time per update, time per epoch and the final losses, each panel in
/// its own unit.
pub fn plot_comparison(
    rows: &[BatchRow],
    train_rows: usize,
    mode: &str,
    loss_name: &str,
    out: &Path,
) -> Result<()> {
    let categories: Vec<String> = rows.iter().map(|r| r.batch_size.clone()).collect();
    let col = |f: &dyn Fn(&BatchRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mut loss_series = vec![("training".to_string(), col(&|r| r.train_loss))];
    if rows.iter().all(|r| r.val_loss.is_some()) {
        loss_series.push((
            "validation".to_string(),
            col(&|r| r.val_loss.unwrap_or(f64::NAN)),
        ));
    }
    let table = BarTable {
        title: format!("Batch size on {train_rows} training rows, {mode}"),
        category_label: "batch size".into(),
        categories,
        panels: vec![
            BarPanel {
                title: "Time per update".into(),
                y_label: "milliseconds".into(),
                series: vec![("update".into(), col(&|r| 1e3 * r.time_per_update))],
            },
            BarPanel {
                title: "Time per epoch".into(),
                y_label: "seconds".into(),
                series: vec![("epoch".into(), col(&|r| r.time_per_epoch))],
            },
            BarPanel {
                title: "Final loss".into(),
                y_label: loss_name.to_string(),
                series: loss_series,
            },
        ],
    };
    bar_table_plot(&table, out)?;
    Ok(())
}
