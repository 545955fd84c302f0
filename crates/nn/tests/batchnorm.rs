//! Batch norm against PyTorch (`generate.py`, `batchnorm_fixture`): `BatchNorm1d(4)` with given
//! γ and β, two training forwards, then an eval forward with the updated running statistics.

mod common;

use common::{load_json, max_abs_diff, tensor};
use trainscope_core::{seeded_rng, Tensor};
use trainscope_nn::{ForwardCtx, Layer, Mode, ModelSpec, Sequential};

#[test]
fn batchnorm_matches_pytorch_train_running_stats_and_eval() {
    let fx = load_json("batchnorm.json");
    let spec = ModelSpec::new(4, vec![Layer::batch_norm1d(4)]);
    let mut model = Sequential::<f64>::from_seed(spec, 0).unwrap();
    model.parameters_mut()[0] = tensor::<f64>(&fx["weight"]).into_param();
    model.parameters_mut()[1] = tensor::<f64>(&fx["bias"]).into_param();

    let mut rng = seeded_rng(0);
    for (x, y) in [("x1", "y1"), ("x2", "y2")] {
        let out = model.forward_train(&tensor(&fx[x]), &mut rng).unwrap();
        let want: Tensor<f64> = tensor(&fx[y]);
        assert_eq!(out.dims(), want.dims());
        let d = max_abs_diff(out.data(), want.data());
        assert!(d <= 1e-12, "{y}: max |diff| {d:e}");
    }
    let rm = max_abs_diff(
        model.buffers()[0].data(),
        &tensor::<f64>(&fx["running_mean"]).to_vec(),
    );
    let rv = max_abs_diff(
        model.buffers()[1].data(),
        &tensor::<f64>(&fx["running_var"]).to_vec(),
    );
    assert!(rm <= 1e-12, "running_mean: {rm:e}");
    assert!(rv <= 1e-12, "running_var: {rv:e}");
    assert_eq!(model.batches_tracked(), &[2]);

    let ye = model.predict(&tensor(&fx["x_eval"])).unwrap();
    let d = max_abs_diff(ye.data(), tensor::<f64>(&fx["y_eval"]).data());
    assert!(d <= 1e-12, "y_eval: max |diff| {d:e}");
}

#[test]
fn forward_with_leaves_the_model_unchanged_until_stats_are_applied() {
    let fx = load_json("batchnorm.json");
    let spec = ModelSpec::new(4, vec![Layer::batch_norm1d(4)]);
    let mut model = Sequential::<f64>::from_seed(spec, 0).unwrap();
    let x1: Tensor<f64> = tensor(&fx["x1"]);
    let mut ctx = ForwardCtx::without_rng();
    model
        .forward_with(model.parameters(), &x1, Mode::Train, &mut ctx)
        .unwrap();
    assert_eq!(model.buffers()[0].to_vec(), vec![0.0; 4]);
    assert_eq!(model.buffers()[1].to_vec(), vec![1.0; 4]);
    assert_eq!(ctx.batch_stats().len(), 1);
    assert_eq!(ctx.batch_stats()[0].layer, 0);
    assert_eq!(ctx.batch_stats()[0].batch, 8);

    model.update_running_stats(&mut ctx).unwrap();
    assert!(
        ctx.batch_stats().is_empty(),
        "applying consumes the statistics"
    );
    assert_eq!(model.batches_tracked(), &[1]);
    // momentum 0.1 from 0: running_mean = 0.1 · batch mean
    let col0: f64 = x1.data().iter().step_by(4).sum::<f64>() / 8.0;
    assert!((model.buffers()[0].data()[0] - 0.1 * col0).abs() < 1e-15);

    // A count at the top (read from a file) stays there instead of overflowing.
    model.batches_tracked_mut()[0] = u64::MAX;
    let mut ctx = ForwardCtx::without_rng();
    model
        .forward_with(model.parameters(), &x1, Mode::Train, &mut ctx)
        .unwrap();
    model.update_running_stats(&mut ctx).unwrap();
    assert_eq!(model.batches_tracked(), &[u64::MAX]);
}

#[test]
fn batchnorm_in_train_mode_needs_two_examples() {
    let spec = ModelSpec::new(2, vec![Layer::batch_norm1d(2)]);
    let mut model = Sequential::<f64>::from_seed(spec, 0).unwrap();
    let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap();
    let err = model.forward_train(&x, &mut seeded_rng(0)).unwrap_err();
    assert!(err.to_string().contains("more than 1 example"), "{err}");
    // Eval mode is fine with one example.
    assert_eq!(model.predict(&x).unwrap().dims(), &[1, 2]);
}
