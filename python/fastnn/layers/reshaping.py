"""fastnn.layers.reshaping — UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D
(channels-last, Keras's arguments and defaults), RepeatVector and Permute.

Pure data movement, one NumPy pass each way and no weights: nearest-neighbour upsampling repeats
each pixel ``size`` times along every spatial axis (its backward sums each block), zero padding
adds zeros around the spatial axes (its backward crops), cropping removes rows and columns (its
backward pads with zeros). The convolutional autoencoders of Keras's tutorials upsample with
``UpSampling2D`` between ``Conv2D(padding="same")`` layers.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .base import InputSpec, Layer, register_layer
from .conv import check_data_format, normalize_tuple


def _pairs(value, rank, name, cls):
    """Keras's padding/cropping argument: an int (every side), ``rank`` ints (both sides of each
    axis) or ``rank`` pairs ``(before, after)``; each >= 0. Returns ``rank`` pairs."""
    expected = (f"{cls}: the `{name}` argument must be an int, a tuple of {rank} ints or a tuple of {rank} "
                f"tuples of 2 ints, each >= 0. Received: {name}={value!r}")

    def as_int(v):
        if isinstance(v, (bool, np.bool_)):
            raise TypeError
        return operator.index(v)

    try:
        if isinstance(value, (list, tuple)):
            if len(value) != rank:
                raise TypeError
            pairs = []
            for item in value:
                if isinstance(item, (list, tuple)):
                    if len(item) != 2:
                        raise TypeError
                    pairs.append((as_int(item[0]), as_int(item[1])))
                else:
                    pairs.append((as_int(item),) * 2)
        else:
            pairs = [(as_int(value),) * 2] * rank
    except TypeError:
        raise ValueError(expected) from None
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(expected)
    return tuple(pairs)


class _Reshaping(Layer):
    """What the three families share: ``rank`` spatial axes between the batch and the channels."""

    rank = 2

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, type(self).__name__)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if d is None else self._out_size(d, a) for a, d in enumerate(input_shape[1:-1]))
        if any(d is not None and d <= 0 for d in spatial):
            raise ValueError(f"{type(self).__name__}: the output would have a zero or negative size: input shape "
                             f"{tuple(input_shape)}, output spatial shape {spatial}")
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def _maybe_build(self, input_shape):
        super()._maybe_build(input_shape)
        self.compute_output_shape(input_shape)  # an empty output fails when the layer is first used

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class _UpSampling(_Reshaping):
    def __init__(self, size=2, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.size = normalize_tuple(size, self.rank, "size", type(self).__name__)

    interpolation = "nearest"

    def _out_size(self, d, axis):
        return d * self.size[axis]

    def call(self, inputs, training=False):
        self._x_shape = inputs.shape
        if self.interpolation == "bilinear":
            self._matrices = [_linear_matrix(d, s, inputs.dtype) for d, s in zip(inputs.shape[1:-1], self.size)]
            return _apply_per_axis(inputs, self._matrices, transpose=False)
        # each pixel repeated as a block: (N, d1, 1, d2, 1, ..., C) broadcast to (N, d1, s1, d2, s2, ..., C)
        n, spatial, c = inputs.shape[0], inputs.shape[1:-1], inputs.shape[-1]
        expanded = inputs.reshape((n,) + sum(((d, 1) for d in spatial), ()) + (c,))
        blocks = (n,) + sum(((d, s) for d, s in zip(spatial, self.size)), ()) + (c,)
        out = (n,) + tuple(d * s for d, s in zip(spatial, self.size)) + (c,)
        return np.broadcast_to(expanded, blocks).reshape(out)

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        if self.interpolation == "bilinear":
            return _apply_per_axis(dy, self._matrices, transpose=True)
        n, spatial, c = self._x_shape[0], self._x_shape[1:-1], self._x_shape[-1]
        blocks = dy.reshape((n,) + sum(((d, s) for d, s in zip(spatial, self.size)), ()) + (c,))
        return blocks.sum(axis=tuple(2 + 2 * a for a in range(self.rank)))

    def get_config(self):
        return {**super().get_config(), "size": tuple(self.size)}


def _linear_matrix(d, s, dtype):
    """The (d·s, d) matrix of linear interpolation with half-pixel centres, as TensorFlow's and
    JAX's bilinear resize (``tf.image.resize``): output o samples the input at (o + 0.5)/s - 0.5,
    clamped to [0, d - 1], between its two neighbours."""
    src = np.clip((np.arange(d * s) + 0.5) / s - 0.5, 0, d - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, d - 1)
    frac = src - lo
    m = np.zeros((d * s, d))
    np.add.at(m, (np.arange(d * s), lo), 1 - frac)
    np.add.at(m, (np.arange(d * s), hi), frac)
    return m.astype(dtype)


def _apply_per_axis(x, matrices, transpose):
    """Multiply spatial axis k of the channels-last ``x`` by matrices[k] (or its transpose): the
    separable interpolation and its adjoint, one batched product per axis."""
    for k, m in enumerate(matrices):
        m = m.T if transpose else m
        lead, rest = x.shape[:k + 1], x.shape[k + 2:]
        y = np.matmul(m, x.reshape((math.prod(lead), x.shape[k + 1], math.prod(rest))))
        x = y.reshape(lead + (m.shape[0],) + rest)
    return np.ascontiguousarray(x)


@register_layer
class UpSampling1D(_UpSampling):
    """Repeats each step ``size`` times (default 2): ``(batch, steps, features)`` ->
    ``(batch, steps·size, features)``."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size=size, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("data_format")
        config["size"] = self.size[0]
        return config


@register_layer
class UpSampling2D(_UpSampling):
    """Upsampling of images by ``size`` (default ``(2, 2)``).

    Input shape ``(batch, rows, cols, channels)``; output ``(batch, rows·size[0], cols·size[1],
    channels)``. ``interpolation``: ``"nearest"`` (Keras's default: each pixel becomes a block)
    or ``"bilinear"`` (half-pixel centres, as TensorFlow's and JAX's image resize).
    """

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear'. "
                             f"Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


@register_layer
class UpSampling3D(_UpSampling):
    """Nearest-neighbour upsampling of volumes: ``size`` default ``(2, 2, 2)``."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)


class _PadOrCrop(_Reshaping):
    """ZeroPadding (sign +1) and Cropping (sign -1): ``pairs`` (before, after) per spatial axis."""

    sign = 1
    argument = "padding"

    def __init__(self, amounts, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if self.rank == 1 and not (isinstance(amounts, (list, tuple)) and len(amounts) != 2):
            amounts = (amounts,)  # 1-D: an int or one (before, after) pair
        self.pairs = _pairs(amounts, self.rank, self.argument, type(self).__name__)

    def _out_size(self, d, axis):
        return d + self.sign * sum(self.pairs[axis])

    def _padded(self, x, pairs):
        return np.pad(x, ((0, 0),) + tuple(pairs) + ((0, 0),))

    def _cropped(self, x, pairs):
        return x[(slice(None),) + tuple(slice(b, x.shape[1 + a] - e) for a, (b, e) in enumerate(pairs))]

    def call(self, inputs, training=False):
        self.compute_output_shape(inputs.shape)
        if self.sign > 0:
            return self._padded(inputs, self.pairs)
        return np.ascontiguousarray(self._cropped(inputs, self.pairs))

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        if self.sign > 0:
            return np.ascontiguousarray(self._cropped(dy, self.pairs))
        return self._padded(dy, self.pairs)

    def get_config(self):
        pairs = tuple(tuple(p) for p in self.pairs)  # (tuples, as Keras 3's get_config gives them)
        return {**super().get_config(), self.argument: pairs[0] if self.rank == 1 else pairs}


@register_layer
class ZeroPadding1D(_PadOrCrop):
    """Zeros before and after the steps: ``padding`` an int or ``(before, after)`` (default 1)."""

    rank = 1

    def __init__(self, padding=1, **kwargs):
        super().__init__(padding, **kwargs)


@register_layer
class ZeroPadding2D(_PadOrCrop):
    """Zeros around each image: ``padding`` an int, ``(rows, cols)`` (both sides) or
    ``((top, bottom), (left, right))``; default ``(1, 1)``."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format=data_format, **kwargs)


@register_layer
class ZeroPadding3D(_PadOrCrop):
    """Zeros around each volume: ``padding`` as `ZeroPadding2D`'s with 3 axes; default ``(1, 1, 1)``."""

    rank = 3

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format=data_format, **kwargs)


@register_layer
class Cropping1D(_PadOrCrop):
    """Removes steps: ``cropping`` an int or ``(before, after)`` (default ``(1, 1)``)."""

    rank = 1
    sign = -1
    argument = "cropping"

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


@register_layer
class Cropping2D(_PadOrCrop):
    """Removes rows and columns: ``cropping`` an int, ``(rows, cols)`` (both sides) or
    ``((top, bottom), (left, right))``; default ``((0, 0), (0, 0))``."""

    rank = 2
    sign = -1
    argument = "cropping"

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format=data_format, **kwargs)


@register_layer
class Cropping3D(_PadOrCrop):
    """Removes slices of a volume: ``cropping`` as `Cropping2D`'s with 3 axes."""

    rank = 3
    sign = -1
    argument = "cropping"

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format=data_format, **kwargs)


@register_layer
class RepeatVector(Layer):
    """Repeats each sample ``n`` times: (batch, features) -> (batch, n, features) (a view), as an
    LSTM autoencoder's decoder input. Its backward sums the copies."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer. Received: n={n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs, training=False):
        return np.broadcast_to(inputs[:, None, :], (inputs.shape[0], self.n, inputs.shape[1]))

    def backward(self, dy):
        return dy.sum(axis=1) if self._need_input_grad else None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


@register_layer
class Permute(Layer):
    """Permutes the axes after the batch axis: ``dims`` is a permutation of 1 .. rank (Keras's
    1-based indices), ``Permute((2, 1))`` swaps the two axes of (batch, steps, features)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else None
        if dims is None or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1 .. {len(dims) if dims else 'rank'} (1-based, "
                             f"the batch axis excluded). Received: dims={dims!r}")
        self.dims = tuple(int(d) for d in dims)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs, training=False):
        return np.ascontiguousarray(np.transpose(inputs, (0,) + self.dims))

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        return np.ascontiguousarray(np.transpose(dy, np.argsort((0,) + self.dims)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": tuple(self.dims)}
