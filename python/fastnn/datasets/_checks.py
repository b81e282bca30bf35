"""Argument checks of the Keras dataset loaders: a ValueError naming the argument, what was
expected and what was received (Keras's ``Received: name=value`` style)."""

from __future__ import annotations

import numbers

import numpy as np


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(caller: str, name: str, value, minimum: int = 0, allow_none: bool = False):
    """``value`` as a Python int (or None when allowed); ValueError unless an integer >= ``minimum``."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value < minimum:
        expected = f"an integer >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"{caller}: {name} must be {expected}. Received: {name}={value!r}")
    return int(value)


def check_test_split(caller: str, test_split) -> float:
    """``test_split`` as a float; ValueError unless a real number in [0, 1)."""
    ok = isinstance(test_split, numbers.Real) and not isinstance(test_split, (bool, np.bool_))
    if not ok or not 0 <= test_split < 1:
        raise ValueError(
            f"{caller}: test_split must be a number in [0, 1) (the fraction of the samples kept for "
            f"testing). Received: test_split={test_split!r}"
        )
    return float(test_split)


def check_seed(caller: str, seed):
    """``seed`` for ``np.random.RandomState``: an integer in [0, 2**32) (None: unseeded, as NumPy)."""
    if seed is None:
        return None
    if not is_int(seed) or not 0 <= seed < 2**32:
        raise ValueError(f"{caller}: seed must be an integer in [0, 2**32) or None. Received: seed={seed!r}")
    return int(seed)


def check_choice(caller: str, name: str, value, choices):
    """ValueError unless ``value`` is one of the strings ``choices``."""
    if not (isinstance(value, str) and value in choices):
        expected = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{caller}: {name} must be one of {expected}. Received: {name}={value!r}")
    return value
