//! One self-contained HTML page for a run: no scripts, no network, no external files. Figures
//! are embedded as `data:` URIs, the style sheet is inline, and every piece of text from the
//! run is escaped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use trainscope_findings::{Report as Findings, Severity};

use trainscope_record::files;

use crate::error::{ReportError, Result};
use crate::experiment::{write_experiment_report, Experiment};
use crate::figures::{plot_run, FigureFile, Format};
use crate::run::{extras, Run, SetAside};
use crate::sections::cell;

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The findings of the run: what went wrong, why, and what to try.
pub fn run_findings(run: &Run) -> Result<Findings> {
    Ok(trainscope_inspect::run_findings(&run.dir, None)
        .map_err(|e| ReportError::Invalid(e.to_string()))?
        .unwrap_or_default())
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f4f4f4}
pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:.8em;overflow-x:auto;font-size:.85em}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
.verdict{padding:.5em .8em;border-left:4px solid #1f77b4;background:#f3f8fc;margin:.6em 0}.warn{border-color:#d62728;background:#fdf3f3}
.muted{color:#666}";

/// Renders the report of `run`; `work_dir` receives the figures' image files on the way.
pub fn render_report(run: &Run, work_dir: &Path) -> Result<String> {
    let figures = plot_run(run, work_dir, &[Format::Svg])?;
    let findings = run_findings(run)?;
    let mut h = String::new();
    let title = format!("trainscope report: {}", run.dir.display());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>Training report</h1>\n<p class=\"muted\">Run directory <code>{}</code></p>\n",
        escape(&title),
        escape(&run.dir.display().to_string())
    );
    summary(&mut h, run);
    set_aside_notes(&mut h, &run.set_aside);
    h.push_str("<h2>Figures</h2>\n");
    for f in &figures {
        embed_figure(&mut h, f)?;
    }
    crate::sections::model(&mut h, run);
    crate::sections::confusion(&mut h, run);
    findings_section(&mut h, &findings);
    diagnosis(&mut h, run);
    crate::sections::surfaces(&mut h, run);
    if let Some(c) = &run.critical {
        crate::sections::critical(&mut h, c, &run.set_aside);
    }
    if let Some(g) = &run.guide {
        crate::sections::guide(&mut h, g, &run.set_aside);
    }
    if let Some(b) = &run.batch_size {
        crate::sections::batch_size(&mut h, b, &run.set_aside);
    }
    h.push_str("<h2>Configuration</h2>\n");
    match &run.config_text {
        Some(c) => {
            let _ = writeln!(h, "<pre>{}</pre>", escape(c));
        }
        None => h.push_str("<p class=\"muted\">No config.toml in the run directory.</p>\n"),
    }
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// A new directory name under the system's temporary directory for the figures of one page,
/// removed once they are embedded.
pub(crate) fn scratch_dir(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "trainscope-{kind}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ))
}

/// Writes the report of the run in `dir` to `out` (default `dir/report.html`) and returns its
/// path. A directory without `metrics.jsonl` that holds the result of `guide`, `critical` or
/// `batch-size` (their `--out` directory) gets the experiment's page instead
/// ([`crate::experiment`]).
pub fn write_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    if dir.is_dir() && !dir.join(files::METRICS).exists() {
        if Experiment::holds_one(dir) {
            return write_experiment_report(dir, out);
        }
        return Err(ReportError::invalid(format!(
            "{} is neither a run directory (no {}) nor the --out directory of guide, critical \
             or batch-size (no {}, {} or {})",
            dir.display(),
            files::METRICS,
            extras::GUIDE,
            extras::CRITICAL,
            extras::BATCH_SIZE
        )));
    }
    let run = Run::open(dir)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("report.html"));
    let work = scratch_dir("report");
    let html = render_report(&run, &work);
    let _ = std::fs::remove_dir_all(&work);
    let html = html?;
    trainscope_train::write_atomic(&out, html.as_bytes()).map_err(|e| ReportError::io(&out, e))?;
    Ok(out)
}

/// A number as the report and the comparison page write it: integers as integers, others
/// with 5 decimals (scientific below 1e-3 and from 1e5 on), `–` when not finite.
pub(crate) fn number(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() < 1e-3 || x.abs() >= 1e5 {
        format!("{x:.4e}")
    } else {
        format!("{x:.5}")
    }
}

fn summary(h: &mut String, run: &Run) {
    let Some(last) = run.metrics.last() else {
        return;
    };
    h.push_str("<h2>Summary</h2>\n<table>\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    };
    row("epochs", last.epoch.to_string());
    row("updates", last.step.to_string());
    row("training loss (last epoch)", number(last.train_loss));
    if let Some(v) = last.val_loss {
        row("validation loss (last epoch)", number(v));
    }
    let best = run
        .metrics
        .iter()
        .filter_map(|m| m.val_loss.map(|v| (m.epoch, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((e, v)) = best {
        row(
            "lowest validation loss",
            format!("{} (epoch {e})", number(v)),
        );
    }
    if let Some(a) = last.train_accuracy {
        row("training accuracy", format!("{:.2}%", 100.0 * a));
    }
    if let Some(a) = last.val_accuracy {
        row("validation accuracy", format!("{:.2}%", 100.0 * a));
    }
    row("gradient norm (mean of last epoch)", number(last.grad_norm));
    row("learning rate (last update)", number(last.lr));
    row("time", format!("{:.1} s", last.elapsed_s));
    if let Some(s) = &run.summary {
        row("parameters", s.parameters.to_string());
        if s.stopped_early {
            row(
                "early stopping",
                format!(
                    "stopped after epoch {}; the model keeps epoch {}",
                    s.epochs,
                    s.best_epoch.map_or("?".into(), |b| b.to_string())
                ),
            );
        }
        if let Some(b) = s.baseline_val_loss.or(s.baseline_train_loss) {
            row(
                "trivial model's loss (constant prediction)",
                format!(
                    "{} ({})",
                    number(b),
                    if s.baseline_val_loss.is_some() {
                        "validation"
                    } else {
                        "training"
                    }
                ),
            );
        }
        if let Some(a) = s.baseline_val_accuracy {
            row("majority-class accuracy", format!("{:.2}%", 100.0 * a));
        }
        if let Some(t) = s.test_loss {
            row(&format!("test loss ({})", s.loss), number(t));
        }
        if let Some(a) = s.test_accuracy {
            row("test accuracy", format!("{:.2}%", 100.0 * a));
        }
    }
    h.push_str("</table>\n");
}

/// Analyses whose stamp does not match the run's weights, or that do not read as what their
/// command writes, are left out, and said so; those without a stamp are shown, marked.
pub(crate) fn set_aside_notes(h: &mut String, s: &SetAside) {
    for (name, why) in &s.stale {
        let _ = writeln!(
            h,
            "<div class=\"verdict warn stale\"><strong>Left out: <code>{}</code></strong> — {}.</div>",
            escape(name),
            escape(why)
        );
    }
    for (name, why) in &s.unreadable {
        let _ = writeln!(
            h,
            "<div class=\"verdict warn unreadable\"><strong>Left out: <code>{}</code></strong> — {}.</div>",
            escape(name),
            escape(why)
        );
    }
    for name in &s.unstamped {
        let _ = writeln!(
            h,
            "<div class=\"verdict warn unstamped\"><strong><code>{}</code> has no stamp</strong> — it was saved by hand or by an older version, so which weights it describes cannot be told; run the command again to replace it.</div>",
            escape(name)
        );
    }
}

/// `f` as a `<figure id="fig-NAME">` with its first file embedded as a `data:` URI.
pub(crate) fn embed_figure(h: &mut String, f: &FigureFile) -> Result<()> {
    let Some(path) = f.files.first() else {
        return Ok(());
    };
    let bytes = std::fs::read(path).map_err(|e| ReportError::io(path, e))?;
    let mime = match path.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        _ => "image/svg+xml",
    };
    let _ = writeln!(
        h,
        "<figure id=\"fig-{}\"><img alt=\"{}\" src=\"data:{mime};base64,{}\"><figcaption>{}</figcaption></figure>",
        escape(&f.name),
        escape(&f.title),
        base64(&bytes),
        escape(&f.title)
    );
    Ok(())
}

fn findings_section(h: &mut String, r: &Findings) {
    h.push_str("<h2>Findings</h2>\n");
    if r.healthy() {
        let _ = writeln!(
            h,
            "<div class=\"verdict\">No problem or warning over {} epochs.</div>",
            r.epochs
        );
    }
    for f in &r.findings {
        let class = match f.severity {
            Severity::Note => "verdict",
            _ => "verdict warn",
        };
        let _ = write!(
            h,
            "<div class=\"{class}\"><strong>{}: {}</strong>{} — {}",
            escape(f.severity.name()),
            escape(f.kind.title()),
            f.epochs
                .map(|[a, b]| format!(" (epochs {a}–{b})"))
                .unwrap_or_default(),
            escape(&f.explanation)
        );
        if !f.remedies.is_empty() {
            h.push_str("<ol>");
            for rem in &f.remedies {
                let _ = write!(h, "<li>{}</li>", escape(&rem.short()));
            }
            h.push_str("</ol>");
        }
        let ev: Vec<String> = f.evidence.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            h,
            "<p class=\"muted\">Evidence: {}. Rule: {}</p></div>",
            escape(&ev.join(", ")),
            escape(&f.rule)
        );
    }
}

fn diagnosis(h: &mut String, run: &Run) {
    h.push_str("<h2>Diagnosis at the trained weights</h2>\n");
    let Some(d) = &run.diagnose else {
        let _ = writeln!(
            h,
            "<p>No current <code>{}</code> in this run directory. Run <code>trainscope diagnose {}</code> (it saves its result there) and build this report again: it adds the Hessian's verdict (minimum, saddle point, …) and its spectrum.</p>",
            extras::DIAGNOSE,
            escape(&run.dir.display().to_string())
        );
        return;
    };
    if run.set_aside.is_unstamped(extras::DIAGNOSE) {
        h.push_str(
            "<p class=\"muted\">No stamp: which weights this describes cannot be told.</p>\n",
        );
    }
    let r = &d.hessian;
    let mut rows: Vec<(&str, Option<String>)> = vec![
        ("verdict (by the definitions)", Some(cell(&r.verdict))),
        (
            "course verdict (minimum ratio > 0.5)",
            r.course_verdict.as_ref().map(cell),
        ),
        ("note", r.verdict_note.clone()),
        ("flat directions", r.flat_note.clone()),
        ("loss", Some(cell(&r.loss))),
        ("gradient norm ‖∇L‖", Some(cell(&r.grad_norm))),
        ("parameters", Some(cell(&r.num_params))),
        ("positive eigenvalues", r.positive.as_ref().map(cell)),
        ("negative eigenvalues", r.negative.as_ref().map(cell)),
        ("zero eigenvalues", r.zero.as_ref().map(cell)),
        ("flat directions", r.flat_directions.as_ref().map(cell)),
        (
            "minimum ratio (positive / all)",
            r.min_ratio.as_ref().map(cell),
        ),
    ];
    if let Some(s) = &d.stamp {
        rows.push((
            "computed for",
            Some(format!(
                "{}{} on {}",
                s.file,
                s.epoch.map(|e| format!(" (epoch {e})")).unwrap_or_default(),
                s.data.as_deref().unwrap_or_default()
            )),
        ));
    }
    h.push_str("<table>\n");
    for (k, v) in rows {
        if let Some(v) = v {
            let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
        }
    }
    h.push_str("</table>\n");
    let pretty = serde_json::to_string_pretty(d).unwrap_or_default();
    let _ = writeln!(
        h,
        "<details><summary>{} in full</summary><pre>{}</pre></details>",
        extras::DIAGNOSE,
        escape(&pretty)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_one_way_everywhere() {
        assert_eq!(number(385.0), "385");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.25), "0.25000");
        assert_eq!(number(1.5e-4), "1.5000e-4");
        assert_eq!(number(123456.5), "1.2346e5");
        assert_eq!(number(f64::NAN), "–");
        assert_eq!(number(f64::INFINITY), "–");
    }
}
