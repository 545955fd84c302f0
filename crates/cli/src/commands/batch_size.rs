//! `trainscope batch-size CONFIG.toml --sizes 1,8,32,128,full`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_inspect::{batch_size_comparison, BatchChoice, BatchOptions, BatchRow};
use trainscope_inspect::{NOISE_BATCHES, PERTURBATIONS, PERTURBATION_SIZE};
use trainscope_train::Config;

use crate::output::{self, num, significant};
use crate::progress::RowProgress;

/// The lectures' small-versus-large batch comparison on your data: time per update, time per
/// epoch, final training and validation loss, with the same epochs (default) or the same
/// wall-clock budget; `batch_size.json` and a bar plot (`batch_size.svg` / `.png`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    config: PathBuf,
    /// Batch sizes: rows per update, or `full`.
    #[arg(long, value_name = "B,…", default_value = "1,8,32,128,full")]
    sizes: String,
    /// Give each size the same wall-clock budget instead of the same epochs.
    #[arg(long, value_name = "S")]
    budget_seconds: Option<f64>,
    /// Override a configuration key (see `trainscope train --help`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Where the runs and the results go [default: runs/<config file stem>-batch-size].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Threads [default: the configuration's `threads`].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No per-size lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sizes = BatchChoice::parse_list(&args.sizes)?;
    let config = Config::load(&args.config, &args.set)?;
    output::set_threads(args.threads.unwrap_or(config.threads));
    let opts = BatchOptions {
        sizes,
        budget_seconds: args.budget_seconds,
        out_dir: args
            .out
            .clone()
            .unwrap_or_else(|| super::default_out(&args.config, "batch-size")),
    };
    let quiet = args.quiet || args.json;
    let rows = RowProgress::new(quiet);
    let mut on_row = |r: &BatchRow| {
        rows.row(line(r));
    };
    let c = batch_size_comparison(&config, &opts, &mut on_row)?;
    // The transient line goes before the table is printed.
    drop(rows);
    let saved = opts.out_dir.join(trainscope_record::files::BATCH_SIZE);
    if args.json {
        output::json(&c)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut r = format!(
        "{} training rows, {}, {} loss\n{:>6} {:>7} {:>8} {:>14} {:>14} {:>11} {:>11} {:>11} {:>9} {:>10}\n",
        c.train_rows,
        c.mode,
        c.loss_name,
        "batch",
        "epochs",
        "updates",
        "ms / update",
        "s / epoch",
        "train",
        "validation",
        "grad noise",
        "λmax",
        "keskar %"
    );
    for row in &c.rows {
        r += &line(row);
        r.push('\n');
    }
    r += "what the lectures say to look for:\n";
    for l in &c.lecture {
        r += &format!("  - {l}\n");
    }
    r += &format!(
        "grad noise: mean ‖g_B − g‖² over {NOISE_BATCHES} random batches at the weights batch {} ended at; λmax: the largest Hessian eigenvalue of the training loss at each end point (Lanczos); keskar %: the largest loss rise over {PERTURBATIONS} random ±{:.0} % perturbations, 100·ΔL/(1 + L)\n",
        c.rows.first().map_or("", |r| r.batch_size.as_str()),
        100.0 * PERTURBATION_SIZE
    );
    for cl in &c.claims {
        r += &format!(
            "[{}] {}\n",
            if cl.held { "holds" } else { "does not hold" },
            cl.claim
        );
    }
    for p in &c.plots {
        r += &format!("plot: {}\n", p.display());
    }
    r += &format!("saved: {}\n", saved.display());
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}

fn line(r: &BatchRow) -> String {
    format!(
        "{:>6} {:>7} {:>8} {:>14} {:>14} {:>11} {:>11} {:>11} {:>9} {:>10}",
        r.batch_size,
        r.epochs,
        r.updates,
        significant(1e3 * r.time_per_update, 3),
        significant(r.time_per_epoch, 3),
        num(r.train_loss),
        r.val_loss.map_or("–".into(), num),
        r.grad_noise.map_or("–".into(), |v| format!("{v:.3e}")),
        r.sharpness.map_or("–".into(), |v| significant(v, 4)),
        r.perturbed_rise.map_or("–".into(), |v| format!("{v:.2e}")),
    )
}
