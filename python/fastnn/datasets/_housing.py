"""What the housing regression sets share: reading Keras's ``.npz`` (arrays ``x`` and ``y``, no
pickle) and Keras's shuffled train/test split."""

from __future__ import annotations

import numpy as np

from . import _pickle


def read_xy(path, n_features: int, title: str):
    """``x`` (N, n_features) and ``y`` (N,) of the file, numeric; ValueError naming it otherwise."""
    f = _pickle.read_npz(path, ("x", "y"), allow_object=False)
    x, y = f["x"], f["y"]
    for key, a in (("x", x), ("y", y)):
        if a.dtype.kind not in "fiu":
            raise ValueError(f"{path}[{key}]: must be a numeric array. Received: dtype={a.dtype}")
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"{path}[x]: {title} samples must be (N, {n_features}). Received: shape={x.shape}")
    if y.ndim != 1:
        raise ValueError(f"{path}[y]: {title} targets must be (N,). Received: shape={y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{path}[x] holds {x.shape[0]} samples but {path}[y] holds {y.shape[0]} targets: the counts must be equal"
        )
    return x, y


def split(x, y, test_split: float, seed):
    """Keras's split: shuffle with ``np.random.RandomState(seed)``, then the first
    ``int(N * (1 - test_split))`` samples for training and the rest for testing."""
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x = x[indices]
    y = y[indices]
    n_train = int(len(x) * (1 - test_split))
    return (np.array(x[:n_train]), np.array(y[:n_train])), (np.array(x[n_train:]), np.array(y[n_train:]))
