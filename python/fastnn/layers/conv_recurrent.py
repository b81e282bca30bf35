"""fastnn.layers.conv_recurrent — ConvLSTM1D/2D/3D: an LSTM whose input and recurrent products
are convolutions (Keras 3 semantics, channels-last).

Inputs are (batch, time, *spatial, channels). The input convolution of every time step runs as one
``ops.conv{rank}d_forward`` over batch·time images (one more for its backward, which also gives
the kernel's gradient); each step adds the recurrent convolution of h_{t-1} ('same' padding, unit
strides) and the gates. The recurrent kernel's gradient is one convolution backward over all
steps at the end. Weights are in Keras's layouts: kernel ``(*kernel_size, channels, 4*filters)``,
recurrent_kernel ``(*kernel_size, filters, 4*filters)``, bias ``(4*filters,)``, gates i, f, c, o.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from .base import InputSpec, register_layer
from .conv import geometry_config, set_geometry, spatial_output_shape
from .recurrent import _RNN, _UnitForgetBias


class _ConvLSTM(_RNN):
    """The N-D convolutional LSTM behind ConvLSTM1D/2D/3D (see `ConvLSTM2D` for the arguments)."""

    rank = 2
    _gates = 4
    _state_names = ("h", "c")
    _paddings = ("valid", "same")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        super().__init__(filters, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.filters = self.units
        set_geometry(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._state_spatial = None  # the states' spatial shape, known once built
        self.input_spec = InputSpec(ndim=self.rank + 3)

    # -- weights and shapes ---------------------------------------------------------------------

    def _step_output_shape(self, input_shape):
        """(batch, *out, filters) of one step's convolution for inputs (batch, time, *spatial, channels)."""
        return spatial_output_shape(self, (input_shape[0],) + tuple(input_shape[2:]), self.filters)

    def build(self, input_shape):
        if self._multi_input:  # [x, *initial states]
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        cls = type(self).__name__
        InputSpec(ndim=self.rank + 3).check(self.name, 0, input_shape)
        if None in input_shape[2:-1]:
            raise ValueError(f"{cls} '{self.name}': ConvLSTM layers need static spatial dimensions. Received: "
                             f"input_shape={input_shape}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{cls} '{self.name}': the channel dimension of the inputs (last axis) should be "
                             f"defined. Found None. Full input shape received: input_shape={input_shape}")
        if self.stateful and input_shape[0] is None:
            raise ValueError(f"{cls} '{self.name}': a stateful recurrent layer needs to know its batch size. Give it "
                             "to the input: Input(shape, batch_size=32) in a functional model, or batch_input_shape on "
                             f"a Sequential model's first layer. Received: input shape {input_shape}")
        self._state_spatial = self._step_output_shape(input_shape)[1:-1]
        GF = self._gates * self.filters
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, GF), self.kernel_initializer,
                                      self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", self.kernel_size + (self.filters, GF),
                                                self.recurrent_initializer, self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            bias_init = (_UnitForgetBias(self.bias_initializer, self.filters) if self.unit_forget_bias
                         else self.bias_initializer)
            self.bias = self.add_weight("bias", (GF,), bias_init, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 3, axes={i + 2: d for i, d in enumerate(input_shape[2:])})
        self.built = True

    def _state_shape(self, batch):
        return (batch, *self._state_spatial, self.filters)

    def _input_dropout_shape(self, x):
        # Keras's ConvLSTM cell: a mask per element of a step's input, one per gate
        return (x.shape[0], *x.shape[2:])

    def _masks_per_gate(self):
        return True

    def _check_input(self, input_shape):
        if not self._multi_input:
            return super(_RNN, self)._check_input(input_shape)
        shapes = [tuple(s) for s in input_shape]
        self.input_spec.check(self.name, 0, shapes[0])
        want = self._step_output_shape(shapes[0])
        what = f"{type(self).__name__} '{self.name}'"
        if len(shapes) != 3:
            raise ValueError(f"{what}: initial_state must hold 2 states (h, c), each {want}. Received "
                             f"{len(shapes) - 1}")
        for name, shape in zip(self._state_names, shapes[1:]):
            if len(shape) != len(want) or any(None not in (s, w) and s != w for s, w in zip(shape, want)):
                raise ValueError(f"{what}: initial state {name} must be {want} for inputs of shape {shapes[0]}. "
                                 f"Received: {shape}")

    def compute_output_shape(self, input_shape):
        if self._multi_input:
            input_shape = input_shape[0]
        step = self._step_output_shape(tuple(input_shape))
        out = (step[0], input_shape[1]) + step[1:] if self.return_sequences else step
        if self.return_state:
            return [out, step, step]
        return out

    # -- forward and backward ------------------------------------------------------------------

    def _conv(self, x, w, b=None, recurrent=False):
        forward = getattr(ops, f"conv{self.rank}d_forward")
        return forward(x, w, b, **self._conv_geometry(recurrent))

    def _conv_grads(self, dy, x, w, recurrent=False, use_bias=False, need_dx=True, need_dw=True):
        backward = getattr(ops, f"conv{self.rank}d_backward")
        return backward(dy, x, w, use_bias=use_bias, need_dx=need_dx, need_dw=need_dw,
                        **self._conv_geometry(recurrent))

    def _conv_geometry(self, recurrent):
        if recurrent:  # Keras's recurrent convolution: 'same', unit strides, no dilation
            return dict(strides=(1,) * self.rank, padding="same", dilation_rate=(1,) * self.rank)
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def _gate_slice(self, a, g):
        F = self.filters
        return np.ascontiguousarray(a[..., g * F:(g + 1) * F])

    def _recurrent_product(self, h):
        """The recurrent convolution of h_{t-1} (N, *out, F) -> (N, *out, 4F); with recurrent
        dropout one convolution per gate, each of h times its gate's mask."""
        u = self.recurrent_kernel
        if self._rec_mask is None:
            return self._conv(h, u, recurrent=True)
        return np.concatenate([self._conv(h * self._rec_mask[g], self._gate_slice(u, g), recurrent=True)
                               for g in range(4)], axis=-1)

    def _forward(self, x):
        N, T = x.shape[:2]
        F = self.filters
        xt = np.ascontiguousarray(np.swapaxes(x[:, ::-1] if self.go_backwards else x, 0, 1))  # (T, N, *in, C)
        flat = xt.reshape((T * N,) + xt.shape[2:])
        if self._mask is None:  # the input convolution of all steps at once
            Z = self._conv(flat, self.kernel, self.bias)
        else:  # input dropout: one mask per gate (shared by the steps), one convolution per gate
            Z = np.concatenate([self._conv((xt * self._mask[g]).reshape(flat.shape), self._gate_slice(self.kernel, g),
                                           None if self.bias is None else self.bias[g * F:(g + 1) * F])
                                for g in range(4)], axis=-1)
        Z = Z.reshape((T, N) + Z.shape[1:])  # (T, N, *out, 4F): the input side of the pre-activations
        state = (N,) + Z.shape[2:-1] + (F,)
        h0, c0 = self._initial_states()
        H = [np.zeros(state, x.dtype) if h0 is None else np.asarray(h0, x.dtype)]  # h_0 .. h_T
        Cs = [np.zeros(state, x.dtype) if c0 is None else np.asarray(c0, x.dtype)]  # c_0 .. c_T
        G, A = [], []  # per step: the activated gates [i f g o] and activation(c)
        step_mask = None
        if self._time_mask is not None:
            m = self._time_mask[:, ::-1] if self.go_backwards else self._time_mask
            step_mask = np.ascontiguousarray(m.T).reshape((T, N) + (1,) * (len(state) - 1))
        for t in range(T):
            gates, c, a, h = ops.lstm_cell_forward(Z[t] + self._recurrent_product(H[t]), Cs[t],
                                                   activation=self._act, recurrent_activation=self._ract)
            if step_mask is not None:  # a masked step keeps both states
                h = np.where(step_mask[t], h, H[t])
                c = np.where(step_mask[t], c, Cs[t])
            G.append(gates)
            A.append(a)
            H.append(h)
            Cs.append(c)
        self._cache = (xt, H, Cs, G, A, step_mask)
        out = np.stack(H[1:], axis=1) if self.return_sequences else H[T]
        return out, [H[T], Cs[T]]

    def _backward(self, dh_seq, dh_last, dc_last):
        xt, H, Cs, G, A, step_mask = self._cache
        T = len(G)
        need_dw = bool(self.trainable_weights)
        dh = np.zeros_like(H[T]) if dh_last is None else dh_last
        dc = dc_last
        dG = np.empty((T,) + G[0].shape, G[0].dtype)  # (T, N, *out, 4F): the pre-activations' gradients
        for t in reversed(range(T)):
            if dh_seq is not None:
                dh = dh + dh_seq[:, t]
            dz, dc_prev = ops.lstm_cell_backward(dh, dc, G[t], A[t], Cs[t], activation=self._act,
                                                 recurrent_activation=self._ract)
            if step_mask is not None:  # a masked step: no gradient into its cell; dh and dc pass through
                dz *= step_mask[t]
                dc_prev = np.where(step_mask[t], dc_prev, 0 if dc is None else dc)
            dG[t] = dz
            dh_prev = self._recurrent_input_grad(dz, H[t])
            dh = dh_prev if step_mask is None else np.where(step_mask[t], dh_prev, dh)
            dc = dc_prev
        dx, dw, db = self._input_grads(dG, xt, need_dw)
        du = self._recurrent_kernel_grad(dG, np.stack(H[:T])) if need_dw else None
        if dx is not None:
            dx = np.swapaxes(dx, 0, 1)
            dx = np.ascontiguousarray(dx[:, ::-1] if self.go_backwards else dx)
        return dx, dw, du, db, [dh, dc]

    def _recurrent_input_grad(self, d, h):
        """dL/dh_{t-1} through the recurrent convolution, from the step's gate gradients d (N, *out, 4F)."""
        u = self.recurrent_kernel
        if self._rec_mask is None:
            return self._conv_grads(d, h, u, recurrent=True, need_dw=False)[0]
        return sum(self._conv_grads(self._gate_slice(d, g), h * self._rec_mask[g], self._gate_slice(u, g),
                                    recurrent=True, need_dw=False)[0] * self._rec_mask[g] for g in range(4))

    def _recurrent_kernel_grad(self, dG, H):
        """dL/d recurrent_kernel: one convolution backward over all steps (T·N images)."""
        flat = (-1,) + dG.shape[2:]
        if self._rec_mask is None:
            return self._conv_grads(dG.reshape(flat), H.reshape((-1,) + H.shape[2:]), self.recurrent_kernel,
                                    recurrent=True, need_dx=False)[1]
        return np.concatenate([
            self._conv_grads(self._gate_slice(dG, g).reshape(flat[:-1] + (self.filters,)),
                             (H * self._rec_mask[g]).reshape((-1,) + H.shape[2:]),
                             self._gate_slice(self.recurrent_kernel, g), recurrent=True, need_dx=False)[1]
            for g in range(4)], axis=-1)

    def _input_grads(self, dG, xt, need_dw):
        """(dx (T, N, *in, C) or None, d kernel, d bias) of the input convolution over all steps."""
        need_dx = self._need_input_grad
        flat_x = (-1,) + xt.shape[2:]
        use_bias = self.use_bias and need_dw
        if not (need_dx or need_dw):
            return None, None, None
        if self._mask is None:
            dx, dw, db = self._conv_grads(dG.reshape((-1,) + dG.shape[2:]), xt.reshape(flat_x), self.kernel,
                                          use_bias=use_bias, need_dx=need_dx, need_dw=need_dw)
            return (None if dx is None else dx.reshape(xt.shape)), dw, db
        dx, dws, dbs = None, [], []
        for g in range(4):
            dg = self._gate_slice(dG, g)
            dxg, dwg, dbg = self._conv_grads(dg.reshape((-1,) + dg.shape[2:]), (xt * self._mask[g]).reshape(flat_x),
                                             self._gate_slice(self.kernel, g), use_bias=use_bias, need_dx=need_dx,
                                             need_dw=need_dw)
            if need_dx:
                dxg = dxg.reshape(xt.shape) * self._mask[g]
                dx = dxg if dx is None else dx + dxg
            dws.append(dwg)
            dbs.append(dbg)
        dw = np.concatenate(dws, axis=-1) if need_dw else None
        db = np.concatenate(dbs) if use_bias else None
        return dx, dw, db

    def get_config(self):
        config = super().get_config()
        del config["units"]
        return {**config, "filters": self.filters, **geometry_config(self), "unit_forget_bias": self.unit_forget_bias}


@register_layer
class ConvLSTM1D(_ConvLSTM):
    """1-D convolutional LSTM: inputs (batch, time, steps, channels); see `ConvLSTM2D`."""

    rank = 1


@register_layer
class ConvLSTM2D(_ConvLSTM):
    """2-D convolutional LSTM (Shi et al. 2015), Keras's equations and weight layout.

    Like `LSTM` with the products replaced by convolutions: ``i, f, o = recurrent_activation(conv(x_t,
    W) + conv(h_{t-1}, U) + b)``, ``g = activation(...)``, gates i, f, c, o; ``c_t = f * c_{t-1} + i
    * g``, ``h_t = o * activation(c_t)``. The input convolution uses the layer's strides, padding and
    dilation; the recurrent one is 'same' with unit strides.

    Args:
        filters: the channels of h (and of the output).
        kernel_size, strides, padding ('valid' or 'same'), dilation_rate: as in `Conv2D`
            (channels-last data only).
        activation, recurrent_activation, use_bias, initializers, regularizers, constraints,
            unit_forget_bias, dropout, recurrent_dropout, seed, return_sequences, return_state,
            go_backwards, stateful: as in `LSTM`. Dropout masks cover every element of a step's input
            (or of h), one per gate, as in Keras's ConvLSTM cell.

    Input (batch, time, rows, cols, channels); output (batch, out_rows, out_cols, filters), or with
    return_sequences (batch, time, out_rows, out_cols, filters); with return_state ``[output, h, c]``.
    Weights: ``kernel`` (kh, kw, channels, 4*filters), ``recurrent_kernel`` (kh, kw, filters,
    4*filters), ``bias`` (4*filters,).
    """

    rank = 2


@register_layer
class ConvLSTM3D(_ConvLSTM):
    """3-D convolutional LSTM: inputs (batch, time, depth, rows, cols, channels); see `ConvLSTM2D`."""

    rank = 3
