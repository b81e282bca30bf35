"""Embedding: the lookup, Keras's parameter count, defaults and input_length, the table's gradient
with repeated tokens against np.add.at, bad indices, and an Embedding -> LSTM model that learns,
saves and loads (integer inputs through the model)."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.layers import LSTM, Dense, Embedding, Input
from fastnn.models import Model, Sequential

from helpers import assert_learns_and_round_trips


def test_lookup_count_and_defaults():
    layer = Embedding(50, 4)
    y = layer(np.array([[1, 2, 1], [49, 0, 3]]))
    assert y.shape == (2, 3, 4) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0, 0], layer.embeddings[1])
    np.testing.assert_array_equal(y[1, 0], layer.embeddings[49])
    assert layer.count_params() == 200 and layer.weight_names == ["embeddings"]
    assert np.abs(layer.embeddings).max() <= 0.05 and np.abs(layer.embeddings).max() > 0.04  # Keras's "uniform"
    assert layer.compute_output_shape((None, 7)) == (None, 7, 4)
    model = Sequential([Embedding(1000, 16, input_length=10), LSTM(8)])  # tf.keras's input_length
    assert model.input_shape == (None, 10) and model.output_shape == (None, 8)
    assert model.count_params() == 16_000 + 4 * 8 * (16 + 8 + 1)
    clone = Embedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_table_gradient_sums_repeated_tokens():
    rng = np.random.default_rng(0)
    layer = Embedding(20, 3)
    tokens = rng.integers(0, 20, (4, 9))
    tokens[0, :4] = 5  # a token repeated
    y = layer(tokens, training=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    assert layer.backward(dy) is None  # no gradient for integer inputs
    (grad,) = layer.get_gradients()
    want = np.zeros((20, 3))
    np.add.at(want, tokens.reshape(-1), dy.reshape(-1, 3).astype(np.float64))
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-6)
    assert not grad[np.setdiff1d(np.arange(20), tokens)].any()  # unused rows get no gradient


@pytest.mark.parametrize("tokens,exc,match", [
    (np.array([[0, 20]]), ValueError, r"index 20 is out of range; indices must be in \[0, input_dim\) = \[0, 20\)"),
    (np.array([[-1, 2]]), ValueError, r"index -1 is out of range"),
    (np.array([[0.0, np.nan]]), ValueError, r"(inputs must be integer token indices|expects integer inputs \(int64\)). Received: nan among them"),
    (np.array([["a", "b"]]), TypeError, r"Layer 'embedding\w*' \(Embedding\) expects numeric input convertible to "
                                        r"int64. Received: ndarray"),
])
def test_bad_indices(tokens, exc, match):
    with pytest.raises(exc, match=match):
        Embedding(20, 3)(tokens)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"mask_zero must be True or False. Received: mask_zero='yes'"):
        Embedding(10, 2, mask_zero="yes")
    with pytest.raises(ValueError, match=r"expected a positive integer. Received: input_dim=0"):
        Embedding(0, 2)


def test_embedding_lstm_learns_and_round_trips(tmp_path):
    # does the sequence contain token 7? (the IMDB-style text classifier in miniature)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 30, (320, 12))
    tokens[rng.random(320) < 0.5, rng.integers(0, 12)] = 7
    labels = (tokens == 7).any(axis=1).astype(np.float32)
    fastnn.utils.set_random_seed(2)
    inp = Input(shape=(12,), dtype="int32")
    model = Model(inp, Dense(1, activation="sigmoid")(LSTM(16)(Embedding(30, 8)(inp))))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    assert_learns_and_round_trips(model, tokens, labels, tmp_path / "embedding.safetensors", epochs=25,
                                  min_accuracy=0.9)


def test_sequential_starting_with_an_embedding_is_built_at_once():
    """keras.io "Working with RNNs", its first model: summary() before any data, as tf.keras's
    Embedding takes sequences of any length."""
    import fastnn

    model = fastnn.Sequential()
    model.add(fastnn.layers.Embedding(input_dim=1000, output_dim=64))
    model.add(fastnn.layers.LSTM(128))
    model.add(fastnn.layers.Dense(10))
    assert model.count_params() == 164_106 and model.input_shape == (None, None)
    model.compile("adam", "sparse_categorical_crossentropy")
    tokens = np.random.default_rng(0).integers(0, 1000, (8, 12))
    assert len(model.fit(tokens, np.zeros(8), verbose=0).history["loss"]) == 1
    assert model.predict(tokens[:, :5], verbose=0).shape == (8, 10)


def test_masks_of_several_outputs_and_eager_keras_mask():
    """The masking guide: TemporalSplit's compute_mask gives each of its two outputs its own mask
    (an LSTM on the second half skips its padding); eager outputs carry ``_keras_mask``, which the
    next eager layer takes, as in Keras."""
    import fastnn
    from fastnn import layers as L, ops

    class TemporalSplit(L.Layer):
        def call(self, inputs):
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            if mask is None:
                return None
            return ops.split(mask, 2, axis=1)

    x = np.array([[1, 2, 3, 4, 0, 0]])
    inp = fastnn.Input(shape=(6,), dtype="int32")
    emb = L.Embedding(10, 4, mask_zero=True)
    _, second = TemporalSplit()(emb(inp))
    lstm = L.LSTM(3)
    model = fastnn.Model(inp, lstm(second))
    embedded = emb(x)
    np.testing.assert_array_equal(embedded._keras_mask, x != 0)
    assert type(embedded) is fastnn._batch_dataset.EagerArray  # (a value gathered from the weight, not the weight)
    masked = lstm(np.asarray(embedded)[:, 3:4])  # only step 3 of the second half is kept
    np.testing.assert_allclose(model.predict(x, verbose=0), masked, rtol=1e-5, atol=1e-7)
    # eagerly: the Embedding's output carries its mask into the LSTM
    np.testing.assert_allclose(lstm(embedded), lstm(np.asarray(embedded)[:, :4]), rtol=1e-5, atol=1e-7)


def test_tf_nn_embedding_lookup_and_normalization_adapt_on_batches():
    import fastnn as tf

    params = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(tf.nn.embedding_lookup(params, np.array([2, 0])), params[[2, 0]])
    x = np.random.default_rng(0).random((50, 3), dtype=np.float32)
    norm = tf.keras.layers.Normalization()
    norm.adapt(tf.data.Dataset.from_tensor_slices(x).batch(8))  # (the last batch is 2 rows)
    np.testing.assert_allclose(norm.mean.ravel(), x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.variance.ravel(), x.var(0), rtol=1e-4)
