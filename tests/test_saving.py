"""Save/load in the safetensors layout: bit-exact round trips, the file layout, and every kind of
bad file (truncated, bit-flipped, mismatched, unknown layers, newer format), each a clear error
that leaves the in-memory model untouched."""

import json
import os
import stat
import struct

import numpy as np
import pytest

import fastnn
from fastnn import saving
from fastnn.layers import Add, BatchNormalization, Concatenate, Dense, Dropout, Input, Layer
from fastnn.models import Model, Sequential, load_model
from fastnn.optimizers import Adam

X = np.random.default_rng(0).standard_normal((40, 12)).astype(np.float32)
Y = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, 40)]


def trained_sequential(seed=0, units=16):
    fastnn.set_random_seed(seed)
    model = Sequential([Dense(units, activation="relu", input_shape=(12,), name="dense"),
                        BatchNormalization(name="bn"), Dropout(0.2, name="drop"),
                        Dense(4, activation="softmax", name="out")], name="saved")
    model.compile(Adam(learning_rate=0.01), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    return model


def trained_functional(seed=0):
    fastnn.set_random_seed(seed)
    inp = Input(shape=(12,), name="in")
    a = Dense(8, activation="tanh", name="a")(inp)
    b = Add(name="add")([Dense(8, name="b")(a), Dense(8, name="c")(a)])
    out = Dense(4, activation="softmax", name="out")(Concatenate(name="cat")([a, b]))
    model = Model(inp, out, name="graph")
    model.compile("rmsprop", "categorical_crossentropy")
    model.fit(X, Y, epochs=1, verbose=0)
    return model


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("make", [trained_sequential, trained_functional])
def test_round_trip_is_bit_exact_and_compiled(tmp_path, make):
    model = make()
    path = tmp_path / "model.fastnn"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.name == model.name
    assert loaded.get_config() == model.get_config()
    assert_same_weights(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.metrics_names == model.metrics_names
    loaded.fit(X, Y, epochs=1, verbose=0)  # ready to train on
    assert not load_model(path, compile=False).compiled


def test_file_layout_is_safetensors(tmp_path):
    model = trained_sequential()
    path = tmp_path / "m.safetensors"
    model.save(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    assert meta["format"] == "fastnn" and meta["format_version"] == str(saving.FORMAT_VERSION)
    assert all(isinstance(v, str) for v in meta.values())
    assert json.loads(meta["model_config"])["class_name"] == "Sequential"
    weights = ["dense.kernel", "dense.bias", "bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance",
               "out.kernel", "out.bias"]
    # then the optimizer's state slots, one per trainable weight (Adam: m and v)
    trainable = [name for name in weights if "moving" not in name]
    assert list(header) == weights + [f"__optimizer__.{slot}.{i}" for slot in ("_ms", "_vs")
                                      for i in range(len(trainable))]
    assert meta["optimizer_iterations"] == str(model.optimizer.iterations)
    position = 0
    for name, w in zip(header, model.get_weights() + model.optimizer.variables):
        entry = header[name]
        assert entry["dtype"] == "F32" and entry["shape"] == list(w.shape)
        begin, end = entry["data_offsets"]
        assert begin == position
        np.testing.assert_array_equal(np.frombuffer(raw[8 + n + begin:8 + n + end], "<f4").reshape(w.shape), w)
        position = end
    assert 8 + n + position == len(raw)
    safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="the safetensors package is not installed")
    tensors = safetensors_numpy.load_file(str(path))
    np.testing.assert_array_equal(tensors["dense.kernel"], model.layers[0].kernel)


def test_save_weights_and_load_weights(tmp_path):
    model = trained_sequential(seed=1)
    path = tmp_path / "w.weights"
    model.save_weights(path)
    fresh = trained_sequential(seed=2)
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(X, verbose=0), model.predict(X, verbose=0))
    with pytest.raises(ValueError, match="weights only"):
        load_model(path)
    full = tmp_path / "full.fastnn"
    model.save(full)
    fresh = trained_sequential(seed=3)
    fresh.load_weights(full)  # a full save holds the weights too
    assert_same_weights(fresh.get_weights(), model.get_weights())


def test_size_mismatch_is_named_like_pytorch(tmp_path):
    fastnn.set_random_seed(0)
    big = Sequential([Dense(64, input_shape=(784,), name="dense"), Dense(10, name="head")])
    small = Sequential([Dense(32, input_shape=(784,), name="dense"), Dense(10, name="head")])
    path = tmp_path / "big.fastnn"
    big.save(path)
    before = small.get_weights()
    with pytest.raises(ValueError, match=r"size mismatch for dense\.kernel: \(784, 64\) in file, \(784, 32\) in model"):
        small.load_weights(path)
    assert_same_weights(small.get_weights(), before)
    # the same architecture under other (automatic) names loads by position, like Keras
    renamed = Sequential([Dense(64, input_shape=(784,), name="hidden"), Dense(10, name="out")])
    renamed.load_weights(path)
    assert_same_weights(renamed.get_weights(), big.get_weights())
    renamed = Sequential([Dense(32, input_shape=(784,), name="hidden"), Dense(10, name="out")])
    with pytest.raises(ValueError, match=r"size mismatch for hidden\.kernel \(file: dense\.kernel\): \(784, 64\) in file"):
        renamed.load_weights(path)
    deeper = Sequential([Dense(64, input_shape=(784,), name="dense"), Dense(5, name="mid"), Dense(10, name="head")])
    with pytest.raises(ValueError, match="missing tensor mid.kernel .*size mismatch for head.kernel"):
        deeper.load_weights(path)


def test_truncated_files(tmp_path):
    model = trained_sequential()
    path = tmp_path / "m.fastnn"
    model.save(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    target = trained_sequential(seed=5)
    before = target.get_weights()
    for cut in [0, 3, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 100, len(raw) - 1]:
        bad = tmp_path / f"cut{cut}.fastnn"
        bad.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|too short|corrupted"):
            load_model(bad)
        with pytest.raises(ValueError):
            target.load_weights(bad)
        assert_same_weights(target.get_weights(), before)


def test_every_bit_flip_in_the_header_is_caught(tmp_path):
    fastnn.set_random_seed(0)
    model = Sequential([Dense(3, input_shape=(2,), name="dense"), Dense(1, activation="sigmoid", name="out")])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    path = tmp_path / "m.fastnn"
    model.save(path)
    raw = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    before = model.get_weights()
    bad = tmp_path / "flipped.fastnn"
    for i in range(8 + n):
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        bad.write_bytes(bytes(flipped))
        with pytest.raises(ValueError):
            model.load_weights(bad)
        with pytest.raises(ValueError):
            load_model(bad)
    assert_same_weights(model.get_weights(), before)
    data = bytearray(raw)
    data[-1] ^= 0x10  # a flipped bit in the tensor data is caught by its checksum
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        model.load_weights(bad)
    assert_same_weights(model.get_weights(), before)


def rewrite(path, out, edit_config=None, **metadata):
    """Write a copy of a saved file with an edited config or metadata (checksums recomputed)."""
    meta, tensors = saving.read_file(path)
    meta = {k: v for k, v in meta.items() if k not in ("data_crc32", "header_crc32")}
    if edit_config:
        config = json.loads(meta["model_config"])
        edit_config(config)
        meta["model_config"] = json.dumps(config)
    meta.update(metadata)
    saving._write(out, list(tensors.items()), meta, overwrite=True)


def test_unknown_layer_class_and_newer_format(tmp_path):
    model = trained_sequential()
    path, bad = tmp_path / "m.fastnn", tmp_path / "bad.fastnn"
    model.save(path)
    rewrite(path, bad)
    np.testing.assert_array_equal(load_model(bad).predict(X, verbose=0), model.predict(X, verbose=0))

    def evil(config):
        config["config"]["layers"][1]["class_name"] = "TFOpLambda"

    rewrite(path, bad, evil)
    with pytest.raises(ValueError, match="Unknown layer class 'TFOpLambda'.*rebuilds only these layers: .*Dense"):
        load_model(bad)

    def code(config):  # a Lambda names its function; the code is never in the file
        config["config"]["layers"][1] = {"class_name": "Lambda", "config": {"name": "l", "function": "print"}}

    rewrite(path, bad, code)
    with pytest.raises(ValueError, match="calls the function 'print', which fastnn does not save.*custom_objects"):
        load_model(bad)

    def bad_arg(config):
        config["config"]["layers"][1]["config"]["units"] = "__import__('os')"

    rewrite(path, bad, bad_arg)
    with pytest.raises(ValueError, match="Invalid config for layer class 'Dense'"):
        load_model(bad)
    rewrite(path, bad, format_version="2")
    with pytest.raises(ValueError, match="newer fastnn \\(file format version 2\\)"):
        load_model(bad)
    target = trained_sequential(seed=4)
    before = target.get_weights()
    with pytest.raises(ValueError, match="newer"):
        target.load_weights(bad)
    assert_same_weights(target.get_weights(), before)


def test_not_a_fastnn_file(tmp_path):
    bad = tmp_path / "x.bin"
    for content in [b"", b"\x00" * 64, json.dumps({"a": 1}).encode(), struct.pack("<Q", 2) + b"{}",
                    struct.pack("<Q", 4) + b"[1] "]:
        bad.write_bytes(content)
        with pytest.raises(ValueError):
            load_model(bad)


class Doubler(Layer):
    """A user's own layer: not in the allow-list unless passed as a custom object."""

    def call(self, inputs, training=False):
        return inputs * 2

    def backward(self, dy):
        return dy * 2

    def compute_output_shape(self, input_shape):
        return input_shape


def test_custom_layers_need_custom_objects(tmp_path):
    model = Sequential([Dense(3, input_shape=(2,)), Doubler()])
    path = tmp_path / "custom.fastnn"
    model.save(path)
    with pytest.raises(ValueError, match="Unknown layer class 'Doubler'.*custom_objects"):
        load_model(path)
    loaded = load_model(path, custom_objects={"Doubler": Doubler})
    np.testing.assert_array_equal(loaded.predict(X[:, :2], verbose=0), model.predict(X[:, :2], verbose=0))


def test_save_is_atomic(tmp_path, monkeypatch):
    first, second = trained_sequential(seed=0), trained_sequential(seed=1)
    path = tmp_path / "m.fastnn"
    first.save(path)

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        second.save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.fastnn"]  # no temporary file left behind
    assert_same_weights(load_model(path).get_weights(), first.get_weights())
    with pytest.raises(FileExistsError):
        second.save(path, overwrite=False)
    second.save(path)
    assert_same_weights(load_model(path).get_weights(), second.get_weights())


def test_saved_file_has_the_permissions_open_gives(tmp_path):
    # written through a temporary file, but not a private one: 0o666 less the umask, like open()
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "m.fastnn"
    trained_sequential().save(path)
    with open(tmp_path / "plain", "w"):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == 0o666 & ~umask


def test_json_architecture_and_clone():
    from fastnn.models import clone_model, model_from_json

    for model in (trained_sequential(), trained_functional()):
        rebuilt = model_from_json(model.to_json())
        assert rebuilt.get_config() == model.get_config() and not rebuilt.compiled
        clone = clone_model(model)
        assert clone.get_config() == model.get_config()
        assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])  # fresh weights


def test_saving_through_a_symlink_over_a_private_file_and_into_a_directory(tmp_path):
    """Found by fuzzing: the atomic rename replaced a symbolic link with a regular file (the link's
    target kept the old model), reset a 0600 file to 0644, and a directory as the path gave an error
    naming the internal '.part' file."""
    model = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(2)])
    target = tmp_path / "real.fastnn"
    model.save(target)
    os.chmod(target, 0o600)
    link = tmp_path / "link.fastnn"
    link.symlink_to(target)
    model.layers[0].set_weights([np.ones((3, 2), np.float32), np.zeros(2, np.float32)])
    model.save(link)
    assert link.is_symlink() and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    np.testing.assert_array_equal(load_model(target).layers[0].get_weights()[0], np.ones((3, 2)))
    with pytest.raises(IsADirectoryError, match="it is a directory; give a file name"):
        model.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="its directory .* does not exist"):
        model.save(tmp_path / "missing" / "m.fastnn")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.fastnn", "real.fastnn"]  # no .part left


def test_a_calls_training_flag_holds_in_fit_predict_nesting_and_saving(tmp_path):
    """Keras's transfer-learning guide: ``base_model(inputs, training=False)`` keeps its
    BatchNormalization in inference mode while the new head trains; ``Dropout(0.5)(x,
    training=True)`` stays on in predict (Monte Carlo dropout)."""
    from fastnn import layers as L

    inp = fastnn.Input((4,))
    base_model = fastnn.Model(inp, L.BatchNormalization()(inp))
    inputs = fastnn.Input((4,))
    x = base_model(inputs, training=False)
    model = fastnn.Model(inputs, L.Dense(1)(x))
    model.compile(fastnn.optimizers.Adam(1e-3), "mse")
    data = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32) * 3 + 5
    model.fit(data, np.ones((64, 1)), verbose=0)
    bn = base_model.layers[-1]
    np.testing.assert_array_equal(bn.moving_mean, 0)
    np.testing.assert_array_equal(bn.moving_variance, 1)
    direct = fastnn.Model(inputs, L.Dense(1)(L.BatchNormalization()(inputs, training=False)))
    direct.compile("sgd", "mse")
    direct.fit(data, np.ones((64, 1)), verbose=0)
    np.testing.assert_array_equal(direct.layers[1].moving_mean, 0)
    mc_inputs = fastnn.Input((100,))
    mc = fastnn.Model(mc_inputs, L.Dropout(0.5)(mc_inputs, training=True))
    dropped = mc.predict(np.ones((4, 100), np.float32), verbose=0)
    assert 0 < np.count_nonzero(dropped == 0) < 400 and set(np.unique(dropped)) == {0.0, 2.0}
    path = tmp_path / "mc.keras"
    mc.save(path)
    again = fastnn.models.load_model(path).predict(np.ones((4, 100), np.float32), verbose=0)
    assert 0 < np.count_nonzero(again == 0) < 400
    plain = fastnn.Model(mc_inputs, L.Dropout(0.5)(mc_inputs))
    np.testing.assert_array_equal(plain.predict(np.ones((4, 100), np.float32), verbose=0), 1.0)


def test_custom_layer_whose_config_leaves_out_its_name_loads(tmp_path):
    """The saving guide's CustomLayer: get_config gives only its own argument, and a layer of the
    same default name already exists in the process."""

    class CustomLayer(fastnn.layers.Layer):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {"factor": self.factor}

    inputs = fastnn.Input((3,))
    model = fastnn.Model(inputs, fastnn.layers.Dense(2)(CustomLayer(0.5)(inputs)))
    CustomLayer(2.0)  # (takes the next default name)
    model.save(tmp_path / "custom.keras")
    loaded = fastnn.models.load_model(tmp_path / "custom.keras", custom_objects={"CustomLayer": CustomLayer})
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    rebuilt = fastnn.Model.from_config(model.get_config(), custom_objects={"CustomLayer": CustomLayer})
    assert rebuilt.layers[1].factor == 0.5


class ScaleLayer(Layer):
    """A user layer with an argument of its own (the saving guide's CustomLayer)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_clone_model_with_user_layers_and_lambdas():
    CustomLayer = ScaleLayer
    def double(x):
        return x * 2

    inputs = Input((4,))
    hidden = fastnn.layers.Lambda(lambda t: t / 255)(fastnn.layers.Lambda(double)(CustomLayer(0.5)(inputs)))
    model = Model(inputs, Dense(1)(hidden))
    clone = fastnn.models.clone_model(model)
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert clone.layers[1] is not model.layers[1] and clone.layers[1].factor == 0.5
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((3, 4), dtype=np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_clone_model_is_compiled_as_the_model_is():
    # Keras 3: the clone is compiled with the model's compile config, a fresh optimizer and metrics
    model = Sequential([Input((4,)), Dense(3, activation="relu"), Dense(1)])
    model.compile(fastnn.optimizers.Adam(0.01), "mse", metrics=[fastnn.metrics.MeanAbsoluteError()])
    clone = fastnn.models.clone_model(model)
    assert clone.compiled and clone.optimizer is not model.optimizer and clone.optimizer.learning_rate == 0.01
    assert clone._metrics[0] is not model._metrics[0]
    history = clone.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0).history
    assert sorted(history) == ["loss", "mean_absolute_error"]
    assert not fastnn.models.clone_model(Sequential([Input((4,)), Dense(1)])).compiled


def test_clone_model_clone_function_call_function_input_tensors_recursive():
    rng = np.random.default_rng(0)
    x = rng.random((5, 4), dtype=np.float32)
    seq = Sequential([Input((4,)), Dense(3), fastnn.layers.Dropout(0.5, seed=1), Dense(1)])

    def reseed(layer):  # Keras's docstring example: a deterministic copy
        config = layer.get_config()
        if "seed" in config:
            config["seed"] = 1337
        return layer.__class__.from_config(config)

    clone = fastnn.models.clone_model(seq, clone_function=reseed)
    assert clone.layers[1].get_config()["seed"] == 1337 and clone.layers[0] is not seq.layers[0]
    assert clone.output_shape == (None, 1)

    inputs = Input((4,), name="features")
    hidden = Dense(8, activation="relu", name="d1")(inputs)
    model = Model(inputs, Dense(2, name="d2")(hidden))

    def call_function(layer, *args, **kwargs):  # Keras's docstring example: Dropout after each Dense
        out = layer(*args, **kwargs)
        return fastnn.layers.Dropout(0.5)(out) if isinstance(layer, Dense) else out

    wrapped = fastnn.models.clone_model(model, clone_function=lambda layer: layer, call_function=call_function)
    assert [type(layer).__name__ for layer in wrapped.layers] == ["InputLayer", "Dense", "Dropout", "Dense", "Dropout"]
    assert wrapped.get_layer("d1") is model.get_layer("d1")  # the same layers: the same weights
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="call_function.*not supported with Sequential"):
        fastnn.models.clone_model(seq, call_function=call_function)

    other = Input((4,), name="other")
    on_other = fastnn.models.clone_model(model, input_tensors=other)
    assert on_other.inputs[0] is other and on_other.get_layer("d1") is not model.get_layer("d1")
    assert on_other.count_params() == model.count_params()
    with pytest.raises(ValueError, match="input_tensors must be symbolic tensors"):
        fastnn.models.clone_model(model, input_tensors=x)

    inner = Sequential([Dense(5, name="i1"), Dense(3, name="i2")], name="inner")
    outer_in = Input((4,))
    outer = Model(outer_in, Dense(1)(inner(outer_in)))
    seen = []
    deep = fastnn.models.clone_model(outer, clone_function=lambda layer: seen.append(layer.name) or reseed(layer),
                                     recursive=True)
    assert {"i1", "i2"} <= set(seen) and "inner" not in seen
    assert deep.count_params() == outer.count_params() and deep.layers[1] is not inner
    shallow = fastnn.models.clone_model(outer, clone_function=lambda layer: layer)
    assert shallow.layers[1] is inner


def test_python_activation_function_trains_and_saves_by_name(tmp_path):
    """The saving guide's ``Dense(1, activation=custom_fn)``: any function of the backend
    functions, applied after a linear kernel and differentiated on the tape."""

    def custom_fn(x):
        return x ** 2

    layer = Dense(1, activation=custom_fn)
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    layer(x)
    z = x @ layer.kernel + layer.bias
    np.testing.assert_allclose(layer(x), z ** 2, rtol=1e-5, atol=1e-7)
    model = Sequential([Input((3,)), layer])
    model.compile(fastnn.optimizers.SGD(0.1), "mse")
    y = np.ones((5, 1), np.float32)
    kernel = layer.kernel.copy()
    model.train_on_batch(x, y)
    # d mean((z² - y)²)/dW = xᵀ (2 (z² - y) · 2z) / N
    np.testing.assert_allclose(layer.kernel, kernel - 0.1 * x.T @ (4 * (z ** 2 - y) * z) / 5, rtol=1e-5)
    path = tmp_path / "custom_activation.keras"
    model.save(path)
    with pytest.raises(ValueError, match="Unknown activation"):
        load_model(path)
    loaded = load_model(path, custom_objects={"custom_fn": custom_fn})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    conv = fastnn.layers.Conv2D(2, 3, activation=lambda t: fastnn.ops.relu(t) * 2)
    images = np.random.default_rng(1).standard_normal((2, 5, 5, 1)).astype(np.float32)
    np.testing.assert_allclose(conv(images), 2 * np.maximum(_conv_linear(conv, images), 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="activation is a lambda"):
        Sequential([Input((5, 5, 1)), conv]).save(tmp_path / "lambda.keras")


def _conv_linear(conv, images):
    """The layer's convolution without its activation (the same kernel, linear)."""
    linear = fastnn.layers.Conv2D(2, 3)
    linear.build(images.shape)
    linear.set_weights(conv.get_weights())
    return linear(images)


def test_registered_and_scoped_custom_objects_load_without_custom_objects(tmp_path):
    @fastnn.saving.register_keras_serializable(package="MyLayers")
    class RegisteredScale(ScaleLayer):
        pass

    @fastnn.saving.register_keras_serializable(package="my_package", name="registered_square")
    def registered_square(x):
        return x ** 2

    assert fastnn.saving.get_registered_name(RegisteredScale) == "MyLayers>RegisteredScale"
    assert fastnn.saving.get_custom_objects()["my_package>registered_square"] is registered_square
    assert fastnn.utils.register_keras_serializable is fastnn.saving.register_keras_serializable  # (tf.keras 2)
    inputs = Input((3,))
    model = Model(inputs, Dense(2, activation=registered_square)(RegisteredScale(3.0)(inputs)))
    model.save(tmp_path / "registered.keras")
    loaded = load_model(tmp_path / "registered.keras")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    class Scoped(Layer):
        def call(self, x):
            return -x

    Model(inputs, Scoped()(inputs)).save(tmp_path / "scoped.keras")
    with pytest.raises(ValueError, match="Unknown layer class 'Scoped'"):
        load_model(tmp_path / "scoped.keras")
    with fastnn.saving.custom_object_scope({"Scoped": Scoped}):
        assert isinstance(load_model(tmp_path / "scoped.keras").layers[1], Scoped)
    with pytest.raises(ValueError, match="already registered"):
        fastnn.saving.register_keras_serializable(package="MyLayers", name="RegisteredScale")(Scoped)


@pytest.mark.parametrize("make_optimizer", [
    lambda: fastnn.optimizers.Adam(0.01),
    lambda: fastnn.optimizers.Nadam(0.01),  # (and its momentum-cache product)
    lambda: fastnn.optimizers.SGD(fastnn.optimizers.schedules.ExponentialDecay(0.1, 4, 0.1)),  # (no slots: the step)
    lambda: fastnn.optimizers.SGD(0.1, decay=0.05),  # (tf.keras 2's power scheduling, by the step count)
], ids=["adam", "nadam", "sgd-schedule", "sgd-decay"])
def test_load_model_resumes_training_with_the_optimizers_state(tmp_path, make_optimizer):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 4), dtype=np.float32), rng.random((32, 1), dtype=np.float32)
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1)])
    model.compile(make_optimizer(), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = load_model(tmp_path / "m.keras")
    assert restored.optimizer.iterations == model.optimizer.iterations == 4
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    restored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    # load_weights and an uncompiled load read the weights alone
    again = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1)])
    again.load_weights(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras", compile=False).optimizer is None


def test_checkpoint_prefix_makes_its_directory_and_latest_checkpoint_finds_it(tmp_path):
    # tf.keras 2's TensorFlow-format weights (MIT 6.S191 lab 1, the text-generation tutorial):
    # save_weights(os.path.join(checkpoint_dir, "ckpt_3")) into a directory not made yet, then
    # load_weights(tf.train.latest_checkpoint(checkpoint_dir))
    import fastnn as tf

    checkpoint_dir = tmp_path / "training_checkpoints"
    assert tf.train.latest_checkpoint(str(checkpoint_dir)) is None
    model = Sequential([Dense(2, input_shape=(3,))])
    model.save_weights(str(checkpoint_dir / "ckpt_1"))
    first = model.get_weights()
    model.set_weights([w + 1 for w in first])
    model.save_weights(str(checkpoint_dir / "ckpt_2"))
    assert tf.train.latest_checkpoint(str(checkpoint_dir)) == str(checkpoint_dir / "ckpt_2")
    model.load_weights(str(checkpoint_dir / "ckpt_1"))
    np.testing.assert_array_equal(model.get_weights()[0], first[0])
    model.load_weights(tf.train.latest_checkpoint(str(checkpoint_dir)))
    np.testing.assert_array_equal(model.get_weights()[0], first[0] + 1)
    model.save_weights(str(tmp_path / "plain.weights.h5"))  # a Keras file name: no checkpoint record
    assert not (tmp_path / "checkpoint").exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save_weights(str(tmp_path / "missing" / "model.weights.h5"))


# ---- nested models: one config entry each, weights named by their scope -------------------------


def _tower(name, seed):
    fastnn.set_random_seed(seed)
    inp = Input(shape=(4,))
    return Model(inp, Dense(3, activation="tanh", name="proj")(inp), name=name)


def test_nested_models_stay_nested_through_save_and_load(tmp_path):
    # two towers whose layers share a name (Keras allows it: each name is unique in its model), an
    # augmentation-style Sequential, a siamese call of one encoder twice, and a call with its own
    # training flag (transfer learning's base(x, training=False))
    a_in, b_in = Input(shape=(4,), name="a"), Input(shape=(4,), name="b")
    tower_a, tower_b = _tower("tower_a", 0), _tower("tower_b", 1)
    prep = Sequential([Dense(4, name="prep_dense"), BatchNormalization(name="prep_bn")], name="prep")
    shared = Sequential([Dense(3, name="enc")], name="encoder")
    left, right = shared(prep(a_in, training=False)), shared(b_in)
    out = Dense(1, name="head")(Concatenate(name="cat")([tower_a(a_in), tower_b(b_in), left, right]))
    model = Model([a_in, b_in], out, name="towers")
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((16, 4)).astype(np.float32) for _ in range(2)]
    model.fit(x, rng.standard_normal((16, 1)), epochs=2, verbose=0)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "towers.keras")
    loaded = load_model(tmp_path / "towers.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert type(loaded.get_layer("tower_b")) is Model and loaded.get_layer("tower_b").get_layer("proj").units == 3
    assert loaded.count_params() == model.count_params()  # (the encoder's weights once, shared by its two calls)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    config = model.get_config()["layers"]
    assert [entry.get("name", entry.get("call")) for entry in config[2:]] == \
        ["tower_a", "tower_b", "prep", "encoder", "encoder", "cat", "head"]
    assert config[4]["training"] is False and "training" not in config[5]
    # the weights are named by scope, so the two "proj" layers do not collide
    names = [name for name, _ in saving._named_tensors(model)]
    assert "tower_a/proj.kernel" in names and "tower_b/proj.kernel" in names and "head.bias" in names
    # freezing the loaded base model by its index freezes the model, as in Keras
    assert loaded.layers[3].name == "tower_a"
    loaded.layers[3].trainable = False
    assert len(loaded.trainable_weights) == len(model.trainable_weights) - 2


def test_a_model_added_to_a_sequential_stays_one_entry(tmp_path):
    base = _tower("base", 2)
    model = Sequential([base, Dense(2, activation="softmax", name="classifier")], name="transfer")
    model.compile("sgd", "categorical_crossentropy")
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    model.save(tmp_path / "transfer.keras")
    loaded = load_model(tmp_path / "transfer.keras")
    assert [layer.name for layer in loaded.layers] == ["base", "classifier"]
    assert type(loaded.layers[0]) is Model
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_nested_model_whose_inner_tensor_is_used_outside_is_saved_flat():
    # an output taken from inside the encoder (not one of its outputs): the config cannot hold the
    # encoder as one entry, so it lists the layers flat, and the model still rebuilds the same
    inp = Input(shape=(4,), name="x")
    hidden = Dense(5, activation="relu", name="hidden")(inp)
    encoder = Model(inp, Dense(2, name="code")(hidden), name="encoder")
    model = Model(inp, [encoder(inp), Dense(1, name="aux")(hidden)], name="probe")
    rebuilt = fastnn.models.model_from_json(model.to_json())
    rebuilt.set_weights(model.get_weights())
    assert all(entry.get("class_name") != "Functional" for entry in model.get_config()["layers"])
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    for a, b in zip(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_weights_saved_before_scoped_names_still_load_into_a_nested_model(tmp_path):
    # files written with plain layer names (before nested models' weights were scoped) match by
    # position, as any renamed layers do
    inp = Input(shape=(4,))
    flat = Model(inp, Dense(1, name="head")(Dense(3, activation="tanh", name="proj")(inp)))
    flat.save_weights(tmp_path / "flat.weights.h5")
    tower = _tower("tower", 3)
    outer_in = Input(shape=(4,))
    nested = Model(outer_in, Dense(1, name="head")(tower(outer_in)))
    nested.load_weights(tmp_path / "flat.weights.h5")
    for a, b in zip(nested.get_weights(), flat.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_nested_model_runs_whole_even_when_one_of_its_outputs_is_unused(tmp_path):
    # Keras: the nested model is one layer; all its weights are the outer model's, and it saves whole
    a = Input(shape=(5,))
    h = Dense(4, name="h")(a)
    inner = Model(a, [Dense(2, name="o1")(h), Dense(3, name="o2")(h)], name="inner")
    outer_in = Input(shape=(5,))
    _, used = inner(outer_in)
    model = Model(outer_in, Dense(1, name="top")(used))
    assert model.count_params() == 53 and len(model.weights) == 8
    assert [layer.name for layer in model.layers][1:] == ["inner", "top"]
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("inner")) is Model and len(loaded.get_layer("inner").outputs) == 2
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_an_augmentation_sequential_without_an_input_stays_one_layer(tmp_path):
    # the image-classification tutorial: Sequential([Input, data_augmentation, Rescaling, ...])
    from fastnn.layers import Flatten, RandomFlip, Rescaling

    augmentation = Sequential([RandomFlip("horizontal")], name="data_augmentation")
    model = Sequential([Input(shape=(4, 4, 3)), augmentation, Rescaling(1 / 255), Flatten(), Dense(2)])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert [layer.name for layer in loaded.layers][:2] == ["data_augmentation", loaded.layers[1].name]
    assert type(loaded.get_layer("data_augmentation")) is Sequential
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_model_with_dict_inputs_nests_on_a_dict_of_tensors(tmp_path):
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    inner = Model({"a": a, "b": b}, Dense(2)(Concatenate()([a, b])), name="inner")
    outer_a, outer_b = Input(shape=(3,), name="A"), Input(shape=(2,), name="B")
    model = Model([outer_a, outer_b], inner({"a": outer_a, "b": outer_b}))
    x = [np.ones((2, 3), np.float32), np.arange(4, dtype=np.float32).reshape(2, 2)]
    np.testing.assert_allclose(model.predict(x, verbose=0), inner.predict({"a": x[0], "b": x[1]}, verbose=0))
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").predict(x, verbose=0), model.predict(x, verbose=0))
    with fastnn.GradientTape() as tape:  # (a dict of arrays on the tape: both inputs reach the model)
        loss = fastnn.reduce_sum(inner({"a": fastnn.constant(x[0]), "b": fastnn.constant(x[1])}))
    assert all(g is not None for g in tape.gradient(loss, inner.trainable_weights))
    with pytest.raises(ValueError, match=r"takes a dict with the keys \['a', 'b'\]. Received: \['a'\]"):
        inner({"a": outer_a})
