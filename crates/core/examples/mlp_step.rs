//! Times training steps of a 784-256-256-10 ReLU MLP (f32, cross-entropy) through the engine,
//! for profiling: `cargo run --release -p trainscope-core --example mlp_step -- 256 50`.

use trainscope_core::{cross_entropy, grad, seeded_rng, Result, Tensor};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let batch: usize = args.next().map_or(256, |s| s.parse().expect("batch size"));
    let steps: usize = args.next().map_or(50, |s| s.parse().expect("step count"));
    let mut rng = seeded_rng(0);
    let sizes = [784, 256, 256, 10];
    let mut params = Vec::new();
    for w in sizes.windows(2) {
        let b = 1.0 / (w[0] as f32).sqrt();
        params.push(Tensor::uniform(&[w[1], w[0]], -b, b, &mut rng)?.into_param());
        params.push(Tensor::uniform(&[w[1]], -b, b, &mut rng)?.into_param());
    }
    let x = Tensor::<f32>::uniform(&[batch, 784], 0.0, 1.0, &mut rng)?;
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let step = |params: &[Tensor<f32>]| -> Result<()> {
        let mut h = x.clone();
        for (i, wb) in params.chunks(2).enumerate() {
            h = h.matmul_t(&wb[0], false, true)?.add(&wb[1])?;
            if i < 2 {
                h = h.relu();
            }
        }
        let loss = cross_entropy(&h, &labels)?;
        std::hint::black_box(grad(&loss, params, false)?);
        Ok(())
    };
    step(&params)?;
    let t = std::time::Instant::now();
    for _ in 0..steps {
        step(&params)?;
    }
    let dt = t.elapsed().as_secs_f64() / steps as f64;
    let flops = 2.0 * batch as f64 * (784.0 * 256.0 + 256.0 * 256.0 + 256.0 * 10.0) * 2.0
        + 2.0 * batch as f64 * (256.0 * 256.0 + 256.0 * 10.0);
    println!(
        "batch {batch}: {:.3} ms/step, {:.0} samples/s, {:.1} GFLOP/s",
        dt * 1e3,
        batch as f64 / dt,
        flops / dt / 1e9
    );
    Ok(())
}
