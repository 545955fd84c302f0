//! Dropout, initialization, PyTorch names, spec validation and error paths.

use trainscope_core::{seeded_rng, Tensor};
use trainscope_nn::{Activation, ForwardCtx, Layer, Loss, Mode, ModelSpec, Sequential, Target};

fn dropout_model(p: f64, width: usize) -> Sequential<f64> {
    Sequential::from_seed(ModelSpec::new(width, vec![Layer::dropout(p)]), 0).unwrap()
}

#[test]
fn dropout_is_the_identity_in_eval_mode() {
    let model = dropout_model(0.5, 7);
    let x = Tensor::normal(&[3, 7], 0.0, 1.0, &mut seeded_rng(1)).unwrap();
    assert_eq!(model.predict(&x).unwrap().to_vec(), x.to_vec());
}

#[test]
fn dropout_zeroes_about_p_and_scales_the_rest() {
    let p = 0.3;
    let model = dropout_model(p, 100);
    let x = Tensor::<f64>::ones(&[100, 100]).unwrap();
    let mut rng = seeded_rng(7);
    let mut ctx = ForwardCtx::new(&mut rng);
    let y = model
        .forward_with(model.parameters(), &x, Mode::Train, &mut ctx)
        .unwrap();
    let zeros = y.data().iter().filter(|&&v| v == 0.0).count();
    let frac = zeros as f64 / 10_000.0;
    // Binomial(10⁴, 0.3): standard deviation of the fraction ≈ 0.0046; allow 5 of them.
    assert!((frac - p).abs() < 0.023, "dropped fraction {frac}");
    let scale = 1.0 / (1.0 - p);
    assert!(y.data().iter().all(|&v| v == 0.0 || v == scale));
}

#[test]
fn dropout_masks_are_reproducible_by_seed() {
    let model = dropout_model(0.5, 16);
    let x = Tensor::<f64>::ones(&[4, 16]).unwrap();
    let run = |seed| {
        let mut m = model.clone();
        m.forward_train(&x, &mut seeded_rng(seed)).unwrap().to_vec()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn dropout_edge_probabilities() {
    let x = Tensor::<f64>::ones(&[2, 5]).unwrap();
    let mut rng = seeded_rng(0);
    assert_eq!(
        dropout_model(0.0, 5)
            .forward_train(&x, &mut rng)
            .unwrap()
            .to_vec(),
        x.to_vec()
    );
    assert_eq!(
        dropout_model(1.0, 5)
            .forward_train(&x, &mut rng)
            .unwrap()
            .to_vec(),
        vec![0.0; 10]
    );
}

#[test]
fn dropout_in_train_mode_without_a_generator_is_an_error() {
    let model = dropout_model(0.5, 3);
    let x = Tensor::<f64>::ones(&[2, 3]).unwrap();
    let err = model
        .forward_with(
            model.parameters(),
            &x,
            Mode::Train,
            &mut ForwardCtx::without_rng(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("random generator"), "{err}");
}

#[test]
fn linear_init_is_uniform_within_one_over_sqrt_fan_in() {
    let spec = ModelSpec::mlp(16, &[64], Activation::Relu, true, 0.0, 4);
    let model = Sequential::<f64>::from_seed(spec, 5).unwrap();
    let names = model.parameter_names();
    for (name, p) in names.iter().zip(model.parameters()) {
        let v = p.to_vec();
        match name.as_str() {
            "0.weight" | "0.bias" | "3.weight" | "3.bias" => {
                let fan_in = if name.starts_with('0') { 16.0 } else { 64.0 };
                let bound = 1.0 / f64::sqrt(fan_in);
                assert!(
                    v.iter().all(|x| x.abs() <= bound),
                    "{name} exceeds ±{bound}"
                );
                // Uniform samples fill the interval: with 1,024 draws both extremes come within
                // 5 % of the ends (failure probability 0.975^1024 < 1e-11).
                if v.len() >= 1000 {
                    let max = v.iter().cloned().fold(f64::MIN, f64::max);
                    let min = v.iter().cloned().fold(f64::MAX, f64::min);
                    assert!(
                        max > 0.95 * bound && min < -0.95 * bound,
                        "{name}: [{min}, {max}]"
                    );
                }
            }
            "1.weight" => assert!(v.iter().all(|&x| x == 1.0)),
            "1.bias" => assert!(v.iter().all(|&x| x == 0.0)),
            other => panic!("unexpected parameter {other}"),
        }
    }
    assert_eq!(model.buffers()[0].to_vec(), vec![0.0; 64]);
    assert_eq!(model.buffers()[1].to_vec(), vec![1.0; 64]);
    assert_eq!(model.batches_tracked(), &[0]);
}

#[test]
fn init_is_reproducible_by_seed() {
    let spec = ModelSpec::sigmoids(3, 4, 1);
    let flat = |seed| -> Vec<f64> {
        Sequential::<f64>::from_seed(spec.clone(), seed)
            .unwrap()
            .parameters()
            .iter()
            .flat_map(|t| t.to_vec())
            .collect()
    };
    assert_eq!(flat(1), flat(1));
    assert_ne!(flat(1), flat(2));
    // The same seed gives the same model in f32, rounded.
    let a = Sequential::<f32>::from_seed(spec.clone(), 1).unwrap();
    let rounded: Vec<f32> = flat(1)[..12].iter().map(|&x| x as f32).collect();
    assert_eq!(a.parameters()[0].to_vec(), rounded);
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Expected names are what `torch.nn.Sequential` gives for the same layer list, e.g.
/// `nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), …)`.
#[test]
fn mlp_parameter_names_match_pytorch_sequential() {
    let plain = ModelSpec::mlp(4, &[8, 6], Activation::Relu, false, 0.0, 3);
    assert_eq!(
        plain.parameter_names(),
        strings(&["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
    );
    assert_eq!(plain.state_dict_names(), plain.parameter_names());

    let dropout = ModelSpec::mlp(4, &[8, 6], Activation::Tanh, false, 0.2, 3);
    assert_eq!(
        dropout.parameter_names(),
        strings(&["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"])
    );

    let bn = ModelSpec::mlp(4, &[8, 6], Activation::Sigmoid, true, 0.0, 3);
    assert_eq!(
        bn.parameter_names(),
        strings(&[
            "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias",
            "6.weight", "6.bias",
        ])
    );

    let both = ModelSpec::mlp(4, &[8, 6], Activation::Relu, true, 0.2, 3);
    let model = Sequential::<f64>::from_seed(both.clone(), 0).unwrap();
    assert_eq!(
        model.parameter_names(),
        strings(&[
            "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight", "5.bias",
            "8.weight", "8.bias",
        ])
    );
    assert_eq!(
        model.buffer_names(),
        strings(&[
            "1.running_mean",
            "1.running_var",
            "5.running_mean",
            "5.running_var"
        ])
    );
    assert_eq!(
        model.batches_tracked_names(),
        strings(&["1.num_batches_tracked", "5.num_batches_tracked"])
    );
    assert_eq!(
        both.state_dict_names(),
        strings(&[
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "4.weight",
            "4.bias",
            "5.weight",
            "5.bias",
            "5.running_mean",
            "5.running_var",
            "5.num_batches_tracked",
            "8.weight",
            "8.bias",
        ])
    );
    assert_eq!(
        model.parameter_shapes(),
        vec![
            vec![8, 4],
            vec![8],
            vec![8],
            vec![8],
            vec![6, 8],
            vec![6],
            vec![6],
            vec![6],
            vec![3, 6],
            vec![3],
        ]
    );
    assert_eq!(
        model.num_parameters(),
        8 * 4 + 8 + 8 + 8 + 6 * 8 + 6 + 6 + 6 + 3 * 6 + 3
    );
}

#[test]
fn presets_have_the_lecture_shapes() {
    assert_eq!(ModelSpec::linear(7, 1).layers, vec![Layer::linear(7, 1)]);
    assert_eq!(
        ModelSpec::sigmoids(1, 3, 1).layers,
        vec![
            Layer::linear(1, 3),
            Layer::Sigmoid(Default::default()),
            Layer::linear(3, 1)
        ]
    );
    assert_eq!(
        ModelSpec::mlp(2, &[], Activation::Relu, true, 0.5, 1).layers,
        vec![Layer::linear(2, 1)]
    );
}

#[test]
fn specs_serialize_with_readable_tags() {
    let spec = ModelSpec::mlp(2, &[3], Activation::HardSigmoid, true, 0.1, 1);
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["inputs"], 2);
    assert_eq!(json["layers"][0]["type"], "linear");
    assert_eq!(json["layers"][0]["in_features"], 2);
    assert_eq!(json["layers"][1]["type"], "batch_norm1d");
    assert_eq!(json["layers"][2]["type"], "hard_sigmoid");
    assert_eq!(json["layers"][3]["type"], "dropout");
    let back: ModelSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, spec);
    // eps and momentum default to PyTorch's.
    let bn: Layer = serde_json::from_str(r#"{"type": "batch_norm1d", "num_features": 3}"#).unwrap();
    assert_eq!(bn, Layer::batch_norm1d(3));
    assert_eq!(
        serde_json::to_string(&Loss::CrossEntropy).unwrap(),
        "\"cross_entropy\""
    );
    assert_eq!(serde_json::to_string(&Mode::Eval).unwrap(), "\"eval\"");
}

#[test]
fn invalid_specs_are_errors_naming_the_layer() {
    let bad = ModelSpec::new(
        4,
        vec![
            Layer::linear(4, 8),
            Layer::Relu(Default::default()),
            Layer::linear(6, 1),
        ],
    );
    let err = Sequential::<f64>::from_seed(bad, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer 2") && err.contains("in_features 6") && err.contains("8"),
        "{err}"
    );

    let bad = ModelSpec::mlp(4, &[8], Activation::Relu, false, 1.5, 1);
    let err = Sequential::<f64>::from_seed(bad, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Dropout") && err.contains("[0, 1]"), "{err}");

    let bad = ModelSpec::new(4, vec![Layer::batch_norm1d(3)]);
    assert!(Sequential::<f64>::from_seed(bad, 0).is_err());
    let bad = ModelSpec::new(
        4,
        vec![Layer::BatchNorm1d(trainscope_nn::layers::BatchNorm1d {
            num_features: 4,
            eps: 0.0,
            momentum: 0.1,
        })],
    );
    assert!(Sequential::<f64>::from_seed(bad, 0).is_err());
    assert!(Sequential::<f64>::from_seed(ModelSpec::linear(0, 1), 0).is_err());
    assert!(Sequential::<f64>::from_seed(ModelSpec::linear(3, 0), 0).is_err());
}

#[test]
fn forward_rejects_wrong_inputs_and_parameters() {
    let model = Sequential::<f64>::from_seed(ModelSpec::sigmoids(3, 4, 1), 0).unwrap();
    let x = Tensor::<f64>::ones(&[2, 2]).unwrap();
    let err = model.predict(&x).unwrap_err().to_string();
    assert!(
        err.contains("[batch, 3]") && err.contains("[2, 2]"),
        "{err}"
    );

    let x = Tensor::<f64>::ones(&[2, 3]).unwrap();
    let mut ctx = ForwardCtx::without_rng();
    let few = &model.parameters()[..3];
    assert!(model.forward_with(few, &x, Mode::Eval, &mut ctx).is_err());
    let mut wrong = model.parameters().to_vec();
    wrong[2] = Tensor::ones(&[4, 1]).unwrap();
    let err = model
        .forward_with(&wrong, &x, Mode::Eval, &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"2.weight\""), "{err}");
}

#[test]
fn statistics_from_another_model_are_rejected() {
    let a =
        Sequential::<f64>::from_seed(ModelSpec::mlp(2, &[3], Activation::Relu, true, 0.0, 1), 0)
            .unwrap();
    let mut b =
        Sequential::<f64>::from_seed(ModelSpec::new(2, vec![Layer::batch_norm1d(2)]), 0).unwrap();
    let x = Tensor::normal(&[4, 2], 0.0, 1.0, &mut seeded_rng(0)).unwrap();
    let mut ctx = ForwardCtx::without_rng();
    a.forward_with(a.parameters(), &x, Mode::Train, &mut ctx)
        .unwrap();
    assert!(b.update_running_stats(&mut ctx).is_err());
    assert_eq!(b.batches_tracked(), &[0]);
}

#[test]
fn losses_reject_the_wrong_kind_of_target() {
    let out = Tensor::<f64>::zeros(&[2, 3]).unwrap();
    let values = Tensor::<f64>::zeros(&[2, 3]).unwrap();
    let labels = [0u32, 2];
    for loss in [Loss::Mae, Loss::Mse, Loss::BinaryCrossEntropyWithLogits] {
        assert!(!loss.takes_classes());
        assert!(
            loss.compute(&out, Target::Values(&values)).is_ok(),
            "{loss:?}"
        );
        let err = loss.compute(&out, Target::Classes(&labels)).unwrap_err();
        assert!(err.to_string().contains(loss.name()), "{err}");
    }
    for loss in [Loss::CrossEntropy, Loss::SoftmaxMse] {
        assert!(loss.takes_classes());
        assert!(
            loss.compute(&out, Target::Classes(&labels)).is_ok(),
            "{loss:?}"
        );
        assert!(
            loss.compute(&out, Target::Values(&values)).is_err(),
            "{loss:?}"
        );
        assert!(
            loss.compute(&out, Target::Classes(&[0, 3])).is_err(),
            "out of range"
        );
        assert!(
            loss.compute(&out, Target::Classes(&[0])).is_err(),
            "too few labels"
        );
    }
    let narrow = Tensor::<f64>::zeros(&[2]).unwrap();
    assert!(Loss::Mse.compute(&out, Target::Values(&narrow)).is_err());
}

#[test]
fn cross_entropy_of_uniform_logits_is_ln_classes() {
    let out = Tensor::<f64>::zeros(&[4, 3]).unwrap();
    let l = Loss::CrossEntropy
        .compute(&out, Target::Classes(&[0, 1, 2, 0]))
        .unwrap();
    assert!((l.item().unwrap() - 3f64.ln()).abs() < 1e-15);
}

/// Expected names, shapes and counts are what PyTorch gives for the same `nn.Sequential`:
/// `Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(16, 32, 3, padding=1), ReLU(),
/// MaxPool2d(2), Flatten(), Linear(32 * 7 * 7, 10)` has 20,490 parameters; the odd-sized
/// case with batch norm and a hidden head layer 1,013, and it maps [2, 3, 7, 5] to [2, 3].
#[test]
fn cnn_preset_matches_pytorch_sequential() {
    let spec = ModelSpec::cnn([1, 28, 28], &[16, 32], 3, &[], Activation::Relu, false, 10);
    let entries: Vec<(String, Vec<usize>)> = [
        ("0.weight", vec![16, 1, 3, 3]),
        ("0.bias", vec![16]),
        ("3.weight", vec![32, 16, 3, 3]),
        ("3.bias", vec![32]),
        ("7.weight", vec![10, 1568]),
        ("7.bias", vec![10]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(spec.parameter_entries(), entries);
    assert_eq!(spec.parameter_count(), Some(20_490));
    assert_eq!(spec.validate().unwrap(), 10);
    assert_eq!(
        spec.layers.iter().map(Layer::kind).collect::<Vec<_>>(),
        [
            "conv2d",
            "relu",
            "max_pool2d",
            "conv2d",
            "relu",
            "max_pool2d",
            "flatten",
            "linear"
        ]
    );

    // 7 × 5 with a 5 × 5 kernel: 7 → 3 → 1 rows, 5 → 2 → 1 columns, so the flatten gives 6.
    let odd = ModelSpec::cnn([3, 7, 5], &[4, 6], 5, &[8], Activation::Tanh, true, 3);
    assert_eq!(
        odd.state_dict_names(),
        strings(&[
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "4.weight",
            "4.bias",
            "5.weight",
            "5.bias",
            "5.running_mean",
            "5.running_var",
            "5.num_batches_tracked",
            "9.weight",
            "9.bias",
            "11.weight",
            "11.bias",
        ])
    );
    assert_eq!(odd.parameter_count(), Some(1013));
    assert_eq!(odd.validate().unwrap(), 3);
    let model = Sequential::<f64>::from_seed(odd, 0).unwrap();
    let x = Tensor::from_vec(vec![0.5; 2 * 105], &[2, 105]).unwrap();
    let y = model.predict(&x).unwrap();
    assert_eq!(y.dims(), [2, 3]);

    // An image too small for its stages is refused by the layer that cannot fit it.
    let tiny = ModelSpec::cnn([1, 3, 3], &[2, 2], 3, &[], Activation::Relu, false, 2);
    let err = tiny.validate().unwrap_err().to_string();
    assert!(
        err.contains("layer 5") || err.contains("MaxPool2d"),
        "{err}"
    );
}
