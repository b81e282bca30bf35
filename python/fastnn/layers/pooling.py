"""fastnn.layers.pooling — max and average pooling (1-D/2-D/3-D) and global pooling, channels-last,
with Keras's arguments and semantics: ``strides`` defaults to ``pool_size``; average pooling over
'same' borders divides by the number of real elements; max pooling sends each gradient to the
first maximum of its window (the forward pass keeps its position)."""

from __future__ import annotations

import numpy as np

from .. import ops
from .base import InputSpec, Layer, check_mask, register_layer
from .conv import check_data_format, normalize_padding, normalize_tuple, output_length


class _Pooling(Layer):
    """The N-D max/average pooling behind MaxPooling*D and AveragePooling*D."""

    rank = 2
    kind = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self.pool_size = normalize_tuple(pool_size, n, "pool_size", cls)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, n, "strides", cls)
        self.padding = normalize_padding(padding, ("valid", "same"), cls)
        self.data_format = check_data_format(data_format, cls)
        self.input_spec = InputSpec(ndim=n + 2)

    def _geometry(self):
        return dict(pool_size=self.pool_size, strides=self.strides, padding=self.padding)

    def call(self, inputs, training=False):
        self._x_shape = inputs.shape
        if self.kind == "max":
            y, self._argmax = getattr(ops, f"maxpool{self.rank}d_forward")(inputs, **self._geometry())
            return y
        return getattr(ops, f"avgpool{self.rank}d_forward")(inputs, **self._geometry())

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        if self.kind == "max":
            return getattr(ops, f"maxpool{self.rank}d_backward")(dy, self._argmax, self._x_shape)
        return getattr(ops, f"avgpool{self.rank}d_backward")(dy, self._x_shape, **self._geometry())

    def compute_output_shape(self, input_shape):
        spatial = tuple(input_shape[1:-1])
        out = tuple(output_length(s, k, st, 1, self.padding) for s, k, st in zip(spatial, self.pool_size, self.strides))
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(f"Computed output size would be zero or negative. Received: input_shape="
                             f"{tuple(input_shape)}, pool_size={self.pool_size}, strides={self.strides}, "
                             f"padding={self.padding!r}")
        return (input_shape[0],) + out + (input_shape[-1],)

    def get_config(self):
        config = {"pool_size": tuple(self.pool_size), "strides": tuple(self.strides), "padding": self.padding,
                  "data_format": self.data_format}
        return {**super().get_config(), **config}


@register_layer
class MaxPooling1D(_Pooling):
    """Max pooling over steps: the max of each window of ``pool_size`` steps.

    Args:
        pool_size: default 2. strides: default None (= pool_size). padding: ``"valid"`` or ``"same"``.

    Input shape: ``(batch, steps, features)``. Output shape: ``(batch, pooled_steps, features)``.
    """

    rank, kind = 1, "max"


@register_layer
class MaxPooling2D(_Pooling):
    """Max pooling over images: the max of each ``pool_size`` window.

    Args:
        pool_size: default ``(2, 2)``. strides: default None (= pool_size). padding: ``"valid"``
            (default) or ``"same"``.

    Input shape: ``(batch, rows, cols, channels)``. Output: ``(batch, pooled_rows, pooled_cols, channels)``.
    """

    rank, kind = 2, "max"


@register_layer
class MaxPooling3D(_Pooling):
    """Max pooling over volumes; see `MaxPooling2D` (3-tuples, default ``(2, 2, 2)``)."""

    rank, kind = 3, "max"


@register_layer
class AveragePooling1D(_Pooling):
    """Average pooling over steps; windows on 'same' borders average their real elements only.

    Args: as `MaxPooling1D`.
    """

    rank, kind = 1, "avg"


@register_layer
class AveragePooling2D(_Pooling):
    """Average pooling over images; windows on 'same' borders average their real elements only.

    Args: as `MaxPooling2D`.
    """

    rank, kind = 2, "avg"


@register_layer
class AveragePooling3D(_Pooling):
    """Average pooling over volumes; see `AveragePooling2D`."""

    rank, kind = 3, "avg"


class _GlobalPooling(Layer):
    """Global max/average pooling over every spatial axis: ``(batch, ..., channels)`` -> ``(batch, channels)``."""

    rank = 2
    kind = "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        # ("channels_first", (batch, channels, ...): the Transformer timeseries classifier pools its
        # (batch, steps, 1) output over the last axis so; the kernels pool a channels-last view)
        self.data_format = "channels_first" if data_format == "channels_first" else \
            check_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=False):
        if self.data_format == "channels_first":
            inputs = np.ascontiguousarray(np.moveaxis(inputs, 1, -1))
        self._x_shape = inputs.shape
        if self.kind == "max":
            y, self._argmax = ops.global_maxpool_forward(inputs)
        else:
            y = ops.global_avgpool_forward(inputs)
        return y.reshape((len(y),) + self._kept_shape(y.shape[-1])) if self.keepdims else y

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        dy = np.ascontiguousarray(dy.reshape(dy.shape[0], -1))
        if self.kind == "max":
            dx = ops.global_maxpool_backward(dy, self._argmax, self._x_shape)
        else:
            dx = ops.global_avgpool_backward(dy, self._x_shape)
        return np.moveaxis(dx, -1, 1) if self.data_format == "channels_first" else dx

    def _kept_shape(self, channels):
        return (channels,) + (1,) * self.rank if self.data_format == "channels_first" else (1,) * self.rank + (channels,)

    def compute_output_shape(self, input_shape):
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        if self.keepdims:
            return (input_shape[0],) + self._kept_shape(channels)
        return (input_shape[0], channels)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@register_layer
class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over steps: ``(batch, steps, features)`` -> ``(batch, features)``.

    With a mask (``(batch, steps)``, True at the steps to use; from `Masking` or
    ``Embedding(mask_zero=True)``), the mean over the unmasked steps only, as Keras takes it. A
    sample with every step masked pools to 0 (Keras's 0/0 gives NaN). The output has no mask.

    Args:
        keepdims: keep the pooled axis with size 1 (default False).
    """

    rank, kind = 1, "avg"
    supports_masking = True

    def call(self, inputs, training=False, mask=None):
        if mask is None:
            self._weights_per_step = None
            return super().call(inputs, training=training)
        if self.data_format == "channels_first":  # (batch, features, steps): the mask is over the steps
            inputs = np.moveaxis(inputs, 1, -1)
        mask = check_mask(mask, inputs.shape, self, "mask")
        if mask.shape != inputs.shape[:2]:
            raise ValueError(f"Layer '{self.name}' (GlobalAveragePooling1D): mask must be (batch, steps) = "
                             f"{inputs.shape[:2]}. Received: mask.shape={mask.shape}")
        count = np.maximum(mask.sum(axis=1, keepdims=True), 1).astype(inputs.dtype)  # (N, 1)
        self._weights_per_step = (mask / count).astype(inputs.dtype, copy=False)[..., None]  # (N, T, 1)
        y = np.where(mask[..., None], inputs, 0).sum(axis=1) / count  # masked steps' values never enter
        return y.reshape((len(y),) + self._kept_shape(y.shape[-1])) if self.keepdims else y

    def backward(self, dy):
        if self._weights_per_step is None:
            return super().backward(dy)
        if not self._need_input_grad:
            return None
        dy = dy.reshape(dy.shape[0], 1, -1)
        dx = dy * self._weights_per_step
        return np.moveaxis(dx, -1, 1) if self.data_format == "channels_first" else dx

    def compute_mask(self, inputs, mask=None):
        return None


@register_layer
class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over rows and cols: ``(batch, rows, cols, channels)`` -> ``(batch, channels)``.

    Args:
        keepdims: keep the pooled axes with size 1 (default False).
    """

    rank, kind = 2, "avg"


@register_layer
class GlobalAveragePooling3D(_GlobalPooling):
    """The mean over every spatial axis of a volume; see `GlobalAveragePooling2D`."""

    rank, kind = 3, "avg"


@register_layer
class GlobalMaxPooling1D(_GlobalPooling):
    """The max over steps (the gradient goes to the first maximum); see `GlobalAveragePooling1D`."""

    rank, kind = 1, "max"


@register_layer
class GlobalMaxPooling2D(_GlobalPooling):
    """The max over rows and cols (the gradient goes to the first maximum); see `GlobalAveragePooling2D`."""

    rank, kind = 2, "max"


@register_layer
class GlobalMaxPooling3D(_GlobalPooling):
    """The max over every spatial axis of a volume; see `GlobalMaxPooling2D`."""

    rank, kind = 3, "max"


# Keras's aliases
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
