"""Reference losses with Keras 3 semantics (see ops.loss_forward), forward and backward.

Per-sample loss l_i reduces over the values of a sample (mean for mse, mae and binary
cross-entropy; sum for the categorical ones); the value is sum_i(w_i * l_i) / N. Probabilities
are clipped to [EPSILON, 1 - EPSILON] where Keras clips, and the clipped region passes no gradient.
"""

from __future__ import annotations

import numpy as np

from ._common import LOSSES, _dtype_or_none, as_array, as_float, check_flag, check_name, compute_dtype

EPSILON = 1e-7
# The clip bounds as float32 numbers, like Keras's float32 tensors and the C++ kernels: the upper
# bound 1 - 1e-7 rounds to 1 - 1.19e-7 in float32, and these are the values used in float64 too.
CLIP_LO = float(np.float32(EPSILON))
CLIP_HI = float(np.float32(1.0) - np.float32(EPSILON))


def _loss_name(loss, op):
    if check_name(loss, op, "loss") not in LOSSES:
        known = ", ".join(repr(k) for k in LOSSES)
        raise ValueError(f"{op}: unknown loss. Expected one of {known}. Received: loss={loss!r}")
    return LOSSES[loss]


def _labels(y_true, N, C, op):
    t = as_array(y_true, f"{op}: y_true must be an array of class indices")
    if t.dtype.kind not in "iuf":
        raise TypeError(f"{op}: y_true must hold integer class indices. Received: y_true.dtype={t.dtype}")
    if not (t.ndim == 1 or (t.ndim == 2 and t.shape[1] == 1)) or t.shape[0] != N:
        raise ValueError(f"{op}: y_true must be (N,) or (N, 1) integer labels with N={N}. Received: y_true.shape={t.shape}")
    t = t.reshape(N).astype(np.float64)
    bad = ~((t >= 0) & (t < C) & (t == np.floor(t)))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{op}: y_true must be integer class indices in [0, {C}). Received: y_true[{i}]={t[i]}")
    return t.astype(np.int64)


def _require_class_axis(p, categorical, op, pred_name):
    """The categorical cross-entropies take their classes on the second axis (as the C++ binding):
    (N, T, C) flattened to (N, T·C) would be one distribution over T·C values."""
    if categorical and p.ndim > 2:
        raise ValueError(f"{op}: the categorical cross-entropies take {pred_name} of shape (N, C) (the classes on the "
                         f"last axis); reshape a sequence output (N, T, C) to (N*T, C). Received: "
                         f"{pred_name}.shape={p.shape}")


def _args(y_true, y_pred, sample_weight, sparse, op, pred_name="y_pred"):
    """Flatten to (N, C); return (pred, target one-hot or values, weights, dtype)."""
    dtype = compute_dtype(y_pred, None if sparse else y_true)
    p = as_float(y_pred, dtype, op, pred_name)
    if p.ndim < 1:
        raise ValueError(f"{op}: {pred_name} must be (N, C) or (N,). Received: {pred_name}.shape={p.shape}")
    N = p.shape[0]
    C = int(np.prod(p.shape[1:], dtype=np.int64)) if p.ndim > 1 else 1
    if N == 0:
        raise ValueError(f"{op}: the batch is empty; a mean over zero samples is undefined. "
                         f"Received: {pred_name}.shape={p.shape}")
    if C == 0:
        raise ValueError(f"{op}: {pred_name} has no values per sample. Received: {pred_name}.shape={p.shape}")
    p2 = p.reshape(N, C)
    if sparse:
        t = np.zeros((N, C), dtype)
        t[np.arange(N), _labels(y_true, N, C, op)] = 1
    else:
        t = as_float(y_true, dtype, op, "y_true")
        if t.ndim < 1 or t.shape[0] != N or t.size != p.size:
            raise ValueError(f"{op}: y_true must match {pred_name}'s shape {p.shape}. Received: y_true.shape={t.shape}")
        t = t.reshape(N, C)
    if sample_weight is None:
        w = np.ones(N, dtype)
    else:
        w = as_float(sample_weight, dtype, op, "sample_weight")
        if w.shape != (N,):
            raise ValueError(f"{op}: sample_weight must be (N,) with N={N}. Received: sample_weight.shape={w.shape}")
    return p, p2, t, w, dtype


def _check_logits(name, from_logits, op):
    if from_logits and name in ("mean_squared_error", "mean_absolute_error"):
        raise ValueError(f"{op}: from_logits applies to the cross-entropies only. Received: loss={name!r}")


def _sigmoid(z):
    # exp of a non-positive number only: no overflow for either sign
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _log_softmax(z):
    m = np.max(z, axis=1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def _per_sample(p, t, name, from_logits):
    if name == "mean_squared_error":
        return np.mean((p - t) ** 2, axis=1)
    if name == "mean_absolute_error":
        return np.mean(np.abs(p - t), axis=1)
    if name == "binary_crossentropy":
        if from_logits:
            return np.mean(np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p))), axis=1)
        q = np.clip(p, CLIP_LO, CLIP_HI)
        return -np.mean(t * np.log(q) + (1 - t) * np.log(1 - q), axis=1)
    if from_logits:
        return -np.sum(t * _log_softmax(p), axis=1)
    q = np.clip(p / np.sum(p, axis=1, keepdims=True), CLIP_LO, CLIP_HI)
    return -np.sum(t * np.log(q), axis=1)


def loss_forward(y_true, y_pred, loss, from_logits=False, sample_weight=None):
    op = "loss_forward"
    from_logits = check_flag(from_logits, op, "from_logits")
    name = _loss_name(loss, op)
    _check_logits(name, from_logits, op)
    p_orig, p, t, w, _ = _args(y_true, y_pred, sample_weight, name == "sparse_categorical_crossentropy", op)
    _require_class_axis(p_orig, "categorical" in name, op, "y_pred")
    l = _per_sample(p.astype(np.float64), t.astype(np.float64), name, from_logits)
    # a zero weight masks its sample, even one whose loss is NaN
    return float(np.sum(np.where(w != 0, w * l, 0.0)) / p.shape[0])


def loss_backward(y_true, y_pred, loss, from_logits=False, sample_weight=None):
    op = "loss_backward"
    from_logits = check_flag(from_logits, op, "from_logits")
    name = _loss_name(loss, op)
    _check_logits(name, from_logits, op)
    p_orig, p, t, w, dtype = _args(y_true, y_pred, sample_weight, name == "sparse_categorical_crossentropy", op)
    _require_class_axis(p_orig, "categorical" in name, op, "y_pred")
    N, C = p.shape
    scale = (w / N)[:, None]
    if name == "mean_squared_error":
        d = scale * 2 * (p - t) / C
    elif name == "mean_absolute_error":
        d = scale * np.sign(p - t) / C
    elif name == "binary_crossentropy":
        if from_logits:
            d = scale * (_sigmoid(p) - t) / C
        else:
            # clipped probabilities get no gradient; a NaN one keeps NaN, as the C++ kernel and
            # TensorFlow's clip gradient do (a diverged prediction must stay visible)
            inside = (p >= CLIP_LO) & (p <= CLIP_HI)
            safe = np.where(inside, p, 0.5)
            d = np.where(inside, scale * (safe - t) / (safe * (1 - safe)) / C, np.where(np.isnan(p), np.nan, 0))
    elif from_logits:
        soft = np.exp(_log_softmax(p))
        d = scale * (soft * t.sum(axis=1, keepdims=True) - t)
    else:
        # q = p / sum(p), clipped; dl/dp_j = (g_j - sum_c g_c q_c) / sum(p), g_c = -t_c / q_c unclipped
        s = np.sum(p, axis=1, keepdims=True)
        q = p / s
        inside = (q >= CLIP_LO) & (q <= CLIP_HI)
        g = np.where(inside, -t / np.where(inside, q, 1), np.where(np.isnan(q), np.nan, 0))  # NaN stays NaN
        gq = np.sum(np.where(inside, -t, 0), axis=1, keepdims=True)
        d = scale * (g - gq) / s
    return d.astype(dtype, copy=False).reshape(p_orig.shape)


def crossentropy_logits_backward(y_true, probs, sigmoid=False, sample_weight=None):
    op = "crossentropy_logits_backward"
    sigmoid = check_flag(sigmoid, op, "sigmoid")
    # integer labels (or a 1-D target for a multi-class softmax) select the sparse form; an input that is
    # not array-like is reported by _args, naming the argument
    pa, ta = (np.asarray(a) if _dtype_or_none(a) is not None else None for a in (probs, y_true))
    sparse = (not sigmoid and pa is not None and ta is not None and pa.ndim == 2 and pa.shape[1] > 1
              and (ta.ndim == 1 or (ta.ndim == 2 and ta.shape[1] == 1)))
    p_orig, p, t, w, dtype = _args(y_true, probs, sample_weight, sparse, op, "probs")
    _require_class_axis(p_orig, not sigmoid, op, "probs")
    N, C = p.shape
    scale = (w / N)[:, None]
    if sigmoid:
        d = scale * (p - t) / C
    else:
        d = scale * (p * t.sum(axis=1, keepdims=True) - t)
    return d.astype(dtype, copy=False).reshape(p_orig.shape)
