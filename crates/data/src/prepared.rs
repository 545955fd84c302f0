//! Prepared datasets: a training file (CSV or IDX) converted once, in one streaming pass, into
//! a directory of fixed-size shards that training reads without loading them.
//!
//! ```text
//! DATA.tsd/
//!   manifest.json          format version, schema, task, rows, rows per shard, the
//!                          standardization statistics, a checksum per shard and of the whole
//!   shard-00000.safetensors  "features" [rows, d] (f32, f64 or u8 pixel bytes),
//!   shard-00001.safetensors  "targets" [rows] i64 class indices or [rows, K] f64 values
//!   …
//! ```
//!
//! Memory while preparing holds one shard (plus the CSV reader's few thousand rows), whatever
//! the size of the file. The statistics are those [`Standardizer::fit_features`] gives on the
//! same rows read in `f64` (the same Welford updates in the same order: [`RunningStats`]),
//! whatever the stored type. Checksums are XXH3-128 of each shard file; the whole checksum is
//! XXH3-128 of the lines `file rows checksum` of every shard, so that it names the data without
//! reading it again. [`ShardReader`] maps a bounded number of shards at a time (`memmap2`),
//! checks each shard's checksum the first time it maps it, and hands out rows.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use crate::dataset::{Schema, Targets, Task};
use crate::error::{DataError, Result};
use crate::features::{byte_value, Features, Precision};
use crate::idx::{read_array, read_idx, Reserve, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
use crate::labels::LabelMap;
use crate::standardize::{RunningStats, Standardizer};
use crate::table::CsvOptions;
use crate::{source, Dataset};

/// The manifest's file name inside a prepared dataset's directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The `format` a manifest names.
pub const PREPARED_FORMAT: &str = "trainscope-prepared";
/// The version of the layout this crate writes and reads.
pub const PREPARED_VERSION: u32 = 1;
/// The size a shard's features are made to have when no row count is given: 64 MB.
pub const SHARD_BYTES: usize = 64 << 20;

/// How a prepared dataset stores its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredType {
    /// `f32`, the values rounded once.
    F32,
    /// `f64`, exact.
    F64,
    /// IDX pixel bytes, standing for `byte / 255`.
    U8,
}

impl StoredType {
    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            StoredType::F32 => 4,
            StoredType::F64 => 8,
            StoredType::U8 => 1,
        }
    }

    fn dtype(self) -> Dtype {
        match self {
            StoredType::F32 => Dtype::F32,
            StoredType::F64 => Dtype::F64,
            StoredType::U8 => Dtype::U8,
        }
    }

    /// Value `j` of a row's stored bytes, as `f64` (exact for `f64` and bytes).
    #[inline]
    pub fn value(self, row: &[u8], j: usize) -> f64 {
        match self {
            StoredType::F32 => {
                let b = &row[4 * j..4 * j + 4];
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            StoredType::F64 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&row[8 * j..8 * j + 8]);
                f64::from_le_bytes(a)
            }
            StoredType::U8 => byte_value(row[j]),
        }
    }
}

/// One shard as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    /// The file name inside the dataset's directory.
    pub file: String,
    /// Its rows.
    pub rows: usize,
    /// XXH3-128 of the file's bytes, 32 hex digits.
    pub xxh3: String,
}

/// What `manifest.json` holds (its keys in this order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`PREPARED_FORMAT`].
    pub format: String,
    /// [`PREPARED_VERSION`] when written.
    pub version: u32,
    /// The file the data was prepared from, as given.
    pub source: String,
    /// Regression or classification.
    pub task: Task,
    /// Feature names, target column(s), label map: what a model trained on it saves.
    pub schema: Schema,
    /// `[C, H, W]` when the rows are images (IDX).
    pub image_shape: Option<[usize; 3]>,
    /// How the features are stored.
    pub dtype: StoredType,
    /// All rows.
    pub rows: usize,
    /// Rows of every shard but the last, which has the rest.
    pub rows_per_shard: usize,
    /// Mean and standard deviation of every feature over all rows, as
    /// [`Standardizer::fit_features`] computes them.
    pub standardizer: Standardizer,
    /// The shards, in row order.
    pub shards: Vec<ShardEntry>,
    /// XXH3-128 of the lines `file rows xxh3\n` of every shard.
    pub xxh3: String,
}

impl Manifest {
    /// The number of features d.
    pub fn n_features(&self) -> usize {
        self.schema.feature_names.len()
    }

    /// Target values per row: K regression columns, 1 for classes.
    pub fn n_targets(&self) -> usize {
        self.schema.targets.len()
    }
}

/// Whether `path` is a prepared dataset (a directory with a manifest).
pub fn is_prepared(path: &Path) -> bool {
    path.join(MANIFEST_FILE).is_file()
}

/// What to prepare, and how.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// How features are stored (f32 or f64 for CSV; IDX pixels are always bytes).
    pub precision: Precision,
    /// Rows per shard; `None`: as many as make [`SHARD_BYTES`] of features.
    pub rows_per_shard: Option<usize>,
}

/// Prepares the CSV file `path`, read with `options` (its columns, task and errors as
/// [`CsvOptions::load`] has them), into the directory `out`. `prepare.precision` decides the
/// stored type (`f32` unless `f64` is asked for).
pub fn prepare_csv(
    path: &Path,
    options: &CsvOptions,
    out: &Path,
    prepare: &PrepareOptions,
) -> Result<Manifest> {
    let stored = match prepare.precision {
        Precision::F64 => StoredType::F64,
        Precision::F32 => StoredType::F32,
    };
    let (targets, task) = options.targets();
    let k = targets.len();
    let target_names = targets.to_vec();
    let tmp = TempDir::new(out)?;
    let mut writer: Option<ShardWriter> = None;
    let reader = options.clone().with_precision(Precision::F64);
    let mut row = Vec::new();
    let mut sink =
        |features: &mut Features, regression: &mut Vec<f64>, classes: &mut Vec<usize>| {
            let Features::F64(values) = features else {
                unreachable!("read in f64")
            };
            let rows = match task {
                Task::Classification => classes.len(),
                Task::Regression => regression.len() / k,
            };
            if rows == 0 {
                return Ok(());
            }
            let d = values.len() / rows;
            let w = writer.get_or_insert_with(|| {
                ShardWriter::new(tmp.path(), stored, d, k, task, prepare.rows_per_shard)
            });
            for i in 0..rows {
                row.clear();
                row.extend_from_slice(&values[i * d..(i + 1) * d]);
                let target = match task {
                    Task::Classification => Target::Class(classes[i]),
                    Task::Regression => Target::Values(&regression[i * k..(i + 1) * k]),
                };
                w.push_f64(&row, target)?;
            }
            values.clear();
            regression.clear();
            classes.clear();
            Ok(())
        };
    let (feature_names, map, class_index, rows) = reader.stream(path, &mut sink)?;
    let mut writer = writer.expect("a file with rows made a writer");
    writer.finish_shard()?;
    // Classes are numbered by first appearance while streaming; the label map (sorted) is
    // known only at the end: renumber the stored targets where the two differ.
    if class_index.iter().enumerate().any(|(i, &c)| i != c) {
        writer.renumber(&class_index)?;
    }
    let schema = Schema {
        feature_names,
        targets: target_names,
        label_map: map,
    };
    writer.finish(tmp, out, path, task, schema, None, rows)
}

/// Prepares the IDX image and label files into the directory `out`, the pixels kept as bytes
/// (as [`load_idx`](crate::load_idx) keeps them) and the label map `0 … K−1`.
pub fn prepare_idx(
    images: &Path,
    labels: &Path,
    out: &Path,
    prepare: &PrepareOptions,
) -> Result<Manifest> {
    let label_values = read_idx(labels, IDX_LABELS_MAGIC)?;
    let tmp = TempDir::new(out)?;
    struct Pixels<'a> {
        writer: Option<ShardWriter>,
        row: Vec<u8>,
        d: usize,
        done: usize,
        labels: &'a [u8],
        error: Option<DataError>,
    }
    impl Reserve for Pixels<'_> {
        fn reserve_exact(&mut self, _additional: usize) {}
    }
    let make = |dims: &[usize]| {
        let d = dims.get(1..).map_or(0, |s| s.iter().product());
        Pixels {
            writer: (d > 0).then(|| {
                ShardWriter::new(
                    tmp.path(),
                    StoredType::U8,
                    d,
                    1,
                    Task::Classification,
                    prepare.rows_per_shard,
                )
            }),
            row: Vec::with_capacity(d),
            d,
            done: 0,
            labels: &label_values.data,
            error: None,
        }
    };
    let push = |p: &mut Pixels<'_>, mut chunk: &[u8]| {
        while !chunk.is_empty() && p.error.is_none() {
            let take = (p.d - p.row.len()).min(chunk.len());
            p.row.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if p.row.len() == p.d {
                // A missing label is reported below, with the counts.
                let class = usize::from(p.labels.get(p.done).copied().unwrap_or(0));
                if let Some(w) = &mut p.writer {
                    if let Err(e) = w.push_bytes(&p.row, class) {
                        p.error = Some(e);
                    }
                }
                p.row.clear();
                p.done += 1;
            }
        }
    };
    let (dims, pixels) = read_array(images, source::open(images)?, IDX_IMAGES_MAGIC, make, push)?;
    if let Some(e) = pixels.error {
        return Err(e);
    }
    let n = dims[0];
    if n != label_values.dims[0] {
        return Err(DataError::IdxCountMismatch {
            images_path: images.to_path_buf(),
            images: n,
            labels_path: labels.to_path_buf(),
            labels: label_values.dims[0],
        });
    }
    let Some(mut writer) = pixels.writer.filter(|_| n > 0) else {
        return Err(DataError::NoRows {
            path: images.to_path_buf(),
        });
    };
    writer.finish_shard()?;
    let k = label_values
        .data
        .iter()
        .map(|&l| usize::from(l) + 1)
        .max()
        .unwrap_or(0);
    let schema = Schema {
        feature_names: (0..pixels.d).map(|i| format!("px{i}")).collect(),
        targets: vec!["label".into()],
        label_map: Some(LabelMap::range(k)),
    };
    let shape = [1, dims[1], dims[2]];
    writer.finish(
        tmp,
        out,
        images,
        Task::Classification,
        schema,
        Some(shape),
        n,
    )
}

/// A directory that is removed unless it is renamed into place ([`TempDir::persist`]), so an
/// error leaves nothing behind.
struct TempDir {
    path: PathBuf,
    done: bool,
}

impl TempDir {
    fn new(out: &Path) -> Result<TempDir> {
        if out.exists() && !is_prepared(out) {
            return Err(DataError::Prepared {
                path: out.to_path_buf(),
                message: "exists and is not a prepared dataset; choose another --out".into(),
            });
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data.tsd".into());
        let path = out.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).map_err(|e| source::io_error(&path, e))?;
        Ok(TempDir { path, done: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the directory to `out`, replacing an older prepared dataset there.
    fn persist(mut self, out: &Path) -> Result<()> {
        let old = out.with_file_name(format!(
            ".{}.old-{}",
            out.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let replaced = out.exists();
        if replaced {
            fs::rename(out, &old).map_err(|e| source::io_error(out, e))?;
        }
        fs::rename(&self.path, out).map_err(|e| source::io_error(out, e))?;
        self.done = true;
        if replaced {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

enum Target<'a> {
    Class(usize),
    Values(&'a [f64]),
}

/// Rows gathered into one shard's buffers, written when full.
struct ShardWriter {
    dir: PathBuf,
    stored: StoredType,
    d: usize,
    k: usize,
    task: Task,
    rows_per_shard: usize,
    features: Vec<u8>,
    targets: Vec<u8>,
    in_shard: usize,
    shards: Vec<ShardEntry>,
    stats: RunningStats,
    widened: Vec<f64>,
}

impl ShardWriter {
    fn new(
        dir: &Path,
        stored: StoredType,
        d: usize,
        k: usize,
        task: Task,
        rows_per_shard: Option<usize>,
    ) -> ShardWriter {
        let rows_per_shard = rows_per_shard
            .unwrap_or_else(|| SHARD_BYTES / (d * stored.size()).max(1))
            .max(1);
        ShardWriter {
            dir: dir.to_path_buf(),
            stored,
            d,
            k,
            task,
            rows_per_shard,
            features: Vec::new(),
            targets: Vec::new(),
            in_shard: 0,
            shards: Vec::new(),
            stats: RunningStats::new(d),
            widened: Vec::with_capacity(d),
        }
    }

    fn push_target(&mut self, target: Target<'_>) {
        match target {
            Target::Class(c) => self.targets.extend_from_slice(&(c as i64).to_le_bytes()),
            Target::Values(v) => {
                for x in v {
                    self.targets.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }

    fn push_f64(&mut self, row: &[f64], target: Target<'_>) -> Result<()> {
        self.stats.push(row)?;
        for &x in row {
            match self.stored {
                StoredType::F64 => self.features.extend_from_slice(&x.to_le_bytes()),
                _ => self.features.extend_from_slice(&(x as f32).to_le_bytes()),
            }
        }
        self.push_target(target);
        self.end_row()
    }

    fn push_bytes(&mut self, row: &[u8], class: usize) -> Result<()> {
        self.widened.clear();
        self.widened.extend(row.iter().map(|&b| byte_value(b)));
        let widened = std::mem::take(&mut self.widened);
        let pushed = self.stats.push(&widened);
        self.widened = widened;
        pushed?;
        self.features.extend_from_slice(row);
        self.push_target(Target::Class(class));
        self.end_row()
    }

    fn end_row(&mut self) -> Result<()> {
        self.in_shard += 1;
        if self.in_shard == self.rows_per_shard {
            self.finish_shard()?;
        }
        Ok(())
    }

    fn shard_bytes(&self, targets: &[u8], rows: usize) -> Result<Vec<u8>> {
        let features = TensorView::new(self.stored.dtype(), vec![rows, self.d], &self.features)
            .map_err(|e| self.error(format!("shard features: {e}")))?;
        let target = match self.task {
            Task::Classification => TensorView::new(Dtype::I64, vec![rows], targets),
            Task::Regression => TensorView::new(Dtype::F64, vec![rows, self.k], targets),
        }
        .map_err(|e| self.error(format!("shard targets: {e}")))?;
        safetensors::serialize([("features", features), ("targets", target)], None)
            .map_err(|e| self.error(format!("writing a shard: {e}")))
    }

    fn error(&self, message: String) -> DataError {
        DataError::Prepared {
            path: self.dir.clone(),
            message,
        }
    }

    /// Writes the rows gathered (if any) as the next shard.
    fn finish_shard(&mut self) -> Result<()> {
        if self.in_shard == 0 {
            return Ok(());
        }
        let bytes = self.shard_bytes(&self.targets, self.in_shard)?;
        let file = shard_name(self.shards.len());
        let path = self.dir.join(&file);
        write_file(&path, &bytes)?;
        self.shards.push(ShardEntry {
            file,
            rows: self.in_shard,
            xxh3: format!("{:032x}", xxh3_128(&bytes)),
        });
        self.features.clear();
        self.targets.clear();
        self.in_shard = 0;
        Ok(())
    }

    /// Rewrites every shard's class targets through `index` (appearance id → class).
    fn renumber(&mut self, index: &[usize]) -> Result<()> {
        for s in 0..self.shards.len() {
            let path = self.dir.join(&self.shards[s].file);
            let bytes = fs::read(&path).map_err(|e| source::io_error(&path, e))?;
            let tensors = SafeTensors::deserialize(&bytes)
                .map_err(|e| self.error(format!("reading back {}: {e}", path.display())))?;
            let (features, targets) = match (tensors.tensor("features"), tensors.tensor("targets"))
            {
                (Ok(f), Ok(t)) => (f, t),
                _ => return Err(self.error(format!("{} lost a tensor", path.display()))),
            };
            self.features.clear();
            self.features.extend_from_slice(features.data());
            let mut renumbered = Vec::with_capacity(targets.data().len());
            for c in targets.data().chunks_exact(8) {
                let id = i64::from_le_bytes(c.try_into().expect("8 bytes")) as usize;
                renumbered.extend_from_slice(&(index[id] as i64).to_le_bytes());
            }
            let rows = self.shards[s].rows;
            let out = self.shard_bytes(&renumbered, rows)?;
            write_file(&path, &out)?;
            self.shards[s].xxh3 = format!("{:032x}", xxh3_128(&out));
        }
        self.features.clear();
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        self,
        tmp: TempDir,
        out: &Path,
        source_path: &Path,
        task: Task,
        schema: Schema,
        image_shape: Option<[usize; 3]>,
        rows: usize,
    ) -> Result<Manifest> {
        let manifest = Manifest {
            format: PREPARED_FORMAT.into(),
            version: PREPARED_VERSION,
            source: source_path.display().to_string(),
            task,
            schema,
            image_shape,
            dtype: self.stored,
            rows,
            rows_per_shard: self.rows_per_shard,
            standardizer: self.stats.finish()?,
            xxh3: whole_checksum(&self.shards),
            shards: self.shards,
        };
        let json = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
        write_file(&tmp.path().join(MANIFEST_FILE), json.as_bytes())?;
        tmp.persist(out)?;
        Ok(manifest)
    }
}

fn shard_name(i: usize) -> String {
    format!("shard-{i:05}.safetensors")
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| source::io_error(path, e))?;
    f.write_all(bytes).map_err(|e| source::io_error(path, e))
}

fn whole_checksum(shards: &[ShardEntry]) -> String {
    let mut h = Xxh3::new();
    for s in shards {
        h.update(format!("{} {} {}\n", s.file, s.rows, s.xxh3).as_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// An opened prepared dataset: its manifest, checked against itself (shapes, counts,
/// checksums' form) before anything is allocated for its rows.
#[derive(Debug, Clone)]
pub struct Prepared {
    dir: PathBuf,
    manifest: Manifest,
}

impl Prepared {
    /// Reads and checks `dir/manifest.json`. Errors name the manifest and the key at fault.
    pub fn open(dir: &Path) -> Result<Prepared> {
        let path = dir.join(MANIFEST_FILE);
        let bad = |message: String| DataError::Prepared {
            path: path.clone(),
            message,
        };
        let text = fs::read_to_string(&path).map_err(|e| source::io_error(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| bad(format!("line {} column {}: {e}", e.line(), e.column())))?;
        if manifest.format != PREPARED_FORMAT || manifest.version != PREPARED_VERSION {
            return Err(bad(format!(
                "format {:?} version {}, this version of trainscope reads {PREPARED_FORMAT:?} version {PREPARED_VERSION}",
                manifest.format, manifest.version
            )));
        }
        let d = manifest.n_features();
        if d == 0 || manifest.standardizer.n_features() != d {
            return Err(bad(format!(
                "standardizer: {} features for the {d} feature names",
                manifest.standardizer.n_features()
            )));
        }
        if let Some(shape) = manifest.image_shape {
            if shape.iter().try_fold(1usize, |a, &x| a.checked_mul(x)) != Some(d) {
                return Err(bad(format!(
                    "image_shape {shape:?} does not hold the {d} features of a row"
                )));
            }
        }
        match (manifest.task, &manifest.schema.label_map) {
            (Task::Classification, Some(m)) if manifest.n_targets() == 1 && !m.is_empty() => {}
            (Task::Regression, None) if manifest.n_targets() >= 1 => {}
            _ => {
                return Err(bad(format!(
                    "task {:?} does not fit the schema's {} target(s) and label map",
                    manifest.task,
                    manifest.n_targets()
                )))
            }
        }
        let per = manifest.rows_per_shard;
        let total: Option<usize> = manifest
            .shards
            .iter()
            .try_fold(0usize, |a, s| a.checked_add(s.rows));
        let last = manifest.shards.len().saturating_sub(1);
        if per == 0
            || manifest.rows == 0
            || total != Some(manifest.rows)
            || manifest.shards.len() != manifest.rows.div_ceil(per)
            || manifest
                .shards
                .iter()
                .enumerate()
                .any(|(i, s)| s.rows == 0 || (i < last && s.rows != per) || s.rows > per)
        {
            return Err(bad(format!(
                "rows {} in shards of {per} do not fit the {} shards listed ({} rows)",
                manifest.rows,
                manifest.shards.len(),
                total.map_or("too many".into(), |t| t.to_string())
            )));
        }
        if per
            .checked_mul(d)
            .and_then(|v| v.checked_mul(manifest.dtype.size().max(8)))
            .map_or(true, |bytes| bytes > isize::MAX as usize)
        {
            return Err(bad(format!(
                "{per} rows of {d} features per shard is too large"
            )));
        }
        if let Some(s) = manifest
            .shards
            .iter()
            .find(|s| s.file.contains(['/', '\\']) || s.file.starts_with('.'))
        {
            return Err(bad(format!(
                "shard file {:?} is not a plain file name",
                s.file
            )));
        }
        if whole_checksum(&manifest.shards) != manifest.xxh3 {
            return Err(bad(format!(
                "xxh3 {} is not the checksum of the shards listed",
                manifest.xxh3
            )));
        }
        Ok(Prepared {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The dataset's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A reader that keeps at most `max_open` shards mapped.
    pub fn reader(&self, max_open: usize) -> ShardReader {
        ShardReader {
            dir: self.dir.clone(),
            manifest: self.manifest.clone(),
            max_open: max_open.max(1),
            state: Mutex::new(Open {
                maps: Vec::new(),
                verified: vec![false; self.manifest.shards.len()],
                clock: 0,
            }),
        }
    }

    /// Every row's targets, read shard by shard (each shard mapped, its targets read, and
    /// unmapped): a few bytes per row, what the trainer keeps in memory.
    pub fn targets(&self) -> Result<Targets> {
        let reader = self.reader(1);
        let m = &self.manifest;
        let mut classes = Vec::new();
        let mut values = Vec::new();
        for s in 0..m.shards.len() {
            reader.with_shard(s, false, |shard| {
                let t = shard.targets;
                match m.task {
                    Task::Classification => {
                        let k = m.schema.label_map.as_ref().map_or(0, LabelMap::len);
                        for c in t.chunks_exact(8) {
                            let c = i64::from_le_bytes(c.try_into().expect("8 bytes"));
                            if c < 0 || c as usize >= k {
                                return Err(format!(
                                    "class index {c} outside the label map's {k} classes"
                                ));
                            }
                            classes.push(c as usize);
                        }
                    }
                    Task::Regression => values.extend(
                        t.chunks_exact(8)
                            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
                    ),
                }
                Ok(())
            })?;
        }
        Ok(match m.task {
            Task::Classification => Targets::Classes(classes),
            Task::Regression => Targets::Regression(values),
        })
    }

    /// A dataset holding every row's targets and the schema, with no features: what code that
    /// reads only names, labels and targets needs. Its features are
    /// [`Features::Elsewhere`](crate::Features::Elsewhere); read rows with a [`ShardReader`].
    pub fn targets_dataset(&self) -> Result<Dataset> {
        let m = &self.manifest;
        let data = Dataset::from_parts(
            Features::Elsewhere(m.rows * m.n_features()),
            m.schema.feature_names.clone(),
            m.schema.targets.clone(),
            self.targets()?,
            m.schema.label_map.clone(),
        )?;
        match m.image_shape {
            Some(shape) => data.with_image_shape(shape),
            None => Ok(data),
        }
    }
}

/// One mapped shard's parts.
struct Shard<'a> {
    features: &'a [u8],
    targets: &'a [u8],
}

struct Mapped {
    shard: usize,
    map: memmap2::Mmap,
    features: std::ops::Range<usize>,
    targets: std::ops::Range<usize>,
    used: u64,
}

struct Open {
    maps: Vec<Mapped>,
    verified: Vec<bool>,
    clock: u64,
}

/// Rows of a prepared dataset read from its shards, at most `max_open` of them mapped at a time
/// (the least recently used one is unmapped first). A shard's checksum is checked the first time
/// it is mapped; a damaged shard is an error naming it.
pub struct ShardReader {
    dir: PathBuf,
    manifest: Manifest,
    max_open: usize,
    state: Mutex<Open>,
}

impl std::fmt::Debug for ShardReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardReader")
            .field("dir", &self.dir)
            .field("max_open", &self.max_open)
            .finish()
    }
}

impl ShardReader {
    /// The manifest of the dataset read.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Calls `each(i, stored, row_bytes)` for every row `rows[i]`, in order; the bytes are the
    /// row's `d` values in the stored type ([`StoredType::value`] reads them).
    pub fn for_rows(
        &self,
        rows: &[usize],
        mut each: impl FnMut(usize, StoredType, &[u8]),
    ) -> Result<()> {
        let m = &self.manifest;
        let (per, stored) = (m.rows_per_shard, m.dtype);
        let width = m.n_features() * stored.size();
        let mut i = 0;
        while i < rows.len() {
            let s = rows[i] / per;
            if rows[i] >= m.rows {
                return Err(DataError::Prepared {
                    path: self.dir.clone(),
                    message: format!("row {} requested from {} rows", rows[i], m.rows),
                });
            }
            // The run of rows in the same shard is read under one lookup.
            let mut j = i;
            while j < rows.len() && rows[j] / per == s && rows[j] < m.rows {
                j += 1;
            }
            self.with_shard(s, true, |shard| {
                for (pos, &r) in rows.iter().enumerate().take(j).skip(i) {
                    let at = (r - s * per) * width;
                    each(pos, stored, &shard.features[at..at + width]);
                }
                Ok(())
            })?;
            i = j;
        }
        Ok(())
    }

    /// Rows `range` as consecutive stored bytes (one call per shard the range touches):
    /// `each(first_row, bytes)`.
    pub fn for_range(
        &self,
        range: std::ops::Range<usize>,
        mut each: impl FnMut(usize, StoredType, &[u8]),
    ) -> Result<()> {
        let m = &self.manifest;
        let per = m.rows_per_shard;
        let width = m.n_features() * m.dtype.size();
        let mut r = range.start;
        while r < range.end.min(m.rows) {
            let s = r / per;
            let end = range.end.min((s + 1) * per).min(m.rows);
            self.with_shard(s, true, |shard| {
                let from = (r - s * per) * width;
                each(r, m.dtype, &shard.features[from..from + (end - r) * width]);
                Ok(())
            })?;
            r = end;
        }
        Ok(())
    }

    /// Maps shard `s` (unless mapped), checks it (its checksum the first time when `verify`),
    /// and hands its parts to `f`, whose error message is put after the shard's path.
    fn with_shard(
        &self,
        s: usize,
        verify: bool,
        f: impl FnOnce(Shard<'_>) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let entry = &self.manifest.shards[s];
        let path = self.dir.join(&entry.file);
        let bad = |message: String| DataError::Prepared {
            path: path.clone(),
            message,
        };
        let mut open = self.state.lock().unwrap_or_else(|e| e.into_inner());
        open.clock += 1;
        let clock = open.clock;
        let at = match open.maps.iter().position(|m| m.shard == s) {
            Some(at) => at,
            None => {
                if open.maps.len() >= self.max_open {
                    let oldest = (0..open.maps.len())
                        .min_by_key(|&i| open.maps[i].used)
                        .expect("at least one map is open");
                    open.maps.swap_remove(oldest);
                }
                let file = fs::File::open(&path).map_err(|e| source::io_error(&path, e))?;
                // SAFETY: the shard is only read; a prepared dataset's files are not changed
                // while it is used (its checksum is checked before its rows are).
                let map = unsafe { memmap2::Mmap::map(&file) }
                    .map_err(|e| bad(format!("cannot map: {e}")))?;
                let (features, targets) = self.locate(s, &map).map_err(&bad)?;
                open.maps.push(Mapped {
                    shard: s,
                    map,
                    features,
                    targets,
                    used: clock,
                });
                open.maps.len() - 1
            }
        };
        open.maps[at].used = clock;
        if verify && !open.verified[s] {
            let sum = format!("{:032x}", xxh3_128(&open.maps[at].map));
            if sum != entry.xxh3 {
                return Err(bad(format!(
                    "checksum {sum} differs from the manifest's {}: the shard is damaged; prepare the data again",
                    entry.xxh3
                )));
            }
            open.verified[s] = true;
        }
        let m = &open.maps[at];
        f(Shard {
            features: &m.map[m.features.clone()],
            targets: &m.map[m.targets.clone()],
        })
        .map_err(bad)
    }

    /// Where shard `s`'s tensors are in its bytes, after checking their types and shapes
    /// against the manifest.
    fn locate(
        &self,
        s: usize,
        bytes: &[u8],
    ) -> std::result::Result<(std::ops::Range<usize>, std::ops::Range<usize>), String> {
        let m = &self.manifest;
        let rows = m.shards[s].rows;
        let tensors =
            SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let range = |name: &str, dtype: Dtype, shape: &[usize]| {
            let t = tensors
                .tensor(name)
                .map_err(|_| format!("has no tensor {name:?}"))?;
            if t.dtype() != dtype || t.shape() != shape {
                return Err(format!(
                    "tensor {name:?} is {:?} {:?}, the manifest says {dtype:?} {shape:?}",
                    t.dtype(),
                    t.shape()
                ));
            }
            let start = t.data().as_ptr() as usize - bytes.as_ptr() as usize;
            Ok(start..start + t.data().len())
        };
        let features = range("features", m.dtype.dtype(), &[rows, m.n_features()])?;
        let targets = match m.task {
            Task::Classification => range("targets", Dtype::I64, &[rows])?,
            Task::Regression => range("targets", Dtype::F64, &[rows, m.n_targets()])?,
        };
        Ok((features, targets))
    }
}

/// The window of the windowed shuffle a prepared dataset gets by default: as many shards as
/// make about 256 MB of features, at least one.
pub fn default_shuffle_window(manifest: &Manifest) -> usize {
    let shard = manifest.rows_per_shard * manifest.n_features() * manifest.dtype.size();
    ((256usize << 20) / shard.max(1)).max(1)
}
