use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::features::Features;
use crate::labels::LabelMap;

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// The target is a real number.
    Regression,
    /// The target is one of K classes, stored as an index `0..K` through a [`LabelMap`].
    Classification,
}

/// The targets of a dataset: one class per row, or K real values per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Real-valued targets, row-major `n × K` (K target columns; usually one).
    Regression(Vec<f64>),
    /// Class indices `0..K`; the dataset's [`LabelMap`] says which label each index stands for.
    Classes(Vec<usize>),
}

impl Targets {
    /// The number of values: one per row for classes, `n × K` for K regression targets.
    pub fn len(&self) -> usize {
        match self {
            Targets::Regression(v) => v.len(),
            Targets::Classes(v) => v.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The task these targets belong to.
    pub fn task(&self) -> Task {
        match self {
            Targets::Regression(_) => Task::Regression,
            Targets::Classes(_) => Task::Classification,
        }
    }

    /// The regression values, or `None` for class targets.
    pub fn as_regression(&self) -> Option<&[f64]> {
        match self {
            Targets::Regression(v) => Some(v),
            Targets::Classes(_) => None,
        }
    }

    /// The class indices, or `None` for regression targets.
    pub fn as_classes(&self) -> Option<&[usize]> {
        match self {
            Targets::Classes(v) => Some(v),
            Targets::Regression(_) => None,
        }
    }

    /// The targets of `rows`, in that order, `width` values per row for regression. Indices
    /// must be in range (checked by callers).
    pub(crate) fn gather(&self, rows: &[usize], width: usize) -> Targets {
        match self {
            Targets::Regression(v) => Targets::Regression(
                rows.iter()
                    .flat_map(|&r| &v[r * width..(r + 1) * width])
                    .copied()
                    .collect(),
            ),
            Targets::Classes(v) => Targets::Classes(rows.iter().map(|&r| v[r]).collect()),
        }
    }
}

/// A table of examples: an `n × d` row-major feature matrix, one target per row (a class, or K
/// real values for a regression on K target columns), the feature and target names, and for
/// classification the [`LabelMap`] that gives the class indices their meaning.
///
/// Row `i` is `features()[i * d .. (i + 1) * d]`. The values are stored as [`Features`]: `f64`,
/// or more compactly `f32` or bytes when a loader was asked for it (see
/// [`Precision`](crate::Precision)); [`Dataset::feature_values`] gives them as stored, and code
/// on the training path reads them there, so a compact dataset is never widened to `f64` for
/// it. [`Dataset::features`] gives `f64` values for code that works in `f64` (diagnostics):
/// for compact storage they are computed on the first call and kept with the dataset.
///
/// The invariants (matrix size, one target per row,
/// class indices below K, a label map exactly for class targets) are checked when the dataset is
/// built, so code that receives a `Dataset` can rely on them.
///
/// ```
/// use trainscope_data::{Dataset, LabelMap, Targets};
///
/// let data = Dataset::new(
///     vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], // 3 rows × 2 features
///     vec!["height".into(), "weight".into()],
///     "species",
///     Targets::Classes(vec![0, 1, 1]),
///     Some(LabelMap::from_labels(["cat", "dog"])),
/// )?;
/// assert_eq!((data.n_rows(), data.n_features()), (3, 2));
/// assert_eq!(data.row(1), [3.0, 4.0]);
/// assert_eq!(data.class_counts(), Some(vec![1, 2]));
///
/// let firsts = data.select(&[2, 0])?;
/// assert_eq!(firsts.features(), [5.0, 6.0, 1.0, 2.0]);
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dataset {
    features: Features,
    /// `features` as `f64` when they are stored otherwise, made on the first call of
    /// [`Dataset::features`].
    widened: OnceLock<Vec<f64>>,
    feature_names: Vec<String>,
    target_names: Vec<String>,
    n_rows: usize,
    targets: Targets,
    label_map: Option<LabelMap>,
    /// `[C, H, W]` when every row is an image's pixels in C, H, W row-major order, as the
    /// file said (IDX images); `None` for plain columns.
    image_shape: Option<[usize; 3]>,
}

impl Dataset {
    /// Builds a dataset, checking that the parts fit together.
    ///
    /// `features` is row-major with `feature_names.len()` columns. `label_map` must be `Some`
    /// exactly when `targets` are [`Targets::Classes`], and every class index must be below the
    /// map's length.
    pub fn new(
        features: Vec<f64>,
        feature_names: Vec<String>,
        target_name: impl Into<String>,
        targets: Targets,
        label_map: Option<LabelMap>,
    ) -> Result<Dataset> {
        Dataset::with_targets(
            features,
            feature_names,
            vec![target_name.into()],
            targets,
            label_map,
        )
    }

    /// [`Dataset::new`] with several target columns: `targets` holds `n × K` regression values
    /// row-major, K = `target_names.len()`. Class targets take exactly one name.
    pub fn with_targets(
        features: Vec<f64>,
        feature_names: Vec<String>,
        target_names: Vec<String>,
        targets: Targets,
        label_map: Option<LabelMap>,
    ) -> Result<Dataset> {
        Dataset::from_parts(
            Features::F64(features),
            feature_names,
            target_names,
            targets,
            label_map,
        )
    }

    /// [`Dataset::with_targets`] with features in any storage (see [`Features`]).
    pub fn from_parts(
        features: Features,
        feature_names: Vec<String>,
        target_names: Vec<String>,
        targets: Targets,
        label_map: Option<LabelMap>,
    ) -> Result<Dataset> {
        let k = target_names.len();
        let one_class_column = matches!(targets, Targets::Classes(_)) && k != 1;
        if k == 0 || one_class_column || targets.len() % k != 0 {
            return Err(DataError::Shape {
                context: "Dataset::new",
                message: format!(
                    "{} target values do not fit the {k} target names {target_names:?}",
                    targets.len()
                ),
            });
        }
        let (n, d) = (targets.len() / k, feature_names.len());
        if n.checked_mul(d) != Some(features.len()) {
            return Err(DataError::Shape {
                context: "Dataset::new",
                message: format!(
                    "{} feature values do not form {n} rows × {d} features",
                    features.len()
                ),
            });
        }
        match (&targets, &label_map) {
            (Targets::Regression(_), None) => {}
            (Targets::Classes(classes), Some(map)) => {
                if let Some((row, &c)) = classes.iter().enumerate().find(|(_, &c)| c >= map.len()) {
                    return Err(DataError::Shape {
                        context: "Dataset::new",
                        message: format!(
                            "row {row} has class index {c} but the label map has {} classes",
                            map.len()
                        ),
                    });
                }
            }
            (Targets::Regression(_), Some(_)) => {
                return Err(DataError::WrongTask(
                    "Dataset::new: regression targets take no label map".into(),
                ))
            }
            (Targets::Classes(_), None) => {
                return Err(DataError::WrongTask(
                    "Dataset::new: class targets need a label map".into(),
                ))
            }
        }
        Ok(Dataset {
            features,
            widened: OnceLock::new(),
            feature_names,
            target_names,
            n_rows: n,
            targets,
            label_map,
            image_shape: None,
        })
    }

    /// The same rows, each an image of `shape` (`[C, H, W]`, whose product must be the number
    /// of features).
    pub fn with_image_shape(mut self, shape: [usize; 3]) -> Result<Dataset> {
        if shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(self.n_features()) {
            return Err(DataError::Shape {
                context: "Dataset::with_image_shape",
                message: format!(
                    "images of {shape:?} do not hold the {} features of a row",
                    self.n_features()
                ),
            });
        }
        self.image_shape = Some(shape);
        Ok(self)
    }

    /// One row's `[C, H, W]` when the rows are images whose shape the file gave (IDX), else
    /// `None`.
    pub fn image_shape(&self) -> Option<[usize; 3]> {
        self.image_shape
    }

    /// The number of rows (examples) n.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The number of target values per row K: the target columns of a regression, 1 for
    /// classes.
    pub fn n_targets(&self) -> usize {
        self.target_names.len()
    }

    /// The number of features d.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The `n × d` feature matrix, row-major, in `f64`. For features stored compactly (`f32`
    /// or bytes) the `f64` matrix is made on the first call and kept with the dataset: code that
    /// can work on the stored values reads [`Dataset::feature_values`] instead.
    pub fn features(&self) -> &[f64] {
        match &self.features {
            Features::F64(v) => v,
            other => self.widened.get_or_init(|| other.to_f64()),
        }
    }

    /// The feature values as stored, row-major `n × d`.
    pub fn feature_values(&self) -> &Features {
        &self.features
    }

    /// Mutable access to the feature values (the shape cannot change), e.g. to standardize in
    /// place. Compactly stored features become `f64` first.
    pub fn features_mut(&mut self) -> &mut [f64] {
        if !matches!(self.features, Features::F64(_)) {
            let widened = self
                .widened
                .take()
                .unwrap_or_else(|| self.features.to_f64());
            self.features = Features::F64(widened);
        }
        match &mut self.features {
            Features::F64(v) => v,
            _ => unreachable!("made f64 above"),
        }
    }

    /// The features of row `i`.
    ///
    /// # Panics
    /// When `i >= n_rows()`.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[f64] {
        assert!(
            i < self.n_rows(),
            "row {i} out of range for a dataset of {} rows",
            self.n_rows()
        );
        let d = self.n_features();
        &self.features()[i * d..(i + 1) * d]
    }

    /// The targets, one class or K values per row.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Mutable access to regression targets (e.g. to standardize them); `None` for class targets,
    /// whose indices must stay consistent with the label map.
    pub fn regression_targets_mut(&mut self) -> Option<&mut [f64]> {
        match &mut self.targets {
            Targets::Regression(v) => Some(v),
            Targets::Classes(_) => None,
        }
    }

    /// The task: regression or classification.
    pub fn task(&self) -> Task {
        self.targets.task()
    }

    /// Column names of the features, in matrix column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The name of the (first) target column.
    pub fn target_name(&self) -> &str {
        &self.target_names[0]
    }

    /// The names of the target columns, in the order of each row's target values.
    pub fn target_names(&self) -> &[String] {
        &self.target_names
    }

    /// The label map for classification; `None` for regression.
    pub fn label_map(&self) -> Option<&LabelMap> {
        self.label_map.as_ref()
    }

    /// The number of classes K for classification; `None` for regression.
    pub fn num_classes(&self) -> Option<usize> {
        self.label_map.as_ref().map(LabelMap::len)
    }

    /// How many rows each class has (index = class); `None` for regression.
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let classes = self.targets.as_classes()?;
        let mut counts = vec![0; self.num_classes().unwrap_or(0)];
        for &c in classes {
            counts[c] += 1;
        }
        Some(counts)
    }

    /// A new dataset made of `rows` in the given order (repeats allowed), with the same names
    /// and label map. Used for train/validation splits and cross-validation folds.
    pub fn select(&self, rows: &[usize]) -> Result<Dataset> {
        let n = self.n_rows();
        if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
            return Err(DataError::Shape {
                context: "Dataset::select",
                message: format!("row index {bad} out of range for a dataset of {n} rows"),
            });
        }
        Ok(Dataset {
            features: self.features.gather(rows, self.n_features()),
            widened: OnceLock::new(),
            feature_names: self.feature_names.clone(),
            target_names: self.target_names.clone(),
            n_rows: rows.len(),
            targets: self.targets.gather(rows, self.n_targets()),
            label_map: self.label_map.clone(),
            image_shape: self.image_shape,
        })
    }

    /// What must be saved with a model so that later files are read the same way: feature
    /// names (in column order), the target names and the label map.
    pub fn schema(&self) -> Schema {
        Schema {
            feature_names: self.feature_names.clone(),
            targets: self.target_names.clone(),
            label_map: self.label_map.clone(),
        }
    }

    /// The same rows with other class targets and label map (e.g. another model's class
    /// indices for the same labels), checked as in [`Dataset::new`]; features, names and image
    /// shape are kept as they are, without a copy.
    pub fn with_classes(self, classes: Vec<usize>, label_map: LabelMap) -> Result<Dataset> {
        if classes.len() != self.n_rows || self.task() != Task::Classification {
            return Err(DataError::WrongTask(format!(
                "Dataset::with_classes: {} class indices for {} rows of {} targets",
                classes.len(),
                self.n_rows,
                match self.task() {
                    Task::Classification => "class",
                    Task::Regression => "regression",
                }
            )));
        }
        let shape = self.image_shape;
        let relabelled = Dataset::from_parts(
            self.features,
            self.feature_names,
            self.target_names,
            Targets::Classes(classes),
            Some(label_map),
        )?;
        Ok(Dataset {
            image_shape: shape,
            ..relabelled
        })
    }

    /// Takes the dataset apart: `(features, feature_names, target_names, targets, label_map)`
    /// (the image shape, if any, is left to the caller: [`Dataset::image_shape`] first).
    /// Compactly stored features are widened to `f64`.
    pub fn into_parts(
        self,
    ) -> (
        Vec<f64>,
        Vec<String>,
        Vec<String>,
        Targets,
        Option<LabelMap>,
    ) {
        let features = match self.features {
            Features::F64(v) => v,
            other => self.widened.into_inner().unwrap_or_else(|| other.to_f64()),
        };
        (
            features,
            self.feature_names,
            self.target_names,
            self.targets,
            self.label_map,
        )
    }
}

/// Equal when the stored features (storage and values), names, targets, label map and image
/// shape are; whether the `f64` view was made does not count.
impl PartialEq for Dataset {
    fn eq(&self, other: &Dataset) -> bool {
        self.features == other.features
            && self.feature_names == other.feature_names
            && self.target_names == other.target_names
            && self.n_rows == other.n_rows
            && self.targets == other.targets
            && self.label_map == other.label_map
            && self.image_shape == other.image_shape
    }
}

/// How a model's data is laid out: which columns are its features (by name, in order), which
/// columns are the targets, and, for classification, the label map.
///
/// Take it from the training [`Dataset`] with [`Dataset::schema`], save it with the model (it is
/// `Serialize`), and use it to read validation or test files ([`Schema::load`]) and prediction
/// inputs ([`Schema::load_for_prediction`]): columns are found by name, so their order in the
/// later file does not matter, and labels keep their class indices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Feature column names, in the order of the model's inputs.
    pub feature_names: Vec<String>,
    /// Names of the target columns: one, or K for a regression with K outputs. Stored under
    /// `target` as a string when there is one (as older checkpoints have it), else a list.
    #[serde(rename = "target", with = "one_or_many")]
    pub targets: Vec<String>,
    /// `Some` for classification, `None` for regression.
    pub label_map: Option<LabelMap>,
}

impl Schema {
    /// The name of the (first) target column.
    pub fn target(&self) -> &str {
        &self.targets[0]
    }

    /// Regression or classification.
    pub fn task(&self) -> Task {
        if self.label_map.is_some() {
            Task::Classification
        } else {
            Task::Regression
        }
    }
}

/// Inputs for prediction: the feature matrix in a model's column order and, if the file had
/// the target column, the targets (so predictions can also be scored).
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionData {
    /// `n × d` row-major feature matrix.
    pub features: Vec<f64>,
    /// Feature names, in column order (the schema's order).
    pub feature_names: Vec<String>,
    /// Targets when the file had the target column, else `None`.
    pub targets: Option<Targets>,
    /// The 1-based file line of every row, to point back into the file when reporting
    /// predictions.
    pub lines: Vec<u64>,
}

impl PredictionData {
    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// The number of features.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }
}

/// A list of names stored as a plain string when it has one entry.
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    pub fn serialize<S: Serializer>(names: &[String], s: S) -> Result<S::Ok, S::Error> {
        match names {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        match OneOrMany::deserialize(d)? {
            OneOrMany::One(name) => Ok(vec![name]),
            OneOrMany::Many(names) if !names.is_empty() => Ok(names),
            OneOrMany::Many(_) => Err(serde::de::Error::custom("the target list is empty")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CsvOptions, Standardizer};

    #[test]
    fn a_schema_stores_one_target_as_a_string_and_several_as_a_list() {
        let one = r#"{"feature_names":["x"],"target":"y","label_map":null}"#;
        let s: Schema = serde_json::from_str(one).unwrap();
        assert_eq!(s.targets, ["y"]);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            one,
            "older readers see no change"
        );
        let many = r#"{"feature_names":["x"],"target":["y0","y1"],"label_map":null}"#;
        let s: Schema = serde_json::from_str(many).unwrap();
        assert_eq!((s.targets.len(), s.target()), (2, "y0"));
        assert_eq!(serde_json::to_string(&s).unwrap(), many);
        let none = r#"{"feature_names":["x"],"target":[],"label_map":null}"#;
        assert!(serde_json::from_str::<Schema>(none).is_err());
    }

    #[test]
    fn several_target_columns_are_read_selected_and_standardized_per_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,y1,b,y0\n1,10,2,0\n3,30,4,1\n5,50,6,2\n").unwrap();
        let d = CsvOptions::regression_on(["y0", "y1"]).load(&path).unwrap();
        assert_eq!((d.n_rows(), d.n_features(), d.n_targets()), (3, 2, 2));
        assert_eq!(d.feature_names(), ["a", "b"]);
        assert_eq!(d.target_names(), ["y0", "y1"]);
        // Row-major n × K in the order of the list, not of the file.
        assert_eq!(
            d.targets().as_regression().unwrap(),
            [0.0, 10.0, 1.0, 30.0, 2.0, 50.0]
        );
        let s = d.select(&[2, 0]).unwrap();
        assert_eq!(s.targets().as_regression().unwrap(), [2.0, 50.0, 0.0, 10.0]);
        let t = Standardizer::fit_targets(&d).unwrap();
        assert_eq!(t.mean(), [1.0, 30.0]);
        // Reading back with the schema finds the same columns.
        let again = d.schema().load(&path).unwrap();
        assert_eq!(again, d);
        assert!(CsvOptions::regression_on(Vec::<String>::new())
            .load(&path)
            .is_err());
    }
}
