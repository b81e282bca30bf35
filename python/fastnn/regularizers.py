"""fastnn.regularizers — weight and activity penalties (Keras 3 formulas).

A regularizer is called on an array and returns the penalty added to the training loss;
``gradient(x)`` is its derivative, added to the weight's gradient (or, for an activity
regularizer, to the gradient flowing into the layer's output). A weight's penalty sums over all
its values; a layer's activity penalty is that sum divided by the batch size (`per_sample`), as
tf.keras 2 and Keras 3.14+ add it (Keras 3.0-3.13 did not divide).

    L1(l1):        l1 · Σ|x|            gradient l1 · sign(x)
    L2(l2):        l2 · Σx²             gradient 2 · l2 · x
    L1L2(l1, l2):  the sum of both
    OrthogonalRegularizer(factor, mode): factor · mean |u_i · u_j| over pairs of normalised rows (or columns)
"""

from __future__ import annotations

import numpy as np

from ._config import Configurable, FromFunction, lookup, serialize


class Regularizer(Configurable):
    """Base class: ``__call__(x) -> float`` penalty, ``gradient(x) -> array``. A subclass of your
    own may define ``__call__`` alone, with the backend functions (``tf.reduce_sum(tf.abs(
    self.factor * weights))``, Géron's MyL1Regularizer): its gradient is derived on the tape."""

    def __call__(self, x):
        raise NotImplementedError

    def gradient(self, x):
        from . import autodiff

        x = np.asarray(x)
        leaf = autodiff.Tensor(x)
        penalty = self(leaf)
        if not isinstance(penalty, autodiff.Tensor):  # (computed without the backend functions: a constant)
            return np.zeros_like(x)
        return np.asarray(autodiff.grad(penalty, [leaf])[0], dtype=x.dtype).reshape(x.shape)


class _FromFunction(FromFunction, Regularizer):
    """A regularizer from a plain function of the weight (``kernel_regularizer=my_l1_regularizer``)."""

    def __call__(self, x):
        return self.function(x)


def _coefficient(value, name, cls):
    v = float(value)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{cls}: expected a finite, non-negative {name}. Received: {name}={value!r}")
    return v


class L1L2(Regularizer):
    """``l1 · Σ|x| + l2 · Σx²``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _coefficient(l1, "l1", type(self).__name__)
        self.l2 = _coefficient(l2, "l2", type(self).__name__)

    def __call__(self, x):
        x = np.asarray(x)
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.sum(np.abs(x), dtype=np.float64))
        if self.l2:
            penalty += self.l2 * float(np.sum(np.square(x), dtype=np.float64))
        return penalty

    def gradient(self, x):
        x = np.asarray(x)
        g = np.zeros_like(x)
        if self.l1:
            g += self.l1 * np.sign(x)
        if self.l2:
            g += (2 * self.l2) * x
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 · Σ|x|`` (default l1=0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 · Σx²`` (default l2=0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Keras 3's push towards orthogonal rows (``mode="rows"``; of a Dense kernel ``(inputs,
    units)``: the input features' weight vectors) or columns: ``factor`` times the mean of
    ``|u_i · u_j|`` over the pairs i != j of the L2-normalised rows (columns)."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _coefficient(factor, "factor", type(self).__name__)
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: invalid value for argument `mode`. Expected one of "
                             f"{{'rows', 'columns'}}. Received: mode={mode!r}")
        self.mode = mode

    def _vectors(self, x):
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: inputs must have rank 2. Received: inputs.shape={x.shape}")
        rows = x if self.mode == "rows" else x.T
        norms = np.sqrt(np.maximum(np.sum(np.square(rows, dtype=np.float64), axis=1, keepdims=True), 1e-14))
        return rows / norms, norms  # (Keras's normalize: rsqrt of the squared norm clamped at epsilon²)

    def _scale(self, n):
        # factor · ½ Σ_{i≠j} |P_ij| / (n (n - 1) / 2): the mean over the pairs
        return self.factor / (n * (n - 1.0)) if n > 1 else 0.0

    def __call__(self, x):
        units, _ = self._vectors(x)
        product = units @ units.T
        np.fill_diagonal(product, 0.0)
        return self._scale(len(units)) * float(np.sum(np.abs(product)))

    def gradient(self, x):
        units, norms = self._vectors(x)
        product = units @ units.T
        signs = np.sign(product) * self._scale(len(units))
        np.fill_diagonal(signs, 0.0)
        d_units = 2.0 * signs @ units  # (the sign matrix is symmetric)
        d_rows = (d_units - units * np.sum(units * d_units, axis=1, keepdims=True)) / norms
        return (d_rows if self.mode == "rows" else d_rows.T).astype(np.asarray(x).dtype)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1_l2 = L1L2  # (Keras 3's alias: l1_l2(l1=0.001) has no L2 term; tf.keras 2's function defaulted both to 0.01)


def _l1_l2_string():
    """The string ``"l1_l2"``: both factors 0.01, as Keras's L1L2 docstring gives it."""
    return L1L2(l1=0.01, l2=0.01)


# Keras's lower-case spellings: ``regularizers.l2(0.001)``.
l1, l2 = L1, L2

orthogonal_regularizer = OrthogonalRegularizer

_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer}
_ALIASES = {"l1": L1, "l2": L2, "l1_l2": _l1_l2_string, "l1l2": _l1_l2_string,
            "orthogonal_regularizer": OrthogonalRegularizer}


def get(identifier):
    """A regularizer from a name (``"l2"``), a config dict or an instance; None stays None."""
    return lookup(identifier, "regularizer", Regularizer, _CLASSES, _ALIASES, _FromFunction)


def deserialize(config):
    """The inverse of `serialize`."""
    return get(config)


__all__ = [
    "serialize", "Regularizer", "L1L2", "L1", "L2", "OrthogonalRegularizer", "l1_l2", "l1", "l2",
    "orthogonal_regularizer", "get", "deserialize"
]


class per_sample:
    """An activity regularizer as a model adds it: the penalty of a batch of outputs divided by the
    batch size (its gradient too), so that its strength does not depend on the batch size."""

    def __init__(self, regularizer):
        self.regularizer = regularizer

    def __call__(self, x):
        n = len(x) if np.ndim(x) else 1
        return self.regularizer(x) / n if n else 0.0

    def gradient(self, x):
        n = len(x) if np.ndim(x) else 1
        return self.regularizer.gradient(x) / n if n else np.zeros_like(x)
