"""PyTorch side of the training-throughput comparison (see bench/README.md).

Trains the same models as trainscope's benchmark with the same threads and prints one JSON
line per case: {"case", "batch", "samples_per_s"}. Fashion-MNIST is read from the IDX files of
Debian's dataset-fashion-mnist package when present, else synthetic data of the same shape.
"""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch

IDX_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic & 0xFF)]
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def fashion_mnist(n_synthetic):
    imgs = os.path.join(IDX_DIR, "train-images-idx3-ubyte.gz")
    labs = os.path.join(IDX_DIR, "train-labels-idx1-ubyte.gz")
    if os.path.exists(imgs) and os.path.exists(labs):
        x = read_idx(imgs).reshape(-1, 784).astype(np.float32) / 255.0
        y = read_idx(labs).astype(np.int64)
        return torch.from_numpy(x), torch.from_numpy(y), "fashion-mnist"
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n_synthetic, 784, generator=g),
            torch.randint(0, 10, (n_synthetic,), generator=g), "synthetic")


def epoch(model, opt, loss_fn, x, y, batch):
    n = x.shape[0]
    perm = torch.randperm(n)
    for i in range(0, n - batch + 1, batch):
        idx = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return (n // batch) * batch


def timed(model, opt, loss_fn, x, y, batch, repeats):
    epoch(model, opt, loss_fn, x[: 20 * batch], y[: 20 * batch], batch)  # warm-up
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        seen = epoch(model, opt, loss_fn, x, y, batch)
        rates.append(seen / (time.perf_counter() - t))
    return float(np.median(rates))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--synthetic", type=int, default=10000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    x, y, source = fashion_mnist(a.synthetic)
    for batch in (256, 64):
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        r = timed(model, opt, torch.nn.functional.cross_entropy, x, y, batch, a.repeats)
        print(json.dumps({"case": "mlp_784_256_256_10", "data": source, "batch": batch,
                          "samples_per_s": r}), flush=True)

    g = torch.Generator().manual_seed(1)
    xs = torch.rand(a.synthetic, 16, generator=g)
    ys = torch.rand(a.synthetic, 1, generator=g)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Sigmoid(), torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    r = timed(model, opt, torch.nn.functional.mse_loss, xs, ys, 32, a.repeats)
    print(json.dumps({"case": "mlp_16_32_1", "data": "synthetic", "batch": 32,
                      "samples_per_s": r}), flush=True)


if __name__ == "__main__":
    main()
