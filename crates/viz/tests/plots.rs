//! Every figure as SVG (parsed as XML, series and legend entries counted) and PNG (decoded,
//! size checked, not a flat image). Set TRAINSCOPE_VIZ_KEEP=<dir> to keep the files.

use std::path::{Path, PathBuf};
use trainscope_viz::plot::{
    bar_table_plot, bias_complexity_plot, contour_plot, learning_rate_plot,
    loss_and_grad_norm_plot, loss_curves_plot, min_ratio_scatter_plot,
    min_ratio_scatter_plot_grouped, series_color_hex, spectrum_histogram_plot, BarPanel, BarTable,
    ComplexityPoint, ContourOptions, PathSeries,
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
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let counts = (0..colors)
        .map(|k| {
            let c = series_color_hex(k);
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
        mark: s.minimum(),
        ..Default::default()
    };
    let svg = dir.join("lecture.svg");
    contour_plot(&grid, &paths, &opts, &svg).unwrap();
    let (counts, texts) = check_svg(&svg, 4);
    // Each path: its line (split where it reverses or leaves the window) and its legend sample.
    assert!(counts.iter().all(|&c| c >= 2), "{counts:?}");
    // GD η = 1e-2 reverses at every update: one piece per update of its 500, give or take
    // the ones merged below a pixel; the smooth Adagrad with decay stays in a few pieces.
    assert!(counts[0] > 300, "{counts:?}");
    assert!(counts[3] <= 10, "{counts:?}");
    for t in &story.trajectories {
        assert!(texts.contains(&t.label), "legend lacks {}", t.label);
    }
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
        mark: r.minimum(),
        ..Default::default()
    };
    contour_plot(&g, &[], &o, dir.join("rosenbrock.png")).unwrap();
    check_png(&dir.join("rosenbrock.png"), (900, 700));
    contour_plot(&g, &[], &o, dir.join("rosenbrock.svg")).unwrap();
    assert_eq!(check_svg(&dir.join("rosenbrock.svg"), 1).0, vec![0]);
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
        loss_curves_plot(&train, Some(&val), false, &p).unwrap();
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
        loss_and_grad_norm_plot(&steps, &loss, &gn, "update", true, &p).unwrap();
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
        learning_rate_plot(&lr, "update", &p).unwrap();
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
        spectrum_histogram_plot(&eig, 40, 1e-6, &p).unwrap();
        if ext == "svg" {
            let t = check_svg(&p, 1).1;
            assert!(t.contains("270 positive, 29 negative, 1 zero"), "{t}");
            assert!(t.contains("eigenvalues per bin") && t.contains("λ = 0"));
        } else {
            check_png(&p, (900, 560));
        }
    }
    let pts: Vec<[f64; 2]> = (0..40)
        .map(|i| {
            let r = 0.3 + 0.6 * (i as f64 * 0.37).fract();
            [r, 0.5 - 0.4 * r + 0.05 * (i as f64).sin()]
        })
        .collect();
    for ext in ["svg", "png"] {
        let p = dir.join(format!("min_ratio.{ext}"));
        min_ratio_scatter_plot(&pts, false, &p).unwrap();
        if ext == "svg" {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let dots = doc
                .descendants()
                .filter(|n| n.tag_name().name() == "circle")
                .count();
            assert_eq!(dots, 40 + 1, "40 points and a legend marker");
        } else {
            check_png(&p, (900, 560));
        }
    }
    // Grouped by verdict: one colour and legend entry per group.
    let groups = vec![
        ("saddle point".to_string(), pts[..25].to_vec()),
        (
            "local-minimum-like (course: saddle point)".to_string(),
            pts[25..].to_vec(),
        ),
    ];
    let p = dir.join("min_ratio_grouped.svg");
    min_ratio_scatter_plot_grouped(&groups, false, &p).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let fills: std::collections::HashSet<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "circle")
        .filter_map(|n| n.attribute("fill"))
        .collect();
    let dots = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "circle")
        .count();
    assert_eq!(dots, 40 + 2, "40 points and two legend markers");
    assert_eq!(fills.len(), 2, "{fills:?}");
    assert!(text.contains("local-minimum-like (course: saddle point)"));
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
