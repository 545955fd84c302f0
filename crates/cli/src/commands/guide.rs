//! `trainscope guide CONFIG.toml`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_inspect::{guide, GuideOptions, GuideReport, GuideRules, Rung};
use trainscope_train::Config;

use crate::output::{self, num};
use crate::progress::RowProgress;

/// The general guide ("why is my model bad?"): train a ladder of models from linear to deep on
/// the same data with the same optimizer, compare training and validation (and test) losses,
/// and name the problem — model bias, optimization issue, overfitting or mismatch — with the
/// lectures' remedies and the bias–complexity curve (`guide.svg` / `.png`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (its model section is replaced by each rung of the ladder).
    config: PathBuf,
    /// A labelled test file, compared with the validation loss (mismatch).
    #[arg(long, value_name = "FILE")]
    test: Option<PathBuf>,
    /// K-fold cross validation instead of the configuration's validation rows.
    #[arg(long, value_name = "K")]
    folds: Option<usize>,
    /// Hidden-layer counts of the ladder; 0 is the linear model.
    #[arg(
        long,
        value_name = "D,…",
        value_delimiter = ',',
        default_value = "0,1,2,4"
    )]
    depths: Vec<usize>,
    /// Hidden widths: layer i of every rung has the i-th width (the last one repeats).
    #[arg(long, value_name = "W,…", value_delimiter = ',', default_value = "32")]
    widths: Vec<usize>,
    /// Put every hidden layer after the first inside a residual block (y = x + layer(x)): the
    /// lectures' fix for deep networks that train worse than shallow ones. Needs one width.
    #[arg(long)]
    residual: bool,
    /// Override a configuration key (see `trainscope train --help`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Where the runs and the results go [default: runs/<config file stem>-guide].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Threads [default: the configuration's `threads`].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No per-model lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, &args.set)?;
    output::set_threads(args.threads.unwrap_or(config.threads));
    let opts = GuideOptions {
        depths: args.depths.clone(),
        widths: args.widths.clone(),
        residual: args.residual,
        folds: args.folds,
        test: args.test.clone(),
        out_dir: args
            .out
            .clone()
            .unwrap_or_else(|| super::default_out(&args.config, "guide")),
        rules: GuideRules::default(),
    };
    let quiet = args.quiet || args.json;
    let rows = RowProgress::new(quiet);
    let mut on_rung = |r: &Rung| {
        rows.row(line(r));
    };
    let g = guide(&config, &opts, &mut on_rung)?;
    // The transient line goes before the table is printed.
    drop(rows);
    let saved = opts.out_dir.join(trainscope_record::files::GUIDE);
    if args.json {
        output::json(&g)?;
    } else {
        output::stdout(&format!("{}saved: {}\n", report(&g), saved.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn line(r: &Rung) -> String {
    let pm = |s: Option<f64>| s.map_or(String::new(), |s| format!(" ± {}", num(s)));
    let stop = match (r.stopped_early, r.best_epoch) {
        (false, _) => String::new(),
        (true, Some(b)) => format!("  (stopped early at epoch {}, keeps epoch {b})", r.epochs),
        (true, None) => "  (stopped early)".into(),
    };
    format!(
        "{:<22} {:>8} params  train {}{}  validation {}{}{stop}",
        r.label,
        r.parameters,
        num(r.train_loss),
        pm(r.train_loss_std),
        num(r.val_loss),
        pm(r.val_loss_std)
    )
}

fn report(g: &GuideReport) -> String {
    let mut r = format!(
        "{} loss; validation by {}; baseline (trivial model on the training rows) {}\n",
        g.loss_name,
        g.validation,
        num(g.baseline_loss)
    );
    for rung in &g.rungs {
        r += &line(rung);
        r.push('\n');
    }
    r += &format!(
        "selected (lowest validation loss): {}, validation {}",
        g.selected,
        num(g.selected_val_loss)
    );
    if let Some(t) = g.test_loss {
        r += &format!(", test {}", num(t));
    }
    r.push('\n');
    for f in &g.findings {
        r += &format!("\n{}: {}\n", f.kind.describe(), f.evidence);
        for rem in &f.remedies {
            r += &format!("  - {rem}\n");
        }
    }
    if !g.notes.is_empty() {
        r.push('\n');
    }
    for n in &g.notes {
        r += &format!("note: {n}\n");
    }
    r += "\nrules:\n";
    for t in &g.rule_text {
        r += &format!("  {t}\n");
    }
    for p in &g.plots {
        r += &format!("plot: {}\n", p.display());
    }
    r
}
