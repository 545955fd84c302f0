//! A run directory means one checkpoint to every command, and a new run in it removes the
//! analyses of the old weights.

mod support;

use serde_json::Value;
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
    // The analyses save themselves into the run directory.
    let d = ok(&trainscope(&["diagnose", &s(&run)]));
    assert!(d.contains("saved: "), "{d}");
    ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "random",
        "--grid",
        "5",
    ]));
    for f in ["diagnose.json", "surface-random.json", "surface-random.csv"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    std::fs::write(run.join("guide.json"), "{}").unwrap();
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    sinc_run(&run);
    for f in [
        "diagnose.json",
        "guide.json",
        "surface-random.json",
        "surface-random.csv",
        "surface-random.png",
    ] {
        assert!(!run.join(f).exists(), "{f} survived the new run");
    }
    assert!(
        run.join("notes.txt").is_file(),
        "a file of the user's was removed"
    );
}

fn json_file(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn analyses_of_weights_that_have_changed_are_left_out_of_plots_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    let train = |extra: &[&str]| {
        let r = s(&run);
        let mut args = vec![
            "train",
            "examples/sinc.toml",
            "--out",
            &r,
            "--quiet",
            "--set",
            "training.epochs=20",
            "--set",
            "model.hidden=[16]",
        ];
        args.extend_from_slice(extra);
        ok(&trainscope(&args));
    };
    train(&["--stop-after-epoch", "10"]);
    let d = ok_json(&trainscope(&["diagnose", &s(&run), "--json"]));
    // What is printed is what is saved, stamped with the checkpoint's content and epoch.
    assert_eq!(json_file(&run.join("diagnose.json")), d);
    assert_eq!(d["stamp"]["subject"], "checkpoint");
    assert_eq!(d["stamp"]["epoch"], 10);
    assert_eq!(d["stamp"]["rows"], d["data"]["rows"]);
    ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "random",
        "--grid",
        "5",
    ]));
    // Every command means the same checkpoint by a run directory.
    let surface = json_file(&run.join("surface-random.json"));
    assert_eq!(surface["stamp"]["xxh3"], d["stamp"]["xxh3"]);

    // While the weights are the same, the report shows both.
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(!html.contains("Left out"), "nothing is stale yet");
    assert!(html.contains("positive eigenvalues") && html.contains("id=\"surface-random\""));

    // Training goes on: the saved analyses now describe weights that are gone.
    train(&["--resume"]);
    let o = trainscope(&["plot", &s(&run), "--format", "svg"]);
    let warnings = support::text(&o.stderr);
    ok(&o);
    assert!(
        warnings.contains("diagnose.json not drawn") && warnings.contains("epoch 10"),
        "{warnings}"
    );
    assert!(
        !run.join("plots/spectrum.svg").exists(),
        "a stale spectrum was drawn"
    );
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("Left out: <code>diagnose.json</code>"),
        "stale diagnosis not marked"
    );
    assert!(html.contains("Left out: <code>surface-random.json</code>"));
    assert!(
        !html.contains("positive eigenvalues"),
        "a stale verdict is shown"
    );

    // Diagnosing again makes it current.
    ok(&trainscope(&["diagnose", &s(&run)]));
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(!html.contains("Left out: <code>diagnose.json"));
    assert!(html.contains("positive eigenvalues"));
    assert!(html.contains("(epoch 20)"), "the stamp's epoch is shown");

    // A hand-saved result without a stamp is shown, marked.
    let mut old = d.clone();
    old.as_object_mut().unwrap().remove("stamp");
    std::fs::write(run.join("diagnose.json"), old.to_string()).unwrap();
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("has no stamp"), "unstamped file not marked");
}

#[test]
fn the_model_table_counts_every_parameter() {
    let t = ok(&trainscope(&["summary", "examples/sinc.toml"]));
    assert!(
        t.contains("Linear(1 → 128)") && t.contains("[N, 128]"),
        "{t}"
    );
    assert!(t.contains("total parameters: 385"), "{t}");
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    sinc_run(&run);
    let j = ok_json(&trainscope(&["summary", &s(&run), "--json"]));
    let summary = json_file(&run.join("summary.json"));
    assert_eq!(j["parameters"], summary["parameters"]);
    assert_eq!(j["layers"], summary["model"]);
    let o = trainscope(&["summary", "examples/sinc.toml", "--set", "model.hidden=[0]"]);
    assert_eq!(o.status.code(), Some(2), "{}", support::text(&o.stderr));
}

#[test]
fn a_classifier_reports_its_confusion_matrix_in_eval_and_in_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("bc");
    ok(&trainscope(&[
        "train",
        "examples/breast_cancer.toml",
        "--out",
        &s(&run),
        "--quiet",
        "--set",
        "training.epochs=3",
    ]));
    let e = ok_json(&trainscope(&[
        "eval",
        "--model",
        &s(&run),
        "--data",
        "examples/data/breast_cancer.csv",
        "--json",
    ]));
    let c = &e["confusion"];
    let counts: Vec<Vec<u64>> = serde_json::from_value(c["counts"].clone()).unwrap();
    let rows = e["rows"].as_u64().unwrap();
    assert_eq!(counts.iter().flatten().sum::<u64>(), rows);
    let hits: u64 = (0..counts.len()).map(|i| counts[i][i]).sum();
    assert!((hits as f64 / rows as f64 - e["accuracy"].as_f64().unwrap()).abs() < 1e-12);
    for (k, class) in c["classes"].as_array().unwrap().iter().enumerate() {
        let support: u64 = counts[k].iter().sum();
        assert_eq!(class["support"].as_u64().unwrap(), support);
        let recall = counts[k][k] as f64 / support as f64;
        assert!((class["recall"].as_f64().unwrap() - recall).abs() < 1e-12);
    }
    let text = ok(&trainscope(&[
        "eval",
        "--model",
        &s(&run),
        "--data",
        "examples/data/breast_cancer.csv",
    ]));
    assert!(
        text.contains("precision") && text.contains("macro F1"),
        "{text}"
    );
    // The run keeps the validation set's matrix, and the report shows it.
    let summary = json_file(&run.join("summary.json"));
    let val: u64 =
        serde_json::from_value::<Vec<Vec<u64>>>(summary["val_confusion"]["counts"].clone())
            .unwrap()
            .iter()
            .flatten()
            .sum();
    assert!(val > 0 && val < rows);
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("Confusion matrix on the validation rows"));
    assert!(html.contains("id=\"model\""));
}

/// `text` read back as `T` and written again as its command writes it: pretty in the file,
/// one line on stdout with `--json`.
fn rewritten<T: serde::Serialize + serde::de::DeserializeOwned>(
    text: &str,
    pretty: bool,
) -> String {
    let value: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut out = if pretty {
        serde_json::to_string_pretty(&value).unwrap()
    } else {
        serde_json::to_string(&value).unwrap()
    };
    out.push('\n');
    out
}

/// What a command saved in `file` and printed with `--json` (`stdout`, if given) reads back as
/// the type the report reads it with, and writes again byte for byte.
fn assert_round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(
    file: &std::path::Path,
    stdout: Option<&str>,
) {
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(
        rewritten::<T>(&text, true),
        text,
        "{} changes when read back",
        file.display()
    );
    if let Some(out) = stdout {
        assert_eq!(
            rewritten::<T>(out, false),
            out,
            "--json changes when read back"
        );
        let saved: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::from_str::<Value>(out).unwrap(), saved);
    }
}

#[test]
fn every_saved_analysis_reads_back_as_its_type_byte_for_byte() {
    use trainscope_inspect::{BatchComparison, CriticalExperiment, Diagnosis, GuideReport};
    use trainscope_report::SurfaceRecord;

    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    sinc_run(&run);
    let d = ok(&trainscope(&["diagnose", &s(&run), "--json"]));
    assert_round_trip::<Diagnosis>(&run.join("diagnose.json"), Some(&d));
    ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "random",
        "--grid",
        "5",
    ]));
    assert_round_trip::<SurfaceRecord>(&run.join("surface-random.json"), None);

    let out = dir.path().join("critical");
    let c = ok(&trainscope(&[
        "critical",
        "examples/critical_sinc.toml",
        "--seeds",
        "1",
        "--max-steps",
        "20",
        "--set",
        "training.epochs=10",
        "--out",
        &s(&out),
        "--json",
    ]));
    assert_round_trip::<CriticalExperiment>(&out.join("critical.json"), Some(&c));

    let out = dir.path().join("guide");
    let g = ok(&trainscope(&[
        "guide",
        "examples/sinc.toml",
        "--depths",
        "0,1",
        "--set",
        "training.epochs=5",
        "--out",
        &s(&out),
        "--json",
    ]));
    assert_round_trip::<GuideReport>(&out.join("guide.json"), Some(&g));

    let out = dir.path().join("batch");
    let b = ok(&trainscope(&[
        "batch-size",
        "examples/sinc.toml",
        "--sizes",
        "16,full",
        "--set",
        "training.epochs=2",
        "--out",
        &s(&out),
        "--json",
    ]));
    assert_round_trip::<BatchComparison>(&out.join("batch_size.json"), Some(&b));
}

#[test]
fn an_analysis_that_does_not_read_as_its_type_is_left_out_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    sinc_run(&run);
    ok(&trainscope(&["diagnose", &s(&run)]));
    // A field renamed by hand (or by another version): the file is JSON, but not a diagnosis.
    let saved = std::fs::read_to_string(run.join("diagnose.json")).unwrap();
    std::fs::write(
        run.join("diagnose.json"),
        saved.replace("\"verdict\":", "\"the_verdict\":"),
    )
    .unwrap();
    // Not JSON at all.
    std::fs::write(run.join("critical.json"), "{not json").unwrap();
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("Left out: <code>diagnose.json</code>")
            && html.contains("does not read as what `diagnose` writes: missing field `verdict`"),
        "{html}"
    );
    assert!(
        html.contains("Left out: <code>critical.json</code>")
            && html.contains("what `critical` writes: key must be a string at line 1 column 2"),
        "{html}"
    );
    assert!(
        !html.contains("positive eigenvalues"),
        "a broken diagnosis is shown"
    );
    assert!(
        html.contains("id=\"fig-loss\""),
        "the rest of the report is there"
    );

    let o = trainscope(&["plot", &s(&run), "--format", "svg"]);
    let warnings = support::text(&o.stderr);
    ok(&o);
    assert!(
        warnings.contains("diagnose.json not drawn") && warnings.contains("line "),
        "{warnings}"
    );
    assert!(run.join("plots/loss.svg").is_file());
    assert!(!run.join("plots/spectrum.svg").exists());
}

#[test]
fn an_unstamped_batch_size_comparison_is_shown_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sinc");
    sinc_run(&run);
    ok(&trainscope(&[
        "batch-size",
        "examples/sinc.toml",
        "--sizes",
        "16,full",
        "--set",
        "training.epochs=2",
        "--out",
        &s(&run),
        "--quiet",
    ]));
    // As a version before stamps wrote it.
    let mut old = json_file(&run.join("batch_size.json"));
    assert!(old["stamp"].is_object());
    old.as_object_mut().unwrap().remove("stamp");
    std::fs::write(run.join("batch_size.json"), old.to_string()).unwrap();

    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("<code>batch_size.json</code> has no stamp"),
        "not marked at the top"
    );
    let section = &html[html
        .find("<h2 id=\"batch-size\">")
        .expect("no batch-size section")..];
    assert!(
        section.contains("No stamp: which weights or configuration this describes"),
        "the section is not marked"
    );
    for size in ["<td>16</td>", "<td>full</td>"] {
        assert!(section.contains(size), "{size} missing from the table");
    }
    assert!(
        html.contains("id=\"fig-batch_size\""),
        "its figure is not drawn"
    );
    assert!(!html.contains("Left out"));

    let o = trainscope(&["plot", &s(&run), "--format", "svg"]);
    let warnings = support::text(&o.stderr);
    ok(&o);
    assert!(
        warnings.contains("batch_size.json has no stamp"),
        "{warnings}"
    );
    assert!(run.join("plots/batch_size.svg").is_file());
}
