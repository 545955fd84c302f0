//! numpy arrays in: rows of features and targets in the form the loss takes, checked against
//! the model with messages that name the argument.

use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use trainscope_diag::Targets;
use trainscope_nn::Loss;

use crate::error;
use crate::model::Model;

/// The rows of `x` (`N × …`, flattened per example in C order) as one row-major vector, with
/// `N`. Copies only when the array is not C-contiguous.
pub fn rows_of(
    x: &PyReadonlyArrayDyn<'_, f64>,
    width: usize,
    name: &str,
) -> PyResult<(Vec<f64>, usize)> {
    let shape = x.shape();
    if shape.is_empty() {
        return Err(error(format!(
            "{name}: a scalar, expected rows (N × {width})"
        )));
    }
    let n = shape[0];
    let per_row: usize = shape[1..].iter().product();
    if n == 0 {
        return Err(error(format!("{name}: no rows")));
    }
    if per_row != width {
        return Err(error(format!(
            "{name}: rows of shape {:?} hold {per_row} values, the model takes {width}",
            &shape[1..]
        )));
    }
    let data = match x.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => x.as_array().iter().copied().collect(),
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(error(format!(
            "{name}: row {} holds a non-finite value ({})",
            i / width,
            data[i]
        )));
    }
    Ok((data, n))
}

/// Parses a loss name (`"mse"`, `"cross_entropy"`, …); for a trainscope checkpoint the
/// checkpoint's loss is the default.
pub fn loss_of(model: &Model, loss: Option<&str>) -> PyResult<Loss> {
    match (loss, &model.meta) {
        (Some(name), _) => {
            serde_json::from_value(serde_json::Value::String(name.into())).map_err(|_| {
                error(format!(
                    "loss \"{name}\": expected one of \"mse\", \"mae\", \"cross_entropy\", \
                     \"binary_cross_entropy_with_logits\", \"softmax_mse\""
                ))
            })
        }
        (None, Some(meta)) => Ok(meta.loss),
        (None, None) => Err(error(
            "loss: the model has no trainscope metadata, so the loss must be given \
             (loss=\"mse\", \"cross_entropy\", …)",
        )),
    }
}

/// The loss's data: features standardized and targets transformed as a trainscope
/// checkpoint's training did (nothing for other models), targets as classes or values.
pub struct LossData {
    pub features: Vec<f64>,
    pub rows: usize,
    pub targets: Targets,
    pub loss: Loss,
}

pub fn loss_data(
    model: &Model,
    x: &PyReadonlyArrayDyn<'_, f64>,
    y: &PyReadonlyArrayDyn<'_, f64>,
    loss: Option<&str>,
) -> PyResult<LossData> {
    let loss = loss_of(model, loss)?;
    let (mut features, rows) = rows_of(x, model.model.input_size(), "x")?;
    let k = model.model.output_size();
    let yshape = y.shape();
    if yshape.first() != Some(&rows) {
        return Err(error(format!(
            "y: {} rows for the {rows} rows of x",
            yshape.first().copied().unwrap_or(0)
        )));
    }
    let values: Vec<f64> = y.as_array().iter().copied().collect();
    if let Some(meta) = &model.meta {
        if let Some(s) = &meta.feature_standardizer {
            s.transform(&mut features).map_err(error)?;
        }
    }
    let targets = if loss.takes_classes() {
        if yshape.len() != 1 {
            return Err(error(format!(
                "y: shape {yshape:?}; {} takes one class index per row",
                loss.name()
            )));
        }
        let classes = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v >= 0.0 && v.fract() == 0.0 && (v as usize) < k {
                    Ok(v as u32)
                } else {
                    Err(error(format!(
                        "y: row {i} has {v}, not a class index in 0..{k} (the model has {k} outputs)"
                    )))
                }
            })
            .collect::<PyResult<Vec<u32>>>()?;
        Targets::Classes(classes)
    } else {
        let width = if yshape.len() == 1 {
            1
        } else {
            yshape[1..].iter().product()
        };
        if width != k {
            return Err(error(format!(
                "y: {width} value(s) per row, the model has {k} output(s)"
            )));
        }
        let mut data = values;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(error(format!(
                "y: row {} holds a non-finite value",
                i / width
            )));
        }
        if let Some(s) = model
            .meta
            .as_ref()
            .and_then(|m| m.target_standardizer.as_ref())
        {
            s.transform(&mut data).map_err(error)?;
        }
        Targets::Values { data, width }
    };
    Ok(LossData {
        features,
        rows,
        targets,
        loss,
    })
}
