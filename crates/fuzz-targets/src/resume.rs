//! The resume-state target: a fixed small run (its configuration and data built in memory
//! once) continued from the fuzzed state, as `train --resume` continues it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use trainscope_data::CsvOptions;
use trainscope_train::{files, Config, Observer, RunData, RunOptions, Silent};

/// Every piece of state a resume carries: batch norm (buffers and counters), dropout, Adam
/// (two buffers), a plateau schedule, validation (best weights), early-stopping counters.
const CONFIG: &str = r#"
seed = 5
dtype = "f32"
[data]
train = "fuzz.csv"
target = "label"
task = "classification"
validation_fraction = 0.25
[model]
preset = "mlp"
hidden = [4]
batch_norm = true
dropout = 0.2
[optimizer]
kind = "adam"
lr = 0.01
[schedule]
kind = "plateau"
patience = 1
[training]
epochs = 3
batch_size = 6
early_stopping_patience = 5
"#;

/// 40 rows, three features, three classes.
fn csv() -> String {
    let mut text = String::from("a,b,c,label\n");
    for i in 0..40usize {
        let x = |k: usize| ((i * 7 + k * 13) as f64 * 0.618).sin();
        text += &format!("{},{},{},{}\n", x(0), x(1), x(2), ["r", "g", "b"][i % 3]);
    }
    text
}

/// The fixed run, its data file taken relative to `base` (which needs to hold it only for a
/// run with a run directory, whose resume state stamps the file).
fn run_in(base: &Path) -> (Config, RunData) {
    let config = Config::parse(CONFIG, Path::new("fuzz.toml"), base, &[])
        .expect("the fixed configuration is valid");
    let full = CsvOptions::classification("label")
        .parse(Path::new("fuzz.csv"), csv().as_bytes())
        .expect("the fixed data is valid");
    let (train, validation) = full
        .split_validation(0.25, config.seed, false)
        .expect("the fixed split is valid");
    let data = RunData {
        train,
        validation: Some(validation),
        test: None,
        shards: Default::default(),
    };
    (config, data)
}

fn run() -> &'static (Config, RunData) {
    static RUN: OnceLock<(Config, RunData)> = OnceLock::new();
    RUN.get_or_init(|| run_in(Path::new("")))
}

/// A resume state for the fixed run: the first byte says which file it is (odd:
/// `resume.json` of earlier versions, even: `resume.safetensors`), the rest is the file.
pub fn resume(data: &[u8]) {
    let _ = resume_run(data);
}

/// [`resume`], with the run's outcome.
pub(crate) fn resume_run(data: &[u8]) -> trainscope_train::Result<trainscope_train::Summary> {
    let Some((&kind, bytes)) = data.split_first() else {
        return Err(trainscope_train::TrainError::Mismatch("no input".into()));
    };
    let name = if kind & 1 == 1 {
        files::LEGACY_RESUME
    } else {
        files::RESUME
    };
    let (config, run_data) = run();
    trainscope_train::train_from_state(config, run_data, Path::new(name), bytes, &mut Silent)
}

/// Raises the stop flag after update `update` of epoch `epoch`, as Ctrl-C would.
struct StopAt {
    epoch: usize,
    update: usize,
    flag: Arc<AtomicBool>,
}

impl Observer for StopAt {
    fn on_update(&mut self, epoch: usize, update: usize, _loss: f64) {
        if (epoch, update) == (self.epoch, self.update) {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Seeds for [`resume`]: the fixed run's state after its first epoch and inside its second,
/// in `dir` (a scratch directory), each as written (`resume.safetensors`).
pub fn resume_seeds(dir: &Path) -> Vec<Vec<u8>> {
    std::fs::write(dir.join("fuzz.csv"), csv()).expect("a scratch directory");
    let (config, data) = &run_in(dir);
    let mut seeds = Vec::new();
    for (i, stop) in [(1, None), (2, Some((2, 3)))] {
        let out = dir.join(format!("seed{i}"));
        let flag = Arc::new(AtomicBool::new(false));
        let opts = RunOptions {
            out_dir: Some(out.clone()),
            stop_after_epoch: stop.is_none().then_some(1),
            stop: Some(flag.clone()),
            ..Default::default()
        };
        let mut observer = StopAt {
            epoch: stop.map_or(0, |s| s.0),
            update: stop.map_or(0, |s| s.1),
            flag,
        };
        trainscope_train::train(config, data, &opts, &mut observer).expect("the fixed run trains");
        let bytes = std::fs::read(out.join(files::RESUME)).expect("a resume state");
        let mut seed = vec![0u8];
        seed.extend_from_slice(&bytes);
        seeds.push(seed);
    }
    seeds
}
