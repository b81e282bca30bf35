"""fastnn.activations — the activation functions of the kernels, as Keras names them.

Each function applies ``fastnn.ops.activation_forward`` (C++ or NumPy backend). Layers take an
activation as a string (``"relu"``), as one of these functions, or None (linear); `resolve`
turns either into the kernel's ``(name, alpha)`` so dense layers fuse it into their GEMM.
Softmax works over the last axis.
"""

from __future__ import annotations

from . import ops

# the kernels' activations, named as Keras names them
_NAMES = ("linear", "relu", "leaky_relu", "elu", "selu", "softplus", "sigmoid", "tanh", "softmax", "hard_sigmoid")


def linear(x):
    """``x`` unchanged (Keras's default: no activation)."""
    return x


def relu(x):
    """``max(x, 0)``."""
    return ops.activation_forward(x, "relu")


def leaky_relu(x, negative_slope=0.2):
    """``x`` for x > 0, ``negative_slope · x`` otherwise."""
    return ops.activation_forward(x, "leaky_relu", negative_slope)


def elu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha · (exp(x) - 1)`` otherwise."""
    return ops.activation_forward(x, "elu", alpha)


def selu(x):
    """``scale · elu(x, alpha)`` with Klambauer et al.'s constants (scale 1.0507, alpha 1.6733)."""
    return ops.activation_forward(x, "selu")


def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return ops.activation_forward(x, "softplus")


def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return ops.activation_forward(x, "sigmoid")


def tanh(x):
    """Hyperbolic tangent."""
    return ops.activation_forward(x, "tanh")


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over the last axis (the only axis supported)."""
    if axis not in (-1, getattr(x, "ndim", 1) - 1):
        raise ValueError(f"softmax: only the last axis is supported. Received: axis={axis}")
    return ops.activation_forward(x, "softmax")


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``clip(x / 6 + 0.5, 0, 1)``."""
    return ops.activation_forward(x, "hard_sigmoid")


_FUNCTIONS = {f.__name__: f for f in (linear, relu, leaky_relu, elu, selu, softplus, sigmoid, tanh, softmax,
                                      hard_sigmoid)}


def resolve(identifier):
    """``(kernel_name, alpha)`` for an activation given as a string, one of these functions or None.

    Raises ValueError naming the supported activations for anything else (a custom Python
    function has no backward kernel).
    """
    if identifier is None:
        return "linear", None
    if isinstance(identifier, str):
        name = identifier.lower()
        if name in _NAMES:
            return name, None
    elif callable(identifier) and _FUNCTIONS.get(getattr(identifier, "__name__", None)) is identifier:
        return identifier.__name__, None
    known = ", ".join(repr(k) for k in _NAMES)
    raise ValueError(f"Unknown activation: {identifier!r}. fastnn supports {known} (as strings or "
                     "fastnn.activations functions), or None for linear")


def get(identifier):
    """The activation function for a name, a function of this module, or None (linear)."""
    return _FUNCTIONS[resolve(identifier)[0]]


def serialize(activation):
    """The activation's name (``"relu"``)."""
    return resolve(activation)[0]


def deserialize(name):
    """The function called ``name``."""
    return get(name)
