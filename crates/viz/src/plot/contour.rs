//! Contour plots: a heat map with contour lines and a colour bar, paths drawn on top so that
//! overlapping paths stay visible, and marked points (minimum, saddle point, trained weights)
//! named in the legend.

use super::{coord_spec, font, pieces, render, DrawResult, Figure, PALETTE};
use crate::error::{Result, VizError};
use crate::grid::Grid;
use crate::ticks::Axis;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::Path;

/// A labeled path in the plane of a contour plot, e.g. an optimizer's trajectory.
#[derive(Debug, Clone, Copy)]
pub struct PathSeries<'a> {
    /// Legend entry.
    pub label: &'a str,
    /// Points in plot coordinates, in order.
    pub points: &'a [[f64; 2]],
}

/// A point marked on a contour plot and named in its legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Legend entry, e.g. `"minimum (1, 1)"`.
    pub label: String,
    /// Where, in plot coordinates.
    pub point: [f64; 2],
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
    /// Points to mark, each with a legend entry (the minimum, a saddle point, the trained
    /// model).
    pub marks: Vec<Mark>,
    /// Pixels, width × height.
    pub size: (u32, u32),
}

impl Default for ContourOptions {
    fn default() -> Self {
        ContourOptions {
            title: String::new(),
            levels: 12,
            log_levels: false,
            marks: Vec::new(),
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

/// Path colours: the palette with the colours that stand out on viridis first (orange, red,
/// pink, …); every path also gets a white casing, for the blues and greens further on.
fn path_color(k: usize) -> RGBColor {
    const ORDER: [usize; 10] = [1, 3, 6, 0, 4, 9, 5, 8, 2, 7];
    PALETTE[ORDER[k % ORDER.len()]]
}

/// The colour of path `k` of a contour plot, as `#rrggbb`.
pub fn path_color_hex(k: usize) -> String {
    let RGBColor(r, g, b) = path_color(k);
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// Dash pattern `(dash, gap)` in pixels of path `k`; `None` is a solid line. The first path is
/// solid; later (drawn on top) are dashed, so the paths under them show through the gaps.
fn dash(k: usize) -> Option<(u32, u32)> {
    [
        None,
        Some((12, 6)),
        Some((3, 5)),
        Some((8, 4)),
        Some((16, 8)),
    ][k % 5]
}

/// Line width of path `k` of `n`: the first drawn (lowest) is a pixel wider than the rest,
/// so where it lies under a dashed path it shows at both edges.
fn width(k: usize, n: usize) -> u32 {
    if k == 0 && n > 1 {
        3
    } else {
        2
    }
}

/// The marker at the end of path `k`.
fn end_marker<DB: DrawingBackend>(
    k: usize,
    at: (i32, i32),
    c: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    let (x, y) = at;
    let s = 6;
    match k % 4 {
        0 => Circle::new((x, y), s, c.filled()).into_dyn(),
        1 => Rectangle::new([(x - s, y - s), (x + s, y + s)], c.filled()).into_dyn(),
        2 => Polygon::new(
            vec![(x, y - s - 1), (x - s, y + s), (x + s, y + s)],
            c.filled(),
        )
        .into_dyn(),
        _ => Polygon::new(
            vec![(x, y - s - 1), (x + s, y), (x, y + s + 1), (x - s, y)],
            c.filled(),
        )
        .into_dyn(),
    }
}

/// Points in plot coordinates.
type Polyline = Vec<(f64, f64)>;

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
        let (xa, ya) = (
            Axis::linear_exact(w.x_min, w.x_max),
            Axis::linear_exact(w.y_min, w.y_max),
        );
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.opts.title, font(22))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(coord_spec(&xa), coord_spec(&ya))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(g.x_label.as_str())
            .y_desc(g.y_label.as_str())
            .axis_desc_style(font(17))
            .label_style(font(14))
            .x_label_formatter(&|v| xa.label(*v))
            .y_label_formatter(&|v| ya.label(*v))
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
        let inside = |&(x, y): &(f64, f64)| {
            (w.x_min..=w.x_max).contains(&x) && (w.y_min..=w.y_max).contains(&y)
        };
        let n = self.paths.len();
        // Each path's points, and its pieces ready to draw.
        let all: Vec<(Polyline, Vec<Polyline>)> = self
            .paths
            .iter()
            .map(|p| {
                let pts: Vec<(f64, f64)> = p.points.iter().map(|q| (q[0], q[1])).collect();
                let parts = pieces(&pts, win, tol);
                (pts, parts)
            })
            .collect();
        // A light casing under every path, all drawn first: it sets the paths off from the
        // heat map without covering the paths drawn before.
        for (k, (_, parts)) in all.iter().enumerate() {
            let casing = WHITE.mix(0.6).stroke_width(width(k, n) + 2);
            chart.draw_series(
                parts
                    .iter()
                    .map(|piece| PathElement::new(piece.clone(), casing)),
            )?;
        }
        for (k, (p, (pts, parts))) in self.paths.iter().zip(all).enumerate() {
            let c = path_color(k);
            let wd = width(k, n);
            let style = c.stroke_width(wd);
            let anno = match dash(k) {
                None => chart.draw_series(
                    parts
                        .into_iter()
                        .map(|piece| PathElement::new(piece, style)),
                )?,
                Some((on, off)) => chart.draw_series(
                    parts
                        .into_iter()
                        .map(|piece| DashedPathElement::new(piece, on, off, style)),
                )?,
            };
            let legend_style = c.stroke_width(3);
            anno.label(p.label).legend(move |(x, y)| {
                let body: DynElement<'static, DB, (i32, i32)> = match dash(k) {
                    None => PathElement::new(vec![(0, 0), (20, 0)], legend_style).into_dyn(),
                    Some((on, off)) => DashedPathElement::new(
                        vec![(0, 0), (20, 0)],
                        on.min(8),
                        off.min(4),
                        legend_style,
                    )
                    .into_dyn(),
                };
                EmptyElement::at((x, y)) + body + end_marker::<DB>(k, (10, 0), c)
            });
            // Start: a ring; end: a filled marker of the path's own shape.
            if let Some(start) = pts.first().copied().filter(inside) {
                chart.draw_series(std::iter::once(
                    EmptyElement::at(start)
                        + Circle::new((0, 0), 7, WHITE.stroke_width(4))
                        + Circle::new((0, 0), 7, c.stroke_width(2)),
                ))?;
            }
            let end = pts
                .iter()
                .rev()
                .find(|(x, y)| x.is_finite() && y.is_finite())
                .copied()
                .filter(inside);
            if let Some(end) = end {
                chart.draw_series(std::iter::once(
                    EmptyElement::at(end)
                        + end_marker::<DB>(k, (0, 0), WHITE)
                        + end_marker::<DB>(k, (0, 0), c),
                ))?;
            }
        }
        for (k, m) in self.opts.marks.iter().enumerate() {
            let c = [RED, BLACK, MAGENTA][k % 3];
            let p = (m.point[0], m.point[1]);
            if !inside(&p) {
                continue;
            }
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(p)
                        + Cross::new((0, 0), 10, WHITE.stroke_width(5))
                        + Cross::new((0, 0), 10, c.stroke_width(3)),
                ))?
                .label(m.label.as_str())
                .legend(move |(x, y)| Cross::new((x + 12, y), 6, c.stroke_width(3)));
        }
        if !self.paths.is_empty() || !self.opts.marks.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.6))
                .label_font(font(15))
                .draw()?;
        }

        // Color bar, on the axis of the scale's own coordinate: the value, or on a log scale
        // the value above the grid's minimum.
        let (t0, t1) = (scale.t0, scale.t1);
        let axis = if scale.log {
            let mut a = Axis::log(10f64.powf(t0), 10f64.powf(t1));
            a.lo = t0;
            a.hi = t1;
            a.ticks.retain(|t| (t0..=t1).contains(t));
            a
        } else {
            Axis::linear_exact(t0, t1)
        };
        let labels: Vec<(f64, String)> = axis
            .ticks
            .iter()
            .zip(&axis.labels)
            .map(|(t, l)| (*t, l.clone()))
            .collect();
        let caption = if scale.log && scale.min != 0.0 {
            "value − min"
        } else {
            "value"
        };
        let mut cb = ChartBuilder::on(&bar)
            .caption(caption, font(14))
            .margin_top(24)
            .margin_bottom(60)
            .margin_right(8)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..1.0, coord_spec(&axis))?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .label_style(font(13))
            .y_label_formatter(&|t| {
                labels
                    .iter()
                    .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
                    .map(|l| l.1.clone())
                    .unwrap_or_default()
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
/// bar, the `paths` drawn on top with a legend (a ring marks each start, a filled marker each
/// end; later paths are narrower and dashed so that earlier ones show where they overlap),
/// and the marked points named in the legend.
///
/// ```no_run
/// use trainscope_viz::plot::{contour_plot, ContourOptions, Mark, PathSeries};
/// use trainscope_viz::AnalyticSurface;
/// let s = AnalyticSurface::Rosenbrock;
/// let grid = s.grid(&s.default_window(), 101, 101).unwrap();
/// let path = [[-1.5, 2.0], [-1.0, 1.0], [0.0, 0.0], [1.0, 1.0]];
/// let opts = ContourOptions { log_levels: true, marks: s.marks(), ..Default::default() };
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
