"""tf.data semantics a pipeline relies on: every later step sees one stream, each element computed
once per pass (a random map's value is the value), a repeat of a reshuffled dataset is whole
permutations one after another; fit's validation data is read from its start at every epoch."""

import numpy as np
import pytest

import fastnn as tf
from fastnn import keras

D = tf.data.Dataset


def test_a_reshuffled_repeat_then_filter_shuffle_or_window():
    evens = [int(v) for v in D.range(10).shuffle(10, seed=0).repeat(2).filter(lambda x: x % 2 == 0)]
    assert sorted(evens) == [0, 0, 2, 2, 4, 4, 6, 6, 8, 8]
    assert sorted(evens[:5]) == [0, 2, 4, 6, 8]  # each pass a permutation
    again = sorted(int(v) for v in D.range(5).shuffle(5, seed=0).repeat(2).shuffle(10, seed=0))
    assert again == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    stream = [int(v) for v in D.range(6).shuffle(6, seed=1).repeat(2)]
    windows = [list(map(int, w)) for w in D.range(6).shuffle(6, seed=1).repeat(2)
               .window(4, shift=1, drop_remainder=True).flat_map(lambda w: w.batch(4))]
    assert windows == [stream[i:i + 4] for i in range(len(stream) - 3)]
    assert sorted(stream[:6]) == list(range(6)) and sorted(stream[6:]) == list(range(6))


def test_a_random_map_is_computed_once_per_element():
    calls = []

    def noisy(x):
        calls.append(1)
        return tf.cast(x, tf.float32) + tf.random.uniform(())

    tf.set_random_seed(0)
    kept = [float(v) for v in D.range(200).map(noisy).filter(lambda v: v - tf.floor(v) > 0.5)]
    assert kept and all(v - np.floor(v) > 0.5 for v in kept)  # the values the filter saw
    assert len(calls) == 200
    windows = [np.asarray(w) for w in D.range(6).map(noisy).window(3, shift=1, drop_remainder=True)
               .flat_map(lambda w: w.batch(3))]
    for a, b in zip(windows, windows[1:]):
        np.testing.assert_array_equal(a[1:], b[:-1])  # overlapping windows hold the same values


def test_validation_data_is_read_from_its_start_every_epoch():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # (the model does not change)
    model.set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    x, y = np.arange(10, dtype="float32")[:, None], np.zeros((10, 1), "float32")
    train = D.from_tensor_slices((x[:4] * 0, y[:4])).batch(4)
    val = D.from_tensor_slices((x, y)).batch(2)
    history = model.fit(train, validation_data=val, validation_steps=2, epochs=3, verbose=0)
    assert history.history["val_loss"] == [3.5, 3.5, 3.5]  # the mean of x^2 for x = 0..3, every epoch
    endless = D.from_tensor_slices((x, y)).batch(4).repeat()
    history = model.fit(train, validation_data=endless, validation_steps=2, epochs=2, verbose=0)
    assert history.history["val_loss"] == [17.5, 17.5]


def test_constructors_take_tensorflows_dtypes_and_copy():
    def gen():
        for i in range(3):
            yield i, float(i)

    ids, values = next(iter(D.from_generator(gen, output_signature=(tf.TensorSpec((), tf.int32),
                                                                     tf.TensorSpec((), tf.float32)))))
    assert ids.dtype == np.int32 and values.dtype == np.float32
    ids, values = next(iter(D.from_generator(gen, output_types=(tf.int64, tf.float32))))
    assert ids.dtype == np.int64 and values.dtype == np.float32
    assert next(iter(D.from_tensors([1.0, 2.0]))).dtype == np.float32
    assert next(iter(D.range(3, output_type=tf.int32))).dtype == np.int32
    x = np.arange(5, dtype=np.float32)
    ds = D.from_tensor_slices(x)
    x /= 255.0  # (after the dataset was made: TensorFlow copied the values at creation)
    assert [float(v) for v in ds] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_strings_in_numpy_iteration_and_padding_are_bytes():
    ds = D.from_tensor_slices(["ab", "c"])
    assert list(ds.as_numpy_iterator()) == [b"ab", b"c"]
    assert [b.tolist() for b in ds.batch(2).as_numpy_iterator()] == [[b"ab", b"c"]]
    words = D.from_generator(lambda: iter([np.array(["the", "cat"]), np.array(["hi"])]),
                             output_signature=tf.TensorSpec((None,), tf.string))
    assert [b.numpy().tolist() for b in words.padded_batch(2)] == [[[b"the", b"cat"], [b"hi", b""]]]


def test_normalization_adapts_per_feature_on_a_dataset_of_samples():
    x = np.random.default_rng(0).normal([0, 5, -3], [1, 10, 90], size=(200, 3)).astype(np.float32)
    for data in (D.from_tensor_slices(x), D.from_tensor_slices(x).batch(16), D.from_tensor_slices(x).batch(16).unbatch()):
        layer = keras.layers.Normalization()
        layer.adapt(data)
        np.testing.assert_allclose(np.ravel(layer.mean), x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(np.ravel(layer.variance), x.var(0), rtol=1e-4)


def test_counts_may_be_scalar_tensors():
    ds = D.range(10)
    assert len(ds.take(tf.constant(3))) == 3 and len(ds.skip(tf.cast(10 * 0.3, tf.int64))) == 7
    assert len(ds.batch(tf.constant(4))) == 3 and len(ds.repeat(tf.constant(2))) == 20
    assert sorted(int(v) for v in ds.shuffle(np.array(10), seed=1)) == list(range(10))


def test_unbatch_after_shuffled_batches_every_epoch():
    ds = D.range(7).batch(3).shuffle(3, seed=0).unbatch()
    for _ in range(4):
        assert sorted(int(v) for v in ds) == list(range(7))
    kept = []
    rng = np.random.default_rng(0)
    ds = D.range(20).batch(2).filter(lambda b: rng.random() < 0.5).unbatch()
    for _ in range(4):
        values = [int(v) for v in ds]
        assert len(values) % 2 == 0 and len(set(values)) == len(values)
        kept.append(len(values))
    assert len(set(kept)) > 1  # each pass its own batches


def test_cardinality_enumerate_reduce_apply():
    ds = D.range(10).batch(2)
    count = tf.data.experimental.cardinality(ds)
    assert count.numpy() == 5 and len(ds.take(count // 5)) == 1  # the transfer-learning tutorial's split
    assert D.range(3).repeat().cardinality() == tf.data.experimental.INFINITE_CARDINALITY
    assert [(int(i), [int(v) for v in e]) for i, e in ds.enumerate(start=1).take(2)] == [(1, [0, 1]), (2, [2, 3])]
    assert int(D.range(5).reduce(np.int64(0), lambda total, x: total + x)) == 10
    assert [int(v) for v in D.range(5).apply(lambda d: d.skip(3))] == [3, 4]


def test_timeseries_generator_as_tf_keras_2():
    from fastnn.keras.preprocessing.sequence import TimeseriesGenerator

    data = targets = np.array([[i] for i in range(50)])
    gen = TimeseriesGenerator(data, targets, length=10, sampling_rate=2, batch_size=2)  # its docstring's example
    x, y = gen[0]
    assert len(gen) == 20 and x.tolist() == [[[0], [2], [4], [6], [8]], [[1], [3], [5], [7], [9]]]
    assert y.tolist() == [[10], [11]]
    x, y = TimeseriesGenerator(data, targets, length=3, stride=2, reverse=True, batch_size=4)[1]
    assert x[0].ravel().tolist() == [10, 9, 8] and y.ravel().tolist() == [11, 13, 15, 17]
    series = np.sin(np.arange(120) / 10).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((10, 1)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(TimeseriesGenerator(series, series, length=10, batch_size=16), epochs=1, verbose=0)
    assert model.predict(TimeseriesGenerator(series, series, length=10, batch_size=16), verbose=0).shape == (110, 1)


def test_an_endless_generator_is_refused_before_it_fills_the_memory(monkeypatch):
    import pytest

    from fastnn import _batch_dataset

    monkeypatch.setattr(_batch_dataset, "_GENERATOR_BYTES", 10_000)

    def endless():
        while True:
            yield np.zeros((4, 100), "float32")

    with pytest.raises(ValueError, match="from_generator: the generator gave 7 elements .* goes on"):
        list(D.from_generator(endless, output_types=tf.float32).take(1))


def test_windows_of_tuple_and_dict_elements():
    ds = D.from_tensor_slices((np.arange(5), np.arange(5) * 10)).window(3, shift=1, drop_remainder=True)
    pairs = ds.flat_map(lambda x, y: D.zip((x.batch(3), y.batch(3))))
    assert [tuple(a.tolist() for a in e) for e in pairs.as_numpy_iterator()] == \
        [([0, 1, 2], [0, 10, 20]), ([1, 2, 3], [10, 20, 30]), ([2, 3, 4], [20, 30, 40])]
    ds = D.from_tensor_slices({"a": np.arange(4)}).window(2, drop_remainder=True)
    assert [e.tolist() for e in ds.flat_map(lambda d: d["a"].batch(2)).as_numpy_iterator()] == [[0, 1], [2, 3]]


def test_zip_concatenate_and_enumerate_of_endless_datasets():
    endless = D.range(3).repeat()
    assert D.zip((endless, endless)).cardinality() == -1 and D.range(2).concatenate(endless).cardinality() == -1
    assert D.zip((endless, D.range(4))).cardinality() == 4  # a zip ends with its shortest member
    assert [(int(i), int(v)) for i, v in endless.enumerate(5).take(4)] == [(5, 0), (6, 1), (7, 2), (8, 0)]


def test_split_dataset_as_keras():
    data = np.random.default_rng(0).random((100, 3))
    left, right = keras.utils.split_dataset(data, left_size=0.8)
    assert len(left) == 80 and len(right) == 20
    np.testing.assert_array_equal(np.stack(list(right)), data[80:])  # in order without shuffle
    left, right = keras.utils.split_dataset((np.arange(10), np.arange(10) * 2), right_size=3, shuffle=True, seed=1)
    pairs = [tuple(int(a) for a in e) for e in list(left) + list(right)]
    assert len(left) == 7 and sorted(pairs) == [(i, 2 * i) for i in range(10)]  # a permutation, pairs kept
    assert len(left.batch(4)) == 2
    import pytest

    with pytest.raises(ValueError, match="at least one of left_size and right_size"):
        keras.utils.split_dataset(data)
    with pytest.raises(ValueError, match="left_size must be a float in \\(0, 1\\) or an int"):
        keras.utils.split_dataset(data, left_size=1.5)


def test_element_spec():
    ds = D.from_tensor_slices((np.zeros((10, 28, 28), "float32"), np.arange(10))).batch(4)
    images, labels = ds.element_spec
    assert images.shape.as_list() == [None, 28, 28] and images.dtype == np.float32 and labels.shape == (None,)
    assert D.from_tensor_slices(["a", "b"]).element_spec.dtype == "string"
    spec = D.from_tensor_slices({"x": np.zeros((3, 2))}).batch(2, drop_remainder=True).element_spec
    assert spec["x"].shape == (2, 2)  # (every batch full: the batch axis is known)


def test_counter_and_from_tensor_slices_given_two_arrays():
    # the data-augmentation tutorial's option 1: a counter zipped with the data, as seeds
    import fastnn as tf

    ds = tf.data.Dataset.from_tensor_slices(np.arange(3.0))
    pairs = [(float(a), int(b)) for a, b in tf.data.Dataset.zip((ds, tf.data.experimental.Counter()))]
    assert pairs == [(0.0, 0), (1.0, 1), (2.0, 2)]
    stepped = [int(v) for v in tf.data.Dataset.counter(start=5, step=-2).take(3)]
    assert stepped == [5, 3, 1]
    with pytest.raises(TypeError, match=r"takes one structure of arrays: from_tensor_slices\(\(x, y\)\)"):
        tf.data.Dataset.from_tensor_slices(np.ones((4, 2)), np.ones(4))


def test_sample_and_choose_from_datasets():
    # the imbalanced-data tutorial's oversampling: a balanced stream from two endless datasets
    pos = D.from_tensor_slices((np.ones((5, 2), np.float32), np.ones(5))).shuffle(5).repeat()
    neg = D.from_tensor_slices((np.zeros((50, 2), np.float32), np.zeros(50))).shuffle(50).repeat()
    resampled = D.sample_from_datasets([pos, neg], weights=[0.5, 0.5], seed=1)
    assert int(resampled.cardinality()) == -1
    _, labels = next(iter(resampled.batch(512)))
    assert abs(float(np.mean(labels)) - 0.5) < 0.08
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    assert len(model.fit(resampled.batch(16).prefetch(2), steps_per_epoch=5, epochs=2, verbose=0).history["loss"]) == 2
    # finite datasets: each element once; a dataset that runs out is left out; a seed repeats the draws
    mixed = tf.data.experimental.sample_from_datasets([D.range(3), D.range(10, 15)], seed=2)
    values = [int(v) for v in mixed]
    assert len(mixed) == 8 and sorted(values) == [0, 1, 2, 10, 11, 12, 13, 14] and values == [int(v) for v in mixed]
    assert [int(v) for v in values if v < 3] == [0, 1, 2]  # (each dataset's own order)
    stopped = D.sample_from_datasets([D.range(3), D.range(10, 15)], seed=2, stop_on_empty_dataset=True)
    assert len(stopped) < 8 and stopped[len(stopped) - 1] in (2, 14)
    chosen = D.choose_from_datasets([D.range(3), D.range(10, 13)], D.range(2).repeat(3))
    assert [int(v) for v in chosen] == [0, 10, 1, 11, 2, 12]
    with pytest.raises(ValueError, match="`weights` must be 2 non-negative numbers"):
        D.sample_from_datasets([pos, neg], weights=[0.5])
