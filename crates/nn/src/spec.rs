//! Serializable model descriptions and the presets of the lectures.

use crate::error::{Error, Result};
use crate::layer::{Activation, Layer};
use serde::{Deserialize, Serialize};

/// A model as data: the input width and the layers applied in order. This is what a checkpoint
/// stores (as JSON) to rebuild the model; [`crate::Sequential::new`] turns it into parameters.
///
/// ```
/// use trainscope_nn::{Activation, ModelSpec};
/// let spec = ModelSpec::mlp(4, &[8], Activation::Relu, false, 0.0, 3);
/// assert_eq!(spec.outputs().unwrap(), 3);
/// let json = serde_json::to_string(&spec).unwrap();
/// assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Features per example: inputs are `[batch, inputs]`.
    pub inputs: usize,
    /// The layers, in order; a layer's index is its position here (as in `torch.nn.Sequential`).
    pub layers: Vec<Layer>,
}

/// Where one layer's tensors sit in the model's parameter and buffer lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Index of the layer's first parameter (weight), if it has any.
    pub param: usize,
    /// Index of the layer's first float buffer (running mean), if it has any.
    pub buffer: usize,
    /// Index into the `num_batches_tracked` counters, if it has one.
    pub tracked: usize,
}

/// The most parameters a model may have: 10⁹ (4 GB of f32 weights before gradients and
/// optimizer state). Checked by [`ModelSpec::validate`], so a typo such as a width of 10⁹ is
/// refused before anything is allocated.
pub const MAX_PARAMETERS: usize = 1_000_000_000;

impl ModelSpec {
    /// Number of parameters (weights and biases), or `None` when the count overflows `usize`.
    /// Allocates nothing, so it can vet a spec read from an untrusted file.
    pub fn parameter_count(&self) -> Option<usize> {
        let mut total: usize = 0;
        for layer in &self.layers {
            total = total.checked_add(layer.parameter_count()?)?;
        }
        Some(total)
    }

    /// A spec from parts (checked when a model is built, or by [`ModelSpec::validate`]).
    pub fn new(inputs: usize, layers: Vec<Layer>) -> Self {
        ModelSpec { inputs, layers }
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
                Layer::Sigmoid,
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

    /// Checks that consecutive layers fit together, that every hyperparameter is in range and
    /// that the model has at most [`MAX_PARAMETERS`] parameters; returns the output width.
    pub fn validate(&self) -> Result<usize> {
        if self.inputs == 0 {
            return Err(Error::Spec("inputs must be at least 1".into()));
        }
        let mut width = self.inputs;
        for (i, layer) in self.layers.iter().enumerate() {
            let bad = |msg: String| {
                Err(Error::Spec(format!(
                    "layer {i} ({}): {msg}",
                    layer.describe()
                )))
            };
            match *layer {
                Layer::Linear {
                    in_features,
                    out_features,
                } => {
                    if in_features != width {
                        return bad(format!(
                            "in_features {in_features} does not match the {width} features coming in"
                        ));
                    }
                    if out_features == 0 {
                        return bad("out_features must be at least 1".into());
                    }
                    width = out_features;
                }
                Layer::BatchNorm1d {
                    num_features,
                    eps,
                    momentum,
                } => {
                    if num_features != width {
                        return bad(format!(
                            "num_features {num_features} does not match the {width} features coming in"
                        ));
                    }
                    if !(eps > 0.0 && eps.is_finite()) {
                        return bad(format!("eps must be positive and finite, got {eps}"));
                    }
                    if !(0.0..=1.0).contains(&momentum) {
                        return bad(format!("momentum must be in [0, 1], got {momentum}"));
                    }
                }
                Layer::Dropout { p } => {
                    if !(0.0..=1.0).contains(&p) {
                        return bad(format!("p must be in [0, 1], got {p}"));
                    }
                }
                Layer::Sigmoid | Layer::Relu | Layer::Tanh | Layer::HardSigmoid => {}
            }
        }
        match self.parameter_count() {
            Some(n) if n <= MAX_PARAMETERS => Ok(width),
            Some(n) => Err(Error::Spec(format!(
                "{n} parameters, more than the limit of {MAX_PARAMETERS}"
            ))),
            None => Err(Error::Spec(format!(
                "more parameters than the limit of {MAX_PARAMETERS}"
            ))),
        }
    }

    /// The output width (after validation).
    pub fn outputs(&self) -> Result<usize> {
        self.validate()
    }

    /// Parameter names in PyTorch `state_dict` order, e.g. `["0.weight", "0.bias", "2.weight",
    /// "2.bias"]` for Linear, Tanh, Linear.
    pub fn parameter_names(&self) -> Vec<String> {
        self.parameter_entries()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// Parameter names and shapes in PyTorch `state_dict` order.
    pub fn parameter_entries(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match *layer {
                Layer::Linear {
                    in_features,
                    out_features,
                } => {
                    out.push((format!("{i}.weight"), vec![out_features, in_features]));
                    out.push((format!("{i}.bias"), vec![out_features]));
                }
                Layer::BatchNorm1d { num_features, .. } => {
                    out.push((format!("{i}.weight"), vec![num_features]));
                    out.push((format!("{i}.bias"), vec![num_features]));
                }
                _ => {}
            }
        }
        out
    }

    /// Float buffer names and shapes (`running_mean`, `running_var` of each batch norm), in
    /// `state_dict` order.
    pub fn buffer_entries(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            if let Layer::BatchNorm1d { num_features, .. } = *layer {
                out.push((format!("{i}.running_mean"), vec![num_features]));
                out.push((format!("{i}.running_var"), vec![num_features]));
            }
        }
        out
    }

    /// Names of the `num_batches_tracked` counters, one per batch norm.
    pub fn batches_tracked_names(&self) -> Vec<String> {
        self.layers
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Layer::BatchNorm1d { .. }))
            .map(|(i, _)| format!("{i}.num_batches_tracked"))
            .collect()
    }

    /// Every name of PyTorch's `state_dict()` in its order: per layer, parameters then buffers.
    pub fn state_dict_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                Layer::Linear { .. } => {
                    out.extend([format!("{i}.weight"), format!("{i}.bias")]);
                }
                Layer::BatchNorm1d { .. } => out.extend(
                    [
                        "weight",
                        "bias",
                        "running_mean",
                        "running_var",
                        "num_batches_tracked",
                    ]
                    .iter()
                    .map(|s| format!("{i}.{s}")),
                ),
                _ => {}
            }
        }
        out
    }

    pub(crate) fn slots(&self) -> Vec<Slot> {
        let (mut param, mut buffer, mut tracked) = (0, 0, 0);
        self.layers
            .iter()
            .map(|layer| {
                let slot = Slot {
                    param,
                    buffer,
                    tracked,
                };
                match layer {
                    Layer::Linear { .. } => param += 2,
                    Layer::BatchNorm1d { .. } => {
                        param += 2;
                        buffer += 2;
                        tracked += 1;
                    }
                    _ => {}
                }
                slot
            })
            .collect()
    }
}
