//! Tiny problems for the unit tests of the trainer's steps, built in memory.

use std::path::Path;

use trainscope_data::{Dataset, Targets};

use crate::config::Config;
use crate::data::RunData;

/// Training inputs of [`regression`]: centred and small, so that SGD at 0.1 contracts every
/// direction without overshooting.
pub(crate) const X: &[f64] = &[-1.0, -0.5, 0.5, 1.0];
/// Training targets: about `2x + 1`.
pub(crate) const Y: &[f64] = &[-1.1, 0.1, 1.9, 3.2];
/// Validation inputs.
pub(crate) const VAL_X: &[f64] = &[0.0, 0.25];
/// Validation targets.
pub(crate) const VAL_Y: &[f64] = &[1.0, 1.4];

fn rows(x: &[f64], y: &[f64]) -> Dataset {
    Dataset::new(
        x.to_vec(),
        vec!["x".into()],
        "y",
        Targets::Regression(y.to_vec()),
        None,
    )
    .unwrap()
}

/// A linear regression of [`Y`] on [`X`] validated on [`VAL_X`], [`VAL_Y`]: f64, no
/// standardization, full-batch SGD at lr 0.1, 3 epochs; then the `--set` overrides `sets`.
pub(crate) fn regression(sets: &[&str]) -> (Config, RunData) {
    regression_at(Path::new("/tiny"), sets)
}

/// [`regression`] with its data files written to `dir` (a run directory stamps them).
pub(crate) fn regression_in(dir: &Path, sets: &[&str]) -> (Config, RunData) {
    for (name, x, y) in [("train.csv", X, Y), ("validation.csv", VAL_X, VAL_Y)] {
        let lines: String = x.iter().zip(y).map(|(x, y)| format!("{x},{y}\n")).collect();
        std::fs::write(dir.join(name), format!("x,y\n{lines}")).unwrap();
    }
    regression_at(dir, sets)
}

fn regression_at(base: &Path, sets: &[&str]) -> (Config, RunData) {
    let text = r#"
dtype = "f64"
[data]
train = "train.csv"
validation = "validation.csv"
target = "y"
task = "regression"
standardize = false
standardize_target = false
[model]
preset = "linear"
[optimizer]
kind = "sgd"
lr = 0.1
[training]
epochs = 3
batch_size = "full"
checkpoint_interval_s = 0
"#;
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let config = Config::parse(text, Path::new("tiny.toml"), base, &sets).unwrap();
    let data = RunData {
        train: rows(X, Y),
        validation: Some(rows(VAL_X, VAL_Y)),
        test: None,
        shards: Default::default(),
    };
    (config, data)
}
