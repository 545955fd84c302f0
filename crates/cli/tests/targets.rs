//! Regression on several target columns (`data.target = ["y0", "y1"]`) through every command,
//! and the errors when the model's outputs and the target columns do not match.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{fails_with, noise, ok, ok_json, s, trainscope, write};
use trainscope_data::{Schema, Task};
use trainscope_nn::{Loss, ModelSpec, Sequential};
use trainscope_train::{DTypeName, ModelMeta};

/// `y0 = 2·x0 − x1 + 0.5` and `y1 = x2 + 3·x0 − 1`: a linear model solves both exactly.
fn truth(x: &[f64]) -> [f64; 2] {
    [2.0 * x[0] - x[1] + 0.5, x[2] + 3.0 * x[0] - 1.0]
}

fn write_data(dir: &Path) -> String {
    let mut body = String::from("x0,x1,x2,y0,y1\n");
    for i in 0..64 {
        let x: Vec<f64> = (0..3).map(|j| noise(3 * i + j)).collect();
        let [y0, y1] = truth(&x);
        body += &format!("{:?},{:?},{:?},{y0:?},{y1:?}\n", x[0], x[1], x[2]);
    }
    write(&dir.join("d.csv"), &body)
}

fn write_config(dir: &Path, model: &str) -> String {
    write(
        &dir.join("c.toml"),
        &format!(
            "seed = 0\n[data]\ntrain = \"d.csv\"\ntarget = [\"y0\", \"y1\"]\ntask = \"regression\"\n\
             [model]\n{model}\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n\
             [training]\nepochs = 200\nbatch_size = \"full\"\n"
        ),
    )
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key}: {v}"))
}

#[test]
fn two_targets_train_predict_eval_diagnose_cv_surface_and_critical() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_data(tmp.path());
    let config = write_config(tmp.path(), "preset = \"linear\"");
    let run = tmp.path().join("run");
    let summary = ok_json(&trainscope(&[
        "train",
        &config,
        "--out",
        &s(&run),
        "--quiet",
        "--json",
    ]));
    // Standardized targets: always predicting the mean costs 1 per column, so 1 on average.
    assert!((num(&summary, "baseline_train_loss") - 1.0).abs() < 1e-6);
    assert_eq!(
        num(&summary, "parameters"),
        8.0,
        "3 inputs × 2 outputs + 2 biases"
    );
    let loss = num(&summary, "train_loss");
    assert!(
        loss < 1e-6,
        "the exact linear solution is reachable: {loss}"
    );

    // One column per target, in the targets' own units.
    let csv = ok(&trainscope(&[
        "predict",
        "--model",
        &s(&run),
        "--data",
        &data,
    ]));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("y0,y1"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 64);
    for (i, row) in rows.iter().enumerate() {
        let x: Vec<f64> = (0..3).map(|j| noise(3 * i + j)).collect();
        let want = truth(&x);
        assert_eq!(row.len(), 2);
        for k in 0..2 {
            assert!(
                (row[k] - want[k]).abs() < 1e-2,
                "row {i}: {row:?} vs {want:?}"
            );
        }
    }

    // MSE over all 64 × 2 entries, in original units.
    let e = ok_json(&trainscope(&[
        "eval",
        "--model",
        &s(&run),
        "--data",
        &data,
        "--json",
    ]));
    assert_eq!(num(&e, "rows"), 64.0);
    let mse = num(&e, "mse");
    let by_hand: f64 = rows
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            let x: Vec<f64> = (0..3).map(|j| noise(3 * i + j)).collect();
            let want = truth(&x);
            (0..2).map(move |k| (row[k] - want[k]).powi(2))
        })
        .sum::<f64>()
        / 128.0;
    assert!(mse < 1e-5, "{mse}");
    // The CSV's numbers are rounded to f32, so agreement is to that precision.
    assert!(
        (mse - by_hand).abs() < 1e-6 + 1e-3 * by_hand,
        "{mse} vs {by_hand}"
    );

    // The Hessian of the mean over N × K entries of a linear model with standardized features:
    // H = 2/(N·K) · I_K ⊗ Σᵢ [xᵢ; 1][xᵢ; 1]ᵀ, trace = 2/(N·K) · K · N · (3 + 1) = 8.
    let d = ok_json(&trainscope(&["diagnose", &s(&run), "--json"]));
    let trace = num(&d["trace"], "value");
    assert!((trace - 8.0).abs() < 1e-3, "{trace}");

    let cv = ok_json(&trainscope(&[
        "cv", &config, "--folds", "2", "--quiet", "--json",
    ]));
    assert!(cv.to_string().contains("val_loss"), "{cv}");
    ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "random",
        "--grid",
        "5",
    ]));
    assert!(run.join("surface-random.json").is_file());
    let out = tmp.path().join("critical");
    ok(&trainscope(&[
        "critical",
        &config,
        "--seeds",
        "1",
        "--max-steps",
        "5",
        "--out",
        &s(&out),
        "--quiet",
    ]));
    assert!(out.join("critical.json").is_file());
}

#[test]
fn outputs_that_do_not_match_the_targets_are_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_data(tmp.path());
    let config = write_config(
        tmp.path(),
        "layers = [{type = \"linear\", in_features = 3, out_features = 3}]",
    );
    let out = s(&tmp.path().join("run"));
    fails_with(
        &trainscope(&["train", &config, "--out", &out, "--quiet"]),
        &["model.layers", "3 outputs", "data.target lists 2: y0, y1"],
    );
    let with = |set: &str| {
        trainscope(&[
            "train",
            &config,
            "--out",
            &out,
            "--quiet",
            "--set",
            set,
            "--set",
            "model.layers=[{type=\"linear\", in_features=3, out_features=2}]",
        ])
    };
    fails_with(
        &with("data.task=\"classification\""),
        &["data.target", "one target column"],
    );
    fails_with(&with("data.target=[]"), &["data.target", "empty"]);
    fails_with(
        &with("data.target=[\"y0\",\"y0\"]"),
        &["data.target", "twice"],
    );
    fails_with(
        &with("data.target=3"),
        &["data.target", "a column name or a list"],
    );
    fails_with(
        &with("data.target=[\"y0\",\"y9\"]"),
        &["no target column \"y9\""],
    );
    fails_with(
        &with("data.features=[\"x0\",\"y1\"]"),
        &["data.features", "\"y1\""],
    );
    ok(&with("training.epochs=1"));

    // Scoring needs every target column.
    let part = write(&tmp.path().join("part.csv"), "x0,x1,x2,y0\n0.1,0.2,0.3,1\n");
    fails_with(
        &trainscope(&["eval", "--model", &out, "--data", &part]),
        &["part.csv", "no target column \"y1\""],
    );
    // Predicting does not.
    let csv = ok(&trainscope(&["predict", "--model", &out, "--data", &part]));
    assert_eq!(csv.lines().next(), Some("y0,y1"));
    drop(data);
}

/// A checkpoint whose schema names one target while the model has three outputs (as a
/// checkpoint written by other code may): `predict` names the outputs `y_0 … y_2`; scoring is
/// refused with one line instead of a shape error from inside the loss.
#[test]
fn one_target_name_for_several_outputs_predicts_numbered_columns_and_refuses_scoring() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = tmp.path().join("m.safetensors");
    let model = Sequential::<f64>::from_seed(ModelSpec::linear(2, 3), 0).unwrap();
    let meta = ModelMeta {
        schema: Schema {
            feature_names: vec!["x0".into(), "x1".into()],
            targets: vec!["y".into()],
            label_map: None,
        },
        feature_standardizer: None,
        target_standardizer: None,
        task: Task::Regression,
        loss: Loss::Mse,
        dtype: DTypeName::F64,
        epoch: 0,
    };
    model.save(&ckpt, &meta.to_metadata()).unwrap();
    let data = write(
        &tmp.path().join("d.csv"),
        "x0,x1,y\n1,2,3\n4,5,6\n7,8,9\n0,0,1\n-1,1,0\n",
    );
    let csv = ok(&trainscope(&[
        "predict",
        "--model",
        &s(&ckpt),
        "--data",
        &data,
    ]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "y_0,y_1,y_2");
    assert_eq!(lines.len(), 6, "5 rows: {csv}");
    assert!(
        lines[1..].iter().all(|l| l.split(',').count() == 3),
        "{csv}"
    );
    for cmd in [
        vec!["eval", "--model", &s(&ckpt), "--data", &data],
        vec!["diagnose", &s(&ckpt), "--data", &data],
    ] {
        fails_with(
            &trainscope(&cmd),
            &[
                "3 outputs",
                "1 target column [\"y\"]",
                "one target column per output",
                "y_0, y_1, y_2",
            ],
        );
    }
    // A schema with two targets for three outputs cannot be read at all.
    let mut meta2 = meta.clone();
    meta2.schema.targets = vec!["a".into(), "b".into()];
    model.save(&ckpt, &meta2.to_metadata()).unwrap();
    fails_with(
        &trainscope(&["predict", "--model", &s(&ckpt), "--data", &data]),
        &["3 outputs for the 2 target columns"],
    );
}
