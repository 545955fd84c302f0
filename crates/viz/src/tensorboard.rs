//! TensorBoard event files: a run's scalars as `events.out.tfevents.<time>.<host>`, readable by
//! TensorBoard, and a reader that checks every checksum.
//!
//! The format is TFRecord framing around `Event` protocol-buffer messages:
//!
//! ```text
//! record = u64 length (little endian) · u32 masked_crc32c(length bytes)
//!        · data · u32 masked_crc32c(data)
//! masked_crc32c(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8   (wrapping, crc = CRC-32C)
//! Event  { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//! Summary { repeated Value value = 1; }
//! Value  { string tag = 1; float simple_value = 2; }
//! ```
//!
//! The first event carries `file_version: "brain.Event:2"`. The few fields needed are encoded
//! by hand.

use crate::error::{Result, VizError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The scalars of one epoch; absent values are not written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochScalars {
    /// Epoch number, used as the TensorBoard step.
    pub epoch: u64,
    /// Mean training loss.
    pub train_loss: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Training accuracy in [0, 1].
    pub train_accuracy: Option<f64>,
    /// Validation accuracy in [0, 1].
    pub val_accuracy: Option<f64>,
    /// Gradient norm (e.g. at the end of the epoch).
    pub grad_norm: Option<f64>,
    /// Learning rate in force.
    pub lr: Option<f64>,
}

impl EpochScalars {
    /// `(tag, value)` for every value present, tags `train_loss`, `val_loss`,
    /// `train_accuracy`, `val_accuracy`, `grad_norm`, `lr`.
    pub fn tagged(&self) -> Vec<(&'static str, f64)> {
        [
            ("train_loss", self.train_loss),
            ("val_loss", self.val_loss),
            ("train_accuracy", self.train_accuracy),
            ("val_accuracy", self.val_accuracy),
            ("grad_norm", self.grad_norm),
            ("lr", self.lr),
        ]
        .into_iter()
        .filter_map(|(t, v)| v.map(|v| (t, v)))
        .collect()
    }
}

const MASK_DELTA: u32 = 0xa282_ead8;

/// TFRecord's masked CRC-32C.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn encode_event(wall_time: f64, step: i64, body: &EventBody<'_>) -> Vec<u8> {
    let mut e = Vec::with_capacity(64);
    put_key(&mut e, 1, 1);
    e.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        put_key(&mut e, 2, 0);
        // int64 is encoded as the two's-complement u64.
        put_varint(&mut e, step as u64);
    }
    match body {
        EventBody::FileVersion(v) => put_bytes(&mut e, 3, v.as_bytes()),
        EventBody::Scalar(tag, value) => {
            let mut val = Vec::with_capacity(tag.len() + 8);
            put_bytes(&mut val, 1, tag.as_bytes());
            put_key(&mut val, 2, 5);
            val.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::with_capacity(val.len() + 2);
            put_bytes(&mut summary, 1, &val);
            put_bytes(&mut e, 5, &summary);
        }
    }
    e
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalar(&'a str, f32),
}

fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut r = Vec::with_capacity(data.len() + 16);
    r.extend_from_slice(&len);
    r.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    r.extend_from_slice(data);
    r.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    r
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The machine's name for the file name (TensorBoard's convention), restricted to characters
/// that are safe in file names.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// Writes scalar events to a new event file.
pub struct EventWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl EventWriter {
    /// Creates `dir` if needed and a new file `events.out.tfevents.<seconds>.<host>` in it,
    /// starting with the `file_version` event.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| VizError::io(dir, e))?;
        let t = now();
        let path = dir.join(format!("events.out.tfevents.{}.{}", t as u64, host_name()));
        let file = std::fs::File::create(&path).map_err(|e| VizError::io(&path, e))?;
        let mut w = EventWriter {
            path,
            out: std::io::BufWriter::new(file),
        };
        w.write_event(t, 0, &EventBody::FileVersion("brain.Event:2"))?;
        Ok(w)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_event(&mut self, wall_time: f64, step: i64, body: &EventBody<'_>) -> Result<()> {
        let rec = frame(&encode_event(wall_time, step, body));
        self.out
            .write_all(&rec)
            .map_err(|e| VizError::io(&self.path, e))
    }

    /// One scalar: `tag` at `step`, stamped with `wall_time` (seconds since the Unix epoch).
    /// TensorBoard stores scalars as 32-bit floats.
    pub fn add_scalar(&mut self, tag: &str, step: i64, value: f64, wall_time: f64) -> Result<()> {
        if tag.is_empty() {
            return Err(VizError::invalid("a TensorBoard tag must not be empty"));
        }
        self.write_event(wall_time, step, &EventBody::Scalar(tag, value as f32))
    }

    /// Writes everything buffered to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| VizError::io(&self.path, e))
    }
}

/// Writes a run's per-epoch scalars (`train_loss`, `val_loss`, `train_accuracy`,
/// `val_accuracy`, `grad_norm`, `lr`, step = epoch) to a new event file in `dir`; returns its
/// path. Point TensorBoard at `dir` (`tensorboard --logdir dir`).
pub fn write_tensorboard(dir: impl AsRef<Path>, epochs: &[EpochScalars]) -> Result<PathBuf> {
    let mut w = EventWriter::create(dir)?;
    let t = now();
    for e in epochs {
        let step = i64::try_from(e.epoch)
            .map_err(|_| VizError::invalid(format!("epoch {} is too large", e.epoch)))?;
        for (tag, v) in e.tagged() {
            w.add_scalar(tag, step, v, t)?;
        }
    }
    w.flush()?;
    Ok(w.path().to_path_buf())
}

/// One scalar read back from an event file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalarEvent {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// Step.
    pub step: i64,
    /// Tag.
    pub tag: String,
    /// Value (TensorBoard keeps 32 bits).
    pub value: f32,
}

/// The contents of an event file that this module understands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFile {
    /// The `file_version` of the first event, if any.
    pub file_version: Option<String>,
    /// Number of records (events) in the file.
    pub records: usize,
    /// Every `simple_value` scalar, in file order.
    pub scalars: Vec<ScalarEvent>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    /// Next field: number and value (varints as `Int`, the rest as bytes).
    fn field(&mut self) -> Option<(u64, Field<'a>)> {
        let key = self.varint()?;
        let f = match key & 7 {
            0 => Field::Int(self.varint()?),
            1 => Field::Bytes(self.take(8)?),
            2 => {
                let n = usize::try_from(self.varint()?).ok()?;
                Field::Bytes(self.take(n)?)
            }
            5 => Field::Bytes(self.take(4)?),
            _ => return None,
        };
        Some((key >> 3, f))
    }
}

enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn decode_event(data: &[u8], out: &mut EventFile) -> Option<()> {
    let mut r = Reader { buf: data, pos: 0 };
    let (mut wall_time, mut step) = (0.0, 0i64);
    let mut values: Vec<(String, f32)> = Vec::new();
    while !r.done() {
        match r.field()? {
            (1, Field::Bytes(b)) if b.len() == 8 => {
                wall_time = f64::from_le_bytes(b.try_into().ok()?);
            }
            (2, Field::Int(v)) => step = v as i64,
            (3, Field::Bytes(b)) => {
                out.file_version = Some(String::from_utf8(b.to_vec()).ok()?);
            }
            (5, Field::Bytes(summary)) => {
                let mut s = Reader {
                    buf: summary,
                    pos: 0,
                };
                while !s.done() {
                    if let (1, Field::Bytes(value)) = s.field()? {
                        let mut v = Reader { buf: value, pos: 0 };
                        let (mut tag, mut simple) = (None, None);
                        while !v.done() {
                            match v.field()? {
                                (1, Field::Bytes(t)) => {
                                    tag = Some(String::from_utf8(t.to_vec()).ok()?);
                                }
                                (2, Field::Bytes(f)) if f.len() == 4 => {
                                    simple = Some(f32::from_le_bytes(f.try_into().ok()?));
                                }
                                _ => {}
                            }
                        }
                        if let (Some(t), Some(x)) = (tag, simple) {
                            values.push((t, x));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out.scalars
        .extend(values.into_iter().map(|(tag, value)| ScalarEvent {
            wall_time,
            step,
            tag,
            value,
        }));
    Some(())
}

/// Reads an event file, checking both checksums of every record; errors name the record and
/// its byte offset.
pub fn read_event_file(path: impl AsRef<Path>) -> Result<EventFile> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| VizError::io(path, e))?;
    let bad = |msg: String| VizError::EventFile {
        path: path.display().to_string(),
        msg,
    };
    let mut out = EventFile::default();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let record = out.records;
        let header = bytes
            .get(pos..pos + 12)
            .ok_or_else(|| bad(format!("record {record} at byte {pos}: truncated header")))?;
        let (len_bytes, len_crc) = header.split_at(8);
        if masked_crc32c(len_bytes).to_le_bytes() != len_crc {
            return Err(bad(format!(
                "record {record} at byte {pos}: length checksum mismatch"
            )));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap_or_default());
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "record {record} at byte {pos}: length {len} too large"
                ))
            })?;
        let start = pos + 12;
        let data = bytes
            .get(start..start + len)
            .ok_or_else(|| bad(format!("record {record} at byte {pos}: truncated data")))?;
        let crc = bytes.get(start + len..start + len + 4).ok_or_else(|| {
            bad(format!(
                "record {record} at byte {pos}: truncated data checksum"
            ))
        })?;
        if masked_crc32c(data).to_le_bytes() != crc {
            return Err(bad(format!(
                "record {record} at byte {pos}: data checksum mismatch"
            )));
        }
        decode_event(data, &mut out).ok_or_else(|| {
            bad(format!(
                "record {record} at byte {pos}: malformed Event message"
            ))
        })?;
        out.records += 1;
        pos = start + len + 4;
    }
    Ok(out)
}
