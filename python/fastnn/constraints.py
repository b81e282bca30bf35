"""fastnn.constraints — projections applied to a weight after each optimizer step (Keras's
formulas), e.g. ``Dense(512, kernel_constraint=MaxNorm(3))`` as in the dropout paper's recipe.

    MaxNorm(max_value=2, axis=0):  w · clip(‖w‖, 0, max_value) / (ε + ‖w‖)
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0):
                                   w · (rate · clip(‖w‖, min, max) + (1 - rate) · ‖w‖) / (ε + ‖w‖)
    UnitNorm(axis=0):              w / (ε + ‖w‖)
    NonNeg():                      w · (w ≥ 0)

‖w‖ is the L2 norm over ``axis`` (a Dense kernel's axis 0: each unit's incoming weights; for a
Conv2D kernel (rows, cols, in, out) Keras's advice is axis=[0, 1, 2]); ε = 1e-7. `fit` and
`train_on_batch` apply them after every update, as Keras does.
"""

from __future__ import annotations

import numpy as np

from ._config import Configurable, FromFunction, lookup, serialize

_EPSILON = 1e-7


class Constraint(Configurable):
    """Base class: ``__call__(w)`` returns the projected weight (same shape and dtype)."""

    def __call__(self, w):
        return w


class _FromFunction(FromFunction, Constraint):
    """A constraint from a plain function of the weight (Géron's ``my_positive_weights``)."""

    def __call__(self, w):
        from . import autodiff

        return np.asarray(autodiff._value(self.function(w)), dtype=np.asarray(w).dtype)


def _axis(axis):
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else int(axis)


def _non_negative(value, name, cls):
    v = float(value)
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{cls}: expected a finite, non-negative {name}. Received: {name}={value!r}")
    return v


class _Norm(Constraint):
    def _norms(self, w):
        try:
            return np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True))
        except np.exceptions.AxisError:
            raise ValueError(f"{type(self).__name__}: axis={self.axis} does not fit a weight of shape {w.shape}") \
                from None

    def _config_axis(self):
        return list(self.axis) if isinstance(self.axis, tuple) else self.axis


class MaxNorm(_Norm):
    """Rescale the weights whose norm over ``axis`` exceeds ``max_value`` down to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _non_negative(max_value, "max_value", "MaxNorm")
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = self._norms(w)
        return (w * (np.clip(norms, 0, self.max_value) / (_EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self._config_axis()}


class MinMaxNorm(_Norm):
    """Move each norm over ``axis`` into [min_value, max_value] (by the fraction ``rate``)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _non_negative(min_value, "min_value", "MinMaxNorm")
        self.max_value = _non_negative(max_value, "max_value", "MinMaxNorm")
        self.rate = _non_negative(rate, "rate", "MinMaxNorm")
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = self._norms(w)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (_EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self._config_axis()}


class UnitNorm(_Norm):
    """Scale each slice over ``axis`` to norm 1."""

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        return (w / (_EPSILON + self._norms(w))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self._config_axis()}


class NonNeg(Constraint):
    """Set the negative weights to 0."""

    def __call__(self, w):
        return np.maximum(w, 0)  # (Keras 3's: a negative weight becomes 0.0, not -0.0)


# Keras's lower-case spellings: ``constraints.max_norm(3)``.
max_norm, min_max_norm, unit_norm, non_neg = MaxNorm, MinMaxNorm, UnitNorm, NonNeg
maxnorm, unitnorm, nonneg = MaxNorm, UnitNorm, NonNeg  # (Keras 2's older ones: kernel_constraint=maxnorm(3))

_CLASSES = {c.__name__: c for c in (MaxNorm, MinMaxNorm, UnitNorm, NonNeg)}
_ALIASES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "unit_norm": UnitNorm, "non_neg": NonNeg}


def get(identifier):
    """A constraint from a name (``"max_norm"``), a config dict or an instance; None stays None."""
    return lookup(identifier, "constraint", Constraint, _CLASSES, _ALIASES, _FromFunction)


def deserialize(config):
    """The inverse of `serialize`."""
    return get(config)


__all__ = [
    "serialize", "Constraint", "MaxNorm", "MinMaxNorm", "UnitNorm", "NonNeg", "max_norm", "min_max_norm",
    "unit_norm", "non_neg", "maxnorm", "unitnorm", "nonneg", "get", "deserialize",
]
