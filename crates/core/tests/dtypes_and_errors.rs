//! f32 against f64, error values and messages, recording modes, copy-on-write parameter
//! updates, and seeded random constructors.

use trainscope_core::testing::numeric_gradient;
use trainscope_core::{
    cross_entropy, grad, is_grad_enabled, mse, no_grad, seeded_rng, Element, Error, NoGradGuard,
    Result, SecondOrder, Shape, Tensor,
};

// ------------------------------------------------------------------------------- dtypes

/// Linear(3, 5) → tanh → Linear(5, 2), mean softmax cross-entropy; `p` = [W1, b1, W2, b2]
/// with weights stored [out, in].
fn mlp<T: Element>(p: &[Tensor<T>], x: &Tensor<T>, labels: &[u32]) -> Result<Tensor<T>> {
    let h = x.matmul_t(&p[0], false, true)?.add(&p[1])?.tanh();
    let logits = h.matmul_t(&p[2], false, true)?.add(&p[3])?;
    cross_entropy(&logits, labels)
}

const SHAPES: [&[usize]; 4] = [&[5, 3], &[5], &[2, 5], &[2]];
const LABELS: [u32; 6] = [0, 1, 1, 0, 1, 0];

fn cast<T: Element>(t: &Tensor<f64>) -> Tensor<T> {
    let v = t.data().iter().map(|&x| T::from_f64(x)).collect();
    Tensor::from_vec(v, t.dims()).unwrap()
}

/// Inputs and parameters drawn in f64 and rounded to f32, so that both precisions start from
/// identical values and any difference comes from f32 arithmetic alone.
fn problem() -> (Tensor<f64>, Vec<Tensor<f64>>) {
    let mut rng = seeded_rng(11);
    let mut draw = |dims: &[usize]| {
        let t = Tensor::<f64>::normal(dims, 0.0, 0.8, &mut rng).unwrap();
        let rounded = t.data().iter().map(|&v| v as f32 as f64).collect();
        Tensor::from_vec(rounded, dims).unwrap()
    };
    let x = draw(&[6, 3]);
    let params = SHAPES.iter().map(|s| draw(s)).collect();
    (x, params)
}

/// Loss, flat gradient and dense Hessian of the MLP computed in `T`, reported in f64.
fn evaluate<T: Element>(x: &Tensor<f64>, params: &[Tensor<f64>]) -> (f64, Vec<f64>, Vec<f64>) {
    let x = cast::<T>(x);
    let p: Vec<Tensor<T>> = params.iter().map(cast).collect();
    let so = SecondOrder::new(|p| mlp(p, &x, &LABELS), &p).unwrap();
    let to64 = |v: Vec<T>| {
        v.into_iter()
            .map(<T as Element>::to_f64)
            .collect::<Vec<f64>>()
    };
    (
        <T as Element>::to_f64(so.loss().unwrap()),
        to64(so.gradient_flat()),
        to64(so.hessian().unwrap()),
    )
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&d) / norm(b)
}

#[test]
fn f32_and_f64_agree_on_loss_gradient_and_hessian_within_f32_precision() {
    let (x, params) = problem();
    let (l64, g64, h64) = evaluate::<f64>(&x, &params);
    let (l32, g32, h32) = evaluate::<f32>(&x, &params);
    // f32 rounds at ~6e-8 per op and the errors seen here are ~1e-7; 1e-6 leaves a tenfold
    // margin, while a wrong rule or a silent detour through another precision would not fit.
    let e_loss = (l32 - l64).abs() / l64.abs();
    assert!(e_loss <= 1e-6, "loss: f32 {l32}, f64 {l64}");
    let e_grad = rel(&g32, &g64);
    assert!(e_grad <= 1e-6, "gradient: relative difference {e_grad:e}");
    let e_hess = rel(&h32, &h64);
    assert!(e_hess <= 1e-6, "Hessian: relative difference {e_hess:e}");
    // Guard against comparing two near-zero gradients, where relative errors say little.
    assert!(g64.iter().any(|g| g.abs() > 1e-3));
}

#[test]
fn f32_gradient_matches_f64_central_differences() {
    let (x, params) = problem();
    let shapes: Vec<Vec<usize>> = SHAPES.iter().map(|s| s.to_vec()).collect();
    let flat: Vec<f64> = params.iter().flat_map(|p| p.to_vec()).collect();
    let (_, g32, _) = evaluate::<f32>(&x, &params);
    let numeric = numeric_gradient(
        |theta| {
            let p = trainscope_core::testing::unflatten(theta, &shapes).unwrap();
            mlp(&p, &x, &LABELS).unwrap().item().unwrap()
        },
        &flat,
        1e-6,
    );
    // Differences in f64 are accurate to ~1e-10, so what remains is f32 rounding.
    let e = rel(&g32, &numeric);
    assert!(e <= 1e-6, "relative error {e:e}");
}

// ------------------------------------------------------------------------------- errors

fn zeros(dims: &[usize]) -> Tensor<f64> {
    Tensor::zeros(dims).unwrap()
}

#[test]
fn matmul_shape_mismatch_names_the_op_and_both_shapes() {
    let err = zeros(&[32, 10]).matmul(&zeros(&[11, 5])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in matmul: lhs [32, 10], rhs [11, 5]"
    );
    assert_eq!(
        err,
        Error::ShapeMismatch {
            op: "matmul",
            lhs: Shape::new(&[32, 10]).unwrap(),
            rhs: Shape::new(&[11, 5]).unwrap(),
        }
    );
    // The same in f32, and for operands that are not matrices at all.
    let err = Tensor::<f32>::zeros(&[32, 10])
        .unwrap()
        .matmul(&Tensor::zeros(&[11, 5]).unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in matmul: lhs [32, 10], rhs [11, 5]"
    );
    let err = zeros(&[10]).matmul(&zeros(&[10, 5])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in matmul: lhs [10], rhs [10, 5]"
    );
}

#[test]
fn broadcasting_mismatch_names_the_op() {
    let err = zeros(&[3, 2]).add(&zeros(&[4])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in add: lhs [3, 2], rhs [4]"
    );
    let err = zeros(&[2, 3]).mul(&zeros(&[2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in mul: lhs [2, 3], rhs [2]"
    );
    // Losses refuse to broadcast [N] against [N, 1], a classic silent N×N blow-up.
    let err = mse(&zeros(&[4]), &zeros(&[4, 1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in mse: lhs [4], rhs [4, 1]"
    );
}

#[test]
fn reshape_to_a_different_element_count_is_an_error() {
    let err = zeros(&[2, 3]).reshape(&[4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in reshape: lhs [2, 3], rhs [4]"
    );
}

#[test]
fn gather_index_out_of_range_is_an_error() {
    let err = zeros(&[2, 3]).gather(1, &[0, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument to gather: index 3 out of range for axis 1 of size 3"
    );
    let err = zeros(&[2, 3]).gather(2, &[0, 0]).unwrap_err();
    assert!(err.to_string().contains("gather"), "{err}");
}

#[test]
fn cross_entropy_label_out_of_range_is_an_error() {
    let err = cross_entropy(&zeros(&[2, 3]), &[0, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument to cross_entropy: label 3 out of range for 3 classes"
    );
    let err = cross_entropy(&zeros(&[2, 3]), &[0]).unwrap_err();
    assert!(err.to_string().contains("cross_entropy"), "{err}");
}

#[test]
fn rank_above_four_is_rejected() {
    let five = [1, 1, 1, 1, 2];
    let results = [
        Tensor::<f64>::from_vec(vec![0.0; 2], &five).map(|_| ()),
        Tensor::<f64>::zeros(&five).map(|_| ()),
        zeros(&[2]).reshape(&five).map(|_| ()),
        zeros(&[2]).expand(&five).map(|_| ()),
    ];
    for r in results {
        let err = r.unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankTooLarge {
                    rank: 5,
                    max: 4,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn rank_error_names_the_op_that_was_called() {
    // Errors name the thing (the crate's error contract): a rank-5 reshape deep in a model
    // must say it was a reshape.
    let err = zeros(&[2]).reshape(&[1, 1, 1, 1, 2]).unwrap_err();
    assert!(err.to_string().contains("reshape"), "message: {err}");
    let err = Tensor::<f64>::from_vec(vec![0.0; 2], &[1, 1, 1, 1, 2]).unwrap_err();
    assert!(err.to_string().contains("from_vec"), "message: {err}");
}

#[test]
fn grad_of_a_non_scalar_output_is_an_error() {
    let x = zeros(&[3]).into_param();
    let err = grad(&x.mul_scalar(2.0), &[x], false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("invalid argument to grad: output must have one element, shape is [3]"),
        "{msg}"
    );
}

// ------------------------------------------------------------------------ recording modes

#[test]
fn no_grad_records_nothing_and_restores_recording() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])
        .unwrap()
        .into_param();
    let y = no_grad(|| x.mul(&x).unwrap().exp().sum());
    assert!(!y.requires_grad());
    // The values are still computed: e¹ + e⁴.
    assert!((y.item().unwrap() - (1f64.exp() + 4f64.exp())).abs() < 1e-12);
    // Nothing was recorded, so y does not depend on x as far as differentiation goes.
    assert_eq!(
        grad(&y, std::slice::from_ref(&x), false).unwrap()[0].to_vec(),
        [0.0, 0.0]
    );

    assert!(is_grad_enabled());
    assert!(x.mul(&x).unwrap().requires_grad());

    // Guards nest: an inner guard's drop restores "off", not "on".
    {
        let _outer = NoGradGuard::new();
        {
            let _inner = NoGradGuard::new();
        }
        assert!(!is_grad_enabled());
        assert!(!x.exp().requires_grad());
    }
    assert!(is_grad_enabled());
}

// -------------------------------------------------------------------------- copy-on-write

#[test]
fn data_mut_on_a_parameter_held_by_a_graph_leaves_the_graph_unchanged() {
    let mut p = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])
        .unwrap()
        .into_param();
    let view = p.reshape(&[2, 1]).unwrap();
    let held = p.clone();
    let loss = p.powf(3.0).sum();

    p.data_mut()[0] = 100.0;

    assert_eq!(p.data(), &[100.0, 2.0]);
    assert_eq!(held.data(), &[1.0, 2.0]);
    assert_eq!(view.data(), &[1.0, 2.0]);
    assert_eq!(loss.item().unwrap(), 9.0);
    // The recorded graph still differentiates at the old values: 3x² at (1, 2).
    let g = grad(&loss, &[held], false).unwrap();
    assert_eq!(g[0].to_vec(), [3.0, 12.0]);
}

#[test]
fn data_mut_on_an_unshared_parameter_updates_in_place() {
    // A training step must not copy every parameter when nothing else holds it.
    let mut p = Tensor::<f64>::zeros(&[4]).unwrap().into_param();
    let before = p.data().as_ptr();
    p.data_mut()[1] = 5.0;
    assert_eq!(p.data().as_ptr(), before);
    assert_eq!(p.data(), &[0.0, 5.0, 0.0, 0.0]);
    assert!(p.requires_grad());
}

// ----------------------------------------------------------------------- random tensors

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    (m, var.sqrt())
}

#[test]
fn seeded_uniform_is_reproducible_and_in_range() {
    let draw = |seed| {
        Tensor::<f64>::uniform(&[10_000], -0.5, 1.5, &mut seeded_rng(seed))
            .unwrap()
            .to_vec()
    };
    let a = draw(3);
    assert_eq!(a, draw(3));
    assert_ne!(a, draw(4));
    assert!(a.iter().all(|&x| (-0.5..1.5).contains(&x)));
    // Uniform on [−0.5, 1.5): mean 0.5, std 2/√12 ≈ 0.577; with 10⁴ samples the standard
    // errors are ~0.006 (mean) and ~0.004 (std), so 0.03 is five of them.
    let (m, s) = mean_std(&a);
    assert!((m - 0.5).abs() < 0.03, "mean {m}");
    assert!((s - 2.0 / 12f64.sqrt()).abs() < 0.03, "std {s}");
    // One generator advanced twice gives fresh samples, not a repeat.
    let mut rng = seeded_rng(3);
    let first = Tensor::<f64>::uniform(&[8], 0.0, 1.0, &mut rng).unwrap();
    let second = Tensor::<f64>::uniform(&[8], 0.0, 1.0, &mut rng).unwrap();
    assert_ne!(first.to_vec(), second.to_vec());
    assert!(Tensor::<f64>::uniform(&[2], 1.0, 1.0, &mut rng).is_err());
}

#[test]
fn seeded_normal_is_reproducible_with_the_right_moments() {
    let draw = |seed| {
        Tensor::<f64>::normal(&[20_000], 2.0, 3.0, &mut seeded_rng(seed))
            .unwrap()
            .to_vec()
    };
    let a = draw(5);
    assert_eq!(a, draw(5));
    assert_ne!(a, draw(6));
    // Standard errors with 2·10⁴ samples: 3/√n ≈ 0.021 for the mean, 3/√(2n) ≈ 0.015 for the
    // std; the bounds are about five of them.
    let (m, s) = mean_std(&a);
    assert!((m - 2.0).abs() < 0.1, "mean {m}");
    assert!((s - 3.0).abs() < 0.08, "std {s}");

    let b = Tensor::<f32>::normal(&[20_000], -1.0, 0.5, &mut seeded_rng(5)).unwrap();
    let b: Vec<f64> = b.data().iter().map(|&x| x as f64).collect();
    let (m, s) = mean_std(&b);
    assert!((m + 1.0).abs() < 0.02, "f32 mean {m}");
    assert!((s - 0.5).abs() < 0.015, "f32 std {s}");
    let err = Tensor::<f64>::normal(&[2], 0.0, f64::NAN, &mut seeded_rng(0)).unwrap_err();
    assert!(err.to_string().contains("normal"), "{err}");
}

#[test]
fn f32_uniform_samples_stay_below_high() {
    // The documented range is [low, high). Samples are drawn in f64 and then rounded to f32;
    // over a range only a few f32 steps wide, rounding to nearest lands on `high` often, so
    // any rounding past the upper bound shows up here deterministically.
    let low = 1.0f32;
    let high = 1.0f32 + 4.0 * f32::EPSILON;
    let t = Tensor::<f32>::uniform(&[1000], low, high, &mut seeded_rng(0)).unwrap();
    let at_high = t.data().iter().filter(|&&x| x >= high).count();
    assert_eq!(at_high, 0, "{at_high} of 1000 samples equal high = {high}");
    assert!(t.data().iter().all(|&x| x >= low));
}

#[test]
fn gathered_rows_equal_the_source_rows_on_one_and_two_threads() {
    use trainscope_core::set_num_threads;
    let (rows, len) = (1000usize, 784usize);
    let source: Vec<f32> = (0..rows * len).map(|i| i as f32).collect();
    // 256 rows × 784: large enough to be split over threads; repeats and reversed order.
    let idx: Vec<usize> = (0..256).map(|i| (i * 397 + 11) % rows).rev().collect();
    for threads in [2, 1] {
        set_num_threads(threads);
        let t = Tensor::gather_rows(&source, len, &idx).unwrap();
        assert_eq!(t.dims(), &[256, len]);
        for (k, row) in t.data().chunks_exact(len).enumerate() {
            assert_eq!(
                row,
                &source[idx[k] * len..(idx[k] + 1) * len],
                "row {k}, {threads} threads"
            );
        }
    }
    set_num_threads(0);
    let err = Tensor::gather_rows(&source, len, &[5, rows])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gather_rows") && err.contains("row 1000"),
        "{err}"
    );
}
