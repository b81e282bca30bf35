"""Keras 3's MultiHeadAttention, GroupNormalization, UnitNormalization and ActivityRegularization:
forward passes against independent NumPy implementations (float64), gradients against finite
differences, masks as Keras 3 combines them, models (fit, save/load, summary), configs and the
errors on bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastnn
from fastnn import regularizers
from fastnn.layers import (ActivityRegularization, Add, Dense, Embedding, GlobalAveragePooling1D,
                           GroupNormalization, Input, Layer, LayerNormalization, MultiHeadAttention,
                           UnitNormalization)
from fastnn.models import Model, Sequential, load_model

from helpers import assert_close, gradcheck, layer_gradcheck, model_gradcheck

# ---- an independent NumPy multi-head attention (Keras's equations, float64) -----------------------


def split_weights(layer):
    """{"query": (kernel, bias), ...} from get_weights, in Keras's order."""
    names = ["query", "key"] + (["gate"] if layer.use_gate else []) + ["value", "attention_output"]
    ws, out = list(layer.get_weights()), {}
    for n in names:
        kernel = ws.pop(0)
        bias = ws.pop(0) if layer.use_bias else None
        out[n] = (kernel, bias)
    return out


def mha_reference(layer, q, v, k=None, keep=None, zero_masked=False, drop=None):
    """Keras's MHA for rank-3 inputs: ``keep`` broadcastable to (B, N, T, S); ``zero_masked``: the
    explicit path (masked probabilities zeroed); ``drop``: a multiplier on the probabilities."""
    w = split_weights(layer)
    k = v if k is None else k

    def proj(x, name):
        kernel, bias = w[name]
        y = np.einsum("btd,dnh->btnh", x, kernel)
        return y if bias is None else y + bias

    query, key, value = proj(q, "query"), proj(k, "key"), proj(v, "value")
    query = query / np.sqrt(layer.key_dim)
    scores = np.einsum("bsnh,btnh->bnts", key, query)
    if keep is not None:
        scores = np.where(keep, scores, -1e9)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = p / p.sum(axis=-1, keepdims=True)
    if keep is not None and zero_masked:
        p = np.where(keep, p, 0.0)
    used = p if drop is None else p * drop
    o = np.einsum("bnts,bsnh->btnh", used, value)
    if layer.use_gate:
        kernel, bias = w["gate"]
        z = np.einsum("btd,dnh->btnh", q, kernel) + (0 if bias is None else bias)
        o = o / (1 + np.exp(-z))
    kernel, bias = w["attention_output"]
    n_out = kernel.ndim - 2
    y = np.tensordot(o, kernel, axes=([2, 3], [0, 1]))
    if bias is not None:
        y = y + bias
    assert y.ndim == 2 + n_out
    return y, p


@pytest.fixture
def f64(float64_numpy):
    yield


def arrays(rng, *shapes):
    return [rng.standard_normal(s) for s in shapes]


# ---- forward --------------------------------------------------------------------------------------


def test_self_attention_matches_numpy(f64, rng):
    x, = arrays(rng, (3, 5, 8))
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    y = layer(x, x)
    assert y.shape == (3, 5, 8)
    assert_close(y, mha_reference(layer, x, x)[0], rtol=1e-12, atol=1e-12, what="self-attention")


def test_cross_attention_key_value_dim_output_shape(f64, rng):
    q, v, k = arrays(rng, (2, 3, 6), (2, 7, 5), (2, 7, 4))
    layer = MultiHeadAttention(num_heads=3, key_dim=2, value_dim=5, output_shape=(2, 4))
    y = layer(q, v, key=k)
    assert y.shape == (2, 3, 2, 4)
    assert [a.shape for a in layer.get_weights()] == [(6, 3, 2), (3, 2), (4, 3, 2), (3, 2), (5, 3, 5), (3, 5),
                                                     (3, 5, 2, 4), (2, 4)]
    assert_close(y, mha_reference(layer, q, v, k)[0], rtol=1e-12, atol=1e-12, what="cross-attention")
    y1 = MultiHeadAttention(2, 3, output_shape=9)(q, v)
    assert y1.shape == (2, 3, 9)


def test_no_bias_and_gate(f64, rng):
    q, v = arrays(rng, (2, 3, 4), (2, 5, 4))
    layer = MultiHeadAttention(2, 3, use_bias=False)
    assert_close(layer(q, v), mha_reference(layer, q, v)[0], rtol=1e-12, atol=1e-12, what="no bias")
    assert layer.weight_names == ["query/kernel", "key/kernel", "value/kernel", "attention_output/kernel"]
    gated = MultiHeadAttention(2, 3, use_gate=True)
    y = gated(q, v)
    assert gated.weight_names[4:6] == ["gate/kernel", "gate/bias"]
    assert_close(y, mha_reference(gated, q, v)[0], rtol=1e-12, atol=1e-12, what="gated")


def test_attention_mask_broadcasting_and_fully_masked_rows(f64, rng):
    q, v = arrays(rng, (2, 3, 4), (2, 5, 4))
    layer = MultiHeadAttention(2, 3)
    layer(q, v)
    m3 = rng.random((2, 3, 5)) > 0.4
    m3[0, 1] = False  # a fully masked query row
    for mask, keep in [(m3, m3[:, None]), (m3[0], m3[0][None, None]),
                       (np.broadcast_to(m3[:, None], (2, 2, 3, 5)).copy(), m3[:, None]),
                       (m3[:, :1], m3[:, None, :1]), (m3.astype(np.int32), m3[:, None])]:
        # the fused path (no dropout, no scores): the fully masked row averages every value
        assert_close(layer(q, v, attention_mask=mask), mha_reference(layer, q, v, keep=keep)[0], rtol=1e-12,
                     atol=1e-12, what=f"attention_mask {np.shape(mask)}")
    y, scores = layer(q, v, attention_mask=m3, return_attention_scores=True)
    y_ref, p_ref = mha_reference(layer, q, v, keep=m3[:, None], zero_masked=True)
    assert_close(scores, p_ref, rtol=1e-12, atol=1e-12, what="scores")
    assert_close(y, y_ref, rtol=1e-12, atol=1e-12, what="output, explicit path")
    assert np.all(scores[0, :, 1] == 0)  # Keras's Softmax zeroes a fully masked row
    assert_close(y[0, 1], layer.get_weights()[-1], rtol=0, atol=1e-12, what="masked row = output bias")
    assert not np.allclose(layer(q, v, attention_mask=m3)[0, 1], layer.get_weights()[-1])


def test_causal_and_sliding_window(f64, rng):
    q, v = arrays(rng, (2, 4, 3), (2, 6, 3))
    layer = MultiHeadAttention(2, 2)
    y, s = layer(q, v, use_causal_mask=True, return_attention_scores=True)
    causal = np.tril(np.ones((4, 6), bool))
    assert_close(y, mha_reference(layer, q, v, keep=causal, zero_masked=True)[0], rtol=1e-12, atol=1e-12,
                 what="causal")
    assert np.all(s[..., ~causal] == 0) and s.shape == (2, 2, 4, 6)
    am = rng.random((2, 4, 6)) > 0.3
    am[:, :, 0] = True
    assert_close(layer(q, v, attention_mask=am, use_causal_mask=True),
                 mha_reference(layer, q, v, keep=(am & causal)[:, None])[0], rtol=1e-12, atol=1e-12,
                 what="causal & attention_mask")
    windowed = MultiHeadAttention(2, 2, sliding_window=2)
    band = np.abs(np.arange(4)[:, None] - np.arange(6)[None]) < 2
    y = windowed(q, v, use_causal_mask=True)
    assert_close(y, mha_reference(windowed, q, v, keep=band & causal)[0], rtol=1e-12, atol=1e-12,
                 what="sliding window")


def test_explicit_keras_masks(f64, rng):
    q, v, k = arrays(rng, (2, 3, 4), (2, 5, 4), (2, 5, 4))
    qm, vm, km = rng.random((2, 3)) > 0.3, rng.random((2, 5)) > 0.3, rng.random((2, 5)) > 0.3
    vm[:, 0] = km[:, 0] = True
    layer = MultiHeadAttention(2, 3)
    keep = (qm[:, :, None] & vm[:, None, :] & km[:, None, :])[:, None]
    y = layer(q, v, key=k, query_mask=qm, value_mask=vm, key_mask=km)
    assert_close(y, mha_reference(layer, q, v, k, keep=keep)[0], rtol=1e-12, atol=1e-12, what="keras masks")
    # without `key`, the key mask is not used (as Keras: key_mask comes from the key tensor)
    y2 = layer(q, v, query_mask=qm, value_mask=vm)
    keep2 = (qm[:, :, None] & vm[:, None, :])[:, None]
    assert_close(y2, mha_reference(layer, q, v, keep=keep2)[0], rtol=1e-12, atol=1e-12, what="q & v masks")


def test_attention_axes_rank4(f64, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = MultiHeadAttention(2, 3, attention_axes=(2,))
    y, s = layer(x, x, return_attention_scores=True)
    assert y.shape == x.shape and s.shape == (2, 3, 2, 4, 4)
    assert layer.get_config()["attention_axes"] == [2]
    # attention along axis 2 with axis 1 as a batch axis: the rank-3 layer on (2*3, 4, 5)
    flat = MultiHeadAttention(2, 3)
    flat(x.reshape(6, 4, 5), x.reshape(6, 4, 5))
    flat.set_weights(layer.get_weights())
    y_flat, s_flat = flat(x.reshape(6, 4, 5), x.reshape(6, 4, 5), return_attention_scores=True)
    assert_close(y, y_flat.reshape(y.shape), rtol=1e-12, atol=1e-12, what="attention_axes=(2,)")
    assert_close(s, s_flat.reshape(2, 3, 2, 4, 4), rtol=1e-12, atol=1e-12, what="scores")
    # default axes on rank 4: attention over (1, 2) jointly = over the flattened steps
    both = MultiHeadAttention(2, 3)
    y2 = both(x, x)
    flat(x.reshape(2, 12, 5), x.reshape(2, 12, 5))  # same weights as layer's
    both.set_weights(layer.get_weights())
    assert_close(both(x, x), flat(x.reshape(2, 12, 5), x.reshape(2, 12, 5)).reshape(x.shape), rtol=1e-12,
                 atol=1e-12, what="attention over axes (1, 2)")
    assert y2.shape == x.shape
    # an attention_mask over both attended axes: (batch, T1, T2, S1, S2)
    mask = rng.random((2, 3, 4, 3, 4)) > 0.3
    assert_close(both(x, x, attention_mask=mask),
                 flat(x.reshape(2, 12, 5), x.reshape(2, 12, 5), attention_mask=mask.reshape(2, 12, 12)).reshape(
                     x.shape), rtol=1e-12, atol=1e-12, what="rank-4 attention_mask")


def test_float32_kernels_match_float64(rng):
    q, v = arrays(rng, (4, 6, 16), (4, 9, 16))
    mask = rng.random((4, 6, 9)) > 0.3
    layer = MultiHeadAttention(4, 8, value_dim=6)
    y = layer(q.astype(np.float32), v.astype(np.float32), attention_mask=mask)
    assert y.dtype == np.float32
    y_ref = mha_reference(layer, q, v, keep=mask[:, None])[0]
    assert_close(y, y_ref, rtol=1e-4, atol=1e-5, what="float32 vs float64")
    dy = rng.standard_normal(y.shape)
    dq, dv, _ = layer.backward(dy.astype(np.float32))
    grads = layer.get_gradients()
    assert all(g.dtype == np.float32 for g in grads + [dq, dv])
    fastnn.utils.set_floatx("float64")
    try:
        with fastnn.backend("numpy"):
            ref = MultiHeadAttention.from_config({**layer.get_config(), "name": "ref", "dtype": "float64"})
            ref(q, v, attention_mask=mask)
            ref.set_weights(layer.get_weights())
            ref(q, v, attention_mask=mask)
            want = ref.backward(dy)[:2] + ref.get_gradients()
    finally:
        fastnn.utils.set_floatx("float32")
    for got, w in zip([dq, dv] + grads, want):
        assert_close(got, w, rtol=1e-3, atol=1e-4, what="float32 gradients vs float64")


def test_set_weights_in_keras_layout(f64, rng):
    q, v = arrays(rng, (2, 3, 6), (2, 4, 6))
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4)
    layer.build([(None, 3, 6), (None, 4, 6)])
    keras_weights = [rng.standard_normal(s) for s in
                     [(6, 2, 3), (2, 3), (6, 2, 3), (2, 3), (6, 2, 4), (2, 4), (2, 4, 6), (6,)]]
    layer.set_weights(keras_weights)
    for a, b in zip(layer.get_weights(), keras_weights):
        np.testing.assert_array_equal(a, b)
    assert layer.weight_names == ["query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel",
                                  "value/bias", "attention_output/kernel", "attention_output/bias"]
    assert_close(layer(q, v), mha_reference(layer, q, v)[0], rtol=1e-12, atol=1e-12, what="keras weights")


# ---- gradients --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, shapes", [
    ({}, [(2, 3, 4), (2, 3, 4)]),
    ({}, [(2, 3, 4), (2, 4, 5)]),
    ({"value_dim": 2, "output_shape": (2, 3)}, [(2, 3, 4), (2, 4, 5), (2, 4, 3)]),
    ({"use_causal_mask": True}, [(2, 3, 4), (2, 4, 4)]),
    ({"use_bias": False, "value_dim": 4}, [(2, 3, 4), (2, 2, 3)]),
    ({"use_gate": True, "sliding_window": 2}, [(2, 3, 4), (2, 4, 4)]),
    ({"attention_axes": 2}, [(2, 2, 3, 3), (2, 2, 4, 3)]),
], ids=["self", "cross", "key-value_dim-output_shape", "causal", "no-bias", "gate-window", "axes"])
def test_gradients(f64, rng, kwargs, shapes):
    layer = MultiHeadAttention(2, 3, **kwargs)
    layer_gradcheck(layer, arrays(rng, *shapes))


def test_a_gradient_tape_over_arrays_trains_its_weights(f64, rng):
    # a custom loop whose first layer is the attention, fed NumPy batches: the tape records the call
    # (its weights are trainable variables), as TensorFlow's; the gradients against central differences
    layer = MultiHeadAttention(2, 3)
    x, context = arrays(rng, (2, 3, 4), (2, 5, 4))
    r = rng.standard_normal((2, 3, 4))
    layer(x, context)  # (built)

    def loss():
        return float(np.sum(np.asarray(layer(x, context)) * r))

    with fastnn.GradientTape() as tape:
        value = fastnn.ops.sum(layer(x, context) * r)
    grads = tape.gradient(value, layer.trainable_weights)
    assert len(grads) == 8 and all(g is not None for g in grads)
    for w, g in zip(layer.trainable_weights, grads):
        want = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            keep = w[i]
            w[i] = keep + 1e-6
            up = loss()
            w[i] = keep - 1e-6
            want[i] = (up - loss()) / 2e-6
            w[i] = keep
        assert_close(g, want, rtol=1e-6, atol=1e-8, what=w.name)


def test_gradients_with_dropout_replayed(f64, rng):
    layer = MultiHeadAttention(2, 3, dropout=0.4, seed=7)
    layer_gradcheck(layer, arrays(rng, (2, 3, 4), (2, 4, 4)), before_call=lambda: setattr(layer, "_calls", 0))


def _check_all_gradients(layer, inputs, run, seed=0):
    """``run()`` -> outputs (a list); gradients of sum(out_i * r_i) for the inputs in ``inputs`` and
    every trainable weight, against finite differences."""
    outs = run()
    rs = [np.random.default_rng(seed + i).standard_normal(np.shape(o)) for i, o in enumerate(outs)]
    dx = layer.backward(rs if len(outs) > 1 else rs[0])
    analytic = [dx[i] for i in inputs] + layer.get_gradients()
    params = [layer._grad_inputs[i] for i in inputs] + layer.trainable_weights
    gradcheck(lambda: sum(float(np.sum(o * r)) for o, r in zip(run(), rs)), params, analytic, what="MHA",
              rtol=1e-6, atol=1e-8)


def test_gradients_with_masks_and_scores(f64, rng):
    q, v, k = arrays(rng, (2, 3, 4), (2, 4, 4), (2, 4, 3))
    am = rng.random((2, 3, 4)) > 0.3
    am[1, 2] = False  # a fully masked row
    qm, vm = np.array([[1, 1, 0], [1, 1, 1]], bool), np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)
    for scores in (False, True):
        layer = MultiHeadAttention(2, 3, return_attention_scores=scores, call_inputs=["query", "value", "key",
                                                                                      "attention_mask"])
        layer._grad_inputs = [q, v, k]

        def run():
            out = layer.call([q, v, k, am], training=True, mask=[qm, vm, None, None])
            return out if scores else [out]

        layer([q, v, k, am])
        _check_all_gradients(layer, [0, 1, 2], run)


def test_model_gradients_with_embedding_masks(f64, rng):
    tokens = Input(shape=(5,), dtype="int32")
    x = Embedding(7, 4, mask_zero=True)(tokens)
    pair = Input(shape=(5, 5))
    a = MultiHeadAttention(2, 3)(x, x, attention_mask=pair, use_causal_mask=True)
    out = Dense(1)(GlobalAveragePooling1D()(LayerNormalization()(Add()([x, a]))))
    model = Model([tokens, pair], out)
    model.compile("sgd", "mse")
    ids = np.array([[3, 1, 4, 0, 0], [5, 2, 6, 1, 0], [0, 0, 2, 3, 1]])
    masks = (rng.random((3, 5, 5)) > 0.2).astype(np.float64)
    model_gradcheck(model, [ids, masks], rng.standard_normal((3, 1)))


# ---- masks in a model ------------------------------------------------------------------------------


def test_embedding_mask_in_a_model(f64, rng):
    tokens = Input(shape=(6,), dtype="int32")
    embedding = Embedding(9, 4, mask_zero=True)
    x = embedding(tokens)
    mha = MultiHeadAttention(2, 3)
    pooled = GlobalAveragePooling1D()(mha(x, x))
    model = Model(tokens, pooled)
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 1], [0, 0, 3, 3, 0, 2]])
    got = model.predict(ids, verbose=0)
    e = embedding.get_weights()[0][ids]
    m = ids != 0
    y, _ = mha_reference(mha, e, e, keep=(m[:, :, None] & m[:, None, :])[:, None])
    want = (y * m[:, :, None]).sum(1) / m.sum(1, keepdims=True)  # the output carries the query's mask
    assert_close(got, want, rtol=1e-12, atol=1e-12, what="Embedding(mask_zero) -> MHA -> pooling")
    assert mha.compute_mask([e, e], [m, m]) is m


def test_scores_output_in_a_model(f64, rng):
    q_in, v_in = Input(shape=(3, 4)), Input(shape=(5, 4))
    mha = MultiHeadAttention(2, 2)
    out, scores = mha(q_in, v_in, return_attention_scores=True)
    assert out.shape == (None, 3, 4) and scores.shape == (None, 2, 3, 5)
    model = Model([q_in, v_in], [out, scores])
    q, v = arrays(rng, (2, 3, 4), (2, 5, 4))
    got_out, got_scores = model.predict([q, v], verbose=0)
    want_out, want_scores = mha(q, v, return_attention_scores=True)
    assert_close(got_out, want_out, rtol=1e-12, atol=1e-12, what="output")
    assert_close(got_scores, want_scores, rtol=1e-12, atol=1e-12, what="scores")
    assert mha.get_config()["return_attention_scores"] is True


# ---- dropout ------------------------------------------------------------------------------------------


def test_dropout_only_in_training_and_seeded(f64, rng):
    q, v = arrays(rng, (2, 4, 6), (2, 5, 6))
    a = MultiHeadAttention(2, 3, dropout=0.5, seed=11)
    plain = MultiHeadAttention(2, 3)
    a(q, v)
    plain(q, v)
    plain.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(q, v), plain(q, v))
    np.testing.assert_array_equal(a(q, v, training=False), plain(q, v))
    b = MultiHeadAttention(2, 3, dropout=0.5, seed=11)
    b(q, v)
    b.set_weights(a.get_weights())
    ya, yb = a(q, v, training=True), b(q, v, training=True)
    np.testing.assert_array_equal(ya, yb)  # the same seed: the same masks
    assert not np.allclose(ya, plain(q, v))
    assert not np.allclose(a(q, v, training=True), ya)  # the next call draws new ones
    # the probabilities are dropped and scaled by 1/(1-rate); the returned scores are undropped
    y, s = a(q, v, training=True, return_attention_scores=True)
    _, s_ref = mha_reference(a, q, v)
    assert_close(s, s_ref, rtol=1e-12, atol=1e-12, what="scores before dropout")


# ---- models: Transformer block, subclassing, saving, summary --------------------------------------------


def transformer_classifier(maxlen=10, vocab=30, embed_dim=16, num_heads=2, ff_dim=32):
    """Keras's "Text classification with Transformer" block, functional (positional embedding aside)."""
    inputs = Input(shape=(maxlen,), dtype="int32")
    x = Embedding(vocab, embed_dim)(inputs)
    attn = MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, dropout=0.1)(x, x)
    x1 = LayerNormalization(epsilon=1e-6)(Add()([x, attn]))
    ffn = Dense(embed_dim)(Dense(ff_dim, activation="relu")(x1))
    x2 = LayerNormalization(epsilon=1e-6)(Add()([x1, ffn]))
    x = GlobalAveragePooling1D()(x2)
    x = Dense(20, activation="relu")(x)
    return Model(inputs, Dense(2, activation="softmax")(x))


def test_transformer_block_trains_and_round_trips(tmp_path):
    fastnn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, (256, 10))
    y = ((x == 3).any(axis=1) | (x[:, 0] < 10)).astype(np.int64)
    model = transformer_classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0).history
    assert history["loss"][-1] < 0.8 * history["loss"][0], history["loss"]
    path = os.path.join(tmp_path, "transformer.keras")
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0))
    assert [layer.get_config() for layer in loaded._all_layers] == [layer.get_config() for layer in model._all_layers]


def test_save_load_keeps_call_options(tmp_path, rng):
    q_in, v_in, k_in, m_in = Input(shape=(3, 4)), Input(shape=(5, 6)), Input(shape=(5, 2)), Input(shape=(3, 5))
    out = MultiHeadAttention(2, 3, value_dim=4)(q_in, v_in, key=k_in, attention_mask=m_in, use_causal_mask=True)
    model = Model([q_in, v_in, k_in, m_in], out)
    data = [a.astype(np.float32) for a in arrays(rng, (2, 3, 4), (2, 5, 6), (2, 5, 2))] + \
        [(rng.random((2, 3, 5)) > 0.3).astype(np.float32)]
    path = os.path.join(tmp_path, "mha.keras")
    model.save(path)
    loaded = load_model(path)
    config = loaded.layers[-1].get_config()
    assert config["use_causal_mask"] is True and config["call_inputs"] == ["query", "value", "key", "attention_mask"]
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_subclassed_model_and_nested_block(f64, rng):
    class Block(Model):
        def __init__(self):
            super().__init__()
            self.att = MultiHeadAttention(num_heads=2, key_dim=4)
            self.norm = LayerNormalization(epsilon=1e-6)
            self.ffn = Dense(8)

        def call(self, inputs, training=False):
            x = self.norm(Add()([inputs, self.att(inputs, inputs, use_causal_mask=True)]))
            return Add()([x, self.ffn(x)])

    block = Block()
    x = rng.standard_normal((3, 5, 8))
    y = block.predict(x, verbose=0)
    assert y.shape == (3, 5, 8)
    a = block.att(x, x, use_causal_mask=True)  # the same layer on arrays: its own options per call
    h = block.norm(x + a)
    assert_close(y, h + block.ffn(h), rtol=1e-12, atol=1e-12, what="subclassed block")
    # nested in a functional model
    inputs = Input(shape=(5, 8))
    outer = Model(inputs, Dense(1)(GlobalAveragePooling1D()(block(inputs))))
    outer.compile("adam", "mse")
    outer.fit(x, rng.standard_normal((3, 1)), epochs=1, verbose=0)


def test_custom_layer_calling_mha_owns_its_weights_and_gradients(float64_numpy, rng):
    # (tests/test_nested_layers.py has the Transformer block; here the call forms and masks)
    class Block(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.att = MultiHeadAttention(2, 4, value_dim=3)

        def call(self, inputs):
            q, v = inputs
            return self.att(q, v, attention_mask=np.array([[True, False, True], [True, True, False]]))

    block = Block()
    q, v = rng.standard_normal((2, 2, 4)), rng.standard_normal((2, 3, 5))
    out = block([q, v])
    direct = MultiHeadAttention(2, 4, value_dim=3)
    direct(q, v)
    direct.set_weights(block.att.get_weights())
    np.testing.assert_allclose(out, direct(q, v, attention_mask=np.array([[True, False, True], [True, True, False]])),
                               rtol=1e-12, atol=1e-12)
    assert block.count_params() == block.att.count_params()
    layer_gradcheck(block, [q, v])


def test_param_counts_and_summary():
    # Keras's docstring example: target (8, 16), source (4, 16), 2 heads of key_dim 2
    target, source = Input(shape=(8, 16)), Input(shape=(4, 16))
    layer = MultiHeadAttention(num_heads=2, key_dim=2)
    output, weights = layer(target, source, return_attention_scores=True)
    assert output.shape == (None, 8, 16) and weights.shape == (None, 2, 8, 4)
    assert layer.count_params() == 3 * (16 * 2 * 2 + 2 * 2) + (2 * 2 * 16 + 16) == 284
    lines = []
    Model([target, source], output).summary(print_fn=lines.append)
    assert any("multi_head_attention" in line and "284" in line for line in lines)
    assert any("Total params: 284" in line for line in lines)
    block = transformer_classifier(maxlen=200, vocab=20000, embed_dim=32, num_heads=2, ff_dim=32)
    mha = next(la for la in block.layers if isinstance(la, MultiHeadAttention))
    assert mha.count_params() == 8416  # Keras's summary of the example's attention layer
    gn = GroupNormalization(groups=4)
    Sequential([Input(shape=(5, 8)), gn, UnitNormalization(), ActivityRegularization(l1=0.1)])
    assert gn.count_params() == 16


def test_config_round_trip(rng):
    layer = MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, dropout=0.25, use_bias=False, output_shape=7,
                               kernel_initializer="he_normal", kernel_regularizer=regularizers.L2(0.01), seed=3,
                               name="mha")
    config = layer.get_config()
    keras_keys = {"name", "trainable", "dtype", "num_heads", "key_dim", "value_dim", "dropout", "use_bias",
                  "use_gate", "output_shape", "attention_axes", "sliding_window", "kernel_initializer",
                  "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "bias_constraint", "seed"}
    assert set(config) == keras_keys
    assert config["output_shape"] == [7] and config["value_dim"] == 5 and config["attention_axes"] is None
    again = MultiHeadAttention.from_config(config)
    assert again.get_config() == config
    assert MultiHeadAttention(2, 3).get_config()["value_dim"] == 3
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    layer(q, q)
    assert layer.get_config()["attention_axes"] == [1]  # Keras records the normalised axes once built
    assert layer.regularization_loss() > 0


# ---- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"num_heads": 0, "key_dim": 2}, r"`num_heads`.*positive integer.*num_heads=0"),
    ({"num_heads": 2, "key_dim": 0}, r"`key_dim`.*positive integer.*key_dim=0"),
    ({"num_heads": 2, "key_dim": "8"}, r"`key_dim`.*key_dim='8'"),
    ({"num_heads": True, "key_dim": 2}, r"`num_heads`"),
    ({"num_heads": 2, "key_dim": 2, "value_dim": -1}, r"`value_dim`.*or None.*value_dim=-1"),
    ({"num_heads": 2, "key_dim": 2, "dropout": 1.0}, r"`dropout`.*\[0, 1\).*dropout=1.0"),
    ({"num_heads": 2, "key_dim": 2, "output_shape": "x"}, r"output_shape.*output_shape='x'"),
    ({"num_heads": 2, "key_dim": 2, "output_shape": (4, 0)}, r"`output_shape`.*positive"),
    ({"num_heads": 2, "key_dim": 2, "attention_axes": "1"}, r"attention_axes"),
    ({"num_heads": 2, "key_dim": 2, "sliding_window": 0}, r"`sliding_window`"),
    ({"num_heads": 2, "key_dim": 2, "activity_regularizer": "l2"}, r"activity_regularizer"),
    ({"num_heads": 2, "key_dim": 2, "dropout": 0.1, "flash_attention": True}, r"flash attention"),
    ({"num_heads": 2, "key_dim": 2, "seed": -1}, r"seed"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_bad_shapes_and_masks(rng):
    f = np.float32
    q, v = rng.standard_normal((2, 3, 4)).astype(f), rng.standard_normal((2, 5, 4)).astype(f)
    layer = MultiHeadAttention(2, 3, name="mha")
    with pytest.raises(ValueError, match=r"'mha'.*`value` and `key`, except the last one.*\(2, 5, 4\).*"
                                         r"\(2, 6, 4\)"):
        layer(q, v, key=rng.standard_normal((2, 6, 4)).astype(f))
    with pytest.raises(ValueError, match="'mha'.*value must have the query's rank 3"):
        layer(q, v[:, 0])
    with pytest.raises(ValueError, match="'mha'.*query must have a batch axis"):
        layer(q[:, 0], v[:, 0])
    with pytest.raises(ValueError, match="'mha'.*attention_mask must broadcast.*\\(2, 2, 3, 5\\).*\\(2, 3, 4\\)"):
        layer(q, v, attention_mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="'mha'.*attention_mask.*\\(5,\\)"):
        layer(q, v, attention_mask=np.ones((5,), bool))
    with pytest.raises(ValueError, match="'mha'.*Keras mask of query.*\\(2, 3\\).*\\(2, 4\\)"):
        layer(q, v, query_mask=np.ones((2, 4), bool))
    assert not layer.built  # every check ran before any weight or compute
    layer(q, v)
    with pytest.raises(ValueError, match="'mha' was built for value inputs with last dimension 4"):
        layer(q, rng.standard_normal((2, 5, 7)).astype(f))
    with pytest.raises(ValueError, match="'mha'.*same batch size"):
        layer(q, v[:1])
    with pytest.raises(ValueError, match="use_causal_mask and sliding_window need inputs of rank 3"):
        MultiHeadAttention(2, 2)(q[:, None], q[:, None], use_causal_mask=True)
    with pytest.raises(ValueError, match=r"attention_axes must be distinct axes.*1\.\.1.*attention_axes=\(2,\)"):
        MultiHeadAttention(2, 2, attention_axes=2)(q, q)
    with pytest.raises(ValueError, match="same size there"):
        MultiHeadAttention(2, 2, attention_axes=2)(q[:, None], v[:, None].repeat(2, axis=1))
    with pytest.raises(ValueError, match="`value` is required"):
        layer(q)


def test_bad_symbolic_calls():
    q_in, v_in = Input(shape=(3, 4)), Input(shape=(5, 4))
    layer = MultiHeadAttention(2, 2, name="mha")
    with pytest.raises(ValueError, match="'mha'.*attention_mask is an array.*Pass a constant attention_mask as a "
                                         "model input"):
        layer(q_in, v_in, attention_mask=np.ones((3, 5), bool))
    with pytest.raises(ValueError, match=r"'mha'.*attention_mask must broadcast.*\(None, 2, 3, 5\).*"
                                         r"\(None, 5, 3\)"):
        layer(q_in, v_in, attention_mask=Input(shape=(5, 3)))
    layer(q_in, v_in)
    with pytest.raises(ValueError, match="'mha' is already called in a graph.*use_causal_mask=False.*Received.*"
                                         "use_causal_mask=True"):
        layer(q_in, v_in, use_causal_mask=True)
    layer(q_in, v_in)  # the same options again: a shared layer


# ---- GroupNormalization ------------------------------------------------------------------------------------


def group_norm_reference(x, groups, axis, gamma, beta, eps):
    x = np.moveaxis(x, axis, -1)
    g = x.reshape(x.shape[0], -1, groups, x.shape[-1] // groups)
    mean, var = g.mean(axis=(1, 3), keepdims=True), g.var(axis=(1, 3), keepdims=True)
    y = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape) * gamma + beta
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("shape, groups, axis", [((3, 4, 6), 2, -1), ((2, 6), 3, -1), ((2, 6, 3, 2), 3, 1),
                                                 ((2, 3, 4, 4), -1, -1), ((2, 3, 4, 2), 2, -2)])
def test_group_normalization_forward_and_gradients(f64, rng, shape, groups, axis):
    x = rng.standard_normal(shape) * 3 + 1
    layer = GroupNormalization(groups=groups, axis=axis, epsilon=1e-3)
    y = layer(x)
    channels = shape[axis]
    gamma, beta = rng.standard_normal(channels), rng.standard_normal(channels)
    layer.set_weights([gamma, beta])
    g = channels if groups == -1 else groups
    assert_close(layer(x), group_norm_reference(x, g, axis, gamma, beta, 1e-3), rtol=1e-12, atol=1e-12,
                 what="GroupNormalization")
    assert y.shape == x.shape
    layer_gradcheck(layer, x)


def test_group_normalization_options_and_config(f64, rng):
    x = rng.standard_normal((2, 5, 6))
    inst = GroupNormalization(groups=-1)
    inst(x)
    assert inst.get_config()["groups"] == 6  # as Keras: -1 becomes the channel count
    bare = GroupNormalization(groups=3, center=False, scale=False)
    assert_close(bare(x), group_norm_reference(x, 3, -1, 1.0, 0.0, 1e-3), rtol=1e-12, atol=1e-12, what="bare")
    assert bare.weights == []
    layer_gradcheck(bare, x)
    config = GroupNormalization(groups=2, axis=1, epsilon=1e-5, gamma_regularizer="l2").get_config()
    assert {"groups", "axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
            "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"} <= set(config)
    assert GroupNormalization.from_config(config).get_config() == config


def test_group_normalization_bad_input():
    x = np.zeros((2, 5, 6), np.float32)
    with pytest.raises(ValueError, match=r"GroupNormalization 'gn'.*`groups` must divide.*6 channels.*groups=4"):
        GroupNormalization(groups=4, name="gn")(x)
    with pytest.raises(ValueError, match=r"`groups` must divide.*at most 6.*groups=12"):
        GroupNormalization(groups=12)(x)
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="argument `groups`.*positive integer"):
            GroupNormalization(groups=bad)
    with pytest.raises(ValueError, match="must be a channels axis of the input, not its batch axis.*axis=0"):
        GroupNormalization(groups=1, axis=0)(x)
    with pytest.raises(ValueError, match="axis=3"):
        GroupNormalization(groups=1, axis=3)(x)


# ---- UnitNormalization -------------------------------------------------------------------------------------


def test_unit_normalization(f64, rng):
    x = rng.standard_normal((3, 4, 5))
    x[0, 1] = 0.0  # a zero vector stays zero, with a finite gradient
    y = UnitNormalization()(x)
    norms = np.linalg.norm(y, axis=-1)
    assert_close(norms[np.arange(3) != 0], np.ones((2, 4)), rtol=1e-12, atol=1e-12, what="unit norms")
    assert np.all(y[0, 1] == 0)
    assert_close(y, x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12), rtol=1e-12, atol=1e-15,
                 what="UnitNormalization")
    layer = UnitNormalization(axis=[1, 2])
    assert_close(layer(x[1:]), x[1:] / np.linalg.norm(x[1:], axis=(1, 2), keepdims=True), rtol=1e-12,
                 atol=1e-12, what="over two axes")
    layer_gradcheck(layer, x[1:])
    layer_gradcheck(UnitNormalization(), x[1:])
    unit = UnitNormalization()
    unit(x)
    dx = unit.backward(np.ones_like(x))
    assert np.all(np.isfinite(dx)) and np.all(dx[0, 1] == 1e12)  # Keras's clamp: rsqrt(1e-24)
    assert UnitNormalization(axis=[1, 2]).get_config()["axis"] == [1, 2]
    assert UnitNormalization.from_config(UnitNormalization(axis=1).get_config()).axis == 1
    with pytest.raises(ValueError, match="axis 3 is out of bounds.*rank 3"):
        UnitNormalization(axis=3)(x)
    with pytest.raises(ValueError, match="`axis` must be an int"):
        UnitNormalization(axis="last")


# ---- ActivityRegularization --------------------------------------------------------------------------------


def test_activity_regularization_adds_its_loss(f64, rng):
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    dense, head = Dense(2), Dense(2)
    model = Sequential([Input(shape=(3,)), dense, ActivityRegularization(l1=0.01, l2=0.02), head])
    model.compile("sgd", "mse")
    h = dense(x)
    plain = Sequential([Input(shape=(3,)), dense, head])
    plain.compile("sgd", "mse")
    penalty = (0.01 * np.abs(h).sum() + 0.02 * np.square(h).sum()) / len(x)  # per sample (tf.keras 2, Keras 3.14+)
    assert_close(model.evaluate(x, y, verbose=0), plain.evaluate(x, y, verbose=0) + penalty, rtol=1e-12, atol=1e-12,
                 what="loss with the activity penalty")
    model_gradcheck(model, x, y)
    layer = ActivityRegularization(l1=0.5)
    np.testing.assert_array_equal(layer(x), x)
    config = layer.get_config()
    assert config["l1"] == 0.5 and config["l2"] == 0.0 and "activity_regularizer" not in config
    assert ActivityRegularization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="ActivityRegularization.*`l1`.*non-negative.*l1=-1"):
        ActivityRegularization(l1=-1)
    with pytest.raises(TypeError, match="pass l1= and l2="):
        ActivityRegularization(activity_regularizer="l2")


def test_new_layers_pass_masks(f64):
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    tokens = Input(shape=(3,), dtype="int32")
    x = Embedding(5, 4, mask_zero=True)(tokens)
    for layer in (GroupNormalization(groups=2), UnitNormalization(), ActivityRegularization(l2=0.1)):
        x = layer(x)
    model = Model(tokens, GlobalAveragePooling1D()(x))
    out = model.predict(ids, verbose=0)
    full = Model(tokens, x).predict(ids, verbose=0)
    assert_close(out[1], full[1, 0], rtol=1e-12, atol=1e-12, what="masked mean over the one real step")


def test_attention_built_by_its_first_call_on_a_gradient_tape_gets_its_gradients():
    # a custom training loop whose model starts with an attention layer not called yet
    import fastnn as tf

    x = np.random.RandomState(0).randn(2, 3, 4).astype(np.float32)
    mha = tf.keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(mha(x, x, x)))
    first = tape.gradient(loss, mha.trainable_weights)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(mha(x, x, x)))
    second = tape.gradient(loss, mha.trainable_weights)
    assert len(first) == 8 and all(g is not None for g in first)
    for a, b in zip(first, second):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


# ---- the fused inference kernel (ops.attention_forward) ---------------------------------------------


@pytest.mark.parametrize("B, T, S, H, dk, dv, mask", [(2, 5, 7, 3, 4, 2, None), (3, 9, 9, 2, 5, 3, "sample"),
                                                      (2, 4, 6, 3, 2, 2, "head"), (1, 1, 1, 1, 1, 1, None),
                                                      (8, 33, 17, 4, 16, 8, "sample")])
def test_attention_forward_matches_the_reference(B, T, S, H, dk, dv, mask):
    from fastnn import _core, reference
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((B, T, H * dk)), rng.standard_normal((B, S, H * dk))
    v = rng.standard_normal((B, S, H * dv))
    keep = None if mask is None else rng.random((B, 1 if mask == "sample" else H, T, S)) > 0.3
    if keep is not None:
        keep[0, 0, 0, :] = False  # (a fully masked row: uniform, or zeros with zero_masked)
    for zero_masked in (False, True):
        got = _core.attention_forward(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32), heads=H,
                                      keep=keep, zero_masked=zero_masked)
        want = reference.attention_forward(q, k, v, heads=H, keep=keep, zero_masked=zero_masked)
        assert got.shape == (B, T, H * dv) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_attention_forward_bad_input():
    from fastnn import _core, reference
    q, k, v = np.zeros((2, 3, 4), np.float32), np.zeros((2, 5, 4), np.float32), np.zeros((2, 5, 6), np.float32)
    for be in (_core, reference):
        with pytest.raises(ValueError, match=r"attention_forward: the last axes of q and v must hold heads=3"):
            be.attention_forward(q, k, v, heads=3)
        with pytest.raises(ValueError, match=r"attention_forward: expected k \(batch, S, heads·dk\)"):
            be.attention_forward(q, k[:, :, :2], v, heads=2)
        with pytest.raises(ValueError, match=r"attention_forward: keep must be \(batch, 1 or heads, T, S\)"):
            be.attention_forward(q, k, v, heads=2, keep=np.ones((2, 3, 3, 5), bool))
        with pytest.raises(TypeError, match=r"attention_forward: keep must be a boolean"):
            be.attention_forward(q, k, v, heads=2, keep=np.ones((2, 1, 3, 5), np.float32))
        with pytest.raises(ValueError, match=r"attention_forward: heads must be >= 1"):
            be.attention_forward(q, k, v, heads=0)


@pytest.mark.parametrize("masked", [False, True])
def test_inference_runs_fused_bitwise_as_the_per_head_path_and_backpropagates(rng, masked):
    from fastnn.layers import attention as attention_module
    fastnn.utils.set_random_seed(3)
    mha = MultiHeadAttention(2, 8, dropout=0.1 if masked else 0.0)
    q, v = rng.standard_normal((3, 6, 10)).astype("float32"), rng.standard_normal((3, 7, 10)).astype("float32")
    mask = rng.random((3, 6, 7)) > 0.3 if masked else None
    fused = mha(q, v, attention_mask=mask)
    assert mha._cache["heads"] is None  # (fused: no per-head tensors kept)
    dy = rng.standard_normal(fused.shape).astype("float32")
    dx_fused = mha.backward(dy)  # (the per-head tensors rebuilt for the backward)
    original = attention_module.MultiHeadAttention._run
    try:
        attention_module.MultiHeadAttention._run = lambda self, *a, **k: original(self, *a, **{**k, "fuse": False})
        plain = mha(q, v, attention_mask=mask)
        dx_plain = mha.backward(dy)
    finally:
        attention_module.MultiHeadAttention._run = original
    np.testing.assert_array_equal(fused, plain)
    for a, b in zip(dx_fused, dx_plain):
        np.testing.assert_array_equal(a, b)


def test_a_backward_after_a_fused_call_uses_that_calls_projections(rng):
    # the per-head tensors a backward needs after a fused (inference) call come from that call's
    # projections, not from the weights as they are when the gradient is taken (an optimizer step between)
    fastnn.utils.set_random_seed(5)
    mha = MultiHeadAttention(2, 4)
    q, v = rng.standard_normal((2, 5, 8)).astype("float32"), rng.standard_normal((2, 6, 8)).astype("float32")
    with fastnn.GradientTape(persistent=True) as tape:
        loss = fastnn.reduce_sum(mha(q, v, training=False))
    kernel = mha._projections["attention_output"][0]  # (its gradient is o·dy: o from the projections)
    first = tape.gradient(loss, kernel)
    fastnn.optimizers.SGD(0.5).apply_gradients(zip(tape.gradient(loss, mha.trainable_weights),
                                                   mha.trainable_weights))
    np.testing.assert_array_equal(first, tape.gradient(loss, kernel))


def test_training_false_in_the_graph_and_a_watched_input(rng):
    # a training=False given in the functional graph holds the layer in inference mode under fit or
    # model(x, training=True), as Layer's; a watched array called directly gets its gradient
    fastnn.utils.set_random_seed(7)
    x = rng.standard_normal((2, 5, 8)).astype("float32")
    inp = Input((5, 8))
    mha = MultiHeadAttention(2, 4, dropout=0.9)
    model = Model(inp, mha(inp, inp, training=False))
    np.testing.assert_array_equal(model(x, training=True), mha(x, x, training=False))
    c = fastnn.constant(x)
    with fastnn.GradientTape() as tape:
        tape.watch(c)
        y = fastnn.reduce_sum(mha(c, c))
    assert tape.gradient(y, c).shape == (2, 5, 8)


def test_an_empty_batch_gives_empty_outputs_and_gradients():
    mha = MultiHeadAttention(2, 4)
    q, v = np.zeros((0, 4, 8), np.float32), np.zeros((0, 5, 8), np.float32)
    assert mha(q, v).shape == (0, 4, 8)  # (fused: inference)
    assert mha(q, v, training=True).shape == (0, 4, 8)
    mha._need_input_grad = True
    dq, dv = mha.backward(np.zeros((0, 4, 8), np.float32))
    assert dq.shape == (0, 4, 8) and dv.shape == (0, 5, 8)
    assert all(not np.any(g) for g in mha.get_gradients())
    y, scores = mha(q, v, return_attention_scores=True)
    assert y.shape == (0, 4, 8) and scores.shape == (0, 2, 4, 5)
