"""Activations: every name (and leaky_relu's / elu's alpha), C++ against the NumPy reference,
forward and backward, on odd shapes, extreme values and golden numbers. The reference's own
gradients are checked against finite differences in test_reference_gradcheck.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import ops
from fastnn.reference._common import ACTIVATIONS, INPUT_DERIVATIVE

from helpers import assert_close, check_op

SHAPES = [(1,), (7,), (3, 7), (17, 65), (2, 3, 5), (129, 513)]  # the last one is threaded
ALPHAS = [("leaky_relu", 0.0), ("leaky_relu", 0.01), ("leaky_relu", 1.5), ("elu", 0.5), ("elu", 2.0)]


def _x(rng, shape, scale=3.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_matches_reference(rng, activation, shape):
    # softmax's backward reduces over a row: its tolerance grows with the row length
    grad_atol = 2e-6 * np.sqrt(shape[-1]) if activation == "softmax" else 2e-6
    check_op("activation_forward", _x(rng, shape), activation, grads=True, rtol=4e-6, atol=1e-7,
             grad_rtol=1e-5, grad_atol=grad_atol)


@pytest.mark.parametrize("activation,alpha", ALPHAS)
def test_activation_alpha(rng, activation, alpha):
    check_op("activation_forward", _x(rng, (17, 9)), activation, alpha, grads=True, rtol=4e-6, atol=1e-7,
             grad_rtol=1e-5, grad_atol=2e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_empty(activation):
    check_op("activation_forward", np.zeros((0, 3), np.float32), activation, grads=True)
    check_op("activation_forward", np.zeros((3, 0), np.float32), activation, grads=True)


def test_activation_zero_d_input():
    # elementwise activations take any shape, a 0-d array included: the output keeps shape ()
    for activation in [a for a in ACTIVATIONS if a != "softmax"]:
        check_op("activation_forward", np.float32(-0.75), activation, grads=True, rtol=4e-6, atol=1e-7)


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a != "softmax"])
def test_activation_extreme_values(activation):
    # far tails of exp/sigmoid/tanh polynomials, overflow of softplus, +-inf
    x = np.array([-np.inf, -1e30, -1e4, -100, -88.5, -20, -0.7, -1e-3, -0.0, 0.0, 1e-3, 0.62, 0.63,
                  20, 88.5, 100, 1e4, 1e30, np.inf], np.float32)
    if activation == "exponential":  # e^x (and dy·e^x) overflows float32 near 88.7, the float64 reference does not
        assert np.isinf(ops.activation_forward(np.float32(88.8), "exponential"))
        x = x[x < 80]
    y = check_op("activation_forward", x, activation, rtol=4e-6, atol=1e-7)
    assert not np.isnan(y).any()
    finite = np.isfinite(x) & (np.abs(x) < 1e29)
    check_op("activation_forward", x[finite], activation, grads=True, rtol=4e-6, atol=1e-7,
             grad_rtol=1e-5, grad_atol=2e-6)


def test_softmax_is_nan_safe():
    y = ops.activation_forward(np.array([1000.0, 1000.0], np.float32), "softmax")
    np.testing.assert_array_equal(y, [0.5, 0.5])
    y = ops.activation_forward(np.array([[-1000.0, 0.0], [3e38, -3e38], [1e4, 1e4 - 1]], np.float32), "softmax")
    assert np.isfinite(y).all()
    assert_close(y, [[0.0, 1.0], [1.0, 0.0], [1 / (1 + np.exp(-1)), 1 / (1 + np.e)]], rtol=1e-6, atol=1e-30,
                 what="softmax of large logits")
    check_op("activation_forward", np.array([[1000.0, 999.0, -1000.0]], np.float32), "softmax", grads=True,
             rtol=1e-6, atol=1e-30, grad_atol=1e-7)


def test_softmax_over_last_axis_rows_sum_to_one(rng):
    x = _x(rng, (3, 4, 17), scale=10)
    y = ops.activation_forward(x, "softmax")
    assert_close(y.sum(axis=-1), np.ones((3, 4)), rtol=0, atol=2e-6, what="softmax row sums")
    # each row on its own gives the same numbers: rows are independent
    np.testing.assert_array_equal(ops.activation_forward(x[1, 2], "softmax"), y[1, 2])


def test_golden_values():
    f = ops.activation_forward
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    np.testing.assert_allclose(f(x, "relu"), [0, 0, 2])
    np.testing.assert_allclose(f(x, "leaky_relu"), [-0.2, 0, 2], rtol=1e-7)  # default negative_slope 0.2
    np.testing.assert_allclose(f(x, "leaky_relu", 0.1), [-0.1, 0, 2], rtol=1e-7)
    np.testing.assert_allclose(f(x, "elu"), [np.expm1(-1.0), 0, 2], rtol=1e-6)  # default alpha 1.0
    np.testing.assert_allclose(f(x, "elu", 2.0), [2 * np.expm1(-1.0), 0, 2], rtol=1e-6)
    np.testing.assert_allclose(f(x, "selu"), [1.0507009873554805 * 1.6732632423543772 * np.expm1(-1.0), 0,
                                              2 * 1.0507009873554805], rtol=1e-6)
    np.testing.assert_allclose(f(x, "softplus"), np.log1p(np.exp([-1.0, 0.0, 2.0])), rtol=1e-6)
    np.testing.assert_allclose(f(x, "sigmoid"), 1 / (1 + np.exp([1.0, 0.0, -2.0])), rtol=1e-6)
    np.testing.assert_allclose(f(x, "tanh"), np.tanh([-1.0, 0.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(f(np.array([-3.0, 0.0, 1.5, 3.0], np.float32), "hard_sigmoid"), [0, 0.5, 0.75, 1])
    np.testing.assert_allclose(f(x, "softmax"), np.exp([-1.0, 0.0, 2.0]) / np.exp([-1.0, 0.0, 2.0]).sum(),
                               rtol=1e-6)
    # backward from y: sigmoid'(0) = 1/4, tanh'(0) = 1, relu'(negative) = 0
    np.testing.assert_allclose(ops.activation_backward(np.float32([2.0]), np.float32([0.5]), "sigmoid"), [0.5])
    np.testing.assert_allclose(ops.activation_backward(np.float32([2.0]), np.float32([0.0]), "tanh"), [2.0])
    np.testing.assert_allclose(ops.activation_backward(np.float32([2.0, 2.0]), np.float32([0.0, 1.0]), "relu"),
                               [0.0, 2.0])


def test_tanh_accuracy_in_ulp_and_its_edges():
    # C++ tanh is a rational approximation: within 6 ulp of double tanh over a dense sweep that
    # includes the small-|x| range (relative accuracy near 0) and the approach to 1; exactly ±1
    # where float32 tanh rounds to it (|x| >= 9.0109), and the edges pass through unchanged
    x = np.concatenate([np.linspace(-10.5, 10.5, 400_001, dtype=np.float32),
                        np.float32(2.0) ** -np.arange(1, 127, dtype=np.float32)]).astype(np.float32)
    got = ops.activation_forward(x, "tanh").astype(np.float64)
    want = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    ulp = np.where(np.abs(want) >= 1 - 2.0**-25, 2.0**-24, ulp)  # below 1 the spacing is 2^-24
    err = np.abs(got - want) / ulp
    assert err.max() <= 6, f"tanh: {err.max():.2f} ulp at x={x[err.argmax()]!r}"
    edges = np.array([9.02, 50.0, np.inf, -9.02, -np.inf, -0.0, 0.0, np.nan], np.float32)
    y = ops.activation_forward(edges, "tanh")
    np.testing.assert_array_equal(y[:5], [1, 1, 1, -1, -1])
    assert np.signbit(y[5]) and y[5] == 0 and not np.signbit(y[6]) and np.isnan(y[7])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_does_not_touch_inputs_and_is_thread_count_independent(rng, activation):
    x = _x(rng, (300, 300))
    dy = rng.standard_normal((300, 300)).astype(np.float32)
    x0, dy0 = x.copy(), dy.copy()
    results = []
    for threads in (1, 2):
        fastnn.set_num_threads(threads)
        y = ops.activation_forward(x, activation)
        dx = ops.activation_backward_input(dy, x, activation) if activation in INPUT_DERIVATIVE else \
            ops.activation_backward(dy, y, activation)
        results.append((y, dx))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, dy0)


def test_float64_input_gives_float32_result(rng):
    x = rng.standard_normal((4, 5))
    y = ops.activation_forward(x, "tanh")
    assert y.dtype == np.float32
    assert_close(y, np.tanh(x), rtol=1e-6, atol=1e-7, what="tanh of float64 input")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_nan_propagates_like_the_reference(activation):
    # a diverged pre-activation must stay visible: NaN in, NaN out, as NumPy (and PyTorch) do
    x = np.array([[np.nan, -1.0, 0.5], [0.25, -2.0, 3.0]], np.float32)
    check_op("activation_forward", x, activation, rtol=4e-6, atol=1e-7)


def test_nan_propagates_through_the_dense_epilogue():
    x = np.array([[np.nan, 1.0], [1.0, 2.0]], np.float32)
    w = np.ones((2, 3), np.float32)
    for activation in ("relu", "sigmoid", "linear"):
        y = ops.dense_forward(x, w, np.zeros(3, np.float32), activation)
        assert np.isnan(y[0]).all() and np.isfinite(y[1]).all(), (activation, y)


# ---- The new activations in layers: fused (relu6, softsign, exponential, celu, hard_tanh) or
# applied after the kernel (gelu, silu, mish, hard_silu, whose derivative needs the input) ---------

LAYER_ACTIVATIONS = ["gelu", "swish", "silu", "mish", "hard_swish", "relu6", "softsign", "celu", "hard_tanh",
                     "exponential"]


def _layers(activation):
    from fastnn import layers as L

    return [L.Dense(4, activation=activation), L.Activation(activation)], \
        [L.Conv2D(3, 3, activation=activation), L.DepthwiseConv2D(3, activation=activation),
         L.SeparableConv2D(3, 3, activation=activation), L.Conv2DTranspose(2, 3, activation=activation)]


@pytest.mark.parametrize("activation", LAYER_ACTIVATIONS)
def test_layers_with_new_activations_gradcheck_in_float64(activation):
    from helpers import layer_gradcheck

    scale = 0.3 if activation == "exponential" else 1.5
    rng = np.random.default_rng(3)
    # fixed weights too: with unseeded ones a pre-activation now and then fell within the finite
    # difference's step of a kink (relu6 at 0 or 6, hard_tanh at +-1) and the check failed
    fastnn.set_random_seed(3)
    fastnn.utils.set_floatx("float64")
    try:
        with fastnn.backend("numpy"):
            flat, spatial = _layers(activation)
            for layer in flat:
                layer_gradcheck(layer, scale * rng.standard_normal((3, 5)), tol=1e-6)
            for layer in spatial:
                layer_gradcheck(layer, scale * rng.standard_normal((2, 5, 5, 2)), tol=1e-6)
    finally:
        fastnn.utils.set_floatx("float32")


@pytest.mark.parametrize("activation", LAYER_ACTIVATIONS)
def test_layers_with_new_activations_match_the_reference(activation):
    from helpers import assert_layer_matches_reference

    rng = np.random.default_rng(4)
    flat, spatial = _layers(activation)
    for layer in flat:
        assert_layer_matches_reference(layer, rng.standard_normal((6, 5)).astype(np.float32), rng)
    for layer in spatial:
        assert_layer_matches_reference(layer, rng.standard_normal((2, 6, 6, 2)).astype(np.float32), rng)
    config = flat[0].get_config()
    assert config["activation"] == {"swish": "silu", "hard_swish": "hard_silu"}.get(activation, activation)


def test_gelu_is_keras_exact_gelu_and_silu_is_swish():
    from fastnn import activations, layers as L

    x = np.linspace(-6, 6, 49).astype(np.float32)
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x.astype(np.float64)])
    np.testing.assert_allclose(activations.gelu(x), exact, rtol=2e-6, atol=1e-7)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.astype(np.float64) ** 3)))
    np.testing.assert_allclose(activations.gelu(x, approximate=True), tanh_form, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(L.Activation("swish")(x[None]), (x / (1 + np.exp(-x.astype(np.float64))))[None],
                               rtol=2e-6, atol=1e-7)
    assert activations.swish is activations.silu and activations.serialize("hard_swish") == "hard_silu"
    with pytest.raises(ValueError, match="not supported in a recurrent cell: .* gelu's derivative needs its input"):
        L.LSTM(4, activation="gelu")


def test_unfused_activation_keeps_the_conv_out_of_the_pool_fusion():
    from fastnn import layers as L

    fastnn.set_random_seed(0)
    model = fastnn.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, activation="gelu"), L.MaxPooling2D(2),
                               L.Flatten(), L.Dense(1)])
    assert model._pool_fusion == {}
    fused = fastnn.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, activation="relu"), L.MaxPooling2D(2)])
    assert fused._pool_fusion


TAPE_ACTIVATIONS = {  # Keras 3's activations no kernel computes: name -> NumPy formula (float64)
    "log_softmax": lambda x: x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))
    - x.max(-1, keepdims=True),
    "log_sigmoid": lambda x: -np.logaddexp(0.0, -x),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "sparse_plus": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, (x + 1) / 2)),
}


@pytest.mark.parametrize("name", sorted(TAPE_ACTIVATIONS))
def test_keras_3_activations_without_a_kernel(name, float64_numpy):
    from fastnn import activations, layers as L
    from helpers import layer_gradcheck

    rng = np.random.default_rng(5)
    x = 2.0 * rng.standard_normal((4, 6))
    np.testing.assert_allclose(activations.get(name)(x), TAPE_ACTIVATIONS[name](x), rtol=1e-12, atol=1e-12)
    layer = L.Dense(5, activation=name)
    layer_gradcheck(layer, x)  # (after the linear kernel, differentiated on the tape)
    assert layer.get_config()["activation"] == name


def test_sparsemax_and_glu():
    from fastnn import activations

    x = np.array([[0.1, 1.2, 0.9, -3.0], [2.0, 2.0, 2.0, 2.0]], np.float32)
    np.testing.assert_allclose(activations.sparsemax(x), [[0.0, 0.65, 0.35, 0.0], [0.25, 0.25, 0.25, 0.25]],
                               rtol=1e-6)
    columns = np.asarray(activations.sparsemax(np.random.default_rng(0).random((3, 5, 2)), axis=1))
    np.testing.assert_allclose(columns.sum(axis=1), 1.0, rtol=1e-12)
    a, b = x[:, :2], x[:, 2:]
    np.testing.assert_allclose(activations.glu(x), a / (1 + np.exp(-b)), rtol=1e-6)
    np.testing.assert_allclose(activations.threshold(x, 1.0, -7.0), np.where(x > 1.0, x, -7.0))
