//! Bad hyperparameters, unknown configuration keys and mismatched inputs are errors that name
//! the field, never panics.

use trainscope_optim::{
    AdagradOptions, AdamOptions, AdamWOptions, OptimError, OptimizerConfig, OptimizerOptions,
    RAdamOptions, RmspropOptions, SgdOptions, Variant,
};

#[test]
fn message_format_names_field_value_and_range() {
    let err = AdamOptions {
        beta2: 1.5,
        ..Default::default()
    }
    .validated()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid optimizer setting \"beta2\" = 1.5: must be in [0, 1)"
    );
    assert!(matches!(
        err,
        OptimError::InvalidSetting { field: "beta2", .. }
    ));
}

#[test]
fn invalid_settings_are_rejected_with_the_field_named() {
    let nan = f64::NAN;
    let cases: Vec<(Result<(), OptimError>, &str)> = vec![
        (
            SgdOptions {
                lr: -0.1,
                ..Default::default()
            }
            .validate(),
            "\"lr\" = -0.1",
        ),
        (
            SgdOptions {
                lr: nan,
                ..Default::default()
            }
            .validate(),
            "\"lr\" = NaN",
        ),
        (
            SgdOptions {
                momentum: 1.0,
                ..Default::default()
            }
            .validate(),
            "\"momentum\" = 1: must be in [0, 1)",
        ),
        (
            SgdOptions {
                dampening: 2.0,
                ..Default::default()
            }
            .validate(),
            "\"dampening\" = 2",
        ),
        (
            SgdOptions {
                nesterov: true,
                ..Default::default()
            }
            .validate(),
            "\"nesterov\" = true: requires momentum > 0",
        ),
        (
            SgdOptions {
                weight_decay: -1.0,
                ..Default::default()
            }
            .validate(),
            "\"weight_decay\" = -1",
        ),
        (
            SgdOptions {
                clip_global_norm: Some(0.0),
                ..Default::default()
            }
            .validate(),
            "\"clip_global_norm\" = 0",
        ),
        (
            SgdOptions {
                momentum: 0.9,
                dampening: 0.1,
                variant: Variant::Lecture,
                ..Default::default()
            }
            .validate(),
            "\"dampening\" = 0.1: only available with variant \"pytorch\"",
        ),
        (
            AdagradOptions {
                eps: -1e-10,
                ..Default::default()
            }
            .validate(),
            "\"eps\" = -0.0000000001",
        ),
        (
            AdagradOptions {
                eps: 0.0,
                variant: Variant::Lecture,
                ..Default::default()
            }
            .validate(),
            "\"eps\" = 0: must be finite and > 0",
        ),
        (
            AdagradOptions {
                lr_decay: 0.1,
                variant: Variant::Lecture,
                ..Default::default()
            }
            .validate(),
            "\"lr_decay\" = 0.1: only available",
        ),
        (
            AdagradOptions {
                initial_accumulator_value: -1.0,
                ..Default::default()
            }
            .validate(),
            "\"initial_accumulator_value\" = -1",
        ),
        (
            RmspropOptions {
                alpha: 1.0,
                ..Default::default()
            }
            .validate(),
            "\"alpha\" = 1: must be in [0, 1)",
        ),
        (
            RmspropOptions {
                alpha: 0.0,
                variant: Variant::Lecture,
                ..Default::default()
            }
            .validate(),
            "\"alpha\" = 0: must be in (0, 1)",
        ),
        (
            RmspropOptions {
                centered: true,
                variant: Variant::Lecture,
                ..Default::default()
            }
            .validate(),
            "\"centered\" = true: only available",
        ),
        (
            RmspropOptions {
                momentum: -0.5,
                ..Default::default()
            }
            .validate(),
            "\"momentum\" = -0.5",
        ),
        (
            AdamOptions {
                beta1: -0.1,
                ..Default::default()
            }
            .validate(),
            "\"beta1\" = -0.1",
        ),
        (
            AdamWOptions {
                weight_decay: f64::INFINITY,
                ..Default::default()
            }
            .validate(),
            "\"weight_decay\" = inf",
        ),
        (
            RAdamOptions {
                eps: -1.0,
                ..Default::default()
            }
            .validate(),
            "\"eps\" = -1",
        ),
    ];
    for (res, needle) in cases {
        let msg = res.expect_err(needle).to_string();
        assert!(msg.starts_with("invalid optimizer setting"), "{msg}");
        assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
    }
}

#[test]
fn defaults_are_valid_and_match_pytorch() {
    let adam = AdamOptions::default();
    assert_eq!(
        (adam.lr, adam.beta1, adam.beta2, adam.eps),
        (1e-3, 0.9, 0.999, 1e-8)
    );
    assert_eq!(AdamWOptions::default().weight_decay, 1e-2);
    assert_eq!(AdagradOptions::default().eps, 1e-10);
    assert_eq!(RmspropOptions::default().alpha, 0.99);
    SgdOptions::default().validated().unwrap();
    AdagradOptions::default().validated().unwrap();
    RmspropOptions::default().validated().unwrap();
    AdamOptions::default().validated().unwrap();
    AdamWOptions::default().validated().unwrap();
    RAdamOptions::default().validated().unwrap();
}

#[test]
fn config_build_validates() {
    let cfg: OptimizerConfig =
        serde_json::from_str(r#"{"kind": "adam", "lr": 0.01, "beta2": 1.5}"#).unwrap();
    let err = cfg.build::<f32>().unwrap_err().to_string();
    assert!(err.contains("\"beta2\" = 1.5"), "{err}");
}

#[test]
fn unknown_config_keys_and_kinds_are_errors() {
    for (json, needle) in [
        (
            r#"{"kind": "adam", "lr": 0.01, "betas": [0.9, 0.99]}"#,
            "unknown field `betas`",
        ),
        (
            r#"{"kind": "sgd", "lr": 0.1, "momentun": 0.9}"#,
            "unknown field `momentun`",
        ),
        (
            r#"{"kind": "adam", "variant": "lecture"}"#,
            "unknown field `variant`",
        ),
        (r#"{"kind": "rmsprop", "variant": "keras"}"#, "keras"),
        (r#"{"kind": "adamax", "lr": 0.01}"#, "adamax"),
        (r#"{"lr": 0.01}"#, "kind"),
        (r#"{"kind": "sgd", "lr": "fast"}"#, "fast"),
    ] {
        let err = serde_json::from_str::<OptimizerConfig>(json)
            .expect_err(json)
            .to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
}

#[test]
fn config_fields_round_trip() {
    let cfg = OptimizerConfig::Rmsprop(RmspropOptions {
        lr: 0.02,
        centered: true,
        momentum: 0.5,
        clip_global_norm: Some(1.0),
        ..Default::default()
    });
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"kind\":\"rmsprop\""), "{json}");
    assert_eq!(serde_json::from_str::<OptimizerConfig>(&json).unwrap(), cfg);
}

#[test]
fn mismatched_params_and_grads_are_errors_and_leave_params_untouched() {
    let mut opt = SgdOptions {
        lr: 0.1,
        ..Default::default()
    }
    .build::<f64>()
    .unwrap();
    let mut p = vec![vec![1.0, 2.0], vec![3.0]];

    let err = opt.step(&mut p, &[vec![1.0, 1.0]]).unwrap_err();
    assert_eq!(
        err,
        OptimError::TensorCountMismatch {
            params: 2,
            grads: 1
        }
    );

    let err = opt
        .step(&mut p, &[vec![1.0, 1.0], vec![1.0, 1.0]])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter tensor 1: gradient has 2 elements, parameter has 1"
    );
    assert_eq!(p, vec![vec![1.0, 2.0], vec![3.0]]);
    assert_eq!(opt.step_count(), 0);

    opt.step(&mut p, &[vec![1.0, 1.0], vec![1.0]]).unwrap();
    let mut q = vec![vec![1.0, 2.0, 3.0]];
    let err = opt.step(&mut q, &[vec![1.0, 1.0, 1.0, 1.0]]).unwrap_err();
    assert!(matches!(err, OptimError::LengthMismatch { .. }));
    let err = opt.step(&mut [vec![1.0; 4]], &[vec![1.0; 4]]).unwrap_err();
    assert_eq!(
        err,
        OptimError::ParameterSizeChanged {
            expected: 3,
            got: 4
        }
    );
}
