//! The model as a table, like Keras' `summary()`: each layer with its `state_dict` name, its
//! output shape and its parameters.

use serde::{Deserialize, Serialize};

use crate::inputs::Inputs;
use crate::spec::ModelSpec;
use crate::tree::{Plan, Step};

/// One row of a model's table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// The layer's name in the parameter names (`"0"` for `0.weight`), as in PyTorch.
    pub name: String,
    /// The layer, e.g. `Linear(1 → 64)`.
    pub layer: String,
    /// Output shape; `N` is the batch.
    pub output: Vec<String>,
    /// Trainable scalars.
    pub parameters: usize,
}

impl ModelSpec {
    /// The model's table, input side first: every leaf layer, and each residual block after
    /// its body (the addition). Empty if the description does not validate.
    pub fn summary(&self) -> Vec<LayerRow> {
        let Ok(plan) = self.plan() else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        rows_of(&plan, &plan.steps, &mut rows);
        rows
    }
}

fn shape_row(dims: &[usize]) -> Vec<String> {
    std::iter::once("N".to_string())
        .chain(dims.iter().map(|d| d.to_string()))
        .collect()
}

fn rows_of(plan: &Plan, steps: &[Step], rows: &mut Vec<LayerRow>) {
    for step in steps {
        match step {
            Step::Leaf(i) => {
                let l = &plan.leaves[*i];
                rows.push(LayerRow {
                    name: l.name.clone(),
                    layer: l.layer.describe(),
                    output: shape_row(&l.output),
                    parameters: l
                        .params
                        .iter()
                        .map(|p| p.shape.iter().product::<usize>())
                        .sum(),
                });
            }
            Step::Residual { name, body, shape } => {
                rows_of(plan, body, rows);
                rows.push(LayerRow {
                    name: name.clone(),
                    layer: "Residual (+ input)".into(),
                    output: shape_row(shape),
                    parameters: 0,
                });
            }
        }
    }
}

/// The table as aligned text, with the input and the total parameters.
pub fn summary_text(inputs: &Inputs, rows: &[LayerRow]) -> String {
    let shape = |s: &[String]| format!("[{}]", s.join(", "));
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(5);
    let layer_w = rows
        .iter()
        .map(|r| r.layer.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let shape_w = rows
        .iter()
        .map(|r| shape(&r.output).len())
        .max()
        .unwrap_or(0)
        .max(14);
    let mut out = format!(
        "{:<name_w$}  {:<layer_w$}  {:<shape_w$}  {:>12}\n",
        "layer", "type", "output shape", "parameters"
    );
    out += &format!(
        "{:<name_w$}  {:<layer_w$}  {:<shape_w$}  {:>12}\n",
        "",
        "input",
        shape(&shape_row(inputs.dims())),
        ""
    );
    for r in rows {
        out += &format!(
            "{:<name_w$}  {:<layer_w$}  {:<shape_w$}  {:>12}\n",
            r.name,
            r.layer,
            shape(&r.output),
            r.parameters
        );
    }
    let total: usize = rows.iter().map(|r| r.parameters).sum();
    out += &format!("total parameters: {total}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Sequential};

    #[test]
    fn rows_follow_the_widths_and_count_what_the_model_holds() {
        let spec = ModelSpec::mlp(3, &[8, 4], Activation::Relu, false, 0.0, 2);
        let rows = spec.summary();
        let outputs: Vec<String> = rows.iter().map(|r| r.output[1].clone()).collect();
        assert_eq!(outputs, ["8", "8", "4", "4", "2"]);
        let total: usize = rows.iter().map(|r| r.parameters).sum();
        let model =
            Sequential::<f64>::new(spec.clone(), &mut trainscope_core::seeded_rng(0)).unwrap();
        let held: usize = model.parameters().iter().map(|p| p.numel()).sum();
        assert_eq!(total, held);
        assert_eq!(rows[0].parameters, 4 * 8);
        let text = summary_text(&spec.inputs, &rows);
        assert!(text.contains("total parameters: 78"), "{text}");
        assert!(text.contains("[N, 3]"), "{text}");
    }
}
