//! Table-driven: every optimizer × {elongated quadratic bowl, Rosenbrock} × {f32, f64}
//! reaches near the minimum with sensible hyperparameters.

use trainscope_optim::{OptimizerConfig, OptimizerOptions, Scalar};

/// f(x, y) = ½(x² + 20 y²): minimum 0 at the origin, condition number 20.
fn bowl<T: Scalar>(p: &[T; 2]) -> (T, [T; 2]) {
    let c = T::from(20.0).unwrap();
    let half = T::from(0.5).unwrap();
    (half * (p[0] * p[0] + c * p[1] * p[1]), [p[0], c * p[1]])
}

/// Rosenbrock f(x, y) = (1 − x)² + 100 (y − x²)²: minimum 0 at (1, 1) at the end of a
/// curved, narrow valley.
fn rosenbrock<T: Scalar>(p: &[T; 2]) -> (T, [T; 2]) {
    let (one, two, hundred) = (T::one(), T::from(2.0).unwrap(), T::from(100.0).unwrap());
    let (x, y) = (p[0], p[1]);
    let r = y - x * x;
    (
        (one - x) * (one - x) + hundred * r * r,
        [
            -two * (one - x) - T::from(400.0).unwrap() * x * r,
            two * hundred * r,
        ],
    )
}

type Problem<T> = fn(&[T; 2]) -> (T, [T; 2]);

struct Case {
    name: &'static str,
    /// Optimizer config for the bowl and for Rosenbrock.
    bowl: &'static str,
    rosen: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "sgd",
        bowl: r#"{"kind":"sgd","lr":0.05}"#,
        rosen: r#"{"kind":"sgd","lr":0.001}"#,
    },
    Case {
        name: "sgd momentum",
        bowl: r#"{"kind":"sgd","lr":0.02,"momentum":0.9}"#,
        rosen: r#"{"kind":"sgd","lr":0.0005,"momentum":0.9}"#,
    },
    Case {
        name: "sgd nesterov",
        bowl: r#"{"kind":"sgd","lr":0.02,"momentum":0.9,"nesterov":true}"#,
        rosen: r#"{"kind":"sgd","lr":0.0005,"momentum":0.9,"nesterov":true}"#,
    },
    Case {
        name: "sgd lecture momentum",
        bowl: r#"{"kind":"sgd","lr":0.02,"momentum":0.9,"variant":"lecture"}"#,
        rosen: r#"{"kind":"sgd","lr":0.0005,"momentum":0.9,"variant":"lecture"}"#,
    },
    Case {
        name: "sgd clipped + weight decay",
        bowl: r#"{"kind":"sgd","lr":0.05,"weight_decay":0.001,"clip_global_norm":1.0}"#,
        rosen: r#"{"kind":"sgd","lr":0.001,"clip_global_norm":10.0}"#,
    },
    Case {
        name: "adagrad",
        bowl: r#"{"kind":"adagrad","lr":0.5}"#,
        rosen: r#"{"kind":"adagrad","lr":0.5}"#,
    },
    Case {
        name: "adagrad lecture",
        bowl: r#"{"kind":"adagrad","lr":0.1,"variant":"lecture"}"#,
        rosen: r#"{"kind":"adagrad","lr":0.005,"variant":"lecture"}"#,
    },
    Case {
        name: "rmsprop",
        bowl: r#"{"kind":"rmsprop","lr":0.01}"#,
        rosen: r#"{"kind":"rmsprop","lr":0.001}"#,
    },
    Case {
        name: "rmsprop centered momentum",
        bowl: r#"{"kind":"rmsprop","lr":0.005,"centered":true,"momentum":0.5}"#,
        rosen: r#"{"kind":"rmsprop","lr":0.0005,"centered":true,"momentum":0.5}"#,
    },
    Case {
        name: "rmsprop lecture",
        bowl: r#"{"kind":"rmsprop","lr":0.01,"alpha":0.9,"variant":"lecture"}"#,
        rosen: r#"{"kind":"rmsprop","lr":0.001,"alpha":0.9,"variant":"lecture"}"#,
    },
    Case {
        name: "adam",
        bowl: r#"{"kind":"adam","lr":0.05}"#,
        rosen: r#"{"kind":"adam","lr":0.01}"#,
    },
    Case {
        name: "adamw",
        bowl: r#"{"kind":"adamw","lr":0.05,"weight_decay":0.0001}"#,
        rosen: r#"{"kind":"adamw","lr":0.01,"weight_decay":0.0001}"#,
    },
    Case {
        name: "radam",
        bowl: r#"{"kind":"radam","lr":0.05}"#,
        rosen: r#"{"kind":"radam","lr":0.01}"#,
    },
];

/// Runs `steps` updates from `start`; returns (initial loss, best loss, final loss).
fn run<T: Scalar>(cfg: &str, f: Problem<T>, start: [f64; 2], steps: usize) -> (f64, f64, f64) {
    let cfg: OptimizerConfig = serde_json::from_str(cfg).unwrap();
    let mut opt = cfg.build::<T>().unwrap();
    let mut p = [T::from(start[0]).unwrap(), T::from(start[1]).unwrap()];
    let f0 = f(&p).0.to_f64().unwrap();
    let mut best = f0;
    for _ in 0..steps {
        let (_, g) = f(&p);
        opt.step(&mut [&mut p[..]], &[&g[..]]).unwrap();
        best = best.min(f(&p).0.to_f64().unwrap());
    }
    (f0, best, f(&p).0.to_f64().unwrap())
}

fn check_all<T: Scalar>(dtype: &str) {
    let mut failures = Vec::new();
    for case in CASES {
        // Bowl from (3, −2): f0 = 44.5. Require a 10⁵-fold decrease.
        let (f0, _, last) = run::<T>(case.bowl, bowl::<T>, [3.0, -2.0], 2000);
        // Written so that a NaN loss fails.
        let ok = last < 1e-5 * f0;
        if !ok {
            failures.push(format!("{dtype} {} bowl: {f0} -> {last}", case.name));
        }
        // Rosenbrock from (−1.5, 2): f0 = 12.5. Require the valley floor near (1, 1).
        let (f0, _, last) = run::<T>(case.rosen, rosenbrock::<T>, [-1.5, 2.0], 20000);
        let ok = last < 1e-3;
        if !ok {
            failures.push(format!("{dtype} {} rosenbrock: {f0} -> {last}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "did not converge:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_optimizer_minimises_bowl_and_rosenbrock_f64() {
    check_all::<f64>("f64");
}

#[test]
fn every_optimizer_minimises_bowl_and_rosenbrock_f32() {
    check_all::<f32>("f32");
}

/// Guards the table against a vacuous pass: a zero learning rate must fail the criterion.
#[test]
fn criterion_rejects_an_optimizer_that_does_not_move() {
    let (f0, _, last) = run::<f64>(r#"{"kind":"sgd","lr":0.0}"#, bowl::<f64>, [3.0, -2.0], 100);
    assert_eq!(f0, last);
    let ok = last < 1e-5 * f0;
    assert!(!ok);
}
