"""The Keras guide "Making new layers and models via subclassing" (TF 2 version, ``import fastnn
as tf``): custom layers returning several tensors, ``add_loss`` in a subclassed model's call(),
and the guide's end-to-end VariationalAutoEncoder, trained by a GradientTape loop and by fit."""

import numpy as np
import pytest

import fastnn as tf
from fastnn import keras, layers


class Pair(layers.Layer):
    """Two projections of one input, returned as a tuple."""

    def __init__(self):
        super().__init__()
        self.a = layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(1))
        self.b = layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(2))

    def call(self, x):
        return self.a(x), self.b(x)


def test_layer_returning_a_tuple_called_on_arrays():
    x = np.random.default_rng(0).random((4, 5), dtype=np.float32)
    pair = Pair()
    u, v = pair(x)
    assert isinstance(pair(x), tuple) and u.shape == (4, 2) and v.shape == (4, 3)
    np.testing.assert_allclose(u, x @ pair.a.kernel + pair.a.bias, rtol=1e-6)
    np.testing.assert_allclose(v, x @ pair.b.kernel + pair.b.bias, rtol=1e-6)


def test_layer_returning_a_tuple_on_the_tape_each_output_its_own_gradient():
    x = np.random.default_rng(0).random((4, 5), dtype=np.float32)
    pair = Pair()
    with tf.GradientTape() as tape:
        u, v = pair(x)
        loss = tf.reduce_sum(u) + 2.0 * tf.reduce_sum(v * v)
    da_kernel, da_bias, db_kernel, db_bias = tape.gradient(loss, pair.trainable_weights)
    v_value = x @ pair.b.kernel + pair.b.bias
    np.testing.assert_allclose(da_kernel, np.repeat(x.sum(0)[:, None], 2, axis=1), rtol=1e-5)
    np.testing.assert_allclose(da_bias, [4, 4], rtol=1e-6)
    np.testing.assert_allclose(db_kernel, x.T @ (4 * v_value), rtol=1e-5)
    np.testing.assert_allclose(db_bias, (4 * v_value).sum(0), rtol=1e-5)


def test_layer_returning_a_tuple_in_functional_and_subclassed_models():
    x = np.random.default_rng(0).random((64, 5), dtype=np.float32)
    y = x @ np.arange(5, dtype=np.float32)[:, None]
    inputs = keras.Input((5,))
    u, v = Pair()(inputs)
    functional = keras.Model(inputs, layers.Dense(1)(layers.concatenate([u, v])))

    class Joined(keras.Model):
        def __init__(self):
            super().__init__()
            self.pair = Pair()
            self.head = layers.Dense(1)

        def call(self, x):
            u, v = self.pair(x)
            return self.head(tf.concat([u, v], axis=-1))

    for model in (functional, Joined()):
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
        history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
        assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]


def test_add_loss_in_a_subclassed_models_call():
    class Penalised(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, x):
            y = self.dense(x)
            self.add_loss(0.1 * tf.reduce_mean(y))
            return y

    x = np.ones((2, 4), np.float32)
    model = Penalised()
    y = model(x)
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.losses[0], 0.1 * np.mean(y), rtol=1e-6)
    # trained on compile's loss plus the term: its gradient pushes the outputs' mean down
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    bias = model.dense.bias.copy()
    model.train_on_batch(x, np.asarray(y))  # (the mse is 0 here: only the term moves the bias)
    np.testing.assert_allclose(model.dense.bias, bias - 0.1 * 0.1 / 3, rtol=1e-5)


def test_add_loss_in_a_call_that_reads_variables():
    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.ones((4, 1), np.float32))

        def call(self, x):
            y = tf.matmul(x, self.w)
            self.add_loss(tf.reduce_sum(self.w * self.w))
            return y

    model = Scaled()
    x = np.ones((2, 4), np.float32)
    with tf.GradientTape() as tape:
        out = model(x)
        loss = 0.0 * tf.reduce_sum(out) + sum(model.losses)
    np.testing.assert_allclose(tape.gradient(loss, model.w), 2 * np.ones((4, 1)), rtol=1e-6)


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = tf.shape(z_mean)[0]
        dim = tf.shape(z_mean)[1]
        epsilon = tf.keras.backend.random_normal(shape=(batch, dim))
        return z_mean + tf.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * tf.reduce_mean(z_log_var - tf.square(z_mean) - tf.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


@pytest.fixture(scope="module")
def images():
    (x_train, _), _ = tf.keras.datasets.fashion_mnist.load_data(subset="small")
    return x_train[:1024].reshape(-1, 784).astype("float32") / 255


def test_guide_vae_custom_loop(images):
    tf.random.set_seed(0)
    original_dim = 784
    vae = VariationalAutoEncoder(original_dim, 64, 32)
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    mse_loss_fn = tf.keras.losses.MeanSquaredError()
    loss_metric = tf.keras.metrics.Mean()
    train_dataset = tf.data.Dataset.from_tensor_slices(images)
    train_dataset = train_dataset.shuffle(buffer_size=1024).batch(64)
    firsts = []
    for epoch in range(2):
        loss_metric.reset_state()
        for step, x_batch_train in enumerate(train_dataset):
            with tf.GradientTape() as tape:
                reconstructed = vae(x_batch_train)
                # Compute reconstruction loss
                loss = mse_loss_fn(x_batch_train, reconstructed)
                loss += sum(vae.losses)  # Add KLD regularization loss
            grads = tape.gradient(loss, vae.trainable_weights)
            assert all(g is not None for g in grads) and len(grads) == 10
            optimizer.apply_gradients(zip(grads, vae.trainable_weights))
            loss_metric(loss)
        firsts.append(float(loss_metric.result()))
    assert firsts[1] < firsts[0] < 0.3
    # the KL term at the end matches its formula on the encoder's outputs of the last call
    z_mean, z_log_var, _ = vae.encoder(images[:64])
    kl = -0.5 * np.mean(z_log_var - z_mean ** 2 - np.exp(z_log_var) + 1)
    vae(images[:64])
    assert abs(float(vae.losses[0]) - kl) < 1e-5 * max(1.0, abs(kl))


def test_guide_vae_fit(images):
    vae = VariationalAutoEncoder(784, 64, 32)
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=tf.keras.losses.MeanSquaredError())
    history = vae.fit(images, images, epochs=2, batch_size=64, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0] < 0.3
    assert vae.predict(images[:3], verbose=0).shape == (3, 784)


class LogisticEndpoint(keras.layers.Layer):
    """The guide's endpoint layer: its call takes the targets and the logits, adds the loss."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)
        return tf.nn.softmax(logits)


def _bce_from_logits(t, z):
    return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))


def test_layer_taking_two_tensors_eager_and_on_the_tape():
    rng = np.random.default_rng(0)
    targets, logits = rng.random((4, 10), dtype=np.float32), rng.standard_normal((4, 10)).astype(np.float32)
    layer = LogisticEndpoint()
    probs = layer(targets, logits)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(layer.losses, [_bce_from_logits(targets, logits)], rtol=1e-5)
    np.testing.assert_allclose(layer(targets, logits=logits), probs)  # (by name too)
    with pytest.raises(TypeError, match="logistic_endpoint.*too many positional arguments"):
        layer(targets, logits, targets, logits)
    with pytest.raises(TypeError, match="unexpected keyword argument 'weights'"):
        layer(targets, logits, weights=targets)


def test_guide_endpoint_model_compiled_without_a_loss():
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer=keras.optimizers.Adam(0.05))  # No loss argument!
    rng = np.random.default_rng(1)
    data = {"inputs": rng.random((32, 3)), "targets": (rng.random((32, 10)) > 0.5).astype("float32")}
    dense = model.get_layer(index=2)
    first = _bce_from_logits(data["targets"], data["inputs"].astype(np.float32) @ dense.kernel + dense.bias)
    history = model.fit(data, epochs=30, batch_size=32, verbose=0).history["loss"]
    assert history[0] == pytest.approx(first, rel=1e-5)
    assert history[-1] < history[0] - 0.05
    # TensorFlow's guide also passes targets to fit: a model without a compiled loss does not read them
    ActivityModel = keras.Sequential([keras.Input((3,)), ActivityPenaltyOnly()])
    ActivityModel.compile(optimizer="adam")
    ActivityModel.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)
    with pytest.raises(ValueError, match="compiled without a loss, and no layer called add_loss"):
        silent = keras.Sequential([keras.Input((3,)), ActivityPenaltyOnly(rate=None)])
        silent.compile(optimizer="adam")
        silent.fit(np.random.random((2, 3)), verbose=0)


class ActivityPenaltyOnly(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        if self.rate is not None:
            self.add_loss(self.rate * tf.reduce_sum(inputs))
        return inputs


def test_overriding_a_built_in_layers_call_is_refused_and_holding_one_works():
    class ScaledDense(keras.layers.Dense):
        def call(self, inputs):
            return super().call(inputs) * 2.0

    with pytest.raises(NotImplementedError, match="subclasses fastnn's Dense and overrides call\\(\\) with more "
                                                  "than a call of super\\(\\).call\\(inputs, ...\\).*Subclass "
                                                  "keras.layers.Layer instead"):
        keras.Sequential([keras.Input((3,)), ScaledDense(1)]).predict(np.ones((2, 3)), verbose=0)

    class Scaled(keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.inner = keras.layers.Dense(units)

        def call(self, inputs):
            return self.inner(inputs) * 2.0

    layer = Scaled(1)
    x = np.ones((4, 3), np.float32)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x))
    dkernel, dbias = tape.gradient(y, layer.trainable_weights)
    np.testing.assert_allclose(dkernel, np.full((3, 1), 8.0))  # 2 · Σ over 4 rows of x = 1
    np.testing.assert_allclose(dbias, [8.0])


def test_custom_layer_requiring_a_mask_builds_in_a_graph():
    """The masking guide's TemporalSoftmax asserts it gets a mask: the example batches that find its
    output shape give it one that keeps every step; at run time it gets the Embedding's."""

    class TemporalSoftmax(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            broadcast_float_mask = keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
            inputs_exp = keras.ops.exp(inputs) * broadcast_float_mask
            inputs_sum = keras.ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(4)(x)
    model = keras.Model(inputs, TemporalSoftmax()(x))
    tokens = np.array([[3, 4, 0, 0], [1, 2, 5, 0]])
    with np.errstate(invalid="ignore"):  # (the masked steps' 0 / 0)
        y = model.predict(tokens, verbose=0)
    assert y.shape == (2, 4, 4)
    np.testing.assert_allclose(y[0, :2].sum(-1), 1, rtol=1e-5)
    assert np.all(np.isnan(y[0, 2:]))  # masked steps: 0 / 0, as in Keras


def test_tf_keras_2_add_metric_in_a_layer_and_on_a_model():
    """tf.keras 2's training guide: a layer's ``self.add_metric(K.std(x), name=...)`` and
    ``model.add_metric(tensor, name=...)``: the mean over each epoch's batches is logged."""

    class MetricLoggingLayer(layers.Layer):
        def call(self, inputs):
            self.add_metric(keras.backend.std(inputs), name="std_of_activation", aggregation="mean")
            return inputs

    rng = np.random.default_rng(0)
    x = rng.random((64, 8), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    inputs = keras.Input(shape=(8,))
    hidden = layers.Dense(4, activation="relu")(inputs)
    model = keras.Model(inputs, layers.Dense(3)(MetricLoggingLayer()(hidden)))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    features = keras.Model(inputs, hidden).predict(x, verbose=0)
    expected = np.mean([np.std(features[i:i + 16]) for i in range(0, 64, 16)])
    assert logs["std_of_activation"] == pytest.approx(expected, rel=1e-5)
    assert sorted(model.fit(x, y, batch_size=16, verbose=0).history) == ["loss", "std_of_activation"]

    inputs = keras.Input(shape=(8,))
    x1 = layers.Dense(4, activation="relu")(inputs)
    model = keras.Model(inputs, layers.Dense(3)(x1))
    model.add_metric(keras.backend.std(x1), name="std_of_x1", aggregation="mean")
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logs = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert logs["std_of_x1"] == pytest.approx(float(np.std(keras.Model(inputs, x1).predict(x, verbose=0))), rel=1e-5)
    weights = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    with_metric = model.get_weights()
    plain = keras.Model(inputs, model.output)  # the same layers, without the metric: it trains nothing
    plain.set_weights(weights)
    plain.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert not np.array_equal(with_metric[0], weights[0])
    for a, b in zip(with_metric, plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="give the metric a name"):
        model.add_metric(keras.backend.std(x1))
    assert model.predict(x, verbose=0).shape == (64, 3)


class StackFeatures(layers.Layer):
    """A layer called on a dict of features (keras.io's structured-data examples)."""

    def call(self, inputs):
        return keras.ops.stack([inputs[k] for k in sorted(inputs)], axis=1) * 2.0


def test_custom_layer_called_on_a_dict(tmp_path):
    inputs = {"b": keras.Input(shape=(), name="b"), "a": keras.Input(shape=(), name="a")}
    features = StackFeatures()(inputs)
    assert features.shape == (None, 2)
    model = keras.Model(inputs, layers.Dense(1)(features))
    data = {"a": np.arange(4, dtype=np.float32), "b": np.ones(4, np.float32)}
    dense = model.layers[-1]
    expected = np.stack([data["a"], data["b"]], axis=1) * 2.0 @ dense.kernel + dense.bias
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-6)
    np.testing.assert_array_equal(StackFeatures()(data), np.stack([data["a"], data["b"]], axis=1) * 2.0)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, np.ones((4, 1), np.float32), verbose=0)
    model.save(tmp_path / "dict.keras")
    loaded = keras.models.load_model(tmp_path / "dict.keras", custom_objects={"StackFeatures": StackFeatures})
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


class _Auxiliary(layers.Layer):  # a Router's load-balancing loss (keras.io's Switch Transformer)
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        h = self.dense(x)
        self.add_loss(5.0 * keras.ops.mean(keras.ops.square(h)))
        return h


class _HoldsAuxiliary(layers.Layer):
    def __init__(self):
        super().__init__()
        self.inner = _Auxiliary()
        self.out = layers.Dense(3)

    def call(self, x):
        return self.out(self.inner(x))


class _AddsItself(layers.Layer):  # the same computation, its add_loss in the layer itself
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)
        self.out = layers.Dense(3)

    def call(self, x):
        h = self.dense(x)
        self.add_loss(5.0 * keras.ops.mean(keras.ops.square(h)))
        return self.out(h)


def test_add_loss_of_a_layer_held_by_a_custom_layer_counts_as_keras_collects_it():
    # Keras's `losses` collects the terms of nested layers: the model's losses, evaluate, fit's
    # reported loss, and a GradientTape's gradient (only with sum(model.losses) added) are those of
    # the same computation with the add_loss in the outer layer itself
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 4), dtype=np.float32), np.ones((8, 3), np.float32)

    def model(layer_class):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,))
        return keras.Model(inputs, layer_class()(inputs))

    reference, nested = model(_AddsItself), model(_HoldsAuxiliary)
    nested.set_weights(reference.get_weights())
    for with_losses in (False, True):
        grads = []
        for m in (reference, nested):
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.ops.square(m(x) - y))
                if with_losses:
                    loss = loss + keras.ops.sum(m.losses)
            assert len(m.losses) == 1
            grads.append(tape.gradient(loss, m.trainable_weights))
        for a, b in zip(*grads):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    nested(x)
    assert [float(v) for v in nested.losses] == pytest.approx([float(v) for v in (reference(x), reference.losses)[1]])
    for m in (reference, nested):
        m.compile(keras.optimizers.SGD(0.1), "mse")
    assert nested.evaluate(x, y, verbose=0) == pytest.approx(reference.evaluate(x, y, verbose=0), rel=1e-6)
    histories = [m.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"] for m in (reference, nested)]
    assert histories[1] == pytest.approx(histories[0], rel=1e-6)


def test_a_model_adds_weights():
    # a subclassed Model is a Layer: add_weight (keras.io's decision forest, Keras 3), with its
    # regularizer and constraint
    class Forest(keras.Model):
        def __init__(self):
            super().__init__()
            self.pi = self.add_weight(shape=[4, 2], initializer=keras.initializers.Constant(-0.5),
                                      regularizer=keras.regularizers.L2(0.5), constraint=keras.constraints.NonNeg())
            self.decision = layers.Dense(4, activation="softmax")

        def call(self, x):
            return keras.ops.matmul(self.decision(x), keras.activations.softmax(self.pi))

    forest = Forest()
    assert forest(np.ones((3, 5), np.float32)).shape == (3, 2)
    assert [w.shape for w in forest.trainable_weights] == [(4, 2), (5, 4), (4,)]
    assert [float(v) for v in forest.losses] == pytest.approx([0.5 * float((forest.pi.numpy() ** 2).sum())])
    forest.compile("sgd", "mse")
    before = forest.pi.numpy()
    forest.fit(np.ones((8, 5), np.float32), np.zeros((8, 2)), epochs=2, verbose=0)
    assert not np.array_equal(forest.pi.numpy(), before)
    assert (forest.pi.numpy() >= 0).all()  # (its constraint applied after each update: it started at -0.5)
    # a Variable a layer holds, listed by its array: its constraint too, in fit and in a custom loop
    clip = lambda w: np.clip(w, 0.0, 0.8)  # noqa: E731

    class Held(layers.Layer):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable(np.full(3, 0.7, np.float32), constraint=clip)

        def call(self, x):
            return x * self.scale

    inputs = keras.Input((3,))
    model = keras.Model(inputs, Held()(inputs))
    model.compile(keras.optimizers.SGD(1.0), "mse")
    model.fit(np.ones((4, 3), np.float32), np.full((4, 3), 5.0, np.float32), epochs=2, verbose=0)
    np.testing.assert_allclose(model.layers[-1].scale.numpy(), 0.8)


def test_a_call_adding_into_batch_sized_zeros_runs_with_augmented_assignment():
    # keras.io's decision forest: outputs = ops.zeros([ops.shape(x)[0], n]); outputs += tree(x)
    class Forest(keras.Model):
        def __init__(self):
            super().__init__()
            self.trees = [layers.Dense(2) for _ in range(3)]

        def call(self, inputs):
            outputs = keras.ops.zeros([keras.ops.shape(inputs)[0], 2])
            for tree in self.trees:
                outputs += tree(inputs)
            return outputs / len(self.trees)

    x = np.random.default_rng(0).random((4, 5), dtype=np.float32)
    forest = Forest()
    expected = sum(x @ t.kernel + t.bias for t in (forest(x), forest)[1].trees) / 3
    np.testing.assert_allclose(forest(x), expected, rtol=1e-6)
    assert forest(keras.Input((5,))).shape == (None, 2)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(forest(x))
    grads = tape.gradient(loss, forest.trainable_weights)
    np.testing.assert_allclose(grads[0], np.tile(x.sum(0)[:, None], (1, 2)) / 3, rtol=1e-5)


def test_a_subclassed_model_indexing_with_its_integer_input():
    # keras.io's GNN node classification and GAT: call() gathers rows by its integer input; Keras runs
    # call on the data, so the ids stay integers (fastnn traces them as integer Inputs)
    table = np.random.default_rng(0).random((50, 4), dtype=np.float32)

    class Nodes(keras.Model):
        def __init__(self):
            super().__init__()
            self.table = tf.constant(table)
            self.dense = layers.Dense(3)

        def call(self, ids):
            return tf.gather(self.dense(self.table), ids)

    model = Nodes()
    out = model(np.array([1, 10, 20]))
    np.testing.assert_allclose(out, (table @ model.dense.kernel + model.dense.bias)[[1, 10, 20]], rtol=1e-6)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(np.arange(50), np.arange(50) % 3, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]

    class Messages(keras.Model):  # nodes (N, F) and edges (E, 2): inputs of different lengths
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, inputs):
            nodes, edges = inputs
            sent = tf.gather(self.dense(nodes), edges[:, 1])
            return tf.math.unsorted_segment_sum(sent, edges[:, 0], num_segments=tf.shape(nodes)[0])

    nodes = table[:5]
    edges = np.array([[0, 1], [1, 0], [1, 2], [2, 3], [3, 4], [4, 0], [4, 3]])
    messages = Messages()
    got = messages([nodes, edges])
    h = nodes @ messages.dense.kernel + messages.dense.bias
    expected = np.zeros((5, 3), np.float32)
    np.add.at(expected, edges[:, 0], h[edges[:, 1]])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


class _Penalized(layers.Layer):
    def call(self, x):
        self.add_loss(keras.ops.sum(x * x))
        return x


class _PenalizedTwice(layers.Layer):  # (a custom layer calling an add_loss layer twice)
    def __init__(self):
        super().__init__()
        self.penalized = _Penalized()

    def call(self, x):
        return self.penalized(self.penalized(x) * 2.0)


def test_a_nested_add_loss_layer_called_twice_adds_both_terms():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    inputs = keras.Input((3,))
    model = keras.Model(inputs, _PenalizedTwice()(inputs))
    expected = float((x * x).sum() + (4 * x * x).sum())
    model(x)
    assert sum(float(v) for v in model.losses) == pytest.approx(expected, rel=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(x)
        model(x)
        total = sum(model.losses)
    assert float(total) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(tape.gradient(total, x), 2 * x + 8 * x, rtol=1e-5)


def test_add_weight_takes_tf_keras_2_and_keras_3_positional_orders():
    class Both(layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight("a", (3,), "ones")  # (name first: tf.keras 2 and fastnn)
            self.b = self.add_weight((3,), "zeros", name="b")  # (Keras 3: shape, initializer, ...)
            self.c = self.add_weight(shape=(3,), initializer="ones", aggregation="mean", autocast=False)
            self.d = self.add_weight("d", (3,), "float32", "zeros", trainable=None)  # (tf.keras 2: name, shape, dtype)

        def call(self, x):
            return x * self.a + self.b + self.c

    layer = Both()
    np.testing.assert_array_equal(layer(np.ones((2, 3), np.float32)), np.full((2, 3), 2.0))
    assert [w.name for w in layer.weights][:2] == ["a", "b"]
    assert layer.d.dtype == np.float32 and not layer.d.any() and len(layer.trainable_weights) == 4
    with pytest.raises(TypeError, match="multiple values for argument 'shape'"):
        layer.add_weight((2,), shape=(2,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'initialiser'"):
        layer.add_weight(shape=(2,), initialiser="zeros")


@pytest.mark.parametrize("inner", ["dense", "sequential", "activity_regularization"])
def test_activity_penalty_of_a_layer_inside_a_custom_layer_counts(inner):
    # Keras adds an activity regularizer's penalty with add_loss whoever calls the layer: the same
    # losses, evaluate, fit and tape gradients as the Dense directly in the model
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)

    class Holder(layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = {"dense": lambda: layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.1)),
                          "sequential": lambda: keras.Sequential(
                              [layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.1))]),
                          "activity_regularization": lambda: keras.Sequential(
                              [layers.Dense(3), layers.ActivityRegularization(l2=0.1)])}[inner]()

        def call(self, x):
            return self.inner(x)

    def model(make):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,))
        return keras.Model(inputs, make()(inputs))

    direct = model(lambda: layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.1)))
    nested = model(Holder)
    nested.set_weights(direct.get_weights())
    results = []
    for m in (direct, nested):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((m(x) - y) ** 2) + tf.add_n(m.losses)
        results.append([float(loss)] + [np.asarray(g) for g in tape.gradient(loss, m.trainable_weights)])
        m.compile(keras.optimizers.SGD(0.1), "mse")
        results[-1] += [m.evaluate(x, y, verbose=0)] + m.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"]
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_models_first_built_on_integer_data_still_take_float_data():
    # a subclassed model fit on uint8 images, then called on float images; a Sequential first wired to an
    # integer Input, then called on floats: Keras runs call on the data, nothing is cast to the integers
    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1, kernel_initializer="ones", use_bias=False)

        def call(self, x):
            return self.dense(tf.cast(x, tf.float32) / 255.0)

    model = Scaled()
    model(np.full((2, 4), 100, np.uint8))
    np.testing.assert_allclose(model(np.full((1, 4), 127.6, np.float32)), [[4 * 127.6 / 255]], rtol=1e-6)
    np.testing.assert_allclose(model.predict(np.full((1, 4), 0.5, np.float32), verbose=0), [[2 / 255]], rtol=1e-6)

    head = keras.Sequential([layers.Dense(1, kernel_initializer="ones", use_bias=False)])
    ids = keras.Input((3,), dtype="int32")
    keras.Model(ids, head(ids))
    np.testing.assert_allclose(head(np.array([[0.5, 0.25, 0.25]], np.float32)), [[1.0]])


def test_a_custom_layers_losses_list_each_call_of_a_nested_add_loss_layer():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    layer = _PenalizedTwice()
    layer(x)
    assert [float(v) for v in layer.losses] == pytest.approx([(x * x).sum(), 4 * (x * x).sum()], rel=1e-6)
