//! `trainscope cv CONFIG.toml --folds K`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_train::{cross_validate, Config, CvFold, MeanStd, Silent};

use crate::output::{self, num, percent};
use crate::progress::RowProgress;

/// K-fold cross validation: train the configuration K times, each time validating on one fold;
/// report each fold and the mean ± standard deviation of the final losses and accuracies.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (its validation and test settings are ignored).
    config: PathBuf,
    /// Number of folds.
    #[arg(long, value_name = "K", default_value_t = 5)]
    folds: usize,
    /// Override a configuration key (see `trainscope train --help`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Threads for the matrix products [default: the configuration's `threads`].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No per-fold progress lines.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, &args.set)?;
    output::set_threads(args.threads.unwrap_or(config.threads));
    let k = args.folds;
    let quiet = args.quiet;
    let rows = RowProgress::new(quiet);
    let mut on_fold = |f: &CvFold| {
        rows.row(fold_line(f, k));
    };
    let s = cross_validate(&config, k, &mut Silent, &mut on_fold)?;
    // The transient line goes before the table is printed.
    drop(rows);
    if args.json {
        output::json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut r = String::new();
    for f in &s.per_fold {
        r += &fold_line(f, k);
        r.push('\n');
    }
    let ms = |m: MeanStd| format!("{} ± {}", num(m.mean), num(m.std));
    let pct = |m: MeanStd| format!("{} ± {}", percent(m.mean), percent(m.std));
    r += &format!(
        "mean      train_loss {}  val_loss {}",
        ms(s.train_loss),
        ms(s.val_loss)
    );
    if let (Some(t), Some(v)) = (s.train_accuracy, s.val_accuracy) {
        r += &format!("  train_acc {}  val_acc {}", pct(t), pct(v));
    }
    r += &format!("\n{k} folds in {:.1} s\n", s.seconds);
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}

fn fold_line(f: &CvFold, k: usize) -> String {
    let mut s = format!(
        "fold {}/{k}  train_loss {}  val_loss {}",
        f.fold,
        num(f.train_loss),
        num(f.val_loss)
    );
    if let (Some(t), Some(v)) = (f.train_accuracy, f.val_accuracy) {
        s += &format!("  train_acc {}  val_acc {}", percent(t), percent(v));
    }
    s + &format!("  ({} epochs)", f.epochs)
}
