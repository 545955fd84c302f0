//! The diagnostics on a convolutional network: a tiny CNN (the `cnn` preset, batch norm) on
//! the 8 × 8 digits as images, through `diagnose` (dense and iterative), `surface`, `critical`
//! and `batch-size`, each checked for outputs that fit the model.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{data, ok, ok_json, s, trainscope, write};

/// Conv2d(1, 2, 3, padding=1) (20) → BatchNorm2d(2) (4) → ReLU → MaxPool2d(2) → Flatten →
/// Linear(32, 10) (330): 354 parameters.
const PARAMETERS: usize = 354;

fn config(dir: &Path) -> String {
    write(
        &dir.join("cnn.toml"),
        &format!(
            r#"
seed = 2
[data]
train = "{}"
target = "target"
task = "classification"
validation_fraction = 0.2
stratify = true
image_shape = [1, 8, 8]
[model]
preset = "cnn"
channels = [2]
batch_norm = true
[optimizer]
kind = "adam"
lr = 0.01
[training]
epochs = 3
batch_size = 64
"#,
            data("digits.csv")
        ),
    )
}

fn trained(dir: &Path) -> (String, String) {
    let cfg = config(dir);
    let run = s(&dir.join("run"));
    let v = ok_json(&trainscope(&[
        "train", &cfg, "--out", &run, "--json", "--quiet",
    ]));
    assert_eq!(v["parameters"].as_u64(), Some(PARAMETERS as u64), "{v}");
    assert!(v["val_accuracy"].as_f64().unwrap() > 0.5, "{v}");
    (cfg, run)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn diagnose_dense_and_iterative_on_a_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = trained(dir.path());
    let v = ok_json(&trainscope(&[
        "diagnose",
        &run,
        "--mode",
        "dense",
        "--json",
        "--threads",
        "2",
    ]));
    let ev = floats(&v["eigenvalues"]);
    assert_eq!(ev.len(), PARAMETERS);
    assert!(ev.iter().all(|x| x.is_finite()));
    assert!(ev.windows(2).all(|w| w[0] <= w[1]), "not ascending");
    let count = |k: &str| v[k].as_u64().unwrap() as usize;
    assert_eq!(
        count("positive") + count("negative") + count("zero"),
        PARAMETERS
    );
    // A cross-entropy trained three epochs: mostly positive curvature, the gradient not zero.
    assert!(count("positive") > PARAMETERS / 2, "{v}");
    assert!(v["grad_norm"].as_f64().unwrap() > 0.0);
    // The per-layer gradient norms name the convolution and the batch norm.
    let layers = v["grad_norm_per_layer"].to_string();
    assert!(
        layers.contains("0.weight") || layers.contains("\"0\""),
        "{layers}"
    );

    let it = ok_json(&trainscope(&[
        "diagnose",
        &run,
        "--mode",
        "iterative",
        "--k",
        "3",
        "--json",
        "--threads",
        "2",
    ]));
    assert_eq!(it["mode"], "iterative");
    let values = |k: &str| -> Vec<f64> {
        it[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["converged"], true, "{e}");
                e["value"].as_f64().unwrap()
            })
            .collect()
    };
    let (small, large) = (values("smallest"), values("largest"));
    // Lanczos finds the dense spectrum's three lowest and three highest eigenvalues.
    let scale = ev[ev.len() - 1].abs().max(1.0);
    for (got, want) in small
        .iter()
        .zip(&ev[..3])
        .chain(large.iter().zip(&ev[ev.len() - 3..]))
    {
        assert!((got - want).abs() <= 1e-6 * scale, "{got} vs dense {want}");
    }
}

#[test]
fn surface_of_a_cnn_is_finite() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = trained(dir.path());
    let out = dir.path().join("surface");
    ok(&trainscope(&[
        "surface",
        &run,
        "--directions",
        "random",
        "--grid",
        "7",
        "--out",
        &s(&out),
        "--threads",
        "2",
    ]));
    let csv = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("a surface CSV");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rows = text.lines();
    let header = rows.next().unwrap();
    let cells: Vec<f64> = rows
        .flat_map(|l| {
            l.split(',')
                .map(|c| c.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let columns = header.split(',').count();
    assert_eq!(cells.len(), 49 * columns, "{header}");
    assert!(cells.iter().all(|x| x.is_finite()));
    // The loss varies over the slice, lowest near the trained weights (the centre).
    let loss: Vec<f64> = cells.chunks(columns).map(|r| r[columns - 1]).collect();
    let centre = loss[24];
    assert!(loss.iter().any(|&l| l > centre), "{loss:?}");
    assert!(std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".json")));
}

#[test]
fn critical_and_batch_size_run_on_a_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let out = dir.path().join("crit");
    let o = trainscope(&[
        "critical",
        &cfg,
        "--seeds",
        "2",
        "--max-steps",
        "10",
        "--out",
        &s(&out),
        "--quiet",
        "--threads",
        "2",
    ]);
    ok(&o);
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("critical.json")).unwrap()).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        let n: u64 = ["positive", "negative", "zero"]
            .iter()
            .map(|k| r[k].as_u64().unwrap())
            .sum();
        assert_eq!(n, PARAMETERS as u64, "{r}");
        assert!(r["grad_norm"].as_f64().unwrap().is_finite(), "{r}");
    }

    let out = dir.path().join("b");
    let v = ok_json(&trainscope(&[
        "batch-size",
        &cfg,
        "--sizes",
        "32,256",
        "--set",
        "training.epochs=2",
        "--out",
        &s(&out),
        "--json",
        "--threads",
        "2",
    ]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // 1,437 training rows: 45 and 6 updates per epoch.
    let updates: Vec<u64> = rows
        .iter()
        .map(|r| r["updates"].as_u64().unwrap())
        .collect();
    assert_eq!(updates, [90, 12]);
    for r in rows {
        for k in ["train_loss", "val_loss", "time_per_update"] {
            let x = r[k].as_f64().unwrap();
            assert!(x.is_finite() && x >= 0.0, "{k} in {r}");
        }
    }
    assert!(out.join("batch_size.json").is_file());
}

#[test]
fn summary_shows_the_cnn_preset_and_refuses_it_without_images() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let table = ok(&trainscope(&["summary", &cfg]));
    for row in [
        "[N, 1, 8, 8]",
        "Conv2d(1 → 2, 3, padding 1)",
        "MaxPool2d(2)",
        "Linear(32 → 10)",
        &format!("total parameters: {PARAMETERS}"),
    ] {
        assert!(table.contains(row), "{row} not in\n{table}");
    }
    let flat = write(
        &dir.path().join("flat.toml"),
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("image_shape = [1, 8, 8]\n", ""),
    );
    support::fails_with(
        &trainscope(&["summary", &flat]),
        &["data.image_shape: preset \"cnn\" needs images"],
    );
    support::fails_with(
        &trainscope(&["train", &flat, "--out", &s(&dir.path().join("r"))]),
        &["data.image_shape: preset \"cnn\" needs images"],
    );
}
