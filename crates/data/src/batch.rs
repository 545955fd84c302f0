//! Mini-batches with a fresh shuffle before every epoch.

use std::ops::Range;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Targets};
use crate::error::{invalid, DataError, Result};
use crate::shuffle::shuffle;

/// Splits `n` rows into batches of size B, one update per batch; one epoch visits every row
/// once; the rows are reshuffled before every epoch.
///
/// B ≥ n means full-batch gradient descent (one batch of all rows per epoch), B = 1 is pure
/// SGD. Without `drop_last` the last batch of an epoch may be smaller than B; with it, such a
/// remainder is skipped in that epoch (a different remainder is skipped next epoch, since the
/// order changes).
///
/// Calls to [`next_batch`](Self::next_batch) (or [`next_indices`](Self::next_indices)) return
/// the batches of the current epoch and then `None` once; the next call shuffles and begins
/// the following epoch. So one `while let` loop is one epoch.
///
/// The shuffles come from a ChaCha8 generator seeded once; [`state`](Self::state) captures it
/// together with the position in the epoch, and [`Batcher::from_state`] continues from there
/// with the identical batch sequence — a resumed training run sees the same batches as one
/// that never stopped.
///
/// ```
/// use trainscope_data::{BatchBuffer, Batcher, Dataset, Targets};
///
/// let data = Dataset::new(
///     (0..10).map(f64::from).collect(), // 5 rows × 2 features
///     vec!["a".into(), "b".into()],
///     "y",
///     Targets::Regression(vec![0.0, 1.0, 2.0, 3.0, 4.0]),
///     None,
/// )?;
/// let mut batcher = Batcher::new(data.n_rows(), 2, 42)?;
/// let mut buffer = BatchBuffer::default();
/// for _epoch in 0..3 {
///     let mut seen = Vec::new();
///     while let Some(batch) = batcher.next_batch(&data, &mut buffer)? {
///         assert!(batch.len() <= 2);
///         assert_eq!(batch.features.len(), batch.len() * 2);
///         seen.extend_from_slice(batch.indices);
///     }
///     seen.sort();
///     assert_eq!(seen, [0, 1, 2, 3, 4]); // every row once per epoch
/// }
///
/// // Save mid-epoch, continue elsewhere, get the same batches.
/// batcher.next_indices();
/// let saved = batcher.state();
/// let expected: Vec<usize> = batcher.next_indices().unwrap().to_vec();
/// let mut resumed = Batcher::from_state(saved)?;
/// assert_eq!(resumed.next_indices().unwrap(), expected);
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Batcher {
    n_rows: usize,
    batch_size: usize,
    drop_last: bool,
    order: Vec<usize>,
    /// The generator as it was before the current epoch's shuffle: enough to rebuild `order`,
    /// so a saved state need not store a permutation of all rows.
    epoch_rng: ChaCha8Rng,
    /// The generator after the current epoch's shuffle (or, between epochs, the one the next
    /// shuffle will use).
    rng: ChaCha8Rng,
    epochs_started: u64,
    position: usize,
    in_epoch: bool,
    window: Option<Window>,
}

/// The windowed shuffle of rows stored in shards (a prepared dataset): each epoch the order of
/// the shards is shuffled, then the rows of every `shards` consecutive shards of that order (a
/// window) are shuffled among themselves. A batch so holds rows of at most one window's shards
/// (two at a window's edge), which a reader can keep mapped; with `shards` ≥ the number of
/// shards the whole epoch is one window, a full shuffle — then exactly the order
/// [`Batcher`] gives without a window (the shards are not shuffled first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Rows of every shard but the last (which has the rest).
    pub rows_per_shard: usize,
    /// Shards per window, at least 1.
    pub shards: usize,
}

/// Everything needed to continue a [`Batcher`] exactly where it was; `Serialize`, to be stored
/// in a training checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatcherState {
    /// Number of rows the batcher was made for.
    pub n_rows: usize,
    /// Batch size as requested (clamping to `n_rows` is redone on restore).
    pub batch_size: usize,
    /// Whether incomplete last batches are skipped.
    pub drop_last: bool,
    /// The generator before the shuffle of the current epoch (or of the next one, when the
    /// state was taken between epochs).
    pub rng: ChaCha8Rng,
    /// How many epochs have begun.
    pub epochs_started: u64,
    /// The position in the current epoch's order of the next row to hand out.
    pub position: usize,
    /// Whether the state was taken inside an epoch.
    pub in_epoch: bool,
    /// The windowed shuffle, for rows stored in shards (absent: a full shuffle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

impl Batcher {
    /// A batcher over `n_rows` rows with batches of `batch_size` rows (clamped to `n_rows`),
    /// shuffling with a ChaCha8 generator seeded with `seed`.
    pub fn new(n_rows: usize, batch_size: usize, seed: u64) -> Result<Batcher> {
        Batcher::build(
            n_rows,
            batch_size,
            false,
            ChaCha8Rng::seed_from_u64(seed),
            0,
            0,
            false,
        )
    }

    /// Skip the last batch of an epoch when it has fewer than `batch_size` rows (for models whose
    /// statistics, like batch normalization's, suffer from tiny batches).
    pub fn with_drop_last(mut self, drop_last: bool) -> Batcher {
        self.drop_last = drop_last;
        self
    }

    /// Shuffle in windows of shards (see [`Window`]) instead of over all rows.
    pub fn with_window(mut self, window: Window) -> Result<Batcher> {
        if window.rows_per_shard == 0 || window.shards == 0 {
            return Err(invalid(
                "shuffle window",
                format!("{} shards of {} rows", window.shards, window.rows_per_shard),
                "needs at least one shard of at least one row",
            ));
        }
        self.window = Some(window);
        if self.in_epoch {
            self.shuffle_order();
        }
        Ok(self)
    }

    /// The windowed shuffle in use, if any.
    pub fn window(&self) -> Option<Window> {
        self.window
    }

    /// Continues a batcher from a saved [`BatcherState`]; the batches that follow are identical
    /// to those the saved batcher would have produced.
    pub fn from_state(state: BatcherState) -> Result<Batcher> {
        if state.position > state.n_rows {
            return Err(invalid(
                "batcher position",
                state.position,
                format!("must be at most the number of rows ({})", state.n_rows),
            ));
        }
        if state.in_epoch && state.epochs_started == 0 {
            return Err(invalid(
                "batcher epochs_started",
                0,
                "a state inside an epoch has started at least one",
            ));
        }
        let batcher = Batcher::build(
            state.n_rows,
            state.batch_size,
            state.drop_last,
            state.rng,
            state.epochs_started,
            state.position,
            state.in_epoch,
        )?;
        match state.window {
            Some(w) => batcher.with_window(w),
            None => Ok(batcher),
        }
    }

    fn build(
        n_rows: usize,
        batch_size: usize,
        drop_last: bool,
        rng: ChaCha8Rng,
        epochs_started: u64,
        position: usize,
        in_epoch: bool,
    ) -> Result<Batcher> {
        if n_rows == 0 {
            return Err(invalid(
                "number of rows",
                0,
                "batching needs at least one row",
            ));
        }
        if batch_size == 0 {
            return Err(invalid("batch size", 0, "must be at least 1"));
        }
        let mut batcher = Batcher {
            n_rows,
            batch_size,
            drop_last,
            order: Vec::new(),
            epoch_rng: rng.clone(),
            rng,
            epochs_started,
            position,
            in_epoch,
            window: None,
        };
        if in_epoch {
            batcher.shuffle_order();
        }
        Ok(batcher)
    }

    /// The state to save in a checkpoint; [`Batcher::from_state`] restores it.
    pub fn state(&self) -> BatcherState {
        BatcherState {
            n_rows: self.n_rows,
            batch_size: self.batch_size,
            drop_last: self.drop_last,
            rng: if self.in_epoch {
                self.epoch_rng.clone()
            } else {
                self.rng.clone()
            },
            epochs_started: self.epochs_started,
            position: self.position,
            in_epoch: self.in_epoch,
            window: self.window,
        }
    }

    /// The row indices of the next batch of the current epoch, or `None` when the epoch is
    /// over (the next call then shuffles and starts a new epoch).
    pub fn next_indices(&mut self) -> Option<&[usize]> {
        let range = self.advance()?;
        Some(&self.order[range])
    }

    /// The next batch of `data`, gathered into `buffer` (which keeps its allocations, so after
    /// the first batch no further memory is allocated); `None` when the epoch is over.
    ///
    /// `data` must have the number of rows the batcher was made for.
    pub fn next_batch<'b>(
        &mut self,
        data: &Dataset,
        buffer: &'b mut BatchBuffer,
    ) -> Result<Option<Batch<'b>>> {
        if data.n_rows() != self.n_rows {
            return Err(DataError::Shape {
                context: "Batcher::next_batch",
                message: format!(
                    "batcher made for {} rows, the dataset has {}",
                    self.n_rows,
                    data.n_rows()
                ),
            });
        }
        let Some(range) = self.advance() else {
            return Ok(None);
        };
        Ok(Some(buffer.gather(data, &self.order[range])))
    }

    /// Number of batches in every epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let b = self.effective_batch_size();
        if self.drop_last {
            self.n_rows / b
        } else {
            self.n_rows.div_ceil(b)
        }
    }

    /// The batch size in effect: the requested one, at most the number of rows.
    pub fn effective_batch_size(&self) -> usize {
        self.batch_size.min(self.n_rows)
    }

    /// How many epochs have begun (the current one included).
    pub fn epochs_started(&self) -> u64 {
        self.epochs_started
    }

    /// Number of rows the batcher hands out per epoch (before dropping a last partial batch).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    fn advance(&mut self) -> Option<Range<usize>> {
        if !self.in_epoch {
            self.epoch_rng = self.rng.clone();
            self.shuffle_order();
            self.position = 0;
            self.in_epoch = true;
            self.epochs_started += 1;
        }
        let b = self.effective_batch_size();
        let remaining = self.n_rows - self.position;
        if remaining == 0 || (self.drop_last && remaining < b) {
            self.in_epoch = false;
            return None;
        }
        let start = self.position;
        self.position += remaining.min(b);
        Some(start..self.position)
    }

    /// Rebuilds the epoch's order from the identity, so that it depends only on the generator
    /// state in `epoch_rng`, and leaves `rng` just after the shuffle.
    fn shuffle_order(&mut self) {
        self.rng = self.epoch_rng.clone();
        self.order.clear();
        let n = self.n_rows;
        match self.window {
            Some(w) if w.shards < n.div_ceil(w.rows_per_shard) => {
                let mut shards: Vec<usize> = (0..n.div_ceil(w.rows_per_shard)).collect();
                shuffle(&mut shards, &mut self.rng);
                for window in shards.chunks(w.shards) {
                    let start = self.order.len();
                    for &s in window {
                        let first = s * w.rows_per_shard;
                        self.order.extend(first..(first + w.rows_per_shard).min(n));
                    }
                    shuffle(&mut self.order[start..], &mut self.rng);
                }
            }
            _ => {
                self.order.extend(0..n);
                shuffle(&mut self.order, &mut self.rng);
            }
        }
    }
}

/// Reusable storage for the rows of a batch; see [`Batcher::next_batch`].
#[derive(Debug, Clone, Default)]
pub struct BatchBuffer {
    indices: Vec<usize>,
    features: Vec<f64>,
    regression: Vec<f64>,
    classes: Vec<usize>,
}

impl BatchBuffer {
    /// Copies `rows` of `data` into the buffer, reusing its allocations.
    ///
    /// # Panics
    /// When a row index is out of range (rows from a [`Batcher`] made for `data` never are).
    pub fn gather<'b>(&'b mut self, data: &Dataset, rows: &[usize]) -> Batch<'b> {
        let d = data.n_features();
        self.indices.clear();
        self.indices.extend_from_slice(rows);
        self.features.clear();
        for &r in rows {
            // From the stored values: a compact dataset is widened a batch at a time.
            data.feature_values()
                .extend_f64(r * d, d, &mut self.features);
        }
        let targets = match data.targets() {
            Targets::Regression(y) => {
                self.regression.clear();
                let k = data.n_targets();
                self.regression
                    .extend(rows.iter().flat_map(|&r| &y[r * k..(r + 1) * k]));
                BatchTargets::Regression(&self.regression)
            }
            Targets::Classes(c) => {
                self.classes.clear();
                self.classes.extend(rows.iter().map(|&r| c[r]));
                BatchTargets::Classes(&self.classes)
            }
        };
        Batch {
            indices: &self.indices,
            features: &self.features,
            n_features: d,
            targets,
        }
    }
}

/// One batch: `len()` rows of features (row-major) and their targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch<'b> {
    /// The dataset rows in this batch, in batch order.
    pub indices: &'b [usize],
    /// `len() × n_features` feature values, row-major.
    pub features: &'b [f64],
    /// Columns of `features`.
    pub n_features: usize,
    /// The targets of the rows, in batch order.
    pub targets: BatchTargets<'b>,
}

impl Batch<'_> {
    /// The number of rows in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True for a batch without rows (never produced by [`Batcher`]).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// The targets of a [`Batch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchTargets<'b> {
    /// Real-valued targets, row-major `len() × K`.
    Regression(&'b [f64]),
    /// Class indices.
    Classes(&'b [usize]),
}
