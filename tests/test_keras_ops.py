"""Keras 3's ``keras.ops`` (the array functions of `fastnn.ops`, from fastnn._keras_ops) and
``keras.random`` (`fastnn.random`), as a ported Keras 3 script uses them:

* every function against NumPy on arrays: values, dtypes, Keras 3's defaults (``axis=None``,
  ``concatenate`` along 0...);
* on the autodiff tape: every differentiable function, and composite expressions, against central
  finite differences in float64;
* on the functional API's symbolic tensors: graph layers that predict, differentiate and save;
* in a model: a custom loss and a Lambda written with ops, a Keras 3 custom layer (``ops.matmul``),
  a VAE Sampling layer drawing with ``keras.random.normal`` and a ``SeedGenerator`` (trains, and is
  reproducible under ``set_random_seed``);
* bad arguments: a ValueError naming the function;
* a Keras 3 script ported by changing its imports only.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import fastnn
from fastnn import _keras_ops, ops
from fastnn import autodiff as ad
from fastnn import random as krandom
from fastnn.layers import Dense, Input, Lambda, Layer
from fastnn.layers.base import KerasTensor
from fastnn.models import Model, Sequential, load_model
from helpers import assert_close, gradcheck, layer_gradcheck, model_gradcheck

Tensor = ad.Tensor

A = np.array([[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]], np.float32)  # (2, 3)
B = np.array([[0.5, 1.0, -0.75], [-2.5, 2.0, 0.125]], np.float32)
P = np.abs(A) + 0.5  # positive
U = np.array([[0.2, -0.7, 0.4], [0.9, -0.1, 0.3]], np.float32)  # in (-1, 1)
I = np.array([[1, 5, 2], [4, 0, 3]], np.int32)
M = np.array([[True, False, True], [False, False, True]])
MF = M.astype(np.float32)
X3 = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10 - 1
Z = np.array([[1.0, 0.0, 2.0], [0.0, -4.0, 0.5]], np.float32)  # with zeros


def f32(x):
    return np.asarray(x, dtype=np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def erf(x):
    return np.vectorize(math.erf)(x)


SPD = np.einsum("bij,bkj->bik", *[np.random.default_rng(3).standard_normal((2, 3, 3))] * 2) + 3 * np.eye(3)
QS, KS, VS = (np.random.default_rng(s).standard_normal(shape).astype(np.float32)
              for s, shape in ((0, (2, 3, 2, 4)), (1, (2, 4, 2, 4)), (2, (2, 4, 2, 4))))


def attention(q, k, v, keep=None, scale=None):
    """Scaled dot-product attention per batch and head, written out: (B, T, N, H)."""
    out = np.zeros(q.shape, np.float64)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    for b in range(q.shape[0]):
        for n in range(q.shape[2]):
            logits = q[b, :, n].astype(np.float64) @ k[b, :, n].T * scale
            if keep is not None:
                logits = np.where(keep, logits, -1e30)
            out[b, :, n] = softmax(logits) @ v[b, :, n]
    return out.astype(np.float32)


# ---- values on arrays --------------------------------------------------------------------------


# NumPy 1's value-based casting: a 0-d float32 array with Python numbers can give float64, where
# NumPy 2 (NEP 50) and TensorFlow keep float32
NUMPY1_SCALARS = "NumPy 1 promotes 0-d float32 values with Python numbers to float64 (NumPy 2 keeps float32)"


def fwd(name, label, call, want):
    """A forward case: ``call()`` must give ``want``'s values and dtype (a tuple/list: each)."""
    return pytest.param(name, call, want, id=f"{name}-{label}" if label else name)


FORWARD = [
    # elementwise, one argument
    fwd("exp", "", lambda: ops.exp(A), np.exp(A)),
    fwd("exp", "int-as-float32", lambda: ops.exp(I), np.exp(I).astype(np.float32)),
    fwd("log", "", lambda: ops.log(P), np.log(P)),
    fwd("sqrt", "int-as-float32", lambda: ops.sqrt(np.array([4, 9])), f32([2, 3])),
    fwd("sin", "", lambda: ops.sin(A), np.sin(A)),
    fwd("cos", "", lambda: ops.cos(A), np.cos(A)),
    fwd("tanh", "", lambda: ops.tanh(A), np.tanh(A)),
    fwd("sigmoid", "", lambda: ops.sigmoid(A), sigmoid(A)),
    pytest.param("sigmoid", lambda: ops.sigmoid(0.0), np.float32(0.5), id="sigmoid-python-float",
                 marks=pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2, reason=NUMPY1_SCALARS)),
    fwd("softplus", "", lambda: ops.softplus(A), np.log1p(np.exp(A))),
    fwd("softsign", "", lambda: ops.softsign(A), A / (1 + np.abs(A))),
    fwd("hard_sigmoid", "", lambda: ops.hard_sigmoid(A * 2), np.clip(A * 2 / 6 + 0.5, 0, 1)),
    fwd("abs", "int-stays-int", lambda: ops.abs(-I), I),
    fwd("absolute", "", lambda: ops.absolute(A), np.abs(A)),
    fwd("negative", "", lambda: ops.negative(A), -A),
    fwd("square", "int-stays-int", lambda: ops.square(I), I * I),
    fwd("sign", "", lambda: ops.sign(A), np.sign(A)),
    fwd("expm1", "", lambda: ops.expm1(A), np.expm1(A)),
    fwd("log1p", "", lambda: ops.log1p(P), np.log1p(P)),
    fwd("log2", "", lambda: ops.log2(P), np.log2(P)),
    fwd("log10", "", lambda: ops.log10(P), np.log10(P)),
    fwd("exp2", "", lambda: ops.exp2(A), np.exp2(A)),
    fwd("tan", "", lambda: ops.tan(U), np.tan(U)),
    fwd("sinh", "", lambda: ops.sinh(A), np.sinh(A)),
    fwd("cosh", "", lambda: ops.cosh(A), np.cosh(A)),
    fwd("arcsin", "", lambda: ops.arcsin(U), np.arcsin(U)),
    fwd("arccos", "", lambda: ops.arccos(U), np.arccos(U)),
    fwd("arctan", "", lambda: ops.arctan(A), np.arctan(A)),
    fwd("arcsinh", "", lambda: ops.arcsinh(A), np.arcsinh(A)),
    fwd("arccosh", "", lambda: ops.arccosh(P + 1), np.arccosh(P + 1)),
    fwd("arctanh", "", lambda: ops.arctanh(U), np.arctanh(U)),
    fwd("reciprocal", "", lambda: ops.reciprocal(P), 1 / P),
    fwd("rsqrt", "", lambda: ops.rsqrt(P), 1 / np.sqrt(P)),
    fwd("cbrt", "", lambda: ops.cbrt(A), np.cbrt(A)),
    fwd("erf", "", lambda: ops.erf(A), erf(A).astype(np.float32)),
    fwd("floor", "", lambda: ops.floor(A), np.floor(A)),
    fwd("ceil", "", lambda: ops.ceil(A), np.ceil(A)),
    fwd("trunc", "", lambda: ops.trunc(A), np.trunc(A)),
    fwd("round", "", lambda: ops.round(A), np.round(A)),
    fwd("round", "decimals", lambda: ops.round(A * 1.37, 1), np.round(A * 1.37, 1)),
    fwd("isnan", "", lambda: ops.isnan(f32([1, np.nan, np.inf])), np.array([False, True, False])),
    fwd("isinf", "", lambda: ops.isinf(f32([1, np.nan, -np.inf])), np.array([False, False, True])),
    fwd("isfinite", "", lambda: ops.isfinite(f32([1, np.nan, np.inf])), np.array([True, False, False])),
    fwd("nan_to_num", "", lambda: ops.nan_to_num(f32([1, np.nan, np.inf]), posinf=9.0), f32([1, 0, 9])),
    fwd("logical_not", "", lambda: ops.logical_not(M), ~M),
    # two arguments
    fwd("add", "", lambda: ops.add(A, B), A + B),
    fwd("add", "broadcast", lambda: ops.add(A, B[0]), A + B[0]),
    fwd("add", "python-ints-int32", lambda: ops.add(2, 3), np.int32(5)),
    fwd("add", "python-floats-float32", lambda: ops.add(1.5, 2.0), np.float32(3.5)),
    fwd("add", "weak-scalar", lambda: ops.add(A, 2.0), A + np.float32(2)),
    fwd("subtract", "", lambda: ops.subtract(A, B), A - B),
    fwd("multiply", "", lambda: ops.multiply(A, B), A * B),
    fwd("divide", "", lambda: ops.divide(A, P), A / P),
    fwd("divide", "ints-as-float32", lambda: ops.divide(np.array([1, 3]), 2), f32([0.5, 1.5])),
    fwd("true_divide", "", lambda: ops.true_divide(A, P), A / P),
    fwd("power", "", lambda: ops.power(P, B), P ** B),
    fwd("maximum", "", lambda: ops.maximum(A, B), np.maximum(A, B)),
    fwd("minimum", "", lambda: ops.minimum(A, B), np.minimum(A, B)),
    fwd("mod", "", lambda: ops.mod(A, P), np.mod(A, P)),
    fwd("floor_divide", "", lambda: ops.floor_divide(A, P), np.floor_divide(A, P)),
    fwd("bitwise_and", "", lambda: ops.bitwise_and(np.array([5, 6, -3]), 3), np.array([1, 2, 1])),
    fwd("bitwise_or", "", lambda: ops.bitwise_or(np.array([5, 6, -3]), 3), np.array([7, 7, -1])),
    fwd("bitwise_xor", "", lambda: ops.bitwise_xor(np.array([5, 6, -3]), 3), np.array([6, 5, -2])),
    fwd("bitwise_invert", "", lambda: ops.bitwise_invert(np.array([0, 5], np.int8)), np.array([-1, -6], np.int8)),
    fwd("bitwise_not", "", lambda: ops.bitwise_not(np.array([True, False])), np.array([False, True])),
    fwd("left_shift", "", lambda: ops.left_shift(np.array([1, 3]), 2), np.array([4, 12])),
    fwd("bitwise_left_shift", "", lambda: ops.bitwise_left_shift(np.array([1, 3]), 2), np.array([4, 12])),
    fwd("right_shift", "", lambda: ops.right_shift(np.array([8, -8]), 2), np.array([2, -2])),
    fwd("bitwise_right_shift", "", lambda: ops.bitwise_right_shift(np.array([8, -8]), 2), np.array([2, -2])),
    fwd("arctan2", "", lambda: ops.arctan2(A, B), np.arctan2(A, B)),
    fwd("logaddexp", "", lambda: ops.logaddexp(A, B), np.logaddexp(A, B)),
    fwd("hypot", "", lambda: ops.hypot(A, B), np.hypot(A, B)),
    fwd("divide_no_nan", "", lambda: ops.divide_no_nan(A, Z), np.where(Z == 0, 0, A / np.where(Z == 0, 1, Z))),
    fwd("equal", "", lambda: ops.equal(A, np.round(A)), A == np.round(A)),
    fwd("not_equal", "", lambda: ops.not_equal(A, np.round(A)), A != np.round(A)),
    fwd("greater", "", lambda: ops.greater(A, B), A > B),
    fwd("greater_equal", "", lambda: ops.greater_equal(A, 0.5), A >= 0.5),
    fwd("less", "", lambda: ops.less(A, B), A < B),
    fwd("less_equal", "", lambda: ops.less_equal(A, 0.5), A <= 0.5),
    fwd("logical_and", "", lambda: ops.logical_and(M, A > 0), M & (A > 0)),
    fwd("logical_or", "", lambda: ops.logical_or(M, A > 0), M | (A > 0)),
    fwd("logical_xor", "", lambda: ops.logical_xor(M, A > 0), M ^ (A > 0)),
    fwd("isclose", "", lambda: ops.isclose(A, A + 1e-7), np.ones((2, 3), bool)),
    fwd("where", "", lambda: ops.where(M, A, B), np.where(M, A, B)),
    fwd("where", "scalar", lambda: ops.where(M, A, 0.0), np.where(M, A, np.float32(0))),
    fwd("where", "indices-int32", lambda: ops.where(M), tuple(i.astype(np.int32) for i in np.nonzero(M))),
    fwd("clip", "", lambda: ops.clip(A, -1, 1), np.clip(A, -1, 1)),
    fwd("clip", "open-bound", lambda: ops.clip(A, None, 0.5), np.minimum(A, np.float32(0.5))),
    fwd("clip", "int-stays-int", lambda: ops.clip(I, 1.5, 4), np.clip(I, 1.5, 4).astype(np.int32)),
    # activations
    fwd("relu", "", lambda: ops.relu(A), np.maximum(A, 0)),
    fwd("relu6", "", lambda: ops.relu6(A * 3), np.clip(A * 3, 0, 6)),
    fwd("leaky_relu", "default-0.2", lambda: ops.leaky_relu(A), np.where(A >= 0, A, f32(0.2) * A)),
    fwd("leaky_relu", "", lambda: ops.leaky_relu(A, negative_slope=0.1), np.where(A >= 0, A, f32(0.1) * A)),
    fwd("elu", "", lambda: ops.elu(A), np.where(A > 0, A, np.expm1(A))),
    fwd("selu", "", lambda: ops.selu(A), (1.0507009873554805 * np.where(A > 0, A, 1.6732632423543772 * np.expm1(A)))
        .astype(np.float32)),
    fwd("celu", "", lambda: ops.celu(A, alpha=2.0), np.maximum(A, 0) + np.minimum(0, 2 * np.expm1(A / 2))),
    fwd("silu", "", lambda: ops.silu(A), A * sigmoid(A)),
    fwd("swish", "", lambda: ops.swish(A), A * sigmoid(A)),
    fwd("hard_silu", "", lambda: ops.hard_silu(A * 2), A * 2 * np.clip(A * 2 / 6 + 0.5, 0, 1)),
    fwd("hard_swish", "", lambda: ops.hard_swish(A * 2), A * 2 * np.clip(A * 2 / 6 + 0.5, 0, 1)),
    fwd("log_sigmoid", "", lambda: ops.log_sigmoid(A), np.log(sigmoid(A))),
    fwd("gelu", "approximate", lambda: ops.gelu(A),
        0.5 * A * (1 + np.tanh(np.sqrt(2 / np.pi).astype(np.float32) * (A + f32(0.044715) * A ** 3)))),
    fwd("gelu", "exact", lambda: ops.gelu(A, approximate=False),
        (A * (1 + erf(A / np.sqrt(2))) / 2).astype(np.float32)),
    fwd("hard_tanh", "", lambda: ops.hard_tanh(A), np.clip(A, -1, 1)),
    fwd("tanh_shrink", "", lambda: ops.tanh_shrink(A), A - np.tanh(A)),
    fwd("soft_shrink", "", lambda: ops.soft_shrink(A), np.where(A > 0.5, A - 0.5, np.where(A < -0.5, A + 0.5, 0))
        .astype(np.float32)),
    fwd("hard_shrink", "", lambda: ops.hard_shrink(A, 0.6), np.where(np.abs(A) > 0.6, A, 0).astype(np.float32)),
    fwd("threshold", "", lambda: ops.threshold(A, 0.3, -5.0), np.where(A > 0.3, A, -5).astype(np.float32)),
    fwd("squareplus", "", lambda: ops.squareplus(A), (A + np.sqrt(A * A + 4)) / 2),
    fwd("sparse_plus", "", lambda: ops.sparse_plus(A),
        np.where(A <= -1, 0, np.where(A >= 1, A, (A + 1) ** 2 / 4)).astype(np.float32)),
    fwd("sparse_sigmoid", "", lambda: ops.sparse_sigmoid(A),
        np.where(A <= -1, 0, np.where(A >= 1, 1, (A + 1) / 2)).astype(np.float32)),
    fwd("sparsemax", "", lambda: ops.sparsemax(np.array([[0.1, 1.2, 0.9, -3.0], [2.0, 2.0, 2.0, 2.0]], np.float32)),
        np.array([[0.0, 0.65, 0.35, 0.0], [0.25, 0.25, 0.25, 0.25]], np.float32)),
    fwd("glu", "", lambda: ops.glu(X3), X3[..., :2] * sigmoid(X3[..., 2:])),
    fwd("softmax", "last", lambda: ops.softmax(A), softmax(A)),
    fwd("softmax", "axis0", lambda: ops.softmax(A, axis=0), softmax(A, axis=0)),
    fwd("log_softmax", "", lambda: ops.log_softmax(A), np.log(softmax(A))),
    # reductions (Keras's default axis=None: over every value)
    fwd("sum", "all", lambda: ops.sum(A), np.sum(A)),
    fwd("sum", "axis", lambda: ops.sum(A, axis=0), np.sum(A, axis=0)),
    fwd("sum", "tuple-keepdims", lambda: ops.sum(X3, axis=(0, 2), keepdims=True), X3.sum(axis=(0, 2), keepdims=True)),
    fwd("sum", "bool-int32", lambda: ops.sum(M), np.int32(3)),
    fwd("mean", "all", lambda: ops.mean(A), np.mean(A)),
    fwd("mean", "axis", lambda: ops.mean(A, axis=1), np.mean(A, axis=1)),
    fwd("mean", "int-float32", lambda: ops.mean(I), np.float32(2.5)),
    fwd("max", "all", lambda: ops.max(A), np.max(A)),
    fwd("max", "keepdims", lambda: ops.max(A, axis=1, keepdims=True), np.max(A, axis=1, keepdims=True)),
    fwd("max", "initial", lambda: ops.max(A, axis=1, initial=2.0), f32([2.0, 3.0])),
    fwd("min", "all", lambda: ops.min(A), np.min(A)),
    fwd("min", "initial", lambda: ops.min(A, axis=0, initial=0.0), np.minimum(A.min(axis=0), 0)),
    fwd("amax", "", lambda: ops.amax(A, axis=0), A.max(axis=0)),
    fwd("amin", "", lambda: ops.amin(A, axis=0), A.min(axis=0)),
    fwd("std", "", lambda: ops.std(A, axis=1), np.std(A, axis=1)),
    fwd("var", "", lambda: ops.var(A), np.var(A)),
    fwd("prod", "all", lambda: ops.prod(A), np.prod(A)),
    fwd("prod", "axis", lambda: ops.prod(A, axis=1), np.prod(A, axis=1)),
    fwd("argmax", "flattened-int32", lambda: ops.argmax(A), np.int32(3)),
    fwd("argmax", "axis", lambda: ops.argmax(A, axis=1), np.array([0, 0], np.int32)),
    fwd("argmax", "keepdims", lambda: ops.argmax(A, axis=0, keepdims=True), np.array([[1, 1, 0]], np.int32)),
    fwd("argmin", "flattened-int32", lambda: ops.argmin(A), np.int32(1)),
    fwd("any", "", lambda: ops.any(M, axis=0), M.any(axis=0)),
    fwd("all", "", lambda: ops.all(M), np.bool_(False)),
    fwd("logsumexp", "all", lambda: ops.logsumexp(A), np.float32(np.log(np.exp(A.astype(np.float64)).sum()))),
    fwd("logsumexp", "axis", lambda: ops.logsumexp(A, axis=1), np.log(np.exp(A).sum(axis=1))),
    fwd("cumsum", "flattened", lambda: ops.cumsum(A), np.cumsum(A)),
    fwd("cumsum", "axis", lambda: ops.cumsum(A, axis=1), np.cumsum(A, axis=1)),
    fwd("count_nonzero", "", lambda: ops.count_nonzero(Z, axis=1), np.array([2, 2], np.int32)),
    fwd("average", "", lambda: ops.average(A, axis=1, weights=f32([1, 2, 3])), np.average(A, axis=1, weights=[1, 2, 3])
        .astype(np.float32)),
    fwd("average", "plain", lambda: ops.average(A), np.mean(A)),
    fwd("norm", "default", lambda: ops.norm(A), np.linalg.norm(A)),
    fwd("norm", "axis", lambda: ops.norm(A, axis=1), np.linalg.norm(A, axis=1)),
    fwd("norm", "ord1-axis", lambda: ops.norm(A, ord=1, axis=1, keepdims=True), np.linalg.norm(A, 1, axis=1,
                                                                                               keepdims=True)),
    fwd("norm", "inf-vector", lambda: ops.norm(A[0], ord=np.inf), np.linalg.norm(A[0], np.inf)),
    fwd("norm", "p3", lambda: ops.norm(A[0], ord=3), np.float32(np.linalg.norm(A[0], 3))),
    fwd("norm", "matrix-1", lambda: ops.norm(A, ord=1), np.linalg.norm(A, 1)),
    fwd("norm", "matrix-inf", lambda: ops.norm(A, ord=np.inf), np.linalg.norm(A, np.inf)),
    fwd("norm", "matrix-nuc", lambda: ops.norm(A, ord="nuc"), np.linalg.norm(A, "nuc")),
    # shapes
    fwd("reshape", "", lambda: ops.reshape(A, (3, 2)), A.reshape(3, 2)),
    fwd("reshape", "int", lambda: ops.reshape(A, -1), A.reshape(-1)),
    fwd("transpose", "reversed", lambda: ops.transpose(X3), X3.T),
    fwd("transpose", "axes", lambda: ops.transpose(X3, (1, 0, 2)), X3.transpose(1, 0, 2)),
    fwd("transpose", "negative-axes", lambda: ops.transpose(X3, [0, -1, 1]), X3.transpose(0, 2, 1)),
    fwd("swapaxes", "", lambda: ops.swapaxes(X3, 0, 2), X3.swapaxes(0, 2)),
    fwd("moveaxis", "", lambda: ops.moveaxis(X3, 0, -1), np.moveaxis(X3, 0, -1)),
    fwd("moveaxis", "several", lambda: ops.moveaxis(X3, [0, 1], [2, 0]), np.moveaxis(X3, [0, 1], [2, 0])),
    fwd("expand_dims", "", lambda: ops.expand_dims(A, 0), A[None]),
    fwd("squeeze", "all", lambda: ops.squeeze(A[:, None, :, None]), A),
    fwd("squeeze", "axis", lambda: ops.squeeze(A[:, None], axis=1), A),
    fwd("ravel", "", lambda: ops.ravel(A), A.ravel()),
    fwd("concatenate", "default-axis-0", lambda: ops.concatenate([A, B, A]), np.concatenate([A, B, A])),
    fwd("concatenate", "axis", lambda: ops.concatenate((A, B), axis=-1), np.concatenate([A, B], axis=1)),
    fwd("append", "flattened", lambda: ops.append(A, B[0]), np.append(A, B[0])),
    fwd("append", "axis", lambda: ops.append(A, B, axis=1), np.append(A, B, axis=1)),
    fwd("stack", "", lambda: ops.stack([A, B]), np.stack([A, B])),
    fwd("stack", "axis", lambda: ops.stack([A, B], axis=-1), np.stack([A, B], axis=-1)),
    fwd("hstack", "", lambda: ops.hstack([A, B]), np.hstack([A, B])),
    fwd("vstack", "", lambda: ops.vstack([A, B[0]]), np.vstack([A, B[0]])),
    fwd("tile", "", lambda: ops.tile(A, 2), np.tile(A, 2)),
    fwd("tile", "more-axes", lambda: ops.tile(A, (2, 1, 3)), np.tile(A, (2, 1, 3))),
    fwd("repeat", "flattened", lambda: ops.repeat(A, 2), np.repeat(A, 2)),
    fwd("repeat", "per-element", lambda: ops.repeat(A, [1, 3], axis=0), np.repeat(A, [1, 3], axis=0)),
    fwd("take", "flattened", lambda: ops.take(A, [5, 0, -1]), np.take(A, [5, 0, -1])),
    fwd("take", "axis", lambda: ops.take(X3, np.array([[2, 0], [0, 0]]), axis=1),
        np.take(X3, [[2, 0], [0, 0]], axis=1)),
    fwd("take_along_axis", "", lambda: ops.take_along_axis(A, np.argsort(A, axis=1), axis=1), np.sort(A, axis=1)),
    fwd("take_along_axis", "flattened", lambda: ops.take_along_axis(A, np.array([4, 1]), axis=None), A.ravel()[[4, 1]]),
    fwd("split", "sections", lambda: ops.split(X3, 2, axis=-1), np.split(X3, 2, axis=-1)),
    fwd("split", "indices", lambda: ops.split(X3, [1, 2], axis=1), np.split(X3, [1, 2], axis=1)),
    fwd("array_split", "", lambda: ops.array_split(np.arange(7.0, dtype=np.float32), 3),
        np.array_split(np.arange(7.0, dtype=np.float32), 3)),
    fwd("array_split", "indices", lambda: ops.array_split(A, [1], axis=1), np.array_split(A, [1], axis=1)),
    fwd("unstack", "", lambda: ops.unstack(X3, axis=1), [X3[:, i] for i in range(3)]),
    fwd("slice", "", lambda: ops.slice(X3, (0, 1, 1), (2, -1, 2)), X3[:, 1:, 1:3]),
    fwd("get_item", "", lambda: ops.get_item(X3, (1, slice(None), 2)), X3[1, :, 2]),
    fwd("flip", "all-axes", lambda: ops.flip(A), np.flip(A)),
    fwd("flip", "axis", lambda: ops.flip(A, axis=1), np.flip(A, axis=1)),
    fwd("roll", "", lambda: ops.roll(A, 1, axis=1), np.roll(A, 1, axis=1)),
    fwd("roll", "flattened", lambda: ops.roll(A, -2), np.roll(A, -2)),
    fwd("broadcast_to", "", lambda: ops.broadcast_to(A[0], (4, 3)), np.broadcast_to(A[0], (4, 3))),
    fwd("pad", "", lambda: ops.pad(A, ((1, 0), (0, 2))), np.pad(A, ((1, 0), (0, 2)))),
    fwd("pad", "value", lambda: ops.pad(A, 1, constant_values=7), np.pad(A, 1, constant_values=7)),
    fwd("pad", "reflect", lambda: ops.pad(A, ((0, 1), (2, 2)), mode="reflect"), np.pad(A, ((0, 1), (2, 2)), "reflect")),
    fwd("tril", "", lambda: ops.tril(X3), np.tril(X3)),
    fwd("tril", "k", lambda: ops.tril(X3, -1), np.tril(X3, -1)),
    fwd("triu", "", lambda: ops.triu(X3, 1), np.triu(X3, 1)),
    fwd("sort", "", lambda: ops.sort(A), np.sort(A)),
    fwd("sort", "axis0", lambda: ops.sort(A, axis=0), np.sort(A, axis=0)),
    fwd("argsort", "int32", lambda: ops.argsort(A), np.argsort(A).astype(np.int32)),
    fwd("conv", "1x1", lambda: ops.conv(np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3), f32(np.ones((1, 1, 3, 1)))),
        f32([[[[3.0], [12.0]], [[21.0], [30.0]]]])),
    fwd("max_pool", "", lambda: ops.max_pool(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2), 2),
        f32([[[[6.0, 7.0]]]])),
    fwd("average_pool", "", lambda: ops.average_pool(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2), 2),
        f32([[[[3.0, 4.0]]]])),
    fwd("in_top_k", "ties-in", lambda: ops.in_top_k(np.array([2, 0]), f32([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]), 2),
        np.array([True, True])),
    fwd("top_k", "", lambda: ops.top_k(A, 2), (f32([[1.5, 0.25], [3.0, 0.5]]), np.array([[0, 2], [0, 1]], np.int32))),
    # creation (Keras's dtypes: floatx, int32 for Python ints)
    fwd("zeros", "", lambda: ops.zeros((2, 3)), np.zeros((2, 3), np.float32)),
    fwd("ones", "int-shape", lambda: ops.ones(3), np.ones(3, np.float32)),
    fwd("empty", "", lambda: (ops.empty((2,)).shape, str(ops.empty((2,)).dtype)), ((2,), "float32")),
    fwd("full", "float32", lambda: ops.full((2, 2), 7), np.full((2, 2), 7, np.float32)),
    fwd("full_like", "", lambda: ops.full_like(I, 2), np.full_like(I, 2)),
    fwd("zeros_like", "", lambda: ops.zeros_like(A), np.zeros_like(A)),
    fwd("ones_like", "dtype", lambda: ops.ones_like(A, dtype="int32"), np.ones((2, 3), np.int32)),
    fwd("arange", "int32", lambda: ops.arange(5), np.arange(5, dtype=np.int32)),
    fwd("arange", "float32", lambda: ops.arange(0, 1, 0.25), np.arange(0, 1, 0.25, dtype=np.float32)),
    fwd("arange", "float64-stays", lambda: ops.arange(np.float64(2)), np.arange(2.0)),
    fwd("eye", "", lambda: ops.eye(3), np.eye(3, dtype=np.float32)),
    fwd("eye", "rectangular", lambda: ops.eye(2, 3, k=1), np.eye(2, 3, 1, dtype=np.float32)),
    fwd("identity", "", lambda: ops.identity(2), np.eye(2, dtype=np.float32)),
    fwd("tri", "", lambda: ops.tri(3, 4), np.tri(3, 4, dtype=np.float32)),
    fwd("linspace", "", lambda: ops.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32)),
    fwd("linspace", "retstep", lambda: ops.linspace(0, 1, 3, endpoint=False, retstep=True)[1], 1 / 3),
    # core
    fwd("shape", "", lambda: ops.shape(X3), (2, 3, 4)),
    fwd("ndim", "", lambda: ops.ndim(X3), 3),
    fwd("size", "", lambda: ops.size(X3), 24),
    fwd("dtype", "", lambda: (ops.dtype(A), ops.dtype(I), ops.dtype(1.0)), ("float32", "int32", "float32")),
    fwd("cast", "", lambda: ops.cast(A, "int32"), A.astype(np.int32)),
    fwd("convert_to_tensor", "ints", lambda: ops.convert_to_tensor([1, 2]), np.array([1, 2], np.int32)),
    fwd("convert_to_tensor", "floats", lambda: ops.convert_to_tensor([[1.0, 2.0]]), f32([[1, 2]])),
    fwd("convert_to_tensor", "dtype", lambda: ops.convert_to_tensor(A, "float64"), A.astype(np.float64)),
    fwd("array", "", lambda: ops.array([0.5]), f32([0.5])),
    fwd("convert_to_numpy", "", lambda: ops.convert_to_numpy(A), A),
    fwd("copy", "", lambda: ops.copy(A), A),
    fwd("is_tensor", "", lambda: (ops.is_tensor(A), ops.is_tensor(np.float32(1)), ops.is_tensor(Tensor(A)),
                                  ops.is_tensor(3.0), ops.is_tensor([1])), (True, True, True, False, False)),
    fwd("stop_gradient", "", lambda: ops.stop_gradient(A), A),
    fwd("cond", "", lambda: (ops.cond(np.bool_(True), lambda: 1, lambda: 2),
                             ops.cond(A[0, 0] < 0, lambda: 1, lambda: 2)), (1, 2)),
    fwd("fori_loop", "", lambda: ops.fori_loop(1, 4, lambda i, v: v * i, A), A * 6),
    fwd("while_loop", "", lambda: ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v + A), (0, B)),
        (3, B + 3 * A)),
    fwd("while_loop", "one-value", lambda: ops.while_loop(lambda v: ops.sum(v) < 100, lambda v: v * 2, P,
                                                          maximum_iterations=3), P * 8),
    fwd("map", "", lambda: ops.map(lambda row: ops.sum(row), A), A.sum(axis=1)),
    fwd("scan", "", lambda: ops.scan(lambda c, x: (c + x, c * x), f32(0), f32([1, 2, 3])),
        (f32(6), f32([0, 2, 9]))),
    # products
    fwd("dot", "2d", lambda: ops.dot(A, B.T), A @ B.T),
    fwd("dot", "1d", lambda: ops.dot(A[0], B[0]), np.dot(A[0], B[0])),
    fwd("dot", "nd", lambda: ops.dot(X3, X3.transpose(1, 2, 0)), np.dot(X3, X3.transpose(1, 2, 0))),
    fwd("dot", "scalar", lambda: ops.dot(2.0, A), 2 * A),
    fwd("tensordot", "default-2", lambda: ops.tensordot(X3, X3.transpose(1, 2, 0)),
        np.tensordot(X3, X3.transpose(1, 2, 0))),
    fwd("tensordot", "pairs", lambda: ops.tensordot(X3, A, axes=([0, 1], [0, 1])),
        np.tensordot(X3, A, ([0, 1], [0, 1]))),
    fwd("tensordot", "outer", lambda: ops.tensordot(A[0], B[1], axes=0), np.tensordot(A[0], B[1], 0)),
    fwd("einsum", "matmul", lambda: ops.einsum("ij,kj->ik", A, B), np.einsum("ij,kj->ik", A, B)),
    fwd("einsum", "implicit", lambda: ops.einsum("bij,jk", X3, X3[0].T), np.einsum("bij,jk", X3, X3[0].T)),
    fwd("einsum", "ellipsis", lambda: ops.einsum("...ij,...j->...i", X3, X3[:, 0]),
        np.einsum("...ij,...j->...i", X3, X3[:, 0])),
    fwd("einsum", "trace", lambda: ops.einsum("ii", X3[0, :, :3]), np.einsum("ii", X3[0, :, :3])),
    fwd("outer", "", lambda: ops.outer(A[0], B), np.outer(A[0], B)),
    fwd("inner", "", lambda: ops.inner(A, B), np.inner(A, B)),
    fwd("vdot", "", lambda: ops.vdot(A, B), np.vdot(A, B)),
    # losses, one-hot, normalisation
    fwd("one_hot", "negative-is-zeros", lambda: ops.one_hot(np.array([0, 2, -1]), 3),
        f32([[1, 0, 0], [0, 0, 1], [0, 0, 0]])),
    fwd("one_hot", "axis", lambda: ops.one_hot(np.array([[1, 0]]), 2, axis=0), np.eye(2, dtype=np.float32)[np.array([[1, 0]])]
        .transpose(2, 0, 1)),
    fwd("multi_hot", "", lambda: ops.multi_hot(np.array([[0, 2], [1, 1]]), 3), f32([[1, 0, 1], [0, 1, 0]])),
    fwd("binary_crossentropy", "", lambda: ops.binary_crossentropy(MF, sigmoid(A)),
        -(MF * np.log(sigmoid(A)) + (1 - MF) * np.log(1 - sigmoid(A)))),
    fwd("binary_crossentropy", "logits", lambda: ops.binary_crossentropy(MF, A, from_logits=True),
        -(MF * np.log(sigmoid(A)) + (1 - MF) * np.log(1 - sigmoid(A)))),
    fwd("categorical_crossentropy", "", lambda: ops.categorical_crossentropy(np.eye(3, dtype=np.float32)[[0, 2]],
                                                                            softmax(A)),
        -np.log(softmax(A)[[0, 1], [0, 2]])),
    fwd("categorical_crossentropy", "logits", lambda: ops.categorical_crossentropy(
        np.eye(3, dtype=np.float32)[[0, 2]], A, from_logits=True), -np.log(softmax(A)[[0, 1], [0, 2]])),
    fwd("sparse_categorical_crossentropy", "", lambda: ops.sparse_categorical_crossentropy(np.array([1, 0]), A,
                                                                                          from_logits=True),
        -np.log(softmax(A)[[0, 1], [1, 0]])),
    fwd("normalize", "", lambda: ops.normalize(A), A / np.linalg.norm(A, axis=-1, keepdims=True)),
    fwd("normalize", "order1-axis0", lambda: ops.normalize(A, axis=0, order=1), A / np.abs(A).sum(0, keepdims=True)),
    fwd("moments", "", lambda: ops.moments(X3, axes=[0, 1]), (X3.mean(axis=(0, 1)), X3.var(axis=(0, 1)))),
    fwd("batch_normalization", "", lambda: ops.batch_normalization(X3, X3.mean((0, 1)), X3.var((0, 1)), axis=-1,
                                                                   offset=f32([0, 1, 2, 3]), scale=f32([1, 2, 1, 2])),
        ((X3 - X3.mean((0, 1))) / np.sqrt(X3.var((0, 1)) + 1e-3) * f32([1, 2, 1, 2]) + f32([0, 1, 2, 3]))
        .astype(np.float32)),
    fwd("dot_product_attention", "", lambda: ops.dot_product_attention(QS, KS, VS), attention(QS, KS, VS)),
    fwd("dot_product_attention", "masked-causal", lambda: ops.dot_product_attention(
        QS, KS, VS, mask=np.array([True, True, False, True]), is_causal=True, scale=0.5),
        attention(QS, KS, VS, keep=np.tri(3, 4, dtype=bool) & np.array([True, True, False, True]), scale=0.5)),
    # products along an axis, segments, slice updates
    fwd("cumprod", "flattened", lambda: ops.cumprod(A), np.cumprod(A)),
    fwd("cumprod", "axis-int8-as-int32", lambda: ops.cumprod(np.array([[1, 2], [3, 4]], np.int8), axis=0),
        np.array([[1, 2], [3, 8]], np.int32)),
    fwd("segment_sum", "", lambda: ops.segment_sum(A, np.array([0, 0])), A.sum(axis=0, keepdims=True)),
    fwd("segment_sum", "num_segments", lambda: ops.segment_sum(f32([1, 2, 3, 4]), np.array([2, 0, 2, -1]), 3),
        f32([2, 0, 4])),
    fwd("segment_max", "", lambda: ops.segment_max(f32([1, 5, 3, 4]), np.array([0, 0, 1, 1])), f32([5, 4])),
    # an empty segment: the lowest finite value (TensorFlow's; -inf would be NaN after a Dense layer)
    fwd("segment_max", "empty", lambda: ops.segment_max(f32([1, 5]), np.array([0, 0]), 2),
        f32([5, np.finfo(np.float32).min])),
    # one step, one label: -log softmax(logits)[label]; two steps of "1": the paths 1-1, 0-1, 1-0 (blank 0)
    fwd("ctc_loss", "", lambda: ops.ctc_loss(np.array([[1], [2]]), f32([[[0, 1, 2]], [[0, 1, 2]]]), [1, 1], [1, 1]),
        f32([np.log(1 + np.e + np.e ** 2) - 1, np.log(1 + np.e + np.e ** 2) - 2])),
    fwd("ctc_loss", "alignments", lambda: ops.ctc_loss(np.array([[1]]), f32([[[0, 0], [0, 0]]]), [1], [2]),
        f32([np.log(4 / 3)])),
    fwd("ctc_decode", "greedy", lambda: ops.ctc_decode(f32([[[0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]]), [4]),
        (np.array([[[1, 2, -1, -1]]], np.int32), f32([[-4.0]]))),
    fwd("slice_update", "", lambda: ops.slice_update(np.zeros((3, 4), np.float32), (1, 2), np.ones((2, 2), np.float32)),
        np.pad(np.ones((2, 2), np.float32), ((1, 0), (2, 0)))),
    # Keras 3's numpy functions of round 29 (values: NumPy's)
    fwd("meshgrid", "xy", lambda: ops.meshgrid(A[0], B[1, :2]), np.meshgrid(A[0], B[1, :2])),
    fwd("meshgrid", "ij-3", lambda: ops.meshgrid(A[0], B[1, :2], X3[0, 0], indexing="ij"),
        np.meshgrid(A[0], B[1, :2], X3[0, 0], indexing="ij")),
    fwd("diag", "vector-k1", lambda: ops.diag(A[0], 1), np.diag(A[0], 1)),
    fwd("diag", "matrix-k-1", lambda: ops.diag(A, -1), np.diag(A, -1)),
    fwd("diagonal", "", lambda: ops.diagonal(X3, 1, 2, 1), np.diagonal(X3, 1, 2, 1)),
    fwd("trace", "", lambda: ops.trace(X3, -1, 1, 2), np.trace(X3, -1, 1, 2)),
    fwd("trace", "int8-as-int32", lambda: ops.trace(np.ones((3, 3), np.int8)), np.int32(3)),
    fwd("median", "axis", lambda: ops.median(X3, axis=1), np.median(X3, axis=1)),
    fwd("median", "int-as-float32", lambda: ops.median(np.array([1, 4, 2, 8])), np.float32(3)),
    fwd("quantile", "linear-axes", lambda: ops.quantile(X3, [0.1, 0.5, 0.77], axis=(0, 2)),
        np.quantile(X3, [0.1, 0.5, 0.77], axis=(0, 2)).astype(np.float32)),
    fwd("quantile", "nearest-keepdims", lambda: ops.quantile(X3, 0.3, axis=1, method="nearest", keepdims=True),
        np.quantile(X3, 0.3, axis=1, method="nearest", keepdims=True)),
    fwd("quantile", "midpoint", lambda: ops.quantile(A, 0.4, method="midpoint"), np.float32(np.quantile(A, 0.4,
                                                                                          method="midpoint"))),
    fwd("quantile", "nan", lambda: ops.quantile(f32([1, np.nan, 2]), 0.5), np.float32(np.nan)),
    fwd("percentile", "", lambda: ops.percentile(X3, [10, 50, 90], axis=-1),
        np.percentile(X3, [10, 50, 90], axis=-1).astype(np.float32)),
    fwd("searchsorted", "right", lambda: ops.searchsorted(np.array([1, 2, 2, 5]), np.array([[2, 6], [0, 1]]), "right"),
        np.array([[3, 4], [0, 1]], np.int32)),
    fwd("digitize", "keras-doc", lambda: ops.digitize(f32([0.2, 6.4, 3.0, 1.6]), [0.0, 1.0, 2.5, 4.0, 10.0]),
        np.array([1, 4, 3, 2], np.int32)),
    fwd("isin", "", lambda: ops.isin(np.array([[1, 2], [3, 4]]), [2, 4, 7]), np.array([[False, True], [False, True]])),
    fwd("isin", "invert", lambda: ops.isin(np.array([1, 2]), [2], invert=True), np.array([True, False])),
    fwd("nonzero", "int32", lambda: ops.nonzero(Z), tuple(i.astype(np.int32) for i in np.nonzero(Z))),
    fwd("rot90", "", lambda: ops.rot90(A), np.rot90(A)),
    fwd("rot90", "k3-axes", lambda: ops.rot90(X3, 3, axes=(2, 0)), np.rot90(X3, 3, axes=(2, 0))),
    fwd("bincount", "int32", lambda: ops.bincount(np.array([1, 1, 3, 0])), np.array([1, 2, 0, 1], np.int32)),
    fwd("bincount", "weights-minlength", lambda: ops.bincount(np.array([1, 1, 3]), weights=f32([0.5, 1, 2]),
                                                              minlength=5), f32([0, 1.5, 0, 2, 0])),
    fwd("bincount", "rows", lambda: ops.bincount(np.array([[1, 1, 3], [0, 0, 2]])),
        np.array([[0, 2, 0, 1], [2, 0, 1, 0]], np.int32)),
    fwd("diff", "", lambda: ops.diff(X3 ** 2, 2, axis=1), np.diff(X3 ** 2, 2, axis=1)),
    fwd("cross", "3d", lambda: ops.cross(A[:, None], B), np.cross(A[:, None], B)),
    fwd("cross", "2d-z", lambda: ops.cross(A[:, :2], B[:, :2]), A[:, 0] * B[:, 1] - A[:, 1] * B[:, 0]),
    fwd("cross", "axisc", lambda: ops.cross(A.T, B, axisa=0, axisc=0), np.cross(A.T, B, axisa=0, axisc=0)),
    fwd("kron", "", lambda: ops.kron(A, X3[0]), np.kron(A, X3[0])),
    fwd("kron", "ranks-int-float32", lambda: ops.kron(np.array([1, 2], np.int32), X3),
        np.kron(f32([1, 2]), X3)),
    fwd("select", "", lambda: ops.select([A < 0, A > 1], [A, A * 2], 42), np.select([A < 0, A > 1], [A, A * 2], 42)),
    fwd("saturate_cast", "uint8", lambda: ops.saturate_cast(f32([-5, 300, 12.7, np.inf, -np.inf]), "uint8"),
        np.array([0, 255, 12, 255, 0], np.uint8)),
    fwd("saturate_cast", "int32-nudged", lambda: ops.saturate_cast(f32([3e9, -3e9]), "int32"),
        np.array([2147483520, -2147483648], np.int32)),
    # keras.ops.linalg
    fwd("inv", "", lambda: ops.inv(SPD), np.linalg.inv(SPD)),
    fwd("det", "", lambda: ops.det(SPD), np.linalg.det(SPD)),
    fwd("solve", "matrix", lambda: ops.solve(SPD, SPD[:, :, :2]), np.linalg.solve(SPD, SPD[:, :, :2])),
    fwd("solve", "vector", lambda: ops.solve(SPD[0], SPD[0, 0]), np.linalg.solve(SPD[0], SPD[0, 0])),
    fwd("cholesky", "", lambda: ops.cholesky(SPD), np.linalg.cholesky(SPD)),
    fwd("cholesky", "upper", lambda: ops.cholesky(SPD, upper=True), np.linalg.cholesky(SPD).transpose(0, 2, 1)),
    fwd("qr", "reduced", lambda: ops.qr(X3), np.linalg.qr(X3)),
    fwd("qr", "keras-doc", lambda: ops.qr(f32([[1, 2], [3, 4], [5, 6]]))[0][:, 0], f32([-0.16903079, -0.5070925,
                                                                                      -0.8451542])),
    fwd("svd", "", lambda: ops.svd(X3), tuple(np.linalg.svd(X3))),
    fwd("svd", "s", lambda: ops.svd(X3, compute_uv=False), np.linalg.svd(X3, compute_uv=False)),
    fwd("eigh", "", lambda: ops.eigh(SPD), tuple(np.linalg.eigh(SPD))),
    fwd("eig", "complex64", lambda: [(str(v.dtype), v.real, v.imag) for v in ops.eig(np.diag(f32([2, 1])))],
        [("complex64", f32([2, 1]), f32([0, 0])), ("complex64", np.eye(2, dtype=np.float32), np.zeros((2, 2), np.float32))]),
    # keras.ops.math's FFTs and STFT: (real, imag) pairs (the Keras 3 docstrings' examples, and NumPy's FFT)
    fwd("fft", "keras-doc", lambda: ops.fft((f32([1, 2]), f32([0, 1]))), (f32([3, -1]), f32([1, -1]))),
    fwd("fft", "rows", lambda: ops.fft((A, B)), (np.fft.fft(A + 1j * B).real.astype(np.float32),
                                                 np.fft.fft(A + 1j * B).imag.astype(np.float32))),
    fwd("fft2", "keras-doc", lambda: ops.fft2((f32([[1, 2], [2, 1]]), f32([[0, 1], [1, 0]]))),
        (f32([[6, 0], [0, -2]]), f32([[2, 0], [0, -2]]))),
    fwd("fft2", "float64", lambda: ops.fft2((X3.astype(np.float64), np.zeros((2, 3, 4)))),
        (np.fft.fft2(X3.astype(np.float64)).real, np.fft.fft2(X3.astype(np.float64)).imag)),
    fwd("ifft2", "", lambda: ops.ifft2((X3, X3[::-1].copy())), (np.fft.ifft2(X3 + 1j * X3[::-1]).real.astype(np.float32),
                                                               np.fft.ifft2(X3 + 1j * X3[::-1]).imag.astype(np.float32))),
    fwd("rfft", "keras-doc", lambda: ops.rfft(f32([0, 1, 2, 3, 4])),
        (f32([10, -2.5, -2.5]), f32([0, 3.4409548, 0.81229924]))),
    fwd("rfft", "keras-doc-cropped", lambda: ops.rfft(f32([0, 1, 2, 3, 4]), 3), (f32([3, -1.5]), f32([0, 0.8660254]))),
    fwd("rfft", "padded-int-as-float32", lambda: ops.rfft(I, 6), (np.fft.rfft(I, 6).real.astype(np.float32),
                                                                  np.fft.rfft(I, 6).imag.astype(np.float32))),
    fwd("irfft", "", lambda: ops.irfft((A, B)), np.fft.irfft(A + 1j * B).astype(np.float32)),
    fwd("irfft", "keras-doc-round-trip", lambda: ops.irfft(ops.rfft(f32([0, 1, 2, 3, 4]), 5), 5), f32([0, 1, 2, 3, 4])),
    fwd("stft", "keras-doc", lambda: ops.stft(f32([0, 1, 2, 3, 4]), 3, 2, 3),
        (f32([[0.75, -0.375], [3.75, -1.875], [5.25, -2.625]]), f32([[0, 0.64951905], [0, 0.64951905],
                                                                     [0, -0.64951905]]))),
    fwd("istft", "keras-doc", lambda: ops.istft(ops.stft(f32([0, 1, 2, 3, 4]), 1, 1, 1), 1, 1, 1), f32([0, 1, 2, 3, 4])),
]


def _check_value(got, want, what):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), f"{what}: got {got!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            _check_value(g, w, f"{what}[{i}]")
        return
    assert not isinstance(got, Tensor), f"{what}: a Tensor from arrays"
    if isinstance(want, (bool, int, float, str)):
        assert got == pytest.approx(want) if isinstance(want, float) else got == want, f"{what}: {got!r} != {want!r}"
        assert type(got) is type(want) or isinstance(want, float), f"{what}: type {type(got)}"
        return
    want = np.asarray(want)
    got_arr = np.asarray(got)
    assert got_arr.dtype == want.dtype, f"{what}: dtype {got_arr.dtype}, expected {want.dtype}"
    assert got_arr.shape == want.shape, f"{what}: shape {got_arr.shape}, expected {want.shape}"
    if want.dtype.kind in "fc":
        assert_close(got_arr, want, rtol=2e-6 if want.dtype == np.float32 else 1e-12, atol=1e-6, what=what)
    else:
        np.testing.assert_array_equal(got_arr, want, err_msg=what)


@pytest.mark.parametrize("name, call, want", FORWARD)
def test_values_on_arrays(name, call, want):
    _check_value(call(), want, name)


def test_every_function_has_a_value_check():
    names = {p.values[0] for p in FORWARD}
    assert set(_keras_ops.__all__) - names == set()


def test_fastnn_ops_has_keras_ops_and_keeps_its_kernels():
    kernels = {n for n, f in vars(ops).items() if callable(f) and getattr(f, "__module__", None) == "fastnn.ops"}
    assert {"matmul", "gemm", "dense_forward", "conv2d_forward", "lstm_forward"} <= kernels
    assert kernels.isdisjoint(_keras_ops.__all__)  # no kernel name replaced
    for name in _keras_ops.__all__:
        assert getattr(ops, name) is getattr(_keras_ops, name), name
    assert ops.matmul.__module__ == "fastnn.ops" and ops.matmul is not _keras_ops.matmul
    # Keras's default arguments
    import inspect
    assert str(inspect.signature(ops.concatenate)) == "(xs, axis=0)"
    assert str(inspect.signature(ops.argmax)) == "(x, axis=None, keepdims=False)"
    assert str(inspect.signature(ops.clip)) == "(x, x_min, x_max)"
    assert str(inspect.signature(ops.transpose)) == "(x, axes=None)"
    assert str(inspect.signature(ops.softmax)) == "(x, axis=-1)"
    assert str(inspect.signature(ops.leaky_relu)) == "(x, negative_slope=0.2)"


def test_matmul_kernel_unchanged_on_arrays_and_autodiff_on_tensors(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    got = ops.matmul(a, b)
    assert got.dtype == np.float32  # the C++ kernel's result
    assert_close(got, a @ b, rtol=1e-5, atol=1e-5, what="matmul")
    with fastnn.backend("numpy"):
        assert ops.matmul(a, b).dtype == np.float64
    # arrays that are not 2-D: Keras's (NumPy's) batched matmul
    x3 = rng.standard_normal((2, 3, 4))
    assert_close(ops.matmul(x3, b), x3 @ b, rtol=1e-12, atol=1e-12, what="batched matmul on arrays")
    # tensors: NumPy's matmul (batched) on the tape
    y = ops.matmul(Tensor(x3), b)
    assert isinstance(y, Tensor) and y.dtype == np.float64
    assert_close(y.value, x3 @ b, rtol=1e-12, atol=1e-12, what="matmul on the tape")
    out = ops.matmul(Input(shape=(4,)), b)
    assert isinstance(out, KerasTensor) and out.shape == (None, 2)


# ---- gradients on the tape -------------------------------------------------------------------


def tape_gradcheck(f, *inputs, seed=0, rtol=1e-5, atol=1e-7):
    """``f`` on Tensors: its value equals its value on arrays, and its gradient (for a random
    seed of mixed signs) the central differences of the arrays' value, in float64."""
    rng = np.random.default_rng(seed)
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    leaves = [Tensor(x.copy()) for x in xs]
    y = f(*leaves)
    assert isinstance(y, Tensor), f"f returned {type(y).__name__} for Tensor inputs"
    eager = f(*xs)
    assert not isinstance(eager, Tensor)
    assert_close(y.value, eager, rtol=1e-12, atol=1e-12, what="tape value vs array value")
    assert y.dtype == np.float64
    w = rng.uniform(0.5, 1.5, y.shape) * rng.choice([-1.0, 1.0], y.shape)
    grads = ad.grad(y, leaves, seed=w)
    assert all(g.shape == x.shape and g.dtype == np.float64 for g, x in zip(grads, xs))
    gradcheck(lambda: float(np.sum(w * np.asarray(f(*xs)))), xs, grads, what="tape gradient", rtol=rtol, atol=atol)


R = np.random.default_rng(7)
N = R.standard_normal((3, 4))  # normal values
N2 = R.standard_normal((3, 4))
POS = R.uniform(0.3, 2.0, (3, 4))
SMALL = R.uniform(-0.8, 0.8, (3, 4))
AWAY = np.where(np.abs(N) < 0.2, N + np.sign(N) * 0.3, N)  # away from 0
DISTINCT = ((R.permutation(12) - 6) * 0.1 + R.uniform(-0.02, 0.02, 12)).reshape(3, 4)  # no ties
SEQ = R.standard_normal((2, 3, 4))
Q, KEY, VAL = R.standard_normal((2, 3, 2, 4)), R.standard_normal((2, 5, 2, 4)), R.standard_normal((2, 5, 2, 4))
W43, B423 = R.standard_normal((4, 3)), R.standard_normal((4, 2, 3))


def grad_case(name, label, f, *inputs):
    return pytest.param(name, f, inputs, id=f"{name}-{label}" if label else name)


GRADIENTS = [
    grad_case("exp", "", ops.exp, N), grad_case("log", "", ops.log, POS), grad_case("sqrt", "", ops.sqrt, POS),
    grad_case("sin", "", ops.sin, N), grad_case("cos", "", ops.cos, N), grad_case("tanh", "", ops.tanh, N),
    grad_case("sigmoid", "", ops.sigmoid, N), grad_case("softplus", "", ops.softplus, N),
    grad_case("softsign", "", ops.softsign, N), grad_case("hard_sigmoid", "", ops.hard_sigmoid, N),
    grad_case("abs", "", ops.abs, AWAY), grad_case("absolute", "", ops.absolute, AWAY),
    grad_case("negative", "", ops.negative, N), grad_case("square", "", ops.square, N),
    grad_case("expm1", "", ops.expm1, N), grad_case("log1p", "", ops.log1p, POS), grad_case("log2", "", ops.log2, POS),
    grad_case("log10", "", ops.log10, POS), grad_case("exp2", "", ops.exp2, N), grad_case("tan", "", ops.tan, SMALL),
    grad_case("sinh", "", ops.sinh, N), grad_case("cosh", "", ops.cosh, N), grad_case("arcsin", "", ops.arcsin, SMALL),
    grad_case("arccos", "", ops.arccos, SMALL), grad_case("arctan", "", ops.arctan, N),
    grad_case("arcsinh", "", ops.arcsinh, N), grad_case("arccosh", "", ops.arccosh, POS + 1.2),
    grad_case("arctanh", "", ops.arctanh, SMALL), grad_case("reciprocal", "", ops.reciprocal, AWAY),
    grad_case("rsqrt", "", ops.rsqrt, POS), grad_case("cbrt", "", ops.cbrt, AWAY), grad_case("erf", "", ops.erf, N),
    grad_case("nan_to_num", "", ops.nan_to_num, N),
    grad_case("add", "broadcast", ops.add, N, N2[0]), grad_case("subtract", "", ops.subtract, N, N2),
    grad_case("multiply", "broadcast", ops.multiply, N[:, :1], N2), grad_case("divide", "", ops.divide, N, AWAY),
    grad_case("true_divide", "", ops.true_divide, N, AWAY), grad_case("power", "", ops.power, POS, N2),
    grad_case("maximum", "", ops.maximum, DISTINCT, DISTINCT.T[::-1].reshape(3, 4) + 0.05),
    grad_case("minimum", "", ops.minimum, DISTINCT, DISTINCT.T[::-1].reshape(3, 4) + 0.05),
    grad_case("mod", "", ops.mod, np.array([[2.3, -1.7, 5.2]]), np.array([[1.1, 0.8, -1.5]])),
    grad_case("arctan2", "", ops.arctan2, N, AWAY), grad_case("logaddexp", "", ops.logaddexp, N, N2),
    grad_case("hypot", "", ops.hypot, AWAY, N2), grad_case("divide_no_nan", "", ops.divide_no_nan, N, AWAY),
    grad_case("where", "", lambda a, b: ops.where(N > 0, a, b), N, N2),
    grad_case("clip", "", lambda x: ops.clip(x, -0.5, 0.8), np.where(np.abs(N + 0.5) < 0.1, 0.1, N)),
    grad_case("clip", "tensor-bounds", lambda x, lo: ops.clip(x, lo, 1.0), DISTINCT * 3, DISTINCT[::-1] + 0.03),
    grad_case("relu", "", ops.relu, AWAY), grad_case("relu6", "", ops.relu6, AWAY * 4),
    grad_case("leaky_relu", "", ops.leaky_relu, AWAY), grad_case("elu", "", ops.elu, AWAY),
    grad_case("selu", "", ops.selu, AWAY), grad_case("celu", "", lambda x: ops.celu(x, 0.7), AWAY),
    grad_case("silu", "", ops.silu, N), grad_case("swish", "", ops.swish, N),
    grad_case("hard_silu", "", ops.hard_silu, N), grad_case("hard_swish", "", ops.hard_swish, N),
    grad_case("log_sigmoid", "", ops.log_sigmoid, N), grad_case("gelu", "approximate", ops.gelu, N),
    grad_case("gelu", "exact", lambda x: ops.gelu(x, approximate=False), N),
    grad_case("hard_tanh", "", ops.hard_tanh, N * 0.5), grad_case("tanh_shrink", "", ops.tanh_shrink, N),
    grad_case("soft_shrink", "", ops.soft_shrink, AWAY * 2), grad_case("hard_shrink", "", ops.hard_shrink, AWAY * 2),
    grad_case("threshold", "", lambda x: ops.threshold(x, 0.0, 2.0), AWAY),
    grad_case("squareplus", "", ops.squareplus, N), grad_case("glu", "", ops.glu, SEQ),
    grad_case("sparse_plus", "", ops.sparse_plus, N * 0.5), grad_case("sparse_sigmoid", "", ops.sparse_sigmoid, N * 0.5),
    grad_case("sparsemax", "", ops.sparsemax, N), grad_case("sparsemax", "axis0", lambda x: ops.sparsemax(x, axis=0), N),
    grad_case("softmax", "", ops.softmax, N), grad_case("softmax", "axis0", lambda x: ops.softmax(x, axis=0), N),
    grad_case("log_softmax", "", ops.log_softmax, N),
    grad_case("sum", "all", ops.sum, N), grad_case("sum", "axis", lambda x: ops.sum(x, axis=1), N),
    grad_case("mean", "", lambda x: ops.mean(x, axis=(0, 2), keepdims=True), SEQ),
    grad_case("max", "", ops.max, DISTINCT),
    grad_case("max", "initial", lambda x: ops.max(x, axis=1, initial=0.0), DISTINCT),
    grad_case("min", "", lambda x: ops.min(x, axis=0), DISTINCT),
    grad_case("amax", "", lambda x: ops.amax(x, axis=1), DISTINCT), grad_case("amin", "", ops.amin, DISTINCT),
    grad_case("std", "", lambda x: ops.std(x, axis=1), N), grad_case("var", "", ops.var, N),
    grad_case("logsumexp", "", lambda x: ops.logsumexp(x, axis=0), N),
    grad_case("prod", "all", ops.prod, POS), grad_case("prod", "axis-with-a-zero", lambda x: ops.prod(x, axis=1),
                                                        np.array([[1.5, 0.0, -2.0], [0.5, 3.0, 1.2]])),
    grad_case("prod", "two-axes", lambda x: ops.prod(x, axis=(0, 2), keepdims=True), SEQ),
    grad_case("cumsum", "flattened", ops.cumsum, N), grad_case("cumsum", "axis", lambda x: ops.cumsum(x, axis=1), N),
    grad_case("average", "", lambda x, w: ops.average(x, axis=1, weights=w), N, POS[0]),
    grad_case("norm", "default", ops.norm, N), grad_case("norm", "axis", lambda x: ops.norm(x, axis=0), N),
    grad_case("norm", "p3", lambda x: ops.norm(x, ord=3, axis=1), AWAY),
    grad_case("norm", "inf", lambda x: ops.norm(x, ord=np.inf, axis=1), DISTINCT),
    grad_case("norm", "matrix-1", lambda x: ops.norm(x, ord=1), DISTINCT),
    grad_case("norm", "matrix-inf", lambda x: ops.norm(x, ord=-np.inf, keepdims=True), DISTINCT),
    grad_case("reshape", "", lambda x: ops.reshape(x, (2, -1)), N),
    grad_case("transpose", "", lambda x: ops.transpose(x, (2, 0, 1)), SEQ),
    grad_case("swapaxes", "", lambda x: ops.swapaxes(x, 0, -1), SEQ),
    grad_case("moveaxis", "", lambda x: ops.moveaxis(x, 2, 0), SEQ),
    grad_case("expand_dims", "", lambda x: ops.expand_dims(x, 1), N),
    grad_case("squeeze", "", ops.squeeze, N[:, None]), grad_case("ravel", "", ops.ravel, N),
    grad_case("concatenate", "", lambda a, b: ops.concatenate([a, b, a]), N, N2[:2]),
    grad_case("append", "", lambda a, b: ops.append(a, b), N, N2[0]),
    grad_case("stack", "", lambda a, b: ops.stack([a, b], axis=1), N, N2),
    grad_case("hstack", "", lambda a, b: ops.hstack([a, b]), N, N2),
    grad_case("vstack", "", lambda a, b: ops.vstack([a, b]), N, N2[0]),
    grad_case("tile", "", lambda x: ops.tile(x, (2, 1, 3)), N),
    grad_case("repeat", "", lambda x: ops.repeat(x, [2, 0, 1], axis=0), N),
    grad_case("take", "repeated", lambda x: ops.take(x, [[3, 3], [0, 11]]), N),
    grad_case("take", "axis", lambda x: ops.take(x, [2, 2, 0], axis=1), SEQ),
    grad_case("take_along_axis", "", lambda x: ops.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]), axis=1), N),
    grad_case("flip", "", lambda x: ops.flip(x, axis=0), N),
    grad_case("roll", "", lambda x: ops.roll(x, (1, -1), (0, 1)), N),
    grad_case("broadcast_to", "", lambda x: ops.broadcast_to(x, (2, 3, 4)), N[:, :1]),
    grad_case("pad", "constant", lambda x: ops.pad(x, ((1, 2), (0, 1)), constant_values=3), N),
    grad_case("pad", "reflect", lambda x: ops.pad(x, ((2, 1), (3, 1)), mode="reflect"), N),
    grad_case("pad", "symmetric", lambda x: ops.pad(x, 2, mode="symmetric"), N),
    grad_case("pad", "edge", lambda x: ops.pad(x, ((0, 2), (1, 1)), mode="edge"), N),
    grad_case("pad", "wrap", lambda x: ops.pad(x, 2, mode="wrap"), N),
    grad_case("tril", "", lambda x: ops.tril(x, 1), SEQ), grad_case("triu", "", ops.triu, SEQ),
    grad_case("sort", "", ops.sort, DISTINCT),
    grad_case("sort", "flattened", lambda x: ops.sort(x, axis=None), DISTINCT),
    grad_case("top_k", "", lambda x: ops.top_k(x, 2)[0], DISTINCT),
    grad_case("conv", "same-stride2", lambda x, k: ops.conv(x, k, strides=2, padding="same"),
              R.standard_normal((2, 5, 4, 3)), R.standard_normal((3, 2, 3, 2))),
    grad_case("max_pool", "", lambda x: ops.max_pool(x, 2), DISTINCT.reshape(1, 2, 2, 3)),
    grad_case("average_pool", "same", lambda x: ops.average_pool(x, 2, padding="same"), SEQ.reshape(1, 2, 3, 4)),
    grad_case("split", "", lambda x: sum((i + 1) * p for i, p in enumerate(ops.split(x, [1, 3], axis=1))), N),
    grad_case("array_split", "", lambda x: ops.array_split(x, 2, axis=1)[1] * 2, N),
    grad_case("unstack", "", lambda x: ops.unstack(x)[0] * 3 + ops.unstack(x)[2], N),
    grad_case("slice", "", lambda x: ops.slice(x, (1, 0), (-1, 3)), N),
    grad_case("get_item", "", lambda x: ops.get_item(x, (slice(None), [0, 0, 2])), N),
    grad_case("copy", "", ops.copy, N), grad_case("cast", "", lambda x: ops.cast(x, "float64"), N),
    grad_case("convert_to_tensor", "", lambda x: ops.convert_to_tensor(x) * 2, N),
    grad_case("array", "", lambda x: ops.array(x) * 2, N),
    grad_case("map", "", lambda x: ops.map(lambda r: ops.sum(r * r), x), N),
    grad_case("scan", "", lambda x: ops.scan(lambda c, r: (c * r, c), ops.ones_like(x[0]) * 1.0 + 0 * x[0], x)[1], N),
    grad_case("fori_loop", "", lambda x: ops.fori_loop(0, 3, lambda i, v: ops.sin(v) + x, x), N),
    grad_case("while_loop", "", lambda x: ops.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v * x),
                                                         (0, x))[1], N),
    grad_case("cond", "", lambda x: ops.cond(True, lambda: ops.exp(x), lambda: x), N),
    grad_case("matmul", "batched", _keras_ops.matmul, SEQ, N.T),  # what ops.matmul hands tensors to
    grad_case("dot", "nd", ops.dot, SEQ, SEQ.transpose(1, 2, 0)),
    grad_case("tensordot", "", lambda a, b: ops.tensordot(a, b, axes=([0, 2], [1, 0])), SEQ, B423),
    grad_case("einsum", "batched", lambda a, b: ops.einsum("bij,bjk->bik", a, b), SEQ, SEQ.transpose(0, 2, 1)),
    grad_case("einsum", "summed-only-here", lambda a, b: ops.einsum("ij,j->", a, b), N, N2[0]),
    grad_case("einsum", "implicit-ellipsis", lambda a, b: ops.einsum("...ij,jk", a, b), SEQ, N.T),
    grad_case("einsum", "broadcast-size-1", lambda a, b: ops.einsum("...j,...j->...", a, b), SEQ[:, :1], SEQ),
    grad_case("outer", "", ops.outer, N[0], N2[1]), grad_case("inner", "", ops.inner, N, N2),
    grad_case("vdot", "", ops.vdot, N, N2),
    grad_case("binary_crossentropy", "", lambda t, p: ops.binary_crossentropy(t, ops.sigmoid(p)), POS / 2.5, N),
    grad_case("binary_crossentropy", "logits", lambda p: ops.binary_crossentropy((N2 > 0) * 1.0, p, True), N),
    grad_case("categorical_crossentropy", "", lambda p: ops.categorical_crossentropy(np.eye(4)[[0, 3, 1]], p), POS),
    grad_case("sparse_categorical_crossentropy", "",
              lambda p: ops.sparse_categorical_crossentropy(np.array([2, 0, 3]), p, from_logits=True), N),
    grad_case("normalize", "", ops.normalize, N),
    grad_case("normalize", "order1", lambda x: ops.normalize(x, 0, 1), AWAY),
    grad_case("moments", "", lambda x: ops.moments(x, axes=[1])[0] * 2 + ops.moments(x, axes=[1])[1], N),
    grad_case("batch_normalization", "",
              lambda x, m, v, o, s: ops.batch_normalization(x, m, v, axis=1, offset=o, scale=s),
              N, N2[0], POS[0], N2[1], N2[2]),
    grad_case("dot_product_attention", "", lambda q, k, v: ops.dot_product_attention(q, k, v), Q, KEY, VAL),
    grad_case("dot_product_attention", "masked-causal", lambda q, k, v: ops.dot_product_attention(
        q, k, v, mask=np.arange(5) < 4, is_causal=True, scale=0.3, bias=0.1 * np.arange(5.0)), Q, KEY, VAL),
    grad_case("cumprod", "axis-with-a-zero", lambda x: ops.cumprod(x, axis=1), np.array([[1.5, 0.0, -2.0, 0.7]])),
    grad_case("segment_sum", "", lambda x: ops.segment_sum(x, np.array([1, 0, 1]), 3), N),
    grad_case("segment_max", "", lambda x: ops.segment_max(x, np.array([1, 0, 1])), DISTINCT),
    grad_case("ctc_loss", "", lambda z: ops.ctc_loss(np.array([[1, 2], [2, 0]]), z, [2, 1], [3, 2]),
              np.random.default_rng(5).standard_normal((2, 3, 3))),
    grad_case("slice_update", "", lambda x, u: ops.slice_update(x, (1, 1), u), N, N2[:2, :2]),
    grad_case("meshgrid", "", lambda a, b: ops.meshgrid(a, b)[0] * 2 + ops.meshgrid(a, b)[1], N[0], N2[1, :3]),
    grad_case("diag", "vector", lambda x: ops.diag(x, -1), N[0]),
    grad_case("diag", "matrix", lambda x: ops.diag(x, 1), N),
    grad_case("diagonal", "", lambda x: ops.diagonal(x, 0, 0, 2), SEQ),
    grad_case("trace", "", lambda x: ops.trace(x, 1, 1, 2), SEQ),
    grad_case("median", "", lambda x: ops.median(x, axis=1), DISTINCT),
    grad_case("quantile", "linear", lambda x: ops.quantile(x, [0.2, 0.65], axis=0), DISTINCT),
    grad_case("quantile", "midpoint-keepdims", lambda x: ops.quantile(x, 0.3, axis=1, method="midpoint",
                                                                      keepdims=True), DISTINCT),
    grad_case("percentile", "", lambda x: ops.percentile(x, 35), DISTINCT),
    grad_case("rot90", "", lambda x: ops.rot90(x, 1, axes=(2, 1)), SEQ),
    grad_case("bincount", "weights", lambda w: ops.bincount(np.array([[1, 1, 3], [0, 4, 0]]), weights=w), N[:2, :3]),
    grad_case("diff", "", lambda x: ops.diff(x, 2, axis=0), SEQ.reshape(4, 3, 2)),
    grad_case("cross", "3d-broadcast", ops.cross, N[:1, :3], N2[:, :3]),
    grad_case("cross", "2d-3d", lambda a, b: ops.cross(a, b, axisa=0, axisc=0), N[:2, :3], N2[:, :3]),
    grad_case("kron", "", ops.kron, N[:2, :2], N2),
    grad_case("select", "", lambda a, b: ops.select([N > 0.5, N < -0.5], [a, b], 1.0), N, N2),
    grad_case("saturate_cast", "float64", lambda x: ops.saturate_cast(x, "float64"), N),
    grad_case("inv", "", ops.inv, SPD), grad_case("det", "", ops.det, SPD),
    grad_case("solve", "matrix", ops.solve, SPD[1], N[:, :2]),
    grad_case("solve", "vector", ops.solve, SPD[0], N[0, :3]),
    grad_case("cholesky", "", lambda x: ops.cholesky(ops.einsum("ij,kj->ik", x, x) + 3 * np.eye(3)), N[:, :3]),
    grad_case("cholesky", "upper", lambda x: ops.cholesky(ops.einsum("ij,kj->ik", x, x) + 3 * np.eye(3), True),
              N[:, :3]),
    grad_case("qr", "", lambda x: ops.qr(x)[0] * 2 + ops.sum(ops.qr(x)[1]), N.T),
    grad_case("svd", "s", lambda x: ops.svd(x, compute_uv=False), N),
    grad_case("svd", "s-of-three", lambda x: ops.svd(x)[1], N),
    grad_case("fft", "", lambda r, i: ops.fft((r, i))[0] * 2 + ops.fft((r, i))[1], N, N2),
    grad_case("fft2", "fnet", lambda x: ops.fft2((x, ops.zeros_like(x)))[0], SEQ),
    grad_case("fft2", "both-parts", lambda r, i: ops.fft2((r, i))[1] - ops.fft2((r, i))[0] * 0.5, SEQ, SEQ[::-1]),
    grad_case("ifft2", "", lambda r, i: ops.ifft2((r, i))[0] + ops.ifft2((r, i))[1] * 3, N, N2),
    grad_case("rfft", "padded", lambda x: ops.rfft(x, 6)[0] + ops.rfft(x, 6)[1] * 2, N),
    grad_case("rfft", "cropped-odd", lambda x: ops.rfft(x, 3)[0] - ops.rfft(x, 3)[1], N),
    grad_case("irfft", "", lambda r, i: ops.irfft((r, i)), N, N2),
    grad_case("irfft", "odd-length-cropped", lambda r, i: ops.irfft((r, i), 5), N, N2),
    grad_case("stft", "", lambda x: ops.stft(x, 4, 2, 6)[0] + ops.stft(x, 4, 2, 6)[1] * 0.5, SEQ.reshape(2, 12)),
    grad_case("stft", "no-center-hamming", lambda x: ops.stft(x, 5, 3, 5, window="hamming", center=False)[1],
              SEQ.reshape(2, 12)),
    grad_case("istft", "", lambda r, i: ops.istft((r, i), 4, 2, 6), SEQ.reshape(2, 3, 4), SEQ[::-1].reshape(2, 3, 4)),
    grad_case("istft", "no-window-length", lambda r, i: ops.istft((r, i), 4, 2, 4, length=5, window=None, center=False),
              SEQ.reshape(2, 4, 3), SEQ[::-1].reshape(2, 4, 3)),
    grad_case("eigh", "", lambda x: ops.concatenate([ops.eigh(x + ops.transpose(x))[0],
                                                     ops.ravel(ops.eigh(x + ops.transpose(x))[1] ** 2)]), N[:, :3]),
]

# Functions with nothing to differentiate: comparisons, indices, creation, metadata.
NO_GRADIENT = {
    "floor", "ceil", "trunc", "round", "sign", "isnan", "isinf", "isfinite", "logical_not", "logical_and", "logical_or",
    "logical_xor", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "isclose", "floor_divide",
    "argmax", "argmin", "argsort", "any", "all", "count_nonzero", "one_hot", "multi_hot", "zeros", "ones", "empty",
    "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye", "identity", "tri", "shape", "ndim",
    "size", "dtype", "is_tensor", "convert_to_numpy", "stop_gradient", "in_top_k",
    "searchsorted", "digitize", "isin", "nonzero", "eig", "ctc_decode",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert", "bitwise_not", "left_shift", "right_shift",
    "bitwise_left_shift", "bitwise_right_shift",
}


@pytest.mark.parametrize("name, f, inputs", GRADIENTS)
def test_gradient(name, f, inputs):
    tape_gradcheck(f, *inputs)


def test_every_differentiable_function_is_gradient_checked():
    checked = {p.values[0] for p in GRADIENTS}
    assert set(_keras_ops.__all__) - NO_GRADIENT - checked == set()


COMPOSITES = [
    # a custom loss, as Keras 3 examples write it
    pytest.param(lambda p, t: ops.mean(ops.square(t - p)), (N, N2), id="mse"),
    # a VAE's KL term
    pytest.param(lambda m, lv: -0.5 * ops.mean(ops.sum(1 + lv - ops.square(m) - ops.exp(lv), axis=1)), (N, N2 * 0.3),
                 id="kl"),
    # a dense layer and a loss on its output
    pytest.param(lambda x, w, b: ops.mean(ops.log_softmax(ops.tanh(ops.dot(x, w) + b)) * np.eye(3)[[0, 2, 1]]),
                 (N, W43, N2[0, :3]), id="dense-softmax"),
    # shapes and products together
    pytest.param(lambda a, b: ops.logsumexp(ops.concatenate([a, ops.flip(b, 0)], axis=0) * 2, axis=0)
                 + ops.einsum("ij,ij->j", a, ops.sigmoid(b)), (N, N2), id="concat-logsumexp-einsum"),
    # attention from ops
    pytest.param(lambda q, k: ops.sum(ops.softmax(ops.einsum("bij,bkj->bik", q, k) / 2.0, axis=-1)
                                      * ops.expand_dims(ops.arange(3, dtype="float64"), 0), axis=1),
                 (SEQ, SEQ[::-1]), id="scores"),
    # a value used several times, with where and clip
    pytest.param(lambda x: ops.where(x > 0, ops.sqrt(ops.abs(x) + 1), ops.clip(x * x, 0.0, 0.5)) * x, (AWAY,),
                 id="where"),
]


@pytest.mark.parametrize("f, inputs", COMPOSITES)
def test_composite_expression_gradients(f, inputs):
    tape_gradcheck(f, *inputs)


def test_float32_stays_float32_on_the_tape(rng):
    x = Tensor(rng.standard_normal((3, 4)).astype(np.float32))
    y = ops.mean(ops.square(ops.tanh(x) - 0.5)) + ops.sum(ops.softmax(x * 2.0)) + ops.norm(x)
    assert y.dtype == np.float32
    assert ad.grad(y, [x])[0].dtype == np.float32
    assert ops.exp(Tensor(np.arange(3))).dtype == np.float32  # integers computed as floatx


def test_functions_without_gradient_are_constants_on_the_tape():
    x = Tensor(np.array([[0.3, -1.2], [2.5, 0.7]]))
    y = ops.sum(x * ops.floor(x) + ops.argmax(x, axis=1)
                + ops.stop_gradient(x) * ops.cast(ops.greater(x, 0), "float64"))
    np.testing.assert_array_equal(ad.grad(y, [x])[0], np.floor(x.value))


# ---- symbolic tensors of the functional API -------------------------------------------------------


def test_ops_on_symbolic_tensors_are_graph_layers(rng):
    inp = Input(shape=(4,))
    a, b = ops.split(inp, 2, axis=-1)
    out = ops.concatenate([ops.square(a), ops.max(b, axis=-1, keepdims=True), ops.matmul(inp, np.ones((4, 1)))],
                          axis=-1)
    assert isinstance(a, KerasTensor) and a.shape == (None, 2)
    assert isinstance(out, KerasTensor) and out.shape == (None, 4)
    assert ops.shape(out) == (None, 4) and ops.ndim(out) == 2 and ops.size(out) is None
    positive = inp > 0  # an ordering comparison of tensors is elementwise, as Keras's
    assert isinstance(positive, KerasTensor) and positive.shape == (None, 4)
    model = Model(inp, ops.softmax(out, axis=-1))
    names = [layer.function_name for layer in model.layers if hasattr(layer, "function_name")]
    assert {"ops.concatenate", "ops.square", "ops.max", "ops.softmax", "ops.matmul"} <= set(names)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    want = softmax(np.concatenate([x[:, :2] ** 2, x[:, 2:].max(-1, keepdims=True), x.sum(-1, keepdims=True)], -1))
    assert_close(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6, what="symbolic ops model")


def test_symbolic_ops_model_gradients_and_round_trip(float64_numpy, tmp_path):
    fastnn.set_random_seed(3)
    inp = Input(shape=(4,))
    h = Dense(3, activation="tanh")(inp)
    mixed = ops.concatenate([h, ops.expand_dims(ops.logsumexp(h, axis=-1), -1),
                             ops.einsum("bi,bi->b", inp, ops.flip(inp, axis=1))[:, None]], axis=1)
    model = Model(inp, Dense(2)(ops.tanh(mixed) * ops.sigmoid(ops.sum(inp, axis=-1, keepdims=True))))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    model_gradcheck(model, x, y)
    model.save(tmp_path / "ops.fastnn")
    again = load_model(tmp_path / "ops.fastnn")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- in models: custom losses, Lambdas, custom layers ----------------------------------------


def data(n=48, f=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, f)).astype(np.float32)
    return x, (np.tanh(x[:, :2]) * 0.5 + 0.1).astype(np.float32)


def small_model(seed=3):
    fastnn.set_random_seed(seed)
    return Sequential([Dense(8, activation="tanh", input_shape=(5,)), Dense(2)])


def ops_mse(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def test_custom_loss_with_ops_trains_like_the_builtin():
    x, y = data()
    histories, weights = [], []
    for loss in ("mse", ops_mse):
        model = small_model()
        model.compile("sgd", loss)
        histories.append(model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0).history["loss"])
        weights.append(model.get_weights())
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
    assert histories[1][-1] < histories[1][0]
    for a, b in zip(*weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_keras_3_style_scalar_loss_trains_and_its_gradient_is_right():
    def loss(y_true, y_pred):  # one number per batch, as Keras 3 examples often write it
        return ops.mean(ops.square(y_true - y_pred)) + 0.01 * ops.mean(ops.abs(y_pred))

    x, y = data()
    model = small_model()
    model.compile(fastnn.optimizers.Adam(0.01), loss)
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.7 * history[0]
    wrapper = fastnn.losses.LossFunctionWrapper(loss)
    rng = np.random.default_rng(2)
    t, p = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    g = wrapper.gradient(t, p)
    gradcheck(lambda: wrapper(t, p), [p], [g], what="ops loss")


def test_lambda_with_ops_gradients(float64_numpy):
    fastnn.set_random_seed(1)
    inp_a, inp_b = Input(shape=(3,)), Input(shape=(3,))
    joined = Lambda(lambda ab: ops.stack([ops.einsum("bi,bi->b", ab[0], ab[1]), ops.norm(ab[0] - ab[1], axis=-1)],
                                         axis=-1))([inp_a, inp_b])
    spread = Lambda(lambda t: ops.concatenate([t, ops.square(t), ops.log_softmax(t)], axis=-1))(Dense(2)(inp_a))
    model = Model([inp_a, inp_b], Dense(1)(ops.concatenate([joined, spread], axis=-1)))
    assert model.output_shape == (None, 1)
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    model_gradcheck(model, [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))], rng.standard_normal((5, 1)))


class Linear(Layer):
    """Keras 3's "making new layers" example: ``ops.matmul(inputs, self.w) + self.b``."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.relu(ops.matmul(inputs, self.w) + self.b) - 0.1 * ops.relu(-ops.matmul(inputs, self.w))


def test_keras_3_custom_layer_with_ops_matmul(float64_numpy):
    fastnn.set_random_seed(0)
    layer = Linear(3)
    x = np.random.default_rng(0).standard_normal((4, 5))
    layer_gradcheck(layer, x)
    assert [w.shape for w in layer.trainable_weights] == [(5, 3), (3,)]


def test_custom_layer_with_ops_matmul_on_sequences_in_a_functional_model(float64_numpy):
    """Shape inference runs ``call`` on tensors like a real call, so ``ops.matmul`` of a 3-D input
    is the batched product there too (it raised the 2-D kernel's ValueError before)."""
    fastnn.set_random_seed(0)
    inp = Input(shape=(7, 5))
    layer = Linear(3)
    model = Model(inp, layer(inp))
    model.compile(optimizer="sgd", loss="mse")
    assert model.output_shape == (None, 7, 3)
    x = np.random.default_rng(1).standard_normal((2, 7, 5))
    z = x @ layer.w
    assert_close(model.predict(x, verbose=0), np.maximum(z, 0) - 0.1 * np.maximum(-z, 0), rtol=1e-12, atol=1e-12)
    model_gradcheck(model, x, np.random.default_rng(2).standard_normal((2, 7, 3)))


# ---- keras.random ------------------------------------------------------------------------------


def test_random_is_a_submodule_that_does_not_shadow_the_standard_library():
    import random as stdlib_random

    assert fastnn.random is krandom and krandom.__name__ == "fastnn.random"
    assert stdlib_random.__name__ == "random" and callable(stdlib_random.random)
    assert "random" in fastnn.__all__


def test_normal_and_uniform_values_dtypes_and_int_seeds():
    a = krandom.normal((2000,), mean=2.0, stddev=0.5, seed=3)
    assert a.dtype == np.float32 and a.shape == (2000,)
    assert abs(a.mean() - 2.0) < 0.05 and abs(a.std() - 0.5) < 0.05
    np.testing.assert_array_equal(a, krandom.normal((2000,), mean=2.0, stddev=0.5, seed=3))  # an int: a fixed draw
    np.testing.assert_array_equal(a, np.random.default_rng(3).normal(2.0, 0.5, 2000).astype(np.float32))
    assert not np.array_equal(a, krandom.normal((2000,), mean=2.0, stddev=0.5, seed=4))
    u = krandom.uniform((50, 40), minval=-1.0, maxval=3.0, dtype="float64", seed=1)
    assert u.dtype == np.float64 and u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1) < 0.1
    r = krandom.randint((1000,), 2, 5, seed=0)
    assert r.dtype == np.int32 and set(np.unique(r)) == {2, 3, 4}
    t = krandom.truncated_normal((4000,), mean=1.0, stddev=2.0, seed=0)
    assert t.dtype == np.float32 and t.min() >= -3 and t.max() <= 5 and abs(t.mean() - 1) < 0.1
    assert abs(t.std() - 2 * 0.8796) < 0.1  # a normal truncated at two standard deviations
    assert krandom.gamma((3000,), 2.0, seed=0).mean() == pytest.approx(2.0, abs=0.1)
    assert krandom.binomial((3000,), 10, 0.3, seed=0).mean() == pytest.approx(3.0, abs=0.1)
    assert krandom.beta((3000,), 2.0, 6.0, seed=0).mean() == pytest.approx(0.25, abs=0.02)


def test_seed_none_draws_from_set_random_seeds_generator():
    from fastnn import backend as K

    fastnn.set_random_seed(5)
    a = krandom.normal((3, 2))
    b = krandom.normal((3, 2))
    fastnn.set_random_seed(5)
    np.testing.assert_array_equal(krandom.normal((3, 2)), a)
    assert not np.array_equal(a, b)
    fastnn.set_random_seed(5)
    np.testing.assert_array_equal(K.random_normal((3, 2)), a)  # the same generator as Keras 2's backend


def test_seed_generator_streams():
    gen = krandom.SeedGenerator(42)
    a, b = krandom.normal((4,), seed=gen), krandom.normal((4,), seed=gen)
    assert not np.array_equal(a, b)  # a new draw at each call
    again = krandom.SeedGenerator(42)
    np.testing.assert_array_equal(krandom.normal((4,), seed=again), a)  # the same sequence
    np.testing.assert_array_equal(krandom.normal((4,), seed=again), b)
    assert int(gen.state[1]) == 2
    other = krandom.SeedGenerator(43)
    assert not np.array_equal(krandom.normal((4,), seed=other), a)
    # seed None: drawn from the global generator, so reproducible under set_random_seed
    fastnn.set_random_seed(0)
    first = krandom.uniform((3,), seed=krandom.SeedGenerator())
    fastnn.set_random_seed(0)
    np.testing.assert_array_equal(krandom.uniform((3,), seed=krandom.SeedGenerator()), first)
    config = gen.get_config()
    assert config["seed"] == 42
    np.testing.assert_array_equal(krandom.normal((4,), seed=krandom.SeedGenerator.from_config(config)), a)


def test_dropout_shuffle_categorical():
    x = np.ones((200, 50), np.float32)
    y = krandom.dropout(x, 0.25, seed=0)
    assert y.dtype == np.float32 and set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    shared = krandom.dropout(x, 0.5, noise_shape=(None, 1), seed=1)  # one draw per row
    assert np.all((shared == 0).all(axis=1) | (shared != 0).all(axis=1))
    leaf = Tensor(np.arange(12.0).reshape(3, 4))
    out = krandom.dropout(leaf, 0.5, seed=krandom.SeedGenerator(3))
    grad = ad.grad(out, [leaf])[0]
    np.testing.assert_array_equal(grad, (out.value != 0) * 2.0)
    rows = np.arange(20.0).reshape(10, 2)
    s = krandom.shuffle(rows, seed=0)
    assert sorted(s[:, 0].tolist()) == rows[:, 0].tolist() and not np.array_equal(s, rows)
    np.testing.assert_array_equal(s[:, 1] - s[:, 0], np.ones(10))  # whole rows move
    cols = krandom.shuffle(rows.T, axis=1, seed=0)
    np.testing.assert_array_equal(cols, s.T)
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.0001, 0.0001, 0.9998]]))
    c = krandom.categorical(logits, 5000, seed=0)
    assert c.shape == (2, 5000) and c.dtype == np.int32
    np.testing.assert_allclose(np.bincount(c[0], minlength=3) / 5000, [0.7, 0.2, 0.1], atol=0.02)
    assert (c[1] == 2).mean() > 0.99


@pytest.mark.parametrize("call, message", [
    (lambda: krandom.normal((None, 2)), r"fastnn.random.normal: the shape \(None, 2\) has an unknown \(None\) size"),
    (lambda: krandom.normal(ops.shape(Input(shape=(3,)))), r"normal: the shape \(None, 3\).*inside the layer"),
    (lambda: krandom.uniform((2,), dtype="int32"), "fastnn.random.uniform requires a floating point dtype"),
    (lambda: krandom.randint((2,), 0, 3, dtype="float32"), "fastnn.random.randint requires an integer dtype"),
    (lambda: krandom.randint((2,), 3, 3), "randint: maxval must be greater than minval"),
    (lambda: krandom.normal((2,), seed="abc"), "fastnn.random.normal: seed must be None, an int or a SeedGenerator"),
    (lambda: krandom.normal((2, -1)), "fastnn.random.normal: shape must be non-negative ints"),
    (lambda: krandom.SeedGenerator(1.5), "SeedGenerator: the seed must be an int or None"),
    (lambda: krandom.dropout(np.ones(3), 1.0), r"fastnn.random.dropout: rate must be in \[0, 1\)"),
    (lambda: krandom.dropout(Input(shape=(3,)), 0.5), "fastnn.random.dropout: the inputs are a symbolic tensor"),
    (lambda: krandom.categorical(np.ones(3), 2), "fastnn.random.categorical: logits must be 2-D"),
])
def test_random_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


class Sampling(Layer):
    """Keras 3's VAE example's layer: z = z_mean + exp(z_log_var / 2) * epsilon."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = fastnn.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = fastnn.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class FixedSampling(Layer):
    """The same with an int seed: the same noise at every call (a fixed function, to check gradients)."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return z_mean + ops.exp(0.5 * z_log_var) * fastnn.random.normal(shape=ops.shape(z_mean), seed=7)


def vae(seed, sampling=None, original=6, latent=2):
    fastnn.set_random_seed(seed)
    inputs = Input(shape=(original,))
    h = Dense(5, activation="relu")(inputs)
    z_mean, z_log_var = Dense(latent, name="z_mean")(h), Dense(latent, name="z_log_var")(h)
    z = (sampling or Sampling())([z_mean, z_log_var])
    outputs = Dense(original, activation="sigmoid")(Dense(4, activation="relu")(z))
    model = Model(inputs, outputs)
    kl = -0.5 * ops.mean(ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
    model.add_loss(kl)
    model.compile("adam", lambda t, p: ops.mean(ops.binary_crossentropy(t, p), axis=-1) * original)
    return model


def binary_data(n=64, d=6):
    return (np.random.default_rng(0).random((n, d)) < np.linspace(0.1, 0.9, d)).astype(np.float32)


def test_vae_sampling_layer_trains_and_is_reproducible():
    x = binary_data()
    runs = []
    for seed in (3, 3, 4):
        model = vae(seed)
        sampling = next(layer for layer in model.layers if isinstance(layer, Sampling))
        assert int(sampling.seed_generator.state[1]) == 0  # building the graph drew nothing from the stream
        history = model.fit(x, x, epochs=6, batch_size=16, verbose=0).history["loss"]
        assert int(sampling.seed_generator.state[1]) == 6 * 4  # one draw per training step
        runs.append((history, model.get_weights()))
    (h1, w1), (h2, w2), (h3, _) = runs
    assert h1[-1] < h1[0]
    assert h1 == h2 and all(np.array_equal(a, b) for a, b in zip(w1, w2))  # set_random_seed: the same run
    assert h3 != h1
    # a fixed sampling seed: the same noise stream, whatever set_random_seed gave the weights
    m1, m2 = vae(3, Sampling(1337)), vae(4, Sampling(1337))
    enc = [Model(m.inputs, m.get_layer("z_mean").output) for m in (m1, m2)]
    assert not np.array_equal(enc[0].predict(x, verbose=0), enc[1].predict(x, verbose=0))


def test_vae_gradients_with_a_fixed_noise(float64_numpy):
    model = vae(2, FixedSampling())
    model_gradcheck(model, binary_data(5).astype(np.float64), binary_data(5).astype(np.float64))


def test_sampling_draws_new_noise_each_call_and_shape_inference_draws_none():
    layer = Sampling(11)
    out = layer([Input(shape=(3,)), Input(shape=(3,))])
    assert out.shape == (None, 3) and int(layer.seed_generator.state[1]) == 0
    z = np.zeros((4, 3), np.float32)
    first, second = layer([z, z]), layer([z, z])
    assert first.shape == (4, 3) and not np.array_equal(first, second)
    replay = Sampling(11)
    np.testing.assert_array_equal(replay([z, z]), first)


# ---- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: ops.reshape(np.ones(6), (4, 2)), r"^ops.reshape: cannot reshape array of size 6 into shape \(4,2\) "
                                              r"\(argument shapes: \(6,\)\)$"),
    (lambda: ops.reshape(np.ones(6), (None, 2)), r"ops.reshape: newshape \(None, 2\) has a None entry"),
    (lambda: ops.concatenate(np.ones((2, 3))), "ops.concatenate: xs must be a list or tuple of tensors"),
    (lambda: ops.concatenate([np.ones((2, 3)), np.ones((2, 2))]), "ops.concatenate: .*dimensions.*must match"),
    (lambda: ops.transpose(A, (0, 0)), r"ops.transpose: axes \(0, 0\) is not a permutation of the 2 axes"),
    (lambda: ops.mean(A, axis=2), "ops.mean: .*axis 2 is out of range for a tensor of rank 2"),
    (lambda: ops.split(np.ones(5), 2), "ops.split: an axis of size 5 cannot be split into 2 equal sections"),
    (lambda: ops.split(Input(shape=(3,)), 2), "ops.split: axis 0 has an unknown size"),
    (lambda: ops.take(A, [1.5]), "ops.take: indices must be integers"),
    (lambda: ops.take(A, [7]), "ops.take: .*out of bounds"),
    (lambda: ops.einsum("ij,jk->ik", A), "ops.einsum: the subscripts 'ij,jk->ik' name 2 operands; 1 were given"),
    (lambda: ops.einsum("ii->i", Tensor(np.eye(2))), "ops.einsum: the operand 'ii' repeats an index"),
    (lambda: ops.tensordot(A, B, axes=([1], [0])), r"ops.tensordot: the contracted axes do not match"),
    (lambda: ops.dot(A, B), r"ops.dot: .*argument shapes: \(2, 3\), \(2, 3\)"),
    (lambda: ops.norm(A, ord="fro", axis=1), "ops.norm: ord 'fro' is a matrix norm"),
    (lambda: ops.norm(Tensor(A), ord="nuc"), "ops.norm: the matrix norm ord='nuc' .*has no gradient"),
    (lambda: ops.normalize(A, order=0), "ops.normalize: order must be an int >= 1"),
    (lambda: ops.pad(Tensor(A), 1, mode="mean"), "ops.pad: mode 'mean' has no gradient here"),
    (lambda: ops.pad(A, 1, mode="edge", constant_values=1), "ops.pad: constant_values is for mode 'constant' only"),
    (lambda: ops.where(M, A), "ops.where: x1 and x2 must both be given, or neither"),
    (lambda: ops.convert_to_numpy(Input(shape=(2,))), "ops.convert_to_numpy: a symbolic tensor .* has no value"),
    (lambda: ops.cond(Input(shape=(1,)), lambda: 1, lambda: 2), "ops.cond: the predicate is a symbolic tensor"),
    (lambda: ops.sparse_categorical_crossentropy([0], A[:1], axis=0), "only the last axis can hold the classes"),
    (lambda: ops.dot_product_attention(A, A, A), "ops.dot_product_attention: query, key and value must be 4-D"),
    (lambda: ops.exp("a"), "ops.exp: expected a tensor, an array or numbers"),
    (lambda: ops.zeros((2, -1)), "ops.zeros: negative dimensions"),
    # (where Python slicing would give a plausible, wrong result)
    (lambda: ops.top_k(np.arange(5.0), -1), r"ops.top_k: k must be an integer in \[0, 5\]"),
    (lambda: ops.top_k(np.arange(5.0), 10), r"ops.top_k: k must be an integer in \[0, 5\]"),
    (lambda: ops.slice(np.ones((2, 3)), (0, 2), (2, 5)), "ops.slice: the block does not fit .* on axis 1"),
    (lambda: ops.one_hot([0, 1], -2), "ops.one_hot: num_classes must be a non-negative integer"),
    (lambda: ops.sparse_categorical_crossentropy([0, -1], A), r"y_true must be integer class indices in \[0, 3\)"),
])
def test_bad_arguments_raise_errors_naming_the_function(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_errors_of_the_functions_given_to_control_flow_pass_through():
    def broken(*args):
        raise TypeError("my bug")

    for call in (lambda: ops.cond(True, broken, broken), lambda: ops.fori_loop(0, 2, broken, A),
                 lambda: ops.while_loop(lambda v: True, broken, A), lambda: ops.map(broken, A),
                 lambda: ops.scan(broken, 0.0, A)):
        with pytest.raises(TypeError, match="^my bug$"):
            call()


# ---- a Keras 3 script, ported by changing its imports -------------------------------------------

KERAS_3_SCRIPT = r'''
import numpy as np
import keras
from keras import layers
from keras import ops


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Linear(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


def custom_loss(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1) + 0.01 * ops.mean(ops.abs(y_pred), axis=-1)


keras.utils.set_random_seed(1)
x = np.random.rand(256, 4).astype("float32")
y = (x.sum(axis=1, keepdims=True) > 2).astype("float32")

inputs = keras.Input(shape=(4,))
h = layers.Lambda(lambda t: ops.relu(t))(Linear(16)(inputs))
z_mean = layers.Dense(2, name="z_mean")(h)
z_log_var = layers.Dense(2, name="z_log_var")(h)
z = Sampling()([z_mean, z_log_var])
features = ops.concatenate([h, z, ops.sum(ops.square(z), axis=-1, keepdims=True)], axis=-1)
outputs = layers.Dense(1)(features)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=custom_loss)
history = model.fit(x, y, batch_size=32, epochs=15, verbose=0)

predictions = model.predict(x[:4], verbose=0)
score = float(keras.ops.sigmoid(predictions[0][0]))
probabilities = ops.convert_to_numpy(ops.sigmoid(predictions))
label = int(ops.argmax(ops.concatenate([1 - probabilities, probabilities], axis=1)[0]))
print(f"loss {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}")
print(f"score {score:.4f}, label {label}")
'''


def port(script):
    """Rewrite a Keras script's imports, and nothing else, to fastnn's."""
    out = []
    for line in script.splitlines():
        if re.match(r"\s*(from|import)\s+keras\b", line):
            line = re.sub(r"^import keras\b", "import fastnn as keras", line)
            line = re.sub(r"^from keras\b", "from fastnn", line)
        out.append(line)
    return "\n".join(out)


def test_ported_keras_3_script(capsys):
    ported = port(KERAS_3_SCRIPT)
    assert "from fastnn import ops" in ported and "import fastnn as keras" in ported
    runs = []
    for _ in range(2):
        fastnn.clear_session()
        namespace = {"__name__": "__main__"}
        exec(compile(ported, "<keras 3 script>", "exec"), namespace)
        runs.append((namespace, capsys.readouterr().out))
    (ns, out), (ns2, out2) = runs
    losses = ns["history"].history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert isinstance(ns["score"], float) and 0 < ns["score"] < 1
    probabilities = ns["probabilities"]
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (4, 1)
    assert_close(probabilities, sigmoid(ns["predictions"]), rtol=1e-6, atol=1e-7, what="probabilities")
    assert ns["label"] == int(probabilities[0, 0] > 0.5)
    assert re.search(r"^score 0\.\d{4}, label [01]$", out, re.M)
    assert out == out2  # set_random_seed and the SeedGenerator: the same run again


def test_constant_arrays_in_graph_ops_and_lambda_arguments_are_saved(tmp_path):
    # Keras 3 writes an array argument into the config ("__numpy__"); so does fastnn
    inp = Input(shape=(4,))
    w = (np.arange(8).reshape(4, 2) / 10).astype(np.float32)
    offset = np.array([1, -1], dtype=np.int64)

    def scale(t, factor):
        return t * factor

    out = ops.matmul(inp, w) + offset
    scaled = Lambda(scale, arguments={"factor": np.array([1.0, 2.0], np.float64)})(out)
    model = Model(inp, scaled)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras", custom_objects={"scale": scale})
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(model.predict(x, verbose=0), (x @ w + offset) * [1.0, 2.0], rtol=1e-5, atol=1e-6)
    factor = next(layer for layer in again.layers if isinstance(layer, Lambda)
                  and not hasattr(layer, "function_name")).arguments["factor"]
    assert factor.dtype == np.float64 and factor.tolist() == [1.0, 2.0]


def test_lambda_keeps_integer_and_boolean_results():
    # Keras's Lambda returns what the function returns: K.argmax gives integers (here fed to an
    # Embedding), a comparison booleans; float results take the layer's dtype
    inp = Input(shape=(5,))
    index = Lambda(lambda t: ops.argmax(t, axis=-1))(inp)
    flags = Lambda(lambda t: t > 0)(inp)
    model = Model(inp, [index, flags, Dense(2)(fastnn.layers.Embedding(5, 3)(index))])
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    i, f, e = model.predict(x, verbose=0)
    assert i.dtype.kind == "i" and f.dtype == bool and e.dtype == np.float32
    np.testing.assert_array_equal(i, np.argmax(x, axis=-1))
    np.testing.assert_array_equal(f, x > 0)
    assert Lambda(lambda t: t * 2)(x).dtype == np.float32


def test_relu_family_slopes_at_the_kinks_are_tensorflows():
    # TensorFlow's gradients: relu6 takes 1 on 0 < x < 6 (0 at both kinks), leaky_relu alpha at x <= 0
    import fastnn

    x = fastnn.Variable(np.array([0.0, 6.0, -1.0, 3.0, 7.0]))
    for f, want in [(fastnn.nn.relu6, [0, 0, 0, 1, 0]), (fastnn.keras.ops.relu6, [0, 0, 0, 1, 0]),
                    (lambda t: fastnn.nn.leaky_relu(t, alpha=0.2), [0.2, 1, 0.2, 1, 1]),
                    (fastnn.keras.ops.leaky_relu, [0.2, 1, 0.2, 1, 1]), (fastnn.nn.relu, [0, 1, 0, 1, 1])]:
        with fastnn.GradientTape() as tape:
            y = fastnn.reduce_sum(f(x))
        np.testing.assert_allclose(tape.gradient(y, x), want)
