//! The page of an experiment's output directory: what `guide`, `critical` or `batch-size`
//! leave in their `--out` directory (the result, the resolved configuration beside it, one
//! run directory per model: `depth-N/`, `seed-N/`, `batch-N/`) on one self-contained page,
//! like a run's report. Its table is the run report's section, its figure is drawn by the
//! function the command draws it with, and its runs are compared by [`crate::compare`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use trainscope_inspect::{BatchComparison, CriticalExperiment, GuideReport};
use trainscope_record::files;

use crate::compare::{compare, compare_sections, find_runs, Comparison};
use crate::error::{ReportError, Result};
use crate::figures::{Figures, Format};
use crate::html::{embed_figure, escape, scratch_dir, set_aside_notes, STYLE};
use crate::run::{extras, SetAside};

/// The results an experiment's output directory can hold, by the command that writes each.
const RESULTS: [(&str, &str); 3] = [
    (extras::GUIDE, "guide"),
    (extras::CRITICAL, "critical"),
    (extras::BATCH_SIZE, "batch-size"),
];

/// What an experiment's output directory holds.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The directory.
    pub dir: PathBuf,
    /// `critical.json`, if present and current.
    pub critical: Option<CriticalExperiment>,
    /// `guide.json`, if present and current.
    pub guide: Option<GuideReport>,
    /// `batch_size.json`, if present and current.
    pub batch_size: Option<BatchComparison>,
    /// The results found but not shown as they are: stale, unstamped, unreadable.
    pub set_aside: SetAside,
    /// The configurations the experiments ran, as saved beside their results (file name,
    /// text).
    pub configs: Vec<(String, String)>,
    /// The run directories inside, in natural order (`depth-2` before `depth-10`).
    pub runs: Vec<PathBuf>,
}

impl Experiment {
    /// Whether `dir` holds the result of `guide`, `critical` or `batch-size`.
    pub fn holds_one(dir: &Path) -> bool {
        RESULTS.iter().any(|(name, _)| dir.join(name).is_file())
    }

    /// Reads an experiment's output directory. A result that is stale (its configuration
    /// changed since) or does not read as its type is left out and noted in
    /// [`Experiment::set_aside`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Experiment> {
        let dir = dir.as_ref().to_path_buf();
        if !Experiment::holds_one(&dir) {
            return Err(ReportError::invalid(format!(
                "{} holds no result of guide, critical or batch-size",
                dir.display()
            )));
        }
        let mut set_aside = SetAside::default();
        let guide = set_aside.read(&dir, extras::GUIDE)?;
        let critical = set_aside.read(&dir, extras::CRITICAL)?;
        let batch_size = set_aside.read(&dir, extras::BATCH_SIZE)?;
        let mut configs = Vec::new();
        for (name, _) in RESULTS {
            let copy = files::config_copy_of(name);
            if let Ok(text) = std::fs::read_to_string(dir.join(&copy)) {
                configs.push((copy, text));
            }
        }
        // With --folds the guide keeps no run directory: nothing to compare then.
        let runs = find_runs(std::slice::from_ref(&dir)).unwrap_or_default();
        Ok(Experiment {
            dir,
            critical,
            guide,
            batch_size,
            set_aside,
            configs,
            runs,
        })
    }

    /// The commands whose results the directory holds, e.g. `guide`.
    pub fn commands(&self) -> Vec<&'static str> {
        RESULTS
            .iter()
            .filter(|(name, _)| self.dir.join(name).is_file())
            .map(|(_, command)| *command)
            .collect()
    }
}

/// Renders the page of `e`; `work_dir` receives the figures' image files on the way.
pub fn render_experiment(e: &Experiment, work_dir: &Path) -> Result<String> {
    let mut h = String::new();
    let commands = e.commands().join(", ");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{STYLE}\ntd.name{{white-space:nowrap}}\n</style>\n</head>\n<body>\n<h1>Experiment report: {}</h1>\n<p class=\"muted\">Output directory <code>{}</code></p>\n",
        escape(&format!("trainscope report: {}", e.dir.display())),
        escape(&commands),
        escape(&e.dir.display().to_string())
    );
    set_aside_notes(&mut h, &e.set_aside);
    let figure_dir = work_dir.join("figures");
    let mut figures = Figures::new(&figure_dir, &[Format::Svg])?;
    if let Some(g) = &e.guide {
        crate::sections::guide(&mut h, g, &e.set_aside);
        let drawn = figures.drawn.len();
        figures.guide(g)?;
        for f in &figures.drawn[drawn..] {
            embed_figure(&mut h, f)?;
        }
    }
    if let Some(c) = &e.critical {
        crate::sections::critical(&mut h, c, &e.set_aside);
        let drawn = figures.drawn.len();
        figures.critical(c)?;
        for f in &figures.drawn[drawn..] {
            embed_figure(&mut h, f)?;
        }
    }
    if let Some(b) = &e.batch_size {
        crate::sections::batch_size(&mut h, b, &e.set_aside);
        let drawn = figures.drawn.len();
        figures.batch_size(b)?;
        for f in &figures.drawn[drawn..] {
            embed_figure(&mut h, f)?;
        }
    }
    if e.runs.is_empty() {
        h.push_str("<h2 id=\"runs\">Runs</h2>\n<p class=\"muted\">No run directory inside (with <code>--folds</code> the guide keeps none).</p>\n");
    } else {
        let mut c: Comparison = compare(&e.runs, 0.0)?;
        c.plot(&work_dir.join("runs"), &[Format::Svg])?;
        compare_sections(&mut h, &c)?;
    }
    h.push_str("<h2>Configuration</h2>\n");
    if e.configs.is_empty() {
        h.push_str("<p class=\"muted\">No configuration saved beside the results.</p>\n");
    }
    for (name, text) in &e.configs {
        let _ = writeln!(
            h,
            "<h3><code>{}</code></h3>\n<pre>{}</pre>",
            escape(name),
            escape(text)
        );
    }
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// Writes the page of the experiment in `dir` to `out` (default `dir/report.html`) and
/// returns its path.
pub fn write_experiment_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let e = Experiment::open(dir)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("report.html"));
    let work = scratch_dir("experiment");
    let html = render_experiment(&e, &work);
    let _ = std::fs::remove_dir_all(&work);
    let html = html?;
    trainscope_train::write_atomic(&out, html.as_bytes()).map_err(|e| ReportError::io(&out, e))?;
    Ok(out)
}
