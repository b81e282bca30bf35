"""fastnn._keras_ops — Keras 3's ``keras.ops``: the array functions of ``fastnn.ops``.

A Keras 3 script writes ``from keras import ops`` and computes with ``ops.mean(ops.square(y_true -
y_pred))``, ``ops.exp(0.5 * z_log_var)``, ``ops.matmul(inputs, self.w)``... in custom losses, layers'
``call``, Lambda functions and post-processing. Ported (``from fastnn import ops``), these functions
take Keras 3's names, signatures and defaults (``ops.concatenate(xs, axis=0)``, ``ops.argmax(x,
axis=None)``, ``ops.clip(x, x_min, x_max)``...; Keras 2's backend, `fastnn.backend`, differs in
places), and they are built on `fastnn.autodiff`, so each works on

* NumPy arrays and Python numbers: computed with NumPy, an array back;
* `fastnn.autodiff.Tensor` (inside a custom layer's ``call``, a Lambda, a custom loss or RNN cell):
  recorded on the tape, so the gradient comes for free;
* the functional API's symbolic tensors: a layer of the graph (`fastnn.layers.BackendFunction`,
  registered as ``"ops.<name>"``); the functions that return several tensors (``split``,
  ``unstack``, ``moments``, ``top_k``) are made of such layers.

Dtypes follow Keras's: Python floats are floatx (float32) and Python ints int32; the functions with
a float result (exp, log, mean, std, sigmoid...) take integer input as floatx; argmax, argmin and
argsort give int32; the creation functions default to floatx. Functions without a gradient
(comparisons, argmax, floor...) give values that are constants on the tape.

``fastnn.ops`` imports every name of `__all__`; Keras's ``matmul`` is `matmul` here, reached
through ``fastnn.ops.matmul`` (the kernel) when an argument is a tensor.
"""

from __future__ import annotations

import builtins
import functools
import math
import string
import types

import numpy as np

from . import _backend, utils
from . import autodiff as ad
from ._batch_dataset import EagerArray
from ._ctc import ctc_decode, ctc_loss  # noqa: F401 (keras.ops.ctc_loss / ctc_decode, keras.ops.nn's too)
from .autodiff import Operators, Tensor, _result, _value

# autodiff's functions without their symbolic path and error naming: the functions here call them
# from inside their own wrapper, which has both (so an error names "ops.<function>")
_K = types.SimpleNamespace(**{n: getattr(getattr(ad, n), "__wrapped__", getattr(ad, n)) for n in ad.FUNCTIONS})


def _op(fn):
    """Register ``fn`` as the graph function ``"ops.<name>"``: on symbolic tensors one layer of
    the graph; its errors (ValueError, TypeError, IndexError) a ValueError naming ``ops.<name>``."""
    return ad.graph_function("ops." + fn.__name__)(fn)


def _composite(fn):
    """A function made of other ops (so it works on symbolic tensors as they do) or with no tensor
    argument: its errors named as `_op`'s."""
    name = "ops." + fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            raise ad._named_error(name, e, args) from None

    return wrapper


# ---- conversions -------------------------------------------------------------------------------


def _is_symbolic(x):
    return isinstance(x, Operators) and not isinstance(x, Tensor)


def _tensor(x):
    """``x`` as an array or tensor: tensors and NumPy values unchanged; Python numbers and lists as
    arrays of Keras's default dtypes (float -> floatx, int -> int32); a list of tensors stacked."""
    if isinstance(x, (Operators, np.ndarray, np.generic)):
        return x
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(v, Operators) for v in x):
        return ad.stack([_tensor(v) for v in x], axis=0)
    a = np.asarray(x)
    if a.dtype == np.float64:
        return a.astype(utils.floatx())
    if a.dtype == np.int64:
        return a.astype(np.int32)
    if a.dtype.kind not in "biufc":
        raise TypeError(f"expected a tensor, an array or numbers. Received: {type(x).__name__} {x!r:.60}")
    return a


def _kind(x):
    return np.dtype(ad.dtype(x)).kind


def _float(x):
    """``x`` as a float value: integer or boolean input as floatx (Keras's rule for functions with
    a float result)."""
    x = _tensor(x)
    return x if _kind(x) in "fc" else _K.cast(x, utils.floatx())


def _operands(*xs):
    """The operands of an elementwise function: lists as arrays; Python numbers kept as they are
    (NumPy's weak scalars: ``x_float32 + 2.0`` stays float32) unless every operand is one."""
    if builtins.all(isinstance(x, (bool, int, float, complex)) for x in xs):
        return [_tensor(x) for x in xs]
    return [_tensor(x) if isinstance(x, (list, tuple)) else x for x in xs]


def _ints(values, what):
    """A shape or a list of axes as a tuple of Python ints (an int alone, entries that are 0-d
    arrays or tensors); a None entry is an error that says so."""
    if isinstance(values, (int, np.integer)):
        return (int(values),)
    values = _value(values)
    if isinstance(values, np.ndarray):
        values = values.reshape(-1).tolist()
    out = []
    for v in values:
        v = _value(v)
        if v is None:
            raise ValueError(f"{what} {tuple(values)} has a None entry (an unknown size); give every size, or -1 "
                             "for the one to infer")
        if isinstance(v, (bool, np.bool_)) or not float(v).is_integer():
            raise TypeError(f"{what} must be integers. Received: {tuple(values)}")
        out.append(int(v))
    return tuple(out)


def _axis(axis, ndim):
    """One axis in [0, ndim)."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int. Received: axis={axis!r}")
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % builtins.max(ndim, 1)


def _accumulated(x, dtype=None):
    """The dtype Keras gives a sum, product or cumulative sum of ``x``: ``dtype`` when given, else
    x's, with booleans and 8/16-bit integers as int32 (uint32 for unsigned)."""
    if dtype is not None:
        return np.dtype(dtype)
    d = np.dtype(ad.dtype(x))
    if d.kind == "b" or d.kind == "i" and d.itemsize < 4:
        return np.dtype(np.int32)
    if d.kind == "u" and d.itemsize < 4:
        return np.dtype(np.uint32)
    return d


def _as(y, dtype):
    """``y`` in ``dtype`` (NumPy sums int32 as int64)."""
    return y if np.dtype(ad.dtype(y)) == dtype else _K.cast(y, dtype)


def _default_int(a):
    """An index result as Keras gives it: int32."""
    return np.asarray(a).astype(np.int32)


# ---- elementwise functions ---------------------------------------------------------------------


def _unary(name, forward, derivative, doc, floating=True):
    """An elementwise function; ``derivative(x, y)`` is dy/dx (None: no gradient, the value a
    constant on the tape)."""

    def fn(x):
        x = _float(x) if floating else _tensor(x)
        xv = np.asarray(_value(x))
        y = np.asarray(forward(xv))
        if derivative is None:  # a constant on the tape
            return y
        return _result(y, (x,), lambda g: (g * derivative(xv, y),))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return _op(fn)


def _via(name, target, doc, floating=True):
    """An elementwise function of `fastnn.autodiff` under Keras's name (``x`` as `_float` or
    `_tensor` makes it)."""

    def fn(x):
        return target(_float(x) if floating else _tensor(x))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return _op(fn)


exp = _via("exp", _K.exp, "Elementwise e**x.")
log = _via("log", _K.log, "Elementwise natural logarithm.")
sqrt = _via("sqrt", _K.sqrt, "Elementwise square root.")
sin = _via("sin", _K.sin, "Elementwise sine.")
cos = _via("cos", _K.cos, "Elementwise cosine.")
tanh = _via("tanh", _K.tanh, "Elementwise hyperbolic tangent.")
sigmoid = _via("sigmoid", _K.sigmoid, "Elementwise 1 / (1 + e**-x).")
softplus = _via("softplus", _K.softplus, "Elementwise log(1 + e**x).")
softsign = _via("softsign", _K.softsign, "Elementwise x / (1 + |x|).")
hard_sigmoid = _via("hard_sigmoid", _K.hard_sigmoid, "Elementwise relu6(x + 3) / 6.")
abs = _via("abs", _K.abs, "Elementwise |x|.", floating=False)
absolute = _via("absolute", _K.abs, "Elementwise |x| (``abs``).", floating=False)
negative = _via("negative", _K.negative, "Elementwise -x.", floating=False)
square = _via("square", _K.square, "Elementwise x**2.", floating=False)
sign = _via("sign", _K.sign, "Elementwise sign (-1, 0, 1; gradient 0).", floating=False)

_LN2, _LN10 = math.log(2.0), math.log(10.0)
expm1 = _unary("expm1", np.expm1, lambda x, y: y + 1, "Elementwise e**x - 1, accurate near 0.")
log1p = _unary("log1p", np.log1p, lambda x, y: 1 / (1 + x), "Elementwise log(1 + x), accurate near 0.")
log2 = _unary("log2", np.log2, lambda x, y: 1 / (x * _LN2), "Elementwise base-2 logarithm.")
log10 = _unary("log10", np.log10, lambda x, y: 1 / (x * _LN10), "Elementwise base-10 logarithm.")
exp2 = _unary("exp2", np.exp2, lambda x, y: y * _LN2, "Elementwise 2**x.")
tan = _unary("tan", np.tan, lambda x, y: 1 + y * y, "Elementwise tangent.")
sinh = _unary("sinh", np.sinh, lambda x, y: np.cosh(x), "Elementwise hyperbolic sine.")
cosh = _unary("cosh", np.cosh, lambda x, y: np.sinh(x), "Elementwise hyperbolic cosine.")
arcsin = _unary("arcsin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x), "Elementwise inverse sine.")
arccos = _unary("arccos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x), "Elementwise inverse cosine.")
arctan = _unary("arctan", np.arctan, lambda x, y: 1 / (1 + x * x), "Elementwise inverse tangent.")
arcsinh = _unary("arcsinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1), "Elementwise inverse hyperbolic sine.")
arccosh = _unary("arccosh", np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1), "Elementwise inverse hyperbolic cosine.")
arctanh = _unary("arctanh", np.arctanh, lambda x, y: 1 / (1 - x * x), "Elementwise inverse hyperbolic tangent.")
reciprocal = _unary("reciprocal", np.reciprocal, lambda x, y: -y * y, "Elementwise 1 / x.")
rsqrt = _unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda x, y: -0.5 * y * y * y, "Elementwise 1 / sqrt(x).")
cbrt = _unary("cbrt", np.cbrt, lambda x, y: 1 / (3 * y * y), "Elementwise cube root.")
_erf_values = np.vectorize(math.erf, otypes=[np.float64])
erf = _unary("erf", lambda x: _erf_values(x).astype(x.dtype), lambda x, y: 2 / math.sqrt(math.pi) * np.exp(-x * x),
             "Elementwise error function.")
floor = _unary("floor", np.floor, None, "Elementwise floor (gradient 0).")
ceil = _unary("ceil", np.ceil, None, "Elementwise ceiling (gradient 0).")
trunc = _unary("trunc", np.trunc, None, "Elementwise rounding toward 0 (gradient 0).")
isnan = _unary("isnan", np.isnan, None, "Elementwise ``x != x`` (booleans).", floating=False)
isinf = _unary("isinf", np.isinf, None, "Elementwise ``|x| == inf`` (booleans).", floating=False)
isfinite = _unary("isfinite", np.isfinite, None, "Elementwise: neither NaN nor infinite (booleans).", floating=False)
logical_not = _unary("logical_not", np.logical_not, None, "Elementwise NOT (booleans).", floating=False)


@_op
def round(x, decimals=0):
    """Elementwise rounding to ``decimals`` decimals, half to even as NumPy (gradient 0)."""
    return np.round(np.asarray(_value(_tensor(x))), decimals=decimals)


@_op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf``/``neginf`` (default: the
    dtype's largest values); the gradient passes where ``x`` was finite."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    y = np.nan_to_num(xv, nan=nan, posinf=posinf, neginf=neginf)
    return _result(y, (x,), lambda g: (g * np.isfinite(xv),))


def _binary(name, forward, derivatives, doc, constant=False):
    """A broadcasting elementwise function of two values; ``derivatives(a, b, y)`` gives (dy/da,
    dy/db). ``constant``: no gradient."""

    def fn(x1, x2):
        a, b = _operands(x1, x2)
        y = np.asarray(forward(_value(a), _value(b)))  # (a Python number stays weak: float32 + 2.0 is float32)
        if constant:
            return y

        def backward(g):
            da, db = derivatives(np.asarray(_value(a)), np.asarray(_value(b)), y)
            return (g * da if isinstance(a, Tensor) else None), (g * db if isinstance(b, Tensor) else None)

        return _result(y, (a, b), backward)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return _op(fn)


def _via2(name, target, doc, floating=False):
    def fn(x1, x2):
        a, b = _operands(x1, x2)
        if floating and _kind(a) not in "fc" and _kind(b) not in "fc":
            a, b = _float(a), _float(b)
        return target(a, b)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return _op(fn)


add = _via2("add", _K.add, "x1 + x2 (broadcasting).")
subtract = _via2("subtract", _K.subtract, "x1 - x2 (broadcasting).")
multiply = _via2("multiply", _K.multiply, "x1 * x2 (broadcasting).")
divide = _via2("divide", _K.divide, "x1 / x2 (broadcasting; integers divide as floatx).", floating=True)
true_divide = _via2("true_divide", _K.divide, "x1 / x2 (``divide``).", floating=True)
power = _via2("power", _K.pow, "x1 ** x2 (broadcasting).")
maximum = _via2("maximum", _K.maximum, "Elementwise maximum (a tie's gradient goes to x1).")
minimum = _via2("minimum", _K.minimum, "Elementwise minimum (a tie's gradient goes to x1).")


def _safe_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0, a / np.where(b == 0, 1, b))


mod = _binary("mod", np.mod, lambda a, b, y: (1, -np.floor(_safe_div(a, b))),
              "The remainder of x1 / x2, with x2's sign (NumPy's and Python's %).")
floor_divide = _binary("floor_divide", np.floor_divide, None, "x1 // x2 (no gradient).", constant=True)
arctan2 = _binary("arctan2", np.arctan2, lambda a, b, y: (b / (a * a + b * b), -a / (a * a + b * b)),
                  "Elementwise angle of the point (x2, x1): arctan(x1 / x2) in the right quadrant.")
logaddexp = _binary("logaddexp", np.logaddexp, lambda a, b, y: (np.exp(a - y), np.exp(b - y)),
                    "Elementwise log(e**x1 + e**x2), computed without overflow.")
hypot = _binary("hypot", np.hypot, lambda a, b, y: (_safe_div(a, y), _safe_div(b, y)),
                "Elementwise sqrt(x1**2 + x2**2).")
divide_no_nan = _binary("divide_no_nan", _safe_div,
                        lambda a, b, y: (_safe_div(1, b), -_safe_div(y, b)), "x1 / x2, 0 where x2 is 0.")

bitwise_and = _binary("bitwise_and", np.bitwise_and, None, "Elementwise ``x1 & x2`` (integers, booleans).",
                      constant=True)
bitwise_or = _binary("bitwise_or", np.bitwise_or, None, "Elementwise ``x1 | x2`` (integers, booleans).", constant=True)
bitwise_xor = _binary("bitwise_xor", np.bitwise_xor, None, "Elementwise ``x1 ^ x2`` (integers, booleans).",
                      constant=True)
left_shift = _binary("left_shift", np.left_shift, None, "Elementwise ``x1 << x2`` (integers).", constant=True)
right_shift = _binary("right_shift", np.right_shift, None, "Elementwise ``x1 >> x2`` (integers).", constant=True)
bitwise_invert = _unary("bitwise_invert", np.invert, None, "Elementwise ``~x`` (integers, booleans).", floating=False)
bitwise_not = bitwise_invert
bitwise_left_shift, bitwise_right_shift = left_shift, right_shift

equal = _binary("equal", np.equal, None, "Elementwise ``x1 == x2`` (booleans).", constant=True)
not_equal = _binary("not_equal", np.not_equal, None, "Elementwise ``x1 != x2`` (booleans).", constant=True)
greater = _binary("greater", np.greater, None, "Elementwise ``x1 > x2`` (booleans).", constant=True)
greater_equal = _binary("greater_equal", np.greater_equal, None, "Elementwise ``x1 >= x2`` (booleans).",
                        constant=True)
less = _binary("less", np.less, None, "Elementwise ``x1 < x2`` (booleans).", constant=True)
less_equal = _binary("less_equal", np.less_equal, None, "Elementwise ``x1 <= x2`` (booleans).", constant=True)
logical_and = _binary("logical_and", np.logical_and, None, "Elementwise AND (booleans).", constant=True)
logical_or = _binary("logical_or", np.logical_or, None, "Elementwise OR (booleans).", constant=True)
logical_xor = _binary("logical_xor", np.logical_xor, None, "Elementwise XOR (booleans).", constant=True)


@_op
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Elementwise ``|x1 - x2| <= atol + rtol * |x2|`` (booleans)."""
    return np.isclose(np.asarray(_value(x1)), np.asarray(_value(x2)), rtol=rtol, atol=atol, equal_nan=equal_nan)


@_op
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2`` (broadcasting; gradients to the value each
    element took). Without x1 and x2: the indices of the true elements, one array per axis."""
    c = np.asarray(_value(condition)).astype(bool)
    if x1 is None and x2 is None:
        return tuple(_default_int(i) for i in np.nonzero(c))
    if x1 is None or x2 is None:
        raise ValueError("x1 and x2 must both be given, or neither")
    a, b = _operands(x1, x2)
    y = np.where(c, _value(a), _value(b))
    return _result(y, (a, b), lambda g: (np.where(c, g, 0), np.where(c, 0, g)))


@_op
def clip(x, x_min, x_max):
    """``x`` limited to [x_min, x_max] (a bound may be None, or a tensor; gradient 0 where
    clipped). Integer ``x`` keeps its dtype, as Keras's."""
    x = _tensor(x)
    kind = _kind(x)
    y = x
    if x_min is not None:
        y = _K.maximum(y, _tensor(x_min) if isinstance(x_min, (list, tuple)) else x_min)
    if x_max is not None:
        y = _K.minimum(y, _tensor(x_max) if isinstance(x_max, (list, tuple)) else x_max)
    if kind in "biu" and _kind(y) != kind:
        y = _K.cast(y, "int32" if kind == "b" else ad.dtype(x))
    return y


# ---- activations (keras.ops.nn) ----------------------------------------------------------------


@_op
def relu(x):
    """Elementwise max(x, 0)."""
    return _K.relu(_tensor(x))


@_op
def relu6(x):
    """Elementwise min(max(x, 0), 6)."""
    return _K.relu(_tensor(x), max_value=6.0)


@_op
def leaky_relu(x, negative_slope=0.2):
    """Elementwise x for x >= 0, else ``negative_slope * x``."""
    return _K.relu(_tensor(x), alpha=negative_slope)


@_op
def elu(x, alpha=1.0):
    """Elementwise x for x > 0, else ``alpha * (e**x - 1)``."""
    return _K.elu(_float(x), alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@_op
def selu(x):
    """Elementwise scale * elu(x, alpha), with SELU's constants (1.0507, 1.6733)."""
    return _SELU_SCALE * _K.elu(_float(x), _SELU_ALPHA)


@_op
def celu(x, alpha=1.0):
    """Elementwise max(x, 0) + min(0, alpha * (e**(x / alpha) - 1))."""
    x = _float(x)
    return _K.relu(x) + _K.minimum(0.0, alpha * (_K.exp(x / alpha) - 1))


@_op
def silu(x):
    """Elementwise x * sigmoid(x) (``swish``)."""
    x = _float(x)
    return x * _K.sigmoid(x)


@_op
def swish(x):
    """Elementwise x * sigmoid(x) (``silu``)."""
    x = _float(x)
    return x * _K.sigmoid(x)


@_op
def hard_silu(x):
    """Elementwise x * hard_sigmoid(x) (``hard_swish``)."""
    x = _float(x)
    return x * _K.hard_sigmoid(x)


@_op
def hard_swish(x):
    """Elementwise x * hard_sigmoid(x) (``hard_silu``)."""
    x = _float(x)
    return x * _K.hard_sigmoid(x)


@_op
def log_sigmoid(x):
    """Elementwise log(sigmoid(x)) = -softplus(-x), computed without overflow."""
    return -_K.softplus(-_float(x))


@_op
def gelu(x, approximate=True):
    """The Gaussian error linear unit: x * Φ(x), with the tanh approximation when ``approximate``
    (Keras's default), else with erf."""
    x = _float(x)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + _K.tanh(inner))
    return 0.5 * x * (1 + erf.__wrapped__(x / math.sqrt(2)))


@_op
def hard_tanh(x):
    """Elementwise x clipped to [-1, 1]."""
    return _K.minimum(_K.maximum(_float(x), -1.0), 1.0)


@_op
def tanh_shrink(x):
    """Elementwise x - tanh(x)."""
    x = _float(x)
    return x - _K.tanh(x)


@_op
def soft_shrink(x, threshold=0.5):
    """Elementwise x - threshold above threshold, x + threshold below -threshold, else 0."""
    x = _float(x)
    xv = np.asarray(_value(x))
    return where.__wrapped__(xv > threshold, x - threshold, where.__wrapped__(xv < -threshold, x + threshold, 0.0))


@_op
def hard_shrink(x, threshold=0.5):
    """Elementwise x where |x| > threshold, else 0."""
    x = _float(x)
    return where.__wrapped__(np.abs(np.asarray(_value(x))) > threshold, x, 0.0)


@_op
def threshold(x, threshold, default_value):
    """Elementwise x where x > threshold, else ``default_value``."""
    x = _tensor(x)
    return where.__wrapped__(np.asarray(_value(x)) > threshold, x, default_value)


@_op
def squareplus(x, b=4):
    """Elementwise (x + sqrt(x**2 + b)) / 2, a smooth relu."""
    x = _float(x)
    return (x + _K.sqrt(x * x + b)) / 2


@_op
def sparse_plus(x):
    """Elementwise 0 for x <= -1, (x + 1)² / 4 between -1 and 1, x from 1 on (a smooth relu that
    is exactly 0 and exactly x outside [-1, 1])."""
    x = _float(x)
    xv = np.asarray(_value(x))
    return where.__wrapped__(xv <= -1, 0.0, where.__wrapped__(xv >= 1, x, (x + 1) * (x + 1) / 4))


@_op
def sparse_sigmoid(x):
    """Elementwise 0 for x <= -1, (x + 1) / 2 between -1 and 1, 1 from 1 on."""
    x = _float(x)
    xv = np.asarray(_value(x))
    return where.__wrapped__(xv <= -1, 0.0, where.__wrapped__(xv >= 1, 1.0, (x + 1) / 2))


@_op
def sparsemax(x, axis=-1):
    """``max(x - tau, 0)`` along ``axis``, with tau making each slice sum to 1 (Martins and
    Astudillo, 2016): a softmax whose small probabilities are exactly 0."""
    x = _float(x)
    xv = np.asarray(_value(x), dtype=np.float64)
    # the support: the k largest values with 1 + k · z_(k) > the sum of those k (z sorted down)
    z = -np.sort(-xv, axis=axis)
    k = np.arange(1, xv.shape[axis] + 1, dtype=np.float64).reshape([-1 if a == axis % xv.ndim else 1
                                                                     for a in range(xv.ndim)])
    support_size = np.sum(1 + k * z > np.cumsum(z, axis=axis), axis=axis, keepdims=True)
    tau_value = (np.take_along_axis(np.cumsum(z, axis=axis), support_size - 1, axis=axis) - 1) / support_size
    support = xv > tau_value
    # tau as a function of x on its (fixed) support, so the gradient is sparsemax's own
    weights = support.astype(np.asarray(_value(x)).dtype)
    tau = (_K.sum(x * weights, axis=axis, keepdims=True) - 1) / _K.sum(weights, axis=axis, keepdims=True)
    return where.__wrapped__(support, x - tau, 0.0)


@_op
def glu(x, axis=-1):
    """The gated linear unit: ``a * sigmoid(b)`` for the two halves a, b of ``x`` along ``axis``."""
    x = _float(x)
    a, b = split.__wrapped__(x, 2, axis=axis)
    return a * _K.sigmoid(b)


@_op
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int or a tuple)."""
    return _K.softmax(_float(x), axis=tuple(axis) if isinstance(axis, list) else axis)


@_op
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` over ``axis``: the log of `softmax`, computed without overflow."""
    x = _float(x)
    return x - _K.logsumexp(x, axis=_axes_arg(axis), keepdims=True)


# ---- reductions --------------------------------------------------------------------------------


@_op
def sum(x, axis=None, keepdims=False):
    """The sum over ``axis`` (an int, a tuple, or None for all values); booleans count as int32."""
    x = _tensor(x)
    target = _accumulated(x)
    return _as(_K.sum(_as(x, target), axis=axis, keepdims=keepdims), target)


@_op
def mean(x, axis=None, keepdims=False):
    """The mean over ``axis`` (None: all values)."""
    return _K.mean(_float(x), axis=axis, keepdims=keepdims)


@_op
def max(x, axis=None, keepdims=False, initial=None):
    """The maximum over ``axis`` (None: all values), at least ``initial`` when given; ties share
    the gradient."""
    y = _K.max(_tensor(x), axis=axis, keepdims=keepdims)
    return y if initial is None else _K.maximum(y, initial)


@_op
def min(x, axis=None, keepdims=False, initial=None):
    """The minimum over ``axis`` (None: all values), at most ``initial`` when given."""
    y = _K.min(_tensor(x), axis=axis, keepdims=keepdims)
    return y if initial is None else _K.minimum(y, initial)


@_op
def amax(x, axis=None, keepdims=False):
    """The maximum over ``axis`` (``max``)."""
    return _K.max(_tensor(x), axis=axis, keepdims=keepdims)


@_op
def amin(x, axis=None, keepdims=False):
    """The minimum over ``axis`` (``min``)."""
    return _K.min(_tensor(x), axis=axis, keepdims=keepdims)


@_op
def std(x, axis=None, keepdims=False):
    """The (population) standard deviation over ``axis``."""
    return _K.std(_float(x), axis=axis, keepdims=keepdims)


@_op
def var(x, axis=None, keepdims=False):
    """The (population) variance over ``axis``."""
    return _K.var(_float(x), axis=axis, keepdims=keepdims)


@_op
def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow: -inf for a slice of -inf
    only, +inf for one holding +inf, as TensorFlow's (`fastnn.autodiff.logsumexp`)."""
    return _K.logsumexp(_float(x), axis=_axes_arg(axis), keepdims=keepdims)


@_op
def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis`` (None: all values); the gradient is the product of the others
    (right where a value is 0 too)."""
    x = _tensor(x)
    x = _as(x, _accumulated(x, dtype))
    xv = np.asarray(_value(x))
    axes = ad._axes(axis, xv.ndim)
    kept = np.prod(xv, axis=axes, keepdims=True, dtype=xv.dtype)
    y = kept if keepdims else kept.reshape([n for i, n in enumerate(xv.shape) if i not in axes])

    def backward(g):
        others = [i for i in range(xv.ndim) if i not in axes]
        order = others + list(axes)
        moved = np.transpose(xv, order)
        flat = moved.reshape(moved.shape[:len(others)] + (-1,))
        ones = np.ones(flat.shape[:-1] + (1,), flat.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        d = np.transpose((before * after).reshape(moved.shape), np.argsort(order))
        return (g.reshape(kept.shape) * d,)

    return _result(np.asarray(y), (x,), backward)


@_op
def argmax(x, axis=None, keepdims=False):
    """The index of the largest value along ``axis`` (None: of the flattened values), int32."""
    return _default_int(np.argmax(np.asarray(_value(x)), axis=axis, keepdims=keepdims))


@_op
def argmin(x, axis=None, keepdims=False):
    """The index of the smallest value along ``axis`` (None: of the flattened values), int32."""
    return _default_int(np.argmin(np.asarray(_value(x)), axis=axis, keepdims=keepdims))


@_op
def any(x, axis=None, keepdims=False):
    """Whether any value is true (nonzero) over ``axis`` (booleans)."""
    return np.any(np.asarray(_value(x)), axis=_axes_arg(axis), keepdims=keepdims)


@_op
def all(x, axis=None, keepdims=False):
    """Whether every value is true (nonzero) over ``axis`` (booleans)."""
    return np.all(np.asarray(_value(x)), axis=_axes_arg(axis), keepdims=keepdims)


def _axes_arg(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@_op
def count_nonzero(x, axis=None):
    """The number of nonzero values over ``axis`` (None: all), int32."""
    return _default_int(np.count_nonzero(np.asarray(_value(x)), axis=_axes_arg(axis)))


@_op
def cumsum(x, axis=None, dtype=None):
    """The cumulative sum along ``axis`` (None: of the flattened values)."""
    x = _tensor(x)
    target = _accumulated(x, dtype)
    x = _as(x, target)
    if axis is None:
        x, axis = _K.reshape(x, (-1,)), 0
    return _as(_K.cumsum(x, axis=_axis(axis, ad.ndim(x))), target)


@_op
def average(x, axis=None, weights=None):
    """The mean over ``axis``, weighted by ``weights`` (of x's shape, or 1-D along ``axis``)."""
    x = _float(x)
    if weights is None:
        return _K.mean(x, axis=axis)
    w = _tensor(weights)
    if ad.ndim(w) == 1 and ad.ndim(x) > 1 and axis is not None:
        shape = [1] * ad.ndim(x)
        shape[_axis(axis, ad.ndim(x))] = -1
        w = _K.reshape(w, shape)
    return _K.sum(x * w, axis=axis) / _K.sum(w * _K.ones_like(x), axis=axis)


@_op
def norm(x, ord=None, axis=None, keepdims=False):
    """The vector norm of ``x`` over one axis, or the matrix norm over two (NumPy's
    ``linalg.norm``). ``ord``: None (2-norm, Frobenius), 1, 2, inf, -inf, 0, another p for
    vectors; "fro", "nuc", 1, -1, 2, -2, inf, -inf for matrices (nuc, 2, -2 without gradient)."""
    x = _float(x)
    nd = ad.ndim(x)
    if axis is None:
        if ord is None:
            return _K.sqrt(_K.sum(_K.square(x), axis=None, keepdims=keepdims))
        if nd not in (1, 2):
            raise ValueError(f"with axis=None and an ord, x must be 1-D or 2-D. Received: rank {nd}")
        axes = tuple(range(nd))
    else:
        axes = tuple(_axis(a, nd) for a in (axis if isinstance(axis, (list, tuple)) else (axis,)))
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2:
        out = _matrix_norm(x, ord, axes)
    else:
        raise ValueError(f"axis must be one axis or two. Received: axis={axis!r}")
    return out if keepdims else _K.reshape(out, [n for i, n in enumerate(ad.shape(x)) if i not in axes])


def _vector_norm(x, ord, a):  # keeps the axis
    if ord is None or ord == 2:
        return _K.sqrt(_K.sum(_K.square(x), axis=a, keepdims=True))
    if ord == np.inf:
        return _K.max(_K.abs(x), axis=a, keepdims=True)
    if ord == -np.inf:
        return _K.min(_K.abs(x), axis=a, keepdims=True)
    if ord == 0:
        return np.sum(np.asarray(_value(x)) != 0, axis=a, keepdims=True).astype(ad.dtype(x))
    if ord == 1:
        return _K.sum(_K.abs(x), axis=a, keepdims=True)
    if isinstance(ord, str):
        raise ValueError(f"ord {ord!r} is a matrix norm; a vector norm takes a number")
    return _K.pow(_K.sum(_K.pow(_K.abs(x), ord), axis=a, keepdims=True), 1.0 / ord)


def _matrix_norm(x, ord, axes):  # keeps both axes
    r, c = axes
    if ord is None or ord == "fro":
        return _K.sqrt(_K.sum(_K.square(x), axis=axes, keepdims=True))
    if ord in (1, -1):
        cols = _K.sum(_K.abs(x), axis=r, keepdims=True)
        return (_K.max if ord == 1 else _K.min)(cols, axis=c, keepdims=True)
    if ord in (np.inf, -np.inf):
        rows = _K.sum(_K.abs(x), axis=c, keepdims=True)
        return (_K.max if ord == np.inf else _K.min)(rows, axis=r, keepdims=True)
    if ord in ("nuc", 2, -2):
        if isinstance(x, Tensor):
            raise ValueError(f"the matrix norm ord={ord!r} (of singular values) has no gradient here")
        return np.linalg.norm(x, ord=ord, axis=axes, keepdims=True)
    raise ValueError(f"invalid ord {ord!r} for a matrix norm")


# ---- shapes ------------------------------------------------------------------------------------


@_op
def reshape(x, newshape):
    """``x`` with the shape ``newshape`` (one entry may be -1)."""
    return _K.reshape(_tensor(x), _ints(newshape, "newshape"))


@_op
def transpose(x, axes=None):
    """``x`` with its axes permuted to ``axes`` (None: reversed)."""
    x = _tensor(x)
    nd = ad.ndim(x)
    if axes is None:
        return _K.permute_dimensions(x, tuple(range(nd - 1, -1, -1)))
    axes = tuple(_axis(a, nd) for a in _ints(axes, "axes"))
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"axes {axes} is not a permutation of the {nd} axes")
    return _K.permute_dimensions(x, axes)


@_op
def swapaxes(x, axis1, axis2):
    """``x`` with two axes exchanged."""
    x = _tensor(x)
    order = list(range(ad.ndim(x)))
    a, b = _axis(axis1, len(order)), _axis(axis2, len(order))
    order[a], order[b] = order[b], order[a]
    return _K.permute_dimensions(x, tuple(order))


@_op
def moveaxis(x, source, destination):
    """``x`` with the axes ``source`` moved to the positions ``destination``."""
    x = _tensor(x)
    nd = ad.ndim(x)
    src = [_axis(a, nd) for a in _ints(source, "source")]
    dst = [_axis(a, nd) for a in _ints(destination, "destination")]
    if len(src) != len(dst):
        raise ValueError(f"source and destination must have the same number of axes. Received: {source}, "
                         f"{destination}")
    order = [a for a in range(nd) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _K.permute_dimensions(x, tuple(order))


@_op
def expand_dims(x, axis):
    """``x`` with a new axis of size 1 at ``axis`` (an int or a tuple)."""
    return _K.expand_dims(_tensor(x), tuple(axis) if isinstance(axis, list) else axis)


@_op
def squeeze(x, axis=None):
    """``x`` without its axes of size 1 (None), or without ``axis`` (which must have size 1)."""
    return _K.squeeze(_tensor(x), tuple(axis) if isinstance(axis, list) else axis)


@_op
def ravel(x):
    """``x`` as one axis."""
    return _K.reshape(_tensor(x), (-1,))


@_op
def concatenate(xs, axis=0):
    """The tensors ``xs`` joined along the existing axis ``axis`` (default 0, as NumPy)."""
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"xs must be a list or tuple of tensors. Received: {type(xs).__name__}")
    return _K.concatenate([_tensor(t) for t in xs], axis=axis)


@_op
def append(x1, x2, axis=None):
    """``x2`` appended to ``x1`` along ``axis`` (None: both flattened)."""
    a, b = _tensor(x1), _tensor(x2)
    if axis is None:
        return _K.concatenate([_K.reshape(a, (-1,)), _K.reshape(b, (-1,))], axis=0)
    return _K.concatenate([a, b], axis=axis)


@_op
def stack(x, axis=0):
    """The tensors ``x`` stacked along a new axis ``axis``."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"x must be a list or tuple of tensors. Received: {type(x).__name__}")
    return _K.stack([_tensor(t) for t in x], axis=axis)


@_op
def hstack(xs):
    """The tensors joined along axis 1 (axis 0 for 1-D ones), as ``np.hstack``."""
    xs = [_tensor(t) for t in xs]
    return _K.concatenate(xs, axis=0 if builtins.all(ad.ndim(t) == 1 for t in xs) else 1)


@_op
def vstack(xs):
    """The tensors joined along axis 0, 1-D ones as rows, as ``np.vstack``."""
    xs = [_tensor(t) for t in xs]
    return _K.concatenate([_K.reshape(t, (1, -1)) if ad.ndim(t) == 1 else t for t in xs], axis=0)


@_op
def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis (an int or one per axis, as ``np.tile``)."""
    x = _tensor(x)
    reps = _ints(repeats, "repeats")
    if len(reps) > ad.ndim(x):
        x = _K.reshape(x, (1,) * (len(reps) - ad.ndim(x)) + ad.shape(x))
    return _K.tile(x, reps)


@_op
def repeat(x, repeats, axis=None):
    """Each element of ``x`` repeated ``repeats`` times (an int, or one count per element) along
    ``axis`` (None: of the flattened values)."""
    x = _tensor(x)
    if axis is None:
        x, axis = _K.reshape(x, (-1,)), 0
    axis = _axis(axis, ad.ndim(x))
    counts = np.asarray(_value(repeats))
    return take.__wrapped__(x, np.repeat(np.arange(ad.shape(x)[axis]), counts), axis=axis)


def _index_array(indices):
    idx = np.asarray(_value(indices))
    if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):  # indices carried as floats by a graph layer
        idx = idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers. Received dtype {idx.dtype}")
    return idx


@_op
def take(x, indices, axis=None):
    """The elements of ``x`` at ``indices`` along ``axis`` (None: of the flattened values);
    repeated indices add up their gradients."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    idx = _index_array(indices)
    if axis is None:
        y = np.take(xv.reshape(-1), idx)

        def backward(g):
            d = np.zeros(xv.size, dtype=g.dtype)
            np.add.at(d, idx, g)
            return (d.reshape(xv.shape),)

        return _result(y, (x,), backward)
    axis = _axis(axis, xv.ndim)
    y = np.take(xv, idx, axis=axis)

    def backward(g):
        d = np.zeros(xv.shape, dtype=g.dtype)
        np.add.at(d, (builtins.slice(None),) * axis + (idx,), g)
        return (d,)

    return _result(y, (x,), backward)


@_op
def take_along_axis(x, indices, axis=None):
    """``x``'s values at ``indices`` along ``axis`` (indices of x's rank; None: of the flattened
    values), as ``np.take_along_axis``: what ``argsort``/``argmax(keepdims=True)`` index."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    idx = _index_array(indices)
    if axis is None:
        x, xv, axis = _K.reshape(x, (-1,)), xv.reshape(-1), 0
    axis = _axis(axis, xv.ndim)
    y = np.take_along_axis(xv, idx, axis=axis)

    def backward(g):
        d = np.zeros(xv.shape, dtype=g.dtype)
        grid = [np.arange(n).reshape([-1 if j == k else 1 for j in range(xv.ndim)]) for k, n in enumerate(xv.shape)]
        grid[axis] = idx
        np.add.at(d, tuple(grid), g)
        return (d,)

    return _result(y, (x,), backward)


@_op
def flip(x, axis=None):
    """``x`` with the order of its elements reversed along ``axis`` (None: every axis)."""
    x = _tensor(x)
    axis = _axes_arg(axis)
    return _result(np.flip(np.asarray(_value(x)), axis), (x,), lambda g: (np.flip(g, axis),))


@_op
def roll(x, shift, axis=None):
    """``x``'s elements shifted by ``shift`` along ``axis`` (None: of the flattened values), those
    past the end coming back at the start."""
    x = _tensor(x)
    axis = _axes_arg(axis)
    back = tuple(-s for s in shift) if isinstance(shift, (list, tuple)) else -shift
    return _result(np.roll(np.asarray(_value(x)), shift, axis), (x,), lambda g: (np.roll(g, back, axis),))


@_op
def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (the gradient sums over the copies)."""
    x = _tensor(x)
    return _result(np.broadcast_to(np.asarray(_value(x)), _ints(shape, "shape")).copy(), (x,), lambda g: (g,))


_COPY_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (``((before, after), ...)`` per axis, or one pair or int for
    all) with ``np.pad``'s ``mode``; the gradient flows from the copies back to their source
    (modes constant, edge, reflect, symmetric, wrap)."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    if constant_values is not None and mode != "constant":
        raise ValueError(f"constant_values is for mode 'constant' only. Received: mode={mode!r}")
    extra = {} if constant_values is None else {"constant_values": constant_values}
    y = np.pad(xv, pad_width, mode=mode, **extra)
    if not isinstance(x, Tensor):
        return y
    if mode not in _COPY_MODES:
        raise ValueError(f"mode {mode!r} has no gradient here; use one of {_COPY_MODES}")

    def backward(g):  # each padded value is a copy of one input value (or a constant, -1 here)
        source = np.arange(xv.size).reshape(xv.shape)
        source = np.pad(source, pad_width, mode=mode, **({"constant_values": -1} if mode == "constant" else {}))
        keep = source >= 0
        d = np.zeros(xv.size, dtype=g.dtype)
        np.add.at(d, source[keep], g[keep])
        return (d.reshape(xv.shape),)

    return _result(y, (x,), backward)


@_op
def tril(x, k=0):
    """``x`` with the values above the ``k``-th diagonal of its last two axes set to 0."""
    x = _tensor(x)
    s = ad.shape(x)
    return where.__wrapped__(np.tri(s[-2], s[-1], k, dtype=bool), x, _K.zeros_like(x))


@_op
def triu(x, k=0):
    """``x`` with the values below the ``k``-th diagonal of its last two axes set to 0."""
    x = _tensor(x)
    s = ad.shape(x)
    return where.__wrapped__(np.tri(s[-2], s[-1], k - 1, dtype=bool), _K.zeros_like(x), x)


@_op
def sort(x, axis=-1):
    """``x`` sorted along ``axis`` (None: the flattened values); the gradient follows each value."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    if axis is None:
        x, xv, axis = _K.reshape(x, (-1,)), xv.reshape(-1), 0
    return take_along_axis.__wrapped__(x, np.argsort(xv, axis=axis, kind="stable"), axis=axis)


@_op
def argsort(x, axis=-1):
    """The indices that sort ``x`` along ``axis`` (None: the flattened values), int32."""
    return _default_int(np.argsort(np.asarray(_value(x)), axis=axis, kind="stable"))


@_op
def get_item(x, key):
    """``x[key]``."""
    return _tensor(x)[key]


def _spatial(value, rank, what):
    """``value`` (an int, or one per spatial axis) as a tuple of ``rank`` ints (an int for rank 1, as
    the 1-D kernels take it)."""
    values = (int(value),) * rank if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(values) != rank or builtins.any(v <= 0 for v in values):
        raise ValueError(f"{what} must be a positive int or {rank} of them. Received: {value!r}")
    return values[0] if rank == 1 else values


def _channels_last(xv, data_format, rank, what):
    if xv.ndim != rank + 2 or rank not in (1, 2, 3):
        raise ValueError(f"{what}: inputs must be (batch, 1 to 3 spatial axes, channels). Received shape {xv.shape}")
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"{what}: data_format must be 'channels_last' or 'channels_first'. Received: {data_format!r}")
    return np.ascontiguousarray(np.moveaxis(xv, 1, -1) if data_format == "channels_first" else xv)


@_op
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The convolution of ``inputs`` (batch, *spatial, channels) with ``kernel`` (*kernel_size,
    channels, filters), no bias, over 1 to 3 spatial axes (``padding`` "valid" or "same"; 1-D
    also "causal"); gradients to both."""
    from . import ops as kernels

    x, k = _tensor(inputs), _tensor(kernel)
    kv = np.asarray(_value(k))
    rank = kv.ndim - 2
    dtype = np.float64 if np.float64 in (np.asarray(_value(x)).dtype, kv.dtype) else np.float32
    xv = _channels_last(np.asarray(_value(x), dtype=dtype), data_format, rank, "ops.conv")
    kv = np.ascontiguousarray(kv, dtype=dtype)
    geometry = dict(strides=_spatial(strides, rank, "strides"), padding=str(padding).lower(),
                    dilation_rate=_spatial(dilation_rate, rank, "dilation_rate"))
    with _backend.float_kernels(dtype):
        y = getattr(kernels, f"conv{rank}d_forward")(xv, kv, None, **geometry)

    def backward(g):
        dy = _channels_last(np.asarray(g, dtype=dtype), data_format, rank, "ops.conv")
        with _backend.float_kernels(dtype):
            dx, dw, _ = getattr(kernels, f"conv{rank}d_backward")(dy, xv, kv, None, use_bias=False, **geometry)
        return (np.moveaxis(dx, -1, 1) if data_format == "channels_first" else dx), dw

    return _result(np.moveaxis(y, -1, 1) if data_format == "channels_first" else y, (x, k), backward)


def _pool(kind, inputs, pool_size, strides, padding, data_format):
    from . import ops as kernels

    x = _tensor(inputs)
    xv0 = np.asarray(_value(x))
    rank = xv0.ndim - 2
    dtype = np.float64 if xv0.dtype == np.float64 else np.float32
    xv = _channels_last(xv0.astype(dtype, copy=False), data_format, rank, f"ops.{kind}_pool")
    geometry = dict(pool_size=_spatial(pool_size, rank, "pool_size"),
                    strides=_spatial(pool_size if strides is None else strides, rank, "strides"),
                    padding=str(padding).lower())
    with _backend.float_kernels(dtype):
        if kind == "max":
            y, argmax = getattr(kernels, f"maxpool{rank}d_forward")(xv, **geometry)
        else:
            y = getattr(kernels, f"avgpool{rank}d_forward")(xv, **geometry)

    def backward(g):
        dy = _channels_last(np.asarray(g, dtype=dtype), data_format, rank, f"ops.{kind}_pool")
        with _backend.float_kernels(dtype):
            dx = getattr(kernels, f"maxpool{rank}d_backward")(dy, argmax, xv.shape) if kind == "max" else \
                getattr(kernels, f"avgpool{rank}d_backward")(dy, xv.shape, **geometry)
        return (np.moveaxis(dx, -1, 1) if data_format == "channels_first" else dx,)

    return _result(np.moveaxis(y, -1, 1) if data_format == "channels_first" else y, (x,), backward)


@_op
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over 1 to 3 spatial axes (the gradient to each window's first maximum)."""
    return _pool("max", inputs, pool_size, strides, padding, data_format)


@_op
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over 1 to 3 spatial axes ("same" borders average their real values)."""
    return _pool("average", inputs, pool_size, strides, padding, data_format)


def in_top_k(targets, predictions, k):
    """Whether each row's target class is among its ``k`` highest predictions (a bool per row; a
    class tied with the k-th value counts as in, and a non-finite prediction never does, as
    TensorFlow's). ``targets`` (batch,) class indices, ``predictions`` (batch, classes)."""
    t = np.asarray(_value(targets))
    p = np.asarray(_value(predictions))
    if p.ndim != 2 or t.shape != p.shape[:1] or t.dtype.kind not in "iu":
        raise ValueError(f"ops.in_top_k: expected integer targets (batch,) and predictions (batch, classes). "
                         f"Received: targets {t.shape} {t.dtype}, predictions {p.shape}")
    if t.size and (t.min() < 0 or t.max() >= p.shape[1]):
        raise ValueError(f"ops.in_top_k: targets must be class indices in [0, {p.shape[1]}). Received: {t}")
    score = p[np.arange(len(t)), t][:, None]
    better = (p > score).sum(axis=1)
    return ((better < int(k)) & np.isfinite(score[:, 0]) & np.isfinite(p).all(axis=1)).view(np.ndarray)


@_composite
def top_k(x, k, sorted=True, is_stable=True):
    """The ``k`` largest values along the last axis and their indices (int32), largest first
    (the first index among ties: always sorted and stable): ``values, indices = ops.top_k(x, 3)``."""
    n = ad.shape(x)[-1] if ad.shape(x) else None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 or (n is not None and k > n):
        raise ValueError(f"k must be an integer in [0, {n}] (the size of the last axis). Received: k={k!r}")
    indices = argsort(negative(x), axis=-1)[..., :k]
    return take_along_axis(x, indices, axis=-1), indices


@_composite
def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into ``indices_or_sections`` equal pieces (an int), or at the given
    indices (a list): a list of tensors."""
    x = _tensor(x)
    shape = ad.shape(x)
    axis = _axis(axis, len(shape))
    n = shape[axis]
    if n is None:
        raise ValueError(f"axis {axis} has an unknown size (the batch axis of a symbolic tensor)")
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or n % sections:
            raise ValueError(f"an axis of size {n} cannot be split into {sections} equal sections")
        cuts = [i * (n // sections) for i in range(1, sections)]
    else:
        cuts = list(_ints(indices_or_sections, "indices"))
    bounds = [0] + cuts + [n]
    lead = (builtins.slice(None),) * axis
    return [x[lead + (builtins.slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:])]


@_composite
def array_split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into ``indices_or_sections`` nearly equal pieces (the first ones a
    value longer), or at the given indices (a list): a list of tensors."""
    if not isinstance(indices_or_sections, (int, np.integer)):
        return split.__wrapped__(x, indices_or_sections, axis=axis)
    x = _tensor(x)
    shape = ad.shape(x)
    axis = _axis(axis, len(shape))
    n, sections = shape[axis], int(indices_or_sections)
    if n is None or sections <= 0:
        raise ValueError(f"cannot split an axis of size {n} into {sections} sections")
    sizes = [n // sections + (1 if i < n % sections else 0) for i in range(sections)]
    return split.__wrapped__(x, list(np.cumsum(sizes)[:-1]), axis=axis)


@_composite
def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, that axis removed: a list of tensors."""
    x = _tensor(x)
    shape = ad.shape(x)
    axis = _axis(axis, len(shape))
    n = shape[axis] if shape[axis] is not None else num
    if n is None:
        raise ValueError(f"axis {axis} has an unknown size (the batch axis of a symbolic tensor)")
    if num is not None and num != n:
        raise ValueError(f"num={num} does not match the axis size {n}")
    lead = (builtins.slice(None),) * axis
    return [x[lead + (i,)] for i in range(n)]


@_composite
def slice(inputs, start_indices, shape):
    """The block of ``inputs`` starting at ``start_indices`` with the sizes ``shape`` (-1: to the
    end of the axis)."""
    inputs = _tensor(inputs)
    start, size = _ints(start_indices, "start_indices"), _ints(shape, "shape")
    if len(start) != len(size) or len(start) != len(ad.shape(inputs)):
        raise ValueError(f"start_indices and shape need one entry per axis of the {len(ad.shape(inputs))}-D "
                         f"input. Received: {start}, {size}")
    for axis, (s, n, d) in enumerate(zip(start, size, ad.shape(inputs))):
        if d is not None and (s < 0 or n < -1 or s > d or (n != -1 and s + n > d)):
            raise ValueError(f"the block does not fit in the input of shape {tuple(ad.shape(inputs))}: on axis {axis} "
                             f"it starts at {s} with size {n}. Received: start_indices={start}, shape={size}")
    return inputs[tuple(builtins.slice(s, None if n == -1 else s + n) for s, n in zip(start, size))]


# ---- creating tensors --------------------------------------------------------------------------


def _shape_arg(shape):
    return _ints(shape, "shape")


# (eager tensors, as tf.zeros gives: ``outputs = ops.zeros([batch, n]); outputs += tree(x)`` in a call
# on the tape adds the tape tensor, where a plain array's in-place += refuses it)
@_composite
def zeros(shape, dtype=None):
    """An array of zeros (dtype: floatx)."""
    return np.zeros(_shape_arg(shape), dtype=dtype or utils.floatx()).view(EagerArray)


@_composite
def ones(shape, dtype=None):
    """An array of ones (dtype: floatx)."""
    return np.ones(_shape_arg(shape), dtype=dtype or utils.floatx()).view(EagerArray)


@_composite
def empty(shape, dtype=None):
    """An array of ``shape`` (zeros here; dtype: floatx)."""
    return np.zeros(_shape_arg(shape), dtype=dtype or utils.floatx()).view(EagerArray)


@_composite
def full(shape, fill_value, dtype=None):
    """An array filled with ``fill_value`` (dtype: floatx)."""
    return np.full(_shape_arg(shape), _value(fill_value), dtype=dtype or utils.floatx()).view(EagerArray)


@_op
def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape and dtype (or ``dtype``)."""
    return np.zeros_like(np.asarray(_value(_tensor(x))), dtype=dtype)


@_op
def ones_like(x, dtype=None):
    """Ones of ``x``'s shape and dtype (or ``dtype``)."""
    return np.ones_like(np.asarray(_value(_tensor(x))), dtype=dtype)


@_op
def full_like(x, fill_value, dtype=None):
    """``fill_value`` in ``x``'s shape and dtype (or ``dtype``)."""
    return np.full_like(np.asarray(_value(_tensor(x))), _value(fill_value), dtype=dtype)


def _creation_dtype(values, integer):
    """Keras's dtype for ``arange``/``linspace`` from Python or NumPy numbers: floatx for Python
    floats (float64 if a NumPy float64 is among the values), int32 for Python ints when
    ``integer`` (else the NumPy integers' type)."""
    python = [v for v in values if type(v) in (bool, int, float)]
    numpy = [np.asarray(v).dtype for v in values if type(v) not in (bool, int, float)]
    if not integer or builtins.any(type(v) is float for v in python) or builtins.any(d.kind == "f" for d in numpy):
        return np.float64 if np.dtype(np.float64) in numpy else utils.floatx()
    return np.result_type(*numpy) if numpy else np.int32


@_composite
def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop) (one argument: [0, start)); int32 for Python ints,
    floatx for floats."""
    values = [_value(v) for v in (start, stop, step) if v is not None]
    if stop is None:
        start, stop = 0, start
    return np.arange(_value(start), _value(stop), 1 if step is None else _value(step),
                     dtype=dtype or _creation_dtype(values, integer=True))


@_composite
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from start to stop (included with ``endpoint``); with
    ``retstep`` also the spacing (dtype: floatx)."""
    return np.linspace(_value(start), _value(stop), num=num, endpoint=endpoint, retstep=retstep,
                       dtype=dtype or _creation_dtype([_value(start), _value(stop)], integer=False), axis=axis)


@_composite
def eye(N, M=None, k=0, dtype=None):
    """An N x M matrix with ones on the ``k``-th diagonal (dtype: floatx)."""
    return np.eye(N, M=M, k=k, dtype=dtype or utils.floatx())


@_composite
def identity(n, dtype=None):
    """The n x n identity matrix (dtype: floatx)."""
    return np.eye(n, dtype=dtype or utils.floatx())


@_composite
def tri(N, M=None, k=0, dtype=None):
    """An N x M matrix with ones at and below the ``k``-th diagonal (dtype: floatx)."""
    return np.tri(N, M, k, dtype=dtype or utils.floatx())


# ---- core: tensors, dtypes, control flow -------------------------------------------------------


def shape(x):
    """The shape of ``x`` as a tuple (None for a symbolic tensor's batch axis)."""
    return ad.shape(x)


def ndim(x):
    """The number of axes of ``x``."""
    return len(ad.shape(x))


def size(x):
    """The number of values in ``x`` (None when a size is unknown)."""
    s = ad.shape(x)
    return None if None in s else math.prod(s)


def dtype(x):
    """The dtype of ``x`` as a string (``"float32"``)."""
    return ad.dtype(_tensor(x))


@_op
def cast(x, dtype):
    """``x`` converted to ``dtype``; the gradient flows between float dtypes (a tf.SparseTensor:
    its values)."""
    if type(x).__name__ == "SparseTensor" and hasattr(x, "dense_shape"):
        return type(x)(x.indices, cast(x.values, dtype), x.dense_shape)
    return _K.cast(_tensor(x), dtype)


def _strings(x):
    """``x`` as a NumPy array of str when it holds strings (a str or bytes, lists of them, a string
    array), as ``tf.constant`` makes a string tensor; else None."""
    if isinstance(x, Operators) or isinstance(x, (list, tuple)) and builtins.any(isinstance(v, Operators) for v in x):
        return None
    a = np.asarray(x)
    return a.astype(str) if a.dtype.kind in "US" else None


@_composite
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as a tensor: an array (Python floats as floatx, ints as int32; strings as a str array),
    or ``x`` itself when it is a tensor (cast to ``dtype`` when given)."""
    if sparse or ragged:
        raise ValueError("fastnn has no sparse or ragged tensors")
    text = _strings(x)
    if text is not None:
        if dtype is not None and np.dtype(dtype).kind not in "US":
            raise TypeError(f"strings cannot be converted to dtype {np.dtype(dtype)}. Received: {x!r:.60}")
        return text
    x = _tensor(x)
    if dtype is not None and ad.dtype(x) != str(np.dtype(dtype)):
        return cast(x, dtype)
    return x


@_composite
def array(x, dtype=None):
    """``x`` as an array (``convert_to_tensor``)."""
    return convert_to_tensor.__wrapped__(x, dtype)


@_composite
def convert_to_numpy(x):
    """The value of ``x`` as a NumPy array."""
    if _is_symbolic(x):
        raise ValueError("a symbolic tensor of the functional API has no value; call the model (or predict) on "
                         "data instead")
    return np.array(_value(x))


@_op
def copy(x):
    """A copy of ``x``."""
    x = _tensor(x)
    return _result(np.array(_value(x)), (x,), lambda g: (g,))


def is_tensor(x):
    """Whether ``x`` is a tensor: a NumPy array or scalar, a tape tensor or a symbolic one."""
    return isinstance(x, (np.ndarray, np.generic, Operators))


@_op
def stop_gradient(variable):
    """The value of ``variable``, as a constant (no gradient flows back through it)."""
    return np.array(_value(variable))


# The control flow is Python's (the functions they call run eagerly, or on the tape); an error
# raised by those functions passes through unchanged.


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` holds, else ``false_fn()`` (Python's if: ``pred`` must have a
    value, so not a symbolic tensor)."""
    if _is_symbolic(pred):
        raise ValueError("ops.cond: the predicate is a symbolic tensor, which has no value yet; compute the condition "
                         "inside a layer's call or a Lambda")
    return true_fn() if bool(np.asarray(_value(pred))) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for i in [lower, upper), from ``init_val`` (a Python loop)."""
    val = init_val
    for i in range(int(_value(lower)), int(_value(upper))):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (a tuple or list of values,
    or one value), at most ``maximum_iterations`` times (a Python loop)."""
    several = isinstance(loop_vars, (list, tuple))
    state = tuple(loop_vars) if several else (loop_vars,)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and bool(np.asarray(_value(cond(*state)))):
        out = body(*state)
        state = tuple(out) if several else (out,)
        steps += 1
    return type(loop_vars)(state) if several else state[0]


def map(f, xs):
    """``f`` applied to each slice ``xs[i]`` along the first axis, the results stacked."""
    n = ad.shape(xs)[0]
    if n is None:
        raise ValueError("ops.map: xs has an unknown first axis (the batch axis of a symbolic tensor)")
    return stack([f(xs[i]) for i in range(n)], axis=0)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` for each slice x of ``xs`` along its first axis (or ``length``
    times with x None), from ``init``: returns the last carry and the y stacked (None if f gives
    None). A Python loop; ``xs`` one tensor."""
    n = length if xs is None else ad.shape(xs)[0]
    if n is None:
        raise ValueError("ops.scan: give xs with a known first axis, or length")
    carry, ys = init, []
    for i in (range(n - 1, -1, -1) if reverse else range(n)):
        carry, y = f(carry, None if xs is None else xs[i])
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (None if not ys or ys[0] is None else stack(ys, axis=0))


# ---- products ----------------------------------------------------------------------------------


@_op
def matmul(x1, x2):
    """The matrix product ``x1 @ x2`` (NumPy's matmul: batched over leading axes, a 1-D operand a
    vector). ``fastnn.ops.matmul`` calls it for tensors; on arrays it runs the GEMM kernel."""
    return _K.dot(_tensor(x1), _tensor(x2))


@_op
def dot(x1, x2):
    """NumPy's dot: a product for scalars, the matrix product for 1-D and 2-D operands, and for
    N-D x2 the sum over x1's last axis and x2's second-to-last."""
    a, b = _operands(x1, x2)
    a, b = _tensor(a), _tensor(b)
    if ad.ndim(a) == 0 or ad.ndim(b) == 0:
        return _K.multiply(a, b)
    if ad.ndim(b) <= 2:
        return _K.dot(a, b)
    return tensordot.__wrapped__(a, b, axes=([-1], [-2]))


@_op
def tensordot(x1, x2, axes=2):
    """The sum of x1 * x2 over ``axes``: an int n (x1's last n axes with x2's first n), or a pair
    of axis lists; the free axes of x1, then of x2, remain."""
    a, b = _tensor(x1), _tensor(x2)
    sa, sb = ad.shape(a), ad.shape(b)
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= builtins.min(len(sa), len(sb)):
            raise ValueError(f"axes={axes} is more than the ranks {len(sa)} and {len(sb)}")
        ax_a, ax_b = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must be an int or a pair of axis lists. Received: {axes!r}")
        ax_a = [_axis(i, len(sa)) for i in _ints(axes[0], "axes")]
        ax_b = [_axis(i, len(sb)) for i in _ints(axes[1], "axes")]
    if len(ax_a) != len(ax_b) or builtins.any(sa[i] != sb[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"the contracted axes do not match: {[sa[i] for i in ax_a]} (x1 {sa}) and "
                         f"{[sb[j] for j in ax_b]} (x2 {sb})")
    if not ax_a:  # the outer product
        return _K.reshape(a, tuple(sa) + (1,) * len(sb)) * b
    free_a = [i for i in range(len(sa)) if i not in ax_a]
    free_b = [j for j in range(len(sb)) if j not in ax_b]
    k = math.prod(sa[i] for i in ax_a)
    am = _K.reshape(_K.permute_dimensions(a, tuple(free_a + ax_a)), (-1, k))
    bm = _K.reshape(_K.permute_dimensions(b, tuple(ax_b + free_b)), (k, -1))
    return _K.reshape(_K.dot(am, bm), tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b))


@_op
def outer(x1, x2):
    """The outer product of the flattened x1 and x2: (x1.size, x2.size)."""
    return _K.reshape(_tensor(x1), (-1, 1)) * _K.reshape(_tensor(x2), (1, -1))


@_op
def inner(x1, x2):
    """The sum over the last axes of x1 and x2 (NumPy's inner; a product for scalars)."""
    a, b = _tensor(x1), _tensor(x2)
    if ad.ndim(a) == 0 or ad.ndim(b) == 0:
        return _K.multiply(a, b)
    return tensordot.__wrapped__(a, b, axes=([-1], [-1]))


@_op
def vdot(x1, x2):
    """The sum of the products of the flattened x1 and x2."""
    return _K.sum(_K.reshape(_tensor(x1), (-1,)) * _K.reshape(_tensor(x2), (-1,)))


def _einsum_explicit(subscripts, ndims):
    """``subscripts`` with "..." replaced by letters (aligned from the right, as NumPy broadcasts)
    and the output made explicit: (input subscripts, output subscript)."""
    subscripts = subscripts.replace(" ", "")
    ins, arrow, out = subscripts.partition("->")
    inputs = ins.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"the subscripts {subscripts!r} name {len(inputs)} operands; {len(ndims)} were given")
    free = [c for c in string.ascii_letters if c not in subscripts]
    n_ell = [nd - len(s.replace("...", "")) if "..." in s else 0 for s, nd in zip(inputs, ndims)]
    width = builtins.max(n_ell, default=0)
    ell = "".join(free[:width])
    inputs = [s.replace("...", ell[width - n:]) for s, n in zip(inputs, n_ell)]
    if arrow:
        out = out.replace("...", ell)
    else:  # NumPy's implicit output: the broadcast axes, then the letters used once, sorted
        letters = "".join(inputs)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return inputs, out


@_op
def einsum(subscripts, *operands, **kwargs):
    """Einstein summation (``np.einsum``): ``ops.einsum("bij,bjk->bik", a, b)``. Gradients for
    operands without a repeated index of their own (no "ii" diagonals)."""
    xs = [_tensor(o) for o in operands]
    values = [np.asarray(_value(o)) for o in xs]
    inputs, out = _einsum_explicit(subscripts, [v.ndim for v in values])
    y = np.einsum(",".join(inputs) + "->" + out, *values)
    for s, o in zip(inputs, xs):
        if isinstance(o, Tensor) and len(set(s)) != len(s):
            raise ValueError(f"the operand {s!r} repeats an index (a diagonal), which has no gradient here")

    def backward(g):
        grads = []
        for i, (s, v) in enumerate(zip(inputs, values)):
            if not isinstance(xs[i], Tensor):
                grads.append(None)
                continue
            others = [(inputs[j], values[j]) for j in range(len(xs)) if j != i]
            known = set(out).union(*[set(t) for t, _ in others])
            target = "".join(c for c in s if c in known)
            d = np.einsum(",".join([out] + [t for t, _ in others]) + "->" + target, g, *[u for _, u in others])
            for k, c in enumerate(s):  # an index summed over only here: the gradient is the same along it
                if c not in known:
                    d = np.expand_dims(d, k)
            for k, (n, m) in enumerate(zip(v.shape, d.shape)):  # an operand's size-1 axis was broadcast
                if n == 1 and m != 1:
                    d = d.sum(axis=k, keepdims=True)
            grads.append(np.broadcast_to(d, v.shape))
        return grads

    return _result(y, tuple(xs), backward)


# ---- losses, one-hot, normalisation (keras.ops.nn) ---------------------------------------------


@_op
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t·log p + (1 - t)·log(1 - p))``, p clipped to [1e-7, 1 - 1e-7]
    (``from_logits``: ``output`` is a logit, through a stable sigmoid)."""
    return _K.binary_crossentropy(_tensor(target), _tensor(output), from_logits)


@_op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(t · log p)`` over ``axis`` for one-hot ``target`` (``output`` rescaled to sum to 1 and
    clipped, or with ``from_logits`` through a log-softmax)."""
    return _K.categorical_crossentropy(_tensor(target), _tensor(output), from_logits, axis)


@_op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """`categorical_crossentropy` for integer labels ``target`` (the class axis last)."""
    if axis not in (-1, ad.ndim(output) - 1):
        raise ValueError(f"only the last axis can hold the classes. Received: axis={axis}")
    return _K.sparse_categorical_crossentropy(_tensor(target), _tensor(output), from_logits)


@_op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer ``x`` as one-hot vectors of ``num_classes`` on a new axis ``axis``; an index outside
    [0, num_classes) (negative, or num_classes and above) gives a row of zeros, as Keras's
    TensorFlow and JAX backends (``tf.one_hot``, ``jax.nn.one_hot``); dtype: float32."""
    if sparse:
        raise ValueError("fastnn has no sparse tensors")
    idx = _index_array(x)
    if num_classes is None:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative integer. Received: num_classes={num_classes!r}")
    y = (idx[..., None] == np.arange(int(num_classes))).astype(dtype or "float32")
    return y if axis == -1 else np.moveaxis(y, -1, axis)


@_op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Integer labels as multi-hot vectors: 1 at each label among the last axis of ``inputs`` (one
    sample's labels, 1-D, or a batch of them), the classes on ``axis``."""
    if sparse:
        raise ValueError("fastnn has no sparse tensors")
    num_classes = kwargs.pop("num_tokens", num_classes)
    if kwargs:
        raise TypeError(f"unexpected arguments {sorted(kwargs)}")
    hot = one_hot.__wrapped__(inputs, num_classes, dtype=dtype)
    y = hot.max(axis=-2 if hot.ndim > 2 else 0)
    return y if axis == -1 else np.moveaxis(y, -1, axis)


@_composite
def moments(x, axes, keepdims=False, synchronized=False):
    """The mean and the (population) variance of ``x`` over ``axes``: ``mean, variance =
    ops.moments(x, axes=[0])``."""
    axes = _axes_arg(axes)
    return mean(x, axis=axes, keepdims=keepdims), var(x, axis=axes, keepdims=keepdims)


@_op
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its norm of ``order`` over ``axis`` (at least ``epsilon``, default 1e-7)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be an int >= 1. Received: order={order!r}")
    x = _float(x)
    if ad.ndim(x) == 0:
        x = _K.expand_dims(x, 0)
    epsilon = ad.epsilon() if epsilon is None else epsilon
    if order == 2:
        return x / _K.sqrt(_K.maximum(_K.sum(_K.square(x), axis=axis, keepdims=True), epsilon * epsilon))
    return x / _K.maximum(norm.__wrapped__(x, ord=order, axis=axis, keepdims=True), epsilon)


@_op
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` with the statistics (1-D) along
    ``axis`` of ``x``."""
    x = _float(x)
    nd = ad.ndim(x)
    shape = [1] * nd
    shape[_axis(axis, nd)] = -1

    def along(v):
        return _K.reshape(_tensor(v), shape)

    inv = 1 / _K.sqrt(along(variance) + epsilon)
    if scale is not None:
        inv = inv * along(scale)
    y = (x - along(mean)) * inv
    return y if offset is None else y + along(offset)


@_op
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention of query (B, T, N, H) over key and value (B, S, N, H):
    ``softmax(q·kᵀ · scale + bias)`` (scale 1/sqrt(H); masked where ``mask`` is False, and above
    the diagonal with ``is_causal``) times the values: (B, T, N, H)."""
    if flash_attention:
        raise ValueError("flash attention is not supported")
    q, k, v = _float(query), _float(key), _float(value)
    if ad.ndim(q) != 4 or ad.ndim(k) != 4 or ad.ndim(v) != 4:
        raise ValueError(f"query, key and value must be 4-D (batch, steps, heads, head size). Received: "
                         f"{ad.shape(q)}, {ad.shape(k)}, {ad.shape(v)}")
    scale = 1.0 / math.sqrt(ad.shape(k)[-1]) if scale is None else scale
    logits = einsum.__wrapped__("BTNH,BSNH->BNTS", q, k) * scale
    if bias is not None:
        logits = logits + _tensor(bias)
    if attn_logits_soft_cap is not None:
        logits = attn_logits_soft_cap * _K.tanh(logits / attn_logits_soft_cap)
    keep = None if mask is None else np.asarray(_value(mask)).astype(bool)
    if is_causal:
        t, s = ad.shape(logits)[-2:]
        causal = np.tri(t, s, dtype=bool)
        keep = causal if keep is None else keep & causal
    if keep is not None:
        low = -0.7 * float(np.finfo(np.dtype(ad.dtype(logits))).max)
        logits = where.__wrapped__(keep, logits, low)
    return einsum.__wrapped__("BNTS,BSNH->BTNH", _K.softmax(logits, axis=-1), v)


# ---- products along an axis, segments, slice updates (Keras 3's cumprod, segment_*, slice_update) ----


def _scan_sum(v, axis, exclusive=False, reverse=False):
    """NumPy's cumulative sum of ``v`` along ``axis`` with TensorFlow's ``exclusive`` (each sum
    leaves its own value out: 0 first) and ``reverse`` (summed from the end)."""
    m = np.moveaxis(v, axis, 0)
    m = m[::-1] if reverse else m
    y = np.cumsum(m, axis=0, dtype=m.dtype)
    if exclusive:
        y = np.concatenate([np.zeros_like(y[:1]), y[:-1]], axis=0)
    return np.moveaxis(y[::-1] if reverse else y, 0, axis)


def cumulative_sum(x, axis, exclusive=False, reverse=False):
    """`_scan_sum` of an array or tape tensor ``x`` (axis in range), with its gradient: the
    cumulative sum of the output's gradient the other way round."""
    xv = np.asarray(_value(x))
    return _result(_scan_sum(xv, axis, exclusive, reverse), (x,),
                   lambda g: (_scan_sum(np.asarray(g), axis, exclusive, not reverse),))


def cumulative_product(x, axis, exclusive=False, reverse=False):
    """The cumulative product of an array or tape tensor ``x`` along ``axis`` (in range), with
    TensorFlow's ``exclusive`` (1 first) and ``reverse``. The gradient is a backward scan without
    division, so it is exact where values are 0 (d y_i / d x_j is the product of the others)."""
    xv = np.asarray(_value(x))
    m = np.moveaxis(xv, axis, 0)
    m = m[::-1] if reverse else m
    n = m.shape[0]
    before = np.concatenate([np.ones_like(m[:1]), np.cumprod(m[:-1], axis=0, dtype=m.dtype)], axis=0) \
        if n else m.copy()  # the product of the values before each one
    y = before if exclusive else np.cumprod(m, axis=0, dtype=m.dtype)
    y = np.moveaxis(y[::-1] if reverse else y, 0, axis)

    def backward(g):
        gm = np.moveaxis(np.asarray(g), axis, 0)
        gm = gm[::-1] if reverse else gm
        d = np.empty(gm.shape, dtype=gm.dtype)
        acc = np.zeros(gm.shape[1:], dtype=gm.dtype)
        # acc_j = sum over the outputs i that use x_j of g_i times the values between j and i
        for j in range(n - 1, -1, -1):
            if exclusive:
                acc = gm[j + 1] + m[j + 1] * acc if j < n - 1 else acc
            else:
                acc = gm[j] + (m[j + 1] * acc if j < n - 1 else 0)
            d[j] = before[j] * acc
        return (np.moveaxis(d[::-1] if reverse else d, 0, axis),)

    return _result(y, (x,), backward)


@_op
def cumprod(x, axis=None, dtype=None):
    """The cumulative product along ``axis`` (None: of the flattened values); its gradient is
    exact at zeros."""
    x = _tensor(x)
    target = _accumulated(x, dtype)
    x = _as(x, target)
    if axis is None:
        x, axis = _K.reshape(x, (-1,)), 0
    return cumulative_product(x, _axis(axis, ad.ndim(x)))


_SEGMENT_KINDS = ("sum", "mean", "max", "min", "prod", "sqrt_n")


def _named(kind, message):
    """An exception whose message already names the function (`fastnn.autodiff.graph_function`
    passes it on as it is)."""
    error = kind(message)
    error._fastnn_named = True
    return error


def segment_reduce(kind, data, segment_ids, num_segments=None, what="segment", empty=None):
    """``data``'s slices reduced by segment: ``segment_ids`` (integers, of the shape of ``data``'s
    first axes) give each slice's segment; the result is (num_segments, *the other axes of
    data). A negative id drops its slice (TensorFlow's unsorted ops); num_segments None: the
    largest id + 1. An empty segment holds 0 (sum, mean, sqrt_n), 1 (prod), the dtype's lowest
    (max) or highest (min) value, or ``empty`` when given. Gradients go to ``data``; max and min
    split one between ties, as TensorFlow's."""
    if kind not in _SEGMENT_KINDS:
        raise _named(ValueError, f"{what}: unknown reduction {kind!r}")
    x = _tensor(data)
    xv = np.asarray(_value(x))
    ids = np.asarray(_value(segment_ids))
    if ids.dtype.kind not in "iu":
        raise _named(TypeError, f"{what}: segment_ids must be integers. Received dtype {ids.dtype}")
    if ids.shape != xv.shape[:ids.ndim]:
        raise _named(ValueError, f"{what}: the shape of segment_ids must be a prefix of the shape of data. Received: "
                         f"segment_ids {ids.shape}, data {xv.shape}")
    if num_segments is None:
        num = int(ids.max()) + 1 if ids.size else 0
    else:
        num = _value(num_segments)
        if isinstance(num, (bool, np.bool_)) or np.ndim(num) or not float(num).is_integer() or int(num) < 0:
            raise _named(ValueError, f"{what}: num_segments must be a non-negative integer. Received: {num_segments!r}")
        num = int(num)
    flat = ids.reshape(-1).astype(np.int64)
    if flat.size and flat.max() >= num:
        at = [int(i) for i in np.unravel_index(int(np.argmax(flat)), ids.shape)]
        raise _named(ValueError, f"{what}: segment_ids{at} = {flat.max()} is out of range [0, {num})")
    rows = xv.reshape((flat.size,) + xv.shape[ids.ndim:])
    keep = flat >= 0
    seg, kept = flat[keep], rows[keep]
    inner = xv.shape[ids.ndim:]
    count = np.bincount(seg, minlength=num).astype(np.int64)
    shaped = count.reshape((num,) + (1,) * len(inner))
    if kind in ("sum", "mean", "sqrt_n"):
        total = np.zeros((num,) + inner, dtype=xv.dtype)
        np.add.at(total, seg, kept)
        if kind == "sum":
            y = total
        else:
            denominator = np.maximum(shaped, 1) if kind == "mean" else np.sqrt(np.maximum(shaped, 1))
            y = (total / denominator).astype(xv.dtype)
    elif kind == "prod":
        y = np.ones((num,) + inner, dtype=xv.dtype)
        np.multiply.at(y, seg, kept)
    else:
        info = np.finfo(xv.dtype) if xv.dtype.kind == "f" else np.iinfo(xv.dtype) if xv.dtype.kind in "iu" else None
        if info is None:
            raise _named(TypeError, f"{what}: data must be numbers. Received dtype {xv.dtype}")
        low, high = info.min, info.max  # (floats too: TensorFlow's numeric_limits<T>::lowest(), finite, not -inf)
        y = np.full((num,) + inner, low if kind == "max" else high, dtype=xv.dtype)
        (np.maximum if kind == "max" else np.minimum).at(y, seg, kept)
        if empty is not None:
            y[count == 0] = empty

    def backward(g):
        g = np.asarray(g)
        d = np.zeros(rows.shape, dtype=g.dtype)
        if kind == "sum":
            d[keep] = g[seg]
        elif kind == "mean":
            d[keep] = g[seg] / np.maximum(shaped, 1)[seg]
        elif kind == "sqrt_n":
            d[keep] = g[seg] / np.sqrt(np.maximum(shaped, 1))[seg]
        elif kind == "prod":  # the product of the others in the segment, zeros counted apart
            zero = kept == 0
            zeros = np.zeros((num,) + inner, dtype=np.int64)
            np.add.at(zeros, seg, zero.astype(np.int64))
            nonzero_product = np.ones((num,) + inner, dtype=xv.dtype)
            np.multiply.at(nonzero_product, seg, np.where(zero, 1, kept))
            with np.errstate(divide="ignore", invalid="ignore"):
                others = np.where(zero, np.where(zeros[seg] == 1, nonzero_product[seg], 0),
                                  np.where(zeros[seg] == 0, nonzero_product[seg] / np.where(zero, 1, kept), 0))
            d[keep] = g[seg] * others
        else:
            chosen = kept == y[seg]
            ties = np.zeros((num,) + inner, dtype=np.int64)
            np.add.at(ties, seg, chosen.astype(np.int64))
            d[keep] = np.where(chosen, g[seg] / np.maximum(ties[seg], 1), 0)
        return (d.reshape(xv.shape),)

    return _result(y, (x,), backward)


@_op
def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """The sum of ``data``'s slices per segment (``segment_ids``: the shape of data's first axes;
    num_segments None: the largest id + 1; a negative id is dropped): (num_segments, *rest)."""
    return segment_reduce("sum", data, segment_ids, num_segments, "ops.segment_sum")


@_op
def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """The maximum of ``data``'s slices per segment (an empty segment: the dtype's lowest finite
    value, -3.4e38 for float32, as TensorFlow's unsorted_segment_max); ties share the gradient."""
    return segment_reduce("max", data, segment_ids, num_segments, "ops.segment_max")


@_op
def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates`` (of its rank, inside
    it); gradients to both (none to the replaced values)."""
    x, u = _tensor(inputs), _tensor(updates)
    xv, uv = np.asarray(_value(x)), np.asarray(_value(u))
    start = _ints(start_indices, "start_indices")
    if len(start) != xv.ndim or uv.ndim != xv.ndim:
        raise ValueError(f"start_indices and updates need one entry / axis per axis of the {xv.ndim}-D inputs. "
                         f"Received: start_indices {start}, updates of shape {uv.shape}")
    if builtins.any(s < 0 or s + n > dim for s, n, dim in zip(start, uv.shape, xv.shape)):
        raise ValueError(f"updates of shape {uv.shape} at start_indices {start} do not fit in inputs of shape "
                         f"{xv.shape}")
    return replaced_at(x, u, xv, uv, tuple(builtins.slice(s, s + n) for s, n in zip(start, uv.shape)))


def replaced_at(x, updates, xv, uv, where):
    """A copy of ``x`` (values ``xv``) whose values at the index ``where`` are ``updates``
    (values ``uv``); the gradient of the replaced values goes to the updates."""
    y = xv.copy()
    y[where] = uv

    def backward(g):
        dx = np.array(g, copy=True)
        dx[where] = 0
        return dx, np.asarray(g)[where]

    return _result(y, (x, updates), backward)


# ---- round 29: more of Keras 3's keras.ops.numpy, keras.ops.linalg and saturate_cast -------------------


def _result_dtype(*values):
    """Keras's result dtype for ``values`` (arrays, tensors or Python numbers): a Python number is
    weak (it takes an array's dtype); among arrays, integers and floats together give the float."""
    arrays = [np.dtype(ad.dtype(_tensor(v))) for v in values if not isinstance(v, (bool, int, float))]
    if not arrays:
        return np.result_type(*[_tensor(v) for v in values])
    floats = [d for d in arrays if d.kind in "fc"]
    if floats:
        return np.result_type(*floats)
    if builtins.any(type(v) is float for v in values):
        return np.dtype(utils.floatx())
    return np.result_type(*arrays)


def _gather_flat(x, positions):
    """The values of ``x`` at the flat ``positions`` (an int array of any shape), with the gradient
    scattered back to them (repeated positions add up)."""
    xv = np.asarray(_value(x))
    y = xv.reshape(-1)[positions]

    def backward(g):
        d = np.zeros(xv.size, dtype=np.asarray(g).dtype)
        np.add.at(d, positions, g)
        return (d.reshape(xv.shape),)

    return _result(y, (x,), backward)


def _floating_dtype(x):
    """The dtype Keras's median and quantile compute in: int64 as floatx, other integers and
    booleans as floatx, floats as they are."""
    d = np.dtype(ad.dtype(x))
    return d if d.kind in "fc" else np.dtype(utils.floatx())


@_composite
def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D coordinate vectors (NumPy's meshgrid): with ``indexing="xy"``
    (Cartesian, the default) the first two axes of the grids are swapped, with "ij" not."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij'. Received: indexing={indexing!r}")
    xs = [_K.reshape(_tensor(v), (-1,)) for v in x]
    sizes = [ad.shape(v)[0] for v in xs]
    if indexing == "xy" and len(xs) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, v in enumerate(xs):
        at = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(xs) >= 2 else i
        shape = [1] * len(xs)
        shape[at] = -1
        out.append(broadcast_to.__wrapped__(_K.reshape(v, shape), sizes))
    return out


def _check_rank(xv, low, what, high=None):
    if xv.ndim < low or high is not None and xv.ndim > high:
        want = f"{low}-D" if high == low else f"at least {low}-D" if high is None else f"{low}-D or {high}-D"
        raise ValueError(f"{what} must be {want}. Received shape {xv.shape}")


@_op
def diag(x, k=0):
    """NumPy's diag: of a 1-D ``x`` the square matrix with ``x`` on its ``k``-th diagonal (k > 0
    above the main one), of a 2-D ``x`` its ``k``-th diagonal."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    _check_rank(xv, 1, "x", high=2)
    k = _ints(k, "k")[0]
    if xv.ndim == 2:
        return _gather_flat(x, np.diagonal(np.arange(xv.size).reshape(xv.shape), k))
    n = xv.shape[0] + builtins.abs(k)
    positions = np.diagonal(np.arange(n * n).reshape(n, n), k)
    y = np.zeros(n * n, dtype=xv.dtype)
    y[positions] = xv
    return _result(y.reshape(n, n), (x,), lambda g: (np.asarray(g).reshape(-1)[positions],))


@_op
def diagonal(x, offset=0, axis1=0, axis2=1):
    """NumPy's diagonal: the ``offset``-th diagonals of the matrices on ``axis1`` and ``axis2``,
    along a new last axis (the other axes first)."""
    x = _tensor(x)
    xv = np.asarray(_value(x))
    _check_rank(xv, 2, "x")
    a1, a2 = _axis(axis1, xv.ndim), _axis(axis2, xv.ndim)
    if a1 == a2:
        raise ValueError(f"axis1 and axis2 must be different. Received: axis1={axis1}, axis2={axis2}")
    offset = _ints(offset, "offset")[0]
    return _gather_flat(x, np.diagonal(np.arange(xv.size).reshape(xv.shape), offset, a1, a2))


@_op
def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the ``offset``-th diagonals of the matrices on ``axis1`` and ``axis2`` (booleans
    and 8/16-bit integers summed as int32, unsigned ones as uint32, as Keras's)."""
    x = _tensor(x)
    target = _accumulated(x)
    d = diagonal.__wrapped__(_as(x, target), offset, axis1, axis2)
    return _as(_K.sum(d, axis=-1), target)


_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, axis, method, keepdims, what):
    """The ``q``-th quantiles (q in [0, 1], a number or 1-D) of ``x`` over ``axis`` as Keras's
    TensorFlow backend computes them (``method`` as NumPy's; "linear" interpolates between the two
    sorted values around ``(n - 1) q``); a slice holding NaN gives NaN. The gradient goes to the
    sorted values used, with their weights. A 1-D q gives its axis first."""
    if method not in _QUANTILE_METHODS:
        raise _named(ValueError, f"{what}: invalid method {method!r}; expected one of {_QUANTILE_METHODS}")
    x = _tensor(x)
    x = _as(x, _floating_dtype(x))
    xv = np.asarray(_value(x))
    qv = np.asarray(_value(q), dtype=np.float64)
    if qv.ndim > 1:
        raise _named(ValueError, f"{what}: q must be a number or 1-D. Received shape {qv.shape}")
    if not np.all((qv >= 0) & (qv <= 1)):
        raise _named(ValueError, f"{what}: quantiles must be in the range [0, 1]" +
                     (" (percentiles in [0, 100])" if what.endswith("percentile") else "") +
                     f". Received: q={_value(q)!r}")
    axes = ad._axes(_axes_arg(axis), xv.ndim)
    other = [i for i in range(xv.ndim) if i not in axes]
    perm = other + list(axes)
    moved_shape = tuple(xv.shape[i] for i in perm)
    n = math.prod(xv.shape[i] for i in axes)
    if n == 0:
        raise _named(ValueError, f"{what}: cannot take a quantile of an empty slice. Received shape {xv.shape}")
    m = np.transpose(xv, perm).reshape(tuple(xv.shape[i] for i in other) + (n,))
    order = np.argsort(m, axis=-1, kind="stable")
    s = np.take_along_axis(m, order, axis=-1)
    qs = qv.reshape(-1)
    v = (n - 1) * qs

    def index(values):
        return np.clip(values.astype(np.int64), 0, n - 1)

    if method == "lower":
        picks = [(index(np.floor(v)), np.ones_like(v))]
    elif method == "higher":
        picks = [(index(np.ceil(v)), np.ones_like(v))]
    elif method == "nearest":
        picks = [(index(np.round(v)), np.ones_like(v))]
    elif method == "midpoint":
        picks = [(index(np.floor(v)), np.full_like(v, 0.5)), (index(np.ceil(v)), np.full_like(v, 0.5))]
    else:  # TensorFlow's: the sorted values around (n - 1) q, weighted by the distance to the larger one
        larger = index(np.ceil(v))
        smaller = np.maximum(larger - 1, 0)
        larger = np.minimum(smaller + 1, n - 1)
        fraction = larger - v
        picks = [(larger, 1 - fraction), (smaller, fraction)]
    picks = [(i, w.astype(xv.dtype)) for i, w in picks]
    y = builtins.sum(s[..., i] * w for i, w in picks)  # (other..., len(q))
    if xv.dtype.kind == "f":
        y = np.where(np.isnan(m).any(axis=-1, keepdims=True), np.asarray(np.nan, xv.dtype), y)
    y = np.asarray(y, dtype=xv.dtype)
    kept_shape = [1 if i in axes else xv.shape[i] for i in range(xv.ndim)] if keepdims else \
        [xv.shape[i] for i in other]

    def arrange(a):  # (other..., len(q)) -> (len(q), kept shape...) or kept shape
        a = np.moveaxis(a, -1, 0).reshape((len(qs),) + tuple(kept_shape))
        return a if qv.ndim else a[0]

    def backward(g):
        g = np.asarray(g).reshape((len(qs),) + tuple(xv.shape[i] for i in other))
        g = np.moveaxis(g, 0, -1)
        d_sorted = np.zeros(s.shape, dtype=g.dtype)
        for i, w in picks:
            for j in range(len(qs)):
                d_sorted[..., i[j]] += w[j] * g[..., j]
        d = np.zeros(s.shape, dtype=g.dtype)
        np.put_along_axis(d, order, d_sorted, axis=-1)
        return (np.transpose(d.reshape(moved_shape), np.argsort(perm)),)

    return _result(arrange(y), (x,), backward)


@_op
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles of ``x`` over ``axis`` (None: all values): q in [0, 1], a number or
    a 1-D list (its axis first); ``method`` "linear" (default), "lower", "higher", "midpoint" or
    "nearest", as NumPy's. Integers as floatx."""
    return _quantile(x, q, axis, method, keepdims, "ops.quantile")


@_op
def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (q in [0, 100]) of ``x`` over ``axis``: `quantile` of q / 100 (in
    floatx, as Keras's TensorFlow backend divides)."""
    q = np.asarray(_value(q), dtype=utils.floatx()) / np.asarray(100, dtype=utils.floatx())
    return _quantile(x, q, axis, method, keepdims, "ops.percentile")


@_op
def median(x, axis=None, keepdims=False):
    """The median over ``axis`` (None: all values): the mean of the two middle values of an even
    count. Integers as floatx."""
    return _quantile(x, 0.5, axis, "linear", keepdims, "ops.median")


@_op
def searchsorted(sorted_sequence, values, side="left"):
    """The indices (int32) at which ``values`` would be inserted into the 1-D ascending
    ``sorted_sequence`` to keep it sorted: before equal values with ``side="left"``, after them
    with "right"."""
    seq = np.asarray(_value(_tensor(sorted_sequence)))
    if seq.ndim != 1:
        raise ValueError(f"searchsorted only supports 1-D sorted sequences. Received: sorted_sequence.shape="
                         f"{seq.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right'. Received: side={side!r}")
    return np.searchsorted(seq, np.asarray(_value(_tensor(values))), side=side).astype(np.int32)


@_op
def digitize(x, bins):
    """The index (int32) of the bin of each value of ``x``: i where ``bins[i - 1] <= x < bins[i]``
    (0 below the first edge, len(bins) from the last on); ``bins`` 1-D and increasing."""
    b = np.asarray(_value(_tensor(bins)), dtype=np.float64)
    if b.ndim != 1:
        raise ValueError(f"bins must be a 1-D array. Received: bins with shape {b.shape}")
    if b.size > 1 and np.any(np.diff(b) < 0):
        raise ValueError(f"bins must be monotonically increasing. Received: bins={b.tolist()}")
    return np.digitize(np.asarray(_value(_tensor(x))), b).astype(np.int32)


@_op
def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each element of ``x1`` is among the values of ``x2`` (booleans of x1's shape; with
    ``invert``, whether it is not)."""
    return np.isin(np.asarray(_value(_tensor(x1))), np.asarray(_value(_tensor(x2))), invert=bool(invert))


@_op
def nonzero(x):
    """The indices of the nonzero elements of ``x``: a tuple of int32 arrays, one per axis."""
    return tuple(_default_int(i) for i in np.nonzero(np.asarray(_value(_tensor(x)))))


@_op
def rot90(array, k=1, axes=(0, 1)):
    """``array`` rotated by 90 degrees ``k`` times in the plane of ``axes``, from the first axis
    towards the second (counterclockwise for an image's (rows, columns)), as NumPy's rot90."""
    x = _tensor(array)
    nd = ad.ndim(x)
    if nd < 2:
        raise ValueError(f"array must have at least 2 dimensions. Received: array.shape={ad.shape(x)}")
    axes = _ints(axes, "axes")
    if len(axes) != 2:
        raise ValueError(f"axes must be 2 axes. Received: axes={axes}")
    a, b = _axis(axes[0], nd), _axis(axes[1], nd)
    if a == b:
        raise ValueError(f"axes must be two different axes. Received: axes={axes}")
    k = _ints(k, "k")[0] % 4
    if k == 0:
        return copy.__wrapped__(x)
    if k == 2:
        return flip.__wrapped__(flip.__wrapped__(x, a), b)
    order = list(range(nd))
    order[a], order[b] = order[b], order[a]
    if k == 1:
        return _K.permute_dimensions(flip.__wrapped__(x, b), tuple(order))
    return flip.__wrapped__(_K.permute_dimensions(x, tuple(order)), b)


@_op
def bincount(x, weights=None, minlength=0, sparse=False):
    """The number of occurrences of each value of the non-negative integers ``x`` (1-D, or 2-D:
    each row counted apart), of length ``max(x) + 1`` or ``minlength``; with ``weights`` (x's shape)
    their sums instead (the gradient goes to the weights). int32 without weights."""
    if sparse:
        raise ValueError("fastnn has no sparse tensors")
    given = np.asarray(_value(_tensor(x)))
    xv = given
    if xv.ndim not in (1, 2):
        raise ValueError(f"x must be 1-D or 2-D (a batch of rows). Received shape {xv.shape}")
    if xv.dtype.kind not in "iu":  # (Keras's TensorFlow backend casts other dtypes to int32)
        xv = xv.astype(np.int32)
    if xv.size and xv.min() < 0:
        raise ValueError(f"x must be non-negative integers. Received a value {int(xv.min())}")
    minlength = _ints(minlength, "minlength")[0]
    if minlength < 0:
        raise ValueError(f"minlength must be non-negative. Received: minlength={minlength}")
    length = builtins.max(int(xv.max()) + 1 if xv.size else 0, minlength)
    rows = xv.reshape(-1, xv.shape[-1]) if xv.ndim == 2 else xv.reshape(1, -1)
    where_ = (np.arange(rows.shape[0])[:, None] * length + rows).reshape(-1)
    if weights is None:
        counts = np.bincount(where_, minlength=rows.shape[0] * length).reshape(rows.shape[0], length)
        return (counts if xv.ndim == 2 else counts[0]).astype(np.int32)
    w = _tensor(weights)
    wv = np.asarray(_value(w))
    if wv.shape != xv.shape:
        raise ValueError(f"weights must have x's shape {xv.shape}. Received shape {wv.shape}")
    dtype = _result_dtype(given, w)
    total = np.zeros(rows.shape[0] * length, dtype=np.result_type(wv.dtype, dtype))
    np.add.at(total, where_, wv.reshape(-1))
    y = total.reshape(rows.shape[0], length).astype(dtype)
    y = y if xv.ndim == 2 else y[0]
    return _result(y, (w,), lambda g: (np.asarray(g).reshape(-1)[where_].reshape(wv.shape),))


@_op
def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis``: ``out[i] = a[i + 1] - a[i]``, n times."""
    x = _tensor(a)
    nd = ad.ndim(x)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, nd)
    n = _ints(n, "n")[0]
    if n < 0:
        raise ValueError(f"order must be non-negative. Received: n={n}")
    lead = (builtins.slice(None),) * axis
    for _ in range(n):
        x = _tensor(x)[lead + (builtins.slice(1, None),)] - _tensor(x)[lead + (builtins.slice(None, -1),)]
    return x


@_op
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of the 2- or 3-element vectors on ``axisa`` of x1 and ``axisb`` of x2
    (broadcast over the other axes), on ``axisc`` of the result (``axis`` sets all three); two
    2-element vectors give the z component alone, as NumPy's."""
    a, b = _tensor(x1), _tensor(x2)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis.__wrapped__(a, axisa, -1)
    b = moveaxis.__wrapped__(b, axisb, -1)
    na, nb = ad.shape(a)[-1], ad.shape(b)[-1]
    for name, size, ax in (("x1", na, axisa), ("x2", nb, axisb)):
        if size not in (2, 3):
            raise ValueError(f"{name}'s dim on axis={ax} must be either 2 or 3, but received: {size}")
    dtype = _result_dtype(a, b)
    a, b = _as(a, dtype), _as(b, dtype)
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    if na == 2 and nb == 2:
        return a0 * b1 - a1 * b0
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    c0 = (a1 * b2 if b2 is not None else 0) - (a2 * b1 if a2 is not None else 0)
    c1 = (a2 * b0 if a2 is not None else 0) - (a0 * b2 if b2 is not None else 0)
    c2 = a0 * b1 - a1 * b0
    shape = np.broadcast_shapes(ad.shape(a0), ad.shape(b0))
    parts = [broadcast_to.__wrapped__(_as(_tensor(c), dtype), shape) for c in (c0, c1, c2)]
    return moveaxis.__wrapped__(_K.stack(parts, axis=-1), -1, axisc)


@_op
def kron(x1, x2):
    """The Kronecker product of x1 and x2 (NumPy's kron: the one of lower rank taken with leading
    axes of 1; the result's axes the products of theirs)."""
    a, b = _tensor(x1), _tensor(x2)
    dtype = _result_dtype(a, b)
    a, b = _as(a, dtype), _as(b, dtype)
    sa, sb = ad.shape(a), ad.shape(b)
    nd = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + tuple(sa), (1,) * (nd - len(sb)) + tuple(sb)
    ai = _K.reshape(a, tuple(v for n in sa for v in (n, 1)))
    bi = _K.reshape(b, tuple(v for n in sb for v in (1, n)))
    return _K.reshape(_K.multiply(ai, bi), tuple(p * q for p, q in zip(sa, sb)))


@_op
def select(condlist, choicelist, default=0):
    """The element of ``choicelist[i]`` for the first condition ``condlist[i]`` that holds, else
    ``default`` (NumPy's select; broadcasting; the gradient goes to the values chosen)."""
    if not isinstance(condlist, (list, tuple)) or not isinstance(choicelist, (list, tuple)):
        raise TypeError(f"condlist and choicelist must be lists. Received: {type(condlist).__name__}, "
                        f"{type(choicelist).__name__}")
    if len(condlist) != len(choicelist):
        raise ValueError(f"condlist and choicelist must have the same length. Received: {len(condlist)} and "
                         f"{len(choicelist)}")
    if not condlist:
        raise ValueError("select needs at least one condition and choice")
    choices = [_tensor(c) if isinstance(c, (list, tuple)) else c for c in choicelist]
    dtype = _result_dtype(*choices, default)
    shape = np.broadcast_shapes(*[np.shape(_value(v)) for v in list(condlist) + choices + [default]])
    out = _as(_tensor(np.broadcast_to(np.asarray(_value(default), dtype=dtype), shape)), dtype)
    for cond, choice in reversed(list(zip(condlist, choices))):
        c = np.asarray(_value(cond)).astype(bool)
        out = where.__wrapped__(c, _as(_tensor(choice), dtype), out)
    return broadcast_to.__wrapped__(out, shape) if ad.shape(out) != tuple(shape) else out


def _limits(dtype):
    d = np.dtype(dtype)
    if d.kind == "b":
        return 0, 1
    info = np.iinfo(d) if d.kind in "iu" else np.finfo(d)
    return info.min, info.max


@_op
def saturate_cast(x, dtype):
    """``x`` cast to ``dtype`` with its values first clipped to the range that dtype holds (and
    that x's dtype can express: Keras's rule, nudging a limit x's dtype rounds past it, e.g.
    float32 to int32 at 2147483520), so 300.0 becomes 255 in uint8 and -inf the lowest value."""
    x = _tensor(x)
    target = np.dtype(getattr(dtype, "name", dtype))
    source = np.dtype(ad.dtype(x))
    in_min, in_max = _limits(source)
    out_min, out_max = _limits(target)
    with np.errstate(over="ignore"):  # (the limits compared exactly, as Python numbers)
        low = np.asarray(builtins.max(in_min, out_min)).astype(source)
        if low.item() < out_min:
            low = np.nextafter(low, 0, dtype=source)
        high = np.asarray(builtins.min(in_max, out_max)).astype(source)
        if high.item() > out_max:
            high = np.nextafter(high, 0, dtype=source)
    with np.errstate(invalid="ignore"):  # (NaN has no integer value: as TensorFlow's cast, whatever the CPU gives)
        return _K.cast(clip.__wrapped__(x, low, high), target)


# keras.ops.linalg: on the last two axes, batched over the others; gradients as TensorFlow's


def _mT(m):
    return np.swapaxes(m, -1, -2)


def _matrices(x, what, square=True):
    """``x`` as float matrices (..., M, N) (integers as floatx): (x, its value)."""
    x = _float(x)
    xv = np.asarray(_value(x))
    if xv.ndim < 2:
        raise _named(ValueError, f"{what}: expected input to have rank >= 2. Received input with shape {xv.shape}")
    if square and xv.shape[-1] != xv.shape[-2]:
        raise _named(ValueError, f"{what}: expected a square matrix. Received non-square input with shape "
                                 f"{xv.shape}")
    if xv.dtype not in (np.float32, np.float64):
        raise _named(TypeError, f"{what}: expected float32 or float64 matrices. Received dtype {xv.dtype}")
    return x, xv


def inverse_value(av, what):
    """``np.linalg.inv(av)``, a singular matrix TensorFlow's error naming ``what``."""
    try:
        return np.linalg.inv(av)
    except np.linalg.LinAlgError:
        raise _named(ValueError, f"{what}: Input is not invertible.") from None


def matrix_inverse(a, what):
    """The inverse of each square matrix of ``a`` (an array or tape tensor, float square matrices),
    with its gradient -A^-T g A^-T (`inv`, ``tf.linalg.inv``)."""
    av = np.asarray(_value(a))
    y = inverse_value(av, what)
    return _result(y, (a,), lambda g: (-(_mT(y) @ np.asarray(g) @ _mT(y)),))


def determinant(a, what):
    """The determinant of each square matrix of ``a`` (an array or tape tensor), with its gradient
    g det(A) A^-T (`det`, ``tf.linalg.det``)."""
    av = np.asarray(_value(a))
    y = np.asarray(np.linalg.det(av)).astype(av.dtype)
    return _result(y, (a,), lambda g: ((np.asarray(g) * y)[..., None, None] * _mT(inverse_value(av, what)),))


def _joint(values, inputs, backward):
    """Several outputs of one computation (arrays of one dtype) as tape tensors sharing one
    backward, ``backward(list of their gradients)``; off the tape the arrays."""
    if not builtins.any(isinstance(t, Tensor) for t in inputs):
        return tuple(values)
    sizes = [v.size for v in values]
    cuts = np.cumsum(sizes)[:-1]

    def back(g):
        parts = np.split(np.asarray(g), cuts)
        return backward([p.reshape(v.shape) for p, v in zip(parts, values)])

    packed = Tensor(np.concatenate([v.reshape(-1) for v in values]), tuple(inputs), back)
    out, start = [], 0
    for v in values:
        out.append(_K.reshape(packed[start:start + v.size], v.shape))
        start += v.size
    return tuple(out)


def _several_outputs(count):
    """Register a function of several outputs (``count(*args, **kwargs)`` of them) as ``"ops.<name>"``:
    on the functional API's symbolic tensors each output is one layer of the graph (the graph
    function ``"ops.<name>_output"``, which keeps the ``output_index``-th), as `split` is made."""

    def decorate(fn):
        op = _op(fn)
        name = fn.__name__

        def output(*args, output_index=0, **kwargs):
            return op.__wrapped__(*args, **kwargs)[output_index]

        output.__name__ = output.__qualname__ = name + "_output"
        picker = ad.graph_function(f"ops.{name}_output")(output)

        @functools.wraps(op)
        def wrapper(*args, **kwargs):
            if ad._symbolic_args(args) or ad._symbolic_args(kwargs.values()):
                n = count(*args, **kwargs)
                if n == 1:
                    return op(*args, **kwargs)
                return tuple(picker(*args, output_index=i, **kwargs) for i in range(n))
            return op(*args, **kwargs)

        return wrapper

    return decorate


@_op
def inv(x):
    """The inverse of each square matrix (..., M, M); a singular one is an error."""
    x, _ = _matrices(x, "ops.inv")
    return matrix_inverse(x, "ops.inv")


@_op
def det(x):
    """The determinant of each square matrix (..., M, M): shape (...)."""
    x, _ = _matrices(x, "ops.det")
    return determinant(x, "ops.det")


@_op
def solve(a, b):
    """The solution x of ``a x = b`` for square ``a`` (..., M, M) and ``b`` (..., M, K), or a
    vector b (..., M) (one axis less than a); gradients to both."""
    a, av = _matrices(a, "ops.solve")
    b = _float(b)
    bv = np.asarray(_value(b))
    vector = bv.ndim == av.ndim - 1
    if bv.ndim < 1 or not vector and bv.ndim != av.ndim:
        raise ValueError(f"b must have a's rank {av.ndim} or one less. Received shapes a {av.shape}, b {bv.shape}")
    if (bv.shape[-1] if vector else bv.shape[-2]) != av.shape[-1]:
        raise ValueError(f"incompatible shapes between a and b: expected b's {'last' if vector else 'second-to-last'} "
                         f"axis to be {av.shape[-1]}. Received: a.shape={av.shape}, b.shape={bv.shape}")
    dtype = np.result_type(av.dtype, bv.dtype)
    bm = bv[..., None] if vector else bv
    try:
        y = np.linalg.solve(av, bm).astype(dtype)
    except np.linalg.LinAlgError:
        raise _named(ValueError, "ops.solve: the matrix a is singular") from None

    def backward(g):
        gm = np.asarray(g)[..., None] if vector else np.asarray(g)
        gb = np.linalg.solve(_mT(av), gm)
        ga = -(gb @ _mT(y))
        return ga, (gb[..., 0] if vector else gb)

    return _result(y[..., 0] if vector else y, (a, b), backward)


@_op
def cholesky(x, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix: lower triangular L with
    ``L Lᵀ = x`` (its transpose with ``upper``). Only the lower triangle of x is read; its gradient
    is TensorFlow's (symmetric)."""
    x, xv = _matrices(x, "ops.cholesky")
    try:
        low = np.linalg.cholesky(xv)
    except np.linalg.LinAlgError as e:
        raise _named(ValueError, f"ops.cholesky: Cholesky decomposition failed: {e}") from None

    def backward(g):
        g = _mT(np.asarray(g)) if upper else np.asarray(g)
        l_inv = np.linalg.inv(low)
        middle = _mT(low) @ g
        middle = np.tril(middle) - 0.5 * np.tril(np.triu(middle))  # (lower triangle, half the diagonal)
        ga = _mT(l_inv) @ middle @ l_inv
        return (0.5 * (ga + _mT(ga)),)

    return _result(_mT(low).copy() if upper else low, (x,), backward)


@_several_outputs(lambda x, mode="reduced": 2)
def qr(x, mode="reduced"):
    """The QR decomposition of each matrix (..., M, N): ``q, r`` with orthonormal q (..., M, K)
    and upper triangular r (..., K, N), K = min(M, N) (``mode="complete"``: q (..., M, M), r
    (..., M, N)). Gradients (TensorFlow's) where M >= N in "reduced" mode, or for square matrices."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"mode argument value not supported. Expected one of {{'reduced', 'complete'}}. "
                         f"Received: mode={mode!r}")
    x, xv = _matrices(x, "ops.qr", square=False)
    q, r = np.linalg.qr(xv, mode=mode)
    m, n = xv.shape[-2:]
    if isinstance(x, Tensor) and not (m >= n and (mode == "reduced" or m == n)):
        raise ValueError(f"the gradient of qr is defined here for M >= N (mode 'reduced') or square matrices only. "
                         f"Received shape {xv.shape}, mode={mode!r}")

    def backward(grads):
        dq, dr = grads

        def solve_r(v):  # v R^-T
            return _mT(np.linalg.solve(r, _mT(v)))

        qdq = _mT(q) @ dq
        rdr = r @ _mT(dr)
        low = np.tril(qdq - _mT(qdq) + rdr - _mT(rdr))
        return (q @ (dr + solve_r(low)) + solve_r(dq - q @ qdq),)

    return _joint([q.astype(xv.dtype), r.astype(xv.dtype)], (x,), backward)


@_several_outputs(lambda x, full_matrices=True, compute_uv=True: 3 if compute_uv else 1)
def svd(x, full_matrices=True, compute_uv=True):
    """The singular value decomposition of each matrix (..., M, N): ``u, s, vh`` with ``x = u
    diag(s) vh`` (NumPy's order, vh not transposed back), or only ``s`` (decreasing) with
    ``compute_uv=False``. The gradient flows through s (not through u and vh)."""
    x, xv = _matrices(x, "ops.svd", square=False)
    u, s, vh = np.linalg.svd(xv, full_matrices=False)
    k = s.shape[-1]

    def s_backward(gs):
        return (u @ (np.asarray(gs)[..., :, None] * vh),)

    if not compute_uv:
        return _result(s.astype(xv.dtype), (x,), s_backward)
    if full_matrices:
        u, s, vh = np.linalg.svd(xv, full_matrices=True)

    def backward(grads):
        gu, gs, gv = grads
        if np.any(gu) or np.any(gv):
            raise ValueError("ops.svd: the gradient through u and vh is not supported here; only through s (use "
                             "compute_uv=False)")
        return (u[..., :, :k] @ (gs[..., :, None] * vh[..., :k, :]),)

    return _joint([u.astype(xv.dtype), s.astype(xv.dtype), vh.astype(xv.dtype)], (x,), backward)


@_several_outputs(lambda x: 2)
def eig(x):
    """The eigenvalues and eigenvectors of each square matrix: ``w, v`` with ``x v = v diag(w)``,
    complex (complex64 for float32 input), as TensorFlow's ``linalg.eig``. No gradient."""
    x, xv = _matrices(x, "ops.eig")
    if isinstance(x, Tensor):
        raise ValueError("ops.eig has no gradient here (use eigh for symmetric matrices)")
    w, v = np.linalg.eig(xv)
    complex_type = np.complex64 if xv.dtype == np.float32 else np.complex128
    return w.astype(complex_type), v.astype(complex_type)


@_several_outputs(lambda x: 2)
def eigh(x):
    """The eigenvalues (ascending) and orthonormal eigenvectors of each symmetric matrix: ``w, v``
    (only the lower triangle of x is read); the gradient is TensorFlow's."""
    x, xv = _matrices(x, "ops.eigh")
    w, v = np.linalg.eigh(xv)

    def backward(grads):
        gw, gv = grads
        with np.errstate(divide="ignore"):
            f = 1.0 / (w[..., None, :] - w[..., :, None])
        n = w.shape[-1]
        f[..., np.arange(n), np.arange(n)] = 0
        ga = v @ ((gw[..., :, None] * np.eye(n)) + f * (_mT(v) @ gv)) @ _mT(v)
        ga = np.tril(ga + _mT(ga))
        ga[..., np.arange(n), np.arange(n)] *= 0.5
        return (ga,)

    return _joint([w.astype(xv.dtype), v.astype(xv.dtype)], (x,), backward)


# ---- FFTs and the short-time Fourier transform (keras.ops.math): (real, imag) pairs ------------------
#
# Keras 3 has no complex tensors in its ops: ``fft``, ``fft2``, ``ifft2``, ``irfft`` and ``istft`` take
# a (real, imag) tuple of float tensors, and ``fft``, ``fft2``, ``ifft2``, ``rfft`` and ``stft`` return
# one. All are linear and record on the tape (FNet's ``ops.fft2((x, ops.zeros_like(x)))[0]`` trains):
# the backward of each is its adjoint.


def _complex_pair(x, what):
    """The (real, imag) tuple ``x`` as (real, imag, their complex value, the float dtype)."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. Received: x={x!r:.200}")
    real, imag = _tensor(x[0]), _tensor(x[1])
    rv, iv = np.asarray(_value(real)), np.asarray(_value(imag))
    if rv.shape != iv.shape:
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. Both the real and "
                         f"imaginary parts should have the same shape. Received: x[0].shape = {rv.shape}, "
                         f"x[1].shape = {iv.shape}")
    if rv.dtype.kind != "f" or iv.dtype.kind != "f":
        raise ValueError(f"At least one tensor in input `x` is not of type float. Received dtypes {rv.dtype} and "
                         f"{iv.dtype}")
    dtype = np.result_type(rv.dtype, iv.dtype, np.float32)
    z = rv.astype(np.complex128 if dtype == np.float64 else np.complex64) + 1j * iv.astype(dtype)
    if rv.ndim < what:
        raise ValueError(f"Input should have rank >= {what}. Received: input.shape = {rv.shape}")
    return real, imag, z, dtype


def _pair_result(y, inputs, dtype, adjoint):
    """The complex ``y`` as (real, imag) of ``dtype``; ``adjoint`` maps the complex gradient
    ``g_real + i g_imag`` of y to that of the input (its real and imaginary parts: the gradients
    of the input's real and imaginary parts)."""
    def backward(grads):
        d = adjoint(np.asarray(grads[0]) + 1j * np.asarray(grads[1]))
        return np.real(d).astype(dtype), np.imag(d).astype(dtype)

    return _joint([np.real(y).astype(dtype), np.imag(y).astype(dtype)], inputs, backward)


def _complex_transform(x, rank, inverse):
    real, imag, z, dtype = _complex_pair(x, rank)
    axes = tuple(builtins.range(-rank, 0))
    n = math.prod(z.shape[-rank:])
    if n == 0:
        return _pair_result(z, (real, imag), dtype, lambda g: g)
    if inverse:
        return _pair_result(np.fft.ifftn(z, axes=axes), (real, imag), dtype, lambda g: np.fft.fftn(g, axes=axes) / n)
    return _pair_result(np.fft.fftn(z, axes=axes), (real, imag), dtype, lambda g: np.fft.ifftn(g, axes=axes) * n)


@_several_outputs(lambda x: 2)
def fft(x):
    """The FFT along the last axis of the complex tensor given as ``x = (real, imag)`` (float
    tensors of one shape): its (real, imag)."""
    return _complex_transform(x, 1, False)


@_several_outputs(lambda x: 2)
def fft2(x):
    """The 2-D FFT over the last two axes of ``x = (real, imag)``: its (real, imag)."""
    return _complex_transform(x, 2, False)


@_several_outputs(lambda x: 2)
def ifft2(x):
    """The inverse 2-D FFT over the last two axes of ``x = (real, imag)``: its (real, imag)."""
    return _complex_transform(x, 2, True)


def _fft_length(fft_length, default):
    if fft_length is None:
        return default
    if isinstance(fft_length, (bool, np.bool_)) or not isinstance(_value(fft_length), (int, np.integer)) \
            or int(_value(fft_length)) < 1:
        raise ValueError(f"fft_length must be a positive integer or None. Received: fft_length={fft_length!r}")
    return int(_value(fft_length))


def _rfft_adjoint(g, n, size):
    """The adjoint of ``x -> rfft(x, n)`` for an input of ``size`` samples: the complex gradient
    ``g`` of the n // 2 + 1 bins to the real input."""
    full = np.zeros(g.shape[:-1] + (n,), dtype=np.complex128)
    full[..., :g.shape[-1]] = g
    return _fit_last_axis(np.real(np.fft.ifft(full, axis=-1)) * n, size)


def _irfft_adjoint(g, n, bins):
    """The adjoint of ``X -> irfft(X, n)`` for an input of ``bins`` bins: the real gradient ``g``
    of the n samples to the complex input (NumPy's irfft ignores the imaginary part of the DC and
    Nyquist bins: their gradient is 0)."""
    weights = np.full(n // 2 + 1, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return _fit_last_axis(np.fft.rfft(g, axis=-1) * (weights / n), bins)


def _fit_last_axis(a, size):
    n = a.shape[-1]
    if n >= size:
        return a[..., :size]
    return np.concatenate([a, np.zeros(a.shape[:-1] + (size - n,), dtype=a.dtype)], axis=-1)


@_several_outputs(lambda x, fft_length=None: 2)
def rfft(x, fft_length=None):
    """The FFT of a real signal along its last axis (cut or zero-padded to ``fft_length``): the
    fft_length // 2 + 1 unique bins as (real, imag), of x's dtype (integers as floatx)."""
    x = _float(x)
    xv = np.asarray(_value(x))
    if xv.ndim < 1:
        raise ValueError(f"Input should have rank >= 1. Received: input.shape = {xv.shape}")
    n = _fft_length(fft_length, xv.shape[-1])
    if n < 1:
        raise ValueError(f"the FFT length must be positive. Received an input of shape {xv.shape}")
    y = np.fft.rfft(xv, n=n, axis=-1)

    def backward(grads):
        d = _rfft_adjoint(np.asarray(grads[0]) + 1j * np.asarray(grads[1]), n, xv.shape[-1])
        return (d.astype(xv.dtype),)

    return _joint([np.real(y).astype(xv.dtype), np.imag(y).astype(xv.dtype)], (x,), backward)


@_op
def irfft(x, fft_length=None):
    """The inverse of `rfft`: the real signal of ``fft_length`` samples (default ``2 * (bins -
    1)``) whose unique bins are ``x = (real, imag)`` (cut or zero-padded to fft_length // 2 + 1)."""
    real, imag, z, dtype = _complex_pair(x, 1)
    n = _fft_length(fft_length, 2 * (z.shape[-1] - 1))
    if n < 1:
        raise ValueError(f"cannot infer fft_length from an input of shape {z.shape}; give it")
    y = np.fft.irfft(z, n=n, axis=-1).astype(dtype)

    def backward(g):
        d = _irfft_adjoint(np.asarray(g), n, z.shape[-1])
        return np.real(d).astype(dtype), np.imag(d).astype(dtype)

    return _result(y, (real, imag), backward)


def _stft_window(window, sequence_length, fft_length, dtype):
    """Keras's window, (fft_length,): "hann" or "hamming" (periodic, as scipy's ``get_window``),
    an array of sequence_length values, or None (ones), zero-padded on both sides to fft_length."""
    if window is None:
        return np.ones(fft_length, dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f'If a string is passed to `window`, it must be one of `"hann"`, `"hamming"`. '
                             f"Received: window={window}")
        a = 0.5 if window == "hann" else 0.54
        count = np.arange(sequence_length)
        win = a - (1 - a) * np.cos(2 * np.pi * count / sequence_length) if sequence_length > 1 else np.ones(1)
    else:
        win = np.asarray(_value(window), dtype=np.float64)
        if win.ndim != 1 or win.shape[-1] != sequence_length:
            raise ValueError(f"The shape of `window` must be equal to [sequence_length]. Received: window shape="
                             f"{win.shape}")
    left = (fft_length - sequence_length) // 2
    return np.pad(win, (left, fft_length - sequence_length - left)).astype(dtype)


def _stft_args(sequence_length, sequence_stride, fft_length):
    for value, what in ((sequence_length, "sequence_length"), (sequence_stride, "sequence_stride"),
                        (fft_length, "fft_length")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"`{what}` must be a positive integer. Received: {what}={value!r}")
    if fft_length < sequence_length:
        raise ValueError(f"`fft_length` must equal or larger than `sequence_length`. Received: sequence_length="
                         f"{sequence_length}, fft_length={fft_length}")
    return int(sequence_length), int(sequence_stride), int(fft_length)


@_several_outputs(lambda x, sequence_length, sequence_stride, fft_length, window="hann", center=True: 2)
def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform along the last axis of real ``x`` (float32 or float64), as
    Keras 3 computes it: with ``center``, x reflect-padded by fft_length // 2 on both sides; frames
    of fft_length every ``sequence_stride`` samples, each times the window (``"hann"``,
    ``"hamming"``: periodic windows of sequence_length, as scipy's, zero-padded to fft_length; an
    array; None: no window); their rfft. (real, imag), each (..., frames, fft_length // 2 + 1)."""
    length, stride, n = _stft_args(sequence_length, sequence_stride, fft_length)
    x = _tensor(x)
    xv = np.asarray(_value(x))
    if xv.dtype not in (np.float32, np.float64):
        raise TypeError(f"Invalid input type. Expected `float32` or `float64`. Received: input type={xv.dtype}")
    if xv.ndim < 1:
        raise ValueError(f"Input should have rank >= 1. Received: input.shape = {xv.shape}")
    win = _stft_window(window, length, n, xv.dtype)
    source = np.arange(xv.shape[-1])
    if center:
        source = np.pad(source, n // 2, mode="reflect")
    count = builtins.max(0, 1 + (len(source) - n) // stride)
    index = source[np.arange(count)[:, None] * stride + np.arange(n)[None, :]]  # (frames, n) into x
    y = np.fft.rfft(xv[..., index] * win, n=n, axis=-1)

    def backward(grads):
        g = np.asarray(grads[0]) + 1j * np.asarray(grads[1])
        frames = np.real(np.fft.ifft(_fit_last_axis(g, n), axis=-1)) * n * win  # (the rfft's adjoint, windowed)
        lead = frames.shape[:-2]
        rows = math.prod(lead)
        d = np.zeros((rows, xv.shape[-1]))
        np.add.at(d, (builtins.slice(None), index.reshape(-1)), frames.reshape(rows, -1))
        return (d.reshape(lead + (xv.shape[-1],)).astype(xv.dtype),)

    return _joint([np.real(y).astype(xv.dtype), np.imag(y).astype(xv.dtype)], (x,), backward)


@_op
def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of `stft` from ``x = (real, imag)`` (..., frames, fft_length // 2 + 1), as
    Keras 3's NumPy backend (scipy's ``istft``): each frame's irfft times the window, added back
    together and divided by the sum of the squared windows over each sample; with ``center`` the
    fft_length // 2 padded samples cut off each end; ``length``: cut (or shortened) to it."""
    seq, stride, n = _stft_args(sequence_length, sequence_stride, fft_length)
    real, imag, z, dtype = _complex_pair(x, 2)
    win = _stft_window(window, seq, n, np.float64)
    frames_count = z.shape[-2]
    total = n + stride * (frames_count - 1)
    index = (np.arange(frames_count)[:, None] * stride + np.arange(n)[None, :]).reshape(-1)
    norm = np.zeros(total)
    np.add.at(norm, index, np.tile(win ** 2, frames_count))
    norm = np.where(norm > 1e-10, norm, 1.0)
    scale = 1.0 if window is not None else n / stride  # (the NumPy backend's: sum(window) / sum(window), n / stride)
    frames = np.fft.irfft(z, n=n, axis=-1)
    lead = frames.shape[:-2]
    rows = math.prod(lead)
    out = np.zeros((rows, total))
    np.add.at(out, (builtins.slice(None), index), (frames * win).reshape(rows, -1))
    out = out.reshape(lead + (total,)) * (scale / norm)
    start = n // 2 if center else 0
    if length is not None:
        end = start + int(length)
    else:
        end = total - n // 2 if center else total
    kept = np.arange(total)[start:end]
    y = out[..., kept].astype(dtype)

    def backward(g):
        full = np.zeros(lead + (total,))
        full[..., kept] = np.asarray(g)
        full = (full * (scale / norm)).reshape(rows, total)[:, index].reshape(lead + (frames_count, n)) * win
        d = _irfft_adjoint(full, n, z.shape[-1])
        return np.real(d).astype(dtype), np.imag(d).astype(dtype)

    return _result(y, (real, imag), backward)


# The names `fastnn.ops` imports (Keras's ``matmul`` is not among them: ``fastnn.ops.matmul`` is the
# GEMM kernel's, which hands tensors to `matmul` above).
__all__ = [
    "abs", "absolute", "add", "all", "amax", "amin", "any", "append", "arange", "arccos", "arccosh", "arcsin",
    "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "argsort", "array", "array_split", "average",
    "batch_normalization", "binary_crossentropy", "bitwise_and", "bitwise_invert", "bitwise_left_shift",
    "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "broadcast_to", "cast", "categorical_crossentropy", "cbrt",
    "ceil", "celu", "clip", "concatenate", "cond", "convert_to_numpy", "convert_to_tensor", "copy", "cos", "cosh",
    "count_nonzero", "cumsum", "divide", "divide_no_nan", "dot", "dot_product_attention", "dtype", "einsum", "elu",
    "empty", "equal", "erf", "exp", "exp2", "expand_dims", "expm1", "eye", "flip", "floor", "floor_divide",
    "fori_loop", "full", "full_like", "gelu", "get_item", "glu", "greater", "greater_equal", "hard_shrink",
    "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "hstack", "hypot", "identity", "in_top_k", "inner",
    "conv", "max_pool", "average_pool",
    "is_tensor",
    "isclose", "isfinite", "isinf", "isnan", "leaky_relu", "less", "less_equal", "linspace", "log", "log10",
    "log1p", "log2", "log_sigmoid", "log_softmax", "logaddexp", "logical_and", "logical_not", "logical_or",
    "logical_xor", "logsumexp", "map", "max", "maximum", "mean", "min", "minimum", "mod", "moments", "moveaxis",
    "multi_hot", "multiply", "nan_to_num", "ndim", "negative", "norm", "normalize", "not_equal", "one_hot", "ones",
    "ones_like", "outer", "pad", "power", "prod", "ravel", "reciprocal", "relu", "relu6", "repeat", "reshape",
    "roll", "round", "rsqrt", "scan", "selu", "shape", "sigmoid", "sign", "silu", "sin", "sinh", "size", "slice",
    "soft_shrink", "softmax", "softplus", "softsign", "sort", "sparse_categorical_crossentropy", "split", "sqrt",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "square", "squareplus", "squeeze", "stack", "std", "stop_gradient", "subtract", "sum", "swapaxes", "swish",
    "take", "take_along_axis", "tan", "tanh", "tanh_shrink", "tensordot", "threshold", "tile", "top_k", "transpose",
    "tri", "tril", "triu", "true_divide", "trunc", "unstack", "var", "vdot", "vstack", "where", "while_loop",
    "zeros", "zeros_like",
    # (round 29)
    "cumprod", "segment_sum", "segment_max", "slice_update", "meshgrid", "diag", "diagonal", "trace", "median",
    "quantile", "percentile", "searchsorted", "digitize", "isin", "nonzero", "rot90", "bincount", "diff", "cross",
    "kron", "select", "saturate_cast", "inv", "solve", "det", "cholesky", "qr", "svd", "eig", "eigh",
    "ctc_loss", "ctc_decode",
    # (round 30)
    "fft", "fft2", "ifft2", "rfft", "irfft", "stft", "istft", "left_shift", "right_shift",
]


# Keras 3's submodules ``keras.ops.nn``, ``keras.ops.numpy`` and ``keras.ops.linalg`` (``ops.nn.sigmoid``
# is ``ops.sigmoid``), with those of their functions that are here; `fastnn.ops` imports them.
_NN = ["average_pool", "batch_normalization", "binary_crossentropy", "conv", "categorical_crossentropy", "celu",
       "ctc_decode", "ctc_loss", "dot_product_attention",
       "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "leaky_relu",
       "log_sigmoid", "log_softmax", "max_pool", "moments", "multi_hot", "normalize", "one_hot", "relu", "relu6", "selu", "sigmoid",
       "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_categorical_crossentropy", "sparse_plus",
       "sparse_sigmoid", "sparsemax", "squareplus",
       "swish", "tanh_shrink", "threshold"]
_LINALG = ["cholesky", "det", "eig", "eigh", "inv", "norm", "qr", "solve", "svd"]
# keras.ops.core's and keras.ops.math's: the names of `__all__` in none of the three
_CORE_AND_MATH = ["cast", "cond", "convert_to_numpy", "convert_to_tensor", "dtype", "erf", "fori_loop", "in_top_k",
                  "is_tensor",
                  "logsumexp", "map", "rsqrt", "saturate_cast", "scan", "segment_max", "segment_sum", "shape",
                  "slice", "slice_update", "stop_gradient", "top_k", "unstack", "while_loop",
                  "fft", "fft2", "ifft2", "rfft", "irfft", "stft", "istft"]
_NUMPY = sorted(set(__all__) - set(_NN) - set(_LINALG) - set(_CORE_AND_MATH)) + ["matmul"]


def _namespace(name, names):
    module = types.ModuleType(f"fastnn.ops.{name}", f"Keras 3's keras.ops.{name}: {', '.join(names)}.")
    module.__dict__.update({n: globals()[n] for n in names})
    return module


def _image_resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
                  pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Keras 3's ``ops.image.resize``: `fastnn.layers.Resizing` on ``images``, computed in float32
    (TensorFlow's ``tf.image.resize``); since Keras 3.6 a result of another dtype than the input's
    is brought back to it: rounded half to even for integer images, then `saturate_cast` (a uint8
    image stays uint8, bicubic overshoot clipped to [0, 255])."""
    from .layers.augmentation import Resizing

    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"ops.image.resize: expected `size` to be a tuple of 2 integers. Received: size={size!r}")
    layer = Resizing(*size, interpolation=interpolation, antialias=antialias, crop_to_aspect_ratio=crop_to_aspect_ratio,
                     pad_to_aspect_ratio=pad_to_aspect_ratio, fill_mode=fill_mode, fill_value=fill_value,
                     data_format=data_format)
    if isinstance(images, Operators):  # (a tape or symbolic tensor: the layer's call, with its gradient)
        return layer(images)
    x = np.asarray(images)
    resized = np.asarray(layer(x.astype(np.float32)))
    if resized.dtype == x.dtype:
        return resized
    if x.dtype.kind in "iu":
        resized = np.round(resized)  # (NumPy's and TensorFlow's round: half to even)
    return np.asarray(saturate_cast(resized, x.dtype))


def _image_namespace():
    from ._image import crop_images, extract_patches_keras, pad_images, rgb_to_grayscale

    module = types.ModuleType("fastnn.ops.image", "Keras 3's keras.ops.image: resize, rgb_to_grayscale, crop_images, "
                                                  "pad_images, extract_patches.")
    module.resize, module.rgb_to_grayscale = _image_resize, lambda images, data_format=None: rgb_to_grayscale(images)
    module.crop_images, module.pad_images, module.extract_patches = crop_images, pad_images, extract_patches_keras
    return module


image = _image_namespace()
nn = _namespace("nn", _NN)
numpy = _namespace("numpy", _NUMPY)
linalg = _namespace("linalg", _LINALG)
