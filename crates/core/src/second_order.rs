//! Exact second-order quantities by reverse-over-reverse differentiation: the gradient is
//! built on the graph once, and every Hessian-vector product is one more backward pass
//! through it, seeded with the direction.

use crate::backward::{grad, grad_with_seeds};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::grad_mode::with_grad;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// A loss at fixed parameters with its gradient kept on the graph, ready for any number of
/// exact Hessian-vector products.
pub struct SecondOrder<T: Element> {
    params: Vec<Tensor<T>>,
    loss: Tensor<T>,
    grads: Vec<Tensor<T>>,
    sizes: Vec<usize>,
}

impl<T: Element> SecondOrder<T> {
    /// Evaluates `f` at `params` (copies of them become the differentiation variables) and
    /// builds the gradient graph.
    pub fn new(
        f: impl FnOnce(&[Tensor<T>]) -> Result<Tensor<T>>,
        params: &[Tensor<T>],
    ) -> Result<Self> {
        let params: Vec<Tensor<T>> = params.iter().map(|p| p.detach().into_param()).collect();
        let loss = with_grad(|| f(&params))?;
        let grads = grad(&loss, &params, true)?;
        let sizes = params.iter().map(|p| p.numel()).collect();
        Ok(SecondOrder {
            params,
            loss,
            grads,
            sizes,
        })
    }

    /// The loss value.
    pub fn loss(&self) -> Result<T> {
        self.loss.item()
    }

    /// The gradient, one tensor per parameter.
    pub fn gradient(&self) -> &[Tensor<T>] {
        &self.grads
    }

    /// The gradient flattened in parameter order.
    pub fn gradient_flat(&self) -> Vec<T> {
        self.grads
            .iter()
            .flat_map(|g| g.data().iter().copied())
            .collect()
    }

    /// Total number of parameters `n` (the Hessian is `n × n`).
    pub fn num_params(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// `H v` for a direction given per parameter (same shapes as the parameters).
    pub fn hvp(&self, v: &[Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        if v.len() != self.params.len() {
            return Err(Error::invalid(
                "hvp",
                format!(
                    "{} direction tensors for {} parameters",
                    v.len(),
                    self.params.len()
                ),
            ));
        }
        grad_with_seeds(&self.grads, v, &self.params, false)
    }

    /// `H v` on flat vectors in parameter order.
    pub fn hvp_flat(&self, v: &[T]) -> Result<Vec<T>> {
        let n = self.num_params();
        if v.len() != n {
            return Err(Error::invalid(
                "hvp",
                format!("direction has {} elements, parameters have {n}", v.len()),
            ));
        }
        let mut parts = Vec::with_capacity(self.params.len());
        let mut off = 0;
        for p in &self.params {
            parts.push(Tensor::from_slice(&v[off..off + p.numel()], p.dims())?);
            off += p.numel();
        }
        let hv = self.hvp(&parts)?;
        let mut out = Vec::with_capacity(n);
        for t in &hv {
            out.extend_from_slice(t.data());
        }
        Ok(out)
    }

    /// The dense Hessian, row-major `n × n`, one Hessian-vector product per column (in
    /// parallel). Costs `8·n²` bytes in f64: meant for small models.
    pub fn hessian(&self) -> Result<Vec<T>> {
        let n = self.num_params();
        let cols: Vec<Vec<T>> = (0..n)
            .into_par_iter()
            .map(|j| {
                let mut e = vec![T::zero(); n];
                e[j] = T::one();
                self.hvp_flat(&e)
            })
            .collect::<Result<_>>()?;
        // Column j of H is H e_j; H is symmetric, but we store it as computed, row-major.
        let mut h = vec![T::zero(); n * n];
        for (j, col) in cols.iter().enumerate() {
            for (i, &x) in col.iter().enumerate() {
                h[i * n + j] = x;
            }
        }
        Ok(h)
    }
}

// SAFETY-free Sync: the graph is read-only once built; tensors are `Arc`s of immutable data.
#[allow(dead_code)]
fn _assert_sync<T: Element>() {
    fn is_sync<S: Sync>() {}
    is_sync::<SecondOrder<T>>();
}

/// Exact Hessian-vector product `∇²f(θ) v`.
///
/// ```
/// use trainscope_core::{hvp, Tensor};
/// // f(x, y) = x²y: H = [[2y, 2x], [2x, 0]]; at (1, 2), H·(1, 0) = (4, 2).
/// let theta = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
/// let v = Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap();
/// let hv = hvp(
///     |p| {
///         let x = p[0].gather(0, &[0])?;
///         let y = p[0].gather(0, &[1])?;
///         Ok(x.powf(2.0).mul(&y)?.sum())
///     },
///     &[theta],
///     &[v],
/// )
/// .unwrap();
/// assert_eq!(hv[0].to_vec(), vec![4.0, 2.0]);
/// ```
pub fn hvp<T: Element>(
    f: impl FnOnce(&[Tensor<T>]) -> Result<Tensor<T>>,
    params: &[Tensor<T>],
    v: &[Tensor<T>],
) -> Result<Vec<Tensor<T>>> {
    SecondOrder::new(f, params)?.hvp(v)
}

/// The dense Hessian of `f` at `params`, row-major `n × n` over the flattened parameters.
pub fn hessian<T: Element>(
    f: impl FnOnce(&[Tensor<T>]) -> Result<Tensor<T>>,
    params: &[Tensor<T>],
) -> Result<Vec<T>> {
    SecondOrder::new(f, params)?.hessian()
}
