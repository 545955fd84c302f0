//! Losses as composites: `L = (1/N) Σ_n e_n`.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Mean squared error `mean((y − ŷ)²)`; shapes must match exactly (no silent broadcasting of
/// `[N]` against `[N, 1]`).
pub fn mse<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
    pred.check_same_shape("mse", target)?;
    Ok(pred.sub(target)?.powf(T::from_f64(2.0)).mean())
}

/// Mean absolute error `mean(|y − ŷ|)`.
pub fn mae<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<Tensor<T>> {
    pred.check_same_shape("mae", target)?;
    Ok(pred.sub(target)?.abs().mean())
}

fn check_labels<T: Element>(op: &'static str, logits: &Tensor<T>, labels: &[u32]) -> Result<usize> {
    if logits.rank() != 2 {
        return Err(Error::invalid(
            op,
            format!(
                "logits must be [batch, classes], shape is {}",
                logits.shape()
            ),
        ));
    }
    let (n, c) = (logits.dims()[0], logits.dims()[1]);
    if labels.len() != n {
        return Err(Error::invalid(
            op,
            format!("{} labels for logits {}", labels.len(), logits.shape()),
        ));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l as usize >= c) {
        return Err(Error::invalid(
            op,
            format!("label {bad} out of range for {c} classes"),
        ));
    }
    Ok(c)
}

/// Cross-entropy `−mean_n ln softmax(x_n)[label_n]` on integer labels, with a fused stable
/// log-softmax (as `torch.nn.functional.cross_entropy`).
pub fn cross_entropy<T: Element>(logits: &Tensor<T>, labels: &[u32]) -> Result<Tensor<T>> {
    check_labels("cross_entropy", logits, labels)?;
    let lp = logits.log_softmax(1)?;
    Ok(lp.gather(1, labels)?.mean().neg())
}

/// The lectures' alternative: MSE between the softmax output and the one-hot label,
/// `mean_n Σ_i (ŷ_i − y'_i)²`. Its error surface is flatter far from the answer, which is why
/// cross-entropy is preferred.
pub fn softmax_mse<T: Element>(logits: &Tensor<T>, labels: &[u32]) -> Result<Tensor<T>> {
    let c = check_labels("softmax_mse", logits, labels)?;
    let n = labels.len();
    let mut onehot = vec![T::zero(); n * c];
    for (i, &l) in labels.iter().enumerate() {
        onehot[i * c + l as usize] = T::one();
    }
    let y = Tensor::from_vec(onehot, &[n, c])?;
    let p = logits.softmax(1)?;
    let per = p.sub(&y)?.powf(T::from_f64(2.0)).sum_axis(1, false)?;
    Ok(per.mean())
}

/// Binary cross-entropy on logits, `mean(softplus(x) − x·y)` — stable for any x (as
/// `torch.nn.functional.binary_cross_entropy_with_logits`). Targets in [0, 1].
pub fn binary_cross_entropy_with_logits<T: Element>(
    logits: &Tensor<T>,
    target: &Tensor<T>,
) -> Result<Tensor<T>> {
    logits.check_same_shape("binary_cross_entropy_with_logits", target)?;
    Ok(logits.softplus().sub(&logits.mul(target)?)?.mean())
}
