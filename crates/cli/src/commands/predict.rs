//! `trainscope predict --model FILE --data X.csv`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trainscope_train::{write_atomic, Digits, TrainedModel};

use crate::commands::model_spec::ModelSpecArgs;
use crate::output;

/// Predict with a trained model: regression values in the target's units, or the predicted
/// label and one probability per class (with --raw: the model's raw outputs, logits for a
/// classifier).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A checkpoint written by `trainscope train` (model.safetensors or best.safetensors), a
    /// run directory (its model.safetensors), or with --model-spec a plain state dict.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    spec: ModelSpecArgs,
    /// A CSV file with the model's feature columns (found by name; other columns are ignored).
    #[arg(long, value_name = "X.csv")]
    data: PathBuf,
    /// Write the model's raw outputs instead: one column per output, logits (`logit_<label>`)
    /// for a classifier, the regression outputs in the units the model was trained in.
    #[arg(long)]
    raw: bool,
    /// Write the predictions here instead of stdout.
    #[arg(long, value_name = "P.csv")]
    out: Option<PathBuf>,
    /// Significant digits of the written numbers, 1 to 17 [default: the shortest that reads
    /// back as the same f32, at most 9].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=17))]
    precision: Option<u8>,
    /// Threads for the matrix products [default: all cores].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    output::set_threads(args.threads);
    let model: TrainedModel = args.spec.trained_model(&args.model, &args.data, false)?;
    let predictions = model.predict_file(&args.data)?;
    let mut csv = Vec::new();
    let digits = match args.precision {
        Some(n) => Digits::Significant(usize::from(n)),
        None => Digits::ShortestF32,
    };
    if args.raw {
        predictions.write_raw_csv_with(&mut csv, digits)?;
    } else {
        predictions.write_csv_with(&mut csv, digits)?;
    }
    match &args.out {
        // Atomic, so a failed run never leaves a partial file.
        Some(path) => {
            write_atomic(path, &csv).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => output::stdout(&String::from_utf8_lossy(&csv))?,
    }
    Ok(ExitCode::SUCCESS)
}
