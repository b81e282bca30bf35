"""More of TensorFlow's top-level names (fastnn._tensorflow): ``tf.repeat``, ``broadcast_to``,
``meshgrid``, ``unique`` (first-occurrence order), ``searchsorted``, ``math.bincount``,
``histogram_fixed_width(_bins)``, ``py_function`` / ``numpy_function``, ``vectorized_map``,
``foldl`` / ``foldr``, ``case`` / ``switch_case``, ``tf.dtypes``, and ``Dataset.shard``; values
from TensorFlow's documentation examples or NumPy, bad arguments named in the error.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as tf
from fastnn import autodiff as ad


def test_repeat_broadcast_to_meshgrid():
    np.testing.assert_array_equal(tf.repeat(["a", "b", "c"], repeats=[3, 0, 2], axis=0), ["a", "a", "a", "c", "c"])
    x = np.array([[1, 2], [3, 4]], np.int32)
    np.testing.assert_array_equal(tf.repeat(x, repeats=[2, 3], axis=0), np.repeat(x, [2, 3], axis=0))
    np.testing.assert_array_equal(tf.repeat(x, repeats=2, axis=1), np.repeat(x, 2, axis=1))
    got = tf.repeat(3, repeats=4)
    np.testing.assert_array_equal(got, [3, 3, 3, 3])
    assert got.dtype == np.int32 and hasattr(got, "numpy")
    np.testing.assert_array_equal(tf.repeat(x, 2), np.repeat(x, 2))
    with pytest.raises(ValueError, match=r"tf\.repeat: repeats must be a non-negative int"):
        tf.repeat(x, [-1, 2], axis=0)
    np.testing.assert_array_equal(tf.broadcast_to([1, 2, 3], [3, 3]), [[1, 2, 3]] * 3)
    a, b = tf.meshgrid([1, 2, 3], [4, 5, 6, 7])
    want_a, want_b = np.meshgrid([1, 2, 3], [4, 5, 6, 7])
    np.testing.assert_array_equal(a, want_a)
    np.testing.assert_array_equal(b, want_b)
    i, j = tf.meshgrid([1, 2, 3], [4, 5], indexing="ij")
    assert i.shape == (3, 2) and j.shape == (3, 2)


def test_repeat_records_on_the_tape():
    x = ad.Tensor(np.array([1.0, 2.0, 3.0]))
    y = tf.repeat(x, [1, 0, 2])
    (g,) = ad.grad(y, [x], seed=np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(g, [1.0, 0.0, 110.0])


def test_unique_keeps_first_occurrence_order():
    # TensorFlow's doc example
    y, idx = tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8])
    np.testing.assert_array_equal(y, [1, 2, 4, 7, 8])
    np.testing.assert_array_equal(idx, [0, 0, 1, 2, 2, 2, 3, 4, 4])
    y, idx = tf.unique(np.array([5, 3, 5, 1, 3]))
    np.testing.assert_array_equal(y, [5, 3, 1])  # not sorted
    np.testing.assert_array_equal(idx, [0, 1, 0, 2, 1])
    assert idx.dtype == np.int32 and tf.unique([2, 2], out_idx=tf.int64).idx.dtype == np.int64
    y, idx, count = tf.unique_with_counts(np.array(["b", "a", "b"]))
    np.testing.assert_array_equal(y, ["b", "a"])
    np.testing.assert_array_equal(count, [2, 1])
    with pytest.raises(ValueError, match=r"tf\.unique: x must be 1-D"):
        tf.unique([[1, 2]])


def test_searchsorted_per_row():
    # TensorFlow's doc example
    sorted_sequence = [[0, 3, 9, 9, 10], [1, 2, 3, 4, 5]]
    values = [[2, 4, 9], [0, 2, 6]]
    got = tf.searchsorted(sorted_sequence, values)
    np.testing.assert_array_equal(got, [[1, 2, 2], [0, 1, 5]])
    assert got.dtype == np.int32
    np.testing.assert_array_equal(tf.searchsorted(sorted_sequence, values, side="right"), [[1, 2, 4], [0, 2, 5]])
    np.testing.assert_array_equal(tf.searchsorted([1.0, 2.0, 3.0], [2.5, 0.0]), [2, 0])
    with pytest.raises(ValueError, match=r"tf\.searchsorted: side must be 'left' or 'right'"):
        tf.searchsorted([1, 2], [1], side="middle")
    with pytest.raises(ValueError, match=r"tf\.searchsorted: sorted_sequence .* same leading axes"):
        tf.searchsorted([[1, 2]], [1, 2])


def test_bincount():
    # TensorFlow's doc examples
    values = [1, 1, 2, 3, 2, 4, 4, 5]
    np.testing.assert_array_equal(tf.math.bincount(values), [0, 2, 2, 1, 2, 1])
    got = tf.math.bincount(values, weights=[1, 5, 0, 1, 0, 5, 4, 5])
    np.testing.assert_array_equal(got, [0, 6, 0, 1, 9, 5])
    data = np.array([[1, 2, 3, 0], [0, 0, 1, 2]], dtype=np.int32)
    np.testing.assert_array_equal(tf.math.bincount(data, axis=-1), [[1, 1, 1, 1], [2, 1, 1, 0]])
    np.testing.assert_array_equal(tf.math.bincount(data, axis=-1, binary_output=True), [[1, 1, 1, 1], [1, 1, 1, 0]])
    np.testing.assert_array_equal(tf.math.bincount(values, minlength=8), [0, 2, 2, 1, 2, 1, 0, 0])
    np.testing.assert_array_equal(tf.math.bincount(values, maxlength=3), [0, 2, 2])
    assert tf.math.bincount([], minlength=0).shape == (0,)
    assert tf.math.bincount(values).dtype == np.int32
    assert tf.math.bincount(values, dtype=tf.int64).dtype == np.int64
    assert tf.math.bincount(values, weights=np.ones(8, np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"tf\.math\.bincount: Input arr must be non-negative"):
        tf.math.bincount([1, -1])
    with pytest.raises(ValueError, match="mutually exclusive"):
        tf.math.bincount(values, weights=np.ones(8), binary_output=True)
    w = ad.Tensor(np.arange(8.0))
    (g,) = ad.grad(tf.math.bincount(values, weights=w), [w], seed=np.arange(6.0))
    np.testing.assert_array_equal(g, [1, 1, 2, 3, 2, 4, 4, 5])
    assert tf.math.unsorted_segment_sum is not None


def test_histogram_fixed_width_and_bins():
    # TensorFlow's doc examples
    new_values = [-1.0, 0.0, 1.5, 2.0, 5.0, 15]
    got = tf.histogram_fixed_width(new_values, [0.0, 5.0], nbins=5)
    np.testing.assert_array_equal(got, [2, 1, 1, 0, 2])
    assert got.dtype == np.int32
    np.testing.assert_array_equal(tf.histogram_fixed_width_bins(new_values, [0.0, 5.0], nbins=5), [0, 0, 1, 2, 4, 4])
    x = np.random.default_rng(0).uniform(-1, 2, 1000).astype(np.float32)
    want, _ = np.histogram(np.clip(x, 0, 1), bins=10, range=(0, 1))
    np.testing.assert_array_equal(tf.histogram_fixed_width(x, [0.0, 1.0], nbins=10), want)
    with pytest.raises(ValueError, match=r"tf\.histogram_fixed_width: value_range should satisfy"):
        tf.histogram_fixed_width(x, [1.0, 1.0])
    with pytest.raises(ValueError, match=r"tf\.histogram_fixed_width: nbins should be a positive integer"):
        tf.histogram_fixed_width(x, [0.0, 1.0], nbins=0)


def test_py_function_gradient_as_tensorflows_doc_example():
    def log_huber(x, m):
        if tf.abs(x) <= m:
            return x ** 2
        return m ** 2 * (1 - 2 * tf.math.log(m) + tf.math.log(x ** 2))

    x = tf.constant(1.0)
    m = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch([x, m])
        y = tf.py_function(func=log_huber, inp=[x, m], Tout=tf.float32)
    dy_dx = t.gradient(y, x)
    assert float(dy_dx) == 2.0
    assert float(y) == 1.0


def test_py_function_and_numpy_function_convert_to_tout():
    seen = []

    def f(a, b):
        seen.append((type(a).__name__, hasattr(a, "numpy")))
        return a * 2, b.astype(np.float64) + 0.5

    out = tf.py_function(f, [np.int32(3), np.array([1.0], np.float32)], [tf.int64, tf.float32])
    assert isinstance(out, list) and out[0].dtype == np.int64 and out[1].dtype == np.float32
    assert seen[-1][1]  # eager tensors: with numpy()
    got = tf.numpy_function(lambda a: a * 1.5, [np.array([2, 4])], tf.float32)
    np.testing.assert_array_equal(got, np.float32([3, 6]))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(tf.numpy_function(lambda: np.arange(3), [], tf.int32), [0, 1, 2])
    with pytest.raises(TypeError, match=r"tf\.numpy_function: the 0-th value returned by the function is <U1"):
        tf.numpy_function(lambda: np.array(["a"]), [], tf.float32)
    with pytest.raises(ValueError, match=r"tf\.py_function: the function returned 1 values; Tout names 2"):
        tf.py_function(lambda: 1.0, [], [tf.float32, tf.float32])
    ds = tf.data.Dataset.from_tensor_slices(np.arange(4.0, dtype=np.float32)).map(
        lambda v: tf.py_function(lambda a: a + 1, [v], tf.float32))
    np.testing.assert_array_equal(list(ds.as_numpy_iterator()), [1, 2, 3, 4])


def test_vectorized_map_and_folds():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(tf.vectorized_map(lambda r: r * 2 + tf.reduce_sum(r), x),
                                  x * 2 + x.sum(axis=1, keepdims=True))
    pair = tf.vectorized_map(lambda e: (e[0] + e[1], e[0][:1]), (x, x))
    assert isinstance(pair, tuple) and pair[0].shape == (3, 4) and pair[1].shape == (3, 1)
    t = ad.Tensor(x.astype(np.float64))
    (g,) = ad.grad(tf.vectorized_map(lambda r: r * r, t), [t])
    np.testing.assert_array_equal(g, 2 * x)
    # TensorFlow's doc examples
    elems = tf.constant([1, 2, 3, 4, 5, 6])
    assert int(tf.foldl(lambda a, v: a + v, elems)) == 21
    assert int(tf.foldr(lambda a, v: a + v, elems)) == 21
    assert tf.foldl(lambda a, v: a + [int(v)], elems, initializer=[]) == [1, 2, 3, 4, 5, 6]
    assert tf.foldr(lambda a, v: a + [int(v)], elems, initializer=[]) == [6, 5, 4, 3, 2, 1]
    both = tf.foldl(lambda a, e: a + e[0] * e[1], (np.arange(3), np.arange(3)), initializer=0)
    assert int(both) == 5
    with pytest.raises(ValueError, match=r"tf\.foldl: elems is empty: give an initializer"):
        tf.foldl(lambda a, v: a + v, np.zeros(0))


def test_case_and_switch_case():
    x, y = tf.constant(1), tf.constant(2)
    assert int(tf.case([(tf.less(x, y), lambda: tf.constant(17))], default=lambda: tf.constant(23))) == 17
    assert int(tf.case([(tf.greater(x, y), lambda: tf.constant(17))], default=lambda: tf.constant(23))) == 23
    pairs = [(tf.less(x, y), lambda: 1), (tf.equal(x, 1), lambda: 2)]
    assert tf.case(pairs) == 1
    with pytest.raises(ValueError, match="More than one condition evaluated as True"):
        tf.case(pairs, exclusive=True)
    with pytest.raises(ValueError, match=r"tf\.case: None of the conditions evaluated as True"):
        tf.case([(tf.greater(x, y), lambda: 1)])
    assert tf.case([(tf.less(x, y), lambda: [5])]) == 5
    assert tf.case([(tf.less(x, y), lambda: [5])], strict=True) == [5]
    with pytest.raises(TypeError, match="must be a scalar bool"):
        tf.case([(1, lambda: 1)])
    # TensorFlow's doc example
    branches = {0: lambda: tf.constant(17), 1: lambda: tf.constant(31)}
    assert int(tf.switch_case(tf.constant(1), branch_fns=branches, default=lambda: tf.constant(-1))) == 31
    assert int(tf.switch_case(tf.constant(7), branch_fns=branches, default=lambda: tf.constant(-1))) == -1
    assert int(tf.switch_case(tf.constant(-3), branch_fns=branches)) == 31  # no default: the last branch
    assert tf.switch_case(0, [lambda: "a", lambda: "b"]) == "a"
    assert tf.switch_case(1, [(0, lambda: "a"), (1, lambda: "b")]) == "b"
    with pytest.raises(ValueError, match="must form contiguous range"):
        tf.switch_case(0, {0: lambda: 1, 2: lambda: 2})
    with pytest.raises(TypeError, match=r"tf\.switch_case: branch_index must be a scalar int"):
        tf.switch_case(0.5, [lambda: 1])


def test_dtypes_module():
    assert tf.dtypes.float32 is np.float32 and tf.dtypes.complex64 is np.complex64
    np.testing.assert_array_equal(tf.dtypes.cast([1.7, -1.7], tf.int32), [1, -1])
    assert tf.dtypes.complex(tf.constant([1.0]), tf.constant([2.0])).dtype == np.complex64
    assert tf.dtypes.as_dtype("float64") is np.float64


def test_dataset_shard():
    ds = tf.data.Dataset.range(10)
    assert list(ds.shard(num_shards=3, index=0).as_numpy_iterator()) == [0, 3, 6, 9]
    assert list(ds.shard(3, 2).as_numpy_iterator()) == [2, 5, 8]
    assert len(ds.shard(4, 3)) == 2 and int(ds.shard(3, 1).cardinality()) == 3
    batches = list(ds.batch(3).shard(2, 1).as_numpy_iterator())
    np.testing.assert_array_equal(batches[0], [3, 4, 5])
    np.testing.assert_array_equal(batches[1], [9])
    assert list(ds.repeat().shard(4, 1).take(4).as_numpy_iterator()) == [1, 5, 9, 3]
    with pytest.raises(ValueError, match=r"shard: `index` must be an integer in \[0, num_shards\)"):
        ds.shard(2, 2)
    with pytest.raises(ValueError, match="shard: `num_shards` must be a positive integer"):
        ds.shard(0, 0)
