//! Saving and restoring optimizer state: k steps, save, restore into a fresh optimizer,
//! continue — bit-identical to an uninterrupted run, for every optimizer, both dtypes.

mod common;

use common::{fixture, mlp_problem, params_from, Mlp};
use trainscope_optim::{
    OptimError, OptimizerConfig, OptimizerOptions, OptimizerState, Scalar, ScheduleConfig,
    ScheduleUnit,
};

const CONFIGS: &[&str] = &[
    r#"{"kind":"sgd","lr":0.1}"#,
    r#"{"kind":"sgd","lr":0.05,"momentum":0.9,"dampening":0.1}"#,
    r#"{"kind":"sgd","lr":0.05,"momentum":0.9,"nesterov":true,"weight_decay":0.01}"#,
    r#"{"kind":"sgd","lr":0.05,"momentum":0.9,"variant":"lecture"}"#,
    r#"{"kind":"adagrad","lr":0.1,"lr_decay":0.01,"initial_accumulator_value":0.1}"#,
    r#"{"kind":"adagrad","lr":0.1,"variant":"lecture"}"#,
    r#"{"kind":"rmsprop","lr":0.01,"centered":true,"momentum":0.5}"#,
    r#"{"kind":"rmsprop","lr":0.01,"alpha":0.9,"variant":"lecture","momentum":0.3}"#,
    r#"{"kind":"adam","lr":0.01,"weight_decay":0.01,"clip_global_norm":0.2}"#,
    r#"{"kind":"adamw","lr":0.01}"#,
    r#"{"kind":"radam","lr":0.01}"#,
];

fn grads_as<T: Scalar>(mlp: &Mlp, p: &[Vec<T>]) -> Vec<Vec<T>> {
    // Gradients come from the f64 reference at the current (possibly f32) parameters.
    let p64: Vec<Vec<f64>> = p
        .iter()
        .map(|t| t.iter().map(|x| x.to_f64().unwrap()).collect())
        .collect();
    mlp.loss_and_grad(&p64)
        .1
        .into_iter()
        .map(|t| t.into_iter().map(|x| T::from(x).unwrap()).collect())
        .collect()
}

fn bits<T: Scalar>(p: &[Vec<T>]) -> Vec<u64> {
    p.iter()
        .flatten()
        .map(|x| x.to_f64().unwrap().to_bits())
        .collect()
}

fn resume_is_bit_identical<T: Scalar>() {
    let fix = fixture("optimizers.json");
    let mlp = mlp_problem(&fix);
    let init: Vec<Vec<T>> = params_from(&fix["init"])
        .into_iter()
        .map(|t| t.into_iter().map(|x| T::from(x).unwrap()).collect())
        .collect();
    // A plateau scheduler so scheduler state is part of what must survive.
    let schedule: ScheduleConfig =
        serde_json::from_str(r#"{"kind":"plateau","factor":0.5,"patience":1}"#).unwrap();
    let (k, total) = (7, 20);
    for cfg in CONFIGS {
        let cfg: OptimizerConfig = serde_json::from_str(cfg).unwrap();

        let mut straight = cfg.build_with_schedule::<T>(&schedule).unwrap();
        let mut p_straight = init.clone();
        for t in 0..total {
            let g = grads_as(&mlp, &p_straight);
            straight.step(&mut p_straight, &g).unwrap();
            straight.observe(if t % 3 == 0 { 1.0 } else { 2.0 });
        }

        let mut first = cfg.build_with_schedule::<T>(&schedule).unwrap();
        let mut p = init.clone();
        for t in 0..k {
            let g = grads_as(&mlp, &p);
            first.step(&mut p, &g).unwrap();
            first.observe(if t % 3 == 0 { 1.0 } else { 2.0 });
        }
        let saved: OptimizerState<T> = first.state();
        drop(first);
        let mut resumed = cfg.build_with_schedule::<T>(&schedule).unwrap();
        resumed.load_state(&saved).unwrap();
        assert_eq!(
            resumed.state(),
            saved,
            "{cfg:?}: state survives a load unchanged"
        );
        for t in k..total {
            let g = grads_as(&mlp, &p);
            resumed.step(&mut p, &g).unwrap();
            resumed.observe(if t % 3 == 0 { 1.0 } else { 2.0 });
        }
        assert_eq!(bits(&p), bits(&p_straight), "{cfg:?}");
        assert_eq!(resumed.state(), straight.state(), "{cfg:?}");
        assert!(
            resumed.lr() < 0.5 * cfg.lr(),
            "{cfg:?}: the plateau did reduce the rate"
        );
    }
}

#[test]
fn resume_is_bit_identical_f64() {
    resume_is_bit_identical::<f64>();
}

#[test]
fn resume_is_bit_identical_f32() {
    resume_is_bit_identical::<f32>();
}

/// Guards the test above: resuming *without* the saved state must diverge, otherwise the
/// comparison would not detect a state that fails to load.
#[test]
fn resume_without_state_diverges() {
    let fix = fixture("optimizers.json");
    let mlp = mlp_problem(&fix);
    let cfg: OptimizerConfig = serde_json::from_str(r#"{"kind":"adam","lr":0.01}"#).unwrap();
    let mut a = cfg.build::<f64>().unwrap();
    let mut b = cfg.build::<f64>().unwrap();
    let (mut pa, mut pb) = (params_from(&fix["init"]), params_from(&fix["init"]));
    for t in 0..6 {
        let g = mlp.loss_and_grad(&pa).1;
        a.step(&mut pa, &g).unwrap();
        if t == 2 {
            b = cfg.build::<f64>().unwrap();
        }
        let g = mlp.loss_and_grad(&pb).1;
        b.step(&mut pb, &g).unwrap();
    }
    assert_ne!(bits(&pa), bits(&pb));
}

#[test]
fn state_names_buffers_by_transform() {
    let cfg: OptimizerConfig =
        serde_json::from_str(r#"{"kind":"adam","weight_decay":0.1,"clip_global_norm":1}"#).unwrap();
    let mut opt = cfg.build::<f64>().unwrap();
    assert!(opt.state().buffers.iter().all(|(_, v)| v.is_empty()));
    opt.step(&mut [vec![1.0, 2.0]], &[vec![0.5, 0.5]]).unwrap();
    let s = opt.state();
    let names: Vec<&str> = s.buffers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["2.adam.mu", "2.adam.nu"]);
    assert_eq!((s.step, s.num_elements), (1, Some(2)));
}

#[test]
fn loading_a_mismatched_state_is_an_error_and_changes_nothing() {
    let adam: OptimizerConfig = serde_json::from_str(r#"{"kind":"adam"}"#).unwrap();
    let sgd: OptimizerConfig = serde_json::from_str(r#"{"kind":"sgd","momentum":0.9}"#).unwrap();
    let mut a = adam.build::<f64>().unwrap();
    a.step(&mut [vec![1.0, 2.0]], &[vec![0.5, 0.5]]).unwrap();
    let saved = a.state();

    let mut s = sgd.build::<f64>().unwrap();
    let before = s.state();
    let err = s.load_state(&saved).unwrap_err();
    assert!(matches!(err, OptimError::StateMismatch(_)));
    assert!(err.to_string().contains("0.trace.momentum"), "{err}");
    assert_eq!(s.state(), before);

    let mut short = saved.clone();
    short.buffers[1].1.pop();
    let mut fresh = adam.build::<f64>().unwrap();
    let err = fresh.load_state(&short).unwrap_err().to_string();
    assert!(
        err.contains("\"0.adam.nu\" has 1 elements, expected 2"),
        "{err}"
    );
    assert_eq!(fresh.step_count(), 0);

    // A state for 2 elements cannot continue on 3.
    let mut resumed = adam.build::<f64>().unwrap();
    resumed.load_state(&saved).unwrap();
    let err = resumed
        .step(&mut [vec![1.0, 2.0, 3.0]], &[vec![0.5; 3]])
        .unwrap_err();
    assert_eq!(
        err,
        OptimError::ParameterSizeChanged {
            expected: 2,
            got: 3
        }
    );
}

#[test]
fn state_serializes() {
    let cfg: OptimizerConfig = serde_json::from_str(r#"{"kind":"rmsprop"}"#).unwrap();
    let mut opt = cfg.build::<f32>().unwrap();
    opt.step(&mut [vec![1.0f32, 2.0]], &[vec![0.5f32, 0.25]])
        .unwrap();
    let json = serde_json::to_string(&opt.state()).unwrap();
    let back: OptimizerState<f32> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, opt.state());
}

#[test]
fn the_epoch_count_survives_a_resume_and_old_states_load() {
    let cfg: OptimizerConfig = serde_json::from_str(r#"{"kind":"sgd","lr":0.1}"#).unwrap();
    let schedule = ScheduleConfig::Step {
        step_size: 1,
        gamma: 0.5,
    };
    let build = || {
        cfg.build_with_schedule::<f64>(&schedule)
            .unwrap()
            .with_schedule_unit(ScheduleUnit::Epoch)
    };
    let mut opt = build();
    opt.step(&mut [vec![1.0]], &[vec![1.0]]).unwrap();
    opt.end_epoch();
    opt.end_epoch();
    let saved = opt.state();
    assert_eq!((saved.step, saved.epochs), (1, 2));
    let mut resumed = build();
    resumed.load_state(&saved).unwrap();
    assert_eq!(resumed.epoch_count(), 2);
    assert_eq!(resumed.lr(), 0.025);

    // A state saved before the epoch count was kept loads with none.
    let mut json: serde_json::Value = serde_json::to_value(&saved).unwrap();
    json.as_object_mut().unwrap().remove("epochs");
    let old: OptimizerState<f64> = serde_json::from_value(json).unwrap();
    assert_eq!(old.epochs, 0);
}
