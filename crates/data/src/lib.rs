//! Training data for trainscope: reading CSV and IDX files, feature standardization,
//! train/validation splits, N-fold cross validation, and mini-batches with a per-epoch shuffle.
//!
//! Everything here is plain data — an `n × d` row-major matrix of features and one target per
//! row — so this crate depends on no tensor type. Files are read as streams (plain or gzip), and
//! the features are stored as the loader is asked ([`Precision`]): exact `f64` (for IDX images
//! the pixel bytes), or `f32` rounded once while reading, for `f32` training on the values as
//! read; memory holds the values, not the file. Errors are [`DataError`]s whose messages
//! name the file, line, column and value at fault (`data.csv:118:4: expected a number, found
//! "n/a" (column "bmi")`); malformed input never panics.
//!
//! # Example
//! ```
//! use trainscope_data::{BatchBuffer, Batcher, CsvOptions, Standardizer};
//!
//! let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap() + "/../../examples/data";
//! // Regression on the `target` column, all other columns are features.
//! let data = CsvOptions::regression("target").load(format!("{dir}/diabetes.csv"))?;
//! assert_eq!((data.n_rows(), data.n_features()), (442, 10));
//!
//! // Hold out 20 % for validation; standardize with the training statistics only.
//! let (mut train, mut validation) = data.split_validation(0.2, 7, false)?;
//! let scaler = Standardizer::fit_features(&train)?;
//! scaler.transform_features(&mut train)?;
//! scaler.transform_features(&mut validation)?;
//!
//! // Two epochs of mini-batches of 32, reshuffled before each epoch.
//! let mut batcher = Batcher::new(train.n_rows(), 32, 7)?;
//! let mut buffer = BatchBuffer::default();
//! for _epoch in 0..2 {
//!     let mut rows = 0;
//!     while let Some(batch) = batcher.next_batch(&train, &mut buffer)? {
//!         rows += batch.len(); // a training step would go here
//!     }
//!     assert_eq!(rows, train.n_rows());
//! }
//!
//! // What to save with the model so that later files are read the same way.
//! let schema = train.schema();
//! let inputs = schema.load_for_prediction(format!("{dir}/diabetes.csv"))?;
//! assert_eq!(inputs.n_features(), 10);
//! # Ok::<(), trainscope_data::DataError>(())
//! ```
//!
//! # Parts
//! * [`CsvOptions`] reads a training CSV (plain or gzip) into a [`Dataset`]; the dataset's
//!   [`Schema`] reads validation, test and prediction files by column name with the same
//!   [`LabelMap`].
//! * [`load_idx`] and [`load_idx_as`] read MNIST-style IDX image and label files.
//! * [`Features`] is the stored matrix; [`Dataset::feature_values`] gives it as stored,
//!   [`Dataset::features`] as `f64`.
//! * [`Standardizer`] standardizes features (and optionally regression targets).
//! * [`validation_split`], [`stratified_validation_split`], [`k_fold`], [`stratified_k_fold`]
//!   and [`Dataset::split_validation`] / [`Dataset::k_fold`] hold out data for model selection.
//! * [`Batcher`] hands out mini-batches; its [`BatcherState`] makes resumed runs identical.

mod batch;
mod dataset;
mod error;
mod features;
mod idx;
mod labels;
mod prepared;
mod shuffle;
mod source;
mod split;
mod standardize;
mod table;

pub use batch::{Batch, BatchBuffer, BatchTargets, Batcher, BatcherState, Window};
pub use dataset::{Dataset, PredictionData, Schema, Targets, Task};
pub use error::{echo, echo_list, DataError, Result};
pub use features::{Features, Precision};
pub use idx::{
    load_idx, load_idx_as, parse_idx, parse_idx_dataset, read_idx, IdxArray, IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
};
pub use labels::{LabelKind, LabelMap};
pub use prepared::{
    default_shuffle_window, is_prepared, prepare_csv, prepare_idx, Manifest, PrepareOptions,
    Prepared, ShardEntry, ShardReader, StoredType, MANIFEST_FILE, PREPARED_FORMAT,
    PREPARED_VERSION, SHARD_BYTES,
};
pub use split::{k_fold, stratified_k_fold, stratified_validation_split, validation_split, Split};
pub use standardize::{RunningStats, Standardizer};
pub use table::{csv_columns, CsvOptions};
