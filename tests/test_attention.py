"""Keras's Dot, Attention and AdditiveAttention: values against NumPy written from Keras 3's
formulas (masks, causal mask, scale, concat scores), gradients against finite differences in
float64, saving, and a small seq2seq model with attention that learns."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.layers import (LSTM, AdditiveAttention, Attention, Dense, Dot, Embedding, Input, TimeDistributed,
                           concatenate, dot)
from fastnn.models import Model, load_model

from helpers import model_gradcheck


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _attention(q, v, k=None, scale=1.0, v_mask=None, q_mask=None, causal=False, additive=None, concat=None):
    k = v if k is None else k
    if additive is not None:
        scores = (additive * np.tanh(q[:, :, None] + k[:, None])).sum(-1)
    elif concat is not None:
        scores = concat * np.tanh(scale * (q[:, :, None] + k[:, None])).sum(-1)
    else:
        scores = scale * q @ k.transpose(0, 2, 1)
    keep = np.ones(scores.shape, bool)
    if v_mask is not None:
        keep &= v_mask[:, None, :]
    if causal:
        keep &= np.tril(np.ones(scores.shape[1:], bool))[None]
    weights = _softmax(scores - 1e9 * ~keep)
    out = weights @ v
    if q_mask is not None:
        out = out * q_mask[:, :, None]
    return out, weights


def test_dot_layer(rng):
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(Dot(axes=2)([a, b]), a @ b.transpose(0, 2, 1), rtol=1e-5)
    np.testing.assert_allclose(Dot(axes=(2, 2), normalize=True)([a, b]),
                               (a / np.linalg.norm(a, axis=2, keepdims=True)) @
                               (b / np.linalg.norm(b, axis=2, keepdims=True)).transpose(0, 2, 1), rtol=1e-5)
    x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(Dot(axes=1)([x, y]), (x * y).sum(1, keepdims=True), rtol=1e-5)
    assert Dot(axes=1).compute_output_shape([(None, 4), (None, 4)]) == (None, 1)
    assert Dot(axes=(2, 1)).compute_output_shape([(None, 3, 5), (None, 5, 4)]) == (None, 3, 4)
    qa, kb = Input((3, 4)), Input((5, 4))
    assert dot([qa, kb], axes=2).shape == (None, 3, 5)
    with pytest.raises(ValueError, match="axes must be an int or a pair of ints"):
        Dot(axes=(1, 2, 3))
    # Keras 3's normalize clamps the squared norm at 1e-14 (tf.keras 2's l2_normalize: 1e-12), so a
    # vector of norm 1e-7 is still a unit vector
    tiny = np.array([[1e-7, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(Dot(axes=1, normalize=True)([tiny, np.array([[1.0, 0.0, 0.0]], np.float32)]), [[1.0]],
                               rtol=1e-6)


@pytest.mark.parametrize("kind", ["dot", "scaled", "concat", "additive"])
def test_attention_matches_keras_formulas(rng, kind):
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 5, 4)).astype(np.float32)
    k = rng.standard_normal((2, 5, 4)).astype(np.float32)
    layer = {"dot": lambda: Attention(), "scaled": lambda: Attention(use_scale=True),
             "concat": lambda: Attention(score_mode="concat", use_scale=True), "additive": AdditiveAttention}[kind]()
    layer.build([q.shape, v.shape, k.shape])
    if kind in ("scaled", "concat"):
        layer.scale[...] = 0.7
    if kind == "concat":
        layer.concat_score_weight[...] = 1.3
    got = layer.call([q, v, k])
    extra = {"scaled": {"scale": 0.7}, "concat": {"scale": 0.7, "concat": 1.3},
             "additive": {"additive": layer.scale}, "dot": {}}[kind]
    np.testing.assert_allclose(got, _attention(q, v, k, **extra)[0], rtol=1e-5, atol=1e-6)


def test_attention_masks_causal_and_scores(rng):
    q = rng.standard_normal((2, 4, 3)).astype(np.float32)
    v = rng.standard_normal((2, 4, 3)).astype(np.float32)
    q_mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    v_mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    layer = Attention()
    layer([q, v])
    layer.return_attention_scores = True
    layer.use_causal_mask = True
    out, weights = layer.call([q, v], mask=[q_mask, v_mask])
    want_out, want_w = _attention(q, v, v_mask=v_mask, q_mask=q_mask, causal=True)
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights, want_w, rtol=1e-5, atol=1e-6)
    assert weights[0, 0, 1:].max() < 1e-6 and weights[1, :, 1:].max() < 1e-6  # causal and value-masked steps
    # Keras's documented mask=[query_mask, value_mask] also with a key input, [q, v, k]
    for make in (Attention, AdditiveAttention):
        three = make()
        np.testing.assert_allclose(three([q, v, v], mask=[q_mask, v_mask]), three([q, v, v], mask=[q_mask, v_mask, v_mask]))
    with pytest.raises(ValueError, match="must be a list of 3 masks"):
        Attention()([q, v, v], mask=[q_mask])


@pytest.mark.parametrize("make", [lambda: Attention(use_scale=True), lambda: AdditiveAttention(),
                                  lambda: Attention(score_mode="concat")], ids=["luong", "bahdanau", "concat"])
def test_attention_gradients(float64_numpy, rng, make):
    enc_in, dec_in = Input((5, 3)), Input((4, 3))
    enc = LSTM(4, return_sequences=True)(enc_in)
    dec = LSTM(4, return_sequences=True)(dec_in)
    context = make()([dec, enc])
    out = TimeDistributed(Dense(2))(concatenate([context, dec]))
    model = Model([enc_in, dec_in], out)
    model.compile("sgd", "mse")
    model_gradcheck(model, [rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))],
                    rng.standard_normal((2, 4, 2)))


def test_masked_attention_gradients(float64_numpy, rng):
    tokens_q, tokens_v = Input((4,), dtype="int32"), Input((5,), dtype="int32")
    embed = Embedding(7, 3, mask_zero=True)
    context, weights = Attention(use_scale=True)([embed(tokens_q), embed(tokens_v)], use_causal_mask=False,
                                                 return_attention_scores=True)
    model = Model([tokens_q, tokens_v], [Dense(1)(context), weights])
    model.compile("sgd", ["mse", "mse"])
    tq, tv = rng.integers(1, 7, (3, 4)), rng.integers(1, 7, (3, 5))
    tq[:, 3] = 0
    tv[:, 4] = 0
    model_gradcheck(model, [tq, tv], [rng.standard_normal((3, 4, 1)), rng.standard_normal((3, 4, 5))])


def test_seq2seq_with_attention_learns_and_saves(tmp_path, rng):
    # copy a short sequence of tokens through an encoder-decoder with Luong attention
    fastnn.utils.set_random_seed(3)
    n, t, vocab = 256, 5, 6
    src = rng.integers(1, vocab, (n, t))
    dec_in = np.concatenate([np.zeros((n, 1), int), src[:, :-1]], axis=1)
    enc_tokens, dec_tokens = Input((t,), dtype="int32"), Input((t,), dtype="int32")
    enc = LSTM(24, return_sequences=True)(Embedding(vocab, 8)(enc_tokens))
    dec = LSTM(24, return_sequences=True)(Embedding(vocab, 8)(dec_tokens))
    context = Attention()([dec, enc])
    out = TimeDistributed(Dense(vocab, activation="softmax"))(concatenate([context, dec]))
    model = Model([enc_tokens, dec_tokens], out)
    model.compile(fastnn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit([src, dec_in], src, epochs=30, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, history.history["accuracy"][-5:]
    path = tmp_path / "attention.keras"
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(again.predict([src[:8], dec_in[:8]], verbose=0),
                               model.predict([src[:8], dec_in[:8]], verbose=0), rtol=1e-5)


def test_attention_errors():
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"takes a list of 2 or 3 inputs"):
        Attention()([Input((3, 2))] * 4)
    with pytest.raises(ValueError, match=r"dropout must be a float in \[0, 1\)"):
        AdditiveAttention(dropout=1.5)


def test_attention_dropout_in_training_only(rng):
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 6, 4)).astype(np.float32)
    layer = Attention(dropout=0.5, seed=4, return_attention_scores=True)
    out, weights = layer.call([q, v])
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-6)  # inference: no dropout
    _, dropped = layer.call([q, v], training=True)
    kept = dropped != 0
    assert 0.2 < kept.mean() < 0.8
    np.testing.assert_allclose(dropped[kept], 2 * weights[kept], rtol=1e-5)  # inverted dropout
    layer._calls = 0
    np.testing.assert_array_equal(layer.call([q, v], training=True)[1], dropped)  # the seed's masks
    assert Attention.from_config(layer.get_config()).return_attention_scores
