//! Time of one optimizer update over the 784-256-256-10 MLP's 269,322 parameters (f32):
//! `cargo run --release -p trainscope-optim --example step_cost`.
//!
//! Measured twice: with gradients of ordinary size, and after 1,000 steps in which a third of
//! the gradients were zero (as for the always-blank border pixels of MNIST-like images),
//! which drives Adam's moments of those elements into the subnormal range.

use std::time::Instant;
use trainscope_optim::{AdamOptions, OptimizerOptions};

fn time_steps(
    opt: &mut trainscope_optim::Optimizer<f32>,
    params: &mut [Vec<f32>],
    grads: &[Vec<f32>],
) -> f64 {
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        opt.step(params, grads).expect("step");
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let sizes = [784 * 256, 256, 256 * 256, 256, 256 * 10, 10];
    let mut params: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.1; n]).collect();
    let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.01; n]).collect();
    let mut opt = AdamOptions::default()
        .build::<f32>()
        .expect("valid options");
    opt.step(&mut params, &grads).expect("step");
    println!(
        "Adam step: {:.1} µs",
        time_steps(&mut opt, &mut params, &grads)
    );

    let sparse: Vec<Vec<f32>> = grads
        .iter()
        .map(|g| {
            g.iter()
                .enumerate()
                .map(|(i, &x)| if i % 3 == 0 { 0.0 } else { x })
                .collect()
        })
        .collect();
    for _ in 0..1000 {
        opt.step(&mut params, &sparse).expect("step");
    }
    println!(
        "Adam step after 1,000 steps with a third of the gradients zero: {:.1} µs",
        time_steps(&mut opt, &mut params, &sparse)
    );
}
