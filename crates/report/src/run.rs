//! A run directory as `trainscope train` leaves it, plus what other commands saved beside it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trainscope_record::{freshness_of, Freshness};
use trainscope_train::{files, EpochMetrics};

use crate::error::{ReportError, Result};

/// Names of the JSON files other commands save in a run directory (each holds the command's
/// `--json` output); read only when present.
pub mod extras {
    pub use trainscope_record::files::{BATCH_SIZE, CRITICAL, DIAGNOSE, GUIDE};
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
    /// `diagnose.json`, if present.
    pub diagnose: Option<Value>,
    /// `critical.json`, if present.
    pub critical: Option<Value>,
    /// `guide.json`, if present.
    pub guide: Option<Value>,
    /// `batch_size.json`, if present.
    pub batch_size: Option<Value>,
    /// `summary.json` (what `train --json` printed), if present.
    pub summary: Option<trainscope_train::Summary>,
    /// Analyses found but set aside because their stamp does not match the run's current
    /// weights (file name, why): never drawn or shown as if they described this run.
    pub stale: Vec<(String, String)>,
    /// Analyses without a stamp (saved by hand or by an older version): shown, marked as
    /// of unknown weights.
    pub unstamped: Vec<String>,
    /// `surface-*.json` records of the loss slices drawn for this run (current ones only),
    /// by file name, in name order.
    pub surfaces: Vec<(String, Value)>,
}

impl Run {
    /// Reads a run directory; `metrics.jsonl` must exist and hold at least one epoch.
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
        let summary = match read_optional_json(&summary_path)? {
            Some(v) => Some(
                serde_json::from_value(v).map_err(|e| ReportError::Malformed {
                    path: summary_path,
                    msg: format!("not a run summary: {e}"),
                })?,
            ),
            None => None,
        };
        let mut stale = Vec::new();
        let mut unstamped = Vec::new();
        let mut analysis = |name: &str| -> Result<Option<Value>> {
            let Some(v) = read_optional_json(&dir.join(name))? else {
                return Ok(None);
            };
            match freshness_of(&v, &dir) {
                Freshness::Current => Ok(Some(v)),
                Freshness::Stale(why) => {
                    stale.push((name.to_string(), why));
                    Ok(None)
                }
                Freshness::Unstamped => {
                    unstamped.push(name.to_string());
                    Ok(Some(v))
                }
            }
        };
        let diagnose = analysis(extras::DIAGNOSE)?;
        let critical = analysis(extras::CRITICAL)?;
        let guide = analysis(extras::GUIDE)?;
        let batch_size = analysis(extras::BATCH_SIZE)?;
        let mut surfaces = Vec::new();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| ReportError::io(&dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(files::SURFACE_PREFIX) && n.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            if let Some(v) = analysis(&name)? {
                surfaces.push((name, v));
            }
        }
        Ok(Run {
            summary,
            diagnose,
            critical,
            guide,
            batch_size,
            stale,
            unstamped,
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

fn read_optional_json(path: &Path) -> Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ReportError::malformed(path, format!("not JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReportError::io(path, e)),
    }
}

/// Flat parameters by epoch, as `trajectory.jsonl` holds them.
pub use trainscope_record::Trajectory;

/// Reads `trajectory.jsonl` (written with `training.record_trajectory = true`); `None` when
/// the run did not record one.
pub fn read_trajectory(dir: &Path) -> Result<Option<Trajectory>> {
    Ok(trainscope_record::read_trajectory(dir)?)
}

/// Every JSON object anywhere in `v` (depth first, `v` itself included).
pub(crate) fn objects(v: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                out.push(m);
                stack.extend(m.values().rev());
            }
            Value::Array(a) => stack.extend(a.iter().rev()),
            _ => {}
        }
    }
    out
}

/// The first array of numbers stored under `key` anywhere in `v`.
pub(crate) fn find_numbers(v: &Value, key: &str) -> Option<Vec<f64>> {
    objects(v).into_iter().find_map(|m| {
        let a = m.get(key)?.as_array()?;
        let nums: Option<Vec<f64>> = a.iter().map(Value::as_f64).collect();
        nums.filter(|n| !n.is_empty())
    })
}

/// The first number stored under `key` anywhere in `v`.
pub(crate) fn find_number(v: &Value, key: &str) -> Option<f64> {
    objects(v)
        .into_iter()
        .find_map(|m| m.get(key).and_then(Value::as_f64))
}

/// The first array anywhere in `v` whose elements are all objects with a number under each
/// of `keys`.
pub(crate) fn find_rows<'a>(
    v: &'a Value,
    keys: &[&str],
) -> Option<Vec<&'a serde_json::Map<String, Value>>> {
    find_rows_where(v, &|m| {
        keys.iter().all(|k| m.get(*k).is_some_and(Value::is_number))
    })
}

/// The first array (depth first) whose elements are all objects accepted by `accept`.
pub(crate) fn find_rows_where<'a>(
    v: &'a Value,
    accept: &dyn Fn(&serde_json::Map<String, Value>) -> bool,
) -> Option<Vec<&'a serde_json::Map<String, Value>>> {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => {
                let rows: Option<Vec<_>> = a
                    .iter()
                    .map(|e| e.as_object().filter(|m| accept(m)))
                    .collect();
                if let Some(rows) = rows.filter(|r| !r.is_empty()) {
                    return Some(rows);
                }
                stack.extend(a.iter().rev());
            }
            Value::Object(m) => stack.extend(m.values().rev()),
            _ => {}
        }
    }
    None
}
