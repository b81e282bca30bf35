"""Reference dense layer: y = act(x @ w + b) and its gradients."""

from __future__ import annotations

from ._common import as_float, check_activation, check_flag, compute_dtype, require_ndim
from .activations import _backward, _forward


def _dense_args(x, w, dtype, op):
    x = as_float(x, dtype, op, "x")
    w = as_float(w, dtype, op, "w")
    require_ndim(x, 2, op, "x", "(N, C)")
    require_ndim(w, 2, op, "w", "(C, OC)")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"{op}: w must be (C, OC) with C={x.shape[1]}. Received: w.shape={w.shape}")
    return x, w


def dense_forward(x, w, b=None, activation="linear", alpha=None):
    op = "dense_forward"
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(x, w, b)
    x, w = _dense_args(x, w, dtype, op)
    z = x @ w
    if b is not None:
        b = as_float(b, dtype, op, "b")
        if b.shape != (w.shape[1],):
            raise ValueError(f"{op}: b must be (OC,) with OC={w.shape[1]}. Received: b.shape={b.shape}")
        z = z + b
    return _forward(z, activation, a).astype(dtype, copy=False)


def dense_backward(dy, x, w, y, activation="linear", alpha=None, *, use_bias=True, need_dx=True, need_dw=True):
    op = "dense_backward"
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(dy, x, w, y)
    x, w = _dense_args(x, w, dtype, op)
    dy = as_float(dy, dtype, op, "dy")
    y = as_float(y, dtype, op, "y")
    for arr, name in ((dy, "dy"), (y, "y")):
        if arr.shape != (x.shape[0], w.shape[1]):
            raise ValueError(f"{op}: {name} must be (N, OC) = {(x.shape[0], w.shape[1])} to match x and w. "
                             f"Received: {name}.shape={arr.shape}")
    dz = _backward(dy, y, activation, a)
    dw = x.T @ dz if need_dw else None
    db = dz.sum(axis=0) if use_bias else None
    dx = dz @ w.T if need_dx else None
    return dx, dw, db
