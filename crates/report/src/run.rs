//! A run directory as `trainscope train` leaves it, plus what other commands saved beside it,
//! each file read back as the type its command writes.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use trainscope_inspect::{BatchComparison, CriticalExperiment, Diagnosis, GuideReport};
use trainscope_record::{freshness_of, Freshness, Stamp};
use trainscope_train::{files, EpochMetrics, Summary};

use crate::error::{ReportError, Result};
use crate::surface::SurfaceRecord;

/// Names of the JSON files other commands save in a run directory (each holds the command's
/// `--json` output); read only when present.
pub mod extras {
    pub use trainscope_record::files::{BATCH_SIZE, CRITICAL, DIAGNOSE, GUIDE};
}

/// A result another command saves as JSON, read back as the type the command writes it
/// from: one declaration per file, so a field renamed in the writer fails to read (and is
/// said so) instead of silently emptying a section.
pub trait Analysis: DeserializeOwned {
    /// The command that writes it.
    const COMMAND: &'static str;
    /// What it describes; `None` in a file written before results were stamped.
    fn stamp(&self) -> Option<&Stamp>;
}

impl Analysis for Diagnosis {
    const COMMAND: &'static str = "diagnose";
    fn stamp(&self) -> Option<&Stamp> {
        self.stamp.as_ref()
    }
}

impl Analysis for CriticalExperiment {
    const COMMAND: &'static str = "critical";
    fn stamp(&self) -> Option<&Stamp> {
        self.stamp.as_ref()
    }
}

impl Analysis for GuideReport {
    const COMMAND: &'static str = "guide";
    fn stamp(&self) -> Option<&Stamp> {
        self.stamp.as_ref()
    }
}

impl Analysis for BatchComparison {
    const COMMAND: &'static str = "batch-size";
    fn stamp(&self) -> Option<&Stamp> {
        self.stamp.as_ref()
    }
}

impl Analysis for SurfaceRecord {
    const COMMAND: &'static str = "surface";
    fn stamp(&self) -> Option<&Stamp> {
        self.stamp.as_ref()
    }
}

/// The analyses of one directory that are not shown as they are, with why.
#[derive(Debug, Clone, Default)]
pub struct SetAside {
    /// Analyses found but set aside because their stamp does not match the directory's
    /// current weights or configuration (file name, why): never drawn or shown as if they
    /// described it.
    pub stale: Vec<(String, String)>,
    /// Analyses without a stamp (saved by hand or by an older version): shown, marked as
    /// of unknown weights.
    pub unstamped: Vec<String>,
    /// Analyses that do not read as what their command writes (file name, the reader's error
    /// with its line and column): left out, and said so.
    pub unreadable: Vec<(String, String)>,
}

/// Only the stamp of a file that does not read as its type: a stale file is called stale
/// rather than unreadable.
#[derive(Deserialize)]
struct StampOnly {
    #[serde(default)]
    stamp: Option<Stamp>,
}

impl SetAside {
    /// Reads the analysis `name` in `dir` as `T`: `None` when there is none, or when it is
    /// stale or unreadable (noted here); an unstamped one is read and noted.
    pub fn read<T: Analysis>(&mut self, dir: &Path, name: &str) -> Result<Option<T>> {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ReportError::io(&path, e)),
        };
        let read = serde_json::from_str::<T>(&text);
        let freshness = match &read {
            Ok(v) => freshness_of(v.stamp(), dir),
            Err(_) => {
                let stamp = serde_json::from_str::<StampOnly>(&text)
                    .ok()
                    .and_then(|s| s.stamp);
                freshness_of(stamp.as_ref(), dir)
            }
        };
        match (freshness, read) {
            (Freshness::Stale(why), _) => {
                self.stale.push((name.to_string(), why));
                Ok(None)
            }
            (_, Err(e)) => {
                self.unreadable.push((
                    name.to_string(),
                    format!("it does not read as what `{}` writes: {e}", T::COMMAND),
                ));
                Ok(None)
            }
            (Freshness::Unstamped, Ok(v)) => {
                self.unstamped.push(name.to_string());
                Ok(Some(v))
            }
            (Freshness::Current, Ok(v)) => Ok(Some(v)),
        }
    }

    /// Whether the analysis `name` is shown without a stamp.
    pub fn is_unstamped(&self, name: &str) -> bool {
        self.unstamped.iter().any(|n| n == name)
    }
}

/// What a run directory holds.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory.
    pub dir: PathBuf,
    /// `metrics.jsonl`, one entry per epoch.
    pub metrics: Vec<EpochMetrics>,
    /// `config.toml` as written, if present.
    pub config_text: Option<String>,
    /// `diagnose.json`, if present and current.
    pub diagnose: Option<Diagnosis>,
    /// `critical.json`, if present and current.
    pub critical: Option<CriticalExperiment>,
    /// `guide.json`, if present and current.
    pub guide: Option<GuideReport>,
    /// `batch_size.json`, if present and current.
    pub batch_size: Option<BatchComparison>,
    /// `summary.json` (what `train --json` printed), if present.
    pub summary: Option<Summary>,
    /// The analyses found but not shown as they are: stale, unstamped, unreadable.
    pub set_aside: SetAside,
    /// `surface-*.json` records of the loss slices drawn for this run (current ones only),
    /// by file name, in name order.
    pub surfaces: Vec<(String, SurfaceRecord)>,
}

impl Run {
    /// Reads a run directory; `metrics.jsonl` must exist and hold at least one epoch. An
    /// analysis that is stale or does not read as its type is left out and noted in
    /// [`Run::set_aside`], not an error.
    pub fn open(dir: impl AsRef<Path>) -> Result<Run> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(ReportError::invalid(format!(
                "{} is not a run directory (trainscope train --out DIR writes one)",
                dir.display()
            )));
        }
        let metrics = read_metrics_jsonl(&dir.join(files::METRICS))?;
        let config_text = std::fs::read_to_string(dir.join(files::CONFIG)).ok();
        let summary_path = dir.join(files::SUMMARY);
        let summary = match std::fs::read_to_string(&summary_path) {
            Ok(text) => Some(serde_json::from_str(&text).map_err(|e| {
                ReportError::malformed(&summary_path, format!("not a run summary: {e}"))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ReportError::io(&summary_path, e)),
        };
        let mut set_aside = SetAside::default();
        let diagnose = set_aside.read(&dir, extras::DIAGNOSE)?;
        let critical = set_aside.read(&dir, extras::CRITICAL)?;
        let guide = set_aside.read(&dir, extras::GUIDE)?;
        let batch_size = set_aside.read(&dir, extras::BATCH_SIZE)?;
        let mut surfaces = Vec::new();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| ReportError::io(&dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(files::SURFACE_PREFIX) && n.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            if let Some(v) = set_aside.read(&dir, &name)? {
                surfaces.push((name, v));
            }
        }
        Ok(Run {
            summary,
            diagnose,
            critical,
            guide,
            batch_size,
            set_aside,
            surfaces,
            dir,
            metrics,
            config_text,
        })
    }
}

/// Reads `metrics.jsonl`; errors name the file and line.
pub fn read_metrics_jsonl(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
    parse_metrics_jsonl(path, &text)
}

/// [`read_metrics_jsonl`] on the text of the file; `path` only names it in errors.
pub fn parse_metrics_jsonl(path: &Path, text: &str) -> Result<Vec<EpochMetrics>> {
    let out = trainscope_record::parse_metrics(path, text)?;
    if out.is_empty() {
        return Err(ReportError::malformed(path, "no epoch recorded yet"));
    }
    Ok(out)
}

/// Flat parameters by epoch, as `trajectory.jsonl` holds them.
pub use trainscope_record::Trajectory;

/// Reads `trajectory.jsonl` (written with `training.record_trajectory = true`); `None` when
/// the run did not record one.
pub fn read_trajectory(dir: &Path) -> Result<Option<Trajectory>> {
    Ok(trainscope_record::read_trajectory(dir)?)
}
