"""Reference pooling, 1-D/2-D/3-D channels-last, and global pooling.

Each window offset is one strided slice of the padded input (see conv.py), visited in window order
(kd, kh, kw): max pooling keeps the FIRST maximum (a later equal value does not replace it) and
returns its flat spatial index (d·H + h)·W + w as int32; average pooling divides by the number of
REAL elements of each window, as Keras does on 'same' borders.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ._common import as_array, as_float, check_flag, compute_dtype, require_ndim
from .conv import _LAYOUTS, _is_int, _pad_and_slices, axis_geometry, parse_padding, positive_ints, require_nonempty


def _geometry(nd, x_shape, pool_size, strides, padding, op, strides_name="strides", padding_name="padding"):
    k = positive_ints(pool_size, nd, op, "pool_size")
    st = k if strides is None else positive_ints(strides, nd, op, strides_name)
    mode = parse_padding(padding, nd, op, causal_ok=False, arg=padding_name)
    geo = [axis_geometry(x_shape[1 + a], k[a], st[a], 1, mode) for a in range(nd)]
    out = tuple(g[0] for g in geo)
    pads = tuple(g[1] for g in geo)
    if any(o <= 0 for o in out):
        raise ValueError(f"{op}: Computed output size would be zero or negative. Received: input shape "
                         f"{tuple(x_shape)}, pool_size={k}, {strides_name}={st}, {padding_name}={padding!r}")
    return k, st, out, pads


def _input(nd, x, op):
    x = as_float(x, compute_dtype(x), op, "x")
    require_ndim(x, nd + 2, op, "x", _LAYOUTS[nd][0])
    require_nonempty(x.shape, op, "x", _LAYOUTS[nd][0])
    return x


def _shape_arg(x_shape, ndims, layout, op):
    """x_shape given to a backward op: ``ndims`` positive ints."""
    if not isinstance(x_shape, (list, tuple)) or not all(_is_int(d) for d in x_shape):
        raise TypeError(f"{op}: x_shape must be a tuple of ints {layout}. Received: x_shape={x_shape!r}")
    shape = tuple(operator.index(d) for d in x_shape)
    if any(abs(d) >= 2**63 for d in shape):
        raise ValueError(f"{op}: x_shape's sizes must be below 2**63. Received: x_shape={tuple(x_shape)!r}")
    if len(shape) not in ((ndims,) if isinstance(ndims, int) else ndims):
        want = f"{ndims}-D {layout}" if isinstance(ndims, int) else layout
        raise ValueError(f"{op}: x_shape must be {want}. Received: x_shape={shape}")
    if shape[0] < 1:
        raise ValueError(f"{op}: the batch is empty. Expected x_shape {layout} with N >= 1. Received: x_shape={shape}")
    if any(d < 1 for d in shape):
        raise ValueError(f"{op}: x_shape has a zero-size or negative dimension; expected {layout} with every size "
                         f">= 1. Received: x_shape={shape}")
    if math.prod(shape) > (2**63 - 1) // 4:  # as checked_numel in C++: the float32 dx's byte count must fit int64
        raise ValueError(f"{op}: dx of shape {shape} is too large: its size overflows a 64-bit byte count")
    return shape


def _flat_index(nd, in_shape, out, pads, st, tap):
    """(out...) array of the flat spatial input index each output's window offset ``tap`` reads."""
    coords = np.meshgrid(*(np.arange(o) * s - p + t for o, s, p, t in zip(out, st, pads, tap)), indexing="ij")
    flat = np.zeros(out, dtype=np.int64)
    valid = np.ones(out, dtype=bool)
    for a in range(nd):
        flat = flat * in_shape[a] + coords[a]
        valid &= (coords[a] >= 0) & (coords[a] < in_shape[a])
    return flat, valid


def _maxpool_forward(nd, op, x, pool_size, strides, padding):
    x = _input(nd, x, op)
    k, st, out, pads = _geometry(nd, x.shape, pool_size, strides, padding, op)
    xp, slices = _pad_and_slices(x, out, pads, k, st, (1,) * nd, pad_value=-np.inf)
    taps = np.ndindex(*k)
    y = argmax = None
    for sl, tap in zip(slices, taps):
        v = xp[sl]
        flat, valid = _flat_index(nd, x.shape[1:-1], out, pads, st, tap)
        idx = np.broadcast_to(flat[None, ..., None], v.shape)
        real = np.broadcast_to(valid[None, ..., None], v.shape)
        if y is None:
            y, argmax = v.copy(), np.where(real, idx, -1)
            continue
        # strict >: an equal later value never displaces the first maximum; padding never wins,
        # and the first REAL element replaces a padding start. NaN is the maximum (NumPy's max,
        # PyTorch's max_pool): the first NaN of a window wins and stays
        better = real & (((v > y) | np.isnan(v)) & ~np.isnan(y) | (argmax < 0))
        y = np.where(better, v, y)
        argmax = np.where(better, idx, argmax)
    return y.astype(x.dtype, copy=False), argmax.astype(np.int32)


def _maxpool_backward(nd, op, dy, argmax, x_shape):
    layout = _LAYOUTS[nd][0]
    shape = _shape_arg(x_shape, nd + 2, layout, op)
    dy = as_float(dy, compute_dtype(dy), op, "dy")
    require_ndim(dy, nd + 2, op, "dy", layout)
    if dy.shape[0] != shape[0] or dy.shape[-1] != shape[-1]:
        raise ValueError(f"{op}: dy must have x's batch size N={shape[0]} and channels C={shape[-1]}. "
                         f"Received: dy.shape={dy.shape}, x_shape={shape}")
    return _scatter_max(op, dy, argmax, shape, layout)


def _scatter_max(op, dy, argmax, shape, layout):
    a = as_array(argmax, f"{op}: argmax must be the integer array returned by the forward op")
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: argmax must be the integer array returned by the forward op. "
                        f"Received: argmax.dtype={a.dtype}")
    if a.shape != dy.shape:
        raise ValueError(f"{op}: argmax must be {layout} = {dy.shape} (the shape of dy). Received: argmax.shape={a.shape}")
    N, C = shape[0], shape[-1]
    S = int(np.prod(shape[1:-1]))
    if a.size and (a.min() < 0 or a.max() >= S):
        bad = int(np.flatnonzero((a.reshape(-1) < 0) | (a.reshape(-1) >= S))[0])
        raise ValueError(f"{op}: argmax holds a position outside the input (expected 0 <= argmax < {S}). "
                         f"Received: argmax.flat[{bad}]={int(a.reshape(-1)[bad])}")
    # dx[n, a, c] += dy[n, o, c] over all o: a histogram of the flat targets weighted by dy
    a = a.reshape(N, -1, C).astype(np.int64)
    flat = (np.arange(N)[:, None, None] * S + a) * C + np.arange(C)[None, None, :]
    dx = np.bincount(flat.ravel(), weights=dy.reshape(-1).astype(np.float64), minlength=N * S * C)
    return dx.astype(dy.dtype, copy=False).reshape(shape)


def _counts(nd, x_shape, k, st, out, pads):
    """(out...) number of real input elements in each window."""
    count = np.ones(out, dtype=np.int64)
    for a in range(nd):
        start = np.arange(out[a]) * st[a] - pads[a]
        n = np.minimum(start + k[a], x_shape[1 + a]) - np.maximum(start, 0)
        count = count * n.reshape([-1 if b == a else 1 for b in range(nd)])
    return count


def _avgpool_forward(nd, op, x, pool_size, strides, padding):
    x = _input(nd, x, op)
    k, st, out, pads = _geometry(nd, x.shape, pool_size, strides, padding, op)
    xp, slices = _pad_and_slices(x, out, pads, k, st, (1,) * nd)
    total = sum(xp[sl] for sl in slices)
    return (total / _counts(nd, x.shape, k, st, out, pads)[None, ..., None]).astype(x.dtype, copy=False)


def _avgpool_backward(nd, op, dy, x_shape, pool_size, strides, padding):
    lx, _, ly = _LAYOUTS[nd]
    shape = _shape_arg(x_shape, nd + 2, lx, op)
    k, st, out, pads = _geometry(nd, shape, pool_size, strides, padding, op)
    dy = as_float(dy, compute_dtype(dy), op, "dy")
    want = (shape[0], *out, shape[-1])
    if dy.shape != want:
        raise ValueError(f"{op}: dy must be {ly} = {want} to match x_shape, pool_size, strides and padding. "
                         f"Received: dy.shape={dy.shape}")
    g = dy / _counts(nd, shape, k, st, out, pads)[None, ..., None]
    xp, slices = _pad_and_slices(np.zeros(shape, dtype=dy.dtype), out, pads, k, st, (1,) * nd)
    for sl in slices:
        xp[sl] += g
    inner = tuple(slice(p, p + n) for p, n in zip(pads, shape[1:-1]))
    return xp[(slice(None), *inner, slice(None))].copy()


_GLOBAL_LAYOUT = "(N, L, C), (N, H, W, C) or (N, D, H, W, C)"


def _global_input(x, op):
    x = as_float(x, compute_dtype(x), op, "x")
    if not 3 <= x.ndim <= 5:
        raise ValueError(f"{op}: x must be {_GLOBAL_LAYOUT}. Received: x.shape={x.shape}")
    require_nonempty(x.shape, op, "x", "(N, spatial..., C)")
    return x


def _global_shape(x_shape, op):
    if isinstance(x_shape, (list, tuple)) and 3 <= len(x_shape) <= 5:
        return _shape_arg(x_shape, len(x_shape), "(N, spatial..., C)", op)
    raise ValueError(f"{op}: x_shape must be {_GLOBAL_LAYOUT}. Received: x_shape={x_shape!r}")


def _global_dy(dy, shape, op):
    dy = as_float(dy, compute_dtype(dy), op, "dy")
    if dy.shape != (shape[0], shape[-1]):
        raise ValueError(f"{op}: dy must be (N, C) = {(shape[0], shape[-1])} to match x_shape. "
                         f"Received: dy.shape={dy.shape}")
    return dy


# ---- Public ops -------------------------------------------------------------------------------


def maxpool1d_forward(x, *, pool_size, strides=None, padding="valid"):
    return _maxpool_forward(1, "maxpool1d_forward", x, pool_size, strides, padding)


def maxpool2d_forward(x, *, pool_size, strides=None, padding="valid"):
    return _maxpool_forward(2, "maxpool2d_forward", x, pool_size, strides, padding)


def maxpool3d_forward(x, *, pool_size, strides=None, padding="valid"):
    return _maxpool_forward(3, "maxpool3d_forward", x, pool_size, strides, padding)


def maxpool1d_backward(dy, argmax, x_shape):
    return _maxpool_backward(1, "maxpool1d_backward", dy, argmax, x_shape)


def maxpool2d_backward(dy, argmax, x_shape):
    return _maxpool_backward(2, "maxpool2d_backward", dy, argmax, x_shape)


def maxpool3d_backward(dy, argmax, x_shape):
    return _maxpool_backward(3, "maxpool3d_backward", dy, argmax, x_shape)


def avgpool1d_forward(x, *, pool_size, strides=None, padding="valid"):
    return _avgpool_forward(1, "avgpool1d_forward", x, pool_size, strides, padding)


def avgpool2d_forward(x, *, pool_size, strides=None, padding="valid"):
    return _avgpool_forward(2, "avgpool2d_forward", x, pool_size, strides, padding)


def avgpool3d_forward(x, *, pool_size, strides=None, padding="valid"):
    return _avgpool_forward(3, "avgpool3d_forward", x, pool_size, strides, padding)


def avgpool1d_backward(dy, x_shape, *, pool_size, strides=None, padding="valid"):
    return _avgpool_backward(1, "avgpool1d_backward", dy, x_shape, pool_size, strides, padding)


def avgpool2d_backward(dy, x_shape, *, pool_size, strides=None, padding="valid"):
    return _avgpool_backward(2, "avgpool2d_backward", dy, x_shape, pool_size, strides, padding)


def avgpool3d_backward(dy, x_shape, *, pool_size, strides=None, padding="valid"):
    return _avgpool_backward(3, "avgpool3d_backward", dy, x_shape, pool_size, strides, padding)


def global_avgpool_forward(x):
    x = _global_input(x, "global_avgpool_forward")
    rows = x.reshape(x.shape[0], -1, x.shape[-1])
    # (NumPy adds across positions one at a time: float32 maps of a million positions would drift
    # 1e-3; in float64 as the C++ kernel's large maps)
    return rows.mean(axis=1, dtype=np.float64).astype(x.dtype) if rows.shape[1] > 1024 else rows.mean(axis=1)


def global_avgpool_backward(dy, x_shape):
    op = "global_avgpool_backward"
    shape = _global_shape(x_shape, op)
    dy = _global_dy(dy, shape, op)
    S = int(np.prod(shape[1:-1]))
    return np.broadcast_to((dy / S)[:, None, :], (shape[0], S, shape[-1])).reshape(shape).copy()


def global_maxpool_forward(x):
    x = _global_input(x, "global_maxpool_forward")
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    argmax = np.argmax(flat, axis=1)  # NumPy's argmax returns the first maximum
    return np.take_along_axis(flat, argmax[:, None, :], axis=1)[:, 0, :], argmax.astype(np.int32)


def global_maxpool_backward(dy, argmax, x_shape):
    op = "global_maxpool_backward"
    shape = _global_shape(x_shape, op)
    dy = _global_dy(dy, shape, op)
    a = as_array(argmax, f"{op}: argmax must be the integer array returned by the forward op")
    if a.dtype.kind in "iu" and a.shape != dy.shape:
        raise ValueError(f"{op}: argmax must be (N, C) = {dy.shape} (the shape of dy). Received: argmax.shape={a.shape}")
    a = a[:, None, :] if a.ndim == 2 else a
    return _scatter_max(op, dy[:, None, :], a, (shape[0], int(np.prod(shape[1:-1])), shape[-1]),
                        "(N, C)").reshape(shape)


# ---- Convolution + activation + max pooling (the fused op's twin: the plain composition) -------


def _conv_maxpool_check(nd, op, activation, x, w, strides, padding, dilation_rate, pool_size, pool_strides,
                        pool_padding):
    from .conv import _Conv

    if activation == "softmax":
        raise ValueError(f"{op}: the fused convolution + max pooling needs an elementwise activation. "
                         f"Received: activation='softmax' (use conv*_forward and maxpool*_forward instead)")
    cv = _Conv(nd, x, w, strides, padding, dilation_rate, compute_dtype(x, w), op)
    _geometry(nd, cv.y_shape, pool_size, pool_strides, pool_padding, op, "pool_strides", "pool_padding")
    return cv


def _conv_maxpool_forward(nd, op, x, w, b, strides, padding, dilation_rate, activation, alpha, pool_size,
                          pool_strides, pool_padding):
    from . import conv

    _conv_maxpool_check(nd, op, activation, x, w, strides, padding, dilation_rate, pool_size, pool_strides,
                        pool_padding)
    y = getattr(conv, f"conv{nd}d_forward")(x, w, b, strides=strides, padding=padding, dilation_rate=dilation_rate,
                                            activation=activation, alpha=alpha)
    return _maxpool_forward(nd, op, y, pool_size, pool_strides, pool_padding)


def _conv_maxpool_backward(nd, op, dy, argmax, y, x, w, strides, padding, dilation_rate, activation, alpha,
                           pool_size, pool_strides, pool_padding, use_bias, need_dx, need_dw):
    from . import conv

    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    cv = _conv_maxpool_check(nd, op, activation, x, w, strides, padding, dilation_rate, pool_size, pool_strides,
                             pool_padding)
    k, st, out, pads = _geometry(nd, cv.y_shape, pool_size, pool_strides, pool_padding, op, "pool_strides",
                                 "pool_padding")
    want = (cv.y_shape[0], *out, cv.y_shape[-1])
    dtype = compute_dtype(dy, x, w, y)
    dy = as_float(dy, dtype, op, "dy")
    y = as_float(y, dtype, op, "y")
    for arr, name in ((dy, "dy"), (y, "y")):
        if arr.shape != want:
            raise ValueError(f"{op}: {name} must be {_LAYOUTS[nd][2]} = {want} (the pooled output's shape). "
                             f"Received: {name}.shape={arr.shape}")
    # the max-pool scatter of dy is the gradient of the convolution's output; the convolution's own
    # backward then needs that output only where the gradient lands, at the argmax positions, which
    # hold the pooled values (elsewhere dz is zero, so any value will do)
    kw = dict(strides=strides, padding=padding, dilation_rate=dilation_rate)
    dz = _scatter_max(op, dy, argmax, cv.y_shape, _LAYOUTS[nd][2])
    _require_in_windows(op, np.asarray(argmax), cv.y_shape[1:-1], k, st, pads)
    return getattr(conv, f"conv{nd}d_backward")(dz, x, w, _unpool(y, argmax, cv.y_shape), **kw,
                                                activation=activation, alpha=alpha, use_bias=use_bias,
                                                need_dx=need_dx, need_dw=need_dw)


def _require_in_windows(op, argmax, in_spatial, k, st, pads):
    """Each argmax (N, *out, C) a position of its own output's pooling window, as the C++ backend's
    fused backward requires (it routes each gradient within the window)."""
    nd = len(in_spatial)
    coords = np.unravel_index(argmax.astype(np.int64), in_spatial)  # one (N, *out, C) array per axis
    outside = np.zeros(argmax.shape, dtype=bool)
    for a in range(nd):
        o = np.arange(argmax.shape[1 + a]).reshape((1,) * (1 + a) + (-1,) + (1,) * (nd - a))
        start = o * st[a] - pads[a]
        lo, hi = np.maximum(start, 0), np.minimum(start + k[a], in_spatial[a])
        outside |= (coords[a] < lo) | (coords[a] >= hi)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{op}: argmax.flat[{i}]={int(argmax.reshape(-1)[i])} is not a position in its output's "
                         "pooling window; pass the argmax the forward op returned for these x, w and pool arguments")


def _unpool(y_pool, argmax, shape):
    """An array of the convolution output's shape holding each pooled value at its argmax, zeros elsewhere."""
    full = np.zeros(shape, dtype=y_pool.dtype)
    N, C = shape[0], shape[-1]
    a = np.asarray(argmax).reshape(N, -1, C).astype(np.int64)
    flat = full.reshape(N, -1, C)
    n_idx = np.broadcast_to(np.arange(N)[:, None, None], a.shape)
    c_idx = np.broadcast_to(np.arange(C)[None, None, :], a.shape)
    flat[n_idx, a, c_idx] = y_pool.reshape(N, -1, C)
    return full


def conv1d_maxpool_forward(x, w, b=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                           alpha=None, pool_size, pool_strides=None, pool_padding="valid"):
    return _conv_maxpool_forward(1, "conv1d_maxpool_forward", x, w, b, strides, padding, dilation_rate, activation,
                                 alpha, pool_size, pool_strides, pool_padding)


def conv2d_maxpool_forward(x, w, b=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                           activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid"):
    return _conv_maxpool_forward(2, "conv2d_maxpool_forward", x, w, b, strides, padding, dilation_rate, activation,
                                 alpha, pool_size, pool_strides, pool_padding)


def conv3d_maxpool_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                           activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid"):
    return _conv_maxpool_forward(3, "conv3d_maxpool_forward", x, w, b, strides, padding, dilation_rate, activation,
                                 alpha, pool_size, pool_strides, pool_padding)


def conv1d_maxpool_backward(dy, argmax, y, x, w, *, strides=1, padding="valid", dilation_rate=1,
                            activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid",
                            use_bias=True, need_dx=True, need_dw=True):
    return _conv_maxpool_backward(1, "conv1d_maxpool_backward", dy, argmax, y, x, w, strides, padding,
                                  dilation_rate, activation, alpha, pool_size, pool_strides, pool_padding, use_bias,
                                  need_dx, need_dw)


def conv2d_maxpool_backward(dy, argmax, y, x, w, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                            activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid",
                            use_bias=True, need_dx=True, need_dw=True):
    return _conv_maxpool_backward(2, "conv2d_maxpool_backward", dy, argmax, y, x, w, strides, padding,
                                  dilation_rate, activation, alpha, pool_size, pool_strides, pool_padding, use_bias,
                                  need_dx, need_dw)


def conv3d_maxpool_backward(dy, argmax, y, x, w, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                            activation="linear", alpha=None, pool_size, pool_strides=None, pool_padding="valid",
                            use_bias=True, need_dx=True, need_dw=True):
    return _conv_maxpool_backward(3, "conv3d_maxpool_backward", dy, argmax, y, x, w, strides, padding,
                                  dilation_rate, activation, alpha, pool_size, pool_strides, pool_padding, use_bias,
                                  need_dx, need_dw)
