//! A run's `metrics.jsonl` as a TensorBoard event file in the run directory: written live,
//! one epoch at a time while the run trains ([`LiveExport`]), or rebuilt in one go
//! ([`export_tensorboard`]).

use std::path::{Path, PathBuf};

use trainscope_train::{files, EpochMetrics};
use trainscope_viz::{EpochScalars, EventWriter};

use crate::error::{ReportError, Result};
use crate::run::read_metrics_jsonl;

/// Prefix of TensorBoard event files.
pub const EVENT_FILE_PREFIX: &str = "events.out.tfevents.";

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Removes the event files in `dir`.
fn remove_event_files(dir: &Path) -> Result<()> {
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
    Ok(())
}

/// The epoch's scalars (tags `train_loss`, `val_loss`, `train_accuracy`, `val_accuracy`,
/// `grad_norm`, `lr`; step = epoch).
fn write_epoch(w: &mut EventWriter, m: &EpochMetrics, wall: f64) -> Result<()> {
    let s = EpochScalars {
        epoch: m.epoch as u64,
        train_loss: Some(m.train_loss),
        val_loss: m.val_loss,
        train_accuracy: m.train_accuracy,
        val_accuracy: m.val_accuracy,
        grad_norm: Some(m.grad_norm),
        lr: Some(m.lr),
    };
    for (tag, v) in s.tagged() {
        w.add_scalar(tag, m.epoch as i64, v, wall)?;
    }
    Ok(())
}

/// A new event file in `dir` (the earlier ones removed) holding `metrics`, wall times
/// reconstructed from `elapsed_s` as if the last epoch ended now.
fn rebuild(dir: &Path, metrics: &[EpochMetrics]) -> Result<EventWriter> {
    remove_event_files(dir)?;
    let now = now();
    let last = metrics.last().map_or(0.0, |m| m.elapsed_s);
    let mut w = EventWriter::create(dir)?;
    for m in metrics {
        write_epoch(&mut w, m, now - (last - m.elapsed_s).max(0.0))?;
    }
    w.flush()?;
    Ok(w)
}

/// Writes every epoch of `dir/metrics.jsonl` to a new event file in `dir`, after removing the
/// event files written before, so that no epoch appears twice. Wall times are reconstructed
/// from `elapsed_s`.
pub fn export_tensorboard(dir: &Path) -> Result<PathBuf> {
    let metrics = read_metrics_jsonl(&dir.join(files::METRICS))?;
    Ok(rebuild(dir, &metrics)?.path().to_path_buf())
}

/// The event file of a run in training, which grows by one epoch's scalars as each epoch
/// ends, so TensorBoard shows the run while it trains.
///
/// [`LiveExport::start`] begins a new file holding the epochs `metrics.jsonl` already has —
/// none for a new run; for a resumed run, those before the resume point (the trainer has cut
/// the file back to the last checkpoint) — and removes the earlier event files, so every epoch
/// is in exactly one file, once.
pub struct LiveExport {
    writer: EventWriter,
}

impl LiveExport {
    /// Starts the event file of the run in `dir`.
    pub fn start(dir: &Path) -> Result<LiveExport> {
        let path = dir.join(files::METRICS);
        let metrics = if path.is_file() {
            match read_metrics_jsonl(&path) {
                Ok(m) => m,
                // A resumed run that stopped inside its first epoch has an empty file.
                Err(ReportError::Malformed { .. })
                    if std::fs::metadata(&path).map_or(0, |m| m.len()) == 0 =>
                {
                    Vec::new()
                }
                Err(e) => return Err(e),
            }
        } else {
            Vec::new()
        };
        Ok(LiveExport {
            writer: rebuild(dir, &metrics)?,
        })
    }

    /// Appends the scalars of an epoch that just ended and flushes them to the file.
    pub fn epoch(&mut self, m: &EpochMetrics) -> Result<()> {
        write_epoch(&mut self.writer, m, now())?;
        self.writer.flush()?;
        Ok(())
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }
}
