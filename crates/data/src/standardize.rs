use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Targets};
use crate::error::{DataError, Result};
use crate::features::Features;

/// Feature normalization: `x̃_j = (x_j − μ_j) / σ_j` per feature j, with the mean μ_j and the
/// standard deviation σ_j of the **training** set.
///
/// Fit it on the training data only and apply the same `Standardizer` to training, validation,
/// test and prediction data; statistics taken from validation data would leak it into training.
/// It is `Serialize`, to be saved with the model.
///
/// * σ is the **population** standard deviation, `σ_j = sqrt((1/n) Σ_i (x_ij − μ_j)²)`: the
///   statistic of the data at hand (not an estimate of a larger population's), defined for n = 1,
///   and what scikit-learn's `StandardScaler` uses, so results can be compared with it.
/// * A **constant** column (σ = 0) would divide by zero; its σ is stored as 1 instead, so the
///   column becomes all zeros on the training set and `x − μ` elsewhere, never NaN or ∞. The
///   same holds for a σ that is not a positive finite number (subnormal underflow, overflow).
/// * Mean and variance are accumulated with Welford's update (Knuth, TAOCP vol. 2, 4.2.2),
///   which stays accurate for large offsets and gives exactly μ = x, σ = 0 for a constant.
///
/// For regression targets use [`Standardizer::fit_targets`] (one "feature" per target column), and
/// [`Standardizer::inverse_transform`] to turn predictions back into the original units.
///
/// ```
/// use trainscope_data::Standardizer;
///
/// // 3 rows × 2 features; the second feature is constant.
/// let train = [1.0, 5.0, 2.0, 5.0, 3.0, 5.0];
/// let s = Standardizer::fit(&train, 2)?;
/// assert_eq!(s.mean(), [2.0, 5.0]);
/// assert_eq!(s.std(), [(2.0f64 / 3.0).sqrt(), 1.0]);
///
/// let mut new = vec![2.0, 6.0];
/// s.transform(&mut new)?;
/// assert_eq!(new, [0.0, 1.0]);
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StandardizerRepr", into = "StandardizerRepr")]
pub struct Standardizer {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Standardizer {
    /// Fits per-feature mean and standard deviation to a row-major `n × d` matrix (`d =
    /// n_features`). Needs at least one row and finite values.
    pub fn fit(values: &[f64], n_features: usize) -> Result<Standardizer> {
        Standardizer::fit_rows(values.len(), n_features, |i, row| {
            row.extend_from_slice(&values[i * n_features..(i + 1) * n_features]);
        })
    }

    /// Fits to the feature matrix of a (training) dataset, row by row from the stored values
    /// (widened to `f64` one row at a time, so a compactly stored dataset is not copied).
    pub fn fit_features(data: &Dataset) -> Result<Standardizer> {
        let (values, d) = (data.feature_values(), data.n_features());
        Standardizer::fit_rows(values.len(), d, |i, row| values.extend_f64(i * d, d, row))
    }

    /// Welford over `len / d` rows that `row(i, buffer)` appends to an empty buffer, in order.
    fn fit_rows(
        len: usize,
        n_features: usize,
        mut row_of: impl FnMut(usize, &mut Vec<f64>),
    ) -> Result<Standardizer> {
        let d = n_features;
        if d == 0 || len == 0 || len % d != 0 {
            return Err(DataError::Shape {
                context: "Standardizer::fit",
                message: format!("{len} values do not form one or more rows of {d} features"),
            });
        }
        let mut stats = RunningStats::new(d);
        let mut row = Vec::with_capacity(d);
        for i in 0..len / d {
            row.clear();
            row_of(i, &mut row);
            stats.push(&row)?;
        }
        stats.finish()
    }

    /// Fits to the regression targets of a (training) dataset; an error for class targets,
    /// which are indices and must not be rescaled.
    pub fn fit_targets(data: &Dataset) -> Result<Standardizer> {
        match data.targets() {
            Targets::Regression(y) => Standardizer::fit(y, data.n_targets()),
            Targets::Classes(_) => Err(class_targets_error(data)),
        }
    }

    /// Standardizes a row-major matrix with this standardizer's number of features, in place.
    pub fn transform(&self, values: &mut [f64]) -> Result<()> {
        self.check(values.len(), "Standardizer::transform")?;
        for row in values.chunks_exact_mut(self.mean.len()) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        Ok(())
    }

    /// Standardizes stored feature values without changing them: hands `(x − μ_j) / σ_j` of
    /// every value, row-major, to `out`, with `x` the stored value widened to `f64` (exact for
    /// `f64` and byte storage, so the results are those of [`transform`](Self::transform) on
    /// the `f64` values). For converting a dataset into another element type in one pass.
    pub fn transform_each(&self, values: &Features, mut out: impl FnMut(f64)) -> Result<()> {
        self.check(values.len(), "Standardizer::transform_each")?;
        let d = self.n_features();
        let mut row = Vec::with_capacity(d);
        for start in (0..values.len()).step_by(d) {
            row.clear();
            values.extend_f64(start, d, &mut row);
            for ((x, m), s) in row.iter().zip(&self.mean).zip(&self.std) {
                out((x - m) / s);
            }
        }
        Ok(())
    }

    /// Undoes [`transform`](Self::transform): `x = x̃ · σ + μ`, e.g. for predicted targets.
    pub fn inverse_transform(&self, values: &mut [f64]) -> Result<()> {
        self.check(values.len(), "Standardizer::inverse_transform")?;
        for row in values.chunks_exact_mut(self.mean.len()) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = *x * s + m;
            }
        }
        Ok(())
    }

    /// Standardizes a dataset's features in place; its feature count must match.
    pub fn transform_features(&self, data: &mut Dataset) -> Result<()> {
        if data.n_features() != self.n_features() {
            return Err(DataError::Shape {
                context: "Standardizer::transform_features",
                message: format!(
                    "fitted to {} features, the dataset has {}",
                    self.n_features(),
                    data.n_features()
                ),
            });
        }
        self.transform(data.features_mut())
    }

    /// Standardizes a dataset's regression targets in place (a standardizer from
    /// [`fit_targets`](Self::fit_targets)).
    pub fn transform_targets(&self, data: &mut Dataset) -> Result<()> {
        let error = class_targets_error(data);
        match data.regression_targets_mut() {
            Some(y) => self.transform(y),
            None => Err(error),
        }
    }

    /// Per-feature means μ.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature standard deviations σ as used for dividing (1 for constant features).
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// The number of features d.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn check(&self, len: usize, context: &'static str) -> Result<()> {
        let d = self.n_features();
        if len % d != 0 {
            return Err(DataError::Shape {
                context,
                message: format!("{len} values do not form rows of {d} features"),
            });
        }
        Ok(())
    }
}

fn class_targets_error(data: &Dataset) -> DataError {
    DataError::WrongTask(format!(
        "target {:?} holds class indices, which are not standardized",
        data.target_name()
    ))
}

/// Serialized form; checked when read so that a damaged file cannot bring back a zero σ.
#[derive(Serialize, Deserialize)]
struct StandardizerRepr {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl From<Standardizer> for StandardizerRepr {
    fn from(s: Standardizer) -> Self {
        StandardizerRepr {
            mean: s.mean,
            std: s.std,
        }
    }
}

impl TryFrom<StandardizerRepr> for Standardizer {
    type Error = String;

    fn try_from(r: StandardizerRepr) -> Result<Self, String> {
        if r.mean.is_empty() || r.mean.len() != r.std.len() {
            return Err(format!(
                "standardizer needs as many means as standard deviations (at least one), found {} and {}",
                r.mean.len(),
                r.std.len()
            ));
        }
        if let Some(j) = (0..r.mean.len())
            .find(|&j| !(r.mean[j].is_finite() && r.std[j].is_finite() && r.std[j] > 0.0))
        {
            return Err(format!(
                "feature {j}: mean {} and standard deviation {} must be finite, the deviation positive",
                r.mean[j], r.std[j]
            ));
        }
        Ok(Standardizer {
            mean: r.mean,
            std: r.std,
        })
    }
}

/// The statistics of [`Standardizer::fit`] accumulated one row at a time (Welford), for rows
/// that stream past and are not kept (a prepared dataset's single pass): the same arithmetic
/// in the same order, so the result equals `fit` on the same rows, bit for bit.
///
/// ```
/// use trainscope_data::{RunningStats, Standardizer};
///
/// let rows = [1.0, 5.0, 2.0, 5.0, 3.0, 5.0];
/// let mut stats = RunningStats::new(2);
/// for row in rows.chunks(2) {
///     stats.push(row)?;
/// }
/// assert_eq!(stats.finish()?, Standardizer::fit(&rows, 2)?);
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RunningStats {
    mean: Vec<f64>,
    m2: Vec<f64>,
    rows: usize,
}

impl RunningStats {
    /// No rows yet, `d` features each.
    pub fn new(d: usize) -> RunningStats {
        RunningStats {
            mean: vec![0.0; d],
            m2: vec![0.0; d],
            rows: 0,
        }
    }

    /// Adds one row of `d` values; a value that is not finite is an error naming its row.
    pub fn push(&mut self, row: &[f64]) -> Result<()> {
        let k = (self.rows + 1) as f64;
        for (j, &x) in row.iter().enumerate() {
            if !x.is_finite() {
                return Err(DataError::NonFiniteValue {
                    context: "Standardizer::fit",
                    row: self.rows,
                    feature: j,
                    value: x,
                });
            }
            let delta = x - self.mean[j];
            self.mean[j] += delta / k;
            self.m2[j] += delta * (x - self.mean[j]);
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The standardizer of the rows added (σ = 1 for a constant column, as in
    /// [`Standardizer::fit`]); an error without rows.
    pub fn finish(&self) -> Result<Standardizer> {
        if self.rows == 0 || self.mean.is_empty() {
            return Err(DataError::Shape {
                context: "Standardizer::fit",
                message: format!(
                    "{} rows of {} features: need one or more rows and features",
                    self.rows,
                    self.mean.len()
                ),
            });
        }
        let n = self.rows as f64;
        let std = self
            .m2
            .iter()
            .map(|&m| {
                let s = (m / n).sqrt();
                if s > 0.0 && s.is_finite() {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Standardizer {
            mean: self.mean.clone(),
            std,
        })
    }
}
