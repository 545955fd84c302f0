//! Playground runs described in a TOML file or by short command-line specs.
//!
//! ```toml
//! surface = "rosenbrock"   # optional: bowl | rosenbrock | saddle | monkey_saddle | two_basins | …
//! start = [-1.5, 2.0]      # optional: default start of every run
//! steps = 2000             # optional: default number of updates of every run
//!
//! [[run]]
//! label = "Adam"
//! optimizer = { kind = "adam", lr = 0.05 }
//!
//! [[run]]
//! label = "GD + momentum, step decay"
//! optimizer = { kind = "sgd", lr = 1e-3, momentum = 0.9 }
//! schedule = { kind = "step", step_size = 500, gamma = 0.5 }
//! start = [0.0, 2.5]       # optional, per run
//! steps = 5000             # optional, per run
//! ```

use std::path::Path;

use serde::Deserialize;
use trainscope_optim::{OptimizerConfig, ScheduleConfig};
use trainscope_viz::{AnalyticSurface, PlaygroundRun};

use crate::error::{ReportError, Result};

/// A playground file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundFile {
    /// The surface, by name.
    #[serde(default)]
    pub surface: Option<String>,
    /// Default start.
    #[serde(default)]
    pub start: Option<[f64; 2]>,
    /// Default number of updates.
    #[serde(default)]
    pub steps: Option<usize>,
    /// The runs.
    #[serde(default)]
    pub run: Vec<RunEntry>,
}

/// One `[[run]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunEntry {
    /// Legend entry (default: the optimizer's kind).
    #[serde(default)]
    pub label: Option<String>,
    /// The optimizer, as in a training configuration's `[optimizer]`.
    pub optimizer: OptimizerConfig,
    /// Optional schedule, as in a training configuration's `[schedule]`.
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// Start, overriding the file's.
    #[serde(default)]
    pub start: Option<[f64; 2]>,
    /// Updates, overriding the file's.
    #[serde(default)]
    pub steps: Option<usize>,
}

impl PlaygroundFile {
    /// Reads and parses a playground file; errors name the file and the position.
    pub fn load(path: &Path) -> Result<PlaygroundFile> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        let f: PlaygroundFile = toml::from_str(&text)
            .map_err(|e| ReportError::malformed(path, e.to_string().trim().to_string()))?;
        if f.run.is_empty() {
            return Err(ReportError::malformed(path, "no [[run]] entry"));
        }
        Ok(f)
    }

    /// The surface named in the file, if any.
    pub fn surface(&self) -> Result<Option<AnalyticSurface>> {
        self.surface.as_deref().map(parse_surface).transpose()
    }

    /// The runs, with the file's (else the given) defaults filled in.
    pub fn runs(&self, start: [f64; 2], steps: usize) -> Vec<PlaygroundRun> {
        self.run
            .iter()
            .map(|r| PlaygroundRun {
                label: r.label.clone().unwrap_or_else(|| kind_name(&r.optimizer)),
                optimizer: r.optimizer,
                schedule: r.schedule.clone(),
                start: r.start.or(self.start).unwrap_or(start),
                steps: r.steps.or(self.steps).unwrap_or(steps),
            })
            .collect()
    }
}

fn kind_name(o: &OptimizerConfig) -> String {
    toml::Value::try_from(o)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_else(|| "optimizer".into())
}

/// A surface by name; `monkey-saddle` and `monkey_saddle` both work.
pub fn parse_surface(name: &str) -> Result<AnalyticSurface> {
    Ok(AnalyticSurface::from_name(&name.replace('-', "_"))?)
}

/// A start point that shows each surface's character: the lectures' start on the bowl, the
/// far end of Rosenbrock's valley, just off the saddle's ridge.
pub fn default_start(s: AnalyticSurface) -> [f64; 2] {
    match s {
        AnalyticSurface::Bowl => trainscope_viz::playground::LECTURE_START,
        AnalyticSurface::Rosenbrock => [-1.5, 2.0],
        AnalyticSurface::Saddle => [-1.8, 0.05],
        AnalyticSurface::MonkeySaddle => [-0.3, 0.05],
        AnalyticSurface::TwoBasins => trainscope_viz::presets::TWO_BASINS_START,
        AnalyticSurface::SoftmaxMse | AnalyticSurface::CrossEntropy => {
            trainscope_viz::presets::TWO_CLASS_START
        }
        AnalyticSurface::RawFeatures | AnalyticSurface::StandardizedFeatures => [0.0, 0.0],
    }
}

/// A run from a short spec, `KIND[,KEY=VALUE…]`: the optimizer's keys as in `[optimizer]`,
/// `schedule.KEY=VALUE` for a schedule, and `label=TEXT`. Values are TOML; a bare word is a
/// string. Example: `adagrad,lr=0.1,variant=lecture,schedule.kind=inverse_time,
/// schedule.gamma=1e-3,schedule.decay_steps=1,label=Adagrad + decay`.
pub fn parse_spec(spec: &str, start: [f64; 2], steps: usize) -> Result<PlaygroundRun> {
    let bad = |msg: String| ReportError::invalid(format!("--optimizer {spec:?}: {msg}"));
    let mut parts = spec.split(',');
    let kind = parts.next().unwrap_or("").trim();
    if kind.is_empty() {
        return Err(bad(
            "expected KIND[,KEY=VALUE…], e.g. \"sgd,lr=0.01\"".into()
        ));
    }
    let mut opt = toml::Table::new();
    opt.insert("kind".into(), toml::Value::String(kind.into()));
    let mut sched = toml::Table::new();
    let mut label = None;
    for part in parts {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("\"{part}\" is not KEY=VALUE")))?;
        let (k, v) = (k.trim(), v.trim());
        if k == "label" {
            label = Some(v.to_string());
            continue;
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.into()));
        match k.strip_prefix("schedule.") {
            Some(sk) => sched.insert(sk.into(), value),
            None => opt.insert(k.into(), value),
        };
    }
    let optimizer: OptimizerConfig = toml::Value::Table(opt)
        .try_into()
        .map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
    let schedule: Option<ScheduleConfig> = if sched.is_empty() {
        None
    } else {
        Some(
            toml::Value::Table(sched)
                .try_into()
                .map_err(|e: toml::de::Error| bad(format!("schedule: {}", e.message())))?,
        )
    };
    Ok(PlaygroundRun {
        label: label.unwrap_or_else(|| spec.to_string()),
        optimizer,
        schedule,
        start,
        steps,
    })
}
