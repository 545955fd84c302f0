//! The figures of a run: loss curves, loss beside gradient norm, the learning rate, and — when
//! the run directory holds the other commands' JSON — the Hessian spectrum, loss against
//! minimum ratio, the batch-size table and the bias–complexity curve.

use std::path::{Path, PathBuf};

use trainscope_inspect::{
    plot_comparison, plot_critical, plot_ladder, plot_spectrum, BatchComparison,
    CriticalExperiment, Diagnosis, GuideReport,
};
use trainscope_viz::plot::{
    accuracy_curves_plot, learning_rate_plot, loss_and_grad_norm_plot, loss_curves_plot,
};

use crate::error::{ReportError, Result};
use crate::run::Run;

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

/// Figures drawn into one directory in every format asked for.
pub(crate) struct Figures<'a> {
    out_dir: &'a Path,
    formats: &'a [Format],
    /// The figures drawn so far, in order.
    pub(crate) drawn: Vec<FigureFile>,
}

impl<'a> Figures<'a> {
    /// Figures into `out_dir` (created if needed).
    pub(crate) fn new(out_dir: &'a Path, formats: &'a [Format]) -> Result<Figures<'a>> {
        if formats.is_empty() {
            return Err(ReportError::invalid("no image format asked for"));
        }
        std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
        Ok(Figures {
            out_dir,
            formats,
            drawn: Vec::new(),
        })
    }

    /// Draws the figure `name` once per format with `draw`.
    pub(crate) fn draw(
        &mut self,
        name: &str,
        title: &str,
        draw: &dyn Fn(&Path) -> Result<()>,
    ) -> Result<()> {
        let mut written = Vec::new();
        for f in self.formats {
            let path = self.out_dir.join(format!("{name}.{}", f.extension()));
            draw(&path)?;
            written.push(path);
        }
        self.drawn.push(FigureFile {
            name: name.into(),
            title: title.into(),
            files: written,
        });
        Ok(())
    }

    /// The Hessian's spectrum, by the function `diagnose --plot` draws it with.
    pub(crate) fn spectrum(&mut self, d: &Diagnosis) -> Result<()> {
        let h = &d.hessian;
        if h.eigenvalues.is_none() && h.density.is_none() {
            return Ok(());
        }
        self.draw(
            "spectrum",
            "Hessian spectrum at the trained weights (diagnose.json)",
            &|p| Ok(plot_spectrum(h, p)?),
        )
    }

    /// Loss against minimum ratio, by the function `critical` draws it with.
    pub(crate) fn critical(&mut self, c: &CriticalExperiment) -> Result<()> {
        if !c.rows.iter().any(|r| r.min_ratio.is_some()) {
            return Ok(());
        }
        self.draw(
            "min_ratio",
            "Loss against minimum ratio at the critical points found (critical.json)",
            &|p| Ok(plot_critical(&c.rows, c.thresholds.min_ratio, p)?),
        )
    }

    /// The batch sizes compared, by the function `batch-size` draws them with.
    pub(crate) fn batch_size(&mut self, b: &BatchComparison) -> Result<()> {
        if b.rows.is_empty() {
            return Ok(());
        }
        self.draw(
            "batch_size",
            "Batch sizes compared (batch_size.json)",
            &|p| {
                Ok(plot_comparison(
                    &b.rows,
                    b.train_rows,
                    &b.mode,
                    &b.loss_name,
                    p,
                )?)
            },
        )
    }

    /// The guide's ladder against model size, by the function `guide` draws it with.
    pub(crate) fn guide(&mut self, g: &GuideReport) -> Result<()> {
        if g.rungs.is_empty() {
            return Ok(());
        }
        self.draw(
            "bias_complexity",
            "Training and validation loss against model size (guide.json)",
            &|p| Ok(plot_ladder(&g.rungs, p)?),
        )
    }
}

/// Draws every figure the run's files allow into `out_dir` (created if needed).
pub fn plot_run(run: &Run, out_dir: &Path, formats: &[Format]) -> Result<Vec<FigureFile>> {
    let mut figures = Figures::new(out_dir, formats)?;
    let m = &run.metrics;
    let epochs: Vec<f64> = m.iter().map(|e| e.epoch as f64).collect();
    let train: Vec<f64> = m.iter().map(|e| e.train_loss).collect();
    let val: Option<Vec<f64>> = m.iter().map(|e| e.val_loss).collect();
    let grad: Vec<f64> = m.iter().map(|e| e.grad_norm).collect();
    let lr: Vec<f64> = m.iter().map(|e| e.lr).collect();

    figures.draw("loss", "Training and validation loss per epoch", &|p| {
        Ok(loss_curves_plot(&train, val.as_deref(), p)?)
    })?;
    let train_acc: Option<Vec<f64>> = m.iter().map(|e| e.train_accuracy).collect();
    let val_acc: Option<Vec<f64>> = m.iter().map(|e| e.val_accuracy).collect();
    if let Some(t) = &train_acc {
        figures.draw(
            "accuracy",
            "Training and validation accuracy per epoch",
            &|p| Ok(accuracy_curves_plot(t, val_acc.as_deref(), p)?),
        )?;
    }
    figures.draw(
        "loss_grad_norm",
        "Loss beside the gradient norm: a flat loss over a large norm is oscillation, over a vanishing norm a critical point",
        &|p| Ok(loss_and_grad_norm_plot(&epochs, &train, &grad, "epoch", p)?),
    )?;
    figures.draw("lr", "Learning rate of each epoch's last update", &|p| {
        Ok(learning_rate_plot(&epochs, &lr, "epoch", p)?)
    })?;
    if let Some(d) = &run.diagnose {
        figures.spectrum(d)?;
    }
    if let Some(c) = &run.critical {
        figures.critical(c)?;
    }
    if let Some(b) = &run.batch_size {
        figures.batch_size(b)?;
    }
    if let Some(g) = &run.guide {
        figures.guide(g)?;
    }
    Ok(figures.drawn)
}
