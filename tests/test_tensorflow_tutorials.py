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
