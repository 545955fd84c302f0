//! The run directory: clearing it for a new run, what is written before the first epoch, the
//! checkpoints (the model, the best model, the resume state) and when they are due, the
//! weights of the last completed epoch, the metrics and trajectory lines, and the check that a
//! resumed run is the same run.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;
use trainscope_core::{Element, Tensor};
use trainscope_nn::Sequential;

use super::files;
use super::resume::write_resume;
use super::run::Trainer;
use crate::config::{Config, ScheduleSection};
use crate::error::{io_err, Result, TrainError};
use crate::meta::write_atomic;

/// The weights at the end of the last completed epoch, kept in memory so that a run that
/// diverges or stops inside an epoch can still write them as `model.safetensors`. Refreshed
/// after every epoch by copying into the same buffers: one memcpy of the parameters and
/// buffers per epoch.
pub(super) struct LastEpoch<T: Element> {
    /// The epoch the weights end.
    pub(super) epoch: usize,
    params: Vec<Vec<T>>,
    buffers: Vec<Vec<T>>,
    batches_tracked: Vec<u64>,
}

impl<T: Element> LastEpoch<T> {
    /// Stores `model`'s weights as those of `epoch` in `slot`, reusing its buffers.
    pub(super) fn keep(slot: &mut Option<LastEpoch<T>>, epoch: usize, model: &Sequential<T>) {
        let kept = slot.get_or_insert_with(|| LastEpoch {
            epoch,
            params: Vec::new(),
            buffers: Vec::new(),
            batches_tracked: Vec::new(),
        });
        let copy = |dst: &mut Vec<Vec<T>>, src: &[Tensor<T>]| {
            dst.resize_with(src.len(), Vec::new);
            for (d, t) in dst.iter_mut().zip(src) {
                d.clear();
                d.extend_from_slice(t.data());
            }
        };
        kept.epoch = epoch;
        copy(&mut kept.params, model.parameters());
        copy(&mut kept.buffers, model.buffers());
        kept.batches_tracked.clear();
        kept.batches_tracked
            .extend_from_slice(model.batches_tracked());
    }

    /// A copy of `model` holding the kept weights.
    pub(super) fn model(&self, model: &Sequential<T>) -> Sequential<T> {
        let mut m = model.clone();
        for (t, v) in m.parameters_mut().iter_mut().zip(&self.params) {
            t.data_mut().copy_from_slice(v);
        }
        for (t, v) in m.buffers_mut().iter_mut().zip(&self.buffers) {
            t.data_mut().copy_from_slice(v);
        }
        m.batches_tracked_mut()
            .copy_from_slice(&self.batches_tracked);
        m
    }
}

/// Prepares `dir` for a new run: creates it, and removes the files and analyses of an earlier
/// run, which would describe a model that no longer exists.
pub(super) fn clear_run_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err(dir, "cannot create the run directory"))?;
    for f in [
        files::METRICS,
        files::MODEL,
        files::BEST,
        files::RESUME,
        files::LEGACY_RESUME,
        files::TRAJECTORY,
        files::SUMMARY,
    ] {
        let p = dir.join(f);
        if p.exists() {
            fs::remove_file(&p).map_err(io_err(&p, "cannot remove the earlier run's file"))?;
        }
    }
    files::remove_analyses(dir).map_err(io_err(dir, "cannot remove the earlier run's analyses"))?;
    Ok(())
}

/// Whether a checkpoint is due `since_last` seconds after the previous one, which took
/// `last_cost` seconds to write: after `interval` seconds, and (unless `interval` is 0, every
/// epoch) no sooner than 19 times the last write's cost, so that writing a large model's
/// checkpoints takes at most 5 % of the run.
pub(super) fn checkpoint_due(since_last: f64, interval: f64, last_cost: f64) -> bool {
    interval == 0.0 || since_last >= interval.max(19.0 * last_cost)
}

impl<T: Element> Trainer<'_, T> {
    /// What the run directory holds before the first epoch: the resolved configuration, and
    /// for a new run the initial weights (the last good checkpoint should the first epoch
    /// diverge) and the trajectory's first line.
    pub(super) fn start_run_dir(&mut self) -> Result<()> {
        let Some(dir) = self.dir() else {
            return Ok(());
        };
        let p = dir.join(files::CONFIG);
        write_atomic(&p, self.config.to_toml().as_bytes()).map_err(io_err(&p, "cannot write"))?;
        if !self.opts.resume {
            self.s.save_model(&dir.join(files::MODEL), 0)?;
            if self.config.training.record_trajectory {
                append_trajectory(dir, 0, &self.s.model)?;
            }
        }
        Ok(())
    }

    /// Whether a checkpoint is due now. Checkpoints are synced to disk, which costs more than
    /// a whole epoch of a small model: they are written at most every `checkpoint_interval_s`
    /// (and no more often than keeps them within 5 % of the time); the run's end and a stop
    /// always write one. A run killed in between resumes from the last one and replays the
    /// rest exactly.
    pub(super) fn checkpoint_due(&self) -> bool {
        checkpoint_due(
            self.last_checkpoint.elapsed().as_secs_f64(),
            self.config.training.checkpoint_interval_s,
            self.last_checkpoint_cost,
        )
    }

    /// Writes the checkpoints at the end of epoch `epoch`: `best.safetensors` if a better
    /// epoch is not written yet, `model.safetensors`, and the resume state with `elapsed_s`
    /// seconds of training. Nothing without a run directory.
    pub(super) fn checkpoint(&mut self, epoch: usize, elapsed_s: f64) -> Result<()> {
        let Some(dir) = self.dir() else {
            return Ok(());
        };
        let written = Instant::now();
        self.write_best(dir)?;
        self.s.save_model(&dir.join(files::MODEL), epoch)?;
        self.progress.saved_epoch = epoch;
        write_resume(&self.s, self.config, &self.progress, dir, elapsed_s, None)?;
        self.last_checkpoint_cost = written.elapsed().as_secs_f64();
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Writes `model.safetensors` with the last completed epoch's weights (when the model has
    /// moved on inside an epoch).
    pub(super) fn save_last_epoch(&mut self, dir: &Path) -> Result<()> {
        if let Some(kept) = &self.last_epoch {
            self.s.meta.epoch = kept.epoch;
            kept.model(&self.s.model)
                .save(dir.join(files::MODEL), &self.s.meta.to_metadata())?;
            self.progress.saved_epoch = kept.epoch;
        }
        Ok(())
    }

    /// Writes `best.safetensors` when a better epoch has not been written yet.
    pub(super) fn write_best(&mut self, dir: &Path) -> Result<()> {
        if !self.best_unsaved {
            return Ok(());
        }
        if let Some(w) = &self.progress.best.weights {
            let mut best = self.s.model.clone();
            w.apply(&mut best).map_err(TrainError::Mismatch)?;
            self.s.meta.epoch = self.progress.best.epoch.unwrap_or(self.progress.epoch);
            best.save(dir.join(files::BEST), &self.s.meta.to_metadata())?;
        }
        self.best_unsaved = false;
        Ok(())
    }
}

/// Appends the flat parameters as epoch `epoch`'s line of `trajectory.jsonl`.
pub(super) fn append_trajectory<T: Element>(
    dir: &Path,
    epoch: usize,
    model: &Sequential<T>,
) -> Result<()> {
    let params: Vec<f64> = model
        .parameters()
        .iter()
        .flat_map(|p| p.data().iter().map(|&v| Element::to_f64(v)))
        .collect();
    let line = serde_json::json!({ "epoch": epoch, "params": params }).to_string();
    append_line(&dir.join(files::TRAJECTORY), &line)
}

/// A resumed run must be the same run: only the number of epochs and the thread count may
/// change.
pub(super) fn check_same_run(dir: &Path, config: &Config) -> Result<()> {
    let path = dir.join(files::CONFIG);
    let text = fs::read_to_string(&path).map_err(io_err(&path, "cannot read"))?;
    let mut saved: toml::Value = toml::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        msg: e.message().to_string(),
    })?;
    // Runs saved before `schedule.unit` existed leave it out: it was the kind's default.
    if let Some(table) = saved
        .get_mut("schedule")
        .and_then(toml::Value::as_table_mut)
    {
        if !table.contains_key("unit") {
            if let Ok(s) = ScheduleSection::deserialize(toml::Value::Table(table.clone())) {
                table.insert("unit".into(), toml::Value::String(s.unit.name().into()));
            }
        }
    }
    let now: toml::Value =
        toml::from_str(&config.to_toml()).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            msg: e.message().to_string(),
        })?;
    if let Some(key) = first_difference(&saved, &now, "") {
        return Err(TrainError::Checkpoint {
            path,
            msg: format!(
                "--resume: the configuration differs from the run's at {key}; only training.epochs and threads may change"
            ),
        });
    }
    Ok(())
}

fn first_difference(a: &toml::Value, b: &toml::Value, prefix: &str) -> Option<String> {
    const FREE: [&str; 3] = [
        "training.epochs",
        "threads",
        "training.checkpoint_interval_s",
    ];
    match (a, b) {
        (toml::Value::Table(ta), toml::Value::Table(tb)) => {
            let mut keys: Vec<&String> = ta.keys().chain(tb.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if FREE.contains(&key.as_str()) {
                    continue;
                }
                match (ta.get(k), tb.get(k)) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = first_difference(x, y, &key) {
                            return Some(d);
                        }
                    }
                    _ => return Some(key),
                }
            }
            None
        }
        _ => (a != b).then(|| prefix.to_string()),
    }
}

/// Appends `line` and a newline to the file at `path`, creating it.
pub(super) fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path, "cannot open"))?;
    f.write_all(format!("{line}\n").as_bytes())
        .map_err(io_err(path, "cannot write"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::test_problems;

    #[test]
    fn checkpoints_keep_to_the_interval_and_to_five_percent_of_the_time() {
        // Cheap checkpoints: the interval decides.
        assert!(!checkpoint_due(1.9, 2.0, 0.01));
        assert!(checkpoint_due(2.0, 2.0, 0.01));
        // A checkpoint that took 0.5 s: the next one waits 9.5 s, not 2.
        assert!(!checkpoint_due(5.0, 2.0, 0.5));
        assert!(checkpoint_due(9.5, 2.0, 0.5));
        // Interval 0 means every epoch, whatever the cost.
        assert!(checkpoint_due(0.0, 0.0, 10.0));
    }

    #[test]
    fn a_checkpoint_writes_the_model_the_best_model_and_a_state_that_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let (config, data) = test_problems::regression_in(dir.path(), &[]);
        let opts = crate::RunOptions {
            out_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let mut t = Trainer::<f64>::new(&config, &data, &opts).unwrap();
        t.start_run_dir().unwrap();
        let mut sums = t.begin_epoch();
        while t.update(1, &mut sums).unwrap().is_some() {}
        let m = t.end_epoch(1, &sums).unwrap();
        t.checkpoint(1, m.elapsed_s).unwrap();
        for f in [files::CONFIG, files::MODEL, files::BEST, files::RESUME] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
        assert_eq!(t.progress.saved_epoch, 1);
        assert!(!t.best_unsaved);

        // A second trainer resumed from the directory stands where the first does.
        let resumed_opts = crate::RunOptions {
            resume: true,
            ..opts.clone()
        };
        let mut r = Trainer::<f64>::new(&config, &data, &resumed_opts).unwrap();
        r.resume(dir.path()).unwrap();
        assert_eq!(r.progress.epoch, 1);
        assert_eq!(r.progress.last, t.progress.last);
        assert_eq!(r.progress.best, t.progress.best);
        assert_eq!(r.s.optimizer.step_count(), t.s.optimizer.step_count());
        let params = |t: &Trainer<f64>| -> Vec<Vec<f64>> {
            t.s.model
                .parameters()
                .iter()
                .map(|p| p.data().to_vec())
                .collect()
        };
        assert_eq!(params(&r), params(&t));
    }
}
