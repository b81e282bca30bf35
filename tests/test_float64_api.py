"""float64 through the Keras- and TensorFlow-level functions on the default (C++) backend, whose
kernels compute in float32: tf.matmul, the activations, the kernel losses, MultiHeadAttention and
the recurrent cells keep float64 values float64-accurate, as Keras and TensorFlow compute them
(the float64 answers here come from NumPy or the NumPy backend)."""

import numpy as np
import pytest

import fastnn
import fastnn as tf
from fastnn import GradientTape, keras
from fastnn import layers as L


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_tf_matmul_keeps_the_operands_dtype(rng):
    a, b = rng.standard_normal((50, 40)), rng.standard_normal((40, 30))
    for matmul in (tf.matmul, tf.linalg.matmul):
        got = matmul(a, b)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, a @ b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(tf.matmul(a, a, transpose_a=True), a.T @ a, rtol=1e-13, atol=1e-12)
    ids = np.array([[16_777_217, 1], [3, 4]], np.int64)
    exact = tf.matmul(ids, np.eye(2, dtype=np.int64))
    assert exact.dtype == np.int64 and exact[0, 0] == 16_777_217  # (float32: 16777216)
    small = tf.matmul(np.array([[100, 100]], np.int8), np.array([[2], [2]], np.int8))
    assert small.dtype == np.int32 and small[0, 0] == 400  # (int8 would wrap to -112; Keras 3: int32)
    assert tf.matmul(np.ones((2, 3), np.int32), np.ones((3, 2), np.float32)).dtype == np.float32  # (two dtypes)
    # float32 operands still run the kernel; fastnn.ops.matmul (keras.ops.matmul) is the float32 kernel
    assert tf.matmul(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32
    assert fastnn.ops.matmul(a, b).dtype == np.float32


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "elu", "gelu"])
def test_activations_of_float64_compute_in_float64(rng, name):
    x = rng.standard_normal((4, 6))
    fn = getattr(keras.activations, name)
    got = fn(x)
    with fastnn.backend("numpy"):
        want = fn(x)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    with GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(fn(x) * np.arange(6.0))
    g = tape.gradient(y, x)
    with fastnn.backend("numpy"), GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(fn(x) * np.arange(6.0))
    np.testing.assert_array_equal(g, tape.gradient(y, x))


@pytest.mark.parametrize("axis", [1, (1, 2)])
def test_softmax_over_other_axes_of_float64(rng, axis):
    x = rng.standard_normal((2, 3, 4))
    got = keras.activations.softmax(x, axis=axis)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, e / e.sum(axis=axis, keepdims=True), rtol=1e-14, atol=1e-16)
    with GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(keras.activations.softmax(x, axis=axis) * np.arange(4.0))
    g = tape.gradient(y, x)
    with fastnn.backend("numpy"), GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(keras.activations.softmax(x, axis=axis) * np.arange(4.0))
    np.testing.assert_allclose(g, tape.gradient(y, x), rtol=1e-13, atol=1e-16)


def test_a_loss_object_differentiates_watched_targets_and_predictions(rng):
    y_true, y_pred = fastnn.constant(rng.standard_normal((4, 3))), fastnn.constant(rng.standard_normal((4, 3)))
    with GradientTape(persistent=True) as tape:
        tape.watch(y_true)
        tape.watch(y_pred)
        loss = keras.losses.MeanSquaredError()(y_true, y_pred)
    np.testing.assert_allclose(tape.gradient(loss, y_true), -2 * (np.asarray(y_pred) - np.asarray(y_true)) / 12,
                               rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, y_pred), 2 * (np.asarray(y_pred) - np.asarray(y_true)) / 12,
                               rtol=1e-12)


@pytest.mark.parametrize("loss", [keras.losses.CategoricalCrossentropy(from_logits=True),
                                  keras.losses.SparseCategoricalCrossentropy(),
                                  keras.losses.MeanSquaredError(), keras.losses.BinaryCrossentropy()],
                         ids=lambda l: type(l).__name__)
def test_kernel_loss_objects_of_float64_compute_in_float64(rng, loss):
    logits = rng.standard_normal((5, 3))
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        y_true, y_pred = np.array([0, 2, 1, 1, 0]), keras.activations.softmax(logits)
    elif isinstance(loss, keras.losses.BinaryCrossentropy):
        y_true, y_pred = (rng.random((5, 3)) > 0.5).astype(np.float64), 1 / (1 + np.exp(-logits))
    elif isinstance(loss, keras.losses.MeanSquaredError):
        y_true, y_pred = rng.standard_normal((5, 3)), logits
    else:
        y_true, y_pred = np.eye(3)[[0, 2, 1, 1, 0]], logits
    with GradientTape() as tape:
        tape.watch(y_pred)
        value = loss(y_true, y_pred)
    grad = tape.gradient(value, y_pred)
    with fastnn.backend("numpy"):
        want = loss(y_true, y_pred)
        want_grad = loss.gradient(y_true, y_pred)
    assert np.asarray(value).dtype == np.float64 and grad.dtype == np.float64
    np.testing.assert_allclose(float(value), float(want), rtol=1e-14)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-13, atol=1e-15)


def test_multi_head_attention_of_float64_computes_in_float64(rng):
    fastnn.utils.set_random_seed(1)
    mha = L.MultiHeadAttention(2, 4, dtype="float64")
    q, v = rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 7, 6))
    got = mha(q, v)
    with fastnn.backend("numpy"):
        want = mha(q, v)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cell", [L.SimpleRNNCell, L.LSTMCell, L.GRUCell], ids=lambda c: c.__name__)
def test_float64_cells_have_float64_weights_and_compute_in_float64(rng, cell):
    c = cell(6, dtype="float64")
    x, h = rng.standard_normal((3, 4)), rng.standard_normal((3, 6))
    states = [h, rng.standard_normal((3, 6))] if cell is L.LSTMCell else [h]
    out, _ = c(x, states)
    assert all(w.dtype == np.float64 for w in c.get_weights())
    with fastnn.backend("numpy"):
        want, _ = c(x, states)
    assert np.asarray(out).dtype == np.float64
    np.testing.assert_allclose(out, want, rtol=1e-14, atol=1e-15)


def test_a_float32_layer_after_a_float64_one_computes_in_float32(rng):
    # Keras casts a layer's inputs to its compute dtype (the NumPy backend runs float64 layers)
    x = rng.random((4, 3)).astype("float32")
    with fastnn.backend("numpy"):
        model = fastnn.Sequential([L.Input((3,)), L.Dense(8, dtype="float64"), L.Dense(2)])
        got = model.predict(x, verbose=0)
        hidden = np.asarray(model.layers[0](x))
        kernel, bias = model.layers[1].get_weights()
    assert model.output.dtype == "float32" and got.dtype == np.float32
    np.testing.assert_array_equal(got, hidden.astype(np.float32) @ kernel + bias)
