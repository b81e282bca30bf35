"""fastnn.layers.normalization — BatchNormalization over a channels axis, LayerNormalization over
each sample's last axis (or other axes), GroupNormalization, and UnitNormalization (Keras 3's).

The batch-normalisation kernels take the channels last; another channels axis (``axis=1`` of a
channels-first (N, C, H, W) input) is moved to the end for them and back, forward and backward."""

from __future__ import annotations

import numpy as np

from .. import constraints, initializers, ops, regularizers
from .base import InputSpec, Layer, register_layer, set_weight_options, weight_options_config


class _ScaleShift(Layer):
    """What both normalisations share: ``epsilon`` and the learned ``gamma`` (scale) and ``beta``
    (center), with their initializers, regularizers and constraints. Both pass
    a mask on. (Keras's BatchNormalization also leaves the masked steps out of its training
    statistics; fastnn's kernels include them.)"""

    supports_masking = True

    def _channel_axis(self, ndim):
        """``axis`` as a non-negative index into an input of rank ``ndim``: any axis but the batch axis."""
        if ndim < 2:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input needs a batch axis and a channels "
                             f"axis. Received: an input of rank {ndim}, axis={self.axis}")
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            raise ValueError(f"{type(self).__name__} '{self.name}': `axis` must be a channels axis of the input, not "
                             f"its batch axis: 1..{ndim - 1} or -{ndim - 1}..-1 for an input of rank {ndim}. "
                             f"Received: axis={self.axis}")
        return axis

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"{cls}: expected epsilon > 0. Received: epsilon={epsilon!r}")
        self.center, self.scale = bool(center), bool(scale)
        set_weight_options(self, beta=(beta_initializer, beta_regularizer, beta_constraint),
                           gamma=(gamma_initializer, gamma_regularizer, gamma_constraint))
        self.gamma = self.beta = None

    def _add_scale_shift(self, features):
        shape = tuple(features) if isinstance(features, (list, tuple)) else (features,)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, **weight_options_config(self, "beta", "gamma")}


@register_layer
class BatchNormalization(_ScaleShift):
    """Normalises each channel with batch statistics in training, moving ones at inference.

    Training: ``y = gamma · (x - mean) / sqrt(var + epsilon) + beta`` with the batch's mean and
    (biased) variance per channel, and ``moving = moving · momentum + batch · (1 - momentum)``.
    Inference: the same with ``moving_mean``/``moving_variance``. A frozen layer
    (``trainable=False``) always runs in inference mode, as in Keras. Forward and backward are
    the C++ ``batchnorm_forward``/``batchnorm_backward`` kernels. With a mask (after
    ``Embedding(mask_zero=True)`` or ``Masking``), training takes the statistics over the
    unmasked steps only and normalises every step with them, as Keras 3 does (in NumPy); with a
    channels axis other than the last, the mask may cover only the axes before it.

    Args:
        axis: the channels axis (default -1, channels-last); any axis but the batch axis, e.g.
            ``axis=1`` for channels-first (N, C, L) or (N, C, H, W) inputs.
        momentum: default 0.99. epsilon: default 1e-3.
        center, scale: whether to learn ``beta`` and ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: default zeros, ones, zeros, ones.
        beta_regularizer, gamma_regularizer: optional penalties.

    Input shape: ``(batch, ..., channels)`` (channels on ``axis``). Output shape: the same.
    Weights: ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``, each (channels,).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        if isinstance(axis, (list, tuple)):
            axis = axis[0] if len(axis) == 1 else axis
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"BatchNormalization: expected an integer axis. Received: axis={axis!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"BatchNormalization: expected momentum in [0, 1]. Received: momentum={momentum!r}")
        if synchronized:
            raise ValueError("BatchNormalization: synchronized=True is not supported (fastnn runs on one CPU)")
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.moving_mean = self.moving_variance = None
        self._moved_axis = None  # (the channels axis of the last call when it is not the last axis)


    def build(self, input_shape):
        ndim = len(input_shape)
        channels = input_shape[self._channel_axis(ndim)]
        if channels is None or channels < 1:
            raise ValueError("BatchNormalization: the channels axis must be defined and not empty. Received: input "
                             f"shape {tuple(input_shape)}, axis={self.axis}")
        shape = (channels,)
        self._add_scale_shift(channels)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})
        self.built = True

    def call(self, inputs, training=False, mask=None):
        axis = self._channel_axis(inputs.ndim)
        self._moved_axis = None if axis == inputs.ndim - 1 else axis
        if self._moved_axis is None:
            return self._call_channels_last(inputs, training, mask)
        # channels-first (or another axis): the kernels' layout, channels last, and back
        if mask is not None and np.ndim(mask) > axis:
            raise ValueError(f"BatchNormalization '{self.name}': with axis={self.axis}, a mask must cover only axes "
                             f"before the channels axis (the batch, ...): at most {axis} axes. Received: a mask of "
                             f"shape {np.shape(mask)} for an input of shape {inputs.shape}")
        y = self._call_channels_last(np.ascontiguousarray(np.moveaxis(inputs, axis, -1)), training, mask)
        return np.ascontiguousarray(np.moveaxis(y, -1, axis))

    def _call_channels_last(self, x, training, mask):
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        batch_stats = bool(training) and self.trainable
        self._kept = None
        if batch_stats and mask is not None and not np.all(mask):
            return self._masked_call(x, x2, np.asarray(mask, bool))
        y, mean, inv_std = ops.batchnorm_forward(x2, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                                                 training=batch_stats, momentum=self.momentum, epsilon=self.epsilon)
        self._x, self._mean, self._inv_std, self._batch_stats, self._x_shape = x2, mean, inv_std, batch_stats, x.shape
        return y if x.ndim == 2 else y.reshape(x.shape)

    def _masked_call(self, x, x2, mask):
        """Training with a mask: mean and (biased) variance over the kept rows, every row
        normalised with them; the moving statistics as the kernel updates them."""
        if mask.shape != x.shape[:mask.ndim]:
            raise ValueError(f"BatchNormalization '{self.name}': the mask {mask.shape} must cover the input's leading "
                             f"axes {x.shape[:-1]}")
        kept = np.broadcast_to(mask.reshape(mask.shape + (1,) * (x.ndim - 1 - mask.ndim)), x.shape[:-1]).reshape(-1)
        if not kept.any():  # nothing to take statistics from: the moving ones, as at inference
            y, mean, inv_std = ops.batchnorm_forward(x2, self.gamma, self.beta, self.moving_mean,
                                                     self.moving_variance, training=False, epsilon=self.epsilon)
            self._x, self._mean, self._inv_std, self._batch_stats, self._x_shape = x2, mean, inv_std, False, x.shape
            return y.reshape(x.shape)
        rows = x2[kept].astype(np.float64)
        mean, var = rows.mean(axis=0), rows.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + self.epsilon)
        xhat = (x2 - mean) * inv_std
        y = xhat * (self.gamma if self.gamma is not None else 1.0) + (self.beta if self.beta is not None else 0.0)
        m = self.momentum
        self.moving_mean[...] = self.moving_mean * m + mean.astype(self.moving_mean.dtype) * (1 - m)
        self.moving_variance[...] = self.moving_variance * m + var.astype(self.moving_variance.dtype) * (1 - m)
        self._kept, self._xhat, self._masked_inv_std, self._x_shape = kept, xhat, inv_std, x.shape
        return y.astype(self.dtype).reshape(x.shape)

    def _masked_backward(self, dy):
        # y = g·xhat + b for every row, the moments from the kept rows only: the sums run over
        # every row (every output depends on the moments), the moments' share goes to kept rows
        kept, xhat, inv_std = self._kept, self._xhat, self._masked_inv_std
        dy2 = dy.reshape(xhat.shape).astype(np.float64)
        g = self.gamma if self.gamma is not None else 1.0
        sum_dy, sum_dy_xhat = dy2.sum(axis=0), (dy2 * xhat).sum(axis=0)
        self._gradients = ([sum_dy_xhat.astype(self.dtype)] if self.scale else []) + \
            ([sum_dy.astype(self.dtype)] if self.center else [])
        if not self._need_input_grad:
            return None
        share = kept[:, None] / np.count_nonzero(kept)
        dx = g * inv_std * (dy2 - share * (sum_dy + xhat * sum_dy_xhat))
        return dx.astype(self.dtype).reshape(self._x_shape)

    def backward(self, dy):
        axis = self._moved_axis
        if axis is None:
            return self._backward_channels_last(dy)
        dx = self._backward_channels_last(np.ascontiguousarray(np.moveaxis(dy, axis, -1)))
        return None if dx is None else np.ascontiguousarray(np.moveaxis(dx, -1, axis))

    def _backward_channels_last(self, dy):
        if self._kept is not None:
            return self._masked_backward(dy)
        dy2 = dy if dy.ndim == 2 else dy.reshape(self._x.shape)
        dx, dgamma, dbeta = ops.batchnorm_backward(dy2, self._x, self.gamma, self._mean, self._inv_std,
                                                   training=self._batch_stats, need_dx=self._need_input_grad,
                                                   center=self.center)
        self._gradients = ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])
        if dx is None or len(self._x_shape) == 2:
            return dx
        return dx.reshape(self._x_shape)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer)}


@register_layer
class LayerNormalization(_ScaleShift):
    """Normalises each sample over ``axis``: ``y = gamma · (x - mean) / sqrt(var + epsilon) + beta``
    with the mean and (biased) variance of that sample's values over those axes, in training and
    inference alike, as Keras 3's. Over the last axis (or the last few): the layernorm kernel
    (statistics in double); over other axes: NumPy, in float64.

    Args:
        axis: an integer or a list/tuple of integers, the axes to normalise over (default -1,
            the features). ``gamma`` and ``beta`` span them: their shape is the input's sizes
            on those axes in increasing order, as Keras 3 sorts them when built (``axis=[-1, -2]``
            on (N, 7, 5, 4) becomes ``[2, 3]``, gamma (5, 4)), so Keras's weights load as they are.
        epsilon: default 1e-3. center, scale: learn ``beta`` and ``gamma``.
        beta/gamma initializer, regularizer and constraint as BatchNormalization's.

    Weights: ``gamma``, ``beta``, each (features,) for the default axis.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axis):
                raise ValueError("LayerNormalization: expected `axis` to be an integer or a non-empty list/tuple of "
                                 f"integers. Received: axis={axis!r}")
            axis = int(axis[0]) if len(axis) == 1 else [int(a) for a in axis]
        elif isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError("LayerNormalization: expected `axis` to be an integer or a non-empty list/tuple of "
                             f"integers. Received: axis={axis!r}")
        else:
            axis = int(axis)
        if rms_scaling:
            raise ValueError("LayerNormalization: rms_scaling=True is not supported")
        self.axis = axis
        self.input_spec = InputSpec(min_ndim=2) if axis == -1 else None

    def _axes(self, ndim):
        """``axis`` as non-negative indices, in the order given; a ValueError unless each is an axis
        of an input of rank ``ndim``, once."""
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in given:
            if not -ndim <= a < ndim:
                raise ValueError(f"LayerNormalization '{self.name}': `axis` must name axes of the input, in "
                                 f"[{-ndim}, {ndim}) for an input of rank {ndim}. Received: axis={self.axis!r}")
        axes = [a % ndim for a in given]
        if len(set(axes)) != len(axes):
            raise ValueError(f"LayerNormalization '{self.name}': `axis` names the same axis twice. Received: "
                             f"axis={self.axis!r} for an input of rank {ndim}")
        return axes

    def build(self, input_shape):
        ndim = len(input_shape)
        if self.axis == -1:
            features = input_shape[-1] if ndim else None
            if features is None:
                raise ValueError(f"LayerNormalization: the last axis must be known. Received: {tuple(input_shape)}")
            self._add_scale_shift(features)
            self.input_spec = InputSpec(min_ndim=2, axes={-1: features})
        else:
            axes = sorted(self._axes(ndim))
            shape = [input_shape[a] for a in axes]
            if any(d is None for d in shape):
                raise ValueError(f"LayerNormalization '{self.name}': the axes it normalises over (axis={self.axis!r}) "
                                 f"must have defined sizes. Received: input shape {tuple(input_shape)}")
            self._add_scale_shift(shape)
            # (Keras 3 keeps the axes sorted from here on: axis=[-1, -2] becomes [2, 3] for rank 4)
            self.axis = axes if len(axes) > 1 else axes[0]
            self.input_spec = InputSpec(ndim=ndim, axes=dict(zip(axes, shape)))
        self.built = True

    def _layout(self, input_shape):
        """The reduction axes (a tuple) and the shape ``gamma``/``beta`` are reshaped to, as Keras
        reshapes them: the input's sizes on ``axis``, 1 elsewhere (None for the default axis)."""
        ndim = len(input_shape)
        if self.axis == -1:
            return (ndim - 1,), None
        axes = self._axes(ndim)
        return tuple(sorted(axes)), tuple(input_shape[a] if a in axes else 1 for a in range(ndim))

    def call(self, inputs, training=False):
        axes, shape = self._layout(inputs.shape)
        self._norm_axes, self._param_shape = axes, shape
        self._trailing = axes == tuple(range(inputs.ndim - len(axes), inputs.ndim))
        if self._trailing:
            # the usual case (the last axis, or the last few): the layernorm kernel on rows of the
            # normalised values, gamma and beta flattened alike
            features = int(np.prod([inputs.shape[a] for a in axes], dtype=np.int64))
            self._x = x = inputs.reshape(inputs.shape[:inputs.ndim - len(axes)] + (features,))
            y, self._mean, self._inv_std = ops.layernorm_forward(
                x, self.gamma.reshape(-1) if self.scale else None, self.beta.reshape(-1) if self.center else None,
                epsilon=self.epsilon)
            return y.reshape(inputs.shape).astype(inputs.dtype, copy=False)
        x = inputs.astype(np.float64)
        mean = x.mean(axis=axes, keepdims=True)
        self._inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + self.epsilon)
        self._xhat = (x - mean) * self._inv_std
        y = self._xhat * self._param(self.gamma) if self.scale else self._xhat.copy()
        if self.center:
            y += self._param(self.beta)
        return y.astype(inputs.dtype)

    def _param(self, w):
        return w if self._param_shape is None else w.reshape(self._param_shape)

    def backward(self, dy):
        if self._trailing:
            dx, dgamma, dbeta = ops.layernorm_backward(
                dy.reshape(self._x.shape), self._x, self.gamma.reshape(-1) if self.scale else None, self._mean,
                self._inv_std, need_dx=self._need_input_grad, center=self.center)
            self._gradients = ([dgamma.reshape(self.gamma.shape)] if self.scale else []) + \
                ([dbeta.reshape(self.beta.shape)] if self.center else [])
            return None if dx is None else dx.reshape(dy.shape).astype(dy.dtype, copy=False)
        xhat, axes = self._xhat, self._norm_axes
        d = dy.astype(np.float64)
        # gamma and beta vary over the normalised axes: their gradients sum over the others
        others = tuple(a for a in range(dy.ndim) if a not in axes)
        grads = []
        if self.scale:
            grads.append(np.sum(d * xhat, axis=others).reshape(self.gamma.shape).astype(self.gamma.dtype))
        if self.center:
            grads.append(np.sum(d, axis=others).reshape(self.beta.shape).astype(self.beta.dtype))
        self._gradients = grads
        if not self._need_input_grad:
            return None
        dxhat = d * self._param(self.gamma) if self.scale else d
        dx = self._inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                              - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        return dx.astype(dy.dtype)

    def compute_output_shape(self, input_shape):
        if self.axis != -1:
            self._axes(len(input_shape))
        return tuple(input_shape)


def _int_axis(axis, cls):
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{cls}: expected an integer axis. Received: axis={axis!r}")
    return int(axis)


@register_layer
class GroupNormalization(_ScaleShift):
    """Group normalization (Wu & He, 2018), as Keras 3's: the channels of ``axis`` are split into
    ``groups`` groups, and each sample is normalised with the mean and (biased) variance of each
    group over its channels and every other non-batch axis; then ``gamma`` and ``beta`` per
    channel. ``groups=1`` is close to LayerNormalization, ``groups=-1`` (one channel per group)
    is instance normalization. Training and inference alike; statistics in double (the groupnorm
    kernel, channels last; another channels axis is moved last).

    Args:
        groups: a positive integer dividing the channels (default 32), or -1 (as many groups as
            channels; the config then records the channel count, as Keras's).
        axis: the channels axis (default -1); any axis but the batch axis.
        epsilon: default 1e-3. center, scale: learn ``beta`` and ``gamma``.
        beta/gamma initializer, regularizer and constraint: as LayerNormalization's.

    Weights: ``gamma``, ``beta``, each (channels,). Passes a mask on unchanged (as Keras).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (groups <= 0 and groups != -1):
            raise ValueError("GroupNormalization: received an invalid value for argument `groups`, expected a "
                             f"positive integer (or -1 for instance normalization). Received: groups={groups!r}")
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        self.groups = int(groups)
        self.axis = _int_axis(axis, "GroupNormalization")


    def build(self, input_shape):
        ndim = len(input_shape)
        if ndim < 2:
            raise ValueError(f"GroupNormalization '{self.name}': the input needs a batch axis and a channels axis. "
                             f"Received: input shape {tuple(input_shape)}")
        axis = self._channel_axis(ndim)
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f"GroupNormalization '{self.name}': axis {self.axis} of the input must have a defined "
                             f"dimension. Received: input shape {tuple(input_shape)}")
        groups = dim if self.groups == -1 else self.groups
        if groups > dim or dim % groups:
            raise ValueError(f"GroupNormalization '{self.name}': `groups` must divide the number of channels (axis "
                             f"{self.axis}, {dim} channels) and be at most {dim}. Received: groups={self.groups}")
        self.groups = groups
        self._add_scale_shift(dim)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: dim})
        self.built = True

    def call(self, inputs, training=False):
        axis = self._channel_axis(inputs.ndim)
        # the groupnorm kernel takes the channels last (another axis: a transposed copy)
        self._x = x = np.moveaxis(inputs, axis, -1)
        y, self._mean, self._inv_std = ops.groupnorm_forward(
            x, self.gamma if self.scale else None, self.beta if self.center else None, groups=self.groups,
            epsilon=self.epsilon)
        return np.moveaxis(y, -1, axis).astype(inputs.dtype, copy=False)

    def backward(self, dy):
        axis = self._channel_axis(dy.ndim)
        dx, dgamma, dbeta = ops.groupnorm_backward(
            np.moveaxis(dy, axis, -1), self._x, self.gamma if self.scale else None, self._mean, self._inv_std,
            groups=self.groups, need_dx=self._need_input_grad, center=self.center)
        self._gradients = ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])
        return None if dx is None else np.moveaxis(dx, -1, axis).astype(dy.dtype, copy=False)

    def compute_output_shape(self, input_shape):
        self._channel_axis(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@register_layer
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along ``axis`` (an int or a list of ints; default -1),
    as Keras 3's: ``x * rsqrt(max(sum(x²), 1e-24))`` (a zero vector stays zero, with a finite
    gradient). No weights; passes a mask on unchanged."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axis):
                raise ValueError(f"UnitNormalization: `axis` must be an int or a non-empty list/tuple of ints. "
                                 f"Received: axis={axis!r}")
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise ValueError("UnitNormalization: `axis` must be an int or a list/tuple of ints. "
                             f"Received: axis={axis!r}")

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(f"UnitNormalization '{self.name}': axis {a} is out of bounds for an input of rank "
                                 f"{ndim}. Received: axis={self.axis!r}")
        return tuple(a % ndim for a in axes)

    def build(self, input_shape):
        self._axes(len(input_shape))
        self.built = True

    def call(self, inputs, training=False):
        x = inputs.astype(np.float64)
        square_sum = np.sum(x * x, axis=self._axes(x.ndim), keepdims=True)
        self._clamped = square_sum < 1e-24
        self._inv = 1.0 / np.sqrt(np.maximum(square_sum, 1e-24))
        self._y = x * self._inv
        return self._y.astype(inputs.dtype)

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        d = dy.astype(np.float64)
        along = np.sum(d * self._y, axis=self._axes(dy.ndim), keepdims=True)
        dx = self._inv * (d - np.where(self._clamped, 0.0, self._y * along))
        return dx.astype(dy.dtype)

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
