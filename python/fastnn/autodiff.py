"""fastnn.autodiff — the Keras backend functions (``K.mean``, ``K.square``, ``K.exp``...), with
gradients, for the small pieces of a course script that are plain Python: custom losses, `Lambda`
layers, and loss tensors built from a model's tensors for ``model.add_loss``.

Each function works on three kinds of value:

* NumPy arrays and numbers: it computes with NumPy and returns an array.
* `Tensor`, an array on a tape: it also records how to take the gradient. ``grad(y, xs)``
  walks the tape back from ``y`` (reverse mode) and returns d sum(y · seed) / d x for each x.
  This is how a custom loss ``loss(y_true, y_pred)`` gets its gradient with respect to y_pred,
  and how a `Lambda` layer gets its backward pass.
* symbolic `KerasTensor`s of the functional API: it adds a layer to the graph (a `Lambda`
  calling this function), so ``1 + z_log_var - K.square(z_mean)`` is part of a model.

The kernels do the heavy work; these are for the few elementwise operations and reductions
around them, so they are plain NumPy, in the inputs' dtype (float32 for a model's tensors).
"""

from __future__ import annotations

import builtins
import math
import weakref

import numpy as np

from . import utils
from ._batch_dataset import EagerArray, WeightArray, assignable
from ._graph import post_order

_EPSILON = 1e-7


# ---- values on the tape ------------------------------------------------------------------------


class Operators:
    """Python's arithmetic operators and ordering comparisons as the functions below (shared by
    `Tensor` and the functional API's `KerasTensor`). NumPy defers to them (``array + tensor`` is
    ``add``, ``array < tensor`` is ``greater``)."""

    __array_ufunc__ = None

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return subtract(self, other)

    def __rsub__(self, other):
        return subtract(other, self)

    def __mul__(self, other):
        return multiply(self, other)

    def __rmul__(self, other):
        return multiply(other, self)

    def __truediv__(self, other):
        return divide(self, other)

    def __rtruediv__(self, other):
        return divide(other, self)

    def __pow__(self, other):
        return pow(self, other)

    def __rpow__(self, other):
        return pow(other, self)

    def __matmul__(self, other):
        return dot(self, other)

    def __rmatmul__(self, other):
        return dot(other, self)

    def __neg__(self):
        return negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return abs(self)

    def __getitem__(self, index):
        return _getitem(self, index)

    # comparisons, elementwise (``ops.where(x > 0, ...)``, ``tf.cast(ids == 0, "float32")``), as
    # TensorFlow 2's tensors; a tensor stays hashable by identity, and == None is False
    def __eq__(self, other):
        return False if other is None else equal(self, other)

    def __ne__(self, other):
        return True if other is None else not_equal(self, other)

    __hash__ = object.__hash__

    def __lt__(self, other):
        return less(self, other)

    def __le__(self, other):
        return less_equal(self, other)

    def __gt__(self, other):
        return greater(self, other)

    def __ge__(self, other):
        return greater_equal(self, other)

    def __iter__(self):
        raise TypeError(f"{type(self).__name__} is not iterable; index it (x[0]) or use the backend functions")


def _keras_operator(name, reflected=False):
    """An operator of `Operators` that calls keras.ops' ``name`` (imported when called: that module
    imports this one)."""
    def operator(self, other):
        from . import _keras_ops
        fn = getattr(_keras_ops, name)
        return fn(other, self) if reflected else fn(self, other)

    operator.__name__ = name
    return operator


# Python's % and // as NumPy's (keras.ops.mod, floor_divide); & | ^ << >> ~ bitwise, of integers and
# booleans, as TensorFlow's tensors
for _method, _name in (("mod", "mod"), ("floordiv", "floor_divide"), ("and", "bitwise_and"), ("or", "bitwise_or"),
                       ("xor", "bitwise_xor")):
    setattr(Operators, f"__{_method}__", _keras_operator(_name))
    setattr(Operators, f"__r{_method}__", _keras_operator(_name, reflected=True))
Operators.__lshift__ = _keras_operator("left_shift")
Operators.__rshift__ = _keras_operator("right_shift")


def _invert(self):
    from . import _keras_ops
    return _keras_ops.bitwise_invert(self)


Operators.__invert__ = _invert

_numpy_reads = 0


def numpy_reads():
    """How many times NumPy has taken a `Tensor`'s values (``np.mean(t)`` calls ``t.__array__``):
    a loss function that did so and returned a plain array was computed off the tape."""
    return _numpy_reads


class Tensor(Operators):
    """An array on the tape: ``value`` and, for a computed one, the inputs it came from and the
    function that maps the gradient of the output to theirs."""

    # _tapes: the GradientTapes recording when it was made (their record tokens), which alone
    # differentiate through it; None: made off every tape (a loss computed after the with-block)
    __slots__ = ("value", "_inputs", "_backward", "_tapes")

    def __init__(self, value, inputs=(), backward=None):
        self.value = np.asarray(value)
        self._inputs = inputs
        self._backward = backward
        self._tapes = None
        if inputs and register_node is not None:
            register_node(self)  # (a GradientTape recording: its node, let go with its record)

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)

    def __len__(self):
        return len(self.value)

    def __iter__(self):  # (its rows, each on the tape, as an eager TensorFlow tensor iterates)
        if self.value.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.value)))

    def numpy(self):
        return self.value[()] if self.value.ndim == 0 else self.value  # (0-d: a NumPy scalar, as TensorFlow's)

    def __array__(self, dtype=None, copy=None):
        # its value, for NumPy code after the tape (a metric's update_state(loss)); NumPy functions
        # on it are not recorded (counted: a loss function computed with NumPy is refused)
        global _numpy_reads
        _numpy_reads += 1
        return self.value if dtype is None else self.value.astype(dtype, copy=False)

    def __float__(self):
        return float(self.value)

    def __int__(self):  # (int(ckpt.step), TensorFlow's checkpoint guide)
        return int(self.value)

    def __index__(self):  # (an integer tensor as a count or an index: range(n), x[: n])
        if self.value.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index; this one is {self.value.dtype}")
        return int(self.value)

    def __format__(self, spec):
        return format(self.value.item() if self.value.ndim == 0 else self.value, spec)

    def __repr__(self):  # (TensorFlow's eager tensors show their values too)
        shown = repr(self.value.item()) if self.value.ndim == 0 else repr(np.asarray(self.value))
        return f"<fastnn.autodiff.Tensor shape={self.shape}, dtype={self.dtype}, numpy={shown}>"

    def __str__(self):
        return f"tf.Tensor({np.asarray(self.value)}, shape={self.shape}, dtype={self.dtype})"


class MaskedTensor(Tensor):
    """A tensor on the tape with the Keras mask it carries (``_keras_mask``, a (batch, steps)
    boolean array): a layer applied to it takes that mask, as in Keras. Inside a custom layer's
    call, an ``Embedding(mask_zero=True)``'s output is one, so the GRU or MultiHeadAttention after
    it skips the padding."""

    __slots__ = ("_keras_mask",)

    def __init__(self, value, inputs=(), backward=None, mask=None):
        super().__init__(value, inputs, backward)
        self._keras_mask = mask


class MaskedLeaf(MaskedTensor):
    """A custom layer's input on its tape, with the Keras mask it came with (the MultiHeadAttention
    inside a Transformer block masks the padded queries)."""

    __slots__ = ()

    def __init__(self, value, mask):
        super().__init__(value, mask=mask)


class WeightLeaf(Tensor):
    """The tape leaf of a layer's weight while the layer's call() runs (it stands in the layer's
    attribute): ``self.total.assign_add(...)`` updates the weight, as on a Keras variable."""

    __slots__ = ("weight",)

    def __init__(self, weight):
        super().__init__(weight)
        self.weight = weight

    def assign(self, value):
        self.weight.assign(_value(value))
        return self

    def assign_add(self, delta):
        self.weight.assign_add(_value(delta))
        return self

    def assign_sub(self, delta):
        self.weight.assign_sub(_value(delta))
        return self


# id of a Variable's array -> the Variable (while it lives): a model lists a Variable it tracks by its
# array, and the optimizer finds the Variable's constraint from it (`variable_of`)
_variables_by_array = weakref.WeakValueDictionary()


def variable_of(array):
    """The `Variable` whose array ``array`` is, or None."""
    variable = _variables_by_array.get(id(array))
    return variable if variable is not None and variable.value is array else None


class Variable(Tensor):
    """A leaf of the tape whose array changes in place: TensorFlow's ``tf.Variable`` (after
    ``import fastnn as tf``). Operations on it are recorded with it as their input, so
    ``tape.gradient(loss, v)`` differentiates with respect to it; ``assign``, ``assign_add``,
    ``assign_sub`` and the optimizers (``apply_gradients(zip(grads, [w, b]))``) update its array.
    A Python float becomes float32 and an int int32, as in TensorFlow; an array keeps its dtype."""

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, constraint=None, **kwargs):
        global _variables_made
        _variables_made = True
        value = _value(initial_value() if callable(initial_value) else initial_value)
        array = np.array(value, dtype=dtype, order="C")  # (a copy; ascontiguousarray would make 0-d 1-d)
        if dtype is None and not isinstance(value, (np.ndarray, np.generic)):
            array = array.astype({"f": np.float32, "i": np.int32}.get(array.dtype.kind, array.dtype))
        super().__init__(array)
        _variables_by_array[id(array)] = self
        self.trainable = bool(trainable)
        self.name = name or "Variable"
        if constraint is not None and not callable(constraint):
            raise ValueError(f"Variable: the constraint must be a callable (a projection applied after each optimizer "
                             f"update). Received: {constraint!r}")
        self.constraint = constraint

    def _assigned(self, new):
        return assignable(new, self.value, f"Variable '{self.name}'", "variable")

    def assign(self, value):
        self.value[...] = self._assigned(value)
        return self

    def assign_add(self, delta):
        self.value[...] += self._assigned(delta)
        return self

    def assign_sub(self, delta):
        self.value[...] -= self._assigned(delta)
        return self

    def __getitem__(self, index):
        """A slice: a value on the tape (or an eager array) that, off the tape, also has
        ``assign`` into this variable (``v[0, 1].assign(42.0)``, ``v[:, 2].assign([0., 1.])``)."""
        part = super().__getitem__(index)
        if isinstance(part, np.ndarray):
            part = part.view(_VariableSlice)
            part._variable, part._index = self, index
        return part

    def scatter_nd_update(self, indices, updates):
        """TensorFlow's: the values at ``indices`` (a list of index tuples) set to ``updates``."""
        indices = np.asarray(_value(indices))
        if indices.ndim != 2 or indices.shape[1] > self.value.ndim:
            raise ValueError(f"Variable '{self.name}'.scatter_nd_update: indices must be a (n, k) array of index "
                             f"tuples, k <= {self.value.ndim}. Received shape {indices.shape}")
        self.value[tuple(indices.T)] = np.asarray(_value(updates), dtype=self.value.dtype)
        return self

    def numpy(self):
        return self.value.copy()  # a copy, as TensorFlow's: the variable may change after

    def read_value(self):
        """Its values (a copy); on a GradientTape that watches it, a recorded read (TensorFlow's), so
        ``tape.gradient(2 * v.read_value(), v)`` is 2."""
        operand = _variable_operand(self)
        if isinstance(operand, Tensor):
            return Tensor(self.value.copy(), (operand,), lambda g: (g,))
        return self.value.copy().view(EagerArray)  # (an eager tensor: its numpy())

    def __repr__(self):
        shown = repr(self.value.item()) if self.value.ndim == 0 else repr(self.value)
        return f"<tf.Variable '{self.name}:0' shape={self.shape} dtype={self.dtype}, numpy={shown}>"


class _VariableSlice(EagerArray):
    """A slice of a tf.Variable (``v[0, 1]``): its values, and ``assign`` writes them back."""

    _variable = _index = None

    def assign(self, value):
        target = self._variable.value[self._index]
        new = np.asarray(_value(value))
        if np.shape(target) != new.shape and new.ndim:
            raise ValueError(f"Variable '{self._variable.name}': cannot assign a value of shape {new.shape} to a slice "
                             f"of shape {np.shape(target)}")
        self._variable.value[self._index] = new
        return self._variable[self._index]


def _value(x):
    return x.value if isinstance(x, Tensor) else x


def _unbroadcast(g, shape):
    """Sum the gradient ``g`` of a broadcast result back to an input of ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape)) if n == 1 and m != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def grad(y, xs, seed=None, unconnected="zero", through=None):
    """d sum(seed · y) / d x for each `Tensor` x in ``xs``: zeros where y does not depend on x, or
    None with ``unconnected="none"`` (TensorFlow's default for a GradientTape).

    ``seed`` defaults to ones (for a scalar y: dy/dx). ``through(node)``, when given, says which
    of the nodes below y to differentiate through (a GradientTape's: those it recorded); the
    others are constants, but for an x among them, a leaf where the walk stops.
    """
    seed = np.ones_like(y.value) if seed is None else np.broadcast_to(seed, y.shape).astype(y.dtype)
    sources = {id(x) for x in xs} if through is not None else ()

    def inputs_of(node):  # the tape's nodes that lead to y, each after its inputs
        if through is not None and node is not y and not through(node):
            return []  # (a source another tape computed: its own graph is not this tape's)
        return [t for t in node._inputs if isinstance(t, Tensor) and (through is None or through(t) or id(t) in sources)]

    order = post_order([y], inputs_of)
    reached = {id(node) for node in order}
    grads = {id(y): seed}
    for node in reversed(order):
        g = grads.get(id(node))
        if g is None or node._backward is None or not builtins.any(id(t) in reached for t in node._inputs) or (
                through is not None and node is not y and not through(node)):  # (a leaf here: `inputs_of`)
            continue
        for t, gt in zip(node._inputs, node._backward(g)):
            if not isinstance(t, Tensor) or gt is None:
                continue
            gt = _unbroadcast(np.asarray(gt, dtype=t.dtype), t.shape)
            prev = grads.get(id(t))
            grads[id(t)] = gt if prev is None else prev + gt
    if unconnected == "none":
        return [grads.get(id(x)) for x in xs]
    return [grads.get(id(x), np.zeros_like(x.value)) for x in xs]


def grad_of_outputs(ys, seeds, xs):
    """The gradients of several outputs at once: d Σ_i sum(seed_i · y_i) / d x for each x in
    ``xs`` (an output whose seed is None, or that is not on the tape, adds nothing; all zeros when
    none does)."""
    total = None
    for y, seed in zip(ys, seeds):
        if seed is not None and isinstance(y, Tensor):
            term = sum(y * seed)
            total = term if total is None else total + term
    if total is None:
        return [np.zeros_like(_value(x)) for x in xs]
    return grad(total, xs)


# ---- how each function is defined ------------------------------------------------------------


def _symbolic_args(args):
    from .layers.base import KerasTensor

    for a in args:
        if isinstance(a, KerasTensor) or \
                (isinstance(a, (list, tuple)) and builtins.any(isinstance(t, KerasTensor) for t in a)):
            return True
    return False


_GRAPH_FUNCTIONS = {}  # name -> function: what a graph layer calls (a saved model names it)


# While a `fastnn.GradientTape` records: a function giving its leaves by id of array (the arrays it
# watches, the weights it has seen used), set by fastnn._gradient_tape; else None.
watched_leaves = None
# While a `fastnn.GradientTape` records: a function taking each computed node it records; set by
# fastnn._gradient_tape.
register_node = None
# A function telling whether a GradientTape's stop_recording() block runs (nothing is recorded); set by
# fastnn._gradient_tape.
recording_stopped = None
_variables_made = False  # whether any tf.Variable exists (only then may an argument be one)
# The innermost tape's leaves by id of array (a GradientTape's, or a custom layer's own while its
# call runs: `fastnn.layers.base.TapeLeaves`), or None outside any: set by fastnn.layers.base.
current_leaves = None


def _variable_operand(v):
    """What a backend function computes with for the `Variable` ``v``: its leaf on the innermost
    tape (``v`` itself, once a GradientTape that watches accessed variables has seen it used and it
    is trainable, or watched, or the weight of the custom layer whose call runs; or the leaf a
    layer gave its array), else its array, as TensorFlow records a variable only on a tape
    watching it (not before the tape opens, nor in ``stop_recording``)."""
    leaves = current_leaves() if current_leaves is not None else None
    if leaves is None:
        return v.value
    leaf = leaves.get(id(v.value))
    if leaf is None and v.trainable and getattr(leaves, "watch_accessed", False):
        leaf = leaves[id(v.value)] = v
    return v.value if leaf is None else leaf


def _tape_operand(v, leaves):
    """The leaf of the array ``v`` on the tape ``leaves``: an array it watches, a weight of a layer
    called on it or held by the custom layer whose call runs, or, on a GradientTape that watches
    what is accessed, any trainable weight used directly (``tf.matmul(x, dense.kernel)``, a tied
    decoder reading its encoder's kernel), as TensorFlow's tape watches trainable variables; else None."""
    leaf = leaves.get(id(v))
    if leaf is None and type(v) is WeightArray and getattr(leaves, "watch_accessed", False) and v.trainable:
        leaf = leaves.leaf(v)
    return leaf


def _on_watched(values, leaves):
    """``values`` (a call's arguments) with each array the recording tape (``leaves``, or None) has
    a leaf of replaced by that leaf, and each `Variable` by `_variable_operand` (in lists and
    tuples too: ``concat([a, b])``), or None when nothing changed."""
    def swap(v):
        if isinstance(v, Variable):
            return _variable_operand(v)
        if isinstance(v, np.ndarray):
            leaf = _tape_operand(v, leaves) if leaves is not None else None
            return v if leaf is None else leaf
        if isinstance(v, (list, tuple)) and builtins.any(
                isinstance(t, Variable) or isinstance(t, np.ndarray) and leaves is not None
                and _tape_operand(t, leaves) is not None for t in v):
            return type(v)(swap(t) for t in v) if type(v) in (list, tuple) else v
        return v

    swapped = [swap(v) for v in values]
    return swapped if builtins.any(a is not b for a, b in zip(swapped, values)) else None


def on_watched_now(values):
    """`_on_watched` of ``values`` with the leaves of the GradientTape recording now: a layer or a
    loss called on an array a tape watches (or on a tf.Variable) takes its leaf; None when no tape
    records or nothing changed."""
    if watched_leaves is None:
        return None
    leaves = watched_leaves()
    return _on_watched(values, leaves) if leaves or _variables_made else None


def graph_function(name):
    """Register a function under ``name`` and give it the symbolic path: called on KerasTensors,
    it becomes one layer of the graph (`fastnn.layers.BackendFunction`) that calls it. While a
    GradientTape records, an array it watches (or a weight it has seen used) takes its leaf, as
    TensorFlow's tape watches ``tf.constant``s given to ``watch`` and every trainable variable."""

    def decorate(fn):
        def wrapper(*args, **kwargs):
            if _symbolic_args(args) or _symbolic_args(kwargs.values()):
                from .layers.lambda_layer import symbolic_call
                return symbolic_call(name, args, kwargs)
            leaves = current_leaves() if current_leaves is not None else None
            swapped = None
            if leaves is not None or _variables_made:  # (else nothing to swap: the common case stays cheap)
                swapped = _on_watched(args, leaves)
                if swapped is not None:
                    args = swapped
                if kwargs:
                    swapped_kw = _on_watched(list(kwargs.values()), leaves)
                    if swapped_kw is not None:
                        kwargs = dict(zip(kwargs, swapped_kw))
            try:
                result = fn(*args, **kwargs)
            except (ValueError, IndexError, TypeError) as e:
                raise _named_error(name, e, args) from None
            if swapped is not None and isinstance(result, (np.ndarray, np.generic)):
                # (a tf.Variable's arithmetic off the tape: an eager tensor, with TensorFlow's numpy())
                return np.asarray(result).view(EagerArray)
            return result

        wrapper.__name__ = wrapper.__qualname__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        wrapper.__wrapped__ = fn
        _GRAPH_FUNCTIONS[name] = wrapper
        return wrapper

    return decorate


def _named_error(name, error, args):
    """NumPy's error about a bad argument, as a ValueError that names the backend function and
    the arguments' shapes (once: an inner function's error passes through its callers)."""
    if getattr(error, "_fastnn_named", False):
        return error

    def is_array(a):
        return isinstance(a, (Tensor, np.ndarray))

    def shape_of(a):  # an array's shape, a list of arrays' shapes, else None
        if isinstance(a, (list, tuple)) and a and builtins.all(is_array(t) for t in a):
            return "[" + ", ".join(str(np.shape(_value(t))) for t in a) + "]"
        return str(np.shape(_value(a))) if is_array(a) else None

    shapes = ", ".join(filter(None, (shape_of(a) for a in args)))
    named = ValueError(f"{name}: {error}" + (f" (argument shapes: {shapes})" if shapes else ""))
    named._fastnn_named = True
    return named


def _function(fn):
    return graph_function(fn.__name__)(fn)


class _Released(tuple):
    """The inputs of a node whose graph its tape has let go (`fastnn._gradient_tape._finish`): the
    node is a constant now."""


RELEASED = _Released()


def _recording():
    return (watched_leaves is not None and watched_leaves() is not None) or \
        (current_leaves is not None and current_leaves() is not None)


def _stopped():
    return recording_stopped is not None and recording_stopped()


def _constant(t):
    """Whether the tape node ``t`` is a constant now: its graph was let go and no tape records, or a
    stop_recording() block runs."""
    return isinstance(t, Tensor) and ((t._inputs is RELEASED and not _recording()) or _stopped())


def eager_if_constant(x):
    """``x`` with each tape node that is a constant now (`_constant`: a tensor kept from a finished
    step, off every tape; any, in a stop_recording() block) as the eager array of its value, in a
    list, tuple or dict too; else ``x``.
    A layer or model called on it then runs as TensorFlow's eager call, instead of making a node that
    holds the layer's state (``total += D(fake)`` chained one per step)."""
    def eager(t):
        return np.asarray(t.value).view(EagerArray) if _constant(t) else t

    if isinstance(x, Tensor):
        return eager(x)
    if isinstance(x, (list, tuple, dict)):
        items = x.values() if isinstance(x, dict) else x
        if builtins.any(_constant(t) for t in items):
            if isinstance(x, dict):
                return {k: eager(t) for k, t in x.items()}
            return type(x)(eager(t) for t in x) if type(x) in (list, tuple) else x
    return x


def _result(value, inputs, backward):
    """The function's output: a `Tensor` on the tape when an input was one, else the array. On
    constants alone (`_constant`: released nodes off every tape, e.g. a step's loss after its gradient
    was taken; anything in a stop_recording() block) an eager array, as TensorFlow's: ``total_loss +=
    loss`` over a custom loop's steps would otherwise chain one node per step, each holding the one
    before."""
    tensors = [t for t in inputs if isinstance(t, Tensor)]
    if not tensors:
        return value
    if builtins.all(_constant(t) for t in tensors):
        return np.asarray(value).view(EagerArray)
    return Tensor(value, tuple(inputs), backward)


def _conj(derivative):
    """A local derivative as the chain rule takes it: conjugated for complex values (TensorFlow's
    convention, ``grad * conj(f'(z))``, so a real loss's gradient descends), as it is otherwise."""
    return np.conj(derivative) if np.iscomplexobj(derivative) else derivative


def _unary(name, forward, derivative, doc):
    """An elementwise function; ``derivative(x, y)`` is dy/dx from the input and output values."""

    def fn(x):
        xv = np.asarray(_value(x))
        y = forward(xv)
        return _result(y, (x,), lambda g: (g * _conj(derivative(xv, y)),))

    fn.__name__ = name
    fn.__doc__ = doc
    return _function(fn)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _sign(x):
    """NumPy 2's sign: z / |z| (0 at 0) for complex z, as TensorFlow's; NumPy 1 gave the real part's sign."""
    if not np.iscomplexobj(x):
        return np.sign(x)
    size = np.abs(x)
    return np.where(size == 0, 0, x / np.where(size == 0, 1, size)).astype(np.result_type(x))


exp = _unary("exp", np.exp, lambda x, y: y, "Elementwise e**x.")
log = _unary("log", np.log, lambda x, y: 1 / x, "Elementwise natural logarithm.")
sqrt = _unary("sqrt", np.sqrt, lambda x, y: 0.5 / y, "Elementwise square root.")
square = _unary("square", np.square, lambda x, y: 2 * x, "Elementwise x**2.")
# (|z| is not holomorphic: its gradient is grad · z / |z| unconjugated, TensorFlow's, so its derivative is
# given conjugated for `_unary` to conjugate back)
abs = _unary("abs", np.abs, lambda x, y: np.conj(_sign(x)) if np.iscomplexobj(x) else np.sign(x), "Elementwise |x|.")
negative = _unary("negative", np.negative, lambda x, y: -1, "Elementwise -x.")
sin = _unary("sin", np.sin, lambda x, y: np.cos(x), "Elementwise sine.")
cos = _unary("cos", np.cos, lambda x, y: -np.sin(x), "Elementwise cosine.")
tanh = _unary("tanh", np.tanh, lambda x, y: 1 - y * y, "Elementwise hyperbolic tangent.")
sigmoid = _unary("sigmoid", _sigmoid, lambda x, y: y * (1 - y), "Elementwise 1 / (1 + e**-x).")
softplus = _unary("softplus", lambda x: np.logaddexp(0, x), lambda x, y: _sigmoid(x), "Elementwise log(1 + e**x).")
sign = _unary("sign", lambda x: _sign(x), lambda x, y: 0, "Elementwise sign, z / |z| for complex z (gradient 0).")
round = _unary("round", np.round, lambda x, y: 0, "Elementwise rounding to the nearest integer (gradient 0).")
softsign = _unary("softsign", lambda x: x / (1 + np.abs(x)), lambda x, y: 1 / (1 + np.abs(x)) ** 2,
                  "Elementwise x / (1 + |x|).")
hard_sigmoid = _unary("hard_sigmoid", lambda x: np.clip(x / 6 + 0.5, 0, 1),
                      lambda x, y: ((x > -3) & (x < 3)) / 6, "Elementwise clip(x / 6 + 1/2, 0, 1), Keras 3's.")


@_function
def elu(x, alpha=1.0):
    """Elementwise x where x > 0, else alpha·(exp(x) - 1)."""
    xv = np.asarray(_value(x))
    with np.errstate(over="ignore"):
        em1 = np.expm1(np.minimum(xv, 0))
    y = np.where(xv > 0, xv, alpha * em1)
    return _result(y, (x,), lambda g: (g * np.where(xv > 0, 1.0, alpha * (em1 + 1)),))


def _comparison(name, compare, doc):
    """An elementwise comparison: booleans, off the tape (no gradient flows through them)."""

    def fn(x, y):
        return compare(np.asarray(_value(x)), np.asarray(_value(y)))

    fn.__name__ = name
    fn.__doc__ = doc
    return _function(fn)


equal = _comparison("equal", np.equal, "Elementwise ``x == y`` (booleans; no gradient).")
not_equal = _comparison("not_equal", np.not_equal, "Elementwise ``x != y`` (booleans; no gradient).")
greater = _comparison("greater", np.greater, "Elementwise ``x > y`` (booleans; no gradient).")
greater_equal = _comparison("greater_equal", np.greater_equal, "Elementwise ``x >= y`` (booleans; no gradient).")
less = _comparison("less", np.less, "Elementwise ``x < y`` (booleans; no gradient).")
less_equal = _comparison("less_equal", np.less_equal, "Elementwise ``x <= y`` (booleans; no gradient).")


@_function
def argmax(x, axis=-1):
    """The index of the largest value along ``axis`` (integers; no gradient)."""
    return np.argmax(np.asarray(_value(x)), axis=axis)


@_function
def argmin(x, axis=-1):
    """The index of the smallest value along ``axis`` (integers; no gradient)."""
    return np.argmin(np.asarray(_value(x)), axis=axis)


def _binary(name, forward, derivatives, doc):
    """A broadcasting elementwise function of two values; ``derivatives(a, b, y)`` gives
    (dy/da, dy/db)."""

    def fn(a, b):
        av, bv = _value(a), _value(b)
        y = np.asarray(forward(av, bv))

        def backward(g):
            da, db = derivatives(np.asarray(av), np.asarray(bv), y)
            return (g * _conj(da) if isinstance(a, Tensor) else None), (g * _conj(db) if isinstance(b, Tensor) else None)

        return _result(y, (a, b), backward)

    fn.__name__ = name
    fn.__doc__ = doc
    return _function(fn)


add = _binary("add", np.add, lambda a, b, y: (1, 1), "a + b (broadcasting).")
subtract = _binary("subtract", np.subtract, lambda a, b, y: (1, -1), "a - b (broadcasting).")
multiply = _binary("multiply", np.multiply, lambda a, b, y: (b, a), "a * b (broadcasting).")
divide = _binary("divide", np.divide, lambda a, b, y: (1 / b, -y / b), "a / b (broadcasting).")
maximum = _binary("maximum", np.maximum, lambda a, b, y: (a >= b, a < b), "Elementwise maximum (ties go to a).")
minimum = _binary("minimum", np.minimum, lambda a, b, y: (a <= b, a > b), "Elementwise minimum (ties go to a).")


def _pow_derivatives(a, b, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        da = b * np.power(a, b - 1)
        db = np.where(a > 0, y * np.log(np.where(a > 0, a, 1)), 0)
    return da, db


pow = _binary("pow", np.power, _pow_derivatives, "a ** b (broadcasting).")


@_function
def clip(x, min_value, max_value):
    """``x`` limited to [min_value, max_value] (None: no bound; a max below the min is raised to
    it, as Keras does); the gradient is 0 where it was clipped."""
    lo = -np.inf if min_value is None else min_value
    hi = np.inf if max_value is None else builtins.max(max_value, lo)
    xv = np.asarray(_value(x))
    y = np.clip(xv, lo, hi).astype(xv.dtype, copy=False)
    return _result(y, (x,), lambda g: (g * ((xv >= lo) & (xv <= hi)),))


@_function
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)``; ``alpha`` is the slope below ``threshold``, ``max_value`` a cap."""
    xv = np.asarray(_value(x))
    if not alpha and threshold == 0 and max_value is None and xv.dtype.kind == "f":
        # the plain relu in one pass (NaN stays NaN); its slope only when a gradient is asked for
        return _result(np.maximum(xv, xv.dtype.type(0)), (x,), lambda g: (g * (xv > 0),))
    below = xv < threshold
    y = np.where(below, alpha * (xv - threshold) if alpha else 0, xv).astype(xv.dtype, copy=False)
    over = None
    if max_value is not None:
        over = y > max_value
        y = np.where(over, max_value, y).astype(xv.dtype, copy=False)

    def backward(g):
        # TensorFlow's slopes at the kinks: leaky_relu's is alpha at 0 (x > 0 takes 1), relu6's
        # 0 at 0 and at 6 (0 < x < 6 takes 1)
        slope = np.where(xv > threshold, 1, alpha).astype(xv.dtype)
        return (g * (slope if over is None else np.where(xv >= max_value, 0, slope)),)

    return _result(y, (x,), backward)


# ---- reductions ------------------------------------------------------------------------------


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(int(a) for a in (axis if isinstance(axis, (list, tuple)) else (axis,)))
    if builtins.any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"axis {axis} is out of range for a tensor of rank {ndim}")
    return tuple(a % ndim for a in axes)


def _adds_naively(x, axes, least=4096):
    """Whether NumPy would sum ``x`` (float16/32) over ``axes`` one value after another: more than
    ``least`` values per result, over axes that are not the array's innermost contiguous ones."""
    if x.dtype not in (np.float16, np.float32) or math.prod(x.shape[a] for a in axes) <= least:
        return False
    return not (x.flags.c_contiguous and axes == tuple(range(x.ndim - len(axes), x.ndim)))


def _reduction(name, forward, doc):
    """A reduction over ``axis`` (None: all axes); the gradient flows back to every input
    value (sum, mean) or to the extreme ones, shared between ties (max, min)."""

    def fn(x, axis=None, keepdims=False):
        xv = np.asarray(_value(x))
        axes = _axes(axis, xv.ndim)
        if name in ("sum", "mean") and _adds_naively(xv, axes):
            # (NumPy adds pairwise along the contiguous axes only; across rows it adds one row at a
            # time, and 2M float32 values drift 1e-3: summed in float64, as TensorFlow's tree sums are
            # accurate)
            kept = forward(xv, axis=axes, keepdims=True, dtype=np.float64).astype(xv.dtype)
        else:
            kept = forward(xv, axis=axes, keepdims=True)
        y = kept if keepdims else kept.reshape([n for i, n in enumerate(xv.shape) if i not in axes])

        def backward(g):
            g = g.reshape(kept.shape)
            if name == "sum":
                return (np.broadcast_to(g, xv.shape),)
            if name == "mean":
                return (np.broadcast_to(g / builtins.max(1, math.prod(xv.shape[a] for a in axes)), xv.shape),)
            hit = xv == kept
            return (g * hit / hit.sum(axis=axes, keepdims=True),)

        return _result(np.asarray(y), (x,), backward)

    fn.__name__ = name
    fn.__doc__ = doc
    return _function(fn)


sum = _reduction("sum", np.sum, "The sum over ``axis`` (None: all values).")
mean = _reduction("mean", np.mean, "The mean over ``axis`` (None: all values).")
max = _reduction("max", np.max, "The maximum over ``axis`` (None: all values).")
min = _reduction("min", np.min, "The minimum over ``axis`` (None: all values).")


@_function
def var(x, axis=None, keepdims=False):
    """The (population) variance over ``axis``."""
    return mean(square(x - mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims)


@_function
def std(x, axis=None, keepdims=False):
    """The (population) standard deviation over ``axis``."""
    return sqrt(var(x, axis=axis, keepdims=keepdims))


@_function
def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis`` of an array or tape tensor, as TensorFlow's
    ``reduce_logsumexp`` computes it: shifted by the slice's maximum, or by 0 where that maximum is
    not finite, so a slice of -inf only (or an empty one) gives -inf and one holding +inf gives
    +inf (NaN stays NaN). The gradient is the slice's softmax; where the result is -inf it is 0
    (TensorFlow's is NaN there: 1/0 times 0), where it is +inf it is shared by the +inf entries
    (TensorFlow's is NaN at those entries and 0 at the others)."""
    xv = np.asarray(_value(x))
    if xv.dtype.kind != "f":
        xv = xv.astype(np.float32)
    axes = _axes(axis, xv.ndim)
    top = np.max(xv, axis=axes, keepdims=True, initial=-np.inf)
    shift = np.where(np.isfinite(top), top, 0).astype(xv.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        kept = (np.log(np.sum(np.exp(xv - shift), axis=axes, keepdims=True)) + shift).astype(xv.dtype)
    y = kept if keepdims else kept.reshape([n for i, n in enumerate(xv.shape) if i not in axes])

    def backward(g):
        finite = np.isfinite(kept)
        with np.errstate(invalid="ignore", over="ignore"):
            w = np.where(finite, np.exp(xv - np.where(finite, kept, 0)), 0.0)
            infinite = xv == np.inf
            count = np.sum(infinite, axis=axes, keepdims=True)
            w = np.where(kept == np.inf, infinite / np.maximum(count, 1), w)
            w = np.where(np.isnan(kept), np.nan, w)
        return (np.asarray(g).reshape(kept.shape) * w.astype(xv.dtype),)

    return _result(np.asarray(y), (x,), backward)


@_function
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis``."""
    xv = np.asarray(_value(x))
    e = np.exp(xv - np.max(xv, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    return _result(y, (x,), lambda g: (y * (g - np.sum(g * y, axis=axis, keepdims=True)),))


# ---- shapes ----------------------------------------------------------------------------------


@_function
def reshape(x, shape):
    """``x`` with a new shape (one entry may be -1)."""
    xv = np.asarray(_value(x))
    return _result(xv.reshape(tuple(shape)), (x,), lambda g: (g.reshape(xv.shape),))


@_function
def batch_flatten(x):
    """``x`` as (batch, values)."""
    xv = np.asarray(_value(x))
    return _result(xv.reshape(len(xv), -1), (x,), lambda g: (g.reshape(xv.shape),))


@_function
def flatten(x):
    """``x`` as one axis."""
    return reshape(x, (-1,))


@_function
def expand_dims(x, axis=-1):
    """``x`` with a new axis of size 1 at ``axis``."""
    xv = np.asarray(_value(x))
    return _result(np.expand_dims(xv, axis), (x,), lambda g: (g.reshape(xv.shape),))


@_function
def squeeze(x, axis):
    """``x`` without the size-1 axis ``axis``."""
    xv = np.asarray(_value(x))
    return _result(np.squeeze(xv, axis), (x,), lambda g: (g.reshape(xv.shape),))


@_function
def permute_dimensions(x, pattern):
    """``x`` with its axes in the order ``pattern`` (NumPy's transpose)."""
    xv = np.asarray(_value(x))
    pattern = tuple(int(a) % xv.ndim for a in pattern)  # negative axes: argsort needs them counted
    inverse = np.argsort(pattern)
    return _result(np.transpose(xv, pattern), (x,), lambda g: (np.transpose(g, inverse),))


@_function
def transpose(x):
    """``x`` with its axes reversed."""
    return permute_dimensions(x, tuple(range(ndim(x) - 1, -1, -1)))


@_function
def concatenate(tensors, axis=-1):
    """The tensors joined along ``axis``."""
    values = [np.asarray(_value(t)) for t in tensors]
    y = np.concatenate(values, axis=axis)
    cuts = np.cumsum([v.shape[axis] for v in values])[:-1]
    return _result(y, tuple(tensors), lambda g: tuple(np.split(g, cuts, axis=axis)))


@_function
def stack(tensors, axis=0):
    """The tensors stacked along a new axis ``axis``."""
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


@graph_function("getitem")
def _getitem(x, index):
    xv = np.asarray(_value(x))
    index = tuple(_value(i) for i in index) if isinstance(index, tuple) else _value(index)

    def backward(g):
        dx = np.zeros_like(xv)
        np.add.at(dx, index, g)  # also right for indices that repeat
        return (dx,)

    return _result(np.asarray(xv[index]), (x,), backward)



# ---- products --------------------------------------------------------------------------------


def _product(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` (op swaps the last two axes) of arrays with at least 2 axes. float32
    operands run fastnn's GEMMs (so no OpenBLAS threads compete with fastnn's): a 2-D b multiplies
    all of a's rows at once, matching batch axes run the batched GEMM. Anything else (broadcast
    batch axes, other dtypes) is NumPy's matmul."""
    from . import ops

    if a.dtype == np.float32 and b.dtype == np.float32:
        if a.ndim == 2 and b.ndim == 2:
            return ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
        if b.ndim == 2 and not trans_a:  # (..., M, K) @ (K, N): one product over all rows
            rows = a.reshape(-1, a.shape[-1])
            return ops.gemm(rows, b, trans_b=trans_b).reshape(a.shape[:-1] + (-1,))
        if a.ndim >= 3 and b.ndim == a.ndim and b.shape[:-2] == a.shape[:-2]:
            return ops.batched_matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    return np.matmul(np.swapaxes(a, -1, -2) if trans_a else a, np.swapaxes(b, -1, -2) if trans_b else b)


@_function
def dot(a, b):
    """The matrix product (``@``) of a (..., n, k) and b (..., k, m); a 1-D b is a vector."""
    av, bv = np.asarray(_value(a)), np.asarray(_value(b))
    y = _product(av, bv) if av.ndim >= 2 and bv.ndim >= 2 else np.matmul(av, bv)

    def backward(g):
        # as matmul does: a 1-D a is a (1, n) matrix and a 1-D b an (n, 1) one, their axis dropped
        a2 = _conj(av[None, :] if av.ndim == 1 else av)  # (complex: the adjoints, as TensorFlow's)
        b2 = _conj(bv[:, None] if bv.ndim == 1 else bv)
        g2 = g[..., None] if bv.ndim == 1 else g
        g2 = g2[..., None, :] if av.ndim == 1 else g2
        da = db = None
        if isinstance(a, Tensor):
            da = _unbroadcast(_product(g2, b2, trans_b=True), a2.shape).reshape(av.shape)
        if isinstance(b, Tensor):
            if b2.ndim == 2 and a2.ndim > 2:  # b shared by all of a's rows: one product over them
                db = _product(a2.reshape(-1, a2.shape[-1]), g2.reshape(-1, g2.shape[-1]), trans_a=True)
            else:
                db = _unbroadcast(_product(a2, g2, trans_a=True), b2.shape)
            db = db.reshape(bv.shape)
        return da, db

    return _result(y, (a, b), backward)


@_function
def batch_dot(x, y, axes=None):
    """Keras's batchwise dot product: for each sample, ``x[i]`` and ``y[i]`` contracted over
    ``axes`` (an int for both, or a pair; default: x's last and y's second-to-last, or last when
    y is 2-D). 3-D x (N, a, b) and y (N, c, d) with axes (2, 2) give (N, a, c), the attention
    scores q·kᵀ; with (2, 1), (N, a, d). 2-D x, y (N, k): (N, 1)."""
    xd, yd = np.ndim(_value(x)), np.ndim(_value(y))
    if xd not in (2, 3) or yd not in (2, 3):
        raise ValueError(f"batch_dot takes 2-D or 3-D tensors (batch first). Received ranks {xd} and {yd}")
    if axes is None:
        axes = (xd - 1, yd - 1 if yd == 2 else yd - 2)
    ax, ay = (axes, axes) if isinstance(axes, int) else tuple(axes)
    ax, ay = ax % xd, ay % yd
    if ax == 0 or ay == 0:
        raise ValueError(f"batch_dot cannot contract the batch axis. Received: axes={axes!r}")
    if xd == 2 and yd == 2:
        return sum(x * y, axis=1, keepdims=True)
    # x as (N, a, k) and y as (N, k, c): a batched matmul
    xm = expand_dims(x, 1) if xd == 2 else (permute_dimensions(x, (0, 2, 1)) if ax == 1 else x)
    ym = expand_dims(y, 2) if yd == 2 else (permute_dimensions(y, (0, 2, 1)) if ay == 2 else y)
    out = dot(xm, ym)
    if xd == 2:
        out = squeeze(out, 1)
    if yd == 2:
        out = squeeze(out, -1)
    return out


@_function
def l2_normalize(x, axis=None, epsilon=1e-12):
    """``x`` divided by its L2 norm over ``axis`` (None: all values), at least sqrt(epsilon)
    (TensorFlow's default 1e-12)."""
    return x / sqrt(maximum(sum(square(x), axis=axis, keepdims=True), epsilon))


@_function
def bias_add(x, bias):
    """``x + bias`` over the last axis."""
    return x + bias


@_function
def switch(condition, then_expression, else_expression):
    """``then_expression`` where ``condition`` holds, else ``else_expression`` (gradients to the
    branch each element took)."""
    c = np.asarray(_value(condition)).astype(bool)
    av, bv = np.asarray(_value(then_expression)), np.asarray(_value(else_expression))
    y = np.where(c, av, bv)
    return _result(y, (then_expression, else_expression),
                   lambda g: (_unbroadcast(np.where(c, g, 0), av.shape), _unbroadcast(np.where(c, 0, g), bv.shape)))


@_function
def tile(x, n):
    """``x`` repeated ``n`` times along each axis (``n`` an int or one per axis)."""
    xv = np.asarray(_value(x))
    reps = (n,) if isinstance(n, (int, np.integer)) else tuple(n)
    reps = (1,) * (xv.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - xv.ndim) + xv.shape  # more repeats than axes: np.tile adds leading axes
    y = np.tile(xv, reps)

    def backward(g):  # the sum over the copies: (r0, s0, r1, s1, ...) summed over the r axes
        g = g.reshape([d for r, s in zip(reps, shape) for d in (r, s)])
        return (g.sum(axis=tuple(range(0, 2 * len(shape), 2))).reshape(xv.shape),)

    return _result(y, (x,), backward)


@_function
def repeat_elements(x, rep, axis):
    """Each element of ``x`` repeated ``rep`` times along ``axis`` (``np.repeat``)."""
    xv = np.asarray(_value(x))
    axis = axis % xv.ndim
    y = np.repeat(xv, rep, axis=axis)

    def backward(g):
        return (g.reshape(xv.shape[:axis + 1] + (rep,) + xv.shape[axis + 1:]).sum(axis=axis + 1),)

    return _result(y, (x,), backward)


@_function
def gather(reference, indices):
    """The rows ``reference[indices]`` (along axis 0); the gradient sums over repeated indices."""
    rv, idx = np.asarray(_value(reference)), np.asarray(_value(indices)).astype(np.int64)
    y = rv[idx]

    def backward(g):
        d = np.zeros_like(rv)
        np.add.at(d, idx, g)
        return (d,)

    return _result(y, (reference,), backward)


@_function
def cumsum(x, axis=0):
    """The cumulative sum along ``axis``."""
    y = np.cumsum(np.asarray(_value(x)), axis=axis)
    return _result(y, (x,), lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),))


@_function
def one_hot(indices, num_classes):
    """Integer ``indices`` (any shape) as one-hot vectors of ``num_classes`` (a new last axis; no gradient)."""
    return np.eye(num_classes, dtype=floatx())[np.asarray(_value(indices)).astype(np.int64)]


@_function
def any(x, axis=None, keepdims=False):
    """Whether any value is true (nonzero) over ``axis`` (booleans; no gradient)."""
    return np.any(np.asarray(_value(x)), axis=axis, keepdims=keepdims)


@_function
def all(x, axis=None, keepdims=False):
    """Whether every value is true (nonzero) over ``axis`` (booleans; no gradient)."""
    return np.all(np.asarray(_value(x)), axis=axis, keepdims=keepdims)


def constant(value, dtype=None, shape=None, name=None):
    """``value`` as an array (of ``shape``, filled, when given); a constant on the tape."""
    a = np.asarray(value, dtype=dtype or floatx())
    return np.broadcast_to(a, shape).copy() if shape is not None else a


def variable(value, dtype=None, name=None, constraint=None):
    """Keras 2's variable: here an array holding ``value`` (a copy; not trained)."""
    return np.array(value, dtype=dtype or floatx())


# ---- losses (Keras's backend versions: per value or per sample, not reduced over the batch) --


@_function
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t·log p + (1 - t)·log(1 - p))``, p clipped to [1e-7, 1 - 1e-7];
    ``from_logits``: ``output`` is the logit and is put through a sigmoid first (stably)."""
    if from_logits:
        return _binary_crossentropy_logits(target, output)
    return _binary_crossentropy_probabilities(target, output)


def _binary_crossentropy_probabilities(target, output):
    """One step on the tape (the composition of clip, log and products took three times the
    passes over a VAE's 128 x 784 values): d/dp = (p - t) / (p (1 - p)) where p was not
    clipped, d/dt = log(1 - p) - log(p)."""
    tv, ov = _value(target), np.asarray(_value(output))
    p = np.clip(ov, _EPSILON, 1 - _EPSILON)
    log_p, log_q = np.log(p), np.log(1 - p)
    y = -(tv * log_p + (1 - tv) * log_q)

    def backward(g):
        dt = g * (log_q - log_p) if isinstance(target, Tensor) else None
        dp = None
        if isinstance(output, Tensor):
            dp = g * ((p - tv) / (p * (1 - p)))
            dp[(ov < _EPSILON) | (ov > 1 - _EPSILON)] = 0  # clipped: no gradient, as clip gives
        return dt, dp

    return _result(np.asarray(y), (target, output), backward)


def _sigmoid_minus(x, t):
    """sigmoid(x) - t without cancellation: (1 - t) - sigmoid(-x) for x >= 0."""
    return np.where(x >= 0, (1 - t) - _sigmoid(-np.abs(x)), _sigmoid(-np.abs(x)) - t)


# max(x, 0) - x·t + log(1 + e^-|x|), with the gradient sigmoid(x) - t (also at x = 0, where the
# pieces' one-sided slopes would not add up to it)
_binary_crossentropy_logits = _binary(
    "binary_crossentropy_logits", lambda t, x: np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))),
    lambda t, x, y: (-x, _sigmoid_minus(x, t)), "Binary cross-entropy of logits x against targets t.")


@_function
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(t · log p)`` over ``axis``; ``output`` is rescaled to sum to 1 and clipped to
    [1e-7, 1 - 1e-7], or with ``from_logits`` put through a log-softmax."""
    if from_logits:
        return -sum(target * (output - logsumexp(output, axis=axis, keepdims=True)), axis=axis)
    p = clip(output / sum(output, axis=axis, keepdims=True), _EPSILON, 1 - _EPSILON)
    return -sum(target * log(p), axis=axis)


@_function
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """`categorical_crossentropy` for integer class labels ``target``."""
    raw = np.asarray(_value(target))
    classes = int_shape(output)[-1]
    # (NumPy's indexing would read -1 as the last class; a NaN label has no class)
    outside = np.flatnonzero(~((raw >= 0) & (raw < classes)))
    if outside.size:
        raise ValueError(f"y_true must be integer class indices in [0, {classes}). "
                         f"Received: y_true.flat[{outside[0]}]={raw.flat[outside[0]]}")
    labels = raw.astype(np.int64).reshape(shape(output)[:-1])
    onehot = np.eye(classes, dtype=dtype(output))[labels]
    return categorical_crossentropy(onehot, output, from_logits, axis)


# ---- values that have no gradient ------------------------------------------------------------


def epsilon():
    """The fuzz factor Keras adds to avoid dividing by or taking the log of 0: 1e-7."""
    return _EPSILON


def floatx():
    return utils.floatx()


def shape(x):
    """The shape of a value (a tuple; for a symbolic tensor, None for the batch axis)."""
    return tuple(x.shape) if isinstance(x, Operators) else tuple(np.shape(x))


def int_shape(x):
    """The shape as a tuple of ints (None for a symbolic tensor's batch axis)."""
    return shape(x)


def ndim(x):
    return len(shape(x))


def dtype(x):
    return str(x.dtype) if hasattr(x, "dtype") else str(np.asarray(x).dtype)


def count_params(x):
    return math.prod(shape(x))


@_function
def cast(x, dtype):
    """``x`` converted to ``dtype``; the gradient flows between float types."""
    xv = np.asarray(_value(x))
    y = xv.astype(dtype)
    return _result(y, (x,), lambda g: (g.astype(xv.dtype),)) if y.dtype.kind == "f" else y


def get_value(x):
    """The value of ``x`` as NumPy data (``K.get_value(model.optimizer.lr)`` is a float)."""
    return float(x) if isinstance(x, float) else np.array(_value(x))


def set_value(x, value):
    """Assign ``value`` to ``x`` in place: an optimizer's learning rate (``K.set_value(
    model.optimizer.lr, 0.001)``, as Keras 2's callbacks do) or a weight array."""
    if hasattr(x, "assign"):
        x.assign(value)
    elif isinstance(x, np.ndarray):
        x[...] = value
    else:
        raise ValueError(f"set_value: expected an optimizer's learning rate or a weight array. Received: "
                         f"{type(x).__name__}")


def cast_to_floatx(x):
    return np.asarray(_value(x), dtype=utils.floatx())


@_function
def stop_gradient(x):
    """The value of ``x``, treated as a constant (no gradient flows back through it)."""
    return np.array(_value(x))


@_function
def zeros_like(x, dtype=None):
    return np.zeros_like(np.asarray(_value(x)), dtype=dtype)


@_function
def ones_like(x, dtype=None):
    return np.ones_like(np.asarray(_value(x)), dtype=dtype)


def zeros(shape, dtype=None):
    return np.zeros(shape, dtype=dtype or utils.floatx())


def ones(shape, dtype=None):
    return np.ones(shape, dtype=dtype or utils.floatx())


def _random_shape(shape):
    """A shape given as a tuple or list of ints, an int, or a 1-D array of ints (``tf.shape(x)``)."""
    shape = _value(shape)
    if isinstance(shape, np.ndarray):
        shape = shape.reshape(-1).tolist()
    shape = shape if isinstance(shape, (list, tuple)) else (shape,)
    return tuple(int(_value(n)) for n in shape)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples of ``shape`` from fastnn's generator (`fastnn.utils.set_random_seed`), or
    from ``seed``."""
    rng = utils.global_rng() if seed is None else np.random.default_rng(seed)
    return rng.normal(mean, stddev, _random_shape(shape)).astype(dtype or utils.floatx())


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform samples in [minval, maxval) of ``shape`` (see `random_normal`)."""
    rng = utils.global_rng() if seed is None else np.random.default_rng(seed)
    return rng.uniform(minval, maxval, _random_shape(shape)).astype(dtype or utils.floatx())


# The functions `fastnn.backend` offers as ``K.<name>`` (Keras 2's backend module).
FUNCTIONS = (
    "abs", "add", "all", "any", "argmax", "argmin", "batch_dot", "batch_flatten", "bias_add", "binary_crossentropy",
    "cast", "cast_to_floatx", "categorical_crossentropy", "clip", "concatenate", "constant", "cos", "count_params",
    "cumsum", "divide", "dot", "dtype", "elu", "epsilon", "equal", "exp", "expand_dims", "flatten", "floatx",
    "gather", "get_value", "greater", "greater_equal", "hard_sigmoid", "int_shape", "l2_normalize", "less",
    "less_equal", "log", "logsumexp", "max", "maximum", "mean", "min", "minimum", "multiply", "ndim", "negative",
    "not_equal", "one_hot", "ones", "ones_like", "permute_dimensions", "pow", "random_normal", "random_uniform",
    "relu", "repeat_elements", "reshape", "round", "set_value", "shape", "sigmoid", "sign", "sin", "softmax",
    "softplus", "softsign", "sparse_categorical_crossentropy", "sqrt", "square", "squeeze", "stack", "std",
    "stop_gradient", "subtract", "sum", "switch", "tanh", "tile", "transpose", "var", "variable", "zeros",
    "zeros_like",
)
