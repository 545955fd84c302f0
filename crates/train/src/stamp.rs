//! What a resume state was made from: every data file the configuration reads, with its rows
//! and a content hash, and the sizes of the training and validation sets after the split. A
//! resume compares the stamp with the data as it is now, so a file edited between the stop and
//! `--resume` is refused by name instead of breaking the bit-identical promise (or indexing
//! rows that no longer exist).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, DataFormat};
use crate::data::RunData;
use crate::error::{Result, TrainError};

/// The data a run trains on, as stored in the resume state under `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataStamp {
    /// Every file the configuration reads, in the configuration's order.
    pub files: Vec<FileStamp>,
    /// Rows of the training set after any validation split.
    pub train_rows: usize,
    /// Rows of the validation set (split off or read), if any.
    pub validation_rows: Option<usize>,
}

/// One data file: the key that names it, its path, its rows and its content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileStamp {
    /// The configuration key, e.g. `data.train`.
    pub key: String,
    /// The path as the configuration gives it.
    pub path: String,
    /// Data rows (examples) read from the file.
    pub rows: usize,
    /// XXH3-128 of the file's bytes, 32 hex digits: fast enough to hash MNIST at every start.
    pub xxh3: String,
}

/// The stamp of `data` as read for `config`: hashes every file (streamed, so a large file is
/// never held twice in memory).
pub(crate) fn stamp(config: &Config, data: &RunData) -> Result<DataStamp> {
    let d = &config.data;
    let train = data.train.n_rows();
    let validation = data.validation.as_ref().map(|v| v.n_rows());
    let test = data.test.as_ref().map(|t| t.n_rows());
    // A validation fraction is split off the training file: the file held both.
    let train_file_rows = match d.validation_fraction {
        Some(_) => train + validation.unwrap_or(0),
        None => train,
    };
    let mut files = Vec::new();
    let mut add = |key: &str, path: &Option<std::path::PathBuf>, rows: Option<usize>| {
        if let (Some(p), Some(rows)) = (path, rows) {
            files.push((key.to_string(), p.clone(), rows));
        }
    };
    match d.format {
        DataFormat::Csv => {
            add("data.train", &d.train, Some(train_file_rows));
            if d.validation.is_some() {
                add("data.validation", &d.validation, validation);
            }
            add("data.test", &d.test, test);
        }
        DataFormat::Idx => {
            add("data.train_images", &d.train_images, Some(train_file_rows));
            add("data.train_labels", &d.train_labels, Some(train_file_rows));
            add("data.test_images", &d.test_images, test);
            add("data.test_labels", &d.test_labels, test);
        }
    }
    let files = files
        .into_iter()
        .map(|(key, path, rows)| {
            // A prepared dataset is named by its manifest's checksum of all its shards (and
            // its row count), not by hashing gigabytes at every start.
            let prepared = match key.as_str() {
                "data.train" => data.shards.train.as_ref(),
                "data.validation" => data.shards.validation.as_ref(),
                _ => None,
            };
            if let Some(p) = prepared {
                return Ok(FileStamp {
                    key,
                    xxh3: p.manifest().xxh3.clone(),
                    path: path.display().to_string(),
                    rows: p.manifest().rows,
                });
            }
            Ok(FileStamp {
                key,
                xxh3: hash_file(&path)?,
                path: path.display().to_string(),
                rows,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DataStamp {
        files,
        train_rows: train,
        validation_rows: validation,
    })
}

/// The run record's content hash of a file, with the training error a failed read gives.
fn hash_file(path: &Path) -> Result<String> {
    trainscope_record::hash_file(path).map_err(|e| match e {
        trainscope_record::RecordError::Io { path, source } => TrainError::Io {
            path,
            what: "cannot read",
            source,
        },
        other => TrainError::Mismatch(other.to_string()),
    })
}

/// Refuses a resume whose data differs from the data the run stopped with, naming the first
/// file that changed (a changed configuration is caught before, so the keys correspond).
pub(crate) fn check(saved: &DataStamp, now: &DataStamp) -> Result<()> {
    for then in &saved.files {
        let Some(cur) = now.files.iter().find(|f| f.key == then.key) else {
            return Err(TrainError::Mismatch(format!(
                "--resume: the run read {} = {}, the configuration no longer reads it",
                then.key, then.path
            )));
        };
        if cur.xxh3 != then.xxh3 || cur.rows != then.rows {
            let how = if cur.rows != then.rows {
                format!("{} rows then, {} now", then.rows, cur.rows)
            } else {
                format!("same {} rows, different content", cur.rows)
            };
            return Err(TrainError::Mismatch(format!(
                "--resume: {} changed since the run stopped ({how})",
                cur.path
            )));
        }
    }
    if let Some(extra) = now
        .files
        .iter()
        .find(|f| !saved.files.iter().any(|s| s.key == f.key))
    {
        return Err(TrainError::Mismatch(format!(
            "--resume: the configuration reads {} = {}, the run did not",
            extra.key, extra.path
        )));
    }
    if saved.train_rows != now.train_rows || saved.validation_rows != now.validation_rows {
        let v = |r: Option<usize>| r.map_or("none".to_string(), |r| r.to_string());
        return Err(TrainError::Mismatch(format!(
            "--resume: the run trained on {} rows and validated on {}, the data now gives {} and {}",
            saved.train_rows,
            v(saved.validation_rows),
            now.train_rows,
            v(now.validation_rows)
        )));
    }
    Ok(())
}
