//! Timings of the Hessian analyses on the sizes the diagnostics are meant for.
//!
//! `cargo bench -p trainscope-diag`. Each case runs once or a few times (they take seconds), so
//! this is a plain timing harness rather than a statistical one.

use std::time::{Duration, Instant};
use trainscope_core::{seeded_rng, Tensor};
use trainscope_diag::{
    analyse, lanczos_extremes, AnalysisMode, AnalysisOptions, EvalOptions, LanczosOptions,
    LossFunction, Targets,
};
use trainscope_nn::{Activation, Loss, ModelSpec, Sequential};

fn mlp(
    inputs: usize,
    hidden: &[usize],
    outputs: usize,
    act: Activation,
    rows: usize,
    batch: usize,
) -> LossFunction<'static> {
    let spec = ModelSpec::mlp(inputs, hidden, act, false, 0.0, outputs);
    let model = Sequential::<f64>::from_seed(spec, 0).unwrap();
    let mut rng = seeded_rng(1);
    let x = Tensor::<f64>::normal(&[rows, inputs], 0.0, 1.0, &mut rng).unwrap();
    let y = Tensor::<f64>::normal(&[rows, outputs], 0.0, 1.0, &mut rng).unwrap();
    LossFunction::from_model(
        model,
        x.data(),
        Targets::Values {
            data: y.to_vec(),
            width: outputs,
        },
        Loss::Mse,
        EvalOptions {
            batch_size: batch,
            ..Default::default()
        },
    )
    .unwrap()
}

fn sinc(hidden: usize, rows: usize) -> LossFunction<'static> {
    let spec = ModelSpec::mlp(1, &[hidden], Activation::Relu, false, 0.0, 1);
    let model = Sequential::<f64>::from_seed(spec, 0).unwrap();
    let x: Vec<f64> = (0..rows)
        .map(|i| -1.0 + 2.0 * i as f64 / (rows - 1) as f64)
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
    LossFunction::from_model(
        model,
        &x,
        Targets::Values { data: y, width: 1 },
        Loss::Mse,
        EvalOptions::default(),
    )
    .unwrap()
}

fn time<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn dense_case(name: &str, f: &LossFunction<'_>, target_s: f64) {
    let theta = f.initial_parameters();
    let opts = AnalysisOptions {
        mode: AnalysisMode::Dense,
        density: None,
        ..Default::default()
    };
    let (h, t_h) = time(|| f.hessian(&theta).unwrap());
    let (_, t_e) = time(|| trainscope_diag::symmetric_eigen(&h, f.num_params()).unwrap());
    drop(h);
    let (r, t_all) = time(|| analyse(f, &theta, &opts).unwrap());
    println!(
        "{name}: {} parameters, {} examples: Hessian {:.3} s + eigendecomposition {:.3} s; \
         analyse (dense) {:.3} s (target < {target_s} s); λ ∈ [{:.3e}, {:.3e}]",
        f.num_params(),
        f.num_examples(),
        t_h.as_secs_f64(),
        t_e.as_secs_f64(),
        t_all.as_secs_f64(),
        r.smallest[0].value,
        r.largest.last().unwrap().value
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects cases by substring.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| filter.as_deref().map_or(true, |f| name.contains(f));

    if run("dense_sinc") {
        dense_case("dense_sinc_1_128_1", &sinc(128, 1000), 1.0);
    }
    if run("dense_mlp3000") {
        // 12 → 60 → 36 → 1, tanh: 3,013 parameters.
        dense_case(
            "dense_mlp3000",
            &mlp(12, &[60, 36], 1, Activation::Tanh, 1000, 1000),
            20.0,
        );
    }
    if run("lanczos_100k") {
        // 128 → 256 → 256 → 10, ReLU: 101,386 parameters; 10,000 examples in batches of 1,000.
        let f = mlp(128, &[256, 256], 10, Activation::Relu, 10_000, 1000);
        let theta = f.initial_parameters();
        let (_, t_g) = time(|| {
            for _ in 0..3 {
                f.gradient(&theta).unwrap();
            }
        });
        let t_g = t_g / 3;
        let (h, t_build) = time(|| f.hessian_at(&theta).unwrap());
        let v: Vec<f64> = (0..f.num_params())
            .map(|i| ((i % 7) as f64 - 3.0) / 3.0)
            .collect();
        let (_, t_hvp) = time(|| {
            for _ in 0..3 {
                h.hvp(&v).unwrap();
            }
        });
        let t_hvp = t_hvp / 3;
        println!(
            "hvp_vs_gradient: {} parameters, {} examples: gradient {:.3} s, graph build {:.3} s \
             (cached: {}), HVP {:.3} s = {:.2}× the gradient (target ≤ 3×)",
            f.num_params(),
            f.num_examples(),
            t_g.as_secs_f64(),
            t_build.as_secs_f64(),
            h.graphs_cached(),
            t_hvp.as_secs_f64(),
            t_hvp.as_secs_f64() / t_g.as_secs_f64()
        );
        // The residual tolerance decides the step count: 1e-4·λ_max bounds each eigenvalue's
        // error by 1e-4·λ_max (Bauer–Fike) and, with the gaps of the top of a spectrum,
        // usually by its square over the gap.
        for tol in [1e-4, 1e-6] {
            let opts = LanczosOptions {
                k_largest: 20,
                k_smallest: 0,
                max_steps: 300,
                tol,
                seed: 0,
            };
            let (r, t_l) = time(|| lanczos_extremes(&h, &opts).unwrap());
            println!(
                "lanczos_100k_top20 (tol {tol:.0e}): {:.3} s for {} steps + {:.3} s graph build \
                 (target < 30 s); converged {}; λ_max {:.6e}, 20th {:.6e}; worst residual {:.2e}",
                t_l.as_secs_f64(),
                r.steps,
                t_build.as_secs_f64(),
                r.converged,
                r.largest.last().unwrap().value,
                r.largest[0].value,
                r.largest.iter().map(|x| x.residual).fold(0.0, f64::max)
            );
        }
    }
}
