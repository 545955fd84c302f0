//! The report's sections about the model and about other commands' analyses: the model
//! table, confusion matrices, the critical-point experiment, the general guide's ladder, the
//! batch-size comparison and the loss surfaces drawn for the run. Every value is shown with a
//! human name: verdicts in words, counts as integers.

use std::fmt::Write as _;
use std::path::Path;

use trainscope_diag::Verdict;
use trainscope_inspect::{BatchComparison, CriticalExperiment, FindingKind, GuideReport};
use trainscope_train::Confusion;

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
        ],
    );
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
}
