"""Reference activations, forward and backward (backward from the forward output y)."""

from __future__ import annotations

import numpy as np

from ._common import as_float, check_activation, compute_dtype

SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def _forward(x, activation, a):
    if activation == "linear":
        return x.copy()
    if activation == "relu":
        return np.maximum(x, 0)
    if activation == "leaky_relu":
        return np.where(x > 0, x, a * x)
    if activation == "elu":
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
    if activation == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if activation == "softplus":
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    if activation == "sigmoid":
        # exp of a non-positive number only: no overflow for either sign
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    if activation == "tanh":
        return np.tanh(x)
    if activation == "hard_sigmoid":
        return np.clip(x / 6 + 0.5, 0, 1)
    # softmax over the last axis, max subtracted so large logits do not overflow
    if x.shape[-1] == 0:
        return x.copy()
    z = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


def _backward(dy, y, activation, a):
    if activation == "linear":
        return dy.copy()
    if activation == "relu":
        return np.where(y > 0, dy, 0)
    if activation == "leaky_relu":
        return np.where(y > 0, dy, a * dy)
    if activation == "elu":
        return np.where(y > 0, dy, dy * (y + a))
    if activation == "selu":
        return np.where(y > 0, SELU_SCALE * dy, dy * (y + SELU_SCALE * SELU_ALPHA))
    if activation == "softplus":
        return dy * -np.expm1(-y)
    if activation == "sigmoid":
        return dy * y * (1 - y)
    if activation == "tanh":
        return dy * (1 - y * y)
    if activation == "hard_sigmoid":
        return np.where((y > 0) & (y < 1), dy / 6, 0)
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def activation_forward(x, activation, alpha=None):
    a = check_activation(activation, alpha, "activation_forward")
    x = as_float(x, compute_dtype(x), "activation_forward", "x")
    if activation == "softmax" and x.ndim == 0:
        raise ValueError("activation_forward: softmax needs at least 1-D input (it normalises the last axis). "
                         "Received: x.shape=()")
    return _forward(x, activation, a).astype(x.dtype, copy=False)


def activation_backward(dy, y, activation, alpha=None):
    a = check_activation(activation, alpha, "activation_backward")
    dtype = compute_dtype(dy, y)
    dy = as_float(dy, dtype, "activation_backward", "dy")
    y = as_float(y, dtype, "activation_backward", "y")
    if dy.shape != y.shape:
        raise ValueError(f"activation_backward: dy and y must have the same shape. "
                         f"Received: dy.shape={dy.shape}, y.shape={y.shape}")
    return _backward(dy, y, activation, a).astype(dtype, copy=False)
