//! Functions of two variables with exact gradients, for watching optimizers move.

use crate::error::{Result, VizError};
use crate::grid::{Grid, Window};
use serde::{Deserialize, Serialize};

/// Coefficients of the lectures' elongated bowl `f = ½(A x² + B y²) + C x y`.
///
/// Chosen so that the lectures' error-surface story happens with their learning rates
/// (see [`crate::playground::lecture_story`]): the largest Hessian eigenvalue is ≈ 199.001, so
/// plain gradient descent with η = 1e-2 has `η·λ_max ≈ 1.99` and bounces between the walls of
/// the valley, decaying by only 1 % per update; the smallest is ≈ 0.0999, so with η = 1e-7 a
/// hundred thousand updates move along the valley by 0.1 %. The small coupling `C` keeps the
/// gradient across the valley from vanishing exactly, which is what lets Adagrad's shrinking
/// σ show up as a burst rather than disappear into floating-point underflow.
pub const BOWL_COEFFICIENTS: [f64; 3] = [0.1, 199.0, 0.5];

/// A named analytic surface `f(x, y)`.
///
/// ```
/// use trainscope_viz::AnalyticSurface;
/// let s = AnalyticSurface::Rosenbrock;
/// assert_eq!(s.value(1.0, 1.0), 0.0);
/// assert_eq!(s.gradient(1.0, 1.0), [0.0, 0.0]);
/// assert_eq!(s.minimum(), Some([1.0, 1.0]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyticSurface {
    /// The lectures' elongated convex bowl, `0.05 x² + 99.5 y² + 0.5 x y`
    /// ([`BOWL_COEFFICIENTS`]); minimum 0 at the origin, the valley runs along x.
    Bowl,
    /// Rosenbrock's banana, `(1 − x)² + 100 (y − x²)²`; minimum 0 at (1, 1) at the end of a
    /// long curved valley.
    Rosenbrock,
    /// The saddle `x² − y²`: a minimum along x and a maximum along y at the origin; no minimum.
    Saddle,
    /// The monkey saddle `x³ − 3 x y²`: a degenerate critical point at the origin (the Hessian
    /// is zero there) with three valleys; no minimum.
    MonkeySaddle,
    /// A hillside with a small dip on the way down, `x⁴/4 − 0.875x² − 0.75x + y²/2`: along x,
    /// `h′(x) = (x + 1)(x + 0.5)(x − 1.5)`, so a local minimum at (−1, 0) (loss 0.125), a saddle
    /// point at (−0.5, 0) (0.171875, a barrier of 0.046875) and the global minimum at (1.5, 0)
    /// (−1.828125) — the lectures' ball rolling down a hill past a small hollow.
    TwoBasins,
    /// The two-class problem of [`two_class_data`] under MSE on the softmax: logits
    /// `(0, w x + b)` at `(x, y) = (w, b)`, loss `mean Σ_k (p_k − onehot_k)² = mean 2(σ(z) − t)²`
    /// (the `softmax_mse` loss). Confidently wrong predictions sit on a plateau where σ
    /// saturates and the gradient vanishes.
    SoftmaxMse,
    /// The same model and data as [`AnalyticSurface::SoftmaxMse`] under cross-entropy,
    /// `mean(softplus(z) − t z)`: no plateau where the predictions are wrong.
    CrossEntropy,
    /// The linear model `ŷ = w₁x₁ + w₂x₂` on the two raw features of [`feature_data`] (scales
    /// about 1 and 10), MSE at `(x, y) = (w₁, w₂)`: a long narrow valley.
    RawFeatures,
    /// The same model and data with both features standardized (mean 0, standard deviation 1),
    /// at `(x, y)` = the weights of the standardized features: nearly round.
    StandardizedFeatures,
}

/// The two-class problem of [`AnalyticSurface::SoftmaxMse`] and
/// [`AnalyticSurface::CrossEntropy`]: 20 points on a line, class 0 evenly on [−2.5, 0.5] and
/// class 1 on [−0.5, 2.5], so the classes overlap and both losses have a finite minimum.
/// Returns `(x, class)`.
pub fn two_class_data() -> (Vec<f64>, Vec<u32>) {
    let mut x = Vec::with_capacity(20);
    let mut t = Vec::with_capacity(20);
    for (class, lo) in [(0u32, -2.5), (1, -0.5)] {
        for i in 0..10 {
            x.push(lo + 3.0 * i as f64 / 9.0);
            t.push(class);
        }
    }
    (x, t)
}

/// The regression problem of [`AnalyticSurface::RawFeatures`]: 40 rows of two centred
/// features, `x₁ = cos(2πi/40)` (standard deviation 0.71) and `x₂ = 10·(sin(6πi/40) +
/// 0.3·cos(2πi/40))` (7.4), correlated by 0.29, and the target `y = 2x₁ + 0.2x₂ + 0.1·sin(10πi/40 + 0.3)`.
/// Returns `(rows, y)`.
pub fn feature_data() -> (Vec<[f64; 2]>, Vec<f64>) {
    let n = 40;
    let tau = std::f64::consts::TAU;
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = i as f64 / n as f64;
        let x1 = (tau * u).cos();
        let x2 = 10.0 * ((3.0 * tau * u).sin() + 0.3 * (tau * u).cos());
        x.push([x1, x2]);
        y.push(2.0 * x1 + 0.2 * x2 + 0.1 * (5.0 * tau * u + 0.3).sin());
    }
    (x, y)
}

/// A least-squares loss `f(w) = mean((w·x − y)²) = wᵀAw − 2bᵀw + c` held by its moments.
#[derive(Debug, Clone, Copy)]
struct Quadratic {
    a: [[f64; 2]; 2],
    b: [f64; 2],
    c: f64,
}

impl Quadratic {
    fn of(x: &[[f64; 2]], y: &[f64]) -> Quadratic {
        let n = x.len() as f64;
        let mut q = Quadratic {
            a: [[0.0; 2]; 2],
            b: [0.0; 2],
            c: 0.0,
        };
        for (r, &t) in x.iter().zip(y) {
            for i in 0..2 {
                for j in 0..2 {
                    q.a[i][j] += r[i] * r[j] / n;
                }
                q.b[i] += r[i] * t / n;
            }
            q.c += t * t / n;
        }
        q
    }
    fn value(&self, w: [f64; 2]) -> f64 {
        let aw = [
            self.a[0][0] * w[0] + self.a[0][1] * w[1],
            self.a[1][0] * w[0] + self.a[1][1] * w[1],
        ];
        w[0] * aw[0] + w[1] * aw[1] - 2.0 * (self.b[0] * w[0] + self.b[1] * w[1]) + self.c
    }
    fn gradient(&self, w: [f64; 2]) -> [f64; 2] {
        [
            2.0 * (self.a[0][0] * w[0] + self.a[0][1] * w[1] - self.b[0]),
            2.0 * (self.a[1][0] * w[0] + self.a[1][1] * w[1] - self.b[1]),
        ]
    }
    fn hessian(&self) -> [[f64; 2]; 2] {
        [
            [2.0 * self.a[0][0], 2.0 * self.a[0][1]],
            [2.0 * self.a[1][0], 2.0 * self.a[1][1]],
        ]
    }
    fn minimum(&self) -> [f64; 2] {
        let [[p, q], [r, s]] = self.a;
        let det = p * s - q * r;
        [
            (s * self.b[0] - q * self.b[1]) / det,
            (p * self.b[1] - r * self.b[0]) / det,
        ]
    }
}

/// The raw and the standardized least-squares problems of [`feature_data`], computed once.
fn feature_quadratics() -> &'static [Quadratic; 2] {
    static Q: std::sync::OnceLock<[Quadratic; 2]> = std::sync::OnceLock::new();
    Q.get_or_init(|| {
        let (x, y) = feature_data();
        let n = x.len() as f64;
        let mut mean = [0.0; 2];
        for r in &x {
            mean[0] += r[0] / n;
            mean[1] += r[1] / n;
        }
        let mut sd = [0.0; 2];
        for r in &x {
            sd[0] += (r[0] - mean[0]).powi(2) / n;
            sd[1] += (r[1] - mean[1]).powi(2) / n;
        }
        let sd = [sd[0].sqrt(), sd[1].sqrt()];
        let z: Vec<[f64; 2]> = x
            .iter()
            .map(|r| [(r[0] - mean[0]) / sd[0], (r[1] - mean[1]) / sd[1]])
            .collect();
        [Quadratic::of(&x, &y), Quadratic::of(&z, &y)]
    })
}

/// Loss, `dℓ/dz` and `d²ℓ/dz²` of one example of the two-class surfaces at logit `z`.
fn two_class_terms(surface: AnalyticSurface, z: f64, t: u32) -> [f64; 3] {
    let t = f64::from(t);
    // σ(z) without overflow on either side.
    let s = if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    };
    let ds = s * (1.0 - s);
    match surface {
        AnalyticSurface::SoftmaxMse => {
            let r = s - t;
            [
                2.0 * r * r,
                4.0 * r * ds,
                4.0 * (ds * ds + r * ds * (1.0 - 2.0 * s)),
            ]
        }
        _ => {
            let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
            [softplus - t * z, s - t, ds]
        }
    }
}

/// `[f, f_w, f_b, f_ww, f_wb, f_bb]` of a two-class surface at `(w, b)`.
fn two_class(surface: AnalyticSurface, w: f64, b: f64) -> [f64; 6] {
    static DATA: std::sync::OnceLock<(Vec<f64>, Vec<u32>)> = std::sync::OnceLock::new();
    let (x, t) = DATA.get_or_init(two_class_data);
    let n = x.len() as f64;
    let mut out = [0.0; 6];
    for (&xi, &ti) in x.iter().zip(t) {
        let [l, d1, d2] = two_class_terms(surface, w * xi + b, ti);
        for (o, v) in out
            .iter_mut()
            .zip([l, d1 * xi, d1, d2 * xi * xi, d2 * xi, d2])
        {
            *o += v / n;
        }
    }
    out
}

/// Newton's method on a two-class surface from `start` (both losses are smooth and convex or
/// nearly so around their minimum); used once for the marked minimum.
fn two_class_minimum(surface: AnalyticSurface, start: [f64; 2]) -> [f64; 2] {
    let mut p = start;
    for _ in 0..100 {
        let [_, gw, gb, hww, hwb, hbb] = two_class(surface, p[0], p[1]);
        let det = hww * hbb - hwb * hwb;
        if det.abs() < 1e-300 {
            break;
        }
        let step = [(hbb * gw - hwb * gb) / det, (hww * gb - hwb * gw) / det];
        p = [p[0] - step[0], p[1] - step[1]];
        if step[0].hypot(step[1]) < 1e-15 {
            break;
        }
    }
    p
}

fn two_class_minima() -> &'static [[f64; 2]; 2] {
    static M: std::sync::OnceLock<[[f64; 2]; 2]> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        [
            two_class_minimum(AnalyticSurface::SoftmaxMse, [2.0, 0.0]),
            two_class_minimum(AnalyticSurface::CrossEntropy, [2.0, 0.0]),
        ]
    })
}

impl AnalyticSurface {
    /// Every surface, in a fixed order.
    pub const ALL: [AnalyticSurface; 9] = [
        AnalyticSurface::Bowl,
        AnalyticSurface::Rosenbrock,
        AnalyticSurface::Saddle,
        AnalyticSurface::MonkeySaddle,
        AnalyticSurface::TwoBasins,
        AnalyticSurface::SoftmaxMse,
        AnalyticSurface::CrossEntropy,
        AnalyticSurface::RawFeatures,
        AnalyticSurface::StandardizedFeatures,
    ];

    /// The name used in files and on the command line (`"bowl"`, `"rosenbrock"`, `"saddle"`,
    /// `"monkey_saddle"`, `"two_basins"`, `"softmax_mse"`, `"cross_entropy"`,
    /// `"raw_features"`, `"standardized_features"`).
    pub fn name(self) -> &'static str {
        match self {
            AnalyticSurface::Bowl => "bowl",
            AnalyticSurface::Rosenbrock => "rosenbrock",
            AnalyticSurface::Saddle => "saddle",
            AnalyticSurface::MonkeySaddle => "monkey_saddle",
            AnalyticSurface::TwoBasins => "two_basins",
            AnalyticSurface::SoftmaxMse => "softmax_mse",
            AnalyticSurface::CrossEntropy => "cross_entropy",
            AnalyticSurface::RawFeatures => "raw_features",
            AnalyticSurface::StandardizedFeatures => "standardized_features",
        }
    }

    /// The surface with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
                VizError::invalid(format!(
                    "unknown surface \"{name}\" (known: {})",
                    names.join(", ")
                ))
            })
    }

    /// The formula, for titles and legends.
    pub fn formula(self) -> &'static str {
        match self {
            AnalyticSurface::Bowl => "0.05x² + 99.5y² + 0.5xy",
            AnalyticSurface::Rosenbrock => "(1 − x)² + 100(y − x²)²",
            AnalyticSurface::Saddle => "x² − y²",
            AnalyticSurface::MonkeySaddle => "x³ − 3xy²",
            AnalyticSurface::TwoBasins => "x⁴/4 − 0.875x² − 0.75x + y²/2",
            AnalyticSurface::SoftmaxMse => "MSE of softmax(0, x·u + y), 2 classes",
            AnalyticSurface::CrossEntropy => "cross-entropy of softmax(0, x·u + y)",
            AnalyticSurface::RawFeatures => "MSE of x·u₁ + y·u₂, raw features",
            AnalyticSurface::StandardizedFeatures => "MSE of x·z₁ + y·z₂, standardized",
        }
    }

    /// `f(x, y)`.
    pub fn value(self, x: f64, y: f64) -> f64 {
        match self {
            AnalyticSurface::Bowl => {
                let [a, b, c] = BOWL_COEFFICIENTS;
                0.5 * (a * x * x + b * y * y) + c * x * y
            }
            AnalyticSurface::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            AnalyticSurface::Saddle => x * x - y * y,
            AnalyticSurface::MonkeySaddle => x * x * x - 3.0 * x * y * y,
            AnalyticSurface::TwoBasins => x.powi(4) / 4.0 - 0.875 * x * x - 0.75 * x + 0.5 * y * y,
            AnalyticSurface::SoftmaxMse | AnalyticSurface::CrossEntropy => two_class(self, x, y)[0],
            AnalyticSurface::RawFeatures => feature_quadratics()[0].value([x, y]),
            AnalyticSurface::StandardizedFeatures => feature_quadratics()[1].value([x, y]),
        }
    }

    /// The exact gradient `[∂f/∂x, ∂f/∂y]`.
    pub fn gradient(self, x: f64, y: f64) -> [f64; 2] {
        match self {
            AnalyticSurface::Bowl => {
                let [a, b, c] = BOWL_COEFFICIENTS;
                [a * x + c * y, b * y + c * x]
            }
            AnalyticSurface::Rosenbrock => {
                let r = y - x * x;
                [-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r]
            }
            AnalyticSurface::Saddle => [2.0 * x, -2.0 * y],
            AnalyticSurface::MonkeySaddle => [3.0 * x * x - 3.0 * y * y, -6.0 * x * y],
            AnalyticSurface::TwoBasins => [(x + 1.0) * (x + 0.5) * (x - 1.5), y],
            AnalyticSurface::SoftmaxMse | AnalyticSurface::CrossEntropy => {
                let d = two_class(self, x, y);
                [d[1], d[2]]
            }
            AnalyticSurface::RawFeatures => feature_quadratics()[0].gradient([x, y]),
            AnalyticSurface::StandardizedFeatures => feature_quadratics()[1].gradient([x, y]),
        }
    }

    /// The exact Hessian `[[f_xx, f_xy], [f_xy, f_yy]]`.
    pub fn hessian(self, x: f64, y: f64) -> [[f64; 2]; 2] {
        match self {
            AnalyticSurface::Bowl => {
                let [a, b, c] = BOWL_COEFFICIENTS;
                [[a, c], [c, b]]
            }
            AnalyticSurface::Rosenbrock => {
                let fxx = 2.0 - 400.0 * (y - x * x) + 800.0 * x * x;
                let fxy = -400.0 * x;
                [[fxx, fxy], [fxy, 200.0]]
            }
            AnalyticSurface::Saddle => [[2.0, 0.0], [0.0, -2.0]],
            AnalyticSurface::MonkeySaddle => [[6.0 * x, -6.0 * y], [-6.0 * y, -6.0 * x]],
            AnalyticSurface::TwoBasins => [[3.0 * x * x - 1.75, 0.0], [0.0, 1.0]],
            AnalyticSurface::SoftmaxMse | AnalyticSurface::CrossEntropy => {
                let d = two_class(self, x, y);
                [[d[3], d[4]], [d[4], d[5]]]
            }
            AnalyticSurface::RawFeatures => feature_quadratics()[0].hessian(),
            AnalyticSurface::StandardizedFeatures => feature_quadratics()[1].hessian(),
        }
    }

    /// The global minimum, where there is one.
    pub fn minimum(self) -> Option<[f64; 2]> {
        match self {
            AnalyticSurface::Bowl => Some([0.0, 0.0]),
            AnalyticSurface::Rosenbrock => Some([1.0, 1.0]),
            AnalyticSurface::Saddle | AnalyticSurface::MonkeySaddle => None,
            AnalyticSurface::TwoBasins => Some([1.5, 0.0]),
            AnalyticSurface::SoftmaxMse => Some(two_class_minima()[0]),
            AnalyticSurface::CrossEntropy => Some(two_class_minima()[1]),
            AnalyticSurface::RawFeatures => Some(feature_quadratics()[0].minimum()),
            AnalyticSurface::StandardizedFeatures => Some(feature_quadratics()[1].minimum()),
        }
    }

    /// The points worth marking on a plot of the surface, named for the legend: the minimum,
    /// or the saddle point.
    pub fn marks(self) -> Vec<crate::plot::Mark> {
        let mark = |label: String, point| crate::plot::Mark { label, point };
        let minimum = |p: [f64; 2]| mark(format!("minimum ({}, {})", short(p[0]), short(p[1])), p);
        match self {
            AnalyticSurface::Bowl => vec![mark("minimum (0, 0)".into(), [0.0, 0.0])],
            AnalyticSurface::Rosenbrock => vec![mark("minimum (1, 1)".into(), [1.0, 1.0])],
            AnalyticSurface::Saddle => vec![mark("saddle point (0, 0)".into(), [0.0, 0.0])],
            AnalyticSurface::MonkeySaddle => {
                vec![mark("monkey saddle point (0, 0)".into(), [0.0, 0.0])]
            }
            AnalyticSurface::TwoBasins => vec![
                mark("local minimum (−1, 0)".into(), [-1.0, 0.0]),
                mark("saddle point (−0.5, 0)".into(), [-0.5, 0.0]),
                mark("global minimum (1.5, 0)".into(), [1.5, 0.0]),
            ],
            _ => self.minimum().map(minimum).into_iter().collect(),
        }
    }

    /// A window that shows the interesting part of the surface.
    pub fn default_window(self) -> Window {
        match self {
            AnalyticSurface::Bowl => Window::new(-10.0, 10.0, -1.0, 1.0),
            AnalyticSurface::Rosenbrock => Window::new(-2.0, 2.0, -1.0, 3.0),
            AnalyticSurface::Saddle | AnalyticSurface::MonkeySaddle => {
                Window::new(-2.0, 2.0, -2.0, 2.0)
            }
            AnalyticSurface::TwoBasins => Window::new(-2.5, 2.5, -1.5, 1.5),
            AnalyticSurface::SoftmaxMse | AnalyticSurface::CrossEntropy => {
                Window::new(-8.0, 6.0, -7.0, 7.0)
            }
            AnalyticSurface::RawFeatures | AnalyticSurface::StandardizedFeatures => {
                Window::new(-1.0, 3.0, -2.0, 2.0)
            }
        }
    }

    /// True when the surface spans many orders of magnitude over its window, so contour
    /// levels are best spaced logarithmically.
    pub fn prefers_log_levels(self) -> bool {
        matches!(
            self,
            AnalyticSurface::Rosenbrock
                | AnalyticSurface::Bowl
                | AnalyticSurface::CrossEntropy
                | AnalyticSurface::RawFeatures
                | AnalyticSurface::StandardizedFeatures
        )
    }

    /// The values on an `nx × ny` grid over `window`, axes labeled `x` and `y`.
    pub fn grid(self, window: &Window, nx: usize, ny: usize) -> Result<Grid> {
        Grid::from_fn(window, nx, ny, |x, y| self.value(x, y))
    }
}

/// A coordinate for a legend: at most four significant digits, no trailing zeros.
fn short(v: f64) -> String {
    let s = format!("{:.4}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}
