//! The stuck-detection block shown after training and by `diagnose`.

use trainscope_diag::{PlateauKind, StuckReport};

/// One short block: each plateau with its verdict, then the remedies once per kind; empty when
/// the loss never plateaued.
pub fn block(r: &StuckReport) -> String {
    if r.plateaus.is_empty() {
        return String::new();
    }
    let mut s = String::from("stuck detection:\n");
    let mut kinds: Vec<PlateauKind> = Vec::new();
    for p in &r.plateaus {
        let g = |x: Option<f64>| x.map_or("n/a".to_string(), |g| format!("{g:.3e}"));
        s += &format!(
            "  epochs {}–{}: {} (loss {:.4e} → {:.4e}, median ‖g‖ {} vs {} earlier)\n",
            p.start_epoch,
            p.end_epoch,
            kind_name(p.kind),
            p.loss_start,
            p.loss_end,
            g(p.grad_norm_median),
            g(p.grad_norm_reference)
        );
        if !kinds.contains(&p.kind) {
            kinds.push(p.kind);
        }
    }
    for k in kinds {
        if let Some(p) = r.plateaus.iter().find(|p| p.kind == k) {
            s += &format!("  {}: {}\n", kind_name(k), p.explanation);
            for rem in &p.remedies {
                s += &format!("  - {rem}\n");
            }
        }
    }
    s + &format!("  rule: {}\n", r.rule)
}

pub fn kind_name(k: PlateauKind) -> &'static str {
    match k {
        PlateauKind::CriticalPoint => "critical point",
        PlateauKind::Oscillating => "oscillating",
        PlateauKind::Converged => "converged",
        PlateauKind::Unknown => "flat, cause unknown",
    }
}
