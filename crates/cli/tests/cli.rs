//! End-to-end tests of the `trainscope` executable: the bundled examples, exact resume,
//! determinism, predict/eval round trips, checkpoint compatibility, and bad input.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{data, fails_with, ok_json, root, stderr, stdout, trainscope};

fn train_json(config: &str, out: &Path, extra: &[&str]) -> Value {
    let out_s = out.display().to_string();
    let mut args = vec![
        "train",
        config,
        "--out",
        &out_s,
        "--json",
        "--quiet",
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    ok_json(&trainscope(&args))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// The tensors of a safetensors file by name: (dtype, shape, bytes).
fn tensors(path: &Path) -> Vec<(String, String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                format!("{:?}", view.dtype()),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

// ---------------------------------------------------------------------------------------------
// The bundled examples beat the trivial baseline by a clear margin.

#[test]
fn example_diabetes_beats_predicting_the_mean() {
    let dir = tempfile::tempdir().unwrap();
    let s = train_json("examples/diabetes.toml", dir.path(), &[]);
    // Standardized target: the baseline is about 1; R² = 1 − val/baseline.
    let (val, base) = (f(&s, "val_loss"), f(&s, "baseline_val_loss"));
    assert!(val < 0.6 * base, "val_loss {val}, baseline {base}");
}

#[test]
fn example_breast_cancer_beats_the_majority_class() {
    let dir = tempfile::tempdir().unwrap();
    let s = train_json("examples/breast_cancer.toml", dir.path(), &[]);
    assert_eq!(s["loss"], "binary_cross_entropy_with_logits");
    let (acc, base) = (f(&s, "val_accuracy"), f(&s, "baseline_val_accuracy"));
    // 357 of 569 rows are benign.
    assert!((base - 357.0 / 569.0).abs() < 0.02, "baseline {base}");
    assert!(
        acc > 0.93 && acc > base + 0.25,
        "val_accuracy {acc}, baseline {base}"
    );
    assert!(f(&s, "val_loss") < 0.3 * f(&s, "baseline_val_loss"));
}

#[test]
fn example_digits_reaches_95_percent() {
    let dir = tempfile::tempdir().unwrap();
    let s = train_json("examples/digits.toml", dir.path(), &[]);
    assert_eq!(s["loss"], "cross_entropy");
    let (acc, base) = (f(&s, "val_accuracy"), f(&s, "baseline_val_accuracy"));
    assert!(acc >= 0.95, "val_accuracy {acc}");
    assert!(base < 0.15, "baseline {base}");
}

#[test]
fn example_sinc_fits_far_better_than_a_constant() {
    let dir = tempfile::tempdir().unwrap();
    let s = train_json("examples/sinc.toml", dir.path(), &[]);
    let (val, base) = (f(&s, "val_loss"), f(&s, "baseline_val_loss"));
    assert!(val < 0.05 * base, "val_loss {val}, baseline {base}");
}

/// Slow (a few minutes on two cores) and needs `apt-get install dataset-fashion-mnist`.
#[test]
#[ignore]
fn example_fashion_mnist_reaches_88_percent_on_the_test_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let s = ok_json(&trainscope(&[
        "train",
        "examples/fashion_mnist.toml",
        "--out",
        &out,
        "--json",
        "--quiet",
    ]));
    let acc = f(&s, "test_accuracy");
    eprintln!("Fashion-MNIST test accuracy {acc}, {} s", f(&s, "seconds"));
    assert!(acc >= 0.88, "test_accuracy {acc}");
}

/// Slow (about half an hour on two shared cores) and needs `apt-get install
/// dataset-fashion-mnist`: the two-stage CNN of `examples/fashion_mnist_cnn.toml`.
#[test]
#[ignore]
fn example_fashion_mnist_cnn_reaches_91_percent_on_the_test_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let s = ok_json(&trainscope(&[
        "train",
        "examples/fashion_mnist_cnn.toml",
        "--out",
        &out,
        "--json",
        "--quiet",
    ]));
    let acc = f(&s, "test_accuracy");
    eprintln!(
        "Fashion-MNIST CNN test accuracy {acc}, {} s",
        f(&s, "seconds")
    );
    assert!(acc >= 0.91, "test_accuracy {acc}");
}

// ---------------------------------------------------------------------------------------------
// Run directory, --json, resume and determinism.

/// Dropout, batch norm, a metric-driven schedule and early-stopping bookkeeping: every piece of
/// state a resume must restore.
fn stateful_config(dir: &Path) -> String {
    write(
        dir,
        "stateful.toml",
        &format!(
            r#"
seed = 7
[data]
train = "{}"
target = "target"
task = "classification"
validation_fraction = 0.25
stratify = true
[model]
preset = "mlp"
hidden = [16, 8]
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
epochs = 6
batch_size = 40
drop_last = true
early_stopping_patience = 50
checkpoint_interval_s = 1000
"#,
            data("breast_cancer.csv")
        ),
    )
}

#[test]
fn json_output_and_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    let run = dir.path().join("run");
    let s = train_json(&config, &run, &[]);
    for key in [
        "train_loss",
        "val_loss",
        "train_accuracy",
        "val_accuracy",
        "steps",
        "epochs",
        "seconds",
        "run_dir",
        "stopped_early",
        "best_epoch",
    ] {
        assert!(s.get(key).is_some(), "{key} missing from {s}");
    }
    assert_eq!(s["epochs"], 6);
    assert_eq!(s["run_dir"], run.display().to_string());
    for file in [
        "config.toml",
        "metrics.jsonl",
        "model.safetensors",
        "best.safetensors",
        "resume.safetensors",
        "summary.json",
    ] {
        assert!(run.join(file).exists(), "{file} missing");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let lines: Vec<Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    let mut keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "elapsed_s",
            "epoch",
            "grad_norm",
            "grad_norm_last",
            "grad_norm_per_layer",
            "lr",
            "step",
            "train_accuracy",
            "train_loss",
            "val_accuracy",
            "val_loss"
        ]
    );
    // 427 training rows in batches of 40 with drop_last: 10 updates per epoch.
    assert_eq!(lines[5]["epoch"], 6);
    assert_eq!(lines[5]["step"], 60);
    // The resolved configuration is itself a valid configuration.
    let again = dir.path().join("again");
    let again_s = again.display().to_string();
    let o = trainscope(&[
        "train",
        &run.join("config.toml").display().to_string(),
        "--out",
        &again_s,
        "--json",
        "--quiet",
        "--set",
        "training.epochs=1",
    ]);
    assert_eq!(ok_json(&o)["epochs"], 1);
}

#[test]
fn resumed_run_ends_with_identical_weights() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    train_json(&config, &a, &[]);
    let first = train_json(&config, &b, &["--stop-after-epoch", "3"]);
    assert_eq!(first["interrupted"], true);
    assert_eq!(first["epochs"], 3);
    let lines = |d: &Path| {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(&b), 3);
    let resumed = train_json(&config, &b, &["--resume"]);
    assert_eq!(resumed["epochs"], 6);
    assert_eq!(lines(&a), 6);
    assert_eq!(lines(&b), 6);
    assert_eq!(
        tensors(&a.join("model.safetensors")),
        tensors(&b.join("model.safetensors"))
    );
    assert_eq!(
        tensors(&a.join("best.safetensors")),
        tensors(&b.join("best.safetensors"))
    );
    // Everything but the clock is identical, line by line.
    let strip = |d: &Path| -> Vec<Value> {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("elapsed_s");
                v
            })
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn resume_refuses_a_changed_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    let run = dir.path().join("run");
    train_json(&config, &run, &["--stop-after-epoch", "2"]);
    let run_s = run.display().to_string();
    let o = trainscope(&[
        "train",
        &config,
        "--out",
        &run_s,
        "--resume",
        "--quiet",
        "--set",
        "optimizer.lr=0.1",
    ]);
    fails_with(&o, &["optimizer.lr"]);
    // More epochs are allowed.
    let s = train_json(&config, &run, &["--resume", "--set", "training.epochs=8"]);
    assert_eq!(s["epochs"], 8);
}

/// A run on a private copy of `sinc.csv` (300 rows, 240 to train on), stopped after 2 of 4
/// epochs: (config, data file, run directory).
fn stopped_sinc_run(dir: &Path) -> (String, PathBuf, PathBuf) {
    let csv = dir.join("sinc.csv");
    std::fs::copy(data("sinc.csv"), &csv).unwrap();
    let config = write(
        dir,
        "sinc.toml",
        &format!(
            "seed = 3\n[data]\ntrain = \"{}\"\ntarget = \"y\"\ntask = \"regression\"\n\
             validation_fraction = 0.2\n[model]\npreset = \"mlp\"\nhidden = [8]\n\
             [training]\nepochs = 4\nbatch_size = 32\n",
            csv.display()
        ),
    );
    let run = dir.join("run");
    train_json(&config, &run, &["--stop-after-epoch", "2"]);
    (config, csv, run)
}

fn resume(config: &str, run: &Path) -> Output {
    let run_s = run.display().to_string();
    trainscope(&["train", config, "--out", &run_s, "--resume", "--quiet"])
}

/// Asserts a one-line failure naming `needles`.
fn fails_in_one_line(o: &Output, needles: &[&str]) {
    let err = fails_with(o, needles);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn resume_refuses_data_with_rows_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (config, csv, run) = stopped_sinc_run(dir.path());
    let text = std::fs::read_to_string(&csv).unwrap();
    let kept: Vec<&str> = text.lines().take(text.lines().count() - 5).collect();
    std::fs::write(&csv, kept.join("\n") + "\n").unwrap();
    fails_in_one_line(
        &resume(&config, &run),
        &["--resume", "sinc.csv", "changed", "300 rows then, 295 now"],
    );
}

#[test]
fn resume_refuses_data_with_a_row_appended_or_edited() {
    let dir = tempfile::tempdir().unwrap();
    let (config, csv, run) = stopped_sinc_run(dir.path());
    let original = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, format!("{original}0.5,0.1\n")).unwrap();
    fails_in_one_line(
        &resume(&config, &run),
        &["sinc.csv", "changed", "300 rows then, 301 now"],
    );
    // Same rows, one value changed.
    std::fs::write(&csv, original.replacen("0.0033429536337815898", "0.5", 1)).unwrap();
    fails_in_one_line(&resume(&config, &run), &["sinc.csv", "different content"]);
    // Restored, the run continues.
    std::fs::write(&csv, &original).unwrap();
    let s = train_json(&config, &run, &["--resume"]);
    assert_eq!(s["epochs"], 4);
}

/// The tensors of a safetensors file by name (dtype, shape, bytes), and its metadata.
type Tensors = std::collections::BTreeMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)>;

fn read_safetensors(path: &Path) -> (Tensors, std::collections::HashMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    (tensors, st_metadata(path))
}

fn write_safetensors(
    path: &Path,
    tensors: &Tensors,
    metadata: std::collections::HashMap<String, String>,
) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, (dtype, shape, data))| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap();
            (n.clone(), view)
        })
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata)).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The bookkeeping JSON of `resume.safetensors`.
fn resume_state(run: &Path) -> Value {
    serde_json::from_str(&st_metadata(&run.join("resume.safetensors"))["trainscope.resume"])
        .unwrap()
}

/// Rewrites the bookkeeping JSON of `resume.safetensors` of `run` through `edit`.
fn tamper(run: &Path, edit: impl FnOnce(&mut Value)) {
    tamper_file(run, |_, v| edit(v));
}

/// Rewrites the tensors and the bookkeeping JSON of `resume.safetensors` of `run`.
fn tamper_file(run: &Path, edit: impl FnOnce(&mut Tensors, &mut Value)) {
    let path = run.join("resume.safetensors");
    let (mut tensors, mut metadata) = read_safetensors(&path);
    let mut v: Value = serde_json::from_str(&metadata["trainscope.resume"]).unwrap();
    edit(&mut tensors, &mut v);
    metadata.insert("trainscope.resume".into(), v.to_string());
    write_safetensors(&path, &tensors, metadata);
}

#[test]
fn resume_refuses_a_tampered_batcher_size() {
    for (n_rows, shown) in [
        (Value::from(241u64), "241"),
        (Value::from(1u64 << 40), "1099511627776"),
        (Value::from(1u64 << 63), "9223372036854775808"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (config, _, run) = stopped_sinc_run(dir.path());
        tamper(&run, |v| v["batcher"]["n_rows"] = n_rows);
        fails_in_one_line(
            &resume(&config, &run),
            &[
                "resume.safetensors",
                "batcher.n_rows",
                shown,
                "the training set has 240",
            ],
        );
    }
}

#[test]
fn resume_refuses_tampered_positions_and_lengths() {
    type Edit = fn(&mut Tensors, &mut Value);
    // The model is 1-8-1 with Adam: 8 + 8 + 8 + 1 parameters, stored flat.
    let cases: [(&str, Edit); 12] = [
        ("batcher.position", |_, v| {
            v["batcher"]["position"] = Value::from(1u64 << 63)
        }),
        ("optimizer.num_elements", |_, v| {
            v["optimizer"]["num_elements"] = Value::from(1u64 << 62)
        }),
        (
            "weights.param.0: saved param tensor 0 has 7 elements",
            |t, _| {
                let (_, shape, data) = t.get_mut("weights.param.0").unwrap();
                shape[0] -= 1;
                data.truncate(data.len() - 4);
            },
        ),
        (
            "best.param.1: saved param tensor 1 has 9 elements",
            |t, _| {
                let (_, shape, data) = t.get_mut("best.param.1").unwrap();
                shape[0] += 1;
                data.extend_from_slice(&[0; 4]);
            },
        ),
        ("missing tensor \"weights.param.3\"", |t, _| {
            t.remove("weights.param.3");
        }),
        ("missing tensor \"optimizer.0.adam.mu\"", |t, _| {
            t.remove("optimizer.0.adam.mu");
        }),
        (
            "optimizer.0.adam.nu: 24 elements, the optimizer state covers 25",
            |t, _| {
                let (_, shape, data) = t.get_mut("optimizer.0.adam.nu").unwrap();
                shape[0] -= 1;
                data.truncate(data.len() - 4);
            },
        ),
        (
            "tensor \"weights.param.2\" is F64 of shape [8], expected a one-dimensional F32",
            |t, _| {
                let (dtype, _, data) = t.get_mut("weights.param.2").unwrap();
                *dtype = safetensors::Dtype::F64;
                data.extend_from_slice(&[0; 32]);
            },
        ),
        (
            "tensor \"weights.param.1\" is F32 of shape [2, 4]",
            |t, _| {
                t.get_mut("weights.param.1").unwrap().1 = vec![2, 4];
            },
        ),
        ("unexpected tensor \"weights.param.9\"", |t, _| {
            let p = t["weights.param.3"].clone();
            t.insert("weights.param.9".into(), p);
        }),
        (
            "unexpected tensor \"weights.param.4\": the configured model has 4 param tensors",
            |t, _| {
                let p = t["weights.param.3"].clone();
                t.insert("weights.param.4".into(), p);
            },
        ),
        (
            "partial: the batcher and the epoch sums disagree",
            |_, v| v["batcher"]["in_epoch"] = Value::Bool(true),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (config, _, run) = stopped_sinc_run(dir.path());
    let saved = std::fs::read(run.join("resume.safetensors")).unwrap();
    for (needle, edit) in cases {
        std::fs::write(run.join("resume.safetensors"), &saved).unwrap();
        tamper_file(&run, edit);
        fails_in_one_line(&resume(&config, &run), &["resume.safetensors", needle]);
    }
    // Not a resume state at all.
    for (bytes, needle) in [
        (&b"{\"epoch\": 2}"[..], "not a valid safetensors file"),
        (&saved[..saved.len() - 1], "not a valid safetensors file"),
    ] {
        std::fs::write(run.join("resume.safetensors"), bytes).unwrap();
        fails_in_one_line(&resume(&config, &run), &["resume.safetensors", needle]);
    }
    std::fs::copy(
        run.join("model.safetensors"),
        run.join("resume.safetensors"),
    )
    .unwrap();
    fails_in_one_line(
        &resume(&config, &run),
        &["resume.safetensors", "no \"trainscope.resume\" metadata"],
    );
    std::fs::write(run.join("resume.safetensors"), &saved).unwrap();
    tamper(&run, |v| v["dropout_rng"] = Value::from("seven"));
    fails_in_one_line(
        &resume(&config, &run),
        &[
            "resume.safetensors",
            "malformed resume state",
            "trainscope.resume",
        ],
    );
    // Restored, the run continues.
    std::fs::write(run.join("resume.safetensors"), &saved).unwrap();
    assert_eq!(train_json(&config, &run, &["--resume"])["epochs"], 4);
}

/// Writes the resume state of `run` as earlier versions did, `resume.json` with every float as
/// decimal text, and removes `resume.safetensors`.
fn to_legacy_resume_json(run: &Path) {
    let path = run.join("resume.safetensors");
    let (tensors, _) = read_safetensors(&path);
    let mut v = resume_state(run);
    let floats = |name: &str| -> Value {
        let (dtype, _, data) = &tensors[name];
        assert_eq!(*dtype, safetensors::Dtype::F32);
        data.chunks_exact(4)
            .map(|c| Value::from(f64::from(f32::from_le_bytes(c.try_into().unwrap()))))
            .collect()
    };
    let counts = |name: &str| -> Value {
        tensors[name]
            .2
            .chunks_exact(8)
            .map(|c| Value::from(u64::from_le_bytes(c.try_into().unwrap())))
            .collect()
    };
    let weights = |prefix: &str| -> Value {
        let list = |kind: &str| -> Value {
            (0..)
                .map(|i| format!("{prefix}.{kind}.{i}"))
                .take_while(|n| tensors.contains_key(n))
                .map(|n| floats(&n))
                .collect()
        };
        serde_json::json!({
            "params": list("param"),
            "buffers": list("buffer"),
            "batches_tracked": counts(&format!("{prefix}.batches_tracked")),
        })
    };
    v["weights"] = weights("weights");
    if tensors.contains_key("best.batches_tracked") {
        v["best"]["weights"] = weights("best");
    }
    let names: Vec<String> = v["optimizer"]["buffers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    v["optimizer"]["buffers"] = names
        .iter()
        .map(|n| serde_json::json!([n, floats(&format!("optimizer.{n}"))]))
        .collect();
    std::fs::write(run.join("resume.json"), v.to_string()).unwrap();
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_resume_json_of_earlier_versions_still_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train_json(&config, &a, &[]);
    train_json(&config, &b, &["--stop-after-epoch", "3"]);
    to_legacy_resume_json(&b);
    assert_eq!(train_json(&config, &b, &["--resume"])["epochs"], 6);
    for file in ["model.safetensors", "best.safetensors"] {
        assert_eq!(tensors(&a.join(file)), tensors(&b.join(file)), "{file}");
    }
    assert_eq!(metrics_without_clock(&a), metrics_without_clock(&b));
    // The run's next state replaced it.
    assert!(b.join("resume.safetensors").exists());
    assert!(!b.join("resume.json").exists());
}

#[test]
fn resume_state_without_a_data_stamp_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, run) = stopped_sinc_run(dir.path());
    tamper(&run, |v| {
        v.as_object_mut().unwrap().remove("data");
    });
    let s = train_json(&config, &run, &["--resume"]);
    assert_eq!(s["epochs"], 4);
}

// ---------------------------------------------------------------------------------------------
// Sizes are bounded before anything is allocated.

/// Rewrites the model description in the metadata of the checkpoint `from` into `to`, with every
/// width `old` replaced by `new` (the tensors stay as they are).
fn with_claimed_width(from: &Path, to: &Path, old: usize, new: usize) {
    let bytes = std::fs::read(from).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let spec = meta.get("trainscope.model").unwrap().clone();
    let claimed = spec
        .replace(
            &format!("\"out_features\":{old}"),
            &format!("\"out_features\":{new}"),
        )
        .replace(
            &format!("\"in_features\":{old}"),
            &format!("\"in_features\":{new}"),
        );
    assert_ne!(claimed, spec);
    meta.insert("trainscope.model".into(), claimed);
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views = st.tensors();
    let out =
        safetensors::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), Some(meta)).unwrap();
    std::fs::write(to, out).unwrap();
}

#[test]
fn a_checkpoint_claiming_a_huge_layer_is_refused_before_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let (_, csv, run) = stopped_sinc_run(dir.path());
    let model = run.join("model.safetensors");
    let csv_s = csv.display().to_string();
    // Over the limit: 3·10⁹ parameters.
    let huge = dir.path().join("huge.safetensors");
    with_claimed_width(&model, &huge, 8, 1_000_000_000);
    // Under the limit but not what the file holds: 3·10⁸ parameters would take 2.4 GB.
    let big = dir.path().join("big.safetensors");
    with_claimed_width(&model, &big, 8, 100_000_000);
    for (ckpt, needles) in [
        (&huge, vec!["huge.safetensors", "limit of 1000000000"]),
        (&big, vec!["big.safetensors", "0.weight", "[100000000, 1]"]),
    ] {
        let c = ckpt.display().to_string();
        let o = trainscope(&["predict", "--model", &c, "--data", &csv_s]);
        fails_in_one_line(&o, &needles);
        let o = trainscope(&["eval", "--model", &c, "--data", &csv_s]);
        fails_in_one_line(&o, &needles);
        let o = trainscope(&["diagnose", &c, "--data", &csv_s]);
        fails_in_one_line(&o, &needles);
        let init = write(
            dir.path(),
            "init.toml",
            &format!(
                "[data]\ntrain = \"{csv_s}\"\ntarget = \"y\"\ntask = \"regression\"\n\
                 [model]\ninit = \"{c}\"\n[training]\nepochs = 1\n"
            ),
        );
        let o = trainscope(&["train", &init, "--quiet"]);
        fails_in_one_line(&o, &needles);
    }
}

#[test]
fn oversized_models_and_options_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let train = data("sinc.csv");
    let config = |hidden: &str| {
        write(
            dir.path(),
            "big.toml",
            &format!(
                "[data]\ntrain = \"{train}\"\ntarget = \"y\"\ntask = \"regression\"\n\
                 [model]\npreset = \"mlp\"\nhidden = {hidden}\n[training]\nepochs = 1\n"
            ),
        )
    };
    let run = dir.path().join("run").display().to_string();
    for hidden in ["[1000000000]", "[100000, 100000]", "[18446744073709551615]"] {
        let c = config(hidden);
        let o = trainscope(&["train", &c, "--out", &run, "--quiet"]);
        fails_in_one_line(&o, &["model.hidden", "limit of 1000000000"]);
    }
    let c = config("[8]");
    let out = dir.path().join("out").display().to_string();
    let o = trainscope(&["critical", &c, "--seeds", "1000000000", "--out", &out]);
    fails_in_one_line(&o, &["--seeds", "limit of 10000"]);
    let o = trainscope(&["guide", &c, "--widths", "1000000000", "--out", &out]);
    fails_in_one_line(&o, &["--widths", "limit of 1000000000"]);
    let o = trainscope(&["guide", &c, "--depths", "1000000000", "--out", &out]);
    fails_in_one_line(&o, &["--depths", "limit of 1000"]);
    assert!(!dir.path().join("out").exists());

    // --k: bounded, and no more than the model's parameters.
    let (_, csv, stopped) = stopped_sinc_run(dir.path());
    let model = stopped.join("model.safetensors").display().to_string();
    let csv_s = csv.display().to_string();
    let diagnose = |k: &str| {
        trainscope(&[
            "diagnose",
            &model,
            "--data",
            &csv_s,
            "--mode",
            "iterative",
            "--k",
            k,
        ])
    };
    fails_in_one_line(&diagnose("20000"), &["--k", "limit of 1000"]);
    fails_in_one_line(&diagnose("500"), &["--k", "500", "25 parameters"]);
}

#[test]
fn train_removes_stale_temporary_files_of_a_killed_write() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    // What a write killed before its rename leaves: no process has id 2^31 − 1.
    let stale = run.join(".resume.json.tmp-2147483647-7");
    let other = run.join("notes.txt");
    std::fs::write(&stale, b"partial").unwrap();
    std::fs::write(&other, b"mine").unwrap();
    train_json(&config, &run, &["--stop-after-epoch", "1"]);
    assert!(!stale.exists());
    assert!(other.exists());
    let temps: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[test]
fn same_seed_and_threads_give_identical_weights() {
    let dir = tempfile::tempdir().unwrap();
    let config = stateful_config(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train_json(&config, &a, &["--set", "training.epochs=3"]);
    train_json(&config, &b, &["--set", "training.epochs=3"]);
    assert_eq!(
        tensors(&a.join("model.safetensors")),
        tensors(&b.join("model.safetensors"))
    );
    // A different seed gives different weights.
    let c = dir.path().join("c");
    train_json(
        &config,
        &c,
        &["--set", "training.epochs=3", "--set", "seed=8"],
    );
    assert_ne!(
        tensors(&a.join("model.safetensors")),
        tensors(&c.join("model.safetensors"))
    );
}

#[test]
fn checkpoint_has_pytorch_names_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_json(
        "examples/digits.toml",
        &run,
        &[
            "--set",
            "training.epochs=1",
            "--set",
            "model.hidden=[32, 16]",
        ],
    );
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    );
    let shape = |n: &str| st.tensor(n).unwrap().shape().to_vec();
    assert_eq!(shape("0.weight"), [32, 64]);
    assert_eq!(shape("0.bias"), [32]);
    assert_eq!(shape("2.weight"), [16, 32]);
    assert_eq!(shape("4.weight"), [10, 16]);
    assert_eq!(
        st.tensor("0.weight").unwrap().dtype(),
        safetensors::Dtype::F32
    );
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    for key in [
        "trainscope.schema",
        "trainscope.standardizer.features",
        "trainscope.task",
        "trainscope.loss",
        "trainscope.version",
    ] {
        assert!(meta.contains_key(key), "{key} missing");
    }
    let schema: Value = serde_json::from_str(&meta["trainscope.schema"]).unwrap();
    assert_eq!(schema["target"], "target");
    assert_eq!(schema["feature_names"].as_array().unwrap().len(), 64);
}

// ---------------------------------------------------------------------------------------------
// predict and eval.

/// breast_cancer.csv with text labels, split into a training file and held-out rows.
fn text_label_split(dir: &Path) -> (String, String, Vec<String>) {
    let text = std::fs::read_to_string(data("breast_cancer.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<String> = lines
        .map(|l| {
            let (features, label) = l.rsplit_once(',').unwrap();
            let label = if label == "0" { "malignant" } else { "benign" };
            format!("{features},{label}")
        })
        .collect();
    let (train, held) = rows.split_at(450);
    let train_csv = write(
        dir,
        "train.csv",
        &format!("{header}\n{}\n", train.join("\n")),
    );
    let held_csv = write(dir, "held.csv", &format!("{header}\n{}\n", held.join("\n")));
    let truth = held
        .iter()
        .map(|r| r.rsplit_once(',').unwrap().1.to_string())
        .collect();
    (train_csv, held_csv, truth)
}

#[test]
fn predict_and_eval_round_trip_with_text_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (train_csv, held_csv, truth) = text_label_split(dir.path());
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[data]\ntrain = \"{train_csv}\"\ntarget = \"target\"\ntask = \"classification\"\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"adam\"\nlr = 0.01\n\
             [training]\nepochs = 30\n"
        ),
    );
    let run = dir.path().join("run");
    train_json(&config, &run, &[]);
    let model = run.join("model.safetensors").display().to_string();
    let out = dir.path().join("p.csv");
    let out_s = out.display().to_string();
    let o = trainscope(&[
        "predict", "--model", &model, "--data", &held_csv, "--out", &out_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pred = std::fs::read_to_string(&out).unwrap();
    let mut lines = pred.lines();
    // Text labels are sorted: benign, malignant.
    assert_eq!(lines.next().unwrap(), "target,p_benign,p_malignant");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), truth.len());
    let mut hits = 0;
    for (r, t) in rows.iter().zip(&truth) {
        assert!(r[0] == "benign" || r[0] == "malignant", "{r:?}");
        let (pb, pm): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        // Each probability is written to f32 precision.
        assert!((pb + pm - 1.0).abs() < 1e-6);
        assert_eq!(r[0] == "benign", pb >= 0.5);
        hits += usize::from(r[0] == t);
    }
    let accuracy = hits as f64 / truth.len() as f64;
    assert!(accuracy > 0.9, "{accuracy}");

    // stdout gives the same CSV.
    let o = trainscope(&["predict", "--model", &model, "--data", &held_csv]);
    assert_eq!(stdout(&o), pred);

    let e = ok_json(&trainscope(&[
        "eval", "--model", &model, "--data", &held_csv, "--json",
    ]));
    assert_eq!(e["rows"], truth.len());
    assert!((f(&e, "accuracy") - accuracy).abs() < 1e-12);
    assert!(f(&e, "loss") > 0.0);
}

#[test]
fn regression_predictions_are_in_original_units() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("diabetes.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let train_csv = write(dir.path(), "train.csv", &(lines[..380].join("\n") + "\n"));
    let held = [&[lines[0]][..], &lines[380..]].concat().join("\n") + "\n";
    let held_csv = write(dir.path(), "held.csv", &held);
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[data]\ntrain = \"{train_csv}\"\ntarget = \"target\"\ntask = \"regression\"\n\
             standardize_target = true\n[model]\npreset = \"linear\"\n\
             [optimizer]\nkind = \"adam\"\nlr = 0.01\n[training]\nepochs = 40\n"
        ),
    );
    let run = dir.path().join("run");
    train_json(&config, &run, &[]);
    let model = run.join("model.safetensors").display().to_string();
    let o = trainscope(&["predict", "--model", &model, "--data", &held_csv]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut rows = out.lines();
    assert_eq!(rows.next(), Some("target"));
    let pred: Vec<f64> = rows.map(|l| l.parse().unwrap()).collect();
    let truth: Vec<f64> = lines[380..]
        .iter()
        .map(|l| l.rsplit_once(',').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(pred.len(), truth.len());
    // Progression values run from 25 to 346: standardized outputs would be near 0.
    let mean = pred.iter().sum::<f64>() / pred.len() as f64;
    assert!((100.0..200.0).contains(&mean), "mean prediction {mean}");
    let mse = pred
        .iter()
        .zip(&truth)
        .map(|(p, t)| (p - t).powi(2))
        .sum::<f64>()
        / pred.len() as f64;
    let e = ok_json(&trainscope(&[
        "eval", "--model", &model, "--data", &held_csv, "--json",
    ]));
    assert!(
        (f(&e, "mse") - mse).abs() < 1e-6 * mse,
        "{} vs {mse}",
        f(&e, "mse")
    );
    let t_mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let baseline = truth.iter().map(|t| (t - t_mean).powi(2)).sum::<f64>() / truth.len() as f64;
    assert!(mse < 0.8 * baseline, "mse {mse}, variance {baseline}");
}

#[test]
fn cross_validation_reports_every_fold() {
    let s = ok_json(&trainscope(&[
        "cv",
        "examples/breast_cancer.toml",
        "--folds",
        "3",
        "--json",
        "--quiet",
        "--threads",
        "1",
        "--set",
        "training.epochs=10",
    ]));
    assert_eq!(s["folds"], 3);
    let folds = s["per_fold"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let rows: u64 = folds.iter().map(|f| f["val_rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 569);
    assert!(s["val_accuracy"]["mean"].as_f64().unwrap() > 0.9);
    assert!(s["val_accuracy"]["std"].as_f64().unwrap() >= 0.0);
}

#[test]
fn regression_target_is_standardized_by_default() {
    let dir = tempfile::tempdir().unwrap();
    // y = 1000 + 500 x + noise: in the target's units the trivial model's loss is about 2e5.
    let mut csv = String::from("x,y\n");
    let mut ys = Vec::new();
    for i in 0..50 {
        let x = i as f64 / 10.0;
        let y = 1000.0 + 500.0 * x + 40.0 * ((i * 7 % 11) as f64 - 5.0);
        ys.push(y);
        csv += &format!("{x},{y}\n");
    }
    let train = write(dir.path(), "train.csv", &csv);
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[data]\ntrain = \"{train}\"\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"linear\"\n[optimizer]\nlr = 0.1\n\
             [training]\nepochs = 100\nbatch_size = \"full\"\n"
        ),
    );
    let run = dir.path().join("run");
    let s = train_json(&config, &run, &[]);
    // Losses are in standard units: the trivial model's is the variance of a standardized
    // column, 1.
    let baseline = f(&s, "baseline_train_loss");
    assert!((baseline - 1.0).abs() < 0.05, "{baseline}");
    let resolved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(resolved.contains("standardize_target = true"), "{resolved}");
    // eval's MSE is in the target's units and agrees with the loss in standard units.
    let model = run.join("model.safetensors").display().to_string();
    let e = ok_json(&trainscope(&[
        "eval", "--model", &model, "--data", &train, "--json",
    ]));
    let n = ys.len() as f64;
    let mean = ys.iter().sum::<f64>() / n;
    let var = ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n;
    let (loss, mse) = (f(&e, "loss"), f(&e, "mse"));
    assert!(
        (loss * var - mse).abs() <= 0.03 * mse,
        "loss {loss} × {var} vs mse {mse}"
    );
}

/// Significant digits of a number as written (`0.000123` → 3, `1.5e-7` → 2, `1200` → 2).
fn significant_digits(cell: &str) -> usize {
    let mantissa = cell
        .split(['e', 'E'])
        .next()
        .unwrap()
        .trim_start_matches('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

#[test]
fn predictions_and_timings_are_written_with_few_digits() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("x1,x2,color\n");
    for i in 0..60 {
        let (a, b) = ((i % 7) as f64 / 3.0, (i % 5) as f64 / 7.0);
        let label = if a + b > 1.2 { "red" } else { "blue" };
        csv += &format!("{a},{b},{label}\n");
    }
    let train = write(dir.path(), "train.csv", &csv);
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[data]\ntrain = \"{train}\"\ntarget = \"color\"\ntask = \"classification\"\n\
             validation_fraction = 0.2\n[model]\npreset = \"linear\"\n[training]\nepochs = 3\n"
        ),
    );
    let run = dir.path().join("run");
    train_json(&config, &run, &[]);
    let model = run.join("model.safetensors").display().to_string();
    let cells = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["predict", "--model", &model, "--data", &train];
        args.extend_from_slice(extra);
        let out = stdout(&trainscope(&args));
        out.lines()
            .skip(1)
            .flat_map(|l| l.split(',').skip(1).map(str::to_string).collect::<Vec<_>>())
            .collect()
    };
    // The default: the shortest decimal that reads back as the same f32.
    let default = cells(&[]);
    assert_eq!(default.len(), 120);
    for c in &default {
        assert!(significant_digits(c) <= 9, "{c}");
        let v: f32 = c.parse().unwrap();
        assert_eq!(v.to_string().parse::<f32>().unwrap(), v);
    }
    for c in cells(&["--precision", "3"]) {
        assert!(significant_digits(&c) <= 3, "{c}");
    }
    let o = trainscope(&[
        "predict",
        "--model",
        &model,
        "--data",
        &train,
        "--precision",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));

    // batch-size: times with significant digits, not a fixed number of decimals.
    let o = trainscope(&[
        "batch-size",
        &config,
        "--sizes",
        "4,full",
        "--out",
        &dir.path().join("b").display().to_string(),
        "--quiet",
        "--threads",
        "1",
    ]);
    let text = stdout(&o);
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("s / epoch"))
        .skip(1)
        .take(2)
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        for time in &cols[3..5] {
            assert!(time.parse::<f64>().unwrap() > 0.0, "{row}");
            assert!(significant_digits(time) <= 3, "{row}");
        }
    }
}

#[test]
fn eval_json_has_rmse() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let config = write(
        dir.path(),
        "c.toml",
        &format!("{}[training]\nepochs = 2\n", good_config()),
    );
    train_json(&config, &run, &[]);
    let model = run.join("model.safetensors").display().to_string();
    let e = ok_json(&trainscope(&[
        "eval",
        "--model",
        &model,
        "--data",
        &data("diabetes.csv"),
        "--json",
    ]));
    assert_eq!(f(&e, "rmse"), f(&e, "mse").sqrt());
}

// ---------------------------------------------------------------------------------------------
// Bad input: one error line naming the file and position or the key, exit code 2, no panic,
// no partial files.

fn csv_config(dir: &Path, train_csv: &str, task: &str) -> String {
    write(
        dir,
        "c.toml",
        &format!(
            "[data]\ntrain = \"{train_csv}\"\ntarget = \"y\"\ntask = \"{task}\"\n\
             [model]\npreset = \"linear\"\n[training]\nepochs = 2\n"
        ),
    )
}

/// Trains on `csv` and expects a failure mentioning `needles` that leaves no run directory.
fn bad_training_file(csv: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", csv);
    let config = csv_config(dir.path(), &train, "regression");
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let o = trainscope(&["train", &config, "--out", &run_s, "--quiet"]);
    fails_with(&o, needles);
    assert!(!run.exists(), "the run directory was left behind");
}

#[test]
fn unterminated_quote_in_the_header_names_its_line_and_echoes_nothing() {
    let rows: String = (0..2000).map(|i| format!("{i},{i}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &format!("x,\"y\n{rows}"));
    let config = csv_config(dir.path(), &train, "regression");
    let o = trainscope(&["train", &config, "--quiet"]);
    let err = fails_with(&o, &["train.csv:1:", "unterminated quote"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.len() < 300, "{err}");
}

#[test]
fn control_characters_in_echoed_values_stay_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", "x,y\n1,2\n");
    let config = csv_config(dir.path(), &train, "regression");
    let o = trainscope(&[
        "train",
        &config,
        "--quiet",
        "--set",
        "data.target=\"a\\nb\\u001b[2J\"",
    ]);
    let err = fails_with(&o, &["\\n", "\\u{1b}"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
}

#[test]
fn semicolon_and_tab_separated_files_are_read() {
    for (name, sep) in [("semicolon", ";"), ("tab", "\t")] {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = ["x1", "x2", "color"].join(sep) + "\n";
        for i in 0..40 {
            let label = if i % 2 == 0 { "red" } else { "blue" };
            let row = [
                format!("{}", i % 2),
                format!("{}", i % 5),
                label.to_string(),
            ];
            csv += &(row.join(sep) + "\n");
        }
        let train = write(dir.path(), "train.csv", &csv);
        let config = write(
            dir.path(),
            "c.toml",
            &format!(
                "[data]\ntrain = \"{train}\"\ntarget = \"color\"\ntask = \"classification\"\n\
                 [model]\npreset = \"linear\"\n[training]\nepochs = 2\n"
            ),
        );
        let s = train_json(&config, &dir.path().join("run"), &[]);
        let features = s["data_scales"]["features"].as_array().unwrap();
        assert_eq!(features.len(), 2, "{name}: {s}");
        assert_eq!(features[1]["name"], "x2", "{name}: {s}");
    }
}

#[test]
fn ragged_row_names_file_and_line() {
    bad_training_file(
        "a,b,y\n1,2,3\n4,5\n",
        &["train.csv:3:", "expected 3 fields, found 2"],
    );
}

#[test]
fn non_numeric_cell_names_file_line_and_column() {
    bad_training_file("a,b,y\n1,2,3\n4,n/a,6\n", &["train.csv:3:2:", "\"n/a\""]);
}

#[test]
fn empty_file_is_named() {
    bad_training_file("", &["train.csv", "empty"]);
}

#[test]
fn missing_target_column_is_named() {
    bad_training_file("a,b,c\n1,2,3\n", &["train.csv", "no target column \"y\""]);
}

#[test]
fn unseen_label_at_eval_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (train_csv, held_csv, _) = text_label_split(dir.path());
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            "[data]\ntrain = \"{train_csv}\"\ntarget = \"target\"\ntask = \"classification\"\n\
             [model]\npreset = \"linear\"\n[training]\nepochs = 1\n"
        ),
    );
    let run = dir.path().join("run");
    train_json(&config, &run, &[]);
    let text = std::fs::read_to_string(&held_csv).unwrap();
    let bad = text.replacen(",benign\n", ",zebra\n", 1);
    let line = bad.lines().position(|l| l.ends_with(",zebra")).unwrap() + 1;
    let bad_csv = write(dir.path(), "bad.csv", &bad);
    let model = run.join("model.safetensors").display().to_string();
    let o = trainscope(&["eval", "--model", &model, "--data", &bad_csv]);
    fails_with(
        &o,
        &[&format!("bad.csv:{line}:"), "zebra", "not seen in training"],
    );
}

fn config_error(text: &str, extra: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "c.toml", text);
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let mut args = vec!["train", config.as_str(), "--out", &run_s, "--quiet"];
    args.extend_from_slice(extra);
    fails_with(&trainscope(&args), needles);
    assert!(!run.exists());
}

fn good_config() -> String {
    format!(
        "[data]\ntrain = \"{}\"\ntarget = \"target\"\ntask = \"regression\"\n\
         [model]\npreset = \"linear\"\n",
        data("diabetes.csv")
    )
}

#[test]
fn unknown_config_key_names_line_and_column() {
    // Line 8 is the unknown key.
    let text = format!("{}[training]\nepochz = 3\n", good_config());
    config_error(&text, &[], &["c.toml:8:1:", "unknown field `epochz`"]);
    let text = format!("{}[optimizer]\nkind = \"adam\"\nlrr = 0.1\n", good_config());
    config_error(&text, &[], &["c.toml:", "lrr"]);
}

#[test]
fn mistyped_config_value_names_line_and_column() {
    let text = format!("{}[training]\nepochs = \"ten\"\n", good_config());
    config_error(&text, &[], &["c.toml:8:10:", "invalid type"]);
}

#[test]
fn bad_set_path_is_named() {
    config_error(
        &good_config(),
        &["--set", "training.epochz=5"],
        &["--set training.epochz=5", "epochz"],
    );
    config_error(&good_config(), &["--set", "seed.x=1"], &["seed.x"]);
    config_error(
        &good_config(),
        &["--set", "noequals"],
        &["noequals", "key=value"],
    );
}

#[test]
fn documented_defaults_need_no_kind_and_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let data_only = format!(
        "[data]\ntrain = \"{}\"\ntarget = \"target\"\ntask = \"regression\"\n\
         [training]\nepochs = 1\n",
        data("diabetes.csv")
    );
    // No `[model]`: an MLP with one hidden layer of 64 ReLUs.
    let bare = write(dir.path(), "bare.toml", &data_only);
    train_json(&bare, &dir.path().join("a"), &["--set", "optimizer.lr=0.1"]);
    let resolved = std::fs::read_to_string(dir.path().join("a/config.toml")).unwrap();
    for line in [
        "preset = \"mlp\"",
        "hidden = [64]",
        "kind = \"adam\"",
        "lr = 0.1",
    ] {
        assert!(resolved.lines().any(|l| l == line), "{line} in {resolved}");
    }
    // An `[optimizer]` table without `kind` is Adam.
    let no_kind = write(
        dir.path(),
        "no_kind.toml",
        &format!("{data_only}[optimizer]\nlr = 0.01\n"),
    );
    train_json(&no_kind, &dir.path().join("b"), &[]);
    let resolved = std::fs::read_to_string(dir.path().join("b/config.toml")).unwrap();
    assert!(resolved.contains("kind = \"adam\""), "{resolved}");
}

#[test]
fn set_kind_drops_the_keys_of_the_previous_kind() {
    let cosine = format!(
        "{}[training]\nepochs = 1\n[schedule]\nkind = \"cosine\"\nt_max = 9\n",
        good_config()
    );
    config_error(
        &cosine,
        &["--set", "schedule.kind=step"],
        &[
            "--set schedule.kind=step",
            "schedule.step_size is required for kind = step",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "c.toml", &cosine);
    train_json(
        &config,
        &dir.path().join("run"),
        &[
            "--set",
            "schedule.kind=step",
            "--set",
            "schedule.step_size=5",
            "--set",
            "schedule.gamma=0.5",
        ],
    );
}

#[test]
fn semantic_config_errors_name_the_key() {
    config_error(
        &good_config(),
        &["--set", "training.loss=\"cross_entropy\""],
        &["training.loss"],
    );
    config_error(
        &good_config(),
        &["--set", "optimizer.beta2=1.5"],
        &["optimizer", "beta2"],
    );
}

#[test]
fn unreadable_or_corrupt_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.safetensors").display().to_string();
    let csv = data("diabetes.csv");
    let o = trainscope(&["predict", "--model", &missing, "--data", &csv]);
    fails_with(&o, &["missing.safetensors", "cannot read"]);
    let corrupt = write(
        dir.path(),
        "corrupt.safetensors",
        "this is not a checkpoint",
    );
    let out = dir.path().join("p.csv");
    let out_s = out.display().to_string();
    let o = trainscope(&[
        "predict", "--model", &corrupt, "--data", &csv, "--out", &out_s,
    ]);
    fails_with(&o, &["corrupt.safetensors"]);
    assert!(!out.exists());
    let o = trainscope(&["eval", "--model", &corrupt, "--data", &csv]);
    fails_with(&o, &["corrupt.safetensors"]);
}

#[test]
fn prediction_input_errors_leave_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_json(
        "examples/diabetes.toml",
        &run,
        &["--set", "training.epochs=1"],
    );
    let model = run.join("model.safetensors").display().to_string();
    let bad = write(dir.path(), "x.csv", "age,sex\n1,2\n");
    let out = dir.path().join("p.csv");
    let out_s = out.display().to_string();
    let o = trainscope(&[
        "predict", "--model", &model, "--data", &bad, "--out", &out_s,
    ]);
    fails_with(&o, &["x.csv", "no feature column \"bmi\""]);
    assert!(!out.exists());
}

#[test]
fn divergence_names_the_epoch_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let o = trainscope(&[
        "train",
        "examples/diabetes.toml",
        "--out",
        &run_s,
        "--quiet",
        "--set",
        "optimizer.kind=sgd",
        "--set",
        "optimizer.lr=1e6",
        "--set",
        "training.early_stopping_patience=1000",
    ]);
    let err = fails_with(&o, &["diverged at epoch", "learning rate"]);
    assert!(err.contains("model.safetensors"), "{err}");
    let model = run.join("model.safetensors").display().to_string();
    let e = trainscope(&["eval", "--model", &model, "--data", &data("diabetes.csv")]);
    assert!(e.status.success(), "{}", stderr(&e));
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C and SIGTERM: a clean stop between two updates, an exact resume, a second signal.

/// A CSV of `n` rows: four features and a label that depends on them non-linearly.
fn generated_csv(dir: &Path, n: usize, features: usize) -> String {
    let mut text: String = (1..=features).map(|j| format!("x{j},")).collect();
    text += "label\n";
    for i in 0..n {
        let x: Vec<f64> = (0..features)
            .map(|j| ((i * 7 + j * 13) as f64 * 0.618).sin() * (1.0 + j as f64))
            .collect();
        let label = x[0] * x[1] + x[2].sin() - 0.3 * x[3] > 0.0;
        for v in &x {
            text += &format!("{v},");
        }
        text += if label { "yes\n" } else { "no\n" };
    }
    write(dir, "generated.csv", &text)
}

/// 20 000 rows in batches of 16 with batch norm, dropout, momentum, a plateau schedule and
/// validation: 1 000 updates an epoch, a few seconds for the run, and no timed checkpoint.
fn long_config(dir: &Path) -> String {
    let csv = generated_csv(dir, 20_000, 4);
    write(
        dir,
        "long.toml",
        &format!(
            r#"
seed = 5
[data]
train = "{csv}"
target = "label"
task = "classification"
validation_fraction = 0.2
[model]
preset = "mlp"
hidden = [32, 16]
batch_norm = true
dropout = 0.1
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
[schedule]
kind = "plateau"
patience = 1
factor = 0.5
[training]
epochs = 100
batch_size = 16
checkpoint_interval_s = 100000
"#
        ),
    )
}

/// Sends `signal` to the child process.
fn send(child: &std::process::Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory effects; the pid is our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
}

/// Waits for `cond`, polling, at most `limit`.
fn wait_for(limit: std::time::Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Waits for the child to exit (at most `limit`, a generous bound) and collects its output.
fn finish(mut child: std::process::Child, limit: std::time::Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the run did not exit within {limit:?} of the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The metadata of a safetensors file.
fn st_metadata(path: &Path) -> std::collections::HashMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().unwrap_or_default()
}

fn metrics_without_clock(d: &Path) -> Vec<Value> {
    std::fs::read_to_string(d.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

/// Starts a run, signals it once it is past its first epoch, checks the clean stop, runs the
/// resume command it printed, and compares the outcome with a run that was never stopped.
fn signal_stops_cleanly_and_resumes_identically(signal: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let config = long_config(dir.path());
    let set = ["--set", "training.epochs=30"];
    let reference = dir.path().join("reference");
    train_json(&config, &reference, &set);

    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_trainscope"))
        .args([
            "train",
            &config,
            "--out",
            &run_s,
            "--json",
            "--quiet",
            "--threads",
            "1",
        ])
        .args(set)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = run.join("metrics.jsonl");
    wait_for(
        std::time::Duration::from_secs(300),
        "the first epoch",
        || std::fs::read_to_string(&metrics).is_ok_and(|t| t.contains('\n')),
    );
    send(&child, signal);
    let o = finish(child, std::time::Duration::from_secs(120));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");

    // --json still prints the summary, marked as interrupted.
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["interrupted"], true);
    assert_eq!(s["diverged"], Value::Null);
    let at = &s["stopped_at"];
    let (epoch, step) = (at["epoch"].as_u64().unwrap(), at["step"].as_u64().unwrap());
    // A signal that lands while epoch 1 is being evaluated stops at its last update.
    assert!((1..=30).contains(&epoch), "{s}");
    assert!(err.contains(&format!("epoch {epoch}")), "{err}");

    // The state saved is the one the run stopped in (no timed checkpoint came before it):
    // normally inside an epoch, with the epoch's sums.
    let state = resume_state(&run);
    assert_eq!(state["step"].as_u64(), Some(step));
    assert!(state["epoch"].as_u64().unwrap() >= 1);
    assert_eq!(
        state["partial"].is_object(),
        state["batcher"]["in_epoch"] == true
    );
    let done = metrics_without_clock(&run).len() as u64;
    assert_eq!(
        done,
        state["epoch"].as_u64().unwrap(),
        "only completed epochs"
    );
    assert_eq!(
        st_metadata(&run.join("model.safetensors"))["trainscope.epoch"],
        done.to_string()
    );

    // The resume command, as printed, continues the run.
    let command = err
        .lines()
        .find_map(|l| l.split_once("continue with: ").map(|(_, c)| c.to_string()))
        .unwrap_or_else(|| panic!("no resume command in: {err}"));
    assert_eq!(
        command,
        format!(
            "trainscope train {config} --out {run_s} --resume --set training.epochs=30 --threads 1"
        )
    );
    let rest = command.strip_prefix("trainscope ").unwrap();
    let resumed = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {rest} --quiet"))
        .arg(env!("CARGO_BIN_EXE_trainscope"))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));

    assert_eq!(
        metrics_without_clock(&run),
        metrics_without_clock(&reference)
    );
    for file in ["model.safetensors", "best.safetensors"] {
        assert_eq!(
            tensors(&run.join(file)),
            tensors(&reference.join(file)),
            "{file}"
        );
        assert_eq!(
            st_metadata(&run.join(file)),
            st_metadata(&reference.join(file)),
            "{file}"
        );
    }
}

#[test]
fn ctrl_c_stops_between_updates_and_the_printed_resume_is_exact() {
    signal_stops_cleanly_and_resumes_identically(libc::SIGINT);
}

#[test]
fn sigterm_stops_between_updates_and_the_printed_resume_is_exact() {
    signal_stops_cleanly_and_resumes_identically(libc::SIGTERM);
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Full batches of 4 000 rows through two layers of 2 048 units: each update takes seconds,
    // the run hours.
    let csv = generated_csv(dir.path(), 4_000, 4);
    let config = write(
        dir.path(),
        "slow.toml",
        &format!(
            r#"
[data]
train = "{csv}"
target = "label"
task = "classification"
[model]
preset = "mlp"
hidden = [2048, 2048]
[training]
epochs = 10000
batch_size = "full"
"#
        ),
    );
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_trainscope"))
        .args([
            "train",
            &config,
            "--out",
            &run_s,
            "--quiet",
            "--threads",
            "1",
        ])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The initial weights are written once the handler is in place.
    wait_for(
        std::time::Duration::from_secs(300),
        "the run to start",
        || run.join("model.safetensors").exists(),
    );
    send(&child, libc::SIGINT);
    // Apart, so that the two are not merged into one pending signal.
    std::thread::sleep(std::time::Duration::from_millis(300));
    send(&child, libc::SIGINT);
    let o = finish(child, std::time::Duration::from_secs(60));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "stderr: {err}");
    // It did not wait for the update in progress to finish and save.
    assert!(!err.contains("continue with"), "{err}");
}

#[test]
fn diverged_run_prints_its_summary_and_keeps_the_last_completed_epoch() {
    let dir = tempfile::tempdir().unwrap();
    // Plain SGD past the stable step size on a linear model: the loss grows by orders of
    // magnitude every epoch and overflows a few epochs in (in the fourth). No timed checkpoint
    // is written, so model.safetensors is the last completed epoch only if the divergence
    // writes it.
    let config = write(
        dir.path(),
        "diverges.toml",
        &format!(
            r#"
seed = 1
[data]
train = "{}"
target = "target"
task = "regression"
validation_fraction = 0.2
standardize_target = true
[model]
preset = "linear"
[optimizer]
kind = "sgd"
lr = 0.5
[training]
epochs = 100
batch_size = 32
checkpoint_interval_s = 100000
"#,
            data("diabetes.csv")
        ),
    );
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let o = trainscope(&[
        "train",
        &config,
        "--out",
        &run_s,
        "--json",
        "--quiet",
        "--threads",
        "1",
    ]);
    let err = fails_with(&o, &["diverged at epoch", "model.safetensors"]);
    // The summary comes first, on stdout, with the divergence filled in.
    let s: Value =
        serde_json::from_str(stdout(&o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
    let d = &s["diverged"];
    let epoch = d["epoch"].as_u64().unwrap();
    assert!(epoch >= 2, "{s}");
    assert!(d["update"].as_u64().unwrap() >= 1);
    assert!(d["what"].as_str().unwrap().contains("loss"), "{s}");
    assert_eq!(s["epochs"].as_u64(), Some(epoch - 1));
    assert_eq!(s["interrupted"], false);
    assert!(s["train_loss"].as_f64().unwrap().is_finite());
    assert!(
        err.contains(&format!("diverged at epoch {epoch},")),
        "{err}"
    );
    assert!(err.contains(&format!("(epoch {})", epoch - 1)), "{err}");
    assert_eq!(
        st_metadata(&run.join("model.safetensors"))["trainscope.epoch"],
        (epoch - 1).to_string()
    );
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count() as u64,
        epoch - 1
    );
    // A normal run has the key too, as null.
    let ok = train_json(
        &config,
        &dir.path().join("ok"),
        &["--set", "optimizer.lr=0.01"],
    );
    assert_eq!(ok["diverged"], Value::Null);
    assert!(ok.as_object().unwrap().contains_key("diverged"));
}

#[test]
fn log_every_prints_every_nth_epoch_and_the_first_and_last() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = trainscope(&[
        "train",
        "examples/sinc.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "training.epochs=12",
        "--log-every",
        "5",
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let epochs: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("epoch "))
        .map(|l| l.split('/').next().unwrap().trim())
        .collect();
    assert_eq!(epochs, ["1", "5", "10", "12"], "{err}");
    let o = trainscope(&["train", "examples/sinc.toml", "--log-every", "0"]);
    assert_eq!(o.status.code(), Some(2));
}
