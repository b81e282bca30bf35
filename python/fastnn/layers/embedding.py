"""fastnn.layers.embedding — Embedding, Keras's lookup table of dense vectors for integer tokens.

Forward copies one row of the table per token (``np.take``: a row copy each, nothing to compute);
backward adds each token's output gradient into its row of the table's gradient, grouping equal
tokens by a stable sort so the sums run in token order whatever the data (no ``np.add.at``,
which is an order of magnitude slower).
"""

from __future__ import annotations

import numpy as np

from .. import constraints, initializers, regularizers
from .base import InputSpec, Layer, _positive_int, register_layer


@register_layer
class Embedding(Layer):
    """Turns integer indices into dense vectors: ``(batch, ...)`` ints -> ``(batch, ..., output_dim)``.

    Args:
        input_dim: the vocabulary size; indices must lie in ``[0, input_dim)``.
        output_dim: the size of each vector.
        embeddings_initializer: default ``"uniform"`` (Keras's: uniform in [-0.05, 0.05]).
        embeddings_regularizer, activity_regularizer: optional penalties.
        mask_zero: index 0 is padding: the output's mask is ``inputs != 0``, so the layers after
            it that support masks (recurrent layers, GlobalAveragePooling1D, the loss and the
            metrics) skip those steps. Index 0 still has its row in the table.
        input_length: tf.keras's way to give a first layer its input shape ``(batch, input_length)``.

    Weights: ``embeddings`` (input_dim, output_dim).
    """

    input_dtype = "int64"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, input_length=None,
                 **kwargs):
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (_positive_int(input_length, "input_length"),)
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        if isinstance(mask_zero, str) or mask_zero not in (True, False):
            raise ValueError(f"Embedding: mask_zero must be True or False. Received: mask_zero={mask_zero!r}")
        if lora_rank is not None:
            raise ValueError(f"Embedding: lora_rank is not supported. Received: lora_rank={lora_rank!r}")
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self._creates_mask = self.mask_zero  # as Keras: no mask, no masking
        self._initial_weights = weights
        self.embeddings = None
        self.input_spec = InputSpec(min_ndim=1)

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _indices(self, inputs):
        x = np.asarray(inputs)
        if x.dtype.kind not in "iuf":
            raise TypeError(f"Embedding '{self.name}': inputs must be integer token indices. Received: "
                            f"dtype={x.dtype}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(f"Embedding '{self.name}': inputs must be integer token indices. Received: "
                             f"{x.flat[np.flatnonzero(~np.isfinite(x))[0]]} among them")
        x = x.astype(np.int64, copy=False)  # floats are truncated, as Keras casts them
        if x.size and (x.min() < 0 or x.max() >= self.input_dim):
            bad = int(x.min()) if x.min() < 0 else int(x.max())
            raise ValueError(f"Embedding '{self.name}': index {bad} is out of range; indices must be in "
                             f"[0, input_dim) = [0, {self.input_dim})")
        return x

    def call(self, inputs, training=False):
        self._tokens = self._indices(inputs)
        return np.take(self.embeddings, self._tokens, axis=0)

    def backward(self, dy):
        tokens = self._tokens.reshape(-1)
        rows = np.asarray(dy).reshape(-1, self.output_dim)
        order = np.argsort(tokens, kind="stable")  # equal tokens together, each run in token order
        sorted_tokens = tokens[order]
        starts = np.flatnonzero(np.r_[True, sorted_tokens[1:] != sorted_tokens[:-1]]) if tokens.size else []
        grad = np.zeros_like(self.embeddings)
        if tokens.size:
            grad[sorted_tokens[starts]] = np.add.reduceat(rows[order], starts, axis=0)
        self._gradients = [grad]
        return None  # integer inputs have no gradient

    def compute_mask(self, inputs, mask=None):
        """``inputs != 0`` with ``mask_zero``, else None."""
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero}
