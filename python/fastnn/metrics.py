"""fastnn.metrics — Keras 3's metrics, computed as Keras computes them, in vectorised NumPy.

A metric accumulates over batches: ``update_state(y_true, y_pred, sample_weight=None)``,
``result()``, ``reset_state()``; calling it (``m(y_true, y_pred)``) updates and returns the
result. Each has Keras's constructor arguments, default name (the key in the logs and History:
``precision``, ``auc``, ``top_k_categorical_accuracy``...), ``get_config``/``from_config``, and a
``direction`` (``"up"`` when larger is better) that callbacks in ``mode="auto"`` use.

Two kinds of state:

- Means of per-sample values (the accuracies, the errors, the cross-entropies...): a running,
  sample-weighted mean. The values of an output with more axes ((N, T, C)) are per step, over its
  last axis, as Keras's; weights may be per sample (N,) or per step ((N, T), a masked output's),
  and the result is the weighted mean of every value. `Mean` and `Sum` take the values themselves
  (``update_state(values, sample_weight=None)``); `MeanMetricWrapper` wraps a function.
- Confusion-matrix counts (`Precision`, `Recall`, `AUC`, `TruePositives`...,
  `SensitivityAtSpecificity`, `SpecificityAtSensitivity`, `PrecisionAtRecall`,
  `RecallAtPrecision`, `F1Score`/`FBetaScore`, `R2Score`): weighted true/false positive/negative counts accumulated per
  threshold (per label too with ``multi_label``), from which ``result()`` is computed, so an epoch's
  value is the metric of the whole epoch, not a mean of the batches'. As in Keras, a prediction is
  positive at threshold ``t`` when ``y_pred > t`` (float32 comparisons, as Keras's float32
  tensors), and evenly spaced thresholds (AUC's) are counted by bucketing the predictions, Keras's
  ``ceil(p * (n - 1)) - 1`` index, so 200 thresholds cost one ``bincount`` per batch.
- A class confusion matrix (`IoU`, `MeanIoU`, `BinaryIoU`, `OneHotIoU`, `OneHotMeanIoU`): Keras's
  integer matrix of class ids (rows targets, columns predictions), weighted.

State kept in Keras's variables is readable as Keras's attributes and listed in ``variables``: a
mean's ``total`` and ``count`` (`Mean` and every `MeanMetricWrapper`: the accuracies, errors...),
`Sum`'s ``total``, the sensitivity family's ``true_positives``... and the IoUs' ``total_cm``.

Strings accepted by ``compile(metrics=[...])`` are Keras's: ``"accuracy"``/``"acc"`` (any case:
binary, sparse or categorical accuracy, chosen from the loss and the shapes), every class's name
and its snake_case form (``"Precision"``, ``"precision"``, ``"AUC"``, ``"auc"``,
``"top_k_categorical_accuracy"``, ``"root_mean_squared_error"``...) and ``"mse"``, ``"mae"``,
``"mape"``, ``"msle"``, ``"bce"`` (and upper case); the log key is the string given.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np

from . import losses as losses_module
from . import utils
from ._batch_dataset import EagerArray, EagerFloat

EPSILON = 1e-7  # Keras's backend.epsilon()
NEG_INF = -1e10  # Keras's metrics_utils.NEG_INF: the threshold of precision/recall with top_k
# Keras clips probabilities to [epsilon, 1 - epsilon] in float32: the upper bound rounds to
# 1 - 1.19e-7 (as fastnn's losses do)
_CLIP_LO = float(np.float32(EPSILON))
_CLIP_HI = float(np.float32(1.0) - np.float32(EPSILON))


# ---- helpers ------------------------------------------------------------------------------------


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras's squeeze_or_expand_to_same_rank: where the ranks differ by one and the longer one
    ends in an axis of 1, squeeze it (or, for rank 1 against rank 2, expand the shorter)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _div_no_nan(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    out = np.zeros(a.shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _array(x, what, metric, dtype=np.float64):
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{metric}: {what} must be an array of numbers. Received: {type(x).__name__} "
                         f"{str(x)[:80]}") from None


def _pair(y_true, y_pred, metric, dtype=np.float64):
    """Targets and predictions as arrays of one rank (Keras's squeeze/expand of a last axis of 1)."""
    p = _array(y_pred, "y_pred", metric, dtype)
    t = _array(y_true, "y_true", metric, dtype)
    return _same_rank(t, p)


def _last_axis(y_true, y_pred):
    """Targets and predictions arranged so that a mean over the last axis gives the values: per
    sample for an (N, d) output (any target shape of d values), per step for (N, T, d)."""
    p = np.asarray(y_pred)
    t = np.asarray(y_true)
    if p.ndim > 2 and t.size == p.size:
        return t.reshape(p.shape), p
    if p.ndim == 0:
        return t.reshape(1, -1), p.reshape(1, -1)
    return t.reshape(len(p), -1), p.reshape(len(p), -1)


def _arg_error(metric, arg, expected, value):
    return ValueError(f"{metric}: argument `{arg}` must be {expected}. Received: {arg}={value!r}")


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_dtype(metric, dtype):
    if dtype is None:
        return "float32"
    try:
        name = np.dtype(dtype).name if not (isinstance(dtype, str) and dtype == "bfloat16") else dtype
    except TypeError:
        name = None
    if name not in ("float16", "bfloat16", "float32", "float64"):
        raise _arg_error(metric, "dtype", "a float dtype ('float16', 'bfloat16', 'float32' or 'float64')", dtype)
    return name


def _jsonable(x):
    """Thresholds, weights...: Python numbers and lists (for a JSON config)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _sigmoid32(x):
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


# ---- metric functions (per-sample values, Keras's keras.metrics.* functions) ----------------------


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


def accuracy(y_true, y_pred):
    """1 where ``y_pred == y_true`` exactly (Keras's `Accuracy`; targets cast to the predictions' type)."""
    p = np.asarray(y_pred)
    t = np.asarray(y_true)
    if p.dtype.kind == "f":
        t = t.astype(p.dtype)
    t, p = _same_rank(t, p)
    return (t == p).astype(np.float64)


def _in_top_k(labels, scores, k, metric):
    """Keras's in_top_k: the label's score has fewer than ``k`` scores strictly above it (ties at
    the boundary count as in the top k); a NaN score is never in."""
    c = scores.shape[-1]
    labels = labels.reshape(-1)
    scores = scores.reshape(-1, c)
    if len(labels) != len(scores):
        raise ValueError(f"{metric}: one label per row of scores is needed. Received {len(labels)} labels for "
                         f"{len(scores)} rows of {c} scores")
    bad = (labels < 0) | (labels >= c)
    if bad.any():
        raise ValueError(f"{metric}: labels must be class indices in [0, {c}). Received: "
                         f"{labels[np.argmax(bad)]}")
    at = scores[np.arange(len(labels)), labels]
    at = np.where(np.isnan(at), -np.inf, at)
    rank = 1 + np.sum(scores > at[:, None], axis=1)
    return rank <= k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1 where the one-hot target's class is among the ``k`` highest scores (Keras's tie
    rule: a class tied with the k-th score is in)."""
    p = np.asarray(y_pred)
    labels = np.argmax(np.asarray(y_true), axis=-1)
    return _in_top_k(labels, p, k, "top_k_categorical_accuracy").astype(np.float64).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """Per sample: 1 where the integer label is among the ``k`` highest scores; with
    ``from_sorted_ids`` ``y_pred`` holds class ids sorted by score and the label must be among the
    first ``k``."""
    p = np.asarray(y_pred)
    t = np.asarray(y_true)
    shape = t.shape
    if from_sorted_ids:
        ids = p.reshape(-1, p.shape[-1])[:, :k]
        matches = np.any(t.reshape(-1)[:, None].astype(ids.dtype) == ids, axis=1)
    else:
        matches = _in_top_k(t.astype(np.int64).reshape(-1), p, k, "sparse_top_k_categorical_accuracy")
    return matches.astype(np.float64).reshape(shape)


def mean_squared_error(y_true, y_pred):
    """Per-sample (per-step for (N, T, d) outputs) mean squared error."""
    t, p = _last_axis(y_true, y_pred)
    d = t - p
    return np.mean(d * d, axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample (per-step for (N, T, d) outputs) mean absolute error."""
    t, p = _last_axis(y_true, y_pred)
    return np.mean(np.abs(t - p), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis."""
    t, p = _last_axis(y_true, y_pred)
    t = t.astype(np.float64)
    return 100.0 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPSILON)), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))²)`` over the last axis."""
    t, p = _last_axis(y_true, y_pred)
    first = np.log(np.maximum(p.astype(np.float64), EPSILON) + 1.0)
    d = first - np.log(np.maximum(t.astype(np.float64), EPSILON) + 1.0)
    return np.mean(d * d, axis=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis (computed without overflow)."""
    t, p = _last_axis(y_true, y_pred)
    x = p.astype(np.float64) - t
    return np.mean(x + np.logaddexp(0.0, -2.0 * x) - math.log(2.0), axis=-1)


def _normalize(x, axis):
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), EPSILON * EPSILON))


def cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (1: same direction)."""
    t, p = _pair(y_true, y_pred, "cosine_similarity")
    return np.sum(_normalize(t, axis) * _normalize(p, axis), axis=axis)


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's correlation coefficient along ``axis`` (Keras 3's: each side centred and divided
    by its population standard deviation, then the mean of their product; NaN for a constant side)."""
    t, p = _pair(y_true, y_pred, "pearson_correlation")
    t = t - t.mean(axis=axis, keepdims=True)
    p = p - p.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mean(t / t.std(axis=axis, keepdims=True) * (p / p.std(axis=axis, keepdims=True)), axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation coefficient along ``axis``: ``2 cov(t, p) / (var t + var p +
    (mean t - mean p)²)`` (1: predictions equal to the targets), with Keras's 1e-7 in the denominator."""
    t, p = _pair(y_true, y_pred, "concordance_correlation")
    t_mean, p_mean = t.mean(axis=axis, keepdims=True), p.mean(axis=axis, keepdims=True)
    norm = t.var(axis=axis, keepdims=True) + p.var(axis=axis, keepdims=True) + np.square(t_mean - p_mean)
    return np.mean(2.0 * (t - t_mean) * (p - p_mean) / (norm + 1e-7), axis=axis)


def _hinge_labels(t):
    """Keras: binary {0, 1} labels (all of them) become {-1, 1}; others are kept."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis (0/1 labels taken as -1/1)."""
    t, p = _last_axis(y_true, y_pred)
    t = _hinge_labels(t.astype(np.float64))
    return np.mean(np.maximum(1.0 - t * p, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0)²)`` over the last axis (0/1 labels taken as -1/1)."""
    t, p = _last_axis(y_true, y_pred)
    t = _hinge_labels(t.astype(np.float64))
    return np.mean(np.square(np.maximum(1.0 - t * p, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per sample."""
    t, p = _pair(y_true, y_pred, "categorical_hinge")
    pos = np.sum(t * p, axis=-1)
    neg = np.max((1.0 - t) * p, axis=-1)
    return np.maximum(neg - pos + 1.0, 0.0)


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred))`` over the last axis, both clipped to [1e-7, 1]."""
    t, p = _pair(y_true, y_pred, "kl_divergence")
    t = np.clip(t, _CLIP_LO, 1.0)
    p = np.clip(p, _CLIP_LO, 1.0)
    return np.sum(t * np.log(t / p), axis=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis."""
    t, p = _last_axis(y_true, y_pred)
    p = p.astype(np.float64)
    return np.mean(p - t * np.log(p + EPSILON), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample mean over ``axis`` of ``-(t·log p + (1 - t)·log(1 - p))``, ``p`` clipped to
    [1e-7, 1 - 1e-7] (or, ``from_logits``, the exact sigmoid cross-entropy of the logits);
    ``label_smoothing`` moves the targets towards 0.5."""
    t, p = _pair(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    else:
        p = np.clip(p, _CLIP_LO, _CLIP_HI)
        bce = -(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
    return np.mean(bce, axis=axis)


def _log_probs(p, from_logits, axis):
    if from_logits:
        m = np.max(p, axis=axis, keepdims=True)
        z = p - m
        return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    p = p / np.sum(p, axis=axis, keepdims=True)
    return np.log(np.clip(p, _CLIP_LO, _CLIP_HI))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per sample: ``-sum(t · log p)`` over ``axis``, ``p`` renormalised to sum to 1 and clipped
    (or the log-softmax of logits); ``label_smoothing`` mixes the targets with ``1/C``."""
    t, p = _pair(y_true, y_pred, "categorical_crossentropy")
    if t.shape != p.shape:
        raise ValueError(f"categorical_crossentropy: y_true (one-hot) and y_pred must have the same shape. "
                         f"Received: y_true.shape={t.shape}, y_pred.shape={p.shape}")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / p.shape[axis]
    return -np.sum(t * _log_probs(p, from_logits, axis), axis=axis)


def _sparse_labels(y_true, p, metric):
    t = _array(y_true, "y_true", metric)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    if t.shape != p.shape[:-1]:
        raise ValueError(f"{metric}: y_true must hold one integer label per row of y_pred's last axis, of shape "
                         f"{p.shape[:-1]}. Received: y_true.shape={np.shape(y_true)}, y_pred.shape={p.shape}")
    return t


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per sample: ``-log p[label]`` (``p`` renormalised and clipped, or the log-softmax of logits).
    With ``ignore_class``, the values of that label are 0."""
    if axis not in (-1, np.ndim(y_pred) - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only axis=-1 is supported. Received: axis={axis}")
    p = _array(y_pred, "y_pred", "sparse_categorical_crossentropy")
    t = _sparse_labels(y_true, p, "sparse_categorical_crossentropy")
    valid = None if ignore_class is None else t != ignore_class
    labels = t.astype(np.int64) if valid is None else np.where(valid, t, 0).astype(np.int64)
    c = p.shape[-1]
    bad = (labels < 0) | (labels >= c)
    if bad.any():
        raise ValueError(f"sparse_categorical_crossentropy: labels must be class indices in [0, {c}). Received: "
                         f"{t.reshape(-1)[np.argmax(bad.reshape(-1))]}")
    logp = _log_probs(p, from_logits, -1)
    values = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return values if valid is None else np.where(valid, values, 0.0)


# ---- the base class and the means ---------------------------------------------------------------


class _Variable:
    """A metric's state variable made by `Metric.add_variable` (a NumPy array with Keras's
    ``assign``, ``assign_add``, ``assign_sub``, ``numpy()`` and ``value``)."""

    def __init__(self, shape, dtype, name):
        self.name = name
        self._value = np.zeros(shape, dtype=dtype)

    @property
    def value(self):
        return self._value

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    def numpy(self):
        return self._value.copy()

    def assign(self, value):
        self._value[...] = value
        return self

    def assign_add(self, value):
        self._value += np.asarray(value, dtype=self._value.dtype)
        return self

    def assign_sub(self, value):
        self._value -= np.asarray(value, dtype=self._value.dtype)
        return self

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    def __float__(self):
        return float(self._value)

    def __getitem__(self, key):
        return self._value[key]

    def __repr__(self):
        return f"<Variable {self.name} shape={self._value.shape} value={self._value}>"

    def _op(fn):
        def method(self, other):
            return fn(self._value, np.asarray(other))
        return method

    __add__ = _op(np.add)
    __radd__ = _op(lambda a, b: b + a)
    __sub__ = _op(np.subtract)
    __rsub__ = _op(lambda a, b: b - a)
    __mul__ = _op(np.multiply)
    __rmul__ = _op(lambda a, b: b * a)
    __truediv__ = _op(np.true_divide)
    __rtruediv__ = _op(lambda a, b: b / a)
    del _op


def _plain(value):
    """A metric's result as a float (with TensorFlow's ``.numpy()``: ``acc.result().numpy()``), or an
    array for a metric with several values."""
    if isinstance(value, float):
        return value if isinstance(value, EagerFloat) else EagerFloat(value)
    if isinstance(value, _Variable):
        value = value.value
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return value
    return EagerFloat(a) if a.ndim == 0 else a.copy()


_called_results = {}  # id(result) -> (result, metric), for the last few metric calls


def producer(value):
    """The metric whose call returned ``value`` (tf.keras 2's ``add_metric(self.mean(x))`` logs that
    metric, its state kept and reset by the metric), or None."""
    entry = _called_results.get(id(value))
    return entry[1] if entry is not None and entry[0] is value else None


class Metric:
    """Base class of the metrics; on its own, a running, sample-weighted mean of per-sample values
    (a subclass sets ``fn(y_true, y_pred)`` or overrides ``_values``).

    A Keras-style subclass overrides ``update_state``, ``result`` (and ``reset_state`` if its state
    is not made with ``add_variable``, whose variables the base ``reset_state`` zeroes).

    ``direction``: ``"up"`` when larger is better (accuracies, precision, AUC...), ``"down"``
    otherwise; callbacks in ``mode="auto"`` use it.
    """

    direction = "down"
    fn = None
    # Keras's state variables of a running mean or sum that this class has (Keras's `Mean` and every
    # `MeanMetricWrapper`: ``total`` and ``count``; `Sum`: ``total``): attributes, listed in
    # `variables`. The running sums of the others are kept in untracked variables.
    _mean_state = ()

    def __init_subclass__(cls, **kwargs):
        # every result() gives plain numbers: a float (or a NumPy array for several values), also
        # for a subclass returning one of its variables or a 0-d array, so logs and History hold values
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("result")
        if own is not None and not getattr(own, "_plain_result", False):
            def result(self, _own=own):
                return _plain(_own(self))

            result.__doc__ = own.__doc__
            result._plain_result = True
            cls.result = result

    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise _arg_error(type(self).__name__, "name", "a string", name)
        self._dtype = _check_dtype(type(self).__name__, dtype)
        self._variables = []
        self._make_sums()
        self.name = name or self._default_name

    def _make_sums(self):
        self._sums = {}
        for key in ("total", "count"):
            if key in type(self)._mean_state:
                var = self.add_variable((), name=key)
                setattr(self, key, var)  # (Keras's m.total, m.count)
            else:
                var = _Variable((), np.float64, key)
            self._sums[key] = var

    def _sum(self, key):
        if "_sums" not in self.__dict__:  # (set before Metric.__init__ ran)
            self._variables = self.__dict__.get("_variables", [])
            self._make_sums()
        return self._sums[key]

    # the running (weighted) sum and count of a mean, as floats (kept in the variables above)
    _total = property(lambda self: float(self._sum("total")._value),
                      lambda self, value: self._sum("total").assign(value))
    _count = property(lambda self: float(self._sum("count")._value),
                      lambda self, value: self._sum("count").assign(value))

    @property
    def _default_name(self):
        fn = type(self).fn
        return fn.__name__ if fn is not None else utils.to_snake_case(type(self).__name__)

    @property
    def dtype(self):
        return self._dtype

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state variable holding the initializer's values (zeros by default; float64 unless given:
        sums over an epoch stay exact); ``reset_state`` zeroes it, as Keras's does."""
        var = _Variable(tuple(shape) if shape is not None else (), dtype or np.float64, name)
        if initializer is not None and initializer not in ("zeros", "Zeros") and type(initializer).__name__ != "Zeros":
            from . import initializers
            try:
                values = initializers.get(initializer)(var.shape, var.dtype)
            except (TypeError, ValueError) as e:
                raise _arg_error(type(self).__name__, "initializer", f"an initializer ({e})", initializer) from None
            var.assign(values)
        self._variables.append(var)
        return var

    def add_weight(self, *args, **kwargs):
        """tf.keras 2's ``add_weight(name, shape=(), aggregation, synchronization, initializer, dtype)``
        when the first argument is a name, else Keras 3's ``add_weight(shape=(), initializer, dtype,
        aggregation, name)``: a state variable (`add_variable`)."""
        from .layers.base import bind_arguments

        order = ("name", "shape", "aggregation", "synchronization", "initializer", "dtype") \
            if args and isinstance(args[0], str) else ("shape", "initializer", "dtype", "aggregation", "name")
        given = bind_arguments(args, kwargs, order, ("name", "shape", "initializer", "dtype", "aggregation",
                                                     "synchronization", "trainable"), f"{type(self).__name__}.add_weight")
        return self.add_variable(given.get("shape", ()), given.get("initializer", "zeros"), given.get("dtype"),
                                 name=given.get("name"))

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0
        for v in self.__dict__.get("_variables", ()):
            v.assign(0)

    def reset_states(self):
        """Keras 2's name of `reset_state`."""
        self.reset_state()

    def _values(self, y_true, y_pred):
        fn = type(self).fn
        if fn is None:
            raise NotImplementedError(f"{type(self).__name__} must implement update_state() and result()")
        return fn(y_true, y_pred)

    def update_state(self, y_true, y_pred, sample_weight=None):
        try:
            values = self._values(y_true, y_pred)
        except ValueError as e:  # (NumPy's "cannot reshape", "could not be broadcast": say whose and which)
            if self.name in str(e):
                raise
            hint = ("; integer labels (one per sample) go to sparse_categorical_accuracy, one-hot ones to "
                    "categorical_accuracy") if "categorical" in self.name else ""
            raise ValueError(f"Metric '{self.name}': y_true of shape {np.shape(y_true)} does not fit y_pred of shape "
                             f"{np.shape(y_pred)} ({e}){hint}") from None
        self._accumulate(np.asarray(values, dtype=np.float64), sample_weight)

    def _accumulate(self, v, sample_weight):
        # Keras 3's reduce_to_samplewise_values: each sample's values averaged first (over the steps of
        # a sequence output), then a mean over samples, each counted once (or by its weight; a weight
        # per step: the sample's mean weighted value over its mean weight), so updates of different
        # step counts or weightings mix as Keras mixes them
        if sample_weight is None:
            if v.ndim > 1:
                v = v.reshape(len(v), -1).mean(axis=1)
            self._total += float(np.sum(v))
            self._count += v.size
            return
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:  # one weight for the batch: its mean, weighted (Keras's rule)
            if v.size:
                self._total += float(np.mean(v)) * float(w)
                self._count += float(w)
            return
        if v.ndim > w.ndim > 1 and v.shape[:w.ndim] == w.shape:  # per-step weights, values with more axes
            v = v.reshape(w.shape + (-1,)).mean(axis=-1)
        n = len(w)
        if v.ndim == 0 or v.size % n:
            raise ValueError(f"Metric '{self.name}': {n} sample weights for values of shape {v.shape}")
        v = v.reshape(n, -1)
        w = w.reshape(n, -1)
        if w.shape[1] == 1:
            self._total += float(np.dot(v.mean(axis=1), w[:, 0]))
            self._count += float(np.sum(w))
        elif w.shape == v.shape:  # a weight per step
            self._total += float(np.sum((v * w).mean(axis=1)))
            self._count += float(np.sum(w.mean(axis=1)))
        else:
            raise ValueError(f"Metric '{self.name}': weights per step of shape {np.shape(sample_weight)} (a masked "
                             f"output's) need a value per step; the metric gave values of shape {v.shape}")

    def result(self):
        return EagerFloat(self._total / self._count if self._count else 0.0)

    def __call__(self, *args, **kwargs):
        """Update the state with a batch and return the result (Keras's ``metric(y_true, y_pred)``)."""
        self.update_state(*args, **kwargs)
        result = self.result()
        _called_results[id(result)] = (result, self)  # (add_metric(result) logs this metric: `producer`)
        while len(_called_results) > 16:
            del _called_results[next(iter(_called_results))]
        return result

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given: ``update_state(values, sample_weight=None)``.

    Values with more axes than the weights are first averaged per sample (Keras's rule). Its state
    is Keras's: the variables ``total`` (the weighted sum) and ``count`` (the sum of the weights)."""

    _mean_state = ("total", "count")

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, values, sample_weight=None):
        self._accumulate(_array(values, "values", type(self).__name__), sample_weight)


class Sum(Metric):
    """The (weighted) sum of the values given: ``update_state(values, sample_weight=None)``; its
    state is Keras's variable ``total``."""

    _mean_state = ("total",)

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, values, sample_weight=None):
        v = _array(values, "values", type(self).__name__)
        if sample_weight is None:
            self._total += float(np.sum(v))
            return
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            self._total += float(w) * float(np.sum(v))
            return
        if v.ndim == 0 or v.size % len(w):
            raise ValueError(f"Metric '{self.name}': {len(w)} sample weights for values of shape {v.shape}")
        v = v.reshape(len(w), -1)
        w = w.reshape(len(w), -1)
        if w.shape[1] != 1 and w.shape != v.shape:
            raise ValueError(f"Metric '{self.name}': sample weights of shape {np.shape(sample_weight)} do not match "
                             f"values of shape {np.shape(values)}")
        self._total += float(np.sum(v * w))

    def result(self):
        return self._total


class MeanMetricWrapper(Metric):
    """The running mean of ``fn(y_true, y_pred, **kwargs)``, a function returning a value per sample
    (or per value; they are averaged per sample). Its state is Keras's `Mean`'s: the variables
    ``total`` and ``count``."""

    _mean_state = ("total", "count")

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise _arg_error(type(self).__name__, "fn", "a function fn(y_true, y_pred) returning a value per sample",
                             fn)
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name or "mean_metric_wrapper", dtype)

    def _values(self, y_true, y_pred):
        values = self._fn(losses_module.match_rank(np.asarray(y_true), y_pred), y_pred, **self._fn_kwargs)
        return np.asarray(values, dtype=np.float64).reshape(-1)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "fn": getattr(self._fn, "__name__", repr(self._fn)),
                **self._fn_kwargs}


class _BuiltinMean(MeanMetricWrapper):
    """A Keras mean metric over one of this module's functions (its state is the running mean)."""

    def __init__(self, fn, name, dtype=None, **kwargs):
        # a function Keras computes as a mean over the last axis: one value per sample of an (N, d)
        # output, but one value for a whole batch of an (N,) one (`mae.update_state(y, tf.squeeze(p))`),
        # which Keras's Mean then counts as one sample: batches of 32, 32 and 5 weigh the same
        self._batch_mean_of_vectors = hasattr(fn, "_per_sample")
        super().__init__(getattr(fn, "_per_sample", fn), name, dtype, **kwargs)  # (values per sample)

    def _values(self, y_true, y_pred):
        return self._fn(y_true, y_pred, **self._fn_kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._batch_mean_of_vectors and np.ndim(getattr(y_pred, "value", y_pred)) == 1 \
                and np.ndim(sample_weight) == 0:  # (Keras refuses a weight per sample here; fastnn weighs each)
            self._accumulate(np.mean(self._values(y_true, y_pred)), sample_weight)
        else:
            super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


# ---- accuracies ---------------------------------------------------------------------------------


class Accuracy(_BuiltinMean):
    """How often predictions equal the targets exactly (``compile``'s string ``"accuracy"`` picks
    binary, sparse or categorical accuracy instead)."""

    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(_BuiltinMean):
    """How often ``y_pred > threshold`` matches a binary target."""

    direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if not _is_real(threshold):
            raise _arg_error(type(self).__name__, "threshold", "a number", threshold)
        self.threshold = float(threshold)
        super().__init__(binary_accuracy, name, dtype, threshold=self.threshold)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(_BuiltinMean):
    """How often the arg-max of the prediction matches the one-hot target's."""

    direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(_BuiltinMean):
    """How often the arg-max of the prediction matches the integer label."""

    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


def _check_k(metric, k):
    if not _is_int(k) or k < 1:
        raise _arg_error(metric, "k", "a positive integer", k)
    return int(k)


class TopKCategoricalAccuracy(_BuiltinMean):
    """How often the one-hot target's class is among the ``k`` highest scores (a class tied with the
    k-th highest score counts as in the top k, as in Keras)."""

    direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = _check_k(type(self).__name__, k)
        super().__init__(top_k_categorical_accuracy, name, dtype, k=self.k)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(_BuiltinMean):
    """How often the integer label is among the ``k`` highest scores (ties as in Keras);
    ``from_sorted_ids``: ``y_pred`` holds class ids sorted by decreasing score."""

    direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        self.k = _check_k(type(self).__name__, k)
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=self.k,
                         from_sorted_ids=self.from_sorted_ids)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


class _Accuracy(Metric):
    """Keras's ``"accuracy"``: the variant is chosen at the first update from loss and shapes."""

    direction = "up"
    _mean_state = ("total", "count")  # (Keras's: a MeanMetricWrapper)

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


# ---- regression ---------------------------------------------------------------------------------


class MeanSquaredError(_BuiltinMean):
    """Mean squared error."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)


class MeanAbsoluteError(_BuiltinMean):
    """Mean absolute error."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)


class MeanAbsolutePercentageError(_BuiltinMean):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))``."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype)


class MeanSquaredLogarithmicError(_BuiltinMean):
    """``mean((log(y_pred + 1) - log(y_true + 1))²)`` (values below 1e-7 taken as 1e-7)."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype)


def _squared_errors(y_true, y_pred):
    t, p = _pair(y_true, y_pred, "root_mean_squared_error")
    return np.square(p - t)


class RootMeanSquaredError(_BuiltinMean):
    """``sqrt`` of the running (weighted) mean squared error — the root of the whole epoch's mean,
    not a mean of batch roots."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(_squared_errors, name, dtype)

    def result(self):
        return math.sqrt(super().result())


class _AlongAxis(_BuiltinMean):
    """A mean of a similarity taken along ``axis`` (1 at best)."""

    direction = "up"

    def __init__(self, fn, name, dtype, axis):
        if not _is_int(axis):
            raise _arg_error(type(self).__name__, "axis", "an integer", axis)
        self.axis = int(axis)
        super().__init__(fn, name, dtype, axis=self.axis)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class CosineSimilarity(_AlongAxis):
    """The mean cosine similarity of targets and predictions along ``axis`` (1: same direction)."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name, dtype, axis)


class PearsonCorrelation(_AlongAxis):
    """The mean over samples of Pearson's correlation of targets and predictions along ``axis``
    (each sample's row: a regression output with several values)."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, axis)


class ConcordanceCorrelation(_AlongAxis):
    """The mean over samples of Lin's concordance correlation of targets and predictions along
    ``axis`` (1 only where the predictions equal the targets)."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, axis)


class LogCoshError(_BuiltinMean):
    """``mean(log(cosh(y_pred - y_true)))``."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name, dtype)


# ---- probabilistic and hinge --------------------------------------------------------------------


def _check_smoothing(metric, label_smoothing):
    if not _is_real(label_smoothing) or not 0 <= label_smoothing <= 1:
        raise _arg_error(metric, "label_smoothing", "a number in [0, 1]", label_smoothing)
    return float(label_smoothing)


def _check_axis_last(metric, axis):
    if axis != -1:
        raise _arg_error(metric, "axis", "-1 (fastnn computes cross-entropy over the last axis)", axis)
    return -1


class BinaryCrossentropy(_BuiltinMean):
    """The mean binary cross-entropy (``from_logits``, ``label_smoothing`` as Keras's loss)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(type(self).__name__, label_smoothing)
        super().__init__(binary_crossentropy, name, dtype, from_logits=self.from_logits,
                         label_smoothing=self.label_smoothing)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(_BuiltinMean):
    """The mean categorical cross-entropy of one-hot targets."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(type(self).__name__, label_smoothing)
        self.axis = _check_axis_last(type(self).__name__, axis)
        super().__init__(categorical_crossentropy, name, dtype, from_logits=self.from_logits,
                         label_smoothing=self.label_smoothing)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(_BuiltinMean):
    """The mean categorical cross-entropy of integer labels. ``ignore_class``: a label whose values
    are 0; as in Keras 3, they are left out of the mean only with a sample_weight (its weight then
    0), else they count as zeros (Keras's own tests pin this: 0.78462 for its example)."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        if ignore_class is not None and not _is_int(ignore_class):
            raise _arg_error(type(self).__name__, "ignore_class", "None or an integer label", ignore_class)
        self.from_logits = bool(from_logits)
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.axis = _check_axis_last(type(self).__name__, axis)
        super().__init__(sparse_categorical_crossentropy, name, dtype, from_logits=self.from_logits)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None:
            return super().update_state(y_true, y_pred, sample_weight)
        values = sparse_categorical_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class)
        if sample_weight is None:  # (Keras 3 applies the label mask only to given weights)
            return self._accumulate(values, np.ones_like(values, dtype=np.float64))
        keep = (_sparse_labels(y_true, np.asarray(y_pred), self.name) != self.ignore_class).astype(np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            keep = keep * (w.reshape(w.shape + (1,) * (keep.ndim - w.ndim)) if w.ndim < keep.ndim else w)
        self._accumulate(values, keep)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


class KLDivergence(_BuiltinMean):
    """The mean Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))``."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name, dtype)


class Poisson(_BuiltinMean):
    """The mean Poisson loss ``y_pred - y_true * log(y_pred)``."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name, dtype)


class Hinge(_BuiltinMean):
    """The mean hinge loss (0/1 targets are taken as -1/1)."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name, dtype)


class SquaredHinge(_BuiltinMean):
    """The mean squared hinge loss (0/1 targets are taken as -1/1)."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name, dtype)


class CategoricalHinge(_BuiltinMean):
    """The mean categorical hinge loss of one-hot targets."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name, dtype)


# ---- confusion-matrix metrics -------------------------------------------------------------------


def _parse_thresholds(metric, thresholds, default):
    """Keras's parse_init_thresholds: a list of floats in [0, 1] (``default`` when None)."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if not _is_real(t) or not 0 <= t <= 1]
    if bad or not values:
        raise _arg_error(metric, "thresholds", "a float or a list of floats in [0, 1]"
                         + (f" (invalid: {bad})" if bad else " (at least one)"), thresholds)
    return [float(t) for t in values]


def _evenly_spaced(thresholds):
    """Keras's is_evenly_distributed_thresholds: 3 or more, close to ``i / (n - 1)``."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _filter_top_k(x, k):
    """The ``k`` largest values of the last axis kept (the first ones among ties), the rest NEG_INF."""
    if k >= x.shape[-1]:
        return x
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, x, np.float32(NEG_INF)).astype(np.float32)


def _confusion(metric, y_true, y_pred, sample_weight, thresholds, evenly, top_k=None, class_id=None,
               multi_label=False, label_weights=None):
    """Weighted (tp, fp, tn, fn) of one batch per threshold ((T,), or (T, L) with ``multi_label``),
    as Keras's update_confusion_matrix_variables: a prediction is positive at ``t`` when
    ``y_pred > t`` (in float32), a target when it is nonzero."""
    name = type(metric).__name__
    p = _array(y_pred, "y_pred", name, np.float32)
    t = _array(y_true, "y_true", name, np.float32)
    p, t = _same_rank(p, t)
    w = None
    if sample_weight is not None:
        w = _array(sample_weight, "sample_weight", name)
        _, w = _same_rank(t, w[..., None], expand_rank_1=False)
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true must have y_pred's shape (a target per prediction; one-hot for several "
                         f"classes). Received: y_true.shape={np.shape(y_true)}, y_pred.shape={np.shape(y_pred)}")
    if top_k is not None:
        p = _filter_top_k(p, top_k)
    if class_id is not None:
        if p.ndim < 2:
            raise ValueError(f"{name}: with class_id, y_pred must have shape (num_samples, num_classes). Received: "
                             f"y_pred.shape={p.shape}")
        if class_id >= p.shape[-1]:
            raise ValueError(f"{name}: class_id={class_id} is out of range for predictions of "
                             f"{p.shape[-1]} classes (y_pred.shape={p.shape})")
        t = t[..., class_id, None]
        p = p[..., class_id, None]
    if multi_label and p.ndim != 2:
        raise ValueError(f"{name}: with multi_label=True, y_pred must have rank 2 (samples, labels). Received: "
                         f"y_pred.shape={p.shape}")
    if w is not None:
        try:
            w = np.broadcast_to(w, p.shape)
        except ValueError:
            raise ValueError(f"{name}: sample_weight must be one weight per sample (or broadcastable to the "
                             f"predictions' shape {p.shape}). Received: sample_weight.shape="
                             f"{np.shape(sample_weight)}") from None
    if label_weights is not None:
        try:
            lw = np.broadcast_to(label_weights, p.shape)
        except ValueError:
            raise ValueError(f"{name}: label_weights has {len(label_weights)} entries; the predictions have "
                             f"{p.shape[-1]} labels (y_pred.shape={p.shape})") from None
        w = lw if w is None else w * lw
    n = len(thresholds)
    th = np.asarray(thresholds, dtype=np.float32)
    if evenly:
        # Keras's bucketing: positive at threshold i when ceil(p * (n - 1)) - 1 >= i, with p clipped
        # to [0, 1]; thresholds that start below 0 (AUC's -epsilon) count every prediction at i = 0
        level = np.ceil(np.clip(p, 0, 1) * np.float32(n - 1)) - 1
        if th[0] < 0 or th[-1] > 1:
            level = np.maximum(level, 0)
        order = None
    else:  # any thresholds: the number of them strictly below each prediction
        order = np.argsort(th, kind="stable")
        level = np.searchsorted(th[order], p, side="left") - 1
    level = np.where(np.isnan(p), -1, level).astype(np.int64)
    positive = t != 0
    cols = p.shape[-1] if multi_label else 1
    if multi_label:
        slot = level + n * np.arange(cols)  # per label: its own run of n buckets
        lab = np.broadcast_to(np.arange(cols), p.shape)
    else:
        slot, lab = level, None
    counted = level >= 0
    ww = np.ones(p.shape) if w is None else np.asarray(w, dtype=np.float64)

    def buckets(mask):
        m = mask & counted
        return np.bincount(slot[m], weights=ww[m], minlength=n * cols).reshape(cols, n)

    def totals(mask):
        if not multi_label:
            return np.array([ww[mask].sum()])
        return np.bincount(lab[mask], weights=ww[mask], minlength=cols)

    # predictions counted at threshold i: those whose level is i or more (a reversed cumulative sum)
    tp = np.cumsum(buckets(positive)[:, ::-1], axis=1)[:, ::-1].T
    fp = np.cumsum(buckets(~positive)[:, ::-1], axis=1)[:, ::-1].T
    if order is not None:
        tp[order], fp[order] = tp.copy(), fp.copy()
    tn = totals(~positive) - fp
    fn = totals(positive) - tp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


class _ConfusionMatrixConditionCount(Metric):
    """The weighted count of one confusion-matrix cell per threshold."""

    _cell = 0  # tp, fp, tn, fn

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(type(self).__name__, thresholds, 0.5)
        self._evenly = _evenly_spaced(self.thresholds)
        self.reset_state()

    def reset_state(self):
        self.accumulator = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.accumulator += _confusion(self, y_true, y_pred, sample_weight, self.thresholds, self._evenly)[self._cell]

    def result(self):
        return float(self.accumulator[0]) if len(self.thresholds) == 1 else self.accumulator.copy()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": _jsonable(self.init_thresholds)}


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true positives: ``y_pred > threshold`` (default 0.5) on a nonzero
    target; one count per threshold given."""

    direction = "up"
    _cell = 0


class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false positives: ``y_pred > threshold`` on a zero target."""

    _cell = 1


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true negatives: ``y_pred <= threshold`` on a zero target."""

    direction = "up"
    _cell = 2


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false negatives: ``y_pred <= threshold`` on a nonzero target."""

    _cell = 3


def _check_top_k_class_id(metric, top_k, class_id):
    if top_k is not None and (not _is_int(top_k) or top_k < 1):
        raise _arg_error(metric, "top_k", "None or a positive integer", top_k)
    if class_id is not None and (not _is_int(class_id) or class_id < 0):
        raise _arg_error(metric, "class_id", "None or a class index (an integer >= 0)", class_id)


class _PrecisionRecall(Metric):
    direction = "up"
    _cells = (0, 1)

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        metric = type(self).__name__
        _check_top_k_class_id(metric, top_k, class_id)
        self.init_thresholds = thresholds
        self.top_k = None if top_k is None else int(top_k)
        self.class_id = None if class_id is None else int(class_id)
        self.thresholds = _parse_thresholds(metric, thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = _evenly_spaced(self.thresholds)
        self.reset_state()

    def reset_state(self):
        self.true_positives = np.zeros(len(self.thresholds))
        self._other = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        cells = _confusion(self, y_true, y_pred, sample_weight, self.thresholds, self._evenly, self.top_k,
                           self.class_id)
        self.true_positives += cells[0]
        self._other += cells[self._cells[1]]

    def result(self):
        r = _div_no_nan(self.true_positives, self.true_positives + self._other)
        return float(r[0]) if len(self.thresholds) == 1 else r

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": _jsonable(self.init_thresholds),
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` over everything seen: a prediction is positive when ``y_pred >
    threshold`` (default 0.5; one result per threshold given) and, with ``top_k``, among the
    sample's ``k`` highest; ``class_id`` restricts it to one class (of one-hot targets)."""

    _cells = (0, 1)

    @property
    def false_positives(self):
        return self._other


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` over everything seen (thresholds, ``top_k`` and ``class_id`` as
    `Precision`'s)."""

    _cells = (0, 3)

    @property
    def false_negatives(self):
        return self._other


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = {"interpolation": "interpolation", "majoring": "majoring", "minoring": "minoring"}


class AUC(Metric):
    """The area under the ROC (default) or precision-recall curve, by Keras's Riemann sum over
    ``num_thresholds`` thresholds: ``-1e-7``, ``i / (num_thresholds - 1)`` for the inner ones and
    ``1 + 1e-7`` (or the sorted ``thresholds`` given, with those two ends). Predictions are
    bucketed (an even grid costs one ``bincount`` per batch). ``summation_method``
    ``"interpolation"`` (the trapezoid for ROC; Davis & Goadrich's interpolation for PR),
    ``"minoring"`` or ``"majoring"``; ``multi_label``: one curve per label (column), averaged
    (weighted by ``label_weights``); otherwise every value is one prediction (``label_weights``
    then weighs each column's values). ``from_logits``: a sigmoid is applied first.
    """

    direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name, dtype)
        metric = type(self).__name__
        if not isinstance(curve, str) or curve.lower() not in _CURVES or curve not in (curve.lower(), curve.upper()):
            raise _arg_error(metric, "curve", "'ROC', 'PR' or 'PRGAIN'", curve)
        if (not isinstance(summation_method, str) or summation_method.lower() not in _SUMMATIONS
                or summation_method not in (summation_method.lower(), summation_method.capitalize())):
            raise _arg_error(metric, "summation_method", "'interpolation', 'majoring' or 'minoring'", summation_method)
        self.curve = _CURVES[curve.lower()]
        self.summation_method = summation_method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_parse_thresholds(metric, thresholds, None))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly_spaced([0.0] + inner + [1.0])
        else:
            if not _is_int(num_thresholds) or num_thresholds <= 1:
                raise _arg_error(metric, "num_thresholds", "an integer > 1", num_thresholds)
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.multi_label = bool(multi_label)
        if num_labels is not None and (not _is_int(num_labels) or num_labels < 1):
            raise _arg_error(metric, "num_labels", "None or a positive integer", num_labels)
        if num_labels is not None and not self.multi_label:
            raise ValueError(f"{metric}: argument `num_labels` is needed only when `multi_label` is True. "
                             f"Received: num_labels={num_labels!r}, multi_label={multi_label!r}")
        self.num_labels = num_labels
        if label_weights is not None:
            lw = _array(label_weights, "label_weights", metric)
            if lw.ndim != 1 or np.any(lw < 0) or not np.all(np.isfinite(lw)):
                raise _arg_error(metric, "label_weights", "a list of non-negative weights, one per label",
                                 label_weights)
            if num_labels is not None and len(lw) != num_labels:
                raise ValueError(f"{metric}: label_weights has {len(lw)} entries but num_labels={num_labels}")
            label_weights = lw
        self.label_weights = label_weights
        self._from_logits = bool(from_logits)
        self._num_labels = num_labels
        self.reset_state()

    @property
    def thresholds(self):
        """The thresholds used for evaluating AUC."""
        return [float(t) for t in self._thresholds]

    @property
    def from_logits(self):
        return self._from_logits

    def reset_state(self):
        if self.multi_label and self._num_labels is None:  # built at the first update
            self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = None
            return
        shape = (self.num_thresholds, self._num_labels) if self.multi_label else (self.num_thresholds,)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.true_negatives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = type(self).__name__
        p = _array(y_pred, "y_pred", metric, np.float32)
        if self.multi_label:
            if p.ndim != 2:
                raise ValueError(f"{metric}: with multi_label=True, y_pred must have rank 2 (samples, labels). "
                                 f"Received: y_pred.shape={p.shape}")
            if self._num_labels is None:
                self._num_labels = p.shape[1]
                self.reset_state()
            elif p.shape[1] != self._num_labels:
                raise ValueError(f"{metric}: y_pred has {p.shape[1]} labels; this multi-label AUC was built for "
                                 f"{self._num_labels}. Received: y_pred.shape={p.shape}")
            if self.label_weights is not None and len(self.label_weights) != self._num_labels:
                raise ValueError(f"{metric}: label_weights has {len(self.label_weights)} entries; y_pred has "
                                 f"{self._num_labels} labels")
        if self._from_logits:
            p = _sigmoid32(p)
        tp, fp, tn, fn = _confusion(self, y_true, p, sample_weight, self._thresholds, self._evenly,
                                    multi_label=self.multi_label,
                                    label_weights=None if self.multi_label else self.label_weights)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _average(self, by_label):
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_div_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _div_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _div_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        increment = _div_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increment.sum(axis=0)) if self.multi_label else float(increment.sum())

    def result(self):
        if self.true_positives is None:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _div_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _div_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _div_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * _div_no_nan(fn, tp))
            precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * _div_no_nan(fp, tp))
            x, y = np.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        terms = (x[:-1] - x[1:]) * heights
        return self._average(terms.sum(axis=0)) if self.multi_label else float(terms.sum())

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": _jsonable(self.label_weights),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class _SensitivitySpecificityBase(Metric):
    """The best value of one rate where another rate is at least ``value`` (Keras's
    SensitivitySpecificityBase), from the weighted tp/fp/tn/fn counts of everything seen at
    ``num_thresholds`` thresholds: ``0``, ``i / (num_thresholds - 1)``, ``1`` (or one, 0.5, with
    ``num_thresholds=1``); a prediction is positive at ``t`` when ``y_pred > t`` (the counting of
    `AUC` and `Precision`, evenly spaced thresholds bucketed). ``class_id``: one class (column) of
    one-hot targets. The state is Keras's four variables ``true_positives``, ``false_positives``,
    ``true_negatives`` and ``false_negatives`` (one value per threshold)."""

    direction = "up"
    _value_arg = None  # the constructor's argument holding the constraint: "specificity"...

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        metric, arg = type(self).__name__, self._value_arg
        if not _is_real(value) or not 0 <= value <= 1:
            raise ValueError(f"{metric}: Argument `{arg}` must be in the range [0, 1]. Received: {arg}={value!r}")
        if not _is_int(num_thresholds) or num_thresholds <= 0:
            raise ValueError(f"{metric}: Argument `num_thresholds` must be an integer > 0. Received: "
                             f"num_thresholds={num_thresholds!r}")
        _check_top_k_class_id(metric, None, class_id)
        self.value = float(value)
        setattr(self, arg, self.value)
        self.num_thresholds = int(num_thresholds)
        self.class_id = None if class_id is None else int(class_id)
        if self.num_thresholds == 1:
            self.thresholds = [0.5]
            self._evenly = False
        else:
            n = self.num_thresholds
            self.thresholds = [0.0] + [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)] + [1.0]
            self._evenly = True
        shape = (len(self.thresholds),)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = _confusion(self, y_true, y_pred, sample_weight, self.thresholds, self._evenly,
                                    class_id=self.class_id)
        self.true_positives.assign_add(tp)
        self.false_positives.assign_add(fp)
        self.true_negatives.assign_add(tn)
        self.false_negatives.assign_add(fn)

    @staticmethod
    def _rate(a, b):
        # Keras's divide_no_nan(a, a + b) of its float32 variables
        a = np.asarray(a, dtype=np.float32)
        total = a + np.asarray(b, dtype=np.float32)
        out = np.zeros(a.shape, dtype=np.float32)
        np.divide(a, total, out=out, where=total != 0)
        return out

    def _max_under_constraint(self, constrained, dependent):
        """The largest ``dependent`` where ``constrained >= value`` (0 where none is)."""
        feasible = constrained >= np.float32(self.value)
        return float(np.max(np.where(feasible, dependent, 0), initial=0))

    def _sensitivities(self):
        return self._rate(self.true_positives.value, self.false_negatives.value)

    def _specificities(self):
        return self._rate(self.true_negatives.value, self.false_positives.value)

    def _precisions(self):
        return self._rate(self.true_positives.value, self.false_positives.value)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self._value_arg: self.value}


class SensitivityAtSpecificity(_SensitivitySpecificityBase):
    """The best sensitivity (recall, ``tp / (tp + fn)``) among the thresholds where the specificity
    ``tn / (tn + fp)`` is at least ``specificity``."""

    _value_arg = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._max_under_constraint(self._specificities(), self._sensitivities())


class SpecificityAtSensitivity(_SensitivitySpecificityBase):
    """The best specificity ``tn / (tn + fp)`` among the thresholds where the sensitivity
    ``tp / (tp + fn)`` is at least ``sensitivity``."""

    _value_arg = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._max_under_constraint(self._sensitivities(), self._specificities())


class PrecisionAtRecall(_SensitivitySpecificityBase):
    """The best precision ``tp / (tp + fp)`` among the thresholds where the recall is at least
    ``recall``."""

    _value_arg = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._max_under_constraint(self._sensitivities(), self._precisions())


class RecallAtPrecision(_SensitivitySpecificityBase):
    """The best recall among the thresholds where the precision ``tp / (tp + fp)`` is at least
    ``precision`` (0 when no threshold reaches it)."""

    _value_arg = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._max_under_constraint(self._precisions(), self._sensitivities())


class FBetaScore(Metric):
    """The F-beta score ``(1 + β²)·P·R / (β²·P + R)`` from the counts of everything seen, per class
    (``average=None``: one value per class) or averaged: ``"micro"`` (global counts), ``"macro"``
    (the classes' mean), ``"weighted"`` (by each class's true count). A prediction is positive when
    ``y_pred > threshold``, or, with ``threshold=None``, when it is its row's maximum (and nonzero).
    Inputs are (samples, classes)."""

    direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        metric = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise _arg_error(metric, "average", "one of None, 'micro', 'macro', 'weighted'", average)
        if not _is_real(beta) or not beta > 0:
            raise _arg_error(metric, "beta", "a number > 0", beta)
        if threshold is not None and (not _is_real(threshold) or not 0 < threshold <= 1):
            raise _arg_error(metric, "threshold", "None or a number with 0 < threshold <= 1", threshold)
        self.average = average
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self.axis = None if average == "micro" else 0
        self._num_classes = None
        self.reset_state()

    def reset_state(self):
        shape = () if self.average == "micro" else (self._num_classes or 0,)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)
        self.intermediate_weights = np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = type(self).__name__
        p = _array(y_pred, "y_pred", metric, np.float32)
        t = _array(y_true, "y_true", metric)
        if p.ndim != 2 or t.ndim != 2:
            raise ValueError(f"{metric} expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={p.shape} and y_true.shape={t.shape}.")
        if self._num_classes is None:
            self._num_classes = p.shape[-1]
            self.reset_state()
        elif p.shape[-1] != self._num_classes:
            raise ValueError(f"{metric}: y_pred has {p.shape[-1]} classes; the metric has seen {self._num_classes}")
        if self.threshold is None:
            pred = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pred = p > np.float32(self.threshold)
        pred = pred.astype(np.float64)
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            w = w.reshape(w.shape + (1,) * (t.ndim - w.ndim))

        def wsum(v):
            return np.sum(v if w is None else v * w, axis=self.axis)

        self.true_positives = self.true_positives + wsum(pred * t)
        self.false_positives = self.false_positives + wsum(pred * (1 - t))
        self.false_negatives = self.false_negatives + wsum((1 - pred) * t)
        self.intermediate_weights = self.intermediate_weights + wsum(t)

    def result(self):
        if self._num_classes is None:
            return 0.0
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + EPSILON)
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score ``2·P·R / (P + R)`` (`FBetaScore` with ``beta=1``)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` of everything seen, per output column
    then averaged (``class_aggregation``: ``"uniform_average"``, ``"variance_weighted_average"`` or
    None for one per column); ``num_regressors > 0`` gives the adjusted R². Inputs are (samples,
    outputs)."""

    direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name, dtype)
        metric = type(self).__name__
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise _arg_error(metric, "class_aggregation", "one of None, 'uniform_average', "
                             "'variance_weighted_average'", class_aggregation)
        if not _is_int(num_regressors) or num_regressors < 0:
            raise _arg_error(metric, "num_regressors", "an integer >= 0", num_regressors)
        self.class_aggregation = class_aggregation
        self.num_regressors = int(num_regressors)
        self._num_outputs = None
        self.reset_state()

    def reset_state(self):
        k = self._num_outputs or 0
        self.num_samples = 0.0
        self.squared_sum = np.zeros(k)
        self.sum = np.zeros(k)
        self.total_mse = np.zeros(k)
        self.count = np.zeros(k)

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = type(self).__name__
        t, p = _pair(y_true, y_pred, metric)
        if t.ndim != 2 or p.ndim != 2 or t.shape != p.shape:
            raise ValueError(f"{metric} expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={np.shape(y_pred)} and y_true.shape={np.shape(y_true)}.")
        if self._num_outputs is None:
            self._num_outputs = p.shape[1]
            self.reset_state()
        w = np.ones(()) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 1:
            w = w[:, None]
        w = np.broadcast_to(w, t.shape)
        self.sum = self.sum + np.sum(t * w, axis=0)
        self.squared_sum = self.squared_sum + np.sum(t * t * w, axis=0)
        self.total_mse = self.total_mse + np.sum((t - p) ** 2 * w, axis=0)
        self.count = self.count + np.sum(w, axis=0)
        self.num_samples += float(np.sum(np.any(w != 0, axis=-1)))

    def result(self):
        if not self.count.size:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = np.sum(total * raw) / np.sum(total)
        else:
            score = raw
        n, k = self.num_samples, self.num_regressors
        if k and k > n - 1:
            warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                          "standard R2 score.", stacklevel=2)
        elif k and k == n - 1:
            warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.", stacklevel=2)
        elif k:
            score = 1 - (1 - score) * (n - 1) / (n - k - 1)
        return float(score) if np.ndim(score) == 0 else score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# ---- intersection over union ----------------------------------------------------------------------


def _iou_dtype(metric, dtype):
    """Keras's IoU dtype: ``"int"`` by default (an integer confusion matrix: sample weights are cast
    to integers), or a float dtype for fractional weights."""
    if dtype is None or dtype == "int" or dtype is int:
        return "int64"
    try:
        kind = np.dtype(dtype).kind if not (isinstance(dtype, str) and dtype == "bfloat16") else "f"
    except TypeError:
        kind = None
    if kind in ("i", "u"):
        return np.dtype(dtype).name
    return _check_dtype(metric, dtype)


def _class_ids(metric, ids, num_classes):
    try:
        ids = list(ids)
    except TypeError:
        raise _arg_error(metric, "target_class_ids", "a list or tuple of class ids", ids) from None
    if not ids or not all(_is_int(i) for i in ids):
        raise _arg_error(metric, "target_class_ids", "a non-empty list of integer class ids", ids)
    if max(ids) >= num_classes or min(ids) < 0:
        bad = max(ids) if max(ids) >= num_classes else min(ids)
        raise ValueError(f"{metric}: Target class id {bad} is out of range, which is [0, {num_classes}). "
                         f"Received: target_class_ids={ids!r}, num_classes={num_classes}")
    return [int(i) for i in ids]


class _IoUBase(Metric):
    """A (num_classes, num_classes) confusion matrix of class ids (rows: targets, columns:
    predictions), accumulated with sample weights, as Keras's ``_IoUBase``: ids outside
    ``[0, num_classes)`` (and targets equal to ``ignore_class``) are left out; with
    ``sparse_y_true=False`` / ``sparse_y_pred=False`` the arg-max over ``axis`` is taken first,
    otherwise the values are cast to integers (truncated, as Keras's cast). Everything is
    flattened, so targets and predictions must hold the same number of ids. The state is Keras's
    variable ``total_cm`` (named ``total_confusion_matrix``), integer by default (dtype ``"int"``:
    fractional sample weights are truncated, with a warning, as in Keras; pass
    ``dtype="float32"`` to weigh by them)."""

    direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        metric = type(self).__name__
        cm_dtype = _iou_dtype(metric, dtype)
        super().__init__(name, None)
        self._dtype = cm_dtype
        if not _is_int(num_classes) or num_classes < 1:
            raise _arg_error(metric, "num_classes", "a positive integer (the number of classes)", num_classes)
        if ignore_class is not None and not _is_int(ignore_class):
            raise _arg_error(metric, "ignore_class", "None or an integer class id", ignore_class)
        if not _is_int(axis):
            raise _arg_error(metric, "axis", "an integer", axis)
        self.num_classes = int(num_classes)
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = int(axis)
        self.total_cm = self.add_variable((self.num_classes, self.num_classes), dtype=np.dtype(
            "float32" if cm_dtype == "bfloat16" else cm_dtype), name="total_confusion_matrix")

    def _ids(self, x, what, sparse):
        a = _array(x, what, type(self).__name__)
        if not sparse:
            if a.ndim == 0:
                raise ValueError(f"{type(self).__name__}: {what} must hold a score per class (sparse_{what}=False "
                                 f"takes the arg-max over axis {self.axis}). Received: {what}.shape={a.shape}")
            a = np.argmax(a, axis=self.axis)
        a = a.reshape(-1)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(a), np.trunc(a), -1).astype(np.int64)  # (NaN: left out)

    def update_state(self, y_true, y_pred, sample_weight=None):
        metric = type(self).__name__
        t = self._ids(y_true, "y_true", self.sparse_y_true)
        p = self._ids(y_pred, "y_pred", self.sparse_y_pred)
        if t.size != p.size:
            hint = ""
            if self.sparse_y_pred and p.size > t.size and p.size % max(t.size, 1) == 0:
                hint = " (y_pred holds a score per class: pass sparse_y_pred=False to take its arg-max)"
            elif self.sparse_y_true and t.size > p.size and t.size % max(p.size, 1) == 0:
                hint = " (y_true is one-hot: pass sparse_y_true=False to take its arg-max)"
            raise ValueError(f"{metric}: y_true and y_pred must hold one class id each per value. Received: "
                             f"y_true.shape={np.shape(y_true)} ({t.size} ids), y_pred.shape={np.shape(y_pred)} "
                             f"({p.size} ids){hint}")
        integer = self.total_cm.dtype.kind in "iu"
        w = None
        if sample_weight is not None:
            w = _array(sample_weight, "sample_weight", metric).reshape(-1)
            if integer:
                if np.any(w != np.trunc(w)):
                    warnings.warn(f"{metric}: You are passing weight as `float`, but dtype is `int`. This may result "
                                  "in an incorrect weight due to type casting. Consider using integer weights (or "
                                  "dtype='float32').", stacklevel=2)
                w = np.trunc(w)
            if w.size not in (1, t.size):
                raise ValueError(f"{metric}: sample_weight must be broadcastable to y_true (one weight per class "
                                 f"id, {t.size} here). Received: sample_weight.shape={np.shape(sample_weight)}, "
                                 f"y_true.shape={np.shape(y_true)}")
            w = np.broadcast_to(w, t.shape)
        n = self.num_classes
        valid = (t >= 0) & (t < n) & (p >= 0) & (p < n)
        if self.ignore_class is not None:
            valid &= t != self.ignore_class
        cells = t[valid] * n + p[valid]
        counts = np.bincount(cells, weights=None if w is None else w[valid], minlength=n * n)
        self.total_cm.assign_add(counts.reshape(n, n).astype(self.total_cm.dtype))

    def reset_state(self):
        self.total_cm.assign(0)


class IoU(_IoUBase):
    """Intersection over union, ``tp / (tp + fp + fn)`` per class from the confusion matrix of
    everything seen, averaged over ``target_class_ids`` (one id: that class's IoU). Classes absent
    from both targets and predictions are left out of the mean (as in Keras 3). Targets and
    predictions are class ids (``sparse_y_pred=False``: scores, their arg-max taken)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)
        self.target_class_ids = _class_ids(type(self).__name__, target_class_ids, self.num_classes)

    def result(self):
        cm = self.total_cm.value.astype(np.float64)
        true_positives = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - true_positives  # (tp + fp + fn)
        ids = self.target_class_ids
        true_positives = true_positives[ids].astype(np.float32)
        denominator = denominator[ids].astype(np.float32)
        valid = denominator > 1e-9  # (a class never seen: left out)
        iou = np.where(valid, true_positives / (denominator + np.float32(EPSILON)), 0.0)
        return float(np.sum(iou) / (np.sum(valid) + EPSILON))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": list(self.target_class_ids), "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """`IoU` of a binary task: a prediction is class 1 when ``y_pred >= threshold`` (float32
    comparison, as Keras's), else class 0; ``target_class_ids``: ``[0]``, ``[1]`` or ``[0, 1]``
    (the mean of both)."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        if not _is_real(threshold):
            raise _arg_error(type(self).__name__, "threshold", "a number", threshold)
        self.threshold = float(threshold)

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _array(y_pred, "y_pred", type(self).__name__, np.float32)
        return super().update_state(y_true, (p >= np.float32(self.threshold)).astype(np.int64), sample_weight)

    def get_config(self):
        return {"target_class_ids": list(self.target_class_ids), "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean `IoU` over all ``num_classes`` classes (those absent from targets and predictions
    left out). As in Keras, ``y_pred`` holds class ids by default: with a softmax output (scores
    per class) pass ``sparse_y_pred=False`` so that its arg-max is taken; one-hot targets need
    ``sparse_y_true=False``."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        if not _is_int(num_classes) or num_classes < 1:
            raise _arg_error(type(self).__name__, "num_classes", "a positive integer (the number of classes)",
                             num_classes)
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """`IoU` of one-hot targets: the arg-max of targets and of predictions (scores per class; class
    ids with ``sparse_y_pred=True``) over ``axis``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": list(self.target_class_ids), "name": self.name,
                "dtype": self.dtype, "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` of one-hot targets: the arg-max of targets and of predictions over ``axis``."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


# ---- lookup and serialization -------------------------------------------------------------------

_ALL = [Mean, Sum, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score, AUC, FalseNegatives, FalsePositives,
        Precision, Recall, TrueNegatives, TruePositives, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
        BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, Accuracy, BinaryAccuracy,
        CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
        F1Score, FBetaScore, SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall,
        RecallAtPrecision, IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU, PearsonCorrelation,
        ConcordanceCorrelation]
_CLASSES = {cls.__name__: cls for cls in _ALL}
# Keras's keras.metrics.get names: each class's name and its snake_case form, and a few aliases
_STRINGS = {**_CLASSES, **{utils.to_snake_case(cls.__name__): cls for cls in _ALL}}
_STRINGS.update({"bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError,
                 "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy, accuracy: Accuracy,
              top_k_categorical_accuracy: TopKCategoricalAccuracy,
              sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy, mean_squared_error: MeanSquaredError,
              mean_absolute_error: MeanAbsoluteError, mean_absolute_percentage_error: MeanAbsolutePercentageError,
              mean_squared_logarithmic_error: MeanSquaredLogarithmicError, log_cosh: LogCoshError,
              cosine_similarity: CosineSimilarity, hinge: Hinge, squared_hinge: SquaredHinge,
              categorical_hinge: CategoricalHinge, kl_divergence: KLDivergence, poisson: Poisson,
              binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              pearson_correlation: PearsonCorrelation, concordance_correlation: ConcordanceCorrelation}


def _as_keras_computes(fn):
    """``fn`` (per sample: an (N,) output is N samples of one value) as Keras's function computes
    when called directly: the mean over the last axis, so two 1-D arrays give one number
    (``keras.metrics.mean_absolute_error(x_valid, naive_forecast)``), with an eager tensor's numpy()."""
    @functools.wraps(fn)
    def keras_function(y_true, y_pred):
        values = np.asarray(fn(y_true, y_pred))
        if np.ndim(getattr(y_pred, "value", y_pred)) == 1:
            values = np.mean(values)
        return np.asarray(values).view(EagerArray)

    keras_function._per_sample = fn
    return keras_function


for _fn in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
            log_cosh, hinge, squared_hinge):
    _keras_function = _as_keras_computes(_fn)
    _FUNCTIONS[_keras_function] = _FUNCTIONS[_fn]
    globals()[_fn.__name__] = _keras_function
mse, mae, mape, msle = mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, \
    mean_squared_logarithmic_error  # (Keras's short names)
MSE, MAE, MAPE, MSLE = mse, mae, mape, msle


class UnknownMetric(ValueError):
    """A metric name or class that is neither fastnn's nor a custom object."""


def _custom(name):
    from .saving import custom_objects_with  # (load_model's custom_objects, the scopes, the registered)

    return custom_objects_with(None).get(name)


def deserialize(config, custom_objects=None):
    """A metric from ``{"class_name": ..., "config": {...}}`` (what `serialize` gives) or a name."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret serialized metric: {config!r}. Expected a name or a dict with "
                         "'class_name' and 'config'")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name) or _custom(name)
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise UnknownMetric(f"Unknown metric class: {name!r}. Expected one of {sorted(_CLASSES)} (or pass it in "
                         "custom_objects)")
    try:
        return cls.from_config(dict(config.get("config") or {}))
    except TypeError as e:
        raise ValueError(f"Invalid config for metric {name}: {e}") from None


def _required_args(cls):
    """The constructor arguments of ``cls`` without a default (MeanIoU's ``num_classes``...)."""
    import inspect

    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in list(params)[1:] if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                                                     p.POSITIONAL_OR_KEYWORD)]


def _instantiate(cls, name):
    if cls in _CLASSES.values():
        required = _required_args(cls)
        if required:
            args = ", ".join(f"{a}=..." for a in required)
            raise TypeError(f"Metric {cls.__name__} needs the argument(s) {required}: it cannot be made from "
                            f"{'its name ' + repr(name) if name else 'its class'} alone. Pass an instance instead, "
                            f"e.g. metrics=[keras.metrics.{cls.__name__}({args})]")
    return cls() if name is None else cls(name=name)


def get(identifier, loss=None):
    """A fresh metric for a name (``"accuracy"``, ``"acc"``, ``"precision"``, ``"AUC"``, ``"mse"``...),
    a serialized config, a function of this module or any ``fn(y_true, y_pred)``, a metric class or
    instance. ``loss``: the compiled loss's name, for ``"accuracy"``."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _Accuracy(identifier, loss)
        cls = _STRINGS.get(identifier)
        custom = _custom(identifier) if cls is None else None
        if custom is not None:  # (a metric of your own, by the name a saved model holds)
            if isinstance(custom, type) and issubclass(custom, Metric):
                return custom()
            if isinstance(custom, Metric):
                return custom
            if callable(custom):
                return MeanMetricWrapper(custom, name=identifier)
        if cls is None:
            known = ["accuracy", "acc", *sorted(k for k in _STRINGS if k == k.lower() and k != "accuracy")]
            raise UnknownMetric(f"Unknown metric: {identifier!r}. Expected one of {known} (or a class name such as "
                             "'AUC')")
        return _instantiate(cls, identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return _instantiate(identifier, None)
    if callable(identifier):
        cls = _FUNCTIONS.get(identifier)
        if cls is not None:
            return cls(name=utils.to_snake_case(identifier.__name__))
        # (a loss object, metrics=[keras.losses.BinaryCrossentropy()]: its name, as Keras's get_object_name)
        name = getattr(identifier, "__name__", None) or getattr(identifier, "name", None) or ""
        return MeanMetricWrapper(identifier, name=utils.to_snake_case(str(name)) or None)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def serialize(metric):
    """How a compiled metric is saved: its name when that name rebuilds it (``"accuracy"``,
    ``"mse"``, ``"auc"`` with the defaults...), else ``{"class_name", "config"}`` (`get` takes
    both). A metric that cannot be rebuilt from JSON (a wrapped Python function, a class not in
    this module) raises TypeError."""
    if isinstance(metric, _Accuracy):
        return metric.name
    cls = type(metric)
    if cls is MeanMetricWrapper and _FUNCTIONS.get(metric._fn) is None:
        # a function of your own (Géron's create_huber(2.0)): by its name, which custom_objects gives back
        name = getattr(metric._fn, "__name__", "<lambda>")
        if name == "<lambda>" or metric._fn_kwargs or metric.name != utils.to_snake_case(name):
            raise TypeError(f"Metric '{metric.name}' wraps {metric._fn!r}, which a config cannot name")
        return name
    if _CLASSES.get(cls.__name__) is not cls:  # a class of your own: custom_objects gives it back
        return {"class_name": cls.__name__, "config": _jsonable(metric.get_config())}
    config = metric.get_config()
    if _STRINGS.get(metric.name) is cls and not _required_args(cls) and cls(name=metric.name).get_config() == config:
        return metric.name
    return {"class_name": cls.__name__, "config": _jsonable(config)}


def serialize_without_prefix(metric, prefix):
    """`serialize`, with ``prefix`` (a per-output metric's ``"<output>_"``) taken off its name: how
    it was given to compile, so that compiling again adds the prefix back."""
    saved = serialize(metric)
    if isinstance(saved, str):
        return saved[len(prefix):] if saved.startswith(prefix) else saved
    name = saved["config"].get("name")
    if isinstance(name, str) and name.startswith(prefix):
        saved = {**saved, "config": {**saved["config"], "name": name[len(prefix):]}}
    return saved


__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError",
           "RootMeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
           "CosineSimilarity", "LogCoshError", "R2Score", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
           "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision", "Recall", "AUC",
           "F1Score", "FBetaScore", "SensitivityAtSpecificity", "SpecificityAtSensitivity", "PrecisionAtRecall",
           "RecallAtPrecision", "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU", "get", "serialize",
           "deserialize", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
           "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "log_cosh", "cosine_similarity", "hinge", "squared_hinge",
           "categorical_hinge", "kl_divergence", "poisson", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "PearsonCorrelation", "ConcordanceCorrelation", "pearson_correlation",
           "concordance_correlation"]
