//! The Hessian spectrum with its signs visible: three panels — negative eigenvalues, the ones
//! counted as zero, positive eigenvalues — each with its own count axis, the two sides binned
//! on a log scale of |λ|. A single histogram puts nearly every eigenvalue of a trained network
//! in the bin around zero, where a few negative ones (the saddle's way down) disappear.

use super::{coord_spec, font, render, DrawResult, Figure};
use crate::error::Result;
use crate::ticks::Axis;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;
use std::path::Path;
use trainscope_diag::Counts;

/// Most bins on either side.
const MAX_BINS: usize = 24;

const NEGATIVE: RGBColor = RGBColor(214, 39, 40);
const ZERO: RGBColor = RGBColor(127, 127, 127);
const POSITIVE: RGBColor = RGBColor(31, 119, 180);

/// Eigenvalues with `lo ≤ |λ| ≤ hi`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectrumBin {
    /// Smallest |λ| of the bin.
    pub lo: f64,
    /// Largest |λ| of the bin.
    pub hi: f64,
    /// Eigenvalues in it.
    pub count: usize,
}

/// What the spectrum figure draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpectrumBins {
    /// Positive, negative and zero counts, by [`Counts::of`].
    pub counts: Counts,
    /// The relative zero tolerance.
    pub zero_tol: f64,
    /// `|λ| ≤ cut` counts as zero ([`Counts::zero_cut`]).
    pub cut: f64,
    /// The negative eigenvalues by |λ|, ascending, in bins equal on a log scale.
    pub negative: Vec<SpectrumBin>,
    /// The positive eigenvalues, ascending, in bins equal on a log scale.
    pub positive: Vec<SpectrumBin>,
}

/// `magnitudes` (all above zero) in at most [`MAX_BINS`] bins, about √n of them, of equal
/// width in `log10 |λ|`.
fn log_bins(mut magnitudes: Vec<f64>) -> Vec<SpectrumBin> {
    if magnitudes.is_empty() {
        return Vec::new();
    }
    magnitudes.sort_by(f64::total_cmp);
    let (lo, hi) = (magnitudes[0], magnitudes[magnitudes.len() - 1]);
    let (a, b) = (lo.log10(), hi.log10());
    let k = if b - a < 1e-9 {
        1
    } else {
        ((magnitudes.len() as f64).sqrt().ceil() as usize).clamp(1, MAX_BINS)
    };
    let width = (b - a) / k as f64;
    let mut bins: Vec<SpectrumBin> = (0..k)
        .map(|i| SpectrumBin {
            lo: if i == 0 {
                lo
            } else {
                10f64.powf(a + i as f64 * width)
            },
            hi: if i + 1 == k {
                hi
            } else {
                10f64.powf(a + (i + 1) as f64 * width)
            },
            count: 0,
        })
        .collect();
    for m in magnitudes {
        let i = if width > 0.0 {
            (((m.log10() - a) / width) as usize).min(k - 1)
        } else {
            0
        };
        bins[i].count += 1;
    }
    bins
}

/// The counts and bins of `eigenvalues` (non-finite ones left out), zero by diag's rule
/// `|λ| ≤ zero_tol · max|λ|`.
pub fn spectrum_bins(eigenvalues: &[f64], zero_tol: f64) -> SpectrumBins {
    let finite: Vec<f64> = eigenvalues
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let counts = Counts::of(&finite, zero_tol);
    let cut = Counts::zero_cut(&finite, zero_tol);
    let negative = log_bins(finite.iter().filter(|&&l| l < -cut).map(|l| -l).collect());
    let positive = log_bins(finite.iter().filter(|&&l| l > cut).copied().collect());
    SpectrumBins {
        counts,
        zero_tol,
        cut,
        negative,
        positive,
    }
}

/// Two significant digits, for a bound stated in text.
fn short(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&x.abs()) {
        let d = (1 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.d$}")
    } else {
        format!("{x:.1e}")
    }
}

struct SpectrumFigure<'a> {
    bins: &'a SpectrumBins,
}

/// One side of the spectrum: bars over `log10 |λ|`, mirrored for the negative side.
fn side<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bins: &[SpectrumBin],
    negative: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (name, c) = if negative {
        ("λ < 0 (log scale of |λ|)", NEGATIVE)
    } else {
        ("λ > 0 (log scale)", POSITIVE)
    };
    if bins.is_empty() {
        let (w, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            format!(
                "no {} eigenvalue",
                if negative { "negative" } else { "positive" }
            ),
            (w as i32 / 2 - 80, h as i32 / 2),
            font(16),
        ))?;
        return Ok(());
    }
    let x = Axis::log(bins[0].lo, bins[bins.len() - 1].hi);
    let x = if negative { x.mirrored() } else { x };
    let y = Axis::counts(bins.iter().map(|b| b.count).max().unwrap_or(1));
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(50)
        .build_cartesian_2d(coord_spec(&x), coord_spec(&y))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(name)
        .y_desc("count")
        .axis_desc_style(font(15))
        .label_style(font(13))
        .bold_line_style(BLACK.mix(0.10))
        .x_label_formatter(&|v| x.label(*v))
        .y_label_formatter(&|v| y.label(*v))
        .draw()?;
    // A bin of one value is drawn 2 % of the axis wide.
    let min_w = 0.02 * (x.hi - x.lo);
    chart.draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
        let (mut a, mut z) = (b.lo.log10(), b.hi.log10());
        if negative {
            (a, z) = (-z, -a);
        }
        if z - a < min_w {
            let m = 0.5 * (a + z);
            (a, z) = (m - 0.5 * min_w, m + 0.5 * min_w);
        }
        Rectangle::new([(a, 0.0), (z, b.count as f64)], c.mix(0.85).filled())
    }))?;
    Ok(())
}

impl Figure for SpectrumFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let b = self.bins;
        let c = b.counts;
        let total = c.positive + c.negative + c.zero;
        let root = root.titled(
            &format!(
                "Hessian spectrum, {total} eigenvalues: {} positive, {} negative, {} zero",
                c.positive, c.negative, c.zero
            ),
            font(20),
        )?;
        let w = root.dim_in_pixel().0;
        let (left, rest) = root.split_horizontally(w * 2 / 5);
        let (mid, right) = rest.split_horizontally(w / 5);
        let left = left.titled(&format!("{} negative", c.negative), font(17))?;
        let mid = mid.titled(&format!("{} zero", c.zero), font(17))?;
        let right = right.titled(&format!("{} positive", c.positive), font(17))?;
        side(&left, &b.negative, true)?;
        side(&right, &b.positive, false)?;

        // The zero bar: one count, its bound stated under it.
        let y = Axis::counts(c.zero);
        let x = Axis {
            lo: -1.0,
            hi: 1.0,
            log: false,
            ticks: vec![0.0],
            labels: vec![format!("|λ| ≤ {}", short(b.cut))],
        };
        let mut chart = ChartBuilder::on(&mid)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(50)
            .build_cartesian_2d(coord_spec(&x), coord_spec(&y))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(format!("{:.0e}·max|λ|", b.zero_tol))
            .axis_desc_style(font(14))
            .label_style(font(13))
            .bold_line_style(BLACK.mix(0.10))
            .x_label_formatter(&|v| x.label(*v))
            .y_label_formatter(&|v| y.label(*v))
            .draw()?;
        if c.zero > 0 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(-0.5, 0.0), (0.5, c.zero as f64)],
                ZERO.mix(0.85).filled(),
            )))?;
        }
        Ok(())
    }
}

/// The Hessian spectrum in three panels — negative, zero (`|λ| ≤ zero_tol · max|λ|`, as
/// diag counts them) and positive — with the counts in the title and each panel's heading, so
/// a handful of negative eigenvalues beside hundreds of near-zero ones stays visible.
pub fn spectrum_plot(eigenvalues: &[f64], zero_tol: f64, out: impl AsRef<Path>) -> Result<()> {
    let bins = spectrum_bins(eigenvalues, zero_tol);
    render(&SpectrumFigure { bins: &bins }, out.as_ref(), (1000, 560))
}
