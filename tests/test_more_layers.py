"""RepeatVector, Permute, Maximum/Minimum, PReLU, Identity, Rescaling, Normalization and
LayerNormalization: values against NumPy, gradients against finite differences, Keras's parameter
counts and configs."""

import numpy as np
import pytest

import fastnn
from fastnn.layers import (LSTM, Dense, Identity, Input, LayerNormalization, Maximum, Minimum, Normalization, Permute,
                           PReLU, RepeatVector, Rescaling, TimeDistributed, maximum)
from fastnn.models import Model, Sequential, load_model
from helpers import layer_gradcheck

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("make,shape", [
    (lambda: RepeatVector(3), (4, 5)),
    (lambda: Permute((2, 1)), (3, 4, 5)),
    (lambda: Permute((3, 1, 2)), (2, 3, 4, 5)),
    (lambda: PReLU(alpha_initializer="random_normal"), (4, 3, 2)),
    (lambda: PReLU(alpha_initializer="random_normal", shared_axes=[1]), (4, 3, 2)),
    (lambda: Identity(), (3, 2)),
    (lambda: Rescaling(1 / 255, offset=-1), (3, 4)),
    (lambda: LayerNormalization(gamma_initializer="random_normal", beta_initializer="random_normal"), (4, 5)),
    (lambda: LayerNormalization(center=False), (2, 3, 6)),
])
def test_gradients(float64_numpy, make, shape):
    x = RNG.standard_normal(shape)
    x[np.abs(x) < 0.05] = 0.3  # away from PReLU's kink
    layer_gradcheck(make(), x)


@pytest.mark.parametrize("cls", [Maximum, Minimum])
def test_maximum_minimum(float64_numpy, cls):
    a, b, c = (RNG.standard_normal((4, 3)) for _ in range(3))
    out = cls()([a, b, c])
    np.testing.assert_array_equal(out, (np.maximum if cls is Maximum else np.minimum).reduce([a, b, c]))
    layer_gradcheck(cls(), [a, b, c])
    tie = cls()
    tie([np.ones((1, 2)), np.ones((1, 2))])
    np.testing.assert_array_equal(tie.backward(np.ones((1, 2))), [np.ones((1, 2)), np.zeros((1, 2))])  # the first


def test_values_and_shapes():
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(RepeatVector(4)(x), np.repeat(x[:, None], 4, axis=1))
    y = RNG.standard_normal((2, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(Permute((2, 1))(y), y.transpose(0, 2, 1))
    assert Permute((2, 1))(Input(shape=(3, 5))).shape == (None, 5, 3)
    p = PReLU(alpha_initializer=fastnn.initializers.Constant(0.25))
    np.testing.assert_allclose(p(y), np.where(y > 0, y, 0.25 * y))
    assert p.get_weights()[0].shape == (3, 5) and PReLU(shared_axes=[1, 2])(Input(shape=(6, 6, 4))).shape == \
        (None, 6, 6, 4)
    np.testing.assert_allclose(Rescaling(2.0, 1.0)(x), 2 * x + 1)
    np.testing.assert_array_equal(maximum([x, -x]), np.abs(x))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        RepeatVector(0)
    with pytest.raises(ValueError, match="dims must be a permutation of 1 .. 2"):
        Permute((0, 1))


def test_normalization_adapt_and_invert(tmp_path):
    data = RNG.standard_normal((200, 9)).astype(np.float32) * np.arange(1, 10) + np.arange(9)
    norm = Normalization()
    with pytest.raises(ValueError, match="call adapt\\(data\\) first"):
        norm(data)
    norm.adapt(data)
    out = norm(data)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-4)
    np.testing.assert_allclose(Normalization(mean=data.mean(0), variance=data.var(0), invert=True)(out), data,
                               rtol=1e-4, atol=1e-4)
    # Keras's regression tutorial: the normalizer as the model's first layer, 2 · 9 + 1 parameters
    model = Sequential([Input(shape=(9,)), norm, Dense(64, activation="relu"), Dense(1)])
    assert norm.count_params() == 19 and model.count_params() == 19 + 640 + 65
    model.compile("adam", "mse")
    target = data @ RNG.standard_normal((9, 1)).astype(np.float32)
    model.fit(data, target, epochs=2, verbose=0)
    model.save(tmp_path / "m.fastnn")
    again = load_model(tmp_path / "m.fastnn")  # the statistics travel as the layer's weights
    np.testing.assert_allclose(again.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    given = Sequential([Input(shape=(9,)), Normalization(mean=data.mean(0), variance=data.var(0))])
    given.save(tmp_path / "given.fastnn")
    reloaded = load_model(tmp_path / "given.fastnn")
    np.testing.assert_allclose(reloaded.predict(data, verbose=0), out, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="pass both mean and variance"):
        Normalization(mean=[0.0])


def test_normalization_weights_have_keras_shapes():
    # Keras keeps (features,) weights and broadcast-shaped mean/variance attributes: the regression
    # tutorial prints normalizer.mean.numpy() as [[...]]; weights trained in Keras load unchanged
    sequences = RNG.standard_normal((20, 4, 3)).astype(np.float32)
    norm = Normalization()
    norm.adapt(sequences)
    assert [w.shape for w in norm.get_weights()] == [(3,), (3,), ()]
    assert norm.mean.shape == norm.variance.shape == (1, 1, 3)
    np.testing.assert_allclose(norm.mean.numpy().ravel(), sequences.reshape(-1, 3).mean(0), rtol=1e-5)
    norm.set_weights([np.array([1.0, 2.0, 3.0]), np.array([4.0, 4.0, 4.0]), np.array(20.0)])
    assert norm.mean.numpy().tolist() == [[[1.0, 2.0, 3.0]]]  # (a view of the weight)
    np.testing.assert_allclose(norm(sequences), (sequences - [1.0, 2.0, 3.0]) / 2.0, rtol=1e-6)
    rows = Normalization(mean=[1.0, 2.0], variance=[1.0, 4.0])
    rows.build((None, 2))
    assert rows.mean.shape == (1, 2) and [w.shape for w in rows.get_weights()] == [(2,), (2,), ()]


def test_normalization_adapts_on_a_list_of_batches():
    # Keras 3: a list of batch arrays is an iterable of batches, the same statistics as their join,
    # and the layer stays built for (N, F) inputs (stacking them gave (1, N, F) outputs)
    data = RNG.standard_normal((30, 4)).astype(np.float32) * 3 + 1
    joined, listed, limited = Normalization(), Normalization(), Normalization()
    joined.adapt(data)
    listed.adapt([data[:8], data[8:16], data[16:]])
    limited.adapt((data[:8], data[8:16], data[16:]), steps=2)
    assert listed(data).shape == (30, 4) and listed.mean.shape == (1, 4)
    np.testing.assert_allclose(listed(data), joined(data), rtol=1e-6)
    np.testing.assert_allclose(limited.mean.numpy().ravel(), data[:16].mean(0), rtol=1e-5)
    rows = Normalization()  # a list of rows is still the rows of one array
    rows.adapt([list(row) for row in data])
    np.testing.assert_allclose(rows(data), joined(data), rtol=1e-6)


def test_lstm_autoencoder_with_repeat_vector():
    # the notes' sequence autoencoder: LSTM encoder, RepeatVector, LSTM decoder, TimeDistributed(Dense)
    fastnn.set_random_seed(0)
    x = np.sin(np.linspace(0, 3, 10))[None, :, None] * RNG.uniform(0.5, 1.5, (32, 1, 1))
    model = Sequential([Input(shape=(10, 1)), LSTM(16), RepeatVector(10), LSTM(16, return_sequences=True),
                        TimeDistributed(Dense(1))])
    model.compile("adam", "mse")
    losses = model.fit(x.astype(np.float32), x.astype(np.float32), epochs=20, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_model_with_the_new_layers_round_trips(tmp_path):
    inp = Input(shape=(4, 3))
    a = Permute((2, 1))(inp)
    b = PReLU()(Dense(4)(Permute((2, 1))(Identity()(inp))))
    model = Model(inp, Minimum()([a, Rescaling(0.5)(b)]))
    model.save(tmp_path / "m.fastnn")
    x = RNG.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_model(tmp_path / "m.fastnn").predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_normalization_values():
    x = RNG.standard_normal((4, 3, 8)).astype(np.float32) * 3 + 1
    layer = LayerNormalization(epsilon=1e-3)
    y = layer(x)
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 16 and [w.shape for w in layer.get_weights()] == [(8,), (8,)]
    with pytest.raises(ValueError, match=r"`axis` must name axes of the input, in \[-3, 3\)"):
        LayerNormalization(axis=3)(x)


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
def test_merge_layers_broadcast_as_keras_3(merge):
    # Keras 3: a lower-rank input gains axes after the batch axis and axes of 1 stretch, so the
    # squeeze-and-excitation block's Multiply()([x (N, H, W, C), se (N, 1, 1, C)]) works
    make = getattr(fastnn.layers, merge)
    x = RNG.standard_normal((2, 3, 4, 5))
    for other in (RNG.standard_normal((2, 1, 1, 5)), RNG.standard_normal((2, 5)), RNG.standard_normal((2, 4, 1))):
        layer_gradcheck(make(), [x.copy(), other.copy()])
    se = Input((1, 1, 5))
    image = Input((3, 4, 5))
    assert make()([image, se]).shape == (None, 3, 4, 5) and make()([image, Input((5,))]).shape == (None, 3, 4, 5)
    with pytest.raises(ValueError, match="shapes broadcast"):
        make()([image, Input((1, 2, 5))])
    with pytest.raises(ValueError, match="different batch sizes"):
        make()([np.ones((2, 3)), np.ones((3, 3))])
    # (2, 3) + (2,) in Keras: (2, 3) + (2, 1) after the expansion, not NumPy's trailing alignment
    expanded = make()([np.arange(6.0).reshape(2, 3), np.array([10.0, 20.0])]).numpy()
    names = {"Add": np.add, "Subtract": np.subtract, "Multiply": np.multiply, "Maximum": np.maximum,
             "Minimum": np.minimum, "Average": lambda a, b: (a + b) / 2}
    np.testing.assert_allclose(expanded, names[merge](np.arange(6.0).reshape(2, 3), np.array([[10.0], [20.0]])))


def test_normalization_over_several_kept_axes(tmp_path):
    # Keras 3's axis=(1, 2): a mean and variance per (row, column), over the batch and channels
    x = RNG.random((40, 4, 3, 2)).astype(np.float32) * np.arange(1, 13).reshape(1, 4, 3, 1)
    norm = Normalization(axis=(1, 2))
    norm.adapt(x)
    assert [w.shape for w in norm.get_weights()] == [(4, 3), (4, 3), ()] and norm.mean.shape == (1, 4, 3, 1)
    np.testing.assert_allclose(norm.mean.numpy()[0, ..., 0], x.mean(axis=(0, 3)), rtol=1e-5)
    out = norm(x)
    np.testing.assert_allclose(out.mean(axis=(0, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 3)), 1, rtol=1e-3)
    model = Sequential([Input((4, 3, 2)), norm])
    model.save(tmp_path / "n.keras")
    np.testing.assert_allclose(load_model(tmp_path / "n.keras").predict(x, verbose=0), out, rtol=1e-6)
    with pytest.raises(ValueError, match="other than the batch axis"):
        Normalization(axis=(0, 1)).adapt(x)


def test_flatten_channels_first_gives_the_channels_last_order():
    # Keras 3: the channels moved last before flattening, so a Dense after it takes the same weights
    x = RNG.standard_normal((2, 3, 4, 5))
    flat = fastnn.layers.Flatten(data_format="channels_first")
    np.testing.assert_array_equal(flat(x.astype(np.float32)), np.moveaxis(x, 1, -1).reshape(2, -1).astype(np.float32))
    layer_gradcheck(flat, x)
    assert flat.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    assert fastnn.layers.Flatten.from_config(flat.get_config()).data_format == "channels_first"
