//! `trainscope compare RUN RUN…`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_report::{find_runs, write_compare};

use crate::output::{self, num, percent};

/// Several runs on one page: their curves overlaid, the settings that differ, and each run's
/// final metrics sorted by validation loss. A directory without metrics.jsonl stands for the
/// runs inside it (what guide, critical and batch-size write).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories, or directories holding runs.
    #[arg(required = true, value_name = "RUN")]
    runs: Vec<PathBuf>,
    /// The HTML file, or a directory for the page (compare.html) and the figures as SVG and
    /// PNG [default: compare.html].
    #[arg(long, value_name = "FILE|DIR")]
    out: Option<PathBuf>,
    /// Smooth the curves with TensorBoard's moving average of this weight, in [0, 1).
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    smooth: f64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(0.0..1.0).contains(&args.smooth) {
        anyhow::bail!("--smooth {}: must be in [0, 1)", args.smooth);
    }
    let dirs = find_runs(&args.runs)?;
    let c = write_compare(&dirs, args.smooth, args.out.as_deref())?;
    if args.json {
        output::json(&c)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = c
        .runs
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut t = format!(
        "{:>2}  {:<width$}  {:>6}  {:>11}  {:>11}  {:>9}\n",
        "#", "run", "epochs", "train", "validation", "accuracy"
    );
    for (i, r) in c.runs.iter().enumerate() {
        t += &format!(
            "{:>2}  {:<width$}  {:>6}  {:>11}  {:>11}  {:>9}\n",
            i + 1,
            r.name,
            r.epochs,
            num(r.train_loss),
            r.val_loss.map_or("–".into(), num),
            r.val_accuracy
                .or(r.train_accuracy)
                .map_or("–".into(), percent)
        );
    }
    if c.differences.is_empty() {
        t += "settings: every run has the same configuration\n";
    } else {
        t += "settings that differ:\n";
        for d in &c.differences {
            let values: Vec<String> = d
                .values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "–".into()))
                .collect();
            t += &format!("  {} = {}\n", d.key, values.join(" | "));
        }
    }
    for f in &c.figures {
        for p in &f.files {
            t += &format!("wrote {}\n", p.display());
        }
    }
    if let Some(p) = &c.page {
        t += &format!("wrote {}\n", p.display());
    }
    output::stdout(&t)?;
    Ok(ExitCode::SUCCESS)
}
