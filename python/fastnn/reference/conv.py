"""Reference convolution, 1-D/2-D/3-D channels-last, by im2col: y = act(col @ w + b).

``col`` (M, K) holds, for each of the M = N·OD·OH·OW output pixels, its receptive field tap by
tap (C values per tap, zeros in the padding). Each tap is one strided slice of the zero-padded
input, so the whole reference is a handful of NumPy slices and one matrix product. The geometry
(Keras's output sizes, 'same' padding with the extra pixel after, 'causal' for 1-D) is shared
with the pooling reference.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np

from ._common import as_float, check_activation, check_flag, check_name, compute_dtype, require_ndim
from .activations import _backward, _forward

_LAYOUTS = {
    1: ("(N, L, C)", "(K, C, OC)", "(N, OL, OC)"),
    2: ("(N, H, W, C)", "(KH, KW, C, OC)", "(N, OH, OW, OC)"),
    3: ("(N, D, H, W, C)", "(KD, KH, KW, C, OC)", "(N, OD, OH, OW, OC)"),
}


def _is_int(v):
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


def positive_ints(value, nd, op, arg):
    """An int or a sequence of ``nd`` ints, each >= 1, as a tuple (Keras accepts both)."""
    expected = f"{op}: {arg} must be an int or a tuple of {nd} ints. Received: {arg}={value!r}"
    if _is_int(value) and np.ndim(value) == 0:
        out = (operator.index(value),) * nd
    elif isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0):
        if len(value) != nd:
            raise ValueError(expected)
        if not all(_is_int(v) for v in value):
            raise TypeError(expected)
        out = tuple(operator.index(v) for v in value)
    else:
        raise TypeError(expected)
    if any(v < 1 or v >= 2**31 for v in out):  # the C++ bound: geometry products stay in int64
        raise ValueError(f"{op}: {arg} must be positive and below 2**31. Received: {arg}={value!r}")
    return out


def parse_padding(padding, nd, op, causal_ok, arg="padding"):
    p = check_name(padding, op, arg).lower()
    if p in ("valid", "same") or (p == "causal" and causal_ok and nd == 1):
        return p
    allowed = "'valid', 'same' or 'causal'" if causal_ok and nd == 1 else "'valid' or 'same'"
    raise ValueError(f"{op}: {arg} must be {allowed}. Received: {arg}={padding!r}")


def axis_geometry(size, k, stride, dilation, padding):
    """Keras's output size along one axis and the padding before it (out <= 0: no output)."""
    ke = dilation * (k - 1) + 1
    if padding == "valid":
        return ((size - ke) // stride + 1 if size >= ke else 0), 0
    if padding == "same":
        out = -(-size // stride)
        return out, max((out - 1) * stride + ke - size, 0) // 2
    return (size - 1) // stride + 1, ke - 1  # causal


def require_nonempty(shape, op, arg, layout):
    if shape[0] == 0:
        raise ValueError(f"{op}: the batch is empty. Expected {arg} of shape {layout} with N >= 1. "
                         f"Received: {arg}.shape={tuple(shape)}")
    if any(d == 0 for d in shape[1:]):
        raise ValueError(f"{op}: {arg} has a zero-size dimension; expected {layout} with every size >= 1. "
                         f"Received: {arg}.shape={tuple(shape)}")


def _pad_and_slices(x, out, pads, k, strides, dilation, pad_value=0.0):
    """x (N, *in, C) padded so every window fits, and for each tap (in order) its slice tuple."""
    nd = len(out)
    widths = [(0, 0)]
    for a in range(nd):
        ke = dilation[a] * (k[a] - 1) + 1
        need = (out[a] - 1) * strides[a] + ke  # padded extent the windows reach
        widths.append((pads[a], max(need - pads[a] - x.shape[1 + a], 0)))
    widths.append((0, 0))
    xp = np.pad(x, widths, constant_values=pad_value)
    slices = []
    for tap in itertools.product(*(range(kk) for kk in k)):
        sl = [slice(None)]
        for a in range(nd):
            start = tap[a] * dilation[a]
            sl.append(slice(start, start + (out[a] - 1) * strides[a] + 1, strides[a]))
        sl.append(slice(None))
        slices.append(tuple(sl))
    return xp, slices


class _Conv:
    """The checked arguments and geometry of one convolution call."""

    def __init__(self, nd, x, w, strides, padding, dilation_rate, dtype, op):
        lx, lw, ly = _LAYOUTS[nd]
        self.layout_y = ly
        x = as_float(x, dtype, op, "x")
        w = as_float(w, dtype, op, "w")
        require_ndim(x, nd + 2, op, "x", lx)
        require_ndim(w, nd + 2, op, "w", lw)
        require_nonempty(x.shape, op, "x", lx)
        strides = positive_ints(strides, nd, op, "strides")
        dilation = positive_ints(dilation_rate, nd, op, "dilation_rate")
        pad_mode = parse_padding(padding, nd, op, causal_ok=True)
        C = x.shape[-1]
        if any(d < 1 for d in w.shape[:nd]):
            raise ValueError(f"{op}: kernel sizes must be positive; w must be {lw}. Received: w.shape={w.shape}")
        if w.shape[nd] != C:
            raise ValueError(f"{op}: w must be {lw} with C={C}. Received: w.shape={w.shape}")
        if w.shape[nd + 1] < 1:
            raise ValueError(f"{op}: the number of filters OC must be positive; w must be {lw}. "
                             f"Received: w.shape={w.shape}")
        if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
            raise ValueError(f"{op}: strides > 1 are not supported together with dilation_rate > 1. "
                             f"Received: strides={strides}, dilation_rate={dilation}")
        geo = [axis_geometry(x.shape[1 + a], w.shape[a], strides[a], dilation[a], pad_mode) for a in range(nd)]
        self.out = tuple(g[0] for g in geo)
        self.pads = tuple(g[1] for g in geo)
        if any(o <= 0 for o in self.out):
            raise ValueError(f"{op}: Computed output size would be zero or negative. Received: x.shape={x.shape}, "
                             f"w.shape={w.shape}, strides={strides}, padding={padding!r}, "
                             f"dilation_rate={dilation}")
        self.x, self.w, self.nd = x, w, nd
        self.strides, self.dilation = strides, dilation
        self.y_shape = (x.shape[0], *self.out, w.shape[-1])

    def col(self):
        """im2col: (M, K) with K ordered (taps..., C) like the kernel's rows."""
        xp, slices = _pad_and_slices(self.x, self.out, self.pads, self.w.shape[:self.nd], self.strides,
                                     self.dilation)
        cols = np.stack([xp[sl] for sl in slices], axis=-2)  # (N, *out, taps, C)
        return cols.reshape(-1, cols.shape[-2] * cols.shape[-1])

    def col2im(self, dcol):
        """The adjoint of col(): scatter-add dcol (M, K) back into an array of x's shape."""
        nd = self.nd
        xp, slices = _pad_and_slices(np.zeros_like(self.x), self.out, self.pads, self.w.shape[:nd], self.strides,
                                     self.dilation)
        C = self.x.shape[-1]
        d = dcol.reshape(*self.y_shape[:-1], len(slices), C)
        for t, sl in enumerate(slices):
            xp[sl] += d[..., t, :]  # one tap's positions are distinct: no overlap within a slice
        inner = tuple(slice(p, p + n) for p, n in zip(self.pads, self.x.shape[1:-1]))
        return xp[(slice(None), *inner, slice(None))]


def _forward_nd(nd, op, x, w, b, strides, padding, dilation_rate, activation, alpha):
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(x, w, b)
    cv = _Conv(nd, x, w, strides, padding, dilation_rate, dtype, op)
    OC = cv.w.shape[-1]
    z = cv.col() @ cv.w.reshape(-1, OC)
    if b is not None:
        b = as_float(b, dtype, op, "b")
        if b.shape != (OC,):
            raise ValueError(f"{op}: b must be (OC,) with OC={OC}. Received: b.shape={b.shape}")
        z = z + b
    return _forward(z, activation, a).astype(dtype, copy=False).reshape(cv.y_shape)


def _backward_nd(nd, op, dy, x, w, y, strides, padding, dilation_rate, activation, alpha, use_bias, need_dx):
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(dy, x, w, y)
    cv = _Conv(nd, x, w, strides, padding, dilation_rate, dtype, op)
    dy = as_float(dy, dtype, op, "dy")
    if y is None:
        if activation != "linear":
            raise ValueError(f"{op}: y (the forward output) is needed for activation={activation!r}. Received: y=None")
        y = dy
    else:
        y = as_float(y, dtype, op, "y")
    for arr, name in ((dy, "dy"), (y, "y")):
        if arr.shape != cv.y_shape:
            raise ValueError(f"{op}: {name} must be {cv.layout_y} = {cv.y_shape} to match x, w, strides, padding "
                             f"and dilation_rate. Received: {name}.shape={arr.shape}")
    OC = cv.w.shape[-1]
    dz = _backward(dy, y, activation, a).reshape(-1, OC)
    dw = (cv.col().T @ dz).reshape(cv.w.shape)
    db = dz.sum(axis=0) if use_bias else None
    dx = cv.col2im(dz @ cv.w.reshape(-1, OC).T) if need_dx else None
    return dx, dw, db


def conv1d_forward(x, w, b=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear", alpha=None):
    return _forward_nd(1, "conv1d_forward", x, w, b, strides, padding, dilation_rate, activation, alpha)


def conv2d_forward(x, w, b=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1), activation="linear",
                   alpha=None):
    return _forward_nd(2, "conv2d_forward", x, w, b, strides, padding, dilation_rate, activation, alpha)


def conv3d_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                   activation="linear", alpha=None):
    return _forward_nd(3, "conv3d_forward", x, w, b, strides, padding, dilation_rate, activation, alpha)


def conv1d_backward(dy, x, w, y=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                    alpha=None, use_bias=True, need_dx=True):
    return _backward_nd(1, "conv1d_backward", dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                        use_bias, need_dx)


def conv2d_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                    activation="linear", alpha=None, use_bias=True, need_dx=True):
    return _backward_nd(2, "conv2d_backward", dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                        use_bias, need_dx)


def conv3d_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                    activation="linear", alpha=None, use_bias=True, need_dx=True):
    return _backward_nd(3, "conv3d_backward", dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                        use_bias, need_dx)
