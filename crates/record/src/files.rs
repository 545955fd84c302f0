//! Which file of a run directory holds what. `train` writes the first group; the analyses are
//! written by the commands that analyse the run's weights, each stamped with what it analysed.

use std::path::{Path, PathBuf};

/// The resolved configuration.
pub const CONFIG: &str = "config.toml";
/// One JSON object per epoch ([`crate::EpochMetrics`]).
pub const METRICS: &str = "metrics.jsonl";
/// The final weights (during a run: those of the last completed epoch).
pub const MODEL: &str = "model.safetensors";
/// The weights with the lowest validation loss so far.
pub const BEST: &str = "best.safetensors";
/// Everything needed to continue the run exactly: the tensors (weights, optimizer state,
/// best weights) in the training precision, the rest as JSON in the metadata.
pub const RESUME: &str = "resume.safetensors";
/// The resume state of earlier versions (every float as decimal text): still resumed from
/// when no [`RESUME`] is present, and removed when the run writes its next state.
pub const LEGACY_RESUME: &str = "resume.json";
/// With `training.record_trajectory`: one line per epoch (epoch 0 = the initial weights),
/// `{"epoch": k, "params": [...]}`, every parameter flattened in `state_dict` order.
pub const TRAJECTORY: &str = "trajectory.jsonl";
/// The run's outcome (what `train --json` prints), written when the run ends.
pub const SUMMARY: &str = "summary.json";

/// `trainscope diagnose RUN`: the Hessian at the run's weights.
pub const DIAGNOSE: &str = "diagnose.json";
/// `trainscope critical … --out DIR`: the critical-point experiment.
pub const CRITICAL: &str = "critical.json";
/// `trainscope guide … --out DIR`: the general guide's ladder.
pub const GUIDE: &str = "guide.json";
/// `trainscope batch-size … --out DIR`: the batch-size comparison.
pub const BATCH_SIZE: &str = "batch_size.json";
/// Prefix of `trainscope surface RUN`'s files: `surface-<slice>.{json,csv,png,svg}`.
pub const SURFACE_PREFIX: &str = "surface-";

/// Analyses that other commands write into a directory, each one JSON object with a `stamp`.
pub const ANALYSES: [&str; 4] = [DIAGNOSE, CRITICAL, GUIDE, BATCH_SIZE];

/// The resolved configuration an experiment ran, kept beside its result: `critical.json` →
/// `critical.config.toml` (never the run's own `config.toml`).
pub fn config_copy_of(analysis: &str) -> String {
    format!("{}.config.toml", analysis.trim_end_matches(".json"))
}

/// True for a file that describes the weights of a run rather than the run itself: a new
/// (not resumed) run in the directory removes these, as the weights they describe are gone.
pub fn describes_weights(name: &str) -> bool {
    name == DIAGNOSE || name.starts_with(SURFACE_PREFIX)
}

/// The checkpoint a run directory stands for, in every command that takes one:
/// `model.safetensors`, the run's model — the final weights, or the best epoch's when
/// early stopping restored them — whose losses `train` reports.
pub fn checkpoint_of(dir: &Path) -> PathBuf {
    dir.join(MODEL)
}

/// Removes the analyses of a run directory's old weights (before a new run writes new ones);
/// returns the names removed. Files that are not analyses are never touched.
pub fn remove_analyses(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let analysis = ANALYSES
            .iter()
            .any(|a| name == *a || name == config_copy_of(a));
        if (analysis || describes_weights(&name)) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_removes_the_analyses_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            DIAGNOSE,
            CRITICAL,
            "critical.config.toml",
            "surface-random.csv",
            "surface-random.json",
            METRICS,
            CONFIG,
            "notes.txt",
        ] {
            std::fs::write(d.path().join(f), "x").unwrap();
        }
        let removed = remove_analyses(d.path()).unwrap();
        assert_eq!(
            removed,
            [
                "critical.config.toml",
                CRITICAL,
                DIAGNOSE,
                "surface-random.csv",
                "surface-random.json"
            ]
        );
        for kept in [METRICS, CONFIG, "notes.txt"] {
            assert!(d.path().join(kept).is_file(), "{kept} must stay");
        }
    }
}
