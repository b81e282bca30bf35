"""Shared layers: one layer (and its weights) called more than once in a model, as Keras's
functional API guide shares an LSTM between two tweets and its siamese example shares a whole
network between two images. Each call keeps its own state between forward and backward; the
weight gradients are the sum over the calls (checked against finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.layers import (LSTM, BatchNormalization, Concatenate, Dense, Dropout, Embedding, Flatten, Input,
                           Subtract, concatenate)
from fastnn.models import Model, load_model

from helpers import model_gradcheck


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_a_dense_layer_applied_twice(float64_numpy, rng, capsys):
    x = Input((3,), name="x")
    shared = Dense(3, activation="tanh", name="shared")
    model = Model(x, Dense(2)(shared(shared(x))))
    assert model.layers.count(shared) == 1 and model.count_params() == 12 + 8
    model.compile("sgd", "mse")
    model_gradcheck(model, rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))
    model.summary()
    out = capsys.readouterr().out
    # one row for the shared layer, fed by the input and by its own first call (Keras's shared[0][0])
    assert out.count("│ shared (Dense)") == 1
    assert "│ x[0][0], shared[0][0]     │" in out and "│ shared[1][0]              │" in out


def test_an_lstm_shared_by_two_inputs(float64_numpy, rng):
    # the Keras guide's two tweets: one LSTM encodes both
    a, b = Input((6, 4)), Input((6, 4))
    lstm = LSTM(3)
    model = Model([a, b], Dense(1, activation="sigmoid")(concatenate([lstm(a), lstm(b)])))
    model.compile("sgd", "binary_crossentropy")
    model_gradcheck(model, [rng.standard_normal((4, 6, 4)), rng.standard_normal((4, 6, 4))],
                    rng.integers(0, 2, (4, 1)).astype(float))


def _base_network():
    x = Input((4, 3))
    h = Dense(5, activation="relu")(Flatten()(x))
    return Model(x, Dense(4)(BatchNormalization()(h)), name="base")


def test_a_siamese_network_shares_a_nested_model(float64_numpy, rng):
    base = _base_network()
    a, b = Input((4, 3)), Input((4, 3))
    model = Model([a, b], Dense(1)(Subtract()([base(a), base(b)])))
    assert model.count_params() == base.count_params() + 5
    model.compile("sgd", "mse")
    xa, xb = rng.standard_normal((6, 4, 3)), rng.standard_normal((6, 4, 3))
    model_gradcheck(model, [xa, xb], rng.standard_normal((6, 1)))
    # the same numbers as the base network on each input
    got = model.predict([xa, xb], verbose=0)
    want = model.layers[-1](base.predict(xa, verbose=0) - base.predict(xb, verbose=0))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_each_call_draws_its_own_dropout_mask(rng):
    x = Input((200,))
    drop = Dropout(0.5, seed=3)
    model = Model(x, Concatenate()([drop(x), drop(x)]))
    ones = np.ones((2, 200), np.float32)
    out = model._forward([ones], True)  # a training forward pass, as fit runs it
    left, right = out[:, :200], out[:, 200:]
    assert 0.3 < (left == 0).mean() < 0.7 and 0.3 < (right == 0).mean() < 0.7
    assert not np.array_equal(left == 0, right == 0)


def test_shared_layers_train_save_and_load(tmp_path, rng):
    fastnn.utils.set_random_seed(4)
    words_a, words_b = Input((7,), dtype="int32"), Input((7,), dtype="int32")
    embed, lstm = Embedding(20, 6, mask_zero=True), LSTM(5)
    merged = concatenate([lstm(embed(words_a)), lstm(embed(words_b))])
    model = Model([words_a, words_b], Dense(1, activation="sigmoid")(merged))
    xa, xb = rng.integers(0, 20, (64, 7)), rng.integers(0, 20, (64, 7))
    xa[:, 5:] = 0  # padding, masked
    y = (xa[:, 0] > xb[:, 0]).astype(np.float32)
    model.compile("adam", "binary_crossentropy")
    history = model.fit([xa, xb], y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # each call with its own mask: the model's encoding of each input is the layers' on that input
    encode = Model([words_a, words_b], merged)
    got = encode.predict([xa, xb], verbose=0)
    for half, x in ((got[:, :5], xa), (got[:, 5:], xb)):
        e = embed(x)
        np.testing.assert_allclose(half, lstm.call(e, mask=x != 0), rtol=1e-5, atol=1e-6)
    path = tmp_path / "shared.keras"
    model.save(path)
    again = load_model(path)
    assert len(again.layers) == len(model.layers) == 6
    np.testing.assert_allclose(again.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0), rtol=1e-6)


def test_a_frozen_shared_layer_stays_put(rng):
    x1, x2 = Input((3,)), Input((3,))
    shared = Dense(4)
    model = Model([x1, x2], Dense(1)(concatenate([shared(x1), shared(x2)])))
    shared.trainable = False
    model.compile("sgd", "mse")
    before = [w.copy() for w in shared.get_weights()]
    model.fit([rng.standard_normal((8, 3)), rng.standard_normal((8, 3))], rng.standard_normal((8, 1)), epochs=2,
              verbose=0)
    for w, b in zip(shared.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_a_subclassed_model_may_call_a_layer_twice(rng):
    class Twice(Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(3, activation="relu")
            self.out = Dense(1)

        def call(self, x):
            return self.out(self.d(self.d(x)))

    model = Twice()
    model.compile("adam", "mse")
    x = rng.standard_normal((16, 3)).astype(np.float32)
    model.fit(x, x.sum(axis=1, keepdims=True), epochs=1, verbose=0)
    d = model.d
    want = model.out(d(d(x)))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6)


def _distance(tensors):
    a, b = tensors
    return fastnn.backend.sqrt(fastnn.backend.sum(fastnn.backend.square(a - b), axis=1, keepdims=True))


def _distance_shape(shapes):
    return (shapes[0][0], 1)


def test_a_siamese_model_saves_and_loads(tmp_path, rng):
    # as Keras's mnist_siamese.py: a nested base network called twice and a Lambda whose
    # output_shape is a function (saved as the shape it gave)
    from fastnn.layers import Lambda

    base = _base_network()
    a, b = Input((4, 3)), Input((4, 3))
    model = Model([a, b], Lambda(_distance, output_shape=_distance_shape)([base(a), base(b)]))
    xa, xb = rng.standard_normal((6, 4, 3)).astype(np.float32), rng.standard_normal((6, 4, 3)).astype(np.float32)
    path = tmp_path / "siamese.keras"
    model.save(path)
    again = load_model(path, custom_objects={"_distance": _distance})
    assert again.count_params() == model.count_params()
    np.testing.assert_allclose(again.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0), rtol=1e-6)
