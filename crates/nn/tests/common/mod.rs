#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use trainscope_core::{Element, Tensor};
use trainscope_nn::{Layer, ModelSpec};

/// The shared fixtures, which live beside the repository.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

pub fn load_json(name: &str) -> Value {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A `{"shape": [...], "data": [...]}` object as a tensor.
pub fn tensor<T: Element>(v: &Value) -> Tensor<T> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let data: Vec<T> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| T::from_f64(x.as_f64().expect("number")))
        .collect();
    Tensor::from_vec(data, &shape).expect("consistent fixture tensor")
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// The fixture scripts' layer lists (`{"type": "linear", "in": 4, "out": 8}`, …) as a spec.
pub fn spec_from_fixture(layers: &Value) -> ModelSpec {
    let layers: Vec<Layer> = layers
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| match l["type"].as_str().expect("type") {
            "linear" => Layer::linear(
                l["in"].as_u64().unwrap() as usize,
                l["out"].as_u64().unwrap() as usize,
            ),
            "relu" => Layer::Relu(Default::default()),
            "tanh" => Layer::Tanh(Default::default()),
            "sigmoid" => Layer::Sigmoid(Default::default()),
            "batchnorm" => Layer::batch_norm1d(l["features"].as_u64().unwrap() as usize),
            other => panic!("unknown fixture layer {other}"),
        })
        .collect();
    let inputs = match &layers[0] {
        Layer::Linear(l) => l.in_features,
        _ => panic!("fixture models start with a Linear"),
    };
    ModelSpec::new(inputs, layers)
}

pub fn max_abs_diff<T: Element>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (Element::to_f64(x) - Element::to_f64(y)).abs())
        .fold(0.0, f64::max)
}
