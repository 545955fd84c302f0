//! The model as a table, like Keras' `summary()`: each layer with its `state_dict` name, its
//! output shape and its parameters.

use serde::{Deserialize, Serialize};

use crate::spec::ModelSpec;

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
    /// The model's table, input side first.
    pub fn summary(&self) -> Vec<LayerRow> {
        let mut width = self.inputs;
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                width = l.output_width(width);
                LayerRow {
                    name: i.to_string(),
                    layer: l.describe(),
                    output: vec!["N".into(), width.to_string()],
                    parameters: l.parameter_count().unwrap_or(usize::MAX),
                }
            })
            .collect()
    }
}

/// The table as aligned text, with the input and the total parameters.
pub fn summary_text(inputs: usize, rows: &[LayerRow]) -> String {
    let shape = |s: &[String]| format!("[{}]", s.join(", "));
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(5);
    let layer_w = rows
        .iter()
        .map(|r| r.layer.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!(
        "{:<name_w$}  {:<layer_w$}  {:<14}  {:>12}\n",
        "layer", "type", "output shape", "parameters"
    );
    out += &format!(
        "{:<name_w$}  {:<layer_w$}  {:<14}  {:>12}\n",
        "",
        "input",
        shape(&["N".into(), inputs.to_string()]),
        ""
    );
    for r in rows {
        out += &format!(
            "{:<name_w$}  {:<layer_w$}  {:<14}  {:>12}\n",
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
        let text = summary_text(3, &rows);
        assert!(text.contains("total parameters: 78"), "{text}");
        assert!(text.contains("[N, 3]"), "{text}");
    }
}
