"""fastnn.activations — the activation functions of the kernels, as Keras names them.

Each function applies ``fastnn.ops.activation_forward`` (C++ or NumPy backend). Layers take an
activation as a string (``"relu"``, ``"swish"``), as one of these functions, or None (linear);
`resolve` turns either into the kernel's ``(name, alpha)`` so dense layers fuse it into their
GEMM, forward and backward. gelu, silu (swish), mish and hard_silu (hard_swish) are not
monotonic: their derivative needs their input, so layers run their kernel linear and apply
these after it (`split`, `unfused_forward`, `unfused_backward`). Softmax works over any axis
(or axes): the kernel's last-axis pass on the axes moved to the end. relu with Keras 3's
``max_value`` or ``threshold`` (or a negative slope) is NumPy, with TensorFlow's slopes.
"""

from __future__ import annotations

import numpy as np

from . import _backend, autodiff, ops

# the kernels' activations, named as Keras names them
_NAMES = ("linear", "relu", "leaky_relu", "elu", "selu", "softplus", "sigmoid", "tanh", "softmax", "hard_sigmoid",
          "relu6", "softsign", "exponential", "celu", "hard_tanh", "gelu", "silu", "mish", "hard_silu")
# Keras's other names for some of them
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
# not monotonic, so their derivative needs their input: layers run their kernel linear, then these
# (`unfused_forward`, `unfused_backward`); the others are fused into the kernels both ways
INPUT_DERIVATIVE = ("gelu", "silu", "mish", "hard_silu")


def _recorded(fn):
    """Register ``fn`` as the graph function ``"activations.<name>"``: on symbolic tensors one layer
    of the graph, and a `tf.Variable` or an array a GradientTape watches takes its tape leaf."""
    return autodiff.graph_function("activations." + fn.__name__)(fn)


def _apply(x, name, alpha=None):
    """The kernel's activation of ``x``; on a tape tensor (a custom layer's call, a Lambda, a
    GradientTape) one recorded node whose gradient is the kernel's backward."""
    value = autodiff._value(x)
    dtype = getattr(value, "dtype", None)  # (float64 computes in float64: `float_kernels`)
    with _backend.float_kernels(dtype if dtype is not None else np.float32):
        y = ops.activation_forward(value, name, alpha)
    if not isinstance(x, autodiff.Tensor):
        return y.view(autodiff.EagerArray)  # (with an eager tensor's numpy(): activations.softmax(t).numpy())
    if name in INPUT_DERIVATIVE:
        x_value = np.ascontiguousarray(x.value, dtype=y.dtype)

        def backward(g):
            with _backend.float_kernels(y.dtype):
                return (ops.activation_backward_input(np.ascontiguousarray(np.broadcast_to(g, y.shape), y.dtype),
                                                      x_value, name, alpha),)
    else:
        def backward(g):
            with _backend.float_kernels(y.dtype):
                return (ops.activation_backward(np.ascontiguousarray(np.broadcast_to(g, y.shape), y.dtype), y, name,
                                                alpha),)
    return autodiff.Tensor(y, (x,), backward)


def linear(x):
    """``x`` unchanged (Keras's default: no activation)."""
    return x


def _number(value, name, prefix):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or np.isnan(value):
        raise ValueError(f"{prefix}expected a number for `{name}`. Received: {name}={value!r}")
    return float(value)


def relu_arguments(negative_slope=0.0, max_value=None, threshold=0.0, op=None):
    """``(negative_slope, max_value, threshold)`` as floats (max_value may be None), checked: a
    ValueError (naming ``op`` when given) for a non-number, or a negative max_value (whose clip
    the backends of Keras disagree on)."""
    prefix = f"{op}: " if op else ""
    slope = _number(negative_slope, "negative_slope", prefix)
    threshold = _number(threshold, "threshold", prefix)
    if max_value is not None:
        max_value = _number(max_value, "max_value", prefix)
        if max_value < 0:
            raise ValueError(f"{prefix}max_value cannot be negative. Received: max_value={max_value!r}")
    return slope, max_value, threshold


def relu_kernel(negative_slope, max_value, threshold):
    """The kernel activation ``(name, alpha)`` that computes relu with these arguments (relu,
    leaky_relu, relu6), or None when only the NumPy pass (`relu_numpy`) does."""
    if threshold != 0:
        return None
    if max_value is None:
        if negative_slope == 0:
            return "relu", None
        return ("leaky_relu", negative_slope) if negative_slope > 0 else None
    if max_value == 6 and negative_slope == 0:
        return "relu6", None
    return None


def relu_numpy(x, negative_slope, max_value, threshold):
    """Keras 3's relu (``keras.src.activations.activations.ReLU.static_call``), in ``x``'s dtype:
    ``x · (x > threshold)`` (``max(x, 0)`` when threshold is 0), clipped to [0, max_value] when
    max_value is given, minus ``negative_slope · max(threshold - x, 0)``. So, for threshold >= 0:
    ``negative_slope · (x - threshold)`` up to the threshold, x above it, max_value from there.
    Returns ``(y, slope)``: slope is dy/dx with TensorFlow's values at the kinks (1 only where
    threshold < x < max_value and x > 0 is not clipped away; negative_slope where x <= threshold;
    0 from max_value up)."""
    t = x.dtype.type
    with np.errstate(invalid="ignore", over="ignore"):  # (x · 0 is NaN for x = ±inf, as TensorFlow's)
        if threshold != 0:
            y = x * (x > t(threshold)).astype(x.dtype)
        else:
            y = np.maximum(x, t(0))
        passes = x > t(threshold)
        if max_value is not None:
            y = np.minimum(np.maximum(y, t(0)), t(max_value))
            passes &= (x > t(0)) & (x < t(max_value))
        slope = passes.astype(x.dtype)
        if negative_slope != 0:
            y = y - t(negative_slope) * np.maximum(t(threshold) - x, t(0))
            slope += np.where(x > t(threshold), t(0), t(negative_slope))
    return y.astype(x.dtype, copy=False), slope


@_recorded
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0, *, alpha=None):
    """Keras 3's relu: ``max(x, 0)`` with the defaults; ``negative_slope · (x - threshold)`` for
    x <= threshold, ``x`` above it, capped at ``max_value``.

    Args:
        x: the input.
        negative_slope: slope below the threshold (tf.keras 2 named it ``alpha``: both are
            taken, the second positional argument is either).
        max_value: the largest value returned (None: no cap); not negative.
        threshold: the value below which the slope is ``negative_slope``.

    The gradient takes TensorFlow's slopes at the kinks: 1 where threshold < x < max_value,
    negative_slope where x <= threshold, 0 where x >= max_value.
    """
    if alpha is not None:
        if negative_slope != 0.0 and negative_slope != alpha:
            raise ValueError(f"negative_slope and its tf.keras 2 name alpha were both given. Received: "
                             f"negative_slope={negative_slope!r}, alpha={alpha!r}")
        negative_slope = alpha
    slope, max_value, threshold = relu_arguments(negative_slope, max_value, threshold)
    kernel = relu_kernel(slope, max_value, threshold)
    if kernel is not None:
        return _apply(x, *kernel)
    xv = np.asarray(autodiff._value(x))
    if xv.dtype not in (np.float32, np.float64):
        xv = xv.astype(np.float32)
    y, dydx = relu_numpy(xv, slope, max_value, threshold)
    if not isinstance(x, autodiff.Tensor):
        return y.view(autodiff.EagerArray)
    return autodiff.Tensor(y, (x,), lambda g: ((np.broadcast_to(g, y.shape) * dydx).astype(y.dtype, copy=False),))


def relu_function(negative_slope, max_value, threshold):
    """``relu`` with these arguments, as a one-argument function named ``relu`` (a ReLU layer's
    activation when no kernel computes it: `split` applies it after a linear kernel)."""

    def fn(x):
        return relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)

    fn.__name__ = fn.__qualname__ = "relu"
    return fn


@_recorded
def leaky_relu(x, negative_slope=0.2):
    """``x`` for x > 0, ``negative_slope · x`` otherwise."""
    return _apply(x, "leaky_relu", negative_slope)


@_recorded
def elu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha · (exp(x) - 1)`` otherwise."""
    return _apply(x, "elu", alpha)


@_recorded
def selu(x):
    """``scale · elu(x, alpha)`` with Klambauer et al.'s constants (scale 1.0507, alpha 1.6733)."""
    return _apply(x, "selu")


@_recorded
def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return _apply(x, "softplus")


@_recorded
def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return _apply(x, "sigmoid")


@_recorded
def tanh(x):
    """Hyperbolic tangent."""
    return _apply(x, "tanh")


def check_axis(axis, what):
    """``axis`` as a list of ints; a ValueError naming ``what`` unless it is an integer or a
    non-empty list/tuple of integers."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise ValueError(f"{what}: expected `axis` to be an integer or a non-empty list/tuple of integers. "
                         f"Received: axis={axis!r}")
    return axes


def softmax_axes(axis, ndim, what="softmax"):
    """``axis`` (an int, or a list/tuple of ints) as a sorted tuple of distinct axes of a tensor of
    rank ``ndim``; a ValueError naming ``what`` when one is out of range or repeated."""
    axes = check_axis(axis, what)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{what}: `axis` must name axes of the input, in [{-ndim}, {ndim}) for an input of "
                             f"rank {ndim}. Received: axis={axis!r}")
    positive = sorted(int(a) % ndim for a in axes)
    if len(set(positive)) != len(positive):
        raise ValueError(f"{what}: `axis` names the same axis twice. Received: axis={axis!r} for an input of rank "
                         f"{ndim}")
    return tuple(positive)


def _axes_last(a, axes):
    """``a`` with ``axes`` moved to the end and merged into one, C-contiguous, for the kernels'
    last-axis softmax; and the moved shape, to undo it (`_axes_back`)."""
    k = len(axes)
    moved = np.moveaxis(a, axes, range(a.ndim - k, a.ndim))
    return np.ascontiguousarray(moved.reshape(moved.shape[:a.ndim - k] + (-1,))), moved.shape


def _axes_back(a, axes, moved_shape):
    k = len(axes)
    return np.ascontiguousarray(np.moveaxis(a.reshape(moved_shape), range(len(moved_shape) - k, len(moved_shape)),
                                            axes))


def softmax_forward(x, axes):
    """The softmax of the array ``x`` over ``axes`` (sorted, from `softmax_axes`)."""
    if axes == (x.ndim - 1,):
        return ops.activation_forward(x, "softmax")
    x2, moved_shape = _axes_last(x, axes)
    return _axes_back(ops.activation_forward(x2, "softmax"), axes, moved_shape)


def softmax_backward(dy, y, axes):
    """The gradient of `softmax_forward` given the output's, ``dy``, and the output ``y``."""
    if axes == (y.ndim - 1,):
        return ops.activation_backward(dy, y, "softmax")
    dy2, moved_shape = _axes_last(dy, axes)
    return _axes_back(ops.activation_backward(dy2, _axes_last(y, axes)[0], "softmax"), axes, moved_shape)


@_recorded
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int, or a tuple of ints: the values of those
    axes together, as Keras 3's ``ops.softmax``)."""
    xv = autodiff._value(x)
    ndim = np.ndim(xv)
    if ndim == 0:
        return _apply(x, "softmax")  # (the kernel's error: it needs an axis)
    axes = softmax_axes(axis, ndim)
    if axes == (ndim - 1,):
        return _apply(x, "softmax")
    xv = np.asarray(xv)
    if xv.dtype not in (np.float32, np.float64):
        xv = xv.astype(np.float32)
    with _backend.float_kernels(xv.dtype):
        y = softmax_forward(xv, axes)
    if not isinstance(x, autodiff.Tensor):
        return y.view(autodiff.EagerArray)

    def backward(g):
        with _backend.float_kernels(y.dtype):
            return (softmax_backward(np.ascontiguousarray(np.broadcast_to(g, y.shape), y.dtype), y, axes),)

    return autodiff.Tensor(y, (x,), backward)


@_recorded
def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``clip(x / 6 + 0.5, 0, 1)``."""
    return _apply(x, "hard_sigmoid")


@_recorded
def relu6(x):
    """``min(max(x, 0), 6)``."""
    return _apply(x, "relu6")


@_recorded
def softsign(x):
    """``x / (1 + |x|)``."""
    return _apply(x, "softsign")


@_recorded
def exponential(x):
    """``exp(x)``."""
    return _apply(x, "exponential")


@_recorded
def celu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha · (exp(x / alpha) - 1)`` otherwise."""
    return _apply(x, "celu", alpha)


@_recorded
def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return _apply(x, "hard_tanh")


@_recorded
def gelu(x, approximate=False):
    """Gaussian error linear unit ``x · Φ(x)`` (with erf), or with ``approximate`` its tanh form
    ``0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))``. As a layer's activation: the exact one."""
    return _apply(x, "gelu", 1.0 if approximate else 0.0)


@_recorded
def silu(x):
    """``x · sigmoid(x)`` (Keras's ``swish``, the same function)."""
    return _apply(x, "silu")


@_recorded
def mish(x):
    """``x · tanh(softplus(x))``."""
    return _apply(x, "mish")


@_recorded
def hard_silu(x):
    """``x · hard_sigmoid(x)`` (Keras's ``hard_swish``, the same function)."""
    return _apply(x, "hard_silu")


def softmax_function(axis):
    """``softmax`` over ``axis`` as a one-argument function named ``softmax`` (a Softmax layer's
    activation over another axis than the last: `split` applies it after a linear kernel)."""

    def fn(x):
        return softmax(x, axis=axis)

    fn.__name__ = fn.__qualname__ = "softmax"
    return fn


swish = silu
hard_swish = hard_silu


# ---- Keras 3's other activations: no kernel; functions of the backend ops, differentiated on the
# tape (as a layer's activation, after a linear kernel, as a Python function is) ------------------


def _keras_op(name):
    from . import _keras_ops

    return getattr(_keras_ops, name)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` over ``axis``: the log of `softmax`, without overflow."""
    return _keras_op("log_softmax")(x, axis=axis)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return _keras_op("log_sigmoid")(x)


def glu(x, axis=-1):
    """The gated linear unit ``a · sigmoid(b)`` of the two halves a, b of ``x`` along ``axis``
    (half as many values as its input)."""
    return _keras_op("glu")(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return _keras_op("hard_shrink")(x, threshold=threshold)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above threshold, ``x + threshold`` below -threshold, else 0."""
    return _keras_op("soft_shrink")(x, threshold=threshold)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return _keras_op("tanh_shrink")(x)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return _keras_op("threshold")(x, threshold, default_value)


def squareplus(x, b=4):
    """``(x + sqrt(x² + b)) / 2``, a smooth relu."""
    return _keras_op("squareplus")(x, b=b)


def sparse_plus(x):
    """0 for x <= -1, ``(x + 1)² / 4`` between -1 and 1, x from 1 on."""
    return _keras_op("sparse_plus")(x)


def sparse_sigmoid(x):
    """0 for x <= -1, ``(x + 1) / 2`` between -1 and 1, 1 from 1 on."""
    return _keras_op("sparse_sigmoid")(x)


def sparsemax(x, axis=-1):
    """``max(x - tau, 0)`` along ``axis``, tau making each slice sum to 1: probabilities, some
    exactly 0."""
    return _keras_op("sparsemax")(x, axis=axis)


# by name (``Dense(10, activation="log_softmax")``): applied after a linear kernel, on the tape
_TAPE_FUNCTIONS = {f.__name__: f for f in (log_softmax, log_sigmoid, glu, hard_shrink, soft_shrink, tanh_shrink,
                                           squareplus, sparse_plus, sparse_sigmoid, sparsemax)}

_FUNCTIONS = {f.__name__: f for f in (linear, relu, leaky_relu, elu, selu, softplus, sigmoid, tanh, softmax,
                                      hard_sigmoid, relu6, softsign, exponential, celu, hard_tanh, gelu, silu, mish,
                                      hard_silu)}


_BACKEND_FUNCTIONS = None  # (kept once TensorFlow's names are registered, at the end of fastnn's import)


def _backend_functions():
    """``{id(function): activation}`` for the same activations as functions of ``fastnn.ops``
    (``keras.ops.relu``) and of TensorFlow's names (``tf.nn.relu``, ``tf.nn.softmax``), the
    wrappers they are made of included: ``Dense(10, activation=tf.nn.relu)`` runs the fused kernel."""
    import sys

    global _BACKEND_FUNCTIONS
    if _BACKEND_FUNCTIONS is not None:
        return _BACKEND_FUNCTIONS
    found = {}
    for name in ("relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "relu6", "silu", "swish",
                 "gelu"):
        for module in (ops, sys.modules.get("fastnn.nn"), sys.modules.get("fastnn.math")):
            fn = getattr(module, name, None)
            while fn is not None and id(fn) not in found:
                found[id(fn)] = "silu" if name == "swish" else name
                fn = getattr(fn, "__wrapped__", None)
    if "fastnn.nn" in sys.modules:
        _BACKEND_FUNCTIONS = found
    return found


def resolve(identifier):
    """``(kernel_name, alpha)`` for an activation given as a string, one of these functions or None.

    Raises ValueError naming the supported activations for anything else (a custom Python
    function has no backward kernel).
    """
    if identifier is None:
        return "linear", None
    if isinstance(identifier, dict) and "class_name" in identifier:  # (a saved activation layer)
        identifier = get(identifier)
    if _is_activation_layer(identifier) and not callable(identifier._unfused):
        # Dense(50, activation=LeakyReLU(negative_slope=0.2)), as Géron writes it: the kernel's own
        return (identifier._unfused or identifier._act), identifier._alpha
    if isinstance(identifier, str):
        name = identifier.lower()
        name = _ALIASES.get(name, name)
        if name in _NAMES:
            return name, None
    elif callable(identifier) and _FUNCTIONS.get(getattr(identifier, "__name__", None)) is identifier:
        return identifier.__name__, None
    elif callable(identifier) and id(identifier) in _backend_functions():
        return _backend_functions()[id(identifier)], None
    known = ", ".join(repr(k) for k in _NAMES)
    raise ValueError(f"Unknown activation: {identifier!r}. fastnn supports {known} (as strings or "
                     "fastnn.activations functions), or None for linear")


def split(identifier):
    """``(kernel_name, alpha, unfused)`` for a layer: the activation its kernel fuses, and the one of
    `INPUT_DERIVATIVE` it applies after the kernel (the kernel then runs linear), or None. A Python
    function that is none of these (``def custom_fn(x): return x ** 2`` of the backend functions,
    as Keras takes any callable) is applied after a linear kernel and differentiated on the tape."""
    if isinstance(identifier, dict) and "class_name" in identifier:  # (a saved activation layer)
        identifier = get(identifier)
    if _is_activation_layer(identifier) and callable(identifier._unfused):
        # (an activation layer no kernel computes, ReLU(max_value=3.0): its own function, after a linear kernel)
        return "linear", None, identifier._unfused
    if callable(identifier) and not isinstance(identifier, str):
        try:
            resolve(identifier)
        except ValueError:
            return "linear", None, identifier
    if isinstance(identifier, str) and identifier.lower() in _TAPE_FUNCTIONS:
        return "linear", None, _TAPE_FUNCTIONS[identifier.lower()]
    name, alpha = resolve(identifier)
    if name in INPUT_DERIVATIVE:
        return "linear", None, name
    return name, alpha, None


def unfused_forward(layer, z):
    """``z`` (the kernel's output) through the layer's unfused activation, keeping z for
    `unfused_backward`; ``z`` itself when the kernel fused it."""
    if layer._unfused is None:
        return z
    layer._z = z
    if callable(layer._unfused):  # a Python function: on the tape
        from . import autodiff

        leaf = autodiff.Tensor(z)
        y = layer._unfused(leaf)
        layer._unfused_tape = (leaf, y)
        value = np.asarray(autodiff._value(y))
        if value.shape != z.shape:
            raise ValueError(f"Layer '{layer.name}': the activation {layer._unfused.__name__} must keep its input's "
                             f"shape {z.shape}; it returned {value.shape}")
        return value.astype(z.dtype, copy=False)
    return ops.activation_forward(z, layer._unfused)


def config_name(layer):
    """A layer's activation as its config holds it: the kernel's name, or a Python function's
    (load_model's custom_objects gives the function back)."""
    if _is_activation_layer(getattr(layer, "activation", None)):  # (its arguments kept: LeakyReLU(0.2))
        return serialize(layer.activation)
    fn = layer._unfused or layer._act
    if not callable(fn):
        return fn
    if getattr(fn, "__name__", "<lambda>") == "<lambda>":
        raise ValueError(f"Layer '{layer.name}': its activation is a lambda, which a config cannot name; use a def "
                         "and load_model(..., custom_objects={name: function})")
    return fn.__name__


def unfused_backward(layer, dy):
    """The gradient with respect to the kernel's output, from the one with respect to the layer's."""
    if layer._unfused is None:
        return dy
    if callable(layer._unfused):
        from . import autodiff

        leaf, y = layer._unfused_tape
        if not isinstance(y, autodiff.Tensor):  # (the function does not depend on its input)
            return np.zeros_like(layer._z)
        return autodiff.grad(y, [leaf], seed=dy.reshape(y.shape))[0].astype(layer._z.dtype, copy=False)
    return ops.activation_backward_input(dy.reshape(layer._z.shape), layer._z, layer._unfused)


def _is_activation_layer(x):
    """Whether ``x`` is an activation layer (LeakyReLU, ELU, ReLU, Activation...) given as an activation."""
    return hasattr(x, "_fusable_activation") and hasattr(x, "_unfused") and not isinstance(x, type)


def get(identifier):
    """The activation function for a name, a function of this module, or None (linear); a Python
    function of the backend functions (``split``), or an activation layer, is itself (a saved
    activation layer, ``{"class_name": "LeakyReLU", "config": ...}``, is made again)."""
    if isinstance(identifier, dict) and "class_name" in identifier:
        from .saving import _layer_from_config

        layer = _layer_from_config(identifier)
        if not _is_activation_layer(layer):
            raise ValueError(f"Unknown activation: {identifier!r} (an activation layer, such as LeakyReLU, is expected)")
        return layer
    if _is_activation_layer(identifier):
        return identifier
    if callable(identifier) and not isinstance(identifier, str) and split(identifier)[2] is identifier:
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _TAPE_FUNCTIONS:
        return _TAPE_FUNCTIONS[identifier.lower()]
    return _FUNCTIONS[resolve(identifier)[0]]


def serialize(activation):
    """The activation's name (``"relu"``); a Python function's own name (load_model's
    custom_objects gives it back), an activation layer's config."""
    if _is_activation_layer(activation):
        return {"class_name": type(activation).__name__, "config": activation.get_config()}
    if callable(activation) and split(activation)[2] is activation:
        name = getattr(activation, "__name__", "<lambda>")
        if name == "<lambda>":
            raise ValueError("activations.serialize: a lambda cannot be named in a config; use a def")
        return name
    return resolve(activation)[0]


def deserialize(name):
    """The function called ``name``."""
    return get(name)
