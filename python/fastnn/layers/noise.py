"""fastnn.layers.noise — SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout (Keras's
regularization layers; active in training only, the identity at inference).

SpatialDropout drops whole feature maps: one keep-or-drop per sample and channel, shared by every
position (its mask comes from ``ops.dropout_forward``, like Dropout's, so it is the same for any
thread count). The Gaussian layers draw their noise from NumPy's generator seeded from the layer's
stream. Each layer's seed stream is ``seed`` when given, else a draw from
`fastnn.utils.set_random_seed`'s generator, advanced once per training call.
"""

from __future__ import annotations

import numpy as np

from .. import ops, utils
from .base import InputSpec, Layer, register_layer


def _check_seed(seed, cls):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{cls}: expected a non-negative integer seed or None. Received: seed={seed!r}")
    return None if seed is None else int(seed)


def _check_fraction(value, name, cls, upper_open=False):
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not 0 <= value <= 1 or (upper_open and value == 1):
        interval = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(f"{cls}: `{name}` must be a float in {interval}. Received: {name}={value!r}")
    return float(value)


class _Noise(Layer):
    """The seed stream and the training-only switch the three families share (each passes a mask
    on, as Keras's do)."""

    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _check_seed(seed, type(self).__name__)
        self._stream = self.seed if self.seed is not None else utils.draw_seed()
        self._calls = 0
        self._factor = None  # what backward multiplies dy by (None: the identity)

    def _next_seed(self):
        seed = utils.derive_seed(self._stream, self._calls)
        self._calls += 1
        return seed

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        return dy if self._factor is None else dy * self._factor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class _SpatialDropout(_Noise):
    rank = 2

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        cls = type(self).__name__
        self.rate = _check_fraction(rate, "rate", cls)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{cls}: only data_format='channels_last' is supported. Received: "
                             f"data_format={data_format!r}")
        self.data_format = "channels_last"
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=False):
        self._factor = None
        if not training or self.rate == 0:
            return inputs
        n, c = inputs.shape[0], inputs.shape[-1]
        if self.rate == 1:
            keep = np.zeros((n, c), inputs.dtype)
        else:  # one inverted-dropout factor, 0 or 1 / (1 - rate), per sample and channel
            keep = ops.dropout_forward(np.ones((n, c), inputs.dtype), self.rate, self._next_seed())[0]
        self._factor = keep.reshape((n,) + (1,) * self.rank + (c,))
        return inputs * self._factor

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "data_format": self.data_format, "seed": self.seed}


@register_layer
class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of ``(batch, steps, channels)`` in training: each sample keeps or zeroes
    each channel at every step, and scales the kept ones by ``1 / (1 - rate)``."""

    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("data_format")
        return config


@register_layer
class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of ``(batch, rows, cols, channels)`` in training (Tompson et al.
    2015): better than Dropout after a convolution, whose neighbouring pixels are correlated."""

    rank = 2


@register_layer
class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes of ``(batch, depth, rows, cols, channels)`` in training."""

    rank = 3


@register_layer
class GaussianNoise(_Noise):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training (a regularizer,
    and the corruption of a denoising autoencoder); the identity at inference."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float, np.integer, np.floating)) or stddev < 0:
            raise ValueError(f"GaussianNoise: `stddev` must be a non-negative float. Received: stddev={stddev!r}")
        self.stddev = float(stddev)

    def call(self, inputs, training=False):
        self._factor = None
        if not training or self.stddev == 0:
            return inputs
        noise = np.random.default_rng(self._next_seed()).standard_normal(inputs.shape, dtype=inputs.dtype)
        return inputs + self.stddev * noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@register_layer
class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` in
    training (Srivastava et al. 2014); the identity at inference. ``rate`` in [0, 1)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_fraction(rate, "rate", "GaussianDropout", upper_open=True)

    def call(self, inputs, training=False):
        self._factor = None
        if not training or self.rate == 0:
            return inputs
        std = np.sqrt(self.rate / (1.0 - self.rate))
        noise = np.random.default_rng(self._next_seed()).standard_normal(inputs.shape, dtype=inputs.dtype)
        self._factor = 1 + noise * inputs.dtype.type(std)
        return inputs * self._factor

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register_layer
class AlphaDropout(_Noise):
    """Dropout that keeps SELU's self-normalising mean and variance (Klambauer et al. 2017), as
    Keras's: in training each value is kept with probability ``1 - rate``, else set to SELU's
    negative saturation ``-scale·alpha``, then the result is affinely corrected ``a·x + b`` so that
    zero-mean unit-variance inputs stay so; the identity at inference. ``noise_shape`` (None
    entries take the input's) shares a draw along the axes where it is 1."""

    _SATURATION = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_fraction(rate, "rate", "AlphaDropout", upper_open=True)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        self._factor = None
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != inputs.ndim:
                raise ValueError(f"AlphaDropout '{self.name}': noise_shape {self.noise_shape} must have the input's "
                                 f"rank {inputs.ndim} (input shape {inputs.shape})")
            shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, inputs.shape))
        rate, alpha = self.rate, self._SATURATION
        keep = np.random.default_rng(self._next_seed()).uniform(size=shape) >= rate
        a = ((1 - rate) * (1 + rate * alpha ** 2)) ** -0.5
        b = -a * alpha * rate
        keep = np.broadcast_to(keep, inputs.shape)
        self._factor = (a * keep).astype(inputs.dtype)
        return (self._factor * inputs + np.where(keep, b, a * alpha + b)).astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
