//! The lectures' other optimization claims, each replayed by its preset and checked with the
//! numbers it rests on; and the new surfaces checked against the engine's own losses and
//! derivatives, so the presets measure the losses training uses.

use trainscope_core::{softmax_mse, Tensor};
use trainscope_viz::presets::{
    momentum_story, normalization_story, softmax_mse_story, story, warmup_story, Preset,
    TWO_BASINS_LOCAL_MIN, TWO_BASINS_SADDLE, WARMUP_UPDATES,
};
use trainscope_viz::{distance, two_class_data, AnalyticSurface};

/// The two-class loss through the engine: logits `(0, w x + b)` as `Z · [0, 1]`.
fn engine_loss(ce: bool, p: &[Tensor<f64>]) -> trainscope_core::Result<Tensor<f64>> {
    let (x, t) = two_class_data();
    let n = x.len();
    let rows: Vec<f64> = x.iter().flat_map(|&v| [v, 1.0]).collect();
    let xb = Tensor::from_vec(rows, &[n, 2])?;
    let z = xb.matmul(&p[0].reshape(&[2, 1])?)?;
    let logits = z.matmul(&Tensor::from_vec(vec![0.0, 1.0], &[1, 2])?)?;
    if ce {
        trainscope_core::cross_entropy(&logits, &t)
    } else {
        softmax_mse(&logits, &t)
    }
}

#[test]
fn two_class_surfaces_are_the_engines_losses_with_its_derivatives() {
    for (s, ce) in [
        (AnalyticSurface::SoftmaxMse, false),
        (AnalyticSurface::CrossEntropy, true),
    ] {
        for p in [[-6.0, 4.0], [1.0, -0.5], [2.3, 0.1], [-30.0, 12.0]] {
            let param = Tensor::from_vec(p.to_vec(), &[2]).unwrap().into_param();
            let l = engine_loss(ce, std::slice::from_ref(&param)).unwrap();
            let v = l.item().unwrap();
            assert!(
                (s.value(p[0], p[1]) - v).abs() < 1e-12 * v.abs().max(1.0),
                "{s:?} {p:?}"
            );
            let g =
                trainscope_core::grad(&l, std::slice::from_ref(&param), false).unwrap()[0].to_vec();
            let ours = s.gradient(p[0], p[1]);
            for k in 0..2 {
                assert!(
                    (ours[k] - g[k]).abs() < 1e-12,
                    "{s:?} {p:?}: {ours:?} vs {g:?}"
                );
            }
            let h = trainscope_core::hessian(|q| engine_loss(ce, q), &[param]).unwrap();
            let ours = s.hessian(p[0], p[1]);
            for (a, b) in ours.iter().flatten().zip(&h) {
                assert!((a - b).abs() < 1e-10, "{s:?} {p:?}: {ours:?} vs {h:?}");
            }
        }
        // The marked minimum is one: zero gradient, positive definite Hessian.
        let m = s.minimum().unwrap();
        let g = s.gradient(m[0], m[1]);
        assert!(g[0].hypot(g[1]) < 1e-12, "{s:?} {m:?} {g:?}");
        let h = s.hessian(m[0], m[1]);
        assert!(h[0][0] > 0.0 && h[0][0] * h[1][1] - h[0][1] * h[1][0] > 0.0);
    }
}

#[test]
fn new_surfaces_gradients_and_hessians_match_central_differences() {
    let e = 1e-5;
    for s in [
        AnalyticSurface::TwoBasins,
        AnalyticSurface::RawFeatures,
        AnalyticSurface::StandardizedFeatures,
    ] {
        for p in [[-2.2, 0.6], [0.3, -0.7], [1.9, 1.1]] {
            let g = s.gradient(p[0], p[1]);
            let fd = [
                (s.value(p[0] + e, p[1]) - s.value(p[0] - e, p[1])) / (2.0 * e),
                (s.value(p[0], p[1] + e) - s.value(p[0], p[1] - e)) / (2.0 * e),
            ];
            for k in 0..2 {
                assert!(
                    (g[k] - fd[k]).abs() < 1e-6 * fd[k].abs().max(1.0),
                    "{s:?} {p:?}"
                );
            }
            let h = s.hessian(p[0], p[1]);
            let gx = |d: f64| s.gradient(p[0] + d, p[1]);
            let col = [
                (gx(e)[0] - gx(-e)[0]) / (2.0 * e),
                (gx(e)[1] - gx(-e)[1]) / (2.0 * e),
            ];
            assert!(
                (h[0][0] - col[0]).abs() < 1e-5 * col[0].abs().max(1.0),
                "{s:?}"
            );
            assert!(
                (h[1][0] - col[1]).abs() < 1e-5 * col[1].abs().max(1.0),
                "{s:?}"
            );
        }
        let m = s.minimum().unwrap();
        let g = s.gradient(m[0], m[1]);
        assert!(g[0].hypot(g[1]) < 1e-10, "{s:?}");
    }
    // The two basins: a local minimum, a saddle point between, the lower basin past it.
    let s = AnalyticSurface::TwoBasins;
    for p in [TWO_BASINS_LOCAL_MIN, TWO_BASINS_SADDLE, [1.5, 0.0]] {
        assert_eq!(s.gradient(p[0], p[1]), [0.0, 0.0]);
    }
    assert!(s.hessian(-0.5, 0.0)[0][0] < 0.0 && s.hessian(-1.0, 0.0)[0][0] > 0.0);
    assert!(s.value(1.5, 0.0) < s.value(-1.0, 0.0) - 1.0);
}

#[test]
fn momentum_rolls_past_the_local_minimum_that_stops_gd() {
    let (t, f) = momentum_story().unwrap();
    // GD settles in the hollow: at the local minimum, gradient ~0, never past the saddle.
    assert!(distance(f.ends[0], TWO_BASINS_LOCAL_MIN) < 1e-3, "{f:?}");
    assert!(f.final_grad_norm[0] < 1e-3 && f.max_x[0] < -0.9, "{f:?}");
    // Momentum and Adam (η = 0.2) cross the saddle and end in the lower basin, far lower.
    for i in [1, 2] {
        assert!(distance(f.ends[i], [1.5, 0.0]) < 1e-3, "{i}: {f:?}");
        assert!(f.final_loss[i] < f.final_loss[0] - 1.9, "{f:?}");
        // They crossed without ever stopping: no step shorter than 1e-4 before x > 0.
        let crossed = t[i].points.iter().position(|p| p[0] > 0.0).unwrap();
        let shortest = t[i].points[..=crossed]
            .windows(2)
            .map(|w| distance(w[0], w[1]))
            .fold(f64::INFINITY, f64::min);
        assert!(shortest > 1e-4, "{i}: {shortest}");
    }
    // The smaller Adam step stops in the hollow: momentum alone is not enough.
    assert!(distance(f.ends[3], TWO_BASINS_LOCAL_MIN) < 1e-3, "{f:?}");
    let s = story(Preset::Momentum).unwrap();
    assert_eq!(s.claims.len(), 3);
    assert!(s.claims.iter().all(|c| c.held), "{:?}", s.claims);
}

#[test]
fn mse_on_softmax_crawls_where_cross_entropy_descends() {
    let (mse, ce, f) = softmax_mse_story().unwrap();
    assert_eq!(mse.points[0], ce.points[0]);
    // Both start far from their minima.
    assert!(f.mse_loss[0] > 1.4 && f.ce_loss[0] > 6.0, "{f:?}");
    // Cross-entropy closes the gap within tens of updates.
    assert!(f.ce_updates_to_99.unwrap() < 50, "{f:?}");
    assert!(f.ce_loss[1] - f.ce_loss[2] < 1e-6, "{f:?}");
    // MSE on softmax is still far above its minimum after the same 200 updates, on a plateau
    // near loss 1 (every point predicted as class 0) with a gradient 35× smaller than CE's.
    assert!(
        f.mse_loss[1] > 0.9 && f.mse_loss[1] > 3.0 * f.mse_loss[2],
        "{f:?}"
    );
    assert!(f.start_grad_norm[1] > 30.0 * f.start_grad_norm[0], "{f:?}");
    assert!(f.mse_late_grad_norm < 0.01, "{f:?}");
    let s = story(Preset::SoftmaxMse).unwrap();
    assert_eq!(s.panels.len(), 2);
    assert!(s.claims.iter().all(|c| c.held), "{:?}", s.claims);
}

#[test]
fn standardized_features_round_the_surface_and_speed_up_gd() {
    let (raw, std, f) = normalization_story().unwrap();
    let kappa = |e: [f64; 2]| e[1] / e[0];
    // Scales 1 and ≈ 7.4: the Hessian's eigenvalues differ by two orders of magnitude raw
    // and by less than a factor of two standardized (the features' correlation remains).
    assert!(kappa(f.raw_eigenvalues) > 100.0, "{f:?}");
    assert!(kappa(f.standardized_eigenvalues) < 2.0, "{f:?}");
    let n = |i: usize| f.best[i].updates.unwrap();
    // GD's best rate sits just under 2/λmax of the raw surface.
    let lr = f.best[0].lr.unwrap();
    assert!(
        lr < 2.0 / f.raw_eigenvalues[1] && lr > 0.5 / f.raw_eigenvalues[1],
        "{f:?}"
    );
    assert!(n(0) > 20 * n(3), "{f:?}");
    assert!(n(1) < n(0) / 5 && n(2) < n(0) / 5, "{f:?}");
    // The paths drawn are those runs, ending below the target.
    assert_eq!((raw.len(), std.len()), (3, 1));
    for t in raw.iter().chain(&std) {
        assert!(*t.loss.last().unwrap() <= f.target_loss, "{}", t.label);
    }
    assert!(story(Preset::Normalization)
        .unwrap()
        .claims
        .iter()
        .all(|c| c.held));
}

#[test]
fn warmup_avoids_adams_early_blow_up_and_radam_is_measured_as_it_is() {
    let (t, f) = warmup_story().unwrap();
    // Adam's first step is ≈ η in each coordinate (m̂/√v̂ = ±1): √2·0.3 ≈ 0.42, up a wall of
    // curvature 199: the loss triples at once.
    assert!((f.first_step[0] - 0.3 * 2f64.sqrt()).abs() < 1e-3, "{f:?}");
    assert!(
        f.early_max[0] > 2.0 * f.start_loss && f.early_argmax[0] <= 2,
        "{f:?}"
    );
    // With warm-up the loss never rises above its start during the warm-up.
    assert!(f.early_max[1] <= f.start_loss * (1.0 + 1e-9), "{f:?}");
    assert!(t[1].loss[WARMUP_UPDATES] < t[1].loss[0], "{f:?}");
    let s = story(Preset::Warmup).unwrap();
    assert!(s.claims[0].held && s.claims[1].held, "{:?}", s.claims);
    // RAdam's first updates are un-adapted momentum steps: with η·λmax ≈ 60 they diverge, and
    // the preset says so instead of claiming otherwise.
    assert!(f.early_max[2] > 1e3 * f.start_loss, "{f:?}");
    assert!(!s.claims[2].held);
    assert!(
        s.notes.iter().any(|n| n.contains("ρ_t ≤ 5")),
        "{:?}",
        s.notes
    );
}

#[test]
fn preset_names_round_trip() {
    for p in Preset::ALL {
        assert_eq!(Preset::from_name(p.name()).unwrap(), p);
    }
    let e = Preset::from_name("seminar").unwrap_err().to_string();
    assert!(e.contains("lecture") && e.contains("warmup"), "{e}");
}
