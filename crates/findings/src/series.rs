//! Robust statistics of a loss curve: levels, noise and trends measured against the curve's
//! own epoch-to-epoch fluctuation, so that mini-batch noise neither hides nor fakes a change.
//!
//! Losses are compared in log space (`ln L`): a loss falling from 1 to 0.5 and from 1e-3 to
//! 5e-4 are the same progress, and "changed by 5 %" is a difference of about 0.05.

/// `ln` of every value, with values ≤ 1e-300 (an exact zero) clamped there.
pub fn logs(values: &[f64]) -> Vec<f64> {
    values.iter().map(|&v| v.max(1e-300).ln()).collect()
}

/// The median (`None` for an empty slice).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    Some(if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    })
}

/// The standard deviation of the noise around a smooth curve, robustly: second differences
/// `y[t] − 2y[t−1] + y[t−2]` cancel any locally linear trend and leave noise of variance `6σ²`;
/// their median absolute value × 1.4826 / √6 estimates σ without being moved by a few jumps.
/// `None` with fewer than 3 points.
pub fn noise(y: &[f64]) -> Option<f64> {
    if y.len() < 3 {
        return None;
    }
    let d2: Vec<f64> = y
        .windows(3)
        .map(|w| (w[2] - 2.0 * w[1] + w[0]).abs())
        .collect();
    median(&d2).map(|m| 1.4826 * m / 6f64.sqrt())
}

/// A straight-line trend over a stretch of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    /// The change over the stretch, first point to last, by the robust (Theil–Sen) slope.
    pub change: f64,
    /// Its standard error from the noise: for a least-squares line through `m` points with
    /// noise σ, `σ·(m − 1)·√(12 / (m(m² − 1)))` ≈ `σ·√(12/m)`.
    pub se: f64,
}

impl Trend {
    /// Theil–Sen trend of `y` (median of the pairwise slopes), with the noise `sigma`.
    pub fn of(y: &[f64], sigma: f64) -> Option<Trend> {
        let m = y.len();
        if m < 3 {
            return None;
        }
        let mut slopes = Vec::with_capacity(m * (m - 1) / 2);
        for i in 0..m {
            for j in i + 1..m {
                slopes.push((y[j] - y[i]) / (j - i) as f64);
            }
        }
        let slope = median(&slopes)?;
        let mf = m as f64;
        let se = sigma * (mf - 1.0) * (12.0 / (mf * (mf * mf - 1.0))).sqrt();
        Some(Trend {
            change: slope * (mf - 1.0),
            se,
        })
    }

    /// Falling by more than three standard errors and by at least `min` (log units).
    pub fn falling(&self, min: f64) -> bool {
        self.change < -3.0 * self.se && self.change < -min
    }

    /// Rising by more than three standard errors and by at least `min` (log units).
    pub fn rising(&self, min: f64) -> bool {
        self.change > 3.0 * self.se && self.change > min
    }
}

/// Median of the last `k` values (all of them when there are fewer).
pub fn tail_level(values: &[f64], k: usize) -> Option<f64> {
    let k = k.min(values.len());
    median(&values[values.len() - k..])
}

/// Median of the first `k` values.
pub fn head_level(values: &[f64], k: usize) -> Option<f64> {
    median(&values[..k.min(values.len())])
}

/// The index range of a run's last third, at least `min` epochs (or all of them).
pub fn tail_range(n: usize, min: usize) -> std::ops::Range<usize> {
    let len = (n / 3).max(min).min(n);
    n - len..n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wobble(i: usize) -> f64 {
        // A deterministic ±1 sequence with no trend.
        if (i * 7 + 3) % 5 < 2 {
            1.0
        } else {
            -1.0
        }
    }

    #[test]
    fn noise_ignores_a_linear_trend_and_sees_the_wobble() {
        let straight: Vec<f64> = (0..50).map(|i| 3.0 - 0.1 * i as f64).collect();
        assert!(noise(&straight).unwrap() < 1e-12);
        let noisy: Vec<f64> = (0..50)
            .map(|i| 3.0 - 0.1 * i as f64 + 0.05 * wobble(i))
            .collect();
        let s = noise(&noisy).unwrap();
        assert!(s > 0.02 && s < 0.2, "{s}");
    }

    #[test]
    fn a_fall_is_significant_only_against_small_noise() {
        let y: Vec<f64> = (0..10).map(|i| -0.02 * i as f64).collect();
        let t = Trend::of(&y, 0.001).unwrap();
        assert!((t.change + 0.18).abs() < 1e-12);
        assert!(t.falling(0.01));
        let t = Trend::of(&y, 0.2).unwrap();
        assert!(!t.falling(0.01), "{t:?}");
        assert!(!t.rising(0.0));
    }

    #[test]
    fn theil_sen_ignores_one_outlier() {
        let mut y: Vec<f64> = (0..12).map(|i| 1.0 - 0.01 * i as f64).collect();
        y[6] = 5.0;
        let t = Trend::of(&y, 0.0).unwrap();
        assert!((t.change + 0.11).abs() < 1e-9, "{t:?}");
    }
}
