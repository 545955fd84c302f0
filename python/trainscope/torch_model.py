"""PyTorch modules as trainscope models: a ``torch.nn.Sequential`` of supported layers is read
module by module into trainscope's layer description, and its ``state_dict()`` is passed as is
(same names, same shapes). torch is imported only here, and only when a module is converted."""

from __future__ import annotations

import json

import numpy as np

from . import _native


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [int(v), int(v)]


def _size(v):
    """A kernel size, stride or padding as trainscope writes it: one number or a pair."""
    p = _pair(v)
    return p[0] if p[0] == p[1] else p


def _unsupported(path, module, why):
    return _native.TrainscopeError(f"module {path} ({type(module).__name__}): {why}")


def _layer(path, m, nn):
    """One module as a layer object, or an error naming the module and what is unsupported."""
    if isinstance(m, nn.Linear):
        if m.bias is None:
            raise _unsupported(path, m, "Linear without a bias is not supported")
        return {"type": "linear", "in_features": m.in_features, "out_features": m.out_features}
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Hardsigmoid: "hard_sigmoid"}
    for cls, name in simple.items():
        if type(m) is cls:
            return {"type": name}
    if isinstance(m, nn.Conv2d):
        if _pair(m.dilation) != [1, 1] or m.groups != 1 or m.padding_mode != "zeros":
            raise _unsupported(path, m, "only dilation 1, groups 1 and zero padding are supported")
        padding = m.padding
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            else:  # "same", which PyTorch allows at stride 1 only
                k = _pair(m.kernel_size)
                if any(x % 2 == 0 for x in k):
                    raise _unsupported(path, m, "padding='same' with an even kernel is not supported")
                padding = [x // 2 for x in k]
        layer = {
            "type": "conv2d",
            "in_channels": m.in_channels,
            "out_channels": m.out_channels,
            "kernel_size": _size(m.kernel_size),
            "stride": _size(m.stride),
            "padding": _size(padding),
        }
        if m.bias is None:
            layer["bias"] = False
        return layer
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        if _pair(m.padding) != [0, 0] or m.ceil_mode:
            raise _unsupported(path, m, "only padding 0 and ceil_mode=False are supported")
        if isinstance(m, nn.MaxPool2d) and (_pair(m.dilation) != [1, 1] or m.return_indices):
            raise _unsupported(path, m, "only dilation 1 without indices is supported")
        layer = {
            "type": "max_pool2d" if isinstance(m, nn.MaxPool2d) else "avg_pool2d",
            "kernel_size": _size(m.kernel_size),
        }
        stride = m.stride if m.stride is not None else m.kernel_size
        if _pair(stride) != _pair(m.kernel_size):
            layer["stride"] = _size(stride)
        return layer
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise _unsupported(path, m, "only Flatten(start_dim=1, end_dim=-1) is supported")
        return {"type": "flatten"}
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if not m.affine or not m.track_running_stats or m.momentum is None:
            raise _unsupported(
                path, m, "only affine batch norm with running statistics and a momentum is supported"
            )
        kind = "batch_norm1d" if isinstance(m, nn.BatchNorm1d) else "batch_norm2d"
        return {"type": kind, "num_features": m.num_features, "eps": m.eps, "momentum": m.momentum}
    if isinstance(m, nn.LayerNorm):
        if not m.elementwise_affine or m.bias is None:
            raise _unsupported(path, m, "only LayerNorm with a weight and a bias is supported")
        return {"type": "layer_norm", "normalized_shape": list(m.normalized_shape), "eps": m.eps}
    if isinstance(m, nn.Dropout):
        return {"type": "dropout", "p": m.p}
    if isinstance(m, Residual()):
        return {"type": "residual", "body": _layers(m.body, nn, prefix=f"{path}.body")}
    raise _unsupported(
        path,
        m,
        "not a supported layer (Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, ReLU, Tanh, Sigmoid, "
        "Hardsigmoid, BatchNorm1d, BatchNorm2d, LayerNorm, Dropout, trainscope.torch_model.Residual)",
    )


def _layers(seq, nn, prefix=""):
    if not isinstance(seq, nn.Sequential):
        raise _native.TrainscopeError(
            f"model: a {type(seq).__name__}, expected a torch.nn.Sequential of supported layers"
        )
    return [_layer(f"{prefix}.{i}" if prefix else str(i), m, nn) for i, m in enumerate(seq)]


def spec_of(module, input_shape):
    """The layer description (``{"inputs": …, "layers": […]}``) of a ``torch.nn.Sequential``
    for examples of ``input_shape`` (``(features,)`` or ``(C, H, W)``)."""
    import torch.nn as nn

    shape = [int(s) for s in input_shape]
    inputs = shape[0] if len(shape) == 1 else shape
    return {"inputs": inputs, "layers": _layers(module, nn)}


def state_dict_arrays(module):
    """The module's ``state_dict()`` as numpy arrays: floats as float64, counts as int64."""
    import torch

    out = {}
    for name, t in module.state_dict().items():
        t = t.detach().cpu()
        if t.is_floating_point():
            out[name] = t.to(torch.float64).numpy()
        else:
            out[name] = t.to(torch.int64).numpy()
    return out


def from_torch(module, input_shape):
    """A ``trainscope.Model`` with the layers and current weights of ``module``."""
    spec = spec_of(module, input_shape)
    return _native.Model.from_state_dict(json.dumps(spec), state_dict_arrays(module))


_RESIDUAL = None


def Residual():
    """The class ``Residual(body)``: ``y = x + body(x)`` with ``body`` an ``nn.Sequential``
    (its parameters named ``<i>.body.<j>.weight``), the residual block trainscope reads. Built
    on first use so that importing trainscope never imports torch."""
    global _RESIDUAL
    if _RESIDUAL is None:
        import torch.nn as nn

        class Residual(nn.Module):
            def __init__(self, body):
                super().__init__()
                self.body = body if isinstance(body, nn.Sequential) else nn.Sequential(*body)

            def forward(self, x):
                return x + self.body(x)

        _RESIDUAL = Residual
    return _RESIDUAL


def is_torch_module(obj):
    mod = type(obj).__module__ or ""
    if not mod.startswith("torch"):
        # a subclass defined elsewhere (like Residual) still derives from nn.Module
        return any((c.__module__ or "").startswith("torch.nn") for c in type(obj).__mro__)
    return True


def to_numpy(a):
    """numpy view of a torch tensor or any array-like, without a copy where possible."""
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)
