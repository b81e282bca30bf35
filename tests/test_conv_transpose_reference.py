"""The NumPy reference of the transposed convolution (Keras's Conv1DTranspose/Conv2DTranspose/
Conv3DTranspose, kernel (*k, OC, C)) on its own: the forward against two brute-force oracles written
here with Python loops (the scatter "input pixel i, tap t -> output pixel i*s - pad + t*d", and
JAX's stride-dilated input correlated with the flipped kernel, using Keras 3's padding code), Keras's
output sizes, the adjoint identity with the conv reference, every gradient against central finite
differences in float64, the dtype policy and every bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastnn
from fastnn import ops
from fastnn import reference as ref

from helpers import assert_close, gradcheck

FWD = {nd: getattr(ref, f"conv{nd}d_transpose_forward") for nd in (1, 2, 3)}
BWD = {nd: getattr(ref, f"conv{nd}d_transpose_backward") for nd in (1, 2, 3)}
CONV = {nd: getattr(ref, f"conv{nd}d_forward") for nd in (1, 2, 3)}


def _tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


# ---- Keras 3's geometry, copied rule for rule (keras/src/backend/common/backend_utils.py) --------


def _keras_output_length(size, k, stride, dilation, padding, output_padding):
    """_get_output_shape_given_tf_padding."""
    ke = (k - 1) * dilation + 1
    if padding == "valid":
        op = max(ke, stride) - ke if output_padding is None else output_padding
        return (size - 1) * stride + ke + op
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + ke % 2 + output_padding


def _keras_jax_pads(k, stride, dilation, padding, output_padding):
    """_convert_conv_transpose_padding_args_from_keras_to_jax: (left, right) padding of the
    stride-dilated input before JAX correlates it with the flipped kernel."""
    ke = (k - 1) * dilation + 1
    if padding == "valid":
        op = max(ke, stride) - ke if output_padding is None else output_padding
        return ke - 1, ke - 1 + op
    pad_len = stride + ke - 2 if output_padding is None else ke + ke % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, ke - 1)
    return left, pad_len - left


def _act(z, activation):
    return {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}[activation](z)


def _geo(x, w, strides, dilation, output_padding):
    nd = x.ndim - 2
    ops_ = (None,) * nd if output_padding is None else _tuple(output_padding, nd)
    return nd, w.shape[:nd], _tuple(strides, nd), _tuple(dilation, nd), ops_


def _oracle_scatter(x, w, b, strides, padding, output_padding, dilation, activation):
    """y[n, i*s - pad_before + t*d] += w[t] @ x[n, i], loop by loop; pad_before from Keras's JAX pads."""
    nd, k, s, d, opad = _geo(x, w, strides, dilation, output_padding)
    out = [_keras_output_length(x.shape[1 + a], k[a], s[a], d[a], padding, opad[a]) for a in range(nd)]
    before = [(k[a] - 1) * d[a] - _keras_jax_pads(k[a], s[a], d[a], padding, opad[a])[0] for a in range(nd)]
    y = np.zeros((x.shape[0], *out, w.shape[nd]))
    for n in range(x.shape[0]):
        for i in itertools.product(*(range(m) for m in x.shape[1:-1])):
            for t in itertools.product(*(range(kk) for kk in k)):
                o = tuple(i[a] * s[a] - before[a] + t[a] * d[a] for a in range(nd))
                if all(0 <= o[a] < out[a] for a in range(nd)):
                    y[(n, *o)] += w[t] @ x[(n, *i)]
    if b is not None:
        y += b
    return _act(y, activation)


def _oracle_dilated(x, w, b, strides, padding, output_padding, dilation, activation):
    """JAX's conv_transpose: put x[i] at left + i*s of a zero line of length (in-1)*s + 1 + left + right,
    then correlate with the spatially flipped, dilated kernel (valid). The output size falls out."""
    nd, k, s, d, opad = _geo(x, w, strides, dilation, output_padding)
    pads = [_keras_jax_pads(k[a], s[a], d[a], padding, opad[a]) for a in range(nd)]
    ke = [(k[a] - 1) * d[a] + 1 for a in range(nd)]
    size = [(x.shape[1 + a] - 1) * s[a] + 1 + pads[a][0] + pads[a][1] for a in range(nd)]
    xd = np.zeros((x.shape[0], *size, x.shape[-1]))
    for i in itertools.product(*(range(m) for m in x.shape[1:-1])):
        xd[(slice(None), *(pads[a][0] + i[a] * s[a] for a in range(nd)))] = x[(slice(None), *i)]
    out = [size[a] - ke[a] + 1 for a in range(nd)]
    y = np.zeros((x.shape[0], *out, w.shape[nd]))
    for n in range(x.shape[0]):
        for o in itertools.product(*(range(m) for m in out)):
            for t in itertools.product(*(range(kk) for kk in k)):
                flipped = tuple(k[a] - 1 - t[a] for a in range(nd))
                y[(n, *o)] += w[flipped] @ xd[(n, *(o[a] + t[a] * d[a] for a in range(nd)))]
    if b is not None:
        y += b
    return _act(y, activation)


# ---- Forward against the oracles -------------------------------------------------------------------

ACTS = [("linear", False), ("relu", True), ("tanh", True)]


def _forward_cases():
    cases = []
    for n, (k, s, padding) in enumerate(itertools.product((1, 2, 3, 4, 5), (1, 2, 3), ("valid", "same"))):
        for op in (None, *range(s)):
            act, bias = ACTS[(n + (op or 0)) % 3]
            cases.append((1, (3,), k, s, padding, op, 1, act, bias))
    for k, padding, op in itertools.product((2, 3), ("valid", "same"), (None, 0)):  # dilation 2, stride 1
        cases.append((1, (4,), k, 1, padding, op, 2, "tanh", True))
    cases += [
        (2, (3, 2), (3, 2), (2, 3), "same", None, (1, 1), "relu", True),
        (2, (3, 2), (3, 2), (2, 3), "valid", None, (1, 1), "linear", False),
        (2, (2, 3), (4, 1), (2, 1), "same", (1, 0), (1, 1), "tanh", True),
        (2, (2, 3), (2, 5), (3, 2), "valid", (2, 1), (1, 1), "linear", True),
        (2, (2, 3), (3, 2), (2, 2), "same", 1, (1, 1), "relu", False),
        (2, (3, 3), (2, 3), (1, 1), "same", None, (2, 2), "tanh", False),
        (2, (3, 3), (3, 2), (1, 1), "valid", (0, 0), (1, 2), "linear", True),
        (3, (2, 3, 2), (2, 3, 1), (2, 1, 3), "same", (1, 0, 2), (1, 1, 1), "tanh", True),
        (3, (2, 2, 2), (3, 2, 2), (1, 2, 2), "valid", None, (1, 1, 1), "relu", True),
    ]
    return cases


@pytest.mark.parametrize("nd,in_shape,k,s,padding,op,d,activation,bias", _forward_cases())
def test_forward_matches_the_loop_oracles(rng, nd, in_shape, k, s, padding, op, d, activation, bias):
    k = _tuple(k, nd)
    x = rng.standard_normal((2, *in_shape, 2))
    w = rng.standard_normal((*k, 3, 2))
    b = rng.standard_normal(3) if bias else None
    kw = dict(strides=s, padding=padding, output_padding=op, dilation_rate=d)
    got = FWD[nd](x, w, b, activation=activation, **kw)
    assert got.dtype == np.float64
    what = f"conv{nd}d_transpose_forward(x{x.shape}, w{w.shape}, bias={bias}, {kw}, {activation})"
    assert_close(got, _oracle_scatter(x, w, b, s, padding, op, d, activation), rtol=1e-12, atol=1e-12,
                 what=what + " vs scatter oracle")
    assert_close(got, _oracle_dilated(x, w, b, s, padding, op, d, activation), rtol=1e-12, atol=1e-12,
                 what=what + " vs JAX-style dilated-input oracle")


def test_every_tap_reaches_its_pixel():
    # one input pixel and a one-hot kernel: the output is zero but at i*s - pad_before + t*d, and a tap
    # landing past the end is dropped (k=4, s=2, 'same': pad_before 1, as TensorFlow's SAME pads 1 before)
    x = np.zeros((1, 3, 1))
    x[0, 2, 0] = 1.0
    for t in range(4):
        w = np.zeros((4, 1, 1))
        w[t] = 1.0
        y = ref.conv1d_transpose_forward(x, w, strides=2, padding="same")
        want = np.zeros((1, 6, 1))
        if 2 * 2 - 1 + t < 6:
            want[0, 2 * 2 - 1 + t, 0] = 1.0
        np.testing.assert_array_equal(y, want, err_msg=f"tap {t}")


# ---- Keras's output sizes --------------------------------------------------------------------------


@pytest.mark.parametrize("in_size,k,s,padding,op,d,want", [
    (7, 3, 2, "same", None, 1, 14), (7, 3, 2, "valid", None, 1, 15), (7, 5, 2, "valid", None, 1, 17),
    (7, 2, 2, "valid", None, 1, 14), (7, 4, 2, "same", None, 1, 14), (7, 3, 2, "same", 1, 1, 14),
    (7, 3, 2, "valid", 1, 1, 16), (7, 4, 2, "same", 0, 1, 12), (7, 1, 3, "valid", None, 1, 21),
    (7, 1, 3, "valid", 2, 1, 21), (7, 3, 1, "valid", None, 2, 11), (7, 3, 1, "same", None, 2, 7),
    (1, 2, 1, "same", None, 1, 1), (1, 1, 3, "same", None, 1, 3),
])
def test_output_sizes_are_keras(rng, in_size, k, s, padding, op, d, want):
    assert _keras_output_length(in_size, k, s, d, padding, op) == want  # the table is Keras's
    x = rng.standard_normal((1, in_size, in_size, 2)).astype(np.float32)
    w = rng.standard_normal((k, k, 3, 2)).astype(np.float32)
    kw = dict(strides=s, padding=padding, output_padding=op, dilation_rate=d)
    y = ref.conv2d_transpose_forward(x, w, **kw)
    assert y.shape == (1, want, want, 3)
    dx, dw, db = ref.conv2d_transpose_backward(np.ones_like(y), x, w, **kw)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (3,)


def test_non_square_output_size(rng):
    x = rng.standard_normal((2, 7, 5, 1))
    y = ref.conv2d_transpose_forward(x, rng.standard_normal((3, 4, 2, 1)), strides=(2, 3))
    assert y.shape == (2, 15, 16, 2)


@pytest.mark.parametrize("s", [1, 2])
def test_zero_output_size_is_an_error(s):
    # 1 input step, k=2, 'same', output_padding=0: (1-1)*s + 2 - 2*1 + 0 = 0
    with pytest.raises(ValueError, match="conv1d_transpose_forward: Computed output size would be zero or negative"):
        ref.conv1d_transpose_forward(np.ones((1, 1, 1)), np.ones((2, 1, 1)), strides=s, padding="same",
                                     output_padding=0)
    with pytest.raises(ValueError, match="conv1d_transpose_backward: Computed output size would be zero"):
        ref.conv1d_transpose_backward(np.ones((1, 0, 1)), np.ones((1, 1, 1)), np.ones((2, 1, 1)), strides=s,
                                      padding="same", output_padding=0)


# ---- Adjoint of the convolution -----------------------------------------------------------------------


@pytest.mark.parametrize("nd,in_shape,k,s,padding,op,d", [
    (1, (5,), 3, 2, "valid", None, 1), (1, (5,), 4, 2, "same", None, 1), (1, (4,), 5, 3, "same", None, 1),
    (1, (4,), 2, 3, "valid", 2, 1), (1, (4,), 2, 3, "valid", None, 1), (1, (5,), 3, 1, "same", None, 2),
    (1, (5,), 3, 2, "same", 1, 1), (1, (5,), 4, 2, "same", 1, 1), (1, (3,), 1, 3, "same", None, 1),
    (2, (3, 4), (3, 4), (2, 2), "same", None, (1, 1)), (2, (3, 4), (2, 3), (3, 1), "valid", (1, 0), (1, 1)),
    (2, (3, 3), (3, 2), (1, 1), "valid", None, (2, 2)),
    (3, (2, 3, 2), (3, 2, 1), (2, 1, 2), "same", None, (1, 1, 1)),
    (3, (2, 2, 3), (2, 2, 3), (1, 2, 1), "valid", (0, 1, 0), (1, 1, 1)),
])
def test_adjoint_of_the_convolution(rng, nd, in_shape, k, s, padding, op, d):
    # <T(x), v> == <x, conv(v)>: the transposed kernel (*k, OC, C) is the conv's (*k, C_conv, OC_conv)
    k = _tuple(k, nd)
    x = rng.standard_normal((2, *in_shape, 3))
    w = rng.standard_normal((*k, 4, 3))
    y = FWD[nd](x, w, strides=s, padding=padding, output_padding=op, dilation_rate=d)
    v = rng.standard_normal(y.shape)
    cv = CONV[nd](v, w, strides=s, padding=padding, dilation_rate=d)
    assert cv.shape == x.shape, "this case's convolution does not map the output shape back to x's"
    lhs, rhs = float(np.sum(y * v)), float(np.sum(x * cv))
    assert abs(lhs - rhs) <= 1e-10 * (1 + abs(lhs)), f"<T x, v> = {lhs!r} but <x, conv v> = {rhs!r}"


def test_adjoint_of_the_convolution_1d_sweep(rng):
    # without output_padding the convolution always maps the output shape back to x's (Keras's sizes
    # are built for it); with output_padding, wherever it does (where TensorFlow accepts the shapes)
    checked = 0
    for k, s, d, padding, n in itertools.product(range(1, 7), range(1, 5), (1, 2), ("valid", "same"), (1, 2, 5)):
        if s > 1 and d > 1:
            continue
        for op in (None, *range(s)):
            if _keras_output_length(n, k, s, d, padding, op) <= 0:
                continue
            x = rng.standard_normal((1, n, 2))
            w = rng.standard_normal((k, 3, 2))
            y = ref.conv1d_transpose_forward(x, w, strides=s, padding=padding, output_padding=op, dilation_rate=d)
            v = rng.standard_normal(y.shape)
            try:
                cv = ref.conv1d_forward(v, w, strides=s, padding=padding, dilation_rate=d)
            except ValueError:
                cv = None
            if cv is None or cv.shape != x.shape:
                assert op is not None, f"k={k} s={s} d={d} {padding} n={n}: conv does not map back"
                continue
            lhs, rhs = float(np.sum(y * v)), float(np.sum(x * cv))
            assert abs(lhs - rhs) <= 1e-10 * (1 + abs(lhs)), f"k={k} s={s} d={d} {padding} n={n} op={op}"
            checked += 1
    assert checked > 500


# ---- Gradients against finite differences (float64) ---------------------------------------------------


GRAD_CASES = [
    (1, (4,), 3, 1, "valid", None, 1, "linear", True),
    (1, (3,), 3, 2, "same", None, 1, "tanh", True),
    (1, (3,), 4, 3, "valid", 2, 1, "linear", False),
    (1, (3,), 5, 2, "same", 1, 1, "relu", True),
    (1, (4,), 3, 1, "same", None, 2, "tanh", True),
    (1, (3,), 2, 3, "valid", None, 1, "relu", True),  # stride > kernel: output pixels nobody reaches
    (1, (3,), 4, 2, "same", 0, 1, "tanh", False),
    (2, (2, 3), (3, 2), (2, 1), "same", (1, 0), (1, 1), "tanh", True),
    (2, (3, 2), (2, 3), (1, 1), "valid", None, (2, 1), "linear", False),
    (2, (2, 2), (4, 3), (2, 3), "same", None, (1, 1), "relu", True),
    (3, (1, 2, 2), (2, 3, 1), (2, 1, 2), "valid", (1, 0, 1), (1, 1, 1), "tanh", True),
    (3, (2, 2, 1), (3, 2, 2), (1, 2, 1), "same", None, (1, 1, 1), "linear", False),
]


@pytest.mark.parametrize("nd,in_shape,k,s,padding,op,d,activation,bias", GRAD_CASES)
def test_gradients(rng, nd, in_shape, k, s, padding, op, d, activation, bias):
    k = _tuple(k, nd)
    kw = dict(strides=s, padding=padding, output_padding=op, dilation_rate=d)
    while True:
        # redraw until every pre-activation is away from relu's kink (relu cases all have a bias, so
        # the pixels no tap reaches sit at b, not at 0)
        x = rng.standard_normal((2, *in_shape, 2))
        w = rng.standard_normal((*k, 3, 2)) / 2
        b = rng.standard_normal(3) / 2 if bias else None
        z = FWD[nd](x, w, b, **kw)
        if activation != "relu" or np.all(np.abs(z) > 0.05):
            break
    dy = rng.standard_normal(z.shape)
    params = [x, w] + ([b] if bias else [])

    def f():
        return float(np.sum(FWD[nd](x, w, b, activation=activation, **kw) * dy))

    y = FWD[nd](x, w, b, activation=activation, **kw)
    dx, dw, db = BWD[nd](dy, x, w, y, activation=activation, use_bias=bias, **kw)
    assert dx.dtype == dw.dtype == np.float64
    assert (db is None) == (not bias)
    gradcheck(f, params, [dx, dw] + ([db] if bias else []),
              what=f"conv{nd}d_transpose x{x.shape} w{w.shape} {kw} {activation} bias={bias}", rtol=1e-6, atol=1e-8)


def test_need_dx_false_and_use_bias_false(rng):
    x = rng.standard_normal((2, 3, 2, 2))
    w = rng.standard_normal((3, 2, 4, 2))
    kw = dict(strides=(2, 1), padding="same", output_padding=(1, 0), activation="tanh")
    y = ref.conv2d_transpose_forward(x, w, rng.standard_normal(4), **kw)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = ref.conv2d_transpose_backward(dy, x, w, y, **kw)
    dx2, dw2, db2 = ref.conv2d_transpose_backward(dy, x, w, y, need_dx=False, **kw)
    assert dx2 is None and dx is not None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)
    dx3, dw3, db3 = ref.conv2d_transpose_backward(dy, x, w, y, use_bias=False, **kw)
    assert db3 is None
    np.testing.assert_array_equal(dx3, dx)
    np.testing.assert_array_equal(dw3, dw)


def test_linear_backward_without_y(rng):
    x = rng.standard_normal((2, 3, 2))
    w = rng.standard_normal((3, 4, 2))
    kw = dict(strides=2, padding="valid", output_padding=1)
    y = ref.conv1d_transpose_forward(x, w, **kw)
    dy = rng.standard_normal(y.shape)
    without_y = ref.conv1d_transpose_backward(dy, x, w, None, **kw)
    for a, b in zip(without_y, ref.conv1d_transpose_backward(dy, x, w, y, **kw)):
        np.testing.assert_array_equal(a, b)


# ---- dtypes -------------------------------------------------------------------------------------------


def test_dtypes(rng):
    x = rng.standard_normal((2, 3, 3, 2))
    w = rng.standard_normal((3, 2, 4, 2))
    b = rng.standard_normal(4)
    kw = dict(strides=2, padding="same", activation="tanh")
    y64 = ref.conv2d_transpose_forward(x, w, b, **kw)
    y32 = ref.conv2d_transpose_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), **kw)
    assert y64.dtype == np.float64 and y32.dtype == np.float32
    assert_close(y32, y64, rtol=1e-5, atol=1e-6, what="float32 forward vs float64")
    # float64 anywhere: float64; integer inputs: float32
    assert ref.conv2d_transpose_forward(x.astype(np.float32), w, **kw).dtype == np.float64
    assert ref.conv2d_transpose_forward(np.ones((1, 2, 2, 2), np.int32), np.ones((1, 1, 1, 2), np.int64)).dtype \
        == np.float32
    dy = rng.standard_normal(y64.shape)
    g64 = ref.conv2d_transpose_backward(dy, x, w, y64, **kw)
    g32 = ref.conv2d_transpose_backward(dy.astype(np.float32), x.astype(np.float32), w.astype(np.float32), y32, **kw)
    for name, a, c in zip(("dx", "dw", "db"), g64, g32):
        assert a.dtype == np.float64 and c.dtype == np.float32, name
        assert_close(c, a, rtol=1e-4, atol=1e-5, what=f"float32 {name} vs float64")
    assert all(g.dtype == np.float64 for g in ref.conv2d_transpose_backward(
        dy.astype(np.float32), x.astype(np.float32), w.astype(np.float32), y64, **kw))


# ---- Bad inputs ---------------------------------------------------------------------------------------

_X = np.zeros((2, 3, 3, 2), np.float32)
_W = np.zeros((3, 3, 4, 2), np.float32)
F2, B2 = ops.conv2d_transpose_forward, ops.conv2d_transpose_backward  # dispatch at call time
OPF, OPB = "conv2d_transpose_forward: ", "conv2d_transpose_backward: "


def _dy(**kw):
    return np.zeros(F2(_X, _W, **kw).shape, np.float32)


BAD = [
    ("x ndim", ValueError, OPF + r"x must be 4-D \(N, H, W, C\)", lambda: F2(_X[0], _W)),
    ("w ndim", ValueError, OPF + r"w must be 4-D \(KH, KW, OC, C\)", lambda: F2(_X, _W[0])),
    ("w ndim 1-D", ValueError, r"conv1d_transpose_forward: w must be 3-D \(K, OC, C\)",
     lambda: ops.conv1d_transpose_forward(_X[0], _W)),
    ("w ndim 3-D", ValueError, r"conv3d_transpose_forward: w must be 5-D \(KD, KH, KW, OC, C\)",
     lambda: ops.conv3d_transpose_forward(_X[None], _W)),
    ("x dtype", TypeError, OPF + "x must hold real numbers", lambda: F2(_X.astype(str), _W)),
    ("x None", TypeError, OPF + "x must be an array", lambda: F2(None, _W)),
    ("empty batch", ValueError, OPF + "the batch is empty", lambda: F2(_X[:0], _W)),
    ("zero-size dim", ValueError, OPF + "x has a zero-size dimension", lambda: F2(_X[:, :0], _W)),
    ("zero kernel", ValueError, OPF + "kernel sizes must be positive", lambda: F2(_X, _W[:0])),
    ("C mismatch", ValueError, OPF + r"w must be \(KH, KW, OC, C\) with C=2. Received: w.shape=\(3, 3, 2, 4\)",
     lambda: F2(_X, np.zeros((3, 3, 2, 4)))),
    ("OC zero", ValueError, OPF + "the number of filters OC must be positive", lambda: F2(_X, _W[:, :, :0])),
    ("strides zero", ValueError, OPF + "strides must be positive", lambda: F2(_X, _W, strides=0)),
    ("strides length", ValueError, OPF + "strides must be an int or a tuple of 2 ints",
     lambda: F2(_X, _W, strides=(1,))),
    ("strides float", TypeError, OPF + "strides must be an int or a tuple of 2 ints", lambda: F2(_X, _W, strides=1.5)),
    ("dilation zero", ValueError, OPF + "dilation_rate must be positive", lambda: F2(_X, _W, dilation_rate=(1, 0))),
    ("dilation bool", TypeError, OPF + "dilation_rate must be an int", lambda: F2(_X, _W, dilation_rate=True)),
    ("padding causal", ValueError, r"conv1d_transpose_forward: padding must be 'valid' or 'same'. "
     r"Received: padding='causal'", lambda: ops.conv1d_transpose_forward(_X[0], _W[0], padding="causal")),
    ("padding name", ValueError, OPF + "padding must be 'valid' or 'same'", lambda: F2(_X, _W, padding="full")),
    ("padding type", TypeError, OPF + "padding must be a str", lambda: F2(_X, _W, padding=1)),
    ("strides with dilation", ValueError, OPF + "strides > 1 are not supported together with dilation_rate > 1",
     lambda: F2(_X, _W, strides=(2, 1), dilation_rate=(1, 2))),
    ("output_padding bool", TypeError, OPF + "output_padding must be an int or a tuple of 2 ints",
     lambda: F2(_X, _W, strides=2, output_padding=True)),
    ("output_padding float", TypeError, OPF + "output_padding must be an int or a tuple of 2 ints",
     lambda: F2(_X, _W, strides=2, output_padding=1.0)),
    ("output_padding float item", TypeError, OPF + "output_padding must be an int or a tuple",
     lambda: F2(_X, _W, strides=2, output_padding=(1, 1.0))),
    ("output_padding bool item", TypeError, OPF + "output_padding must be an int or a tuple",
     lambda: F2(_X, _W, strides=2, output_padding=(np.bool_(True), 0))),
    ("output_padding str", TypeError, OPF + "output_padding must be an int or a tuple",
     lambda: F2(_X, _W, strides=2, output_padding="1")),
    ("output_padding length", ValueError, OPF + r"output_padding must be an int or a tuple of 2 ints. "
     r"Received: output_padding=\(1,\)", lambda: F2(_X, _W, strides=2, output_padding=(1,))),
    ("output_padding negative", ValueError, OPF + "output_padding must be non-negative",
     lambda: F2(_X, _W, strides=2, output_padding=(0, -1))),
    ("output_padding = stride", ValueError, OPF + r"output_padding must be lower than the stride along each axis. "
     r"Received: output_padding=2, strides=\(2, 2\)", lambda: F2(_X, _W, strides=2, output_padding=2)),
    ("output_padding >= stride on one axis", ValueError, OPF + "output_padding must be lower than the stride",
     lambda: F2(_X, _W, strides=(2, 1), output_padding=(1, 1))),
    ("output_padding with stride 1", ValueError, OPF + "output_padding must be lower than the stride",
     lambda: F2(_X, _W, output_padding=1)),
    ("b shape", ValueError, OPF + r"b must be \(OC,\) with OC=4. Received: b.shape=\(3,\)",
     lambda: F2(_X, _W, np.zeros(3))),
    ("b dtype", TypeError, OPF + "b must hold real numbers", lambda: F2(_X, _W, np.array(["a"] * 4))),
    ("activation", ValueError, OPF + "unknown activation", lambda: F2(_X, _W, activation="swish")),
    ("alpha", ValueError, OPF + "leaky_relu needs", lambda: F2(_X, _W, activation="leaky_relu", alpha=-1.0)),
    ("backward x ndim", ValueError, OPB + r"x must be 4-D", lambda: B2(_dy(), _X[0], _W)),
    ("backward C mismatch", ValueError, OPB + r"w must be \(KH, KW, OC, C\) with C=2",
     lambda: B2(_dy(), _X, np.zeros((3, 3, 4, 3)))),
    ("backward output_padding", ValueError, OPB + "output_padding must be lower than the stride",
     lambda: B2(_dy(), _X, _W, strides=2, output_padding=3)),
    ("backward padding", ValueError, OPB + "padding must be 'valid' or 'same'",
     lambda: B2(_dy(), _X, _W, padding="causal")),
    ("dy shape", ValueError, OPB + r"dy must be \(N, OH, OW, OC\) = \(2, 5, 5, 4\) to match x, w, strides, padding, "
     r"output_padding and dilation_rate. Received: dy.shape=\(2, 6, 6, 4\)",
     lambda: B2(np.zeros((2, 6, 6, 4)), _X, _W)),
    ("dy shape for same", ValueError, OPB + r"dy must be \(N, OH, OW, OC\) = \(2, 6, 6, 4\)",
     lambda: B2(_dy(), _X, _W, strides=2, padding="same")),
    ("y shape", ValueError, OPB + r"y must be \(N, OH, OW, OC\) = \(2, 5, 5, 4\)",
     lambda: B2(_dy(), _X, _W, np.zeros((2, 5, 5, 3)))),
    ("y None", ValueError, OPB + r"y \(the forward output\) is needed for activation='tanh'",
     lambda: B2(_dy(), _X, _W, activation="tanh")),
    ("use_bias", TypeError, OPB + "use_bias must be a bool", lambda: B2(_dy(), _X, _W, use_bias="yes")),
    ("need_dx", TypeError, OPB + "need_dx must be a bool", lambda: B2(_dy(), _X, _W, need_dx=2)),
    ("3-D C mismatch", ValueError, r"conv3d_transpose_backward: w must be \(KD, KH, KW, OC, C\) with C=2",
     lambda: ops.conv3d_transpose_backward(np.zeros((1, 2, 2, 2, 1)), np.zeros((1, 2, 2, 2, 2)),
                                           np.zeros((1, 1, 1, 1, 3)))),
]


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("name,exc,match,call", BAD, ids=[c[0] for c in BAD])
def test_bad_inputs(backend, name, exc, match, call):
    # both backends refuse every bad input alike, before any computation
    with fastnn.backend(backend), pytest.raises(exc, match=match):
        call()


def test_valid_argument_forms_are_accepted(rng):
    # an int or a list for output_padding / strides, NumPy integers, mixed-case padding: same numbers
    x = rng.standard_normal((1, 3, 2, 2))
    w = rng.standard_normal((3, 2, 4, 2))
    want = ref.conv2d_transpose_forward(x, w, strides=(2, 2), padding="same", output_padding=(1, 1))
    for kw in (dict(strides=2, padding="SAME", output_padding=1),
               dict(strides=[2, np.int64(2)], padding="same", output_padding=[np.int32(1), 1]),
               dict(strides=np.array([2, 2]), padding="Same", output_padding=np.array([1, 1]))):
        np.testing.assert_array_equal(ref.conv2d_transpose_forward(x, w, **kw), want)
