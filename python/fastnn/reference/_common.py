"""Shared helpers of the NumPy reference: dtype policy and argument checks.

The reference computes in float64 when an input is float64 (for finite-difference gradient
checks) and in float32 otherwise, like the C++ kernels.
"""

from __future__ import annotations

import math
import operator

import numpy as np


def compute_dtype(*arrays):
    """float64 if any input is float64, else float32."""
    for a in arrays:
        if a is not None and _dtype_or_none(a) == np.float64:
            return np.float64
    return np.float32


def _dtype_or_none(x):
    try:
        return np.asarray(x).dtype
    except MemoryError:
        raise
    except Exception:
        return None  # not array-like: the argument's own check (as_array) reports it, naming the op


def as_array(x, expected):
    """``np.asarray(x)``; an object NumPy cannot make an array of (a ragged list, an ``__array__`` that
    raises) is a TypeError "<expected>. Received: <type> (<NumPy's reason>)", as in C++ (fail_not_array in
    cpp/bindings/checks.cpp); ``expected`` names the op and the argument. A MemoryError propagates."""
    try:
        return np.asarray(x)
    except MemoryError:
        raise
    except Exception as e:
        raise TypeError(f"{expected}. Received: {type(x)} ({type(e).__name__}: {e})") from e


def as_float(x, dtype, op, arg):
    """``x`` as a C-contiguous array of ``dtype``; real numeric inputs only (TypeError otherwise)."""
    if x is None:
        raise TypeError(f"{op}: {arg} must be an array. Received: None")
    a = as_array(x, f"{op}: {arg} must be array-like")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{op}: {arg} must hold real numbers (float32 preferred). Received: {arg}.dtype={a.dtype}")
    # (np.asarray with order="C" keeps 0-d arrays 0-d; np.ascontiguousarray would make them 1-d)
    return np.asarray(a, dtype=dtype, order="C")


def require_ndim(a, ndim, op, arg, layout):
    if a.ndim != ndim:
        raise ValueError(f"{op}: {arg} must be {ndim}-D {layout}. Received: {arg}.shape={a.shape}")


ACTIVATIONS = (
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "sigmoid",
    "tanh",
    "softmax",
    "hard_sigmoid",
    "relu6",
    "softsign",
    "exponential",
    "celu",
    "hard_tanh",
    "gelu",
    "silu",
    "mish",
    "hard_silu",
)

# the activations whose derivative needs their input (activation_backward_input): the fused
# kernels refuse them (cpp: derivative_needs_input)
INPUT_DERIVATIVE = ("gelu", "silu", "mish", "hard_silu")
FUSED_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a not in INPUT_DERIVATIVE)

LOSSES = {
    "mean_squared_error": "mean_squared_error",
    "mse": "mean_squared_error",
    "mean_absolute_error": "mean_absolute_error",
    "mae": "mean_absolute_error",
    "binary_crossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
}


def check_name(value, op, arg):
    """A name argument (activation, loss, padding) must be a str: TypeError otherwise, as in C++."""
    if not isinstance(value, str):
        raise TypeError(f"{op}: {arg} must be a str. Received: {arg}={value!r}")
    return value


def _is_int_scalar(value):
    """A Python int or NumPy integer (anything with __index__), never a bool or numpy.bool_ (refused by
    type, not by its lack of __index__, which NumPy 1.x still had) and never an array, whose __index__
    would take a 0-d integer array (is_int_scalar in cpp/bindings/checks.cpp)."""
    return not isinstance(value, (bool, np.bool_, np.ndarray)) and hasattr(type(value), "__index__")


def check_flag(value, op, arg):
    """A flag argument (use_bias, need_dx, go_backwards, ...) as a Python bool: True/False, numpy.bool_,
    or an integer equal to 0 or 1; TypeError otherwise, as in C++ (flag_arg in cpp/bindings/checks.cpp)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if _is_int_scalar(value) and operator.index(value) in (0, 1):
        return operator.index(value) == 1
    raise TypeError(f"{op}: {arg} must be a bool (True or False). Received: {arg}={value!r}")


def check_number(value, op, arg):
    """A real-number argument (gemm's alpha, a learning rate, momentum, epsilon, dropout's rate, ...) as a
    Python float: a Python int or float, or a NumPy integer or floating scalar. Anything else (bool,
    numpy.bool_, str, None, complex, a list, an array, even 0-d) is a TypeError, and an int too large
    for a float (10**400) a ValueError, as in C++ (number_arg in cpp/bindings/checks.cpp). NaN and inf
    pass; the op's own range check decides."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {arg} must be a number (int or float). Received: {arg}={value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{op}: {arg} is too large for a float. Received: {arg}={value!r}") from None


def check_int(value, op, arg):
    """An integer argument (dropout's seed, Adam's step) as a Python int (see _is_int_scalar); TypeError
    otherwise, as in C++ (int_arg / int_object in cpp/bindings/checks.cpp). Floats are refused, even 2.0."""
    if not _is_int_scalar(value):
        raise TypeError(f"{op}: {arg} must be an int. Received: {arg}={value!r}")
    return operator.index(value)


def check_activation(activation, alpha, op, arg="activation", input_derivative=False):
    """Validate the activation name and return its hyper-parameter (see ops.activation_forward).
    One of INPUT_DERIVATIVE only with ``input_derivative`` (the C++ parse_activation's rule)."""
    if check_name(activation, op, arg) not in ACTIVATIONS:
        known = ", ".join(repr(a) for a in ACTIVATIONS)
        raise ValueError(f"{op}: unknown {arg}. Expected one of {known}. Received: {arg}={activation!r}")
    if activation in INPUT_DERIVATIVE and not input_derivative:
        raise ValueError(f"{op}: {arg}='{activation}' is not fused into this kernel: its derivative needs its input. "
                         "Run the kernel with 'linear', then activation_forward, and differentiate with "
                         "activation_backward_input")
    # the C++ rules (activation_alpha in cpp/bindings/checks.cpp): alpha (None for the default) is
    # type-checked whatever the activation, and must stay finite in float32
    given = 0.0 if alpha is None else check_number(alpha, op, "alpha")

    def finite32(v):
        return math.isfinite(v) and abs(v) <= float(np.finfo(np.float32).max)

    if activation == "leaky_relu":
        a = 0.2 if alpha is None else given
        if not (finite32(a) and a >= 0):
            raise ValueError(f"{op}: leaky_relu needs a finite float32 negative_slope >= 0. Received: alpha={a!r}")
        return a
    if activation in ("elu", "celu"):
        a = 1.0 if alpha is None else given
        if not (finite32(a) and a > 0):
            raise ValueError(f"{op}: {activation} needs a finite float32 alpha > 0. Received: alpha={a!r}")
        return a
    if activation == "gelu":  # alpha: Keras's `approximate`, 0 (erf) or 1 (tanh)
        if given not in (0.0, 1.0):
            raise ValueError(f"{op}: gelu takes alpha 0 (exact) or 1 (the tanh approximation). Received: alpha={alpha!r}")
        return given
    return 0.0


def _byte_span(a):
    """[lo, hi) of the bytes an array's elements occupy (None when empty), strides of any sign."""
    if a.size == 0:
        return None
    base = a.__array_interface__["data"][0]
    ext = [(n - 1) * st for n, st in zip(a.shape, a.strides)]
    return base + sum(e for e in ext if e < 0), base + sum(e for e in ext if e > 0) + a.itemsize


def require_disjoint(op, written, read=()):
    """ValueError when two (array, name) pairs of ``written`` overlap in memory, or one of ``read``
    overlaps a written one (mirrors require_disjoint in cpp/bindings/checks.cpp, message included)."""
    spans = sorted([(*_byte_span(a), name, True) for a, name in written if a.size] +
                   [(*_byte_span(a), name, False) for a, name in read if a.size], key=lambda t: t[0])
    reach_w = reach_any = None  # the written / any span reaching furthest so far
    for cur in spans:
        other = reach_any if cur[3] else reach_w
        if other is not None and cur[0] < other[1]:
            both = "both are" if other[3] and cur[3] else "one is"
            raise ValueError(f"{op}: {other[2]} and {cur[2]} share memory, and {both} written in place: every "
                             "parameter and state needs its own buffer")
        if cur[3] and (reach_w is None or cur[1] > reach_w[1]):
            reach_w = cur
        if reach_any is None or cur[1] > reach_any[1]:
            reach_any = cur
