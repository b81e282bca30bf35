"""fastnn._batch_dataset — a small ``tf.data``-like dataset of batches, the one base of the datasets
fastnn's data utilities return (`timeseries_dataset_from_array`, `image_dataset_from_directory`,
`text_dataset_from_directory`).

A `BatchDataset` is a `fastnn.utils.Sequence`: ``len(ds)`` elements (batches, or single samples
once unbatched), element ``i`` by index, so ``fit``, ``evaluate`` and ``predict`` take one; it
also iterates (``for images, labels in ds``; each full pass ends an epoch, which reshuffles a
shuffled dataset as a ``tf.data`` dataset does on each iteration) and offers the ``tf.data``
methods Keras's example scripts call on these datasets: ``map``, ``prefetch``, ``cache``,
``take``, ``skip``, ``shuffle``, ``unbatch``, ``batch``, ``padded_batch``, ``filter``, ``window``,
``flat_map``, ``interleave``, ``concatenate``, ``as_numpy_iterator``, ``cardinality`` (and
``Dataset.zip``, ``from_generator`` of a finite generator, ``from_tensors``).
Everything is lazy: an element is computed when it is asked for (a ``map`` runs on each batch
then), except ``cache``, which keeps each element the first time it is computed.

Elements are NumPy arrays: a batch is ``x`` or a tuple ``(x, y)``; a function given to ``map``
receives a tuple's parts as separate arguments, as ``tf.data`` does
(``ds.map(lambda x, y: (data_augmentation(x), y))``). Iterating gives them as `EagerArray`s, NumPy
arrays with the ``.numpy()`` of TensorFlow's eager tensors, which Keras's scripts call
(``for images, labels in ds.take(1): images[0].numpy()``).
"""

from __future__ import annotations

import math

import numpy as np

from .utils import Sequence

AUTOTUNE = -1  # tf.data.AUTOTUNE: prefetch(buffer_size=AUTOTUNE), map(num_parallel_calls=AUTOTUNE)
ENDLESS = 2 ** 60  # the length of a dataset that repeats for ever: its elements wrap around by index


def _is_int(v):
    """An integer count: a Python or NumPy int, or a 0-d integer tensor (``ds.take(tf.constant(3))``,
    ``ds.skip(val_size)`` with a size computed by tf ops), as TensorFlow's methods take them."""
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iu":
        return True
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def buffer_shuffle(order, buffer, seed, epoch):
    """``order`` passed through a shuffle buffer of ``buffer`` elements, as ``tf.data``'s
    ``shuffle(buffer_size)`` does: the buffer is filled with the first elements; each output is a
    random pick from it, refilled with the next element; at the end the buffer drains in random
    order. The draws come from NumPy's generator seeded with ``(seed, epoch)`` (the same windows
    and buffer as tf.data, not TensorFlow's random stream), so each pass (epoch) has its own
    order and a seed reproduces them."""
    order = np.asarray(order)
    if len(order) < 2:
        return order
    buffer = max(1, min(len(order), int(buffer)))
    draws = np.random.default_rng([int(seed), int(epoch)]).random(len(order))
    pool = order[:buffer].tolist()
    out = []
    for k, nxt in enumerate(order[buffer:].tolist()):
        j = int(draws[k] * buffer)
        out.append(pool[j])
        pool[j] = nxt
    for k in range(len(order) - buffer, len(order)):  # drain the buffer
        j = int(draws[k] * len(pool))
        out.append(pool[j])
        pool[j] = pool[-1]
        pool.pop()
    return np.asarray(out, dtype=order.dtype)


class _Shape(tuple):
    """An eager tensor's shape: a tuple, with TensorFlow's TensorShape methods scripts call."""

    __slots__ = ()

    def as_list(self):
        return list(self)

    @property
    def rank(self):
        return len(self)

    ndims = rank

    def num_elements(self):
        return int(np.prod(self, dtype=np.int64))


class EagerArray(np.ndarray):
    """A NumPy array with TensorFlow's eager-tensor ``numpy()``: a plain array of the same data.

    Its arithmetic (``x * x``, ``x ** 2``, ``x @ w``, ``-x``) is NumPy's, except while a
    `fastnn.GradientTape` records and an operand is an array it watches (``tape.watch(x)`` on a
    ``tf.constant``): then it is the backend function of the same name, which records it."""

    def numpy(self):
        value = np.asarray(self)
        if value.dtype.kind == "U":  # TensorFlow's string tensors hold bytes: ``.numpy().decode("utf-8")``
            if value.ndim == 0:
                return str(value[()]).encode("utf-8")
            out = np.empty(value.size, dtype=object)
            out[:] = [t.encode("utf-8") for t in value.reshape(-1).tolist()]
            return out.reshape(value.shape)
        return value[()] if value.ndim == 0 else value  # (a 0-d tensor's: a NumPy scalar, as TensorFlow's)

    def __getitem__(self, index):
        from . import autodiff

        leaves = autodiff.current_leaves() if autodiff.current_leaves is not None else None
        if leaves is not None and (leaf := autodiff._tape_operand(self, leaves)) is not None:
            return autodiff._getitem(leaf, index)  # (watched: ``x[:, ::2]`` is recorded, as its arithmetic is)
        # one element is a 0-d tensor, as TensorFlow's (``chars[0].numpy()``), not a NumPy scalar
        part = super().__getitem__(index)
        return np.asarray(part).view(EagerArray) if isinstance(part, np.generic) else part

    # (a tensor of one value converts, whatever its rank, as TensorFlow's: float(predictions[0]) of a
    # (1,) row; NumPy 2 converts 0-d arrays only)
    def __float__(self):
        return float(self._one_value("float"))

    def __int__(self):
        return int(self._one_value("int"))

    def _one_value(self, kind):
        if self.size != 1:
            raise TypeError(f"{kind}() of a tensor of shape {tuple(np.ndarray.shape.__get__(self))}: only a tensor of "
                            "one value converts to a Python number")
        return np.asarray(self).reshape(())[()]

    @property
    def shape(self):
        """The shape, a tuple with TensorFlow's ``as_list()`` (``x.shape.as_list()``) and ``rank``."""
        return _Shape(np.ndarray.shape.__get__(self))

    @shape.setter
    def shape(self, value):
        np.ndarray.shape.__set__(self, value)

    # (printed from a plain view: NumPy's printing takes elements one by one, which would be 0-d tensors)
    def __repr__(self):
        plain = repr(self.view(np.ndarray))
        return type(self).__name__ + plain[len("array"):].replace("\n" + " " * len("array("),
                                                                  "\n" + " " * len(type(self).__name__ + "("))

    def __str__(self):
        return str(self.view(np.ndarray))

    def __hash__(self):  # (a 0-d tensor as a dict key or in a set: its value's hash; NumPy's arrays have none)
        if self.ndim:
            raise TypeError(f"unhashable type: an EagerArray of shape {self.shape}")
        return hash(np.ndarray.__getitem__(self, ()).item())

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import autodiff

        leaves = autodiff.current_leaves() if autodiff.current_leaves is not None and method == "__call__" \
            and not kwargs else None
        # (an EagerArray itself watched, or a weight on the tape: the backend functions compute on
        # plain arrays, never these)
        if leaves is not None and any(isinstance(x, EagerArray) and autodiff._tape_operand(x, leaves) is not None
                                      for x in inputs):
            from . import _keras_ops

            name = _RECORDED_UFUNCS.get(ufunc.__name__, "")  # (mod and floor_divide: Keras's ops)
            function = (getattr(autodiff, name, None) or getattr(_keras_ops, name, None)) if name else None
            if function is not None:
                return function(*inputs)
        # NumPy's, on plain views (ndarray's own __array_ufunc__ defers to an override like this one)
        plain = [x.view(np.ndarray) if isinstance(x, EagerArray) else x for x in inputs]
        out = kwargs.get("out")
        if out is not None:  # (x += 1: the result is x itself)
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, EagerArray) else o for o in out)
            getattr(ufunc, method)(*plain, **kwargs)
            return out if len(out) > 1 else out[0]
        result = getattr(ufunc, method)(*plain, **kwargs)
        if isinstance(result, tuple):
            return tuple(r.view(EagerArray) if isinstance(r, np.ndarray) else r for r in result)
        if isinstance(result, np.generic) and method == "__call__":
            # (0-d in, 0-d out: a tensor, as TensorFlow's, with its numpy(); NumPy would give a scalar)
            return np.asarray(result).view(EagerArray)
        return result.view(EagerArray) if isinstance(result, np.ndarray) else result


# Python's augmented assignments. An eager tensor's make a new tensor, as TensorFlow's (tensors never
# change in place: ``x = tf.constant(images); x /= 255`` leaves ``images`` as it was, and ``logits +=
# mask * -1e9`` may broadcast to a bigger shape); a weight's change the weight, as NumPy's.
_AUGMENTED = {"__iadd__": "__add__", "__isub__": "__sub__", "__imul__": "__mul__", "__itruediv__": "__truediv__",
              "__ifloordiv__": "__floordiv__", "__imod__": "__mod__", "__ipow__": "__pow__",
              "__imatmul__": "__matmul__", "__iand__": "__and__", "__ior__": "__or__", "__ixor__": "__xor__",
              "__ilshift__": "__lshift__", "__irshift__": "__rshift__"}
for _augmented, _operator in _AUGMENTED.items():
    setattr(EagerArray, _augmented, getattr(np.ndarray, _operator))


class WeightArray(EagerArray):
    """A layer's weight (what ``add_weight`` returns, ``layer.kernel``, ``model.trainable_variables``):
    the array the kernels and optimizers update in place, with the names of a Keras / TensorFlow
    variable: ``name``, ``numpy()`` (a copy), ``assign``/``assign_add``/``assign_sub`` (in place,
    the shape and a dtype it holds checked) and ``value``. Arithmetic on it gives plain values."""

    _name = None
    _owner = None  # (a weak reference to its layer, and the layer's record of it: `trainable`)

    def __getitem__(self, index):  # (a row or a slice of a weight is a value, not a weight)
        part = super().__getitem__(index)
        return part.view(EagerArray) if isinstance(part, np.ndarray) else part

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return self._name

    @property
    def constraint(self):
        """Its constraint (``kernel_constraint=...``), which optimizers apply after each update, or None."""
        return None if self._owner is None else self._owner[1].constraint

    @property
    def trainable(self):
        """Whether an optimizer trains it: its own flag, and its layer's (``layer.trainable = False``)."""
        if self._owner is None:
            return True
        layer, record = self._owner[0](), self._owner[1]
        return record.trainable and (layer is None or layer._trainable)

    @property
    def value(self):
        return self

    def numpy(self):
        value = np.array(self)  # (a copy, as TensorFlow's: the weight changes as it trains)
        return value[()] if value.ndim == 0 else value

    def assign(self, value):
        self.view(np.ndarray)[...] = assignable(value, self, f"Weight '{self._name}'", "weight")
        return self

    def assign_add(self, delta):
        self.view(np.ndarray)[...] += assignable(delta, self, f"Weight '{self._name}'", "weight")
        return self

    def assign_sub(self, delta):
        self.view(np.ndarray)[...] -= assignable(delta, self, f"Weight '{self._name}'", "weight")
        return self


for _augmented in _AUGMENTED:
    setattr(WeightArray, _augmented, getattr(np.ndarray, _augmented))


def assignable(new, target, who, kind):
    """``new`` (an array, a number, a tape tensor) checked as TensorFlow checks an assignment to
    ``target`` (the array of ``who``, a ``kind``): its shape, and a dtype it holds without losing a fraction
    (2.7 into an int32 variable is refused, not truncated)."""
    new = np.asarray(new.value if hasattr(new, "_backward") else new)
    if new.shape != target.shape:
        raise ValueError(f"{who}: cannot assign a value of shape {new.shape} to a {kind} of shape {target.shape}")
    if new.dtype.kind not in "biuf" or not np.can_cast(new.dtype, target.dtype, "same_kind"):
        raise TypeError(f"{who} is {target.dtype}: it cannot take a value of dtype {new.dtype}")
    return new


# NumPy's ufuncs behind Python's operators and their backend functions (`fastnn.autodiff`)
_RECORDED_UFUNCS = {"add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
                    "divide": "divide", "power": "pow", "negative": "negative", "matmul": "dot", "maximum": "maximum",
                    "minimum": "minimum", "exp": "exp", "log": "log", "sqrt": "sqrt", "square": "square",
                    "absolute": "abs", "sin": "sin", "cos": "cos", "tanh": "tanh", "remainder": "mod",
                    "floor_divide": "floor_divide"}


class EagerFloat(float):
    """A Python float with TensorFlow's eager-tensor ``numpy()`` (a loss object's value:
    ``loss_fn(y, logits).numpy()``, as TensorFlow's quickstart prints it)."""

    def numpy(self):
        return np.float32(self)


def _map(fn, element):
    """``fn`` applied to each array of an element: an array, or tuples and dicts of them, nested
    (``(x, y)``, ``({"title": t, "body": b}, {"priority": p})``), the structure kept."""
    if type(element) is tuple:
        return tuple(_map(fn, part) for part in element)
    if isinstance(element, dict):
        return {key: _map(fn, part) for key, part in element.items()}
    return fn(element)


def _parts(element):
    """The arrays of an element, in order (tuples by position, dicts by key order)."""
    if type(element) is tuple:
        return [a for part in element for a in _parts(part)]
    if isinstance(element, dict):
        return [a for part in element.values() for a in _parts(part)]
    return [element]


def _rebuild(element, arrays):
    """``element``'s structure with its arrays replaced, in order, from the iterator ``arrays``."""
    return _map(lambda _: next(arrays), element)


def _as_tensor(value):
    """An array as a copy (TensorFlow copies at creation: changing the caller's array later does not
    change the data); Python numbers (a list of floats or ints) as TensorFlow makes them: float32
    and int32."""
    if isinstance(value, np.ndarray):
        return np.array(value)
    a = np.asarray(value)
    return a.astype({"f": np.float32, "i": np.int32}.get(a.dtype.kind, a.dtype), copy=False)


def _numpy_value(a):
    """An element's array as ``as_numpy_iterator`` gives it: TensorFlow's bytes for text."""
    return np.asarray(a).view(EagerArray).numpy() if np.asarray(a).dtype.kind == "U" else a


def _strings_as_text(a):
    """An object array of Python strings (``df["ocean_proximity"].values``, Géron's ``astype(object)``)
    as a text array; any other array as it is."""
    if a.dtype == object and a.size and all(isinstance(v, str) for v in a.flat):
        return a.astype(str)
    return a


def _applied(fn, element):
    """``fn`` on an element: a tuple's parts as separate arguments, as tf.data's map and filter pass them."""
    return fn(*element) if isinstance(element, tuple) else fn(element)


def _eager(element):
    """An element's arrays as `EagerArray` views (the same data); a NumPy scalar (an unbatched
    element of Dataset.range) as a 0-d one, with TensorFlow's ``numpy()``."""
    return _map(lambda a: a.view(EagerArray) if isinstance(a, np.ndarray)
                else np.asarray(a).view(EagerArray) if isinstance(a, np.generic) else a, element)


def _element_rows(element):
    """The leading (batch) size of an element: of its first array."""
    return len(_parts(element)[0])


def _row(element, j):
    """Row ``j`` of each array of a batch."""
    return _map(lambda a: a[j], element)


def _stack(elements):
    """Elements stacked on a new leading axis, array by array."""
    parts = [_parts(e) for e in elements]
    return _rebuild(elements[0], iter([np.stack([np.asarray(p[k]) for p in parts]) for k in range(len(parts[0]))]))


class BatchDataset(Sequence):
    """The base of fastnn's datasets: a `fastnn.utils.Sequence` of elements (batches) that
    iterates like a ``tf.data`` dataset and has its common methods (see the module's doc).

    A subclass defines ``__len__`` and ``_get(index)`` (``index`` already checked, in
    ``[0, len)``), and ``on_epoch_end`` if its order changes between passes; ``_sizes()`` gives
    the rows of each element when known without computing them (for ``unbatch``).
    """

    _name = "dataset"  # the function that made it, for messages
    class_names = None
    file_paths = None

    def _get(self, index):
        raise NotImplementedError

    def _sizes(self):
        """The number of rows of each element, when known without computing the elements."""
        return None

    def __getitem__(self, index):
        n = len(self)
        if not _is_int(index):
            raise TypeError(f"{self._name}: a dataset is indexed by batch number (an integer). Received: {index!r}")
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{self._name}: batch index {index} is out of range for a dataset of {n} batches")
        return self._get(int(index))

    def __iter__(self):
        for i in range(len(self)):
            yield _eager(self[i])
        self.on_epoch_end()  # like a tf.data dataset, each pass reshuffles

    # ---- the tf.data methods ------------------------------------------------------------------

    def as_numpy_iterator(self):
        """An iterator over the elements as plain NumPy arrays (strings as bytes, as TensorFlow's)."""
        for i in range(len(self)):
            yield _map(_numpy_value, self[i])
        self.on_epoch_end()

    def cardinality(self):
        """The number of elements (``len(ds)``) as a 0-d int64 tensor (``.numpy()``, ``// 5``, ``take(n)``);
        -1 (tf.data's INFINITE_CARDINALITY) for an endless one."""
        return np.asarray(-1 if self.endless else len(self), dtype=np.int64).view(EagerArray)

    @property
    def element_spec(self):
        """The structure of an element as ``tf.TensorSpec``s (of the first element; a batched
        dataset's batch axis is None, as its last batch may be smaller)."""
        from ._tensorflow import TensorSpec

        if not len(self):
            raise ValueError(f"{self._name}.element_spec: the dataset is empty")
        batched, ds = False, self
        while isinstance(ds, _Derived):
            if isinstance(ds, (_Batched, _Unbatched)):
                batched = isinstance(ds, _Batched) and not ds._drop
                break
            ds = ds._source

        def spec(a):
            a = np.asarray(a)
            shape = ((None,) + a.shape[1:]) if batched and a.ndim else a.shape
            return TensorSpec(shape, "string" if a.dtype.kind in "US" else a.dtype)

        return _map(spec, self[0])

    def enumerate(self, start=0, name=None):
        """``(i, element)`` pairs, ``i`` from ``start`` (an int64 count)."""
        if not _is_int(start):
            raise ValueError(f"{self._name}.enumerate: `start` must be an integer. Received: start={start!r}")
        return _Zipped((_Counts(int(start), None if self.endless else len(self)), self))

    def reduce(self, initial_state, reduce_func, name=None):
        """``reduce_func(state, element)`` folded over the elements from ``initial_state``."""
        if self.endless:
            raise ValueError(f"{self._name}.reduce: the dataset repeats for ever")
        state = initial_state
        for element in self:
            state = reduce_func(state, element)
        return state

    def apply(self, transformation_func, name=None):
        """``transformation_func(self)``: a function of a dataset giving a dataset."""
        return transformation_func(self)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A dataset whose element ``i`` is ``map_func(*element_i)`` (``map_func(element_i)`` for
        an element that is not a tuple), computed when asked for (a random augmentation draws
        anew at each pass). ``num_parallel_calls`` and ``deterministic`` are accepted and
        ignored (the function runs in the calling thread). A random augmentation layer called
        directly augments, as Keras's (``ds.map(lambda x, y: (data_augmentation(x), y))``)."""
        if not callable(map_func):
            raise TypeError(f"{self._name}.map: `map_func` must be a callable. Received: {map_func!r}"[:300])
        return _Mapped(self, map_func)

    def prefetch(self, buffer_size=AUTOTUNE, name=None):
        """The dataset itself (batches are computed when asked for; there is no background
        thread). ``buffer_size``: AUTOTUNE (-1) or a non-negative integer, as tf.data."""
        if not _is_int(buffer_size) or buffer_size < -1:
            raise ValueError(f"{self._name}.prefetch: `buffer_size` must be a non-negative integer or AUTOTUNE (-1). "
                             f"Received: buffer_size={buffer_size!r}")
        return self

    def cache(self, filename="", name=None):
        """A dataset that keeps each element the first time it is computed (in memory; a
        ``filename`` is accepted and ignored) and returns the kept one afterwards: as with
        tf.data, what comes before the cache runs once, so a shuffle or random map before it is
        frozen to its first pass."""
        if not isinstance(filename, str):
            raise TypeError(f"{self._name}.cache: `filename` must be a string. Received: {filename!r}")
        return _Cached(self)

    def take(self, count, name=None):
        """The first ``count`` elements (all of them for -1)."""
        return _Slice(self, 0, self._count(count, "take"))

    def skip(self, count, name=None):
        """All elements but the first ``count`` (all skipped for -1)."""
        n = self._count(count, "skip")
        return _Slice(self, min(n, len(self)), len(self))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """The elements (batches, for a batched dataset) through a shuffle buffer of
        ``buffer_size``, in a new order at each pass unless ``reshuffle_each_iteration=False``
        (see `buffer_shuffle`; NumPy's random stream, not TensorFlow's)."""
        if not _is_int(buffer_size) or buffer_size < 1:
            raise ValueError(f"{self._name}.shuffle: `buffer_size` must be a positive integer. "
                             f"Received: buffer_size={buffer_size!r}")
        if seed is None:
            seed = int(np.random.randint(1e6))
        elif not _is_int(seed) or seed < 0:
            raise ValueError(f"{self._name}.shuffle: `seed` must be a non-negative integer or None. Received: "
                             f"seed={seed!r}")
        return _Shuffled(self, int(buffer_size), int(seed), bool(reshuffle_each_iteration))

    def unbatch(self, name=None):
        """A dataset of the single samples of the batches, in order."""
        return _Unbatched(self)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """Consecutive elements stacked into batches of ``batch_size`` (the last may be smaller
        unless ``drop_remainder``); ``ds.unbatch().batch(64)`` rebatches."""
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"{self._name}.batch: `batch_size` must be a positive integer. Received: "
                             f"batch_size={batch_size!r}")
        return _Batched(self, int(batch_size), bool(drop_remainder))

    def repeat(self, count=None, name=None):
        """The elements ``count`` times over, each pass in the dataset's order for that pass (a
        shuffle before it reshuffles between passes, as tf.data's). Without a count (or -1), for
        ever: fit, evaluate and predict then need ``steps_per_epoch`` / ``steps``, as in
        TensorFlow's tutorials (``ds.shuffle(...).repeat().batch(...)``); its `cardinality` is -1."""
        if count is None or (_is_int(count) and count == -1):
            return _Repeated(self, None)
        if not _is_int(count) or count < 0:
            raise ValueError(f"{self._name}.repeat: `count` must be a non-negative integer. Received: count={count!r}")
        return _Repeated(self, int(count))

    endless = False  # whether the dataset repeats for ever (``repeat()`` without a count, not cut by ``take``)

    def filter(self, predicate, name=None):
        """The elements for which ``predicate(*element)`` is true (``predicate(element)`` for an
        element that is not a tuple), in order. Which ones are kept is decided at the start of
        each pass (the predicate runs over the pass's elements once), so its length is known."""
        if not callable(predicate):
            raise TypeError(f"{self._name}.filter: `predicate` must be a callable. Received: {predicate!r}"[:300])
        return _Filtered(self, predicate)

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then ``dataset``'s."""
        if not isinstance(dataset, BatchDataset):
            raise TypeError(f"{self._name}.concatenate: expected a dataset. Received: {type(dataset).__name__}")
        return _Joined([self, dataset])

    def window(self, size, shift=None, stride=1, drop_remainder=False, name=None):
        """A dataset of datasets: windows of ``size`` consecutive elements (taking every ``stride``-th),
        one starting every ``shift`` elements (default ``size``); the last ones shorter unless
        ``drop_remainder``. Géron's ``ds.window(length, shift=1, drop_remainder=True).flat_map(lambda
        w: w.batch(length))`` makes the windows of a time series."""
        shift = size if shift is None else shift
        for value, what in ((size, "size"), (shift, "shift"), (stride, "stride")):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{self._name}.window: `{what}` must be a positive integer. Received: {what}={value!r}")
        return _Windows(self, int(size), int(shift), int(stride), bool(drop_remainder))

    def flat_map(self, map_func, name=None):
        """The elements of the datasets ``map_func(*element)`` returns, one after the other."""
        if not callable(map_func):
            raise TypeError(f"{self._name}.flat_map: `map_func` must be a callable. Received: {map_func!r}"[:300])
        return _FlatMapped(self, map_func)

    def interleave(self, map_func, cycle_length=None, block_length=1, num_parallel_calls=None, deterministic=None,
                   name=None):
        """The elements of the datasets ``map_func(*element)`` returns, interleaved: ``cycle_length``
        of them at a time (default all), ``block_length`` elements from each in turn, as tf.data's."""
        if not callable(map_func):
            raise TypeError(f"{self._name}.interleave: `map_func` must be a callable. Received: {map_func!r}"[:300])
        for value, what in ((cycle_length, "cycle_length"), (block_length, "block_length")):
            if value is not None and value != AUTOTUNE and (not _is_int(value) or value < 1):
                raise ValueError(f"{self._name}.interleave: `{what}` must be a positive integer. Received: {value!r}")
        cycle = None if cycle_length in (None, AUTOTUNE) else int(cycle_length)
        return _Interleaved(self, map_func, cycle, int(block_length))

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False, name=None):
        """`batch`, each array padded at the end of every axis to the longest in the batch (or to
        ``padded_shapes``, None entries the longest) with ``padding_values`` (default 0)."""
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"{self._name}.padded_batch: `batch_size` must be a positive integer. Received: "
                             f"batch_size={batch_size!r}")
        return _Batched(self, int(batch_size), bool(drop_remainder), padding=(padded_shapes, padding_values))

    def shard(self, num_shards, index, name=None):
        """Every ``num_shards``-th element from the ``index``-th: elements index, index +
        num_shards, index + 2 * num_shards... (tf.data's ``shard``; ``val_ds.shard(num_shards=2,
        index=0)`` keeps half of a validation set)."""
        if not _is_int(num_shards) or num_shards < 1:
            raise ValueError(f"{self._name}.shard: `num_shards` must be a positive integer. Received: "
                             f"num_shards={num_shards!r}")
        if not _is_int(index) or not 0 <= index < num_shards:
            raise ValueError(f"{self._name}.shard: `index` must be an integer in [0, num_shards) = [0, "
                             f"{int(num_shards)}). Received: index={index!r}")
        return _Sharded(self, int(num_shards), int(index))

    def _count(self, count, method):
        if not _is_int(count) or count < -1:
            raise ValueError(f"{self._name}.{method}: `count` must be a non-negative integer or -1 (all). "
                             f"Received: count={count!r}")
        return len(self) if count == -1 else min(int(count), len(self))

    def __repr__(self):
        return f"<{type(self).__name__} of {len(self)} elements>"


class _Derived(BatchDataset):
    """A dataset computed from another: it passes the epoch ends on (a shuffled source draws
    its next order) and keeps the source's ``class_names``."""

    _needs_finite = None  # the method's name, for one that reads its whole source (shuffle, filter...)

    def __init__(self, source):
        if self._needs_finite and source.endless:
            raise ValueError(f"{source._name}.{self._needs_finite}: the dataset repeats for ever (repeat() without a "
                             f"count); call {self._needs_finite} before repeat(), as in "
                             "ds.shuffle(1000).repeat().batch(32)")
        self._source = source
        self._name = source._name
        self.class_names = source.class_names

    def on_epoch_end(self):
        self._source.on_epoch_end()

    @property
    def endless(self):
        return self._source.endless

    def __repr__(self):
        if self.endless:
            return f"<{type(self).__name__.lstrip('_')} dataset repeating for ever, from {self._source!r}>"
        return f"<{type(self).__name__.lstrip('_')} dataset of {len(self)} elements, from {self._source!r}>"


class _Mapped(_Derived):
    def __init__(self, source, fn):
        super().__init__(source)
        self._fn = fn
        self.file_paths = source.file_paths  # one output per input, in the same order

    def __len__(self):
        return len(self._source)

    def _get(self, index):
        return _applied(self._fn, self._source[index])

    def _sizes(self):
        return self._source._sizes()  # assumed kept by the function; unbatch checks it


class _Cached(_Derived):
    def __init__(self, source):
        super().__init__(source)
        self.file_paths = source.file_paths
        self._kept = {}

    def __len__(self):
        return len(self._source)

    def _get(self, index):
        if index not in self._kept:
            self._kept[index] = self._source[index]
        return self._kept[index]

    def on_epoch_end(self):
        pass  # the source's order is frozen once cached, as with tf.data's cache after a shuffle

    def _sizes(self):
        return self._source._sizes()


class _Slice(_Derived):
    endless = False  # (take(n) of an endless dataset is n elements)

    def __init__(self, source, start, stop):
        super().__init__(source)
        self._start, self._stop = start, max(start, stop)
        if source.endless and self._stop >= ENDLESS // 2:
            raise ValueError(f"{self._name}: skip() or take(-1) of a dataset that repeats for ever repeats for ever; "
                             "take(n) gives n elements")

    def __len__(self):
        return self._stop - self._start

    def _get(self, index):
        return self._source[self._start + index]

    def _sizes(self):
        sizes = self._source._sizes()
        return None if sizes is None else sizes[self._start:self._stop]


class _Sharded(_Derived):
    """Elements ``index``, ``index + num_shards``, ... of the source (`shard`)."""

    def __init__(self, source, num_shards, index):
        super().__init__(source)
        self._shards, self._index = num_shards, index

    def __len__(self):
        if self._source.endless:
            return ENDLESS
        return max(0, -(-(len(self._source) - self._index) // self._shards))

    def _get(self, index):
        return self._source[index * self._shards + self._index]

    def _sizes(self):
        sizes = self._source._sizes()
        return None if sizes is None or self._source.endless else sizes[self._index::self._shards]


class _Repeated(_Derived):
    """``count`` passes over the source; crossing into another pass (in order, as iteration does)
    ends the source's epoch, so a shuffled source draws its next order."""

    def __init__(self, source, count):
        super().__init__(source)
        self._times, self._pass = count, 0  # (count None: for ever)

    @property
    def endless(self):
        return self._times is None and len(self._source) > 0 or self._source.endless

    def __len__(self):
        if self._times is None:
            return ENDLESS if len(self._source) else 0
        return len(self._source) * self._times

    def _get(self, index):
        n = len(self._source)
        passes = index // n
        while self._pass < passes:  # (a pass back, as a new epoch starts, restarts at the top)
            self._source.on_epoch_end()
            self._pass += 1
        if passes < self._pass:
            self._pass = passes
        return self._source[index % n]

    def on_epoch_end(self):
        super().on_epoch_end()
        self._pass = 0

    def _sizes(self):
        sizes = self._source._sizes()
        return None if sizes is None or self._times is None else sizes * self._times


def _reshuffled_repeat(ds):
    """Whether ``ds`` reads a repeat of a dataset that reshuffles between its passes: its elements
    are right only read in order (each pass's order exists while that pass is read)."""
    while isinstance(ds, _Derived):
        if isinstance(ds, _Repeated):
            inner = ds._source
            while isinstance(inner, _Derived) and not isinstance(inner, _Cached):
                if isinstance(inner, _Shuffled) and inner._reshuffle:
                    return True
                inner = inner._source
        if isinstance(ds, _Cached):
            return False
        ds = ds._source
    return False


class _Shuffled(_Derived):
    _needs_finite = "shuffle"

    def __init__(self, source, buffer, seed, reshuffle):
        super().__init__(source)
        self._buffer, self._seed, self._reshuffle = buffer, seed, reshuffle
        self._epoch = 0
        self._order = buffer_shuffle(np.arange(len(source)), buffer, seed, 0)

    def __len__(self):
        return len(self._order)

    def _get(self, index):
        if _reshuffled_repeat(self._source):  # (its passes exist only as read in order: read once, kept)
            if self.__dict__.get("_pass") is None:
                self._pass = [self._source[i] for i in range(len(self._source))]
            return self._pass[int(self._order[index])]
        return self._source[int(self._order[index])]

    def on_epoch_end(self):
        self._pass = None
        super().on_epoch_end()
        if self._reshuffle:
            self._epoch += 1
            self._order = buffer_shuffle(np.arange(len(self._source)), self._buffer, self._seed, self._epoch)

    def _sizes(self):
        sizes = self._source._sizes()
        return None if sizes is None else [sizes[int(i)] for i in self._order]


class _Unbatched(_Derived):
    _needs_finite = "unbatch"

    def __init__(self, source):
        super().__init__(source)
        self._starts = None
        self._held = (None, None)  # (batch index, batch): a pass reads each batch once

    def _offsets(self):
        if self._starts is None:
            sizes = self._source._sizes()
            if sizes is None:  # learn them by computing the batches once
                sizes = [_element_rows(self._source[i]) for i in range(len(self._source))]
            self._sizes_list = list(sizes)
            self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        return self._starts

    def __len__(self):
        return int(self._offsets()[-1])

    def _get(self, index):
        starts = self._offsets()
        b = int(np.searchsorted(starts, index, side="right")) - 1
        if self._held[0] != b:
            batch = self._source[b]
            if _element_rows(batch) != self._sizes_list[b]:
                raise ValueError(f"{self._name}.unbatch: batch {b} has {_element_rows(batch)} rows where "
                                 f"{self._sizes_list[b]} were expected (a `map` before `unbatch` must keep the "
                                 "batch size)")
            self._held = (b, batch)
        return _row(self._held[1], index - int(starts[b]))

    def on_epoch_end(self):
        self._held = (None, None)
        self._starts = None  # (the next pass's batches may differ: shuffled batches, a random filter's)
        super().on_epoch_end()

    def _sizes(self):
        return None  # single samples: their first axis is not a batch axis


class _Batched(_Derived):
    def __init__(self, source, batch_size, drop_remainder, padding=None):
        super().__init__(source)
        self._batch_size, self._drop, self._padding = batch_size, drop_remainder, padding

    def __len__(self):
        n = len(self._source)
        return n // self._batch_size if self._drop else math.ceil(n / self._batch_size)

    def _get(self, index):
        lo = index * self._batch_size
        hi = min(lo + self._batch_size, len(self._source))
        elements = [self._source[i] for i in range(lo, hi)]
        return _stack(elements) if self._padding is None else _padded_stack(elements, *self._padding)

    def _sizes(self):
        n = len(self._source)
        return [min(self._batch_size, n - i * self._batch_size) for i in range(len(self))]


def _padded_stack(elements, padded_shapes, padding_values):
    """`_stack` of elements whose arrays differ in length: each padded at the end of its axes to
    the batch's longest (or to ``padded_shapes``) with ``padding_values`` (0 by default)."""
    parts = [_parts(e) for e in elements]
    shapes = _parts(padded_shapes) if padded_shapes is not None else [None] * len(parts[0])
    fills = _parts(padding_values) if padding_values is not None and not np.isscalar(padding_values) \
        else [padding_values] * len(parts[0])
    stacked = []
    for k in range(len(parts[0])):
        arrays = [np.asarray(p[k]) for p in parts]
        longest = tuple(max(a.shape[d] for a in arrays) for d in range(arrays[0].ndim))
        wanted = shapes[k]
        if wanted is not None:
            wanted = tuple(longest[d] if w is None or w == -1 else int(w) for d, w in enumerate(wanted))
            if any(a.shape[d] > wanted[d] for a in arrays for d in range(a.ndim)):
                raise ValueError(f"padded_batch: an element of shape {max(a.shape for a in arrays)} is longer than "
                                 f"padded_shapes {tuple(shapes[k])}")
        target = wanted or longest
        fill = (b"" if arrays[0].dtype.kind == "S" else "" if arrays[0].dtype.kind == "U" else 0) \
            if fills[k] is None else fills[k]  # (TensorFlow's default padding: 0, or the empty string)
        out = np.full((len(arrays),) + target, fill, dtype=arrays[0].dtype)
        for i, a in enumerate(arrays):
            out[(i,) + tuple(slice(0, n) for n in a.shape)] = a
        stacked.append(out)
    return _rebuild(elements[0], iter(stacked))


class _Filtered(_Derived):
    """The source's elements a predicate keeps, decided at the start of each pass."""

    _needs_finite = "filter"

    def __init__(self, source, predicate):
        super().__init__(source)
        self._predicate, self._kept = predicate, None

    def _indices(self):
        # the elements kept as they were read when deciding (read again, a random map's would differ,
        # and a repeat of a reshuffled dataset would give another pass's)
        if self._kept is None:
            keep = []
            for i in range(len(self._source)):
                element = self._source[i]
                verdict = _applied(self._predicate, element)
                if bool(np.asarray(getattr(verdict, "value", verdict))):
                    keep.append(element)
            self._kept = keep
        return self._kept

    def __len__(self):
        return len(self._indices())

    def _get(self, index):
        return self._indices()[index]

    def on_epoch_end(self):
        super().on_epoch_end()
        self._kept = None


class _Counts(BatchDataset):
    """``start``, ``start + step``, ... (int64), ``length`` of them, or for ever (`enumerate`'s
    counter, `Dataset.counter`)."""

    _name = "Dataset.enumerate"

    def __init__(self, start, length, step=1, dtype=np.int64):
        self._start, self._length, self._step, self._dtype = start, length, step, np.dtype(dtype)

    @property
    def endless(self):
        return self._length is None

    def __len__(self):
        return ENDLESS if self._length is None else self._length

    def _get(self, index):
        return self._dtype.type(self._start + index * self._step)


class _Joined(BatchDataset):
    """Datasets one after the other (`concatenate`, `flat_map`, `from_generator`'s list)."""

    def __init__(self, datasets):
        self._datasets = list(datasets)
        self._name = self._datasets[0]._name if self._datasets else "dataset"
        self._starts = None  # each dataset's first index (their lengths do not change)

    def _offsets(self):
        if self._starts is None:
            self._starts = np.cumsum([0] + [len(d) for d in self._datasets])
        return self._starts

    def __len__(self):
        return int(self._offsets()[-1])

    def _get(self, index):
        starts = self._offsets()
        k = int(np.searchsorted(starts, index, side="right")) - 1
        return self._datasets[k][index - int(starts[k])]

    def on_epoch_end(self):
        for d in self._datasets:
            d.on_epoch_end()

    @property
    def endless(self):  # (a concatenation with an endless part never ends)
        return any(d.endless for d in self._datasets)


class _Windows(_Derived):
    """Windows of the source's elements, each a dataset of them (`window`)."""

    _needs_finite = "window"

    def __init__(self, source, size, shift, stride, drop):
        super().__init__(source)
        self._size, self._shift, self._stride, self._drop = size, shift, stride, drop

    def __len__(self):
        n, span = len(self._source), (self._size - 1) * self._stride + 1
        if self._drop:
            return 0 if n < span else (n - span) // self._shift + 1
        return math.ceil(n / self._shift) if n else 0

    def on_epoch_end(self):
        self._seen = {}  # (the elements kept for overlapping windows: the next pass reads anew)
        super().on_epoch_end()

    def _get(self, index):
        start = index * self._shift
        rows = range(start, min(start + (self._size - 1) * self._stride + 1, len(self._source)), self._stride)
        # (overlapping windows share elements: each read once, kept while a later window may hold it, so a
        # random map's value or a reshuffled pass's element is the same in every window)
        seen = self.__dict__.setdefault("_seen", {})
        for i in [i for i in seen if i < start]:
            del seen[i]
        for i in rows:
            if i not in seen:
                seen[i] = self._source[i]
        elements = [seen[i] for i in rows]
        if elements and isinstance(elements[0], (tuple, dict)):
            # (tuple or dict elements: a tuple or dict of windows, one per part, as tf.data's:
            # flat_map(lambda x, y: Dataset.zip((x.batch(n), y.batch(n)))))
            parts = [_parts(e) for e in elements]
            windows = []
            for k in range(len(parts[0])):
                window = _Joined([_Elements([p[k] for p in parts])])
                window._name = f"{self._name}.window"
                windows.append(window)
            return _rebuild(elements[0], iter(windows))
        window = _Joined([_Elements(elements)])
        window._name = f"{self._name}.window"
        return window


class _Elements(BatchDataset):
    """A dataset of the given elements (a window's; a finite generator's)."""

    _name = "dataset"

    def __init__(self, elements):
        self._elements = list(elements)

    def __len__(self):
        return len(self._elements)

    def _get(self, index):
        return self._elements[index]


def _datasets_of(source, fn, method):
    datasets = []
    for i in range(len(source)):
        made = _applied(fn, source[i])
        if not isinstance(made, BatchDataset):
            raise TypeError(f"{source._name}.{method}: the function must return a dataset. Received: "
                            f"{type(made).__name__}")
        datasets.append(made)
    return datasets


class _FlatMapped(_Derived):
    """The datasets a function makes of each element, one after the other, made at the start of a pass."""

    _needs_finite = "flat_map"

    def __init__(self, source, fn):
        super().__init__(source)
        self._fn, self._joined = fn, None

    def _all(self):
        if self._joined is None:
            self._joined = _Joined(_datasets_of(self._source, self._fn, "flat_map"))
        return self._joined

    def __len__(self):
        return len(self._all())

    def _get(self, index):
        return self._all()[index]

    def on_epoch_end(self):
        super().on_epoch_end()
        self._joined = None


class _Interleaved(_FlatMapped):
    """`interleave`: ``cycle`` of the made datasets at a time, ``block`` elements from each in turn."""

    def __init__(self, source, fn, cycle, block):
        super().__init__(source, fn)
        self._cycle, self._block = cycle, block

    def _all(self):
        if self._joined is None:
            pending = _datasets_of(self._source, self._fn, "interleave")
            cycle = self._cycle or len(pending)
            active, positions, order = [], [], []
            while pending or active:
                while pending and len(active) < cycle:
                    active.append(pending.pop(0))
                    positions.append(0)
                k = 0
                while k < len(active):
                    d, at = active[k], positions[k]
                    order.extend(d[j] for j in range(at, min(at + self._block, len(d))))
                    positions[k] = at + self._block
                    if positions[k] >= len(d):
                        del active[k], positions[k]
                        while pending and len(active) < cycle:  # (a finished one is replaced in its place)
                            active.insert(k, pending.pop(0))
                            positions.insert(k, 0)
                            k += 1
                        continue
                    k += 1
            self._joined = _Elements(order)
        return self._joined


class TensorSlices(BatchDataset):
    """``tf.data.Dataset.from_tensor_slices``: one element per row of ``tensors`` (an array, or
    tuples and dicts of arrays with as many rows, nested: ``(x, y)`` gives ``(x[i], y[i])``,
    ``({"a": a, "b": b}, (y1, y2))`` gives ``({"a": a[i], "b": b[i]}, (y1[i], y2[i]))``; a list
    is one array, as TensorFlow reads it; None, a part with nothing in it), usually followed by
    ``.shuffle(...).batch(...)``."""

    _name = "Dataset.from_tensor_slices"

    def __init__(self, tensors):
        if type(tensors) is tuple and tensors and tensors[-1] is None:  # ((x, y), None): (x, y) as given
            tensors = tensors[:-1] if len(tensors) > 2 else tensors[0]
        try:
            structure = _map(_strings_as_text, _map(_as_tensor, tensors))
        except ValueError as e:  # (NumPy's "inhomogeneous shape" for a list of unlike arrays)
            raise ValueError(f"{self._name}: each part must be one array; a list is read as one (give tuples or "
                             f"dicts of arrays for several): {e}") from None
        parts = _parts(structure)
        if not parts or any(p.ndim == 0 for p in parts):
            raise ValueError(f"{self._name}: `tensors` must be an array, or tuples and dicts of arrays, with a first "
                             f"(row) axis. Received shapes: {_map(lambda p: p.shape, structure)}")
        if any(p.dtype == object for p in parts):
            raise ValueError(f"{self._name}: each part must be one array (a list of arrays of different shapes, or a "
                             f"list of tuples, is not one). Received dtypes: {_map(lambda p: str(p.dtype), structure)}")
        if len({len(p) for p in parts}) > 1:
            raise ValueError(f"{self._name}: the arrays must have the same number of rows to be sliced together. "
                             f"Received shapes: {_map(lambda p: p.shape, structure)}")
        self._structure, self._rows = structure, len(parts[0])

    def __len__(self):
        return self._rows

    def _get(self, index):
        return _row(self._structure, index)


class _Zipped(BatchDataset):
    _name = "Dataset.zip"

    def __init__(self, structure):
        self._structure = structure
        members = list(structure.values()) if isinstance(structure, dict) else list(structure)
        if not members or not all(isinstance(d, BatchDataset) for d in members):
            raise TypeError("Dataset.zip: expected datasets (as arguments, or a tuple or dict of them)")
        self._members = members

    def __len__(self):
        return min(len(d) for d in self._members)

    @property
    def endless(self):  # (a zip ends with its shortest member)
        return all(d.endless for d in self._members)

    def _get(self, index):
        if isinstance(self._structure, dict):
            return {k: d[index] for k, d in self._structure.items()}
        return tuple(d[index] for d in self._members)

    def on_epoch_end(self):
        for d in self._members:
            d.on_epoch_end()


class _Chosen(BatchDataset):
    """Element k: the next element of the dataset ``choices`` names at k (`choose_from_datasets`,
    `sample_from_datasets`). ``choices(exhausted)`` is a generator of dataset indices (None: the
    end), told which datasets have run out; the choices are drawn as the elements are read and
    kept, so the elements can be read again by index."""

    def __init__(self, datasets, choices, name):
        self._datasets, self._make_choices, self._name = datasets, choices, name
        self._reset()

    def _reset(self):
        self._which, self._at = [], []  # for each element so far: its dataset, its index there
        self._used = [0] * len(self._datasets)
        self._exhausted = [len(d) == 0 for d in self._datasets]
        self._choices = self._make_choices(self._exhausted)
        self._done = False

    def _draw_until(self, index):
        while len(self._which) <= index and not self._done:
            k = next(self._choices, None)
            if k is None:
                self._done = True
                break
            self._which.append(k)
            self._at.append(self._used[k])
            self._used[k] += 1
            if self._used[k] >= len(self._datasets[k]):
                self._exhausted[k] = True

    @property
    def endless(self):
        return any(d.endless for d in self._datasets) and not self._done

    def __len__(self):
        if any(d.endless for d in self._datasets):
            self._draw_until(0)
            if not self._done:  # (an endless member: the choices go on while nothing stops them)
                return ENDLESS
        self._draw_until(sum(len(d) for d in self._datasets))
        return len(self._which)

    def _get(self, index):
        self._draw_until(index)
        if index >= len(self._which):
            raise IndexError(f"{self._name}: element {index} is past the end ({len(self._which)} elements)")
        return self._datasets[self._which[index]][self._at[index]]

    def on_epoch_end(self):
        for d in self._datasets:
            d.on_epoch_end()
        self._reset()  # (the same choices again for a seeded dataset, new ones otherwise)


def _check_datasets(datasets, fn):
    datasets = list(datasets.values()) if isinstance(datasets, dict) else list(datasets)
    if not datasets or not all(isinstance(d, BatchDataset) for d in datasets):
        raise TypeError(f"{fn}: `datasets` must be a non-empty list of datasets. Received: {datasets!r}"[:300])
    return datasets


def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False,
                         rerandomize_each_iteration=None):
    """Each element drawn from ``datasets[i]`` with probability ``weights[i]`` (equal by default):
    the imbalanced-data tutorial's oversampling. A dataset that runs out is left out (its weight
    shared by the others), or ends it with ``stop_on_empty_dataset``; ``seed`` makes the draws
    repeatable (and, unless ``rerandomize_each_iteration``, the same each pass)."""
    fn = "Dataset.sample_from_datasets"
    datasets = _check_datasets(datasets, fn)
    p = np.full(len(datasets), 1.0 / len(datasets)) if weights is None else \
        np.asarray(weights, dtype=np.float64).reshape(-1)
    if p.shape != (len(datasets),) or np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError(f"{fn}: `weights` must be {len(datasets)} non-negative numbers, one per dataset, not all 0. "
                         f"Received: {weights!r}"[:300])
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"{fn}: `seed` must be a non-negative integer or None. Received: seed={seed!r}")
    base = int(seed) if seed is not None else int(np.random.randint(2**31))  # (as shuffle draws its seed)
    passes = [0]

    def choices(exhausted):
        rng = np.random.default_rng([base, passes[0]] if rerandomize_each_iteration else base)
        passes[0] += 1
        while True:
            state = list(exhausted)
            live = p * ~np.asarray(state)
            if stop_on_empty_dataset and any(state) or live.sum() <= 0:
                return
            # (drawn 1024 at a time; drawn again from the first element after a dataset runs out)
            for k in rng.choice(len(live), size=1024, p=live / live.sum()).tolist():
                yield k
                if list(exhausted) != state:
                    break

    return _Chosen(datasets, choices, fn)


def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
    """Element k from ``datasets[choice_dataset[k]]`` (its next one); a choice of a dataset that
    ran out ends it (``stop_on_empty_dataset``) or is skipped."""
    fn = "Dataset.choose_from_datasets"
    datasets = _check_datasets(datasets, fn)
    if not isinstance(choice_dataset, BatchDataset):
        raise TypeError(f"{fn}: `choice_dataset` must be a dataset of integers. Received: "
                        f"{type(choice_dataset).__name__}")

    def choices(exhausted):
        for value in choice_dataset:
            k = int(np.asarray(value).reshape(-1)[0]) if np.size(value) == 1 else None
            if k is None or not 0 <= k < len(datasets):
                raise ValueError(f"{fn}: each element of `choice_dataset` must be an index in [0, {len(datasets)}). "
                                 f"Received: {np.asarray(value).tolist()}")
            if exhausted[k]:
                if stop_on_empty_dataset:
                    return
                continue
            yield k

    return _Chosen(datasets, choices, fn)


def _signature_dtypes(signature):
    """The dtypes of ``output_signature`` (TensorSpecs) or ``output_types`` (dtypes), in `_parts` order."""
    if signature is None:
        return None
    if isinstance(signature, dict):
        return [d for part in signature.values() for d in _signature_dtypes(part)]
    if type(signature) in (tuple, list):
        return [d for part in signature for d in _signature_dtypes(part)]
    dtype = signature if isinstance(signature, (type, str, np.dtype)) else getattr(signature, "dtype", signature)
    if dtype is None:
        return [None]
    return [np.dtype(str) if isinstance(dtype, str) and dtype == "string" or dtype in (np.str_, str, bytes)
            else np.dtype(dtype)]


_GENERATOR_BYTES = 2 * 2**30  # the most a pass of a generator may hold


class _FromGenerator(BatchDataset):
    _name = "Dataset.from_generator"

    def __init__(self, generator, args, dtypes=None):
        self._generator, self._args, self._elements, self._dtypes = generator, args, None, dtypes

    def _element(self, element):
        element = _map(_as_tensor, element if type(element) is not list else tuple(element))
        if self._dtypes is None:
            return element
        parts = _parts(element)
        if len(parts) != len(self._dtypes):
            raise ValueError(f"{self._name}: the generator yielded {len(parts)} arrays where the signature describes "
                             f"{len(self._dtypes)}")
        return _rebuild(element, iter(p if t is None else p.astype(t, copy=False) for p, t in zip(parts, self._dtypes)))

    def _all(self):
        if self._elements is None:
            elements, held = [], 0
            for element in self._generator(*self._args):
                elements.append(self._element(element))
                held += sum(np.asarray(p).nbytes for p in _parts(elements[-1]))
                # (fastnn's datasets hold a pass of a generator; an endless one, flow_from_directory's,
                # would fill the memory before anything said so)
                if len(elements) > 10_000_000 or held > _GENERATOR_BYTES:
                    raise ValueError(f"Dataset.from_generator: the generator gave {len(elements)} elements "
                                     f"({held / 2**30:.1f} GiB) and goes on; fastnn's datasets hold one pass of a "
                                     "generator, so it must end. For an endless one (ImageDataGenerator's flow, "
                                     "flow_from_directory) give the generator itself to fit with steps_per_epoch, "
                                     "or make it stop")
            self._elements = elements
        return self._elements

    def __len__(self):
        return len(self._all())

    def _get(self, index):
        return self._all()[index]

    def on_epoch_end(self):
        self._elements = None


class Dataset:
    """``tf.data.Dataset``'s constructors for the course scripts' input pipelines
    (``fastnn.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(64)``)."""

    @staticmethod
    def from_tensor_slices(tensors, name=None):
        if name is not None and not isinstance(name, str):  # (from_tensor_slices(x, y): y would be lost)
            raise TypeError("Dataset.from_tensor_slices takes one structure of arrays: from_tensor_slices((x, y)), "
                            f"a tuple. Received a second argument of type {type(name).__name__} (as `name`)")
        return TensorSlices(tensors)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None, name=None):
        """The paths matching ``file_pattern`` (a glob or a list of them), one string element each,
        sorted, then shuffled at each pass unless ``shuffle=False`` (`fastnn._tf_io.list_files`)."""
        from ._tf_io import list_files

        return list_files(file_pattern, shuffle=shuffle, seed=seed)

    @staticmethod
    def zip(*datasets, name=None):
        """Element ``i`` is the tuple (or dict) of the datasets' elements ``i``; as long as the shortest."""
        structure = datasets[0] if len(datasets) == 1 and isinstance(datasets[0], (tuple, list, dict)) else datasets
        return _Zipped(structure)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None,
                       name=None):
        """The elements a (finite) generator yields: ``generator()`` (with ``args``) is run again
        at each pass. fastnn's datasets have a length, so an endless generator cannot serve."""
        if not callable(generator):
            raise TypeError(f"Dataset.from_generator: `generator` must be a callable returning an iterator. Received: "
                            f"{generator!r}"[:300])
        # (the arrays take the signature's dtypes, as TensorFlow converts them: int32 ids, float32 values)
        dtypes = _signature_dtypes(output_signature if output_signature is not None else output_types)
        return _FromGenerator(generator, tuple(args) if args is not None else (), dtypes)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of one element: ``tensors`` whole."""
        return _Elements([_map(_as_tensor, tensors)])

    sample_from_datasets = staticmethod(sample_from_datasets)
    choose_from_datasets = staticmethod(choose_from_datasets)

    @staticmethod
    def counter(start=0, step=1, dtype=np.int64, name=None):
        """``start``, ``start + step``, ... for ever (``tf.data.experimental.Counter``; zipped with a
        dataset it numbers its elements, as the data-augmentation tutorial's seeds)."""
        if not _is_int(start) or not _is_int(step):
            raise ValueError(f"Dataset.counter: start and step must be integers. Received: start={start!r}, "
                             f"step={step!r}")
        counts = _Counts(int(start), None, int(step), getattr(dtype, "name", dtype))
        counts._name = "Dataset.counter"
        return counts

    @staticmethod
    def range(*args, dtype=np.int64, output_type=None, name=None):
        """``tf.data.Dataset.range(stop)`` or ``(start, stop[, step])``: the integers, one element each
        (int64, or ``output_type``)."""
        dtype = dtype if output_type is None else output_type
        if not 1 <= len(args) <= 3 or not all(_is_int(a) for a in args):
            raise ValueError(f"Dataset.range: expected (stop), (start, stop) or (start, stop, step) integers. "
                             f"Received: {args!r}")
        ds = TensorSlices(np.arange(*args, dtype=dtype))
        ds._name = "Dataset.range"
        return ds


__all__ = ["AUTOTUNE", "BatchDataset", "Dataset", "TensorSlices", "buffer_shuffle"]
