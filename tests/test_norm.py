"""Batch normalisation (axis -1): C++ against the NumPy reference (forward, moving statistics,
every gradient; 2-D and 4-D inputs; training and inference), the reference's gradients against
central finite differences in float64, Keras's formulas, large offsets, thread-count
independence and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import _core
from fastnn import reference as ref

SHAPES = [(7, 1), (7, 3), (5, 17), (3, 5, 4, 1), (2, 3, 5, 3), (3, 4, 3, 17), (64, 14, 14, 17)]


def make(shape, seed=0, offset=0.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    C = shape[-1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3.0, C) + offset + rng.uniform(-2, 2, C)).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    mm = rng.standard_normal(C).astype(np.float32)
    mv = rng.uniform(0.5, 2.0, C).astype(np.float32)
    dy = rng.standard_normal(shape).astype(dtype)
    return x, gamma, beta, mm, mv, dy


def close(a, b, what, rtol=2e-5, atol=2e-5):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def assert_thread_count_independent(run):
    """``run()`` (a tuple of arrays) gives bitwise the same at 1, 2 and 3 threads."""
    results = []
    old = fastnn.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            results.append(run())
    finally:
        fastnn.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", ["both", "none", "scale", "center"])
def test_cpp_matches_reference(shape, training, affine):
    x, gamma, beta, mm, mv, dy = make(shape)
    g = gamma if affine in ("both", "scale") else None
    b = beta if affine in ("both", "center") else None
    out, moving = {}, {}
    for be in (_core, ref):
        m1, v1 = mm.copy(), mv.copy()
        y, mean, inv_std = be.batchnorm_forward(x, g, b, m1, v1, training=training, momentum=0.9, epsilon=1e-3)
        grads = be.batchnorm_backward(dy, x, g, mean, inv_std, training=training, center=b is not None)
        out[be] = (y, mean, inv_std) + grads
        moving[be] = (m1, v1)
    names = ("y", "mean", "inv_std", "dx", "dgamma", "dbeta")
    for name, c, r in zip(names, out[_core], out[ref]):
        if name == "dgamma" and g is None or name == "dbeta" and b is None:
            assert c is None and r is None, name
            continue
        assert c.dtype == np.float32 and c.shape == r.shape, name
        close(c, r, f"{name} shape={shape} training={training}")
    for name, c, r in zip(("moving_mean", "moving_var"), moving[_core], moving[ref]):
        close(c, r, name, rtol=1e-6, atol=1e-6)
    if not training:
        np.testing.assert_array_equal(moving[_core][0], mm)
        np.testing.assert_array_equal(moving[_core][1], mv)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_keras_formulas(be):
    x, gamma, beta, mm, mv, _ = make((6, 2, 3))
    x64 = x.astype(np.float64).reshape(-1, 3)
    mean, var = x64.mean(0), x64.var(0)  # biased, as keras.ops.moments
    m1, v1 = mm.copy(), mv.copy()
    y, bm, bis = be.batchnorm_forward(x, gamma, beta, m1, v1, training=True)  # Keras defaults 0.99, 1e-3
    close(y.reshape(-1, 3), gamma * (x64 - mean) / np.sqrt(var + 1e-3) + beta, "y", 1e-5, 1e-5)
    close(bm, mean, "mean", 1e-6, 1e-6)
    close(bis, 1 / np.sqrt(var + 1e-3), "inv_std", 1e-6, 1e-6)
    close(m1, mm * 0.99 + mean * 0.01, "moving_mean", 1e-6, 1e-6)
    close(v1, mv * 0.99 + var * 0.01, "moving_var", 1e-6, 1e-6)
    # inference: the moving statistics, unchanged
    y, bm, bis = be.batchnorm_forward(x, gamma, beta, m1, v1, training=False, epsilon=0.01)
    close(y.reshape(-1, 3), gamma * (x64 - m1) / np.sqrt(v1.astype(np.float64) + 0.01) + beta, "y_inf", 1e-5, 1e-5)
    np.testing.assert_array_equal(bm, m1)
    close(bis, 1 / np.sqrt(v1.astype(np.float64) + 0.01), "inv_std_inf", 1e-6, 1e-6)


def numeric_grad(f, a, h=1e-6):
    g = np.zeros_like(a)
    flat, gf = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        gf[i] = (fp - fm) / (2 * h)
    return g


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 2), (4, 1)], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_reference_gradients_match_finite_differences(shape, training):
    x, gamma, beta, mm, mv, dy = (a.astype(np.float64) for a in make(shape, seed=4, dtype=np.float64))
    mm64, mv64 = mm.copy(), mv.copy()

    def loss():
        # fresh moving statistics each call: the forward updates them in place
        y, _, _ = ref.batchnorm_forward(x, gamma, beta, mm64.copy(), mv64.copy(), training=training)
        return float(np.sum(y * dy))

    _, mean, inv_std = ref.batchnorm_forward(x, gamma, beta, mm64.copy(), mv64.copy(), training=training)
    assert mean.dtype == np.float64
    dx, dgamma, dbeta = ref.batchnorm_backward(dy, x, gamma, mean, inv_std, training=training)
    for name, analytic, arr in (("dx", dx, x), ("dgamma", dgamma, gamma), ("dbeta", dbeta, beta)):
        np.testing.assert_allclose(analytic, numeric_grad(loss, arr), rtol=1e-6, atol=1e-7, err_msg=name)


def test_large_offsets_keep_the_variance():
    # 1e4 + N(0, 1) and 1e6 + N(0, 0.5): a naive float E[x²] - E[x]² would lose every digit
    for offset, std in ((1e4, 1.0), (1e6, 0.5), (-3e5, 2.0)):
        rng = np.random.default_rng(1)
        x = (offset + std * rng.standard_normal((4096, 3))).astype(np.float32)
        x64 = x.astype(np.float64)
        _, mean, inv_std = _core.batchnorm_forward(x, None, None, np.zeros(3, np.float32), np.ones(3, np.float32),
                                                   training=True, epsilon=0.0)
        np.testing.assert_allclose(mean, x64.mean(0), rtol=1e-7)
        np.testing.assert_allclose(inv_std, 1 / x64.std(0), rtol=1e-6)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_channels_with_a_large_offset_keep_their_deviations(be):
    # channels of 1e4 + 0.01·noise: the float32 batch mean is off by up to 5e-4 (half an ulp at 1e4),
    # which x - mean carried into every output (0.009 off) and, through the mean handed to the
    # backward, into dgamma (0.3 in 8.7) and dx
    rng = np.random.default_rng(0)
    N, C = 512, 8
    x = (1e4 + 0.01 * rng.standard_normal((N, C))).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, C).astype(np.float32)
    dy = rng.standard_normal((N, C)).astype(np.float32)
    x64 = x.astype(np.float64)
    inv_std64 = 1 / np.sqrt(x64.var(0) + 1e-3)
    xhat = (x64 - x64.mean(0)) * inv_std64
    y, mean, inv_std = be.batchnorm_forward(x, gamma, None, np.zeros(C, np.float32), np.ones(C, np.float32),
                                            training=True)
    close(y, xhat * gamma, "y", 0, 1e-5)
    dx, dgamma, _ = be.batchnorm_backward(dy, x, gamma, mean, inv_std, center=False)
    dx_want = gamma * inv_std64 * (dy - dy.mean(0) - xhat * (dy * xhat).mean(0))
    close(dgamma, np.sum(dy * xhat, axis=0), "dgamma", 0, 1e-4)
    close(dx, dx_want, "dx", 1e-4, 1e-4)
    # inference: the moving mean given is exact, and nothing is taken from the batch
    dx_inf, dgamma_inf, _ = be.batchnorm_backward(dy, x, gamma, mean, inv_std, training=False, center=False)
    close(dgamma_inf, np.sum(dy * (x64 - mean) * inv_std, axis=0), "dgamma inference", 1e-5, 1e-4)
    close(dx_inf, gamma * inv_std * dy, "dx inference", 1e-6, 1e-6)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_non_finite_batch_gives_nan_statistics(be):
    # a NaN or inf in a channel makes its batch variance NaN, and so inv_std and the moving variance, as in
    # Keras; the C++ clamp std::max(0.0, var) turned the NaN into 0: inv_std = 1/sqrt(epsilon), and a
    # finite moving_var next to a NaN moving_mean. The other channels are untouched.
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    x[2, 0], x[4, 1] = np.nan, np.inf
    mm, mv = np.zeros(3, np.float32), np.ones(3, np.float32)
    with np.errstate(invalid="ignore"):  # NumPy's inf - inf
        _, mean, inv_std = be.batchnorm_forward(x, None, None, mm, mv, training=True, momentum=0.5)
    assert np.isnan(mean[0]) and np.isnan(inv_std[0]) and np.isnan(mm[0]) and np.isnan(mv[0])
    assert np.isnan(inv_std[1]) and np.isnan(mv[1])
    assert np.isfinite(mean[2]) and np.isfinite(inv_std[2]) and np.isfinite(mv[2])


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_inference_backward_does_not_read_x(be):
    # with the statistics constant dx = gamma·inv_std·dy: x does not enter it. The C++ kernel computed
    # a·(dy - 0 - (x - mean)·0), so a NaN in x made dx NaN where the reference gave the finite value
    rng = np.random.default_rng(1)
    dy, x = rng.random((4, 3), dtype=np.float32), rng.random((4, 3), dtype=np.float32)
    x[0, 0] = np.nan
    gamma, mean, inv_std = np.float32([1.0, 2.0, 0.5]), np.zeros(3, np.float32), np.float32([1.0, 0.5, 4.0])
    dx = be.batchnorm_backward(dy, x, gamma, mean, inv_std, training=False)[0]
    np.testing.assert_allclose(dx, dy * gamma * inv_std, rtol=1e-6)


def test_independent_of_thread_count():
    x, gamma, beta, mm, mv, dy = make((64, 14, 14, 17), seed=2, offset=50.0)
    xw, _, _, _, _, _ = make((300, 2500), seed=3)  # many channels: channel blocks as well as row blocks

    def run():
        m1, v1 = mm.copy(), mv.copy()
        y, mean, inv_std = _core.batchnorm_forward(x, gamma, beta, m1, v1, training=True)
        grads = _core.batchnorm_backward(dy, x, gamma, mean, inv_std)
        yw = _core.batchnorm_forward(xw, None, None, np.zeros(2500, np.float32), np.ones(2500, np.float32),
                                     training=True)
        return (y, mean, inv_std, m1, v1) + grads + yw

    assert_thread_count_independent(run)


def test_optional_outputs_and_dtypes():
    x, gamma, beta, mm, mv, dy = make((4, 3))
    _, mean, inv_std = _core.batchnorm_forward(x, gamma, beta, mm, mv, training=True)
    for be in (_core, ref):
        dx, dg, db = be.batchnorm_backward(dy, x, gamma, mean, inv_std, need_dx=False, center=False)
        assert dx is None and db is None and dg.shape == (3,)
        dx, dg, db = be.batchnorm_backward(dy, x, None, mean, inv_std, training=False)
        assert dg is None and dx.shape == x.shape and db.shape == (3,)
        np.testing.assert_allclose(dx, dy * inv_std, rtol=1e-6)  # inference, no gamma: dy * inv_std
    # read-only inputs of other dtypes are converted
    y64, _, _ = _core.batchnorm_forward(x.astype(np.float64), None, None, mm.copy(), mv.copy(), training=False)
    y32, _, _ = _core.batchnorm_forward(x, None, None, mm.copy(), mv.copy(), training=False)
    assert y64.dtype == np.float32
    np.testing.assert_array_equal(y64, y32)
    # an empty batch is fine at inference
    y, _, _ = _core.batchnorm_forward(np.zeros((0, 3), np.float32), None, None, mm, mv, training=False)
    assert y.shape == (0, 3)


def test_ops_dispatch():
    x, gamma, beta, mm, mv, dy = make((6, 3))
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            m1 = mm.copy()
            y, mean, inv_std = fastnn.ops.batchnorm_forward(x, gamma, beta, m1, mv.copy(), training=True)
            assert not np.array_equal(m1, mm)
            dx, dg, db = fastnn.ops.batchnorm_backward(dy, x, gamma, mean, inv_std)
            close(db, dy.sum(0), "dbeta", 1e-5, 1e-5)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_errors(be):
    x, gamma, beta, mm, mv, dy = make((4, 3))
    fwd = be.batchnorm_forward
    with pytest.raises(ValueError, match=r"batchnorm_forward: x must be \(N, \.\.\., C\) with at least 2 dimensions.*"
                                         r"Received: x\.shape=\(3,\)"):
        fwd(x[0], gamma, beta, mm, mv, training=True)
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma must be \(C,\) with C=3\. Received: gamma\.shape=\(4,\)"):
        fwd(x, np.ones(4), beta, mm, mv, training=True)
    with pytest.raises(ValueError, match=r"batchnorm_forward: beta must be \(C,\) with C=3"):
        fwd(x, gamma, np.ones((1, 3)), mm, mv, training=True)
    with pytest.raises(TypeError, match=r"batchnorm_forward: moving_mean is written in place and must be float32\. "
                                        r"Received: moving_mean\.dtype=int64"):
        fwd(x, gamma, beta, np.zeros(3, np.int64), mv, training=True)
    with pytest.raises(ValueError, match=r"batchnorm_forward: moving_var must have shape \(3,\)\. "
                                         r"Received: moving_var\.shape=\(2,\)"):
        fwd(x, gamma, beta, mm, mv[:2].copy(), training=True)
    with pytest.raises(ValueError, match=r"batchnorm_forward: moving_mean and moving_var share memory, and both are "
                                         r"written in place"):
        fwd(x, gamma, beta, mm, mm, training=True)
    pair = np.zeros(4, np.float32)  # overlapping views, not the same array
    with pytest.raises(ValueError, match=r"batchnorm_forward: moving_mean and moving_var share memory"):
        fwd(x, gamma, beta, pair[:3], pair[1:], training=True)
    xc = np.ascontiguousarray(x, dtype=np.float32)  # the statistics written into the batch they are computed from
    with pytest.raises(ValueError, match=r"batchnorm_forward: moving_mean and x share memory, and one is written"):
        fwd(xc, gamma, beta, xc.reshape(-1)[:3], mv, training=True)
    with pytest.raises(ValueError, match=r"batchnorm_forward: training needs a non-empty batch"):
        fwd(np.zeros((0, 3), np.float32), gamma, beta, mm, mv, training=True)
    with pytest.raises(ValueError, match=r"batchnorm_forward: momentum must be in \[0, 1\]\. Received: momentum=1\.5"):
        fwd(x, gamma, beta, mm, mv, training=True, momentum=1.5)
    with pytest.raises(ValueError, match=r"batchnorm_forward: epsilon must be a finite number >= 0"):
        fwd(x, gamma, beta, mm, mv, training=True, epsilon=-1.0)
    with pytest.raises(TypeError):
        fwd(x, gamma, beta, mm, mv)  # training is a required keyword
    with pytest.raises(ValueError, match=r"batchnorm_backward: dy must have x's shape \(4, 3\)\. Received: dy\.shape=\(3, 4\)"):
        be.batchnorm_backward(dy.T, x, gamma, mm, mv)
    with pytest.raises(ValueError, match=r"batchnorm_backward: inv_std must be \(C,\) with C=3"):
        be.batchnorm_backward(dy, x, gamma, mm, mv[:1])
    with pytest.raises(TypeError, match=r"batchnorm_backward: x must hold real numbers"):
        be.batchnorm_backward(dy, np.full((4, 3), "a"), gamma, mm, mv)


# ---- layer normalisation (last axis) --------------------------------------------------------------

LN_SHAPES = [(1, 1), (7, 1), (3, 5), (5, 17), (2, 3, 130), (4, 33, 64), (9, 1000)]


def make_ln(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    C = shape[-1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3.0, shape[:-1] + (1,)) + rng.uniform(-5, 5, shape[:-1] + (1,)))
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    dy = rng.standard_normal(shape)
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dy))


@pytest.mark.parametrize("shape", LN_SHAPES, ids=str)
@pytest.mark.parametrize("affine", ["both", "none", "scale", "center"])
def test_layernorm_cpp_matches_reference(shape, affine):
    x, gamma, beta, dy = make_ln(shape)
    g = gamma if affine in ("both", "scale") else None
    b = beta if affine in ("both", "center") else None
    out = {}
    for be in (_core, ref):
        y, mean, inv_std = be.layernorm_forward(x, g, b, epsilon=1e-3)
        out[be] = (y, mean, inv_std) + be.layernorm_backward(dy, x, g, mean, inv_std, center=b is not None)
    for name, c, r in zip(("y", "mean", "inv_std", "dx", "dgamma", "dbeta"), out[_core], out[ref]):
        if name == "dgamma" and g is None or name == "dbeta" and b is None:
            assert c is None and r is None, name
            continue
        assert c.dtype == np.float32 and c.shape == r.shape, name
        close(c, r, f"{name} shape={shape} affine={affine}", rtol=2e-5, atol=2e-5 * (1 + np.abs(r).max()))
    assert out[_core][1].shape == shape[:-1]


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_layernorm_keras_formula(be):
    x, gamma, beta, _ = make_ln((6, 2, 5))
    x64 = x.astype(np.float64)
    mean, var = x64.mean(-1, keepdims=True), x64.var(-1, keepdims=True)  # biased, per sample and step
    y, m, s = be.layernorm_forward(x, gamma, beta)  # Keras's default epsilon 1e-3
    close(y, gamma * (x64 - mean) / np.sqrt(var + 1e-3) + beta, "y", 1e-5, 1e-5)
    close(m, mean[..., 0], "mean", 1e-6, 1e-6)
    close(s, 1 / np.sqrt(var[..., 0] + 1e-3), "inv_std", 1e-6, 1e-6)


@pytest.mark.parametrize("shape", [(3, 5), (2, 2, 4), (4, 1)], ids=str)
def test_layernorm_reference_gradients_match_finite_differences(shape):
    x, gamma, beta, dy = make_ln(shape, seed=4, dtype=np.float64)

    def loss():
        return float(np.sum(ref.layernorm_forward(x, gamma, beta)[0] * dy))

    _, mean, inv_std = ref.layernorm_forward(x, gamma, beta)
    assert mean.dtype == np.float64
    dx, dgamma, dbeta = ref.layernorm_backward(dy, x, gamma, mean, inv_std)
    for name, analytic, arr in (("dx", dx, x), ("dgamma", dgamma, gamma), ("dbeta", dbeta, beta)):
        np.testing.assert_allclose(analytic, numeric_grad(loss, arr), rtol=1e-6, atol=1e-7, err_msg=name)


def test_layernorm_independent_of_thread_count():
    x, gamma, beta, dy = make_ln((64, 28, 130), seed=2)

    def run():
        y, mean, inv_std = _core.layernorm_forward(x, gamma, beta)
        return (y, mean, inv_std) + _core.layernorm_backward(dy, x, gamma, mean, inv_std)

    assert_thread_count_independent(run)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_layernorm_errors(be):
    x, gamma, beta, dy = make_ln((4, 3))
    with pytest.raises(ValueError, match=r"layernorm_forward: x must be \(\.\.\., C\) with C >= 1 values to normalise "
                                         r"over its last axis\. Received: x\.shape=\(4, 0\)"):
        be.layernorm_forward(np.zeros((4, 0), np.float32), None, None)
    with pytest.raises(ValueError, match=r"layernorm_forward: gamma must be \(C,\) with C=3\. Received: gamma\.shape=\(4,\)"):
        be.layernorm_forward(x, np.ones(4, np.float32), beta)
    with pytest.raises(ValueError, match=r"layernorm_forward: epsilon must be a finite number >= 0"):
        be.layernorm_forward(x, gamma, beta, epsilon=float("nan"))
    _, mean, inv_std = be.layernorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match=r"layernorm_backward: dy must have x's shape \(4, 3\)\. Received: dy\.shape=\(3, 4\)"):
        be.layernorm_backward(dy.T, x, gamma, mean, inv_std)
    with pytest.raises(ValueError, match=r"layernorm_backward: inv_std must have x's shape without its last axis, "
                                         r"\(4,\)\. Received: inv_std\.shape=\(3,\)"):
        be.layernorm_backward(dy, x, gamma, mean, inv_std[:3])
    dx, dg, db = be.layernorm_backward(dy, x, None, mean, inv_std, need_dx=False, center=False)
    assert dx is None and dg is None and db is None


def test_layernorm_layer_runs_the_kernel_and_matches_the_numpy_backend():
    # the layer over its last axis (or last two) uses the kernel; over a middle axis, NumPy; both as the
    # float64 reference backend computes the same layer
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 5, 3)).astype(np.float32) * 3 + 1
    for axis in (-1, [-2, -1], 1):
        layer = fastnn.layers.LayerNormalization(axis=axis)
        layer.build(x.shape)
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
        dy = rng.standard_normal(x.shape).astype(np.float32)
        y = layer(x, training=True)
        dx = layer.backward(dy)
        grads = layer.get_gradients()
        with fastnn.backend("numpy"):
            y_ref = layer(x.astype(np.float64), training=True)
            dx_ref = layer.backward(dy.astype(np.float64))
            grads_ref = layer.get_gradients()
        close(y, y_ref, f"y axis={axis}", 1e-5, 1e-5)
        close(dx, dx_ref, f"dx axis={axis}", 1e-5, 1e-5)
        for g, r in zip(grads, grads_ref):
            close(g, r, f"grads axis={axis}", 1e-5, 1e-5)
        assert y.dtype == np.float32 and dx.dtype == np.float32


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_layernorm_rows_with_a_large_offset_keep_their_deviations(be):
    # rows of 1e4 + 0.01·noise: a float32 mean is off by up to 5e-4 (half an ulp at 1e4), which x - mean
    # carried into every output (0.04 off) and, through the mean handed to the backward, into dgamma (0.2)
    rng = np.random.default_rng(0)
    x = (1e4 + 0.01 * rng.standard_normal((4, 64))).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, 64).astype(np.float32)
    dy = rng.standard_normal((4, 64)).astype(np.float32)
    x64 = x.astype(np.float64)
    xhat = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-6)
    y, mean, inv_std = be.layernorm_forward(x, gamma, None, epsilon=1e-6)
    close(y, xhat * gamma, "y", 0, 1e-5)
    dx, dgamma, _ = be.layernorm_backward(dy, x, gamma, mean, inv_std, center=False)
    g = dy * gamma.astype(np.float64)
    dx_want = (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)) / np.sqrt(
        x64.var(-1, keepdims=True) + 1e-6)
    close(dgamma, np.sum(dy * xhat, axis=0), "dgamma", 0, 1e-4)
    close(dx, dx_want, "dx", 1e-4, 1e-2)


# ---- group normalisation (channels last) -----------------------------------------------------------

# (shape, groups): one position (a Dense output), instance norm (groups = C), one group, odd sizes,
# and samples of more rows than a parameter-sum block (64)
GN_CASES = [((1, 1), 1), ((5, 6), 3), ((3, 5, 4, 8), 2), ((2, 1, 1, 4), 4), ((4, 3, 10), 10), ((5, 11, 12), 1),
            ((7, 9, 9, 32), 8), ((3, 70, 6), 3), ((130, 2, 6), 2)]


def make_gn(shape, seed=0, dtype=np.float32, offset=0.0):
    rng = np.random.default_rng(seed)
    C = shape[-1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0, (shape[0],) + (1,) * (len(shape) - 1)) + offset
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    dy = rng.standard_normal(shape)
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dy))


@pytest.mark.parametrize("shape, groups", GN_CASES, ids=str)
@pytest.mark.parametrize("affine", ["both", "none", "scale", "center"])
def test_groupnorm_cpp_matches_reference(shape, groups, affine):
    x, gamma, beta, dy = make_gn(shape)
    g = gamma if affine in ("both", "scale") else None
    b = beta if affine in ("both", "center") else None
    out = {}
    for be in (_core, ref):
        y, mean, inv_std = be.groupnorm_forward(x, g, b, groups=groups, epsilon=1e-3)
        out[be] = (y, mean, inv_std) + be.groupnorm_backward(dy, x, g, mean, inv_std, groups=groups,
                                                             center=b is not None)
    for name, c, r in zip(("y", "mean", "inv_std", "dx", "dgamma", "dbeta"), out[_core], out[ref]):
        if name == "dgamma" and g is None or name == "dbeta" and b is None:
            assert c is None and r is None, name
            continue
        assert c.dtype == np.float32 and c.shape == r.shape, name
        close(c, r, f"{name} shape={shape} groups={groups} affine={affine}", rtol=2e-5,
              atol=2e-5 * (1 + np.abs(r).max()))
    assert out[_core][1].shape == (shape[0], groups)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_groupnorm_keras_formula(be):
    # Keras 3's GroupNormalization: (batch, positions, groups, channels per group), moments over
    # the positions and the group's channels, biased variance
    x, gamma, beta, _ = make_gn((3, 4, 5, 6))
    g = x.astype(np.float64).reshape(3, 20, 2, 3)
    mean, var = g.mean(axis=(1, 3), keepdims=True), g.var(axis=(1, 3), keepdims=True)
    want = ((g - mean) / np.sqrt(var + 1e-3)).reshape(x.shape) * gamma + beta
    y, m, s = be.groupnorm_forward(x, gamma, beta, groups=2)
    close(y, want, "y", 1e-5, 1e-5)
    close(m, mean.reshape(3, 2), "mean", 1e-6, 1e-6)
    close(s, 1 / np.sqrt(var.reshape(3, 2) + 1e-3), "inv_std", 1e-6, 1e-6)


@pytest.mark.parametrize("shape, groups", [((3, 4), 2), ((2, 3, 6), 3), ((2, 2, 2, 4), 1)], ids=str)
def test_groupnorm_reference_gradients_match_finite_differences(shape, groups):
    x, gamma, beta, dy = make_gn(shape, seed=4, dtype=np.float64)

    def loss():
        return float(np.sum(ref.groupnorm_forward(x, gamma, beta, groups=groups)[0] * dy))

    _, mean, inv_std = ref.groupnorm_forward(x, gamma, beta, groups=groups)
    assert mean.dtype == np.float64
    dx, dgamma, dbeta = ref.groupnorm_backward(dy, x, gamma, mean, inv_std, groups=groups)
    for name, analytic, arr in (("dx", dx, x), ("dgamma", dgamma, gamma), ("dbeta", dbeta, beta)):
        np.testing.assert_allclose(analytic, numeric_grad(loss, arr), rtol=1e-6, atol=1e-7, err_msg=name)


def test_groupnorm_independent_of_thread_count():
    x, gamma, beta, dy = make_gn((37, 14, 14, 32), seed=2)

    def run():
        y, mean, inv_std = _core.groupnorm_forward(x, gamma, beta, groups=4)
        return (y, mean, inv_std) + _core.groupnorm_backward(dy, x, gamma, mean, inv_std, groups=4)

    assert_thread_count_independent(run)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_groupnorm_samples_with_a_large_offset_keep_their_deviations(be):
    # 1e4 + 0.01·noise: the float32 mean is off by up to 5e-4, which a plain x - mean would carry
    # into every output and, through the mean handed to the backward, into dgamma and dx
    x, gamma, _, dy = make_gn((4, 16, 8), offset=0.0)
    x = (1e4 + 0.01 * x).astype(np.float32)
    g64 = x.astype(np.float64).reshape(4, 16, 2, 4)
    inv_std64 = 1 / np.sqrt(g64.var(axis=(1, 3), keepdims=True) + 1e-6)
    xhat = ((g64 - g64.mean(axis=(1, 3), keepdims=True)) * inv_std64).reshape(x.shape)
    y, mean, inv_std = be.groupnorm_forward(x, gamma, None, groups=2, epsilon=1e-6)
    close(y, xhat * gamma, "y", 0, 1e-5)
    dx, dgamma, _ = be.groupnorm_backward(dy, x, gamma, mean, inv_std, groups=2, center=False)
    close(dgamma, np.sum(dy * xhat, axis=(0, 1)), "dgamma", 0, 1e-4)
    d = (dy * gamma.astype(np.float64)).reshape(g64.shape)
    xh = xhat.reshape(g64.shape)
    dx_want = inv_std64 * (d - d.mean(axis=(1, 3), keepdims=True) - xh * (d * xh).mean(axis=(1, 3), keepdims=True))
    close(dx, dx_want.reshape(x.shape), "dx", 1e-4, 1e-2)


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_groupnorm_errors(be):
    x, gamma, beta, dy = make_gn((4, 3, 6))
    with pytest.raises(ValueError, match=r"groupnorm_forward: groups must be a positive divisor of the channels "
                                         r"\(x\.shape\[-1\]=6\)\. Received: groups=4"):
        be.groupnorm_forward(x, gamma, beta, groups=4)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"groupnorm_forward: groups must be a positive divisor.*groups={bad}"):
            be.groupnorm_forward(x, gamma, beta, groups=bad)
    with pytest.raises(TypeError, match=r"groupnorm_forward: groups must be an int\. Received: groups=2\.0"):
        be.groupnorm_forward(x, gamma, beta, groups=2.0)
    with pytest.raises(ValueError, match=r"groupnorm_forward: x must be \(N, \.\.\., C\) with at least 2 dimensions"):
        be.groupnorm_forward(np.zeros(6, np.float32), None, None, groups=1)
    with pytest.raises(ValueError, match=r"groupnorm_forward: each sample needs at least one position.*\(4, 0, 6\)"):
        be.groupnorm_forward(np.zeros((4, 0, 6), np.float32), None, None, groups=1)
    with pytest.raises(ValueError, match=r"groupnorm_forward: gamma must be \(C,\) with C=6\. Received: gamma\.shape=\(4,\)"):
        be.groupnorm_forward(x, np.ones(4, np.float32), beta, groups=2)
    with pytest.raises(ValueError, match=r"groupnorm_forward: epsilon must be a finite number >= 0"):
        be.groupnorm_forward(x, gamma, beta, groups=2, epsilon=-1.0)
    y, mean, inv_std = be.groupnorm_forward(np.zeros((0, 3, 6), np.float32), None, None, groups=2)
    assert y.shape == (0, 3, 6) and mean.shape == (0, 2)
    _, mean, inv_std = be.groupnorm_forward(x, gamma, beta, groups=2)
    with pytest.raises(ValueError, match=r"groupnorm_backward: dy must have x's shape \(4, 3, 6\)\. "
                                         r"Received: dy\.shape=\(4, 6, 3\)"):
        be.groupnorm_backward(dy.transpose(0, 2, 1), x, gamma, mean, inv_std, groups=2)
    with pytest.raises(ValueError, match=r"groupnorm_backward: mean must have the shape \(N, groups\), \(4, 2\)\. "
                                         r"Received: mean\.shape=\(4, 3\)"):
        be.groupnorm_backward(dy, x, gamma, np.zeros((4, 3), np.float32), inv_std, groups=2)
    with pytest.raises(ValueError, match=r"groupnorm_backward: inv_std must have the shape \(N, groups\)"):
        be.groupnorm_backward(dy, x, gamma, mean, inv_std[:3], groups=2)
    dx, dg, db = be.groupnorm_backward(dy, x, None, mean, inv_std, groups=2, need_dx=False, center=False)
    assert dx is None and dg is None and db is None


@pytest.mark.parametrize("axis", [-1, 1])
def test_groupnorm_layer_runs_the_kernel_and_matches_the_numpy_backend(axis):
    # float32 on the C++ backend against the same layer in float64 on the NumPy backend
    x, _, _, dy = make_gn((6, 8, 5, 12), seed=3)
    layer = fastnn.layers.GroupNormalization(groups=4, axis=axis)
    layer(x)
    rng = np.random.default_rng(0)
    channels = x.shape[axis]
    layer.set_weights([rng.uniform(0.5, 1.5, channels).astype(np.float32), rng.standard_normal(channels).astype(np.float32)])
    layer._need_input_grad = True
    y = layer(x, training=True)
    dx = layer.backward(dy)
    grads = layer.get_gradients()
    with fastnn.backend("numpy"):
        y_ref = layer(x.astype(np.float64), training=True)
        dx_ref = layer.backward(dy.astype(np.float64))
        grads_ref = layer.get_gradients()
    assert y.dtype == np.float32 and dx.dtype == np.float32
    close(y, y_ref, "y", 1e-5, 1e-5)
    close(dx, dx_ref, "dx", 1e-5, 1e-5)
    for g, r in zip(grads, grads_ref):
        close(g, r, "grads", 1e-5, 1e-4)


@pytest.mark.parametrize("std, eps", [(1e25, 1e-3), (1e-20, 1e-45)])
def test_training_backward_at_extreme_scales(std, eps):
    # a coefficient of inv_std² in float32 left float's range beyond a standard deviation of ~1e19
    # (dx 17% off at 1e25; inf at 1e-20 with epsilon 1e-45); the oracle is the reference in float64
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 3)) * std).astype(np.float32)
    dy = rng.standard_normal((64, 3)).astype(np.float32)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    eps32 = float(np.float32(eps))  # (the epsilon the float32 kernel sees: 1e-45 is 1.4e-45 there)
    _, m, s = _core.batchnorm_forward(x, None, None, np.zeros(3, np.float32), np.ones(3, np.float32), training=True,
                                      epsilon=eps)
    _, m64, s64 = ref.batchnorm_forward(x64, None, None, np.zeros(3), np.ones(3), training=True, epsilon=eps32)
    want = ref.batchnorm_backward(dy64, x64, None, m64, s64)[0]
    close(_core.batchnorm_backward(dy, x, None, m, s)[0], want, "batchnorm dx", 0, 1e-6 * np.abs(want).max())
    xg, dyg = x.reshape(2, 32, 3), dy.reshape(2, 32, 3)
    _, m, s = _core.groupnorm_forward(xg, None, None, groups=1, epsilon=eps)
    _, m64, s64 = ref.groupnorm_forward(xg.astype(np.float64), None, None, groups=1, epsilon=eps32)
    want = ref.groupnorm_backward(dyg.astype(np.float64), xg.astype(np.float64), None, m64, s64, groups=1)[0]
    close(_core.groupnorm_backward(dyg, xg, None, m, s, groups=1)[0], want, "groupnorm dx", 0, 1e-6 * np.abs(want).max())


@pytest.mark.parametrize("be", [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")])
def test_groupnorm_a_bright_first_pixel_keeps_float_accuracy(be):
    # a ReLU map with one bright corner: the statistics shift by the sample's first row, and sums of
    # those deviations in float cancelled (1e-3 off, reverted); in double they stay at float accuracy
    rng = np.random.default_rng(0)
    x = np.maximum(rng.normal(0, 1, (2, 32, 32, 8)), 0).astype(np.float32)
    x[:, 0, 0, :] = 300.0
    g64 = x.astype(np.float64).reshape(2, 1024, 4, 2)
    want = ((g64 - g64.mean(axis=(1, 3), keepdims=True)) / np.sqrt(g64.var(axis=(1, 3), keepdims=True) + 1e-3))
    y, _, _ = be.groupnorm_forward(x, None, None, groups=4)
    close(y, want.reshape(x.shape), "y", 0, 1e-5)
