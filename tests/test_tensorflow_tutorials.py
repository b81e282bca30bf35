"""Code from TensorFlow's "ML basics with Keras" tutorials (tensorflow.org/tutorials/keras), with
``import fastnn as tf`` and small synthetic data: each test is a cell that once failed or gave a
different result from TensorFlow's."""

import numpy as np

import fastnn as tf
from fastnn.keras import layers


def test_the_text_tutorials_export_model_is_built_on_the_raw_strings():
    texts = np.array(["good movie great", "bad awful movie", "great fun", "awful bad"] * 8)
    labels = np.array([1, 0, 1, 0] * 8)
    raw_ds = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(4)
    vectorize_layer = layers.TextVectorization(max_tokens=50, output_mode="int", output_sequence_length=6)
    vectorize_layer.adapt(texts)
    model = tf.keras.Sequential([layers.Embedding(50, 8), layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True), optimizer="adam",
                  metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0)])
    vectorized = raw_ds.map(lambda x, y: (vectorize_layer(x), y))
    model.fit(vectorized, epochs=2, verbose=0)
    export_model = tf.keras.Sequential([vectorize_layer, model, layers.Activation("sigmoid")])
    export_model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=False), optimizer="adam",
                         metrics=["accuracy"])
    exported = export_model.evaluate(raw_ds, return_dict=True, verbose=0)
    plain = model.evaluate(vectorized, return_dict=True, verbose=0)
    np.testing.assert_allclose(exported["loss"], plain["loss"], rtol=1e-5)
    assert exported["accuracy"] == plain["binary_accuracy"]
    logits = model.predict(np.asarray(vectorize_layer(["great great movie", "awful"])), verbose=0)
    np.testing.assert_allclose(export_model.predict(["great great movie", "awful"], verbose=0),
                               1 / (1 + np.exp(-logits)), rtol=1e-5)


def test_building_a_sequential_on_a_shape_its_input_leaves_open():
    model = tf.keras.Sequential([layers.Embedding(50, 16), layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.build((None, 20))  # (its input is (None, None) from the Embedding: compatible)
    assert model.predict(np.zeros((2, 20), np.int64), verbose=0).shape == (2, 1)
    try:
        tf.keras.Sequential([tf.keras.Input((5,)), layers.Dense(1)]).build((None, 6))
    except ValueError as e:
        assert "already has input shape (None, 5)" in str(e)
    else:
        raise AssertionError("an incompatible shape was accepted")


def test_the_regression_tutorials_single_variable_normalization(tmp_path):
    rng = np.random.default_rng(0)
    horsepower = rng.uniform(50, 230, 200).astype(np.float32)
    mpg = (45 - 0.15 * horsepower + rng.normal(0, 1, 200)).astype(np.float32)
    horsepower_normalizer = layers.Normalization(input_shape=[1, ], axis=None)
    horsepower_normalizer.adapt(horsepower)
    np.testing.assert_allclose(float(horsepower_normalizer.mean), horsepower.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(horsepower_normalizer.variance), horsepower.var(), rtol=1e-5)  # (ddof 0)
    model = tf.keras.Sequential([horsepower_normalizer, layers.Dense(units=1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
    history = model.fit(horsepower, mpg, epochs=20, verbose=0, validation_split=0.2)
    assert history.history["loss"][-1] < history.history["loss"][0]
    kernel, bias = model.layers[1].get_weights()
    expected = ((horsepower[:5] - horsepower.mean()) / horsepower.std())[:, None] * kernel + bias
    np.testing.assert_allclose(model.predict(horsepower[:5], verbose=0), expected, rtol=1e-4)
    model.save(tmp_path / "horsepower.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "horsepower.keras")
    np.testing.assert_array_equal(reloaded.predict(horsepower[:5], verbose=0), model.predict(horsepower[:5], verbose=0))


def test_the_nlp_courses_tokenizer():
    """TensorFlow's NLP course (week 1): Keras 2's Tokenizer with an OOV token; its printouts."""
    from fastnn.keras.preprocessing.sequence import pad_sequences
    from fastnn.keras.preprocessing.text import Tokenizer

    sentences = ["I love my dog", "I love my cat", "You love my dog!", "Do you think my dog is amazing?"]
    tokenizer = Tokenizer(num_words=100, oov_token="<OOV>")
    tokenizer.fit_on_texts(sentences)
    assert tokenizer.word_index == {"<OOV>": 1, "my": 2, "love": 3, "dog": 4, "i": 5, "you": 6, "cat": 7, "do": 8,
                                    "think": 9, "is": 10, "amazing": 11}
    sequences = tokenizer.texts_to_sequences(sentences)
    assert sequences == [[5, 3, 2, 4], [5, 3, 2, 7], [6, 3, 2, 4], [8, 6, 9, 2, 4, 10, 11]]
    assert tokenizer.texts_to_sequences(["i really love my dog", "my dog loves my manatee"]) == \
        [[5, 1, 3, 2, 4], [2, 4, 1, 2, 1]]
    np.testing.assert_array_equal(pad_sequences(sequences, maxlen=5, padding="post", truncating="post"),
                                  [[5, 3, 2, 4, 0], [5, 3, 2, 7, 0], [6, 3, 2, 4, 0], [8, 6, 9, 2, 4]])
    assert tokenizer.sequences_to_texts([[5, 3, 99]]) == ["i love <OOV>"]
    small = Tokenizer(num_words=4)  # (indices 4 and beyond dropped, no OOV token)
    small.fit_on_texts(sentences)
    assert small.texts_to_sequences(["my dog is amazing"]) == [[1, 3]]
    counts = tokenizer.texts_to_matrix(["my dog my"], mode="count")
    assert counts.shape == (1, 100) and counts[0, 2] == 2 and counts[0, 4] == 1 and counts.sum() == 3
    tfidf = tokenizer.texts_to_matrix(["my dog"], mode="tfidf")[0]
    np.testing.assert_allclose(tfidf[2], np.log(1 + 4 / (1 + 4)))  # "my" is in all 4 documents
    again = tf.keras.preprocessing.text.tokenizer_from_json(tokenizer.to_json())
    assert again.word_index == tokenizer.word_index and again.texts_to_sequences(["i love it"]) == [[5, 3, 1]]
    assert tf.keras.preprocessing.text.text_to_word_sequence("Hello, World!") == ["hello", "world"]


def test_metric_functions_on_1_d_arrays_give_one_number():
    """TensorFlow's time-series course: keras.metrics.mean_absolute_error(x_valid, naive_forecast).numpy()."""
    x_valid, forecast = np.array([1.0, 2.0, 4.0, 7.0]), np.array([1.5, 2.0, 3.0, 9.0])
    assert float(tf.keras.metrics.mean_absolute_error(x_valid, forecast).numpy()) == np.mean(np.abs(x_valid - forecast))
    assert float(tf.keras.metrics.mean_squared_error(x_valid, forecast)) == np.mean((x_valid - forecast) ** 2)
    assert tf.keras.metrics.mse is tf.keras.metrics.mean_squared_error
    per_sample = tf.keras.metrics.mean_squared_error(x_valid.reshape(2, 2), forecast.reshape(2, 2))
    np.testing.assert_allclose(per_sample, [0.125, 2.5])  # (2-D: one value per row, as Keras)
    model = tf.keras.Sequential([tf.keras.Input((1,)), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=[tf.keras.metrics.mean_absolute_error, "mae"])
    logs = model.evaluate(x_valid[:, None], forecast[:, None], return_dict=True, verbose=0)
    prediction = model.predict(x_valid[:, None], verbose=0)[:, 0]
    np.testing.assert_allclose(logs["mean_absolute_error"], np.mean(np.abs(prediction - forecast)), rtol=1e-6)


def test_history_reads_tf_keras_2s_lr_key():
    model = tf.keras.Sequential([tf.keras.Input((1,)), layers.Dense(1)])
    model.compile(tf.keras.optimizers.SGD(momentum=0.9), "mse")
    scheduler = tf.keras.callbacks.LearningRateScheduler(lambda epoch: 1e-8 * 10 ** (epoch / 20))
    history = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=3, callbacks=[scheduler], verbose=0)
    np.testing.assert_allclose(history.history["lr"], [1e-8 * 10 ** (e / 20) for e in range(3)], rtol=1e-6)
    assert "lr" not in history.history and history.history["lr"] is history.history["learning_rate"]


def test_summary_of_a_sequential_whose_adapted_normalization_knows_the_input():
    """The regression tutorial: dnn_model.summary() before fit, the model's first layer an adapted Normalization."""
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(np.random.default_rng(0).random((50, 9)))
    model = tf.keras.Sequential([normalizer, layers.Dense(64, activation="relu"), layers.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(None, 64)" in line for line in lines)
    assert model.count_params() == 2 * 9 + 1 + 9 * 64 + 64 + 65
