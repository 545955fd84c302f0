//! A rectangular window and a function's values on a regular grid over it, with CSV output.

use crate::error::{Result, VizError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// An axis-aligned rectangle `[x_min, x_max] × [y_min, y_max]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Left edge.
    pub x_min: f64,
    /// Right edge.
    pub x_max: f64,
    /// Bottom edge.
    pub y_min: f64,
    /// Top edge.
    pub y_max: f64,
}

impl Window {
    /// The rectangle with these edges.
    pub fn new(x_min: f64, x_max: f64, y_min: f64, y_max: f64) -> Self {
        Window {
            x_min,
            x_max,
            y_min,
            y_max,
        }
    }

    /// The square `[c₀ − r, c₀ + r] × [c₁ − r, c₁ + r]`.
    pub fn around(center: [f64; 2], radius: f64) -> Self {
        Window::new(
            center[0] - radius,
            center[0] + radius,
            center[1] - radius,
            center[1] + radius,
        )
    }

    /// Errors unless both ranges are finite and non-empty.
    pub fn validate(&self) -> Result<()> {
        let ok = |lo: f64, hi: f64| lo.is_finite() && hi.is_finite() && lo < hi;
        if !ok(self.x_min, self.x_max) || !ok(self.y_min, self.y_max) {
            return Err(VizError::invalid(format!(
                "window [{}, {}] × [{}, {}] must be finite with min < max on both axes",
                self.x_min, self.x_max, self.y_min, self.y_max
            )));
        }
        Ok(())
    }
}

/// Most points a grid may have (a 10,000 × 10,000 grid).
pub const MAX_POINTS: usize = 100_000_000;

/// `n` evenly spaced points from `lo` to `hi`, both included.
pub(crate) fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let last = (n.max(2) - 1) as f64;
    (0..n)
        .map(|i| {
            if i + 1 == n {
                hi
            } else {
                lo + (hi - lo) * (i as f64 / last)
            }
        })
        .collect()
}

/// Values of a function of two variables on a regular grid.
///
/// `values[j * x.len() + i]` is the value at `(x[i], y[j])`: rows run along x, one row per y.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Grid coordinates along the horizontal axis, increasing.
    pub x: Vec<f64>,
    /// Grid coordinates along the vertical axis, increasing.
    pub y: Vec<f64>,
    /// Row-major values, one row per `y`.
    pub values: Vec<f64>,
    /// Name of the horizontal axis (e.g. `"0.weight[0]"` or `"α"`).
    pub x_label: String,
    /// Name of the vertical axis.
    pub y_label: String,
}

impl Grid {
    /// The coordinates of an `nx × ny` grid over `window`, with values to be filled in
    /// (all NaN). Needs at least 2 points per axis.
    pub fn empty(window: &Window, nx: usize, ny: usize) -> Result<Self> {
        window.validate()?;
        if nx < 2 || ny < 2 {
            return Err(VizError::invalid(format!(
                "a grid needs at least 2 points per axis, got {nx} × {ny}"
            )));
        }
        let n = nx
            .checked_mul(ny)
            .filter(|&n| n <= MAX_POINTS)
            .ok_or_else(|| {
                VizError::invalid(format!(
                    "a grid of {nx} × {ny} points is larger than the limit of {MAX_POINTS}"
                ))
            })?;
        Ok(Grid {
            x: linspace(window.x_min, window.x_max, nx),
            y: linspace(window.y_min, window.y_max, ny),
            values: vec![f64::NAN; n],
            x_label: "x".into(),
            y_label: "y".into(),
        })
    }

    /// The grid with its values computed by `f(x, y)`.
    pub fn from_fn(
        window: &Window,
        nx: usize,
        ny: usize,
        f: impl Fn(f64, f64) -> f64,
    ) -> Result<Self> {
        let mut g = Grid::empty(window, nx, ny)?;
        for (j, &y) in g.y.iter().enumerate() {
            for (i, &x) in g.x.iter().enumerate() {
                g.values[j * nx + i] = f(x, y);
            }
        }
        Ok(g)
    }

    /// The same grid with other axis names.
    pub fn with_labels(mut self, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        self.x_label = x_label.into();
        self.y_label = y_label.into();
        self
    }

    /// Points along x.
    pub fn nx(&self) -> usize {
        self.x.len()
    }

    /// Points along y.
    pub fn ny(&self) -> usize {
        self.y.len()
    }

    /// The value at `(x[i], y[j])`, if inside the grid.
    pub fn value(&self, i: usize, j: usize) -> Option<f64> {
        if i < self.nx() && j < self.ny() {
            self.values.get(j * self.nx() + i).copied()
        } else {
            None
        }
    }

    /// The window the grid spans.
    /// An empty axis gives NaN edges.
    pub fn window(&self) -> Window {
        let ends = |c: &[f64]| {
            (
                c.first().copied().unwrap_or(f64::NAN),
                c.last().copied().unwrap_or(f64::NAN),
            )
        };
        let ((x0, x1), (y0, y1)) = (ends(&self.x), ends(&self.y));
        Window::new(x0, x1, y0, y1)
    }

    /// Indices `(i, j)` and value of the smallest finite value, if any.
    pub fn argmin(&self) -> Option<(usize, usize, f64)> {
        let nx = self.nx();
        self.values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, &v)| (k % nx, k / nx, v))
    }

    /// Smallest and largest finite values, if any.
    pub fn range(&self) -> Option<(f64, f64)> {
        let mut it = self.values.iter().copied().filter(|v| v.is_finite());
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }

    /// Writes `x,y,loss` with a header and one line per grid point (x varying fastest).
    /// Numbers are written in Rust's shortest round-trip form, so reading them back gives the
    /// exact values.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(|e| VizError::io(path, e))?;
        let mut w = std::io::BufWriter::new(file);
        self.write_csv_to(&mut w)
            .and_then(|_| w.flush())
            .map_err(|e| VizError::io(path, e))
    }

    /// [`Grid::write_csv`] into any writer.
    pub fn write_csv_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        writeln!(w, "x,y,loss")?;
        for (j, &y) in self.y.iter().enumerate() {
            for (i, &x) in self.x.iter().enumerate() {
                let v = self
                    .values
                    .get(j * self.nx() + i)
                    .copied()
                    .unwrap_or(f64::NAN);
                writeln!(w, "{x},{y},{v}")?;
            }
        }
        Ok(())
    }
}
