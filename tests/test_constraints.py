"""Weight constraints (fastnn.constraints): Keras's formulas, applied after every update."""

import numpy as np
import pytest

import fastnn
from fastnn import constraints
from fastnn.constraints import MaxNorm, MinMaxNorm, NonNeg, UnitNorm
from fastnn.layers import LSTM, BatchNormalization, Bidirectional, Conv2D, Dense, Embedding, Flatten, Input
from fastnn.models import Model, Sequential, load_model

EPS = 1e-7


def norms(w, axis):
    return np.sqrt(np.sum(w * w, axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, [0, 1, 2]])
def test_formulas(axis):
    w = np.random.default_rng(0).standard_normal((3, 3, 4, 5)).astype(np.float32) * 2
    n = norms(w, tuple(axis) if isinstance(axis, list) else axis)
    np.testing.assert_allclose(MaxNorm(1.5, axis=axis)(w), w * np.clip(n, 0, 1.5) / (EPS + n), rtol=1e-6)
    np.testing.assert_allclose(UnitNorm(axis=axis)(w), w / (EPS + n), rtol=1e-6)
    desired = 0.3 * np.clip(n, 0.5, 2.0) + 0.7 * n
    np.testing.assert_allclose(MinMaxNorm(0.5, 2.0, rate=0.3, axis=axis)(w), w * desired / (EPS + n), rtol=1e-6)
    np.testing.assert_array_equal(NonNeg()(w), np.where(w >= 0, w, 0))
    for c in (MaxNorm(1.5, axis=axis), UnitNorm(axis=axis), MinMaxNorm(axis=axis), NonNeg()):
        assert c(w).dtype == np.float32 and c(w).shape == w.shape


def test_max_norm_leaves_small_weights_alone():
    w = np.array([[0.3, -0.4], [0.0, 0.1]], np.float32)  # column norms 0.3 and 0.41
    np.testing.assert_allclose(MaxNorm(1.0)(w), w, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(MaxNorm(0.2)(w), axis=0), [0.2, 0.2], rtol=1e-5)


def test_get_serialize_and_errors():
    assert isinstance(constraints.get("max_norm"), MaxNorm) and constraints.get(None) is None
    c = MinMaxNorm(0.1, 3.0, rate=0.5, axis=[0, 1])
    again = constraints.deserialize(constraints.serialize(c))
    assert type(again) is MinMaxNorm and again.get_config() == c.get_config()
    assert constraints.max_norm is MaxNorm and constraints.non_neg is NonNeg
    with pytest.raises(ValueError, match="Unknown constraint: 'max'"):
        constraints.get("max")
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: 3"):
        constraints.get(3)
    with pytest.raises(ValueError, match="MaxNorm: expected a finite, non-negative max_value"):
        MaxNorm(-1)
    with pytest.raises(ValueError, match="MaxNorm: axis=3 does not fit a weight of shape \\(2, 2\\)"):
        MaxNorm(axis=3)(np.ones((2, 2)))


def test_fit_applies_the_constraints_after_every_update(tmp_path):
    # the dropout paper's recipe, as Keras tutorials write it: Dense(..., kernel_constraint=MaxNorm(3))
    fastnn.set_random_seed(0)
    model = Sequential([Dense(16, activation="relu", input_shape=(8,), kernel_constraint=MaxNorm(0.5)),
                        Dense(3, activation="softmax", kernel_constraint="unit_norm", bias_constraint=NonNeg())])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(1).standard_normal((64, 8)).astype(np.float32) * 3
    y = np.random.default_rng(2).integers(0, 3, 64)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first, second = model.layers
    assert np.linalg.norm(first.kernel, axis=0).max() <= 0.5 + 1e-5
    np.testing.assert_allclose(np.linalg.norm(second.kernel, axis=0), 1.0, rtol=1e-5)
    assert second.bias.min() >= 0
    model.train_on_batch(x[:4], y[:4])
    assert np.linalg.norm(first.kernel, axis=0).max() <= 0.5 + 1e-5
    model.save(tmp_path / "m.fastnn")
    again = load_model(tmp_path / "m.fastnn")
    assert again.layers[0].kernel_constraint.get_config() == {"max_value": 0.5, "axis": 0}
    assert type(again.layers[1].bias_constraint) is NonNeg


def test_constraints_on_every_layer_kind():
    fastnn.set_random_seed(0)
    inp = Input(shape=(6, 6, 2))
    x = Conv2D(4, 3, kernel_constraint=MaxNorm(0.1, axis=[0, 1, 2]))(inp)
    x = BatchNormalization(gamma_constraint=MinMaxNorm(0.0, 0.5, axis=0))(x)
    conv_out = Dense(2)(Flatten()(x))
    tokens = Input(shape=(5,), dtype="int64")
    e = Embedding(10, 4, embeddings_constraint=UnitNorm(axis=1))(tokens)
    seq = Bidirectional(LSTM(3, kernel_constraint=MaxNorm(0.2), recurrent_constraint=NonNeg()))(e)
    model = Model([inp, tokens], [conv_out, Dense(1)(seq)])
    model.compile("adam", ["mse", "mse"])
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((8, 6, 6, 2)).astype(np.float32), rng.integers(0, 10, (8, 5))
    model.fit([x1, x2], [rng.standard_normal((8, 2)), rng.standard_normal((8, 1))], epochs=2, verbose=0)
    conv, bn = [layer for layer in model.layers if isinstance(layer, (Conv2D, BatchNormalization))]
    assert np.sqrt(np.sum(conv.kernel ** 2, axis=(0, 1, 2))).max() <= 0.1 + 1e-6
    assert np.abs(bn.gamma).max() <= 0.5 + 1e-6
    emb = [layer for layer in model.layers if isinstance(layer, Embedding)][0]
    np.testing.assert_allclose(np.linalg.norm(emb.embeddings, axis=1), 1.0, rtol=1e-5)
    bi = [layer for layer in model.layers if isinstance(layer, Bidirectional)][0]
    for lstm in (bi.forward_layer, bi.backward_layer):
        assert np.linalg.norm(lstm.kernel, axis=0).max() <= 0.2 + 1e-6
        assert lstm.recurrent_kernel.min() >= 0


def test_frozen_layers_are_not_projected():
    layer = Dense(4, input_shape=(3,), kernel_initializer="ones", kernel_constraint=MaxNorm(0.1))
    model = Sequential([layer, Dense(1)])
    layer.trainable = False
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3), np.float32), np.ones((4, 1), np.float32), verbose=0)
    np.testing.assert_array_equal(layer.kernel, 1.0)  # frozen: neither updated nor projected
