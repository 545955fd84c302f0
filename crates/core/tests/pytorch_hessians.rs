//! Loss, gradient, dense Hessian, one Hessian-vector product and the Hessian's spectrum of
//! three small networks, against PyTorch in float64 (`shared/fixtures/hessians.json`, written
//! by `shared/fixtures/generate.py`, `hessian_fixtures`):
//!
//! ```python
//! loss = f(theta0)
//! grad = torch.autograd.functional.jacobian(f, theta0)
//! hess = torch.autograd.functional.hessian(f, theta0)
//! eig = torch.linalg.eigvalsh(hess)
//! v = torch.randn(theta0.numel(), generator=torch.Generator().manual_seed(seed + 1))
//! hv = hess @ v
//! ```
//!
//! The networks are rebuilt here from the engine's ops, layer by layer as the fixture lists
//! them, so this checks the ops (and their second derivatives) against an independent
//! implementation, not a copy of one.

use serde_json::Value;
use std::path::PathBuf;
use trainscope_core::{cross_entropy, mse, Result, SecondOrder, Tensor};

/// Both sides compute in float64 along different but equally stable paths; 1e-9 leaves
/// room for the rounding of a few hundred operations and nothing else.
const TOL: f64 = 1e-9;
/// PyTorch's BatchNorm1d default.
const BN_EPS: f64 = 1e-5;

fn fixtures_dir() -> PathBuf {
    // CI checks the repository out next to `shared/`; the crate sits two levels down.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = vec![manifest.join("../../../shared/fixtures")];
    if let Some(dir) = std::env::var_os("TRAINSCOPE_FIXTURES") {
        candidates.push(PathBuf::from(dir));
    }
    for dir in &candidates {
        if dir.join("hessians.json").is_file() {
            return dir.clone();
        }
    }
    panic!(
        "PyTorch reference fixture hessians.json not found; looked in {:?}. Check out the \
         `shared` directory next to the repository (or set TRAINSCOPE_FIXTURES).",
        candidates
    );
}

fn load_cases() -> Vec<Value> {
    let path = fixtures_dir().join("hessians.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
    json["cases"].as_array().expect("a `cases` list").clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("a list of integers")
        .iter()
        .map(|x| x.as_u64().expect("an integer") as usize)
        .collect()
}

/// A `{"shape": [...], "data": [...]}` tensor.
fn tensor(v: &Value) -> Tensor<f64> {
    Tensor::from_vec(floats(&v["data"]), &usizes(&v["shape"])).expect("shape matches data")
}

enum Target {
    Labels(Vec<u32>),
    Values(Tensor<f64>),
}

struct Case {
    name: String,
    layers: Vec<Value>,
    loss: String,
    x: Tensor<f64>,
    y: Target,
    param_order: Vec<String>,
    params: Vec<Tensor<f64>>,
    loss_value: f64,
    gradient: Vec<f64>,
    hessian: Vec<f64>,
    eigenvalues: Vec<f64>,
    v: Vec<f64>,
    hv: Vec<f64>,
}

impl Case {
    fn from_json(c: &Value) -> Case {
        let param_order: Vec<String> = c["param_order"]
            .as_array()
            .expect("param_order")
            .iter()
            .map(|n| n.as_str().expect("a name").to_string())
            .collect();
        let params = param_order
            .iter()
            .map(|n| tensor(&c["params"][n]))
            .collect();
        let y = match &c["y"] {
            Value::Array(labels) => Target::Labels(
                labels
                    .iter()
                    .map(|l| l.as_u64().expect("a class index") as u32)
                    .collect(),
            ),
            t => Target::Values(tensor(t)),
        };
        Case {
            name: c["name"].as_str().expect("name").to_string(),
            layers: c["layers"].as_array().expect("layers").clone(),
            loss: c["loss"].as_str().expect("loss").to_string(),
            x: tensor(&c["x"]),
            y,
            param_order,
            params,
            loss_value: c["loss_value"].as_f64().expect("loss_value"),
            gradient: floats(&c["gradient"]),
            hessian: floats(&c["hessian"]["data"]),
            eigenvalues: floats(&c["eigenvalues_ascending"]),
            v: floats(&c["v"]),
            hv: floats(&c["hv"]),
        }
    }

    /// The parameter called `name` (`"<layer index>.weight"` as in `torch.nn.Sequential`).
    fn param<'a>(&self, p: &'a [Tensor<f64>], name: &str) -> &'a Tensor<f64> {
        let i = self
            .param_order
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{}: no parameter {name}", self.name));
        &p[i]
    }

    /// The loss of the network with parameters `p` (in `param_order`).
    fn loss(&self, p: &[Tensor<f64>]) -> Result<Tensor<f64>> {
        let mut h = self.x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            let w = || self.param(p, &format!("{i}.weight"));
            let b = || self.param(p, &format!("{i}.bias"));
            h = match layer["type"].as_str().expect("layer type") {
                // nn.Linear: x Wᵀ + b with W stored [out, in]
                "linear" => h.matmul_t(w(), false, true)?.add(b())?,
                "tanh" => h.tanh(),
                "relu" => h.relu(),
                "sigmoid" => h.sigmoid(),
                "batchnorm" => batch_norm_train(&h, w(), b())?,
                other => panic!("{}: layer type {other} not handled", self.name),
            };
        }
        match (&self.y, self.loss.as_str()) {
            (Target::Labels(labels), "cross_entropy") => cross_entropy(&h, labels),
            (Target::Values(y), "mse") => mse(&h, y),
            _ => panic!("{}: loss {} not handled", self.name, self.loss),
        }
    }
}

/// BatchNorm1d in training mode: batch mean and biased batch variance over axis 0,
/// `(x − μ)/√(σ² + ε)·γ + β`. The statistics depend on the parameters below, so they are part
/// of the differentiated function (which is what makes this case's Hessian interesting).
fn batch_norm_train(
    x: &Tensor<f64>,
    gamma: &Tensor<f64>,
    beta: &Tensor<f64>,
) -> Result<Tensor<f64>> {
    let mu = x.mean_axis(0, true)?;
    let centered = x.sub(&mu)?;
    let var = centered.powf(2.0).mean_axis(0, true)?;
    let xhat = centered.div(&var.add_scalar(BN_EPS).sqrt())?;
    xhat.mul(gamma)?.add(beta)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `‖ours − torch‖₂ / ‖torch‖₂` (Euclidean norm; the Frobenius norm for a Hessian).
fn rel_to_reference(ours: &[f64], torch: &[f64]) -> f64 {
    assert_eq!(ours.len(), torch.len(), "lengths differ");
    let diff: Vec<f64> = ours.iter().zip(torch).map(|(a, b)| a - b).collect();
    norm(&diff) / norm(torch)
}

/// Eigenvalues in ascending order, from faer's self-adjoint solver. The engine's Hessian is
/// symmetric only up to rounding (its columns are separate products), so the symmetric part
/// is what gets decomposed.
fn eigenvalues(h: &[f64], n: usize) -> Vec<f64> {
    let m = faer::Mat::from_fn(n, n, |i, j| 0.5 * (h[i * n + j] + h[j * n + i]));
    m.self_adjoint_eigenvalues(faer::Side::Lower)
        .expect("the eigensolver converges on a small symmetric matrix")
}

/// Loads the named case, evaluates it with the engine and compares every quantity.
fn check(name: &str) {
    let cases = load_cases();
    let json = cases
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("hessians.json has no case {name}"));
    let c = Case::from_json(json);

    let so = SecondOrder::new(|p| c.loss(p), &c.params).unwrap();
    let n = so.num_params();
    assert_eq!(n, c.gradient.len(), "{name}: parameter count");

    // |ours − torch| / |torch|
    let loss = so.loss().unwrap();
    let e_loss = (loss - c.loss_value).abs() / c.loss_value.abs();

    let e_grad = rel_to_reference(&so.gradient_flat(), &c.gradient);

    let h = so.hessian().unwrap();
    let e_hess = rel_to_reference(&h, &c.hessian);

    let e_hvp = rel_to_reference(&so.hvp_flat(&c.v).unwrap(), &c.hv);

    // max_i |λ_i − λ_i(torch)| / max_i |λ_i(torch)|: relative to the spectral radius, so
    // eigenvalues near 0 are held to the same absolute accuracy as the large ones.
    let eig = eigenvalues(&h, n);
    let radius = c.eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let e_eig = eig
        .iter()
        .zip(&c.eigenvalues)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
        / radius;

    eprintln!(
        "{name}: n = {n}, relative errors: loss {e_loss:.1e}, gradient {e_grad:.1e}, \
         Hessian {e_hess:.1e}, HVP {e_hvp:.1e}, eigenvalues {e_eig:.1e}"
    );
    for (what, e) in [
        ("loss", e_loss),
        ("gradient", e_grad),
        ("Hessian", e_hess),
        ("Hessian-vector product", e_hvp),
        ("eigenvalues", e_eig),
    ] {
        assert!(
            e <= TOL,
            "{name}: {what} differs from PyTorch by {e:e} (relative)"
        );
    }
}

#[test]
fn the_fixture_holds_the_three_expected_cases() {
    // Guards against the checks below silently covering less after a fixture change.
    let names: Vec<String> = load_cases()
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(
        names,
        [
            "tanh_softmax_ce",
            "sinc_relu_mse",
            "sigmoid_batchnorm_mse_train_mode"
        ]
    );
}

#[test]
fn tanh_mlp_with_softmax_cross_entropy_matches_pytorch() {
    check("tanh_softmax_ce");
}

#[test]
fn relu_mlp_with_mse_on_sinc_data_matches_pytorch() {
    check("sinc_relu_mse");
}

#[test]
fn batch_norm_in_training_mode_then_sigmoid_with_mse_matches_pytorch() {
    check("sigmoid_batchnorm_mse_train_mode");
}
