//! # trainscope-core
//!
//! Dense tensors (f32 or f64, rank 0 to 4) and reverse-mode automatic differentiation whose
//! backward rules are written in the same differentiable operations — so a gradient can be
//! differentiated again. That gives exact Hessian-vector products and, for small models, the
//! whole Hessian.
//!
//! ```
//! use trainscope_core::{grad, hessian, Tensor};
//!
//! // f(w) = Σ (w·x − y)² over two points; its Hessian is 2 Σ x xᵀ.
//! let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
//! let y = Tensor::from_vec(vec![1.0, 0.0], &[2, 1]).unwrap();
//! let w = Tensor::from_vec(vec![0.5, -0.5], &[2, 1]).unwrap();
//! let f = |p: &[Tensor<f64>]| Ok(x.matmul(&p[0])?.sub(&y)?.powf(2.0).sum());
//!
//! let wp = w.clone().into_param();
//! let g = grad(&f(std::slice::from_ref(&wp)).unwrap(), &[wp], false).unwrap();
//! // residuals r = Xw − y = (−1.5, −0.5); gradient 2 Xᵀ r
//! assert_eq!(g[0].to_vec(), vec![-6.0, -10.0]);
//!
//! let h = hessian(f, &[w]).unwrap();
//! assert_eq!(h, vec![20.0, 28.0, 28.0, 40.0]);
//! ```
//!
//! Primitive ops (the only ones with backward rules): add, sub, mul, div (broadcasting),
//! affine (scalar scale and shift, hence neg), exp, log, sqrt, powf, abs, select by mask,
//! matmul (with transposed operands read in place), transpose, reshape, expand, sum_to,
//! gather and its adjoint scatter. Everything else — sum, mean, max, relu, sigmoid, tanh,
//! softplus, hard sigmoid, softmax, log-softmax, the losses — is a composite.
//!
//! Derivatives of relu, abs, max and hard sigmoid are subgradients at their kinks (0 there,
//! as PyTorch); their second derivatives are 0 almost everywhere.

mod backward;
mod composites;
mod conv_kernels;
mod element;
mod error;
mod grad_mode;
mod kernels;
mod primitives;
mod second_order;
mod shape;
mod storage;
mod tensor;
pub mod testing;

pub use backward::{grad, grad_with_seeds};
pub use composites::{
    binary_cross_entropy_with_logits, cross_entropy, mae, mse, softmax_mse, window_output, Pair,
};
pub use element::{num_threads, set_num_threads, DType, Element};
pub use error::{Error, Result};
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use primitives::NO_COLUMN;
pub use second_order::{hessian, hvp, SecondOrder};
pub use shape::{Shape, MAX_RANK};
pub use storage::Pool;
pub use tensor::{seeded_rng, Rng, Tensor};
