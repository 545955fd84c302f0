//! Optimizers on analytic surfaces: paths, losses and gradient norms, and the lectures'
//! error-surface story replayed and checked.

use crate::analytic::AnalyticSurface;
use crate::error::{Result, VizError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use trainscope_optim::{
    AdagradOptions, OptimizerConfig, OptimizerOptions, ScheduleConfig, SgdOptions, Variant,
};

/// One optimizer run on an analytic surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaygroundRun {
    /// Name in legends and reports.
    pub label: String,
    /// The optimizer and its hyperparameters (its `lr` is the base rate of `schedule`).
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule; `None` keeps the rate constant.
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// Starting point `(x, y)`.
    pub start: [f64; 2],
    /// Number of updates.
    pub steps: usize,
}

/// The path an optimizer took.
///
/// `points[t]` is the position after `t` updates (`points[0]` is the start), `loss[t]` and
/// `grad_norm[t]` are `f` and `‖∇f‖` there, and `lr[t]` is the rate update `t` used, so
/// `points`, `loss` and `grad_norm` have one entry more than `lr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// The run's label.
    pub label: String,
    /// Positions, start first.
    pub points: Vec<[f64; 2]>,
    /// Loss at each position.
    pub loss: Vec<f64>,
    /// Gradient norm at each position.
    pub grad_norm: Vec<f64>,
    /// Learning rate of each update.
    pub lr: Vec<f64>,
    /// True when the run was stopped early because a position, loss or gradient stopped being
    /// finite (the last entry is the last finite one).
    pub diverged: bool,
}

impl Trajectory {
    /// Number of updates recorded.
    pub fn steps(&self) -> usize {
        self.points.len().saturating_sub(1)
    }

    /// The last position.
    pub fn end(&self) -> [f64; 2] {
        self.points.last().copied().unwrap_or([f64::NAN; 2])
    }

    /// Euclidean distance of every position to `target`.
    pub fn distances_to(&self, target: [f64; 2]) -> Vec<f64> {
        self.points.iter().map(|&p| distance(p, target)).collect()
    }
}

/// Euclidean distance between two points.
pub fn distance(p: [f64; 2], q: [f64; 2]) -> f64 {
    (p[0] - q[0]).hypot(p[1] - q[1])
}

/// Most updates one playground run may take (each recorded point costs 40 bytes).
pub const MAX_STEPS: usize = 10_000_000;

/// Runs one optimizer on `surface`.
///
/// ```
/// use trainscope_optim::{OptimizerConfig, SgdOptions};
/// use trainscope_viz::{run_playground, AnalyticSurface, PlaygroundRun};
/// let run = PlaygroundRun {
///     label: "GD".into(),
///     optimizer: OptimizerConfig::Sgd(SgdOptions { lr: 0.1, ..Default::default() }),
///     schedule: None,
///     start: [1.0, 0.0],
///     steps: 10,
/// };
/// let t = run_playground(AnalyticSurface::Saddle, &run).unwrap();
/// // x ← x − 0.1·2x shrinks x by 0.8 per update.
/// assert!((t.end()[0] - 0.8f64.powi(10)).abs() < 1e-12);
/// assert_eq!(t.points.len(), 11);
/// ```
pub fn run_playground(surface: AnalyticSurface, run: &PlaygroundRun) -> Result<Trajectory> {
    if !(run.start[0].is_finite() && run.start[1].is_finite()) {
        return Err(VizError::invalid(format!(
            "run \"{}\": start {:?} must be finite",
            run.label, run.start
        )));
    }
    if let Some(s) = run.schedule.as_ref().filter(|s| s.metric_driven()) {
        // Nothing here measures a validation loss or an error rate to feed them: refused
        // rather than left at the base rate without a word.
        return Err(VizError::invalid(format!(
            "run \"{}\": schedule.kind = {} is driven by a measured metric (a validation loss \
             or an error rate), which the playground has none of; use a schedule of the update count (step, exponential, \
             inverse_time, cosine, …)",
            run.label,
            if matches!(s, ScheduleConfig::Plateau(_)) {
                "\"plateau\""
            } else {
                "\"metric_switch\""
            }
        )));
    }
    let mut opt = match &run.schedule {
        Some(s) => run.optimizer.build_with_schedule::<f64>(s)?,
        None => run.optimizer.build::<f64>()?,
    };
    let mut params = [run.start.to_vec()];
    let mut grads = [vec![0.0; 2]];
    let n = run.steps;
    if n > MAX_STEPS {
        return Err(VizError::invalid(format!(
            "run \"{}\": {n} steps is more than the limit of {MAX_STEPS}",
            run.label
        )));
    }
    let mut t = Trajectory {
        label: run.label.clone(),
        points: Vec::with_capacity(n + 1),
        loss: Vec::with_capacity(n + 1),
        grad_norm: Vec::with_capacity(n + 1),
        lr: Vec::with_capacity(n),
        diverged: false,
    };
    for step in 0..=n {
        let (x, y) = (params[0][0], params[0][1]);
        let g = surface.gradient(x, y);
        let f = surface.value(x, y);
        let norm = g[0].hypot(g[1]);
        if ![x, y, f, norm].iter().all(|v| v.is_finite()) {
            t.diverged = true;
            t.lr.truncate(t.points.len().saturating_sub(1));
            break;
        }
        t.points.push([x, y]);
        t.loss.push(f);
        t.grad_norm.push(norm);
        if step == n {
            break;
        }
        grads[0].copy_from_slice(&g);
        let report = opt.step(&mut params, &grads)?;
        t.lr.push(report.lr);
    }
    Ok(t)
}

/// Runs several optimizers on `surface` in parallel; results are in the order of `runs`.
pub fn run_playgrounds(
    surface: AnalyticSurface,
    runs: &[PlaygroundRun],
) -> Result<Vec<Trajectory>> {
    runs.par_iter()
        .map(|r| run_playground(surface, r))
        .collect()
}

/// How often the steps along one axis reverse direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Oscillation {
    /// The axis examined (0 = x, 1 = y).
    pub axis: usize,
    /// Consecutive pairs of nonzero steps compared.
    pub pairs: usize,
    /// Pairs whose two steps have opposite signs.
    pub sign_changes: usize,
    /// `sign_changes / pairs` (0 when there are no pairs): near 1 means bouncing back and
    /// forth at every update, as between the walls of a valley.
    pub fraction: f64,
}

/// Counts reversals of the step `points[t+1][axis] − points[t][axis]` over the first `limit`
/// updates (all of them when `None`).
pub fn oscillation(traj: &Trajectory, axis: usize, limit: Option<usize>) -> Oscillation {
    let axis = axis.min(1);
    let end = limit.map_or(traj.points.len(), |l| (l + 1).min(traj.points.len()));
    let steps: Vec<f64> = traj.points[..end]
        .windows(2)
        .map(|w| w[1][axis] - w[0][axis])
        .filter(|d| *d != 0.0)
        .collect();
    let pairs = steps.len().saturating_sub(1);
    let sign_changes = steps
        .windows(2)
        .filter(|w| (w[0] > 0.0) != (w[1] > 0.0))
        .count();
    Oscillation {
        axis,
        pairs,
        sign_changes,
        fraction: if pairs == 0 {
            0.0
        } else {
            sign_changes as f64 / pairs as f64
        },
    }
}

/// A path that came close to a point and later jumped away from it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    /// First update after which the distance was below the closeness radius.
    pub close_step: usize,
    /// The smallest distance reached before the burst.
    pub closest_distance: f64,
    /// Update with the largest distance after `close_step`.
    pub burst_step: usize,
    /// That distance.
    pub burst_distance: f64,
    /// Position minus target at the burst.
    pub displacement: [f64; 2],
    /// The axis carrying most of the displacement (0 = x, 1 = y).
    pub axis: usize,
}

/// Finds the first time the path is within `close` of `target` and the farthest it gets
/// afterwards; a [`Burst`] when that is farther than `jump`.
pub fn find_burst(traj: &Trajectory, target: [f64; 2], close: f64, jump: f64) -> Option<Burst> {
    let d = traj.distances_to(target);
    let close_step = d.iter().position(|&v| v < close)?;
    let (burst_step, &burst_distance) = d
        .iter()
        .enumerate()
        .skip(close_step)
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if burst_distance <= jump {
        return None;
    }
    let closest_distance = d[close_step..=burst_step]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let p = traj.points[burst_step];
    let displacement = [p[0] - target[0], p[1] - target[1]];
    Some(Burst {
        close_step,
        closest_distance,
        burst_step,
        burst_distance,
        displacement,
        axis: usize::from(displacement[1].abs() > displacement[0].abs()),
    })
}

/// Where the lectures' runs start on the [`AnalyticSurface::Bowl`]: far out along the valley,
/// a little up its steep wall.
pub const LECTURE_START: [f64; 2] = [9.0, 0.6];

/// Labels of the four runs of [`lecture_runs`], in order.
pub const LECTURE_LABELS: [&str; 4] = [
    "GD η = 1e-2",
    "GD η = 1e-7",
    "Adagrad (lecture) η = 0.1",
    "Adagrad + decay η = 0.1/(1 + 0.001t)",
];

/// The four runs of the lectures' error-surface example on [`AnalyticSurface::Bowl`], all
/// from [`LECTURE_START`]:
///
/// 1. gradient descent, η = 1e-2, 500 updates: bounces between the valley walls;
/// 2. gradient descent, η = 1e-7, 100,000 updates: barely moves along the valley;
/// 3. Adagrad (lecture variant, root *mean* square), η = 0.1, 2,000 updates: reaches the
///    minimum, then bursts out across the valley — the gradient across it stayed tiny while
///    the path rode the valley floor, so σ along that axis shrank until η/σ was too large;
/// 4. the same Adagrad with inverse-time decay η^t = 0.1/(1 + 0.001 t): arrives smoothly.
pub fn lecture_runs() -> Vec<PlaygroundRun> {
    let gd = |lr: f64| {
        OptimizerConfig::Sgd(SgdOptions {
            lr,
            ..Default::default()
        })
    };
    let adagrad = OptimizerConfig::Adagrad(AdagradOptions {
        lr: 0.1,
        variant: Variant::Lecture,
        ..Default::default()
    });
    let run = |i: usize, optimizer, schedule, steps| PlaygroundRun {
        label: LECTURE_LABELS[i].into(),
        optimizer,
        schedule,
        start: LECTURE_START,
        steps,
    };
    vec![
        run(0, gd(1e-2), None, 500),
        run(1, gd(1e-7), None, 100_000),
        run(2, adagrad, None, 2_000),
        run(
            3,
            adagrad,
            Some(ScheduleConfig::InverseTime {
                gamma: 1e-3,
                decay_steps: 1,
            }),
            2_000,
        ),
    ]
}

/// Radius within which a path counts as having reached the bowl's minimum in the story.
pub const LECTURE_CLOSE: f64 = 1e-2;
/// Distance from the minimum, after having reached it, that counts as a burst.
pub const LECTURE_JUMP: f64 = 0.1;

/// What the four runs of [`lecture_runs`] did, in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LectureFindings {
    /// Distance from the start to the minimum.
    pub start_distance: f64,
    /// GD η = 1e-2: reversals of the step across the valley (y).
    pub gd_large_oscillation: Oscillation,
    /// GD η = 1e-2: distance to the minimum at the end.
    pub gd_large_final_distance: f64,
    /// GD η = 1e-7: distance to the minimum after its 100,000 updates.
    pub gd_tiny_final_distance: f64,
    /// Adagrad: smallest distance to the minimum over the run.
    pub adagrad_min_distance: f64,
    /// Adagrad: the burst after reaching the minimum, if any.
    pub adagrad_burst: Option<Burst>,
    /// Adagrad with decay: distance to the minimum at the end.
    pub decay_final_distance: f64,
    /// Adagrad with decay: a burst after reaching the minimum, if any.
    pub decay_burst: Option<Burst>,
}

impl LectureFindings {
    /// The lectures' claims, each with whether it held: `(claim, held)`.
    pub fn claims(&self) -> Vec<(String, bool)> {
        let o = &self.gd_large_oscillation;
        vec![
            (
                format!(
                    "GD η = 1e-2 oscillates across the valley: {} of {} consecutive steps in y reverse direction; still {:.3} from the minimum",
                    o.sign_changes, o.pairs, self.gd_large_final_distance
                ),
                o.fraction > 0.9 && self.gd_large_final_distance > 1.0,
            ),
            (
                format!(
                    "GD η = 1e-7 stalls: after 100,000 updates still {:.4} from the minimum (start {:.4})",
                    self.gd_tiny_final_distance, self.start_distance
                ),
                self.gd_tiny_final_distance > 0.9 * self.start_distance,
            ),
            (
                match &self.adagrad_burst {
                    Some(b) => format!(
                        "Adagrad gets within {:.1e} of the minimum (update {}), then bursts to {:.3} away at update {} (displacement x {:.3}, y {:.3})",
                        b.closest_distance, b.close_step, b.burst_distance, b.burst_step,
                        b.displacement[0], b.displacement[1]
                    ),
                    None => format!(
                        "Adagrad gets within {:.1e} of the minimum but no burst was found",
                        self.adagrad_min_distance
                    ),
                },
                self.adagrad_min_distance < LECTURE_CLOSE && self.adagrad_burst.is_some(),
            ),
            (
                format!(
                    "Adagrad with learning-rate decay reaches the minimum smoothly: final distance {:.1e}, {}",
                    self.decay_final_distance,
                    if self.decay_burst.is_some() { "with a burst" } else { "no burst" }
                ),
                self.decay_final_distance < 1e-6 && self.decay_burst.is_none(),
            ),
        ]
    }
}

/// The lectures' story: the four runs of [`lecture_runs`] on the bowl and what they show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LectureStory {
    /// Always [`AnalyticSurface::Bowl`].
    pub surface: AnalyticSurface,
    /// The four paths, in the order of [`lecture_runs`].
    pub trajectories: Vec<Trajectory>,
    /// The numbers behind the claims.
    pub findings: LectureFindings,
}

/// Replays [`lecture_runs`] and measures them (about 0.1 s).
///
/// ```
/// let story = trainscope_viz::lecture_story().unwrap();
/// assert!(story.findings.claims().iter().all(|(_, held)| *held));
/// ```
pub fn lecture_story() -> Result<LectureStory> {
    let surface = AnalyticSurface::Bowl;
    let min = surface.minimum().unwrap_or([0.0, 0.0]);
    let runs = lecture_runs();
    let trajectories = run_playgrounds(surface, &runs)?;
    let [gd_large, gd_tiny, adagrad, decay] = &trajectories[..] else {
        return Err(VizError::invalid("the lecture preset has four runs"));
    };
    let findings = LectureFindings {
        start_distance: distance(LECTURE_START, min),
        gd_large_oscillation: oscillation(gd_large, 1, None),
        gd_large_final_distance: distance(gd_large.end(), min),
        gd_tiny_final_distance: distance(gd_tiny.end(), min),
        adagrad_min_distance: adagrad
            .distances_to(min)
            .into_iter()
            .fold(f64::INFINITY, f64::min),
        adagrad_burst: find_burst(adagrad, min, LECTURE_CLOSE, LECTURE_JUMP),
        decay_final_distance: distance(decay.end(), min),
        decay_burst: find_burst(decay, min, LECTURE_CLOSE, 2.0 * LECTURE_CLOSE),
    };
    Ok(LectureStory {
        surface,
        trajectories,
        findings,
    })
}
