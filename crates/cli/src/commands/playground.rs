//! `trainscope playground …`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde::Serialize;
use trainscope_report::{default_start, parse_spec, parse_surface, PlaygroundFile};
use trainscope_viz::plot::{contour_plot, ContourOptions, PathSeries};
use trainscope_viz::{lecture_story, run_playgrounds, AnalyticSurface, Trajectory, Window};

use crate::output;

/// Optimizers on an analytic surface from a start point, several at once on one plot; or the
/// lectures' story replayed and checked (`--preset lecture`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surface: bowl, rosenbrock, saddle, monkey_saddle (`-` works too) [default: the
    /// file's, else bowl].
    #[arg(long, value_name = "NAME")]
    surface: Option<String>,
    /// A run: `KIND[,KEY=VALUE…]` with the `[optimizer]` keys, `schedule.KEY=VALUE` and
    /// `label=TEXT`, e.g. `adagrad,lr=0.1,variant=lecture,schedule.kind=inverse_time,schedule.gamma=1e-3,schedule.decay_steps=1`. Repeat for several.
    #[arg(long = "optimizer", value_name = "SPEC")]
    optimizers: Vec<String>,
    /// A TOML file of `[[run]]` entries (see examples/playground.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Start point x,y [default: one per surface; the lectures' (9, 0.6) on the bowl].
    #[arg(long, value_name = "X,Y", allow_hyphen_values = true)]
    start: Option<String>,
    /// The plotted window x_min,x_max,y_min,y_max [default: the surface's own, grown to hold
    /// the paths by at most its own size on each side].
    #[arg(long, value_name = "X0,X1,Y0,Y1", allow_hyphen_values = true)]
    window: Option<String>,
    /// Updates per run.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    steps: usize,
    /// `lecture`: the lectures' four runs on the bowl, each claim checked.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Output directory for the plot, the grid and the paths.
    #[arg(long, value_name = "DIR", default_value = "playground")]
    out: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct RunSummary<'a> {
    label: &'a str,
    steps: usize,
    start: [f64; 2],
    end: [f64; 2],
    final_loss: f64,
    final_grad_norm: f64,
    min_distance_to_minimum: Option<f64>,
    diverged: bool,
}

#[derive(Serialize)]
struct Claim {
    claim: String,
    held: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    surface: &'static str,
    runs: Vec<RunSummary<'a>>,
    claims: Option<Vec<Claim>>,
    all_held: Option<bool>,
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let window = args
        .window
        .as_deref()
        .map(super::surface::parse_window)
        .transpose()?;
    let (surface, trajectories, claims) = match args.preset.as_deref() {
        Some("lecture") => {
            if args.config.is_some() || !args.optimizers.is_empty() {
                bail!("--preset lecture runs its own optimizers; drop --optimizer and --config");
            }
            let story = lecture_story()?;
            let claims: Vec<Claim> = story
                .findings
                .claims()
                .into_iter()
                .map(|(claim, held)| Claim { claim, held })
                .collect();
            (story.surface, story.trajectories, Some(claims))
        }
        Some(p) => bail!("--preset {p:?}: the only preset is \"lecture\""),
        None => {
            let file = args
                .config
                .as_deref()
                .map(PlaygroundFile::load)
                .transpose()?;
            let surface = match (&args.surface, &file) {
                (Some(s), _) => parse_surface(s)?,
                (None, Some(f)) => f.surface()?.unwrap_or(AnalyticSurface::Bowl),
                (None, None) => AnalyticSurface::Bowl,
            };
            let start = match &args.start {
                Some(s) => parse_point(s)?,
                None => default_start(surface),
            };
            let mut runs = file
                .as_ref()
                .map(|f| {
                    // A --start on the command line wins over the file's default start.
                    let mut runs = f.runs(start, args.steps);
                    if args.start.is_some() {
                        for (r, e) in runs.iter_mut().zip(&f.run) {
                            if e.start.is_none() {
                                r.start = start;
                            }
                        }
                    }
                    runs
                })
                .unwrap_or_default();
            for spec in &args.optimizers {
                runs.push(parse_spec(spec, start, args.steps)?);
            }
            if runs.is_empty() {
                bail!("nothing to run: give --optimizer SPEC, --config FILE or --preset lecture");
            }
            (surface, run_playgrounds(surface, &runs)?, None)
        }
    };
    let files = draw(surface, &trajectories, window, &args.out)?;
    let runs: Vec<RunSummary> = trajectories
        .iter()
        .map(|t| RunSummary {
            label: &t.label,
            steps: t.steps(),
            start: t.points[0],
            end: t.end(),
            final_loss: t.loss.last().copied().unwrap_or(f64::NAN),
            final_grad_norm: t.grad_norm.last().copied().unwrap_or(f64::NAN),
            min_distance_to_minimum: surface
                .minimum()
                .map(|m| t.distances_to(m).into_iter().fold(f64::INFINITY, f64::min)),
            diverged: t.diverged,
        })
        .collect();
    let all_held = claims.as_ref().map(|c| c.iter().all(|c| c.held));
    let report = Report {
        surface: surface.name(),
        runs,
        claims,
        all_held,
        files,
    };
    if args.json {
        output::json(&report)?;
    } else {
        let mut r = format!("surface {} = {}\n", surface.name(), surface.formula());
        let label_width = report.runs.iter().map(|s| s.label.chars().count()).max();
        let steps_width = report.runs.iter().map(|s| s.steps.to_string().len()).max();
        for s in &report.runs {
            r += &format!(
                "{:<lw$}  {:>sw$} updates  end ({}, {})  loss {}  ‖g‖ {}{}\n",
                s.label,
                s.steps,
                output::num(s.end[0]),
                output::num(s.end[1]),
                output::num(s.final_loss),
                output::num(s.final_grad_norm),
                if s.diverged { "  DIVERGED" } else { "" },
                lw = label_width.unwrap_or(0),
                sw = steps_width.unwrap_or(0),
            );
        }
        for c in report.claims.iter().flatten() {
            r += &format!("[{}] {}\n", if c.held { "holds" } else { "FAILS" }, c.claim);
        }
        for f in &report.files {
            r += &format!("wrote {}\n", f.display());
        }
        output::stdout(&r)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_point(s: &str) -> anyhow::Result<[f64; 2]> {
    let v: Result<Vec<f64>, _> = s.split(',').map(|p| p.trim().parse::<f64>()).collect();
    match v.ok().as_deref() {
        Some(&[x, y]) if x.is_finite() && y.is_finite() => Ok([x, y]),
        _ => bail!("--start {s:?}: expected two numbers x,y"),
    }
}

/// The surface's own window grown to hold the paths, but by at most its own width (height)
/// on each side: a path that runs off to infinity (down a saddle) leaves the frame instead of
/// shrinking the surface to a dot.
fn grown_window(surface: AnalyticSurface, trajectories: &[Trajectory]) -> Window {
    let d = surface.default_window();
    let (dx, dy) = (d.x_max - d.x_min, d.y_max - d.y_min);
    let mut w = d;
    for p in trajectories.iter().flat_map(|t| &t.points) {
        if p[0].is_finite() && p[1].is_finite() {
            w.x_min = w.x_min.min(p[0].max(d.x_min - dx));
            w.x_max = w.x_max.max(p[0].min(d.x_max + dx));
            w.y_min = w.y_min.min(p[1].max(d.y_min - dy));
            w.y_max = w.y_max.max(p[1].min(d.y_max + dy));
        }
    }
    w
}

fn draw(
    surface: AnalyticSurface,
    trajectories: &[Trajectory],
    window: Option<Window>,
    out: &std::path::Path,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let w = window.unwrap_or_else(|| grown_window(surface, trajectories));
    let grid = trainscope_report::analytic_surface(surface, &w, 101)?;
    let name = surface.name();
    let csv = out.join(format!("playground-{name}.csv"));
    grid.write_csv(&csv)?;
    let json = out.join(format!("playground-{name}-paths.json"));
    trainscope_viz::write_json(&trajectories, &json)?;
    let paths: Vec<PathSeries> = trajectories
        .iter()
        .map(|t| PathSeries {
            label: &t.label,
            points: &t.points,
        })
        .collect();
    let opts = ContourOptions {
        title: format!("{} = {}", name, surface.formula()),
        log_levels: surface.prefers_log_levels(),
        marks: surface.marks(),
        ..Default::default()
    };
    let mut files = vec![csv, json];
    for ext in ["svg", "png"] {
        let p = out.join(format!("playground-{name}.{ext}"));
        contour_plot(&grid, &paths, &opts, &p)?;
        files.push(p);
    }
    Ok(files)
}
