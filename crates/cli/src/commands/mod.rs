//! The subcommands, one file each.

mod batch_size;
mod compare;
mod convert;
mod critical;
mod cv;
mod diagnose;
mod eval;
pub(crate) mod findings;
mod guide;
mod model_spec;
mod playground;
mod plot;
mod predict;
mod prepare;
mod report;
mod summary;
mod surface;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Train neural networks on your own data and see why training behaves as it does.
#[derive(Debug, Parser)]
#[command(name = "trainscope", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Train(train::Args),
    Predict(predict::Args),
    Eval(eval::Args),
    Cv(cv::Args),
    Diagnose(diagnose::Args),
    Critical(critical::Args),
    Guide(guide::Args),
    BatchSize(batch_size::Args),
    Summary(summary::Args),
    Surface(surface::Args),
    Playground(playground::Args),
    Plot(plot::Args),
    Report(report::Args),
    Compare(compare::Args),
    Convert(convert::Args),
    Prepare(prepare::Args),
}

pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Cv(a) => cv::run(a),
        Command::Diagnose(a) => diagnose::run(a),
        Command::Critical(a) => critical::run(a),
        Command::Guide(a) => guide::run(a),
        Command::BatchSize(a) => batch_size::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Surface(a) => surface::run(a),
        Command::Playground(a) => playground::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Report(a) => report::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Prepare(a) => prepare::run(a),
    }
}

/// `runs/<config file stem>-<what>`: where an experiment over a configuration writes by default.
fn default_out(config: &std::path::Path, what: &str) -> std::path::PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    std::path::PathBuf::from("runs").join(format!("{stem}-{what}"))
}
