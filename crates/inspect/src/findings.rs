//! A run directory's findings: the facts its files record (`metrics.jsonl`, `config.toml`,
//! `summary.json`) handed to the detectors of `trainscope-findings`.

use std::path::Path;

use serde_json::Value;
use trainscope_diag::{Plateau, PlateauKind, StuckOptions, StuckReport};
use trainscope_findings::{
    find, ColumnScale, DataFacts, EpochFacts, Finding, Kind, LayerFacts, OptimizerFacts, Report,
    RunFacts, Task, UnitActivity,
};
use trainscope_train::{files, Config, DataFormat, EpochMetrics, Preset, Summary};

use crate::error::{invalid, Result};

/// The per-epoch records of a run's `metrics.jsonl`; errors name the file and line.
pub fn read_epochs(path: &Path) -> Result<Vec<EpochMetrics>> {
    Ok(trainscope_record::read_metrics(path)?)
}

/// [`read_epochs`] on the text of the file; `path` only names it in errors.
pub fn parse_epochs(path: &Path, text: &str) -> Result<Vec<EpochMetrics>> {
    Ok(trainscope_record::parse_metrics(path, text)?)
}

/// What the detectors need, gathered from a run directory; `None` without `metrics.jsonl`.
/// `summary` overrides the directory's `summary.json` (the run that just ended).
pub fn run_facts(run_dir: &Path, summary: Option<&Summary>) -> Result<Option<RunFacts>> {
    let metrics = run_dir.join(files::METRICS);
    if !metrics.is_file() {
        return Ok(None);
    }
    let epochs = read_epochs(&metrics)?;
    let read_summary;
    let summary = match summary {
        Some(s) => Some(s),
        None => {
            let p = run_dir.join(files::SUMMARY);
            read_summary = match std::fs::read_to_string(&p) {
                Ok(t) => Some(parse_summary(&p, &t)?),
                Err(_) => None,
            };
            read_summary.as_ref()
        }
    };
    let config_path = run_dir.join(files::CONFIG);
    let config = if config_path.is_file() {
        Some(Config::load(&config_path, &[])?)
    } else {
        None
    };
    Ok(Some(facts(&epochs, config.as_ref(), summary)))
}

/// A run's `summary.json` from its text; `path` only names it in errors.
pub fn parse_summary(path: &Path, text: &str) -> Result<Summary> {
    serde_json::from_str::<Summary>(text)
        .map_err(|e| invalid(format!("{}: not a run summary: {e}", path.display())))
}

/// What the detectors need from a run's epochs, configuration and summary (as [`run_facts`]
/// reads them from its directory).
pub fn facts(
    epochs: &[EpochMetrics],
    config: Option<&Config>,
    summary: Option<&Summary>,
) -> RunFacts {
    let mut f = RunFacts {
        epochs: epochs
            .iter()
            .map(|e| EpochFacts {
                epoch: e.epoch as u64,
                train_loss: e.train_loss,
                val_loss: e.val_loss,
                train_accuracy: e.train_accuracy,
                val_accuracy: e.val_accuracy,
                grad_norm: Some(e.grad_norm),
                lr: Some(e.lr),
                grad_norm_per_layer: e.grad_norm_per_layer.0.clone(),
            })
            .collect(),
        updates_per_epoch: epochs
            .first()
            .map_or(0, |e| e.step as usize / e.epoch.max(1)),
        task: if epochs.iter().any(|e| e.train_accuracy.is_some()) {
            Task::Classification
        } else {
            Task::Regression
        },
        ..RunFacts::default()
    };
    if let Some(c) = config {
        f.epochs_planned = c.training.epochs;
        f.early_stopping_patience = c.training.early_stopping_patience;
        f.optimizer = optimizer_facts(c);
        f.schedule = c
            .schedule
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.get("kind").and_then(Value::as_str).map(String::from));
        f.schedule_unit = c.schedule.as_ref().map(|s| s.unit.name().to_string());
        let m = &c.model;
        if m.preset == Some(Preset::Mlp) {
            f.hidden_layers = m.hidden.as_ref().map_or(0, Vec::len);
            f.activation = Some(m.activation.map_or("relu".to_string(), |a| {
                serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            }));
            f.batch_norm = m.batch_norm;
            f.dropout = m.dropout;
        } else if m.preset == Some(Preset::Sigmoids) {
            f.activation = Some("sigmoid".into());
        }
        if c.data.format == DataFormat::Idx {
            f.task = Task::Classification;
        } else if let Some(t) = c.data.task {
            f.task = match t {
                trainscope_data::Task::Regression => Task::Regression,
                trainscope_data::Task::Classification => Task::Classification,
            };
        }
    }
    if let Some(s) = summary {
        f.loss = s.loss.clone();
        f.baseline_train_loss = s.baseline_train_loss;
        f.full_grad_norm = s.full_grad_norm;
        f.diverged = s
            .diverged
            .as_ref()
            .map(|d| trainscope_findings::Divergence {
                epoch: d.epoch as u64,
                update: d.update as u64,
                what: d.what.clone(),
            });
        f.baseline_val_loss = s.baseline_val_loss;
        f.baseline_val_accuracy = s.baseline_val_accuracy;
        f.stopped_early = s.stopped_early;
        f.reported_epoch = if f.early_stopping_patience.is_some() && !s.interrupted {
            s.best_epoch.map(|b| b as u64)
        } else {
            None
        };
        f.layers = s
            .layers
            .iter()
            .map(|l| LayerFacts {
                name: l.name.clone(),
                kind: l.kind.clone(),
                parameters: l.parameters,
            })
            .collect();
        f.relu_units = s
            .relu_units
            .iter()
            .map(|u| UnitActivity {
                layer: u.layer.clone(),
                units: u.units,
                dead: u.dead,
            })
            .collect();
        f.data = s.data_scales.as_ref().map(|d| {
            let col = |c: &trainscope_train::ColumnStats| ColumnScale {
                name: c.name.clone(),
                mean: c.mean,
                std: c.std,
            };
            DataFacts {
                features: d.features.iter().map(col).collect(),
                target: d.target.as_ref().map(col),
                features_standardized: config.map_or(true, |c| c.data.standardize),
                target_standardized: config.map_or(true, |c| c.standardizes_target()),
            }
        });
    }
    f
}

fn optimizer_facts(c: &Config) -> OptimizerFacts {
    let v = serde_json::to_value(c.optimizer).unwrap_or(Value::Null);
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    OptimizerFacts {
        kind: v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        lr: num("lr").unwrap_or(0.0),
        momentum: num("momentum").unwrap_or(0.0),
        weight_decay: num("weight_decay").unwrap_or(0.0),
        clip_global_norm: num("clip_global_norm"),
    }
}

/// The findings of a run directory; `None` when it has no metrics.
pub fn run_findings(run_dir: &Path, summary: Option<&Summary>) -> Result<Option<Report>> {
    Ok(run_facts(run_dir, summary)?.map(|f| find(&f)))
}

/// The findings about a stuck loss, in the form of the earlier plateau report (`stuck` in
/// `train --json` and `diagnose --json`): a critical point or a learning rate too large to
/// settle, each a plateau.
pub fn stuck_from_findings(report: &Report) -> StuckReport {
    let plateaus = report.findings.iter().filter_map(plateau).collect();
    StuckReport {
        epochs: report.epochs,
        plateaus,
        options: StuckOptions::default(),
        rule: "the findings' critical_point and lr_too_large rules (see `findings`)".into(),
        note: "the recorded gradient norm is the mean mini-batch norm, which sampling noise keeps \
               above the full-data norm; confirm a suspected critical point with `diagnose`"
            .into(),
    }
}

fn plateau(f: &Finding) -> Option<Plateau> {
    let kind = match f.kind {
        Kind::CriticalPoint => PlateauKind::CriticalPoint,
        Kind::LrTooLarge => PlateauKind::Oscillating,
        _ => return None,
    };
    let [a, b] = f.epochs?;
    let ev = |k: &str| f.evidence.get(k).and_then(Value::as_f64);
    Some(Plateau {
        start_epoch: a,
        end_epoch: b,
        loss_start: ev("loss").unwrap_or(f64::NAN),
        loss_end: ev("loss").unwrap_or(f64::NAN),
        grad_norm_median: ev("grad_norm"),
        grad_norm_reference: ev("grad_norm_earlier_max"),
        kind,
        explanation: f.explanation.clone(),
        remedies: f.remedies.iter().map(|r| r.short()).collect(),
    })
}
