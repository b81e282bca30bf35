"""ConvLSTM1D/2D/3D: Keras's cell equations (a transcription of Keras 3's ConvLSTMCell, one
convolution per gate, as the oracle), the C++ backend against the float64 NumPy backend, gradients
against finite differences (masks, initial states, go_backwards, dropout), shapes, parameter counts,
configs, saving, and bad input."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import fastnn
from fastnn import reference
from fastnn.layers import Dense, Flatten, Input
from fastnn.layers.conv_recurrent import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from fastnn.models import Model, Sequential, load_model
from helpers import assert_layer_matches_reference, compare_op, gradcheck, layer_gradcheck

CLASSES = {1: ConvLSTM1D, 2: ConvLSTM2D, 3: ConvLSTM3D}


# ---- the cell op: lstm_cell_forward / lstm_cell_backward ------------------------------------------

CELL_ACTS = [("tanh", "sigmoid"), ("relu", "hard_sigmoid"), ("elu", "tanh"), ("linear", "sigmoid")]


@pytest.mark.parametrize("lead,OC", [((1,), 1), ((7,), 3), ((2, 5, 3), 17), ((4, 30, 30), 16), ((0, 2), 4)])
@pytest.mark.parametrize("acts", CELL_ACTS, ids=["-".join(a) for a in CELL_ACTS])
def test_cell_op_matches_reference(lead, OC, acts):
    # shapes that miss the vector width, one row, an empty batch, and one big enough to run threaded
    rng = np.random.default_rng(OC)
    kw = dict(activation=acts[0], recurrent_activation=acts[1])
    z = (2 * rng.standard_normal(lead + (4 * OC,))).astype(np.float32)
    c_prev = rng.standard_normal(lead + (OC,)).astype(np.float32)
    gates, c, a, h = compare_op("lstm_cell_forward", (z, c_prev), kw, rtol=1e-5, atol=1e-6,
                                outputs=["gates", "c", "a", "h"])
    dh = rng.standard_normal(c.shape).astype(np.float32)
    dc = rng.standard_normal(c.shape).astype(np.float32)
    for d in (dc, None):
        compare_op("lstm_cell_backward", (dh, d, gates, a, c_prev), kw, rtol=1e-5, atol=1e-6,
                   outputs=["dz", "dc_prev"])


@pytest.mark.parametrize("acts", CELL_ACTS, ids=["-".join(a) for a in CELL_ACTS])
def test_reference_cell_gradients(acts):
    rng = np.random.default_rng(1)
    kw = dict(activation=acts[0], recurrent_activation=acts[1])
    z, c_prev = rng.standard_normal((3, 2, 8)), rng.standard_normal((3, 2, 2))
    rh, rc = rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 2))

    def loss():
        _, c, _, h = reference.lstm_cell_forward(z, c_prev, **kw)
        return float(np.sum(h * rh) + np.sum(c * rc))

    gates, _, a, _ = reference.lstm_cell_forward(z, c_prev, **kw)
    dz, dc_prev = reference.lstm_cell_backward(rh, rc, gates, a, c_prev, **kw)
    gradcheck(loss, [z, c_prev], [dz, dc_prev], what=f"lstm_cell {acts}", rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("call,match", [
    (lambda o: o.lstm_cell_forward(np.zeros((2, 12)), np.zeros((2, 4))), r"z must be \(\.\.\., 4\*OC\) = \(2, 16\)"),
    (lambda o: o.lstm_cell_forward(np.zeros((3, 16)), np.zeros((2, 4))), r"z must be .* to match c_prev \(2, 4\)"),
    (lambda o: o.lstm_cell_forward(np.zeros((2, 0)), np.zeros((2, 0))), "OC >= 1"),
    (lambda o: o.lstm_cell_forward(np.zeros(4), np.float32(1)), "OC >= 1"),
    (lambda o: o.lstm_cell_forward(np.zeros((2, 16)), np.zeros((2, 4)), activation="softmax"), "elementwise"),
    (lambda o: o.lstm_cell_backward(np.zeros((2, 3)), None, np.zeros((2, 16)), np.zeros((2, 4)), np.zeros((2, 4))),
     r"dh must be \(\.\.\., OC\) = \(2, 4\)"),
    (lambda o: o.lstm_cell_backward(np.zeros((2, 4)), np.zeros((1, 4)), np.zeros((2, 16)), np.zeros((2, 4)),
                                    np.zeros((2, 4))), "dc must be"),
    (lambda o: o.lstm_cell_backward(np.zeros((2, 4)), None, np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((2, 4))),
     "gates must be"),
    (lambda o: o.lstm_cell_backward(np.zeros((2, 4)), None, np.zeros((2, 16)), np.zeros((4,)), np.zeros((2, 4))),
     "a must be"),
])
def test_cell_op_bad_inputs(backend, call, match):
    with fastnn.backend(backend), pytest.raises(ValueError, match=match):
        call(fastnn.ops)


# ---- the layers --------------------------------------------------------------------------------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def keras_conv_lstm(layer, x, h0=None, c0=None, input_masks=None, recurrent_masks=None):
    """Keras 3's ConvLSTM layer, step by step: the kernels split into the i, f, c, o gates, one
    input convolution (the layer's geometry) and one recurrent convolution ('same', unit strides)
    per gate, tanh/sigmoid. Returns (outputs per step (N, T, ...), h, c)."""
    conv = getattr(reference, f"conv{layer.rank}d_forward")
    F = layer.filters
    kernel, recurrent, bias = layer.get_weights()
    gate = [slice(k * F, (k + 1) * F) for k in range(4)]
    seq = x[:, ::-1] if layer.go_backwards else x
    ones = [1.0] * 4
    input_masks = ones if input_masks is None else input_masks
    recurrent_masks = ones if recurrent_masks is None else recurrent_masks
    N, T = x.shape[:2]
    step = conv(seq[:, 0], kernel[..., gate[0]], padding=layer.padding, strides=layer.strides,
                dilation_rate=layer.dilation_rate)
    h = np.zeros(step.shape) if h0 is None else h0
    c = np.zeros(step.shape) if c0 is None else c0
    outs = []
    for t in range(T):
        z = [conv(seq[:, t] * input_masks[k], kernel[..., gate[k]], bias[gate[k]], padding=layer.padding,
                  strides=layer.strides, dilation_rate=layer.dilation_rate)
             + conv(h * recurrent_masks[k], recurrent[..., gate[k]], padding="same") for k in range(4)]
        i, f, o = _sigmoid(z[0]), _sigmoid(z[1]), _sigmoid(z[3])
        c = f * c + i * np.tanh(z[2])
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, axis=1), h, c


def _random_weights(layer, rng, scale=0.3):
    layer.set_weights([rng.uniform(-scale, scale, w.shape) for w in layer.get_weights()])


GEOMETRIES = [
    (2, dict(kernel_size=3, padding="same")),
    (2, dict(kernel_size=(3, 2), padding="valid")),
    (2, dict(kernel_size=3, strides=2, padding="same")),
    (2, dict(kernel_size=2, dilation_rate=2, padding="valid")),
    (1, dict(kernel_size=3, padding="same")),
    (1, dict(kernel_size=2, strides=2, padding="valid")),
    (3, dict(kernel_size=2, padding="same")),
]


@pytest.mark.parametrize("rank,geometry", GEOMETRIES, ids=[f"{r}d-{i}" for i, (r, _) in enumerate(GEOMETRIES)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_keras_cell(float64_numpy, rank, geometry, go_backwards):
    rng = np.random.default_rng(rank)
    spatial = {1: (7,), 2: (6, 5), 3: (4, 3, 4)}[rank]
    x = rng.standard_normal((2, 3, *spatial, 2))
    layer = CLASSES[rank](3, return_sequences=True, return_state=True, go_backwards=go_backwards, **geometry)
    layer.build(x.shape)
    _random_weights(layer, rng)
    seq, h, c = layer(x)
    want_seq, want_h, want_c = keras_conv_lstm(layer, x)
    np.testing.assert_allclose(seq, want_seq, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c, want_c, rtol=1e-12, atol=1e-12)
    assert layer.compute_output_shape((None, *x.shape[1:])) == [(None, *seq.shape[1:]), (None, *h.shape[1:])] * 1 + \
        [(None, *c.shape[1:])]


def test_initial_states_and_dropout_masks_as_keras(float64_numpy):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 5, 4, 2))
    layer = ConvLSTM2D(3, 3, padding="same", dropout=0.3, recurrent_dropout=0.4, seed=5, return_state=True)
    layer.build(x.shape)
    _random_weights(layer, rng)
    h0, c0 = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((2, 5, 4, 3))
    out, h, c = layer(x, initial_state=[h0, c0], training=True)
    # the layer's own masks, one per gate: every element of a step's input (or of h) and 0 or 1/(1 - rate)
    assert layer._mask.shape == (4, 2, 5, 4, 2) and layer._rec_mask.shape == (4, 2, 5, 4, 3)
    assert set(np.unique(layer._mask)) == {0, 1 / 0.7} and set(np.unique(layer._rec_mask)) == {0, 1 / 0.6}
    assert not np.array_equal(layer._mask[0], layer._mask[1])
    _, want_h, want_c = keras_conv_lstm(layer, x, h0, c0, list(layer._mask), list(layer._rec_mask))
    np.testing.assert_allclose(h, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c, want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out, h)
    # at inference no dropout
    _, want_h, _ = keras_conv_lstm(layer, x, h0, c0)
    np.testing.assert_allclose(layer(x, initial_state=[h0, c0])[1], want_h, rtol=1e-12, atol=1e-12)


def _with_mask(layer, mask):
    layer.call = partial(type(layer).call, layer, mask=mask)
    return layer


MASK = np.array([[True, False, True, True], [False, False, False, False]])

GRAD_CASES = [
    (2, dict(kernel_size=3, padding="same")),
    (2, dict(kernel_size=2, strides=2, padding="valid", return_sequences=True)),
    (2, dict(kernel_size=3, padding="same", return_sequences=True, go_backwards=True)),
    (2, dict(kernel_size=3, padding="same", dropout=0.3, recurrent_dropout=0.4, seed=3, return_sequences=True)),
    (2, dict(kernel_size=3, padding="same", activation="relu", recurrent_activation="hard_sigmoid", use_bias=False)),
    (1, dict(kernel_size=3, padding="same", return_sequences=True)),
    (3, dict(kernel_size=2, padding="valid")),
]


@pytest.mark.parametrize("rank,opts", GRAD_CASES, ids=[f"{r}d-{i}" for i, (r, _) in enumerate(GRAD_CASES)])
def test_gradients(float64_numpy, rank, opts):
    rng = np.random.default_rng(11)
    spatial = {1: (5,), 2: (4, 4), 3: (3, 3, 3)}[rank]
    layer = CLASSES[rank](2, **opts)
    x = rng.standard_normal((2, 3, *spatial, 2))
    layer_gradcheck(layer, x, seed=1, before_call=lambda: setattr(layer, "_calls", 0))  # the same dropout masks


@pytest.mark.parametrize("opts", [{}, {"return_sequences": True, "go_backwards": True},
                                  {"return_sequences": True, "zero_output_for_mask": True},
                                  {"dropout": 0.3, "recurrent_dropout": 0.3, "seed": 1}])
def test_masked_gradients(float64_numpy, opts):
    rng = np.random.default_rng(12)
    layer = _with_mask(ConvLSTM2D(2, 3, padding="same", **opts), MASK)
    layer_gradcheck(layer, rng.standard_normal((2, 4, 3, 3, 2)), seed=1,
                    before_call=lambda: setattr(layer, "_calls", 0))


def test_masked_steps_keep_the_states():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 4, 5, 5, 1)).astype(np.float32)
    layer = _with_mask(ConvLSTM2D(3, 3, padding="same", return_sequences=True, return_state=True), MASK)
    seq, h, c = layer(x)
    np.testing.assert_array_equal(seq[0, 1], seq[0, 0])  # step 1 masked: the output repeats step 0's
    np.testing.assert_array_equal(seq[0, 3], h[0])
    np.testing.assert_array_equal(seq[1], 0)  # nothing kept: zeros, and zero states
    np.testing.assert_array_equal(c[1], 0)


def test_initial_state_gradients(float64_numpy):
    rng = np.random.default_rng(14)
    layer = ConvLSTM2D(2, 3, padding="same", return_sequences=True)
    states = [rng.standard_normal((2, 4, 3, 2)) for _ in range(2)]
    layer_gradcheck(layer, [rng.standard_normal((2, 3, 4, 3, 1)), *states], seed=2)


@pytest.mark.parametrize("opts", [dict(kernel_size=3, padding="same", return_sequences=True),
                                  dict(kernel_size=3, strides=2, dropout=0.2, recurrent_dropout=0.2, seed=0),
                                  dict(kernel_size=(1, 3), go_backwards=True)])
def test_cpp_backend_matches_numpy_float64(opts):
    rng = np.random.default_rng(15)
    layer = ConvLSTM2D(5, **opts)
    x = rng.standard_normal((3, 4, 7, 6, 3)).astype(np.float32)
    layer.build(x.shape)
    _random_weights(layer, rng)
    assert_layer_matches_reference(layer, x, rng)


def test_frozen_layer_and_first_layer_skip_gradients():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 3, 4, 4, 1)).astype(np.float32)
    layer = ConvLSTM2D(2, 3, padding="same")
    layer(x)
    layer.trainable = False
    layer._need_input_grad = False
    layer(x, training=True)
    assert layer.backward(np.ones((2, 4, 4, 2), np.float32)) is None
    assert layer.get_gradients() == []


def test_shapes_param_counts_and_summary(capsys):
    model = Sequential([Input((5, 12, 10, 1)), ConvLSTM2D(8, 3, padding="same", return_sequences=True),
                        ConvLSTM2D(4, (3, 3), strides=2), Flatten(), Dense(1)])
    # Keras: kh·kw·C·4F + kh·kw·F·4F + 4F
    assert [layer.count_params() for layer in model.layers[:2]] == [9 * 1 * 32 + 9 * 8 * 32 + 32,
                                                                     9 * 8 * 16 + 9 * 4 * 16 + 16]
    assert model.layers[0].output.shape == (None, 5, 12, 10, 8)
    assert model.layers[1].output.shape == (None, 5, 4, 4)
    model.summary()
    assert "conv_lstm2d" in capsys.readouterr().out
    assert ConvLSTM1D(3, 2).compute_output_shape((None, 4, 9, 2)) == (None, 8, 3)
    assert ConvLSTM3D(3, 2, return_state=True).compute_output_shape((None, 4, 5, 5, 5, 2)) == [(None, 4, 4, 4, 3)] * 3
    layer = ConvLSTM2D(3, 3)
    layer.build((None, 2, 6, 6, 2))
    assert [w.shape for w in layer.get_weights()] == [(3, 3, 2, 12), (3, 3, 3, 12), (12,)]
    np.testing.assert_array_equal(layer.get_weights()[2], [0] * 3 + [1] * 3 + [0] * 6)  # unit_forget_bias
    assert [w.name for w in layer._weights] == ["kernel", "recurrent_kernel", "bias"]


def test_next_frame_model_learns_and_round_trips(tmp_path):
    # Keras's "next-frame prediction with ConvLSTM" in miniature: frames in, the next frames out
    fastnn.set_random_seed(0)
    rng = np.random.default_rng(17)
    frames = np.zeros((32, 5, 8, 8, 1), np.float32)
    for n in range(32):  # a square moving one pixel per frame
        r, c = rng.integers(0, 3, 2)
        for t in range(5):
            frames[n, t, r + t:r + t + 2, c:c + 2] = 1
    x, y = frames[:, :4], frames[:, 1:]
    inp = Input((None, 8, 8, 1))
    h = ConvLSTM2D(8, 3, padding="same", return_sequences=True, activation="relu")(inp)
    out = fastnn.layers.Conv3D(1, 3, padding="same", activation="sigmoid")(h)
    model = Model(inp, out)
    model.compile(optimizer=fastnn.optimizers.Adam(0.01), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0).history
    p = y.mean()  # below the best constant prediction's loss: it has learnt where the square goes
    assert history["loss"][-1] < -0.25 * (p * np.log(p) + (1 - p) * np.log(1 - p)), history["loss"]
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[1].get_config() == model.layers[1].get_config()


def test_config_as_keras():
    layer = ConvLSTM2D(4, (3, 2), strides=(2, 1), padding="same", dropout=0.1, seed=3, return_sequences=True)
    config = layer.get_config()
    assert "units" not in config
    assert {k: config[k] for k in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                                   "unit_forget_bias", "return_sequences", "dropout", "seed")} == dict(
        filters=4, kernel_size=(3, 2), strides=(2, 1), padding="same", data_format="channels_last",
        dilation_rate=(1, 1), unit_forget_bias=True, return_sequences=True, dropout=0.1, seed=3)
    again = ConvLSTM2D.from_config(config)
    assert again.get_config() == config


def test_stateful_carries_the_states():
    rng = np.random.default_rng(18)
    x = rng.standard_normal((2, 6, 4, 4, 1)).astype(np.float32)
    whole = ConvLSTM2D(2, 3, padding="same", return_sequences=True)
    whole.build(x.shape)
    parts = ConvLSTM2D(2, 3, padding="same", return_sequences=True, stateful=True)
    parts.build(x.shape)
    parts.set_weights(whole.get_weights())
    np.testing.assert_allclose(np.concatenate([parts(x[:, :3]), parts(x[:, 3:])], axis=1), whole(x), rtol=1e-5,
                               atol=1e-6)
    parts.reset_states()
    np.testing.assert_allclose(parts(x[:, :3]), whole(x[:, :3]), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"reset_states takes 2 state\(s\) of shape \(batch, 4, 4, 2\)"):
        parts.reset_states([np.zeros((2, 4, 2)), np.zeros((2, 4, 2))])


@pytest.mark.parametrize("make,match", [
    (lambda: ConvLSTM2D(2, 3, data_format="channels_first"), "data_format='channels_last'"),
    (lambda: ConvLSTM2D(2, 3, padding="causal"), "padding"),
    (lambda: ConvLSTM2D(2, 3, strides=2, dilation_rate=2), "strides > 1"),
    (lambda: ConvLSTM2D(0, 3), "filters|units"),
    (lambda: ConvLSTM2D(2, (3, 3, 3)), "kernel_size"),
    (lambda: ConvLSTM2D(2, 3, dropout=1.0), "dropout"),
    (lambda: ConvLSTM2D(2, 3, activation="softmax"), "elementwise"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    x = np.zeros((2, 3, 5, 5, 1), np.float32)
    with pytest.raises(ValueError, match="ndim=5"):
        ConvLSTM2D(2, 3)(np.zeros((2, 3, 5, 1), np.float32))
    with pytest.raises(ValueError, match="static spatial dimensions"):
        ConvLSTM2D(2, 3)(Input((3, None, 5, 1)))
    with pytest.raises(ValueError, match="zero or negative"):
        ConvLSTM2D(2, 7)(x)
    layer = ConvLSTM2D(2, 3, padding="same")
    with pytest.raises(ValueError, match=r"initial state h must be \(2, 5, 5, 2\)"):
        layer(x, initial_state=[np.zeros((2, 5, 5, 3), np.float32), np.zeros((2, 5, 5, 2), np.float32)])
    with pytest.raises(ValueError, match="initial_state must hold 2 states"):
        ConvLSTM2D(2, 3, padding="same")(x, initial_state=[np.zeros((2, 5, 5, 2), np.float32)])
    layer = ConvLSTM2D(2, 3)
    layer(x)
    with pytest.raises(ValueError, match="axis"):  # built for 5x5 frames
        layer(np.zeros((2, 3, 6, 5, 1), np.float32))
