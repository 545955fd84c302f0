"""Train in PyTorch, ask trainscope where training stopped, escape, continue in PyTorch.

The lectures' saddle: the network y = w2 (w1 x + b1) + b2 (two Linear(1, 1) layers) fitting
y = x, initialized at zero. There the gradient is exactly zero, so PyTorch's gradient descent
never moves — the loss stays flat. Is that a minimum? trainscope's exact Hessian says it is a
saddle point (the (w1, w2) block has eigenvalues ±mean(x·y)·2) and gives the direction out;
PyTorch then trains on from the escaped weights to zero loss.

    pip install ./python torch
    python python/examples/pytorch_saddle.py
"""

import torch

import trainscope

torch.set_default_dtype(torch.float64)

x = torch.linspace(-1, 1, 21).reshape(-1, 1)
y = x.clone()

model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))
with torch.no_grad():
    for p in model.parameters():
        p.zero_()


def fit(steps, lr=0.1):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    return torch.nn.functional.mse_loss(model(x), y).item()


loss = stalled = fit(500)
print(f"PyTorch, 500 steps from zero: loss {loss:.6f}")

# Each time training stalls, ask trainscope what the point is; at a saddle, step out along the
# most negative eigenvector and let PyTorch train on.
for _ in range(5):
    d = trainscope.diagnose(model, x, y, loss="mse")
    eigenvalues = ", ".join(f"{v:.4f}" for v in d["eigenvalues"])
    print(f"trainscope: {d['verdict'].replace('_', ' ')}, ‖g‖ = {d['grad_norm']:.1e}, "
          f"eigenvalues [{eigenvalues}]")
    if d["verdict"] != "saddle_point":
        break
    theta = torch.from_numpy(d["escape"]["parameters"])
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    escaped = torch.nn.functional.mse_loss(model(x), y).item()
    print(f"  escape along the eigenvector of λ = {d['escape']['eigenvalue']:.4f}: "
          f"loss {loss:.6f} → {escaped:.6f}")
    loss = fit(500)
    print(f"  PyTorch, 500 more steps: loss {loss:.2e}")

assert loss < 1e-6 < stalled
