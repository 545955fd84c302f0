//! `trainscope diagnose RUN_DIR_OR_CHECKPOINT`

use std::path::PathBuf;
use std::process::ExitCode;

use trainscope_diag::{AnalysisMode, AnalysisOptions, Thresholds};
use trainscope_inspect::{diagnose, DiagnoseOptions, Diagnosis};

use crate::commands::findings;
use crate::commands::model_spec::ModelSpecArgs;
use crate::output::{self, num};

/// Why training behaves as it does at a checkpoint: the full-training-set loss and gradient,
/// the true Hessian's spectrum, the verdict (local minimum, saddle point, or not a critical
/// point) beside the course's minimum-ratio verdict, the escape from a saddle, and, for a run
/// directory, plateaus of its run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory (its model.safetensors; the result is also saved there as
    /// diagnose.json), a checkpoint file, or with --model-spec a plain state dict.
    target: PathBuf,
    #[command(flatten)]
    spec: ModelSpecArgs,
    /// The rows to evaluate the loss on [default: the run's training rows, from its config.toml].
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// dense: every eigenvalue of the exact Hessian (refused above --dense-limit parameters);
    /// iterative: Lanczos extremes, Hutchinson trace and the spectral density; auto: dense up
    /// to --dense-limit parameters, iterative above.
    #[arg(long, value_enum, default_value = "dense")]
    mode: Mode,
    /// Extreme eigenvalues to report at each end.
    #[arg(long, value_name = "N", default_value_t = 5)]
    k: usize,
    /// Most parameters for the dense Hessian.
    #[arg(long, value_name = "N", default_value_t = 4000)]
    dense_limit: usize,
    /// Gradient norm at or above which the point is not critical.
    #[arg(long, value_name = "X", default_value = "1e-3")]
    grad_tol: f64,
    /// An eigenvalue is zero when |λ| ≤ X · max|λ|.
    #[arg(long, value_name = "X", default_value = "1e-6")]
    zero_tol: f64,
    /// Minimum ratio above which the course's rule (`course_verdict`) calls a critical point
    /// local-minimum-like.
    #[arg(long, value_name = "X", default_value_t = 0.5)]
    min_ratio: f64,
    /// At a saddle, save the escaped parameters as a checkpoint here.
    #[arg(long, value_name = "FILE")]
    escape_out: Option<PathBuf>,
    /// Draw the spectrum (SVG or PNG by extension).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Threads [default: all cores].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

/// The most extreme eigenvalues `--k` asks for at each end: Lanczos keeps about 2k vectors of
/// the parameters' size, so an unbounded k could exhaust memory before any work is done.
const MAX_K: usize = 1000;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Auto,
    Dense,
    Iterative,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    output::set_threads(args.threads);
    if args.k == 0 {
        anyhow::bail!("--k: need at least 1 eigenvalue at each end");
    }
    if args.k > MAX_K {
        anyhow::bail!(
            "--k: {} eigenvalues at each end, more than the limit of {MAX_K}",
            args.k
        );
    }
    let mut analysis = AnalysisOptions {
        mode: match args.mode {
            Mode::Auto => AnalysisMode::Auto,
            Mode::Dense => AnalysisMode::Dense,
            Mode::Iterative => AnalysisMode::Iterative,
        },
        dense_max_params: args.dense_limit,
        thresholds: Thresholds {
            grad_tol: args.grad_tol,
            min_ratio: args.min_ratio,
            zero_tol: args.zero_tol,
        },
        ..Default::default()
    };
    analysis.lanczos.k_largest = args.k;
    analysis.lanczos.k_smallest = args.k;
    let opts = DiagnoseOptions {
        data: args.data.clone(),
        analysis,
        escape_out: args.escape_out.clone(),
        plot: args.plot.clone(),
        import: args.spec.import(),
        cluster: crate::cluster::join()?,
    };
    let root = opts.cluster.is_root();
    let d = diagnose(&args.target, &opts)
        .map_err(|e| match e {
            trainscope_inspect::Error::Diag(trainscope_diag::Error::TooLarge { .. }) => {
                anyhow::anyhow!(
                    "{e}: try --mode iterative (or raise --dense-limit {})",
                    args.dense_limit
                )
            }
            e => e.into(),
        })
        .inspect_err(|e| crate::cluster::abort_after(&opts.cluster, e))?;
    if !root {
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        output::json(&d)?;
    } else {
        let mut text = report(&d);
        if let Some(p) = &d.saved {
            text += &format!("saved: {}\n", p.display());
        }
        output::stdout(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report(d: &Diagnosis) -> String {
    let h = &d.hessian;
    let t = &h.thresholds;
    let mut r = format!(
        "checkpoint  {}\ndata        {} ({} rows)\nmodel       {} parameters, {}\n",
        d.checkpoint.display(),
        d.data.source,
        d.data.rows,
        h.num_params,
        h.eval_mode_note
    );
    r += &format!(
        "loss        {} {}\ngrad norm   {} (global)",
        d.loss_name,
        num(h.loss),
        num(h.grad_norm)
    );
    for p in &h.grad_norm_per_layer {
        r += &format!("; {} {}", p.name, num(p.norm));
    }
    r += "\n";
    r += &format!("hessian     {} ({})\n", h.mode, h.hessian_note);
    if let Some(ev) = &h.eigenvalues {
        let k = ev.len().min(5);
        r += &format!(
            "eigenvalues smallest {}  largest {}\n",
            list(&ev[..k]),
            list(&ev[ev.len() - k..])
        );
    } else {
        let v = |xs: &[trainscope_diag::RitzValue]| xs.iter().map(|x| x.value).collect::<Vec<_>>();
        r += &format!(
            "eigenvalues smallest {}  largest {} (Lanczos, {} steps)\n",
            list(&v(&h.smallest)),
            list(&v(&h.largest)),
            h.lanczos_steps
        );
    }
    if let Some(tr) = &h.trace {
        r += &format!("trace       {} ({}", num(tr.value), tr.method);
        if tr.probes > 0 {
            r += &format!(", ± {}", num(tr.std_error));
        }
        r += ")\n";
    }
    if let (Some(p), Some(n), Some(z)) = (h.positive, h.negative, h.zero) {
        r += &format!(
            "counts      {p} positive, {n} negative, {z} zero (|λ| ≤ {:e}·max|λ|){}\n",
            h.zero_tolerance,
            if h.counts_estimated {
                ", estimated from the density"
            } else {
                ""
            }
        );
    }
    if let Some(m) = h.min_ratio {
        r += &format!("min ratio   {m:.4}");
        if let Some([lo, hi]) = h.min_ratio_range {
            r += &format!(" (between {lo:.4} and {hi:.4})");
        }
        r += "\n";
    }
    r += &format!(
        "verdict     {} (rule: ‖g‖ < {:e} is critical; then an eigenvalue below −tol·max|λ| and \
         one above → saddle point, none below → local-minimum-like, none above → local maximum)\n",
        h.verdict.describe(),
        t.grad_tol,
    );
    if let Some(c) = h.course_verdict.filter(|c| *c != h.verdict) {
        r += &format!(
            "course      {} (the course's rule: min ratio > {} → local-minimum-like, ≤ {} → \
             saddle point)\n",
            c.describe(),
            t.min_ratio,
            t.min_ratio
        );
    }
    for note in [&h.verdict_note, &h.flat_note].into_iter().flatten() {
        r += &format!("note        {note}\n");
    }
    if let Some(e) = &d.escape {
        if e.lowered {
            r += &format!(
                "escape      along the eigenvector of λ = {:.4e}: step α = {:+.3e} lowers the \
                 loss by {} (actual change {:.4e}, Taylor prediction α·gᵀu + ½α²λ = {:.4e})\n",
                e.eigenvalue,
                e.alpha,
                num(e.loss_drop),
                e.actual_change,
                e.predicted_change
            );
        } else {
            r += "escape      no step along the most negative eigenvector lowered the loss\n";
        }
    }
    if let Some(p) = &d.escape_checkpoint {
        r += &format!("saved       {} (the escaped parameters)\n", p.display());
    }
    if let Some(n) = &d.escape_note {
        r += &format!("escape      {n}\n");
    }
    if let Some(p) = &d.plot {
        r += &format!("plot        {}\n", p.display());
    }
    if let Some(f) = &d.findings {
        let b = findings::block(f, true);
        r += if b.is_empty() {
            "findings: none (no detector fired on the run's metrics)\n"
        } else {
            &b
        };
    }
    r
}

fn list(xs: &[f64]) -> String {
    let v: Vec<String> = xs.iter().map(|x| format!("{x:.4e}")).collect();
    format!("[{}]", v.join(", "))
}
