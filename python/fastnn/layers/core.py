"""fastnn.layers.core — Dense, Activation (and ReLU, LeakyReLU, ELU, Softmax, PReLU), Identity,
Flatten, Reshape, Dropout, Masking, ActivityRegularization. Every computation goes through
`fastnn.ops` (PReLU's and Masking's NumPy passes aside); reshapes are views. As in Keras, Dense,
the activations, Identity, Dropout and ActivityRegularization pass a mask on unchanged; Flatten
and Reshape drop it."""

from __future__ import annotations

import math

import numpy as np

from .. import activations, ops, regularizers, utils
from .base import (ActivationAttribute, InputSpec, Layer, _positive_int, register_layer, set_weight_options,
                   weight_options_config)


def set_kernel_bias_options(layer, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                            bias_regularizer, kernel_constraint, bias_constraint):
    """Resolve the arguments that ``kernel_bias_config`` writes back (Dense, Conv*); the weights come in build."""
    layer.activation = activation  # (an `ActivationAttribute`: what the kernel fuses follows it)
    layer.use_bias = bool(use_bias)
    set_weight_options(layer, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                       bias=(bias_initializer, bias_regularizer, bias_constraint))
    layer.kernel = layer.bias = None


def kernel_bias_config(layer):
    """The config keys of a layer with an activation, a kernel and an optional bias (Dense, Conv*)."""
    return {"activation": activations.config_name(layer), "use_bias": layer.use_bias,
            **weight_options_config(layer, "kernel", "bias")}


@register_layer
class Dense(Layer):
    """Densely-connected layer: ``output = activation(dot(input, kernel) + bias)``.

    The bias add and the activation are fused into the GEMM (``ops.dense_forward``). Inputs of
    rank > 2 are treated as a batch of rows over the last axis, like Keras.

    Args:
        units: positive integer, the output size.
        activation: a name (``"relu"``), a `fastnn.activations` function, or None (linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: default ``"glorot_uniform"`` and ``"zeros"``.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: projections after each update (`fastnn.constraints`).

    Input shape: ``(batch, ..., input_dim)``. Output shape: ``(batch, ..., units)``.
    Weights: ``kernel`` (input_dim, units), ``bias`` (units,).
    """

    supports_masking = True
    activation = ActivationAttribute()  # (assigning it changes what the kernel fuses, as Keras reads it per call)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = _positive_int(units, "units")
        set_kernel_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        in_dim = input_shape[-1] if len(input_shape) >= 2 else None
        if in_dim is None:
            raise ValueError("The last dimension of the inputs to a Dense layer should be defined, and the input "
                             f"should have a batch axis. Full input shape received: {tuple(input_shape)}")
        if in_dim < 1:
            raise ValueError(f"Dense: the inputs' last axis (the features) must not be empty. Full input shape "
                             f"received: {tuple(input_shape)}")
        self.kernel = self.add_weight("kernel", (in_dim, self.units), self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def call(self, inputs, training=False):
        x = inputs
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        y = ops.dense_forward(x2, self.kernel, self.bias, self._act, self._alpha)
        self._x, self._y, self._x_shape = x2, y, x.shape
        y = activations.unfused_forward(self, y)
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (self.units,))

    def _backward(self, dy, act):
        dy2 = dy if dy.ndim == 2 else dy.reshape(-1, self.units)
        # a frozen layer (a GAN's discriminator inside the combined model) computes only dx
        dx, dw, db = ops.dense_backward(dy2, self._x, self.kernel, self._y, act, self._alpha,
                                        use_bias=self.use_bias and self.trainable, need_dx=self._need_input_grad,
                                        need_dw=self.trainable)
        self._gradients = [dw, db] if self.use_bias else [dw]
        if dx is None or len(self._x_shape) == 2:
            return dx
        return dx.reshape(self._x_shape)

    def backward(self, dy):
        return self._backward(activations.unfused_backward(self, dy), self._act)

    @property
    def _fusable_activation(self):
        return self._act

    def backward_from_logits(self, dz):
        return self._backward(dz, "linear")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, **kernel_bias_config(self)}


@register_layer
class Activation(Layer):
    """Applies an activation function: ``output = activation(input)``.

    Args:
        activation: a name (``"relu"``, ``"softmax"``...) or a `fastnn.activations` function.

    Input shape: any. Output shape: the input's. Softmax works over the last axis (the Softmax
    layer over any).
    """

    supports_masking = True
    activation = ActivationAttribute()

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation

    def call(self, inputs, training=False):
        y = inputs if self._act == "linear" else ops.activation_forward(inputs, self._act, self._alpha)
        self._y = y
        return activations.unfused_forward(self, y)

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        dy = activations.unfused_backward(self, dy)
        if self._act == "linear":
            return dy
        return ops.activation_backward(dy, self._y, self._act, self._alpha)

    @property
    def _fusable_activation(self):
        return self._act

    def backward_from_logits(self, dz):
        return dz if self._need_input_grad else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.config_name(self)}


def _slope(value, name, cls):
    v = float(value)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{cls}: expected a finite, non-negative {name}. Received: {name}={value!r}")
    return v


@register_layer
class ReLU(Activation):
    """Rectified linear unit, as Keras 3's: ``max(x, 0)`` with the defaults, and in general
    ``negative_slope · (x - threshold)`` for x <= threshold, ``x`` above it, ``max_value`` from
    ``max_value`` up (`fastnn.activations.relu`).

    The kernels compute relu, leaky_relu (a positive ``negative_slope``) and relu6
    (``ReLU(6.0)``, MobileNet's), fused into a Dense or Conv layer whose activation this layer
    is; the other combinations run in NumPy. Gradient: TensorFlow's slopes at the kinks (1
    where threshold < x < max_value, negative_slope where x <= threshold, 0 from max_value up).

    Args:
        max_value: float >= 0, the largest output, or None (no cap; default).
        negative_slope: float >= 0, the slope below the threshold (default 0).
        threshold: float >= 0, where the slope changes (default 0).

    Input shape: any. Output shape: the input's.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        for arg, value in (("negative_slope", negative_slope), ("threshold", threshold)):
            if value is None or (isinstance(value, (int, float, np.integer, np.floating))
                                 and not isinstance(value, bool) and value < 0):
                raise ValueError(f"ReLU: {arg} cannot be None or negative. Received: {arg}={value!r}")
        slope, cap, thr = activations.relu_arguments(negative_slope, max_value, threshold, op="ReLU")
        if not np.isfinite(slope) or not np.isfinite(thr):
            raise ValueError(f"ReLU: expected finite negative_slope and threshold. Received: "
                             f"negative_slope={negative_slope!r}, threshold={threshold!r}")
        self.max_value, self.negative_slope, self.threshold = cap, slope, thr
        kernel = activations.relu_kernel(slope, cap, thr)
        super().__init__(kernel[0] if kernel is not None else "linear", **kwargs)
        if kernel is not None:
            self._alpha = kernel[1]
        else:  # (the NumPy pass, after the layer's linear kernel: `activations.unfused_forward`)
            self._unfused = activations.relu_function(slope, cap, thr)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


@register_layer
class LeakyReLU(Activation):
    """Leaky rectified linear unit: ``x`` for x > 0, ``negative_slope · x`` otherwise.

    Args:
        negative_slope: default 0.3 (Keras's layer default; tf.keras spelling ``alpha``).
    """

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        self.__dict__["negative_slope"] = _slope(alpha if alpha is not None else negative_slope, "negative_slope",
                                                 "LeakyReLU")
        super().__init__("leaky_relu", **kwargs)
        self._alpha = self.negative_slope

    @property
    def negative_slope(self):
        return self.__dict__["negative_slope"]

    @negative_slope.setter
    def negative_slope(self, value):  # (assigned after construction: the kernel's slope follows, as Keras reads it)
        self.__dict__["negative_slope"] = self._alpha = _slope(value, "negative_slope", "LeakyReLU")

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "negative_slope": self.negative_slope}


@register_layer
class ELU(Activation):
    """Exponential linear unit: ``x`` for x > 0, ``alpha · (exp(x) - 1)`` otherwise (alpha > 0)."""

    def __init__(self, alpha=1.0, **kwargs):
        self.alpha = float(alpha)
        if not (np.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"ELU: expected a finite alpha > 0. Received: alpha={alpha!r}")
        super().__init__("elu", **kwargs)
        self._alpha = self.alpha

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "alpha": self.alpha}


_LARGE_NEGATIVE = -1e9  # Keras's Softmax: what its mask adds to the masked logits


@register_layer
class Softmax(Activation):
    """Softmax over ``axis``: ``exp(x) / sum(exp(x))``, as Keras 3's.

    The kernel works over the last axis; another axis (or several, as one: ``axis=(1, 2)``) is
    moved to the end for it and back. With a mask (``layer(x, mask=m)``, or one that comes with
    the input), the masked values are replaced by -1e9 and their outputs set to 0, as Keras 3
    does, so a row with every value masked gives zeros; a mask of the input's rank broadcasts to
    it (an attention mask (batch, 1, keys) for scores (batch, queries, keys)), one of fewer axes
    covers its leading axes (fastnn's masks are (batch, timesteps)) and spreads over the rest.
    The mask is passed on unchanged.

    Args:
        axis: an integer, or a list/tuple of integers (default -1, the last axis).

    Input shape: any. Output shape: the input's.
    """

    def __init__(self, axis=-1, **kwargs):
        activations.check_axis(axis, "Softmax")
        self.axis = [int(a) for a in axis] if isinstance(axis, list) else \
            tuple(int(a) for a in axis) if isinstance(axis, tuple) else int(axis)
        last = self.axis in (-1, [-1], (-1,))
        # as another layer's activation: the kernel's softmax for the last axis, else the function
        super().__init__("softmax" if last else "linear", **kwargs)
        if not last:
            self._unfused = activations.softmax_function(self.axis)
        self._rank = None

    def _axes(self, ndim):
        return activations.softmax_axes(self.axis, ndim, f"Softmax '{self.name}'")

    def build(self, input_shape):
        self._axes(len(input_shape))
        self._rank = len(input_shape)
        self.built = True

    _mask_broadcasts = True  # (an attention-style mask: (batch, 1, keys) for (batch, queries, keys))

    def call(self, inputs, training=False, mask=None):
        x = inputs
        self._softmax_axes = self._axes(x.ndim)
        if mask is None:
            self._y = activations.softmax_forward(x, self._softmax_axes)
            return self._y
        # Keras 3's: the masked logits replaced by -1e9, and the masked outputs set to 0, so a
        # row with every value masked gives zeros (not a uniform distribution) and no gradient
        m = np.asarray(mask)
        m = m.reshape(m.shape + (1,) * (x.ndim - m.ndim))
        x = np.where(m, x, x.dtype.type(_LARGE_NEGATIVE))
        self._y = np.where(m, activations.softmax_forward(x, self._softmax_axes), x.dtype.type(0))
        return self._y

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        return activations.softmax_backward(dy, self._y, self._softmax_axes)

    @property
    def _fusable_activation(self):
        # (a model folds it into the cross-entropy of a (batch, classes) output: over its last axis only)
        if self._rank is None or self._axes(self._rank) != (self._rank - 1,):
            return None
        return "softmax"

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "axis": self.axis}


@register_layer
class PReLU(Layer):
    """Parametric ReLU: ``max(0, x) + alpha · min(0, x)`` with a learned ``alpha`` per input value
    (shared along ``shared_axes``, 1-based, e.g. ``[1, 2]`` for one alpha per channel of an
    image). Weights: ``alpha``, shape = the input's without the batch axis (1 on shared axes)."""

    supports_masking = True

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        set_weight_options(self, alpha=(alpha_initializer, alpha_regularizer, alpha_constraint))
        if shared_axes is None:
            self.shared_axes = ()
        else:
            axes = shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            self.shared_axes = tuple(_positive_int(a, "shared_axes") for a in axes)
        self.alpha = None

    def build(self, input_shape):
        shape = [d for d in input_shape[1:]]
        for a in self.shared_axes:
            if a >= len(input_shape):
                raise ValueError(f"PReLU: shared axis {a} is past the input's rank {len(input_shape)}")
            shape[a - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU: every unshared input axis must be known. Received: input_shape={input_shape}")
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer, self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.input_spec = InputSpec(ndim=len(input_shape))
        self.built = True

    def call(self, inputs, training=False):
        self._x = inputs
        return np.where(inputs > 0, inputs, self.alpha * inputs).astype(inputs.dtype, copy=False)

    def backward(self, dy):
        x = self._x
        negative = np.minimum(x, 0)
        # alpha's gradient: summed over the batch and the shared axes
        axes = (0,) + self.shared_axes
        self._gradients = [np.sum(dy * negative, axis=axes, keepdims=True).reshape(self.alpha.shape)]
        if not self._need_input_grad:
            return None
        return np.where(x > 0, dy, self.alpha * dy).astype(dy.dtype, copy=False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), **weight_options_config(self, "alpha"),
                "shared_axes": list(self.shared_axes) or None}


@register_layer
class Identity(Layer):
    """Returns its input unchanged (a placeholder in a model's graph)."""

    supports_masking = True

    def call(self, inputs, training=False):
        return inputs

    def backward(self, dy):
        return dy if self._need_input_grad else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register_layer
class Flatten(Layer):
    """Flattens each sample: ``(batch, d1, d2, ...)`` -> ``(batch, d1·d2·...)`` (a view).

    Args:
        data_format: ``"channels_last"`` (None) or ``"channels_first"``: the channels (axis 1) moved
            last first, so the values come in the channels-last order, as Keras 3 flattens them
            (a Dense after it takes the same weights in either format).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first'. Received: "
                             f"data_format={data_format!r}")
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs, training=False):
        self._x_shape = inputs.shape
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = np.moveaxis(inputs, 1, -1)
            self._moved_shape = inputs.shape
        return np.reshape(inputs, (inputs.shape[0], math.prod(inputs.shape[1:])))  # (not -1: an empty batch)

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        if self.data_format == "channels_first" and len(self._x_shape) > 2:
            return np.ascontiguousarray(np.moveaxis(dy.reshape(self._moved_shape), -1, 1))
        return dy.reshape(self._x_shape)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@register_layer
class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1); the batch axis is kept.

    Input shape: ``(batch, ...)``. Output shape: ``(batch,) + target_shape``.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"Reshape: expected a tuple of integers. Received: target_shape={target_shape!r}") from None
        if any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
            raise ValueError("Reshape: target_shape must hold positive integers and at most one -1. "
                             f"Received: target_shape={target_shape!r}")
        self.target_shape = target

    def _resolve(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"Reshape: cannot reshape samples of shape {tuple(rest)} ({size} values) into "
                                 f"{self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"Reshape: the total size must be unchanged: samples of shape {tuple(rest)} have {size} "
                             f"values, target_shape={self.target_shape} has {known}")
        return self.target_shape

    def call(self, inputs, training=False):
        self._x_shape = inputs.shape
        return inputs.reshape((inputs.shape[0],) + self._resolve(inputs.shape))

    def backward(self, dy):
        return dy.reshape(self._x_shape) if self._need_input_grad else None

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": tuple(self.target_shape)}


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, zeroes each value with probability ``rate`` and scales the
    rest by ``1 / (1 - rate)``; at inference the identity.

    Masks come from ``ops.dropout_forward`` with a seed derived from the layer's own stream:
    ``seed`` when given, else a draw from `fastnn.utils.set_random_seed`'s generator, advanced
    once per training call.

    Args:
        rate: float in [0, 1], the fraction of values dropped.
        noise_shape: the shape of the mask, broadcast over the input: 1 on an axis shares one
            draw along it, None takes the input's size (``(None, 1, features)`` drops the same
            features at every step).
        seed: optional integer seed of the layer's mask stream.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate!r}")
        if noise_shape is not None and (not isinstance(noise_shape, (list, tuple)) or not all(
                d is None or isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in noise_shape)):
            raise ValueError(f"Dropout: noise_shape must be a tuple of positive ints or None. Received: "
                             f"noise_shape={noise_shape!r}")
        self.noise_shape = None if noise_shape is None else tuple(None if d is None else int(d) for d in noise_shape)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"Dropout: expected a non-negative integer seed or None. Received: seed={seed!r}")
        self.rate = float(rate)
        self.seed = None if seed is None else int(seed)
        self._stream = self.seed if self.seed is not None else utils.draw_seed()
        self._calls = 0
        self._mask = None

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return inputs
        if self.rate == 1:
            self._mask = False
            return np.zeros_like(inputs)
        seed = utils.derive_seed(self._stream, self._calls)
        self._calls += 1
        if self.noise_shape is not None:  # one draw per cell of the noise shape, broadcast over the input
            shape = self._noise_shape_for(inputs.shape)
            self._mask = ops.dropout_forward(np.ones(shape, inputs.dtype), self.rate, seed)[0]  # 0 or 1/(1-rate)
            return inputs * self._mask
        y, self._mask = ops.dropout_forward(inputs, self.rate, seed)
        return y

    def _noise_shape_for(self, input_shape):
        if len(self.noise_shape) != len(input_shape) or any(
                d is not None and d not in (1, n) for d, n in zip(self.noise_shape, input_shape)):
            raise ValueError(f"Dropout '{self.name}': noise_shape {self.noise_shape} does not broadcast to the input's "
                             f"shape {tuple(input_shape)} (each entry None, 1 or the input's size)")
        return tuple(n if d is None else d for d, n in zip(self.noise_shape, input_shape))

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        if self._mask is None:
            return dy
        if self._mask is False:
            return np.zeros_like(dy)
        if self.noise_shape is not None:
            return dy * self._mask
        return ops.dropout_backward(dy, self._mask, self.rate)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}


@register_layer
class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``: the layers after it that
    support masks skip them (a recurrent layer, GlobalAveragePooling1D, the loss and metrics).

    ``keep = any(inputs != mask_value, axis=-1)``; the output is the input with the masked steps
    set to 0 (``inputs * keep[..., None]``), and its mask is ``keep``.

    Args:
        mask_value: the padding value (default 0.0).

    Input shape: ``(batch, timesteps, features)`` (any rank >= 2; the last axis is the features).
    Output shape: the input's. Output mask: ``(batch, timesteps)``.
    """

    supports_masking = True
    _creates_mask = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise ValueError(f"Masking: mask_value must be a number. Received: mask_value={mask_value!r}")
        self.mask_value = float(mask_value)
        self.input_spec = InputSpec(min_ndim=2)
        self._seen = self._keep = None

    def _keep_mask(self, inputs):
        if inputs is self._seen:  # the model asks for the mask of what call() just masked
            return self._keep
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def call(self, inputs, training=False):
        keep = np.any(inputs != self.mask_value, axis=-1)
        self._seen, self._keep = inputs, keep
        self._factor = keep[..., None].astype(inputs.dtype)
        return inputs * self._factor

    def backward(self, dy):
        return dy * self._factor if self._need_input_grad else None

    def compute_mask(self, inputs, mask=None):
        return self._keep_mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@register_layer
class ActivityRegularization(Identity):
    """Passes its input through unchanged and adds ``l1 · Σ|x| + l2 · Σx²`` of it to the training
    loss, as Keras's: it is a layer whose ``activity_regularizer`` is ``L1L2(l1, l2)``, so a model
    adds the penalty (and its gradient) exactly as for any layer's activity regularizer (see
    `fastnn.regularizers`): divided by the batch size, as tf.keras 2 and Keras 3.14+ add it (Keras
    3.0-3.13 added the sum over the batch). Passes a mask on unchanged.

    Args:
        l1, l2: non-negative coefficients (default 0.0).
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization: its activity regularizer is L1L2(l1, l2); pass l1= and l2=, not "
                            f"activity_regularizer=. Received: activity_regularizer={kwargs['activity_regularizer']!r}")
        for arg, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not (np.isfinite(value) and value >= 0):
                raise ValueError(f"ActivityRegularization: received an invalid value for argument `{arg}`, expected a "
                                 f"finite, non-negative number. Received: {arg}={value!r}")
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
