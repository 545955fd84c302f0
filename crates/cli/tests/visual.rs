//! End-to-end tests of the visual commands: surface, playground, plot, report (also rendered
//! in headless Chromium), and the TensorBoard file written by train.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn trainscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainscope"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn fails_with(o: &Output, needles: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `x,y,loss` rows of a surface CSV.
fn read_csv(path: &Path) -> Vec<[f64; 3]> {
    let t = std::fs::read_to_string(path).unwrap();
    let mut lines = t.lines();
    assert_eq!(lines.next(), Some("x,y,loss"));
    lines
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

fn assert_svg(path: &Path) {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let drawn = doc
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "path" | "polyline" | "rect" | "line"))
        .count();
    assert!(
        drawn > 10,
        "{}: only {drawn} drawn elements",
        path.display()
    );
}

/// Decodes a PNG and checks it is not one flat color.
fn assert_png(path: &Path) -> (u32, u32) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(f).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let first = &px[..step];
    let differing = px.chunks(step).filter(|p| *p != first).count();
    assert!(
        differing > px.len() / step / 100,
        "{}: the image is (almost) blank",
        path.display()
    );
    (info.width, info.height)
}

/// A one-feature regression y = 2x + 1 + noise and its least-squares line.
fn linear_data(dir: &Path) -> (PathBuf, f64, f64) {
    let mut csv = String::from("x,y\n");
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    let n = 40;
    for i in 0..n {
        let x = -1.0 + 2.0 * i as f64 / (n - 1) as f64;
        let noise = 0.1 * ((i * 7919) % 13) as f64 / 13.0 - 0.05;
        let y = 2.0 * x + 1.0 + noise;
        csv += &format!("{x},{y}\n");
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let n = n as f64;
    let w = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    let b = (sy - w * sx) / n;
    let path = dir.join("lin.csv");
    std::fs::write(&path, csv).unwrap();
    (path, w, b)
}

fn linear_config(dir: &Path, epochs: usize, trajectory: bool) -> String {
    let (csv, _, _) = linear_data(dir);
    let p = dir.join("lin.toml");
    std::fs::write(
        &p,
        format!(
            "seed = 1\nthreads = 1\n[data]\ntrain = {:?}\ntarget = \"y\"\ntask = \"regression\"\nstandardize = false\n\
             standardize_target = false\n\
             [model]\npreset = \"linear\"\n[optimizer]\nkind = \"sgd\"\nlr = 0.3\n\
             [training]\nepochs = {epochs}\nbatch_size = \"full\"\nrecord_trajectory = {trajectory}\n",
            s(&csv)
        ),
    )
    .unwrap();
    s(&p)
}

/// The sinc example, shrunk: 1 → 8 ReLU → 1, a few epochs.
fn small_sinc_run(out: &Path, epochs: usize, extra: &[&str]) -> Output {
    let epochs = format!("training.epochs={epochs}");
    let out = s(out);
    let mut args = vec![
        "train",
        "examples/sinc.toml",
        "--out",
        &out,
        "--quiet",
        "--threads",
        "1",
        "--set",
        "model.hidden=[8]",
        "--set",
        &epochs,
    ];
    args.extend_from_slice(extra);
    trainscope(&args)
}

#[test]
fn analytic_saddle_surface_is_the_function_on_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    ok(&trainscope(&[
        "surface",
        "--analytic",
        "saddle",
        "--grid",
        "21",
        "--window=-1,3,-2,2",
        "--out",
        &s(&out),
    ]));
    let rows = read_csv(&out.join("surface-saddle.csv"));
    assert_eq!(rows.len(), 21 * 21);
    assert_eq!(rows[0][..2], [-1.0, -2.0]);
    assert_eq!(rows[rows.len() - 1][..2], [3.0, 2.0]);
    for [x, y, v] in rows {
        assert!(
            (v - (x * x - y * y)).abs() <= 1e-12 * (1.0 + v.abs()),
            "({x}, {y}): {v}"
        );
    }
    assert_svg(&out.join("surface-saddle.svg"));
    assert_png(&out.join("surface-saddle.png"));
}

#[test]
fn linear_run_surface_has_its_minimum_at_the_least_squares_weights() {
    let dir = tempfile::tempdir().unwrap();
    let config = linear_config(dir.path(), 200, false);
    let (_, w, b) = linear_data(dir.path());
    let run = dir.path().join("run");
    ok(&trainscope(&[
        "train",
        &config,
        "--out",
        &s(&run),
        "--quiet",
    ]));
    let out = ok(&trainscope(&[
        "surface",
        &s(&run),
        "--params",
        "0.weight[0],0.bias[0]",
        "--radius",
        "0.5",
    ]));
    assert!(out.contains("none recorded"), "{out}");
    let rows = read_csv(&run.join("surface-params.csv"));
    assert_eq!(rows.len(), 51 * 51);
    let min = rows.iter().min_by(|a, b| a[2].total_cmp(&b[2])).unwrap();
    // Grid spacing 1/50: the lowest grid point is within one step of the true minimum.
    assert!(
        (min[0] - w).abs() <= 0.02 && (min[1] - b).abs() <= 0.02,
        "grid minimum at ({}, {}), least squares ({w}, {b})",
        min[0],
        min[1]
    );
    // The window is centered on the trained weights, which are the least-squares ones.
    let cx = (rows[0][0] + rows[rows.len() - 1][0]) / 2.0;
    let cy = (rows[0][1] + rows[rows.len() - 1][1]) / 2.0;
    assert!(
        (cx - w).abs() < 1e-3 && (cy - b).abs() < 1e-3,
        "({cx}, {cy})"
    );
    assert_svg(&run.join("surface-params.svg"));
}

#[test]
fn recorded_trajectory_is_drawn_and_resume_keeps_one_line_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let config = linear_config(dir.path(), 12, true);
    let run = dir.path().join("run");
    let r = s(&run);
    ok(&trainscope(&[
        "train",
        &config,
        "--out",
        &r,
        "--quiet",
        "--stop-after-epoch",
        "5",
    ]));
    ok(&trainscope(&[
        "train", &config, "--out", &r, "--quiet", "--resume",
    ]));
    let lines: Vec<Value> = std::fs::read_to_string(run.join("trajectory.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let epochs: Vec<u64> = lines.iter().map(|l| l["epoch"].as_u64().unwrap()).collect();
    assert_eq!(epochs, (0..=12).collect::<Vec<_>>());
    assert!(lines
        .iter()
        .all(|l| l["params"].as_array().unwrap().len() == 2));
    let out = ok(&trainscope(&[
        "surface",
        &r,
        "--params",
        "0.weight[0],0.bias[0]",
        "--grid",
        "11",
    ]));
    assert!(out.contains("13 recorded epochs projected"), "{out}");
    // The window grew to hold the path's start.
    let rows = read_csv(&run.join("surface-params.csv"));
    let start = lines[0]["params"].as_array().unwrap();
    let (w0, b0) = (start[0].as_f64().unwrap(), start[1].as_f64().unwrap());
    assert!(
        rows[0][0] <= w0 && rows[0][1] <= b0,
        "{:?} vs ({w0}, {b0})",
        rows[0]
    );
}

#[test]
fn hessian_directions_on_a_small_network() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&small_sinc_run(&run, 3, &[]));
    let out = ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "hessian",
        "--grid",
        "15",
        "--out",
        &s(&dir.path().join("h")),
    ]));
    assert!(out.contains("eigenvalue"), "{out}");
    let rows = read_csv(&dir.path().join("h/surface-hessian.csv"));
    assert_eq!(rows.len(), 15 * 15);
    assert!(rows.iter().all(|r| r[2].is_finite() && r[2] >= 0.0));
    assert_png(&dir.path().join("h/surface-hessian.png"));
    ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "random",
        "--seed",
        "3",
        "--grid",
        "9",
    ]));
    // The seed is in the file name, so another seed does not overwrite this slice.
    assert_eq!(read_csv(&run.join("surface-random-seed3.csv")).len(), 81);
    ok(&trainscope(&[
        "surface",
        &s(&run),
        "--directions",
        "random",
        "--grid",
        "5",
    ]));
    assert_eq!(read_csv(&run.join("surface-random.csv")).len(), 25);
    assert_eq!(read_csv(&run.join("surface-random-seed3.csv")).len(), 81);
}

#[test]
fn monkey_saddle_has_one_spelling_and_accepts_both() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(&trainscope(&["surface", "--help"]));
    assert!(
        help.contains("monkey_saddle") && !help.contains("monkey-saddle,"),
        "{help}"
    );
    for (i, name) in ["monkey-saddle", "monkey_saddle"].into_iter().enumerate() {
        let out = dir.path().join(i.to_string());
        let text = ok(&trainscope(&[
            "surface",
            "--analytic",
            name,
            "--grid",
            "5",
            "--out",
            &s(&out),
        ]));
        assert!(text.starts_with("monkey_saddle = "), "{text}");
        assert_eq!(read_csv(&out.join("surface-monkey_saddle.csv")).len(), 25);
    }
    fails_with(
        &trainscope(&["surface", "--analytic", "monkey saddle"]),
        &["monkey_saddle"],
    );
}

#[test]
fn threads_help_states_its_default_once() {
    for command in ["predict", "eval", "diagnose", "surface"] {
        let help = ok(&trainscope(&[command, "--help"]));
        let after = help
            .split("--threads")
            .nth(1)
            .unwrap_or_else(|| panic!("{command}: no --threads in {help}"));
        // The option's own lines: up to the next option.
        let mut lines = after.lines();
        let mut block = lines.next().unwrap_or("").to_string();
        block.extend(lines.take_while(|l| !l.trim_start().starts_with('-')));
        assert_eq!(block.matches("[default:").count(), 1, "{command}: {block}");
    }
}

/// The presets measured on networks: no surface, one loss-per-update figure, the networks'
/// runs in `--json` and the claims with their verdicts (one of each that does not hold).
#[test]
fn playground_network_presets_measure_and_draw() {
    let dir = tempfile::tempdir().unwrap();
    for (preset, network, runs, verdicts) in [
        ("batch-norm", "mlp_features", 3, [true, false, true]),
        ("warmup-deep", "deep_mlp", 3, [true, true, false]),
    ] {
        let out = dir.path().join(preset);
        let o = trainscope(&[
            "playground",
            "--preset",
            preset,
            "--json",
            "--out",
            &s(&out),
        ]);
        let v: Value = serde_json::from_str(ok(&o).trim()).unwrap();
        assert_eq!(v["preset"], preset);
        assert_eq!(v["surfaces"], serde_json::json!([]));
        assert!(v["surface"].is_null());
        assert!(v["runs"].as_array().unwrap().is_empty());
        let n = &v["networks"][0];
        assert_eq!(n["name"], network);
        assert_eq!(n["runs"].as_array().unwrap().len(), runs, "{preset}");
        let held: Vec<bool> = v["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["held"].as_bool().unwrap())
            .collect();
        assert_eq!(held, verdicts, "{preset}: {}", v["claims"]);
        assert_eq!(v["all_held"], false);
        assert_png(&out.join(format!("playground-{network}-loss.png")));
        if preset == "warmup-deep" {
            // Adam without warm-up jumps far above its start; with warm-up it does not.
            let r = &n["runs"];
            let rise = |i: usize| {
                r[i]["max_loss"].as_f64().unwrap() / r[i]["start_loss"].as_f64().unwrap()
            };
            assert!(rise(0) > 100.0 && rise(1) < 2.0, "{r}");
            assert_eq!(r[2]["diverged"], true);
        }
        let text = ok(&trainscope(&[
            "playground",
            "--preset",
            preset,
            "--out",
            &s(&out),
        ]));
        assert!(text.starts_with(&format!("network {network} = ")), "{text}");
        assert_eq!(text.matches("[does not hold] ").count(), 1, "{text}");
    }
}

#[test]
fn playground_lecture_preset_all_claims_hold() {
    let dir = tempfile::tempdir().unwrap();
    let o = trainscope(&[
        "playground",
        "--preset",
        "lecture",
        "--json",
        "--out",
        &s(dir.path()),
    ]);
    let v: Value = serde_json::from_str(ok(&o).trim()).unwrap();
    let claims = v["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 4);
    for c in claims {
        assert_eq!(c["held"], true, "{c}");
    }
    assert_eq!(v["all_held"], true);
    assert_eq!(v["runs"].as_array().unwrap().len(), 4);
    assert_png(&dir.path().join("playground-bowl.png"));
}

/// Every lecture preset: the claims with their verdicts, the runs on each surface, and the
/// figures (contours, loss per update, the momentum preset's profile).
#[test]
fn playground_lecture_claims_presets_measure_and_draw() {
    let dir = tempfile::tempdir().unwrap();
    // (preset, surfaces, runs, verdicts, extra figure)
    type Case<'a> = (&'a str, &'a [&'a str], usize, &'a [bool], &'a str);
    let cases: [Case; 4] = [
        (
            "momentum",
            &["two_basins"],
            4,
            &[true, true, true],
            "playground-two_basins-profile.png",
        ),
        (
            "softmax-mse",
            &["softmax_mse", "cross_entropy"],
            2,
            &[true, true],
            "playground-cross_entropy-loss.png",
        ),
        (
            "normalization",
            &["raw_features", "standardized_features"],
            4,
            &[true, true, true],
            "playground-standardized_features.png",
        ),
        (
            "warmup",
            &["bowl"],
            3,
            &[true, true, false],
            "playground-bowl-loss.png",
        ),
    ];
    for (preset, surfaces, runs, verdicts, figure) in cases {
        let out = dir.path().join(preset);
        let o = trainscope(&[
            "playground",
            "--preset",
            preset,
            "--json",
            "--out",
            &s(&out),
        ]);
        let v: Value = serde_json::from_str(ok(&o).trim()).unwrap();
        assert_eq!(v["preset"], preset);
        assert_eq!(v["surface"], surfaces[0]);
        assert_eq!(v["surfaces"], serde_json::json!(surfaces), "{preset}");
        assert_eq!(v["runs"].as_array().unwrap().len(), runs, "{preset}");
        let held: Vec<bool> = v["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["held"].as_bool().unwrap())
            .collect();
        assert_eq!(held, verdicts, "{preset}: {}", v["claims"]);
        assert_eq!(v["all_held"], verdicts.iter().all(|h| *h));
        for s in surfaces {
            assert_png(&out.join(format!("playground-{s}.png")));
        }
        assert_png(&out.join(figure));
        // The text output marks each claim.
        let text = ok(&trainscope(&[
            "playground",
            "--preset",
            preset,
            "--out",
            &s(&out),
        ]));
        let marks: Vec<bool> = text
            .lines()
            .filter_map(|l| {
                l.starts_with("[holds] ")
                    .then_some(true)
                    .or(l.starts_with("[does not hold] ").then_some(false))
            })
            .collect();
        assert_eq!(marks, verdicts, "{preset}:\n{text}");
    }
    fails_with(
        &trainscope(&[
            "playground",
            "--preset",
            "warmup",
            "--optimizer",
            "sgd",
            "--out",
            &s(dir.path()),
        ]),
        &["--preset warmup", "--optimizer"],
    );
}

#[test]
fn playground_file_and_specs_run_together() {
    let dir = tempfile::tempdir().unwrap();
    let o = trainscope(&[
        "playground",
        "--config",
        "examples/playground.toml",
        "--optimizer",
        "adagrad,lr=0.5,schedule.kind=inverse_time,schedule.gamma=0.01,schedule.decay_steps=1,label=Adagrad + decay",
        "--json",
        "--out",
        &s(dir.path()),
    ]);
    let v: Value = serde_json::from_str(ok(&o).trim()).unwrap();
    assert_eq!(v["surface"], "rosenbrock");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[4]["label"], "Adagrad + decay");
    assert!(runs
        .iter()
        .all(|r| r["start"] == serde_json::json!([-1.5, 2.0])));
    assert_eq!(runs[0]["steps"], 3000);
    // Adam with cosine decay reaches Rosenbrock's minimum.
    assert!(
        runs[3]["min_distance_to_minimum"].as_f64().unwrap() < 1e-2,
        "{}",
        runs[3]
    );
    assert_svg(&dir.path().join("playground-rosenbrock.svg"));
}

#[test]
fn playground_refuses_schedules_driven_by_a_metric_it_does_not_measure() {
    let dir = tempfile::tempdir().unwrap();
    for (spec, kind) in [
        ("sgd,lr=0.1,schedule.kind=plateau", "\"plateau\""),
        (
            "sgd,lr=0.1,schedule.kind=metric_switch,schedule.lr_after=0.01,schedule.threshold=0.5",
            "\"metric_switch\"",
        ),
    ] {
        let o = trainscope(&["playground", "--optimizer", spec, "--out", &s(dir.path())]);
        assert_eq!(o.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: "), "{err}");
        assert!(
            err.contains(kind) && err.contains("measured metric"),
            "{err}"
        );
    }
    // A schedule of the update count runs.
    ok(&trainscope(&[
        "playground",
        "--optimizer",
        "sgd,lr=0.01,schedule.kind=step,schedule.step_size=10,schedule.gamma=0.5",
        "--steps",
        "20",
        "--out",
        &s(dir.path()),
    ]));
}

#[test]
fn playground_window_is_kept_and_a_runaway_path_does_not_shrink_the_surface() {
    let dir = tempfile::tempdir().unwrap();
    let extents = |csv: &Path| {
        let rows = read_csv(csv);
        let (lo, hi) = (rows[0], rows[rows.len() - 1]);
        [lo[0], hi[0], lo[1], hi[1]]
    };
    // Gradient descent slides off the saddle along y, to |y| in the hundreds of thousands.
    let a = dir.path().join("a");
    ok(&trainscope(&[
        "playground",
        "--surface",
        "saddle",
        "--start=1,0.01",
        "--optimizer",
        "sgd,lr=0.1",
        "--steps",
        "60",
        "--window=-1.5,1.5,-1,1",
        "--out",
        &s(&a),
    ]));
    assert_eq!(
        extents(&a.join("playground-saddle.csv")),
        [-1.5, 1.5, -1.0, 1.0]
    );
    let svg = std::fs::read_to_string(a.join("playground-saddle.svg")).unwrap();
    assert!(
        svg.contains("saddle point (0, 0)"),
        "the saddle point is named"
    );
    let b = dir.path().join("b");
    ok(&trainscope(&[
        "playground",
        "--surface",
        "saddle",
        "--start=1,0.01",
        "--optimizer",
        "sgd,lr=0.1",
        "--steps",
        "60",
        "--out",
        &s(&b),
    ]));
    let e = extents(&b.join("playground-saddle.csv"));
    assert!(e[2] >= -6.0 && e[3] <= 6.0, "{e:?}");
}

/// JSON files as the other commands save them (their fields as the commands write them; no
/// stamps, as an older version wrote them), for the optional figures.
fn add_extras(run: &Path) {
    let w = |name: &str, v: Value| std::fs::write(run.join(name), v.to_string()).unwrap();
    let thresholds = serde_json::json!({"grad_tol": 1e-3, "min_ratio": 0.5, "zero_tol": 1e-6});
    w(
        "diagnose.json",
        serde_json::json!({"checkpoint": "model.safetensors",
            "data": {"source": "config.toml", "rows": 240}, "loss_name": "mse",
            "mode": "dense", "num_params": 7, "loss": 0.05, "grad_norm": 2e-4,
            "grad_norm_per_layer": [], "eigenvalues": [-0.5, 0.0, 0.1, 0.2, 1.5, 3.0, 7.0],
            "smallest": [], "largest": [], "lanczos_steps": 0, "positive": 5, "negative": 1,
            "zero": 1, "counts_estimated": false, "zero_tolerance": 1e-6,
            "min_ratio": 0.714, "verdict": "saddle_point", "course_verdict": "local_minimum_like",
            "thresholds": thresholds, "eval_mode_note": "eval mode", "hessian_note": "true Hessian",
            "hessian_vector_products": 7}),
    );
    let seed = |seed: u64, min_ratio: f64, loss: f64, verdict: &str| {
        serde_json::json!({"seed": seed, "trained_loss": loss, "trained_grad_norm": 0.01,
            "loss": loss, "grad_norm": 1e-7, "converged": true, "steps": 40,
            "stop_reason": "converged", "min_ratio": min_ratio, "verdict": verdict,
            "course_verdict": "local_minimum_like", "run_dir": format!("seed-{seed}")})
    };
    w(
        "critical.json",
        serde_json::json!({"rows": [seed(0, 0.6, 0.3, "saddle_point"),
            seed(1, 0.9, 0.1, "saddle_point"), seed(2, 1.0, 0.02, "local_minimum_like")],
            "parameters": 7, "rows_in_loss": 240, "thresholds": thresholds,
            "target_grad_norm": 1e-6, "eval_mode_note": "eval mode", "plots": []}),
    );
    // As `batch-size` writes it.
    let row = |size: &str, rows: usize, updates: u64, seconds: f64, train: f64, val: f64| {
        serde_json::json!({"batch_size": size, "rows_per_batch": rows, "epochs": 10,
            "updates": updates, "seconds": seconds, "time_per_update": seconds / updates as f64,
            "time_per_epoch": seconds / 10.0, "train_loss": train, "val_loss": val})
    };
    w(
        "batch_size.json",
        serde_json::json!({"rows": [row("1", 1, 2400, 2.0, 0.1, 0.2),
            row("32", 32, 80, 0.2, 0.12, 0.21), row("full", 240, 10, 0.05, 0.3, 0.35)],
            "mode": "same epochs (10)", "train_rows": 240, "loss_name": "mse", "plots": [],
            "lecture": []}),
    );
    let rung = |label: &str, depth: usize, parameters: usize, train: f64, val: f64| {
        serde_json::json!({"label": label, "depth": depth, "hidden": vec![4; depth],
            "parameters": parameters, "train_loss": train, "val_loss": val, "epochs": 10,
            "stopped_early": false})
    };
    w(
        "guide.json",
        serde_json::json!({"rungs": [rung("linear", 0, 2, 0.3, 0.32),
            rung("mlp [32]", 1, 97, 0.05, 0.08), rung("mlp [256]", 1, 769, 0.01, 0.12)],
            "loss_name": "mse", "baseline_loss": 0.4, "validation": "20 % of the rows",
            "selected": "mlp [32]", "selected_val_loss": 0.08,
            "findings": [{"kind": "overfitting", "evidence": "mlp [256]: training 0.01",
                "remedies": ["more data"]}],
            "notes": [], "rules": {"bias_ratio": 0.5, "optimization_margin": 0.1,
                "optimization_gap": 0.1, "settled_change": 0.01, "overfit_ratio": 2.0,
                "overfit_gap": 0.1, "mismatch_ratio": 3.0, "mismatch_gap": 0.1},
            "rule_text": [], "plots": []}),
    );
}

const ALL_FIGURES: [&str; 7] = [
    "loss",
    "loss_grad_norm",
    "lr",
    "spectrum",
    "min_ratio",
    "batch_size",
    "bias_complexity",
];

#[test]
fn plot_writes_every_figure_as_valid_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&small_sinc_run(&run, 4, &[]));
    let out = dir.path().join("plots");
    ok(&trainscope(&["plot", &s(&run), "--out", &s(&out)]));
    for name in &ALL_FIGURES[..3] {
        assert_svg(&out.join(format!("{name}.svg")));
        assert_png(&out.join(format!("{name}.png")));
    }
    assert!(!out.join("spectrum.svg").exists());
    add_extras(&run);
    ok(&trainscope(&["plot", &s(&run), "--format", "svg"]));
    for name in ALL_FIGURES {
        assert_svg(&run.join(format!("plots/{name}.svg")));
        assert!(!run.join(format!("plots/{name}.png")).exists());
    }
}

/// Trains a small run with every optional file and writes its report.
fn report_fixture(dir: &Path) -> (PathBuf, String) {
    let run = dir.join("run");
    ok(&small_sinc_run(&run, 4, &[]));
    add_extras(&run);
    let page = dir.join("report.html");
    ok(&trainscope(&["report", &s(&run), "--out", &s(&page)]));
    let html = std::fs::read_to_string(&page).unwrap();
    (page, html)
}

#[test]
fn report_is_self_contained_and_holds_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = report_fixture(dir.path());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for bad in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!html.contains(bad), "the report contains {bad:?}");
    }
    for name in ALL_FIGURES {
        let tag = format!("<figure id=\"fig-{name}\"><img");
        let at = html
            .find(&tag)
            .unwrap_or_else(|| panic!("no figure {name}"));
        let rest = &html[at..];
        let src = rest
            .split("src=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let data = src.strip_prefix("data:image/svg+xml;base64,").unwrap();
        assert!(data.len() > 1000, "{name}: {} bytes", data.len());
    }
    assert!(html.contains("<h2>Findings</h2>"));
    assert!(html.contains("saddle_point"), "the diagnosis is shown");
    // Every other command's result has its section, read as the command wrote it, in words.
    for shown in [
        "<td>saddle point</td>",
        "<td>local-minimum-like</td>",
        "<td>mlp [256]</td><td>769</td>",
        "<strong>overfitting</strong>",
        "<td>full</td><td>10</td><td>10</td>",
    ] {
        assert!(html.contains(shown), "{shown} missing");
    }
    assert_eq!(html.matches("has no stamp</strong>").count(), 4);
    assert!(
        !html.contains("Left out"),
        "a file of the commands' own fields was set aside"
    );
    // The summary has what train printed, and counts read as integers.
    assert!(
        html.contains("trivial model&#39;s loss"),
        "the baseline is shown"
    );
    assert!(html.contains("<th>parameters</th>"));
    assert!(!html.contains(".00000</td>"), "an integer shown as a float");
    // The configuration is there, escaped.
    assert!(html.contains("[optimizer]") && html.contains("kind = &quot;adam&quot;"));
}

#[test]
fn report_without_diagnosis_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&small_sinc_run(&run, 2, &[]));
    ok(&trainscope(&["report", &s(&run)]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("No current <code>diagnose.json</code>")
            && html.contains("trainscope diagnose"),
        "{html}"
    );
    assert_eq!(html.matches("<figure").count(), 3);
}

/// Chromium, headless, on the page `page` with the `extra` flags: exits cleanly and logs no
/// console error. Its console messages go to stderr with `--enable-logging=stderr`; page
/// errors appear there as `Uncaught …` or `ERROR:CONSOLE` lines.
fn chromium(page: &Path, extra: &[String]) -> Output {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let profile = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    args.push(url);
    let o = Command::new("/usr/bin/chromium")
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "chromium failed: {}", text(&o.stderr));
    let err = text(&o.stderr);
    for line in err.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains("ERROR:CONSOLE"),
            "console error: {line}"
        );
    }
    o
}

/// Whether Chromium is there; without it the browser tests skip, except on CI.
fn has_chromium(test: &str) -> bool {
    if Path::new("/usr/bin/chromium").exists() {
        return true;
    }
    may_skip("/usr/bin/chromium");
    println!(
        "SKIPPED {test}: /usr/bin/chromium not found (apt-get install chromium; .ci/run installs it)"
    );
    false
}

/// Each named figure is in the DOM with SVG image data.
fn assert_figures_in_dom(dom: &str, names: &[&str]) {
    for name in names {
        let tag = format!("<figure id=\"fig-{name}\"><img");
        let at = dom
            .find(&tag)
            .unwrap_or_else(|| panic!("figure {name} missing from the DOM"));
        let src = dom[at..]
            .split("src=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let data = src.strip_prefix("data:image/svg+xml;base64,").unwrap();
        assert!(data.len() > 1000, "{name}: empty image in the DOM");
    }
}

/// The report in a real browser: rendered to a screenshot that is not blank, the DOM after
/// loading holds every figure with image data, and the page logs no console error.
#[test]
fn report_renders_in_headless_chromium() {
    if !has_chromium("report_renders_in_headless_chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = report_fixture(dir.path());
    let shot = dir.path().join("report.png");
    chromium(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,3000".into(),
        ],
    );
    let (w, h) = assert_png(&shot);
    assert_eq!((w, h), (1200, 3000));
    println!("screenshot of the report: {}", shot.display());
    // Keep the screenshot for a look after the test.
    std::mem::forget(dir);

    let dom = text(&chromium(&page, &["--dump-dom".into()]).stdout);
    assert_figures_in_dom(&dom, &ALL_FIGURES);
    assert!(dom.contains("<h2>Findings</h2>"));
}

/// The report of a classification run in a real browser: every section a user looks for
/// (summary, model table, confusion matrix with per-class scores, findings, diagnosis,
/// configuration) and the loss and accuracy curves, with no console error.
#[test]
fn classification_report_renders_in_headless_chromium() {
    if !has_chromium("classification_report_renders_in_headless_chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("bc");
    ok(&trainscope(&[
        "train",
        "examples/breast_cancer.toml",
        "--out",
        &s(&run),
        "--quiet",
        "--set",
        "training.epochs=4",
        "--set",
        "model.hidden=[8]",
    ]));
    ok(&trainscope(&["diagnose", &s(&run)]));
    ok(&trainscope(&["report", &s(&run)]));
    let page = run.join("report.html");
    let dom = text(&chromium(&page, &["--dump-dom".into()]).stdout);
    assert_figures_in_dom(
        &dom,
        &["loss", "accuracy", "loss_grad_norm", "lr", "spectrum"],
    );
    for section in [
        "<h2>Summary</h2>",
        "<h2 id=\"model\">Model</h2>",
        "<h2 id=\"confusion\">Classes</h2>",
        "Confusion matrix on the validation rows",
        "macro F1",
        "<h2>Findings</h2>",
        "Diagnosis at the trained weights",
        "positive eigenvalues",
        "<h2>Configuration</h2>",
    ] {
        assert!(dom.contains(section), "{section} missing from the DOM");
    }
    assert!(
        !dom.contains("Left out"),
        "a current diagnosis was set aside"
    );
}

/// `compare` over the runs `batch-size` wrote (given as their parent directory) and one more
/// run: one page with the runs table, the differing settings and every curve, which loads in
/// Chromium without a console error; `--out DIR` also writes the figures; `--json` and the
/// table agree on the order (by validation loss).
#[test]
fn compare_page_of_several_runs_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = dir.path().join("sizes");
    ok(&trainscope(&[
        "batch-size",
        "examples/sinc.toml",
        "--sizes",
        "8,32,full",
        "--out",
        &s(&sizes),
        "--quiet",
        "--threads",
        "1",
        "--set",
        "model.hidden=[8]",
        "--set",
        "training.epochs=4",
    ]));
    let other = dir.path().join("adam-fast");
    ok(&small_sinc_run(&other, 4, &["--set", "optimizer.lr=0.05"]));
    let out = dir.path().join("cmp");
    let table = ok(&trainscope(&[
        "compare",
        &s(&sizes),
        &s(&other),
        "--out",
        &s(&out),
        "--smooth",
        "0.5",
    ]));
    for name in [
        "batch-8",
        "batch-32",
        "batch-full",
        "adam-fast",
        "training.batch_size",
        "optimizer.lr",
    ] {
        assert!(table.contains(name), "{name} missing from: {table}");
    }
    let curves = ["train_loss", "val_loss", "grad_norm", "lr"];
    for name in curves {
        assert_svg(&out.join(format!("{name}.svg")));
        assert_png(&out.join(format!("{name}.png")));
    }
    let json: Value = serde_json::from_str(
        ok(&trainscope(&[
            "compare",
            &s(&sizes),
            &s(&other),
            "--json",
            "--out",
            &s(&dir.path().join("c.html")),
        ]))
        .trim(),
    )
    .unwrap();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let val: Vec<f64> = runs
        .iter()
        .map(|r| r["val_loss"].as_f64().unwrap())
        .collect();
    assert!(
        val.windows(2).all(|w| w[0] <= w[1]),
        "sorted by validation loss: {val:?}"
    );
    let keys: Vec<&str> = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"training.batch_size") && keys.contains(&"optimizer.lr"),
        "{keys:?}"
    );
    assert!(!keys.contains(&"seed"), "a shared setting listed: {keys:?}");

    let page = out.join("compare.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for bad in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    if !has_chromium("compare_page_of_several_runs_renders_in_headless_chromium") {
        return;
    }
    let dom = text(&chromium(&page, &["--dump-dom".into()]).stdout);
    for section in ["id=\"runs\"", "id=\"settings\"", "id=\"figures\""] {
        assert!(
            dom.contains(section),
            "section {section} missing from the DOM"
        );
    }
    assert_figures_in_dom(&dom, &curves);
    for name in ["batch-8", "batch-32", "batch-full", "adam-fast"] {
        assert!(dom.contains(name), "run {name} missing from the DOM");
    }
    let shot = dir.path().join("compare.png");
    chromium(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,2400".into(),
        ],
    );
    assert_png(&shot);
}

/// The page `report` wrote for an experiment's directory: self-contained, with the
/// experiment's section and figure and the runs compared (`figures`: the experiment's and the
/// runs' curves); in Chromium (when there) every
/// section and figure is in the DOM and no console error is logged.
fn assert_experiment_page(page: &Path, section: &str, figures: &[&str], runs: &[&str]) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for bad in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    let sections = [
        section,
        "id=\"runs\"",
        "id=\"settings\"",
        "id=\"figures\"",
        "<h2>Configuration</h2>",
    ];
    for name in runs {
        assert!(
            html.contains(&format!(">{name}</td>")),
            "run {name} not compared"
        );
    }
    assert!(!html.contains("Left out"), "a current result was set aside");
    if has_chromium("assert_experiment_page") {
        let dom = text(&chromium(page, &["--dump-dom".into()]).stdout);
        for section in sections {
            assert!(dom.contains(section), "{section} missing from the DOM");
        }
        assert_figures_in_dom(&dom, figures);
        let shot = page.with_extension("png");
        chromium(
            page,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1200,2400".into(),
            ],
        );
        assert_png(&shot);
    } else {
        for section in sections {
            assert!(html.contains(section), "{section} missing");
        }
        assert_figures_in_dom(&html, figures);
    }
    html
}

/// `report` of the directory `guide --out DIR` wrote (it has no `metrics.jsonl` of its own):
/// the guide's table (one row per rung, counts as integers, the verdict in words), its
/// bias–complexity figure, and the rungs' runs compared with the settings that differ.
#[test]
fn report_of_a_guide_directory_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("guide");
    let g: Value = serde_json::from_str(
        ok(&trainscope(&[
            "guide",
            "examples/sinc.toml",
            "--set",
            "training.epochs=20",
            "--out",
            &s(&out),
            "--json",
        ]))
        .trim(),
    )
    .unwrap();
    assert!(!out.join("metrics.jsonl").exists());
    let page = out.join("report.html");
    assert_eq!(
        ok(&trainscope(&["report", &s(&out)])),
        format!("wrote {}\n", s(&page))
    );
    let html = assert_experiment_page(
        &page,
        "<h2 id=\"guide\">",
        &[
            "bias_complexity",
            "train_loss",
            "val_loss",
            "grad_norm",
            "lr",
        ],
        &["depth-0", "depth-1", "depth-2", "depth-4"],
    );
    let rungs = g["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 4);
    for r in rungs {
        let row = format!(
            "<tr><td>{}</td><td>{}</td>",
            r["label"].as_str().unwrap(),
            r["parameters"]
        );
        assert!(html.contains(&row), "{row} missing");
    }
    let kind = g["findings"][0]["kind"].as_str().unwrap().replace('_', " ");
    assert!(html.contains(&format!("<strong>{kind}</strong>")), "{kind}");
    assert!(
        html.contains("<code>model.hidden</code>"),
        "the differing setting"
    );
    assert!(html.contains("<code>guide.config.toml</code>"));

    // --out names the page; a directory with neither metrics nor a result is one clear error.
    let other = dir.path().join("page.html");
    ok(&trainscope(&["report", &s(&out), "--out", &s(&other)]));
    assert!(other.is_file());
    fails_with(
        &trainscope(&["report", &s(dir.path())]),
        &["neither a run directory", "guide.json"],
    );
}

/// The same page for the directories of `critical` and `batch-size`.
#[test]
fn report_of_critical_and_batch_size_directories_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let critical = dir.path().join("critical");
    ok(&trainscope(&[
        "critical",
        "examples/critical_sinc.toml",
        "--seeds",
        "2",
        "--max-steps",
        "20",
        "--set",
        "training.epochs=10",
        "--out",
        &s(&critical),
        "--quiet",
    ]));
    ok(&trainscope(&["report", &s(&critical)]));
    let html = assert_experiment_page(
        &critical.join("report.html"),
        "<h2 id=\"critical\">",
        // Its configuration keeps no validation rows: no validation curve.
        &["min_ratio", "train_loss", "grad_norm", "lr"],
        &["seed-0", "seed-1"],
    );
    assert!(html.contains("<th>verdict (definitions)</th>"));
    // The lecture's claims as the command checked them.
    assert!(html.contains("<h3>The lecture's claims, measured</h3>"));
    assert!(
        html.contains("<strong>[holds]</strong>")
            || html.contains("<strong>[does not hold]</strong>")
    );

    let sizes = dir.path().join("sizes");
    ok(&trainscope(&[
        "batch-size",
        "examples/sinc.toml",
        "--sizes",
        "16,full",
        "--set",
        "training.epochs=3",
        "--out",
        &s(&sizes),
        "--quiet",
    ]));
    ok(&trainscope(&["report", &s(&sizes)]));
    let html = assert_experiment_page(
        &sizes.join("report.html"),
        "<h2 id=\"batch-size\">",
        &["batch_size", "train_loss", "val_loss", "grad_norm", "lr"],
        &["batch-16", "batch-full"],
    );
    assert!(
        html.contains("<td>full</td><td>3</td><td>3</td>"),
        "one update per epoch"
    );
    assert!(html.contains("<code>training.batch_size</code>"));
    assert!(html.contains("<h3>The lecture's claims, measured</h3>"));
    assert!(html.contains("<th>Keskar sharpness %</th>"));
}

/// The event files in `run`.
fn event_files(run: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("events.out.tfevents.")
        })
        .collect()
}

/// `(tag, step)` of every scalar in the run's one event file, checked against
/// `metrics.jsonl`: each epoch's value of each tag exactly once.
fn check_events_match_metrics(run: &Path, epochs: usize) {
    let events = event_files(run);
    assert_eq!(events.len(), 1, "{events:?}");
    let file = trainscope_viz::read_event_file(&events[0]).unwrap();
    assert_eq!(file.file_version.as_deref(), Some("brain.Event:2"));
    let metrics: Vec<Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(metrics.len(), epochs);
    let tags = ["train_loss", "val_loss", "grad_norm", "lr"];
    assert_eq!(
        file.scalars.len(),
        metrics.len() * tags.len(),
        "one value per tag and epoch"
    );
    for m in &metrics {
        let epoch = m["epoch"].as_i64().unwrap();
        for tag in tags {
            let found: Vec<_> = file
                .scalars
                .iter()
                .filter(|e| e.step == epoch && e.tag == tag)
                .collect();
            assert_eq!(found.len(), 1, "{tag} at epoch {epoch}");
            assert_eq!(
                found[0].value,
                m[tag].as_f64().unwrap() as f32,
                "{tag} at {epoch}"
            );
        }
    }
}

/// Whether a test that needs an external tool may skip without it: not on CI, where
/// `.ci/run` installs the tool and its absence is a failure.
fn may_skip(what: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "{what} is missing, and CI is set: .ci/run installs it");
    true
}

#[test]
fn train_writes_tensorboard_scalars_equal_to_the_metrics_once_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&small_sinc_run(&run, 6, &["--stop-after-epoch", "3"]));
    // Written epoch by epoch while training: the stopped run's file has its three epochs.
    check_events_match_metrics(&run, 3);
    ok(&small_sinc_run(&run, 6, &["--resume"]));
    // The resumed run starts a new file (the old one removed) with the three earlier epochs,
    // then appends its own: each epoch once.
    check_events_match_metrics(&run, 6);

    // TensorBoard's own reader over the whole directory sees each step once.
    let has_tb = Command::new("python3")
        .args(["-c", "import tensorboard"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_tb && may_skip("python3's tensorboard package") {
        println!("SKIPPED TensorBoard's reader: python3 cannot import tensorboard");
        return;
    }
    let mut want: std::collections::BTreeMap<String, Vec<(i64, f64)>> = Default::default();
    for line in std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
    {
        let m: Value = serde_json::from_str(line).unwrap();
        for tag in ["train_loss", "val_loss", "grad_norm", "lr"] {
            want.entry(tag.into()).or_default().push((
                m["epoch"].as_i64().unwrap(),
                f64::from(m[tag].as_f64().unwrap() as f32),
            ));
        }
    }
    let json = dir.path().join("expected.json");
    std::fs::write(&json, serde_json::to_string(&want).unwrap()).unwrap();
    let script = root().join("crates/viz/tests/read_tensorboard.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&run)
        .arg(&json)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "TensorBoard's reader: {stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("24 scalars in 4 tags; 0 differences"),
        "{stdout}"
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = s(dir.path());
    fails_with(
        &trainscope(&["surface", "--analytic", "donut"]),
        &["unknown surface", "donut"],
    );
    fails_with(
        &trainscope(&[
            "surface",
            "--analytic",
            "bowl",
            "--window",
            "1,0,0,1",
            "--out",
            &d,
        ]),
        &["--window"],
    );
    fails_with(
        &trainscope(&["surface", "no/such/run", "--directions", "random"]),
        &["no/such/run"],
    );
    fails_with(&trainscope(&["surface"]), &["--analytic"]);
    let run = dir.path().join("run");
    let config = linear_config(dir.path(), 2, false);
    ok(&trainscope(&[
        "train",
        &config,
        "--out",
        &s(&run),
        "--quiet",
    ]));
    fails_with(
        &trainscope(&["surface", &s(&run), "--params", "0.weight[0],9.bias[0]"]),
        &["unknown parameter", "9.bias"],
    );
    fails_with(
        &trainscope(&["surface", &s(&run), "--params", "0.weight[0]"]),
        &["two parameters"],
    );
    fails_with(
        &trainscope(&["surface", &s(&run), "--directions", "sideways"]),
        &["sideways"],
    );
    fails_with(
        &trainscope(&["surface", &s(&run), "--directions", "random", "--radius=-1"]),
        &["--radius"],
    );
    fails_with(
        &trainscope(&["playground", "--optimizer", "sgd,lr=oops", "--out", &d]),
        &["sgd,lr=oops"],
    );
    fails_with(
        &trainscope(&["playground", "--optimizer", "nadam", "--out", &d]),
        &["nadam"],
    );
    fails_with(
        &trainscope(&["playground", "--preset", "seminar", "--out", &d]),
        &["lecture"],
    );
    fails_with(
        &trainscope(&["playground", "--out", &d]),
        &["nothing to run"],
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[run]]\noptimiser = { kind = \"sgd\" }\n").unwrap();
    fails_with(
        &trainscope(&["playground", "--config", &s(&bad), "--out", &d]),
        &["bad.toml", "optimiser"],
    );
    fails_with(&trainscope(&["plot", &d]), &["metrics.jsonl"]);
    fails_with(
        &trainscope(&["plot", &s(&run), "--format", "gif"]),
        &["gif"],
    );
    fails_with(&trainscope(&["report", "no/such/dir"]), &["no/such/dir"]);
    // A file that does not read is left out of the report, not fatal to it.
    std::fs::write(run.join("diagnose.json"), "{not json").unwrap();
    let html = {
        ok(&trainscope(&["report", &s(&run)]));
        std::fs::read_to_string(run.join("report.html")).unwrap()
    };
    assert!(
        html.contains("Left out: <code>diagnose.json</code>") && html.contains("line 1 column 2"),
        "{html}"
    );
}
