"""Optimizers and learning-rate schedules: golden steps against Keras 3's formulas written out by
hand, defaults, aliases, clipping, schedules and bad arguments."""

import math
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import optimizers
from fastnn.layers import Dense
from fastnn.models import Sequential
from fastnn.optimizers import SGD, Adagrad, Adam, RMSprop, schedules

P0 = [1.0, -2.0, 0.5, 0.0]
G1 = [0.1, -0.3, 2.0, 1e-3]
G2 = [-0.2, 0.4, 1.0, 0.0]


def run(opt, grads_per_step, p0=P0):
    """Apply ``opt`` to one float32 parameter for each gradient in turn; return it as float64."""
    p = np.array(p0, np.float32)
    for g in grads_per_step:
        opt.apply([np.array(g, np.float32)], [p])
    return p.astype(np.float64)


def expect(rule, steps, p0=P0, **state):
    """Apply the hand-written scalar ``rule(p, g, t, state)`` elementwise for each step."""
    out = []
    for i, p in enumerate(p0):
        st = {k: (v[i] if isinstance(v, list) else v) for k, v in state.items()}
        for t, g in enumerate(steps, start=1):
            p = rule(p, g[i], t, st)
        out.append(p)
    return np.array(out)


def check(opt, rule, steps=(G1, G2), **state):
    np.testing.assert_allclose(run(opt, steps), expect(rule, steps, **state), rtol=2e-6, atol=1e-7)


def test_sgd_plain():
    check(SGD(learning_rate=0.1), lambda p, g, t, s: p - 0.1 * g)


def test_sgd_momentum_and_nesterov():
    def momentum(p, g, t, s):
        s["v"] = 0.9 * s["v"] - 0.1 * g
        return p + s["v"]

    def nesterov(p, g, t, s):
        s["v"] = 0.9 * s["v"] - 0.1 * g
        return p + 0.9 * s["v"] - 0.1 * g

    check(SGD(learning_rate=0.1, momentum=0.9), momentum, v=0.0)
    check(SGD(learning_rate=0.1, momentum=0.9, nesterov=True), nesterov, v=0.0)


def test_adagrad_accumulator_starts_at_0_1_epsilon_inside_sqrt():
    def rule(p, g, t, s):
        s["a"] += g * g
        return p - 0.1 * g / math.sqrt(s["a"] + 1e-7)

    check(Adagrad(learning_rate=0.1), rule, a=0.1)


def test_rmsprop_plain_centered_momentum():
    def plain(p, g, t, s):
        s["v"] = 0.9 * s["v"] + 0.1 * g * g
        return p - 0.1 * g / math.sqrt(s["v"] + 1e-7)

    def centered(p, g, t, s):
        s["v"] = 0.9 * s["v"] + 0.1 * g * g
        s["a"] = 0.9 * s["a"] + 0.1 * g
        return p - 0.1 * g / math.sqrt(s["v"] - s["a"] ** 2 + 1e-7)

    def momentum(p, g, t, s):
        s["v"] = 0.9 * s["v"] + 0.1 * g * g
        s["m"] = 0.5 * s["m"] + 0.1 * g / math.sqrt(s["v"] + 1e-7)
        return p - s["m"]

    check(RMSprop(learning_rate=0.1), plain, v=0.0)
    check(RMSprop(learning_rate=0.1, centered=True), centered, v=0.0, a=0.0)
    check(RMSprop(learning_rate=0.1, momentum=0.5), momentum, v=0.0, m=0.0)
    # Keras's docstring example: var 10, loss var²/2, one step at lr 0.1 -> 9.683772
    assert run(RMSprop(learning_rate=0.1), [[10.0]], p0=[10.0])[0] == pytest.approx(9.683772, abs=1e-6)


def test_adam_bias_correction_epsilon_outside_sqrt():
    def rule(p, g, t, s, amsgrad=False):
        s["m"] += (g - s["m"]) * 0.1
        s["v"] += (g * g - s["v"]) * 0.001
        v = s["v"]
        if amsgrad:
            s["vh"] = max(s["vh"], v)
            v = s["vh"]
        alpha = 0.01 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        return p - s["m"] * alpha / (math.sqrt(v) + 1e-7)

    check(Adam(learning_rate=0.01), rule, m=0.0, v=0.0)
    check(Adam(learning_rate=0.01, amsgrad=True), lambda p, g, t, s: rule(p, g, t, s, True), m=0.0, v=0.0, vh=0.0)


def test_keras_defaults_and_state_slots():
    assert SGD().learning_rate == 0.01 and SGD().momentum == 0.0 and not SGD().nesterov
    adam = Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    rms = RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    ada = Adagrad()
    assert (ada.learning_rate, ada.initial_accumulator_value, ada.epsilon) == (0.001, 0.1, 1e-7)
    params = [np.zeros((3, 4), np.float32), np.zeros(4, np.float32)]
    adam.build(params)
    assert len(adam.variables) == 4
    for slot in adam.variables:
        assert slot.dtype == np.float32 and slot.flags.c_contiguous
    rms = RMSprop(centered=True, momentum=0.1)
    rms.build(params)
    assert len(rms.variables) == 6 and len(RMSprop().variables) == 0
    sgd = SGD(momentum=0.0)
    sgd.build(params)
    assert sgd.variables == []


def test_aliases_and_legacy_arguments():
    assert SGD(lr=0.2).learning_rate == 0.2 and SGD(lr=0.2).lr == 0.2
    for name, cls in [("sgd", SGD), ("adam", Adam), ("RMSprop", RMSprop), ("Adagrad", Adagrad)]:
        assert isinstance(optimizers.get(name), cls)
    opt = SGD(learning_rate=1.0, decay=0.5)
    p = np.zeros(1, np.float32)
    opt.apply([np.ones(1, np.float32)], [p])
    opt.apply([np.ones(1, np.float32)], [p])
    assert p[0] == pytest.approx(-(1.0 + 1.0 / 1.5))
    opt = Adam(learning_rate=0.003, amsgrad=True, clipnorm=2.0)
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert type(clone) is Adam and clone.get_config() == opt.get_config()


@pytest.mark.parametrize("make,match", [
    (lambda: SGD(momentum=1.5), "momentum"),
    (lambda: SGD(learning_rate=-1.0), "learning_rate"),
    (lambda: Adam(beta_1=2), "beta_1"),
    (lambda: SGD(clipnorm=1.0, clipvalue=1.0), "only one of"),
    (lambda: Adam(foo=1), "unexpected keyword"),
    (lambda: optimizers.get("lambda"), "Unknown optimizer"),
    (lambda: optimizers.AdamW(weight_decay=None), "AdamW: weight_decay must be a number"),
    (lambda: optimizers.Lion(beta_1=0.0), r"Lion: beta_1 must be in \(0, 1\]"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_clipping():
    g = [np.array([3.0, 4.0], np.float32)]
    p = np.zeros(2, np.float32)
    SGD(learning_rate=1.0, clipnorm=1.0).apply(g, [p])
    np.testing.assert_allclose(p, [-0.6, -0.8], rtol=1e-6)
    p = np.zeros(2, np.float32)
    SGD(learning_rate=1.0, clipvalue=3.5).apply(g, [p])
    np.testing.assert_allclose(p, [-3.0, -3.5])
    ps = [np.zeros(2, np.float32), np.zeros(1, np.float32)]
    SGD(learning_rate=1.0, global_clipnorm=6.5).apply(g + [np.array([12.0], np.float32)], ps)
    np.testing.assert_allclose(np.concatenate(ps), -0.5 * np.array([3.0, 4.0, 12.0]), rtol=1e-6)


def test_schedules():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == 0.1 and s(5) == pytest.approx(0.1 * 0.5 ** 0.5) and s(20) == pytest.approx(0.025)
    assert schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)(19) == pytest.approx(0.05)
    pw = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pw(0), pw(10), pw(11), pw(20), pw(21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    assert schedules.InverseTimeDecay(1.0, 1, 1.0)(3) == 0.25
    assert schedules.CosineDecay(1.0, 10)(10) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="one more than the number of boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
    # the optimizer evaluates its schedule at the number of updates applied so far
    opt = SGD(learning_rate=schedules.PiecewiseConstantDecay([0], [1.0, 0.5]))
    p = np.zeros(1, np.float32)
    opt.apply([np.ones(1, np.float32)], [p])
    assert opt.learning_rate == 0.5 and p[0] == -1.0
    opt.apply([np.ones(1, np.float32)], [p])
    assert p[0] == -1.5 and opt.iterations == 2
    config = optimizers.serialize(SGD(learning_rate=s))
    assert isinstance(optimizers.deserialize(config)._lr, schedules.ExponentialDecay)


def test_one_model_step_is_the_sgd_rule():
    fastnn.set_random_seed(0)
    model = Sequential([Dense(5, activation="tanh", input_shape=(4,)), Dense(3, activation="softmax")])
    model.compile(SGD(learning_rate=0.3), "categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((8, 4), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    before = model.get_weights()
    _, _, grads = model._gradients(x, y, None)
    model.set_weights(before)
    model.train_on_batch(x, y)
    for w0, g, w1 in zip(before, grads, model.get_weights()):
        np.testing.assert_allclose(w1, w0 - 0.3 * g, rtol=1e-5, atol=1e-7)


def test_the_numpy_backend_runs_the_same_updates():
    steps = [G1, G2]
    for make in (lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adam(0.01), lambda: RMSprop(0.1, centered=True),
                 lambda: Adagrad(0.1)):
        cpp = run(make(), steps)
        with fastnn.backend("numpy"):
            ref = run(make(), steps)
        np.testing.assert_allclose(cpp, ref, rtol=1e-6, atol=1e-7)


def test_optimizer_updates_part_of_its_parameters_and_skips_missing_gradients():
    rng = np.random.default_rng(8)
    a, b, c = (rng.standard_normal(4).astype("float32") for _ in range(3))
    b_alone = b.copy()
    g1, g2 = rng.standard_normal(4).astype("float32"), rng.standard_normal(4).astype("float32")
    both, alone = fastnn.optimizers.Adam(0.1), fastnn.optimizers.Adam(0.1)
    both.apply([g1, g1], [a, b])
    alone.apply([g1], [b_alone])
    a_after = a.copy()
    both.apply([g2], [b])  # b keeps its moments from the first step
    alone.apply([g2], [b_alone])
    np.testing.assert_array_equal(b, b_alone)
    np.testing.assert_array_equal(a, a_after)
    with pytest.warns(UserWarning, match=r"gradients do not exist for the parameters of shapes \[\(4,\)\]"):
        both.apply([None, g2], [a, c])  # c is new: its own fresh state
    np.testing.assert_array_equal(a, a_after)
    assert len(both.variables) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both.apply_gradients(zip([g1, g1, g1], [a, b, c]))
    with pytest.raises(ValueError, match="no gradients provided for any of the 2 parameters"):
        both.apply([None, None], [a, b])


# ---- Adadelta, Adamax, Nadam, AdamW, Lion: Keras 3's own test numbers (keras/src/optimizers/*_test.py)

def _golden_rows(first, rows):
    return [[v] * 10 if not isinstance(v, list) else v for v in [first] + rows]


KERAS_GOLDENS = {
    "Nadam": (lambda: optimizers.Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5), [
        [0.4281] * 10,
        [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
        [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
        [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
        [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454]]),
    "Adamax": (lambda: optimizers.Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6), [
        [0.8] * 10,
        [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
        [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
        [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
        [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126]]),
    "Adadelta": (lambda: optimizers.Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6),
                 [[v] * 10 for v in (0.9978, 0.9947, 0.9915, 0.9882, 0.9849)]),
    "Lion": (lambda: optimizers.Lion(), [[v] * 10 for v in (0.999, 0.998, 0.997, 0.996, 0.995)]),
    "AdamW": (lambda: optimizers.AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2), [
        [0.4998] * 10,
        [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
        [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
        [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
        [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159]]),
}

KERAS_SINGLE_STEPS = {  # learning_rate=0.5, grads [1, 6, 7, 2] on [1, 2, 3, 4]
    "Nadam": [0.4686, 1.4686, 2.4686, 3.4686], "Adamax": [0.5, 1.5, 2.5, 3.5],
    "Adadelta": [0.9993, 1.9993, 2.9993, 3.9993], "Lion": [0.5, 1.5, 2.5, 3.5],
    "AdamW": [0.4980, 1.4960, 2.494, 3.492],
}


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("name", sorted(KERAS_GOLDENS))
def test_more_optimizers_keras_goldens(name, backend):
    make, golden = KERAS_GOLDENS[name]
    with fastnn.backend(backend):
        opt = make()
        x = np.ones(10, np.float32)
        opt.apply([np.full(10, 0.01, np.float32)], [x])
        grads = np.arange(1, 11, dtype=np.float32) / 10
        for row in golden:
            np.testing.assert_allclose(x, row, rtol=5e-4, atol=5e-4)
            opt.apply([grads], [x])
        single = getattr(optimizers, name)(learning_rate=0.5)
        x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
        single.apply([np.array([1.0, 6.0, 7.0, 2.0], np.float32)], [x])
        np.testing.assert_allclose(x, KERAS_SINGLE_STEPS[name], rtol=1e-4, atol=1e-4)
        # Keras's weight-decay test: a zero gradient, decay 0.004 at learning rate 1, applied three times
        decayed = getattr(optimizers, name)(learning_rate=1.0, weight_decay=0.004)
        w = np.array(2.0, np.float32).reshape(1)
        for _ in range(3):
            decayed.apply([np.zeros(1, np.float32)], [w])
        assert w[0] == pytest.approx(1.9760959, abs=1e-6)


def test_nadam_momentum_schedule_by_hand():
    """Nadam's rule written out in float64 for one scalar over four steps."""
    b1, b2, eps, lr = 0.9, 0.999, 1e-7, 0.01

    def rule(p, g, t, s):
        u_t, u_next = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        s["u"] = s["u"] * u_t
        s["m"] += (g - s["m"]) * (1 - b1)
        s["v"] += (g * g - s["v"]) * (1 - b2)
        m_hat = u_next * s["m"] / (1 - s["u"] * u_next) + (1 - u_t) * g / (1 - s["u"])
        return p - lr * m_hat / (math.sqrt(s["v"] / (1 - b2 ** t)) + eps)

    check(optimizers.Nadam(learning_rate=lr), rule, steps=(G1, G2, G1, G2), m=0.0, v=0.0, u=1.0)


def test_more_optimizers_train_a_model_and_round_trip_their_config():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)).astype(np.float32)
    for name, lr in (("Adadelta", 1.0), ("Adamax", 0.05), ("Nadam", 0.05), ("AdamW", 0.05), ("Lion", 0.01)):
        fastnn.set_random_seed(0)
        model = Sequential([Dense(1, input_shape=(4,))])
        model.compile(optimizers.get(name.lower()).__class__(learning_rate=lr), "mse")
        history = model.fit(x, y, epochs=20, batch_size=16, verbose=0).history["loss"]
        assert history[-1] < 0.9 * history[0], (name, history[0], history[-1])
        opt = model.optimizer
        clone = optimizers.deserialize(optimizers.serialize(opt))
        assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
        assert opt.get_config()["name"] == name.lower()



@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion", "adamw"])
def test_float64_variables_are_updated_in_float64(name):
    # tf.Variable(np.random.randn(3)) is float64, as in TensorFlow; Keras 3 updates a variable in its dtype
    import fastnn

    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal(5), rng.standard_normal((3, 5))
    w64, w32 = fastnn.Variable(start.copy()), fastnn.Variable(start.astype(np.float32))
    opt64, opt32 = fastnn.optimizers.get(name), fastnn.optimizers.get(name)
    for g in grads:
        opt64.apply_gradients([(g, w64)])
        opt32.apply_gradients([(g.astype(np.float32), w32)])
    assert w64.dtype == np.float64 and w32.dtype == np.float32
    np.testing.assert_allclose(w64.numpy(), w32.numpy(), rtol=1e-5, atol=1e-6)  # the same rule, in each dtype
    assert np.abs(w64.numpy() - start).max() > 1e-7  # (it moved: Adadelta's default steps are tiny)


def test_a_schedule_built_optimizer_refuses_a_number_as_learning_rate():
    # Keras's rule: setting a number (ReduceLROnPlateau, LearningRateScheduler) would drop the schedule
    import fastnn

    schedule = fastnn.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
    opt = fastnn.optimizers.SGD(schedule)
    with pytest.raises(TypeError, match="created with a `LearningRateSchedule` .*not settable"):
        opt.learning_rate = 0.01
    assert opt._lr is schedule
    opt.learning_rate = fastnn.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)  # a schedule may
    plain = fastnn.optimizers.SGD(0.1)
    plain.learning_rate = 0.01
    assert float(plain.learning_rate) == pytest.approx(0.01)


def test_minimize_and_exclude_from_weight_decay():
    import fastnn

    v = fastnn.Variable(np.array([2.0]))
    opt = SGD(0.1)
    for _ in range(3):
        opt.minimize(lambda: (v - 5.0) ** 2, var_list=[v])  # tf.keras 2's step: d/dv = 2 (v - 5)
    want = 2.0
    for _ in range(3):
        want -= 0.1 * 2 * (want - 5.0)
    np.testing.assert_allclose(v.numpy(), [want])
    with fastnn.GradientTape() as tape:
        loss = (v - 5.0) ** 2
    opt.minimize(loss, var_list=lambda: [v], tape=tape)  # a tensor, with its tape
    np.testing.assert_allclose(v.numpy(), [want - 0.1 * 2 * (want - 5.0)])
    with pytest.raises(ValueError, match="minimize: `tape` is required"):
        opt.minimize(loss, var_list=[v])

    model = Sequential([fastnn.layers.Input((3,)), Dense(2, bias_initializer="ones")])
    adamw = optimizers.AdamW(0.1, weight_decay=0.5)
    adamw.exclude_from_weight_decay(var_names=["bias"])
    kernel, bias = (w.copy() for w in model.trainable_weights)
    adamw.apply_gradients(zip([np.zeros((3, 2), np.float32), np.zeros(2, np.float32)], model.trainable_weights))
    np.testing.assert_allclose(model.trainable_weights[0], kernel * (1 - 0.1 * 0.5), rtol=1e-6)  # decayed
    np.testing.assert_array_equal(model.trainable_weights[1], bias)  # excluded
    # a new call replaces the choice (Keras 3), also once built: now the bias decays, the kernel not
    adamw.exclude_from_weight_decay(var_names=["kernel"])
    kernel, bias = (w.copy() for w in model.trainable_weights)
    adamw.apply_gradients(zip([np.zeros((3, 2), np.float32), np.zeros(2, np.float32)], model.trainable_weights))
    np.testing.assert_array_equal(model.trainable_weights[0], kernel)
    np.testing.assert_allclose(model.trainable_weights[1], bias * (1 - 0.1 * 0.5), rtol=1e-6)


def test_an_optimizer_written_to_keras_3s_api():
    # build() with add_variable_from_reference, update_step() with assign/assign_add: a momentum SGD
    from fastnn import keras

    class MomentumSGD(keras.optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, momentum=0.9, name="momentum_sgd", **kwargs):
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)
            self.momentum = momentum

        def build(self, var_list):
            super().build(var_list)
            self.velocities = [self.add_variable_from_reference(v, "velocity") for v in var_list]

        def update_step(self, gradient, variable, learning_rate):
            v = self.velocities[self._get_variable_index(variable)]
            self.assign(v, self.momentum * v - learning_rate * gradient)
            self.assign_add(variable, v)

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    weights = []
    custom = MomentumSGD(0.05, 0.9)
    for opt in (custom, SGD(0.05, momentum=0.9)):
        fastnn.set_random_seed(1)
        model = Sequential([fastnn.layers.Input((4,)), Dense(3, activation="tanh"), Dense(1)])
        model.compile(optimizer=opt, loss="mse")
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # the same rule as the built-in
    assert [v.shape for v in custom.variables] == [(4, 3), (3,), (3, 1), (1,)]  # its velocities


def test_ftrl_matches_keras_golden_values():
    import fastnn as tf

    v = tf.Variable([1.0, 2.0, 3.0, 4.0])
    tf.keras.optimizers.Ftrl(learning_rate=0.5).apply_gradients(zip([np.array([1.0, 6.0, 7.0, 2.0])], [v]))
    np.testing.assert_allclose(v.numpy(), [0.2218, 1.3954, 2.3651, 2.8814], rtol=1e-4, atol=1e-4)
    # Keras's test_correctness_with_golden: every regularizer on
    opt = tf.keras.optimizers.Ftrl(learning_rate=0.05, learning_rate_power=-0.2, initial_accumulator_value=0.4,
                                   l1_regularization_strength=0.05, l2_regularization_strength=0.15,
                                   l2_shrinkage_regularization_strength=0.01, beta=0.3)
    x = tf.Variable(np.ones(10))
    golden = [[0.0] * 10,
              [-0.0034, -0.0077, -0.0118, -0.0157, -0.0194, -0.023, -0.0263, -0.0294, -0.0325, -0.0354],
              [-0.0078, -0.0162, -0.0242, -0.0317, -0.0387, -0.0454, -0.0516, -0.0575, -0.0631, -0.0685],
              [-0.0121, -0.0246, -0.0363, -0.0472, -0.0573, -0.0668, -0.0757, -0.0842, -0.0922, -0.0999],
              [-0.0164, -0.0328, -0.0481, -0.0623, -0.0753, -0.0875, -0.099, -0.1098, -0.1201, -0.1299]]
    opt.apply_gradients(zip([np.full(10, 0.01)], [x]))
    for row in golden:
        np.testing.assert_allclose(x.numpy(), row, rtol=5e-4, atol=5e-4)
        opt.apply_gradients(zip([np.arange(0.1, 1.1, 0.1)], [x]))
    assert tf.keras.optimizers.get("ftrl").get_config()["learning_rate_power"] == -0.5
    with pytest.raises(ValueError, match="`learning_rate_power` needs to be negative or zero"):
        tf.keras.optimizers.Ftrl(learning_rate_power=0.5)


def test_use_ema_matches_keras():
    # Keras's test_ema: the average starts at the weights after the first step, and every third step
    # overwrites the weights with it
    import fastnn as tf

    v = tf.Variable([[3.0, 4.0], [5.0, 6.0]])
    grads = np.ones((2, 2), np.float32)
    opt = tf.keras.optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=3)
    opt.apply_gradients([(grads, v)])
    np.testing.assert_allclose(v.numpy(), [[2.0, 3.0], [4.0, 5.0]])
    opt.apply_gradients([(grads, v)])
    np.testing.assert_allclose(v.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    opt.apply_gradients([(grads, v)])
    np.testing.assert_allclose(v.numpy(), [[1.71, 2.71], [3.71, 4.71]], rtol=1e-6)
    # test_ema_with_model_fit: fit ends with the weights at their moving average
    model = Sequential([Dense(2, kernel_initializer="ones", use_bias=False, input_shape=(1,))])
    model.compile(loss="mse", optimizer=tf.keras.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.9))
    model.fit(np.ones((1, 1), np.float32), np.zeros((1, 2), np.float32), batch_size=1, epochs=2, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], [[0.891, 0.891]], atol=1e-5)
    assert model.optimizer.get_config()["use_ema"] is True
    with pytest.raises(ValueError, match="ema_momentum"):
        tf.keras.optimizers.Adam(use_ema=True, ema_momentum=1.5)
    # Keras 3 averages the weights as updated, then applies their constraints: the average is of the
    # unconstrained values (NonNeg: the average may be negative), and NonNeg gives 0.0, not -0.0
    w = tf.Variable(np.array([1.0, -0.5], np.float32), constraint=tf.keras.constraints.NonNeg())
    opt = tf.keras.optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    for _ in range(2):
        opt.apply_gradients([(np.array([1.0, -1.0], np.float32), w)])
    assert w.numpy().tolist() == [0.0, 1.5] and not np.signbit(w.numpy()).any()
    opt.finalize_variable_values([w])
    np.testing.assert_allclose(w.numpy(), [-0.5, 1.0])


def test_apply_without_variables_uses_the_built_ones_and_a_non_finite_global_norm_gives_nans():
    import fastnn as tf

    v = tf.Variable(np.ones(2, np.float32))
    opt = tf.keras.optimizers.SGD(learning_rate=0.5)
    with pytest.raises(ValueError, match="call optimizer.build\\(variables\\) first"):
        opt.apply([np.ones(2, np.float32)])
    opt.build([v])  # Keras 3's build-once-then-apply(grads) loop
    opt.apply([np.array([1.0, 2.0], np.float32)])
    opt.apply([np.array([1.0, 2.0], np.float32)])
    np.testing.assert_allclose(v.numpy(), [0.0, -1.0])
    assert int(opt.iterations) == 2
    # Keras's clip_by_global_norm makes every gradient NaN when the norm is not finite (the finite
    # ones were scaled to 0, so the weights they belong to did not show the problem)
    a, b = tf.Variable(np.ones(2, np.float32)), tf.Variable(np.ones(2, np.float32))
    clipped = tf.keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0)
    clipped.apply_gradients([(np.array([np.inf, 1.0], np.float32), a), (np.array([1.0, 1.0], np.float32), b)])
    assert np.isnan(a.numpy()).all() and np.isnan(b.numpy()).all()


def test_gradient_accumulation_and_loss_scale_factor_as_keras_3():
    import fastnn as tf

    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(3).astype(np.float32) for _ in range(4)]
    accumulating, plain = tf.Variable(np.ones(3, np.float32)), tf.Variable(np.ones(3, np.float32))
    opt = tf.keras.optimizers.Adam(0.1, gradient_accumulation_steps=2)
    ref = tf.keras.optimizers.Adam(0.1)
    for k, g in enumerate(grads):
        before = accumulating.numpy().copy()
        opt.apply_gradients([(g, accumulating)])
        if k % 2 == 0:  # (an accumulating call: no update)
            np.testing.assert_array_equal(accumulating.numpy(), before)
        else:  # an update with the mean of the two calls' gradients, Adam's step counted once
            ref.apply_gradients([((grads[k - 1] + g) / 2, plain)])
            np.testing.assert_allclose(accumulating.numpy(), plain.numpy(), rtol=1e-6)
    assert int(opt.iterations) == 2 and opt.get_config()["gradient_accumulation_steps"] == 2
    three, once = tf.Variable(np.ones(3, np.float32)), tf.Variable(np.ones(3, np.float32))
    opt3 = tf.keras.optimizers.SGD(0.1, gradient_accumulation_steps=3)
    for g in grads[:3]:
        opt3.apply_gradients([(g, three)])
    tf.keras.optimizers.SGD(0.1).apply_gradients([(sum(grads[:3]) / 3, once)])
    np.testing.assert_allclose(three.numpy(), once.numpy(), rtol=1e-6)
    # Keras's schedules count every call: the first update (the second call) reads step 1
    seen = []

    class Recorded(tf.keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            seen.append(int(step))
            return 0.1

    sgd = tf.keras.optimizers.SGD(Recorded(), gradient_accumulation_steps=2)
    w = tf.Variable(np.ones(3, np.float32))
    for g in grads:
        sgd.apply_gradients([(g, w)])
    assert seen == [1, 3]
    # loss_scale_factor: the gradients divided by it; scale_loss multiplies a custom loop's loss
    scaled = tf.keras.optimizers.SGD(0.5, loss_scale_factor=4.0)
    v = tf.Variable(np.ones(2, np.float32))
    scaled.apply_gradients([(np.array([2.0, -4.0], np.float32), v)])
    np.testing.assert_allclose(v.numpy(), [0.75, 1.5])
    assert scaled.scale_loss(3.0) == 12.0 and tf.keras.optimizers.SGD().scale_loss(3.0) == 3.0
    with pytest.raises(ValueError, match="gradient_accumulation_steps` must be an integer >= 2"):
        tf.keras.optimizers.SGD(gradient_accumulation_steps=1)


def _keras_lamb(w, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    # keras/src/optimizers/lamb.py update_step, in float64
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        update = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        w_norm, g_norm = np.sqrt(np.sum(w ** 2)), np.sqrt(np.sum(update ** 2))
        w = w - (w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0) * lr * update
    return w


def _keras_adafactor(w, grads, lr=0.01, decay_rate=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    # keras/src/optimizers/adafactor.py update_step (relative_step=True, a float learning rate), in float64
    r = np.zeros(w.shape[:-1]) if w.ndim >= 2 else 0.0
    c = np.zeros(w.shape[:-2] + w.shape[-1:]) if w.ndim >= 2 else 0.0
    v = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        step_lr = min(lr, 1 / np.sqrt(t))
        rho = min(step_lr, 1 / np.sqrt(t))
        alpha = max(eps2, np.sqrt(np.mean(w ** 2))) * rho
        sq = g ** 2 + eps1
        beta = 1 - t ** decay_rate
        if w.ndim >= 2:
            r = beta * r + (1 - beta) * sq.mean(-1)
            c = beta * c + (1 - beta) * sq.mean(-2)
            v = (r / r.mean(-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v = beta * v + (1 - beta) * sq
        u = g / np.sqrt(v)
        u = u / max(1.0, np.sqrt(np.mean(u ** 2)) / clip)
        w = w - alpha * u
    return w


@pytest.mark.parametrize("name", ["lamb", "adafactor"])
def test_lamb_and_adafactor_follow_keras_3(name):
    import fastnn as tf

    rng = np.random.default_rng(1)
    for shape in ((4, 3), (5,), (2, 3, 4)):
        w0 = rng.standard_normal(shape)
        grads = [rng.standard_normal(shape) for _ in range(4)]
        var = tf.Variable(w0.astype(np.float32))
        opt = tf.keras.optimizers.get(name)
        opt.learning_rate = 0.01
        for g in grads:
            opt.apply_gradients([(g.astype(np.float32), var)])
        want = (_keras_lamb if name == "lamb" else _keras_adafactor)(w0, grads)
        np.testing.assert_allclose(var.numpy(), want, rtol=2e-5, atol=1e-6, err_msg=f"{name} {shape}")
    assert type(opt).from_config(opt.get_config()).get_config() == opt.get_config()


def test_apply_gradients_refuses_swapped_pairs_and_a_plain_list():
    # zip(model.trainable_variables, grads) would update the gradient arrays: the model never trains
    import fastnn as tf

    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(1)])
    x = np.ones((8, 4), np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(x) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    opt = tf.keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="Pair 0 has a model weight .* the gradients and variables look swapped"):
        opt.apply_gradients(zip(model.trainable_variables, grads))
    with pytest.raises(ValueError, match=r"expected \(gradient, variable\) pairs.*Received an element of type"):
        opt.apply_gradients(grads)
    before = [w.copy() for w in model.get_weights()]
    opt.apply_gradients(zip(grads, model.trainable_variables))
    assert not np.array_equal(model.get_weights()[0], before[0])


def test_an_optimizer_compiled_into_a_new_model_keeps_nothing_of_the_old_one():
    # cross-validation folds reusing one optimizer: the old model's EMA and accumulated gradients
    # kept its weights alive (Keras 3 refuses the reuse; fastnn starts the state afresh)
    import fastnn as tf

    opt = tf.keras.optimizers.Adam(use_ema=True, gradient_accumulation_steps=3)
    for _ in range(3):
        model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
        model.compile(opt, "mse")
        model.fit(np.ones((8, 3)), np.ones((8, 2)), batch_size=2, epochs=1, verbose=0)
        assert len(opt._ema_averages) == 2 and len(opt._gradient_sums) == 2


def test_ema_with_gradient_accumulation_follows_keras_iterations():
    # Keras 3 averages on every call, with momentum 0 while `iterations` (updates, the calls over the
    # steps) is 0, and overwrites when (iterations + 1) % ema_overwrite_frequency == 0. A constant
    # gradient 1 at rate 0.1, two calls per update, momentum 0.5: the weight goes 1.0, 1.0, 0.9, 0.9,
    # 0.8 and the average 1.0, 0.9 (momentum 0: no update counted yet), 0.9, 0.85.
    import fastnn as tf

    for frequency in (None, 2):
        w = tf.Variable(np.array([1.0]))
        opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=frequency,
                             gradient_accumulation_steps=2)
        for _ in range(4):
            opt.apply_gradients([(np.array([1.0]), w)])
        if frequency is None:
            np.testing.assert_allclose(w.numpy(), [0.8])
        opt.finalize_variable_values([w])
        np.testing.assert_allclose(w.numpy(), [0.85], rtol=1e-12)


def test_saved_optimizer_state_includes_moving_averages_accumulated_gradients_and_calls(tmp_path):
    # Keras 3 saves these as optimizer variables: training on after a reload equals training on
    import fastnn as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype(np.float32)
    y = x @ rng.standard_normal((4, 1)).astype(np.float32)

    def model(opt):
        tf.keras.utils.set_random_seed(1)
        m = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, activation="tanh"),
                                 tf.keras.layers.Dense(1)])
        m.compile(optimizer=opt, loss="mse")
        return m

    schedule = optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    for make in (lambda: optimizers.Adam(0.01, use_ema=True, ema_momentum=0.8),
                 lambda: optimizers.Adam(0.01, use_ema=True, ema_overwrite_frequency=2, gradient_accumulation_steps=2),
                 lambda: optimizers.SGD(schedule, gradient_accumulation_steps=4)):  # (6 calls: 2 held back)
        for how in ("keras", "h5", "checkpoint"):
            trained = model(make())
            trained.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            if how == "checkpoint":
                reloaded = model(make())  # (its optimizer not built yet: the state waits for its first step)
                path = tf.train.Checkpoint(model=trained, optimizer=trained.optimizer).save(str(tmp_path / "ckpt"))
                tf.train.Checkpoint(model=reloaded, optimizer=reloaded.optimizer).restore(path)
            else:
                trained.save(tmp_path / f"m.{how}")
                reloaded = tf.keras.models.load_model(tmp_path / f"m.{how}")
            for m in (trained, reloaded):
                m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            for a, b in zip(trained.get_weights(), reloaded.get_weights()):
                np.testing.assert_array_equal(a, b, err_msg=how)


def test_iterations_assign_and_nadam_product_in_the_weights_dtype():
    import fastnn as tf

    v = tf.Variable(np.ones(3, np.float32))
    opt = optimizers.Adam(0.1)
    opt.apply_gradients([(np.ones(3, np.float32), v)])
    opt.iterations.assign(100)  # (Keras's iterations is a variable)
    assert int(opt.iterations) == 100
    tf.keras.backend.set_value(opt.iterations, 7)
    opt.iterations.assign_add(1)
    assert int(opt.iterations) == 8
    with pytest.raises(TypeError, match="iterations must be an int"):
        opt.iterations = "3"

    # Nadam's momentum-cache product is a variable of the weights' dtype in Keras 3: float64 for
    # float64 weights (a float32 product drifts ~1e-8 in 20 steps)
    w = tf.Variable(np.array([1.0, -2.0]))
    nadam = optimizers.Nadam(0.1)
    u = 1.0
    for step in range(1, 21):
        nadam.apply_gradients([(np.array([0.5, 0.25]), w)])
        u *= 0.9 * (1 - 0.5 * 0.96 ** step)
    assert nadam._u_product == pytest.approx(u, rel=1e-15)


def test_a_checkpoint_without_the_call_count_restores_it_from_the_updates(tmp_path):
    # (a checkpoint written before the call count was saved, or by an optimizer without accumulation)
    import fastnn as tf

    v = tf.Variable(np.ones(2, np.float32))
    plain = optimizers.SGD(0.1)
    for _ in range(3):
        plain.apply_gradients([(np.ones(2, np.float32), v)])
    path = tf.train.Checkpoint(optimizer=plain, v=v).save(str(tmp_path / "ckpt"))
    accumulating = optimizers.SGD(0.1, gradient_accumulation_steps=4)
    tf.train.Checkpoint(optimizer=accumulating, v=v).restore(path)
    assert int(accumulating.iterations) == 3 and accumulating._calls == 12
