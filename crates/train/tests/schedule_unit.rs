//! A schedule counted in epochs (`schedule.unit = "epoch"`) gives every update of an epoch the
//! rate PyTorch's scheduler gives when `scheduler.step()` is called once per epoch, and a run
//! stopped inside or between epochs resumes bit-identical to one that never stopped.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trainscope_train::{files, load_run_data, train, Config, Observer, RunOptions, Silent};

/// 300 rows of a smooth regression target of four features.
fn write_data(dir: &Path) -> String {
    let mut text = String::from("x1,x2,x3,x4,y\n");
    for i in 0..300 {
        let x: Vec<f64> = (0..4)
            .map(|j| ((i * 7 + j * 13) as f64 * 0.618).sin())
            .collect();
        let y = x[0] * x[1] + x[2].sin() - 0.3 * x[3];
        text += &format!("{},{},{},{},{y}\n", x[0], x[1], x[2], x[3]);
    }
    let p = dir.join("data.csv");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// An MLP trained with momentum SGD and a step schedule (step_size 2, gamma 0.5), 240 training
/// rows in batches of 16 (15 updates per epoch), 7 epochs; then `sets`.
fn config(dir: &Path, sets: &[&str]) -> Config {
    let text = format!(
        r#"
seed = 5
[data]
train = "{}"
target = "y"
task = "regression"
validation_fraction = 0.2
[model]
preset = "mlp"
hidden = [8]
dropout = 0.1
[optimizer]
kind = "sgd"
lr = 0.1
momentum = 0.9
[schedule]
kind = "step"
step_size = 2
gamma = 0.5
[training]
epochs = 7
batch_size = 16
checkpoint_interval_s = 1000
"#,
        write_data(dir)
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::load(&p, &sets).unwrap()
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
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

fn lrs(dir: &Path) -> Vec<f64> {
    metrics(dir)
        .iter()
        .map(|m| m["lr"].as_f64().unwrap())
        .collect()
}

fn run(
    config: &Config,
    out: &Path,
    resume: bool,
    observer: &mut dyn Observer,
    stop: Option<Arc<AtomicBool>>,
) {
    let data = load_run_data(config).unwrap();
    let opts = RunOptions {
        out_dir: Some(out.to_path_buf()),
        resume,
        stop,
        ..RunOptions::default()
    };
    train(config, &data, &opts, observer).unwrap();
}

#[test]
fn an_epoch_unit_step_schedule_gives_pytorchs_rate_per_epoch() {
    // PyTorch, scheduler.step() once per epoch; the rate of epoch e (from 0) is
    // 0.1 · 0.5^⌊e / 2⌋ (StepLR multiplies by gamma every step_size steps):
    //
    //   opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    //   sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    //   for epoch in range(7):
    //       for x, y in loader:  # 15 batches
    //           ...; opt.step()
    //       print(opt.param_groups[0]["lr"]); sched.step()
    //   # 0.1 0.1 0.05 0.05 0.025 0.025 0.0125
    let dir = tempfile::tempdir().unwrap();
    let by_epoch = config(dir.path(), &["schedule.unit=epoch"]);
    let out = dir.path().join("epoch");
    run(&by_epoch, &out, false, &mut Silent, None);
    assert_eq!(
        lrs(&out),
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125],
        "metrics.jsonl's lr is the rate of the epoch's updates"
    );
    let saved = std::fs::read_to_string(out.join(files::CONFIG)).unwrap();
    assert!(saved.contains("unit = \"epoch\""), "{saved}");

    // Counted in updates (the default, as before) the rate halves every 2 updates: the lr of
    // epoch e (from 1) is that of its last update, step 15e − 1.
    let by_update = config(dir.path(), &[]);
    let out = dir.path().join("update");
    run(&by_update, &out, false, &mut Silent, None);
    let want: Vec<f64> = (1..=7)
        .map(|e: i32| 0.1 * 0.5f64.powi((15 * e - 1) / 2))
        .collect();
    assert_eq!(lrs(&out), want);
    let saved = std::fs::read_to_string(out.join(files::CONFIG)).unwrap();
    assert!(saved.contains("unit = \"update\""), "{saved}");
}

/// Raises the stop flag after update `update` of epoch `epoch`, as a signal would.
struct StopAt {
    epoch: usize,
    update: usize,
    flag: Arc<AtomicBool>,
}

impl Observer for StopAt {
    fn on_update(&mut self, epoch: usize, update: usize, _loss: f64) {
        if (epoch, update) == (self.epoch, self.update) {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

/// Every tensor of a checkpoint, by name.
fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut w: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.data().to_vec()))
        .collect();
    w.sort();
    w
}

#[test]
fn an_epoch_unit_run_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &["schedule.unit=epoch"]);
    let full = dir.path().join("full");
    run(&config, &full, false, &mut Silent, None);
    // Inside epoch 3 (the first with a decayed rate), at the end of epoch 2 (just before the
    // decay), and inside epoch 5.
    for (epoch, update) in [(3, 6), (2, 15), (5, 1)] {
        let out = dir.path().join(format!("stop-{epoch}-{update}"));
        let flag = Arc::new(AtomicBool::new(false));
        let mut stop = StopAt {
            epoch,
            update,
            flag: Arc::clone(&flag),
        };
        run(&config, &out, false, &mut stop, Some(flag));
        assert!(metrics(&out).len() < 7, "the run stopped");
        run(&config, &out, true, &mut Silent, None);
        assert_eq!(
            metrics(&out),
            metrics(&full),
            "stopped at {epoch}, {update}"
        );
        assert_eq!(
            tensors(&out.join(files::MODEL)),
            tensors(&full.join(files::MODEL)),
            "stopped at {epoch}, {update}"
        );
    }
}
