"""Reference activations, forward and backward (backward from the forward output y; for gelu,
silu, mish and hard_silu from the input x, `activation_backward_input`)."""

from __future__ import annotations

import math

import numpy as np

from ._common import as_float, check_activation, compute_dtype

_erfc = np.vectorize(math.erfc, otypes=[np.float64])  # NumPy has no erf/erfc; exact in double

# below it gelu, silu, mish and hard_silu and their derivatives are 0 in float32 (as the C++
# kernels take them, so that x = -inf gives 0, not -inf·0 = NaN)
_SELF_GATED_FLOOR = -200.0


def _normal_cdf(x):
    """Φ(x) in double, accurate in the lower tail (erfc, not 1 + erf)."""
    return 0.5 * _erfc(-np.asarray(x, np.float64) / math.sqrt(2))


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # exp of a non-positive number only: no overflow for either sign
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _gelu_tanh_arg(x):
    return math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)

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
        return _softplus(x)
    if activation == "sigmoid":
        return _sigmoid(x)
    if activation == "tanh":
        return np.tanh(x)
    if activation == "hard_sigmoid":
        return np.clip(x / 6 + 0.5, 0, 1)
    if activation == "relu6":
        return np.clip(x, 0, 6)
    if activation == "softsign":
        return np.where(np.isinf(x), np.sign(x), x / (1 + np.abs(x)))
    if activation == "exponential":
        return np.exp(x)
    if activation == "celu":
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0) / a))
    if activation == "hard_tanh":
        return np.clip(x, -1, 1)
    if activation in ("gelu", "silu", "mish", "hard_silu"):
        if activation == "gelu":
            y = 0.5 * x * (1 + np.tanh(_gelu_tanh_arg(x))) if a else (x * _normal_cdf(x)).astype(x.dtype)
        elif activation == "silu":
            y = x * _sigmoid(x)
        elif activation == "mish":
            y = x * np.tanh(_softplus(x))
        else:
            y = x * np.clip(x / 6 + 0.5, 0, 1)
        return np.where(x < _SELF_GATED_FLOOR, -0.0, y)
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
    if activation == "relu6":
        return np.where((y > 0) & (y < 6), dy, 0)
    if activation == "softsign":
        return dy * (1 - np.abs(y)) ** 2
    if activation == "exponential":
        return dy * y
    if activation == "celu":
        return np.where(y > 0, dy, dy * (y / a + 1))
    if activation == "hard_tanh":
        return np.where((y > -1) & (y < 1), dy, 0)
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def _derivative_from_input(x, activation, a):
    if activation == "gelu":
        if a:
            th = np.tanh(_gelu_tanh_arg(x))
            return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
        x64 = x.astype(np.float64)
        return (_normal_cdf(x64) + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)).astype(x.dtype)
    if activation == "silu":
        s = _sigmoid(x)
        return s * (1 + x * (1 - s))
    if activation == "mish":
        th = np.tanh(_softplus(x))
        return th + x * (1 - th * th) * _sigmoid(x)
    # hard_silu: 0 below -3, 1 above 3, x/3 + 1/2 between (a NaN x falls through to NaN)
    return np.where(x < -3, 0, np.where(x > 3, 1, x / 3 + 0.5))


def _backward_input(dy, x, activation, a):
    # 0 and 1 in the far tails, where the formulas meet inf·0
    d = np.where(x < _SELF_GATED_FLOOR, 0, np.where(x > -_SELF_GATED_FLOOR, 1, _derivative_from_input(x, activation, a)))
    return dy * d


def activation_forward(x, activation, alpha=None):
    a = check_activation(activation, alpha, "activation_forward", input_derivative=True)
    x = as_float(x, compute_dtype(x), "activation_forward", "x")
    if activation == "softmax" and x.ndim == 0:
        raise ValueError("activation_forward: softmax needs at least 1-D input (it normalises the last axis). "
                         "Received: x.shape=()")
    with np.errstate(invalid="ignore", over="ignore"):  # inf·0 is NaN and e^x overflows to inf, as in C++
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


def activation_backward_input(dy, x, activation, alpha=None):
    op = "activation_backward_input"
    a = check_activation(activation, alpha, op, input_derivative=True)
    if activation not in ("gelu", "silu", "mish", "hard_silu"):
        raise ValueError(f"{op}: activation='{activation}' is differentiated from its output: use activation_backward "
                         "(this op takes 'gelu', 'silu', 'mish' and 'hard_silu')")
    dtype = compute_dtype(dy, x)
    dy = as_float(dy, dtype, op, "dy")
    x = as_float(x, dtype, op, "x")
    if dy.shape != x.shape:
        raise ValueError(f"{op}: dy and x must have the same shape. Received: dy.shape={dy.shape}, x.shape={x.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        return _backward_input(dy, x, activation, a).astype(dtype, copy=False)

