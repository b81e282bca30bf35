"""TensorFlow's names for fastnn's ops (`fastnn._tensorflow`), as a TF 2 script calls them after
``import fastnn as tf``: TF's argument names and defaults, values checked against NumPy, and the
gradient through a tape the same as through the `fastnn.ops` function each one is."""

import math

import numpy as np
import pytest

import fastnn
import fastnn as tf
from fastnn import ops

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5)).astype("float32")


def test_not_exported_by_star_import():
    # tf.print, tf.range, tf.abs, tf.round and tf.bool must not shadow builtins after `from fastnn import *`
    for name in ("print", "range", "abs", "round", "bool", "pow"):
        assert name not in fastnn.__all__
    assert fastnn.info()["openmp"] in (True, False)  # info's bool() is the builtin, not tf.bool


def test_dtypes_are_numpy_dtypes():
    assert tf.float32 is np.float32 and tf.int64 is np.int64 and tf.bool is np.bool_
    assert tf.zeros((2,), dtype=tf.int32).dtype == np.int32
    assert tf.newaxis is None and X[:, tf.newaxis].shape == (4, 1, 5)


def test_function_is_the_function_itself():
    def step(x):
        return x + 1

    assert tf.function(step) is step
    assert tf.function(jit_compile=True)(step) is step

    @tf.function
    def decorated(x):
        return 2 * x

    assert decorated(3) == 6


def test_shape_size_rank():
    s = tf.shape(X)
    assert s.dtype == np.int32 and s.tolist() == [4, 5] and tf.shape(X)[0] == 4
    assert tf.size(X) == 20 and tf.size(X).dtype == np.int32 and tf.rank(X) == 2
    assert tf.shape(fastnn.Input(shape=(3,))) == (None, 3)  # a symbolic tensor: the batch axis unknown
    assert tf.reshape(X, tf.shape(X)[::-1]).shape == (5, 4)  # a shape from tf.shape


def test_creation():
    assert tf.ones((2, 3)).dtype == np.float32 and tf.ones((2, 3)).sum() == 6
    assert tf.zeros(4).tolist() == [0, 0, 0, 0]
    assert tf.ones_like(X).shape == X.shape and tf.zeros_like(X, dtype=tf.int32).dtype == np.int32
    np.testing.assert_array_equal(tf.fill((2, 2), 7.5), np.full((2, 2), 7.5, np.float32))
    assert tf.fill((2, 2), 7.5).dtype == np.float32
    assert tf.constant(1.5).dtype == np.float32 and tf.constant(3).dtype == np.int32
    np.testing.assert_array_equal(tf.constant(0.5, shape=(2, 3)), np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(tf.constant([1, 2, 3, 4], shape=(2, 2)), [[1, 2], [3, 4]])
    assert tf.convert_to_tensor(np.ones(2)).dtype == np.float64  # an array keeps its dtype
    assert tf.convert_to_tensor([1.0, 2.0]).dtype == np.float32
    np.testing.assert_array_equal(tf.range(5), np.arange(5))
    np.testing.assert_array_equal(tf.range(1, 10, 3), [1, 4, 7])
    assert tf.cast(X, tf.float64).dtype == np.float64 and tf.cast(X > 0, tf.float32).dtype == np.float32


def test_joining_and_reshaping():
    np.testing.assert_array_equal(tf.concat([X, X], axis=0), np.concatenate([X, X]))
    np.testing.assert_array_equal(tf.concat([X, X], -1), np.concatenate([X, X], -1))
    np.testing.assert_array_equal(tf.stack([X, X], axis=1), np.stack([X, X], 1))
    assert [a.shape for a in tf.split(X, [1, 4], axis=1)] == [(4, 1), (4, 4)]
    assert [a.shape for a in tf.split(X, 2)] == [(2, 5), (2, 5)]
    assert len(tf.unstack(X)) == 4
    np.testing.assert_array_equal(tf.transpose(X), X.T)
    np.testing.assert_array_equal(tf.transpose(X[None], perm=[2, 0, 1]), X[None].transpose(2, 0, 1))
    assert tf.expand_dims(X, -1).shape == (4, 5, 1) and tf.squeeze(X[None, :, None]).shape == (4, 5)
    np.testing.assert_array_equal(tf.tile(X, [2, 1]), np.tile(X, (2, 1)))
    np.testing.assert_array_equal(tf.pad(X, [[1, 0], [0, 2]]), np.pad(X, [(1, 0), (0, 2)]))
    np.testing.assert_array_equal(tf.gather(X, [3, 0]), X[[3, 0]])
    np.testing.assert_array_equal(tf.gather(X, [1], axis=1), X[:, [1]])
    np.testing.assert_array_equal(tf.boolean_mask(X, X > 0), X[X > 0])
    np.testing.assert_array_equal(tf.where(X > 0, X, tf.zeros_like(X)), np.maximum(X, 0))
    np.testing.assert_array_equal(tf.clip_by_value(X, -0.5, 0.5), np.clip(X, -0.5, 0.5))
    with pytest.raises(ValueError, match="fastnn.gather: batch_dims other than 0 is not supported"):
        tf.gather(X, [[0]], batch_dims=1)


def test_one_hot():
    np.testing.assert_array_equal(tf.one_hot([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    assert tf.one_hot([0, 2], 3).dtype == np.float32
    np.testing.assert_array_equal(tf.one_hot([1], 3, on_value=5.0, off_value=-1.0), [[-1, 5, -1]])
    np.testing.assert_array_equal(tf.one_hot([1, 0], 2, axis=0), [[0, 1], [1, 0]])


def test_matmul_and_friends():
    b = RNG.standard_normal((5, 3)).astype("float32")
    np.testing.assert_allclose(tf.matmul(X, b), X @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.matmul(X.T, b, transpose_a=True), X @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.matmul(X, b.T, transpose_b=True), X @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.einsum("ij,jk->ik", X, b), X @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.norm(X), np.linalg.norm(X), rtol=1e-6)
    np.testing.assert_array_equal(tf.sort(X, direction="DESCENDING"), -np.sort(-X))
    np.testing.assert_array_equal(tf.argsort(X[0], direction="DESCENDING"), np.argsort(-X[0]))


def test_reductions():
    for name, np_fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min), ("prod", np.prod)):
        reduce = getattr(tf, "reduce_" + name)
        assert reduce.__name__ == "reduce_" + name
        np.testing.assert_allclose(reduce(X), np_fn(X), rtol=1e-5)
        np.testing.assert_allclose(reduce(X, axis=1), np_fn(X, axis=1), rtol=1e-5)
        np.testing.assert_allclose(reduce(X, 0, keepdims=True), np_fn(X, axis=0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(tf.math.reduce_std(X, axis=0), X.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(tf.math.reduce_variance(X), X.var(), rtol=1e-5)
    np.testing.assert_allclose(tf.reduce_logsumexp(X, axis=1), np.log(np.exp(X).sum(1)), rtol=1e-5)
    assert tf.reduce_any(X > 2) == (X > 2).any() and tf.reduce_all(X > -9)
    # TensorFlow's argmax: axis 0 unless given, int64
    assert tf.argmax(X).dtype == np.int64 and tf.argmax(X).tolist() == X.argmax(0).tolist()
    assert tf.argmin(X, axis=1).tolist() == X.argmin(1).tolist()
    assert tf.argmax(X, 1, output_type=tf.int32).dtype == np.int32
    assert tf.math.count_nonzero(X > 0) == (X > 0).sum()
    np.testing.assert_allclose(tf.math.cumsum(X, axis=1, reverse=True), np.cumsum(X[:, ::-1], 1)[:, ::-1], rtol=1e-5)


def test_elementwise_aliases():
    np.testing.assert_allclose(tf.math.log(np.abs(X)), np.log(np.abs(X)), rtol=1e-6)
    np.testing.assert_allclose(tf.pow(np.abs(X), 1.5), np.abs(X) ** 1.5, rtol=1e-5)
    np.testing.assert_allclose(tf.math.divide_no_nan(X, np.zeros_like(X)), 0)
    assert tf.equal(X, X).all() and tf.math.is_nan(np.float32("nan"))
    np.testing.assert_allclose(tf.math.l2_normalize(X, axis=1), X / np.linalg.norm(X, axis=1, keepdims=True),
                               rtol=1e-5)
    values, indices = tf.math.top_k(X, k=2)
    np.testing.assert_array_equal(values, -np.sort(-X, axis=1)[:, :2])
    assert indices.dtype == np.int32 and tf.nn.top_k(X).values.shape == (4, 1)


def test_confusion_matrix():
    labels, predictions = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    expected = [[1, 0, 0], [0, 1, 1], [0, 0, 2]]
    np.testing.assert_array_equal(tf.math.confusion_matrix(labels, predictions), expected)
    assert tf.math.confusion_matrix(labels, predictions).dtype == np.int32
    assert tf.math.confusion_matrix(labels, predictions, num_classes=4).shape == (4, 4)
    weighted = tf.math.confusion_matrix(labels, predictions, weights=[1, 2, 3, 4, 5], dtype=tf.float32)
    np.testing.assert_array_equal(weighted, [[1, 0, 0], [0, 5, 2], [0, 0, 7]])
    with pytest.raises(ValueError, match="confusion_matrix: a label or prediction is out of range for num_classes=2"):
        tf.math.confusion_matrix(labels, predictions, num_classes=2)
    with pytest.raises(ValueError, match="confusion_matrix: labels and predictions must have as many values"):
        tf.math.confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="confusion_matrix: labels must be non-negative. Received minimum -1"):
        tf.math.confusion_matrix([0, -1], [0, 0])


def test_nn():
    np.testing.assert_allclose(tf.nn.softmax(X), np.exp(X) / np.exp(X).sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(tf.nn.log_softmax(X, axis=0), X - np.log(np.exp(X).sum(0)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.nn.relu(X), np.maximum(X, 0))
    np.testing.assert_allclose(tf.nn.leaky_relu(X), np.where(X > 0, X, 0.2 * X), rtol=1e-6)
    exact = 0.5 * X * (1 + np.vectorize(math.erf)(X / math.sqrt(2)))
    np.testing.assert_allclose(tf.nn.gelu(X), exact, rtol=1e-5, atol=1e-6)  # TF's default: the exact form
    labels = np.array([1, 0, 4, 2])
    log_p = X - np.log(np.exp(X).sum(1, keepdims=True))
    np.testing.assert_allclose(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=X),
                               -log_p[np.arange(4), labels], rtol=1e-5)
    one_hot = np.eye(5, dtype="float32")[labels]
    np.testing.assert_allclose(tf.nn.softmax_cross_entropy_with_logits(labels=one_hot, logits=X),
                               -log_p[np.arange(4), labels], rtol=1e-5)
    z = (X > 0).astype("float32")
    expected = np.maximum(X, 0) - X * z + np.log1p(np.exp(-np.abs(X)))  # TF's stable formula
    np.testing.assert_allclose(tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=X), expected, rtol=1e-5,
                               atol=1e-6)
    # unclipped, as TensorFlow's: a confident wrong logit costs its full size
    np.testing.assert_allclose(tf.nn.sigmoid_cross_entropy_with_logits(labels=[0.0, 1.0], logits=[30.0, -30.0]),
                               [30, 30], rtol=1e-6)
    np.testing.assert_allclose(tf.nn.sparse_softmax_cross_entropy_with_logits([0], [[0.0, 40.0]]), [40], rtol=1e-6)
    mean, variance = tf.nn.moments(X, axes=[0])
    np.testing.assert_allclose(mean, X.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(variance, X.var(0), rtol=1e-5)
    dropped = tf.nn.dropout(np.ones((100, 100), "float32"), rate=0.5, seed=1)
    assert set(np.unique(dropped)) == {0.0, 2.0}


def test_random():
    tf.random.set_seed(3)
    a = tf.random.normal((2, 3))
    tf.random.set_seed(3)
    np.testing.assert_array_equal(tf.random.normal((2, 3)), a)
    u = tf.random.uniform((1000,))  # maxval None: [0, 1)
    assert u.dtype == np.float32 and 0 <= u.min() and u.max() < 1
    k = tf.random.uniform((1000,), minval=2, maxval=5, dtype=tf.int32)  # TF's integers in [minval, maxval)
    assert k.dtype == np.int32 and set(np.unique(k)) == {2, 3, 4}
    with pytest.raises(ValueError, match="fastnn.random.uniform requires a floating point dtype"):
        tf.random.uniform((2,), dtype=tf.int32)  # an integer dtype needs maxval, as in TensorFlow


def test_config_and_print(capsys):
    assert tf.config.list_physical_devices("GPU") == []
    (cpu,) = tf.config.list_physical_devices()
    assert cpu.device_type == "CPU"
    threads = fastnn.get_num_threads()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    try:
        assert fastnn.get_num_threads() == 1 == tf.config.threading.get_intra_op_parallelism_threads()
    finally:
        fastnn.set_num_threads(threads)
    tf.config.run_functions_eagerly(True)
    # Keras 3's keras.config (fastnn.keras is fastnn)
    assert fastnn.keras.config.floatx() == "float32" and fastnn.keras.config.epsilon() == 1e-7
    assert fastnn.keras.config.image_data_format() == "channels_last"
    tf.print("loss:", np.float32(0.5))
    captured = capsys.readouterr()
    assert captured.err == "loss: 0.5\n" and captured.out == ""


def test_gradient_through_tf_names_equals_ops():
    """A loss written with TF's names gives the same gradients on a tape as with Keras's ops."""
    layer = fastnn.layers.Dense(3)
    layer.build((None, 5))
    y = np.array([0, 2, 1, 1])

    def grads(loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(layer(X))
        return tape.gradient(loss, layer.trainable_weights)

    ours = grads(lambda z: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, z))
                 + tf.reduce_sum(tf.square(tf.concat([z, z], axis=0))) * 1e-2)
    keras = grads(lambda z: ops.mean(ops.sparse_categorical_crossentropy(y, z, from_logits=True))
                  + ops.sum(ops.square(ops.concatenate([z, z], axis=0))) * 1e-2)
    for a, b in zip(ours, keras):
        assert np.abs(a).max() > 0
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# ---- tf.Variable and tf.Module ---------------------------------------------------------------------


def test_variable_basics_of_the_autodiff_guide():
    """tensorflow.org/guide/autodiff's first examples, as written."""
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x**2
    dy_dx = tape.gradient(y, x)
    assert dy_dx.numpy() == 6.0 and dy_dx.shape == ()

    w = tf.Variable(tf.random.normal((3, 2)), name="w")
    b = tf.Variable(tf.zeros(2, dtype=tf.float32), name="b")
    x = [[1.0, 2.0, 3.0]]
    with tf.GradientTape(persistent=True) as tape:
        y = x @ w + b
        loss = tf.reduce_mean(y**2)
    [dl_dw, dl_db] = tape.gradient(loss, [w, b])
    y_value = np.array(x) @ w.numpy() + b.numpy()
    np.testing.assert_allclose(dl_db, y_value[0], rtol=1e-5)  # d mean(y²)/db = 2y/2
    np.testing.assert_allclose(dl_dw, np.array(x).T @ y_value, rtol=1e-5)
    grads = tape.gradient(loss, {"w": w, "b": b})
    np.testing.assert_array_equal(grads["b"], dl_db)


def test_variable_dtypes_assign_and_repr():
    assert tf.Variable(3.0).dtype == np.float32 and tf.Variable(3).dtype == np.int32
    assert tf.Variable(np.zeros(2)).dtype == np.float64  # an array keeps its dtype
    assert tf.Variable(lambda: np.ones(3, np.float32)).shape == (3,)  # an initializer function
    v = tf.Variable([1.0, 2.0], name="v")
    array = v.value
    v.assign([5.0, 6.0])
    v.assign_add([1.0, 1.0])
    v.assign_sub(np.array([0.5, 0.5]))
    assert v.value is array  # in place: an optimizer's state keyed by it stays valid
    np.testing.assert_array_equal(v.numpy(), [5.5, 6.5])
    copy = v.numpy()
    v.assign([0.0, 0.0])
    assert copy.tolist() == [5.5, 6.5]  # numpy() is a copy, as TensorFlow's
    assert repr(tf.Variable(5.0)) == "<tf.Variable 'Variable:0' shape=() dtype=float32, numpy=5.0>"
    with pytest.raises(ValueError, match=r"Variable 'v': cannot assign a value of shape \(3,\) to a variable of "
                                         r"shape \(2,\)"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"cannot assign a value of shape \(\) to a variable of shape \(2,\)"):
        v.assign_add(1.0)  # TensorFlow does not broadcast an assignment either
    with pytest.raises(TypeError, match="Variable 'Variable' is int32: it cannot take a value of dtype float64"):
        tf.Variable(1).assign(2.7)  # not truncated to 2
    with pytest.raises(TypeError, match="cannot take a value of dtype <U3"):
        v.assign(np.array(["abc", "def"]))


def test_optimizers_update_variables():
    v = tf.Variable([1.0, 2.0])
    optimizer = tf.keras.optimizers.Adam(0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(v * v)
        grads = tape.gradient(loss, [v])
        optimizer.apply_gradients(zip(grads, [v]))
    # Adam's first steps move each weight by about the learning rate, against its gradient's sign
    np.testing.assert_allclose(v.numpy(), [1.0 - 0.3, 2.0 - 0.3], atol=2e-3)
    assert optimizer.iterations == 3


class Linear(tf.Module):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.w = tf.Variable(5.0)
        self.b = tf.Variable(0.0)

    def __call__(self, x):
        return self.w * x + self.b


def test_module_variables_and_the_custom_training_basics():
    """tensorflow.org/guide/basic_training_loops: a tf.Module fitted by assign_sub steps."""
    model = Linear()
    assert model.name == "linear" and [v.numpy() for v in model.variables] == [0.0, 5.0]  # by attribute name
    assert model(3.0).numpy() == 15.0
    x = tf.cast(tf.linspace(-2, 2, 201), tf.float32)
    assert x.dtype == np.float32 and x.shape == (201,)
    tf.random.set_seed(0)
    y = x * 3.0 + 2.0 + tf.random.normal(shape=[201]) * 0.1

    def loss(target_y, predicted_y):
        return tf.reduce_mean(tf.square(target_y - predicted_y))

    losses = []
    for _ in range(60):
        with tf.GradientTape() as t:
            current_loss = loss(y, model(x))
        dw, db = t.gradient(current_loss, [model.w, model.b])
        model.w.assign_sub(0.1 * dw)
        model.b.assign_sub(0.1 * db)
        losses.append(float(current_loss))
    assert losses[-1] < 0.02 < losses[0]
    assert abs(model.w.numpy() - 3.0) < 0.05 and abs(model.b.numpy() - 2.0) < 0.05

    class Stack(tf.Module):
        def __init__(self):
            super().__init__(name="stack")
            self.layers = [Linear(), Linear()]
            self.frozen = tf.Variable(1.0, trainable=False)

    stack = Stack()
    assert len(stack.variables) == 5 and len(stack.trainable_variables) == 4
    assert [type(m).__name__ for m in stack.submodules] == ["Linear", "Linear"]


def test_tf_names_follow_tensorflow_where_numpy_differs():
    """Found by fuzzing the model-level API: each was a silent difference from TensorFlow."""
    x = np.arange(5)
    assert [a.tolist() for a in tf.split(x, [-1, 2])] == [[0, 1, 2], [3, 4]]  # -1: the rest
    with pytest.raises(ValueError, match=r"fastnn.split: the sizes must .* add up to the length 5 of axis 0"):
        tf.split(x, [1, 1])
    u = np.array([0, 1, 2], np.uint8)  # descending without negation (uint8 wrapped, int32's minimum overflowed)
    assert tf.argsort(u, direction="DESCENDING").tolist() == [2, 1, 0]
    big = np.array([np.iinfo(np.int32).min, 0, 5], np.int32)
    assert tf.sort(big, direction="DESCENDING").tolist() == [5, 0, np.iinfo(np.int32).min]
    assert tf.argsort(np.array([1, 3, 1, 3]), direction="DESCENDING").tolist() == [1, 3, 0, 2]  # ties in order
    with pytest.raises(ValueError, match="fastnn.sort: direction must be 'ASCENDING' or 'DESCENDING'"):
        tf.sort(x, direction="ascending")
    m = np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(tf.boolean_mask(m, [True, False, True], axis=1), [[0, 2], [3, 5], [6, 8]])
    with pytest.raises(ValueError, match=r"boolean_mask: the mask's shape \(2,\) must be the tensor's shape"):
        tf.boolean_mask(m, [True, False])
    assert tf.math.count_nonzero(np.array([[0, 1], [2, 3]]), axis=1, keepdims=True).tolist() == [[1], [2]]
    assert tf.one_hot([0, 1], 0).shape == (2, 0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\). Received: -1"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([-1]), logits=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="labels must be integers of the logits' shape without the last axis"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([1.5]), logits=np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"fastnn.gather: indices must be in \[0, 5\) along axis 0. Received: -1"):
        tf.gather(x, [-1])  # not the last row, as NumPy would take it
    with pytest.raises(ValueError, match=r"top_k: k must be in \[0, 3\]"):
        tf.math.top_k(np.arange(3.0), k=5)
    assert tf.constant([], dtype=tf.int32).dtype == np.int32 and tf.constant([[]], dtype=tf.bool).shape == (1, 0)
    with pytest.raises(TypeError, match="fastnn.constant: 1.7 cannot be int32 without losing its fraction"):
        tf.constant(1.7, dtype=tf.int32)
    with pytest.raises(ValueError, match=r"fastnn.constant: 3 values cannot fill the shape \(2, 2\)"):
        tf.constant([1, 2, 3], shape=(2, 2))
    with pytest.raises(ValueError, match="fastnn.range: delta must not be 0"):
        tf.range(0, 5, 0)
    with pytest.raises(ValueError, match="confusion_matrix: weights must have one value per label"):
        tf.math.confusion_matrix([0, 1], [1, 1], weights=[1.0])
    with pytest.raises(ValueError, match="fastnn.random.uniform: maxval must not be below minval"):
        tf.random.uniform((2,), minval=3.0, maxval=1.0)
    with pytest.raises(ValueError, match="fastnn.random.normal: stddev must be >= 0"):
        tf.random.normal((2,), stddev=-1.0)


def test_gradient_of_a_target_off_the_tape_is_none():
    # NumPy took the values (np.sum of a tape tensor): the target is not on the tape, so every source
    # gets None, as in TensorFlow (was a bare StopIteration from the gradient's iterator)
    layer = fastnn.layers.Dense(2)
    layer.build((None, 3))
    with tf.GradientTape(persistent=True) as tape:
        out = layer(np.ones((4, 3), np.float32))
        numpy_loss = np.sum(np.asarray(out))
    assert tape.gradient(numpy_loss, layer.trainable_weights) == [None, None]
    assert tape.gradient(None, layer.kernel) is None


def test_module_submodules_survive_a_reference_cycle():
    class Node(tf.Module):
        pass

    a, b = Node(), Node()
    a.child, b.parent = b, a  # a cycle
    assert a.submodules == (b,) and b.submodules == (a,)


def test_autodiff_guide_jacobians_custom_gradient_and_enums():
    """TensorFlow's advanced autodiff guide: jacobians of a scalar source and of a layer's kernel,
    tf.custom_gradient clipping a gradient, the UnconnectedGradients enum, tf.errors."""
    x = tf.linspace(-10.0, 10.0, 201)
    delta = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        y = tf.nn.sigmoid(x + delta)
    dy_dx = tape.jacobian(y, delta)
    s = 1 / (1 + np.exp(-np.asarray(x, np.float64)))
    assert dy_dx.shape == (201,)
    np.testing.assert_allclose(dy_dx, s * (1 - s), atol=1e-7)
    xs = tf.random.normal([7, 5])
    layer = tf.keras.layers.Dense(10, activation=tf.nn.relu)
    with tf.GradientTape(persistent=True) as tape:
        y = layer(xs)
    j = tape.jacobian(y, layer.kernel)
    assert j.shape == (7, 10, 5, 10)
    np.testing.assert_allclose(tf.reduce_sum(j, axis=[0, 1]), tape.gradient(y, layer.kernel), atol=1e-6)
    # d y[n, u] / d kernel[c, u] = x[n, c] where the unit is active, and 0 across units
    active = np.asarray(y) > 0
    np.testing.assert_allclose(j[2, 3, :, 3], np.asarray(xs)[2] * active[2, 3], atol=1e-7)
    assert not np.any(j[2, 3, :, 4])

    @tf.custom_gradient
    def clip_gradients(y):
        def backward(dy):
            return tf.clip_by_norm(dy, 0.5)
        return y, backward

    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        output = clip_gradients(v * v)
    assert float(tape.gradient(output, v)) == 2.0  # the unit gradient clipped to 0.5, times d(v²)/dv = 4

    @tf.custom_gradient
    def wrong_shape(y):
        return y, lambda dy: tf.ones((5, 5))

    @tf.custom_gradient
    def scalar_gradient(y):
        return y, lambda dy: 3.0

    m = tf.Variable(np.ones((2, 2), np.float32))
    with tf.GradientTape(persistent=True) as tape:
        bad, spread = tf.reduce_sum(wrong_shape(m * 1.0)), tf.reduce_sum(scalar_gradient(m * 2.0))
    with pytest.raises(ValueError, match=r"wrong_shape's gradient function returned a gradient of shape \(5, 5\) "
                                         r"for input 0, which has shape \(2, 2\)"):
        tape.gradient(bad, m)
    np.testing.assert_array_equal(tape.gradient(spread, m), np.full((2, 2), 6.0))  # 3 spread, times d(2m)/dm
    np.testing.assert_allclose(tf.clip_by_norm(np.array([3.0, 4.0], np.float32), 1.0), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(tf.clip_by_norm(np.array([0.3, 0.4], np.float32), 1.0), np.float32([0.3, 0.4]))
    a, b = tf.Variable([2.0, 2.0]), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        z = b ** 2
    np.testing.assert_array_equal(tape.gradient(z, a, unconnected_gradients=tf.UnconnectedGradients.ZERO), [0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="matmul"):
        tf.matmul(np.ones((1, 3), np.float32), np.ones((2, 2), np.float32))


def test_keras_paths_activation_functions_and_submodules():
    import sys

    from fastnn.keras import layers as keras_layers
    from fastnn.keras.layers import Dense as KerasDense
    from fastnn.keras.optimizers import Adam as KerasAdam

    assert keras_layers is fastnn.layers and KerasDense is fastnn.layers.Dense and KerasAdam is fastnn.optimizers.Adam
    assert sys.modules["fastnn.keras.layers"] is fastnn.layers
    # tf.nn's and keras.ops' activations are the fused kernels' (activation=tf.nn.relu)
    for function, name in [(tf.nn.relu, "relu"), (tf.nn.softmax, "softmax"), (tf.math.sigmoid, "sigmoid"),
                           (fastnn.ops.tanh, "tanh"), (tf.keras.activations.relu, "relu")]:
        assert tf.keras.layers.Dense(3, activation=function)._act == name
    assert tf.keras.layers.Dense(3, activation=lambda v: v * 2)._act == "linear"  # (applied after the kernel)
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2), tf.keras.layers.Dense(1)])
    assert model.submodules == model.layers

    class Outer(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.first = tf.keras.layers.Dense(2)
            self.blocks = [Inner()]

        def call(self, x):
            return self.blocks[0](self.first(x))

    class Inner(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    outer = Outer()
    assert outer.submodules == [outer.first, outer.blocks[0], outer.blocks[0].dense]


def test_tensorshape_and_nest():
    shape = tf.TensorShape([None, 28])
    assert shape.as_list() == [None, 28] and shape.rank == 2 and shape[1] == 28 and shape == (None, 28)
    with pytest.raises(ValueError, match="non-negative ints or None"):
        tf.TensorShape([-1])
    structure = {"b": (1, [2, 3]), "a": 4}
    flat = tf.nest.flatten(structure)
    assert flat == [4, 1, 2, 3]  # (dicts by sorted key, as TensorFlow's)
    assert tf.nest.pack_sequence_as(structure, [v * 10 for v in flat]) == {"b": (10, [20, 30]), "a": 40}
    assert tf.nest.map_structure(lambda a, b: a + b, (1, [2]), (3, [4])) == (4, [6])
    with pytest.raises(ValueError, match="more values"):
        tf.nest.pack_sequence_as((1, 2), [1, 2, 3])
    with pytest.raises(ValueError, match="structures differ"):
        tf.nest.assert_same_structure((1, [2]), (1, 2))
    assert tf.nest.is_nested([1]) and not tf.nest.is_nested(1)


def test_augmented_assignment_makes_a_new_tensor():
    # TensorFlow's tensors never change in place: `x /= 255` rebinds x, and may broadcast
    images = np.full(3, 255.0, np.float32)
    x = tf.constant(images)
    x /= 255.0
    np.testing.assert_array_equal(images, 255.0)
    np.testing.assert_array_equal(x.numpy(), 1.0)
    a = tf.ones((2, 2))
    b, r = tf.identity(a), tf.reshape(a, (4,))
    b += 1
    r *= 10
    np.testing.assert_array_equal(a.numpy(), 1.0)
    logits = tf.matmul(np.eye(3, 4, dtype=np.float32), np.ones((4, 4), np.float32))  # (3, 4)
    logits += (1.0 - np.ones((1, 3, 4))) * -1e9  # (the Transformer notebook's mask: broadcast to (1, 3, 4))
    assert logits.shape == (1, 3, 4)
    # a weight's `+=` still changes the weight, as NumPy's (`assign_add` is TensorFlow's spelling)
    layer = tf.keras.layers.Dense(2)
    layer.build((None, 3))
    kernel = layer.kernel
    kernel += 1.0
    assert kernel is layer.kernel


def test_a_scalar_tensors_numpy_is_a_numpy_scalar():
    # TensorFlow's 0-d .numpy() is a NumPy scalar: hashable (`labels.add(el.numpy())` in the
    # Course 2 TensorFlow introduction)
    labels = set()
    for el in [tf.constant(1), tf.reduce_sum(np.ones(3)), tf.Variable(2.0) * 1.0]:
        labels.add(el.numpy())
    assert labels == {1, 3.0, 2.0} and all(isinstance(v, np.generic) for v in labels)
    assert tf.constant([1, 2]).numpy().shape == (2,)
