//! The lectures' optimization claims replayed on analytic surfaces, each checked with the
//! numbers it rests on: the error-surface story ([`crate::lecture_story`]), momentum rolling
//! past a local minimum, MSE on softmax stuck where cross-entropy is not, feature
//! normalization rounding the error surface, and warm-up taming Adam's first steps.
//!
//! Every preset returns a [`Story`]: the panels (a surface and the paths run on it), the claims
//! with whether each held, and notes. Nothing is staged: a claim that does not hold on these
//! surfaces is reported as such.

use crate::analytic::AnalyticSurface;
use crate::error::{Result, VizError};
use crate::lecture_networks::{batch_norm_story, deep_warmup_story, Curves};
use crate::playground::{distance, run_playground, run_playgrounds, PlaygroundRun, Trajectory};
use serde::{Deserialize, Serialize};
use trainscope_optim::{
    AdagradOptions, AdamOptions, OptimizerConfig, OptimizerOptions, RAdamOptions, RmspropOptions,
    ScheduleConfig, SgdOptions,
};

/// A named replay of one of the lectures' claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The error-surface story on the elongated bowl ([`crate::lecture_story`]).
    Lecture,
    /// Momentum carries past the local minimum and the saddle point that stop gradient
    /// descent ([`momentum_story`]).
    Momentum,
    /// MSE on softmax gets stuck on a plateau where cross-entropy does not
    /// ([`softmax_mse_story`]).
    SoftmaxMse,
    /// Feature normalization makes the error surface round ([`normalization_story`]).
    Normalization,
    /// Warm-up avoids Adam's too-large first steps ([`warmup_story`]).
    Warmup,
    /// Feature normalization in an MLP: standardized inputs, or batch normalization inside
    /// the network ([`crate::lecture_networks::batch_norm_story`]).
    BatchNorm,
    /// Warm-up on a deep network ([`crate::lecture_networks::deep_warmup_story`]).
    WarmupDeep,
}

impl Preset {
    /// Every preset, in a fixed order.
    pub const ALL: [Preset; 7] = [
        Preset::Lecture,
        Preset::Momentum,
        Preset::SoftmaxMse,
        Preset::Normalization,
        Preset::Warmup,
        Preset::BatchNorm,
        Preset::WarmupDeep,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Lecture => "lecture",
            Preset::Momentum => "momentum",
            Preset::SoftmaxMse => "softmax-mse",
            Preset::Normalization => "normalization",
            Preset::Warmup => "warmup",
            Preset::BatchNorm => "batch-norm",
            Preset::WarmupDeep => "warmup-deep",
        }
    }

    /// The preset with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Result<Preset> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|p| p.name()).collect();
                VizError::invalid(format!(
                    "unknown preset \"{name}\" (known: {})",
                    names.join(", ")
                ))
            })
    }
}

/// One claim and whether the measurement bore it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The claim, with the numbers measured.
    pub claim: String,
    /// True when the numbers bear it out.
    pub held: bool,
}

impl Claim {
    fn new((claim, held): (String, bool)) -> Claim {
        Claim { claim, held }
    }
}

/// A surface and the paths run on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// The surface.
    pub surface: AnalyticSurface,
    /// The paths, in run order.
    pub trajectories: Vec<Trajectory>,
    /// Draw the section `f(x, y)` at this `y` with each path's losses against its `x` (the
    /// ball-on-a-hill picture), as well as the contour plot.
    pub profile_at: Option<f64>,
}

/// A preset's result: what ran, and what it showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// Which preset.
    pub preset: Preset,
    /// The surfaces with their paths (side by side when more than one).
    pub panels: Vec<Panel>,
    /// The claims, each with whether it held.
    pub claims: Vec<Claim>,
    /// What the numbers mean beyond the claims.
    pub notes: Vec<String>,
    /// Loss curves of networks trained (presets measured on a network rather than a surface).
    #[serde(default)]
    pub curves: Vec<Curves>,
}

/// Runs a preset (those on surfaces take well under a second, those on networks a few
/// seconds).
///
/// ```
/// use trainscope_viz::presets::{story, Preset};
/// let s = story(Preset::Momentum).unwrap();
/// assert!(s.claims.iter().all(|c| c.held));
/// ```
pub fn story(preset: Preset) -> Result<Story> {
    Ok(match preset {
        Preset::Lecture => {
            let s = crate::lecture_story()?;
            Story {
                preset,
                panels: vec![Panel {
                    surface: s.surface,
                    trajectories: s.trajectories,
                    profile_at: None,
                }],
                claims: s.findings.claims().into_iter().map(Claim::new).collect(),
                notes: Vec::new(),
                curves: Vec::new(),
            }
        }
        Preset::Momentum => {
            let (t, f) = momentum_story()?;
            Story {
                preset,
                claims: f.claims().into_iter().map(Claim::new).collect(),
                notes: f.notes(),
                panels: vec![Panel {
                    surface: AnalyticSurface::TwoBasins,
                    trajectories: t,
                    profile_at: Some(0.0),
                }],
                curves: Vec::new(),
            }
        }
        Preset::SoftmaxMse => {
            let (mse, ce, f) = softmax_mse_story()?;
            Story {
                preset,
                claims: f.claims().into_iter().map(Claim::new).collect(),
                notes: Vec::new(),
                panels: vec![
                    Panel {
                        surface: AnalyticSurface::SoftmaxMse,
                        trajectories: vec![mse],
                        profile_at: None,
                    },
                    Panel {
                        surface: AnalyticSurface::CrossEntropy,
                        trajectories: vec![ce],
                        profile_at: None,
                    },
                ],
                curves: Vec::new(),
            }
        }
        Preset::Normalization => {
            let (raw, std, f) = normalization_story()?;
            Story {
                preset,
                claims: f.claims().into_iter().map(Claim::new).collect(),
                notes: f.notes(),
                panels: vec![
                    Panel {
                        surface: AnalyticSurface::RawFeatures,
                        trajectories: raw,
                        profile_at: None,
                    },
                    Panel {
                        surface: AnalyticSurface::StandardizedFeatures,
                        trajectories: std,
                        profile_at: None,
                    },
                ],
                curves: Vec::new(),
            }
        }
        Preset::Warmup => {
            let (t, f) = warmup_story()?;
            Story {
                preset,
                claims: f.claims().into_iter().map(Claim::new).collect(),
                notes: f.notes(),
                panels: vec![Panel {
                    surface: AnalyticSurface::Bowl,
                    trajectories: t,
                    profile_at: None,
                }],
                curves: Vec::new(),
            }
        }
        Preset::BatchNorm => {
            let (c, f) = batch_norm_story()?;
            Story {
                preset,
                claims: f.claims().into_iter().map(Claim::new).collect(),
                notes: f.notes(),
                panels: Vec::new(),
                curves: vec![c],
            }
        }
        Preset::WarmupDeep => {
            let (c, f) = deep_warmup_story()?;
            Story {
                preset,
                claims: f.claims().into_iter().map(Claim::new).collect(),
                notes: f.notes(),
                panels: Vec::new(),
                curves: vec![c],
            }
        }
    })
}

fn sgd(lr: f64, momentum: f64) -> OptimizerConfig {
    OptimizerConfig::Sgd(SgdOptions {
        lr,
        momentum,
        ..Default::default()
    })
}

fn adam(lr: f64) -> OptimizerConfig {
    OptimizerConfig::Adam(AdamOptions {
        lr,
        ..Default::default()
    })
}

/// A rate with three significant digits and no trailing zeros: 0.0178, 0.422, 1.
pub(crate) fn rate(lr: f64) -> String {
    let digits = (2 - lr.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{lr:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A coordinate with four decimals, never `-0.0000`.
fn at4(v: f64) -> String {
    let s = format!("{v:.4}");
    if s == "-0.0000" {
        "0.0000".into()
    } else {
        s
    }
}

fn max_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn last(v: &[f64]) -> f64 {
    v.last().copied().unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------------------
// Momentum

/// Where the momentum preset's runs start on [`AnalyticSurface::TwoBasins`]: high on the
/// left slope, off the valley's floor.
pub const TWO_BASINS_START: [f64; 2] = [-2.2, 0.6];
/// The local minimum of [`AnalyticSurface::TwoBasins`].
pub const TWO_BASINS_LOCAL_MIN: [f64; 2] = [-1.0, 0.0];
/// Its saddle point.
pub const TWO_BASINS_SADDLE: [f64; 2] = [-0.5, 0.0];
/// Labels of the momentum preset's runs.
pub const MOMENTUM_LABELS: [&str; 4] = [
    "GD η = 0.02",
    "GD + momentum λ = 0.9, η = 0.02",
    "Adam η = 0.2",
    "Adam η = 0.05",
];

/// Within this distance of a minimum a path counts as having stopped in it.
const ARRIVED: f64 = 1e-3;

/// What the momentum preset's runs did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MomentumFindings {
    /// End point of each run, in the order of [`MOMENTUM_LABELS`].
    pub ends: Vec<[f64; 2]>,
    /// Final loss of each run.
    pub final_loss: Vec<f64>,
    /// Final gradient norm of each run.
    pub final_grad_norm: Vec<f64>,
    /// Largest x each run reached (past −0.5 is past the saddle point).
    pub max_x: Vec<f64>,
}

impl MomentumFindings {
    fn at(&self, i: usize, p: [f64; 2]) -> bool {
        distance(self.ends[i], p) < ARRIVED
    }

    /// The claims: GD stops in the local minimum; momentum and Adam roll on into the lower
    /// basin.
    pub fn claims(&self) -> Vec<(String, bool)> {
        let global = AnalyticSurface::TwoBasins.minimum().unwrap_or([1.5, 0.0]);
        let g = AnalyticSurface::TwoBasins.value(global[0], global[1]);
        let gd_end = self.ends[0];
        vec![
            (
                format!(
                    "plain GD stops in the local minimum: ends at ({}, {}) with ‖g‖ {:.1e}, loss {:.5} — the lower basin (loss {g:.5}) lies past the saddle point at x = −0.5, which it never reached (largest x {:.3})",
                    at4(gd_end[0]), at4(gd_end[1]), self.final_grad_norm[0], self.final_loss[0], self.max_x[0]
                ),
                self.at(0, TWO_BASINS_LOCAL_MIN) && self.max_x[0] < TWO_BASINS_SADDLE[0],
            ),
            (
                format!(
                    "GD + momentum from the same start and rate rolls past the local minimum and the saddle point into the lower basin: ends at ({}, {}), loss {:.5}",
                    at4(self.ends[1][0]), at4(self.ends[1][1]), self.final_loss[1]
                ),
                self.at(1, global),
            ),
            (
                format!(
                    "Adam (β₁ = 0.9, its own momentum) η = 0.2 rolls through as well: ends at ({}, {}), loss {:.5}",
                    at4(self.ends[2][0]), at4(self.ends[2][1]), self.final_loss[2]
                ),
                self.at(2, global),
            ),
        ]
    }

    /// What the fourth run adds.
    pub fn notes(&self) -> Vec<String> {
        let where_ = if self.at(3, TWO_BASINS_LOCAL_MIN) {
            "stops in the local minimum"
        } else if self.ends[3][0] > TWO_BASINS_SADDLE[0] {
            "reaches the lower basin"
        } else {
            "ends elsewhere"
        };
        vec![format!(
            "Adam η = 0.05 {where_} (ends at ({}, {})): how far momentum carries depends on the step size too",
            at4(self.ends[3][0]), at4(self.ends[3][1])
        )]
    }
}

/// The momentum preset's runs, all from [`TWO_BASINS_START`] for 500 updates.
pub fn momentum_runs() -> Vec<PlaygroundRun> {
    let configs = [sgd(0.02, 0.0), sgd(0.02, 0.9), adam(0.2), adam(0.05)];
    configs
        .into_iter()
        .zip(MOMENTUM_LABELS)
        .map(|(optimizer, label)| PlaygroundRun {
            label: label.into(),
            optimizer,
            schedule: None,
            start: TWO_BASINS_START,
            steps: 500,
        })
        .collect()
}

/// Runs [`momentum_runs`] on [`AnalyticSurface::TwoBasins`] and measures them.
pub fn momentum_story() -> Result<(Vec<Trajectory>, MomentumFindings)> {
    let t = run_playgrounds(AnalyticSurface::TwoBasins, &momentum_runs())?;
    let f = MomentumFindings {
        ends: t.iter().map(Trajectory::end).collect(),
        final_loss: t.iter().map(|t| last(&t.loss)).collect(),
        final_grad_norm: t.iter().map(|t| last(&t.grad_norm)).collect(),
        max_x: t
            .iter()
            .map(|t| max_of(&t.points.iter().map(|p| p[0]).collect::<Vec<_>>()))
            .collect(),
    };
    Ok((t, f))
}

// ---------------------------------------------------------------------------------------------
// MSE on softmax against cross-entropy

/// Where both runs of the softmax-MSE preset start: `(w, b) = (−6, 4)`, every prediction
/// confidently wrong.
pub const TWO_CLASS_START: [f64; 2] = [-6.0, 4.0];
/// Updates of each run.
pub const TWO_CLASS_STEPS: usize = 200;

/// What GD did on the two losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxMseFindings {
    /// MSE on softmax: loss at the start, at the end, and at its minimum.
    pub mse_loss: [f64; 3],
    /// Cross-entropy: the same.
    pub ce_loss: [f64; 3],
    /// ‖∇L‖ at the start: MSE, cross-entropy.
    pub start_grad_norm: [f64; 2],
    /// The largest ‖∇L‖ of the MSE run over its second half (the plateau).
    pub mse_late_grad_norm: f64,
    /// Updates cross-entropy took to close 99 % of the gap to its minimum.
    pub ce_updates_to_99: Option<usize>,
}

impl SoftmaxMseFindings {
    /// The fraction of the gap between the start and the minimum that a run closed.
    fn closed(l: [f64; 3]) -> f64 {
        (l[0] - l[1]) / (l[0] - l[2])
    }

    /// The claims: cross-entropy reaches low loss, MSE on softmax crawls on its plateau.
    pub fn claims(&self) -> Vec<(String, bool)> {
        let (m, c) = (self.mse_loss, self.ce_loss);
        vec![
            (
                format!(
                    "cross-entropy: GD from (−6, 4) reaches loss {:.5} (start {:.4}, minimum {:.5}) in {TWO_CLASS_STEPS} updates, 99 % of the way after {}",
                    c[1],
                    c[0],
                    c[2],
                    self.ce_updates_to_99
                        .map_or("never".into(), |n| format!("{n} updates"))
                ),
                Self::closed(c) > 0.99,
            ),
            (
                format!(
                    "MSE on softmax crawls on its plateau: the same GD ends at {:.5} (start {:.4}, minimum {:.5}), {:.0} % of the way; ‖g‖ {:.4} at the start against cross-entropy's {:.4}, at most {:.1e} over the second half",
                    m[1],
                    m[0],
                    m[2],
                    100.0 * Self::closed(m),
                    self.start_grad_norm[0],
                    self.start_grad_norm[1],
                    self.mse_late_grad_norm
                ),
                Self::closed(m) < 0.5 && self.start_grad_norm[0] < 0.1 * self.start_grad_norm[1],
            ),
        ]
    }
}

/// GD η = 1 for [`TWO_CLASS_STEPS`] updates from [`TWO_CLASS_START`] on
/// [`AnalyticSurface::SoftmaxMse`] and on [`AnalyticSurface::CrossEntropy`]; returns the MSE
/// path, the cross-entropy path, and what they show.
pub fn softmax_mse_story() -> Result<(Trajectory, Trajectory, SoftmaxMseFindings)> {
    let run = |label: &str| PlaygroundRun {
        label: label.into(),
        optimizer: sgd(1.0, 0.0),
        schedule: None,
        start: TWO_CLASS_START,
        steps: TWO_CLASS_STEPS,
    };
    let mse = run_playground(
        AnalyticSurface::SoftmaxMse,
        &run("GD η = 1, MSE on softmax"),
    )?;
    let ce = run_playground(
        AnalyticSurface::CrossEntropy,
        &run("GD η = 1, cross-entropy"),
    )?;
    let at_min = |s: AnalyticSurface| {
        let m = s.minimum().unwrap_or([f64::NAN; 2]);
        s.value(m[0], m[1])
    };
    let losses = |t: &Trajectory, s| [t.loss[0], last(&t.loss), at_min(s)];
    let ce_loss = losses(&ce, AnalyticSurface::CrossEntropy);
    let f = SoftmaxMseFindings {
        mse_loss: losses(&mse, AnalyticSurface::SoftmaxMse),
        ce_loss,
        start_grad_norm: [mse.grad_norm[0], ce.grad_norm[0]],
        mse_late_grad_norm: max_of(&mse.grad_norm[mse.grad_norm.len() / 2..]),
        ce_updates_to_99: ce
            .loss
            .iter()
            .position(|&l| l - ce_loss[2] < 0.01 * (ce_loss[0] - ce_loss[2])),
    };
    Ok((mse, ce, f))
}

// ---------------------------------------------------------------------------------------------
// Feature normalization

/// The learning rates tried for each optimizer: 10^(k/8), k = −48 … 8 (1e-6 to 10).
pub fn rate_grid() -> Vec<f64> {
    (-48..=8).map(|k| 10f64.powf(k as f64 / 8.0)).collect()
}

/// Most updates a rate is given to reach the target.
pub const NORMALIZATION_MAX_UPDATES: usize = 20_000;
/// The target: the loss gap to the minimum shrunk to this fraction of the start's.
pub const NORMALIZATION_GAP: f64 = 1e-3;

/// The fewest updates an optimizer needed over [`rate_grid`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRate {
    /// `GD`, `Adagrad`, `RMSProp`.
    pub optimizer: String,
    /// The surface.
    pub surface: AnalyticSurface,
    /// The best rate (fewest updates), if any reached the target.
    pub lr: Option<f64>,
    /// Its updates.
    pub updates: Option<usize>,
}

/// The normalization preset's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizationFindings {
    /// Hessian eigenvalues `[λmin, λmax]`, raw features.
    pub raw_eigenvalues: [f64; 2],
    /// The same, standardized features.
    pub standardized_eigenvalues: [f64; 2],
    /// Loss at the start (all weights 0; the same model output on both surfaces).
    pub start_loss: f64,
    /// The loss to reach.
    pub target_loss: f64,
    /// GD, Adagrad and RMSProp on the raw features, GD on the standardized ones.
    pub best: Vec<BestRate>,
}

fn eigenvalues(h: [[f64; 2]; 2]) -> [f64; 2] {
    let m = 0.5 * (h[0][0] + h[1][1]);
    let d = (0.25 * (h[0][0] - h[1][1]).powi(2) + h[0][1] * h[1][0]).sqrt();
    [m - d, m + d]
}

impl NormalizationFindings {
    fn kappa(e: [f64; 2]) -> f64 {
        e[1] / e[0]
    }

    fn updates(&self, i: usize) -> String {
        match (self.best[i].updates, self.best[i].lr) {
            (Some(n), Some(lr)) => format!("{n} updates (η = {})", rate(lr)),
            _ => format!("more than {NORMALIZATION_MAX_UPDATES} updates at every rate"),
        }
    }

    /// The claims: standardization rounds the surface and GD gets there far sooner; per-
    /// parameter rates (Adagrad, RMSProp) help on the raw features.
    pub fn claims(&self) -> Vec<(String, bool)> {
        let (kr, ks) = (
            Self::kappa(self.raw_eigenvalues),
            Self::kappa(self.standardized_eigenvalues),
        );
        let n = |i: usize| self.best[i].updates.unwrap_or(usize::MAX);
        let [r, s] = [self.raw_eigenvalues, self.standardized_eigenvalues];
        vec![
            (
                format!(
                    "standardizing the features makes the error surface round: Hessian condition number λmax/λmin {kr:.1} ({:.4}/{:.4}) raw, {ks:.2} ({:.4}/{:.4}) standardized",
                    r[1], r[0], s[1], s[0]
                ),
                ks < 0.1 * kr,
            ),
            (
                format!(
                    "one learning rate cannot serve both directions: at its best fixed rate GD needs {} on the raw features to bring the loss from {:.4} to {:.4}; {} on the standardized ones",
                    self.updates(0),
                    self.start_loss,
                    self.target_loss,
                    self.updates(3)
                ),
                n(3).saturating_mul(5) < n(0),
            ),
            (
                format!(
                    "per-parameter rates help on the raw features: Adagrad {}, RMSProp {} (GD {})",
                    self.updates(1),
                    self.updates(2),
                    self.updates(0)
                ),
                n(1) < n(0) && n(2) < n(0),
            ),
        ]
    }

    /// Why the best rate is what it is.
    pub fn notes(&self) -> Vec<String> {
        let r = self.raw_eigenvalues;
        vec![format!(
            "GD diverges above η = 2/λmax = {:.4} on the raw features; along the flat direction that rate moves only ηλmin ≈ {:.3} of the way per update",
            2.0 / r[1],
            2.0 / r[1] * r[0]
        )]
    }
}

/// Updates `run` needs on `surface` to get below `target` (None: not within `max`, or it
/// diverged).
fn updates_to_reach(
    surface: AnalyticSurface,
    optimizer: &OptimizerConfig,
    start: [f64; 2],
    target: f64,
    max: usize,
) -> Result<Option<usize>> {
    let mut opt = optimizer.build::<f64>()?;
    let mut params = [start.to_vec()];
    let mut grads = [vec![0.0; 2]];
    let first = surface.value(start[0], start[1]);
    for step in 0..=max {
        let (x, y) = (params[0][0], params[0][1]);
        let f = surface.value(x, y);
        if f <= target {
            return Ok(Some(step));
        }
        if !f.is_finite() || f > 1e6 * first.abs().max(1.0) {
            return Ok(None);
        }
        grads[0].copy_from_slice(&surface.gradient(x, y));
        opt.step(&mut params, &grads)?;
    }
    Ok(None)
}

/// An optimizer of a given rate.
type MakeOptimizer = dyn Fn(f64) -> OptimizerConfig;

fn best_rate(
    surface: AnalyticSurface,
    name: &str,
    make: &MakeOptimizer,
    start: [f64; 2],
    target: f64,
) -> Result<BestRate> {
    let mut best = BestRate {
        optimizer: name.into(),
        surface,
        lr: None,
        updates: None,
    };
    for lr in rate_grid() {
        let cap = best.updates.unwrap_or(NORMALIZATION_MAX_UPDATES);
        if let Some(n) = updates_to_reach(surface, &make(lr), start, target, cap)? {
            if best.updates.map_or(true, |b| n < b) {
                best.updates = Some(n);
                best.lr = Some(lr);
            }
        }
    }
    Ok(best)
}

/// Measures both feature surfaces: the Hessians' condition numbers, and for GD, Adagrad and
/// RMSProp (raw) and GD (standardized) the best rate of [`rate_grid`] and its updates to
/// shrink the loss gap to [`NORMALIZATION_GAP`] of the start's, from all weights 0. Returns
/// the paths at those rates on the raw and on the standardized surface, and the numbers.
pub fn normalization_story() -> Result<(Vec<Trajectory>, Vec<Trajectory>, NormalizationFindings)> {
    let (raw, std) = (
        AnalyticSurface::RawFeatures,
        AnalyticSurface::StandardizedFeatures,
    );
    let start = [0.0, 0.0];
    let start_loss = raw.value(0.0, 0.0);
    let m = raw.minimum().unwrap_or([0.0, 0.0]);
    let min_loss = raw.value(m[0], m[1]);
    let target_loss = min_loss + NORMALIZATION_GAP * (start_loss - min_loss);
    let gd = |lr: f64| sgd(lr, 0.0);
    let adagrad = |lr: f64| {
        OptimizerConfig::Adagrad(AdagradOptions {
            lr,
            ..Default::default()
        })
    };
    let rmsprop = |lr: f64| {
        OptimizerConfig::Rmsprop(RmspropOptions {
            lr,
            ..Default::default()
        })
    };
    let kinds: [(&str, &MakeOptimizer, AnalyticSurface); 4] = [
        ("GD", &gd, raw),
        ("Adagrad", &adagrad, raw),
        ("RMSProp", &rmsprop, raw),
        ("GD", &gd, std),
    ];
    let best = kinds
        .iter()
        .map(|(name, make, s)| best_rate(*s, name, *make, start, target_loss))
        .collect::<Result<Vec<_>>>()?;
    let mut paths = [Vec::new(), Vec::new()];
    for ((name, make, s), b) in kinds.iter().zip(&best) {
        let (Some(lr), Some(n)) = (b.lr, b.updates) else {
            continue;
        };
        let run = PlaygroundRun {
            label: format!("{name} η = {}", rate(lr)),
            optimizer: make(lr),
            schedule: None,
            start,
            steps: n,
        };
        paths[usize::from(*s == std)].push(run_playground(*s, &run)?);
    }
    let [raw_paths, std_paths] = paths;
    let f = NormalizationFindings {
        raw_eigenvalues: eigenvalues(raw.hessian(0.0, 0.0)),
        standardized_eigenvalues: eigenvalues(std.hessian(0.0, 0.0)),
        start_loss,
        target_loss,
        best,
    };
    Ok((raw_paths, std_paths, f))
}

// ---------------------------------------------------------------------------------------------
// Warm-up

/// Where the warm-up runs start: on the floor of the bowl's valley, where the gradient across
/// it is tiny (`∂f/∂y ≈ 0.0026`) and the walls are steep (curvature 199).
pub const WARMUP_START: [f64; 2] = [9.0, -0.0226];
/// The rate of every warm-up run.
pub const WARMUP_LR: f64 = 0.3;
/// The warm-up's length in updates (linear from 1 % of the rate).
pub const WARMUP_UPDATES: usize = 100;
/// Updates of each run.
pub const WARMUP_STEPS: usize = 300;
/// Labels of the warm-up preset's runs.
pub const WARMUP_LABELS: [&str; 3] = [
    "Adam η = 0.3",
    "Adam η = 0.3, linear warm-up over 100 updates",
    "RAdam η = 0.3",
];

/// What the warm-up runs did over their first updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupFindings {
    /// The loss at the start.
    pub start_loss: f64,
    /// Each run's highest loss over the warm-up period (the first [`WARMUP_UPDATES`]).
    pub early_max: Vec<f64>,
    /// The update at which it occurred.
    pub early_argmax: Vec<usize>,
    /// Each run's final loss.
    pub final_loss: Vec<f64>,
    /// Each run's first step length `‖θ₁ − θ₀‖`.
    pub first_step: Vec<f64>,
}

impl WarmupFindings {
    fn blew_up(&self, i: usize) -> bool {
        self.early_max[i] > 1.5 * self.start_loss
    }

    fn rise(&self, i: usize) -> String {
        format!(
            "highest loss over the first {WARMUP_UPDATES} updates {:.4} at update {} (start {:.4}, ×{:.1})",
            self.early_max[i],
            self.early_argmax[i],
            self.start_loss,
            self.early_max[i] / self.start_loss
        )
    }

    /// The claims: Adam's first adaptive steps are too large; warm-up avoids it; so does RAdam.
    pub fn claims(&self) -> Vec<(String, bool)> {
        vec![
            (
                format!(
                    "without warm-up, Adam's first adaptive steps are too large: a first step of {:.3} (η in every coordinate, however small the gradient) throws the path up the valley's wall; {}",
                    self.first_step[0],
                    self.rise(0)
                ),
                self.blew_up(0),
            ),
            (
                format!(
                    "linear warm-up avoids the early blow-up: first step {:.4}; {}",
                    self.first_step[1],
                    self.rise(1)
                ),
                !self.blew_up(1),
            ),
            (
                format!(
                    "RAdam avoids the early blow-up: first step {:.4}; {}",
                    self.first_step[2],
                    self.rise(2)
                ),
                !self.blew_up(2),
            ),
        ]
    }

    /// Final losses, and why RAdam does what it does here.
    pub fn notes(&self) -> Vec<String> {
        let mut n = vec![format!(
            "after {WARMUP_STEPS} updates: Adam {:.3e}, with warm-up {:.3e}, RAdam {:.3e}",
            self.final_loss[0], self.final_loss[1], self.final_loss[2]
        )];
        if self.blew_up(2) {
            n.push(
                "RAdam's first updates (while ρ_t ≤ 5) are plain momentum steps η·m̂, not adaptive ones: with η = 0.3 on a wall of curvature 199 (η·λ ≈ 60 > 2) they diverge; its rectification assumes a rate plain SGD could take".into(),
            );
        }
        n
    }
}

/// The warm-up runs: Adam, Adam with a linear warm-up, RAdam, all η = [`WARMUP_LR`] from
/// [`WARMUP_START`] on the bowl for [`WARMUP_STEPS`] updates.
pub fn warmup_runs() -> Vec<PlaygroundRun> {
    let warm = ScheduleConfig::Linear {
        start_factor: 0.01,
        end_factor: 1.0,
        total_iters: WARMUP_UPDATES as u64,
    };
    let radam = OptimizerConfig::Radam(RAdamOptions {
        lr: WARMUP_LR,
        ..Default::default()
    });
    [
        (adam(WARMUP_LR), None),
        (adam(WARMUP_LR), Some(warm)),
        (radam, None),
    ]
    .into_iter()
    .zip(WARMUP_LABELS)
    .map(|((optimizer, schedule), label)| PlaygroundRun {
        label: label.into(),
        optimizer,
        schedule,
        start: WARMUP_START,
        steps: WARMUP_STEPS,
    })
    .collect()
}

/// Runs [`warmup_runs`] and measures their first updates.
pub fn warmup_story() -> Result<(Vec<Trajectory>, WarmupFindings)> {
    let t = run_playgrounds(AnalyticSurface::Bowl, &warmup_runs())?;
    let early = |t: &Trajectory| -> (f64, usize) {
        let end = (WARMUP_UPDATES + 1).min(t.loss.len());
        let (i, &v) = t.loss[..end]
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &f64::NAN));
        // A run that diverged inside the period blew up for good.
        if t.diverged && t.loss.len() <= WARMUP_UPDATES {
            (f64::INFINITY, t.loss.len())
        } else {
            (v, i)
        }
    };
    let f = WarmupFindings {
        start_loss: t.first().map_or(f64::NAN, |t| t.loss[0]),
        early_max: t.iter().map(|t| early(t).0).collect(),
        early_argmax: t.iter().map(|t| early(t).1).collect(),
        final_loss: t
            .iter()
            .map(|t| {
                if t.diverged {
                    f64::INFINITY
                } else {
                    last(&t.loss)
                }
            })
            .collect(),
        first_step: t
            .iter()
            .map(|t| match &t.points[..] {
                [a, b, ..] => distance(*a, *b),
                _ => f64::NAN,
            })
            .collect(),
    };
    Ok((t, f))
}
