//! The prepared-dataset target: a manifest and its shards written into a scratch directory,
//! then opened and trained on as `train` does with `data.train = "DATA.tsd"`; and the
//! differential check that `prepare` (the CSV reader's streaming mode) stores exactly the rows
//! the in-memory reader reads.

use std::path::Path;

use trainscope_data::{
    prepare_csv, CsvOptions, Dataset, Precision, PrepareOptions, Prepared, Targets, Task,
    MANIFEST_FILE,
};
use trainscope_train::{Config, RunOptions, Silent};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use crate::{join_binary, split_binary};

/// At most this many shards are taken from one input.
const MAX_SHARDS: usize = 16;

/// A prepared dataset: a mode byte, then the manifest and each shard, `u32`-length-prefixed
/// ([`split_binary`]). The shards are written under the names the manifest gives them (or
/// `shard-NNNNN.safetensors` where a name is not a plain file name).
///
/// Mode bits: 1 reseal (the manifest's checksums are recomputed from the shards given, so
/// that damaged shards reach the reading of their tensors, not only the checksum check),
/// 2 `dtype = "f64"`, 4 a shuffle window of one shard, 8 the same dataset as validation rows.
pub fn prepared(data: &[u8]) {
    let _ = prepared_run(data);
}

/// [`prepared`], with the training run's outcome (`None`: the input ended before training).
pub(crate) fn prepared_run(
    data: &[u8],
) -> Option<trainscope_train::Result<trainscope_train::Summary>> {
    let (&mode, rest) = data.split_first()?;
    let (manifest, mut rest) = split_binary(rest);
    let mut shards = Vec::new();
    while !rest.is_empty() && shards.len() < MAX_SHARDS {
        let (shard, more) = split_binary(rest);
        shards.push(shard);
        rest = more;
    }
    let manifest = if mode & 1 != 0 {
        reseal(manifest, &shards)
    } else {
        manifest.to_vec()
    };
    let scratch = tempfile::tempdir().ok()?;
    let dir = scratch.path().join("fuzz.tsd");
    std::fs::create_dir(&dir).ok()?;
    std::fs::write(dir.join(MANIFEST_FILE), &manifest).ok()?;
    let names = shard_names(&manifest);
    for (i, shard) in shards.iter().enumerate() {
        let name = names
            .get(i)
            .filter(|n| plain_file_name(n))
            .cloned()
            .unwrap_or_else(|| format!("shard-{i:05}.safetensors"));
        std::fs::write(dir.join(name), shard).ok()?;
    }
    let tsd = toml_path(&dir);
    let text = format!(
        "seed = 1\ndtype = \"{}\"\n[data]\ntrain = {tsd}\n{}{}\
         [model]\npreset = \"mlp\"\nhidden = [3]\n[training]\nepochs = 1\nbatch_size = 4\n",
        if mode & 2 != 0 { "f64" } else { "f32" },
        if mode & 4 != 0 {
            "shuffle_window = 1\n"
        } else {
            ""
        },
        if mode & 8 != 0 {
            format!("validation = {tsd}\n")
        } else {
            String::new()
        },
    );
    let config = Config::parse(&text, Path::new("fuzz.toml"), Path::new(""), &[]).ok()?;
    let run = trainscope_train::load_training_run(&config).ok()?;
    Some(trainscope_train::train(
        &config,
        &run,
        &RunOptions::default(),
        &mut Silent,
    ))
}

fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 200
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.')
}

/// A path as a TOML string literal.
fn toml_path(path: &Path) -> String {
    crate::toml_string(&path.to_string_lossy())
}

/// The `file` of every shard the manifest lists, where it reads as JSON that far.
fn shard_names(manifest: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return Vec::new();
    };
    let Some(shards) = value.get("shards").and_then(|s| s.as_array()) else {
        return Vec::new();
    };
    shards
        .iter()
        .map(|s| {
            s.get("file")
                .and_then(|f| f.as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The manifest with its per-shard and whole checksums made those of `shards` (unchanged where
/// it does not read as JSON with a list of shards).
fn reseal(manifest: &[u8], shards: &[&[u8]]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return manifest.to_vec();
    };
    let Some(list) = value.get_mut("shards").and_then(|s| s.as_array_mut()) else {
        return manifest.to_vec();
    };
    let mut whole = Xxh3::new();
    for (i, entry) in list.iter_mut().enumerate() {
        let Some(entry) = entry.as_object_mut() else {
            continue;
        };
        if let Some(bytes) = shards.get(i) {
            let sum = format!("{:032x}", xxh3_128(bytes));
            entry.insert("xxh3".into(), sum.into());
        }
        let field = |k: &str| match entry.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        whole.update(format!("{} {} {}\n", field("file"), field("rows"), field("xxh3")).as_bytes());
    }
    if let Some(object) = value.as_object_mut() {
        object.insert("xxh3".into(), format!("{:032x}", whole.digest128()).into());
    }
    serde_json::to_vec_pretty(&value).unwrap_or_else(|_| manifest.to_vec())
}

/// Prepares `body` as a CSV file (f64 storage, a few rows per shard) and checks it against
/// `in_memory`, the same file read in memory with the same options: both read it or neither
/// does, and when both do, the prepared dataset holds the same schema, targets and feature
/// values, bit for bit.
pub(crate) fn prepare_agrees(options: &CsvOptions, body: &[u8], in_memory: Option<&Dataset>) {
    let Ok(scratch) = tempfile::tempdir() else {
        return;
    };
    let path = scratch.path().join("fuzz.csv");
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let out = scratch.path().join("fuzz.tsd");
    let prepare = PrepareOptions {
        precision: Precision::F64,
        rows_per_shard: Some(3),
    };
    let prepared = prepare_csv(&path, options, &out, &prepare);
    let (data, manifest) = match (in_memory, prepared) {
        (None, Err(_)) => return,
        (Some(data), Ok(manifest)) => (data, manifest),
        (None, Ok(_)) => panic!("prepare reads a file that the in-memory reader refuses"),
        (Some(_), Err(e)) => panic!("prepare refuses a file that the in-memory reader reads: {e}"),
    };
    assert_eq!(manifest.rows, data.n_rows(), "rows");
    assert_eq!(manifest.schema, data.schema(), "schema");
    let opened = Prepared::open(&out).expect("a prepared dataset opens");
    let targets = opened.targets().expect("its targets read");
    match (&targets, data.targets()) {
        (Targets::Classes(a), Targets::Classes(b)) => assert_eq!(a, b, "classes"),
        (Targets::Regression(a), Targets::Regression(b)) => assert!(
            a.iter()
                .map(|v| v.to_bits())
                .eq(b.iter().map(|v| v.to_bits())),
            "regression targets"
        ),
        _ => panic!("the task differs"),
    }
    let mut stored = Vec::with_capacity(data.features().len());
    opened
        .reader(2)
        .for_range(0..manifest.rows, |_, t, bytes| {
            let d = manifest.n_features();
            for row in bytes.chunks_exact(d * t.size()) {
                stored.extend((0..d).map(|j| t.value(row, j)));
            }
        })
        .expect("its rows read");
    assert!(
        stored
            .iter()
            .map(|v| v.to_bits())
            .eq(data.features().iter().map(|v| v.to_bits())),
        "feature values"
    );
    assert_eq!(
        matches!(manifest.task, Task::Classification),
        data.label_map().is_some()
    );
}

/// Seeds for [`prepared`]: datasets prepared from a small regression and a small
/// classification file (f32 and f64 storage, several shards), in `dir` (a scratch directory).
pub fn prepared_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut regression = String::from("a,b,y\n");
    let mut classes = String::from("x,label\n");
    for i in 0..11usize {
        let v = (i as f64 * 0.618).sin();
        regression += &format!("{v},{},{}\n", i as f64 / 4.0, 2.0 * v - 1.0);
        classes += &format!("{},{}\n", v * 3.0, ["no", "yes", "maybe"][i % 3]);
    }
    let mut seeds = Vec::new();
    for (name, text, options, precision, per) in [
        (
            "r",
            &regression,
            CsvOptions::regression("y"),
            Precision::F32,
            4,
        ),
        (
            "c",
            &classes,
            CsvOptions::classification("label"),
            Precision::F64,
            5,
        ),
    ] {
        let csv = dir.join(format!("{name}.csv"));
        std::fs::write(&csv, text).expect("a scratch directory");
        let out = dir.join(format!("{name}.tsd"));
        let prepare = PrepareOptions {
            precision,
            rows_per_shard: Some(per),
        };
        let manifest = prepare_csv(&csv, &options, &out, &prepare).expect("the seed prepares");
        let read = |f: &str| std::fs::read(out.join(f)).expect("a prepared file");
        let mut rest = Vec::new();
        for shard in manifest.shards.iter().rev() {
            rest = join_binary(&read(&shard.file), &rest);
        }
        for mode in [0u8, 10, 5] {
            let mut seed = vec![mode];
            seed.extend(join_binary(&read(MANIFEST_FILE), &rest));
            seeds.push(seed);
        }
    }
    seeds
}
