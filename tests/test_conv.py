"""Convolution and transposed convolution (1-D/2-D/3-D, channels-last): C++ against the NumPy
reference (forward and every gradient) over a sweep of shapes, the reference against central finite
differences in float64, Keras's output sizes and 'same' padding on golden cases, thread-count
independence of the parameter gradients, and every bad input of the issue's list."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import fastnn
from fastnn import _core, ops, reference

from helpers import numeric_grad


@pytest.fixture(autouse=True)
def _restore_settings():
    backend, threads = fastnn.get_backend(), fastnn.get_num_threads()
    yield
    fastnn.set_backend(backend)
    fastnn.set_num_threads(threads)
    _core._select_conv_algorithm("auto")
    _core._select_gemm_kernel("auto")


# Every convolution algorithm and micro-kernel: the implicit GEMM with each ISA's gather kernel
# (it follows the GEMM's kernel choice), each of its three input-gradient algorithms forced, the
# im2col + sgemm fallback, and the default choice (which also routes few-channel input gradients
# through a column matrix).
ENGINES = [("implicit", "avx512"), ("implicit", "avx2-fma"), ("implicit", "generic"), ("im2col", "auto"),
           ("implicit-flipped", "auto"), ("implicit-scatter", "auto"), ("implicit-dcol", "auto"), ("auto", "auto")]


@pytest.fixture(params=ENGINES, ids=lambda e: f"{e[0]}-{e[1]}")
def engine(request):
    algo, kernel = request.param
    if not _core._select_gemm_kernel(kernel):
        pytest.skip(f"this CPU (or build) lacks the {kernel!r} micro-kernels")
    assert _core._select_conv_algorithm(algo)
    yield request.param


def assert_close(got, want, what, rtol=1e-4):
    """|got - want| <= atol + rtol·|want| with atol scaled to the result's magnitude."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    atol = rtol * (1.0 + np.abs(want).max(initial=0.0))
    diff = np.abs(got - want)
    bad = diff > atol + rtol * np.abs(want)
    if bad.any():
        idx = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:5]]
        pairs = ", ".join(f"{ix}: {got[ix]!r} vs {want[ix]!r}" for ix in idx)
        raise AssertionError(f"{what}: {int(bad.sum())}/{bad.size} differ, max abs diff {diff.max():.3g} "
                             f"(atol {atol:.3g}); first (got vs want): {pairs}")


def conv_ops(nd, transpose=False):
    kind = f"conv{nd}d_transpose" if transpose else f"conv{nd}d"
    return f"{kind}_forward", f"{kind}_backward"


def run_both(nd, x, w, b, *, activation="linear", alpha=None, use_bias=True, need_dx=True, need_dw=True,
             transpose=False, names=None, **geo):
    """Forward and backward on both backends (reference in float64); compare everything. ``names``:
    another (forward, backward) pair of ops with the convolution's arguments (the depthwise ones)."""
    fwd, bwd = names or conv_ops(nd, transpose)
    what = f"{fwd}(x{x.shape}, w{w.shape}, {geo}, {activation})"
    with fastnn.backend("cpp"):
        y = getattr(ops, fwd)(x, w, b, activation=activation, alpha=alpha, **geo)
    with fastnn.backend("numpy"):
        y_ref = getattr(ops, fwd)(x.astype(np.float64), w.astype(np.float64),
                                  None if b is None else b.astype(np.float64), activation=activation, alpha=alpha,
                                  **geo)
    assert y.dtype == np.float32
    assert_close(y, y_ref, what + " y")
    dy = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    kw = dict(activation=activation, alpha=alpha, use_bias=use_bias, need_dx=need_dx, need_dw=need_dw, **geo)
    with fastnn.backend("cpp"):
        got = getattr(ops, bwd)(dy, x, w, y, **kw)
    with fastnn.backend("numpy"):
        # the reference differentiates at the C++ forward output, so backward is checked on its own
        want = getattr(ops, bwd)(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                                 y.astype(np.float64), **kw)
    for name, g, r in zip(("dx", "dw", "db"), got, want):
        if r is None:
            assert g is None, f"{what}: {name} should be None"
            continue
        assert g.dtype == np.float32
        assert_close(g, r, f"{what} {name}")
    return y, got


# ---- C++ against the reference over a sweep ---------------------------------------------------

# (batch, input spatial, C, kernel, OC, strides, padding, dilation)
CASES_2D = [
    (1, (7, 7), 1, (3, 3), 4, (1, 1), "valid", (1, 1)),
    (3, (9, 8), 3, (3, 3), 5, (1, 1), "same", (1, 1)),
    (3, (8, 9), 3, (2, 2), 6, (1, 1), "same", (1, 1)),
    (3, (10, 7), 17, (4, 3), 3, (2, 2), "same", (1, 1)),
    (1, (9, 11), 3, (3, 5), 8, (3, 2), "valid", (1, 1)),
    (3, (11, 10), 3, (3, 3), 4, (3, 3), "same", (1, 1)),
    (3, (12, 9), 3, (3, 2), 4, (1, 1), "valid", (2, 3)),
    (1, (12, 12), 17, (3, 3), 7, (1, 1), "same", (2, 2)),
    (3, (6, 5), 17, (1, 1), 9, (1, 1), "valid", (1, 1)),
    (3, (6, 5), 3, (1, 1), 9, (2, 2), "same", (1, 1)),
    (1, (5, 5), 3, (5, 5), 2, (1, 1), "valid", (1, 1)),
    (3, (5, 6), 1, (2, 3), 1, (2, 1), "valid", (1, 1)),
    (1, (1, 9), 3, (1, 3), 5, (1, 2), "same", (1, 1)),
    (7, (28, 28), 1, (3, 3), 16, (1, 1), "valid", (1, 1)),
    (2, (7, 9), 80, (3, 3), 5, (2, 1), "same", (1, 1)),  # C > 64: dx's scatter takes two column blocks
    # OC over the kernels' column blocks (16 AVX2/generic, 64 AVX-512) with a partial last one: the
    # forward's and the weight gradient's B panels past the first
    (2, (7, 6), 5, (3, 3), 20, (1, 1), "same", (1, 1)),
    (1, (6, 7), 3, (3, 3), 70, (1, 1), "valid", (1, 1)),
    # the flipped dx runs only the taps that reach real dz: here rows 1, 2, 4 and 5 of the input
    # reach none (a dilated 3x3 with one output pixel), so whole row tiles are written as zeros
    (2, (7, 7), 3, (3, 3), 4, (1, 1), "valid", (3, 3)),
    (2, (13, 13), 64, (3, 3), 64, (1, 1), "valid", (1, 1)),  # the notes' second layer
    # by default a few output channels on rows of >= 24 pixels run the row-direct forward: 32-pixel
    # blocks (a partial last one), dilation along W, strides along H only, 'same' and 'valid'
    (2, (9, 32), 32, (3, 3), 3, (1, 1), "same", (1, 1)),
    (2, (6, 28), 5, (3, 3), 1, (2, 1), "same", (1, 1)),
    (1, (5, 52), 3, (2, 3), 8, (1, 1), "valid", (1, 2)),
    (2, (7, 64), 4, (5, 5), 6, (3, 1), "same", (1, 1)),
]


@pytest.mark.parametrize("case", CASES_2D, ids=lambda c: f"N{c[0]}-{c[1]}-C{c[2]}-k{c[3]}-s{c[5]}-{c[6]}-d{c[7]}")
def test_conv2d_matches_reference(engine, case):
    N, spatial, C, k, OC, strides, padding, dil = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = rng.standard_normal((N, *spatial, C)).astype(np.float32)
    w = rng.standard_normal((*k, C, OC)).astype(np.float32)
    b = rng.standard_normal(OC).astype(np.float32)
    run_both(2, x, w, b, activation="relu", strides=strides, padding=padding, dilation_rate=dil)


@pytest.mark.parametrize("k,strides,padding,dil", [
    (3, 1, "valid", 1), (4, 1, "same", 1), (3, 2, "same", 1), (5, 3, "valid", 1), (3, 1, "causal", 1),
    (2, 1, "causal", 3), (3, 1, "same", 2), (1, 1, "valid", 1), (2, 2, "causal", 1), (3, 1, "valid", 5),
])
def test_conv1d_matches_reference(engine, k, strides, padding, dil):
    rng = np.random.default_rng(k * 100 + strides * 10 + dil)
    x = rng.standard_normal((3, 13, 3)).astype(np.float32)
    w = rng.standard_normal((k, 3, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    run_both(1, x, w, b, activation="tanh", strides=strides, padding=padding, dilation_rate=dil)


@pytest.mark.parametrize("padding,dil", [("causal", 2), ("same", 1), ("valid", 3)])
def test_conv1d_few_output_channels_on_long_rows(engine, padding, dil):
    # a 1-D sequence of 60 steps into 2 channels: by default the row-direct forward (softmax over its OC too)
    rng = np.random.default_rng(dil)
    x = rng.standard_normal((3, 60, 6)).astype(np.float32)
    w = rng.standard_normal((3, 6, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    for activation in ("tanh", "softmax"):
        run_both(1, x, w, b, activation=activation, padding=padding, dilation_rate=dil)


@pytest.mark.parametrize("shape,k,strides,padding,dil", [
    ((5, 5, 5), (2, 2, 2), (1, 1, 1), "valid", (1, 1, 1)),  # the course notes' Conv3D
    ((4, 5, 30), (2, 3, 3), (2, 1, 1), "same", (1, 1, 1)),  # rows of 30: the row-direct forward by default
    ((5, 6, 4), (3, 2, 3), (2, 1, 2), "same", (1, 1, 1)),
    ((6, 5, 7), (2, 3, 2), (1, 1, 1), "same", (2, 1, 2)),
])
def test_conv3d_matches_reference(engine, shape, k, strides, padding, dil):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, *shape, 3)).astype(np.float32)
    w = rng.standard_normal((*k, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    run_both(3, x, w, b, activation="sigmoid", strides=strides, padding=padding, dilation_rate=dil)


@pytest.mark.parametrize("activation,alpha", [("linear", None), ("leaky_relu", 0.1), ("elu", 0.7), ("selu", None),
                                              ("softplus", None), ("hard_sigmoid", None), ("softmax", None)])
def test_conv_activations_fused(engine, activation, alpha):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 7, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    run_both(2, x, w, b, activation=activation, alpha=alpha, padding="same")


def test_conv_without_bias_and_without_dx(engine):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 9, 7, 1)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, 8)).astype(np.float32)
    _, (dx, dw, db) = run_both(2, x, w, None, activation="relu", use_bias=False, need_dx=False)
    assert dx is None and db is None and dw.shape == w.shape


@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
def test_conv_spanning_several_workspace_tiles(engine, strides):
    # K = 3·3·64 = 576: a 4 MB im2col tile holds ~1800 output pixels, so these take 2 or more tiles
    # (the strided one cuts through an image, which the col2im scatter must handle); the implicit
    # path's backward tiles hold a few images, so it takes several too
    rng = np.random.default_rng(8)
    spatial = (20, 20) if strides == (1, 1) else (44, 44)
    x = rng.standard_normal((5 if strides == (1, 1) else 4, *spatial, 64)).astype(np.float32)
    w = (rng.standard_normal((3, 3, 64, 8)) * 0.1).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    run_both(2, x, w, b, activation="relu", strides=strides, padding="same")


# ---- Transposed convolution --------------------------------------------------------------------

# (batch, input spatial, C, kernel, OC, strides, padding, output_padding, dilation); w is (*k, OC, C)
CASES_T2D = [
    (2, (7, 7), 16, (3, 3), 8, (2, 2), "same", None, (1, 1)),  # an autoencoder's decoder
    (3, (7, 7), 12, (5, 5), 6, (2, 2), "same", None, (1, 1)),  # a DCGAN generator's layer
    (3, (5, 6), 3, (3, 3), 4, (1, 1), "valid", None, (1, 1)),
    (3, (5, 6), 3, (3, 3), 4, (1, 1), "same", None, (1, 1)),
    (1, (4, 5), 3, (4, 4), 5, (2, 2), "same", None, (1, 1)),
    (3, (4, 5), 3, (2, 2), 5, (2, 2), "valid", None, (1, 1)),
    (3, (4, 3), 2, (1, 1), 3, (3, 2), "valid", None, (1, 1)),  # kernel < stride: rows no tap reaches
    (3, (5, 4), 3, (3, 2), 4, (3, 2), "same", (2, 1), (1, 1)),
    (2, (5, 4), 3, (3, 3), 4, (2, 2), "valid", (1, 0), (1, 1)),
    (2, (5, 4), 3, (2, 4), 4, (2, 3), "same", (0, 2), (1, 1)),  # even kernels with output_padding
    (2, (5, 6), 3, (3, 2), 4, (1, 1), "same", None, (2, 3)),
    (2, (6, 5), 3, (3, 3), 4, (1, 1), "valid", 0, (2, 1)),
    (2, (5, 5), 80, (3, 3), 20, (2, 2), "same", None, (1, 1)),  # C and OC past one column block
    (1, (1, 1), 4, (3, 3), 2, (2, 2), "valid", None, (1, 1)),
    (3, (9, 8), 32, (3, 3), 1, (1, 1), "same", None, (1, 1)),  # one output channel (a decoder's last layer)
    (3, (7, 7), 32, (3, 3), 3, (2, 2), "same", None, (1, 1)),
    (2, (6, 7), 8, (5, 5), 2, (1, 1), "valid", None, (2, 2)),
]


@pytest.mark.parametrize("case", CASES_T2D, ids=lambda c: f"N{c[0]}-{c[1]}-C{c[2]}-k{c[3]}-OC{c[4]}-s{c[5]}-{c[6]}"
                                                          f"-op{c[7]}-d{c[8]}")
def test_conv2d_transpose_matches_reference(engine, case):
    N, spatial, C, k, OC, strides, padding, out_pad, dil = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = rng.standard_normal((N, *spatial, C)).astype(np.float32)
    w = rng.standard_normal((*k, OC, C)).astype(np.float32)
    b = rng.standard_normal(OC).astype(np.float32)
    run_both(2, x, w, b, activation="relu", transpose=True, strides=strides, padding=padding,
             output_padding=out_pad, dilation_rate=dil)


@pytest.mark.parametrize("nd,x_shape,k,geo", [
    (1, (3, 9, 4), (3,), dict(strides=2, padding="same")),
    (1, (3, 9, 4), (4,), dict(strides=3, padding="valid", output_padding=2)),
    (1, (2, 6, 3), (3,), dict(padding="same", dilation_rate=3)),
    (3, (2, 3, 4, 3, 3), (2, 2, 2), dict(strides=2, padding="valid")),  # the Conv3D notes' volume, inverted
    (3, (2, 3, 3, 4, 2), (3, 2, 3), dict(strides=(1, 2, 2), padding="same", output_padding=(0, 1, 0))),
])
@pytest.mark.parametrize("activation,alpha", [("tanh", None), ("leaky_relu", 0.2), ("softmax", None)])
def test_conv1d_and_3d_transpose_match_reference(engine, nd, x_shape, k, geo, activation, alpha):
    rng = np.random.default_rng(21)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((*k, 5, x_shape[-1])).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    run_both(nd, x, w, b, activation=activation, alpha=alpha, transpose=True, **geo)


def test_conv_transpose_without_bias_and_without_dx(engine):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((3, 6, 5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    _, (dx, dw, db) = run_both(2, x, w, None, activation="sigmoid", use_bias=False, need_dx=False, transpose=True,
                               strides=2, padding="same")
    assert dx is None and db is None and dw.shape == w.shape


@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
def test_conv_transpose_spanning_several_workspace_tiles(engine, strides):
    # 64 -> 32 channels over 22×22 (or 11×11 doubled): the dx-only tiles hold a few images each
    rng = np.random.default_rng(23)
    spatial = (22, 22) if strides == (1, 1) else (11, 11)
    x = (rng.standard_normal((9, *spatial, 64)) * 0.3).astype(np.float32)
    w = (rng.standard_normal((3, 3, 32, 64)) * 0.1).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    run_both(2, x, w, b, activation="elu", transpose=True, strides=strides, padding="same")


def test_conv_transpose_golden_values():
    # TensorFlow's conv2d_transpose of [[1, 2], [3, 4]] with a 2×2 kernel of ones: stride 2 puts
    # each pixel's 2×2 footprint side by side; stride 1 overlaps them
    x = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    w = np.ones((2, 2, 1, 1), np.float32)
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            y2 = ops.conv2d_transpose_forward(x, w, strides=2)[0, :, :, 0]
            y1 = ops.conv2d_transpose_forward(x, w)[0, :, :, 0]
            # 'same' with a 3-tap kernel and stride 2 on 3 steps: 6 outputs, no padding before
            y3 = ops.conv1d_transpose_forward(np.array([1, 10, 100], np.float32).reshape(1, 3, 1),
                                              np.array([1, 2, 3], np.float32).reshape(3, 1, 1), strides=2,
                                              padding="same")[0, :, 0]
        np.testing.assert_array_equal(y2, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], err_msg=backend)
        np.testing.assert_array_equal(y1, [[1, 3, 2], [4, 10, 6], [3, 7, 4]], err_msg=backend)
        np.testing.assert_array_equal(y3, [1, 2, 3 + 10, 20, 30 + 100, 200], err_msg=backend)


@pytest.mark.parametrize("size,k,s,d,padding,out_pad,out", [
    (7, 3, 2, 1, "same", None, 14), (7, 3, 2, 1, "valid", None, 15), (7, 5, 2, 1, "valid", None, 17),
    (7, 2, 2, 1, "valid", None, 14), (7, 4, 2, 1, "same", None, 14), (7, 3, 2, 1, "same", 1, 14),
    (7, 3, 2, 1, "valid", 1, 16), (7, 1, 3, 1, "valid", None, 21), (7, 3, 1, 2, "valid", None, 11),
    (7, 3, 1, 2, "same", None, 7), (7, 2, 3, 1, "same", 2, 20),
])
def test_conv_transpose_output_sizes_match_keras(size, k, s, d, padding, out_pad, out):
    x = np.zeros((1, size, 1), np.float32)
    w = np.zeros((k, 2, 1), np.float32)
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            y = ops.conv1d_transpose_forward(x, w, strides=s, padding=padding, output_padding=out_pad,
                                             dilation_rate=d)
        assert y.shape == (1, out, 2), backend


@pytest.mark.parametrize("strides,padding,k", [((1, 1), "valid", 3), ((2, 2), "same", 3), ((2, 2), "same", 4),
                                               ((3, 2), "valid", 2), ((1, 1), "same", 5)])
def test_conv_transpose_is_the_adjoint_of_conv(strides, padding, k):
    # <convT(x, w), v> = <x, conv(v, w)> when the convolution maps v's shape back to x's
    rng = np.random.default_rng(24)
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    w = rng.standard_normal((k, k, 4, 3)).astype(np.float32)
    y = ops.conv2d_transpose_forward(x, w, strides=strides, padding=padding)
    v = rng.standard_normal(y.shape).astype(np.float32)
    back = ops.conv2d_forward(v, w, strides=strides, padding=padding)
    assert back.shape == x.shape
    lhs, rhs = float(np.vdot(y.astype(np.float64), v)), float(np.vdot(x.astype(np.float64), back))
    assert abs(lhs - rhs) <= 1e-4 * (abs(lhs) + 1.0), (lhs, rhs)


@pytest.mark.parametrize("OC", [16, 1])  # 1: the column-matrix path for few output channels
def test_conv_transpose_gradients_do_not_depend_on_thread_count(OC):
    rng = np.random.default_rng(25)
    x = rng.standard_normal((11, 9, 9, 24)).astype(np.float32)
    w = (rng.standard_normal((4, 4, OC, 24)) * 0.1).astype(np.float32)
    b = rng.standard_normal(OC).astype(np.float32)
    for algo in ("implicit-scatter", "implicit-dcol", "im2col", "auto"):
        assert _core._select_conv_algorithm(algo)
        results = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            y = ops.conv2d_transpose_forward(x, w, b, strides=2, padding="same", activation="relu")
            dy = np.random.default_rng(26).standard_normal(y.shape).astype(np.float32)
            results.append((y, *ops.conv2d_transpose_backward(dy, x, w, y, strides=2, padding="same",
                                                              activation="relu")))
        for other in results[1:]:
            for a, b_ in zip(results[0], other):
                np.testing.assert_array_equal(a, b_, err_msg=algo)


@pytest.mark.parametrize("kind", ["conv", "pooled", "transpose"])
def test_frozen_layer_gradients_skip_dw(engine, kind):
    # need_dw=False (a frozen layer): dw is None and dx, db are the same as with dw computed
    rng = np.random.default_rng(27)
    x = rng.standard_normal((5, 9, 8, 6)).astype(np.float32)
    if kind == "transpose":
        w = rng.standard_normal((3, 3, 4, 6)).astype(np.float32)
        y = ops.conv2d_transpose_forward(x, w, strides=2, padding="same", activation="tanh")
        grads = lambda need_dw: ops.conv2d_transpose_backward(np.cos(y), x, w, y, strides=2, padding="same",
                                                              activation="tanh", need_dw=need_dw)
    elif kind == "pooled":
        w = rng.standard_normal((3, 3, 6, 4)).astype(np.float32)
        y, argmax = ops.conv2d_maxpool_forward(x, w, activation="relu", pool_size=2)
        grads = lambda need_dw: ops.conv2d_maxpool_backward(np.cos(y), argmax, y, x, w, activation="relu",
                                                            pool_size=2, need_dw=need_dw)
    else:
        w = rng.standard_normal((3, 3, 6, 4)).astype(np.float32)
        y = ops.conv2d_forward(x, w, strides=2, padding="same", activation="elu")
        grads = lambda need_dw: ops.conv2d_backward(np.cos(y), x, w, y, strides=2, padding="same", activation="elu",
                                                    need_dw=need_dw)
    (dx, dw, db), (dx2, dw2, db2) = grads(True), grads(False)
    assert dw2 is None and dw.shape == w.shape
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(db2, db)
    with fastnn.backend("numpy"):
        ref = grads(False)
    assert ref[1] is None
    assert_close(dx2, ref[0], f"{kind} dx without dw")


def test_conv_accepts_ints_lists_and_numpy_integers():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 9, 9, 2)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    y1 = ops.conv2d_forward(x, w, strides=2, padding="SAME", dilation_rate=1)
    y2 = ops.conv2d_forward(x, w, strides=[2, np.int64(2)], padding="same", dilation_rate=(1, 1))
    np.testing.assert_array_equal(y1, y2)
    # float64 input is converted like NumPy would
    np.testing.assert_allclose(ops.conv2d_forward(x.astype(np.float64), w, strides=2, padding="same"), y1,
                               rtol=1e-6)


# ---- Fused convolution + activation + max pooling ---------------------------------------------


@pytest.mark.parametrize("nd,x_shape,k,geo,pool", [
    (2, (3, 28, 28, 1), (3, 3), dict(), dict(pool_size=2)),  # the seed CNN's first block
    (2, (3, 13, 12, 5), (3, 3), dict(padding="same"), dict(pool_size=3, pool_strides=2, pool_padding="same")),
    (2, (1, 12, 11, 3), (2, 3), dict(strides=(2, 1)), dict(pool_size=(2, 1), pool_strides=1)),
    (1, (3, 17, 4), (3,), dict(padding="causal", dilation_rate=2), dict(pool_size=2, pool_padding="same")),
    (3, (2, 6, 5, 6, 3), (2, 2, 2), dict(), dict(pool_size=2)),
    (2, (2, 11, 11, 3), (3, 3), dict(), dict(pool_size=2, pool_strides=3)),  # gaps between the windows
    (2, (3, 13, 13, 4), (3, 3), dict(), dict(pool_size=2)),  # the second block: the pool reads 10 of 11 rows
    (2, (2, 15, 14, 3), (3, 3), dict(dilation_rate=2, padding="same"), dict(pool_size=(2, 3))),  # crop, padded input
    (2, (2, 16, 13, 3), (3, 3), dict(strides=2), dict(pool_size=2)),  # 7×6 -> 3×3 reads 6×6
    (2, (2, 8, 30, 5), (3, 3), dict(padding="same"), dict(pool_size=2)),  # the row-direct forward by default
])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_fused_conv_maxpool_matches_reference_and_composition(engine, nd, x_shape, k, geo, pool, activation):
    rng = np.random.default_rng(14)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((*k, x_shape[-1], 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    fwd, bwd = f"conv{nd}d_maxpool_forward", f"conv{nd}d_maxpool_backward"
    kw = dict(geo, activation=activation, **pool)
    with fastnn.backend("cpp"):
        y, argmax = getattr(ops, fwd)(x, w, b, **kw)
        # the unfused composition gives the same output, argmax and gradients
        yc = getattr(ops, f"conv{nd}d_forward")(x, w, b, activation=activation, **geo)
        yp, ap = getattr(ops, f"maxpool{nd}d_forward")(yc, pool_size=pool["pool_size"], strides=pool.get("pool_strides"),
                                                      padding=pool.get("pool_padding", "valid"))
    np.testing.assert_array_equal(y, yp)
    np.testing.assert_array_equal(argmax, ap)
    with fastnn.backend("numpy"):
        y_ref, argmax_ref = getattr(ops, fwd)(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    assert_close(y, y_ref, fwd)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for need_dx in (True, False):
        with fastnn.backend("cpp"):
            got = getattr(ops, bwd)(dy, argmax, y, x, w, need_dx=need_dx, **kw)
            dyc = getattr(ops, f"maxpool{nd}d_backward")(dy, ap, yc.shape)
            comp = getattr(ops, f"conv{nd}d_backward")(dyc, x, w, yc, activation=activation, need_dx=need_dx, **geo)
        with fastnn.backend("numpy"):
            want = getattr(ops, bwd)(dy.astype(np.float64), argmax, y.astype(np.float64), x.astype(np.float64),
                                     w.astype(np.float64), need_dx=need_dx, **kw)
        for name, g, c, r in zip(("dx", "dw", "db"), got, comp, want):
            if not need_dx and name == "dx":
                assert g is None and r is None
                continue
            assert_close(g, r, f"{bwd} {name} vs reference")
            assert_close(g, c, f"{bwd} {name} vs the unfused ops")


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_fused_conv_maxpool_bad_input(backend):
    x = np.zeros((2, 8, 8, 3), np.float32)
    w = np.zeros((3, 3, 3, 4), np.float32)
    with fastnn.backend(backend):
        with pytest.raises(ValueError, match="needs an elementwise activation"):
            ops.conv2d_maxpool_forward(x, w, activation="softmax", pool_size=2)
        with pytest.raises(ValueError, match="pool_strides must be positive"):
            ops.conv2d_maxpool_forward(x, w, pool_size=2, pool_strides=0)
        with pytest.raises(ValueError, match="pool_padding must be 'valid' or 'same'"):
            ops.conv2d_maxpool_forward(x, w, pool_size=2, pool_padding="full")
        with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
            ops.conv2d_maxpool_forward(x, w, pool_size=7)
        y, argmax = ops.conv2d_maxpool_forward(x, w, pool_size=2)
        with pytest.raises(ValueError, match=r"dy must be \(N, OH, OW, OC\) = \(2, 3, 3, 4\)"):
            ops.conv2d_maxpool_backward(np.zeros((2, 6, 6, 4), np.float32), argmax, y, x, w, pool_size=2)
        with pytest.raises(ValueError, match="argmax holds a position outside the input"):
            ops.conv2d_maxpool_backward(np.zeros_like(y), np.full(y.shape, 36, np.int32), y, x, w, pool_size=2)


# ---- Keras's output sizes and 'same' padding --------------------------------------------------


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_same_padding_puts_the_extra_pixel_after(backend):
    # even kernel, stride 1: total padding 1, all of it after (pad_before = total // 2 = 0)
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4, 1)
    w = np.ones((2, 2, 1, 1), np.float32)
    with fastnn.backend(backend):
        y = ops.conv2d_forward(x, w, padding="same")[0, :, :, 0]
    xi = x[0, :, :, 0]
    xp = np.pad(xi, ((0, 1), (0, 1)))
    want = xp[:-1, :-1] + xp[1:, :-1] + xp[:-1, 1:] + xp[1:, 1:]
    np.testing.assert_array_equal(y, want)
    # size 7, kernel 3, stride 2: output 4, total padding 2 -> one pixel before
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 7, 1)
    w = np.array([1.0, 10.0, 100.0], np.float32).reshape(3, 1, 1)
    with fastnn.backend(backend):
        y = ops.conv1d_forward(x, w, strides=2, padding="same")[0, :, 0]
    np.testing.assert_array_equal(y, [0 + 10 * 1 + 100 * 2, 2 + 30 + 400, 4 + 50 + 600, 6 + 70 + 0])


@pytest.mark.parametrize("size,k,s,d,padding,out", [
    (28, 3, 1, 1, "valid", 26), (28, 3, 1, 1, "same", 28), (28, 2, 2, 1, "same", 14), (27, 2, 2, 1, "valid", 13),
    (5, 2, 1, 1, "valid", 4), (10, 3, 1, 3, "valid", 4), (10, 3, 3, 1, "same", 4), (10, 4, 1, 1, "causal", 10),
    (9, 3, 2, 1, "causal", 5),
])
def test_output_sizes_match_keras(size, k, s, d, padding, out):
    x = np.zeros((1, size, 1), np.float32)
    w = np.zeros((k, 1, 2), np.float32)
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            assert ops.conv1d_forward(x, w, strides=s, padding=padding, dilation_rate=d).shape == (1, out, 2)


# ---- The reference against finite differences (float64) -------------------------------------


@pytest.mark.parametrize("nd,x_shape,k,geo", [
    (1, (2, 7, 2), (3,), dict(strides=2, padding="same")),
    (1, (2, 7, 2), (2,), dict(padding="causal", dilation_rate=2)),
    (2, (2, 5, 4, 2), (3, 2), dict(strides=(2, 1), padding="same")),
    (2, (1, 6, 5, 2), (2, 2), dict(padding="valid", dilation_rate=(2, 1))),
    (3, (1, 4, 3, 4, 2), (2, 2, 2), dict(padding="same")),
])
def test_reference_gradients_match_finite_differences(nd, x_shape, k, geo):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((*k, x_shape[-1], 3))
    b = rng.standard_normal(3)
    fwd, bwd = getattr(reference, f"conv{nd}d_forward"), getattr(reference, f"conv{nd}d_backward")
    y = fwd(x, w, b, activation="tanh", **geo)
    r = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(fwd(x, w, b, activation="tanh", **geo) * r))

    dx, dw, db = bwd(r, x, w, y, activation="tanh", **geo)
    for name, got, arr in (("dx", dx, x), ("dw", dw, w), ("db", db, b)):
        np.testing.assert_allclose(got, numeric_grad(loss, arr), rtol=1e-6, atol=1e-8, err_msg=name)


# ---- Thread-count independence ----------------------------------------------------------------


@pytest.mark.parametrize("strides,C", [((1, 1), 32), ((2, 2), 32), ((1, 1), 1)])
def test_gradients_do_not_depend_on_thread_count(engine, strides, C):
    # C = 32: threads share dw's rows; C = 1 (a first layer, 9 rows): the pixels are cut in fixed parts
    rng = np.random.default_rng(12)
    x = rng.standard_normal((9, 20, 20, C)).astype(np.float32)
    w = (rng.standard_normal((3, 3, C, 24)) * 0.1).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        y = ops.conv2d_forward(x, w, b, strides=strides, padding="same", activation="relu")
        dy = np.random.default_rng(13).standard_normal(y.shape).astype(np.float32)
        results.append((y, *ops.conv2d_backward(dy, x, w, y, strides=strides, padding="same", activation="relu")))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_backward_groups_of_tiles_do_not_depend_on_thread_count():
    # 37 images of the notes' second layer: the backward cuts them into tiles (the last one short)
    # and the tiles into groups with their own partial dw; 1-4 threads must give identical bits,
    # for the plain and the max-pool-fused backward and each input-gradient algorithm
    rng = np.random.default_rng(14)
    x = rng.standard_normal((37, 13, 13, 64)).astype(np.float32)
    w = (rng.standard_normal((3, 3, 64, 64)) * 0.05).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    for algo in ("implicit-flipped", "implicit-scatter", "implicit-dcol"):
        assert _core._select_conv_algorithm(algo)
        results = []
        for threads in (1, 2, 3, 4):
            fastnn.set_num_threads(threads)
            y = ops.conv2d_forward(x, w, b, activation="relu")
            dy = np.random.default_rng(15).standard_normal(y.shape).astype(np.float32)
            yp, argmax = ops.conv2d_maxpool_forward(x, w, b, activation="relu", pool_size=(2, 2))
            dyp = np.random.default_rng(16).standard_normal(yp.shape).astype(np.float32)
            results.append((*ops.conv2d_backward(dy, x, w, y, activation="relu"),
                            *ops.conv2d_maxpool_backward(dyp, argmax, yp, x, w, activation="relu", pool_size=(2, 2))))
        for other in results[1:]:
            for a, b_ in zip(results[0], other):
                np.testing.assert_array_equal(a, b_, err_msg=algo)


# ---- Bad input --------------------------------------------------------------------------------

X2 = np.zeros((2, 6, 6, 3), np.float32)
W2 = np.zeros((3, 3, 3, 4), np.float32)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("call,exc,match", [
    (lambda: ops.conv2d_forward(X2, W2, strides=0), ValueError, r"conv2d_forward: strides must be positive"),
    (lambda: ops.conv2d_forward(X2, W2, strides=(1, -2)), ValueError, r"strides must be positive"),
    (lambda: ops.conv2d_forward(X2, W2, dilation_rate=0), ValueError, r"dilation_rate must be positive"),
    # past 2**31 the geometry (dilation × kernel extent) would overflow int64: refused, not a crash
    (lambda: ops.conv2d_forward(X2, W2, padding="same", dilation_rate=2**62 + 1), ValueError,
     r"conv2d_forward: dilation_rate must be positive and below 2\*\*31. Received: dilation_rate=4611686018427387905"),
    (lambda: ops.conv2d_forward(X2, W2, padding="same", strides=(1, 2**63 - 1)), ValueError,
     r"strides must be positive and below 2\*\*31"),
    (lambda: ops.maxpool2d_forward(X2, pool_size=2**40, padding="same"), ValueError,
     r"maxpool2d_forward: pool_size must be positive and below 2\*\*31"),
    (lambda: ops.avgpool1d_forward(X2[:, 0], pool_size=2, strides=2**62, padding="same"), ValueError,
     r"avgpool1d_forward: strides must be positive and below 2\*\*31"),
    (lambda: ops.conv2d_forward(X2, W2, strides=(1, 2, 3)), ValueError, r"strides must be an int or a tuple of 2"),
    (lambda: ops.conv2d_forward(X2, W2, strides=1.5), TypeError, r"strides must be an int or a tuple of 2"),
    (lambda: ops.conv2d_forward(X2, W2, strides=2, dilation_rate=2), ValueError,
     r"strides > 1 are not supported together with dilation_rate > 1"),
    (lambda: ops.conv2d_forward(X2, np.zeros((7, 3, 3, 4), np.float32)), ValueError,
     r"Computed output size would be zero or negative"),
    (lambda: ops.conv2d_forward(X2, W2, dilation_rate=3), ValueError,
     r"Computed output size would be zero or negative"),
    (lambda: ops.conv2d_forward(X2, np.zeros((3, 3, 4, 4), np.float32)), ValueError,
     r"w must be \(KH, KW, C, OC\) with C=3. Received: w.shape=\(3, 3, 4, 4\)"),
    (lambda: ops.conv2d_forward(X2, np.zeros((0, 3, 3, 4), np.float32)), ValueError, r"kernel sizes must be positive"),
    (lambda: ops.conv2d_forward(X2, np.zeros((3, 3, 3, 0), np.float32)), ValueError,
     r"number of filters OC must be positive"),
    (lambda: ops.conv2d_forward(np.zeros((0, 6, 6, 3), np.float32), W2), ValueError, r"the batch is empty"),
    (lambda: ops.conv2d_forward(np.zeros((2, 0, 6, 3), np.float32), W2), ValueError, r"zero-size dimension"),
    (lambda: ops.conv2d_forward(X2[0], W2), ValueError, r"x must be 4-D \(N, H, W, C\)"),
    (lambda: ops.conv2d_forward(X2, W2[0]), ValueError, r"w must be 4-D \(KH, KW, C, OC\)"),
    (lambda: ops.conv1d_forward(X2[:, 0], W2[0], padding="full"), ValueError,
     r"padding must be 'valid', 'same' or 'causal'"),
    (lambda: ops.conv2d_forward(X2, W2, padding="causal"), ValueError, r"padding must be 'valid' or 'same'"),
    (lambda: ops.conv2d_forward(X2, W2, np.zeros(3, np.float32)), ValueError, r"b must be \(OC,\) with OC=4"),
    (lambda: ops.conv2d_forward(X2, W2, activation="swish"), ValueError, r"unknown activation"),
    (lambda: ops.conv2d_forward(X2.astype(str), W2), TypeError, r"x must hold real numbers"),
    (lambda: ops.conv2d_backward(np.zeros((2, 4, 4, 5), np.float32), X2, W2), ValueError,
     r"dy must be \(N, OH, OW, OC\) = \(2, 4, 4, 4\)"),
    (lambda: ops.conv2d_backward(np.zeros((2, 4, 4, 4), np.float32), X2, W2, activation="relu"), ValueError,
     r"y \(the forward output\) is needed"),
    (lambda: ops.conv3d_forward(X2, W2), ValueError, r"x must be 5-D \(N, D, H, W, C\)"),
    # transposed: w is (KH, KW, OC, C)
    (lambda: ops.conv2d_transpose_forward(X2, np.zeros((3, 3, 4, 4), np.float32)), ValueError,
     r"conv2d_transpose_forward: w must be \(KH, KW, OC, C\) with C=3. Received: w.shape=\(3, 3, 4, 4\)"),
    (lambda: ops.conv2d_transpose_forward(X2, W2[0]), ValueError, r"w must be 4-D \(KH, KW, OC, C\)"),
    (lambda: ops.conv2d_transpose_forward(X2, np.zeros((3, 3, 0, 3), np.float32)), ValueError,
     r"number of filters OC must be positive"),
    (lambda: ops.conv2d_transpose_forward(X2, W2.transpose(0, 1, 3, 2), strides=2, output_padding=2), ValueError,
     r"output_padding must be lower than the stride"),
    (lambda: ops.conv2d_transpose_forward(X2, W2.transpose(0, 1, 3, 2), output_padding=1), ValueError,
     r"output_padding must be lower than the stride"),
    (lambda: ops.conv2d_transpose_forward(X2, W2.transpose(0, 1, 3, 2), strides=2, output_padding=(0, -1)),
     ValueError, r"output_padding"),
    (lambda: ops.conv2d_transpose_forward(X2, W2.transpose(0, 1, 3, 2), strides=2, output_padding=0.5), TypeError,
     r"output_padding"),
    (lambda: ops.conv2d_transpose_forward(X2, W2.transpose(0, 1, 3, 2), strides=2, dilation_rate=2), ValueError,
     r"strides > 1 are not supported together with dilation_rate > 1"),
    (lambda: ops.conv1d_transpose_forward(X2[:, 0], W2[0].transpose(0, 2, 1), padding="causal"), ValueError,
     r"padding must be 'valid' or 'same'"),
    (lambda: ops.conv1d_transpose_forward(X2[:, :1, 0], np.zeros((2, 4, 3), np.float32), padding="same",
                                          output_padding=0), ValueError,
     r"Computed output size would be zero or negative"),
    (lambda: ops.conv2d_transpose_forward(np.zeros((0, 6, 6, 3), np.float32), W2.transpose(0, 1, 3, 2)),
     ValueError, r"the batch is empty"),
    (lambda: ops.conv2d_transpose_forward(X2, W2.transpose(0, 1, 3, 2), np.zeros(3, np.float32)), ValueError,
     r"b must be \(OC,\) with OC=4"),
    (lambda: ops.conv2d_transpose_backward(np.zeros((2, 8, 8, 3), np.float32), X2, W2.transpose(0, 1, 3, 2)),
     ValueError, r"dy must be \(N, OH, OW, OC\) = \(2, 8, 8, 4\)"),
    (lambda: ops.conv2d_transpose_backward(np.zeros((2, 8, 8, 4), np.float32), X2, W2.transpose(0, 1, 3, 2),
                                           activation="relu"), ValueError, r"y \(the forward output\) is needed"),
])
def test_bad_input_raises_before_any_kernel(backend, call, exc, match):
    with fastnn.backend(backend), pytest.raises(exc, match=match):
        call()


def test_every_conv_op_exists_on_both_backends():
    names = [f"conv{nd}d{t}_{p}" for nd, t, p in itertools.product((1, 2, 3), ("", "_transpose"),
                                                                       ("forward", "backward"))]
    for name in names:
        assert hasattr(fastnn._core, name) and hasattr(reference, name) and hasattr(ops, name)


def test_fused_relu_and_pooling_propagate_nan(engine):
    # a NaN weight (a diverged layer) must reach the output: relu(NaN) is NaN, as in NumPy and
    # PyTorch, in the GEMM epilogue and in the fused conv + max-pool alike
    x = np.ones((2, 6, 6, 3), np.float32)
    w = np.ones((3, 3, 3, 20), np.float32)
    w[0, 0, 0, 5] = np.nan
    b = np.zeros(20, np.float32)
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            y = ops.conv2d_forward(x, w, b, activation="relu")
            yp, _ = ops.conv2d_maxpool_forward(x, w, b, activation="relu", pool_size=2)
        assert np.isnan(y[..., 5]).all() and not np.isnan(np.delete(y, 5, axis=-1)).any(), backend
        assert np.isnan(yp[..., 5]).all() and not np.isnan(np.delete(yp, 5, axis=-1)).any(), backend
