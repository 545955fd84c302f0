use trainscope_data::{
    load_idx, load_idx_as, read_idx, DataError, Features, Precision, Targets, IDX_IMAGES_MAGIC,
};

use crate::{gzip, write};

/// An unsigned-byte IDX file: magic 0x0000_08<rank>, big-endian dimensions, data.
fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// Three 2 × 2 images with pixels 0, 51, 102, … and labels 2, 0, 1.
fn images() -> Vec<u8> {
    let pixels: Vec<u8> = (0..12u32).map(|i| (i * 51 % 256) as u8).collect();
    idx_bytes(&[3, 2, 2], &pixels)
}

fn labels() -> Vec<u8> {
    idx_bytes(&[3], &[2, 0, 1])
}

#[test]
fn plain_and_gzip_idx_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let plain = load_idx(
        write(dir.path(), "img", images()),
        write(dir.path(), "lbl", labels()),
    )
    .unwrap();
    assert_eq!((plain.n_rows(), plain.n_features()), (3, 4));
    assert_eq!(plain.feature_names(), ["px0", "px1", "px2", "px3"]);
    assert_eq!(plain.row(0), [0.0, 0.2, 0.4, 0.6]);
    assert_eq!(plain.row(1)[0], 0.8);
    assert_eq!(plain.row(1)[1], 1.0); // 255 / 255
    assert_eq!(plain.targets(), &Targets::Classes(vec![2, 0, 1]));
    assert_eq!(plain.label_map().unwrap().labels(), ["0", "1", "2"]);

    let zipped = load_idx(
        write(dir.path(), "img.gz", gzip(&images())),
        write(dir.path(), "lbl.gz", gzip(&labels())),
    )
    .unwrap();
    assert_eq!(zipped, plain);
}

#[test]
fn read_idx_returns_dims_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let array = read_idx(write(dir.path(), "img", images()), IDX_IMAGES_MAGIC).unwrap();
    assert_eq!(array.dims, [3, 2, 2]);
    assert_eq!(array.data.len(), 12);
}

#[test]
fn swapped_files_fail_on_the_magic_number() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "img", images());
    let lbl = write(dir.path(), "lbl", labels());
    let err = load_idx(&lbl, &img).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: magic number 0x00000801, expected 0x00000803 (unsigned bytes, 3 dimensions, an image file)",
            lbl.display()
        )
    );
}

#[test]
fn corrupted_magic_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = images();
    bytes[2] = 0x0d; // float data
    let img = write(dir.path(), "img", bytes);
    let lbl = write(dir.path(), "lbl", labels());
    let err = load_idx(&img, &lbl).unwrap_err();
    assert!(matches!(err, DataError::IdxFormat { .. }));
    assert!(err.to_string().contains("magic number 0x00000d03"), "{err}");
    let text = write(dir.path(), "text", "px0,px1\n");
    let err = load_idx(&text, &lbl).unwrap_err();
    assert!(err.to_string().contains("magic number 0x7078302c"), "{err}");
}

#[test]
fn mismatched_counts_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "img", images());
    let lbl = write(dir.path(), "lbl", idx_bytes(&[2], &[0, 1]));
    let err = load_idx(&img, &lbl).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} holds 3 images but {} holds 2 labels",
            img.display(),
            lbl.display()
        )
    );
}

#[test]
fn truncated_or_padded_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let lbl = write(dir.path(), "lbl", labels());
    let mut short = images();
    short.pop();
    let img = write(dir.path(), "short", short);
    let err = load_idx(&img, &lbl).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: dimensions 3 × 2 × 2 need 12 data bytes, the file has 11",
            img.display()
        )
    );
    let mut long = images();
    long.push(0);
    let img = write(dir.path(), "long", long);
    assert!(load_idx(&img, &lbl).is_err());

    let header_cut = write(dir.path(), "cut", &images()[..9]);
    let err = load_idx(&header_cut, &lbl).unwrap_err();
    assert!(
        err.to_string().contains("needs 16 bytes, the file has 9"),
        "{err}"
    );
    let tiny = write(dir.path(), "tiny", [0u8, 0]);
    let err = load_idx(&tiny, &lbl).unwrap_err();
    assert!(err.to_string().contains("too short"), "{err}");
}

#[test]
fn huge_announced_dimensions_do_not_allocate_or_panic() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(
        dir.path(),
        "img",
        idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]),
    );
    let lbl = write(dir.path(), "lbl", labels());
    assert!(matches!(
        load_idx(&img, &lbl).unwrap_err(),
        DataError::IdxFormat { .. }
    ));
}

#[test]
fn zero_images_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "img", idx_bytes(&[0, 28, 28], &[]));
    let lbl = write(dir.path(), "lbl", idx_bytes(&[0], &[]));
    assert!(matches!(
        load_idx(&img, &lbl).unwrap_err(),
        DataError::NoRows { .. }
    ));
}

/// Needs Debian's `dataset-fashion-mnist`; run with `--ignored`.
#[test]
#[ignore = "needs /usr/share/datasets/fashion-mnist"]
fn fashion_mnist_test_set() {
    let dir = "/usr/share/datasets/fashion-mnist";
    let data = load_idx(
        format!("{dir}/t10k-images-idx3-ubyte.gz"),
        format!("{dir}/t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    assert_eq!((data.n_rows(), data.n_features()), (10_000, 784));
    assert_eq!(data.class_counts(), Some(vec![1000; 10]));
    assert!(data.features().iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn images_are_stored_as_bytes_or_as_f32_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (img, lbl) = (
        write(dir.path(), "img.gz", gzip(&images())),
        write(dir.path(), "lbl", labels()),
    );
    let exact = load_idx(&img, &lbl).unwrap();
    let pixels: Vec<u8> = (0..12u32).map(|i| (i * 51 % 256) as u8).collect();
    assert_eq!(exact.feature_values(), &Features::Bytes(pixels.clone()));
    let single = load_idx_as(&img, &lbl, Precision::F32).unwrap();
    // What f32 training made of the f64 values: each rounded once.
    let rounded: Vec<f32> = pixels
        .iter()
        .map(|&p| (f64::from(p) / 255.0) as f32)
        .collect();
    assert_eq!(single.feature_values(), &Features::F32(rounded));
    assert_eq!(
        (single.image_shape(), single.targets()),
        (exact.image_shape(), exact.targets())
    );
    // Widened for code that works in f64; a selection keeps the storage.
    assert_eq!(single.row(1)[1], f64::from(1.0f32)); // 255
    assert_eq!(single.row(2)[3], f64::from((49.0f64 / 255.0) as f32));
    assert!(
        matches!(exact.select(&[2, 0]).unwrap().feature_values(), Features::Bytes(b) if b.len() == 8)
    );
}

#[test]
fn a_long_image_file_is_read_in_chunks_whole() {
    // More pixels than one read chunk, with the last byte checked.
    let (n, side) = (300u32, 17u32);
    let pixels: Vec<u8> = (0..n * side * side).map(|i| (i % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let data = load_idx(
        write(
            dir.path(),
            "img.gz",
            gzip(&idx_bytes(&[n, side, side], &pixels)),
        ),
        write(dir.path(), "lbl", idx_bytes(&[n], &labels)),
    )
    .unwrap();
    assert_eq!(data.feature_values(), &Features::Bytes(pixels.clone()));
    let last = *pixels.last().unwrap();
    assert_eq!(data.features().last(), Some(&(f64::from(last) / 255.0)));
    // One byte too many is counted, not kept.
    let mut long = idx_bytes(&[n, side, side], &pixels);
    long.push(0);
    let err = read_idx(write(dir.path(), "long", long), IDX_IMAGES_MAGIC).unwrap_err();
    assert!(
        err.to_string().ends_with(&format!(
            "dimensions {n} × {side} × {side} need {} data bytes, the file has {}",
            pixels.len(),
            pixels.len() + 1
        )),
        "{err}"
    );
}
