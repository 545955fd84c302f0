//! Checkpoints in the safetensors format, readable by `safetensors.torch.load_file` and
//! `model.load_state_dict` in PyTorch.

use crate::error::{Error, Result};
use crate::model::Sequential;
use crate::spec::ModelSpec;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use trainscope_core::{DType, Element, Tensor};

/// Metadata key under which a checkpoint stores its [`ModelSpec`] as JSON.
pub const MODEL_KEY: &str = "trainscope.model";

/// A model read back from a checkpoint, with the caller's metadata (every key except
/// [`MODEL_KEY`]).
#[derive(Clone, Debug)]
pub struct Checkpoint<T: Element> {
    /// The model, rebuilt from the stored description.
    pub model: Sequential<T>,
    /// The caller's metadata as saved.
    pub metadata: BTreeMap<String, String>,
}

/// What a safetensors file's header says, read without building a model: enough to tell a
/// trainscope checkpoint from a plain state dict and to size a model description from it.
#[derive(Clone, Debug, PartialEq)]
pub struct FileHeader {
    /// Every metadata pair, [`MODEL_KEY`] included.
    pub metadata: BTreeMap<String, String>,
    /// Each tensor's name and shape, sorted by name.
    pub shapes: BTreeMap<String, Vec<usize>>,
    /// True when every floating-point tensor is F32 (PyTorch's default precision).
    pub single_precision: bool,
}

impl FileHeader {
    /// Reads the header of the safetensors content `bytes`; `path` only names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<FileHeader> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(path, e))?;
        let metadata = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let tensors = header.tensors();
        let single_precision = tensors
            .values()
            .filter(|t| matches!(t.dtype, Dtype::F32 | Dtype::F64))
            .all(|t| t.dtype == Dtype::F32);
        let shapes = tensors
            .into_iter()
            .map(|(name, t)| (name, t.shape.clone()))
            .collect();
        Ok(FileHeader {
            metadata,
            shapes,
            single_precision,
        })
    }

    /// True for a file [`Sequential::save`] wrote (it describes its own model).
    pub fn describes_model(&self) -> bool {
        self.metadata.contains_key(MODEL_KEY)
    }
}

/// A tensor to write: little-endian bytes with dtype and shape.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn float_raw<T: Element>(t: &Tensor<T>) -> Raw {
    let (dtype, bytes) = match T::DTYPE {
        DType::F32 => (
            Dtype::F32,
            t.data()
                .iter()
                .flat_map(|&x| (x.to_f64() as f32).to_le_bytes())
                .collect(),
        ),
        DType::F64 => (
            Dtype::F64,
            t.data()
                .iter()
                .flat_map(|&x| x.to_f64().to_le_bytes())
                .collect(),
        ),
    };
    Raw {
        dtype,
        shape: t.dims().to_vec(),
        bytes,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a partial file and a failed write leaves no file behind. Every file
/// trainscope writes goes through this. The first write of a process into a directory also
/// removes the temporary files that killed writes left there ([`remove_stale_temps`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tidy_once(&dir);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per process and call, so concurrent saves never share a temporary file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        pause_before_rename(&name);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A hook for the kill tests of the command-line tool, which need a process stopped exactly
/// between the sync of a temporary file and its rename. With the environment variable
/// `TRAINSCOPE_TEST_PAUSE_BEFORE_RENAME` set to `NAME:N:MARKER`, the N-th write (from 1) of a
/// file named NAME creates the file MARKER and waits to be killed (a minute at most, then it
/// aborts, so a forgotten process never lingers). Unset, it costs one look-up per process.
fn pause_before_rename(name: &str) {
    static SPEC: std::sync::OnceLock<Option<(String, u64, PathBuf)>> = std::sync::OnceLock::new();
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var("TRAINSCOPE_TEST_PAUSE_BEFORE_RENAME").ok()?;
        let mut parts = v.splitn(3, ':');
        let (file, n, marker) = (parts.next()?, parts.next()?, parts.next()?);
        Some((file.to_string(), n.parse().ok()?, PathBuf::from(marker)))
    });
    let Some((file, n, marker)) = spec else {
        return;
    };
    if name == file && SEEN.fetch_add(1, Ordering::Relaxed) + 1 == *n {
        let _ = fs::write(marker, b"paused");
        std::thread::sleep(std::time::Duration::from_secs(60));
        std::process::abort();
    }
}

/// A temporary file of [`write_atomic`] that a killed process left behind may be removed
/// once it is this old, even if its process id is in use again.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes from `dir` the temporary files of [`write_atomic`] (named `.NAME.tmp-PID-N`) whose
/// process is no longer running or that are older than a minute; returns how many. Other
/// files, and this process's own temporary files, are never touched. Failures are ignored:
/// tidying must never stop the command that does it.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let own = std::process::id();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else {
            continue;
        };
        if pid == own {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if (old || !process_alive(pid)) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The process id in a name of the exact form `.NAME.tmp-PID-N` (PID and N decimal).
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (stem, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, n) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if stem.is_empty() || !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this id exists. Where `/proc` is not available the answer is yes,
/// so that only the age decides.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Runs [`remove_stale_temps`] on `dir` the first time this process writes into it.
fn tidy_once(dir: &Path) {
    static TIDIED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut tidied = TIDIED.lock().unwrap_or_else(|e| e.into_inner());
    if !tidied.iter().any(|d| d == dir) {
        tidied.push(dir.to_path_buf());
        drop(tidied);
        remove_stale_temps(dir);
    }
}

/// safetensors writes the metadata from a `HashMap`, in an order that changes from one save to
/// the next; the header is rewritten with its keys sorted (serde_json's map is ordered) and
/// padded to its old length, so identical weights give identical bytes and the data offsets
/// stay valid. Left as it is should it not parse or grow.
fn with_sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .and_then(|b| usize::try_from(u64::from_le_bytes(b)).ok())
    else {
        return bytes;
    };
    let Some(header) = len.checked_add(8).and_then(|end| bytes.get(8..end)) else {
        return bytes;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    let Ok(sorted) = serde_json::to_string(&value) else {
        return bytes;
    };
    if sorted.len() > len {
        return bytes;
    }
    let mut padded = sorted.into_bytes();
    padded.resize(len, b' ');
    bytes[8..8 + len].copy_from_slice(&padded);
    bytes
}

impl<T: Element> Sequential<T> {
    /// Saves the parameters and buffers under their PyTorch names and shapes (floats in the
    /// model's dtype, `num_batches_tracked` as I64 as PyTorch stores it), the [`ModelSpec`] as
    /// JSON under [`MODEL_KEY`], and `metadata` (any other string pairs: standardization
    /// statistics, a class map, …). The file is replaced atomically.
    ///
    /// PyTorch reads it with `model.load_state_dict(safetensors.torch.load_file(path))`.
    pub fn save(&self, path: impl AsRef<Path>, metadata: &BTreeMap<String, String>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.encode(path, metadata)?;
        write_atomic(path, &bytes)
            .map_err(|e| Error::checkpoint(path, format!("cannot write: {e}")))
    }

    /// The bytes [`Sequential::save`] writes, for a checkpoint kept in memory; `path` only names
    /// it in errors.
    pub fn encode(&self, path: &Path, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
        if metadata.contains_key(MODEL_KEY) {
            return Err(Error::checkpoint(
                path,
                format!("metadata key \"{MODEL_KEY}\" is reserved for the model description"),
            ));
        }
        let spec = serde_json::to_string(self.spec())
            .map_err(|e| Error::checkpoint(path, format!("cannot describe the model: {e}")))?;
        let mut info: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        info.insert(MODEL_KEY.into(), spec);

        let mut tensors: Vec<(String, Raw)> = Vec::new();
        for (name, t) in self.parameter_names().into_iter().zip(self.parameters()) {
            tensors.push((name, float_raw(t)));
        }
        for (name, t) in self.buffer_names().into_iter().zip(self.buffers()) {
            tensors.push((name, float_raw(t)));
        }
        for (name, &n) in self
            .batches_tracked_names()
            .into_iter()
            .zip(self.batches_tracked())
        {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            tensors.push((
                name,
                Raw {
                    dtype: Dtype::I64,
                    shape: vec![],
                    bytes: n.to_le_bytes().to_vec(),
                },
            ));
        }
        let bytes =
            safetensors::serialize(tensors.iter().map(|(n, r)| (n.as_str(), r)), Some(info))
                .map_err(|e| Error::checkpoint(path, format!("cannot encode: {e}")))?;
        Ok(with_sorted_header(bytes))
    }

    /// Loads a checkpoint written by [`Sequential::save`]: the model is rebuilt from the stored
    /// [`ModelSpec`] and every tensor is checked against it by name and shape. F32 and F64
    /// tensors are both accepted (converted to `T`).
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint<T>> {
        let path = path.as_ref();
        Self::parse(path, &read(path)?)
    }

    /// [`Sequential::load`] on the content of a checkpoint already in memory; `path` only names
    /// it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Checkpoint<T>> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(path, e))?;
        let mut metadata: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let spec_json = metadata.remove(MODEL_KEY).ok_or_else(|| {
            Error::checkpoint(
                path,
                format!(
                    "no \"{MODEL_KEY}\" metadata: a plain state dict, which needs its layer \
                     description (on the command line: --model-spec FILE)"
                ),
            )
        })?;
        let spec: ModelSpec = serde_json::from_str(&spec_json).map_err(|e| {
            Error::checkpoint(path, format!("invalid \"{MODEL_KEY}\" metadata: {e}"))
        })?;
        let model = from_bytes(path, bytes, spec)?;
        Ok(Checkpoint { model, metadata })
    }

    /// Loads a safetensors file of a PyTorch `nn.Sequential`'s `state_dict` (no trainscope
    /// metadata needed) into the model described by `spec`: every tensor must be present with
    /// its PyTorch name and shape, and no other tensor may be (as `load_state_dict(strict=True)`).
    /// A missing `num_batches_tracked` is taken as 0.
    pub fn load_pytorch(path: impl AsRef<Path>, spec: ModelSpec) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read(path)?;
        from_bytes(path, &bytes, spec)
    }

    /// [`Sequential::load_pytorch`] on the content of a state-dict file already in memory;
    /// `path` only names it in errors.
    pub fn parse_pytorch(path: &Path, bytes: &[u8], spec: ModelSpec) -> Result<Self> {
        from_bytes(path, bytes, spec)
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::checkpoint(path, format!("cannot read: {e}")))
}

fn corrupt(path: &Path, e: safetensors::SafeTensorError) -> Error {
    Error::checkpoint(path, format!("not a valid safetensors file: {e}"))
}

fn from_bytes<T: Element>(path: &Path, bytes: &[u8], spec: ModelSpec) -> Result<Sequential<T>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(path, e))?;
    // The description is checked (sizes included) and compared with the tensors the file
    // really holds before the model is built: a description claiming a 10⁹-wide layer must
    // not allocate it.
    spec.validate()
        .map_err(|e| Error::checkpoint(path, format!("model description: {e}")))?;

    let mut expected: Vec<String> = spec.state_dict_names();
    expected.sort();
    let mut unexpected: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|n| expected.binary_search(&n.to_string()).is_err())
        .collect();
    unexpected.sort();
    if let Some(name) = unexpected.first() {
        return Err(Error::checkpoint(
            path,
            format!("unexpected tensor \"{name}\" (the model has no such parameter or buffer)"),
        ));
    }

    let mut params = Vec::new();
    for (name, shape) in spec.parameter_entries() {
        params.push(read_float::<T>(path, &st, &name, &shape)?.into_param());
    }
    let mut buffers = Vec::new();
    for (name, shape) in spec.buffer_entries() {
        buffers.push(read_float::<T>(path, &st, &name, &shape)?);
    }
    let mut tracked = Vec::new();
    for name in spec.batches_tracked_names() {
        tracked.push(read_count(path, &st, &name)?);
    }
    let mut model = Sequential::<T>::zeroed(spec)
        .map_err(|e| Error::checkpoint(path, format!("model description: {e}")))?;
    model.parameters_mut().clone_from_slice(&params);
    model.buffers_mut().clone_from_slice(&buffers);
    model.batches_tracked_mut().copy_from_slice(&tracked);
    Ok(model)
}

fn read_float<T: Element>(
    path: &Path,
    st: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let view = st
        .tensor(name)
        .map_err(|_| Error::checkpoint(path, format!("missing tensor \"{name}\"")))?;
    if view.shape() != shape {
        return Err(Error::checkpoint(
            path,
            format!(
                "tensor \"{name}\" has shape {:?}, expected {shape:?}",
                view.shape()
            ),
        ));
    }
    let data = view.data();
    let values: Vec<T> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| T::from_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                T::from_f64(f64::from_le_bytes(b))
            })
            .collect(),
        other => {
            return Err(Error::checkpoint(
                path,
                format!("tensor \"{name}\" has dtype {other:?}, expected F32 or F64"),
            ))
        }
    };
    Tensor::from_vec(values, shape)
        .map_err(|e| Error::checkpoint(path, format!("tensor \"{name}\": {e}")))
}

fn read_count(path: &Path, st: &SafeTensors<'_>, name: &str) -> Result<u64> {
    let Ok(view) = st.tensor(name) else {
        return Ok(0);
    };
    if view.dtype() != Dtype::I64 || view.shape().iter().product::<usize>() != 1 {
        return Err(Error::checkpoint(
            path,
            format!(
                "tensor \"{name}\" must be a single I64, got {:?} of shape {:?}",
                view.dtype(),
                view.shape()
            ),
        ));
    }
    let b: [u8; 8] = view
        .data()
        .try_into()
        .map_err(|_| Error::checkpoint(path, format!("tensor \"{name}\" is truncated")))?;
    u64::try_from(i64::from_le_bytes(b))
        .map_err(|_| Error::checkpoint(path, format!("tensor \"{name}\" is negative")))
}
