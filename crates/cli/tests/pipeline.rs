//! The commands together, as a user runs them: train, then each diagnostic writing its JSON
//! into the run directory, then `plot` and `report` picking every one of them up.

mod support;

use std::process::Output;

/// Runs the binary from the repository root and asserts success.
fn run(args: &[&str]) -> Output {
    let o = support::trainscope(args);
    support::ok(&o);
    o
}

#[test]
fn plot_and_report_show_what_every_command_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let d = dir.to_str().unwrap();
    run(&[
        "train",
        "examples/sinc.toml",
        "--out",
        d,
        "--quiet",
        "--set",
        "training.epochs=15",
    ]);
    let diagnose = run(&["diagnose", d, "--json"]);
    std::fs::write(dir.join("diagnose.json"), &diagnose.stdout).unwrap();
    run(&[
        "critical",
        "examples/critical_sinc.toml",
        "--seeds",
        "2",
        "--out",
        d,
    ]);
    run(&[
        "guide",
        "examples/sinc.toml",
        "--out",
        d,
        "--set",
        "training.epochs=10",
    ]);
    run(&[
        "batch-size",
        "examples/sinc.toml",
        "--sizes",
        "16,full",
        "--out",
        d,
        "--set",
        "training.epochs=3",
    ]);

    let plots = dir.join("plots");
    run(&[
        "plot",
        d,
        "--out",
        plots.to_str().unwrap(),
        "--format",
        "svg",
    ]);
    for name in [
        "loss",
        "loss_grad_norm",
        "lr",
        "spectrum",
        "min_ratio",
        "batch_size",
        "bias_complexity",
    ] {
        let f = plots.join(format!("{name}.svg"));
        let svg = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }

    let page = dir.join("report.html");
    run(&["report", d, "--out", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    for caption in [
        "diagnose.json",
        "critical.json",
        "batch_size.json",
        "guide.json",
    ] {
        assert!(
            html.contains(caption),
            "the report has no figure from {caption}"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn guide_with_folds_reports_cross_validated_losses_for_every_rung() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&[
        "guide",
        "examples/sinc.toml",
        "--folds",
        "2",
        "--json",
        "--out",
        tmp.path().to_str().unwrap(),
        "--set",
        "training.epochs=5",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json is JSON");
    assert_eq!(v["validation"], "2-fold cross validation");
    let rungs = v["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 4, "linear, then 1, 2 and 4 hidden layers");
    for r in rungs {
        for key in ["train_loss", "val_loss", "train_loss_std", "val_loss_std"] {
            let x = r[key].as_f64().unwrap_or(f64::NAN);
            assert!(x.is_finite() && x >= 0.0, "{key} = {x} in {r}");
        }
    }
    // The deeper networks fit sinc far better than a line does.
    let loss = |i: usize| rungs[i]["val_loss"].as_f64().unwrap();
    assert!(loss(3) < 0.5 * loss(0));
}
