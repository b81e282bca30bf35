"""Reference batch normalisation (axis -1), layer normalisation (last axis), group normalisation
(channels last) and inverted dropout, forward and backward.

Batch statistics are computed in float64 (two passes: mean, then the mean squared deviation),
the biased variance as Keras's ``ops.moments``. Dropout draws its mask from the same
counter-based hash as cpp/dropout.cpp (splitmix64 of (seed, flat index)), written here in NumPy
uint64 arithmetic, so both backends drop exactly the same elements for the same seed.
"""

from __future__ import annotations

import math

import numpy as np

from ._common import as_array, as_float, check_flag, check_int, check_number, compute_dtype, require_disjoint

# ---- Batch normalisation ------------------------------------------------------------------------


def _rows_channels(x, op, arg="x"):
    if x.ndim < 2:
        raise ValueError(f"{op}: {arg} must be (N, ..., C) with at least 2 dimensions (channels last). "
                         f"Received: {arg}.shape={x.shape}")
    C = x.shape[-1]
    return int(np.prod(x.shape[:-1], dtype=np.int64)), C


def _channel_vector(v, C, dtype, op, arg):
    v = as_float(v, dtype, op, arg)
    if v.shape != (C,):
        raise ValueError(f"{op}: {arg} must be (C,) with C={C}. Received: {arg}.shape={v.shape}")
    return v


def _moving(a, C, op, arg):
    """A moving statistic, updated in place: float32 (or float64) ndarray of shape (C,)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {arg} is written in place and must be a float32 ndarray. Received: {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: {arg} is written in place and must be float32. Received: {arg}.dtype={a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {arg} is written in place and must be C-contiguous. Received: a non-contiguous "
                         f"or Fortran-order view of shape {a.shape} (pass np.ascontiguousarray(...) and use the "
                         "returned array)")
    if not a.flags.writeable:
        raise ValueError(f"{op}: {arg} is written in place but is read-only")
    if a.shape != (C,):
        raise ValueError(f"{op}: {arg} must have shape {(C,)}. Received: {arg}.shape={a.shape}")
    return a


def _dy_like(dy, x, dtype, op):
    """A backward's dy: x's shape."""
    dy = as_float(dy, dtype, op, "dy")
    if dy.shape != x.shape:
        raise ValueError(f"{op}: dy must have x's shape {x.shape}. Received: dy.shape={dy.shape}")
    return dy


def _epsilon(v, op):
    if not (v >= 0.0 and math.isfinite(v)):
        raise ValueError(f"{op}: epsilon must be a finite number >= 0. Received: epsilon={v:g}")
    return v


def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, *, training, momentum=0.99, epsilon=1e-3):
    op = "batchnorm_forward"
    training = check_flag(training, op, "training")
    momentum = check_number(momentum, op, "momentum")
    epsilon = check_number(epsilon, op, "epsilon")
    dtype = compute_dtype(x, gamma, beta)
    x = as_float(x, dtype, op, "x")
    N, C = _rows_channels(x, op)
    if training and N == 0:
        raise ValueError(f"{op}: training needs a non-empty batch to compute statistics. Received: x.shape={x.shape}")
    if not (0.0 <= momentum <= 1.0):
        raise ValueError(f"{op}: momentum must be in [0, 1]. Received: momentum={momentum:g}")
    eps = float(dtype(_epsilon(epsilon, op)))  # the epsilon the kernel sees
    gamma = None if gamma is None else _channel_vector(gamma, C, dtype, op, "gamma")
    beta = None if beta is None else _channel_vector(beta, C, dtype, op, "beta")
    moving_mean = _moving(moving_mean, C, op, "moving_mean")
    moving_var = _moving(moving_var, C, op, "moving_var")
    require_disjoint(op, [(moving_mean, "moving_mean"), (moving_var, "moving_var")],
                     [(a, n) for a, n in ((x, "x"), (gamma, "gamma"), (beta, "beta")) if a is not None])
    x2 = x.reshape(N, C)
    centered = None
    if training:
        x64 = x2.astype(np.float64)
        mean64 = x64.mean(axis=0)
        centered = x64 - mean64  # (exact deviations: x - mean rounded to float32 loses a large offset's)
        var64 = np.mean(centered ** 2, axis=0)
        mean = mean64.astype(dtype)
        inv_std = (1.0 / np.sqrt(var64 + eps)).astype(dtype)
        # Keras 3: moving = moving * momentum + batch * (1 - momentum), in the variable's dtype
        mdt = moving_mean.dtype.type
        moving_mean[...] = moving_mean * mdt(momentum) + mean.astype(mdt) * (mdt(1) - mdt(momentum))
        vdt = moving_var.dtype.type
        moving_var[...] = moving_var * vdt(momentum) + var64.astype(vdt) * (vdt(1) - vdt(momentum))
    else:
        mean = moving_mean.astype(dtype)
        inv_std = (1.0 / np.sqrt(moving_var.astype(np.float64) + eps)).astype(dtype)
    scale = inv_std if gamma is None else gamma * inv_std
    y = (x2 - mean if centered is None else centered) * scale
    if beta is not None:
        y = y + beta
    return y.astype(dtype, copy=False).reshape(x.shape), mean, inv_std


def batchnorm_backward(dy, x, gamma, mean, inv_std, *, training=True, need_dx=True, center=True):
    op = "batchnorm_backward"
    training = check_flag(training, op, "training")
    need_dx = check_flag(need_dx, op, "need_dx")
    center = check_flag(center, op, "center")
    dtype = compute_dtype(dy, x, gamma, mean, inv_std)
    x = as_float(x, dtype, op, "x")
    N, C = _rows_channels(x, op)
    dy = _dy_like(dy, x, dtype, op)
    gamma = None if gamma is None else _channel_vector(gamma, C, dtype, op, "gamma")
    mean = _channel_vector(mean, C, dtype, op, "mean")
    inv_std = _channel_vector(inv_std, C, dtype, op, "inv_std")
    x2, dy2 = x.reshape(N, C), dy.reshape(N, C)
    # With xhat = (x - mean) * inv_std: dbeta = sum(dy), dgamma = sum(dy * xhat), sums in float64.
    # Training: the deviations from the given mean (the forward's, rounded to x's dtype), less their
    # own mean: exact deviations from the batch mean, as the C++ kernel rebuilds them
    centered = x2.astype(np.float64) - mean.astype(np.float64)
    if training and N > 0:
        centered -= centered.mean(axis=0)
    s1 = dy2.sum(axis=0, dtype=np.float64)
    s2 = np.sum(dy2.astype(np.float64) * centered, axis=0)
    is64 = inv_std.astype(np.float64)
    dbeta = s1.astype(dtype) if center else None
    dgamma = None if gamma is None else (s2 * is64).astype(dtype)
    dx = None
    if need_dx:
        g = np.ones(C) if gamma is None else gamma.astype(np.float64)
        a = (g * is64).astype(dtype)
        if training:  # mean and inv_std are functions of x
            b = (s1 / max(N, 1)).astype(dtype)
            k = (s2 * is64 * is64 / max(N, 1)).astype(dtype)
            dx = a * (dy2 - b - centered.astype(dtype) * k)
        else:  # statistics are constants: the affine map's gradient
            dx = a * dy2
        dx = dx.astype(dtype, copy=False).reshape(x.shape)
    return dx, dgamma, dbeta


# ---- Layer normalisation (last axis) ------------------------------------------------------------


def _rows_features(x, op):
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"{op}: x must be (..., C) with C >= 1 values to normalise over its last axis. "
                         f"Received: x.shape={x.shape}")
    return x.shape[-1]


def _row_statistic(v, x, dtype, op, arg):
    v = as_float(v, dtype, op, arg)
    if v.shape != x.shape[:-1]:
        raise ValueError(f"{op}: {arg} must have x's shape without its last axis, {x.shape[:-1]}. "
                         f"Received: {arg}.shape={v.shape}")
    return v


def layernorm_forward(x, gamma, beta, *, epsilon=1e-3):
    op = "layernorm_forward"
    epsilon = check_number(epsilon, op, "epsilon")
    dtype = compute_dtype(x, gamma, beta)
    x = as_float(x, dtype, op, "x")
    C = _rows_features(x, op)
    eps = float(dtype(_epsilon(epsilon, op)))
    gamma = None if gamma is None else _channel_vector(gamma, C, dtype, op, "gamma")
    beta = None if beta is None else _channel_vector(beta, C, dtype, op, "beta")
    x64 = x.astype(np.float64)
    mean64 = x64.mean(axis=-1, keepdims=True)
    inv_std64 = 1.0 / np.sqrt(np.mean((x64 - mean64) ** 2, axis=-1, keepdims=True) + eps)
    y = (x64 - mean64) * inv_std64
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y.astype(dtype), mean64[..., 0].astype(dtype), inv_std64[..., 0].astype(dtype)


def layernorm_backward(dy, x, gamma, mean, inv_std, *, need_dx=True, center=True):
    op = "layernorm_backward"
    need_dx = check_flag(need_dx, op, "need_dx")
    center = check_flag(center, op, "center")
    dtype = compute_dtype(dy, x, gamma, mean, inv_std)
    x = as_float(x, dtype, op, "x")
    C = _rows_features(x, op)
    dy = _dy_like(dy, x, dtype, op)
    gamma = None if gamma is None else _channel_vector(gamma, C, dtype, op, "gamma")
    mean = _row_statistic(mean, x, dtype, op, "mean")
    inv_std = _row_statistic(inv_std, x, dtype, op, "inv_std")
    d = dy.astype(np.float64).reshape(-1, C)
    is64 = inv_std.astype(np.float64).reshape(-1, 1)
    # the deviations from the given mean (rounded to x's dtype), less their own mean: exact deviations
    # from the row's mean, as the C++ kernel rebuilds them (a row at 1e4 would otherwise be off by the
    # mean's rounding, 5e-4 in float32)
    dev = x.astype(np.float64).reshape(-1, C) - mean.astype(np.float64).reshape(-1, 1)
    xhat = (dev - dev.mean(axis=1, keepdims=True)) * is64
    dgamma = None if gamma is None else np.sum(d * xhat, axis=0).astype(dtype)
    dbeta = d.sum(axis=0).astype(dtype) if center else None
    dx = None
    if need_dx:
        g = d if gamma is None else d * gamma.astype(np.float64)
        dx = is64 * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
        dx = dx.astype(dtype).reshape(x.shape)
    return dx, dgamma, dbeta


# ---- Group normalisation (channels last) ---------------------------------------------------------


def _group_shape(x, groups, op):
    """x (N, ..., C) as (N, P, C) and the groups: G >= 1 dividing C; P >= 1 unless N = 0."""
    groups = check_int(groups, op, "groups")
    if x.ndim < 2:
        raise ValueError(f"{op}: x must be (N, ..., C) with at least 2 dimensions (channels last). "
                         f"Received: x.shape={x.shape}")
    N, C = x.shape[0], x.shape[-1]
    P = int(np.prod(x.shape[1:-1], dtype=np.int64))
    if groups < 1 or C % groups:
        raise ValueError(f"{op}: groups must be a positive divisor of the channels (x.shape[-1]={C}). "
                         f"Received: groups={groups}")
    if N > 0 and P == 0:
        raise ValueError(f"{op}: each sample needs at least one position to normalise over. Received: x.shape={x.shape}")
    return N, P, C, groups


def _group_statistic(v, N, G, dtype, op, arg):
    v = as_float(v, dtype, op, arg)
    if v.shape != (N, G):
        raise ValueError(f"{op}: {arg} must have the shape (N, groups), {(N, G)}. Received: {arg}.shape={v.shape}")
    return v


def groupnorm_forward(x, gamma, beta, *, groups, epsilon=1e-3):
    op = "groupnorm_forward"
    epsilon = check_number(epsilon, op, "epsilon")
    dtype = compute_dtype(x, gamma, beta)
    x = as_float(x, dtype, op, "x")
    N, P, C, G = _group_shape(x, groups, op)
    eps = float(dtype(_epsilon(epsilon, op)))
    gamma = None if gamma is None else _channel_vector(gamma, C, dtype, op, "gamma")
    beta = None if beta is None else _channel_vector(beta, C, dtype, op, "beta")
    xg = x.astype(np.float64).reshape(N, P, G, C // G)
    mean64 = xg.mean(axis=(1, 3), keepdims=True)
    inv_std64 = 1.0 / np.sqrt(np.mean((xg - mean64) ** 2, axis=(1, 3), keepdims=True) + eps)
    y = ((xg - mean64) * inv_std64).reshape(N, P, C)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y.astype(dtype).reshape(x.shape), mean64.reshape(N, G).astype(dtype), inv_std64.reshape(N, G).astype(dtype)


def groupnorm_backward(dy, x, gamma, mean, inv_std, *, groups, need_dx=True, center=True):
    op = "groupnorm_backward"
    need_dx = check_flag(need_dx, op, "need_dx")
    center = check_flag(center, op, "center")
    dtype = compute_dtype(dy, x, gamma, mean, inv_std)
    x = as_float(x, dtype, op, "x")
    N, P, C, G = _group_shape(x, groups, op)
    dy = _dy_like(dy, x, dtype, op)
    gamma = None if gamma is None else _channel_vector(gamma, C, dtype, op, "gamma")
    mean = _group_statistic(mean, N, G, dtype, op, "mean")
    inv_std = _group_statistic(inv_std, N, G, dtype, op, "inv_std")
    shape = (N, P, G, C // G)
    d = dy.astype(np.float64).reshape(shape)
    is64 = inv_std.astype(np.float64).reshape(N, 1, G, 1)
    # exact deviations from the group's mean, rebuilt from the given (rounded) one, as layernorm_backward
    dev = x.astype(np.float64).reshape(shape) - mean.astype(np.float64).reshape(N, 1, G, 1)
    xhat = (dev - dev.mean(axis=(1, 3), keepdims=True)) * is64
    dgamma = None if gamma is None else np.sum(d * xhat, axis=(0, 1)).reshape(C).astype(dtype)
    dbeta = d.sum(axis=(0, 1)).reshape(C).astype(dtype) if center else None
    dx = None
    if need_dx:
        g = d if gamma is None else d * gamma.astype(np.float64).reshape(G, C // G)
        dx = is64 * (g - g.mean(axis=(1, 3), keepdims=True) - xhat * (g * xhat).mean(axis=(1, 3), keepdims=True))
        dx = dx.astype(dtype).reshape(x.shape)
    return dx, dgamma, dbeta


# ---- Dropout -------------------------------------------------------------------------------------

_WEYL = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SEED_SALT = 0x6A09E667F3BCC908


def _hash(key, index):
    """splitmix64 of each index's point on the Weyl sequence from `key` (uint64 arrays; wraps mod 2**64)."""
    z = key + (index + np.uint64(1)) * _WEYL
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _key(seed):
    # one-element arrays: NumPy warns on uint64 scalar overflow, never on arrays
    return _hash(np.array([seed ^ _SEED_SALT], np.uint64), np.zeros(1, np.uint64))[0]


def _rate(rate, op):
    if not (0.0 <= rate < 1.0):
        raise ValueError(f"{op}: rate must be in [0, 1). Received: rate={rate:g}")
    return rate


def _seed(seed, op):
    """seed (already an int, from check_int) must be in [0, 2**64)."""
    if not (0 <= seed < 2**64):
        raise ValueError(f"{op}: seed must be an int in [0, 2**64). Received: seed={seed!r}")
    return seed


def dropout_mask(shape, rate, seed):
    """The uint8 keep-mask dropout_forward draws for (shape, rate, seed)."""
    count = int(np.prod(shape, dtype=np.int64))
    if rate == 0.0:
        return np.ones(shape, np.uint8)
    threshold = np.uint64(int((1.0 - rate) * 4294967296.0))
    h = _hash(_key(seed), np.arange(count, dtype=np.uint64))
    return ((h >> np.uint64(32)) < threshold).astype(np.uint8).reshape(shape)


def dropout_forward(x, rate, seed):
    op = "dropout_forward"
    rate = check_number(rate, op, "rate")
    seed = check_int(seed, op, "seed")
    dtype = compute_dtype(x)
    x = as_float(x, dtype, op, "x")
    rate = _rate(rate, op)
    mask = dropout_mask(x.shape, rate, _seed(seed, op))
    scale = dtype(1.0 / (1.0 - rate))
    y = np.where(mask != 0, x * scale, dtype(0)).astype(dtype, copy=False)
    return y, mask


def dropout_backward(dy, mask, rate):
    op = "dropout_backward"
    rate = check_number(rate, op, "rate")
    dtype = compute_dtype(dy)
    dy = as_float(dy, dtype, op, "dy")
    rate = _rate(rate, op)
    m = as_array(mask, f"{op}: mask must be the uint8 (or bool) mask from dropout_forward")
    if not (m.dtype == np.bool_ or m.dtype == np.uint8):
        raise TypeError(f"{op}: mask must be the uint8 (or bool) mask from dropout_forward. Received: mask.dtype={m.dtype}")
    if m.shape != dy.shape:
        raise ValueError(f"{op}: mask must have dy's shape {dy.shape}. Received: mask.shape={m.shape}")
    scale = dtype(1.0 / (1.0 - rate))
    return np.where(m != 0, dy * scale, dtype(0)).astype(dtype, copy=False)
