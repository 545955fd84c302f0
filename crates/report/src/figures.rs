//! The figures of a run: loss curves, loss beside gradient norm, the learning rate, and — when
//! the run directory holds the other commands' JSON — the Hessian spectrum, loss against
//! minimum ratio, the batch-size table and the bias–complexity curve.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trainscope_viz::plot::{
    bar_table_plot, bias_complexity_plot, line_plot, loss_and_grad_norm_plot, loss_curves_plot,
    min_ratio_scatter_plot_grouped, spectrum_histogram_plot, BarPanel, BarTable, ComplexityPoint,
    LineOptions, Series,
};

use crate::error::{ReportError, Result};
use crate::run::{find_number, find_numbers, find_rows, find_rows_where, objects, Run};

/// Image formats of the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// One figure written, in every format asked for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FigureFile {
    /// File stem, e.g. `loss`.
    pub name: String,
    /// Caption.
    pub title: String,
    /// One file per format.
    pub files: Vec<PathBuf>,
}

/// Log scale only when every value is positive and they span more than two decades.
fn wants_log(values: &[f64]) -> bool {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    min > 0.0 && max / min > 100.0
}

/// Draws every figure the run's files allow into `out_dir` (created if needed).
pub fn plot_run(run: &Run, out_dir: &Path, formats: &[Format]) -> Result<Vec<FigureFile>> {
    if formats.is_empty() {
        return Err(ReportError::invalid("no image format asked for"));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let m = &run.metrics;
    let epochs: Vec<f64> = m.iter().map(|e| e.epoch as f64).collect();
    let train: Vec<f64> = m.iter().map(|e| e.train_loss).collect();
    let val: Option<Vec<f64>> = m.iter().map(|e| e.val_loss).collect();
    let grad: Vec<f64> = m.iter().map(|e| e.grad_norm).collect();
    let lr: Vec<f64> = m.iter().map(|e| e.lr).collect();

    let mut figures = Vec::new();
    let mut figure = |name: &str,
                      title: &str,
                      draw: &dyn Fn(&Path) -> trainscope_viz::Result<()>|
     -> Result<()> {
        let mut written = Vec::new();
        for f in formats {
            let path = out_dir.join(format!("{name}.{}", f.extension()));
            draw(&path)?;
            written.push(path);
        }
        figures.push(FigureFile {
            name: name.into(),
            title: title.into(),
            files: written,
        });
        Ok(())
    };

    let mut all = train.clone();
    all.extend(val.iter().flatten());
    let log = wants_log(&all);
    figure("loss", "Training and validation loss per epoch", &|p| {
        loss_curves_plot(&train, val.as_deref(), log, p)
    })?;
    let log_both = wants_log(&train) || wants_log(&grad);
    let positive = train.iter().chain(&grad).all(|&v| v > 0.0);
    figure(
        "loss_grad_norm",
        "Loss beside the gradient norm: a flat loss over a large norm is oscillation, over a vanishing norm a critical point",
        &|p| loss_and_grad_norm_plot(&epochs, &train, &grad, "epoch", log_both && positive, p),
    )?;
    figure("lr", "Learning rate of each epoch's last update", &|p| {
        let opts = LineOptions {
            title: "Learning rate".into(),
            x_label: "epoch".into(),
            y_label: "learning rate η".into(),
            ..Default::default()
        };
        line_plot(
            &[Series {
                label: "η",
                x: &epochs,
                y: &lr,
            }],
            &opts,
            p,
        )
    })?;

    if let Some(d) = &run.diagnose {
        if let Some(eigs) = find_numbers(d, "eigenvalues") {
            let tol = find_number(d, "zero_tolerance").unwrap_or(1e-6);
            figure(
                "spectrum",
                "Hessian spectrum at the trained weights (diagnose.json)",
                &|p| spectrum_histogram_plot(&eigs, 30, tol, p),
            )?;
        }
    }
    if let Some(c) = &run.critical {
        let groups = critical_points(c);
        if !groups.is_empty() {
            let losses: Vec<f64> = groups
                .iter()
                .flat_map(|g| g.1.iter().map(|p| p[1]))
                .collect();
            let log = wants_log(&losses);
            figure(
                "min_ratio",
                "Loss against minimum ratio at the critical points found (critical.json)",
                &|p| min_ratio_scatter_plot_grouped(&groups, log, p),
            )?;
        }
    }
    if let Some(b) = &run.batch_size {
        if let Some(table) = batch_table(b) {
            figure(
                "batch_size",
                "Batch sizes compared (batch_size.json)",
                &|p| bar_table_plot(&table, p),
            )?;
        }
    }
    if let Some(g) = &run.guide {
        let points = complexity_points(g);
        if points.len() >= 2 {
            figure(
                "bias_complexity",
                "Training and validation loss against model size (guide.json)",
                &|p| bias_complexity_plot(&points, p),
            )?;
        }
    }
    Ok(figures)
}

/// `[minimum ratio, loss]` of every object holding both numbers, grouped by its `verdict`
/// (and `course_verdict` when that differs).
fn critical_points(v: &Value) -> Vec<(String, Vec<[f64; 2]>)> {
    let words = |m: &serde_json::Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .map(|s| s.replace('_', " "))
    };
    let mut groups: Vec<(String, Vec<[f64; 2]>)> = Vec::new();
    for m in objects(v) {
        let (Some(r), Some(l)) = (
            m.get("min_ratio").and_then(Value::as_f64),
            m.get("loss").and_then(Value::as_f64),
        ) else {
            continue;
        };
        let label = match (words(m, "verdict"), words(m, "course_verdict")) {
            (Some(v), Some(c)) if v != c => format!("{v} (course: {c})"),
            (Some(v), _) => v,
            (None, _) => "critical point".into(),
        };
        match groups.iter_mut().find(|g| g.0 == label) {
            Some(g) => g.1.push([r, l]),
            None => groups.push((label, vec![[r, l]])),
        }
    }
    groups
}

/// The rows holding a `batch_size`: one category per row, numeric columns grouped into panels
/// by what they measure (time, loss, accuracy, the rest).
fn batch_table(v: &Value) -> Option<BarTable> {
    // `batch-size` writes sizes as text ("full" is one), so any scalar labels a row.
    let rows = find_rows_where(v, &|m| {
        m.get("batch_size")
            .is_some_and(|b| b.is_number() || b.is_string())
    })?;
    let categories: Vec<String> = rows
        .iter()
        .map(|r| match &r["batch_size"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    // Settings of the comparison rather than results.
    const SETTINGS: [&str; 3] = ["batch_size", "rows_per_batch", "epochs"];
    let mut columns: Vec<&str> = Vec::new();
    for r in &rows {
        for (k, v) in r.iter() {
            if !SETTINGS.contains(&k.as_str()) && v.is_number() && !columns.contains(&k.as_str()) {
                columns.push(k);
            }
        }
    }
    let group = |k: &str| {
        if k.contains("time") || k.ends_with("_s") || k.contains("second") {
            "time (s)"
        } else if k.contains("acc") {
            "accuracy"
        } else if k.contains("loss") {
            "loss"
        } else {
            "other"
        }
    };
    let mut panels: Vec<BarPanel> = Vec::new();
    for k in columns {
        let values: Vec<f64> = rows
            .iter()
            .map(|r| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN))
            .collect();
        let g = group(k);
        match panels.iter_mut().find(|p| p.title == g) {
            Some(p) => p.series.push((k.to_string(), values)),
            None => panels.push(BarPanel {
                title: g.into(),
                y_label: g.into(),
                series: vec![(k.to_string(), values)],
            }),
        }
    }
    (!panels.is_empty()).then(|| BarTable {
        title: "Batch sizes compared".into(),
        category_label: "batch size".into(),
        categories,
        panels,
    })
}

/// The rungs of a model-size ladder: rows with `train_loss`, `val_loss` and a size.
fn complexity_points(v: &Value) -> Vec<ComplexityPoint> {
    let Some(rows) = find_rows(v, &["train_loss", "val_loss"]) else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| {
            let size = ["parameters", "params", "size"]
                .iter()
                .find_map(|k| r.get(*k).and_then(Value::as_f64))?;
            let label = ["label", "name", "model"]
                .iter()
                .find_map(|k| r.get(*k).and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| format!("{size}"));
            Some(ComplexityPoint {
                label,
                size,
                train_loss: r["train_loss"].as_f64()?,
                val_loss: r["val_loss"].as_f64()?,
            })
        })
        .collect()
}
