//! PyTorch behaviour the fixture does not exercise (its cases use the defaults for these
//! options), checked against the `torch.optim` update rules written out by hand:
//!
//! ```python
//! # torch.optim.SGD, momentum buffer
//! buf = d_p.clone() if buf is None else buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
//! # torch.optim.Adagrad
//! state_sum = full_like(p, initial_accumulator_value)
//! clr = lr / (1 + (step - 1) * lr_decay)
//! state_sum.addcmul_(grad, grad, value=1); std = state_sum.sqrt().add_(eps)
//! param.addcdiv_(grad, std, value=-clr)
//! ```

use trainscope_optim::{AdagradOptions, OptimizerOptions, SgdOptions};

const GRADS: [f64; 5] = [0.5, -1.0, 2.0, 0.25, -0.75];

#[test]
fn sgd_dampening_skips_the_first_step() {
    let (lr, mu, d) = (0.1, 0.9, 0.3);
    let mut opt = SgdOptions {
        lr,
        momentum: mu,
        dampening: d,
        ..Default::default()
    }
    .build::<f64>()
    .unwrap();
    let mut p = [vec![1.0]];
    let (mut theta, mut buf) = (1.0, 0.0);
    for (t, g) in GRADS.iter().enumerate() {
        buf = if t == 0 { *g } else { buf * mu + (1.0 - d) * g };
        theta -= lr * buf;
        opt.step(&mut p, &[vec![*g]]).unwrap();
        assert!(
            (p[0][0] - theta).abs() < 1e-15,
            "step {t}: {} vs {theta}",
            p[0][0]
        );
    }
}

#[test]
fn adagrad_lr_decay_and_initial_accumulator() {
    let (lr, lr_decay, init, eps) = (0.1, 0.05, 0.2, 1e-10);
    let mut opt = AdagradOptions {
        lr,
        lr_decay,
        initial_accumulator_value: init,
        ..Default::default()
    }
    .build::<f64>()
    .unwrap();
    let mut p = [vec![1.0]];
    let (mut theta, mut sum) = (1.0, init);
    for (t, g) in GRADS.iter().enumerate() {
        let step = (t + 1) as f64;
        let clr = lr / (1.0 + (step - 1.0) * lr_decay);
        sum += g * g;
        theta -= clr * g / (sum.sqrt() + eps);
        opt.step(&mut p, &[vec![*g]]).unwrap();
        assert!(
            (p[0][0] - theta).abs() < 1e-15,
            "step {t}: {} vs {theta}",
            p[0][0]
        );
    }
}
