"""fastnn.activations — the activation functions of the kernels, as Keras names them.

Each function applies ``fastnn.ops.activation_forward`` (C++ or NumPy backend). Layers take an
activation as a string (``"relu"``, ``"swish"``), as one of these functions, or None (linear);
`resolve` turns either into the kernel's ``(name, alpha)`` so dense layers fuse it into their
GEMM, forward and backward. gelu, silu (swish), mish and hard_silu (hard_swish) are not
monotonic: their derivative needs their input, so layers run their kernel linear and apply
these after it (`split`, `unfused_forward`, `unfused_backward`). Softmax works over the last axis.
"""

from __future__ import annotations

import numpy as np

from . import autodiff, ops

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
    y = ops.activation_forward(autodiff._value(x), name, alpha)
    if not isinstance(x, autodiff.Tensor):
        return y.view(autodiff.EagerArray)  # (with an eager tensor's numpy(): activations.softmax(t).numpy())
    if name in INPUT_DERIVATIVE:
        x_value = np.ascontiguousarray(x.value, dtype=y.dtype)

        def backward(g):
            return (ops.activation_backward_input(np.ascontiguousarray(np.broadcast_to(g, y.shape), y.dtype),
                                                  x_value, name, alpha),)
    else:
        def backward(g):
            return (ops.activation_backward(np.ascontiguousarray(np.broadcast_to(g, y.shape), y.dtype), y, name, alpha),)
    return autodiff.Tensor(y, (x,), backward)


def linear(x):
    """``x`` unchanged (Keras's default: no activation)."""
    return x


@_recorded
def relu(x):
    """``max(x, 0)``."""
    return _apply(x, "relu")


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


@_recorded
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over the last axis (the only axis supported)."""
    if axis not in (-1, getattr(x, "ndim", 1) - 1):
        raise ValueError(f"softmax: only the last axis is supported. Received: axis={axis}")
    return _apply(x, "softmax")


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


swish = silu
hard_swish = hard_silu

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
    if callable(identifier) and not isinstance(identifier, str):
        try:
            resolve(identifier)
        except ValueError:
            return "linear", None, identifier
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
