//! The report's sections about the model and about other commands' analyses: the model
//! table, confusion matrices, the critical-point experiment, the general guide's ladder, the
//! batch-size comparison and the loss surfaces drawn for the run. Every value is shown with a
//! human name: verdicts in words, counts as integers.

use std::fmt::Write as _;

use serde_json::Value;
use trainscope_diag::Verdict;
use trainscope_train::Confusion;

use crate::html::{base64, escape};
use crate::run::Run;

/// A number as the report writes it: integers as integers, others with 5 significant places.
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) {
        format!("{x:.4e}")
    } else {
        format!("{x:.5}")
    }
}

/// A JSON value as a table cell: verdicts in words, counts as integers, `–` for null.
pub(crate) fn cell(key: &str, v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => n.as_f64().map(number).unwrap_or_else(|| n.to_string()),
        Value::String(s) if key.ends_with("verdict") => {
            serde_json::from_value::<Verdict>(v.clone())
                .map(|v| v.describe().to_string())
                .unwrap_or_else(|_| s.replace('_', " "))
        }
        Value::String(s) if key == "kind" => s.replace('_', " "),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A table of `rows` (JSON objects) with the given columns (key, header).
fn table(h: &mut String, rows: &[Value], cols: &[(&str, &str)]) {
    h.push_str("<table>\n<tr>");
    for (_, head) in cols {
        let _ = write!(h, "<th>{}</th>", escape(head));
    }
    h.push_str("</tr>\n");
    for r in rows {
        h.push_str("<tr>");
        for (key, _) in cols {
            let text = r.get(*key).map_or("–".to_string(), |v| cell(key, v));
            let _ = write!(h, "<td>{}</td>", escape(&text));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn rows_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn lines(h: &mut String, v: &Value, key: &str) {
    let items = rows_of(v, key);
    if items.is_empty() {
        return;
    }
    h.push_str("<ul>");
    for l in items.iter().filter_map(Value::as_str) {
        let _ = write!(h, "<li>{}</li>", escape(l));
    }
    h.push_str("</ul>\n");
}

fn unstamped_mark(h: &mut String, run: &Run, name: &str) {
    if run.unstamped.iter().any(|n| n == name) {
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
pub(crate) fn critical(h: &mut String, run: &Run) {
    let Some(c) = &run.critical else {
        return;
    };
    h.push_str("<h2 id=\"critical\">Critical points found from several starts</h2>\n");
    unstamped_mark(h, run, crate::run::extras::CRITICAL);
    table(
        h,
        rows_of(c, "rows"),
        &[
            ("seed", "seed"),
            ("loss", "loss"),
            ("grad_norm", "‖∇L‖"),
            ("positive", "positive λ"),
            ("negative", "negative λ"),
            ("zero", "zero λ"),
            ("min_ratio", "minimum ratio"),
            ("verdict", "verdict (definitions)"),
            ("course_verdict", "course verdict (minimum ratio)"),
        ],
    );
    let notes: Vec<String> = rows_of(c, "rows")
        .iter()
        .filter_map(|r| {
            let note = r.get("verdict_note")?.as_str()?;
            Some(format!("seed {}: {note}", cell("seed", r.get("seed")?)))
        })
        .collect();
    for n in notes {
        let _ = writeln!(h, "<p class=\"muted\">{}</p>", escape(&n));
    }
}

/// `guide.json`: the ladder of models and what the guide concludes.
pub(crate) fn guide(h: &mut String, run: &Run) {
    let Some(g) = &run.guide else {
        return;
    };
    h.push_str("<h2 id=\"guide\">The general guide: bias, optimization, overfitting</h2>\n");
    unstamped_mark(h, run, crate::run::extras::GUIDE);
    table(
        h,
        rows_of(g, "rungs"),
        &[
            ("label", "model"),
            ("parameters", "parameters"),
            ("train_loss", "training loss"),
            ("val_loss", "validation loss"),
            ("epochs", "epochs"),
        ],
    );
    for f in rows_of(g, "findings") {
        let kind = f.get("kind").map_or(String::new(), |k| cell("kind", k));
        let evidence = f.get("evidence").and_then(Value::as_str).unwrap_or("");
        let _ = write!(
            h,
            "<div class=\"verdict\"><strong>{}</strong> — {}",
            escape(&kind),
            escape(evidence)
        );
        lines(h, f, "remedies");
        h.push_str("</div>\n");
    }
    lines(h, g, "notes");
}

/// `batch_size.json`: time and loss per batch size, with what the lectures say to look for.
pub(crate) fn batch_size(h: &mut String, run: &Run) {
    let Some(b) = &run.batch_size else {
        return;
    };
    h.push_str("<h2 id=\"batch-size\">Batch size</h2>\n");
    unstamped_mark(h, run, crate::run::extras::BATCH_SIZE);
    table(
        h,
        rows_of(b, "rows"),
        &[
            ("batch_size", "batch size"),
            ("epochs", "epochs"),
            ("updates", "updates"),
            ("time_per_update", "s / update"),
            ("time_per_epoch", "s / epoch"),
            ("train_loss", "training loss"),
            ("val_loss", "validation loss"),
        ],
    );
    lines(h, b, "lecture");
}

/// The loss surfaces `trainscope surface RUN` drew for the current weights.
pub(crate) fn surfaces(h: &mut String, run: &Run) {
    if run.surfaces.is_empty() {
        return;
    }
    h.push_str("<h2 id=\"surfaces\">Loss surfaces around the trained weights</h2>\n");
    for (name, s) in &run.surfaces {
        let slice = s.get("slice").and_then(Value::as_str).unwrap_or(name);
        let lowest = s.get("lowest");
        let low = |k: &str| {
            lowest
                .and_then(|l| l.get(k))
                .map_or("–".into(), |v| cell(k, v))
        };
        let image = rows_of(s, "files")
            .iter()
            .filter_map(Value::as_str)
            .find(|f| f.ends_with(".svg") || f.ends_with(".png"))
            .and_then(|f| {
                std::fs::read(run.dir.join(f))
                    .ok()
                    .map(|b| (f.to_string(), b))
            });
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
                escape(slice),
                base64(&bytes)
            );
        }
        let _ = writeln!(
            h,
            "<figcaption>{}; lowest loss on the grid {} at ({}, {})</figcaption></figure>",
            escape(slice),
            low("loss"),
            low("x"),
            low("y")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_words_and_integers() {
        assert_eq!(
            cell("verdict", &Value::from("saddle_point")),
            "saddle point"
        );
        assert_eq!(
            cell("course_verdict", &Value::from("local_minimum_like")),
            "local-minimum-like"
        );
        assert_eq!(cell("positive", &Value::from(385u64)), "385");
        assert_eq!(cell("loss", &Value::from(385.0)), "385");
        assert_eq!(cell("loss", &Value::from(0.25)), "0.25000");
        assert_eq!(cell("kind", &Value::from("model_bias")), "model bias");
        assert_eq!(cell("x", &Value::Null), "–");
    }
}
