//! `trainscope.train`: a configuration (the TOML text of a file, or a dict as JSON) trained as
//! `trainscope train` does, with the `train --json` object as the result.

use std::path::PathBuf;

use pyo3::prelude::*;
use serde::Serialize;
use trainscope_train::{load_run_data, train as run, Config, RunOptions, Silent, Summary};

use crate::error;

#[derive(Serialize)]
struct WithFindings<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    findings: Option<&'a [trainscope_findings::Finding]>,
}

/// Trains the configuration `text` (TOML, or with `json=True` the JSON of a dict with the same
/// structure); `path` names it in errors and `base` is the directory its relative paths are
/// taken from. With `out`, the run directory is written as `trainscope train --out` writes it;
/// without, the run is in memory. Returns the `train --json` object as JSON.
#[pyfunction]
#[pyo3(signature = (text, path, base, overrides = Vec::new(), out = None, json = false))]
pub fn train(
    py: Python<'_>,
    text: &str,
    path: PathBuf,
    base: PathBuf,
    overrides: Vec<String>,
    out: Option<PathBuf>,
    json: bool,
) -> PyResult<String> {
    let text = if json {
        let value: serde_json::Value = serde_json::from_str(text).map_err(error)?;
        let table = toml::Value::try_from(value)
            .map_err(|e| error(format!("{}: not a configuration: {e}", path.display())))?;
        toml::to_string(&table).map_err(error)?
    } else {
        text.to_string()
    };
    let config = Config::parse(&text, &path, &base, &overrides).map_err(|e| {
        let msg = e.to_string();
        if json {
            error(by_key(&msg, &path.display().to_string(), &text))
        } else {
            error(msg)
        }
    })?;
    let opts = RunOptions {
        out_dir: out,
        ..Default::default()
    };
    let result = py.detach(|| -> Result<_, String> {
        let data = load_run_data(&config).map_err(|e| e.to_string())?;
        let summary = run(&config, &data, &opts, &mut Silent).map_err(|e| e.to_string())?;
        let findings = match &summary.run_dir {
            Some(dir) => {
                trainscope_inspect::run_findings(dir, Some(&summary)).map_err(|e| e.to_string())?
            }
            None => None,
        };
        Ok((summary, findings))
    });
    let (summary, findings) = result.map_err(error)?;
    serde_json::to_string(&WithFindings {
        summary: &summary,
        findings: findings.as_ref().map(|f| f.findings.as_slice()),
    })
    .map_err(error)
}

/// Worker threads of the tensor kernels (`trainscope --threads`).
#[pyfunction]
pub fn set_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(error("threads: need at least 1"));
    }
    trainscope_core::set_num_threads(n);
    Ok(())
}

/// A message about the TOML written from a dict (`<dict>:LINE:COL: …`) names the dotted key
/// of that line instead, since the dict has no lines.
fn by_key(msg: &str, label: &str, text: &str) -> String {
    let Some(rest) = msg.strip_prefix(&format!("{label}:")) else {
        return msg.to_string();
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(line), Some(_col), Some(what)) = (parts.next(), parts.next(), parts.next()) else {
        return msg.to_string();
    };
    let Ok(line) = line.parse::<usize>() else {
        return msg.to_string();
    };
    let mut table = String::new();
    for l in text.lines().take(line.saturating_sub(1)) {
        let l = l.trim();
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').to_string();
        }
    }
    let key = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    let dotted = match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    format!("{label}: {dotted}:{what}")
}
