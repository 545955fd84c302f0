//! The lectures' claims that need a network rather than a two-parameter surface, measured on
//! small MLPs trained full-batch through diag's [`LossFunction`] (gradients and the dense
//! Hessian of the whole-data loss) with the optimizers of `trainscope-optim`:
//!
//! - feature normalization with batch normalization ([`batch_norm_story`]): an MLP on the
//!   badly scaled features of [`feature_data`] raw, with standardized inputs, and raw with
//!   `BatchNorm1d` after each hidden linear layer — the Hessian's largest eigenvalue and the
//!   updates GD needs at its best fixed rate;
//! - warm-up on a deep network ([`deep_warmup_story`]): Adam with and without a linear
//!   warm-up, and RAdam, over the first updates of a 16-layer residual MLP without
//!   normalization, whose initial loss is large.
//!
//! Fixed seeds and data generated here; a claim the numbers do not bear out is reported as
//! such.

use serde::{Deserialize, Serialize};
use trainscope_diag::{symmetric_eigen, EvalOptions, LossFunction, Targets};
use trainscope_nn::{Activation, Loss, Mode, ModelSpec, Sequential};
use trainscope_optim::{
    AdamOptions, OptimizerConfig, OptimizerOptions, RAdamOptions, ScheduleConfig, SgdOptions,
};

use crate::analytic::feature_data;
use crate::error::Result;

/// One training run of a network: the full-data loss before each update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// What ran, e.g. `Adam η = 0.01`.
    pub label: String,
    /// The loss at the start and after each update (`updates + 1` values unless it
    /// diverged).
    pub loss: Vec<f64>,
    /// True when the loss or a gradient stopped being finite.
    pub diverged: bool,
}

impl Curve {
    /// Updates made.
    pub fn updates(&self) -> usize {
        self.loss.len().saturating_sub(1)
    }
}

/// A figure of loss curves: the runs of one network setting (`playground-<name>-loss.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// File stem, e.g. `mlp_features`.
    pub name: String,
    /// What was trained, one line.
    pub description: String,
    /// The runs.
    pub curves: Vec<Curve>,
}

/// A loss function of a model on data, with the parameters it starts from.
struct Problem {
    f: LossFunction<'static>,
    start: Vec<f64>,
}

impl Problem {
    /// `spec` initialized from `seed` on `rows × inputs` features, MSE, full batch in
    /// [`Mode::Train`]: with batch norm, the batch statistics of all rows — the function
    /// full-batch GD minimizes.
    fn new(spec: ModelSpec, seed: u64, x: &[f64], y: &[f64]) -> Result<Problem> {
        let model = Sequential::<f64>::from_seed(spec, seed)?;
        let start = model.parameters().iter().flat_map(|p| p.to_vec()).collect();
        let opts = EvalOptions {
            batch_size: y.len(),
            mode: Mode::Train,
            ..Default::default()
        };
        let targets = Targets::Values {
            data: y.to_vec(),
            width: 1,
        };
        let f = LossFunction::from_model(model, x, targets, Loss::Mse, opts)?;
        Ok(Problem { f, start })
    }

    fn parameters(&self) -> usize {
        self.start.len()
    }

    /// Trains from the start for at most `steps` updates, stopping early once the loss is at
    /// most `stop_below` or is more than `blow_up` times the start's (or not finite). Returns
    /// the curve and the parameters of its last loss.
    fn train(
        &self,
        label: String,
        optimizer: &OptimizerConfig,
        schedule: Option<&ScheduleConfig>,
        steps: usize,
        stop_below: f64,
        blow_up: f64,
    ) -> Result<(Curve, Vec<f64>)> {
        let mut opt = match schedule {
            Some(s) => optimizer.build_with_schedule::<f64>(s)?,
            None => optimizer.build::<f64>()?,
        };
        let mut params = [self.start.clone()];
        let mut curve = Curve {
            label,
            loss: Vec::with_capacity(steps + 1),
            diverged: false,
        };
        for step in 0..=steps {
            let g = match self.f.gradient(&params[0]) {
                Ok(g) if g.loss.is_finite() && g.flat.iter().all(|v| v.is_finite()) => g,
                _ => {
                    curve.diverged = true;
                    break;
                }
            };
            curve.loss.push(g.loss);
            if step == steps || g.loss <= stop_below || g.loss > blow_up * curve.loss[0] {
                break;
            }
            opt.step(&mut params, std::slice::from_ref(&g.flat))?;
        }
        let [end] = params;
        Ok((curve, end))
    }

    /// The eigenvalues of the dense Hessian at `theta`, ascending.
    fn spectrum(&self, theta: &[f64]) -> Result<Vec<f64>> {
        let n = self.parameters();
        let h = self.f.hessian(theta)?;
        Ok(symmetric_eigen(&h, n)?.0)
    }
}

fn sgd(lr: f64) -> OptimizerConfig {
    OptimizerConfig::Sgd(SgdOptions {
        lr,
        ..Default::default()
    })
}

/// A rate with three significant digits and no trailing zeros.
fn rate(lr: f64) -> String {
    crate::presets::rate(lr)
}

// ---------------------------------------------------------------------------------------------
// Batch normalization

/// Hidden widths of the feature MLP (tanh).
pub const FEATURE_MLP_HIDDEN: [usize; 2] = [16, 16];
/// Its initialization seed (the same for every variant).
pub const FEATURE_MLP_SEED: u64 = 0;
/// The loss to reach: this fraction of the variance of the target (the loss of predicting
/// its mean).
pub const FEATURE_MLP_TARGET: f64 = 0.01;
/// Most updates a rate is given.
pub const FEATURE_MLP_MAX_UPDATES: usize = 3000;

/// The rates tried, largest first: 10^(k/4), k = 4 … −16 (10 to 1e-4).
pub fn feature_mlp_rates() -> Vec<f64> {
    (-16..=4)
        .rev()
        .map(|k| 10f64.powf(k as f64 / 4.0))
        .collect()
}

/// One variant of the feature MLP: its spectrum at the start and its best rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMlpRow {
    /// `raw features`, `standardized features`, `raw features, batch norm`.
    pub variant: String,
    /// Parameters (batch norm adds γ and β per hidden unit).
    pub parameters: usize,
    /// The loss at the start.
    pub start_loss: f64,
    /// The largest eigenvalue λ₁ of the Hessian at the start.
    pub lambda_max: f64,
    /// The N-th largest, N the rows of the data.
    pub lambda_n: f64,
    /// The smallest (most negative) one.
    pub lambda_min: f64,
    /// The best rate of [`feature_mlp_rates`] (fewest updates to the target), if any reached
    /// it within [`FEATURE_MLP_MAX_UPDATES`].
    pub best_lr: Option<f64>,
    /// Its updates.
    pub updates: Option<usize>,
    /// `λ₁/λ_N` of the Hessian at the point the best run reached (None if no run did).
    pub end_condition: Option<f64>,
}

impl FeatureMlpRow {
    /// `λ₁/λ_N`: the condition number of the N largest eigenvalues. The squared error on N
    /// rows curves the weights in at most N directions through the model's outputs (the
    /// Gauss–Newton part `JᵀJ/N` has rank ≤ N); the other directions of an MLP with hundreds
    /// of weights are nearly flat or, at the start, negative, and would make `λmax/λmin`
    /// meaningless.
    pub fn condition(&self) -> f64 {
        self.lambda_max / self.lambda_n
    }

    fn curvature(&self) -> String {
        format!("λ₁/λ₄₀ {:.1} (λ₁ {:.2})", self.condition(), self.lambda_max)
    }

    fn updates_text(&self) -> String {
        match (self.updates, self.best_lr) {
            (Some(n), Some(lr)) => format!("{n} updates (η = {})", rate(lr)),
            _ => format!("more than {FEATURE_MLP_MAX_UPDATES} updates at every rate"),
        }
    }
}

/// The numbers of the batch-norm comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNormFindings {
    /// Raw features, standardized features, raw features with batch norm
    /// ([`FEATURE_MLP_VARIANTS`]).
    pub rows: Vec<FeatureMlpRow>,
    /// The loss to reach.
    pub target_loss: f64,
}

impl BatchNormFindings {
    fn rounder(&self, i: usize) -> bool {
        self.rows[i].condition() < 0.5 * self.rows[0].condition()
    }

    fn faster(&self, i: usize) -> bool {
        let n = |r: &FeatureMlpRow| r.updates.unwrap_or(usize::MAX);
        n(&self.rows[i]).saturating_mul(2) < n(&self.rows[0])
    }

    /// The claims: normalizing the inputs, or inside the network by batch norm, makes the
    /// error surface rounder (the Hessian's condition number at the start at most half the
    /// raw one's), and GD at its best fixed rate needs fewer than half the updates.
    pub fn claims(&self) -> Vec<(String, bool)> {
        let [raw, std, bn] = [&self.rows[0], &self.rows[1], &self.rows[2]];
        vec![
            (
                format!(
                    "in an MLP, standardized inputs make the error surface rounder: Hessian at the start {} on the raw features, {} standardized",
                    raw.curvature(),
                    std.curvature()
                ),
                self.rounder(1),
            ),
            (
                format!(
                    "batch normalization after each hidden linear layer makes it rounder on the raw features too: {} against {:.1} raw",
                    bn.curvature(),
                    raw.condition()
                ),
                self.rounder(2),
            ),
            (
                format!(
                    "at its best fixed rate GD brings the loss from {:.4} to {:.4} in {} on the raw features; {} standardized; {} with batch norm",
                    raw.start_loss,
                    self.target_loss,
                    raw.updates_text(),
                    std.updates_text(),
                    bn.updates_text()
                ),
                self.faster(1) && self.faster(2),
            ),
        ]
    }

    /// How the numbers are defined, and what a claim that did not hold leaves.
    pub fn notes(&self) -> Vec<String> {
        let raw = &self.rows[0];
        let rows = feature_data().1.len();
        let mut n = vec![
            format!(
                "Hessian: dense, of the full-batch training loss (batch norm with the statistics of all {rows} rows) at the initialization of seed {FEATURE_MLP_SEED}; λ₁/λ₄₀ is the condition number of its {rows} largest eigenvalues (MSE on {rows} rows curves the weights in at most {rows} directions; the other {} eigenvalues are nearly flat or negative — raw λmin {:.2} — and λmax/λmin would mean nothing)",
                raw.parameters - rows,
                raw.lambda_min
            ),
            format!(
                "best rate: GD's fewest updates to the target (1 % of the target's variance) over η = 10^(k/4), 10 … 1e-4, walked down from 10 and stopped two rates past the best, at most {FEATURE_MLP_MAX_UPDATES} updates each"
            ),
        ];
        let ends: Vec<f64> = self.rows.iter().filter_map(|r| r.end_condition).collect();
        if let [a, b, c] = ends[..] {
            let spread = a.max(b).max(c) / a.min(b).min(c);
            n.push(format!(
                "at the points the best runs reached, λ₁/λ₄₀ is {a:.1} raw, {b:.1} standardized, {c:.1} with batch norm{}",
                if spread < 1.5 {
                    ": alike once fitted — the difference is in the way there"
                } else {
                    ""
                }
            ));
        }
        if !self.rounder(2) && self.faster(2) {
            n.push(format!(
                "batch norm trains faster without a rounder Hessian at the start (λ₁ {:.1} against {:.1}): it re-standardizes every layer's inputs as the weights move, which one look at the start does not show",
                self.rows[2].lambda_max, raw.lambda_max
            ));
        }
        n
    }
}

/// The feature MLP's data: [`feature_data`]'s rows raw, or standardized (mean 0, standard
/// deviation 1 per feature), and the target.
fn feature_mlp_data(standardize: bool) -> (Vec<f64>, Vec<f64>) {
    let (rows, y) = feature_data();
    let mut cols = [[0.0; 2]; 2]; // mean, std per feature
    for (j, c) in cols.iter_mut().enumerate() {
        let n = rows.len() as f64;
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n;
        let var = rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
        *c = [mean, var.sqrt()];
    }
    let x = rows
        .iter()
        .flat_map(|r| {
            (0..2).map(move |j| {
                if standardize {
                    (r[j] - cols[j][0]) / cols[j][1]
                } else {
                    r[j]
                }
            })
        })
        .collect();
    (x, y)
}

/// Labels of the three variants.
pub const FEATURE_MLP_VARIANTS: [&str; 3] = [
    "raw features",
    "standardized features",
    "raw features, batch norm",
];

/// GD's fewest updates to `target` over [`feature_mlp_rates`], walked from the largest rate
/// down and stopped two rates past the best (smaller rates only take longer); returns the
/// best rate, its curve and the parameters it ended at.
fn best_gd(p: &Problem, target: f64) -> Result<Option<(f64, Curve, Vec<f64>)>> {
    let mut best: Option<(f64, Curve, Vec<f64>)> = None;
    let mut worse = 0;
    for lr in feature_mlp_rates() {
        let cap = best
            .as_ref()
            .map_or(FEATURE_MLP_MAX_UPDATES, |(_, c, _)| c.updates());
        let (c, end) = p.train(
            format!("GD η = {}", rate(lr)),
            &sgd(lr),
            None,
            cap,
            target,
            1e3,
        )?;
        let reached = !c.diverged && c.loss.last().is_some_and(|&l| l <= target);
        if reached
            && best
                .as_ref()
                .map_or(true, |(_, b, _)| c.updates() < b.updates())
        {
            best = Some((lr, c, end));
            worse = 0;
        } else if best.is_some() {
            worse += 1;
            if worse == 2 {
                break;
            }
        }
    }
    Ok(best)
}

/// The MLP `2 → 16 → 16 → 1` (tanh) on [`feature_data`] raw, standardized, and raw with
/// `BatchNorm1d` after each hidden linear layer, all from seed [`FEATURE_MLP_SEED`]: the
/// Hessian's spectrum at the start and GD's best fixed rate. Returns the best runs' curves and
/// the numbers.
pub fn batch_norm_story() -> Result<(Curves, BatchNormFindings)> {
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut target_loss = f64::NAN;
    for (i, variant) in FEATURE_MLP_VARIANTS.iter().enumerate() {
        let (x, y) = feature_mlp_data(i == 1);
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        target_loss = FEATURE_MLP_TARGET * y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let spec = ModelSpec::mlp(2, &FEATURE_MLP_HIDDEN, Activation::Tanh, i == 2, 0.0, 1);
        let p = Problem::new(spec, FEATURE_MLP_SEED, &x, &y)?;
        let spectrum = p.spectrum(&p.start)?;
        let largest = |s: &[f64], k: usize| s.len().checked_sub(k).map_or(f64::NAN, |i| s[i]);
        let best = best_gd(&p, target_loss)?;
        let end_condition = match &best {
            Some((_, _, end)) => {
                let s = p.spectrum(end)?;
                Some(largest(&s, 1) / largest(&s, y.len()))
            }
            None => None,
        };
        let start_loss = p.f.loss(&p.start)?;
        rows.push(FeatureMlpRow {
            variant: variant.to_string(),
            parameters: p.parameters(),
            start_loss,
            lambda_max: largest(&spectrum, 1),
            lambda_n: largest(&spectrum, y.len()),
            lambda_min: spectrum.first().copied().unwrap_or(f64::NAN),
            best_lr: best.as_ref().map(|b| b.0),
            updates: best.as_ref().map(|b| b.1.updates()),
            end_condition,
        });
        if let Some((_, mut c, _)) = best {
            c.label = format!("{variant}: {}", c.label);
            curves.push(c);
        }
    }
    let curves = Curves {
        name: "mlp_features".into(),
        description: format!(
            "MLP 2 → 16 → 16 → 1 (tanh), MSE on the {} rows of raw_features, GD at each variant's best fixed rate",
            feature_data().1.len()
        ),
        curves,
    };
    Ok((curves, BatchNormFindings { rows, target_loss }))
}

// ---------------------------------------------------------------------------------------------
// Warm-up on a deep network

/// Depth (hidden layers) of the deep MLP.
pub const DEEP_DEPTH: usize = 16;
/// Its width.
pub const DEEP_WIDTH: usize = 32;
/// Its initialization seed.
pub const DEEP_SEED: u64 = 0;
/// Rows of its data.
pub const DEEP_ROWS: usize = 64;
/// The rate of every run.
pub const DEEP_LR: f64 = 0.01;
/// The warm-up's length (linear from 1 % of the rate).
pub const DEEP_WARMUP: usize = 50;
/// Updates of each run.
pub const DEEP_STEPS: usize = 200;
/// A run blew up when its loss rose above this multiple of the start's within the warm-up.
pub const DEEP_BLOW_UP: f64 = 2.0;
/// Labels of the deep warm-up runs.
pub const DEEP_LABELS: [&str; 3] = [
    "Adam η = 0.01",
    "Adam η = 0.01, linear warm-up over 50 updates",
    "RAdam η = 0.01",
];

/// What the deep runs did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeepWarmupFindings {
    /// The loss at the start.
    pub start_loss: f64,
    /// Each run's highest loss over the first [`DEEP_WARMUP`] updates.
    pub early_max: Vec<f64>,
    /// The update where it occurred.
    pub early_argmax: Vec<usize>,
    /// Each run's loss after [`DEEP_STEPS`] updates (infinite if it diverged).
    pub final_loss: Vec<f64>,
}

impl DeepWarmupFindings {
    fn blew_up(&self, i: usize) -> bool {
        self.early_max[i] > DEEP_BLOW_UP * self.start_loss
    }

    fn rise(&self, i: usize) -> String {
        format!(
            "highest loss over the first {DEEP_WARMUP} updates {:.4} at update {} (start {:.4}, ×{:.1}); after {DEEP_STEPS} updates {:.4e}",
            self.early_max[i],
            self.early_argmax[i],
            self.start_loss,
            self.early_max[i] / self.start_loss,
            self.final_loss[i]
        )
    }

    /// The claims: on the deep network Adam's first steps blow the loss up (above
    /// [`DEEP_BLOW_UP`] times the start's); warm-up and RAdam avoid it and end lower.
    pub fn claims(&self) -> Vec<(String, bool)> {
        vec![
            (
                format!(
                    "without warm-up, Adam's first steps (about η = {DEEP_LR} on every weight of {DEEP_DEPTH} layers at once) blow the loss up: {}",
                    self.rise(0)
                ),
                self.blew_up(0),
            ),
            (
                format!(
                    "linear warm-up avoids the early blow-up and ends lower: {}",
                    self.rise(1)
                ),
                !self.blew_up(1) && self.final_loss[1] < self.final_loss[0],
            ),
            (
                format!(
                    "RAdam avoids the early blow-up and ends lower: {}",
                    self.rise(2)
                ),
                !self.blew_up(2) && self.final_loss[2] < self.final_loss[0],
            ),
        ]
    }

    /// Why RAdam does what it does, when it blew up.
    pub fn notes(&self) -> Vec<String> {
        if !self.blew_up(2) {
            return Vec::new();
        }
        vec![format!(
            "RAdam's first updates (while ρ_t ≤ 5) are plain momentum steps η·m̂, not adaptive ones: at η = {DEEP_LR} on this network they {} by update {}; its rectification assumes a rate plain SGD could take",
            if self.early_max[2].is_finite() { "blow the loss up" } else { "diverge" },
            self.early_argmax[2]
        )]
    }
}

/// The deep network's data: [`DEEP_ROWS`] points `x` evenly on [−3, 3], `y = sin(2x)`.
fn deep_data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..DEEP_ROWS)
        .map(|i| -3.0 + 6.0 * i as f64 / (DEEP_ROWS - 1) as f64)
        .collect();
    let y = x.iter().map(|v| (2.0 * v).sin()).collect();
    (x, y)
}

/// Adam, Adam with a linear warm-up and RAdam, all η = [`DEEP_LR`], [`DEEP_STEPS`] full-batch
/// updates of the ReLU MLP of [`DEEP_DEPTH`] hidden layers of [`DEEP_WIDTH`] with residual
/// connections and no normalization (each block adds to the signal, so the output and the
/// initial loss are large) on `y = sin(2x)`, seed [`DEEP_SEED`].
pub fn deep_warmup_story() -> Result<(Curves, DeepWarmupFindings)> {
    let (x, y) = deep_data();
    let spec = ModelSpec::resnet_mlp(1, DEEP_WIDTH, DEEP_DEPTH, Activation::Relu, true, false, 1);
    let p = Problem::new(spec, DEEP_SEED, &x, &y)?;
    let adam = OptimizerConfig::Adam(AdamOptions {
        lr: DEEP_LR,
        ..Default::default()
    });
    let radam = OptimizerConfig::Radam(RAdamOptions {
        lr: DEEP_LR,
        ..Default::default()
    });
    let warm = ScheduleConfig::Linear {
        start_factor: 0.01,
        end_factor: 1.0,
        total_iters: DEEP_WARMUP as u64,
    };
    let runs = [(&adam, None), (&adam, Some(&warm)), (&radam, None)];
    let mut curves = Vec::new();
    for ((opt, schedule), label) in runs.into_iter().zip(DEEP_LABELS) {
        let (c, _) = p.train(label.into(), opt, schedule, DEEP_STEPS, 0.0, f64::INFINITY)?;
        curves.push(c);
    }
    let early = |c: &Curve| -> (f64, usize) {
        let end = (DEEP_WARMUP + 1).min(c.loss.len());
        let (i, &v) = c.loss[..end]
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &f64::NAN));
        if c.diverged && c.loss.len() <= DEEP_WARMUP {
            (f64::INFINITY, c.loss.len())
        } else {
            (v, i)
        }
    };
    let f = DeepWarmupFindings {
        start_loss: curves.first().map_or(f64::NAN, |c| c.loss[0]),
        early_max: curves.iter().map(|c| early(c).0).collect(),
        early_argmax: curves.iter().map(|c| early(c).1).collect(),
        final_loss: curves
            .iter()
            .map(|c| {
                if c.diverged {
                    f64::INFINITY
                } else {
                    c.loss.last().copied().unwrap_or(f64::NAN)
                }
            })
            .collect(),
    };
    let curves = Curves {
        name: "deep_mlp".into(),
        description: format!(
            "MLP 1 → {DEEP_DEPTH} × {DEEP_WIDTH} (ReLU, residual, no normalization) → 1, MSE on y = sin(2x), {DEEP_ROWS} rows, full batch, seed {DEEP_SEED}"
        ),
        curves,
    };
    Ok((curves, f))
}
