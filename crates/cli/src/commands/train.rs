//! `trainscope train CONFIG.toml`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trainscope_report::LiveExport;
use trainscope_train::{
    files, load_training_run, train_on, Config, EpochMetrics, Observer, RunInfo, RunOptions,
    Silent, Summary, TrainError,
};

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
    /// The model's table (layers, output shapes, parameters) at the start; after training,
    /// every remedy of each finding with its evidence and rule.
    #[arg(long, short)]
    verbose: bool,
    /// Print every N-th epoch's line (and the first and last) [default: every epoch; on a
    /// terminal, a 1-2-5 step that shows about 50 lines].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    log_every: Option<u64>,
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
    let data = load_training_run(&config)?;
    let cluster = crate::cluster::join()?;
    // Installed only now: a signal while the data loads still ends the process at once, as
    // there is nothing to save yet.
    let stop = stop_on_signals()?;
    let opts = RunOptions {
        out_dir: Some(out.clone()),
        resume: args.resume,
        stop_after_epoch: args.stop_after_epoch,
        stop: Some(Arc::clone(&stop)),
    };
    if !cluster.is_root() {
        // Rank 0 writes and prints; the other processes only train.
        return match train_on(&config, &data, &opts, &cluster, &mut Silent) {
            Ok(s) if s.interrupted && stop.load(Ordering::SeqCst) => Ok(ExitCode::from(130)),
            Ok(_) => Ok(ExitCode::SUCCESS),
            // Every process diverges at the same update; rank 0 reports it.
            Err(TrainError::Diverged { .. }) => Ok(ExitCode::from(2)),
            Err(e) => {
                let e = e.into();
                crate::cluster::abort_after(&cluster, &e);
                Err(e)
            }
        };
    }
    let mut observer = Live {
        progress: Progress::new(args.quiet)
            .show_model(args.verbose)
            .log_every(args.log_every.map(|n| n as usize)),
        dir: out.clone(),
        board: None,
        updates: 0,
    };
    let result = train_on(&config, &data, &opts, &cluster, &mut observer);
    let board = observer.board.take();
    if cluster.is_distributed() {
        let t = cluster.traffic();
        let per = |x: f64| x / observer.updates.max(1) as f64;
        eprintln!(
            "all-reduce across {} processes: {} sums, {:.0} bytes and {:.3} ms per update ({} updates)",
            cluster.size(),
            t.calls,
            per(t.bytes as f64),
            per(t.seconds * 1e3),
            observer.updates
        );
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e) if !matches!(e, TrainError::Diverged { .. }) => {
            let e = e.into();
            crate::cluster::abort_after(&cluster, &e);
            return Err(e);
        }
        Err(e) => {
            // A diverged run still has a summary (up to its last completed epoch): print it
            // before the error, so a script reading stdout sees where the run got to.
            if let TrainError::Diverged {
                summary: Some(s), ..
            } = &e
            {
                let findings = match &s.run_dir {
                    Some(dir) => trainscope_inspect::run_findings(dir, Some(s))?,
                    None => None,
                };
                if args.json {
                    print_json(s, findings.as_ref())?;
                } else if let Some(f) = &findings {
                    output::stdout(&super::findings::block(f, args.verbose))?;
                }
            }
            return Err(e.into());
        }
    };
    if board.is_none() {
        if let Some(dir) = &summary.run_dir {
            // The live file could not be started: the whole file at the end instead.
            trainscope_report::export_tensorboard(dir)?;
        }
    }
    if summary.interrupted && stop.load(Ordering::SeqCst) {
        if args.json {
            print_json(&summary, None)?;
        }
        let at = summary
            .stopped_at
            .map(|p| {
                format!(
                    "after update {} of epoch {} (step {})",
                    p.update, p.epoch, p.step
                )
            })
            .unwrap_or_default();
        eprintln!(
            "interrupted {at}; the state is saved, continue with: {}",
            resume_command(&args, &out)
        );
        return Ok(ExitCode::from(130));
    }
    let findings = match (&summary.run_dir, summary.interrupted) {
        (Some(dir), false) => trainscope_inspect::run_findings(dir, Some(&summary))?,
        _ => None,
    };
    if args.json {
        print_json(&summary, findings.as_ref())?;
    } else {
        let mut r = report(&summary, &args);
        r += &findings
            .as_ref()
            .map(|f| super::findings::block(f, args.verbose))
            .unwrap_or_default();
        output::stdout(&r)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Progress on stderr, and the TensorBoard event file growing by one epoch as each ends.
struct Live {
    progress: Progress,
    dir: PathBuf,
    board: Option<LiveExport>,
    /// Updates made in this process.
    updates: u64,
}

impl Observer for Live {
    fn on_start(&mut self, info: &RunInfo) {
        self.progress.on_start(info);
        // After the trainer has prepared the directory: a new run's old files are gone, a
        // resumed run's metrics are cut back to where it resumes.
        match LiveExport::start(&self.dir) {
            Ok(b) => self.board = Some(b),
            Err(e) => eprintln!("warning: TensorBoard file not started: {e}"),
        }
    }
    fn on_update(&mut self, epoch: usize, update: usize, loss: f64) {
        self.updates += 1;
        self.progress.on_update(epoch, update, loss);
    }
    fn on_epoch(&mut self, m: &EpochMetrics) {
        self.progress.on_epoch(m);
        if let Some(b) = &mut self.board {
            if let Err(e) = b.epoch(m) {
                eprintln!("warning: TensorBoard file not written: {e}");
                self.board = None;
            }
        }
    }
    fn on_finish(&mut self) {
        self.progress.on_finish();
    }
}

/// `train --json`: the summary, the findings, and (for compatibility) the stuck-loss findings
/// as plateaus.
#[derive(serde::Serialize)]
struct WithFindings<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    findings: Option<&'a [trainscope_findings::Finding]>,
    stuck: Option<&'a trainscope_diag::StuckReport>,
}

/// Prints the `train --json` object of a run, however it ended (completed, interrupted or
/// diverged): everything it shows is built here from the summary.
fn print_json(
    summary: &Summary,
    findings: Option<&trainscope_findings::Report>,
) -> anyhow::Result<()> {
    let stuck = findings.map(trainscope_inspect::stuck_from_findings);
    output::json(&WithFindings {
        summary,
        findings: findings.map(|f| f.findings.as_slice()),
        stuck: stuck.as_ref(),
    })
}

/// A flag that SIGINT (Ctrl-C) and SIGTERM set, asking the run to stop after the update in
/// progress; a second signal, finding it set, exits at once with 130.
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // The exit is registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// The command that continues the run in `out`: the same configuration, overrides and thread
/// count, quoted for a POSIX shell.
fn resume_command(args: &Args, out: &Path) -> String {
    let mut words = vec![
        "trainscope".to_string(),
        "train".into(),
        shell_quote(&args.config.to_string_lossy()),
        "--out".into(),
        shell_quote(&out.to_string_lossy()),
        "--resume".into(),
    ];
    for set in &args.set {
        words.push("--set".into());
        words.push(shell_quote(set));
    }
    if let Some(t) = args.threads {
        words.push(format!("--threads {t}"));
    }
    words.join(" ")
}

/// `word` as one POSIX shell word: unchanged when it has only characters no shell treats
/// specially, otherwise in single quotes (a quote inside becomes `'\''`).
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
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
            "stopped after epoch {} ({} updates, {:.1} s); continue with: {}\n",
            s.epochs,
            s.steps,
            s.seconds,
            resume_command(args, Path::new(&dir))
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
        // No loss, or NaN: no epoch completed.
        let Some(loss) = loss.filter(|l| !l.is_nan()) else {
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

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("runs/a-1.toml"), "runs/a-1.toml");
        assert_eq!(shell_quote("optimizer.lr=0.01"), "optimizer.lr=0.01");
        assert_eq!(shell_quote("my run"), "'my run'");
        assert_eq!(shell_quote("name=\"x y\""), "'name=\"x y\"'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}
