"""PyTorch modules in and out: the conversion reproduces the module's outputs, and the
diagnosis reproduces torch.autograd.functional.hessian and torch.linalg.eigvalsh."""

import os

import numpy as np
import pytest

import trainscope as ts

if os.environ.get("CI") == "true":
    import torch  # CI installs torch: a missing one is a failure, not a skip
else:
    torch = pytest.importorskip("torch")

nn = torch.nn
torch.set_default_dtype(torch.float64)


def flat_loss(module, X, y, loss_fn):
    """The loss as a function of the flat parameter vector, for torch's hessian."""
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    sizes = [p.numel() for _, p in module.named_parameters()]

    def f(theta):
        params = {n: t.view(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}
        out = torch.func.functional_call(module, params, (X,))
        return loss_fn(out, y)

    theta = torch.nn.utils.parameters_to_vector(module.parameters()).detach().clone()
    return f, theta


def cases():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2))
    cnn = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 2, 2, stride=1, bias=False), nn.Sigmoid(), nn.Flatten(), nn.Linear(2 * 2 * 2, 3),
    )
    bn = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.3), nn.Linear(5, 1))
    res = nn.Sequential(nn.Linear(3, 4), ts.Residual()(nn.Sequential(nn.LayerNorm(4), nn.Tanh(), nn.Linear(4, 4))), nn.Linear(4, 1))
    return [
        ("mlp", mlp, torch.randn(25, 3), "cross_entropy", torch.randint(0, 2, (25,))),
        ("cnn", cnn, torch.randn(12, 1, 6, 6), "cross_entropy", torch.randint(0, 3, (12,))),
        ("batch_norm", bn, torch.randn(20, 4), "mse", torch.randn(20, 1)),
        ("residual", res, torch.randn(15, 3), "mse", torch.randn(15, 1)),
    ]


LOSSES = {"cross_entropy": nn.functional.cross_entropy, "mse": nn.functional.mse_loss}


@pytest.mark.parametrize("name, module, X, loss, y", cases(), ids=lambda c: c if isinstance(c, str) else "")
def test_outputs_match_the_module(name, module, X, loss, y):
    module.eval()
    # a batch norm with statistics of its own, not the defaults
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    model = ts.model_from_torch(module, X.shape[1:])
    assert model.num_parameters == sum(p.numel() for p in module.parameters())
    with torch.no_grad():
        expected = module(X).numpy()
    np.testing.assert_allclose(model.predict(X.numpy(), raw=True), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name, module, X, loss, y", cases(), ids=lambda c: c if isinstance(c, str) else "")
def test_hessian_and_eigenvalues_match_torch(name, module, X, loss, y):
    module.eval()
    f, theta = flat_loss(module, X, y, LOSSES[loss])
    H_torch = torch.autograd.functional.hessian(f, theta).numpy()
    ev_torch = torch.linalg.eigvalsh(torch.from_numpy(H_torch)).numpy()
    H = ts.hessian(module, X, y, loss)
    scale = np.abs(H_torch).max()
    assert np.abs(H - H_torch).max() <= 1e-10 * scale
    d = ts.diagnose(module, X, y, loss=loss, mode="dense")
    assert np.abs(d["eigenvalues"] - ev_torch).max() <= 1e-9 * np.abs(ev_torch).max()
    assert abs(d["loss"] - f(theta).item()) <= 1e-12 * abs(f(theta).item())
    tol = d["zero_tolerance"] * np.abs(ev_torch).max()
    assert d["negative"] == int((ev_torch < -tol).sum())
    assert d["positive"] == int((ev_torch > tol).sum())


def test_hvp_matches_double_backward():
    _, module, X, loss, y = cases()[1]
    module.eval()
    f, theta = flat_loss(module, X, y, LOSSES[loss])
    v = torch.randn_like(theta)
    _, hv_torch = torch.autograd.functional.hvp(f, theta, v)
    hv = ts.hvp(module, X, y, loss, v)
    np.testing.assert_allclose(hv, hv_torch.numpy(), rtol=1e-10, atol=1e-12)


def test_train_mode_batch_norm_matches_a_module_in_training_mode():
    _, module, X, loss, y = cases()[2]
    module = nn.Sequential(*[m for m in module if not isinstance(m, nn.Dropout)])
    module.train()
    f, theta = flat_loss(module, X, y, LOSSES[loss])
    H_torch = torch.autograd.functional.hessian(f, theta).numpy()
    H = ts.hessian(module, X, y, loss, train_mode=True)
    assert np.abs(H - H_torch).max() <= 1e-10 * np.abs(H_torch).max()


def test_escape_goes_back_into_torch_and_lowers_its_loss():
    # y = w2 (w1 x + b1) + b2 at zero weights on y = x: a saddle
    module = nn.Sequential(nn.Linear(1, 1), nn.Linear(1, 1))
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    X = torch.linspace(-1, 1, 21).reshape(-1, 1)
    y = X.clone()
    d = ts.diagnose(module, X, y, loss="mse")
    assert d["verdict"] == "saddle_point"
    before = nn.functional.mse_loss(module(X), y).item()
    torch.nn.utils.vector_to_parameters(torch.from_numpy(d["escape"]["parameters"]), module.parameters())
    after = nn.functional.mse_loss(module(X), y).item()
    assert after < before - 1e-6
    assert abs((before - after) - d["escape"]["loss_drop"]) < 1e-12


def test_state_dict_round_trip_through_a_safetensors_file(tmp_path):
    if os.environ.get("CI") == "true":
        import safetensors.torch as safetensors_torch
    else:
        safetensors_torch = pytest.importorskip("safetensors.torch")
    _, module, X, loss, y = cases()[2]
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(module.state_dict(), str(path))
    spec = ts.spec_of(module, X.shape[1:])
    model = ts.load(path, spec=spec)
    assert model.source == str(path)
    fresh = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.3), nn.Linear(5, 1))
    fresh.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in model.state_dict().items()}, strict=True)
    for (k, a), (_, b) in zip(module.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a.to(b.dtype), b), k


def test_unsupported_modules_are_named():
    module = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
    with pytest.raises(ts.TrainscopeError, match=r"module 1 \(GELU\): not a supported layer"):
        ts.diagnose(module, np.zeros((4, 2)), np.zeros(4), loss="mse")
    with pytest.raises(ts.TrainscopeError, match=r"module 0 \(Linear\): Linear without a bias"):
        ts.model_from_torch(nn.Sequential(nn.Linear(2, 1, bias=False)), (2,))
    with pytest.raises(ts.TrainscopeError, match=r"expected a torch.nn.Sequential"):
        ts.model_from_torch(nn.Linear(2, 1), (2,))
