//! Each detector on synthetic run records: it fires on the pattern it names and stays silent on
//! healthy curves with mini-batch noise, cosine schedules ending at zero, and converged runs.

use trainscope_findings::{
    find, ColumnScale, DataFacts, EpochFacts, Kind, LayerFacts, OptimizerFacts, Report, RunFacts,
    Severity, UnitActivity,
};

/// A deterministic value in [-1, 1).
fn noise(i: usize) -> f64 {
    let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    2.0 * (h as f64 / (1u64 << 53) as f64) - 1.0
}

fn epochs(
    n: usize,
    loss: impl Fn(usize) -> f64,
    grad: impl Fn(usize) -> f64,
    lr: impl Fn(usize) -> f64,
) -> Vec<EpochFacts> {
    (0..n)
        .map(|i| EpochFacts {
            epoch: i as u64 + 1,
            train_loss: loss(i),
            grad_norm: Some(grad(i)),
            lr: Some(lr(i)),
            ..Default::default()
        })
        .collect()
}

fn facts(epochs: Vec<EpochFacts>, kind: &str, lr: f64) -> RunFacts {
    RunFacts {
        epochs_planned: epochs.len(),
        epochs,
        updates_per_epoch: 10,
        baseline_train_loss: Some(1.0),
        optimizer: OptimizerFacts {
            kind: kind.into(),
            lr,
            ..Default::default()
        },
        layers: vec![
            LayerFacts {
                name: "0".into(),
                kind: "linear".into(),
                parameters: 32,
            },
            LayerFacts {
                name: "2".into(),
                kind: "linear".into(),
                parameters: 17,
            },
        ],
        hidden_layers: 1,
        activation: Some("relu".into()),
        ..Default::default()
    }
}

fn kinds(r: &Report) -> Vec<(Kind, Severity)> {
    r.findings.iter().map(|f| (f.kind, f.severity)).collect()
}

fn has(r: &Report, k: Kind) -> bool {
    r.findings.iter().any(|f| f.kind == k)
}

/// A healthy noisy curve: exponential decay to 1 % of the baseline with ±15 % mini-batch noise
/// per epoch, the gradient norm falling with it.
fn healthy_curve(n: usize) -> Vec<EpochFacts> {
    epochs(
        n,
        |i| (0.5 * (-(i as f64) / (n as f64 / 6.0)).exp() + 0.01) * (1.0 + 0.15 * noise(i)),
        |i| 2.0 * (-(i as f64) / (n as f64 / 4.0)).exp() + 0.2 * (1.0 + 0.3 * noise(1000 + i)),
        |_| 0.01,
    )
}

#[test]
fn a_noisy_healthy_run_has_no_finding() {
    for n in [10, 60, 1000] {
        let r = find(&facts(healthy_curve(n), "adam", 0.01));
        assert!(r.findings.is_empty(), "{n}: {:?}", kinds(&r));
    }
}

#[test]
fn a_cosine_schedule_ending_at_zero_is_not_a_vanished_rate_or_a_critical_point() {
    let n = 1000;
    let mut e = healthy_curve(n);
    for (i, x) in e.iter_mut().enumerate() {
        x.lr = Some(0.01 * 0.5 * (1.0 + (std::f64::consts::PI * (i + 1) as f64 / n as f64).cos()));
    }
    let mut f = facts(e, "adam", 0.01);
    f.schedule = Some("cosine".into());
    let r = find(&f);
    assert!(r.findings.is_empty(), "{:?}", kinds(&r));
}

#[test]
fn a_fall_of_a_fifth_inside_noise_is_not_flat_and_a_real_plateau_is() {
    // 18 % fall over 10 epochs with ±2 % noise: falling, so no stall can be reported.
    let e = epochs(
        10,
        |i| 0.8 * (1.0 - 0.02 * i as f64) * (1.0 + 0.02 * noise(i)),
        |_| 1.0,
        |_| 0.1,
    );
    let r = find(&facts(e, "sgd", 0.1));
    assert!(
        !has(&r, Kind::LrTooLarge) && !has(&r, Kind::CriticalPoint),
        "{:?}",
        kinds(&r)
    );
    // Flat at 0.9 of the baseline with the gradient gone: a critical point.
    let e = epochs(
        30,
        |i| {
            if i < 3 {
                1.0 - 0.03 * i as f64
            } else {
                0.9 * (1.0 + 0.001 * noise(i))
            }
        },
        |i| if i < 3 { 1.0 } else { 1e-4 },
        |_| 0.1,
    );
    let mut f = facts(e, "sgd", 0.1);
    f.full_grad_norm = Some(1e-5);
    let r = find(&f);
    assert!(has(&r, Kind::CriticalPoint), "{:?}", kinds(&r));
    // The same curve with the gradient still large: bouncing, the rate is too large.
    let e = epochs(
        30,
        |i| {
            if i < 3 {
                1.0 - 0.03 * i as f64
            } else {
                0.9 * (1.0 + 0.05 * noise(i))
            }
        },
        |_| 1.0,
        |_| 0.1,
    );
    let mut f = facts(e, "sgd", 0.1);
    f.full_grad_norm = Some(0.9);
    let r = find(&f);
    assert!(
        has(&r, Kind::LrTooLarge) && !has(&r, Kind::CriticalPoint),
        "{:?}",
        kinds(&r)
    );
    // …unless the mini-batch norm is all sampling noise: then it is a minimum, not a bounce.
    let e = epochs(
        30,
        |i| {
            if i < 3 {
                1.0 - 0.03 * i as f64
            } else {
                0.9 * (1.0 + 0.05 * noise(i))
            }
        },
        |_| 1.0,
        |_| 0.1,
    );
    let mut f = facts(e, "sgd", 0.1);
    f.full_grad_norm = Some(0.01);
    f.layers.truncate(1);
    let r = find(&f);
    assert!(
        !has(&r, Kind::LrTooLarge) && !has(&r, Kind::CriticalPoint),
        "{:?}",
        kinds(&r)
    );
    assert!(has(&r, Kind::BarelyLearned), "{:?}", kinds(&r));
}

#[test]
fn remedies_never_repeat_what_the_run_does() {
    let bouncing = || epochs(30, |i| 0.9 * (1.0 + 0.05 * noise(i)), |_| 1.0, |_| 0.1);
    let mut f = facts(bouncing(), "adam", 0.1);
    f.schedule = Some("step".into());
    f.optimizer.clip_global_norm = Some(1.0);
    let r = find(&f);
    let lr = r.of(Kind::LrTooLarge).next().expect("lr_too_large");
    for rem in &lr.remedies {
        assert_ne!(rem.value.as_deref(), Some("\"adam\""));
        assert_ne!(rem.key.as_deref(), Some("schedule"));
        assert_ne!(rem.key.as_deref(), Some("optimizer.clip_global_norm"));
    }
    assert_eq!(lr.remedies[0].key.as_deref(), Some("optimizer.lr"));
    assert_eq!(lr.remedies[0].value.as_deref(), Some("0.01"));
    let r = find(&facts(bouncing(), "sgd", 0.1));
    let lr = r.of(Kind::LrTooLarge).next().unwrap();
    assert!(lr
        .remedies
        .iter()
        .any(|x| x.value.as_deref() == Some("\"adam\"")));
}

#[test]
fn a_rate_that_vanishes_while_the_loss_falls() {
    // Falling 5 % per epoch until the rate drops to 1e-4 of its peak at epoch 11; flat after.
    let e = epochs(
        40,
        |i| if i < 10 { 0.95f64.powi(i as i32) } else { 0.95f64.powi(10) } * (1.0 + 0.002 * noise(i)),
        |_| 1.0,
        |i| if i < 10 { 0.1 } else { 1e-5 },
    );
    let mut f = facts(e, "sgd", 0.1);
    f.schedule = Some("exponential".into());
    let r = find(&f);
    let v = r
        .of(Kind::LrVanished)
        .next()
        .unwrap_or_else(|| panic!("{:?}", kinds(&r)));
    assert_eq!(v.epochs, Some([11, 40]));
    assert!(v.remedies[0].action.contains("10 updates per epoch"));
    assert_eq!(v.remedies[0].key.as_deref(), Some("schedule.unit"));
    assert_eq!(v.remedies[0].value.as_deref(), Some("\"epoch\""));
    // A run that already counts its schedule in epochs is not told to.
    f.schedule_unit = Some("epoch".into());
    let r = find(&f);
    let v = r.of(Kind::LrVanished).next().unwrap();
    assert!(
        v.remedies
            .iter()
            .all(|x| x.key.as_deref() != Some("schedule.unit")
                && !x
                    .value
                    .as_deref()
                    .unwrap_or("")
                    .contains("unit = \"update\"")),
        "{:?}",
        v.remedies
    );
    assert_eq!(v.remedies[0].key.as_deref(), Some("schedule"));
    assert!(v.remedies[0]
        .value
        .as_deref()
        .unwrap()
        .contains("unit = \"epoch\""));
    assert!(
        !has(&r, Kind::CriticalPoint) && !has(&r, Kind::LrTooLarge),
        "{:?}",
        kinds(&r)
    );
}

#[test]
fn growth_over_orders_of_magnitude_and_a_shrinking_signal_through_layers() {
    let e = epochs(20, |i| 1.0 + i as f64, |i| 1.4f64.powi(i as i32), |_| 0.1);
    assert!(has(&find(&facts(e, "sgd", 0.1)), Kind::ExplodingGradients));

    let mut f = facts(healthy_curve(40), "sgd", 0.1);
    f.layers = (0..4)
        .map(|l| LayerFacts {
            name: (2 * l).to_string(),
            kind: "linear".into(),
            parameters: 100,
        })
        .collect();
    for e in &mut f.epochs {
        e.grad_norm_per_layer = (0..4)
            .map(|l| ((2 * l).to_string(), 10f64.powi(2 * l - 6)))
            .collect();
        e.train_loss = 0.8;
    }
    let r = find(&f);
    assert!(has(&r, Kind::VanishingGradients), "{:?}", kinds(&r));
    assert_eq!(
        r.of(Kind::VanishingGradients).next().unwrap().severity,
        Severity::Warning
    );
}

#[test]
fn dead_units_and_unscaled_data() {
    let mut f = facts(healthy_curve(30), "adam", 0.01);
    f.relu_units = vec![UnitActivity {
        layer: "1".into(),
        units: 64,
        dead: 10,
    }];
    assert!(find(&f).findings.is_empty());
    f.relu_units[0].dead = 60;
    let r = find(&f);
    assert_eq!(kinds(&r), vec![(Kind::DeadUnits, Severity::Warning)]);

    let mut f = facts(healthy_curve(30), "adam", 0.01);
    f.data = Some(DataFacts {
        features: vec![ColumnScale {
            name: "a".into(),
            mean: 0.0,
            std: 1.0,
        }],
        target: Some(ColumnScale {
            name: "price".into(),
            mean: 2.0e5,
            std: 5.0e4,
        }),
        features_standardized: true,
        target_standardized: false,
    });
    let r = find(&f);
    assert_eq!(kinds(&r), vec![(Kind::UnscaledTarget, Severity::Warning)]);
    assert_eq!(
        r.findings[0].remedies[0].key.as_deref(),
        Some("data.standardize_target")
    );
    // Standardized, nothing to say.
    f.data.as_mut().unwrap().target_standardized = true;
    assert!(find(&f).findings.is_empty());
}

#[test]
fn worse_than_the_trivial_model_puts_the_cause_first() {
    let mut e = epochs(20, |i| 12.0 - 0.01 * i as f64, |_| 5.0, |_| 0.001);
    for x in &mut e {
        x.val_loss = Some(12.0);
    }
    let mut f = facts(e, "adam", 0.001);
    f.baseline_val_loss = Some(1.0);
    f.data = Some(DataFacts {
        features: vec![],
        target: Some(ColumnScale {
            name: "y".into(),
            mean: 1e5,
            std: 1e4,
        }),
        features_standardized: true,
        target_standardized: false,
    });
    let r = find(&f);
    assert_eq!(r.findings[0].kind, Kind::WorseThanBaseline);
    assert_eq!(r.findings[0].severity, Severity::Problem);
    assert_eq!(
        r.findings[0].remedies[0].key.as_deref(),
        Some("data.standardize_target")
    );
    assert!(!has(&r, Kind::BarelyLearned));
}
