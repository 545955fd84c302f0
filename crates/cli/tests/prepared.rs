//! Prepared datasets (`trainscope prepare`, `data.train = "DATA.tsd"`): the manifest's
//! statistics are the standardizer's, training from the shards matches training in memory,
//! a stopped run resumes bit-identically, damage is refused by name, and a dataset several
//! times larger than the process's address space is prepared and trained on.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;
use support::{data, fails_with, ok, s, trainscope, write};
use trainscope_data::{CsvOptions, Prepared, Standardizer};
use trainscope_train::{files, load_training_run, train, Config, Observer, RunOptions, Silent};

/// diabetes.csv as a regression, `dtype` and extra `[data]` lines as given.
fn config(dir: &Path, name: &str, train: &str, dtype: &str, data_lines: &str) -> String {
    write(
        &dir.join(name),
        &format!(
            r#"seed = 3
dtype = "{dtype}"
threads = 1
[data]
train = "{train}"
target = "target"
task = "regression"
{data_lines}
[model]
preset = "mlp"
hidden = [16]
[optimizer]
kind = "adam"
lr = 0.003
[training]
epochs = 6
batch_size = 32
"#
        ),
    )
}

fn prepare(args: &[&str]) -> String {
    let mut all = vec!["prepare"];
    all.extend_from_slice(args);
    ok(&trainscope(&all))
}

fn train_losses(config: &str, out: &Path) -> Vec<f64> {
    ok(&trainscope(&[
        "train",
        config,
        "--out",
        &s(out),
        "--quiet",
        "--threads",
        "1",
    ]));
    metrics(out)
        .iter()
        .map(|m| m["train_loss"].as_f64().unwrap())
        .collect()
}

fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join(files::METRICS))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

#[test]
fn prepared_statistics_are_the_standardizers_and_a_full_window_trains_as_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let csv = data("diabetes.csv");
    // f64 storage (the configuration trains in f64), 9 shards of 50 rows.
    let c64 = config(dir.path(), "f64.toml", &csv, "f64", "");
    let tsd = dir.path().join("diabetes.tsd");
    let said = prepare(&[
        &csv,
        "--out",
        &s(&tsd),
        "--config",
        &c64,
        "--shard-rows",
        "50",
    ]);
    assert!(
        said.contains("442 rows × 10 features (f64), 9 shards of 50 rows"),
        "{said}"
    );

    let prepared = Prepared::open(&tsd).unwrap();
    let m = prepared.manifest();
    let fitted =
        Standardizer::fit_features(&CsvOptions::regression("target").load(&csv).unwrap()).unwrap();
    assert_eq!(
        m.standardizer, fitted,
        "the manifest's statistics are the standardizer's"
    );
    assert_eq!((m.rows, m.shards.len()), (442, 9));
    // The manifest's keys in their fixed order.
    let text = std::fs::read_to_string(tsd.join("manifest.json")).unwrap();
    let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    let keys = [
        "format", "version", "source", "task", "schema", "dtype", "rows", "shards",
    ];
    assert!(keys.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");

    // A window of every shard is a full shuffle: the order in-memory training uses, so the
    // same f64 values give the same losses, bit for bit.
    let in_memory = train_losses(&c64, &dir.path().join("mem"));
    let full = config(
        dir.path(),
        "full.toml",
        &s(&tsd),
        "f64",
        "shuffle_window = 9",
    );
    let sharded = train_losses(&full, &dir.path().join("tsd"));
    assert_eq!(in_memory.len(), 6);
    assert_eq!(sharded, in_memory);

    // f32 storage and a window of 2 shards: other batches, a loss close to in-memory f32's.
    let c32 = config(dir.path(), "f32.toml", &csv, "f32", "");
    let tsd32 = dir.path().join("d32.tsd");
    prepare(&[
        &csv,
        "--out",
        &s(&tsd32),
        "--config",
        &c32,
        "--shard-rows",
        "50",
    ]);
    let mem32 = train_losses(&c32, &dir.path().join("mem32"));
    let w2 = config(
        dir.path(),
        "w2.toml",
        &s(&tsd32),
        "f32",
        "shuffle_window = 2",
    );
    let win = train_losses(&w2, &dir.path().join("w2"));
    assert_ne!(
        win, mem32,
        "a window of 2 of 9 shards is not the full shuffle"
    );
    let (a, b) = (win[5], mem32[5]);
    assert!(
        (a - b).abs() < 0.1 * b,
        "last epoch's loss {a} from shards, {b} in memory"
    );
}

/// Raises the stop flag after update `update` of epoch `epoch`.
struct StopAt {
    epoch: usize,
    update: usize,
    flag: Arc<AtomicBool>,
}

impl Observer for StopAt {
    fn on_update(&mut self, epoch: usize, update: usize, _loss: f64) {
        if (epoch, update) == (self.epoch, self.update) {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_run_on_a_prepared_dataset_stopped_inside_an_epoch_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let csv = data("diabetes.csv");
    let tsd = dir.path().join("d.tsd");
    let plain = config(dir.path(), "plain.toml", &csv, "f32", "");
    prepare(&[
        &csv,
        "--out",
        &s(&tsd),
        "--config",
        &plain,
        "--shard-rows",
        "40",
    ]);
    // Dropout and a window of 3 of 12 shards: the shuffle, the windows and the dropout
    // generator must all continue where they stopped.
    let path = write(
        &dir.path().join("c.toml"),
        &format!(
            "seed = 5\nthreads = 1\n[data]\ntrain = \"{}\"\nshuffle_window = 3\n[model]\npreset = \"mlp\"\nhidden = [16]\ndropout = 0.1\n[optimizer]\nkind = \"adam\"\nlr = 0.003\n[training]\nepochs = 3\nbatch_size = 32\n",
            s(&tsd)
        ),
    );
    let config = Config::load(Path::new(&path), &[]).unwrap();
    let data = load_training_run(&config).unwrap();
    assert!(data.shards.train.is_some());
    let opts = |out: &Path, resume: bool, flag: &Arc<AtomicBool>| RunOptions {
        out_dir: Some(out.to_path_buf()),
        resume,
        stop: Some(Arc::clone(flag)),
        ..RunOptions::default()
    };
    let never = Arc::new(AtomicBool::new(false));
    let full = dir.path().join("full");
    let reference = train(&config, &data, &opts(&full, false, &never), &mut Silent).unwrap();
    // 442 rows in batches of 32: 14 updates per epoch; stop in the middle of the second.
    let run = dir.path().join("stopped");
    let flag = Arc::new(AtomicBool::new(false));
    let mut observer = StopAt {
        epoch: 2,
        update: 6,
        flag: Arc::clone(&flag),
    };
    let stopped = train(&config, &data, &opts(&run, false, &flag), &mut observer).unwrap();
    assert!(stopped.interrupted);
    assert_eq!(metrics(&run).len(), 1);
    let flag = Arc::new(AtomicBool::new(false));
    let resumed = train(&config, &data, &opts(&run, true, &flag), &mut Silent).unwrap();
    assert_eq!(resumed.steps, reference.steps);
    assert_eq!(metrics(&run), metrics(&full));
    assert_eq!(
        std::fs::read(run.join(files::MODEL)).unwrap(),
        std::fs::read(full.join(files::MODEL)).unwrap()
    );

    // The resume state names the data by the manifest's checksum: another prepared dataset
    // at the same path is refused.
    prepare(&[
        &csv,
        "--out",
        &s(&tsd),
        "--config",
        &plain,
        "--shard-rows",
        "41",
    ]);
    let again = trainscope(&["train", &path, "--out", &s(&run), "--resume", "--quiet"]);
    fails_with(&again, &["--resume", "changed"]);
}

#[test]
fn damaged_shards_and_manifests_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let csv = data("diabetes.csv");
    let tsd = dir.path().join("d.tsd");
    prepare(&[
        &csv,
        "--out",
        &s(&tsd),
        "--target",
        "target",
        "--shard-rows",
        "100",
    ]);
    let c = config(dir.path(), "c.toml", &s(&tsd), "f32", "");
    let run = dir.path().join("run");
    train_losses(&c, &run);

    // One byte of shard 2's features flipped.
    let shard = tsd.join("shard-00002.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = bytes.len() - 1000;
    bytes[at] ^= 0x10;
    std::fs::write(&shard, &bytes).unwrap();
    let o = trainscope(&["train", &c, "--out", &s(&run), "--quiet"]);
    let err = fails_with(&o, &["shard-00002.safetensors", "checksum"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    bytes[at] ^= 0x10;
    std::fs::write(&shard, &bytes).unwrap();

    // A manifest whose shapes do not add up is refused before any row is read.
    let manifest = tsd.join("manifest.json");
    let good = std::fs::read_to_string(&manifest).unwrap();
    let bad = good.replacen(
        "\"rows_per_shard\": 100",
        "\"rows_per_shard\": 100000000000000",
        1,
    );
    assert_ne!(bad, good);
    std::fs::write(&manifest, bad).unwrap();
    let o = trainscope(&["train", &c, "--out", &s(&run), "--quiet"]);
    fails_with(&o, &["manifest.json", "rows"]);
    let fewer = good.replacen("\"rows\": 442", "\"rows\": 443", 1);
    std::fs::write(&manifest, fewer).unwrap();
    fails_with(
        &trainscope(&["train", &c, "--out", &s(&run), "--quiet"]),
        &["manifest.json", "do not fit"],
    );
    std::fs::write(&manifest, &good).unwrap();

    // Commands that hold the training rows in memory say so.
    let o = trainscope(&["diagnose", &s(&run)]);
    fails_with(&o, &["prepared dataset", "in memory"]);

    // A bad CSV: the loader's file:line:column, exit 2, nothing left behind.
    let broken = write(&dir.path().join("bad.csv"), "a,b,target\n1,2,3\n4,n/a,6\n");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = trainscope(&[
        "prepare",
        &broken,
        "--out",
        &s(&out.join("bad.tsd")),
        "--target",
        "target",
    ]);
    fails_with(&o, &["bad.csv:3:2", "n/a"]);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "no leftovers");
}

/// Writes an IDX image file of `rows` images of `side × side` pseudo-random bytes and its
/// label file, in pieces (never the whole file in memory).
fn write_idx(dir: &Path, rows: usize, side: usize) -> (PathBuf, PathBuf) {
    let images = dir.join("big-images-idx3-ubyte");
    let labels = dir.join("big-labels-idx1-ubyte");
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&images).unwrap());
    f.write_all(&0x0803u32.to_be_bytes()).unwrap();
    for d in [rows, side, side] {
        f.write_all(&(d as u32).to_be_bytes()).unwrap();
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut row = vec![0u8; side * side];
    let mut ys = Vec::with_capacity(rows);
    for _ in 0..rows {
        for chunk in row.chunks_mut(8) {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        ys.push((row[0] % 10) as u8);
        f.write_all(&row).unwrap();
    }
    f.flush().unwrap();
    let mut l = std::fs::File::create(&labels).unwrap();
    l.write_all(&0x0801u32.to_be_bytes()).unwrap();
    l.write_all(&(rows as u32).to_be_bytes()).unwrap();
    l.write_all(&ys).unwrap();
    (images, labels)
}

/// Runs the binary under an address-space limit of `limit` bytes (`ulimit -v`).
fn limited(limit: u64, args: &[&str]) -> std::process::Output {
    let mut command = format!("ulimit -v {} && exec \"$0\"", limit / 1024);
    for i in 0..args.len() {
        command += &format!(" \"${}\"", i + 1);
    }
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .arg(env!("CARGO_BIN_EXE_trainscope"))
        .args(args)
        .current_dir(support::root())
        .output()
        .unwrap()
}

/// The address-space limit: what one training thread needs with faer's matrix-product buffer
/// (twice the L3 cache, 600 MB on a 300 MB L3) and the rest of the process (about 720 MB in
/// memory on a small sample, 940 MB at the peak in shards: the shards mapped, a few bytes per
/// row for the targets and the shuffle), with room to spare.
const LIMIT: u64 = 1 << 30;

#[test]
fn a_dataset_three_times_the_address_space_is_prepared_and_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    // 64 × 64 images: 4 KB a row, 3 × LIMIT of them.
    let side = 64;
    let rows = (3 * LIMIT as usize).div_ceil(side * side);
    let (images, labels) = write_idx(dir.path(), rows, side);
    let size = std::fs::metadata(&images).unwrap().len();
    assert!(size >= 3 * LIMIT, "{size} bytes of images");
    let cfg = |name: &str, data: &str| {
        write(
            &dir.path().join(name),
            &format!(
                "seed = 1\nthreads = 1\n[data]\n{data}\nstandardize = false\n[model]\npreset = \"linear\"\n[optimizer]\nkind = \"sgd\"\nlr = 0.01\n[training]\nepochs = 1\nbatch_size = 256\n"
            ),
        )
    };
    // In memory, the same tiny model on the same rows does not fit under the limit …
    let in_memory = cfg(
        "mem.toml",
        &format!(
            "format = \"idx\"\ntrain_images = \"{}\"\ntrain_labels = \"{}\"",
            s(&images),
            s(&labels)
        ),
    );
    let o = limited(
        LIMIT,
        &[
            "train",
            &in_memory,
            "--out",
            &s(&dir.path().join("mem")),
            "--quiet",
        ],
    );
    assert!(
        !o.status.success(),
        "the in-memory run fits under the limit: it does not bite"
    );

    // … on a small sample it does: the limit leaves room for the process itself.
    let (small_images, small_labels) = {
        let d = dir.path().join("small");
        std::fs::create_dir_all(&d).unwrap();
        write_idx(&d, 5000, side)
    };
    let small = cfg(
        "small.toml",
        &format!(
            "format = \"idx\"\ntrain_images = \"{}\"\ntrain_labels = \"{}\"",
            s(&small_images),
            s(&small_labels)
        ),
    );
    ok(&limited(
        LIMIT,
        &[
            "train",
            &small,
            "--out",
            &s(&dir.path().join("small-run")),
            "--quiet",
        ],
    ));

    // Prepared and trained on in shards of 4 MB, under the same limit.
    let tsd = dir.path().join("big.tsd");
    ok(&limited(
        LIMIT,
        &[
            "prepare",
            &s(&images),
            "--out",
            &s(&tsd),
            "--shard-rows",
            "1024",
        ],
    ));
    std::fs::remove_file(&images).unwrap();
    let sharded = cfg(
        "tsd.toml",
        &format!("train = \"{}\"\nshuffle_window = 2", s(&tsd)),
    );
    let run = dir.path().join("tsd-run");
    ok(&limited(
        LIMIT,
        &["train", &sharded, "--out", &s(&run), "--quiet"],
    ));
    let m = metrics(&run);
    assert_eq!(m.len(), 1);
    assert!(m[0]["train_loss"].as_f64().unwrap().is_finite());
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(files::SUMMARY)).unwrap()).unwrap();
    assert!(
        summary["full_grad_norm"].as_f64().unwrap().is_finite(),
        "{summary}"
    );
}
