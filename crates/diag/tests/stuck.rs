//! Stuck detection on synthetic runs and metrics files.

use std::io::Write;
use trainscope_diag::{
    detect_stuck, parse_metrics, read_metrics, EpochRecord, Error, PlateauKind, StuckOptions,
};

fn run(loss: impl Fn(u64) -> f64, grad: impl Fn(u64) -> f64, epochs: u64) -> Vec<EpochRecord> {
    (0..epochs)
        .map(|e| EpochRecord {
            epoch: e,
            train_loss: loss(e),
            val_loss: None,
            grad_norm: Some(grad(e)),
            lr: Some(0.1),
        })
        .collect()
}

#[test]
fn flat_loss_with_a_large_gradient_is_oscillation() {
    // Falls for 10 epochs, then flat at 0.5 while the gradient norm stays near 2.
    let r = run(
        |e| {
            if e < 10 {
                2.0 - 0.15 * e as f64
            } else {
                0.5 + 1e-4 * (e % 2) as f64
            }
        },
        |e| 2.0 + 0.1 * (e % 3) as f64,
        30,
    );
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus.len(), 1, "{rep}");
    let p = &rep.plateaus[0];
    assert_eq!(p.kind, PlateauKind::Oscillating);
    assert_eq!((p.start_epoch, p.end_epoch), (10, 29));
    assert!(p
        .remedies
        .iter()
        .any(|r| r.contains("adaptive learning rate")));
    assert!(p.remedies.iter().any(|r| r.contains("decay")));
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["plateaus"][0]["kind"], "oscillating");
    println!("{rep}");
}

#[test]
fn flat_loss_with_a_small_gradient_is_a_critical_point() {
    let r = run(
        |e| if e < 10 { 2.0 - 0.15 * e as f64 } else { 0.5 },
        |e| if e < 10 { 3.0 } else { 0.05 },
        30,
    );
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus.len(), 1);
    let p = &rep.plateaus[0];
    assert_eq!(p.kind, PlateauKind::CriticalPoint, "{rep}");
    assert!(p.remedies.iter().any(|r| r.contains("momentum")));
    assert!(p.remedies.iter().any(|r| r.contains("smaller batch")));
    assert!(p.remedies.iter().any(|r| r.contains("eigenvector")));
    // Absolute rule: flat from the start (no earlier values) with a tiny gradient.
    let r = run(|_| 0.3, |_| 1e-5, 12);
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus[0].kind, PlateauKind::CriticalPoint);
    assert_eq!(rep.plateaus[0].start_epoch, 0);
}

#[test]
fn a_falling_loss_has_no_plateau_and_missing_gradients_are_unknown() {
    let r = run(|e| 0.9f64.powi(e as i32), |_| 1.0, 50);
    assert!(detect_stuck(&r, &StuckOptions::default())
        .unwrap()
        .plateaus
        .is_empty());
    let mut r = run(|_| 0.3, |_| 1.0, 10);
    r.iter_mut().for_each(|e| e.grad_norm = None);
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus[0].kind, PlateauKind::Unknown);
    let r = run(|_| 1e-12, |_| 1e-7, 10);
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus[0].kind, PlateauKind::Converged);
    assert!(detect_stuck(
        &r,
        &StuckOptions {
            window: 0,
            ..Default::default()
        }
    )
    .is_err());
}

#[test]
fn metrics_files_are_read_and_malformed_lines_are_named() {
    let dir = std::env::temp_dir().join(format!("trainscope-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("metrics.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for e in 0..3 {
        writeln!(
            f,
            r#"{{"epoch": {e}, "step": {}, "train_loss": {}, "val_loss": null, "train_accuracy": null, "val_accuracy": null, "grad_norm": 0.5, "grad_norm_last": 0.4, "lr": 0.01, "elapsed_s": 1.5}}"#,
            e * 10,
            1.0 / (e + 1) as f64
        )
        .unwrap();
    }
    drop(f);
    let recs = read_metrics(&path).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2].train_loss, 1.0 / 3.0);
    assert_eq!(recs[0].val_loss, None);
    assert_eq!(recs[1].grad_norm, Some(0.5));

    let text = "{\"epoch\": 0, \"train_loss\": 1.0}\n\n{\"epoch\": 1, \"train_loss\": \"x\"}\n";
    let err = parse_metrics(text, "run/metrics.jsonl").unwrap_err();
    assert!(matches!(err, Error::Metrics { line: 3, .. }), "{err}");
    assert!(err.to_string().starts_with("run/metrics.jsonl:3:"), "{err}");
    let err = parse_metrics("{\"epoch\": 0}\n", "m.jsonl").unwrap_err();
    assert!(
        err.to_string().contains("m.jsonl:1:") && err.to_string().contains("train_loss"),
        "{err}"
    );
    let err = read_metrics(dir.join("missing.jsonl")).unwrap_err();
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_single_noisy_epoch_does_not_split_a_plateau() {
    // Falls for 10 epochs, then flat at 0.5 except for one spike at epoch 20 that breaks the
    // flatness of the windows ending at 20 and 25: the flat windows on both sides share
    // epochs, so it is one plateau, not two overlapping ones.
    let r = run(
        |e| match e {
            0..=9 => 2.0 - 0.15 * e as f64,
            20 => 0.6,
            _ => 0.5,
        },
        |e| if e < 10 { 2.0 } else { 0.01 },
        40,
    );
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus.len(), 1, "{rep}");
    assert_eq!(
        (rep.plateaus[0].start_epoch, rep.plateaus[0].end_epoch),
        (10, 39)
    );
    assert_eq!(rep.plateaus[0].kind, PlateauKind::CriticalPoint);

    // A real break (the loss falls again for longer than the window) still separates two.
    let r = run(
        |e| match e {
            0..=9 => 2.0 - 0.15 * e as f64,
            10..=19 => 0.5,
            20..=29 => 0.5 - 0.03 * (e - 19) as f64,
            _ => 0.2,
        },
        |_| 0.01,
        45,
    );
    let rep = detect_stuck(&r, &StuckOptions::default()).unwrap();
    assert_eq!(rep.plateaus.len(), 2, "{rep}");
}
