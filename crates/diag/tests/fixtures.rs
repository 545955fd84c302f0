//! The eigenvalues of PyTorch's Hessians (`generate.py`, `hessian_fixtures`) through the
//! diagnostics API with nn models; and batched whole-data evaluation against one batch.

mod common;

use common::{floats, load_json, rel_max, spec_from_fixture, spec_of_case, synthetic_mlp, tensor};
use trainscope_core::grad;
use trainscope_diag::{analyse, AnalysisMode, AnalysisOptions, EvalOptions, LossFunction, Targets};
use trainscope_nn::{ForwardCtx, Loss, Mode, Sequential, Target};

#[test]
fn fixture_spectra_match_pytorch() {
    let fx = load_json("hessians.json");
    let mut worst: f64 = 0.0;
    for case in fx["cases"].as_array().unwrap() {
        worst = worst.max(check_case(case, spec_from_fixture(&case["layers"])));
    }
    println!("largest relative eigenvalue error: {worst:.3e}");
}

/// Convolutions, pooling, BatchNorm2d in training mode, LayerNorm and a residual block
/// (`generate_models.py`): loss, gradient, dense Hessian, eigenvalues and one HVP.
#[test]
fn model_fixture_spectra_match_pytorch() {
    let fx = load_json("models.json");
    let mut checked = 0;
    for case in fx["cases"].as_array().unwrap() {
        if case.get("hessian").is_some() {
            check_case(case, spec_of_case(case));
            checked += 1;
        }
    }
    assert_eq!(checked, 3);
}

/// A CNN trained ten steps with SGD and momentum from PyTorch's initial weights: every
/// parameter after every step within 1e-10 of PyTorch's.
#[test]
fn cnn_sgd_momentum_trajectory_matches_pytorch() {
    let fx = load_json("models.json");
    let case = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cnn_sgd_momentum_trajectory")
        .expect("trajectory case");
    let mut model = Sequential::<f64>::from_seed(spec_of_case(case), 0).unwrap();
    let names = model.parameter_names();
    for (i, n) in names.iter().enumerate() {
        model.parameters_mut()[i] = tensor(&case["init"][n]).into_param();
    }
    let (lr, mu) = (
        case["optimizer"]["lr"].as_f64().unwrap(),
        case["optimizer"]["momentum"].as_f64().unwrap(),
    );
    let x = tensor(&case["x"]);
    let y: Vec<u32> = case["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as u32)
        .collect();
    let mut bufs: Vec<Vec<f64>> = Vec::new();
    let mut worst: f64 = 0.0;
    for (step, after) in case["params_after_step"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let out = model
            .forward_with(
                model.parameters(),
                &x,
                Mode::Train,
                &mut ForwardCtx::without_rng(),
            )
            .unwrap();
        let loss = Loss::CrossEntropy
            .compute(&out, Target::Classes(&y))
            .unwrap();
        let want_loss = case["loss_before_step"][step].as_f64().unwrap();
        assert!((loss.item().unwrap() - want_loss).abs() <= 1e-12 * want_loss.abs());
        let g = grad(&loss, model.parameters(), false).unwrap();
        // torch.optim.SGD with momentum: b ← μ·b + g (b = g at the first step), p ← p − lr·b.
        for (i, gi) in g.iter().enumerate() {
            let gi = gi.to_vec();
            if bufs.len() <= i {
                bufs.push(gi);
            } else {
                for (b, d) in bufs[i].iter_mut().zip(&gi) {
                    *b = mu * *b + d;
                }
            }
            for (p, b) in model.parameters_mut()[i]
                .data_mut()
                .iter_mut()
                .zip(&bufs[i])
            {
                *p -= lr * b;
            }
        }
        for (i, n) in names.iter().enumerate() {
            let want = tensor(&after[n]).to_vec();
            let e = rel_max(&model.parameters()[i].to_vec(), &want);
            assert!(e <= 1e-10, "step {}: {n} relative error {e:e}", step + 1);
            worst = worst.max(e);
        }
    }
    println!("largest relative parameter error over 10 steps: {worst:.3e}");
}

/// Checks one Hessian fixture case through the diagnostics; returns the eigenvalue error.
fn check_case(case: &serde_json::Value, spec: trainscope_nn::ModelSpec) -> f64 {
    let name = case["name"].as_str().unwrap();
    let mut model = Sequential::<f64>::from_seed(spec, 0).unwrap();
    for (i, n) in model.parameter_names().iter().enumerate() {
        model.parameters_mut()[i] = tensor(&case["params"][n]).into_param();
    }
    let mode = match case["mode"].as_str().unwrap() {
        "train" => Mode::Train,
        _ => Mode::Eval,
    };
    let loss = match case["loss"].as_str().unwrap() {
        "cross_entropy" => Loss::CrossEntropy,
        "mse" => Loss::Mse,
        other => panic!("{other}"),
    };
    let x = tensor(&case["x"]);
    let targets = if case["y"].is_array() {
        Targets::Classes(
            case["y"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap() as u32)
                .collect(),
        )
    } else {
        let y = tensor(&case["y"]);
        Targets::Values {
            width: y.dims()[1],
            data: y.to_vec(),
        }
    };
    let f = LossFunction::from_model(
        model,
        x.data(),
        targets,
        loss,
        // Batch norm in train mode couples the examples: the fixture's Hessian is of the
        // whole data as one batch.
        EvalOptions {
            mode,
            ..Default::default()
        },
    )
    .unwrap();
    let theta = f.initial_parameters();
    let r = analyse(
        &f,
        &theta,
        &AnalysisOptions {
            mode: AnalysisMode::Dense,
            ..Default::default()
        },
    )
    .unwrap();
    let want = floats(&case["eigenvalues_ascending"]);
    let got = r.eigenvalues.clone().unwrap();
    let e = rel_max(&got, &want);
    assert!(e <= 1e-9, "{name}: eigenvalues relative error {e:e}");
    assert_eq!(
        r.negative.unwrap() + r.positive.unwrap() + r.zero.unwrap(),
        want.len()
    );
    assert!((r.loss - case["loss_value"].as_f64().unwrap()).abs() < 1e-12);
    let g = floats(&case["gradient"]);
    let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((r.grad_norm - gn).abs() < 1e-12 * gn.max(1.0), "{name}");
    // The dense Hessian itself.
    let h = f.hessian(&theta).unwrap();
    let eh = rel_max(&h, &floats(&case["hessian"]["data"]));
    assert!(eh <= 1e-10, "{name}: Hessian relative error {eh:e}");
    let names: Vec<&str> = r
        .grad_norm_per_layer
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let order: Vec<&str> = case["param_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(names, order);
    if let Some(v) = case.get("v") {
        let hv = f.hessian_at(&theta).unwrap().hvp(&floats(v)).unwrap();
        let ev = rel_max(&hv, &floats(&case["hv"]));
        assert!(ev <= 1e-9, "{name}: HVP relative error {ev:e}");
    }
    println!(
        "{name}: eigenvalue error {e:.2e}, Hessian error {eh:.2e}, verdict {:?}",
        r.verdict
    );
    e
}

#[test]
fn batched_whole_data_evaluation_equals_one_batch() {
    let single = synthetic_mlp(
        3,
        &[7],
        2,
        103,
        11,
        EvalOptions {
            batch_size: 1000,
            ..Default::default()
        },
    );
    let batched = synthetic_mlp(
        3,
        &[7],
        2,
        103,
        11,
        EvalOptions {
            batch_size: 10, // 11 batches, the last one of 3 examples
            ..Default::default()
        },
    );
    let uncached = synthetic_mlp(
        3,
        &[7],
        2,
        103,
        11,
        EvalOptions {
            batch_size: 10,
            graph_cache_bytes: 0,
            ..Default::default()
        },
    );
    assert_eq!(single.num_batches(), 1);
    assert_eq!(batched.num_batches(), 11);
    let theta = single.initial_parameters();
    let (a, b) = (
        single.gradient(&theta).unwrap(),
        batched.gradient(&theta).unwrap(),
    );
    assert!(
        (a.loss - b.loss).abs() <= 1e-12 * a.loss,
        "{} vs {}",
        a.loss,
        b.loss
    );
    assert!((single.loss(&theta).unwrap() - batched.loss(&theta).unwrap()).abs() <= 1e-12 * a.loss);
    let eg = rel_max(&b.flat, &a.flat);
    assert!(eg <= 1e-12, "gradient {eg:e}");
    let n = theta.len();
    let v: Vec<f64> = (0..n).map(|i| ((i * 13 % 7) as f64 - 3.0) / 3.0).collect();
    let ha = single.hessian_at(&theta).unwrap();
    let hb = batched.hessian_at(&theta).unwrap();
    let hc = uncached.hessian_at(&theta).unwrap();
    assert!(hb.graphs_cached() && !hc.graphs_cached());
    let (va, vb, vc) = (
        ha.hvp(&v).unwrap(),
        hb.hvp(&v).unwrap(),
        hc.hvp(&v).unwrap(),
    );
    let e1 = rel_max(&vb, &va);
    let e2 = rel_max(&vc, &va);
    assert!(e1 <= 1e-12 && e2 <= 1e-12, "hvp {e1:e} {e2:e}");
    let e3 = rel_max(
        &batched.hessian(&theta).unwrap(),
        &single.hessian(&theta).unwrap(),
    );
    assert!(e3 <= 1e-12, "dense {e3:e}");
    println!(
        "batched vs single: gradient {eg:.2e}, hvp {e1:.2e} / uncached {e2:.2e}, dense {e3:.2e}"
    );
}

#[test]
fn bad_inputs_are_errors_naming_the_problem() {
    let spec = trainscope_nn::ModelSpec::linear(2, 1);
    let m = || Sequential::<f64>::from_seed(spec.clone(), 0).unwrap();
    let vals = |k| Targets::Values {
        data: vec![0.0; k],
        width: 1,
    };
    let e = LossFunction::from_model(
        m(),
        &[1.0, 2.0, 3.0],
        vals(1),
        Loss::Mse,
        EvalOptions::default(),
    );
    assert!(e.err().unwrap().to_string().contains("rows of 2 features"));
    let e = LossFunction::from_model(m(), &[1.0, 2.0], vals(2), Loss::Mse, EvalOptions::default());
    assert!(e.err().unwrap().to_string().contains("targets"));
    let e = LossFunction::from_model(
        m(),
        &[1.0, 2.0],
        vals(1),
        Loss::CrossEntropy,
        EvalOptions::default(),
    );
    assert!(e.err().unwrap().to_string().contains("class labels"));
    let e = LossFunction::from_model(
        m(),
        &[1.0, 2.0],
        Targets::Classes(vec![3]),
        Loss::CrossEntropy,
        EvalOptions::default(),
    );
    assert!(e.err().unwrap().to_string().contains("out of range"));
    let f = LossFunction::from_model(m(), &[1.0, 2.0], vals(1), Loss::Mse, EvalOptions::default())
        .unwrap();
    let e = f.gradient(&[1.0]).unwrap_err().to_string();
    assert!(
        e.contains("1 values given") && e.contains("3 parameters"),
        "{e}"
    );
    assert!(f
        .loss(&[f64::NAN, 0.0, 0.0])
        .unwrap_err()
        .to_string()
        .contains("non-finite"));
}
