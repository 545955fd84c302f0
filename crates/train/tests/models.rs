//! Models given as explicit layer lists in the configuration: a small CNN on image rows
//! (`data.image_shape`) and a residual MLP with layer norm train, save and load back; layer
//! lists that do not fit the data are refused naming the key.

use std::path::{Path, PathBuf};

use trainscope_train::{files, load_run_data, train, Config, RunOptions, Silent, TrainedModel};

/// 6×6 one-channel images of three classes: a bright horizontal bar, a vertical bar, or a
/// diagonal, at a random place, with noise. 180 rows of pixels in row-major order, and the
/// class of each.
fn bars() -> Vec<([f64; 36], usize)> {
    let mut state: u64 = 12345;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / (1u64 << 31) as f64
    };
    (0..180)
        .map(|i| {
            let class = i % 3;
            let at = (next() * 6.0) as usize % 6;
            let mut px = [0.0f64; 36];
            for (k, p) in px.iter_mut().enumerate() {
                let (r, c) = (k / 6, k % 6);
                let on = match class {
                    0 => r == at,
                    1 => c == at,
                    _ => r == c,
                };
                *p = if on { 1.0 } else { 0.0 } + 0.3 * (next() - 0.5);
            }
            (px, class)
        })
        .collect()
}

/// The bars as a CSV with columns p0 … p35 and `label` (h, v, d).
fn write_images(dir: &Path) -> PathBuf {
    let mut text: String = (0..36).map(|i| format!("p{i},")).collect::<String>() + "label\n";
    for (px, class) in bars() {
        let row: Vec<String> = px.iter().map(|v| format!("{v:.4}")).collect();
        text += &format!("{},{}\n", row.join(","), ["h", "v", "d"][class]);
    }
    let p = dir.join("images.csv");
    std::fs::write(&p, text).unwrap();
    p
}

/// The bars as MNIST-style IDX files (`images.idx`, `labels.idx`; pixels as bytes).
fn write_idx(dir: &Path) {
    let rows = bars();
    let mut images = vec![0, 0, 8, 3];
    let mut labels = vec![0, 0, 8, 1];
    for d in [rows.len() as u32, 6, 6] {
        images.extend_from_slice(&d.to_be_bytes());
    }
    labels.extend_from_slice(&(rows.len() as u32).to_be_bytes());
    for (px, class) in &rows {
        images.extend(
            px.iter()
                .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
        );
        labels.push(*class as u8);
    }
    std::fs::write(dir.join("images.idx"), images).unwrap();
    std::fs::write(dir.join("labels.idx"), labels).unwrap();
}

/// A configuration on the IDX bars, its `[data]` section going on with `body`.
fn idx_config(dir: &Path, body: &str) -> Result<Config, String> {
    write_idx(dir);
    let text = format!(
        r#"
seed = 3
dtype = "f64"
[data]
format = "idx"
train_images = "images.idx"
train_labels = "labels.idx"
validation_fraction = 0.25
{body}
[optimizer]
kind = "adam"
lr = 0.01
[training]
epochs = 12
batch_size = 16
"#
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(&p, &[]).map_err(|e| e.to_string())
}

fn config(dir: &Path, body: &str) -> Result<Config, String> {
    let text = format!(
        r#"
seed = 3
dtype = "f64"
[data]
train = "{}"
target = "label"
task = "classification"
validation_fraction = 0.25
{body}
[optimizer]
kind = "adam"
lr = 0.01
[training]
epochs = 12
batch_size = 16
"#,
        write_images(dir).display()
    );
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(&p, &[]).map_err(|e| e.to_string())
}

const CNN: &str = r#"image_shape = [1, 6, 6]
[model]
layers = [
  { type = "conv2d", in_channels = 1, out_channels = 4, kernel_size = 3, padding = 1 },
  { type = "batch_norm2d", num_features = 4 },
  { type = "relu" },
  { type = "max_pool2d", kernel_size = 2 },
  { type = "flatten" },
  { type = "linear", in_features = 36, out_features = 3 },
]"#;

#[test]
fn a_cnn_from_a_layer_list_learns_the_bars_and_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), CNN).unwrap();
    let data = load_run_data(&config).unwrap();
    let out = dir.path().join("run");
    let opts = RunOptions {
        out_dir: Some(out.clone()),
        ..RunOptions::default()
    };
    let summary = train(&config, &data, &opts, &mut Silent).unwrap();
    let acc = summary.val_accuracy.unwrap();
    assert!(acc >= 0.9, "validation accuracy {acc}");
    assert!(
        summary.train_loss < 0.3,
        "training loss {}",
        summary.train_loss
    );

    // The checkpoint carries the layer list under PyTorch's names and evaluates the same.
    let model = TrainedModel::load(&out.join(files::MODEL)).unwrap();
    let eval = model.evaluate_file(&dir.path().join("images.csv")).unwrap();
    assert!(eval.accuracy.unwrap() >= 0.9);
    let names = trainscope_nn::Sequential::<f64>::load(out.join(files::MODEL))
        .unwrap()
        .model
        .parameter_names();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"]
    );
    // The resolved configuration a run writes reads back with its layer list.
    let again = Config::load(&out.join(files::CONFIG), &[]).unwrap();
    assert_eq!(again.model.layers, config.model.layers);
}

#[test]
fn a_residual_mlp_with_layer_norm_trains() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"[model]
layers = [
  { type = "linear", in_features = 36, out_features = 16 },
  { type = "residual", body = [
      { type = "layer_norm", normalized_shape = 16 },
      { type = "linear", in_features = 16, out_features = 16 },
      { type = "tanh" },
  ] },
  { type = "linear", in_features = 16, out_features = 3 },
]"#;
    let config = config(dir.path(), body).unwrap();
    let data = load_run_data(&config).unwrap();
    let summary = train(&config, &data, &RunOptions::default(), &mut Silent).unwrap();
    assert!(
        summary.val_accuracy.unwrap() >= 0.9,
        "{:?}",
        summary.val_accuracy
    );
}

#[test]
fn layer_lists_that_do_not_fit_the_data_are_refused_naming_the_key() {
    let cases = [
        (
            CNN.replace("out_features = 3", "out_features = 4"),
            "model.layers: the last layer gives 4 outputs, but the data needs 3",
        ),
        (
            CNN.replace("image_shape = [1, 6, 6]", "image_shape = [1, 5, 6]"),
            "data.image_shape: [1, 5, 6] is 30 numbers per row, but the data has 36 features",
        ),
        (
            CNN.replace("image_shape = [1, 6, 6]", ""),
            "model.layers: layer 0 (Conv2d(1 → 4, 3, padding 1)): needs [N, C, H, W] images, got [N, 36]",
        ),
        (
            CNN.replace("in_features = 36", "in_features = 35"),
            "model.layers: layer 5 (Linear(35 → 3)): in_features 35 does not match the 36 features coming in",
        ),
    ];
    for (body, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &body).unwrap();
        let data = load_run_data(&config).unwrap();
        let err = train(&config, &data, &RunOptions::default(), &mut Silent)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}\nwanted: {want}");
    }
    // Preset and layers together, and a layer with an unknown key, fail at parse time.
    let dir = tempfile::tempdir().unwrap();
    let e = config(
        dir.path(),
        &CNN.replace("[model]", "[model]\npreset = \"mlp\""),
    )
    .unwrap_err();
    assert!(e.contains("model.layers"), "{e}");
    let e = config(
        dir.path(),
        &CNN.replace("kernel_size = 2", "kernel_size = 2, padding = 1"),
    )
    .unwrap_err();
    assert!(e.contains("padding"), "{e}");
}

/// The `cnn` preset on the 6 × 6 bars: one stage of 4 channels and a hidden head layer.
const CNN_PRESET: &str = r#"image_shape = [1, 6, 6]
[model]
preset = "cnn"
channels = [4]
hidden = [8]"#;

#[test]
fn the_cnn_preset_learns_the_bars_under_pytorch_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), CNN_PRESET).unwrap();
    let data = load_run_data(&config).unwrap();
    let out = dir.path().join("run");
    let opts = RunOptions {
        out_dir: Some(out.clone()),
        ..RunOptions::default()
    };
    let summary = train(&config, &data, &opts, &mut Silent).unwrap();
    let acc = summary.val_accuracy.unwrap();
    assert!(acc >= 0.9, "validation accuracy {acc}");

    // Conv2d(1, 4, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(4·3·3, 8), ReLU,
    // Linear(8, 3).
    let spec = trainscope_nn::Sequential::<f64>::load(out.join(files::MODEL))
        .unwrap()
        .model
        .spec()
        .clone();
    let entries: Vec<(String, Vec<usize>)> = spec.parameter_entries();
    let want: Vec<(String, Vec<usize>)> = [
        ("0.weight", vec![4, 1, 3, 3]),
        ("0.bias", vec![4]),
        ("4.weight", vec![8, 36]),
        ("4.bias", vec![8]),
        ("6.weight", vec![3, 8]),
        ("6.bias", vec![3]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(entries, want);
    // The run's configuration states the defaults it used.
    let again = Config::load(&out.join(files::CONFIG), &[]).unwrap();
    assert_eq!(again.model.kernel_size, Some(3));
    assert_eq!(again.model.channels, Some(vec![4]));
}

#[test]
fn cnn_preset_keys_out_of_place_are_refused_naming_the_key() {
    let parse_errors = [
        (
            CNN_PRESET.replace("[4]", "[]"),
            "model.channels: preset \"cnn\" needs at least one",
        ),
        (
            CNN_PRESET.replace("[4]", "[4, 0]"),
            "model.channels: every stage needs at least 1",
        ),
        (
            format!("{CNN_PRESET}\nkernel_size = 4"),
            "model.kernel_size: must be odd",
        ),
        (
            format!("{CNN_PRESET}\ndropout = 0.2"),
            "model.dropout: only used with preset = \"mlp\"",
        ),
        (
            CNN_PRESET.replace("\"cnn\"", "\"mlp\""),
            "model.channels: only used with preset = \"cnn\"",
        ),
        (
            CNN_PRESET.replace("[4]", "[100000, 100000]"),
            "model.channels: the model would have",
        ),
        (
            CNN_PRESET.replace("[4]", "[1000]") + "\nkernel_size = 1001",
            "model.kernel_size: the model would have",
        ),
        (
            CNN_PRESET.replace("[8]", "[2000000000]"),
            "model.hidden: the model would have",
        ),
    ];
    for (body, want) in parse_errors {
        let dir = tempfile::tempdir().unwrap();
        let err = config(dir.path(), &body).unwrap_err();
        assert!(err.contains(want), "{err}\nwanted: {want}");
    }
    // Without an image shape the preset has nothing to convolve.
    let dir = tempfile::tempdir().unwrap();
    let no_shape = config(
        dir.path(),
        &CNN_PRESET.replace("image_shape = [1, 6, 6]", ""),
    )
    .unwrap();
    let data = load_run_data(&no_shape).unwrap();
    let err = train(&no_shape, &data, &RunOptions::default(), &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("data.image_shape: preset \"cnn\" needs images"),
        "{err}"
    );
}

/// The input shape a trained run's checkpoint records.
fn trained_inputs(config: &Config, dir: &Path) -> (Vec<usize>, f64) {
    let data = load_run_data(config).unwrap();
    let out = dir.join("run");
    let opts = RunOptions {
        out_dir: Some(out.clone()),
        ..RunOptions::default()
    };
    let summary = train(config, &data, &opts, &mut Silent).unwrap();
    let model = trainscope_nn::Sequential::<f64>::load(out.join(files::MODEL))
        .unwrap()
        .model;
    (
        model.spec().inputs.dims().to_vec(),
        summary.val_accuracy.unwrap(),
    )
}

#[test]
fn idx_images_keep_their_shape_without_image_shape() {
    // The cnn preset and a convolutional layer list train on the files' 1 × 6 × 6 images.
    let conv_list = CNN.replace("image_shape = [1, 6, 6]", "");
    for body in [CNN_PRESET.replace("image_shape = [1, 6, 6]", ""), conv_list] {
        let dir = tempfile::tempdir().unwrap();
        let config = idx_config(dir.path(), &body).unwrap();
        assert_eq!(config.data.image_shape, None);
        let (inputs, acc) = trained_inputs(&config, dir.path());
        assert_eq!(inputs, [1, 6, 6]);
        assert!(acc >= 0.9, "validation accuracy {acc}");
    }
    // A layer list that starts on flat rows keeps them flat; so does an MLP.
    let flat =
        "[model]\nlayers = [\n  { type = \"linear\", in_features = 36, out_features = 3 },\n]";
    for body in [flat, "[model]\npreset = \"mlp\"\nhidden = [8]"] {
        let dir = tempfile::tempdir().unwrap();
        let config = idx_config(dir.path(), body).unwrap();
        assert_eq!(trained_inputs(&config, dir.path()).0, [36]);
    }
    // A shape that agrees with the files is taken; one that does not is refused naming both.
    let dir = tempfile::tempdir().unwrap();
    let config = idx_config(dir.path(), CNN_PRESET).unwrap();
    assert_eq!(trained_inputs(&config, dir.path()).0, [1, 6, 6]);
    let config = idx_config(dir.path(), &CNN_PRESET.replace("[1, 6, 6]", "[1, 4, 9]")).unwrap();
    let err = load_run_data(&config).unwrap_err().to_string();
    let want = format!(
        "data.image_shape: [1, 4, 9] does not match the images of {}, which are 1 × 6 × 6 ([1, 6, 6])",
        dir.path().join("images.idx").display()
    );
    assert!(err.starts_with(&want), "{err}\nwanted: {want}");
}
