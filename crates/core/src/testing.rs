//! Helpers for checking derivatives numerically (used by this crate's tests and by others').

use crate::backward::grad;
use crate::error::Result;
use crate::second_order::SecondOrder;
use crate::tensor::Tensor;

/// Central finite-difference gradient of a scalar function of flat f64 parameters.
pub fn numeric_gradient(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let orig = xp[i];
            xp[i] = orig + h;
            let fp = f(&xp);
            xp[i] = orig - h;
            let fm = f(&xp);
            xp[i] = orig;
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

/// Builds tensors of the given shapes from a flat vector.
pub fn unflatten(x: &[f64], shapes: &[Vec<usize>]) -> Result<Vec<Tensor<f64>>> {
    let mut off = 0;
    shapes
        .iter()
        .map(|s| {
            let n: usize = s.iter().product();
            let t = Tensor::from_slice(&x[off..off + n], s);
            off += n;
            t
        })
        .collect()
}

/// Relative error of two vectors, `‖a − b‖ / max(‖a‖, ‖b‖, 1e-3)`: relative for ordinary
/// magnitudes, absolute near zero (where finite differences only see rounding noise).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "compared vectors differ in length");
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&diff) / norm(a).max(norm(b)).max(1e-3)
}

/// A scalar function of tensors, for the checks below.
pub type LossFn<'a> = dyn Fn(&[Tensor<f64>]) -> Result<Tensor<f64>> + 'a;

/// The engine's gradient and a central-difference gradient at `x` (flat), for comparison.
pub fn gradients(f: &LossFn, x: &[f64], shapes: &[Vec<usize>]) -> Result<(Vec<f64>, Vec<f64>)> {
    let params: Vec<Tensor<f64>> = unflatten(x, shapes)?
        .into_iter()
        .map(|t| t.into_param())
        .collect();
    let loss = f(&params)?;
    let g = grad(&loss, &params, false)?;
    let exact: Vec<f64> = g.iter().flat_map(|t| t.to_vec()).collect();
    let num = numeric_gradient(
        |xx| {
            let p = unflatten(xx, shapes).expect("same shapes");
            f(&p).and_then(|l| l.item()).expect("loss evaluates")
        },
        x,
        1e-6,
    );
    Ok((exact, num))
}

/// The engine's `H v` and a central difference of the engine's gradient along `v`.
pub fn hessian_vector_products(
    f: &LossFn,
    x: &[f64],
    shapes: &[Vec<usize>],
    v: &[f64],
) -> Result<(Vec<f64>, Vec<f64>)> {
    let params = unflatten(x, shapes)?;
    let so = SecondOrder::new(|p| f(p), &params)?;
    let exact = so.hvp_flat(v)?;
    let grad_at = |xx: &[f64]| -> Result<Vec<f64>> {
        let p: Vec<Tensor<f64>> = unflatten(xx, shapes)?
            .into_iter()
            .map(|t| t.into_param())
            .collect();
        let loss = f(&p)?;
        Ok(grad(&loss, &p, false)?
            .iter()
            .flat_map(|t| t.to_vec())
            .collect())
    };
    let h = 1e-5;
    let xp: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + h * b).collect();
    let xm: Vec<f64> = x.iter().zip(v).map(|(a, b)| a - h * b).collect();
    let (gp, gm) = (grad_at(&xp)?, grad_at(&xm)?);
    let num = gp
        .iter()
        .zip(&gm)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect();
    Ok((exact, num))
}
