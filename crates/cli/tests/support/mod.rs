//! What the integration tests share: running the binary, reading its output, writing data.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn trainscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainscope"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// A file of the bundled example data, by name.
pub fn data(name: &str) -> String {
    s(&root().join("examples/data").join(name))
}

/// The PyTorch reference results.
pub fn fixtures() -> PathBuf {
    root().join("../shared/fixtures")
}

/// Asserts a clean failure: exit code 2, one `error:` line mentioning every `needle`, no
/// panic; returns the message.
pub fn fails_with(o: &Output, needles: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stderr: {err}\nstdout: {}",
        stdout(o)
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    err
}

pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

pub fn ok_json(o: &Output) -> Value {
    let s = ok(o);
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

pub fn s(p: &Path) -> String {
    p.display().to_string()
}

pub fn write(path: &Path, body: &str) -> String {
    std::fs::write(path, body).unwrap();
    s(path)
}

/// A deterministic value in [-1, 1) from an index (no random generator needed).
pub fn noise(i: usize) -> f64 {
    let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    2.0 * (h as f64 / (1u64 << 53) as f64) - 1.0
}

/// A CSV with columns `x0 … x{d-1}, y`: row `i` has features `x(i)` and target `y(i, x)`.
pub fn table(
    path: &Path,
    n: usize,
    d: usize,
    x: impl Fn(usize, usize) -> f64,
    y: impl Fn(usize, &[f64]) -> String,
) -> String {
    let mut header: Vec<String> = (0..d).map(|i| format!("x{i}")).collect();
    header.push("y".into());
    let mut body = header.join(",") + "\n";
    for i in 0..n {
        let row: Vec<f64> = (0..d).map(|j| x(i, j)).collect();
        let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        body += &format!("{},{}\n", cells.join(","), y(i, &row));
    }
    write(path, &body)
}
