"""The NumPy reference's own gradients against central finite differences in float64: every
activation, the dense layer, every loss (with from_logits and sample weights), the fused
cross-entropy backward and the GEMM's transposed products. The reference is the oracle of every
C++ test, so its backward must be right on its own."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import reference as ref
from fastnn.reference._common import ACTIVATIONS, FUSED_ACTIVATIONS, INPUT_DERIVATIVE

from helpers import assert_close, gradcheck


def _away_from_kinks(rng, shape, low=0.1, high=2.5):
    """float64 values with |x| in [low, high] but not near 1: no relu/leaky/elu kink, no hard_sigmoid
    or hard_silu corner (±3), no hard_tanh corner (±1), no relu6 corner (6)."""
    magnitude = rng.uniform(low, high, shape)
    magnitude = np.where(np.abs(magnitude - 1) < 0.05, magnitude + 0.1, magnitude)
    return rng.choice([-1.0, 1.0], shape) * magnitude


@pytest.mark.parametrize("activation,alpha", [(a, None) for a in ACTIVATIONS] +
                         [("leaky_relu", 0.01), ("leaky_relu", 0.0), ("elu", 0.3), ("elu", 2.0)])
def test_activation_gradients(rng, activation, alpha):
    x = _away_from_kinks(rng, (3, 5))
    dy = rng.standard_normal((3, 5))

    def f():
        return float(np.sum(ref.activation_forward(x, activation, alpha) * dy))

    y = ref.activation_forward(x, activation, alpha)
    assert y.dtype == np.float64
    dx = ref.activation_backward_input(dy, x, activation, alpha) if activation in INPUT_DERIVATIVE else \
        ref.activation_backward(dy, y, activation, alpha)
    gradcheck(f, [x], [dx], what=f"reference activation {activation} alpha={alpha}")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", FUSED_ACTIVATIONS)
def test_dense_gradients(rng, activation, bias):
    N, C, OC = 3, 4, 5
    while True:
        # redraw until every pre-activation is away from a kink (0, and hard_sigmoid's +-3)
        x = rng.standard_normal((N, C))
        w = rng.standard_normal((C, OC)) / 2
        b = rng.standard_normal(OC) / 2 if bias else None
        z = x @ w + (b if bias else 0)
        if np.all(np.abs(z) > 0.05) and np.all(np.abs(np.abs(z) - 3) > 0.05) and np.all(np.abs(np.abs(z) - 1) > 0.05):
            break
    dy = rng.standard_normal((N, OC))
    params = [x, w] + ([b] if bias else [])

    def f():
        return float(np.sum(ref.dense_forward(x, w, b, activation) * dy))

    y = ref.dense_forward(x, w, b, activation)
    dx, dw, db = ref.dense_backward(dy, x, w, y, activation, use_bias=bias)
    analytic = [dx, dw] + ([db] if bias else [])
    gradcheck(f, params, analytic, what=f"reference dense {activation} bias={bias}", rtol=1e-6, atol=1e-7)


def _loss_case(rng, loss, N=4, C=3, from_logits=False):
    if from_logits:
        p = 2 * rng.standard_normal((N, C))
    elif loss == "binary_crossentropy":
        p = rng.uniform(0.05, 0.95, (N, C))
    elif "categorical" in loss:
        p = rng.uniform(0.1, 1.0, (N, C))
    else:
        p = rng.standard_normal((N, C))
    if loss == "sparse_categorical_crossentropy":
        t = rng.integers(0, C, N)
    elif loss == "categorical_crossentropy":
        t = rng.dirichlet(np.ones(C), N)  # soft targets exercise sum(y_true) != 1 paths too
    elif loss == "binary_crossentropy":
        t = rng.uniform(0, 1, (N, C))
    else:
        # keep |p - t| > 0.05 so mae's kink is not straddled by the finite difference
        t = p + rng.choice([-1.0, 1.0], (N, C)) * rng.uniform(0.05, 1, (N, C))
    return t, p


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss,from_logits", [
    ("mean_squared_error", False), ("mean_absolute_error", False), ("binary_crossentropy", False),
    ("binary_crossentropy", True), ("categorical_crossentropy", False), ("categorical_crossentropy", True),
    ("sparse_categorical_crossentropy", False), ("sparse_categorical_crossentropy", True),
])
def test_loss_gradients(rng, loss, from_logits, weighted):
    t, p = _loss_case(rng, loss, from_logits=from_logits)
    sw = rng.uniform(0.2, 2, p.shape[0]) if weighted else None

    def f():
        return ref.loss_forward(t, p, loss, from_logits, sw)

    g = ref.loss_backward(t, p, loss, from_logits, sw)
    assert g.dtype == np.float64
    gradcheck(f, [p], [g], what=f"reference {loss} from_logits={from_logits} weighted={weighted}")


def test_categorical_gradient_with_a_clipped_component(rng):
    # one non-target probability below the clip: it passes no gradient through its own log,
    # but still through the renormalisation
    p = np.array([[1e-9, 0.3, 0.7], [0.2, 0.5, 0.3]])
    t = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])

    def f():
        return ref.loss_forward(t, p, "categorical_crossentropy")

    gradcheck(f, [p], [ref.loss_backward(t, p, "categorical_crossentropy")], what="clipped categorical",
              eps=1e-8, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
def test_fused_crossentropy_backward_is_the_logit_gradient(rng, weighted):
    N, C = 4, 5
    z = rng.standard_normal((N, C))
    sw = rng.uniform(0.2, 2, N) if weighted else None
    labels = rng.integers(0, C, N)
    soft = rng.dirichlet(np.ones(C), N) * rng.uniform(0.5, 1.5, (N, 1))  # rows summing to != 1

    def softmax(v):
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    for t, loss in ((labels, "sparse_categorical_crossentropy"), (soft, "categorical_crossentropy")):
        fused = ref.crossentropy_logits_backward(t, softmax(z), False, sw)
        gradcheck(lambda: ref.loss_forward(t, z, loss, True, sw), [z], [fused], what=f"fused softmax + {loss}")
        # and the chain through the softmax's Jacobian from the probability-space gradient
        probs = softmax(z)
        chain = ref.activation_backward(ref.loss_backward(t, probs, loss, False, sw), probs, "softmax")
        assert_close(fused, chain, rtol=1e-9, atol=1e-12, what=f"fused vs Jacobian chain, {loss}")
    tb = rng.uniform(0, 1, (N, C))
    fused = ref.crossentropy_logits_backward(tb, 1 / (1 + np.exp(-z)), True, sw)
    gradcheck(lambda: ref.loss_forward(tb, z, "binary_crossentropy", True, sw), [z], [fused],
              what="fused sigmoid + binary_crossentropy")


def test_gemm_transposed_products_are_matmul_gradients(rng):
    # d/dA sum(dC * A@B) = dC·Bᵀ and d/dB = Aᵀ·dC: the reference gemm's transposes
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 5))
    dc = rng.standard_normal((3, 5))

    def f():
        return float(np.sum(ref.matmul(a, b) * dc))

    da = ref.gemm(dc, b, trans_b=True)
    db = ref.gemm(a, dc, trans_a=True)
    gradcheck(f, [a, b], [da, db], what="matmul gradients via gemm transposes")
