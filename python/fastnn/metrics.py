"""fastnn.metrics — accuracy (binary, categorical, sparse), mse and mae, as Keras computes them.

A metric accumulates over batches: ``update_state(y_true, y_pred, sample_weight=None)``,
``result()`` (the weighted mean of its per-sample values so far), ``reset_state()``. The
values of an output with more axes ((N, T, C)) are per step, over its last axis, as Keras's;
weights may be per sample (N,) or per step ((N, T), a masked output's), and the result is the
weighted mean of every value. The
string ``"accuracy"`` (or ``"acc"``) picks the variant from the loss and the shapes, like
Keras: binary when the loss is binary cross-entropy or the model has one output unit, sparse
when the targets are integer labels, categorical otherwise.
"""

from __future__ import annotations

import numpy as np

from . import losses as losses_module


def _flat(y, n):
    y = np.asarray(y)
    return y.reshape(n, -1)


def _last_axis(y_true, y_pred):
    """Targets and predictions arranged so that a mean over the last axis gives the values: per
    sample for an (N, d) output (any target shape of d values), per step for (N, T, d)."""
    p = np.asarray(y_pred)
    t = np.asarray(y_true)
    if p.ndim > 2 and t.size == p.size:
        return t.reshape(p.shape), p
    return _flat(t, len(p)), _flat(p, len(p))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample (per-step for (N, T, d) outputs) fraction of values where ``(y_pred > threshold)
    == y_true``."""
    t, p = _last_axis(y_true, y_pred)
    return np.mean(t == (p > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """Per sample: 1 where ``argmax(y_pred) == argmax(y_true)`` (one-hot targets)."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per sample: 1 where ``argmax(y_pred)`` equals the integer label."""
    p = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(p.shape[:-1])
    return (np.argmax(p, axis=-1) == labels).astype(np.float64)


def mean_squared_error(y_true, y_pred):
    """Per-sample (per-step for (N, T, d) outputs) mean squared error."""
    t, p = _last_axis(y_true, y_pred)
    d = t - p
    return np.mean(d * d, axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample (per-step for (N, T, d) outputs) mean absolute error."""
    t, p = _last_axis(y_true, y_pred)
    return np.mean(np.abs(t - p), axis=-1)


class Metric:
    """A running, sample-weighted mean of per-sample values ``fn(y_true, y_pred)``.

    ``direction``: ``"up"`` when larger is better (accuracies), ``"down"`` otherwise; callbacks
    in ``mode="auto"`` use it.
    """

    direction = "down"
    fn = None

    def __init__(self, name=None):
        self.name = name or self._default_name
        self.reset_state()

    @property
    def _default_name(self):
        return self.fn.__name__

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    def _values(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # values per sample, or per sample and step for a sequence output (N, T): the mean of all,
        # each sample's weight counted once per step, or each step's weight once
        v = np.asarray(self._values(y_true, y_pred))
        if sample_weight is None:
            self._total += float(np.sum(v))
            self._count += v.size
            return
        w = np.asarray(sample_weight, dtype=np.float64)
        n = len(w)
        if v.ndim == 0 or v.size % n:
            raise ValueError(f"Metric '{self.name}': {n} sample weights for values of shape {v.shape}")
        v = v.reshape(n, -1)
        w = w.reshape(n, -1)
        if w.shape[1] == 1:
            self._total += float(np.dot(v.sum(axis=1), w[:, 0]))
            self._count += float(np.sum(w)) * v.shape[1]
        elif w.shape == v.shape:  # a weight per step
            self._total += float(np.sum(v * w))
            self._count += float(np.sum(w))
        else:
            raise ValueError(f"Metric '{self.name}': weights per step of shape {np.shape(sample_weight)} (a masked "
                             f"output's) need a value per step; the metric gave values of shape {v.shape}")

    def result(self):
        return self._total / self._count if self._count else 0.0

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class BinaryAccuracy(Metric):
    """How often ``y_pred > threshold`` matches a binary target."""

    direction = "up"

    def __init__(self, name="binary_accuracy", threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def _values(self, y_true, y_pred):
        return binary_accuracy(y_true, y_pred, self.threshold)


class CategoricalAccuracy(Metric):
    """How often the arg-max of the prediction matches the one-hot target's."""

    direction = "up"
    fn = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(Metric):
    """How often the arg-max of the prediction matches the integer label."""

    direction = "up"
    fn = staticmethod(sparse_categorical_accuracy)


class MeanSquaredError(Metric):
    """Mean squared error."""

    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Metric):
    """Mean absolute error."""

    fn = staticmethod(mean_absolute_error)


class _Accuracy(Metric):
    """Keras's ``"accuracy"``: the variant is chosen at the first update from loss and shapes."""

    direction = "up"

    def __init__(self, name="accuracy", loss=None):
        self._loss = loss
        self._variant = None
        super().__init__(name)

    def _values(self, y_true, y_pred):
        if self._variant is None:
            self._variant = _pick_accuracy(self._loss, np.shape(y_true), np.shape(y_pred))
        return self._variant(y_true, y_pred)


def _pick_accuracy(loss, true_shape, pred_shape):
    units = pred_shape[-1] if len(pred_shape) > 1 else 1
    if loss == "binary_crossentropy" or units == 1:
        return binary_accuracy
    if loss == "sparse_categorical_crossentropy" or len(true_shape) < len(pred_shape) or true_shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


class _Wrapper(Metric):
    def __init__(self, fn, name=None, direction="down"):
        self._fn = fn
        self.direction = direction
        super().__init__(name or fn.__name__)

    def _values(self, y_true, y_pred):
        return np.asarray(self._fn(losses_module.match_rank(y_true, y_pred), y_pred), dtype=np.float64).reshape(-1)


_STRINGS = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy, mean_squared_error: MeanSquaredError,
              mean_absolute_error: MeanAbsoluteError}


def get(identifier, loss=None):
    """A fresh metric for a name (``"accuracy"``, ``"acc"``, ``"mse"``...), a function of this
    module, a metric class or instance. ``loss``: the compiled loss's name, for ``"accuracy"``."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return _Accuracy(identifier, loss)
        cls = _STRINGS.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric: {identifier!r}. Expected one of {['accuracy', 'acc', *_STRINGS]}")
        return cls(name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else _Wrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def serialize(metric):
    """The name a metric was compiled with (strings round-trip through `get`)."""
    return metric.name
