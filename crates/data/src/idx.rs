//! The IDX format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a 4-byte magic number, `0x00 0x00 <type> <number of dimensions>`, then each
//! dimension as a big-endian `u32`, then the values in row-major order. MNIST-style data uses
//! type `0x08` (unsigned byte): images are `n × rows × cols` (magic `0x00000803`), labels are
//! `n` (magic `0x00000801`). Reference: <http://yann.lecun.com/exdb/mnist/>, "file formats".

use std::path::Path;

use crate::dataset::{Dataset, Targets};
use crate::error::{DataError, Result};
use crate::features::{byte_value, Features, Precision};
use crate::labels::LabelMap;
use crate::source;

/// Magic number of an unsigned-byte IDX file with three dimensions (MNIST images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an unsigned-byte IDX file with one dimension (MNIST labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// An unsigned-byte IDX array: its dimensions and its values in row-major order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (`[n, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` values.
    pub data: Vec<u8>,
}

/// Reads an unsigned-byte IDX file (gzip or plain) whose magic number must be `magic`, i.e.
/// whose number of dimensions is fixed by the caller.
///
/// Errors name the file and say what was expected: another magic number, a header cut short,
/// or a data part whose length differs from the product of the dimensions.
pub fn read_idx(path: impl AsRef<Path>, magic: u32) -> Result<IdxArray> {
    let path = path.as_ref();
    read_array(
        path,
        source::open(path)?,
        magic,
        |_| Vec::new(),
        |out, chunk| out.extend_from_slice(chunk),
    )
    .map(|(dims, data)| IdxArray { dims, data })
}

/// [`read_idx`] on the content of a file already in memory (plain or gzip); `path` only names
/// it in errors.
pub fn parse_idx(path: &Path, bytes: &[u8], magic: u32) -> Result<IdxArray> {
    read_array(
        path,
        source::from_bytes(path, bytes)?,
        magic,
        |_| Vec::new(),
        |out, chunk| out.extend_from_slice(chunk),
    )
    .map(|(dims, data)| IdxArray { dims, data })
}

/// The values of an IDX file, read in chunks and handed to `push` as they come, into a
/// collection made by `empty` with room for the values the header announces (bounded by what
/// the file can hold, so that a damaged header cannot ask for more memory than its file
/// could fill). `empty` gets the dimensions. Returns the dimensions and the collection.
pub(crate) fn read_array<C>(
    path: &Path,
    input: source::Input<'_>,
    magic: u32,
    empty: impl FnOnce(&[usize]) -> C,
    mut push: impl FnMut(&mut C, &[u8]),
) -> Result<(Vec<usize>, C)>
where
    C: Reserve,
{
    let format_error = |message: String| DataError::IdxFormat {
        path: path.to_path_buf(),
        message,
    };
    let source::Input { mut reader, bound } = input;
    let mut head = [0u8; 4];
    let got = source::read_up_to(path, &mut reader, &mut head)?;
    if got < 4 {
        return Err(format_error(format!(
            "{got} bytes is too short for an IDX header"
        )));
    }
    let found = u32::from_be_bytes(head);
    if found != magic {
        return Err(format_error(format!(
            "magic number 0x{found:08x}, expected 0x{magic:08x} ({})",
            describe_magic(magic)
        )));
    }
    let rank = usize::from(head[3]);
    let header_len = 4 + 4 * rank;
    let mut dims_bytes = vec![0u8; 4 * rank];
    let got = source::read_up_to(path, &mut reader, &mut dims_bytes)?;
    if got < dims_bytes.len() {
        return Err(format_error(format!(
            "header of {rank} dimensions needs {header_len} bytes, the file has {}",
            4 + got
        )));
    }
    let dims: Vec<usize> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format_error(format!("dimensions {dims:?} are too large")))?;
    let mut out = empty(&dims);
    let room = usize::try_from(bound.saturating_sub(header_len as u64)).unwrap_or(usize::MAX);
    out.reserve_exact(expected.min(room));
    let mut chunk = vec![0u8; CHUNK.min(expected.max(1))];
    let mut found = 0usize;
    while found < expected {
        let want = chunk.len().min(expected - found);
        let got = source::read_up_to(path, &mut reader, &mut chunk[..want])?;
        push(&mut out, &chunk[..got]);
        found += got;
        if got < want {
            break;
        }
    }
    // Whatever follows the announced values is counted, not kept, for the message.
    let rest = std::io::copy(&mut reader, &mut std::io::sink())
        .map_err(|source| source::io_error(path, source))?;
    let found = found as u64 + rest;
    if found != expected as u64 {
        return Err(format_error(format!(
            "dimensions {} need {expected} data bytes, the file has {found}",
            shape(&dims)
        )));
    }
    Ok((dims, out))
}

/// Bytes read at a time: the read buffer, not the file, is what streaming holds.
const CHUNK: usize = 1 << 16;

/// A collection that can make room for the values announced by a header.
pub(crate) trait Reserve {
    fn reserve_exact(&mut self, additional: usize);
}

impl<E> Reserve for Vec<E> {
    fn reserve_exact(&mut self, additional: usize) {
        Vec::reserve_exact(self, additional);
    }
}

impl Reserve for Features {
    fn reserve_exact(&mut self, additional: usize) {
        match self {
            Features::F64(v) => v.reserve_exact(additional),
            Features::F32(v) => v.reserve_exact(additional),
            Features::Bytes(v) => v.reserve_exact(additional),
            Features::Elsewhere(_) => {}
        }
    }
}

/// Loads MNIST-style image and label IDX files (each gzip or plain) as a classification
/// dataset.
///
/// Every image becomes one row of `rows × cols` features, flattened row-major and scaled from
/// `0..=255` to `[0, 1]` by dividing by 255; features are named `px0`, `px1`, …, and the
/// dataset's [`Dataset::image_shape`] is `[1, rows, cols]`. Labels are
/// already class indices: the label map is `"0" … "K-1"` with K = largest label + 1, so class 3
/// is label 3 even if a subset lacks some classes. The target is named `label`.
///
/// The images are read in chunks straight into the dataset, which keeps the pixel bytes
/// themselves (one byte per value, exact: see [`Precision::F64`]); a 60,000-image file is
/// 47 MB. [`load_idx_as`] with [`Precision::F32`] stores `f32` values instead.
///
/// ```no_run
/// let dir = "/usr/share/datasets/fashion-mnist";
/// let train = trainscope_data::load_idx(
///     format!("{dir}/train-images-idx3-ubyte.gz"),
///     format!("{dir}/train-labels-idx1-ubyte.gz"),
/// )?;
/// assert_eq!((train.n_rows(), train.n_features()), (60_000, 784));
/// # Ok::<(), trainscope_data::DataError>(())
/// ```
pub fn load_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
    load_idx_as(images, labels, Precision::F64)
}

/// [`load_idx`] with the pixel values stored in `precision`: [`Precision::F64`] keeps the exact
/// bytes, [`Precision::F32`] stores `(byte / 255) as f32` (the value `f32` training without
/// standardization uses), converted once while reading.
pub fn load_idx_as(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    precision: Precision,
) -> Result<Dataset> {
    let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
    let images = read_images(images_path, source::open(images_path)?, precision)?;
    let labels = read_idx(labels_path, IDX_LABELS_MAGIC)?;
    idx_dataset(images_path, images, labels_path, labels)
}

/// [`load_idx`] on the contents of the two files already in memory; the paths only name them
/// in errors.
pub fn parse_idx_dataset(
    images_path: &Path,
    images: &[u8],
    labels_path: &Path,
    labels: &[u8],
) -> Result<Dataset> {
    let images = read_images(
        images_path,
        source::from_bytes(images_path, images)?,
        Precision::F64,
    )?;
    let labels = parse_idx(labels_path, labels, IDX_LABELS_MAGIC)?;
    idx_dataset(images_path, images, labels_path, labels)
}

/// An image file's dimensions and its pixels in the storage `precision` asks for.
fn read_images(
    path: &Path,
    input: source::Input<'_>,
    precision: Precision,
) -> Result<(Vec<usize>, Features)> {
    let empty = |_: &[usize]| match precision {
        Precision::F64 => Features::Bytes(Vec::new()),
        Precision::F32 => Features::F32(Vec::new()),
    };
    read_array(
        path,
        input,
        IDX_IMAGES_MAGIC,
        empty,
        |out, chunk| match out {
            Features::Bytes(v) => v.extend_from_slice(chunk),
            Features::Elsewhere(_) => unreachable!("made above"),
            Features::F32(v) => v.extend(chunk.iter().map(|&b| byte_value(b) as f32)),
            Features::F64(v) => v.extend(chunk.iter().map(|&b| byte_value(b))),
        },
    )
}

fn idx_dataset(
    images_path: &Path,
    (image_dims, pixels): (Vec<usize>, Features),
    labels_path: &Path,
    labels: IdxArray,
) -> Result<Dataset> {
    let n = image_dims[0];
    if n != labels.dims[0] {
        return Err(DataError::IdxCountMismatch {
            images_path: images_path.to_path_buf(),
            images: n,
            labels_path: labels_path.to_path_buf(),
            labels: labels.dims[0],
        });
    }
    if n == 0 {
        return Err(DataError::NoRows {
            path: images_path.to_path_buf(),
        });
    }
    let d = image_dims[1] * image_dims[2];
    if d == 0 {
        return Err(DataError::IdxFormat {
            path: images_path.to_path_buf(),
            message: format!("images of size {} have no pixels", shape(&image_dims[1..])),
        });
    }
    let k = labels
        .data
        .iter()
        .map(|&l| usize::from(l) + 1)
        .max()
        .unwrap_or(0);
    let classes = labels.data.iter().map(|&l| usize::from(l)).collect();
    Dataset::from_parts(
        pixels,
        (0..d).map(|i| format!("px{i}")).collect(),
        vec!["label".into()],
        Targets::Classes(classes),
        Some(LabelMap::range(k)),
    )?
    // One grey channel: the images keep their shape for a convolution.
    .with_image_shape([1, image_dims[1], image_dims[2]])
}

fn describe_magic(magic: u32) -> String {
    let kind = match (magic >> 8) & 0xff {
        0x08 => "unsigned bytes",
        _ => "an element type this reader does not support",
    };
    let rank = magic & 0xff;
    let role = match magic {
        IDX_IMAGES_MAGIC => ", an image file",
        IDX_LABELS_MAGIC => ", a label file",
        _ => "",
    };
    format!(
        "{kind}, {rank} dimension{}{role}",
        if rank == 1 { "" } else { "s" }
    )
}

fn shape(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" × ")
}
