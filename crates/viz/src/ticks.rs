//! The axes of every figure in [`crate::plot`]: range, tick positions and tick labels.
//!
//! Ticks sit at round values only — multiples of a 1-2-5 step on a linear axis, decades (or
//! 1, 2, 5 × a decade) on a logarithmic one — and each label is printed with just the digits its
//! step needs, so labels never repeat ("0.001, 0.001") and never show rounding noise
//! ("-1.1e-16", "3.162"). A constant series gets an axis around its value, not −0.5…0.5.
//!
//! ```
//! use trainscope_viz::ticks::Axis;
//! let a = Axis::linear(0.0, 0.95);
//! assert_eq!(a.labels, ["0", "0.2", "0.4", "0.6", "0.8"]);
//! let l = Axis::log(0.003, 40.0);
//! assert_eq!(l.labels, ["0.01", "0.1", "1", "10"]);
//! ```

/// Most ticks on an axis.
pub const MAX_TICKS: usize = 9;

/// Values are drawn on a log axis when all are positive and they span more than this factor.
pub const LOG_SPAN: f64 = 10.0;

/// One axis: the drawn interval in plot coordinates (`log10` of the value on a log axis), the
/// tick positions in those coordinates, and one label per tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Lower end of the drawn interval (plot coordinates).
    pub lo: f64,
    /// Upper end of the drawn interval (plot coordinates).
    pub hi: f64,
    /// Logarithmic: plot coordinates are `log10(value)`.
    pub log: bool,
    /// Tick positions, ascending, in plot coordinates.
    pub ticks: Vec<f64>,
    /// The label of each tick.
    pub labels: Vec<String>,
}

/// Whether `values` read better on a log axis: every finite value positive, spanning more
/// than [`LOG_SPAN`]. The one rule of every figure.
pub fn wants_log(values: &[f64]) -> bool {
    match finite_range(values.iter().copied()) {
        Some((lo, hi)) => lo > 0.0 && hi / lo > LOG_SPAN,
        None => false,
    }
}

/// The smallest and largest finite value.
pub fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

impl Axis {
    /// A linear axis holding `[lo, hi]` with 5 % room on both sides; a constant (or nearly
    /// constant) range is widened to ±half its value (±1 around 0).
    pub fn linear(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = widen_linear(lo, hi);
        let pad = 0.05 * (hi - lo);
        Axis::linear_exact(lo - pad, hi + pad)
    }

    /// A linear axis over exactly `[lo, hi]` (no padding), e.g. a ratio's `[0, 1]`.
    pub fn linear_exact(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = widen_linear(lo, hi);
        let (ticks, labels) = linear_ticks(lo, hi, MAX_TICKS);
        Axis {
            lo,
            hi,
            log: false,
            ticks,
            labels,
        }
    }

    /// A log axis holding the positive values `[lo, hi]`, with 5 % room (of the log span); a
    /// constant value gets a factor of 3 either side.
    pub fn log(lo: f64, hi: f64) -> Axis {
        if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
            return Axis::linear(lo, hi);
        }
        let (mut a, mut b) = (lo.log10(), hi.log10());
        if b - a < 1e-9 {
            a -= 3f64.log10();
            b += 3f64.log10();
        }
        let pad = 0.05 * (b - a);
        let (a, b) = (a - pad, b + pad);
        let (ticks, labels) = log_ticks(a, b, MAX_TICKS);
        Axis {
            lo: a,
            hi: b,
            log: true,
            ticks,
            labels,
        }
    }

    /// A count axis from 0 to a little above `max`, ticks at whole numbers only.
    pub fn counts(max: usize) -> Axis {
        let hi = (max as f64 * 1.15).max(max as f64 + 1.0);
        let step = nice_step(0.0, hi, MAX_TICKS).max(1.0);
        let ticks: Vec<f64> = (0..=(hi / step).floor() as i64)
            .map(|k| k as f64 * step)
            .collect();
        let labels = ticks.iter().map(|t| format!("{t:.0}")).collect();
        Axis {
            lo: 0.0,
            hi,
            log: false,
            ticks,
            labels,
        }
    }

    /// The same axis mirrored for negative values: plot coordinate `−c` shows `−value`, so
    /// on a log axis the larger magnitudes lie to the left.
    pub fn mirrored(&self) -> Axis {
        Axis {
            lo: -self.hi,
            hi: -self.lo,
            log: self.log,
            ticks: self.ticks.iter().rev().map(|t| -t).collect(),
            labels: self
                .labels
                .iter()
                .rev()
                .map(|l| match l.strip_prefix('-') {
                    Some(p) => p.to_string(),
                    None if l == "0" => l.clone(),
                    None => format!("-{l}"),
                })
                .collect(),
        }
    }

    /// [`Axis::log`] when `log` is asked for and the values allow it, else [`Axis::linear`].
    pub fn of(values: impl IntoIterator<Item = f64>, log: bool) -> Axis {
        let v: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let positive = finite_range(v.iter().copied().filter(|&x| x > 0.0));
        match (log, positive, finite_range(v.iter().copied())) {
            (true, Some((lo, hi)), _) => Axis::log(lo, hi),
            (_, _, Some((lo, hi))) => Axis::linear(lo, hi),
            _ => Axis::linear(0.0, 1.0),
        }
    }

    /// Plot coordinate of `value` (`None` for a non-positive value on a log axis).
    pub fn coord(&self, value: f64) -> Option<f64> {
        if !value.is_finite() {
            None
        } else if self.log {
            (value > 0.0).then(|| value.log10())
        } else {
            Some(value)
        }
    }

    /// The label of the tick at plot coordinate `at` (the nearest tick's).
    pub fn label(&self, at: f64) -> String {
        self.ticks
            .iter()
            .zip(&self.labels)
            .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }
}

/// `[lo, hi]` made drawable: non-finite → `[0, 1]`, a (nearly) constant range widened.
fn widen_linear(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let scale = lo.abs().max(hi.abs());
    if hi - lo > 1e-9 * scale && hi - lo > f64::MIN_POSITIVE * 1e10 {
        return (lo, hi);
    }
    let mid = 0.5 * (lo + hi);
    if scale < 1e-300 {
        (-1.0, 1.0)
    } else {
        (mid - 0.5 * mid.abs(), mid + 0.5 * mid.abs())
    }
}

/// The 1-2-5 step giving at most `max` ticks in `[lo, hi]` (and as many as that allows).
fn nice_step(lo: f64, hi: f64, max: usize) -> f64 {
    let span = hi - lo;
    let mut e = (span / max as f64).log10().floor() as i32 - 1;
    loop {
        for m in [1.0, 2.0, 5.0] {
            let step = m * 10f64.powi(e);
            let n = (hi / step).floor() - (lo / step).ceil() + 1.0;
            if n <= max as f64 {
                return step;
            }
        }
        e += 1;
    }
}

/// Multiples of a 1-2-5 step inside `[lo, hi]`, labeled with the step's digits.
fn linear_ticks(lo: f64, hi: f64, max: usize) -> (Vec<f64>, Vec<String>) {
    let step = nice_step(lo, hi, max);
    let (k0, k1) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
    // k · step from the integer k: the tick at 0 is exactly 0.
    let ticks: Vec<f64> = (k0..=k1).map(|k| k as f64 * step).collect();
    let magnitude = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let labels = ticks
        .iter()
        .map(|&t| format_at_step(t, step, magnitude))
        .collect();
    (ticks, labels)
}

/// Ticks of a log axis over `[a, b]` (log10 coordinates): every n-th decade when at least two
/// fit, else 1, 2, 5 × each decade when three of those fit, else the linear ticks of the values.
fn log_ticks(a: f64, b: f64, max: usize) -> (Vec<f64>, Vec<String>) {
    let (d0, d1) = (a.ceil() as i32, b.floor() as i32);
    let decades = (d1 - d0 + 1).max(0) as usize;
    if decades >= 2 {
        let stride = [1usize, 2, 3, 5, 10, 20, 50, 100]
            .into_iter()
            .find(|s| decades.div_ceil(*s) <= max)
            .unwrap_or(decades);
        let exps: Vec<i32> = (d0..=d1)
            .filter(|e| (e - d0) as usize % stride == 0)
            .collect();
        let ticks = exps.iter().map(|&e| f64::from(e)).collect();
        let labels = exps.iter().map(|&e| format_power(1.0, e)).collect();
        return (ticks, labels);
    }
    let mut vals: Vec<(f64, i32)> = Vec::new();
    for e in (a.floor() as i32)..=(b.ceil() as i32) {
        for m in [1.0, 2.0, 5.0] {
            let c = (m * 10f64.powi(e)).log10();
            if c >= a - 1e-12 && c <= b + 1e-12 {
                vals.push((m, e));
            }
        }
    }
    if vals.len() >= 3 && vals.len() <= max {
        let ticks = vals
            .iter()
            .map(|&(m, e)| (m * 10f64.powi(e)).log10())
            .collect();
        let labels = vals.iter().map(|&(m, e)| format_power(m, e)).collect();
        return (ticks, labels);
    }
    let (lo, hi) = (10f64.powf(a), 10f64.powf(b));
    let (vals, labels) = linear_ticks(lo, hi, max.min(6));
    let keep: Vec<usize> = (0..vals.len()).filter(|&i| vals[i] > 0.0).collect();
    (
        keep.iter().map(|&i| vals[i].log10()).collect(),
        keep.iter().map(|&i| labels[i].clone()).collect(),
    )
}

/// `m · 10^e` (m ∈ {1, 2, 5}) as a short label: plain between 0.001 and 10⁵, else `2e-5`.
fn format_power(m: f64, e: i32) -> String {
    if (-3..5).contains(&e) {
        let v = m * 10f64.powi(e);
        format!("{v:.*}", (-e).max(0) as usize)
    } else {
        format!("{}e{e}", m as u32)
    }
}

/// `v`, a multiple of `step`, with the digits `step` needs; scientific when the axis's largest
/// magnitude is below 0.001 or at least 10⁵.
fn format_at_step(v: f64, step: f64, magnitude: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let e_step = step.log10().floor() as i32;
    if !(1e-3..1e5).contains(&magnitude) {
        let e_mag = magnitude.log10().floor() as i32;
        let digits = (e_mag - e_step).max(0) as usize;
        let s = format!("{v:.digits$e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{exp}", trim_zeros(mant));
    }
    let decimals = (-e_step).max(0) as usize;
    let s = trim_zeros(&format!("{v:.decimals$}"));
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `1.500` → `1.5`, `2.000` → `2`; integers untouched.
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_labels() {
        assert_eq!(Axis::linear(-1.0, 1.0).labels[0], "-1");
        let a = Axis::linear(0.001, 0.0016);
        assert!(a.labels.contains(&"0.0012".to_string()), "{:?}", a.labels);
        let z = Axis::linear(-2.0e-16, 1.0);
        assert!(z.labels.contains(&"0".to_string()), "{:?}", z.labels);
        // A constant learning rate: an axis around it.
        let c = Axis::linear(0.01, 0.01);
        assert!(c.lo > 0.0 && c.hi < 0.02, "{c:?}");
        assert!(c.labels.contains(&"0.01".to_string()), "{:?}", c.labels);
        assert_eq!(Axis::log(1e-6, 1e3).labels[0], "1e-6");
        assert_eq!(
            Axis::log(0.3, 0.5).labels,
            ["0.3", "0.35", "0.4", "0.45", "0.5"]
        );
        assert_eq!(
            Axis::log(0.15, 0.6).labels,
            ["0.2", "0.3", "0.4", "0.5", "0.6"]
        );
        assert_eq!(Axis::log(0.15, 1.2).labels, ["0.2", "0.5", "1"]);
    }

    #[test]
    fn counts_and_mirror() {
        assert_eq!(Axis::counts(1).labels, ["0", "1", "2"]);
        assert_eq!(Axis::counts(191).labels.last().unwrap(), "200");
        let m = Axis::log(1e-4, 1.0).mirrored();
        assert_eq!(m.labels, ["-1", "-0.1", "-0.01", "-0.001", "-1e-4"]);
        assert!(m.ticks.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn log_rule() {
        assert!(wants_log(&[0.01, 0.5]));
        assert!(!wants_log(&[0.05, 0.5]));
        assert!(!wants_log(&[0.0, 1.0, 100.0]));
    }
}
