"""fastnn.layers.normalization — BatchNormalization over the last (channels) axis."""

from __future__ import annotations

import numpy as np

from .. import constraints, initializers, ops, regularizers
from .base import InputSpec, Layer, register_layer


@register_layer
class BatchNormalization(Layer):
    """Normalises each channel with batch statistics in training, moving ones at inference.

    Training: ``y = gamma · (x - mean) / sqrt(var + epsilon) + beta`` with the batch's mean and
    (biased) variance per channel, and ``moving = moving · momentum + batch · (1 - momentum)``.
    Inference: the same with ``moving_mean``/``moving_variance``. A frozen layer
    (``trainable=False``) always runs in inference mode, as in Keras. Forward and backward are
    the C++ ``batchnorm_forward``/``batchnorm_backward`` kernels.

    Args:
        axis: the channels axis; only the last axis (-1) is supported (channels-last layouts).
        momentum: default 0.99. epsilon: default 1e-3.
        center, scale: whether to learn ``beta`` and ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: default zeros, ones, zeros, ones.
        beta_regularizer, gamma_regularizer: optional penalties.

    Input shape: ``(batch, ..., channels)``. Output shape: the same.
    Weights: ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = axis[0] if len(axis) == 1 else axis
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"BatchNormalization: expected an integer axis. Received: axis={axis!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"BatchNormalization: expected momentum in [0, 1]. Received: momentum={momentum!r}")
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"BatchNormalization: expected epsilon > 0. Received: epsilon={epsilon!r}")
        if synchronized:
            raise ValueError("BatchNormalization: synchronized=True is not supported (fastnn runs on one CPU)")
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if ndim < 2 or self.axis not in (-1, ndim - 1):
            raise ValueError("BatchNormalization: only the last axis of an input with a batch axis can be normalised "
                             f"(channels-last). Received: axis={self.axis}, input shape {tuple(input_shape)}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"BatchNormalization: the channels axis must be defined. Received: input shape {tuple(input_shape)}")
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={-1: channels})
        self.built = True

    def call(self, inputs, training=False):
        x = inputs
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        batch_stats = bool(training) and self.trainable
        y, mean, inv_std = ops.batchnorm_forward(x2, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                                                 training=batch_stats, momentum=self.momentum, epsilon=self.epsilon)
        self._x, self._mean, self._inv_std, self._batch_stats, self._x_shape = x2, mean, inv_std, batch_stats, x.shape
        return y if x.ndim == 2 else y.reshape(x.shape)

    def backward(self, dy):
        dy2 = dy if dy.ndim == 2 else dy.reshape(self._x.shape)
        dx, dgamma, dbeta = ops.batchnorm_backward(dy2, self._x, self.gamma, self._mean, self._inv_std,
                                                   training=self._batch_stats, need_dx=self._need_input_grad,
                                                   center=self.center)
        self._gradients = ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])
        if dx is None or len(self._x_shape) == 2:
            return dx
        return dx.reshape(self._x_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
        return {**super().get_config(), **config}
