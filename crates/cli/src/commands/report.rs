//! `trainscope report RUN_DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::output;

/// One self-contained HTML page for a run: configuration, figures, stuck verdicts and the
/// diagnosis (when diagnose.json is in the run directory). No scripts, no network.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory.
    run: PathBuf,
    /// The HTML file [default: RUN_DIR/report.html].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = trainscope_report::write_report(&args.run, args.out.as_deref())?;
    output::stdout(&format!("wrote {}\n", path.display()))?;
    Ok(ExitCode::SUCCESS)
}
