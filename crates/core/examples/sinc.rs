//! The course's critical-point example on the engine alone: fit sinc(5πx) with a
//! 1 → 16 (ReLU) → 1 network by full-batch gradient descent, then look at the exact Hessian
//! where training ended.
//!
//! `cargo run --release -p trainscope-core --example sinc`

use trainscope_core::{grad, mse, no_grad, seeded_rng, Result, SecondOrder, Tensor};

fn forward(p: &[Tensor<f64>], x: &Tensor<f64>) -> Result<Tensor<f64>> {
    let h = x.matmul_t(&p[0], false, true)?.add(&p[1])?.relu();
    h.matmul_t(&p[2], false, true)?.add(&p[3])
}

fn main() -> Result<()> {
    let n = 200;
    let xs: Vec<f64> = (0..n)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            let t = 5.0 * std::f64::consts::PI * x;
            if t == 0.0 {
                1.0
            } else {
                t.sin() / t
            }
        })
        .collect();
    let x = Tensor::from_vec(xs, &[n, 1])?;
    let y = Tensor::from_vec(ys, &[n, 1])?;

    let hidden = 16;
    let mut rng = seeded_rng(0);
    let mut params = vec![
        Tensor::uniform(&[hidden, 1], -1.0, 1.0, &mut rng)?.into_param(),
        Tensor::uniform(&[hidden], -1.0, 1.0, &mut rng)?.into_param(),
        Tensor::uniform(&[1, hidden], -0.25, 0.25, &mut rng)?.into_param(),
        Tensor::uniform(&[1], -0.25, 0.25, &mut rng)?.into_param(),
    ];

    let lr = 0.05;
    let mut m: Vec<Vec<f64>> = params.iter().map(|p| vec![0.0; p.numel()]).collect();
    for step in 0..=3000 {
        let loss = mse(&forward(&params, &x)?, &y)?;
        let g = grad(&loss, &params, false)?;
        if step % 500 == 0 {
            println!("step {step:5}  loss {:.6}", loss.item()?);
        }
        drop(loss);
        no_grad(|| {
            // Momentum 0.9 (the lectures' form: m ← λm − ηg, θ ← θ + m).
            for ((p, g), m) in params.iter_mut().zip(&g).zip(&mut m) {
                for ((w, &gi), mi) in p.data_mut().iter_mut().zip(g.data()).zip(m.iter_mut()) {
                    *mi = 0.9 * *mi - lr * gi;
                    *w += *mi;
                }
            }
        });
    }

    let so = SecondOrder::new(|p| mse(&forward(p, &x)?, &y), &params)?;
    let gnorm = so.gradient_flat().iter().map(|g| g * g).sum::<f64>().sqrt();
    let nparams = so.num_params();
    let h = so.hessian()?;
    let hm = faer::Mat::<f64>::from_fn(nparams, nparams, |i, j| h[i * nparams + j]);
    let eig = hm
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .expect("symmetric eigenvalues converge");
    let max = eig.iter().fold(0f64, |a, &b| a.max(b.abs()));
    let tol = 1e-6;
    let pos = eig.iter().filter(|&&l| l > tol * max).count();
    let neg = eig.iter().filter(|&&l| l < -tol * max).count();
    println!(
        "\nat the end: loss {:.6}, gradient norm {gnorm:.2e}, {nparams} parameters",
        so.loss()?
    );
    println!(
        "Hessian eigenvalues: min {:.3e}, max {:.3e}; {pos} positive, {neg} negative, {} zero (|λ| ≤ {tol:e}·max|λ|)",
        eig[0],
        eig[nparams - 1],
        nparams - pos - neg
    );
    println!(
        "minimum ratio (positive / total) = {:.3}",
        pos as f64 / nparams as f64
    );
    Ok(())
}
