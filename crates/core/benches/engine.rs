//! Engine benchmarks: GEMM overhead against the raw library call, MLP training steps, per-op
//! overhead on a tiny network, and the cost of a Hessian-vector product relative to a gradient.
//!
//! `cargo bench -p trainscope-core --bench engine`; `TRAINSCOPE_THREADS=1` pins one thread.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use trainscope_core::{
    cross_entropy, grad, mse, seeded_rng, set_num_threads, Element, Rng, SecondOrder, Tensor,
};

fn threads() {
    if let Ok(t) = std::env::var("TRAINSCOPE_THREADS") {
        set_num_threads(t.parse().expect("TRAINSCOPE_THREADS is a number"));
    }
}

fn rand<T: Element>(dims: &[usize], rng: &mut Rng) -> Tensor<T> {
    Tensor::uniform(dims, T::from_f64(-1.0), T::from_f64(1.0), rng).unwrap()
}

fn gemm(c: &mut Criterion) {
    threads();
    let mut g = c.benchmark_group("gemm_f32");
    let shapes: &[(usize, usize, usize)] = &[
        (64, 64, 64),
        (256, 256, 256),
        (1024, 1024, 1024),
        (64, 784, 256),
        (256, 784, 256),
        (64, 256, 256),
        (64, 256, 10),
        (256, 256, 10),
    ];
    let mut rng = seeded_rng(0);
    for &(m, k, n) in shapes {
        let a = rand::<f32>(&[m, k], &mut rng);
        let b = rand::<f32>(&[k, n], &mut rng);
        let id = format!("{m}x{k}x{n}");
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        g.bench_function(BenchmarkId::new("tensor", &id), |bch| {
            bch.iter(|| black_box(a.matmul(&b).unwrap()))
        });
        // The raw call, with a preallocated output (what the tensor API is measured against).
        let mut out = vec![0f32; m * n];
        g.bench_function(BenchmarkId::new("raw", &id), |bch| {
            bch.iter(|| {
                f32::gemm(&mut out, a.data(), b.data(), m, k, n, false, false);
                black_box(&out);
            })
        });
    }
    g.finish();
}

struct Mlp<T: Element> {
    params: Vec<Tensor<T>>,
}

impl<T: Element> Mlp<T> {
    fn new(sizes: &[usize], rng: &mut Rng) -> Self {
        let mut params = Vec::new();
        for w in sizes.windows(2) {
            let bound = T::from_f64(1.0 / (w[0] as f64).sqrt());
            params.push(
                Tensor::uniform(&[w[1], w[0]], -bound, bound, rng)
                    .unwrap()
                    .into_param(),
            );
            params.push(
                Tensor::uniform(&[w[1]], -bound, bound, rng)
                    .unwrap()
                    .into_param(),
            );
        }
        Mlp { params }
    }

    fn forward(params: &[Tensor<T>], x: &Tensor<T>, act: fn(&Tensor<T>) -> Tensor<T>) -> Tensor<T> {
        let mut h = x.clone();
        let layers = params.len() / 2;
        for (i, wb) in params.chunks(2).enumerate() {
            h = h
                .matmul_t(&wb[0], false, true)
                .unwrap()
                .add(&wb[1])
                .unwrap();
            if i + 1 < layers {
                h = act(&h);
            }
        }
        h
    }
}

fn mlp_step(c: &mut Criterion) {
    threads();
    let mut g = c.benchmark_group("mlp_784_256_256_10_f32");
    let mut rng = seeded_rng(1);
    let mlp = Mlp::<f32>::new(&[784, 256, 256, 10], &mut rng);
    for batch in [64usize, 256] {
        let x = rand::<f32>(&[batch, 784], &mut rng);
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(BenchmarkId::new("forward_backward", batch), |bch| {
            bch.iter(|| {
                let out = Mlp::forward(&mlp.params, &x, Tensor::relu);
                let loss = cross_entropy(&out, &labels).unwrap();
                black_box(grad(&loss, &mlp.params, false).unwrap())
            })
        });
    }
    g.finish();
}

fn tiny_step(c: &mut Criterion) {
    threads();
    let mut g = c.benchmark_group("mlp_16_32_1_f32");
    let mut rng = seeded_rng(2);
    let mlp = Mlp::<f32>::new(&[16, 32, 1], &mut rng);
    let x = rand::<f32>(&[32, 16], &mut rng);
    let y = rand::<f32>(&[32, 1], &mut rng);
    g.bench_function("forward_backward_batch32", |bch| {
        bch.iter(|| {
            let out = Mlp::forward(&mlp.params, &x, Tensor::sigmoid);
            let loss = mse(&out, &y).unwrap();
            black_box(grad(&loss, &mlp.params, false).unwrap())
        })
    });
    g.finish();
}

fn hvp_vs_grad(c: &mut Criterion) {
    threads();
    let mut g = c.benchmark_group("hvp_vs_grad_784_256_256_10_f32_batch256");
    let mut rng = seeded_rng(3);
    let mlp = Mlp::<f32>::new(&[784, 256, 256, 10], &mut rng);
    let x = rand::<f32>(&[256, 784], &mut rng);
    let labels: Vec<u32> = (0..256u32).map(|i| i % 10).collect();
    let v: Vec<Tensor<f32>> = mlp
        .params
        .iter()
        .map(|p| rand::<f32>(p.dims(), &mut rng))
        .collect();
    g.bench_function("gradient", |bch| {
        bch.iter(|| {
            let out = Mlp::forward(&mlp.params, &x, Tensor::relu);
            let loss = cross_entropy(&out, &labels).unwrap();
            black_box(grad(&loss, &mlp.params, false).unwrap())
        })
    });
    g.bench_function("hvp", |bch| {
        bch.iter(|| {
            let so = SecondOrder::new(
                |p| cross_entropy(&Mlp::forward(p, &x, Tensor::relu), &labels),
                &mlp.params,
            )
            .unwrap();
            black_box(so.hvp(&v).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, gemm, mlp_step, tiny_step, hvp_vs_grad);
criterion_main!(benches);
