"""tf.lookup: StaticHashTable filled by a KeyValueTensorInitializer or a TextFileInitializer."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as tf


def test_static_hash_table_from_keys_and_values():
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(["a", "b", "c"], [0, 1, 2]), default_value=-1)
    got = table.lookup(tf.constant([["a", "zz"], ["c", "b"]]))
    np.testing.assert_array_equal(got, [[0, -1], [2, 1]])
    assert got.dtype == np.int32  # (Python ints: TensorFlow's int32)
    np.testing.assert_array_equal(table.lookup(np.array([b"b", b"q"])), [1, -1])  # (bytes, as TF's strings)
    assert int(table.size()) == 3
    keys, values = table.export()
    assert keys.tolist() == ["a", "b", "c"] and values.tolist() == [0, 1, 2]
    numbers = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        np.array([10, 20], np.int64), np.array([1.5, 2.5], np.float32)), -1.0)
    np.testing.assert_array_equal(numbers.lookup(np.array([20, 30, 10])), np.array([2.5, -1, 1.5], np.float32))
    ids = tf.data.Dataset.from_tensor_slices(["a", "c", "x"]).map(table.lookup)
    assert [int(v) for v in ids.as_numpy_iterator()] == [0, 2, -1]
    with pytest.raises(ValueError, match="key 'a' is given different values"):
        tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(["a", "a"], [0, 1]), -1)
    with pytest.raises(TypeError, match="the table's keys are strings; received keys of dtype int64"):
        table.lookup(np.array([1, 2]))


def test_static_hash_table_from_a_text_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("cat\tanimal\ncar\tthing\nsun\tstar\n")
    by_line = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.string, 0, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), -1)
    np.testing.assert_array_equal(by_line.lookup(tf.constant(["car", "dog", "sun"])), [1, -1, 2])
    whole = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.string, 1, vocab_size=2), "?")
    assert whole.lookup(tf.constant(["cat\tanimal", "sun\tstar"])).tolist() == ["animal", "?"]
    with pytest.raises(ValueError, match="vocab_size 5 is larger than the 3 lines"):
        tf.lookup.TextFileInitializer(str(path), tf.string, 0, tf.int64, -1, vocab_size=5)
