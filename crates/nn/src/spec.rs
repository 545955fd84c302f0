//! Serializable model descriptions and the presets of the lectures.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::layer::{Activation, Layer};
use serde::{Deserialize, Serialize};

/// A model as data: one example's input shape and the layers applied in order (residual
/// blocks nest layers of their own). This is what a checkpoint stores (as JSON) to rebuild the
/// model; [`crate::Sequential::new`] turns it into parameters.
///
/// ```
/// use trainscope_nn::{Activation, ModelSpec};
/// let spec = ModelSpec::mlp(4, &[8], Activation::Relu, false, 0.0, 3);
/// assert_eq!(spec.outputs().unwrap(), 3);
/// let json = serde_json::to_string(&spec).unwrap();
/// assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// One example's shape: inputs are `[batch, width]` or `[batch, C·H·W]` (or
    /// `[batch, C, H, W]`).
    pub inputs: Inputs,
    /// The layers, in order; a layer's index is its position here (as in `torch.nn.Sequential`).
    pub layers: Vec<Layer>,
}

/// The most parameters a model may have: 10⁹ (4 GB of f32 weights before gradients and
/// optimizer state). Checked by [`ModelSpec::validate`], so a typo such as a width of 10⁹ is
/// refused before anything is allocated.
pub const MAX_PARAMETERS: usize = 1_000_000_000;

impl ModelSpec {
    /// Number of parameters (weights and biases), or `None` when the count overflows `usize`.
    /// Allocates nothing, so it can vet a spec read from an untrusted file.
    pub fn parameter_count(&self) -> Option<usize> {
        self.layers
            .iter()
            .try_fold(0usize, |n, l| n.checked_add(l.parameter_count()?))
    }

    /// A spec from parts (checked when a model is built, or by [`ModelSpec::validate`]).
    pub fn new(inputs: impl Into<Inputs>, layers: Vec<Layer>) -> Self {
        ModelSpec {
            inputs: inputs.into(),
            layers,
        }
    }

    /// The linear model `y = b + wᵀx`: one `Linear(inputs → outputs)`.
    pub fn linear(inputs: usize, outputs: usize) -> Self {
        ModelSpec::new(inputs, vec![Layer::linear(inputs, outputs)])
    }

    /// The lectures' sum of sigmoids `y = b + cᵀσ(b + W x)` with `count` sigmoids:
    /// `Linear(inputs → count)`, `Sigmoid`, `Linear(count → outputs)`.
    pub fn sigmoids(inputs: usize, count: usize, outputs: usize) -> Self {
        ModelSpec::new(
            inputs,
            vec![
                Layer::linear(inputs, count),
                Activation::Sigmoid.layer(),
                Layer::linear(count, outputs),
            ],
        )
    }

    /// A multilayer perceptron: for every hidden width `h`, `Linear(· → h)`, then
    /// `BatchNorm1d(h)` if `batch_norm`, the activation, then `Dropout(dropout)` if
    /// `dropout > 0`; finally `Linear(· → outputs)`. For classification the outputs are logits
    /// (softmax or sigmoid belong to the loss).
    pub fn mlp(
        inputs: usize,
        hidden: &[usize],
        activation: Activation,
        batch_norm: bool,
        dropout: f64,
        outputs: usize,
    ) -> Self {
        let mut layers = Vec::new();
        let mut width = inputs;
        for &h in hidden {
            layers.push(Layer::linear(width, h));
            if batch_norm {
                layers.push(Layer::batch_norm1d(h));
            }
            layers.push(activation.layer());
            if dropout > 0.0 {
                layers.push(Layer::dropout(dropout));
            }
            width = h;
        }
        layers.push(Layer::linear(width, outputs));
        ModelSpec::new(inputs, layers)
    }

    /// A deep MLP whose depth can be trained: `Linear(inputs → width)` and the activation,
    /// then `depth − 1` blocks of [`LayerNorm(width)` if `layer_norm`], `Linear(width → width)`,
    /// activation — each inside a residual block (`y = x + block(x)`) if `residual` —, and
    /// `Linear(width → outputs)`. With `residual = false` it is the plain network of the same
    /// parameters (the lectures' 56-layer network that trains worse than a 20-layer one).
    /// `depth = 0` is the linear model.
    #[allow(clippy::too_many_arguments)]
    pub fn resnet_mlp(
        inputs: usize,
        width: usize,
        depth: usize,
        activation: Activation,
        residual: bool,
        layer_norm: bool,
        outputs: usize,
    ) -> Self {
        if depth == 0 {
            return ModelSpec::linear(inputs, outputs);
        }
        let mut layers = vec![Layer::linear(inputs, width), activation.layer()];
        for _ in 1..depth {
            let mut block = Vec::new();
            if layer_norm {
                block.push(Layer::layer_norm(vec![width]));
            }
            block.push(Layer::linear(width, width));
            block.push(activation.layer());
            if residual {
                layers.push(Layer::residual(block));
            } else {
                layers.extend(block);
            }
        }
        layers.push(Layer::linear(width, outputs));
        ModelSpec::new(inputs, layers)
    }

    /// A convolutional network as one would write it in PyTorch: for every entry `c` of
    /// `channels` a stage `Conv2d(· → c, kernel_size, padding = kernel_size / 2)` ("same" for an
    /// odd kernel), then `BatchNorm2d(c)` if `batch_norm`, the activation and `MaxPool2d(2)`;
    /// then `Flatten` and an MLP head: `Linear(· → h)` and the activation for every width `h` of
    /// `hidden`, and `Linear(· → outputs)`. `shape` is one example's `[C, H, W]`; the flatten
    /// width follows from it (each stage halves the height and width, rounding down).
    #[allow(clippy::too_many_arguments)]
    pub fn cnn(
        shape: [usize; 3],
        channels: &[usize],
        kernel_size: usize,
        hidden: &[usize],
        activation: Activation,
        batch_norm: bool,
        outputs: usize,
    ) -> Self {
        let [mut c, mut h, mut w] = shape;
        let padding = kernel_size / 2;
        let mut layers = Vec::new();
        for &out in channels {
            layers.push(Layer::conv2d(c, out, kernel_size, 1, padding));
            if batch_norm {
                layers.push(Layer::batch_norm2d(out));
            }
            layers.push(activation.layer());
            layers.push(Layer::max_pool2d(2));
            // Conv2d's output size, (h + 2p − k) + 1 (saturating: an oversized kernel is
            // refused by the layer's own check), then the pool's floor(· / 2).
            let conv = |n: usize| (n + 2 * padding).saturating_sub(kernel_size) + 1;
            h = conv(h) / 2;
            w = conv(w) / 2;
            c = out;
        }
        layers.push(Layer::flatten());
        let mut width = c.saturating_mul(h).saturating_mul(w);
        for &units in hidden {
            layers.push(Layer::linear(width, units));
            layers.push(activation.layer());
            width = units;
        }
        layers.push(Layer::linear(width, outputs));
        ModelSpec::new(Inputs::shape(shape.to_vec()), layers)
    }

    /// Checks that consecutive layers fit together, that every hyperparameter is in range, that
    /// the model ends in one vector per example and that it has at most [`MAX_PARAMETERS`]
    /// parameters; returns the output width.
    pub fn validate(&self) -> Result<usize> {
        match self.parameter_count() {
            Some(n) if n <= MAX_PARAMETERS => {}
            Some(n) => {
                return Err(Error::Spec(format!(
                    "{n} parameters, more than the limit of {MAX_PARAMETERS}"
                )))
            }
            None => {
                return Err(Error::Spec(format!(
                    "more parameters than the limit of {MAX_PARAMETERS}"
                )))
            }
        }
        let plan = self.plan()?;
        match plan.output.as_slice() {
            [w] => Ok(*w),
            d => Err(Error::Spec(format!(
                "the model's output must be one vector per example, got [N, {}]; end with a flatten and a linear layer",
                d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The output width (after validation).
    pub fn outputs(&self) -> Result<usize> {
        self.validate()
    }

    /// Parameter names in PyTorch `state_dict` order, e.g. `["0.weight", "0.bias", "2.weight",
    /// "2.bias"]` for Linear, Tanh, Linear; `"1.body.0.weight"` inside a residual block.
    pub fn parameter_names(&self) -> Vec<String> {
        self.parameter_entries()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// Parameter names and shapes in PyTorch `state_dict` order (empty if the spec is invalid).
    pub fn parameter_entries(&self) -> Vec<(String, Vec<usize>)> {
        self.plan()
            .map(|p| p.parameters().map(|(n, d)| (n, d.shape.clone())).collect())
            .unwrap_or_default()
    }

    /// Float buffer names and shapes (`running_mean`, `running_var` of each batch norm), in
    /// `state_dict` order.
    pub fn buffer_entries(&self) -> Vec<(String, Vec<usize>)> {
        self.plan()
            .map(|p| p.buffers().map(|(n, d)| (n, d.shape.clone())).collect())
            .unwrap_or_default()
    }

    /// Names of the `num_batches_tracked` counters, one per batch norm.
    pub fn batches_tracked_names(&self) -> Vec<String> {
        self.plan().map(|p| p.tracked_names()).unwrap_or_default()
    }

    /// Every name of PyTorch's `state_dict()` in its order: per layer, parameters then buffers.
    pub fn state_dict_names(&self) -> Vec<String> {
        let Ok(plan) = self.plan() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for l in &plan.leaves {
            for t in l.params.iter().chain(&l.buffers) {
                out.push(format!("{}.{}", l.name, t.name));
            }
            if l.tracked.is_some() {
                out.push(format!("{}.num_batches_tracked", l.name));
            }
        }
        out
    }

    /// The leaf layers in depth-first order with their `state_dict` prefixes (`"3"`,
    /// `"1.body.0"`); a leaf's position here is the `layer` of [`crate::BatchStats`] and of
    /// [`crate::Sequential::forward_visiting`].
    pub fn leaves(&self) -> Vec<(String, &Layer)> {
        fn walk<'a>(layers: &'a [Layer], prefix: &str, out: &mut Vec<(String, &'a Layer)>) {
            for (i, l) in layers.iter().enumerate() {
                match l {
                    Layer::Residual(r) => walk(&r.body, &format!("{prefix}{i}.body."), out),
                    _ => out.push((format!("{prefix}{i}"), l)),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.layers, "", &mut out);
        out
    }

    /// Numbers one example produces on its way through the model: its input and every leaf
    /// layer's output (the widths of an MLP, summed). What a forward pass holds per example.
    pub fn activation_size(&self) -> usize {
        let Ok(plan) = self.plan() else {
            return self.inputs.numel();
        };
        plan.leaves.iter().fold(self.inputs.numel(), |n, l| {
            n.saturating_add(l.output.iter().product())
        })
    }

    /// Whether any layer keeps running statistics (a batch norm).
    pub fn has_batch_norm(&self) -> bool {
        self.leaves().iter().any(|(_, l)| l.is_batch_norm())
    }
}
