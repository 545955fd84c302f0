//! Figures as SVG or PNG files (the extension of the output path decides), drawn with
//! `plotters`. Every function takes plain data and a path.
//!
//! Text is set in DejaVu Sans, bundled with the crate, so PNGs render the same on a machine
//! without fonts; SVGs name the `sans-serif` family and leave the glyphs to the viewer.

use crate::error::{Result, VizError};
use crate::grid::Grid;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

/// The bundled font (DejaVu Sans; license in `assets/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn ensure_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled bytes are a valid TrueType font; if registration were ever refused,
        // drawing text reports the missing font as a plot error.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Series colors (Tableau 10), cycled.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The color of series `i` in every figure of this module (Tableau 10, cycled), as `#rrggbb`.
pub fn series_color_hex(i: usize) -> String {
    let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02X}{g:02X}{b:02X}")
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Something that can draw itself on any backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

fn render(fig: &impl Figure, path: &Path, size: (u32, u32)) -> Result<()> {
    ensure_font();
    let plot_err = |msg: String| VizError::Plot {
        path: path.display().to_string(),
        msg,
    };
    if size.0 < 100 || size.1 < 100 || size.0 > 10_000 || size.1 > 10_000 {
        return Err(plot_err(format!(
            "size {}×{} pixels is outside 100..=10000",
            size.0, size.1
        )));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
            fig.draw(&root).map_err(|e| plot_err(e.to_string()))?;
            root.present().map_err(|e| plot_err(e.to_string()))
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
            fig.draw(&root).map_err(|e| plot_err(e.to_string()))?;
            root.present().map_err(|e| plot_err(e.to_string()))
        }
        _ => Err(plot_err(
            "the file name must end in .svg or .png".to_string(),
        )),
    }
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// `[lo, hi]` padded by 5 % (or ±0.5 when flat) so lines do not sit on the frame.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

fn finite_range<'a>(values: impl IntoIterator<Item = &'a f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Tick labels: compact, with scientific notation for very small or large magnitudes.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Labels of a log10-transformed axis: the value `10^v`.
fn log_tick(v: f64) -> String {
    tick(10f64.powf(v))
}

// ---------------------------------------------------------------------------------------------
// Contour plots

/// A labeled path in the plane of a contour plot, e.g. an optimizer's trajectory.
#[derive(Debug, Clone, Copy)]
pub struct PathSeries<'a> {
    /// Legend entry.
    pub label: &'a str,
    /// Points in plot coordinates, in order.
    pub points: &'a [[f64; 2]],
}

/// Settings of [`contour_plot`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContourOptions {
    /// Title above the plot.
    pub title: String,
    /// Number of contour lines.
    pub levels: usize,
    /// Space levels (and colors) logarithmically in `v − min`, for surfaces spanning many
    /// orders of magnitude (Rosenbrock, the elongated bowl).
    pub log_levels: bool,
    /// A point to mark with a star (the minimum, the trained model).
    pub mark: Option<[f64; 2]>,
    /// Pixels, width × height.
    pub size: (u32, u32),
}

impl Default for ContourOptions {
    fn default() -> Self {
        ContourOptions {
            title: String::new(),
            levels: 12,
            log_levels: false,
            mark: None,
            size: (900, 700),
        }
    }
}

/// Viridis, sampled at nine points and interpolated linearly.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Maps values to `[0, 1]` for colors and contour levels, linearly or by `log10(v − min + δ)`.
struct Scale {
    log: bool,
    min: f64,
    delta: f64,
    t0: f64,
    t1: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, log: bool) -> Self {
        let delta = ((hi - lo) * 1e-6).max(f64::MIN_POSITIVE);
        let mut s = Scale {
            log,
            min: lo,
            delta,
            t0: 0.0,
            t1: 1.0,
        };
        s.t0 = s.raw(lo);
        s.t1 = s.raw(hi);
        if s.t1 <= s.t0 {
            s.t1 = s.t0 + 1.0;
        }
        s
    }
    fn raw(&self, v: f64) -> f64 {
        if self.log {
            (v - self.min + self.delta).max(self.delta).log10()
        } else {
            v
        }
    }
    fn unit(&self, v: f64) -> f64 {
        (self.raw(v) - self.t0) / (self.t1 - self.t0)
    }
}

/// Segments of the curve `u = level` through one grid cell (marching squares); corners in
/// the order (x0,y0), (x1,y0), (x1,y1), (x0,y1). The ambiguous saddle cases are split by
/// the cell's mean.
fn cell_segments(c: [[f64; 2]; 4], u: [f64; 4], level: f64, out: &mut Vec<[[f64; 2]; 2]>) {
    let inside = |k: usize| u[k] > level;
    let cross = |a: usize, b: usize| {
        let t = (level - u[a]) / (u[b] - u[a]);
        [
            c[a][0] + t * (c[b][0] - c[a][0]),
            c[a][1] + t * (c[b][1] - c[a][1]),
        ]
    };
    let edges = [(0, 1), (1, 2), (2, 3), (3, 0)];
    let hits: Vec<[f64; 2]> = edges
        .iter()
        .filter(|&&(a, b)| inside(a) != inside(b))
        .map(|&(a, b)| cross(a, b))
        .collect();
    match hits.len() {
        2 => out.push([hits[0], hits[1]]),
        4 => {
            let mean = u.iter().sum::<f64>() / 4.0;
            if (mean > level) == inside(0) {
                out.push([hits[0], hits[1]]);
                out.push([hits[2], hits[3]]);
            } else {
                out.push([hits[0], hits[3]]);
                out.push([hits[1], hits[2]]);
            }
        }
        _ => {}
    }
}

/// Splits a path into pieces ready to draw with thick lines: drops points closer than one
/// `tol` unit to the last kept one (keeping the last), clips every segment to the window
/// `[x0, x1] × [y0, y1]`, and starts a new piece wherever the path turns back by more than
/// 120°. Thick polylines are drawn with mitred joins, and a mitre at a near-reversal (a
/// zigzag between valley walls) would shoot far past the path, even outside the plot.
fn pieces(points: &[(f64, f64)], win: [f64; 4], tol: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let [x0, x1, y0, y1] = win;
    let (sx, sy) = (
        (x1 - x0).max(f64::MIN_POSITIVE),
        (y1 - y0).max(f64::MIN_POSITIVE),
    );
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for (k, &(x, y)) in points.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let keep = match kept.last() {
            None => true,
            Some(&(px, py)) => {
                k + 1 == points.len() || ((x - px) / tol.0).hypot((y - py) / tol.1) >= 1.0
            }
        };
        if keep {
            kept.push((x, y));
        }
    }
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let mut last_dir: Option<(f64, f64)> = None;
    let flush = |cur: &mut Vec<(f64, f64)>, out: &mut Vec<Vec<(f64, f64)>>| {
        if cur.len() >= 2 {
            out.push(std::mem::take(cur));
        } else {
            cur.clear();
        }
    };
    for w in kept.windows(2) {
        let Some((a, b)) = clip_segment(w[0], w[1], win) else {
            flush(&mut cur, &mut out);
            last_dir = None;
            continue;
        };
        let d = ((b.0 - a.0) / sx, (b.1 - a.1) / sy);
        let len = d.0.hypot(d.1);
        let dir = if len > 0.0 {
            Some((d.0 / len, d.1 / len))
        } else {
            None
        };
        let sharp = match (last_dir, dir) {
            (Some(p), Some(q)) => p.0 * q.0 + p.1 * q.1 < -0.5,
            _ => false,
        };
        let continues = cur.last().is_some_and(|&l| l == a);
        if sharp || !continues {
            flush(&mut cur, &mut out);
        }
        if cur.is_empty() {
            cur.push(a);
        }
        cur.push(b);
        if dir.is_some() {
            last_dir = dir;
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Liang–Barsky: the part of segment `a → b` inside the window, if any.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    [x0, x1, y0, y1]: [f64; 4],
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            (a.0 + t * dx, a.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}

struct ContourFigure<'a> {
    grid: &'a Grid,
    paths: &'a [PathSeries<'a>],
    opts: &'a ContourOptions,
}

impl Figure for ContourFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let g = self.grid;
        let (nx, ny) = (g.nx(), g.ny());
        let (lo, hi) = g.range().unwrap_or((0.0, 1.0));
        let scale = Scale::new(lo, hi, self.opts.log_levels);
        let (main, bar) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(120));
        let w = g.window();
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.opts.title, font(22))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(w.x_min..w.x_max, w.y_min..w.y_max)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(g.x_label.as_str())
            .y_desc(g.y_label.as_str())
            .axis_desc_style(font(17))
            .label_style(font(14))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;

        // Heat map: each grid point colors the cell around it (edges halfway to neighbours).
        let edge = |c: &[f64], i: usize| -> (f64, f64) {
            let l = if i == 0 {
                c[0]
            } else {
                0.5 * (c[i - 1] + c[i])
            };
            let r = if i + 1 == c.len() {
                c[i]
            } else {
                0.5 * (c[i] + c[i + 1])
            };
            (l, r)
        };
        chart.draw_series((0..ny).flat_map(|j| {
            let (y0, y1) = edge(&g.y, j);
            let scale = &scale;
            (0..nx).map(move |i| {
                let (x0, x1) = edge(&g.x, i);
                let v = g.values[j * nx + i];
                let fill = if v.is_finite() {
                    viridis(scale.unit(v))
                } else {
                    RGBColor(255, 255, 255)
                };
                Rectangle::new([(x0, y0), (x1, y1)], fill.filled())
            })
        }))?;

        // Contour lines in the scaled values, at the middles of equal bands.
        let levels = self.opts.levels.max(1);
        let mut segs = Vec::new();
        for k in 0..levels {
            let level = (k as f64 + 0.5) / levels as f64;
            for j in 0..ny - 1 {
                for i in 0..nx - 1 {
                    let idx = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                    let u = idx.map(|(a, b)| scale.unit(g.values[b * nx + a]));
                    if u.iter().all(|v| v.is_finite()) {
                        let c = idx.map(|(a, b)| [g.x[a], g.y[b]]);
                        cell_segments(c, u, level, &mut segs);
                    }
                }
            }
        }
        let line = WHITE.mix(0.55).stroke_width(1);
        chart.draw_series(
            segs.iter()
                .map(|s| PathElement::new(vec![(s[0][0], s[0][1]), (s[1][0], s[1][1])], line)),
        )?;

        let win = [w.x_min, w.x_max, w.y_min, w.y_max];
        let tol = ((w.x_max - w.x_min) / 1500.0, (w.y_max - w.y_min) / 1500.0);
        for (k, p) in self.paths.iter().enumerate() {
            let c = color(k);
            let pts: Vec<(f64, f64)> = p.points.iter().map(|q| (q[0], q[1])).collect();
            let parts = pieces(&pts, win, tol);
            chart
                .draw_series(
                    parts
                        .into_iter()
                        .map(|piece| PathElement::new(piece, c.stroke_width(2))),
                )?
                .label(p.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
                });
            let start = pts.first().copied().filter(|&(x, y)| {
                (w.x_min..=w.x_max).contains(&x) && (w.y_min..=w.y_max).contains(&y)
            });
            if let Some(start) = start {
                chart.draw_series(std::iter::once(Circle::new(start, 5, c.filled())))?;
            }
        }
        if let Some(m) = self.opts.mark {
            chart.draw_series(std::iter::once(Cross::new(
                (m[0], m[1]),
                8,
                RED.stroke_width(3),
            )))?;
        }
        if !self.paths.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.6))
                .label_font(font(15))
                .draw()?;
        }

        // Color bar, in the scale's own coordinate (log10 of v − min + δ when logarithmic),
        // so its ticks fall on round values.
        let (t0, t1) = (scale.t0, scale.t1);
        let mut cb = ChartBuilder::on(&bar)
            .caption("value", font(14))
            .margin_top(24)
            .margin_bottom(60)
            .margin_right(8)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..1.0, t0..t1)?;
        let log = scale.log;
        let min = scale.min;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(7)
            .label_style(font(13))
            .y_label_formatter(&move |t| {
                // δ (a millionth of the range) is left out of the labels: round numbers read
                // better and the difference is below what a color can show.
                if log {
                    tick(10f64.powf(*t) + min)
                } else {
                    tick(*t)
                }
            })
            .draw()?;
        let steps = 100;
        cb.draw_series((0..steps).map(|k| {
            let (a, b) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
            Rectangle::new(
                [(0.0, t0 + a * (t1 - t0)), (1.0, t0 + b * (t1 - t0))],
                viridis(0.5 * (a + b)).filled(),
            )
        }))?;
        Ok(())
    }
}

/// A heat map of `grid` with contour lines (`levels` of them, optionally log-spaced), a color
/// bar, the `paths` drawn on top with a legend (a dot marks each start), and an optional
/// marked point.
///
/// ```no_run
/// use trainscope_viz::plot::{contour_plot, ContourOptions, PathSeries};
/// use trainscope_viz::AnalyticSurface;
/// let s = AnalyticSurface::Rosenbrock;
/// let grid = s.grid(&s.default_window(), 101, 101).unwrap();
/// let path = [[-1.5, 2.0], [-1.0, 1.0], [0.0, 0.0], [1.0, 1.0]];
/// let opts = ContourOptions { log_levels: true, mark: s.minimum(), ..Default::default() };
/// contour_plot(&grid, &[PathSeries { label: "GD", points: &path }], &opts, "rosenbrock.png")
///     .unwrap();
/// ```
pub fn contour_plot(
    grid: &Grid,
    paths: &[PathSeries<'_>],
    opts: &ContourOptions,
    out: impl AsRef<Path>,
) -> Result<()> {
    let (nx, ny) = (grid.nx(), grid.ny());
    if nx < 2 || ny < 2 || grid.values.len() != nx * ny {
        return Err(VizError::invalid(format!(
            "a contour plot needs a grid of at least 2 × 2 with one value per point, got {nx} × {ny} with {} values",
            grid.values.len()
        )));
    }
    let w = grid.window();
    w.validate()?;
    render(
        &ContourFigure { grid, paths, opts },
        out.as_ref(),
        opts.size,
    )
}

// ---------------------------------------------------------------------------------------------
// Line plots

/// One line of a line plot: `y[i]` against `x[i]` (the shorter length wins).
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Legend entry.
    pub label: &'a str,
    /// Horizontal coordinates.
    pub x: &'a [f64],
    /// Vertical coordinates.
    pub y: &'a [f64],
}

/// Settings of [`line_plot`].
#[derive(Debug, Clone, PartialEq)]
pub struct LineOptions {
    /// Title above the plot.
    pub title: String,
    /// Name of the horizontal axis.
    pub x_label: String,
    /// Name of the vertical axis.
    pub y_label: String,
    /// Logarithmic vertical axis (non-positive values are left out).
    pub log_y: bool,
    /// Pixels, width × height.
    pub size: (u32, u32),
}

impl Default for LineOptions {
    fn default() -> Self {
        LineOptions {
            title: String::new(),
            x_label: "epoch".into(),
            y_label: String::new(),
            log_y: false,
            size: (900, 560),
        }
    }
}

fn transformed(s: &Series<'_>, log_y: bool) -> Vec<(f64, f64)> {
    s.x.iter()
        .zip(s.y)
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || **y > 0.0))
        .map(|(&x, &y)| (x, if log_y { y.log10() } else { y }))
        .collect()
}

/// Draws line series in one panel; `first_color` offsets the palette.
fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[Series<'_>],
    opts: &LineOptions,
    first_color: usize,
    markers: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let data: Vec<Vec<(f64, f64)>> = series.iter().map(|s| transformed(s, opts.log_y)).collect();
    let (x0, x1) = padded_or_unit(finite_range(data.iter().flatten().map(|p| &p.0)));
    let (y0, y1) = padded_or_unit(finite_range(data.iter().flatten().map(|p| &p.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(&opts.title, font(20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let log_y = opts.log_y;
    chart
        .configure_mesh()
        .x_desc(opts.x_label.as_str())
        .y_desc(opts.y_label.as_str())
        .axis_desc_style(font(16))
        .label_style(font(13))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&move |v| if log_y { log_tick(*v) } else { tick(*v) })
        .draw()?;
    for (k, (s, pts)) in series.iter().zip(&data).enumerate() {
        let c = color(first_color + k);
        let parts = pieces(
            pts,
            [x0, x1, y0, y1],
            ((x1 - x0) / 4000.0, (y1 - y0) / 4000.0),
        );
        chart
            .draw_series(
                parts
                    .into_iter()
                    .map(|piece| PathElement::new(piece, c.stroke_width(2))),
            )?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3)));
        if markers && pts.len() <= 60 {
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.6))
            .label_font(font(14))
            .draw()?;
    }
    Ok(())
}

fn padded_or_unit(r: Option<(f64, f64)>) -> (f64, f64) {
    match r {
        Some((lo, hi)) => padded(lo, hi),
        None => (0.0, 1.0),
    }
}

struct LinesFigure<'a> {
    series: &'a [Series<'a>],
    opts: &'a LineOptions,
}

impl Figure for LinesFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        draw_lines(root, self.series, self.opts, 0, true)
    }
}

/// Any number of lines in one panel with a legend.
pub fn line_plot(series: &[Series<'_>], opts: &LineOptions, out: impl AsRef<Path>) -> Result<()> {
    render(&LinesFigure { series, opts }, out.as_ref(), opts.size)
}

fn one_based(n: usize) -> Vec<f64> {
    (1..=n).map(|i| i as f64).collect()
}

/// Training (and validation) loss against epoch (1, 2, …); `log_y` for losses spanning
/// orders of magnitude.
pub fn loss_curves_plot(
    train: &[f64],
    validation: Option<&[f64]>,
    log_y: bool,
    out: impl AsRef<Path>,
) -> Result<()> {
    let xt = one_based(train.len());
    let mut series = vec![Series {
        label: "training loss",
        x: &xt,
        y: train,
    }];
    let xv = one_based(validation.map_or(0, |v| v.len()));
    if let Some(v) = validation {
        series.push(Series {
            label: "validation loss",
            x: &xv,
            y: v,
        });
    }
    let opts = LineOptions {
        title: "Training and validation loss".into(),
        y_label: "loss".into(),
        log_y,
        ..Default::default()
    };
    line_plot(&series, &opts, out)
}

struct TwoPanels<'a> {
    top: (Series<'a>, LineOptions),
    bottom: (Series<'a>, LineOptions),
    size: (u32, u32),
}

impl Figure for TwoPanels<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (a, b) = root.split_vertically(self.size.1 / 2);
        draw_lines(&a, std::slice::from_ref(&self.top.0), &self.top.1, 0, false)?;
        draw_lines(
            &b,
            std::slice::from_ref(&self.bottom.0),
            &self.bottom.1,
            3,
            false,
        )?;
        Ok(())
    }
}

/// The loss above the gradient norm on a shared horizontal axis — the "training stuck is not
/// a small gradient" figure: a flat loss over a large norm means oscillation in a valley, a
/// flat loss over a vanishing norm means a critical point. Both panels use a log scale when
/// `log_y`.
pub fn loss_and_grad_norm_plot(
    x: &[f64],
    loss: &[f64],
    grad_norm: &[f64],
    x_label: &str,
    log_y: bool,
    out: impl AsRef<Path>,
) -> Result<()> {
    let size = (900, 760);
    let opts = |title: &str, y: &str| LineOptions {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y.into(),
        log_y,
        size,
    };
    let fig = TwoPanels {
        top: (
            Series {
                label: "loss",
                x,
                y: loss,
            },
            opts("Loss", "loss"),
        ),
        bottom: (
            Series {
                label: "‖gradient‖",
                x,
                y: grad_norm,
            },
            opts("Gradient norm", "‖g‖"),
        ),
        size,
    };
    render(&fig, out.as_ref(), size)
}

/// The learning rate η^t against update (or epoch) `t = 0, 1, …`.
pub fn learning_rate_plot(lr: &[f64], x_label: &str, out: impl AsRef<Path>) -> Result<()> {
    let x: Vec<f64> = (0..lr.len()).map(|i| i as f64).collect();
    let opts = LineOptions {
        title: "Learning-rate schedule".into(),
        x_label: x_label.into(),
        y_label: "learning rate η".into(),
        ..Default::default()
    };
    line_plot(
        &[Series {
            label: "η",
            x: &x,
            y: lr,
        }],
        &opts,
        out,
    )
}

// ---------------------------------------------------------------------------------------------
// Histogram, scatter, bars, bias–complexity

struct HistogramFigure<'a> {
    values: &'a [f64],
    bins: usize,
    title: String,
}

impl Figure for HistogramFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = finite_range(self.values).unwrap_or((-1.0, 1.0));
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let bins = self.bins.max(1);
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0usize; bins];
        for &v in self.values.iter().filter(|v| v.is_finite()) {
            let k = (((v - lo) / width) as usize).min(bins - 1);
            counts[k] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
        let (x0, x1) = padded(lo, hi);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x0..x1, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("eigenvalue λ")
            .y_desc("count")
            .axis_desc_style(font(16))
            .label_style(font(13))
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        let c = color(0);
        chart
            .draw_series(counts.iter().enumerate().map(|(k, &n)| {
                let a = lo + k as f64 * width;
                Rectangle::new([(a, 0.0), (a + width, n as f64)], c.mix(0.8).filled())
            }))?
            .label("eigenvalues per bin")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        if x0 < 0.0 && x1 > 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, 0.0), (0.0, top)],
                    RED.mix(0.8).stroke_width(2),
                )))?
                .label("λ = 0")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.6))
            .label_font(font(14))
            .draw()?;
        Ok(())
    }
}

/// A histogram of a Hessian spectrum in `bins` equal bins, with λ = 0 marked and the counts of
/// positive, negative and (|λ| ≤ `zero_tol`·max|λ|) zero eigenvalues in the title.
pub fn spectrum_histogram_plot(
    eigenvalues: &[f64],
    bins: usize,
    zero_tol: f64,
    out: impl AsRef<Path>,
) -> Result<()> {
    let max = eigenvalues
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let zero = |v: f64| v.abs() <= zero_tol * max;
    let pos = eigenvalues.iter().filter(|&&v| v > 0.0 && !zero(v)).count();
    let neg = eigenvalues.iter().filter(|&&v| v < 0.0 && !zero(v)).count();
    let zer = eigenvalues.iter().filter(|&&v| zero(v)).count();
    let fig = HistogramFigure {
        values: eigenvalues,
        bins,
        title: format!(
            "Hessian spectrum: {pos} positive, {neg} negative, {zer} zero (tol {zero_tol:.0e})"
        ),
    };
    render(&fig, out.as_ref(), (900, 560))
}

struct ScatterFigure<'a> {
    groups: &'a [(String, Vec<[f64; 2]>)],
    log_y: bool,
}

impl Figure for ScatterFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let log_y = self.log_y;
        let groups: Vec<(&str, Vec<(f64, f64)>)> = self
            .groups
            .iter()
            .map(|(label, points)| {
                let pts = points
                    .iter()
                    .filter(|p| p[0].is_finite() && p[1].is_finite() && (!log_y || p[1] > 0.0))
                    .map(|p| (p[0], if log_y { p[1].log10() } else { p[1] }))
                    .collect();
                (label.as_str(), pts)
            })
            .collect();
        let (y0, y1) = padded_or_unit(finite_range(
            groups.iter().flat_map(|g| g.1.iter().map(|p| &p.1)),
        ));
        let mut chart = ChartBuilder::on(root)
            .caption("Loss against minimum ratio at critical points", font(20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(-0.02..1.02, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("minimum ratio (positive eigenvalues / all)")
            .y_desc("loss")
            .axis_desc_style(font(16))
            .label_style(font(13))
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&move |v| if log_y { log_tick(*v) } else { tick(*v) })
            .draw()?;
        for (k, (label, pts)) in groups.iter().enumerate() {
            let c = color(k);
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.mix(0.75).filled())))?
                .label(*label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.6))
            .label_font(font(14))
            .draw()?;
        Ok(())
    }
}

/// Loss against minimum ratio, one dot per critical point found (`[ratio, loss]`).
pub fn min_ratio_scatter_plot(
    points: &[[f64; 2]],
    log_y: bool,
    out: impl AsRef<Path>,
) -> Result<()> {
    min_ratio_scatter_plot_grouped(&[("critical point".into(), points.to_vec())], log_y, out)
}

/// [`min_ratio_scatter_plot`] with one colour and legend entry per group `(label, points)`,
/// e.g. per verdict, so points the minimum ratio alone would misread stand out.
pub fn min_ratio_scatter_plot_grouped(
    groups: &[(String, Vec<[f64; 2]>)],
    log_y: bool,
    out: impl AsRef<Path>,
) -> Result<()> {
    render(&ScatterFigure { groups, log_y }, out.as_ref(), (900, 560))
}

/// One panel of a [`BarTable`]: a group of bars per category, one bar per series.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPanel {
    /// Panel title, e.g. `"Time per epoch"`.
    pub title: String,
    /// Vertical axis name with its unit, e.g. `"seconds"`.
    pub y_label: String,
    /// `(legend entry, one value per category)`.
    pub series: Vec<(String, Vec<f64>)>,
}

/// A small table drawn as grouped bars: categories along the horizontal axis (e.g. batch
/// sizes), one panel per quantity with its own unit.
#[derive(Debug, Clone, PartialEq)]
pub struct BarTable {
    /// Title above the panels.
    pub title: String,
    /// What the categories are, e.g. `"batch size"`.
    pub category_label: String,
    /// Category names.
    pub categories: Vec<String>,
    /// Panels, side by side.
    pub panels: Vec<BarPanel>,
}

struct BarsFigure<'a> {
    table: &'a BarTable,
}

impl Figure for BarsFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let t = self.table;
        let root = root.titled(&t.title, font(22))?;
        let areas = root.split_evenly((1, t.panels.len().max(1)));
        let ncat = t.categories.len();
        let mut color_base = 0;
        for (panel, area) in t.panels.iter().zip(&areas) {
            let k = panel.series.len().max(1);
            let slots = ncat * (k + 1);
            let top = panel
                .series
                .iter()
                .flat_map(|s| s.1.iter())
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, &v| m.max(v));
            let top = if top > 0.0 { top * 1.15 } else { 1.0 };
            let cats = &t.categories;
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, font(18))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d((0..slots).into_segmented(), 0.0..top)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(slots)
                .x_desc(t.category_label.as_str())
                .y_desc(panel.y_label.as_str())
                .axis_desc_style(font(15))
                .label_style(font(13))
                .bold_line_style(BLACK.mix(0.12))
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if i % (k + 1) == k / 2 => {
                        cats.get(i / (k + 1)).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                })
                .y_label_formatter(&|v| tick(*v))
                .draw()?;
            for (s, (name, values)) in panel.series.iter().enumerate() {
                let c = color(color_base + s);
                chart
                    .draw_series(values.iter().take(ncat).enumerate().map(|(g, &v)| {
                        let slot = g * (k + 1) + s;
                        let v = if v.is_finite() { v } else { 0.0 };
                        let mut r = Rectangle::new(
                            [
                                (SegmentValue::Exact(slot), 0.0),
                                (SegmentValue::Exact(slot + 1), v),
                            ],
                            c.filled(),
                        );
                        r.set_margin(0, 0, 2, 2);
                        r
                    }))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled())
                    });
            }
            color_base += panel.series.len();
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.6))
                .label_font(font(13))
                .draw()?;
        }
        Ok(())
    }
}

/// Grouped bars of a small table, e.g. the batch-size comparison (time per epoch in one
/// panel; final training and validation loss in another).
pub fn bar_table_plot(table: &BarTable, out: impl AsRef<Path>) -> Result<()> {
    if table.panels.is_empty() || table.categories.is_empty() {
        return Err(VizError::invalid(
            "a bar table needs at least one panel and one category",
        ));
    }
    let width = (420 * table.panels.len() as u32).clamp(600, 2400);
    render(&BarsFigure { table }, out.as_ref(), (width, 560))
}

/// One rung of a model-size ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplexityPoint {
    /// Name of the model, e.g. `"1-16-1"`.
    pub label: String,
    /// Its size (number of parameters).
    pub size: f64,
    /// Final training loss.
    pub train_loss: f64,
    /// Final validation loss.
    pub val_loss: f64,
}

struct ComplexityFigure<'a> {
    points: &'a [ComplexityPoint],
}

impl Figure for ComplexityFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut pts: Vec<&ComplexityPoint> = self
            .points
            .iter()
            .filter(|p| p.size > 0.0 && p.size.is_finite())
            .collect();
        pts.sort_by(|a, b| a.size.total_cmp(&b.size));
        let lx: Vec<f64> = pts.iter().map(|p| p.size.log10()).collect();
        let tr: Vec<f64> = pts.iter().map(|p| p.train_loss).collect();
        let va: Vec<f64> = pts.iter().map(|p| p.val_loss).collect();
        let opts = LineOptions {
            title: "Bias–complexity: loss against model size".into(),
            x_label: "parameters (log scale)".into(),
            y_label: "loss".into(),
            log_y: false,
            size: (900, 560),
        };
        let (x0, x1) = padded_or_unit(finite_range(&lx));
        let (y0, y1) = padded_or_unit(finite_range(tr.iter().chain(&va)));
        let mut chart = ChartBuilder::on(root)
            .caption(&opts.title, font(20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(opts.x_label.as_str())
            .y_desc(opts.y_label.as_str())
            .axis_desc_style(font(16))
            .label_style(font(13))
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .x_label_formatter(&|v| log_tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        for (k, (name, ys)) in [("training loss", &tr), ("validation loss", &va)]
            .into_iter()
            .enumerate()
        {
            let c = color(k);
            let line: Vec<(f64, f64)> = lx
                .iter()
                .zip(ys.iter())
                .filter(|(_, y)| y.is_finite())
                .map(|(&x, &y)| (x, y))
                .collect();
            chart
                .draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
                });
            chart.draw_series(line.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        }
        chart.draw_series(
            pts.iter()
                .zip(&lx)
                .zip(&va)
                .filter(|(_, v)| v.is_finite())
                .map(|((p, &x), &v)| Text::new(p.label.clone(), (x, v), font(12))),
        )?;
        if let Some((i, _)) = va
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .min_by(|a, b| a.1.total_cmp(b.1))
        {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (lx[i], va[i]),
                    9,
                    RED.stroke_width(3),
                )))?
                .label("lowest validation loss")
                .legend(|(x, y)| Cross::new((x + 8, y), 6, RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.6))
            .label_font(font(14))
            .draw()?;
        Ok(())
    }
}

/// Training and validation loss against model size on a ladder of models (log-scaled size),
/// each rung labeled and the lowest validation loss marked: training loss falls with
/// complexity, validation loss is U-shaped.
pub fn bias_complexity_plot(points: &[ComplexityPoint], out: impl AsRef<Path>) -> Result<()> {
    render(&ComplexityFigure { points }, out.as_ref(), (900, 560))
}
