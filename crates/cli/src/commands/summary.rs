//! `trainscope summary CONFIG|RUN|CHECKPOINT`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trainscope_nn::{summary_text, Checkpoint, LayerRow, ModelSpec};
use trainscope_train::config::Preset;
use trainscope_train::{files, input_shape, load_run_data, loss_for_data, model_spec_for, Config};

use crate::output;

/// The model as a table: each layer with its name (as in the checkpoint's tensor names), its
/// output shape and its parameters, and the total. For a configuration the data is read to
/// know the model's inputs and outputs.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A configuration (.toml), a run directory (its model.safetensors) or a checkpoint.
    target: PathBuf,
    /// Override a configuration value, e.g. `--set model.hidden=[32,32]` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Table {
    inputs: trainscope_nn::Inputs,
    layers: Vec<LayerRow>,
    parameters: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let spec = spec_of(&args)?;
    let layers = spec.summary();
    if args.json {
        output::json(&Table {
            inputs: spec.inputs.clone(),
            parameters: layers.iter().map(|l| l.parameters).sum(),
            layers,
        })?;
    } else {
        output::stdout(&summary_text(&spec.inputs, &layers))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn spec_of(args: &Args) -> anyhow::Result<ModelSpec> {
    let t = &args.target;
    let is_config = t.extension().is_some_and(|e| e == "toml");
    if !is_config && !args.set.is_empty() {
        anyhow::bail!("--set applies to a configuration, not to {}", t.display());
    }
    if t.is_dir() {
        return checkpoint_spec(&files::checkpoint_of(t));
    }
    if !is_config {
        return checkpoint_spec(t);
    }
    let config = Config::load(t, &args.set)?;
    // A trainscope checkpoint brings its model; a plain state dict is read with [model]'s.
    if let Some(init) = config
        .model
        .init
        .as_ref()
        .filter(|_| config.model.layers.is_none() && config.model.preset.is_none())
    {
        return checkpoint_spec(init);
    }
    let data = load_run_data(&config)?;
    let train = &data.train;
    let (_, outputs) = loss_for_data(config.training.loss, train)?;
    let inputs = input_shape(&config, train);
    if config.model.preset == Some(Preset::Cnn) && inputs.dims().len() != 3 {
        anyhow::bail!(
            "data.image_shape: preset \"cnn\" needs images: give the shape [channels, height, width] of the {} features of a row, or read IDX image files",
            train.n_features()
        );
    }
    model_spec_for(&config.model, &inputs, outputs)
        .with_context(|| format!("{}: no model described", t.display()))
}

fn checkpoint_spec(path: &std::path::Path) -> anyhow::Result<ModelSpec> {
    let c: Checkpoint<f64> = trainscope_nn::Sequential::<f64>::load(path)?;
    Ok(c.model.spec().clone())
}
