//! `trainscope convert STATE_DICT --model-spec FILE --out CKPT`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use trainscope_train::{write_atomic, TrainedModel};

use crate::commands::model_spec::ModelSpecArgs;
use crate::output;

/// Write a complete trainscope checkpoint from a plain state dict (PyTorch's `state_dict()`
/// saved with safetensors), its layer description and its schema, for every command and for
/// `model.init` without the flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state dict: a safetensors file of tensors under PyTorch's `state_dict` names.
    state_dict: PathBuf,
    #[command(flatten)]
    spec: ModelSpecArgs,
    /// A CSV file whose header gives the feature columns (every column but the target), when
    /// --features and the model description do not.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// The checkpoint to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(import) = args.spec.import() else {
        bail!("--model-spec FILE: the layer description of the state dict is needed");
    };
    let bytes = import.checkpoint(&args.state_dict, args.data.as_deref(), true)?;
    // Read back as every command will read it, so nothing unreadable is written.
    let model = TrainedModel::parse(&args.state_dict, &bytes)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let meta = model.meta();
    let schema = &meta.schema;
    let mut r = format!(
        "wrote {}: {} ({}, loss {}, {})\n",
        args.out.display(),
        meta.dtype.name(),
        trainscope_train::task_name(meta.task),
        meta.loss.name(),
        match &schema.label_map {
            Some(m) => format!("{} classes {}", m.len(), m.labels().join(", ")),
            None => format!("targets {}", schema.targets.join(", ")),
        }
    );
    r += &format!(
        "features ({}): {}\n",
        schema.feature_names.len(),
        abbreviated(&schema.feature_names)
    );
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}

/// Every name of a short list; the first and last few of a long one.
fn abbreviated(names: &[String]) -> String {
    if names.len() <= 8 {
        return names.join(", ");
    }
    format!(
        "{}, …, {}",
        names[..3].join(", "),
        names[names.len() - 2..].join(", ")
    )
}
