"""Convolution and pooling layers (Conv1D/2D/3D, Conv*DTranspose, MaxPooling*D, AveragePooling*D, Global*Pooling*D):
Keras's arguments, defaults, layouts and parameter counts; float64 gradients against central
finite differences on the NumPy backend; the C++ layer against the same layer on the reference
backend with the weights copied over; a small CNN that trains, saves and loads."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.layers import (Activation, AveragePooling1D, AveragePooling2D, AveragePooling3D, Concatenate, Conv1D,
                           Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose, Dense, Flatten,
                           GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                           Input, MaxPooling1D, MaxPooling2D, MaxPooling3D, Reshape)
from fastnn.models import Model, Sequential

from helpers import assert_layer_matches_reference, assert_learns_and_round_trips, layer_gradcheck


@pytest.fixture(autouse=True)
def _restore_settings():
    backend, threads = fastnn.get_backend(), fastnn.get_num_threads()
    yield
    fastnn.set_backend(backend)
    fastnn.set_num_threads(threads)
    fastnn.utils.set_floatx("float32")



# ---- Keras's arguments, defaults and layouts ---------------------------------------------------


def test_conv2d_keras_layout_count_and_defaults():
    layer = Conv2D(32, (3, 3), padding="same")
    layer.build((None, 32, 32, 3))
    assert layer.kernel.shape == (3, 3, 3, 32) and layer.bias.shape == (32,)
    assert layer.count_params() == 896  # Keras's summary for Conv2D(32, (3, 3), padding='same') on RGB
    assert layer.weight_names == ["kernel", "bias"]
    assert layer.strides == (1, 1) and layer.dilation_rate == (1, 1) and layer.padding == "same"
    assert np.all(layer.bias == 0)
    limit = np.sqrt(6 / (3 * 3 * 3 + 3 * 3 * 32))  # glorot_uniform over the receptive field
    assert 0.9 * limit < np.abs(layer.kernel).max() <= limit
    assert layer.compute_output_shape((None, 32, 32, 3)) == (None, 32, 32, 32)
    assert Conv2D(8, 3, strides=2).compute_output_shape((None, 28, 28, 1)) == (None, 13, 13, 8)
    assert Conv1D(4, 3, padding="causal", dilation_rate=2).compute_output_shape((None, 10, 2)) == (None, 10, 4)
    assert Conv3D(2, 2).compute_output_shape((None, 5, 5, 5, 1)) == (None, 4, 4, 4, 2)
    assert MaxPooling2D().compute_output_shape((None, 26, 26, 32)) == (None, 13, 13, 32)
    assert MaxPooling2D(padding="same").compute_output_shape((None, 11, 11, 4)) == (None, 6, 6, 4)
    assert AveragePooling1D(3, strides=1).compute_output_shape((None, 7, 2)) == (None, 5, 2)
    assert GlobalAveragePooling2D().compute_output_shape((None, 5, 5, 7)) == (None, 7)
    assert GlobalMaxPooling2D(keepdims=True).compute_output_shape((None, 5, 5, 7)) == (None, 1, 1, 7)
    # channels first (the Transformer timeseries classifier's GlobalAveragePooling1D over the last axis)
    assert GlobalAveragePooling1D(data_format="channels_first").compute_output_shape((None, 500, 1)) == (None, 500)
    assert GlobalMaxPooling2D(data_format="channels_first", keepdims=True).compute_output_shape(
        (None, 7, 5, 5)) == (None, 7, 1, 1)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_allclose(GlobalAveragePooling1D(data_format="channels_first")(x), x.mean(-1))


def test_conv_transpose_keras_layout_count_and_sizes():
    layer = Conv2DTranspose(32, 3)
    layer.build((None, 7, 7, 64))
    assert layer.kernel.shape == (3, 3, 32, 64) and layer.bias.shape == (32,)  # (KH, KW, filters, channels)
    assert layer.count_params() == 3 * 3 * 32 * 64 + 32
    assert layer.strides == (1, 1) and layer.padding == "valid" and layer.output_padding is None
    limit = np.sqrt(6 / (3 * 3 * 32 + 3 * 3 * 64))
    assert 0.9 * limit < np.abs(layer.kernel).max() <= limit
    # Keras's sizes: 'same' multiplies by the stride, 'valid' adds max(k - stride, 0)
    up = Conv2DTranspose(16, 5, strides=2, padding="same")
    assert up.compute_output_shape((None, 7, 7, 64)) == (None, 14, 14, 16)
    assert Conv2DTranspose(16, 3, strides=2).compute_output_shape((None, 7, 7, 64)) == (None, 15, 15, 16)
    assert Conv2DTranspose(1, 3, strides=2, output_padding=1).compute_output_shape((None, 7, 7, 4)) == (None, 16, 16, 1)
    assert Conv1DTranspose(2, 3, dilation_rate=2).compute_output_shape((None, 7, 4)) == (None, 11, 2)
    assert Conv3DTranspose(2, 2, strides=2).compute_output_shape((None, 2, 3, 4, 1)) == (None, 4, 6, 8, 2)
    assert up.compute_output_shape((None, None, 5, 2)) == (None, None, 10, 16)
    x = np.zeros((2, 7, 7, 64), np.float32)
    assert layer(x).shape == (2, 9, 9, 32)


@pytest.mark.parametrize("make,match", [
    (lambda: Conv2D(0, 3), r"expected a positive integer. Received: filters=0"),
    (lambda: Conv2D(8, 0), r"`kernel_size` argument must be a tuple of 2 positive integers"),
    (lambda: Conv2D(8, (3, 3, 3)), r"`kernel_size` argument must be a tuple of 2 integers"),
    (lambda: Conv2D(8, 3, strides=-1), r"`strides` argument must be a tuple of 2 positive"),
    (lambda: Conv2D(8, 3, dilation_rate=0), r"`dilation_rate` argument must be a tuple of 2 positive"),
    (lambda: Conv2D(8, 3, strides=2, dilation_rate=2), r"`strides > 1` not supported in conjunction with"),
    (lambda: Conv2D(8, 3, padding="causal"), r"`padding` argument must be one of 'valid', 'same'"),
    (lambda: Conv2D(8, 3, data_format="channels_first"), r"only data_format='channels_last'"),
    (lambda: Conv2D(8, 3, groups=2), r"grouped convolution is not supported"),
    (lambda: MaxPooling2D(0), r"`pool_size` argument must be a tuple of 2 positive"),
    (lambda: AveragePooling2D(2, strides=(1, 0)), r"`strides` argument must be a tuple of 2 positive"),
    (lambda: MaxPooling1D(2, padding="causal"), r"`padding` argument must be one of 'valid', 'same'"),
    (lambda: Conv2DTranspose(8, 3, strides=2, output_padding=2), r"`output_padding` must be lower than the stride"),
    (lambda: Conv2DTranspose(8, 3, output_padding=1), r"`output_padding` must be lower than the stride"),
    (lambda: Conv2DTranspose(8, 3, strides=2, output_padding=(0, -1)),
     r"`output_padding` argument must be a tuple of 2 non-negative integers"),
    (lambda: Conv1DTranspose(8, 3, padding="causal"), r"`padding` argument must be one of 'valid', 'same'"),
    (lambda: Conv2DTranspose(8, 3, strides=2, dilation_rate=2), r"`strides > 1` not supported in conjunction with"),
])
def test_bad_arguments_are_rejected_with_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_output_size_zero_and_channel_mismatch():
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        Conv2D(4, 5).build((None, 4, 4, 1))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        MaxPooling2D(3).compute_output_shape((None, 2, 2, 1))
    layer = Conv2D(4, 3)
    layer(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 to have value 3, found 2"):
        layer(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        layer(np.zeros((5, 5, 3), np.float32))


def test_config_and_weights_round_trip():
    layer = Conv2D(6, (3, 2), strides=(1, 2), padding="same", activation="relu", use_bias=False, name="c")
    layer.build((None, 9, 8, 2))
    clone = Conv2D.from_config(layer.get_config())
    clone.build((None, 9, 8, 2))
    assert clone.get_config() == layer.get_config()
    clone.set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, 9, 8, 2), dtype=np.float32)
    np.testing.assert_array_equal(clone(x), layer(x))
    pool = MaxPooling2D((3, 2), strides=1, padding="same", name="p")
    assert MaxPooling2D.from_config(pool.get_config()).get_config() == pool.get_config()
    up = Conv2DTranspose(3, (3, 2), strides=(2, 3), padding="same", output_padding=(1, 2), activation="tanh", name="t")
    up.build((None, 4, 5, 2))
    config = up.get_config()
    assert config["output_padding"] == (1, 2) and "groups" not in config  # (tuples, as Keras 3)
    clone = Conv2DTranspose.from_config(config)
    clone.build((None, 4, 5, 2))
    assert clone.get_config() == config
    clone.set_weights(up.get_weights())
    x = np.random.default_rng(1).random((2, 4, 5, 2), dtype=np.float32)
    np.testing.assert_array_equal(clone(x), up(x))
    assert up(x).shape == (2, 8, 14, 3)  # (4 - 1)·2 + 3 - 2·1 + 1, (5 - 1)·3 + 2 - 2·1 + 2


# ---- Gradients (float64, NumPy backend) --------------------------------------------------------


@pytest.mark.parametrize("make,shape", [
    (lambda: Conv1D(3, 3, padding="causal", dilation_rate=2, activation="tanh"), (2, 7, 2)),
    (lambda: Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="tanh"), (2, 5, 4, 2)),
    (lambda: Conv2D(2, 2, use_bias=False), (1, 4, 4, 1)),
    (lambda: Conv3D(2, 2, activation="sigmoid"), (1, 3, 3, 3, 2)),
    (lambda: MaxPooling2D((2, 2), padding="same"), (2, 5, 4, 2)),
    (lambda: MaxPooling1D(3, strides=2), (2, 7, 2)),
    (lambda: MaxPooling3D(2), (1, 4, 4, 2, 2)),
    (lambda: AveragePooling2D(3, strides=2, padding="same"), (2, 5, 4, 2)),
    (lambda: AveragePooling3D((2, 1, 2)), (1, 3, 3, 4, 2)),
    (lambda: GlobalAveragePooling1D(), (2, 5, 3)),
    (lambda: GlobalMaxPooling2D(keepdims=True), (2, 3, 4, 3)),
    (lambda: GlobalAveragePooling1D(data_format="channels_first"), (2, 5, 3)),
    (lambda: GlobalMaxPooling2D(data_format="channels_first", keepdims=True), (2, 3, 4, 3)),
    (lambda: Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh"), (2, 3, 4, 2)),
    (lambda: Conv1DTranspose(2, 4, strides=3, output_padding=1, use_bias=False), (2, 4, 3)),
    (lambda: Conv3DTranspose(2, 2, strides=(1, 2, 1), activation="sigmoid"), (1, 2, 2, 3, 2)),
])
def test_layer_gradients(float64_numpy, make, shape):
    rng = np.random.default_rng(3)
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01  # distinct values: max is differentiable
    layer_gradcheck(make(), x)


# ---- C++ layer against the reference layer ------------------------------------------------------


@pytest.mark.parametrize("make,shape", [
    (lambda: Conv2D(16, 3, activation="relu"), (3, 12, 11, 1)),
    (lambda: Conv2D(8, (3, 3), strides=2, padding="same", activation="elu"), (3, 9, 9, 3)),
    (lambda: Conv1D(5, 4, padding="causal", activation="tanh"), (3, 11, 4)),
    (lambda: Conv3D(4, (2, 2, 2)), (2, 5, 5, 5, 1)),
    (lambda: MaxPooling2D(2), (3, 8, 7, 5)),
    (lambda: AveragePooling2D(2, padding="same"), (3, 7, 7, 5)),
    (lambda: GlobalMaxPooling1D(), (3, 6, 5)),
    (lambda: Conv2DTranspose(8, 5, strides=2, padding="same", activation="relu"), (3, 7, 7, 16)),
    (lambda: Conv1DTranspose(4, 3, padding="same", dilation_rate=2, activation="elu"), (3, 9, 5)),
])
def test_cpp_layer_matches_the_reference_layer(make, shape):
    rng = np.random.default_rng(4)
    assert_layer_matches_reference(make(), rng.standard_normal(shape).astype(np.float32), rng)


# ---- A small CNN: trains, saves and loads -----------------------------------------------------


def test_small_cnn_learns_and_round_trips(tmp_path):
    rng = np.random.default_rng(5)
    n = 256
    x = rng.random((n, 12, 12, 1), dtype=np.float32) * 0.2
    y = rng.integers(0, 2, n)
    x[y == 1, 2:5, 2:5, 0] += 1.0  # class 1: a bright square top-left; class 0: bottom-right
    x[y == 0, 7:10, 7:10, 0] += 1.0
    fastnn.utils.set_random_seed(0)
    model = Sequential([Input(shape=(12, 12, 1)), Conv2D(4, 3, activation="relu"), MaxPooling2D(),
                        Conv2D(4, 3, padding="same", activation="relu"), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert_learns_and_round_trips(model, x, y, tmp_path / "cnn.safetensors", epochs=15, min_accuracy=0.9)


def test_conv_autoencoder_learns_and_round_trips(tmp_path):
    # the notes' convolutional autoencoder, shrunk: Conv2D strides 2 down, Conv2DTranspose back up
    rng = np.random.default_rng(6)
    n = 128
    x = np.zeros((n, 8, 8, 1), np.float32)
    for i, (r, c) in enumerate(rng.integers(0, 5, (n, 2))):
        x[i, r:r + 4, c:c + 4, 0] = 1.0  # a bright 4×4 square somewhere
    fastnn.utils.set_random_seed(0)
    inp = Input(shape=(8, 8, 1))
    h = Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    encoder = Model(inp, Dense(8, activation="relu")(Flatten()(h)), name="encoder")
    code = Input(shape=(8,))
    h = Reshape((4, 4, 8))(Dense(4 * 4 * 8, activation="relu")(code))
    h = Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(h)
    decoder = Model(code, Conv2DTranspose(1, 3, padding="same", activation="sigmoid")(h), name="decoder")
    model = Model(inp, decoder(encoder(inp)), name="autoencoder")  # nested, as the notes build it
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert_learns_and_round_trips(model, x, x, tmp_path / "autoencoder.safetensors", epochs=40, batch_size=16)
    assert model.predict(x[:1], verbose=0).shape == (1, 8, 8, 1)


def test_first_conv_layer_computes_no_input_gradient():
    model = Sequential([Input(shape=(8, 8, 1)), Conv2D(2, 3), Flatten(), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((4, 8, 8, 1), np.float32), np.zeros((4, 1), np.float32), epochs=1, verbose=0)
    assert model.layers[0]._need_input_grad is False


def _cnn(seed, break_fusion):
    """Conv(relu) -> MaxPool twice, optionally with an identity Activation between each pair."""
    fastnn.utils.set_random_seed(seed)
    def gap():
        return [Activation("linear")] if break_fusion else []
    return Sequential([Input(shape=(11, 10, 2)), Conv2D(5, 3, activation="relu"), *gap(), MaxPooling2D(),
                       Conv2D(6, 2, padding="same", activation="elu"), *gap(),
                       MaxPooling2D(pool_size=2, strides=1, padding="same"), Flatten(), Dense(3)])


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_conv_maxpool_pairs_are_fused_in_models_and_match_the_layers(backend):
    # A model runs Conv -> MaxPooling (the pooling the only consumer) as one fused op; outputs and
    # every gradient equal those of the same layers run one by one (an identity in between).
    dtype = np.float64 if backend == "numpy" else np.float32
    if backend == "numpy":
        fastnn.utils.set_floatx("float64")
    try:
        with fastnn.backend(backend):
            rng = np.random.default_rng(3)
            x = rng.standard_normal((7, 11, 10, 2)).astype(dtype)
            y = rng.integers(0, 3, 7)
            fused, plain = _cnn(1, False), _cnn(1, True)
            for m in (fused, plain):
                m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
            assert len(fused._pool_fusion) == 2 and not plain._pool_fusion
            plain.set_weights(fused.get_weights())
            loss_f, out_f, grads_f = fused._gradients(x, y, None)
            loss_p, out_p, grads_p = plain._gradients(x, y, None)
            tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(out_f, out_p, **tol)
            assert len(grads_f) == len(grads_p) == 6
            for gf, gp in zip(grads_f, grads_p):
                np.testing.assert_allclose(gf, gp, **tol)
            np.testing.assert_allclose(fused.predict(x, verbose=0), plain.predict(x, verbose=0), **tol)
    finally:
        fastnn.utils.set_floatx("float32")


def test_conv_output_used_elsewhere_is_not_fused():
    inp = Input(shape=(8, 8, 1))
    c = Conv2D(2, 3, activation="relu")(inp)
    pooled = MaxPooling2D()(c)
    out = Dense(1)(Flatten()(Concatenate()([Flatten()(c), Flatten()(pooled)])))
    model = Model(inp, out)
    assert not model._pool_fusion
    avg = Sequential([Input(shape=(8, 8, 1)), Conv2D(2, 3), AveragePooling2D(), Flatten(), Dense(1)])
    assert not avg._pool_fusion


def test_assigning_activation_changes_what_the_layer_computes():
    # Keras reads `activation` at every call (Grad-CAM sets it to None to get logits)
    from fastnn import activations
    from fastnn.layers import Conv2D, DepthwiseConv2D

    x = -np.ones((1, 3, 3, 1), np.float32)
    for layer in (Conv2D(2, 1, activation="relu"), DepthwiseConv2D(1, activation="relu")):
        layer(x)
        layer.set_weights([np.ones_like(w) if i == 0 else np.zeros_like(w) for i, w in enumerate(layer.get_weights())])
        assert not np.asarray(layer(x)).any()  # relu of -1: 0
        layer.activation = activations.linear
        np.testing.assert_array_equal(np.asarray(layer(x)), -np.ones_like(np.asarray(layer(x))))
        layer.activation = None
        np.testing.assert_array_equal(np.asarray(layer(x)), -np.ones_like(np.asarray(layer(x))))
        layer.activation = "relu"
        assert not np.asarray(layer(x)).any()


def test_convolution_op_and_its_override():
    from fastnn.layers import Conv2D

    conv = Conv2D(2, 3, bias_initializer="ones")
    x = np.random.default_rng(0).random((1, 5, 5, 3)).astype(np.float32)
    y = np.asarray(conv(x))
    np.testing.assert_allclose(conv.convolution_op(x, conv.kernel) + 1.0, y, rtol=1e-6, atol=1e-6)

    class Standardized(Conv2D):  # keras.io's weight standardization: refused, not skipped
        def convolution_op(self, inputs, kernel):
            mean, var = np.mean(kernel, axis=(0, 1, 2)), np.var(kernel, axis=(0, 1, 2))
            return super().convolution_op(inputs, (kernel - mean) / np.sqrt(var + 1e-10))

    with pytest.raises(NotImplementedError, match="Standardized overrides convolution_op"):
        Standardized(2, 3)


def test_configs_hold_tuples_as_keras_3():
    # keras.io's ConvMixer picks layers by layer.get_config()["kernel_size"] == (5, 5)
    from fastnn.layers import Conv2D, Reshape, UpSampling2D, ZeroPadding2D

    conv = Conv2D(2, 5, strides=2)
    assert conv.get_config()["kernel_size"] == (5, 5) and conv.get_config()["strides"] == (2, 2)
    assert MaxPooling2D(3).get_config()["pool_size"] == (3, 3)
    assert UpSampling2D(2).get_config()["size"] == (2, 2) and Reshape((4, -1)).get_config()["target_shape"] == (4, -1)
    assert ZeroPadding2D(2).get_config()["padding"] == ((2, 2), (2, 2))
