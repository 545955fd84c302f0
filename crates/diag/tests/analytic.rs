//! Functions whose Hessians are known in closed form, through the closure path.

use trainscope_core::{Result as CoreResult, Tensor};
use trainscope_diag::{
    analyse, course_verdict, escape_from, lanczos_extremes, verdict, AnalysisMode, AnalysisOptions,
    Counts, DenseOperator, Error, EscapeOptions, LanczosOptions, LossFunction, Thresholds, Verdict,
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
        "course_verdict",
        "flat_directions",
        "verdict_note",
        "flat_note",
        "thresholds",
        "mode",
        "eval_mode_note",
    ] {
        assert!(json.get(key).is_some(), "report JSON lacks {key}");
    }
    assert_eq!(json["verdict"], "saddle_point");
    assert_eq!(json["course_verdict"], "saddle_point");
    assert!(json["verdict_note"].is_null());
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
    // Eigenvalues 1, 1e-13 and −1e-13: with a bare "< 0" test the −1e-13 would make a saddle
    // by noise; with the tolerance both tiny ones are zero.
    let c = Counts::of(&[1.0, 1e-13, -1e-13], 1e-6);
    assert_eq!((c.positive, c.negative, c.zero), (1, 0, 2));
    assert!((c.min_ratio() - 1.0 / 3.0).abs() < 1e-15);
    let t = Thresholds::default();
    assert_eq!(verdict(1e-4, -1e-13, 1.0, &t), Verdict::LocalMinimumLike);
    // The course's rule counts the two zeros against the one positive: ratio 1/3 ≤ 0.5.
    assert_eq!(
        course_verdict(1e-4, Some(&c), -1e-13, 1.0, &t),
        Some(Verdict::SaddlePoint)
    );
    assert_eq!(verdict(2e-3, -1e-13, 1.0, &t), Verdict::NotACriticalPoint);
    assert_eq!(
        course_verdict(2e-3, None, -1e-13, 1.0, &t),
        Some(Verdict::NotACriticalPoint)
    );
    assert_eq!(verdict(0.0, 0.0, 0.0, &t), Verdict::Flat);
    // Above the tolerance a negative eigenvalue is a way down.
    assert_eq!(verdict(1e-4, -1e-5, 1.0, &t), Verdict::SaddlePoint);
    assert_eq!(verdict(1e-4, -1.0, 1e-7, &t), Verdict::LocalMaximum);
    // The course's threshold is configurable; the verdict does not depend on it.
    let loose = Thresholds {
        min_ratio: 0.3,
        ..t
    };
    assert_eq!(
        course_verdict(1e-4, Some(&c), -1e-13, 1.0, &loose),
        Some(Verdict::LocalMinimumLike)
    );
    assert_eq!(
        verdict(1e-4, -1e-13, 1.0, &loose),
        Verdict::LocalMinimumLike
    );
    // Without counts (iterative mode, no density) the course's rule cannot be applied.
    assert_eq!(course_verdict(1e-4, None, -1e-13, 1.0, &t), None);
}

/// `Σ_k c_k (Σ_{i ∈ group k} w_i − 1)²` over `groups` groups of `size` parameters each.
///
/// At `w_i = 1/size` every group sums to 1, so the gradient is 0. The Hessian is block
/// diagonal with blocks `2 c_k · 11ᵀ`: per group one eigenvalue `2 c_k · size` (eigenvector
/// along `1`) and `size − 1` zeros (moving weight between members of a group changes nothing).
fn grouped_sums(c: Vec<f64>, size: usize) -> LossFunction<'static> {
    let groups = c.len();
    LossFunction::from_closure(
        move |p: &[Tensor<f64>]| -> CoreResult<Tensor<f64>> {
            let coef = Tensor::from_vec(c.clone(), &[groups])?;
            let s = p[0]
                .reshape(&[groups, size])?
                .sum_axis(1, false)?
                .add_scalar(-1.0)
                .powf(2.0);
            Ok(s.mul(&coef)?.sum())
        },
        vec![vec![groups * size]],
        None,
    )
    .unwrap()
}

#[test]
fn flat_minimum_with_more_zero_than_positive_eigenvalues_is_not_a_saddle() {
    // L = (w1 + w2 + w3 + w4 − 1)²: H = 2·11ᵀ, eigenvalues {0, 0, 0, 8}. Nothing goes down;
    // the course's ratio 1/4 ≤ 0.5 still calls it a saddle.
    let f = grouped_sums(vec![1.0], 4);
    let theta = [0.25; 4];
    let r = analyse(&f, &theta, &dense()).unwrap();
    assert_eq!(r.grad_norm, 0.0);
    let eig = r.eigenvalues.clone().unwrap();
    assert!((eig[3] - 8.0).abs() < 1e-12, "{eig:?}");
    assert!(eig[..3].iter().all(|l| l.abs() < 1e-12), "{eig:?}");
    assert_eq!(
        (r.positive, r.negative, r.zero),
        (Some(1), Some(0), Some(3))
    );
    assert_eq!(r.min_ratio, Some(0.25));
    assert_eq!(r.verdict, Verdict::LocalMinimumLike);
    assert_eq!(r.course_verdict, Some(Verdict::SaddlePoint));
    assert_eq!(r.flat_directions, Some(3));
    let note = r.verdict_note.as_deref().expect("the verdicts disagree");
    assert!(
        note.contains("saddle point") && note.contains("3 zero eigenvalues"),
        "{note}"
    );
    let flat = r
        .flat_note
        .as_deref()
        .expect("flat directions are inconclusive");
    assert!(
        flat.contains("inconclusive") && flat.contains("3 flat"),
        "{flat}"
    );
    // No eigenvalue below zero: no escape direction.
    assert!(r.most_negative().is_none());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["verdict"], "local_minimum_like");
    assert_eq!(json["course_verdict"], "saddle_point");
    assert_eq!(json["flat_directions"], 3);
    assert!(json["verdict_note"].is_string() && json["flat_note"].is_string());
    let text = r.to_string();
    assert!(
        text.contains("verdict: local-minimum-like")
            && text.contains("course's verdict: saddle point"),
        "{text}"
    );
}

#[test]
fn a_negative_eigenvalue_makes_a_saddle_even_when_the_course_says_minimum() {
    // L = x₁² + … + x₄² − y²: four directions up, one down; ratio 4/5 > 0.5.
    let f = LossFunction::from_closure(
        |p: &[Tensor<f64>]| -> CoreResult<Tensor<f64>> {
            let sign = Tensor::from_vec(vec![1.0, 1.0, 1.0, 1.0, -1.0], &[5])?;
            Ok(p[0].powf(2.0).mul(&sign)?.sum())
        },
        vec![vec![5]],
        None,
    )
    .unwrap();
    let r = analyse(&f, &[0.0; 5], &dense()).unwrap();
    assert_eq!(
        r.eigenvalues.as_deref(),
        Some(&[-2.0, 2.0, 2.0, 2.0, 2.0][..])
    );
    assert_eq!(r.verdict, Verdict::SaddlePoint);
    assert_eq!(r.course_verdict, Some(Verdict::LocalMinimumLike));
    assert_eq!(r.flat_directions, Some(0));
    assert!(r.flat_note.is_none());
    let note = r.verdict_note.as_deref().unwrap();
    assert!(note.contains("1 eigenvalue(s) are negative"), "{note}");
    assert!(r.most_negative().is_some());
}

#[test]
fn the_saddle_x2_minus_y2_is_a_saddle_by_both_rules() {
    let r = analyse(&quadratic(1.0, -1.0), &[0.0, 0.0], &dense()).unwrap();
    assert_eq!(r.verdict, Verdict::SaddlePoint);
    assert_eq!(r.course_verdict, Some(Verdict::SaddlePoint));
    assert_eq!(
        (r.flat_directions, &r.verdict_note, &r.flat_note),
        (Some(0), &None, &None)
    );
}

#[test]
fn iterative_mode_decides_a_flat_minimum_and_a_saddle_like_the_dense_mode() {
    // 100 groups of 4 (400 parameters): eigenvalues 8·c_k ∈ [8, 16] and 300 zeros, ratio 0.25.
    let mut c: Vec<f64> = (0..100).map(|k| 1.0 + k as f64 / 99.0).collect();
    let theta = vec![0.25; 400];
    let iterative = AnalysisOptions {
        mode: AnalysisMode::Iterative,
        ..Default::default()
    };
    for negative in [false, true] {
        if negative {
            // One group curving down: eigenvalue −8, a way down.
            c[0] = -1.0;
        }
        let f = grouped_sums(c.clone(), 4);
        let d = analyse(&f, &theta, &dense()).unwrap();
        let it = analyse(&f, &theta, &iterative).unwrap();
        let (want, course) = if negative {
            (Verdict::SaddlePoint, Verdict::SaddlePoint)
        } else {
            (Verdict::LocalMinimumLike, Verdict::SaddlePoint)
        };
        assert_eq!(d.zero, Some(300));
        assert_eq!((d.verdict, d.course_verdict), (want, Some(course)));
        assert_eq!(it.verdict, want, "{it}");
        assert_eq!(it.course_verdict, Some(course), "{it}");
        let z = it.flat_directions.unwrap();
        assert!((290..=310).contains(&z), "estimated zero count {z}");
        assert_eq!(it.verdict_note.is_some(), !negative, "{it}");
        assert_eq!(it.flat_note.is_some(), !negative, "{it}");
    }
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
