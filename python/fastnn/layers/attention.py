"""fastnn.layers.attention — Keras's Dot, Attention (Luong), AdditiveAttention (Bahdanau) and
MultiHeadAttention (Keras 3's, for Transformers).

The first three are what a seq2seq model with attention adds to its encoder and decoder: scores
between the decoder's steps (queries) and the encoder's (keys), a softmax over the encoder's steps,
and the weighted sum of its outputs (values). Written with the `fastnn.backend` functions; their
gradients come from the autodiff tape (`fastnn.autodiff`), whose float32 products of (batch, T, dim)
sequences run fastnn's batched GEMM.

MultiHeadAttention has its own forward and backward: the projections are 2-D products
(``ops.dense_forward``/``ops.dense_backward``), the per-head products ``ops.batched_matmul`` (each
(batch, head) item on one thread) and the softmax fastnn's kernel.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import _backend, autodiff, ops, utils
from .._batch_dataset import EagerArray
from .. import autodiff as K
from .base import _tape_leaves, KerasTensor, Layer, TRACED_TRAINING, register_layer, set_weight_options, tape_training, tape_weights, weight_options_config


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
            # (Keras 3's ops.nn.normalize: the squared norm at least epsilon² = 1e-14)
            x, y = K.l2_normalize(x, axis=ax, epsilon=1e-14), K.l2_normalize(y, axis=ay, epsilon=1e-14)
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
    _masks_of_first_inputs = 2  # (Keras: mask=[query_mask, value_mask] with [q, v, k]; the key's is the value's)

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


# ---- MultiHeadAttention ------------------------------------------------------------------------

_QUERY, _VALUE, _KEY, _ATTENTION_MASK = "query", "value", "key", "attention_mask"
_LAYOUTS = ((_QUERY, _VALUE), (_QUERY, _VALUE, _KEY), (_QUERY, _VALUE, _ATTENTION_MASK),
            (_QUERY, _VALUE, _KEY, _ATTENTION_MASK))
_LARGE_NEGATIVE = -1e9  # Keras's Softmax: masked scores are replaced by it


def _is_tape_tensor(x):
    return isinstance(x, autodiff.Tensor)


@register_layer
class MultiHeadAttention(Layer):
    """Keras 3's multi-head attention (Vaswani et al., 2017), with Keras's weights, masks and config.

    ``mha(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)``: query (batch, T, dim_q), value (batch, S, dim_v),
    key (batch, S, dim_k) (default: value). Each input is projected per head (2-D products:
    (batch·T, dim) @ (dim, heads·key_dim)); scores = (query·1/sqrt(key_dim))·keyᵀ per head, a
    softmax over the key steps (masked steps replaced by -1e9, as Keras's Softmax), dropout on
    those probabilities in training only, the weighted sum of the values, then the output
    projection back to dim_q (or ``output_shape``). Returns the output (batch, T, dim_q), and with
    ``return_attention_scores`` also the probabilities (batch, heads, T, S) (before dropout).

    Masks, as Keras 3 combines them (all ANDed, True = attend): ``attention_mask`` (batch, T, S),
    broadcast over the heads (and over the batch when it has fewer axes, e.g. (T, S)) or
    (batch, heads, T, S); the Keras masks of the inputs (``Embedding(mask_zero=True)``,
    ``Masking``): the query's as (batch, T, 1), the value's and the key's (only when ``key`` is
    given) as (batch, 1, S); ``use_causal_mask`` (query step i attends to key steps j <= i);
    ``sliding_window`` w (|i - j| < w). The output carries the query's mask. A row with every key
    masked (a masked query step): Keras's explicit path (``dropout > 0``, or
    ``return_attention_scores``, or inputs of rank > 3) gives it zero probabilities (output: the
    output bias); its fused path (``ops.dot_product_attention``, used otherwise on the
    TensorFlow, JAX and NumPy backends) a uniform average over the keys. fastnn follows the same
    rule, so its numbers match Keras's in both cases.

    Weights, in Keras's order and layouts (so `set_weights` takes a Keras model's
    ``get_weights()``): ``query/kernel`` (dim_q, heads, key_dim), ``query/bias`` (heads,
    key_dim), ``key/kernel`` (dim_k, heads, key_dim), ``key/bias``, [``gate/kernel`` (dim_q,
    heads, value_dim), ``gate/bias`` with ``use_gate``], ``value/kernel`` (dim_v, heads,
    value_dim), ``value/bias`` (heads, value_dim), ``attention_output/kernel`` (heads, value_dim,
    *output_shape), ``attention_output/bias`` (output_shape); no biases with ``use_bias=False``.

    Args:
        num_heads, key_dim: positive integers. value_dim: default key_dim.
        dropout: rate in [0, 1) on the attention probabilities (training only); ``seed`` seeds it.
        use_bias: default True. output_shape: an int or a tuple (default: the query's last dim).
        attention_axes: the axes attended over (default: every axis but the batch and the
            features; inputs may have rank > 3, e.g. (batch, H, W, C) with attention_axes=(2,)).
        sliding_window: None or a positive int. use_gate: Keras 3.15's gated attention (the
            output multiplied by a sigmoid projection of the query before the output projection).
        flash_attention: accepted (None/False/True) for Keras compatibility; it changes nothing
            here but, as Keras, True refuses dropout and return_attention_scores.
        kernel/bias initializer, regularizer and constraint: shared by the projections.
        activity_regularizer: not supported (Keras puts it on each inner projection).

    In a model a layer runs one set of call options (``use_causal_mask``,
    ``return_attention_scores``, which inputs are given), recorded in its config; calling one
    layer symbolically with different options is an error (make a second layer and copy the
    weights with ``set_weights``). Called on arrays, each call takes its own options.
    """

    _multi_input = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        # the call's options in a model (see the class docstring), kept in the config
        use_causal_mask = kwargs.pop("use_causal_mask", False)
        return_attention_scores = kwargs.pop("return_attention_scores", False)
        call_inputs = kwargs.pop("call_inputs", None)
        name = type(self).__name__

        def positive(value, arg, allow_none=False):
            if allow_none and value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name}: received an invalid value for argument `{arg}`, expected a positive integer"
                                 f"{' or None' if allow_none else ''}. Received: {arg}={value!r}")
            return int(value)

        num_heads = positive(num_heads, "num_heads")
        key_dim = positive(key_dim, "key_dim")
        value_dim = positive(value_dim, "value_dim", allow_none=True)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer, np.floating)) \
                or not 0 <= dropout < 1:
            raise ValueError(f"{name}: received an invalid value for argument `dropout`, expected a float in [0, 1). "
                             f"Received: dropout={dropout!r}")
        if output_shape is not None and not (isinstance(output_shape, (int, np.integer, list, tuple))
                                             and not isinstance(output_shape, bool)):
            raise ValueError(f"{name}: invalid `output_shape`, expected an int, a tuple or a list of positive "
                             f"integers, or None. Received: output_shape={output_shape!r}")
        if output_shape:  # as Keras: 0 and () mean None
            dims = (output_shape,) if isinstance(output_shape, (int, np.integer)) else tuple(output_shape)
            output_shape = tuple(positive(d, "output_shape") for d in dims)
        else:
            output_shape = None
        if isinstance(attention_axes, (int, np.integer)) and not isinstance(attention_axes, bool):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)) or not attention_axes or any(
                    isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in attention_axes):
                raise ValueError(f"{name}: `attention_axes` must be an int, or a non-empty list or tuple of ints, or "
                                 f"None. Received: attention_axes={attention_axes!r}")
            attention_axes = tuple(int(a) for a in attention_axes)
        sliding_window = positive(sliding_window, "sliding_window", allow_none=True)
        if flash_attention not in (None, True, False):
            raise ValueError(f"{name}: `flash_attention` must be None, True or False. "
                             f"Received: flash_attention={flash_attention!r}")
        if flash_attention and dropout > 0:
            raise ValueError(f"{name}: dropout is not supported when flash attention is enabled (as in Keras). "
                             f"Received: dropout={dropout!r}, flash_attention=True")
        if activity_regularizer is not None:
            raise ValueError(f"{name}: activity_regularizer is not supported (Keras applies it to each inner "
                             f"projection). Received: activity_regularizer={activity_regularizer!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{name}: expected a non-negative integer seed or None. Received: seed={seed!r}")
        if call_inputs is not None and tuple(call_inputs) not in _LAYOUTS:
            raise ValueError(f"{name}: `call_inputs` must be one of {[list(l) for l in _LAYOUTS]}. "
                             f"Received: call_inputs={call_inputs!r}")
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim if value_dim else key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        self._output_shape = output_shape
        self.attention_axes = attention_axes
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention
        set_weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                           bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.seed = None if seed is None else int(seed)
        self._stream = self.seed if self.seed is not None else utils.draw_seed()
        self._calls = 0
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self.key_dim))
        self.use_causal_mask = bool(use_causal_mask)
        self.return_attention_scores = bool(return_attention_scores)
        self._layout = tuple(call_inputs) if call_inputs is not None else (_QUERY, _VALUE)
        self._axes = None  # the attended axes of the inputs, set by build
        self._projections = {}  # name -> (kernel, bias or None), set by build

    # -- calling --------------------------------------------------------------------------------

    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                 attention_mask=None, return_attention_scores=None, training=None, use_causal_mask=None, mask=None):
        # under a GradientTape: an array it watches is called as its tape leaf (tape.watch(x); mha(x, x)
        # differentiates with respect to x), as Layer.__call__ does
        swapped = None if isinstance(query, (list, tuple)) else autodiff.on_watched_now([query, value, key])
        if swapped is not None:
            query, value, key = swapped
        named = {_QUERY: query, _VALUE: value, _KEY: key, _ATTENTION_MASK: attention_mask}
        given = list(query) if isinstance(query, (list, tuple)) else list(named.values())
        if any(_is_tape_tensor(v) for v in given) or (
                # (on arrays, under a GradientTape that records its weights: a custom loop's first layer)
                _tape_leaves and not any(isinstance(v, KerasTensor) for v in given)
                and _tape_leaves[-1].records(self)):  # (records: also a layer its first call builds)
            # inside a custom layer's call(): this call on the values, on the tape (gradients per input);
            # an input that carries its Keras mask gives it, as Keras's MultiHeadAttention takes them
            if not isinstance(query, (list, tuple)) and mask is None:
                query_mask = query_mask if query_mask is not None else getattr(query, "_keras_mask", None)
                value_mask = value_mask if value_mask is not None else getattr(value, "_keras_mask", None)
                key_mask = key_mask if key_mask is not None else getattr(key, "_keras_mask", None)
            options = dict(query_mask=query_mask, value_mask=value_mask, key_mask=key_mask, mask=mask,
                           return_attention_scores=return_attention_scores, use_causal_mask=use_causal_mask,
                           training=tape_training(training))
            if isinstance(query, (list, tuple)):
                return self._call_on_tensors(list(query), True, lambda values: self(values, **options))
            given = [n for n in (_QUERY, _VALUE, _KEY, _ATTENTION_MASK) if named[n] is not None]
            return self._call_on_tensors([named[n] for n in given], True,
                                         lambda values: self(**dict(zip(given, values)), **options))
        if isinstance(query, (list, tuple)):  # the inputs as one list (a model rebuilding its graph, a test)
            if value is not None or key is not None or attention_mask is not None:
                raise ValueError(f"{type(self).__name__} '{self.name}': pass the inputs either as a list or as "
                                 "query, value, key=..., attention_mask=..., not both")
            inputs = list(query)
            if len(inputs) == len(self._layout):
                layout = self._layout
            elif len(inputs) in (2, 3) and not self._inbound_nodes:  # not in a graph yet: [q, v] or [q, v, k]
                layout = self._layout = (_QUERY, _VALUE, _KEY)[:len(inputs)]
            elif self._inbound_nodes:
                raise ValueError(f"{type(self).__name__} '{self.name}' is called in a graph with the inputs "
                                 f"{list(self._layout)}, so a list of inputs must hold {len(self._layout)}. Received: "
                                 f"a list of {len(inputs)}")
            else:
                raise ValueError(f"{type(self).__name__} '{self.name}' takes a list of 2 or 3 inputs (query, value, "
                                 f"key). Received: a list of {len(inputs)}")
            causal = self.use_causal_mask if use_causal_mask is None else bool(use_causal_mask)
            scores = self.return_attention_scores if return_attention_scores is None else bool(return_attention_scores)
            keras_masks = self._masks_from_list(mask, layout, len(inputs))
        else:
            if value is None:
                raise ValueError(f"{type(self).__name__} '{self.name}': `value` is required: mha(query, value). "
                                 "Received: value=None")
            if mask is not None:
                raise ValueError(f"{type(self).__name__} '{self.name}': give the Keras masks as query_mask=, "
                                 f"value_mask=, key_mask= (or attention_mask=). Received: mask={type(mask).__name__}")
            layout = tuple(n for n in (_QUERY, _VALUE, _KEY, _ATTENTION_MASK) if named[n] is not None)
            inputs = [named[n] for n in layout]
            causal, scores = bool(use_causal_mask), bool(return_attention_scores)
            # (eager inputs carry their Keras masks, an Embedding(mask_zero=True)'s, as in Keras)
            query_mask = query_mask if query_mask is not None else getattr(query, "_keras_mask", None)
            value_mask = value_mask if value_mask is not None else getattr(value, "_keras_mask", None)
            key_mask = key_mask if key_mask is not None else getattr(key, "_keras_mask", None)
            keras_masks = {_QUERY: query_mask, _VALUE: value_mask, _KEY: key_mask if key is not None else None}
        if self.flash_attention and scores:
            raise ValueError(f"{type(self).__name__} '{self.name}': returning attention scores is not supported when "
                             "flash attention is enabled (as in Keras). Received: return_attention_scores=True, "
                             "flash_attention=True")
        symbolic = [isinstance(x, KerasTensor) for x in inputs]
        if any(symbolic):
            if not all(symbolic):
                odd = [n for n, s in zip(layout, symbolic) if not s]
                raise ValueError(f"{type(self).__name__} '{self.name}': in a functional model every input must be a "
                                 f"symbolic tensor (an Input or a layer's output); {', '.join(odd)} is an array. "
                                 "Pass a constant attention_mask as a model input, or use use_causal_mask=True")
            if any(m is not None for m in keras_masks.values()):
                raise ValueError(f"{type(self).__name__} '{self.name}': in a model the Keras masks come from the "
                                 "layers (Embedding(mask_zero=True), Masking); do not pass query_mask/value_mask/"
                                 "key_mask with symbolic inputs")
            options = (layout, causal, scores)
            if self._inbound_nodes and options != (self._layout, self.use_causal_mask, self.return_attention_scores):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' is already called in a graph with inputs {list(self._layout)}"
                    f", use_causal_mask={self.use_causal_mask}, return_attention_scores="
                    f"{self.return_attention_scores}; fastnn runs one set of call options per layer. Received: inputs "
                    f"{list(layout)}, use_causal_mask={causal}, return_attention_scores={scores}. Use a second layer "
                    "(copy the weights with set_weights)")
            self._layout, self.use_causal_mask, self.return_attention_scores = options
            out = self._call_symbolic(inputs)
            if training is not None and training is not TRACED_TRAINING:  # (a flag given in the graph: the
                self._inbound_nodes[-1].training = bool(training)          # model runs this call so, as Layer's)
            return out
        arrays = [self._as_mask(x, _ATTENTION_MASK) if n == _ATTENTION_MASK else self._as_input(x)
                  for n, x in zip(layout, inputs)]
        shapes = [(None,) + a.shape[1:] for a in arrays]
        axes = self._check_shapes({n: a.shape for n, a in zip(layout, arrays)}, causal)
        parts = dict(zip(layout, arrays))
        self._check_call_arrays(parts, keras_masks, axes)
        if not self.built:
            self._build_roles(dict(zip(layout, shapes)))
            self._build_input_shape = shapes
        with _backend.backend("numpy") if self._computes_on_numpy() else contextlib.nullcontext():  # (float64)
            out = self._run(parts, layout, causal, scores, bool(training), keras_masks)
        query_mask = keras_masks.get(_QUERY)
        if query_mask is not None:  # (the output's Keras mask is the query's, as Keras's compute_mask gives)
            first = out[0] if scores else out
            if isinstance(first, np.ndarray):
                first = first.view(EagerArray)
                first._keras_mask = query_mask
                out = (first, out[1]) if scores else first
        if scores:
            return (out[0], out[1]) if not isinstance(query, (list, tuple)) else out
        return out

    def call(self, inputs, training=False, mask=None):
        """A model's call: the inputs in the layout of the layer's graph call, its stored options,
        and the inputs' Keras masks (a list, None for an input without one)."""
        keras_masks = self._masks_from_list(mask, self._layout, len(inputs))
        parts = dict(zip(self._layout, inputs))
        if _ATTENTION_MASK in parts:
            parts[_ATTENTION_MASK] = self._as_mask(parts[_ATTENTION_MASK], _ATTENTION_MASK)
        self._check_call_arrays(parts, keras_masks, self._axes)
        return self._run(parts, self._layout, self.use_causal_mask, self.return_attention_scores, bool(training),
                         keras_masks)

    def _masks_from_list(self, mask, layout, n):
        if mask is None:
            return {}
        if not isinstance(mask, (list, tuple)) or len(mask) != n:
            raise ValueError(f"{type(self).__name__} '{self.name}': `mask` must be a list of {n} masks (None for an "
                             f"input without one). Received: {mask!r}")
        found = dict(zip(layout, mask))
        return {_QUERY: found.get(_QUERY), _VALUE: found.get(_VALUE), _KEY: found.get(_KEY)}

    def _as_mask(self, m, what):
        a = np.asarray(m)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{type(self).__name__} '{self.name}': {what} must be a boolean (or 0/1 numeric) array. "
                            f"Received: dtype={a.dtype}")
        return a if a.dtype == bool else a != 0

    # -- shapes ---------------------------------------------------------------------------------

    def _normalized_axes(self, rank):
        """The attended axes of inputs of ``rank`` (Keras's normalisation of negative axes)."""
        if self.attention_axes is None:
            return tuple(range(1, rank - 1))
        axes = tuple(a if a >= 0 else rank + a for a in self.attention_axes)
        if any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"{type(self).__name__} '{self.name}': attention_axes must be distinct axes between the "
                             f"batch axis and the features axis, 1..{rank - 2} (or their negative forms) for inputs "
                             f"of rank {rank}. Received: attention_axes={self.attention_axes!r}")
        return axes

    def _check_shapes(self, shapes, causal):
        """Validate the input shapes (by role; batch axis first); returns the attended axes."""
        cls = f"{type(self).__name__} '{self.name}'"
        q, v = tuple(shapes[_QUERY]), tuple(shapes[_VALUE])
        k = tuple(shapes.get(_KEY, v))
        rank = len(q)
        if rank < 3:
            raise ValueError(f"{cls}: query must have a batch axis, at least one step axis and a features axis, e.g. "
                             f"(batch, T, dim). Received: query shape {q}")
        for what, s in ((_VALUE, v), (_KEY, k)):
            if len(s) != rank:
                raise ValueError(f"{cls}: {what} must have the query's rank {rank}. Received: query shape {q}, "
                                 f"{what} shape {s}")
        for what, s in ((_QUERY, q), (_VALUE, v), (_KEY, k)):
            if s[-1] is None:
                raise ValueError(f"{cls}: the last axis of {what} must be known. Received: {what} shape {s}")
        if any(a is not None and b is not None and a != b for a, b in zip(v[1:-1], k[1:-1])):
            raise ValueError(f"{cls}: all dimensions of `value` and `key`, except the last one, must be equal. "
                             f"Received: value_shape={v} and key_shape={k}")
        axes = self._normalized_axes(rank)
        for i in range(1, rank - 1):
            if i not in axes and q[i] is not None and v[i] is not None and q[i] != v[i]:
                raise ValueError(f"{cls}: axis {i} is not attended over (attention_axes={axes}), so query and value "
                                 f"must have the same size there. Received: query shape {q}, value shape {v}")
        if self.built:
            for what, s in ((_QUERY, q), (_VALUE, v), (_KEY, k)):
                kernel = self._projections[what][0]
                if s[-1] != kernel.shape[0]:
                    raise ValueError(f"{cls} was built for {what} inputs with last dimension {kernel.shape[0]}. "
                                     f"Received: {what} shape {s}")
            if rank != self._rank:
                raise ValueError(f"{cls} was built for inputs of rank {self._rank}. Received: query shape {q}")
        if (causal or self.sliding_window is not None) and rank != 3:
            raise ValueError(f"{cls}: use_causal_mask and sliding_window need inputs of rank 3, (batch, T, dim). "
                             f"Received: query shape {q}")
        if _ATTENTION_MASK in shapes:
            self._check_attention_mask_shape(tuple(shapes[_ATTENTION_MASK]), self._scores_shape(q, v, axes), len(axes))
        return axes

    def _scores_shape(self, q, v, axes):
        """(batch, <axes not attended>, heads, <query's attended axes>, <key's attended axes>)."""
        rest = [i for i in range(1, len(q) - 1) if i not in axes]
        return (q[0],) + tuple(q[i] for i in rest) + (self.num_heads,) + tuple(q[i] for i in axes) \
            + tuple(v[i] for i in axes)

    def _check_attention_mask_shape(self, m, scores, n_attn):
        """Keras's broadcasting: the mask gains axes before its attended ones up to the scores'
        rank; then each of its axes must be 1 or the scores'."""
        expanded = self._expand_mask_shape(m, len(scores), n_attn)
        ok = expanded is not None and all(a is None or b is None or a == 1 or a == b
                                          for a, b in zip(expanded, scores))
        if not ok:
            raise ValueError(f"{type(self).__name__} '{self.name}': attention_mask must broadcast to the attention "
                             f"scores {tuple(scores)} (batch, heads, query steps, key steps), as (batch, T, S), (T, S) "
                             f"or (batch, heads, T, S). Received: attention_mask shape {tuple(m)}")

    @staticmethod
    def _expand_mask_shape(m, rank, n_attn):
        if len(m) > rank:
            return None
        missing = rank - len(m)
        split = len(m) - 2 * n_attn  # Keras inserts the new axes just before the attended ones
        if split < 0:
            return None
        return tuple(m[:split]) + (1,) * missing + tuple(m[split:])

    def compute_output_shape(self, input_shape):
        shapes = self._shapes_by_role(input_shape)
        axes = self._check_shapes(shapes, self.use_causal_mask)
        q = tuple(shapes[_QUERY])
        out = q[:-1] + (self._output_shape or (q[-1],))
        if self.return_attention_scores:
            return [out, self._scores_shape(q, tuple(shapes[_VALUE]), axes)]
        return out

    def _shapes_by_role(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)) or len(input_shape) != len(self._layout):
            raise ValueError(f"{type(self).__name__} '{self.name}' takes the shapes of its inputs {list(self._layout)}"
                             f" as a list. Received: {input_shape!r}")
        return dict(zip(self._layout, input_shape))

    # -- weights --------------------------------------------------------------------------------

    def build(self, input_shape):
        self._build_roles(self._shapes_by_role(input_shape))

    def _build_roles(self, shapes):
        """Create the weights for inputs of ``shapes`` ({role: shape})."""
        q = tuple(shapes[_QUERY])
        v = tuple(shapes[_VALUE])
        k = tuple(shapes.get(_KEY, v))
        rank = len(q)
        axes = self._check_shapes(shapes, self.use_causal_mask)
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self._output_shape or (q[-1],)

        def projection(name, kernel_shape, bias_shape):
            kernel = self.add_weight(f"{name}/kernel", kernel_shape, self.kernel_initializer, self.kernel_regularizer,
                                     constraint=self.kernel_constraint)
            bias = None
            if self.use_bias:
                bias = self.add_weight(f"{name}/bias", bias_shape, self.bias_initializer, self.bias_regularizer,
                                       constraint=self.bias_constraint)
            self._projections[name] = (kernel, bias)

        projection(_QUERY, (q[-1], heads, kd), (heads, kd))
        projection(_KEY, (k[-1], heads, kd), (heads, kd))
        if self.use_gate:
            projection("gate", (q[-1], heads, vd), (heads, vd))
        projection(_VALUE, (v[-1], heads, vd), (heads, vd))
        projection("attention_output", (heads, vd) + tuple(out), tuple(out))
        self._rank = rank
        # Keras records the normalised axes once built
        self.attention_axes = self._axes = axes
        self.built = True

    @property
    def _attention_layout(self):
        """The permutation of a projected (batch, <axes>, heads, dim) tensor into (batch, <other
        axes>, heads, <attended axes>, dim), and the number of leading (batched) axes."""
        rank = self._rank + 1
        rest = [i for i in range(1, rank - 2) if i not in self._axes]
        perm = [0] + rest + [rank - 2] + list(self._axes) + [rank - 1]
        return perm, len(rest) + 2

    # -- the computation ------------------------------------------------------------------------

    def _check_call_arrays(self, parts, keras_masks, axes):
        cls = f"{type(self).__name__} '{self.name}'"
        q, v = parts[_QUERY], parts[_VALUE]
        k = parts.get(_KEY, v)
        batch = q.shape[0]
        for what, x in ((_VALUE, v), (_KEY, k)):
            if x.shape[0] != batch:
                raise ValueError(f"{cls}: query and {what} must have the same batch size. Received: query shape "
                                 f"{q.shape}, {what} shape {x.shape}")
        if _ATTENTION_MASK in parts:
            scores = self._scores_shape(q.shape, v.shape, axes)
            self._check_attention_mask_shape(parts[_ATTENTION_MASK].shape, scores, len(axes))
        for what, x in ((_QUERY, q), (_VALUE, v), (_KEY, k)):
            m = keras_masks.get(what)
            if m is None:
                continue
            m = np.asarray(m)
            if q.ndim != 3 or m.shape != x.shape[:2]:
                raise ValueError(f"{cls}: the Keras mask of {what} must be (batch, steps) = {x.shape[:2]} for inputs "
                                 f"of rank 3. Received: {what}_mask shape {m.shape} for {what} shape {x.shape}")

    def _keep(self, parts, causal, keras_masks, scores_shape):
        """The combined boolean mask (True = attend), broadcastable to ``scores_shape`` and already
        expanded to its rank; None without any mask."""
        q, v = parts[_QUERY], parts[_VALUE]
        rank = len(scores_shape)
        n_attn = len(self._axes)
        auto = None

        def both(a, b):
            return b if a is None else a & b

        q_mask, v_mask, k_mask = (keras_masks.get(n) for n in (_QUERY, _VALUE, _KEY))
        if q_mask is not None:
            auto = both(auto, np.asarray(q_mask, bool)[:, :, None])
        if v_mask is not None:
            auto = both(auto, np.asarray(v_mask, bool)[:, None, :])
        if k_mask is not None:
            auto = both(auto, np.asarray(k_mask, bool)[:, None, :])
        if causal or self.sliding_window is not None:
            t, s = q.shape[1], v.shape[1]
            rows, cols = np.arange(t)[:, None], np.arange(s)[None, :]
            if causal:
                auto = both(auto, (rows >= cols)[None])
            if self.sliding_window is not None:
                auto = both(auto, (np.abs(rows - cols) < self.sliding_window)[None])

        def expand(m):
            return m.reshape(self._expand_mask_shape(m.shape, rank, n_attn))

        keep = None
        if _ATTENTION_MASK in parts:
            keep = expand(parts[_ATTENTION_MASK])
        if auto is not None:
            keep = both(keep, expand(auto))
        return keep

    def _project(self, name, x, activation="linear"):
        kernel, bias = self._projections[name]
        w = kernel.reshape(kernel.shape[0], -1) if name != "attention_output" else kernel.reshape(
            -1, int(np.prod(kernel.shape[2:])))
        x2 = x.reshape(-1, w.shape[0])
        y2 = ops.dense_forward(x2, w, None if bias is None else bias.reshape(-1), activation)
        return x2, w, y2

    def _run(self, parts, layout, causal, want_scores, training, keras_masks, fuse=True):
        q_in, v_in = parts[_QUERY], parts[_VALUE]
        k_in = parts.get(_KEY, v_in)
        dtype = np.dtype(self.dtype)
        scores_shape = self._scores_shape(q_in.shape, v_in.shape, self._axes)
        keep = self._keep(parts, causal, keras_masks, scores_shape)

        # projections: one 2-D product each, (rows, dim) @ (dim, heads * head_dim)
        xq, wq, q2 = self._project(_QUERY, q_in)
        xk, wk, k2 = self._project(_KEY, k_in)
        xv, wv, v2 = self._project(_VALUE, v_in)
        gate = None
        if self.use_gate:
            xg, wg, gate = self._project("gate", q_in, "sigmoid")

        fused = fuse and not training and not want_scores and self._rank == 3 and dtype == np.float32 \
            and _backend.get_backend() == "cpp"
        if fused:
            # inference: the fused per-head kernel (no head transposes, the scores stay in cache); a
            # backward after it forms the per-head tensors from these projections (`backward`)
            o, heads_part = self._attend_fused(q2, k2, v2, q_in.shape, k_in.shape[1], keep), None
        else:
            heads_part = self._attend_per_head(q2, k2, v2, q_in.shape, k_in.shape, v_in.shape, keep, scores_shape,
                                               want_scores, training)
            o = heads_part.pop("o")
        o_pre = o
        if gate is not None:
            o = o * gate.reshape(o.shape)
        xo, wo, y2 = self._project("attention_output", np.ascontiguousarray(o))
        out_dims = self._projections["attention_output"][0].shape[2:]
        y = y2.reshape(q_in.shape[:-1] + tuple(out_dims)).astype(dtype, copy=False)
        self._cache = dict(layout=layout, xq=xq, wq=wq, q2=q2, xk=xk, wk=wk, k2=k2, xv=xv, wv=wv, v2=v2,
                           gate=gate, xg=xg if gate is not None else None, wg=wg if gate is not None else None,
                           o_pre=o_pre, xo=xo, wo=wo, y2=y2, shapes={n: parts[n].shape for n in layout},
                           scores_shape=scores_shape, key_given=_KEY in parts,
                           heads=heads_part, fused_keep=keep if fused else None)
        if want_scores:
            return [y, np.asarray(heads_part["shown"].reshape(scores_shape), dtype=dtype)]
        return y

    def _attend_per_head(self, q2, k2, v2, q_in_shape, k_in_shape, v_in_shape, keep, scores_shape, want_scores,
                         training):
        """The attention of the projections q2, k2, v2 (rows, heads·dim) by per-head products: the
        output o (batch, <axes>, heads, vd) and the per-head tensors the backward uses."""
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        dtype = np.dtype(self.dtype)
        perm, lead = self._attention_layout
        inverse = list(np.argsort(perm))

        def heads_first(y2, x_shape, d):  # (rows, heads*d) -> (batch, <rest>, heads, T_flat, d), contiguous
            y = y2.reshape(x_shape[:-1] + (heads, d)).transpose(perm)
            flat = int(np.prod(y.shape[lead:-1], dtype=np.int64))  # (not -1: an empty batch leaves it open)
            return np.ascontiguousarray(y.reshape(y.shape[:lead] + (flat, d))), y.shape

        qs = q2 * dtype.type(self._inverse_sqrt_key_dim)  # Keras scales the query, then takes the products
        q4, q_shape = heads_first(qs, q_in_shape, kd)
        k4, k_shape = heads_first(k2, k_in_shape, kd)
        v4, _ = heads_first(v2, v_in_shape, vd)
        t_flat, s_flat = q4.shape[-2], k4.shape[-2]
        # the per-head products: fastnn's batched GEMM, each (batch, head) item on one thread
        scores = ops.batched_matmul(q4, k4, trans_b=True)  # (batch, <rest>, heads, T, S)
        keep_flat = None
        if keep is not None:
            full = keep.shape[:lead] + scores_shape[lead:]
            keep_flat = np.broadcast_to(keep, full).reshape(keep.shape[:lead] + (t_flat, s_flat))
            scores = np.where(keep_flat, scores, dtype.type(_LARGE_NEGATIVE))
        probs = ops.activation_forward(np.ascontiguousarray(scores, dtype=dtype), "softmax")  # max-subtracted
        # Keras's explicit path zeroes the masked probabilities (a fully masked row gets none);
        # its fused dot_product_attention (no dropout, no scores returned, rank-3 inputs) does not
        explicit = self.dropout > 0 or want_scores or self._rank != 3
        zero = explicit and keep_flat is not None
        shown = probs * keep_flat if zero else probs
        drop = None
        used = shown
        if training and self.dropout > 0:
            seed = utils.derive_seed(self._stream, self._calls)
            self._calls += 1
            used, drop = ops.dropout_forward(np.ascontiguousarray(shown), self.dropout, seed)
        o4 = ops.batched_matmul(used, v4)  # (batch, <rest>, heads, T, vd)
        o = o4.reshape(q_shape[:-1] + (vd,)).transpose(inverse)  # (batch, <axes>, heads, vd)
        return dict(o=o, q4=q4, k4=k4, v4=v4, q_shape=q_shape, k_shape=k_shape, keep=keep_flat, zero=zero,
                    probs=probs, shown=shown, used=used, drop=drop)

    def _attend_fused(self, q2, k2, v2, q_shape, steps, keep):
        """The attention of the projections q2 (B·T, heads·kd), k2, v2 (B·S, heads·kd / ·vd) by
        `ops.attention_forward`: (B, T, heads, vd), the value `_run`'s per-head ops give."""
        batch, t = q_shape[0], q_shape[1]
        heads = self.num_heads
        qs = (q2 * np.float32(self._inverse_sqrt_key_dim)).reshape(batch, t, q2.shape[1])  # (Keras scales q first)
        keep4 = None
        if keep is not None:  # (broadcastable to (B, heads, T, S): the kernel takes one per sample, or per head)
            keep4 = np.broadcast_to(keep, (batch, heads if keep.shape[1] == heads else 1, t, steps))
        # Keras's explicit path (dropout configured) zeroes the masked probabilities
        o = ops.attention_forward(qs, k2.reshape(batch, steps, k2.shape[1]), v2.reshape(batch, steps, v2.shape[1]),
                                  heads=heads, keep=keep4, zero_masked=keep is not None and self.dropout > 0)
        return o.reshape(batch, t, heads, self.value_dim)

    def backward(self, dy):
        c = self._cache
        if c["heads"] is None:  # (the inference call ran fused: its per-head tensors, from its projections)
            shapes = c["shapes"]
            q_shape, v_shape = shapes[_QUERY], shapes[_VALUE]
            part = self._attend_per_head(c["q2"], c["k2"], c["v2"], q_shape, shapes.get(_KEY, v_shape), v_shape,
                                         c["fused_keep"], c["scores_shape"], False, False)
            del part["o"]
            c["heads"] = part
        c = {**c, **c["heads"]}
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        dtype = np.dtype(self.dtype)
        d_scores = None
        if isinstance(dy, (list, tuple)):
            dy, d_scores = dy[0], (dy[1] if len(dy) > 1 else None)
        perm, lead = self._attention_layout
        inverse = list(np.argsort(perm))
        need_dw, use_bias = self.trainable, self.use_bias and self.trainable
        grads = {}
        if dy is None:
            dy = np.zeros(c["y2"].shape, dtype)
        d_o2, dw, db = ops.dense_backward(np.ascontiguousarray(dy.reshape(c["y2"].shape), dtype=dtype), c["xo"],
                                          c["wo"], c["y2"], "linear", use_bias=use_bias, need_dx=True,
                                          need_dw=need_dw)
        grads["attention_output"] = (dw, db)
        d_o = d_o2.reshape(c["o_pre"].shape)
        d_gate_x = None
        if c["gate"] is not None:
            gate = c["gate"].reshape(d_o.shape)
            d_gate = (d_o * c["o_pre"]).reshape(c["gate"].shape)
            d_o = d_o * gate
            d_gate_x, dw, db = ops.dense_backward(np.ascontiguousarray(d_gate, dtype=dtype), c["xg"], c["wg"],
                                                  c["gate"], "sigmoid", use_bias=use_bias,
                                                  need_dx=self._need_input_grad, need_dw=need_dw)
            grads["gate"] = (dw, db)
        d_o4 = d_o.transpose(perm).reshape(c["q_shape"][:lead] + (int(np.prod(c["q_shape"][lead:-1])), vd))
        d_o4 = np.ascontiguousarray(d_o4, dtype=dtype)
        d_used = ops.batched_matmul(d_o4, c["v4"], trans_b=True)
        d_v4 = ops.batched_matmul(c["used"], d_o4, trans_a=True)
        d_shown = d_used if c["drop"] is None else ops.dropout_backward(np.ascontiguousarray(d_used), c["drop"],
                                                                        self.dropout)
        if d_scores is not None:
            d_shown = d_shown + np.asarray(d_scores, dtype).reshape(d_shown.shape)
        keep = c["keep"]
        d_probs = d_shown * keep if c["zero"] else d_shown
        probs = c["probs"]
        d_logits = ops.activation_backward(np.ascontiguousarray(d_probs, dtype=dtype), probs, "softmax")
        if keep is not None:
            d_logits = np.where(keep, d_logits, dtype.type(0))
        d_q4 = ops.batched_matmul(d_logits, c["k4"]) * dtype.type(self._inverse_sqrt_key_dim)
        d_k4 = ops.batched_matmul(d_logits, c["q4"], trans_a=True)

        def rows_back(d4, shape, d):  # (batch, <rest>, heads, T_flat, d) -> (rows, heads*d)
            back = d4.reshape(shape[:-1] + (d,)).transpose(inverse)
            return np.ascontiguousarray(back, dtype=dtype).reshape(-1, heads * d)

        d_q2 = rows_back(d_q4, c["q_shape"], kd)
        d_k2 = rows_back(d_k4, c["k_shape"], kd)
        d_v2 = rows_back(d_v4, c["k_shape"], vd)
        need_dx = self._need_input_grad
        dxq, dw, db = ops.dense_backward(d_q2, c["xq"], c["wq"], c["q2"], "linear", use_bias=use_bias,
                                         need_dx=need_dx, need_dw=need_dw)
        grads[_QUERY] = (dw, db)
        dxk, dw, db = ops.dense_backward(d_k2, c["xk"], c["wk"], c["k2"], "linear", use_bias=use_bias,
                                         need_dx=need_dx, need_dw=need_dw)
        grads[_KEY] = (dw, db)
        dxv, dw, db = ops.dense_backward(d_v2, c["xv"], c["wv"], c["v2"], "linear", use_bias=use_bias,
                                         need_dx=need_dx, need_dw=need_dw)
        grads[_VALUE] = (dw, db)
        if need_dw:
            order = [_QUERY, _KEY] + (["gate"] if c["gate"] is not None else []) + [_VALUE, "attention_output"]
            gradients = []
            for name in order:
                kernel, bias = self._projections[name]
                dw, db = grads[name]
                gradients.append(np.asarray(dw, dtype).reshape(kernel.shape))
                if bias is not None:
                    gradients.append(np.asarray(db, dtype).reshape(bias.shape))
            self._gradients = gradients
        else:
            self._gradients = []
        shapes = c["shapes"]
        if not need_dx:
            return [None] * len(c["layout"])
        dxq = dxq if d_gate_x is None else dxq + d_gate_x
        if not c["key_given"]:
            dxv = dxv + dxk
        dx = {_QUERY: dxq.reshape(shapes[_QUERY]), _VALUE: dxv.reshape(shapes[_VALUE]),
              _KEY: dxk.reshape(shapes[_KEY]) if c["key_given"] else None, _ATTENTION_MASK: None}
        return [dx[n] if dx[n] is None else np.asarray(dx[n], dtype) for n in c["layout"]]

    # -- masks and config -----------------------------------------------------------------------

    def compute_mask(self, inputs, mask=None):
        q_mask = None
        if isinstance(mask, (list, tuple)) and _QUERY in self._layout:
            q_mask = mask[self._layout.index(_QUERY)]
        return [q_mask, None] if self.return_attention_scores else q_mask

    def get_config(self):
        config = {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                  "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                  "use_gate": self.use_gate,
                  "output_shape": list(self._output_shape) if self._output_shape else None,
                  "attention_axes": list(self.attention_axes) if self.attention_axes is not None else None,
                  "sliding_window": self.sliding_window,
                  **weight_options_config(self, "kernel", "bias"), "activity_regularizer": None, "seed": self.seed}
        # fastnn's record of the graph call (see the class docstring); absent at the defaults
        if self.use_causal_mask:
            config["use_causal_mask"] = True
        if self.return_attention_scores:
            config["return_attention_scores"] = True
        if self._layout != (_QUERY, _VALUE):
            config["call_inputs"] = list(self._layout)
        return config
