"""Trains the PyTorch model whose state dict is digits_mlp.safetensors, as a PyTorch user would,
and records PyTorch's own numbers for it in digits_mlp.expected.json (the tests compare
trainscope's predictions, evaluation and gradient with them).

    python examples/pytorch/train_digits_mlp.py      # needs torch, numpy, safetensors
"""

import csv
import json
import pathlib

import torch
from safetensors.torch import save_file

here = pathlib.Path(__file__).resolve().parent
rows = list(csv.DictReader(open(here.parent / "data" / "digits.csv")))
features = [c for c in rows[0] if c != "target"]
X = torch.tensor([[float(r[c]) for c in features] for r in rows])
y = torch.tensor([int(r["target"]) for r in rows])

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
for epoch in range(5):
    perm = torch.randperm(len(X))
    for i in range(0, len(X), 64):
        idx = perm[i : i + 64]
        opt.zero_grad()
        loss_fn(model(X[idx]), y[idx]).backward()
        opt.step()

save_file(model.state_dict(), here / "digits_mlp.safetensors")

model.zero_grad()
logits = model(X)
loss = loss_fn(logits, y)
loss.backward()
grad_norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters()))
expected = {
    "rows": len(X),
    "loss": loss.item(),
    "accuracy": (logits.argmax(1) == y).double().mean().item(),
    "gradient_norm": grad_norm.item(),
    "logits_first_rows": logits[:3].tolist(),
    "probabilities_first_rows": torch.softmax(logits[:3], 1).tolist(),
}
(here / "digits_mlp.expected.json").write_text(json.dumps(expected, indent=1) + "\n")
print(json.dumps({k: v for k, v in expected.items() if not k.endswith("rows")}))
