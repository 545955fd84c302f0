//! `trainscope critical CONFIG.toml`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_diag::{AnalysisOptions, CriticalOptions};
use trainscope_inspect::{critical_experiment, CriticalRow, ExperimentOptions};
use trainscope_train::Config;

use crate::output::{self, num};
use crate::progress::RowProgress;

/// The most seeds `critical` takes: each is a training run, and the list of seeds is built
/// up front, so a typo such as 10⁹ must not allocate it.
const MAX_SEEDS: u64 = 10_000;

/// The course's critical-point experiment: for each seed, train, then minimize ‖∇L‖² from the
/// trained weights to land on a critical point, and classify it by the Hessian's eigenvalues;
/// a table, `critical.json`, and loss against minimum ratio in `critical.svg` / `.png`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (its seed is replaced by each seed in turn).
    config: PathBuf,
    /// Number of seeds (0, 1, …, N−1).
    #[arg(long, value_name = "N", default_value_t = 5)]
    seeds: u64,
    /// Override a configuration key (see `trainscope train --help`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Where the runs and the results go [default: runs/<config file stem>-critical].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Stop the search when ‖∇L‖ falls below this.
    #[arg(long, value_name = "X", default_value = "1e-6")]
    target_grad_norm: f64,
    /// Most search steps per seed.
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_steps: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Threads [default: the configuration's `threads`].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No per-seed lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, &args.set)?;
    output::set_threads(args.threads.unwrap_or(config.threads));
    if args.seeds == 0 {
        anyhow::bail!("--seeds: need at least 1 seed");
    }
    if args.seeds > MAX_SEEDS {
        anyhow::bail!(
            "--seeds: {} seeds, more than the limit of {MAX_SEEDS}",
            args.seeds
        );
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| super::default_out(&args.config, "critical"));
    let opts = ExperimentOptions {
        seeds: (0..args.seeds).collect(),
        out_dir: out,
        critical: CriticalOptions {
            target_grad_norm: args.target_grad_norm,
            max_steps: args.max_steps,
            ..Default::default()
        },
        analysis: AnalysisOptions::default(),
    };
    let quiet = args.quiet || args.json;
    let rows = RowProgress::new(quiet);
    let mut on_row = |r: &CriticalRow| {
        rows.row(line(r));
    };
    let out_dir = opts.out_dir.clone();
    let exp = critical_experiment(&config, &opts, &mut on_row)?;
    // The transient line goes before the table is printed.
    drop(rows);
    let saved = out_dir.join(trainscope_record::files::CRITICAL);
    if args.json {
        output::json(&exp)?;
        return Ok(ExitCode::SUCCESS);
    }
    let t = &exp.thresholds;
    let mut r = format!(
        "{:>5} {:>12} {:>11} {:>9} {:>9} {:>5} {:>10}  {:<20}  {:<14}  escape Δloss\n",
        "seed",
        "loss",
        "‖g‖",
        "positive",
        "negative",
        "zero",
        "min ratio",
        "verdict",
        "course verdict"
    );
    for row in &exp.rows {
        r += &line(row);
        r.push('\n');
    }
    r += &format!(
        "{} parameters, loss over {} training rows ({}); search target ‖g‖ < {:e}\n\
         verdict: ‖g‖ < {:e} is critical; then a negative and a positive eigenvalue → saddle \
         point, no negative → local-minimum-like; zero: |λ| ≤ {:e}·max|λ|\n\
         course verdict: min ratio = positive / all (zeros included) > {} → local-minimum-like, \
         else saddle point\n",
        exp.parameters,
        exp.rows_in_loss,
        exp.eval_mode_note,
        exp.target_grad_norm,
        t.grad_tol,
        t.zero_tol,
        t.min_ratio
    );
    for row in &exp.rows {
        if let Some(n) = &row.verdict_note {
            r += &format!("seed {}: {n}\n", row.seed);
        }
    }
    r += "escape Δloss: at a saddle point, the lowest loss along ±the eigenvector of the most \
          negative eigenvalue (steps 1e-4 … 10) minus the loss there\n";
    for c in &exp.claims {
        r += &format!(
            "[{}] {}\n",
            if c.held { "holds" } else { "does not hold" },
            c.claim
        );
    }
    for p in &exp.plots {
        r += &format!("plot: {}\n", p.display());
    }
    r += &format!("saved: {}\n", saved.display());
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}

fn line(r: &CriticalRow) -> String {
    let c = |x: Option<usize>| x.map_or("–".into(), |v| v.to_string());
    format!(
        "{:>5} {:>12} {:>11} {:>9} {:>9} {:>5} {:>10}  {:<20}  {:<14}  {:<12}  {}",
        r.seed,
        num(r.loss),
        format!("{:.2e}", r.grad_norm),
        c(r.positive),
        c(r.negative),
        c(r.zero),
        r.min_ratio.map_or("–".into(), |m| format!("{m:.4}")),
        r.verdict.describe(),
        match r.course_verdict {
            Some(c) if c == r.verdict => "same".into(),
            Some(c) => format!("{} (differs)", c.describe()),
            None => "–".to_string(),
        },
        r.escape_loss_drop
            .map_or("–".into(), |d| format!("{:.3e}", -d)),
        if r.converged {
            String::new()
        } else {
            format!(
                "(search stopped: {})",
                r.stop_reason.split(':').next().unwrap_or_default()
            )
        }
    )
    .trim_end()
    .to_string()
}
