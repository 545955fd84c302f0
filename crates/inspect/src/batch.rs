//! The lectures' small-versus-large batch comparison on the user's own data.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use trainscope_core::{seeded_rng, Tensor};
use trainscope_data::Dataset;
use trainscope_diag::{lanczos_extremes, EvalOptions, LanczosOptions, LossFunction};
use trainscope_train::{
    files, load_run_data, train, BatchSize, Config, RunOptions, Silent, TrainedModel,
};
use trainscope_viz::plot::{bar_table_plot, BarPanel, BarTable};
use trainscope_viz::presets::Claim;

use crate::error::{invalid, Error, Result};
use crate::subject::{loss_function, Subject};

/// A batch size: rows per update, or the whole training set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchChoice {
    /// Rows per update.
    Rows(usize),
    /// Full-batch gradient descent.
    Full,
}

impl FromStr for BatchChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "full" => Ok(BatchChoice::Full),
            t => match t.parse::<usize>() {
                Ok(n) if n > 0 => Ok(BatchChoice::Rows(n)),
                _ => Err(invalid(format!(
                    "--sizes: {t:?} is not a batch size (a positive number of rows, or \"full\")"
                ))),
            },
        }
    }
}

impl BatchChoice {
    /// Parses a comma-separated list such as `1,8,32,full`.
    pub fn parse_list(text: &str) -> Result<Vec<BatchChoice>> {
        let v: Vec<BatchChoice> = text.split(',').map(str::parse).collect::<Result<_>>()?;
        if v.is_empty() {
            return Err(invalid("--sizes: need at least one batch size"));
        }
        Ok(v)
    }

    fn name(self) -> String {
        match self {
            BatchChoice::Rows(n) => n.to_string(),
            BatchChoice::Full => "full".into(),
        }
    }
}

/// Options of [`batch_size_comparison`].
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The batch sizes to compare.
    pub sizes: Vec<BatchChoice>,
    /// Give every size the same wall-clock budget instead of the configuration's epochs.
    pub budget_seconds: Option<f64>,
    /// Where the runs, `batch_size.json`, `.svg` and `.png` go.
    pub out_dir: PathBuf,
}

/// One batch size's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRow {
    /// `32` or `full`.
    pub batch_size: String,
    /// Rows per update.
    pub rows_per_batch: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Updates made.
    pub updates: u64,
    /// Wall-clock seconds of the run (updates, and validation after each epoch).
    pub seconds: f64,
    /// Seconds per update.
    pub time_per_update: f64,
    /// Seconds per epoch.
    pub time_per_epoch: f64,
    /// Final training loss: the trained model on all training rows (eval mode).
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub train_loss: f64,
    /// Final validation loss.
    pub val_loss: Option<f64>,
    /// Gradient noise: the mean over [`NOISE_BATCHES`] random batches of this size of
    /// `‖g_B − g‖²`, the squared distance of the mini-batch gradient from the full-data gradient
    /// at the same weights — for every size the weights the first size's run ended at, so the
    /// sizes differ only in the batch (eval mode; 0 for the full batch).
    #[serde(default)]
    pub grad_noise: Option<f64>,
    /// Sharpness at the end point: the largest eigenvalue of the Hessian of the full training
    /// loss (eval mode), by Lanczos.
    #[serde(default)]
    pub sharpness: Option<f64>,
    /// Keskar et al. (2017)'s sharpness at the end point, in percent:
    /// `100·(max L(θ + δ) − L(θ))/(1 + L(θ))` over [`PERTURBATIONS`] random corners δ of the box
    /// `|δᵢ| = ε(|θᵢ| + 1)`, ε = [`PERTURBATION_SIZE`] (they maximize over the box; random
    /// corners give a lower bound).
    #[serde(default)]
    pub perturbed_rise: Option<f64>,
}

/// Random batches whose gradients measure the gradient noise of a size.
pub const NOISE_BATCHES: usize = 32;
/// Random perturbations of the Keskar sharpness.
pub const PERTURBATIONS: usize = 20;
/// Their relative size ε.
pub const PERTURBATION_SIZE: f64 = 1e-2;

/// The comparison (`batch_size.json`, and what `--json` prints; the report reads it back as
/// this type).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchComparison {
    /// What was run: the resolved configuration (saved beside the result) by content hash,
    /// the training data and its rows.
    /// (Absent in files written before results were stamped.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<trainscope_record::Stamp>,
    /// One row per size, in the order given.
    pub rows: Vec<BatchRow>,
    /// `same epochs (N)` or `same budget (S s)`.
    pub mode: String,
    /// Training rows.
    pub train_rows: usize,
    /// The loss's name.
    pub loss_name: String,
    /// The plots written.
    pub plots: Vec<PathBuf>,
    /// What the lectures say to look for.
    pub lecture: Vec<String>,
    /// The lecture table's rows measured on this data, each with whether it held
    /// ([`batch_claims`]; empty in files written before they were checked).
    #[serde(default)]
    pub claims: Vec<Claim>,
}

/// Trains `config` once per batch size, everything else equal, with the configuration's
/// epochs, or with as many epochs as fit `budget_seconds` (measured by a one-epoch trial run
/// of each size). Writes `batch_size.json`, `batch_size.svg` and `batch_size.png`.
pub fn batch_size_comparison(
    config: &Config,
    opts: &BatchOptions,
    on_row: &mut dyn FnMut(&BatchRow),
) -> Result<BatchComparison> {
    if opts.sizes.is_empty() {
        return Err(invalid("--sizes: need at least one batch size"));
    }
    if let Some(b) = opts.budget_seconds {
        if !(b > 0.0 && b.is_finite()) {
            return Err(invalid(format!(
                "--budget-seconds: must be positive, got {b}"
            )));
        }
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| invalid(format!("cannot create {}: {e}", opts.out_dir.display())))?;
    let data = load_run_data(config)?;
    let n = data.train.n_rows();
    let mut rows = Vec::new();
    let mut loss_name = String::new();
    for &size in &opts.sizes {
        let mut cfg = config.clone();
        cfg.training.batch_size = match size {
            BatchChoice::Rows(k) => BatchSize::Rows(k),
            BatchChoice::Full => BatchSize::Full,
        };
        // Only the final weights are needed; checkpoints in between would be timed too.
        cfg.training.checkpoint_interval_s = 1e9;
        if let Some(budget) = opts.budget_seconds {
            let mut probe = cfg.clone();
            probe.training.epochs = 1;
            probe.training.early_stopping_patience = None;
            let s = train(&probe, &data, &RunOptions::default(), &mut Silent)?;
            cfg.training.epochs = ((budget / s.seconds.max(1e-9)).floor() as usize).max(1);
        }
        cfg.validate()?;
        let dir = opts.out_dir.join(format!("batch-{}", size.name()));
        let run = RunOptions {
            out_dir: Some(dir.clone()),
            ..Default::default()
        };
        let s = train(&cfg, &data, &run, &mut Silent)?;
        loss_name = s.loss.to_string();
        let model = TrainedModel::load(&dir.join(files::MODEL))?;
        let row = BatchRow {
            batch_size: size.name(),
            rows_per_batch: match size {
                BatchChoice::Rows(k) => k.min(n),
                BatchChoice::Full => n,
            },
            epochs: s.epochs,
            updates: s.steps,
            seconds: s.seconds,
            time_per_update: s.seconds / s.steps.max(1) as f64,
            time_per_epoch: s.seconds / s.epochs.max(1) as f64,
            train_loss: model.evaluate(&data.train)?.loss,
            val_loss: s.val_loss,
            grad_noise: None,
            sharpness: None,
            perturbed_rise: None,
        };
        let mut row = row;
        let subject = Subject::load(&dir.join(files::MODEL))?;
        let f = loss_function(
            &subject.meta,
            subject.model,
            &data.train,
            EvalOptions::default(),
        )?;
        let theta = f.initial_parameters();
        row.sharpness = Some(largest_eigenvalue(&f, &theta)?);
        row.perturbed_rise = Some(keskar_sharpness(&f, &theta, config.seed)?);
        on_row(&row);
        rows.push(row);
    }
    // The gradient noise of every size at one point: where the first size's run ended.
    if let Some(first) = rows.first() {
        let dir = opts.out_dir.join(format!("batch-{}", first.batch_size));
        let subject = Subject::load(&dir.join(files::MODEL))?;
        for row in rows.iter_mut() {
            row.grad_noise = Some(gradient_noise(
                &subject,
                &data.train,
                row.rows_per_batch,
                config.seed,
            )?);
        }
    }
    let mode = match opts.budget_seconds {
        Some(b) => format!("same budget ({b} s)"),
        None => format!("same epochs ({})", config.training.epochs),
    };
    let mut plots = Vec::new();
    for ext in ["svg", "png"] {
        let p = opts.out_dir.join(format!("batch_size.{ext}"));
        plot_comparison(&rows, n, &mode, &loss_name, &p)?;
        plots.push(p);
    }
    let cmp = BatchComparison {
        stamp: Some(crate::saved::config_stamp(
            &opts.out_dir,
            trainscope_record::files::BATCH_SIZE,
            config, Some(n))?),
        rows,
        mode,
        train_rows: n,
        loss_name,
        plots,
        lecture: vec![
            "time per update: about the same for small and large batches while the hardware runs a batch in parallel; grows once the batch is too large".into(),
            "time per epoch: large batches are faster (fewer updates)".into(),
            "gradient: small batches are noisy, which helps escape critical points".into(),
            "optimization and generalization: small batches tend to be better".into(),
            "sharpness: small batches land in flatter minima (Keskar et al. 2017)".into(),
        ],
        claims: Vec::new(),
    };
    let cmp = BatchComparison {
        claims: batch_claims(&cmp.rows),
        ..cmp
    };
    crate::saved::save_analysis(&opts.out_dir, trainscope_record::files::BATCH_SIZE, &cmp)?;
    Ok(cmp)
}

/// The comparison's figure (`batch-size` draws it, and the report and `plot` redraw it from
/// `batch_size.json`): time per update, time per epoch and the final losses, each panel in
/// its own unit.
pub fn plot_comparison(
    rows: &[BatchRow],
    train_rows: usize,
    mode: &str,
    loss_name: &str,
    out: &Path,
) -> Result<()> {
    let categories: Vec<String> = rows.iter().map(|r| r.batch_size.clone()).collect();
    let col = |f: &dyn Fn(&BatchRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mut loss_series = vec![("training".to_string(), col(&|r| r.train_loss))];
    if rows.iter().all(|r| r.val_loss.is_some()) {
        loss_series.push((
            "validation".to_string(),
            col(&|r| r.val_loss.unwrap_or(f64::NAN)),
        ));
    }
    let table = BarTable {
        title: format!("Batch size on {train_rows} training rows, {mode}"),
        category_label: "batch size".into(),
        categories,
        panels: vec![
            BarPanel {
                title: "Time per update".into(),
                y_label: "milliseconds".into(),
                series: vec![("update".into(), col(&|r| 1e3 * r.time_per_update))],
            },
            BarPanel {
                title: "Time per epoch".into(),
                y_label: "seconds".into(),
                series: vec![("epoch".into(), col(&|r| r.time_per_epoch))],
            },
            BarPanel {
                title: "Final loss".into(),
                y_label: loss_name.to_string(),
                series: loss_series,
            },
        ],
    };
    let mut table = table;
    // The measurements of the lecture's other rows, when the file has them.
    if rows.iter().all(|r| r.grad_noise.is_some()) {
        table.panels.push(BarPanel {
            title: "Gradient noise".into(),
            y_label: "mean ‖g_B − g‖²".into(),
            series: vec![("noise".into(), col(&|r| r.grad_noise.unwrap_or(f64::NAN)))],
        });
    }
    if rows.iter().all(|r| r.sharpness.is_some()) {
        table.panels.push(BarPanel {
            title: "Sharpness at the end".into(),
            y_label: "largest Hessian eigenvalue".into(),
            series: vec![("λmax".into(), col(&|r| r.sharpness.unwrap_or(f64::NAN)))],
        });
    }
    bar_table_plot(&table, out)?;
    Ok(())
}

/// The largest eigenvalue of the Hessian of `f` at `theta`, by Lanczos.
fn largest_eigenvalue(f: &LossFunction<'_>, theta: &[f64]) -> Result<f64> {
    let op = f.hessian_at(theta)?;
    let r = lanczos_extremes(
        &op,
        &LanczosOptions {
            k_largest: 1,
            k_smallest: 0,
            ..Default::default()
        },
    )?;
    Ok(r.largest.first().map_or(f64::NAN, |v| v.value))
}

/// `n` uniform numbers in [0, 1) from `seed`.
fn uniforms(n: usize, seed: u64) -> Result<Vec<f64>> {
    let mut rng = seeded_rng(seed);
    Ok(Tensor::<f64>::uniform(&[n.max(1)], 0.0, 1.0, &mut rng)?.to_vec())
}

/// Keskar et al.'s sharpness over random corners of the box (see [`BatchRow::perturbed_rise`]).
fn keskar_sharpness(f: &LossFunction<'_>, theta: &[f64], seed: u64) -> Result<f64> {
    let base = f.loss(theta)?;
    let mut worst = base;
    for k in 0..PERTURBATIONS {
        let u = uniforms(theta.len(), seed ^ (0x6b65_736b_6172 + k as u64))?;
        let p: Vec<f64> = theta
            .iter()
            .zip(&u)
            .map(|(t, r)| {
                let d = PERTURBATION_SIZE * (t.abs() + 1.0);
                if *r < 0.5 {
                    t - d
                } else {
                    t + d
                }
            })
            .collect();
        // A perturbation that overflows the loss is as sharp as it gets.
        worst = worst.max(f.loss(&p).unwrap_or(f64::INFINITY));
    }
    Ok(100.0 * (worst - base) / (1.0 + base))
}

/// The mean of `‖g_B − g‖²` over [`NOISE_BATCHES`] random batches of `batch` rows, at the
/// weights of `subject` (see [`BatchRow::grad_noise`]).
fn gradient_noise(subject: &Subject, train: &Dataset, batch: usize, seed: u64) -> Result<f64> {
    let n = train.n_rows();
    if batch >= n {
        return Ok(0.0);
    }
    let full = loss_function(
        &subject.meta,
        subject.model.clone(),
        train,
        EvalOptions::default(),
    )?;
    let theta = full.initial_parameters();
    let g = full.gradient(&theta)?.flat;
    let mut sum = 0.0;
    for k in 0..NOISE_BATCHES {
        // A random batch: the rows of the `batch` smallest of n uniform keys.
        let keys = uniforms(n, seed ^ (0x006e_6f69_7365 + k as u64))?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
        order.truncate(batch);
        let part = train.select(&order)?;
        let f = loss_function(
            &subject.meta,
            subject.model.clone(),
            &part,
            EvalOptions::default(),
        )?;
        let gb = f.gradient(&theta)?.flat;
        sum += gb.iter().zip(&g).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    }
    Ok(sum / NOISE_BATCHES as f64)
}

/// The lecture's small-versus-large batch table, row by row, as claims measured on `rows`
/// (the smallest batch against the largest): time per update about the same (grows far less
/// than the batch), an epoch faster with the large batch, noisier gradients with the small
/// one, and with the small batch a lower training loss, a lower validation loss and a
/// flatter end point (smaller λmax and Keskar sharpness).
pub fn batch_claims(rows: &[BatchRow]) -> Vec<Claim> {
    let mut sorted: Vec<&BatchRow> = rows.iter().collect();
    sorted.sort_by_key(|r| r.rows_per_batch);
    let (Some(small), Some(large)) = (sorted.first(), sorted.last()) else {
        return Vec::new();
    };
    if small.rows_per_batch == large.rows_per_batch {
        return Vec::new();
    }
    let (s, l) = (small.batch_size.as_str(), large.batch_size.as_str());
    let ratio = large.rows_per_batch as f64 / small.rows_per_batch as f64;
    let per_update = large.time_per_update / small.time_per_update;
    let mut claims = vec![
        Claim {
            claim: format!(
                "time per update: batch {l} has {ratio:.0}× the rows of batch {s} but takes {per_update:.1}× the time per update (the hardware runs a batch in parallel until it saturates)"
            ),
            held: per_update < 0.5 * ratio,
        },
        Claim {
            claim: format!(
                "time per epoch: batch {l} is faster, {:.3} ms against {:.3} ms",
                1e3 * large.time_per_epoch,
                1e3 * small.time_per_epoch
            ),
            held: large.time_per_epoch < small.time_per_epoch,
        },
    ];
    let noise: Vec<Option<f64>> = sorted.iter().map(|r| r.grad_noise).collect();
    if noise.iter().all(Option::is_some) {
        let v: Vec<f64> = noise.into_iter().flatten().collect();
        claims.push(Claim {
            claim: format!(
                "gradient: small batches are noisier: mean ‖g_B − g‖² {} for batches {}",
                v.iter()
                    .map(|x| format!("{x:.3e}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                sorted
                    .iter()
                    .map(|r| r.batch_size.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            held: v.windows(2).all(|w| w[1] < w[0]),
        });
    }
    claims.push(Claim {
        claim: format!(
            "optimization: batch {s} reaches a lower training loss, {:.4e} against {:.4e}",
            small.train_loss, large.train_loss
        ),
        held: small.train_loss < large.train_loss,
    });
    if let (Some(vs), Some(vl)) = (small.val_loss, large.val_loss) {
        claims.push(Claim {
            claim: format!(
                "generalization: batch {s} reaches a lower validation loss, {vs:.4e} against {vl:.4e} (validation − training {:+.3e} against {:+.3e})",
                vs - small.train_loss,
                vl - large.train_loss
            ),
            held: vs < vl,
        });
    }
    if let (Some(a), Some(b)) = (small.sharpness, large.sharpness) {
        claims.push(Claim {
            claim: format!(
                "sharpness: batch {s} ends at a flatter point: largest Hessian eigenvalue {a:.4} against {b:.4}"
            ),
            held: a < b,
        });
    }
    if let (Some(a), Some(b)) = (small.perturbed_rise, large.perturbed_rise) {
        claims.push(Claim {
            claim: format!(
                "sharpness (Keskar et al.): batch {s} ends at a flatter point: loss rise under ±{:.0} % perturbations {a:.3e} % against {b:.3e} %",
                100.0 * PERTURBATION_SIZE
            ),
            held: a < b,
        });
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(size: usize, per_update: f64, train: f64, val: f64, noise: f64, lmax: f64) -> BatchRow {
        BatchRow {
            batch_size: size.to_string(),
            rows_per_batch: size,
            epochs: 1,
            updates: (64 / size) as u64,
            seconds: per_update * (64 / size) as f64,
            time_per_update: per_update,
            time_per_epoch: per_update * (64 / size) as f64,
            train_loss: train,
            val_loss: Some(val),
            grad_noise: Some(noise),
            sharpness: Some(lmax),
            perturbed_rise: Some(lmax / 10.0),
        }
    }

    #[test]
    fn claims_compare_the_smallest_batch_with_the_largest() {
        // Listed out of order: the claims sort by rows per batch.
        let rows = [
            row(64, 2e-3, 0.3, 0.4, 0.0, 9.0),
            row(4, 1e-3, 0.1, 0.2, 0.5, 3.0),
            row(16, 1.5e-3, 0.2, 0.3, 0.1, 5.0),
        ];
        let c = batch_claims(&rows);
        let held: Vec<bool> = c.iter().map(|c| c.held).collect();
        assert_eq!(held, [true, true, true, true, true, true, true], "{c:?}");
        assert!(
            c[0].claim
                .contains("16× the rows of batch 4 but takes 2.0×"),
            "{}",
            c[0].claim
        );
        assert!(
            c[2].claim.contains("for batches 4, 16, 64"),
            "{}",
            c[2].claim
        );
        // The opposite outcome on every measured row: each says it does not hold.
        let rows = [
            row(4, 1e-3, 0.3, 0.4, 0.1, 9.0),
            row(64, 2e-2, 0.1, 0.2, 0.5, 3.0),
        ];
        let held: Vec<bool> = batch_claims(&rows).iter().map(|c| c.held).collect();
        assert_eq!(held, [false, false, false, false, false, false, false]);
        // One size: nothing to compare.
        assert!(batch_claims(&rows[..1]).is_empty());
    }
}
