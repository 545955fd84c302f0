//! Several runs side by side: their curves overlaid (optionally smoothed), the configuration
//! settings that differ between them, and each run's final metrics, sorted by validation loss;
//! one self-contained HTML page, like the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use trainscope_train::{files, EpochMetrics};
use trainscope_viz::plot::{line_plot, LineOptions, Series};

use crate::error::{ReportError, Result};
use crate::figures::{FigureFile, Format};
use crate::html::{embed_figure, escape, number, scratch_dir, STYLE};
use crate::run::Run;

/// One run's final numbers: from `summary.json` (the epoch whose weights the model holds),
/// else from the last line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// Short name: the run directory's path below the runs' common parent.
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Epochs recorded in `metrics.jsonl`.
    pub epochs: usize,
    /// Training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// The lowest validation loss of any epoch.
    pub best_val_loss: Option<f64>,
    /// The epoch of `best_val_loss`.
    pub best_epoch: Option<usize>,
    /// Training accuracy (classification).
    pub train_accuracy: Option<f64>,
    /// Validation accuracy (classification).
    pub val_accuracy: Option<f64>,
    /// Test loss, when the run had a test set.
    pub test_loss: Option<f64>,
    /// Parameters of the model (from `summary.json`).
    pub parameters: Option<usize>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The loss's name (from `summary.json`).
    pub loss: Option<String>,
}

/// A configuration key whose value is not the same in every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Flattened TOML key, e.g. `optimizer.lr`.
    pub key: String,
    /// Its value in each run (in the order of [`Comparison::runs`]), as TOML; `None` where
    /// the run's configuration does not set it.
    pub values: Vec<Option<String>>,
}

/// What `trainscope compare` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The runs, by validation loss (ascending; runs without one last, by training loss).
    pub runs: Vec<RunRow>,
    /// The settings that differ, by key.
    pub differences: Vec<Difference>,
    /// EMA smoothing weight of the curves (0 = none).
    pub smoothing: f64,
    /// The figures written (with `--out DIR`).
    pub figures: Vec<FigureFile>,
    /// The HTML page.
    pub page: Option<PathBuf>,
    #[serde(skip)]
    metrics: Vec<Vec<EpochMetrics>>,
}

/// The run directories meant by `paths`: each path that holds `metrics.jsonl` is a run; any
/// other directory stands for the runs directly inside it (as `guide`, `critical` and
/// `batch-size` write them: `depth-N/`, `seed-N/`, `batch-N/`). Each run once.
pub fn find_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        if p.join(files::METRICS).is_file() {
            out.push(p.clone());
            continue;
        }
        if !p.is_dir() {
            return Err(ReportError::invalid(format!(
                "{} is not a run directory (no {})",
                p.display(),
                files::METRICS
            )));
        }
        let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| ReportError::io(p, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|d| d.join(files::METRICS).is_file())
            .collect();
        if inside.is_empty() {
            return Err(ReportError::invalid(format!(
                "{} is not a run directory and holds none (no {} in it or in its subdirectories)",
                p.display(),
                files::METRICS
            )));
        }
        // depth-2 before depth-10.
        inside.sort_by_key(|d| natural_key(&d.to_string_lossy()));
        out.extend(inside);
    }
    let mut seen = Vec::new();
    out.retain(|d| {
        let key = d.canonicalize().unwrap_or_else(|_| d.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    Ok(out)
}

/// A sort key that orders the digit runs of `s` by value.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

/// Names for `dirs`: each path with the components all of them share at the front removed.
fn short_names(dirs: &[PathBuf]) -> Vec<String> {
    let parts: Vec<Vec<String>> = dirs
        .iter()
        .map(|d| {
            d.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .collect();
    let shortest = parts.iter().map(Vec::len).min().unwrap_or(0);
    let mut common = 0;
    while common + 1 < shortest && parts.iter().all(|p| p[common] == parts[0][common]) {
        common += 1;
    }
    parts.iter().map(|p| p[common..].join("/")).collect()
}

/// `config.toml` flattened to `section.key = value` (values as TOML).
pub fn flatten_config(text: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            v => {
                out.insert(prefix.to_string(), v.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(v) = text.parse::<toml::Table>() {
        walk("", &toml::Value::Table(v), &mut out);
    }
    out
}

/// Reads the runs and compares them; `smoothing` in `[0, 1)` is the EMA weight of the
/// curves (TensorBoard's slider).
pub fn compare(dirs: &[PathBuf], smoothing: f64) -> Result<Comparison> {
    if !(0.0..1.0).contains(&smoothing) {
        return Err(ReportError::invalid(format!(
            "smoothing must be in [0, 1), got {smoothing}"
        )));
    }
    if dirs.is_empty() {
        return Err(ReportError::invalid("no run to compare"));
    }
    let names = short_names(dirs);
    let mut entries = Vec::new();
    for (dir, name) in dirs.iter().zip(names) {
        let run = Run::open(dir)?;
        let config = run
            .config_text
            .as_deref()
            .map(flatten_config)
            .unwrap_or_default();
        entries.push((row(&run, name), config, run.metrics));
    }
    entries.sort_by(|a, b| {
        let (ra, rb) = (rank(&a.0), rank(&b.0));
        ra.0.cmp(&rb.0)
            .then(ra.1.total_cmp(&rb.1))
            .then(a.0.name.cmp(&b.0.name))
    });
    let mut keys: Vec<&String> = entries.iter().flat_map(|e| e.1.keys()).collect();
    keys.sort();
    keys.dedup();
    let differences = keys
        .into_iter()
        .filter_map(|k| {
            let values: Vec<Option<String>> = entries.iter().map(|e| e.1.get(k).cloned()).collect();
            values.iter().any(|v| *v != values[0]).then(|| Difference {
                key: k.clone(),
                values,
            })
        })
        .collect();
    let (runs, metrics) = entries.into_iter().map(|(r, _, m)| (r, m)).unzip();
    Ok(Comparison {
        runs,
        differences,
        smoothing,
        figures: Vec::new(),
        page: None,
        metrics,
    })
}

/// Runs with a validation loss first, by it; then the others, by training loss.
fn rank(r: &RunRow) -> (u8, f64) {
    let finite = |v: f64| if v.is_finite() { v } else { f64::INFINITY };
    match r.val_loss {
        Some(v) => (0, finite(v)),
        None => (1, finite(r.train_loss)),
    }
}

fn row(run: &Run, name: String) -> RunRow {
    let last = run.metrics.last();
    let best = run
        .metrics
        .iter()
        .filter_map(|m| m.val_loss.map(|v| (m.epoch, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let s = run.summary.as_ref();
    RunRow {
        name,
        dir: run.dir.clone(),
        epochs: last.map_or(0, |m| m.epoch),
        train_loss: s
            .map(|s| s.train_loss)
            .or(last.map(|m| m.train_loss))
            .unwrap_or(f64::NAN),
        val_loss: s.map_or(last.and_then(|m| m.val_loss), |s| s.val_loss),
        best_val_loss: best.map(|b| b.1),
        best_epoch: best.map(|b| b.0),
        train_accuracy: s.map_or(last.and_then(|m| m.train_accuracy), |s| s.train_accuracy),
        val_accuracy: s.map_or(last.and_then(|m| m.val_accuracy), |s| s.val_accuracy),
        test_loss: s.and_then(|s| s.test_loss),
        parameters: s.map(|s| s.parameters),
        seconds: s.map_or(last.map_or(0.0, |m| m.elapsed_s), |s| s.seconds),
        loss: s.map(|s| s.loss.clone()),
    }
}

/// TensorBoard's smoothing: an exponential moving average with weight `w` on the past,
/// debiased at the start (`ema_t / (1 − wᵗ)`), so the first points are not pulled to zero.
/// Non-finite values pass through without entering the average.
pub fn smooth(values: &[f64], w: f64) -> Vec<f64> {
    if w <= 0.0 {
        return values.to_vec();
    }
    let (mut last, mut n) = (0.0, 0i32);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * w + (1.0 - w) * v;
            n += 1;
            last / (1.0 - w.powi(n))
        })
        .collect()
}

/// The curves compared: `(file stem, caption, axis name, value of an epoch)`.
type Curve = (
    &'static str,
    &'static str,
    &'static str,
    fn(&EpochMetrics) -> Option<f64>,
);

const CURVES: [Curve; 6] = [
    (
        "train_loss",
        "Training loss per epoch",
        "training loss",
        |m| Some(m.train_loss),
    ),
    (
        "val_loss",
        "Validation loss per epoch",
        "validation loss",
        |m| m.val_loss,
    ),
    (
        "train_accuracy",
        "Training accuracy per epoch",
        "training accuracy",
        |m| m.train_accuracy,
    ),
    (
        "val_accuracy",
        "Validation accuracy per epoch",
        "validation accuracy",
        |m| m.val_accuracy,
    ),
    (
        "grad_norm",
        "Gradient norm per epoch (mean over the epoch's updates)",
        "‖g‖",
        |m| Some(m.grad_norm),
    ),
    (
        "lr",
        "Learning rate of each epoch's last update",
        "learning rate η",
        |m| Some(m.lr),
    ),
];

impl Comparison {
    /// Draws the overlaid curves into `out_dir` in every format asked for; a curve no run
    /// recorded (accuracy of a regression) is left out.
    pub fn plot(&mut self, out_dir: &Path, formats: &[Format]) -> Result<()> {
        std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
        let mut figures = Vec::new();
        let smoothed = if self.smoothing > 0.0 {
            format!(" (smoothed, EMA weight {})", self.smoothing)
        } else {
            String::new()
        };
        for (name, title, axis, value) in CURVES {
            let smoothed = if name == "lr" { "" } else { smoothed.as_str() };
            let data: Vec<(Vec<f64>, Vec<f64>)> = self
                .metrics
                .iter()
                .map(|ms| {
                    let (x, y): (Vec<f64>, Vec<f64>) = ms
                        .iter()
                        .filter_map(|m| Some((m.epoch as f64, value(m)?)))
                        .unzip();
                    // The learning rate is a setting, not a noisy measurement.
                    let y = if name == "lr" {
                        y
                    } else {
                        smooth(&y, self.smoothing)
                    };
                    (x, y)
                })
                .collect();
            if data.iter().all(|d| d.0.is_empty()) {
                continue;
            }
            let series: Vec<Series> = self
                .runs
                .iter()
                .zip(&data)
                .map(|(r, (x, y))| Series {
                    label: &r.name,
                    x,
                    y,
                })
                .collect();
            let opts = LineOptions {
                title: format!("{title}{smoothed}"),
                y_label: axis.into(),
                ..Default::default()
            };
            let mut written = Vec::new();
            for f in formats {
                let path = out_dir.join(format!("{name}.{}", f.extension()));
                line_plot(&series, &opts, &path)?;
                written.push(path);
            }
            figures.push(FigureFile {
                name: name.into(),
                title: format!("{title}{smoothed}"),
                files: written,
            });
        }
        self.figures = figures;
        Ok(())
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("–".into(), number)
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |a| format!("{:.2}%", 100.0 * a))
}

/// The HTML page of a comparison whose figures are drawn (SVG first).
pub fn render_compare(c: &Comparison) -> Result<String> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>trainscope compare: {} runs</title>\n<style>\n{STYLE}\ntd.name{{white-space:nowrap}}\n</style>\n</head>\n<body>\n<h1>{} runs compared</h1>\n",
        c.runs.len(),
        c.runs.len()
    );
    compare_sections(&mut h, c)?;
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// The sections of a comparison whose figures are drawn: the runs, the settings that differ,
/// the curves.
pub(crate) fn compare_sections(h: &mut String, c: &Comparison) -> Result<()> {
    h.push_str("<h2 id=\"runs\">Runs, by validation loss</h2>\n<table>\n<tr><th>#</th><th>run</th><th>epochs</th><th>training loss</th><th>validation loss</th><th>lowest validation loss (epoch)</th>");
    // Columns no run has (accuracy of a regression, a test set) are left out.
    let any = |f: &dyn Fn(&RunRow) -> bool| c.runs.iter().any(f);
    let (acc, test, params) = (
        any(&|r| r.train_accuracy.is_some() || r.val_accuracy.is_some()),
        any(&|r| r.test_loss.is_some()),
        any(&|r| r.parameters.is_some()),
    );
    if acc {
        h.push_str("<th>training accuracy</th><th>validation accuracy</th>");
    }
    if test {
        h.push_str("<th>test loss</th>");
    }
    if params {
        h.push_str("<th>parameters</th>");
    }
    h.push_str("<th>time</th></tr>\n");
    for (i, r) in c.runs.iter().enumerate() {
        let best = match (r.best_val_loss, r.best_epoch) {
            (Some(v), Some(e)) => format!("{} ({e})", number(v)),
            _ => "–".into(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"name\" title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            i + 1,
            escape(&r.dir.display().to_string()),
            escape(&r.name),
            r.epochs,
            number(r.train_loss),
            opt(r.val_loss),
            best,
        );
        if acc {
            let _ = write!(
                h,
                "<td>{}</td><td>{}</td>",
                pct(r.train_accuracy),
                pct(r.val_accuracy)
            );
        }
        if test {
            let _ = write!(h, "<td>{}</td>", opt(r.test_loss));
        }
        if params {
            let _ = write!(
                h,
                "<td>{}</td>",
                r.parameters.map_or("–".into(), |p| p.to_string())
            );
        }
        let _ = writeln!(h, "<td>{:.2} s</td></tr>", r.seconds);
    }
    h.push_str("</table>\n");
    h.push_str("<h2 id=\"settings\">Settings that differ</h2>\n");
    if c.differences.is_empty() {
        h.push_str("<p class=\"muted\">Every run has the same configuration.</p>\n");
    } else {
        h.push_str("<table>\n<tr><th>setting</th>");
        for r in &c.runs {
            let _ = write!(h, "<th>{}</th>", escape(&r.name));
        }
        h.push_str("</tr>\n");
        for d in &c.differences {
            let _ = write!(h, "<tr><th><code>{}</code></th>", escape(&d.key));
            for v in &d.values {
                let _ = write!(h, "<td>{}</td>", v.as_deref().map_or("–".into(), escape));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2 id=\"figures\">Curves</h2>\n");
    for f in &c.figures {
        embed_figure(h, f)?;
    }
    Ok(())
}

/// Compares the runs in `dirs` and writes the page: to `out` when it names an `.html` file
/// (default `compare.html`), otherwise into the directory `out` as `compare.html` beside the
/// figures as SVG and PNG.
pub fn write_compare(dirs: &[PathBuf], smoothing: f64, out: Option<&Path>) -> Result<Comparison> {
    let mut c = compare(dirs, smoothing)?;
    let out = out.unwrap_or(Path::new("compare.html"));
    let is_page = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let page = if is_page {
        let work = scratch_dir("compare");
        let drawn = c
            .plot(&work, &[Format::Svg])
            .and_then(|_| render_compare(&c));
        let _ = std::fs::remove_dir_all(&work);
        let html = drawn?;
        // The figures lived in the work directory only.
        for f in &mut c.figures {
            f.files.clear();
        }
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
        }
        trainscope_train::write_atomic(out, html.as_bytes())
            .map_err(|e| ReportError::io(out, e))?;
        out.to_path_buf()
    } else {
        c.plot(out, &[Format::Svg, Format::Png])?;
        let html = render_compare(&c)?;
        let page = out.join("compare.html");
        trainscope_train::write_atomic(&page, html.as_bytes())
            .map_err(|e| ReportError::io(&page, e))?;
        page
    };
    c.page = Some(page);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_tensorboards() {
        // w = 0.5: ema 0.5, 0.25 + 1.5 = 1.75, 0.875 + 2.5 = 3.375 over debias 0.5, 0.75, 0.875.
        let s = smooth(&[1.0, 3.0, 5.0], 0.5);
        assert_eq!(s[0], 1.0);
        assert!((s[1] - 1.75 / 0.75).abs() < 1e-12);
        assert!((s[2] - 3.375 / 0.875).abs() < 1e-12);
        assert_eq!(smooth(&[2.0, 2.0], 0.0), vec![2.0, 2.0]);
    }

    #[test]
    fn flattened_keys_and_short_names() {
        let f = flatten_config(
            "seed = 1\n[optimizer]\nkind = \"adam\"\nlr = 0.01\n[model]\nhidden = [8, 8]\n",
        );
        assert_eq!(f["optimizer.lr"], "0.01");
        assert_eq!(f["optimizer.kind"], "\"adam\"");
        assert_eq!(f["model.hidden"], "[8, 8]");
        assert_eq!(f["seed"], "1");
        let n = short_names(&[
            PathBuf::from("runs/g/depth-1"),
            PathBuf::from("runs/g/depth-2"),
        ]);
        assert_eq!(n, ["depth-1", "depth-2"]);
        let n = short_names(&[PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(n, ["a", "b"]);
        let mut v = vec!["d-10", "d-2", "d-1"];
        v.sort_by_key(|s| natural_key(s));
        assert_eq!(v, ["d-1", "d-2", "d-10"]);
    }
}
