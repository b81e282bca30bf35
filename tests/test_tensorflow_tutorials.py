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
