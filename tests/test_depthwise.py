"""Depthwise convolution ops (1-D/2-D/3-D, channels-last, depth multiplier M): C++ against the NumPy
reference (forward and every gradient) over shapes that reach every path of the row kernels (channel
blocks of 32 and 8 and single channels, border and interior positions, strided input gradients by
residue, M > 1 through repeated channels); both against an ordinary convolution with a block-diagonal
kernel; the reference against finite differences in float64; thread-count independence; bad input.
Then the layers over them, DepthwiseConv1D/2D and SeparableConv1D/2D: Keras's arguments, layouts
and parameter counts, float64 gradients, the C++ layer against the reference layer, training,
saving and loading."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastnn
from fastnn import _core, ops, reference

from fastnn.layers import (Add, BatchNormalization, Conv2D, Dense, DepthwiseConv1D, DepthwiseConv2D,
                           GlobalAveragePooling1D, GlobalAveragePooling2D, Input, MaxPooling2D, SeparableConv1D,
                           SeparableConv2D)
from fastnn.models import Model, Sequential

from helpers import assert_layer_matches_reference, assert_learns_and_round_trips, layer_gradcheck, numeric_grad
from test_conv import assert_close
from test_conv import run_both as conv_run_both


@pytest.fixture(autouse=True)
def _restore_settings():
    backend, threads = fastnn.get_backend(), fastnn.get_num_threads()
    yield
    fastnn.set_backend(backend)
    fastnn.set_num_threads(threads)
    fastnn.utils.set_floatx("float32")


def dw_ops(nd):
    return f"depthwise_conv{nd}d_forward", f"depthwise_conv{nd}d_backward"


def run_both(nd, x, w, b, **kwargs):
    """Forward and backward on both backends (the reference in float64); compare everything."""
    return conv_run_both(nd, x, w, b, names=dw_ops(nd), **kwargs)


def draw(rng, x_shape, k, M, bias=True):
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal((*k, x_shape[-1], M)) * 0.5).astype(np.float32)
    b = rng.standard_normal(x_shape[-1] * M).astype(np.float32) if bias else None
    return x, w, b


# (batch, spatial, C, kernel, M, strides, padding, dilation); C = 1, 3, 8, 17, 32, 40, 70 and 100
# reach the blocks of 32 and of 8 channels and the single-channel tail in every combination
CASES_2D = [
    (1, (7, 7), 1, (3, 3), 1, (1, 1), "valid", (1, 1)),
    (3, (9, 8), 3, (3, 3), 1, (1, 1), "same", (1, 1)),
    (2, (8, 9), 8, (2, 2), 1, (1, 1), "same", (1, 1)),
    (3, (10, 7), 17, (4, 3), 1, (2, 2), "same", (1, 1)),
    (1, (9, 11), 32, (3, 5), 1, (3, 2), "valid", (1, 1)),
    (2, (11, 10), 40, (3, 3), 1, (3, 3), "same", (1, 1)),
    (2, (12, 9), 70, (3, 2), 1, (1, 1), "valid", (2, 3)),
    (1, (12, 12), 100, (3, 3), 1, (1, 1), "same", (2, 2)),
    (3, (6, 5), 17, (1, 1), 1, (1, 1), "valid", (1, 1)),
    (2, (6, 5), 33, (1, 1), 1, (2, 2), "same", (1, 1)),
    (1, (5, 5), 8, (5, 5), 1, (1, 1), "valid", (1, 1)),
    (2, (4, 4), 9, (5, 5), 1, (1, 1), "same", (1, 1)),  # kernel wider than the image: no interior
    (1, (1, 9), 3, (1, 3), 1, (1, 2), "same", (1, 1)),
    (2, (7, 7), 40, (3, 3), 1, (1, 1), "valid", (3, 3)),  # one output: most input rows read by none
    (2, (9, 9), 16, (3, 3), 1, (4, 4), "same", (1, 1)),  # stride > kernel: residues with no tap
    (2, (13, 13), 64, (3, 3), 1, (1, 1), "same", (1, 1)),
    (2, (7, 6), 3, (3, 3), 2, (1, 1), "same", (1, 1)),
    (1, (8, 7), 5, (3, 2), 3, (2, 1), "valid", (1, 1)),
    (2, (6, 6), 16, (3, 3), 4, (1, 1), "same", (2, 2)),
]


@pytest.mark.parametrize("case", CASES_2D, ids=lambda c: f"N{c[0]}-{c[1]}-C{c[2]}-k{c[3]}-M{c[4]}-s{c[5]}-{c[6]}-d{c[7]}")
def test_depthwise_conv2d_matches_reference(case):
    N, spatial, C, k, M, strides, padding, dil = case
    x, w, b = draw(np.random.default_rng(1), (N, *spatial, C), k, M)
    run_both(2, x, w, b, activation="relu", strides=strides, padding=padding, dilation_rate=dil)


@pytest.mark.parametrize("C,M,k,strides,padding,dil", [
    (1, 1, 3, 1, "valid", 1), (8, 1, 3, 2, "same", 1), (17, 1, 5, 1, "causal", 2), (40, 1, 2, 3, "same", 1),
    (64, 1, 3, 1, "causal", 1), (3, 2, 4, 1, "same", 3), (6, 3, 3, 2, "causal", 1),
])
def test_depthwise_conv1d_matches_reference(C, M, k, strides, padding, dil):
    x, w, b = draw(np.random.default_rng(2), (3, 19, C), (k,), M)
    run_both(1, x, w, b, activation="tanh", strides=strides, padding=padding, dilation_rate=dil)


@pytest.mark.parametrize("x_shape,k,M,geo", [
    ((2, 5, 6, 4, 3), (3, 3, 3), 1, dict(padding="same")),
    ((1, 6, 5, 5, 33), (2, 3, 2), 1, dict(strides=(2, 1, 2), padding="valid")),
    ((2, 4, 4, 5, 8), (3, 2, 3), 2, dict(padding="same", dilation_rate=(1, 2, 1))),
])
def test_depthwise_conv3d_matches_reference(x_shape, k, M, geo):
    x, w, b = draw(np.random.default_rng(3), x_shape, k, M)
    run_both(3, x, w, b, activation="sigmoid", **geo)


@pytest.mark.parametrize("activation,alpha", [("linear", None), ("relu", None), ("leaky_relu", 0.2), ("elu", 0.7),
                                              ("selu", None), ("softplus", None), ("sigmoid", None),
                                              ("tanh", None), ("softmax", None), ("hard_sigmoid", None)])
def test_depthwise_activations_fused(activation, alpha):
    x, w, b = draw(np.random.default_rng(4), (2, 7, 6, 12), (3, 3), 1)
    run_both(2, x, w, b, activation=activation, alpha=alpha, padding="same")


@pytest.mark.parametrize("use_bias,need_dx,need_dw", list(itertools.product((True, False), repeat=3)))
@pytest.mark.parametrize("M", [1, 2])
def test_depthwise_gradients_asked_for(use_bias, need_dx, need_dw, M):
    x, w, b = draw(np.random.default_rng(5), (2, 6, 7, 10), (3, 3), M, bias=use_bias)
    _, (dx, dw, db) = run_both(2, x, w, b, activation="relu", use_bias=use_bias, need_dx=need_dx, need_dw=need_dw,
                               padding="same")
    assert (dx is None) != need_dx and (dw is None) != need_dw and (db is None) != use_bias


def block_diagonal(w):
    """The ordinary convolution kernel (*k, C, C·M) that computes the depthwise kernel w (*k, C, M)."""
    *k, C, M = w.shape
    full = np.zeros((*k, C, C * M), w.dtype)
    for c in range(C):
        full[..., c, c * M:(c + 1) * M] = w[..., c, :]
    return full


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("M,geo", [(1, dict(padding="same")), (3, dict(strides=2, padding="valid")),
                                   (2, dict(padding="same", dilation_rate=2))])
def test_depthwise_is_a_convolution_with_a_block_diagonal_kernel(backend, M, geo):
    # an oracle independent of both depthwise implementations: the ordinary convolution
    x, w, b = draw(np.random.default_rng(6), (3, 9, 8, 5), (3, 3), M)
    full = block_diagonal(w)
    with fastnn.backend(backend):
        y = ops.depthwise_conv2d_forward(x, w, b, activation="elu", **geo)
        y_full = ops.conv2d_forward(x, full, b, activation="elu", **geo)
        assert_close(y, y_full, "y")
        dy = np.random.default_rng(8).standard_normal(y.shape).astype(np.float32)
        dx, dw, db = ops.depthwise_conv2d_backward(dy, x, w, y, activation="elu", **geo)
        dx_f, dw_f, db_f = ops.conv2d_backward(dy, x, full, y, activation="elu", **geo)
    assert_close(dx, dx_f, "dx")
    assert_close(db, db_f, "db")
    C = x.shape[-1]
    diag = np.stack([dw_f[..., c, c * M:(c + 1) * M] for c in range(C)], axis=-2)
    assert_close(dw, diag, "dw")


def test_depthwise_golden_values():
    # one 3x3 channel by hand: x = 1..16 in a 4x4 image, a cross-shaped kernel, 'valid', stride 1
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4, 1)
    w = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.float32).reshape(3, 3, 1, 1)
    # centre (1,1)=6: 2+5+6+7+10 = 30; (1,2)=7: 3+6+7+8+11 = 35; (2,1): 6+9+10+11+14 = 50; (2,2): 55
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            y = ops.depthwise_conv2d_forward(x, w, np.array([0.5], np.float32))
        np.testing.assert_allclose(y.reshape(2, 2), [[30.5, 35.5], [50.5, 55.5]])


def test_reference_gradients_match_finite_differences():
    rng = np.random.default_rng(11)
    cases = [(1, (2, 7, 2), (3,), 2, dict(strides=2, padding="same")),
             (1, (2, 7, 3), (2,), 1, dict(padding="causal", dilation_rate=2)),
             (2, (2, 5, 4, 2), (3, 2), 2, dict(strides=(2, 1), padding="same")),
             (3, (1, 4, 3, 4, 2), (2, 2, 2), 1, dict(padding="same"))]
    for nd, x_shape, k, M, geo in cases:
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal((*k, x_shape[-1], M))
        b = rng.standard_normal(x_shape[-1] * M)
        fwd, bwd = (getattr(reference, name) for name in dw_ops(nd))
        y = fwd(x, w, b, activation="tanh", **geo)
        r = rng.standard_normal(y.shape)

        def loss():
            return float(np.sum(fwd(x, w, b, activation="tanh", **geo) * r))

        dx, dw, db = bwd(r, x, w, y, activation="tanh", **geo)
        for name, got, arr in (("dx", dx, x), ("dw", dw, w), ("db", db, b)):
            np.testing.assert_allclose(got, numeric_grad(loss, arr), rtol=1e-6, atol=1e-8,
                                       err_msg=f"{nd}-D {geo} {name}")


@pytest.mark.parametrize("N,strides,C,M", [(9, (1, 1), 40, 1), (9, (2, 2), 16, 1), (9, (1, 1), 3, 2),
                                           (131, (1, 1), 8, 1)])  # 131: chunks of 3 images, the last short
def test_gradients_do_not_depend_on_thread_count(N, strides, C, M):
    rng = np.random.default_rng(12)
    x, w, b = draw(rng, (N, 21, 20, C), (3, 3), M)
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        y = ops.depthwise_conv2d_forward(x, w, b, strides=strides, padding="same", activation="relu")
        dy = np.random.default_rng(13).standard_normal(y.shape).astype(np.float32)
        results.append((y, *ops.depthwise_conv2d_backward(dy, x, w, y, strides=strides, padding="same",
                                                          activation="relu")))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_nan_weight_reaches_the_output():
    x = np.ones((2, 6, 6, 9), np.float32)
    w = np.ones((3, 3, 9, 1), np.float32)
    w[1, 1, 4, 0] = np.nan
    y = ops.depthwise_conv2d_forward(x, w, activation="relu", padding="same")
    assert np.isnan(y[..., 4]).all() and not np.isnan(np.delete(y, 4, axis=-1)).any()


X2 = np.zeros((2, 6, 6, 3), np.float32)
W2 = np.zeros((3, 3, 3, 2), np.float32)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("call,exc,match", [
    (lambda: ops.depthwise_conv2d_forward(X2, np.zeros((3, 3, 4, 1), np.float32)), ValueError,
     r"depthwise_conv2d_forward: w must be \(KH, KW, C, M\) with C=3. Received: w.shape=\(3, 3, 4, 1\)"),
    (lambda: ops.depthwise_conv2d_forward(X2, np.zeros((3, 3, 3, 0), np.float32)), ValueError,
     r"depthwise_conv2d_forward: the depth multiplier M must be positive; w must be \(KH, KW, C, M\)"),
    (lambda: ops.depthwise_conv2d_forward(X2, W2, np.zeros(3, np.float32)), ValueError,
     r"depthwise_conv2d_forward: b must be \(C\*M,\) with C\*M=6"),
    (lambda: ops.depthwise_conv2d_forward(X2, W2[0]), ValueError, r"w must be 4-D \(KH, KW, C, M\)"),
    (lambda: ops.depthwise_conv2d_forward(X2[0], W2), ValueError, r"x must be 4-D \(N, H, W, C\)"),
    (lambda: ops.depthwise_conv2d_forward(X2, W2, strides=2, dilation_rate=2), ValueError,
     r"strides > 1 are not supported together with dilation_rate > 1"),
    (lambda: ops.depthwise_conv2d_forward(X2, np.zeros((7, 3, 3, 1), np.float32)), ValueError,
     r"Computed output size would be zero or negative"),
    (lambda: ops.depthwise_conv2d_forward(X2, W2, padding="causal"), ValueError, r"padding must be 'valid' or 'same'"),
    (lambda: ops.depthwise_conv2d_forward(np.zeros((0, 6, 6, 3), np.float32), W2), ValueError,
     r"the batch is empty"),
    (lambda: ops.depthwise_conv2d_backward(np.zeros((2, 4, 4, 3), np.float32), X2, W2), ValueError,
     r"depthwise_conv2d_backward: dy must be \(N, OH, OW, C\*M\) = \(2, 4, 4, 6\)"),
    (lambda: ops.depthwise_conv2d_backward(np.zeros((2, 4, 4, 6), np.float32), X2, W2, activation="relu"),
     ValueError, r"y \(the forward output\) is needed"),
    (lambda: ops.depthwise_conv1d_forward(X2[:, 0], W2[0], strides=0), ValueError,
     r"depthwise_conv1d_forward: strides must be positive"),
    (lambda: ops.depthwise_conv3d_forward(X2, W2), ValueError, r"x must be 5-D \(N, D, H, W, C\)"),
])
def test_bad_input_raises_before_any_kernel(backend, call, exc, match):
    with fastnn.backend(backend), pytest.raises(exc, match=match):
        call()


def test_every_depthwise_op_exists_on_both_backends():
    for nd, part in itertools.product((1, 2, 3), ("forward", "backward")):
        name = f"depthwise_conv{nd}d_{part}"
        assert hasattr(_core, name) and hasattr(reference, name) and hasattr(ops, name)


# ---- Layers -----------------------------------------------------------------------------------


def test_depthwise_conv2d_keras_layout_count_and_defaults():
    layer = DepthwiseConv2D(3)
    layer.build((None, 28, 28, 32))
    assert layer.kernel.shape == (3, 3, 32, 1) and layer.bias.shape == (32,)
    assert layer.count_params() == 320 and layer.weight_names == ["kernel", "bias"]
    assert layer.strides == (1, 1) and layer.padding == "valid" and layer.depth_multiplier == 1
    limit = np.sqrt(6 / (3 * 3 * 32 + 3 * 3 * 1))  # glorot_uniform over the receptive field
    assert 0.9 * limit < np.abs(layer.kernel).max() <= limit
    assert layer.compute_output_shape((None, 28, 28, 32)) == (None, 26, 26, 32)
    assert DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=3).compute_output_shape(
        (None, 9, 8, 4)) == (None, 5, 4, 12)
    assert DepthwiseConv1D(5, depth_multiplier=2).compute_output_shape((None, 20, 3)) == (None, 16, 6)
    config = DepthwiseConv2D(3, depth_multiplier=2, depthwise_regularizer="l2").get_config()
    for key in ("depth_multiplier", "depthwise_initializer", "depthwise_regularizer", "depthwise_constraint",
                "bias_initializer", "kernel_size", "strides", "padding", "dilation_rate"):
        assert key in config, key
    assert config["depth_multiplier"] == 2


def test_separable_conv2d_keras_layout_count_and_defaults():
    layer = SeparableConv2D(64, 3, depth_multiplier=2)
    layer.build((None, 28, 28, 32))
    assert layer.weight_names == ["depthwise_kernel", "pointwise_kernel", "bias"]  # Keras's order
    assert layer.depthwise_kernel.shape == (3, 3, 32, 2) and layer.pointwise_kernel.shape == (1, 1, 64, 64)
    with pytest.raises(ValueError, match="isn't built"):
        SeparableConv2D(64, 3).count_params()
    built = SeparableConv2D(64, 3)
    built.build((None, 10, 10, 32))
    assert built.count_params() == 3 * 3 * 32 + 32 * 64 + 64 == 2400
    assert layer.compute_output_shape((None, 28, 28, 32)) == (None, 26, 26, 64)
    one = SeparableConv1D(8, 3, padding="same", use_bias=False)
    one.build((None, 12, 5))
    assert one.weight_names == ["depthwise_kernel", "pointwise_kernel"]
    assert one.pointwise_kernel.shape == (1, 5, 8) and one.compute_output_shape((None, 12, 5)) == (None, 12, 8)
    config = layer.get_config()
    for key in ("filters", "depth_multiplier", "depthwise_initializer", "pointwise_initializer",
                "pointwise_regularizer", "pointwise_constraint", "bias_initializer"):
        assert key in config, key


@pytest.mark.parametrize("make,match", [
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), r"DepthwiseConv2D: invalid value for argument `depth_multiplier`"),
    (lambda: SeparableConv2D(8, 3, depth_multiplier=1.5), r"SeparableConv2D: invalid value .*depth_multiplier=1.5"),
    (lambda: SeparableConv2D(0, 3), r"filters"),
    (lambda: DepthwiseConv2D(3, padding="causal"), r"DepthwiseConv2D: the `padding` argument must be one of"),
    (lambda: DepthwiseConv1D(3, padding="full"), r"DepthwiseConv1D: the `padding` argument"),
    (lambda: DepthwiseConv2D(3, data_format="channels_first"), r"only data_format='channels_last'"),
    (lambda: SeparableConv2D(4, 3, strides=2, dilation_rate=2), r"`strides > 1` not supported"),
    (lambda: DepthwiseConv2D((3, 3, 3)), r"kernel_size"),
])
def test_bad_layer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_too_small_an_input_is_refused_when_built():
    with pytest.raises(ValueError, match=r"Computed output size would be zero or negative"):
        Sequential([Input((2, 2, 3)), DepthwiseConv2D(3)])
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3|axis -1"):
        layer = SeparableConv2D(4, 3)
        layer(np.zeros((1, 5, 5, 3), np.float32))
        layer(np.zeros((1, 5, 5, 4), np.float32))


@pytest.mark.parametrize("make,shape", [
    (lambda: DepthwiseConv2D((3, 2), strides=(2, 1), padding="same", activation="tanh"), (2, 5, 4, 2)),
    (lambda: DepthwiseConv2D(2, depth_multiplier=2, use_bias=False, dilation_rate=2), (1, 5, 5, 2)),
    (lambda: DepthwiseConv1D(3, padding="same", depth_multiplier=3, activation="sigmoid"), (2, 6, 2)),
    (lambda: SeparableConv2D(3, 2, padding="same", depth_multiplier=2, activation="tanh"), (2, 4, 3, 2)),
    (lambda: SeparableConv1D(2, 3, strides=2, use_bias=False), (2, 7, 3)),
])
def test_layer_gradients(float64_numpy, make, shape):
    x = np.random.default_rng(3).standard_normal(shape)
    layer_gradcheck(make(), x)


@pytest.mark.parametrize("make,shape", [
    (lambda: DepthwiseConv2D(3, activation="relu"), (3, 12, 11, 40)),
    (lambda: DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="elu"), (3, 9, 9, 3)),
    (lambda: DepthwiseConv1D(4, padding="same", activation="tanh"), (3, 11, 9)),
    (lambda: SeparableConv2D(16, 3, padding="same", activation="relu"), (3, 10, 9, 8)),
    (lambda: SeparableConv1D(5, 3, dilation_rate=2, depth_multiplier=2), (3, 12, 4)),
])
def test_cpp_layer_matches_the_reference_layer(make, shape):
    rng = np.random.default_rng(4)
    assert_layer_matches_reference(make(), rng.standard_normal(shape).astype(np.float32), rng)


def test_separable_is_depthwise_then_pointwise():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 7, 3)).astype(np.float32)
    layer = SeparableConv2D(5, 3, padding="same", depth_multiplier=2, activation="relu",
                            bias_initializer="random_normal")
    y = layer(x)
    d = ops.depthwise_conv2d_forward(x, layer.depthwise_kernel, padding="same")
    want = ops.conv2d_forward(d, layer.pointwise_kernel, layer.bias, activation="relu")
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_frozen_layers_give_an_input_gradient_and_no_weight_gradients():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 6, 4)).astype(np.float32)
    for layer in (DepthwiseConv2D(3, trainable=False), SeparableConv2D(4, 3, trainable=False)):
        y = layer(x, training=True)
        dx = layer.backward(np.ones_like(y))
        assert dx.shape == x.shape and np.abs(dx).sum() > 0
        assert all(g is None for g in layer._gradients)


def test_keras_style_separable_cnn_learns_and_round_trips(tmp_path):
    # Keras's "image classification from scratch" in miniature: separable blocks with batch
    # normalisation and a residual Add, depthwise 3x3 in between, global average pooling
    rng = np.random.default_rng(7)
    n = 256
    x = rng.random((n, 12, 12, 2), dtype=np.float32) * 0.2
    y = rng.integers(0, 2, n)
    x[y == 1, 2:5, 2:5, 0] += 1.0
    x[y == 0, 7:10, 7:10, 1] += 1.0
    fastnn.utils.set_random_seed(0)
    inputs = Input((12, 12, 2))
    h = Conv2D(8, 3, padding="same", activation="relu")(inputs)
    r = SeparableConv2D(8, 3, padding="same")(h)
    r = BatchNormalization()(r)
    h = Add()([h, r])
    h = DepthwiseConv2D(3, depth_multiplier=2, activation="relu")(h)
    h = MaxPooling2D()(h)
    h = GlobalAveragePooling2D()(h)
    model = Model(inputs, Dense(2, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert_learns_and_round_trips(model, x, y, tmp_path / "sep.safetensors", epochs=15, min_accuracy=0.9)


def test_separable_conv1d_text_style_model_learns():
    rng = np.random.default_rng(8)
    n = 200
    x = rng.standard_normal((n, 20, 4)).astype(np.float32) * 0.3
    y = rng.integers(0, 2, n)
    x[y == 1, 5:8, 0] += 1.5
    fastnn.utils.set_random_seed(1)
    model = Sequential([Input((20, 4)), SeparableConv1D(8, 3, activation="relu"), DepthwiseConv1D(3),
                        GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0).history
    assert history["accuracy"][-1] > 0.9, history["accuracy"]
