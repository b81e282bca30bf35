"""Tests of fastnn.autodiff: Keras 2's backend functions (``K.mean``, ``K.exp``...) on NumPy
arrays (eager), on `autodiff.Tensor` (the reverse-mode tape) and, briefly, on the functional API's
symbolic tensors.

* every differentiable function: ``grad`` against central finite differences in float64, with
  a random seed, on inputs kept away from kinks and ties (`gradcheck`);
* every function: its value on plain arrays against a NumPy expression (and a plain array back);
* the tape itself: values used twice, leaves not reached, Python's operators (reflected too);
* float32 stays float32, values and gradients;
* Keras semantics: clipping in the cross-entropies, rescaling in categorical_crossentropy.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import autodiff as ad
from fastnn import backend as K
from fastnn.layers.base import KerasTensor

from helpers import assert_close

Tensor = ad.Tensor

# Functions with no gradient to check (metadata, constants, random values, or gradient 0).
NO_GRAD = {
    "shape", "int_shape", "ndim", "dtype", "epsilon", "floatx", "count_params", "random_normal",
    "random_uniform", "zeros", "ones", "zeros_like", "ones_like", "stop_gradient", "cast_to_floatx",
    "sign", "round", "get_value", "set_value", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "argmax", "argmin", "one_hot", "any", "all", "constant", "variable",
}


# ---- finite-difference check ---------------------------------------------------------------------


def gradcheck(f, inputs, rng, eps=1e-6, rtol=1e-5, atol=1e-6):
    """Check ``grad`` of ``f(*Tensors)`` against central differences of ``f(*arrays)`` in float64.

    ``f`` must accept plain arrays too (the backend functions and NumPy's operators); its value
    on Tensors must equal its value on arrays, which must not be a Tensor.
    """
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    leaves = [Tensor(x.copy()) for x in xs]
    y = f(*leaves)
    assert isinstance(y, Tensor), f"f returned {type(y).__name__} for Tensor inputs"
    eager = f(*xs)
    assert not isinstance(eager, Tensor), "f returned a Tensor for plain-array inputs"
    assert_close(y.value, eager, rtol=1e-12, atol=1e-12, what="tape value vs eager value")
    assert y.dtype == np.float64

    # a seed with mixed signs and magnitudes, so that a gradient summed over the wrong axis or
    # routed to the wrong element shows
    seed = rng.uniform(0.5, 1.5, size=y.shape) * rng.choice([-1.0, 1.0], size=y.shape)
    grads = ad.grad(y, leaves, seed=seed)
    assert len(grads) == len(xs)

    def objective(args):
        return float(np.sum(seed * np.asarray(f(*args))))

    for i, (x, g) in enumerate(zip(xs, grads)):
        g = np.asarray(g)
        assert g.shape == x.shape, f"gradient {i}: shape {g.shape}, input shape {x.shape}"
        assert g.dtype == np.float64, f"gradient {i}: dtype {g.dtype}"
        num = np.empty_like(x)
        for idx in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[idx] += eps
            minus[idx] -= eps
            num[idx] = (objective(xs[:i] + [plus] + xs[i + 1:]) - objective(xs[:i] + [minus] + xs[i + 1:])) / (2 * eps)
        assert_close(g, num, rtol=rtol, atol=atol, what=f"gradient of input {i} vs finite differences",
                     context=f"input shapes {[x.shape for x in xs]}")


# ---- input generators (each takes the test's rng) ---------------------------------------------


def normal(*shape, scale=1.0):
    return lambda r: r.normal(scale=scale, size=shape)


def uniform(low, high, *shape):
    return lambda r: r.uniform(low, high, size=shape)


def away(points, *shape, margin=0.15, scale=1.5):
    """Normal values at least ``margin`` from each of ``points`` (kinks of abs, relu, clip...)."""

    def make(r):
        x = r.normal(scale=scale, size=shape)
        while True:
            bad = np.zeros(x.shape, bool)
            for p in points:
                bad |= np.abs(x - p) < margin
            if not bad.any():
                return x
            x[bad] = r.normal(scale=scale, size=int(bad.sum()))

    return make


def distinct(*shape):
    """Values pairwise at least ~0.06 apart (no ties for max/min)."""

    def make(r):
        n = int(np.prod(shape))
        return ((r.permutation(n) - n / 2) * 0.1 + r.uniform(-0.02, 0.02, n)).reshape(shape)

    return make


def constant(value):
    return lambda r: np.array(value, dtype=np.float64)


def soft_targets(*shape):
    """Rows of non-negative targets summing to 1 along the last axis."""

    def make(r):
        t = r.uniform(0.1, 1.0, size=shape)
        return t / t.sum(axis=-1, keepdims=True)

    return make


def separated_pair(name, sa, sb):
    """Inputs (a, b) of shapes ``sa``, ``sb`` suited to the binary function ``name``: b away from
    0 for divide, a positive for pow, |a - b| >= 0.1 wherever they meet for maximum/minimum."""

    def make(r):
        while True:
            a = r.normal(scale=1.5, size=sa)
            b = r.normal(scale=1.5, size=sb)
            if name == "pow":
                a = r.uniform(0.5, 2.0, size=sa)
                b = r.normal(scale=0.8, size=sb)
            if name == "divide" and np.any(np.abs(b) < 0.3):
                continue
            if name in ("maximum", "minimum") and np.any(np.abs(a - b) < 0.1):
                continue
            return a, b

    return make


# ---- gradient checks ---------------------------------------------------------------------------


def case(fn, label, f, *gens, marks=()):
    """A gradient-check case for the backend function ``fn`` (``label`` tells cases apart)."""
    return pytest.param(fn, f, gens, id=f"{fn}-{label}" if label else fn, marks=marks)


CASES = [
    # elementwise
    case("exp", "", K.exp, normal(3, 4)),
    case("log", "", K.log, uniform(0.2, 3.0, 3, 4)),
    case("sqrt", "", K.sqrt, uniform(0.2, 3.0, 3, 4)),
    case("square", "", K.square, normal(3, 4)),
    case("abs", "", K.abs, away([0], 3, 4)),
    case("negative", "", K.negative, normal(3, 4)),
    case("sin", "", K.sin, normal(3, 4)),
    case("cos", "", K.cos, normal(3, 4)),
    case("tanh", "", K.tanh, normal(3, 4)),
    case("sigmoid", "", K.sigmoid, normal(3, 4, scale=2.0)),
    case("softplus", "", K.softplus, normal(3, 4, scale=2.0)),
    case("relu", "plain", K.relu, away([0], 3, 4)),
    case("relu", "alpha", lambda x: K.relu(x, alpha=0.1), away([0], 3, 4)),
    case("relu", "max_value", lambda x: K.relu(x, max_value=1.0), away([0, 1], 3, 4)),
    case("relu", "all", lambda x: K.relu(x, alpha=0.2, max_value=1.5, threshold=0.5), away([0.5, 1.5], 4, 4)),
    case("clip", "", lambda x: K.clip(x, -0.5, 0.8), away([-0.5, 0.8], 4, 4)),
    case("cast", "", lambda x: K.cast(x, "float64"), normal(3, 4)),
    # softmax
    case("softmax", "last", K.softmax, normal(2, 3, 4)),
    case("softmax", "axis0", lambda x: K.softmax(x, axis=0), normal(2, 3, 4)),
    case("softmax", "axis1", lambda x: K.softmax(x, axis=1), normal(2, 3, 4)),
    # shapes
    case("reshape", "", lambda x: K.reshape(x, (4, -1)), normal(2, 3, 4)),
    case("batch_flatten", "", K.batch_flatten, normal(2, 3, 4)),
    case("flatten", "", K.flatten, normal(2, 3, 4)),
    case("expand_dims", "0", lambda x: K.expand_dims(x, 0), normal(3, 4)),
    case("expand_dims", "1", lambda x: K.expand_dims(x, 1), normal(3, 4)),
    case("expand_dims", "last", K.expand_dims, normal(3, 4)),
    case("squeeze", "1", lambda x: K.squeeze(x, 1), normal(3, 1, 4)),
    case("squeeze", "-1", lambda x: K.squeeze(x, -1), normal(1, 4, 1)),
    case("permute_dimensions", "", lambda x: K.permute_dimensions(x, (2, 0, 1)), normal(2, 3, 4)),
    case("permute_dimensions", "list", lambda x: K.permute_dimensions(x, [1, 2, 0]), normal(2, 3, 4)),
    # negative axes: the backward's inverse permutation once came out wrong for them
    case("permute_dimensions", "negative", lambda x: K.permute_dimensions(x, (-1, 0, -2)), normal(2, 3, 4)),
    case("transpose", "2d", K.transpose, normal(3, 4)),
    case("transpose", "3d", K.transpose, normal(2, 3, 4)),
    case("concatenate", "axis0", lambda a, b, c: K.concatenate([a, b, c], axis=0),
         normal(1, 3), normal(2, 3), normal(3, 3)),
    case("concatenate", "axis1", lambda a, b: K.concatenate([a, b], axis=1), normal(2, 1, 4), normal(2, 3, 4)),
    case("concatenate", "last", lambda a, b: K.concatenate([a, b]), normal(2, 3, 2), normal(2, 3, 1)),
    case("concatenate", "with-array", lambda a: K.concatenate([np.ones((2, 2)), a, np.zeros((2, 1))]), normal(2, 3)),
    case("concatenate", "same-twice", lambda a: K.concatenate([a, K.square(a), a], axis=0), normal(2, 3)),
    case("stack", "0", lambda a, b: K.stack([a, b]), normal(3, 4), normal(3, 4)),
    case("stack", "1", lambda a, b, c: K.stack([a, b, c], axis=1), normal(3, 4), normal(3, 4), normal(3, 4)),
    case("stack", "last", lambda a, b: K.stack([a, b], axis=-1), normal(3, 4), normal(3, 4)),
    # products
    case("dot", "2d", K.dot, normal(3, 4), normal(4, 5)),
    case("dot", "batched-3d", K.dot, normal(2, 3, 4), normal(2, 4, 5)),
    case("dot", "3d-2d", K.dot, normal(2, 3, 4), normal(4, 5)),
    case("dot", "2d-3d", K.dot, normal(3, 4), normal(2, 4, 5)),
    case("dot", "2d-1d", K.dot, normal(3, 4), normal(4)),
    case("dot", "3d-1d", K.dot, normal(2, 3, 4), normal(4)),
    case("dot", "1d-2d", K.dot, normal(4), normal(4, 5)),
    case("dot", "matmul-op", lambda a, b: a @ b, normal(3, 4), normal(4, 2)),
    case("dot", "1d-1d", K.dot, normal(4), normal(4)),  # a 0-d result
    case("dot", "1d-3d", K.dot, normal(4), normal(2, 4, 3)),  # the 1-D a against a batch of matrices
    case("batch_dot", "qk", lambda a, b: K.batch_dot(a, b, axes=[2, 2]), normal(2, 3, 4), normal(2, 5, 4)),
    case("batch_dot", "av", lambda a, b: K.batch_dot(a, b, axes=(2, 1)), normal(2, 3, 5), normal(2, 5, 4)),
    case("batch_dot", "default", K.batch_dot, normal(2, 3, 4), normal(2, 4, 2)),
    case("batch_dot", "axis1", lambda a, b: K.batch_dot(a, b, axes=1), normal(2, 3, 4), normal(2, 3, 5)),
    case("batch_dot", "2d", lambda a, b: K.batch_dot(a, b, axes=1), normal(3, 4), normal(3, 4)),
    case("batch_dot", "3d-2d", lambda a, b: K.batch_dot(a, b, axes=(2, 1)), normal(2, 3, 4), normal(2, 4)),
    case("batch_dot", "2d-3d", lambda a, b: K.batch_dot(a, b, axes=(1, 2)), normal(2, 4), normal(2, 3, 4)),
    # more Keras 2 backend functions
    case("l2_normalize", "last", lambda x: K.l2_normalize(x, axis=-1), normal(3, 4)),
    case("l2_normalize", "all", K.l2_normalize, normal(3, 4)),
    case("bias_add", "", K.bias_add, normal(2, 3, 4), normal(4)),
    case("switch", "", lambda a, b: K.switch(np.array([[True], [False], [True]]), a, b), normal(3, 4), normal(3, 4)),
    case("tile", "", lambda x: K.tile(x, (2, 3)), normal(2, 3)),
    case("tile", "int", lambda x: K.tile(x, 2), normal(2, 3)),
    case("tile", "more repeats than axes", lambda x: K.tile(x, (2, 1, 3)), normal(2, 3)),
    case("repeat_elements", "", lambda x: K.repeat_elements(x, 3, axis=1), normal(2, 3, 2)),
    case("gather", "repeated", lambda x: K.gather(x, np.array([2, 0, 2])), normal(3, 4)),
    case("cumsum", "", lambda x: K.cumsum(x, axis=1), normal(3, 4)),
    case("elu", "", lambda x: K.elu(x, alpha=0.7), away([0], 3, 4)),
    case("softsign", "", K.softsign, normal(3, 4)),
    case("hard_sigmoid", "", K.hard_sigmoid, away([-3, 3], 3, 4, scale=4.0)),
    # losses
    case("binary_crossentropy", "", K.binary_crossentropy, uniform(0, 1, 3, 4), uniform(0.05, 0.95, 3, 4)),
    case("binary_crossentropy", "logits", lambda t, x: K.binary_crossentropy(t, x, from_logits=True),
         uniform(0, 1, 3, 4), away([0], 3, 4, scale=2.0)),
    case("categorical_crossentropy", "", K.categorical_crossentropy, soft_targets(3, 4), uniform(0.5, 2.0, 3, 4)),
    case("categorical_crossentropy", "axis0", lambda t, p: K.categorical_crossentropy(K.transpose(t), p, axis=0),
         soft_targets(3, 4), uniform(0.5, 2.0, 4, 3)),
    case("categorical_crossentropy", "logits", lambda t, x: K.categorical_crossentropy(t, x, from_logits=True),
         soft_targets(3, 4), normal(3, 4, scale=2.0)),
    case("categorical_crossentropy", "logits-axis0",
         lambda t, x: K.categorical_crossentropy(t, x, from_logits=True, axis=0), normal(3, 2), normal(3, 2)),
    case("sparse_categorical_crossentropy", "", lambda p: K.sparse_categorical_crossentropy(np.array([2, 0, 3]), p),
         uniform(0.5, 2.0, 3, 4)),
    case("sparse_categorical_crossentropy", "logits-3d",
         lambda x: K.sparse_categorical_crossentropy(np.array([[1, 0], [2, 2]]), x, from_logits=True),
         normal(2, 2, 3)),
    # indexing (tensor[...]): basic slices, an int, fancy indices with repeats
    case("getitem", "int", lambda x: x[1], normal(3, 4)),
    case("getitem", "slices", lambda x: x[:, 1:3], normal(3, 4)),
    case("getitem", "negative-steps", lambda x: x[::-1, ::2], normal(3, 4)),
    case("getitem", "int-and-slice", lambda x: x[1:, -1], normal(3, 4, 2)),
    case("getitem", "ellipsis", lambda x: x[..., 0], normal(2, 3, 4)),
    case("getitem", "newaxis", lambda x: x[None, :, 1], normal(3, 4)),
    case("getitem", "fancy-repeated", lambda x: x[[0, 2, 0, 0]], normal(3, 4)),
    case("getitem", "fancy-2d-repeated", lambda x: x[np.array([[1, 1], [2, 1]]), 1:], normal(3, 4)),
    case("getitem", "fancy-column", lambda x: x[:, [3, 3, 1]], normal(3, 4)),
    case("getitem", "mask", lambda x: x[np.array([True, False, True])], normal(3, 4)),
    # compositions: a value used twice, a diamond, Keras-style losses
    case("composite", "used-twice", lambda x: x * x + K.exp(x), normal(3, 4)),
    case("composite", "diamond", lambda x: (lambda h: h * h + K.sin(h) - h / 3.0)(K.tanh(x)), normal(3, 4)),
    case("composite", "vae-kl", lambda m, lv: -0.5 * K.sum(1 + lv - K.square(m) - K.exp(lv), axis=-1),
         normal(2, 3), normal(2, 3)),
    case("composite", "normalize", lambda x: x / K.sqrt(K.sum(K.square(x), axis=-1, keepdims=True)), normal(3, 4)),
]


@pytest.mark.parametrize("fn, f, gens", CASES)
def test_gradient(fn, f, gens, rng):
    gradcheck(f, [g(rng) for g in gens], rng)


BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "pow")
BROADCAST_SHAPES = [
    ((4, 3), (4, 3)),
    ((4, 3), (3,)),
    ((3,), (4, 3)),
    ((4, 3), (4, 1)),
    ((4, 1), (1, 3)),
    ((2, 1, 3), (4, 1)),
    ((4, 3), ()),
    ((), (4, 3)),
]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient_broadcasts(name, shapes, rng):
    a, b = separated_pair(name, *shapes)(rng)
    gradcheck(getattr(K, name), [a, b], rng)


@pytest.mark.parametrize("const", ["float", "array"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient_with_constant(name, side, const, rng):
    """One operand a constant (a Python float, or an array the Tensor is broadcast against): the
    Tensor's gradient is summed back to its shape."""
    const_shape = () if const == "float" else (4, 3)
    tensor_shape = (4, 3) if const == "float" else (3,)
    if side == "left":
        c, x = separated_pair(name, const_shape, tensor_shape)(rng)
        c = float(c) if const == "float" else c
        gradcheck(lambda t: getattr(K, name)(c, t), [x], rng)
    else:
        x, c = separated_pair(name, tensor_shape, const_shape)(rng)
        c = float(c) if const == "float" else c
        gradcheck(lambda t: getattr(K, name)(t, c), [x], rng)


def test_pow_integer_exponent_on_negative_base(rng):
    gradcheck(lambda x: K.pow(x, 3), [rng.normal(size=(3, 4))], rng)
    gradcheck(lambda x: x ** 2, [rng.normal(size=(3, 4))], rng)


REDUCTIONS = ("sum", "mean", "max", "min", "var", "std", "logsumexp")
AXES = [None, 0, -1, (0, 2), (1, -1), [-3, -2, -1]]


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_gradient(name, axis, keepdims, rng):
    fn = getattr(K, name)
    gradcheck(lambda x: fn(x, axis=axis, keepdims=keepdims), [distinct(2, 3, 4)(rng)], rng)


def test_every_differentiable_function_is_gradient_checked():
    checked = {p.values[0] for p in CASES} | set(BINARY) | set(REDUCTIONS)
    missing = set(ad.FUNCTIONS) - NO_GRAD - checked
    assert not missing, f"no gradient check for {sorted(missing)}"


# ---- the tape ----------------------------------------------------------------------------------


def test_value_used_twice_exact_gradient(rng):
    x = Tensor(rng.normal(size=(3, 4)))
    y = x * x + K.exp(x)
    (g,) = ad.grad(y, [x])
    assert_close(g, 2 * x.value + np.exp(x.value), rtol=1e-12, atol=0)


def test_leaf_not_reached_gets_zeros(rng):
    x, unused = Tensor(rng.normal(size=(3,))), Tensor(rng.normal(size=(2, 5)))
    y = K.sum(K.square(x))
    gx, gu = ad.grad(y, [x, unused])
    assert_close(gx, 2 * x.value, rtol=1e-12, atol=0)
    assert gu.shape == (2, 5) and gu.dtype == np.float64 and not gu.any()


def test_stop_gradient_and_constant_like_values_block_the_gradient(rng):
    x = Tensor(rng.normal(size=(4,)))
    y = K.stop_gradient(x) * x + K.ones_like(x) * 3 + K.zeros_like(x)
    assert not isinstance(K.stop_gradient(x), Tensor)
    (g,) = ad.grad(y, [x])
    assert_close(g, x.value, rtol=1e-12, atol=0)
    # only reached through stop_gradient: zeros
    (g,) = ad.grad(K.sum(K.stop_gradient(x)) * Tensor(2.0), [x])
    assert not g.any()


def test_grad_of_intermediate_and_default_seed(rng):
    x = Tensor(rng.normal(size=(3,)))
    h = K.exp(x)
    y = K.sum(h * 2.0)
    gh, gx = ad.grad(y, [h, x])
    assert_close(gh, np.full(3, 2.0), rtol=0, atol=0)
    assert_close(gx, 2 * np.exp(x.value), rtol=1e-12, atol=0)
    # a non-scalar y with no seed: the gradient of sum(y)
    (g,) = ad.grad(K.square(x), [x])
    assert_close(g, 2 * x.value, rtol=1e-12, atol=0)


def test_deep_chain_does_not_recurse(rng):
    x = Tensor(np.array([0.5]))
    y = x
    for _ in range(3000):
        y = y * 1.0001
    (g,) = ad.grad(y, [x])
    assert_close(g, [1.0001 ** 3000], rtol=1e-9, atol=0)


def test_max_min_ties_share_the_gradient():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]))
    (g,) = ad.grad(K.max(x, axis=1), [x])
    assert_close(g, [[0, 0.5, 0.5], [0.5, 0, 0.5]], rtol=0, atol=0)
    (g,) = ad.grad(K.min(x), [x])
    assert_close(g, [[0, 0, 0], [0, 1, 0]], rtol=0, atol=0)


def test_maximum_minimum_ties_go_to_the_first_operand():
    a, b = Tensor(np.array([1.0, 2.0, 3.0])), Tensor(np.array([1.0, 5.0, 0.0]))
    ga, gb = ad.grad(K.maximum(a, b), [a, b])
    assert_close(ga, [1, 0, 1], rtol=0, atol=0)
    assert_close(gb, [0, 1, 0], rtol=0, atol=0)
    ga, gb = ad.grad(K.minimum(a, b), [a, b])
    assert_close(ga, [1, 1, 0], rtol=0, atol=0)
    assert_close(gb, [0, 0, 1], rtol=0, atol=0)


def test_clip_gradient_is_zero_outside_and_one_inside():
    x = Tensor(np.array([-2.0, -0.5, 0.3, 0.9, 4.0]))
    (g,) = ad.grad(K.clip(x, -1.0, 1.0), [x])
    assert_close(g, [0, 1, 1, 1, 0], rtol=0, atol=0)


# Keras 2's K.clip takes None for an open bound (``K.clip(x, K.epsilon(), None)`` in custom losses)
def test_clip_with_an_open_bound():
    x = Tensor(np.array([-2.0, 0.5, 3.0]))
    y = K.clip(x, None, 1.0)
    assert_close(y.value, [-2.0, 0.5, 1.0], rtol=0, atol=0)
    (g,) = ad.grad(y, [x])
    assert_close(g, [1, 1, 0], rtol=0, atol=0)
    (g,) = ad.grad(K.clip(x, 0.0, None), [x])
    assert_close(g, [0, 1, 1], rtol=0, atol=0)
    assert_close(K.clip(x.value, 2.0, 1.0), [2.0, 2.0, 2.0], rtol=0, atol=0)  # Keras raises max to min


def test_bad_arguments_raise_a_value_error_naming_the_function():
    with pytest.raises(ValueError, match=r"dot.*\(3, 4\).*\(5, 2\)"):
        K.dot(np.ones((3, 4)), Tensor(np.ones((5, 2))))
    with pytest.raises(ValueError, match="concatenate"):
        K.concatenate([np.ones((2, 3)), np.ones((3, 3))], axis=1)


# ---- Python operators on Tensor ----------------------------------------------------------------


OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a ** b,
}


@pytest.mark.parametrize("other", ["tensor", "ndarray", "float", "int", "np-scalar"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("op", list(OPERATORS))
def test_operator(op, side, other, rng):
    """``t op other`` and ``other op t``: a Tensor whose value is NumPy's and whose gradient
    checks out (``np.ones(3) + t`` goes to Tensor.__radd__, never an object array)."""
    f = OPERATORS[op]
    x = rng.uniform(0.5, 2.0, size=(4, 3))  # positive: fine as a base of ** and a divisor
    c = {"tensor": rng.uniform(0.5, 2.0, size=(3,)), "ndarray": rng.uniform(0.5, 2.0, size=(4, 3)),
         "float": 1.7, "int": 2, "np-scalar": np.float64(1.3)}[other]
    t = Tensor(x)
    if other == "tensor":
        y = f(t, Tensor(c)) if side == "left" else f(Tensor(c), t)
    else:
        y = f(t, c) if side == "left" else f(c, t)
    assert isinstance(y, Tensor), f"got {type(y).__name__}"
    assert_close(y.value, f(x, c) if side == "left" else f(c, x), rtol=1e-14, atol=0)
    if other == "tensor":
        gradcheck(f if side == "left" else (lambda u, v: f(v, u)), [x, c], rng)
    else:
        gradcheck((lambda u: f(u, c)) if side == "left" else (lambda u: f(c, u)), [x], rng)


def test_matmul_operator_and_reflected(rng):
    a, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    y = Tensor(a) @ w
    assert isinstance(y, Tensor)
    assert_close(y.value, a @ w, rtol=1e-14, atol=1e-15)
    y = a @ Tensor(w)
    assert isinstance(y, Tensor)
    assert_close(y.value, a @ w, rtol=1e-14, atol=1e-15)
    gradcheck(lambda u: a @ u, [w], rng)
    gradcheck(lambda u: u @ w, [a], rng)


def test_unary_operators(rng):
    x = away([0], 3, 4)(rng)
    for f, want in [(lambda t: -t, -x), (lambda t: +t, x), (abs, np.abs(x))]:
        y = f(Tensor(x))
        assert isinstance(y, Tensor)
        assert_close(y.value, want, rtol=0, atol=0)
    gradcheck(lambda t: -t, [x], rng)
    gradcheck(lambda t: abs(t) * t, [x], rng)


def test_tensor_basics():
    t = Tensor([[1.0, 2.0, 3.0]])
    assert t.shape == (1, 3) and t.ndim == 2 and t.dtype == np.float64 and len(t) == 1
    assert t.numpy() is t.value
    assert K.shape(t) == (1, 3) and K.int_shape(t) == (1, 3) and K.ndim(t) == 2 and K.dtype(t) == "float64"
    rows = list(t)  # (its rows, each a tensor on the tape, as an eager TensorFlow tensor iterates)
    assert len(rows) == 1 and isinstance(rows[0], Tensor) and rows[0].shape == (3,)
    with pytest.raises(TypeError):
        iter(Tensor(np.float64(2.0)))
    with pytest.raises(TypeError):
        np.exp(t)  # NumPy's ufuncs defer to the backend functions; they do not make object arrays


# ---- forward values on plain arrays -------------------------------------------------------------


_R = np.random.default_rng(2024)
X = _R.normal(size=(3, 4))
Y = _R.normal(size=(3, 4))
POS = _R.uniform(0.2, 2.0, size=(3, 4))
PROB = _R.uniform(0.05, 0.95, size=(3, 4))
TGT = _R.uniform(0.0, 1.0, size=(3, 4))
ONEHOT = np.eye(4)[[1, 3, 0]]
X3 = _R.normal(size=(2, 3, 4))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _keras_relu(x, alpha=0.0, max_value=None, threshold=0.0):
    y = np.where(x >= threshold, x, alpha * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


def _bce(t, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


FORWARD = [
    ("abs", lambda: K.abs(X), lambda: np.abs(X)),
    ("add", lambda: K.add(X, Y[0]), lambda: X + Y[0]),
    ("batch_flatten", lambda: K.batch_flatten(X3), lambda: X3.reshape(2, 12)),
    ("binary_crossentropy", lambda: K.binary_crossentropy(TGT, PROB), lambda: _bce(TGT, PROB)),
    ("binary_crossentropy", lambda: K.binary_crossentropy(TGT, X, from_logits=True),
     lambda: _bce(TGT, _sigmoid(X))),
    ("cast", lambda: K.cast(X, "float32"), lambda: X.astype(np.float32)),
    ("cast_to_floatx", lambda: K.cast_to_floatx(X), lambda: X.astype(np.float32)),
    ("get_value", lambda: K.get_value(X), lambda: X),
    ("categorical_crossentropy", lambda: K.categorical_crossentropy(ONEHOT, _softmax(X)),
     lambda: -np.log(_softmax(X)[[0, 1, 2], [1, 3, 0]])),
    ("categorical_crossentropy", lambda: K.categorical_crossentropy(ONEHOT, X, from_logits=True),
     lambda: -np.log(_softmax(X)[[0, 1, 2], [1, 3, 0]])),
    ("clip", lambda: K.clip(X, -0.5, 0.5), lambda: np.clip(X, -0.5, 0.5)),
    ("concatenate", lambda: K.concatenate([X, Y], axis=0), lambda: np.concatenate([X, Y], axis=0)),
    ("concatenate", lambda: K.concatenate([X, Y]), lambda: np.concatenate([X, Y], axis=-1)),
    ("cos", lambda: K.cos(X), lambda: np.cos(X)),
    ("count_params", lambda: K.count_params(X3), lambda: 24),
    ("divide", lambda: K.divide(X, POS), lambda: X / POS),
    ("dot", lambda: K.dot(X, Y.T), lambda: X @ Y.T),
    ("dot", lambda: K.dot(X3, X3.swapaxes(1, 2)), lambda: np.einsum("bik,bjk->bij", X3, X3)),
    ("dot", lambda: K.dot(X, Y[0]), lambda: X @ Y[0]),
    ("dtype", lambda: K.dtype(X), lambda: "float64"),
    ("dtype", lambda: K.dtype(X.astype(np.float32)), lambda: "float32"),
    ("epsilon", K.epsilon, lambda: 1e-7),
    ("exp", lambda: K.exp(X), lambda: np.exp(X)),
    ("expand_dims", lambda: K.expand_dims(X, 1), lambda: X[:, None, :]),
    ("expand_dims", lambda: K.expand_dims(X), lambda: X[:, :, None]),
    ("flatten", lambda: K.flatten(X3), lambda: X3.ravel()),
    ("floatx", K.floatx, lambda: "float32"),
    ("int_shape", lambda: K.int_shape(X3), lambda: (2, 3, 4)),
    ("log", lambda: K.log(POS), lambda: np.log(POS)),
    ("logsumexp", lambda: K.logsumexp(X, axis=1), lambda: np.log(np.exp(X).sum(axis=1))),
    ("logsumexp", lambda: K.logsumexp(X3, axis=(0, 2), keepdims=True),
     lambda: np.log(np.exp(X3).sum(axis=(0, 2), keepdims=True))),
    ("logsumexp", lambda: K.logsumexp(X + 1000.0), lambda: 1000.0 + np.log(np.exp(X).sum())),
    ("max", lambda: K.max(X3, axis=(0, -1)), lambda: X3.max(axis=(0, 2))),
    ("maximum", lambda: K.maximum(X, 0.1), lambda: np.maximum(X, 0.1)),
    ("mean", lambda: K.mean(X3, axis=1, keepdims=True), lambda: X3.mean(axis=1, keepdims=True)),
    ("mean", lambda: K.mean(X3), lambda: X3.mean()),
    ("min", lambda: K.min(X3, axis=-2), lambda: X3.min(axis=1)),
    ("minimum", lambda: K.minimum(X, Y), lambda: np.minimum(X, Y)),
    ("multiply", lambda: K.multiply(X, Y[:, :1]), lambda: X * Y[:, :1]),
    ("ndim", lambda: K.ndim(X3), lambda: 3),
    ("negative", lambda: K.negative(X), lambda: -X),
    ("ones", lambda: K.ones((2, 3)), lambda: np.ones((2, 3), np.float32)),
    ("ones_like", lambda: K.ones_like(X), lambda: np.ones_like(X)),
    ("permute_dimensions", lambda: K.permute_dimensions(X3, (1, 2, 0)), lambda: X3.transpose(1, 2, 0)),
    ("pow", lambda: K.pow(POS, X), lambda: POS ** X),
    ("pow", lambda: K.pow(X, 2), lambda: X ** 2),
    ("relu", lambda: K.relu(X), lambda: np.maximum(X, 0)),
    ("relu", lambda: K.relu(X, alpha=0.1), lambda: _keras_relu(X, alpha=0.1)),
    ("relu", lambda: K.relu(X, max_value=0.5), lambda: np.clip(X, 0, 0.5)),
    ("relu", lambda: K.relu(X, alpha=0.2, max_value=1.0, threshold=0.3),
     lambda: _keras_relu(X, alpha=0.2, max_value=1.0, threshold=0.3)),
    ("reshape", lambda: K.reshape(X3, (6, -1)), lambda: X3.reshape(6, 4)),
    ("round", lambda: K.round(X * 3), lambda: np.round(X * 3)),
    ("shape", lambda: K.shape(X3), lambda: (2, 3, 4)),
    ("sigmoid", lambda: K.sigmoid(X), lambda: _sigmoid(X)),
    ("sign", lambda: K.sign(X), lambda: np.sign(X)),
    ("sin", lambda: K.sin(X), lambda: np.sin(X)),
    ("softmax", lambda: K.softmax(X), lambda: np.exp(X) / np.exp(X).sum(axis=-1, keepdims=True)),
    ("softmax", lambda: K.softmax(X3, axis=1), lambda: np.exp(X3) / np.exp(X3).sum(axis=1, keepdims=True)),
    ("softmax", lambda: K.softmax(X * 1000.0), lambda: _softmax(X * 1000.0)),
    ("softplus", lambda: K.softplus(X), lambda: np.log1p(np.exp(X))),
    ("sparse_categorical_crossentropy", lambda: K.sparse_categorical_crossentropy(np.array([1, 3, 0]), _softmax(X)),
     lambda: -np.log(_softmax(X)[[0, 1, 2], [1, 3, 0]])),
    ("sparse_categorical_crossentropy",
     lambda: K.sparse_categorical_crossentropy(np.array([[1], [3], [0]]), X, from_logits=True),
     lambda: -np.log(_softmax(X)[[0, 1, 2], [1, 3, 0]])),
    ("sqrt", lambda: K.sqrt(POS), lambda: np.sqrt(POS)),
    ("square", lambda: K.square(X), lambda: X ** 2),
    ("squeeze", lambda: K.squeeze(X[:, None], 1), lambda: X),
    ("squeeze", lambda: K.squeeze(X[None, :, :, None], -1), lambda: X[None]),
    ("stack", lambda: K.stack([X, Y]), lambda: np.stack([X, Y])),
    ("stack", lambda: K.stack([X, Y], axis=-1), lambda: np.stack([X, Y], axis=-1)),
    ("stack", lambda: K.stack([X, Y, X], axis=1), lambda: np.stack([X, Y, X], axis=1)),
    ("std", lambda: K.std(X3, axis=(0, 1)), lambda: X3.std(axis=(0, 1))),
    ("stop_gradient", lambda: K.stop_gradient(X), lambda: X),
    ("subtract", lambda: K.subtract(2.0, X), lambda: 2.0 - X),
    ("sum", lambda: K.sum(X3, axis=[0, 2]), lambda: X3.sum(axis=(0, 2))),
    ("sum", lambda: K.sum(X3, keepdims=True), lambda: X3.sum(keepdims=True)),
    ("tanh", lambda: K.tanh(X), lambda: np.tanh(X)),
    ("transpose", lambda: K.transpose(X3), lambda: X3.T),
    ("var", lambda: K.var(X3, axis=-1, keepdims=True), lambda: X3.var(axis=-1, keepdims=True)),
    ("var", lambda: K.var(X3), lambda: X3.var()),
    ("zeros", lambda: K.zeros((2, 3), dtype="float64"), lambda: np.zeros((2, 3))),
    ("zeros_like", lambda: K.zeros_like(X), lambda: np.zeros_like(X)),
    ("equal", lambda: K.equal(X3, X3.T.T), lambda: np.ones(X3.shape, bool)),
    ("not_equal", lambda: K.not_equal(X3, 0.5), lambda: X3 != 0.5),
    ("greater", lambda: K.greater(X3, 0.0), lambda: X3 > 0),
    ("greater_equal", lambda: K.greater_equal(X3, X3[:, :1]), lambda: X3 >= X3[:, :1]),
    ("less", lambda: K.less(X3, 0.0), lambda: X3 < 0),
    ("less_equal", lambda: K.less_equal(X3, X3.max()), lambda: np.ones(X3.shape, bool)),
    ("argmax", lambda: K.argmax(X3), lambda: X3.argmax(axis=-1)),
    ("argmin", lambda: K.argmin(X3, axis=0), lambda: X3.argmin(axis=0)),
    ("batch_dot", lambda: K.batch_dot(X3, X3, axes=[2, 2]), lambda: X3 @ X3.transpose(0, 2, 1)),
    ("l2_normalize", lambda: K.l2_normalize(X3, axis=1), lambda: X3 / np.sqrt((X3 ** 2).sum(axis=1, keepdims=True))),
    ("bias_add", lambda: K.bias_add(X3, X3[0]), lambda: X3 + X3[0]),
    ("switch", lambda: K.switch(X3 > 0, X3, -X3), lambda: np.abs(X3)),
    ("tile", lambda: K.tile(X3, (1, 2)), lambda: np.tile(X3, (1, 2))),
    ("repeat_elements", lambda: K.repeat_elements(X3, 2, axis=0), lambda: np.repeat(X3, 2, axis=0)),
    ("gather", lambda: K.gather(X3, np.array([1, 1])), lambda: X3[[1, 1]]),
    ("cumsum", lambda: K.cumsum(X3, axis=1), lambda: np.cumsum(X3, axis=1)),
    ("one_hot", lambda: K.one_hot(np.array([0, 2]), 3).astype(np.float64), lambda: np.eye(3)[[0, 2]]),
    ("any", lambda: K.any(X3 > 0.5, axis=1), lambda: (X3 > 0.5).any(axis=1)),
    ("all", lambda: K.all(X3 > -10), lambda: np.bool_(True)),
    ("constant", lambda: K.constant(2.0, dtype="float64", shape=(2, 2)), lambda: np.full((2, 2), 2.0)),
    ("variable", lambda: K.variable(X3, dtype="float64"), lambda: X3.copy()),
    ("elu", lambda: K.elu(X3), lambda: np.where(X3 > 0, X3, np.expm1(np.minimum(X3, 0)))),
    ("softsign", lambda: K.softsign(X3), lambda: X3 / (1 + np.abs(X3))),
    ("hard_sigmoid", lambda: K.hard_sigmoid(X3), lambda: np.clip(X3 / 6 + 0.5, 0, 1)),
]


@pytest.mark.parametrize("name, call, want", [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(FORWARD)])
def test_forward_value(name, call, want):
    got, expected = call(), want()
    if type(expected) in (str, tuple, int, float):
        assert got == expected and type(got) is type(expected), f"{name}: got {got!r}"
        return
    assert not isinstance(got, Tensor), f"{name} returned a Tensor for plain arrays"
    assert isinstance(got, np.ndarray) or (np.ndim(got) == 0 and isinstance(got, np.generic)), type(got)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (got.shape, got.dtype)
    assert_close(got, expected, rtol=1e-12, atol=1e-13, what=name)


def test_every_function_has_a_forward_check_and_is_in_fastnn_backend():
    names = {c[0] for c in FORWARD} | {"random_normal", "random_uniform", "set_value"}  # (tested below)
    assert set(ad.FUNCTIONS) <= names, f"no forward check for {sorted(set(ad.FUNCTIONS) - names)}"
    for name in ad.FUNCTIONS:
        assert getattr(fastnn.backend, name) is getattr(ad, name), name


def test_random_functions():
    a = K.random_normal((2000,), mean=2.0, stddev=0.5, seed=3)
    assert a.dtype == np.float32 and a.shape == (2000,)
    assert abs(a.mean() - 2.0) < 0.05 and abs(a.std() - 0.5) < 0.05
    np.testing.assert_array_equal(a, K.random_normal((2000,), mean=2.0, stddev=0.5, seed=3))
    u = K.random_uniform((40, 50), minval=-1.0, maxval=3.0, dtype="float64", seed=4)
    assert u.dtype == np.float64 and u.shape == (40, 50)
    assert u.min() >= -1.0 and u.max() < 3.0 and u.max() - u.min() > 3.8
    fastnn.set_random_seed(5)
    first = K.random_uniform(7)
    fastnn.set_random_seed(5)
    np.testing.assert_array_equal(first, K.random_uniform(7))
    # a symbolic batch size (as a Lambda layer's K.shape(z)[0] gives) may be a Tensor or numpy int
    assert K.random_normal((np.int64(3), Tensor(np.array(2)))).shape == (3, 2)


def test_get_and_set_value_change_a_learning_rate_as_keras_2_callbacks_do():
    model = fastnn.Sequential([fastnn.layers.Dense(1, input_shape=(2,))])
    model.compile(fastnn.optimizers.SGD(learning_rate=0.1), "mse")
    assert K.get_value(model.optimizer.lr) == pytest.approx(0.1)
    K.set_value(model.optimizer.lr, 0.01)
    assert model.optimizer.learning_rate == pytest.approx(0.01) and isinstance(K.get_value(model.optimizer.lr), float)
    w = np.zeros(3)
    K.set_value(w, [1, 2, 3])
    np.testing.assert_array_equal(w, [1, 2, 3])
    with pytest.raises(ValueError, match="set_value: expected an optimizer's learning rate or a weight array"):
        K.set_value(0.5, 1.0)


def test_numerically_stable_values():
    big = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    # (an overflow warning would fail the test: the project turns warnings into errors)
    assert_close(K.sigmoid(big), [0, _sigmoid(-30.0), 0.5, _sigmoid(30.0), 1], rtol=1e-12, atol=1e-300)
    assert_close(K.softplus(big), [0, np.log1p(np.exp(-30.0)), np.log(2), 30 + np.log1p(np.exp(-30.0)), 1000],
                 rtol=1e-12, atol=1e-300)
    bce = K.binary_crossentropy(np.array([1.0, 0, 1, 0, 0]), big, from_logits=True)
    assert_close(bce, [1000, np.log1p(np.exp(-30.0)), np.log(2), 30 + np.log1p(np.exp(-30.0)), 1000],
                 rtol=1e-12, atol=1e-300)
    x = Tensor(big[[0, 1, 3, 4]])  # (0 is in test_binary_crossentropy_from_logits_gradient_at_zero)
    (g,) = ad.grad(K.binary_crossentropy(np.ones(4), x, from_logits=True), [x])
    assert_close(g, [-1, _sigmoid(-30.0) - 1, -_sigmoid(-30.0), 0], rtol=1e-12, atol=1e-300)


# A logit of exactly 0 (a zero-initialized output layer): the gradient is sigmoid(0) - t = 0.5 - t,
# where max(x, 0) and |x| each have a kink
def test_binary_crossentropy_from_logits_gradient_at_zero():
    x = Tensor(np.zeros(3))
    t = np.array([1.0, 0.0, 0.25])
    (g,) = ad.grad(K.binary_crossentropy(t, x, from_logits=True), [x])
    assert_close(g, 0.5 - t, rtol=1e-12, atol=1e-15)


# ---- float32 ---------------------------------------------------------------------------------------


W32 = _R.normal(size=(4, 2)).astype(np.float32)
F32 = [
    ("exp", K.exp), ("log", lambda x: K.log(x + 3.0)), ("sqrt", lambda x: K.sqrt(x * x + 0.5)),
    ("sigmoid", K.sigmoid), ("softplus", K.softplus), ("tanh", K.tanh), ("abs", K.abs),
    ("relu", lambda x: K.relu(x, alpha=0.1, max_value=0.7)), ("clip", lambda x: K.clip(x, -0.3, 0.4)),
    ("mean", lambda x: K.mean(x, axis=0) * 2.5), ("sum", lambda x: K.sum(x) / 3.0), ("max", K.max),
    ("var", lambda x: K.var(x, axis=-1)), ("std", K.std), ("logsumexp", lambda x: K.logsumexp(x, axis=1)),
    ("softmax", K.softmax), ("scalar-ops", lambda x: 1.0 - 2.5 * x / 3.0 + 0.5),
    ("reflected-div", lambda x: 1.0 / (x + 5.0)), ("pow", lambda x: (x + 3.0) ** 1.5),
    ("rpow", lambda x: 2.0 ** x), ("maximum", lambda x: K.maximum(x, 0.5)), ("dot", lambda x: K.dot(x, W32)),
    ("bce", lambda x: K.binary_crossentropy(TGT.astype(np.float32), K.sigmoid(x))),
    ("bce-logits", lambda x: K.binary_crossentropy(TGT.astype(np.float32), x, from_logits=True)),
    ("cce", lambda x: K.categorical_crossentropy(ONEHOT.astype(np.float32), K.softmax(x))),
    ("cce-logits", lambda x: K.categorical_crossentropy(ONEHOT.astype(np.float32), x, from_logits=True)),
    ("scce", lambda x: K.sparse_categorical_crossentropy(np.array([1, 3, 0]), K.softmax(x))),
    ("concat-stack", lambda x: K.stack([K.concatenate([x, x * 2.0]), K.concatenate([x, x])])),
    ("getitem", lambda x: x[[0, 0, 2], 1:]), ("reshape", lambda x: K.transpose(K.reshape(x, (2, -1)))),
    ("cast", lambda x: K.cast(x, "float32")),
]


NUMPY1 = int(np.__version__.split(".")[0]) < 2
NUMPY1_SCALARS = "NumPy 1 promotes a 0-d float32 sum divided by a Python float to float64 (NumPy 2 keeps float32)"


@pytest.mark.parametrize("f", [pytest.param(f, id=n, marks=pytest.mark.skipif(n == "sum" and NUMPY1, reason=NUMPY1_SCALARS))
                               for n, f in F32])
def test_float32_stays_float32(f, rng):
    x = X.astype(np.float32)
    assert f(x).dtype == np.float32, "eager value"
    t = Tensor(x)
    y = f(t)
    assert isinstance(y, Tensor) and y.dtype == np.float32, f"tape value {y.dtype}"
    (g,) = ad.grad(y, [t], seed=rng.normal(size=y.shape))  # a float64 seed
    assert g.dtype == np.float32 and g.shape == x.shape
    # and the float32 gradient matches the float64 one
    t64 = Tensor(X)
    (g64,) = ad.grad(f(t64), [t64], seed=np.ones(y.shape))
    (g32,) = ad.grad(f(t), [t], seed=np.ones(y.shape))
    assert_close(g32, g64, rtol=2e-4, atol=2e-5, what="float32 vs float64 gradient")


def test_cast_gradient_keeps_the_input_dtype():
    t = Tensor(X.astype(np.float32))
    y = K.cast(t, "float64")
    assert y.dtype == np.float64
    (g,) = ad.grad(K.sum(y * 2.0), [t])
    assert g.dtype == np.float32
    assert_close(g, np.full(X.shape, 2.0), rtol=0, atol=0)
    assert not isinstance(K.cast(t, "int32"), Tensor)


def test_unreached_leaf_keeps_its_dtype():
    a, b = Tensor(X.astype(np.float32)), Tensor(Y.astype(np.float32))
    _, gb = ad.grad(K.sum(a), [a, b])
    assert gb.dtype == np.float32 and not gb.any()


# ---- Keras semantics of the cross-entropies ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_crossentropy_clips_the_output(dtype):
    target = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.3], dtype)
    output = np.array([0.0, 1.0, 1.0, 0.0, 0.4, 1e-9], dtype)
    p = Tensor(output)
    y = K.binary_crossentropy(target, p)
    assert y.dtype == dtype and np.all(np.isfinite(y.value))
    want = _bce(target.astype(np.float64), output.astype(np.float64))
    assert_close(y.value, want, rtol=2e-2 if dtype == np.float32 else 1e-12, atol=1e-6)
    assert_close(y.value[0], -np.log(1e-7), rtol=1e-6, atol=0)  # log(0) would be inf
    (g,) = ad.grad(y, [p])
    assert np.all(np.isfinite(g))
    # clipped entries (0, 1, and 1e-9 < 1e-7) get no gradient; the others -(t/p - (1-t)/(1-p))
    assert_close(g, [0, 0, 0, 0, -1 / 0.4, 0], rtol=1e-6, atol=0)


def test_categorical_crossentropy_rescales_and_clips_the_output():
    target = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    output = np.array([[2.0, 4.0, 2.0], [0.0, 3.0, 3.0]])  # not normalized; the 2nd has p=0 for its class
    y = K.categorical_crossentropy(target, output)
    assert_close(y, [np.log(2.0), -np.log(1e-7)], rtol=1e-12, atol=0)
    # scaling a row does not change its loss
    assert_close(K.categorical_crossentropy(target, output * np.array([[7.0], [0.1]])), y, rtol=1e-12, atol=0)
    # the gradient of -log(p_k / sum p) is -1/p_k at k plus 1/sum p; the clipped row gets zeros
    p = Tensor(output)
    (g,) = ad.grad(K.categorical_crossentropy(target, p), [p])
    assert_close(g, [[1 / 8, 1 / 8 - 1 / 4, 1 / 8], [0, 0, 0]], rtol=1e-12, atol=1e-15)


def test_from_logits_equals_the_probability_form(rng):
    logits = rng.normal(size=(5, 3))
    t = np.eye(3)[rng.integers(0, 3, 5)]
    assert_close(K.categorical_crossentropy(t, logits, from_logits=True),
                 K.categorical_crossentropy(t, _softmax(logits)), rtol=1e-12, atol=1e-14)
    tb = rng.uniform(size=(5, 3))
    assert_close(K.binary_crossentropy(tb, logits, from_logits=True),
                 K.binary_crossentropy(tb, _sigmoid(logits)), rtol=1e-12, atol=1e-14)
    # gradient w.r.t. the logits: softmax - target and sigmoid - target
    x = Tensor(logits)
    (g,) = ad.grad(K.categorical_crossentropy(t, x, from_logits=True), [x])
    assert_close(g, _softmax(logits) - t, rtol=1e-12, atol=1e-14)
    (g,) = ad.grad(K.binary_crossentropy(tb, x, from_logits=True), [x])
    assert_close(g, _sigmoid(logits) - tb, rtol=1e-12, atol=1e-14)


# ---- symbolic tensors (functional API) ----------------------------------------------------------


def test_symbolic_call_gives_a_keras_tensor():
    inp = fastnn.Input(shape=(3,))
    for out, shape in [(K.square(inp), (None, 3)), (K.mean(inp, axis=-1), (None,)),
                       (K.sum(inp, axis=1, keepdims=True), (None, 1)), (1.0 - inp, (None, 3)),
                       (inp[:, 1:], (None, 2)), (K.concatenate([inp, K.exp(inp)]), (None, 6)),
                       (K.stack([inp, inp], axis=1), (None, 2, 3)), (np.ones(3) * inp, (None, 3))]:
        assert isinstance(out, KerasTensor), type(out)
        assert out.shape == shape


def test_symbolic_model_predicts(rng):
    inp = fastnn.Input(shape=(3,))
    model = fastnn.Model(inp, K.exp(inp) * 2 + 1)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    assert_close(model.predict(x, verbose=0), np.exp(x) * 2 + 1, rtol=1e-6, atol=1e-6)


def test_symbolic_model_two_inputs(rng):
    t_in, p_in = fastnn.Input(shape=(4,)), fastnn.Input(shape=(4,))
    model = fastnn.Model([t_in, p_in], K.mean(K.binary_crossentropy(t_in, p_in), axis=-1))
    t = rng.uniform(size=(6, 4)).astype(np.float32)
    p = rng.uniform(0.05, 0.95, size=(6, 4)).astype(np.float32)
    assert_close(model.predict([t, p], verbose=0), _bce(t, p).mean(axis=-1), rtol=1e-5, atol=1e-6)


def test_symbolic_composite_functions_are_graph_layers(rng):
    labels, probs = fastnn.Input(shape=(1,)), fastnn.Input(shape=(4,))
    loss = K.sparse_categorical_crossentropy(labels, probs)
    spread = K.std(probs, axis=-1)
    assert isinstance(loss, KerasTensor) and loss.shape == (None,)
    assert isinstance(spread, KerasTensor) and spread.shape == (None,)
    model = fastnn.Model([labels, probs], K.stack([loss, spread], axis=-1))
    p = rng.uniform(0.1, 1.0, size=(3, 4)).astype(np.float32)
    y = np.array([[1], [3], [0]], np.float32)
    want = np.stack([-np.log((p / p.sum(1, keepdims=True))[[0, 1, 2], [1, 3, 0]]), p.std(axis=-1)], axis=-1)
    assert_close(model.predict([y, p], verbose=0), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("a_shape,b_shape", [
    ((5, 4), (4, 3)),  # fastnn's gemm
    ((2, 5, 4), (4, 3)),  # all rows of a against one b: one gemm
    ((2, 3, 5, 4), (2, 3, 4, 6)),  # matching batch axes: the batched gemm
    ((2, 5, 4), (1, 4, 3)),  # broadcast batch axes: NumPy's matmul
    ((4,), (2, 4, 3)),  # a vector
])
def test_float32_products_and_gradients_on_every_path(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape).astype(np.float32), rng.standard_normal(b_shape).astype(np.float32)
    ta, tb = ad.Tensor(a), ad.Tensor(b)
    y = ad.dot(ta, tb)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert y.value.dtype == np.float32 and y.shape == want.shape
    np.testing.assert_allclose(y.value, want, rtol=1e-5, atol=1e-5)
    seed = rng.standard_normal(want.shape)
    da, db = ad.grad(y, [ta, tb], seed=seed.astype(np.float32))
    a64, b64 = ad.Tensor(a.astype(np.float64)), ad.Tensor(b.astype(np.float64))
    da64, db64 = ad.grad(ad.dot(a64, b64), [a64, b64], seed=seed)
    np.testing.assert_allclose(da, da64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(db, db64, rtol=1e-4, atol=1e-5)


def test_float32_sums_across_rows_stay_accurate():
    # NumPy adds one row at a time across a non-contiguous axis: 2M float32 values near 300 drift
    # 1e-3 relative; TensorFlow's tree sums stay near float32 rounding
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2_000_000, 3)) * 5 + 300).astype(np.float32)
    exact = x.astype(np.float64).mean(axis=0)
    for got in (ad.mean(x, axis=0), ad.sum(x, axis=0) / np.float32(len(x))):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, exact, rtol=1e-6)


def test_sign_and_abs_of_complex_values_use_z_over_its_size():
    # TensorFlow's sign(z) = z / |z| (NumPy 2's; NumPy 1 gave the real part's sign), and the
    # gradient of |z| is g · z / |z|
    z = np.array([3 + 4j, -2j, 0j], np.complex128)
    np.testing.assert_allclose(ad.sign(z), [0.6 + 0.8j, -1j, 0])
    leaf = ad.Tensor(z)
    (g,) = ad.grad(ad.abs(leaf), [leaf], seed=np.ones(3))
    np.testing.assert_allclose(g, [0.6 + 0.8j, -1j, 0])
