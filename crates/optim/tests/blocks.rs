//! The optimizer runs its chain block by block, on several threads for large parameter sets,
//! with state stored block-interleaved. These tests check that none of that shows in the
//! results: large multi-tensor runs equal the same elements stepped on their own, global
//! norms cover every tensor, a global transform inside the chain sees the complete output of
//! the transforms before it, and state survives save/restore and a different tensor split.

use trainscope_optim::{
    ClipByGlobalNorm, GradientTransform, LrScheduler, Optimizer, OptimizerConfig, OptimizerOptions,
    OptimizerState, ScaleByLearningRate, Trace,
};

/// Tensor sizes crossing block boundaries (1024), with an empty tensor, large enough in
/// total (> 32k elements) for the multi-threaded path.
const SIZES: &[usize] = &[40_000, 3, 1_025, 0, 2_048, 30_001];

/// Deterministic parameters: element `i` of the flat vector.
fn init(i: usize) -> f64 {
    ((i as f64) * 0.7311).sin() * 0.5
}

/// A training-like gradient for element `i` at step `t`: pulls θ toward a target, plus a
/// step-dependent wobble (so every element sees a different sequence).
fn gradient(i: usize, t: usize, theta: f64) -> f64 {
    let target = ((i as f64) * 0.193).cos();
    (theta - target) * (1.0 + (i % 7) as f64) + 0.3 * ((i * 31 + t * 17) as f64).sin()
}

fn split(flat: &[f64], sizes: &[usize]) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in sizes {
        out.push(flat[at..at + n].to_vec());
        at += n;
    }
    out
}

fn flat_init() -> Vec<f64> {
    (0..SIZES.iter().sum()).map(init).collect()
}

/// `steps` updates of `params` (split as given), gradients from [`gradient`] at the global
/// index of each element (`index[k]` for the k-th element of the flattened parameters).
fn run(
    opt: &mut Optimizer<f64>,
    params: &mut [Vec<f64>],
    index: &[usize],
    steps: std::ops::Range<usize>,
) {
    for t in steps {
        let mut k = 0;
        let grads: Vec<Vec<f64>> = params
            .iter()
            .map(|p| {
                p.iter()
                    .map(|&theta| {
                        let g = gradient(index[k], t, theta);
                        k += 1;
                        g
                    })
                    .collect()
            })
            .collect();
        opt.step(params, &grads).unwrap();
    }
}

/// Bit-identical, reporting the first difference rather than printing every element.
fn assert_same(a: &[Vec<f64>], b: &[Vec<f64>], what: &str) {
    let (a, b) = (a.concat(), b.concat());
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let diffs: Vec<usize> = (0..a.len())
        .filter(|&i| a[i].to_bits() != b[i].to_bits())
        .collect();
    if let Some(&i) = diffs.first() {
        panic!(
            "{what}: {} elements differ, first {i}: {} vs {}",
            diffs.len(),
            a[i],
            b[i]
        );
    }
}

fn config(json: &str) -> OptimizerConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn large_multi_tensor_runs_equal_each_element_stepped_alone() {
    let configs = [
        r#"{"kind":"sgd","lr":0.05,"momentum":0.9,"nesterov":true,"weight_decay":0.01}"#,
        r#"{"kind":"sgd","lr":0.05,"momentum":0.9,"variant":"lecture"}"#,
        r#"{"kind":"adagrad","lr":0.1,"lr_decay":0.01,"initial_accumulator_value":0.1}"#,
        r#"{"kind":"adagrad","lr":0.1,"variant":"lecture"}"#,
        r#"{"kind":"rmsprop","lr":0.01,"centered":true,"momentum":0.5}"#,
        r#"{"kind":"rmsprop","lr":0.01,"variant":"lecture"}"#,
        r#"{"kind":"adam","lr":0.01,"weight_decay":0.01}"#,
        r#"{"kind":"adamw","lr":0.01}"#,
        r#"{"kind":"radam","lr":0.01}"#,
    ];
    let total: usize = SIZES.iter().sum();
    let all: Vec<usize> = (0..total).collect();
    // First and last elements of every tensor and both sides of block boundaries.
    let sample: Vec<usize> = [0, 1, 1023, 1024, 1025, 39_999, 40_000, 40_002, 40_003]
        .into_iter()
        .chain([41_027, 41_028, 43_075, 43_076, 60_000, total - 1])
        .collect();
    for json in configs {
        let cfg = config(json);
        let mut big = cfg.build::<f64>().unwrap();
        let mut params = split(&flat_init(), SIZES);
        run(&mut big, &mut params, &all, 0..6);
        let flat: Vec<f64> = params.concat();

        let mut small = cfg.build::<f64>().unwrap();
        let mut alone = vec![sample.iter().map(|&i| init(i)).collect::<Vec<_>>()];
        run(&mut small, &mut alone, &sample, 0..6);
        for (k, &i) in sample.iter().enumerate() {
            assert_eq!(
                flat[i].to_bits(),
                alone[0][k].to_bits(),
                "{json}: element {i}: {} vs {}",
                flat[i],
                alone[0][k]
            );
        }
        // And the run moved the parameters (a chain that did nothing would pass the above).
        assert!(
            flat.iter()
                .zip(flat_init())
                .filter(|(a, b)| *a != b)
                .count()
                > total / 2
        );
    }
}

#[test]
fn clipping_takes_the_norm_over_every_tensor() {
    let (lr, max_norm) = (0.1, 5.0);
    let cfg = config(&format!(
        r#"{{"kind":"sgd","lr":{lr},"clip_global_norm":{max_norm}}}"#
    ));
    let mut opt = cfg.build::<f64>().unwrap();
    let mut params = split(&flat_init(), SIZES);
    let grads: Vec<Vec<f64>> = {
        let flat: Vec<f64> = (0..SIZES.iter().sum())
            .map(|i| gradient(i, 0, init(i)))
            .collect();
        split(&flat, SIZES)
    };
    let report = opt.step(&mut params, &grads).unwrap();

    let norm = grads.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
    let coef = max_norm / (norm + 1e-6);
    assert!(coef < 0.1, "the test must actually clip (coef {coef})");
    assert_eq!(report.grad_norm, Some(norm));
    for (i, (p, g)) in params.concat().iter().zip(grads.concat()).enumerate() {
        let want = init(i) - lr * (g * coef);
        assert!(
            (p - want).abs() <= 1e-14 * want.abs().max(1.0),
            "{i}: {p} vs {want}"
        );
    }
}

#[test]
fn a_global_transform_inside_the_chain_sees_the_complete_update() {
    // Momentum, then clipping of the momentum buffer's global norm, then the learning rate:
    // the clip needs every block's momentum before any block can be scaled.
    let (lr, mu, max_norm) = (0.1, 0.9, 3.0);
    let chain: Vec<Box<dyn GradientTransform<f64>>> = vec![
        Box::new(Trace::new(mu, 0.0, false)),
        Box::new(ClipByGlobalNorm::new(max_norm)),
        Box::new(ScaleByLearningRate),
    ];
    let mut opt = Optimizer::new(chain, LrScheduler::constant(lr));
    let mut params = split(&flat_init(), SIZES);
    let total: usize = SIZES.iter().sum();

    let mut theta = flat_init();
    let mut buf = vec![0.0; total];
    for t in 0..4 {
        let g: Vec<f64> = (0..total).map(|i| gradient(i, t, theta[i])).collect();
        let report = opt.step(&mut params, &split(&g, SIZES)).unwrap();

        for (b, g) in buf.iter_mut().zip(&g) {
            *b = if t == 0 { *g } else { *b * mu + *g };
        }
        let norm = buf.iter().map(|b| b * b).sum::<f64>().sqrt();
        let coef = (max_norm / (norm + 1e-6)).min(1.0);
        assert!(coef < 1.0, "step {t} must clip");
        assert_eq!(report.grad_norm, Some(norm), "step {t}");
        for (x, b) in theta.iter_mut().zip(&buf) {
            *x += b * coef * -lr;
        }
        for (i, (p, want)) in params.concat().iter().zip(&theta).enumerate() {
            assert!(
                (p - want).abs() <= 1e-13 * want.abs().max(1.0),
                "step {t}, element {i}: {p} vs {want}"
            );
        }
    }
}

#[test]
fn blocked_state_survives_save_restore_and_a_different_split() {
    let cfg = config(r#"{"kind":"adam","lr":0.01,"clip_global_norm":50}"#);
    let total: usize = SIZES.iter().sum();
    let all: Vec<usize> = (0..total).collect();

    let mut straight = cfg.build::<f64>().unwrap();
    let mut p_straight = split(&flat_init(), SIZES);
    run(&mut straight, &mut p_straight, &all, 0..6);

    let mut first = cfg.build::<f64>().unwrap();
    let mut p = split(&flat_init(), SIZES);
    run(&mut first, &mut p, &all, 0..3);
    let json = serde_json::to_string(&first.state()).unwrap();
    let saved: OptimizerState<f64> = serde_json::from_str(&json).unwrap();
    assert_eq!(saved.num_elements, Some(total));
    assert!(saved.buffers.iter().all(|(_, v)| v.len() == total));

    let mut resumed = cfg.build::<f64>().unwrap();
    resumed.load_state(&saved).unwrap();
    assert_eq!(
        resumed.state(),
        saved,
        "a restored state reads back unchanged"
    );
    let mut p_resumed = p.clone();
    run(&mut resumed, &mut p_resumed, &all, 3..6);
    assert_same(&p_resumed, &p_straight, "resumed");

    // The same elements as one tensor: the state follows the elements.
    let mut regrouped = vec![p.concat()];
    run(&mut first, &mut regrouped, &all, 3..6);
    assert_same(&regrouped, &[p_straight.concat()], "regrouped");
    assert_eq!(first.state().buffers, straight.state().buffers);
}

#[test]
fn an_empty_chain_adds_the_gradient() {
    let mut opt: Optimizer<f64> = Optimizer::new(Vec::new(), LrScheduler::constant(0.1));
    let mut params = split(&flat_init(), SIZES);
    let grads = split(&vec![0.5; SIZES.iter().sum()], SIZES);
    opt.step(&mut params, &grads).unwrap();
    let want: Vec<f64> = flat_init().iter().map(|x| x + 0.5).collect();
    assert_same(&params, &[want], "empty chain");
}
