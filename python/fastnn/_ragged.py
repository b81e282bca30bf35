"""TensorFlow's ragged tensors, as far as the text tutorials use them: a batch of rows of different
lengths (``tf.strings.unicode_split`` of a batch of strings; the ids a StringLookup gives for it),
made dense with ``to_tensor()``. The "Text generation with an RNN" tutorial's OneStep model:
``ids_from_chars(tf.strings.unicode_split(inputs, 'UTF-8')).to_tensor()``, and back with
``tf.strings.reduce_join(chars_from_ids(ids), axis=-1)``.

A RaggedTensor here is 2-D: ``flat_values`` (the rows one after another) and ``row_splits`` (row i
is ``flat_values[row_splits[i]:row_splits[i + 1]]``). Elementwise functions take its flat values
(``tf.ragged.map_flat_values``, arithmetic with numbers, the lookup layers); everything else in
fastnn is dense, so ``to_tensor`` is the way into a model.
"""

from __future__ import annotations

import types

import numpy as np

from ._batch_dataset import EagerArray
from .autodiff import _value


class RaggedTensor:
    """``tf.RaggedTensor``: rows of different lengths (see the module docstring)."""

    def __init__(self, flat_values, row_splits):
        self.flat_values = np.asarray(_value(flat_values))
        self.row_splits = np.asarray(_value(row_splits), dtype=np.int64).reshape(-1)
        splits = self.row_splits
        if self.flat_values.ndim != 1:
            raise ValueError(f"RaggedTensor: flat_values must be 1-D (fastnn's ragged tensors are 2-D). Received: "
                             f"shape={self.flat_values.shape}")
        if len(splits) < 1 or splits[0] != 0 or splits[-1] != len(self.flat_values) or np.any(np.diff(splits) < 0):
            raise ValueError(f"RaggedTensor: row_splits must start at 0, never decrease and end at the number of "
                             f"values ({len(self.flat_values)}). Received: row_splits={splits.tolist()}")

    # ---- making one ----------------------------------------------------------------------------

    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True):
        return cls(values, row_splits)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True):
        lengths = np.asarray(_value(row_lengths), dtype=np.int64).reshape(-1)
        if np.any(lengths < 0):
            raise ValueError(f"RaggedTensor.from_row_lengths: lengths must be >= 0. Received: {lengths.tolist()}")
        return cls(values, np.concatenate([[0], np.cumsum(lengths)]))

    @classmethod
    def from_rows(cls, rows):
        """From a list of 1-D arrays (or lists), one per row."""
        rows = [np.asarray(_value(r)).reshape(-1) for r in rows]
        kept = [r for r in rows if r.size] or rows  # (an empty row's float64 does not decide the dtype)
        values = np.concatenate(rows).astype(np.result_type(*kept), copy=False) if rows else np.zeros(0, np.float32)
        return cls(values, np.concatenate([[0], np.cumsum([len(r) for r in rows])]))

    @classmethod
    def from_tensor(cls, tensor, lengths=None, padding=None, name=None):
        """The rows of a dense (N, T) tensor, each cut to its ``lengths`` entry, or before its
        trailing ``padding`` values."""
        dense = np.asarray(_value(tensor))
        if dense.ndim != 2:
            raise ValueError(f"RaggedTensor.from_tensor: expected a 2-D tensor. Received: shape={dense.shape}")
        if lengths is not None:
            counts = np.asarray(_value(lengths), dtype=np.int64).reshape(-1)
        elif padding is not None:
            kept = dense != padding
            counts = np.where(kept.any(axis=1), dense.shape[1] - np.argmax(kept[:, ::-1], axis=1), 0)
        else:
            counts = np.full(len(dense), dense.shape[1])
        return cls.from_rows([row[:n] for row, n in zip(dense, counts)])

    # ---- reading it ----------------------------------------------------------------------------

    @property
    def values(self):
        return self.flat_values

    @property
    def dtype(self):
        return self.flat_values.dtype

    @property
    def shape(self):
        """(rows, None): the second axis has no one size."""
        return (self.nrows(), None)

    @property
    def ragged_rank(self):
        return 1

    def nrows(self):
        return len(self.row_splits) - 1

    def row_lengths(self):
        return np.diff(self.row_splits).view(EagerArray)

    def to_tensor(self, default_value=None, shape=None, name=None):
        """The rows padded to the longest with ``default_value`` (0, or "" for strings) as an
        (N, T) tensor; ``shape`` (N or None, T or None) cuts or pads to a given size."""
        lengths = np.diff(self.row_splits)
        rows, width = self.nrows(), int(lengths.max()) if len(lengths) else 0
        if shape is not None:
            rows = rows if shape[0] in (None, -1) else int(shape[0])
            width = width if shape[1] in (None, -1) else int(shape[1])
        if default_value is None:
            default_value = "" if self.dtype.kind in "SUO" else 0
        out = np.full((rows, width), default_value, dtype=self.dtype if self.dtype.kind != "U" else
                      np.result_type(self.dtype, np.asarray(default_value).dtype))
        kept = min(rows, self.nrows())  # (each row's first min(length, width) values, in one gather)
        inside = np.arange(width)[None, :] < np.minimum(lengths[:kept], width)[:, None]
        out[:kept][inside] = self.flat_values[(self.row_splits[:kept, None] + np.arange(width)[None, :])[inside]]
        return out.view(EagerArray)

    def to_list(self):
        return [row.tolist() for row in self]

    def numpy(self):
        """TensorFlow's: an object array of the rows' arrays."""
        out = np.empty(self.nrows(), dtype=object)
        out[:] = [np.asarray(row) for row in self]
        return out

    def with_flat_values(self, new_values):
        values = np.asarray(_value(new_values))
        if values.shape[:1] != self.flat_values.shape[:1]:
            raise ValueError(f"RaggedTensor.with_flat_values: expected {len(self.flat_values)} values. Received: "
                             f"shape={values.shape}")
        return RaggedTensor(values.reshape(-1), self.row_splits)

    def __len__(self):
        return self.nrows()

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            i = int(key) + self.nrows() if key < 0 else int(key)
            if not 0 <= i < self.nrows():
                raise IndexError(f"RaggedTensor: row {key} is outside its {self.nrows()} rows")
            return self.flat_values[self.row_splits[i]:self.row_splits[i + 1]].view(EagerArray)
        if isinstance(key, slice):
            return RaggedTensor.from_rows([self[i] for i in range(*key.indices(self.nrows()))])
        raise TypeError(f"RaggedTensor: index with a row number or a slice of rows. Received: {key!r}")

    def __iter__(self):
        return (self[i] for i in range(self.nrows()))

    def _elementwise(self, other, op):
        if isinstance(other, RaggedTensor):
            if not np.array_equal(other.row_splits, self.row_splits):
                raise ValueError("RaggedTensor: the two ragged tensors have different row lengths")
            other = other.flat_values
        elif np.ndim(_value(other)) != 0:
            raise ValueError("RaggedTensor: arithmetic with a number or a ragged tensor of the same row lengths")
        return self.with_flat_values(op(self.flat_values, _value(other)))

    def __add__(self, other):
        return self._elementwise(other, np.add)

    def __sub__(self, other):
        return self._elementwise(other, np.subtract)

    def __mul__(self, other):
        return self._elementwise(other, np.multiply)

    def __truediv__(self, other):
        return self._elementwise(other, np.true_divide)

    def __radd__(self, other):
        return self._elementwise(other, lambda a, b: b + a)

    def __rmul__(self, other):
        return self._elementwise(other, lambda a, b: b * a)

    def __eq__(self, other):
        return self._elementwise(other, np.equal)

    __hash__ = None

    def __repr__(self):
        return f"<tf.RaggedTensor {self.to_list()!r}>"


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None, row_splits_dtype=None):
    """``tf.ragged.constant([[1, 2], [3]])``: a list of rows."""
    rows = [list(np.asarray(r).reshape(-1).tolist()) for r in pylist]
    values = np.asarray([v for r in rows for v in r], dtype=dtype)
    if dtype is None and values.dtype.kind == "i":  # (TensorFlow's int32 for Python ints)
        values = values.astype(np.int32)
    elif dtype is None and values.dtype.kind == "f":
        values = values.astype(np.float32)
    return RaggedTensor.from_row_lengths(values, [len(r) for r in rows])


def map_flat_values(op, *args, **kwargs):
    """``op`` applied to the flat values of the ragged arguments (all of the same row lengths)."""
    ragged = [a for a in list(args) + list(kwargs.values()) if isinstance(a, RaggedTensor)]
    if not ragged:
        raise ValueError("tf.ragged.map_flat_values: expected at least one RaggedTensor argument")
    splits = ragged[0].row_splits
    if any(not np.array_equal(r.row_splits, splits) for r in ragged[1:]):
        raise ValueError("tf.ragged.map_flat_values: the ragged arguments have different row lengths")

    def flat(a):
        return a.flat_values if isinstance(a, RaggedTensor) else a

    out = op(*(flat(a) for a in args), **{k: flat(v) for k, v in kwargs.items()})
    return RaggedTensor(np.asarray(_value(out)).reshape(-1), splits)


ragged = types.ModuleType("fastnn.ragged", "TensorFlow's tf.ragged: constant, map_flat_values (2-D ragged tensors).")
ragged.constant = constant
ragged.map_flat_values = map_flat_values
ragged.RaggedTensor = RaggedTensor
