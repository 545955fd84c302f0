//! Hessian analysis at a point: spectrum (dense or Lanczos), counts, minimum ratio, the
//! critical-point verdict by the definitions and, beside it, the course's minimum-ratio verdict.

use crate::error::{is_positive, Error, Result};
use crate::lanczos::{
    density_from_eigenvalues, hutchinson_trace, lanczos_extremes, spectral_density, DensityOptions,
    EigenPair, LanczosOptions, RitzValue, SpectralDensity, TraceEstimate,
};
use crate::objective::LossFunction;
use faer::linalg::evd::{self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{MatRef, Side};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The thresholds of the verdict, reported with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// `‖∇L‖ ≥ grad_tol` → not a critical point (the course's homework: 1e-3).
    pub grad_tol: f64,
    /// Minimum ratio above which the course's rule ([`course_verdict`]) calls a critical point
    /// "local-minimum-like" (course: 0.5). The verdict by the definitions does not use it.
    pub min_ratio: f64,
    /// An eigenvalue counts as zero when `|λ| ≤ zero_tol · max|λ|`.
    ///
    /// Default 1e-6. Rounding noise in the exact f64 Hessian and its eigendecomposition is about
    /// `n·ε·max|λ|` ≈ 1e-12·max|λ| for n = 4,000, and Lanczos converges to 1e-8·max|λ|; 1e-6 is
    /// far above both, so rounding never decides a sign. It is also far below any curvature
    /// that matters to training: at a stable step size `η < 2/max|λ|`, a direction with
    /// curvature `1e-6·max|λ|` changes by a factor of at most `1 − 2e-6` per step, which is
    /// flat for any practical run.
    pub zero_tol: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            grad_tol: 1e-3,
            min_ratio: 0.5,
            zero_tol: 1e-6,
        }
    }
}

impl Thresholds {
    fn validate(&self) -> Result<()> {
        if !is_positive(self.grad_tol) {
            return Err(Error::invalid(
                "grad_tol",
                format!("must be positive, got {}", self.grad_tol),
            ));
        }
        if !(0.0..1.0).contains(&self.min_ratio) {
            return Err(Error::invalid(
                "min_ratio threshold",
                format!("must be in [0, 1), got {}", self.min_ratio),
            ));
        }
        if !(0.0..1.0).contains(&self.zero_tol) {
            return Err(Error::invalid(
                "zero_tol",
                format!("must be in [0, 1), got {}", self.zero_tol),
            ));
        }
        Ok(())
    }
}

/// What kind of point θ is, by the definitions: at a critical point a saddle needs a direction
/// that goes down and one that goes up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// `‖∇L‖ ≥ grad_tol`.
    NotACriticalPoint,
    /// Critical, some eigenvalue below `−zero_tol·max|λ|` and none above `+zero_tol·max|λ|`.
    LocalMaximum,
    /// Critical, some eigenvalue above `+zero_tol·max|λ|` and none below `−zero_tol·max|λ|`;
    /// along zero eigenvalues (flat directions) the second-order test is inconclusive.
    LocalMinimumLike,
    /// Critical, with eigenvalues below `−zero_tol·max|λ|` and above `+zero_tol·max|λ|`.
    SaddlePoint,
    /// Critical, and every eigenvalue is zero within the tolerance: second order cannot tell.
    Flat,
}

impl Verdict {
    /// Human wording.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::NotACriticalPoint => "not a critical point",
            Verdict::LocalMaximum => "local maximum",
            Verdict::LocalMinimumLike => "local-minimum-like",
            Verdict::SaddlePoint => "saddle point",
            Verdict::Flat => "flat (all eigenvalues zero within tolerance)",
        }
    }
}

/// Positive, negative and zero eigenvalue counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// `λ > tol·max|λ|`.
    pub positive: usize,
    /// `λ < −tol·max|λ|`.
    pub negative: usize,
    /// `|λ| ≤ tol·max|λ|`.
    pub zero: usize,
}

impl Counts {
    /// The bound below which an eigenvalue counts as zero: `zero_tol · max|λ|`.
    pub fn zero_cut(eigenvalues: &[f64], zero_tol: f64) -> f64 {
        zero_tol * eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()))
    }

    /// Counts of `eigenvalues` with `|λ| ≤ zero_tol · max|λ|` as zero.
    pub fn of(eigenvalues: &[f64], zero_tol: f64) -> Counts {
        let cut = Counts::zero_cut(eigenvalues, zero_tol);
        let mut c = Counts {
            positive: 0,
            negative: 0,
            zero: 0,
        };
        for &l in eigenvalues {
            if l > cut {
                c.positive += 1;
            } else if l < -cut {
                c.negative += 1;
            } else {
                c.zero += 1;
            }
        }
        c
    }

    /// The minimum ratio, positive / total (the course's definition: zeros count in the total).
    pub fn min_ratio(&self) -> f64 {
        let total = self.positive + self.negative + self.zero;
        if total == 0 {
            0.0
        } else {
            self.positive as f64 / total as f64
        }
    }
}

/// The verdict by the definitions: `‖g‖ ≥ grad_tol` → not critical; otherwise, with "zero"
/// meaning `|λ| ≤ zero_tol·max|λ|`, an eigenvalue below zero and one above → saddle point;
/// none below but some above → local-minimum-like; none above but some below → local
/// maximum; all zero → flat.
///
/// Only the extreme eigenvalues matter, so the dense and the iterative (Lanczos) modes decide
/// alike. A zero eigenvalue never makes a saddle: it is a direction the second-order test
/// cannot judge, not one that goes down.
pub fn verdict(grad_norm: f64, lambda_min: f64, lambda_max: f64, t: &Thresholds) -> Verdict {
    if grad_norm.is_nan() || grad_norm >= t.grad_tol {
        return Verdict::NotACriticalPoint;
    }
    let cut = t.zero_tol * lambda_min.abs().max(lambda_max.abs());
    match (lambda_max > cut, lambda_min < -cut) {
        (false, false) => Verdict::Flat,
        (false, true) => Verdict::LocalMaximum,
        (true, false) => Verdict::LocalMinimumLike,
        (true, true) => Verdict::SaddlePoint,
    }
}

/// The course's homework rule: `‖g‖ ≥ grad_tol` → not critical; otherwise all non-zero
/// eigenvalues negative → local maximum; all zero → flat; minimum ratio `> min_ratio` →
/// local-minimum-like; else saddle point.
///
/// Zero eigenvalues count in the ratio's denominator, so a flat minimum with many of them is
/// called a saddle point here while [`verdict`] calls it local-minimum-like. `None` when the
/// point is critical but `counts` are unknown (iterative mode without a density).
pub fn course_verdict(
    grad_norm: f64,
    counts: Option<&Counts>,
    lambda_min: f64,
    lambda_max: f64,
    t: &Thresholds,
) -> Option<Verdict> {
    match verdict(grad_norm, lambda_min, lambda_max, t) {
        v @ (Verdict::NotACriticalPoint | Verdict::Flat | Verdict::LocalMaximum) => Some(v),
        _ => counts.map(|c| {
            if c.min_ratio() > t.min_ratio {
                Verdict::LocalMinimumLike
            } else {
                Verdict::SaddlePoint
            }
        }),
    }
}

/// One sentence on why [`course_verdict`] differs from [`verdict`]; `None` when they agree or
/// the course's verdict is unknown.
pub fn disagreement_note(
    verdict: Verdict,
    course: Option<Verdict>,
    counts: Option<&Counts>,
    t: &Thresholds,
) -> Option<String> {
    let course = course.filter(|c| *c != verdict)?;
    let c = counts?;
    let r = c.min_ratio();
    Some(match (verdict, course) {
        (Verdict::LocalMinimumLike, Verdict::SaddlePoint) => {
            let counted = if c.negative == 0 {
                format!("the {} zero eigenvalues", c.zero)
            } else {
                // Estimated counts (iterative mode) may put density mass below zero that
                // Lanczos does not confirm as an eigenvalue.
                format!(
                    "the {} zero and {} estimated negative eigenvalues",
                    c.zero, c.negative
                )
            };
            format!(
                "the course's minimum-ratio rule calls this a saddle point (ratio {r:.4} ≤ {}) \
                 because it counts {counted}; no eigenvalue is below −{:e}·max|λ|, so no \
                 direction goes down: a flat local minimum",
                t.min_ratio, t.zero_tol
            )
        }
        (Verdict::SaddlePoint, Verdict::LocalMinimumLike) => format!(
            "the course's minimum-ratio rule calls this local-minimum-like (ratio {r:.4} > {}), \
             but {} eigenvalue(s) are negative and their eigenvectors go down: a saddle point",
            t.min_ratio,
            if c.negative > 0 {
                c.negative.to_string()
            } else {
                "some".into()
            }
        ),
        (v, course) => format!(
            "the course's minimum-ratio rule (ratio {r:.4}, threshold {}) says {}; by the \
             definitions it is {}",
            t.min_ratio,
            course.describe(),
            v.describe()
        ),
    })
}

/// At a local-minimum-like point with zero eigenvalues: the sentence saying the second-order
/// test is inconclusive along them. `None` otherwise.
pub fn flat_directions_note(verdict: Verdict, flat: Option<usize>) -> Option<String> {
    match (verdict, flat) {
        (Verdict::LocalMinimumLike, Some(z)) if z > 0 => Some(format!(
            "the second-order test is inconclusive along the {z} flat direction(s) (zero \
             eigenvalues): there higher-order terms decide whether the loss rises, stays or falls"
        )),
        _ => None,
    }
}

/// Which spectrum computation to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisMode {
    /// Dense when within the limits, else iterative.
    Auto,
    /// The exact dense Hessian and all its eigenvalues; an error beyond the limits.
    Dense,
    /// Lanczos extremes, Hutchinson trace, stochastic Lanczos quadrature density.
    Iterative,
}

/// Options of [`analyse`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisOptions {
    /// Dense, iterative, or chosen by size.
    pub mode: AnalysisMode,
    /// Most parameters for the dense mode (default 4,000).
    pub dense_max_params: usize,
    /// Most bytes for the dense mode: Hessian, eigenvectors and workspace (default 1 GiB).
    pub dense_max_bytes: u64,
    /// Verdict thresholds and zero tolerance.
    pub thresholds: Thresholds,
    /// Extreme eigenpairs to report at each end (dense mode: taken from the full spectrum).
    pub lanczos: LanczosOptions,
    /// Hutchinson probes in iterative mode (0: no trace estimate).
    pub trace_probes: usize,
    /// Spectral density in iterative mode (`None`: no density, hence no counts).
    pub density: Option<DensityOptions>,
    /// Seed of the trace probes.
    pub seed: u64,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            mode: AnalysisMode::Auto,
            dense_max_params: 4000,
            dense_max_bytes: 1 << 30,
            thresholds: Thresholds::default(),
            lanczos: LanczosOptions::default(),
            trace_probes: 100,
            density: Some(DensityOptions::default()),
            seed: 2,
        }
    }
}

/// The trace of the Hessian: exact (dense) or estimated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// `tr H`, exact or estimated.
    pub value: f64,
    /// Standard error (0 when exact).
    pub std_error: f64,
    /// `"exact"` or `"hutchinson"`.
    pub method: String,
    /// Hutchinson probes (0 when exact).
    pub probes: usize,
}

/// Everything [`analyse`] found at one point. JSON field names are stable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HessianReport {
    /// `"dense"` or `"iterative"`.
    pub mode: String,
    /// Number of parameters `n`.
    pub num_params: usize,
    /// `L(θ)`.
    pub loss: f64,
    /// `‖∇L(θ)‖₂`.
    pub grad_norm: f64,
    /// Per-tensor gradient norms with PyTorch names.
    pub grad_norm_per_layer: Vec<crate::objective::ParamNorm>,
    /// All eigenvalues, ascending (dense mode only).
    pub eigenvalues: Option<Vec<f64>>,
    /// The smallest eigenvalues found, ascending (most negative first).
    pub smallest: Vec<RitzValue>,
    /// The largest eigenvalues found, ascending.
    pub largest: Vec<RitzValue>,
    /// Lanczos steps (iterative mode; 0 when dense).
    pub lanczos_steps: usize,
    /// Positive eigenvalues (estimated from the density in iterative mode).
    pub positive: Option<usize>,
    /// Negative eigenvalues.
    pub negative: Option<usize>,
    /// Zero eigenvalues, `|λ| ≤ zero_tolerance · max|λ|`.
    pub zero: Option<usize>,
    /// True when the counts are stochastic estimates (iterative mode).
    pub counts_estimated: bool,
    /// The relative zero tolerance used.
    pub zero_tolerance: f64,
    /// positive / (positive + negative + zero).
    pub min_ratio: Option<f64>,
    /// Iterative mode: the range the minimum ratio can lie in given the quadrature (the
    /// Chebyshev–Markov–Stieltjes bound: the weight of the node nearest the zero band may belong
    /// on either side). A range that straddles the threshold means the dense mode is needed to
    /// decide. `None` when exact.
    pub min_ratio_range: Option<[f64; 2]>,
    /// What the point is by the definitions ([`verdict`]): a saddle needs an eigenvalue below
    /// `−zero_tol·max|λ|` and one above `+zero_tol·max|λ|`.
    pub verdict: Verdict,
    /// The course's minimum-ratio verdict ([`course_verdict`]); `None` when the point is
    /// critical but no counts were estimated.
    pub course_verdict: Option<Verdict>,
    /// Zero eigenvalues (`zero`): directions along which the second-order test is
    /// inconclusive; `None` when unknown.
    pub flat_directions: Option<usize>,
    /// Why the course's verdict differs from `verdict`, when it does ([`disagreement_note`]).
    pub verdict_note: Option<String>,
    /// At a local-minimum-like point with flat directions: that the second-order test is
    /// inconclusive along them ([`flat_directions_note`]).
    pub flat_note: Option<String>,
    /// Thresholds of the verdicts.
    pub thresholds: Thresholds,
    /// Trace of the Hessian.
    pub trace: Option<TraceReport>,
    /// Spectral density (broadened).
    pub density: Option<SpectralDensity>,
    /// What the Hessian is of: data, mode of batch norm and dropout.
    pub eval_mode_note: String,
    /// The matrix analysed: the true Hessian, not a Gauss-Newton approximation.
    pub hessian_note: String,
    /// Hessian-vector products spent.
    pub hessian_vector_products: usize,
    /// Eigenvectors of [`HessianReport::smallest`]; not serialized (size `n` each).
    #[serde(skip)]
    pub smallest_vectors: Vec<Vec<f64>>,
    /// Eigenvectors of [`HessianReport::largest`]; not serialized.
    #[serde(skip)]
    pub largest_vectors: Vec<Vec<f64>>,
}

impl HessianReport {
    /// The most negative eigenpair, if the smallest eigenvalue is below `−zero_tol·max|λ|`:
    /// the escape direction from a saddle.
    pub fn most_negative(&self) -> Option<EigenPair> {
        let scale = self.spectral_scale();
        let first = self.smallest.first()?;
        let v = self.smallest_vectors.first()?;
        (first.value < -self.zero_tolerance * scale).then(|| EigenPair {
            value: first.value,
            vector: v.clone(),
        })
    }

    /// `max|λ|` from the extremes.
    pub fn spectral_scale(&self) -> f64 {
        let lo = self.smallest.first().map_or(0.0, |r| r.value.abs());
        let hi = self.largest.last().map_or(0.0, |r| r.value.abs());
        lo.max(hi)
    }
}

const HESSIAN_NOTE: &str = "the true Hessian by exact second-order automatic differentiation \
     (not a Gauss-Newton approximation, which is positive semi-definite and so could never show \
     a negative eigenvalue)";

/// Bytes the dense analysis of `n` parameters needs: the Hessian and the eigenvectors (`8·n²`
/// each) plus faer's exact workspace for the decomposition.
pub fn dense_bytes(n: usize) -> u64 {
    let scratch = self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        faer::get_global_parallelism(),
        Default::default(),
    )
    .unaligned_bytes_required() as u64;
    16 * (n as u64) * (n as u64) + scratch
}

/// Analyses the Hessian of `f` at `theta`: spectrum, counts of positive / negative / zero
/// eigenvalues (`|λ| ≤ zero_tol·max|λ|` is zero), minimum ratio = positive / total, the
/// [`verdict`] by the definitions and the [`course_verdict`] by the minimum ratio.
///
/// Dense mode computes the exact Hessian in f64 (one Hessian-vector product per column) and
/// its full symmetric eigendecomposition (faer); it needs `n ≤ dense_max_params` and
/// [`dense_bytes`]`(n) ≤ dense_max_bytes`, else it fails with [`Error::TooLarge`] (which
/// suggests the iterative mode). Iterative mode runs [`lanczos_extremes`] for the extreme
/// eigenpairs, [`hutchinson_trace`] deflated by them, and [`spectral_density`], whose
/// quadrature gives estimated counts.
///
/// The second-order model `L(θ + δ) ≈ L(θ) + gᵀδ + ½ δᵀHδ` is what makes the eigenvalue signs
/// meaningful at a critical point (`g = 0`).
pub fn analyse(
    f: &LossFunction<'_>,
    theta: &[f64],
    opts: &AnalysisOptions,
) -> Result<HessianReport> {
    opts.thresholds.validate()?;
    let n = f.num_params();
    if n == 0 {
        return Err(Error::invalid("model", "it has no parameters"));
    }
    let fits = n <= opts.dense_max_params && dense_bytes(n) <= opts.dense_max_bytes;
    match opts.mode {
        AnalysisMode::Dense if !fits => Err(Error::TooLarge {
            params: n,
            needed_bytes: dense_bytes(n),
            max_params: opts.dense_max_params,
            max_bytes: opts.dense_max_bytes,
        }),
        AnalysisMode::Dense => dense(f, theta, opts),
        AnalysisMode::Auto if fits => dense(f, theta, opts),
        _ => iterative(f, theta, opts),
    }
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric row-major matrix.
pub fn symmetric_eigen(h: &[f64], n: usize) -> Result<(Vec<f64>, faer::Mat<f64>)> {
    if h.len() != n * n {
        return Err(Error::invalid(
            "matrix",
            format!("{} elements for a {n}×{n} matrix", h.len()),
        ));
    }
    let m = MatRef::from_row_major_slice(h, n, n);
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| Error::Eigen { n })?;
    let s = evd.S().column_vector();
    Ok(((0..n).map(|i| s[i]).collect(), evd.U().to_owned()))
}

fn dense(f: &LossFunction<'_>, theta: &[f64], opts: &AnalysisOptions) -> Result<HessianReport> {
    let n = f.num_params();
    let g = f.gradient(theta)?;
    let grad = f.summarize_gradient(&g);
    let h = f.hessian(theta)?;
    let (eig, u) = symmetric_eigen(&h, n)?;
    drop(h);
    let t = &opts.thresholds;
    let counts = Counts::of(&eig, t.zero_tol);
    let (ks, kl) = (
        opts.lanczos.k_smallest.min(n),
        opts.lanczos.k_largest.min(n),
    );
    let column = |j: usize| -> Vec<f64> { (0..n).map(|i| u[(i, j)]).collect() };
    let exact = |j: usize| RitzValue {
        value: eig[j],
        residual: 0.0,
        converged: true,
    };
    let small_idx: Vec<usize> = (0..ks).collect();
    let large_idx: Vec<usize> = (n - kl..n).collect();
    let v = Verdicts::of(grad.grad_norm, Some(&counts), eig[0], eig[n - 1], t);
    let density = opts
        .density
        .as_ref()
        .map(|d| density_from_eigenvalues(&eig, d.grid_points, d.sigma_fraction));
    Ok(HessianReport {
        mode: "dense".into(),
        num_params: n,
        loss: grad.loss,
        grad_norm: grad.grad_norm,
        grad_norm_per_layer: grad.grad_norm_per_layer,
        smallest: small_idx.iter().map(|&j| exact(j)).collect(),
        largest: large_idx.iter().map(|&j| exact(j)).collect(),
        smallest_vectors: small_idx.iter().map(|&j| column(j)).collect(),
        largest_vectors: large_idx.iter().map(|&j| column(j)).collect(),
        lanczos_steps: 0,
        positive: Some(counts.positive),
        negative: Some(counts.negative),
        zero: Some(counts.zero),
        counts_estimated: false,
        zero_tolerance: t.zero_tol,
        min_ratio: Some(counts.min_ratio()),
        min_ratio_range: None,
        verdict: v.verdict,
        course_verdict: v.course,
        flat_directions: v.flat,
        verdict_note: v.note,
        flat_note: v.flat_note,
        thresholds: t.clone(),
        trace: Some(TraceReport {
            value: eig.iter().sum(),
            std_error: 0.0,
            method: "exact".into(),
            probes: 0,
        }),
        density,
        eigenvalues: Some(eig),
        eval_mode_note: f.eval_mode_note(),
        hessian_note: HESSIAN_NOTE.into(),
        hessian_vector_products: n * f.num_batches(),
    })
}

fn iterative(f: &LossFunction<'_>, theta: &[f64], opts: &AnalysisOptions) -> Result<HessianReport> {
    let n = f.num_params();
    let h = f.hessian_at(theta)?;
    let grad = f.summarize_gradient(h.gradient());
    let lz = lanczos_extremes(&h, &opts.lanczos)?;
    let known: Vec<EigenPair> = lz
        .smallest
        .iter()
        .zip(&lz.smallest_vectors)
        .chain(lz.largest.iter().zip(&lz.largest_vectors))
        .filter(|(r, _)| r.converged)
        .map(|(r, v)| EigenPair {
            value: r.value,
            vector: v.clone(),
        })
        .collect();
    // Pairs found at both ends of a tiny spectrum are the same eigenvector: deflate once.
    let known = dedup_pairs(known);
    let trace = if opts.trace_probes > 0 {
        let TraceEstimate {
            value,
            std_error,
            probes,
            ..
        } = hutchinson_trace(&h, opts.trace_probes, &known, opts.seed)?;
        Some(TraceReport {
            value,
            std_error,
            method: "hutchinson".into(),
            probes,
        })
    } else {
        None
    };
    let density = match &opts.density {
        Some(d) => Some(spectral_density(&h, d)?),
        None => None,
    };
    let t = &opts.thresholds;
    let lmin = lz.smallest.first().map_or(0.0, |r| r.value);
    let lmax = lz.largest.last().map_or(0.0, |r| r.value);
    let cut = t.zero_tol * lmin.abs().max(lmax.abs());
    let counts = density.as_ref().map(|d| estimated_counts(d, n, cut));
    let range = density.as_ref().map(|d| positive_fraction_range(d, cut));
    let v = Verdicts::of(grad.grad_norm, counts.as_ref(), lmin, lmax, t);
    Ok(HessianReport {
        mode: "iterative".into(),
        num_params: n,
        loss: grad.loss,
        grad_norm: grad.grad_norm,
        grad_norm_per_layer: grad.grad_norm_per_layer,
        eigenvalues: None,
        smallest: lz.smallest,
        largest: lz.largest,
        smallest_vectors: lz.smallest_vectors,
        largest_vectors: lz.largest_vectors,
        lanczos_steps: lz.steps,
        positive: counts.map(|c| c.positive),
        negative: counts.map(|c| c.negative),
        zero: counts.map(|c| c.zero),
        counts_estimated: counts.is_some(),
        zero_tolerance: t.zero_tol,
        min_ratio: counts.map(|c| c.min_ratio()),
        min_ratio_range: range,
        verdict: v.verdict,
        course_verdict: v.course,
        flat_directions: v.flat,
        verdict_note: v.note,
        flat_note: v.flat_note,
        thresholds: t.clone(),
        trace,
        density,
        eval_mode_note: f.eval_mode_note(),
        hessian_note: HESSIAN_NOTE.into(),
        hessian_vector_products: h.products(),
    })
}

/// Both verdicts and their notes, as [`HessianReport`] carries them.
struct Verdicts {
    verdict: Verdict,
    course: Option<Verdict>,
    flat: Option<usize>,
    note: Option<String>,
    flat_note: Option<String>,
}

impl Verdicts {
    fn of(
        grad_norm: f64,
        counts: Option<&Counts>,
        lambda_min: f64,
        lambda_max: f64,
        t: &Thresholds,
    ) -> Verdicts {
        let v = verdict(grad_norm, lambda_min, lambda_max, t);
        let course = course_verdict(grad_norm, counts, lambda_min, lambda_max, t);
        let flat = counts.map(|c| c.zero);
        Verdicts {
            verdict: v,
            course,
            flat,
            note: disagreement_note(v, course, counts, t),
            flat_note: flat_directions_note(v, flat),
        }
    }
}

fn dedup_pairs(pairs: Vec<EigenPair>) -> Vec<EigenPair> {
    let mut out: Vec<EigenPair> = Vec::with_capacity(pairs.len());
    for p in pairs {
        let dup = out
            .iter()
            .any(|q| crate::lanczos::dot(&q.vector, &p.vector).abs() > 0.5);
        if !dup {
            out.push(p);
        }
    }
    out
}

/// Counts from the quadrature's mass above, below and within `±zero_tol·max|λ|`, scaled to
/// `n` and rounded so they sum to `n`.
fn estimated_counts(d: &SpectralDensity, n: usize, cut: f64) -> Counts {
    let pos = d.mass_between(cut, f64::INFINITY);
    let neg = d.mass_between(f64::NEG_INFINITY, -cut - f64::MIN_POSITIVE);
    let total = d
        .mass_between(f64::NEG_INFINITY, f64::INFINITY)
        .max(f64::MIN_POSITIVE);
    let positive = ((pos / total) * n as f64).round() as usize;
    let negative = (((neg / total) * n as f64).round() as usize).min(n - positive.min(n));
    Counts {
        positive: positive.min(n),
        negative,
        zero: n - positive.min(n) - negative,
    }
}

/// Bounds on the fraction of eigenvalues above `cut`: per probe, the quadrature node nearest
/// `cut` may carry mass from either side of it, so its weight is counted out (low) or in
/// (high); averaged over probes.
fn positive_fraction_range(d: &SpectralDensity, cut: f64) -> [f64; 2] {
    let p = d.nodes.len().max(1) as f64;
    let (mut lo, mut hi) = (0.0, 0.0);
    for (th, w) in d.nodes.iter().zip(&d.weights) {
        let total: f64 = w.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let near = th
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - cut).abs().total_cmp(&(b.1 - cut).abs()))
            .map(|(i, _)| i);
        let above: f64 = th
            .iter()
            .zip(w)
            .enumerate()
            .filter(|(i, (t, _))| **t > cut && Some(*i) != near)
            .map(|(_, (_, w))| w)
            .sum();
        let amb = near.map_or(0.0, |i| w[i]);
        lo += above / total;
        hi += (above + amb) / total;
    }
    [lo / p, (hi / p).min(1.0)]
}

impl fmt::Display for HessianReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Hessian analysis ({} mode, {} parameters)",
            self.mode, self.num_params
        )?;
        writeln!(f, "  data:     {}", self.eval_mode_note)?;
        writeln!(f, "  matrix:   {}", self.hessian_note)?;
        writeln!(f, "  loss      {:.6e}", self.loss)?;
        writeln!(
            f,
            "  ‖∇L‖      {:.3e}   (critical when < {:.0e})",
            self.grad_norm, self.thresholds.grad_tol
        )?;
        for p in &self.grad_norm_per_layer {
            writeln!(f, "    {:<20} {:.3e}  ({} values)", p.name, p.norm, p.numel)?;
        }
        let list = |v: &[RitzValue]| {
            v.iter()
                .map(|r| format!("{:.6e}", r.value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "  smallest eigenvalues: {}", list(&self.smallest))?;
        writeln!(f, "  largest eigenvalues:  {}", list(&self.largest))?;
        if self.mode == "iterative" {
            let worst = self
                .smallest
                .iter()
                .chain(&self.largest)
                .map(|r| r.residual)
                .fold(0.0, f64::max);
            writeln!(
                f,
                "  Lanczos: {} steps, largest residual ‖Hx − λx‖ = {:.2e}",
                self.lanczos_steps, worst
            )?;
        }
        if let Some(t) = &self.trace {
            if t.method == "exact" {
                writeln!(f, "  trace     {:.6e} (exact)", t.value)?;
            } else {
                writeln!(
                    f,
                    "  trace     {:.6e} ± {:.2e} (Hutchinson, {} probes)",
                    t.value, t.std_error, t.probes
                )?;
            }
        }
        match (self.positive, self.negative, self.zero, self.min_ratio) {
            (Some(p), Some(m), Some(z), Some(r)) => {
                writeln!(
                    f,
                    "  eigenvalues: {p} positive, {m} negative, {z} zero{} (zero: |λ| ≤ {:.0e}·max|λ|)",
                    if self.counts_estimated { " (estimated from the density)" } else { "" },
                    self.zero_tolerance
                )?;
                writeln!(f, "  minimum ratio {r:.4} (positive / total)")?;
                if let Some([lo, hi]) = self.min_ratio_range {
                    writeln!(
                        f,
                        "  the quadrature allows a minimum ratio in [{lo:.3}, {hi:.3}]{}",
                        if lo <= self.thresholds.min_ratio && hi > self.thresholds.min_ratio {
                            ": it straddles the threshold, so the course's verdict is uncertain \
                             — use the dense mode to decide"
                        } else {
                            ""
                        }
                    )?;
                }
            }
            _ => writeln!(f, "  eigenvalue counts: not computed (no density)")?,
        }
        writeln!(
            f,
            "  verdict: {}  (‖∇L‖ < {:.0e} is critical; then an eigenvalue below −tol·max|λ| and one \
             above +tol·max|λ| → saddle, none below → local-minimum-like, none above → maximum)",
            self.verdict.describe(),
            self.thresholds.grad_tol,
        )?;
        match self.course_verdict {
            Some(c) if c != self.verdict => writeln!(
                f,
                "  course's verdict: {}  (minimum ratio > {} → local-minimum-like, else saddle)",
                c.describe(),
                self.thresholds.min_ratio
            )?,
            Some(_) => writeln!(f, "  course's verdict: the same (minimum-ratio rule)")?,
            None => writeln!(f, "  course's verdict: unknown (no eigenvalue counts)")?,
        }
        for note in [&self.verdict_note, &self.flat_note].into_iter().flatten() {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}
