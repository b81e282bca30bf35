"""fastnn.preprocessing.sequence — Keras's ``pad_sequences`` and tf.keras 2's ``TimeseriesGenerator``."""

from __future__ import annotations

import numpy as np

from ..utils import Sequence


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Lists of (token) sequences as one (N, maxlen) array, as Keras pads them.

    Args:
        sequences: a list of sequences (lists or arrays; each element a number or an array of a
            common shape).
        maxlen: the length of every row; default the longest sequence's.
        dtype: the array's dtype. padding, truncating: "pre" (Keras's default: at the start) or
            "post". value: the padding value.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post'. Received: padding={padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post'. Received: truncating={truncating!r}")
    try:
        rows = [np.asarray(s) for s in sequences]
    except TypeError:
        raise ValueError("pad_sequences: `sequences` must be a list of sequences") from None
    lengths = [len(r) if r.ndim else -1 for r in rows]
    if any(n < 0 for n in lengths):
        raise ValueError("pad_sequences: every element of `sequences` must be a sequence (a list or an array)")
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative integer or None. Received: maxlen={maxlen!r}")
    sample_shape = next((r.shape[1:] for r in rows if len(r)), ())
    strings = next((r.dtype.kind in "USO" for r in rows if len(r)), False)
    if (strings or isinstance(value, str)) and np.dtype(dtype).kind not in "USO":
        # (Keras's message: an int32 array cannot hold words)
        raise ValueError(f"pad_sequences: `dtype` {np.dtype(dtype)} is not compatible with sequences of strings "
                         f"(or a string `value`). You should set `dtype=object` (and a string `value`, e.g. '') for "
                         "variable length strings")
    out = np.full((len(rows), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, r in enumerate(rows):
        if not len(r) or not maxlen:
            continue
        if r.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: sequence {i} has elements of shape {r.shape[1:]}, the others "
                             f"{tuple(sample_shape)}")
        kept = r[-maxlen:] if truncating == "pre" else r[:maxlen]
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out


class TimeseriesGenerator(Sequence):
    """tf.keras 2's ``TimeseriesGenerator``: batches of windows of a time series, a Sequence that
    fit, evaluate and predict take. Window ``i`` is ``data[row - length:row:sampling_rate]`` and its
    target ``targets[row]``, the step right after it (``timeseries_dataset_from_array``'s target is
    the one at the window's start); rows run from ``start_index + length`` to ``end_index`` (default
    the last) every ``stride``, ``batch_size`` of them a batch (with ``shuffle``, rows drawn at random
    for each batch; ``reverse`` flips each window in time).

    Example: ``TimeseriesGenerator(data, targets, length=10, sampling_rate=2, batch_size=2)`` over
    50 steps has 20 batches; the first is windows [0, 2, 4, 6, 8] and [1, 3, 5, 7, 9], targets 10 and 11.
    """

    def __init__(self, data, targets, length, sampling_rate=1, stride=1, start_index=0, end_index=None,
                 shuffle=False, reverse=False, batch_size=128):
        if len(data) != len(targets):
            raise ValueError(f"TimeseriesGenerator: data and targets must have the same length. Received: "
                             f"{len(data)} and {len(targets)}")
        for name, value in (("length", length), ("sampling_rate", sampling_rate), ("stride", stride),
                            ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"TimeseriesGenerator: {name} must be a positive integer. Received: {value!r}")
        self.data, self.targets = data, targets
        self.length, self.sampling_rate, self.stride = int(length), int(sampling_rate), int(stride)
        self.start_index = int(start_index) + self.length
        self.end_index = len(data) - 1 if end_index is None else int(end_index)
        self.shuffle, self.reverse, self.batch_size = bool(shuffle), bool(reverse), int(batch_size)
        if self.start_index > self.end_index:
            raise ValueError(f"TimeseriesGenerator: start_index+length={self.start_index} > end_index="
                             f"{self.end_index} is disallowed, as no part of the sequence would be left to be used "
                             "as the current step")

    def __len__(self):
        return (self.end_index - self.start_index + self.batch_size * self.stride) // (self.batch_size * self.stride)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"TimeseriesGenerator: batch {index} out of range for {len(self)} batches")
        if self.shuffle:
            from ..utils import global_rng

            rows = global_rng().integers(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            i = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(i, min(i + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[row - self.length:row:self.sampling_rate] for row in rows])
        targets = np.array([self.targets[row] for row in rows])
        return (samples[:, ::-1, ...] if self.reverse else samples), targets
