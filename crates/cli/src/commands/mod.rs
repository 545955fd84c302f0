//! The subcommands, one file each.

mod cv;
mod eval;
mod playground;
mod plot;
mod predict;
mod report;
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
    Surface(surface::Args),
    Playground(playground::Args),
    Plot(plot::Args),
    Report(report::Args),
}

pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Cv(a) => cv::run(a),
        Command::Surface(a) => surface::run(a),
        Command::Playground(a) => playground::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Report(a) => report::run(a),
    }
}
