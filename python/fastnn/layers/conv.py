"""fastnn.layers.conv — Conv1D/2D/3D and Conv1DTranspose/2DTranspose/3DTranspose (channels-last,
Keras's arguments and defaults).

Every computation goes through ``ops.conv{1,2,3}d[_transpose]_forward/backward``: the bias add and
the activation are fused into the convolution, and the kernels are stored in Keras's layouts,
``(*kernel_size, in_channels, filters)`` and for the transposed ones ``(*kernel_size, filters,
in_channels)``, so ``get_weights``/``set_weights`` exchange weights with Keras unchanged.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import activations, ops
from .base import (ActivationAttribute, InputSpec, Layer, _positive_int, register_layer, set_weight_options,
                   weight_options_config)
from .core import kernel_bias_config, set_kernel_bias_options


def normalize_tuple(value, n, name, cls, least=1):
    """An int or a sequence of ``n`` ints, each >= ``least`` (positive by default), as an ``n``-tuple
    (Keras's rule)."""
    def as_int(v):
        if isinstance(v, (bool, np.bool_)):
            raise TypeError
        return operator.index(v)

    try:
        if isinstance(value, (list, tuple, np.ndarray)):
            out = tuple(as_int(v) for v in value)
        else:
            out = (as_int(value),) * n
    except TypeError:
        out = None
    if out is None or len(out) != n:
        raise ValueError(f"{cls}: the `{name}` argument must be a tuple of {n} integers (or an int). "
                         f"Received: {name}={value!r}")
    if any(v < least for v in out):
        kind = "positive" if least == 1 else "non-negative"
        raise ValueError(f"{cls}: the `{name}` argument must be a tuple of {n} {kind} integers. "
                         f"Received: {name}={value!r}")
    return out


def normalize_padding(value, allowed, cls):
    p = value.lower() if isinstance(value, str) else value
    if p not in allowed:
        raise ValueError(f"{cls}: the `padding` argument must be one of {', '.join(map(repr, allowed))}. "
                         f"Received: padding={value!r}")
    return p


def check_data_format(data_format, cls):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{cls}: only data_format='channels_last' is supported (fastnn's layout is Keras's "
                         f"default). Received: data_format={data_format!r}")
    return "channels_last"


def output_length(size, k, stride, dilation, padding):
    """Keras's output size along one axis (None stays None); <= 0 means no output."""
    if size is None:
        return None
    ke = dilation * (k - 1) + 1
    if padding == "valid":
        return (size - ke) // stride + 1 if size >= ke else 0
    return (size - 1) // stride + 1  # 'same' and 'causal'


def set_geometry(layer, kernel_size, strides, padding, data_format, dilation_rate):
    """A convolution layer's kernel_size, strides, dilation_rate, padding and data_format, checked
    as Keras checks them (``layer.rank`` axes, ``layer._paddings`` allowed)."""
    cls, n = type(layer).__name__, layer.rank
    layer.kernel_size = normalize_tuple(kernel_size, n, "kernel_size", cls)
    layer.strides = normalize_tuple(strides, n, "strides", cls)
    layer.dilation_rate = normalize_tuple(dilation_rate, n, "dilation_rate", cls)
    layer.padding = normalize_padding(padding, layer._paddings, cls)
    layer.data_format = check_data_format(data_format, cls)
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"{cls}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                         f"Received: strides={layer.strides} and dilation_rate={layer.dilation_rate}")


def geometry_config(layer):
    return {
        "kernel_size": tuple(layer.kernel_size),
        "strides": tuple(layer.strides),
        "padding": layer.padding,
        "data_format": layer.data_format,
        "dilation_rate": tuple(layer.dilation_rate),
    }


def spatial_output_shape(layer, input_shape, channels):
    """(N, *out, channels) for a convolution layer's geometry, or the Keras error for an empty output."""
    spatial = tuple(input_shape[1:-1])
    out = tuple(output_length(s, k, st, d, layer.padding)
                for s, k, st, d in zip(spatial, layer.kernel_size, layer.strides, layer.dilation_rate))
    if any(o is not None and o <= 0 for o in out):
        raise output_size_error(layer, input_shape)
    return (input_shape[0],) + out + (channels,)


def output_size_error(layer, input_shape):
    return ValueError(f"Computed output size would be zero or negative. Received `inputs shape="
                      f"{tuple(input_shape)}`, `kernel shape={layer.kernel_size}`, `strides={layer.strides}`, "
                      f"`padding={layer.padding!r}`, `dilation_rate={layer.dilation_rate}`.")


class _BaseConv(Layer):
    """What Conv*D and Conv*DTranspose share: arguments, weights, the forward/backward calls.
    ``rank`` spatial axes; the ops are ``conv{rank}d{_op_suffix}_forward/backward``."""

    activation = ActivationAttribute()  # (assigning it changes what the kernel fuses, as Keras reads it per call)

    rank = 2
    _paddings = ("valid", "same")
    _op_suffix = ""

    def __init__(self, filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                 kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
                 kernel_constraint, bias_constraint, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if type(self).convolution_op is not _BaseConv.convolution_op:
            # (keras.io's weight standardization: the kernels convolve with the kernel as it is, so an
            # override would be silently skipped)
            raise NotImplementedError(
                f"{type(self).__name__} overrides convolution_op(): fastnn's {type(self).__mro__[1].__name__} runs "
                "its convolution, bias and activation in one kernel, which would not use it. Transform the kernel "
                "with a constraint instead (kernel_constraint=..., applied after each update), or write a Layer "
                "of your own")
        self.filters = _positive_int(filters, "filters")
        set_geometry(self, kernel_size, strides, padding, data_format, dilation_rate)
        set_kernel_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{type(self).__name__}: the channel dimension of the inputs should be defined. "
                             f"Full input shape received: {tuple(input_shape)}")
        self.compute_output_shape(input_shape)  # fails early if the output would be empty
        self.kernel = self.add_weight("kernel", self.kernel_size + self._kernel_channels(channels),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        self.built = True

    def _geometry(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def convolution_op(self, inputs, kernel):
        """Keras's: the convolution of ``inputs`` with ``kernel`` (this layer's geometry; no bias,
        no activation), on arrays."""
        forward = getattr(ops, f"conv{self.rank}d{self._op_suffix}_forward")
        return forward(np.ascontiguousarray(inputs, dtype=np.float32), np.ascontiguousarray(kernel, dtype=np.float32),
                       None, activation="linear", alpha=None, **self._geometry())

    def _gradients_wanted(self):
        # a frozen layer (a GAN's discriminator inside the combined model) computes only dx
        return dict(use_bias=self.use_bias and self.trainable, need_dx=self._need_input_grad, need_dw=self.trainable)

    def call(self, inputs, training=False):
        forward = getattr(ops, f"conv{self.rank}d{self._op_suffix}_forward")
        y = forward(inputs, self.kernel, self.bias, activation=self._act, alpha=self._alpha, **self._geometry())
        self._x, self._y = inputs, y
        return activations.unfused_forward(self, y)

    def backward(self, dy):
        backward = getattr(ops, f"conv{self.rank}d{self._op_suffix}_backward")
        dy = activations.unfused_backward(self, dy)
        dx, dw, db = backward(dy, self._x, self.kernel, self._y, activation=self._act, alpha=self._alpha,
                              **self._gradients_wanted(), **self._geometry())
        self._gradients = [dw, db] if self.use_bias else [dw]
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **geometry_config(self), **kernel_bias_config(self)}


class _Conv(_BaseConv):
    """The N-D convolution behind Conv1D/2D/3D."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        if groups != 1:
            raise ValueError(f"{type(self).__name__}: grouped convolution is not supported (groups=1 only). "
                             f"Received: groups={groups!r}")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)

    def _kernel_channels(self, channels):
        return (channels, self.filters)

    # A model fuses this layer with a max pooling that alone consumes its output (models.py):
    # one op for both, so the full-size output and its gradient stay in cache-sized tiles.

    def _pool_geometry(self, pool):
        return dict(pool_size=pool.pool_size, pool_strides=pool.strides, pool_padding=pool.padding,
                    **self._geometry())

    def call_pooled(self, inputs, pool):
        """``pool(self(inputs))`` for the max-pooling layer `pool`, in one pass."""
        forward = getattr(ops, f"conv{self.rank}d_maxpool_forward")
        y, argmax = forward(inputs, self.kernel, self.bias, activation=self._act, alpha=self._alpha,
                            **self._pool_geometry(pool))
        self._x, self._y, self._argmax, self._pool = inputs, y, argmax, pool
        return y

    def backward_pooled(self, dy):
        """The backward pass of `call_pooled` from the gradient of the pooled output."""
        backward = getattr(ops, f"conv{self.rank}d_maxpool_backward")
        dx, dw, db = backward(dy, self._argmax, self._y, self._x, self.kernel, activation=self._act,
                              alpha=self._alpha, **self._gradients_wanted(), **self._pool_geometry(self._pool))
        self._gradients = [dw, db] if self.use_bias else [dw]
        return dx

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(self, input_shape, self.filters)

    def get_config(self):
        return {**super().get_config(), "groups": 1}


@register_layer
class Conv1D(_Conv):
    """1-D convolution over sequences: ``output = activation(conv1d(input, kernel) + bias)``.

    Args:
        filters: the number of output channels.
        kernel_size: an int or a 1-tuple.
        strides: default 1. padding: ``"valid"`` (default), ``"same"`` or ``"causal"``.
        dilation_rate: default 1 (strides > 1 cannot be combined with dilation > 1).
        activation, use_bias, kernel_initializer (``"glorot_uniform"``), bias_initializer
        (``"zeros"``), kernel_regularizer, bias_regularizer, activity_regularizer: as in Keras.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, new_steps, filters)``.
    Weights: ``kernel`` (kernel_size, channels, filters), ``bias`` (filters,).
    """

    rank = 1
    _paddings = ("valid", "same", "causal")


@register_layer
class Conv2D(_Conv):
    """2-D convolution over images: ``output = activation(conv2d(input, kernel) + bias)``.

    Args:
        filters: the number of output channels.
        kernel_size: an int or a 2-tuple ``(KH, KW)``.
        strides: default ``(1, 1)``. padding: ``"valid"`` (default) or ``"same"`` (output size
            ceil(size / stride); an odd total padding puts the extra pixel after).
        dilation_rate: default ``(1, 1)`` (strides > 1 cannot be combined with dilation > 1).
        activation, use_bias, kernel_initializer (``"glorot_uniform"``), bias_initializer
        (``"zeros"``), kernel_regularizer, bias_regularizer, activity_regularizer: as in Keras.

    Input shape: ``(batch, rows, cols, channels)``. Output: ``(batch, new_rows, new_cols, filters)``.
    Weights: ``kernel`` (KH, KW, channels, filters), ``bias`` (filters,): Keras's layouts, so
    ``Conv2D(32, (3, 3), padding="same")`` on 3 channels has 3·3·3·32 + 32 = 896 parameters.
    """

    rank = 2


@register_layer
class Conv3D(_Conv):
    """3-D convolution over volumes: ``output = activation(conv3d(input, kernel) + bias)``.

    Args: as `Conv2D`, with 3-tuples.

    Input shape: ``(batch, depth, rows, cols, channels)``. Output: ``(batch, d', r', c', filters)``.
    Weights: ``kernel`` (KD, KH, KW, channels, filters), ``bias`` (filters,).
    """

    rank = 3


def transpose_output_length(size, k, stride, dilation, padding, output_padding):
    """Keras's output size of a transposed convolution along one axis (deconv_output_length)."""
    if size is None:
        return None
    ke = dilation * (k - 1) + 1
    if output_padding is None:
        return size * stride + (max(ke - stride, 0) if padding == "valid" else 0)
    pad = ke // 2 if padding == "same" else 0
    return (size - 1) * stride + ke - 2 * pad + output_padding


class _ConvTranspose(_BaseConv):
    """The N-D transposed convolution behind Conv1DTranspose/2DTranspose/3DTranspose: the adjoint of
    the convolution with the same kernel, so each input pixel adds its kernel-sized, stride-spaced
    footprint into the (larger) output, as in the decoders of autoencoders and GAN generators."""

    _op_suffix = "_transpose"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        cls = type(self).__name__
        if output_padding is None:
            self.output_padding = None
        else:
            padding_tuple = normalize_tuple(output_padding, self.rank, "output_padding", cls, least=0)
            if any(p >= s for p, s in zip(padding_tuple, self.strides)):
                raise ValueError(f"{cls}: the `output_padding` must be lower than the stride along each axis. "
                                 f"Received: output_padding={output_padding!r}, strides={self.strides}")
            self.output_padding = padding_tuple

    def _kernel_channels(self, channels):
        return (self.filters, channels)  # Keras's transposed layout: output channels first

    def _geometry(self):
        return dict(output_padding=self.output_padding, **super()._geometry())

    def compute_output_shape(self, input_shape):
        spatial = tuple(input_shape[1:-1])
        pads = self.output_padding or (None,) * self.rank
        out = tuple(transpose_output_length(s, k, st, d, self.padding, p)
                    for s, k, st, d, p in zip(spatial, self.kernel_size, self.strides, self.dilation_rate, pads))
        if any(o is not None and o <= 0 for o in out):
            raise output_size_error(self, input_shape)
        return (input_shape[0],) + out + (self.filters,)

    def get_config(self):
        pads = None if self.output_padding is None else tuple(self.output_padding)
        return {**super().get_config(), "output_padding": pads}


@register_layer
class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution ("deconvolution") over sequences.

    Args: as `Conv2DTranspose`, with 1-tuples. Input shape: ``(batch, steps, channels)``. Output:
    ``(batch, new_steps, filters)``. Weights: ``kernel`` (kernel_size, filters, channels), ``bias``.
    """

    rank = 1


@register_layer
class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution ("deconvolution"): upsamples images, e.g. an autoencoder's decoder
    or a DCGAN generator, ``Conv2DTranspose(64, 5, strides=2, padding="same")`` doubling H and W.

    Args:
        filters: the number of output channels.
        kernel_size: an int or a 2-tuple ``(KH, KW)``.
        strides: default ``(1, 1)``. padding: ``"valid"`` (default; output size
            ``size·stride + max(k - stride, 0)``) or ``"same"`` (output size ``size·stride``).
        output_padding: None (default: the sizes above) or an int / 2-tuple, each lower than the
            stride: the output size becomes ``(size - 1)·stride + k - 2·pad + output_padding`` with
            pad = k // 2 for "same" and 0 for "valid" (k dilated).
        dilation_rate: default ``(1, 1)`` (strides > 1 cannot be combined with dilation > 1).
        activation, use_bias, kernel_initializer (``"glorot_uniform"``), bias_initializer
        (``"zeros"``), kernel_regularizer, bias_regularizer, activity_regularizer: as in Keras.

    Input shape: ``(batch, rows, cols, channels)``. Output: ``(batch, new_rows, new_cols, filters)``.
    Weights: ``kernel`` (KH, KW, filters, channels) -- Keras's transposed layout -- and ``bias``
    (filters,), so ``Conv2DTranspose(32, 3)`` on 64 channels has 3·3·32·64 + 32 = 18,464 parameters.
    """

    rank = 2


@register_layer
class Conv3DTranspose(_ConvTranspose):
    """3-D transposed convolution over volumes. Args: as `Conv2DTranspose`, with 3-tuples.

    Input shape: ``(batch, depth, rows, cols, channels)``. Output: ``(batch, d', r', c', filters)``.
    Weights: ``kernel`` (KD, KH, KW, filters, channels), ``bias`` (filters,).
    """

    rank = 3


class _DepthwiseBase(Layer):
    """What DepthwiseConv*D and SeparableConv*D share: the geometry, the depth multiplier, the
    activation and the depthwise kernel ``(*kernel_size, channels, depth_multiplier)`` run by
    ``ops.depthwise_conv{rank}d_forward/backward``."""

    activation = ActivationAttribute()

    rank = 2
    _paddings = ("valid", "same")

    def _init_depthwise(self, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                        activation, use_bias):
        set_geometry(self, kernel_size, strides, padding, data_format, dilation_rate)
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, (int, np.integer)) \
                or depth_multiplier <= 0:
            raise ValueError(f"{type(self).__name__}: invalid value for argument `depth_multiplier`. Expected a "
                             f"strictly positive integer. Received depth_multiplier={depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _channels(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{type(self).__name__}: the channel dimension of the inputs should be defined. "
                             f"Full input shape received: {tuple(input_shape)}")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        return channels

    def _depthwise(self, name, channels):
        return self.add_weight(name, self.kernel_size + (channels, self.depth_multiplier), self.depthwise_initializer,
                               self.depthwise_regularizer, constraint=self.depthwise_constraint)

    def _depthwise_op(self, part):
        return getattr(ops, f"depthwise_conv{self.rank}d_{part}")

    def _geometry(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def get_config(self):
        return {**super().get_config(), **geometry_config(self), "depth_multiplier": self.depth_multiplier,
                "activation": activations.config_name(self), "use_bias": self.use_bias}


class _DepthwiseConv(_DepthwiseBase):
    """The N-D depthwise convolution behind DepthwiseConv1D/2D: each input channel convolved on its
    own with ``depth_multiplier`` filters, bias and activation fused into the op."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._init_depthwise(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                             use_bias)
        set_weight_options(self, depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                          bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.kernel = self.bias = None

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.compute_output_shape(input_shape)  # fails early if the output would be empty
        self.kernel = self._depthwise("kernel", channels)  # Keras 3's name
        if self.use_bias:
            self.bias = self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer,
                                        self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs, training=False):
        y = self._depthwise_op("forward")(inputs, self.kernel, self.bias, activation=self._act, alpha=self._alpha,
                                          **self._geometry())
        self._x, self._y = inputs, y
        return activations.unfused_forward(self, y)

    def backward(self, dy):
        dy = activations.unfused_backward(self, dy)
        dx, dw, db = self._depthwise_op("backward")(
            dy, self._x, self.kernel, self._y, activation=self._act, alpha=self._alpha,
            use_bias=self.use_bias and self.trainable, need_dx=self._need_input_grad, need_dw=self.trainable,
            **self._geometry())
        self._gradients = [dw, db] if self.use_bias else [dw]
        return dx

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] * self.depth_multiplier
        return spatial_output_shape(self, input_shape, channels)

    def get_config(self):
        return {**super().get_config(), **weight_options_config(self, "depthwise", "bias")}


@register_layer
class DepthwiseConv1D(_DepthwiseConv):
    """1-D depthwise convolution: each channel of a sequence filtered on its own.

    Args: as `DepthwiseConv2D`, with 1-tuples. Input shape: ``(batch, steps, channels)``. Output:
    ``(batch, new_steps, channels * depth_multiplier)``. Weights: ``kernel`` (kernel_size, channels,
    depth_multiplier), ``bias`` (channels * depth_multiplier,).
    """

    rank = 1


@register_layer
class DepthwiseConv2D(_DepthwiseConv):
    """2-D depthwise convolution: each input channel convolved with its own ``depth_multiplier``
    filters (no mixing across channels), as in MobileNet's blocks.

    Args:
        kernel_size: an int or a 2-tuple ``(KH, KW)``.
        strides: default ``(1, 1)``. padding: ``"valid"`` (default) or ``"same"``.
        depth_multiplier: output channels per input channel (default 1); output channel
            ``c * depth_multiplier + m`` is input channel c's m-th filter.
        dilation_rate: default ``(1, 1)`` (strides > 1 cannot be combined with dilation > 1).
        activation, use_bias, depthwise_initializer (``"glorot_uniform"``), bias_initializer
        (``"zeros"``), depthwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, bias_constraint: as in Keras.

    Input shape: ``(batch, rows, cols, channels)``. Output: ``(batch, new_rows, new_cols,
    channels * depth_multiplier)``. Weights: ``kernel`` (KH, KW, channels, depth_multiplier) and
    ``bias`` (channels * depth_multiplier,), Keras's layouts: ``DepthwiseConv2D(3)`` on 32 channels
    has 3·3·32 + 32 = 320 parameters.
    """

    rank = 2


class _SeparableConv(_DepthwiseBase):
    """The N-D depthwise separable convolution behind SeparableConv1D/2D: a depthwise convolution
    (no bias, no activation) then a pointwise 1×1 convolution to ``filters`` channels with the bias
    and the activation, run as one GEMM over all pixels (``ops.dense_forward``)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = _positive_int(filters, "filters")
        self._init_depthwise(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                             use_bias)
        set_weight_options(self, depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                          pointwise=(pointwise_initializer, pointwise_regularizer, pointwise_constraint),
                          bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.depthwise_kernel = self.pointwise_kernel = self.bias = None

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self._depthwise("depthwise_kernel", channels)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer, self.pointwise_regularizer, constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def _pointwise_matrix(self):
        return self.pointwise_kernel.reshape(-1, self.filters)

    def call(self, inputs, training=False):
        d = self._depthwise_op("forward")(inputs, self.depthwise_kernel, **self._geometry())  # (N, *out, C·M)
        y = ops.dense_forward(d.reshape(-1, d.shape[-1]), self._pointwise_matrix(), self.bias, self._act, self._alpha)
        self._x, self._d, self._y = inputs, d, y
        return activations.unfused_forward(self, y).reshape(d.shape[:-1] + (self.filters,))

    def backward(self, dy):
        dy = activations.unfused_backward(self, dy)
        d, trainable = self._d, self.trainable
        dd, dp, db = ops.dense_backward(dy.reshape(-1, self.filters), d.reshape(-1, d.shape[-1]),
                                        self._pointwise_matrix(), self._y, self._act, self._alpha,
                                        use_bias=self.use_bias and trainable, need_dx=True, need_dw=trainable)
        need_dx = self._need_input_grad
        dx, ddw, _ = self._depthwise_op("backward")(dd.reshape(d.shape), self._x, self.depthwise_kernel,
                                                    use_bias=False, need_dx=need_dx, need_dw=trainable,
                                                    **self._geometry())
        dp = None if dp is None else dp.reshape(self.pointwise_kernel.shape)
        self._gradients = [ddw, dp, db] if self.use_bias else [ddw, dp]
        return dx

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(self, input_shape, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                **weight_options_config(self, "depthwise", "pointwise", "bias")}


@register_layer
class SeparableConv1D(_SeparableConv):
    """1-D depthwise separable convolution. Args: as `SeparableConv2D`, with 1-tuples.

    Input shape: ``(batch, steps, channels)``. Output: ``(batch, new_steps, filters)``. Weights:
    ``depthwise_kernel`` (kernel_size, channels, depth_multiplier), ``pointwise_kernel`` (1,
    channels * depth_multiplier, filters), ``bias`` (filters,).
    """

    rank = 1


@register_layer
class SeparableConv2D(_SeparableConv):
    """2-D depthwise separable convolution: a depthwise convolution of each channel, then a 1×1
    convolution mixing the channels into ``filters`` outputs. Far fewer weights and FLOPs than a
    `Conv2D` of the same size, as in Xception and Keras's "image classification from scratch".

    Args:
        filters: the number of output channels.
        kernel_size: an int or a 2-tuple ``(KH, KW)`` of the depthwise step.
        strides: default ``(1, 1)``. padding: ``"valid"`` (default) or ``"same"``.
        dilation_rate: default ``(1, 1)`` (strides > 1 cannot be combined with dilation > 1).
        depth_multiplier: depthwise output channels per input channel (default 1).
        activation, use_bias, depthwise_initializer / pointwise_initializer (``"glorot_uniform"``),
        bias_initializer (``"zeros"``), depthwise_regularizer, pointwise_regularizer,
        bias_regularizer, activity_regularizer, depthwise_constraint, pointwise_constraint,
        bias_constraint: as in Keras.

    Input shape: ``(batch, rows, cols, channels)``. Output: ``(batch, new_rows, new_cols, filters)``.
    Weights, in Keras's order and layouts: ``depthwise_kernel`` (KH, KW, channels,
    depth_multiplier), ``pointwise_kernel`` (1, 1, channels * depth_multiplier, filters), ``bias``
    (filters,): ``SeparableConv2D(64, 3)`` on 32 channels has 3·3·32 + 32·64 + 64 = 2,400 parameters.
    """

    rank = 2


# tf.keras aliases
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose, Convolution3DTranspose = Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
