"""The course-notes models, built with the public Keras-shaped API.

These are the networks of the Keras MNIST / Fashion-MNIST course notes our users learned from
(MLP, CNN, SimpleRNN, and LSTM/GRU variants), for 28×28 grey-scale images and 10 classes. Each
function returns a compiled model that takes images of shape (N, 28, 28) scaled to [0, 1] and
integer labels (sparse categorical cross-entropy, so no one-hot step is needed).
"""

from __future__ import annotations

from . import layers, models, optimizers

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
MODEL_NAMES = ("mlp", "cnn", "rnn", "lstm", "gru")


def mlp(optimizer=None, learning_rate=None):
    """784-256-256-10 MLP: relu hidden layers with dropout 0.45, softmax output, Adam."""
    model = models.Sequential(
        [
            layers.Input(shape=IMAGE_SHAPE),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.45),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.45),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="mlp",
    )
    return _compile(model, optimizer or "adam", learning_rate)


def cnn(optimizer=None, learning_rate=None):
    """Conv2D(64, 3) relu, MaxPooling2D(2), Conv2D(64, 3) relu, MaxPooling2D(2), Conv2D(64, 3) relu,
    Flatten, Dropout(0.2), Dense(10) softmax; Adam."""
    model = models.Sequential(
        [
            layers.Input(shape=IMAGE_SHAPE),
            layers.Reshape(IMAGE_SHAPE + (1,)),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="cnn",
    )
    return _compile(model, optimizer or "adam", learning_rate)


def _recurrent(cell, units, name, optimizer, learning_rate):
    # an image read row by row: 28 time steps of 28 features
    model = models.Sequential(
        [
            layers.Input(shape=IMAGE_SHAPE),
            cell(units, dropout=0.2),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name=name,
    )
    return _compile(model, optimizer, learning_rate)


def rnn(optimizer=None, learning_rate=None):
    """SimpleRNN(256) over the 28 rows, input dropout 0.2, Dense(10) softmax; SGD."""
    return _recurrent(layers.SimpleRNN, 256, "rnn", optimizer or "sgd", learning_rate)


def lstm(optimizer=None, learning_rate=None):
    """LSTM(128) over the 28 rows, input dropout 0.2, Dense(10) softmax; Adam."""
    return _recurrent(layers.LSTM, 128, "lstm", optimizer or "adam", learning_rate)


def gru(optimizer=None, learning_rate=None):
    """GRU(128) over the 28 rows, input dropout 0.2, Dense(10) softmax; Adam."""
    return _recurrent(layers.GRU, 128, "gru", optimizer or "adam", learning_rate)


def build(name, optimizer=None, learning_rate=None):
    """The course-notes model called ``name`` (one of MODEL_NAMES), compiled."""
    builders = {"mlp": mlp, "cnn": cnn, "rnn": rnn, "lstm": lstm, "gru": gru}
    if name not in builders:
        raise ValueError(f"unknown model. Expected one of {MODEL_NAMES}. Received: name={name!r}")
    return builders[name](optimizer=optimizer, learning_rate=learning_rate)


def _compile(model, optimizer, learning_rate):
    if learning_rate is not None:
        optimizer = optimizers.get(optimizer).__class__(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
