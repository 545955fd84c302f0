"""Second-order work side by side: trainscope (through its Python package) and PyTorch on the
same model, data and thread count, in f64.

  dense: the full Hessian of the cross-entropy over all rows and all its eigenvalues —
         torch.autograd.functional.hessian (+ vectorize=True) and torch.linalg.eigvalsh against
         trainscope.hessian and trainscope.diagnose(mode="dense") (Hessian, every eigenvalue,
         verdicts, and the escape step when the point is a saddle).

Run by bench/hessian.sh; prints one JSON object per measurement and a table.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch

import trainscope


def median_time(fn, rounds):
    times = []
    out = None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--widths", default="10,64,32,4")
    ap.add_argument("--plain", action="store_true",
                    help="also time torch's default hessian (one backward pass per parameter: slow)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    trainscope.set_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)

    widths = [int(w) for w in args.widths.split(",")]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        if i:
            layers.append(torch.nn.Tanh())
        layers.append(torch.nn.Linear(a, b))
    model = torch.nn.Sequential(*layers)
    X = torch.randn(args.rows, widths[0])
    y = torch.randint(0, widths[-1], (args.rows,))
    n = sum(p.numel() for p in model.parameters())

    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()

    def f(t):
        params = {k: v.view(s) for k, v, s in zip(names, torch.split(t, sizes), shapes)}
        return torch.nn.functional.cross_entropy(torch.func.functional_call(model, params, (X,)), y)

    def torch_hessian(vectorize):
        return torch.autograd.functional.hessian(f, theta, vectorize=vectorize)

    def torch_dense(vectorize):
        h = torch_hessian(vectorize)
        return h, torch.linalg.eigvalsh(h)

    Xn, yn = X.numpy(), y.numpy()
    ts_model = trainscope.model_from_torch(model, (widths[0],))

    rows = []

    def record(what, seconds):
        rows.append((what, seconds))
        print(json.dumps({"case": what, "seconds": seconds, "parameters": n, "rows": args.rows,
                          "threads": args.threads}), flush=True)

    t_h, H = median_time(lambda: trainscope.hessian(ts_model, Xn, yn, "cross_entropy"), args.rounds)
    record("trainscope.hessian", t_h)
    t_d, d = median_time(
        lambda: trainscope.diagnose(ts_model, Xn, yn, loss="cross_entropy", mode="dense",
                                    dense_limit=max(n, 4000)),
        args.rounds,
    )
    record("trainscope.diagnose(mode='dense')", t_d)
    t_tv, H_t = median_time(lambda: torch_hessian(True), args.rounds)
    record("torch hessian (vectorize=True)", t_tv)
    t_th = None
    if args.plain:
        t_th, _ = median_time(lambda: torch_hessian(False), 1)
        record("torch hessian (default, one round)", t_th)
    t_td, (_, ev_t) = median_time(lambda: torch_dense(True), args.rounds)
    record("torch hessian (vectorize=True) + eigvalsh", t_td)

    err_h = float(np.abs(H - H_t.numpy()).max() / np.abs(H_t.numpy()).max())
    err_ev = float(np.abs(d["eigenvalues"] - ev_t.numpy()).max() / np.abs(ev_t.numpy()).max())
    print(f"\n{n} parameters, {args.rows} rows, f64, {args.threads} threads, median of {args.rounds}")
    print(f"agreement: Hessian max rel. difference {err_h:.1e}, eigenvalues {err_ev:.1e}; "
          f"verdict {d['verdict']} ({d['negative']} negative)")
    print(f"| {'measurement':<44} | {'seconds':>8} |")
    print(f"|{'-' * 46}|{'-' * 10}:|")
    for what, s in rows:
        print(f"| {what:<44} | {s:8.3f} |")
    print(f"\nHessian alone: trainscope {t_tv / t_h:.1f}× faster than torch vectorized"
          + (f", {t_th / t_h:.1f}× than torch's default" if t_th else ""))
    print(f"Hessian + all eigenvalues: trainscope diagnose {t_td / t_d:.1f}× faster than torch "
          f"vectorized + eigvalsh")
    if err_h > 1e-9 or err_ev > 1e-9:
        sys.exit("the two disagree")


if __name__ == "__main__":
    main()
