//! Functions whose Hessians are known in closed form, through the closure path.

use trainscope_core::{Result as CoreResult, Tensor};
use trainscope_diag::{
    analyse, escape_from, lanczos_extremes, verdict, AnalysisMode, AnalysisOptions, Counts,
    DenseOperator, Error, EscapeOptions, LanczosOptions, LossFunction, Thresholds, Verdict,
};

/// `a·x² + b·y²` as a function of one 2-vector.
fn quadratic(a: f64, b: f64) -> LossFunction<'static> {
    LossFunction::from_closure(
        move |p: &[Tensor<f64>]| -> CoreResult<Tensor<f64>> {
            let x = p[0].gather(0, &[0])?;
            let y = p[0].gather(0, &[1])?;
            Ok(x.powf(2.0)
                .mul_scalar(a)
                .add(&y.powf(2.0).mul_scalar(b))?
                .sum())
        },
        vec![vec![2]],
        Some(vec!["xy".into()]),
    )
    .unwrap()
}

fn dense() -> AnalysisOptions {
    AnalysisOptions {
        mode: AnalysisMode::Dense,
        ..Default::default()
    }
}

#[test]
fn saddle_x2_minus_y2_and_its_escape_match_taylor_exactly() {
    let f = quadratic(1.0, -1.0);
    let theta = [0.0, 0.0];
    let r = analyse(&f, &theta, &dense()).unwrap();
    // H = diag(2, −2)
    assert_eq!(r.eigenvalues.as_deref(), Some(&[-2.0, 2.0][..]));
    assert_eq!(
        (r.positive, r.negative, r.zero),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(r.min_ratio, Some(0.5));
    assert_eq!(r.verdict, Verdict::SaddlePoint);
    assert_eq!(r.grad_norm, 0.0);
    // The escape direction is ±y.
    let u = &r.smallest_vectors[0];
    assert!(u[0].abs() < 1e-12 && (u[1].abs() - 1.0).abs() < 1e-12);
    let e = escape_from(&f, &theta, &r, &EscapeOptions::default()).unwrap();
    assert!(e.lowered && e.loss_drop > 0.0);
    // f(0, α) = −α² = ½α²λ: the quadratic model is exact at every trial step.
    for t in &e.trials {
        assert!(
            (t.actual_change - t.predicted_change).abs() <= 1e-12 * t.alpha * t.alpha,
            "α = {}: actual {} vs predicted {}",
            t.alpha,
            t.actual_change,
            t.predicted_change
        );
        assert!(t.actual_change < 0.0);
    }
    assert_eq!(e.parameters[0], 0.0);
    assert_eq!(e.parameters[1].abs(), e.alpha.abs());
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "loss",
        "grad_norm",
        "grad_norm_per_layer",
        "eigenvalues",
        "positive",
        "negative",
        "zero",
        "zero_tolerance",
        "min_ratio",
        "verdict",
        "thresholds",
        "mode",
        "eval_mode_note",
    ] {
        assert!(json.get(key).is_some(), "report JSON lacks {key}");
    }
    assert_eq!(json["verdict"], "saddle_point");
    assert_eq!(json["grad_norm_per_layer"][0]["name"], "xy");
}

#[test]
fn minimum_x2_plus_3y2() {
    let f = quadratic(1.0, 3.0);
    let r = analyse(&f, &[0.0, 0.0], &dense()).unwrap();
    assert_eq!(r.eigenvalues.as_deref(), Some(&[2.0, 6.0][..]));
    assert_eq!(r.verdict, Verdict::LocalMinimumLike);
    assert_eq!(r.min_ratio, Some(1.0));
    assert!(escape_from(&f, &[0.0, 0.0], &r, &EscapeOptions::default()).is_err());
    // Away from the minimum the gradient decides: (1, 0) has ‖g‖ = 2.
    let r = analyse(&f, &[1.0, 0.0], &dense()).unwrap();
    assert_eq!(r.grad_norm, 2.0);
    assert_eq!(r.verdict, Verdict::NotACriticalPoint);
}

#[test]
fn maximum_minus_x2_minus_y2() {
    let f = quadratic(-1.0, -1.0);
    let r = analyse(&f, &[0.0, 0.0], &dense()).unwrap();
    assert_eq!(r.eigenvalues.as_deref(), Some(&[-2.0, -2.0][..]));
    assert_eq!(r.verdict, Verdict::LocalMaximum);
    assert_eq!(r.negative, Some(2));
}

#[test]
fn rosenbrock_at_its_minimum() {
    // f = (1 − x)² + 100 (y − x²)²; at (1, 1): H = [[802, −400], [−400, 200]],
    // λ = 501 ± √(301² + 400²).
    let f = LossFunction::from_closure(
        |p: &[Tensor<f64>]| -> CoreResult<Tensor<f64>> {
            let x = p[0].gather(0, &[0])?;
            let y = p[0].gather(0, &[1])?;
            let a = x.affine(-1.0, 1.0).powf(2.0);
            let b = y.sub(&x.powf(2.0))?.powf(2.0).mul_scalar(100.0);
            Ok(a.add(&b)?.sum())
        },
        vec![vec![2]],
        None,
    )
    .unwrap();
    let theta = [1.0, 1.0];
    let h = f.hessian(&theta).unwrap();
    assert_eq!(h, vec![802.0, -400.0, -400.0, 200.0]);
    let r = analyse(&f, &theta, &dense()).unwrap();
    let d = (301.0f64.powi(2) + 400.0f64.powi(2)).sqrt();
    let want = [501.0 - d, 501.0 + d];
    let got = r.eigenvalues.clone().unwrap();
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * want[1], "{g} vs {w}");
    }
    assert_eq!(r.verdict, Verdict::LocalMinimumLike);
    assert_eq!(r.loss, 0.0);
    // The same through the iterative mode.
    let it = analyse(
        &f,
        &theta,
        &AnalysisOptions {
            mode: AnalysisMode::Iterative,
            ..Default::default()
        },
    )
    .unwrap();
    assert!((it.smallest[0].value - want[0]).abs() < 1e-9 * want[1]);
    assert!((it.largest.last().unwrap().value - want[1]).abs() < 1e-9 * want[1]);
    assert_eq!(it.verdict, Verdict::LocalMinimumLike);
    let tr = it.trace.unwrap();
    assert!((tr.value - 1002.0).abs() < 1e-6, "trace {}", tr.value);
}

#[test]
fn lanczos_finds_the_most_negative_end_not_just_the_largest_magnitude() {
    // Spectrum: a large positive outlier (what power iteration finds), a bulk, and a small
    // negative eigenvalue — the one that reveals a saddle.
    let n = 60;
    let mut eig: Vec<f64> = (0..n).map(|i| 0.01 + i as f64 * 0.02).collect();
    eig[0] = -0.05;
    eig[n - 1] = 100.0;
    // A = Q diag(eig) Qᵀ with Q a Householder reflection, so A is not diagonal.
    let v: Vec<f64> = (0..n).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
    let vv: f64 = v.iter().map(|x| x * x).sum();
    let q = |i: usize, j: usize| (if i == j { 1.0 } else { 0.0 }) - 2.0 * v[i] * v[j] / vv;
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| q(i, k) * eig[k] * q(j, k)).sum();
        }
    }
    let op = DenseOperator::new(a, n).unwrap();
    let r = lanczos_extremes(
        &op,
        &LanczosOptions {
            k_largest: 2,
            k_smallest: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r.converged, "{r:?}");
    assert!(
        (r.smallest[0].value + 0.05).abs() < 1e-9,
        "{:?}",
        r.smallest
    );
    assert!((r.smallest[1].value - eig[1]).abs() < 1e-9);
    assert!((r.largest[1].value - 100.0).abs() < 1e-9);
    // The Ritz vector is the reflected unit vector e_0.
    let x = &r.smallest_vectors[0];
    let dotv: f64 = (0..n).map(|i| x[i] * q(i, 0)).sum();
    assert!((dotv.abs() - 1.0).abs() < 1e-9);
}

#[test]
fn zero_tolerance_keeps_rounding_noise_from_deciding_the_verdict() {
    // Eigenvalues 1, 1e-13 and −1e-13: with a bare "> 0" count the ratio would be 2/3
    // (minimum-like) or 1/3 by noise; with the tolerance both tiny ones are zero.
    let c = Counts::of(&[1.0, 1e-13, -1e-13], 1e-6);
    assert_eq!((c.positive, c.negative, c.zero), (1, 0, 2));
    assert!((c.min_ratio() - 1.0 / 3.0).abs() < 1e-15);
    let t = Thresholds::default();
    assert_eq!(
        verdict(1e-4, Some(&c), -1e-13, 1.0, &t),
        Verdict::SaddlePoint
    );
    assert_eq!(
        verdict(2e-3, Some(&c), -1e-13, 1.0, &t),
        Verdict::NotACriticalPoint
    );
    assert_eq!(
        verdict(0.0, Some(&Counts::of(&[0.0, 0.0], 1e-6)), 0.0, 0.0, &t),
        Verdict::Flat
    );
    // Thresholds are configurable.
    let loose = Thresholds {
        min_ratio: 0.3,
        ..t
    };
    assert_eq!(
        verdict(1e-4, Some(&c), -1e-13, 1.0, &loose),
        Verdict::LocalMinimumLike
    );
}

#[test]
fn dense_mode_beyond_its_limits_is_an_error_that_suggests_the_iterative_mode() {
    let f = quadratic(1.0, 2.0);
    let opts = AnalysisOptions {
        mode: AnalysisMode::Dense,
        dense_max_params: 1,
        ..Default::default()
    };
    let err = analyse(&f, &[0.0, 0.0], &opts).unwrap_err();
    assert!(matches!(err, Error::TooLarge { params: 2, .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("iterative mode") && msg.contains("2 parameters"),
        "{msg}"
    );
    // Auto falls back to the iterative mode instead.
    let auto = AnalysisOptions {
        mode: AnalysisMode::Auto,
        ..opts
    };
    assert_eq!(analyse(&f, &[0.0, 0.0], &auto).unwrap().mode, "iterative");
    // Wrong lengths and bad options are errors, not panics.
    assert!(analyse(&f, &[0.0], &dense()).is_err());
    let bad = AnalysisOptions {
        thresholds: Thresholds {
            grad_tol: -1.0,
            ..Default::default()
        },
        ..dense()
    };
    assert!(analyse(&f, &[0.0, 0.0], &bad)
        .unwrap_err()
        .to_string()
        .contains("grad_tol"));
}
