"""TensorFlow / Keras 3 ops that keras.io examples and custom losses call: tf.roll, reverse, slice,
strided_slice, scatter_nd and tensor_scatter_nd_*, dynamic_partition, the segment reductions,
cumprod, squared_difference, l2_loss, reduce_euclidean_norm, depth_to_space / space_to_depth,
multiply_no_nan, atan2, tf.linalg (inv, det, slogdet, diag_part, diag, trace), tf.image (psnr, ssim,
total_variation, sobel_edges, resize_with_pad, extract_patches), and keras.ops (cumprod,
segment_sum / segment_max, slice_update, image.crop_images / pad_images / extract_patches). Values
against NumPy and TensorFlow's documented examples; gradients on a GradientTape against central
finite differences in float64."""

import builtins

import numpy as np
import pytest

import fastnn
import fastnn as tf
from fastnn import keras, ops
from helpers import finite_difference

RNG = np.random.default_rng(29)


def gradcheck(f, *inputs, rtol=1e-6, atol=1e-7):
    """The tape gradient of sum(w · f(*inputs)) for each input (tf.Variables, float64) equals central
    differences of f on the arrays."""
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    variables = [tf.Variable(x.copy()) for x in xs]
    with tf.GradientTape() as tape:
        y = f(*variables)
    w = RNG.uniform(0.5, 1.5, np.shape(y)) * RNG.choice([-1.0, 1.0], np.shape(y))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(f(*variables) * w)
    grads = tape.gradient(loss, variables)
    for i, (x, g) in enumerate(zip(xs, grads)):
        assert g is not None, f"no gradient for input {i}"

        def value(t, i=i):
            args = [t if j == i else xs[j] for j in builtins.range(len(xs))]
            return float(np.sum(w * np.asarray(f(*args))))

        np.testing.assert_allclose(np.asarray(g), finite_difference(value, x), rtol=rtol, atol=atol,
                                   err_msg=f"input {i}")


X = RNG.standard_normal((3, 4, 5))


# ---- registration -------------------------------------------------------------------------------


def test_names_resolve_and_builtins_stay_builtins():
    for name in ("roll", "reverse", "slice", "strided_slice", "scatter_nd", "tensor_scatter_nd_update",
                 "tensor_scatter_nd_add", "dynamic_partition", "eye"):
        assert callable(getattr(tf, name)), name
    for name in ("cumprod", "segment_sum", "unsorted_segment_sum", "squared_difference", "reduce_euclidean_norm",
                 "multiply_no_nan", "atan2"):
        assert callable(getattr(tf.math, name)), name
    assert tf.slice.__name__ == "slice" and "slice" not in fastnn.__all__
    from fastnn import _tensorflow
    assert _tensorflow.__dict__.get("slice") is None  # (the builtin is the module's `slice`)
    mask = np.array([True, False, True])
    np.testing.assert_array_equal(tf.boolean_mask(X[:, 0], mask), X[[0, 2], 0])  # (uses slice(None) inside)
    np.testing.assert_array_equal(tf.range(3), [0, 1, 2])
    for name in ("cumprod", "segment_sum", "segment_max", "slice_update"):
        assert callable(getattr(ops, name)) and callable(getattr(keras.ops, name)), name
    assert ops.numpy.cumprod is ops.cumprod
    for name in ("crop_images", "pad_images", "extract_patches"):
        assert callable(getattr(ops.image, name)), name
    assert hasattr(tf.roll(X, 1, 0), "numpy")  # (an eager tensor, as TensorFlow's)


# ---- roll, reverse, slice, strided_slice --------------------------------------------------------


def test_roll_reverse_slice_values():
    np.testing.assert_array_equal(tf.roll([0, 1, 2, 3, 4], shift=2, axis=0), [3, 4, 0, 1, 2])
    np.testing.assert_array_equal(tf.roll(X, [1, -2, 1], [0, 2, 0]), np.roll(X, [2, -2], [0, 2]))  # shifts add up
    np.testing.assert_array_equal(tf.reverse(X, [0, -1]), X[::-1, :, ::-1])
    np.testing.assert_array_equal(tf.reverse(X, []), X)
    np.testing.assert_array_equal(tf.slice(X, [1, 0, 2], [2, -1, 3]), X[1:3, :, 2:5])
    t = np.array([[[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [4, 4, 4]], [[5, 5, 5], [6, 6, 6]]], dtype=np.int32)
    np.testing.assert_array_equal(tf.slice(t, [1, 0, 0], [1, 1, 3]), [[[3, 3, 3]]])  # TensorFlow's docs
    np.testing.assert_array_equal(tf.slice(t, [1, 0, 0], [2, 1, 3]), [[[3, 3, 3]], [[5, 5, 5]]])
    assert tf.slice(t, [1, 0, 0], [1, 1, 3]).dtype == np.int32


@pytest.mark.parametrize("args, want", [
    (([1, 0, 0], [2, 1, 3], [1, 1, 1]), lambda t: t[1:2, 0:1, 0:3]),
    (([1, -1, 0], [2, -3, 3], [1, -1, 1]), lambda t: t[1:2, -1:-3:-1, 0:3]),  # TensorFlow's docs
    (([0, 0, 0], [99, 99, 99], [2, 3, -2]), lambda t: t[0:99:2, 0:99:3, 0:99:-2]),
])
def test_strided_slice_matches_python_slicing(args, want):
    np.testing.assert_array_equal(tf.strided_slice(X, *args), want(X))


def test_strided_slice_masks():
    ss = tf.strided_slice
    np.testing.assert_array_equal(ss(X, [1, 2, 3], [0, 0, 0], [1, 1, 1], begin_mask=0b010, end_mask=0b110),
                                  X[1:0, :, 3:])
    np.testing.assert_array_equal(ss(X, [-1, 0, 0], [0, 0, 0], [1, 1, 1], shrink_axis_mask=1, end_mask=0b110), X[-1])
    np.testing.assert_array_equal(ss(X, [0, 1], [0, 3], [1, 1], ellipsis_mask=1), X[..., 1:3])
    np.testing.assert_array_equal(ss(X, [0, 0, 2], [0, 0, 4], [1, 1, 1], ellipsis_mask=1, new_axis_mask=2),
                                  X[..., None, 2:4])
    np.testing.assert_array_equal(ss(X, [1, 2], [2, 3], [1, 1], shrink_axis_mask=0b11), X[1, 2])
    np.testing.assert_array_equal(ss(X, [0, 0], [0, 0], [1, 1], begin_mask=1, end_mask=1, new_axis_mask=2),
                                  X[:, None])


def test_slicing_gradients():
    gradcheck(lambda x: tf.roll(x, [1, -2], [0, 2]), X)
    gradcheck(lambda x: tf.reverse(x, [1, 2]), X)
    gradcheck(lambda x: tf.slice(x, [1, 0, 2], [2, -1, 2]), X)
    gradcheck(lambda x: tf.strided_slice(x, [2, 3, 0], [0, 0, 5], [-1, -2, 2]), X)
    gradcheck(lambda x: tf.strided_slice(x, [1, 0], [0, 3], [1, 1], shrink_axis_mask=1, new_axis_mask=0,
                                         ellipsis_mask=0) * 2, X)
    gradcheck(lambda x: tf.strided_slice(x, [0, 0, 1], [0, 0, 3], [1, 1, 1], ellipsis_mask=1, new_axis_mask=2), X)


def test_slicing_bad_inputs():
    with pytest.raises(ValueError, match=r"tf.reverse: axis must be a 1-D list"):
        tf.reverse(X, 0)
    with pytest.raises(ValueError, match=r"tf.reverse: axis 1 specified more than once"):
        tf.reverse(X, [1, -2])
    with pytest.raises(ValueError, match=r"tf.roll: shift and axis must have the same size"):
        tf.roll(X, [1, 2], [0])
    with pytest.raises(ValueError, match=r"tf.roll: axis 3 is out of range"):
        tf.roll(X, 1, 3)
    with pytest.raises(ValueError, match=r"tf.slice: Expected size\[1\] in \[0, 3\], but got 4"):
        tf.slice(X, [0, 1, 0], [1, 4, 1])
    with pytest.raises(ValueError, match=r"tf.slice: begin and size need one entry per axis"):
        tf.slice(X, [0, 1], [1, 1])
    with pytest.raises(ValueError, match=r"tf.strided_slice: strides\[1\] must be non-zero"):
        tf.strided_slice(X, [0, 0], [1, 1], [1, 0])
    with pytest.raises(ValueError, match=r"tf.strided_slice: slice index 7 of dimension 1 out of bounds"):
        tf.strided_slice(X, [0, 7], [1, 8], [1, 1], shrink_axis_mask=2)
    with pytest.raises(ValueError, match=r"tf.strided_slice: Expected begin, end, and strides"):
        tf.strided_slice(X, [0, 0], [1], [1, 1])


# ---- scatters and partitions --------------------------------------------------------------------


def test_scatter_values():
    # TensorFlow's docs
    np.testing.assert_array_equal(tf.scatter_nd([[4], [3], [1], [7]], [9, 10, 11, 12], [8]),
                                  [0, 11, 0, 10, 9, 0, 0, 12])
    updates = np.array([[[5, 5, 5, 5], [6, 6, 6, 6], [7, 7, 7, 7], [8, 8, 8, 8]],
                        [[5, 5, 5, 5], [6, 6, 6, 6], [7, 7, 7, 7], [8, 8, 8, 8]]])
    got = tf.scatter_nd([[0], [2]], updates, [4, 4, 4])
    want = np.zeros((4, 4, 4), int)
    want[0], want[2] = updates[0], updates[1]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(tf.scatter_nd([[1], [1]], np.array([1.0, 2.0]), [3]), [0, 3, 0])  # repeats add
    tensor = np.arange(1, 9)
    np.testing.assert_array_equal(tf.tensor_scatter_nd_update(tensor, [[4], [3], [1], [7]], [9, 10, 11, 12]),
                                  [1, 11, 3, 10, 9, 6, 7, 12])
    np.testing.assert_array_equal(tf.tensor_scatter_nd_add(tensor, [[4], [3], [1], [7]], [9, 10, 11, 12]),
                                  [1, 13, 3, 14, 14, 6, 7, 20])
    np.testing.assert_array_equal(tf.tensor_scatter_nd_sub(tensor, [[1], [1]], [1, 1]), [1, 0, 3, 4, 5, 6, 7, 8])
    m = np.zeros((3, 3), np.float32)
    np.testing.assert_array_equal(tf.tensor_scatter_nd_update(m, [[0, 1], [2, 2]], [5.0, 6.0]),
                                  [[0, 5, 0], [0, 0, 0], [0, 0, 6]])
    assert tf.tensor_scatter_nd_update(m, [[0, 1]], [5.0]).dtype == np.float32


def test_dynamic_partition_values():
    parts = tf.dynamic_partition([10, 20, 30, 40, 50], [0, 0, 1, 1, 0], 2)  # TensorFlow's docs
    assert [p.tolist() for p in parts] == [[10, 20, 50], [30, 40]]
    data = np.arange(12.0).reshape(2, 3, 2)
    parts = tf.dynamic_partition(data, np.array([[1, 0, 1], [2, 2, 0]]), 3)
    np.testing.assert_array_equal(parts[0], data[[0, 1], [1, 2]])
    np.testing.assert_array_equal(parts[1], data[[0, 0], [0, 2]])
    np.testing.assert_array_equal(parts[2], data[1, :2])


def test_scatter_and_partition_gradients():
    idx = [[0, 1], [2, 0], [0, 1]]  # (a repeated index)
    u = RNG.standard_normal((3, 4))
    gradcheck(lambda v: tf.scatter_nd(idx, v, [3, 2, 4]), u)
    t = RNG.standard_normal((3, 2, 4))
    gradcheck(lambda a, b: tf.tensor_scatter_nd_update(a, [[0, 1], [2, 0]], b), t, u[:2])
    gradcheck(lambda a, b: tf.tensor_scatter_nd_add(a, idx, b), t, u)
    gradcheck(lambda a, b: tf.tensor_scatter_nd_sub(a, idx, b), t, u)
    gradcheck(lambda x: tf.dynamic_partition(x, [1, 0, 1], 2)[1] * 3, t)


def test_scatter_bad_inputs():
    with pytest.raises(ValueError, match=r"tf.scatter_nd: indices\[1\] = \[8\] does not index into shape \[8\]"):
        tf.scatter_nd([[4], [8]], [1, 2], [8])
    with pytest.raises(ValueError, match=r"tf.scatter_nd: updates must have shape .* \(2,\)"):
        tf.scatter_nd([[4], [3]], [1, 2, 3], [8])
    with pytest.raises(ValueError, match=r"tf.tensor_scatter_nd_update: indices must be integers"):
        tf.tensor_scatter_nd_update(np.zeros(3), [[0.5]], [1.0])
    with pytest.raises(TypeError, match=r"tf.tensor_scatter_nd_add: updates must have the tensor's dtype"):
        tf.tensor_scatter_nd_add(np.zeros(3), [[0]], np.array([1]))
    with pytest.raises(ValueError, match=r"tf.dynamic_partition: partitions\[2\] = 2 is not in \[0, 2\)"):
        tf.dynamic_partition([1, 2, 3], [0, 1, 2], 2)


# ---- segments, cumulative products and sums -----------------------------------------------------


def _segments_numpy(kind, data, ids, num, empty):
    out = []
    for s in builtins.range(num):
        rows = data[ids == s]
        if not len(rows):
            out.append(np.full(data.shape[ids.ndim:], empty, dtype=data.dtype))
            continue
        reduce = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}[kind]
        out.append(reduce(rows, axis=0))
    return np.array(out, dtype=data.dtype)


def test_segment_values():
    c = np.array([[1, 2, 3, 4], [4, 3, 2, 1], [5, 6, 7, 8]])
    np.testing.assert_array_equal(tf.math.segment_sum(c, [0, 0, 1]), [[5, 5, 5, 5], [5, 6, 7, 8]])  # TF's docs
    np.testing.assert_array_equal(tf.math.unsorted_segment_sum([[1, 2, 3, 4], [5, 6, 7, 8], [4, 3, 2, 1]], [0, 1, 0],
                                                               num_segments=2), [[5, 5, 5, 5], [5, 6, 7, 8]])
    data = RNG.standard_normal((6, 3))
    ids = np.array([0, 0, 1, 3, 3, 3])
    for kind in ("sum", "mean", "max", "min", "prod"):
        got = getattr(tf.math, f"segment_{kind}")(data, ids)
        np.testing.assert_allclose(got, _segments_numpy(kind, data, ids, 4, 1 if kind == "prod" else 0), rtol=1e-12)
    shuffled = np.array([3, 0, -1, 3, 1, 0])  # (a negative id is dropped)
    lowest = np.finfo(data.dtype).min  # (TensorFlow's numeric_limits<T>::lowest(): finite)
    for kind, empty in (("sum", 0), ("mean", 0), ("max", lowest), ("min", -lowest), ("prod", 1)):
        got = getattr(tf.math, f"unsorted_segment_{kind}")(data, shuffled, 5)
        np.testing.assert_allclose(got, _segments_numpy(kind, data, shuffled, 5, empty), rtol=1e-12)
    got = tf.math.unsorted_segment_sqrt_n(data, shuffled, 5)
    np.testing.assert_allclose(got[3], data[[0, 3]].sum(0) / np.sqrt(2), rtol=1e-12)
    two_d = tf.math.unsorted_segment_sum(np.arange(12.0).reshape(2, 3, 2), np.array([[0, 1, 0], [1, 1, 0]]), 2)
    np.testing.assert_array_equal(two_d, [[0 + 4 + 10, 1 + 5 + 11], [2 + 6 + 8, 3 + 7 + 9]])
    # keras.ops: the number of segments from the largest id by default (Keras's docs example)
    np.testing.assert_array_equal(ops.segment_sum(np.array([1, 2, 10, 20, 100, 200]), np.array([0, 0, 1, 1, 2, 2])),
                                  [3, 30, 300])
    np.testing.assert_array_equal(ops.segment_max(np.array([1.0, 5.0, 3.0]), np.array([0, 0, 2]), num_segments=4),
                                  [5.0, lowest, 3.0, lowest])  # (Keras on TensorFlow: its lowest)


def test_segment_gradients():
    data = RNG.standard_normal((6, 3))
    data[1] = data[0]  # (ties: max and min share the gradient)
    ids = np.array([0, 0, 1, 3, 3, 3])
    for kind in ("sum", "mean", "max", "min", "prod"):
        gradcheck(lambda d: getattr(tf.math, f"segment_{kind}")(d, ids), data)
    with_zeros = data.copy()
    with_zeros[3, 0] = with_zeros[4, 0] = with_zeros[5, 1] = 0.0
    gradcheck(lambda d: tf.math.unsorted_segment_prod(d, [3, 0, 1, 2, 2, 2], 4), with_zeros)
    for kind in ("sum", "mean", "max", "sqrt_n"):
        gradcheck(lambda d: getattr(tf.math, f"unsorted_segment_{kind}")(d, [2, 0, -1, 2, 1, 0], 3), RNG.random((6, 2)))
    gradcheck(lambda d: ops.segment_sum(d, np.array([1, 0, 1])) * 2, RNG.random((3, 2)))
    gradcheck(lambda d: ops.segment_max(d, np.array([1, 0, 1])), RNG.random((3, 2)))


def test_segment_bad_inputs():
    with pytest.raises(ValueError, match=r"tf.math.segment_sum: segment ids must be >= 0 and sorted"):
        tf.math.segment_sum(np.ones((3, 2)), [1, 0, 1])
    with pytest.raises(ValueError, match=r"tf.math.segment_max: segment_ids should be a 1-D integer tensor"):
        tf.math.segment_max(np.ones((3, 2)), [0, 1])
    with pytest.raises(ValueError, match=r"tf.math.unsorted_segment_sum: segment_ids\[1\] = 3 is out of range \[0, 3\)"):
        tf.math.unsorted_segment_sum(np.ones((3, 2)), [0, 3, 1], 3)
    with pytest.raises(TypeError, match=r"ops.segment_sum: segment_ids must be integers"):
        ops.segment_sum(np.ones(3), np.array([0.0, 1.0, 1.0]))


def test_cumulative_products_and_sums():
    x = np.array([2.0, 3.0, 4.0, 5.0])
    cp = tf.math.cumprod
    np.testing.assert_array_equal(cp(x), [2, 6, 24, 120])
    np.testing.assert_array_equal(cp(x, exclusive=True), [1, 2, 6, 24])  # TensorFlow's docs' pattern
    np.testing.assert_array_equal(cp(x, reverse=True), [120, 60, 20, 5])
    np.testing.assert_array_equal(cp(x, exclusive=True, reverse=True), [60, 20, 5, 1])
    np.testing.assert_array_equal(cp(X, axis=-2), np.cumprod(X, axis=1))
    np.testing.assert_array_equal(tf.math.cumsum(x, exclusive=True), [0, 2, 5, 9])
    np.testing.assert_array_equal(tf.math.cumsum(x, exclusive=True, reverse=True), [12, 9, 5, 0])
    np.testing.assert_array_equal(ops.cumprod(np.array([[1, 2], [3, 4]])), [1, 2, 6, 24])  # (axis None: flattened)
    np.testing.assert_array_equal(ops.cumprod(np.array([[1, 2], [3, 4]]), axis=0), [[1, 2], [3, 8]])
    assert ops.cumprod(np.ones(3, np.int8)).dtype == np.int32  # (Keras's accumulation dtype, as ops.cumsum)
    with pytest.raises(ValueError, match=r"tf.math.cumprod: axis 2 is out of range"):
        cp(np.ones((2, 2)), axis=2)


def test_cumulative_gradients_are_exact_at_zeros():
    x = np.array([[2.0, 0.0, 3.0, 0.5], [1.0, -2.0, 0.0, 0.0]])
    for exclusive in (False, True):
        for reverse in (False, True):
            gradcheck(lambda t: tf.math.cumprod(t, axis=1, exclusive=exclusive, reverse=reverse), x)
            gradcheck(lambda t: tf.math.cumsum(t, axis=1, exclusive=exclusive, reverse=reverse), x)
    gradcheck(lambda t: tf.math.cumprod(t, axis=0), X[:, :2, :2])
    gradcheck(lambda t: ops.cumprod(t), x)


# ---- elementwise and reductions -----------------------------------------------------------------


def test_elementwise_and_reductions():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4,))
    np.testing.assert_allclose(tf.math.squared_difference(a, b), (a - b) ** 2)
    assert tf.math.squared_difference(np.float32([1.0]), 3.0).dtype == np.float32
    assert tf.nn.l2_loss(np.float32([1.0, 2.0, 3.0])) == np.float32(7.0)
    assert tf.nn.l2_loss(np.float32([1.0, 2.0])).dtype == np.float32
    np.testing.assert_allclose(tf.math.reduce_euclidean_norm(a, axis=1), np.linalg.norm(a, axis=1))
    np.testing.assert_array_equal(tf.math.reduce_euclidean_norm([[1, 2, 3], [1, 1, 1]]), 4)  # TF's docs: int
    np.testing.assert_array_equal(tf.math.reduce_euclidean_norm([[1, 2, 3], [1, 1, 1]], 1), [3, 1])
    assert tf.math.reduce_euclidean_norm(a, [0, 1], keepdims=True).shape == (1, 1)
    np.testing.assert_allclose(tf.math.atan2(a, b), np.arctan2(a, b))
    got = tf.math.multiply_no_nan(np.array([np.nan, np.inf, 2.0, np.nan]), np.array([0.0, 0.0, 3.0, 1.0]))
    np.testing.assert_array_equal(got, [0, 0, 6, np.nan])
    gradcheck(tf.math.squared_difference, a, b)
    gradcheck(tf.nn.l2_loss, a)
    gradcheck(lambda t: tf.math.reduce_euclidean_norm(t, axis=0), a)
    gradcheck(tf.math.atan2, a, b + 2.0)
    gradcheck(tf.math.multiply_no_nan, a, np.where(np.abs(a) < 0.5, 0.0, b))
    with pytest.raises(TypeError, match=r"tf.nn.l2_loss: t must be floats"):
        tf.nn.l2_loss(np.array([1, 2]))


def test_multiply_no_nan_gradient_is_zero_where_y_is_zero():
    x = tf.Variable(np.array([np.nan, 2.0]))
    y = tf.Variable(np.array([0.0, 3.0]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.math.multiply_no_nan(x, y))
    dx, dy = tape.gradient(loss, [x, y])
    np.testing.assert_array_equal(dx, [0.0, 3.0])
    np.testing.assert_array_equal(dy[1], 2.0)


# ---- depth_to_space / space_to_depth ------------------------------------------------------------


def test_depth_to_space_matches_tensorflow_docs():
    x4 = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 1, 4)
    np.testing.assert_array_equal(tf.nn.depth_to_space(x4, 2), [[[[1], [2]], [[3], [4]]]])
    x12 = np.arange(1, 13, dtype=np.float32).reshape(1, 1, 1, 12)
    np.testing.assert_array_equal(tf.nn.depth_to_space(x12, 2), [[[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]])
    x16 = np.arange(1, 17, dtype=np.float32).reshape(1, 2, 2, 4)
    np.testing.assert_array_equal(tf.nn.depth_to_space(x16, 2)[0, ..., 0],
                                  [[1, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]])
    np.testing.assert_array_equal(tf.nn.space_to_depth(tf.nn.depth_to_space(x16, 2), 2), x16)
    np.testing.assert_array_equal(tf.nn.space_to_depth(np.array([[[[1], [2]], [[3], [4]]]]), 2), [[[[1, 2, 3, 4]]]])
    nchw = tf.nn.depth_to_space(x16.transpose(0, 3, 1, 2), 2, data_format="NCHW")
    np.testing.assert_array_equal(nchw, np.asarray(tf.nn.depth_to_space(x16, 2)).transpose(0, 3, 1, 2))


def test_depth_to_space_gradients_and_errors():
    gradcheck(lambda t: tf.nn.depth_to_space(t, 2), RNG.standard_normal((2, 2, 3, 8)))
    gradcheck(lambda t: tf.nn.space_to_depth(t, 2), RNG.standard_normal((1, 4, 2, 3)))
    with pytest.raises(ValueError, match=r"tf.nn.depth_to_space: the channels \(6\) must be evenly divisible by"):
        tf.nn.depth_to_space(np.zeros((1, 2, 2, 6)), 2)
    with pytest.raises(ValueError, match=r"tf.nn.space_to_depth: Image height 3 and width 4 should be divisible"):
        tf.nn.space_to_depth(np.zeros((1, 3, 4, 1)), 2)
    with pytest.raises(ValueError, match=r"tf.nn.depth_to_space: block_size must be an int of at least 2"):
        tf.nn.depth_to_space(np.zeros((1, 2, 2, 4)), 1)
    with pytest.raises(ValueError, match=r"tf.nn.depth_to_space: input must be 4-D"):
        tf.nn.depth_to_space(np.zeros((2, 2, 4)), 2)


def test_depth_to_space_in_a_functional_model():
    # keras.io's sub-pixel super-resolution model ends with tf.nn.depth_to_space
    inputs = keras.Input((4, 5, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    outputs = tf.nn.depth_to_space(x, 2)
    model = keras.Model(inputs, outputs)
    assert tuple(model.output_shape) == (None, 8, 10, 1)
    data = RNG.random((2, 4, 5, 1)).astype(np.float32)
    conv = keras.Model(inputs, x).predict(data, verbose=0)
    np.testing.assert_allclose(model.predict(data, verbose=0), tf.nn.depth_to_space(conv, 2), rtol=1e-6)


def test_watched_constant_records():
    x = tf.constant(RNG.standard_normal((2, 3)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.roll(x, 1, 1) * np.arange(3.0))
    np.testing.assert_array_equal(tape.gradient(y, x), np.tile([1.0, 2.0, 0.0], (2, 1)))


# ---- tf.linalg ----------------------------------------------------------------------------------


def test_linalg_values_and_gradients():
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    np.testing.assert_allclose(tf.linalg.inv(a), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(tf.linalg.inv(a, adjoint=True), np.linalg.inv(a.transpose(0, 2, 1)), rtol=1e-12)
    np.testing.assert_allclose(tf.linalg.det(a), np.linalg.det(a), rtol=1e-12)
    sign, logabs = tf.linalg.slogdet(a)
    np.testing.assert_allclose(sign * np.exp(logabs), np.linalg.det(a), rtol=1e-12)
    m = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(tf.linalg.diag_part(m), [0, 5, 10])
    np.testing.assert_array_equal(tf.linalg.diag_part(m, k=1), [1, 6, 11])
    np.testing.assert_array_equal(tf.linalg.diag_part(m, k=-1), [4, 9])
    np.testing.assert_array_equal(tf.linalg.trace(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])), 15)  # TF's docs
    np.testing.assert_array_equal(tf.linalg.diag([[1, 2], [3, 4]]), [[[1, 0], [0, 2]], [[3, 0], [0, 4]]])
    assert tf.eye(2, 3, batch_shape=[4]).shape == (4, 2, 3) and tf.eye(2).dtype == np.float32
    spd = a @ a.transpose(0, 2, 1)
    np.testing.assert_allclose(tf.linalg.logdet(spd), np.log(np.linalg.det(spd)), rtol=1e-10)
    gradcheck(tf.linalg.inv, a, rtol=1e-5)
    gradcheck(lambda t: tf.linalg.inv(t, adjoint=True), a, rtol=1e-5)
    gradcheck(tf.linalg.det, a, rtol=1e-5)
    gradcheck(lambda t: tf.linalg.slogdet(t)[1], a, rtol=1e-5)
    gradcheck(lambda t: tf.linalg.diag_part(t, k=-1), RNG.standard_normal((2, 3, 4)))
    gradcheck(tf.linalg.trace, RNG.standard_normal((2, 3, 4)))
    gradcheck(tf.linalg.diag, RNG.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"tf.linalg.inv: Input is not invertible"):
        tf.linalg.inv(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"tf.linalg.det: input must be float square matrices"):
        tf.linalg.det(np.ones((2, 3)))


# ---- tf.image -----------------------------------------------------------------------------------


def _gaussian_window(size, sigma):
    coords = np.arange(size) - (size - 1) / 2
    g = np.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _ssim_numpy(x, y, max_val, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """TensorFlow's SSIM written out: each window position's statistics by explicit sums."""
    win = _gaussian_window(size, sigma)
    n, h, w, c = x.shape
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    out = np.zeros(n)
    for b in builtins.range(n):
        values = []
        for i in builtins.range(h - size + 1):
            for j in builtins.range(w - size + 1):
                px, py = x[b, i:i + size, j:j + size], y[b, i:i + size, j:j + size]
                mx, my = np.einsum("ij,ijc->c", win, px), np.einsum("ij,ijc->c", win, py)
                sxx = np.einsum("ij,ijc->c", win, px * px) - mx * mx
                syy = np.einsum("ij,ijc->c", win, py * py) - my * my
                sxy = np.einsum("ij,ijc->c", win, px * py) - mx * my
                values.append((2 * mx * my + c1) / (mx * mx + my * my + c1) * (2 * sxy + c2) / (sxx + syy + c2))
        out[b] = np.mean(values)
    return out


def test_psnr_and_ssim_values():
    a = RNG.random((2, 13, 12, 3))
    b = np.clip(a + 0.05 * RNG.standard_normal(a.shape), 0, 1)
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(tf.image.psnr(a, b, max_val=1.0), 10 * np.log10(1.0 / mse), rtol=1e-12)
    np.testing.assert_allclose(tf.image.psnr(a, b, max_val=2.0), 10 * np.log10(4.0 / mse), rtol=1e-12)
    assert np.all(np.isinf(tf.image.psnr(a, a, 1.0)))  # (identical images)
    np.testing.assert_allclose(tf.image.ssim(a, a, 1.0), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(tf.image.ssim(a, b, 1.0), _ssim_numpy(a, b, 1.0), rtol=1e-10)
    np.testing.assert_allclose(tf.image.ssim(a, b, 1.0, filter_size=5, filter_sigma=1.0, k1=0.02),
                               _ssim_numpy(a, b, 1.0, 5, 1.0, 0.02), rtol=1e-10)
    assert tf.image.ssim(a, b, 1.0, return_index_map=True).shape == (2, 3, 2)
    assert tf.image.ssim(a[0], b[0], 1.0).shape == ()
    # uint8 images and max_val 255 are scaled to [0, 1] first, as TensorFlow's convert_image_dtype
    u, v = (a * 255).astype(np.uint8), (b * 255).astype(np.uint8)
    np.testing.assert_allclose(tf.image.psnr(u, v, 255), tf.image.psnr(u / 255.0, v / 255.0, 1.0), rtol=1e-5)
    np.testing.assert_allclose(tf.image.ssim(u, v, 255), tf.image.ssim(u / 255.0, v / 255.0, 1.0), rtol=1e-5)
    f32 = a.astype(np.float32)
    assert tf.image.psnr(f32, b.astype(np.float32), 1.0).dtype == np.float32
    assert tf.image.ssim(f32, b.astype(np.float32), 1.0).dtype == np.float32


def test_psnr_and_ssim_gradients():
    a, b = RNG.random((1, 11, 12, 2)), RNG.random((1, 11, 12, 2))
    gradcheck(lambda x: tf.image.psnr(x, b, 1.0), a, rtol=1e-5)
    gradcheck(lambda x: tf.image.ssim(x, b[..., :1], 1.0), a[..., :1], rtol=1e-5)
    gradcheck(lambda x: tf.image.ssim(a[:, :5, :6], x, 1.0, filter_size=3, return_index_map=True), b[:, :5, :6], rtol=1e-5)


def test_image_errors():
    with pytest.raises(ValueError, match=r"image.ssim: img1 has dimensions less than filter_size"):
        tf.image.ssim(np.zeros((8, 8, 1)), np.zeros((8, 8, 1)), 1.0)
    with pytest.raises(ValueError, match=r"image.psnr: expected two images .* of one size"):
        tf.image.psnr(np.zeros((8, 8, 1)), np.zeros((8, 7, 1)), 1.0)
    with pytest.raises(ValueError, match=r"image.total_variation: 'images' must be either 3 or 4-dimensional"):
        tf.image.total_variation(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"image.sobel_edges: expected a batch of images"):
        tf.image.sobel_edges(np.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match=r"image.extract_patches: sizes must be \[1, rows, cols, 1\]"):
        tf.image.extract_patches(np.zeros((1, 8, 8, 1)), [2, 2], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    with pytest.raises(ValueError, match=r"image.extract_patches: padding must be 'VALID' or 'SAME'"):
        tf.image.extract_patches(np.zeros((1, 8, 8, 1)), [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "FULL")


def test_total_variation_and_sobel():
    img = RNG.random((2, 5, 6, 3))
    want = np.abs(np.diff(img, axis=1)).sum(axis=(1, 2, 3)) + np.abs(np.diff(img, axis=2)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(tf.image.total_variation(img), want, rtol=1e-12)
    np.testing.assert_allclose(tf.image.total_variation(img[0]), want[0], rtol=1e-12)
    ramp = np.tile(np.arange(5.0), (4, 1))[None, :, :, None]  # value = column
    edges = np.asarray(tf.image.sobel_edges(ramp))
    assert edges.shape == (1, 4, 5, 1, 2)
    np.testing.assert_array_equal(edges[..., 0], 0)  # dy: no vertical change
    np.testing.assert_array_equal(edges[0, :, :, 0, 1], np.tile([0, 8, 8, 8, 0], (4, 1)))  # reflected borders
    gradcheck(tf.image.total_variation, img + np.arange(6.0)[:, None] * 0.01)
    gradcheck(tf.image.sobel_edges, img[:1])


def _patches_numpy(x, k, s, r):
    n, h, w, c = x.shape
    span = [(k[i] - 1) * r[i] + 1 for i in (0, 1)]
    oh, ow = (h - span[0]) // s[0] + 1, (w - span[1]) // s[1] + 1
    out = np.zeros((n, oh, ow, k[0] * k[1] * c))
    for i in builtins.range(oh):
        for j in builtins.range(ow):
            block = x[:, i * s[0]:i * s[0] + span[0]:r[0], j * s[1]:j * s[1] + span[1]:r[1], :]
            out[:, i, j] = block.reshape(n, -1)
    return out


def test_extract_patches():
    x = RNG.random((2, 7, 8, 3))
    got = tf.image.extract_patches(x, [1, 3, 2, 1], [1, 2, 3, 1], [1, 2, 1, 1], "VALID")
    np.testing.assert_array_equal(got, _patches_numpy(x, (3, 2), (2, 3), (2, 1)))
    # SAME: zero padding, the extra one after (TensorFlow's); here 1 row and 1 column after
    same = tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "SAME")
    padded = np.pad(x, ((0, 0), (0, 1), (0, 0), (0, 0)))
    np.testing.assert_array_equal(same, _patches_numpy(padded, (2, 2), (2, 2), (1, 1)))
    # TensorFlow's docs: a 10x10 image of 1..100, 3x3 patches every 5 pixels
    image = np.arange(1, 101).reshape(1, 10, 10, 1)
    patches = tf.image.extract_patches(image, [1, 3, 3, 1], [1, 5, 5, 1], [1, 1, 1, 1], "VALID")
    np.testing.assert_array_equal(patches[0, 0, 0], [1, 2, 3, 11, 12, 13, 21, 22, 23])
    np.testing.assert_array_equal(patches[0, 1, 1], [56, 57, 58, 66, 67, 68, 76, 77, 78])
    assert patches.dtype == image.dtype
    # keras.ops.image.extract_patches: strides default to the size, unbatched and channels_first too
    np.testing.assert_array_equal(ops.image.extract_patches(x, 2), _patches_numpy(x, (2, 2), (2, 2), (1, 1)))
    np.testing.assert_array_equal(ops.image.extract_patches(x[0], (3, 2), strides=1),
                                  _patches_numpy(x[:1], (3, 2), (1, 1), (1, 1))[0])
    cf = ops.image.extract_patches(x.transpose(0, 3, 1, 2), 2, data_format="channels_first")
    np.testing.assert_array_equal(cf, _patches_numpy(x, (2, 2), (2, 2), (1, 1)).transpose(0, 3, 1, 2))
    gradcheck(lambda t: tf.image.extract_patches(t, [1, 3, 3, 1], [1, 2, 1, 1], [1, 1, 2, 1], "SAME"), x[:1, :5, :6])


def test_keras_crop_and_pad_images():
    x = RNG.random((2, 7, 8, 3))
    np.testing.assert_array_equal(ops.image.crop_images(x, 1, 2, target_height=4, target_width=5), x[:, 1:5, 2:7])
    np.testing.assert_array_equal(ops.image.crop_images(x, top_cropping=1, bottom_cropping=2, left_cropping=0,
                                                        right_cropping=3), x[:, 1:5, 0:5])
    np.testing.assert_array_equal(ops.image.crop_images(x[0], bottom_cropping=1, target_height=3, right_cropping=1,
                                                        target_width=2), x[0, 3:6, 5:7])
    padded = ops.image.pad_images(x, 1, 2, target_height=10, target_width=11)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (1, 2), (2, 1), (0, 0))))
    cf = ops.image.pad_images(x.transpose(0, 3, 1, 2), 0, 1, bottom_padding=2, right_padding=0,
                              data_format="channels_first")
    np.testing.assert_array_equal(cf, np.pad(x, ((0, 0), (0, 2), (1, 0), (0, 0))).transpose(0, 3, 1, 2))
    gradcheck(lambda t: ops.image.pad_images(t, 1, 1, 1, 1), x[:1, :3, :3])
    gradcheck(lambda t: ops.image.crop_images(t, 1, 1, 1, 2), x[:1])
    with pytest.raises(ValueError, match=r"Must specify exactly two of top_cropping, bottom_cropping, target_height"):
        ops.image.crop_images(x, 1, 1, bottom_cropping=1, target_height=2, target_width=3)
    with pytest.raises(ValueError, match=r"target_height must be >= 0"):
        ops.image.crop_images(x, 5, 0, bottom_cropping=4, right_cropping=0)
    with pytest.raises(ValueError, match=r"top_padding must be >= 0"):
        ops.image.pad_images(x, bottom_padding=1, target_height=7, left_padding=0, right_padding=0)


def test_resize_with_pad():
    img = RNG.random((4, 8, 3)).astype(np.float32)
    out = np.asarray(tf.image.resize_with_pad(img, 8, 8))
    assert out.shape == (8, 8, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:2], 0)
    np.testing.assert_array_equal(out[6:], 0)
    np.testing.assert_allclose(out[2:6], img, rtol=1e-6)  # (same size: the resize keeps the values)
    out = np.asarray(tf.image.resize_with_pad(img[None], 6, 16))
    assert out.shape == (1, 6, 16, 3)
    np.testing.assert_array_equal(out[0, :, :2], 0)  # resized to 6x12 (by 3/2), 2 columns either side
    np.testing.assert_array_equal(out[0, :, 14:], 0)
    assert np.all(out[0, :, 2:14].sum(-1) > 0)


# ---- keras.ops.slice_update ---------------------------------------------------------------------


def test_slice_update():
    x = np.zeros((3, 4))
    got = ops.slice_update(x, (1, 2), np.ones((2, 2)))
    want = x.copy()
    want[1:3, 2:4] = 1
    np.testing.assert_array_equal(got, want)
    gradcheck(lambda a, b: ops.slice_update(a, (0, 1), b) * 2, RNG.random((3, 4)), RNG.random((2, 2)))
    with pytest.raises(ValueError, match=r"ops.slice_update: updates of shape \(2, 2\) at start_indices \(2, 1\)"):
        ops.slice_update(x, (2, 1), np.ones((2, 2)))
