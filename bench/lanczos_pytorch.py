"""The extreme eigenvalues of a large network's Hessian, side by side: trainscope's Lanczos
(one Krylov space for both ends, through its Python package) against what PyHessian users do
in PyTorch — scipy.sparse.linalg.eigsh (ARPACK) driven by torch.autograd Hessian-vector
products on a retained gradient graph, once for the largest ('LA') and once for the smallest
('SA') eigenvalues. Same model, data, precision (f64) and threads, in one process.

Default: a 784-128-10 ReLU MLP (101,770 parameters), trained briefly in PyTorch, over 8,000
Fashion-MNIST rows; the 20 largest and 20 smallest eigenvalues.

Tolerance. trainscope stops when every wanted pair has ‖Hx − θx‖ ≤ tol·max|θ|. ARPACK's `tol`
is relative to each Ritz value, ‖Hx − θx‖ ≤ tol·|θ|; each eigsh call is given
tol·max|θ| / max|θ_wanted| (θ from trainscope's run), which is the same bound for the value of
largest magnitude at that end and a stricter one for the others. The residuals of every
returned pair are measured afterwards with one HVP each, and printed.

    bench/.venv/bin/python bench/lanczos_pytorch.py [--rows 8000] [--k 20] [--threads 2] [--limit S]

On this model eigsh's 'SA' call converges very slowly (ARPACK keeps a basis of 2k + 1 vectors and
restarts; the smallest eigenvalues sit at the edge of a dense cluster near zero): it had not
converged after 39 minutes. --limit S stops each eigsh call after S seconds and prints the
ratio as a lower bound.
"""

import argparse
import gzip
import json
import time

import numpy as np
import scipy.sparse.linalg as sla
import torch

import trainscope

IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
LABELS = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"


def fashion_mnist(rows):
    X = np.frombuffer(gzip.open(IMAGES).read(), np.uint8, offset=16).reshape(-1, 784)
    y = np.frombuffer(gzip.open(LABELS).read(), np.uint8, offset=8)
    return X[:rows].astype(np.float64) / 255.0, y[:rows].astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2, help="PyTorch Adam epochs before measuring")
    ap.add_argument("--limit", type=float, default=None,
                    help="stop an eigsh call after this many seconds; the ratio is then a lower bound")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    trainscope.set_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)

    X, y = fashion_mnist(args.rows)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(args.epochs):
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            opt.step()
    params = list(model.parameters())
    n = sum(p.numel() for p in params)

    # trainscope: Lanczos alone (no trace or density), both ends in one run.
    ts_model = trainscope.model_from_torch(model, (784,))
    t = time.perf_counter()
    r = trainscope.eigenvalues(ts_model, X, y.astype(np.float64), "cross_entropy", k=args.k,
                               tol=args.tol)
    ts_seconds = time.perf_counter() - t
    print(f"trainscope: {ts_seconds:.1f} s, {r['steps']} HVPs", flush=True)

    # PyTorch as PyHessian: the gradient graph built once, one double-backward per HVP.
    loss = torch.nn.functional.cross_entropy(model(Xt), yt)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    sizes = [p.numel() for p in params]
    hvps = [0]

    class OutOfTime(Exception):
        pass

    deadline = [float("inf")]

    def hvp(v):
        if time.perf_counter() > deadline[0]:
            raise OutOfTime
        hvps[0] += 1
        vs = torch.split(torch.as_tensor(np.asarray(v).reshape(-1)), sizes)
        hv = torch.autograd.grad(grads, params, [a.view_as(p) for a, p in zip(vs, params)],
                                 retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).numpy()

    op = sla.LinearOperator((n, n), matvec=hvp, dtype=np.float64)
    scale = max(abs(r["smallest"][0]), abs(r["largest"][-1]))
    results = {}
    for which, ours in [("LA", r["largest"]), ("SA", r["smallest"])]:
        tol = args.tol * scale / np.abs(ours).max()
        hvps[0] = 0
        t = time.perf_counter()
        if args.limit:
            deadline[0] = t + args.limit
        try:
            vals, vecs = sla.eigsh(op, k=args.k, which=which, tol=tol)
        except OutOfTime:
            seconds = time.perf_counter() - t
            print(f"eigsh {which}: not converged after {seconds:.1f} s, {hvps[0]} HVPs; "
                  f"ratio >= {(seconds + sum(r[2] for r in results.values())) / ts_seconds:.1f}x",
                  flush=True)
            return
        deadline[0] = float("inf")
        results[which] = (np.sort(vals), vecs, time.perf_counter() - t, hvps[0], tol)
        print(f"eigsh {which}: {results[which][2]:.1f} s, {hvps[0]} HVPs", flush=True)

    def residuals(values, vectors):
        return [float(np.linalg.norm(hvp(v) - lam * v)) for lam, v in zip(values, vectors)]

    la, sa = results["LA"], results["SA"]
    torch_seconds = la[2] + sa[2]
    order_la, order_sa = np.argsort(la[0]), np.argsort(sa[0])
    report = {
        "parameters": n,
        "rows": args.rows,
        "k": args.k,
        "threads": args.threads,
        "trainscope_seconds": ts_seconds,
        "trainscope_hvps": r["steps"],
        "trainscope_converged": bool(r["converged"]),
        "eigsh_la_seconds": la[2],
        "eigsh_la_hvps": la[3],
        "eigsh_sa_seconds": sa[2],
        "eigsh_sa_hvps": sa[3],
        "ratio": torch_seconds / ts_seconds,
        "largest_max_rel_diff": float(np.max(np.abs(la[0] - r["largest"]) / scale)),
        "smallest_max_rel_diff": float(np.max(np.abs(sa[0] - r["smallest"]) / scale)),
        "trainscope_max_residual": float(max(r["largest_residuals"].max(),
                                             r["smallest_residuals"].max()) / scale),
        "eigsh_max_residual": float(max(
            max(residuals(la[0], la[1][:, order_la].T)),
            max(residuals(sa[0], sa[1][:, order_sa].T))) / scale),
        "largest": [float(v) for v in r["largest"][-5:]],
        "smallest": [float(v) for v in r["smallest"][:5]],
    }
    print(json.dumps(report))
    print(f"{n} parameters, {args.rows} rows, k = {args.k} at each end, {args.threads} threads, f64")
    print(f"trainscope Lanczos (both ends) {ts_seconds:8.1f} s  {r['steps']:4d} HVPs")
    print(f"eigsh LA + SA on torch HVPs    {torch_seconds:8.1f} s  {la[3] + sa[3]:4d} HVPs "
          f"(LA {la[2]:.1f} s / {la[3]}, SA {sa[2]:.1f} s / {sa[3]})")
    print(f"ratio {report['ratio']:.1f}x; eigenvalues agree to "
          f"{max(report['largest_max_rel_diff'], report['smallest_max_rel_diff']):.1e} of max|λ|; "
          f"largest residual / max|λ|: trainscope {report['trainscope_max_residual']:.1e}, "
          f"eigsh {report['eigsh_max_residual']:.1e}")


if __name__ == "__main__":
    main()
