"""Callbacks: EarlyStopping and ModelCheckpoint behaviour (Keras 3 rules), CSVLogger, learning-rate
callbacks, the hook sequence and History."""

import csv
import math
import os
import struct

import numpy as np
import pytest

import fastnn
from fastnn.callbacks import (Callback, CSVLogger, EarlyStopping, LambdaCallback, LearningRateScheduler,
                              ModelCheckpoint, ReduceLROnPlateau)
from fastnn import callbacks
from fastnn.layers import Dense, Input
from fastnn.models import Sequential, load_model
from fastnn.optimizers import SGD

X = np.random.default_rng(0).standard_normal((32, 5)).astype(np.float32)
Y = np.eye(2, dtype=np.float32)[(X[:, 0] > 0).astype(int)]


def model(lr=0.1, seed=0):
    fastnn.set_random_seed(seed)
    m = Sequential([Dense(4, activation="tanh", input_shape=(5,)), Dense(2, activation="softmax")])
    m.compile(SGD(learning_rate=lr), "categorical_crossentropy", metrics=["accuracy"])
    return m


class Scripted(Callback):
    """Feeds a scripted value of 'score' into the epoch logs (runs before the callbacks under test)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]
        # make each epoch's weights recognisable: kernel[0, 0] = epoch
        self.model.layers[0].kernel[0, 0] = epoch


def test_early_stopping_keras_doc_example():
    # Keras's docstring: patience=3 on a loss that never improves runs 4 epochs
    m = model(lr=0.0)
    history = m.fit(X, Y, epochs=10, batch_size=8, shuffle=False, verbose=0,
                    callbacks=[EarlyStopping(monitor="loss", patience=3)])
    assert len(history.history["loss"]) == 4


def test_early_stopping_min_delta_mode_and_restore_best_weights(capsys):
    m = model()
    scores = [0.5, 0.7, 0.71, 0.69, 0.6, 0.9, 0.95]
    stop = EarlyStopping(monitor="score", mode="max", patience=2, min_delta=0.05, restore_best_weights=True, verbose=1)
    history = m.fit(X, Y, epochs=7, verbose=0, callbacks=[Scripted(scores), stop])
    # epoch 1 improves by 0.2; epochs 2 and 3 improve by < min_delta -> stop after epoch 3
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert m.layers[0].kernel[0, 0] == 1  # the best epoch's weights
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out and "best epoch: 2." in out


def test_early_stopping_auto_mode_uses_metric_direction_and_baseline():
    m = model()
    stop = EarlyStopping(monitor="accuracy", patience=1)
    m.fit(X, Y, epochs=1, verbose=0, callbacks=[stop])
    assert stop._direction == "max"
    stop = EarlyStopping(monitor="val_loss")
    m.fit(X, Y, epochs=1, verbose=0, validation_split=0.25, callbacks=[stop])
    assert stop._direction == "min"
    with pytest.raises(ValueError, match="isn't able to automatically determine"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[Scripted([1.0]), EarlyStopping(monitor="score")])
    # a baseline that is never beaten stops training after `patience` epochs
    stop = EarlyStopping(monitor="score", mode="min", patience=2, baseline=0.1)
    history = m.fit(X, Y, epochs=6, verbose=0, callbacks=[Scripted([0.5, 0.6, 0.7, 0.8, 0.9, 1.0]), stop])
    assert len(history.epoch) == 2
    with pytest.warns(UserWarning, match="not available"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[EarlyStopping(monitor="val_loss")])


def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    m = model()
    pattern = str(tmp_path / "ckpt" / "model-{epoch:02d}-{loss:.3f}.fastnn")
    history = m.fit(X, Y, epochs=3, verbose=0, callbacks=[ModelCheckpoint(pattern, save_best_only=False)])
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == [f"model-{e + 1:02d}-{l:.3f}.fastnn" for e, l in enumerate(history.history["loss"])]
    last = load_model(tmp_path / "ckpt" / names[-1])
    np.testing.assert_array_equal(last.predict(X, verbose=0), m.predict(X, verbose=0))


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    m = model()
    path = tmp_path / "best.fastnn"
    scores = [0.5, 0.4, 0.45, 0.3, 0.35]
    check = ModelCheckpoint(path, monitor="score", mode="min", save_best_only=True, verbose=1)
    m.fit(X, Y, epochs=5, verbose=0, callbacks=[Scripted(scores), check])
    assert load_model(path).layers[0].kernel[0, 0] == 3  # saved at epoch index 3, the lowest score
    out = capsys.readouterr().out
    assert "Epoch 1: score improved from inf to 0.50000, saving model to" in out
    assert "Epoch 3: score did not improve from 0.40000" in out
    assert check.best == 0.3


def test_model_checkpoint_weights_only_and_batch_frequency(tmp_path):
    m = model()
    path = tmp_path / "w-{epoch}-{batch}.weights"
    m.fit(X, Y, epochs=2, batch_size=8, verbose=0,
          callbacks=[ModelCheckpoint(str(path), save_weights_only=True, save_freq=3)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["w-1-3.weights", "w-2-2.weights"]  # after batches 3 and 6 of 4 per epoch
    fresh = model(seed=9)
    fresh.load_weights(tmp_path / "w-2-2.weights")
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(str(path), save_freq=0)


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    m = model()
    history = m.fit(X, Y, epochs=3, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)])
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["loss"]) for r in rows] == pytest.approx(history.history["loss"])
    m.fit(X, Y, epochs=1, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path, append=True)])
    assert len(list(csv.DictReader(path.read_text().splitlines()))) == 4


def test_learning_rate_scheduler_and_reduce_on_plateau(capsys):
    m = model(lr=0.1)
    history = m.fit(X, Y, epochs=3, verbose=0,
                    callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr, verbose=1)])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out
    m = model(lr=0.1)
    m.fit(X, Y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert m.optimizer.learning_rate == pytest.approx(0.02)
    for bad in ("0.1", True, None):  # (Keras: a float; a str that float() reads is still a mistake)
        with pytest.raises(ValueError, match='output of the "schedule" function should be a float'):
            m.fit(X, Y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: bad)])  # noqa: B023
    m = model(lr=1.0)
    reduce = ReduceLROnPlateau(monitor="score", factor=0.5, patience=1, mode="min", min_lr=0.3)
    history = m.fit(X, Y, epochs=5, verbose=0, callbacks=[Scripted([1, 1, 1, 1, 0.5]), reduce])
    assert history.history["learning_rate"] == [1.0, 1.0, 0.5, 0.3, 0.3]
    # mode "auto" on a score another callback logs: Keras's rule ("acc" in the name: max, else
    # min), not EarlyStopping's refusal
    m = model(lr=1.0)
    reduce = ReduceLROnPlateau(monitor="score", factor=0.5, patience=1)
    history = m.fit(X, Y, epochs=3, verbose=0, callbacks=[Scripted([1, 2, 3]), reduce])
    assert reduce._direction == "min" and history.history["learning_rate"] == [1.0, 1.0, 0.5]  # (logged before)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=2)


def test_hook_sequence_history_and_lambda_callback():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            calls.append(f"batch {batch} {sorted(logs)}")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    m = model()
    seen = []
    history = m.fit(X, Y, epochs=2, batch_size=16, verbose=0,
                    callbacks=[Recorder(), LambdaCallback(on_batch_end=lambda batch, logs: seen.append(logs["loss"]))])
    assert calls == ["train_begin", "epoch_begin 0", "batch 0 ['accuracy', 'loss']", "batch 1 ['accuracy', 'loss']",
                     "epoch_end 0 ['accuracy', 'loss']", "epoch_begin 1", "batch 0 ['accuracy', 'loss']",
                     "batch 1 ['accuracy', 'loss']", "epoch_end 1 ['accuracy', 'loss']", "train_end"]
    assert len(seen) == 4 and all(math.isfinite(v) for v in seen)
    assert seen[1] == pytest.approx(history.history["loss"][0])  # the epoch's loss is the running mean at its end
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 2} and history.model is m
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_everything=print)


# ---- TensorBoard ----------------------------------------------------------------------------------

# Three records written by TensorBoard 2.21's own RecordWriter with its Event protos (the file
# version event; an "epoch_loss" scalar of 0.25 at step 3; a histogram at step 300), the reference
# for fastnn's hand-written encoding.
TENSORBOARD_GOLDEN = bytes.fromhex(
    "1800000000000000a37f4b220900002040fc54d9411a0d627261696e2e4576656e743a322b353110200000000000000029eda9500900005040fc54d94110032a130a110a0a65706f63685f6c6f7373150000803e7065c56d8b00000000000000852d3df10900008040fc54d94110ac022a7d0a7b0a1664656e73652f6b65726e656c2f686973746f6772616d2a6109000000000000f8bf11000000000000004019000000000000104021000000000000f03f290000000000001e4032180000000000000000000000000000f03f00000000000000403a18000000000000f03f0000000000000040000000000000f03ff3f2306a")


def _protobuf_fields(data):
    """{field number: [values]} of a protocol buffer message (varints as ints, 64- and 32-bit
    fields as raw bytes, length-delimited ones as bytes)."""
    fields, i = {}, 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            assert wire == 2, wire
            n = varint()
            value, i = data[i:i + n], i + n
        fields.setdefault(number, []).append(value)
    return fields


def _read_events(path):
    """The events of a TensorBoard event file, each CRC checked: [(step, {tag: value})], a
    scalar's value a float, a histogram's a dict of its fields."""
    from fastnn._tensorboard import masked_crc32c

    with open(path, "rb") as f:
        data = f.read()
    events, i = [], 0
    while i < len(data):
        header = data[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == masked_crc32c(header)
        payload = data[i + 12:i + 12 + n]
        assert struct.unpack("<I", data[i + 12 + n:i + 16 + n])[0] == masked_crc32c(payload)
        i += 16 + n
        event = _protobuf_fields(payload)
        values = {}
        for summary in event.get(5, []):
            for value in _protobuf_fields(summary)[1]:
                v = _protobuf_fields(value)
                tag = v[1][0].decode()
                if 2 in v:
                    values[tag] = struct.unpack("<f", v[2][0])[0]
                else:
                    h = _protobuf_fields(v[5][0])
                    values[tag] = {"min": struct.unpack("<d", h[1][0])[0], "max": struct.unpack("<d", h[2][0])[0],
                                   "num": struct.unpack("<d", h[3][0])[0],
                                   "bucket": np.frombuffer(h[7][0], dtype="<f8")}
        events.append((event.get(2, [0])[0], values, event.get(3, [b""])[0]))
    return events


def test_tensorboard_records_are_tensorboards_own():
    from fastnn import _tensorboard as tb

    written = (tb.record(tb.event(1700000000.5, file_version="brain.Event:2")) +
               tb.record(tb.event(1700000001.25, 3, values=[tb.scalar_value("epoch_loss", 0.25)])) +
               tb.record(tb.event(1700000002.0, 300, values=[tb.histogram_proto_value(
                   "dense/kernel/histogram", -1.5, 2.0, 4, 1.0, 7.5, [0.0, 1.0, 2.0], [1, 2, 1])])))
    assert written == TENSORBOARD_GOLDEN
    assert tb.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def test_tensorboard_writes_keras_scalars_histograms_and_batches(tmp_path):
    fastnn.utils.set_random_seed(0)
    model = Sequential([Input((8,)), Dense(16, activation="relu"), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 8)).astype("float32"), rng.integers(0, 3, 200)
    board = callbacks.TensorBoard(log_dir=tmp_path / "logs", histogram_freq=2, update_freq=3)
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, callbacks=[board], verbose=0).history
    (train,) = (tmp_path / "logs" / "train").iterdir()
    (validation,) = (tmp_path / "logs" / "validation").iterdir()
    assert train.name.startswith("events.out.tfevents.") and train.name.endswith(".v2")
    events = _read_events(train)
    assert events[0][2] == b"brain.Event:2"
    epochs = [(step, v) for step, v, _ in events if "epoch_loss" in v]
    assert [step for step, _ in epochs] == [0, 1, 2]
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose([v["epoch_" + name] for _, v in epochs], history[name], rtol=1e-6)
    assert all(v["epoch_learning_rate"] == pytest.approx(0.001) for _, v in epochs)
    batches = [(step, v) for step, v, _ in events if "batch_loss" in v]
    assert [step for step, _ in batches] == list(range(3, 3 * 5 + 1, 3))  # 5 batches an epoch
    first, second = (layer.name for layer in model.layers)
    histograms = [(step, v) for step, v, _ in events if f"{first}/kernel/histogram" in v]
    assert [step for step, _ in histograms] == [0, 2]
    kernel = histograms[-1][1][f"{first}/kernel/histogram"]
    assert kernel["num"] == 8 * 16 and kernel["bucket"].sum() == 8 * 16
    assert kernel["min"] == pytest.approx(float(model.layers[0].kernel.min()))
    assert set(histograms[-1][1]) == {f"{name}/{weight}/histogram" for name in (first, second)
                                      for weight in ("kernel", "bias")}
    val = [v for _, v, _ in _read_events(validation) if "epoch_loss" in v]
    np.testing.assert_allclose([v["epoch_loss"] for v in val], history["val_loss"], rtol=1e-6)
    # fit's validation is an evaluate: Keras's board logs it against the iterations too
    during_fit = [(step, v) for step, v, _ in _read_events(validation) if "evaluation_loss_vs_iterations" in v]
    assert [step for step, _ in during_fit] == [5, 10, 15]
    np.testing.assert_allclose([v["evaluation_loss_vs_iterations"] for _, v in during_fit], history["val_loss"],
                               rtol=1e-6)

    logs = model.evaluate(x, y, callbacks=[board], verbose=0, return_dict=True)
    evaluation = [(step, v) for path in sorted((tmp_path / "logs" / "validation").iterdir())
                  for step, v, _ in _read_events(path) if "evaluation_loss_vs_iterations" in v]
    assert evaluation[-1] == (15, pytest.approx({"evaluation_loss_vs_iterations": logs["loss"],
                                                 "evaluation_accuracy_vs_iterations": logs["accuracy"]}))


def test_tensorboard_arguments():
    with pytest.raises(ValueError, match="update_freq must be 'epoch', 'batch' or a positive integer"):
        callbacks.TensorBoard(update_freq=0)
    with pytest.raises(ValueError, match="histogram_freq must be a non-negative integer"):
        callbacks.TensorBoard(histogram_freq=-1)
    with pytest.warns(UserWarning, match="profile_batch is not supported by fastnn; nothing of it is written"):
        callbacks.TensorBoard(profile_batch="500,520")


def test_one_callback_not_in_a_list():
    # Keras 3 takes callbacks=EarlyStopping(...) as well as a list; fastnn said the callback was not iterable
    import fastnn

    x, y = np.ones((8, 3), np.float32), np.zeros(8, np.int64)
    model = fastnn.Sequential([fastnn.layers.Input((3,)), fastnn.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    stopper = fastnn.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=stopper)
    assert len(history.history["loss"]) == 2 and stopper.stopped_epoch == 1
    model.evaluate(x, y, verbose=0, callbacks=fastnn.callbacks.Callback())
    model.predict(x, verbose=0, callbacks=fastnn.callbacks.Callback())


def test_every_hook_fires_with_a_logs_dict():
    """keras.io "Writing your own callbacks": every hook gets a dict (``logs.keys()`` works), and
    fit's validation, evaluate and predict fire their batch hooks, begin and end."""
    seen = []

    class Hooks(callbacks.Callback):
        pass

    def recorder(name):
        def hook(self, *args):
            logs = args[-1]
            assert isinstance(logs, dict), name
            seen.append(name)
        return hook

    for name in ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin", "on_test_end",
                 "on_predict_begin", "on_predict_end", "on_train_batch_begin", "on_train_batch_end",
                 "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"]:
        setattr(Hooks, name, recorder(name))
    model = Sequential([Input((4,)), Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 4), np.float32), np.ones((8, 1), np.float32)
    model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), callbacks=[Hooks()], verbose=0)
    assert seen == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
                    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_batch_begin",
                    "on_test_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_epoch_end",
                    "on_train_end"]
    seen.clear()
    model.evaluate(x, y, batch_size=8, callbacks=[Hooks()], verbose=0)
    model.predict(x, batch_size=8, callbacks=[Hooks()], verbose=0)
    assert seen == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_predict_begin",
                    "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"]


def test_tf_summary_writes_scalars_and_histograms(tmp_path):
    """Géron's chapter 10: tf.summary.create_file_writer, as_default, scalar and histogram."""
    import fastnn as tf

    writer = tf.summary.create_file_writer(str(tmp_path / "test"))
    with writer.as_default():
        for step in range(1, 4):
            assert tf.summary.scalar("my_scalar", np.sin(step / 10), step=step)
            data = (np.random.default_rng(step).standard_normal(100) + 1) * step
            tf.summary.histogram("my_hist", data, buckets=5, step=step)
    assert tf.summary.scalar("my_scalar", 1.0, step=9) is False  # (no default writer: nothing written)
    (path,) = (tmp_path / "test").iterdir()
    events = _read_events(path)
    scalars = [(step, v["my_scalar"]) for step, v, _ in events if "my_scalar" in v]
    assert [s for s, _ in scalars] == [1, 2, 3]
    np.testing.assert_allclose([v for _, v in scalars], np.sin(np.arange(1, 4) / 10), rtol=1e-6)
    histograms = [v["my_hist"] for _, v, _ in events if "my_hist" in v]
    assert len(histograms) == 3 and all(h["num"] == 100 and len(h["bucket"]) == 5 for h in histograms)
    with writer.as_default():
        with pytest.raises(ValueError, match="give step="):
            tf.summary.scalar("my_scalar", 1.0)
        with pytest.raises(NotImplementedError, match="image summaries are not written"):
            tf.summary.image("digits", np.zeros((1, 8, 8, 1)), step=1)
    writer.close()


def test_backup_and_restore_resumes_an_interrupted_fit_exactly(tmp_path):
    from fastnn import keras

    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    y = x.sum(1, keepdims=True)

    def make():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        return model

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 4:
                raise RuntimeError("interrupted")

    reference = make()
    expected = reference.fit(x, y, epochs=8, batch_size=8, shuffle=False, verbose=0).history["loss"]
    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        make().fit(x, y, epochs=8, batch_size=8, shuffle=False, verbose=0,
                   callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt()])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "training_metadata.json"]
    resumed = make()
    history = resumed.fit(x, y, epochs=8, batch_size=8, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(backup)]).history["loss"]
    np.testing.assert_allclose(history, expected[4:], rtol=1e-6)  # (epochs 4..7, from the restored optimizer)
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not backup.exists()  # (deleted when training ends)
    with pytest.raises(ValueError, match="Invalid value for argument `save_freq`"):
        keras.callbacks.BackupAndRestore(backup, save_freq="batch")


def test_callback_list_drives_the_callbacks_of_a_loop_of_ones_own():
    # TensorFlow's "Writing a training loop from scratch": CallbackList(callbacks, add_history=True,
    # model=model), then its hooks by hand
    from fastnn import keras

    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(("batch", batch, logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", epoch, logs["loss"], self.params["epochs"]))

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    callbacks = keras.callbacks.CallbackList([Recorder()], add_history=True, model=model, epochs=2, steps=2)
    callbacks.on_train_begin()
    for epoch in range(2):
        callbacks.on_epoch_begin(epoch)
        for step in range(2):
            callbacks.on_train_batch_begin(step)
            callbacks.on_train_batch_end(step, {"loss": float(epoch + step)})
        callbacks.on_epoch_end(epoch, {"loss": float(epoch)})
    callbacks.on_train_end()
    assert seen == [("batch", 0, 0.0), ("batch", 1, 1.0), ("epoch", 0, 0.0, 2),
                    ("batch", 0, 1.0), ("batch", 1, 2.0), ("epoch", 1, 1.0, 2)]
    assert model.history.history == {"loss": [0.0, 1.0]}
    late = Recorder()
    callbacks.append(late)
    assert late.model is model
