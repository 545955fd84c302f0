//! `trainscope plot RUN_DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use trainscope_report::{plot_run, Format, Run};

use crate::output;

/// The figures of a run: loss curves, loss beside the gradient norm, the learning rate, and
/// (when the run directory holds diagnose.json, critical.json, batch_size.json, guide.json) the
/// Hessian spectrum, loss against minimum ratio, the batch-size table and the bias–complexity
/// curve.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory.
    run: PathBuf,
    /// Where to write the figures [default: RUN_DIR/plots].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// svg, png or both.
    #[arg(long, value_name = "FORMAT", default_value = "both")]
    format: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let formats = match args.format.as_str() {
        "svg" => vec![Format::Svg],
        "png" => vec![Format::Png],
        "both" => vec![Format::Svg, Format::Png],
        f => bail!("--format {f:?}: expected svg, png or both"),
    };
    let run = Run::open(&args.run)?;
    for (name, why) in run.set_aside.stale.iter().chain(&run.set_aside.unreadable) {
        eprintln!("warning: {name} not drawn: {why}");
    }
    for name in &run.set_aside.unstamped {
        eprintln!("warning: {name} has no stamp: which weights it describes cannot be told");
    }
    let out = args.out.clone().unwrap_or_else(|| args.run.join("plots"));
    let figures = plot_run(&run, &out, &formats)?;
    let mut r = String::new();
    for f in &figures {
        for p in &f.files {
            r += &format!("wrote {}  ({})\n", p.display(), f.title);
        }
    }
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}
