"""PyTorch side of the CNN training-throughput comparison (bench/run.sh).

Trains the CNN of bench/cnn_fashion.toml on the first --rows Fashion-MNIST training images
(1 × 28 × 28, pixels in [0, 1]) with the same threads and prints one JSON line per batch size:
{"case", "batch", "samples_per_s"} (median of --repeats epochs after a warm-up).
"""
import argparse, json, os

import torch

from pytorch_mlp import IDX_DIR, read_idx, timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int, default=6000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = read_idx(os.path.join(IDX_DIR, "train-images-idx3-ubyte.gz"))[: a.rows]
    y = read_idx(os.path.join(IDX_DIR, "train-labels-idx1-ubyte.gz"))[: a.rows]
    x = torch.from_numpy(x.astype("float32") / 255.0).unsqueeze(1)
    y = torch.from_numpy(y.astype("int64"))
    nn = torch.nn
    for batch in (256, 64):
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        r = timed(model, opt, nn.functional.cross_entropy, x, y, batch, a.repeats)
        print(json.dumps({"case": "cnn_32_64_128", "batch": batch, "samples_per_s": r}),
              flush=True)


if __name__ == "__main__":
    main()
