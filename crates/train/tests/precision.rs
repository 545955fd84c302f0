//! A run reads its features into the storage its dtype needs (`f32` for `f32` training on the
//! values as read, the exact values otherwise: IDX bytes, CSV `f64`). Whatever the storage, the
//! run must be the one it was when every dataset was an `f64` matrix: the same metrics, bit for
//! bit, for `f32` and `f64` training, with and without standardization.

use std::path::Path;

use trainscope_data::{load_idx, CsvOptions, Dataset, Features};
use trainscope_train::{files, load_run_data, train, Config, RunData, RunOptions, Silent};

/// 240 images of 3 × 5 pixels in 4 classes, as plain IDX files (labels follow the brightness,
/// so there is something to learn).
fn write_idx(dir: &Path) -> (String, String) {
    let (n, rows, cols) = (240u32, 3u32, 5u32);
    let mut images = vec![0, 0, 8, 3];
    let mut labels = vec![0, 0, 8, 1];
    for v in [n, rows, cols] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    labels.extend_from_slice(&n.to_be_bytes());
    let mut state = 7u32;
    for _ in 0..n {
        let class = (state >> 7) % 4;
        labels.push(class as u8);
        for _ in 0..rows * cols {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            images.push((class * 50 + (state >> 16) % 80) as u8);
        }
    }
    let (i, l) = (dir.join("images.idx"), dir.join("labels.idx"));
    std::fs::write(&i, images).unwrap();
    std::fs::write(&l, labels).unwrap();
    (i.display().to_string(), l.display().to_string())
}

/// 200 rows of a regression on three features with values that `f32` does not hold exactly.
fn write_csv(dir: &Path) -> String {
    let mut text = String::from("a,b,c,y\n");
    for i in 0..200 {
        let x: Vec<f64> = (0..3)
            .map(|j| ((i * 5 + j * 11) as f64 * 0.377).sin() * 10.0 + 3.0)
            .collect();
        text += &format!("{},{},{},{}\n", x[0], x[1], x[2], x[0] * 0.3 - x[1] + x[2]);
    }
    let p = dir.join("data.csv");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn config(dir: &Path, data: &str, sets: &[String]) -> Config {
    let text = format!(
        r#"
seed = 3
{data}
validation_fraction = 0.25
[model]
preset = "mlp"
hidden = [6]
[optimizer]
kind = "adam"
lr = 0.01
[training]
epochs = 3
batch_size = 32
"#
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(&p, sets).unwrap()
}

fn metrics(config: &Config, data: &RunData, out: &Path) -> Vec<serde_json::Value> {
    let opts = RunOptions {
        out_dir: Some(out.to_path_buf()),
        ..RunOptions::default()
    };
    train(config, data, &opts, &mut Silent).unwrap();
    std::fs::read_to_string(out.join(files::METRICS))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

/// The run's own data against the same rows as an `f64` matrix (how every dataset was held
/// before storage followed the dtype), split the same way.
fn compare(config: &Config, mut full: Dataset, stratify: bool, dir: &Path) -> Features {
    let own = load_run_data(config).unwrap();
    full.features_mut(); // now f64
    let (train_part, validation) = full.split_validation(0.25, 3, stratify).unwrap();
    let reference = RunData {
        train: train_part,
        validation: Some(validation),
        test: None,
        shards: Default::default(),
    };
    assert!(matches!(reference.train.feature_values(), Features::F64(_)));
    let (a, b) = (dir.join("own"), dir.join("f64"));
    let ours = metrics(config, &own, &a);
    assert_eq!(ours.len(), 3);
    assert_eq!(ours, metrics(config, &reference, &b), "{:?}", config.dtype);
    own.train.feature_values().clone()
}

#[test]
fn idx_runs_match_the_f64_matrix_for_every_dtype_and_standardization() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = write_idx(dir.path());
    let data = format!(
        "[data]\nformat = \"idx\"\ntrain_images = \"{images}\"\ntrain_labels = \"{labels}\"\nstratify = true"
    );
    for (dtype, standardize, stored) in [
        ("f32", false, "f32"),
        ("f32", true, "bytes"),
        ("f64", false, "bytes"),
        ("f64", true, "bytes"),
    ] {
        let sets = [
            format!("dtype={dtype}"),
            format!("data.standardize={standardize}"),
        ];
        let run = dir.path().join(format!("{dtype}-{standardize}"));
        std::fs::create_dir_all(&run).unwrap();
        let c = config(dir.path(), &data, &sets);
        let features = compare(&c, load_idx(&images, &labels).unwrap(), true, &run);
        let kind = match features {
            Features::F32(_) => "f32",
            Features::F64(_) => "f64",
            Features::Bytes(_) => "bytes",
            Features::Elsewhere(_) => "elsewhere",
        };
        assert_eq!(kind, stored, "{sets:?}");
    }
}

#[test]
fn csv_runs_match_the_f64_matrix_for_every_dtype_and_standardization() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let data = format!("[data]\ntrain = \"{csv}\"\ntarget = \"y\"\ntask = \"regression\"");
    for (dtype, standardize, stored) in [
        ("f32", false, "f32"),
        ("f32", true, "f64"),
        ("f64", false, "f64"),
        ("f64", true, "f64"),
    ] {
        let sets = [
            format!("dtype={dtype}"),
            format!("data.standardize={standardize}"),
        ];
        let run = dir.path().join(format!("{dtype}-{standardize}"));
        std::fs::create_dir_all(&run).unwrap();
        let c = config(dir.path(), &data, &sets);
        let full = CsvOptions::regression("y").load(&csv).unwrap();
        let kind = match compare(&c, full, false, &run) {
            Features::F32(_) => "f32",
            Features::F64(_) => "f64",
            Features::Bytes(_) => "bytes",
            Features::Elsewhere(_) => "elsewhere",
        };
        assert_eq!(kind, stored, "{sets:?}");
    }
}
