"""fastnn.losses — Keras's losses over the ``ops.loss_forward``/``loss_backward`` kernels.

A loss object reduces like Keras 3's default ("sum_over_batch_size"): ``sum_i(w_i · l_i) / N``
with per-sample losses ``l_i`` (mean over a sample's values for mse, mae and binary
cross-entropy, sum for the categorical ones) and optional sample weights ``w``. Weights may
also be given per step, of the prediction's shape without its last axis ((N, T) for an (N, T, C)
output, as Keras's temporal weights; a masked output's are): the loss is then
``sum_{i,t}(w_it · l_it) / (N · T)`` with ``l_it`` the loss of one step's values. Probabilities
are clipped to [1e-7, 1 - 1e-7]. The lower-case functions (``mean_squared_error(y_true,
y_pred)``) return the per-sample losses, like Keras's; passing one to ``compile`` selects the
matching loss object. Any other function ``fn(y_true, y_pred)`` written with the
``fastnn.backend`` functions is a `LossFunctionWrapper`, differentiated by `fastnn.autodiff`.
"""

from __future__ import annotations

import numpy as np

from . import autodiff, ops
from . import autodiff as K
from ._config import serialize



def _weights(sample_weight):
    """Sample weights as an array: (N,) for one per sample (also given as (N, 1)), or per step."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    return w.reshape(-1) if w.ndim > 1 and w.size == w.shape[0] else w


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` returns the batch loss (float).

    ``kernel`` names the kernels' loss; ``gradient`` returns d loss / d y_pred.
    """

    kernel = None
    # the loss of an output with more axes is per row of its last axis (the categorical ones)
    _per_row = False

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "auto", None):
            raise ValueError(f"{type(self).__name__}: only reduction='sum_over_batch_size' is supported. "
                             f"Received: reduction={reduction!r}")
        self.name = name or self.kernel
        self.from_logits = False

    def _rows(self, y_true, y_pred, sample_weight):
        """What the kernels see: (N, ...) arrays and (N,) weights as given, or, for weights per
        step or a categorical loss over an output with more axes ((N, T, C)), one row per step of
        the last axis ((N·T, C)) with its weight (a sample's repeated over its steps)."""
        w = _weights(sample_weight)
        per_step = w is not None and w.ndim > 1
        p = np.asarray(y_pred)
        if not per_step and (p.ndim <= 2 or not self._per_row):
            return y_true, y_pred, w
        rows = int(np.prod(p.shape[:-1]))
        if per_step:
            if w.shape != p.shape[:-1]:
                raise ValueError(f"Loss '{self.name}': weights per step must have the prediction's shape without its "
                                 f"last axis, {p.shape[:-1]}. Received: sample_weight.shape={w.shape}")
            w = w.reshape(-1)
        elif w is not None:
            w = np.repeat(w.reshape(-1), rows // max(len(p), 1))
        t = np.asarray(y_true)
        t = t.reshape(rows) if self.kernel == "sparse_categorical_crossentropy" else t.reshape(rows, -1)
        return t, p.reshape(rows, p.shape[-1]), w

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch loss (a float); of a prediction on a tape (a custom train_step's, under a
        `fastnn.GradientTape`), a node of the tape whose gradient is `gradient`."""
        y_true = autodiff._value(y_true)
        if not isinstance(y_pred, autodiff.Tensor):
            return self._batch_loss(y_true, y_pred, sample_weight)
        p = y_pred.value
        value = np.asarray(self._batch_loss(y_true, p, sample_weight), dtype=p.dtype)
        return autodiff.Tensor(value, (y_pred,), lambda g: [g * self.gradient(y_true, p, sample_weight)])

    def _batch_loss(self, y_true, y_pred, sample_weight):
        t, p, w = self._rows(y_true, y_pred, sample_weight)
        return ops.loss_forward(t, p, self.kernel, self.from_logits, w)

    def gradient(self, y_true, y_pred, sample_weight=None):
        """d loss / d y_pred, same shape as y_pred."""
        t, p, w = self._rows(y_true, y_pred, sample_weight)
        return ops.loss_backward(t, p, self.kernel, self.from_logits, w).reshape(np.shape(y_pred))

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

    _per_row = True


class CategoricalCrossentropy(_ClassesOnLastAxis):
    """``-sum(t · log p)`` over the classes (the last axis) for one-hot targets, averaged over any
    other axes; ``from_logits`` applies a softmax first."""

    kernel = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_ClassesOnLastAxis):
    """Categorical cross-entropy for integer class labels: (N,) or (N, 1) for an (N, C) output;
    (N, T) or (N, T, 1) for an (N, T, C) one."""

    kernel = "sparse_categorical_crossentropy"


def match_rank(y_true, y_pred):
    """``y_true`` (an array) reshaped to ``y_pred``'s rank where they differ by a last axis of 1,
    as Keras does before a loss or metric function: targets (N,) against predictions (N, 1) become
    (N, 1), so ``y_true * y_pred`` is elementwise instead of broadcast to (N, N)."""
    t_rank, p_rank = np.ndim(y_true), len(np.shape(y_pred))
    if p_rank == t_rank + 1 and np.shape(y_pred)[-1] == 1:
        return np.expand_dims(y_true, -1)
    if t_rank == p_rank + 1 and np.shape(y_true)[-1] == 1:
        return np.squeeze(y_true, -1)
    return y_true


class LossFunctionWrapper(Loss):
    """A Python loss ``fn(y_true, y_pred)`` returning the loss of each sample (or of each
    value), written with ``fastnn.backend`` functions (``K.mean``, ``K.square``...) and
    operators: ``compile(loss=wasserstein_loss)``. Reduced like the built-in losses, the sum of
    the (weighted) values over their count; its gradient comes from `fastnn.autodiff`. The
    targets reach ``fn`` as floats of the prediction's dtype, as in Keras.
    """

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: expected a function. Received: {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "custom_loss"), reduction=reduction)
        self.fn, self.fn_kwargs = fn, kwargs
        self._last = None  # (y_true, y_pred, sample_weight, loss tensor, y_pred on the tape)

    def _trace(self, y_true, y_pred, sample_weight):
        p = autodiff.Tensor(np.asarray(y_pred))
        t = match_rank(np.asarray(y_true, dtype=p.dtype), p.value)
        values = self.fn(t, p, **self.fn_kwargs)
        if not isinstance(values, autodiff.Tensor):  # it does not depend on y_pred
            values = autodiff.Tensor(np.asarray(values, dtype=p.dtype))
        count = max(1, values.value.size)
        if sample_weight is not None:
            if values.ndim == 0:
                raise ValueError(f"Loss '{self.name}' returns one number per batch; with sample weights it must "
                                 "return a loss per sample (do not average over the batch)")
            w = _weights(sample_weight).astype(p.dtype, copy=False)
            if w.ndim > 1 and (values.ndim < w.ndim or values.shape[:w.ndim] != w.shape):
                raise ValueError(f"Loss '{self.name}': weights per step {w.shape} (a masked output's) need the loss "
                                 f"function to return a value per step, of shape {w.shape}. It returned shape "
                                 f"{values.shape}")
            values = values * w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
        total = autodiff.sum(values) / count
        self._last = (y_true, y_pred, sample_weight, total, p)
        return total, p

    def _batch_loss(self, y_true, y_pred, sample_weight):
        return float(self._trace(y_true, y_pred, sample_weight)[0].value)

    def gradient(self, y_true, y_pred, sample_weight=None):
        last = self._last
        if last is not None and last[0] is y_true and last[1] is y_pred and last[2] is sample_weight:
            total, p = last[3], last[4]  # the loss just computed for these arrays
        else:
            total, p = self._trace(y_true, y_pred, sample_weight)
        self._last = None
        return autodiff.grad(total, [p])[0]

    def get_config(self):
        return {"name": self.name, "fn": getattr(self.fn, "__name__", None)}

    def __repr__(self):
        return f"LossFunctionWrapper({getattr(self.fn, '__name__', self.fn)!r})"


# ---- per-sample functions (Keras's lower-case API) -------------------------------------------
# They take arrays (computed in float64, returned as arrays), or tensors: a custom loss's or a
# Lambda's (`fastnn.autodiff.Tensor`, with gradients) and the functional API's symbolic ones
# (``mse(inputs, outputs)`` for ``model.add_loss``). The value is over the last axis, as Keras's.


def _operands(y_true, y_pred):
    """Arrays as float64; the target brought to the prediction's rank when they differ by a last
    axis of 1 ((N,) labels for an (N, 1) output), as Keras does."""
    t = y_true if isinstance(y_true, autodiff.Operators) else np.asarray(y_true, dtype=np.float64)
    p = y_pred if isinstance(y_pred, autodiff.Operators) else np.asarray(y_pred, dtype=np.float64)
    nt, np_ = len(K.shape(t)), len(K.shape(p))
    if nt == np_ - 1 and K.shape(p)[-1] == 1:
        t = K.expand_dims(t, -1)
    elif nt == np_ + 1 and K.shape(t)[-1] == 1:
        t = K.squeeze(t, -1)
    return t, p


@autodiff.graph_function("losses.mean_squared_error")
def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)²)`` over the last axis: one value per sample of an (N, d) output."""
    t, p = _operands(y_true, y_pred)
    return K.mean(K.square(t - p), axis=-1)


@autodiff.graph_function("losses.mean_absolute_error")
def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|)`` over the last axis."""
    t, p = _operands(y_true, y_pred)
    return K.mean(K.abs(t - p), axis=-1)


@autodiff.graph_function("losses.binary_crossentropy")
def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Binary cross-entropy averaged over the last axis."""
    t, p = _operands(y_true, y_pred)
    return K.mean(K.binary_crossentropy(t, p, from_logits), axis=-1)


@autodiff.graph_function("losses.categorical_crossentropy")
def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Categorical cross-entropy for one-hot targets, over the classes on the last axis."""
    t, p = _operands(y_true, y_pred)
    return K.categorical_crossentropy(t, p, from_logits)


@autodiff.graph_function("losses.sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Cross-entropy for integer labels: (N,) labels for an (N, C) output, (N, T) for (N, T, C)."""
    p = y_pred if isinstance(y_pred, autodiff.Operators) else np.asarray(y_pred, dtype=np.float64)
    return K.sparse_categorical_crossentropy(y_true, p, from_logits)


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
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Expected a name, a loss object or a "
                     "function fn(y_true, y_pred)")


def deserialize(config):
    """The inverse of `serialize`."""
    return get(config)


__all__ = [
    "serialize", "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mae", "get",
    "deserialize"
]
