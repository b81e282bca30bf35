"""Keras 3's arguments that fastnn once refused: relu's and ReLU's ``max_value`` and ``threshold``
(MobileNet's ReLU6), Softmax over another axis (or several, with a mask), LayerNormalization over
other axes, and BatchNormalization over a channels-first axis. Values against NumPy written here,
gradients against float64 central differences, BatchNormalization's moving statistics after a few
steps, configs, save/load, and the errors for bad axes."""

import numpy as np
import pytest

import fastnn
from fastnn import activations, autodiff
from fastnn.layers import (BatchNormalization, Conv2D, Dense, Flatten, Input, LayerNormalization, Masking, ReLU,
                           Softmax)
from fastnn.models import Model, Sequential, load_model
from helpers import assert_layer_matches_reference, gradcheck, layer_gradcheck, model_gradcheck

RNG = np.random.default_rng(7)


# ---- NumPy oracles (written from Keras 3's formulas, independently of fastnn) --------------------


def np_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's ReLU for threshold >= 0: x above the threshold (capped at max_value),
    negative_slope · (x - threshold) at or below it."""
    top = x if max_value is None else np.minimum(x, max_value)
    return np.where(x > threshold, top, negative_slope * (x - threshold))


def np_relu_slope(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """TensorFlow's gradient: 1 where threshold < x < max_value, negative_slope where x <= threshold,
    0 where x >= max_value."""
    inside = x > threshold if max_value is None else (x > threshold) & (x < max_value)
    return np.where(inside, 1.0, np.where(x <= threshold, negative_slope, 0.0))


def np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def away_from(x, kinks, gap=0.02):
    """``x`` with no value within ``gap`` of a kink (finite differences straddle none)."""
    x = x.copy()
    for k in kinks:
        if k is not None:
            near = np.abs(x - k) < gap
            x[near] = k + 3 * gap
    return x


RELU_CASES = [  # (max_value, negative_slope, threshold)
    (6.0, 0.0, 0.0),  # ReLU6: the relu6 kernel
    (None, 0.25, 0.0),  # leaky: the leaky_relu kernel
    (None, 0.0, 0.0),
    (3.0, 0.0, 0.0),
    (None, 0.0, 0.5),
    (1.5, 0.2, 0.5),
    (6.0, 0.1, 0.0),
    (0.4, 0.3, 0.7),  # a cap below the threshold: max_value for every x above it
]


# ---- activations.relu --------------------------------------------------------------------------


def test_relu_function_keras_docstring_examples():
    x = np.array([-10, -5, 0.0, 5, 10], np.float32)
    np.testing.assert_array_equal(activations.relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(activations.relu(x, threshold=5.0), [0, 0, 0, 0, 10])
    # tf.keras 2's name of the slope, as a keyword or the second positional argument
    np.testing.assert_array_equal(activations.relu(x, alpha=0.5), activations.relu(x, 0.5))
    np.testing.assert_array_equal(activations.relu(x, 0.5, 6.0, 1.0), np_relu(x, 0.5, 6.0, 1.0))
    assert activations.relu(x, max_value=5.0).dtype == np.float32


@pytest.mark.parametrize("max_value,slope,threshold", RELU_CASES)
def test_relu_function_values_and_gradient(max_value, slope, threshold):
    x = RNG.uniform(-3, 8, (4, 7)).astype(np.float32)
    x.flat[:4] = [threshold, 0.0, max_value or 2.0, -1.0]  # the kinks themselves
    y = activations.relu(x, negative_slope=slope, max_value=max_value, threshold=threshold)
    np.testing.assert_allclose(y, np_relu(x, slope, max_value, threshold), rtol=1e-6, atol=1e-7)
    leaf = autodiff.Tensor(x)
    out = activations.relu(leaf, negative_slope=slope, max_value=max_value, threshold=threshold)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    (dx,) = autodiff.grad(out, [leaf], seed=g)
    np.testing.assert_allclose(dx, g * np_relu_slope(x, slope, max_value, threshold), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("max_value,slope,threshold", RELU_CASES)
def test_relu_function_gradient_by_finite_differences(float64_numpy, max_value, slope, threshold):
    x = away_from(RNG.uniform(-3, 8, (3, 5)), [0.0, threshold, max_value])
    r = RNG.standard_normal(x.shape)

    def f():
        return float(np.sum(np.asarray(activations.relu(x, slope, max_value, threshold)) * r))

    leaf = autodiff.Tensor(x)
    (dx,) = autodiff.grad(activations.relu(leaf, slope, max_value, threshold), [leaf], seed=r)
    gradcheck(f, [x], [dx], what=f"relu({slope}, {max_value}, {threshold})")


def test_relu_function_bad_arguments():
    x = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="activations.relu: negative_slope and its tf.keras 2 name alpha were both "
                                         "given. Received: negative_slope=0.1, alpha=0.2"):
        activations.relu(x, negative_slope=0.1, alpha=0.2)
    with pytest.raises(ValueError, match=r"activations.relu: max_value cannot be negative. Received: max_value=-1"):
        activations.relu(x, max_value=-1.0)
    with pytest.raises(ValueError, match="activations.relu: expected a number for `max_value`. Received: "
                                         "max_value='six'"):
        activations.relu(x, max_value="six")


# ---- ReLU ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_value,slope,threshold", RELU_CASES)
def test_relu_layer_forward_and_kink_gradients(max_value, slope, threshold):
    layer = ReLU(max_value=max_value, negative_slope=slope, threshold=threshold)
    x = RNG.uniform(-3, 8, (5, 6)).astype(np.float32)
    x.flat[:4] = [threshold, 0.0, max_value or 2.0, -1.0]
    y = layer(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, np_relu(x, slope, max_value, threshold), rtol=1e-6, atol=1e-7)
    dy = RNG.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(layer.backward(dy), dy * np_relu_slope(x, slope, max_value, threshold), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("max_value,slope,threshold", RELU_CASES)
def test_relu_layer_gradcheck(float64_numpy, max_value, slope, threshold):
    x = away_from(RNG.uniform(-3, 8, (3, 4, 2)), [0.0, threshold, max_value])
    layer_gradcheck(ReLU(max_value, slope, threshold), x)


def test_relu6_is_the_fused_kernel_and_keras_config():
    layer = ReLU(6.0)
    assert (layer._act, layer._unfused) == ("relu6", None)
    assert ReLU()._act == "relu" and ReLU(negative_slope=0.1)._act == "leaky_relu"
    assert ReLU(max_value=3.0)._act == "linear" and callable(ReLU(max_value=3.0)._unfused)
    config = layer.get_config()
    assert {k: config[k] for k in ("max_value", "negative_slope", "threshold")} == \
        {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}
    assert "activation" not in config
    for args in RELU_CASES:
        layer = ReLU(*args)
        again = ReLU.from_config(layer.get_config())
        assert again.get_config() == layer.get_config()
        x = RNG.uniform(-3, 8, (2, 9)).astype(np.float32)
        np.testing.assert_array_equal(again(x), layer(x))


@pytest.mark.parametrize("activation", [ReLU(6.0), ReLU(max_value=2.0, threshold=0.3, negative_slope=0.1)])
def test_relu_layer_as_an_activation(float64_numpy, activation):
    dense = Dense(4, activation=activation, kernel_initializer="random_normal", bias_initializer="random_normal")
    x = RNG.standard_normal((5, 3)) * 3
    y = dense(x)
    z = x @ dense.kernel + dense.bias
    np.testing.assert_allclose(y, np_relu(z, activation.negative_slope, activation.max_value, activation.threshold),
                               rtol=1e-12, atol=1e-12)
    layer_gradcheck(dense, x, tol=1e-5)
    # the config keeps the layer, with its arguments
    again = Dense.from_config(dense.get_config())
    assert again.activation.get_config() == activation.get_config()


def test_conv_with_relu6_activation_trains_in_a_model():
    model = Sequential([Input((6, 6, 2)), Conv2D(3, 3, activation=ReLU(6.0)), Flatten(), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.standard_normal((8, 6, 6, 2)).astype(np.float32) * 4
    y = RNG.standard_normal((8, 2)).astype(np.float32)
    model.fit(x, y, epochs=2, verbose=0)
    assert model.layers[0]._act == "relu6"


@pytest.mark.parametrize("kwargs,match", [
    ({"max_value": -1.0}, "max_value cannot be negative"),
    ({"negative_slope": -0.1}, r"ReLU: negative_slope cannot be None or negative. Received: negative_slope=-0.1"),
    ({"negative_slope": None}, "negative_slope cannot be None"),
    ({"threshold": -0.5}, r"ReLU: threshold cannot be None or negative. Received: threshold=-0.5"),
    ({"threshold": None}, "threshold cannot be None"),
])
def test_relu_layer_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReLU(**kwargs)


# ---- Softmax ---------------------------------------------------------------------------------------


SOFTMAX_CASES = [  # (axis, input shape)
    (1, (2, 3, 4)),
    (-2, (2, 3, 4)),
    (0, (3, 5)),
    ((1, 2), (2, 3, 4)),
    ([2, 1], (2, 3, 4, 2)),
    ((-1,), (3, 4)),
    (-1, (2, 3, 4)),
]


@pytest.mark.parametrize("axis,shape", SOFTMAX_CASES)
def test_softmax_layer_values(axis, shape):
    x = (RNG.standard_normal(shape) * 3).astype(np.float32)
    y = Softmax(axis=axis)(x)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    np.testing.assert_allclose(y, np_softmax(x.astype(np.float64), axes), rtol=1e-5, atol=1e-7)
    assert y.flags.c_contiguous and y.dtype == np.float32


@pytest.mark.parametrize("axis,shape", SOFTMAX_CASES)
def test_softmax_layer_gradcheck(float64_numpy, axis, shape):
    layer_gradcheck(Softmax(axis=axis), RNG.standard_normal(shape))


@pytest.mark.parametrize("axis,shape", SOFTMAX_CASES)
def test_softmax_function_axes_and_gradient(float64_numpy, axis, shape):
    x = RNG.standard_normal(shape)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    np.testing.assert_allclose(activations.softmax(x, axis=axis), np_softmax(x, axes), rtol=1e-12, atol=1e-14)
    r = RNG.standard_normal(shape)
    leaf = autodiff.Tensor(x)
    (dx,) = autodiff.grad(activations.softmax(leaf, axis=axis), [leaf], seed=r)
    gradcheck(lambda: float(np.sum(np_softmax(x, axes) * r)), [x], [dx], what=f"softmax axis={axis}")


def test_softmax_mask_as_keras_applies_it(float64_numpy):
    # Keras 3: the masked logits replaced by -1e9 and the masked outputs set to 0, so a column with
    # every value masked (here [0, :, 0]) gives zeros, not a uniform distribution
    x = RNG.standard_normal((2, 3, 4))
    mask = RNG.random((2, 3, 4)) > 0.3
    mask[0, :, 0] = False
    layer = Softmax(axis=1)
    y = layer(x, mask=mask)
    want = np.where(mask, np_softmax(np.where(mask, x, -1e9), 1), 0.0)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-15)
    assert np.all(y[0, :, 0] == 0)
    r = RNG.standard_normal(x.shape)
    dx = layer.backward(r)
    gradcheck(lambda: float(np.sum(layer.call(x, mask=mask) * r)), [x], [dx], what="masked softmax")
    assert np.all(dx[0, :, 0] == 0)
    # a (batch, steps) mask covers the leading axes
    steps = np.array([[True, True, False], [True, False, False]])
    np.testing.assert_allclose(layer(x, mask=steps), np_softmax(x + (1.0 - steps[..., None]) * -1e9, 1), atol=1e-15)
    # an attention-style mask of the input's rank broadcasts: (batch, 1, keys) for (batch, queries, keys)
    keys = np.array([[[True, False, True, True]], [[False, True, True, False]]])
    np.testing.assert_allclose(Softmax()(x, mask=keys), np.where(keys, np_softmax(np.where(keys, x, -1e9), 2), 0),
                               atol=1e-15)
    with pytest.raises(ValueError, match="must cover the leading axes"):
        Softmax()(x, mask=np.ones((2, 2, 4), bool))


def test_softmax_over_steps_in_a_masked_model():
    # Masking's (batch, steps) mask reaches Softmax(axis=1): padded steps get no weight
    x = RNG.standard_normal((3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, 1:] = 0.0
    inp = Input((5, 2))
    model = Model(inp, Softmax(axis=1)(Masking()(inp)))
    y = model.predict(x, verbose=0)
    keep = np.any(x != 0, axis=-1)
    want = np_softmax(x.astype(np.float64) * keep[..., None] + (1.0 - keep[..., None]) * -1e9, 1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-7)
    assert np.all(y[0, 3:] < 1e-30) and np.all(y[2, 1:] < 1e-30)


def test_softmax_fusion_only_over_the_last_axis():
    last, first = Softmax(axis=1), Softmax(axis=0)
    last.build((None, 4))
    first.build((None, 4))
    assert last._fusable_activation == "softmax" and first._fusable_activation is None
    three = Softmax(axis=1)
    three.build((None, 3, 4))
    assert three._fusable_activation is None


def test_softmax_over_another_axis_trains_with_crossentropy(float64_numpy):
    model = Sequential([Input((4,)), Dense(6, kernel_initializer="random_normal"), fastnn.layers.Reshape((3, 2)),
                        Softmax(axis=1), Flatten()])
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.standard_normal((5, 4))
    y = RNG.random((5, 6))
    model_gradcheck(model, x, y)


def test_softmax_as_an_activation_over_another_axis():
    dense = Dense(4, activation=Softmax(axis=0))
    x = RNG.standard_normal((3, 2)).astype(np.float32)
    y = dense(x)
    np.testing.assert_allclose(y, np_softmax(x @ dense.kernel + dense.bias, 0), rtol=1e-5, atol=1e-7)
    assert Dense.from_config(dense.get_config()).activation.axis == 0


def test_softmax_config_and_bad_axes():
    for axis in (-1, 1, (1, 2), [1, 2]):
        layer = Softmax(axis=axis)
        assert layer.get_config()["axis"] == axis
        assert Softmax.from_config(layer.get_config()).get_config() == layer.get_config()
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"Softmax 'sm': `axis` must name axes of the input, in \[-3, 3\) for an "
                                         r"input of rank 3. Received: axis=3"):
        Softmax(axis=3, name="sm")(x)
    with pytest.raises(ValueError, match=r"Softmax '.*': `axis` names the same axis twice. Received: axis=\(1, -2\)"):
        Softmax(axis=(1, -2))(x)
    with pytest.raises(ValueError, match=r"Softmax: expected `axis` to be an integer or a non-empty list/tuple of "
                                         r"integers. Received: axis='last'"):
        Softmax(axis="last")
    with pytest.raises(ValueError, match="Received: axis=()"):
        Softmax(axis=())
    with pytest.raises(ValueError, match=r"softmax: `axis` must name axes of the input"):
        activations.softmax(x, axis=-4)


# ---- LayerNormalization ----------------------------------------------------------------------------


def np_layer_norm(x, axis, gamma, beta, epsilon=1e-3):
    """Keras 3's: moments over ``axis``; gamma and beta reshaped onto the input's axes."""
    axes = [a % x.ndim for a in (axis if isinstance(axis, list) else [axis])]
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=tuple(axes), keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma.reshape(shape) + beta.reshape(shape)


LN_CASES = [  # (axis, input shape, gamma's shape)
    ([1, 2], (2, 3, 4, 5), (3, 4)),
    (1, (3, 4, 5), (4,)),
    ([1, 2, 3], (2, 3, 2, 4), (3, 2, 4)),
    ([-2, -1], (2, 3, 4), (3, 4)),
    ([2, 1], (2, 3, 4), (3, 4)),  # Keras 3 sorts the axes when built: gamma (3, 4), axis becomes [1, 2]
    ((-1,), (3, 5), (5,)),
]


@pytest.mark.parametrize("axis,shape,wshape", LN_CASES)
def test_layer_normalization_axes_values(axis, shape, wshape):
    layer = LayerNormalization(axis=axis, gamma_initializer="random_normal", beta_initializer="random_normal")
    x = (RNG.standard_normal(shape) * 2 + 1).astype(np.float32)
    y = layer(x)
    assert layer.gamma.shape == wshape and layer.beta.shape == wshape
    assert layer.count_params() == 2 * int(np.prod(wshape))
    ax = list(axis) if isinstance(axis, (list, tuple)) else axis
    if isinstance(axis, (list, tuple)) and len(axis) > 1:
        assert layer.axis == sorted(a % len(shape) for a in axis)
    np.testing.assert_allclose(y, np_layer_norm(x.astype(np.float64), ax, layer.gamma, layer.beta), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("axis,shape,wshape", LN_CASES)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_layer_normalization_axes_gradcheck(float64_numpy, axis, shape, wshape, center, scale):
    layer = LayerNormalization(axis=axis, center=center, scale=scale, gamma_initializer="random_normal",
                               beta_initializer="random_normal")
    layer_gradcheck(layer, RNG.standard_normal(shape) * 2 + 1)


def test_layer_normalization_axes_config_spec_and_errors():
    layer = LayerNormalization(axis=[1, 2], epsilon=1e-5)
    config = layer.get_config()
    assert config["axis"] == [1, 2] and config["epsilon"] == 1e-5
    assert LayerNormalization.from_config(config).get_config() == config
    assert LayerNormalization(axis=(1, 2)).axis == [1, 2] and LayerNormalization(axis=[-1]).axis == -1
    assert LayerNormalization(axis=1).get_config()["axis"] == 1
    layer(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="expected axis 1 to have value 3"):
        layer(np.zeros((2, 5, 4), np.float32))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 4)
    with pytest.raises(ValueError, match=r"LayerNormalization 'ln': `axis` must name axes of the input, in \[-3, 3\) "
                                         r"for an input of rank 3. Received: axis=\[1, 3\]"):
        LayerNormalization(axis=[1, 3], name="ln")(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"names the same axis twice. Received: axis=\[2, -1\]"):
        LayerNormalization(axis=[2, -1])(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"LayerNormalization: expected `axis` to be an integer or a non-empty "
                                         r"list/tuple of integers. Received: axis='features'"):
        LayerNormalization(axis="features")
    with pytest.raises(ValueError, match="must have defined sizes"):
        LayerNormalization(axis=1)(Input((None, 4)))


# ---- BatchNormalization ----------------------------------------------------------------------------


def np_batch_norm_train(x, axis, gamma, beta, epsilon=1e-3):
    others = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    shape = [-1 if a == axis % x.ndim else 1 for a in range(x.ndim)]
    mean, var = x.mean(axis=others), x.var(axis=others)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon) * gamma.reshape(shape) + beta.reshape(shape)
    return y, mean, var


BN_CASES = [(1, (6, 3, 5)), (1, (4, 3, 2, 5)), (-3, (4, 3, 2, 5)), (2, (4, 2, 3, 5)), (1, (8, 3))]


@pytest.mark.parametrize("axis,shape", BN_CASES)
def test_batchnorm_channels_first_training_inference_and_moving_statistics(axis, shape):
    bn = BatchNormalization(axis=axis, momentum=0.9, gamma_initializer="random_normal",
                            beta_initializer="random_normal")
    channels = shape[axis]
    mm, mv = np.zeros(channels), np.ones(channels)
    for step in range(3):
        x = (RNG.standard_normal(shape) * 2 + step).astype(np.float32)
        y = bn(x, training=True)
        want, mean, var = np_batch_norm_train(x.astype(np.float64), axis, bn.gamma, bn.beta)
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
        mm, mv = 0.9 * mm + 0.1 * mean, 0.9 * mv + 0.1 * var
        assert y.flags.c_contiguous and y.shape == x.shape
    assert [w.shape for w in bn.get_weights()] == [(channels,)] * 4
    np.testing.assert_allclose(bn.moving_mean, mm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance, mv, rtol=1e-5, atol=1e-6)
    # inference: the moving statistics, left alone
    shape_c = [-1 if a == axis % x.ndim else 1 for a in range(x.ndim)]
    y = bn(x, training=False)
    want = (x - mm.reshape(shape_c)) / np.sqrt(mv.reshape(shape_c) + 1e-3) * bn.gamma.reshape(shape_c) + \
        bn.beta.reshape(shape_c)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean, mm, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis,shape", BN_CASES)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_channels_first_gradcheck(float64_numpy, axis, shape, training):
    bn = BatchNormalization(axis=axis, gamma_initializer="random_normal", beta_initializer="random_normal",
                            moving_mean_initializer="random_normal", moving_variance_initializer="ones")
    layer_gradcheck(bn, RNG.standard_normal(shape) * 2 + 1, training=training)


@pytest.mark.parametrize("axis,shape", BN_CASES[:3])
def test_batchnorm_channels_first_cpp_matches_reference(axis, shape):
    bn = BatchNormalization(axis=axis, gamma_initializer="random_normal", beta_initializer="random_normal")
    assert_layer_matches_reference(bn, (RNG.standard_normal(shape) * 2).astype(np.float32), RNG)


def test_batchnorm_channels_first_equals_channels_last_on_the_transposed_input():
    x = RNG.standard_normal((4, 3, 2, 5)).astype(np.float32)
    first, last = BatchNormalization(axis=1), BatchNormalization()
    first.build((None, 3, 2, 5))
    last.build((None, 2, 5, 3))
    weights = [RNG.standard_normal(3).astype(np.float32) for _ in range(2)] + [np.zeros(3, np.float32),
                                                                               np.ones(3, np.float32)]
    first.set_weights(weights)
    last.set_weights(weights)
    xt = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    np.testing.assert_allclose(np.moveaxis(first(x, training=True), 1, -1), last(xt, training=True), rtol=1e-6,
                               atol=1e-6)
    dy = RNG.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(np.moveaxis(first.backward(dy), 1, -1),
                               last.backward(np.ascontiguousarray(np.moveaxis(dy, 1, -1))), rtol=1e-5, atol=1e-6)
    for a, b in zip(first.get_gradients(), last.get_gradients()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(first.non_trainable_weights, last.non_trainable_weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_batchnorm_channels_first_mask_over_the_batch():
    x = RNG.standard_normal((5, 3, 4)).astype(np.float32)
    keep = np.array([True, False, True, True, False])
    bn = BatchNormalization(axis=1, momentum=0.5)
    y = bn(x, training=True, mask=keep)
    kept = x[keep].astype(np.float64)
    mean, var = kept.mean(axis=(0, 2)), kept.var(axis=(0, 2))
    np.testing.assert_allclose(y, (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean, 0.5 * mean, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"BatchNormalization '.*': with axis=1, a mask must cover only axes before "
                                         r"the channels axis"):
        bn(x, training=True, mask=np.ones((5, 3), bool))


def test_batchnorm_channels_first_config_spec_and_bad_axes():
    bn = BatchNormalization(axis=1, momentum=0.8)
    config = bn.get_config()
    assert config["axis"] == 1 and config["momentum"] == 0.8
    assert BatchNormalization.from_config(config).get_config() == config
    bn(np.zeros((2, 3, 4), np.float32))
    assert bn.input_spec.ndim == 3 and bn.input_spec.axes == {1: 3}
    with pytest.raises(ValueError, match="expected axis 1 to have value 3"):
        bn(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn': `axis` must be a channels axis of the input, not "
                                         r"its batch axis: 1..2 or -2..-1 for an input of rank 3. Received: axis=0"):
        BatchNormalization(axis=0, name="bn")(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"1..2 or -2..-1 for an input of rank 3. Received: axis=3"):
        BatchNormalization(axis=3)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"Received: axis=-3"):
        BatchNormalization(axis=-3)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"BatchNormalization: expected an integer axis. Received: axis='channels'"):
        BatchNormalization(axis="channels")


# ---- in models -----------------------------------------------------------------------------------


def _channels_first_model():
    inp = Input((3, 6))  # (channels, length)
    h = BatchNormalization(axis=1, name="bn")(inp)
    h = LayerNormalization(axis=[1, 2], name="ln", gamma_initializer="random_normal")(h)
    h = ReLU(max_value=2.0, negative_slope=0.05, threshold=0.1, name="relu")(h)
    h = ReLU(6.0, name="relu6")(h)
    h = Softmax(axis=1, name="softmax")(h)
    out = Dense(2, name="dense")(Flatten()(h))
    return Model(inp, out)


def test_model_with_the_new_arguments_trains_saves_and_loads(tmp_path):
    model = _channels_first_model()
    model.compile(optimizer="adam", loss="mse")
    x = RNG.standard_normal((16, 3, 6)).astype(np.float32)
    y = RNG.standard_normal((16, 2)).astype(np.float32)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))
    assert model.get_layer("ln").gamma.shape == (3, 6) and model.get_layer("bn").gamma.shape == (3,)
    path = tmp_path / "axes.fastnn"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for name in ("bn", "ln", "relu", "relu6", "softmax"):
        assert loaded.get_layer(name).get_config() == model.get_layer(name).get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_with_the_new_arguments_gradcheck(float64_numpy):
    model = _channels_first_model()
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.standard_normal((4, 3, 6))
    model_gradcheck(model, x, RNG.standard_normal((4, 2)), tol=1e-5)
