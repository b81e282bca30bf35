"""Bad inputs at the boundary: each must raise the right exception type with a message naming the
op and the argument (and what was received), never crash or silently compute garbage. Where the
two backends share the contract the test runs on both; the in-place rules of gemm's ``c`` are the
C++ backend's (the reference writes NumPy arrays of any layout in place). Also: inputs that look
odd but are valid (non-contiguous, Fortran-order, read-only, other dtypes, zero-size) give the
same numbers as their plain float32 C-contiguous copies."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastnn
from fastnn import ops

from helpers import check_op

BACKENDS = ["cpp", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    with fastnn.backend(request.param):
        yield request.param


def f32(*shape):
    return np.ones(shape, np.float32)


def raises(exc, *fragments):
    """pytest.raises(exc) whose message must contain every fragment (literally, in order)."""
    return pytest.raises(exc, match=".*".join(re.escape(f) for f in fragments))


# ---- Wrong dtype --------------------------------------------------------------------------------

NOT_REAL = {
    "complex": np.ones((2, 2), np.complex64),
    "object": np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object),
    "string": np.array([["a", "b"], ["c", "d"]]),
    "bytes": np.array([[b"a", b"b"], [b"c", b"d"]]),
}


@pytest.mark.parametrize("kind", NOT_REAL)
def test_wrong_dtype_is_a_type_error(backend, kind):
    bad = NOT_REAL[kind]
    with raises(TypeError, "matmul", "a", "real numbers", str(bad.dtype)):
        ops.matmul(bad, f32(2, 2))
    with raises(TypeError, "matmul", "b", "real numbers"):
        ops.matmul(f32(2, 2), bad)
    with raises(TypeError, "gemm", "b"):
        ops.gemm(f32(2, 2), bad, trans_b=True)
    with raises(TypeError, "activation_forward", "x"):
        ops.activation_forward(bad, "relu")
    with raises(TypeError, "activation_backward", "dy"):
        ops.activation_backward(bad, f32(2, 2), "relu")
    with raises(TypeError, "dense_forward", "w"):
        ops.dense_forward(f32(3, 2), bad)
    with raises(TypeError, "dense_forward", "b"):
        ops.dense_forward(f32(3, 2), f32(2, 2), bad[0])
    with raises(TypeError, "dense_backward", "y"):
        ops.dense_backward(f32(3, 2), f32(3, 2), f32(2, 2), np.resize(bad, (3, 2)))
    with raises(TypeError, "loss_forward", "y_pred"):
        ops.loss_forward(f32(2, 2), bad, "mse")
    with raises(TypeError, "loss_backward", "y_true"):
        ops.loss_backward(bad, f32(2, 2), "mse")
    with raises(TypeError, "loss_forward", "sample_weight"):
        ops.loss_forward(f32(2, 2), f32(2, 2), "mse", sample_weight=bad[0])
    with raises(TypeError, "loss_forward", "y_true", "integer class indices"):
        ops.loss_forward(bad[0], f32(2, 2), "sparse_categorical_crossentropy")


def test_none_input_is_a_type_error(backend):
    with raises(TypeError, "matmul", "a", "None"):
        ops.matmul(None, f32(2, 2))
    with raises(TypeError, "dense_forward", "x"):
        ops.dense_forward(None, f32(2, 2))


class _ArrayRaises:
    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array here")


def test_not_array_like_is_a_type_error_with_numpy_reason(backend):
    # a ragged list or an __array__ that raises: TypeError naming the op and the argument, with NumPy's
    # reason. The C++ backend said only "Received: <class 'list'>" (a list is array-like, just not this
    # one), the NumPy backend let NumPy's own ValueError/RuntimeError out, naming no op.
    ragged = [[1.0, 2.0], [3.0]]
    ragged_reason = "(ValueError: setting an array element with a sequence"
    cases = [(lambda v: ops.matmul(v, f32(2, 2)), "matmul: a must be array-like"),
             (lambda v: ops.dense_backward(f32(2, 2), f32(2, 2), f32(2, 2), v), "dense_backward: y must be array-like"),
             (lambda v: ops.loss_forward(v, f32(2, 3), "sparse_categorical_crossentropy"),
              "loss_forward: y_true must be an array of class indices"),
             (lambda v: ops.crossentropy_logits_backward(v, f32(2, 3)),
              "crossentropy_logits_backward: y_true must be array-like"),
             (lambda v: ops.crossentropy_logits_backward(f32(2, 3), v),
              "crossentropy_logits_backward: probs must be array-like"),
             (lambda v: ops.maxpool1d_backward(f32(1, 2, 1), v, (1, 4, 1)),
              "maxpool1d_backward: argmax must be the integer array returned by the forward op"),
             (lambda v: ops.global_maxpool_backward(f32(1, 1), v, (1, 4, 1)),
              "global_maxpool_backward: argmax must be the integer array returned by the forward op"),
             (lambda v: ops.dropout_backward(f32(2, 2), v, 0.5),
              "dropout_backward: mask must be the uint8 (or bool) mask from dropout_forward")]
    for call, expected in cases:
        with raises(TypeError, expected, "Received: <class 'list'>", ragged_reason):
            call(ragged)
        with raises(TypeError, expected, "_ArrayRaises'> (RuntimeError: no array here)"):
            call(_ArrayRaises())


def test_boolean_labels_are_refused(backend):
    with raises(TypeError, "loss_forward", "y_true", "bool"):
        ops.loss_forward(np.array([True, False]), f32(2, 3), "sparse_categorical_crossentropy")


# ---- Wrong ndim and mismatched shapes -----------------------------------------------------------


def test_wrong_ndim(backend):
    kernels = fastnn._backend.current()  # (ops.matmul hands arrays that are not 2-D to Keras's batched matmul)
    with raises(ValueError, "matmul", "a", "2-D", "(3,)"):
        kernels.matmul(f32(3), f32(3, 2))
    with raises(ValueError, "matmul", "b", "2-D", "(3, 2, 1)"):
        kernels.matmul(f32(2, 3), f32(3, 2, 1))
    with raises(ValueError, "gemm", "a", "2-D"):
        ops.gemm(np.float32(1.0), f32(1, 1))
    with raises(ValueError, "dense_forward", "x", "2-D", "(2, 3, 4)"):
        ops.dense_forward(f32(2, 3, 4), f32(4, 2))
    with raises(ValueError, "dense_forward", "w", "(4,)"):
        ops.dense_forward(f32(2, 4), f32(4))
    with raises(ValueError, "dense_forward", "b", "(1, 2)"):
        ops.dense_forward(f32(3, 4), f32(4, 2), f32(1, 2))


def test_softmax_of_a_scalar_is_refused(backend):
    with raises(ValueError, "activation_forward", "softmax", "1-D"):
        ops.activation_forward(np.float32(2.0), "softmax")


def test_loss_of_a_scalar_prediction_is_refused(backend):
    with raises(ValueError, "loss_forward", "y_pred", "shape=()"):
        ops.loss_forward(np.float32(1.0), np.float32(0.5), "mse")


@pytest.mark.parametrize("a_shape,b_shape", [((2, 3), (4, 5)), ((1, 7), (8, 1)), ((5, 0), (1, 5))])
def test_mismatched_inner_dimension_names_both_shapes(backend, a_shape, b_shape):
    with raises(ValueError, "matmul", "inner dimensions", f"a.shape={a_shape}", f"b.shape={b_shape}"):
        ops.matmul(f32(*a_shape), f32(*b_shape))


def test_gemm_mismatch_with_transposes(backend):
    # op(a) = aᵀ (4, 3), op(b) = b (4, 5): K is 3 vs 4
    with raises(ValueError, "gemm", "inner dimensions", "a.shape=(3, 4)", "b.shape=(4, 5)"):
        ops.gemm(f32(3, 4), f32(4, 5), trans_a=True)
    with raises(ValueError, "gemm", "inner dimensions", "a.shape=(2, 3)", "b.shape=(3, 5)"):
        ops.gemm(f32(2, 3), f32(3, 5), trans_b=True)


def test_mismatched_dense_shapes(backend):
    with raises(ValueError, "dense_forward", "w", "C=3", "w.shape=(4, 2)"):
        ops.dense_forward(f32(5, 3), f32(4, 2))
    with raises(ValueError, "dense_forward", "b", "OC=2", "b.shape=(3,)"):
        ops.dense_forward(f32(5, 3), f32(3, 2), f32(3))
    with raises(ValueError, "dense_backward", "w", "C=3"):
        ops.dense_backward(f32(5, 2), f32(5, 3), f32(4, 2), f32(5, 2))
    with raises(ValueError, "dense_backward", "dy", "(5, 2)", "dy.shape=(5, 3)"):
        ops.dense_backward(f32(5, 3), f32(5, 3), f32(3, 2), f32(5, 2))
    with raises(ValueError, "dense_backward", "y", "(5, 2)", "y.shape=(4, 2)"):
        ops.dense_backward(f32(5, 2), f32(5, 3), f32(3, 2), f32(4, 2))
    with raises(ValueError, "activation_backward", "dy.shape=(2, 3)", "y.shape=(3, 2)"):
        ops.activation_backward(f32(2, 3), f32(3, 2), "relu")


def test_mismatched_loss_shapes(backend):
    with raises(ValueError, "loss_forward", "y_true", "(4, 3)", "y_true.shape=(4, 2)"):
        ops.loss_forward(f32(4, 2), f32(4, 3), "mse")
    with raises(ValueError, "loss_backward", "y_true", "y_true.shape=(3, 4)"):
        ops.loss_backward(f32(3, 4), f32(4, 3), "categorical_crossentropy")
    with raises(ValueError, "loss_forward", "sample_weight", "N=4", "(4, 1)"):
        ops.loss_forward(f32(4, 3), f32(4, 3), "mse", sample_weight=f32(4, 1))
    with raises(ValueError, "loss_forward", "y_true", "(N,) or (N, 1)", "N=4", "(4, 2)"):
        ops.loss_forward(np.zeros((4, 2), np.int64), f32(4, 3), "sparse_categorical_crossentropy")
    with raises(ValueError, "loss_forward", "y_true", "N=4", "(5,)"):
        ops.loss_forward(np.zeros(5, np.int64), f32(4, 3), "sparse_categorical_crossentropy")
    with raises(ValueError, "crossentropy_logits_backward", "y_true"):
        ops.crossentropy_logits_backward(f32(4, 2), f32(4, 3))


# ---- gemm's c, written in place (C++ backend) ---------------------------------------------------


def test_gemm_c_must_be_float32():
    with raises(TypeError, "gemm", "c", "float32", "float64"):
        ops.gemm(f32(2, 3), f32(3, 4), np.zeros((2, 4)))
    with raises(TypeError, "gemm", "c", "ndarray", "list"):
        ops.gemm(f32(2, 3), f32(3, 4), [[0.0] * 4] * 2)


@pytest.mark.parametrize("layout", ["fortran", "strided", "transposed"])
def test_gemm_c_must_be_c_contiguous(layout):
    base = np.zeros((4, 4), np.float32)
    c = {"fortran": np.asfortranarray(base[:2]), "strided": base[::2], "transposed": base[:, :2].T}[layout]
    assert c.shape == (2, 4)
    with raises(ValueError, "gemm", "c", "C-contiguous", "(2, 4)"):
        ops.gemm(f32(2, 3), f32(3, 4), c)
    assert not base.any(), "a refused c must not be written"


def test_gemm_c_must_be_writeable_and_of_the_right_shape():
    c = np.zeros((2, 4), np.float32)
    c.setflags(write=False)
    with raises(ValueError, "gemm", "c", "read-only"):
        ops.gemm(f32(2, 3), f32(3, 4), c)
    with raises(ValueError, "gemm", "c", "(2, 4)", "c.shape=(4, 2)"):
        ops.gemm(f32(2, 3), f32(3, 4), np.zeros((4, 2), np.float32))
    with raises(ValueError, "gemm", "c", "(2, 4)", "c.shape=(8,)"):
        ops.gemm(f32(2, 3), f32(3, 4), np.zeros(8, np.float32))


# ---- Odd but valid read-only inputs: converted, same numbers ------------------------------------


def _variants(a):
    """Views and copies of float32 ``a`` that hold the same numbers in other layouts and dtypes."""
    ro = a.copy()
    ro.setflags(write=False)
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), np.float32)
    wide[:, ::2] = a
    rev = np.ascontiguousarray(a[::-1])
    return {
        "fortran": np.asfortranarray(a),
        "strided": wide[:, ::2],
        "negative-stride": rev[::-1],
        "transposed-view": np.ascontiguousarray(a.T).T,
        "read-only": ro,
        "read-only-strided": np.lib.stride_tricks.as_strided(wide, a.shape, wide.strides[:1] + (8,),
                                                              writeable=False),
        "float64": a.astype(np.float64),
        "list": a.tolist(),
    }


def test_odd_layouts_are_accepted_and_exact(rng):
    a = rng.standard_normal((7, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    want_mm = ops.matmul(a, b)
    want_tt = ops.gemm(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), trans_a=True, trans_b=True)
    want_dense = ops.dense_forward(a, b, bias, "tanh")
    dy = rng.standard_normal((7, 3)).astype(np.float32)
    want_back = ops.dense_backward(dy, a, b, want_dense, "tanh")
    want_act = ops.activation_forward(a, "sigmoid")
    for name, va in _variants(a).items():
        np.testing.assert_array_equal(ops.matmul(va, b), want_mm, err_msg=name)
        for nb, vb in _variants(b).items():
            np.testing.assert_array_equal(ops.matmul(va, vb), want_mm, err_msg=f"{name} @ {nb}")
        vat = _variants(np.ascontiguousarray(a.T))[name]
        vbt = _variants(np.ascontiguousarray(b.T))[name]
        np.testing.assert_array_equal(ops.gemm(vat, vbt, trans_a=True, trans_b=True), want_tt, err_msg=name)
        np.testing.assert_array_equal(ops.dense_forward(va, b, bias, "tanh"), want_dense, err_msg=name)
        got = ops.dense_backward(dy, va, _variants(b)[name], want_dense, "tanh")
        for g, w in zip(got, want_back):
            np.testing.assert_array_equal(g, w, err_msg=name)
        np.testing.assert_array_equal(ops.activation_forward(va, "sigmoid"), want_act, err_msg=name)


def test_odd_layouts_in_losses(rng):
    p = rng.uniform(0.05, 1, (6, 4)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)]
    want = ops.loss_forward(t, p, "categorical_crossentropy")
    want_grad = ops.loss_backward(t, p, "categorical_crossentropy")
    for name, vp in _variants(p).items():
        vt = _variants(t)[name]
        assert ops.loss_forward(vt, vp, "categorical_crossentropy") == want, name
        np.testing.assert_array_equal(ops.loss_backward(vt, vp, "categorical_crossentropy"), want_grad,
                                      err_msg=name)


def test_integer_and_boolean_inputs_are_converted(backend):
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    b = np.ones((3, 2), dtype=bool)
    np.testing.assert_array_equal(ops.matmul(a, b), [[3, 3], [12, 12]])
    np.testing.assert_array_equal(ops.matmul(a.astype(np.uint8), b.astype(np.int64)), [[3, 3], [12, 12]])


# ---- Zero-size inputs ---------------------------------------------------------------------------


def test_zero_size_products(backend):
    out = ops.matmul(f32(0, 5), f32(5, 3))
    assert out.shape == (0, 3)
    out = ops.matmul(f32(4, 0), f32(0, 3))
    assert out.shape == (4, 3)
    np.testing.assert_array_equal(out, np.zeros((4, 3)))
    assert ops.matmul(f32(4, 5), f32(5, 0)).shape == (4, 0)
    c = np.full((4, 3), np.nan, np.float32)
    ops.gemm(f32(0, 4), f32(0, 3), c, trans_a=True)  # beta = 0: the NaNs are not read
    np.testing.assert_array_equal(c, np.zeros((4, 3)))


def test_zero_size_checks_still_apply(backend):
    with raises(ValueError, "matmul", "inner dimensions"):
        ops.matmul(f32(0, 5), f32(4, 0))


def test_zero_size_matches_reference():
    check_op("matmul", f32(0, 5), f32(5, 3))
    check_op("matmul", f32(4, 0), f32(0, 3))
    check_op("gemm", f32(0, 4), f32(0, 3), trans_a=True, alpha=2.0)


@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_empty_batch_is_a_value_error(backend, loss):
    t = np.zeros(0, np.int64) if loss.startswith("sparse") else f32(0, 3)
    with raises(ValueError, "loss_forward", "batch is empty", "(0, 3)"):
        ops.loss_forward(t, f32(0, 3), loss)
    with raises(ValueError, "loss_backward", "batch is empty"):
        ops.loss_backward(t, f32(0, 3), loss)
    with raises(ValueError, "crossentropy_logits_backward", "batch is empty"):
        ops.crossentropy_logits_backward(t, f32(0, 3))


def test_no_values_per_sample_is_a_value_error(backend):
    with raises(ValueError, "loss_forward", "no values per sample", "(4, 0)"):
        ops.loss_forward(f32(4, 0), f32(4, 0), "mse")


# ---- Labels -------------------------------------------------------------------------------------

BAD_LABELS = {
    "too-large": np.array([0, 3, 1]),
    "negative": np.array([0, -1, 1]),
    "non-integral": np.array([0.0, 1.5, 1.0]),
    "nan": np.array([0.0, np.nan, 1.0]),
    "inf": np.array([0.0, np.inf, 1.0]),
    "huge": np.array([0, 2**62, 1]),
}


@pytest.mark.parametrize("kind", BAD_LABELS)
def test_bad_labels_are_value_errors(backend, kind):
    labels = BAD_LABELS[kind]
    p = np.full((3, 3), 1 / 3, np.float32)
    for op in ("loss_forward", "loss_backward"):
        for from_logits in (False, True):
            with raises(ValueError, op, "y_true", "[0, 3)", "y_true[1]="):
                getattr(ops, op)(labels, p, "sparse_categorical_crossentropy", from_logits)
    with raises(ValueError, "crossentropy_logits_backward", "y_true", "[0, 3)", "y_true[1]="):
        ops.crossentropy_logits_backward(labels, p)
    with raises(ValueError, "crossentropy_logits_backward", "y_true", "[0, 3)"):
        ops.crossentropy_logits_backward(labels.reshape(3, 1), p)
    if kind != "non-integral":  # (the functions cast labels to integers, as Keras's do)
        for function in (fastnn.losses.sparse_categorical_crossentropy, fastnn.keras.backend.sparse_categorical_crossentropy):
            with raises(ValueError, "sparse_categorical_crossentropy", "y_true", "[0, 3)"):
                function(labels, p)


# ---- Names and hyper-parameters -----------------------------------------------------------------


def test_unknown_activation(backend):
    x = f32(2, 3)
    for call in (lambda: ops.activation_forward(x, "geLU"), lambda: ops.activation_backward(x, x, "ReLU"),
                 lambda: ops.dense_forward(x, f32(3, 2), None, "swish"),  # Keras's alias: the layers resolve it
                 lambda: ops.dense_backward(f32(2, 2), x, f32(3, 2), f32(2, 2), "")):
        with raises(ValueError, "unknown activation", "'relu'", "Received: activation="):
            call()
    # the activations whose derivative needs their input are not fused into the kernels
    for call in (lambda: ops.activation_backward(x, x, "gelu"), lambda: ops.dense_forward(x, f32(3, 2), None, "silu"),
                 lambda: ops.conv2d_backward(f32(1, 3, 3, 2), f32(1, 5, 5, 1), f32(3, 3, 1, 2), f32(1, 3, 3, 2),
                                             activation="mish")):
        with raises(ValueError, "is not fused into this kernel: its derivative needs its input",
                    "activation_backward_input"):
            call()
    with raises(ValueError, "activation_backward_input: activation='relu' is differentiated from its output"):
        ops.activation_backward_input(x, x, "relu")


def test_names_must_be_str(backend):
    """bytes, None or a number where a name goes: TypeError naming the argument, on both backends
    (pybind11's std::string would take b'relu' as 'relu' in C++ alone)."""
    x, img, seq = f32(2, 3), f32(1, 5, 5, 1), f32(2, 3, 4)
    calls = [("activation_forward", "activation", lambda v: ops.activation_forward(x, v)),
             ("dense_forward", "activation", lambda v: ops.dense_forward(x, f32(3, 2), None, v)),
             ("conv2d_forward", "padding", lambda v: ops.conv2d_forward(img, f32(3, 3, 1, 2), padding=v)),
             ("conv2d_forward", "activation", lambda v: ops.conv2d_forward(img, f32(3, 3, 1, 2), activation=v)),
             ("maxpool2d_forward", "padding", lambda v: ops.maxpool2d_forward(img, pool_size=(2, 2), padding=v)),
             ("loss_forward", "loss", lambda v: ops.loss_forward(f32(2, 3), x, v)),
             ("lstm_forward", "recurrent_activation",
              lambda v: ops.lstm_forward(seq, f32(4, 8), f32(2, 8), recurrent_activation=v))]
    for op, arg, call in calls:
        for value in (b"relu", None, 3):
            with raises(TypeError, op, f"{arg} must be a str", f"Received: {arg}={value!r}"):
                call(value)


def _same_result(got, want):
    """Whether two op results (arrays, floats, None, or tuples of them) are identical."""
    if isinstance(want, tuple):
        return isinstance(got, tuple) and len(got) == len(want) and all(map(_same_result, got, want))
    if got is None or want is None:
        return got is want
    return np.array_equal(got, want)


def test_flags_must_be_bool(backend, rng):
    """A flag takes True/False, numpy.bool_ or an integer (Python or NumPy) equal to 0 or 1 and reads
    it as that bool; anything else is a TypeError naming the op and the argument, on both backends
    (pybind11's bool took None, 2.5 or 7 in C++ alone, the NumPy backend any truthy value)."""

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    a, x, w, dy = r(3, 3), r(4, 3), r(3, 2), r(4, 2)
    img, k, dimg = r(1, 5, 5, 1), r(3, 3, 1, 2), r(1, 3, 3, 2)
    probs, target = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32), (r(4, 3) > 0).astype(np.float32)
    bn, seq, lstm_w, lstm_u, gru_w, gru_u = r(6, 3), r(2, 3, 4), r(4, 8), r(2, 8), r(4, 6), r(2, 6)
    param, grad = r(5), r(5)

    def batchnorm(v):  # fresh moving statistics: training updates them in place
        return ops.batchnorm_forward(bn, None, None, np.zeros(3, np.float32), np.ones(3, np.float32), training=v)

    def updated(step, v):  # the parameter after one step from fresh copies (updated in place)
        p = [param.copy()]
        step(p, v)
        return p[0]

    zeros, ones = np.zeros_like(param), np.ones_like(param)
    sgd = lambda p, v: ops.sgd_update(p, [grad], [ones.copy()], learning_rate=0.1, momentum=0.9, nesterov=v)
    rmsprop = lambda p, v: ops.rmsprop_update(p, [grad], [ones.copy()], None, [zeros.copy()], learning_rate=0.1,
                                              centered=v)
    adam = lambda p, v: ops.adam_update(p, [grad], [zeros.copy()], [zeros.copy()], learning_rate=0.1, step=1,
                                        amsgrad=v, v_hats=[np.full_like(param, 10.0)])
    calls = [("gemm", "trans_a", lambda v: ops.gemm(a, a, trans_a=v)),
             ("dense_backward", "use_bias", lambda v: ops.dense_backward(dy, x, w, dy, use_bias=v)),
             ("dense_backward", "need_dx", lambda v: ops.dense_backward(dy, x, w, dy, need_dx=v)),
             ("dense_backward", "need_dw", lambda v: ops.dense_backward(dy, x, w, dy, need_dw=v)),
             ("loss_forward", "from_logits", lambda v: ops.loss_forward(target, probs, "binary_crossentropy", v)),
             ("crossentropy_logits_backward", "sigmoid",
              lambda v: ops.crossentropy_logits_backward(target, probs, sigmoid=v)),
             ("conv2d_backward", "need_dx", lambda v: ops.conv2d_backward(dimg, img, k, need_dx=v)),
             ("conv2d_backward", "need_dw", lambda v: ops.conv2d_backward(dimg, img, k, need_dw=v)),
             ("batchnorm_forward", "training", batchnorm),
             ("sgd_update", "nesterov", lambda v: updated(sgd, v)),
             ("rmsprop_update", "centered", lambda v: updated(rmsprop, v)),
             ("adam_update", "amsgrad", lambda v: updated(adam, v)),
             ("lstm_forward", "return_sequences", lambda v: ops.lstm_forward(seq, lstm_w, lstm_u, return_sequences=v)),
             ("lstm_forward", "go_backwards", lambda v: ops.lstm_forward(seq, lstm_w, lstm_u, go_backwards=v)),
             ("gru_forward", "reset_after", lambda v: ops.gru_forward(seq, gru_w, gru_u, reset_after=v))]
    for op, arg, call in calls:
        for value in (None, 2.5, 1.0, "yes", 2, -1, np.int64(2), np.array(True), [True]):
            with raises(TypeError, f"{op}: {arg} must be a bool (True or False). Received: {arg}={value!r}"):
                call(value)
        want = {flag: call(flag) for flag in (True, False)}
        assert not _same_result(want[True], want[False]), f"{op}: {arg} makes no difference to these inputs"
        for value in (np.True_, 1, np.int64(1), np.False_, 0, np.uint8(0)):
            assert _same_result(call(value), want[bool(value)]), f"{op}: {arg}={value!r} differs from {bool(value)}"


def test_numbers_must_be_numbers(backend, rng):
    """A number (gemm's alpha and beta, an activation's alpha, batchnorm's momentum and epsilon, dropout's
    rate, the optimizers' hyper-parameters) takes a Python int or float or a NumPy integer or floating
    scalar and reads it as that float; an integer (dropout's seed, Adam's step) a Python int or NumPy
    integer. Anything else is a TypeError naming the op and the argument, on both backends (pybind11's
    double refused a str or None only with its generic overload error, and took True or 0-d arrays; the
    NumPy backend's float() took a str such as "0.1"). The losses and RNNs take no number; the conv and
    pool sizes (an int or a tuple) keep their own check."""

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    a, x, w, img, k = r(3, 3), r(4, 3), r(3, 2), r(1, 5, 5, 1), r(3, 3, 1, 2)
    bn, param, grad = r(6, 3), r(5), r(5)
    ones = np.ones_like(param)

    def batchnorm(**kw):  # the result and the moving statistics, fresh ones each call (updated in place)
        mm, mv = np.zeros(3, np.float32), np.ones(3, np.float32)
        return ops.batchnorm_forward(bn, None, None, mm, mv, **kw) + (mm, mv)

    def updated(update, **kw):  # the parameter after one update from fresh copies (updated in place)
        p = [param.copy()]
        update(p, **kw)
        return p[0]

    def sgd(p, learning_rate=0.5, momentum=0.5):
        ops.sgd_update(p, [grad], [ones.copy()], learning_rate=learning_rate, momentum=momentum)

    def adagrad(p, learning_rate=0.5, epsilon=1e-7):
        ops.adagrad_update(p, [grad], [ones.copy()], learning_rate=learning_rate, epsilon=epsilon)

    def rmsprop(p, learning_rate=0.5, rho=0.9):
        ops.rmsprop_update(p, [grad], [ones.copy()], learning_rate=learning_rate, rho=rho)

    def adam(p, learning_rate=0.5, step=1, beta_1=0.9):
        ops.adam_update(p, [grad], [ones.copy()], [ones.copy()], learning_rate=learning_rate, step=step,
                        beta_1=beta_1)

    # (op, argument, call, a value, another value that must give another result: the argument is read);
    # values exact in float32, so np.float32(value) is that very number
    numbers = [("gemm", "alpha", lambda v: ops.gemm(a, a, alpha=v), 2, 1.0),
               ("gemm", "beta", lambda v: ops.gemm(a, a, a.copy(), beta=v), 2, 0.0),
               ("activation_forward", "alpha", lambda v: ops.activation_forward(x, "leaky_relu", v), 2, 0.5),
               ("dense_forward", "alpha", lambda v: ops.dense_forward(x, w, None, "elu", v), 2, 1.0),
               ("conv2d_forward", "alpha", lambda v: ops.conv2d_forward(img, k, activation="leaky_relu", alpha=v),
                2, 0.25),
               ("batchnorm_forward", "momentum", lambda v: batchnorm(training=True, momentum=v), 0, 0.5),
               ("batchnorm_forward", "epsilon", lambda v: batchnorm(training=False, epsilon=v), 3, 0.5),
               ("dropout_forward", "rate", lambda v: ops.dropout_forward(x, v, 7), 0.5, 0.25),
               ("dropout_backward", "rate", lambda v: ops.dropout_backward(x, np.ones(x.shape, np.uint8), v), 0, 0.5),
               ("sgd_update", "learning_rate", lambda v: updated(sgd, learning_rate=v), 2, 0.5),
               ("sgd_update", "momentum", lambda v: updated(sgd, momentum=v), 1, 0.5),
               ("adagrad_update", "learning_rate", lambda v: updated(adagrad, learning_rate=v), 2, 0.5),
               ("adagrad_update", "epsilon", lambda v: updated(adagrad, epsilon=v), 1, 0.5),
               ("rmsprop_update", "learning_rate", lambda v: updated(rmsprop, learning_rate=v), 2, 0.5),
               ("rmsprop_update", "rho", lambda v: updated(rmsprop, rho=v), 0, 0.5),
               ("adam_update", "learning_rate", lambda v: updated(adam, learning_rate=v), 2, 0.5),
               ("adam_update", "beta_1", lambda v: updated(adam, beta_1=v), 0, 0.5)]
    integers = [("dropout_forward", "seed", lambda v: ops.dropout_forward(x, 0.5, v), 7, 8),
                ("adam_update", "step", lambda v: updated(adam, step=v), 3, 1)]
    for op, arg, call, value, other in numbers:
        for bad in ("0.1", None, [0.1], (0.1,), True, np.True_, 1 + 0j, np.array(value), np.array([value])):
            if bad is None and arg == "alpha" and op != "gemm":
                continue  # an activation's alpha: None takes the activation's default
            with raises(TypeError, f"{op}: {arg} must be a number (int or float). Received: {arg}={bad!r}"):
                call(bad)
        want = call(float(value))
        assert not _same_result(call(other), want), f"{op}: {arg} makes no difference to these inputs"
        forms = [np.float32(value), np.float64(value)]
        if value == int(value):
            forms += [int(value), np.int64(value), np.uint8(value)]
        for form in forms:
            assert _same_result(call(form), want), f"{op}: {arg}={form!r} differs from {float(value)!r}"
    for op, arg, call, value, other in integers:
        for bad in ("7", None, [7], 7.0, np.float32(7), True, np.True_, np.array(value), np.array([value])):
            with raises(TypeError, f"{op}: {arg} must be an int. Received: {arg}={bad!r}"):
                call(bad)
        want = call(value)
        assert not _same_result(call(other), want), f"{op}: {arg} makes no difference to these inputs"
        for form in (np.int64(value), np.uint8(value), np.int32(value)):
            assert _same_result(call(form), want), f"{op}: {arg}={form!r} differs from {value!r}"
    # an int past the largest double is a ValueError on both (a float would be inf)
    with raises(ValueError, "gemm: alpha is too large for a float. Received: alpha=1000"):
        ops.gemm(a, a, alpha=10**400)


def test_unknown_loss(backend):
    for op in ("loss_forward", "loss_backward"):
        with raises(ValueError, op, "unknown loss", "'mse'", "Received: loss='hinge'"):
            getattr(ops, op)(f32(2, 2), f32(2, 2), "hinge")


def test_from_logits_only_for_crossentropies(backend):
    for loss in ("mse", "mean_absolute_error"):
        with raises(ValueError, "loss_forward", "from_logits", "cross-entropies", "Received: loss="):
            ops.loss_forward(f32(2, 2), f32(2, 2), loss, True)


@pytest.mark.parametrize("activation,alpha", [("leaky_relu", -0.1), ("leaky_relu", float("nan")),
                                              ("leaky_relu", float("inf")), ("elu", 0.0), ("elu", -1.0),
                                              ("elu", float("nan"))])
def test_bad_activation_alpha(backend, activation, alpha):
    x = f32(2, 3)
    fragment = "negative_slope >= 0" if activation == "leaky_relu" else "alpha > 0"
    with raises(ValueError, "activation_forward", activation, fragment, "alpha="):
        ops.activation_forward(x, activation, alpha)
    with raises(ValueError, "activation_backward", fragment):
        ops.activation_backward(x, x, activation, alpha)
    with raises(ValueError, "dense_forward", fragment):
        ops.dense_forward(x, f32(3, 2), None, activation, alpha)


@pytest.mark.parametrize("alpha", ["0.1", [0.1], 1 + 1j, np.array([0.1, 0.2]), np.complex64(1), True],
                         ids=["str", "list", "complex", "array", "numpy-complex", "bool"])
@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "relu", "tanh"])
def test_non_numeric_alpha_is_a_type_error(backend, alpha, activation):
    # "op, argument, expected, received": not pybind11's generic cast failure (a RuntimeError), and
    # checked for activations that ignore alpha too (a misplaced argument is never silently dropped)
    with raises(TypeError, "activation_forward", "alpha must be a number (int or float). Received: alpha="):
        ops.activation_forward(f32(2, 3), activation, alpha)


def test_alpha_beyond_float32(backend):
    # finite as a double but inf in the float32 kernel; and an int too large for any float
    with raises(ValueError, "activation_forward", "elu needs a finite float32 alpha > 0. Received: alpha=1e+300"):
        ops.activation_forward(-f32(2, 3), "elu", 1e300)
    with raises(ValueError, "dense_forward", "alpha is too large for a float. Received: alpha=1000"):
        ops.dense_forward(f32(2, 3), f32(3, 2), None, "leaky_relu", 10**400)
    y = ops.activation_forward(-f32(2, 3), "leaky_relu", np.float32(0.25))  # NumPy real scalars are fine
    np.testing.assert_allclose(y, -0.25)


# ---- Sizes that would overflow ------------------------------------------------------------------


@pytest.mark.parametrize("n", [2**31, 2**60])
def test_huge_dims_are_value_errors_not_crashes(n):
    # zero-size operands whose product would have n² elements: the byte count overflows int64
    a, b = np.empty((n, 0), np.float32), np.empty((0, n), np.float32)
    with raises(ValueError, "matmul", f"({n}, {n})", "too large"):
        ops.matmul(a, b)
    with raises(ValueError, "gemm", "too large"):
        ops.gemm(a, np.empty((n, 0), np.float32), trans_b=True)
    with raises(ValueError, "dense_forward", "too large"):
        ops.dense_forward(a, b)
    with fastnn.backend("numpy"), pytest.raises(ValueError):
        ops.matmul(a, b)


@pytest.mark.parametrize("op", ["maxpool1d_backward", "global_maxpool_backward", "avgpool1d_backward"])
def test_x_shape_too_large_names_the_op(backend, op):
    # each size below 2**63 but dx's byte count past int64: the NumPy backend's max-pool scatter raised a
    # bare OverflowError ("Python int too large to convert to C long") naming nothing
    dy, argmax = f32(2, 1, 3), np.zeros((2, 1, 3), np.int32)
    x_shape = (2, 2**62, 3)
    call = {"maxpool1d_backward": lambda: ops.maxpool1d_backward(dy, argmax, x_shape),
            "global_maxpool_backward": lambda: ops.global_maxpool_backward(dy[:, 0], argmax[:, 0], x_shape),
            "avgpool1d_backward": lambda: ops.avgpool1d_backward(dy, x_shape, pool_size=2)}[op]
    with raises(ValueError, f"{op}: dx of shape (2, 4611686018427387904, 3) is too large: its size overflows a "
                "64-bit byte count"):
        call()


def test_geometry_ints_are_ints_lists_tuples_or_arrays(backend):
    """pool_size, strides, dilation_rate: an int (a 0-d integer array too) or a list, tuple or NumPy array of
    one int per axis; x_shape a list or tuple. The C++ backend took any Python sequence (bytes read
    b"\\x02" as a stride of 2; a range or an array as x_shape) and refused a 0-d array with pybind11's bare
    "len() of unsized object"; the NumPy backend refused a 0-d float array the same way."""
    x = f32(1, 6, 1)
    with raises(TypeError, "maxpool1d_forward: strides must be an int or a tuple of 1 ints. Received: strides=b'\\x02'"):
        ops.maxpool1d_forward(x, pool_size=2, strides=b"\x02")
    with raises(TypeError, "avgpool1d_forward: pool_size must be an int or a tuple of 1 ints. Received: pool_size=range"):
        ops.avgpool1d_forward(x, pool_size=range(2, 3))
    with raises(TypeError, "conv1d_forward: strides must be an int or a tuple of 1 ints. Received: strides=array(2.)"):
        ops.conv1d_forward(x, f32(1, 1, 1), strides=np.array(2.0))
    with raises(TypeError, "avgpool1d_backward: x_shape must be a tuple of ints (N, L, C). Received: x_shape=b'"):
        ops.avgpool1d_backward(f32(1, 3, 1), b"\x01\x06\x01", pool_size=2)
    with raises(TypeError, "maxpool1d_backward: x_shape must be a tuple of ints (N, L, C). Received: x_shape=array("):
        ops.maxpool1d_backward(f32(1, 3, 1), np.zeros((1, 3, 1), np.int32), np.array([1, 6, 1]))
    with raises(ValueError, "global_avgpool_backward: x_shape must be (N, L, C), (N, H, W, C) or (N, D, H, W, C). "
                "Received: x_shape=range(1, 4)"):
        ops.global_avgpool_backward(f32(1, 3), range(1, 4))
    # a 0-d integer array is an int, and a 1-D integer array a sequence, on both backends
    want = ops.conv1d_forward(x, f32(1, 1, 1), strides=2)
    np.testing.assert_array_equal(ops.conv1d_forward(x, f32(1, 1, 1), strides=np.array(2)), want)
    np.testing.assert_array_equal(ops.conv1d_forward(x, f32(1, 1, 1), strides=np.array([2])), want)
    np.testing.assert_array_equal(ops.avgpool1d_forward(x, pool_size=np.int64(2), strides=[np.array(2)]),
                                  ops.avgpool1d_forward(x, pool_size=2))


def test_integers_past_int64_are_value_errors(backend):
    # Python ints past 2**63 in geometry arguments: the argument named, never pybind11's cast error
    x = f32(1, 4, 1)
    for arg in ("pool_size", "strides"):
        kw = {"pool_size": 2, arg: 2**64 + 1}
        with raises(ValueError, "maxpool1d_forward", f"{arg} must be positive and below 2**31. Received: {arg}="):
            ops.maxpool1d_forward(x, **kw)
    with raises(ValueError, "conv1d_forward", "dilation_rate must be positive and below 2**31"):
        ops.conv1d_forward(x, f32(2, 1, 1), dilation_rate=np.uint64(2**63 + 5))
    with raises(ValueError, "global_avgpool_backward", "x_shape's sizes must be below 2**63. Received: x_shape=(2, "
                "1180591620717411303424, 4, 4)"):
        ops.global_avgpool_backward(f32(2, 4), (2, 2**70, 4, 4))
    # a step count past int64 is just a very late step: the bias corrections are 1
    # (even past the largest float: the NumPy backend raised a bare OverflowError for 10**400)
    for step in (2**64, 10**400):
        p, m, v = [np.zeros(3, np.float32)], [np.zeros(3, np.float32)], [np.zeros(3, np.float32)]
        ops.adam_update(p, [f32(3)], m, v, learning_rate=0.1, step=step)
        np.testing.assert_allclose(p[0], -0.1 * 0.1 / (np.sqrt(0.001) + 1e-7), rtol=1e-5)


def test_output_too_big_for_memory_names_the_op():
    # 2**58 floats (1 EiB): representable, but no address space holds it
    with raises(MemoryError, "global_avgpool_backward: cannot allocate dx of shape (2, 268435456, 268435456, 2) "
                "(1073741824.0 GiB of 32-bit values)"):
        ops.global_avgpool_backward(f32(2, 2), (2, 2**28, 2**28, 2))


def test_huge_but_representable_result_is_a_memory_error():
    # 2**40 × 2**20 floats (4 EiB) fits int64 bytes but no machine: MemoryError, not a crash
    with pytest.raises((MemoryError, ValueError)):
        ops.matmul(np.empty((2**40, 0), np.float32), np.empty((0, 2**20), np.float32))


def test_input_too_big_to_convert_is_a_memory_error(backend):
    # a stride-0 int8 view (no memory of its own) whose float32 copy would take 4 EiB: NumPy's
    # MemoryError on both backends (the C++ binding used to drop the failed conversion's error and
    # dereference the null array it returned: a segfault)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape=(2**40, 2**20), strides=(0, 0))
    calls = [lambda: ops.activation_forward(huge, "relu"),
             lambda: ops.matmul(huge, f32(2**20, 1)),
             lambda: ops.dense_forward(np.empty((0, 2**40), np.float32), huge),
             lambda: ops.loss_forward(huge, huge, "mse"),
             lambda: ops.global_avgpool_forward(huge[:, :, None])]
    for call in calls:
        with raises(MemoryError, "Unable to allocate"):
            call()


# ---- Threads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, 5000])
def test_set_num_threads_out_of_range(n):
    with raises(ValueError, "set_num_threads", f"n={n}"):
        fastnn.set_num_threads(n)


@pytest.mark.parametrize("n", [1.5, True, "2", None, 2.0], ids=repr)
def test_set_num_threads_not_an_int(n):
    with raises(TypeError, "set_num_threads", "int"):
        fastnn.set_num_threads(n)


def test_set_num_threads_huge_int():
    # larger than any C integer: still a ValueError naming the call, not a cast failure
    with raises(ValueError, "set_num_threads"):
        fastnn.set_num_threads(10**20)



@pytest.mark.parametrize("nd", [1, 2, 3])
def test_fused_conv_maxpool_backward_takes_only_in_window_argmax(backend, nd):
    """The fused backward routes each gradient within its pooling window; an argmax in range but in no
    window of its output (the cropped-away rows, a zeroed argmax) had the C++ backend drop those
    gradients silently where the NumPy backend scattered them. Both refuse it, naming the first."""
    from fastnn import ops

    rng = np.random.default_rng(nd)
    x = rng.random((2,) + (6,) * nd + (2,), dtype=np.float32)
    w = rng.random((2,) * nd + (2, 3), dtype=np.float32)
    forward, backward = getattr(ops, f"conv{nd}d_maxpool_forward"), getattr(ops, f"conv{nd}d_maxpool_backward")
    y, argmax = forward(x, w, pool_size=2)  # conv output 5 per axis, pooled to 2: the last row in no window
    dy = np.ones_like(y)
    backward(dy, argmax, y, x, w, pool_size=2)  # the forward's own argmax: fine
    last = int(np.ravel_multi_index((4,) * nd, (5,) * nd))
    message = f"conv{nd}d_maxpool_backward: argmax.flat[{{}}]={{}} is not a position in its output's pooling window"
    with raises(ValueError, message.format(0, last)):
        backward(dy, np.full_like(argmax, last), y, x, w, pool_size=2)
    # all zeros: right for the first output's window, not for the second along the last axis (flat 3)
    with raises(ValueError, message.format(3, 0)):
        backward(dy, np.zeros_like(argmax), y, x, w, pool_size=2)


@pytest.mark.parametrize("call", [
    lambda x, w: ops_module().conv2d_forward(x, w, padding="same", dilation_rate=(2**31 - 1, 2**31 - 1)),
    lambda x, w: ops_module().conv2d_backward(np.ones((1, 5, 4, 2), np.float32), x, w, padding="same",
                                              dilation_rate=(2**31 - 1, 2**31 - 1)),
    lambda x, w: ops_module().conv2d_maxpool_forward(x, w, padding="same", dilation_rate=2**30, pool_size=2),
    lambda x, w: ops_module().conv3d_forward(x[:, None], w[None], padding="same", dilation_rate=2**21),
], ids=["conv2d_forward", "conv2d_backward", "conv2d_maxpool_forward", "conv3d_forward"])
def test_kernel_reach_too_large_to_pad(call):
    # 'same' padding with a dilation in the billions: the C++ kernels pad each image to hold every window;
    # that raised a bare MemoryError('std::bad_alloc') naming nothing (the NumPy backend computes it)
    x, w = np.ones((1, 5, 4, 2), np.float32), np.ones((2, 2, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"_(forward|backward): the kernel's reach \(dilation_rate=.*, w.shape=.*, "
                                         r"padding='same'\) needs each image padded to about \(.*\) pixels: more "
                                         r"than 2\*\*40 values, too large to compute"):
        call(x, w)


def ops_module():
    from fastnn import _core

    return _core


def test_optimizer_params_from_a_sequence_that_builds_its_items():
    # a list subclass whose __getitem__ returns a new view of the stored weights (a parameter wrapper):
    # the binding held a borrowed handle to that temporary, freed at once, and read freed memory (segfault)
    store = [np.zeros((4, 3), np.float32), np.zeros(5, np.float32)]

    class Views(list):
        def __getitem__(self, i):
            return store[i].reshape(-1)

    grads = [np.ones(12, np.float32), np.ones(5, np.float32)]
    for _ in range(3):
        fastnn._core.sgd_update(Views([None, None]), grads, learning_rate=0.5)
        fastnn._core.adam_update(Views([None, None]), grads, [np.zeros(12, np.float32), np.zeros(5, np.float32)],
                          [np.zeros(12, np.float32), np.zeros(5, np.float32)], learning_rate=0.0, step=1)
    np.testing.assert_array_equal(store[0], np.full((4, 3), -1.5, np.float32))  # (the views were updated)
    np.testing.assert_array_equal(store[1], np.full(5, -1.5, np.float32))


def test_in_place_arrays_of_float32_with_dtype_metadata_are_updated(backend):
    # a float32 dtype carrying metadata is float32 (it was refused as "must be float32. Received: float32");
    # a byte-swapped one is not, and stays refused
    tagged = np.dtype(np.float32, metadata={"tag": 1})
    p = np.ones(3, tagged)
    ops.sgd_update([p], [np.ones(3, np.float32)], learning_rate=0.5)
    np.testing.assert_array_equal(p, [0.5, 0.5, 0.5])
    with pytest.raises(TypeError, match=r"sgd_update: params\[0\] is written in place and must be float32\. "
                                        r"Received: params\[0\]\.dtype=>f4"):
        ops.sgd_update([np.ones(3, ">f4")], [np.ones(3, np.float32)], learning_rate=0.5)
