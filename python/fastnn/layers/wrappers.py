"""fastnn.layers.wrappers — Bidirectional and TimeDistributed, Keras's layer wrappers.

Bidirectional: two copies of the wrapped SimpleRNN/LSTM/GRU read the sequence, one from the first
step and one from the last (``go_backwards``); their outputs are merged (concatenated by default).
Each copy runs its whole sequence in one kernel call, forward and backward.
TimeDistributed: the wrapped layer applied to every time step, as one call on the batch and time
axes folded together (N·T samples), so a Dense or Conv2D runs one large product, not T small ones.
"""

from __future__ import annotations

import numpy as np

from .base import InputSpec, Layer, owned_weights, register_layer
from .recurrent import _RNN, check_initial_states, with_initial_state

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _copy(layer, name, go_backwards):
    """A new, unbuilt layer with ``layer``'s config, another name and direction."""
    config = {**layer.get_config(), "name": name, "go_backwards": go_backwards}
    return type(layer).from_config(config)


@register_layer
class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence in both directions and merges the two outputs.

    Args:
        layer: a `SimpleRNN`, `LSTM` or `GRU` (unbuilt). Two copies of it are made, named
            ``forward_<name>`` and ``backward_<name>``; the second reads the sequence backwards.
        merge_mode: ``"concat"`` (default; the output has twice the units), ``"sum"``, ``"mul"``,
            ``"ave"``, or None: the two directions' outputs separately, ``[forward, backward]``.
        backward_layer: optionally, the recurrent layer to use for the backward direction (it must
            have ``go_backwards`` opposite to ``layer``'s and the same ``return_sequences``).

    With ``return_sequences``, the backward copy's output sequence is reversed before the merge,
    so step t of the output sees the inputs up to t from the front and from t on from the back.
    With the layer's ``return_state``, the output is followed by the forward copy's final states,
    then the backward copy's, as Keras: ``out, fh, fc, bh, bc = Bidirectional(LSTM(64,
    return_state=True))(x)`` (a bidirectional encoder for a seq2seq decoder).
    Weights: the forward copy's (kernel, recurrent_kernel, bias), then the backward copy's, so
    ``Bidirectional(LSTM(64))`` on 28 features has 2 · 4 · 64 · (28 + 64 + 1) = 47,616 parameters.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, _RNN):
            raise ValueError("Bidirectional: `layer` must be a recurrent layer (SimpleRNN, LSTM or GRU). "
                             f"Received: layer={layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}. "
                             f"Received: merge_mode={merge_mode!r}")
        self.merge_mode = merge_mode
        self.forward_layer = _copy(layer, "forward_" + layer.name, layer.go_backwards)
        if backward_layer is None:
            self.backward_layer = _copy(layer, "backward_" + layer.name, not layer.go_backwards)
        else:
            if not isinstance(backward_layer, _RNN) or backward_layer.built:
                raise ValueError("Bidirectional: backward_layer must be an unbuilt recurrent layer. "
                                 f"Received: backward_layer={backward_layer!r}")
            if backward_layer.go_backwards == layer.go_backwards or \
                    backward_layer.return_sequences != layer.return_sequences or \
                    backward_layer.return_state != layer.return_state:
                raise ValueError("Bidirectional: backward_layer must have go_backwards opposite to layer's, and the "
                                 "same return_sequences and return_state")
            self.backward_layer = backward_layer
        # as Keras: with a mask, masked steps of returned sequences are 0 in both directions (the
        # carried state would otherwise land at the other end of a reversed padded sequence)
        for sub in self._directions:
            sub.zero_output_for_mask = layer.return_sequences
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_weights = weights
        self.input_spec = InputSpec(ndim=3)

    @property
    def _directions(self):
        return (self.forward_layer, self.backward_layer)

    def _inner_layers(self):
        return self._directions

    _inputs_as_called = True  # the sequence, or [x, *forward states, *backward states]

    def __call__(self, inputs, initial_state=None, **kwargs):
        """As Keras: ``initial_state`` lists the forward copy's states, then the backward copy's."""
        return super().__call__(with_initial_state(self, inputs, initial_state), **kwargs)

    def _check_input(self, input_shape):
        if not self._multi_input:
            return super()._check_input(input_shape)
        names = [f"{d}_{n}" for d in ("forward", "backward") for n in self.forward_layer._state_names]
        sizes = [sub.units for sub in self._directions for _ in sub._state_names]
        check_initial_states(self, input_shape, names, sizes)

    def build(self, input_shape):
        if self._multi_input:
            input_shape = input_shape[0]
        for sub in self._directions:
            sub._maybe_build(tuple(input_shape))
        self._weights = owned_weights(self._directions)  # forward_lstm/kernel, backward_lstm/kernel, ...
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    supports_masking = True

    def call(self, inputs, training=False, mask=None):
        x, states = (inputs[0], list(inputs[1:])) if isinstance(inputs, (list, tuple)) else (inputs, [])
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        self._given_states = bool(states)
        half = len(states) // 2
        f_in = [x, *states[:half]] if states else x
        b_in = [x, *states[half:]] if states else x
        y_f = self.forward_layer.call(f_in, training=training, mask=mask)
        y_b = self.backward_layer.call(b_in, training=training, mask=mask)
        states = []
        if self.return_state:  # [out, *states] from each direction
            states = y_f[1:] + y_b[1:]
            y_f, y_b = y_f[0], y_b[0]
        if self.return_sequences:
            y_b = y_b[:, ::-1]  # back in input order
        self._y = (y_f, y_b)
        if self.merge_mode is None:
            out = [y_f, y_b]
        elif self.merge_mode == "concat":
            out = [np.concatenate([y_f, y_b], axis=-1)]
        elif self.merge_mode == "sum":
            out = [y_f + y_b]
        elif self.merge_mode == "mul":
            out = [y_f * y_b]
        else:
            out = [(y_f + y_b) / 2]
        out += states
        return out if len(out) > 1 else out[0]

    def backward(self, dy):
        y_f, y_b = self._y
        dys = list(dy) if isinstance(dy, (list, tuple)) else [dy]
        n_out = 2 if self.merge_mode is None else 1
        d_states = dys[n_out:] + [None] * (2 * self._n_states - len(dys[n_out:]))
        dy = dys[0]
        if self.merge_mode is None:
            dy_f, dy_b = dys[0], dys[1] if len(dys) > 1 else None
        elif dy is None:
            dy_f = dy_b = None
        elif self.merge_mode == "concat":
            units = y_f.shape[-1]
            dy_f, dy_b = dy[..., :units], dy[..., units:]
        elif self.merge_mode == "sum":
            dy_f = dy_b = dy
        elif self.merge_mode == "mul":
            dy_f, dy_b = dy * y_b, dy * y_f
        else:
            dy_f = dy_b = dy / 2
        if self.return_sequences and dy_b is not None:
            dy_b = dy_b[:, ::-1]  # the backward copy's processing order
        grads, dx, d_initial = [], None, []
        k = self._n_states
        for sub, d, ds in zip(self._directions, (dy_f, dy_b), (d_states[:k], d_states[k:])):
            sub._need_input_grad = self._need_input_grad
            if d is None and not self.return_state:  # (merge_mode None: one output unused)
                d = np.zeros_like(y_f if sub is self.forward_layer else y_b)
            d = None if d is None else np.ascontiguousarray(d)
            dx_sub = sub.backward([d, *ds] if self.return_state else d)
            if self._given_states:  # [dx, *d states] from each copy
                d_initial += list(dx_sub[1:])
                dx_sub = dx_sub[0]
            grads += list(sub._gradients)
            if dx_sub is not None:
                dx = dx_sub if dx is None else dx + dx_sub
        self._gradients = grads
        if self._given_states:
            return [dx, *d_initial]
        return dx

    @property
    def _n_states(self):
        return len(self.forward_layer._state_names)

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        """The merged output's shape (two for merge_mode None), then the states' with return_state."""
        if self._multi_input:
            input_shape = input_shape[0]
        shape = self.forward_layer.compute_output_shape(tuple(input_shape))
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:]) * 2
        shape = tuple(shape)
        if self.merge_mode == "concat":
            shape = shape[:-1] + (2 * shape[-1],)
        outs = [shape, shape] if self.merge_mode is None else [shape]
        outs += [tuple(s) for s in states]
        return outs if len(outs) > 1 else outs[0]

    def get_config(self):
        def entry(layer):
            return {"class_name": type(layer).__name__, "config": layer.get_config()}

        # the wrapped layer as given: the forward copy's config under its original name
        wrapped = {**self.forward_layer.get_config(), "name": self.forward_layer.name[len("forward_"):]}
        return {**super().get_config(), "layer": {"class_name": type(self.forward_layer).__name__, "config": wrapped},
                "merge_mode": self.merge_mode, "backward_layer": entry(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        from ..saving import _layer_from_config

        config = dict(config)
        layer = _layer_from_config(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        backward = None if backward is None else _layer_from_config(backward)
        return cls(layer, backward_layer=backward, **config)


@register_layer
class TimeDistributed(Layer):
    """Applies ``layer`` to every time step of ``(batch, timesteps, ...)`` inputs, with the same
    weights at each step: ``TimeDistributed(Dense(10))`` on ``(batch, 28, 64)`` gives
    ``(batch, 28, 10)``; ``TimeDistributed(Conv2D(...))`` runs over a sequence of images.

    The wrapped layer sees the batch and time axes folded into one (N·T samples), so it must
    treat samples independently (Dense, convolutions, pooling, Flatten, Dropout and activations
    do). Weights: the wrapped layer's, under its names. A mask on the input is passed on (as
    Keras: the (batch, timesteps) axes are the output's too).
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer) or layer._multi_input:
            raise ValueError(f"TimeDistributed: `layer` must be a single-input layer. Received: layer={layer!r}")
        self.layer = layer
        self.layer.trainable = self.trainable  # frozen with the wrapper: its backward then skips dw
        self.input_spec = InputSpec(min_ndim=3)

    def _inner_layers(self):
        return (self.layer,)

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}': inputs must be (batch, timesteps, ...) with at least 3 "
                             f"dimensions. Received: input shape {tuple(input_shape)}")
        self.layer._maybe_build((None,) + tuple(input_shape[2:]))
        self._weights = self.layer._weights  # the same weight objects: saved as <this layer>.<name>
        self.built = True

    def call(self, inputs, training=False, mask=None):
        n, t = inputs.shape[:2]
        self._nt = (n, t)
        folded = inputs.reshape((n * t,) + inputs.shape[2:])
        inner = self._inner_mask(mask)
        if inner is not None and self.layer._call_takes_mask:  # e.g. an LSTM over each sentence's words
            y = self.layer.call(folded, training=training, mask=inner)
        else:
            y = self.layer.call(folded, training=training)
        return y.reshape((n, t) + y.shape[1:])

    @staticmethod
    def _inner_mask(mask):
        """A mask with axes past (batch, timesteps) — (N, T, steps) after Embedding(mask_zero) on
        (N, T, steps) ids — folded as the inputs are: the wrapped layer's own, (N·T, steps)."""
        if mask is None or np.ndim(mask) < 3:
            return None
        mask = np.asarray(mask)
        return mask.reshape((-1,) + mask.shape[2:])

    def compute_mask(self, inputs, mask=None):
        """As tf.keras: the wrapped layer's output mask unfolded to (N, T, ...), or when it has none,
        the input's mask reduced to (N, T) (a step is kept if any of its inner steps is)."""
        if mask is None:
            return None
        mask = np.asarray(mask)
        inner = self._inner_mask(mask)
        if inner is not None and self.layer.supports_masking:
            folded = np.asarray(inputs).reshape((-1,) + np.shape(inputs)[2:])
            out = self.layer.compute_mask(folded, inner)
            if out is not None:
                return np.asarray(out).reshape(mask.shape[:2] + np.shape(out)[1:])
        while mask.ndim > 2:
            mask = mask.any(axis=-1)
        return mask

    def backward(self, dy):
        n, t = self._nt
        self.layer._need_input_grad = self._need_input_grad
        dx = self.layer.backward(np.ascontiguousarray(dy).reshape((n * t,) + dy.shape[2:]))
        self._gradients = self.layer._gradients
        return None if dx is None else dx.reshape((n, t) + dx.shape[1:])

    def compute_output_shape(self, input_shape):
        n, t = input_shape[:2]
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (n, t) + tuple(inner[1:])

    def get_config(self):
        return {**super().get_config(), "layer": {"class_name": type(self.layer).__name__,
                                                  "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config):
        from ..saving import _layer_from_config

        config = dict(config)
        return cls(_layer_from_config(config.pop("layer")), **config)
