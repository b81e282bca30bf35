"""UpSampling*D, ZeroPadding*D and Cropping*D: Keras's arguments, output shapes and configs, golden
values, backward as the exact adjoint of forward, bad arguments, and the upsampling autoencoder
of Keras's tutorials, which trains, saves and loads."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.layers import (Conv2D, Cropping1D, Cropping2D, Cropping3D, Input, MaxPooling2D, UpSampling1D,
                           UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from fastnn.models import Model

from helpers import assert_learns_and_round_trips, layer_gradcheck


def test_golden_values():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(UpSampling2D((2, 3))(x)[0, :, :, 0],
                                  [[0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 1, 1, 2, 2, 2],
                                   [3, 3, 3, 4, 4, 4, 5, 5, 5], [3, 3, 3, 4, 4, 4, 5, 5, 5]])
    np.testing.assert_array_equal(ZeroPadding2D(((1, 0), (2, 1)))(x)[0, :, :, 0],
                                  [[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 2, 0], [0, 0, 3, 4, 5, 0]])
    np.testing.assert_array_equal(Cropping2D(((1, 0), (0, 1)))(x)[0, :, :, 0], [[3, 4]])
    seq = np.array([[[1.0], [2.0]]], np.float32)
    np.testing.assert_array_equal(UpSampling1D(3)(seq)[0, :, 0], [1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(ZeroPadding1D((2, 1))(seq)[0, :, 0], [0, 0, 1, 2, 0])
    np.testing.assert_array_equal(Cropping1D((1, 0))(seq)[0, :, 0], [2])


@pytest.mark.parametrize("make,shape,out", [
    (lambda: UpSampling1D(), (None, 5, 3), (None, 10, 3)),
    (lambda: UpSampling2D(), (None, 7, 7, 8), (None, 14, 14, 8)),
    (lambda: UpSampling2D((2, 3)), (None, None, 4, 1), (None, None, 12, 1)),
    (lambda: UpSampling3D(), (None, 2, 3, 4, 1), (None, 4, 6, 8, 1)),
    (lambda: ZeroPadding1D(), (None, 5, 3), (None, 7, 3)),
    (lambda: ZeroPadding2D(), (None, 28, 28, 1), (None, 30, 30, 1)),
    (lambda: ZeroPadding2D((1, 2)), (None, 4, 4, 1), (None, 6, 8, 1)),
    (lambda: ZeroPadding3D(2), (None, 2, 2, 2, 3), (None, 6, 6, 6, 3)),
    (lambda: Cropping1D(), (None, 5, 3), (None, 3, 3)),
    (lambda: Cropping2D(((2, 2), (4, 4))), (None, 28, 28, 3), (None, 24, 20, 3)),  # Keras's docstring example
    (lambda: Cropping3D(), (None, 4, 5, 6, 1), (None, 2, 3, 4, 1)),
])
def test_keras_output_shapes_and_no_weights(make, shape, out):
    layer = make()
    assert layer.compute_output_shape(shape) == out
    x = np.ones((2,) + tuple(d or 6 for d in shape[1:]), np.float32)
    y = layer(x)
    assert y.shape == tuple(layer.compute_output_shape(x.shape)) and y.dtype == np.float32
    assert layer.count_params() == 0 and y.flags.c_contiguous


@pytest.mark.parametrize("make,shape", [
    (lambda: UpSampling1D(3), (2, 4, 3)),
    (lambda: UpSampling2D((2, 3)), (2, 3, 4, 2)),
    (lambda: UpSampling3D((1, 2, 2)), (1, 2, 3, 2, 2)),
    (lambda: ZeroPadding1D((0, 2)), (2, 4, 3)),
    (lambda: ZeroPadding2D(((1, 0), (2, 3))), (2, 3, 4, 2)),
    (lambda: ZeroPadding3D((1, 0, 2)), (1, 2, 3, 2, 2)),
    (lambda: Cropping1D((1, 2)), (2, 5, 3)),
    (lambda: Cropping2D(((1, 0), (2, 1))), (2, 3, 4, 2)),
    (lambda: Cropping3D(((0, 1), (1, 0), (1, 1))), (1, 3, 3, 4, 2)),
])
def test_backward_is_the_adjoint_of_forward(make, shape):
    # each layer is linear, so <forward(x), r> must equal <x, backward(r)> exactly (float64)
    fastnn.utils.set_floatx("float64")
    try:
        layer = make()
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape)
        y = layer(x, training=True)
        r = rng.standard_normal(y.shape)
        dx = layer.backward(r)
        assert dx.shape == x.shape
        np.testing.assert_allclose(np.vdot(y, r), np.vdot(x, dx), rtol=1e-12)
        # and it is the derivative: a finite difference along a random direction
        v = rng.standard_normal(shape)
        np.testing.assert_allclose(np.vdot(layer(x + v) - y, r), np.vdot(v, dx), rtol=1e-10)
    finally:
        fastnn.utils.set_floatx("float32")


@pytest.mark.parametrize("make,match", [
    (lambda: UpSampling2D(0), r"`size` argument must be a tuple of 2 positive integers"),
    (lambda: UpSampling2D((2, 2, 2)), r"`size` argument must be a tuple of 2 integers"),
    (lambda: UpSampling2D(interpolation="bicubic"), r"interpolation must be 'nearest' or 'bilinear'"),
    (lambda: UpSampling2D(data_format="channels_first"), r"only data_format='channels_last'"),
    (lambda: ZeroPadding2D(-1), r"`padding` argument must be an int, a tuple of 2 ints or a tuple of 2 tuples"),
    (lambda: ZeroPadding2D(((1, 2, 3), (0, 0))), r"`padding` argument must be"),
    (lambda: ZeroPadding2D(1.5), r"`padding` argument must be"),
    (lambda: Cropping2D((1, 2, 3)), r"`cropping` argument must be"),
    (lambda: Cropping1D(True), r"`cropping` argument must be"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_cropping_everything_is_an_error():
    with pytest.raises(ValueError, match=r"Cropping2D: the output would have a zero or negative size"):
        Cropping2D(((2, 2), (0, 0)))(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"Cropping1D: the output would have a zero or negative size"):
        Cropping1D((3, 3)).compute_output_shape((None, 5, 2))


def test_configs_round_trip():
    for layer in (UpSampling1D(3), UpSampling2D((2, 3)), UpSampling3D((1, 2, 2)), ZeroPadding1D((1, 2)),
                  ZeroPadding2D(((1, 0), (2, 3))), ZeroPadding3D(1), Cropping1D(2), Cropping2D(((1, 0), (2, 1))),
                  Cropping3D(((0, 1), (1, 0), (1, 1)))):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        x = np.random.default_rng(1).random((1,) + (5,) * layer.rank + (2,), dtype=np.float32)
        np.testing.assert_array_equal(clone(x), layer(x))
    assert UpSampling2D().get_config()["interpolation"] == "nearest"
    assert ZeroPadding2D().get_config()["padding"] == ((1, 1), (1, 1))  # (tuples, as Keras 3)


def test_upsampling_autoencoder_learns_and_round_trips(tmp_path):
    # Keras's blog autoencoder, shrunk: Conv2D + MaxPooling2D down, Conv2D + UpSampling2D up
    rng = np.random.default_rng(7)
    x = np.zeros((96, 8, 8, 1), np.float32)
    for i, (r, c) in enumerate(rng.integers(0, 5, (96, 2))):
        x[i, r:r + 4, c:c + 4, 0] = 1.0
    fastnn.utils.set_random_seed(0)
    inp = Input(shape=(8, 8, 1))
    h = MaxPooling2D(padding="same")(Conv2D(8, 3, activation="relu", padding="same")(inp))
    h = UpSampling2D()(Conv2D(8, 3, activation="relu", padding="same")(h))
    out = Conv2D(1, 3, activation="sigmoid", padding="same")(ZeroPadding2D(1)(Cropping2D(1)(h)))
    model = Model(inp, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert_learns_and_round_trips(model, x, x, tmp_path / "upsampling.safetensors", epochs=40, batch_size=16)


def test_bilinear_upsampling_matches_tensorflows_resize():
    # tf.image.resize([[1, 2], [3, 4]], [4, 4]) (half-pixel centres), TensorFlow's documented output
    x = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    expected = [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]
    np.testing.assert_allclose(UpSampling2D(interpolation="bilinear")(x)[0, :, :, 0], expected, rtol=1e-6)


def resize_loop(x, sizes):
    """Bilinear resize pixel by pixel, TensorFlow's rule: in = (out + 0.5) / s - 0.5,
    lower = max(floor(in), 0), upper = min(ceil(in), d - 1), weight in - floor(in)."""
    n, h, w, c = x.shape
    out = np.zeros((n, h * sizes[0], w * sizes[1], c))
    for i in range(h * sizes[0]):
        for j in range(w * sizes[1]):
            yi, xj = (i + 0.5) / sizes[0] - 0.5, (j + 0.5) / sizes[1] - 0.5
            y0, x0 = int(np.floor(yi)), int(np.floor(xj))
            ly, lx = yi - y0, xj - x0
            y0c, y1c = min(max(y0, 0), h - 1), min(max(y0 + 1, 0), h - 1)
            x0c, x1c = min(max(x0, 0), w - 1), min(max(x0 + 1, 0), w - 1)
            top = x[:, y0c, x0c] * (1 - lx) + x[:, y0c, x1c] * lx
            bottom = x[:, y1c, x0c] * (1 - lx) + x[:, y1c, x1c] * lx
            out[:, i, j] = top * (1 - ly) + bottom * ly
    return out


@pytest.mark.parametrize("shape,size", [((2, 3, 5, 4), (3, 2)), ((1, 1, 4, 2), (2, 3)), ((3, 4, 4, 1), (2, 2))])
def test_bilinear_upsampling_values_and_gradients(shape, size):
    x = np.random.default_rng(0).standard_normal(shape)
    layer = UpSampling2D(size, interpolation="bilinear", dtype="float64")
    np.testing.assert_allclose(layer(x), resize_loop(x, size), rtol=1e-12, atol=1e-12)
    with fastnn.backend("numpy"):
        layer_gradcheck(layer, x)
    assert UpSampling2D(size, interpolation="bilinear").get_config()["interpolation"] == "bilinear"
