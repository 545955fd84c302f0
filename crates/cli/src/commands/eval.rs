//! `trainscope eval --model FILE --data D.csv`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_train::TrainedModel;

use crate::commands::model_spec::ModelSpecArgs;
use crate::output::{self, num, percent};

/// Evaluate a trained model on a labelled CSV file: the loss, and accuracy (classification) or
/// MSE, RMSE and MAE in the target's units (regression).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A checkpoint written by `trainscope train`, a run directory (its model.safetensors), or
    /// with --model-spec a plain state dict.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    spec: ModelSpecArgs,
    /// A CSV file with the feature columns and the target column.
    #[arg(long, value_name = "D.csv")]
    data: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Threads for the matrix products [default: all cores].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    output::set_threads(args.threads);
    let model: TrainedModel = args.spec.trained_model(&args.model, &args.data, true)?;
    let e = model.evaluate_file(&args.data)?;
    if args.json {
        output::json(&e)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut r = format!(
        "rows      {}\nloss      {} {}\n",
        e.rows,
        e.loss_name,
        num(e.loss)
    );
    if let Some(a) = e.accuracy {
        r += &format!("accuracy  {}\n", percent(a));
    }
    if let Some(c) = &e.confusion {
        r.push('\n');
        r += &c.to_text();
    }
    if let (Some(mse), Some(mae)) = (e.mse, e.mae) {
        r += &format!(
            "mse       {}\nrmse      {}\nmae       {}\n",
            num(mse),
            num(mse.sqrt()),
            num(mae)
        );
    }
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}
