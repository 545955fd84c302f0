//! A model description walked once into what running it needs: its leaves in depth-first
//! order (PyTorch's `state_dict` order) with their names, shapes and tensor positions, and the
//! nesting of residual blocks around them.

use crate::error::{Error, Result};
use crate::layer::{Layer, TensorDecl};
use crate::spec::ModelSpec;

/// A leaf layer where it sits in the model.
#[derive(Clone, Debug)]
pub(crate) struct LeafNode {
    /// The `state_dict` prefix without the dot: `"3"`, `"1.body.0"`.
    pub name: String,
    pub layer: Layer,
    /// One example's output shape.
    pub output: Vec<usize>,
    pub params: Vec<TensorDecl>,
    pub buffers: Vec<TensorDecl>,
    /// Index of the first parameter and buffer in the model's lists.
    pub param: usize,
    pub buffer: usize,
    /// Index into the `num_batches_tracked` counters, for batch norms.
    pub tracked: Option<usize>,
}

/// The order of computation.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Leaf(usize),
    /// `x + body(x)`, named for messages and tables.
    Residual {
        name: String,
        body: Vec<Step>,
        shape: Vec<usize>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub leaves: Vec<LeafNode>,
    pub steps: Vec<Step>,
    pub output: Vec<usize>,
}

impl Plan {
    pub fn parameters(&self) -> impl Iterator<Item = (String, &TensorDecl)> + '_ {
        self.leaves.iter().flat_map(|l| {
            l.params
                .iter()
                .map(move |p| (format!("{}.{}", l.name, p.name), p))
        })
    }

    pub fn buffers(&self) -> impl Iterator<Item = (String, &TensorDecl)> + '_ {
        self.leaves.iter().flat_map(|l| {
            l.buffers
                .iter()
                .map(move |p| (format!("{}.{}", l.name, p.name), p))
        })
    }

    pub fn tracked_names(&self) -> Vec<String> {
        self.leaves
            .iter()
            .filter(|l| l.tracked.is_some())
            .map(|l| format!("{}.num_batches_tracked", l.name))
            .collect()
    }
}

impl ModelSpec {
    /// Checks every layer against the shape reaching it and lays the model out.
    pub(crate) fn plan(&self) -> Result<Plan> {
        let dims = self.inputs.dims();
        if dims.is_empty() || dims.len() > 3 || dims.contains(&0) {
            return Err(Error::Spec(format!(
                "inputs must be a width or a shape [channels, height, width] of positive sizes, got {}",
                self.inputs
            )));
        }
        let mut plan = Plan {
            leaves: Vec::new(),
            steps: Vec::new(),
            output: Vec::new(),
        };
        let mut counts = (0, 0, 0);
        let (steps, output) = lay_out(&self.layers, "", dims.to_vec(), &mut plan, &mut counts)?;
        plan.steps = steps;
        plan.output = output;
        Ok(plan)
    }
}

/// How deep residual blocks may nest.
const MAX_NESTING: usize = 32;

fn lay_out(
    layers: &[Layer],
    prefix: &str,
    mut shape: Vec<usize>,
    plan: &mut Plan,
    counts: &mut (usize, usize, usize),
) -> Result<(Vec<Step>, Vec<usize>)> {
    let mut steps = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let name = format!("{prefix}{i}");
        let bad = |msg: String| Error::Spec(format!("layer {name} ({}): {msg}", layer.describe()));
        match layer {
            Layer::Residual(r) => {
                if prefix.matches(".body.").count() >= MAX_NESTING {
                    return Err(bad(format!(
                        "residual blocks nested more than {MAX_NESTING} deep"
                    )));
                }
                let (body, out) = lay_out(
                    &r.body,
                    &format!("{name}.body."),
                    shape.clone(),
                    plan,
                    counts,
                )?;
                if out != shape {
                    return Err(bad(format!(
                        "the body turns {shape:?} into {out:?}; a residual block needs the same shape out as in"
                    )));
                }
                steps.push(Step::Residual {
                    name,
                    body,
                    shape: shape.clone(),
                });
            }
            _ => {
                let leaf = layer.leaf().expect("every other layer is a leaf");
                let output = leaf.output_shape(&shape).map_err(bad)?;
                let params = leaf.parameters();
                let buffers = leaf.buffers();
                let tracked = leaf.momentum().map(|_| {
                    counts.2 += 1;
                    counts.2 - 1
                });
                plan.leaves.push(LeafNode {
                    name,
                    layer: layer.clone(),
                    output: output.clone(),
                    param: counts.0,
                    buffer: counts.1,
                    tracked,
                    params,
                    buffers,
                });
                shape = output;
                let node = plan.leaves.last().expect("just pushed");
                counts.0 += node.params.len();
                counts.1 += node.buffers.len();
                steps.push(Step::Leaf(plan.leaves.len() - 1));
            }
        }
    }
    Ok((steps, shape))
}
