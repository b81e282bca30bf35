"""SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout: the identity at inference; in training,
whole channels dropped and the rest scaled (spatial), noise of the stated mean and spread
(Gaussian), the same noise in backward (its exact adjoint), seeds that reproduce, configs, bad
arguments, and use in a model."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.layers import (Conv2D, Dense, Flatten, GaussianDropout, GaussianNoise, Input, SpatialDropout1D,
                           SpatialDropout2D, SpatialDropout3D)
from fastnn.models import Sequential

ALL = [lambda **k: SpatialDropout1D(0.4, **k), lambda **k: SpatialDropout2D(0.4, **k),
       lambda **k: SpatialDropout3D(0.4, **k), lambda **k: GaussianNoise(0.3, **k),
       lambda **k: GaussianDropout(0.3, **k)]
SHAPES = [(4, 6, 5), (4, 3, 4, 5), (4, 2, 3, 2, 5), (4, 3, 4, 5), (4, 3, 4, 5)]


@pytest.mark.parametrize("make,shape", list(zip(ALL, SHAPES)))
def test_identity_at_inference_and_backward_is_the_adjoint(make, shape):
    rng = np.random.default_rng(0)
    layer = make(seed=3)
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    y = layer(x, training=True)
    assert y.shape == x.shape and not np.array_equal(y, x)
    r = rng.standard_normal(shape).astype(np.float32)
    dx = layer.backward(r)
    if isinstance(layer, GaussianNoise):  # y = x + noise: the gradient passes unchanged
        np.testing.assert_array_equal(dx, r)
    else:  # y = x * noise: backward multiplies by the same noise, <y, r> = <x, dx>
        np.testing.assert_allclose(np.vdot(y, r), np.vdot(x, dx), rtol=1e-5)
    again = make(seed=3)
    np.testing.assert_array_equal(again(x, training=True), y)  # a seed reproduces the noise
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((64, 5, 5, 8), np.float32)
    y = SpatialDropout2D(0.5, seed=1)(x, training=True)
    per_channel = y.reshape(64, 25, 8)
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))  # one value per sample and channel
    assert set(np.unique(y)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - rate)
    assert 0.35 < (per_channel[:, 0] == 0).mean() < 0.65
    np.testing.assert_array_equal(SpatialDropout1D(1.0)(x[:, 0], training=True), 0)


def test_gaussian_layers_have_the_stated_moments():
    x = np.ones((200, 500), np.float32)
    noisy = GaussianNoise(0.5, seed=2)(x, training=True) - 1
    assert abs(noisy.mean()) < 0.01 and abs(noisy.std() - 0.5) < 0.01
    scaled = GaussianDropout(0.2, seed=2)(x, training=True)
    assert abs(scaled.mean() - 1) < 0.01 and abs(scaled.std() - np.sqrt(0.2 / 0.8)) < 0.01


@pytest.mark.parametrize("make,match", [
    (lambda: SpatialDropout2D(1.5), r"SpatialDropout2D: `rate` must be a float in \[0, 1\]"),
    (lambda: GaussianDropout(1.0), r"GaussianDropout: `rate` must be a float in \[0, 1\)"),
    (lambda: GaussianNoise(-0.1), r"GaussianNoise: `stddev` must be a non-negative float"),
    (lambda: GaussianNoise(0.1, seed=-3), r"GaussianNoise: expected a non-negative integer seed"),
    (lambda: SpatialDropout2D(0.2, data_format="channels_first"), r"only data_format='channels_last'"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_in_a_model_noise_only_while_training():
    fastnn.utils.set_random_seed(4)
    model = Sequential([Input(shape=(8, 8, 1)), GaussianNoise(0.2), Conv2D(4, 3, activation="relu"),
                        SpatialDropout2D(0.25), Flatten(), GaussianDropout(0.1), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(5).random((6, 8, 8, 1), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    before = model.layers[1].kernel.copy()
    model.train_on_batch(x, np.zeros((6, 2), np.float32))
    assert not np.array_equal(before, model.layers[1].kernel)
