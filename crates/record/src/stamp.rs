//! What an analysis describes. Every result written into a run directory carries a [`Stamp`]:
//! the checkpoint it analysed by content hash (or, for experiments that train their own
//! models, the configuration), the checkpoint's epoch and the rows used. Comparing the stamp
//! with the directory's current checkpoint tells a current result from a stale one.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{RecordError, Result};
use crate::files;

/// What kind of file an analysis was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Trained weights (`diagnose`, `surface`).
    Checkpoint,
    /// A configuration whose models the command trained itself (`critical`, `guide`,
    /// `batch-size`).
    Config,
}

/// The identity of what an analysis describes, stored under `stamp` in its JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    /// A checkpoint or a configuration.
    pub subject: Subject,
    /// The file analysed, as the command was given it.
    pub file: String,
    /// XXH3-128 of the file's bytes, 32 hex digits.
    pub xxh3: String,
    /// The checkpoint's epoch (`trainscope.epoch`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<usize>,
    /// The rows analysed: a data file, or the training rows of a configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// How many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// The trainscope version that computed the result.
    pub version: String,
}

/// Whether an analysis found in a run directory still describes the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Computed from the directory's current checkpoint (or an unchanged configuration).
    Current,
    /// Computed from something that has changed since; the text says what.
    Stale(String),
    /// Written without a stamp (by hand, or by an older version): which weights it describes
    /// cannot be told.
    Unstamped,
}

impl Stamp {
    /// The stamp of an analysis of the checkpoint at `path` (hashed now).
    pub fn of_checkpoint(
        path: &Path,
        epoch: Option<usize>,
        data: Option<(String, usize)>,
        version: &str,
    ) -> Result<Stamp> {
        Ok(Stamp {
            subject: Subject::Checkpoint,
            file: path.display().to_string(),
            xxh3: hash_file(path)?,
            epoch,
            rows: data.as_ref().map(|d| d.1),
            data: data.map(|d| d.0),
            version: version.to_string(),
        })
    }

    /// The stamp of an experiment run from the configuration at `path` (hashed now).
    pub fn of_config(path: &Path, data: Option<(String, usize)>, version: &str) -> Result<Stamp> {
        Ok(Stamp {
            subject: Subject::Config,
            file: path.display().to_string(),
            xxh3: hash_file(path)?,
            epoch: None,
            rows: data.as_ref().map(|d| d.1),
            data: data.map(|d| d.0),
            version: version.to_string(),
        })
    }

    /// Whether this stamp still describes the run directory `dir`: for a checkpoint, whether
    /// the directory's checkpoint ([`files::checkpoint_of`]) has the same content; for a
    /// configuration, whether the file (if it can still be found) is unchanged.
    pub fn freshness(&self, dir: &Path) -> Freshness {
        match self.subject {
            Subject::Checkpoint => {
                let current = files::checkpoint_of(dir);
                match hash_file(&current) {
                    Ok(h) if h == self.xxh3 => Freshness::Current,
                    Ok(_) => Freshness::Stale(format!(
                        "computed for other weights{} than the run's {} now holds; run the \
                         command again",
                        self.epoch
                            .map(|e| format!(" (epoch {e})"))
                            .unwrap_or_default(),
                        files::MODEL
                    )),
                    Err(_) => Freshness::Stale(format!(
                        "the run directory has no {} any more",
                        files::MODEL
                    )),
                }
            }
            Subject::Config => {
                // The configuration as the command ran it is kept beside the result under a
                // name of the command's own (found by name, so the directory may move).
                let path = match Path::new(&self.file).file_name() {
                    Some(name) if dir.join(name).is_file() => dir.join(name),
                    _ => Path::new(&self.file).to_path_buf(),
                };
                match hash_file(&path) {
                    Ok(h) if h == self.xxh3 => Freshness::Current,
                    Ok(_) => Freshness::Stale(format!(
                        "{} has changed since this was computed; run the command again",
                        path.display()
                    )),
                    // Nothing to compare with: the result stands as computed.
                    Err(_) => Freshness::Current,
                }
            }
        }
    }
}

/// The freshness in the run directory `dir` of an analysis read back with its `stamp`
/// (`None`: written without one).
pub fn freshness_of(stamp: Option<&Stamp>, dir: &Path) -> Freshness {
    match stamp {
        Some(s) => s.freshness(dir),
        None => Freshness::Unstamped,
    }
}

/// Reads an `f64` that may have been written as `null`: `serde_json` writes a non-finite
/// number (a NaN or infinite loss) as `null`, so a result holding one reads back as NaN (and
/// writes again as `null`). For `#[serde(deserialize_with = "…")]`.
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// XXH3-128 of a file's bytes, as 32 hex digits; read in pieces, so large files need little
/// memory.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| RecordError::io(path, e))?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| RecordError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:032x}", h.digest128()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_stamp_is_current_until_the_weights_change() {
        let d = tempfile::tempdir().unwrap();
        let model = files::checkpoint_of(d.path());
        std::fs::write(&model, b"weights of epoch 3").unwrap();
        let s = Stamp::of_checkpoint(&model, Some(3), Some(("train.csv".into(), 10)), "0").unwrap();
        assert_eq!(s.freshness(d.path()), Freshness::Current);
        std::fs::write(&model, b"weights of epoch 9").unwrap();
        match s.freshness(d.path()) {
            Freshness::Stale(why) => assert!(why.contains("epoch 3"), "{why}"),
            f => panic!("expected stale, got {f:?}"),
        }
        std::fs::remove_file(&model).unwrap();
        assert!(matches!(s.freshness(d.path()), Freshness::Stale(_)));
    }

    #[test]
    fn the_stamp_travels_inside_the_json_and_unstamped_files_are_told_apart() {
        let d = tempfile::tempdir().unwrap();
        let model = files::checkpoint_of(d.path());
        std::fs::write(&model, b"w").unwrap();
        let s = Stamp::of_checkpoint(&model, None, None, "0").unwrap();
        // As every result declares it: the stamp first, optional on reading.
        #[derive(Serialize, Deserialize)]
        struct Saved {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            stamp: Option<Stamp>,
            #[serde(default)]
            verdict: String,
        }
        let text = serde_json::to_string(&Saved {
            stamp: Some(s.clone()),
            verdict: "saddle".into(),
        })
        .unwrap();
        assert!(text.starts_with("{\"stamp\":"), "{text}");
        let read: Saved = serde_json::from_str(&text).unwrap();
        assert_eq!(read.stamp.as_ref(), Some(&s));
        assert_eq!(
            freshness_of(read.stamp.as_ref(), d.path()),
            Freshness::Current
        );
        let old: Saved = serde_json::from_str(r#"{"verdict": "saddle"}"#).unwrap();
        assert_eq!(
            freshness_of(old.stamp.as_ref(), d.path()),
            Freshness::Unstamped
        );
    }

    #[test]
    fn a_non_finite_number_written_as_null_reads_back_as_nan() {
        #[derive(Serialize, Deserialize)]
        struct Loss {
            #[serde(deserialize_with = "nan_if_null")]
            loss: f64,
        }
        let text = serde_json::to_string(&Loss {
            loss: f64::INFINITY,
        })
        .unwrap();
        assert_eq!(text, r#"{"loss":null}"#);
        let back: Loss = serde_json::from_str(&text).unwrap();
        assert!(back.loss.is_nan());
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        let back: Loss = serde_json::from_str(r#"{"loss":0.25}"#).unwrap();
        assert_eq!(back.loss, 0.25);
    }

    #[test]
    fn a_config_stamp_follows_the_configuration_kept_beside_the_result() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join("critical.config.toml");
        std::fs::write(&cfg, "seed = 1").unwrap();
        let s = Stamp::of_config(&cfg, None, "0").unwrap();
        assert_eq!(s.freshness(d.path()), Freshness::Current);
        std::fs::write(&cfg, "seed = 2").unwrap();
        assert!(matches!(s.freshness(d.path()), Freshness::Stale(_)));
    }
}
