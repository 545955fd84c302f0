//! The IDX format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a 4-byte magic number, `0x00 0x00 <type> <number of dimensions>`, then each
//! dimension as a big-endian `u32`, then the values in row-major order. MNIST-style data uses
//! type `0x08` (unsigned byte): images are `n × rows × cols` (magic `0x00000803`), labels are
//! `n` (magic `0x00000801`). Reference: <http://yann.lecun.com/exdb/mnist/>, "file formats".

use std::path::Path;

use crate::dataset::{Dataset, Targets};
use crate::error::{DataError, Result};
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
    parse_idx(path, &source::read_raw(path)?, magic)
}

/// [`read_idx`] on the content of a file already in memory (plain or gzip); `path` only names
/// it in errors.
pub fn parse_idx(path: &Path, bytes: &[u8], magic: u32) -> Result<IdxArray> {
    let bytes = source::decode(path, bytes)?;
    let format_error = |message: String| DataError::IdxFormat {
        path: path.to_path_buf(),
        message,
    };
    if bytes.len() < 4 {
        return Err(format_error(format!(
            "{} bytes is too short for an IDX header",
            bytes.len()
        )));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(format_error(format!(
            "magic number 0x{found:08x}, expected 0x{magic:08x} ({})",
            describe_magic(magic)
        )));
    }
    let rank = usize::from(bytes[3]);
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(format_error(format!(
            "header of {rank} dimensions needs {header_len} bytes, the file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format_error(format!("dimensions {dims:?} are too large")))?;
    let found = bytes.len() - header_len;
    if found != expected {
        return Err(format_error(format!(
            "dimensions {} need {expected} data bytes, the file has {found}",
            shape(&dims)
        )));
    }
    let data = bytes[header_len..].to_vec();
    Ok(IdxArray { dims, data })
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
/// A 60,000-image file becomes 60,000 × 784 `f64` values, about 376 MB.
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
    let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
    let images = read_idx(images_path, IDX_IMAGES_MAGIC)?;
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
    let images = parse_idx(images_path, images, IDX_IMAGES_MAGIC)?;
    let labels = parse_idx(labels_path, labels, IDX_LABELS_MAGIC)?;
    idx_dataset(images_path, images, labels_path, labels)
}

fn idx_dataset(
    images_path: &Path,
    images: IdxArray,
    labels_path: &Path,
    labels: IdxArray,
) -> Result<Dataset> {
    let n = images.dims[0];
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
    let d = images.dims[1] * images.dims[2];
    if d == 0 {
        return Err(DataError::IdxFormat {
            path: images_path.to_path_buf(),
            message: format!("images of size {} have no pixels", shape(&images.dims[1..])),
        });
    }
    let features = images.data.iter().map(|&v| f64::from(v) / 255.0).collect();
    let k = labels
        .data
        .iter()
        .map(|&l| usize::from(l) + 1)
        .max()
        .unwrap_or(0);
    let classes = labels.data.iter().map(|&l| usize::from(l)).collect();
    Dataset::new(
        features,
        (0..d).map(|i| format!("px{i}")).collect(),
        "label",
        Targets::Classes(classes),
        Some(LabelMap::range(k)),
    )?
    // One grey channel: the images keep their shape for a convolution.
    .with_image_shape([1, images.dims[1], images.dims[2]])
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
