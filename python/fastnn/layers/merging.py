"""fastnn.layers.merging — layers that join branches of a functional graph: Add, Subtract,
Multiply, Average, Minimum, Maximum, Concatenate. Each takes a list of inputs and returns a list of input
gradients from ``backward``.

Masks, as Keras 3 joins them: the elementwise merges give a step that is unmasked in any input
(logical or), and no mask when some input has none; Concatenate counts an input without a mask
as all unmasked, so along the time axis the output's mask is the inputs' masks end to end, and
along the features it is their logical or."""

from __future__ import annotations

import numpy as np

from ..autodiff import _unbroadcast
from .base import Layer, register_layer


def _mask_list(layer, inputs, mask):
    """The masks as a list of one per input, or None when there are none."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
        got = f"a list of {len(mask)}" if isinstance(mask, (list, tuple)) else type(mask).__name__
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): `mask` must be a list of one mask (or None) "
                         f"per input, {len(inputs)}. Received: {got}")
    return None if all(m is None for m in mask) else list(mask)


class _Merge(Layer):
    """Elementwise merge of inputs of one shape, or of shapes that broadcast as Keras 3's do."""

    _multi_input = True
    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        masks = _mask_list(self, inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        out = np.asarray(masks[0], dtype=bool)
        for m in masks[1:]:
            out = out | np.asarray(m, dtype=bool)
        return out
    _min_inputs = 2
    _max_inputs = None

    def _check_count(self, n):
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = self._min_inputs if self._max_inputs == self._min_inputs else f"at least {self._min_inputs}"
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects {want} inputs. Received: {n} inputs")

    def build(self, input_shape):
        self._check_count(len(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        """Keras 3's broadcasting: an input of lower rank gains axes of 1 after the batch axis, and
        axes of 1 stretch to the others' (squeeze-and-excitation's ``Multiply()([x, se])``, x
        ``(N, H, W, C)`` and se ``(N, 1, 1, C)``)."""
        self._check_count(len(input_shape))
        shapes = [tuple(s) for s in input_shape]
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) cannot merge inputs of different batch "
                             f"sizes. Received shapes: {shapes}")
        out = shapes[0][1:]
        for s in shapes[1:]:
            longer, shorter = (out, s[1:]) if len(out) >= len(s) - 1 else (s[1:], out)
            shorter = (1,) * (len(longer) - len(shorter)) + tuple(shorter)
            merged = []
            for a, b in zip(longer, shorter):
                if a is not None and b is not None and a != b and 1 not in (a, b):
                    raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs inputs whose shapes broadcast "
                                     f"(equal, or 1 on an axis). Received shapes: {shapes}")
                merged.append(None if a is None or b is None else b if a == 1 else a)
            out = tuple(merged)
        return (next(iter(batches), None),) + out

    def call(self, inputs, training=False):
        self._check_count(len(inputs))
        self._given_shapes = None
        if any(x.shape != inputs[0].shape for x in inputs[1:]):
            shapes = [x.shape for x in inputs]
            target = self.compute_output_shape(shapes)
            rank = len(target)
            self._given_shapes = shapes
            # (the lower-rank ones take axes after the batch axis, as Keras expands them at axis 1)
            inputs = [np.broadcast_to(x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]), target)
                      for x in inputs]
        return self._merge(inputs)

    def backward(self, dy):
        grads = self._backward(dy)
        if self._given_shapes is None:
            return grads
        # (each summed over the axes it was stretched along: back to its expanded shape, then its own)
        return [np.ascontiguousarray(_unbroadcast(g, shape[:1] + (1,) * (g.ndim - len(shape)) + tuple(shape[1:]))
                                     .reshape(shape)) for g, shape in zip(grads, self._given_shapes)]


@register_layer
class Add(_Merge):
    """Elementwise sum of its inputs: ``Add()([a, b])``."""

    def _merge(self, inputs):
        self._n = len(inputs)
        out = inputs[0] + inputs[1]
        for x in inputs[2:]:
            out += x
        return out

    def _backward(self, dy):
        return [dy] * self._n


@register_layer
class Subtract(_Merge):
    """``a - b`` for exactly two inputs."""

    _max_inputs = 2

    def _merge(self, inputs):
        return inputs[0] - inputs[1]

    def _backward(self, dy):
        return [dy, -dy]


@register_layer
class Multiply(_Merge):
    """Elementwise product of its inputs."""

    def _merge(self, inputs):
        self._inputs = inputs
        out = inputs[0] * inputs[1]
        for x in inputs[2:]:
            out *= x
        return out

    def _backward(self, dy):
        grads = []
        for i in range(len(self._inputs)):
            g = dy
            for j, x in enumerate(self._inputs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


@register_layer
class Average(_Merge):
    """Elementwise mean of its inputs."""

    def _merge(self, inputs):
        self._n = len(inputs)
        out = inputs[0] + inputs[1]
        for x in inputs[2:]:
            out += x
        out *= 1.0 / self._n
        return out

    def _backward(self, dy):
        g = dy * (1.0 / self._n)
        return [g] * self._n


class _Extreme(_Merge):
    """The elementwise maximum or minimum; the gradient goes to the input that holds it (the first
    on a tie, as Keras folds the inputs pairwise)."""

    _pick = None

    def _merge(self, inputs):
        # which input holds each element (the first of equals)
        self._which = np.zeros(inputs[0].shape, dtype=np.int32)
        out = inputs[0].copy()
        for i, x in enumerate(inputs[1:], 1):
            better = type(self)._pick(x, out)
            out = np.where(better, x, out)
            self._which[better] = i
        self._n = len(inputs)
        return out

    def _backward(self, dy):
        return [np.where(self._which == i, dy, 0).astype(dy.dtype, copy=False) for i in range(self._n)]


@register_layer
class Maximum(_Extreme):
    """Elementwise maximum of its inputs."""

    _pick = staticmethod(np.greater)


@register_layer
class Minimum(_Extreme):
    """Elementwise minimum of its inputs."""

    _pick = staticmethod(np.less)


@register_layer
class Concatenate(Layer):
    """Concatenates its inputs along ``axis`` (default -1); other axes must agree."""

    _multi_input = True
    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"Concatenate: expected a non-batch integer axis. Received: axis={axis!r}")
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) < 2:
            raise ValueError(f"Layer '{self.name}' (Concatenate) expects at least 2 inputs. Received: {len(shapes)}")
        ndim = len(shapes[0])
        axis = self.axis % ndim if -ndim <= self.axis < ndim else None
        if axis in (None, 0) or any(len(s) != ndim for s in shapes):
            raise ValueError(f"Layer '{self.name}' (Concatenate) cannot join shapes {shapes} on axis {self.axis}")
        for d in range(1, ndim):
            if d != axis and len({s[d] for s in shapes if s[d] is not None}) > 1:
                raise ValueError(f"Layer '{self.name}' (Concatenate) needs matching shapes except on the concat "
                                 f"axis. Received shapes: {shapes}")
        sizes = [s[axis] for s in shapes]
        out = list(shapes[0])
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs, training=False):
        self.compute_output_shape([x.shape for x in inputs])
        self._sizes = [x.shape[self.axis] for x in inputs]
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, dy):
        return np.split(dy, np.cumsum(self._sizes)[:-1], axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        masks = _mask_list(self, inputs, mask)
        if masks is None:
            return None
        full = []  # each input's mask over all of its axes: an unmasked input is all True
        for x, m in zip(inputs, masks):
            shape = np.shape(x)
            if m is None:
                full.append(np.ones(shape, dtype=bool))
                continue
            m = np.asarray(m, dtype=bool)
            full.append(np.broadcast_to(m.reshape(m.shape + (1,) * (len(shape) - m.ndim)), shape))
        return np.any(np.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
