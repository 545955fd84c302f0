//! What a checkpoint carries besides its weights, so that `predict` and `eval` need nothing else,
//! and atomic file writes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use trainscope_data::{Schema, Standardizer, Task};
use trainscope_nn::Loss;

use crate::config::DTypeName;
use crate::error::{Result, TrainError};

/// Metadata keys of a trainscope checkpoint. Structured values are JSON; simple ones plain text.
pub mod keys {
    /// The data [`Schema`](trainscope_data::Schema) as JSON: feature names, target, label map.
    pub const SCHEMA: &str = "trainscope.schema";
    /// The feature standardization `{"mean": [...], "std": [...]}` as JSON, or `null`.
    pub const FEATURE_STANDARDIZER: &str = "trainscope.standardizer.features";
    /// The target standardization as JSON, or `null`.
    pub const TARGET_STANDARDIZER: &str = "trainscope.standardizer.target";
    /// `regression` or `classification`.
    pub const TASK: &str = "trainscope.task";
    /// The loss the model was trained with, e.g. `cross_entropy`.
    pub const LOSS: &str = "trainscope.loss";
    /// `f32` or `f64`: the precision the model was trained in.
    pub const DTYPE: &str = "trainscope.dtype";
    /// The epoch whose weights the file holds (0: before training).
    pub const EPOCH: &str = "trainscope.epoch";
    /// The trainscope version that wrote the file.
    pub const VERSION: &str = "trainscope.version";
}

/// Everything a checkpoint needs to be used on new data.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMeta {
    /// Columns, target and label map of the training data.
    pub schema: Schema,
    /// Feature standardization fitted on the training rows.
    pub feature_standardizer: Option<Standardizer>,
    /// Target standardization (regression), fitted on the training rows.
    pub target_standardizer: Option<Standardizer>,
    /// Regression or classification.
    pub task: Task,
    /// The training loss.
    pub loss: Loss,
    /// Training precision.
    pub dtype: DTypeName,
    /// Epoch of the weights.
    pub epoch: usize,
}

impl ModelMeta {
    /// The string pairs stored in the safetensors header.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let json = |v: &dyn erased::Json| v.json();
        let mut m = BTreeMap::new();
        m.insert(keys::SCHEMA.into(), json(&self.schema));
        m.insert(
            keys::FEATURE_STANDARDIZER.into(),
            json(&self.feature_standardizer),
        );
        m.insert(
            keys::TARGET_STANDARDIZER.into(),
            json(&self.target_standardizer),
        );
        m.insert(keys::TASK.into(), task_name(self.task).into());
        m.insert(keys::LOSS.into(), self.loss.name().into());
        m.insert(keys::DTYPE.into(), self.dtype.name().into());
        m.insert(keys::EPOCH.into(), self.epoch.to_string());
        m.insert(keys::VERSION.into(), crate::VERSION.into());
        m
    }

    /// Reads the metadata back; `path` is named in errors.
    pub fn from_metadata(path: &Path, m: &BTreeMap<String, String>) -> Result<Self> {
        let bad = |msg: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            msg,
        };
        let get = |key: &str| {
            m.get(key).ok_or_else(|| {
                bad(format!(
                    "no \"{key}\" metadata: not a model trained by trainscope's trainer"
                ))
            })
        };
        fn parse<T: for<'a> Deserialize<'a>>(
            key: &str,
            text: &str,
            bad: &dyn Fn(String) -> TrainError,
        ) -> Result<T> {
            serde_json::from_str(text).map_err(|e| bad(format!("invalid \"{key}\" metadata: {e}")))
        }
        let schema: Schema = parse(keys::SCHEMA, get(keys::SCHEMA)?, &bad)?;
        let feature_standardizer = parse(
            keys::FEATURE_STANDARDIZER,
            get(keys::FEATURE_STANDARDIZER)?,
            &bad,
        )?;
        let target_standardizer: Option<Standardizer> = parse(
            keys::TARGET_STANDARDIZER,
            get(keys::TARGET_STANDARDIZER)?,
            &bad,
        )?;
        let task = match get(keys::TASK)?.as_str() {
            "regression" => Task::Regression,
            "classification" => Task::Classification,
            other => return Err(bad(format!("unknown task {other:?}"))),
        };
        let loss: Loss = parse(keys::LOSS, &format!("{:?}", get(keys::LOSS)?), &bad)?;
        let dtype = match m.get(keys::DTYPE).map(String::as_str) {
            Some("f32") => DTypeName::F32,
            _ => DTypeName::F64,
        };
        let epoch = m.get(keys::EPOCH).and_then(|e| e.parse().ok()).unwrap_or(0);
        if task == Task::Classification && schema.targets.len() != 1 {
            return Err(bad(format!(
                "a classification with {} target columns {:?}",
                schema.targets.len(),
                schema.targets
            )));
        }
        if let Some(s) = &target_standardizer {
            let k = schema.targets.len();
            if k > 1 && s.n_features() != k {
                return Err(bad(format!(
                    "the target standardization has {} columns for the {k} target columns",
                    s.n_features()
                )));
            }
        }
        if task != schema.task() {
            return Err(bad(format!(
                "task {} does not match the schema (which is a {})",
                task_name(task),
                task_name(schema.task())
            )));
        }
        Ok(ModelMeta {
            schema,
            feature_standardizer,
            target_standardizer,
            task,
            loss,
            dtype,
            epoch,
        })
    }
}

impl ModelMeta {
    /// The names of a regression model's `outputs` output columns: the target columns, or
    /// `<target>_<k>` (k from 0) when the checkpoint names one target for several outputs.
    pub fn output_columns(&self, outputs: usize) -> Vec<String> {
        let targets = &self.schema.targets;
        if targets.len() == outputs {
            targets.clone()
        } else {
            (0..outputs)
                .map(|k| format!("{}_{k}", targets[0]))
                .collect()
        }
    }

    /// Refuses to score a regression model of `outputs` outputs against the checkpoint's target
    /// columns unless there is one column per output (`path` names the checkpoint).
    pub fn check_scorable(&self, path: &Path, outputs: usize) -> Result<()> {
        let targets = &self.schema.targets;
        if self.task == Task::Regression && targets.len() != outputs {
            return Err(TrainError::Mismatch(format!(
                "{}: the model has {outputs} outputs but its schema names {} target column{} {:?}; \
                 scoring needs one target column per output (predict names the outputs {})",
                path.display(),
                targets.len(),
                if targets.len() == 1 { "" } else { "s" },
                targets,
                self.output_columns(outputs).join(", ")
            )));
        }
        Ok(())
    }
}

mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}

/// `regression` or `classification`.
pub fn task_name(t: Task) -> &'static str {
    match t {
        Task::Regression => "regression",
        Task::Classification => "classification",
    }
}

pub use trainscope_nn::write_atomic;
