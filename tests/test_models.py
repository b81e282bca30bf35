"""Sequential and functional models: graph building, whole-model gradients (float64 NumPy backend
against finite differences), C++ vs NumPy trajectories, seeding, the fit/evaluate/predict API,
progress output, summary, NaN handling and bad inputs."""

import math
import re

import numpy as np
import pytest

import fastnn
from fastnn import losses, regularizers
from fastnn.callbacks import EarlyStopping, TerminateOnNaN
from fastnn.layers import (Activation, Add, BatchNormalization, Concatenate, Conv2D, Dense, Dropout, Flatten, Input,
                           InputLayer, MaxPooling2D, Reshape)
from fastnn.models import Model, Sequential, load_model
from fastnn.optimizers import SGD, Adam
from helpers import model_gradcheck

RNG = np.random.default_rng(1234)


def data(n=64, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    labels = np.argmax(x[:, :classes] + 0.3 * rng.standard_normal((n, classes)), axis=1)
    return x, labels, np.eye(classes, dtype=np.float32)[labels]


def mlp(seed=0, dropout=0.0, bn=False, optimizer="adam", loss="categorical_crossentropy", metrics=("accuracy",)):
    fastnn.set_random_seed(seed)
    layers = [Dense(16, activation="relu", input_shape=(6,))]
    if bn:
        layers.append(BatchNormalization())
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(8, activation="tanh"), Dense(3, activation="softmax")]
    model = Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


# ---- graph building ------------------------------------------------------------------------------


def test_sequential_construction_api():
    fastnn.clear_session()
    m = Sequential(name="net")
    m.add(Dense(4, input_dim=3, activation="relu"))
    m.add(Dense(2))
    assert [l.name for l in m.layers] == ["dense", "dense_1"] and m.name == "net"
    assert m.input_shape == (None, 3) and m.output_shape == (None, 2)
    assert m.get_layer("dense_1") is m.layers[1] and m.get_layer(index=0) is m.layers[0]
    assert m.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    popped = m.pop()
    assert popped.name == "dense_1" and m.output_shape == (None, 4)
    with pytest.raises(ValueError, match="No such layer: nope"):
        m.get_layer("nope")
    with pytest.raises(TypeError, match="must be an instance of class Layer"):
        m.add("dense")
    with pytest.raises(ValueError, match="should have unique names"):
        m.add(Dense(3, name="dense"))
    with pytest.raises(TypeError, match="no layers"):
        Sequential().pop()
    # an Input tensor first, or build(), or the first batch of data fixes the input shape
    assert Sequential([Input(shape=(5,)), Dense(2)]).input_shape == (None, 5)
    m = Sequential([Dense(2), Dense(1)])
    lines = []  # (not built: Keras 3 lists the layers with unknown shapes, as the SimCLR example prints)
    m.summary(print_fn=lines.append)
    assert any(re.search(r"│ dense_\d* ?\(Dense\) +│ \? +│ +0 \(unbuilt\) │", line) for line in lines), lines
    assert " Total params: 0 (0.00 B)" in lines
    with pytest.raises(ValueError, match="has not yet been built"):
        Sequential().summary()
    m.build((None, 7))
    assert m.layers[0].kernel.shape == (7, 2)
    m = Sequential([Dense(2)])
    assert m.predict(np.ones((3, 9)), verbose=0).shape == (3, 2) and m.input_shape == (None, 9)
    # a layer whose input does not fit is rejected when added
    m = Sequential([Dense(3, input_shape=(4,)), Flatten()])
    with pytest.raises(ValueError, match="total size must be unchanged"):
        m.add(Reshape((2, 2)))
    assert len(m.layers) == 2


def test_functional_graph_with_fan_out_trains():
    fastnn.set_random_seed(0)
    inp = Input(shape=(6,))
    a = Dense(8, activation="relu")(inp)
    b = Dense(8, activation="tanh")(a)
    c = Dense(8)(a)  # `a` fans out to b and c
    s = Add()([b, c])
    out = Dense(3, activation="softmax")(Concatenate()([s, a]))
    model = Model(inputs=inp, outputs=out, name="branchy")
    assert isinstance(model.layers[0], InputLayer) and model.name == "branchy"
    assert model.output_shape == (None, 3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, labels, _ = data()
    history = model.fit(x, labels, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    assert model.layers[1]._need_input_grad is False  # fed by the input only
    assert model.get_layer(out.node.layer.name) is out.node.layer


def test_functional_graph_errors():
    inp, other = Input(shape=(3,)), Input(shape=(3,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(inp, Add()([Dense(2)(inp), Dense(2)(other)]))
    out = Dense(1)(inp)
    with pytest.raises(ValueError, match="The same tensor is listed more than once in the model's outputs"):
        Model(inp, [out, out])
    with pytest.raises(ValueError, match="Model outputs must be tensors produced by calling layers"):
        Model(inp, [out, "inp"])
    assert len(Model(inp, [out, inp]).outputs) == 2  # (an Input given back: Keras takes it)
    with pytest.raises(ValueError, match="more than once"):
        Model([inp, inp], Dense(1)(inp))
    with pytest.raises(ValueError, match="Graph disconnected"):  # `other` feeds the output but is not an input
        Model([inp], Concatenate()([Dense(2)(inp), other]))
    with pytest.raises(ValueError, match="Graph disconnected"):  # (a layer's output as an input: not on the way)
        Model(Dense(2)(inp), Dense(1)(inp))
    with pytest.raises(ValueError, match="fastnn.layers.Input"):
        Model(np.zeros((1, 2)), Dense(1)(inp))
    with pytest.raises(ValueError, match="or a subclass of Model that defines call"):
        Model()


def two_input_model(seed=0, right_dense=True):
    """A small Y-network (the course notes' two-branch functional model): two inputs, one output."""
    fastnn.set_random_seed(seed)
    left, right = Input(shape=(6,), name="left"), Input(shape=(4,), name="right")
    a = Dense(8, activation="relu", name="a")(left)
    b = Dense(5, activation="tanh", name="b")(right) if right_dense else right
    out = Dense(3, activation="softmax", name="out")(Concatenate(name="cat")([a, b]))
    return Model([left, right], out, name="y_net")


def two_input_data(n=64, seed=0):
    x, labels, onehot = data(n=n, seed=seed)
    rng = np.random.default_rng(seed + 100)
    # the right input carries the label too, so both branches can learn
    right = (onehot @ rng.standard_normal((3, 4)) + 0.5 * rng.standard_normal((n, 4))).astype(np.float32)
    return x, right, labels


def test_two_input_model_trains_evaluates_and_predicts():
    model = two_input_model()
    assert model.input_shape == [(None, 6), (None, 4)] and model.output_shape == (None, 3)
    assert [l.name for l in model.layers[:2]] == ["left", "right"] and len(model.inputs) == 2
    model.compile(Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, right, labels = two_input_data()
    history = model.fit([x, right], labels, epochs=20, batch_size=16, validation_split=0.25, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert "val_accuracy" in history.history
    loss, acc = model.evaluate([x, right], labels, verbose=0)
    by_name = model.evaluate({"right": right, "left": x}, labels, verbose=0)
    assert [loss, acc] == by_name
    p = model.predict([x, right], batch_size=10, verbose=0)
    assert p.shape == (64, 3)
    np.testing.assert_array_equal(p[:7], model.predict_on_batch([x[:7], right[:7]]))
    np.testing.assert_array_equal(p[:7], model([x[:7], right[:7]]))
    assert acc == np.mean(np.argmax(p, axis=1) == labels)
    assert isinstance(model.train_on_batch([x[:8], right[:8]], labels[:8]), list)
    assert model.test_on_batch((x, right), labels) == model.evaluate((x, right), labels, batch_size=64, verbose=0)


def test_two_input_model_matches_the_numpy_backend():
    x, right, labels = two_input_data(n=32)
    trajectories = []
    for backend in ("cpp", "numpy"):
        model = two_input_model(seed=3)
        model.compile(SGD(0.1), "sparse_categorical_crossentropy")
        with fastnn.backend(backend):
            h = model.fit([x, right], labels, epochs=3, batch_size=8, shuffle=False, verbose=0)
        trajectories.append(h.history["loss"])
    np.testing.assert_allclose(trajectories[0], trajectories[1], rtol=1e-5)


def test_gradcheck_two_input_model(float64_numpy):
    model = two_input_model(seed=1)
    model.compile("sgd", "categorical_crossentropy")
    x, right, labels = two_input_data(n=5)
    model_gradcheck(model, [x.astype(np.float64), right.astype(np.float64)], np.eye(3)[labels])


def test_input_feeding_the_merge_directly_gets_no_gradient():
    model = two_input_model(right_dense=False)  # `right` goes straight into the concatenation
    model.compile("adam", "sparse_categorical_crossentropy")
    x, right, labels = two_input_data()
    model.fit([x, right], labels, epochs=2, verbose=0)
    assert model.get_layer("cat")._need_input_grad is True and model.get_layer("a")._need_input_grad is False


def test_two_input_summary_config_and_saving(tmp_path, capsys):
    model = two_input_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, right, labels = two_input_data()
    model.fit([x, right], labels, epochs=1, verbose=0)
    model.summary()
    out = capsys.readouterr().out
    assert "Connected to" in out and re.search(r"left \(InputLayer\) +│ \(None, 6\)", out)
    assert re.search(r"cat \(Concatenate\) +│ \(None, 13\) +│ +0 │ a\[0\]\[0\], b\[0\]\[0\]", out)
    config = model.get_config()
    assert config["input_layers"] == ["left", "right"]
    model.save(tmp_path / "y.fastnn")
    loaded = fastnn.models.load_model(tmp_path / "y.fastnn")
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict([x, right], verbose=0), model.predict([x, right], verbose=0))
    clone = fastnn.models.clone_model(model)
    assert clone.input_shape == [(None, 6), (None, 4)]


def test_two_input_bad_data():
    model = two_input_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    x, right, labels = two_input_data()
    with pytest.raises(ValueError, match=r"has 2 inputs \['left', 'right'\]; pass `x` as a list of 2 arrays.*"
                                         r"Received: ndarray"):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="Received: a list of 3"):
        model.predict([x, right, right], verbose=0)
    with pytest.raises(ValueError, match="'x' sizes: 64, 63"):
        model.fit([x, right[:-1]], labels, verbose=0)
    with pytest.raises(ValueError, match=r"Input 1 of model 'y_net' is incompatible with the model: expected shape "
                                         r"\(None, 4\), found \(None, 5\)"):
        model.evaluate([x, np.zeros((64, 5), np.float32)], labels, verbose=0)
    with pytest.raises(ValueError, match=r"keyed by the Input names \['left', 'right'\]. Missing: \['right'\]. "
                                         r"Received keys: \['left', 'r'\]"):
        model.predict({"left": x, "r": right}, verbose=0)
    # (a key no input takes is left out, as Keras does: the TF structured-data tutorial's 'target' column)
    np.testing.assert_array_equal(model.predict({"left": x, "right": right, "target": labels}, verbose=0),
                                  model.predict([x, right], verbose=0))
    with pytest.raises(ValueError, match="has 2 inputs"):
        model.fit([x, right], labels, validation_data=(x, labels), verbose=0)
    single = mlp()
    with pytest.raises(ValueError, match="has one input, but `x` is a list of 2 arrays"):
        single.predict([x, x], verbose=0)


# ---- whole-model gradients -------------------------------------------------------------------



def test_gradcheck_sequential_bn_regularizers_fused_softmax(float64_numpy):
    fastnn.set_random_seed(1)
    model = Sequential([Dense(6, activation="tanh", input_shape=(5,), kernel_regularizer=regularizers.L2(0.01),
                             bias_regularizer=regularizers.L1(0.01)),
                       BatchNormalization(), Activation("elu"), Dense(4, activation="softplus"),
                       Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert model._fusion() == "softmax"
    x, labels, _ = data(n=9, features=5, seed=2)
    sw = np.linspace(0.5, 2.0, 9)
    model_gradcheck(model, x.astype(np.float64), labels, sw)


def test_gradcheck_functional_fan_out_fused_sigmoid_activity_regularizer(float64_numpy):
    fastnn.set_random_seed(2)
    inp = Input(shape=(4,))
    a = Dense(5, activation="tanh")(inp)
    b = Dense(5, activation="sigmoid", activity_regularizer=regularizers.L2(0.05))(a)
    c = Dense(3, kernel_regularizer=regularizers.L1L2(0.01, 0.02))(a)
    s = Add()([b, Dense(5)(a)])
    out = Dense(2, activation="sigmoid")(Concatenate()([s, c]))
    model = Model(inp, out)
    model.compile("sgd", "binary_crossentropy")
    assert model._fusion() == "sigmoid"
    rng = np.random.default_rng(3)
    model_gradcheck(model, rng.standard_normal((7, 4)), rng.integers(0, 2, (7, 2)).astype(np.float64))


@pytest.mark.parametrize("loss,act", [("mse", "linear"), ("mae", "tanh"),
                                      (losses.CategoricalCrossentropy(from_logits=True), "linear")])
def test_gradcheck_unfused_losses_rank_3(float64_numpy, loss, act):
    fastnn.set_random_seed(3)
    model = Sequential([Reshape((3, 4), input_shape=(12,)), Dense(2, activation="tanh"), Flatten(),
                        Dense(3, activation=act)])
    model.compile("sgd", loss)
    assert not model._fusion()
    rng = np.random.default_rng(4)
    y = np.eye(3)[rng.integers(0, 3, 5)] if not isinstance(loss, str) else rng.standard_normal((5, 3))
    model_gradcheck(model, rng.standard_normal((5, 12)), y)


def test_gradcheck_softmax_through_jacobian_when_fusion_is_off(float64_numpy):
    fastnn.set_random_seed(4)
    model = Sequential([Dense(4, input_shape=(3,)), Activation("softmax", activity_regularizer=regularizers.L2(0.1))])
    model.compile("sgd", "categorical_crossentropy")
    assert not model._fusion()
    rng = np.random.default_rng(5)
    model_gradcheck(model, rng.standard_normal((6, 3)), np.eye(4)[rng.integers(0, 4, 6)])


def test_float64_models_train_on_the_numpy_backend_only():
    fastnn.utils.set_floatx("float64")
    try:
        model = mlp(seed=1, bn=True, dropout=0.2)
    finally:
        fastnn.utils.set_floatx("float32")
    x, _, onehot = data(n=32)
    with fastnn.backend("numpy"):
        history = model.fit(x, onehot, epochs=2, verbose=0)
        assert model.predict(x, verbose=0).dtype == np.float64
    assert history.history["loss"][1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="float64 layers, but the C\\+\\+ kernels compute in float32"):
        model.fit(x, onehot, verbose=0)


def test_fused_output_gradient_equals_logits_loss_gradient():
    x, labels, onehot = data(n=32)
    probs = mlp(seed=7, optimizer="sgd")
    with pytest.warns(UserWarning, match="from_logits=True"):  # (its softmax is taken off below)
        logits = mlp(seed=7, optimizer="sgd", loss=losses.CategoricalCrossentropy(from_logits=True))
    logits.layers[-1]._act = "linear"
    assert probs._fusion() == "softmax" and not logits._fusion()
    _, _, g1 = probs._gradients(x, onehot, None)
    _, _, g2 = logits._gradients(x, onehot, None)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ---- backends, seeding, determinism ---------------------------------------------------------------


def trajectory(backend, threads=None, epochs=3):
    x, _, onehot = data(n=96)
    previous = fastnn.get_num_threads()
    if threads:
        fastnn.set_num_threads(threads)
    try:
        with fastnn.backend(backend):
            model = mlp(seed=21, dropout=0.3, bn=True)
            history = model.fit(x, onehot, batch_size=16, epochs=epochs, verbose=0)
    finally:
        fastnn.set_num_threads(previous)
    return history.history, model.get_weights()


def test_cpp_and_numpy_backends_agree_on_the_loss_trajectory():
    cpp, w_cpp = trajectory("cpp")
    ref, w_ref = trajectory("numpy")
    np.testing.assert_allclose(cpp["loss"], ref["loss"], rtol=2e-4)
    np.testing.assert_allclose(cpp["accuracy"], ref["accuracy"], atol=1.5 / 96)
    for a, b in zip(w_cpp, w_ref):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_same_seed_same_weights_and_trajectory_across_thread_counts():
    h1, w1 = trajectory("cpp", threads=1)
    h2, w2 = trajectory("cpp", threads=2)
    h3, w3 = trajectory("cpp", threads=2)
    assert h1 == h2 == h3
    for a, b, c in zip(w1, w2, w3):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
    a, b = mlp(seed=1).get_weights(), mlp(seed=2).get_weights()
    assert not np.array_equal(a[0], b[0])


# ---- fit / evaluate / predict ------------------------------------------------------------------


def test_fit_history_validation_and_initial_epoch():
    x, labels, onehot = data(n=100)
    model = mlp(seed=3)
    history = model.fit(x, onehot, batch_size=16, epochs=5, initial_epoch=2, validation_split=0.2, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [2, 3, 4] and len(history.history["loss"]) == 3
    assert model.history is history and history.params["steps"] == 5  # 80 training samples
    val = model.evaluate(x[80:], onehot[80:], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(val["accuracy"])
    h2 = model.fit(x, onehot, epochs=1, validation_data=(x[:10], onehot[:10]), verbose=0, shuffle=False)
    assert h2.history["val_loss"][0] == pytest.approx(model.evaluate(x[:10], onehot[:10], verbose=0)[0], rel=1e-6)


def test_class_weight_equals_sample_weight():
    x, labels, onehot = data(n=48)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a, b = mlp(seed=5), mlp(seed=5)
    a.fit(x, onehot, batch_size=8, epochs=2, class_weight=cw, shuffle=False, verbose=0)
    b.fit(x, onehot, batch_size=8, epochs=2, sample_weight=np.array([cw[int(c)] for c in labels]), shuffle=False,
          verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_sample_and_class_weights_reach_weighted_metrics_only(tmp_path):
    # Keras's CompileMetrics: `metrics` take no sample weights (keras.io's credit-card fraud example
    # logs whole counts with class_weight), `weighted_metrics` take them; a name in both gets "_1"
    x, labels, onehot = data(n=40)
    model = mlp(seed=3, optimizer=SGD(0.0))  # (no update: the predictions stay fixed)
    model.compile(optimizer=SGD(0.0), loss="categorical_crossentropy",
                  metrics=["accuracy", fastnn.metrics.TruePositives(name="tp")],
                  weighted_metrics=["accuracy", fastnn.metrics.Recall(name="weighted_recall")])
    p = model.predict(x, verbose=0)
    hit, tp = p.argmax(1) == labels, float(np.sum((p > 0.5) & (onehot == 1)))
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    w = np.array([cw[int(c)] for c in labels])
    history = model.fit(x, onehot, batch_size=40, epochs=1, class_weight=cw, verbose=0).history
    assert set(history) == {"loss", "accuracy", "tp", "weighted_accuracy", "weighted_recall"}
    assert history["accuracy"][0] == pytest.approx(hit.mean())
    assert history["weighted_accuracy"][0] == pytest.approx((w * hit).sum() / w.sum())
    assert history["tp"][0] == tp  # (a whole count)
    logs = model.evaluate(x, onehot, sample_weight=w, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(hit.mean()) and logs["tp"] == tp
    assert logs["weighted_accuracy"] == pytest.approx((w * hit).sum() / w.sum())
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    assert again.evaluate(x, onehot, sample_weight=w, verbose=0, return_dict=True) == pytest.approx(logs)
    # a weighted metric of a name already taken is logged as Keras 3 logs it: weighted_<name>
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"],
                  weighted_metrics=[fastnn.metrics.MeanAbsoluteError(name="mae")])
    assert set(model.evaluate(x, onehot, verbose=0, return_dict=True)) == {"loss", "mae", "weighted_mae"}


def test_evaluate_predict_and_batch_methods():
    x, labels, onehot = data(n=50)
    model = mlp(seed=6, metrics=["accuracy", "mse"])
    model.fit(x, onehot, epochs=3, verbose=0)
    loss, acc, mse = model.evaluate(x, onehot, batch_size=7, verbose=0)
    out = model.predict(x, batch_size=7, verbose=0)
    assert out.shape == (50, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict_on_batch(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model(x), out, rtol=1e-6, atol=1e-7)
    assert acc == pytest.approx(np.mean(out.argmax(1) == labels))
    assert mse == pytest.approx(np.mean((out - onehot) ** 2), rel=1e-5)
    assert loss == pytest.approx(losses.CategoricalCrossentropy()(onehot, out), rel=1e-5)
    assert model.metrics_names == ["loss", "accuracy", "mse"]
    assert set(model.evaluate(x, onehot, verbose=0, return_dict=True)) == {"loss", "accuracy", "mse"}
    assert len(model.train_on_batch(x[:8], onehot[:8])) == 3
    assert model.test_on_batch(x[:8], onehot[:8], return_dict=True)["loss"] > 0
    plain = mlp(seed=6, metrics=())
    assert isinstance(plain.evaluate(x, onehot, verbose=0), float)
    assert isinstance(plain.train_on_batch(x, onehot), float)


@pytest.mark.parametrize("units,loss,target", [
    (1, "binary_crossentropy", "binary"), (3, "categorical_crossentropy", "onehot"),
    (3, "sparse_categorical_crossentropy", "labels")])
def test_accuracy_picks_the_keras_variant(units, loss, target):
    fastnn.set_random_seed(0)
    model = Sequential([Dense(units, activation="sigmoid" if units == 1 else "softmax", input_shape=(6,))])
    model.compile("sgd", loss, metrics=["accuracy"])
    x, labels, onehot = data(n=40)
    y = {"binary": (labels == 0).astype(np.float32)[:, None], "onehot": onehot, "labels": labels}[target]
    _, acc = model.evaluate(x, y, verbose=0)
    out = model.predict(x, verbose=0)
    expected = np.mean((out > 0.5) == y) if target == "binary" else np.mean(out.argmax(1) == labels)
    assert acc == pytest.approx(expected)


def test_regularization_penalty_is_in_the_reported_loss():
    fastnn.set_random_seed(0)
    model = Sequential([Dense(3, activation="softmax", input_shape=(6,), kernel_regularizer=regularizers.L2(0.01))])
    model.compile("sgd", "categorical_crossentropy")
    x, _, onehot = data(n=20)
    plain = losses.CategoricalCrossentropy()(onehot, model.predict(x, verbose=0))
    assert model.evaluate(x, onehot, verbose=0) == pytest.approx(plain + 0.01 * np.sum(model.layers[0].kernel ** 2),
                                                                 rel=1e-5)


def test_frozen_layers_are_not_updated():
    x, _, onehot = data(n=40)
    model = mlp(seed=8, bn=True)
    model.layers[0].trainable = False
    model.layers[1].trainable = False  # BatchNormalization: inference mode, stats frozen too
    model.compile(optimizer="adam", loss="categorical_crossentropy")  # trainable takes effect at compile
    frozen = [w.copy() for w in model.layers[0].weights + model.layers[1].weights]
    others = [w.copy() for w in model.layers[2].weights]
    model.fit(x, onehot, epochs=2, verbose=0)
    for a, b in zip(frozen, model.layers[0].weights + model.layers[1].weights):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(others[0], model.layers[2].kernel)
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 6


def test_input_gradients_are_skipped_where_nothing_upstream_learns():
    model = Sequential([Flatten(input_shape=(4, 3)), Dense(5), Dense(2)])
    assert [l._need_input_grad for l in model.layers] == [False, False, True]
    model.layers[1].trainable = False
    model.compile("sgd", "mse")
    model.train_on_batch(np.ones((2, 4, 3)), np.ones((2, 2)))
    assert [l._need_input_grad for l in model.layers] == [False, False, False]
    model.layers[1].trainable = True
    model.compile("sgd", "mse")
    model.train_on_batch(np.ones((2, 4, 3)), np.ones((2, 2)))
    assert model.layers[2]._need_input_grad


def test_a_frozen_branch_runs_no_backward(monkeypatch):
    # a frozen feature extractor beside a trainable branch: the merge sends it a gradient, but
    # nothing it computes would be used, so its backward is not run (a frozen prefix of a chain
    # never receives a gradient in the first place)
    inp = Input(shape=(6, 6, 1))
    frozen = Flatten()(MaxPooling2D(name="frozen_pool")(Conv2D(4, 3, activation="relu", name="frozen_conv")(inp)))
    frozen = Dense(5, name="frozen_dense")(frozen)
    learned = Dense(5, name="learned_dense")(Flatten()(inp))
    model = Model(inp, Dense(3, activation="softmax")(Concatenate()([frozen, learned])))
    for name in ("frozen_conv", "frozen_dense"):
        model.get_layer(name).trainable = False
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    called = []
    for layer in model.layers:
        for method in ("backward", "backward_pooled", "backward_from_logits"):
            if hasattr(layer, method):
                def spy(*args, _layer=layer, _orig=getattr(layer, method)):
                    called.append(_layer.name)
                    return _orig(*args)
                monkeypatch.setattr(layer, method, spy)
    names = ("frozen_conv", "frozen_dense", "learned_dense")
    before = {name: [w.copy() for w in model.get_layer(name).weights] for name in names}
    x = np.random.default_rng(0).random((8, 6, 6, 1)).astype(np.float32)
    model.train_on_batch(x, np.eye(3)[np.arange(8) % 3])
    assert "learned_dense" in called and not {"frozen_dense", "frozen_conv"} & set(called), called
    for name in names:
        same = [np.array_equal(a, b) for a, b in zip(before[name], model.get_layer(name).weights)]
        assert all(same) if name.startswith("frozen") else not any(same), name


def test_trainable_flags_take_effect_at_compile():
    # Keras: the trainable values at compile time hold until compile is called again
    x, _, onehot = data(n=40)
    model = mlp(seed=3)
    model.layers[0].trainable = False  # after compile: no effect yet
    before = model.layers[0].kernel.copy()
    model.fit(x, onehot, epochs=1, verbose=0)
    assert not np.array_equal(before, model.layers[0].kernel)
    assert model.layers[0].trainable is False  # the user's flag is kept
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = model.layers[0].kernel.copy()
    model.fit(x, onehot, epochs=1, verbose=0)
    model.train_on_batch(x[:8], onehot[:8])
    np.testing.assert_array_equal(before, model.layers[0].kernel)


# ---- nested models ------------------------------------------------------------------------------


def test_nested_functional_autoencoder_trains_the_inner_models():
    # the notes' autoencoder: Model(inputs, decoder(encoder(inputs)))
    fastnn.set_random_seed(0)
    rng = np.random.default_rng(0)
    codes = rng.random((64, 3))
    x = (1 / (1 + np.exp(-4 * (codes @ rng.standard_normal((3, 12)))))).astype(np.float32)  # 3 factors of 12
    inputs = Input(shape=(12,), name="encoder_input")
    encoder = Model(inputs, Dense(4, activation="relu", name="latent")(Dense(8, activation="relu")(inputs)),
                    name="encoder")
    latent_inputs = Input(shape=(4,), name="decoder_input")
    decoder = Model(latent_inputs, Dense(12, activation="sigmoid")(Dense(8, activation="relu")(latent_inputs)),
                    name="decoder")
    autoencoder = Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    assert autoencoder.output_shape == (None, 12)
    assert autoencoder.get_layer("encoder") is encoder and autoencoder.get_layer("decoder") is decoder
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()
    assert len(autoencoder.weights) == 8 and all(
        a is b for a, b in zip(autoencoder.weights, encoder.weights + decoder.weights))
    autoencoder.compile(optimizer="adam", loss="mse")
    history = autoencoder.fit(x, x, epochs=60, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    # the inner models hold the trained weights
    np.testing.assert_allclose(decoder.predict(encoder.predict(x, verbose=0), verbose=0),
                               autoencoder.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"Input 0 of model 'decoder' is incompatible"):
        decoder(Input(shape=(5,)))
    with pytest.raises(ValueError, match=r"Model 'decoder' expects 1 input\(s\), but it received 2"):
        decoder([Input(shape=(4,)), Input(shape=(4,))])


def test_gan_discriminator_frozen_only_in_the_combined_model():
    # the notes' DCGAN recipe: compile the discriminator, set trainable = False, compile the combined
    # model; then the discriminator's own steps train it and the combined model's leave it alone
    fastnn.set_random_seed(1)
    rng = np.random.default_rng(1)
    d_in = Input(shape=(6,))
    discriminator = Model(d_in, Dense(1, activation="sigmoid")(Dense(8, activation="relu")(d_in)), name="d")
    discriminator.compile(loss="binary_crossentropy", optimizer="rmsprop")
    z = Input(shape=(3,))
    generator = Model(z, Dense(6, activation="tanh")(z), name="g")
    discriminator.trainable = False
    adversarial = Model(z, discriminator(generator(z)), name="gan")
    adversarial.compile(loss="binary_crossentropy", optimizer="rmsprop")
    assert len(adversarial.trainable_weights) == 2 and len(adversarial.non_trainable_weights) == 4
    for _ in range(3):
        d_before = [w.copy() for w in discriminator.weights]
        real = rng.standard_normal((8, 6)).astype(np.float32)
        fake = generator.predict(rng.uniform(-1, 1, (8, 3)).astype(np.float32), verbose=0)
        discriminator.train_on_batch(np.concatenate([real, fake]), np.r_[np.ones(8), np.zeros(8)].reshape(-1, 1))
        assert all(not np.array_equal(a, b) for a, b in zip(d_before, discriminator.weights))
        d_before = [w.copy() for w in discriminator.weights]
        g_before = [w.copy() for w in generator.weights]
        adversarial.train_on_batch(rng.uniform(-1, 1, (8, 3)).astype(np.float32), np.ones((8, 1)))
        assert all(np.array_equal(a, b) for a, b in zip(d_before, discriminator.weights))
        assert all(not np.array_equal(a, b) for a, b in zip(g_before, generator.weights))
    assert discriminator.trainable is False


def test_nested_models_with_two_inputs_summarise_as_keras_does():
    # the notes' conditional GAN: generator([z, labels]) feeds discriminator([image, labels])
    z, labels = Input(shape=(3,), name="z"), Input(shape=(2,), name="labels")
    g = Model([z, labels], Dense(4, name="g_out")(Concatenate()([z, labels])), name="generator")
    image, d_labels = Input(shape=(4,)), Input(shape=(2,))
    d = Model([image, d_labels], Dense(1, activation="sigmoid")(Concatenate()([image, d_labels])),
              name="discriminator")
    d.compile(loss="binary_crossentropy", optimizer="sgd")
    d.trainable = False
    gan = Model([z, labels], d([g([z, labels]), labels]), name="cgan")
    gan.compile(loss="binary_crossentropy", optimizer="sgd")
    lines = []
    gan.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert re.search(r"│ generator \(Functional\) +│ \(None, 4\) +│ +24 │ z\[0\]\[0\], labels\[0\]\[0\] +│", text), text
    assert re.search(r"│ discriminator \(Functional\) +│ \(None, 1\) +│ +7 │ generator\[0\]\[0\], +│\n│ +│ +│ +│ "
                     r"labels\[0\]\[0\]", text), text
    assert " Trainable params: 24 " in text and " Non-trainable params: 7 " in text
    rng = np.random.default_rng(3)
    before = [w.copy() for w in g.weights]
    gan.train_on_batch([rng.random((5, 3)), rng.random((5, 2))], np.ones((5, 1)))
    assert all(not np.array_equal(a, b) for a, b in zip(before, g.weights))


# ---- several outputs -------------------------------------------------------------------------


def _two_heads(seed):
    # an ACGAN-style discriminator head pair: real/fake (sigmoid) and the class (softmax)
    fastnn.set_random_seed(seed)
    inp = Input(shape=(6,))
    h = Dense(8, activation="relu", name="trunk")(inp)
    return Model(inp, [Dense(1, activation="sigmoid", name="source")(h), Dense(3, activation="softmax",
                                                                               name="label")(h)])


def _two_head_data(n=48):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, (x[:, :1] > 0).astype(np.float32), np.eye(3, dtype=np.float32)[np.abs(x[:, 1] * 2).astype(int) % 3]


def test_several_outputs_losses_metrics_and_logs():
    x, y_src, y_lab = _two_head_data()
    model = _two_heads(0)
    model.compile(optimizer="adam", loss=["binary_crossentropy", "categorical_crossentropy"],
                  loss_weights=[1.0, 0.5], metrics=["accuracy"])
    assert model.output_names == ["source", "label"] and model.output_shape == [(None, 1), (None, 3)]
    assert model.metrics_names == ["loss", "source_loss", "label_loss", "source_accuracy", "label_accuracy"]
    loss, l_src, l_lab, a_src, a_lab = model.evaluate(x, [y_src, y_lab], verbose=0)
    p_src, p_lab = model.predict(x, verbose=0)
    np.testing.assert_allclose(l_src, losses.BinaryCrossentropy()(y_src, p_src), rtol=1e-5)
    np.testing.assert_allclose(l_lab, losses.CategoricalCrossentropy()(y_lab, p_lab), rtol=1e-5)
    np.testing.assert_allclose(loss, l_src + 0.5 * l_lab, rtol=1e-5)
    np.testing.assert_allclose(a_src, ((p_src > 0.5) == y_src).mean(), rtol=1e-6)
    np.testing.assert_allclose(a_lab, (p_lab.argmax(1) == y_lab.argmax(1)).mean(), rtol=1e-6)
    by_name = model.evaluate(x, {"label": y_lab, "source": y_src}, verbose=0)
    np.testing.assert_allclose(by_name, [loss, l_src, l_lab, a_src, a_lab], rtol=1e-6)
    history = model.fit(x, [y_src, y_lab], epochs=3, batch_size=16, validation_split=0.25, verbose=0).history
    assert sorted(history) == sorted(["loss", "source_loss", "label_loss", "source_accuracy", "label_accuracy",
                                      "val_loss", "val_source_loss", "val_label_loss", "val_source_accuracy",
                                      "val_label_accuracy"])
    assert len(model.train_on_batch(x[:8], [y_src[:8], y_lab[:8]])) == 5
    assert [a.shape for a in model.predict_on_batch(x[:4])] == [(4, 1), (4, 3)]


def test_sample_weights_per_output():
    x, y_src, y_lab = _two_head_data()
    model = _two_heads(5)
    model.compile(optimizer="sgd", loss=["binary_crossentropy", "categorical_crossentropy"], metrics=["accuracy"])
    w = np.random.default_rng(13).uniform(0.5, 2, len(x)).astype(np.float32)
    p_src, p_lab = model.predict(x, verbose=0)
    _, l_src, l_lab, a_src, a_lab = model.evaluate(x, [y_src, y_lab], sample_weight={"label": w}, verbose=0)
    np.testing.assert_allclose(l_src, losses.BinaryCrossentropy()(y_src, p_src), rtol=1e-5)  # unweighted
    np.testing.assert_allclose(l_lab, losses.CategoricalCrossentropy()(y_lab, p_lab, w), rtol=1e-5)
    # (metrics take no sample weights: Keras gives them to weighted_metrics only)
    np.testing.assert_allclose(a_lab, (p_lab.argmax(1) == y_lab.argmax(1)).mean(), rtol=1e-6)
    both = model.evaluate(x, [y_src, y_lab], sample_weight=w, verbose=0)  # one array: every output
    np.testing.assert_allclose(both[1], losses.BinaryCrossentropy()(y_src, p_src, w), rtol=1e-5)
    model.fit(x, [y_src, y_lab], sample_weight=[w, None], epochs=1, batch_size=16, validation_split=0.25, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight must be one array for all outputs or one per output"):
        model.fit(x, [y_src, y_lab], sample_weight=[w], verbose=0)


def test_one_layer_giving_several_outputs():
    # the Jazz and machine-translation assignments: one Dense applied at each step, each application
    # an output; tf.keras 2 made the output names unique, so compile and the logs work
    x = Input((4,))
    densor = Dense(3, activation="softmax", name="densor")
    hidden = Dense(4)(x)
    model = Model(x, [densor(x), densor(hidden), densor(x + hidden)])
    assert model.output_names == ["densor", "densor_1", "densor_2"]
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    y = np.eye(3, dtype=np.float32)[np.zeros(8, int)]
    history = model.fit(np.random.default_rng(0).random((8, 4)), [y, y, y], epochs=1, verbose=0).history
    assert {"densor_loss", "densor_1_loss", "densor_2_accuracy"} <= set(history)


def test_a_zero_loss_weight_trains_as_the_other_output_alone():
    # the weighted sum's gradient: with the label head's weight 0, the trunk and the source head
    # take exactly the steps a model with only the source head takes
    x, y_src, y_lab = _two_head_data()
    both = _two_heads(1)
    both.compile(optimizer="sgd", loss=["binary_crossentropy", "categorical_crossentropy"], loss_weights=[1.0, 0.0])
    inp = both.inputs[0]
    alone = Model(inp, both.get_layer("source").output)  # the same layer objects
    alone_weights = [w.copy() for w in alone.weights]
    both.train_on_batch(x, [y_src, y_lab])
    trained = {id(w): w.copy() for w in both.weights}
    for w, saved in zip(alone.weights, alone_weights):  # rewind the shared layers, then train alone
        w[...] = saved
    alone.compile(optimizer="sgd", loss="binary_crossentropy")
    alone.train_on_batch(x, y_src)
    for w in alone.weights:
        np.testing.assert_allclose(w, trained[id(w)], rtol=1e-6, atol=1e-7)


def test_several_outputs_save_load_and_errors(tmp_path):
    x, y_src, y_lab = _two_head_data()
    model = _two_heads(2)
    model.compile(optimizer="adam", loss={"source": "binary_crossentropy", "label": "categorical_crossentropy"},
                  metrics={"label": ["accuracy"]})
    assert model.metrics_names == ["loss", "source_loss", "label_loss", "label_accuracy"]
    one = _two_heads(2)  # one metric for an output, not in a list (Keras takes both)
    one.compile(optimizer="adam", loss=["binary_crossentropy", "categorical_crossentropy"],
                metrics={"label": "accuracy"})
    assert one.metrics_names == model.metrics_names
    model.fit(x, [y_src, y_lab], epochs=1, verbose=0)
    path = tmp_path / "two_heads.safetensors"
    model.save(path)
    loaded = load_model(path)
    assert loaded.metrics_names == model.metrics_names
    for a, b in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"has 2 outputs \['source', 'label'\]; pass `y` as a list of 2 arrays"):
        model.fit(x, y_src, verbose=0)
    with pytest.raises(ValueError, match="class_weight is not supported for a model with several outputs"):
        model.fit(x, [y_src, y_lab], class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"loss must have one entry per output \(2: \['source', 'label'\]\)"):
        model.compile(optimizer="sgd", loss=["mse"])
    with pytest.raises(ValueError, match=r"loss names unknown outputs \['src'\]"):
        model.compile(optimizer="sgd", loss={"src": "mse", "label": "mse"})
    with pytest.raises(ValueError, match="takes one loss weight"):
        Model(model.inputs[0], model.outputs[0]).compile(optimizer="sgd", loss="mse", loss_weights=[1.0, 2.0])


@pytest.mark.parametrize("loss, weights", [("mse", 2.5), ("mse", [2.5]), ("categorical_crossentropy", {"out": 2.5})])
def test_one_output_loss_weights_scale_the_loss_and_its_gradient(tmp_path, loss, weights):
    # Keras 3 takes loss_weights for one output too: the loss (and so each step) scaled
    rng = np.random.default_rng(21)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    act = "softmax" if loss != "mse" else None

    def make():
        fastnn.set_random_seed(4)
        inp = Input((4,))
        return Model(inp, Dense(3, activation=act, name="out")(inp))

    plain, weighted = make(), make()
    plain.compile(optimizer=fastnn.optimizers.SGD(0.1 * 2.5), loss=loss)
    weighted.compile(optimizer=fastnn.optimizers.SGD(0.1), loss=loss, loss_weights=weights)
    assert weighted.evaluate(x, y, verbose=0) == pytest.approx(2.5 * plain.evaluate(x, y, verbose=0), rel=1e-6)
    plain.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    weighted.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)  # (SGD: 2.5 x the gradient = 2.5 x lr)
    for a, b in zip(weighted.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with fastnn.GradientTape() as tape:  # a custom train_step's compute_loss: weighted too
        value = weighted.compute_loss(x, y, weighted(x))
    assert float(value) == pytest.approx(weighted.evaluate(x, y, verbose=0), rel=1e-5)
    weighted.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    assert again.evaluate(x, y, verbose=0) == pytest.approx(weighted.evaluate(x, y, verbose=0), rel=1e-6)


def test_an_intermediate_output_gets_both_gradients(float64_numpy):
    # h is an output and also feeds y: its layer's gradient is the sum of both losses' parts
    rng = np.random.default_rng(12)
    inp = Input(shape=(3,))
    h = Dense(4, activation="tanh", name="h")(inp)
    model = Model(inp, [h, Dense(2, name="y")(h)])
    model.compile(optimizer="sgd", loss=["mse", "mse"], loss_weights=[0.3, 1.0])
    x, t1, t2 = rng.random((5, 3)), rng.random((5, 4)), rng.random((5, 2))
    _, _, grads = model._gradients([x], [t1, t2], None)
    kernel = model.get_layer("h").kernel
    num = np.zeros_like(kernel)
    for i in range(kernel.size):
        old = kernel.flat[i]
        kernel.flat[i] = old + 1e-6
        hi = model._batch_loss([t1, t2], model._forward([x], True), None)
        kernel.flat[i] = old - 1e-6
        lo = model._batch_loss([t1, t2], model._forward([x], True), None)
        kernel.flat[i] = old
        num.flat[i] = (hi - lo) / 2e-6
    np.testing.assert_allclose(grads[0], num, rtol=1e-6, atol=1e-9)
    stop = EarlyStopping(monitor="val_y_loss", patience=1)  # a per-output loss is minimised
    model.fit(x, [t1, t2], epochs=2, verbose=0, validation_data=(x, [t1, t2]), callbacks=[stop])
    assert stop._direction == "min"


def test_a_convolution_output_that_feeds_a_pooling_output_is_not_fused_away():
    # conv -> max pooling runs as one op only when the convolution's full output is not needed
    inp = Input(shape=(8, 8, 2))
    conv = Conv2D(3, 3, activation="relu")(inp)
    model = Model(inp, [conv, MaxPooling2D(2)(conv)])
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 2)).astype(np.float32)
    conv_out, pooled = model.predict(x, verbose=0)
    np.testing.assert_array_equal(conv_out, Model(inp, conv).predict(x, verbose=0))
    np.testing.assert_array_equal(pooled, conv_out.reshape(2, 3, 2, 3, 2, 3).max(axis=(2, 4)))


def test_a_model_with_several_outputs_nests_like_the_acgan_discriminator():
    # the discriminator (two outputs) is compiled, frozen, and called on the generator's output
    x, y_src, y_lab = _two_head_data()
    d = _two_heads(4)
    d.compile(optimizer="rmsprop", loss=["binary_crossentropy", "categorical_crossentropy"], metrics=["accuracy"])
    z = Input(shape=(2,))
    g = Model(z, Dense(6, name="g_out")(z), name="generator")
    d.trainable = False
    adversarial = Model(z, d(g(z)), name="acgan")
    adversarial.compile(optimizer="rmsprop", loss=["binary_crossentropy", "categorical_crossentropy"])
    assert adversarial.output_shape == [(None, 1), (None, 3)]
    before_d = [w.copy() for w in d.weights]
    before_g = [w.copy() for w in g.weights]
    adversarial.train_on_batch(np.ones((8, 2), np.float32), [np.ones((8, 1)), y_lab[:8]])
    assert all(np.array_equal(a, b) for a, b in zip(before_d, d.weights))
    assert not any(np.array_equal(a, b) for a, b in zip(before_g, g.weights))
    d.train_on_batch(x, [y_src, y_lab])
    assert not any(np.array_equal(a, b) for a, b in zip(before_d, d.weights))


def test_sequential_of_models_and_model_in_sequential():
    fastnn.set_random_seed(2)
    first = Sequential([Input(shape=(5,)), Dense(4, activation="relu")], name="first")
    second = Sequential([Dense(2)], name="second")
    both = Sequential([first, second])
    assert both.input_shape == (None, 5) and both.output_shape == (None, 2)
    lines = []
    both.summary(print_fn=lines.append)  # one row per added model, as Keras prints it
    assert [line.split("│")[1].strip() for line in lines if line.startswith("│")] == \
        ["first (Sequential)", "second (Sequential)"]
    assert both.get_layer("second") is second
    assert both.layers == [first, second]  # as Keras lists them; every layer is in _all_layers
    assert both._all_layers == [first.layers[0], second.layers[0]]
    x = np.random.default_rng(2).random((3, 5), dtype=np.float32)
    np.testing.assert_allclose(both.predict(x, verbose=0), second.predict(first.predict(x, verbose=0), verbose=0),
                               rtol=1e-6)
    inp = Input(shape=(5,))
    branchy = Model(inp, Add()([Dense(3)(inp), Dense(3)(inp)]))
    with pytest.raises(TypeError, match="is not a single chain of layers"):
        Sequential([branchy])


# ---- progress output and summary -----------------------------------------------------------------


class FakeTerminal:
    """A stdout that says it is a terminal and records what is written."""

    def __init__(self):
        self.text = ""
        self.encoding = "utf-8"

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_is_live_on_a_terminal(monkeypatch):
    x, _, onehot = data(n=400)
    model = mlp(seed=9)
    term = FakeTerminal()
    monkeypatch.setattr("sys.stdout", term)
    monkeypatch.setattr("fastnn.callbacks.Progbar.__init__.__defaults__", (20, 1, 0.0, "step"))  # redraw every step
    model.fit(x, onehot, batch_size=8, epochs=1, verbose=1)
    monkeypatch.undo()
    redraws = term.text.split("\r")
    assert len(redraws) > 40 and term.text.endswith("\n") and term.text.count("\n") == 1
    assert "\x1b[1m50/50\x1b[0m" in redraws[-1] and "\x1b[32m" in redraws[-1]
    first = redraws[1].replace("\x1b[1m", "").replace("\x1b[32m", "").replace("\x1b[37m", "").replace("\x1b[0m", "")
    assert re.match(r" 1/50 ━{20} \d+s \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$", first), first


def test_progress_output_is_one_plain_line_per_epoch_off_a_terminal(capsys):
    x, _, onehot = data(n=40)
    model = mlp(seed=9)
    model.fit(x, onehot, batch_size=8, epochs=3, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and "\b" not in out
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6
    for line in lines[1::2]:
        assert line.startswith("4/4 ━━━━━━━━━━━━━━━━━━━━ ")
        assert "/step - accuracy: " in line and " - loss: " in line and " - val_loss: " in line
    model.fit(x, onehot, batch_size=8, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[1].startswith("5/5 - ") and "/step - accuracy: " in lines[1]
    model.fit(x, onehot, epochs=2, verbose=0)
    model.evaluate(x, onehot, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, onehot, batch_size=40)
    assert capsys.readouterr().out.startswith("1/1 ━")


KERAS_SUMMARY = """\
Model: "mnist_mlp"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ hidden (Dense)                       │ (None, 64)                  │          50,240 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ out (Dense)                          │ (None, 10)                  │             650 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 50,890 (198.79 KB)
 Trainable params: 50,890 (198.79 KB)
 Non-trainable params: 0 (0.00 B)"""


def test_summary_is_keras_table(capsys):
    model = Sequential([Dense(64, activation="sigmoid", input_shape=(784,), name="hidden"),
                        Dense(10, activation="softmax", name="out")], name="mnist_mlp")
    model.summary()
    assert capsys.readouterr().out.rstrip("\n") == KERAS_SUMMARY
    lines = []
    bn = Sequential([Dense(4, input_shape=(3,)), BatchNormalization()])
    bn.compile(Adam(), "mse")
    bn.fit(np.ones((4, 3)), np.ones((4, 4)), verbose=0)
    bn.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # Keras 3's counts: Adam's two slots per trainable weight, plus its int64 iteration counter and
    # float32 learning rate (Keras's MNIST convnet after fit: 34,826 trainable, 69,654 optimizer)
    assert " Total params: 82 (332.00 B)" in text and " Trainable params: 24 (96.00 B)" in text
    assert " Non-trainable params: 8 (32.00 B)" in text and " Optimizer params: 50 (204.00 B)" in text
    plain = Sequential([Dense(2, input_shape=(3,))])
    plain.compile("sgd", "mse")
    plain.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    lines.clear()
    plain.summary(print_fn=lines.append)
    assert " Optimizer params: 2 (12.00 B)" in "\n".join(lines)  # SGD without momentum: no slots


# ---- NaN handling --------------------------------------------------------------------------------


def nan_setup():
    x, _, onehot = data(n=32)
    onehot[9, 0] = np.nan  # sample 9: the third batch of 4 has a NaN loss
    return x, onehot


def twin_after(steps):
    """The weights after training the first ``steps`` batches of 4 one by one."""
    x, onehot = nan_setup()
    model = mlp(seed=10, optimizer=SGD(0.1))
    for s in range(steps):
        model.train_on_batch(x[4 * s:4 * s + 4], onehot[4 * s:4 * s + 4])
    return model.get_weights()


def test_nan_loss_stops_cleanly_and_is_reported(capsys):
    x, onehot = nan_setup()
    model = mlp(seed=10, optimizer=SGD(0.1))
    history = model.fit(x, onehot, batch_size=4, epochs=3, shuffle=False, verbose=0)
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(history.history["loss"]) == 1 and math.isnan(history.history["loss"][0])
    for a, b in zip(model.get_weights(), twin_after(2)):  # the NaN batch's update is never applied
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_can_restore_the_last_finite_weights(capsys):
    x, onehot = nan_setup()
    model = mlp(seed=10, optimizer=SGD(0.1))
    model.fit(x, onehot, batch_size=4, epochs=3, shuffle=False, verbose=0,
              callbacks=[TerminateOnNaN(keep_last_finite_weights=True)])
    assert "Invalid loss" in capsys.readouterr().out
    for a, b in zip(model.get_weights(), twin_after(1)):  # the weights whose loss was the last finite one
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_raise_error_raises_at_the_batch():
    # Keras 3's TerminateOnNaN(raise_error=True): a RuntimeError, no graceful stop
    x, onehot = nan_setup()
    model = mlp(seed=10, optimizer=SGD(0.1))
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        model.fit(x, onehot, batch_size=4, epochs=3, shuffle=False, verbose=0,
                  callbacks=[TerminateOnNaN(raise_error=True)])


# ---- bad inputs ----------------------------------------------------------------------------------


def test_fit_before_compile():
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="must call `compile\\(\\)` before calling `fit\\(\\)`"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"batch_size": 0}, ValueError, "Received: batch_size=0"),
    ({"epochs": -1}, ValueError, "Received: epochs=-1"),  # (epochs=0 trains nothing, as in Keras)
    ({"validation_split": 1.0}, ValueError, "validation_split"),
    ({"validation_split": -0.1}, ValueError, "validation_split"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"sample_weight": np.ones(5)}, ValueError, "sample_weight must have shape \\(10,\\)"),
    ({"validation_data": (np.ones((3, 6)),)}, ValueError, "validation_data"),
    ({"callbacks": [print]}, TypeError, "callbacks"),
])
def test_bad_fit_arguments(kwargs, error, match):
    x, _, onehot = data(n=10)
    with pytest.raises(error, match=match):
        mlp().fit(x, onehot, **{"verbose": 0, **kwargs})


def test_bad_data():
    x, labels, onehot = data(n=10)
    model = mlp()
    with pytest.raises(ValueError, match="'x' sizes: 10 'y' sizes: 9"):
        model.fit(x, onehot[:9], verbose=0)
    with pytest.raises(ValueError, match="Input 0 of layer 'dense.*' is incompatible with the layer: expected axis -1 to "
                                         "have value 6, found 28"):
        model.fit(np.ones((10, 28)), onehot, verbose=0)
    with pytest.raises(ValueError, match="expected axis -1 to have value 6, found 28"):
        model.predict(np.ones((10, 4, 28)), verbose=0)
    with pytest.raises(ValueError, match="Integer labels need loss='sparse_categorical_crossentropy'"):
        model.fit(x, labels, verbose=0)
    with pytest.raises(TypeError, match="must hold numbers"):
        model.fit(np.array(["a"] * 10), onehot, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.predict(np.ones((0, 6)), verbose=0)
    sparse = mlp(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="labels in \\[0, 3\\) for a model with 3 outputs. Received: labels from 0 to 7"):
        sparse.fit(x, np.where(labels == 1, 7, labels), verbose=0)
    with pytest.raises(ValueError, match="look one-hot encoded"):
        sparse.fit(x, onehot, verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        sparse.evaluate(x, labels + 0.5, verbose=0)
    binary = Sequential([Dense(1, activation="sigmoid", input_shape=(6,))])
    binary.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError, match="targets in \\[0, 1\\]"):
        binary.fit(x, labels.astype(np.float32), verbose=0)
    regression = Sequential([Dense(2, input_shape=(6,))])
    regression.compile("sgd", "mse")
    with pytest.raises(ValueError, match="needs 2 values per sample"):
        regression.fit(x, onehot, verbose=0)
    with pytest.raises(ValueError, match="Unknown loss"):
        regression.compile("sgd", "hingee")
    with pytest.raises(ValueError, match="Unknown metric"):
        regression.compile("sgd", "mse", metrics=["f1"])
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 3"):
        regression.compile("sgd", 3)


# ---- utilities -----------------------------------------------------------------------------------


def test_to_categorical_normalize_standardize():
    np.testing.assert_array_equal(fastnn.utils.to_categorical([2, 0, 1]), np.eye(3)[[2, 0, 1]])
    assert fastnn.utils.to_categorical(np.array([[1], [3]]), 5).shape == (2, 5)
    assert fastnn.utils.to_categorical([1, 2], 4).dtype == np.float32
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\). Received: x\[1\]=3"):
        fastnn.utils.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="integer class labels"):
        fastnn.utils.to_categorical([0.5])
    np.testing.assert_allclose(np.linalg.norm(fastnn.utils.normalize(np.array([[3.0, 4.0], [0, 0]])), axis=1), [1, 0])
    x = np.random.default_rng(0).random((50, 3)) * 10 + 4
    z, mean, std = fastnn.utils.standardize(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    z2, _, _ = fastnn.utils.standardize(x[:5], mean, std)
    np.testing.assert_array_equal(z2, z[:5])


def test_train_test_split_and_kfold():
    x, y = np.arange(40).reshape(20, 2), np.arange(20) % 2
    x_tr, x_te, y_tr, y_te = fastnn.utils.train_test_split(x, y, test_size=0.25, random_state=0)
    assert len(x_tr) == 15 and len(x_te) == 5
    np.testing.assert_array_equal(x_tr[:, 0] // 2 % 2, y_tr)  # rows stay paired
    assert sorted(np.concatenate([x_tr[:, 0], x_te[:, 0]])) == list(range(0, 40, 2))
    _, _, _, y_te = fastnn.utils.train_test_split(x, y, test_size=0.5, stratify=y, random_state=1)
    assert y_te.sum() == 5
    with pytest.raises(ValueError, match="same number of samples"):
        fastnn.utils.train_test_split(x, y[:5])
    folds = list(fastnn.utils.kfold_indices(10, k=3, seed=0))
    assert sorted(np.concatenate([va for _, va in folds])) == list(range(10))
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == 10


def test_cross_validate_trains_a_fresh_model_per_fold():
    x, labels, onehot = data(n=60)
    built = []

    def build():
        model = mlp(seed=len(built))
        built.append(model)
        return model

    result = fastnn.utils.cross_validate(build, x, onehot, k=3, epochs=2, seed=0)
    assert len(built) == 3 and len(result["folds"]) == 3
    assert result["mean"]["loss"] == pytest.approx(np.mean([f["loss"] for f in result["folds"]]))
    assert set(result["mean"]) == {"loss", "accuracy"}


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib", reason="plot_history needs the optional matplotlib dependency")
    x, _, onehot = data(n=40)
    history = mlp().fit(x, onehot, epochs=2, validation_split=0.25, verbose=0)
    path = fastnn.utils.plot_history(history, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path == tmp_path / "curves.png"


def branching_model():
    x = Input(shape=(16,))
    left = Dense(8, activation="relu", name="left")(x)
    right = Dense(8, activation="tanh", name="right")(x)
    y = Dense(3, activation="softmax", name="out")(Add(name="join")([left, right]))
    return Model(x, y, name="branchy")


def test_plot_model_dot_file_needs_no_dependency(tmp_path):
    model = branching_model()
    model.get_layer("right").trainable = False
    assert fastnn.utils.plot_model(model, tmp_path / "m.dot", show_shapes=True, show_layer_names=True,
                                   show_layer_activations=True, show_trainable=True, rankdir="LR", dpi=96) is None
    dot = (tmp_path / "m.dot").read_text()
    name = model.layers[0].name  # the InputLayer's generated name
    assert dot == "\n".join([
        'digraph "branchy" {',
        "  graph [rankdir=LR, dpi=96];",
        '  node [shape=box, style=rounded, fontname="monospace"];',
        f'  "{name}" [label="{name} (InputLayer)\\nOutput shape: (None, 16)"];',
        '  "left" [label="left (Dense)\\nActivation: relu\\nInput shape: (None, 16)\\nOutput shape: (None, 8)\\nTrainable"];',
        '  "right" [label="right (Dense)\\nActivation: tanh\\nInput shape: (None, 16)\\nOutput shape: (None, 8)'
        '\\nNon-trainable"];',
        '  "join" [label="join (Add)\\nInput shape: [(None, 8), (None, 8)]\\nOutput shape: (None, 8)"];',
        '  "out" [label="out (Dense)\\nActivation: softmax\\nInput shape: (None, 8)\\nOutput shape: (None, 3)\\nTrainable"];',
        f'  "{name}" -> "left";',
        f'  "{name}" -> "right";',
        '  "left" -> "join";',
        '  "right" -> "join";',
        '  "join" -> "out";',
        "}", ""])
    # Keras's defaults: class names only; a Sequential's InputLayer is not drawn
    seq = Sequential([Input(shape=(4,)), Dense(2, name='say "hi"'), Activation("relu")])
    fastnn.utils.plot_model(seq, str(tmp_path / "s.dot"), show_dtype=True)
    lines = (tmp_path / "s.dot").read_text().splitlines()
    assert lines[3:] == ['  "say \\"hi\\"" [label="Dense\\ndtype: float32"];',
                         f'  "{seq.layers[1].name}" [label="Activation\\ndtype: float32"];',
                         f'  "say \\"hi\\"" -> "{seq.layers[1].name}";', "}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dot", "s.dot"]  # no temporary file left


def test_plot_model_bad_arguments(tmp_path, monkeypatch):
    model = branching_model()
    with pytest.raises(ValueError, match=r"plot_model: rankdir must be one of \('TB', 'LR'\). Received: rankdir='BT'"):
        fastnn.utils.plot_model(model, tmp_path / "m.dot", rankdir="BT")
    with pytest.raises(ValueError, match="plot_model: dpi must be a positive number. Received: dpi=0"):
        fastnn.utils.plot_model(model, tmp_path / "m.dot", dpi=0)
    with pytest.raises(TypeError, match=r"plot_model: unexpected keyword arguments \['show_shape'\]"):
        fastnn.utils.plot_model(model, tmp_path / "m.dot", show_shape=True)
    with pytest.raises(ValueError, match="not yet been built.*plot_model"):
        fastnn.utils.plot_model(Sequential([Dense(2)]), tmp_path / "m.dot")
    with pytest.raises(TypeError, match="plot_model: expected a fastnn model. Received: model of type Dense"):
        fastnn.utils.plot_model(Dense(2), tmp_path / "m.dot")
    # without matplotlib a picture is a clear ImportError that names the dependency-free way out
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"plot_model: drawing '.*m.png' needs matplotlib.*'\.dot'"):
        fastnn.utils.plot_model(model, str(tmp_path / "m.png"))
    assert list(tmp_path.iterdir()) == []


def test_plot_model_draws_pictures(tmp_path):
    pytest.importorskip("matplotlib", reason="plot_model draws pictures with the optional matplotlib dependency")
    model = branching_model()
    fastnn.utils.plot_model(model, tmp_path / "tb.png", show_shapes=True, dpi=50)
    fastnn.utils.plot_model(model, tmp_path / "lr.png", show_shapes=True, rankdir="LR", dpi=50)
    fastnn.utils.plot_model(model, tmp_path / "m.svg")
    fastnn.utils.plot_model(model, tmp_path / "noext")  # no extension: PNG, as in Keras
    for name in ("tb.png", "lr.png", "noext"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "m.svg").read_bytes()
    def png_size(name):  # (width, height) from the IHDR chunk
        head = (tmp_path / name).read_bytes()[16:24]
        return int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big")

    (tb_w, tb_h), (lr_w, lr_h) = png_size("tb.png"), png_size("lr.png")
    assert tb_h > lr_h and lr_w > tb_w  # the four ranks run down, or across
    with pytest.raises(ValueError, match=r"plot_model: cannot write '.*m.bmp': expected an extension among \['dot'"):
        fastnn.utils.plot_model(model, tmp_path / "m.bmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.png", "m.svg", "noext", "tb.png"]


def test_layers_lists_a_nested_model_as_one_entry_as_keras_does():
    fastnn.set_random_seed(3)
    z = Input(shape=(4,), name="z")
    generator = Model(z, Dense(6, activation="tanh")(Dense(5)(z)), name="generator")
    image = Input(shape=(6,))
    discriminator = Model(image, Dense(1, activation="sigmoid")(Dense(3)(image)), name="discriminator")
    noise = Input(shape=(4,), name="noise")
    adversarial = Model(noise, discriminator(generator(noise)))
    assert [layer.name for layer in adversarial.layers] == ["noise", "generator", "discriminator"]
    assert adversarial.get_layer(index=2) is discriminator
    assert len(adversarial._all_layers) == 5 and adversarial.count_params() == generator.count_params() + \
        discriminator.count_params()
    # freezing an entry freezes that whole model, as in Keras
    adversarial.layers[2].trainable = False
    adversarial.compile("sgd", "binary_crossentropy")
    before = discriminator.get_weights()
    adversarial.fit(np.ones((4, 4), np.float32), np.ones((4, 1), np.float32), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, discriminator.get_weights()))
    assert len(adversarial.trainable_weights) == 4 and len(adversarial.weights) == 8


def test_a_sequential_models_layers_have_symbolic_outputs_as_in_keras():
    # Chollet's activation model: Model(model.input, [layer.output for layer in model.layers[:n]])
    fastnn.set_random_seed(4)
    model = Sequential([Conv2D(8, 3, activation="relu", input_shape=(12, 12, 1)), MaxPooling2D(2), Flatten(),
                        Dense(10, activation="softmax")])
    activations = Model(inputs=model.input, outputs=[layer.output for layer in model.layers[:2]])
    x = np.random.default_rng(0).random((3, 12, 12, 1)).astype(np.float32)
    conv_out, pooled = activations.predict(x, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    expected = fastnn.ops.conv2d_forward(x, kernel, bias, activation="relu")
    np.testing.assert_allclose(conv_out, expected, rtol=1e-6)
    np.testing.assert_array_equal(pooled, conv_out.reshape(3, 5, 2, 5, 2, 8).max(axis=(2, 4)))
    features = Model(model.inputs, model.layers[-2].output)  # the features before the classifier
    assert features.predict(x, verbose=0).shape == (3, 200)
    np.testing.assert_array_equal(Model(model.input, model.output).predict(x, verbose=0), model.predict(x, verbose=0))
    model.pop()  # the graph follows the stack
    assert model.output.shape == (None, 200) and len(model.layers[0]._inbound_nodes) == 1
    with pytest.raises(ValueError, match="has not yet been built"):
        Sequential([Dense(2)]).input


def test_data_one_axis_off_its_input_is_adjusted_as_keras_does():
    # Keras 3: a missing last axis of size 1 is added, an extra last axis of size 1 dropped
    inp = Input((1,))
    model = Model(inp, Dense(2)(inp))
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x[:, None], verbose=0))
    inp3 = Input((3,))
    model3 = Model(inp3, Dense(2)(inp3))
    x3 = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(model3.predict(x3[..., None], verbose=0), model3.predict(x3, verbose=0))
    with pytest.raises(ValueError, match="incompatible"):  # anything else is still an error
        model3.predict(np.zeros((4, 2), np.float32), verbose=0)
    with pytest.raises(ValueError, match="incompatible"):
        model3.predict(np.zeros(4, np.float32), verbose=0)


def test_integer_inputs_out_of_range_and_class_weight_keys():
    """Found by fuzzing: an int64 value past int32 wrapped (2**32 + 3 became 3, so an Embedding looked
    up row 3); class_weight with a string key failed inside int()."""
    import fastnn

    inputs = fastnn.Input(shape=(2,), dtype="int32")
    model = fastnn.Model(inputs, fastnn.layers.Embedding(10, 3)(inputs))
    with pytest.raises(ValueError, match=r"predict: input 0 \('.*'\) is int32, and x holds values outside its "
                                         r"range \[-2147483648, 2147483647\]: 4294967299"):
        model.predict(np.array([[2**32 + 3, 1]], np.int64), verbose=0)
    assert model.predict(np.array([[3, 1]], np.int64), verbose=0).shape == (1, 2, 3)  # in range: cast
    dense = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(2, activation="softmax")])
    dense.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"fit: class_weight keys must be class indices \(ints\). Received: \['a'\]"):
        dense.fit(np.ones((4, 3), np.float32), np.zeros(4), class_weight={"a": 1.0}, verbose=0)


def test_fit_names_steps_per_epoch_and_checks_shuffle():
    import fastnn

    model = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match="Received: steps_per_epoch=0"):  # was reported as `steps`
        model.fit(x, y, steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match="fit: `shuffle` must be True, False or 'batch'. Received: shuffle='banana'"):
        model.fit(x, y, shuffle="banana", verbose=0)
    model.fit(x, y, shuffle="batch", verbose=0)  # Keras 2's chunk shuffle: taken (as True)


def test_an_output_without_a_loss_is_not_trained_by_it():
    """The training guide: ``loss=[None, CategoricalCrossentropy()]`` or a dict that leaves an
    output out: that output takes no targets, adds no loss, and its own layer gets no gradient."""
    from fastnn import layers as L

    rng = np.random.default_rng(0)
    x = rng.random((16, 2), dtype=np.float32)
    onehot = np.eye(5, dtype=np.float32)[np.arange(16) % 5]
    for loss, y in [([None, "categorical_crossentropy"], [np.ones((16, 1)), onehot]),
                    ({"class_output": "categorical_crossentropy"}, {"class_output": onehot}),
                    ({"class_output": "categorical_crossentropy"}, [None, onehot]),
                    # targets for the outputs with a loss only (Keras 3: "loss partially defined over y_pred")
                    ([None, "categorical_crossentropy"], onehot), ([None, "categorical_crossentropy"], [onehot])]:
        a = fastnn.Input((2,))
        shared = L.Dense(4, name="shared")(a)
        model = fastnn.Model(a, [L.Dense(1, name="score_output")(shared), L.Dense(5, name="class_output")(shared)])
        model.compile(optimizer="sgd", loss=loss, metrics={"class_output": "accuracy"})
        score = model.get_layer("score_output").get_weights()
        shared_before = model.get_layer("shared").get_weights()
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
        assert sorted(history) == ["class_output_accuracy", "class_output_loss", "loss"]
        assert history["loss"] == history["class_output_loss"]
        for before, after in zip(score, model.get_layer("score_output").get_weights()):
            np.testing.assert_array_equal(before, after)
        assert not np.array_equal(shared_before[0], model.get_layer("shared").get_weights()[0])
        logs = model.evaluate(x, y, verbose=0, return_dict=True)
        scores = model.predict(x, verbose=0)[1]
        assert sorted(logs) == ["class_output_accuracy", "class_output_loss", "loss"]
        assert logs["loss"] == pytest.approx(float(losses.CategoricalCrossentropy()(onehot, scores)), rel=1e-5)
    with pytest.raises(ValueError, match="no output has a loss"):
        model.compile(optimizer="sgd", loss=[None, None])


def test_nested_trainable_flag_and_an_input_as_an_output():
    """Keras's guides: ``model.trainable = False`` sets the models nested in it too (transfer
    learning); ``[layer.output for layer in model.layers]`` includes the Input (feature extraction)."""
    inner = Sequential([Input((3,)), Dense(3), Dense(3)])
    model = Sequential([Input((3,)), inner, Dense(3)])
    model.trainable = False
    assert inner.trainable is False and inner.layers[0].trainable is False
    assert model.trainable_weights == [] and inner.trainable_weights == []
    model.trainable = True
    assert inner.trainable and len(model.trainable_weights) == 6

    inp = Input((8,))
    base = Model(inp, Dense(3)(Dense(4)(inp)))
    features = Model(inputs=base.input, outputs=[layer.output for layer in base.layers])
    x = np.random.default_rng(0).random((2, 8), dtype=np.float32)
    first, hidden, out = features.predict(x, verbose=0)
    np.testing.assert_array_equal(first, x)
    np.testing.assert_allclose(out, base.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(Model(inp, inp).predict(x, verbose=0), x)


def test_dicts_of_inputs_and_outputs():
    """Keras 3's functional guide: ``Model(inputs=..., outputs={"priority": ..., "department": ...})``
    (and a dict of inputs): the keys name the data, the losses, the targets and the predictions."""
    from fastnn import layers as L

    a, b = Input((3,), name="first"), Input((2,), name="second")
    joined = L.concatenate([a, b])
    model = Model(inputs={"x1": a, "x2": b},
                  outputs={"priority": Dense(1, name="priority_head")(joined), "department": Dense(4)(joined)})
    assert model.output_names == ["priority", "department"]
    model.compile(optimizer="sgd", loss={"priority": "mse", "department": "mse"},
                  loss_weights={"priority": 1.0, "department": 0.5})
    rng = np.random.default_rng(0)
    x = {"x1": rng.random((16, 3), dtype=np.float32), "x2": rng.random((16, 2), dtype=np.float32)}
    y = {"priority": rng.random((16, 1), dtype=np.float32), "department": rng.random((16, 4), dtype=np.float32)}
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    assert sorted(history) == ["department_loss", "loss", "priority_loss"]
    pred = model.predict(x, verbose=0)
    assert sorted(pred) == ["department", "priority"] and pred["department"].shape == (16, 4)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = np.mean((pred["priority"] - y["priority"]) ** 2) + 0.5 * np.mean((pred["department"] - y["department"]) ** 2)
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    assert sorted(model(x)) == ["department", "priority"]
    with pytest.raises(ValueError, match="keyed by the Input names \\['x1', 'x2'\\]"):
        model.predict({"first": x["x1"], "second": x["x2"]}, verbose=0)
    again = Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0)["priority"], pred["priority"])


def test_layers_in_keras_order():
    # Keras's map_graph: by decreasing depth from the outputs, then in the order a depth-first walk
    # back from them meets the layers; an InputLayer comes where it is used (the NMT notebook
    # rebuilds its attention model from model.layers[2:10])
    from fastnn.layers import LSTM, RepeatVector

    x, s0, c0 = Input((5, 3), name="x"), Input((4,), name="s0"), Input((4,), name="c0")
    h = Dense(4, name="dense")(x)
    joined = Concatenate(name="join")([h, RepeatVector(5, name="repeat")(s0)])
    _, s, _ = LSTM(4, return_state=True, name="lstm")(joined, initial_state=[s0, c0])
    model = Model([x, s0, c0], s)
    assert [layer.name for layer in model.layers] == ["x", "s0", "dense", "repeat", "join", "c0", "lstm"]
    a, b = Input((6, 8, 4), name="a"), Input((12, 16, 2), name="b")
    up = fastnn.layers.Conv2DTranspose(2, 3, strides=2, padding="same", name="up")(a)
    out = Conv2D(2, 3, padding="same", name="conv")(Concatenate(name="merge")([up, b]))
    assert [layer.name for layer in Model([a, b], out).layers] == ["a", "up", "b", "merge", "conv"]


def test_a_layer_output_as_a_model_input(tmp_path):
    # Keras 3 puts a fresh Input at an intermediate tensor: a decoder cut out of an autoencoder, and
    # keras.io's structured-data example (a Normalization output as a model input)
    inputs = Input((4,))
    code = Dense(2, name="code")(inputs)
    autoencoder = Model(inputs, Dense(4, name="decoded")(code))
    decoder = Model(autoencoder.get_layer("code").output, autoencoder.output)
    assert [layer.name for layer in decoder.layers] == ["code_input", "decoded"] and decoder.count_params() == 12
    z = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    layer = autoencoder.get_layer("decoded")
    np.testing.assert_allclose(decoder.predict(z, verbose=0), z @ layer.kernel + layer.bias, rtol=1e-6)
    decoder.save(tmp_path / "decoder.keras")
    np.testing.assert_allclose(load_model(tmp_path / "decoder.keras").predict(z, verbose=0),
                               decoder.predict(z, verbose=0), rtol=1e-6)
    raw, other = Input((1,), name="age"), Input((2,), name="sex")
    scaled = fastnn.layers.Normalization(mean=50.0, variance=100.0)(raw)
    out = Dense(1, kernel_initializer="ones")(Concatenate()([scaled, other]))
    cut = Model({"age": scaled, "sex": other}, out)
    assert cut.predict({"age": np.array([[60.0]]), "sex": np.array([[0.0, 1.0]])}, verbose=0).tolist() == [[61.0]]


def test_validation_freq_as_keras_counts_epochs():
    fastnn.set_random_seed(0)
    model = Sequential([Input((2,)), Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
    seen = []
    record = fastnn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(("val_loss" in logs, epoch)))
    model.fit(x, y, validation_data=(x, y), validation_freq=[1, 3], epochs=3, verbose=0, callbacks=[record])
    assert seen == [(True, 0), (False, 1), (True, 2)]  # a list: the epochs (from 1) to validate after
    seen.clear()
    model.fit(x, y, validation_data=(x, y), validation_freq=2, initial_epoch=1, epochs=4, verbose=0, callbacks=[record])
    assert seen == [(True, 1), (False, 2), (True, 3)]  # every 2nd epoch counted from the first, not from initial_epoch


def test_a_sequential_built_by_its_data_takes_other_image_sizes():
    # the data-augmentation tutorial: Sequential([RandomFlip, RandomRotation]) shown on one photo,
    # then mapped over batches of another size; a fully convolutional net likewise
    from fastnn.layers import Conv2D, Flatten, GlobalAveragePooling2D, RandomFlip

    augmentation = Sequential([RandomFlip("horizontal")])
    assert augmentation(np.zeros((1, 24, 32, 3), np.float32)).shape == (1, 24, 32, 3)
    assert augmentation(np.zeros((2, 18, 18, 3), np.float32)).shape == (2, 18, 18, 3)
    net = Sequential([Conv2D(4, 3), GlobalAveragePooling2D(), Dense(2)])
    net.compile("adam", "mse")
    net.fit(np.zeros((4, 8, 8, 3)), np.zeros((4, 2)), verbose=0)
    assert net.predict(np.zeros((2, 6, 6, 3)), verbose=0).shape == (2, 2)
    # layers that cannot take the new size still say so, and the model keeps working on the old one
    flat = Sequential([Flatten(), Dense(2)])
    flat.predict(np.zeros((2, 3, 3)), verbose=0)
    with pytest.raises(ValueError, match="expected axis -1 to have value 9, found 16"):
        flat.predict(np.zeros((2, 4, 4)), verbose=0)
    assert flat.predict(np.zeros((2, 3, 3)), verbose=0).shape == (2, 2)
    # an Input of the user's fixes the shape, as before
    fixed = Sequential([Input(shape=(3, 3)), Flatten(), Dense(2)])
    with pytest.raises(ValueError, match="incompatible"):
        fixed.predict(np.zeros((2, 4, 4)), verbose=0)


def test_fit_on_a_ragged_list_says_so():
    model = Sequential([fastnn.layers.Embedding(10, 4), fastnn.layers.GlobalAveragePooling1D(), Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match=r"fit: `x` is a ragged list \(rows of different lengths: \[2, 4\]\); pad"):
        model.fit([[1, 2, 3, 4], [1, 2]], np.ones(2), verbose=0)


def test_one_sample_without_its_batch_axis_is_said_so():
    # the commonest beginner's mistake: predict(image) for predict(image[None])
    model = Sequential([Input((28, 28)), Flatten(), Dense(10, activation="softmax")])
    image = np.zeros((28, 28), np.float32)
    for call in (lambda: model.predict(image, verbose=0), lambda: model(image)):
        with pytest.raises(ValueError, match=r"takes a batch of samples of shape \(None, 28, 28\); `x` has shape "
                                             r"\(28, 28\), one sample without the batch axis. Pass x\[None\]"):
            call()
    assert model.predict(image[None], verbose=0).shape == (1, 10)
    # Keras's added last axis of size 1 still applies: (3,) is three samples for an Input((1,))
    column = Sequential([Input((1,)), Dense(2)])
    assert column.predict(np.array([1.0, 2.0, 3.0]), verbose=0).shape == (3, 2)


def test_student_mistakes_get_messages_that_name_the_fix():
    rng = np.random.default_rng(0)
    images = rng.random((16, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 16)
    # a Dense on unflattened images: one prediction per row
    unflattened = Sequential([Input((28, 28)), Dense(10, activation="softmax")])
    unflattened.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"shape \(N, 28\) \(one label per step\).*add Flatten\(\) before it"):
        unflattened.fit(images, labels, verbose=0)
    unflattened.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"shape \(N, 28, 10\) matching .*add Flatten\(\) before it"):
        unflattened.fit(images, np.eye(10)[labels], verbose=0)
    model = Sequential([Input((28, 28)), Flatten(), Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match=r"`y` holds strings \(such as 'cat'\).*StringLookup"):
        model.fit(images, np.array(["cat", "dog"] * 8), verbose=0)
    with pytest.raises(ValueError, match=r"fit \(validation_data\): .*integer class labels"):
        model.fit(images, labels, validation_data=(images, np.eye(10)[labels]), verbose=0)
    with pytest.raises(ValueError, match=r"fit \(validation_data\) \(its third element: the validation sample weights\)"):
        model.fit(images, labels, validation_data=(images, labels, images), verbose=0)
    reviews = np.empty(3, dtype=object)
    reviews[:] = [[1, 2, 3], [4, 5], [6]]  # (imdb.load_data's reviews)
    text = Sequential([fastnn.layers.Embedding(10, 4), fastnn.layers.GlobalAveragePooling1D(), Dense(1)])
    text.compile("adam", "mse")
    with pytest.raises(ValueError, match=r"`x` is an array of sequences of different lengths.*pad_sequences"):
        text.fit(reviews, np.ones(3), verbose=0)


def test_sequential_wants_a_list_and_epochs_zero_trains_nothing():
    with pytest.raises(TypeError, match=r"Sequential takes a list of layers.*Received: Dense and Dense as separate"):
        Sequential(Dense(10), Dense(1))
    with pytest.raises(TypeError, match=r"Received: Dense not in a list"):
        Sequential(Dense(10))
    model = Sequential([Input((3,)), Dense(1)])
    model.compile("sgd", "mse")
    before = model.get_weights()
    assert model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=0, verbose=0).history == {}
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match="You should set `dtype=object`"):
        fastnn.preprocessing.sequence.pad_sequences([["the", "cat"], ["a"]])


def test_from_logits_on_a_softmax_output_warns():
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    with pytest.warns(UserWarning, match=r"from_logits=True, but the output of layer .* softmax is applied twice"):
        model.compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
    import warnings as warnings_module
    with warnings_module.catch_warnings():
        warnings_module.simplefilter("error")
        Sequential([Input((4,)), Dense(3)]).compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
        Sequential([Input((4,)), Dense(3, activation="softmax")]).compile("adam", "sparse_categorical_crossentropy")


def test_a_call_takes_inputs_of_different_lengths_fit_refuses_them():
    # Keras's cardinality check is fit's data handling; a call runs on the tensors as given (a graph
    # model's nodes (N, F) and edges (E, 2))
    a, b = Input((3,)), Input((3,))
    model = Model([a, b], [Dense(2)(a), Dense(4)(b)])
    first, second = model([np.ones((5, 3), np.float32), np.ones((7, 3), np.float32)])
    assert first.shape == (5, 2) and second.shape == (7, 4)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="Data cardinality is ambiguous.*'x' sizes: 5, 7"):
        model.fit([np.ones((5, 3)), np.ones((7, 3))], [np.ones((5, 2)), np.ones((7, 4))], verbose=0)
