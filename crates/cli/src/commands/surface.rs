//! `trainscope surface …`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use trainscope_report::{
    analytic_surface, model_surface, parse_surface, Directions, SurfaceLowest, SurfaceRecord,
    TrainedProblem,
};
use trainscope_viz::plot::{contour_plot, ContourOptions, Mark, PathSeries};
use trainscope_viz::{Grid, Window};

use crate::commands::model_spec::ModelSpecArgs;
use crate::output;

/// The loss on a 2-D grid: an analytic surface, or a trained model's loss on a slice through
/// its weights (two parameters, random filter-normalized directions, or Hessian
/// eigenvectors), saved as CSV and drawn as contours (SVG and PNG) with the training path.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory or a checkpoint, or with --model-spec a plain state dict (omit with
    /// --analytic).
    run: Option<PathBuf>,
    #[command(flatten)]
    spec: ModelSpecArgs,
    /// An analytic surface instead: bowl, rosenbrock, saddle, monkey_saddle, two_basins,
    /// softmax_mse, cross_entropy, raw_features, standardized_features (`-` works too).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["run", "model_spec"])]
    analytic: Option<String>,
    /// Analytic window: x_min,x_max,y_min,y_max [default: the surface's own].
    #[arg(long, value_name = "X0,X1,Y0,Y1", allow_hyphen_values = true)]
    window: Option<String>,
    /// A labelled CSV file to measure the loss on [default: the run's training rows].
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Two scalar parameters as axes, e.g. `0.weight[0],0.bias[0]`.
    #[arg(long, value_name = "NAME,NAME", conflicts_with = "directions")]
    params: Option<String>,
    /// `random` (filter-normalized) or `hessian` (largest and most negative eigenvalue).
    #[arg(long, value_name = "KIND")]
    directions: Option<String>,
    /// Seed of the random directions.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Grid points per axis.
    #[arg(long, value_name = "N", default_value_t = 51)]
    grid: usize,
    /// Half-width of the window around the trained weights (grown to hold the trajectory).
    #[arg(long, value_name = "R", default_value_t = 1.0)]
    radius: f64,
    /// Output directory [default: the run directory, or `surface-<name>` for --analytic].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Threads [default: all cores].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    output::set_threads(args.threads);
    match (&args.analytic, &args.run) {
        (Some(name), _) => analytic(&args, name),
        (None, Some(run)) => model(&args, run),
        (None, None) => bail!("give a run directory or checkpoint, or --analytic NAME"),
    }
}

pub(crate) fn parse_window(s: &str) -> anyhow::Result<Window> {
    let v: Result<Vec<f64>, _> = s.split(',').map(|p| p.trim().parse::<f64>()).collect();
    match v.ok().as_deref() {
        Some(&[a, b, c, d]) => {
            let w = Window::new(a, b, c, d);
            w.validate().with_context(|| format!("--window {s}"))?;
            Ok(w)
        }
        _ => bail!("--window {s:?}: expected four numbers x_min,x_max,y_min,y_max"),
    }
}

fn analytic(args: &Args, name: &str) -> anyhow::Result<ExitCode> {
    if args.params.is_some() || args.directions.is_some() || args.data.is_some() {
        bail!("--params, --directions and --data are for a model's surface, not --analytic");
    }
    let s = parse_surface(name)?;
    let window = match &args.window {
        Some(w) => parse_window(w)?,
        None => s.default_window(),
    };
    let grid = analytic_surface(s, &window, args.grid)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("surface-{}", s.name())));
    let opts = ContourOptions {
        title: format!("{} = {}", s.name(), s.formula()),
        log_levels: s.prefers_log_levels(),
        marks: s.marks(),
        ..Default::default()
    };
    let files = save(&grid, &[], &opts, &out, &format!("surface-{}", s.name()))?;
    let (lo, hi) = grid.range().unwrap_or((f64::NAN, f64::NAN));
    let mut r = format!(
        "{} = {} on [{}, {}] × [{}, {}], {}×{} points; values {} … {}\n",
        s.name(),
        s.formula(),
        window.x_min,
        window.x_max,
        window.y_min,
        window.y_max,
        args.grid,
        args.grid,
        output::num(lo),
        output::num(hi)
    );
    for f in files {
        r += &format!("wrote {}\n", f.display());
    }
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}

fn model(args: &Args, run: &Path) -> anyhow::Result<ExitCode> {
    if args.window.is_some() {
        bail!("--window is for --analytic; use --radius around a model's weights");
    }
    let directions = match (&args.params, args.directions.as_deref()) {
        (Some(p), _) => {
            let parts: Vec<&str> = split_params(p);
            let [a, b] = parts[..] else {
                bail!("--params {p:?}: expected two parameters, e.g. \"0.weight[0],0.bias[0]\"");
            };
            Directions::Parameters(a.to_string(), b.to_string())
        }
        (None, Some("random")) => Directions::Random(args.seed),
        (None, Some("hessian")) => Directions::Hessian,
        (None, Some(d)) => bail!("--directions {d:?}: expected random or hessian"),
        (None, None) => bail!("give --params NAME,NAME or --directions random|hessian"),
    };
    let problem =
        TrainedProblem::load_with(run, args.data.as_deref(), args.spec.import().as_ref())?;
    let s = model_surface(&problem, &directions, args.grid, args.radius)?;
    let out = args
        .out
        .clone()
        .or_else(|| problem.run_dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let stem = match &directions {
        Directions::Parameters(..) => "surface-params".to_string(),
        // Each seed is another slice: its own files, so comparing seeds overwrites nothing.
        // Seed 0 (the default) keeps the plain name.
        Directions::Random(0) => "surface-random".to_string(),
        Directions::Random(seed) => format!("surface-random-seed{seed}"),
        Directions::Hessian => "surface-hessian".to_string(),
    };
    let mut paths = Vec::new();
    if let Some(t) = &s.trajectory {
        paths.push(PathSeries {
            label: "training path (per epoch)",
            points: t,
        });
    }
    let opts = ContourOptions {
        title: format!("Loss around {}", problem.checkpoint.display()),
        log_levels: s
            .grid
            .range()
            .is_some_and(|(lo, hi)| lo >= 0.0 && hi > 100.0 * lo.max(1e-300)),
        marks: vec![Mark {
            label: "trained weights".into(),
            point: s.trained,
        }],
        ..Default::default()
    };
    let mut files = save(&s.grid, &paths, &opts, &out, &stem)?;
    let (i, j, min) = s.grid.argmin().unwrap_or((0, 0, f64::NAN));
    // What the slice shows and which weights it was cut through, for the report and for
    // telling a current slice from one of weights that have since been retrained.
    let stamp = trainscope_record::Stamp::of_checkpoint(
        &problem.checkpoint,
        None,
        Some((
            args.data.as_ref().map_or_else(
                || "the run's training rows".to_string(),
                |d| d.display().to_string(),
            ),
            problem.rows,
        )),
        trainscope_train::VERSION,
    )?;
    let record = SurfaceRecord {
        stamp: Some(stamp),
        files: files
            .iter()
            .map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
        grid: args.grid,
        lowest: SurfaceLowest {
            loss: min,
            x: s.grid.x[i],
            y: s.grid.y[j],
        },
        radius: args.radius,
        slice: s.description.clone(),
        trained: s.trained,
        trajectory_epochs: s.trajectory.as_ref().map(|t| t.len()),
    };
    files.push(trainscope_inspect::save_analysis(
        &out,
        &format!("{stem}.json"),
        &record,
    )?);
    let mut r = format!(
        "slice: {}\ntrained weights at ({}, {}); grid {}×{}; lowest loss {} at ({}, {})\n",
        s.description,
        output::num(s.trained[0]),
        output::num(s.trained[1]),
        args.grid,
        args.grid,
        output::num(min),
        output::num(s.grid.x[i]),
        output::num(s.grid.y[j]),
    );
    match &s.trajectory {
        Some(t) => r += &format!("training path: {} recorded epochs projected\n", t.len()),
        None => {
            r += "training path: none recorded (train with --set training.record_trajectory=true)\n"
        }
    }
    for f in files {
        r += &format!("wrote {}\n", f.display());
    }
    output::stdout(&r)?;
    Ok(ExitCode::SUCCESS)
}

/// Splits `a[0],b[1,2]` at the commas outside brackets.
fn split_params(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

fn save(
    grid: &Grid,
    paths: &[PathSeries<'_>],
    opts: &ContourOptions,
    out: &Path,
    stem: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let csv = out.join(format!("{stem}.csv"));
    grid.write_csv(&csv)?;
    let mut files = vec![csv];
    for ext in ["svg", "png"] {
        let p = out.join(format!("{stem}.{ext}"));
        contour_plot(grid, paths, opts, &p)?;
        files.push(p);
    }
    Ok(files)
}
