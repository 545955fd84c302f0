//! Figures as SVG or PNG files (the extension of the output path decides), drawn with
//! `plotters`. Every function takes plain data and a path; each figure has exactly one
//! function here, which every command calls.
//!
//! Every axis comes from [`crate::ticks`]: ticks at round values, labels without repeats or
//! rounding noise, one rule for when a log scale is used ([`crate::ticks::wants_log`]).
//!
//! Text is set in DejaVu Sans, bundled with the crate, so PNGs render the same on a machine
//! without fonts; SVGs name the `sans-serif` family and leave the glyphs to the viewer.

mod contour;
mod spectrum;

pub use contour::{contour_plot, path_color_hex, ContourOptions, Mark, PathSeries};
pub use spectrum::{spectrum_bins, spectrum_plot, SpectrumBin, SpectrumBins};

use crate::error::{Result, VizError};
use crate::ticks::{finite_range, wants_log, Axis};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
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

/// A linear coordinate over an [`Axis`] whose only key points are the axis's ticks (plotters
/// would otherwise choose its own, and its own labels).
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        let len = limit.1 - limit.0;
        if len == 0 || !t.is_finite() {
            return limit.1;
        }
        limit.0 + (f64::from(len) * t + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Plot coordinates with the ticks of two [`Axis`] values.
type Coords = Cartesian2d<Ticked, Ticked>;

fn coord_spec(a: &Axis) -> Ticked {
    Ticked {
        lo: a.lo,
        hi: a.hi,
        ticks: a.ticks.clone(),
    }
}

/// A chart on `area` over the axes `x` and `y`, with its frame, ticks, labels and a faint grid
/// at the ticks.
fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    title_size: u32,
    (x, x_desc): (&Axis, &str),
    (y, y_desc): (&Axis, &str),
) -> std::result::Result<ChartContext<'a, DB, Coords>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(title_size))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(coord_spec(x), coord_spec(y))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(16))
        .label_style(font(13))
        .bold_line_style(BLACK.mix(0.10))
        .x_label_formatter(&|v| x.label(*v))
        .y_label_formatter(&|v| y.label(*v))
        .draw()?;
    Ok(chart)
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Coords>,
    at: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.6))
        .label_font(font(14))
        .draw()?;
    Ok(())
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
    /// Logarithmic vertical axis (non-positive values are left out); `None` decides by
    /// [`wants_log`] over every value.
    pub log_y: Option<bool>,
    /// Pixels, width × height.
    pub size: (u32, u32),
}

impl Default for LineOptions {
    fn default() -> Self {
        LineOptions {
            title: String::new(),
            x_label: "epoch".into(),
            y_label: String::new(),
            log_y: None,
            size: (900, 560),
        }
    }
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
    let ys: Vec<f64> = series.iter().flat_map(|s| s.y.iter().copied()).collect();
    let log = opts.log_y.unwrap_or_else(|| wants_log(&ys));
    let y_axis = Axis::of(ys.iter().copied(), log);
    let x_axis = Axis::of(series.iter().flat_map(|s| s.x.iter().copied()), false);
    let data: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.x.iter()
                .zip(s.y)
                .filter(|(x, _)| x.is_finite())
                .filter_map(|(&x, &y)| y_axis.coord(y).map(|c| (x, c)))
                .collect()
        })
        .collect();
    let mut chart = chart(
        area,
        &opts.title,
        20,
        (&x_axis, &opts.x_label),
        (&y_axis, &opts.y_label),
    )?;
    let win = [x_axis.lo, x_axis.hi, y_axis.lo, y_axis.hi];
    let tol = (
        (x_axis.hi - x_axis.lo) / 4000.0,
        (y_axis.hi - y_axis.lo) / 4000.0,
    );
    for (k, (s, pts)) in series.iter().zip(&data).enumerate() {
        let c = color(first_color + k);
        chart
            .draw_series(
                pieces(pts, win, tol)
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
        legend(&mut chart, clear_corner(&data, win, series.len()))?;
    }
    Ok(())
}

/// The corner of the window whose legend box would cover the fewest points of the lines
/// (upper right on a tie), so the legend never hides where the curves end. The box is taken
/// as 40 % of the width and 9 % of the height per entry.
fn clear_corner(lines: &[Vec<(f64, f64)>], win: [f64; 4], entries: usize) -> SeriesLabelPosition {
    let [x0, x1, y0, y1] = win;
    let (w, h) = (0.4, (0.09 * entries as f64 + 0.04).min(0.9));
    let corners = [
        (
            SeriesLabelPosition::UpperRight,
            (1.0 - w, 1.0),
            (1.0 - h, 1.0),
        ),
        (SeriesLabelPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
        (SeriesLabelPosition::LowerLeft, (0.0, w), (0.0, h)),
    ];
    let covered = |(_, (a, b), (c, d)): &(SeriesLabelPosition, (f64, f64), (f64, f64))| {
        lines
            .iter()
            .flatten()
            .filter(|&&(x, y)| {
                let u = (x - x0) / (x1 - x0);
                let v = (y - y0) / (y1 - y0);
                (*a..=*b).contains(&u) && (*c..=*d).contains(&v)
            })
            .count()
    };
    let mut best = 0;
    let mut fewest = usize::MAX;
    for (i, c) in corners.iter().enumerate() {
        let n = covered(c);
        if n < fewest {
            best = i;
            fewest = n;
        }
    }
    corners[best].0.clone()
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

/// Training (and validation) loss against epoch (1, 2, …), on a log axis when the losses
/// span more than a decade.
pub fn loss_curves_plot(
    train: &[f64],
    validation: Option<&[f64]>,
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
        ..Default::default()
    };
    line_plot(&series, &opts, out)
}

/// Training (and validation) accuracy in percent against epoch, on a linear axis.
pub fn accuracy_curves_plot(
    train: &[f64],
    validation: Option<&[f64]>,
    out: impl AsRef<Path>,
) -> Result<()> {
    let pct = |v: &[f64]| v.iter().map(|a| 100.0 * a).collect::<Vec<f64>>();
    let (t, v) = (pct(train), validation.map(pct));
    let xt = one_based(t.len());
    let mut series = vec![Series {
        label: "training accuracy",
        x: &xt,
        y: &t,
    }];
    let xv = one_based(v.as_ref().map_or(0, |v| v.len()));
    if let Some(v) = &v {
        series.push(Series {
            label: "validation accuracy",
            x: &xv,
            y: v,
        });
    }
    let opts = LineOptions {
        title: "Training and validation accuracy".into(),
        y_label: "accuracy (%)".into(),
        log_y: Some(false),
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
/// flat loss over a vanishing norm means a critical point. Each panel is on a log scale when
/// its values span more than a decade.
pub fn loss_and_grad_norm_plot(
    x: &[f64],
    loss: &[f64],
    grad_norm: &[f64],
    x_label: &str,
    out: impl AsRef<Path>,
) -> Result<()> {
    let size = (900, 760);
    let opts = |title: &str, y: &str| LineOptions {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y.into(),
        log_y: None,
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

/// The learning rate η against `x` (updates or epochs), named `x_label`.
pub fn learning_rate_plot(
    x: &[f64],
    lr: &[f64],
    x_label: &str,
    out: impl AsRef<Path>,
) -> Result<()> {
    let opts = LineOptions {
        title: "Learning rate".into(),
        x_label: x_label.into(),
        y_label: "learning rate η".into(),
        ..Default::default()
    };
    line_plot(
        &[Series {
            label: "η",
            x,
            y: lr,
        }],
        &opts,
        out,
    )
}

// ---------------------------------------------------------------------------------------------
// Minimum ratio against loss

/// One critical point of the course's experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictPoint {
    /// positive / all eigenvalues.
    pub min_ratio: f64,
    /// The loss there.
    pub loss: f64,
    /// What the point is, e.g. `"saddle point"`; one colour and legend entry per verdict.
    pub verdict: String,
}

/// Fixed colours for the verdicts, so a saddle point is the same red in every figure.
fn verdict_color(verdict: &str, fallback: usize) -> RGBColor {
    let v = verdict.to_ascii_lowercase();
    if v.starts_with("saddle") {
        RGBColor(214, 39, 40)
    } else if v.starts_with("local-minimum") || v.starts_with("local minimum") {
        RGBColor(44, 160, 44)
    } else if v.starts_with("not a critical") {
        RGBColor(127, 127, 127)
    } else if v.starts_with("local maximum") {
        RGBColor(148, 103, 189)
    } else {
        color(fallback)
    }
}

struct MinRatioFigure<'a> {
    points: &'a [VerdictPoint],
    threshold: f64,
}

impl Figure for MinRatioFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let losses: Vec<f64> = self.points.iter().map(|p| p.loss).collect();
        let y = Axis::of(losses.iter().copied(), wants_log(&losses));
        let x = Axis::linear_exact(-0.02, 1.02);
        let mut chart = chart(
            root,
            "Loss against minimum ratio at the critical points found",
            20,
            (&x, "minimum ratio (positive eigenvalues / all)"),
            (&y, "loss"),
        )?;
        let t = self.threshold;
        let line = BLACK.mix(0.7).stroke_width(2);
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(t, y.lo), (t, y.hi)],
                8,
                6,
                line,
            )))?
            .label(format!(
                "course's threshold {t}: a ratio above it → minimum-like"
            ))
            .legend(move |(a, b)| DashedPathElement::new(vec![(a, b), (a + 22, b)], 5, 3, line));
        let mut verdicts: Vec<&str> = Vec::new();
        for p in self.points {
            if !verdicts.contains(&p.verdict.as_str()) {
                verdicts.push(&p.verdict);
            }
        }
        for (k, v) in verdicts.iter().enumerate() {
            let c = verdict_color(v, k);
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| p.verdict == *v && p.min_ratio.is_finite())
                .filter_map(|p| y.coord(p.loss).map(|l| (p.min_ratio, l)))
                .collect();
            let n = pts.len();
            chart
                .draw_series(
                    pts.into_iter()
                        .map(|p| Circle::new(p, 5, c.mix(0.8).filled())),
                )?
                .label(format!("{v} ({n})"))
                .legend(move |(a, b)| Circle::new((a + 8, b), 5, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    }
}

/// Loss against the course's minimum ratio, one dot per critical point, coloured by verdict
/// with a legend entry (and count) per verdict, and the course's `threshold` (0.5) drawn.
pub fn min_ratio_plot(
    points: &[VerdictPoint],
    threshold: f64,
    out: impl AsRef<Path>,
) -> Result<()> {
    render(
        &MinRatioFigure { points, threshold },
        out.as_ref(),
        (900, 560),
    )
}

// ---------------------------------------------------------------------------------------------
// Grouped bars

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
            let y = Axis::linear_exact(0.0, if top > 0.0 { top * 1.15 } else { 1.0 });
            let cats = &t.categories;
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, font(18))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d((0..slots).into_segmented(), coord_spec(&y))?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(slots)
                .x_desc(t.category_label.as_str())
                .y_desc(panel.y_label.as_str())
                .axis_desc_style(font(15))
                .label_style(font(13))
                .bold_line_style(BLACK.mix(0.10))
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if i % (k + 1) == k / 2 => {
                        cats.get(i / (k + 1)).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                })
                .y_label_formatter(&|v| y.label(*v))
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

/// Grouped bars of a small table: the batch-size comparison (time per update, time per
/// epoch, final losses, each in its own panel and unit).
pub fn bar_table_plot(table: &BarTable, out: impl AsRef<Path>) -> Result<()> {
    if table.panels.is_empty() || table.categories.is_empty() {
        return Err(VizError::invalid(
            "a bar table needs at least one panel and one category",
        ));
    }
    let width = (420 * table.panels.len() as u32).clamp(600, 2400);
    render(&BarsFigure { table }, out.as_ref(), (width, 560))
}

// ---------------------------------------------------------------------------------------------
// Bias–complexity

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
        let losses: Vec<f64> = pts
            .iter()
            .flat_map(|p| [p.train_loss, p.val_loss])
            .collect();
        // Training losses fall by orders of magnitude along a ladder: always a log loss axis
        // when the losses allow one.
        let positive = losses.iter().filter(|v| v.is_finite()).all(|&v| v > 0.0);
        let y = Axis::of(losses.iter().copied(), positive);
        let sizes = finite_range(pts.iter().map(|p| p.size)).unwrap_or((1.0, 10.0));
        let x = Axis::log(sizes.0, sizes.1);
        let mut chart = chart(
            root,
            "Bias–complexity: loss against model size",
            20,
            (&x, "parameters (log scale)"),
            (&y, if y.log { "loss (log scale)" } else { "loss" }),
        )?;
        let at = |p: &ComplexityPoint, v: f64| Some((x.coord(p.size)?, y.coord(v)?));
        for (k, name) in ["training loss", "validation loss"].into_iter().enumerate() {
            let c = color(k);
            let line: Vec<(f64, f64)> = pts
                .iter()
                .filter_map(|p| at(p, if k == 0 { p.train_loss } else { p.val_loss }))
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
                .filter_map(|p| Some(Text::new(p.label.clone(), at(p, p.val_loss)?, font(12)))),
        )?;
        if let Some(best) = pts
            .iter()
            .filter(|p| p.val_loss.is_finite())
            .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        {
            if let Some(p) = at(best, best.val_loss) {
                chart
                    .draw_series(std::iter::once(Cross::new(p, 9, RED.stroke_width(3))))?
                    .label("lowest validation loss")
                    .legend(|(x, y)| Cross::new((x + 8, y), 6, RED.stroke_width(2)));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Training and validation loss against model size on a ladder of models (log-scaled size
/// and loss), each rung labeled and the lowest validation loss marked: training loss falls
/// with complexity, validation loss is U-shaped.
pub fn bias_complexity_plot(points: &[ComplexityPoint], out: impl AsRef<Path>) -> Result<()> {
    render(&ComplexityFigure { points }, out.as_ref(), (900, 560))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_goes_where_the_curves_are_not() {
        let win = [0.0, 100.0, 0.0, 100.0];
        let rising: Vec<(f64, f64)> = (0..=100)
            .map(|i| (i as f64, 50.0 + 0.5 * i as f64))
            .collect();
        let falling: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, 100.0 - i as f64)).collect();
        // Accuracy climbing to the top right: not there.
        let at = clear_corner(std::slice::from_ref(&rising), win, 2);
        assert_ne!(at, SeriesLabelPosition::UpperRight);
        // A loss falling from the top left to the bottom right: the upper right is clear.
        assert_eq!(
            clear_corner(&[falling], win, 2),
            SeriesLabelPosition::UpperRight
        );
        // Nothing anywhere: upper right.
        assert_eq!(clear_corner(&[], win, 1), SeriesLabelPosition::UpperRight);
    }
}
