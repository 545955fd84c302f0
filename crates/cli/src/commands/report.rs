//! `trainscope report RUN_DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::output;

/// One self-contained HTML page for a run: configuration, figures, findings and the other
/// commands' results saved in the run directory. For the --out directory of guide, critical or
/// batch-size: the experiment's table and figure, and its runs compared. No scripts, no
/// network.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory, or the --out directory of guide, critical or batch-size.
    run: PathBuf,
    /// The HTML file [default: DIR/report.html].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = trainscope_report::write_report(&args.run, args.out.as_deref())?;
    output::stdout(&format!("wrote {}\n", path.display()))?;
    Ok(ExitCode::SUCCESS)
}
