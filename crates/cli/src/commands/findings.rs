//! The findings block shown after training and by `diagnose`.

use trainscope_findings::{Finding, Report};

/// One line per finding with its first remedy; with `verbose` every remedy, the evidence and
/// the rule. Empty when nothing was found.
pub fn block(r: &Report, verbose: bool) -> String {
    if r.findings.is_empty() {
        return String::new();
    }
    let mut s = String::from("findings:\n");
    for f in &r.findings {
        s += &format!("  {}\n", f.headline());
        let shown = if verbose { f.remedies.len() } else { 1 };
        for rem in f.remedies.iter().take(shown) {
            s += &format!("    → {}\n", rem.short());
        }
        if verbose {
            s += &format!("    evidence: {}\n", evidence(f));
            s += &format!("    rule: {}\n", f.rule);
        }
    }
    if !verbose {
        s += "  (every remedy, the evidence and the rules: --verbose, `trainscope diagnose RUN_DIR`, or the report)\n";
    }
    s
}

fn evidence(f: &Finding) -> String {
    f.evidence
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
