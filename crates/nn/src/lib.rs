//! # trainscope-nn
//!
//! Models as data and functions: a serializable [`ModelSpec`] (the input width and a list of
//! [`Layer`]s), the [`Sequential`] model built from it with PyTorch's default initialization,
//! a *functional* forward pass [`Sequential::forward_with`] that takes the parameters as an
//! argument (so a loss is a plain function of tensors, ready for gradients and exact Hessians),
//! the losses of the lectures ([`Loss`]), and safetensors checkpoints that PyTorch can read.
//!
//! Parameter names and order are PyTorch's `nn.Sequential` `state_dict`: a layer's index is its
//! position, activations and dropout included (`Linear, Tanh, Linear` → `0.weight`, `0.bias`,
//! `2.weight`, `2.bias`).
//!
//! ```
//! use trainscope_core::{grad, Tensor};
//! use trainscope_nn::{ForwardCtx, Loss, Mode, ModelSpec, Sequential, Target};
//!
//! // The lectures' y = b + cᵀσ(b + W x) with 3 sigmoids on 2 features.
//! let spec = ModelSpec::sigmoids(2, 3, 1);
//! let model = Sequential::<f64>::from_seed(spec, 0).unwrap();
//! assert_eq!(model.parameter_names(), ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! assert_eq!(model.num_parameters(), 3 * 2 + 3 + 3 + 1);
//!
//! let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.0], &[2, 2]).unwrap();
//! let y = Tensor::from_vec(vec![1.0, 0.0], &[2, 1]).unwrap();
//!
//! // The loss as a function of any parameter tensors: here the model's own leaves.
//! let mut ctx = ForwardCtx::without_rng();
//! let out = model.forward_with(model.parameters(), &x, Mode::Train, &mut ctx).unwrap();
//! let loss = Loss::Mse.compute(&out, Target::Values(&y)).unwrap();
//! let g = grad(&loss, model.parameters(), false).unwrap();
//! assert_eq!(g[0].dims(), &[3, 2]);
//!
//! // Inference: eval mode, nothing recorded.
//! let pred = model.predict(&x).unwrap();
//! assert_eq!(pred.to_vec(), out.to_vec());
//! ```

#![warn(missing_docs)]

mod checkpoint;
mod error;
mod inputs;
mod layer;
pub mod layers;
mod loss;
mod model;
mod spec;
mod summary;
mod tree;

pub use checkpoint::{remove_stale_temps, write_atomic, Checkpoint, FileHeader, MODEL_KEY};
pub use error::{Error, Result};
pub use inputs::Inputs;
pub use layer::{Activation, Layer, Mode};
pub use loss::{Loss, Target};
pub use model::{BatchStats, ForwardCtx, Sequential};
pub use spec::{ModelSpec, MAX_PARAMETERS};
pub use summary::{summary_text, LayerRow};
