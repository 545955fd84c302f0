//! The report's sections about the model and about other commands' analyses: the model
//! table, confusion matrices, the critical-point experiment, the general guide's ladder, the
//! batch-size comparison and the loss surfaces drawn for the run. Every value is shown with a
//! human name: verdicts in words, counts as integers.

use std::fmt::Write as _;
use std::path::Path;

use trainscope_diag::Verdict;
use trainscope_inspect::{BatchComparison, CriticalExperiment, FindingKind, GuideReport};
use trainscope_train::Confusion;
use trainscope_viz::presets::Claim;

use crate::html::{base64, escape, number};
use crate::run::{Run, SetAside};
use crate::surface::SurfaceRecord;

/// A value as a table cell: verdicts in words, counts as integers, `–` for nothing.
pub(crate) trait Cell {
    /// The cell's text.
    fn cell(&self) -> String;
}

impl Cell for f64 {
    fn cell(&self) -> String {
        number(*self)
    }
}

impl Cell for usize {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl Cell for u64 {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl Cell for bool {
    fn cell(&self) -> String {
        if *self { "yes" } else { "no" }.into()
    }
}

impl Cell for str {
    fn cell(&self) -> String {
        self.to_string()
    }
}

impl Cell for String {
    fn cell(&self) -> String {
        self.clone()
    }
}

impl Cell for Verdict {
    fn cell(&self) -> String {
        self.describe().into()
    }
}

impl Cell for FindingKind {
    fn cell(&self) -> String {
        self.describe().into()
    }
}

impl<T: Cell> Cell for Option<T> {
    fn cell(&self) -> String {
        self.as_ref().map_or_else(|| "–".into(), Cell::cell)
    }
}

/// `v` as a table cell.
pub(crate) fn cell<T: Cell + ?Sized>(v: &T) -> String {
    v.cell()
}

/// A column of a table: its header, and a row's cell.
type Column<'a, R> = (&'a str, &'a dyn Fn(&R) -> String);

/// A table of `rows` with the given columns.
fn table<R>(h: &mut String, rows: &[R], cols: &[Column<'_, R>]) {
    h.push_str("<table>\n<tr>");
    for (head, _) in cols {
        let _ = write!(h, "<th>{}</th>", escape(head));
    }
    h.push_str("</tr>\n");
    for r in rows {
        h.push_str("<tr>");
        for (_, text) in cols {
            let _ = write!(h, "<td>{}</td>", escape(&text(r)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn lines(h: &mut String, items: &[String]) {
    if items.is_empty() {
        return;
    }
    h.push_str("<ul>");
    for l in items {
        let _ = write!(h, "<li>{}</li>", escape(l));
    }
    h.push_str("</ul>\n");
}

/// The lecture's claims as the command printed them: `[holds]` or `[does not hold]` and the
/// numbers, a claim that did not hold marked as a warning.
fn claims(h: &mut String, claims: &[Claim]) {
    if claims.is_empty() {
        return;
    }
    h.push_str("<h3>The lecture's claims, measured</h3>\n");
    for c in claims {
        let (class, mark) = if c.held {
            ("verdict claim holds", "holds")
        } else {
            ("verdict warn claim fails", "does not hold")
        };
        let _ = writeln!(
            h,
            "<div class=\"{class}\"><strong>[{mark}]</strong> {}</div>",
            escape(&c.claim)
        );
    }
}

fn unstamped_mark(h: &mut String, set_aside: &SetAside, name: &str) {
    if set_aside.is_unstamped(name) {
        let _ = writeln!(
            h,
            "<p class=\"muted\">No stamp: which weights or configuration this describes cannot be told.</p>"
        );
    }
}

/// The model as a table (from `summary.json`).
pub(crate) fn model(h: &mut String, run: &Run) {
    let Some(s) = &run.summary else {
        return;
    };
    if s.model.is_empty() {
        return;
    }
    h.push_str("<h2 id=\"model\">Model</h2>\n<table>\n<tr><th>layer</th><th>type</th><th>output shape</th><th>parameters</th></tr>\n");
    let _ = writeln!(
        h,
        "<tr><td></td><td>input</td><td>[N, {}]</td><td></td></tr>",
        s.inputs
    );
    for l in &s.model {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>[{}]</td><td>{}</td></tr>",
            escape(&l.name),
            escape(&l.layer),
            escape(&l.output.join(", ")),
            l.parameters
        );
    }
    let total: usize = s.model.iter().map(|l| l.parameters).sum();
    let _ = writeln!(
        h,
        "<tr><th colspan=\"3\">total</th><th>{total}</th></tr>\n</table>"
    );
}

/// Confusion matrices and per-class scores of the final weights (from `summary.json`).
pub(crate) fn confusion(h: &mut String, run: &Run) {
    let Some(s) = &run.summary else {
        return;
    };
    let sets = [
        ("validation", &s.val_confusion),
        ("test", &s.test_confusion),
    ];
    if sets.iter().all(|(_, c)| c.is_none()) {
        return;
    }
    h.push_str("<h2 id=\"confusion\">Classes</h2>\n");
    for (name, c) in sets {
        if let Some(c) = c {
            confusion_table(h, name, c);
        }
    }
}

fn confusion_table(h: &mut String, set: &str, c: &Confusion) {
    let _ = writeln!(
        h,
        "<h3>Confusion matrix on the {set} rows ({} rows; rows: true class, columns: predicted)</h3>\n<table class=\"confusion\">\n<tr><th></th>",
        c.total()
    );
    for l in &c.labels {
        let _ = write!(h, "<th>{}</th>", escape(l));
    }
    h.push_str("</tr>\n");
    for (l, row) in c.labels.iter().zip(&c.counts) {
        let _ = write!(h, "<tr><th>{}</th>", escape(l));
        for n in row {
            let _ = write!(h, "<td>{n}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<table>\n<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>rows</th></tr>\n");
    let f = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.3}"));
    for k in &c.classes {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&k.label),
            f(k.precision),
            f(k.recall),
            f(k.f1),
            k.support
        );
    }
    let _ = writeln!(
        h,
        "<tr><th colspan=\"3\">macro F1</th><td>{}</td><td></td></tr>\n</table>",
        f(c.macro_f1)
    );
}

/// `critical.json`: one row per seed with both verdicts.
pub(crate) fn critical(h: &mut String, c: &CriticalExperiment, set_aside: &SetAside) {
    h.push_str("<h2 id=\"critical\">Critical points found from several starts</h2>\n");
    unstamped_mark(h, set_aside, crate::run::extras::CRITICAL);
    table(
        h,
        &c.rows,
        &[
            ("seed", &|r| cell(&r.seed)),
            ("loss", &|r| cell(&r.loss)),
            ("‖∇L‖", &|r| cell(&r.grad_norm)),
            ("positive λ", &|r| cell(&r.positive)),
            ("negative λ", &|r| cell(&r.negative)),
            ("zero λ", &|r| cell(&r.zero)),
            ("minimum ratio", &|r| cell(&r.min_ratio)),
            ("verdict (definitions)", &|r| cell(&r.verdict)),
            ("course verdict (minimum ratio)", &|r| {
                cell(&r.course_verdict)
            }),
            ("loss drop on escape", &|r| cell(&r.escape_loss_drop)),
        ],
    );
    for r in &c.rows {
        if let Some(note) = &r.verdict_note {
            let _ = writeln!(
                h,
                "<p class=\"muted\">{}</p>",
                escape(&format!("seed {}: {note}", r.seed))
            );
        }
    }
    claims(h, &c.claims);
}

/// `guide.json`: the ladder of models and what the guide concludes.
pub(crate) fn guide(h: &mut String, g: &GuideReport, set_aside: &SetAside) {
    h.push_str("<h2 id=\"guide\">The general guide: bias, optimization, overfitting</h2>\n");
    unstamped_mark(h, set_aside, crate::run::extras::GUIDE);
    table(
        h,
        &g.rungs,
        &[
            ("model", &|r| cell(&r.label)),
            ("parameters", &|r| cell(&r.parameters)),
            ("training loss", &|r| cell(&r.train_loss)),
            ("validation loss", &|r| cell(&r.val_loss)),
            ("epochs", &|r| cell(&r.epochs)),
        ],
    );
    for f in &g.findings {
        let _ = write!(
            h,
            "<div class=\"verdict\"><strong>{}</strong> — {}",
            escape(&cell(&f.kind)),
            escape(&f.evidence)
        );
        lines(h, &f.remedies);
        h.push_str("</div>\n");
    }
    lines(h, &g.notes);
}

/// `batch_size.json`: time and loss per batch size, with what the lectures say to look for.
pub(crate) fn batch_size(h: &mut String, b: &BatchComparison, set_aside: &SetAside) {
    h.push_str("<h2 id=\"batch-size\">Batch size</h2>\n");
    unstamped_mark(h, set_aside, crate::run::extras::BATCH_SIZE);
    table(
        h,
        &b.rows,
        &[
            ("batch size", &|r| cell(&r.batch_size)),
            ("epochs", &|r| cell(&r.epochs)),
            ("updates", &|r| cell(&r.updates)),
            ("s / update", &|r| cell(&r.time_per_update)),
            ("s / epoch", &|r| cell(&r.time_per_epoch)),
            ("training loss", &|r| cell(&r.train_loss)),
            ("validation loss", &|r| cell(&r.val_loss)),
            ("gradient noise", &|r| cell(&r.grad_noise)),
            ("λmax", &|r| cell(&r.sharpness)),
            ("Keskar sharpness %", &|r| cell(&r.perturbed_rise)),
        ],
    );
    claims(h, &b.claims);
    lines(h, &b.lecture);
}

/// The loss surfaces `trainscope surface RUN` drew for the current weights.
pub(crate) fn surfaces(h: &mut String, run: &Run) {
    if run.surfaces.is_empty() {
        return;
    }
    h.push_str("<h2 id=\"surfaces\">Loss surfaces around the trained weights</h2>\n");
    for (name, s) in &run.surfaces {
        surface(h, &run.dir, name, s);
    }
}

fn surface(h: &mut String, dir: &Path, name: &str, s: &SurfaceRecord) {
    let image = s
        .files
        .iter()
        .flatten()
        .find(|f| f.ends_with(".svg") || f.ends_with(".png"))
        .and_then(|f| std::fs::read(dir.join(f)).ok().map(|b| (f, b)));
    let _ = writeln!(
        h,
        "<figure id=\"{}\">",
        escape(name.trim_end_matches(".json"))
    );
    if let Some((file, bytes)) = image {
        let mime = if file.ends_with(".png") {
            "image/png"
        } else {
            "image/svg+xml"
        };
        let _ = writeln!(
            h,
            "<img alt=\"{}\" src=\"data:{mime};base64,{}\">",
            escape(&s.slice),
            base64(&bytes)
        );
    }
    let _ = writeln!(
        h,
        "<figcaption>{}; lowest loss on the grid {} at ({}, {})</figcaption></figure>",
        escape(&s.slice),
        cell(&s.lowest.loss),
        cell(&s.lowest.x),
        cell(&s.lowest.y)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_words_and_integers() {
        assert_eq!(cell(&Verdict::SaddlePoint), "saddle point");
        assert_eq!(cell(&Some(Verdict::LocalMinimumLike)), "local-minimum-like");
        assert_eq!(cell(&385usize), "385");
        assert_eq!(cell(&385.0), "385");
        assert_eq!(cell(&0.25), "0.25000");
        assert_eq!(cell(&FindingKind::ModelBias), "model bias");
        assert_eq!(cell(&None::<f64>), "–");
        assert_eq!(cell(&f64::NAN), "–");
        assert_eq!(cell(&true), "yes");
    }

    /// The claims of `critical.json` and `batch_size.json` as written, one read back from JSON
    /// as the report reads it: each marked holds or does not hold, with its numbers; files
    /// from before the claims were checked show none.
    #[test]
    fn claims_of_critical_and_batch_size_show_whether_each_held() {
        let claim = |text: &str, held: bool| serde_json::json!({"claim": text, "held": held});
        let critical: CriticalExperiment = serde_json::from_value(serde_json::json!({
            "rows": [], "parameters": 385, "rows_in_loss": 300,
            "thresholds": {"grad_tol": 1e-3, "min_ratio": 0.5, "zero_tol": 1e-6},
            "target_grad_norm": 1e-6, "eval_mode_note": "", "plots": [],
            "claims": [claim("saddle points: 7 of 10 <seeds>", true),
                       claim("escape lowers the loss at 3 of 7", false)],
        }))
        .unwrap();
        let mut h = String::new();
        super::critical(&mut h, &critical, &SetAside::default());
        assert!(h.contains("<div class=\"verdict claim holds\"><strong>[holds]</strong> saddle points: 7 of 10 &lt;seeds&gt;</div>"), "{h}");
        assert!(h.contains("<div class=\"verdict warn claim fails\"><strong>[does not hold]</strong> escape lowers the loss at 3 of 7</div>"), "{h}");
        assert!(h.contains("<th>loss drop on escape</th>"));

        let batch = serde_json::json!({
            "rows": [{"batch_size": "8", "rows_per_batch": 8, "epochs": 1, "updates": 30,
                      "seconds": 0.1, "time_per_update": 0.001, "time_per_epoch": 0.1,
                      "train_loss": 0.5, "val_loss": 0.6, "grad_noise": 0.105,
                      "sharpness": 42.44, "perturbed_rise": 2.1}],
            "mode": "same epochs (1)", "train_rows": 240, "loss_name": "mse", "plots": [],
            "lecture": [],
            "claims": [claim("sharpness: batch 8 ends at a flatter point: 42.4387 against 88.7650", true),
                       claim("optimization: batch 8 reaches a lower training loss", false)],
        });
        let b: BatchComparison = serde_json::from_value(batch.clone()).unwrap();
        let mut h = String::new();
        super::batch_size(&mut h, &b, &SetAside::default());
        assert!(h.contains("<strong>[holds]</strong> sharpness: batch 8 ends at a flatter point: 42.4387 against 88.7650"), "{h}");
        assert!(h.contains(
            "<div class=\"verdict warn claim fails\"><strong>[does not hold]</strong> optimization"
        ));
        assert!(
            h.contains("<td>0.10500</td><td>42.44000</td><td>2.10000</td>"),
            "noise, λmax and Keskar columns: {h}"
        );
        assert_eq!(h.matches("claim holds").count(), 1);

        // Written before the claims were checked: no claims section at all.
        let mut old = batch;
        old.as_object_mut().unwrap().remove("claims");
        let b: BatchComparison = serde_json::from_value(old).unwrap();
        let mut h = String::new();
        super::batch_size(&mut h, &b, &SetAside::default());
        assert!(!h.contains("claims, measured") && !h.contains("[holds]"));
    }
}
