"""Code from Géron's "Hands-On Machine Learning" (3rd edition), chapters 10-17, with its imports changed
(``import fastnn as tf``) and small synthetic data: each test is a cell that once ran with a wrong
result or an error, checked against what Keras computes."""

import numpy as np
import pytest

import fastnn as tf

keras = tf.keras


def _regression_data(n=256, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x.sum(1, keepdims=True) ** 2 / features).astype("float32")


class MyDense(keras.layers.Layer):
    """Chapter 12's custom layer: its activation is ``keras.activations.get(activation)``."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, batch_input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[batch_input_shape[-1], self.units],
                                      initializer="he_normal")
        self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros")

    def call(self, X):
        return self.activation(X @ self.kernel + self.bias)


def test_keras_activation_functions_are_recorded_in_custom_layers_lambdas_and_tapes():
    x, y = _regression_data()
    model = keras.Sequential([MyDense(30, activation="relu", input_shape=[8]), MyDense(1)])
    model.compile(loss="mse", optimizer="nadam")
    before = model.get_weights()
    history = model.fit(x, y, epochs=3, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))  # the first layer trains too
    assert history.history["loss"][-1] < history.history["loss"][0]

    lam = keras.Sequential([keras.layers.Dense(4, input_shape=[8]),
                            keras.layers.Lambda(lambda z: keras.activations.sigmoid(z)), keras.layers.Dense(1)])
    lam.compile(loss="mse", optimizer="sgd")
    kernel = lam.get_weights()[0].copy()
    lam.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(kernel, lam.get_weights()[0])

    # each function's gradient on a tape is its derivative (gelu exact, as keras.activations.gelu's default)
    v = tf.Variable(np.array([[-1.5, -0.25, 0.5, 2.0]], np.float32))
    xv = v.numpy().astype(np.float64)
    s = 1 / (1 + np.exp(-xv))
    phi = np.exp(-xv * xv / 2) / np.sqrt(2 * np.pi)
    from math import erf
    cdf = 0.5 * (1 + np.vectorize(erf)(xv / np.sqrt(2)))
    derivatives = {"relu": (xv > 0) * 1.0, "tanh": 1 - np.tanh(xv) ** 2, "sigmoid": s * (1 - s),
                   "softplus": s, "elu": np.where(xv > 0, 1.0, np.exp(xv)), "silu": s * (1 + xv * (1 - s)),
                   "gelu": cdf + xv * phi, "leaky_relu": np.where(xv > 0, 1.0, 0.2)}
    for name, derivative in derivatives.items():
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(getattr(keras.activations, name)(v * 1.0))
        np.testing.assert_allclose(tape.gradient(out, v), derivative, atol=1e-6, err_msg=name)

    # on a symbolic tensor: one step of the graph, trained and saved
    inputs = keras.Input((8,))
    graph = keras.Model(inputs, keras.activations.tanh(keras.layers.Dense(3)(inputs)))
    kernel, bias = graph.get_weights()
    np.testing.assert_allclose(graph.predict(x, verbose=0), np.tanh(x @ kernel + bias), atol=1e-6)


def test_watched_input_fed_to_a_layer_gets_its_gradient():
    x = tf.constant(np.random.default_rng(1).random((4, 3)).astype(np.float32))
    layer = keras.layers.Dense(5)
    layer(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(layer(x))
    np.testing.assert_allclose(tape.gradient(total, x), np.tile(layer.kernel.numpy().sum(1), (4, 1)), rtol=1e-6)
    b = tf.constant(np.ones((2, 3), np.float32))
    with tf.GradientTape() as tape:
        tape.watch(b)
        total = tf.reduce_sum(keras.layers.Concatenate()([b, b * 2.0]))
    np.testing.assert_array_equal(tape.gradient(total, b), np.full((2, 3), 3.0))


class ReconstructingRegressor(keras.Model):
    """Chapter 12's model with an auxiliary output: its build() does not call super().build(), and
    its call() updates a metric under ``if training:``."""

    def __init__(self, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [keras.layers.Dense(30, activation="relu", kernel_initializer="he_normal") for _ in range(2)]
        self.out = keras.layers.Dense(output_dim)
        self.reconstruction_mean = keras.metrics.Mean(name="reconstruction_error")
        self.recon_losses = []

    def build(self, batch_input_shape):
        self.reconstruct = keras.layers.Dense(batch_input_shape[-1])

    def call(self, inputs, training=None):
        Z = inputs
        for layer in self.hidden:
            Z = layer(Z)
        recon_loss = tf.reduce_mean(tf.square(self.reconstruct(Z) - inputs))
        self.add_loss(0.05 * recon_loss)
        if training:
            self.recon_losses.append(float(recon_loss))
            result = self.reconstruction_mean(recon_loss)
            self.add_metric(result)
        return self.out(Z)


def test_a_subclassed_call_that_tests_training_runs_every_step_with_the_steps_flag():
    x, y = _regression_data(128)
    model = ReconstructingRegressor(1)
    model.compile(loss="mse", optimizer="nadam")
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert sorted(history.history) == ["loss", "reconstruction_error"]
    assert len(model.recon_losses) == 8  # each training batch took the branch; predict and evaluate do not
    np.testing.assert_allclose(history.history["reconstruction_error"][1], np.mean(model.recon_losses[4:]), rtol=1e-6)
    assert sorted(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss"]
    model.predict(x, verbose=0)
    assert len(model.recon_losses) == 8

    class NoisyModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)
            self.dropout = keras.layers.Dropout(0.5)

        def call(self, x, training=None):
            if training:
                x = x + 100.0
            return self.dense(self.dropout(x, training=training))

    noisy = NoisyModel()
    noisy.compile(loss="mse", optimizer=keras.optimizers.SGD(0.0))
    zeros = np.zeros((4, 1), np.float32)
    assert noisy.train_on_batch(zeros, zeros) > 0  # the training branch ran (dropout may zero some rows)
    np.testing.assert_array_equal(noisy.predict(zeros, verbose=0), zeros)
    np.testing.assert_array_equal(noisy(zeros, training=False), zeros)
    assert np.all(np.isin(np.asarray(noisy(zeros, training=True)), [0.0, 200.0]))  # + 100, then dropout's 2x or 0
