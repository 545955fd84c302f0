//! `trainscope playground …`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde::Serialize;
use trainscope_report::{default_start, parse_spec, parse_surface, PlaygroundFile};
use trainscope_viz::lecture_networks::Curves;
use trainscope_viz::plot::{
    contour_plot, line_plot, ContourOptions, LineOptions, PathSeries, Series,
};
use trainscope_viz::presets::{self, Claim, Panel, Preset};
use trainscope_viz::{run_playgrounds, AnalyticSurface, Trajectory, Window};

use crate::output;

/// Optimizers on an analytic surface from a start point, several at once on one plot; or one
/// of the lectures' claims replayed and checked (`--preset NAME`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surface: bowl, rosenbrock, saddle, monkey_saddle, two_basins, softmax_mse,
    /// cross_entropy, raw_features, standardized_features (`-` works too) [default: the
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
    /// A lecture's claim replayed and checked: `lecture` (the error-surface story on the
    /// bowl), `momentum`, `softmax-mse`, `normalization`, `warmup`; on small networks
    /// `batch-norm` (feature normalization in an MLP) and `warmup-deep`.
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
    surface: &'static str,
    steps: usize,
    start: [f64; 2],
    end: [f64; 2],
    final_loss: f64,
    final_grad_norm: f64,
    min_distance_to_minimum: Option<f64>,
    diverged: bool,
}

/// A network a preset trained, and its runs.
#[derive(Serialize)]
struct NetworkSummary<'a> {
    name: &'a str,
    description: &'a str,
    runs: Vec<NetworkRun<'a>>,
}

#[derive(Serialize)]
struct NetworkRun<'a> {
    label: &'a str,
    updates: usize,
    start_loss: f64,
    final_loss: f64,
    max_loss: f64,
    diverged: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    /// The (first) surface; none for the presets measured on networks.
    surface: Option<&'static str>,
    /// Every surface, in order (presets that compare two surfaces have two).
    surfaces: Vec<&'static str>,
    preset: Option<&'static str>,
    runs: Vec<RunSummary<'a>>,
    claims: Option<Vec<Claim>>,
    all_held: Option<bool>,
    /// Networks trained by presets measured on a network rather than a surface.
    networks: Vec<NetworkSummary<'a>>,
    notes: Vec<String>,
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let window = args
        .window
        .as_deref()
        .map(super::surface::parse_window)
        .transpose()?;
    let (preset, panels, curves, claims, notes) = match args.preset.as_deref() {
        Some(name) => {
            let preset = Preset::from_name(name).with_context(|| format!("--preset {name:?}"))?;
            if args.config.is_some() || !args.optimizers.is_empty() {
                bail!("--preset {name} runs its own optimizers; drop --optimizer and --config");
            }
            let story = presets::story(preset)?;
            (
                Some(preset),
                story.panels,
                story.curves,
                Some(story.claims),
                story.notes,
            )
        }
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
                bail!("nothing to run: give --optimizer SPEC, --config FILE or --preset NAME");
            }
            let panel = Panel {
                surface,
                trajectories: run_playgrounds(surface, &runs)?,
                profile_at: None,
            };
            (None, vec![panel], Vec::new(), None, Vec::new())
        }
    };
    let mut files = Vec::new();
    for p in &panels {
        files.extend(draw(p.surface, &p.trajectories, window, &args.out)?);
        if preset.is_some() {
            files.extend(draw_curves(p, window, &args.out)?);
        }
    }
    for c in &curves {
        files.extend(draw_network_curves(c, &args.out)?);
    }
    let runs: Vec<RunSummary> = panels
        .iter()
        .flat_map(|p| p.trajectories.iter().map(move |t| (p.surface, t)))
        .map(|(surface, t)| RunSummary {
            label: &t.label,
            surface: surface.name(),
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
    let surfaces: Vec<&'static str> = panels.iter().map(|p| p.surface.name()).collect();
    let networks = curves
        .iter()
        .map(|c| NetworkSummary {
            name: &c.name,
            description: &c.description,
            runs: c
                .curves
                .iter()
                .map(|r| NetworkRun {
                    label: &r.label,
                    updates: r.updates(),
                    start_loss: r.loss.first().copied().unwrap_or(f64::NAN),
                    final_loss: r.loss.last().copied().unwrap_or(f64::NAN),
                    max_loss: r.loss.iter().copied().fold(f64::NAN, f64::max),
                    diverged: r.diverged,
                })
                .collect(),
        })
        .collect();
    let report = Report {
        surface: surfaces.first().copied(),
        surfaces,
        preset: preset.map(Preset::name),
        runs,
        claims,
        all_held,
        networks,
        notes,
        files,
    };
    if args.json {
        output::json(&report)?;
    } else {
        let mut r = String::new();
        let label_width = report.runs.iter().map(|s| s.label.chars().count()).max();
        let steps_width = report.runs.iter().map(|s| s.steps.to_string().len()).max();
        for p in &panels {
            r += &format!("surface {} = {}\n", p.surface.name(), p.surface.formula());
            for s in report.runs.iter().filter(|s| s.surface == p.surface.name()) {
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
        }
        for n in &report.networks {
            r += &format!("network {} = {}\n", n.name, n.description);
            let lw = n.runs.iter().map(|s| s.label.chars().count()).max();
            let sw = n.runs.iter().map(|s| s.updates.to_string().len()).max();
            for s in &n.runs {
                r += &format!(
                    "{:<lw$}  {:>sw$} updates  loss {} → {}  highest {}{}\n",
                    s.label,
                    s.updates,
                    output::num(s.start_loss),
                    output::num(s.final_loss),
                    output::num(s.max_loss),
                    if s.diverged { "  DIVERGED" } else { "" },
                    lw = lw.unwrap_or(0),
                    sw = sw.unwrap_or(0),
                );
            }
        }
        for c in report.claims.iter().flatten() {
            r += &format!(
                "[{}] {}\n",
                if c.held { "holds" } else { "does not hold" },
                c.claim
            );
        }
        for n in &report.notes {
            r += &format!("note: {n}\n");
        }
        for f in &report.files {
            r += &format!("wrote {}\n", f.display());
        }
        output::stdout(&r)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The loss per update of a preset's network runs (`playground-<name>-loss.*`).
fn draw_network_curves(c: &Curves, out: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let updates: Vec<Vec<f64>> = c
        .curves
        .iter()
        .map(|r| (0..r.loss.len()).map(|i| i as f64).collect())
        .collect();
    let series: Vec<Series> = c
        .curves
        .iter()
        .zip(&updates)
        .map(|(r, x)| Series {
            label: &r.label,
            x,
            y: &r.loss,
        })
        .collect();
    let opts = LineOptions {
        title: format!("Loss per update, {}", c.name),
        x_label: "update".into(),
        y_label: "loss (full batch)".into(),
        ..Default::default()
    };
    let mut files = Vec::new();
    for ext in ["svg", "png"] {
        let p = out.join(format!("playground-{}-loss.{ext}", c.name));
        line_plot(&series, &opts, &p)?;
        files.push(p);
    }
    Ok(files)
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

/// A preset's curves: each run's loss against its update (`playground-<surface>-loss.*`), and
/// for a panel with a profile the section `f(x, y₀)` with each run's losses against its x —
/// the ball rolling down the hill (`playground-<surface>-profile.*`).
fn draw_curves(
    panel: &Panel,
    window: Option<Window>,
    out: &std::path::Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let name = panel.surface.name();
    let updates: Vec<Vec<f64>> = panel
        .trajectories
        .iter()
        .map(|t| (0..t.loss.len()).map(|i| i as f64).collect())
        .collect();
    let series: Vec<Series> = panel
        .trajectories
        .iter()
        .zip(&updates)
        .map(|(t, x)| Series {
            label: &t.label,
            x,
            y: &t.loss,
        })
        .collect();
    let opts = LineOptions {
        title: format!("Loss per update on {name}"),
        x_label: "update".into(),
        y_label: "loss".into(),
        ..Default::default()
    };
    let mut files = Vec::new();
    for ext in ["svg", "png"] {
        let p = out.join(format!("playground-{name}-loss.{ext}"));
        line_plot(&series, &opts, &p)?;
        files.push(p);
    }
    let Some(y0) = panel.profile_at else {
        return Ok(files);
    };
    let w = window.unwrap_or_else(|| panel.surface.default_window());
    let xs: Vec<f64> = (0..=200)
        .map(|i| w.x_min + (w.x_max - w.x_min) * i as f64 / 200.0)
        .collect();
    let section: Vec<f64> = xs.iter().map(|&x| panel.surface.value(x, y0)).collect();
    let label = format!("f(x, {y0})");
    let path_x: Vec<Vec<f64>> = panel
        .trajectories
        .iter()
        .map(|t| t.points.iter().map(|p| p[0]).collect())
        .collect();
    let mut series = vec![Series {
        label: &label,
        x: &xs,
        y: &section,
    }];
    for (t, x) in panel.trajectories.iter().zip(&path_x) {
        series.push(Series {
            label: &t.label,
            x,
            y: &t.loss,
        });
    }
    let opts = LineOptions {
        title: format!("{} along y = {y0}: the runs' losses against their x", name),
        x_label: "x".into(),
        y_label: "loss".into(),
        log_y: Some(false),
        ..Default::default()
    };
    for ext in ["svg", "png"] {
        let p = out.join(format!("playground-{name}-profile.{ext}"));
        line_plot(&series, &opts, &p)?;
        files.push(p);
    }
    Ok(files)
}
