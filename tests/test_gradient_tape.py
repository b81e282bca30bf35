"""fastnn.GradientTape and Keras 3's step API (train_step, test_step, compute_loss,
compute_metrics, metrics): the tape's gradients against the fused training step and against
finite differences, a custom train_step against fit's own step, and the errors."""

import re

import numpy as np
import pytest

import fastnn
from fastnn import GradientTape, autodiff, layers as L, ops


def _data(kind, n, rng):
    return {"onehot5": np.eye(5)[rng.integers(0, 5, n)], "sparse3": rng.integers(0, 3, n),
            "reg1": rng.standard_normal((n, 1)), "bin": rng.integers(0, 2, (n, 1))}[kind].astype("float32")


class Scale(L.Layer):
    """A custom layer with a weight: on the tape through its own call()."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return ops.tanh(x * self.w)


def _model(name):
    if name == "mlp_l2":
        return fastnn.Sequential([L.Input((20,)), L.Dense(16, activation="relu", kernel_regularizer="l2"),
                                  L.Dense(5, activation="softmax")]), "categorical_crossentropy", (8, 20), "onehot5"
    if name == "cnn_bn":
        return fastnn.Sequential([L.Input((12, 12, 3)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2),
                                  L.Conv2D(4, 3, activation="relu"), L.Flatten(), L.BatchNormalization(),
                                  L.Dense(3, activation="softmax")]), "sparse_categorical_crossentropy", \
            (6, 12, 12, 3), "sparse3"
    if name == "lstm_gru":
        return fastnn.Sequential([L.Input((7, 5)), L.LSTM(6, return_sequences=True), L.GRU(4), L.Dense(1)]), \
            "mse", (5, 7, 5), "reg1"
    if name == "embedding_rnn":
        return fastnn.Sequential([L.Input((9,)), L.Embedding(30, 4), L.SimpleRNN(3),
                                  L.Dense(1, activation="sigmoid")]), "binary_crossentropy", (6, 9), "bin"
    if name == "masked_sequence":  # the output's mask weighs the loss per step; an activity penalty
        return fastnn.Sequential([L.Input((6,)), L.Embedding(10, 4, mask_zero=True), L.LSTM(3, return_sequences=True),
                                  L.Dense(3, activation="softmax", activity_regularizer="l2")]), \
            "sparse_categorical_crossentropy", (5, 6), "labels_per_step"
    if name == "add_loss":
        inputs = L.Input((4,))
        hidden = L.Dense(3, activation="tanh")(inputs)
        model = fastnn.Model(inputs, L.Dense(1)(hidden))
        model.add_loss(ops.mean(ops.square(hidden)))
        return model, "mse", (6, 4), "reg1"
    assert name == "custom_layer"
    inputs = L.Input((6,))
    hidden = Scale()(L.Dense(6)(inputs))
    return fastnn.Model(inputs, L.Dense(1)(hidden)), "mae", (7, 6), "reg1"


@pytest.mark.parametrize("name", ["mlp_l2", "cnn_bn", "lstm_gru", "embedding_rnn", "masked_sequence", "add_loss",
                                  "custom_layer"])
def test_tape_gradients_equal_the_fused_step(name):
    fastnn.utils.set_random_seed(1)
    model, loss, shape, kind = _model(name)
    model.compile("adam", loss)
    rng = np.random.default_rng(0)
    if name == "embedding_rnn":
        x = rng.integers(0, 30, shape).astype("float32")
    elif name == "masked_sequence":  # sequences of 2 to 6 tokens, then padding
        x = rng.integers(1, 10, shape).astype("float32") * (np.arange(6) < rng.integers(2, 7, (5, 1)))
    else:
        x = rng.standard_normal(shape).astype("float32")
    y = rng.integers(0, 3, shape).astype("float32") if kind == "labels_per_step" else _data(kind, shape[0], rng)
    with GradientTape() as tape:
        y_pred = model(x, training=True)
        loss_value = model.compute_loss(y=y, y_pred=y_pred)
    assert isinstance(y_pred, fastnn.autodiff.Tensor)
    grads = tape.gradient(loss_value, model.trainable_weights)
    fused_loss, _, fused = model._gradients(model._prepare_x(x, "t"), model._prepare_y(y, len(x), "t"), None)
    assert float(loss_value) == pytest.approx(fused_loss, rel=1e-6)
    assert len(grads) == len(fused) == len(model.trainable_weights)
    for g, f, w in zip(grads, fused, model.trainable_weights):
        assert g.shape == w.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, f, rtol=1e-5, atol=1e-6 * np.abs(f).max())


def _central_differences(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        keep = array[i]
        array[i] = keep + eps
        up = f()
        array[i] = keep - eps
        down = f()
        array[i] = keep
        grad[i] = (up - down) / (2 * eps)
    return grad


def test_tape_gradients_equal_finite_differences(float64_numpy):
    """A VAE-shaped loss: a model with two outputs, backend functions on them, an L2 penalty;
    gradients with respect to the weights and to a watched input."""
    fastnn.utils.set_random_seed(3)
    inputs = L.Input((4,))
    hidden = L.Dense(5, activation="tanh", kernel_regularizer=fastnn.regularizers.L2(0.1))(inputs)
    model = fastnn.Model(inputs, [L.Dense(2)(hidden), L.Dense(2)(hidden)])
    model.compile("sgd")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))

    def loss_of(mean, log_var):
        kl = -0.5 * (1 + log_var - ops.square(mean) - ops.exp(log_var))
        return ops.mean(ops.sum(kl, axis=1))

    with GradientTape() as tape:
        tape.watch(x)
        mean, log_var = model(x)
        loss = loss_of(mean, log_var) + model.compute_loss()
    weights = model.trainable_weights
    grads = tape.gradient(loss, weights + [x])

    def value():
        mean, log_var = model.predict_on_batch(x)
        return float(loss_of(mean, log_var)) + model._regularization_loss()

    for g, w in zip(grads, weights + [x]):
        np.testing.assert_allclose(g, _central_differences(value, w), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [lambda: L.Dense(3, activation="tanh", dtype="float64"),
                                  lambda: L.LSTM(3, dtype="float64"),
                                  lambda: L.Conv1D(2, 3, dtype="float64"),
                                  lambda: L.BatchNormalization(dtype="float64")],
                         ids=["dense", "lstm", "conv1d", "batchnorm"])
def test_float64_layer_tape_gradients_are_float64_on_the_cpp_backend(make):
    """A float64 layer on the default (C++) backend computes forward and backward in float64 on
    the NumPy backend: its tape gradients match central differences to float64 accuracy, not the
    float32 kernels' ~1e-6."""
    fastnn.utils.set_random_seed(2)
    layer = make()
    x = np.random.default_rng(4).standard_normal((4, 5, 3))
    if isinstance(layer, L.Dense):
        x = x.reshape(4, 15)
    r = np.random.default_rng(5).standard_normal(layer(x).shape)  # (a sum of squares is flat for BatchNorm)
    weights = layer.trainable_weights
    with GradientTape() as tape:
        tape.watch(x)
        loss = ops.sum(ops.square(layer(x, training=True) + r))
    grads = tape.gradient(loss, weights + [x])
    assert all(g.dtype == np.float64 for g in grads)

    def value():
        return float(np.sum(np.square(layer(x, training=True) + r)))

    for g, w in zip(grads, weights + [x]):
        np.testing.assert_allclose(g, _central_differences(value, w), rtol=1e-7, atol=1e-7)


def test_unconnected_sources_repeated_gradients_and_bad_arguments():
    fastnn.utils.set_random_seed(0)
    used = fastnn.Sequential([L.Input((3,)), L.Dense(2)])
    unused = fastnn.Sequential([L.Input((3,)), L.Dense(2)])
    x = np.ones((4, 3), dtype="float32")
    with GradientTape(persistent=True) as tape:
        loss = ops.sum(used(x))
    first = tape.gradient(loss, used.trainable_weights + unused.trainable_weights)
    assert first[2] is None and first[3] is None
    np.testing.assert_allclose(first[0], np.full((3, 2), 4.0))  # d sum(x W + b) / dW = column sums of x
    zeros = tape.gradient(loss, {"unused": unused.trainable_weights}, unconnected_gradients="zero")
    assert [g.tolist() for g in zeros["unused"]] == [np.zeros((3, 2)).tolist(), [0.0, 0.0]]
    with pytest.raises(ValueError, match="unconnected_gradients must be 'none' or 'zero'"):
        tape.gradient(loss, used.trainable_weights, unconnected_gradients="zeros")
    with pytest.raises(TypeError, match="sources must be arrays.*Received: str"):
        tape.gradient(loss, ["kernel"])

    with GradientTape() as tape:
        loss = ops.sum(used(x))
    tape.gradient(loss, used.trainable_weights)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used to compute one set"):
        tape.gradient(loss, used.trainable_weights)

    with GradientTape() as tape:
        with tape.stop_recording():
            plain = used(x)
    assert isinstance(plain, np.ndarray)
    assert tape.gradient(ops.sum(plain), used.trainable_weights) == [None, None]
    with pytest.raises(TypeError, match="watch: expected NumPy arrays.*Received: float"):
        GradientTape().watch([np.ones(2), 2.0])
    assert isinstance(used(x), np.ndarray)  # no tape records: a plain call


def test_layer_built_under_the_tape():
    dense = L.Dense(2, use_bias=False)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    with GradientTape() as tape:
        y = dense(x)
        loss = ops.sum(y)
    assert isinstance(y, fastnn.autodiff.Tensor)
    (grad,) = tape.gradient(loss, dense.trainable_weights)
    np.testing.assert_allclose(grad, np.repeat(x.sum(axis=0)[:, None], 2, axis=1))


def test_frozen_model_passes_gradients_through():
    """A GAN's generator step: the discriminator is not trained (its weights are not asked for),
    but the gradient reaches the generator through it."""
    fastnn.utils.set_random_seed(2)
    generator = fastnn.Sequential([L.Input((3,)), L.Dense(4, activation="relu")])
    discriminator = fastnn.Sequential([L.Input((4,)), L.Dense(1, activation="sigmoid")])
    discriminator.trainable = False
    z = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    with GradientTape() as tape:
        loss = fastnn.losses.BinaryCrossentropy()(np.zeros((5, 1)), discriminator(generator(z)))
    grads = tape.gradient(loss, generator.trainable_weights + [discriminator.weights[0]])
    assert grads[-1] is None and np.abs(grads[0]).sum() > 0


class GuideModel(fastnn.Model):
    """Keras's guide "Customizing what happens in fit()", its first train_step."""

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class Keras2Model(fastnn.Model):
    """tf.keras 2's version of the guide's train_step: compiled_loss and compiled_metrics."""

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class CountingModel(fastnn.Model):
    """Keras's default step, called through super()."""

    steps = 0

    def train_step(self, data):
        CountingModel.steps += 1
        return super().train_step(data)


def _regression(cls, seed=4):
    fastnn.utils.set_random_seed(seed)
    inputs = L.Input((8,))
    outputs = L.Dense(1)(L.Dense(16, activation="relu")(inputs))
    model = cls(inputs, outputs)
    model.compile(optimizer=fastnn.optimizers.SGD(0.01, momentum=0.9), loss="mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("cls", [GuideModel, Keras2Model, CountingModel])
def test_custom_train_step_trains_as_fit_does(cls):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((100, 8)).astype("float32")
    y = (x[:, :1] * 2 - x[:, 1:2]).astype("float32")
    custom, plain = _regression(cls), _regression(fastnn.Model)
    CountingModel.steps = 0
    # batches of one size: the guide's loss tracker averages the batches' losses unweighted,
    # fit's own step weighs them by their sizes
    got = custom.fit(x, y, batch_size=25, epochs=3, shuffle=False, verbose=0).history
    want = plain.fit(x, y, batch_size=25, epochs=3, shuffle=False, verbose=0).history
    assert set(got) == {"loss", "mae"} == set(want)
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-5)
    np.testing.assert_allclose(got["mae"], want["mae"], rtol=1e-5)
    for a, b in zip(custom.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    if cls is CountingModel:
        assert CountingModel.steps == 3 * 4
    assert got["loss"][-1] < got["loss"][0]


def test_training_loop_from_scratch():
    """Keras's guide "Writing a training loop from scratch": the same steps as fit's, with an L2
    penalty from model.losses."""
    def build():
        fastnn.utils.set_random_seed(9)
        inputs = L.Input((12,))
        hidden = L.Dense(16, activation="relu", kernel_regularizer=fastnn.regularizers.L2(1e-3))(inputs)
        return fastnn.Model(inputs, L.Dense(4)(hidden))

    rng = np.random.default_rng(10)
    x = rng.standard_normal((96, 12)).astype("float32")
    y = rng.integers(0, 4, 96)
    model, reference = build(), build()
    optimizer = fastnn.optimizers.SGD(learning_rate=0.05)
    loss_fn = fastnn.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = fastnn.metrics.SparseCategoricalAccuracy()
    accuracies = []
    for epoch in range(2):
        for step in range(0, 96, 32):
            x_batch, y_batch = x[step:step + 32], y[step:step + 32]
            with GradientTape() as tape:
                logits = model(x_batch, training=True)
                loss_value = loss_fn(y_batch, logits)
                loss_value += sum(model.losses)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            train_acc_metric.update_state(y_batch, logits)
        accuracies.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
    assert len(model.losses) == 1 and isinstance(loss_value, fastnn.autodiff.Tensor)
    reference.compile(fastnn.optimizers.SGD(learning_rate=0.05), loss_fn, metrics=["sparse_categorical_accuracy"])
    history = reference.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(accuracies, history["sparse_categorical_accuracy"])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class EvaluatingModel(GuideModel):
    """The guide's "Providing your own evaluation step"."""

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name != "loss":
                metric.update_state(y, y_pred)
            else:
                metric.update_state(loss)
        return {m.name: m.result() for m in self.metrics}


def test_custom_test_step_in_evaluate_and_validation():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 8)).astype("float32")
    y = x[:, :1].copy()
    model, plain = _regression(EvaluatingModel), _regression(fastnn.Model)
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    want = plain.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"}
    assert logs["loss"] == pytest.approx(want["loss"], rel=1e-5) and logs["mae"] == pytest.approx(want["mae"], rel=1e-5)
    assert model.evaluate(x, y, verbose=0) == pytest.approx([logs["loss"], logs["mae"]], rel=1e-5)
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0).history
    assert set(history) == {"loss", "mae", "val_loss", "val_mae"}


class GAN(fastnn.Model):
    """The guide's GAN (its train_step with keras.ops in place of tf.concat, tf.ones, tf.zeros)."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = fastnn.metrics.Mean(name="d_loss")
        self.g_loss_tracker = fastnn.metrics.Mean(name="g_loss")
        self.seed_generator = fastnn.random.SeedGenerator(1337)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = fastnn.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((ops.shape(real_images)[0], 1))], axis=0)
        labels += 0.05 * fastnn.random.uniform(ops.shape(labels), seed=self.seed_generator)
        with GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        random_latent_vectors = fastnn.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        with GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_gan_with_two_optimizers(capsys):
    fastnn.utils.set_random_seed(7)
    latent_dim = 8
    discriminator = fastnn.Sequential([L.Input((8, 8, 1)), L.Conv2D(8, 3, strides=2, padding="same"),
                                       L.LeakyReLU(negative_slope=0.2), L.GlobalMaxPooling2D(), L.Dense(1)],
                                      name="discriminator")
    generator = fastnn.Sequential([L.Input((latent_dim,)), L.Dense(4 * 4 * 8), L.LeakyReLU(negative_slope=0.2),
                                   L.Reshape((4, 4, 8)), L.Conv2DTranspose(8, 4, strides=2, padding="same"),
                                   L.LeakyReLU(negative_slope=0.2), L.Conv2D(1, 3, padding="same",
                                                                              activation="sigmoid")],
                                  name="generator")
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    assert len(gan.trainable_weights) == len(discriminator.trainable_weights) + len(generator.trainable_weights)
    d_opt, g_opt = fastnn.optimizers.Adam(0.0003), fastnn.optimizers.Adam(0.0003)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt,
                loss_fn=fastnn.losses.BinaryCrossentropy(from_logits=True))
    images = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    d_before, g_before = discriminator.get_weights(), generator.get_weights()
    history = gan.fit(images, epochs=2, batch_size=16).history
    out = capsys.readouterr().out
    assert "4/4 ━━━━━━━━━━━━━━━━━━━━ " in out and " - d_loss: " in out and " - g_loss: " in out
    assert set(history) == {"d_loss", "g_loss"} and all(np.isfinite(history["d_loss"] + history["g_loss"]))
    assert d_opt.iterations == g_opt.iterations == 8
    assert all(not np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights()))
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
    # each optimizer holds state for its own model's weights only
    assert len(d_opt.variables) == 2 * len(discriminator.trainable_weights)
    assert len(g_opt.variables) == 2 * len(generator.trainable_weights)


def test_model_without_call(capsys):
    inner = fastnn.Sequential([L.Input((3,)), L.Dense(2)], name="inner")
    gan = GAN(inner, inner, 3)
    assert gan.trainable_weights == inner.trainable_weights  # held twice, counted once
    gan.summary()  # one row per model it holds
    out = capsys.readouterr().out
    assert re.search(r"│ inner \(Sequential\) +│ \(None, 2\) +│ +8 │", out) and out.count("inner (") == 1
    assert " Total params: 8 (32.00 B)" in out
    x = np.zeros((2, 3), dtype="float32")
    for action in (lambda: gan(x), lambda: gan.predict(x), lambda: gan.save("unused.keras")):
        with pytest.raises(NotImplementedError, match=r"Model 'gan.*' \(GAN\) defines no call\(\), so it cannot"):
            action()
    with pytest.raises(RuntimeError, match=r"You must call `compile\(\)` before calling `fit\(\)`"):
        gan.fit(x, verbose=0)

    class NoLogs(GAN):
        def train_step(self, data):
            return 1.0

    model = NoLogs(inner, inner, 3)
    model.compile(None, None, None)
    with pytest.raises(TypeError, match="train_step must return a dict of logs.*Received: float"):
        model.fit(x, verbose=0)


class Trainer(fastnn.Model):
    """Keras's trainer pattern: a subclass holding a model; its steps call that model only."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.loss_fn = fastnn.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(self, data):
        x, y, sample_weight = data if len(data) == 3 else (*data, None)
        with GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True), sample_weight)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}

    def call(self, x):
        return self.model(x)


def test_trainer_holding_a_model_trains_its_weights_and_takes_class_weight():
    fastnn.utils.set_random_seed(5)
    inner = fastnn.Sequential([L.Dense(8, activation="relu"), L.Dense(3)])  # no Input: built under the tape
    trainer = Trainer(inner)
    trainer.compile(fastnn.optimizers.SGD(0.1))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 4)).astype("float32"), rng.integers(0, 3, 30)
    trainer.fit(x, y, batch_size=30, epochs=1, shuffle=False, verbose=0)
    assert len(trainer.trainable_variables) == 4 and trainer.trainable_variables == inner.trainable_weights
    # class_weight becomes sample weights before train_step, as Keras does
    before = inner.get_weights()
    trainer.fit(x, y, batch_size=30, epochs=1, shuffle=False, verbose=0, class_weight={0: 2.0, 1: 1.0, 2: 0.5})
    by_class = inner.get_weights()
    inner.set_weights(before)
    trainer.fit(x, y, batch_size=30, epochs=1, shuffle=False, verbose=0,
                sample_weight=np.array([2.0, 1.0, 0.5])[y])
    for a, b in zip(by_class, inner.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


class Distiller(fastnn.Model):
    """Keras 3's knowledge-distillation shape: its own compute_loss (Keras 3.0's signature, no
    `training`) and call, no train_step; compiled with metrics and no loss."""

    def __init__(self, student, teacher):
        super().__init__()
        self.teacher, self.student = teacher, student
        self.calls = 0

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        self.calls += 1
        teacher_pred = self.teacher(x, training=False)
        student_loss = fastnn.losses.SparseCategoricalCrossentropy(from_logits=True)(y, y_pred)
        distill = ops.mean(ops.square(ops.softmax(teacher_pred / 2.0) - ops.softmax(y_pred / 2.0)))
        return 0.5 * student_loss + 0.5 * distill

    def call(self, x):
        return self.student(x)


def test_fit_and_evaluate_use_an_overridden_compute_loss():
    fastnn.utils.set_random_seed(6)
    student = fastnn.Sequential([L.Input((4,)), L.Dense(3)], name="student")
    teacher = fastnn.Sequential([L.Input((4,)), L.Dense(3)], name="teacher")
    distiller = Distiller(student, teacher)
    distiller.compile(optimizer=fastnn.optimizers.Adam(0.05),
                      metrics=[fastnn.metrics.SparseCategoricalAccuracy()])
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((64, 4)).astype("float32"), rng.integers(0, 3, 64)
    teacher_before = teacher.get_weights()
    history = distiller.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    assert set(history) == {"loss", "sparse_categorical_accuracy"} and distiller.calls == 12
    assert history["loss"][-1] < history["loss"][0]
    # the teacher is a held layer, so in trainable_weights, and the distillation term reaches it:
    # it trains too, as in Keras 3 (keras.io's example), unless it is frozen
    assert not any(np.array_equal(a, b) for a, b in zip(teacher_before, teacher.get_weights()))
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert distiller.calls == 12 + 2 and set(logs) == {"loss", "sparse_categorical_accuracy"}
    expected = float(distiller.compute_loss(x, y, distiller.predict(x, verbose=0)))
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    teacher.trainable = False
    frozen = teacher.get_weights()
    distiller.compile(optimizer=fastnn.optimizers.Adam(0.05))
    distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for a, b in zip(frozen, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compute_loss_checks_targets_against_the_predictions_given():
    """Keras's metric-learning example: a loss on a similarity matrix, not on the model's output."""
    fastnn.utils.set_random_seed(7)
    model = fastnn.Sequential([L.Input((5,)), L.Dense(8)])
    model.compile("sgd", fastnn.losses.SparseCategoricalCrossentropy(from_logits=True))
    embeddings = model.predict(np.random.default_rng(2).standard_normal((10, 5)).astype("float32"), verbose=0)
    similarities = embeddings @ embeddings.T  # (10, 10): 10 classes, where the model has 8 outputs
    loss = model.compute_loss(y=np.arange(10), y_pred=similarities)
    z = similarities - similarities.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(10), np.arange(10)])
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert f"{fastnn.autodiff.Tensor(np.float32(1.23456)):.2f}" == "1.23"


def test_subclass_call_adjusts_the_rank_for_a_nested_model():
    fastnn.utils.set_random_seed(8)
    inputs = L.Input((6, 6, 1))
    inner = fastnn.Model(inputs, L.Dense(2)(L.Flatten()(inputs)))
    trainer = Trainer(inner)
    x = np.random.default_rng(3).standard_normal((3, 6, 6)).astype("float32")
    np.testing.assert_allclose(trainer.predict(x, verbose=0), inner.predict(x[..., None], verbose=0), rtol=1e-6)


class ActivityRegularizationLayer(L.Layer):
    """Keras's subclassing guide: a custom layer that adds a loss in its call."""

    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(ops.square(inputs)))
        return inputs


def test_custom_layer_add_loss_in_fit_and_on_the_tape(float64_numpy):
    fastnn.utils.set_random_seed(9)
    inputs = L.Input((4,))
    regularized = ActivityRegularizationLayer(0.1)
    model = fastnn.Model(inputs, L.Dense(1)(regularized(L.Dense(3, activation="tanh")(inputs))))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 1))
    loss, out, fused = model._gradients(model._prepare_x(x, "t"), model._prepare_y(y, 6, "t"), None)
    hidden = np.tanh(x @ model.weights[0] + model.weights[1])
    assert regularized.losses[0] == pytest.approx(0.1 * np.sum(hidden ** 2))
    assert loss == pytest.approx(np.mean((out - y) ** 2) + 0.1 * np.sum(hidden ** 2))
    with GradientTape() as tape:
        taped = model.compute_loss(y=y, y_pred=model(x, training=True))
    assert float(taped) == pytest.approx(loss)
    weights = model.trainable_weights

    def value():
        return model._gradients(model._prepare_x(x, "t"), model._prepare_y(y, 6, "t"), None)[0]

    for g, f, w in zip(tape.gradient(taped, weights), fused, weights):
        np.testing.assert_allclose(g, f, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(f, _central_differences(value, w), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="add_loss is for a custom layer's call"):
        L.Dense(2).add_loss(1.0)
    # a custom layer called twice adds each call's terms
    shared = ActivityRegularizationLayer(0.1)
    first = L.Dense(3)(inputs)
    twice = fastnn.Model(inputs, L.Add()([shared(first), shared(L.Dense(3)(first))]))
    twice.compile("sgd", "mse")
    y3 = rng.standard_normal((6, 3))
    loss, out, _ = twice._gradients(twice._prepare_x(x, "t"), twice._prepare_y(y3, 6, "t"), None)
    a = x @ twice.weights[0] + twice.weights[1]
    b = a @ twice.weights[2] + twice.weights[3]
    assert loss == pytest.approx(np.mean((out - y3) ** 2) + 0.1 * (np.sum(a ** 2) + np.sum(b ** 2)))


def test_watched_constant_is_recorded_through_tensorflow_functions_and_operators():
    """TensorFlow's autodiff guide: ``tape.watch(x)`` on a ``tf.constant``, then plain arithmetic
    and tf functions of it, differentiated (x itself never becomes a tape tensor)."""
    import fastnn as tf

    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(z, x)) == 108.0 and float(tape.gradient(y, x)) == 6.0
    x = tf.ones((2, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.multiply(tf.reduce_sum(x), tf.reduce_sum(x))
    np.testing.assert_array_equal(tape.gradient(z, x), np.full((2, 2), 8.0))
    x = tf.linspace(-10.0, 10.0, 201)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.sigmoid(x)
    s = 1 / (1 + np.exp(-np.asarray(x, np.float64)))
    np.testing.assert_allclose(tape.gradient(y, x), s * (1 - s), atol=1e-7)
    v = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = v ** 2 + 2 * v - tf.exp(v) / 3 - v @ v + (-v) * 1.5
    # every element of y holds the scalar v·v, so the sum over y counts its gradient twice
    np.testing.assert_allclose(tape.gradient(y, v), 2 * np.array([1, 2]) + 2 - np.exp([1, 2]) / 3 - 4 * np.array([1, 2])
                               - 1.5, rtol=1e-6)
    unwatched = tf.constant(2.0)
    with tf.GradientTape() as tape:
        y = unwatched * unwatched
    assert tape.gradient(y, unwatched) is None and not isinstance(y, autodiff.Tensor)


class _ActivityPenalty(L.Layer):
    def call(self, inputs):
        self.add_loss(0.1 * fastnn.backend.sum(inputs))
        return inputs


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.0])
def test_add_loss_terms_are_differentiated_as_the_loss_uses_them(scale):
    """A custom layer's add_loss term is a tensor of `model.losses` on the tape: left out, scaled
    (a beta-VAE's KL term) or alone, its gradient is what the written loss says."""
    model = fastnn.Sequential([L.Input((5,)), L.Dense(3), _ActivityPenalty()])
    x = np.random.default_rng(0).random((8, 5), dtype=np.float32)
    with GradientTape() as tape:
        out = model(x)
        loss = ops.mean(out) + scale * sum(model.losses)
    dkernel, dbias = tape.gradient(loss, model.trainable_weights)
    np.testing.assert_allclose(dkernel, x.T @ (np.ones((8, 3)) / 24 + scale * 0.1), rtol=1e-5)
    np.testing.assert_allclose(dbias, np.full(3, 8 / 24 + scale * 0.8), rtol=1e-5)
    with GradientTape() as tape:
        model(x)
        penalty = sum(model.losses)
    dkernel, dbias = tape.gradient(penalty, model.trainable_weights)
    np.testing.assert_allclose(dkernel, np.repeat(0.1 * x.sum(0)[:, None], 3, axis=1), rtol=1e-5)
    np.testing.assert_allclose(dbias, np.full(3, 0.8), rtol=1e-5)


def test_layer_losses_include_sublayers_and_regularizers():
    class Outer(L.Layer):
        def __init__(self):
            super().__init__()
            self.inner = _ActivityPenalty()
            self.dense = L.Dense(2, kernel_regularizer=fastnn.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(self.inner(inputs))

    x = np.full((3, 2), 0.1, np.float32)
    outer = Outer()
    outer(x)
    added, penalty = outer.losses
    np.testing.assert_allclose(added, 0.06, rtol=1e-6)
    np.testing.assert_allclose(penalty, 1e-3 * np.sum(outer.dense.kernel.astype(np.float64) ** 2), rtol=1e-5)
    dense = L.Dense(4, kernel_regularizer=fastnn.regularizers.l2(1e-3))
    dense(x)
    np.testing.assert_allclose(dense.losses, [1e-3 * np.sum(dense.kernel.astype(np.float64) ** 2)], rtol=1e-5)
    with GradientTape() as tape:
        outer(x)
        total = sum(outer.losses)
    grads = tape.gradient(total, outer.trainable_weights)
    np.testing.assert_allclose(grads[0], 2e-3 * outer.dense.kernel, rtol=1e-5)


def test_tape_records_variables_only_where_tensorflows_does():
    """TensorFlow's autodiff guide, "Controlling what the tape watches" and "Stop recording"."""
    import fastnn as tf

    x, y = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq
    grads = t.gradient(z, {"x": x, "y": y})
    assert float(grads["x"]) == 4.0 and grads["y"] is None
    x0, x1 = tf.Variable(0.0), tf.Variable(10.0)
    with tf.GradientTape(watch_accessed_variables=False) as t:
        t.watch(x1)
        ys = tf.reduce_sum(tf.math.sin(x0) + tf.nn.softplus(x1))
    d0, d1 = t.gradient(ys, [x0, x1])
    assert d0 is None and float(d1) == pytest.approx(1 / (1 + np.exp(-10.0)))
    trained, fixed = tf.Variable(3.0, name="x0"), tf.Variable(3.0, name="x1", trainable=False)
    with tf.GradientTape(persistent=True) as t:
        total = trained ** 2 + fixed ** 2
    assert [float(g) if g is not None else None for g in t.gradient(total, [trained, fixed])] == [6.0, None]
    assert t.watched_variables() == [trained]
    before = x * x  # computed before the tape opened: a constant on it
    with tf.GradientTape() as t:
        z = before + x
    assert float(t.gradient(z, x)) == 1.0
    with tf.GradientTape() as t:
        pass
    assert t.gradient(x * x, x) is None  # (after it closed)
    assert float((x * x).numpy()) == 4.0  # off the tape: an eager value


def test_scalar_gradient_by_two_paths_has_numpy():
    import fastnn as tf

    x = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y = x * x
    g = t.gradient(y, x)
    assert g.numpy() == 6.0 and g.shape == ()


def test_a_second_order_gradient_is_refused():
    import fastnn as tf

    x = tf.Variable(1.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy_dx = inner.gradient(y, x)
    assert float(dy_dx) == 3.0
    with pytest.raises(NotImplementedError, match="fastnn does not differentiate gradients"):
        outer.gradient(dy_dx, x)  # (TensorFlow: 6.0)


def test_a_loss_made_of_gradients_fails_clearly():
    # WGAN-GP's gradient penalty: TensorFlow differentiates the inner gradient; fastnn cannot, so the
    # outer gradient raises (it used to train on the other terms alone, silently)
    critic = fastnn.Sequential([L.Input((3,)), L.Dense(4, activation="tanh"), L.Dense(1)])
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    with GradientTape() as tape:
        with GradientTape() as penalty_tape:
            penalty_tape.watch(x)
            score = critic(x)
        grads = penalty_tape.gradient(score, x)
        penalty = ops.mean(ops.square(ops.sqrt(ops.sum(ops.square(grads), axis=1)) - 1.0))
        loss = ops.mean(score) + 10.0 * penalty
    with pytest.raises(NotImplementedError, match="no second-order derivatives"):
        tape.gradient(loss, critic.trainable_weights)
    # gradients taken inside a tape but left out of its loss are fine (a logged gradient norm)
    with GradientTape() as tape:
        with GradientTape() as inner:
            score = critic(x)
        norm = float(np.linalg.norm(np.asarray(inner.gradient(score, critic.trainable_weights)[0])))
        loss = ops.mean(score)
    assert norm > 0 and all(g is not None for g in tape.gradient(loss, critic.trainable_weights))


def test_batch_jacobian_is_the_per_example_block_of_the_jacobian():
    rng = np.random.default_rng(0)
    x = fastnn.Variable(rng.standard_normal((4, 3)))
    w = rng.standard_normal((3, 2))
    with fastnn.GradientTape(persistent=True) as tape:
        y = fastnn.math.tanh(fastnn.matmul(x, w))
    blocks = tape.batch_jacobian(y, x)
    full = tape.jacobian(y, x)
    assert blocks.shape == (4, 2, 3)
    np.testing.assert_allclose(blocks, np.stack([full[b, :, b, :] for b in range(4)]))
    # and by hand: d tanh(x w)[b, i] / d x[b, j] = (1 - y[b, i]^2) w[j, i]
    yv = np.tanh(x.numpy() @ w)
    np.testing.assert_allclose(blocks, (1 - yv ** 2)[:, :, None] * w.T[None], rtol=1e-12)
    with pytest.raises(ValueError, match="share their first \\(batch\\) axis"):
        tape.batch_jacobian(y, fastnn.Variable(np.ones((5, 3))))


def test_a_layer_of_several_tensor_arguments_in_a_model_called_on_the_tape():
    # keras.io's Siamese triplet network: DistanceLayer.call(self, anchor, positive, negative) in a
    # functional model that a custom train_step calls under a GradientTape
    from fastnn import keras

    class DistanceLayer(keras.layers.Layer):
        def call(self, anchor, positive, negative):
            return (keras.ops.sum(keras.ops.square(anchor - positive), -1),
                    keras.ops.sum(keras.ops.square(anchor - negative), -1))

    class Scaled(keras.layers.Layer):
        def call(self, a, b=None):
            return a * b

    fastnn.utils.set_random_seed(3)
    a, p, n = (keras.Input((3,)) for _ in range(3))
    embed = keras.layers.Dense(3)
    distances = DistanceLayer()(embed(a), embed(p), embed(n))
    model = keras.Model([a, p, n], list(distances) + [Scaled()(embed(a), b=embed(p))])
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]

    def loss_of(outputs):
        ap, an, scaled = outputs
        return float(np.sum(np.maximum(np.asarray(ap) - np.asarray(an) + 0.5, 0.0)) + np.sum(np.asarray(scaled)))

    with fastnn.GradientTape() as tape:
        ap, an, scaled = model(xs)
        loss = fastnn.reduce_sum(fastnn.maximum(ap - an + 0.5, 0.0)) + fastnn.reduce_sum(scaled)
    kernel = embed.kernel
    grad = np.asarray(tape.gradient(loss, [kernel])[0])
    assert loss_of(model.predict(xs, verbose=0)) == pytest.approx(float(loss), rel=1e-5)
    numeric = np.zeros_like(grad)
    for i in np.ndindex(kernel.shape):
        old = float(kernel[i])
        kernel[i] = old + 1e-3
        up = loss_of(model.predict(xs, verbose=0))
        kernel[i] = old - 1e-3
        down = loss_of(model.predict(xs, verbose=0))
        kernel[i] = old
        numeric[i] = (up - down) / 2e-3
    np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=2e-2)


def test_a_kept_loss_lets_the_step_graph_go_and_two_tapes_still_share_it():
    # a custom loop's losses.append(loss) held every step's graph (each layer's inputs and caches),
    # memory growing with every step; TensorFlow's tape frees its record after gradient()
    model = fastnn.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
    x = np.random.default_rng(0).random((16, 4)).astype(np.float32)
    kept = []
    for _ in range(2):
        with GradientTape() as tape:
            loss = fastnn.reduce_mean(model(x, training=True) ** 2)
        tape.gradient(loss, model.trainable_weights)
        kept.append(loss)
    assert all(loss._inputs == () and loss._backward is None for loss in kept)
    assert float(kept[0]) > 0  # (the value stays)
    # a GAN's two tapes over one forward pass: the first gradient must leave the graph to the second
    gen = fastnn.Sequential([L.Input((4,)), L.Dense(4)])
    disc = fastnn.Sequential([L.Input((4,)), L.Dense(1)])
    with GradientTape() as gen_tape, GradientTape() as disc_tape:
        fake = disc(gen(x, training=True), training=True)
        gen_loss = fastnn.reduce_mean(-fake)
        disc_loss = fastnn.reduce_mean(fake)
    gen_grads = gen_tape.gradient(gen_loss, gen.trainable_weights)
    disc_grads = disc_tape.gradient(disc_loss, disc.trainable_weights)
    assert all(g is not None for g in gen_grads + disc_grads)
    np.testing.assert_allclose(disc_grads[1], [1.0], rtol=1e-6)
    assert gen_loss._inputs == () and disc_loss._inputs == ()  # (both released once both tapes were used)
    with GradientTape(persistent=True) as persistent:
        again = fastnn.reduce_mean(model(x) ** 2)
    persistent.gradient(again, model.trainable_weights)
    assert persistent.gradient(again, model.trainable_weights)[0] is not None  # (a persistent tape keeps it)


def test_a_kept_loss_lets_the_graph_go_however_the_tape_was_used():
    # the graph went only for "one non-persistent tape, gradient() after the with-block"; gradient()
    # inside the block (a common indentation), a persistent tape, a tape whose gradient is never
    # taken and nested tapes of which one is unused kept every step's graph with the kept loss
    # (~70 MB per 1000 steps of a 64-256-256-1 MLP); TensorFlow frees a tape's record when it is deleted
    model = fastnn.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
    x = np.random.default_rng(0).random((16, 4)).astype(np.float32)

    def inside(kept):
        with GradientTape() as tape:
            loss = fastnn.reduce_mean(model(x, training=True) ** 2)
            kept.append(loss)
            assert tape.gradient(loss, model.trainable_weights)[0] is not None

    def persistent(kept):
        with GradientTape(persistent=True) as tape:
            loss = fastnn.reduce_mean(model(x, training=True) ** 2)
            kept.append(loss)
        assert tape.gradient(loss, model.trainable_weights)[0] is not None
        assert tape.gradient(loss, model.trainable_weights)[1] is not None  # (the graph stays while the tape lives)
        assert kept[-1]._inputs

    def unused(kept):
        with GradientTape():
            kept.append(fastnn.reduce_mean(model(x, training=True) ** 2))

    def nested_one_unused(kept):
        with GradientTape() as used, GradientTape():
            loss = fastnn.reduce_mean(model(x, training=True) ** 2)
            kept.append(loss)
        assert used.gradient(loss, model.trainable_weights)[0] is not None

    for step in (inside, persistent, unused, nested_one_unused):
        kept = []
        for _ in range(2):
            step(kept)
        assert all(loss._inputs == () and loss._backward is None for loss in kept), step.__name__
        assert all(float(loss) > 0 for loss in kept)


def test_a_tape_letting_its_graph_go_leaves_other_tapes_graphs_alone():
    model = fastnn.Sequential([L.Input((4,)), L.Dense(3)])
    x = np.ones((2, 4), np.float32)
    w = fastnn.Variable(2.0)
    # a later tape's gradient through an earlier persistent tape's output: that output is a constant
    # to it, and the earlier tape's own gradient still works after (it let the earlier graph go)
    with GradientTape(persistent=True) as earlier:
        y = fastnn.reduce_sum(model(x))
    with GradientTape() as later:
        z = y * w
    assert float(later.gradient(z, w)) == pytest.approx(float(y))
    assert all(g is not None for g in earlier.gradient(y, model.trainable_weights))
    # an inner tape (other leaves) done inside an outer one: the outer graph still runs through its nodes
    v = fastnn.Variable(2.0)
    with GradientTape(watch_accessed_variables=False) as outer:
        outer.watch(v)
        with GradientTape() as inner:
            h = v * 3.0
        assert float(inner.gradient(h, v)) == pytest.approx(3.0)
        q = h * h
    assert float(outer.gradient(q, v)) == pytest.approx(2 * 6.0 * 3.0)
    del outer
    assert h._inputs == () and q._inputs == ()  # (once the outer tape is gone, both graphs are)


def test_a_running_total_of_released_losses_is_an_eager_value_not_a_growing_chain():
    # ``total_loss += loss`` over a custom loop's steps chained one tape node per step, each holding the
    # one before (memory and a deep graph growing with the steps); off every tape, TensorFlow's is an
    # eager tensor
    model = fastnn.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
    x = np.random.default_rng(0).random((16, 4)).astype(np.float32)
    total, values = 0.0, []
    for _ in range(5):
        with GradientTape() as tape:
            loss = fastnn.reduce_mean(model(x, training=True) ** 2)
        tape.gradient(loss, model.trainable_weights)
        values.append(float(loss))
        total += loss
    assert not isinstance(total, autodiff.Tensor)
    assert float(total) == pytest.approx(sum(values), rel=1e-6)
    mean = total / 5  # (still a tensor, with TensorFlow's numpy())
    assert mean.numpy() == pytest.approx(sum(values) / 5, rel=1e-6) and mean.shape == ()
    # on a new tape the released loss is a constant: the arithmetic with a watched value records
    w = fastnn.Variable(2.0)
    with GradientTape() as tape:
        scaled = loss * w
    assert float(tape.gradient(scaled, w)) == pytest.approx(values[-1], rel=1e-6)


def test_a_layer_called_on_a_kept_tensor_after_its_step_runs_eagerly():
    # logging after a GAN step, ``total += reduce_mean(D(fake))``: the call made a tape node holding
    # the layer's state, one chained per step; off every tape it is TensorFlow's eager call
    disc = fastnn.Sequential([L.Input((4,)), L.Dense(3, activation="relu"), L.Dense(1)])
    x = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    with GradientTape() as tape:
        fake = disc.layers[0](x, training=True)
        loss = fastnn.reduce_mean(disc.layers[1](fake, training=True))
    tape.gradient(loss, disc.trainable_weights)
    for out in (disc.layers[1](fake), disc(x), disc.layers[1]([fake][0])):
        assert not isinstance(out, autodiff.Tensor)
    np.testing.assert_allclose(disc.layers[1](fake), disc.layers[1](np.asarray(fake)), rtol=1e-6)


def test_stop_recording_makes_what_it_computes_a_constant():
    # a weight computed from the model's own output inside stop_recording() was still differentiated
    model = fastnn.Sequential([L.Input((4,)), L.Dense(3)])
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    with GradientTape() as tape:
        logits = model(x, training=True)
        with tape.stop_recording():
            weight = fastnn.nn.softmax(logits)
        loss = -fastnn.reduce_mean(fastnn.reduce_sum(weight * fastnn.nn.log_softmax(logits), axis=-1))
    assert not isinstance(weight, autodiff.Tensor)
    _, db = tape.gradient(loss, model.trainable_weights)
    # with the weight constant: d/dz of -Σ w·log_softmax(z) = softmax(z)·Σw - w = 0 for w = softmax(z)
    np.testing.assert_allclose(db, 0.0, atol=1e-6)


def test_a_non_persistent_tape_entered_again_after_its_gradient_records_afresh():
    v = fastnn.Variable(3.0)
    tape = GradientTape()
    with tape:
        y = v * v
    assert float(tape.gradient(y, v)) == pytest.approx(6.0)
    with tape:  # TensorFlow pushes a new record
        y = v * v * v
    assert float(tape.gradient(y, v)) == pytest.approx(27.0)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used"):
        tape.gradient(y, v)


def test_nested_tapes_with_other_watch_settings_each_see_what_they_watch():
    # the outer tape missed what was computed while an inner tape with another watch_accessed_variables
    # was innermost (its weight or input gradients came out None); TensorFlow records every op on every
    # active tape, and each tape differentiates what it watches
    model = fastnn.Sequential([L.Input((4,)), L.Dense(3, activation="tanh"), L.Dense(1)])
    x = np.random.default_rng(2).standard_normal((8, 4)).astype(np.float32)
    with GradientTape() as plain_loss:
        reference = fastnn.reduce_mean(fastnn.square(model(x, training=True)))
    want = plain_loss.gradient(reference, model.trainable_weights)
    xt = fastnn.constant(x)
    with GradientTape() as outer:  # a saliency term inside a training step
        with GradientTape(watch_accessed_variables=False) as inner:
            inner.watch(xt)
            out = model(xt, training=True)
        saliency = inner.gradient(out, xt)
        loss = fastnn.reduce_mean(fastnn.square(out))
    for g, w in zip(outer.gradient(loss, model.trainable_weights), want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)
    assert saliency is not None and np.asarray(saliency).shape == x.shape
    with GradientTape(watch_accessed_variables=False) as outer:  # the reverse nesting
        outer.watch(xt)
        with GradientTape() as inner:
            out = model(xt, training=True)
            loss = fastnn.reduce_mean(fastnn.square(out))
        weight_grads = inner.gradient(loss, model.trainable_weights)
        total = fastnn.reduce_sum(out)
    np.testing.assert_allclose(outer.gradient(total, xt), saliency, rtol=1e-5, atol=1e-7)
    assert all(g is not None for g in weight_grads)
    # an input one nested tape watched is not watched by the other (TensorFlow: None)
    v = fastnn.constant(np.float32(2.0))
    with GradientTape() as outer, GradientTape(watch_accessed_variables=False) as inner:
        inner.watch(v)
        y = v * v
        assert inner.gradient(y, v) is not None
    assert outer.gradient(y, v) is None


def test_a_tape_not_watching_accessed_variables_gives_none_for_weights_inside_a_default_one():
    model = fastnn.Sequential([L.Input((4,)), L.Dense(2)])
    xt = fastnn.constant(np.ones((3, 4), np.float32))
    with GradientTape(), GradientTape(watch_accessed_variables=False, persistent=True) as inner:
        inner.watch(xt)
        out = model(xt, training=True)
    assert all(g is None for g in inner.gradient(out, model.trainable_weights))  # (it watched only xt)
    np.testing.assert_allclose(inner.gradient(out, xt), np.tile(model.get_weights()[0].sum(1), (3, 1)), rtol=1e-6)


def test_a_tape_differentiates_only_what_it_recorded():
    """TensorFlow's tape sees the ops run while it records: what an outer tape computed before an
    inner one began, or what another (still alive) tape computed, is a constant to it."""
    x0 = fastnn.constant(2.0)
    with GradientTape(persistent=True) as outer:
        outer.watch(x0)
        a = x0 * x0  # outer's alone
        with GradientTape() as inner:
            inner.watch(x0)
            b = a * x0
    assert float(inner.gradient(b, x0)) == 4.0  # a is 4 here
    assert float(outer.gradient(b, x0)) == 12.0
    assert float(outer.gradient(a, x0)) == 4.0

    gen = fastnn.Sequential([L.Input((2,)), L.Dense(3)])
    disc = fastnn.Sequential([L.Input((3,)), L.Dense(1)])
    with GradientTape() as gen_tape:
        fake = gen(np.ones((4, 2), np.float32))
        with GradientTape() as disc_tape:
            d_loss = fastnn.reduce_mean(disc(fake))
        assert disc_tape.gradient(d_loss, gen.trainable_variables) == [None, None]
        g_loss = -d_loss
    assert all(g is not None for g in gen_tape.gradient(g_loss, gen.trainable_variables))

    v = fastnn.Variable(3.0)
    with GradientTape(persistent=True) as t1:
        h = v * 2.0
    with GradientTape() as t2:
        y = h * 3.0
    assert t2.gradient(y, v) is None and float(t1.gradient(h, v)) == 2.0
    del t1


def test_reset_read_value_variable_targets_and_a_sign_of_an_inner_gradient():
    x, y = fastnn.Variable(2.0), fastnn.Variable(3.0)
    with GradientTape() as tape:
        ignored = y * y
        tape.reset()  # (the "Advanced automatic differentiation" guide: forget what came before)
        z = x * x + ignored
    dx, dy = tape.gradient(z, [x, y])
    assert float(dx) == 4.0 and dy is None

    v = fastnn.Variable([1.0, 2.0])
    with GradientTape() as tape:
        out = fastnn.reduce_sum(fastnn.square(v.read_value()))
    np.testing.assert_array_equal(tape.gradient(out, v), [2.0, 4.0])
    v0, v1 = fastnn.Variable(2.0), fastnn.Variable(2.0)
    with GradientTape() as tape:
        result = fastnn.identity(v0)  # (the guide's control flow: the target is a variable)
    assert tape.gradient(result, [v0, v1]) == [1.0, None]
    dense = L.Dense(2)
    with GradientTape() as tape:
        dense(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(tape.gradient(dense.kernel, dense.kernel), np.ones((3, 2)))  # (a weight itself)

    # FGSM inside the training tape: the inner gradient reaches the loss only through sign (gradient 0),
    # so the outer gradient is first order
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([L.Input((6,)), L.Dense(8, activation="relu"), L.Dense(3)])
    loss_fn = fastnn.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_in = fastnn.constant(np.random.default_rng(0).standard_normal((16, 6)).astype("float32"))
    labels = np.arange(16) % 3
    with GradientTape() as outer:
        with GradientTape() as inner:
            inner.watch(x_in)
            inner_loss = loss_fn(labels, model(x_in))
        adversarial = x_in + 0.1 * fastnn.sign(inner.gradient(inner_loss, x_in))
        loss = loss_fn(labels, model(adversarial))
    grads = outer.gradient(loss, model.trainable_weights)
    with GradientTape() as plain:
        want = loss_fn(labels, model(np.asarray(adversarial)))
    for g, w in zip(grads, plain.gradient(want, model.trainable_weights)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_watched_variables_stay_listed_after_the_gradient():
    x0, x1 = fastnn.Variable(3.0, name="x0"), fastnn.Variable(3.0, name="x1", trainable=False)
    with GradientTape() as tape:
        y = x0 ** 2 + x1 ** 2
    assert [v.name for v in tape.watched_variables()] == ["x0"]
    tape.gradient(y, [x0, x1])
    assert [v.name for v in tape.watched_variables()] == ["x0"]  # (TensorFlow's, after a non-persistent gradient)


def test_tape_scoping_sources_of_other_tapes_stop_recording_reset_and_nested_gradients():
    v = fastnn.Variable(2.0)
    with GradientTape() as outer:
        a = v * v  # outer's op
    with GradientTape() as inner:
        inner.watch(a)  # a source here: a leaf, not a way into outer's graph
        b = a * 3.0 + v
    ga, gv = inner.gradient(b, [a, v])
    assert float(ga) == 3.0 and float(gv) == 1.0
    with GradientTape(persistent=True) as other:
        c = a * 2.0
    assert other.gradient(c, a) is None and other.gradient(c, v) is None  # (TF: a is neither watched nor its own)
    with GradientTape() as watching:
        watching.watch(a)
        c = a * 2.0
    assert float(watching.gradient(c, a)) == 2.0
    del outer, other

    # gradient() inside its own stop_recording block; a tape opened there records for itself alone
    x = fastnn.Variable(3.0)
    with GradientTape() as tape:
        y = x * x
        with tape.stop_recording():
            assert float(tape.gradient(y, x)) == 6.0
    with GradientTape() as outer:
        with outer.stop_recording():
            with GradientTape() as mine:
                z = x * x * x
    assert outer.gradient(z, x) is None and float(mine.gradient(z, x)) == 27.0

    # reset() of a nested tape forgets its own record only; alone, it lets the graph go
    with GradientTape() as outer:
        with GradientTape() as inner:
            w = x * x * x
            inner.reset()
    assert float(outer.gradient(w, x)) == 27.0
    with GradientTape(persistent=True) as tape:
        kept = x * x
        tape.reset()
        assert kept._inputs is fastnn.autodiff.RELEASED
        u = x * 4.0
    assert float(tape.gradient(u, x)) == 4.0 and tape.gradient(kept, x) is None

    # a Jacobian, or a gradient of a list of targets, taken while another tape records: not
    # differentiated further, so a loss made of it raises instead of training without it
    for make in (lambda t, f: t.jacobian(f, x), lambda t, f: t.gradient([f], [x])[0]):
        with GradientTape() as outer:
            with GradientTape() as inner:
                f = x * x
            penalty = fastnn.reduce_sum(make(inner, f) ** 2)
        with pytest.raises(NotImplementedError, match="no second-order"):
            outer.gradient(penalty, x)


def test_identity_and_read_value_are_snapshots():
    v = fastnn.Variable([1.0, 2.0])
    snap, converted, read = fastnn.identity(v), fastnn.convert_to_tensor(v), v.read_value()
    v.assign([5.0, 5.0])
    for s in (snap, converted, read):
        np.testing.assert_array_equal(s, [1.0, 2.0])
    assert read.numpy().tolist() == [1.0, 2.0]
    model = fastnn.Sequential([L.Input((3,)), L.Dense(2)])
    old = [fastnn.identity(w) for w in model.trainable_variables]
    fastnn.optimizers.SGD(1.0).apply_gradients(zip([np.ones((3, 2), np.float32), np.ones(2, np.float32)],
                                                   model.trainable_variables))
    for w, o in zip(model.trainable_variables, old):
        np.testing.assert_allclose(o - w, 1.0)
    with GradientTape() as tape:
        rows = list(v.read_value())  # (a tensor on the tape iterates over its rows)
        total = rows[0] * 3.0 + rows[1]
    np.testing.assert_array_equal(tape.gradient(total, v), [3.0, 1.0])


def test_tapes_are_per_thread():
    # TensorFlow's tapes are thread-local: a model called in another thread while a tape records is
    # not on that tape, and two threads each training with their own tape do not see each other's
    import threading

    rng = np.random.default_rng(0)
    x = rng.random((16, 8), dtype=np.float32)
    y = rng.random((16, 1), dtype=np.float32)

    def model():
        return fastnn.keras.Sequential([fastnn.keras.Input((8,)), L.Dense(8, activation="relu"), L.Dense(1)])

    def grads(m):
        with GradientTape() as tape:
            loss = fastnn.reduce_mean((m(x) - y) ** 2)
        return tape.gradient(loss, m.trainable_weights)

    first, second = model(), model()
    expected = {id(m): [np.array(g) for g in grads(m)] for m in (first, second)}

    seen = {}
    started, finished = threading.Event(), threading.Event()

    def other_thread():
        started.wait()
        seen["output"] = second(x)
        seen["product"] = fastnn.Variable(2.0) * 3.0
        finished.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with GradientTape() as tape:
        loss = fastnn.reduce_mean((first(x) - y) ** 2)
        started.set()
        assert finished.wait(30)
    thread.join()
    assert not isinstance(seen["output"], autodiff.Tensor)
    assert not isinstance(seen["product"], autodiff.Tensor)
    for g, e in zip(tape.gradient(loss, first.trainable_weights), expected[id(first)]):
        np.testing.assert_allclose(g, e, rtol=1e-6)

    barrier = threading.Barrier(2, timeout=30)
    failures = []

    def train(m):
        try:
            for _ in range(20):
                with GradientTape() as tape:
                    barrier.wait()  # (both tapes record at once)
                    loss = fastnn.reduce_mean((m(x) - y) ** 2)
                    barrier.wait()
                for g, e in zip(tape.gradient(loss, m.trainable_weights), expected[id(m)]):
                    np.testing.assert_allclose(g, e, rtol=1e-6)
        except Exception as error:  # (reported by the main thread)
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=train, args=(m,)) for m in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


@pytest.mark.parametrize("make", [
    lambda: L.Bidirectional(L.LSTM(3, return_sequences=True)),
    lambda: L.TimeDistributed(L.Dense(3, activation="tanh")),
    lambda: L.RNN([L.LSTMCell(3), L.GRUCell(3)]),
], ids=["Bidirectional", "TimeDistributed", "RNN-cells"])
def test_a_wrapper_called_again_keeps_each_calls_state_for_its_gradient(make):
    # each call is its own node (TensorFlow): a second call of a shared wrapper (a Siamese encoder),
    # on the tape or after it, must not change the first call's gradient; the wrapper's inner layers
    # keep their state per call too
    rng = np.random.default_rng(0)
    x1 = fastnn.constant(rng.standard_normal((4, 5, 3)).astype(np.float32))
    x2 = fastnn.constant(rng.standard_normal((4, 5, 3)).astype(np.float32))
    layer = make()
    layer(x1)

    def grads(second_call):
        with GradientTape() as tape:
            tape.watch(x1)
            y = layer(x1)
            if second_call == "on the tape":
                layer(x2)
            loss = fastnn.reduce_sum(y * y)
        if second_call == "after it":
            layer(x2)
        return [np.asarray(g) for g in tape.gradient(loss, [x1] + layer.trainable_weights)]

    alone = grads(None)
    for second_call in ("on the tape", "after it"):
        for a, b in zip(alone, grads(second_call)):
            np.testing.assert_array_equal(a, b, err_msg=second_call)


def test_indexing_a_watched_constant_is_recorded():
    # saliency / FGSM code slices the watched input batch: TensorFlow scatters the gradient back
    x = fastnn.constant(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    for index, where in (((slice(None), slice(None, None, 2)), (slice(None), slice(None, None, 2))),
                         (0, 0), ((Ellipsis, 0), (slice(None), 0))):
        with GradientTape() as tape:
            tape.watch(x)
            loss = fastnn.reduce_sum(x[index] * 3.0)
        expected = np.zeros((3, 4), np.float32)
        expected[where] = 3.0
        np.testing.assert_array_equal(tape.gradient(loss, x), expected)
    assert type(x[0, 1]).__name__ == "EagerArray"  # (off the tape: still an eager 0-d tensor)
