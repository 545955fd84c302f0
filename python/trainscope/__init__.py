"""trainscope from Python: is the end point of training a minimum or a saddle, and which way
out — for PyTorch models, safetensors state dicts and trainscope checkpoints.

Every function takes ``model`` as a ``torch.nn.Sequential`` of supported layers (read with its
current weights; torch is imported only then), a ``trainscope.Model``, or a path: a trainscope
checkpoint or run directory, or a plain safetensors state dict together with ``spec=`` (the
layer description). Data are numpy arrays (or torch tensors): ``X`` with one row per example
(``N × features`` or ``N × C × H × W``), ``y`` with class indices for classification losses
and values (``N`` or ``N × outputs``) otherwise. For a trainscope checkpoint, ``X`` and ``y``
are raw data as in the training file: the checkpoint's standardization and labels apply.

The numbers are the command line's: ``diagnose`` returns the fields of
``trainscope diagnose --json``, ``train`` those of ``trainscope train --json``. Errors raise
``trainscope.TrainscopeError`` (a ``ValueError``) with the same one-line message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from . import _native
from ._native import Model, TrainscopeError
from .torch_model import Residual, from_torch, is_torch_module, spec_of, to_numpy

__version__ = _native.VERSION
__all__ = [
    "Model",
    "Residual",
    "TrainscopeError",
    "diagnose",
    "eigenvalues",
    "gradient",
    "hessian",
    "hvp",
    "load",
    "loss_surface",
    "model_from_torch",
    "set_threads",
    "spec_of",
    "train",
]


def load(path, spec=None):
    """A trainscope checkpoint or run directory, or with ``spec`` (a dict or JSON string of
    ``{"inputs": …, "layers": […]}``) a plain safetensors file of a PyTorch state dict."""
    if isinstance(spec, dict):
        spec = json.dumps(spec)
    return Model.load(os.fspath(path), spec)


def model_from_torch(module, input_shape):
    """The ``trainscope.Model`` of a ``torch.nn.Sequential`` for examples of ``input_shape``."""
    return from_torch(module, input_shape)


def set_threads(n):
    """Worker threads of trainscope's kernels (default: all cores)."""
    _native.set_threads(int(n))


def _features(X):
    return np.ascontiguousarray(to_numpy(X), dtype=np.float64)


def _model(model, X, spec=None):
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load(model, spec)
    if is_torch_module(model):
        return from_torch(model, X.shape[1:])
    raise TrainscopeError(
        f"model: a {type(model).__name__}; expected a torch.nn.Sequential, a trainscope.Model "
        "or the path of a checkpoint"
    )


def _labels_as_text(y):
    out = []
    for v in np.asarray(y).ravel().tolist():
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bytes):
            v = v.decode()
        out.append(str(v))
    return out


def _targets(model, y):
    y = to_numpy(y)
    if model.labels is not None:
        return np.asarray(model.encode_labels(_labels_as_text(y)), dtype=np.float64)
    if y.dtype.kind not in "biuf":
        raise TrainscopeError(f"y: {y.dtype} values; expected numbers (class indices or values)")
    return np.ascontiguousarray(y, dtype=np.float64)


def _prepare(model, X, y, spec):
    X = _features(X)
    m = _model(model, X, spec)
    return m, X, _targets(m, y)


def diagnose(model, X, y, loss=None, mode="auto", k=20, *, zero_tol=None, grad_tol=None,
             min_ratio=None, dense_limit=None, train_mode=False, seed=0, spec=None):
    """The Hessian analysis at the model's weights, as ``trainscope diagnose --json``: ``loss``,
    ``grad_norm``, ``eigenvalues`` (dense mode: all, ascending) or ``smallest``/``largest``
    (Lanczos), sign counts, ``verdict`` (by the definitions) and ``course_verdict`` (the
    lectures' minimum ratio), and at a saddle the ``escape`` step along the most negative
    eigenvector. Added: ``smallest_vectors``/``largest_vectors`` (unit eigenvectors as rows, in
    ``state_dict`` parameter order, as ``torch.nn.utils.parameters_to_vector`` orders them) and
    ``escape["parameters"]``, the flat parameters after the escape step when it lowered the loss.

    ``mode``: ``"auto"`` (dense up to ``dense_limit`` parameters, else Lanczos), ``"dense"`` or
    ``"iterative"``; ``k`` eigenvalues at each end in iterative mode. ``train_mode=True``
    evaluates batch norm with the batch statistics of the whole ``X`` (as a PyTorch module in
    training mode does on one batch); the default uses the running statistics, dropout off.
    """
    m, X, y = _prepare(model, X, y, spec)
    text, smallest, largest, escaped = _native.diagnose(
        m, X, y, loss, mode, int(k), zero_tol, grad_tol, min_ratio, dense_limit, bool(train_mode),
        int(seed),
    )
    d = json.loads(text)
    if d.get("eigenvalues") is not None:
        d["eigenvalues"] = np.asarray(d["eigenvalues"], dtype=np.float64)
    d["smallest_vectors"] = smallest
    d["largest_vectors"] = largest
    if d.get("escape") is not None:
        d["escape"]["parameters"] = escaped
    return d


def hessian(model, X, y, loss=None, *, train_mode=False, spec=None):
    """The exact dense Hessian (``P × P``) of the full-data loss at the model's weights, in
    ``state_dict`` parameter order."""
    m, X, y = _prepare(model, X, y, spec)
    return _native.hessian(m, X, y, loss, bool(train_mode))


def eigenvalues(model, X, y, loss=None, k=20, *, tol=1e-8, max_steps=400, train_mode=False,
                seed=0, spec=None):
    """The ``k`` smallest and ``k`` largest eigenvalues of the Hessian of the full-data loss
    by Lanczos alone (one Krylov space serves both ends; no trace or density), as a dict:
    ``smallest`` and ``largest`` (ascending arrays), their ``smallest_residuals`` and
    ``largest_residuals`` (``‖H x − θ x‖``, a bound on each value's error), the eigenvectors
    ``smallest_vectors`` and ``largest_vectors`` (rows, ``state_dict`` order), ``steps`` (the
    Hessian-vector products used) and ``converged`` (every residual ≤ ``tol · max|θ|``)."""
    m, X, y = _prepare(model, X, y, spec)
    values, vectors, steps, converged = _native.eigenvalues(
        m, X, y, loss, int(k), float(tol), int(max_steps), bool(train_mode), int(seed)
    )
    return {
        "smallest": values[0],
        "largest": values[1],
        "smallest_residuals": values[2],
        "largest_residuals": values[3],
        "smallest_vectors": vectors[0],
        "largest_vectors": vectors[1],
        "steps": steps,
        "converged": converged,
    }


def hvp(model, X, y, loss, v, *, train_mode=False, spec=None):
    """The exact Hessian-vector product ``H v`` (``v`` flat, ``state_dict`` parameter order)."""
    m, X, y = _prepare(model, X, y, spec)
    v = np.ascontiguousarray(to_numpy(v), dtype=np.float64)
    return _native.hvp(m, X, y, v, loss, bool(train_mode))


def gradient(model, X, y, loss=None, *, train_mode=False, spec=None):
    """``(loss, gradient)`` of the full-data loss at the model's weights."""
    m, X, y = _prepare(model, X, y, spec)
    return _native.gradient(m, X, y, loss, bool(train_mode))


def loss_surface(model, X, y, loss=None, directions="random", *, parameters=None, grid=41,
                 radius=1.0, seed=0, spec=None):
    """The loss on a ``grid × grid`` slice through the model's weights, as ``trainscope
    surface``: ``directions="random"`` (two filter-normalized random directions),
    ``"hessian"`` (the eigenvectors of the largest and the most negative eigenvalue), or
    ``parameters=("0.weight[0]", "0.bias[0]")``. Returns a dict with ``x`` and ``y`` (the axes),
    ``loss`` (``len(y) × len(x)``), ``labels``, ``model_at`` (where the weights sit) and
    ``description``."""
    m, X, y = _prepare(model, X, y, spec)
    xs, ys, values, labels, at, description = _native.loss_surface(
        m, X, y, loss, directions, parameters, int(grid), float(radius), int(seed)
    )
    return {"x": xs, "y": ys, "loss": values, "labels": labels, "model_at": at,
            "description": description}


def train(config, *, out="auto", overrides=()):
    """Trains a configuration (the path of a TOML file, or a dict with the same structure) as
    ``trainscope train`` does and returns the ``train --json`` object. ``out``: the run
    directory; by default ``runs/<file stem>`` for a file (as the command line) and none (in
    memory) for a dict; ``None`` trains in memory. ``overrides``: ``"key=value"`` strings as
    ``--set`` takes them."""
    overrides = [str(o) for o in overrides]
    if isinstance(config, dict):
        text, path, base, as_json = json.dumps(config), Path("<dict>"), Path.cwd(), True
        default_out = None
    else:
        path = Path(os.fspath(config))
        try:
            text = path.read_text()
        except OSError as e:
            raise TrainscopeError(f"{path}: cannot read: {e.strerror}") from None
        base, as_json = path.parent, False
        default_out = Path("runs") / path.stem
    if isinstance(out, str) and out == "auto":
        out = default_out
    out = None if out is None else os.fspath(out)
    return json.loads(_native.train(text, os.fspath(path), os.fspath(base), overrides, out, as_json))
