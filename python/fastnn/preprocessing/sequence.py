"""fastnn.preprocessing.sequence — Keras's ``pad_sequences``."""

from __future__ import annotations

import numpy as np


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
