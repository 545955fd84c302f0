//! The layers a model is made of, as plain serializable data, and the registry that connects
//! each kind to its code in `layers/`.
//!
//! A leaf layer is one file in `layers/` with a struct (its PyTorch constructor arguments) that
//! implements [`LayerShape`] (shapes, tensors, description) and [`LayerForward`] (the forward
//! pass in differentiable ops), plus one line in [`leaf_layers!`] below.

use crate::layers::*;
use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

/// Whether a forward pass trains or evaluates: batch norm uses batch statistics in
/// [`Mode::Train`] and running statistics in [`Mode::Eval`]; dropout is active only in
/// [`Mode::Train`]. PyTorch: `module.train()` / `module.eval()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Training: batch statistics, active dropout.
    Train,
    /// Evaluation: running statistics, no dropout.
    Eval,
}

/// How a parameter or buffer starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Init {
    /// `U(−bound, bound)`, drawn in the order the tensors are listed.
    Uniform(f64),
    /// Every element this value.
    Fill(f64),
}

/// One tensor a layer holds: its `state_dict` name within the layer, shape and start.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TensorDecl {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorDecl {
    pub fn new(name: &'static str, shape: Vec<usize>, init: Init) -> Self {
        TensorDecl { name, shape, init }
    }
}

/// What a leaf layer is, apart from its computation.
pub(crate) trait LayerShape {
    /// A short name for messages and tables, e.g. `Linear(4 → 8)`.
    fn describe(&self) -> String;
    /// The shape of one example's output for one example's input (the batch axis left out),
    /// or what is wrong (with the input or the layer's own settings).
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String>;
    /// The trainable tensors in `state_dict` order.
    fn parameters(&self) -> Vec<TensorDecl> {
        Vec::new()
    }
    /// The float buffers (running statistics) in `state_dict` order.
    fn buffers(&self) -> Vec<TensorDecl> {
        Vec::new()
    }
    /// The weight of the newest batch in running statistics, for layers that keep them (and a
    /// `num_batches_tracked` counter).
    fn momentum(&self) -> Option<f64> {
        None
    }
}

/// What a forward pass hands a leaf besides its input.
pub(crate) struct LeafIo<'a, T: Element> {
    /// The layer's parameters, in [`LayerShape::parameters`] order.
    pub params: &'a [Tensor<T>],
    /// The layer's buffers.
    pub buffers: &'a [Tensor<T>],
    pub mode: Mode,
    /// The layer's position among the model's leaves (depth first), for batch statistics.
    pub leaf: usize,
    /// The layer's `state_dict` name, for messages.
    pub name: &'a str,
}

/// A leaf layer's forward pass, written in differentiable ops.
pub(crate) trait LayerForward<T: Element> {
    /// The output for a batch `x` (`[N, …input shape]`).
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        ctx: &mut crate::ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>>;
}

macro_rules! leaf_layers {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// One layer of a model. Serialized with a `"type"` tag and PyTorch's constructor
        /// argument names, e.g. `{"type": "linear", "in_features": 4, "out_features": 8}`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Layer {
            $($(#[$doc])* $variant($ty),)*
            /// `y = x + body(x)`: a module whose body is an `nn.Sequential` stored as `body`,
            /// so its parameters are named `<i>.body.<j>.weight`.
            Residual(Residual),
        }

        impl Layer {
            pub(crate) fn leaf(&self) -> Option<&dyn LayerShape> {
                match self {
                    $(Layer::$variant(l) => Some(l),)*
                    Layer::Residual(_) => None,
                }
            }

            pub(crate) fn leaf_forward<T: Element>(&self) -> Option<&dyn LayerForward<T>> {
                match self {
                    $(Layer::$variant(l) => Some(l),)*
                    Layer::Residual(_) => None,
                }
            }
        }
    };
}

leaf_layers! {
    /// `torch.nn.Linear`.
    Linear(Linear),
    /// `torch.nn.Sigmoid`.
    Sigmoid(Sigmoid),
    /// `torch.nn.ReLU`.
    Relu(Relu),
    /// `torch.nn.Tanh`.
    Tanh(Tanh),
    /// `torch.nn.Hardsigmoid`, the lectures' difference of two ReLUs.
    HardSigmoid(HardSigmoid),
    /// `torch.nn.BatchNorm1d`.
    BatchNorm1d(BatchNorm1d),
    /// `torch.nn.Dropout`.
    Dropout(Dropout),
    /// `torch.nn.Conv2d`.
    Conv2d(Conv2d),
    /// `torch.nn.MaxPool2d`.
    MaxPool2d(MaxPool2d),
    /// `torch.nn.AvgPool2d`.
    AvgPool2d(AvgPool2d),
    /// `torch.nn.BatchNorm2d`.
    BatchNorm2d(BatchNorm2d),
    /// `torch.nn.LayerNorm`.
    LayerNorm(LayerNorm),
    /// `torch.nn.Flatten`.
    Flatten(Flatten),
}

impl Layer {
    /// `Linear { in_features, out_features }`.
    pub fn linear(in_features: usize, out_features: usize) -> Self {
        Layer::Linear(Linear {
            in_features,
            out_features,
        })
    }

    /// `BatchNorm1d` with PyTorch's defaults, eps = 1e-5 and momentum = 0.1.
    pub fn batch_norm1d(num_features: usize) -> Self {
        Layer::BatchNorm1d(BatchNorm1d::new(num_features))
    }

    /// `BatchNorm2d` with PyTorch's defaults.
    pub fn batch_norm2d(num_features: usize) -> Self {
        Layer::BatchNorm2d(BatchNorm2d::new(num_features))
    }

    /// `Dropout { p }`.
    pub fn dropout(p: f64) -> Self {
        Layer::Dropout(Dropout { p })
    }

    /// `Conv2d` with square kernel, stride and padding.
    pub fn conv2d(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Layer::Conv2d(Conv2d::new(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
        ))
    }

    /// `MaxPool2d(kernel_size)` (stride = kernel size).
    pub fn max_pool2d(kernel_size: usize) -> Self {
        Layer::MaxPool2d(MaxPool2d::new(kernel_size))
    }

    /// `AvgPool2d(kernel_size)` (stride = kernel size).
    pub fn avg_pool2d(kernel_size: usize) -> Self {
        Layer::AvgPool2d(AvgPool2d::new(kernel_size))
    }

    /// `LayerNorm(normalized_shape)` with PyTorch's eps.
    pub fn layer_norm(normalized_shape: Vec<usize>) -> Self {
        Layer::LayerNorm(LayerNorm::new(normalized_shape))
    }

    /// `Flatten()`.
    pub fn flatten() -> Self {
        Layer::Flatten(Flatten {})
    }

    /// `Residual { body }`: `y = x + body(x)`.
    pub fn residual(body: Vec<Layer>) -> Self {
        Layer::Residual(Residual { body })
    }

    /// Trainable scalars of the layer (its body's, for a residual block), or `None` on
    /// overflow.
    pub fn parameter_count(&self) -> Option<usize> {
        match self {
            Layer::Residual(r) => r
                .body
                .iter()
                .try_fold(0usize, |n, l| n.checked_add(l.parameter_count()?)),
            _ => self.leaf()?.parameters().iter().try_fold(0usize, |n, p| {
                n.checked_add(p.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?)
            }),
        }
    }

    /// A short name for messages, e.g. `Linear(4 → 8)`.
    pub fn describe(&self) -> String {
        match self {
            Layer::Residual(r) => format!("Residual({} layers)", r.body.len()),
            _ => self.leaf().map(|l| l.describe()).unwrap_or_default(),
        }
    }

    /// The `"type"` it is written with: `"linear"`, `"conv2d"`, `"residual"`, …
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Whether this layer keeps running statistics (a batch norm).
    pub fn is_batch_norm(&self) -> bool {
        self.leaf().is_some_and(|l| l.momentum().is_some())
    }
}

/// The activation of the hidden layers of [`crate::ModelSpec::mlp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// [`Layer::Sigmoid`].
    Sigmoid,
    /// [`Layer::Relu`].
    Relu,
    /// [`Layer::Tanh`].
    Tanh,
    /// [`Layer::HardSigmoid`].
    HardSigmoid,
}

impl Activation {
    /// The layer that applies this activation.
    pub fn layer(self) -> Layer {
        match self {
            Activation::Sigmoid => Layer::Sigmoid(Sigmoid {}),
            Activation::Relu => Layer::Relu(Relu {}),
            Activation::Tanh => Layer::Tanh(Tanh {}),
            Activation::HardSigmoid => Layer::HardSigmoid(HardSigmoid {}),
        }
    }
}
