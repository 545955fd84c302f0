//! `trainscope.Model`: a model in f64 with, for a trainscope checkpoint, the metadata that says
//! how it reads data (standardization, labels, loss).

use std::path::{Path, PathBuf};

use numpy::{IntoPyArray, PyArray2, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use safetensors::tensor::{Dtype, TensorView};
use trainscope_core::Tensor;
use trainscope_nn::{ModelSpec, Sequential};
use trainscope_train::{files, ModelMeta};

use crate::arrays::rows_of;
use crate::error;

/// A model trainscope can analyse: its layers and weights, and for a trainscope checkpoint the
/// schema, standardization and loss it was trained with.
#[pyclass(module = "trainscope._native")]
pub struct Model {
    pub(crate) model: Sequential<f64>,
    pub(crate) meta: Option<ModelMeta>,
    source: String,
}

fn parse_spec(spec: &str) -> PyResult<ModelSpec> {
    serde_json::from_str(spec).map_err(|e| error(format!("model description: {e}")))
}

impl Model {
    fn plain(model: Sequential<f64>, source: String) -> Model {
        Model {
            model,
            meta: None,
            source,
        }
    }
}

#[pymethods]
impl Model {
    /// A model from a layer description (the JSON of a configuration's `[model]` layer list:
    /// `{"inputs": …, "layers": […]}`) and a PyTorch `state_dict` as numpy arrays by name
    /// (float arrays; `num_batches_tracked` as an integer array). Every tensor must be there
    /// with its PyTorch name and shape, and no other (as `load_state_dict(strict=True)`).
    #[staticmethod]
    fn from_state_dict(spec: &str, tensors: &Bound<'_, PyDict>) -> PyResult<Model> {
        let spec = parse_spec(spec)?;
        let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (k, v) in tensors.iter() {
            let name: String = k.extract()?;
            if let Ok(a) = v.extract::<PyReadonlyArrayDyn<'_, f64>>() {
                let bytes = a.as_array().iter().flat_map(|x| x.to_le_bytes()).collect();
                owned.push((name, Dtype::F64, a.shape().to_vec(), bytes));
            } else if let Ok(a) = v.extract::<PyReadonlyArrayDyn<'_, i64>>() {
                let bytes = a.as_array().iter().flat_map(|x| x.to_le_bytes()).collect();
                owned.push((name, Dtype::I64, a.shape().to_vec(), bytes));
            } else {
                return Err(error(format!(
                    "state dict: \"{name}\" is not a float64 or int64 numpy array"
                )));
            }
        }
        let views = owned
            .iter()
            .map(|(n, d, s, b)| {
                TensorView::new(*d, s.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| error(format!("state dict: \"{n}\": {e}")))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let bytes = safetensors::serialize(views, None).map_err(error)?;
        let label = Path::new("state dict");
        let model = Sequential::<f64>::parse_pytorch(label, &bytes, spec).map_err(error)?;
        Ok(Model::plain(model, "state dict".into()))
    }

    /// Loads a trainscope checkpoint or run directory (its model), or, with `spec`, a plain
    /// safetensors file of a PyTorch `state_dict`.
    #[staticmethod]
    #[pyo3(signature = (path, spec = None))]
    fn load(path: PathBuf, spec: Option<&str>) -> PyResult<Model> {
        let file = if path.is_dir() {
            let f = files::checkpoint_of(&path);
            if !f.is_file() {
                return Err(error(format!(
                    "{}: no {} in this directory: not a run directory",
                    path.display(),
                    files::MODEL
                )));
            }
            f
        } else {
            path
        };
        let source = file.display().to_string();
        if let Some(spec) = spec {
            let model = Sequential::<f64>::load_pytorch(&file, parse_spec(spec)?).map_err(error)?;
            return Ok(Model::plain(model, source));
        }
        let ckpt = Sequential::<f64>::load(&file).map_err(error)?;
        let meta = if ckpt.metadata.contains_key("trainscope.schema") {
            Some(ModelMeta::from_metadata(&file, &ckpt.metadata).map_err(error)?)
        } else {
            None
        };
        Ok(Model {
            model: ckpt.model,
            meta,
            source,
        })
    }

    /// Outputs for the rows of `x` (`N × inputs`, or `N × C × H × W` for image models). A
    /// trainscope checkpoint standardizes the features as training did and gives regression
    /// values in the target's units and class probabilities; `raw=True` gives the model's raw
    /// outputs (logits) instead.
    #[pyo3(signature = (x, raw = false))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f64>,
        raw: bool,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (mut rows, n) = rows_of(&x, self.model.input_size(), "x")?;
        if let Some(s) = self
            .meta
            .as_ref()
            .and_then(|m| m.feature_standardizer.as_ref())
        {
            s.transform(&mut rows).map_err(error)?;
        }
        let model = &self.model;
        let d = model.input_size();
        let out = py
            .detach(|| {
                let t = Tensor::from_vec(rows, &[n, d])?;
                model.predict(&t)
            })
            .map_err(error)?;
        let k = model.output_size();
        let mut values = out.data().to_vec();
        if let (Some(meta), false) = (&self.meta, raw) {
            if meta.schema.label_map.is_some() {
                values = probabilities(&values, k);
            } else if let Some(s) = &meta.target_standardizer {
                s.inverse_transform(&mut values).map_err(error)?;
            }
        }
        let cols = if values.len() == n * k {
            k
        } else {
            values.len() / n.max(1)
        };
        let array = numpy::ndarray::Array2::from_shape_vec((n, cols), values).map_err(error)?;
        Ok(array.into_pyarray(py))
    }

    /// The parameters as numpy arrays by their PyTorch `state_dict` names.
    fn parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, t) in self
            .model
            .parameter_names()
            .into_iter()
            .zip(self.model.parameters())
        {
            d.set_item(name, array_of(py, t)?)?;
        }
        Ok(d)
    }

    /// Every tensor of the `state_dict`: parameters, running statistics and
    /// `num_batches_tracked`, ready for `torch_module.load_state_dict`.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = self.parameters(py)?;
        for (name, t) in self
            .model
            .buffer_names()
            .into_iter()
            .zip(self.model.buffers())
        {
            d.set_item(name, array_of(py, t)?)?;
        }
        for (name, &n) in self
            .model
            .batches_tracked_names()
            .into_iter()
            .zip(self.model.batches_tracked())
        {
            let v = numpy::ndarray::arr0(i64::try_from(n).unwrap_or(i64::MAX)).into_dyn();
            d.set_item(name, v.into_pyarray(py))?;
        }
        Ok(d)
    }

    /// The model with its parameters replaced by the flat vector `theta` (PyTorch `state_dict`
    /// order, as `diagnose`'s eigenvectors and escape point are).
    fn with_parameters(&self, theta: PyReadonlyArrayDyn<'_, f64>) -> PyResult<Model> {
        let theta = theta.as_array();
        if theta.len() != self.model.num_parameters() {
            return Err(error(format!(
                "{} parameter values for a model with {}",
                theta.len(),
                self.model.num_parameters()
            )));
        }
        let mut model = self.model.clone();
        let mut it = theta.iter();
        for t in model.parameters_mut() {
            for x in t.data_mut().iter_mut() {
                *x = *it.next().expect("length checked above");
            }
        }
        Ok(Model {
            model,
            meta: self.meta.clone(),
            source: self.source.clone(),
        })
    }

    /// The model description as JSON (`{"inputs": …, "layers": […]}`).
    #[getter]
    fn spec(&self) -> PyResult<String> {
        serde_json::to_string(self.model.spec()).map_err(error)
    }

    /// Scalar parameters.
    #[getter]
    fn num_parameters(&self) -> usize {
        self.model.num_parameters()
    }

    /// One example's input shape: `[features]` or `[C, H, W]`.
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        self.model.input_shape().to_vec()
    }

    /// Outputs per example.
    #[getter]
    fn output_size(&self) -> usize {
        self.model.output_size()
    }

    /// The training loss's name, for a trainscope checkpoint.
    #[getter]
    fn loss(&self) -> Option<&'static str> {
        self.meta.as_ref().map(|m| m.loss.name())
    }

    /// The class labels in output order, for a trainscope classification checkpoint.
    #[getter]
    fn labels(&self) -> Option<Vec<String>> {
        let map = self.meta.as_ref()?.schema.label_map.as_ref()?;
        Some(map.labels().to_vec())
    }

    /// The feature columns in input order, for a trainscope checkpoint.
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        Some(self.meta.as_ref()?.schema.feature_names.clone())
    }

    /// Where the model came from.
    #[getter]
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Class indices of `labels` (as written in the training data) by the checkpoint's label
    /// map; an unknown label is an error naming it.
    fn encode_labels(&self, labels: Vec<String>) -> PyResult<Vec<u32>> {
        let map = self
            .meta
            .as_ref()
            .and_then(|m| m.schema.label_map.as_ref())
            .ok_or_else(|| error("the model has no label map (not a classification checkpoint)"))?;
        labels
            .iter()
            .map(|l| {
                map.index_of(l).map(|i| i as u32).ok_or_else(|| {
                    error(format!(
                        "label \"{l}\" is not one of the model's classes {:?}",
                        map.labels()
                    ))
                })
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "trainscope.Model({} parameters, inputs {:?}, {} outputs, from {})",
            self.model.num_parameters(),
            self.model.input_shape(),
            self.model.output_size(),
            self.source
        )
    }
}

fn array_of<'py>(py: Python<'py>, t: &Tensor<f64>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let a = numpy::ndarray::ArrayD::from_shape_vec(t.shape().dims().to_vec(), t.data().to_vec())
        .map_err(error)?;
    Ok(a.into_pyarray(py))
}

/// Class probabilities of `rows × k` logits: softmax, or for one output (binary
/// cross-entropy on logits) the sigmoid as two columns.
fn probabilities(logits: &[f64], k: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len() * if k == 1 { 2 } else { 1 });
    for row in logits.chunks_exact(k.max(1)) {
        if k == 1 {
            let p = 1.0 / (1.0 + (-row[0]).exp());
            out.extend([1.0 - p, p]);
        } else {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            out.extend(e.iter().map(|v| v / s));
        }
    }
    out
}
