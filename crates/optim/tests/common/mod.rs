//! Shared test helpers: fixture loading and a hand-derived reference network.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The fixtures produced by `shared/fixtures/generate.py` (PyTorch, float64). Override the
/// location with `TRAINSCOPE_FIXTURES`. A missing fixture fails the test rather than
/// skipping it.
pub fn fixture(name: &str) -> Value {
    let dir = std::env::var_os("TRAINSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// `|a − b| ≤ tol · |b|`, falling back to `|a − b| ≤ tol` when `b = 0`.
pub fn rel_err(a: f64, b: f64) -> f64 {
    let d = (a - b).abs();
    if b == 0.0 {
        d
    } else {
        d / b.abs()
    }
}

/// Linear(4,6) → Tanh → Linear(6,3) with mean softmax cross-entropy, written out by hand in
/// f64 as an independent reference for PyTorch's autograd.
///
/// Parameters follow `torch.nn.Sequential` naming and layout: `w1` = "0.weight" [6, 4]
/// row-major, `b1` = "0.bias" [6], `w2` = "2.weight" [3, 6], `b2` = "2.bias" [3].
///
/// Forward, per example n:  a = W1 x + b1,  h = tanh(a),  z = W2 h + b2,
///   loss_n = −log softmax(z)_{y_n} = logsumexp(z) − z_{y_n};  L = (1/N) Σ_n loss_n.
/// Backward (derived by hand):
///   ∂L/∂z   = (softmax(z) − onehot(y)) / N                 (softmax + CE fused)
///   ∂L/∂W2  = Σ_n ∂z ⊗ h,      ∂L/∂b2 = Σ_n ∂z
///   ∂L/∂h   = W2ᵀ ∂z
///   ∂L/∂a   = ∂h ⊙ (1 − h²)                                (tanh' = 1 − tanh²)
///   ∂L/∂W1  = Σ_n ∂a ⊗ x,      ∂L/∂b1 = Σ_n ∂a
pub struct Mlp {
    pub x: Vec<f64>,
    pub y: Vec<usize>,
}

pub const D_IN: usize = 4;
pub const HIDDEN: usize = 6;
pub const CLASSES: usize = 3;

impl Mlp {
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// Loss and gradients `[dW1, db1, dW2, db2]` at `p = [W1, b1, W2, b2]`.
    pub fn loss_and_grad(&self, p: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
        let (w1, b1, w2, b2) = (&p[0], &p[1], &p[2], &p[3]);
        let mut g = vec![
            vec![0.0; HIDDEN * D_IN],
            vec![0.0; HIDDEN],
            vec![0.0; CLASSES * HIDDEN],
            vec![0.0; CLASSES],
        ];
        let n = self.n();
        let inv_n = 1.0 / n as f64;
        let mut loss = 0.0;
        for k in 0..n {
            let x = &self.x[k * D_IN..(k + 1) * D_IN];
            let mut h = [0.0; HIDDEN];
            for j in 0..HIDDEN {
                let a: f64 = b1[j] + (0..D_IN).map(|i| w1[j * D_IN + i] * x[i]).sum::<f64>();
                h[j] = a.tanh();
            }
            let mut z = [0.0; CLASSES];
            for c in 0..CLASSES {
                z[c] = b2[c] + (0..HIDDEN).map(|j| w2[c * HIDDEN + j] * h[j]).sum::<f64>();
            }
            // Subtracting the max keeps exp from overflowing; it cancels in softmax.
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum_exp: f64 = z.iter().map(|&v| (v - m).exp()).sum();
            let lse = m + sum_exp.ln();
            loss += (lse - z[self.y[k]]) * inv_n;

            let mut dz = [0.0; CLASSES];
            for c in 0..CLASSES {
                let onehot = if c == self.y[k] { 1.0 } else { 0.0 };
                dz[c] = ((z[c] - lse).exp() - onehot) * inv_n;
            }
            let mut dh = [0.0; HIDDEN];
            for c in 0..CLASSES {
                g[3][c] += dz[c];
                for j in 0..HIDDEN {
                    g[2][c * HIDDEN + j] += dz[c] * h[j];
                    dh[j] += w2[c * HIDDEN + j] * dz[c];
                }
            }
            for j in 0..HIDDEN {
                let da = dh[j] * (1.0 - h[j] * h[j]);
                g[1][j] += da;
                for i in 0..D_IN {
                    g[0][j * D_IN + i] += da * x[i];
                }
            }
        }
        (loss, g)
    }

    pub fn loss(&self, p: &[Vec<f64>]) -> f64 {
        self.loss_and_grad(p).0
    }
}

pub const PARAM_ORDER: [&str; 4] = ["0.weight", "0.bias", "2.weight", "2.bias"];

/// Parameters `[W1, b1, W2, b2]` from a fixture's `{name: {shape, data}}` map.
pub fn params_from(v: &Value) -> Vec<Vec<f64>> {
    PARAM_ORDER.iter().map(|k| f64s(&v[*k]["data"])).collect()
}

pub fn mlp_problem(fix: &Value) -> Mlp {
    let order: Vec<&str> = fix["param_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(order, PARAM_ORDER, "fixture parameter order");
    assert_eq!(fix["x"]["shape"], serde_json::json!([10, D_IN]));
    Mlp {
        x: f64s(&fix["x"]["data"]),
        y: fix["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect(),
    }
}
