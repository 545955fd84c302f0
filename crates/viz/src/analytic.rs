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
}

impl AnalyticSurface {
    /// Every surface, in a fixed order.
    pub const ALL: [AnalyticSurface; 4] = [
        AnalyticSurface::Bowl,
        AnalyticSurface::Rosenbrock,
        AnalyticSurface::Saddle,
        AnalyticSurface::MonkeySaddle,
    ];

    /// The name used in files and on the command line (`"bowl"`, `"rosenbrock"`, `"saddle"`,
    /// `"monkey_saddle"`).
    pub fn name(self) -> &'static str {
        match self {
            AnalyticSurface::Bowl => "bowl",
            AnalyticSurface::Rosenbrock => "rosenbrock",
            AnalyticSurface::Saddle => "saddle",
            AnalyticSurface::MonkeySaddle => "monkey_saddle",
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
        }
    }

    /// The global minimum, where there is one.
    pub fn minimum(self) -> Option<[f64; 2]> {
        match self {
            AnalyticSurface::Bowl => Some([0.0, 0.0]),
            AnalyticSurface::Rosenbrock => Some([1.0, 1.0]),
            AnalyticSurface::Saddle | AnalyticSurface::MonkeySaddle => None,
        }
    }

    /// The points worth marking on a plot of the surface, named for the legend: the minimum,
    /// or the saddle point.
    pub fn marks(self) -> Vec<crate::plot::Mark> {
        let (label, point) = match self {
            AnalyticSurface::Bowl => ("minimum (0, 0)", [0.0, 0.0]),
            AnalyticSurface::Rosenbrock => ("minimum (1, 1)", [1.0, 1.0]),
            AnalyticSurface::Saddle => ("saddle point (0, 0)", [0.0, 0.0]),
            AnalyticSurface::MonkeySaddle => ("monkey saddle point (0, 0)", [0.0, 0.0]),
        };
        vec![crate::plot::Mark {
            label: label.into(),
            point,
        }]
    }

    /// A window that shows the interesting part of the surface.
    pub fn default_window(self) -> Window {
        match self {
            AnalyticSurface::Bowl => Window::new(-10.0, 10.0, -1.0, 1.0),
            AnalyticSurface::Rosenbrock => Window::new(-2.0, 2.0, -1.0, 3.0),
            AnalyticSurface::Saddle | AnalyticSurface::MonkeySaddle => {
                Window::new(-2.0, 2.0, -2.0, 2.0)
            }
        }
    }

    /// True when the surface spans many orders of magnitude over its window, so contour
    /// levels are best spaced logarithmically.
    pub fn prefers_log_levels(self) -> bool {
        matches!(self, AnalyticSurface::Rosenbrock | AnalyticSurface::Bowl)
    }

    /// The values on an `nx × ny` grid over `window`, axes labeled `x` and `y`.
    pub fn grid(self, window: &Window, nx: usize, ny: usize) -> Result<Grid> {
        Grid::from_fn(window, nx, ny, |x, y| self.value(x, y))
    }
}
