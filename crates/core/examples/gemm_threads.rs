//! One vs two threads for the products of an MLP training step (forward, and both backward
//! products with their transposed operands), to choose the per-product thread rule:
//! `cargo run --release -p trainscope-core --example gemm_threads`.

use std::time::Instant;
use trainscope_core::{set_num_threads, Element};

fn time(m: usize, k: usize, n: usize, ta: bool, tb: bool, threads: usize) -> f64 {
    set_num_threads(threads);
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    let reps = (2e9 / (2.0 * (m * k * n) as f64)).clamp(3.0, 2000.0) as usize;
    f32::gemm(&mut c, &a, &b, m, k, n, ta, tb);
    let t = Instant::now();
    for _ in 0..reps {
        f32::gemm(&mut c, &a, &b, m, k, n, ta, tb);
    }
    2.0 * (m * k * n) as f64 * reps as f64 / t.elapsed().as_secs_f64() / 1e9
}

fn main() {
    for s in [512usize, 1024] {
        let one = time(s, s, s, false, false, 1);
        let two = time(s, s, s, false, false, 2);
        println!("square {s}: 1 thread {one:6.1}  2 threads {two:6.1} GFLOP/s");
    }
    for batch in [64usize, 256] {
        for (fan_in, fan_out) in [(784usize, 256usize), (256, 256), (256, 10)] {
            // forward x·Wᵀ, dX = g·W, dW = gᵀ·x
            let cases = [
                ("fwd", batch, fan_in, fan_out, false, true),
                ("dX", batch, fan_out, fan_in, false, false),
                ("dW", fan_out, batch, fan_in, true, false),
            ];
            for (name, m, k, n, ta, tb) in cases {
                let one = time(m, k, n, ta, tb, 1);
                let two = time(m, k, n, ta, tb, 2);
                println!("{name:3} m={m:4} k={k:4} n={n:4}: 1 thread {one:6.1}  2 threads(rule) {two:6.1} GFLOP/s");
            }
        }
    }
}
