"""fastnn.layers.cells — Keras's generic recurrent layer ``RNN(cell)`` and its cells.

``RNN(LSTMCell(64))`` is ``LSTM(64)``: a built-in cell (`SimpleRNNCell`, `LSTMCell`, `GRUCell`)
holds the arguments of its recurrent layer, and `RNN` runs that layer's fused sequence kernels. A
list of cells, or `StackedRNNCells`, runs them one above the other (each cell's output sequence
feeds the next). A cell of the user's own — a `Layer` with ``state_size`` and ``call(inputs,
states)`` returning ``(output, new_states)``, written with `fastnn.backend` functions as in
Keras's RNN guide — runs step by step on the autodiff tape (`fastnn.autodiff`), which gives its
gradients: correct and general, but a Python loop over the steps, not a kernel.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import autodiff
from .base import InputSpec, Layer, _track_sublayer_weights, owned_weights, register_layer, tape_weights
from .recurrent import GRU, LSTM, SimpleRNN, check_initial_states, with_initial_state

# The arguments of a recurrent layer that belong to RNN, not to its cell.
_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask")


class _BuiltinCell(Layer):
    """A cell of a fused recurrent layer: its arguments, checked by making that layer once."""

    _layer = None  # the recurrent layer class that runs this cell over a sequence

    def __init__(self, units, **kwargs):
        base = {k: kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in kwargs}
        super().__init__(**base)
        misplaced = sorted(k for k in kwargs if k in _RNN_ARGS)
        if misplaced:
            raise TypeError(f"{type(self).__name__}: {misplaced} are arguments of RNN, not of its cell")
        self._kwargs = kwargs
        self._prototype = self._layer(units, name=self.name, dtype=self.dtype, **kwargs)  # checks every argument
        self.units = self._prototype.units
        states = len(self._layer._state_names)
        self.state_size = [self.units] * states if states > 1 else self.units
        self.output_size = self.units

    def make_layer(self, **rnn_args):
        """The recurrent layer that runs this cell over a sequence (with RNN's arguments)."""
        return self._layer(self.units, name=self.name, dtype=self.dtype, **self._kwargs, **rnn_args)

    def call(self, inputs, states, training=False):
        raise NotImplementedError(f"{type(self).__name__} runs inside RNN (RNN({type(self).__name__}(...))), which "
                                  "runs the whole sequence in one kernel; call it on one step as cell(inputs, states)")

    def __call__(self, inputs, states=None, training=None):
        """One step, as Keras's cells: ``output, new_states = cell(inputs, states)`` with inputs
        (batch, features) and the states a list of (batch, units) arrays (a custom cell holding this
        one, Géron's LNSimpleRNNCell). It computes with the backend functions, so on a tape (in
        RNN(custom cell)) its weights get their gradients. RNN(cell) runs a whole sequence in the
        fused kernel instead."""
        name = type(self).__name__
        if states is None:
            raise TypeError(f"{name}: a cell is called on one step, cell(inputs, states) with states a list of "
                            f"{len(_sizes(self.state_size))} (batch, {self.units}) arrays; run a sequence with RNN({name}(...))")
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        layer = self._prototype
        if len(states) != len(layer._state_names):
            raise ValueError(f"{name}: expected {len(layer._state_names)} states, received {len(states)}")
        if training and (layer.dropout or layer.recurrent_dropout):
            raise NotImplementedError(f"{name}: dropout in a cell called one step at a time; run the sequence with "
                                      f"RNN({name}(...)), or use a Dropout layer in your cell")
        if not layer.built:
            layer._maybe_build((None, None, np.shape(autodiff._value(inputs))[-1]))
            self._weights = layer._weights  # (the same records: the cell's weights are its layer's)
            self.built = True
        leaves = autodiff.current_leaves() if autodiff.current_leaves is not None else None

        def operand(w):  # a weight as the tape has it (its leaf), so the step is differentiated
            leaf = autodiff._tape_operand(w, leaves) if leaves is not None and w is not None else None
            return w if leaf is None else leaf

        kernel, recurrent, bias = operand(layer.kernel), operand(layer.recurrent_kernel), operand(layer.bias)
        return self._step(layer, inputs, states, kernel, recurrent, bias)

    def get_config(self):
        config = self._prototype.get_config()
        for key in _RNN_ARGS + ("name", "trainable", "dtype"):
            config.pop(key, None)
        return {**super().get_config(), **config}


@register_layer
class SimpleRNNCell(_BuiltinCell):
    """The cell of `SimpleRNN` (same arguments, without RNN's): ``RNN(SimpleRNNCell(64))``."""

    _layer = SimpleRNN

    @staticmethod
    def _step(layer, x, states, kernel, recurrent, bias):
        z = autodiff.dot(x, kernel) + autodiff.dot(states[0], recurrent)
        h = layer.activation(z + bias if bias is not None else z)
        return h, [h]


@register_layer
class LSTMCell(_BuiltinCell):
    """The cell of `LSTM` (same arguments, without RNN's): ``RNN(LSTMCell(64))``."""

    _layer = LSTM

    @staticmethod
    def _step(layer, x, states, kernel, recurrent, bias):
        u = layer.units
        z = autodiff.dot(x, kernel) + autodiff.dot(states[0], recurrent)
        z = z + bias if bias is not None else z
        i, f = layer.recurrent_activation(z[:, :u]), layer.recurrent_activation(z[:, u:2 * u])
        g, o = layer.activation(z[:, 2 * u:3 * u]), layer.recurrent_activation(z[:, 3 * u:])
        c = f * states[1] + i * g
        h = o * layer.activation(c)
        return h, [h, c]


@register_layer
class GRUCell(_BuiltinCell):
    """The cell of `GRU` (same arguments, without RNN's): ``RNN(GRUCell(64))``."""

    _layer = GRU

    @staticmethod
    def _step(layer, x, states, kernel, recurrent, bias):
        u, h = layer.units, states[0]
        mx = autodiff.dot(x, kernel)
        if bias is not None:
            mx = mx + (bias[0] if layer.reset_after else bias)
        if layer.reset_after:  # hh = act(x W_h + b_h + r * (h U_h + b'_h))
            mh = autodiff.dot(h, recurrent)
            mh = mh + bias[1] if bias is not None else mh
            z = layer.recurrent_activation(mx[:, :u] + mh[:, :u])
            r = layer.recurrent_activation(mx[:, u:2 * u] + mh[:, u:2 * u])
            hh = layer.activation(mx[:, 2 * u:] + r * mh[:, 2 * u:])
        else:  # hh = act(x W_h + b_h + (r * h) U_h)
            mh = autodiff.dot(h, recurrent[:, :2 * u])
            z = layer.recurrent_activation(mx[:, :u] + mh[:, :u])
            r = layer.recurrent_activation(mx[:, u:2 * u] + mh[:, u:])
            hh = layer.activation(mx[:, 2 * u:] + autodiff.dot(r * h, recurrent[:, 2 * u:]))
        new = z * h + (1 - z) * hh
        return new, [new]


@register_layer
class StackedRNNCells(Layer):
    """Cells run one above the other at each step: ``RNN(StackedRNNCells([LSTMCell(64),
    LSTMCell(64)]))`` (the same as ``RNN([LSTMCell(64), LSTMCell(64)])``)."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = list(cells)
        if not self.cells or not all(isinstance(c, _BuiltinCell) for c in self.cells):
            raise ValueError("StackedRNNCells: expected a non-empty list of SimpleRNNCell, LSTMCell or GRUCell. "
                             f"Received: cells={cells!r}")

    def get_config(self):
        return {**super().get_config(), "cells": [_entry(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import _layer_from_config

        config = dict(config)
        return cls([_layer_from_config(c, custom_objects) for c in config.pop("cells")], **config)


def _share_weights(target, source):
    """Make ``target`` (a fused recurrent layer) hold ``source``'s weight arrays, built."""
    target._weights = list(source._weights)
    target.kernel, target.recurrent_kernel, target.bias = source.kernel, source.recurrent_kernel, source.bias
    target.input_spec, target._build_input_shape, target.built = source.input_spec, source._build_input_shape, True


def _entry(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _sizes(size):
    return list(size) if isinstance(size, (list, tuple)) else [size]


def _initial_states(cell, batch_size, dtype, sizes):
    """The states a user cell starts from: its own get_initial_state's (Keras 3 calls it with the
    batch size; tf.keras 2's also took a dtype), else zeros of its state sizes."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is None:
        return [np.zeros((batch_size, s), dtype) for s in sizes]
    params = inspect.signature(fn).parameters
    states = fn(batch_size=batch_size, **({"dtype": dtype} if "dtype" in params else {}))
    states = [np.asarray(autodiff._value(s), dtype) for s in (states if isinstance(states, (list, tuple)) else [states])]
    if len(states) != len(sizes) or any(st.shape != (batch_size, size) for st, size in zip(states, sizes)):
        raise ValueError(f"RNN: the cell's get_initial_state(batch_size={batch_size}) must give {len(sizes)} state(s) "
                         f"of shapes {[(batch_size, size) for size in sizes]}. Received shapes "
                         f"{[st.shape for st in states]}")
    return states


@register_layer
class RNN(Layer):
    """Keras's generic recurrent layer: ``cell`` run over the time axis of (batch, timesteps,
    features) inputs.

    Args:
        cell: a `SimpleRNNCell`, `LSTMCell` or `GRUCell` (run as the fused `SimpleRNN`, `LSTM`,
            `GRU`), a list of them or `StackedRNNCells` (stacked), or a cell of your own: a
            layer with ``state_size`` (an int or a list, one per state), optionally
            ``output_size``, and ``call(inputs, states)`` returning ``(output, new_states)``,
            written with `fastnn.backend` functions (run step by step on the autodiff tape).
        return_sequences, return_state, go_backwards, stateful (built-in cells), unroll
            (ignored), zero_output_for_mask: as in `SimpleRNN`.

    Called with ``initial_state`` (a list, the states of each cell in order) and with a mask,
    as the recurrent layers.
    """

    supports_masking = True
    _inputs_as_called = True
    _functions_from_custom_objects = True  # a custom cell's class comes from custom_objects

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell
        cells = cell.cells if isinstance(cell, StackedRNNCells) else list(cell) if isinstance(cell, (list, tuple)) \
            else [cell]
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._cells = cells
        if all(isinstance(c, _BuiltinCell) for c in cells):
            # one fused layer per cell: every cell but the last returns its sequence to the next;
            # the first reads the input backwards, the others its output (already in that order)
            last = len(cells) - 1
            self._stack = [c.make_layer(return_sequences=self.return_sequences or i < last,
                                        return_state=self.return_state, go_backwards=self.go_backwards and i == 0,
                                        stateful=self.stateful, zero_output_for_mask=self.zero_output_for_mask)
                           for i, c in enumerate(cells)]
            self._custom = None
        elif len(cells) == 1 and isinstance(cell, Layer) and hasattr(cell, "state_size"):
            if self.stateful:
                raise ValueError("RNN: stateful=True needs a built-in cell (SimpleRNNCell, LSTMCell, GRUCell)")
            self._stack, self._custom = [], cell
        else:
            raise ValueError("RNN: `cell` must be a SimpleRNNCell, LSTMCell or GRUCell, a list of them, "
                             "StackedRNNCells, or a layer with `state_size` and call(inputs, states). "
                             f"Received: cell={cell!r}")
        self.input_spec = InputSpec(ndim=3)

    # -- weights and shapes ---------------------------------------------------------------------

    def _inner_layers(self):
        return tuple(self._stack) + ((self._custom,) if self._custom is not None else ())

    @property
    def _state_sizes(self):
        if self._custom is not None:
            return _sizes(self._custom.state_size)
        return [layer.units for layer in self._stack for _ in layer._state_names]

    def build(self, input_shape):
        if self._multi_input:
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        InputSpec(ndim=3).check(self.name, 0, input_shape)
        if self._custom is not None:
            cell = self._custom
            cell._maybe_build((input_shape[0], input_shape[2]))
            if input_shape[2] is not None and hasattr(type(cell), "_call_on_arrays"):
                # one step on zeros builds the layers the cell holds (Keras builds them at its first
                # call: a LayerNormalization, a SimpleRNNCell), whose weights are then the cell's
                zeros = [np.zeros((1, size), self.dtype) for size in self._state_sizes]
                type(cell)._call_on_arrays(cell, np.zeros((1, input_shape[2]), self.dtype), zeros)
                _track_sublayer_weights(cell)
            subs = [cell]
        else:
            shape = input_shape
            for cell, layer in zip(self._cells, self._stack):
                # the fused layer and the cell are one set of weights: the cell called on its own for a
                # step (the time-series tutorial's FeedBack model warms up with RNN(cell), then feeds
                # back through cell(x, states)) steps with the weights RNN trains, as in Keras
                proto = cell._prototype
                if proto.built:
                    if proto.kernel.shape[0] != shape[-1]:
                        raise ValueError(f"RNN: cell '{cell.name}' was built for inputs of {proto.kernel.shape[0]} "
                                         f"features; this RNN's inputs have {shape[-1]}")
                    _share_weights(layer, proto)
                else:
                    layer._maybe_build(shape)
                    _share_weights(proto, layer)
                    cell._weights, cell.built = proto._weights, True
                shape = (shape[0], shape[1], layer.units)
            subs = self._stack
        self._weights = owned_weights(subs)  # named per cell: lstm_cell/kernel
        self.built = True

    def _check_input(self, input_shape):
        if not self._multi_input:
            return super()._check_input(input_shape)
        sizes = self._state_sizes
        check_initial_states(self, input_shape, [f"{k}" for k in range(len(sizes))], sizes)

    def compute_output_shape(self, input_shape):
        if self._multi_input:
            input_shape = input_shape[0]
        batch, steps = input_shape[0], input_shape[1]
        if self._custom is not None:
            size = getattr(self._custom, "output_size", _sizes(self._custom.state_size)[0])
        else:
            size = self._stack[-1].units
        out = (batch, steps, size) if self.return_sequences else (batch, size)
        if self.return_state:
            return [out] + [(batch, s) for s in self._state_sizes]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask if self.return_sequences else None

    def reset_states(self, states=None):
        if not self.stateful:
            raise AttributeError(f"RNN '{self.name}': reset_states is for stateful layers (stateful=True)")
        for layer in self._stack:
            layer.reset_states()

    reset_state = reset_states

    # -- forward and backward --------------------------------------------------------------------

    def __call__(self, inputs, initial_state=None, **kwargs):
        return super().__call__(with_initial_state(self, inputs, initial_state), **kwargs)

    def call(self, inputs, training=False, mask=None):
        x, states = (inputs[0], list(inputs[1:])) if isinstance(inputs, (list, tuple)) else (inputs, [])
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        self._given_states = bool(states)
        if self._custom is not None:
            return self._call_on_tape(x, states, training, mask)
        out, finals, k = x, [], 0
        for i, layer in enumerate(self._stack):
            n = len(layer._state_names)
            ins = [out, *states[k:k + n]] if states else out
            k += n
            # later cells read the first one's output, in its processing order
            m = mask[:, ::-1] if mask is not None and self.go_backwards and i > 0 else mask
            y = layer.call(ins, training=training, mask=m) if m is not None else layer.call(ins, training=training)
            if self.return_state:
                out, finals = y[0], finals + list(y[1:])
            else:
                out = y
        return [out, *finals] if self.return_state else out

    def backward(self, dy):
        if self._custom is not None:
            return self._backward_from_tape(dy)
        dys = list(dy) if isinstance(dy, (list, tuple)) else [dy]
        d_out, d_states = dys[0], dys[1:] + [None] * (len(self._state_sizes) - len(dys[1:]))
        k = len(d_states)
        grads, d_initial = [], []
        for layer in reversed(self._stack):
            n = len(layer._state_names)
            k -= n
            layer._need_input_grad = self._need_input_grad or layer is not self._stack[0]
            d = layer.backward([d_out, *d_states[k:k + n]] if self.return_state else d_out)
            grads = list(layer._gradients) + grads
            if self._given_states:
                d_out, d_initial = d[0], list(d[1:]) + d_initial
            else:
                d_out = d
        self._gradients = grads
        return [d_out, *d_initial] if self._given_states else d_out

    # -- a cell of the user's own, on the tape ---------------------------------------------------

    def _call_on_tape(self, x, states, training, mask):
        cell, dtype = self._custom, x.dtype
        n, steps = x.shape[0], x.shape[1]
        xl = autodiff.Tensor(x)
        sl = [autodiff.Tensor(np.asarray(s, dtype)) for s in states or _initial_states(cell, n, dtype,
                                                                                      self._state_sizes)]
        extra = {"training": training} if cell._call_takes_training else {}
        step = type(cell)._call_on_arrays
        cur, outs, prev = list(sl), [], None
        with tape_weights(cell) as weights:
            for t in (range(steps - 1, -1, -1) if self.go_backwards else range(steps)):
                out, new = step(cell, xl[:, t], list(cur), **extra)
                new = list(new) if isinstance(new, (list, tuple)) else [new]
                if mask is not None:  # a masked step keeps the states; its output repeats (or is 0)
                    keep = mask[:, t:t + 1].astype(dtype)
                    new = [keep * a + (1 - keep) * b for a, b in zip(new, cur)]
                    if prev is None:
                        prev = np.zeros(autodiff._value(out).shape, dtype)
                    out = keep * out if self.zero_output_for_mask else keep * out + (1 - keep) * prev
                cur, prev = new, out
                outs.append(out)
        out = autodiff.stack(outs, axis=1) if self.return_sequences else outs[-1]
        results = [out, *cur] if self.return_state else [out]
        self._tape = (results, [xl, *sl], weights)
        values = [np.asarray(autodiff._value(r), dtype=dtype) for r in results]
        return values if self.return_state else values[0]

    def _backward_from_tape(self, dy):
        results, leaves, weights = self._tape
        grads = autodiff.grad_of_outputs(results, dy if isinstance(dy, (list, tuple)) else [dy], leaves + weights)
        self._gradients = grads[len(leaves):]
        dx = grads[0] if self._need_input_grad else None
        return [dx, *grads[1:len(leaves)]] if self._given_states else dx

    # -- config -----------------------------------------------------------------------------------

    def get_config(self):
        cell = [_entry(c) for c in self.cell] if isinstance(self.cell, (list, tuple)) else _entry(self.cell)
        return {**super().get_config(), "cell": cell, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import _layer_from_config

        config = dict(config)
        cell = config.pop("cell")
        cell = [_layer_from_config(c, custom_objects) for c in cell] if isinstance(cell, list) \
            else _layer_from_config(cell, custom_objects)
        return cls(cell, **config)
