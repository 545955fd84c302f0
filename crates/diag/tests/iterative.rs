//! The iterative mode against the dense one on a network of about 2,000 parameters.

mod common;

use common::{adam, synthetic_mlp};
use trainscope_diag::{
    analyse, density_from_eigenvalues, AnalysisMode, AnalysisOptions, DensityOptions, EvalOptions,
    LanczosOptions,
};

#[test]
fn lanczos_trace_and_density_agree_with_the_dense_spectrum() {
    // 8 → 48 → 32 → 1, tanh: 2,033 parameters; 300 examples in 3 batches.
    let f = synthetic_mlp(
        8,
        &[48, 32],
        1,
        300,
        5,
        EvalOptions {
            batch_size: 100,
            ..Default::default()
        },
    );
    assert_eq!(f.num_params(), 2033);
    // Partly trained, so the spectrum has both outliers and a negative end.
    let theta = adam(&f, &f.initial_parameters(), 1e-2, 60);
    let t0 = std::time::Instant::now();
    let dense = analyse(
        &f,
        &theta,
        &AnalysisOptions {
            mode: AnalysisMode::Dense,
            ..Default::default()
        },
    )
    .unwrap();
    let t_dense = t0.elapsed();
    let eig = dense.eigenvalues.clone().unwrap();
    let n = eig.len();
    let scale = eig[0].abs().max(eig[n - 1].abs());
    let t0 = std::time::Instant::now();
    let it = analyse(
        &f,
        &theta,
        &AnalysisOptions {
            mode: AnalysisMode::Iterative,
            lanczos: LanczosOptions {
                k_largest: 5,
                k_smallest: 5,
                max_steps: 1000,
                ..Default::default()
            },
            trace_probes: 100,
            density: Some(DensityOptions {
                probes: 10,
                steps: 100,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let t_it = t0.elapsed();
    let mut worst: f64 = 0.0;
    for (k, r) in it.smallest.iter().enumerate() {
        let e = (r.value - eig[k]).abs() / scale;
        assert!(e <= 1e-6, "smallest {k}: {} vs {} ({e:e})", r.value, eig[k]);
        worst = worst.max(e);
    }
    for (k, r) in it.largest.iter().enumerate() {
        let want = eig[n - 5 + k];
        let e = (r.value - want).abs() / scale;
        assert!(e <= 1e-6, "largest {k}: {} vs {want} ({e:e})", r.value);
        worst = worst.max(e);
    }
    assert!(
        eig[0] < 0.0,
        "the test needs a negative end, smallest is {}",
        eig[0]
    );
    let exact_trace: f64 = eig.iter().sum();
    let tr = it.trace.clone().unwrap();
    let te = (tr.value - exact_trace).abs() / exact_trace.abs();
    assert!(
        te < 0.05,
        "trace {} ± {} vs {exact_trace}",
        tr.value,
        tr.std_error
    );

    // Density: the SLQ estimate against the same broadening of the exact spectrum, on the
    // SLQ grid; L1 distance of the two densities (each integrates to 1).
    let slq = it.density.clone().unwrap();
    // The exact counterpart with the library's own broadening integrates to 1 as well.
    let exact = density_from_eigenvalues(&eig, 401, 0.01);
    let dxe = exact.grid[1] - exact.grid[0];
    assert!((exact.density.iter().sum::<f64>() * dxe - 1.0).abs() < 1e-3);
    let dx = slq.grid[1] - slq.grid[0];
    let exact_on_grid: Vec<f64> = slq
        .grid
        .iter()
        .map(|&t| {
            eig.iter()
                .map(|&l| {
                    (-0.5 * ((t - l) / slq.sigma).powi(2)).exp()
                        / (slq.sigma * (2.0 * std::f64::consts::PI).sqrt())
                })
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let l1: f64 = slq
        .density
        .iter()
        .zip(&exact_on_grid)
        .map(|(a, b)| (a - b).abs() * dx)
        .sum();
    let mass: f64 = slq.density.iter().map(|d| d * dx).sum();
    assert!(
        (mass - 1.0).abs() < 0.02,
        "SLQ density integrates to {mass}"
    );
    assert!(
        l1 < 0.15,
        "L1 distance between SLQ and exact densities {l1}"
    );
    // Histogram check: fraction of eigenvalues in coarse bins vs the quadrature's mass.
    let (lo, hi) = (eig[0], eig[n - 1]);
    let bins = 8;
    let mut hist_err: f64 = 0.0;
    for b in 0..bins {
        let a = lo + (hi - lo) * b as f64 / bins as f64 - if b == 0 { 1.0 } else { 0.0 };
        let c = lo + (hi - lo) * (b + 1) as f64 / bins as f64;
        let frac = eig.iter().filter(|&&l| l > a && l <= c).count() as f64 / n as f64;
        hist_err = hist_err.max((slq.mass_between(a, c) - frac).abs());
    }
    assert!(hist_err < 0.1, "histogram bin error {hist_err}");
    // Estimated counts are close to the exact ones.
    let (p_exact, p_est) = (dense.positive.unwrap() as f64, it.positive.unwrap() as f64);
    assert!(it.counts_estimated);
    // Counts near zero cannot be resolved by quadrature; the stated range must hold the truth.
    let [lo, hi] = it.min_ratio_range.unwrap();
    let exact_ratio = dense.min_ratio.unwrap();
    assert!(
        lo - 0.05 <= exact_ratio && exact_ratio <= hi + 0.05,
        "exact ratio {exact_ratio} outside [{lo}, {hi}]"
    );
    println!(
        "n = {n}: dense {t_dense:?}, iterative {t_it:?} ({} Lanczos steps, {} HVPs); worst \
         extreme-eigenvalue error {worst:.2e} (relative to max|λ| = {scale:.3e}); trace {:.6} ± \
         {:.2e} vs exact {exact_trace:.6} ({:.3}%); density L1 {l1:.3}, bin error {hist_err:.3}; \
         positive {p_exact} exact vs {p_est} estimated (ratio range [{lo:.3}, {hi:.3}], exact {exact_ratio:.3}); λ_min {:.4e}",
        it.lanczos_steps,
        it.hessian_vector_products,
        tr.value,
        tr.std_error,
        100.0 * te,
        eig[0]
    );
    println!("{it}");
}
