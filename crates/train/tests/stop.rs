//! A run stopped between two updates (the `stop` flag of `RunOptions`, as a signal handler sets
//! it) resumes with the next update and ends bit-identical to a run that never stopped; a run
//! that diverges keeps the last completed epoch's weights and reports the run so far.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trainscope_train::{
    files, load_run_data, metadata_keys, train, Config, Position, RunOptions, Silent, TrainError,
};

/// A CSV of `n` rows with four features, a label that depends on them non-linearly, and a
/// numeric target `y` that depends on them linearly.
fn write_data(dir: &Path, n: usize) -> String {
    let mut text = String::from("x1,x2,x3,x4,label,y\n");
    for i in 0..n {
        let x: Vec<f64> = (0..4)
            .map(|j| ((i * 7 + j * 13) as f64 * 0.618).sin() * (1.0 + j as f64))
            .collect();
        let label = if x[0] * x[1] + x[2].sin() - 0.3 * x[3] > 0.0 {
            "yes"
        } else {
            "no"
        };
        let y = 30.0 * x[0] - 20.0 * x[1] + 10.0 * x[2] + 50.0;
        text += &format!("{},{},{},{},{label},{y}\n", x[0], x[1], x[2], x[3]);
    }
    let p = dir.join("data.csv");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A configuration on 400 rows (300 to train on) whose `[data]` section goes on with `rest`.
fn config(dir: &Path, rest: &str) -> Config {
    let text = format!(
        r#"
seed = 11
[data]
train = "{}"
features = ["x1", "x2", "x3", "x4"]
validation_fraction = 0.25
{rest}
"#,
        write_data(dir, 400)
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(&p, &[]).unwrap()
}

/// Dropout, batch norm, momentum, a plateau schedule and validation (best weights): every
/// piece of state a resume inside an epoch must carry.
const STATEFUL: &str = r#"
target = "label"
task = "classification"
[model]
preset = "mlp"
hidden = [12, 6]
batch_norm = true
dropout = 0.2
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
[schedule]
kind = "plateau"
patience = 1
factor = 0.5
[training]
epochs = 4
batch_size = 16
checkpoint_interval_s = 1000
"#;

/// Raises the stop flag after update `update` of epoch `epoch`, as a signal would.
struct StopAt {
    epoch: usize,
    update: usize,
    flag: Arc<AtomicBool>,
}

impl trainscope_train::Observer for StopAt {
    fn on_update(&mut self, epoch: usize, update: usize, _loss: f64) {
        if (epoch, update) == (self.epoch, self.update) {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

fn metrics_without_clock(dir: &Path) -> Vec<serde_json::Value> {
    // No file before the first epoch completes.
    std::fs::read_to_string(dir.join(files::METRICS))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

/// A tensor of a checkpoint: name, shape, bytes.
type Named = (String, Vec<usize>, Vec<u8>);

/// Every tensor of a checkpoint and the epoch in its metadata.
fn weights(path: &Path) -> (Vec<Named>, usize) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut w: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.shape().to_vec(), t.data().to_vec()))
        .collect();
    w.sort();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let epoch = meta.metadata().as_ref().unwrap()[metadata_keys::EPOCH]
        .parse()
        .unwrap();
    (w, epoch)
}

#[test]
fn a_run_stopped_inside_an_epoch_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), STATEFUL);
    let data = load_run_data(&config).unwrap();
    let full = dir.path().join("full");
    let opts = |out: &Path, resume: bool, flag: &Arc<AtomicBool>| RunOptions {
        out_dir: Some(out.to_path_buf()),
        resume,
        stop: Some(Arc::clone(flag)),
        ..RunOptions::default()
    };
    let never = Arc::new(AtomicBool::new(false));
    let reference = train(&config, &data, &opts(&full, false, &never), &mut Silent).unwrap();
    assert!(!reference.interrupted);
    // 300 training rows in batches of 16: 19 updates per epoch. Stop inside the first epoch,
    // in the middle of one, and after the last update of one (before it is evaluated).
    for (epoch, update) in [(1, 4), (2, 7), (3, 19)] {
        let run = dir.path().join(format!("stop-{epoch}-{update}"));
        let flag = Arc::new(AtomicBool::new(false));
        let mut observer = StopAt {
            epoch,
            update,
            flag: Arc::clone(&flag),
        };
        let stopped = train(&config, &data, &opts(&run, false, &flag), &mut observer).unwrap();
        assert!(stopped.interrupted);
        assert_eq!(
            stopped.stopped_at,
            Some(Position {
                epoch,
                update,
                step: ((epoch - 1) * 19 + update) as u64
            })
        );
        assert_eq!(stopped.epochs, epoch - 1);
        assert_eq!(stopped.train_loss.is_nan(), epoch == 1);
        // metrics.jsonl has the completed epochs only; model.safetensors the last of them.
        assert_eq!(metrics_without_clock(&run).len(), epoch - 1);
        assert_eq!(weights(&run.join(files::MODEL)).1, epoch - 1);

        let flag = Arc::new(AtomicBool::new(false));
        let resumed = train(&config, &data, &opts(&run, true, &flag), &mut Silent).unwrap();
        assert!(!resumed.interrupted);
        assert_eq!(resumed.steps, reference.steps);
        assert_eq!(metrics_without_clock(&run), metrics_without_clock(&full));
        for f in [files::MODEL, files::BEST] {
            assert_eq!(
                weights(&run.join(f)),
                weights(&full.join(f)),
                "{f} after a stop at epoch {epoch}, update {update}"
            );
        }
        assert_eq!(resumed.val_loss, reference.val_loss);
    }
}

#[test]
fn a_stop_raised_before_the_first_update_stops_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), STATEFUL);
    let data = load_run_data(&config).unwrap();
    let run = dir.path().join("run");
    // Raised before the run starts: it stops after its first update.
    let flag = Arc::new(AtomicBool::new(true));
    let opts = RunOptions {
        out_dir: Some(run.clone()),
        stop: Some(flag),
        ..RunOptions::default()
    };
    let s = train(&config, &data, &opts, &mut Silent).unwrap();
    assert!(s.interrupted);
    assert_eq!(s.steps, 1);
    assert!(s.diverged.is_none());
    assert_eq!(weights(&run.join(files::MODEL)).1, 0);
}

#[test]
fn a_diverging_run_keeps_the_last_completed_epoch_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    // Plain SGD past the stable step size on a linear model of an unstandardized target
    // (0.4 still converges): the loss grows by orders of magnitude every epoch and overflows
    // in the third.
    let config = config(
        dir.path(),
        r#"
target = "y"
task = "regression"
[model]
preset = "linear"
[optimizer]
kind = "sgd"
lr = 0.7
[training]
epochs = 200
batch_size = 16
checkpoint_interval_s = 1000
"#,
    );
    let data = load_run_data(&config).unwrap();
    let run = dir.path().join("run");
    let opts = RunOptions {
        out_dir: Some(run.clone()),
        ..RunOptions::default()
    };
    let err = train(&config, &data, &opts, &mut Silent).unwrap_err();
    let TrainError::Diverged {
        epoch,
        update,
        last_good,
        summary,
        ..
    } = &err
    else {
        panic!("expected a divergence, got {err}");
    };
    let summary = summary.as_ref().expect("a diverged run has a summary");
    let d = summary.diverged.as_ref().expect("diverged is filled");
    assert_eq!((d.epoch, d.update), (*epoch, *update));
    assert!(
        *epoch >= 2,
        "diverged in epoch {epoch}: the test wants a later one"
    );
    assert_eq!(summary.epochs, epoch - 1);
    assert_eq!(metrics_without_clock(&run).len(), epoch - 1);
    assert_eq!(
        last_good.as_ref().map(|(p, e)| (p.clone(), *e)),
        Some((run.join(files::MODEL), epoch - 1))
    );
    assert_eq!(weights(&run.join(files::MODEL)).1, epoch - 1);
    assert!(summary.train_loss.is_finite());
    assert!(err.to_string().contains(&format!("(epoch {})", epoch - 1)));
}
