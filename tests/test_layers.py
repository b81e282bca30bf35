"""Layers, initializers, regularizers and activations of the Keras-shaped API.

Layer gradients are checked in float64 on the NumPy backend against central finite differences;
forward passes against plain NumPy formulas; the anatomy (validation, build, weights, config)
against Keras's conventions.
"""

import math

import numpy as np
import pytest

import fastnn
from fastnn import activations, initializers, layers, regularizers
from fastnn.layers import (Activation, Add, BatchNormalization, Concatenate, Dense, Dropout, ELU, Flatten, Input,
                           InputLayer, Layer, LeakyReLU, Multiply, ReLU, Reshape, Softmax, Subtract, Average)

from helpers import layer_gradcheck



# ---- Dense ------------------------------------------------------------------------------------


@pytest.mark.parametrize("units", [0, -3, 2.5, True, "8", None])
def test_dense_rejects_bad_units_and_echoes_them(units):
    with pytest.raises(ValueError, match=f"expected a positive integer. Received: units={units!r}"):
        Dense(units)


def test_dense_builds_keras_layouts_and_counts():
    d = Dense(64, activation="sigmoid")
    assert not d.built
    with pytest.raises(ValueError, match="isn't built"):
        d.count_params()
    d.build((None, 784))
    assert d.kernel.shape == (784, 64) and d.bias.shape == (64,)
    assert d.kernel.dtype == np.float32 and d.kernel.flags.c_contiguous
    assert d.weight_names == ["kernel", "bias"]
    assert d.count_params() == 784 * 64 + 64
    assert [w.shape for w in d.get_weights()] == [(784, 64), (64,)]
    assert np.all(d.bias == 0)
    limit = math.sqrt(6 / (784 + 64))  # glorot_uniform
    assert np.abs(d.kernel).max() <= limit and np.abs(d.kernel).max() > 0.9 * limit
    assert d.compute_output_shape((None, 784)) == (None, 64)
    assert Dense(5, use_bias=False)(np.ones((2, 3))).shape == (2, 5)


def test_dense_forward_matches_numpy_and_handles_rank_3():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4, 5)).astype(np.float32)
    d = Dense(3, activation="tanh")
    y = d(x)
    w, b = d.get_weights()
    np.testing.assert_allclose(y, np.tanh(x @ w + b), rtol=1e-5, atol=1e-6)
    assert y.shape == (6, 4, 3)
    dx = d.backward(np.ones_like(y))
    assert dx.shape == x.shape and len(d.get_gradients()) == 2


def test_dense_input_check_message():
    d = Dense(10)
    d.build((None, 784))
    with pytest.raises(ValueError, match="Input 0 of layer '.*' is incompatible with the layer: expected axis -1 to have "
                                         "value 784, found 28"):
        d(np.zeros((2, 28), np.float32))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        d(np.zeros(784, np.float32))


def test_empty_batches_and_empty_feature_axes():
    # an empty batch flattens to (0, features), as Keras's; a layer built on an empty features axis is a
    # clear error naming it (both were NumPy's "cannot reshape array of size 0", naming nothing)
    assert Flatten()(np.zeros((0, 3, 4), np.float32)).shape == (0, 12)
    assert Dense(5)(np.zeros((0, 4), np.float32)).shape == (0, 5)
    with pytest.raises(ValueError, match=r"Dense: the inputs' last axis \(the features\) must not be empty. Full "
                                         r"input shape received: \(None, 4, 0\)"):
        Dense(5)(np.zeros((2, 4, 0), np.float32))
    with pytest.raises(ValueError, match=r"BatchNormalization: the channels axis must be defined and not empty"):
        BatchNormalization()(np.zeros((2, 0), np.float32))


def test_set_weights_checks_count_and_shapes_before_writing():
    d = Dense(4)
    d.build((None, 3))
    before = d.get_weights()
    with pytest.raises(ValueError, match="weight list of length 1, but the layer was expecting 2 weights"):
        d.set_weights([np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"weight shape \(4,\) is not compatible with provided weight shape \(5,\)"):
        d.set_weights([np.zeros((3, 4)), np.zeros(5)])
    for a, b in zip(before, d.get_weights()):
        np.testing.assert_array_equal(a, b)
    kernel = d.kernel
    d.set_weights([np.ones((3, 4)), np.arange(4)])
    assert d.kernel is kernel  # updated in place: optimizers keep their references
    np.testing.assert_array_equal(d.kernel, 1)
    np.testing.assert_array_equal(d.bias, np.arange(4))


def test_get_config_round_trip():
    d = Dense(7, activation="relu", use_bias=False, kernel_initializer="he_normal",
              kernel_regularizer=regularizers.L2(0.003), name="hidden", input_shape=(5,))
    config = d.get_config()
    assert config["units"] == 7 and config["activation"] == "relu" and config["name"] == "hidden"
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    assert config["batch_input_shape"] == [None, 5]
    clone = Dense.from_config(config)
    assert clone.get_config() == config
    for cls, kwargs in [(BatchNormalization, {"momentum": 0.9, "center": False}), (Dropout, {"rate": 0.3, "seed": 4}),
                        (Reshape, {"target_shape": (2, -1)}), (Activation, {"activation": "elu"}),
                        (LeakyReLU, {"negative_slope": 0.1}), (Flatten, {}), (Concatenate, {"axis": -1}),
                        (ReLU, {}), (Softmax, {}), (ELU, {"alpha": 0.5})]:
        layer = cls(**kwargs)
        assert cls.from_config(layer.get_config()).get_config() == layer.get_config()


def test_unknown_kwargs_and_activation_are_rejected():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Dense"):
        Dense(3, kernel_size=3)
    with pytest.raises(ValueError, match="Unknown activation: 'swishh'"):
        Dense(3, activation="swishh")
    with pytest.raises(ValueError, match="Unknown activation"):
        Activation(42)
    # (a Python function is taken, as Keras takes any callable: tests/test_saving.py)
    np.testing.assert_array_equal(Activation(lambda x: x * 3)(np.ones((1, 2), np.float32)), [[3, 3]])


def test_trainable_flag_moves_weights_to_non_trainable():
    d = Dense(2)
    d.build((None, 3))
    d.trainable = False
    assert d.trainable_weights == [] and len(d.non_trainable_weights) == 2
    d(np.ones((1, 3), np.float32), training=True)
    d.backward(np.ones((1, 2), np.float32))
    assert d.get_gradients() == []


# ---- gradients (float64, NumPy backend) -------------------------------------------------------


@pytest.mark.parametrize("act", ["linear", "relu", "tanh", "sigmoid", "softmax", "elu", "selu", "softplus", "leaky_relu"])
def test_dense_gradients(float64_numpy, act):
    x = np.random.default_rng(1).standard_normal((5, 4)) + 0.05  # keep relu away from its kink
    layer_gradcheck(Dense(3, activation=act), x)


def test_dense_rank_3_gradients(float64_numpy):
    layer_gradcheck(Dense(2, activation="tanh"), np.random.default_rng(2).standard_normal((3, 2, 4)))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_batchnorm_gradients(float64_numpy, training, center, scale):
    rng = np.random.default_rng(3)
    bn = BatchNormalization(center=center, scale=scale, gamma_initializer=initializers.RandomNormal(1.0, 0.3, seed=1),
                            beta_initializer=initializers.RandomNormal(0.0, 0.3, seed=2))
    layer_gradcheck(bn, rng.standard_normal((6, 2, 3)) * 2 + 1, training=training)


@pytest.mark.parametrize("layer", [Activation("tanh"), ReLU(negative_slope=0.1), LeakyReLU(), ELU(0.7), Softmax(),
                                   Flatten(), Reshape((3, 4))])
def test_weightless_layer_gradients(float64_numpy, layer):
    layer_gradcheck(layer, np.random.default_rng(4).standard_normal((2, 4, 3)) + 0.01)


@pytest.mark.parametrize("cls", [Add, Subtract, Multiply, Average])
def test_merge_gradients(float64_numpy, cls):
    rng = np.random.default_rng(5)
    layer_gradcheck(cls(), [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))])


def test_concatenate_gradients(float64_numpy):
    rng = np.random.default_rng(6)
    layer_gradcheck(Concatenate(), [rng.standard_normal((3, 2)), rng.standard_normal((3, 5))])


# ---- BatchNormalization --------------------------------------------------------------------------


def test_batchnorm_defaults_weights_and_moving_statistics():
    bn = BatchNormalization()
    assert bn.momentum == 0.99 and bn.epsilon == 1e-3
    x = np.random.default_rng(0).standard_normal((32, 5)).astype(np.float32) * 3 + 2
    y = bn(x, training=True)
    assert bn.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert bn.count_params() == 20 and len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean, 0.01 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance, 0.99 + 0.01 * var, rtol=1e-5)
    # inference uses the moving statistics and leaves them alone
    stats = [w.copy() for w in bn.non_trainable_weights]
    y_inf = bn(x, training=False)
    np.testing.assert_allclose(y_inf, (x - bn.moving_mean) / np.sqrt(bn.moving_variance + 1e-3), rtol=1e-5, atol=1e-5)
    for a, b in zip(stats, bn.non_trainable_weights):
        np.testing.assert_array_equal(a, b)
    # a frozen layer runs in inference mode even when training
    bn.trainable = False
    assert len(bn.non_trainable_weights) == 4
    np.testing.assert_allclose(bn(x, training=True), y_inf, rtol=1e-6)
    for a, b in zip(stats, [bn.moving_mean, bn.moving_variance]):
        np.testing.assert_array_equal(a, b)


def test_batchnorm_rejects_bad_axes():
    with pytest.raises(ValueError, match="`axis` must be a channels axis of the input, not its batch axis"):
        BatchNormalization(axis=0)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)


# ---- Dropout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.5", None])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=f"Received: rate={rate!r}"):
        Dropout(rate)


def test_dropout_inverted_seeded_and_identity_at_inference():
    x = np.ones((200, 50), np.float32)
    d = Dropout(0.4, seed=3)
    assert d(x) is not None and np.array_equal(d(x, training=False), x)
    y = d(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.6) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.6, rtol=1e-6)
    np.testing.assert_array_equal(d.backward(np.full_like(x, 2)), np.where(kept, 2 / 0.6, 0).astype(np.float32))
    y2 = d(x, training=True)
    assert not np.array_equal(y, y2)  # a new mask per training call
    again = Dropout(0.4, seed=3)
    np.testing.assert_array_equal(again(x, training=True), y)  # same seed, same stream
    fastnn.set_random_seed(11)
    a = Dropout(0.5)(x, training=True)
    fastnn.set_random_seed(11)
    b = Dropout(0.5)(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert np.all(Dropout(1.0)(x, training=True) == 0)


# ---- Input, shapes, registry ---------------------------------------------------------------------


def test_input_and_shape_validation():
    t = Input(shape=(28, 28))
    assert t.shape == (None, 28, 28) and isinstance(t.node.layer, InputLayer)
    assert Input(shape=784).shape == (None, 784)
    assert InputLayer(batch_shape=(8, 3)).batch_shape == (8, 3)
    with pytest.raises(ValueError, match="Received: shape="):
        Input(shape=(0, 3))
    with pytest.raises(ValueError, match="shape"):
        InputLayer()
    with pytest.raises(ValueError, match="Received: input_dim=0"):
        Dense(3, input_dim=0)
    assert Flatten().compute_output_shape((None, 28, 28, 1)) == (None, 784)
    assert Reshape((7, -1)).compute_output_shape((None, 28, 2)) == (None, 7, 8)
    with pytest.raises(ValueError, match="total size must be unchanged"):
        Reshape((5, 5)).compute_output_shape((None, 24))


class Scale(Layer):
    """A new layer written against the base protocol only: y = x * s (one weight per feature)."""

    def build(self, input_shape):
        self.s = self.add_weight("s", (input_shape[-1],), initializer="ones")

    def call(self, inputs, training=False):
        self._x = inputs
        return ops_mul(inputs, self.s)

    def backward(self, dy):
        self._gradients = [np.sum(dy * self._x, axis=0)]
        return dy * self.s if self._need_input_grad else None

    def compute_output_shape(self, input_shape):
        return input_shape


def ops_mul(x, s):
    return x * s


def test_a_new_layer_plugs_into_models_unchanged():
    from fastnn.models import Sequential

    layers.register_layer(Scale)
    assert layers.registered_layers()["Scale"] is Scale
    model = Sequential([Dense(4, input_shape=(3,)), Scale(), Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.random.default_rng(0).random((16, 3)), np.random.default_rng(1).random((16, 1))
    before = model.layers[1].s.copy()
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.array_equal(before, model.layers[1].s)
    with pytest.raises(ValueError, match="different layer class is already registered"):
        layers.register_layer(type("Scale", (Layer,), {}))


class Lookup(Layer):
    """A layer taking integer indices (like an embedding): inputs stay int32."""

    input_dtype = "int32"

    def build(self, input_shape):
        self.table = self.add_weight("table", (10, 2))

    def call(self, inputs, training=False):
        assert inputs.dtype == np.int32
        self._idx = inputs
        return self.table[inputs].reshape(len(inputs), -1)

    def backward(self, dy):
        grad = np.zeros_like(self.table)
        np.add.at(grad, self._idx.reshape(-1), dy.reshape(-1, 2))
        self._gradients = [grad]
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * 2)


def test_integer_input_layers():
    from fastnn.models import Model, Sequential

    x = np.random.default_rng(0).integers(0, 10, (32, 3))
    y = (x.sum(1, keepdims=True) > 13).astype(np.float32)
    inp = Input(shape=(3,), dtype="int32")
    functional = Model(inp, Dense(1, activation="sigmoid")(Lookup()(inp)))
    for model in (Sequential([Lookup(input_shape=(3,)), Dense(1, activation="sigmoid")]), functional):
        assert model.layers[0 if isinstance(model, Sequential) else 1]._need_input_grad is False
        model.compile("adam", "binary_crossentropy")
        lookup = [l for l in model.layers if isinstance(l, Lookup)][0]
        table = lookup.table.copy()
        model.fit(x, y, epochs=2, verbose=0)
        assert not np.array_equal(table, lookup.table)
        assert model.predict(x, verbose=0).dtype == np.float32
    assert Input(shape=(3,), dtype="uint8").dtype == "uint8"  # (image pixels)
    with pytest.raises(ValueError, match=r"inputs may also be integers or booleans \(int8, .*uint32, bool\). Received: dtype='float16'"):
        Input(shape=(3,), dtype="float16")


# ---- initializers, regularizers, activations -----------------------------------------------------


def test_initializers_follow_keras_formulas():
    shape = (300, 200)
    for name, std in [("he_normal", math.sqrt(2 / 300)), ("glorot_normal", math.sqrt(2 / 500)),
                      ("lecun_normal", math.sqrt(1 / 300))]:
        w = initializers.get(name)(shape)
        assert abs(w.std() / std - 1) < 0.03, name
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6  # truncated at two (pre-scaling) stds
    for name, limit in [("glorot_uniform", math.sqrt(6 / 500)), ("he_uniform", math.sqrt(6 / 300)),
                        ("lecun_uniform", math.sqrt(3 / 300))]:
        w = initializers.get(name)(shape)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(initializers.RandomNormal()(shape).std() - 0.05) < 0.002
    assert np.abs(initializers.RandomUniform()(shape)).max() <= 0.05
    assert np.abs(initializers.TruncatedNormal()(shape)).max() <= 0.1
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3)), 0)
    np.testing.assert_array_equal(initializers.get("ones")((2,)), 1)
    np.testing.assert_array_equal(initializers.Constant(3)((2,)), 3)
    q = initializers.Orthogonal(seed=1)((5, 3))
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-5)
    q = initializers.get("orthogonal")((3, 5))
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    conv = initializers.GlorotUniform(seed=0)((3, 3, 8, 16))  # fans include the receptive field
    assert np.abs(conv).max() <= math.sqrt(6 / (9 * 8 + 9 * 16))
    # a seeded initializer repeats itself; unseeded ones follow set_random_seed
    np.testing.assert_array_equal(initializers.HeNormal(seed=5)((4, 4)), initializers.HeNormal(seed=5)((4, 4)))
    fastnn.set_random_seed(3)
    a = initializers.get("glorot_uniform")((4, 4))
    fastnn.set_random_seed(3)
    np.testing.assert_array_equal(a, initializers.GlorotUniform()((4, 4)))
    assert initializers.get(initializers.serialize(initializers.VarianceScaling(2.0, "fan_out", "uniform"))).mode == "fan_out"
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.get("xavier")


def test_regularizers_penalty_and_gradient():
    x = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert regularizers.L2(0.1)(x) == pytest.approx(0.1 * 5.25)
    assert regularizers.L1(0.1)(x) == pytest.approx(0.1 * 3.5)
    np.testing.assert_allclose(regularizers.L1L2(0.1, 0.2).gradient(x), 0.1 * np.sign(x) + 0.4 * x)
    assert regularizers.get("l2").l2 == 0.01 and regularizers.get("l1_l2").l1 == 0.01
    # Keras 3's l1_l2 is L1L2 (defaults 0): a factor not given adds no term (tf.keras 2's gave 0.01)
    assert regularizers.l1_l2(l1=0.001).get_config() == {"l1": 0.001, "l2": 0.0}
    assert regularizers.get(regularizers.serialize(regularizers.L1L2(0.3, 0.4))).get_config() == {"l1": 0.3, "l2": 0.4}
    with pytest.raises(ValueError, match="non-negative l2"):
        regularizers.L2(-1)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_penalty_and_gradient(mode):
    # Keras 3: factor · ½ Σ_{i≠j} |u_i · u_j| / (n (n - 1) / 2) over the normalised rows (columns)
    x = np.random.default_rng(3).normal(size=(5, 3))
    reg = regularizers.get({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.3, "mode": mode}})
    vectors = x if mode == "rows" else x.T
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    n = len(units)
    assert reg(x) == pytest.approx(0.3 * 0.5 * np.abs(units @ units.T - np.eye(n)).sum() / (n * (n - 1) / 2), rel=1e-12)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = 1e-6
        numeric[i] = (reg(x + step) - reg(x - step)) / 2e-6
    np.testing.assert_allclose(reg.gradient(x), numeric, rtol=1e-5, atol=1e-9)
    assert regularizers.get("orthogonal_regularizer").get_config() == {"factor": 0.01, "mode": "rows"}
    with pytest.raises(ValueError, match="rank 2"):
        reg(np.ones(3))


def test_activation_functions_and_names():
    x = np.array([[-2.0, 0.5, 3.0]], np.float32)
    np.testing.assert_allclose(activations.relu(x), np.maximum(x, 0))
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(activations.softmax(x).sum(), 1, rtol=1e-6)
    np.testing.assert_allclose(activations.leaky_relu(x, 0.1), np.where(x > 0, x, 0.1 * x), rtol=1e-6)
    assert activations.resolve(activations.tanh) == ("tanh", None) and activations.resolve(None)[0] == "linear"
    assert Dense(2, activation=activations.elu).get_config()["activation"] == "elu"
    assert activations.get("linear")(x) is x


def test_assigning_a_dense_or_activation_layers_activation():
    # keras.io Grad-CAM: model.layers[-1].activation = None gives the logits (Keras reads it per call)
    import fastnn
    from fastnn import activations, keras

    fastnn.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="predictions")(inp))
    model.compile("sgd", "categorical_crossentropy")
    w, b = model.get_layer("predictions").get_weights()
    model.layers[-1].activation = None
    np.testing.assert_allclose(model(x), x @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ w + b, rtol=1e-5, atol=1e-6)
    # and the loss is the cross-entropy of those outputs (no softmax folded in any more)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    logits = x @ w + b
    clipped = np.clip(logits / logits.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(float(np.mean(-np.sum(y * np.log(clipped), -1))),
                                                            rel=1e-5)
    act = Activation("relu")
    assert not np.asarray(act(-np.ones((1, 3), np.float32))).any()
    act.activation = activations.linear
    np.testing.assert_array_equal(act(-np.ones((1, 3), np.float32)), -np.ones((1, 3)))
    leaky = LeakyReLU(negative_slope=0.3)
    leaky.negative_slope = 0.1
    np.testing.assert_allclose(leaky(-np.ones((1, 3), np.float32)), -0.1 * np.ones((1, 3)), rtol=1e-6)
