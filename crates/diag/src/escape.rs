//! Leaving a saddle along the eigenvector of the most negative eigenvalue.

use crate::error::{Error, Result};
use crate::hessian::HessianReport;
use crate::lanczos::{check_len, dot, norm, EigenPair};
use crate::objective::LossFunction;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Options of [`escape`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EscapeOptions {
    /// Step sizes α > 0 to try; each is tried as `+α` and `−α`. Default: `10^(k/2)` for
    /// `k = −8 … 2` (1e-4 to 10), since `u` is a unit vector in parameter space.
    pub alphas: Vec<f64>,
}

impl Default for EscapeOptions {
    fn default() -> Self {
        EscapeOptions {
            alphas: (-8..=2).map(|k| 10f64.powf(k as f64 / 2.0)).collect(),
        }
    }
}

/// One trial step `θ + α u`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EscapeStep {
    /// Signed step size.
    pub alpha: f64,
    /// `L(θ + α u)`.
    pub loss: f64,
    /// `L(θ + α u) − L(θ)`.
    pub actual_change: f64,
    /// Second-order Taylor prediction `α gᵀu + ½ α² λ`.
    pub predicted_change: f64,
}

/// The result of [`escape`]: the best step along `±u` and every trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EscapeReport {
    /// The eigenvalue λ of the direction (negative at a saddle).
    pub eigenvalue: f64,
    /// `gᵀu`, the slope along the direction (≈ 0 at a critical point).
    pub directional_derivative: f64,
    /// `L(θ)`.
    pub loss_before: f64,
    /// The best step's α (signed); 0 when no trial lowered the loss.
    pub alpha: f64,
    /// `L(θ) − L(θ + α u)` for the best step (positive: the loss fell).
    pub loss_drop: f64,
    /// Taylor prediction of the change for the best step, `α gᵀu + ½ α² λ`.
    pub predicted_change: f64,
    /// The actual change for the best step, `−loss_drop`.
    pub actual_change: f64,
    /// Whether some step lowered the loss.
    pub lowered: bool,
    /// Every trial, in order of α.
    pub trials: Vec<EscapeStep>,
    /// The parameters after the best step (θ itself when none lowered the loss); not
    /// serialized — save them as a checkpoint.
    #[serde(skip)]
    pub parameters: Vec<f64>,
}

/// Moves from θ along the unit eigenvector `u` of eigenvalue λ, trying `θ ± α u` for every α of
/// `opts` and keeping the lowest loss.
///
/// Near a critical point, `L(θ + αu) ≈ L(θ) + α gᵀu + ½ α² λ` (the lectures' Taylor
/// expansion; `Hu = λu`), so with `λ < 0` both signs go down at second order; which sign goes
/// further depends on the higher-order terms, hence both are tried. The report puts the Taylor
/// prediction next to the actual change: they agree for small α and part where the quadratic
/// model stops holding.
pub fn escape(
    f: &LossFunction<'_>,
    theta: &[f64],
    direction: &EigenPair,
    opts: &EscapeOptions,
) -> Result<EscapeReport> {
    check_len(theta, f.num_params())?;
    check_len(&direction.vector, f.num_params())?;
    if opts.alphas.is_empty() || opts.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
        return Err(Error::invalid(
            "escape step sizes",
            format!("need positive finite values, got {:?}", opts.alphas),
        ));
    }
    let nu = norm(&direction.vector);
    if !(nu > 0.0 && nu.is_finite()) {
        return Err(Error::invalid(
            "escape direction",
            "it is zero or not finite",
        ));
    }
    let u: Vec<f64> = direction.vector.iter().map(|x| x / nu).collect();
    let g = f.gradient(theta)?;
    let slope = dot(&g.flat, &u);
    let lambda = direction.value;
    let mut alphas: Vec<f64> = opts.alphas.iter().flat_map(|&a| [-a, a]).collect();
    alphas.sort_by(f64::total_cmp);
    let trials = alphas
        .par_iter()
        .map(|&a| {
            let p: Vec<f64> = theta.iter().zip(&u).map(|(t, u)| t + a * u).collect();
            // A step far enough to overflow is just a bad step, not a failure.
            let loss = f.loss(&p).unwrap_or(f64::INFINITY);
            Ok(EscapeStep {
                alpha: a,
                loss,
                actual_change: loss - g.loss,
                predicted_change: a * slope + 0.5 * a * a * lambda,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let best = trials
        .iter()
        .filter(|t| t.loss < g.loss)
        .min_by(|a, b| a.loss.total_cmp(&b.loss))
        .cloned();
    let (alpha, loss_drop, predicted, actual, params) = match &best {
        Some(b) => (
            b.alpha,
            g.loss - b.loss,
            b.predicted_change,
            b.actual_change,
            theta.iter().zip(&u).map(|(t, u)| t + b.alpha * u).collect(),
        ),
        None => (0.0, 0.0, 0.0, 0.0, theta.to_vec()),
    };
    Ok(EscapeReport {
        eigenvalue: lambda,
        directional_derivative: slope,
        loss_before: g.loss,
        alpha,
        loss_drop,
        predicted_change: predicted,
        actual_change: actual,
        lowered: best.is_some(),
        trials,
        parameters: params,
    })
}

/// [`escape`] along the most negative eigenpair of an analysis; an error when the analysis found
/// no eigenvalue below `−zero_tol·max|λ|` (nothing to escape along).
pub fn escape_from(
    f: &LossFunction<'_>,
    theta: &[f64],
    report: &HessianReport,
    opts: &EscapeOptions,
) -> Result<EscapeReport> {
    let pair = report.most_negative().ok_or_else(|| {
        Error::invalid(
            "escape",
            format!(
                "no eigenvalue below −{:.0e}·max|λ| (smallest found: {}): no negative-curvature \
                 direction to escape along",
                report.zero_tolerance,
                report
                    .smallest
                    .first()
                    .map_or("none".to_string(), |r| format!("{:.3e}", r.value))
            ),
        )
    })?;
    escape(f, theta, &pair, opts)
}

impl fmt::Display for EscapeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Escape along the eigenvector u of λ = {:.6e} (gᵀu = {:.3e}), loss {:.6e}",
            self.eigenvalue, self.directional_derivative, self.loss_before
        )?;
        if self.lowered {
            writeln!(
                f,
                "  best step α = {:+.3e}: loss drops by {:.6e} (actual change {:.6e}, \
                 second-order prediction α·gᵀu + ½α²λ = {:.6e})",
                self.alpha, self.loss_drop, self.actual_change, self.predicted_change
            )?;
        } else {
            writeln!(f, "  no step lowered the loss")?;
        }
        writeln!(f, "  {:>12} {:>14} {:>14}", "α", "actual", "predicted")?;
        for t in &self.trials {
            writeln!(
                f,
                "  {:>+12.3e} {:>+14.6e} {:>+14.6e}",
                t.alpha, t.actual_change, t.predicted_change
            )?;
        }
        Ok(())
    }
}
