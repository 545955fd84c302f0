//! Differentiable functions built from primitives, with no backward rule of their own: their
//! derivatives of every order follow from the primitives' rules.

mod activations;
mod conv;
mod losses;
mod reductions;

pub use conv::{window_output, Pair};
pub use losses::{binary_cross_entropy_with_logits, cross_entropy, mae, mse, softmax_mse};
