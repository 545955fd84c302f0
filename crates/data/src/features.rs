//! How a dataset stores its feature values: in the element type training will use, so that a
//! large dataset is held once, at the size training needs.

/// The element type a loader reads feature values into.
///
/// * [`Precision::F64`] keeps every value exactly as read: `f64` for CSV cells; for IDX images
///   the pixel bytes themselves (one byte each, the value being `byte / 255`), which are exact
///   and eight times smaller than `f64`. Use it when the values will be transformed before
///   use (standardization) or trained on in `f64`.
/// * [`Precision::F32`] rounds every value to `f32` once, while reading: what `f32` training
///   without standardization sees anyway (`value as f32`), at half the size of `f64`.
///
/// The choice only decides storage: [`Dataset::features`](crate::Dataset::features) still gives
/// `f64` values (computed on first use for compact storage), and
/// [`Dataset::feature_values`](crate::Dataset::feature_values) gives the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Exact values (`f64`, or bytes for IDX images).
    #[default]
    F64,
    /// Values rounded to `f32` when read.
    F32,
}

/// The stored feature values of a dataset, row-major `n × d`.
///
/// ```
/// use trainscope_data::Features;
///
/// let pixels = Features::Bytes(vec![0, 51, 255]);
/// assert_eq!(pixels.len(), 3);
/// assert_eq!(pixels.get(1), 0.2); // 51 / 255
/// assert_eq!(Features::F32(vec![0.1]).get(0), f64::from(0.1f32));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    /// Exact `f64` values.
    F64(Vec<f64>),
    /// Values rounded to `f32`.
    F32(Vec<f32>),
    /// Bytes standing for `byte / 255` (IDX images scaled to `[0, 1]`), exact.
    Bytes(Vec<u8>),
    /// `len` values kept outside memory, in a prepared dataset's shards: a dataset with these
    /// features carries the names, targets and label map only, and its rows are read through a
    /// [`ShardReader`](crate::ShardReader). Reading a value here is a bug (it panics).
    Elsewhere(usize),
}

impl Features {
    /// The number of stored values (`n × d`).
    pub fn len(&self) -> usize {
        match self {
            Features::F64(v) => v.len(),
            Features::F32(v) => v.len(),
            Features::Bytes(v) => v.len(),
            Features::Elsewhere(len) => *len,
        }
    }

    /// True when the values are in memory (not [`Features::Elsewhere`]).
    pub fn in_memory(&self) -> bool {
        !matches!(self, Features::Elsewhere(_))
    }

    /// True when no values are stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` as `f64`: exact for [`Features::F64`] and [`Features::Bytes`] (`byte / 255`
    /// computed in `f64`, as the IDX reader always has), the `f32` value widened otherwise.
    ///
    /// # Panics
    /// When `i >= len()`.
    #[track_caller]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Features::F64(v) => v[i],
            Features::F32(v) => f64::from(v[i]),
            Features::Bytes(v) => byte_value(v[i]),
            Features::Elsewhere(_) => elsewhere(),
        }
    }

    /// Appends values `start..start + len` as `f64` to `out` (see [`Features::get`]).
    ///
    /// # Panics
    /// When the range is out of bounds.
    #[track_caller]
    pub fn extend_f64(&self, start: usize, len: usize, out: &mut Vec<f64>) {
        let range = start..start + len;
        match self {
            Features::F64(v) => out.extend_from_slice(&v[range]),
            Features::F32(v) => out.extend(v[range].iter().map(|&x| f64::from(x))),
            Features::Bytes(v) => out.extend(v[range].iter().map(|&b| byte_value(b))),
            Features::Elsewhere(_) => elsewhere(),
        }
    }

    /// Every value as `f64`, in a new vector.
    pub fn to_f64(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.len());
        self.extend_f64(0, self.len(), &mut out);
        out
    }

    /// Appends one value read as `f64`, rounded to the storage's type. Bytes stand for IDX
    /// pixels only and take no other values.
    pub(crate) fn push(&mut self, x: f64) {
        match self {
            Features::F64(v) => v.push(x),
            Features::F32(v) => v.push(x as f32),
            Features::Bytes(_) => unreachable!("byte storage is filled from IDX files only"),
            Features::Elsewhere(_) => elsewhere(),
        }
    }

    /// The rows `rows` (of `d` values each), in that order, in the same storage. Indices must be
    /// in range (checked by callers).
    pub(crate) fn gather(&self, rows: &[usize], d: usize) -> Features {
        fn take<E: Copy>(v: &[E], rows: &[usize], d: usize) -> Vec<E> {
            let mut out = Vec::with_capacity(rows.len() * d);
            for &r in rows {
                out.extend_from_slice(&v[r * d..(r + 1) * d]);
            }
            out
        }
        match self {
            Features::F64(v) => Features::F64(take(v, rows, d)),
            Features::F32(v) => Features::F32(take(v, rows, d)),
            Features::Bytes(v) => Features::Bytes(take(v, rows, d)),
            Features::Elsewhere(_) => elsewhere(),
        }
    }
}

/// `byte / 255` in `f64`: how IDX pixels become features.
pub(crate) fn byte_value(b: u8) -> f64 {
    f64::from(b) / 255.0
}

/// Values of a prepared dataset are read from its shards, never through [`Features`].
#[track_caller]
fn elsewhere() -> ! {
    panic!("the features of a prepared dataset are in its shards: read them with a ShardReader")
}
