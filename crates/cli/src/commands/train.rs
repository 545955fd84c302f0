//! `trainscope train CONFIG.toml`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_train::{files, load_run_data, train, Config, RunOptions, Summary};

use crate::output::{self, num, percent};
use crate::progress::Progress;

/// Train a model as a TOML configuration describes; write metrics, checkpoints and the resume
/// state to the run directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    config: PathBuf,
    /// Override a configuration key, e.g. `--set training.epochs=5 --set optimizer.lr=0.01`
    /// (the value is TOML; a bare word is a string).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The run directory [default: runs/<config file stem>].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the stopped run in the run directory exactly where it stopped.
    #[arg(long)]
    resume: bool,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    json: bool,
    /// Threads for the matrix products [default: the configuration's `threads`, 0 = all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    /// Stop after epoch K as if interrupted (continue with --resume).
    #[arg(long, value_name = "K", hide = true)]
    stop_after_epoch: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, &args.set)?;
    output::set_threads(args.threads.unwrap_or(config.threads));
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("runs").join(stem)
    });
    let data = load_run_data(&config)?;
    let opts = RunOptions {
        out_dir: Some(out),
        resume: args.resume,
        stop_after_epoch: args.stop_after_epoch,
        stop: None,
    };
    let mut progress = Progress::new(args.quiet);
    let summary = train(&config, &data, &opts, &mut progress)?;
    let stuck = match (&summary.run_dir, summary.interrupted) {
        (Some(dir), false) => trainscope_inspect::run_stuck(dir)?,
        _ => None,
    };
    if let Some(dir) = &summary.run_dir {
        // Rebuilt from metrics.jsonl each time, so a resumed run has each epoch once.
        trainscope_report::export_tensorboard(dir)?;
    }
    if args.json {
        output::json(&WithStuck {
            summary: &summary,
            stuck: stuck.as_ref(),
        })?;
    } else {
        let mut r = report(&summary, &args);
        r += &stuck.as_ref().map(super::stuck::block).unwrap_or_default();
        output::stdout(&r)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `train --json`: the summary and the plateaus of the run's training loss.
#[derive(serde::Serialize)]
struct WithStuck<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    stuck: Option<&'a trainscope_diag::StuckReport>,
}

fn report(s: &Summary, args: &Args) -> String {
    let dir = s
        .run_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut r = String::new();
    if s.interrupted {
        r += &format!(
            "stopped after epoch {} ({} updates, {:.1} s); continue with: trainscope train {} --out {dir} --resume\n",
            s.epochs,
            s.steps,
            s.seconds,
            args.config.display()
        );
    } else {
        r += &format!(
            "trained {} epochs ({} updates, {} parameters) in {:.1} s{}\n",
            s.epochs,
            s.steps,
            s.parameters,
            s.seconds,
            if s.stopped_early {
                format!(
                    "; stopped early, best epoch {}",
                    s.best_epoch.unwrap_or_default()
                )
            } else {
                String::new()
            }
        );
    }
    let line = |name: &str, loss: Option<f64>, acc: Option<f64>| -> String {
        let Some(loss) = loss else {
            return String::new();
        };
        let mut l = format!("{name:<10} {} {}", s.loss, num(loss));
        if let Some(a) = acc {
            l += &format!("  accuracy {}", percent(a));
        }
        l + "\n"
    };
    r += &line("train", Some(s.train_loss), s.train_accuracy);
    r += &line("validation", s.val_loss, s.val_accuracy);
    r += &line("baseline", s.baseline_val_loss, s.baseline_val_accuracy);
    r += &line("test", s.test_loss, s.test_accuracy);
    r += &format!(
        "model: {}\n",
        PathBuf::from(&dir).join(files::MODEL).display()
    );
    r
}
