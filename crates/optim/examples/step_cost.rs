//! Time of one optimizer update over the 784-256-256-10 MLP's 269,322 parameters (f32):
//! `cargo run --release -p trainscope-optim --example step_cost`.

use std::time::Instant;
use trainscope_optim::{AdamOptions, OptimizerOptions};

fn main() {
    let sizes = [784 * 256, 256, 256 * 256, 256, 256 * 10, 10];
    let mut params: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.1; n]).collect();
    let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.01; n]).collect();
    let mut opt = AdamOptions::default()
        .build::<f32>()
        .expect("valid options");
    opt.step(&mut params, &grads).expect("step");
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        opt.step(&mut params, &grads).expect("step");
    }
    println!(
        "Adam step: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
