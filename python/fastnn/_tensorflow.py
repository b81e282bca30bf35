"""TensorFlow's names for fastnn's ops, for a TF 2 script run with ``import fastnn as tf``.

Keras's guides and the TF 2 course notes write their custom training steps with TensorFlow's
functions: ``tf.shape(x)[0]``, ``tf.concat([a, b], axis=0)``, ``tf.ones((n, 1))``,
``tf.reduce_mean(...)``, ``@tf.function``, ``tf.nn.softmax``, ``tf.math.confusion_matrix``.
``fastnn.keras`` is fastnn itself, so after ``import fastnn as tf`` the ``tf.keras`` half of such
a script is fastnn's already; this module gives the other half its names. Each function is a
`fastnn.ops` function (Keras 3's ops) under TensorFlow's name, argument names and defaults
(``tf.argmax``'s axis 0 and int64 result, ``tf.ones``' float32, ``tf.nn.gelu``'s exact form), so
it records on a `fastnn.GradientTape` as the op does; where NumPy's semantics differ from
TensorFlow's (negative indices, descending sorts, size lists, label ranges) these follow
TensorFlow's, refusing what it refuses.

``tf.function`` returns the function unchanged: fastnn runs eagerly, and its layers already run
whole kernels, which is what tracing buys TensorFlow. A ``tf.Variable`` is a leaf of the tape
(`fastnn.autodiff.Variable`) that optimizers and ``assign_sub`` update in place; a Keras layer's
weights are its own arrays (``add_weight``), and a Variable it holds (the subclassing guide's
``self.w = tf.Variable(...)``) becomes one of them (`fastnn.layers.base.track_variables`), as in
tf.keras; a subclassed model whose call() reads Variables it holds runs that call every step
(`fastnn.models._EagerCall`).

fastnn/__init__.py imports the names of `TOP_LEVEL` (not into ``fastnn.__all__``: ``from fastnn
import *`` must not shadow ``print``, ``range``, ``abs``, ``round`` or ``bool``) and registers
``fastnn.nn``, ``fastnn.math``, ``fastnn.linalg`` and ``fastnn.config`` (`register`), with
``fastnn.signal`` and ``fastnn.audio`` (`fastnn._signal`: FFTs, STFT, mel filters, WAV files) and
``fastnn.dtypes``; complex tensors are NumPy's complex64/complex128 (``tf.complex``, ``tf.cast``,
``tf.math.real``/``imag``/``angle``/``conj``, ``tf.abs``), recorded on a tape.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import functools
import os
import re
import string as _string_constants  # (`string` is tf.string, the dtype)
import sys
import types

import numpy as np

from . import _ctc, _keras_ops, _sparse, autodiff, initializers, mixed_precision, ops, utils
from ._batch_dataset import EagerArray, WeightArray, _Shape
from ._image import image
from ._tf_io import io
from .autodiff import _value

# ---- dtypes: NumPy's, which every fastnn function takes -----------------------------------------

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16 = np.uint8, np.uint16
bool = np.bool_  # noqa: A001 (TensorFlow's tf.bool)
string = np.str_
newaxis = None


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False, **kwargs):
    """``@tf.function`` and ``tf.function(f, jit_compile=True)``: ``f`` itself (fastnn is eager)."""
    if func is None:
        return lambda f: f
    return func


# ---- variables and modules ---------------------------------------------------------------------

Variable = autodiff.Variable

# TF 2's initializer classes (``w_init = tf.random_normal_initializer(); w_init(shape, dtype)``):
# Keras's, whose defaults (stddev 0.05, ±0.05) are TensorFlow's
random_normal_initializer = initializers.RandomNormal
random_uniform_initializer = initializers.RandomUniform
truncated_normal_initializer = initializers.TruncatedNormal
zeros_initializer = initializers.Zeros
ones_initializer = initializers.Ones


class constant_initializer(initializers.Initializer):  # noqa: N801 (TensorFlow's name)
    """``tf.constant_initializer(value)``: every value ``value`` (a number), or the values of
    ``value`` (a list or array with as many values as the shape asked for, laid out in it)."""

    def __init__(self, value=0):
        self.value = np.array(_value(value))
        if self.value.dtype.kind not in "biuf":
            raise TypeError(f"constant_initializer: value must be numbers. Received: {value!r}")

    def __call__(self, shape, dtype=None):
        dtype = np.dtype(dtype or utils.floatx())
        shape = tuple(int(d) for d in shape)
        if self.value.ndim == 0:
            return np.full(shape, self.value, dtype)
        if self.value.size != int(np.prod(shape)):
            raise ValueError(f"constant_initializer: {self.value.size} values given for a shape {shape} of "
                             f"{int(np.prod(shape))} values")
        return self.value.astype(dtype).reshape(shape)

    def get_config(self):
        return {"value": self.value.tolist()}


class Module:
    """TensorFlow's ``tf.Module``: a named container whose ``variables`` (and
    ``trainable_variables``) are the `Variable`s among its attributes, found through nested
    modules, lists, tuples and dicts, in the order of the attributes' names, as TensorFlow's."""

    _holds_variables = True  # a Keras layer or model holding one trains its Variables (`held_variables`)

    def __init__(self, name=None):
        self._name = name or utils.to_snake_case(type(self).__name__)

    @property
    def name(self):
        return self._name

    @property
    def variables(self):
        return tuple(v for v in _tracked(self) if isinstance(v, autodiff.Variable))

    @property
    def trainable_variables(self):
        return tuple(v for v in _tracked(self) if isinstance(v, autodiff.Variable) and v.trainable)

    @property
    def submodules(self):
        return tuple(m for m in _tracked(self) if isinstance(m, Module))


def _tracked(module):
    """The Variables and Modules under ``module``'s attributes (through nested modules, lists,
    tuples and dicts), each once, depth first in attribute-name order as TensorFlow lists them; a
    reference cycle ends the walk."""
    seen = {id(module)}

    def walk(value):
        if isinstance(value, (autodiff.Variable, Module)):
            if id(value) not in seen:
                seen.add(id(value))
                yield value
                if isinstance(value, Module):
                    yield from attributes(value)
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                yield from walk(value[key])
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from walk(item)

    def attributes(m):
        for key in sorted(vars(m)):
            if key != "_name":
                yield from walk(vars(m)[key])

    return list(attributes(module))


# ---- how the ops below check and record -------------------------------------------------------


def _fail(kind, op, message):
    """A ``kind`` exception naming ``tf.<op>``; `autodiff.graph_function` passes it on as it is."""
    error = kind(f"tf.{op}: {message}")
    error._fastnn_named = True
    return error


def _tf_op(op):
    """Register the function as the graph function ``"tf.<op>"`` (`autodiff.graph_function`): an
    array a GradientTape watches and a tf.Variable take their leaves on the tape, and on symbolic
    tensors (a functional model's) the call is one layer of the graph."""
    def decorate(fn):
        wrapped = autodiff.graph_function("tf." + op)(fn)
        wrapped.__name__ = wrapped.__qualname__ = op.rpartition(".")[2]
        return wrapped
    return decorate


def _operand(x):
    """A tensor argument: a tape tensor or an array as it is; Python numbers and lists as
    TensorFlow makes them (float32, int32)."""
    if isinstance(x, (autodiff.Tensor, np.ndarray)):
        return x
    return np.asarray(x) if isinstance(x, np.generic) else ops.convert_to_tensor(x)


def _int_values(value, what, op):
    """An int, or a 1-D list or array of ints, as (a list of Python ints, its rank)."""
    a = np.asarray(_value(value))
    if a.ndim > 1 or (a.size and a.dtype.kind not in "iu") or a.dtype.kind == "b":
        raise _fail(TypeError, op, f"{what} must be an int or a 1-D list of ints. Received: {what}={value!r}")
    return [int(v) for v in a.reshape(-1)], a.ndim


def _in_rank(axis, rank, op, what="axis"):
    if not -rank <= axis < rank:
        raise _fail(ValueError, op, f"{what} {axis} is out of range [{-rank}, {rank}) for a tensor of rank {rank}")
    return axis % rank



# ---- shapes and creation -----------------------------------------------------------------------


def shape(input, out_type=None, name=None):
    """The shape of ``input`` as an int32 array (``tf.shape(x)[0]`` is the batch size); a tuple
    with None for a symbolic tensor's unknown batch axis."""
    dims = ops.shape(input)
    if None in dims:
        return dims
    return np.array(dims, dtype=out_type or np.int32)


def size(input, out_type=None, name=None):
    """The number of values in ``input`` (int32)."""
    return np.array(ops.size(input), dtype=out_type or np.int32)


def rank(input, name=None):
    """The number of axes of ``input`` (int32)."""
    return np.array(len(ops.shape(input)), dtype=np.int32)


def ones(shape, dtype=float32, name=None):
    """An array of ones (float32)."""
    return ops.ones(shape, dtype=dtype)


def zeros(shape, dtype=float32, name=None):
    """An array of zeros (float32)."""
    return ops.zeros(shape, dtype=dtype)


def ones_like(input, dtype=None, name=None):
    return ops.ones_like(input, dtype=dtype)


def zeros_like(input, dtype=None, name=None):
    return ops.zeros_like(input, dtype=dtype)


def fill(dims, value, name=None):
    """An array of ``dims`` filled with ``value`` (its dtype: float32 for a Python float)."""
    return ops.full(dims, value, dtype=ops.convert_to_tensor(value).dtype)


def constant(value, dtype=None, shape=None, name=None):
    """``value`` as an array (Python floats float32, ints int32), broadcast to ``shape`` if given."""
    given = np.asarray(_value(value))
    if given.dtype.kind in "US" or dtype in (str, np.str_, "string"):  # (a string tensor: tf.constant(["a", "b"]))
        text = given.astype(str)
        return np.broadcast_to(text, tuple(shape)).copy() if shape is not None else text
    if dtype is not None and not np.can_cast(given.dtype, dtype, "same_kind") and given.dtype.kind in "fc" \
            and given.size:  # (an empty list is float64 to NumPy: tf.constant([], tf.int32) is an empty int32)
        raise TypeError(f"fastnn.constant: {value!r} cannot be {np.dtype(dtype)} without losing its fraction")
    x = ops.convert_to_tensor(value, dtype=dtype)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if x.size != 1 and x.size != int(np.prod(shape)):
            raise ValueError(f"fastnn.constant: {x.size} values cannot fill the shape {shape}")
        x = np.broadcast_to(x, shape).copy() if x.size == 1 else x.reshape(shape)
    return x


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    if isinstance(value, autodiff.Variable) and dtype is None:
        return value.read_value()  # (a read of the variable: later assigns leave it as it was)
    return ops.convert_to_tensor(value, dtype=dtype or (dtype_hint if not isinstance(value, np.ndarray) else None))


def cast(x, dtype, name=None):
    """``x`` as ``dtype``; the gradient flows between float and complex dtypes. A complex value
    cast to a real dtype keeps its real part (TensorFlow's), a real one cast to complex gets a
    zero imaginary part."""
    try:
        target = np.dtype(dtype)
    except TypeError:
        return ops.cast(x, dtype)
    given = _value(x)
    source = given.dtype if isinstance(given, (np.ndarray, np.generic)) else None
    if target.kind == "c" or (source is not None and source.kind == "c"):
        return _complex_cast(_operand(x), target)
    return ops.cast(x, dtype)


def range(start, limit=None, delta=1, dtype=None, name=None):  # noqa: A001
    """Evenly spaced values in [start, limit) (one argument: [0, start))."""
    if _value(delta) == 0:
        raise ValueError("fastnn.range: delta must not be 0")
    return ops.arange(start, limit, delta, dtype=dtype)


def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included); float32 for Python
    numbers (TensorFlow's float32 where NumPy's would be float64)."""
    dtype = None if isinstance(start, np.ndarray) or isinstance(stop, np.ndarray) else float32
    return ops.linspace(start, stop, int(num), dtype=dtype, axis=axis)


def identity(input, name=None):
    """``input`` itself (on a tape, the same tensor); of a tf.Variable, a read of its value (a
    snapshot that later assigns leave as it was, recorded on a tape that watches it)."""
    if isinstance(input, autodiff.Variable):
        return input.read_value()
    # (a layer's weight, model.trainable_variables[i]: a copy, which the optimizer's updates leave as it
    # was, as a snapshot old = [tf.identity(w) for w in ...] expects; on the tape, the weight's read)
    return ops.copy(input) if isinstance(input, WeightArray) else input


def stop_gradient(input, name=None):
    return ops.stop_gradient(input)


def print(*inputs, output_stream=None, summarize=None, sep=" ", end="\n", name=None):  # noqa: A001
    """Print the values of ``inputs`` (tensors as arrays) to stderr, as ``tf.print`` does."""
    values = [_value(x) for x in inputs]
    builtins.print(*values, sep=sep, end=end, file=output_stream or sys.stderr)


# ---- reshaping and joining ---------------------------------------------------------------------


def concat(values, axis, name=None):
    """``values`` joined along ``axis``."""
    return ops.concatenate(values, axis=axis)


def stack(values, axis=0, name=None):
    return ops.stack(values, axis=axis)


def unstack(value, num=None, axis=0, name=None):
    return ops.unstack(value, num=num, axis=axis)


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """``value`` split along ``axis``: into ``num_or_size_splits`` equal parts (an int) or parts
    of the listed sizes, which add up to the axis' length (one of them may be -1: the rest)."""
    if isinstance(num_or_size_splits, (int, np.integer)):
        return ops.split(value, int(num_or_size_splits), axis=axis)
    sizes = [int(n) for n in num_or_size_splits]
    length = ops.shape(value)[axis]
    if sizes.count(-1) == 1 and all(n >= 0 for n in sizes if n != -1):
        sizes[sizes.index(-1)] = length - sum(n for n in sizes if n != -1)
    if any(n < 0 for n in sizes) or sum(sizes) != length:
        raise ValueError(f"fastnn.split: the sizes must be non-negative (one may be -1) and add up to the length "
                         f"{length} of axis {axis}. Received: num_or_size_splits={list(num_or_size_splits)}")
    return ops.split(value, np.cumsum(sizes)[:-1].tolist(), axis=axis)


def reshape(tensor, shape, name=None):
    return ops.reshape(tensor, tuple(np.asarray(shape).tolist()) if not isinstance(shape, int) else shape)


def transpose(a, perm=None, conjugate=False, name=None):
    return ops.transpose(a, axes=perm)


def expand_dims(input, axis, name=None):
    return ops.expand_dims(input, axis)


def squeeze(input, axis=None, name=None):
    return ops.squeeze(input, axis=axis)


def tile(input, multiples, name=None):
    return ops.tile(input, multiples)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    return ops.pad(tensor, paddings, mode=mode.lower(), constant_values=constant_values)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """The slices of ``params`` at ``indices`` along ``axis`` (0 by default)."""
    if batch_dims:
        raise ValueError(f"fastnn.gather: batch_dims other than 0 is not supported. Received: batch_dims={batch_dims}")
    axis = 0 if axis is None else axis
    idx, n = np.asarray(_value(indices)), ops.shape(params)[axis]
    if idx.size and (idx.min() < 0 or idx.max() >= n):  # (TensorFlow's CPU kernel refuses them; NumPy would wrap -1)
        raise ValueError(f"fastnn.gather: indices must be in [0, {n}) along axis {axis}. Received: "
                         f"{idx.min() if idx.min() < 0 else idx.max()}")
    return ops.take(params, indices, axis=axis)


def boolean_mask(tensor, mask, axis=None, name=None):
    """The entries of ``tensor`` where ``mask`` (the shape of its axes from ``axis`` on, 0 unless
    given) is true, those axes flattened into one; the gradient goes back to the kept entries (a
    masked loss: ``tf.boolean_mask(y_pred, m)``)."""
    t = tensor if isinstance(tensor, autodiff.Tensor) else _value(tensor)
    values, mask = np.asarray(_value(t)), np.asarray(_value(mask), dtype=np.bool_)
    start = 0 if axis is None else int(axis) % max(values.ndim, 1)
    if values.shape[start:start + mask.ndim] != mask.shape:
        raise ValueError(f"fastnn.boolean_mask: the mask's shape {mask.shape} must be the tensor's shape from axis "
                         f"{start} on; the tensor is {values.shape}")
    where = (slice(None),) * start + (mask,)

    def backward(g):
        d = np.zeros(values.shape, dtype=np.asarray(g).dtype)
        d[where] = g
        return (d,)

    return autodiff._result(values[where], (t,), backward)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """Integer ``indices`` as one-hot vectors of ``depth`` (float32; ``on_value``/``off_value``
    1 and 0 unless given)."""
    if int(depth) < 1:  # (ops.one_hot takes 0 as "from the data")
        shape = np.shape(_value(indices)) + (0,)
        return np.zeros(shape if axis in (None, -1) else np.moveaxis(np.zeros(shape), -1, axis).shape,
                        dtype=dtype or float32)
    y = ops.one_hot(indices, depth, axis=-1 if axis is None else axis, dtype=dtype or float32)
    if on_value is None and off_value is None:
        return y
    on, off = 1 if on_value is None else on_value, 0 if off_value is None else off_value
    return (off + (on - off) * y).astype(y.dtype)


def where(condition, x=None, y=None, name=None):
    """``x`` where ``condition`` holds, else ``y``; with the condition alone, TensorFlow's: the
    coordinates of its true entries, an int64 tensor of shape (count, rank) (``tf.gather_nd(x,
    tf.where(c))``; keras.ops.where gives NumPy's tuple instead)."""
    if x is None and y is None:
        return np.argwhere(np.asarray(_value(condition))).astype(np.int64)
    return ops.where(condition, x, y)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    return ops.clip(t, clip_value_min, clip_value_max)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled down to an L2 norm (over ``axes``, all if None) of at most ``clip_norm``."""
    t = _value(t) if not isinstance(t, autodiff.Tensor) else t
    squares = ops.sum(ops.square(t), axis=axes, keepdims=True)
    norm = ops.sqrt(ops.maximum(squares, np.finfo(np.float32).tiny))
    return t * ops.minimum(1.0, clip_norm / norm)


def global_norm(t_list, name=None):
    """The L2 norm of all the tensors of ``t_list`` together, sqrt(sum of every squared entry)
    (None entries skipped, as TensorFlow's)."""
    if isinstance(t_list, (np.ndarray, autodiff.Operators)) or not hasattr(t_list, "__iter__"):
        raise TypeError(f"tf.linalg.global_norm: t_list must be a list of tensors. Received: {type(t_list).__name__}")
    squares = [ops.sum(ops.square(t if isinstance(t, autodiff.Tensor) else _value(t))) for t in t_list if t is not None]
    total = squares[0] if squares else np.float32(0)
    for sq in squares[1:]:
        total = total + sq
    return ops.sqrt(total)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(clipped, norm)``: every tensor of ``t_list`` scaled by ``clip_norm / max(norm, clip_norm)``,
    ``norm`` their `global_norm` (or ``use_norm``), so together they are at most ``clip_norm`` long;
    None entries stay None (a custom loop's ``grads, _ = tf.clip_by_global_norm(grads, 5.0)``)."""
    t_list = list(t_list) if not isinstance(t_list, (np.ndarray, autodiff.Operators)) else None
    if t_list is None:
        raise TypeError("tf.clip_by_global_norm: t_list must be a list of tensors (the gradients)")
    clip = float(_value(clip_norm))
    if not clip > 0:
        raise ValueError(f"tf.clip_by_global_norm: clip_norm must be positive. Received: {clip_norm!r}")
    norm = global_norm(t_list) if use_norm is None else use_norm
    scale = clip / ops.maximum(norm, clip)
    return [None if t is None else (t if isinstance(t, autodiff.Tensor) else _value(t)) * scale
            for t in t_list], norm


class UnconnectedGradients:
    """TensorFlow's enum for ``tape.gradient(..., unconnected_gradients=...)``."""

    class _Value(str):
        @property
        def value(self):
            return str(self)

    NONE, ZERO = _Value("none"), _Value("zero")


def custom_gradient(f=None):
    """``@tf.custom_gradient``: ``f(*x)`` returns ``(y, grad_fn)``; y is computed as ``f`` does,
    and its gradient is ``grad_fn(dy)`` (one gradient, or a list with one per input) instead of the
    one of the operations in ``f``, which are not recorded."""
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def wrapper(*args):
        operands = autodiff._on_watched(args, autodiff.watched_leaves() if autodiff.watched_leaves else None) or args
        y, grad_fn = f(*[_value(a) for a in operands])

        def backward(g):
            grads = grad_fn(g)
            grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
            if len(grads) != len(operands):
                raise ValueError(f"custom_gradient: {f.__name__}'s gradient function returned {len(grads)} gradients "
                                 f"for {len(operands)} inputs")
            return [None if d is None else _gradient_for(np.asarray(_value(d)), operand, i)
                    for i, (d, operand) in enumerate(zip(grads, operands))]

        def _gradient_for(d, operand, i):
            # A gradient must have its input's shape; one that broadcasts to it (a scalar) is spread.
            shape = np.shape(_value(operand))
            if d.shape == shape:
                return d
            try:
                return np.ascontiguousarray(np.broadcast_to(d, shape))
            except ValueError:
                raise ValueError(f"custom_gradient: {f.__name__}'s gradient function returned a gradient of shape "
                                 f"{d.shape} for input {i}, which has shape {shape}") from None

        return autodiff._result(np.asarray(_value(y)), tuple(operands), backward)

    return wrapper


class TensorShape(_Shape):
    """``tf.TensorShape([None, 28])``: a shape (a tuple of ints and None) with ``as_list()`` and ``rank``
    (an eager tensor's own shape has them too)."""

    def __new__(cls, dims=None):
        if dims is None:
            raise ValueError("TensorShape: fastnn's shapes have a known rank; give the dimensions")
        dims = [dims] if isinstance(dims, (int, np.integer)) else list(getattr(dims, "shape", dims))
        if not all(d is None or isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
            raise ValueError(f"TensorShape: dimensions must be non-negative ints or None. Received: {dims!r}")
        return super().__new__(cls, (None if d is None else int(d) for d in dims))

    def num_elements(self):
        return None if None in self else super().num_elements()

    def __repr__(self):
        return f"TensorShape({list(self)})"


def _nest_flatten(structure, expand_composites=False):
    """The leaves of nested lists, tuples and dicts (dicts by sorted key, as TensorFlow's)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _nest_flatten(structure[key])]
    if isinstance(structure, (list, tuple)) and not isinstance(structure, TensorShape):
        return [leaf for part in structure for leaf in _nest_flatten(part)]
    return [structure]


def _nest_pack(structure, flat, expand_composites=False):
    """``structure`` with its leaves replaced, in `flatten`'s order, by ``flat``."""
    leaves = iter(flat)

    def pack(s):
        if isinstance(s, dict):
            packed = {key: pack(s[key]) for key in sorted(s)}
            return type(s)((key, packed[key]) for key in s) if type(s) is not dict else {k: packed[k] for k in s}
        if isinstance(s, (list, tuple)) and not isinstance(s, TensorShape):
            parts = [pack(p) for p in s]
            return type(s)(*parts) if hasattr(s, "_fields") else type(s)(parts)
        return next(leaves)

    out = pack(structure)
    if next(leaves, _END) is not _END:
        raise ValueError(f"nest.pack_sequence_as: more values ({len(flat)}) than the structure holds")
    return out


_END = object()


def _nest_map(func, *structures, **kwargs):
    """``func`` on the leaves of ``structures`` (the same structure), packed as the first."""
    flats = [_nest_flatten(s) for s in structures]
    if len({len(f) for f in flats}) > 1:
        raise ValueError(f"nest.map_structure: the structures differ: {[len(f) for f in flats]} leaves")
    return _nest_pack(structures[0], [func(*leaves) for leaves in zip(*flats)])


def _nest_assert_same_structure(a, b, check_types=True, expand_composites=False):
    if len(_nest_flatten(a)) != len(_nest_flatten(b)) or _nest_pack(a, [0] * len(_nest_flatten(a))) != \
            _nest_pack(b, [0] * len(_nest_flatten(b))):
        raise ValueError(f"nest.assert_same_structure: the structures differ: {a!r} and {b!r}")


nest = types.ModuleType("fastnn.nest", "TensorFlow's tf.nest over lists, tuples and dicts.")
nest.flatten = _nest_flatten
nest.pack_sequence_as = _nest_pack
nest.map_structure = _nest_map
nest.assert_same_structure = _nest_assert_same_structure
nest.is_nested = lambda seq: isinstance(seq, (list, tuple, dict)) and not isinstance(seq, TensorShape)


# TensorFlow's tf.errors: the exceptions fastnn raises for what TensorFlow reports with these
errors = types.ModuleType("fastnn.errors", "TensorFlow's tf.errors, as the Python exceptions fastnn raises.")
errors.InvalidArgumentError = ValueError  # a bad shape or value: fastnn's checks raise ValueError
errors.UnimplementedError = NotImplementedError
errors.NotFoundError = FileNotFoundError
errors.ResourceExhaustedError = MemoryError
errors.OpError = Exception


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, name=None, **kwargs):
    """``a @ b`` (batched over leading axes, which broadcast), either operand's last two axes swapped
    first if asked (``adjoint_*`` is ``transpose_*``: the values are real)."""
    if transpose_a or adjoint_a:
        a = ops.swapaxes(a, -1, -2)
    if transpose_b or adjoint_b:
        b = ops.swapaxes(b, -1, -2)
    dtypes = {getattr(v, "dtype", None) for v in (a, b)}
    if len(dtypes) == 1 and None not in dtypes and dtypes != {np.float32}:
        # TensorFlow keeps the operands' (one) dtype: float64 in float64, int64 exact (fastnn.ops.matmul,
        # the float32 kernel, converts them); operands of two dtypes, which TensorFlow refuses, run it.
        # Integers narrower than int32 multiply in int32, as Keras 3's ops.matmul (int8 would wrap)
        (dtype,) = dtypes
        if np.dtype(dtype).kind in "iu" and np.dtype(dtype).itemsize < 4:
            a, b = ops.cast(a, "int32"), ops.cast(b, "int32")
        return _keras_ops.matmul(a, b)
    return ops.matmul(a, b)


def tensordot(a, b, axes, name=None):
    """The sum of ``a * b`` over ``axes``: an int n (a's last n axes with b's first n), or a pair of
    axis lists (``tf.tensordot(u, v, 2)`` of two (B, E) tensors: the sum of all their products)."""
    return ops.tensordot(a, b, axes=axes)


is_tensor = ops.is_tensor  # (fastnn's tensors: arrays, tape tensors and symbolic ones)


def cond(pred, true_fn=None, false_fn=None, name=None):
    """``true_fn()`` if ``pred`` holds, else ``false_fn()`` (fastnn is eager: Python's if)."""
    return ops.cond(pred, true_fn, false_fn)


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (a Python loop); the result
    has the structure of ``loop_vars``."""
    out = ops.while_loop(cond, body, loop_vars, maximum_iterations=maximum_iterations)
    return list(out) if isinstance(loop_vars, list) and isinstance(out, tuple) else out


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None, fn_output_signature=None):
    """``fn`` applied to each slice of ``elems`` along its first axis, the results stacked."""
    return ops.map(fn, elems)


def gather_nd(params, indices, batch_dims=0, name=None):
    """The slices of ``params`` that the last axis of ``indices`` addresses: ``indices`` (..., k)
    picks ``params[i0, ..., ik-1]`` (a slice when k < params' rank); with ``batch_dims`` b, the
    first b axes of both are a batch, each element indexing its own. Its gradient adds up into
    the places picked (repeated indices add up)."""
    p = params if isinstance(params, autodiff.Tensor) else _value(params)
    pv = np.asarray(_value(p))
    idx = np.asarray(_value(indices))
    b = int(batch_dims)
    if idx.dtype.kind not in "iu" or idx.ndim < 1 or not 0 <= b < idx.ndim or b > pv.ndim \
            or idx.shape[:b] != pv.shape[:b] or idx.shape[-1] > pv.ndim - b:
        raise ValueError(f"tf.gather_nd: indices must be integers of shape (batch..., ..., k) with k <= the rank of "
                         f"params after batch_dims. Received: params {pv.shape}, indices {idx.shape} {idx.dtype}, "
                         f"batch_dims={batch_dims}")
    k = idx.shape[-1]
    for axis in range(k):
        bad = (idx[..., axis] < 0) | (idx[..., axis] >= pv.shape[b + axis])
        if bad.any():
            raise ValueError(f"tf.gather_nd: an index {idx[..., axis][bad][0]} is out of range for axis {b + axis} of "
                             f"params {pv.shape}")
    batch = np.indices(idx.shape[:-1])[:b]  # (each element's own batch position)
    where = tuple(batch) + tuple(idx[..., axis] for axis in range(k))
    value = pv[where]

    def backward(g):
        d = np.zeros(pv.shape, dtype=g.dtype)
        np.add.at(d, where, g)
        return (d,)

    return autodiff._result(value, (p,), backward)


class TensorArray:
    """``tf.TensorArray``: a growing list of same-dtype tensors, as a decoding loop fills it (the
    Transformer tutorial's ``output_array = output_array.write(i + 1, predicted_id[0])`` then
    ``stack()``). ``write`` and ``unstack`` give the array back (TensorFlow's return a new one;
    assigning the result, as TF code does, works either way)."""

    def __init__(self, dtype, size=0, dynamic_size=False, clear_after_read=True, element_shape=None, name=None,
                 **kwargs):
        self.dtype = np.dtype(dtype)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"tf.TensorArray: size must be a non-negative integer. Received: {size!r}")
        self._items = [None] * int(size)
        self._dynamic = bool(dynamic_size)

    def write(self, index, value, name=None):
        index = int(np.asarray(_value(index)))
        if index < 0 or (index >= len(self._items) and not self._dynamic):
            raise IndexError(f"tf.TensorArray.write: index {index} is out of range for an array of size "
                             f"{len(self._items)} (dynamic_size=False)")
        self._items.extend([None] * (index + 1 - len(self._items)))
        self._items[index] = np.asarray(_value(value), dtype=self.dtype)
        return self

    def read(self, index, name=None):
        item = self._items[int(np.asarray(_value(index)))]
        if item is None:
            raise ValueError(f"tf.TensorArray.read: element {int(np.asarray(_value(index)))} was never written")
        return item.view(EagerArray)

    def size(self, name=None):
        return np.asarray(len(self._items), dtype=np.int32).view(EagerArray)

    def stack(self, name=None):
        if any(item is None for item in self._items):
            raise ValueError("tf.TensorArray.stack: some elements were never written")
        if not self._items:
            return np.zeros((0,), dtype=self.dtype).view(EagerArray)
        return np.stack(self._items).view(EagerArray)

    def concat(self, name=None):
        return np.concatenate([np.atleast_1d(item) for item in self._items]).view(EagerArray)

    def unstack(self, value, name=None):
        self._items = [np.asarray(v, dtype=self.dtype) for v in np.asarray(_value(value))]
        return self


class TensorSpec(collections.namedtuple("TensorSpec", ["shape", "dtype", "name"])):
    """``tf.TensorSpec(shape, dtype, name)``: a tensor's description, as ``tf.function(input_signature=
    [...])`` takes it (fastnn runs functions eagerly, so it only describes)."""

    def __new__(cls, shape, dtype="float32", name=None):
        return super().__new__(cls, TensorShape(shape), "string" if dtype in ("string", str, np.str_) else np.dtype(dtype),
                               name)


class _TensorType(type):
    def __instancecheck__(cls, x):
        return isinstance(x, (np.ndarray, autodiff.Operators)) and not isinstance(x, autodiff.Variable)


class Tensor(metaclass=_TensorType):
    """``tf.Tensor`` for ``isinstance``: an array (a layer's input or output), a tape tensor or a
    symbolic one; a `Variable` is not one, as in TensorFlow. It makes nothing: tensors come from
    ``tf.constant`` / ``tf.convert_to_tensor`` and the ops."""

    def __new__(cls, *args, **kwargs):
        raise TypeError("tf.Tensor cannot be created directly; use tf.constant(value) or tf.convert_to_tensor(value)")


@contextlib.contextmanager
def device(device_name):
    """TensorFlow's device placement: fastnn runs on the CPU alone, so ``with tf.device("/GPU:0"):``
    runs its block as it is (TensorFlow's soft placement falls back to the CPU too)."""
    if not isinstance(device_name, str) and device_name is not None:
        raise TypeError(f"tf.device: expected a device name string such as '/CPU:0'. Received: {device_name!r}")
    yield


def executing_eagerly():
    """True: fastnn runs every op as it is called (``tf.function`` included)."""
    return True


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape (``tf.add_n(model.losses)``)."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError(f"add_n: expected a non-empty list of tensors. Received: {inputs!r}")
    shapes = {tuple(np.shape(autodiff._value(t))) for t in inputs}
    if len(shapes) > 1:
        raise ValueError(f"add_n: the tensors must have one shape. Received shapes: {sorted(shapes)}")
    total = inputs[0]
    for t in inputs[1:]:
        total = ops.add(total, t)
    return total


def einsum(equation, *inputs, **kwargs):
    return ops.einsum(equation, *inputs)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    return ops.norm(tensor, ord=None if ord == "euclidean" else ord, axis=axis, keepdims=builtins.bool(keepdims))


def _direction(direction, fn):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"fastnn.{fn}: direction must be 'ASCENDING' or 'DESCENDING'. Received: {direction!r}")
    return direction == "DESCENDING"


def sort(values, axis=-1, direction="ASCENDING", name=None):
    ascending = ops.sort(values, axis=axis)
    return ops.flip(ascending, axis=axis) if _direction(direction, "sort") else ascending


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The indices that sort ``values`` along ``axis``; ties keep their order in either direction
    (no negation, so unsigned and the smallest int sort right)."""
    descending = _direction(direction, "argsort")
    x = np.asarray(_value(values))
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int32)
    # descending with ties in order: a stable ascending sort of the reversed axis, read backwards
    n = x.shape[axis]
    order = np.flip(np.argsort(np.flip(x, axis=axis), axis=axis, kind="stable"), axis=axis)
    return (n - 1 - order).astype(np.int32)


# ---- reductions --------------------------------------------------------------------------------


def _reduction(op):
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        return op(input_tensor, axis=axis, keepdims=keepdims)

    return reduce


reduce_sum = _reduction(ops.sum)
reduce_mean = _reduction(ops.mean)
reduce_max = _reduction(ops.max)
reduce_min = _reduction(ops.min)
reduce_prod = _reduction(ops.prod)
reduce_any = _reduction(ops.any)
reduce_all = _reduction(ops.all)
reduce_logsumexp = _reduction(ops.logsumexp)
reduce_std = _reduction(ops.std)
reduce_variance = _reduction(ops.var)
for _name, _reduce in list(globals().items()):
    if _name.startswith("reduce_"):
        _reduce.__name__ = _reduce.__qualname__ = _name
        _reduce.__doc__ = f"tf.{_name}: fastnn.ops.{_reduce.__name__[7:]} over ``axis`` (all axes if None)."


def argmax(input, axis=None, output_type=int64, name=None):
    """The index of the largest value along ``axis`` (0 if None, as TensorFlow's), int64 (on a
    symbolic tensor too: ``tf.one_hot(tf.argmax(x, -1), n)`` in a functional model)."""
    return ops.cast(ops.argmax(input, axis=0 if axis is None else axis), output_type)


def argmin(input, axis=None, output_type=int64, name=None):
    """The index of the smallest value along ``axis`` (0 if None, as TensorFlow's), int64."""
    return ops.cast(ops.argmin(input, axis=0 if axis is None else axis), output_type)


def count_nonzero(input, axis=None, keepdims=None, dtype=int64, name=None):
    # (NumPy before 2.3 gives a Python int for the whole array)
    return np.asarray(np.count_nonzero(np.asarray(_value(input)), axis=axis, keepdims=builtins.bool(keepdims)),
                      dtype=dtype)[()]


@_tf_op("math.cumsum")
def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """The cumulative sum along ``axis``: ``exclusive`` leaves each value out of its own sum (0
    first), ``reverse`` sums from the end."""
    if exclusive:
        x = _operand(x)
        axis = _in_rank(int(_value(axis)), len(autodiff.shape(x)), "math.cumsum")
        return _keras_ops.cumulative_sum(x, axis, True, builtins.bool(reverse))
    if reverse:
        return ops.flip(ops.cumsum(ops.flip(x, axis=axis), axis=axis), axis=axis)
    return ops.cumsum(x, axis=axis)


# ---- elementwise: TF's names that are ops' names, and the renamed ones -------------------------

add, subtract, multiply, divide, maximum, minimum = ops.add, ops.subtract, ops.multiply, ops.divide, ops.maximum, ops.minimum
pow, abs, negative, sign, square, sqrt, exp = ops.power, ops.abs, ops.negative, ops.sign, ops.square, ops.sqrt, ops.exp  # noqa: A001
round, floor, ceil = ops.round, ops.floor, ops.ceil  # noqa: A001
sin, cos, tan, tanh, sigmoid = ops.sin, ops.cos, ops.tan, ops.tanh, ops.sigmoid
equal, not_equal, greater, greater_equal, less, less_equal = (ops.equal, ops.not_equal, ops.greater, ops.greater_equal,
                                                              ops.less, ops.less_equal)
logical_and, logical_or, logical_not, logical_xor = ops.logical_and, ops.logical_or, ops.logical_not, ops.logical_xor
truediv, floordiv, divide_no_nan = ops.true_divide, ops.floor_divide, ops.divide_no_nan
floormod = mod = ops.mod  # (TensorFlow's tf.math.floormod: the remainder of floor division, Python's %)
log, log1p, expm1, rsqrt, reciprocal, erf = ops.log, ops.log1p, ops.expm1, ops.rsqrt, ops.reciprocal, ops.erf
is_nan, is_inf, is_finite = ops.isnan, ops.isinf, ops.isfinite
softplus = ops.softplus


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    """``x / sqrt(max(sum(x²), epsilon))`` along ``axis`` (all axes if None)."""
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squares, epsilon))


TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def top_k(input, k=1, sorted=True, index_type=int32, name=None):
    """The ``k`` largest values along the last axis and their indices, largest first."""
    if not 0 <= int(k) <= ops.shape(input)[-1]:
        raise ValueError(f"fastnn.math.top_k: k must be in [0, {ops.shape(input)[-1]}] (the last axis' length). "
                         f"Received: k={k}")
    values, indices = ops.top_k(input, k, sorted=sorted)
    return TopKV2(values, np.asarray(indices).astype(index_type))


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=int32, name=None):
    """The (num_classes, num_classes) matrix whose [i, j] counts (or sums ``weights`` of) the
    samples of label i predicted as j."""
    labels = np.asarray(_value(labels)).reshape(-1)
    predictions = np.asarray(_value(predictions)).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"fastnn.math.confusion_matrix: labels and predictions must have as many values. "
                         f"Received: {labels.size} labels and {predictions.size} predictions")
    cast = []
    for what, v in (("labels", labels), ("predictions", predictions)):
        if v.dtype.kind not in "iubf":
            raise TypeError(f"fastnn.math.confusion_matrix: {what} must be numbers. Received dtype {v.dtype}")
        if v.dtype.kind == "f" and not np.isfinite(v).all():
            raise ValueError(f"fastnn.math.confusion_matrix: {what} must be finite. Received a NaN or an infinity")
        v = v.astype(np.int64)  # (TensorFlow casts both to int64 first: float 0./1. labels count)
        if v.size and v.min() < 0:
            raise ValueError(f"fastnn.math.confusion_matrix: {what} must be non-negative. Received minimum {v.min()}")
        cast.append(v)
    labels, predictions = cast
    n = int(num_classes) if num_classes is not None else int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
    if labels.size and max(labels.max(), predictions.max()) >= n:
        raise ValueError(f"fastnn.math.confusion_matrix: a label or prediction is out of range for "
                         f"num_classes={n}. Received maximum {max(labels.max(), predictions.max())}")
    w = np.ones(labels.size) if weights is None else np.asarray(_value(weights), dtype=np.float64).reshape(-1)
    if w.size != labels.size:
        raise ValueError(f"fastnn.math.confusion_matrix: weights must have one value per label ({labels.size}). "
                         f"Received: {w.size}")
    matrix = np.zeros((n, n), dtype=np.float64)
    np.add.at(matrix, (labels, predictions), w)
    return matrix.astype(dtype)


# ---- tf.nn -------------------------------------------------------------------------------------


def _softmax(logits, axis=None, name=None):
    return ops.softmax(logits, axis=-1 if axis is None else axis)


def _log_softmax(logits, axis=None, name=None):
    return ops.log_softmax(logits, axis=-1 if axis is None else axis)


def _gelu(features, approximate=False, name=None):
    return ops.gelu(features, approximate=approximate)


def _leaky_relu(features, alpha=0.2, name=None):
    return ops.leaky_relu(features, negative_slope=alpha)


def _sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise binary cross-entropy of ``logits`` (unclipped, as TensorFlow's)."""
    return ops.binary_crossentropy(labels, logits, from_logits=True)


def _softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per-sample cross-entropy of ``labels`` (distributions) and the softmax of ``logits``."""
    return ops.categorical_crossentropy(labels, logits, from_logits=True, axis=axis)


def _sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-sample cross-entropy of integer ``labels`` (logits' shape without its last axis, each in
    [0, classes)) and the softmax of ``logits``."""
    y = np.asarray(_value(labels))
    shape = tuple(ops.shape(logits))
    if y.dtype.kind not in "iu" or y.shape != shape[:-1]:
        raise ValueError(f"fastnn.nn.sparse_softmax_cross_entropy_with_logits: labels must be integers of the logits' "
                         f"shape without the last axis, {shape[:-1]}. Received: labels of dtype {y.dtype}, shape "
                         f"{y.shape}")
    if y.size and (y.min() < 0 or y.max() >= shape[-1]):
        raise ValueError(f"fastnn.nn.sparse_softmax_cross_entropy_with_logits: labels must be in [0, {shape[-1]}). "
                         f"Received: {y.min() if y.min() < 0 else y.max()}")
    return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def _dropout(x, rate, noise_shape=None, seed=None, name=None):
    from . import random

    return random.dropout(x, rate, noise_shape=noise_shape, seed=seed)


def _moments(x, axes, shift=None, keepdims=False, name=None):
    return ops.moments(x, axes, keepdims=keepdims)


def _bias_add(value, bias, data_format=None, name=None):
    return value + bias


def _embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows of ``params`` at ``ids`` (``tf.gather`` on axis 0)."""
    return gather(params, ids)


def _tf_spatial(value, rank, data_format=None):
    """TensorFlow's strides / sizes / dilations: an int, one per spatial axis, or one per axis of the
    input in ``data_format``'s order, with 1 for the batch and the channels ([1, 2, 2, 1] for NHWC,
    [1, 1, 2, 2] for NCHW)."""
    if value is None:
        return 1
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = [int(v) for v in value]
    if len(value) != rank + 2:
        return value
    return value[2:] if _tf_format(data_format, rank) == "channels_first" else value[1:-1]


def _tf_format(data_format, rank):
    if data_format is None or data_format in ("NWC", "NHWC", "NDHWC"):
        return "channels_last"
    if data_format in ("NCW", "NCHW", "NCDHW"):
        return "channels_first"
    raise ValueError(f"tf.nn: data_format must be 'N...C' or 'NC...'. Received: {data_format!r}")


def _convolution(input, filters, strides=None, padding="VALID", data_format=None, dilations=None, name=None):
    """``tf.nn.convolution`` (and conv1d / conv2d / conv3d): ``filters`` (*kernel, in, out), no bias."""
    rank = np.ndim(_value(filters)) - 2
    return ops.conv(input, filters, strides=_tf_spatial(strides, rank, data_format), padding=str(padding).lower(),
                    data_format=_tf_format(data_format, rank), dilation_rate=_tf_spatial(dilations, rank, data_format))


def _tf_pool(kind):
    def pool(input, ksize, strides, padding, data_format=None, name=None):
        rank = np.ndim(_value(input)) - 2
        return getattr(ops, f"{kind}_pool")(input, _tf_spatial(ksize, rank, data_format),
                                            _tf_spatial(strides, rank, data_format),
                                            padding=str(padding).lower(), data_format=_tf_format(data_format, rank))
    pool.__doc__ = f"``tf.nn.{kind}_pool``: {kind} pooling (``ksize`` / ``strides`` as TensorFlow gives them)."
    return pool


nn = types.ModuleType("fastnn.nn", "TensorFlow's tf.nn: activations, cross-entropies, convolutions and pooling "
                                    "(fastnn.ops).")
nn.__dict__.update(
    relu=ops.relu, relu6=ops.relu6, elu=ops.elu, selu=ops.selu, gelu=_gelu, sigmoid=ops.sigmoid, tanh=ops.tanh,
    softmax=_softmax, log_softmax=_log_softmax, softplus=ops.softplus, softsign=ops.softsign, silu=ops.silu,
    swish=ops.silu, leaky_relu=_leaky_relu, l2_normalize=l2_normalize, dropout=_dropout, moments=_moments,
    bias_add=_bias_add, embedding_lookup=_embedding_lookup, sigmoid_cross_entropy_with_logits=_sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits=_softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits=_sparse_softmax_cross_entropy_with_logits, top_k=top_k,
    convolution=_convolution, conv1d=lambda input, filters, stride, padding, data_format="NWC", dilations=None,
    name=None: _convolution(input, filters, stride, padding, data_format, dilations),
    conv2d=_convolution, conv3d=_convolution, max_pool=_tf_pool("max"), avg_pool=_tf_pool("average"),
    max_pool1d=_tf_pool("max"), max_pool2d=_tf_pool("max"), max_pool3d=_tf_pool("max"),
    avg_pool1d=_tf_pool("average"), avg_pool2d=_tf_pool("average"), avg_pool3d=_tf_pool("average"),
    ctc_loss=_ctc.tf_ctc_loss,
)

# in both tf and tf.math (TensorFlow's own aliases)
_TF_AND_MATH = ["add", "add_n", "subtract", "multiply", "divide", "maximum", "minimum", "pow", "abs", "negative", "sign",
                "square", "sqrt", "exp", "round", "floor", "ceil", "sin", "cos", "tan", "tanh", "sigmoid", "equal",
                "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or",
                "logical_not", "truediv", "floordiv", "floormod", "mod", "argmax", "argmin", "cumsum", "reduce_sum", "reduce_mean",
                "reduce_max", "reduce_min", "reduce_prod", "reduce_any", "reduce_all", "reduce_logsumexp"]
_MATH = _TF_AND_MATH + ["logical_xor", "divide_no_nan", "log", "log1p", "expm1", "rsqrt", "reciprocal", "erf",
                        "is_nan", "is_inf", "is_finite", "softplus", "l2_normalize", "top_k", "confusion_matrix",
                        "count_nonzero", "reduce_std", "reduce_variance"]
math = types.ModuleType("fastnn.math", "TensorFlow's tf.math: elementwise functions and reductions (fastnn.ops).")
math.__dict__.update({n: globals()[n] for n in _MATH})
math.in_top_k = lambda targets, predictions, k, name=None: ops.in_top_k(targets, predictions, k)


# ---- tf.linalg ---------------------------------------------------------------------------------


def _matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False, name=None):
    """The products of matrices ``a`` (..., M, N) and vectors ``b`` (..., N): (..., M)."""
    return ops.squeeze(matmul(a, ops.expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a), axis=-1)


def _band_part(input, num_lower, num_upper, name=None):
    """``input`` with the values outside a band of its last two axes set to 0: those more than
    ``num_lower`` below the diagonal or ``num_upper`` above it (a negative count keeps that whole
    triangle). ``band_part(ones((n, n)), -1, 0)`` is the lower triangle, a look-ahead mask."""
    dims = ops.shape(input)
    if len(dims) < 2:
        raise ValueError(f"fastnn.linalg.band_part: input must have at least 2 axes (..., M, N). Received shape "
                         f"{tuple(dims)}")
    num_lower, num_upper = int(_value(num_lower)), int(_value(num_upper))
    x = input
    if num_upper >= 0:
        x = ops.tril(x, num_upper)
    if num_lower >= 0:
        x = ops.triu(x, -num_lower)
    return x


linalg = types.ModuleType("fastnn.linalg", "TensorFlow's tf.linalg: matmul, matvec, band_part, norm, tensordot and "
                                          "einsum (fastnn.ops).")
linalg.__dict__.update(matmul=matmul, matvec=_matvec, band_part=_band_part, norm=norm, tensordot=tensordot,
                       einsum=einsum, global_norm=global_norm)

# ---- slicing, scatters, segments, products, matrices ---------------------------------------------
#
# The TensorFlow ops keras.io examples and custom losses call. Each is a graph function "tf.<name>"
# (`_tf_op`): it records on a GradientTape, takes watched arrays and Variables as their leaves, and
# is one layer of the graph on symbolic tensors.


@_tf_op("roll")
def roll(input, shift, axis, name=None):
    """``input`` shifted by ``shift`` along ``axis`` (ints, or lists of one length: several axes;
    the shifts of one axis add up), the values past the end coming back at the start."""
    x = _operand(input)
    xv = np.asarray(_value(x))
    shifts, shift_rank = _int_values(shift, "shift", "roll")
    axes, axis_rank = _int_values(axis, "axis", "roll")
    if len(shifts) != len(axes) or shift_rank != axis_rank:
        raise _fail(ValueError, "roll", f"shift and axis must have the same size. Received: shift={shift!r}, "
                                        f"axis={axis!r}")
    axes = [_in_rank(a, xv.ndim, "roll") for a in axes]
    if not axes:
        return autodiff._result(xv.copy(), (x,), lambda g: (g,))
    return autodiff._result(np.roll(xv, shifts, axes), (x,), lambda g: (np.roll(g, [-s for s in shifts], axes),))


@_tf_op("reverse")
def reverse(tensor, axis, name=None):
    """``tensor`` with the order of its values reversed along each axis of ``axis`` (a 1-D list:
    ``tf.reverse(x, [0])``; TensorFlow refuses a bare int)."""
    x = _operand(tensor)
    xv = np.asarray(_value(x))
    a = np.asarray(_value(axis))
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise _fail(ValueError, "reverse", f"axis must be a 1-D list of ints (tf.reverse(x, [0]), not "
                                           f"tf.reverse(x, 0)). Received: axis={axis!r}")
    axes = [_in_rank(int(v), xv.ndim, "reverse") for v in a]
    repeated = [v for v in set(axes) if axes.count(v) > 1]
    if repeated:
        raise _fail(ValueError, "reverse", f"axis {repeated[0]} specified more than once. Received: axis={axis!r}")
    axes = tuple(axes)
    return autodiff._result(np.flip(xv, axes).copy(), (x,), lambda g: (np.flip(g, axes),))


@_tf_op("slice")
def _slice(input_, begin, size, name=None):
    """The block of ``input_`` from ``begin`` (one start per axis, from 0) of ``size`` (one length
    per axis; -1: to the end of the axis)."""
    x = _operand(input_)
    xv = np.asarray(_value(x))
    starts, _ = _int_values(begin, "begin", "slice")
    sizes, _ = _int_values(size, "size", "slice")
    if len(starts) != xv.ndim or len(sizes) != xv.ndim:
        raise _fail(ValueError, "slice", f"begin and size need one entry per axis of the input of shape {xv.shape}. "
                                         f"Received: begin={starts}, size={sizes}")
    window = []
    for i, (b, n, dim) in enumerate(zip(starts, sizes, xv.shape)):
        if not 0 <= b <= dim:
            raise _fail(ValueError, "slice", f"Expected begin[{i}] in [0, {dim}], but got {b}")
        n = dim - b if n == -1 else n
        if not 0 <= n <= dim - b:
            raise _fail(ValueError, "slice", f"Expected size[{i}] in [0, {dim - b}], but got {n}")
        window.append(builtins.slice(b, b + n))
    window = tuple(window)

    def backward(g):
        d = np.zeros(xv.shape, dtype=np.asarray(g).dtype)
        d[window] = g
        return (d,)

    return autodiff._result(xv[window].copy(), (x,), backward)



@_tf_op("strided_slice")
def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                  shrink_axis_mask=0, var=None, name=None):
    """Python's ``input_[begin[0]:end[0]:strides[0], ...]`` in TensorFlow's terms: bit i of
    ``begin_mask`` / ``end_mask`` leaves out begin[i] / end[i] (from the start / to the end), of
    ``ellipsis_mask`` makes entry i ``...``, of ``new_axis_mask`` a new axis of 1, of
    ``shrink_axis_mask`` the single index begin[i] (its axis removed). Out-of-range bounds are
    clipped as Python's are; axes after the entries are kept whole."""
    x = _operand(input_)
    xv = np.asarray(_value(x))
    op = "strided_slice"
    b, _ = _int_values(begin, "begin", op)
    e, _ = _int_values(end, "end", op)
    s, _ = _int_values(strides, "strides", op) if strides is not None else ([1] * len(b), 1)
    if not len(b) == len(e) == len(s):
        raise _fail(ValueError, op, f"Expected begin, end, and strides to be 1D equal size tensors, but got "
                                    f"begin={b}, end={e}, strides={s}")
    masks = [int(m) for m in (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask)]
    if bin(masks[2] & ((1 << len(b)) - 1)).count("1") > 1:
        raise _fail(ValueError, op, f"Multiple ellipses in slice spec not allowed. Received: ellipsis_mask={ellipsis_mask}")
    spec = []
    for i in builtins.range(len(b)):
        bit = 1 << i
        if masks[2] & bit:
            spec.append(Ellipsis)
        elif masks[3] & bit:
            spec.append(None)
        elif masks[4] & bit:
            if s[i] <= 0:
                raise _fail(ValueError, op, f"only stride 1 allowed on non-range indexing. Received: strides[{i}]={s[i]}")
            spec.append([b[i]])  # (a list: the single index, checked below)
        else:
            if s[i] == 0:
                raise _fail(ValueError, op, f"strides[{i}] must be non-zero")
            spec.append(builtins.slice(None if masks[0] & bit else b[i], None if masks[1] & bit else e[i], s[i]))
    used = builtins.sum(1 for item in spec if item is not None and item is not Ellipsis)
    if used > xv.ndim:
        raise _fail(ValueError, op, f"Index out of range using input dim {xv.ndim}: {used} axes sliced. Received: "
                                    f"begin={b}, input shape {xv.shape}")
    index, axis = [], 0
    for item in spec:
        if item is Ellipsis:
            axis += xv.ndim - used
        elif isinstance(item, list):
            dim, i = xv.shape[axis], item[0]
            if not -dim <= i < dim:
                raise _fail(ValueError, op, f"slice index {i} of dimension {axis} out of bounds (size {dim})")
            item, axis = i, axis + 1
        elif item is not None:
            axis += 1
        index.append(item)
    index = tuple(index)
    plain = tuple(i for i in index if i is not None)  # (the same values without the new axes)
    y = np.array(xv[index])

    def backward(g):
        d = np.zeros(xv.shape, dtype=np.asarray(g).dtype)
        d[plain] = np.asarray(g).reshape(np.shape(xv[plain]))
        return (d,)

    return autodiff._result(y, (x,), backward)


def _nd_positions(indices, shape, op, what):
    """The positions ``indices`` (..., k) address in an array of ``shape``: k index arrays, and
    indices' shape without its last axis; out-of-range indices are TensorFlow's error."""
    idx = np.asarray(_value(indices))
    if idx.dtype.kind not in "iu" or idx.ndim < 1 or not 1 <= idx.shape[-1] <= len(shape):
        raise _fail(ValueError, op, f"indices must be integers of shape (..., k), 1 <= k <= {len(shape)} (the rank of "
                                    f"the {what}). Received: indices of shape {idx.shape}, dtype {idx.dtype}")
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    bad = ((flat < 0) | (flat >= np.array(shape[:k]))).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        at = [int(v) for v in np.unravel_index(i, idx.shape[:-1])] if idx.ndim > 1 else []
        raise _fail(ValueError, op, f"indices{at} = {flat[i].tolist()} does not index into {what} {list(shape)}")
    return tuple(idx[..., j] for j in builtins.range(k)), idx.shape[:-1]


def _check_updates(updates, lead, shape, k, op):
    want = tuple(lead) + tuple(shape[k:])
    if tuple(updates.shape) != want:
        raise _fail(ValueError, op, f"updates must have shape indices.shape[:-1] + shape[{k}:] = {want}. Received "
                                    f"updates of shape {tuple(updates.shape)}")


@_tf_op("scatter_nd")
def scatter_nd(indices, updates, shape, name=None):
    """An array of ``shape``, zeros but for ``updates`` added at ``indices`` (..., k) (repeated
    indices add up); the gradient goes to ``updates``."""
    u = _operand(updates)
    uv = np.asarray(_value(u))
    dims, _ = _int_values(shape, "shape", "scatter_nd")
    if builtins.any(d < 0 for d in dims):
        raise _fail(ValueError, "scatter_nd", f"shape must be non-negative. Received: {dims}")
    where_, lead = _nd_positions(indices, dims, "scatter_nd", "shape")
    _check_updates(uv, lead, dims, len(where_), "scatter_nd")
    y = np.zeros(dims, dtype=uv.dtype)
    np.add.at(y, where_, uv)
    return autodiff._result(y, (u,), lambda g: (np.asarray(g)[where_],))


def _scatter_operands(tensor, indices, updates, op):
    t, u = _operand(tensor), updates if isinstance(updates, (autodiff.Tensor, np.ndarray)) else \
        np.asarray(_value(updates), dtype=np.asarray(_value(tensor)).dtype)
    tv, uv = np.asarray(_value(t)), np.asarray(_value(u))
    if uv.dtype != tv.dtype:
        if uv.dtype.kind != tv.dtype.kind:
            raise _fail(TypeError, op, f"updates must have the tensor's dtype {tv.dtype}. Received: {uv.dtype}")
        uv = uv.astype(tv.dtype)
    where_, lead = _nd_positions(indices, tv.shape, op, "tensor of shape")
    _check_updates(uv, lead, tv.shape, len(where_), op)
    return t, u, tv, uv, where_


@_tf_op("tensor_scatter_nd_update")
def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """A copy of ``tensor`` with the values at ``indices`` (..., k) replaced by ``updates``;
    gradients to both (none to the replaced values)."""
    t, u, tv, uv, where_ = _scatter_operands(tensor, indices, updates, "tensor_scatter_nd_update")
    return _keras_ops.replaced_at(t, u, tv, uv, where_)


def _scatter_add(op, sign):
    @_tf_op(op)
    def scatter(tensor, indices, updates, name=None):
        t, u, tv, uv, where_ = _scatter_operands(tensor, indices, updates, op)
        y = tv.copy()
        np.add.at(y, where_, uv if sign > 0 else -uv)
        return autodiff._result(y, (t, u), lambda g: (g, sign * np.asarray(g)[where_]))

    scatter.__doc__ = (f"A copy of ``tensor`` with ``updates`` {'added to' if sign > 0 else 'subtracted from'} the "
                       f"values at ``indices`` (..., k) (repeated indices add up); gradients to both.")
    return scatter


tensor_scatter_nd_add = _scatter_add("tensor_scatter_nd_add", 1)
tensor_scatter_nd_sub = _scatter_add("tensor_scatter_nd_sub", -1)


@_tf_op("dynamic_partition")
def dynamic_partition(data, partitions, num_partitions, name=None):
    """``data``'s slices split by ``partitions`` (integers in [0, num_partitions) of the shape of
    data's first axes): a list of ``num_partitions`` tensors, the i-th the slices marked i in
    order; the gradient goes back to each slice."""
    x = _operand(data)
    xv = np.asarray(_value(x))
    p = np.asarray(_value(partitions))
    n = int(num_partitions)
    if p.dtype.kind not in "iu" or p.shape != xv.shape[:p.ndim]:
        raise _fail(ValueError, "dynamic_partition", f"partitions must be integers of the shape of data's first axes. "
                                                     f"Received: partitions {p.shape} {p.dtype}, data {xv.shape}")
    if n < 1:
        raise _fail(ValueError, "dynamic_partition", f"num_partitions must be at least 1. Received: {num_partitions}")
    bad = (p < 0) | (p >= n)
    if bad.any():
        at = [int(v) for v in np.unravel_index(int(np.argmax(bad)), p.shape)] if p.ndim else []
        raise _fail(ValueError, "dynamic_partition", f"partitions{at} = {p[bad].reshape(-1)[0]} is not in [0, {n})")

    def part(mask):
        def backward(g):
            d = np.zeros(xv.shape, dtype=np.asarray(g).dtype)
            d[mask] = g
            return (d,)
        return autodiff._result(xv[mask], (x,), backward)

    return [part(p == i) for i in builtins.range(n)]


def eye(num_rows, num_columns=None, batch_shape=None, dtype=float32, name=None):
    """The identity matrix (num_rows, num_columns) (float32), repeated over ``batch_shape``."""
    m = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=dtype)
    if batch_shape is not None:
        m = np.broadcast_to(m, tuple(int(d) for d in batch_shape) + m.shape).copy()
    return m


# tf.math


@_tf_op("math.squared_difference")
def squared_difference(x, y, name=None):
    """``(x - y)²`` elementwise (broadcasting)."""
    return ops.square(ops.subtract(x, y))


@_tf_op("math.reduce_euclidean_norm")
def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """``sqrt(sum(x²))`` over ``axis`` (all axes if None); integers give integers (the root
    truncated, as TensorFlow's)."""
    x = _operand(input_tensor)
    axis = tuple(axis) if isinstance(axis, list) else axis
    dtype = np.dtype(autodiff.dtype(x))
    if dtype.kind in "iu":
        xv = np.asarray(_value(x)).astype(np.float64)
        return np.sqrt(np.sum(xv * xv, axis=axis, keepdims=builtins.bool(keepdims))).astype(dtype)
    return ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=builtins.bool(keepdims)))


@_tf_op("math.cumprod")
def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """The cumulative product along ``axis``: ``exclusive`` leaves each value out of its own
    product (1 first), ``reverse`` multiplies from the end. The gradient is exact at zeros."""
    x = _operand(x)
    axis = _in_rank(int(_value(axis)), len(autodiff.shape(x)), "math.cumprod")
    return _keras_ops.cumulative_product(x, axis, builtins.bool(exclusive), builtins.bool(reverse))


def _sorted_segments(kind):
    op = f"math.segment_{kind}"

    @_tf_op(op)
    def segment(data, segment_ids, name=None):
        x = _operand(data)
        ids = np.asarray(_value(segment_ids))
        rows = autodiff.shape(x)[0] if autodiff.shape(x) else None
        if ids.dtype.kind not in "iu" or ids.ndim != 1 or len(ids) != rows:
            raise _fail(ValueError, op, f"segment_ids should be a 1-D integer tensor the size of dimension 0 of "
                                        f"data ({rows}). Received: segment_ids of shape {ids.shape}, dtype {ids.dtype}")
        if ids.size and (ids[0] < 0 or (np.diff(ids) < 0).any()):
            raise _fail(ValueError, op, f"segment ids must be >= 0 and sorted (not decreasing). Received: "
                                        f"{ids.tolist()}")
        num = int(ids[-1]) + 1 if ids.size else 0
        return _keras_ops.segment_reduce(kind, x, ids, num, "tf." + op, empty=0 if kind in ("max", "min") else None)

    segment.__doc__ = (f"The {kind} of ``data``'s rows per segment: ``segment_ids`` (one per row, sorted, from 0) "
                       f"give each row's segment; (last id + 1, *rest), an empty segment "
                       f"{'1' if kind == 'prod' else '0'}.")
    return segment


def _unsorted_segments(kind):
    op = f"math.unsorted_segment_{kind}"
    empty = {"max": "the dtype's lowest value", "min": "the dtype's highest value", "prod": "1"}.get(kind, "0")

    @_tf_op(op)
    def segment(data, segment_ids, num_segments, name=None):
        return _keras_ops.segment_reduce(kind, _operand(data), segment_ids, num_segments, "tf." + op)

    segment.__doc__ = (f"The {kind} of ``data``'s slices per segment: ``segment_ids`` (the shape of data's first axes, "
                       f"in any order; a negative id drops its slice); (num_segments, *rest), an empty segment {empty}.")
    return segment


segment_sum, segment_mean, segment_max, segment_min, segment_prod = (
    _sorted_segments(k) for k in ("sum", "mean", "max", "min", "prod"))
unsorted_segment_sum, unsorted_segment_mean, unsorted_segment_max, unsorted_segment_min, unsorted_segment_prod, \
    unsorted_segment_sqrt_n = (_unsorted_segments(k) for k in ("sum", "mean", "max", "min", "prod", "sqrt_n"))


@_tf_op("math.multiply_no_nan")
def multiply_no_nan(x, y, name=None):
    """``x * y``, 0 where ``y`` is 0 even if ``x`` is NaN or infinite; TensorFlow's gradients
    (to x: ``g * y``, 0 where y is 0; to y: ``x * g``, 0 where g is 0)."""
    a, b = _operand(x), _operand(y)
    av, bv = np.asarray(_value(a)), np.asarray(_value(b))
    if av.dtype != bv.dtype and not (isinstance(x, (int, float)) or isinstance(y, (int, float))):
        raise _fail(TypeError, "math.multiply_no_nan", f"x and y must have one dtype. Received: {av.dtype} and {bv.dtype}")
    dtype = av.dtype if not isinstance(x, (int, float)) else bv.dtype
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.where(bv == 0, np.zeros((), dtype), av * bv).astype(dtype)

    def backward(g):
        g = np.asarray(g)
        with np.errstate(invalid="ignore", over="ignore"):
            return np.where(bv == 0, 0, g * bv).astype(g.dtype), np.where(g == 0, 0, av * g).astype(g.dtype)

    return autodiff._result(out, (a, b), backward)


atan2 = _tf_op("math.atan2")(lambda y, x, name=None: ops.arctan2(y, x))
atan2.__doc__ = "The angle of the point (x, y): arctan(y / x) in the right quadrant (elementwise, broadcasting)."
asin, acos, atan, sinh, cosh, asinh, acosh, atanh = (ops.arcsin, ops.arccos, ops.arctan, ops.sinh, ops.cosh, ops.arcsinh,
                                                     ops.arccosh, ops.arctanh)


# tf.nn


def _block_size(block_size, op):
    if isinstance(block_size, builtins.bool) or not isinstance(block_size, (int, np.integer)) or block_size < 2:
        raise _fail(ValueError, op, f"block_size must be an int of at least 2. Received: {block_size!r}")
    return int(block_size)


def _nhwc(x, data_format, op):
    shape = tuple(autodiff.shape(x))
    if len(shape) != 4:
        raise _fail(ValueError, op, f"input must be 4-D (batch, height, width, channels). Received shape {shape}")
    if data_format not in ("NHWC", "NCHW"):
        raise _fail(ValueError, op, f"data_format must be 'NHWC' or 'NCHW'. Received: {data_format!r}")
    return ops.transpose(x, (0, 2, 3, 1)) if data_format == "NCHW" else x


@_tf_op("nn.depth_to_space")
def depth_to_space(input, block_size, data_format="NHWC", name=None):
    """(N, H, W, C) to (N, H·b, W·b, C / b²): each pixel's channels become a b×b block of pixels,
    in TensorFlow's DCR order (the sub-pixel convolution's upscaling)."""
    op = "nn.depth_to_space"
    b = _block_size(block_size, op)
    x = _nhwc(_operand(input), data_format, op)
    n, h, w, c = autodiff.shape(x)
    if c % (b * b):
        raise _fail(ValueError, op, f"the channels ({c}) must be evenly divisible by block_size² ({b * b})")
    y = ops.reshape(ops.transpose(ops.reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5)),
                    (n, h * b, w * b, c // (b * b)))
    return ops.transpose(y, (0, 3, 1, 2)) if data_format == "NCHW" else y


@_tf_op("nn.space_to_depth")
def space_to_depth(input, block_size, data_format="NHWC", name=None):
    """(N, H, W, C) to (N, H / b, W / b, C·b²): each b×b block of pixels becomes one pixel's
    channels (the inverse of depth_to_space)."""
    op = "nn.space_to_depth"
    b = _block_size(block_size, op)
    x = _nhwc(_operand(input), data_format, op)
    n, h, w, c = autodiff.shape(x)
    if h % b or w % b:
        raise _fail(ValueError, op, f"Image height {h} and width {w} should be divisible by block_size: {b}")
    y = ops.reshape(ops.transpose(ops.reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5)),
                    (n, h // b, w // b, b * b * c))
    return ops.transpose(y, (0, 3, 1, 2)) if data_format == "NCHW" else y


@_tf_op("nn.l2_loss")
def l2_loss(t, name=None):
    """``sum(t²) / 2`` (a scalar of t's float dtype; no square root)."""
    t = _operand(t)
    dtype = np.dtype(autodiff.dtype(t))
    if dtype.kind != "f":
        raise _fail(TypeError, "nn.l2_loss", f"t must be floats. Received dtype {dtype}")
    return ops.sum(ops.square(t)) * np.asarray(0.5, dtype)


# tf.linalg


def _square_matrices(a, op):
    av = np.asarray(_value(a))
    if av.ndim < 2 or av.shape[-1] != av.shape[-2] or av.dtype.kind != "f":
        raise _fail(ValueError, op, f"input must be float square matrices (..., M, M). Received shape {av.shape}, "
                                    f"dtype {av.dtype}")
    return av


def _inverse(av, op):
    return _keras_ops.inverse_value(av, "tf." + op)


def _t(m):
    return np.swapaxes(m, -1, -2)


@_tf_op("linalg.inv")
def inv(input, adjoint=False, name=None):
    """The inverse of each square matrix (..., M, M) (of its transpose with ``adjoint``); a
    singular one is TensorFlow's error (`fastnn._keras_ops.matrix_inverse`, keras.ops.inv's)."""
    a = _operand(input)
    _square_matrices(a, "linalg.inv")
    return _keras_ops.matrix_inverse(ops.swapaxes(a, -1, -2) if adjoint else a, "tf.linalg.inv")


@_tf_op("linalg.det")
def det(input, name=None):
    """The determinant of each square matrix (..., M, M): shape (...) (`fastnn._keras_ops.determinant`,
    keras.ops.det's)."""
    a = _operand(input)
    _square_matrices(a, "linalg.det")
    return _keras_ops.determinant(a, "tf.linalg.det")


@_tf_op("linalg.slogdet")
def slogdet(input, name=None):
    """``(sign, log_abs_determinant)`` of each square matrix; the gradient goes through the log."""
    a = _operand(input)
    av = _square_matrices(a, "linalg.slogdet")
    sign, logabs = np.linalg.slogdet(av)
    value = autodiff._result(logabs.astype(av.dtype), (a,),
                             lambda g: (np.asarray(g)[..., None, None] * _t(_inverse(av, "linalg.slogdet")),))
    return sign.astype(av.dtype), value


@_tf_op("linalg.logdet")
def logdet(matrix, name=None):
    """The log-determinant of each Hermitian positive-definite matrix (TensorFlow's Cholesky
    refuses others)."""
    av = _square_matrices(matrix, "linalg.logdet")
    try:
        np.linalg.cholesky(av)
    except np.linalg.LinAlgError:
        raise _fail(ValueError, "linalg.logdet", "the matrix is not positive definite (Cholesky failed)") from None
    return slogdet.__wrapped__(matrix)[1]


def _diagonal_positions(m, n, k, op):
    if k != 0 and not -m < k < n:
        raise _fail(ValueError, op, f"k must be in ({-m}, {n}) for matrices of {m}x{n}. Received: k={k}")
    flat = np.diagonal(np.arange(m * n).reshape(m, n), k)
    return flat // n, flat % n


@_tf_op("linalg.diag_part")
def diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):
    """The ``k``-th diagonal of each matrix of the last two axes (k > 0 above the main one):
    (..., its length)."""
    x = _operand(input)
    xv = np.asarray(_value(x))
    if not isinstance(k, (int, np.integer)):
        raise _fail(NotImplementedError, "linalg.diag_part", f"k must be one int here (a band of diagonals is not "
                                                             f"supported). Received: k={k!r}")
    if xv.ndim < 2:
        raise _fail(ValueError, "linalg.diag_part", f"input must have at least 2 axes. Received shape {xv.shape}")
    rows, cols = _diagonal_positions(xv.shape[-2], xv.shape[-1], int(k), "linalg.diag_part")

    def backward(g):
        d = np.zeros(xv.shape, dtype=np.asarray(g).dtype)
        d[..., rows, cols] = g
        return (d,)

    return autodiff._result(xv[..., rows, cols], (x,), backward)


@_tf_op("linalg.diag")
def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"):
    """Square matrices (..., N, N) with ``diagonal`` (..., N) on their main diagonal, 0 elsewhere."""
    if k != 0 or num_rows != -1 or num_cols != -1 or padding_value != 0:
        raise _fail(NotImplementedError, "linalg.diag", "only the main diagonal of square matrices is supported (k=0, "
                                                        "num_rows and num_cols -1, padding_value 0)")
    v = _operand(diagonal)
    vv = np.asarray(_value(v))
    if vv.ndim < 1:
        raise _fail(ValueError, "linalg.diag", f"diagonal must have at least 1 axis. Received shape {vv.shape}")
    n = vv.shape[-1]
    i = np.arange(n)
    y = np.zeros(vv.shape + (n,), dtype=vv.dtype)
    y[..., i, i] = vv
    return autodiff._result(y, (v,), lambda g: (np.asarray(g)[..., i, i],))


@_tf_op("linalg.trace")
def trace(x, name=None):
    """The sum of the main diagonal of each matrix of the last two axes: shape (...)."""
    t = _operand(x)
    xv = np.asarray(_value(t))
    if xv.ndim < 2:
        raise _fail(ValueError, "linalg.trace", f"x must have at least 2 axes. Received shape {xv.shape}")
    m, n = xv.shape[-2:]
    y = np.trace(xv, axis1=-2, axis2=-1).astype(xv.dtype)
    return autodiff._result(y, (t,), lambda g: (np.asarray(g)[..., None, None] * np.eye(m, n, dtype=xv.dtype),))


nn.__dict__.update(depth_to_space=depth_to_space, space_to_depth=space_to_depth, l2_loss=l2_loss)
math.__dict__.update({n: globals()[n] for n in (
    "squared_difference", "reduce_euclidean_norm", "cumprod", "segment_sum", "segment_mean", "segment_max",
    "segment_min", "segment_prod", "unsorted_segment_sum", "unsorted_segment_mean", "unsorted_segment_max",
    "unsorted_segment_min", "unsorted_segment_prod", "unsorted_segment_sqrt_n", "multiply_no_nan", "atan2", "asin",
    "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh")})
linalg.__dict__.update(inv=inv, det=det, slogdet=slogdet, logdet=logdet, diag_part=diag_part, diag=diag, trace=trace,
                       eye=eye)
# TOP_LEVEL names whose function here has another name (``slice`` would hide the builtin in this module)
_RENAMED = {"slice": "_slice"}
_MORE_TOP_LEVEL = ["roll", "reverse", "slice", "strided_slice", "scatter_nd", "tensor_scatter_nd_update",
                   "tensor_scatter_nd_add", "tensor_scatter_nd_sub", "dynamic_partition", "eye", "atan2", "asin", "acos",
                   "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                   "SparseTensor", "sparse", "edit_distance", "sequence_mask", "scan", "compat", "RaggedTensor", "ragged"]

# ---- sparse tensors and the CTC examples' TF 1 names (fastnn._sparse) ---------------------------

from ._sparse import SparseTensor, edit_distance, scan, sequence_mask, sparse  # noqa: E402
from ._ragged import RaggedTensor, ragged  # noqa: E402

nn.ctc_greedy_decoder, nn.ctc_beam_search_decoder = _sparse.ctc_greedy_decoder, _sparse.ctc_beam_search_decoder


class _WithFallback(types.ModuleType):
    """A module whose other names are another's: ``tf.compat.v1.gather_nd`` is ``tf.gather_nd``
    where TensorFlow 1's function is TensorFlow 2's."""

    def __init__(self, name, doc, fallback):
        super().__init__(name, doc)
        self._fallback = fallback

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._fallback(), name)


compat = types.ModuleType("fastnn.compat", "TensorFlow's tf.compat: v1 (TensorFlow 1's names the CTC examples call) "
                                           "and v2.")
compat.v1 = _WithFallback("fastnn.compat.v1", "TensorFlow 1's names: its sparse-label nn.ctc_loss, else tf's.",
                          lambda: sys.modules["fastnn"])
compat.v1.nn = _WithFallback("fastnn.compat.v1.nn", "TensorFlow 1's tf.nn: ctc_loss with sparse labels, else tf.nn's.",
                             lambda: nn)
compat.v1.nn.ctc_loss = _sparse.v1_ctc_loss
compat.v2 = _WithFallback("fastnn.compat.v2", "TensorFlow 2's names: tf's.", lambda: sys.modules["fastnn"])


# ---- tf.summary: TensorBoard event files, as the TensorBoard callback writes them ----------------

_default_writers = []  # the writers made current by `as_default`, innermost last
_summary_step = [None]  # tf.summary.experimental.set_step's


class _SummaryWriter:
    """``tf.summary.create_file_writer(logdir)``: an event file in ``logdir`` (written without
    TensorFlow, as fastnn's TensorBoard callback writes its logs); ``with writer.as_default():``
    makes ``tf.summary.scalar`` and ``histogram`` write to it."""

    def __init__(self, logdir):
        from ._tensorboard import EventFileWriter

        self._writer = EventFileWriter(os.fspath(logdir))

    @contextlib.contextmanager
    def as_default(self, step=None):
        _default_writers.append(self)
        previous = _summary_step[0]
        if step is not None:
            _summary_step[0] = int(step)
        try:
            yield self
        finally:
            _default_writers.remove(self)
            _summary_step[0] = previous

    def set_as_default(self, step=None):
        _default_writers.append(self)
        if step is not None:
            _summary_step[0] = int(step)

    def flush(self):
        self._writer._file.flush()

    def close(self):
        self._writer.close()

    def __del__(self):  # (TensorFlow's writer closes its file when it goes)
        writer = self.__dict__.get("_writer")
        if writer is not None:
            writer.close()


def _summary_target(name, step, what):
    if not _default_writers:
        return None, None  # (TensorFlow's: nothing is written without a default writer)
    step = _summary_step[0] if step is None else step
    if step is None:
        raise ValueError(f"tf.summary.{what}: give step=..., or set one with tf.summary.experimental.set_step")
    if not isinstance(name, str) or not name:
        raise ValueError(f"tf.summary.{what}: the name must be a non-empty string. Received: {name!r}")
    return _default_writers[-1]._writer, int(_value(step))


def _summary_scalar(name, data, step=None, description=None):
    """Write the scalar ``data`` under ``name`` at ``step``; True when written."""
    writer, step = _summary_target(name, step, "scalar")
    if writer is not None:
        writer.scalars(step, {name: float(np.asarray(_value(data)))})
    return writer is not None


def _summary_histogram(name, data, step=None, buckets=None, description=None):
    """Write the histogram of ``data`` under ``name`` at ``step`` (``buckets`` equal bins, default 30)."""
    from ._tensorboard import event, histogram_value

    writer, step = _summary_target(name, step, "histogram")
    if writer is not None:
        writer._write(event(__import__("time").time(), step,
                            values=[histogram_value(name, np.asarray(_value(data)), bins=buckets or 30)]))
    return writer is not None


def _summary_unsupported(kind):
    def unsupported(name, data, step=None, **kwargs):
        raise NotImplementedError(f"tf.summary.{kind}: fastnn writes scalars and histograms to TensorBoard; "
                                  f"{kind} summaries are not written")
    return unsupported


summary = types.ModuleType("fastnn.summary", "TensorFlow's tf.summary: scalars and histograms in TensorBoard event "
                                            "files (create_file_writer, as_default, scalar, histogram).")
summary.create_file_writer = _SummaryWriter
summary.scalar = _summary_scalar
summary.histogram = _summary_histogram
summary.image = _summary_unsupported("image")
summary.text = _summary_unsupported("text")
summary.audio = _summary_unsupported("audio")
summary.experimental = types.SimpleNamespace(set_step=lambda step: _summary_step.__setitem__(0, int(step)),
                                             get_step=lambda: _summary_step[0])


# ---- tf.strings: the few string functions text pipelines call, on NumPy string arrays -----------


def _texts(x, what):
    a = np.asarray(_value(x))
    if a.dtype.kind == "O":
        a = a.astype(str)
    if a.dtype.kind == "S":
        a = np.char.decode(a, "utf-8")
    if a.dtype.kind != "U":
        raise TypeError(f"tf.strings.{what}: expected strings. Received dtype {a.dtype}")
    return a


def _re2_rewrite(rewrite, groups):
    """RE2's rewrite string as a function of a match: ``\\0`` the whole match, ``\\1``..``\\9`` the
    groups (empty when a group took no part), ``\\\\`` a backslash; any other escape is RE2's error.
    (Python's own template differs: its ``\\0`` is the NUL character, the NMT tutorial's
    ``regex_replace(text, '[.?!,¿]', r' \\0 ')`` would drop the punctuation.)"""
    pieces = []  # literal strings and group numbers
    i = 0
    while i < len(rewrite):
        c = rewrite[i]
        if c != "\\":
            pieces.append(c)
        elif i + 1 < len(rewrite) and (rewrite[i + 1].isdigit() or rewrite[i + 1] == "\\"):
            i += 1
            pieces.append(int(rewrite[i]) if rewrite[i].isdigit() else "\\")
        else:
            raise ValueError(f"tf.strings.regex_replace: invalid rewrite pattern {rewrite!r}: a backslash must be "
                             f"followed by a digit (a group; \\0 the whole match) or another backslash")
        i += 1
    named = [p for p in pieces if isinstance(p, int)]
    if named and max(named) > groups:
        raise ValueError(f"tf.strings.regex_replace: the rewrite {rewrite!r} names group {max(named)}; the pattern "
                         f"has {groups}")
    return lambda match: "".join(p if isinstance(p, str) else (match.group(p) or "") for p in pieces)


def _regex_replace(input, pattern, rewrite, replace_global=True, name=None):
    """RE2's replace on each string: ``pattern`` (Python's ``re`` reads RE2's syntax) and ``rewrite``
    in RE2's terms (``\\0`` the whole match, ``\\1`` a group)."""
    compiled = re.compile(pattern)
    replace = _re2_rewrite(rewrite, compiled.groups)
    texts = _texts(input, "regex_replace")
    return np.vectorize(lambda t: compiled.sub(replace, t, count=0 if replace_global else 1), otypes=[str])(texts) \
        if texts.size else texts


def _split(input, sep=None, maxsplit=-1, name=None):
    """Each string split on ``sep`` (runs of whitespace by default): a list of token lists for a
    1-D input (TensorFlow's ragged tensor; TextVectorization's ``split=`` takes it), a list for one string."""
    texts = _texts(input, "split")
    cut = (lambda t: t.split(sep, maxsplit)) if sep is not None else (lambda t: t.split(None, maxsplit))
    if texts.ndim == 0:
        return np.array(cut(str(texts)))
    return [cut(str(t)) for t in texts.reshape(-1)]


strings = types.ModuleType("fastnn.strings", "TensorFlow's tf.strings on NumPy string arrays: lower, upper, "
                                            "regex_replace, split, strip, length, join, reduce_join, "
                                            "unicode_split, to_number.")
def _change_case(texts, encoding, upper):
    """TensorFlow's: ASCII letters only with the default ``encoding=""``; every letter with "utf-8"."""
    if encoding:
        return np.char.upper(texts) if upper else np.char.lower(texts)
    table = str.maketrans(_string_constants.ascii_lowercase, _string_constants.ascii_uppercase) if upper else \
        str.maketrans(_string_constants.ascii_uppercase, _string_constants.ascii_lowercase)
    return np.vectorize(lambda t: t.translate(table), otypes=[str])(texts) if texts.size else texts


strings.lower = lambda input, encoding="", name=None: _change_case(_texts(input, "lower"), encoding, False)
strings.upper = lambda input, encoding="", name=None: _change_case(_texts(input, "upper"), encoding, True)
strings.strip = lambda input, name=None: np.char.strip(_texts(input, "strip"))
strings.length = lambda input, unit="BYTE", name=None: np.char.str_len(_texts(input, "length")).astype(np.int32) \
    if unit != "BYTE" else np.vectorize(lambda t: len(t.encode()), otypes=[np.int32])(_texts(input, "length"))
strings.regex_replace = _regex_replace
strings.split = _split


def _join(inputs, separator="", name=None):
    """The strings of ``inputs`` (a list of string arrays) joined elementwise with ``separator``."""
    parts = [_texts(i, "join") for i in inputs]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, separator), p)
    return out


strings.join = _join


def _ragged_rows(x):
    """Rows of different lengths (a RaggedTensor, ``unicode_split`` of a batch; or a list of arrays)
    as a list of string arrays; None for anything NumPy makes one array of."""
    if isinstance(x, RaggedTensor):
        return [_texts(r, "reduce_join") for r in x]
    if not isinstance(x, (list, tuple)) or not x or not all(isinstance(r, (list, tuple, np.ndarray)) for r in x):
        return None
    if len({np.shape(r) for r in x}) == 1:
        return None
    return [_texts(r, "reduce_join") for r in x]


def _reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    """The strings of ``inputs`` joined with ``separator`` along ``axis`` (every axis by default);
    a list of rows (``unicode_split`` of a batch) joins each row."""
    rows = _ragged_rows(inputs)
    if rows is not None:
        if axis not in (-1, 1) and axis is not None:
            raise ValueError(f"tf.strings.reduce_join: rows of different lengths join along their last axis. "
                             f"Received axis={axis}")
        joined = [separator.join(r.reshape(-1).tolist()) for r in rows]
        return np.array(separator.join(joined) if axis is None else joined)
    texts = _texts(inputs, "reduce_join")
    if axis is None:
        out = np.array(separator.join(texts.reshape(-1).tolist()))
        return out.reshape((1,) * texts.ndim) if keepdims else out
    axis = int(axis)
    if not -texts.ndim <= axis < texts.ndim:
        raise ValueError(f"tf.strings.reduce_join: axis {axis} is out of range for a tensor of rank {texts.ndim}")
    moved = np.moveaxis(texts, axis, -1)
    out = np.array([separator.join(r) for r in moved.reshape(-1, moved.shape[-1]).tolist()], dtype=str)
    out = out.reshape(moved.shape[:-1]) if out.size else np.zeros(moved.shape[:-1], dtype=str)
    return np.expand_dims(out, axis) if keepdims else out


def _unicode_split(input, input_encoding="UTF-8", errors="replace", replacement_char=65533, name=None):
    """Each string as its characters: an array for one string, a RaggedTensor of a row per
    string for a batch."""
    if str(input_encoding).upper().replace("-", "") not in ("UTF8", "UTF16BE", "UTF32BE"):
        raise ValueError(f"tf.strings.unicode_split: input_encoding must be 'UTF-8', 'UTF-16-BE' or 'UTF-32-BE'. "
                         f"Received: {input_encoding!r}")
    texts = _texts(input, "unicode_split")
    if texts.ndim == 0:
        return np.array(list(str(texts)), dtype=str).reshape(-1)
    if texts.ndim != 1:
        raise ValueError(f"tf.strings.unicode_split: takes one string or a 1-D batch. Received rank {texts.ndim}")
    return RaggedTensor.from_rows([np.array(list(t), dtype=str).reshape(-1) for t in texts.tolist()])


def _to_number(string_tensor, out_type="float32", name=None):
    """Each string parsed as a number of ``out_type``; one that is not a number is TensorFlow's
    InvalidArgumentError (here a ValueError naming it)."""
    texts = _texts(string_tensor, "to_number")
    dtype = np.dtype(out_type)
    parse = int if dtype.kind in "iu" else float

    def one(t):
        try:
            return parse(t.strip())
        except ValueError:
            raise ValueError(f"tf.strings.to_number: StringToNumberOp could not correctly convert string: {t!r} "
                             f"(to {dtype.name})") from None
    flat = [one(t) for t in texts.reshape(-1).tolist()]
    return np.array(flat, dtype=dtype).reshape(texts.shape)


def _num_buckets(num_buckets, what):
    if isinstance(num_buckets, (bool, np.bool_)) or not isinstance(num_buckets, (int, np.integer)) or num_buckets < 1:
        raise ValueError(f"tf.strings.{what}: num_buckets must be an int >= 1. Received: num_buckets={num_buckets!r}")
    return int(num_buckets)


def _to_hash_bucket_fast(input, num_buckets, name=None):
    """Each string's FarmHash64 (TensorFlow's ``Fingerprint64``) modulo ``num_buckets``: int64, of
    the input's shape; what ``keras.layers.Hashing(num_bins)`` computes (`fastnn.layers.lookup`)."""
    from .layers.lookup import _hash_buckets

    texts = _texts(input, "to_hash_bucket_fast")
    return _hash_buckets(texts, _num_buckets(num_buckets, "to_hash_bucket_fast"))


def _to_hash_bucket_strong(input, num_buckets, key, name=None):
    """Each string's SipHash-2-4 keyed by ``key`` (two unsigned 64-bit integers) modulo
    ``num_buckets``: int64, of the input's shape (``Hashing(num_bins, salt=key)``)."""
    from .layers.lookup import _hash_buckets

    texts = _texts(input, "to_hash_bucket_strong")
    n = _num_buckets(num_buckets, "to_hash_bucket_strong")
    keys = list(key) if isinstance(key, (list, tuple, np.ndarray)) else None
    if keys is None or len(keys) != 2 or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                                                 and 0 <= k < 2 ** 64 for k in keys):
        raise ValueError(f"tf.strings.to_hash_bucket_strong: key must be a list of 2 unsigned 64-bit integers. "
                         f"Received: key={key!r}")
    return _hash_buckets(texts, n, salt=[int(k) for k in keys])


strings.reduce_join = _reduce_join


# ---- tf.lookup ---------------------------------------------------------------------------------

lookup = types.ModuleType("fastnn.lookup", "TensorFlow's tf.lookup: StaticHashTable filled by a KeyValueTensorInitializer "
                                          "or a TextFileInitializer.")


def _table_column(values, dtype, what, fn):
    """A table's keys or values as a 1-D array (strings as str, numbers of ``dtype`` or their own)."""
    given = _value(values)
    a = np.asarray(given)
    if a.dtype.kind in "OS":
        a = _texts(a, fn)
    elif not isinstance(given, (np.ndarray, np.generic)):  # (Python numbers: TensorFlow's int32 / float32)
        a = a.astype({"i": np.int32, "f": np.float32}.get(a.dtype.kind, a.dtype))
    if a.ndim != 1:
        raise ValueError(f"tf.lookup.{fn}: {what} must be a 1-D tensor. Received shape {a.shape}")
    if dtype is not None and np.dtype(dtype).kind not in "OSU":
        if a.dtype.kind == "U":
            raise TypeError(f"tf.lookup.{fn}: {what} are strings, but the dtype given is {np.dtype(dtype).name}")
        a = a.astype(dtype)
    return a


class KeyValueTensorInitializer:
    """The contents of a table: ``keys`` and ``values``, 1-D tensors of the same length."""

    def __init__(self, keys, values, key_dtype=None, value_dtype=None, name=None):
        self.keys = _table_column(keys, key_dtype, "keys", "KeyValueTensorInitializer")
        self.values = _table_column(values, value_dtype, "values", "KeyValueTensorInitializer")
        if len(self.keys) != len(self.values):
            raise ValueError(f"tf.lookup.KeyValueTensorInitializer: {len(self.keys)} keys but {len(self.values)} values")
        self.key_dtype, self.value_dtype = self.keys.dtype, self.values.dtype


class TextFileIndex:
    """Which part of a line a `TextFileInitializer` takes: the whole line, or its number."""

    WHOLE_LINE = -2
    LINE_NUMBER = -1


class TextFileInitializer(KeyValueTensorInitializer):
    """The contents of a table from a text file: for each line (the first ``vocab_size``), the key and
    the value are the field at ``key_index`` / ``value_index`` (split by ``delimiter``), the whole line
    (`TextFileIndex.WHOLE_LINE`) or its number from 0 (`TextFileIndex.LINE_NUMBER`)."""

    def __init__(self, filename, key_dtype, key_index, value_dtype, value_index, vocab_size=None, delimiter="\t",
                 name=None, value_index_offset=0):
        path = _value(filename)
        path = path.decode() if isinstance(path, bytes) else str(np.asarray(path)[()] if np.ndim(path) == 0 else path)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        if vocab_size is not None:
            if len(lines) < vocab_size:
                raise ValueError(f"tf.lookup.TextFileInitializer: vocab_size {vocab_size} is larger than the "
                                 f"{len(lines)} lines of {path}")
            lines = lines[:vocab_size]

        def column(index, dtype, what):
            if index == TextFileIndex.LINE_NUMBER:
                items = [i + value_index_offset if what == "values" else i for i in range(len(lines))]
            elif index == TextFileIndex.WHOLE_LINE:
                items = lines
            else:
                items = []
                for number, line in enumerate(lines):
                    fields = line.split(delimiter)
                    if not 0 <= index < len(fields):
                        raise ValueError(f"tf.lookup.TextFileInitializer: line {number} of {path} has {len(fields)} "
                                         f"fields; {what} take field {index}")
                    items.append(fields[index])
            kind = np.dtype(dtype).kind if dtype is not None else "U"
            if kind in "OSU":
                return np.array([str(v) for v in items], dtype=str)
            try:
                return np.array([int(v) if kind in "iu" else float(v) for v in items], dtype=dtype)
            except ValueError as e:
                raise ValueError(f"tf.lookup.TextFileInitializer: {what} of {path}: {e}") from None

        super().__init__(column(key_index, key_dtype, "keys"), column(value_index, value_dtype, "values"))


class StaticHashTable:
    """An immutable table, TensorFlow's: ``lookup(keys)`` gives each key's value (the shape of
    ``keys``), ``default_value`` for a key not in it. Keys repeated with different values are an error."""

    def __init__(self, initializer, default_value, name=None, experimental_is_anonymous=False):
        keys, values = initializer.keys, initializer.values
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        same = keys[1:] == keys[:-1]
        if same.any() and (values[1:][same] != values[:-1][same]).any():
            clash = keys[1:][same & (values[1:] != values[:-1])][0]
            raise ValueError(f"tf.lookup.StaticHashTable: key {clash.item()!r} is given different values")
        keep = np.concatenate([[True], ~same]) if len(keys) else np.zeros(0, bool)
        self._keys, self._values = keys[keep], values[keep]
        self.key_dtype, self.value_dtype = initializer.key_dtype, initializer.value_dtype
        self.default_value = np.asarray(_value(default_value)).astype(self.value_dtype)
        if self.default_value.ndim:
            raise ValueError(f"tf.lookup.StaticHashTable: default_value must be a scalar. Received shape "
                             f"{self.default_value.shape}")

    def lookup(self, keys, name=None):
        k = np.asarray(_value(keys))
        if k.dtype.kind in "OS":
            k = _texts(k, "lookup")
        if (k.dtype.kind == "U") != (self._keys.dtype.kind == "U"):
            have = "strings" if self._keys.dtype.kind == "U" else self.key_dtype.name
            raise TypeError(f"tf.lookup.StaticHashTable.lookup: the table's keys are {have}; received keys of dtype "
                            f"{k.dtype}")
        at = np.minimum(np.searchsorted(self._keys, k), max(len(self._keys) - 1, 0))
        found = (self._keys[at] == k) if len(self._keys) else np.zeros(k.shape, bool)
        out = np.where(found, self._values[at] if len(self._values) else self.default_value, self.default_value)
        return np.asarray(out, dtype=self.value_dtype).view(EagerArray)

    __getitem__ = lookup

    def size(self, name=None):
        return np.asarray(len(self._keys), np.int64).view(EagerArray)

    def export(self, name=None):
        """(keys, values), each key once (sorted)."""
        return self._keys.copy().view(EagerArray), self._values.copy().view(EagerArray)


lookup.__dict__.update(KeyValueTensorInitializer=KeyValueTensorInitializer, TextFileIndex=TextFileIndex,
                       TextFileInitializer=TextFileInitializer, StaticHashTable=StaticHashTable)
strings.unicode_split = _unicode_split
strings.to_number = _to_number
strings.to_hash_bucket_fast = _to_hash_bucket_fast
strings.to_hash_bucket_strong = _to_hash_bucket_strong


# ---- tf.train: the checkpoint a tf.keras 2 script loads back ------------------------------------

train = types.ModuleType("fastnn.train", "TensorFlow's tf.train: Checkpoint and CheckpointManager (fastnn._checkpoint), "
                                        "latest_checkpoint (the last checkpoint prefix saved in a directory).")
train.latest_checkpoint = __import__("fastnn.saving", fromlist=["saving"]).latest_checkpoint
from ._checkpoint import Checkpoint as _Checkpoint, CheckpointManager as _CheckpointManager  # noqa: E402

train.Checkpoint, train.CheckpointManager = _Checkpoint, _CheckpointManager


# ---- tf.config: one CPU, the kernels' threads ----------------------------------------------------

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])


def _list_physical_devices(device_type=None):
    """The CPU (fastnn runs on it alone): ``tf.config.list_physical_devices("GPU")`` is empty."""
    cpu = PhysicalDevice("/physical_device:CPU:0", "CPU")
    return [cpu] if device_type in (None, "CPU") else []


def _set_threads(num_threads):
    from . import _core

    if num_threads:  # TensorFlow's 0: the system picks
        _core.set_num_threads(num_threads)


config = types.ModuleType("fastnn.config", "TensorFlow's tf.config (the devices: one CPU; the threads) and "
                                          "Keras 3's keras.config (floatx, epsilon, image_data_format, "
                                          "enable_unsafe_deserialization).")
config.list_physical_devices = _list_physical_devices
config.list_logical_devices = _list_physical_devices
config.run_functions_eagerly = lambda run_eagerly: None  # fastnn always does
config.enable_unsafe_deserialization = __import__("fastnn.saving", fromlist=["saving"]).enable_unsafe_deserialization
config.functions_run_eagerly = lambda: True
# Keras 3's keras.config (fastnn.keras is fastnn): the default dtype, the fuzz factor, the layout
config.floatx = utils.floatx
config.set_floatx = utils.set_floatx
config.set_image_data_format = __import__("fastnn._backend", fromlist=["_backend"]).backend.set_image_data_format
config.epsilon = autodiff.epsilon
config.set_dtype_policy = mixed_precision.set_global_policy  # (Keras 3's: "float32", or "float64")
config.dtype_policy = mixed_precision.global_policy
config.image_data_format = lambda: "channels_last"  # (the only layout the layers take)
config.backend = lambda: "tensorflow"  # what scripts that `import fastnn as tf` stand in for
config.threading = types.SimpleNamespace(
    set_intra_op_parallelism_threads=_set_threads,
    get_intra_op_parallelism_threads=lambda: __import__("fastnn")._core.get_num_threads(),
    set_inter_op_parallelism_threads=lambda num_threads: None,  # one op at a time
    get_inter_op_parallelism_threads=lambda: 1,
)

# ---- complex numbers, tf.signal and tf.audio (fastnn._signal), and more of TensorFlow's names -------

from . import _signal  # noqa: E402

complex64, complex128 = np.complex64, np.complex128
signal, audio = _signal.make_modules()


@_tf_op("complex_cast")
def _complex_cast(x, dtype):
    """`cast` to or from a complex dtype: the real part of a complex value to a real dtype, a
    zero imaginary part from a real one; recorded on a tape between float and complex dtypes."""
    xv = np.asarray(_value(x))
    dtype = np.dtype(dtype)
    if xv.dtype.kind == "c" and dtype.kind != "c":
        y = np.real(xv).astype(dtype)
        if dtype.kind != "f":
            return y
        return autodiff._result(y, (x,), lambda g: (np.asarray(g).astype(xv.dtype),))
    y = xv.astype(dtype)
    if xv.dtype.kind == "c":
        return autodiff._result(y, (x,), lambda g: (np.asarray(g).astype(xv.dtype),))
    if xv.dtype.kind == "f":
        return autodiff._result(y, (x,), lambda g: (np.real(g).astype(xv.dtype),))
    return y


@_tf_op("complex")
def _complex(real, imag, name=None):
    """The complex tensor ``real + i imag`` (float32 parts: complex64; float64: complex128; the
    parts broadcast); the gradient goes to both parts."""
    a, b = _operand(real), _operand(imag)
    av, bv = np.asarray(_value(a)), np.asarray(_value(b))
    if av.dtype != bv.dtype or av.dtype not in (np.float32, np.float64):
        raise _fail(TypeError, "complex", f"real and imag must both be float32 or both float64. Received "
                                          f"{av.dtype} and {bv.dtype}")
    try:
        shape = np.broadcast_shapes(av.shape, bv.shape)
    except ValueError:
        raise _fail(ValueError, "complex", f"real and imag must broadcast together. Received shapes {av.shape} "
                                           f"and {bv.shape}") from None
    y = np.empty(shape, dtype=np.complex64 if av.dtype == np.float32 else np.complex128)
    y.real, y.imag = av, bv
    return autodiff._result(y, (a, b), lambda g: (np.real(g).astype(av.dtype), np.imag(g).astype(bv.dtype)))


@_tf_op("math.real")
def _real(input, name=None):
    """The real part of a complex tensor (float32 for complex64); a real tensor as it is."""
    x = _operand(input)
    xv = np.asarray(_value(x))
    if xv.dtype.kind != "c":
        return x
    return autodiff._result(np.real(xv).copy(), (x,), lambda g: (np.asarray(g).astype(xv.dtype),))


@_tf_op("math.imag")
def _imag(input, name=None):
    """The imaginary part of a complex tensor (float32 for complex64); zeros for a real tensor."""
    x = _operand(input)
    xv = np.asarray(_value(x))
    if xv.dtype.kind != "c":
        return np.zeros_like(xv)
    return autodiff._result(np.imag(xv).copy(), (x,), lambda g: ((1j * np.asarray(g)).astype(xv.dtype),))


@_tf_op("math.angle")
def _angle(input, name=None):
    """The argument of each complex value, ``atan2(imag, real)``; for a real tensor, pi where it is
    negative and 0 elsewhere (TensorFlow's)."""
    x = _operand(input)
    xv = np.asarray(_value(x))
    if xv.dtype.kind != "c":
        return np.where(xv < 0, np.pi, 0).astype(xv.dtype if xv.dtype.kind == "f" else np.float32)

    def backward(g):
        size = np.square(np.abs(xv))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(size == 0, 0, np.asarray(g) * 1j * xv / np.where(size == 0, 1, size))
        return (d.astype(xv.dtype),)

    return autodiff._result(np.angle(xv).astype(np.real(xv).dtype), (x,), backward)


@_tf_op("math.conj")
def _conj(x, name=None):
    """The complex conjugate; a real tensor as it is."""
    t = _operand(x)
    xv = np.asarray(_value(t))
    if xv.dtype.kind != "c":
        return t
    return autodiff._result(np.conj(xv), (t,), lambda g: (np.conj(np.asarray(g)),))


@_tf_op("repeat")
def repeat(input, repeats, axis=None, name=None):
    """Each element of ``input`` repeated ``repeats`` times (an int, or one count per element)
    along ``axis`` (None: of the flattened values), as ``np.repeat``."""
    counts = np.asarray(_value(repeats))
    if counts.ndim > 1 or (counts.size and counts.dtype.kind not in "iu") or (counts.size and counts.min() < 0):
        raise _fail(ValueError, "repeat", f"repeats must be a non-negative int or a 1-D list of them. Received: "
                                          f"repeats={repeats!r}"[:300])
    return _keras_ops.repeat.__wrapped__(_operand(input), counts, axis=None if axis is None else int(_value(axis)))


def broadcast_to(input, shape, name=None):
    """``input`` broadcast to ``shape``."""
    return ops.broadcast_to(_operand(input), [int(d) for d in np.asarray(_value(shape)).reshape(-1)])


def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D vectors (``indexing="xy"``, Cartesian, by default; or "ij"): a list."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise _fail(TypeError, "meshgrid", f"unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise _fail(ValueError, "meshgrid", f"indexing must be 'xy' or 'ij'. Received: {indexing!r}")
    return list(ops.meshgrid(*[_operand(a) for a in args], indexing=indexing))


Unique = collections.namedtuple("Unique", ["y", "idx"])
UniqueWithCounts = collections.namedtuple("UniqueWithCounts", ["y", "idx", "count"])


def _unique_parts(x, out_idx, op):
    xv = np.asarray(_value(x))
    if xv.ndim != 1:
        raise _fail(ValueError, op, f"x must be 1-D. Received shape {xv.shape}")
    if np.dtype(out_idx) not in (np.int32, np.int64):
        raise _fail(TypeError, op, f"out_idx must be int32 or int64. Received {out_idx!r}")
    _, first, inverse, counts = np.unique(xv, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # (TensorFlow's order: by first occurrence, not sorted)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return xv[first[order]], rank[inverse.reshape(-1)].astype(out_idx), counts[order].astype(out_idx)


def unique(x, out_idx=int32, name=None):
    """The distinct values of the 1-D ``x`` in the order they first occur, and for each element of
    x the index of its value among them: ``Unique(y, idx)``."""
    y, idx, _ = _unique_parts(x, out_idx, "unique")
    return Unique(y, idx)


def unique_with_counts(x, out_idx=int32, name=None):
    """`unique` and how many times each value occurs: ``UniqueWithCounts(y, idx, count)``."""
    return UniqueWithCounts(*_unique_parts(x, out_idx, "unique_with_counts"))


def searchsorted(sorted_sequence, values, side="left", out_type=int32, name=None):
    """For each of ``values`` (..., M), where it goes in the sorted last axis of
    ``sorted_sequence`` (..., N) (the leading axes: one search per row), as ``np.searchsorted``
    with ``side`` "left" or "right"."""
    if side not in ("left", "right"):
        raise _fail(ValueError, "searchsorted", f"side must be 'left' or 'right'. Received: side={side!r}")
    if np.dtype(out_type) not in (np.int32, np.int64):
        raise _fail(TypeError, "searchsorted", f"out_type must be int32 or int64. Received {out_type!r}")
    s, v = np.asarray(_value(_operand(sorted_sequence))), np.asarray(_value(_operand(values)))
    if s.ndim < 1 or s.ndim != v.ndim or s.shape[:-1] != v.shape[:-1]:
        raise _fail(ValueError, "searchsorted", f"sorted_sequence (..., N) and values (..., M) must have the same "
                                                f"leading axes. Received shapes {s.shape} and {v.shape}")
    rows_s, rows_v = s.reshape(-1, s.shape[-1]), v.reshape(-1, v.shape[-1])
    out = np.stack([np.searchsorted(a, b, side=side) for a, b in zip(rows_s, rows_v)]) if len(rows_s) else \
        np.zeros(rows_v.shape, np.int64)
    return out.reshape(v.shape).astype(out_type)


def _bincount(arr, weights=None, minlength=None, maxlength=None, dtype=int32, name=None, axis=None,
              binary_output=False):
    """How many times each value of the non-negative integers ``arr`` occurs (TensorFlow's
    ``math.bincount``): a vector of length ``max(arr) + 1`` (0 for an empty arr), at least
    ``minlength``, at most ``maxlength`` (larger values skipped); with ``weights`` (arr's shape)
    the sums of the weights instead (their dtype; the gradient goes to them), with
    ``binary_output`` 1 where a value occurs; ``axis=-1``: one count per row of a 2-D arr."""
    op = "math.bincount"
    a = np.asarray(_value(_operand(arr)))
    if a.dtype.kind not in "iu":
        a = a.astype(np.int32)
    if weights is not None and binary_output:
        raise _fail(ValueError, op, "Arguments `binary_output` and `weights` are mutually exclusive. Please specify "
                                    "only one.")
    if axis not in (None, 0, -1):
        raise _fail(ValueError, op, f"Unsupported value for argument axis={axis}. Only 0 and -1 are currently "
                                    f"supported.")
    if a.size and a.min() < 0:
        raise _fail(ValueError, op, f"Input arr must be non-negative! Received a value {int(a.min())}")
    if axis == -1 and a.ndim not in (1, 2):
        raise _fail(ValueError, op, f"with axis=-1, arr must be 1-D or 2-D. Received shape {a.shape}")
    size = int(a.max()) + 1 if a.size else 0
    if minlength is not None:
        size = builtins.max(size, int(_value(minlength)))
    if maxlength is not None:
        size = builtins.min(size, int(_value(maxlength)))
    size = builtins.max(size, 0)
    rows = a.reshape(-1, a.shape[-1]) if axis == -1 and a.ndim == 2 else a.reshape(1, -1)
    kept = rows < size
    where_ = (np.arange(rows.shape[0])[:, None] * size + np.minimum(rows, builtins.max(size - 1, 0)))[kept]
    shape = (rows.shape[0], size) if axis == -1 and a.ndim == 2 else (size,)
    if weights is None:
        counts = np.bincount(where_, minlength=rows.shape[0] * size)
        if binary_output:
            counts = counts > 0
        return counts.reshape(shape).astype(dtype)
    w = _operand(weights)
    wv = np.asarray(_value(w))
    if wv.shape != a.shape:
        raise _fail(ValueError, op, f"weights must have arr's shape {a.shape}. Received shape {wv.shape}")
    total = np.zeros(rows.shape[0] * size, dtype=wv.dtype)
    np.add.at(total, where_, wv.reshape(rows.shape)[kept])

    def backward(g):
        d = np.zeros(rows.shape, dtype=np.asarray(g).dtype)
        d[kept] = np.asarray(g).reshape(-1)[where_]
        return (d.reshape(wv.shape),)

    return autodiff._result(total.reshape(shape), (w,), backward)


def _histogram_range(values, value_range, nbins, op):
    v = np.asarray(_value(_operand(values)))
    r = np.asarray(_value(_operand(value_range)))
    if r.shape != (2,):
        raise _fail(ValueError, op, f"value_range must be [low, high]. Received shape {r.shape}")
    n = _value(nbins)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer, np.ndarray)) or int(n) < 1:
        raise _fail(ValueError, op, f"nbins should be a positive integer. Received: nbins={nbins!r}")
    if not r[0] < r[1]:
        raise _fail(ValueError, op, f"value_range should satisfy value_range[0] < value_range[1], but got "
                                    f"[{r[0]}, {r[1]}]")
    return v, r.astype(v.dtype if v.dtype.kind == "f" else np.float64), int(n)


def histogram_fixed_width(values, value_range, nbins=100, dtype=int32, name=None):
    """The counts of ``values`` in ``nbins`` equal bins over ``value_range`` [low, high]; values
    below low count in the first bin, values from high on in the last (TensorFlow's)."""
    v, r, n = _histogram_range(values, value_range, nbins, "histogram_fixed_width")
    step = (float(r[1]) - float(r[0])) / n
    shifted = (np.maximum(v, r[0]) - r[0]).astype(np.float64)
    index = np.minimum(shifted / step, n - 1).astype(np.int64).reshape(-1)
    return np.bincount(index, minlength=n).astype(dtype)


def histogram_fixed_width_bins(values, value_range, nbins=100, dtype=int32, name=None):
    """The bin of each of ``values`` among ``nbins`` equal bins over ``value_range`` (clipped to
    the first and last), shaped as the values (TensorFlow's)."""
    v, r, n = _histogram_range(values, value_range, nbins, "histogram_fixed_width_bins")
    vf = v if v.dtype.kind == "f" else v.astype(np.float64)
    scaled = (vf - r[0]) / (r[1] - r[0])
    index = np.floor(vf.dtype.type(n) * scaled)
    return np.clip(index, 0, n - 1).astype(dtype)


def _tout_list(Tout):
    return Tout if isinstance(Tout, (list, tuple)) else None


def _as_tout(value, dtype, i, op):
    """A function's ``i``-th result as ``dtype``: a tape tensor cast on the tape, anything else
    converted (refused when it cannot be: text for a number)."""
    if dtype is None:
        return _eager(np.asarray(value)) if not isinstance(value, autodiff.Tensor) else value
    target = np.dtype(dtype) if dtype not in (str, "string") else np.dtype(str)
    if isinstance(value, autodiff.Tensor):
        return value if value.dtype == target else ops.cast(value, target)
    a = np.asarray(_value(value))
    if a.dtype == target:
        return _eager(a)
    if target.kind == "U":
        return _eager(a.astype(str))
    if a.dtype.kind in "USO" or (a.dtype.kind == "c" and target.kind != "c"):
        raise _fail(TypeError, op, f"the {i}-th value returned by the function is {a.dtype}, which cannot be "
                                   f"{target.name} (Tout)")
    return _eager(a.astype(target))


def _call_and_convert(func, args, Tout, op):
    result = func(*args)
    many = _tout_list(Tout)
    if many is None:
        if Tout is None and result is None:
            return None
        return _as_tout(result, Tout, 0, op)
    if len(many) == 0:
        return []
    values = list(result) if isinstance(result, (list, tuple)) else [result]
    if len(values) != len(many):
        raise _fail(ValueError, op, f"the function returned {len(values)} values; Tout names {len(many)}")
    return [_as_tout(v, t, i, op) for i, (v, t) in enumerate(zip(values, many))]


def py_function(func=None, inp=None, Tout=None, name=None):
    """``func(*inp)`` called now (fastnn is eager) on tensors (arrays with ``.numpy()``; tape
    tensors as they are, so the gradient flows through what func computes with tf ops), its
    result(s) converted to ``Tout`` (a dtype: one tensor; a list of dtypes: a list). Without
    func, a decorator."""
    if func is None:
        return lambda f: functools.wraps(f)(lambda *a: py_function(f, list(a), Tout))
    if not callable(func):
        raise _fail(TypeError, "py_function", f"func must be callable. Received: {func!r}"[:300])
    inp = list(inp) if inp is not None else []
    leaves = autodiff.current_leaves() if autodiff.current_leaves is not None else None
    if leaves is not None or autodiff._variables_made:  # (a watched array or a Variable: its leaf on the tape)
        inp = autodiff._on_watched(inp, leaves) or inp
    args = [a if isinstance(a, autodiff.Tensor) else _eager(np.asarray(_value(_operand(a)))) for a in inp]
    return _call_and_convert(func, args, Tout, "py_function")


def numpy_function(func=None, inp=None, Tout=None, stateful=True, name=None):
    """``func(*inp)`` called now on plain NumPy arrays (no gradient), its result(s) converted to
    ``Tout`` (a dtype, or a list of them); without func, a decorator."""
    if func is None:
        return lambda f: functools.wraps(f)(lambda *a: numpy_function(f, list(a), Tout, stateful))
    if not callable(func):
        raise _fail(TypeError, "numpy_function", f"func must be callable. Received: {func!r}"[:300])
    args = [np.array(_value(_operand(a))) for a in (list(inp) if inp is not None else [])]
    return _call_and_convert(func, args, Tout, "numpy_function")


def _first_axis(elems, op):
    leaves = _nest_flatten(elems)
    if not leaves:
        raise _fail(ValueError, op, "elems must hold at least one tensor")
    leaves = [_operand(leaf) for leaf in leaves]
    sizes = {autodiff.shape(leaf)[0] if autodiff.shape(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise _fail(ValueError, op, f"the tensors of elems must have one size along their first axis. Received "
                                    f"shapes {[tuple(autodiff.shape(leaf)) for leaf in leaves]}")
    return leaves, sizes.pop()


def _element(elems, leaves, i):
    return _nest_pack(elems, [leaf[i] for leaf in leaves])


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """``fn`` on each slice of ``elems`` (a tensor or a nest of them) along the first axis, the
    results stacked (fastnn runs the loop; the results are those of TensorFlow's vectorization)."""
    leaves, n = _first_axis(elems, "vectorized_map")
    if n == 0:
        raise _fail(ValueError, "vectorized_map", "elems has no slices (size 0 along the first axis)")
    results = [fn(_element(elems, leaves, i)) for i in builtins.range(n)]
    flats = [_nest_flatten(r) for r in results]
    stacked = [ops.stack([f[k] for f in flats], axis=0) for k in builtins.range(len(flats[0]))]
    return _nest_pack(results[0], stacked)


def _fold(fn, elems, initializer, reverse, op):
    leaves, n = _first_axis(elems, op)
    order = list(builtins.range(n - 1, -1, -1) if reverse else builtins.range(n))
    if initializer is None:
        if n == 0:
            raise _fail(ValueError, op, "elems is empty: give an initializer")
        acc = _element(elems, leaves, order.pop(0))
    else:
        acc = initializer
    for i in order:
        acc = fn(acc, _element(elems, leaves, i))
    return acc


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """``fn(acc, x)`` folded over the slices of ``elems`` along the first axis, first to last, from
    ``initializer`` (default: the first slice)."""
    return _fold(fn, elems, initializer, False, "foldl")


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """`foldl` from the last slice to the first (default initializer: the last slice)."""
    return _fold(fn, elems, initializer, True, "foldr")


def _truth(pred, op):
    v = np.asarray(_value(pred))
    if v.shape not in ((), (1,)) or v.dtype != np.bool_:
        raise _fail(TypeError, op, f"each predicate must be a scalar bool tensor. Received dtype {v.dtype}, shape "
                                   f"{v.shape}")
    return builtins.bool(v.reshape(()))


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """The result of the function of the first true predicate in ``pred_fn_pairs`` (a list of
    (predicate, callable)), or of ``default()``; none true and no default is an error, as is more
    than one true with ``exclusive``. A 1-element list or tuple result is unpacked unless
    ``strict``."""
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else pred_fn_pairs
    if not isinstance(pairs, (list, tuple)):
        raise _fail(TypeError, "case", f"pred_fn_pairs must be a list of (predicate, callable) pairs. Received: "
                                       f"{pred_fn_pairs!r}"[:300])
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise _fail(TypeError, "case", f"Each entry in pred_fn_pairs must be a 2-tuple. Received {pair!r}"[:300])
        if not callable(pair[1]):
            raise _fail(TypeError, "case", f"fn for pred {pair[0]!r} must be callable."[:300])
    if default is not None and not callable(default):
        raise _fail(TypeError, "case", "default must be callable.")
    values = [_truth(p, "case") for p, _ in pairs]
    if exclusive and builtins.sum(values) > 1:
        raise _fail(ValueError, "case", f"More than one condition evaluated as True but exclusive=True. Values: "
                                        f"{values}")
    chosen = next((f for v, (_, f) in zip(values, pairs) if v), default)
    if chosen is None:
        raise _fail(ValueError, "case", f"None of the conditions evaluated as True. Values: {values}")
    result = chosen()
    if not strict and isinstance(result, (list, tuple)) and not hasattr(result, "_fields") and len(result) == 1:
        return result[0]
    return result


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """``branch_fns[branch_index]()`` (a list of callables, a list of (int, callable) pairs or a
    dict of them, keys 0 to n - 1); an index among none runs ``default``, or the last branch."""
    if isinstance(branch_fns, dict):
        items = list(branch_fns.items())
    elif isinstance(branch_fns, (list, tuple)) and builtins.all(isinstance(b, tuple) and len(b) == 2
                                                                 for b in branch_fns) and branch_fns:
        items = list(branch_fns)
    elif isinstance(branch_fns, (list, tuple)):
        items = list(enumerate(branch_fns))
    else:
        raise _fail(TypeError, "switch_case", f"branch_fns must be a list of callables, of (int, callable) pairs, "
                                              f"or a dict. Received {branch_fns!r}"[:300])
    keys = sorted(k for k, _ in items)
    if not items or keys != list(builtins.range(len(items))) or not builtins.all(callable(f) for _, f in items):
        raise _fail(ValueError, "switch_case", f"branch indices (keys) must form contiguous range of [0 to "
                                               f"{len(items)} - 1], each with a callable. Received keys {keys}")
    index = np.asarray(_value(branch_index))
    if index.shape != () or index.dtype.kind not in "iu":
        raise _fail(TypeError, "switch_case", f"branch_index must be a scalar int32 or int64. Received dtype "
                                              f"{index.dtype}, shape {index.shape}")
    branches = dict(items)
    chosen = branches.get(int(index), default if default is not None else branches[keys[-1]])
    return chosen()


math.__dict__.update(real=_real, imag=_imag, angle=_angle, conj=_conj, bincount=_bincount)

dtypes = types.ModuleType("fastnn.dtypes", "TensorFlow's tf.dtypes: the dtypes (NumPy's), as_dtype, cast, complex, "
                                          "saturate_cast.")
dtypes.__dict__.update({n: np.dtype(v).type for n, v in (
    ("float16", np.float16), ("float32", np.float32), ("float64", np.float64), ("int8", np.int8), ("int16", np.int16),
    ("int32", np.int32), ("int64", np.int64), ("uint8", np.uint8), ("uint16", np.uint16), ("uint32", np.uint32),
    ("uint64", np.uint64), ("complex64", np.complex64), ("complex128", np.complex128))})
dtypes.__dict__.update(bool=np.bool_, string=np.str_, half=np.float16, double=np.float64, DType=np.dtype,
                       as_dtype=lambda type_value: np.dtype(type_value).type, cast=cast, complex=_complex,
                       saturate_cast=lambda value, dtype, name=None: _keras_ops.saturate_cast(value, dtype))
_RENAMED["complex"] = "_complex"
_MORE_TOP_LEVEL += ["lookup"]
_MORE_TOP_LEVEL += ["complex64", "complex128", "complex", "signal", "audio", "dtypes", "repeat", "broadcast_to", "meshgrid",
                    "unique", "unique_with_counts", "searchsorted", "histogram_fixed_width",
                    "histogram_fixed_width_bins", "py_function", "numpy_function", "vectorized_map", "foldl",
                    "foldr", "case", "switch_case"]


TOP_LEVEL = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "bool", "string",
             "newaxis", "function", "shape", "size", "rank", "ones", "zeros", "ones_like", "zeros_like", "fill",
             "constant", "convert_to_tensor", "cast", "range", "linspace", "identity", "stop_gradient", "print",
             "concat", "stack", "unstack", "split", "reshape", "transpose", "expand_dims", "squeeze", "tile", "pad",
             "gather", "boolean_mask", "one_hot", "where", "clip_by_value", "matmul", "einsum", "norm", "sort",
             "argsort", "tensordot", "is_tensor", "Tensor", "device", "executing_eagerly", "cond", "while_loop", "map_fn",
             "gather_nd", "TensorSpec", "TensorArray", "nn", "math", "linalg", "image", "io", "config", "Variable", "Module", "random_normal_initializer",
             "random_uniform_initializer", "truncated_normal_initializer", "zeros_initializer", "ones_initializer",
             "constant_initializer", "clip_by_norm", "clip_by_global_norm", "UnconnectedGradients", "custom_gradient", "errors", "TensorShape", "nest", "summary", "strings", "train"] + _TF_AND_MATH + _MORE_TOP_LEVEL


def _eager(value):
    """``value`` with arrays as `EagerArray` views (TensorFlow's ``.numpy()``: ``tf.nn.softmax(x).numpy()``,
    ``tf.argmax(y, 1).numpy()``); tape tensors, which have it, and everything else as they are."""
    if isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, EagerArray):
        return np.asarray(value).view(EagerArray)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # top_k's (values, indices)
        return type(value)(*map(_eager, value))
    if isinstance(value, list):  # split, unstack
        return [_eager(v) for v in value]
    return value


def _eager_function(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _eager(fn(*args, **kwargs))

    return wrapper


def register(package):
    """Give ``package`` (fastnn) the names of `TOP_LEVEL` and the modules nn, math and config, their
    functions' arrays returned as `EagerArray` (``function`` returns the function it is given)."""
    from . import random as random_module

    for module in (nn, math, linalg, strings, random_module, signal, audio, dtypes):  # (tf.random.normal(...).numpy(), as TensorFlow's tensors)
        for name, value in list(vars(module).items()):
            if callable(value) and not name.startswith("__") and not isinstance(value, type) and (
                    module is not random_module or getattr(value, "__module__", None) == module.__name__):
                setattr(module, name, _eager_function(value))
    for name in TOP_LEVEL:
        value = globals()[_RENAMED.get(name, name)]
        wrap = callable(value) and not isinstance(value, (type, types.ModuleType)) and name not in ("function", "custom_gradient")
        setattr(package, name, _eager_function(value) if wrap else value)
    for module in (nn, math, linalg, config, errors, nest, summary, strings, image, io, train, ragged, signal,
                   audio, dtypes, lookup):
        sys.modules[module.__name__] = module
