"""fastnn.losses — Keras's losses over the ``ops.loss_forward``/``loss_backward`` kernels.

A loss object reduces like Keras 3's default ("sum_over_batch_size"; ``reduction=`` also takes
"sum", "mean_with_sample_weight" and None for the per-sample losses): ``sum_i(w_i · l_i) / N``
with per-sample losses ``l_i`` (mean over a sample's values for mse, mae and binary
cross-entropy, sum for the categorical ones) and optional sample weights ``w``. Weights may
also be given per step, of the prediction's shape without its last axis ((N, T) for an (N, T, C)
output, as Keras's temporal weights; a masked output's are): the loss is then
``sum_{i,t}(w_it · l_it) / (N · T)`` with ``l_it`` the loss of one step's values. Probabilities
are clipped to [1e-7, 1 - 1e-7]. The lower-case functions (``mean_squared_error(y_true,
y_pred)``) return the per-sample losses, like Keras's; passing one to ``compile`` selects the
matching loss object. Any other function ``fn(y_true, y_pred)`` written with the
``fastnn.backend`` functions is a `LossFunctionWrapper`, differentiated by `fastnn.autodiff`.
Keras 3's other losses (`Huber`, `LogCosh`, the hinges, `KLDivergence`, `Poisson`,
`CosineSimilarity`, `MeanAbsolutePercentageError`, `MeanSquaredLogarithmicError` and the focal
cross-entropies) are such wrappers over this module's functions of the same (lower-case) names.
A user's subclass of `Loss` defines ``call(y_true, y_pred)``, as in Keras, and is one too.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from . import _backend, autodiff, ops, utils
from . import autodiff as K
from ._batch_dataset import EagerArray, EagerFloat
from ._config import serialize



def _weights(sample_weight):
    """Sample weights as an array: (N,) for one per sample (also given as (N, 1)), or per step
    ((N, T), also given as (N, T, 1), as Keras squeezes them)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.ndim > 2 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    return w.reshape(-1) if w.ndim > 1 and w.size == w.shape[0] else w


class Reduction:
    """tf.keras 2's names of the reductions (``losses.Reduction.NONE``); Keras 3 takes the strings."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)


# Keras 3's reductions of the (weighted) per-sample losses l_i (one per sample, or per step of a
# sequence output): "sum_over_batch_size" (and its alias "mean") sum(w·l) / count(l), "sum"
# sum(w·l), "mean_with_sample_weight" sum(w·l) / sum(w), and None / "none" the values w·l themselves
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none")


def _reduction(reduction, owner):
    """``reduction`` as one of `_REDUCTIONS` (None is "none", tf.keras 2's "auto" the default)."""
    value = "none" if reduction is None else "sum_over_batch_size" if reduction == "auto" else reduction
    if value not in _REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))} or None. "
                         f"Received: reduction={reduction!r}")
    return value


def _loss_shape(y_pred):
    """The shape of the per-sample losses of a prediction: its shape without the last axis ((N,)
    for an (N, C) output, (N, T) for (N, T, C)); a 1-D output has a loss per value."""
    shape = np.shape(y_pred)
    return shape[:-1] if len(shape) > 1 else shape


def _loss_count(y_pred):
    """How many per-sample losses a prediction gives."""
    return int(np.prod(_loss_shape(y_pred)))


def _broadcast_weights(w, shape):
    """Sample weights (N,) or per step (N, T) brought to the per-sample losses' shape."""
    w = np.asarray(w)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


class Loss:
    """Base class of the losses: ``loss(y_true, y_pred, sample_weight=None)`` returns the batch
    loss (a float; the per-sample losses, an array, with reduction None or "none").

    A subclass defines ``call(y_true, y_pred)``, the loss of each sample (or of each value), with
    `fastnn.ops` or ``fastnn.backend`` functions, as in Keras (``class CustomMSE(keras.losses.Loss)``);
    it is reduced by ``reduction`` and differentiated by `fastnn.autodiff`. The targets reach
    ``call`` as floats of the prediction's dtype, of its rank where they differ by a last axis of
    1. The built-in losses of the kernels are `_KernelLoss`es. ``gradient`` returns d loss / d y_pred.
    """

    kernel = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.reduction = _reduction(reduction, type(self).__name__)
        self.name = name or self.kernel or utils.to_snake_case(type(self).__name__)
        self.from_logits = False
        self.dtype = dtype
        self._last = None  # (y_true, y_pred, sample_weight, loss tensor, y_pred on the tape)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__}: a subclass of Loss defines call(y_true, y_pred), the "
                                  "loss of each sample")

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch loss (a float; with reduction "none" the per-sample losses); of a prediction on
        a tape (a custom train_step's, under a `fastnn.GradientTape`), a node of the tape whose
        gradient is `gradient`'s."""
        swapped = autodiff.on_watched_now([y_pred])  # (a watched y_pred: its leaf; a y_true: `_tape_target`)
        if swapped is not None:
            y_pred = swapped[0]
        target = _tape_target(y_true)
        if target is not None:
            return self._recorded(target, y_pred, sample_weight)
        y_true = autodiff._value(y_true)
        if self.reduction == "none":
            return self._per_sample(y_true, y_pred, sample_weight)
        if not isinstance(y_pred, autodiff.Tensor):
            return EagerFloat(self._batch_loss(y_true, y_pred, sample_weight))
        p = y_pred.value
        value = np.asarray(self._batch_loss(y_true, p, sample_weight), dtype=p.dtype)
        return autodiff.Tensor(value, (y_pred,), lambda g: [g * self.gradient(y_true, p, sample_weight)])

    # ---- ``call`` through autodiff -------------------------------------------------------------

    def _recorded(self, y_true, y_pred, sample_weight):
        """The loss with ``y_true`` a tensor on the tape (another model's output: a distiller's
        teacher, a consistency loss between two towers): every step recorded, so both arguments get
        their gradients, as in TensorFlow."""
        p = y_pred if isinstance(y_pred, autodiff.Tensor) else autodiff.Tensor(np.asarray(y_pred))
        values = self._recorded_values(y_true, p)
        w = None
        if sample_weight is not None:
            w = _broadcast_weights(_weights(sample_weight), values.shape).astype(p.dtype)
            values = values * w
        if self.reduction == "none":
            return values
        total = autodiff.sum(values)
        if self.reduction == "mean_with_sample_weight" and w is not None:
            weight_sum = float(np.sum(w))
            return total / weight_sum if weight_sum else total * 0.0
        if self.reduction == "sum":
            return total
        return total / max(1, values.value.size)

    def _recorded_values(self, y_true, p):
        """``call``'s loss of each sample, of two tape tensors."""
        t_rank, p_rank = y_true.ndim, p.ndim
        if p_rank == t_rank + 1 and p.shape[-1] == 1:  # (`match_rank` on the tape)
            y_true = autodiff.expand_dims(y_true, -1)
        elif t_rank == p_rank + 1 and y_true.shape[-1] == 1:
            y_true = autodiff.squeeze(y_true, -1)
        return self.call(y_true, p)

    def _weighted_values(self, y_true, p, sample_weight):
        """``call``'s losses of ``p`` (a tensor), times the sample weights."""
        t = match_rank(np.asarray(y_true, dtype=p.dtype), p.value)
        numpy_reads = autodiff.numpy_reads()
        values = self.call(t, p)
        if values is None:
            raise TypeError(f"Loss '{self.name}': its function returned None; it must return the loss of each "
                            "sample (a tensor)")
        if not isinstance(values, autodiff.Tensor):
            if autodiff.numpy_reads() != numpy_reads:
                # NumPy took y_pred's values (np.mean(...) of it): fastnn cannot differentiate that, and
                # fit would train on a zero gradient
                raise ValueError(f"Loss '{self.name}': its function computed the loss with NumPy (np.mean, "
                                 "np.square... take y_pred's values, and fastnn cannot differentiate them). Write "
                                 "it with fastnn.ops (keras.ops) or the backend functions (K.mean, K.square...) and "
                                 "Python operators")
            values = autodiff.Tensor(np.asarray(values, dtype=p.dtype))  # a constant: its gradient is 0
        if sample_weight is None:
            return values, None
        if values.ndim == 0:
            raise ValueError(f"Loss '{self.name}' returns one number per batch; with sample weights it must "
                             "return a loss per sample (do not average over the batch)")
        w = _weights(sample_weight).astype(p.dtype, copy=False)
        if w.ndim > 1 and (values.ndim < w.ndim or values.shape[:w.ndim] != w.shape):
            raise ValueError(f"Loss '{self.name}': weights per step {w.shape} (a masked output's) need the loss "
                             f"function to return a value per step, of shape {w.shape}. It returned shape "
                             f"{values.shape}")
        w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
        return values * w, w

    def _trace(self, y_true, y_pred, sample_weight):
        """The reduced loss of the array ``y_pred`` as a tape over a leaf for it (returned too)."""
        p = autodiff.Tensor(np.asarray(y_pred))
        if type(self).__call__ is not Loss.__call__:
            # a subclass that overrides __call__ (keras.io's SupervisedContrastiveLoss, a loss of the
            # whole batch): Keras calls the object, so the batch loss is what it returns
            total = self(y_true, p, sample_weight)
            if not isinstance(total, autodiff.Tensor) or total.value.size != 1:
                raise ValueError(f"Loss '{self.name}': its __call__ must return the batch loss, one number computed "
                                 "from y_pred with fastnn.ops (keras.ops) or the backend functions. Received: "
                                 f"{type(total).__name__} of shape {np.shape(autodiff._value(total))}")
            total = autodiff.reshape(total, ())
            self._last = (y_true, y_pred, sample_weight, total, p)
            return total, p
        values, w = self._weighted_values(y_true, p, sample_weight)
        total = autodiff.sum(values)
        if self.reduction == "mean_with_sample_weight" and w is not None:
            weight_sum = float(np.sum(np.broadcast_to(w, values.shape)))
            total = total / weight_sum if weight_sum else total * 0.0
        elif self.reduction not in ("sum", "none"):  # ("none": the sum, whose gradient `gradient` gives)
            total = total / max(1, values.value.size)
        self._last = (y_true, y_pred, sample_weight, total, p)
        return total, p

    def _batch_loss(self, y_true, y_pred, sample_weight):
        return float(self._trace(y_true, y_pred, sample_weight)[0].value)

    def gradient(self, y_true, y_pred, sample_weight=None):
        """d loss / d y_pred, same shape as y_pred (of the sum of the losses with reduction "none")."""
        last = self._last
        if last is not None and last[0] is y_true and last[1] is y_pred and last[2] is sample_weight:
            total, p = last[3], last[4]  # the loss just computed for these arrays
        else:
            total, p = self._trace(y_true, y_pred, sample_weight)
        self._last = None
        return autodiff.grad(total, [p])[0]

    def _per_sample(self, y_true, y_pred, sample_weight):
        """The weighted per-sample losses (reduction "none"); recorded on the tape for a tape tensor."""
        if isinstance(y_pred, autodiff.Tensor):  # call records on the tape itself
            return self._weighted_values(y_true, y_pred, sample_weight)[0]
        values = self._weighted_values(y_true, autodiff.Tensor(np.asarray(y_pred)), sample_weight)[0].value
        return np.asarray(values).view(EagerArray)

    def _targets(self, y_true, y_pred):
        """The targets the loss compares with (the cross-entropies' label smoothing changes them)."""
        return y_true

    def _scale(self, y_pred, sample_weight):
        """The factor from the "sum_over_batch_size" loss (and gradient) to this reduction's."""
        if self.reduction == "sum":
            return _loss_count(y_pred)
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            total = float(np.sum(_broadcast_weights(_weights(sample_weight), _loss_shape(y_pred))))
            return _loss_count(y_pred) / total if total else 0.0  # (Keras's divide_no_nan)
        return 1.0

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class _KernelLoss(Loss):
    """A loss of the ``ops.loss_forward``/``loss_backward`` kernels, named by ``kernel``. The
    kernels reduce as "sum_over_batch_size"; the other reductions scale that (`Loss._scale`) or,
    for "none", take the per-sample losses from this module's function of the same name."""

    # the loss of an output with more axes is per row of its last axis (the categorical ones)
    _per_row = False

    def _rows(self, y_true, y_pred, sample_weight):
        """What the kernels see: (N, ...) arrays and (N,) weights as given, or, for weights per
        step or a categorical loss over an output with more axes ((N, T, C)), one row per step of
        the last axis ((N·T, C)) with its weight (a sample's repeated over its steps)."""
        w = _weights(sample_weight)
        p = np.asarray(y_pred)
        if w is not None and w.ndim == 0:  # (one weight for the batch, Keras's sample_weight=2.3: each sample's)
            w = np.full(p.shape[:1], w, dtype=np.float64 if p.dtype == np.float64 else np.float32)
        per_step = w is not None and w.ndim > 1
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
        if self.kernel == "sparse_categorical_crossentropy" and t.shape not in (p.shape[:-1], p.shape[:-1] + (1,)):
            raise ValueError(f"Loss '{self.name}': integer labels of the prediction's shape without its last axis, "
                             f"{p.shape[:-1]} (one label per step). Received: y_true.shape={t.shape}, "
                             f"y_pred.shape={p.shape}")
        t = t.reshape(rows) if self.kernel == "sparse_categorical_crossentropy" else t.reshape(rows, -1)
        return t, p.reshape(rows, p.shape[-1]), w

    def _batch_loss(self, y_true, y_pred, sample_weight):
        t, p, w = self._rows(y_true, y_pred, sample_weight)
        with _backend.float_kernels(np.asarray(p).dtype):  # (a float64 prediction: in float64)
            loss = ops.loss_forward(t, p, self.kernel, self.from_logits, w)
        return loss * self._scale(y_pred, sample_weight)

    def gradient(self, y_true, y_pred, sample_weight=None):
        """d loss / d y_pred, same shape as y_pred (of the sum of the losses with reduction "none")."""
        scale = self._scale(y_pred, sample_weight)
        if self.reduction == "none":  # the sum of w·l: the mean's gradient with the weights times the count
            w = 1.0 if sample_weight is None else _weights(sample_weight)
            sample_weight, scale = _broadcast_weights(w, _loss_shape(y_pred)) * _loss_count(y_pred), 1.0
        t, p, w = self._rows(y_true, y_pred, sample_weight)
        with _backend.float_kernels(np.asarray(p).dtype):
            g = ops.loss_backward(t, p, self.kernel, self.from_logits, w).reshape(np.shape(y_pred))
        return g * np.asarray(scale, dtype=g.dtype) if scale != 1.0 else g

    def _recorded_values(self, y_true, p):
        if p.ndim == 1:  # a 1-D output: a loss per value
            y_true, p = autodiff.reshape(y_true, (-1, 1)), autodiff.reshape(p, (-1, 1))
        return _PER_SAMPLE[self.kernel](y_true, p, self.from_logits)

    def _per_sample(self, y_true, y_pred, sample_weight):
        p = autodiff._value(y_pred)
        t = np.reshape(y_true, (-1, 1)) if p.ndim == 1 else y_true  # a 1-D output: a loss per value
        values = _PER_SAMPLE[self.kernel](t, p.reshape(-1, 1) if p.ndim == 1 else p, self.from_logits)
        values = np.asarray(values, dtype=p.dtype)
        if sample_weight is not None:
            values = values * _broadcast_weights(_weights(sample_weight), values.shape).astype(p.dtype)
        if not isinstance(y_pred, autodiff.Tensor):
            return values.view(EagerArray)

        def backward(g):  # d sum(g · w·l) / d y_pred
            g = np.asarray(g)
            w = g if sample_weight is None else _broadcast_weights(_weights(sample_weight), g.shape) * g
            return [self.gradient(y_true, p, w)]

        return autodiff.Tensor(values, (y_pred,), backward)

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class MeanSquaredError(_KernelLoss):
    """``mean((y_true - y_pred)²)`` over each sample's values."""

    kernel = "mean_squared_error"


class MeanAbsoluteError(_KernelLoss):
    """``mean(|y_true - y_pred|)`` over each sample's values."""

    kernel = "mean_absolute_error"


class _CrossEntropy(_KernelLoss):
    def __init__(self, from_logits=False, label_smoothing=0.0, name=None, reduction="sum_over_batch_size", **kwargs):
        ignore_class = kwargs.pop("ignore_class", None)
        if kwargs.pop("axis", -1) != -1:
            raise ValueError(f"{type(self).__name__}: only axis=-1 (the classes on the last axis) is supported")
        if ignore_class is not None and (self.kernel != "sparse_categorical_crossentropy" or isinstance(
                ignore_class, bool) or not isinstance(ignore_class, (int, np.integer))):
            raise ValueError(f"{type(self).__name__}: ignore_class is an integer label of SparseCategoricalCrossentropy. "
                             f"Received: ignore_class={ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        dtype = kwargs.pop("dtype", None)  # (Keras 3's: the dtype of the loss value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unsupported arguments {kwargs}")
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float, np.integer, np.floating)) \
                or not 0 <= label_smoothing <= 1:
            raise ValueError(f"{type(self).__name__}: label_smoothing must be a float in [0, 1]. Received: "
                             f"label_smoothing={label_smoothing!r}")
        if label_smoothing and self.kernel == "sparse_categorical_crossentropy":
            raise TypeError("SparseCategoricalCrossentropy takes no label_smoothing (Keras's neither); use "
                            "CategoricalCrossentropy(label_smoothing=...) with one-hot targets")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def _targets(self, y_true, y_pred):
        """Keras's label smoothing: the targets pulled toward 0.5 (binary) or toward 1/classes."""
        if not self.label_smoothing:
            return y_true
        ls = self.label_smoothing
        if isinstance(y_true, autodiff.Operators):
            t = y_true
        else:
            dtype = np.asarray(autodiff._value(y_pred)).dtype
            t = np.asarray(y_true, dtype=dtype if dtype.kind == "f" else np.float32)
        toward = 0.5 if self.kernel == "binary_crossentropy" else 1.0 / np.shape(autodiff._value(y_pred))[-1]
        return t * (1.0 - ls) + ls * toward

    def _ignoring(self, y_true, y_pred, sample_weight):
        """Keras 3's ignore_class: a label of that class counts nothing, and the mean is over the others
        (their weights scaled by all / valid, as its masked reduction; the label itself read as 0)."""
        if self.ignore_class is None:
            return y_true, sample_weight
        t = np.asarray(autodiff._value(y_true))
        loss_shape = np.shape(autodiff._value(y_pred))[:-1]
        valid = (t != self.ignore_class).reshape(loss_shape)
        t = np.where(t != self.ignore_class, t, 0).astype(t.dtype if t.dtype.kind in "iu" else np.int64)
        m = valid * self._ignored_scale(valid)
        w = m if sample_weight is None else _broadcast_weights(_weights(sample_weight), loss_shape) * m
        return t, w.astype(np.float32 if np.asarray(autodiff._value(y_pred)).dtype != np.float64 else np.float64)

    def _batch_loss(self, y_true, y_pred, sample_weight):
        y_true, sample_weight = self._ignoring(y_true, y_pred, sample_weight)
        return super()._batch_loss(self._targets(y_true, y_pred), y_pred, sample_weight)

    def gradient(self, y_true, y_pred, sample_weight=None):
        y_true, sample_weight = self._ignoring(y_true, y_pred, sample_weight)
        return super().gradient(self._targets(y_true, y_pred), y_pred, sample_weight)

    def _recorded_values(self, y_true, p):
        if self.ignore_class is not None:  # (on the tape: the loss of a valid label, 0 for an ignored one)
            t = np.asarray(autodiff._value(y_true))
            valid = (t != self.ignore_class).reshape(np.shape(autodiff._value(p))[:-1])
            values = super()._recorded_values(np.where(t != self.ignore_class, t, 0), p)
            return values * valid.astype(np.asarray(autodiff._value(values)).dtype) * self._ignored_scale(valid)
        return super()._recorded_values(self._targets(y_true, p), p)

    def _ignored_scale(self, valid):
        # (the mean reductions average over the valid labels; "sum" and "none" only zero the others)
        return valid.size / (valid.sum() + autodiff.epsilon()) if self.reduction in ("sum_over_batch_size", "mean") \
            else 1.0

    def _per_sample(self, y_true, y_pred, sample_weight):
        y_true, sample_weight = self._ignoring(y_true, y_pred, sample_weight)
        return super()._per_sample(self._targets(y_true, y_pred), y_pred, sample_weight)

    def get_config(self):
        config = {**super().get_config(), "from_logits": self.from_logits}
        if self.kernel != "sparse_categorical_crossentropy":
            config["label_smoothing"] = self.label_smoothing
        elif self.ignore_class is not None:
            config["ignore_class"] = self.ignore_class
        return config


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


def _tape_target(y_true):
    """``y_true`` as a tensor on the recording tape (a model's output, a watched or trainable
    variable), else None (labels: arrays, constants)."""
    if isinstance(y_true, autodiff.Variable):
        operand = autodiff._variable_operand(y_true)
        return operand if isinstance(operand, autodiff.Tensor) else None
    if isinstance(y_true, autodiff.Tensor) and (y_true._inputs or y_true._backward is not None):
        return y_true
    if isinstance(y_true, np.ndarray) and autodiff.current_leaves is not None:
        leaves = autodiff.current_leaves()
        return None if leaves is None else autodiff._tape_operand(y_true, leaves)
    return None


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

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", None)}

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


def _loss_function(name):
    """`autodiff.graph_function`, with the per-sample values of arrays as an eager tensor (an
    `EagerArray`: ``keras.losses.mse(y, p).numpy()``, as TensorFlow's)."""
    def decorate(fn):
        graph = autodiff.graph_function(name)(fn)

        @functools.wraps(fn)
        def loss_function(*args, **kwargs):
            values = graph(*args, **kwargs)
            return values.view(EagerArray) if type(values) is np.ndarray else values

        autodiff._GRAPH_FUNCTIONS[name] = loss_function
        return loss_function

    return decorate


@_loss_function("losses.mean_squared_error")
def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)²)`` over the last axis: one value per sample of an (N, d) output."""
    t, p = _operands(y_true, y_pred)
    return K.mean(K.square(t - p), axis=-1)


@_loss_function("losses.mean_absolute_error")
def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|)`` over the last axis."""
    t, p = _operands(y_true, y_pred)
    return K.mean(K.abs(t - p), axis=-1)


@_loss_function("losses.binary_crossentropy")
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over the last axis; ``label_smoothing`` pulls the targets toward 0.5."""
    t, p = _operands(y_true, y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return K.mean(K.binary_crossentropy(t, p, from_logits), axis=axis)


@_loss_function("losses.categorical_crossentropy")
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Categorical cross-entropy for one-hot targets, over the classes on the last axis;
    ``label_smoothing`` pulls the targets toward 1/classes."""
    if axis not in (-1, np.ndim(autodiff._value(y_pred)) - 1):
        raise ValueError(f"categorical_crossentropy: only axis=-1 (the classes last) is supported. Received: {axis}")
    t, p = _operands(y_true, y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / np.shape(autodiff._value(p))[-1]
    return K.categorical_crossentropy(t, p, from_logits)


@_loss_function("losses.sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy for integer labels: (N,) labels for an (N, C) output, (N, T) for (N, T, C);
    ``ignore_class``: that label's values are 0."""
    if axis not in (-1, np.ndim(autodiff._value(y_pred)) - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only axis=-1 is supported. Received: {axis}")
    p = y_pred if isinstance(y_pred, autodiff.Operators) else np.asarray(y_pred, dtype=np.float64)
    if ignore_class is None:
        return K.sparse_categorical_crossentropy(y_true, p, from_logits)
    t = np.asarray(autodiff._value(y_true))
    valid = (t != ignore_class).reshape(np.shape(autodiff._value(p))[:-1])
    values = K.sparse_categorical_crossentropy(np.where(t != ignore_class, t, 0), p, from_logits)
    return values * valid.astype(np.asarray(autodiff._value(values)).dtype)


mse, mae = mean_squared_error, mean_absolute_error
MSE, MAE = mse, mae  # (tf.keras 2's capitals)

# the kernels' losses per sample (reduction "none"), by kernel name: (y_true, y_pred, from_logits)
_PER_SAMPLE = {
    "mean_squared_error": lambda t, p, from_logits: mean_squared_error(t, p),
    "mean_absolute_error": lambda t, p, from_logits: mean_absolute_error(t, p),
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}


# ---- Keras 3's other losses, as functions of the backend functions ---------------------------
# Their formulas, epsilons and reduction axes are Keras 3's (keras/src/losses/losses.py). They
# run on arrays (float64), on tape tensors (with gradients) and on symbolic tensors (one layer).


def _pair(name, y_true, y_pred):
    """`_operands`, with a clear error when the shapes do not broadcast against each other."""
    t, p = _operands(y_true, y_pred)
    try:
        np.broadcast_shapes(K.shape(t), K.shape(p))
    except ValueError:
        error = ValueError(f"losses.{name}: y_true and y_pred must have the same shape (or shapes that "
                           f"broadcast). Received: y_true.shape={K.shape(y_true)}, y_pred.shape={K.shape(y_pred)}")
        error._fastnn_named = True  # (the graph function's wrapper passes it on as is)
        raise error from None
    return t, p


def _check_axis(name, axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"losses.{name}: `axis` must be of type `int`. Received: axis={axis!r} of type {type(axis)}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"losses.{name}: axis {axis} is out of range for y_pred of rank {ndim}")


def _hinge_labels(t):
    """Keras's ``convert_binary_labels_to_hinge``: when every label is 0 or 1, they become -1 or
    1 (``2 * t - 1``); other labels are kept."""
    v = np.asarray(autodiff._value(t))
    return 2.0 * t - 1.0 if np.all((v == 0) | (v == 1)) else t


@_loss_function("losses.huber")
def huber(y_true, y_pred, delta=1.0):
    """``mean(0.5 · e²  where |e| <= delta, else delta · |e| - 0.5 · delta²)`` over the last
    axis, with ``e = y_pred - y_true``."""
    t, p = _pair("huber", y_true, y_pred)
    error = p - t
    abs_error = K.abs(error)
    quadratic = 0.5 * K.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return K.mean(K.switch(abs_error <= delta, quadratic, linear), axis=-1)


@_loss_function("losses.log_cosh")
def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed as Keras does without
    overflow: ``x + softplus(-2x) - log(2)``."""
    t, p = _pair("log_cosh", y_true, y_pred)
    x = p - t
    return K.mean(x + K.softplus(-2.0 * x) - float(np.log(2.0)), axis=-1)


@_loss_function("losses.hinge")
def hinge(y_true, y_pred):
    """``mean(max(1 - y_true · y_pred, 0))`` over the last axis; labels that are all 0 or 1 are
    taken as -1 or 1 first."""
    t, p = _pair("hinge", y_true, y_pred)
    return K.mean(K.maximum(1.0 - _hinge_labels(t) * p, 0.0), axis=-1)


@_loss_function("losses.squared_hinge")
def squared_hinge(y_true, y_pred):
    """``mean(max(1 - y_true · y_pred, 0)²)`` over the last axis (0/1 labels taken as -1/1)."""
    t, p = _pair("squared_hinge", y_true, y_pred)
    return K.mean(K.square(K.maximum(1.0 - _hinge_labels(t) * p, 0.0)), axis=-1)


@_loss_function("losses.categorical_hinge")
def categorical_hinge(y_true, y_pred):
    """``max(neg - pos + 1, 0)`` with ``pos = sum(y_true · y_pred)`` and ``neg = max((1 - y_true)
    · y_pred)`` over the last axis (one-hot targets)."""
    t, p = _pair("categorical_hinge", y_true, y_pred)
    pos = K.sum(t * p, axis=-1)
    neg = K.max((1.0 - t) * p, axis=-1)
    return K.maximum(neg - pos + 1.0, 0.0)


@_loss_function("losses.kl_divergence")
def kl_divergence(y_true, y_pred):
    """``sum(y_true · log(y_true / y_pred))`` over the last axis, both clipped to [1e-7, 1]."""
    t, p = _pair("kl_divergence", y_true, y_pred)
    t = K.clip(t, K.epsilon(), 1.0)
    p = K.clip(p, K.epsilon(), 1.0)
    return K.sum(t * K.log(t / p), axis=-1)


@_loss_function("losses.poisson")
def poisson(y_true, y_pred):
    """``mean(y_pred - y_true · log(y_pred + 1e-7))`` over the last axis."""
    t, p = _pair("poisson", y_true, y_pred)
    return K.mean(p - t * K.log(p + K.epsilon()), axis=-1)


@_loss_function("losses.cosine_similarity")
def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) · l2_normalize(y_pred))`` over ``axis``: -1 for the same
    direction, 0 when either is a zero vector (norms below 1e-7 are taken as 1e-7)."""
    t, p = _pair("cosine_similarity", y_true, y_pred)
    _check_axis("cosine_similarity", axis, len(K.shape(p)))

    def normalize(x):  # Keras's ops.normalize: x · min(1 / ||x||, 1 / 1e-7)
        return x / K.sqrt(K.maximum(K.sum(K.square(x), axis=axis, keepdims=True), K.epsilon() ** 2))

    return -K.sum(normalize(t) * normalize(p), axis=axis)


@_loss_function("losses.mean_absolute_percentage_error")
def mean_absolute_percentage_error(y_true, y_pred):
    """``100 · mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis."""
    t, p = _pair("mean_absolute_percentage_error", y_true, y_pred)
    return 100.0 * K.mean(K.abs((t - p) / K.maximum(K.abs(t), K.epsilon())), axis=-1)


@_loss_function("losses.mean_squared_logarithmic_error")
def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))²)`` over the last axis."""
    t, p = _pair("mean_squared_logarithmic_error", y_true, y_pred)
    first_log = K.log(K.maximum(p, K.epsilon()) + 1.0)
    second_log = K.log(K.maximum(t, K.epsilon()) + 1.0)
    return K.mean(K.square(first_log - second_log), axis=-1)


@_loss_function("losses.binary_focal_crossentropy")
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1):
    """Binary cross-entropy times the focal factor ``(1 - p_t)^gamma`` (``p_t = t·p + (1 - t)·
    (1 - p)``), and with ``apply_class_balancing`` the weight ``alpha`` for class 1, ``1 - alpha``
    for class 0, averaged over ``axis``. ``from_logits``: a sigmoid first; the cross-entropy is
    then of the probabilities, clipped to [1e-7, 1 - 1e-7], as Keras computes it.
    ``label_smoothing`` moves the targets towards 0.5."""
    t, p = _pair("binary_focal_crossentropy", y_true, y_pred)
    _check_axis("binary_focal_crossentropy", axis, len(K.shape(p)))
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        p = K.sigmoid(p)
    bce = K.binary_crossentropy(t, p)
    p_t = t * p + (1.0 - t) * (1.0 - p)
    focal_bce = K.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (t * alpha + (1.0 - t) * (1.0 - alpha)) * focal_bce
    return K.mean(focal_bce, axis=axis)


@_loss_function("losses.categorical_focal_crossentropy")
def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """``sum(alpha · (1 - p)^gamma · -y_true · log p)`` over the classes on ``axis`` (one-hot
    targets), with ``p`` the prediction rescaled to sum to 1 and clipped to [1e-7, 1 - 1e-7]
    (``from_logits``: a softmax first). ``alpha`` is a number or one per class;
    ``label_smoothing`` gives the other classes ``label_smoothing / num_classes``."""
    t, p = _pair("categorical_focal_crossentropy", y_true, y_pred)
    _check_axis("categorical_focal_crossentropy", axis, len(K.shape(p)))
    classes = K.shape(p)[axis]
    if classes == 1:
        warnings.warn("In loss categorical_focal_crossentropy, expected y_pred.shape to be (batch_size, num_classes) "
                      f"with num_classes > 1. Received: y_pred.shape={K.shape(p)}. Consider using "
                      "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=3)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        p = K.softmax(p, axis=axis)
    output = K.clip(p / K.sum(p, axis=axis, keepdims=True), K.epsilon(), 1.0 - K.epsilon())
    cce = -t * K.log(output)
    alpha = np.asarray(alpha, dtype=np.dtype(K.dtype(output)))
    if alpha.ndim:  # one weight per class, along the classes' axis
        alpha = alpha.reshape(alpha.shape + (1,) * (-axis - 1 if axis < 0 else len(K.shape(p)) - axis - 1))
    return K.sum(K.pow(1.0 - output, gamma) * alpha * cce, axis=axis)


kld = kullback_leibler_divergence = KLD = kl_divergence
logcosh = log_cosh
mape, MAPE = mean_absolute_percentage_error, mean_absolute_percentage_error
msle, MSLE = mean_squared_logarithmic_error, mean_squared_logarithmic_error


# ---- the classes over them --------------------------------------------------------------------


def _overlap_operands(name, y_true, y_pred):
    """Targets as the predictions' float dtype (Keras's cast), on the tape when the predictions are."""
    p = y_pred if isinstance(y_pred, autodiff.Tensor) else np.asarray(autodiff._value(y_pred))
    if np.asarray(autodiff._value(p)).dtype.kind != "f" or not isinstance(y_pred, (autodiff.Tensor, np.ndarray)):
        p = np.asarray(autodiff._value(p), dtype=utils.floatx())  # (a list: Keras's floatx)
    t = np.asarray(autodiff._value(y_true)).astype(np.asarray(autodiff._value(p)).dtype)
    try:
        np.broadcast_shapes(t.shape, K.shape(p))
    except ValueError:
        error = ValueError(f"losses.{name}: y_true and y_pred must have the same shape. Received: "
                           f"y_true.shape={t.shape}, y_pred.shape={K.shape(p)}")
        error._fastnn_named = True
        raise error from None
    return t, p


@_loss_function("losses.crossentropy")
def crossentropy(y_true, y_pred):
    """Keras 3's ``loss="crossentropy"`` (or ``"ce"``): the cross-entropy the shapes call for, as
    Keras's compile picks it: binary for one output unit, sparse for integer labels (a rank less
    than the predictions', or a last axis of 1), else categorical."""
    true_shape, pred_shape = K.shape(y_true), K.shape(y_pred)
    if pred_shape[-1] == 1:
        return binary_crossentropy(y_true, y_pred)
    if len(true_shape) < len(pred_shape) or true_shape[-1] == 1:
        return sparse_categorical_crossentropy(y_true, y_pred)
    return categorical_crossentropy(y_true, y_pred)


@_loss_function("losses.dice")
def dice(y_true, y_pred, axis=None):
    """Keras 3's Dice loss: ``1 - 2 · sum(y_true · y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)``
    over ``axis`` (None: all values, one number for the batch)."""
    t, p = _overlap_operands("dice", y_true, y_pred)
    axis = tuple(axis) if isinstance(axis, list) else axis
    overlap = K.sum(t * p, axis=axis)
    return 1.0 - 2.0 * overlap / (K.sum(t, axis=axis) + K.sum(p, axis=axis) + K.epsilon())


@_loss_function("losses.tversky")
def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """Keras 3's Tversky loss: ``1 - TP / (TP + alpha · FP + beta · FN + 1e-7)`` with soft counts
    over ``axis``; alpha = beta = 0.5 is the Dice loss."""
    t, p = _overlap_operands("tversky", y_true, y_pred)
    axis = tuple(axis) if isinstance(axis, list) else axis
    tp = K.sum(p * t, axis=axis)
    fp = K.sum((1.0 - t) * p, axis=axis)
    fn = K.sum(t * (1.0 - p), axis=axis)
    return 1.0 - tp / (tp + fp * alpha + fn * beta + K.epsilon())


@_loss_function("losses.ctc")
def ctc(y_true, y_pred):
    """Keras 3's CTC loss (`fastnn._ctc`): ``y_pred`` logits (batch, steps, classes), ``y_true``
    class ids (batch, max_length) padded with 0, which is the blank."""
    from . import _ctc

    return _ctc.ctc(y_true, y_pred)


class _KerasLoss(LossFunctionWrapper):
    """A Keras 3 loss class over one of this module's functions (``_function``), with Keras's
    arguments and default name; its config is Keras's (name, reduction and the function's
    arguments). ``dtype`` is taken for Keras's signature: the loss is computed in the
    prediction's dtype."""

    _function = None
    _default_name = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        self._init(reduction, name, dtype)

    def _init(self, reduction, name, dtype, **fn_kwargs):
        """The constructor of a loss whose function takes arguments (``fn_kwargs``)."""
        super().__init__(type(self)._function, name=name or self._default_name, reduction=reduction, **fn_kwargs)
        self.dtype = dtype

    def _weighted_values(self, y_true, p, sample_weight):
        try:
            return super()._weighted_values(y_true, p, sample_weight)
        except ValueError as e:
            raise ValueError(f"{type(self).__name__} (loss '{self.name}'): {e}") from None

    def get_config(self):
        config = Loss.get_config(self)
        config.update({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.fn_kwargs.items()})
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.fn_kwargs.items())
        return f"{type(self).__name__}({args})"


class Huber(_KerasLoss):
    """The Huber loss (`huber`): quadratic for errors up to ``delta``, linear beyond."""

    _function, _default_name = huber, "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        self._init(reduction, name, dtype, delta=delta)


class LogCosh(_KerasLoss):
    """``log(cosh(y_pred - y_true))`` averaged over the last axis (`log_cosh`)."""

    _function, _default_name = log_cosh, "log_cosh"


class Hinge(_KerasLoss):
    """``max(1 - y_true · y_pred, 0)`` averaged over the last axis (`hinge`); 0/1 labels become -1/1."""

    _function, _default_name = hinge, "hinge"


class SquaredHinge(_KerasLoss):
    """``max(1 - y_true · y_pred, 0)²`` averaged over the last axis (`squared_hinge`)."""

    _function, _default_name = squared_hinge, "squared_hinge"


class CategoricalHinge(_KerasLoss):
    """``max(neg - pos + 1, 0)`` per sample (`categorical_hinge`), for one-hot targets."""

    _function, _default_name = categorical_hinge, "categorical_hinge"


class KLDivergence(_KerasLoss):
    """``sum(y_true · log(y_true / y_pred))`` over the last axis (`kl_divergence`)."""

    _function, _default_name = kl_divergence, "kl_divergence"


class Poisson(_KerasLoss):
    """``y_pred - y_true · log(y_pred + 1e-7)`` averaged over the last axis (`poisson`)."""

    _function, _default_name = poisson, "poisson"


class CosineSimilarity(_KerasLoss):
    """The negative cosine similarity over ``axis`` (`cosine_similarity`): -1 is best."""

    _function, _default_name = cosine_similarity, "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        self._init(reduction, name, dtype, axis=axis)


class MeanAbsolutePercentageError(_KerasLoss):
    """``100 · mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` (`mean_absolute_percentage_error`)."""

    _function, _default_name = mean_absolute_percentage_error, "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_KerasLoss):
    """``mean((log(y_pred + 1) - log(y_true + 1))²)``, values below 1e-7 taken as 1e-7
    (`mean_squared_logarithmic_error`)."""

    _function, _default_name = mean_squared_logarithmic_error, "mean_squared_logarithmic_error"


class BinaryFocalCrossentropy(_KerasLoss):
    """The focal binary cross-entropy (`binary_focal_crossentropy`)."""

    _function, _default_name = binary_focal_crossentropy, "binary_focal_crossentropy"

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        self._init(reduction, name, dtype, apply_class_balancing=apply_class_balancing, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = bool(from_logits)


class CategoricalFocalCrossentropy(_KerasLoss):
    """The focal categorical cross-entropy (`categorical_focal_crossentropy`), one-hot targets."""

    _function, _default_name = categorical_focal_crossentropy, "categorical_focal_crossentropy"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        self._init(reduction, name, dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = bool(from_logits)

class Dice(_KerasLoss):
    """Keras 3's Dice loss (`dice`) over ``axis`` (None: all values)."""

    _function, _default_name = dice, "dice"

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        self._init(reduction, name, dtype, axis=axis)


class Tversky(_KerasLoss):
    """Keras 3's Tversky loss (`tversky`): ``alpha`` weighs false positives, ``beta`` false negatives."""

    _function, _default_name = tversky, "tversky"

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        self._init(reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)


class CTC(_KerasLoss):
    """Keras 3's CTC loss (`ctc`): logits against class ids padded with the blank 0."""

    _function, _default_name = ctc, "ctc"

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        self._init(reduction, name, dtype)


_NEW_CLASSES = (Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson, CosineSimilarity,
                MeanAbsolutePercentageError, MeanSquaredLogarithmicError, BinaryFocalCrossentropy,
                CategoricalFocalCrossentropy, Dice, Tversky, CTC)

_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy) + _NEW_CLASSES}
_ALIASES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "huber": Huber, "log_cosh": LogCosh, "logcosh": LogCosh, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence, "poisson": Poisson, "cosine_similarity": CosineSimilarity,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "binary_focal_crossentropy": BinaryFocalCrossentropy, "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "dice": Dice, "tversky": Tversky, "ctc": CTC,
}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              **{c._function: c for c in _NEW_CLASSES}}


def get(identifier):
    """A loss object from a name (``"categorical_crossentropy"``, ``"mse"``), a function of this
    module, a class, a config dict, or a loss object (returned as is)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        return LossFunctionWrapper(crossentropy, name=identifier)
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss: {identifier!r}. Expected one of "
                             f"{sorted(k for k in _ALIASES if not k.isupper())} or a class name such as 'Huber'")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Loss) and \
            (identifier.kernel or _CLASSES.get(identifier.__name__) is identifier):
        return identifier()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Expected a name, a loss object or a "
                     "function fn(y_true, y_pred)")


def deserialize(config, custom_objects=None):
    """The inverse of `serialize`. A user's loss comes from ``custom_objects``: a `Loss` subclass
    by its class name, a function (a `LossFunctionWrapper`'s) by its name."""
    if not (isinstance(config, dict) and config.get("class_name") not in _CLASSES):
        return get(config)
    name, body = config.get("class_name"), dict(config.get("config") or {})
    custom_objects = custom_objects or {}
    if name == "LossFunctionWrapper":
        fn = custom_objects.get(body.get("fn")) or {"crossentropy": crossentropy}.get(body.get("fn"))
        if fn is None:
            raise ValueError(f"the loss is the function {body.get('fn')!r}: pass it to load_model, "
                             f"custom_objects={{{body.get('fn')!r}: {body.get('fn')}}} (or load with compile=False)")
        return LossFunctionWrapper(fn, name=body.get("name"), reduction=body.get("reduction", "sum_over_batch_size"))
    cls = custom_objects.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise ValueError(f"the loss is of the class {name!r}: pass it to load_model, custom_objects={{{name!r}: "
                         f"{name}}} (or load with compile=False)")
    try:
        return cls.from_config(body)
    except TypeError as e:
        raise ValueError(f"the loss class {name!r} could not be rebuilt from its config {body} ({e}); give it a "
                         "get_config with its __init__ arguments (as in Keras), or load with compile=False") from None


__all__ = [
    "serialize", "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mae", "get",
    "deserialize", "Huber", "LogCosh", "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson",
    "CosineSimilarity", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy", "huber", "log_cosh", "logcosh", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "kld", "kullback_leibler_divergence", "KLD", "poisson", "cosine_similarity",
    "mean_absolute_percentage_error", "mape", "MAPE", "mean_squared_logarithmic_error", "msle", "MSLE",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "Dice", "Tversky", "CTC", "dice", "tversky", "ctc",
]
