//! A plain PyTorch state dict through every command that takes a checkpoint: `--model-spec` with
//! the schema from flags or the description file, `convert`, `model.init`, checked against
//! the numbers PyTorch itself computed for the same weights
//! (examples/pytorch/digits_mlp.expected.json, written by train_digits_mlp.py).

mod support;

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use serde_json::Value;
use support::{data, fails_with, ok, ok_json, root, s, trainscope, write};

const DICT: &str = "examples/pytorch/digits_mlp.safetensors";
const SPEC: &str = "examples/pytorch/digits_mlp.toml";

fn expected() -> Value {
    let text = std::fs::read_to_string(root().join("examples/pytorch/digits_mlp.expected.json"))
        .expect("the PyTorch numbers are committed");
    serde_json::from_str(&text).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key}: {v}"))
}

/// The rows of a CSV text, each as numbers (the header skipped).
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

#[test]
fn eval_of_a_state_dict_gives_pytorchs_loss_and_accuracy() {
    let want = expected();
    let digits = data("digits.csv");
    let e = ok_json(&trainscope(&[
        "eval",
        "--model",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &digits,
        "--json",
    ]));
    assert_eq!(e["rows"], want["rows"]);
    // The model is f32 as PyTorch wrote it, evaluated in f32 as PyTorch did.
    assert!(close(f(&e, "loss"), f(&want, "loss"), 1e-6), "{e}");
    assert_eq!(f(&e, "accuracy"), f(&want, "accuracy"));
    assert_eq!(e["loss_name"], "cross_entropy");

    // The same from flags instead of the description file's [data] table, on a description
    // that holds only the layers.
    let dir = tempfile::tempdir().unwrap();
    let layers_only = std::fs::read_to_string(root().join(SPEC))
        .unwrap()
        .split("\n[data]")
        .next()
        .unwrap()
        .to_string();
    let spec = write(&dir.path().join("layers.toml"), &layers_only);
    let e2 = ok_json(&trainscope(&[
        "eval",
        "--model",
        DICT,
        "--model-spec",
        &spec,
        "--target",
        "target",
        "--loss",
        "cross_entropy",
        "--data",
        &digits,
        "--json",
    ]));
    assert_eq!(e2["loss"], e["loss"]);
}

#[test]
fn predict_gives_pytorchs_probabilities_and_raw_logits() {
    let want = expected();
    let digits = data("digits.csv");
    let args = ["--model", DICT, "--model-spec", SPEC, "--data", &digits];
    let p = ok(&trainscope(
        &[&["predict", "--precision", "17"], &args[..]].concat(),
    ));
    let (header, _) = csv_rows(&p);
    assert_eq!(header[0], "target");
    assert_eq!(header[1], "p_0");
    for (i, line) in p.lines().skip(1).take(3).enumerate() {
        let cells: Vec<f64> = line
            .split(',')
            .skip(1)
            .map(|c| c.parse().unwrap())
            .collect();
        let torch = want["probabilities_first_rows"][i].as_array().unwrap();
        for (a, b) in cells.iter().zip(torch) {
            assert!(
                (a - b.as_f64().unwrap()).abs() < 1e-6,
                "row {i}: {a} vs {b}"
            );
        }
    }

    let raw = ok(&trainscope(
        &[&["predict", "--raw", "--precision", "17"], &args[..]].concat(),
    ));
    let (header, rows) = csv_rows(&raw);
    let names: Vec<String> = (0..10).map(|k| format!("logit_{k}")).collect();
    assert_eq!(header, names);
    assert_eq!(rows.len(), 1797);
    for (i, row) in rows.iter().take(3).enumerate() {
        let torch = want["logits_first_rows"][i].as_array().unwrap();
        for (a, b) in row.iter().zip(torch) {
            let b = b.as_f64().unwrap();
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "row {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn diagnose_and_surface_take_a_state_dict() {
    let want = expected();
    let digits = data("digits.csv");
    let d = ok_json(&trainscope(&[
        "diagnose",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &digits,
        "--mode",
        "iterative",
        "--k",
        "2",
        "--json",
    ]));
    // trainscope's loss and gradient in f64 against PyTorch's in f32.
    assert!(close(f(&d, "loss"), f(&want, "loss"), 1e-6), "{d}");
    assert!(close(f(&d, "grad_norm"), f(&want, "gradient_norm"), 1e-5));
    assert_eq!(d["data"]["rows"], 1797);

    let out = tempfile::tempdir().unwrap();
    let dir = s(out.path());
    ok(&trainscope(&[
        "surface",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &digits,
        "--directions",
        "random",
        "--grid",
        "5",
        "--out",
        &dir,
    ]));
    let text = std::fs::read_to_string(out.path().join("surface-random.json")).unwrap();
    let rec: Value = serde_json::from_str(&text).unwrap();
    // The centre of the slice is the trained weights: PyTorch's loss.
    let lowest = f(&rec["lowest"], "loss");
    assert!(lowest <= f(&want, "loss") * (1.0 + 1e-6), "{rec}");
}

#[test]
fn convert_writes_a_checkpoint_every_command_reads_without_flags() {
    let out = tempfile::tempdir().unwrap();
    let ckpt = out.path().join("digits.safetensors");
    let digits = data("digits.csv");
    let msg = ok(&trainscope(&[
        "convert",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &digits,
        "--out",
        &s(&ckpt),
    ]));
    assert!(msg.contains("10 classes"), "{msg}");
    assert!(msg.contains("features (64)"), "{msg}");
    let with_flags = ok(&trainscope(&[
        "eval",
        "--model",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &digits,
        "--json",
    ]));
    let converted = ok(&trainscope(&[
        "eval",
        "--model",
        &s(&ckpt),
        "--data",
        &digits,
        "--json",
    ]));
    assert_eq!(with_flags, converted);

    // The tensors are PyTorch's, bit for bit, under the same names.
    let a = std::fs::read(root().join(DICT)).unwrap();
    let b = std::fs::read(&ckpt).unwrap();
    let (ta, tb) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    let mut names = ta.names();
    names.sort();
    let mut names_b = tb.names();
    names_b.sort();
    assert_eq!(names, names_b);
    for n in names {
        assert_eq!(
            ta.tensor(n).unwrap().data(),
            tb.tensor(n).unwrap().data(),
            "{n}"
        );
    }

    // A converted checkpoint already has its description: a second one is refused.
    fails_with(
        &trainscope(&[
            "convert",
            &s(&ckpt),
            "--model-spec",
            SPEC,
            "--out",
            &s(&out.path().join("again.safetensors")),
        ]),
        &["a trainscope checkpoint", "without a model description"],
    );
}

#[test]
fn a_preset_reads_its_output_count_from_the_state_dict() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        &dir.path().join("mlp.toml"),
        "[model]\npreset = \"mlp\"\nhidden = [32]\n\n[data]\ntarget = \"target\"\ntask = \"classification\"\n",
    );
    let digits = data("digits.csv");
    let by_preset = ok_json(&trainscope(&[
        "eval",
        "--model",
        DICT,
        "--model-spec",
        &spec,
        "--data",
        &digits,
        "--json",
    ]));
    let by_layers = ok_json(&trainscope(&[
        "eval",
        "--model",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &digits,
        "--json",
    ]));
    assert_eq!(by_preset["loss"], by_layers["loss"]);
}

#[test]
fn model_init_reads_a_state_dict_with_the_configurations_layers() {
    let want = expected();
    let dir = tempfile::tempdir().unwrap();
    let layers = std::fs::read_to_string(root().join(SPEC))
        .unwrap()
        .split("[model]")
        .nth(1)
        .unwrap()
        .split("\n[data]")
        .next()
        .unwrap()
        .to_string();
    let config = |epochs: usize, extra: &str| {
        format!(
            "[data]\ntrain = {:?}\ntarget = \"target\"\ntask = \"classification\"\nstandardize = false\n\n\
             [model]\ninit = {:?}\n{extra}{layers}\n[training]\nepochs = {epochs}\n",
            data("digits.csv"),
            s(&root().join(DICT)),
        )
    };
    // epochs = 0: the weights evaluated as they are.
    let c0 = write(&dir.path().join("zero.toml"), &config(0, ""));
    let run = s(&dir.path().join("run0"));
    let summary = ok_json(&trainscope(&["train", &c0, "--out", &run, "--json"]));
    assert!(
        close(f(&summary, "train_loss"), f(&want, "loss"), 1e-6),
        "{summary}"
    );
    assert_eq!(summary["epochs"], 0);
    assert_eq!(summary["steps"], 0);
    assert_eq!(f(&summary, "train_accuracy"), f(&want, "accuracy"));
    // The run's model is the state dict's weights, readable without flags.
    let e = ok_json(&trainscope(&[
        "eval",
        "--model",
        &run,
        "--data",
        &data("digits.csv"),
        "--json",
    ]));
    assert!(close(f(&e, "loss"), f(&want, "loss"), 1e-6));

    // Training on from them lowers the loss.
    let c2 = write(&dir.path().join("two.toml"), &config(2, ""));
    let summary = ok_json(&trainscope(&[
        "train",
        &c2,
        "--out",
        &s(&dir.path().join("run2")),
        "--json",
    ]));
    assert!(f(&summary, "train_loss") < f(&want, "loss"), "{summary}");

    // A trainscope checkpoint brings its own layers: giving them too is refused.
    let own = format!("{run}/model.safetensors");
    let c3 = write(
        &dir.path().join("own.toml"),
        &config(1, "").replace(&s(&root().join(DICT)), &own),
    );
    fails_with(
        &trainscope(&["train", &c3, "--out", &s(&dir.path().join("run3"))]),
        &["model.init", "brings its own model"],
    );
    // A state dict without layers is refused, naming the keys to give.
    let c4 = write(
        &dir.path().join("bare.toml"),
        &config(1, "").replace(&layers, "\n"),
    );
    fails_with(
        &trainscope(&["train", &c4, "--out", &s(&dir.path().join("run4"))]),
        &["model.init", "plain state dict", "model.layers"],
    );
}

#[test]
fn raw_regression_outputs_are_in_the_standardized_units() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir.path().join("d.toml"),
        &format!(
            "seed = 1\n[data]\ntrain = {:?}\ntarget = \"target\"\ntask = \"regression\"\n\
             standardize_target = true\n[model]\nhidden = [8]\n[training]\nepochs = 2\n",
            data("diabetes.csv")
        ),
    );
    let run = s(&dir.path().join("run"));
    ok(&trainscope(&["train", &config, "--out", &run]));
    let args = [
        "--model",
        &run,
        "--data",
        &data("diabetes.csv"),
        "--precision",
        "17",
    ];
    let (h, values) = csv_rows(&ok(&trainscope(&[&["predict"], &args[..]].concat())));
    let (hr, raw) = csv_rows(&ok(&trainscope(
        &[&["predict", "--raw"], &args[..]].concat(),
    )));
    assert_eq!(h, ["target"]);
    assert_eq!(hr, ["target"]);
    // Undo the standardization by hand: value = raw·σ + μ, with μ, σ of the training target.
    let ys: Vec<f64> = std::fs::read_to_string(data("diabetes.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let n = ys.len() as f64;
    let mean = ys.iter().sum::<f64>() / n;
    let sd = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut differs = false;
    for (v, r) in values.iter().zip(&raw) {
        let undone = r[0] * sd + mean;
        // The standardizer may use n − 1; either way the map is affine with these constants
        // up to a factor √(n/(n−1)) in σ.
        assert!((v[0] - undone).abs() <= 0.01 * sd, "{} vs {undone}", v[0]);
        differs |= (v[0] - r[0]).abs() > 1.0;
    }
    assert!(
        differs,
        "raw outputs are the model's, not the target's units"
    );
}

#[test]
fn state_dict_errors_name_what_to_give() {
    let digits = data("digits.csv");
    // Without a description: the flag to use.
    fails_with(
        &trainscope(&["eval", "--model", DICT, "--data", &digits]),
        &[DICT, "plain state dict", "--model-spec"],
    );
    fails_with(
        &trainscope(&["diagnose", DICT, "--data", &digits]),
        &["plain state dict", "--model-spec"],
    );
    let dir = tempfile::tempdir().unwrap();
    let layers_only = std::fs::read_to_string(root().join(SPEC))
        .unwrap()
        .split("\n[data]")
        .next()
        .unwrap()
        .to_string();
    let spec = write(&dir.path().join("layers.toml"), &layers_only);
    // Scoring needs the target column; the task needs saying when no loss implies it.
    fails_with(
        &trainscope(&[
            "eval",
            "--model",
            DICT,
            "--model-spec",
            &spec,
            "--data",
            &digits,
        ]),
        &["no target column", "--target"],
    );
    fails_with(
        &trainscope(&[
            "eval",
            "--model",
            DICT,
            "--model-spec",
            &spec,
            "--target",
            "target",
            "--data",
            &digits,
        ]),
        &["regression or a classification", "--task"],
    );
    // Data whose columns do not fit the layers.
    fails_with(
        &trainscope(&[
            "eval",
            "--model",
            DICT,
            "--model-spec",
            SPEC,
            "--data",
            &data("diabetes.csv"),
        ]),
        &["in_features 64", "10 features"],
    );
    // A description without [model], and one with a mistyped key, by file and line.
    let empty = write(
        &dir.path().join("empty.toml"),
        "[data]\ntarget = \"target\"\n",
    );
    fails_with(
        &trainscope(&[
            "eval",
            "--model",
            DICT,
            "--model-spec",
            &empty,
            "--data",
            &digits,
        ]),
        &["empty.toml", "[model]"],
    );
    let typo = write(&dir.path().join("typo.toml"), "[model]\nlayer = []\n");
    fails_with(
        &trainscope(&[
            "eval",
            "--model",
            DICT,
            "--model-spec",
            &typo,
            "--data",
            &digits,
        ]),
        &["typo.toml:2:1", "layer"],
    );
    // A wrong shape in the state dict names the tensor.
    let wide = write(
        &dir.path().join("wide.toml"),
        &std::fs::read_to_string(root().join(SPEC))
            .unwrap()
            .replace("out_features = 32 }", "out_features = 16 }")
            .replace("in_features = 32,", "in_features = 16,"),
    );
    fails_with(
        &trainscope(&[
            "eval",
            "--model",
            DICT,
            "--model-spec",
            &wide,
            "--data",
            &digits,
        ]),
        &["0.weight", "[32, 64]", "[16, 64]"],
    );
    // Schema flags without --model-spec are a usage error.
    let o = trainscope(&[
        "eval", "--model", DICT, "--target", "target", "--data", &digits,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(support::stderr(&o).contains("--model-spec"));
}

/// A state dict written here without any metadata, as `safetensors.torch.save_file` writes
/// one: the model's own checkpoint with the header stripped, in f64.
#[test]
fn an_f64_state_dict_is_read_in_f64() {
    let dir = tempfile::tempdir().unwrap();
    let converted = dir.path().join("c.safetensors");
    ok(&trainscope(&[
        "convert",
        DICT,
        "--model-spec",
        SPEC,
        "--data",
        &data("digits.csv"),
        "--out",
        &s(&converted),
    ]));
    let bytes = std::fs::read(&converted).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let wide: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| {
            let data: Vec<u8> = t
                .data()
                .chunks_exact(4)
                .flat_map(|c| (f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).to_le_bytes())
                .collect();
            (name, t.shape().to_vec(), data)
        })
        .collect();
    let views: HashMap<String, TensorView<'_>> = wide
        .iter()
        .map(|(n, shape, d)| {
            (
                n.clone(),
                TensorView::new(safetensors::Dtype::F64, shape.clone(), d).unwrap(),
            )
        })
        .collect();
    let plain = dir.path().join("f64.safetensors");
    safetensors::serialize_to_file(&views, None, Path::new(&plain)).unwrap();
    let out = dir.path().join("f64-converted.safetensors");
    let msg = ok(&trainscope(&[
        "convert",
        &s(&plain),
        "--model-spec",
        SPEC,
        "--data",
        &data("digits.csv"),
        "--out",
        &s(&out),
    ]));
    assert!(msg.contains(": f64 ("), "{msg}");
    let e32 = ok_json(&trainscope(&[
        "eval",
        "--model",
        &s(&converted),
        "--data",
        &data("digits.csv"),
        "--json",
    ]));
    let e64 = ok_json(&trainscope(&[
        "eval",
        "--model",
        &s(&out),
        "--data",
        &data("digits.csv"),
        "--json",
    ]));
    // The same weights, evaluated in each precision.
    assert!(close(f(&e64, "loss"), f(&e32, "loss"), 1e-6));
    assert_ne!(e64["loss"], e32["loss"]);
}
