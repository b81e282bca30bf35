"""What IMDB and Reuters share: reading and checking Keras's sequence files, and Keras's processing steps.

Keras's ``imdb.npz`` and ``reuters.npz`` hold the reviews / newswires as 1-D object arrays whose
items are lists of word indices (1 = the most frequent word), read here through the restricted
unpickler (_pickle.read_npz), and their labels as integer arrays. The steps below are those of
``keras.datasets.imdb/reuters.load_data``, in the same order and on the same Python types, so that
the same arguments give the same arrays (the same elements, dtypes and shapes) as Keras.
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import _checks, _pickle

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def check_args(caller, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    """The common arguments, checked (ValueError naming the argument) and made Python ints."""
    return (
        _checks.check_int(caller, "num_words", num_words, minimum=1, allow_none=True),
        _checks.check_int(caller, "skip_top", skip_top, minimum=0),
        _checks.check_int(caller, "maxlen", maxlen, minimum=1, allow_none=True),
        _checks.check_seed(caller, seed),
        _checks.check_int(caller, "start_char", start_char, minimum=0, allow_none=True),
        _checks.check_int(caller, "oov_char", oov_char, minimum=0, allow_none=True),
        _checks.check_int(caller, "index_from", index_from, minimum=0),
    )


def check_sequences(x, where) -> None:
    """ValueError naming ``where`` unless ``x`` is a 1-D object array of sequences of word indices
    (lists of integers >= 0, or 1-D integer arrays)."""
    if not isinstance(x, np.ndarray) or x.dtype != object or x.ndim != 1:
        got = f"shape {x.shape}, dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{where}: must be a 1-D object array of sequences (lists of word indices). Received: {got}")
    for i, s in enumerate(x):
        if isinstance(s, np.ndarray):
            if s.ndim != 1 or s.dtype.kind not in "iu":
                raise ValueError(
                    f"{where}: sequence {i} is an array of shape {s.shape}, dtype {s.dtype}; "
                    f"expected a list of word indices"
                )
        elif type(s) is list:
            types = set(map(type, s))
            if types - {int}:
                for t in types:
                    if not issubclass(t, (int, np.integer)) or issubclass(t, (bool, np.bool_)):
                        raise ValueError(f"{where}: sequence {i} holds a {t.__name__}; word indices must be integers")
        else:
            raise ValueError(f"{where}: sequence {i} is a {type(s).__name__}; expected a list of word indices")
        if len(s) and min(s) < 0:
            raise ValueError(f"{where}: sequence {i} holds the word index {min(s)}; word indices must be >= 0")


def check_labels(y, n, num_classes, where, x_where) -> None:
    """ValueError naming ``where`` unless ``y`` is ``n`` integer labels in [0, num_classes)."""
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype.kind not in "iu":
        got = f"shape {y.shape}, dtype {y.dtype}" if isinstance(y, np.ndarray) else type(y).__name__
        raise ValueError(f"{where}: labels must be a 1-D integer array. Received: {got}")
    if y.shape[0] != n:
        raise ValueError(
            f"{x_where} holds {n} sequences but {where} holds {y.shape[0]} labels: the counts must be equal"
        )
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise ValueError(f"{where}: labels must be in [0, {num_classes}). Received: label {bad}")


def read(path, pairs, num_classes) -> dict:
    """The arrays of ``pairs`` ((sequences key, labels key)...) of the .npz file, checked."""
    keys = tuple(k for pair in pairs for k in pair)
    arrays = _pickle.read_npz(path, keys)
    for xk, yk in pairs:
        check_sequences(arrays[xk], f"{path}[{xk}]")
        check_labels(arrays[yk], len(arrays[xk]), num_classes, f"{path}[{yk}]", f"{path}[{xk}]")
    return arrays


def shuffle(rng, x, y):
    """``x`` and ``y`` in the order of ``rng.shuffle(np.arange(len(x)))``, as Keras shuffles them."""
    indices = np.arange(len(x))
    rng.shuffle(indices)
    return x[indices], y[indices]


def shift(xs, start_char, index_from) -> list:
    """Each sequence's word indices plus ``index_from``, after ``start_char`` when not None."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [[w for w in x] for x in xs]


def drop_long(maxlen, xs, labels):
    """Keras's ``remove_long_seq``: the sequences shorter than ``maxlen`` (strictly) and their labels, as lists."""
    kept_x, kept_y = [], []
    for x, y in zip(xs, labels):
        if len(x) < maxlen:
            kept_x.append(x)
            kept_y.append(y)
    return kept_x, kept_y


def largest_index(xs) -> int:
    """Keras's default ``num_words``: the largest index in the sequences (0 when they are all empty)."""
    return max((max(x) for x in xs if len(x)), default=0)


def cut(xs, num_words, skip_top, oov_char) -> list:
    """Indices outside [skip_top, num_words) replaced by ``oov_char``, or dropped when it is None."""
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def read_word_index(path) -> dict:
    """The word -> index dict of a Keras ``*_word_index.json`` file; ValueError naming it when it is
    not JSON or not a mapping of words to integers >= 0."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path}: not a valid JSON word index ({type(e).__name__}: {e})") from None
    if not isinstance(index, dict):
        raise ValueError(
            f"{path}: a word index is a JSON object mapping words to indices. Received: {type(index).__name__}"
        )
    for word, i in index.items():
        if type(i) is not int or i < 0:
            raise ValueError(f"{path}: the index of {word!r} must be an integer >= 0. Received: {i!r}")
    return index
