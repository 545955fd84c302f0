//! A run directory means one checkpoint to every command, and a new run in it removes the
//! analyses of the old weights.

mod support;

use support::{ok, ok_json, s, trainscope};

fn sinc_run(out: &std::path::Path) {
    ok(&trainscope(&[
        "train",
        "examples/sinc.toml",
        "--out",
        &s(out),
        "--quiet",
        "--set",
        "training.epochs=30",
        "--set",
        "model.hidden=[16]",
    ]));
}

#[test]
fn every_command_reads_the_same_checkpoint_of_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    sinc_run(&run);
    let model = run.join("model.safetensors");
    assert!(run.join("best.safetensors").is_file());

    let d = ok_json(&trainscope(&["diagnose", &s(&run), "--json"]));
    assert_eq!(d["checkpoint"], s(&model));

    let by_dir = ok(&trainscope(&[
        "predict",
        "--model",
        &s(&run),
        "--data",
        "examples/data/sinc.csv",
    ]));
    let by_file = ok(&trainscope(&[
        "predict",
        "--model",
        &s(&model),
        "--data",
        "examples/data/sinc.csv",
    ]));
    assert_eq!(by_dir, by_file);
    assert!(by_dir.lines().count() > 100);

    let eval = |m: &str| {
        ok_json(&trainscope(&[
            "eval",
            "--model",
            m,
            "--data",
            "examples/data/sinc.csv",
            "--json",
        ]))
    };
    assert_eq!(eval(&s(&run)), eval(&s(&model)));

    // A directory without a model is one clear error.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = trainscope(&[
        "predict",
        "--model",
        &s(&empty),
        "--data",
        "examples/data/sinc.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = support::text(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("not a run directory"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn retraining_removes_the_analyses_of_the_old_weights() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    sinc_run(&run);
    let d = ok(&trainscope(&["diagnose", &s(&run), "--json"]));
    std::fs::write(run.join("diagnose.json"), d).unwrap();
    std::fs::write(run.join("guide.json"), "{}").unwrap();
    sinc_run(&run);
    assert!(!run.join("diagnose.json").exists());
    assert!(!run.join("guide.json").exists());
}
