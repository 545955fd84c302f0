//! Train/validation splits and N-fold cross validation.
//!
//! Model selection uses held-out data, never the test set: either a validation set cut from
//! the training data, or N-fold cross validation, where each of N folds serves once as the
//! validation set while the other N − 1 train. All functions return row indices, sorted
//! ascending within each part, so the parts keep the file's row order; they are deterministic
//! for a given seed (ChaCha8 stream, Fisher–Yates shuffle) and differ between seeds.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Targets};
use crate::error::{invalid, DataError, Result};
use crate::shuffle::shuffle;

/// Row indices of a training part and a validation part. Together they hold every row of the
/// dataset exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Rows to train on, ascending.
    pub train: Vec<usize>,
    /// Rows to validate on, ascending.
    pub validation: Vec<usize>,
}

/// Holds out `round(fraction · n_rows)` random rows for validation.
///
/// `fraction` must lie strictly between 0 and 1 and leave at least one row on each side.
///
/// ```
/// let split = trainscope_data::validation_split(10, 0.2, 42)?;
/// assert_eq!((split.train.len(), split.validation.len()), (8, 2));
/// assert_eq!(split, trainscope_data::validation_split(10, 0.2, 42)?); // same seed, same split
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
pub fn validation_split(n_rows: usize, fraction: f64, seed: u64) -> Result<Split> {
    let n_val = validation_count(n_rows, fraction)?;
    let mut order: Vec<usize> = (0..n_rows).collect();
    shuffle(&mut order, &mut ChaCha8Rng::seed_from_u64(seed));
    Ok(split_at(order, n_val))
}

/// Like [`validation_split`], but keeps each class's share in both parts: every class
/// contributes `fraction` of its rows (rounded so that the total is still
/// `round(fraction · n)`; the classes whose exact share has the largest fractional part get
/// the extra rows, ties going to the lower class index).
///
/// `classes[i]` is the class index of row i.
pub fn stratified_validation_split(classes: &[usize], fraction: f64, seed: u64) -> Result<Split> {
    let n = classes.len();
    let n_val = validation_count(n, fraction)?;
    let members = class_members(classes);

    let quotas: Vec<f64> = members.iter().map(|m| fraction * m.len() as f64).collect();
    let mut take: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..members.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (quotas[a] - quotas[a].floor(), quotas[b] - quotas[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let missing = n_val.saturating_sub(take.iter().sum());
    for &c in by_remainder.iter().take(missing) {
        take[c] += 1;
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut validation = Vec::with_capacity(n_val);
    let mut train = Vec::with_capacity(n - n_val);
    for (mut rows, t) in members.into_iter().zip(take) {
        shuffle(&mut rows, &mut rng);
        validation.extend_from_slice(&rows[..t]);
        train.extend_from_slice(&rows[t..]);
    }
    validation.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, validation })
}

/// N-fold cross validation: shuffles the rows once and cuts them into `k` folds whose sizes
/// differ by at most one; split `f` validates on fold `f` and trains on the rest. Across the
/// `k` splits every row is validated exactly once.
///
/// `k` must be between 2 and `n_rows`.
///
/// ```
/// let folds = trainscope_data::k_fold(10, 3, 7)?;
/// assert_eq!(folds.len(), 3);
/// let mut validated: Vec<usize> = folds.iter().flat_map(|s| s.validation.clone()).collect();
/// validated.sort();
/// assert_eq!(validated, (0..10).collect::<Vec<_>>());
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
pub fn k_fold(n_rows: usize, k: usize, seed: u64) -> Result<Vec<Split>> {
    check_folds(n_rows, k)?;
    let mut order: Vec<usize> = (0..n_rows).collect();
    shuffle(&mut order, &mut ChaCha8Rng::seed_from_u64(seed));
    let fold_of: Vec<usize> = (0..n_rows).map(|p| p * k / n_rows).collect();
    Ok(folds_from(&order, &fold_of, k))
}

/// N-fold cross validation that keeps class proportions: each class's rows are shuffled and
/// dealt to the folds in turn, so every fold holds each class within one row of its share, and
/// fold sizes differ by at most one.
pub fn stratified_k_fold(classes: &[usize], k: usize, seed: u64) -> Result<Vec<Split>> {
    let n = classes.len();
    check_folds(n, k)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order = Vec::with_capacity(n);
    for mut rows in class_members(classes) {
        shuffle(&mut rows, &mut rng);
        order.extend(rows);
    }
    let fold_of: Vec<usize> = (0..n).map(|p| p % k).collect();
    Ok(folds_from(&order, &fold_of, k))
}

impl Dataset {
    /// The training and validation datasets of `split`.
    pub fn split(&self, split: &Split) -> Result<(Dataset, Dataset)> {
        Ok((self.select(&split.train)?, self.select(&split.validation)?))
    }

    /// Holds out `fraction` of the rows for validation (see [`validation_split`]); with
    /// `stratify`, class proportions are kept (see [`stratified_validation_split`]), which
    /// needs class targets.
    ///
    /// ```
    /// use trainscope_data::CsvOptions;
    ///
    /// let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap() + "/../../examples/data";
    /// let data = CsvOptions::classification("target").load(format!("{dir}/breast_cancer.csv"))?;
    /// let (train, validation) = data.split_validation(0.2, 1, true)?;
    /// assert_eq!((train.n_rows(), validation.n_rows()), (455, 114));
    /// assert_eq!(validation.class_counts(), Some(vec![43, 71]));
    /// # Ok::<(), trainscope_data::DataError>(())
    /// ```
    pub fn split_validation(
        &self,
        fraction: f64,
        seed: u64,
        stratify: bool,
    ) -> Result<(Dataset, Dataset)> {
        let split = if stratify {
            stratified_validation_split(self.classes_for("stratified split")?, fraction, seed)?
        } else {
            validation_split(self.n_rows(), fraction, seed)?
        };
        self.split(&split)
    }

    /// The `k` train/validation splits of N-fold cross validation (see [`k_fold`] and, with
    /// `stratify`, [`stratified_k_fold`]). Returns indices rather than `k` copies of the data;
    /// turn one into datasets with [`Dataset::split`] when its turn comes.
    pub fn k_fold(&self, k: usize, seed: u64, stratify: bool) -> Result<Vec<Split>> {
        if stratify {
            stratified_k_fold(self.classes_for("stratified k-fold")?, k, seed)
        } else {
            k_fold(self.n_rows(), k, seed)
        }
    }

    fn classes_for(&self, what: &str) -> Result<&[usize]> {
        match self.targets() {
            Targets::Classes(c) => Ok(c),
            Targets::Regression(_) => Err(DataError::WrongTask(format!(
                "a {what} needs class targets, but {:?} is a regression target",
                self.target_name()
            ))),
        }
    }
}

fn validation_count(n: usize, fraction: f64) -> Result<usize> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(invalid(
            "validation fraction",
            fraction,
            "must be strictly between 0 and 1",
        ));
    }
    let n_val = (fraction * n as f64).round() as usize;
    if n_val == 0 || n_val >= n {
        return Err(invalid(
            "validation fraction",
            fraction,
            format!(
                "with {n} rows it gives {n_val} validation and {} training rows; both need at least one",
                n.saturating_sub(n_val)
            ),
        ));
    }
    Ok(n_val)
}

fn check_folds(n: usize, k: usize) -> Result<()> {
    if k < 2 || k > n {
        return Err(invalid(
            "number of folds",
            k,
            format!("must be between 2 and the number of rows ({n})"),
        ));
    }
    Ok(())
}

/// The rows of each class, ascending, in class order. A map rather than a vector indexed by
/// class so that an arbitrary large class index cannot cause a huge allocation.
fn class_members(classes: &[usize]) -> Vec<Vec<usize>> {
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (row, &c) in classes.iter().enumerate() {
        members.entry(c).or_default().push(row);
    }
    members.into_values().collect()
}

fn split_at(order: Vec<usize>, n_val: usize) -> Split {
    let mut validation = order[..n_val].to_vec();
    let mut train = order[n_val..].to_vec();
    validation.sort_unstable();
    train.sort_unstable();
    Split { train, validation }
}

/// Split `f` validates on the rows `order[p]` with `fold_of[p] == f`.
fn folds_from(order: &[usize], fold_of: &[usize], k: usize) -> Vec<Split> {
    (0..k)
        .map(|f| {
            let mut split = Split {
                train: Vec::new(),
                validation: Vec::new(),
            };
            for (&row, &fold) in order.iter().zip(fold_of) {
                if fold == f {
                    split.validation.push(row);
                } else {
                    split.train.push(row);
                }
            }
            split.validation.sort_unstable();
            split.train.sort_unstable();
            split
        })
        .collect()
}
