//! Using a trained checkpoint on new data: predictions in the data's own units and labels, and
//! evaluation.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use trainscope_core::{no_grad, Element, Tensor};
use trainscope_data::{Dataset, PredictionData, Schema, Targets, Task};
use trainscope_nn::{ForwardCtx, Mode, Sequential, Target};

use crate::config::DTypeName;
use crate::error::{Context, Result, TrainError};
use crate::meta::ModelMeta;
use crate::trainer::predicted_class;

const CHUNK: usize = 1024;

enum AnyModel {
    F32(Sequential<f32>),
    F64(Sequential<f64>),
}

/// A checkpoint written by the trainer, with what it needs to read new data: the schema, the
/// standardization and the loss.
pub struct TrainedModel {
    model: AnyModel,
    meta: ModelMeta,
    /// The checkpoint file, named in errors.
    path: std::path::PathBuf,
}

/// Predictions for the rows of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Regression or classification.
    pub task: Task,
    /// The (first) target column's name.
    pub target: String,
    /// Regression: the names of the output columns (the target columns, or `<target>_<k>`
    /// for a checkpoint that names one target for several outputs).
    pub columns: Vec<String>,
    /// Regression: `rows × columns` values, row-major, in the targets' original units.
    pub values: Vec<f64>,
    /// Classification: the predicted label of each row, as written in the training data.
    pub labels: Vec<String>,
    /// Classification: the class labels, in the order of `probabilities`' columns.
    pub class_labels: Vec<String>,
    /// Classification: `rows × classes` probabilities, row-major.
    pub probabilities: Vec<f64>,
    /// The names of the model's raw outputs: `logit_<label>` for each class of a classifier
    /// (one, for the second class, when it has a single logit), else the regression columns.
    pub raw_columns: Vec<String>,
    /// `rows × outputs` raw model outputs, row-major: logits, or regression outputs in the units
    /// the model was trained in (standard deviations of the target when it was standardized).
    pub raw: Vec<f64>,
}

/// How well a model does on a labelled file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// The training loss on these rows (in the units the model was trained in, so for a
    /// standardized target in standard deviations squared).
    pub loss: f64,
    /// The loss's name.
    pub loss_name: &'static str,
    /// Classification: fraction of rows whose predicted label is right.
    pub accuracy: Option<f64>,
    /// Regression: mean squared error in the target's original units (the mean over every
    /// row and target column, as PyTorch's `nn.MSELoss()`).
    pub mse: Option<f64>,
    /// Regression: mean absolute error in the target's original units (over every entry).
    pub mae: Option<f64>,
    /// Regression: root mean squared error in the target's original units, `√mse`.
    pub rmse: Option<f64>,
    /// Classification: the confusion matrix and per-class precision, recall and F1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion: Option<crate::Confusion>,
}

impl TrainedModel {
    /// Loads a checkpoint and its metadata; errors name the file.
    pub fn load(path: &Path) -> Result<TrainedModel> {
        // A run directory stands for its model (one rule for every command).
        let resolved;
        let path = if path.is_dir() {
            resolved = crate::files::checkpoint_of(path);
            if !resolved.is_file() {
                return Err(TrainError::Mismatch(format!(
                    "{}: no {} in this directory: not a run directory",
                    path.display(),
                    crate::files::MODEL
                )));
            }
            resolved.as_path()
        } else {
            path
        };
        let bytes = std::fs::read(path).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            msg: format!("cannot read: {e}"),
        })?;
        TrainedModel::parse(path, &bytes)
    }

    /// [`TrainedModel::load`] on the content of a checkpoint file already in memory; `path`
    /// only names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<TrainedModel> {
        // The metadata decides the precision, so evaluation reproduces training's numbers.
        let ckpt = Sequential::<f64>::parse(path, bytes)?;
        let meta = ModelMeta::from_metadata(path, &ckpt.metadata)?;
        let model = match meta.dtype {
            DTypeName::F64 => AnyModel::F64(ckpt.model),
            DTypeName::F32 => AnyModel::F32(Sequential::<f32>::parse(path, bytes)?.model),
        };
        let (inputs, outputs) = match &model {
            AnyModel::F32(m) => (m.input_size(), m.output_size()),
            AnyModel::F64(m) => (m.input_size(), m.output_size()),
        };
        let bad = |msg: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            msg,
        };
        if inputs != meta.schema.feature_names.len() {
            return Err(bad(format!(
                "the model takes {inputs} inputs but the schema lists {} features",
                meta.schema.feature_names.len()
            )));
        }
        let targets = &meta.schema.targets;
        if meta.task == Task::Regression && targets.len() > 1 && targets.len() != outputs {
            return Err(bad(format!(
                "the model has {outputs} outputs for the {} target columns {targets:?}",
                targets.len()
            )));
        }
        if let Some(map) = &meta.schema.label_map {
            let ok = outputs == map.len() || (outputs == 1 && map.len() == 2);
            if !ok {
                return Err(bad(format!(
                    "the model has {outputs} outputs for {} classes",
                    map.len()
                )));
            }
        }
        Ok(TrainedModel {
            model,
            meta,
            path: path.to_path_buf(),
        })
    }

    /// The checkpoint's metadata.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Columns, target and labels the model expects.
    pub fn schema(&self) -> &Schema {
        &self.meta.schema
    }

    /// Raw model outputs (`rows × outputs`) for unstandardized features.
    fn outputs(&self, features: &[f64]) -> Result<(Vec<f64>, usize)> {
        let mut x = features.to_vec();
        if let Some(s) = &self.meta.feature_standardizer {
            s.transform(&mut x)
                .context(|| "standardizing the features".into())?;
        }
        match &self.model {
            AnyModel::F32(m) => run(m, &x),
            AnyModel::F64(m) => run(m, &x),
        }
        .context(|| "forward pass".into())
    }

    /// Predictions for the feature columns of a CSV file (found by name; a target column, if
    /// present, is ignored).
    pub fn predict_file(&self, path: &Path) -> Result<Predictions> {
        self.predict(&self.meta.schema.load_for_prediction(path)?)
    }

    /// [`TrainedModel::predict_file`] on rows read with [`TrainedModel::schema`].
    pub fn predict(&self, input: &PredictionData) -> Result<Predictions> {
        let (out, k) = self.outputs(&input.features)?;
        let n = out.len() / k;
        let mut p = Predictions {
            task: self.meta.task,
            target: self.meta.schema.target().to_string(),
            columns: Vec::new(),
            values: Vec::new(),
            labels: Vec::new(),
            class_labels: Vec::new(),
            probabilities: Vec::new(),
            raw_columns: Vec::new(),
            raw: out.clone(),
        };
        match &self.meta.schema.label_map {
            None => {
                let mut v = out;
                if let Some(s) = &self.meta.target_standardizer {
                    s.inverse_transform(&mut v)
                        .context(|| "undoing the target standardization".into())?;
                }
                p.values = v;
                p.columns = self.meta.output_columns(k);
                p.raw_columns = p.columns.clone();
            }
            Some(map) => {
                p.class_labels = map.labels().to_vec();
                p.raw_columns = map.labels()[map.len() - k..]
                    .iter()
                    .map(|l| format!("logit_{l}"))
                    .collect();
                for row in out.chunks_exact(k) {
                    let probs = probabilities(row);
                    let c = predicted_class(row);
                    p.labels.push(map.label(c).unwrap_or("?").to_string());
                    p.probabilities.extend(probs);
                }
                debug_assert_eq!(p.labels.len(), n);
            }
        }
        Ok(p)
    }

    /// Loss, and accuracy or MSE/MAE in original units, on a labelled CSV file (labels must be
    /// among the training labels).
    pub fn evaluate_file(&self, path: &Path) -> Result<Evaluation> {
        let data = self.meta.schema.load(path)?;
        self.evaluate(&data)
    }

    /// [`TrainedModel::evaluate_file`] on a dataset read with [`TrainedModel::schema`].
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation> {
        let (out, k) = self.outputs(data.features())?;
        let n = data.n_rows();
        let loss = self.meta.loss;
        let mut e = Evaluation {
            rows: n,
            loss: 0.0,
            loss_name: loss.name(),
            accuracy: None,
            mse: None,
            mae: None,
            rmse: None,
            confusion: None,
        };
        let out_t = Tensor::from_vec(out.clone(), &[n, k]).context(|| "outputs".into())?;
        let l = match data.targets() {
            Targets::Regression(y) => {
                self.meta.check_scorable(&self.path, k)?;
                let entries = y.len() as f64;
                let mut pred = out.clone();
                if let Some(s) = &self.meta.target_standardizer {
                    s.inverse_transform(&mut pred)
                        .context(|| "undoing the target standardization".into())?;
                }
                e.mse = Some(
                    pred.iter()
                        .zip(y)
                        .map(|(p, t)| (p - t).powi(2))
                        .sum::<f64>()
                        / entries,
                );
                e.rmse = e.mse.map(f64::sqrt);
                e.mae = Some(pred.iter().zip(y).map(|(p, t)| (p - t).abs()).sum::<f64>() / entries);
                let mut yt = y.clone();
                if let Some(s) = &self.meta.target_standardizer {
                    s.transform(&mut yt)
                        .context(|| "standardizing the target".into())?;
                }
                let t = Tensor::from_vec(yt, &[n, k]).context(|| "targets".into())?;
                loss.compute(&out_t, Target::Values(&t))
            }
            Targets::Classes(c) => {
                let predicted: Vec<usize> = out.chunks_exact(k).map(predicted_class).collect();
                let hits = predicted.iter().zip(c).filter(|(p, t)| p == t).count();
                e.accuracy = Some(hits as f64 / n as f64);
                let labels = match &self.meta.schema.label_map {
                    Some(m) => m.labels().to_vec(),
                    None => (0..k.max(2)).map(|i| i.to_string()).collect(),
                };
                e.confusion = Some(crate::Confusion::of(labels, c, &predicted));
                if loss.takes_classes() {
                    let c32: Vec<u32> = c.iter().map(|&x| x as u32).collect();
                    loss.compute(&out_t, Target::Classes(&c32))
                } else {
                    let t = Tensor::from_vec(c.iter().map(|&x| x as f64).collect(), &[n, 1])
                        .context(|| "targets".into())?;
                    loss.compute(&out_t, Target::Values(&t))
                }
            }
        };
        e.loss = no_grad(|| l.and_then(|l| l.item())).context(|| "loss".into())?;
        Ok(e)
    }
}

/// Eval-mode outputs in chunks, widened to f64.
fn run<T: Element>(model: &Sequential<T>, x: &[f64]) -> trainscope_core::Result<(Vec<f64>, usize)> {
    let (d, k) = (model.input_size(), model.output_size());
    let n = x.len() / d;
    let mut out = Vec::with_capacity(n * k);
    let mut xb: Vec<T> = Vec::with_capacity(CHUNK.min(n) * d);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        xb.clear();
        xb.extend(x[start * d..end * d].iter().map(|&v| T::from_f64(v)));
        let t = Tensor::from_slice(&xb, &[end - start, d])?;
        let y = no_grad(|| {
            model.forward_with(
                model.parameters(),
                &t,
                Mode::Eval,
                &mut ForwardCtx::without_rng(),
            )
        })?;
        out.extend(y.data().iter().map(|&v| Element::to_f64(v)));
        start = end;
    }
    Ok((out, k))
}

/// Class probabilities from one row of logits: softmax, or for one logit (σ(−z), σ(z)).
fn probabilities(row: &[f64]) -> Vec<f64> {
    if row.len() == 1 {
        let p1 = 1.0 / (1.0 + (-row[0]).exp());
        vec![1.0 - p1, p1]
    } else {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.into_iter().map(|v| v / s).collect()
    }
}

impl Predictions {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self.task {
            Task::Regression => self.values.len() / self.columns.len().max(1),
            Task::Classification => self.labels.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the predictions as CSV: regression, one column per output named after its target
    /// column (see [`Predictions::columns`]);
    /// classification, the predicted label under the target's name, then one probability
    /// column per class, `p_<label>`. Numbers are written with [`Digits::ShortestF32`].
    pub fn write_csv(&self, w: &mut dyn Write) -> std::io::Result<()> {
        self.write_csv_with(w, Digits::default())
    }

    /// [`Predictions::write_csv`] with numbers written to `digits`.
    pub fn write_csv_with(&self, w: &mut dyn Write, digits: Digits) -> std::io::Result<()> {
        match self.task {
            Task::Regression => {
                let names: Vec<String> = self.columns.iter().map(|c| csv_field(c)).collect();
                writeln!(w, "{}", names.join(","))?;
                for row in self.values.chunks_exact(self.columns.len().max(1)) {
                    let cells: Vec<String> =
                        row.iter().map(|&v| format_number(v, digits)).collect();
                    writeln!(w, "{}", cells.join(","))?;
                }
            }
            Task::Classification => {
                write!(w, "{}", csv_field(&self.target))?;
                for l in &self.class_labels {
                    write!(w, ",{}", csv_field(&format!("p_{l}")))?;
                }
                writeln!(w)?;
                let k = self.class_labels.len();
                for (label, probs) in self.labels.iter().zip(self.probabilities.chunks_exact(k)) {
                    write!(w, "{}", csv_field(label))?;
                    for &p in probs {
                        write!(w, ",{}", format_number(p, digits))?;
                    }
                    writeln!(w)?;
                }
            }
        }
        Ok(())
    }
}

impl Predictions {
    /// Writes the raw model outputs as CSV, one column per output ([`Predictions::raw_columns`]).
    pub fn write_raw_csv_with(&self, w: &mut dyn Write, digits: Digits) -> std::io::Result<()> {
        let names: Vec<String> = self.raw_columns.iter().map(|c| csv_field(c)).collect();
        writeln!(w, "{}", names.join(","))?;
        for row in self.raw.chunks_exact(self.raw_columns.len().max(1)) {
            let cells: Vec<String> = row.iter().map(|&v| format_number(v, digits)).collect();
            writeln!(w, "{}", cells.join(","))?;
        }
        Ok(())
    }
}

/// How many digits a written prediction has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digits {
    /// The shortest decimal that reads back as the same `f32` (at most 9 significant digits):
    /// a model trained in `f32` computes no more, and the `f64` value it is widened to would
    /// print 17 meaningless digits.
    #[default]
    ShortestF32,
    /// This many significant digits (1 to 17), trailing zeros dropped.
    Significant(usize),
}

/// `x` rounded to `digits` significant digits (at least 1); zero and non-finite values are
/// returned as they are. `round_significant(0.000123456, 3) == 0.000123`.
pub fn round_significant(x: f64, digits: usize) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // Decimal rounding through the formatter, which rounds exactly (unlike scaling by 10^k).
    format!("{:.*e}", digits.max(1) - 1, x).parse().unwrap_or(x)
}

/// `x` written to `digits`: plain decimals for magnitudes in [1e-4, 1e16), scientific notation
/// outside (where plain decimals would be long runs of zeros).
pub fn format_number(x: f64, digits: Digits) -> String {
    fn plain_or_exp<T: std::fmt::Display + std::fmt::LowerExp>(v: T, magnitude: f64) -> String {
        if magnitude == 0.0 || !magnitude.is_finite() || (1e-4..1e16).contains(&magnitude) {
            format!("{v}")
        } else {
            format!("{v:e}")
        }
    }
    match digits {
        Digits::ShortestF32 => plain_or_exp(x as f32, x.abs()),
        Digits::Significant(n) => {
            let r = round_significant(x, n);
            plain_or_exp(r, r.abs())
        }
    }
}

/// Quotes a field when CSV needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        let p = 0.1f32 as f64; // 0.10000000149011612 as f64
        assert_eq!(format_number(p, Digits::ShortestF32), "0.1");
        assert_eq!(format_number(1.0 / 3.0, Digits::ShortestF32), "0.33333334");
        assert_eq!(format_number(1.0 / 3.0, Digits::Significant(3)), "0.333");
        assert_eq!(format_number(2.5e-9, Digits::Significant(3)), "2.5e-9");
        assert_eq!(format_number(1234.5678, Digits::Significant(2)), "1200");
        assert_eq!(format_number(0.0, Digits::Significant(3)), "0");
        assert_eq!(round_significant(0.000123456, 3), 0.000123);
        // The default reads back as the same f32.
        for x in [0.7310586f32, 1e-7, 123456.79, -0.0034] {
            let s = format_number(x as f64, Digits::ShortestF32);
            assert_eq!(s.parse::<f32>().unwrap(), x, "{s}");
        }
    }
}
