//! `trainscope prepare DATA --out DATA.tsd`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use trainscope_data::{
    prepare_csv, prepare_idx, CsvOptions, Manifest, Precision, PrepareOptions, Task,
};
use trainscope_train::config::{DTypeName, DataFormat};
use trainscope_train::Config;

use crate::output;

/// Convert a CSV or IDX training file once, streaming, into a prepared dataset: a directory
/// of ~64 MB safetensors shards and a manifest (schema, row count, standardization statistics,
/// checksums) that `train` reads with `data.train = "DATA.tsd"` without loading it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The training file: a CSV (plain or gzip), or IDX images (`*-images-idx3-ubyte[.gz]`).
    data: PathBuf,
    /// The directory to write (replaced if it is a prepared dataset already).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Take the columns (data.target, data.features, data.task) and the stored type (f64 when
    /// `dtype = "f64"`, else f32) from this configuration's `[data]`, as `train` reads them.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The target column, or the comma-separated target columns of a regression (CSV, without
    /// --config).
    #[arg(
        long,
        value_name = "COL",
        value_delimiter = ',',
        conflicts_with = "config"
    )]
    target: Option<Vec<String>>,
    /// The feature columns, comma-separated [default: every column but the target].
    #[arg(
        long,
        value_name = "COLS",
        value_delimiter = ',',
        conflicts_with = "config"
    )]
    features: Option<Vec<String>>,
    /// regression or classification [default: regression; IDX: classification].
    #[arg(long, value_enum, conflicts_with = "config")]
    task: Option<TaskArg>,
    /// IDX: the label file [default: the image file's name with `images-idx3` →
    /// `labels-idx1`].
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Store CSV features as f64 (exact) instead of f32.
    #[arg(long, conflicts_with = "config")]
    f64: bool,
    /// Rows per shard [default: as many as make 64 MB of features].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    shard_rows: Option<u64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TaskArg {
    Regression,
    Classification,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut options = PrepareOptions {
        precision: if args.f64 {
            Precision::F64
        } else {
            Precision::F32
        },
        rows_per_shard: args.shard_rows.map(|n| n as usize),
    };
    let manifest = match &args.config {
        Some(path) => {
            let config = Config::load(path, &[])?;
            if config.dtype == DTypeName::F64 {
                options.precision = Precision::F64;
            }
            match config.data.format {
                DataFormat::Idx => {
                    let labels = args
                        .labels
                        .clone()
                        .or(config.data.train_labels.clone())
                        .unwrap_or_else(|| labels_beside(&args.data));
                    prepare_idx(&args.data, &labels, &args.out, &options)?
                }
                DataFormat::Csv => {
                    let target = config.data.target.as_ref().expect("validated");
                    let mut csv = match config.task() {
                        Task::Regression => {
                            CsvOptions::regression_on(target.names().iter().cloned())
                        }
                        Task::Classification => CsvOptions::classification(&target.names()[0]),
                    };
                    if let Some(f) = &config.data.features {
                        csv = csv.with_features(f.iter().cloned());
                    }
                    prepare_csv(&args.data, &csv, &args.out, &options)?
                }
            }
        }
        None if is_idx(&args.data) => {
            if args.target.is_some() || args.features.is_some() || args.f64 {
                bail!("--target, --features and --f64 are for CSV files; IDX images are stored as bytes with their labels");
            }
            if matches!(args.task, Some(TaskArg::Regression)) {
                bail!("--task regression: IDX data is always a classification");
            }
            let labels = args
                .labels
                .clone()
                .unwrap_or_else(|| labels_beside(&args.data));
            prepare_idx(&args.data, &labels, &args.out, &options)?
        }
        None => {
            let Some(target) = &args.target else {
                bail!(
                    "--target COL: the target column of {} is needed (or --config FILE)",
                    args.data.display()
                );
            };
            let mut csv = match args.task {
                Some(TaskArg::Classification) => {
                    if target.len() != 1 {
                        bail!(
                            "--target: a classification has one target column, not {}",
                            target.len()
                        );
                    }
                    CsvOptions::classification(&target[0])
                }
                _ => CsvOptions::regression_on(target.iter().cloned()),
            };
            if let Some(f) = &args.features {
                csv = csv.with_features(f.iter().cloned());
            }
            prepare_csv(&args.data, &csv, &args.out, &options)?
        }
    };
    output::stdout(&report(&args.out, &manifest))?;
    Ok(ExitCode::SUCCESS)
}

/// IDX images are named `…idx3-ubyte` (MNIST's convention) or end in `.idx`.
fn is_idx(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".idx") || name.contains("idx3")
}

/// `train-images-idx3-ubyte.gz` → `train-labels-idx1-ubyte.gz`; `x.idx` → `x.labels.idx`.
fn labels_beside(images: &Path) -> PathBuf {
    let name = images.file_name().unwrap_or_default().to_string_lossy();
    let label_name = if name.contains("images-idx3") {
        name.replace("images-idx3", "labels-idx1")
    } else {
        name.replacen(".idx", ".labels.idx", 1)
    };
    images.with_file_name(label_name)
}

fn report(out: &Path, m: &Manifest) -> String {
    format!(
        "wrote {}: {} rows × {} features ({}), {} shard{} of {} rows; train with data.train = {:?}\n",
        out.display(),
        m.rows,
        m.n_features(),
        match m.dtype {
            trainscope_data::StoredType::F32 => "f32",
            trainscope_data::StoredType::F64 => "f64",
            trainscope_data::StoredType::U8 => "pixel bytes",
        },
        m.shards.len(),
        if m.shards.len() == 1 { "" } else { "s" },
        m.rows_per_shard,
        out.display().to_string()
    )
}
