//! The lectures' error-surface story on the elongated bowl, claim by claim, with numbers.

use trainscope_viz::playground::{LECTURE_CLOSE, LECTURE_START};
use trainscope_viz::{
    distance, find_burst, lecture_story, oscillation, run_playground, AnalyticSurface,
    PlaygroundRun, Trajectory,
};

fn story() -> (Vec<Trajectory>, trainscope_viz::LectureFindings) {
    let s = lecture_story().unwrap();
    for (claim, held) in s.findings.claims() {
        println!("[{}] {claim}", if held { "holds" } else { "FAILS" });
    }
    (s.trajectories, s.findings)
}

#[test]
fn gd_with_large_rate_oscillates_between_the_walls() {
    let (t, f) = story();
    // η·λ_max = 1e-2 · 199.001 ≈ 1.99: the step across the valley flips sign every update
    // while its size shrinks by only 1 % per update.
    let o = f.gd_large_oscillation;
    assert_eq!(o.axis, 1);
    assert_eq!(o.pairs, 499);
    assert!(o.sign_changes >= 495, "{o:?}");
    // Along the valley the same η moves by only η·λ_min ≈ 1e-3 of the way per update:
    // x ≈ 9·(1 − 1e-3)^500 ≈ 5.5 after 500 updates.
    assert!(
        f.gd_large_final_distance > 5.0,
        "{}",
        f.gd_large_final_distance
    );
    assert!(
        f.gd_large_final_distance < 6.0,
        "{}",
        f.gd_large_final_distance
    );
    // The loss is stuck high while the gradient stays large: the "stuck ≠ small gradient"
    // signature. Over the first 50 updates the gradient norm never drops below 10.
    let g = &t[0].grad_norm;
    assert!(g[..50].iter().all(|&v| v > 10.0), "{:?}", &g[..50]);
    // A slower rate does not oscillate.
    let mut calm = t[0].clone();
    calm.points = t[1].points[..500].to_vec();
    assert!(oscillation(&calm, 1, None).fraction < 0.1);
}

#[test]
fn gd_with_tiny_rate_stalls_after_100000_updates() {
    let (t, f) = story();
    assert_eq!(t[1].steps(), 100_000);
    // Along the valley g_x = 0.1x + 0.5y ≈ 1.2 at the start, so 1e5 updates of η = 1e-7 move x
    // by about 1e-2: 9 → ≈ 8.99.
    let start = distance(LECTURE_START, [0.0, 0.0]);
    assert!((start - 9.019_977).abs() < 1e-5);
    assert!(
        f.gd_tiny_final_distance > 8.9,
        "{}",
        f.gd_tiny_final_distance
    );
    assert!(t[1].end()[0] > 8.98, "{:?}", t[1].end());
}

#[test]
fn adagrad_gets_close_then_bursts_across_the_valley() {
    let (t, f) = story();
    assert!(f.adagrad_min_distance < 1e-6, "{}", f.adagrad_min_distance);
    let b = f.adagrad_burst.expect("a burst");
    assert!(b.closest_distance < LECTURE_CLOSE);
    assert!(b.close_step > 100 && b.close_step < 600, "{b:?}");
    assert!(b.burst_step > b.close_step + 50, "{b:?}");
    // Jumps out to a tenth of a unit and more — across the valley (y), the axis whose
    // gradient had gone flat while the path rode the valley floor.
    assert!(b.burst_distance > 0.3, "{b:?}");
    assert_eq!(b.axis, 1, "{b:?}");
    assert!(
        b.displacement[1].abs() > 3.0 * b.displacement[0].abs(),
        "{b:?}"
    );
    // Plain GD near the minimum never does that: after GD η = 1e-3 first gets within the
    // radius it only comes closer.
    let gd = run_playground(
        AnalyticSurface::Bowl,
        &PlaygroundRun {
            label: "gd".into(),
            optimizer: trainscope_optim::OptimizerConfig::Sgd(trainscope_optim::SgdOptions {
                lr: 1e-3,
                ..Default::default()
            }),
            schedule: None,
            start: [0.05, 0.01],
            steps: 20_000,
        },
    )
    .unwrap();
    assert!(find_burst(&gd, [0.0, 0.0], LECTURE_CLOSE, 0.02).is_none());
    // The burst is visible in the loss too: it rises by orders of magnitude after the dip.
    let l = &t[2].loss;
    assert!(l[b.burst_step] > 1e6 * l[b.close_step + 20].max(1e-300));
}

#[test]
fn adagrad_with_decay_reaches_the_minimum_smoothly() {
    let (t, f) = story();
    assert!(f.decay_final_distance < 1e-6, "{}", f.decay_final_distance);
    assert!(f.decay_burst.is_none(), "{:?}", f.decay_burst);
    // After first entering the radius the path stays inside it.
    let d = t[3].distances_to([0.0, 0.0]);
    let first = d.iter().position(|&v| v < LECTURE_CLOSE).unwrap();
    assert!(d[first..].iter().all(|&v| v < LECTURE_CLOSE));
    // The schedule really decays: η^1000 = 0.1/(1 + 1) = 0.05.
    assert!((t[3].lr[1000] - 0.05).abs() < 1e-15);
    assert!(f.claims().iter().all(|(_, held)| *held));
}
