"""Optimizer steps: Keras's golden numbers, hand-written scalar formulas, C++ vs the NumPy
reference over lists of odd-sized tensors, and the boundary's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import _core
from fastnn import reference as ref

BACKENDS = [pytest.param(_core, id="cpp"), pytest.param(ref, id="numpy")]


def f32(x):
    return np.array(x, dtype=np.float32)


def zeros_like_all(arrays, fill=0.0):
    return [np.full_like(a, fill) for a in arrays]


# ---- Keras's own golden numbers (keras/src/optimizers/*_test.py) ---------------------------

SINGLE_STEP_VARS = [1.0, 2.0, 3.0, 4.0]
SINGLE_STEP_GRADS = [1.0, 6.0, 7.0, 2.0]


@pytest.mark.parametrize("be", BACKENDS)
def test_keras_single_step_goldens(be):
    g = [f32(SINGLE_STEP_GRADS)]
    p = [f32(SINGLE_STEP_VARS)]
    be.sgd_update(p, g, learning_rate=0.5)
    np.testing.assert_allclose(p[0], [0.5, -1.0, -0.5, 3.0], rtol=1e-4, atol=1e-4)

    p = [f32(SINGLE_STEP_VARS)]
    be.adagrad_update(p, g, zeros_like_all(p, 0.1), learning_rate=0.5)  # initial_accumulator_value=0.1
    np.testing.assert_allclose(p[0], [0.5233, 1.5007, 2.5005, 3.5061], rtol=1e-4, atol=1e-4)

    p = [f32(SINGLE_STEP_VARS)]
    be.rmsprop_update(p, g, zeros_like_all(p), learning_rate=0.5)
    np.testing.assert_allclose(p[0], [-0.5811, 0.4189, 1.4189, 2.4189], rtol=1e-4, atol=1e-4)

    p = [f32(SINGLE_STEP_VARS)]
    be.adam_update(p, g, zeros_like_all(p), zeros_like_all(p), learning_rate=0.5, step=1)
    np.testing.assert_allclose(p[0], [0.5, 1.5, 2.5, 3.5], rtol=1e-4, atol=1e-4)


def run_golden(be, update, golden):
    """Keras's golden protocol: one step with grads 0.01, then grads 0.1..1.0, checking before each."""
    x = [np.ones(10, np.float32)]
    update(be, x, [np.full(10, 0.01, np.float32)], 1)
    grads = [np.arange(1, 11, dtype=np.float32) / 10]
    for i, row in enumerate(golden):
        np.testing.assert_allclose(x[0], np.broadcast_to(row, (10,)), rtol=5e-4, atol=5e-4)
        update(be, x, grads, i + 2)


@pytest.mark.parametrize("be", BACKENDS)
def test_keras_golden_trajectories(be):
    # SGD(nesterov=True) with momentum 0 is plain SGD, lr 0.01
    sgd = [[0.9999] * 10] + [[1 - 0.0001 - k * 0.001 * (j + 1) for j in range(10)] for k in range(1, 5)]
    run_golden(be, lambda be, x, g, t: be.sgd_update(x, g, learning_rate=0.01, nesterov=True), sgd)

    acc = [np.full(10, 0.3, np.float32)]
    adagrad = [
        [0.9963] * 10,
        [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
        [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
        [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
        [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
    ]
    run_golden(be, lambda be, x, g, t: be.adagrad_update(x, g, acc, learning_rate=0.2, epsilon=1e-6), adagrad)

    v, avg = [np.zeros(10, np.float32)], [np.zeros(10, np.float32)]
    rms = [[0.9967], [0.9933], [0.9908], [0.9885], [0.9864]]
    run_golden(be, lambda be, x, g, t: be.rmsprop_update(x, g, v, average_grads=avg, learning_rate=0.001,
                                                          centered=True), rms)

    m, v2, vh = [np.zeros(10, np.float32)], [np.zeros(10, np.float32)], [np.zeros(10, np.float32)]
    adam = [[0.999], [0.9982], [0.9974], [0.9965], [0.9955]]
    run_golden(be, lambda be, x, g, t: be.adam_update(x, g, m, v2, learning_rate=0.001, step=t, amsgrad=True,
                                                       v_hats=vh), adam)


# ---- Hand-written scalar Keras formulas, a few steps of each variant ---------------------------

GRAD_SEQ = [0.5, -1.25, 2.0, 0.75]


def scalar_sgd(p, lr, momentum, nesterov):
    v = 0.0
    for g in GRAD_SEQ:
        if momentum == 0:
            p -= lr * g
            continue
        v = momentum * v - lr * g
        p += momentum * v - lr * g if nesterov else v
    return p


def scalar_rmsprop(p, lr, rho, momentum, eps, centered):
    v = a = mom = 0.0
    for g in GRAD_SEQ:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            inc = lr * g / math.sqrt(v - a * a + eps)
        else:
            inc = lr * g / math.sqrt(v + eps)
        if momentum > 0:
            mom = momentum * mom + inc
            p -= mom
        else:
            p -= inc
    return p


def scalar_adam(p, lr, b1, b2, eps, amsgrad):
    m = v = vh = 0.0
    for t, g in enumerate(GRAD_SEQ, start=1):
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        vh = max(vh, v)
        p -= m * alpha / (math.sqrt(vh if amsgrad else v) + eps)
    return p


def scalar_adagrad(p, lr, eps, acc0):
    acc = acc0
    for g in GRAD_SEQ:
        acc += g * g
        p -= lr * g / math.sqrt(acc + eps)
    return p


def run_steps(be, name, p, **kw):
    """Apply GRAD_SEQ to the one-element parameter list p with fresh state, via backend be."""
    state = {k: [np.zeros_like(p[0])] for k in ("a", "b", "c", "d")}
    for t, g in enumerate(GRAD_SEQ, start=1):
        grads = [np.full_like(p[0], g)]
        if name == "sgd":
            be.sgd_update(p, grads, state["a"], **kw)
        elif name == "adagrad":
            if t == 1:
                state["a"][0][...] = 0.1
            be.adagrad_update(p, grads, state["a"], **kw)
        elif name == "rmsprop":
            be.rmsprop_update(p, grads, state["a"], state["b"], state["c"], **kw)
        else:
            be.adam_update(p, grads, state["a"], state["b"], step=t, v_hats=state["c"], **kw)
    return p[0]


SCALAR_CASES = [
    ("sgd", dict(learning_rate=0.1, momentum=0.0, nesterov=False), lambda: scalar_sgd(1.0, 0.1, 0.0, False)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=False), lambda: scalar_sgd(1.0, 0.1, 0.9, False)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True), lambda: scalar_sgd(1.0, 0.1, 0.9, True)),
    ("adagrad", dict(learning_rate=0.3, epsilon=1e-7), lambda: scalar_adagrad(1.0, 0.3, 1e-7, 0.1)),
    ("rmsprop", dict(learning_rate=0.05, rho=0.8), lambda: scalar_rmsprop(1.0, 0.05, 0.8, 0.0, 1e-7, False)),
    ("rmsprop", dict(learning_rate=0.05, rho=0.8, momentum=0.5),
     lambda: scalar_rmsprop(1.0, 0.05, 0.8, 0.5, 1e-7, False)),
    ("rmsprop", dict(learning_rate=0.05, rho=0.8, centered=True, epsilon=1e-3),
     lambda: scalar_rmsprop(1.0, 0.05, 0.8, 0.0, 1e-3, True)),
    ("rmsprop", dict(learning_rate=0.05, rho=0.8, momentum=0.5, centered=True, epsilon=1e-3),
     lambda: scalar_rmsprop(1.0, 0.05, 0.8, 0.5, 1e-3, True)),
    ("adam", dict(learning_rate=0.01), lambda: scalar_adam(1.0, 0.01, 0.9, 0.999, 1e-7, False)),
    ("adam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.75, epsilon=0.1),
     lambda: scalar_adam(1.0, 0.01, 0.5, 0.75, 0.1, False)),
    ("adam", dict(learning_rate=0.01, amsgrad=True), lambda: scalar_adam(1.0, 0.01, 0.9, 0.999, 1e-7, True)),
]


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("name,kw,expected", SCALAR_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SCALAR_CASES)])
def test_steps_match_scalar_keras_formulas(be, name, kw, expected):
    got32 = run_steps(be, name, [np.ones(5, np.float32)], **kw)
    np.testing.assert_allclose(got32, expected(), rtol=2e-6, atol=2e-7)
    if be is ref:  # the reference also runs in float64, where it must match to rounding
        got64 = run_steps(be, name, [np.ones(5, np.float64)], **kw)
        np.testing.assert_allclose(got64, expected(), rtol=1e-14, atol=1e-15)


def test_hand_computed_momentum_numbers():
    # lr 0.1, momentum 0.9, g = 1 twice: v = -0.1, -0.19; p = 0.9, 0.71; Nesterov p = 0.81, 0.539
    for nesterov, want in ((False, 0.71), (True, 0.539)):
        p, v = [f32([1.0])], [f32([0.0])]
        for _ in range(2):
            fastnn.ops.sgd_update(p, [f32([1.0])], v, learning_rate=0.1, momentum=0.9, nesterov=nesterov)
        np.testing.assert_allclose(v[0], [-0.19], rtol=1e-6)
        np.testing.assert_allclose(p[0], [want], rtol=1e-6)


# ---- C++ against the reference over lists of odd-sized tensors ---------------------------------

SHAPES = [(1,), (3,), (17,), (7, 3), (37, 29), (300, 257)]  # total > the kernels' parallel threshold


def make_case(rng, nstate, positive_state=()):
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    states = []
    for k in range(nstate):
        st = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        if k in positive_state:  # second-moment slots are non-negative in real use
            st = [np.abs(a) + np.float32(0.05) for a in st]
        states.append(st)
    return params, states


def copies(arrays):
    return [a.copy() for a in arrays]


def run_both(update, nstate, positive_state=(), steps=3, seed=0):
    """Run `update(be, params, grads, states, step)` on both backends from the same start."""
    rng = np.random.default_rng(seed)
    params, states = make_case(rng, nstate, positive_state)
    grads_seq = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    out = {}
    for be in (_core, ref):
        p, st = copies(params), [copies(s) for s in states]
        for t, grads in enumerate(grads_seq, start=1):
            update(be, p, grads, st, t)
        out[be] = (p, st)
    (pc, sc), (pr, sr) = out[_core], out[ref]
    for i, (a, b) in enumerate(zip(pc, pr)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"params[{i}] shape {a.shape}")
    for k, (sa, sb) in enumerate(zip(sc, sr)):
        for i, (a, b) in enumerate(zip(sa, sb)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"state {k} [{i}] shape {a.shape}")


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True), (1.0, True)])
def test_sgd_cpp_matches_reference(momentum, nesterov):
    run_both(lambda be, p, g, st, t: be.sgd_update(p, g, st[0] if momentum else None, learning_rate=0.03,
                                                    momentum=momentum, nesterov=nesterov), 1)


def test_adagrad_cpp_matches_reference():
    run_both(lambda be, p, g, st, t: be.adagrad_update(p, g, st[0], learning_rate=0.02, epsilon=1e-7), 1,
             positive_state=(0,))


@pytest.mark.parametrize("momentum", [0.0, 0.7])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_cpp_matches_reference(momentum, centered):
    # centered needs v >= a² for a real square root: start the average gradient at 0
    def update(be, p, g, st, t):
        if t == 1:
            for a in st[2]:
                a[...] = 0
        be.rmsprop_update(p, g, st[0], st[1] if momentum else None, st[2] if centered else None,
                          learning_rate=0.01, rho=0.85, momentum=momentum, epsilon=1e-6, centered=centered)
    run_both(update, 3, positive_state=(0,))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_cpp_matches_reference(amsgrad):
    run_both(lambda be, p, g, st, t: be.adam_update(p, g, st[0], st[1], learning_rate=0.01, step=t + 4,
                                                     beta_1=0.8, beta_2=0.95, amsgrad=amsgrad,
                                                     v_hats=st[2] if amsgrad else None), 3, positive_state=(1, 2))


def test_adadelta_adamax_nadam_lion_cpp_match_reference():
    run_both(lambda be, p, g, st, t: be.adadelta_update(p, g, st[0], st[1], learning_rate=0.7, rho=0.85,
                                                         epsilon=1e-6), 2, positive_state=(0, 1))
    run_both(lambda be, p, g, st, t: be.adamax_update(p, g, st[0], st[1], learning_rate=0.01, step=t + 2,
                                                       beta_1=0.8, beta_2=0.95), 2, positive_state=(1,))
    run_both(lambda be, p, g, st, t: be.nadam_update(p, g, st[0], st[1], learning_rate=0.01, step=t,
                                                      u_product=0.9 ** t * 0.5, beta_1=0.8, beta_2=0.95), 2,
             positive_state=(1,))
    run_both(lambda be, p, g, st, t: be.lion_update(p, g, st[0], learning_rate=0.01, beta_1=0.8, beta_2=0.9), 1)


def test_nan_gradients_propagate_in_adamax_and_lion():
    for be in (_core, ref):
        p, m, u = [f32([1.0, 1.0])], [f32([0.0, 0.0])], [f32([5.0, 0.0])]
        be.adamax_update(p, [f32([np.nan, 1.0])], m, u, learning_rate=0.1, step=1)
        assert np.isnan(u[0][0]) and np.isnan(p[0][0]) and np.isfinite(p[0][1])
        p, m = [f32([1.0, 1.0, 1.0])], [f32([0.0, 0.0, 0.0])]
        be.lion_update(p, [f32([np.nan, 0.0, -2.0])], m, learning_rate=0.1)
        assert np.isnan(p[0][0]) and p[0][1] == 1.0 and p[0][2] == pytest.approx(1.1)


@pytest.mark.parametrize("be", BACKENDS)
def test_more_update_errors(be):
    p, g = [f32([1.0])], [f32([1.0])]
    with pytest.raises(ValueError, match=r"nadam_update: u_product must be in \[0, 1\).*Received: u_product=1"):
        be.nadam_update(p, g, [f32([0.0])], [f32([0.0])], learning_rate=0.1, step=1, u_product=1.0)
    with pytest.raises(ValueError, match=r"adamax_update: step must be >= 1 \(Keras's iterations \+ 1\)"):
        be.adamax_update(p, g, [f32([0.0])], [f32([0.0])], learning_rate=0.1, step=0)
    with pytest.raises(ValueError, match=r"adadelta_update: accumulated_deltas must have one entry per parameter"):
        be.adadelta_update(p, g, [f32([0.0])], [], learning_rate=0.1)
    with pytest.raises(ValueError, match=r"lion_update: beta_2 must be in \[0, 1\]"):
        be.lion_update(p, g, [f32([0.0])], learning_rate=0.1, beta_2=1.5)


def test_adam_independent_of_thread_count():
    rng = np.random.default_rng(3)
    params, (m, v) = make_case(rng, 2, positive_state=(1,))
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    results = []
    old = fastnn.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            p, mm, vv = copies(params), copies(m), copies(v)
            _core.adam_update(p, grads, mm, vv, learning_rate=0.01, step=2)
            results.append(p + mm + vv)
    finally:
        fastnn.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_converted_grads_and_empty_lists():
    # float64 / integer grads are read-only inputs: converted, not rejected
    p = [f32([1.0, 2.0])]
    _core.sgd_update(p, [np.array([1, 2])], learning_rate=0.5)
    np.testing.assert_array_equal(p[0], [0.5, 1.0])
    _core.sgd_update(p, [np.array([1.0, 2.0])], learning_rate=0.5)
    np.testing.assert_array_equal(p[0], [0.0, 0.0])
    for be in (_core, ref):
        assert be.adam_update([], [], [], [], learning_rate=0.1, step=1) is None
        assert be.sgd_update((np.zeros(0, np.float32),), (np.zeros(0),), learning_rate=0.1) is None


def test_subnormal_momentum_still_updates_the_velocities():
    # the kernels run with denormals read as 0; a momentum of 1e-40 is > 0 for the binding, which
    # then passes velocities, and they must be updated (v = m·v - lr·g), as the reference does
    for be in (_core, ref):
        p, v = [f32([1.0, 2.0, 3.0])], [f32([5.0, 5.0, 5.0])]
        be.sgd_update(p, [f32([1.0, 1.0, 1.0])], v, learning_rate=0.5, momentum=1e-40)
        np.testing.assert_allclose(v[0], [-0.5, -0.5, -0.5], atol=1e-30)
        np.testing.assert_allclose(p[0], [0.5, 1.5, 2.5])


@pytest.mark.parametrize("n", [1 << 14, 1 << 22])  # a block malloc reuses, and an mmap'ed one (a crash)
def test_gradient_conversion_dropping_the_parameters(n):
    """A gradient's __array__ runs Python code after the parameters are checked; if it drops the
    caller's last reference to a parameter array, the update must still go to that array (kept
    alive by the op), never into freed memory that a new array may now own."""
    params = [np.zeros(n, np.float32)]
    ms, vs = [np.zeros(n, np.float32)], [np.zeros(n, np.float32)]
    bystanders = []

    class DroppingGradient:
        def __array__(self, dtype=None, copy=None):
            params.clear()
            bystanders.append(np.full(n, 7.0, np.float32))  # may reuse the freed block
            return np.ones(n, np.float32)

    _core.sgd_update(params, [DroppingGradient()], learning_rate=1.0)
    params.append(np.zeros(n, np.float32))
    _core.adam_update(params, [DroppingGradient()], ms, vs, learning_rate=1.0, step=1)
    for array in bystanders:
        assert (array == 7.0).all()


def test_ops_dispatch_to_both_backends():
    for backend in ("cpp", "numpy"):
        with fastnn.backend(backend):
            p, m, v = [f32([1.0])], [f32([0.0])], [f32([0.0])]
            assert fastnn.ops.adam_update(p, [f32([2.0])], m, v, learning_rate=0.1, step=1) is None
            np.testing.assert_allclose(p[0], [0.9], rtol=1e-5)


# ---- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("be", BACKENDS)
def test_errors(be):
    p = [np.zeros(3, np.float32), np.zeros((2, 2), np.float32)]
    g = [np.zeros(3, np.float32), np.zeros((2, 2), np.float32)]
    s = lambda: [np.zeros(3, np.float32), np.zeros((2, 2), np.float32)]  # noqa: E731
    kw = dict(learning_rate=0.1, step=1)
    with pytest.raises(ValueError, match=r"adam_update: grads must have one entry per parameter \(len\(params\)=2\)"
                                         r"\. Received: len\(grads\)=1"):
        be.adam_update(p, g[:1], s(), s(), **kw)
    with pytest.raises(ValueError, match=r"adam_update: vs must have one entry per parameter .* len\(vs\)=3"):
        be.adam_update(p, g, s(), s() + [np.zeros(1, np.float32)], **kw)
    with pytest.raises(ValueError, match=r"adam_update: grads\[1\] must have params\[1\]'s shape \(2, 2\)\. "
                                         r"Received: grads\[1\]\.shape=\(4,\)"):
        be.adam_update(p, [g[0], np.zeros(4, np.float32)], s(), s(), **kw)
    with pytest.raises(ValueError, match=r"adam_update: ms\[0\] must have shape \(3,\)\. Received: ms\[0\]\.shape=\(1, 3\)"):
        be.adam_update(p, g, [np.zeros((1, 3), np.float32), s()[1]], s(), **kw)
    with pytest.raises(TypeError, match=r"adam_update: vs\[1\] is written in place and must be float32\. "
                                        r"Received: vs\[1\]\.dtype=float64"):
        be.adam_update(p, g, s(), [s()[0], np.zeros((2, 2))], **kw)
    with pytest.raises(TypeError, match=r"adam_update: params\[0\] is written in place and must be a float32 ndarray"):
        be.adam_update([[0.0, 0.0, 0.0], p[1]], g, s(), s(), **kw)
    with pytest.raises(ValueError, match=r"sgd_update: params\[0\] is written in place and must be C-contiguous"):
        be.sgd_update([np.zeros((4, 3), np.float32).T], [np.zeros((3, 4))], learning_rate=0.1)
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"sgd_update: params\[0\] is written in place but is read-only"):
        be.sgd_update([ro], [np.zeros(3)], learning_rate=0.1)
    with pytest.raises(TypeError, match=r"adagrad_update: grads\[0\] must hold real numbers"):
        be.adagrad_update(p[:1], [np.array(["a", "b", "c"])], s()[:1], learning_rate=0.1)
    with pytest.raises(TypeError, match=r"sgd_update: params must be a list of arrays"):
        be.sgd_update(p[0], g[0], learning_rate=0.1)
    with pytest.raises(ValueError, match=r"sgd_update: velocities is required when momentum > 0\. Received: velocities=None"):
        be.sgd_update(p, g, learning_rate=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"rmsprop_update: average_grads is required when centered=True"):
        be.rmsprop_update(p, g, s(), learning_rate=0.1, centered=True)
    with pytest.raises(ValueError, match=r"rmsprop_update: momentums is required when momentum > 0"):
        be.rmsprop_update(p, g, s(), learning_rate=0.1, momentum=0.5)
    with pytest.raises(ValueError, match=r"adam_update: v_hats is required when amsgrad=True"):
        be.adam_update(p, g, s(), s(), amsgrad=True, **kw)
    ms = s()
    with pytest.raises(ValueError, match=r"adam_update: ms\[1\] and vs\[1\] share memory, and both are written"):
        be.adam_update(p, g, ms, [s()[0], ms[1]], **kw)
    # views of one buffer that overlap without being the same array (the fuzzer's case: the
    # velocity one float past the parameter), and a gradient that is a written slot
    buf = np.arange(1, 6, dtype=np.float32)
    with pytest.raises(ValueError, match=r"sgd_update: params\[0\] and velocities\[0\] share memory, and both"):
        be.sgd_update([buf[:4]], [np.ones(4, np.float32)], [buf[1:]], learning_rate=0.1, momentum=0.9)
    ms = s()
    with pytest.raises(ValueError, match=r"adam_update: ms\[0\] and grads\[0\] share memory, "
                                         r"and one is written"):
        be.adam_update(p, [ms[0], g[1]], ms, s(), **kw)
    halves = np.zeros(2 * p[0].size, np.float32)  # adjacent, not overlapping: fine
    be.sgd_update([p[0]], [g[0]], [halves[:p[0].size].reshape(p[0].shape)], learning_rate=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"adam_update: step must be >= 1 .* Received: step=0"):
        be.adam_update(p, g, s(), s(), learning_rate=0.1, step=0)
    with pytest.raises(TypeError, match=r"adam_update: step must be an int"):
        be.adam_update(p, g, s(), s(), learning_rate=0.1, step=1.0)
    with pytest.raises(ValueError, match=r"adam_update: beta_1 must be in \[0, 1\)\. Received: beta_1=1"):
        be.adam_update(p, g, s(), s(), beta_1=1.0, **kw)
    # below 1 as a double but 1.0 in the float32 kernels: 1 - beta_1**step = 0 made the parameters NaN in C++
    # (silently) and raised a bare ZeroDivisionError in the reference
    before = [a.copy() for a in p]
    with pytest.raises(ValueError, match=r"adam_update: beta_1 must be in \[0, 1\), also in float32 \(it rounds to "
                                         r"1\)\. Received: beta_1=0\.999999999"):
        be.adam_update(p, g, s(), s(), beta_1=1 - 1e-9, **kw)
    for a, b in zip(p, before):
        np.testing.assert_array_equal(a, b)
    be.adam_update(p, g, s(), s(), beta_1=float(np.nextafter(np.float32(1), np.float32(0))), **kw)  # the largest below 1
    with pytest.raises(ValueError, match=r"sgd_update: momentum must be in \[0, 1\]\. Received: momentum=1\.5"):
        be.sgd_update(p, g, s(), learning_rate=0.1, momentum=1.5)
    with pytest.raises(ValueError, match=r"sgd_update: learning_rate must be a finite number\. Received: learning_rate=nan"):
        be.sgd_update(p, g, learning_rate=float("nan"))
    with pytest.raises(ValueError, match=r"adagrad_update: epsilon must be a finite number >= 0\. Received: epsilon=-1"):
        be.adagrad_update(p, g, s(), learning_rate=0.1, epsilon=-1.0)
    with pytest.raises(TypeError):
        be.adam_update(p, g, s(), s(), learning_rate=0.1)  # step is a required keyword
    # nothing was modified by the failed calls
    assert all(not a.any() for a in p)
