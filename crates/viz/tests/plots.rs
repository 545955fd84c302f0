//! Every figure as SVG (parsed as XML, series and legend entries counted) and PNG (decoded,
//! size checked, not a flat image). Set TRAINSCOPE_VIZ_KEEP=<dir> to keep the files.

use std::path::{Path, PathBuf};
use trainscope_viz::plot::{
    bar_table_plot, bias_complexity_plot, contour_plot, learning_rate_plot,
    loss_and_grad_norm_plot, loss_curves_plot, min_ratio_plot, path_color_hex, series_color_hex,
    spectrum_bins, spectrum_plot, BarPanel, BarTable, ComplexityPoint, ContourOptions, PathSeries,
    VerdictPoint,
};
use trainscope_viz::{lecture_story, AnalyticSurface};

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("TRAINSCOPE_VIZ_KEEP") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (None, PathBuf::from(d))
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// Parses the SVG; returns (number of polylines per series color, all text content).
fn check_svg(path: &Path, colors: usize) -> (Vec<usize>, String) {
    check_svg_with(path, colors, series_color_hex)
}

/// [`check_svg`] with the colours of `color(k)`.
fn check_svg_with(path: &Path, colors: usize, color: fn(usize) -> String) -> (Vec<usize>, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let counts = (0..colors)
        .map(|k| {
            let c = color(k);
            doc.descendants()
                .filter(|n| n.tag_name().name() == "polyline")
                .filter(|n| {
                    n.attribute("stroke")
                        .is_some_and(|s| s.eq_ignore_ascii_case(&c))
                })
                .count()
        })
        .collect();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .collect();
    (counts, texts.join("\n"))
}

/// Decodes the PNG; checks its size and that it is not one flat color.
fn check_png(path: &Path, size: (u32, u32)) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), size, "{path:?}");
    let px = info.color_type.samples();
    let mut colors: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    colors.sort();
    colors.dedup();
    assert!(
        colors.len() > 20,
        "{path:?} has only {} colors",
        colors.len()
    );
    // Not almost all background either: at least 3 % of pixels are not white.
    let white = buf[..info.buffer_size()]
        .chunks(px)
        .filter(|c| c.iter().take(3).all(|&v| v == 255))
        .count();
    let total = (info.width * info.height) as usize;
    assert!(
        white < total * 97 / 100,
        "{path:?} is {white} of {total} white"
    );
    colors.len()
}

#[test]
fn contour_plot_of_the_lecture_story() {
    let (_keep, dir) = out_dir();
    let story = lecture_story().unwrap();
    let s = story.surface;
    let grid = s.grid(&s.default_window(), 101, 81).unwrap();
    let paths: Vec<PathSeries> = story
        .trajectories
        .iter()
        .map(|t| PathSeries {
            label: &t.label,
            points: &t.points,
        })
        .collect();
    let opts = ContourOptions {
        title: format!("Error surface {} with four optimizers", s.formula()),
        log_levels: true,
        marks: s.marks(),
        ..Default::default()
    };
    let svg = dir.join("lecture.svg");
    contour_plot(&grid, &paths, &opts, &svg).unwrap();
    let (counts, texts) = check_svg_with(&svg, 4, path_color_hex);
    // The first path is solid: its line (split where it reverses or leaves the window) and
    // its legend sample. GD η = 1e-2 reverses at every update: one piece per update of its
    // 500, give or take the ones merged below a pixel.
    assert!(counts[0] > 300, "{counts:?}");
    // The later ones are dashed (drawn as separate dashes), so the ones below show through.
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    for k in 1..4 {
        let c = path_color_hex(k);
        let dashes = doc
            .descendants()
            .filter(|n| {
                n.attribute("stroke")
                    .is_some_and(|s| s.eq_ignore_ascii_case(&c))
            })
            .count();
        assert!(dashes > 10, "path {k}: {dashes} elements");
    }
    for t in &story.trajectories {
        assert!(texts.contains(&t.label), "legend lacks {}", t.label);
    }
    assert!(
        texts.contains("minimum (0, 0)"),
        "the minimum is named in the legend"
    );
    assert!(texts.contains('x') && texts.contains('y'));
    let png = dir.join("lecture.png");
    contour_plot(&grid, &paths, &opts, &png).unwrap();
    check_png(&png, (900, 700));
    // Rosenbrock with log levels, no paths: no legend.
    let r = AnalyticSurface::Rosenbrock;
    let g = r.grid(&r.default_window(), 61, 61).unwrap();
    let o = ContourOptions {
        title: "Rosenbrock".into(),
        log_levels: true,
        marks: r.marks(),
        ..Default::default()
    };
    contour_plot(&g, &[], &o, dir.join("rosenbrock.png")).unwrap();
    check_png(&dir.join("rosenbrock.png"), (900, 700));
    contour_plot(&g, &[], &o, dir.join("rosenbrock.svg")).unwrap();
    let (lines, texts) = check_svg_with(&dir.join("rosenbrock.svg"), 1, path_color_hex);
    assert_eq!(lines, vec![0]);
    assert!(texts.contains("minimum (1, 1)"), "{texts}");
    // Saddles have negative values: linear levels.
    let m = AnalyticSurface::MonkeySaddle;
    let g = m.grid(&m.default_window(), 51, 51).unwrap();
    contour_plot(&g, &[], &ContourOptions::default(), dir.join("monkey.png")).unwrap();
    check_png(&dir.join("monkey.png"), (900, 700));
}

#[test]
fn line_plots() {
    let (_keep, dir) = out_dir();
    let train: Vec<f64> = (0..30)
        .map(|e| 2.0 * (-0.15 * e as f64).exp() + 0.1)
        .collect();
    let val: Vec<f64> = (0..30)
        .map(|e| 2.0 * (-0.15 * e as f64).exp() + 0.2 + 0.002 * (e as f64).powi(2))
        .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("loss.{ext}"));
        loss_curves_plot(&train, Some(&val), &p).unwrap();
        if ext == "svg" {
            let (c, t) = check_svg(&p, 2);
            assert_eq!(c, vec![2, 2]);
            assert!(
                t.contains("training loss") && t.contains("validation loss") && t.contains("epoch")
            );
        } else {
            check_png(&p, (900, 560));
        }
    }
    // Stuck with a large gradient, then stuck at a critical point.
    let steps: Vec<f64> = (0..400).map(|i| i as f64).collect();
    let loss: Vec<f64> = steps
        .iter()
        .map(|&t| {
            if t < 200.0 {
                1.0 + 0.05 * (t * 0.7).sin()
            } else {
                0.3
            }
        })
        .collect();
    let gn: Vec<f64> = steps
        .iter()
        .map(|&t| {
            if t < 200.0 {
                5.0
            } else {
                1e-4 * (1.0 + (t - 200.0) * 0.01)
            }
        })
        .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("loss_grad.{ext}"));
        loss_and_grad_norm_plot(&steps, &loss, &gn, "update", &p).unwrap();
        if ext == "svg" {
            let (c, t) = check_svg(&p, 4);
            // Loss in the first color (its wiggles split into pieces), gradient norm in the
            // fourth (one piece, one legend sample); nothing in the others.
            assert!(c[0] > 2, "{c:?}");
            assert_eq!(&c[1..], &[0, 0, 2]);
            assert!(t.contains("‖gradient‖") && t.contains("update"));
        } else {
            check_png(&p, (900, 760));
        }
    }
    let lr: Vec<f64> = (0..100)
        .map(|t| {
            0.1 * (t as f64 / 10.0).min(1.0)
                * (1.0 + (std::f64::consts::PI * t as f64 / 100.0).cos())
                / 2.0
        })
        .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("lr.{ext}"));
        let x: Vec<f64> = (0..lr.len()).map(|i| i as f64).collect();
        learning_rate_plot(&x, &lr, "update", &p).unwrap();
        if ext == "svg" {
            let (c, t) = check_svg(&p, 1);
            assert_eq!(c, vec![2]);
            assert!(t.contains("learning rate"));
        } else {
            check_png(&p, (900, 560));
        }
    }
}

#[test]
fn spectrum_scatter_bars_and_ladder() {
    let (_keep, dir) = out_dir();
    let eig: Vec<f64> = (0..300)
        .map(|i| {
            let u = (i as f64 * 0.618_033_988_7).fract();
            if i % 10 == 0 {
                -0.5 * u
            } else {
                3.0 * u * u
            }
        })
        .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("spectrum.{ext}"));
        spectrum_plot(&eig, 1e-6, &p).unwrap();
        if ext == "svg" {
            let t = check_svg(&p, 1).1;
            assert!(t.contains("270 positive, 29 negative, 1 zero"), "{t}");
            assert!(t.contains("29 negative") && t.contains("1 zero"), "{t}");
        } else {
            check_png(&p, (1000, 560));
        }
    }
    let pts: Vec<VerdictPoint> = (0..40)
        .map(|i| {
            let r = 0.3 + 0.6 * (i as f64 * 0.37).fract();
            VerdictPoint {
                min_ratio: r,
                loss: 0.5 - 0.4 * r + 0.05 * (i as f64).sin(),
                verdict: if i < 25 {
                    "saddle point".into()
                } else {
                    "local-minimum-like (course: saddle point)".into()
                },
            }
        })
        .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("min_ratio.{ext}"));
        min_ratio_plot(&pts, 0.5, &p).unwrap();
        if ext == "svg" {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let circles: Vec<_> = doc
                .descendants()
                .filter(|n| n.tag_name().name() == "circle")
                .collect();
            assert_eq!(circles.len(), 40 + 2, "40 points and two legend markers");
            let fills: std::collections::HashSet<&str> =
                circles.iter().filter_map(|n| n.attribute("fill")).collect();
            assert_eq!(fills.len(), 2, "one colour per verdict: {fills:?}");
            assert!(
                text.contains("saddle point (25)"),
                "legend per verdict, with counts"
            );
            assert!(text.contains("local-minimum-like (course: saddle point) (15)"));
            assert!(
                text.contains("threshold 0.5"),
                "the course's threshold is drawn"
            );
        } else {
            check_png(&p, (900, 560));
        }
    }
    let table = BarTable {
        title: "Small vs large batch".into(),
        category_label: "batch size".into(),
        categories: vec!["1".into(), "32".into(), "1000".into()],
        panels: vec![
            BarPanel {
                title: "Time per epoch".into(),
                y_label: "seconds".into(),
                series: vec![("time / epoch".into(), vec![12.0, 1.1, 0.2])],
            },
            BarPanel {
                title: "Final loss".into(),
                y_label: "loss".into(),
                series: vec![
                    ("training".into(), vec![0.10, 0.12, 0.20]),
                    ("validation".into(), vec![0.15, 0.16, 0.31]),
                ],
            },
        ],
    };
    for ext in ["svg", "png"] {
        let p = dir.join(format!("batch.{ext}"));
        bar_table_plot(&table, &p).unwrap();
        if ext == "svg" {
            let t = check_svg(&p, 3).1;
            for s in [
                "time / epoch",
                "training",
                "validation",
                "1000",
                "batch size",
            ] {
                assert!(t.contains(s), "{s} missing");
            }
        } else {
            check_png(&p, (840, 560));
        }
    }
    let ladder: Vec<ComplexityPoint> = [
        (4.0, 0.9, 0.95),
        (16.0, 0.5, 0.6),
        (64.0, 0.2, 0.4),
        (256.0, 0.08, 0.45),
        (1024.0, 0.02, 0.7),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(size, tr, va))| ComplexityPoint {
        label: format!("model {i}"),
        size,
        train_loss: tr,
        val_loss: va,
    })
    .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("ladder.{ext}"));
        bias_complexity_plot(&ladder, &p).unwrap();
        if ext == "svg" {
            let (c, t) = check_svg(&p, 2);
            assert_eq!(c, vec![2, 2]);
            assert!(t.contains("lowest validation loss") && t.contains("model 2"));
            assert!(t.contains("loss (log scale)"), "losses on a log axis: {t}");
        } else {
            check_png(&p, (900, 560));
        }
    }
}

#[test]
fn bad_outputs_are_errors() {
    let (_keep, dir) = out_dir();
    let g = AnalyticSurface::Saddle
        .grid(&AnalyticSurface::Saddle.default_window(), 5, 5)
        .unwrap();
    let e = contour_plot(&g, &[], &ContourOptions::default(), dir.join("x.jpg")).unwrap_err();
    assert!(e.to_string().contains(".svg or .png"), "{e}");
    assert!(contour_plot(
        &g,
        &[],
        &ContourOptions::default(),
        dir.join("no/such/dir/x.png")
    )
    .is_err());
    let tiny = ContourOptions {
        size: (10, 10),
        ..Default::default()
    };
    assert!(contour_plot(&g, &[], &tiny, dir.join("x.png")).is_err());
}

/// A known saddle: x² − y² in two coordinates (eigenvalues 2 and −2), repeated in five blocks,
/// beside a trained network's typical spectrum — hundreds of eigenvalues at rounding level and
/// a positive tail over five decades. The five negative eigenvalues must be drawn.
#[test]
fn spectrum_shows_the_negative_eigenvalues_of_a_saddle() {
    let (_keep, dir) = out_dir();
    let h = trainscope_viz::AnalyticSurface::Saddle.hessian(0.0, 0.0);
    assert_eq!(h, [[2.0, 0.0], [0.0, -2.0]]);
    let mut eig: Vec<f64> = Vec::new();
    for b in 0..5 {
        eig.push(h[0][0] * (1.0 + b as f64));
        eig.push(h[1][1] * 1e-3 * (1.0 + b as f64));
    }
    for i in 0..300 {
        eig.push(1e-13 * ((i as f64 * 0.7).sin()));
    }
    for i in 0..75 {
        eig.push(10f64.powf(-3.0 + 4.8 * i as f64 / 74.0));
    }
    let bins = spectrum_bins(&eig, 1e-6);
    assert_eq!(
        (bins.counts.positive, bins.counts.negative, bins.counts.zero),
        (80, 5, 300)
    );
    assert_eq!(bins.negative.iter().map(|b| b.count).sum::<usize>(), 5);
    assert_eq!(bins.positive.iter().map(|b| b.count).sum::<usize>(), 80);
    // The negatives sit between 2e-3 and 1e-2 in magnitude: their own bins, not the zero bar.
    assert!(bins.negative[0].lo >= 1.9e-3 && bins.negative.last().unwrap().hi <= 1.01e-2);
    let p = dir.join("saddle_spectrum.svg");
    spectrum_plot(&eig, 1e-6, &p).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(texts.contains(&"5 negative"), "{texts:?}");
    assert!(texts.contains(&"300 zero") && texts.contains(&"80 positive"));
    // Negative tick labels on the negative side; every label once per panel at most.
    assert!(texts.iter().any(|t| t.starts_with("-0.00")), "{texts:?}");
    let red = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "rect")
        .filter(|n| {
            n.attribute("fill")
                .is_some_and(|f| f.eq_ignore_ascii_case("#D62728"))
        })
        .count();
    assert!(red >= 1, "no bar of negative eigenvalues drawn");
}

/// One renderer per figure: nothing outside `viz/src/plot` draws (no plotters, no chart of its
/// own), so every command's figure comes from the one function here.
#[test]
fn only_the_plot_module_draws() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![crates.clone()];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .to_string();
            if p.is_dir() {
                if !rel.ends_with("target") && !rel.contains("/tests") {
                    stack.push(p);
                }
                continue;
            }
            let drawing = rel.starts_with("viz/src/plot");
            if p.extension().is_some_and(|x| x == "rs") && !drawing {
                let text = std::fs::read_to_string(&p).unwrap();
                for needle in ["plotters::", "ChartBuilder", "draw_series"] {
                    if text.contains(needle) {
                        offenders.push(format!("{rel}: {needle}"));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "drawing outside viz/src/plot: {offenders:?}"
    );
}
