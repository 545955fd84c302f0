#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use trainscope_core::{seeded_rng, Tensor};
use trainscope_diag::{EvalOptions, LossFunction, Targets};
use trainscope_nn::{Activation, Inputs, Layer, Loss, ModelSpec, Sequential};

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

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// A `{"shape": [...], "data": [...]}` object as a tensor.
pub fn tensor(v: &Value) -> Tensor<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    Tensor::from_vec(floats(&v["data"]), &shape).expect("consistent fixture tensor")
}

/// The fixture scripts' layer lists (`generate.py`, `generate_models.py`) as layers.
pub fn layers_from_fixture(layers: &Value) -> Vec<Layer> {
    let n = |l: &Value, k: &str| l[k].as_u64().unwrap_or_else(|| panic!("{k} in {l}")) as usize;
    layers
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| match l["type"].as_str().expect("type") {
            "linear" => Layer::linear(n(l, "in"), n(l, "out")),
            "relu" => Activation::Relu.layer(),
            "tanh" => Activation::Tanh.layer(),
            "sigmoid" => Activation::Sigmoid.layer(),
            "batchnorm" => Layer::batch_norm1d(n(l, "features")),
            "conv2d" => Layer::conv2d(
                n(l, "in"),
                n(l, "out"),
                n(l, "kernel"),
                l["stride"].as_u64().unwrap_or(1) as usize,
                l["padding"].as_u64().unwrap_or(0) as usize,
            ),
            "maxpool2d" => Layer::max_pool2d(n(l, "kernel")),
            "avgpool2d" => Layer::avg_pool2d(n(l, "kernel")),
            "batchnorm2d" => Layer::batch_norm2d(n(l, "features")),
            "layernorm" => Layer::layer_norm(vec![n(l, "features")]),
            "flatten" => Layer::flatten(),
            "residual" => Layer::residual(layers_from_fixture(&l["body"])),
            other => panic!("unknown fixture layer {other}"),
        })
        .collect()
}

/// A fixture's layer list as a spec; MLP fixtures start with a Linear, whose width is the
/// input's.
pub fn spec_from_fixture(layers: &Value) -> ModelSpec {
    let layers = layers_from_fixture(layers);
    let inputs = match &layers[0] {
        Layer::Linear(l) => l.in_features,
        _ => panic!("fixture models start with a Linear"),
    };
    ModelSpec::new(inputs, layers)
}

/// A fixture case's model, its one example's shape taken from the input `x`.
pub fn spec_of_case(case: &Value) -> ModelSpec {
    let dims: Vec<usize> = case["x"]["shape"]
        .as_array()
        .expect("x shape")
        .iter()
        .skip(1)
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    ModelSpec::new(Inputs::shape(dims), layers_from_fixture(&case["layers"]))
}

/// Relative error `max|a − b| / max|b|`.
pub fn rel_max(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// An MLP regression problem on synthetic data: `inputs → hidden… → outputs`, tanh, MSE,
/// targets a fixed smooth function of the inputs plus noise.
pub fn synthetic_mlp(
    inputs: usize,
    hidden: &[usize],
    outputs: usize,
    rows: usize,
    seed: u64,
    opts: EvalOptions,
) -> LossFunction<'static> {
    let spec = ModelSpec::mlp(inputs, hidden, Activation::Tanh, false, 0.0, outputs);
    let model = Sequential::<f64>::from_seed(spec, seed).unwrap();
    let mut rng = seeded_rng(seed + 100);
    let x = Tensor::<f64>::normal(&[rows, inputs], 0.0, 1.0, &mut rng)
        .unwrap()
        .to_vec();
    let noise = Tensor::<f64>::normal(&[rows, outputs], 0.0, 0.1, &mut rng)
        .unwrap()
        .to_vec();
    let mut y = Vec::with_capacity(rows * outputs);
    for r in 0..rows {
        let xr = &x[r * inputs..(r + 1) * inputs];
        for o in 0..outputs {
            let s: f64 = xr
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + o) as f64 * 0.7).sin() * v)
                .sum();
            y.push(s.sin() + noise[r * outputs + o]);
        }
    }
    LossFunction::from_model(
        model,
        &x,
        Targets::Values {
            data: y,
            width: outputs,
        },
        Loss::Mse,
        opts,
    )
    .unwrap()
}

/// The lectures' sinc data: `n` points in [−1, 1], `sin(5πx)/(5πx)`.
pub fn sinc_data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..n)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
        .collect();
    let y = x
        .iter()
        .map(|&x| {
            let t = 5.0 * std::f64::consts::PI * x;
            if t == 0.0 {
                1.0
            } else {
                t.sin() / t
            }
        })
        .collect();
    (x, y)
}

pub fn sinc_network(hidden: usize, n: usize, seed: u64) -> LossFunction<'static> {
    sinc_with(Activation::Relu, hidden, n, seed)
}

pub fn sinc_tanh_network(hidden: usize, n: usize, seed: u64) -> LossFunction<'static> {
    sinc_with(Activation::Tanh, hidden, n, seed)
}

fn sinc_with(act: Activation, hidden: usize, n: usize, seed: u64) -> LossFunction<'static> {
    let spec = ModelSpec::mlp(1, &[hidden], act, false, 0.0, 1);
    let model = Sequential::<f64>::from_seed(spec, seed).unwrap();
    let (x, y) = sinc_data(n);
    LossFunction::from_model(
        model,
        &x,
        Targets::Values { data: y, width: 1 },
        Loss::Mse,
        EvalOptions::default(),
    )
    .unwrap()
}

/// Full-batch Adam on the loss, for a trained starting point.
pub fn adam(f: &LossFunction<'_>, theta: &[f64], lr: f64, steps: usize) -> Vec<f64> {
    let mut x = theta.to_vec();
    let (mut m, mut v) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for t in 1..=steps {
        let g = f.gradient(&x).unwrap().flat;
        for i in 0..x.len() {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
            let mh = m[i] / (1.0 - 0.9f64.powi(t as i32));
            let vh = v[i] / (1.0 - 0.999f64.powi(t as i32));
            x[i] -= lr * mh / (vh.sqrt() + 1e-8);
        }
    }
    x
}
