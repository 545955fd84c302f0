//! Checkpoints: PyTorch interop (`generate.py`, `checkpoint_fixture`), round trips and errors.

mod common;

use common::{fixtures, load_json, max_abs_diff, spec_from_fixture, tensor};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::Path;
use trainscope_core::{seeded_rng, Element, Tensor};
use trainscope_nn::{Activation, Error, Layer, ModelSpec, Sequential, MODEL_KEY};

fn fixture_path() -> std::path::PathBuf {
    fixtures().join("pytorch_mlp_4_8_3.safetensors")
}

fn fixture_spec() -> ModelSpec {
    ModelSpec::new(
        4,
        vec![
            Layer::linear(4, 8),
            Layer::Relu(Default::default()),
            Layer::linear(8, 3),
        ],
    )
}

fn predicts_pytorch_logits<T: Element>() {
    let fx = load_json("pytorch_mlp_4_8_3.json");
    assert_eq!(spec_from_fixture(&fx["layers"]), fixture_spec());
    let model = Sequential::<T>::load_pytorch(fixture_path(), fixture_spec()).unwrap();
    let logits = model.predict(&tensor::<T>(&fx["x"])).unwrap();
    let want: Tensor<T> = tensor(&fx["logits"]);
    assert_eq!(logits.dims(), want.dims());
    // PyTorch ran in f32: agreement to a few f32 ulps of values of order 1.
    let d = max_abs_diff(logits.data(), want.data());
    assert!(d < 1e-5, "max |diff| {d:e}");
}

#[test]
fn pytorch_fixture_predicts_pytorch_logits_in_f32() {
    predicts_pytorch_logits::<f32>();
}

#[test]
fn pytorch_fixture_loads_into_an_f64_model() {
    predicts_pytorch_logits::<f64>();
}

/// A model with every kind of tensor: Linear, BatchNorm (with updated statistics), dropout.
fn busy_model<T: Element>() -> Sequential<T> {
    let spec = ModelSpec::mlp(3, &[5, 4], Activation::Tanh, true, 0.25, 2);
    let mut model = Sequential::<T>::from_seed(spec, 11).unwrap();
    let mut rng = seeded_rng(5);
    for _ in 0..3 {
        let x = Tensor::normal(&[6, 3], T::zero(), T::one(), &mut rng).unwrap();
        model.forward_train(&x, &mut rng).unwrap();
    }
    model
}

fn extra() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "standardization".to_string(),
            "{\"mean\": [1.5]}".to_string(),
        ),
        ("classes".to_string(), "[\"cat\", \"dog\"]".to_string()),
    ])
}

#[test]
fn checkpoint_is_a_plain_safetensors_state_dict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let model = busy_model::<f64>();
    model.save(&path, &extra()).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    let mut want = model.spec().state_dict_names();
    want.sort();
    assert_eq!(names, want);

    for ((name, t), shape) in model
        .parameter_names()
        .iter()
        .zip(model.parameters())
        .zip(model.parameter_shapes())
    {
        let v = st.tensor(name).unwrap();
        assert_eq!(v.dtype(), Dtype::F64, "{name}");
        assert_eq!(v.shape(), shape.as_slice(), "{name}");
        let first = f64::from_le_bytes(v.data()[..8].try_into().unwrap());
        assert_eq!(first, t.data()[0], "{name}");
    }
    let w = st.tensor("0.weight").unwrap();
    assert_eq!(w.shape(), &[5, 3], "PyTorch layout [out, in]");
    let rv = st.tensor("1.running_var").unwrap();
    assert_eq!((rv.dtype(), rv.shape()), (Dtype::F64, &[5usize][..]));
    let n = st.tensor("1.num_batches_tracked").unwrap();
    assert_eq!(n.dtype(), Dtype::I64);
    assert_eq!(n.shape(), &[] as &[usize], "a 0-dim tensor, as PyTorch");
    assert_eq!(i64::from_le_bytes(n.data().try_into().unwrap()), 3);

    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!(meta["classes"], "[\"cat\", \"dog\"]");
    let spec: ModelSpec = serde_json::from_str(&meta[MODEL_KEY]).unwrap();
    assert_eq!(&spec, model.spec());
}

#[test]
fn checkpoint_of_an_f32_model_stores_f32() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    busy_model::<f32>().save(&path, &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("4.weight").unwrap().dtype(), Dtype::F32);
    assert_eq!(st.tensor("5.running_mean").unwrap().dtype(), Dtype::F32);
    assert_eq!(
        st.tensor("5.num_batches_tracked").unwrap().dtype(),
        Dtype::I64
    );
}

fn bits<T: Element>(ts: &[Tensor<T>]) -> Vec<u64> {
    ts.iter()
        .flat_map(|t| t.data().iter().map(|&x| Element::to_f64(x).to_bits()))
        .collect()
}

fn round_trip<T: Element>() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let model = busy_model::<T>();
    model.save(&path, &extra()).unwrap();
    let back = Sequential::<T>::load(&path).unwrap();
    assert_eq!(back.metadata, extra());
    assert_eq!(back.model.spec(), model.spec());
    assert_eq!(bits(back.model.parameters()), bits(model.parameters()));
    assert_eq!(bits(back.model.buffers()), bits(model.buffers()));
    assert_eq!(back.model.batches_tracked(), model.batches_tracked());
    assert!(back.model.parameters().iter().all(|p| p.requires_grad()));

    let x = Tensor::normal(&[4, 3], T::zero(), T::one(), &mut seeded_rng(2)).unwrap();
    let (a, b) = (model.predict(&x).unwrap(), back.model.predict(&x).unwrap());
    assert_eq!(bits(&[a]), bits(&[b]));
}

#[test]
fn save_load_round_trip_is_bit_identical_f64() {
    round_trip::<f64>();
}

#[test]
fn save_load_round_trip_is_bit_identical_f32() {
    round_trip::<f32>();
}

#[test]
fn an_f64_checkpoint_loads_into_an_f32_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let model = busy_model::<f64>();
    model.save(&path, &BTreeMap::new()).unwrap();
    let back = Sequential::<f32>::load(&path).unwrap().model;
    let want: Vec<f32> = model.parameters()[0]
        .data()
        .iter()
        .map(|&x| x as f32)
        .collect();
    assert_eq!(back.parameters()[0].to_vec(), want);
}

#[test]
fn saving_over_a_file_replaces_it_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, b"old").unwrap();
    busy_model::<f64>().save(&path, &BTreeMap::new()).unwrap();
    assert!(Sequential::<f64>::load(&path).is_ok());
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "only the checkpoint remains");
}

#[test]
fn saves_of_the_same_weights_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let model = busy_model::<f32>();
    let mut meta = extra();
    for k in ["a", "b", "c", "d", "e", "f"] {
        meta.insert(format!("key_{k}"), k.repeat(3));
    }
    let first = dir.path().join("first.safetensors");
    model.save(&first, &meta).unwrap();
    let expected = std::fs::read(&first).unwrap();
    // The metadata once came from a HashMap in a different order on every save.
    for i in 0..10 {
        let p = dir.path().join(format!("again-{i}.safetensors"));
        model.save(&p, &meta).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), expected, "save {i}");
    }
    let loaded = Sequential::<f32>::load(&first).unwrap();
    assert_eq!(bits(loaded.model.parameters()), bits(model.parameters()));
    assert_eq!(loaded.metadata, meta);
}

#[test]
fn stale_temporary_files_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No process has id 2^31 − 1 (Linux caps ids at 2^22).
    let dead = ".model.safetensors.tmp-2147483647-3";
    let own = format!(".model.safetensors.tmp-{}-0", std::process::id());
    let keep = [
        own.as_str(),
        "model.safetensors",
        ".model.safetensors.tmp-notes",
        ".model.safetensors.tmp-12x-3",
        "model.safetensors.tmp-2147483647-3",
    ];
    for name in keep.iter().chain([&dead]) {
        std::fs::write(d.join(name), b"x").unwrap();
    }
    assert_eq!(trainscope_nn::remove_stale_temps(d), 1);
    assert!(!d.join(dead).exists());
    for name in keep {
        assert!(d.join(name).exists(), "{name} was removed");
    }
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn saving_into_a_missing_directory_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/model.safetensors");
    let err = message(
        busy_model::<f64>()
            .save(&path, &BTreeMap::new())
            .unwrap_err(),
    );
    assert!(
        err.starts_with(&format!("checkpoint {}: cannot write", path.display())),
        "{err}"
    );
}

#[test]
fn the_model_key_is_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let meta = BTreeMap::from([(MODEL_KEY.to_string(), "x".to_string())]);
    let err = message(
        busy_model::<f64>()
            .save(dir.path().join("m"), &meta)
            .unwrap_err(),
    );
    assert!(err.contains("reserved"), "{err}");
}

fn expect_error(result: Result<impl std::fmt::Debug, Error>, path: &Path, needle: &str) {
    let err = message(result.unwrap_err());
    let prefix = format!("checkpoint {}: ", path.display());
    assert!(
        err.starts_with(&prefix),
        "{err:?} should start with {prefix:?}"
    );
    assert!(err.contains(needle), "{err:?} should contain {needle:?}");
}

#[test]
fn corrupt_and_truncated_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file at all").unwrap();
    expect_error(
        Sequential::<f64>::load(&garbage),
        &garbage,
        "not a valid safetensors file",
    );
    expect_error(
        Sequential::<f64>::load_pytorch(&garbage, fixture_spec()),
        &garbage,
        "not a valid safetensors file",
    );

    let good = std::fs::read(fixture_path()).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &good[..good.len() - 7]).unwrap();
    expect_error(
        Sequential::<f32>::load_pytorch(&truncated, fixture_spec()),
        &truncated,
        "not a valid safetensors file",
    );

    let empty = dir.path().join("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    expect_error(
        Sequential::<f32>::load(&empty),
        &empty,
        "not a valid safetensors file",
    );

    let missing = dir.path().join("missing.safetensors");
    expect_error(Sequential::<f32>::load(&missing), &missing, "cannot read");
}

#[test]
fn missing_tensor_is_an_error_naming_file_and_tensor() {
    let path = fixture_path();
    let spec = ModelSpec::new(
        4,
        vec![
            Layer::linear(4, 8),
            Layer::Relu(Default::default()),
            Layer::linear(8, 3),
            Layer::Tanh(Default::default()),
            Layer::linear(3, 2),
        ],
    );
    expect_error(
        Sequential::<f32>::load_pytorch(&path, spec),
        &path,
        "missing tensor \"4.weight\"",
    );
}

#[test]
fn wrong_shape_is_an_error_naming_file_tensor_and_shapes() {
    let path = fixture_path();
    let spec = ModelSpec::new(
        3,
        vec![
            Layer::linear(3, 8),
            Layer::Relu(Default::default()),
            Layer::linear(8, 3),
        ],
    );
    expect_error(
        Sequential::<f32>::load_pytorch(&path, spec),
        &path,
        "tensor \"0.weight\" has shape [8, 4], expected [8, 3]",
    );
}

#[test]
fn unexpected_tensor_is_an_error() {
    let path = fixture_path();
    let spec = ModelSpec::new(
        4,
        vec![Layer::linear(4, 8), Layer::Relu(Default::default())],
    );
    expect_error(
        Sequential::<f32>::load_pytorch(&path, spec),
        &path,
        "unexpected tensor \"2.bias\"",
    );
}

#[test]
fn a_file_without_trainscope_metadata_needs_a_spec() {
    let path = fixture_path();
    expect_error(Sequential::<f32>::load(&path), &path, MODEL_KEY);
}

#[test]
fn a_checkpoint_whose_tensors_disagree_with_its_spec_is_rejected() {
    // Write a valid checkpoint, then swap in the description of a wider model.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    busy_model::<f64>().save(&path, &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let wider = ModelSpec::mlp(3, &[6, 4], Activation::Tanh, true, 0.25, 2);
    let meta = std::collections::HashMap::from([(
        MODEL_KEY.to_string(),
        serde_json::to_string(&wider).unwrap(),
    )]);
    let out = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
    std::fs::write(&path, out).unwrap();
    expect_error(
        Sequential::<f64>::load(&path),
        &path,
        "tensor \"0.weight\" has shape [5, 3], expected [6, 3]",
    );
}

/// A model description in the checkpoint's JSON form, with PyTorch's constructor argument names:
/// a CNN with BatchNorm2d and a residual block with LayerNorm. It saves under PyTorch's nested
/// `state_dict` names, in PyTorch's order, and loads back to the same outputs.
#[test]
fn nested_models_round_trip_under_pytorch_names() {
    let json = r#"{"inputs": [1, 6, 6], "layers": [
        {"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1},
        {"type": "batch_norm2d", "num_features": 2},
        {"type": "relu"},
        {"type": "avg_pool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "in_features": 18, "out_features": 8},
        {"type": "residual", "body": [
            {"type": "layer_norm", "normalized_shape": 8},
            {"type": "linear", "in_features": 8, "out_features": 8},
            {"type": "tanh"}
        ]},
        {"type": "linear", "in_features": 8, "out_features": 3}
    ]}"#;
    let spec: ModelSpec = serde_json::from_str(json).unwrap();
    assert_eq!(spec.outputs().unwrap(), 3);
    assert_eq!(
        spec.state_dict_names(),
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "5.weight",
            "5.bias",
            "6.body.0.weight",
            "6.body.0.bias",
            "6.body.1.weight",
            "6.body.1.bias",
            "7.weight",
            "7.bias",
        ]
    );
    let mut model = Sequential::<f64>::from_seed(spec.clone(), 4).unwrap();
    let x = Tensor::<f64>::normal(&[5, 36], 0.0, 1.0, &mut trainscope_core::seeded_rng(1)).unwrap();
    // One training pass so the running statistics are not their defaults.
    model
        .forward_train(&x, &mut trainscope_core::seeded_rng(2))
        .unwrap();
    assert_eq!(model.batches_tracked(), [1]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path, &Default::default()).unwrap();
    let back = Sequential::<f64>::load(&path).unwrap().model;
    assert_eq!(back.spec(), &spec);
    assert_eq!(
        back.predict(&x).unwrap().to_vec(),
        model.predict(&x).unwrap().to_vec()
    );
    assert_eq!(back.buffers()[0].to_vec(), model.buffers()[0].to_vec());
    // The same images as [N, C, H, W] give the same outputs as flat rows.
    let images = x.reshape(&[5, 1, 6, 6]).unwrap();
    assert_eq!(
        back.predict(&images).unwrap().to_vec(),
        back.predict(&x).unwrap().to_vec()
    );

    // Descriptions that do not fit are refused naming the layer.
    for (bad, want) in [
        (json.replace("\"out_features\": 3", "\"out_features\": 3}, {\"type\": \"conv2d\", \"in_channels\": 3, \"out_channels\": 1, \"kernel_size\": 1"), "needs [N, C, H, W] images"),
        (json.replace("\"in_features\": 18", "\"in_features\": 17"), "layer 5 (Linear(17 → 8))"),
        (json.replace("\"in_features\": 8, \"out_features\": 8", "\"in_features\": 8, \"out_features\": 7"), "a residual block needs the same shape out as in"),
        (json.replace("{\"type\": \"flatten\"},", ""), "in_features 18 does not match"),
    ] {
        let spec: ModelSpec = serde_json::from_str(&bad).unwrap();
        let e = spec.validate().unwrap_err().to_string();
        assert!(e.contains(want), "{e}\nwanted: {want}");
    }
    let e = serde_json::from_str::<ModelSpec>(
        &json.replace("\"kernel_size\": 2", "\"kernel_size\": 2, \"padding\": 1"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("padding"), "{e}");
}
