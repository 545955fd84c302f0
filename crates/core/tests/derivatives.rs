//! Every primitive and composite: the gradient against central finite differences and the
//! Hessian-vector product against finite differences of the gradient, in f64, on random
//! inputs (broadcasting cases included).

use rand::Rng as _;
use trainscope_core::testing::{gradients, hessian_vector_products, rel_err, LossFn};
use trainscope_core::{seeded_rng, Result, Tensor};

type Op = fn(&[Tensor<f64>]) -> Result<Tensor<f64>>;

struct Case {
    name: &'static str,
    shapes: &'static [&'static [usize]],
    /// Inputs are drawn from ±[lo, hi] (sign random unless `positive`), which keeps them away
    /// from kinks (|x| ≥ lo) and from singularities.
    lo: f64,
    hi: f64,
    positive: bool,
    f: Op,
}

const fn case(name: &'static str, shapes: &'static [&'static [usize]], f: Op) -> Case {
    Case {
        name,
        shapes,
        lo: 0.0,
        hi: 1.5,
        positive: false,
        f,
    }
}

const fn away(name: &'static str, shapes: &'static [&'static [usize]], f: Op) -> Case {
    Case {
        name,
        shapes,
        lo: 0.2,
        hi: 1.5,
        positive: false,
        f,
    }
}

const fn pos(name: &'static str, shapes: &'static [&'static [usize]], f: Op) -> Case {
    Case {
        name,
        shapes,
        lo: 0.5,
        hi: 2.0,
        positive: true,
        f,
    }
}

fn mask(dims: &[usize]) -> Tensor<f64> {
    let n: usize = dims.iter().product();
    Tensor::from_vec(
        (0..n)
            .map(|i| ((i * 7 + 3) % 3 == 0) as u8 as f64)
            .collect(),
        dims,
    )
    .unwrap()
}

const CASES: &[Case] = &[
    // primitives
    case("add same", &[&[3, 4], &[3, 4]], |p| p[0].add(&p[1])),
    case("add row broadcast", &[&[3, 4], &[4]], |p| p[0].add(&p[1])),
    case("add outer broadcast", &[&[3, 1], &[1, 4]], |p| {
        p[0].add(&p[1])
    }),
    case("add general broadcast", &[&[2, 3, 4], &[3, 1]], |p| {
        p[0].add(&p[1])
    }),
    case("sub column broadcast", &[&[3, 4], &[3, 1]], |p| {
        p[0].sub(&p[1])
    }),
    case("sub scalar", &[&[], &[2, 3]], |p| p[0].sub(&p[1])),
    case("mul same", &[&[3, 4], &[3, 4]], |p| p[0].mul(&p[1])),
    case("mul broadcast", &[&[2, 3, 4], &[1, 3, 1]], |p| {
        p[0].mul(&p[1])
    }),
    case("mul self", &[&[5]], |p| p[0].mul(&p[0])),
    pos("div same", &[&[3, 4], &[3, 4]], |p| p[0].div(&p[1])),
    pos("div broadcast", &[&[3, 4], &[4]], |p| p[0].div(&p[1])),
    case("affine", &[&[3, 4]], |p| Ok(p[0].affine(-1.7, 0.3))),
    case("neg", &[&[6]], |p| Ok(p[0].neg())),
    case("exp", &[&[3, 4]], |p| Ok(p[0].exp())),
    pos("log", &[&[3, 4]], |p| Ok(p[0].log())),
    pos("sqrt", &[&[3, 4]], |p| Ok(p[0].sqrt())),
    case("powf 3", &[&[3, 4]], |p| Ok(p[0].powf(3.0))),
    case("powf 2", &[&[3, 4]], |p| Ok(p[0].powf(2.0))),
    pos("powf -1.5", &[&[3, 4]], |p| Ok(p[0].powf(-1.5))),
    away("abs", &[&[3, 4]], |p| Ok(p[0].abs())),
    case("select", &[&[3, 4], &[3, 4]], |p| {
        mask(&[3, 4]).select(&p[0], &p[1])
    }),
    case("select broadcast", &[&[3, 4], &[4]], |p| {
        mask(&[3, 4]).select(&p[0], &p[1])
    }),
    case("matmul", &[&[3, 4], &[4, 5]], |p| p[0].matmul(&p[1])),
    case("matmul a^T", &[&[4, 3], &[4, 5]], |p| {
        p[0].matmul_t(&p[1], true, false)
    }),
    case("matmul b^T", &[&[3, 4], &[5, 4]], |p| {
        p[0].matmul_t(&p[1], false, true)
    }),
    case("matmul a^T b^T", &[&[4, 3], &[5, 4]], |p| {
        p[0].matmul_t(&p[1], true, true)
    }),
    case("matmul square self", &[&[4, 4]], |p| p[0].matmul(&p[0])),
    case("transpose", &[&[3, 5]], |p| p[0].transpose()),
    case("transpose rank 3", &[&[2, 3, 5]], |p| p[0].transpose()),
    case("reshape", &[&[3, 4]], |p| p[0].reshape(&[2, 6])),
    case("expand column", &[&[3, 1]], |p| p[0].expand(&[3, 4])),
    case("expand rank up", &[&[4]], |p| p[0].expand(&[2, 3, 4])),
    case("sum_to row", &[&[3, 4]], |p| p[0].sum_to(&[4])),
    case("sum_to column", &[&[3, 4]], |p| p[0].sum_to(&[3, 1])),
    case("sum_to general", &[&[2, 3, 4]], |p| p[0].sum_to(&[1, 3, 1])),
    case("gather axis 1", &[&[4, 3]], |p| {
        p[0].gather(1, &[2, 0, 1, 1])
    }),
    case("gather axis 0", &[&[4, 3]], |p| p[0].gather(0, &[3, 0, 2])),
    case("take_cols repeats and padding", &[&[3, 4]], |p| {
        p[0].take_cols(&[2, 0, trainscope_core::NO_COLUMN, 2, 3, 1])
    }),
    case(
        "conv2d padded",
        &[&[2, 2, 4, 4], &[3, 2, 3, 3], &[3]],
        |p| p[0].conv2d(&p[1], Some(&p[2]), (1, 1), (1, 1)),
    ),
    case(
        "conv2d strided, no bias",
        &[&[1, 1, 5, 5], &[2, 1, 2, 3]],
        |p| p[0].conv2d(&p[1], None, (2, 1), (0, 1)),
    ),
    case(
        "conv2d image times image",
        &[&[1, 2, 3, 3], &[1, 2, 3, 3]],
        |p| p[0].conv2d(&p[1], None, (1, 1), (1, 1)),
    ),
    case("max_pool2d", &[&[2, 2, 4, 4]], |p| {
        p[0].max_pool2d((2, 2), (2, 2))
    }),
    case("max_pool2d overlapping", &[&[1, 1, 5, 5]], |p| {
        p[0].max_pool2d((3, 3), (1, 1))
    }),
    case("avg_pool2d", &[&[2, 2, 4, 4]], |p| {
        p[0].avg_pool2d((2, 2), (2, 2))
    }),
    // composites
    case("sum", &[&[3, 4]], |p| Ok(p[0].sum())),
    case("mean", &[&[3, 4]], |p| Ok(p[0].mean())),
    case("sum_axis", &[&[3, 4]], |p| p[0].sum_axis(0, false)),
    case("mean_axis keepdim", &[&[3, 4]], |p| p[0].mean_axis(1, true)),
    case("max_axis", &[&[4, 5]], |p| p[0].max_axis(1, false)),
    away("relu", &[&[3, 4]], |p| Ok(p[0].relu())),
    away("relu composite", &[&[3, 4]], |p| Ok(p[0].relu_composite())),
    case("sigmoid", &[&[3, 4]], |p| {
        Ok(p[0].mul_scalar(3.0).sigmoid())
    }),
    case("tanh", &[&[3, 4]], |p| Ok(p[0].mul_scalar(2.0).tanh())),
    case("sigmoid composite", &[&[3, 4]], |p| {
        Ok(p[0].mul_scalar(3.0).sigmoid_composite())
    }),
    case("tanh composite", &[&[3, 4]], |p| {
        Ok(p[0].mul_scalar(2.0).tanh_composite())
    }),
    pos("powf -1", &[&[3, 4]], |p| Ok(p[0].powf(-1.0))),
    pos("powf 0.5", &[&[3, 4]], |p| Ok(p[0].powf(0.5))),
    case("softplus", &[&[3, 4]], |p| {
        Ok(p[0].mul_scalar(3.0).softplus())
    }),
    away("hard sigmoid", &[&[3, 4]], |p| {
        Ok(p[0].mul_scalar(2.0).hard_sigmoid())
    }),
    case("softmax", &[&[3, 4]], |p| p[0].mul_scalar(2.0).softmax(1)),
    case("log_softmax", &[&[3, 4]], |p| {
        p[0].mul_scalar(2.0).log_softmax(1)
    }),
    case("log_softmax axis 0", &[&[3, 4]], |p| p[0].log_softmax(0)),
    case("cross_entropy", &[&[4, 3]], |p| {
        trainscope_core::cross_entropy(&p[0], &[0, 2, 1, 2])
    }),
    case("mse", &[&[4, 1], &[4, 1]], |p| {
        trainscope_core::mse(&p[0], &p[1])
    }),
    away("mae", &[&[4, 2], &[4, 2]], |p| {
        trainscope_core::mae(&p[0], &p[1])
    }),
    case("softmax_mse", &[&[4, 3]], |p| {
        trainscope_core::softmax_mse(&p[0], &[1, 0, 2, 2])
    }),
    case("bce with logits", &[&[5]], |p| {
        let y = Tensor::from_vec(vec![0.0, 1.0, 0.3, 1.0, 0.0], &[5])?;
        trainscope_core::binary_cross_entropy_with_logits(&p[0].mul_scalar(2.0), &y)
    }),
];

/// Reduces any output to a scalar with fixed, distinct weights so every element counts.
fn scalarize(out: Tensor<f64>) -> Result<Tensor<f64>> {
    let n = out.numel();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + (i as f64 * 0.37).sin()).collect();
    let w = Tensor::from_vec(w, out.dims())?;
    Ok(out.mul(&w)?.sum())
}

fn inputs(c: &Case, seed: u64) -> Vec<f64> {
    let mut rng = seeded_rng(seed);
    let n: usize = c.shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    (0..n)
        .map(|_| {
            let mag = rng.random_range(c.lo..c.hi);
            if c.positive || rng.random_bool(0.5) {
                mag
            } else {
                -mag
            }
        })
        .collect()
}

fn shapes(c: &Case) -> Vec<Vec<usize>> {
    c.shapes.iter().map(|s| s.to_vec()).collect()
}

#[test]
fn gradients_match_central_differences() {
    for c in CASES {
        for seed in 0..3 {
            let x = inputs(c, seed);
            let f: &LossFn = &|p| scalarize((c.f)(p)?);
            let (exact, num) = gradients(f, &x, &shapes(c)).unwrap();
            let e = rel_err(&exact, &num);
            assert!(
                e <= 1e-6,
                "{}: gradient relative error {e:e} (seed {seed})",
                c.name
            );
        }
    }
}

#[test]
fn hessian_vector_products_match_differences_of_the_gradient() {
    for c in CASES {
        for seed in 0..2 {
            let x = inputs(c, seed);
            let v = inputs(c, seed + 100);
            let f: &LossFn = &|p| scalarize((c.f)(p)?);
            let (exact, num) = hessian_vector_products(f, &x, &shapes(c), &v).unwrap();
            let e = rel_err(&exact, &num);
            assert!(
                e <= 1e-6,
                "{}: HVP relative error {e:e} (seed {seed})",
                c.name
            );
        }
    }
}

#[test]
fn dense_hessians_are_symmetric() {
    for c in CASES {
        let x = inputs(c, 7);
        let params = trainscope_core::testing::unflatten(&x, &shapes(c)).unwrap();
        let h = trainscope_core::hessian(|p| scalarize((c.f)(p)?), &params).unwrap();
        let n = x.len();
        for i in 0..n {
            for j in 0..i {
                let (a, b) = (h[i * n + j], h[j * n + i]);
                assert!(
                    (a - b).abs() <= 1e-10 * (1.0 + a.abs().max(b.abs())),
                    "{}: H[{i},{j}] = {a} but H[{j},{i}] = {b}",
                    c.name
                );
            }
        }
    }
}

/// The fused relu, sigmoid and tanh agree with their composites in value, gradient and HVP.
#[test]
fn fused_activations_match_their_composites() {
    type Pair = (
        &'static str,
        fn(&Tensor<f64>) -> Tensor<f64>,
        fn(&Tensor<f64>) -> Tensor<f64>,
    );
    let pairs: [Pair; 3] = [
        ("relu", Tensor::relu, Tensor::relu_composite),
        ("sigmoid", Tensor::sigmoid, Tensor::sigmoid_composite),
        ("tanh", Tensor::tanh, Tensor::tanh_composite),
    ];
    let mut rng = seeded_rng(11);
    let x: Vec<f64> = (0..40).map(|_| rng.random_range(-30.0..30.0)).collect();
    let v: Vec<f64> = (0..40).map(|_| rng.random_range(-1.0..1.0)).collect();
    let vt = Tensor::from_vec(v, &[40]).unwrap();
    for (name, fused, composite) in pairs {
        let run = |f: fn(&Tensor<f64>) -> Tensor<f64>| {
            let p = Tensor::from_slice(&x, &[40]).unwrap();
            let so = trainscope_core::SecondOrder::new(
                |p| scalarize(f(&p[0])),
                std::slice::from_ref(&p),
            )
            .unwrap();
            let value = f(&p).to_vec();
            (
                value,
                so.gradient_flat(),
                so.hvp(std::slice::from_ref(&vt)).unwrap()[0].to_vec(),
            )
        };
        let (a, b) = (run(fused), run(composite));
        assert!(rel_err(&a.0, &b.0) < 1e-14, "{name}: values differ");
        assert!(rel_err(&a.1, &b.1) < 1e-13, "{name}: gradients differ");
        assert!(rel_err(&a.2, &b.2) < 1e-12, "{name}: HVPs differ");
    }
}
