"""fastnn.layers.preprocessing — Rescaling and Normalization, Keras's preprocessing layers that
standardise inputs inside the model (``Rescaling(1/255)``; ``Normalization()`` then
``adapt(x_train)`` learns each feature's mean and variance, as Keras's regression tutorials do)."""

from __future__ import annotations

import itertools

import numpy as np

from .._batch_dataset import EagerArray
from .base import Layer, register_layer

_EPSILON = 1e-7


@register_layer
class Rescaling(Layer):
    """``output = input · scale + offset``."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, inputs, training=False):
        return inputs * np.asarray(self.scale, inputs.dtype) + np.asarray(self.offset, inputs.dtype)

    def backward(self, dy):
        return dy * np.asarray(self.scale, dy.dtype) if self._need_input_grad else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _unbatched_dataset(data):
    """Whether ``data`` is a tf.data-like dataset of single samples (no batch() since its last unbatch())."""
    from .._batch_dataset import BatchDataset, _Batched, _Derived, _Unbatched

    if not isinstance(data, BatchDataset):
        return False
    while isinstance(data, _Derived):
        if isinstance(data, _Batched):
            return False
        if isinstance(data, _Unbatched):
            return True
        data = data._source
    return type(data).__name__ in ("TensorSlices", "_FromGenerator", "_Elements")


@register_layer
class Normalization(Layer):
    """``(input - mean) / max(sqrt(variance), 1e-7)`` per feature along ``axis`` (default the last; a
    tuple keeps statistics per entry of those axes, None one for all values):
    the statistics come from ``adapt(data)`` or are given as ``mean`` and ``variance``;
    ``invert=True`` maps back. Weights (not trained): ``mean``, ``variance`` and ``count`` (the
    samples adapt saw), as in Keras, so the summary counts 2 · features + 1 parameters."""

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):  # (several axes kept: a mean and variance per (row, column)...)
            if not axis or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axis) \
                    or len(set(int(a) for a in axis)) != len(axis):
                raise ValueError(f"Normalization: axis must be an integer, a tuple of distinct integers, or None. "
                                 f"Received: axis={axis!r}")
            axis = tuple(int(a) for a in axis)
        self.axis = None if axis is None else axis if isinstance(axis, tuple) else int(axis)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: pass both mean and variance, or neither (and call adapt)")
        self._given = None if mean is None else (np.asarray(mean, np.float64), np.asarray(variance, np.float64))
        self.invert = bool(invert)
        self.mean = self.variance = self.count = None

    def build(self, input_shape):
        # The weights have Keras's shapes: () for axis=None, else (features,) (get_weights and saved
        # Keras weights agree); `mean` and `variance` are views of them shaped to broadcast against the
        # input, as Keras's attributes: (1, features) for an (N, features) input.
        if self.axis is None:  # (one mean and variance for every value: TensorFlow's regression tutorial's)
            features, broadcast = None, ()
            weight_shape = ()
        else:
            keep = self._kept_axes(len(input_shape))
            weight_shape = tuple(input_shape[k] for k in keep)
            if any(d is None for d in weight_shape):
                raise ValueError(f"Normalization: the axis {self.axis} of the input must be known. "
                                 f"Received: {input_shape}")
            features = int(np.prod(weight_shape))
            broadcast = [input_shape[k] if k in keep else 1 for k in range(len(input_shape))]
        self._adapt_mean = self.add_weight("mean", weight_shape, "zeros", trainable=False)
        self._adapt_variance = self.add_weight("variance", weight_shape, "ones", trainable=False)
        self.count = self.add_weight("count", (), "zeros", trainable=False)
        if self._given is not None:
            for weight, given in zip((self._adapt_mean, self._adapt_variance), self._given):
                weight[...] = float(given) if features is None else \
                    np.broadcast_to(given.reshape(weight_shape) if given.size == features else given.reshape(-1)
                                    if len(weight_shape) == 1 else given, weight_shape)
        self.mean = np.asarray(self._adapt_mean).reshape(broadcast).view(EagerArray)
        self.variance = np.asarray(self._adapt_variance).reshape(broadcast).view(EagerArray)
        self.built = True

    def _kept_axes(self, ndim):
        """The axes the statistics are kept per (sorted, non-negative), for an input of rank ``ndim``."""
        given = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        if any(not -ndim <= a < ndim or a % ndim == 0 for a in given):
            raise ValueError(f"Normalization: axis {self.axis} must name axes of the input other than the batch axis, "
                             f"in [-{ndim}, {ndim}) for an input of rank {ndim}")
        return sorted(a % ndim for a in given)

    def adapt(self, data, batch_size=None, steps=None):
        """Set mean and variance from ``data``: an array (samples on the first axis), or an iterable
        of batches (a dataset, a generator, a list of arrays of two or more axes; at most ``steps`` of
        them), joined."""
        from .lookup import _batches

        batches = _batches(data, steps, "Normalization")
        if isinstance(data, (list, tuple)) and data and all(getattr(part, "ndim", 0) >= 2 for part in data):
            # a list of batch arrays is an iterable of batches, as in Keras 3 (>= 3.14): joined along the
            # samples; stacking them would build the layer for one more axis, (1, N, F) outputs for (N, F)
            batches = itertools.islice(data, steps)
        if batches is not None:
            # (a dataset of (features, labels) pairs: the features, as Keras 3 adapts on them)
            parts = [np.asarray(b[0] if isinstance(b, tuple) else b, dtype=np.float64) for b in batches]
            if not parts:
                raise ValueError("Normalization.adapt: the data gave no batches")
            # an unbatched dataset of feature vectors (3,): the rows of one array (Keras batches such a
            # dataset, elements of rank 1, before adapting), not one long vector
            rows = _unbatched_dataset(data) and all(p.ndim == 1 for p in parts) and len({len(p) for p in parts}) == 1
            data = np.stack(parts) if rows else np.concatenate([p if p.ndim else p[None] for p in parts])
        x = np.asarray(data, dtype=np.float64)
        if x.ndim < 1 or len(x) == 0:
            raise ValueError(f"Normalization.adapt: expected a non-empty array. Received: shape={x.shape}")
        if x.ndim == 1:
            x = x[:, None]
        self._maybe_build((None,) + x.shape[1:])
        keep = () if self.axis is None else self._kept_axes(x.ndim)
        axes = tuple(a for a in range(x.ndim) if a not in keep)
        self._adapt_mean[...] = x.mean(axis=axes).reshape(self._adapt_mean.shape)
        self._adapt_variance[...] = x.var(axis=axes).reshape(self._adapt_variance.shape)
        self.count[...] = len(x)

    def call(self, inputs, training=False):
        if self._given is None and float(self.count) == 0:  # (a loaded layer has its count back)
            raise ValueError(f"Normalization '{self.name}': call adapt(data) first (or give mean and variance)")
        self._std = np.maximum(np.sqrt(self.variance), _EPSILON).astype(inputs.dtype)
        if self.invert:
            return self.mean + inputs * self._std
        return (inputs - self.mean) / self._std

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        return dy * self._std if self.invert else dy / self._std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        # adapted statistics travel as the layer's weights (a saved file holds them); given ones, as Keras
        config = {**super().get_config(), "axis": self.axis, "invert": self.invert}
        if self._given is not None:
            config["mean"], config["variance"] = self._given[0].tolist(), self._given[1].tolist()
        return config
