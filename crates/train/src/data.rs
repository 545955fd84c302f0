//! Loading the datasets a configuration names, and the plain arrays the trainer reads batches
//! from.

use std::any::Any;
use std::borrow::Cow;
use std::path::Path;

use trainscope_core::Element;
use trainscope_data::{
    is_prepared, load_idx_as, CsvOptions, Dataset, Features, LabelMap, Precision, Prepared,
    ShardReader, Standardizer, Targets, Task,
};
use trainscope_nn::Inputs;

use crate::config::{Config, DTypeName, DataFormat};
use crate::error::{ConfigError, Context, Result, TrainError};

/// The datasets of a run, as read (not standardized).
#[derive(Debug, Clone)]
pub struct RunData {
    /// Rows to train on.
    pub train: Dataset,
    /// Rows to validate on after every epoch, if configured.
    pub validation: Option<Dataset>,
    /// Rows evaluated once at the end, if configured.
    pub test: Option<Dataset>,
    /// The prepared datasets (`data.train` or `data.validation` naming a `.tsd` directory)
    /// whose rows stay in their shards: the matching [`Dataset`] above then holds only the
    /// schema and the targets.
    pub shards: Shards,
}

/// The prepared datasets a run reads in shards.
#[derive(Debug, Clone, Default)]
pub struct Shards {
    /// The training rows.
    pub train: Option<Prepared>,
    /// The validation rows.
    pub validation: Option<Prepared>,
}

/// The error for a command that holds the training rows in memory, given a prepared dataset.
fn in_memory_only(path: &Path) -> TrainError {
    TrainError::Config(ConfigError::Invalid {
        key: "data.train".into(),
        msg: format!(
            "{} is a prepared dataset, which only `train` reads (in shards); this command holds the training rows in memory: give it the CSV or IDX file the data was prepared from, or a smaller sample (--set data.train=FILE)",
            path.display()
        ),
    })
}

/// [`load_run_data`] for training: a prepared dataset (`data.train` or `data.validation` a
/// `.tsd` directory) is opened, not loaded — its manifest checked, its targets read — and its
/// rows are left in the shards for the trainer to read ([`RunData::shards`]).
pub fn load_training_run(config: &Config) -> Result<RunData> {
    let d = &config.data;
    let Some(train_path) = d.train.as_ref().filter(|p| is_prepared(p)) else {
        if let Some(v) = d.validation.as_ref().filter(|p| is_prepared(p)) {
            return Err(TrainError::Config(ConfigError::Invalid {
                key: "data.validation".into(),
                msg: format!(
                    "{} is a prepared dataset; prepared validation rows go with prepared training rows (data.train = \"….tsd\")",
                    v.display()
                ),
            }));
        }
        return load_run_data(config);
    };
    if d.validation_fraction.is_some() {
        return Err(TrainError::Config(ConfigError::Invalid {
            key: "data.validation_fraction".into(),
            msg: format!(
                "{} is a prepared dataset, read in shards, that is not split: give the validation rows as data.validation (a CSV file or another prepared dataset)",
                train_path.display()
            ),
        }));
    }
    let prepared = Prepared::open(train_path)?;
    let train = match (&config.model.init, prepared.manifest().task) {
        (Some(init), Task::Classification) => {
            with_checkpoint_labels(prepared.targets_dataset()?, init)?
        }
        _ => prepared.targets_dataset()?,
    };
    let mut shards = Shards {
        train: Some(prepared),
        validation: None,
    };
    let precision = feature_precision(config);
    let validation = match &d.validation {
        Some(path) if is_prepared(path) => {
            let v = Prepared::open(path)?;
            if v.manifest().schema != train.schema()
                || v.manifest().image_shape != train.image_shape()
            {
                return Err(TrainError::Config(ConfigError::Invalid {
                    key: "data.validation".into(),
                    msg: format!(
                        "{} has other columns, targets or labels than {}",
                        path.display(),
                        train_path.display()
                    ),
                }));
            }
            let rows = v.targets_dataset()?;
            shards.validation = Some(v);
            Some(rows)
        }
        Some(path) => Some(train.schema().load_as(path, precision)?),
        None => None,
    };
    let test = match &d.test {
        Some(path) => Some(train.schema().load_as(path, precision)?),
        None => None,
    };
    Ok(RunData {
        train,
        validation,
        test,
        shards,
    })
}

/// Reads the training data of `config` (CSV or IDX), and the validation and test sets; a
/// validation fraction is split off the training rows with the configuration's seed.
///
/// A prepared dataset (`.tsd`) is refused with an error that says so: only
/// [`load_training_run`] reads it, in shards.
pub fn load_run_data(config: &Config) -> Result<RunData> {
    let full = load_training_data(config)?;
    let d = &config.data;
    let (train, mut validation) = match d.validation_fraction {
        Some(f) => {
            let (t, v) = full
                .split_validation(f, config.seed, d.stratify)
                .context(|| "data.validation_fraction".to_string())?;
            (t, Some(v))
        }
        None => (full, None),
    };
    let precision = feature_precision(config);
    if let Some(path) = &d.validation {
        validation = Some(train.schema().load_as(path, precision)?);
    }
    let test = match d.format {
        DataFormat::Csv => match &d.test {
            Some(path) => Some(train.schema().load_as(path, precision)?),
            None => None,
        },
        DataFormat::Idx => match (&d.test_images, &d.test_labels) {
            (Some(images), Some(labels)) => {
                let raw = load_idx_as(images, labels, precision)?;
                if raw.image_shape() != train.image_shape() {
                    return Err(TrainError::Config(ConfigError::Invalid {
                        key: "data.test_images".into(),
                        msg: format!(
                            "{} holds images of {}, the training images are {}",
                            images.display(),
                            dims(raw.image_shape()),
                            dims(train.image_shape())
                        ),
                    }));
                }
                // The test file's own label map counts only its own classes; the model's
                // class indices are the training set's.
                let classes = raw.targets().as_classes().unwrap_or_default().to_vec();
                let map = train
                    .label_map()
                    .cloned()
                    .unwrap_or_else(|| LabelMap::range(0));
                let test = raw.with_classes(classes, map).context(|| {
                    format!(
                        "{}: labels do not fit the {} classes of the training labels",
                        labels.display(),
                        train.num_classes().unwrap_or(0)
                    )
                })?;
                Some(test)
            }
            _ => None,
        },
    };
    Ok(RunData {
        train,
        validation,
        test,
        shards: Shards::default(),
    })
}

/// Reads only the training file(s), before any validation split (what cross validation folds).
/// With `model.init` naming a classifier, the labels take that checkpoint's class indices.
pub fn load_training_data(config: &Config) -> Result<Dataset> {
    for path in [&config.data.train, &config.data.validation]
        .into_iter()
        .flatten()
    {
        if is_prepared(path) {
            return Err(in_memory_only(path));
        }
    }
    let data = read_training_data(config)?;
    if let (Some(given), Some(file)) = (&config.data.image_shape, data.image_shape()) {
        if given[..] != file[..] {
            let path = config.data.train_images.as_deref().unwrap_or(Path::new(""));
            return Err(TrainError::Config(ConfigError::Invalid {
                key: "data.image_shape".into(),
                msg: format!(
                    "{given:?} does not match the images of {}, which are {} ({file:?}); leave the key out to take the file's",
                    path.display(),
                    dims(Some(file))
                ),
            }));
        }
    }
    match &config.model.init {
        Some(init) if data.task() == Task::Classification => with_checkpoint_labels(data, init),
        _ => Ok(data),
    }
}

/// `data` with its labels mapped through the label map of the checkpoint `init`, so that a
/// fine-tuned model keeps its classes (a class absent from the new data stays in the model).
/// A label the checkpoint does not know is an error naming it; a checkpoint without a label
/// map (a regression model) is left to the output-count check.
fn with_checkpoint_labels(data: Dataset, init: &std::path::Path) -> Result<Dataset> {
    let bytes = std::fs::read(init).map_err(|e| TrainError::Checkpoint {
        path: init.to_path_buf(),
        msg: format!("cannot read: {e}"),
    })?;
    if !trainscope_nn::FileHeader::parse(init, &bytes)?.describes_model() {
        // A plain state dict has no label map: its outputs are the data's classes in order.
        return Ok(data);
    }
    let ckpt = trainscope_nn::Sequential::<f64>::parse(init, &bytes)?;
    let meta = crate::meta::ModelMeta::from_metadata(init, &ckpt.metadata)?;
    let Some(map) = meta.schema.label_map else {
        return Ok(data);
    };
    let own = data
        .label_map()
        .expect("class targets have a label map")
        .clone();
    let mut index = Vec::with_capacity(own.len());
    for label in own.labels() {
        match map.index_of(label) {
            Some(i) => index.push(i),
            None => {
                return Err(TrainError::Config(ConfigError::Invalid {
                    key: "model.init".into(),
                    msg: format!(
                        "the training data has the label {label:?}, which is not among the {} classes of {} ({})",
                        map.len(),
                        init.display(),
                        map.labels().join(", ")
                    ),
                }))
            }
        }
    }
    let classes = match data.targets() {
        Targets::Classes(c) => c.iter().map(|&k| index[k]).collect(),
        regression => unreachable!("checked: class targets, not {regression:?}"),
    };
    Ok(data.with_classes(classes, map)?)
}

/// How a run stores its features: as `f32` when it trains in `f32` on the values as read (no
/// standardization), converted once while reading and then used in place; exactly as read
/// otherwise, because standardizing must start from the values as read for its results (and
/// the run's metrics) to be those of `f64` arithmetic on them.
pub fn feature_precision(config: &Config) -> Precision {
    match (config.dtype, config.data.standardize) {
        (DTypeName::F32, false) => Precision::F32,
        _ => Precision::F64,
    }
}

/// One example's shape as the model sees it: `data.image_shape` if given, else the images'
/// own (IDX files are `1 × rows × cols`), else a row of `train`'s features. A layer list that
/// fits flat rows but not the file's images (one starting with a linear layer) keeps the rows
/// flat, as it did before images kept their shape.
pub fn input_shape(config: &Config, train: &Dataset) -> Inputs {
    let flat = Inputs::width(train.n_features());
    match (&config.data.image_shape, train.image_shape()) {
        (Some(given), _) => Inputs::shape(given.clone()),
        (None, Some(file)) => {
            let image = Inputs::shape(file.to_vec());
            let fits = |inputs: &Inputs, layers: &[trainscope_nn::Layer]| {
                trainscope_nn::ModelSpec::new(inputs.clone(), layers.to_vec())
                    .validate()
                    .is_ok()
            };
            match &config.model.layers {
                Some(l) if !fits(&image, l) && fits(&flat, l) => flat,
                _ => image,
            }
        }
        (None, None) => flat,
    }
}

/// `1 × 28 × 28`, or `rows of plain columns`.
fn dims(shape: Option<[usize; 3]>) -> String {
    match shape {
        Some(s) => s.map(|d| d.to_string()).join(" × "),
        None => "rows of plain columns".into(),
    }
}

fn read_training_data(config: &Config) -> Result<Dataset> {
    let d = &config.data;
    Ok(match d.format {
        DataFormat::Csv => {
            let path = d.train.as_ref().expect("validated: data.train is set");
            let target = d.target.as_ref().expect("validated: data.target is set");
            let mut opts = match config.task() {
                Task::Regression => CsvOptions::regression_on(target.names().iter().cloned()),
                Task::Classification => CsvOptions::classification(&target.names()[0]),
            };
            if let Some(f) = &d.features {
                opts = opts.with_features(f.iter().cloned());
            }
            opts.with_precision(feature_precision(config)).load(path)?
        }
        DataFormat::Idx => load_idx_as(
            d.train_images.as_ref().expect("validated"),
            d.train_labels.as_ref().expect("validated"),
            feature_precision(config),
        )?,
    })
}

/// A dataset as the model sees it: standardized features in the model's element type, and the
/// targets in the form the loss takes.
///
/// The features are borrowed from the dataset when it stores them in `T` already and nothing
/// is to be standardized (a dataset loaded in the training dtype, see [`Precision`]); otherwise
/// they are converted once, row by row from the stored values, without an `f64` copy.
pub(crate) struct Arrays<'a, T: Clone> {
    pub n: usize,
    pub d: usize,
    pub x: Cow<'a, [T]>,
    /// Regression targets (standardized if configured), `n × width` row-major, or 0/1 for a
    /// one-logit binary model.
    pub values: Vec<T>,
    /// Values per row: the number of regression targets, 1 for classes.
    pub width: usize,
    /// Class indices, for losses that take classes.
    pub classes: Vec<u32>,
    /// Class indices for accuracy (classification only).
    pub labels: Option<Vec<usize>>,
    /// The rows of a prepared dataset, read from its shards (`x` is then empty).
    pub shards: Option<ShardRows>,
}

/// Rows of a prepared dataset as the model sees them: read from the shards and standardized
/// with the manifest's statistics, one batch or chunk at a time.
pub(crate) struct ShardRows {
    pub reader: ShardReader,
    pub standardizer: Option<Standardizer>,
}

impl ShardRows {
    /// The row's stored values → `T`, standardized: `(x − μ_j) / σ_j` in `f64` as
    /// [`Standardizer::transform_each`] computes it, then rounded to `T`.
    #[inline]
    fn convert<T: Element>(
        &self,
        stored: trainscope_data::StoredType,
        row: &[u8],
        d: usize,
        out: &mut [T],
    ) {
        match &self.standardizer {
            Some(s) => {
                for (j, (o, (m, sd))) in
                    out.iter_mut().zip(s.mean().iter().zip(s.std())).enumerate()
                {
                    *o = T::from_f64((stored.value(row, j) - m) / sd);
                }
            }
            None => {
                for (j, o) in out.iter_mut().enumerate().take(d) {
                    *o = T::from_f64(stored.value(row, j));
                }
            }
        }
    }
}

impl<T: Element> Arrays<'_, T> {
    /// The rows `rows` (in that order) as an `[rows, d]` tensor: gathered from memory, or read
    /// from the shards.
    pub fn gather(&self, rows: &[usize]) -> Result<trainscope_core::Tensor<T>> {
        let d = self.d;
        match &self.shards {
            None => trainscope_core::Tensor::gather_rows(&self.x, d, rows)
                .context(|| "batch".to_string()),
            Some(sh) => {
                let mut v = vec![T::zero(); rows.len() * d];
                sh.reader.for_rows(rows, |i, stored, row| {
                    sh.convert(stored, row, d, &mut v[i * d..(i + 1) * d])
                })?;
                trainscope_core::Tensor::from_vec(v, &[rows.len(), d])
                    .context(|| "batch".to_string())
            }
        }
    }

    /// Rows `range` in order, `d` values each: borrowed from memory, or read from the shards.
    pub fn chunk(&self, range: std::ops::Range<usize>) -> trainscope_core::Result<Cow<'_, [T]>> {
        let d = self.d;
        match &self.shards {
            None => Ok(Cow::Borrowed(&self.x[range.start * d..range.end * d])),
            Some(sh) => {
                let mut v = vec![T::zero(); range.len() * d];
                let first = range.start;
                let width = d * sh.reader.manifest().dtype.size();
                sh.reader
                    .for_range(range, |r, stored, bytes| {
                        for (i, row) in bytes.chunks_exact(width).enumerate() {
                            let at = (r - first + i) * d;
                            sh.convert(stored, row, d, &mut v[at..at + d]);
                        }
                    })
                    .map_err(|e| trainscope_core::Error::InvalidArgument {
                        op: "reading rows",
                        msg: e.to_string(),
                    })?;
                Ok(Cow::Owned(v))
            }
        }
    }
}

impl<'a, T: Element> Arrays<'a, T> {
    /// The rows of a prepared dataset: targets from `data` (see
    /// [`Prepared::targets_dataset`]), features read from `prepared`'s shards, at most
    /// `max_open` shards mapped at a time.
    pub fn sharded(
        data: &Dataset,
        prepared: &Prepared,
        max_open: usize,
        features: Option<&Standardizer>,
        target: Option<&Standardizer>,
    ) -> Result<Self> {
        Ok(Arrays {
            shards: Some(ShardRows {
                reader: prepared.reader(max_open),
                standardizer: features.cloned(),
            }),
            ..Arrays::targets_only(data, target)?
        })
    }

    pub fn new(
        data: &'a Dataset,
        features: Option<&Standardizer>,
        target: Option<&Standardizer>,
    ) -> Result<Self> {
        let stored = data.feature_values();
        let x = match (features, stored_as::<T>(stored)) {
            (None, Some(x)) => Cow::Borrowed(x),
            (None, None) => Cow::Owned(
                (0..stored.len())
                    .map(|i| T::from_f64(stored.get(i)))
                    .collect(),
            ),
            (Some(s), _) => {
                let mut x = Vec::with_capacity(stored.len());
                s.transform_each(stored, |v| x.push(T::from_f64(v)))
                    .context(|| "standardizing the features".to_string())?;
                Cow::Owned(x)
            }
        };
        Ok(Arrays {
            x,
            ..Arrays::targets_only(data, target)?
        })
    }

    /// The rows' targets without their features (`x` empty): for what reads only the targets,
    /// such as the trivial model.
    pub fn targets_only(data: &Dataset, target: Option<&Standardizer>) -> Result<Self> {
        let (values, classes, labels) = match data.targets() {
            Targets::Regression(y) => {
                let mut y = y.clone();
                if let Some(s) = target {
                    s.transform(&mut y)
                        .context(|| "standardizing the target".to_string())?;
                }
                (y.into_iter().map(T::from_f64).collect(), Vec::new(), None)
            }
            Targets::Classes(c) => (
                c.iter().map(|&k| T::from_f64(k as f64)).collect(),
                c.iter().map(|&k| k as u32).collect(),
                Some(c.clone()),
            ),
        };
        Ok(Arrays {
            n: data.n_rows(),
            d: data.n_features(),
            x: Cow::Owned(Vec::new()),
            values,
            width: data.n_targets(),
            classes,
            labels,
            shards: None,
        })
    }
}

/// The stored features as a slice of `T`, when that is how they are stored.
fn stored_as<T: 'static>(stored: &Features) -> Option<&[T]> {
    let any: &dyn Any = match stored {
        Features::F64(v) => v,
        Features::F32(v) => v,
        Features::Bytes(_) | Features::Elsewhere(_) => return None,
    };
    any.downcast_ref::<Vec<T>>().map(Vec::as_slice)
}
