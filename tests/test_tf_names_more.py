"""More of TensorFlow's and Keras 3's names, as ported course scripts call them: batched
``tf.matmul`` / ``keras.ops.matmul`` on arrays, tape tensors and symbolic tensors; ``tf.linalg``,
``tf.tensordot``, ``tf.is_tensor``; string tensors from ``convert_to_tensor``; ``tf.random.gamma``'s
``beta`` and tensor ``alpha``; ``tf.argmax`` of a symbolic tensor (an integer KerasTensor that
``tf.one_hot`` takes); Keras 3's ``keras.ops.nn`` / ``numpy`` / ``linalg`` submodules. Values are
checked against NumPy, gradients against central finite differences in float64."""

import numpy as np
import pytest

import fastnn as tf
from fastnn import keras
from helpers import finite_difference
from fastnn.keras import ops
from fastnn.layers import LSTM, Dense, Input, Lambda, RepeatVector
from fastnn.models import Model

RNG = np.random.default_rng(0)


def normal(*shape):
    return RNG.standard_normal(shape).astype("float32")


# ---- 1. batched matmul --------------------------------------------------------------------------

MATMUL_CASES = [  # (a shape, b shape, transpose_a, transpose_b)
    ((2, 3, 4), (2, 4, 5), False, False),
    ((1, 3, 4), (4, 2), False, False),  # the Transformer notebook's attention weights @ values
    ((2, 2, 3, 4), (2, 2, 4, 5), False, False),
    ((2, 1, 3, 4), (3, 4, 5), False, False),  # batch axes broadcast
    ((2, 4, 3), (2, 5, 4), True, True),
    ((2, 3, 4), (2, 5, 4), False, True),  # q @ kᵀ
]


def _np_matmul(a, b, transpose_a, transpose_b):
    return np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a, np.swapaxes(b, -1, -2) if transpose_b else b)


@pytest.mark.parametrize("sa, sb, ta, tb", MATMUL_CASES)
def test_batched_matmul_on_arrays(sa, sb, ta, tb):
    a, b = normal(*sa), normal(*sb)
    want = _np_matmul(a, b, ta, tb)
    for f in (tf.matmul, tf.linalg.matmul):
        got = f(tf.constant(a), tf.constant(b), transpose_a=ta, transpose_b=tb)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    if not (ta or tb):
        np.testing.assert_allclose(ops.matmul(a, b), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(keras.ops.numpy.matmul(a, b), want, rtol=1e-5, atol=1e-5)


def test_keras_ops_matmul_takes_vectors_as_numpy_does():
    a, v = normal(3, 4), normal(4)
    np.testing.assert_allclose(ops.matmul(a, v), a @ v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ops.matmul(v, normal(2, 4, 3)).shape, (2, 3))
    with pytest.raises(ValueError, match="matmul"):
        ops.matmul(normal(2, 3, 4), normal(2, 5, 6))  # mismatched inner dimensions
    assert ops.matmul(normal(3, 4), normal(4, 2)).dtype == np.float32  # 2-D arrays: still the kernel




@pytest.mark.parametrize("sa, sb, ta, tb", MATMUL_CASES)
def test_batched_matmul_gradients_match_finite_differences(sa, sb, ta, tb):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    va, vb = tf.Variable(a), tf.Variable(b)
    w = RNG.standard_normal(_np_matmul(a, b, ta, tb).shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.matmul(va, vb, transpose_a=ta, transpose_b=tb) * w)
    da, db = tape.gradient(loss, [va, vb])
    want_da = finite_difference(lambda x: np.sum(_np_matmul(x, b, ta, tb) * w), a)
    want_db = finite_difference(lambda x: np.sum(_np_matmul(a, x, ta, tb) * w), b)
    np.testing.assert_allclose(np.asarray(da), want_da, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(db), want_db, rtol=1e-6, atol=1e-7)


def test_batched_matmul_in_a_functional_model():
    q, k = Input((3, 4)), Input((5, 4))
    scores = tf.matmul(q, k, transpose_b=True)
    assert scores.shape == (None, 3, 5)
    model = Model([q, k], [scores, keras.ops.matmul(scores, k)])
    qv, kv = normal(2, 3, 4), normal(2, 5, 4)
    s, out = model.predict([qv, kv], verbose=0)
    np.testing.assert_allclose(s, qv @ np.swapaxes(kv, 1, 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out, s @ kv, rtol=1e-4, atol=1e-4)


# ---- 2. tf.linalg, tf.tensordot, tf.is_tensor --------------------------------------------------


def test_is_tensor():
    assert tf.is_tensor(tf.constant([[1.0, 2.0]])) and tf.is_tensor(Input((3,)))
    assert not tf.is_tensor([1.0, 2.0]) and not tf.is_tensor("a")


@pytest.mark.parametrize("lower, upper", [(-1, 0), (0, -1), (0, 0), (1, 2), (-1, -1), (2, 0)])
def test_band_part(lower, upper):
    x = normal(2, 4, 5)
    i, j = np.arange(4)[:, None], np.arange(5)[None, :]
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    got = tf.linalg.band_part(tf.constant(x), lower, upper)
    np.testing.assert_array_equal(got.numpy(), np.where(keep, x, 0))


def test_band_part_look_ahead_mask_and_errors():
    # Course 5 week 4's create_look_ahead_mask: 1 - band_part(ones((1, n, n)), -1, 0)
    mask = 1 - tf.linalg.band_part(tf.ones((1, 3, 3)), -1, 0)
    np.testing.assert_array_equal(mask, np.triu(np.ones((1, 3, 3), np.float32), 1))
    with pytest.raises(ValueError, match=r"linalg.band_part: input must have at least 2 axes.*\(3,\)"):
        tf.linalg.band_part(tf.ones(3), -1, 0)


def test_band_part_gradient_keeps_the_band():
    v = tf.Variable(np.ones((3, 3)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.linalg.band_part(v, 1, 0) * 2.0)
    np.testing.assert_array_equal(tape.gradient(loss, v), 2 * (np.tri(3) - np.tri(3, k=-2)))  # i - j in [0, 1]


def test_matvec_norm_tensordot():
    a, v = normal(2, 3, 4), normal(2, 4)
    np.testing.assert_allclose(tf.linalg.matvec(a, v).numpy(), np.einsum("bij,bj->bi", a, v), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.linalg.matvec(a, normal(3)[None].repeat(2, 0), transpose_a=True).shape, (2, 4))
    np.testing.assert_allclose(tf.linalg.norm(v).numpy(), np.linalg.norm(v), rtol=1e-5)
    # keras.io collaborative filtering: tf.tensordot(user_vector, movie_vector, 2), a scalar
    u, m = normal(4, 3), normal(4, 3)
    got = tf.tensordot(u, m, 2)
    assert got.shape == () and np.isclose(got.numpy(), np.sum(u * m), rtol=1e-5)
    np.testing.assert_allclose(tf.tensordot(u, m, [[1], [1]]).numpy(), u @ m.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.linalg.tensordot(u, m.T, 1), u @ m.T, rtol=1e-5, atol=1e-5)


# ---- 3. string tensors --------------------------------------------------------------------------


@pytest.mark.parametrize("value, shape", [(["fixed"], (1,)), ("fixed", ()), ([["a"], ["b"]], (2, 1)),
                                          ([["this message is about graphics"]], (1, 1))])
def test_convert_to_tensor_of_strings_is_tf_constant(value, shape):
    want = tf.constant(value)
    for got in (tf.convert_to_tensor(value), keras.ops.convert_to_tensor(value)):
        assert got.shape == shape and got.dtype.kind == "U"
        np.testing.assert_array_equal(got, want)
    # TensorFlow's string tensors give bytes: ``.numpy()`` is an object array of bytes (a 0-d one: bytes)
    want_bytes = np.vectorize(lambda t: t.encode(), otypes=[object])(np.asarray(value))
    got_bytes = tf.convert_to_tensor(value).numpy()
    assert (got_bytes == want_bytes[()] if np.ndim(value) == 0 else got_bytes.tolist() == want_bytes.tolist())
    assert tf.convert_to_tensor(value, dtype=tf.string).dtype.kind == "U"


def test_convert_to_tensor_of_strings_refuses_a_number_dtype():
    with pytest.raises(ValueError, match=r"ops.convert_to_tensor: strings cannot be converted to dtype float32"):
        keras.ops.convert_to_tensor(["a"], dtype="float32")
    assert keras.ops.convert_to_tensor([1.5, 2.0]).dtype == np.float32  # numbers as before


# ---- 4. tf.random.gamma -------------------------------------------------------------------------


def test_random_gamma_shape_is_shape_plus_the_parameters():
    assert tf.random.gamma([3], alpha=[1.0, 2.0]).shape == (3, 2)
    assert tf.random.gamma([2], alpha=[1.0, 5.0]).shape == (2, 2)
    assert tf.random.gamma([4, 1], alpha=2.0, beta=[[1.0], [2.0]]).shape == (4, 1, 2, 1)
    assert tf.random.gamma([5], 2.0).shape == (5,) and tf.random.gamma([5], 2.0).dtype == np.float32
    assert tf.random.gamma([5], 2.0, dtype=tf.float64).dtype == np.float64


def test_random_gamma_statistics():
    x = tf.random.gamma([20000], alpha=[1.0, 5.0], beta=[[2.0], [0.5]], seed=3).numpy()  # (20000, 2, 2)
    alpha, beta = np.array([1.0, 5.0]), np.array([[2.0], [0.5]])
    np.testing.assert_allclose(x.mean(axis=0), alpha / beta, rtol=0.05)
    np.testing.assert_allclose(x.var(axis=0), alpha / beta**2, rtol=0.15)
    assert tf.random.gamma([4000], alpha=2.0, beta=4.0, seed=1).numpy().mean() == pytest.approx(0.5, rel=0.05)
    np.testing.assert_array_equal(tf.random.gamma([3], 2.0, seed=7), keras.random.gamma((3,), 2.0, seed=7))


def test_random_gamma_errors():
    with pytest.raises(ValueError, match=r"random.gamma: alpha must be > 0. Received: alpha=0.0"):
        tf.random.gamma([2], alpha=0.0)
    with pytest.raises(ValueError, match=r"random.gamma: beta must be a positive number.*Received: beta='float32'"):
        tf.random.gamma([2], 1.0, "float32")
    with pytest.raises(ValueError, match=r"random.gamma: alpha \(2,\) and beta \(3,\) must broadcast together"):
        tf.random.gamma([2], alpha=[1.0, 2.0], beta=[1.0, 2.0, 3.0])


# ---- 5. argmax of a symbolic tensor -------------------------------------------------------------


@pytest.mark.parametrize("argmax, dtype", [(tf.argmax, "int64"), (tf.math.argmax, "int64"),
                                           (keras.backend.argmax, "int64"), (ops.argmax, "int32")])
def test_symbolic_argmax_is_an_integer_tensor(argmax, dtype):
    inp = Input((5,))
    probs = Dense(4, activation="softmax")(inp)
    idx = argmax(probs, axis=-1)
    assert str(idx.dtype) == dtype and idx.shape == (None,)
    hot = RepeatVector(1)(tf.one_hot(idx, depth=4))
    assert hot.shape == (None, 1, 4)
    x = RNG.random((6, 5)).astype("float32")
    got_idx, got_hot = Model(inp, [idx, hot]).predict(x, verbose=0)
    want = np.argmax(Model(inp, probs).predict(x, verbose=0), axis=-1)
    np.testing.assert_array_equal(got_idx, want)
    np.testing.assert_array_equal(got_hot, np.eye(4, dtype=np.float32)[want][:, None])


def test_symbolic_argmin_and_a_lambda_returning_indices():
    inp = Input((5,))
    assert str(tf.argmin(inp, axis=1).dtype) == "int64"
    lam = Lambda(lambda z: tf.argmax(z, axis=-1))(inp)
    assert str(lam.dtype) == "int64"
    x = normal(3, 5)
    np.testing.assert_array_equal(Model(inp, tf.one_hot(lam, 5)).predict(x, verbose=0), np.eye(5)[x.argmax(-1)])


def test_jazz_improvisation_inference_model():
    """Course 5 week 1's music_inference_model: each step's prediction, as a one-hot of its argmax,
    is the next step's input."""
    n_values, n_a, ty = 6, 8, 4
    lstm_cell, densor = LSTM(n_a, return_state=True), Dense(n_values, activation="softmax")
    x0, a0, c0 = Input((1, n_values)), Input((n_a,)), Input((n_a,))
    x, a, c, outputs = x0, a0, c0, []
    for _ in range(ty):
        a, _, c = lstm_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        x = RepeatVector(1)(tf.one_hot(tf.math.argmax(out, axis=-1), depth=n_values))
    model = Model(inputs=[x0, a0, c0], outputs=outputs)
    xs = [np.zeros((2, 1, n_values), np.float32), normal(2, n_a), np.zeros((2, n_a), np.float32)]
    got = model.predict(xs, verbose=0)
    # the same steps on arrays
    x, a, c = xs
    for t in range(ty):
        a, _, c = lstm_cell(x, initial_state=[a, c])
        out = densor(a)
        np.testing.assert_allclose(got[t], out, rtol=1e-5, atol=1e-6)
        x = np.eye(n_values, dtype=np.float32)[np.argmax(out, axis=-1)][:, None]


# ---- 6. keras.ops.nn / numpy / linalg -------------------------------------------------------------


def test_ops_submodules_are_the_ops_functions():
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    np.testing.assert_allclose(ops.nn.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(ops.nn.relu(x), np.maximum(x, 0))
    np.testing.assert_allclose(ops.nn.softmax(x), np.exp(x) / np.exp(x).sum(), rtol=1e-6)
    assert ops.nn.sigmoid is ops.sigmoid and ops.nn.one_hot is ops.one_hot and ops.numpy.mean is ops.mean
    np.testing.assert_allclose(ops.numpy.mean(x), x.mean())
    np.testing.assert_allclose(ops.linalg.norm(x), np.linalg.norm(x), rtol=1e-6)
    for name in ("sigmoid", "relu", "softmax", "one_hot"):
        assert not hasattr(ops.numpy, name)
    for name in ("mean", "matmul", "tensordot", "where", "tril"):
        assert not hasattr(ops.nn, name) and hasattr(ops.numpy, name)
    # every name is one of keras.ops' own functions (keras.ops.numpy.matmul is Keras's batched one)
    for module in (ops.nn, ops.numpy, ops.linalg):
        for name, f in vars(module).items():
            if not name.startswith("__"):
                assert f is getattr(ops, name) or name == "matmul", (module.__name__, name)


def test_ops_nn_in_a_custom_layer_has_gradients():
    v = tf.Variable(np.array([-1.0, 0.5, 2.0]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ops.nn.sigmoid(v))
    s = 1 / (1 + np.exp(-v.numpy()))
    np.testing.assert_allclose(tape.gradient(loss, v), s * (1 - s), rtol=1e-10)


# ---- tf.strings, string tensors, scalar elements, tf.data.TextLineDataset -----------------------


def test_regex_replace_takes_re2_rewrites():
    # the NMT tutorial's tf_lower_and_split_punct: \0 is the whole match (Python's \0 would be NUL)
    text = tf.constant("¿todavia esta en casa?")
    assert tf.strings.regex_replace(text, "[.?!,¿]", r" \0 ").numpy().decode() == " ¿ todavia esta en casa ? "
    got = tf.strings.regex_replace(["ab", "ba", "c"], "(a)(b)?", r"<\2\1\\>")
    assert got.tolist() == ["<ba\\>", "b<a\\>", "c"]  # an unmatched group is empty; \\ a backslash
    assert tf.strings.regex_replace("aaa", "a", "b", replace_global=False).numpy() == b"baa"
    with pytest.raises(ValueError, match=r"regex_replace: invalid rewrite pattern '\\\\x'"):
        tf.strings.regex_replace("a", "a", r"\x")
    with pytest.raises(ValueError, match="names group 2; the pattern has 1"):
        tf.strings.regex_replace("a", "(a)", r"\2")


def test_string_tensors_give_bytes_and_elements_are_tensors():
    words = tf.constant(["casa", "perro"])
    assert words.numpy().dtype == object and words.numpy().tolist() == [b"casa", b"perro"]
    assert tf.constant("casa").numpy() == b"casa"
    assert words[1].numpy().decode("utf-8") == "perro"  # one element: a 0-d tensor with .numpy()
    assert [w.numpy() for w in words] == [b"casa", b"perro"]
    numbers = tf.constant([[1, 2], [3, 4]])
    assert numbers[1, 0].numpy() == 3 and numbers[1, 0].shape == () and int(numbers[0, 1]) == 2
    assert {numbers[0, 0]: "one"}[numbers[0, 0]] == "one"  # hashable, as a dict key
    assert np.arange(5)[numbers[0, 1]] == 2  # and usable as an index
    assert str(words) == "['casa' 'perro']" and repr(numbers[0, 0]) == "EagerArray(1, dtype=int32)"


def test_strings_reduce_join_unicode_split_to_number():
    chars = tf.strings.unicode_split(["abc", "de"], "UTF-8")  # ragged: a list of rows
    assert [c.tolist() for c in chars] == [["a", "b", "c"], ["d", "e"]]
    assert tf.strings.reduce_join(chars, axis=-1).numpy().tolist() == [b"abc", b"de"]
    assert tf.strings.reduce_join(tf.strings.unicode_split("héllo", "UTF-8")).numpy().decode() == "héllo"
    grid = [["a", "b"], ["c", "d"]]
    assert tf.strings.reduce_join(grid, axis=0, separator="-").tolist() == ["a-c", "b-d"]
    assert tf.strings.reduce_join(grid, axis=1, keepdims=True).tolist() == [["ab"], ["cd"]]
    assert tf.strings.reduce_join(grid).numpy() == b"abcd"
    np.testing.assert_array_equal(tf.strings.to_number(["1.5", " -2"]), np.array([1.5, -2], np.float32))
    assert tf.strings.to_number(["3"], out_type=tf.int32).dtype == np.int32
    with pytest.raises(ValueError, match="to_number: .*could not correctly convert string: 'x'"):
        tf.strings.to_number(["1", "x"])


def test_text_line_dataset(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"first line\r\nsecond\n\nlast\n")
    lines = tf.data.TextLineDataset(str(path))
    assert [line.numpy() for line in lines] == [b"first line", b"second", b"", b"last"]
    both = tf.data.TextLineDataset([str(path), str(path)]).map(tf.strings.upper).batch(8)
    assert [b.tolist() for b in both] == [["FIRST LINE", "SECOND", "", "LAST"] * 2]
    with pytest.raises(FileNotFoundError, match="TextLineDataset: cannot read"):
        tf.data.TextLineDataset(str(tmp_path / "missing.txt"))
    assert tf.data.experimental.AUTOTUNE == tf.data.AUTOTUNE


def test_tensor_device_executing_eagerly():
    assert isinstance(tf.constant([1.0]), tf.Tensor) and isinstance(Input((3,)), tf.Tensor)
    assert not isinstance(tf.Variable(1.0), tf.Tensor) and not isinstance(3.0, tf.Tensor)
    with pytest.raises(TypeError, match="tf.constant"):
        tf.Tensor([1.0])
    with tf.device("/GPU:0"):  # (the CPU runs it, as TensorFlow's soft placement)
        assert tf.executing_eagerly()
        assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0


def test_confusion_matrix_casts_float_labels_as_tensorflow():
    got = tf.math.confusion_matrix(np.array([1.0, 1.0, 1.0, 0.0, 0.0]), np.array([[1], [1], [0], [0], [1]]),
                                   num_classes=2)
    np.testing.assert_array_equal(got, [[1, 1], [1, 2]])
    with pytest.raises(ValueError, match="labels must be finite"):
        tf.math.confusion_matrix(np.array([np.nan, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="predictions must be non-negative"):
        tf.math.confusion_matrix(np.array([0, 1]), np.array([0, -1]))


def test_clip_by_global_norm_and_global_norm():
    grads = [np.full(3, 3.0, np.float32), None, np.full(2, 4.0, np.float32)]
    norm = np.sqrt(3 * 9 + 2 * 16)
    np.testing.assert_allclose(tf.linalg.global_norm(grads), norm, rtol=1e-6)
    clipped, got_norm = tf.clip_by_global_norm(grads, 5.0)
    np.testing.assert_allclose(got_norm, norm, rtol=1e-6)
    assert clipped[1] is None
    np.testing.assert_allclose(clipped[0], grads[0] * 5.0 / norm, rtol=1e-6)
    np.testing.assert_allclose(tf.linalg.global_norm(clipped), 5.0, rtol=1e-6)
    unchanged, _ = tf.clip_by_global_norm(grads, 100.0)  # under the limit: as they were
    np.testing.assert_allclose(unchanged[2], grads[2])
    with pytest.raises(ValueError, match="clip_norm must be positive"):
        tf.clip_by_global_norm(grads, 0.0)


def test_gather_nd_values_and_gradient():
    params = RNG.standard_normal((2, 3, 4))
    x = tf.Variable(params)
    idx = np.array([[0, 1], [1, 2], [0, 1]])
    with tf.GradientTape() as tape:
        y = tf.gather_nd(x, idx)
        loss = tf.reduce_sum(y * np.arange(4.0))
    np.testing.assert_allclose(y, params[[0, 1, 0], [1, 2, 1]])
    want = np.zeros_like(params)
    for i, j in idx:
        want[i, j] += np.arange(4.0)  # a repeated index adds up
    np.testing.assert_allclose(tape.gradient(loss, x), want)
    np.testing.assert_allclose(tf.gather_nd(params, [[1, 2, 3]]), [params[1, 2, 3]])
    np.testing.assert_allclose(tf.gather_nd(params, [[1], [2]], batch_dims=1), params[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="gather_nd: an index 3 is out of range for axis 1"):
        tf.gather_nd(params, [[0, 3]])


def test_in_top_k_counts_ties_as_tensorflow():
    predictions = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [np.nan, 0.2, 0.1]])
    targets = np.array([2, 0, 1])
    assert keras.ops.in_top_k(targets, predictions, 1).tolist() == [False, False, False]
    assert tf.math.in_top_k(targets, predictions, 2).tolist() == [True, True, False]  # a tie counts as in
    with pytest.raises(ValueError, match="in_top_k: targets must be class indices"):
        keras.ops.in_top_k(np.array([3, 0, 0]), predictions, 1)


def test_control_flow_and_small_names():
    assert tf.cond(tf.constant(3) > 2, lambda: "yes", lambda: "no") == "yes"
    assert tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i), [0, 0]) == [5, 10]
    np.testing.assert_allclose(tf.map_fn(lambda row: row * 2, tf.constant([[1.0, 2.0], [3.0, 4.0]])),
                               [[2, 4], [6, 8]])
    spec = tf.TensorSpec([None, 28], tf.float32, name="x")
    assert spec.shape.as_list() == [None, 28] and spec.dtype == np.float32 and spec.name == "x"
    assert keras.Layer is keras.layers.Layer and keras.version() == tf.__version__
    assert keras.utils.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert keras.utils.unpack_x_y_sample_weight(7) == (7, None, None)
    assert keras.utils.pack_x_y_sample_weight([1, 2]) == ([1, 2],)


def test_progbar_shows_running_means(capsys):
    bar = keras.utils.Progbar(4, verbose=2, stateful_metrics=["acc"])
    for i in range(4):
        bar.update(i + 1, [("loss", float(i)), ("acc", 0.25 * i)])
    out = capsys.readouterr().out
    assert "loss: 1.5000" in out and "acc: 0.7500" in out  # the mean of 0..3; the last acc as given
    bar = keras.utils.Progbar(4, verbose=2)
    bar.add(2, [("loss", 1.0)])
    bar.add(2, [("loss", 3.0)])
    assert "loss: 2.0000" in capsys.readouterr().out


def test_an_eager_tensors_shape_has_tensorflows_methods():
    x = tf.constant(np.zeros((2, 3, 4), np.float32))
    assert x.shape == (2, 3, 4) and x.shape.as_list() == [2, 3, 4] and x.shape.rank == 3
    assert x.shape.num_elements() == 24 and isinstance(x.shape, tuple)
    assert tf.reduce_sum(x, axis=-1).shape.as_list() == [2, 3]


def _numpy_conv2d_valid(x, k, stride):
    n, h, w, _ = x.shape
    kh, kw, _, oc = k.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, oh, ow, oc))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


@pytest.mark.parametrize("stride", [1, 2])
def test_ops_conv_and_tf_nn_conv2d(stride):
    x, k = RNG.standard_normal((2, 7, 6, 3)), RNG.standard_normal((3, 2, 3, 4))
    want = _numpy_conv2d_valid(x, k, stride)
    np.testing.assert_allclose(keras.ops.conv(x, k, strides=stride), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(tf.nn.conv2d(x.astype("float32"), k.astype("float32"), strides=[1, stride, stride, 1],
                                            padding="VALID"), want, rtol=1e-4, atol=1e-4)
    first = keras.ops.conv(np.moveaxis(x, -1, 1), k, strides=stride, data_format="channels_first")
    np.testing.assert_allclose(np.moveaxis(np.asarray(first), 1, -1), want, rtol=1e-10, atol=1e-10)
    # NCHW: the four strides follow data_format, [1, 1, sh, sw]
    nchw = tf.nn.conv2d(np.moveaxis(x, -1, 1).astype("float32"), k.astype("float32"), strides=[1, 1, stride, stride],
                        padding="VALID", data_format="NCHW")
    np.testing.assert_allclose(np.moveaxis(np.asarray(nchw), 1, -1), want, rtol=1e-4, atol=1e-4)
    # gradients (float64) against central differences of the NumPy convolution
    xv, kv = tf.Variable(x), tf.Variable(k)
    w = RNG.standard_normal(want.shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.ops.conv(xv, kv, strides=stride) * w)
    dx, dk = tape.gradient(loss, [xv, kv])
    np.testing.assert_allclose(dk, finite_difference(lambda t: np.sum(_numpy_conv2d_valid(x, t, stride) * w), k),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, finite_difference(lambda t: np.sum(_numpy_conv2d_valid(t, k, stride) * w), x),
                               rtol=1e-6, atol=1e-6)


def test_ops_pooling_and_tf_nn_pools():
    x = RNG.standard_normal((2, 4, 6, 3))
    want_max = x.reshape(2, 2, 2, 3, 2, 3).max(axis=(2, 4))
    want_avg = x.reshape(2, 2, 2, 3, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(keras.ops.max_pool(x, 2), want_max)
    np.testing.assert_allclose(keras.ops.average_pool(x, 2), want_avg)
    np.testing.assert_allclose(tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID"), want_max)
    np.testing.assert_allclose(tf.nn.avg_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), want_avg)
    nchw = tf.nn.max_pool2d(np.moveaxis(x, -1, 1), ksize=[1, 1, 2, 2], strides=[1, 1, 2, 2], padding="VALID",
                            data_format="NCHW")
    np.testing.assert_allclose(np.moveaxis(np.asarray(nchw), 1, -1), want_max)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.ops.average_pool(xv, 2))
    np.testing.assert_allclose(tape.gradient(loss, xv), np.full(x.shape, 0.25))


def test_tensor_array_as_a_decoding_loop_fills_it():
    output = tf.TensorArray(dtype=tf.int64, size=0, dynamic_size=True)  # the Transformer tutorial's Translator
    output = output.write(0, [1])
    for i in range(3):
        output = output.write(i + 1, np.array([i + 5]))
    np.testing.assert_array_equal(tf.transpose(output.stack()), [[1, 5, 6, 7]])
    assert output.size().numpy() == 4 and output.read(2).tolist() == [6] and output.stack().dtype == np.int64
    fixed = tf.TensorArray(tf.float32, size=2)
    with pytest.raises(IndexError, match="out of range for an array of size 2"):
        fixed.write(2, 1.0)
    with pytest.raises(ValueError, match="never written"):
        fixed.stack()
    np.testing.assert_array_equal(fixed.unstack(np.eye(2)).stack(), np.eye(2))


def test_gradients_through_boolean_mask_resize_pad_and_normalize():
    x = tf.Variable(np.arange(6.0).reshape(3, 2))
    keep = np.array([[True, True], [False, False], [True, True]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.boolean_mask(x, keep) ** 2)
    np.testing.assert_allclose(tape.gradient(loss, x), 2 * x.numpy() * keep)  # to the kept entries only
    images = tf.Variable(RNG.random((1, 4, 4, 3)).astype("float32"))
    for fn, want in [(lambda t: tf.image.resize(t, (8, 8)), 4.0), (lambda t: keras.ops.image.resize(t, (8, 8)), 4.0),
                     (lambda t: tf.image.pad_to_bounding_box(t, 1, 1, 6, 6), 1.0)]:
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(fn(images))
        np.testing.assert_allclose(tape.gradient(total, images), np.full((1, 4, 4, 3), want), rtol=1e-5)
    v = tf.Variable(np.array([[3.0, 4.0]]))
    with tf.GradientTape() as tape:
        first = tf.reduce_sum(keras.utils.normalize(v, axis=1)[:, 0])
    np.testing.assert_allclose(tape.gradient(first, v), [[16 / 125, -12 / 125]], rtol=1e-6)  # d(v0/|v|)/dv


def test_where_with_the_condition_alone_gives_coordinates():
    c = np.array([[1, 0, 2], [0, 3, 0]]) > 0
    coords = tf.where(c)
    assert coords.dtype == np.int64 and coords.tolist() == [[0, 0], [0, 2], [1, 1]]
    assert int(tf.shape(coords)[0]) == 3
    np.testing.assert_array_equal(tf.gather_nd(np.arange(6).reshape(2, 3), coords), [0, 2, 4])


def test_tf_random_stateless_draws_generator_and_split():
    # the data-augmentation tutorial: seeds from a Generator, split, for the stateless image ops
    import fastnn as tf

    rng = tf.random.Generator.from_seed(123, alg="philox")
    seed = rng.make_seeds(2)[0]
    assert seed.shape == (2,) and seed.dtype == np.int64
    again = tf.random.Generator.from_seed(123).make_seeds(2)[0]
    np.testing.assert_array_equal(seed, again)
    new_seed = tf.random.experimental.stateless_split(seed, num=1)[0, :]
    assert new_seed.shape == (2,) and not np.array_equal(new_seed, seed)
    assert tf.random.split(seed, num=3).shape == (3, 2) and tf.random.fold_in(seed, 5).shape == (2,)
    np.testing.assert_array_equal(tf.random.split(seed, 3), tf.random.split(seed, 3))
    a = tf.random.stateless_uniform((2, 3), seed=(1, 2))
    np.testing.assert_array_equal(a, tf.random.stateless_uniform((2, 3), seed=(1, 2)))
    assert not np.array_equal(a, tf.random.stateless_uniform((2, 3), seed=(1, 3)))
    assert a.dtype == np.float32 and ((a >= 0) & (a < 1)).all()
    ints = tf.random.stateless_uniform((50,), seed=(1, 2), minval=0, maxval=10, dtype="int32")
    assert ints.dtype == np.int32 and ints.min() >= 0 and ints.max() < 10
    assert np.abs(tf.random.stateless_truncated_normal((100,), seed=(4, 5))).max() <= 2
    assert rng.normal((3,)).shape == (3,) and rng.uniform((2,), 0, 5, dtype="int64").dtype == np.int64
    with pytest.raises(ValueError, match="random.stateless_normal: seed must be a pair of integers"):
        tf.random.stateless_normal((2,), seed=5)


def test_stateless_draws_are_tensorflows_philox_numbers():
    # TensorFlow's documented values (tf.random.split's page, tf.random.Generator's, image_ops_impl.py's doctests)
    import fastnn as tf

    split = tf.random.split([1, 2], num=3)
    assert split.dtype == np.int32
    assert split.tolist() == [[1105988140, 1738052849], [-335576002, 370444179], [10670227, -246211131]]
    np.testing.assert_allclose(tf.random.Generator.from_seed(1234).normal(shape=(2, 3)),
                               [[0.9356609, 1.0854305, -0.93788373], [-0.5061547, 1.3169702, 0.7137579]], rtol=1e-5)
    x = np.array([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]], np.float32)
    np.testing.assert_allclose(tf.image.stateless_random_brightness(x, 0.2, (1, 2)), x + 0.1376243, rtol=1e-6)
    image = np.arange(1, 13, dtype=np.int32).reshape(2, 2, 3)
    assert tf.image.stateless_random_crop(image, (1, 2, 3), seed=(1, 2)).tolist() == [[[1, 2, 3], [4, 5, 6]]]
    pytest.importorskip("PIL")
    assert tf.image.stateless_random_jpeg_quality(x.astype(np.uint8), 75, 95, (1, 2)).reshape(-1).tolist() == \
        [0, 4, 5, 1, 5, 6, 5, 9, 10, 5, 9, 10]
