//! Augmentation of training images (`data.augment_shift`, `data.augment_hflip`): it changes
//! the training but not the initialization, replays exactly with the same seed, leaves the
//! validation rows alone, resumes bit-identical from a stop inside an epoch, and is refused
//! without images.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trainscope_train::{files, load_run_data, train, Config, RunOptions, Silent, TrainedModel};

/// 5 × 5 images of a bright cross, plus or diagonal, at a random place, with noise; `n` rows.
fn write_images(path: &Path, n: usize, seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / (1u64 << 31) as f64
    };
    let mut text: String = (0..25).map(|i| format!("p{i},")).collect::<String>() + "label\n";
    for i in 0..n {
        let class = i % 2;
        let (cy, cx) = (1 + (next() * 3.0) as usize, 1 + (next() * 3.0) as usize);
        let px: Vec<String> = (0..25)
            .map(|k| {
                let (y, x) = (
                    (k / 5) as isize - cy as isize,
                    (k % 5) as isize - cx as isize,
                );
                let on = match class {
                    0 => (y == 0 && x.abs() <= 1) || (x == 0 && y.abs() <= 1),
                    _ => y.abs() == x.abs() && y.abs() <= 1,
                };
                format!("{:.4}", f64::from(u8::from(on)) + 0.2 * next())
            })
            .collect();
        text += &format!("{},{}\n", px.join(","), ["plus", "cross"][class]);
    }
    std::fs::write(path, text).unwrap();
}

/// A small CNN on the crosses (f64, validation file, trajectory recorded), then `more`.
fn config(dir: &Path, more: &str) -> Result<Config, String> {
    write_images(&dir.join("train.csv"), 120, 5);
    write_images(&dir.join("val.csv"), 40, 9);
    let text = format!(
        r#"
seed = 4
dtype = "f64"
[data]
train = "train.csv"
validation = "val.csv"
target = "label"
task = "classification"
image_shape = [1, 5, 5]
{more}
[model]
preset = "cnn"
channels = [3]
batch_norm = true
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
[training]
epochs = 3
batch_size = 16
record_trajectory = true
checkpoint_interval_s = 1000
"#
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(&p, &[]).map_err(|e| e.to_string())
}

const AUGMENT: &str = "augment_shift = 1\naugment_hflip = true";

/// Every tensor of a checkpoint, sorted by name.
fn weights(path: &Path) -> Vec<(String, Vec<u8>)> {
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

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn metrics_without_clock(dir: &Path) -> Vec<serde_json::Value> {
    lines(&dir.join(files::METRICS))
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

fn run(config: &Config, out: &Path, resume: bool, stop: Option<Arc<AtomicBool>>) -> f64 {
    let data = load_run_data(config).unwrap();
    let opts = RunOptions {
        out_dir: Some(out.to_path_buf()),
        resume,
        stop,
        ..RunOptions::default()
    };
    let s = train(config, &data, &opts, &mut Silent).unwrap();
    s.val_loss.unwrap()
}

#[test]
fn augmentation_changes_the_training_not_the_start_and_replays_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = config(dir.path(), "").unwrap();
    let augmented = config(dir.path(), AUGMENT).unwrap();
    let (p, a, again) = (
        dir.path().join("plain"),
        dir.path().join("augmented"),
        dir.path().join("again"),
    );
    run(&plain, &p, false, None);
    let val_loss = run(&augmented, &a, false, None);
    run(&augmented, &again, false, None);

    // The same initial weights (the trajectory's first line is epoch 0), then other ones.
    let (tp, ta) = (
        lines(&p.join(files::TRAJECTORY)),
        lines(&a.join(files::TRAJECTORY)),
    );
    assert_eq!(tp[0], ta[0]);
    assert_ne!(tp[1], ta[1]);
    assert_ne!(
        weights(&p.join(files::MODEL)),
        weights(&a.join(files::MODEL))
    );
    // The same seed replays the augmented run exactly.
    assert_eq!(
        weights(&a.join(files::MODEL)),
        weights(&again.join(files::MODEL))
    );
    assert_eq!(metrics_without_clock(&a), metrics_without_clock(&again));

    // The validation rows were not augmented: the final model evaluates them as the run did.
    let model = TrainedModel::load(&a.join(files::MODEL)).unwrap();
    let eval = model.evaluate_file(&dir.path().join("val.csv")).unwrap();
    assert!(
        (eval.loss - val_loss).abs() < 1e-12 * val_loss.max(1.0),
        "evaluated {} vs the run's {val_loss}",
        eval.loss
    );
}

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

#[test]
fn an_augmented_run_stopped_inside_an_epoch_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), AUGMENT).unwrap();
    let full = dir.path().join("full");
    let reference = run(&config, &full, false, None);
    // 120 rows in batches of 16: 8 updates per epoch.
    for (epoch, update) in [(1, 3), (2, 8)] {
        let out = dir.path().join(format!("stop-{epoch}-{update}"));
        let flag = Arc::new(AtomicBool::new(false));
        let mut observer = StopAt {
            epoch,
            update,
            flag: Arc::clone(&flag),
        };
        let data = load_run_data(&config).unwrap();
        let opts = RunOptions {
            out_dir: Some(out.clone()),
            stop: Some(flag),
            ..RunOptions::default()
        };
        let stopped = train(&config, &data, &opts, &mut observer).unwrap();
        assert!(stopped.interrupted);
        let resumed = run(&config, &out, true, None);
        assert_eq!(resumed, reference);
        assert_eq!(metrics_without_clock(&out), metrics_without_clock(&full));
        assert_eq!(
            weights(&out.join(files::MODEL)),
            weights(&full.join(files::MODEL)),
            "after a stop at epoch {epoch}, update {update}"
        );
    }
}

#[test]
fn augmentation_without_images_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write_images(&dir.path().join("train.csv"), 20, 1);
    for (line, key) in [
        ("augment_shift = 2", "data.augment_shift"),
        ("augment_hflip = true", "data.augment_hflip"),
    ] {
        let text = format!(
            "[data]\ntrain = \"train.csv\"\ntarget = \"label\"\ntask = \"classification\"\n{line}\n"
        );
        let p = dir.path().join("flat.toml");
        std::fs::write(&p, text).unwrap();
        let e = Config::load(&p, &[]).unwrap_err().to_string();
        let want = format!("{key}: augmentation moves the pixels of images: give data.image_shape");
        assert!(e.contains(&want), "{e}\nwanted: {want}");
    }

    // A shift as large as the image is refused once the image is known.
    let config = config(dir.path(), "augment_shift = 5").unwrap();
    let data = load_run_data(&config).unwrap();
    let e = train(&config, &data, &RunOptions::default(), &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data.augment_shift: a shift of 5 pixels can move a 5 × 5 image out of its frame; at most 4"),
        "{e}"
    );
}
