//! Every committed input of the fuzz targets, the minimized corpora (`fuzz/corpus/TARGET/`) and
//! the inputs that once crashed (`fuzz/regressions/TARGET/`), run through the same functions
//! the fuzzers call, on the stable toolchain: none may panic.

use std::path::{Path, PathBuf};
use std::time::Instant;

use trainscope_fuzz_targets::{CappedAlloc, TARGETS};

// The fuzzers' limit on a single allocation holds here too.
#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut count = 0;
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join(kind).join(name);
        let started = Instant::now();
        let files = files_in(&dir);
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            if let Err(e) = std::panic::catch_unwind(|| target(&bytes)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{name}: {} panics: {msg}", file.display());
            }
        }
        eprintln!(
            "{kind}/{name}: {} inputs in {:.2} s",
            files.len(),
            started.elapsed().as_secs_f64()
        );
        count += files.len();
    }
    count
}

#[test]
fn the_minimized_corpora_run_without_a_panic() {
    assert!(
        replay("corpus") > 0,
        "no corpus under {}",
        fuzz_dir().display()
    );
}

#[test]
fn the_inputs_that_crashed_once_run_without_a_panic() {
    replay("regressions");
}
