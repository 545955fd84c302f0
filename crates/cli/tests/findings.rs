//! Findings on constructed runs with a known cause — each must be found — and on healthy runs
//! (every bundled example, a cosine schedule ending at zero, early stopping), where no
//! detector may report a problem or a warning.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use support::{noise, ok, ok_json, s, table, trainscope, write};

/// Trains `config` (TOML, data paths absolute) in `dir/name` and returns `train --json`.
fn train(dir: &Path, name: &str, config: &str) -> Value {
    let cfg = write(&dir.join(format!("{name}.toml")), config);
    let out = dir.join(name);
    ok_json(&trainscope(&[
        "train",
        &cfg,
        "--out",
        &s(&out),
        "--json",
        "--quiet",
    ]))
}

/// `kind → severity` of every finding.
fn found(v: &Value) -> BTreeMap<String, String> {
    v["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings list: {v}"))
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn finding<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding in {}", v["findings"]))
}

/// `kind` is reported with `severity`, and nothing outside `allowed` is a problem or warning.
fn expect(v: &Value, kind: &str, severity: &str, allowed: &[&str]) {
    let f = found(v);
    assert_eq!(
        f.get(kind).map(String::as_str),
        Some(severity),
        "{kind}: {f:?}\n{}",
        v["findings"]
    );
    for (k, sev) in &f {
        if sev != "note" && k != kind {
            assert!(
                allowed.contains(&k.as_str()),
                "unexpected {k} ({sev}): {f:?}"
            );
        }
    }
}

fn healthy(v: &Value) {
    let f = found(v);
    assert!(
        f.values().all(|s| s == "note"),
        "a healthy run must have no problem or warning: {}",
        v["findings"]
    );
    assert!(
        v["stuck"]["plateaus"].as_array().unwrap().is_empty(),
        "{}",
        v["stuck"]
    );
}

fn first_remedy_key(f: &Value) -> &str {
    f["remedies"][0]["key"].as_str().unwrap_or("")
}

/// `y = f(x) + 0.05 noise` on `n` evenly spaced `x ∈ [−1, 1]` (one feature).
fn curve(dir: &Path, name: &str, n: usize, f: impl Fn(f64) -> f64) -> String {
    table(
        &dir.join(format!("{name}.csv")),
        n,
        1,
        |i, _| -1.0 + 2.0 * i as f64 / (n - 1) as f64,
        |i, x| format!("{:?}", f(x[0]) + 0.05 * noise(i)),
    )
}

// ---------------------------------------------------------------------------------------------
// healthy runs

#[test]
fn every_bundled_example_is_healthy() {
    let dir = tempfile::tempdir().unwrap();
    for ex in ["sinc", "diabetes", "digits", "breast_cancer"] {
        let out = dir.path().join(ex);
        let v = ok_json(&trainscope(&[
            "train",
            &format!("examples/{ex}.toml"),
            "--out",
            &s(&out),
            "--json",
            "--quiet",
        ]));
        healthy(&v);
    }
}

#[test]
fn the_sinc_example_prints_no_findings_block() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sinc");
    let text = ok(&trainscope(&[
        "train",
        "examples/sinc.toml",
        "--out",
        &s(&out),
        "--quiet",
    ]));
    assert!(
        !text.contains("findings") && !text.contains("stuck"),
        "{text}"
    );
}

#[test]
fn early_stopping_is_a_note_not_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("diabetes");
    let v = ok_json(&trainscope(&[
        "train",
        "examples/diabetes.toml",
        "--out",
        &s(&out),
        "--json",
        "--quiet",
    ]));
    healthy(&v);
    let f = finding(&v, "overfitting");
    assert_eq!(f["severity"], "note");
    assert_eq!(f["evidence"]["best_epoch"], v["best_epoch"]);
}

#[test]
fn healthy_regression_and_classification_with_a_cosine_schedule_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = table(
        &d.join("plane.csv"),
        400,
        2,
        |i, j| noise(2 * i + j),
        |i, x| format!("{:?}", 2.0 * x[0] - x[1] + 0.05 * noise(1000 + i)),
    );
    // 320 training rows in batches of 32: 10 updates per epoch, the rate reaches 0 at the end.
    let v = train(
        d,
        "plane",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\nvalidation_fraction = 0.2\n\
             [model]\npreset = \"mlp\"\nhidden = [16]\n[optimizer]\nkind = \"adam\"\nlr = 0.01\n\
             [schedule]\nkind = \"cosine\"\nt_max = 600\n[training]\nepochs = 60\nbatch_size = 32\n"
        ),
    );
    assert!(v["val_loss"].as_f64().unwrap() < 0.01, "{v}");
    healthy(&v);

    let blobs = table(
        &d.join("blobs.csv"),
        300,
        2,
        |i, j| noise(3 * i + j) + if i % 2 == 0 { 1.5 } else { -1.5 },
        |i, _| (i % 2).to_string(),
    );
    let v = train(
        d,
        "blobs",
        &format!(
            "[data]\ntrain = {blobs:?}\ntarget = \"y\"\ntask = \"classification\"\nvalidation_fraction = 0.2\n\
             [model]\npreset = \"mlp\"\nhidden = [8]\n[training]\nepochs = 30\n"
        ),
    );
    assert!(v["val_accuracy"].as_f64().unwrap() > 0.95, "{v}");
    healthy(&v);
}

// ---------------------------------------------------------------------------------------------
// known causes

#[test]
fn an_unscaled_price_target_is_named_as_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = table(
        &d.join("prices.csv"),
        300,
        3,
        |i, j| noise(3 * i + j),
        |i, x| {
            format!(
                "{:?}",
                2.0e5 + 5.0e4 * x[0] - 2.0e4 * x[1] + 1.0e4 * noise(900 + i)
            )
        },
    );
    let v = train(
        d,
        "prices",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\nvalidation_fraction = 0.2\n\
             standardize_target = false\n[model]\npreset = \"mlp\"\nhidden = [16]\n[training]\nepochs = 20\n"
        ),
    );
    expect(
        &v,
        "worse_than_baseline",
        "problem",
        &["unscaled_target", "lr_too_small"],
    );
    assert_eq!(found(&v)["unscaled_target"], "warning");
    // The one thing to try is the real cause, not another optimizer.
    let w = finding(&v, "worse_than_baseline");
    assert_eq!(first_remedy_key(w), "data.standardize_target");
    assert!(w["evidence"]["ratio"].as_f64().unwrap() > 2.0);
    // With the target standardized the same run is healthy.
    let cfg = d.join("prices.toml");
    let v = ok_json(&trainscope(&[
        "train",
        &s(&cfg),
        "--out",
        &s(&d.join("fixed")),
        "--json",
        "--quiet",
        "--set",
        "data.standardize_target=true",
    ]));
    healthy(&v);
}

#[test]
fn a_linear_model_on_a_parabola_barely_learns_and_is_not_called_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let data = curve(dir.path(), "parabola", 200, |x| x * x);
    let v = train(
        dir.path(),
        "parabola",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"adam\"\nlr = 0.05\n\
             [training]\nepochs = 60\nbatch_size = 16\n"
        ),
    );
    expect(&v, "barely_learned", "warning", &[]);
    assert!(finding(&v, "barely_learned")["remedies"][0]["action"]
        .as_str()
        .unwrap()
        .contains("trainscope guide"));
}

#[test]
fn a_tiny_learning_rate_is_too_small() {
    let dir = tempfile::tempdir().unwrap();
    let data = table(
        &dir.path().join("lin.csv"),
        320,
        2,
        |i, j| noise(2 * i + j),
        |i, x| format!("{:?}", 3.0 * x[0] + 2.0 * x[1] + 0.05 * noise(700 + i)),
    );
    let v = train(
        dir.path(),
        "slow",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\nstandardize_target = true\n\
             [model]\npreset = \"mlp\"\nhidden = [8]\n[optimizer]\nkind = \"sgd\"\nlr = 0.0003\n\
             [training]\nepochs = 30\nbatch_size = 32\n"
        ),
    );
    expect(&v, "lr_too_small", "warning", &["worse_than_baseline"]);
    let f = finding(&v, "lr_too_small");
    assert_eq!(f["remedies"][0]["key"], "optimizer.lr");
    assert_eq!(f["remedies"][0]["value"], "0.003");
}

#[test]
fn a_learning_rate_at_the_stability_limit_bounces_across_the_valley() {
    let dir = tempfile::tempdir().unwrap();
    // Standardized x: the MSE Hessian of (w, b) is 2·I, so η = 1 maps every error e to −e.
    let data = curve(dir.path(), "bowl", 50, |x| 3.0 * x + 1.0);
    let v = train(
        dir.path(),
        "bowl",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"sgd\"\nlr = 1.0\n\
             [training]\nepochs = 20\nbatch_size = \"full\"\n"
        ),
    );
    expect(
        &v,
        "lr_too_large",
        "warning",
        &["barely_learned", "worse_than_baseline"],
    );
    let f = finding(&v, "lr_too_large");
    assert_eq!(f["remedies"][0]["key"], "optimizer.lr");
    // Plain SGD may be pointed to an adaptive rate; the compatible `stuck` block agrees.
    assert!(f["remedies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["value"] == "\"adam\""));
    assert_eq!(v["stuck"]["plateaus"][0]["kind"], "oscillating");
}

#[test]
fn adam_is_never_suggested_to_a_run_that_uses_adam() {
    let dir = tempfile::tempdir().unwrap();
    let data = curve(dir.path(), "wave", 200, |x| (3.0 * x).sin());
    let v = train(
        dir.path(),
        "hot",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"mlp\"\nhidden = [32]\n[optimizer]\nkind = \"adam\"\nlr = 3.0\n\
             [training]\nepochs = 30\nbatch_size = 16\n"
        ),
    );
    let all: Vec<&Value> = v["findings"].as_array().unwrap().iter().collect();
    assert!(!all.is_empty(), "lr 3.0 with Adam must be noticed: {v}");
    for f in all {
        for r in f["remedies"].as_array().unwrap() {
            assert_ne!(r["value"], "\"adam\"", "{f}");
        }
    }
}

#[test]
fn exploding_gradients_past_the_stability_limit() {
    let dir = tempfile::tempdir().unwrap();
    // η = 1.1 on the bowl above: every error is multiplied by −1.2 per update.
    let data = curve(dir.path(), "bowl", 50, |x| 3.0 * x + 1.0);
    let v = train(
        dir.path(),
        "boom",
        &format!(
            "dtype = \"f64\"\n[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"sgd\"\nlr = 1.1\n\
             [training]\nepochs = 40\nbatch_size = \"full\"\n"
        ),
    );
    expect(
        &v,
        "exploding_gradients",
        "warning",
        &["lr_too_large", "worse_than_baseline", "barely_learned"],
    );
    assert_eq!(
        first_remedy_key(finding(&v, "exploding_gradients")),
        "optimizer.clip_global_norm"
    );
}

#[test]
fn a_step_schedule_counted_in_updates_makes_the_rate_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let data = curve(dir.path(), "wave", 320, |x| (2.0 * x).sin());
    // 10 updates per epoch: step_size = 50 meant as epochs decays after epochs 5 and 10.
    let v = train(
        dir.path(),
        "vanish",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"mlp\"\nhidden = [16]\n[optimizer]\nkind = \"sgd\"\nlr = 0.05\nmomentum = 0.9\n\
             [schedule]\nkind = \"step\"\nstep_size = 50\ngamma = 0.01\n\
             [training]\nepochs = 40\nbatch_size = 32\n"
        ),
    );
    expect(&v, "lr_vanished", "warning", &["barely_learned"]);
    let f = finding(&v, "lr_vanished");
    assert_eq!(f["epochs"][0], 11, "{f}");
    assert!(f["remedies"][0]["action"]
        .as_str()
        .unwrap()
        .contains("10 updates per epoch"));
    assert_eq!(f["remedies"][0]["key"], "schedule.unit", "{f}");
    assert_eq!(f["remedies"][0]["value"], "\"epoch\"", "{f}");
}

#[test]
fn a_tiny_noisy_dataset_overfits() {
    let dir = tempfile::tempdir().unwrap();
    let data = curve(dir.path(), "few", 40, |x| {
        x + 0.6 * noise((x * 1e3) as usize)
    });
    let v = train(
        dir.path(),
        "overfit",
        &format!(
            "seed = 3\n[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\nvalidation_fraction = 0.5\n\
             [model]\npreset = \"mlp\"\nhidden = [64, 64]\n[optimizer]\nkind = \"adam\"\nlr = 0.01\n\
             [training]\nepochs = 300\nbatch_size = 8\n"
        ),
    );
    expect(&v, "overfitting", "warning", &[]);
    let f = finding(&v, "overfitting");
    assert_eq!(first_remedy_key(f), "training.early_stopping_patience");
    // With early stopping the same run ends on its best weights, and says so in a note.
    let cfg = dir.path().join("overfit.toml");
    let v = ok_json(&trainscope(&[
        "train",
        &s(&cfg),
        "--out",
        &s(&dir.path().join("stopped")),
        "--json",
        "--quiet",
        "--set",
        "training.early_stopping_patience=20",
    ]));
    assert_eq!(
        found(&v).get("overfitting").map(String::as_str),
        Some("note")
    );
}

#[test]
fn a_deep_sigmoid_network_has_vanishing_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let data = curve(dir.path(), "wave", 200, |x| (3.0 * x).sin());
    let v = train(
        dir.path(),
        "deep",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"mlp\"\nhidden = [16, 16, 16, 16, 16, 16, 16, 16]\nactivation = \"sigmoid\"\n\
             [optimizer]\nkind = \"sgd\"\nlr = 0.05\n[training]\nepochs = 20\nbatch_size = 20\n"
        ),
    );
    expect(
        &v,
        "vanishing_gradients",
        "warning",
        &[
            "critical_point",
            "lr_too_small",
            "barely_learned",
            "worse_than_baseline",
        ],
    );
    let f = finding(&v, "vanishing_gradients");
    assert_eq!(f["remedies"][0]["value"], "\"relu\"");
    assert!(f["evidence"]["rms_ratio"].as_f64().unwrap() < 1e-3);
}

/// Replaces every tensor of a trainscope checkpoint (f32) by `set(name, values)`, keeping its
/// metadata: a model started exactly where a test wants it.
fn rewrite_checkpoint(path: &Path, set: impl Fn(&str, &mut [f32])) {
    let bytes = std::fs::read(path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in st.tensors() {
        let mut v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        set(&name, &mut v);
        let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        tensors.push((name, view.shape().to_vec(), data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, shape, data)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, meta, path).unwrap();
}

/// A one-epoch run of `config` whose model file then gets the weights `set` gives it.
fn start_from(dir: &Path, config: &str, set: impl Fn(&str, &mut [f32])) -> String {
    let cfg = write(&dir.join("init.toml"), config);
    let out = dir.join("init");
    ok(&trainscope(&[
        "train",
        &cfg,
        "--out",
        &s(&out),
        "--quiet",
        "--set",
        "training.epochs=1",
    ]));
    let model = out.join("model.safetensors");
    rewrite_checkpoint(&model, set);
    s(&model)
}

#[test]
fn a_network_started_on_a_saddle_is_stuck_at_a_critical_point() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Target mean 2 (not standardized), so the output bias has something to learn at first.
    let data = curve(d, "wave", 100, |x| 2.0 + (3.0 * x).sin());
    let body = format!(
        "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
         standardize_target = false\n\
         [model]\npreset = \"mlp\"\nhidden = [8]\nactivation = \"tanh\"\n\
         [optimizer]\nkind = \"sgd\"\nlr = 0.1\n[training]\nepochs = 100\nbatch_size = \"full\"\n"
    );
    // Every weight and bias zero: tanh(0) = 0 and the output weights are 0, so no hidden weight
    // ever gets a gradient. Only the output bias moves, to the mean; then ∇L = 0 exactly,
    // while the loss can still fall (a saddle point).
    let init = start_from(d, &body, |_, v| v.iter_mut().for_each(|x| *x = 0.0));
    let cfg = body.replace(
        "[model]\npreset = \"mlp\"\nhidden = [8]\nactivation = \"tanh\"\n",
        &format!("[model]\ninit = {init:?}\n"),
    );
    let v = train(d, "saddle", &cfg);
    expect(&v, "critical_point", "warning", &["barely_learned"]);
    let f = finding(&v, "critical_point");
    assert!(first_remedy_key(f).is_empty(), "{f}");
    assert!(f["remedies"][0]["action"]
        .as_str()
        .unwrap()
        .contains("diagnose"));
    assert!(
        f["evidence"]["full_grad_norm"].as_f64().unwrap() < 1e-3,
        "{f}"
    );
    assert_eq!(v["stuck"]["plateaus"][0]["kind"], "critical_point");
}

#[test]
fn relu_units_that_start_dead_stay_dead() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = curve(d, "wave", 200, |x| (3.0 * x).sin());
    let body = format!(
        "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
         [model]\npreset = \"mlp\"\nhidden = [16]\nactivation = \"relu\"\n\
         [optimizer]\nkind = \"adam\"\nlr = 0.01\n[training]\nepochs = 40\nbatch_size = 16\n"
    );
    // 14 of 16 hidden units get bias −10: on standardized inputs they never fire.
    let init = start_from(d, &body, |name, v| {
        if name == "0.bias" {
            v.iter_mut().skip(2).for_each(|x| *x = -10.0);
        }
    });
    let v = train(
        d,
        "dead",
        &body.replace(
            "preset = \"mlp\"\nhidden = [16]\nactivation = \"relu\"\n",
            &format!("init = {init:?}\n"),
        ),
    );
    // Without the model preset in the configuration, no `model.*` remedy applies.
    expect(
        &v,
        "dead_units",
        "warning",
        &["barely_learned", "critical_point", "lr_too_small"],
    );
    let f = finding(&v, "dead_units");
    assert_eq!(f["evidence"]["layer_1"], "14/16 dead", "{f}");
    assert_eq!(v["relu_units"][0]["dead"], 14);
}

#[test]
fn features_on_wildly_different_scales_left_unstandardized() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // x0 in thousands, x1 in [−1, 1]; the target depends on x1.
    let data = table(
        &d.join("scales.csv"),
        300,
        2,
        |i, j| {
            if j == 0 {
                5000.0 + 3000.0 * noise(5 * i)
            } else {
                noise(5 * i + 1)
            }
        },
        |i, x| format!("{:?}", 2.0 * x[1] + 0.05 * noise(999 + i)),
    );
    let v = train(
        d,
        "scales",
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\nstandardize = false\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"sgd\"\nlr = 1e-8\n\
             [training]\nepochs = 30\nbatch_size = 32\n"
        ),
    );
    expect(
        &v,
        "unscaled_features",
        "warning",
        &[
            "barely_learned",
            "lr_too_small",
            "worse_than_baseline",
            "lr_too_large",
        ],
    );
    let f = finding(&v, "unscaled_features");
    assert_eq!(first_remedy_key(f), "data.standardize");
    assert_eq!(f["evidence"]["largest_feature"], "x0");
}

#[test]
fn a_diverging_run_reports_its_findings_before_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = curve(d, "bowl", 50, |x| 3.0 * x + 1.0);
    let cfg = write(
        &d.join("nan.toml"),
        &format!(
            "[data]\ntrain = {data:?}\ntarget = \"y\"\ntask = \"regression\"\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"sgd\"\nlr = 5.0\n\
             [training]\nepochs = 200\nbatch_size = \"full\"\n"
        ),
    );
    let out = d.join("nan");
    let o = trainscope(&["train", &cfg, "--out", &s(&out), "--json", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", support::text(&o.stderr));
    let v: Value = serde_json::from_str(support::text(&o.stdout).trim()).unwrap();
    expect(
        &v,
        "diverged",
        "problem",
        &["lr_too_large", "exploding_gradients"],
    );
    let f = finding(&v, "diverged");
    assert_eq!(f["epochs"][0], v["diverged"]["epoch"]);
    assert_eq!(first_remedy_key(f), "optimizer.lr");
    assert_eq!(f["remedies"][0]["value"], "0.5");
    // The text form shows the finding too, and diagnose reads it back from summary.json.
    let o = trainscope(&["train", &cfg, "--out", &s(&out), "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    let text = support::text(&o.stdout);
    assert!(text.contains("problem: diverged"), "{text}");
    let diag = ok_json(&trainscope(&["diagnose", &s(&out), "--json"]));
    assert_eq!(diag["findings"]["findings"][0]["kind"], "diverged");
}
