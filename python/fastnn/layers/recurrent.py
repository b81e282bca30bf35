"""fastnn.layers.recurrent — SimpleRNN, LSTM and GRU over whole sequences (Keras 3 semantics).

Each layer runs its whole sequence in one `fastnn.ops` call (``simple_rnn_forward``,
``lstm_forward``, ``gru_forward``) and backpropagates through time in one more; weights are in
Keras's layouts (kernel ``(input_dim, G*units)``, recurrent_kernel ``(units, G*units)``, bias;
LSTM gates i, f, c, o; GRU gates z, r, h), so weights trained in Keras load unchanged.
"""

from __future__ import annotations

import numpy as np

from .. import activations, initializers, ops, utils
from .._batch_dataset import EagerArray
from .base import InputSpec, Layer, _positive_int, register_layer, set_weight_options, weight_options_config


def _rate(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")
    return float(value)


def _cell_activation(identifier, name):
    act, _ = activations.resolve(identifier)
    if act == "softmax":
        raise ValueError(f"`{name}` must be elementwise; softmax is not supported in a recurrent cell. "
                         f"Received: {name}={identifier!r}")
    if act in activations.INPUT_DERIVATIVE:
        raise ValueError(f"`{name}`={act!r} is not supported in a recurrent cell: the recurrent kernels differentiate "
                         f"their activations from their outputs, and {act}'s derivative needs its input. "
                         f"Received: {name}={identifier!r}")
    return act


def _implementation(layer, value):
    """Keras 2's ``implementation`` (0, 1 or 2: how its backends split the products), accepted and
    ignored as Keras 3 does: the kernels here are one implementation."""
    if isinstance(value, bool) or value not in (0, 1, 2):
        raise ValueError(f"{type(layer).__name__}: implementation must be 0, 1 or 2 (Keras 2's modes; fastnn runs one "
                         f"kernel whatever it is). Received: implementation={value!r}")


def _use_cudnn(layer, value):
    """Keras 3's ``use_cudnn`` ("auto", True or False: whether its TensorFlow/torch backends may run
    the cuDNN kernel on a GPU), accepted and ignored: fastnn runs its own CPU kernels."""
    if value not in ("auto", True, False):
        raise ValueError(f"{type(layer).__name__}: use_cudnn must be 'auto', True or False. Received: "
                         f"use_cudnn={value!r}")


def with_initial_state(layer, inputs, initial_state):
    """A recurrent layer's call inputs: ``inputs``, or ``[inputs, *initial_state]`` (a tensor or a
    list of them) when states are given."""
    if initial_state is None:
        return inputs
    if isinstance(inputs, (list, tuple)):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': initial_state is given twice (as an argument and "
                         "in the list of inputs)")
    return [inputs, *(initial_state if isinstance(initial_state, (list, tuple)) else [initial_state])]


def check_initial_states(layer, input_shape, names, sizes):
    """The shapes of a recurrent layer's call on [x, *initial states]: x by the layer's input
    spec, then one (batch, size) state per name."""
    shapes = [tuple(s) for s in input_shape]
    layer.input_spec.check(layer.name, 0, shapes[0])
    what = f"{type(layer).__name__} '{layer.name}'"
    if len(shapes) - 1 != len(names):
        sizes_text = ", ".join(f"(batch, {s})" for s in sizes)
        raise ValueError(f"{what}: initial_state must hold {len(names)} state(s) ({', '.join(names)}): "
                         f"{sizes_text}. Received {len(shapes) - 1}")
    for name, size, shape in zip(names, sizes, shapes[1:]):
        if len(shape) != 2 or shape[1] not in (None, size) or \
                None not in (shape[0], shapes[0][0]) and shape[0] != shapes[0][0]:
            raise ValueError(f"{what}: initial state {name} must be (batch, {size}) for inputs of shape {shapes[0]}. "
                             f"Received: {shape}")


class _UnitForgetBias(initializers.Initializer):
    """Keras's LSTM bias with unit_forget_bias: ``base`` everywhere, then ones on the forget gate."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        b = np.array(self.base(shape, dtype))
        b[self.units:2 * self.units] = 1
        return b


class _RNN(Layer):
    """The shared anatomy of the three recurrent layers (see `SimpleRNN` for the arguments)."""

    _gates = 1
    _has_recurrent_activation = True
    supports_masking = True
    # one input, or [x, *initial states] when called with initial_state (Keras's RNN call)
    _inputs_as_called = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self.units = _positive_int(units, "units")
        self._act = _cell_activation(activation, "activation")
        self.activation = activations.get(activation)
        self._ract = _cell_activation(recurrent_activation, "recurrent_activation")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        set_weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                           recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
                           bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{cls}: expected a non-negative integer seed or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self.stateful = bool(stateful)
        self.states = None  # stateful: the states the next batch starts from, (batch, units) each
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)  # accepted for compatibility: the kernels never unroll
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._stream = self.seed if self.seed is not None else utils.draw_seed()
        self._calls = 0
        self.kernel = self.recurrent_kernel = self.bias = None
        self.input_spec = InputSpec(ndim=3)

    # -- weights --------------------------------------------------------------------------------

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        if self._multi_input:  # [x, *initial states]
            input_shape = input_shape[0]
        InputSpec(ndim=3).check(self.name, 0, tuple(input_shape))
        if self.stateful and input_shape[0] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': a stateful recurrent layer needs to know its batch "
                             "size. Give it to the input: Input(shape, batch_size=32) in a functional model, or "
                             "batch_input_shape=(32, timesteps, features) on a Sequential model's first layer. "
                             f"Received: input shape {tuple(input_shape)}")
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"{type(self).__name__} expects inputs of shape (batch, timesteps, features) with the "
                             f"features defined. Full input shape received: {tuple(input_shape)}")
        GU = self._gates * self.units
        self.kernel = self.add_weight("kernel", (in_dim, GU), self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, GU), self.recurrent_initializer,
                                                self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initializer(), self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=3, axes={-1: in_dim})
        self.built = True

    # -- calling --------------------------------------------------------------------------------

    def __call__(self, inputs, initial_state=None, **kwargs):
        """Keras's RNN call: ``layer(x)``, or ``layer(x, initial_state=[h, c])`` (a tensor or a list
        of one state per `_state_names`, each (batch, units)) on arrays or symbolic tensors;
        ``layer([x, h, c])`` is the same call."""
        return super().__call__(with_initial_state(self, inputs, initial_state), **kwargs)

    def _check_input(self, input_shape):
        if not self._multi_input:
            return super()._check_input(input_shape)
        check_initial_states(self, input_shape, self._state_names, [self.units] * len(self._state_names))

    # -- forward and backward ------------------------------------------------------------------

    def _forward(self, x):
        raise NotImplementedError

    def _backward(self, dh_seq, dh_last, dc_last):
        raise NotImplementedError

    def _dropout_mask(self, shape, rate, dtype):
        """Inverted dropout of ones: 0 or 1/(1 - rate), from the layer's seed stream."""
        seed = utils.derive_seed(self._stream, self._calls)
        self._calls += 1
        return ops.dropout_forward(np.ones(shape, dtype), rate, seed)[0]

    def _masks_per_gate(self):
        """Whether dropout draws one mask per gate (a GRU with recurrent dropout) instead of one."""
        return False

    def _step_mask(self, x, mask):
        """Keras's time-step mask as a boolean (N, T) array for the kernels, or None (no mask, or
        every step kept: the same result, faster)."""
        if mask is None:
            return None
        m = np.asarray(mask)
        if m.shape != x.shape[:2] or m.dtype.kind not in "biu":
            raise ValueError(f"{type(self).__name__} '{self.name}': mask must be a boolean array of shape (batch, "
                             f"timesteps) = {x.shape[:2]}. Received: mask of shape {m.shape} and dtype {m.dtype}")
        m = m.astype(bool, copy=False)
        return None if m.all() else m

    def reset_states(self, states=None):
        """A stateful layer starts its next batch from zeros (or from ``states``: a list of
        (batch, units) arrays, one per state)."""
        if not self.stateful:
            raise AttributeError(f"{type(self).__name__} '{self.name}': reset_states is for stateful layers "
                                 "(stateful=True)")
        if states is None:
            self.states = None
            return
        states = [np.array(s, dtype=self.dtype) for s in (states if isinstance(states, (list, tuple)) else [states])]
        sample = self._state_shape(None)[1:]
        if len(states) != len(self._state_names) or any(s.shape[1:] != sample or s.ndim != len(sample) + 1
                                                         for s in states):
            raise ValueError(f"{type(self).__name__} '{self.name}': reset_states takes {len(self._state_names)} "
                             f"state(s) of shape (batch, {', '.join(map(str, sample))}). Received shapes "
                             f"{[s.shape for s in states]}")
        self.states = states

    reset_state = reset_states  # Keras 3's name

    def _carried_states(self, x):
        """A stateful layer's starting states for the batch ``x``: the last batch's final states
        (zeros at first and after reset_states)."""
        batch = self._build_input_shape[0] if self._build_input_shape is not None else None
        if isinstance(batch, (list, tuple)):  # built on [x, *states]
            batch = batch[0]
        if batch is not None and len(x) != batch:
            raise ValueError(f"{type(self).__name__} '{self.name}' is stateful with batches of {batch} samples (the "
                             f"state of sample i carries over to sample i of the next batch). Received a batch of "
                             f"{len(x)}: give fit/predict/evaluate batch_size={batch} and a sample count that is a "
                             "multiple of it")
        if self.states is None or len(self.states[0]) != len(x):
            self.states = [np.zeros(self._state_shape(len(x)), x.dtype) for _ in self._state_names]
        return list(self.states)

    def get_initial_state(self, batch_size):
        """Zero states to start a sequence from: a list of one (batch, units) array per state (h,
        and c for an LSTM). Keras 3 takes the batch size; Keras 2 the inputs, whose first axis is it
        (the text-generation tutorial's ``self.gru.get_initial_state(x)``)."""
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
            shape = np.shape(getattr(batch_size, "value", batch_size))
            if not shape or shape[0] is None:
                raise ValueError(f"{type(self).__name__} '{self.name}': get_initial_state takes the batch size, or "
                                 f"the inputs (batch, timesteps, features). Received: {batch_size!r}"[:300])
            batch_size = shape[0]
        if batch_size < 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': get_initial_state: the batch size must be "
                             f"non-negative. Received: {batch_size}")
        return [np.zeros(self._state_shape(int(batch_size)), self.dtype).view(EagerArray) for _ in self._state_names]

    def _state_shape(self, batch):
        """The shape of one state (h or c) for ``batch`` samples."""
        return (batch, self.units)

    def _input_dropout_shape(self, x):
        """The shape of one input dropout mask for the sequences ``x``: one value per sample and
        feature, shared by every time step (Keras's RNN dropout)."""
        return (x.shape[0], x.shape[2])

    def _broadcast_out_mask(self, out):
        """`_out_mask` (N, T) shaped to multiply the output ``out`` (its last step's column unless
        return_sequences)."""
        m = self._out_mask if self.return_sequences else self._out_mask[:, -1]
        return m.reshape(m.shape + (1,) * (out.ndim - m.ndim))

    def call(self, inputs, training=False, mask=None):
        x, self._h0 = (inputs[0], list(inputs[1:])) if isinstance(inputs, (list, tuple)) else (inputs, [])
        self._carried = self._carried_states(x) if self.stateful and not self._h0 else []
        if isinstance(mask, (list, tuple)):  # one per input: the sequence's
            mask = mask[0]
        self._time_mask = self._step_mask(x, mask)
        # Outputs at masked steps (processing order), as Keras's: the previous output — the
        # carried state, but 0 before the first kept step (the initial state is not an output);
        # with zero_output_for_mask, 0. The states themselves are carried either way.
        self._out_mask = None
        if self._time_mask is not None and (self.zero_output_for_mask or self._h0 or self._carried):
            m = self._time_mask[:, ::-1] if self.go_backwards else self._time_mask
            self._out_mask = (m if self.zero_output_for_mask else np.logical_or.accumulate(m, axis=1)).astype(x.dtype)
        self._mask = self._rec_mask = None
        per_gate = self._masks_per_gate()
        if training and self.dropout > 0:
            # one mask per sample and feature, shared by every time step (Keras's RNN dropout); per
            # gate: (gates, N, C), applied by the layer's _forward
            shape = self._input_dropout_shape(x)
            self._mask = self._dropout_mask((self._gates, *shape) if per_gate else shape, self.dropout, x.dtype)
            if not per_gate:
                x = x * self._mask[:, None, :]
        if training and self.recurrent_dropout > 0:
            # one mask per sample and unit on h_{t-1} where it enters the recurrent product, shared by
            # every time step (Keras 3's cells); per gate: (gates, N, units)
            shape = self._state_shape(x.shape[0])
            self._rec_mask = self._dropout_mask((self._gates, *shape) if per_gate else shape,
                                                self.recurrent_dropout, x.dtype)
        self._x = x
        out, states = self._forward(x)
        if self.stateful:  # the next batch starts here (no gradient flows back into this batch)
            self.states = [np.array(s) for s in states]
        if self._out_mask is not None:
            out = out * self._broadcast_out_mask(out)
        if self.return_state:
            return [out, *states]
        return out

    def backward(self, dy):
        dys = list(dy) if isinstance(dy, (list, tuple)) else [dy]
        d_out, d_states = dys[0], dys[1:] + [None] * (len(self._state_names) - len(dys[1:]))
        if d_out is not None and self._out_mask is not None:
            d_out = d_out * self._broadcast_out_mask(d_out)
        dh_seq = d_out if self.return_sequences else None
        dh_last = None if self.return_sequences else d_out
        if d_states[0] is not None:
            dh_last = d_states[0] if dh_last is None else dh_last + d_states[0]
        dc_last = d_states[1] if len(d_states) > 1 else None
        dx, dw, du, db, d_initial = self._backward(dh_seq, dh_last, dc_last)
        # a frozen layer's kernels skip the weight gradients (need_dw, _op_grad_args)
        self._gradients = [] if dw is None else [dw, du, db] if self.use_bias else [dw, du]
        if dx is not None and self._mask is not None and self._mask.ndim == 2:
            dx = dx * self._mask[:, None, :]
        return [dx, *d_initial] if self._h0 else dx

    def _initial_states(self):
        """h0 (and c0) of this call: given, carried over (stateful), or None (zeros)."""
        given = self._h0 or self._carried
        return given + [None] * (len(self._state_names) - len(given))

    def _op_args(self):
        return dict(activation=self._act, go_backwards=self.go_backwards, mask=self._time_mask)

    def _op_grad_args(self):
        """The backward ops' extra arguments: no input gradient unless needed, no weight gradients
        for a frozen layer."""
        return dict(use_bias=self.use_bias, need_dx=self._need_input_grad, need_dw=bool(self.trainable_weights),
                    recurrent_mask=self._rec_mask, **self._op_args())

    # -- shapes and config ----------------------------------------------------------------------

    _state_names = ("h",)

    def compute_mask(self, inputs, mask=None):
        """The sequence output keeps the input's mask (as Keras, not reversed by go_backwards);
        the last output has none."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        """The output's shape; with return_state the list [output, h (, c)] of shapes."""
        if self._multi_input:
            input_shape = input_shape[0]
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * len(self._state_names)
        return out

    def get_config(self):
        config = {
            "units": self.units,
            "activation": self._act,
            "use_bias": self.use_bias,
            **weight_options_config(self, "kernel", "recurrent", "bias"),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if self._has_recurrent_activation:
            config["recurrent_activation"] = self._ract
        return {**super().get_config(), **config}


@register_layer
class SimpleRNN(_RNN):
    """Fully-connected RNN whose output is fed back: ``h_t = activation(x_t @ kernel + bias +
    h_{t-1} @ recurrent_kernel)``.

    Args:
        units: positive integer, the state size.
        activation: elementwise activation (default ``"tanh"``).
        use_bias: whether the layer has a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: default ``"glorot_uniform"``,
            ``"orthogonal"``, ``"zeros"``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        dropout: float in [0, 1), the fraction of input features dropped in training (one mask per
            sample, shared by all time steps, as in Keras).
        recurrent_dropout: float in [0, 1), the fraction of the state's units dropped where the
            previous state enters the recurrent product, in training (one mask per sample, shared by
            all time steps, as in Keras 3; a GRU draws one per gate, see `GRU`).
        seed: optional integer seed of the dropout masks.
        return_sequences: return the whole output sequence (batch, timesteps, units) instead of
            the last output (batch, units).
        return_state: also return the final state(s): ``[output, h]`` (LSTM: ``[output, h, c]``),
            on arrays and in functional models (``out, h, c = LSTM(64, return_state=True)(x)``).
        go_backwards: process the sequence from the last step to the first (the returned sequence
            is in that processing order, as in Keras).
        stateful: each batch starts from the previous batch's final states (sample i of a batch
            continues sample i of the one before; no gradient flows between batches), until
            `reset_states()`. Needs a fixed batch size (``Input(shape, batch_size=...)``) and
            batches of that size. unroll: accepted and ignored.
        zero_output_for_mask: with a mask, the outputs of masked steps are 0 instead of the
            previous output (Keras's default, False; Bidirectional sets it to return_sequences).

    Masking: called with ``mask`` (batch, timesteps) — from ``Embedding(mask_zero=True)`` or
    ``Masking`` in a model — a masked step leaves the states unchanged, so the last output of a
    padded sequence is that of its unpadded steps; with return_sequences the mask is passed on.

    Input shape: ``(batch, timesteps, features)``. Output shape: ``(batch, units)``, or
    ``(batch, timesteps, units)`` with return_sequences.
    Weights: ``kernel`` (features, units), ``recurrent_kernel`` (units, units), ``bias`` (units,).
    """

    _has_recurrent_activation = False

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("Unrecognized keyword arguments passed to SimpleRNN: "
                            f"{{'recurrent_activation': {kwargs['recurrent_activation']!r}}}")
        super().__init__(units, activation=activation, **kwargs)

    def _forward(self, x):
        h_seq, h_last, self._cache = ops.simple_rnn_forward(x, self.kernel, self.recurrent_kernel, self.bias,
                                                            *self._initial_states(),
                                                            return_sequences=self.return_sequences,
                                                            recurrent_mask=self._rec_mask, **self._op_args())
        return (h_seq if self.return_sequences else h_last), [h_last]

    def _backward(self, dh_seq, dh_last, dc_last):
        dx, dw, du, db, dh0 = ops.simple_rnn_backward(dh_seq, dh_last, self._x, self.kernel, self.recurrent_kernel,
                                                      self._cache, **self._op_grad_args())
        return dx, dw, du, db, [dh0]


@register_layer
class LSTM(_RNN):
    """Long Short-Term Memory layer (Hochreiter 1997), Keras's equations and weight layout.

    ``i, f, o = recurrent_activation(x_t W + h_{t-1} U + b)`` and ``g = activation(...)``, with the
    four gate blocks in the order i, f, c, o; ``c_t = f * c_{t-1} + i * g``, ``h_t = o *
    activation(c_t)``.

    Args:
        units, activation, use_bias, initializers, regularizers, dropout, recurrent_dropout, seed,
            return_sequences, return_state, go_backwards, stateful, unroll: as in `SimpleRNN`.
        recurrent_activation: the gates' activation (default ``"sigmoid"``).
        unit_forget_bias: add 1 to the forget gate's bias at initialisation (default True;
            Keras then initialises the rest of the bias with bias_initializer).

    Weights: ``kernel`` (features, 4*units), ``recurrent_kernel`` (units, 4*units), ``bias`` (4*units,).
    With return_state the layer returns ``[output, h, c]``.
    """

    _gates = 4
    _state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True,
                 implementation=2, use_cudnn="auto", **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        _implementation(self, implementation)
        _use_cudnn(self, use_cudnn)

    def _bias_initializer(self):
        return _UnitForgetBias(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer

    def _op_args(self):
        return dict(super()._op_args(), recurrent_activation=self._ract)

    def _forward(self, x):
        h_seq, h_last, c_last, self._cache = ops.lstm_forward(x, self.kernel, self.recurrent_kernel, self.bias,
                                                              *self._initial_states(),
                                                              return_sequences=self.return_sequences,
                                                              recurrent_mask=self._rec_mask, **self._op_args())
        return (h_seq if self.return_sequences else h_last), [h_last, c_last]

    def _backward(self, dh_seq, dh_last, dc_last):
        dx, dw, du, db, dh0, dc0 = ops.lstm_backward(dh_seq, dh_last, dc_last, self._x, self.kernel,
                                                     self.recurrent_kernel, self._cache, **self._op_grad_args())
        return dx, dw, du, db, [dh0, dc0]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@register_layer
class GRU(_RNN):
    """Gated Recurrent Unit (Cho et al. 2014), Keras's equations and weight layout (gates z, r, h).

    ``z, r = recurrent_activation(...)``, ``h_t = z * h_{t-1} + (1 - z) * hh`` with
    ``reset_after=True`` (Keras 3's default, cuDNN-compatible): ``hh = activation(x_t W_h + b_h +
    r * (h_{t-1} U_h + b_rec_h))`` and a bias of shape (2, 3*units) (input bias, recurrent bias);
    ``reset_after=False``: ``hh = activation(x_t W_h + b_h + (r * h_{t-1}) U_h)`` and a bias of
    shape (3*units,).

    Args: as `LSTM` (without unit_forget_bias), plus ``reset_after``.
    Weights: ``kernel`` (features, 3*units), ``recurrent_kernel`` (units, 3*units), ``bias``.

    With ``recurrent_dropout > 0`` the layer does what Keras 3's GRUCell switches to then
    (implementation 1): every gate z, r, h gets its own recurrent mask on h_{t-1}, and with
    ``dropout > 0`` its own input mask too. The per-gate input masks run through one kernel call
    as a block-diagonal kernel over [x*m_z | x*m_r | x*m_h], which costs three times the (small)
    input projection.
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, implementation=2,
                 use_cudnn="auto", **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = bool(reset_after)
        _implementation(self, implementation)
        _use_cudnn(self, use_cudnn)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _op_args(self):
        return dict(super()._op_args(), recurrent_activation=self._ract, reset_after=self.reset_after)

    def _masks_per_gate(self):
        return self.recurrent_dropout > 0

    def _gate_inputs(self, x):
        """Inputs and kernel that give gate g the input x * mask[g] (self._mask (3, N, C)): x3 (N, T, 3C)
        = [x*m_z | x*m_r | x*m_h] and the block-diagonal kernel (3C, 3*units) with kernel's gate
        blocks on its diagonal."""
        C, U = x.shape[2], self.units
        x3 = np.concatenate([x * self._mask[g][:, None, :] for g in range(3)], axis=2)
        w3 = np.zeros((3 * C, 3 * U), self.kernel.dtype)
        for g in range(3):
            w3[g * C:(g + 1) * C, g * U:(g + 1) * U] = self.kernel[:, g * U:(g + 1) * U]
        return x3, w3

    def _forward(self, x):
        per_gate_inputs = self._mask is not None and self._mask.ndim == 3
        self._xin, self._win = self._gate_inputs(x) if per_gate_inputs else (x, self.kernel)
        h_seq, h_last, self._cache = ops.gru_forward(self._xin, self._win, self.recurrent_kernel, self.bias,
                                                     *self._initial_states(),
                                                     return_sequences=self.return_sequences,
                                                     recurrent_mask=self._rec_mask, **self._op_args())
        return (h_seq if self.return_sequences else h_last), [h_last]

    def _backward(self, dh_seq, dh_last, dc_last):
        dx, dw, du, db, dh0 = ops.gru_backward(dh_seq, dh_last, self._xin, self._win, self.recurrent_kernel,
                                               self._cache, **self._op_grad_args())
        if self._win is not self.kernel:  # back from the per-gate inputs: diagonal blocks, masked sum
            C, U = self._x.shape[2], self.units
            if dw is not None:
                dw = np.concatenate([dw[g * C:(g + 1) * C, g * U:(g + 1) * U] for g in range(3)], axis=1)
            if dx is not None:
                dx = sum(dx[:, :, g * C:(g + 1) * C] * self._mask[g][:, None, :] for g in range(3))
        return dx, dw, du, db, [dh0]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
