//! `trajectory.jsonl`: the flat parameters at each recorded epoch.

use std::path::Path;

use crate::error::{RecordError, Result};
use crate::files;

/// Flat parameters by epoch, in `state_dict` order.
pub type Trajectory = Vec<(usize, Vec<f64>)>;

/// Reads a run directory's `trajectory.jsonl` (written with `training.record_trajectory`);
/// `None` when the run did not record one. Errors name the file and line.
pub fn read_trajectory(dir: &Path) -> Result<Option<Trajectory>> {
    let path = dir.join(files::TRAJECTORY);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RecordError::io(&path, e)),
    };
    #[derive(serde::Deserialize)]
    struct Line {
        epoch: usize,
        params: Vec<f64>,
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line)
            .map_err(|e| RecordError::malformed(&path, format!("line {}: {e}", i + 1)))?;
        out.push((l.epoch, l.params));
    }
    Ok(Some(out))
}
