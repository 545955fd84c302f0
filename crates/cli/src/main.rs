//! The `trainscope` binary: `main` → [`run`] → exit code. Everything else lives in the library
//! crates; this crate parses arguments and formats results.

mod cluster;
mod commands;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        // A closed pipe (`trainscope predict … | head`) means the reader has what it wants.
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", output::cause_chain(&err));
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = commands::Cli::parse();
    commands::dispatch(cli.command)
}
