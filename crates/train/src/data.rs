//! Loading the datasets a configuration names, and the plain arrays the trainer reads batches
//! from.

use std::path::Path;

use trainscope_core::Element;
use trainscope_data::{load_idx, CsvOptions, Dataset, Standardizer, Targets, Task};
use trainscope_nn::Inputs;

use crate::config::{Config, DataFormat};
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
}

/// Reads the training data of `config` (CSV or IDX), and the validation and test sets; a
/// validation fraction is split off the training rows with the configuration's seed.
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
    if let Some(path) = &d.validation {
        validation = Some(train.schema().load(path)?);
    }
    let test = match d.format {
        DataFormat::Csv => match &d.test {
            Some(path) => Some(train.schema().load(path)?),
            None => None,
        },
        DataFormat::Idx => match (&d.test_images, &d.test_labels) {
            (Some(images), Some(labels)) => {
                let raw = load_idx(images, labels)?;
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
                let shape = raw.image_shape();
                let (features, names, target, targets, _) = raw.into_parts();
                let map = train.label_map().cloned();
                let test =
                    Dataset::with_targets(features, names, target, targets, map).context(|| {
                        format!(
                            "{}: labels do not fit the {} classes of the training labels",
                            labels.display(),
                            train.num_classes().unwrap_or(0)
                        )
                    })?;
                Some(match shape {
                    Some(s) => test.with_image_shape(s)?,
                    None => test,
                })
            }
            _ => None,
        },
    };
    Ok(RunData {
        train,
        validation,
        test,
    })
}

/// Reads only the training file(s), before any validation split (what cross validation folds).
/// With `model.init` naming a classifier, the labels take that checkpoint's class indices.
pub fn load_training_data(config: &Config) -> Result<Dataset> {
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
    let shape = data.image_shape();
    let (features, names, target, targets, _) = data.into_parts();
    let classes = match targets {
        Targets::Classes(c) => c.into_iter().map(|k| index[k]).collect(),
        regression => unreachable!("checked: class targets, not {regression:?}"),
    };
    let relabelled = Dataset::with_targets(
        features,
        names,
        target,
        Targets::Classes(classes),
        Some(map),
    )?;
    Ok(match shape {
        Some(s) => relabelled.with_image_shape(s)?,
        None => relabelled,
    })
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
            opts.load(path)?
        }
        DataFormat::Idx => load_idx(
            d.train_images.as_ref().expect("validated"),
            d.train_labels.as_ref().expect("validated"),
        )?,
    })
}

/// A dataset as the model sees it: standardized features in the model's element type, and the
/// targets in the form the loss takes.
pub(crate) struct Arrays<T> {
    pub n: usize,
    pub d: usize,
    pub x: Vec<T>,
    /// Regression targets (standardized if configured), `n × width` row-major, or 0/1 for a
    /// one-logit binary model.
    pub values: Vec<T>,
    /// Values per row: the number of regression targets, 1 for classes.
    pub width: usize,
    /// Class indices, for losses that take classes.
    pub classes: Vec<u32>,
    /// Class indices for accuracy (classification only).
    pub labels: Option<Vec<usize>>,
}

impl<T: Element> Arrays<T> {
    pub fn new(
        data: &Dataset,
        features: Option<&Standardizer>,
        target: Option<&Standardizer>,
    ) -> Result<Self> {
        let mut x = data.features().to_vec();
        if let Some(s) = features {
            s.transform(&mut x)
                .context(|| "standardizing the features".to_string())?;
        }
        Ok(Arrays {
            x: x.into_iter().map(T::from_f64).collect(),
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
            x: Vec::new(),
            values,
            width: data.n_targets(),
            classes,
            labels,
        })
    }
}
