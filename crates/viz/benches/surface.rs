//! A 101 × 101 loss surface of the sinc network (1 → 128 ReLU → 1, MSE) on 1,000 points.
//!
//! Run with `cargo bench -p trainscope-viz`; prints the best and median of several runs.

use std::time::Instant;
use trainscope_core::Tensor;
use trainscope_nn::{Activation, Loss, ModelSpec, Sequential, Target};
use trainscope_viz::{loss_surface, random_plane, LossProblem};

fn sinc_data<T: trainscope_core::Element>(n: usize) -> (Tensor<T>, Tensor<T>) {
    let xs: Vec<f64> = (0..n)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            let a = 5.0 * std::f64::consts::PI * x;
            if a == 0.0 {
                1.0
            } else {
                a.sin() / a
            }
        })
        .collect();
    let cast = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>();
    (
        Tensor::from_vec(cast(&xs), &[n, 1]).expect("shape"),
        Tensor::from_vec(cast(&ys), &[n, 1]).expect("shape"),
    )
}

/// CPU seconds this process has used (user + system), from /proc; 0 where unavailable.
/// Reported beside wall time because the machine may be shared.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesized command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn bench<T: trainscope_core::Element>(name: &str, runs: usize) {
    let spec = ModelSpec::mlp(1, &[128], Activation::Relu, false, 0.0, 1);
    let model = Sequential::<T>::from_seed(spec, 0).expect("model");
    let (x, y) = sinc_data::<T>(1000);
    let problem = LossProblem {
        model: &model,
        inputs: &x,
        target: Target::Values(&y),
        loss: Loss::Mse,
    };
    let plane = random_plane(&model, 1).expect("plane");
    let window = plane.window(1.0);
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_seconds());
        let grid = loss_surface(&problem, &plane, &window, 101, 101).expect("surface");
        times.push(t.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c);
        assert_eq!(grid.values.len(), 101 * 101);
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "surface 101x101, sinc net 1-128-1, 1000 points, {name}, {} threads: wall best {:.3} s, median {:.3} s; CPU best {:.2} s (= {:.3} s on 2 free cores)",
        rayon::current_num_threads(),
        times[0],
        times[times.len() / 2],
        cpu[0],
        cpu[0] / 2.0
    );
}

fn main() {
    bench::<f64>("f64", 5);
    bench::<f32>("f32", 5);
}
