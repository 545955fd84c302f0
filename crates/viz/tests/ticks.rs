//! Tick labels over many ranges (tiny, huge, constant, negative, straddling zero, log): never
//! a repeated label, never rounding noise — every label is a round value on its axis and reads
//! back as the tick it names.

use trainscope_viz::ticks::{Axis, MAX_TICKS};

/// SplitMix64: a fixed sequence, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// `10^u` for u uniform in `[a, b]`.
    fn decades(&mut self, a: f64, b: f64) -> f64 {
        10f64.powf(a + (b - a) * self.unit())
    }
}

/// Whether `x` is `m · 10^k` with m ∈ {1, 2, 5}, to 1e-4 (a step is a difference of labels).
fn is_125(x: f64) -> bool {
    let x = x.abs();
    let e = x.log10().floor();
    let m = x / 10f64.powf(e);
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|c| (m - c).abs() <= 1e-4 * c)
}

/// Significant digits written in a label (`-0.0012` → 2, `2.5e-7` → 2, `1000` → 1).
fn significant_digits(label: &str) -> usize {
    let mant = label.split('e').next().unwrap().trim_start_matches('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let t = digits.trim_start_matches('0').trim_end_matches('0');
    t.len().max(1)
}

fn check(axis: &Axis, case: &str) {
    let n = axis.ticks.len();
    assert!(
        (2..=MAX_TICKS).contains(&n),
        "{case}: {n} ticks {:?}",
        axis.labels
    );
    assert_eq!(n, axis.labels.len(), "{case}");
    let mut seen = std::collections::HashSet::new();
    for l in &axis.labels {
        assert!(
            seen.insert(l.clone()),
            "{case}: label {l} repeats in {:?}",
            axis.labels
        );
    }
    let span = axis.hi - axis.lo;
    assert!(span > 0.0 && span.is_finite(), "{case}: {axis:?}");
    for t in &axis.ticks {
        assert!(
            *t >= axis.lo - 1e-9 * span && *t <= axis.hi + 1e-9 * span,
            "{case}: tick {t} outside {axis:?}"
        );
    }
    let values: Vec<f64> = axis
        .labels
        .iter()
        .map(|l| {
            l.parse::<f64>()
                .unwrap_or_else(|_| panic!("{case}: label {l:?} is not a number"))
        })
        .collect();
    let named: Vec<f64> = axis
        .ticks
        .iter()
        .map(|&t| if axis.log { 10f64.powf(t) } else { t })
        .collect();
    for ((v, want), l) in values.iter().zip(&named).zip(&axis.labels) {
        let tol = 1e-6 * want.abs().max(f64::MIN_POSITIVE);
        if *want == 0.0 || want.abs() < 1e-9 * span.abs() && !axis.log {
            assert_eq!(l, "0", "{case}: the tick at zero reads {l}");
        } else {
            assert!(
                (v - want).abs() <= tol.max(1e-9 * (values[1] - values[0]).abs()),
                "{case}: label {l} for tick {want}"
            );
        }
    }
    // Round values: either all of the form 1, 2, 5 × 10^k (log axes), or equally spaced by a
    // 1-2-5 step, each a whole multiple of it.
    let all_125 = axis.log && values.iter().all(|&v| is_125(v));
    if !all_125 {
        // Over the whole axis: a difference of two neighbours loses digits at large offsets.
        let step = (values[values.len() - 1] - values[0]) / (values.len() - 1) as f64;
        assert!(step > 0.0, "{case}: {:?}", axis.labels);
        assert!(is_125(step), "{case}: step {step} in {:?}", axis.labels);
        for w in values.windows(2) {
            assert!(
                ((w[1] - w[0]) - step).abs() <= 1e-6 * step + 1e-14 * w[1].abs(),
                "{case}: uneven labels {:?}",
                axis.labels
            );
        }
        for (v, l) in values.iter().zip(&axis.labels) {
            let k = v / step;
            assert!(
                (k - k.round()).abs() <= 1e-6 * k.abs().max(1.0),
                "{case}: {l} is not a multiple of {step}"
            );
            // No more digits than the step and the magnitude need.
            let need = ((v.abs().max(step)).log10().floor() - step.log10().floor()) as usize + 1;
            assert!(
                significant_digits(l) <= need,
                "{case}: {l} has more digits than step {step} needs"
            );
        }
    }
}

#[test]
fn linear_axes_over_many_ranges() {
    let mut rng = Rng(7);
    for i in 0..20_000 {
        let center = match i % 4 {
            0 => 0.0,
            1 => rng.decades(-12.0, 12.0),
            2 => -rng.decades(-12.0, 12.0),
            _ => rng.decades(-3.0, 3.0) * if rng.unit() < 0.5 { -1.0 } else { 1.0 },
        };
        let scale = center.abs().max(1e-300);
        let width = match i % 5 {
            // Constant series.
            0 => 0.0,
            // Rounding-level spread.
            1 => scale * rng.decades(-16.0, -10.0),
            2 => scale * rng.decades(-8.0, 3.0),
            _ => rng.decades(-12.0, 12.0),
        };
        let lo = center - width * rng.unit();
        let hi = lo + width;
        let case = format!("linear case {i}: [{lo:e}, {hi:e}]");
        check(&Axis::linear(lo, hi), &case);
    }
    // The values users met.
    for (lo, hi) in [
        (0.0010001, 0.0010009),
        (-1.1e-16, 0.7),
        (0.01, 0.01),
        (0.0, 0.0),
        (-3.0, -3.0),
        (1e-3, 1e-3 + 1e-18),
        (0.3, 1.0),
    ] {
        check(&Axis::linear(lo, hi), &format!("[{lo}, {hi}]"));
    }
}

#[test]
fn log_axes_over_many_ranges() {
    let mut rng = Rng(11);
    for i in 0..20_000 {
        let lo = rng.decades(-15.0, 10.0);
        let ratio = match i % 4 {
            0 => 1.0,
            1 => rng.decades(0.0, 0.3),
            2 => rng.decades(0.0, 2.0),
            _ => rng.decades(0.0, 40.0),
        };
        let hi = lo * ratio;
        let case = format!("log case {i}: [{lo:e}, {hi:e}]");
        check(&Axis::log(lo, hi), &case);
    }
    for (lo, hi) in [(3.162, 3.162), (1.0, 1.585), (1e-4, 70.0), (0.001, 0.0012)] {
        check(&Axis::log(lo, hi), &format!("log [{lo}, {hi}]"));
    }
}
