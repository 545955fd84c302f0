//! SIGKILL at the worst moments: a training run is killed while one of its checkpoint files is
//! written (the temporary file complete and synced, the rename not yet done), `--resume`
//! continues it, and the outcome is bit-identical to a run never killed, with no temporary
//! file left behind. The moment is chosen exactly through a test hook of the writer
//! (`TRAINSCOPE_TEST_PAUSE_BEFORE_RENAME=NAME:N:MARKER`: the N-th write of NAME creates MARKER
//! and waits), so nothing depends on timing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{noise, ok, ok_json, s, table, text, trainscope, write};

/// 200 rows of four features and a label; a model with batch norm and dropout, momentum, a
/// plateau schedule, validation and early-stopping bookkeeping; a checkpoint after every
/// epoch. Each epoch writes best.safetensors (while validation improves), model.safetensors
/// and resume.safetensors, in that order.
fn setup(dir: &Path) -> String {
    let csv = table(
        &dir.join("data.csv"),
        200,
        4,
        |i, j| noise(i * 4 + j),
        |_, x| {
            if x[0] * x[1] + x[2] > 0.0 {
                "yes"
            } else {
                "no"
            }
            .into()
        },
    );
    write(
        &dir.join("run.toml"),
        &format!(
            r#"
seed = 11
[data]
train = "{csv}"
target = "y"
task = "classification"
validation_fraction = 0.25
[model]
preset = "mlp"
hidden = [16, 8]
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
epochs = 6
batch_size = 16
drop_last = true
early_stopping_patience = 50
checkpoint_interval_s = 0
"#
        ),
    )
}

fn train_args<'a>(config: &'a str, run: &'a str, resume: bool) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        config,
        "--out",
        run,
        "--quiet",
        "--json",
        "--threads",
        "1",
    ];
    if resume {
        args.push("--resume");
    }
    args
}

/// Runs `train` (resuming if asked) until the `n`-th write of `file` has its temporary file
/// synced, then SIGKILLs it there.
fn kill_during_write(config: &str, run: &Path, resume: bool, file: &str, n: usize) {
    let marker = run.with_extension(format!("paused-{file}-{n}"));
    let _ = std::fs::remove_file(&marker);
    let run_s = s(run);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainscope"))
        .args(train_args(config, &run_s, resume))
        .env(
            "TRAINSCOPE_TEST_PAUSE_BEFORE_RENAME",
            format!("{file}:{n}:{}", marker.display()),
        )
        .current_dir(support::root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let err = child.wait_with_output().unwrap().stderr;
            panic!(
                "the run ended ({status}) before write {n} of {file}: {}",
                text(&err)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "write {n} of {file} never came"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    std::fs::remove_file(&marker).unwrap();
    // Killed mid-write: the temporary file is there, complete but never renamed.
    assert!(
        !temporary_files(run).is_empty(),
        "no temporary file of {file} after the kill"
    );
}

fn temporary_files(run: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect()
}

/// The tensors of a safetensors file, by name, with their bytes.
fn tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec()))
        .collect();
    out.sort();
    out
}

fn metrics_without_clock(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

/// Resumes `run` to the end and compares it with `reference`, a run never killed.
fn resume_and_compare(config: &str, run: &Path, reference: &Path) {
    let run_s = s(run);
    let summary = ok_json(&trainscope(&train_args(config, &run_s, true)));
    assert_eq!(summary["epochs"], 6);
    assert_eq!(summary["interrupted"], false);
    for file in ["model.safetensors", "best.safetensors"] {
        assert_eq!(
            tensors(&run.join(file)),
            tensors(&reference.join(file)),
            "{file}"
        );
    }
    assert_eq!(metrics_without_clock(run), metrics_without_clock(reference));
    let temps = temporary_files(run);
    assert!(temps.is_empty(), "temporary files survived: {temps:?}");
}

#[test]
fn killed_during_checkpoint_writes_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let reference = dir.path().join("reference");
    ok(&trainscope(&train_args(&config, &s(&reference), false)));

    // One run directory killed again and again, each time at a later write of the resumed
    // process: its resume state, its model, its best model, and the summary at the very end.
    let run = dir.path().join("run");
    kill_during_write(&config, &run, false, "resume.safetensors", 2);
    kill_during_write(&config, &run, true, "model.safetensors", 2);
    kill_during_write(&config, &run, true, "best.safetensors", 2);
    kill_during_write(&config, &run, true, "resume.safetensors", 3);
    kill_during_write(&config, &run, true, "summary.json", 1);
    resume_and_compare(&config, &run, &reference);
}

#[test]
fn killed_during_the_first_resume_state_leaves_none_and_a_new_run_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let reference = dir.path().join("reference");
    ok(&trainscope(&train_args(&config, &s(&reference), false)));
    // Killed while writing its first resume state, the run has none: --resume says so.
    let run = dir.path().join("run");
    kill_during_write(&config, &run, false, "resume.safetensors", 1);
    let o = trainscope(&train_args(&config, &s(&run), true));
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("resume.safetensors") && err.contains("cannot read the state to resume from"),
        "{err}"
    );
    // Started afresh in the same directory, the run is the reference run.
    ok(&trainscope(&train_args(&config, &s(&run), false)));
    assert!(temporary_files(&run).is_empty());
    for file in ["model.safetensors", "best.safetensors"] {
        assert_eq!(tensors(&run.join(file)), tensors(&reference.join(file)));
    }
}

#[test]
fn killed_during_the_summary_of_a_finished_run_resumes_to_the_same_summary() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let reference = dir.path().join("reference");
    ok(&trainscope(&train_args(&config, &s(&reference), false)));
    let run = dir.path().join("run");
    kill_during_write(&config, &run, false, "summary.json", 1);
    resume_and_compare(&config, &run, &reference);
    let summary = |d: &Path| -> Value {
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap())
                .unwrap();
        for k in ["seconds", "run_dir"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(summary(&run), summary(&reference));
}
