//! Writes the seed inputs of the fuzz targets into `fuzz/seeds/TARGET/` (not committed: the
//! fuzzers grow and minimize them into `fuzz/corpus/`), from the bundled examples and the
//! files short training runs write:
//! `cargo test -p trainscope-fuzz-targets --release --test seeds -- --ignored`.

use std::path::{Path, PathBuf};

use trainscope_fuzz_targets::{join_binary, prepared_seeds, resume_seeds};
use trainscope_train::{load_run_data, train, Config, RunOptions, Silent};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The first `n` lines of a text (seeds stay small, so the fuzzers' inputs do).
fn head(text: &str, n: usize) -> String {
    text.lines().take(n).map(|l| format!("{l}\n")).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    use std::io::Read;
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child.wait().unwrap();
    out
}

fn csv_seeds() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples/data"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    for path in files {
        let text = head(&std::fs::read_to_string(&path).unwrap(), 24);
        let target = text
            .lines()
            .next()
            .unwrap()
            .rsplit(',')
            .next()
            .unwrap()
            .to_string();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        for mode in [0u8, 1, 3, 7, 10] {
            let mut bytes = vec![mode];
            bytes.extend_from_slice(target.as_bytes());
            bytes.push(b'\n');
            bytes.extend_from_slice(text.as_bytes());
            seed("csv", &format!("{stem}-{mode}"), &bytes);
        }
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(target.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&gzip(text.replace(',', ";").as_bytes()));
        seed("csv", &format!("{stem}-gzip-semicolons"), &bytes);
    }
    let quoted = "\u{1}label\n\"a, b\";x\r\n\"1,5\";yes\r\n\r\n2;\"no\"\n";
    seed("csv", "quoted-crlf", quoted.as_bytes());
}

fn idx_seeds() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    let (images, labels) = match (
        std::fs::read(dir.join("t10k-images-idx3-ubyte.gz")),
        std::fs::read(dir.join("t10k-labels-idx1-ubyte.gz")),
    ) {
        (Ok(i), Ok(l)) => (gunzip(&i), gunzip(&l)),
        // Made up when the dataset is not installed: 3 images of 4 × 5 pixels.
        _ => {
            let mut i = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5];
            i.extend((0..60).map(|v| (v * 37 % 256) as u8));
            (i, vec![0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 9])
        }
    };
    // Three images (of 28 × 28 when real) and their labels.
    let rows = u32::from_be_bytes(images[8..12].try_into().unwrap()) as usize;
    let cols = u32::from_be_bytes(images[12..16].try_into().unwrap()) as usize;
    let mut small_images = images[..16].to_vec();
    small_images[4..8].copy_from_slice(&3u32.to_be_bytes());
    small_images.extend_from_slice(&images[16..16 + 3 * rows * cols]);
    let mut small_labels = labels[..8].to_vec();
    small_labels[4..8].copy_from_slice(&3u32.to_be_bytes());
    small_labels.extend_from_slice(&labels[8..11]);
    seed("idx", "three", &join_binary(&small_images, &small_labels));
    seed(
        "idx",
        "three-gzip",
        &join_binary(&gzip(&small_images), &gzip(&small_labels)),
    );
    // Tiny images: 2 of 2 × 2.
    let tiny = [
        0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 7, 9, 1, 2, 3, 4,
    ];
    seed(
        "idx",
        "tiny",
        &join_binary(&tiny, &[0, 0, 8, 1, 0, 0, 0, 2, 1, 0]),
    );
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut child = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    use std::io::Read;
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap();
    child.wait().unwrap();
    out
}

fn config_seeds() {
    for dir in ["examples", "bench"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|e| e == "toml") {
                let name = p.file_stem().unwrap().to_string_lossy().to_string();
                let text = std::fs::read_to_string(&p).unwrap();
                seed("config", &format!("{dir}-{name}"), text.as_bytes());
            }
        }
    }
    let sinc = std::fs::read_to_string(root().join("examples/sinc.toml")).unwrap();
    for (i, sets) in [
        vec!["training.epochs=3", "optimizer.lr=0.1"],
        vec!["optimizer.kind=sgd", "optimizer.momentum=0.9"],
        vec![
            "schedule.kind=cosine",
            "schedule.t_max=100",
            "model.hidden=[8, 8]",
        ],
        vec![
            "model.preset=sigmoids",
            "model.count=5",
            "training.batch_size=\"full\"",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        seed(
            "config",
            &format!("sinc-sets-{i}"),
            format!("{sinc}\0{}", sets.join("\0")).as_bytes(),
        );
    }
}

/// Short runs of the examples: their checkpoints and run-directory files.
fn run_seeds(scratch: &Path) {
    for (example, sets) in [
        ("sinc", vec!["training.epochs=3"]),
        (
            "breast_cancer",
            vec!["training.epochs=2", "model.batch_norm=true"],
        ),
        (
            "diabetes",
            vec![
                "training.epochs=2",
                "dtype=\"f64\"",
                "training.early_stopping_patience=1",
            ],
        ),
    ] {
        let sets: Vec<String> = sets.into_iter().map(String::from).collect();
        let config = Config::load(&root().join(format!("examples/{example}.toml")), &sets).unwrap();
        let data = load_run_data(&config).unwrap();
        let out = scratch.join(example);
        let opts = RunOptions {
            out_dir: Some(out.clone()),
            ..Default::default()
        };
        train(&config, &data, &opts, &mut Silent).unwrap();
        for file in ["model.safetensors", "best.safetensors"] {
            if let Ok(bytes) = std::fs::read(out.join(file)) {
                seed("checkpoint", &format!("{example}-{file}"), &bytes);
            }
        }
        let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
        let joined = format!(
            "{}\0{}\0{}",
            read("metrics.jsonl"),
            read("summary.json"),
            read("config.toml")
        );
        seed("run_dir", example, joined.as_bytes());
        seed(
            "run_dir",
            &format!("{example}-metrics-only"),
            read("metrics.jsonl").as_bytes(),
        );
    }
    let fixture = Path::new("/work/shared/fixtures/pytorch_mlp_4_8_3.safetensors");
    if let Ok(bytes) = std::fs::read(fixture) {
        seed("checkpoint", "pytorch-without-metadata", &bytes);
    }
}

#[test]
#[ignore = "writes fuzz/seeds/; run by hand before fuzzing"]
fn write_seeds() {
    let scratch = tempfile::tempdir().unwrap();
    csv_seeds();
    idx_seeds();
    config_seeds();
    run_seeds(scratch.path());
    for (i, s) in resume_seeds(scratch.path()).into_iter().enumerate() {
        seed("resume", &format!("state-{i}"), &s);
    }
    for (i, s) in prepared_seeds(scratch.path()).into_iter().enumerate() {
        seed("prepared", &format!("dataset-{i}"), &s);
    }
}
