"""The package without torch: models from state dicts, the Hessian analyses against finite
differences and numpy, training, checkpoints and errors."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import trainscope as ts

ROOT = Path(__file__).resolve().parents[2]


def mlp_spec(widths, activation="tanh"):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        if i:
            layers.append({"type": activation})
        layers.append({"type": "linear", "in_features": a, "out_features": b})
    return {"inputs": widths[0], "layers": layers}


def random_state(spec, rng):
    """A state dict for the linear layers of an MLP description, layer indices as PyTorch's."""
    sd = {}
    for i, layer in enumerate(spec["layers"]):
        if layer["type"] == "linear":
            sd[f"{i}.weight"] = rng.normal(size=(layer["out_features"], layer["in_features"]))
            sd[f"{i}.bias"] = rng.normal(size=layer["out_features"])
    return sd


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    spec = mlp_spec([2, 4, 1])
    model = ts.Model.from_state_dict(json.dumps(spec), random_state(spec, rng))
    X = rng.normal(size=(30, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    return model, X, y


def test_gradient_matches_central_differences(small):
    model, X, y = small
    loss, g = ts.gradient(model, X, y, "mse")
    theta = np.concatenate([p.ravel() for p in model.parameters().values()])
    assert g.shape == theta.shape
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        up, _ = ts.gradient(model.with_parameters(theta + e), X, y, "mse")
        down, _ = ts.gradient(model.with_parameters(theta - e), X, y, "mse")
        assert abs((up - down) / (2 * h) - g[i]) < 1e-7 * max(1.0, abs(g[i]))
    assert loss > 0


def test_hessian_is_the_derivative_of_the_gradient_and_hvp_its_product(small):
    model, X, y = small
    H = ts.hessian(model, X, y, "mse")
    n = model.num_parameters
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    theta = np.concatenate([p.ravel() for p in model.parameters().values()])
    h = 1e-5
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        _, gp = ts.gradient(model.with_parameters(theta + e), X, y, "mse")
        _, gm = ts.gradient(model.with_parameters(theta - e), X, y, "mse")
        np.testing.assert_allclose((gp - gm) / (2 * h), H[:, i], rtol=1e-5, atol=1e-7)
    v = np.random.default_rng(1).normal(size=n)
    np.testing.assert_allclose(ts.hvp(model, X, y, "mse", v), H @ v, rtol=1e-12, atol=1e-12)


def test_diagnose_dense_gives_the_spectrum_of_the_hessian(small):
    model, X, y = small
    d = ts.diagnose(model, X, y, loss="mse", mode="dense")
    H = ts.hessian(model, X, y, "mse")
    expected = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(d["eigenvalues"], expected, rtol=1e-10, atol=1e-12)
    assert d["mode"] == "dense"
    assert d["num_params"] == model.num_parameters
    assert d["positive"] + d["negative"] + d["zero"] == model.num_parameters
    assert d["loss_name"] == "mse"
    # the vectors are unit eigenvectors of their eigenvalues
    for vals, vecs in ((d["largest"], d["largest_vectors"]), (d["smallest"], d["smallest_vectors"])):
        for r, v in zip(vals, vecs):
            np.testing.assert_allclose(H @ v, r["value"] * v, atol=1e-9)
            assert abs(np.linalg.norm(v) - 1) < 1e-12


def saddle_model():
    """y = w2 (w1 x + b1) + b2 at zero weights, data y = x: a critical point whose Hessian has
    −2·mean(x²) off the diagonal of (w1, w2), hence a saddle."""
    spec = {"inputs": 1, "layers": [
        {"type": "linear", "in_features": 1, "out_features": 1},
        {"type": "linear", "in_features": 1, "out_features": 1},
    ]}
    sd = {"0.weight": np.zeros((1, 1)), "0.bias": np.zeros(1),
          "1.weight": np.zeros((1, 1)), "1.bias": np.zeros(1)}
    x = np.linspace(-1, 1, 21).reshape(-1, 1)
    return ts.Model.from_state_dict(json.dumps(spec), sd), x, x[:, 0].copy()


def test_diagnose_finds_the_saddle_and_the_escape_lowers_the_loss():
    model, X, y = saddle_model()
    d = ts.diagnose(model, X, y, loss="mse")
    assert d["grad_norm"] < 1e-12
    assert d["verdict"] == "saddle_point"
    assert d["negative"] == 1
    esc = d["escape"]
    assert esc["lowered"] and esc["eigenvalue"] < 0
    after = model.with_parameters(esc["parameters"])
    new_loss, _ = ts.gradient(after, X, y, "mse")
    assert new_loss < d["loss"] - 1e-6
    np.testing.assert_allclose(d["loss"] - new_loss, esc["loss_drop"], rtol=1e-12)


def test_a_minimum_has_no_escape():
    spec = mlp_spec([1, 1])
    x = np.linspace(-1, 1, 11).reshape(-1, 1)
    y = 2 * x[:, 0] + 1
    model = ts.Model.from_state_dict(json.dumps(spec), {"0.weight": np.array([[2.0]]), "0.bias": np.array([1.0])})
    d = ts.diagnose(model, x, y, loss="mse")
    assert d["verdict"] == "local_minimum_like"
    assert d["escape"] is None and "not a saddle" in d["escape_note"]


def test_iterative_mode_agrees_with_dense_at_the_ends(small):
    model, X, y = small
    dense = ts.diagnose(model, X, y, loss="mse", mode="dense")
    it = ts.diagnose(model, X, y, loss="mse", mode="iterative", k=2)
    assert it["mode"] == "iterative"
    assert abs(it["largest"][-1]["value"] - dense["eigenvalues"][-1]) < 1e-8
    assert abs(it["smallest"][0]["value"] - dense["eigenvalues"][0]) < 1e-8


def test_cross_entropy_takes_class_indices():
    rng = np.random.default_rng(3)
    spec = mlp_spec([3, 5, 4])
    model = ts.Model.from_state_dict(json.dumps(spec), random_state(spec, rng))
    X = rng.normal(size=(40, 3))
    y = rng.integers(0, 4, size=40)
    d = ts.diagnose(model, X, y, loss="cross_entropy")
    logits = model.predict(X, raw=True)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert abs(d["loss"] - (-logp[np.arange(40), y].mean())) < 1e-12
    with pytest.raises(ts.TrainscopeError, match=r"y: row 0 has 7, not a class index in 0..4"):
        ts.diagnose(model, X, np.full(40, 7), loss="cross_entropy")


def test_surface_passes_through_the_weights(small):
    model, X, y = small
    loss, _ = ts.gradient(model, X, y, "mse")
    s = ts.loss_surface(model, X, y, "mse", grid=5, radius=0.5)
    assert s["loss"].shape == (5, 5)
    assert s["model_at"] == (0.0, 0.0)
    assert abs(s["loss"][2, 2] - loss) < 1e-12
    pair = ts.loss_surface(model, X, y, "mse", parameters=("0.weight[0]", "0.bias[0]"), grid=3)
    w = model.parameters()
    assert pair["model_at"] == (w["0.weight"].ravel()[0], w["0.bias"][0])


def test_eigenvalues_are_the_ends_of_the_dense_spectrum_with_their_vectors(small):
    model, X, y = small
    H = ts.hessian(model, X, y, "mse")
    dense = np.linalg.eigvalsh(H)
    r = ts.eigenvalues(model, X, y, "mse", k=3)
    assert r["converged"]
    assert r["steps"] <= 17
    np.testing.assert_allclose(r["smallest"], dense[:3], atol=1e-8)
    np.testing.assert_allclose(r["largest"], dense[-3:], atol=1e-8)
    scale = np.abs(dense).max()
    assert (r["largest_residuals"] <= 1e-8 * scale).all()
    # Each vector is a unit eigenvector of the dense Hessian for its value.
    for values, vectors in [("smallest", "smallest_vectors"), ("largest", "largest_vectors")]:
        for lam, v in zip(r[values], r[vectors]):
            assert abs(np.linalg.norm(v) - 1) < 1e-10
            assert np.linalg.norm(H @ v - lam * v) < 1e-6 * scale
    with pytest.raises(ts.TrainscopeError, match=r"k: 18 eigenvalues at each end; between 1 and 17"):
        ts.eigenvalues(model, X, y, "mse", k=18)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, X, y: ts.diagnose(m, X[:, :1], y, loss="mse"), r"x: rows of shape \[1\] hold 1 values, the model takes 2"),
        (lambda m, X, y: ts.diagnose(m, X, y), r"the loss must be given"),
        (lambda m, X, y: ts.diagnose(m, X, y, loss="hinge"), r'loss "hinge": expected one of'),
        (lambda m, X, y: ts.diagnose(m, X, y[:5], loss="mse"), r"y: 5 rows for the 30 rows of x"),
        (lambda m, X, y: ts.diagnose(m, X, y, loss="mse", mode="fast"), r'mode "fast"'),
        (lambda m, X, y: ts.diagnose(m, X, y, loss="mse", mode="iterative", k=50), r"k: 50 eigenvalues at each end, but the model has only 17 parameters"),
        (lambda m, X, y: ts.hvp(m, X, y, "mse", np.ones(3)), r"v: 3 values for a model with 17 parameters"),
        (lambda m, X, y: ts.diagnose(m, np.full_like(X, np.nan), y, loss="mse"), r"x: row 0 holds a non-finite value"),
    ],
)
def test_errors_are_one_line_and_name_the_argument(small, call, message):
    model, X, y = small
    with pytest.raises(ts.TrainscopeError, match=message) as e:
        call(model, X, y)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)


def test_state_dict_errors_name_the_tensor():
    spec = mlp_spec([2, 1])
    with pytest.raises(ts.TrainscopeError, match=r'missing tensor "0.bias"'):
        ts.Model.from_state_dict(json.dumps(spec), {"0.weight": np.zeros((1, 2))})
    with pytest.raises(ts.TrainscopeError, match=r'unexpected tensor "0.scale"'):
        ts.Model.from_state_dict(json.dumps(spec), {"0.weight": np.zeros((1, 2)), "0.bias": np.zeros(1), "0.scale": np.zeros(1)})
    with pytest.raises(ts.TrainscopeError, match=r'tensor "0.weight" has shape \[2, 1\], expected \[1, 2\]'):
        ts.Model.from_state_dict(json.dumps(spec), {"0.weight": np.zeros((2, 1)), "0.bias": np.zeros(1)})
    with pytest.raises(ts.TrainscopeError, match=r"model description"):
        ts.Model.from_state_dict('{"inputs": 2, "layers": [{"type": "conv9d"}]}', {})


def sinc_config(tmp_path, epochs=3):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    cfg = tmp_path / "examples" / "sinc.toml"
    return cfg, [f"training.epochs={epochs}"]


def test_train_a_file_then_load_and_predict(tmp_path):
    cfg, overrides = sinc_config(tmp_path)
    out = tmp_path / "run"
    s = ts.train(cfg, out=out, overrides=overrides)
    assert s["epochs"] == 3 and s["run_dir"] == str(out)
    assert s["parameters"] == 385
    assert isinstance(s["findings"], list)
    m = ts.load(out)
    assert m.loss == "mse" and m.feature_names == ["x"]
    p = m.predict(np.array([[0.0], [0.5]]))
    assert p.shape == (2, 1) and np.all(np.isfinite(p))
    params = m.parameters()
    assert list(params) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert params["0.weight"].shape == (128, 1)
    # the same run's training loss, recomputed through the checkpoint, on its own rows
    d = ts.diagnose(out, np.array([[0.1], [0.2]]), np.array([0.9, 0.6]), mode="iterative", k=2)
    assert d["loss_name"] == "mse" and d["mode"] == "iterative"


def test_train_a_dict_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=200)
    data = tmp_path / "line.csv"
    data.write_text("x,y\n" + "".join(f"{a},{3 * a - 1}\n" for a in x))
    s = ts.train({
        "seed": 1,
        "data": {"train": str(data), "target": "y", "task": "regression"},
        "model": {"preset": "linear"},
        "optimizer": {"kind": "sgd", "lr": 0.1},
        "training": {"epochs": 200, "batch_size": 200},
    })
    assert s["run_dir"] is None
    assert s["train_loss"] < 1e-6


def test_train_errors_name_the_key(tmp_path):
    with pytest.raises(ts.TrainscopeError, match=r'^<dict>: training.epochs: invalid type: string "many"'):
        ts.train({"data": {"train": "x.csv", "target": "y"}, "training": {"epochs": "many"}})
    with pytest.raises(ts.TrainscopeError, match=r"nope.toml: cannot read"):
        ts.train(tmp_path / "nope.toml")


def cli():
    exe = ROOT / "target" / "release" / "trainscope"
    if not exe.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exe} is missing: build it with cargo build --release -p trainscope-cli")
        pytest.skip("the trainscope binary is not built")
    return exe


def test_diagnose_gives_the_numbers_of_the_command_line(tmp_path):
    exe = cli()
    cfg, overrides = sinc_config(tmp_path, epochs=2)
    out = tmp_path / "run"
    ts.train(cfg, out=out, overrides=overrides)
    csv = tmp_path / "examples" / "data" / "sinc.csv"
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    header = csv.read_text().splitlines()[0].split(",")
    X = rows[:, [header.index("x")]]
    y = rows[:, header.index("y")]
    cmd = [str(exe), "diagnose", str(out), "--data", str(csv), "--mode", "dense", "--json"]
    ref = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    d = ts.diagnose(out, X, y, mode="dense")
    assert d["verdict"] == ref["verdict"] and d["course_verdict"] == ref["course_verdict"]
    for key in ("positive", "negative", "zero", "num_params"):
        assert d[key] == ref[key]
    assert abs(d["loss"] - ref["loss"]) <= 1e-12 * abs(ref["loss"])
    np.testing.assert_allclose(d["eigenvalues"], ref["eigenvalues"], rtol=0, atol=1e-12 * max(abs(np.array(ref["eigenvalues"]))))
