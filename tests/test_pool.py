"""Pooling (max, average, global; 1-D/2-D/3-D channels-last): C++ against the NumPy reference
(forward, argmax and gradients) over a sweep, Keras's semantics on golden cases (first maximum
wins, 'same' borders average their real elements), the reference against finite differences,
thread-count independence and the bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import _core, ops, reference


@pytest.fixture(autouse=True)
def _restore_settings():
    backend, threads = fastnn.get_backend(), fastnn.get_num_threads()
    yield
    fastnn.set_backend(backend)
    fastnn.set_num_threads(threads)
    _core._select_gemm_kernel("auto")


@pytest.fixture(params=["avx512", "avx2-fma", "generic"])
def kernel(request):
    """Max pooling's running max is an ISA micro-kernel chosen with the GEMM's: force each in turn."""
    if not _core._select_gemm_kernel(request.param):
        pytest.skip(f"this CPU (or build) lacks the {request.param!r} micro-kernels")
    yield request.param


def on(backend, name, *args, **kwargs):
    with fastnn.backend(backend):
        return getattr(ops, name)(*args, **kwargs)


def to64(a):
    return a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


# (spatial rank, input shape, pool_size, strides, padding)
CASES = [
    (1, (3, 11, 3), 2, None, "valid"),
    (1, (1, 10, 17), 3, 2, "same"),
    (1, (3, 7, 1), 4, 1, "same"),
    (2, (3, 8, 8, 3), (2, 2), None, "valid"),
    (2, (3, 9, 7, 17), (2, 2), None, "same"),
    (2, (1, 10, 9, 3), (3, 2), (2, 3), "same"),
    (2, (3, 7, 9, 1), (3, 3), (1, 1), "valid"),
    (2, (3, 7, 9, 3), (3, 3), (1, 2), "same"),
    (2, (1, 5, 6, 3), (5, 6), None, "valid"),
    (2, (3, 26, 26, 32), (2, 2), None, "valid"),
    (3, (3, 5, 6, 7, 3), (2, 2, 2), None, "valid"),
    (3, (1, 5, 6, 7, 3), (3, 2, 2), (2, 1, 3), "same"),
    (2, (2, 20, 19, 20), (9, 9), (4, 5), "valid"),  # 81-position windows: taken 64 at a time
]
IDS = [f"{c[0]}d-{c[1]}-p{c[2]}-s{c[3]}-{c[4]}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_maxpool_matches_reference(kernel, case):
    nd, shape, pool, strides, padding = case
    rng = np.random.default_rng(len(shape) * 31 + shape[1])
    x = rng.standard_normal(shape).astype(np.float32)
    kw = dict(pool_size=pool, strides=strides, padding=padding)
    y, argmax = on("cpp", f"maxpool{nd}d_forward", x, **kw)
    y_ref, argmax_ref = on("numpy", f"maxpool{nd}d_forward", x.astype(np.float64), **kw)
    assert y.dtype == np.float32 and argmax.dtype == np.int32
    np.testing.assert_array_equal(y, y_ref.astype(np.float32))
    np.testing.assert_array_equal(argmax, argmax_ref)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = on("cpp", f"maxpool{nd}d_backward", dy, argmax, x.shape)
    dx_ref = on("numpy", f"maxpool{nd}d_backward", dy.astype(np.float64), argmax_ref, x.shape)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_avgpool_matches_reference(case):
    nd, shape, pool, strides, padding = case
    rng = np.random.default_rng(len(shape) * 37 + shape[1])
    x = rng.standard_normal(shape).astype(np.float32)
    kw = dict(pool_size=pool, strides=strides, padding=padding)
    y = on("cpp", f"avgpool{nd}d_forward", x, **kw)
    y_ref = on("numpy", f"avgpool{nd}d_forward", x.astype(np.float64), **kw)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = on("cpp", f"avgpool{nd}d_backward", dy, x.shape, **kw)
    dx_ref = on("numpy", f"avgpool{nd}d_backward", dy.astype(np.float64), x.shape, **kw)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 7, 5), (1, 4, 5, 17), (3, 2, 3, 4, 3), (2, 1, 1), (2, 3, 40), (2, 3000, 70)])
def test_global_pooling_matches_reference(kernel, shape):
    rng = np.random.default_rng(shape[-1])
    x = rng.standard_normal(shape).astype(np.float32)
    y = on("cpp", "global_avgpool_forward", x)
    np.testing.assert_allclose(y, on("numpy", "global_avgpool_forward", to64(x)), rtol=1e-5, atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(on("cpp", "global_avgpool_backward", dy, x.shape),
                               on("numpy", "global_avgpool_backward", to64(dy), x.shape), rtol=1e-6)
    y, argmax = on("cpp", "global_maxpool_forward", x)
    y_ref, argmax_ref = on("numpy", "global_maxpool_forward", to64(x))
    np.testing.assert_array_equal(y, y_ref.astype(np.float32))
    np.testing.assert_array_equal(argmax, argmax_ref)
    np.testing.assert_array_equal(on("cpp", "global_maxpool_backward", dy, argmax, x.shape),
                                  on("numpy", "global_maxpool_backward", dy, argmax_ref, x.shape))


def test_global_average_of_a_large_map_stays_accurate(kernel):
    # a float32 sum over 2.25M positions near 100 would drift 1e-3 (one value at a time)
    x = (np.random.default_rng(0).standard_normal((1, 1500, 1500, 2)) + 100).astype(np.float32)
    exact = x.astype(np.float64).mean(axis=(1, 2))
    for backend in ("cpp", "numpy"):
        y = on(backend, "global_avgpool_forward", x)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, exact, rtol=1e-6, err_msg=backend)


# ---- Keras's semantics on golden cases --------------------------------------------------------


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_max_routes_to_the_first_maximum(kernel, backend):
    # windows of 3 with stride 2: [5, 5, 1], [1, 7, 7], [7, 2, 2]; ties keep the first position
    x = np.array([5, 5, 1, 7, 7, 2, 2], np.float32).reshape(1, 7, 1)
    y, argmax = on(backend, "maxpool1d_forward", x, pool_size=3, strides=2)
    np.testing.assert_array_equal(y.ravel(), [5, 7, 7])
    np.testing.assert_array_equal(argmax.ravel(), [0, 3, 4])
    dx = on(backend, "maxpool1d_backward", np.array([1.0, 10.0, 100.0], np.float32).reshape(1, 3, 1), argmax,
            x.shape)
    np.testing.assert_array_equal(dx.ravel(), [1, 0, 0, 10, 100, 0, 0])  # overlapping windows add up
    # all-equal 2-D window: the first element in (h, w) order wins
    x = np.zeros((1, 2, 2, 2), np.float32)
    _, argmax = on(backend, "maxpool2d_forward", x, pool_size=2)
    np.testing.assert_array_equal(argmax.ravel(), [0, 0])
    x = np.array([1.0, 3.0, 3.0, 0.0], np.float32).reshape(1, 2, 2, 1)
    _, argmax = on(backend, "global_maxpool_forward", x)
    np.testing.assert_array_equal(argmax, [[1]])


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_max_pooling_propagates_nan(kernel, backend):
    # NaN is the maximum (NumPy's max, PyTorch's max_pool): the first NaN of a window wins and
    # stays, so a diverged layer's NaN reaches the loss instead of vanishing here. 19 channels:
    # full vector blocks and a tail on every ISA.
    C = 19
    x = np.tile(np.array([1, np.nan, 5, 2, np.nan, np.nan, 3, 4, 0], np.float32)[None, :, None], (2, 1, C))
    x[1, :, 7] = np.arange(9)  # a channel with no NaN keeps the plain maximum
    y, argmax = on(backend, "maxpool1d_forward", x, pool_size=3, strides=3)
    want = np.tile(np.array([[np.nan, np.nan, 4]], np.float32).T, (2, 1, C))
    want[1, :, 7] = [2, 5, 8]
    np.testing.assert_array_equal(y, want)
    want_arg = np.tile(np.array([[1, 4, 7]]).T, (2, 1, C))
    want_arg[1, :, 7] = [2, 5, 8]
    np.testing.assert_array_equal(argmax, want_arg)
    y, argmax = on(backend, "global_maxpool_forward", x)
    np.testing.assert_array_equal(np.isnan(y), np.arange(C)[None, :] != np.array([[C], [7]]))
    want_arg = np.ones((2, C))
    want_arg[1, 7] = 8
    np.testing.assert_array_equal(argmax, want_arg)
    # 2-D: NaN after a number, a number after NaN, and a NaN in the padding-free 'same' border
    x2 = np.array([[1, np.nan], [7, 2]], np.float32).reshape(1, 2, 2, 1).repeat(C, axis=3)
    y2, a2 = on(backend, "maxpool2d_forward", x2, pool_size=2, padding="same")
    assert np.isnan(y2).all() and (a2 == 1).all()


def test_max_pooling_four_position_windows_match_reference():
    # Windows of exactly four positions take a one-pass path (2x2, 1-D of 4, 3-D 2x2x1): ties keep
    # the first maximum, the first NaN wins and stays, -inf and equal rows included. Values from
    # a small set so that ties and NaNs land at every window position; 19 channels for a tail.
    rng = np.random.default_rng(5)
    values = np.array([np.nan, -np.inf, -1.0, 0.0, 2.0, 2.0, np.inf], np.float32)
    cases = [("maxpool2d_forward", (3, 6, 8, 19), dict(pool_size=2)),
             ("maxpool1d_forward", (2, 12, 19), dict(pool_size=4)),
             ("maxpool3d_forward", (2, 4, 4, 3, 19), dict(pool_size=(2, 2, 1))),
             ("maxpool2d_forward", (2, 7, 7, 19), dict(pool_size=2, padding="same"))]  # edge windows of 1-2
    for name, shape, kw in cases:
        x = values[rng.integers(0, len(values), shape)]
        y, argmax = on("cpp", name, x, **kw)
        y_ref, argmax_ref = on("numpy", name, x, **kw)
        np.testing.assert_array_equal(y, y_ref, err_msg=f"{name} {shape}")
        np.testing.assert_array_equal(argmax, argmax_ref, err_msg=f"{name} {shape}")


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_average_same_borders_divide_by_real_elements(backend):
    x = np.array([1, 2, 3, 4, 5], np.float32).reshape(1, 5, 1)
    y = on(backend, "avgpool1d_forward", x, pool_size=2, padding="same")
    np.testing.assert_allclose(y.ravel(), [1.5, 3.5, 5.0])  # Keras: the last window holds 5 alone
    dx = on(backend, "avgpool1d_backward", np.ones((1, 3, 1), np.float32), x.shape, pool_size=2, padding="same")
    np.testing.assert_allclose(dx.ravel(), [0.5, 0.5, 0.5, 0.5, 1.0])
    # 3×3 stride 1 'same' on 3×3: corner windows see 4 elements, edges 6, the centre 9
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    y = on(backend, "avgpool2d_forward", x, pool_size=3, strides=1, padding="same")[0, :, :, 0]
    xi = x[0, :, :, 0]
    assert y[0, 0] == pytest.approx(xi[:2, :2].mean()) and y[1, 1] == pytest.approx(xi.mean())
    assert y[0, 1] == pytest.approx(xi[:2, :].mean())
    # max 'same' ignores padding even when every real value is negative
    y, argmax = on(backend, "maxpool1d_forward", -np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1), pool_size=2,
                   padding="same")
    np.testing.assert_array_equal(y.ravel(), [-1, -3, -5])
    np.testing.assert_array_equal(argmax.ravel(), [0, 2, 4])


@pytest.mark.parametrize("size,pool,strides,padding,out", [
    (26, 2, None, "valid", 13), (11, 2, None, "valid", 5), (11, 2, None, "same", 6), (7, 3, 1, "valid", 5),
    (7, 3, 2, "same", 4),
])
def test_pool_output_sizes_match_keras(size, pool, strides, padding, out):
    x = np.zeros((1, size, size, 2), np.float32)
    for backend in ("cpp", "numpy"):
        y, _ = on(backend, "maxpool2d_forward", x, pool_size=pool, strides=strides, padding=padding)
        assert y.shape == (1, out, out, 2)
        assert on(backend, "avgpool2d_forward", x, pool_size=pool, strides=strides, padding=padding).shape == y.shape


# ---- The reference against finite differences (float64) -------------------------------------


def numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    flat, gf = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f()
        flat[i] = old - eps
        lo = f()
        flat[i] = old
        gf[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("nd,shape,kw", [
    (1, (2, 7, 2), dict(pool_size=3, strides=2, padding="same")),
    (2, (2, 5, 4, 2), dict(pool_size=(2, 3), strides=(1, 2), padding="same")),
    (2, (1, 6, 5, 2), dict(pool_size=2, padding="valid")),
    (3, (1, 3, 4, 3, 2), dict(pool_size=2, strides=1, padding="same")),
])
def test_reference_gradients_match_finite_differences(nd, shape, kw):
    rng = np.random.default_rng(21)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01  # distinct values: max is differentiable
    for kind in ("max", "avg"):
        fwd = getattr(reference, f"{kind}pool{nd}d_forward")
        y = fwd(x, **kw)[0] if kind == "max" else fwd(x, **kw)
        r = rng.standard_normal(y.shape)

        def loss():
            out = fwd(x, **kw)
            return float(np.sum((out[0] if kind == "max" else out) * r))

        if kind == "max":
            dx = getattr(reference, f"maxpool{nd}d_backward")(r, fwd(x, **kw)[1], x.shape)
        else:
            dx = getattr(reference, f"avgpool{nd}d_backward")(r, x.shape, **kw)
        np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8, err_msg=kind)
    # global pooling
    r = rng.standard_normal((shape[0], shape[-1]))
    dx = reference.global_avgpool_backward(r, x.shape)
    np.testing.assert_allclose(dx, numeric_grad(lambda: float(np.sum(reference.global_avgpool_forward(x) * r)), x),
                               rtol=1e-6, atol=1e-8)
    dx = reference.global_maxpool_backward(r, reference.global_maxpool_forward(x)[1], x.shape)
    np.testing.assert_allclose(dx, numeric_grad(lambda: float(np.sum(reference.global_maxpool_forward(x)[0] * r)),
                                                x), rtol=1e-6, atol=1e-8)


# ---- Thread-count independence ----------------------------------------------------------------


def test_pooling_does_not_depend_on_thread_count():
    rng = np.random.default_rng(22)
    x = rng.integers(0, 4, (7, 20, 18, 70)).astype(np.float32)  # many ties
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        y, argmax = ops.maxpool2d_forward(x, pool_size=3, strides=2, padding="same")
        dy = np.ones_like(y)
        ya = ops.avgpool2d_forward(x, pool_size=3, strides=1, padding="same")
        results.append((y, argmax, ops.maxpool2d_backward(dy, argmax, x.shape), ya,
                        ops.avgpool2d_backward(ya, x.shape, pool_size=3, strides=1, padding="same")))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


# ---- Bad input --------------------------------------------------------------------------------

X = np.zeros((2, 6, 6, 3), np.float32)
DY = np.zeros((2, 3, 3, 3), np.float32)
AM = np.zeros((2, 3, 3, 3), np.int32)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("call,exc,match", [
    (lambda: ops.maxpool2d_forward(X, pool_size=0), ValueError, r"maxpool2d_forward: pool_size must be positive"),
    (lambda: ops.avgpool2d_forward(X, pool_size=2, strides=(0, 1)), ValueError, r"strides must be positive"),
    (lambda: ops.maxpool2d_forward(X, pool_size=(2, 2, 2)), ValueError, r"pool_size must be an int or a tuple of 2"),
    (lambda: ops.maxpool2d_forward(X, pool_size=7), ValueError, r"Computed output size would be zero or negative"),
    (lambda: ops.avgpool1d_forward(X[:, 0], pool_size=2, padding="causal"), ValueError,
     r"padding must be 'valid' or 'same'"),
    (lambda: ops.maxpool2d_forward(X[0], pool_size=2), ValueError, r"x must be 4-D \(N, H, W, C\)"),
    (lambda: ops.maxpool2d_forward(np.zeros((0, 6, 6, 3), np.float32), pool_size=2), ValueError,
     r"the batch is empty"),
    (lambda: ops.avgpool2d_forward(np.zeros((2, 6, 0, 3), np.float32), pool_size=2), ValueError,
     r"zero-size dimension"),
    (lambda: ops.maxpool2d_backward(DY, AM + 36, X.shape), ValueError, r"argmax holds a position outside the input"),
    (lambda: ops.maxpool2d_backward(DY, AM - 1, X.shape), ValueError, r"argmax holds a position outside the input"),
    # checked in their own dtype: as int32, 2**32 + p would wrap to the valid p
    (lambda: ops.maxpool2d_backward(DY, AM.astype(np.int64) + 2**32, X.shape), ValueError,
     r"argmax holds a position outside the input \(expected 0 <= argmax < 36\). Received: argmax.flat\[0\]=429496\d{4}$"),
    (lambda: ops.maxpool2d_backward(DY, AM.astype(np.uint64) + np.uint64(2**63), X.shape), ValueError,
     r"Received: argmax.flat\[0\]=92233720368547758\d\d$"),
    (lambda: ops.global_maxpool_backward(np.zeros((2, 3), np.float32), np.full((2, 3), -2**32, np.int64), X.shape),
     ValueError, r"Received: argmax.flat\[0\]=-4294967296$"),
    (lambda: ops.maxpool2d_backward(DY, AM.astype(np.float32), X.shape), TypeError, r"argmax must be the integer"),
    (lambda: ops.maxpool2d_backward(DY, AM[:, :2], X.shape), ValueError, r"argmax must be .* \(the shape of dy\)"),
    (lambda: ops.maxpool2d_backward(DY[..., :2], AM[..., :2], X.shape), ValueError, r"dy must have x's batch size"),
    (lambda: ops.maxpool2d_backward(DY, AM, (2, 6, 6)), ValueError, r"x_shape must be 4-D"),
    (lambda: ops.avgpool2d_backward(DY, (2, 6, 0, 3), pool_size=2), ValueError, r"x_shape has a zero-size"),
    (lambda: ops.avgpool2d_backward(DY, X.shape, pool_size=3), ValueError,
     r"dy must be \(N, OH, OW, OC\) = \(2, 2, 2, 3\)"),
    (lambda: ops.global_avgpool_forward(X[:, 0, 0]), ValueError, r"x must be \(N, L, C\)"),
    (lambda: ops.global_maxpool_forward(np.zeros((0, 3, 3), np.float32)), ValueError, r"the batch is empty"),
    (lambda: ops.global_avgpool_backward(np.zeros((2, 4), np.float32), X.shape), ValueError,
     r"dy must be \(N, C\) = \(2, 3\)"),
    (lambda: ops.global_maxpool_backward(np.zeros((2, 3), np.float32), np.full((2, 3), 36, np.int32), X.shape),
     ValueError, r"argmax holds a position outside the input"),
])
def test_bad_input_raises_before_any_kernel(backend, call, exc, match):
    with fastnn.backend(backend), pytest.raises(exc, match=match):
        call()
