//! Lecture variants against sequences computed directly from the SPEC's formulas (§3), with
//! the whole gradient history kept and each formula evaluated as written, independently of
//! the incremental implementation.

use trainscope_optim::{
    AdagradOptions, LrScheduler, Optimizer, OptimizerOptions, RmspropOptions, SgdOptions, Variant,
};

/// A fixed, awkward gradient sequence for two parameters (mixed signs, a zero, scales
/// differing by 100×). Chosen gradients, not a loss, so the formulas are tested in isolation.
const GRADS: [[f64; 2]; 6] = [
    [0.5, -2.0],
    [1.0, 1.0],
    [-3.0, 0.25],
    [0.0, -0.01],
    [2.0, 4.0],
    [-0.5, 0.5],
];

fn run(opt: &mut Optimizer<f64>) -> Vec<[f64; 2]> {
    let mut p = [vec![1.0, -1.0]];
    let mut out = Vec::new();
    for g in GRADS {
        opt.step(&mut p, &[g.to_vec()]).unwrap();
        out.push([p[0][0], p[0][1]]);
    }
    out
}

fn assert_close(got: &[[f64; 2]], want: &[[f64; 2]], tol: f64, what: &str) {
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        for i in 0..2 {
            let e = (g[i] - w[i]).abs() / w[i].abs().max(1e-300);
            assert!(
                e <= tol,
                "{what} step {t} [{i}]: {} vs {} (rel {e:.1e})",
                g[i],
                w[i]
            );
        }
    }
}

#[test]
fn adagrad_lecture_is_root_mean_square_and_first_step_is_exactly_eta() {
    let eta = 0.1;
    let mut opt = AdagradOptions {
        lr: eta,
        variant: Variant::Lecture,
        ..Default::default()
    }
    .build::<f64>()
    .unwrap();
    let got = run(&mut opt);

    // First step: σ⁰ = |g⁰|, so θ¹ = θ⁰ − η·sign(g⁰), bit for bit.
    assert_eq!(got[0], [1.0 - eta, -1.0 + eta]);

    // σ_i^t = sqrt((1/(t+1)) Σ_{s≤t} (g_i^s)²);  θ_i^{t+1} = θ_i^t − (η/σ_i^t) g_i^t.
    let mut theta = [1.0, -1.0];
    let mut want = Vec::new();
    for t in 0..GRADS.len() {
        for i in 0..2 {
            let mean_sq: f64 =
                GRADS[..=t].iter().map(|g| g[i] * g[i]).sum::<f64>() / (t + 1) as f64;
            theta[i] -= eta / mean_sq.sqrt() * GRADS[t][i];
        }
        want.push(theta);
    }
    assert_close(&got, &want, 1e-15, "adagrad lecture");
}

#[test]
fn adagrad_lecture_differs_from_pytorch_by_root_sum() {
    // Same η: after step 0 PyTorch divides by sqrt(Σ g²), the lecture by sqrt(mean g²);
    // the first steps agree (up to PyTorch's ε), the second do not.
    let lecture = run(&mut AdagradOptions {
        lr: 0.1,
        variant: Variant::Lecture,
        ..Default::default()
    }
    .build()
    .unwrap());
    let torch = run(&mut AdagradOptions {
        lr: 0.1,
        ..Default::default()
    }
    .build()
    .unwrap());
    assert!((lecture[0][0] - torch[0][0]).abs() < 1e-9);
    assert!((lecture[1][0] - torch[1][0]).abs() > 1e-3);
}

#[test]
fn rmsprop_lecture_starts_from_abs_gradient() {
    let (eta, alpha) = (0.01, 0.9);
    let mut opt = RmspropOptions {
        lr: eta,
        alpha,
        variant: Variant::Lecture,
        ..Default::default()
    }
    .build::<f64>()
    .unwrap();
    let got = run(&mut opt);
    assert_eq!(
        got[0],
        [1.0 - eta, -1.0 + eta],
        "σ⁰ = |g⁰| makes the first step ±η"
    );

    // σ⁰ = |g⁰|;  σ^t = sqrt(α (σ^{t−1})² + (1−α)(g^t)²);  θ ← θ − (η/σ^t) g^t.
    let mut theta = [1.0, -1.0];
    let mut sigma = [0.0; 2];
    let mut want = Vec::new();
    for (t, g) in GRADS.iter().enumerate() {
        for i in 0..2 {
            sigma[i] = if t == 0 {
                g[i].abs()
            } else {
                (alpha * sigma[i] * sigma[i] + (1.0 - alpha) * g[i] * g[i]).sqrt()
            };
            theta[i] -= eta / sigma[i] * g[i];
        }
        want.push(theta);
    }
    assert_close(&got, &want, 1e-14, "rmsprop lecture");
}

#[test]
fn rmsprop_pytorch_first_step_is_large() {
    // PyTorch starts the average at 0: the first step is η/sqrt(1−α) ≈ 10η for α = 0.99.
    let got = run(&mut RmspropOptions {
        lr: 0.01,
        ..Default::default()
    }
    .build()
    .unwrap());
    assert!((got[0][0] - (1.0 - 0.1)).abs() < 1e-6, "{}", got[0][0]);
}

#[test]
fn lecture_momentum_matches_formula_and_equals_pytorch_for_constant_eta() {
    let (eta, lambda) = (0.05, 0.9);
    let lecture = run(&mut SgdOptions {
        lr: eta,
        momentum: lambda,
        variant: Variant::Lecture,
        ..Default::default()
    }
    .build()
    .unwrap());
    let torch = run(&mut SgdOptions {
        lr: eta,
        momentum: lambda,
        ..Default::default()
    }
    .build()
    .unwrap());

    // m⁰ = 0; m^{t+1} = λ m^t − η g^t; θ^{t+1} = θ^t + m^{t+1}.
    let mut theta = [1.0, -1.0];
    let mut m = [0.0; 2];
    let mut want = Vec::new();
    for g in GRADS {
        for i in 0..2 {
            m[i] = lambda * m[i] - eta * g[i];
            theta[i] += m[i];
        }
        want.push(theta);
    }
    assert_close(&lecture, &want, 1e-15, "lecture momentum");
    assert_close(&torch, &want, 1e-14, "torch momentum, constant η");
}

#[test]
fn lecture_and_pytorch_momentum_differ_once_eta_changes() {
    // η halves every step. Lecture: m ← λm − η_t g keeps each step at its own η;
    // PyTorch: θ ← θ − η_t b rescales the whole accumulated buffer by the current η.
    let schedule = |t: u64| 0.1 * 0.5f64.powi(t as i32);
    let build = |variant| {
        SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            variant,
            ..Default::default()
        }
        .build_with_scheduler::<f64>(LrScheduler::from_schedule(schedule))
        .unwrap()
    };
    let lecture = run(&mut build(Variant::Lecture));
    let torch = run(&mut build(Variant::Pytorch));

    let (mut theta, mut m) = ([1.0, -1.0], [0.0; 2]);
    let mut want = Vec::new();
    for (t, g) in GRADS.iter().enumerate() {
        for i in 0..2 {
            m[i] = 0.9 * m[i] - schedule(t as u64) * g[i];
            theta[i] += m[i];
        }
        want.push(theta);
    }
    assert_close(&lecture, &want, 1e-15, "lecture momentum with schedule");
    assert!((lecture[2][0] - torch[2][0]).abs() > 1e-3);
}

#[test]
fn lecture_variants_do_not_divide_zero_by_zero() {
    // A parameter whose gradient has always been zero: σ = 0, and ε keeps the update at 0.
    for variant in [Variant::Lecture, Variant::Pytorch] {
        let mut opts: Vec<Optimizer<f64>> = vec![
            AdagradOptions {
                variant,
                ..Default::default()
            }
            .build()
            .unwrap(),
            RmspropOptions {
                variant,
                ..Default::default()
            }
            .build()
            .unwrap(),
        ];
        for opt in &mut opts {
            let mut p = [vec![1.0, 2.0]];
            for _ in 0..3 {
                opt.step(&mut p, &[vec![0.0, 1.0]]).unwrap();
            }
            assert_eq!(p[0][0], 1.0, "{variant:?}");
            assert!(p[0][1].is_finite());
        }
    }
}
