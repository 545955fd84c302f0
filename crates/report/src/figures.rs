//! The figures of a run: loss curves, loss beside gradient norm, the learning rate, and — when
//! the run directory holds the other commands' JSON — the Hessian spectrum, loss against
//! minimum ratio, the batch-size table and the bias–complexity curve.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trainscope_diag::Verdict;
use trainscope_inspect::{plot_comparison, verdict_point, BatchComparison};
use trainscope_viz::plot::{
    accuracy_curves_plot, bias_complexity_plot, learning_rate_plot, loss_and_grad_norm_plot,
    loss_curves_plot, min_ratio_plot, spectrum_plot, ComplexityPoint, VerdictPoint,
};

use crate::error::{ReportError, Result};
use crate::run::{find_number, find_numbers, find_rows, objects, Run};

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

    figure("loss", "Training and validation loss per epoch", &|p| {
        loss_curves_plot(&train, val.as_deref(), p)
    })?;
    let train_acc: Option<Vec<f64>> = m.iter().map(|e| e.train_accuracy).collect();
    let val_acc: Option<Vec<f64>> = m.iter().map(|e| e.val_accuracy).collect();
    if let Some(t) = &train_acc {
        figure(
            "accuracy",
            "Training and validation accuracy per epoch",
            &|p| accuracy_curves_plot(t, val_acc.as_deref(), p),
        )?;
    }
    figure(
        "loss_grad_norm",
        "Loss beside the gradient norm: a flat loss over a large norm is oscillation, over a vanishing norm a critical point",
        &|p| loss_and_grad_norm_plot(&epochs, &train, &grad, "epoch", p),
    )?;
    figure("lr", "Learning rate of each epoch's last update", &|p| {
        learning_rate_plot(&epochs, &lr, "epoch", p)
    })?;

    if let Some(d) = &run.diagnose {
        if let Some(eigs) = find_numbers(d, "eigenvalues") {
            let tol = find_number(d, "zero_tolerance").unwrap_or(1e-6);
            figure(
                "spectrum",
                "Hessian spectrum at the trained weights (diagnose.json)",
                &|p| spectrum_plot(&eigs, tol, p),
            )?;
        }
    }
    if let Some(c) = &run.critical {
        let points = critical_points(c);
        if !points.is_empty() {
            let threshold = find_number(c, "min_ratio_threshold")
                .or_else(|| {
                    objects(c)
                        .into_iter()
                        .find_map(|m| m.get("thresholds")?.get("min_ratio")?.as_f64())
                })
                .unwrap_or(0.5);
            figure(
                "min_ratio",
                "Loss against minimum ratio at the critical points found (critical.json)",
                &|p| min_ratio_plot(&points, threshold, p),
            )?;
        }
    }
    if let Some(b) = &run.batch_size {
        // Only the file `batch-size` writes: its figure is redrawn by the same function.
        if let Ok(cmp) = serde_json::from_value::<BatchComparison>(b.clone()) {
            figure(
                "batch_size",
                "Batch sizes compared (batch_size.json)",
                &|p| {
                    plot_comparison(&cmp.rows, cmp.train_rows, &cmp.mode, &cmp.loss_name, p)
                        .map_err(|e| trainscope_viz::VizError::Invalid(e.to_string()))
                },
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

/// The points of every object holding a `min_ratio` and a `loss`, with its `verdict` and
/// `course_verdict` when they name one.
fn critical_points(v: &Value) -> Vec<VerdictPoint> {
    let verdict = |m: &serde_json::Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(|v| serde_json::from_value::<Verdict>(v.clone()).ok())
    };
    objects(v)
        .into_iter()
        .filter_map(|m| {
            verdict_point(
                m.get("min_ratio")?.as_f64()?,
                m.get("loss")?.as_f64()?,
                verdict(m, "verdict"),
                verdict(m, "course_verdict"),
            )
        })
        .collect()
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
