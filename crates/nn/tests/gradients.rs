//! Whole-model gradients and Hessian-vector products: against central differences (f64) and
//! against PyTorch (`generate.py`, `hessian_fixtures`).

mod common;

use common::{floats, load_json, spec_from_fixture, tensor};
use trainscope_core::testing::{gradients, hessian_vector_products, rel_err};
use trainscope_core::{seeded_rng, Result, SecondOrder, Tensor};
use trainscope_nn::{Activation, ForwardCtx, Loss, Mode, ModelSpec, Sequential, Target};

/// Owned targets, so a loss closure can borrow them.
enum Owned {
    Values(Tensor<f64>),
    Classes(Vec<u32>),
}

impl Owned {
    fn target(&self) -> Target<'_, f64> {
        match self {
            Owned::Values(t) => Target::Values(t),
            Owned::Classes(c) => Target::Classes(c),
        }
    }
}

struct Case {
    name: &'static str,
    spec: ModelSpec,
    loss: Loss,
    mode: Mode,
    /// Dropout masks come from a generator with this seed, drawn afresh for every evaluation
    /// so every evaluation sees the same masks.
    dropout_seed: Option<u64>,
}

fn data(case: &Case, n: usize) -> (Tensor<f64>, Owned) {
    let mut rng = seeded_rng(42);
    let inputs = case.spec.inputs.numel();
    let outputs = case.spec.outputs().unwrap();
    let x = Tensor::normal(&[n, inputs], 0.0, 1.0, &mut rng).unwrap();
    let y = match case.loss {
        Loss::CrossEntropy | Loss::SoftmaxMse => {
            Owned::Classes((0..n).map(|i| (i % outputs) as u32).collect())
        }
        Loss::BinaryCrossEntropyWithLogits => Owned::Values(
            Tensor::from_vec(
                (0..n * outputs).map(|i| (i % 2) as f64).collect(),
                &[n, outputs],
            )
            .unwrap(),
        ),
        Loss::Mse | Loss::Mae => {
            Owned::Values(Tensor::normal(&[n, outputs], 0.0, 1.0, &mut rng).unwrap())
        }
    };
    (x, y)
}

fn loss_fn<'a>(
    model: &'a Sequential<f64>,
    case: &'a Case,
    x: &'a Tensor<f64>,
    y: &'a Owned,
) -> impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>> + 'a {
    move |p: &[Tensor<f64>]| {
        let mut rng = seeded_rng(case.dropout_seed.unwrap_or(0));
        let mut ctx = ForwardCtx::new(&mut rng);
        let out = model.forward_with(p, x, case.mode, &mut ctx)?;
        case.loss.compute(&out, y.target())
    }
}

fn cases() -> Vec<Case> {
    let tanh = |outputs| ModelSpec::mlp(3, &[5, 4], Activation::Tanh, false, 0.0, outputs);
    vec![
        Case {
            name: "mse",
            spec: tanh(2),
            loss: Loss::Mse,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "mae",
            spec: tanh(2),
            loss: Loss::Mae,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "cross_entropy",
            spec: tanh(3),
            loss: Loss::CrossEntropy,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "softmax_mse",
            spec: tanh(3),
            loss: Loss::SoftmaxMse,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "bce_with_logits",
            spec: tanh(1),
            loss: Loss::BinaryCrossEntropyWithLogits,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "batch_norm_train",
            spec: ModelSpec::mlp(3, &[5, 4], Activation::Sigmoid, true, 0.0, 2),
            loss: Loss::Mse,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "batch_norm_eval",
            spec: ModelSpec::mlp(3, &[5], Activation::HardSigmoid, true, 0.0, 2),
            loss: Loss::CrossEntropy,
            mode: Mode::Eval,
            dropout_seed: None,
        },
        Case {
            name: "sigmoids_preset",
            spec: ModelSpec::sigmoids(2, 6, 1),
            loss: Loss::Mse,
            mode: Mode::Train,
            dropout_seed: None,
        },
        Case {
            name: "dropout_fixed_masks",
            spec: ModelSpec::mlp(3, &[6], Activation::Tanh, false, 0.3, 2),
            loss: Loss::Mse,
            mode: Mode::Train,
            dropout_seed: Some(9),
        },
    ]
}

fn flat(model: &Sequential<f64>) -> Vec<f64> {
    model.parameters().iter().flat_map(|t| t.to_vec()).collect()
}

#[test]
fn model_gradients_match_central_differences() {
    for case in cases() {
        let model = Sequential::<f64>::from_seed(case.spec.clone(), 3).unwrap();
        let (x, y) = data(&case, 8);
        let f = loss_fn(&model, &case, &x, &y);
        let (exact, numeric) = gradients(&f, &flat(&model), &model.parameter_shapes()).unwrap();
        let e = rel_err(&exact, &numeric);
        assert!(e < 1e-6, "{}: relative error {e:e}", case.name);
        assert!(
            exact.iter().any(|g| g.abs() > 1e-6),
            "{}: a gradient that is all zero proves nothing",
            case.name
        );
    }
}

#[test]
fn model_hessian_vector_products_match_differences_of_gradients() {
    for case in cases() {
        if case.loss == Loss::Mae {
            continue; // piecewise linear in the output: its second derivative is a sum of deltas
        }
        let model = Sequential::<f64>::from_seed(case.spec.clone(), 4).unwrap();
        let (x, y) = data(&case, 8);
        let f = loss_fn(&model, &case, &x, &y);
        let n = model.num_parameters();
        let v: Vec<f64> = Tensor::normal(&[n], 0.0, 1.0, &mut seeded_rng(8))
            .unwrap()
            .to_vec();
        let (exact, numeric) =
            hessian_vector_products(&f, &flat(&model), &model.parameter_shapes(), &v).unwrap();
        let e = rel_err(&exact, &numeric);
        assert!(e < 1e-6, "{}: relative error {e:e}", case.name);
    }
}

#[test]
fn forward_train_output_is_differentiable_in_the_model_parameters() {
    let spec = ModelSpec::mlp(3, &[4], Activation::Relu, true, 0.2, 2);
    let mut model = Sequential::<f64>::from_seed(spec, 1).unwrap();
    let mut rng = seeded_rng(0);
    let x = Tensor::normal(&[5, 3], 0.0, 1.0, &mut rng).unwrap();
    let out = model.forward_train(&x, &mut rng).unwrap();
    let loss = out.powf(2.0).mean();
    let g = trainscope_core::grad(&loss, model.parameters(), false).unwrap();
    assert_eq!(g.len(), model.parameters().len());
    for (g, p) in g.iter().zip(model.parameters()) {
        assert_eq!(g.dims(), p.dims());
    }
    assert_eq!(model.batches_tracked(), &[1]);
}

/// The loss, gradient and one Hessian-vector product of the fixture's networks at PyTorch's
/// parameters, through `forward_with` and `SecondOrder` exactly as the diagnostics use them.
#[test]
fn loss_gradient_and_hvp_match_pytorch() {
    let fx = load_json("hessians.json");
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let spec = spec_from_fixture(&case["layers"]);
        let mut model = Sequential::<f64>::from_seed(spec, 0).unwrap();
        let order: Vec<String> = case["param_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(model.parameter_names(), order, "{name}");
        for (i, n) in order.iter().enumerate() {
            model.parameters_mut()[i] = tensor::<f64>(&case["params"][n]).into_param();
        }
        let mode = match case["mode"].as_str().unwrap() {
            "train" => Mode::Train,
            _ => Mode::Eval,
        };
        let loss = match case["loss"].as_str().unwrap() {
            "cross_entropy" => Loss::CrossEntropy,
            "mse" => Loss::Mse,
            "mae" => Loss::Mae,
            other => panic!("{other}"),
        };
        let x: Tensor<f64> = tensor(&case["x"]);
        let y = if case["y"].is_array() {
            Owned::Classes(
                case["y"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_u64().unwrap() as u32)
                    .collect(),
            )
        } else {
            Owned::Values(tensor(&case["y"]))
        };
        let f = |p: &[Tensor<f64>]| {
            let mut ctx = ForwardCtx::without_rng();
            let out = model.forward_with(p, &x, mode, &mut ctx)?;
            loss.compute(&out, y.target())
        };
        let so = SecondOrder::new(f, model.parameters()).unwrap();
        let want_loss = case["loss_value"].as_f64().unwrap();
        assert!(
            (so.loss().unwrap() - want_loss).abs() < 1e-12,
            "{name}: loss"
        );
        let e = rel_err(&so.gradient_flat(), &floats(&case["gradient"]));
        assert!(e < 1e-10, "{name}: gradient relative error {e:e}");
        let hv = so.hvp_flat(&floats(&case["v"])).unwrap();
        let e = rel_err(&hv, &floats(&case["hv"]));
        assert!(e < 1e-10, "{name}: hvp relative error {e:e}");
    }
}
