"""fastnn.layers.attention — Keras's Dot, Attention (Luong) and AdditiveAttention (Bahdanau).

They are what a seq2seq model with attention adds to its encoder and decoder: scores between the
decoder's steps (queries) and the encoder's (keys), a softmax over the encoder's steps, and the
weighted sum of its outputs (values). Written with the `fastnn.backend` functions; their
gradients come from the autodiff tape (`fastnn.autodiff`): batched products of (batch, T, dim)
sequences in NumPy's BLAS, not fastnn kernels.
"""

from __future__ import annotations

import numpy as np

from .. import autodiff, ops, utils
from .. import autodiff as K
from .base import Layer, register_layer, tape_weights


class _OnTape(Layer):
    """A layer of several inputs whose forward (`_forward`, on tape tensors) is written with the
    backend functions; backward walks the tape to the inputs and the trainable weights."""

    _multi_input = True

    def call(self, inputs, training=False, mask=None):
        leaves = [autodiff.Tensor(np.asarray(x)) for x in inputs]
        with tape_weights(self) as weights:
            outs = self._forward(leaves, training, mask)
        outs = outs if isinstance(outs, list) else [outs]
        self._tape = (outs, leaves, weights)
        values = [np.asarray(autodiff._value(o), dtype=self.dtype) for o in outs]
        return values if len(values) > 1 else values[0]

    def backward(self, dy):
        outs, leaves, weights = self._tape
        grads = autodiff.grad_of_outputs(outs, dy if isinstance(dy, (list, tuple)) else [dy], leaves + weights)
        self._gradients = grads[len(leaves):]
        return grads[:len(leaves)] if self._need_input_grad else [None] * len(leaves)

    def _inputs(self, shapes, counts):
        if not isinstance(shapes, (list, tuple)) or len(shapes) not in counts:
            raise ValueError(f"{type(self).__name__} '{self.name}' takes a list of {' or '.join(map(str, counts))} "
                             f"inputs. Received: {shapes!r}")


@register_layer
class Dot(_OnTape):
    """The dot product of two tensors, sample by sample, over ``axes`` (an int or one per input):
    ``Dot(axes=2)([q, k])`` of (batch, Tq, d) and (batch, Tk, d) is (batch, Tq, Tk); of two
    (batch, d), (batch, 1). ``normalize``: L2-normalise both along the axes first (the cosine
    similarity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, (int, np.integer)) else tuple(axes)
        if len(pair) != 2 or not all(isinstance(a, (int, np.integer)) for a in pair):
            raise ValueError(f"Dot: axes must be an int or a pair of ints. Received: axes={axes!r}")
        self.axes = axes if isinstance(axes, (int, np.integer)) else list(pair)
        self._pair = tuple(int(a) for a in pair)
        self.normalize = bool(normalize)

    def build(self, input_shape):
        self._inputs(input_shape, (2,))
        self.built = True

    def _forward(self, inputs, training, mask):
        x, y = inputs
        ax, ay = self._pair
        if self.normalize:
            x, y = K.l2_normalize(x, axis=ax), K.l2_normalize(y, axis=ay)
        return K.batch_dot(x, y, axes=(ax, ay))

    def compute_output_shape(self, input_shape):
        self._inputs(input_shape, (2,))
        xs, ys = (tuple(s) for s in input_shape)
        ax, ay = self._pair[0] % len(xs), self._pair[1] % len(ys)
        if len(xs) == 2 and len(ys) == 2:
            return (xs[0], 1)
        return xs[:ax] + xs[ax + 1:] + tuple(d for i, d in enumerate(ys) if i not in (0, ay))

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


@register_layer
class Attention(_OnTape):
    """Dot-product attention (Luong): ``Attention()([query, value])`` or ``[query, value, key]``
    (key defaults to value), each (batch, T, dim); the output is (batch, Tq, dim_value).

    scores = query·keyᵀ (times a trained scalar ``scale`` with ``use_scale``; ``score_mode=
    "concat"``: sum(tanh(query + key)) times a trained scalar), a softmax over the value steps
    (the masked ones left out), optionally ``dropout`` on those weights in training, then the
    weighted sum of the values; steps masked in the query are 0. ``use_causal_mask`` (given to
    the call, as Keras: ``Attention()([q, v], use_causal_mask=True)``) keeps step i from
    attending to steps after it; ``return_attention_scores`` returns ``[output, weights]``.
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        # the call's options, kept in the saved config (a model's layer is called once)
        call_options = {k: bool(kwargs.pop(k)) for k in ("use_causal_mask", "return_attention_scores") if k in kwargs}
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}: score_mode must be 'dot' or 'concat'. "
                             f"Received: score_mode={score_mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"{type(self).__name__}: dropout must be a float in [0, 1). Received: dropout={dropout!r}")
        self.use_scale, self.score_mode, self.dropout = bool(use_scale), score_mode, float(dropout)
        self.seed = seed
        self._stream = seed if seed is not None else utils.draw_seed()
        self._calls = 0
        self.use_causal_mask = call_options.get("use_causal_mask", False)
        self.return_attention_scores = call_options.get("return_attention_scores", False)
        self.scale = self.concat_score_weight = None

    def __call__(self, inputs, use_causal_mask=None, return_attention_scores=None, **kwargs):
        if use_causal_mask is not None:
            self.use_causal_mask = bool(use_causal_mask)
        if return_attention_scores is not None:
            self.return_attention_scores = bool(return_attention_scores)
        return super().__call__(inputs, **kwargs)

    def build(self, input_shape):
        self._inputs(input_shape, (2, 3))
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(), initializer="ones")
        self.built = True

    def _scores(self, q, k):
        if self.score_mode == "dot":
            scores = K.batch_dot(q, k, axes=(2, 2))
            return scores * self.scale if self.scale is not None else scores
        pairs = K.expand_dims(q, -2) + K.expand_dims(k, -3)  # (batch, Tq, Tv, dim)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * K.sum(K.tanh(pairs), axis=-1)

    def _forward(self, inputs, training, mask):
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask, v_mask = (mask[0], mask[1]) if isinstance(mask, (list, tuple)) else (None, None)
        scores = self._scores(q, k)
        tq, tv = scores.shape[1], scores.shape[2]
        keep = None
        if v_mask is not None:
            keep = np.asarray(v_mask, bool)[:, None, :]
        if self.use_causal_mask:
            causal = np.tril(np.ones((tq, tv), bool))[None]
            keep = causal if keep is None else keep & causal
        if keep is not None:  # masked steps out of the softmax (as Keras: a -1e9 bias)
            scores = scores - 1e9 * (~keep).astype(self.dtype)
        weights = K.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            seed = utils.derive_seed(self._stream, self._calls)
            self._calls += 1
            drop = ops.dropout_forward(np.ones(weights.shape, self.dtype), self.dropout, seed)[0]
            weights = weights * drop
        out = K.batch_dot(weights, v, axes=(2, 1))
        if q_mask is not None:
            out = out * np.asarray(q_mask, self.dtype)[:, :, None]
        return [out, weights] if self.return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        q_mask = mask[0] if isinstance(mask, (list, tuple)) else None
        return [q_mask, None] if self.return_attention_scores else q_mask

    def compute_output_shape(self, input_shape):
        self._inputs(input_shape, (2, 3))
        q, v = tuple(input_shape[0]), tuple(input_shape[1])
        out = q[:-1] + v[-1:]
        return [out, q[:-1] + (v[1],)] if self.return_attention_scores else out

    def get_config(self):
        config = {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                  "dropout": self.dropout, "seed": self.seed}
        for option in ("use_causal_mask", "return_attention_scores"):
            if getattr(self, option):
                config[option] = True
        return config


@register_layer
class AdditiveAttention(Attention):
    """Additive attention (Bahdanau): scores = sum(scale · tanh(query + key)) over the features,
    with ``scale`` a trained vector (dim,) (``use_scale``, default True); otherwise as `Attention`."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._inputs(input_shape, (2, 3))
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(input_shape[0][-1],), initializer="glorot_uniform")
        self.built = True

    def _scores(self, q, k):
        pairs = K.tanh(K.expand_dims(q, -2) + K.expand_dims(k, -3))  # (batch, Tq, Tv, dim)
        return K.sum(self.scale * pairs if self.scale is not None else pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode")
        return config
