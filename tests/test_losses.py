"""Losses: every name and alias, from_logits, sample_weight, the forms sparse labels come in, and the
fused crossentropy_logits_backward — C++ against the NumPy reference (value and gradient) — plus
golden numbers for tiny hand-computed cases and the clipping rules."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import ops

from helpers import assert_close, check_op

LOSSES = ["mean_squared_error", "mse", "mean_absolute_error", "mae", "binary_crossentropy",
          "categorical_crossentropy", "sparse_categorical_crossentropy"]
LOGIT_LOSSES = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
SHAPES = [(1, 1), (3, 7), (17, 10), (65, 3), (300, 300)]  # the last one is threaded
TOL = dict(rtol=2e-6, atol=1e-7)  # the value is accumulated in double; gradients are float32
GTOL = dict(rtol=2e-5, atol=1e-8)


def make_case(rng, loss, shape, from_logits=False):
    """(y_true, y_pred) suited to ``loss``: probabilities away from the clip, or logits."""
    N, C = shape
    if from_logits:
        y_pred = 3 * rng.standard_normal(shape)
    elif loss == "binary_crossentropy":
        y_pred = rng.uniform(0.02, 0.98, shape)
    elif "categorical" in loss:
        y_pred = rng.uniform(0.05, 1.0, shape)  # unnormalised: the loss renormalises each row
    else:
        y_pred = rng.standard_normal(shape)
    if loss == "sparse_categorical_crossentropy":
        y_true = rng.integers(0, C, N)
    elif loss == "categorical_crossentropy":
        y_true = np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]
    elif loss == "binary_crossentropy":
        y_true = rng.integers(0, 2, shape).astype(np.float32)
    else:
        y_true = rng.standard_normal(shape).astype(np.float32)
    return y_true, y_pred.astype(np.float32)


def check_loss(y_true, y_pred, loss, from_logits=False, sample_weight=None, tol=TOL, gtol=GTOL):
    value = check_op("loss_forward", y_true, y_pred, loss, from_logits, sample_weight, **tol)
    assert isinstance(value, float)
    grad = check_op("loss_backward", y_true, y_pred, loss, from_logits, sample_weight, **gtol)
    assert grad.shape == np.shape(y_pred)
    return value, grad


# ---- C++ against the reference ------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_matches_reference(rng, loss, shape, weighted):
    y_true, y_pred = make_case(rng, loss, shape)
    sw = rng.uniform(0, 2, shape[0]).astype(np.float32) if weighted else None
    check_loss(y_true, y_pred, loss, sample_weight=sw)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("loss", LOGIT_LOSSES)
def test_loss_from_logits_matches_reference(rng, loss, shape):
    y_true, y_pred = make_case(rng, loss, shape, from_logits=True)
    check_loss(y_true, y_pred, loss, from_logits=True)
    check_loss(y_true, y_pred, loss, from_logits=True, sample_weight=rng.uniform(0, 2, shape[0]))


def test_soft_targets(rng):
    # non-one-hot targets: label smoothing for the categorical loss, soft labels for binary
    y_pred = rng.uniform(0.05, 1, (9, 5)).astype(np.float32)
    y_true = rng.dirichlet(np.ones(5), 9).astype(np.float32)
    check_loss(y_true, y_pred, "categorical_crossentropy")
    check_loss(y_true, 2 * y_pred, "categorical_crossentropy", from_logits=True)
    check_loss(y_true, np.clip(y_pred, 0.02, 0.98), "binary_crossentropy")
    check_loss(y_true, y_pred, "binary_crossentropy", from_logits=True)


def test_aliases_equal_long_names(rng):
    y_true, y_pred = make_case(rng, "mse", (7, 3))
    for alias, name in (("mse", "mean_squared_error"), ("mae", "mean_absolute_error")):
        assert ops.loss_forward(y_true, y_pred, alias) == ops.loss_forward(y_true, y_pred, name)
        np.testing.assert_array_equal(ops.loss_backward(y_true, y_pred, alias),
                                      ops.loss_backward(y_true, y_pred, name))


def test_multi_dimensional_predictions_flatten_per_sample(rng):
    y_pred = rng.uniform(0.05, 0.95, (4, 2, 3)).astype(np.float32)
    y_true = rng.integers(0, 2, (4, 2, 3)).astype(np.float32)
    for loss in ("mse", "mae", "binary_crossentropy"):
        check_loss(y_true, y_pred, loss)
        assert np.isclose(ops.loss_forward(y_true, y_pred, loss),
                          ops.loss_forward(y_true.reshape(4, 6), y_pred.reshape(4, 6), loss), rtol=1e-12)
    # the categorical ones would take (4, 2, 3) as 4 distributions over 6 values, not 8 over 3 (Keras's)
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            for op in (ops.loss_forward, ops.loss_backward):
                with pytest.raises(ValueError, match=r"take y_pred of shape \(N, C\).*reshape a sequence output"):
                    op(y_true, y_pred, "categorical_crossentropy")
            with pytest.raises(ValueError, match=r"take probs of shape \(N, C\)"):
                ops.crossentropy_logits_backward(y_true, y_pred)


@pytest.mark.parametrize("loss", ["mse", "mae", "binary_crossentropy"])
def test_vector_targets_against_column_predictions(rng, loss):
    # y_true (N,) with y_pred (N, 1), and both (N,): the same numbers as (N, 1) with (N, 1)
    y_true, y_pred = make_case(rng, "binary_crossentropy", (11, 1))
    ref = ops.loss_forward(y_true, y_pred, loss)
    ref_grad = ops.loss_backward(y_true, y_pred, loss)
    for t, p in ((y_true[:, 0], y_pred), (y_true[:, 0], y_pred[:, 0]), (y_true, y_pred[:, 0])):
        value, grad = check_loss(t, p, loss)
        assert value == ref
        np.testing.assert_array_equal(grad.reshape(-1), ref_grad.reshape(-1))


def test_sparse_label_forms_agree(rng):
    y_pred = rng.uniform(0.05, 1, (13, 6)).astype(np.float32)
    labels = rng.integers(0, 6, 13)
    forms = [labels, labels.reshape(13, 1), labels.astype(np.int32), labels.astype(np.uint8),
             labels.astype(np.float32), labels.astype(np.float64).reshape(13, 1)]
    for from_logits in (False, True):
        want = ops.loss_forward(labels, y_pred, "sparse_categorical_crossentropy", from_logits)
        want_grad = ops.loss_backward(labels, y_pred, "sparse_categorical_crossentropy", from_logits)
        for t in forms:
            value, grad = check_loss(t, y_pred, "sparse_categorical_crossentropy", from_logits)
            assert value == want, f"labels {t.dtype}{t.shape}"
            np.testing.assert_array_equal(grad, want_grad, err_msg=f"labels {t.dtype}{t.shape}")


def test_sparse_equals_categorical_with_one_hot(rng):
    y_pred = rng.uniform(0.05, 1, (17, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 17)
    one_hot = np.eye(10, dtype=np.float32)[labels]
    for from_logits in (False, True):
        assert np.isclose(ops.loss_forward(labels, y_pred, "sparse_categorical_crossentropy", from_logits),
                          ops.loss_forward(one_hot, y_pred, "categorical_crossentropy", from_logits), rtol=1e-12)
        np.testing.assert_allclose(ops.loss_backward(labels, y_pred, "sparse_categorical_crossentropy", from_logits),
                                   ops.loss_backward(one_hot, y_pred, "categorical_crossentropy", from_logits),
                                   rtol=1e-6, atol=1e-9)


def test_loss_bitwise_identical_across_thread_counts(rng):
    for loss in LOSSES:
        y_true, y_pred = make_case(rng, loss, (600, 300))
        results = []
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            results.append((ops.loss_forward(y_true, y_pred, loss), ops.loss_backward(y_true, y_pred, loss)))
        assert results[0][0] == results[1][0], loss
        np.testing.assert_array_equal(results[0][1], results[1][1], err_msg=loss)


# ---- The fused softmax/sigmoid + cross-entropy backward -----------------------------------------


def _softmax64(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("shape", [(1, 2), (3, 7), (17, 10), (300, 300)], ids=str)
def test_crossentropy_logits_backward_matches_reference(rng, shape):
    N, C = shape
    z = 3 * rng.standard_normal(shape)
    probs = _softmax64(z).astype(np.float32)
    labels = rng.integers(0, C, N)
    one_hot = np.eye(C, dtype=np.float32)[labels]
    sw = rng.uniform(0, 2, N).astype(np.float32)
    for y_true in (labels, labels.reshape(N, 1), labels.astype(np.int32), one_hot,
                   rng.dirichlet(np.ones(C), N).astype(np.float32)):
        check_op("crossentropy_logits_backward", y_true, probs, **GTOL)
        check_op("crossentropy_logits_backward", y_true, probs, False, sw, **GTOL)
    sig = (1 / (1 + np.exp(-z))).astype(np.float32)
    targets = rng.integers(0, 2, shape).astype(np.float32)
    check_op("crossentropy_logits_backward", targets, sig, True, **GTOL)
    check_op("crossentropy_logits_backward", targets, sig, True, sw, **GTOL)


def test_crossentropy_logits_backward_sparse_equals_one_hot(rng):
    probs = _softmax64(rng.standard_normal((9, 4))).astype(np.float32)
    labels = rng.integers(0, 4, 9)
    np.testing.assert_allclose(ops.crossentropy_logits_backward(labels, probs),
                               ops.crossentropy_logits_backward(np.eye(4)[labels], probs), rtol=1e-6, atol=1e-9)


def test_crossentropy_logits_backward_binary_column(rng):
    # a single sigmoid unit: probs (N, 1) with targets (N,) or (N, 1)
    z = rng.standard_normal((7, 1))
    probs = (1 / (1 + np.exp(-z))).astype(np.float32)
    t = rng.integers(0, 2, 7).astype(np.float32)
    a = check_op("crossentropy_logits_backward", t, probs, True, **GTOL)
    b = check_op("crossentropy_logits_backward", t.reshape(7, 1), probs, True, **GTOL)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weighted", [False, True])
def test_fused_backward_is_the_chain_rule(rng, weighted):
    # C++: the fused gradient equals loss_backward(from_logits=True) at the logits, and the
    # clipped-probability loss's gradient pulled back through the softmax's Jacobian
    N, C = 13, 6
    z = rng.standard_normal((N, C)).astype(np.float32)
    probs = ops.activation_forward(z, "softmax")
    labels = rng.integers(0, C, N)
    sw = rng.uniform(0.5, 2, N).astype(np.float32) if weighted else None
    fused = ops.crossentropy_logits_backward(labels, probs, False, sw)
    via_logits = ops.loss_backward(labels, z, "sparse_categorical_crossentropy", True, sw)
    dprobs = ops.loss_backward(labels, probs, "sparse_categorical_crossentropy", False, sw)
    via_jacobian = ops.activation_backward(dprobs, probs, "softmax")
    assert_close(fused, via_logits, rtol=1e-5, atol=1e-7, what="fused vs loss_backward(from_logits=True)")
    assert_close(fused, via_jacobian, rtol=1e-4, atol=1e-6, what="fused vs softmax Jacobian chain")
    # sigmoid + binary cross-entropy
    t = rng.integers(0, 2, (N, C)).astype(np.float32)
    sig = ops.activation_forward(z, "sigmoid")
    fused = ops.crossentropy_logits_backward(t, sig, True, sw)
    via_logits = ops.loss_backward(t, z, "binary_crossentropy", True, sw)
    via_chain = ops.activation_backward(ops.loss_backward(t, sig, "binary_crossentropy", False, sw), sig, "sigmoid")
    assert_close(fused, via_logits, rtol=1e-5, atol=1e-8, what="fused sigmoid vs from_logits")
    assert_close(fused, via_chain, rtol=1e-4, atol=1e-7, what="fused sigmoid vs sigmoid chain")


# ---- Golden numbers -----------------------------------------------------------------------------

BACKENDS = ["cpp", "numpy"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_golden_categorical(backend):
    with fastnn.backend(backend):
        p = np.array([[0.2, 0.3, 0.5]], np.float32)
        want = -np.log(0.5)
        assert np.isclose(ops.loss_forward(np.array([2]), p, "sparse_categorical_crossentropy"), want, rtol=1e-6)
        assert np.isclose(ops.loss_forward(np.array([[0, 0, 1]]), p, "categorical_crossentropy"), want, rtol=1e-6)
        # an unnormalised row is renormalised first: [0.4, 0.6, 1.0] is the same distribution
        assert np.isclose(ops.loss_forward(np.array([2]), 2 * p, "sparse_categorical_crossentropy"), want, rtol=1e-6)
        # from logits: softmax([1000, 1000]) = [0.5, 0.5], no overflow, no NaN
        z = np.array([[1000.0, 1000.0]], np.float32)
        assert np.isclose(ops.loss_forward(np.array([0]), z, "sparse_categorical_crossentropy", True), np.log(2),
                          rtol=1e-6)
        np.testing.assert_allclose(ops.loss_backward(np.array([0]), z, "sparse_categorical_crossentropy", True),
                                   [[-0.5, 0.5]], rtol=1e-6)
        # gradient of -log(q_2), q = p / sum(p): (-1/q_2 + 1) / sum(p) at index 2, 1/sum(p) elsewhere
        np.testing.assert_allclose(ops.loss_backward(np.array([2]), p, "sparse_categorical_crossentropy"),
                                   [[1.0, 1.0, -1.0]], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_golden_regression_and_weights(backend):
    with fastnn.backend(backend):
        t = np.zeros((2, 2), np.float32)
        p = np.array([[1.0, 2.0], [3.0, -4.0]], np.float32)
        # per-sample means: mse [2.5, 12.5], mae [1.5, 3.5]; batch mean over N
        assert np.isclose(ops.loss_forward(t, p, "mse"), 7.5, rtol=1e-7)
        assert np.isclose(ops.loss_forward(t, p, "mae"), 2.5, rtol=1e-7)
        # sample_weight: sum(w_i l_i) / N (Keras's sum_over_batch_size), not / sum(w)
        w = np.array([2.0, 0.0], np.float32)
        assert np.isclose(ops.loss_forward(t, p, "mse", sample_weight=w), 2.5, rtol=1e-7)
        np.testing.assert_allclose(ops.loss_backward(t, p, "mse", sample_weight=w), [[1.0, 2.0], [0, 0]], rtol=1e-7)
        np.testing.assert_allclose(ops.loss_backward(t, p, "mae"), [[0.25, 0.25], [0.25, -0.25]], rtol=1e-7)
        # a zero weight masks its sample even when that sample's loss is NaN
        p_nan = np.array([[1.0, 2.0], [np.nan, 0.0]], np.float32)
        assert np.isclose(ops.loss_forward(t, p_nan, "mse", sample_weight=w), 2.5, rtol=1e-7)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_agree_and_nan_stays_visible(loss, from_logits, bad):
    # A diverged prediction: both backends give the same loss and gradient (NaN where one gives
    # NaN), and a NaN prediction never turns into a finite gradient at its position (MAE's sign
    # and the clipped cross-entropies once gave 0 there on one backend).
    if from_logits and loss not in LOGIT_LOSSES:
        pytest.skip("from_logits is for the cross-entropies")
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]], np.float32)
    p[0, 1] = bad
    t = (np.array([1, 2]) if loss == "sparse_categorical_crossentropy"
         else np.array([[0, 1, 0], [0, 0, 1]], np.float32))
    got = {}
    for backend in BACKENDS:
        with fastnn.backend(backend), np.errstate(all="ignore"):
            got[backend] = (ops.loss_forward(t, p, loss, from_logits=from_logits),
                            ops.loss_backward(t, p, loss, from_logits=from_logits))
    (lc, dc), (ln, dn) = got["cpp"], got["numpy"]
    assert (np.isnan(lc) and np.isnan(ln)) or np.isclose(lc, ln, rtol=1e-5), (loss, bad, lc, ln)
    np.testing.assert_allclose(dc, dn, rtol=1e-5, atol=1e-7, equal_nan=True, err_msg=f"{loss} with {bad}")
    if np.isnan(bad):
        assert np.isnan(lc) and np.isnan(dc[0, 1]), (loss, lc, dc)
    np.testing.assert_array_equal(np.isfinite(dc[1]), True)  # the other sample is untouched


@pytest.mark.parametrize("backend", BACKENDS)
def test_golden_binary_clipping(backend):
    with fastnn.backend(backend):
        # p = 0 with t = 1 is clipped to 1e-7: loss -log(1e-7), and the clip passes no gradient
        p = np.array([[0.0]], np.float32)
        t = np.array([[1.0]], np.float32)
        assert np.isclose(ops.loss_forward(t, p, "binary_crossentropy"), -np.log(1e-7), rtol=1e-6)
        assert ops.loss_backward(t, p, "binary_crossentropy")[0, 0] == 0.0
        # p = 1 with t = 0 is clipped to 1 - 1e-7: loss -log(1e-7) (up to float32's rounding of
        # 1 - 1e-7, which Keras's float32 clip also has), zero gradient
        p, t = np.array([[1.0]], np.float32), np.array([[0.0]], np.float32)
        value = ops.loss_forward(t, p, "binary_crossentropy")
        assert np.isclose(value, -np.log(1e-7), rtol=0.015), value
        assert ops.loss_backward(t, p, "binary_crossentropy")[0, 0] == 0.0
        # right answers at the clip pass no gradient either, and the loss stays finite
        p = np.array([[0.0, 1.0, 0.5]], np.float32)
        t = np.array([[0.0, 1.0, 1.0]], np.float32)
        g = ops.loss_backward(t, p, "binary_crossentropy")
        assert g[0, 0] == 0.0 and g[0, 1] == 0.0 and np.isclose(g[0, 2], -2.0 / 3, rtol=1e-6)
        assert np.isfinite(ops.loss_forward(t, p, "binary_crossentropy"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_golden_categorical_clipping(backend):
    with fastnn.backend(backend):
        # the target's probability is 0: clipped to 1e-7, -log(1e-7), and no gradient through the log
        p = np.array([[0.0, 1.0]], np.float32)
        assert np.isclose(ops.loss_forward(np.array([0]), p, "sparse_categorical_crossentropy"), -np.log(1e-7),
                          rtol=1e-6)
        g = ops.loss_backward(np.array([0]), p, "sparse_categorical_crossentropy")
        assert np.isfinite(g).all()


def test_binary_clip_boundaries_agree_across_backends():
    # saturated predictions must give the same loss on both backends (the reference is the oracle)
    p = np.array([[0.0, 1.0, 1e-9, 1 - 2e-8, 0.99999994, 1e-7, 0.9999999]], np.float32)
    t = np.array([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]], np.float32)
    check_loss(t, p, "binary_crossentropy", tol=dict(rtol=1e-5, atol=0), gtol=dict(rtol=1e-5, atol=0))


@pytest.mark.parametrize("loss", LOGIT_LOSSES)
def test_extreme_logits_stay_finite(loss):
    # log-sum-exp and log1p(e^-|z|) forms: no overflow for huge logits of either sign
    z = np.array([[1e4, -1e4, 0.0], [-100.0, 100.0, 88.0], [-1e30, 3e38, -3e38]], np.float32)
    t = np.array([0, 2, 1]) if loss.startswith("sparse") else \
        np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)
    value, grad = check_loss(t, z, loss, from_logits=True, tol=dict(rtol=1e-6, atol=0),
                             gtol=dict(rtol=1e-5, atol=1e-7))
    assert np.isfinite(value) and np.isfinite(grad).all()


def test_keras_3_arguments_accepted():
    # Keras 3's dtype of the cross-entropy classes, and LSTM/GRU's use_cudnn (no GPU here: ignored)
    from fastnn.keras import layers, losses as keras_losses

    p, t = np.array([[0.3, 0.7]], np.float32), np.array([[0.0, 1.0]], np.float32)
    assert keras_losses.BinaryCrossentropy(dtype="float32")(t, p) == pytest.approx(keras_losses.BinaryCrossentropy()(t, p))
    keras_losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float32")
    layers.LSTM(3, use_cudnn=False), layers.GRU(3, use_cudnn="auto")
    with pytest.raises(ValueError, match="use_cudnn must be 'auto', True or False"):
        layers.GRU(3, use_cudnn="yes")
