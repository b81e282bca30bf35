"""Reference convolution, 1-D/2-D/3-D channels-last, by im2col: y = act(col @ w + b).

``col`` (M, K) holds, for each of the M = N·OD·OH·OW output pixels, its receptive field tap by
tap (C values per tap, zeros in the padding). Each tap is one strided slice of the zero-padded
input, so the whole reference is a handful of NumPy slices and one matrix product. The geometry
(Keras's output sizes, 'same' padding with the extra pixel after, 'causal' for 1-D) is shared
with the pooling reference.

The transposed convolution (Keras's Conv*DTranspose, the adjoint of a strided convolution) is at the
end, computed directly by scatter-adding each tap's product into a strided slice of the output.
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
_DW_LAYOUTS = {  # depthwise: w is (*kernel_size, C, M), y has C·M channels
    1: ("(N, L, C)", "(K, C, M)", "(N, OL, C*M)"),
    2: ("(N, H, W, C)", "(KH, KW, C, M)", "(N, OH, OW, C*M)"),
    3: ("(N, D, H, W, C)", "(KD, KH, KW, C, M)", "(N, OD, OH, OW, C*M)"),
}
_T_LAYOUTS = {  # transposed: w is (*kernel_size, OC, C)
    1: ("(N, L, C)", "(K, OC, C)", "(N, OL, OC)"),
    2: ("(N, H, W, C)", "(KH, KW, OC, C)", "(N, OH, OW, OC)"),
    3: ("(N, D, H, W, C)", "(KD, KH, KW, OC, C)", "(N, OD, OH, OW, OC)"),
}


def _is_int(v):
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


def geometry_ints(value, nd, op, arg, least=1):
    """An int or a sequence of ``nd`` ints, each >= ``least``, as a tuple (Keras accepts both)."""
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
    if any(v < least or v >= 2**31 for v in out):  # the C++ bound: geometry products stay in int64
        kind = "positive" if least > 0 else "non-negative"
        raise ValueError(f"{op}: {arg} must be {kind} and below 2**31. Received: {arg}={value!r}")
    return out


def positive_ints(value, nd, op, arg):
    return geometry_ints(value, nd, op, arg, least=1)


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
    """The checked arguments and geometry of one convolution call (or, with ``transpose``, of one
    transposed convolution: w (*k, OC, C), Keras's output sizes and ``output_padding``; or, with
    ``depthwise``, of one depthwise convolution: w (*k, C, M), C·M output channels)."""

    def __init__(self, nd, x, w, strides, padding, dilation_rate, dtype, op, transpose=False, output_padding=None,
                 depthwise=False):
        lx, lw, ly = (_T_LAYOUTS if transpose else _DW_LAYOUTS if depthwise else _LAYOUTS)[nd]
        self.layout_y = ly
        x = as_float(x, dtype, op, "x")
        w = as_float(w, dtype, op, "w")
        require_ndim(x, nd + 2, op, "x", lx)
        require_ndim(w, nd + 2, op, "w", lw)
        require_nonempty(x.shape, op, "x", lx)
        strides = positive_ints(strides, nd, op, "strides")
        dilation = positive_ints(dilation_rate, nd, op, "dilation_rate")
        pad_mode = parse_padding(padding, nd, op, causal_ok=not transpose)
        out_pad = output_paddings(output_padding, nd, strides, op) if transpose else None
        C = x.shape[-1]
        c_axis, oc_axis = (nd + 1, nd) if transpose else (nd, nd + 1)  # w's channel axes
        if any(d < 1 for d in w.shape[:nd]):
            raise ValueError(f"{op}: kernel sizes must be positive; w must be {lw}. Received: w.shape={w.shape}")
        if w.shape[c_axis] != C:
            raise ValueError(f"{op}: w must be {lw} with C={C}. Received: w.shape={w.shape}")
        if w.shape[oc_axis] < 1:
            what = "the depth multiplier M" if depthwise else "the number of filters OC"
            raise ValueError(f"{op}: {what} must be positive; w must be {lw}. Received: w.shape={w.shape}")
        if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
            raise ValueError(f"{op}: strides > 1 are not supported together with dilation_rate > 1. "
                             f"Received: strides={strides}, dilation_rate={dilation}")
        if transpose:
            geo = [transpose_axis_geometry(x.shape[1 + a], w.shape[a], strides[a], dilation[a], pad_mode,
                                           None if out_pad is None else out_pad[a]) for a in range(nd)]
        else:
            geo = [axis_geometry(x.shape[1 + a], w.shape[a], strides[a], dilation[a], pad_mode) for a in range(nd)]
        self.out = tuple(g[0] for g in geo)
        self.pads = tuple(g[1] for g in geo)
        if any(o <= 0 for o in self.out):
            extra = f"output_padding={output_padding!r}, " if transpose else ""
            raise ValueError(f"{op}: Computed output size would be zero or negative. Received: x.shape={x.shape}, "
                             f"w.shape={w.shape}, strides={strides}, padding={padding!r}, {extra}"
                             f"dilation_rate={dilation}")
        self.x, self.w, self.nd = x, w, nd
        self.strides, self.dilation = strides, dilation
        self.y_shape = (x.shape[0], *self.out, C * w.shape[oc_axis] if depthwise else w.shape[oc_axis])
        self.geometry_args = ("x, w, strides, padding, output_padding and dilation_rate" if transpose
                              else "x, w, strides, padding and dilation_rate")

    def output_grad(self, dy, y, activation, alpha, op):
        """dz = dy ⊙ act'(y) (N, *out, OC), after checking dy and y (None for linear) against the output."""
        dy = as_float(dy, self.x.dtype, op, "dy")
        if y is None:
            if activation != "linear":
                raise ValueError(f"{op}: y (the forward output) is needed for activation={activation!r}. "
                                 f"Received: y=None")
            y = dy
        else:
            y = as_float(y, self.x.dtype, op, "y")
        for arr, name in ((dy, "dy"), (y, "y")):
            if arr.shape != self.y_shape:
                raise ValueError(f"{op}: {name} must be {self.layout_y} = {self.y_shape} to match "
                                 f"{self.geometry_args}. Received: {name}.shape={arr.shape}")
        return _backward(dy, y, activation, alpha).astype(self.x.dtype, copy=False)

    def col(self):
        """im2col: (M, K) with K ordered (taps..., C) like the kernel's rows."""
        cols = self.taps()
        return cols.reshape(-1, cols.shape[-2] * cols.shape[-1])

    def taps(self):
        """The receptive fields (N, *out, taps, C)."""
        xp, slices = _pad_and_slices(self.x, self.out, self.pads, self.w.shape[:self.nd], self.strides,
                                     self.dilation)
        return np.stack([xp[sl] for sl in slices], axis=-2)

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


def _backward_nd(nd, op, dy, x, w, y, strides, padding, dilation_rate, activation, alpha, use_bias, need_dx,
                 need_dw=True):
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(dy, x, w, y)
    cv = _Conv(nd, x, w, strides, padding, dilation_rate, dtype, op)
    OC = cv.w.shape[-1]
    dz = cv.output_grad(dy, y, activation, a, op).reshape(-1, OC)
    dw = (cv.col().T @ dz).reshape(cv.w.shape) if need_dw else None
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
                    alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _backward_nd(1, "conv1d_backward", dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                        use_bias, need_dx, need_dw)


def conv2d_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                    activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _backward_nd(2, "conv2d_backward", dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                        use_bias, need_dx, need_dw)


def conv3d_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                    activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _backward_nd(3, "conv3d_backward", dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                        use_bias, need_dx, need_dw)


# ---- Transposed convolution (Keras's Conv1DTranspose / Conv2DTranspose / Conv3DTranspose) ------
#
# The adjoint of a strided convolution, computed directly rather than through the conv reference
# above (so the two check each other, see tests/test_conv_transpose_reference.py): input pixel i
# and kernel tap t add x[n, i, :] @ w[t].T into output pixel i*stride - pad_before + t*dilation;
# whatever lands outside [0, out) is dropped. One tap's contributions form one strided slice of a
# zero-initialised buffer, so the forward is a loop of (N, *in, C) @ (C, OC) products added into
# slices, then a crop; the backward reads the same slices.



def output_paddings(value, nd, strides, op, arg="output_padding"):
    """None, or an int or a sequence of ``nd`` ints, each in [0, stride) along its axis, as a tuple."""
    if value is None:
        return None
    out = geometry_ints(value, nd, op, arg, least=0)
    if any(v >= s for v, s in zip(out, strides)):
        raise ValueError(f"{op}: {arg} must be lower than the stride along each axis. "
                         f"Received: {arg}={value!r}, strides={strides}")
    return out


def transpose_axis_geometry(size, k, stride, dilation, padding, output_padding):
    """Keras's transposed-conv output size along one axis (deconv_output_length; <= 0: no output) and
    pad_before, how far output pixel 0 lies after input pixel 0's first tap (Keras 3's JAX padding
    rule, which is TensorFlow's conv2d_transpose 'SAME' wherever TF accepts the shapes)."""
    ke = dilation * (k - 1) + 1
    if output_padding is None:
        out = size * stride + (max(ke - stride, 0) if padding == "valid" else 0)
    else:
        pad = ke // 2 if padding == "same" else 0
        out = (size - 1) * stride + ke - 2 * pad + output_padding
    if padding == "valid":
        return out, 0
    pad_len = stride + ke - 2 if output_padding is None else ke + ke % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, ke - 1)  # JAX's padding before the stride-dilated input
    return out, ke - 1 - left


class _ConvTranspose(_Conv):
    """The checked arguments and geometry of one transposed-convolution call, and its buffer: every
    contribution lands in it before the crop to the output."""

    def __init__(self, nd, x, w, strides, padding, output_padding, dilation_rate, dtype, op):
        super().__init__(nd, x, w, strides, padding, dilation_rate, dtype, op, transpose=True,
                         output_padding=output_padding)
        x, w, strides, dilation = self.x, self.w, self.strides, self.dilation
        # the buffer holds every contribution ((in-1)*stride + ke along an axis) and the cropped output
        self.buf_shape = (x.shape[0], *(max((x.shape[1 + a] - 1) * strides[a] + dilation[a] * (w.shape[a] - 1) + 1,
                                            self.pads[a] + self.out[a]) for a in range(nd)), w.shape[nd])
        self.crop = (slice(None), *(slice(p, p + o) for p, o in zip(self.pads, self.out)), slice(None))

    def taps(self):
        """For each tap (in w's order): its index into w and the buffer slice its (N, *in, OC) lands in."""
        nd = self.nd
        for tap in itertools.product(*(range(k) for k in self.w.shape[:nd])):
            sl = [slice(None)]
            for a in range(nd):
                start = tap[a] * self.dilation[a]
                sl.append(slice(start, start + (self.x.shape[1 + a] - 1) * self.strides[a] + 1, self.strides[a]))
            sl.append(slice(None))
            yield tap, tuple(sl)


def _transpose_forward_nd(nd, op, x, w, b, strides, padding, output_padding, dilation_rate, activation, alpha):
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(x, w, b)
    ct = _ConvTranspose(nd, x, w, strides, padding, output_padding, dilation_rate, dtype, op)
    OC = ct.y_shape[-1]
    if b is not None:
        b = as_float(b, dtype, op, "b")
        if b.shape != (OC,):
            raise ValueError(f"{op}: b must be (OC,) with OC={OC}. Received: b.shape={b.shape}")
    buf = np.zeros(ct.buf_shape, dtype)
    for tap, sl in ct.taps():
        buf[sl] += ct.x @ ct.w[tap].T  # one tap's output pixels are distinct: no overlap within a slice
    z = buf[ct.crop]
    if b is not None:
        z = z + b
    return _forward(z, activation, a).astype(dtype, copy=False)


def _transpose_backward_nd(nd, op, dy, x, w, y, strides, padding, output_padding, dilation_rate, activation, alpha,
                           use_bias, need_dx, need_dw=True):
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(dy, x, w, y)
    ct = _ConvTranspose(nd, x, w, strides, padding, output_padding, dilation_rate, dtype, op)
    OC, C = ct.y_shape[-1], ct.x.shape[-1]
    dz = ct.output_grad(dy, y, activation, a, op)
    db = dz.reshape(-1, OC).sum(axis=0) if use_bias else None
    buf = np.zeros(ct.buf_shape, dtype)
    buf[ct.crop] = dz  # the dropped contributions get no gradient: zeros around the crop
    x2 = ct.x.reshape(-1, C)
    dx = np.zeros_like(ct.x) if need_dx else None
    dw = np.empty_like(ct.w) if need_dw else None
    for tap, sl in ct.taps():
        dz_t = buf[sl]  # (N, *in, OC)
        if need_dx:
            dx += dz_t @ ct.w[tap]
        if need_dw:
            dw[tap] = dz_t.reshape(-1, OC).T @ x2
    return dx, dw, db


def conv1d_transpose_forward(x, w, b=None, *, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                             activation="linear", alpha=None):
    return _transpose_forward_nd(1, "conv1d_transpose_forward", x, w, b, strides, padding, output_padding,
                                 dilation_rate, activation, alpha)


def conv2d_transpose_forward(x, w, b=None, *, strides=(1, 1), padding="valid", output_padding=None,
                             dilation_rate=(1, 1), activation="linear", alpha=None):
    return _transpose_forward_nd(2, "conv2d_transpose_forward", x, w, b, strides, padding, output_padding,
                                 dilation_rate, activation, alpha)


def conv3d_transpose_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", output_padding=None,
                             dilation_rate=(1, 1, 1), activation="linear", alpha=None):
    return _transpose_forward_nd(3, "conv3d_transpose_forward", x, w, b, strides, padding, output_padding,
                                 dilation_rate, activation, alpha)


def conv1d_transpose_backward(dy, x, w, y=None, *, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                              activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _transpose_backward_nd(1, "conv1d_transpose_backward", dy, x, w, y, strides, padding, output_padding,
                                  dilation_rate, activation, alpha, use_bias, need_dx, need_dw)


def conv2d_transpose_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", output_padding=None,
                              dilation_rate=(1, 1), activation="linear", alpha=None, use_bias=True, need_dx=True,
                              need_dw=True):
    return _transpose_backward_nd(2, "conv2d_transpose_backward", dy, x, w, y, strides, padding, output_padding,
                                  dilation_rate, activation, alpha, use_bias, need_dx, need_dw)


def conv3d_transpose_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", output_padding=None,
                              dilation_rate=(1, 1, 1), activation="linear", alpha=None, use_bias=True,
                              need_dx=True, need_dw=True):
    return _transpose_backward_nd(3, "conv3d_transpose_backward", dy, x, w, y, strides, padding, output_padding,
                                  dilation_rate, activation, alpha, use_bias, need_dx, need_dw)


# ---- Depthwise convolution (Keras's DepthwiseConv*D; the first half of SeparableConv*D) ----------
#
# w (*kernel_size, C, M): channel c is convolved on its own with M filters, and y's channel c·M + m
# is its m-th: y[..., c·M + m] = Σ_t taps[..., t, c] · w[t, c, m].


def _depthwise_forward_nd(nd, op, x, w, b, strides, padding, dilation_rate, activation, alpha):
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(x, w, b)
    cv = _Conv(nd, x, w, strides, padding, dilation_rate, dtype, op, depthwise=True)
    C, M = cv.w.shape[-2:]
    z = np.einsum("...tc,tcm->...cm", cv.taps(), cv.w.reshape(-1, C, M)).reshape(cv.y_shape)
    if b is not None:
        b = as_float(b, dtype, op, "b")
        if b.shape != (C * M,):
            raise ValueError(f"{op}: b must be (C*M,) with C*M={C * M}. Received: b.shape={b.shape}")
        z = z + b
    return _forward(z, activation, a).astype(dtype, copy=False)


def _depthwise_backward_nd(nd, op, dy, x, w, y, strides, padding, dilation_rate, activation, alpha, use_bias,
                           need_dx, need_dw):
    use_bias = check_flag(use_bias, op, "use_bias")
    need_dx = check_flag(need_dx, op, "need_dx")
    need_dw = check_flag(need_dw, op, "need_dw")
    a = check_activation(activation, alpha, op)
    dtype = compute_dtype(dy, x, w, y)
    cv = _Conv(nd, x, w, strides, padding, dilation_rate, dtype, op, depthwise=True)
    C, M = cv.w.shape[-2:]
    dz = cv.output_grad(dy, y, activation, a, op).reshape(-1, C, M)  # (pixels, C, M)
    w3 = cv.w.reshape(-1, C, M)
    dw = None
    if need_dw:
        taps = cv.taps().reshape(dz.shape[0], -1, C)
        dw = np.einsum("ptc,pcm->tcm", taps, dz).reshape(cv.w.shape)
    db = dz.reshape(-1, C * M).sum(axis=0) if use_bias else None
    dx = cv.col2im(np.einsum("pcm,tcm->ptc", dz, w3).reshape(dz.shape[0], -1)) if need_dx else None
    return dx, dw, db


def depthwise_conv1d_forward(x, w, b=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                             alpha=None):
    return _depthwise_forward_nd(1, "depthwise_conv1d_forward", x, w, b, strides, padding, dilation_rate,
                                 activation, alpha)


def depthwise_conv2d_forward(x, w, b=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                             activation="linear", alpha=None):
    return _depthwise_forward_nd(2, "depthwise_conv2d_forward", x, w, b, strides, padding, dilation_rate,
                                 activation, alpha)


def depthwise_conv3d_forward(x, w, b=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                             activation="linear", alpha=None):
    return _depthwise_forward_nd(3, "depthwise_conv3d_forward", x, w, b, strides, padding, dilation_rate,
                                 activation, alpha)


def depthwise_conv1d_backward(dy, x, w, y=None, *, strides=1, padding="valid", dilation_rate=1, activation="linear",
                              alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _depthwise_backward_nd(1, "depthwise_conv1d_backward", dy, x, w, y, strides, padding, dilation_rate,
                                  activation, alpha, use_bias, need_dx, need_dw)


def depthwise_conv2d_backward(dy, x, w, y=None, *, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                              activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _depthwise_backward_nd(2, "depthwise_conv2d_backward", dy, x, w, y, strides, padding, dilation_rate,
                                  activation, alpha, use_bias, need_dx, need_dw)


def depthwise_conv3d_backward(dy, x, w, y=None, *, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                              activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True):
    return _depthwise_backward_nd(3, "depthwise_conv3d_backward", dy, x, w, y, strides, padding, dilation_rate,
                                  activation, alpha, use_bias, need_dx, need_dw)
