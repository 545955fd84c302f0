//! A run's `metrics.jsonl` as a TensorBoard event file in the run directory.

use std::path::{Path, PathBuf};

use trainscope_train::files;
use trainscope_viz::{EpochScalars, EventWriter};

use crate::error::{ReportError, Result};
use crate::run::read_metrics_jsonl;

/// Prefix of TensorBoard event files.
pub const EVENT_FILE_PREFIX: &str = "events.out.tfevents.";

/// Writes every epoch of `dir/metrics.jsonl` (tags `train_loss`, `val_loss`,
/// `train_accuracy`, `val_accuracy`, `grad_norm`, `lr`; step = epoch) to a new event file in
/// `dir`, after removing the event files written before. The file is rebuilt from the metrics
/// rather than appended to, so a resumed run (whose metrics were cut back to the last
/// checkpoint) never shows an epoch twice. Wall times are reconstructed from `elapsed_s`.
pub fn export_tensorboard(dir: &Path) -> Result<PathBuf> {
    let metrics = read_metrics_jsonl(&dir.join(files::METRICS))?;
    let old: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ReportError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(EVENT_FILE_PREFIX))
        })
        .collect();
    for p in &old {
        std::fs::remove_file(p).map_err(|e| ReportError::io(p, e))?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let last = metrics.last().map_or(0.0, |m| m.elapsed_s);
    let mut w = EventWriter::create(dir)?;
    for m in &metrics {
        let s = EpochScalars {
            epoch: m.epoch as u64,
            train_loss: Some(m.train_loss),
            val_loss: m.val_loss,
            train_accuracy: m.train_accuracy,
            val_accuracy: m.val_accuracy,
            grad_norm: Some(m.grad_norm),
            lr: Some(m.lr),
        };
        let wall = now - (last - m.elapsed_s).max(0.0);
        for (tag, v) in s.tagged() {
            w.add_scalar(tag, m.epoch as i64, v, wall)?;
        }
    }
    w.flush()?;
    Ok(w.path().to_path_buf())
}
