//! Results saved where they belong: an analysis of a run directory's weights into that
//! directory, an experiment's result into its output directory, each with its [`Stamp`].

use std::path::{Path, PathBuf};

use serde::Serialize;
use trainscope_record::{files, Stamp};
use trainscope_train::Config;

use crate::error::{invalid, Result};

/// Writes an analysis into a run directory (atomically), as `--json` prints it.
pub fn save_analysis<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<PathBuf> {
    let path = dir.join(name);
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| invalid(format!("{}: cannot write JSON: {e}", path.display())))?;
    text.push('\n');
    trainscope_train::write_atomic(&path, text.as_bytes())
        .map_err(|e| invalid(format!("{}: cannot write: {e}", path.display())))?;
    Ok(path)
}

/// The stamp of an experiment run from `config` whose result is saved in `out` as
/// `analysis`: the resolved configuration is written beside it
/// ([`files::config_copy_of`]) and hashed, with the training data file and its rows.
pub fn config_stamp(
    out: &Path,
    analysis: &str,
    config: &Config,
    rows: Option<usize>,
) -> Result<Stamp> {
    std::fs::create_dir_all(out)
        .map_err(|e| invalid(format!("{}: cannot create: {e}", out.display())))?;
    let copy = out.join(files::config_copy_of(analysis));
    trainscope_train::write_atomic(&copy, config.to_toml().as_bytes())
        .map_err(|e| invalid(format!("{}: cannot write: {e}", copy.display())))?;
    let data = config
        .data
        .train
        .as_ref()
        .or(config.data.train_images.as_ref())
        .map(|p| p.display().to_string());
    let data = data.zip(rows);
    Ok(Stamp::of_config(&copy, data, trainscope_train::VERSION)?)
}
