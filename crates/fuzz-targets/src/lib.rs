//! # trainscope-fuzz-targets
//!
//! What each fuzz target of `fuzz/` does with its input, as plain functions: the libFuzzer
//! binaries (nightly, `cargo fuzz run NAME`) are one line each around them, and
//! `tests/replay.rs` runs every committed corpus and crash input through the same functions
//! on the stable toolchain. Each function takes the bytes of one or more files, calls the
//! same library functions the command-line tool calls on those files, and returns; any panic
//! is a bug. Errors are expected (most inputs are malformed) and ignored.
//!
//! Inputs that stand for several files are split: text files at NUL bytes (which no JSON,
//! TOML or CSV file of trainscope's holds), binary files by a little-endian `u32` length
//! prefix ([`split_binary`]).

use std::path::Path;

use trainscope_data::{
    parse_idx, parse_idx_dataset, CsvOptions, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC,
};
use trainscope_train::{Config, RunData, RunOptions, Silent, TrainedModel};

mod alloc_cap;
mod prepared;
mod resume;
pub use alloc_cap::{CappedAlloc, LIMIT as ALLOC_LIMIT};
pub use prepared::{prepared, prepared_seeds};
pub use resume::{resume, resume_seeds};

/// A target's body: takes one input, returns normally or panics (a bug).
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/` name them.
pub const TARGETS: [(&str, Target); 7] = [
    ("csv", csv),
    ("idx", idx),
    ("config", config),
    ("checkpoint", checkpoint),
    ("resume", resume),
    ("run_dir", run_dir),
    ("prepared", prepared),
];

/// `data` as a `u32`-length-prefixed first part and the rest; a length past the end takes all.
pub fn split_binary(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return (&[], data);
    };
    let n = (u32::from_le_bytes(*len) as usize).min(rest.len());
    rest.split_at(n)
}

/// The inverse of [`split_binary`], for writing seeds.
pub fn join_binary(first: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(first.len())
        .expect("seed parts are small")
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(first);
    out.extend_from_slice(rest);
    out
}

/// A training CSV: the first line is a mode byte and the target column's name, the rest the
/// file. Read as `train` reads it (with the mode's task, and a validation split when the
/// mode says so), then one epoch of a small MLP on it in memory, then the file read again with
/// the training set's schema as `eval` and `predict` read files.
///
/// The file is also prepared (`trainscope prepare`, the reader's streaming mode) and must give
/// the same rows, or the same refusal.
///
/// Mode bits: 1 classification, 2 validation split, 4 stratified split, 8 standardized target.
pub fn csv(data: &[u8]) {
    let _ = csv_train(data);
}

/// [`csv`], with the training run's outcome (`None`: the input ended before training).
fn csv_train(data: &[u8]) -> Option<trainscope_train::Result<trainscope_train::Summary>> {
    let nl = data.iter().position(|&b| b == b'\n')?;
    let (head, body) = (&data[..nl], &data[nl + 1..]);
    let (&mode, target) = head.split_first()?;
    let target = std::str::from_utf8(target).ok()?;
    let classification = mode & 1 != 0;
    let text = format!(
        "seed = 1\n[data]\ntrain = \"fuzz.csv\"\ntarget = {}\ntask = \"{}\"\n{}{}{}\
         [model]\npreset = \"mlp\"\nhidden = [3]\n[training]\nepochs = 1\nbatch_size = 4\n",
        toml_string(target),
        if classification {
            "classification"
        } else {
            "regression"
        },
        if mode & 2 != 0 {
            "validation_fraction = 0.25\n"
        } else {
            ""
        },
        if mode & 4 != 0 {
            "stratify = true\n"
        } else {
            ""
        },
        if mode & 8 != 0 {
            "standardize_target = false\n"
        } else {
            ""
        },
    );
    let config = Config::parse(&text, Path::new("fuzz.toml"), Path::new(""), &[]).ok()?;
    let path = Path::new("fuzz.csv");
    let options = CsvOptions::new(target, config.task());
    let full = options.parse(path, body);
    prepared::prepare_agrees(&options, body, full.as_ref().ok());
    let full = full.ok()?;
    let schema = full.schema();
    let _ = schema.parse(path, body);
    let _ = schema.parse_for_prediction(path, body);
    let (train, validation) = match config.data.validation_fraction {
        Some(f) => {
            let (t, v) = full
                .split_validation(f, config.seed, config.data.stratify)
                .ok()?;
            (t, Some(v))
        }
        None => (full, None),
    };
    let data = RunData {
        train,
        validation,
        test: None,
        shards: Default::default(),
    };
    Some(trainscope_train::train(
        &config,
        &data,
        &RunOptions::default(),
        &mut Silent,
    ))
}

/// A TOML string literal holding `s` (basic string, every non-printable character escaped).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An IDX image file and an IDX label file ([`split_binary`]), read as `train` reads
/// `data.train_images` and `data.train_labels`; each part also on its own with both magics.
pub fn idx(data: &[u8]) {
    let (images, labels) = split_binary(data);
    let (ip, lp) = (Path::new("images.idx"), Path::new("labels.idx"));
    for (p, b) in [(ip, images), (lp, labels)] {
        let _ = parse_idx(p, b, IDX_IMAGES_MAGIC);
        let _ = parse_idx(p, b, IDX_LABELS_MAGIC);
    }
    let _ = parse_idx_dataset(ip, images, lp, labels);
}

/// A configuration: the TOML text, then `--set` overrides, each after a NUL byte. What every
/// command that takes a configuration does with it: parse, validate, describe the model and
/// bound its size; then the resolved configuration (what `config.toml` of a run directory
/// holds) must read back to itself, as `--resume` relies on.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let toml = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.map(String::from).collect();
    let (path, base) = (Path::new("fuzz.toml"), Path::new("/fuzz"));
    let Ok(config) = Config::parse(toml, path, base, &sets) else {
        return;
    };
    let resolved = config.to_toml();
    let again = Config::parse(&resolved, path, base, &[]).unwrap_or_else(|e| {
        panic!("the resolved configuration does not read back: {e}\n{resolved}")
    });
    assert_eq!(
        again.to_toml(),
        resolved,
        "the resolved configuration changes on reading"
    );
    for (inputs, outputs) in [(1, 1), (4, 3), (784, 10)] {
        let _ = trainscope_train::model_spec(&config, inputs, outputs);
    }
}

/// A checkpoint file (safetensors with trainscope's metadata), read as `predict`, `eval` and
/// `diagnose` read it, then one row of zeros predicted with it.
pub fn checkpoint(data: &[u8]) {
    let path = Path::new("model.safetensors");
    let _ = trainscope_nn::Sequential::<f32>::parse(path, data);
    let Ok(model) = TrainedModel::parse(path, data) else {
        return;
    };
    let d = model.schema().feature_names.len();
    let input = trainscope_data::PredictionData {
        features: vec![0.0; d],
        feature_names: model.schema().feature_names.clone(),
        targets: None,
        lines: vec![2],
    };
    let _ = model.predict(&input);
}

/// A run directory's `metrics.jsonl`, `summary.json` and `config.toml`, NUL-separated, read as
/// `train`'s closing findings, `diagnose`, `guide` and `report` read them, then the findings.
pub fn run_dir(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let metrics = parts.next().unwrap_or_default();
    let summary = parts.next();
    let config = parts.next();
    let dir = Path::new("/fuzz/run");
    let _ = trainscope_report::parse_metrics_jsonl(&dir.join("metrics.jsonl"), metrics);
    let Ok(epochs) = trainscope_inspect::parse_epochs(&dir.join("metrics.jsonl"), metrics) else {
        return;
    };
    let summary =
        summary.and_then(|s| trainscope_inspect::parse_summary(&dir.join("summary.json"), s).ok());
    let config = config.and_then(|c| Config::parse(c, &dir.join("config.toml"), dir, &[]).ok());
    let facts = trainscope_inspect::facts(&epochs, config.as_ref(), summary.as_ref());
    let report = trainscope_findings::find(&facts);
    let _ = trainscope_inspect::stuck_from_findings(&report);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds reach what the targets are for: a training run, a resumed run.
    #[test]
    fn well_formed_inputs_reach_training() {
        for mode in [0u8, 1, 3, 7] {
            let mut input = vec![mode];
            input.extend_from_slice(b"y\nx,y\n");
            for i in 0..30 {
                input.extend_from_slice(format!("{},{}\n", i, i % 2).as_bytes());
            }
            let outcome = csv_train(&input).expect("the input parses");
            outcome.unwrap_or_else(|e| panic!("mode {mode}: {e}"));
        }
        let dir = tempfile::tempdir().unwrap();
        for seed in resume_seeds(dir.path()) {
            resume::resume_run(&seed).expect("the seed resumes");
        }
        for seed in prepared_seeds(dir.path()) {
            let outcome = prepared::prepared_run(&seed).expect("the seed reaches training");
            outcome.unwrap_or_else(|e| panic!("mode {}: {e}", seed[0]));
        }
    }
}
