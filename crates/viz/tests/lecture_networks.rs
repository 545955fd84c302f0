//! The lectures' claims measured on small networks, on their fixed seeds: feature
//! normalization in an MLP (standardized inputs, batch normalization) and warm-up on a deep
//! network; and each claim's rule on numbers where it must hold and where it must not.

use trainscope_viz::lecture_networks::{
    batch_norm_story, deep_warmup_story, BatchNormFindings, DeepWarmupFindings, FeatureMlpRow,
    DEEP_BLOW_UP, DEEP_STEPS, DEEP_WARMUP, FEATURE_MLP_VARIANTS,
};
use trainscope_viz::presets::{story, Preset};

#[test]
fn batch_norm_story_measures_curvature_and_updates_on_the_feature_mlp() {
    let (curves, f) = batch_norm_story().unwrap();
    let [raw, std, bn] = [&f.rows[0], &f.rows[1], &f.rows[2]];
    assert_eq!(
        (raw.parameters, std.parameters, bn.parameters),
        (337, 337, 401)
    );
    // The same initialization: raw and standardized differ only in the inputs.
    assert!((raw.start_loss - std.start_loss).abs() < 0.2);
    // Standardizing rounds the Hessian's top 40; batch norm at the start does not.
    assert!(std.condition() < 0.5 * raw.condition(), "{f:?}");
    assert!(bn.condition() > raw.condition(), "{f:?}");
    assert!(raw.lambda_min < 0.0, "negative curvature at the start");
    // Both need far fewer updates at their best rates than the raw features.
    let n = |r: &FeatureMlpRow| r.updates.unwrap();
    assert!(n(std) * 5 < n(raw) && n(bn) * 2 < n(raw), "{f:?}");
    // Each curve is its variant's best run: it reaches the target at its last update only.
    assert_eq!(curves.curves.len(), 3);
    for (c, r) in curves.curves.iter().zip(&f.rows) {
        assert_eq!(c.updates(), r.updates.unwrap(), "{}", c.label);
        assert!(*c.loss.last().unwrap() <= f.target_loss);
        assert!(c.loss[..c.updates()].iter().all(|&l| l > f.target_loss));
        assert!(c.label.starts_with(&r.variant));
    }
    let held: Vec<bool> = f.claims().iter().map(|c| c.1).collect();
    assert_eq!(held, [true, false, true]);
    // Fitted, the three Hessians are alike: the note says so.
    let ends: Vec<f64> = f.rows.iter().map(|r| r.end_condition.unwrap()).collect();
    assert!(ends.iter().all(|&e| e > 100.0 && e < 1000.0), "{ends:?}");
    assert!(f.notes().iter().any(|n| n.contains("alike once fitted")));
    // The note that explains the claim that did not hold is there.
    assert!(f
        .notes()
        .iter()
        .any(|n| n.starts_with("batch norm trains faster")));
}

fn row(variant: &str, lambda_max: f64, lambda_n: f64, updates: Option<usize>) -> FeatureMlpRow {
    FeatureMlpRow {
        variant: variant.into(),
        parameters: 337,
        start_loss: 5.0,
        lambda_max,
        lambda_n,
        lambda_min: -1.0,
        best_lr: updates.map(|_| 0.1),
        updates,
        end_condition: None,
    }
}

#[test]
fn batch_norm_claims_hold_only_when_the_numbers_say_so() {
    let f = |rows: Vec<FeatureMlpRow>| BatchNormFindings {
        rows,
        target_loss: 0.05,
    };
    let [a, b, c] = FEATURE_MLP_VARIANTS;
    // Both rounder, both fast: every claim holds, no excuse note.
    let good = f(vec![
        row(a, 100.0, 1.0, Some(1000)),
        row(b, 10.0, 1.0, Some(50)),
        row(c, 20.0, 1.0, Some(100)),
    ]);
    assert!(good.claims().iter().all(|c| c.1));
    assert_eq!(good.notes().len(), 2);
    // Nothing changed by normalizing: no claim holds.
    let same = f(vec![
        row(a, 100.0, 1.0, Some(1000)),
        row(b, 100.0, 1.0, Some(900)),
        row(c, 100.0, 1.0, Some(1000)),
    ]);
    assert!(same.claims().iter().all(|c| !c.1));
    // A variant that never reaches the target cannot be the faster one.
    let stuck = f(vec![
        row(a, 100.0, 1.0, Some(1000)),
        row(b, 10.0, 1.0, Some(50)),
        row(c, 10.0, 1.0, None),
    ]);
    let held: Vec<bool> = stuck.claims().iter().map(|c| c.1).collect();
    assert_eq!(held, [true, true, false]);
    assert!(stuck.claims()[2]
        .0
        .contains("more than 3000 updates at every rate"));
}

#[test]
fn deep_warmup_story_blows_up_without_warm_up_only() {
    let (curves, f) = deep_warmup_story().unwrap();
    assert_eq!(curves.curves.len(), 3);
    let start = f.start_loss;
    assert!(start > 1.0, "a large initial loss: {start}");
    // Adam's first updates: the loss jumps by two orders of magnitude.
    assert!(
        f.early_max[0] > 100.0 * start && f.early_argmax[0] <= 3,
        "{f:?}"
    );
    // The warm-up stays within the blow-up bound and ends far lower.
    assert!(f.early_max[1] < DEEP_BLOW_UP * start, "{f:?}");
    assert!(f.final_loss[1] < 0.1 * f.final_loss[0], "{f:?}");
    assert_eq!(curves.curves[0].updates(), DEEP_STEPS);
    assert_eq!(curves.curves[1].updates(), DEEP_STEPS);
    // RAdam's momentum steps diverge within the warm-up period.
    assert!(curves.curves[2].diverged && curves.curves[2].updates() < DEEP_WARMUP);
    let held: Vec<bool> = f.claims().iter().map(|c| c.1).collect();
    assert_eq!(held, [true, true, false]);
    assert_eq!(f.notes().len(), 1);
}

#[test]
fn deep_warmup_claims_hold_only_when_the_numbers_say_so() {
    let f = |early_max: Vec<f64>, final_loss: Vec<f64>| DeepWarmupFindings {
        start_loss: 1.0,
        early_argmax: vec![1; early_max.len()],
        early_max,
        final_loss,
    };
    // No blow-up anywhere: the first claim fails, the others hold if they end lower.
    let calm = f(vec![1.0, 1.0, 1.0], vec![0.1, 0.01, 0.05]);
    let held: Vec<bool> = calm.claims().iter().map(|c| c.1).collect();
    assert_eq!(held, [false, true, true]);
    assert!(calm.notes().is_empty());
    // Warm-up that blows up too, or ends higher, does not hold.
    let bad = f(vec![10.0, 3.0, 1.5], vec![0.1, 0.01, 0.5]);
    let held: Vec<bool> = bad.claims().iter().map(|c| c.1).collect();
    assert_eq!(held, [true, false, false]);
    assert_eq!(
        bad.notes().len(),
        0,
        "RAdam ×1.5 is below the blow-up bound"
    );
}

#[test]
fn network_presets_carry_their_curves_and_claims() {
    for (p, name) in [
        (Preset::BatchNorm, "mlp_features"),
        (Preset::WarmupDeep, "deep_mlp"),
    ] {
        assert_eq!(Preset::from_name(p.name()).unwrap(), p);
        let s = story(p).unwrap();
        assert!(s.panels.is_empty());
        assert_eq!(s.curves.len(), 1);
        assert_eq!(s.curves[0].name, name);
        assert_eq!(s.claims.len(), 3);
    }
}
