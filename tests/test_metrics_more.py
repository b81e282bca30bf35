"""Keras 3's metric classes in fastnn.metrics: the worked examples of Keras's docstrings and tests
(inputs and outputs), hand-computed cases, sample weights, accumulation over batches, reset,
configs, string aliases, bad arguments, and the metrics inside compile/fit/evaluate/save/load with
callbacks (EarlyStopping on val_auc)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import fastnn
from fastnn import metrics as M
from fastnn.callbacks import Callback, EarlyStopping
from fastnn.layers import Dense, Input
from fastnn.models import Model, Sequential, load_model

# ---- Keras's docstring examples: (metric, y_true, y_pred, sample_weight, Keras's result) -------------

A2 = ([[0, 1], [0, 0]], [[1, 1], [0, 0]])
P2 = ([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
ONE_HOT = ([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
CE = ([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
F_TRUE = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
F_PRED = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)

DOC_EXAMPLES = [
    (lambda: M.FalsePositives(), [0, 1, 0, 0], [0, 0, 1, 1], None, 2.0),
    (lambda: M.FalsePositives(), [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0], 1.0),
    (lambda: M.FalseNegatives(), [0, 1, 1, 1], [0, 1, 0, 0], None, 2.0),
    (lambda: M.FalseNegatives(), [0, 1, 1, 1], [0, 1, 0, 0], [0, 0, 1, 0], 1.0),
    (lambda: M.TrueNegatives(), [0, 1, 0, 0], [1, 1, 0, 0], None, 2.0),
    (lambda: M.TrueNegatives(), [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], 1.0),
    (lambda: M.TruePositives(), [0, 1, 1, 1], [1, 0, 1, 1], None, 2.0),
    (lambda: M.TruePositives(), [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], 1.0),
    (lambda: M.Precision(), [0, 1, 1, 1], [1, 0, 1, 1], None, 0.6666667),
    (lambda: M.Precision(), [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], 1.0),
    (lambda: M.Precision(top_k=2), [0, 0, 1, 1], [1, 1, 1, 1], None, 0.0),
    (lambda: M.Precision(top_k=4), [0, 0, 1, 1], [1, 1, 1, 1], None, 0.5),
    (lambda: M.Recall(), [0, 1, 1, 1], [1, 0, 1, 1], None, 0.6666667),
    (lambda: M.Recall(), [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], 1.0),
    (lambda: M.AUC(num_thresholds=3), [0, 0, 1, 1], [0, 0.5, 0.3, 0.9], None, 0.75),
    (lambda: M.AUC(num_thresholds=3), [0, 0, 1, 1], [0, 0.5, 0.3, 0.9], [1, 0, 0, 1], 1.0),
    (lambda: M.Accuracy(), [[1], [2], [3], [4]], [[0], [2], [3], [4]], None, 0.75),
    (lambda: M.Accuracy(), [[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.5),
    (lambda: M.BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], None, 0.75),
    (lambda: M.BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.5),
    (lambda: M.CategoricalAccuracy(), *ONE_HOT, None, 0.5),
    (lambda: M.CategoricalAccuracy(), *ONE_HOT, [0.7, 0.3], 0.3),
    (lambda: M.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], None, 0.5),
    (lambda: M.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3], 0.3),
    (lambda: M.TopKCategoricalAccuracy(k=1), *ONE_HOT, None, 0.5),
    (lambda: M.TopKCategoricalAccuracy(k=1), *ONE_HOT, [0.7, 0.3], 0.3),
    (lambda: M.SparseTopKCategoricalAccuracy(k=1), [2, 1], ONE_HOT[1], None, 0.5),
    (lambda: M.SparseTopKCategoricalAccuracy(k=1), [2, 1], ONE_HOT[1], [0.7, 0.3], 0.3),
    (lambda: M.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True), [2, 1], [[1, 0, 3], [1, 2, 3]], None, 0.5),
    (lambda: M.MeanSquaredError(), *A2, None, 0.25),
    (lambda: M.MeanAbsoluteError(), *A2, None, 0.25),
    (lambda: M.MeanAbsoluteError(), *A2, [1, 0], 0.5),
    (lambda: M.MeanAbsolutePercentageError(), *A2, None, 250000000.0),
    (lambda: M.MeanAbsolutePercentageError(), *A2, [1, 0], 500000000.0),
    (lambda: M.MeanSquaredLogarithmicError(), *A2, None, 0.12011322),
    (lambda: M.MeanSquaredLogarithmicError(), *A2, [1, 0], 0.24022643),
    (lambda: M.RootMeanSquaredError(), *A2, None, 0.5),
    (lambda: M.RootMeanSquaredError(), *A2, [1, 0], 0.70710677),
    (lambda: M.CosineSimilarity(axis=1), [[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]], None, 0.49999997),
    (lambda: M.CosineSimilarity(axis=1), [[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]], [0.3, 0.7], 0.6999999),
    (lambda: M.LogCoshError(), *A2, None, 0.10844523),
    (lambda: M.LogCoshError(), *A2, [1, 0], 0.21689045),
    (lambda: M.KLDivergence(), *P2, None, 0.45814306),
    (lambda: M.KLDivergence(), *P2, [1, 0], 0.9162892),
    (lambda: M.Poisson(), *A2, None, 0.49999997),
    (lambda: M.Poisson(), *A2, [1, 0], 0.99999994),
    (lambda: M.BinaryCrossentropy(), *P2, None, 0.81492424),
    (lambda: M.BinaryCrossentropy(), *P2, [1, 0], 0.9162905),
    (lambda: M.CategoricalCrossentropy(), *CE, None, 1.1769392),
    (lambda: M.CategoricalCrossentropy(), *CE, [0.3, 0.7], 1.6271976),
    (lambda: M.SparseCategoricalCrossentropy(), [1, 2], CE[1], None, 1.1769392),
    (lambda: M.SparseCategoricalCrossentropy(), [1, 2], CE[1], [0.3, 0.7], 1.6271976),
    (lambda: M.Hinge(), *P2, None, 1.3),
    (lambda: M.Hinge(), *P2, [1, 0], 1.1),
    (lambda: M.SquaredHinge(), *P2, None, 1.86),
    (lambda: M.SquaredHinge(), *P2, [1, 0], 1.46),
    (lambda: M.CategoricalHinge(), *P2, None, 1.4000001),
    (lambda: M.CategoricalHinge(), *P2, [1, 0], 1.2),
    (lambda: M.FBetaScore(beta=2.0, threshold=0.5), F_TRUE, F_PRED, None, [0.3846154, 0.90909094, 0.8333334]),
    (lambda: M.F1Score(threshold=0.5), F_TRUE, F_PRED, None, [0.5, 0.8, 0.6666667]),
    (lambda: M.R2Score(), [[1], [4], [3]], [[2], [4], [4]], None, 0.57142854),
    (lambda: M.PearsonCorrelation(), [[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]], None,
     0.9966996338993913),
    (lambda: M.ConcordanceCorrelation(), [[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]], None,
     0.9816320385426076),
]


@pytest.mark.parametrize("make, y_true, y_pred, sample_weight, want", DOC_EXAMPLES,
                         ids=[f"{i}" for i in range(len(DOC_EXAMPLES))])
def test_keras_docstring_examples(make, y_true, y_pred, sample_weight, want):
    m = make()
    m.update_state(y_true, y_pred, sample_weight=sample_weight)
    result = m.result()
    np.testing.assert_allclose(result, want, rtol=2e-6, atol=1e-7)
    if np.ndim(want) == 0:
        assert isinstance(result, float)
    m.reset_state()  # reset: as new
    m.update_state(y_true, y_pred, sample_weight=sample_weight)
    np.testing.assert_allclose(m.result(), want, rtol=2e-6, atol=1e-7)


def test_mean_and_sum_docstrings_and_weights():
    m = M.Mean()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 4.0 and m.name == "mean"
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0
    s = M.Sum()
    s.update_state([1, 3, 5, 7])
    assert s.result() == 16.0 and s.name == "sum"
    s = M.Sum()
    s.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert s.result() == 4.0
    # values with more axes than the weights: each sample's mean, weighted
    m = M.Mean()
    m.update_state([[1, 3], [5, 7]], sample_weight=[3, 1])
    assert m.result() == (3 * 2 + 1 * 6) / 4
    # one weight for a batch weighs the batch's mean (Keras's rule): (4·2 + 0·1) / 3
    m = M.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=2)
    m.update_state([0.0], sample_weight=1)
    assert m.result() == pytest.approx(8 / 3)
    assert M.Mean()(5.0) == 5.0  # calling updates and returns the result


def test_mean_metric_wrapper_and_functions():
    def double_error(y_true, y_pred, scale=1.0):
        return scale * np.abs(y_true - y_pred).mean(axis=-1)

    m = M.MeanMetricWrapper(double_error, name="double", scale=2.0)
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 3])
    assert m.result() == pytest.approx(2 * 0.5 / 4)
    assert m.name == "double"
    assert M.get(double_error).name == "double_error"  # Keras names a function metric after it
    assert M.get(lambda t, p: t).name == "lambda"
    # this module's functions select their class (the name is the function's, as Keras's)
    got = M.get(M.top_k_categorical_accuracy)
    assert type(got) is M.TopKCategoricalAccuracy and got.k == 5
    assert type(M.get(M.log_cosh)) is M.LogCoshError and M.get(M.log_cosh).name == "log_cosh"
    np.testing.assert_allclose(M.log_cosh(*A2), [0.21689045, 0.0], rtol=1e-6, atol=1e-12)


# ---- confusion-matrix metrics: Keras's tests and hand-computed cases -------------------------------

AUC_TRUE = np.array([0, 0, 1, 1])
AUC_PRED = np.array([0, 0.5, 0.3, 0.9], dtype="float32")
AUC_W = [1, 2, 3, 4]
# Keras's comments: thresholds [-1e-7, 0.5, 1 + 1e-7]; weighted tp = [7, 4, 0], fp = [3, 0, 0],
# fn = [0, 3, 7], tn = [0, 3, 3]
R = 4 / 7


@pytest.mark.parametrize("curve, method, want", [
    ("ROC", "interpolation", (1 + R) / 2),
    ("ROC", "majoring", 1.0),
    ("ROC", "minoring", R),
    ("PR", "majoring", 1 * (1 - R) + 1 * R),
    ("PR", "minoring", 0.7 * (1 - R)),
    # Davis & Goadrich: slope [0.5, 1], intercept [2, 0], P ratios [2.5, 1]
    ("PR", "interpolation", 0.5 * (3 + 2 * math.log(2.5)) / 7 + 4 / 7),
    ("PRGAIN", "majoring", 1.0),
    ("PRGAIN", "minoring", 0.0),
    ("PRGAIN", "interpolation", 0.5),
])
def test_auc_curves_and_summations_weighted(curve, method, want):
    auc = M.AUC(num_thresholds=3, curve=curve, summation_method=method)
    result = auc(AUC_TRUE, AUC_PRED, sample_weight=AUC_W)
    assert result == pytest.approx(want, rel=1e-9)
    np.testing.assert_array_equal(auc.true_positives, [7, 4, 0])
    np.testing.assert_array_equal(auc.false_positives, [3, 0, 0])
    np.testing.assert_array_equal(auc.false_negatives, [0, 3, 7])
    np.testing.assert_array_equal(auc.true_negatives, [0, 3, 3])


def test_auc_keras_cases():
    assert M.AUC()(AUC_TRUE, AUC_TRUE) == 1.0
    logits = -np.log(1.0 / (AUC_PRED.astype(np.float64) + 1e-12) - 1.0)
    assert M.AUC(num_thresholds=3, from_logits=True)(AUC_TRUE, logits) == pytest.approx(0.75)
    manual = M.AUC(num_thresholds=2, thresholds=[0.5])
    assert manual.num_thresholds == 3
    np.testing.assert_allclose(manual.thresholds, [0.0, 0.5, 1.0], atol=2e-7)
    assert manual(AUC_TRUE, AUC_PRED) == pytest.approx(0.75)
    prgain = M.AUC(num_thresholds=3, curve="PRGAIN")
    y_true = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1])
    y_pred = np.array([0.1, 0.2, 0.3, 0.3, 0.4, 0.4, 0.6, 0.6, 0.8, 0.9])
    assert prgain(y_true, y_pred) == pytest.approx(2 / 3 * 1 / 3 + 1 / 3 * 5 / 6)
    # negative weights: the PR interpolation's divisor max(tp + fn, 0) is 0 everywhere
    assert M.AUC(num_thresholds=3, curve="PR")(AUC_TRUE, AUC_PRED, sample_weight=[-1, -2, -3, -4]) == 0.0
    # Keras's extra-dims case: confident predictions, all wrong half the time
    logits = 1 / (1 + np.exp(np.array([[[-10.0, 10.0, -10.0], [10.0, -10.0, 10.0]],
                                       [[-12.0, 12.0, -12.0], [12.0, -12.0, 12.0]]], dtype=np.float32)))
    labels = np.array([[[1, 0, 0], [1, 0, 0]], [[0, 1, 1], [0, 1, 1]]])
    assert M.AUC()(labels, logits) == 0.5


MULTI_PRED = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]], dtype="float32").T
MULTI_GOOD = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T


def test_auc_multi_label_keras_cases():
    assert M.AUC(multi_label=True)(MULTI_GOOD, MULTI_GOOD) == 1.0
    auc = M.AUC(num_thresholds=5, multi_label=True)
    assert auc(MULTI_GOOD, MULTI_PRED) == pytest.approx((0.875 + 1.0) / 2)
    assert auc.true_positives.shape == (5, 2)
    np.testing.assert_array_equal(auc.true_positives.T, [[2, 2, 1, 1, 0], [2, 2, 0, 0, 0]])
    logits = -np.log(1.0 / (MULTI_PRED.astype(np.float64) + 1e-12) - 1.0)
    assert M.AUC(num_thresholds=5, multi_label=True, from_logits=True)(MULTI_GOOD, logits) == \
        pytest.approx((0.875 + 1.0) / 2)
    weighted = M.AUC(num_thresholds=5, multi_label=True, label_weights=[0.75, 0.25])
    assert weighted(MULTI_GOOD, MULTI_PRED) == pytest.approx(0.875 * 0.75 + 1.0 * 0.25)
    manual = M.AUC(num_thresholds=2, thresholds=[0.5], multi_label=True)
    assert manual(MULTI_GOOD, MULTI_PRED) == pytest.approx((0.75 + 0.5) / 2)
    # flattened: every value one prediction; tp = [4, 4, 1, 1, 0], fp = [4, 1, 0, 0, 0]
    assert M.AUC(num_thresholds=5)(MULTI_GOOD, MULTI_PRED) == pytest.approx(1 - 3 / 32)
    # weights per sample, and per value (a (4, 2) weight array)
    assert M.AUC(num_thresholds=5)(MULTI_GOOD, MULTI_PRED, sample_weight=[1, 2, 3, 4]) == \
        pytest.approx(1 - (1 / 3) * (1 - 2 / 7) / 2)
    sw = np.arange(8).reshape(4, 2)
    assert M.AUC(num_thresholds=5)(MULTI_GOOD, MULTI_PRED, sample_weight=sw) == \
        pytest.approx(1 - (1 / 3) * (1 - 3 / 11) / 2)
    # label_weights without multi_label weigh each column's values: tpr = [1, 1, 3/8, 3/8, 0]
    flat = M.AUC(num_thresholds=5, label_weights=[0.75, 0.25])
    assert flat(MULTI_GOOD, MULTI_PRED) == pytest.approx(1 - (1 - 0.375) * 0.375 / 2)


def _brute_counts(y_true, y_pred, thresholds, weights):
    """tp, fp, tn, fn by comparing every prediction with every threshold (float32, as Keras)."""
    pos = np.asarray(y_pred, np.float32).reshape(-1)[None, :] > np.asarray(thresholds, np.float32)[:, None]
    label = np.asarray(y_true).reshape(-1) != 0
    w = np.broadcast_to(np.asarray(weights, np.float64), np.shape(y_pred)).reshape(-1)
    return [(c.astype(np.float64) @ w) for c in (pos & label, pos & ~label, ~pos & ~label, ~pos & label)]


def test_auc_bucketing_equals_comparing_every_threshold(rng):
    # the even grid is counted by bucketing (Keras's ceil(p·(n-1)) - 1), other thresholds by
    # sorting: both must equal comparing each prediction with each threshold
    y = rng.integers(0, 2, 3000)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.25), 0, 1).astype(np.float32)
    p[:300] = np.round(p[:300], 2)  # values on the grid and at 0 and 1
    w = rng.uniform(0, 2, 3000)
    for auc in (M.AUC(), M.AUC(num_thresholds=11), M.AUC(thresholds=list(rng.uniform(0, 1, 9)))):
        auc.update_state(y, p, sample_weight=w)
        tp, fp, tn, fn = _brute_counts(y, p, auc.thresholds, w)
        np.testing.assert_allclose(auc.true_positives, tp, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(auc.false_positives, fp, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(auc.true_negatives, tn, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(auc.false_negatives, fn, rtol=1e-12, atol=1e-9)
        tpr, fpr = tp / (tp + fn), fp / (fp + tn)
        assert auc.result() == pytest.approx(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2), rel=1e-12)
    # many thresholds approach the exact (rank) AUC
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    fine = p + rng.uniform(0, 1e-4, len(p)).astype(np.float32)  # break ties
    order = np.argsort(fine)
    ranks[order] = np.arange(1, len(p) + 1)
    npos = y.sum()
    exact = (ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * (len(y) - npos))
    assert M.AUC(num_thresholds=20001)(y, fine) == pytest.approx(exact, abs=2e-4)


def test_precision_recall_keras_cases():
    p = M.Precision()
    assert p([0, 1, 1, 0], [1, 0, 1, 0]) == 0.5
    p = M.Precision()
    result = p([[0, 1, 1, 0], [1, 0, 0, 1]], [[1, 0, 1, 0], [1, 0, 1, 0]],
               sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    assert result == pytest.approx((3 + 4) / ((1 + 3) + (4 + 2)))
    assert M.Precision()([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0
    np.testing.assert_allclose(M.Precision(thresholds=[0.5, 0.7])([0, 1, 1, 0], [1, 0, 0.6, 0]), [0.5, 0.0])
    p = M.Precision(thresholds=[0.5, 1.0])
    for _ in range(2):  # two batches accumulate
        p.update_state([[0, 1], [1, 0]], np.array([[1, 0], [0.6, 0]], "float32"),
                       sample_weight=np.array([[4, 0], [3, 1]], "float32"))
    np.testing.assert_allclose(p.result(), [6 / 14, 0])
    assert M.Precision(top_k=3)([0, 1, 1, 0, 0], [0.2, 0.1, 0.5, 0, 0.2]) == pytest.approx(1 / 3)
    p = M.Precision(top_k=3)
    p([[0, 1, 1, 0, 1]], [[0.2, 0.1, 0.4, 0, 0.2]], sample_weight=np.array([[1, 4, 2, 3, 5]]))
    result = p([1, 0, 1, 1, 1], [0.2, 0.6, 0.4, 0.2, 0.2], sample_weight=np.array(3))
    assert result == pytest.approx(((2 + 5) + (3 + 3)) / ((1 + 2 + 5) + (3 + 3 + 3)))
    p = M.Precision(thresholds=0.7, top_k=2)
    assert p([0, 1, 1, 0, 1], [0.2, 0.8, 0.6, 0, 0.2]) == 1.0
    assert p.true_positives[0] == 1 and p.false_positives[0] == 0
    p = M.Precision(class_id=1)
    y_pred = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y_true = np.eye(3)[[2, 0, 1, 0, 2]]
    assert p(y_true, y_pred) == 1.0 and p.true_positives[0] == 1 and p.false_positives[0] == 0
    r = M.Recall()
    assert r([0, 1, 1, 0], [1, 0, 1, 0]) == 0.5
    r = M.Recall()
    result = r([[0, 1, 1, 0], [1, 0, 0, 1]], [[1, 0, 1, 0], [0, 1, 0, 1]],
               sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    assert result == pytest.approx((3 + 1) / ((2 + 3) + (4 + 1)))
    # recall with top_k: how often a true class is among the k highest scores
    r = M.Recall(top_k=2)
    assert r([[0, 0, 1, 1], [1, 0, 0, 0]], [[0.1, 0.5, 0.3, 0.9], [0.2, 0.4, 0.3, 0.1]]) == pytest.approx(1 / 3)


def test_precision_recall_on_a_model_output_shape():
    # (N, 1) sigmoid outputs against (N,) labels, and evenly spaced thresholds (bucketed)
    y = np.array([1, 0, 1, 1, 0, 0])
    p = np.array([[0.9], [0.8], [0.4], [0.6], [0.1], [0.5]], dtype=np.float32)
    assert M.Precision()(y, p) == pytest.approx(2 / 3)
    assert M.Recall()(y, p) == pytest.approx(2 / 3)
    np.testing.assert_allclose(M.Precision(thresholds=[0.0, 0.5, 1.0])(y, p), [3 / 6, 2 / 3, 0.0])
    np.testing.assert_allclose(M.Recall(thresholds=[0.0, 0.5, 1.0])(y, p), [1.0, 2 / 3, 0.0])
    np.testing.assert_allclose(M.TruePositives(thresholds=[0.3, 0.85])(y, p), [3.0, 1.0])


def test_top_k_ties_count_as_in():
    # Keras's in_top_k: a class tied with the k-th highest score is in the top k
    scores = np.array([[0.3, 0.3, 0.3, 0.1], [0.5, 0.2, 0.2, 0.1]])
    assert M.SparseTopKCategoricalAccuracy(k=1)([2, 2], scores) == 0.5
    assert M.SparseTopKCategoricalAccuracy(k=2)([2, 3], scores) == 0.5
    assert M.TopKCategoricalAccuracy(k=1)(np.eye(4)[[1, 1]], scores) == 0.5
    # NaN scores never count
    assert M.SparseTopKCategoricalAccuracy(k=3)([0], [[np.nan, 0.1, 0.2, 0.3]]) == 0.0
    # sequences: one label per step
    seq = np.array([[[0.1, 0.9], [0.8, 0.2]], [[0.6, 0.4], [0.3, 0.7]]])
    assert M.SparseTopKCategoricalAccuracy(k=1)([[1, 0], [1, 1]], seq) == 0.75


def test_f_scores_averages():
    f1 = M.F1Score(average="micro", threshold=0.5)
    f1.update_state(F_TRUE, F_PRED)
    tp, fp, fn = 4, 2, 2  # over every value
    assert f1.result() == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-6)
    per_class = np.array([0.5, 0.8, 2 / 3])
    macro = M.F1Score(average="macro", threshold=0.5)
    assert macro(F_TRUE, F_PRED) == pytest.approx(per_class.mean(), rel=1e-6)
    weighted = M.F1Score(average="weighted", threshold=0.5)
    assert weighted(F_TRUE, F_PRED) == pytest.approx(np.dot(per_class, [3, 2, 1]) / 6, rel=1e-6)
    # threshold=None: each row's maximum is the prediction
    argmax = M.F1Score(average="micro")
    assert argmax(np.eye(3)[[0, 1, 2, 2]], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6], [0, 0, 0]]) == \
        pytest.approx(2 * 2 / (2 * 2 + 1 + 2), rel=1e-6)


def test_crossentropies_logits_and_label_smoothing(rng):
    logits = rng.normal(0, 2, (6, 3))
    probs = 1 / (1 + np.exp(-logits))
    y = rng.integers(0, 2, (6, 3)).astype(np.float64)
    assert M.BinaryCrossentropy(from_logits=True)(y, logits) == pytest.approx(M.BinaryCrossentropy()(y, probs))
    t = y * 0.8 + 0.1
    want = -np.mean(t * np.log(probs) + (1 - t) * np.log(1 - probs))
    assert M.BinaryCrossentropy(label_smoothing=0.2)(y, probs) == pytest.approx(want)
    soft = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = rng.integers(0, 3, 6)
    one_hot = np.eye(3)[labels]
    want = -np.mean(np.log(soft[np.arange(6), labels]))
    assert M.CategoricalCrossentropy(from_logits=True)(one_hot, logits) == pytest.approx(want)
    assert M.SparseCategoricalCrossentropy(from_logits=True)(labels, logits) == pytest.approx(want)
    assert M.SparseCategoricalCrossentropy()(labels[:, None], soft) == pytest.approx(want)
    smooth = one_hot * 0.7 + 0.1
    assert M.CategoricalCrossentropy(label_smoothing=0.3)(one_hot, soft) == \
        pytest.approx(-np.mean(np.sum(smooth * np.log(soft), -1)))
    # clipped probabilities, as Keras's float32 ones: log(1 - (1 - 1e-7 in float32))
    hi = float(np.float32(1) - np.float32(1e-7))
    assert M.BinaryCrossentropy()([[0.0]], [[1.0]]) == pytest.approx(-math.log(1 - hi))
    # ignore_class: that label's values are 0; Keras 3 leaves them out of the mean only with weights
    # (its own tests pin it), else they count as zeros
    scce = M.SparseCategoricalCrossentropy(ignore_class=2)
    scce.update_state([0, 2, 1], [[0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.25, 0.75, 0.0]])
    assert scce.result() == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 3)
    scce = M.SparseCategoricalCrossentropy(ignore_class=2)
    scce.update_state([0, 2, 1], [[0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.25, 0.75, 0.0]], sample_weight=[1, 1, 1])
    assert scce.result() == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)


# ---- accumulation, weights per step, reset ------------------------------------------------------


def _all_metrics():
    return [M.Accuracy(), M.BinaryAccuracy(threshold=0.4), M.Precision(), M.Recall(thresholds=[0.2, 0.6]),
            M.AUC(), M.AUC(curve="PR"), M.AUC(num_thresholds=7, summation_method="minoring"),
            M.TruePositives(), M.FalseNegatives(thresholds=[0.1, 0.9]), M.RootMeanSquaredError(),
            M.MeanAbsolutePercentageError(), M.MeanSquaredLogarithmicError(), M.CosineSimilarity(), M.LogCoshError(),
            M.BinaryCrossentropy(), M.Hinge(), M.SquaredHinge(), M.Poisson(), M.KLDivergence(),
            M.F1Score(threshold=0.5), M.FBetaScore(average="macro", beta=0.5, threshold=0.3), M.R2Score(),
            M.Precision(top_k=2), M.Recall(class_id=1), M.AUC(multi_label=True)]


def test_batches_accumulate_to_one_big_batch(rng):
    y = rng.integers(0, 2, (97, 3)).astype(np.float32)
    p = rng.uniform(0, 1, (97, 3)).astype(np.float32)
    w = rng.uniform(0, 2, 97)
    for whole, parts in zip(_all_metrics(), _all_metrics()):
        whole.update_state(y, p, sample_weight=w)
        for i in range(0, 97, 10):
            parts.update_state(y[i:i + 10], p[i:i + 10], sample_weight=w[i:i + 10])
        np.testing.assert_allclose(parts.result(), whole.result(), rtol=1e-10, atol=1e-12,
                                   err_msg=type(whole).__name__)
        parts.reset_state()
        fresh = type(parts).from_config(parts.get_config())
        parts.update_state(y[:5], p[:5])
        fresh.update_state(y[:5], p[:5])
        np.testing.assert_allclose(parts.result(), fresh.result(), rtol=1e-12, err_msg=type(whole).__name__)


def test_error_metrics_on_vectors_average_the_batch_means(rng):
    # Keras computes mean_squared_error etc. over the last axis, so a 1-D batch (a custom loop's
    # `mae.update_state(y, tf.squeeze(pred))`) is one value and Keras's Mean counts it once: the
    # batches of 32, 32 and 5 weigh the same; an (N, 1) output still counts every sample
    batches = [(rng.normal(size=n), rng.normal(size=n)) for n in (32, 32, 5)]
    for make, error in ((M.MeanSquaredError, np.square), (M.MeanAbsoluteError, np.abs)):
        vectors, columns = make(), make()
        for t, p in batches:
            vectors.update_state(t, p)
            columns.update_state(t[:, None], p[:, None])
        assert vectors.result() == pytest.approx(np.mean([error(t - p).mean() for t, p in batches]), rel=1e-12)
        assert columns.result() == pytest.approx(np.concatenate([error(t - p) for t, p in batches]).mean(), rel=1e-12)
    weighted = M.MeanAbsoluteError()  # a weight per sample still weighs each sample
    weighted.update_state(np.array([1.0, 2.0, 3.0]), np.ones(3), sample_weight=np.array([1.0, 0.0, 1.0]))
    assert weighted.result() == pytest.approx(1.0)


def test_zero_and_per_step_weights(rng):
    y = rng.integers(0, 2, (6, 4, 2)).astype(np.float32)
    p = rng.uniform(0, 1, (6, 4, 2)).astype(np.float32)
    w = rng.integers(0, 3, (6, 4)).astype(np.float64)  # a masked sequence output's weights
    keep = w.reshape(-1) > 0
    flat_y, flat_p = y.reshape(-1, 2), p.reshape(-1, 2)
    for make in (M.AUC, M.Precision, M.Recall, M.RootMeanSquaredError, M.BinaryCrossentropy, M.LogCoshError):
        seq = make()
        seq.update_state(y, p, sample_weight=w)
        rows = make()
        rows.update_state(flat_y[keep], flat_p[keep], sample_weight=w.reshape(-1)[keep])
        assert seq.result() == pytest.approx(rows.result(), rel=1e-10), make.__name__


def test_reset_and_call():
    auc = M.AUC(num_thresholds=3)
    assert auc.result() == 0.0
    assert auc(AUC_TRUE, AUC_PRED) == 0.75
    auc.reset_state()
    assert auc.result() == 0.0 and not auc.true_positives.any()
    auc.reset_states()  # Keras 2's name
    p = M.Precision(thresholds=[0.3, 0.6])
    p.update_state([1, 0], [0.9, 0.9])
    p.reset_state()
    np.testing.assert_array_equal(p.result(), [0.0, 0.0])
    rmse = M.RootMeanSquaredError()
    rmse.update_state([[0.0]], [[2.0]])
    rmse.reset_state()
    assert rmse.result() == 0.0


def test_a_keras_style_subclass_with_variables():
    class BinaryTruePositives(M.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="tp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            values = np.logical_and(np.asarray(y_true, bool), np.asarray(y_pred) > 0.5).astype(float)
            self.true_positives.assign(self.true_positives + np.sum(values))

        def result(self):
            return self.true_positives

    m = BinaryTruePositives()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == 2.0 and isinstance(m.result(), float)
    m.reset_state()
    assert m.result() == 0.0


# ---- names, aliases, directions, configs ------------------------------------------------------------


@pytest.mark.parametrize("alias, cls", [
    ("precision", M.Precision), ("Precision", M.Precision), ("recall", M.Recall), ("auc", M.AUC), ("AUC", M.AUC),
    ("top_k_categorical_accuracy", M.TopKCategoricalAccuracy),
    ("sparse_top_k_categorical_accuracy", M.SparseTopKCategoricalAccuracy),
    ("root_mean_squared_error", M.RootMeanSquaredError), ("mape", M.MeanAbsolutePercentageError),
    ("MSLE", M.MeanSquaredLogarithmicError), ("bce", M.BinaryCrossentropy), ("cosine_similarity", M.CosineSimilarity),
    ("log_cosh_error", M.LogCoshError), ("kl_divergence", M.KLDivergence), ("f1_score", M.F1Score),
    ("true_positives", M.TruePositives), ("false_negatives", M.FalseNegatives), ("r2_score", M.R2Score),
    ("categorical_crossentropy", M.CategoricalCrossentropy), ("squared_hinge", M.SquaredHinge),
])
def test_string_aliases(alias, cls):
    m = M.get(alias)
    assert type(m) is cls and m.name == alias  # the log key is the string given, as in Keras
    assert M.serialize(m) == alias


def test_default_names_and_directions():
    names = {M.Precision: "precision", M.Recall: "recall", M.AUC: "auc", M.TruePositives: "true_positives",
             M.FalsePositives: "false_positives", M.TrueNegatives: "true_negatives",
             M.FalseNegatives: "false_negatives", M.Accuracy: "accuracy",
             M.TopKCategoricalAccuracy: "top_k_categorical_accuracy",
             M.SparseTopKCategoricalAccuracy: "sparse_top_k_categorical_accuracy",
             M.RootMeanSquaredError: "root_mean_squared_error",
             M.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
             M.MeanSquaredLogarithmicError: "mean_squared_logarithmic_error", M.CosineSimilarity: "cosine_similarity",
             M.LogCoshError: "logcosh", M.BinaryCrossentropy: "binary_crossentropy",
             M.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy", M.KLDivergence: "kl_divergence",
             M.Poisson: "poisson", M.Hinge: "hinge", M.F1Score: "f1_score", M.FBetaScore: "fbeta_score",
             M.R2Score: "r2_score", M.Mean: "mean", M.Sum: "sum"}
    for cls, name in names.items():
        assert cls().name == name
    for cls in (M.Precision, M.Recall, M.AUC, M.Accuracy, M.TopKCategoricalAccuracy, M.F1Score, M.R2Score,
                M.CosineSimilarity, M.TruePositives):
        assert cls.direction == "up", cls
    for cls in (M.RootMeanSquaredError, M.BinaryCrossentropy, M.FalsePositives, M.LogCoshError, M.Hinge):
        assert cls.direction == "down", cls
    assert type(M.get("Accuracy")).__name__ == "_Accuracy"  # any case of "accuracy" picks the variant


def test_configs_round_trip_through_json():
    made = [M.AUC(num_thresholds=50, curve="PR", summation_method="majoring", name="pr", multi_label=True,
                  num_labels=2, label_weights=[1, 2], from_logits=True),
            M.AUC(thresholds=[0.3, 0.5], name="manual"), M.Precision(thresholds=[0.4, 0.9], top_k=15, class_id=12),
            M.Recall(thresholds=0.3), M.FalsePositives(thresholds=(0.2, 0.8)),
            M.TopKCategoricalAccuracy(k=3), M.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True),
            M.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), M.CategoricalCrossentropy(label_smoothing=0.2),
            M.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
            M.F1Score(average="macro", threshold=0.4),
            M.FBetaScore(beta=2.0), M.R2Score(class_aggregation=None, num_regressors=1), M.CosineSimilarity(axis=1),
            M.BinaryAccuracy(threshold=0.3), M.Mean(name="m", dtype="float64")]
    for m in made:
        config = json.loads(json.dumps(m.get_config()))
        again = type(m).from_config(config)
        assert again.get_config() == m.get_config(), type(m).__name__
        back = M.get(json.loads(json.dumps(M.serialize(m))))
        assert type(back) is type(m) and back.get_config() == m.get_config()
    manual = M.AUC.from_config(M.AUC(thresholds=[0.3, 0.5]).get_config())
    np.testing.assert_allclose(manual.thresholds, [-1e-7, 0.3, 0.5, 1 + 1e-7])
    assert "thresholds" not in M.AUC().get_config()


# ---- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: M.AUC(num_thresholds=1), r"AUC: argument `num_thresholds` must be an integer > 1. Received: "
                                      r"num_thresholds=1"),
    (lambda: M.AUC(curve="ROCK"), r"AUC: argument `curve` must be 'ROC', 'PR' or 'PRGAIN'. Received: curve='ROCK'"),
    (lambda: M.AUC(summation_method="trapezoid"), r"AUC: argument `summation_method` must be 'interpolation', "
                                                  r"'majoring' or 'minoring'. Received: summation_method='trapezoid'"),
    (lambda: M.AUC(num_labels=3), r"AUC: argument `num_labels` is needed only when `multi_label` is True. "
                                  r"Received: num_labels=3"),
    (lambda: M.AUC(label_weights=[1, -1]), r"AUC: argument `label_weights` must be a list of non-negative weights"),
    (lambda: M.AUC(thresholds=[0.5, 2]), r"AUC: argument `thresholds` must be a float or a list of floats in "
                                         r"\[0, 1\] \(invalid: \[2\]\). Received: thresholds=\[0.5, 2\]"),
    (lambda: M.Precision(thresholds=1.5), r"Precision: argument `thresholds` must be a float or a list of floats "
                                          r"in \[0, 1\] \(invalid: \[1.5\]\). Received: thresholds=1.5"),
    (lambda: M.Precision(top_k=0), r"Precision: argument `top_k` must be None or a positive integer. "
                                   r"Received: top_k=0"),
    (lambda: M.Recall(class_id=-1), r"Recall: argument `class_id` must be None or a class index \(an integer "
                                    r">= 0\). Received: class_id=-1"),
    (lambda: M.TruePositives(thresholds=[]), r"TruePositives: argument `thresholds`"),
    (lambda: M.TopKCategoricalAccuracy(k=0), r"TopKCategoricalAccuracy: argument `k` must be a positive integer. "
                                             r"Received: k=0"),
    (lambda: M.SparseTopKCategoricalAccuracy(k=2.5), r"SparseTopKCategoricalAccuracy: argument `k`"),
    (lambda: M.FBetaScore(beta=0.0), r"FBetaScore: argument `beta` must be a number > 0. Received: beta=0.0"),
    (lambda: M.F1Score(average="mean"), r"F1Score: argument `average` must be one of None, 'micro', 'macro', "
                                        r"'weighted'. Received: average='mean'"),
    (lambda: M.F1Score(threshold=1.5), r"F1Score: argument `threshold` must be None or a number with 0 < "
                                       r"threshold <= 1. Received: threshold=1.5"),
    (lambda: M.BinaryCrossentropy(label_smoothing=2), r"BinaryCrossentropy: argument `label_smoothing` must be a "
                                                      r"number in \[0, 1\]. Received: label_smoothing=2"),
    (lambda: M.R2Score(class_aggregation="median"), r"R2Score: argument `class_aggregation` must be one of None"),
    (lambda: M.R2Score(num_regressors=-1), r"R2Score: argument `num_regressors` must be an integer >= 0"),
    (lambda: M.Precision(dtype="int32"), r"Precision: argument `dtype` must be a float dtype"),
    (lambda: M.MeanMetricWrapper(3), r"MeanMetricWrapper: argument `fn` must be a function"),
    (lambda: M.get("f1"), r"Unknown metric: 'f1'. Expected one of \['accuracy', 'acc', "),
    (lambda: M.get({"class_name": "Nope", "config": {}}), r"Unknown metric class: 'Nope'"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"Precision: y_true must have y_pred's shape .* Received: "
                                         r"y_true.shape=\(4,\), y_pred.shape=\(4, 3\)"):
        M.Precision().update_state([0, 1, 2, 1], np.ones((4, 3)) / 3)
    with pytest.raises(ValueError, match=r"Recall: class_id=5 is out of range for predictions of 3 classes"):
        M.Recall(class_id=5).update_state(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match=r"Precision: with class_id, y_pred must have shape \(num_samples, "
                                         r"num_classes\)"):
        M.Precision(class_id=2).update_state([0, 1, 1, 0, 0], [0.2, 0.1, 0.6, 0, 0.2])
    with pytest.raises(ValueError, match=r"AUC: with multi_label=True, y_pred must have rank 2"):
        M.AUC(multi_label=True).update_state(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    auc = M.AUC(multi_label=True, num_labels=2)
    with pytest.raises(ValueError, match=r"AUC: y_pred has 3 labels; this multi-label AUC was built for 2"):
        auc.update_state(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"AUC: sample_weight must be one weight per sample"):
        M.AUC().update_state([0, 1, 1], [0.2, 0.4, 0.9], sample_weight=[1, 2])
    with pytest.raises(ValueError, match=r"sparse_top_k_categorical_accuracy: labels must be class indices in "
                                         r"\[0, 3\). Received: 7"):
        M.SparseTopKCategoricalAccuracy(k=1).update_state([7], [[0.1, 0.2, 0.7]])
    with pytest.raises(ValueError, match=r"FBetaScore expects 2D inputs"):
        M.FBetaScore().update_state([1, 0], [0.3, 0.6])


# ---- in compile / fit / evaluate / callbacks / save ----------------------------------------------------


def _binary_data(rng, n=240):
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = ((x[:, 0] + 0.7 * x[:, 1] + 0.8 * rng.standard_normal(n)) > 0).astype(np.float32)
    return x, y


def _binary_model(seed=3):
    fastnn.utils.set_random_seed(seed)
    model = Sequential([Dense(8, activation="tanh", input_shape=(5,)), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy", M.Precision(), M.Recall(), M.AUC()])
    return model


def test_fit_history_validation_and_evaluate(rng):
    x, y = _binary_data(rng)
    model = _binary_model()
    history = model.fit(x[:180], y[:180], validation_data=(x[180:], y[180:]), epochs=3, batch_size=32, verbose=0)
    assert sorted(history.history) == ["accuracy", "auc", "loss", "precision", "recall", "val_accuracy", "val_auc",
                                       "val_loss", "val_precision", "val_recall"]
    assert all(len(v) == 3 and all(isinstance(e, float) for e in v) for v in history.history.values())
    logs = model.evaluate(x[180:], y[180:], return_dict=True, verbose=0)
    assert sorted(logs) == ["accuracy", "auc", "loss", "precision", "recall"]
    for k in logs:  # the last epoch's validation used the final weights
        assert logs[k] == pytest.approx(history.history["val_" + k][-1], rel=1e-9)
    assert model.metrics_names == ["loss", "accuracy", "precision", "recall", "auc"]
    assert model.evaluate(x[180:], y[180:], verbose=0) == [logs[k] for k in model.metrics_names]
    # the epoch's value is the metric of all its predictions (not a mean of batch values)
    pred = model.predict(x[180:], verbose=0)
    for m, key in ((M.AUC(), "auc"), (M.Precision(), "precision"), (M.Recall(), "recall")):
        m.update_state(y[180:], pred)
        assert m.result() == pytest.approx(logs[key], rel=1e-6)
    # sample weights reach the metrics
    w = np.where(y[180:] > 0, 2.0, 0.5)
    weighted = model.evaluate(x[180:], y[180:], sample_weight=w, return_dict=True, verbose=0)
    auc = M.AUC()
    auc.update_state(y[180:], pred, sample_weight=w)
    assert weighted["auc"] == pytest.approx(auc.result(), rel=1e-6)


def test_early_stopping_on_val_auc_maximises(rng):
    x, y = _binary_data(rng)
    model = _binary_model(seed=5)
    stop = EarlyStopping(monitor="val_auc", patience=50, restore_best_weights=True)
    history = model.fit(x[:120], y[:120], validation_data=(x[120:], y[120:]), epochs=6, batch_size=16, verbose=0,
                        callbacks=[stop])
    aucs = history.history["val_auc"]
    assert max(aucs) > min(aucs)
    # the restored weights are those of the largest val_auc
    assert model.evaluate(x[120:], y[120:], return_dict=True, verbose=0)["auc"] == pytest.approx(max(aucs), rel=1e-9)

    class Script(Callback):  # scripted values: improve, then worsen twice
        def on_epoch_end(self, epoch, logs=None):
            logs["val_auc"] = [0.6, 0.8, 0.7, 0.65, 0.9][epoch]

    stop = EarlyStopping(monitor="val_auc", patience=2)
    history = _binary_model().fit(x[:60], y[:60], validation_data=(x[60:90], y[60:90]), epochs=5, verbose=0,
                                  callbacks=[Script(), stop])
    assert history.history["val_auc"] == [0.6, 0.8, 0.7, 0.65]  # stopped: larger is better


def test_save_and_load_compiled_metrics(rng, tmp_path):
    x, y = _binary_data(rng, 80)
    model = _binary_model()
    model.compile("adam", "binary_crossentropy",
                  metrics=["accuracy", M.Precision(thresholds=0.7, name="p70"), "AUC", M.AUC(curve="PR", name="pr_auc"),
                           M.Recall(), "mse", M.BinaryCrossentropy(label_smoothing=0.1), M.FalseNegatives()])
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.fastnn"
    model.save(path)
    loaded = load_model(path)
    assert loaded.metrics_names == model.metrics_names
    assert [type(m) for m in loaded._metrics[1:]] == [type(m) for m in model._metrics[1:]]
    for a, b in zip(model._metrics, loaded._metrics):
        assert a.get_config() == b.get_config()
    want = model.evaluate(x, y, return_dict=True, verbose=0)
    assert loaded.evaluate(x, y, return_dict=True, verbose=0) == pytest.approx(want, rel=1e-9)


def test_save_and_load_per_output_metrics(rng, tmp_path):
    fastnn.utils.set_random_seed(1)
    inputs = Input((4,))
    hidden = Dense(6, activation="relu")(inputs)
    model = Model(inputs, [Dense(1, activation="sigmoid", name="flag")(hidden),
                           Dense(3, activation="softmax", name="kind")(hidden)])
    model.compile("adam", ["binary_crossentropy", "categorical_crossentropy"],
                  metrics={"flag": ["accuracy", M.Precision(thresholds=0.3), "auc"],
                           "kind": [M.TopKCategoricalAccuracy(k=2, name="top2"), M.F1Score(average="macro")]})
    x = rng.standard_normal((40, 4)).astype(np.float32)
    ys = [(x[:, 0] > 0).astype(np.float32), np.eye(3)[rng.integers(0, 3, 40)]]
    history = model.fit(x, ys, epochs=1, verbose=0, validation_split=0.25)
    assert {"flag_precision", "val_flag_auc", "kind_top2", "val_kind_f1_score"} <= set(history.history)
    model.save(tmp_path / "two.fastnn")
    loaded = load_model(tmp_path / "two.fastnn")
    assert loaded.metrics_names == model.metrics_names
    assert loaded._metrics[1].get_config() == model._metrics[1].get_config()  # thresholds=0.3 kept
    assert loaded.evaluate(x, ys, return_dict=True, verbose=0) == \
        pytest.approx(model.evaluate(x, ys, return_dict=True, verbose=0), rel=1e-9)


def test_compile_string_metrics_on_a_classifier(rng):
    fastnn.utils.set_random_seed(0)
    x = rng.standard_normal((60, 6)).astype(np.float32)
    labels = rng.integers(0, 4, 60)
    model = Sequential([Dense(4, activation="softmax", input_shape=(6,))])
    model.compile("sgd", "sparse_categorical_crossentropy",
                  metrics=["acc", "sparse_top_k_categorical_accuracy",
                           M.SparseTopKCategoricalAccuracy(k=2, name="top2"), "sparse_categorical_crossentropy"])
    logs = model.evaluate(x, labels, return_dict=True, verbose=0)
    pred = model.predict(x, verbose=0)
    assert logs["sparse_top_k_categorical_accuracy"] == 1.0  # k=5 > 4 classes
    top2 = np.argsort(-pred, axis=1)[:, :2]
    assert logs["top2"] == pytest.approx(np.mean([labels[i] in top2[i] for i in range(60)]))
    assert logs["sparse_categorical_crossentropy"] == pytest.approx(logs["loss"], rel=1e-5)
    assert logs["acc"] == pytest.approx(np.mean(pred.argmax(1) == labels))


def test_adjusted_r2_and_a_custom_function_metric_when_saving(rng, tmp_path):
    y_true, y_pred = [[1], [4], [3], [5]], [[2], [4], [4], [5]]
    plain = M.R2Score()(y_true, y_pred)
    assert M.R2Score(num_regressors=1)(y_true, y_pred) == pytest.approx(1 - (1 - plain) * 3 / 2)
    with pytest.warns(UserWarning, match="More independent predictors than datapoints"):
        assert M.R2Score(num_regressors=5)(y_true[:2], y_pred[:2]) == M.R2Score()(y_true[:2], y_pred[:2])
    # a named Python function is saved by its name (custom_objects gives it back, as Keras's); a
    # lambda cannot be: the model is saved without its compile state instead of failing to load

    def within_half(y_true, y_pred):
        return (np.abs(y_true - y_pred) < 0.5).mean(axis=-1)

    assert M.serialize(M.get(within_half)) == "within_half"
    with pytest.raises(TypeError, match="lambda"):
        M.serialize(M.get(lambda a, b: a))
    x, y = _binary_data(rng, 40)
    model = _binary_model()
    model.compile("adam", "binary_crossentropy", metrics=[within_half, M.AUC()])
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert sorted(logs) == ["auc", "loss", "within_half"]
    model.save(tmp_path / "custom.fastnn")
    loaded = load_model(tmp_path / "custom.fastnn", custom_objects={"within_half": within_half})
    assert loaded.evaluate(x, y, return_dict=True, verbose=0) == pytest.approx(logs)
    with pytest.warns(UserWarning, match="returned uncompiled: Unknown metric: 'within_half'"):
        assert not load_model(tmp_path / "custom.fastnn").compiled
    model.compile("adam", "binary_crossentropy", metrics=[lambda a, b: a, M.AUC()])
    with pytest.warns(UserWarning, match=r"save: the model is saved without its compile state \(a custom "
                                         r"optimizer, loss or metric cannot be written into the file\)"):
        model.save(tmp_path / "lambda.fastnn")
    assert not load_model(tmp_path / "lambda.fastnn").compiled


def test_shape_errors_name_the_metric_and_results_have_numpy():
    """A metric fed mismatched targets raised NumPy's bare "cannot reshape" or "could not be
    broadcast"; it names itself and both shapes now. A result is a float with TensorFlow's .numpy()
    (``train_acc_metric.result().numpy()``)."""
    sparse = fastnn.metrics.SparseCategoricalAccuracy()
    with pytest.raises(ValueError, match=r"Metric 'sparse_categorical_accuracy': y_true of shape \(2, 3\) does not "
                                         r"fit y_pred of shape \(2, 3\) .*one-hot ones to categorical_accuracy"):
        sparse.update_state(np.eye(3)[[0, 1]], np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]))
    with pytest.raises(ValueError, match=r"Metric 'accuracy': y_true of shape \(3,\) does not fit y_pred of shape "
                                         r"\(2,\)"):
        fastnn.metrics.Accuracy().update_state([1, 2, 3], [1, 2])
    sparse.update_state([0, 1], [[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]])
    assert sparse.result() == 0.5 and sparse.result().numpy() == np.float32(0.5)
    mean = fastnn.metrics.Mean()
    mean.update_state([1.0, 2.0])
    assert mean.result().numpy() == 1.5


def test_mean_metrics_count_samples_as_keras_3():
    # Keras 3 averages each sample's values first, then counts samples (or their weights)
    m = M.Mean()
    m.update_state(np.ones((4, 2)))
    m.update_state(np.zeros((3, 5)))
    assert m.result() == pytest.approx(4 / 7)
    m = M.Mean()
    m.update_state(np.arange(8.0).reshape(4, 2), sample_weight=0.5)  # a scalar weight: the batch's mean, weighted
    m.update_state(np.full((4, 2), 5.0))
    assert m.result() == pytest.approx((0.5 * 3.5 + 4 * 5.0) / 4.5)
    w = np.random.default_rng(0).random((4, 3))
    v = np.random.default_rng(1).random((4, 3, 2))
    m = M.Mean()
    m.update_state(v, sample_weight=w)  # a weight per step
    m.update_state(np.full((4, 3, 2), 5.0))
    per_sample = (v.mean(-1) * w).mean(1)
    assert m.result() == pytest.approx((per_sample.sum() + 20.0) / (w.mean(1).sum() + 4))


def test_metric_add_weight_takes_both_orders_and_any_initializer():
    # tf.keras 2: add_weight(name, shape, aggregation, synchronization, initializer, dtype); Keras 3:
    # add_weight(shape, initializer, dtype, aggregation, name); the state starts at the initializer's
    # values and reset_state zeroes it (both Kerases)
    import fastnn

    class Counts(fastnn.keras.metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.matrix = self.add_weight("matrix", shape=(2, 2), initializer="zeros")
            self.pair = self.add_weight("pair", (2,))
            self.best = self.add_weight(shape=(), initializer="ones", name="best")

        def update_state(self, y_true, y_pred, sample_weight=None):
            for v in (self.matrix, self.pair, self.best):
                v.assign_add(np.ones(v.shape))

        def result(self):
            return self.best

    metric = Counts()
    metric.update_state(None, None)
    assert float(metric.result()) == 2.0 and metric.matrix.numpy().tolist() == [[1, 1], [1, 1]]
    assert metric.pair.numpy().tolist() == [1, 1]
    metric.reset_state()
    assert float(metric.result()) == 0.0
    with pytest.raises(TypeError, match="multiple values for argument 'shape'"):
        metric.add_weight((2,), shape=(2,))
