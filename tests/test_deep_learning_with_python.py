"""Code from Chollet's "Deep Learning with Python" (2nd edition) with its imports changed and small
synthetic data: each test is a listing that once ran with a wrong result or an error, checked
against what Keras computes."""

import numpy as np
import pytest

import fastnn as tf
from fastnn import keras
from fastnn.keras import layers


def test_a_layer_inside_a_custom_layer_takes_the_mask_its_input_carries():
    """Listing 11.21's TransformerEncoder: its MultiHeadAttention masks the padded queries too,
    as the same layer called in a functional model does."""
    keras.utils.set_random_seed(0)
    embedding = layers.Embedding(50, 8, mask_zero=True)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    inputs = keras.Input((None,), dtype="int64")
    embedded = embedding(inputs)
    direct = keras.Model(inputs, mha(embedded, embedded))

    class TransformerEncoder(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.attention = layers.MultiHeadAttention(num_heads=2, key_dim=4)

        def call(self, inputs, mask=None):
            if mask is not None:
                mask = mask[:, tf.newaxis, :]
            return self.attention(inputs, inputs, attention_mask=mask)

    encoder = TransformerEncoder()
    inputs_2 = keras.Input((None,), dtype="int64")
    wrapped = keras.Model(inputs_2, encoder(embedding(inputs_2)))
    encoder.attention.set_weights(mha.get_weights())
    tokens = np.array([[3, 7, 9, 0, 0, 0], [5, 1, 2, 8, 0, 0]])
    np.testing.assert_allclose(wrapped.predict(tokens, verbose=0), direct.predict(tokens, verbose=0), atol=1e-6)


def test_the_raw_string_model_of_a_multi_hot_text_vectorization():
    """Listing 11.x's export: a model on Input(shape=(1,), dtype="string") that vectorizes, then
    calls the trained bag-of-words model (its input (None, vocabulary size), as Keras's)."""
    text_vectorization = layers.TextVectorization(output_mode="multi_hot")
    text_vectorization.adapt(["the cat sat on the mat", "the cat ran", "a dog ran"])
    vocabulary_size = text_vectorization.vocabulary_size()
    inputs = keras.Input(shape=(vocabulary_size,))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(inputs))
    raw = keras.Input(shape=(1,), dtype="string")
    processed = text_vectorization(raw)
    assert processed.shape == (None, vocabulary_size)
    inference_model = keras.Model(raw, model(processed))
    texts = np.array([["the cat ran"], ["a dog"]])
    np.testing.assert_allclose(inference_model.predict(texts, verbose=0),
                               model.predict(np.asarray(text_vectorization(texts)), verbose=0), rtol=1e-6)


def test_integer_inputs_reach_custom_code_as_integers():
    """Listing 11.13's one-hot sequences (tf.one_hot on an int64 Input), Géron's TimeEncoding (a
    custom layer gathering rows by an int32 time step) and ids beyond float32's 2**24."""
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = tf.one_hot(inputs, depth=20)
    assert embedded.shape == (None, None, 20)
    model = keras.Model(inputs, layers.Dense(1)(layers.Bidirectional(layers.LSTM(4))(embedded)))
    tokens = np.random.default_rng(0).integers(0, 20, (3, 5))
    assert model.predict(tokens, verbose=0).shape == (3, 1)
    lam = keras.Model(inputs, layers.Lambda(lambda t: keras.ops.one_hot(t, 20))(inputs))
    np.testing.assert_array_equal(lam.predict(tokens, verbose=0), np.eye(20, dtype=np.float32)[tokens])

    class TimeEncoding(layers.Layer):
        def __init__(self, steps, size, **kwargs):
            super().__init__(**kwargs)
            self.table = tf.constant(np.arange((steps + 1) * size, dtype=np.float32).reshape(steps + 1, size))

        def call(self, inputs):
            return tf.gather(self.table, inputs)

    time = keras.Input(shape=[], dtype="int32")
    encoding = keras.Model(time, TimeEncoding(10, 3)(time))
    np.testing.assert_array_equal(encoding.predict(np.array([2, 7]), verbose=0), [[6, 7, 8], [21, 22, 23]])

    class Echo(layers.Layer):
        def call(self, inputs):
            assert inputs.dtype == np.int64
            return inputs

    ids = np.array([16777217, 16777219], dtype=np.int64)
    np.testing.assert_array_equal(np.asarray(Echo()(ids)), ids)  # (not rounded through float32)


class CustomerTicketModel(keras.Model):
    """Listing 7.14: a subclassed model called on a dict, with two outputs."""

    def __init__(self, num_departments):
        super().__init__()
        self.concat_layer = layers.Concatenate()
        self.mixing_layer = layers.Dense(64, activation="relu")
        self.priority_scorer = layers.Dense(1, activation="sigmoid")
        self.department_classifier = layers.Dense(num_departments, activation="softmax")

    def call(self, inputs):
        features = self.concat_layer([inputs["title"], inputs["text_body"], inputs["tags"]])
        features = self.mixing_layer(features)
        return self.priority_scorer(features), self.department_classifier(features)


def test_a_subclassed_model_on_a_dict_compiled_with_a_loss_per_output_before_its_first_call():
    rng = np.random.default_rng(0)
    n = 32
    data = {"title": rng.integers(0, 2, (n, 20)).astype("float32"),
            "text_body": rng.integers(0, 2, (n, 20)).astype("float32"),
            "tags": rng.integers(0, 2, (n, 5)).astype("float32")}
    priority, department = rng.random((n, 1)).astype("float32"), np.eye(4, dtype="float32")[rng.integers(0, 4, n)]
    model = CustomerTicketModel(num_departments=4)
    model.compile(optimizer="rmsprop", loss=["mean_squared_error", "categorical_crossentropy"],
                  loss_weights=[0.9, 0.1], metrics=[["mean_absolute_error"], ["accuracy"]])
    history = model.fit(data, [priority, department], epochs=1, verbose=0)
    assert "loss" in history.history and len(history.history) == 5  # and each output's loss and metric
    p, d = model(data)
    assert p.shape == (n, 1) and d.shape == (n, 4)
    # the loss is the weighted sum Keras documents
    logs = model.evaluate(data, [priority, department], batch_size=n, return_dict=True, verbose=0)
    p, d = np.asarray(p, np.float64), np.clip(np.asarray(d, np.float64), 1e-7, 1 - 1e-7)
    mse = np.mean((p - priority) ** 2)
    cce = np.mean(-np.sum(department * np.log(d), axis=1))
    np.testing.assert_allclose(logs["loss"], 0.9 * mse + 0.1 * cce, rtol=1e-5)
    assert [type(layer).__name__ for layer in model.layers] == ["Concatenate", "Dense", "Dense", "Dense"]


def test_a_subclass_of_your_own_layer_may_call_super_call():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, inputs):
            return inputs * self.scale * 2.0

    class ScalePlusOne(Scale):
        def call(self, inputs):
            return super().call(inputs) + 1.0

    x = np.ones((2, 3), np.float32)
    layer = ScalePlusOne()
    np.testing.assert_array_equal(layer(x), np.full((2, 3), 3.0))
    assert ScalePlusOne()(keras.Input((3,))).shape == (None, 3)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(x))
    assert float(tape.gradient(total, layer.scale)) == 12.0  # the parent's code is on the tape: 6 values × 2


def test_assigning_to_a_slice_of_a_variable():
    """Listing 3.8 (v[0, 0].assign(3.)) and Géron's scatter_nd_update."""
    v = tf.Variable(np.ones((3, 1), np.float32))
    v[0, 0].assign(3.0)
    np.testing.assert_array_equal(v.numpy().ravel(), [3.0, 1.0, 1.0])
    w = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    w[:, 2].assign([0.0, 1.0])
    w.scatter_nd_update(indices=[[0, 0], [1, 2]], updates=[100.0, 200.0])
    np.testing.assert_array_equal(w.numpy(), [[100.0, 2.0, 0.0], [4.0, 5.0, 200.0]])
    with pytest.raises(ValueError, match=r"cannot assign a value of shape \(3,\) to a slice of shape \(2,\)"):
        w[:, 0].assign([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:  # (on a tape a slice is a value on it, as before)
        total = tf.reduce_sum(w[0] * 2.0)
    np.testing.assert_array_equal(tape.gradient(total, w), [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]])


def test_tf_strings_in_a_custom_standardize_and_split():
    """Listing 11.x: TextVectorization with custom_standardization_fn and custom_split_fn."""
    import re
    import string

    def custom_standardization_fn(string_tensor):
        lowercase_string = tf.strings.lower(string_tensor)
        return tf.strings.regex_replace(lowercase_string, f"[{re.escape(string.punctuation)}]", "")

    def custom_split_fn(string_tensor):
        return tf.strings.split(string_tensor)

    text_vectorization = layers.TextVectorization(output_mode="int", standardize=custom_standardization_fn,
                                                  split=custom_split_fn)
    text_vectorization.adapt(["I write, erase, rewrite", "Erase again, and then", "A poppy blooms."])
    encoded = text_vectorization(["I write, rewrite, and still rewrite again"])
    np.testing.assert_array_equal(encoded, [[7, 3, 5, 9, 1, 5, 10]])  # the book's printout
    assert tf.strings.split(np.array(["a b  c", "d"])) == [["a", "b", "c"], ["d"]]
    np.testing.assert_array_equal(tf.strings.join([np.array(["a", "b"]), np.array(["x", "y"])], separator="-"),
                                  ["a-x", "b-y"])


def test_tf_strings_lower_is_ascii_unless_utf8_and_activations_have_numpy():
    np.testing.assert_array_equal(tf.strings.lower(np.array(["ÉCOLE Ab"])), ["École ab"])  # TensorFlow's ASCII
    np.testing.assert_array_equal(tf.strings.lower(np.array(["ÉCOLE Ab"]), encoding="utf-8"), ["école ab"])
    np.testing.assert_array_equal(tf.strings.upper(np.array(["école"])), ["éCOLE"])
    probabilities = keras.activations.softmax(np.array([[1.0, 3.0, 4.0, 2.0]], np.float32)).numpy()
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-6)
