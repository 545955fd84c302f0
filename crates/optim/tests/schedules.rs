//! Schedules against PyTorch (`shared/fixtures/schedules.json`, from `generate.py`'s
//! `schedule_fixtures`), plus the schedules PyTorch has no class for.
//!
//! ```python
//! def run(make, losses=None):
//!     opt = torch.optim.SGD(p, lr=base_lr); sched = make(opt); lrs = []
//!     for t in range(steps):
//!         lrs.append(opt.param_groups[0]["lr"])
//!         opt.step()
//!         sched.step() if losses is None else sched.step(losses[t])
//! ```
//!
//! So `lr[t]` is the rate of update `t` (0-based), i.e. `Schedule::lr(t)`, and the plateau
//! scheduler observes `metric_sequence[t]` *after* update `t`. Tolerance: absolute error
//! ≤ 1e-12 (rates are ≤ 0.1, so this is at least 1e-11 relative).

mod common;

use common::{f64s, fixture};
use trainscope_optim::{
    InverseTime, LrScheduler, MetricSwitch, OptimizerOptions, PlateauMode, PlateauOptions,
    ReduceOnPlateau, Schedule, ScheduleConfig, ScheduleUnit, SgdOptions, ThresholdMode,
};

#[test]
fn all_schedule_cases_match_pytorch() {
    let fix = fixture("schedules.json");
    let base_lr = fix["base_lr"].as_f64().unwrap();
    let cases = fix["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut cfg = case["schedule"].clone();
        let obj = cfg.as_object_mut().unwrap();
        // Test data riding along in the fixture, not schedule settings: a comment on the
        // Noam formula and the metrics fed to the plateau scheduler.
        obj.remove("note");
        let metrics = obj.remove("metric_sequence").map(|m| f64s(&m));
        let config: ScheduleConfig = serde_json::from_value(cfg)
            .unwrap_or_else(|e| panic!("{name}: config does not parse: {e}"));
        let mut sched = config.build(base_lr).unwrap();
        let want = f64s(&case["lr"]);
        assert_eq!(want.len(), 40, "{name}");
        for (t, &w) in want.iter().enumerate() {
            let got = sched.lr(t as u64);
            assert!(
                (got - w).abs() <= 1e-12,
                "{name} step {t}: {got} vs pytorch {w}"
            );
            if let Some(m) = &metrics {
                sched.observe(m[t]);
            }
        }
        assert_eq!(metrics.is_some(), name == "reduce_on_plateau");
    }
}

/// StepLR stepped once per epoch, the way PyTorch's examples use it (the expectation by hand:
/// `0.1 · 0.5^⌊epoch / 2⌋`, epochs from 0):
///
/// ```python
/// opt = torch.optim.SGD(p, lr=0.1)
/// sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
/// for epoch in range(5):
///     for batch in range(3):
///         lrs.append(opt.param_groups[0]["lr"]); opt.step()
///     sched.step()
/// # lrs = [0.1]*6 + [0.05]*6 + [0.025]*3
/// ```
///
/// Counted in updates (the default) the same schedule halves every 2 updates.
#[test]
fn an_epoch_unit_steps_the_schedule_once_per_epoch() {
    let step = ScheduleConfig::Step {
        step_size: 2,
        gamma: 0.5,
    };
    let sgd = SgdOptions {
        lr: 0.1,
        ..Default::default()
    };
    for unit in [ScheduleUnit::Epoch, ScheduleUnit::Update] {
        let mut opt = sgd
            .build_with_schedule::<f64>(&step)
            .unwrap()
            .with_schedule_unit(unit);
        assert_eq!(opt.schedule_unit(), unit);
        let (mut p, g) = (vec![vec![0.0]], vec![vec![1.0]]);
        let mut got = Vec::new();
        for epoch in 0..5u64 {
            assert_eq!(opt.epoch_count(), epoch);
            for _ in 0..3 {
                let next = opt.lr();
                let applied = opt.step(&mut p, &g).unwrap().lr;
                assert_eq!(next, applied);
                got.push(applied);
            }
            opt.end_epoch();
        }
        // Update t (0-based) of epoch ⌊t / 3⌋.
        let want: Vec<f64> = (0..15u64)
            .map(|t| match unit {
                ScheduleUnit::Epoch => 0.1 * 0.5f64.powi((t / 3 / 2) as i32),
                ScheduleUnit::Update => 0.1 * 0.5f64.powi((t / 2) as i32),
            })
            .collect();
        assert_eq!(got, want, "{unit:?}");
    }
}

#[test]
fn inverse_time_is_lr_over_one_plus_gamma_t() {
    let s = InverseTime::new(0.5, 0.25, 1).unwrap();
    for t in 0..20u64 {
        assert_eq!(s.lr(t), 0.5 / (1.0 + 0.25 * t as f64));
    }
    let s = InverseTime::new(0.5, 0.25, 10).unwrap();
    assert_eq!(s.lr(10), 0.5 / 1.25);
}

#[test]
fn closures_are_schedules() {
    let s = LrScheduler::from_schedule(|t: u64| 1.0 / (t + 1) as f64);
    assert_eq!(s.lr(3), 0.25);
}

#[test]
fn constant_and_config_defaults() {
    let c: ScheduleConfig = serde_json::from_str(r#"{"kind": "constant"}"#).unwrap();
    let s = c.build(0.3).unwrap();
    assert_eq!((s.lr(0), s.lr(1000)), (0.3, 0.3));
    // LinearLR defaults: start 1/3, end 1, 5 iterations.
    let c: ScheduleConfig = serde_json::from_str(r#"{"kind": "linear"}"#).unwrap();
    let s = c.build(0.3).unwrap();
    assert!((s.lr(0) - 0.1).abs() < 1e-15 && (s.lr(5) - 0.3).abs() < 1e-15);
}

/// He et al. (2016): 0.01 until training error < 80 %, then 0.1 for good.
#[test]
fn metric_switch_flips_once_and_stays() {
    let cfg: ScheduleConfig = serde_json::from_str(
        r#"{"kind": "metric_switch", "lr_before": 0.01, "lr_after": 0.1, "threshold": 0.8}"#,
    )
    .unwrap();
    let mut s = cfg.build(0.1).unwrap();
    let errors = [0.95, 0.9, 0.85, 0.8, 0.79, 0.85, 0.9];
    let mut lrs = Vec::new();
    for e in errors {
        lrs.push(s.lr(0));
        s.observe(e);
    }
    // 0.8 is not *below* 0.8; 0.79 is; later worse errors do not switch back.
    assert_eq!(lrs, [0.01, 0.01, 0.01, 0.01, 0.01, 0.1, 0.1]);
    let mut m = MetricSwitch::new(0.01, 0.1, 0.8).unwrap();
    assert!(!m.observe(f64::NAN), "NaN never triggers the switch");
    assert!(m.observe(0.5));
    assert!(!m.observe(0.4));
}

#[test]
fn plateau_max_mode_abs_threshold_cooldown_and_min_lr() {
    let opts = PlateauOptions {
        mode: PlateauMode::Max,
        factor: 0.5,
        patience: 1,
        threshold: 0.05,
        threshold_mode: ThresholdMode::Abs,
        cooldown: 2,
        min_lr: 0.3,
        eps: 1e-8,
    };
    let mut p = ReduceOnPlateau::new(1.0, opts).unwrap();
    let (mut lrs, mut changed) = (Vec::new(), Vec::new());
    // Accuracy improving by less than 0.05 counts as no improvement.
    for acc in [
        0.5, 0.6, 0.62, 0.63, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64,
    ] {
        changed.push(p.observe(acc));
        lrs.push(p.lr());
    }
    // best 0.6 from the 2nd observation; 0.62, 0.63 are bad → reduce after the 4th
    // (patience 1); two cool-down observations are ignored; two more bad → reduce to
    // max(0.25, 0.3) = 0.3; after the next cool-down, 0.3 · 0.5 clamps to 0.3 again
    // (12th observation), which is no change.
    assert_eq!(
        lrs,
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    );
    let at: Vec<usize> = (0..changed.len()).filter(|&i| changed[i]).collect();
    assert_eq!(
        at,
        [3, 7],
        "the clamped reduction at 0.3 is not reported as a change"
    );
}

#[test]
fn plateau_state_round_trips() {
    let mut a = ReduceOnPlateau::new(
        0.1,
        PlateauOptions {
            patience: 1,
            ..Default::default()
        },
    )
    .unwrap();
    for m in [1.0, 1.0, 1.0, 0.5] {
        a.observe(m);
    }
    let json = serde_json::to_string(&a.state()).unwrap();
    let mut b = ReduceOnPlateau::new(
        0.1,
        PlateauOptions {
            patience: 1,
            ..Default::default()
        },
    )
    .unwrap();
    b.load_state(serde_json::from_str(&json).unwrap());
    for m in [0.6, 0.7, 0.8, 0.2, 0.3, 0.3] {
        a.observe(m);
        b.observe(m);
        assert_eq!(a.lr().to_bits(), b.lr().to_bits());
    }
    assert_eq!(a, b);
}

#[test]
fn scheduler_state_kind_must_match() {
    let cfg: ScheduleConfig =
        serde_json::from_str(r#"{"kind": "plateau", "factor": 0.5}"#).unwrap();
    let mut plateau = cfg.build(0.1).unwrap();
    let pure = LrScheduler::constant(0.1);
    let err = plateau.load_state(&pure.state()).unwrap_err().to_string();
    assert!(err.contains("reduce-on-plateau"), "{err}");
}

#[test]
fn invalid_schedule_settings_name_the_field() {
    let cases = [
        (
            r#"{"kind": "step", "step_size": 0, "gamma": 0.5}"#,
            "\"step_size\" = 0",
        ),
        (r#"{"kind": "exponential", "gamma": -1}"#, "\"gamma\" = -1"),
        (r#"{"kind": "cosine", "t_max": 0}"#, "\"t_max\" = 0"),
        (
            r#"{"kind": "cosine_restarts", "t_0": 5, "t_mult": 0}"#,
            "\"t_mult\" = 0",
        ),
        (
            r#"{"kind": "linear", "start_factor": 0}"#,
            "\"start_factor\" = 0",
        ),
        (
            r#"{"kind": "linear", "end_factor": 1.5}"#,
            "\"end_factor\" = 1.5",
        ),
        (
            r#"{"kind": "polynomial", "total_iters": 0}"#,
            "\"total_iters\" = 0",
        ),
        (
            r#"{"kind": "noam", "d_model": 0, "warmup_steps": 4000}"#,
            "\"d_model\" = 0",
        ),
        (
            r#"{"kind": "plateau", "factor": 1.0}"#,
            "\"factor\" = 1: must be in (0, 1)",
        ),
        (
            r#"{"kind": "sequential", "milestone": 3, "warmup": {"kind": "constant"},
               "then": {"kind": "plateau"}}"#,
            "\"kind\" = \"plateau\"",
        ),
    ];
    for (json, needle) in cases {
        let cfg: ScheduleConfig = serde_json::from_str(json).unwrap();
        let err = cfg.build(0.1).map(|_| ()).unwrap_err().to_string();
        assert!(err.starts_with("invalid schedule setting"), "{err}");
        assert!(err.contains(needle), "{json}: {err}");
    }
}

#[test]
fn unknown_schedule_keys_are_errors() {
    for (json, needle) in [
        (r#"{"kind": "cosine", "t_max": 10, "T_max": 10}"#, "T_max"),
        (r#"{"kind": "plateau", "patiense": 3}"#, "patiense"),
        (r#"{"kind": "constant", "lr": 0.1}"#, "lr"),
        (
            r#"{"kind": "cosine_annealing", "t_max": 10}"#,
            "cosine_annealing",
        ),
        (
            r#"{"kind": "sequential", "milestone": 1, "warmup": {"kind": "constant", "x": 1},
               "then": {"kind": "constant"}}"#,
            "x",
        ),
    ] {
        let err = serde_json::from_str::<ScheduleConfig>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
}
