"""The Python pieces of a model: custom losses, Lambda layers, backend functions on the
functional API's tensors, and ``Model.add_loss`` — all differentiated by `fastnn.autodiff`."""

import contextlib
import json
import re

import numpy as np
import pytest

import fastnn
from fastnn import backend as K
from fastnn.layers import Dense, Flatten, Input, Lambda, Layer
from fastnn.losses import LossFunctionWrapper, binary_crossentropy
from fastnn.models import Model, Sequential, load_model, model_from_json
from helpers import layer_gradcheck, model_gradcheck



def data(n=40, f=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, f)).astype(np.float32)
    return x, (x[:, :2] * 0.5 + 0.1).astype(np.float32)


# ---- custom losses ----------------------------------------------------------------------------


def my_mse(y_true, y_pred):
    return K.mean(K.square(y_pred - y_true), axis=-1)


def wasserstein_loss(y_label, y_pred):
    return -K.mean(y_label * y_pred)


def small_model(seed=3, units=2):
    fastnn.set_random_seed(seed)
    return Sequential([Dense(8, activation="tanh", input_shape=(5,)), Dense(units)])


def test_custom_loss_trains_like_the_builtin_it_rewrites():
    x, y = data()
    w = np.linspace(0.5, 1.5, len(x)).astype(np.float32)
    histories, weights = [], []
    for loss in ("mse", my_mse):
        model = small_model()
        model.compile("sgd", loss)
        histories.append(model.fit(x, y, epochs=3, batch_size=16, sample_weight=w, shuffle=False,
                                   verbose=0).history["loss"])
        weights.append(model.get_weights())
        assert model.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(histories[0][-1], rel=0.5)
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
    for a, b in zip(*weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fn", [my_mse, wasserstein_loss, lambda t, p: K.abs(p - t) * K.sigmoid(p),
                                lambda t, p: K.sum(K.square(K.relu(p) - t), axis=-1) + 0.1 * K.mean(p)])
def test_custom_loss_gradient_with_sample_weights(fn):
    rng = np.random.default_rng(1)
    t, p = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    loss = LossFunctionWrapper(fn)
    values = np.asarray(fn(t, p))
    sw = rng.random(6) if values.ndim else None  # a loss averaged over the batch cannot weigh samples
    if values.ndim == 0:
        with pytest.raises(ValueError, match="returns one number per batch; with sample weights"):
            loss(t, p, rng.random(6))
    g = loss.gradient(t, p, sw)
    fd = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        q = p.copy()
        q[i] += 1e-6
        lp = loss(t, q, sw)
        q[i] -= 2e-6
        fd[i] = (lp - loss(t, q, sw)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    assert g.dtype == p.dtype
    # the value: the weighted values summed over their count, as Keras reduces
    expected = np.sum(values * sw.reshape((-1,) + (1,) * (values.ndim - 1))) / values.size if values.ndim \
        else float(values)
    assert loss(t, p, sw) == pytest.approx(expected, rel=1e-12)


def test_custom_loss_gradient_is_not_reused_for_other_arrays():
    loss = LossFunctionWrapper(my_mse)
    t, p = np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)
    loss(t, p)
    np.testing.assert_allclose(loss.gradient(t, 2 * p), 2 * 2 * p / 4)
    assert np.all(LossFunctionWrapper(lambda t, p: K.sum(t)).gradient(t, p) == 0)  # not a function of y_pred


def test_custom_loss_in_a_model_with_several_outputs_and_saving(tmp_path):
    x, y = data()
    fastnn.set_random_seed(0)
    inp = Input(shape=(5,))
    hidden = Dense(8, activation="relu")(inp)
    model = Model(inp, [Dense(1, activation="sigmoid", name="real")(hidden), Dense(2, name="code")(hidden)])
    model.compile("adam", ["binary_crossentropy", wasserstein_loss], loss_weights=[1.0, 0.5])
    labels = (x[:, :1] > 0).astype(np.float32)
    history = model.fit(x, [labels, y], epochs=2, verbose=0).history
    assert sorted(history) == ["code_loss", "loss", "real_loss"]
    total = model.evaluate(x, [labels, y], verbose=0)
    assert total[0] == pytest.approx(total[1] + 0.5 * total[2], rel=1e-5)
    assert total[2] == pytest.approx(-np.mean(y * model.predict(x, verbose=0)[1]), rel=1e-4)
    model.save(tmp_path / "m.fastnn")  # the Python loss by its name, as Keras writes it
    with pytest.raises(ValueError, match=r"invalid compile config \(the loss is the function 'wasserstein_loss': "
                                         r"pass it to load_model, custom_objects=\{'wasserstein_loss': "
                                         r"wasserstein_loss\} \(or load with compile=False\)\)"):
        load_model(tmp_path / "m.fastnn")
    assert not load_model(tmp_path / "m.fastnn", compile=False).compiled
    again = load_model(tmp_path / "m.fastnn", custom_objects={"wasserstein_loss": wasserstein_loss})
    assert again.compiled
    np.testing.assert_allclose(again.evaluate(x, [labels, y], verbose=0), total, rtol=1e-6)
    # an anonymous function has no name to give back: saved uncompiled, with a warning
    model.compile("adam", ["binary_crossentropy", lambda t, p: K.mean(p)])
    with pytest.warns(UserWarning, match=r"without its compile state \(<lambda> cannot be written into the file\)"):
        model.save(tmp_path / "anonymous.fastnn")
    assert not load_model(tmp_path / "anonymous.fastnn").compiled


class ScaledMSE(fastnn.losses.Loss):
    """A Keras-style loss class, with get_config for its own argument."""

    def __init__(self, scale=2.0, name="scaled_mse", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * K.mean(K.square(y_true - y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def test_a_loss_class_saves_by_name_and_loads_from_custom_objects(tmp_path):
    x, y = data()
    model = Sequential([Dense(2, input_shape=(5,))])
    model.compile("sgd", ScaledMSE(scale=3.0, reduction="sum"))
    model.save(tmp_path / "m.fastnn")
    with pytest.raises(ValueError, match=r"the loss is of the class 'ScaledMSE': pass it to load_model"):
        load_model(tmp_path / "m.fastnn")
    again = load_model(tmp_path / "m.fastnn", custom_objects={"ScaledMSE": ScaledMSE})
    assert type(again.loss) is ScaledMSE and again.loss.scale == 3.0 and again.loss.reduction == "sum"
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_custom_loss_targets_of_another_shape():
    x, y = data()
    model = small_model(units=3)
    model.compile("sgd", lambda t, p: K.mean(K.square(p - K.mean(t, axis=-1, keepdims=True)), axis=-1))
    model.fit(x, y, epochs=1, verbose=0)  # y (N, 2) for an (N, 3) output: the function decides


def test_backend_function_errors_name_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"mean: axis 5 is out of range for a tensor of rank 2 "
                                         r"\(argument shapes: \(2, 3\)\)"):
        K.mean(np.ones((2, 3)), axis=5)
    with pytest.raises(ValueError, match=r"^subtract: .*broadcast.*\(argument shapes: \(2, 3\), \(2, 4\)\)"):
        K.subtract(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"^concatenate: .*\(argument shapes: \[\(2, 3\), \(3, 3\)\]\)"):
        K.concatenate([np.ones((2, 3)), np.ones((3, 3))], axis=1)
    with pytest.raises(ValueError, match=r"^reshape: cannot reshape array of size 6 .*\(argument shapes: \(6,\)\)"):
        K.reshape(np.ones(6), (4, -1))  # (a tuple of numbers is not listed as shapes)
    with pytest.raises(ValueError, match=r"^subtract: .*broadcast"):  # in a symbolic graph: at construction
        Input(shape=(3,)) - Input(shape=(4,))


# ---- Lambda -----------------------------------------------------------------------------------


def test_lambda_gradients(float64_numpy):
    rng = np.random.default_rng(0)
    layer_gradcheck(Lambda(lambda v: K.tanh(v) * v[:, :1] + K.sum(K.square(v), axis=-1, keepdims=True)),
                    rng.standard_normal((4, 3)))
    layer_gradcheck(Lambda(lambda vs: vs[0] * K.exp(0.5 * vs[1]) - K.softmax(vs[0])),
                    [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))])


def sampling(args):
    z_mean, z_log_var = args
    batch = K.shape(z_mean)[0]
    dim = K.int_shape(z_mean)[1]
    epsilon = K.random_normal(shape=(batch, dim))
    return z_mean + K.exp(0.5 * z_log_var) * epsilon


def test_lambda_output_shapes():
    inp = Input(shape=(6, 4))
    assert Lambda(lambda v: v * 2)(inp).shape == (None, 6, 4)
    assert Lambda(lambda v: K.sum(v, axis=1))(inp).shape == (None, 4)
    assert Lambda(lambda v: K.mean(v))(inp).shape == ()
    assert Lambda(lambda v: K.batch_flatten(v), output_shape=(24,))(inp).shape == (None, 24)
    assert Lambda(lambda v: v, output_shape=lambda s: (s[0], 99))(inp).shape == (None, 99)
    assert Lambda(sampling)([Input(shape=(3,)), Input(shape=(3,))]).shape == (None, 3)
    with pytest.raises(ValueError, match="the output's rank depends on the batch size"):
        Lambda(lambda v: K.reshape(v, (-1,)) if len(v) == 2 else v)(inp)
    with pytest.raises(ValueError, match="returned 2 values.*one Lambda per output"):
        Lambda(lambda v: [v, v])(inp)
    with pytest.raises(TypeError, match="must return a tensor. Received: NoneType"):
        Lambda(lambda v: None)(inp)
    with pytest.raises(TypeError, match="`function` must be callable"):
        Lambda(3)


def test_lambda_gets_integer_inputs_as_they_are():
    # Keras casts floating inputs only: ids above 2**24 reach the function exact (in float32,
    # 20000001 % 1000 was 0), and an integer result keeps its dtype in the model's output
    ids = np.array([[20_000_001], [20_000_003], [7]], np.int64)
    hashed = Lambda(lambda t: fastnn.ops.mod(t, 1000))
    inp = Input((1,), dtype="int64")
    model = Model(inp, hashed(inp))
    assert model.output.dtype == "int64"
    got = model.predict(ids, verbose=0)
    assert got.dtype == np.int64 and got.ravel().tolist() == [1, 3, 7]
    assert Lambda(lambda t: fastnn.ops.mod(t, 1000))(ids).ravel().tolist() == [1, 3, 7]
    scaled = Model(inp, Lambda(lambda t: t / 4)(inp)).predict(np.array([[6]]), verbose=0)
    assert scaled.dtype == np.float32 and scaled[0, 0] == 1.5  # (a float result: the layer's dtype)


def test_modulo_and_floor_division_operators_on_tensors():
    # Python's % and // on the tensors of a Lambda, a tape and the functional API (NumPy's semantics,
    # TensorFlow's floormod / floordiv), with mod's gradient 1 for x
    ids = np.array([[20_000_001], [-7], [7]], np.int64)
    inp = Input((1,), dtype="int64")
    model = Model(inp, [Lambda(lambda t: t % 1000)(inp), Lambda(lambda t: t // 1000)(inp)])
    rest, quotient = model.predict(ids, verbose=0)
    assert rest.ravel().tolist() == [1, 993, 7] and quotient.ravel().tolist() == [20000, -1, 0]
    assert fastnn.math.floormod(np.array([7, -7]), 3).tolist() == [1, 2] == fastnn.math.mod(np.array([7, -7]), 3).tolist()
    x = fastnn.constant([0.5, 2.25, -1.0])
    with fastnn.GradientTape() as tape:
        tape.watch(x)
        y = fastnn.reduce_sum(x % 1.5 + 10.0 // (x + 2.0) + 4.0 % (x + 2.0))
    # d/dx [x % 1.5] = 1; floor division has no gradient; d/dx [4 % (x + 2)] = -floor(4 / (x + 2))
    np.testing.assert_allclose(tape.gradient(y, x), 1.0 - np.floor(4.0 / (x + 2.0)))


def test_lambda_shape_inference_leaves_the_seeded_draws_alone():
    fastnn.set_random_seed(5)
    expected = fastnn.utils.global_rng().random(3)
    fastnn.set_random_seed(5)
    Lambda(sampling)([Input(shape=(3,)), Input(shape=(3,))])
    np.testing.assert_array_equal(fastnn.utils.global_rng().random(3), expected)


def times_two(v):
    return v * 2


def test_lambda_in_sequential_trains_and_saves(tmp_path):
    x, y = data()
    fastnn.set_random_seed(0)
    model = Sequential([Dense(4, activation="tanh", input_shape=(5,)), Lambda(times_two), Dense(2)])
    model.compile("adam", "mse")
    losses = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    dense1, _, dense2 = model.layers
    manual = (np.tanh(x @ dense1.get_weights()[0] + dense1.get_weights()[1]) * 2) @ dense2.get_weights()[0] \
        + dense2.get_weights()[1]
    np.testing.assert_allclose(model.predict(x, verbose=0), manual, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.fastnn")
    with pytest.raises(ValueError, match="calls the function 'times_two'.*custom_objects=\\{'times_two': times_two\\}"):
        load_model(tmp_path / "m.fastnn")
    again = load_model(tmp_path / "m.fastnn", custom_objects={"times_two": times_two})
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    anonymous = Sequential([Dense(2, input_shape=(5,)), Lambda(lambda v: v + 1)])
    anonymous.save(tmp_path / "a.fastnn")  # its bytecode, as Keras 3 saves a lambda
    anonymous.save_weights(tmp_path / "a.weights.fastnn")


def make_scaler(offset, power=2.0):
    # a lambda with a closure value and a default (saved as JSON beside its bytecode)
    return lambda v, p=power: K.pow(v, p) + offset


def test_lambda_functions_saved_as_bytecode_load_only_outside_safe_mode(tmp_path):
    """Keras 3's rule for Lambda(lambda ...): the model saves (code, defaults, closure values), and
    load_model rebuilds the lambda only with safe_mode=False, since that runs code from the file."""
    x, _ = data()
    model = Sequential([Dense(3, input_shape=(5,)), Lambda(make_scaler(np.float32(0.5))),
                        Lambda(lambda v: K.expand_dims(v, -1) * 3, mask=lambda inputs, mask=None: None), Flatten()])
    model.save(tmp_path / "m.fastnn")
    with pytest.raises(ValueError, match="Lambda layer 'lambda(_\\d+)?' holds a Python lambda saved as bytecode: loading "
                                         "it runs code from the file. If you trust the file, pass safe_mode=False"):
        load_model(tmp_path / "m.fastnn")
    again = load_model(tmp_path / "m.fastnn", safe_mode=False)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[1].function(np.float32(2.0)) == 4.5  # the closure's 0.5, the default's power 2
    # the global switch, as keras.config.enable_unsafe_deserialization()
    with unsafe_deserialization():
        np.testing.assert_array_equal(load_model(tmp_path / "m.fastnn").predict(x, verbose=0), model.predict(x, verbose=0))
    # a captured value JSON cannot hold: a clear error at save time
    table = {"w": object()}
    unsavable = Sequential([Dense(2, input_shape=(5,)), Lambda(lambda v: v + len(table))])
    with pytest.raises(ValueError, match="captures or defaults to values that cannot be saved"):
        unsavable.save(tmp_path / "u.fastnn")


def test_lambda_bytecode_of_another_python_is_refused(tmp_path):
    model = Sequential([Dense(2, input_shape=(5,)), Lambda(lambda v: v + 1)])
    config = json.loads(model.to_json())
    entry = next(l for l in config["config"]["layers"] if l["class_name"] == "Lambda")["config"]["function"]
    entry["config"]["python"] = "2.7"
    with pytest.raises(ValueError, match=r"its lambda's bytecode is Python 2.7's; this is Python 3\.\d+, which "
                                         "cannot run it"), unsafe_deserialization():
        model_from_json(json.dumps(config))


@contextlib.contextmanager
def unsafe_deserialization():
    """fastnn.config.enable_unsafe_deserialization() for the block (the global setting restored after)."""
    before = fastnn.saving._unsafe_deserialization
    fastnn.config.enable_unsafe_deserialization()
    try:
        yield
    finally:
        fastnn.saving._unsafe_deserialization = before


# ---- backend functions and operators on symbolic tensors --------------------------------------


def test_operators_and_backend_functions_build_graph_layers(tmp_path):
    a, b = Input(shape=(3,)), Input(shape=(3,))
    out = K.concatenate(tensors=[1 + a * 2 - K.square(b), -a[:, :2], K.exp(b) / 4, K.max(a, axis=-1, keepdims=True)])
    assert out.shape == (None, 9)
    model = Model([a, b], out)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    expected = np.concatenate([1 + x1 * 2 - x2 ** 2, -x1[:, :2], np.exp(x2) / 4, x1.max(axis=-1, keepdims=True)], -1)
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0), expected, rtol=1e-6)
    config = json.loads(model.to_json())
    assert {entry["class_name"] for entry in config["config"]["layers"]} == {"InputLayer", "BackendFunction"}
    model.save(tmp_path / "m.fastnn")  # backend functions are saved by name: no custom_objects needed
    np.testing.assert_array_equal(load_model(tmp_path / "m.fastnn").predict([x1, x2], verbose=0),
                                  model.predict([x1, x2], verbose=0))
    with pytest.raises(ValueError, match="unknown backend function 'system'"):
        fastnn.layers.BackendFunction("system", [{"tensor": 0}])


def test_symbolic_functions_train_in_a_model(float64_numpy):
    fastnn.set_random_seed(1)
    inp = Input(shape=(4,))
    h = Dense(3, activation="tanh")(inp)
    out = Dense(2)(K.concatenate([h, K.square(h[:, :1]) * inp[:, 1:2]]))
    model = Model(inp, K.softmax(out) * 3)
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).standard_normal((6, 4))
    model_gradcheck(model, x, np.random.default_rng(1).random((6, 2)))


# ---- add_loss --------------------------------------------------------------------------------


def vae(latent=2, original=6, seed=0, noise_seed=None):
    """The course notes' MLP VAE (chapter 8), small."""
    fastnn.set_random_seed(seed)

    def draw(args):
        z_mean, z_log_var = args
        eps = K.random_normal(shape=(K.shape(z_mean)[0], latent), seed=noise_seed, dtype=z_mean.dtype)
        return z_mean + K.exp(0.5 * z_log_var) * eps

    inputs = Input(shape=(original,))
    x = Dense(5, activation="relu")(inputs)
    z_mean, z_log_var = Dense(latent, name="z_mean")(x), Dense(latent, name="z_log_var")(x)
    z = Lambda(draw, name="z")([z_mean, z_log_var])
    encoder = Model(inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = Input(shape=(latent,))
    decoder = Model(latent_inputs, Dense(original, activation="sigmoid")(Dense(4, activation="relu")(latent_inputs)),
                    name="decoder")
    outputs = decoder(encoder(inputs)[2])
    model = Model(inputs, outputs, name="vae")
    reconstruction = binary_crossentropy(inputs, outputs) * original
    kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    model.add_loss(K.mean(reconstruction + kl))
    return model, encoder, decoder


def binary_data(n=64, d=6):
    return (np.random.default_rng(0).random((n, d)) < np.linspace(0.1, 0.9, d)).astype(np.float32)


def test_add_loss_gradients(float64_numpy):
    model, _, _ = vae(noise_seed=7)  # the same noise in every forward pass: a fixed function
    model.compile("sgd")
    model_gradcheck(model, binary_data(7).astype(np.float64))


def test_add_loss_model_trains_without_targets():
    model, encoder, decoder = vae()
    model.compile("adam")
    x = binary_data()
    history = model.fit(x, epochs=8, batch_size=16, validation_data=(x[:16], None), verbose=0).history
    assert sorted(history) == ["loss", "val_loss"]
    assert history["loss"][-1] < history["loss"][0]
    assert isinstance(model.evaluate(x, verbose=0), float)
    assert model.predict(x, verbose=0).shape == (64, 6)
    # the encoder and decoder are the VAE's layers: trained with it
    z_mean = encoder.predict(x, verbose=0)[0]
    assert decoder.predict(z_mean, verbose=0).shape == (64, 6)
    weights = model.get_weights()
    fastnn.utils.set_random_seed(3)
    ignored = model.fit(x, x, epochs=1, shuffle=False, verbose=0).history  # targets are not read, as in Keras
    model.set_weights(weights)
    fastnn.utils.set_random_seed(3)
    # (the same to rounding: the optimizer's moments went on from the first fit)
    assert model.fit(x, epochs=1, shuffle=False, verbose=0).history["loss"] == pytest.approx(ignored["loss"], rel=1e-4)
    with pytest.raises(ValueError, match="sample_weight weighs the compiled loss's samples"):
        model.fit(x, sample_weight=np.ones(64), verbose=0)
    with pytest.raises(ValueError, match="class_weight needs targets"):
        model.fit(x, class_weight={0: 1.0}, verbose=0)
    model.compile("adam", metrics=["mse"])  # (a subclass with its own compute_loss may update them)
    with pytest.raises(ValueError, match="metrics compare the outputs with targets"):
        model.fit(x, verbose=0)


def test_add_loss_summary_shows_the_nested_models(capsys):
    fastnn.clear_session()  # the layers' automatic names count from here
    model, _, _ = vae()
    model.summary()
    out = capsys.readouterr().out
    assert "│ encoder (Functional) " in out and "│ decoder (Functional) " in out
    # 1 + z_log_var takes the encoder's second output, K.square(z_mean) its first
    assert re.search(r"│ add \(BackendFunction\) +│ \(None, 2\) +│ +0 │ encoder\[0\]\[1\] +│", out)
    assert re.search(r"│ square \(BackendFunction\) +│ \(None, 2\) +│ +0 │ encoder\[0\]\[0\] +│", out)
    assert "binary_crossentropy" in out and "BackendFunction" in out
    assert "z_mean (Dense)" not in out


def test_add_loss_with_a_compiled_loss_on_a_softmax_output(float64_numpy):
    # the softmax + cross-entropy shortcut must not be taken when the output also feeds a loss term
    fastnn.set_random_seed(2)
    inp = Input(shape=(4,))
    out = Dense(3, activation="softmax")(Dense(5, activation="tanh")(inp))
    model = Model(inp, out)
    model.add_loss(0.3 * K.mean(K.square(out)))
    model.compile("sgd", "categorical_crossentropy")
    assert model._fusion() is False
    rng = np.random.default_rng(0)
    model_gradcheck(model, rng.standard_normal((5, 4)), np.eye(3)[rng.integers(0, 3, 5)])
    # without the term, the fused path (and the same gradient check) applies
    plain = Model(inp, out)
    plain.compile("sgd", "categorical_crossentropy")
    assert plain._fusion() == "softmax"


def test_predict_skips_the_loss_layers():
    calls = []

    def counted(v):
        calls.append(len(v))
        return v

    inp = Input(shape=(3,))
    out = Dense(2)(inp)
    model = Model(inp, out)
    model.add_loss(K.mean(Lambda(counted)(out)))
    model.compile("sgd")
    x = np.ones((4, 3), np.float32)
    calls.clear()
    model.predict(x, verbose=0)
    assert calls == []
    model.evaluate(x, verbose=0)
    assert calls == [4]
    y = model(x)  # a call fills model.losses, as tf.keras's
    assert calls == [4, 4]
    np.testing.assert_allclose(model.losses, [np.mean(y)], rtol=1e-6)


def test_add_loss_errors_and_round_trip(tmp_path):
    model, _, _ = vae()
    model.compile("adam")
    x = binary_data()
    with pytest.raises(ValueError, match="expected a tensor computed from the model's layers"):
        model.add_loss(1.0)
    with pytest.raises(ValueError, match="not computed from model 'vae''s inputs: Graph disconnected"):
        model.add_loss(K.mean(Dense(1)(Input(shape=(2,)))))
    assert model.predict(x, verbose=0).shape == (64, 6)  # unchanged by the failed add_loss
    with pytest.raises(ValueError, match="functional models"):
        Sequential([Dense(1, input_shape=(2,))]).add_loss(K.mean(Input(shape=(2,))))
    model.fit(x, epochs=1, verbose=0)
    model.save(tmp_path / "vae.fastnn")
    again = load_model(tmp_path / "vae.fastnn", custom_objects={"draw": model.get_layer("encoder").layers[-1].function})
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
    again.compile("adam")
    fastnn.set_random_seed(9)
    expected = model.evaluate(x, verbose=0)
    fastnn.set_random_seed(9)
    assert again.evaluate(x, verbose=0) == pytest.approx(expected, rel=1e-6)


# ---- layers written as Keras's guides write them ---------------------------------------------


class MyDense(Layer):
    """Keras's "making new layers" example: weights from add_weight, a call of backend functions."""

    def __init__(self, units=32, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)
        self.scale = self.add_weight(shape=(), initializer="ones", trainable=False)

    def call(self, inputs):
        y = K.dot(inputs, self.w) + self.b
        return self.scale * (K.tanh(y) if self.activation == "tanh" else y)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation}


class Noisy(Layer):
    """A layer with a training branch and Python operators."""

    def call(self, inputs, training=False):
        return inputs * 2 + (0.01 * K.random_normal(K.shape(inputs)) if training else 0.0)


def test_custom_layer_gradients(float64_numpy):
    layer = MyDense(3, activation="tanh")
    x = np.random.default_rng(0).standard_normal((4, 5))
    layer_gradcheck(layer, x)
    assert [w.shape for w in layer.trainable_weights] == [(5, 3), (3,)]
    assert len(layer.get_gradients()) == 2  # the non-trainable scale gets none


def test_custom_layers_in_models_train_save_and_freeze(tmp_path):
    x, y = data()
    fastnn.set_random_seed(0)
    model = Sequential([Input(shape=(5,)), MyDense(8, activation="tanh"), Noisy(), Dense(2)])
    assert model.layers[0].output_shape == (None, 8) and model.layers[1].output_shape == (None, 8)
    model.compile("adam", "mse")
    losses = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "m.fastnn")
    again = load_model(tmp_path / "m.fastnn", custom_objects={"MyDense": MyDense, "Noisy": Noisy})
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    # frozen: its weights stay, the layers before it still learn through it
    fastnn.set_random_seed(1)
    inp = Input(shape=(5,))
    first = Dense(5)
    frozen = MyDense(4)
    model = Model(inp, Dense(2)(frozen(first(inp))))
    frozen.trainable = False
    model.compile("sgd", "mse")
    before_frozen, before_first = frozen.get_weights(), first.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before_frozen, frozen.get_weights()))
    assert not np.array_equal(before_first[0], first.get_weights()[0])


def test_fastnn_layers_are_not_wrapped():
    # only layers defined outside fastnn get the tape (fastnn's own have their kernels' backward)
    assert not getattr(Dense.call, "_records_on_tape", False) and MyDense.call._records_on_tape


def test_add_weight_takes_keras_3s_positional_order_and_scalars():
    class Scale(Layer):
        def build(self, input_shape):
            self.a = self.add_weight((), "ones")  # Keras 3: add_weight(shape, initializer, ...)
            self.v = self.add_weight((input_shape[-1],), initializer="zeros")

        def call(self, x):
            return x * self.a + self.v

    model = Sequential([Input(shape=(3,)), Scale(), Dense(1)])
    layer = model.layers[0]
    assert layer.a.shape == () and layer.a == 1 and layer.v.shape == (3,)
    model.compile("adam", "mse")
    model.fit(np.ones((8, 3), np.float32), np.ones((8, 1), np.float32), epochs=2, verbose=0)
    assert layer.a.shape == () and layer.a != 1  # a scalar weight trains in place


def test_a_custom_layer_takes_a_list_of_inputs(float64_numpy):
    class WeightedSum(Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(len(input_shape),), initializer="ones")

        def call(self, inputs):
            return inputs[0] * self.w[0] + K.tanh(inputs[1]) * self.w[1]

    a, b = Input(shape=(3,)), Input(shape=(3,))
    layer = WeightedSum()
    model = Model([a, b], layer([a, b]))
    x1, x2 = np.random.default_rng(0).standard_normal((2, 4, 3))
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0), x1 + np.tanh(x2))
    layer_gradcheck(WeightedSum(), [x1, x2])


def test_a_loss_computed_with_numpy_is_refused_not_trained_on_a_zero_gradient():
    """np.mean of y_pred takes its values off the tape: fit reported a constant loss and never changed
    the weights. A function that returns None is refused too; a constant loss (not a function of
    y_pred at all) still has a zero gradient."""
    x, y = data()

    def numpy_mse(y_true, y_pred):
        return np.mean((y_true - y_pred) ** 2, axis=-1)

    model = Sequential([Dense(2, input_shape=(5,))])
    model.compile("sgd", numpy_mse)
    with pytest.raises(ValueError, match="Loss 'numpy_mse': its function computed the loss with NumPy"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(TypeError, match="Loss 'nothing': its function returned None"):
        LossFunctionWrapper(lambda t, p: None, name="nothing")(y, y)


def test_equality_and_bitwise_operators_on_tensors_are_elementwise():
    # TensorFlow 2's tensors: x == 0 is a boolean tensor (a padding mask), & | ^ ~ << >> are bitwise;
    # a tensor stays hashable by identity, and == None is False
    ids = np.array([[3, 0, 5, 0]], np.int64)
    inp = Input((4,), dtype="int64")
    model = Model(inp, [Lambda(lambda t: fastnn.cast(t == 0, "float32"))(inp), Lambda(lambda t: t != 0)(inp),
                        Lambda(lambda t: (t & 1) | (t >> 1) ^ (t << 1))(inp), Lambda(lambda t: ~(t > 2))(inp)])
    pad, kept, bits, small = model.predict(ids, verbose=0)
    assert pad.tolist() == [[0.0, 1.0, 0.0, 1.0]] and kept.tolist() == [[True, False, True, False]]
    assert bits.tolist() == [((ids & 1) | (ids >> 1) ^ (ids << 1)).ravel().tolist()]
    assert small.tolist() == [[False, True, False, True]]
    t = fastnn.autodiff.Tensor(np.ones(2))
    assert (t == None) is False and (t != None) is True and {t: 1}[t] == 1  # noqa: E711
    assert fastnn.ops.bitwise_and(np.array([5, 6]), 3).tolist() == [1, 2]
