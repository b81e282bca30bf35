"""fastnn.losses — Keras's losses over the ``ops.loss_forward``/``loss_backward`` kernels.

A loss object reduces like Keras 3's default ("sum_over_batch_size"): ``sum_i(w_i · l_i) / N``
with per-sample losses ``l_i`` (mean over a sample's values for mse, mae and binary
cross-entropy, sum for the categorical ones) and optional sample weights ``w``. Probabilities
are clipped to [1e-7, 1 - 1e-7]. The lower-case functions (``mean_squared_error(y_true,
y_pred)``) return the per-sample losses, like Keras's; passing one to ``compile`` selects the
matching loss object.
"""

from __future__ import annotations

import numpy as np

from . import ops
from ._config import serialize

_EPSILON = 1e-7


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` returns the batch loss (float).

    ``kernel`` names the kernels' loss; ``gradient`` returns d loss / d y_pred.
    """

    kernel = None

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "auto", None):
            raise ValueError(f"{type(self).__name__}: only reduction='sum_over_batch_size' is supported. "
                             f"Received: reduction={reduction!r}")
        self.name = name or self.kernel
        self.from_logits = False

    def __call__(self, y_true, y_pred, sample_weight=None):
        return ops.loss_forward(y_true, y_pred, self.kernel, self.from_logits, sample_weight)

    def gradient(self, y_true, y_pred, sample_weight=None):
        """d loss / d y_pred, same shape as y_pred."""
        return ops.loss_backward(y_true, y_pred, self.kernel, self.from_logits, sample_weight)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class MeanSquaredError(Loss):
    """``mean((y_true - y_pred)²)`` over each sample's values."""

    kernel = "mean_squared_error"


class MeanAbsoluteError(Loss):
    """``mean(|y_true - y_pred|)`` over each sample's values."""

    kernel = "mean_absolute_error"


class _CrossEntropy(Loss):
    def __init__(self, from_logits=False, label_smoothing=0.0, name=None, reduction="sum_over_batch_size", **kwargs):
        if kwargs.pop("axis", -1) != -1 or kwargs.pop("ignore_class", None) is not None:
            raise ValueError(f"{type(self).__name__}: only axis=-1 and ignore_class=None are supported")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unsupported arguments {kwargs}")
        if label_smoothing:
            raise ValueError(f"{type(self).__name__}: label_smoothing is not supported. Received: {label_smoothing!r}")
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class BinaryCrossentropy(_CrossEntropy):
    """``-mean(t·log p + (1 - t)·log(1 - p))`` per sample; ``from_logits`` applies a sigmoid first."""

    kernel = "binary_crossentropy"


class _ClassesOnLastAxis(_CrossEntropy):
    """The categorical cross-entropies, over the classes on the last axis: an output with more axes
    (a sequence of class scores, (N, T, C)) is a loss per step, averaged over the steps, as Keras
    reduces it; the kernels see its N·T rows, each sample's weight repeated over its steps."""

    def _rows(self, y_true, y_pred, sample_weight):
        p = np.asarray(y_pred)
        if p.ndim <= 2:
            return y_true, p, sample_weight
        steps = int(np.prod(p.shape[1:-1]))
        t = np.asarray(y_true)
        t = t.reshape(-1) if self.kernel == "sparse_categorical_crossentropy" else t.reshape(-1, p.shape[-1])
        w = None if sample_weight is None else np.repeat(np.asarray(sample_weight).reshape(-1), steps)
        return t, p.reshape(-1, p.shape[-1]), w

    def __call__(self, y_true, y_pred, sample_weight=None):
        return super().__call__(*self._rows(y_true, y_pred, sample_weight))

    def gradient(self, y_true, y_pred, sample_weight=None):
        return super().gradient(*self._rows(y_true, y_pred, sample_weight)).reshape(np.shape(y_pred))


class CategoricalCrossentropy(_ClassesOnLastAxis):
    """``-sum(t · log p)`` over the classes (the last axis) for one-hot targets, averaged over any
    other axes; ``from_logits`` applies a softmax first."""

    kernel = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_ClassesOnLastAxis):
    """Categorical cross-entropy for integer class labels: (N,) or (N, 1) for an (N, C) output;
    (N, T) or (N, T, 1) for an (N, T, C) one."""

    kernel = "sparse_categorical_crossentropy"


# ---- per-sample functions (Keras's lower-case API) -------------------------------------------


def _per_sample(y_true, y_pred):
    """(targets, predictions) as float64 (N, values) arrays."""
    p = np.asarray(y_pred, dtype=np.float64)
    p = p.reshape(len(p), -1)
    return np.asarray(y_true, dtype=np.float64).reshape(p.shape), p


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error, shape (N,)."""
    t, p = _per_sample(y_true, y_pred)
    return np.mean((t - p) ** 2, axis=1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute error, shape (N,)."""
    t, p = _per_sample(y_true, y_pred)
    return np.mean(np.abs(t - p), axis=1)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample binary cross-entropy, shape (N,)."""
    t, p = _per_sample(y_true, y_pred)
    if from_logits:
        return np.mean(np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p))), axis=1)
    q = np.clip(p, _EPSILON, 1 - _EPSILON)
    return -np.mean(t * np.log(q) + (1 - t) * np.log(1 - q), axis=1)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample categorical cross-entropy for one-hot targets, shape (N,)."""
    p = np.asarray(y_pred, dtype=np.float64)
    t = np.asarray(y_true, dtype=np.float64).reshape(p.shape)
    if from_logits:
        z = p - p.max(axis=-1, keepdims=True)
        logq = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    else:
        logq = np.log(np.clip(p / p.sum(axis=-1, keepdims=True), _EPSILON, 1 - _EPSILON))
    return -np.sum(t * logq, axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample cross-entropy for integer labels, shape (N,) (or (N, T) for a sequence of class
    scores (N, T, C), as `categorical_crossentropy`)."""
    p = np.asarray(y_pred, dtype=np.float64)
    labels = np.asarray(y_true).reshape(p.shape[:-1]).astype(np.int64)
    onehot = np.eye(p.shape[-1])[labels]
    return categorical_crossentropy(onehot, p, from_logits)


mse, mae = mean_squared_error, mean_absolute_error

_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}
_ALIASES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


def get(identifier):
    """A loss object from a name (``"categorical_crossentropy"``, ``"mse"``), a function of this
    module, a class, a config dict, or a loss object (returned as is)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss: {identifier!r}. Expected one of {sorted(set(_ALIASES) - {'MSE', 'MAE'})}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Loss) and identifier.kernel:
        return identifier()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. fastnn trains with the built-in losses "
                     f"({', '.join(sorted(_CLASSES))}); a custom Python loss has no gradient kernel")


def deserialize(config):
    """The inverse of `serialize`."""
    return get(config)


__all__ = [
    "serialize", "Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mae", "get", "deserialize"
]
