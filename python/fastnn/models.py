"""fastnn.models — Sequential and functional models: training loop, evaluation, prediction,
summary, and save/load, over layers that follow the `fastnn.layers.Layer` protocol.

A model is a graph of layer calls in topological order over numbered tensor slots (slots
0 .. k-1 are its k inputs). Forward runs the steps in order; backward runs them in reverse,
summing gradients where a tensor feeds several layers. When the last layer ends in softmax
(sigmoid) and the loss is a categorical (binary) cross-entropy on probabilities, the output
gradient is taken with respect to the logits directly (``ops.crossentropy_logits_backward``),
so the activation's Jacobian is never formed.

Masks (Keras's): when a layer may create one (`Masking`, ``Embedding(mask_zero=True)``, a user
layer with its own ``compute_mask``), forward runs a second loop that also carries a boolean
(batch, timesteps) mask per slot (`_forward_masked`); other models run the plain loop and pay
nothing. A masked output's loss and metrics weigh each step by its mask, folded into the sample
weights as Keras 3 does (`_fold_mask`): the loss is the mean over the unmasked steps.

The training step stays in the kernels: a batch is gathered from a per-epoch permutation into
a reused buffer, and every product and update is one `fastnn.ops` call. With
``fastnn.backend("numpy")`` the same model runs on the NumPy reference (float64 models too).
"""

from __future__ import annotations

import copy
import functools
import heapq
import inspect
import json
import math
import textwrap
import warnings

import numpy as np

from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import autodiff, ops, optimizers, regularizers, utils
from ._backend import get_backend
from ._graph import post_order
from . import _gradient_tape, _step_loop
from ._batch_dataset import BatchDataset, EagerArray
from .layers.base import (TRACED_TRAINING, Input, InputLayer, KerasTensor, Layer, _backward_from_tape, _bound_call,
                          _standardize_dtype, _weight_shape, weight_arguments,
                          _BranchesOnTraining, _call_on_tape, call_states, restore_call_states,
                          _held, _inferred_output_shape, _is_symbolic, _on_tape, _positive_int, _recording_init,
                          _shape_str, check_mask,
                          held_variables, nested_layers, sublayers, tape_training)

_CE_SOFTMAX = ("categorical_crossentropy", "sparse_categorical_crossentropy")


class _EagerCall(Layer):
    """A subclassed model's ``call`` that reads tf.Variables the model holds (``tf.matmul(x, self.w)
    + self.b``), or tests its training flag (``if training:``), as one layer: such a call cannot be
    traced into a graph of layers once (what it computes from a Variable would be frozen at its
    first value; one branch would be kept for fit and predict alike), so, as TensorFlow runs it, it
    runs every step, on the tape of a custom layer (`fastnn.layers.base`). The layer holds the
    model's attributes, so its weights are the model's Variables (`track_variables`) and its
    layers' weights, under the attributes' names."""

    _inputs_as_called = True
    call = _call_on_tape
    backward = _backward_from_tape
    compute_output_shape = _inferred_output_shape

    def __init__(self, model):
        super().__init__(name=utils.unique_name("call"))
        for attr, value in vars(model).items():
            if attr not in model._state_attrs:
                setattr(self, attr if attr not in vars(self) else f"_model_{attr}", value)
        self._model_call = model.call
        self._call_takes_training = _takes_keyword(type(model).call, "training")
        self._call_takes_mask = "mask" in inspect.signature(type(model).call).parameters

    def _call_on_arrays(self, inputs, **training):
        return self._model_call(inputs, **training)

    def _inner_layers(self):
        return [sub for _, sub in sublayers(self)]

    def get_config(self):
        raise ValueError(f"Layer '{self.name}' is the call() of a subclassed model that runs every step (it reads "
                         "tf.Variables it holds itself, or its Python code tests `training`); fastnn cannot save it as "
                         "a graph of layers. Save the weights (save_weights) and rebuild the model from its class")


def _unique(weights):
    """``weights`` (arrays) each once, in order."""
    seen = set()
    return [w for w in weights if id(w) not in seen and not seen.add(id(w))]


def _check_added_metric(name, aggregation, what):
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what}: give the metric a name (name='std_of_activation'). Received: name={name!r}")
    if aggregation not in (None, "mean"):
        raise ValueError(f"{what}: the value is averaged over the batches (aggregation='mean'). Received: "
                         f"aggregation={aggregation!r}")


def _slots(out):
    """A step's output slots: ``out`` is one slot, or a tuple of them for a layer with several outputs."""
    return out if type(out) is tuple else (out,)


class _CallSites:
    """The calls of shared layers (a layer called more than once in one model). A layer keeps
    what its backward needs in its attributes, so each such call's attributes (a shallow copy of
    the layer's __dict__, and of the layers inside a wrapper) are kept after its forward and put
    back for its backward; the layer's weight gradients are the sum over its calls. The same
    weight arrays serve every call (they are updated in place)."""

    def __init__(self, steps):
        self.steps = frozenset(steps)
        self._kept = {}  # step -> [(layer, its __dict__ after that call's forward)]
        self._sums = {}  # id(layer) -> (layer, summed gradients) during a backward pass

    def keep(self, step, layer):
        self._kept[step] = call_states(layer)

    def start_backward(self):
        self._sums.clear()

    def backward(self, step, layer, dy):
        """``layer.backward(dy)`` in the state of its call at ``step``; the state of the layer's
        latest call (its RNG counters, ...) is back afterwards."""
        latest = call_states(layer)
        restore_call_states(self._kept[step])
        dx = layer.backward(dy)
        grads = layer._gradients
        restore_call_states(latest)
        if grads is not None:
            key = id(layer)
            if key in self._sums:
                self._sums[key] = (layer, [a + b for a, b in zip(self._sums[key][1], grads)])
            else:
                self._sums[key] = (layer, list(grads))
        return dx

    def finish_backward(self):
        for layer, grads in self._sums.values():
            layer._gradients = grads
        self._sums.clear()


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")


def _as_array(data, name, fn):
    """``data`` as a NumPy array of numbers (a one-element list of arrays is unwrapped)."""
    if data is None:
        raise ValueError(f"{fn}: `{name}` is required")
    if isinstance(data, dict):
        raise ValueError(f"{fn}: `{name}` must be a NumPy array; dicts of inputs are not supported")
    if isinstance(data, (list, tuple)) and len(data) == 1 and isinstance(data[0], np.ndarray):
        data = data[0]
    try:
        a = np.asarray(data)
    except ValueError as e:
        if "inhomogeneous" not in str(e):
            raise
        lengths = sorted({len(row) for row in data if hasattr(row, "__len__")})
        raise ValueError(f"{fn}: `{name}` is a ragged list (rows of different lengths: {lengths[:5]}); pad the "
                         "sequences to one length (keras.utils.pad_sequences) or pass an array") from None
    if a.dtype.kind == "O" and a.size and isinstance(a.reshape(-1)[0], (list, tuple, np.ndarray)):
        # (an object array of sequences: imdb.load_data's reviews of different lengths)
        lengths = sorted({len(row) for row in a.reshape(-1) if hasattr(row, "__len__")})
        raise ValueError(f"{fn}: `{name}` is an array of sequences of different lengths ({lengths[:5]}...); pad them "
                         "to one length (keras.utils.pad_sequences) or pass an array of numbers")
    if a.dtype.kind not in "fiubUSO" or (a.ndim == 0 and a.dtype.kind in "USO"):  # one string is no batch
        raise TypeError(f"{fn}: `{name}` must hold numbers (or strings, for an input of dtype 'string'). "
                        f"Received: {name}.dtype={a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{fn}: `{name}` needs a batch axis. Received: {name}.shape=()")
    return a


def _axis_off(shape, ref):
    """Keras 3's rule for data of ``shape`` one axis off its Input of batch shape ``ref``: "add" a
    missing last axis of size 1 (strings (N,) for an Input(shape=(1,))), "drop" an extra last axis
    of size 1, or None."""
    if len(shape) == len(ref) - 1 and ref[-1] == 1:
        return "add"
    if len(shape) == len(ref) + 1 and shape[-1] == 1:
        return "drop"
    return None


def _adjust_rank(a, layer):
    """Data ``a`` brought to its Input's rank (`_axis_off`)."""
    off = _axis_off(a.shape, layer.batch_shape)
    return a[..., None] if off == "add" else a[..., 0] if off == "drop" else a


def _input_array(a, layer, i, fn):
    """Data ``a`` for the input layer ``layer`` (input ``i``): contiguous in its dtype; strings for a
    'string' input (and only there)."""
    strings = a.dtype.kind in "USO"
    if layer.dtype == "string":
        if not strings:
            raise TypeError(f"{fn}: input {i} ('{layer.name}') takes strings (dtype 'string'). Received: "
                            f"x.dtype={a.dtype}")
        return a
    if strings:
        raise TypeError(f"{fn}: `x` must hold numbers for input {i} ('{layer.name}', dtype {layer.dtype}); "
                        f"strings go to an Input(dtype='string'). Received: x.dtype={a.dtype}")
    target = np.dtype(layer.dtype)
    if a.dtype.kind in "iu" and target.kind in "iu" and a.size and not np.can_cast(a.dtype, target):
        info = np.iinfo(target)
        low, high = a.min(), a.max()
        if low < info.min or high > info.max:  # the cast would wrap (2**32 + 3 -> 3): a silent wrong lookup
            raise ValueError(f"{fn}: input {i} ('{layer.name}') is {target}, and x holds values outside its range "
                             f"[{info.min}, {info.max}]: {low if low < info.min else high}")
    return np.ascontiguousarray(a, dtype=target)


def _rows(y, key):
    """Samples ``key`` (a slice or indices) of targets or sample weights: an array, None, or a list
    (one per output, entries may be None) with several outputs."""
    if isinstance(y, list):
        return [None if a is None else a[key] for a in y]
    return None if y is None else y[key]


def _compiled_loss(loss):
    """The loss object ``compile`` trains with: one number per batch, so not reduction "none"."""
    obj = losses_module.get(loss)
    if getattr(obj, "reduction", None) == "none":
        raise ValueError(f"compile: the loss '{obj.name}' has reduction=None ('none'): one loss per sample, where "
                         "fit trains on one number per batch. Use reduction='sum_over_batch_size' (the default), "
                         "'sum' or 'mean_with_sample_weight', or reduce the per-sample losses in a custom train_step")
    return obj


def _single_loss_weight(loss_weights, output_names):
    """``compile(loss_weights=...)`` of a model with one output: a number, a list of one, or a
    dict of one by the output's name, scaling its loss (and gradient) as Keras 3 does; 1 if None."""
    given = loss_weights
    if isinstance(given, dict):
        if len(given) != 1 or (output_names and next(iter(given)) not in output_names):
            raise ValueError(f"compile: a model with one output ({output_names}) takes one loss weight, by its name. "
                             f"Received: loss_weights={loss_weights!r}")
        given = next(iter(given.values()))
    elif isinstance(given, (list, tuple)):
        if len(given) != 1:
            raise ValueError(f"compile: a model with one output takes one loss weight. Received: "
                             f"loss_weights={loss_weights!r}")
        given = given[0]
    if given is None:
        return 1.0
    if isinstance(given, bool) or not isinstance(given, (int, float, np.integer, np.floating)) \
            or not math.isfinite(given):
        raise ValueError(f"compile: expected `loss_weights` to be a number (or a list or dict of one). Received: "
                         f"loss_weights={loss_weights!r}")
    return float(given)


def _per_output(sw, k):
    """Output k's sample weights: one array for every output, or one of a list."""
    return sw[k] if isinstance(sw, list) else sw


def _passes(sequence, shuffle):
    """The batches of a Sequence, pass after pass without end (each pass shuffled if asked, its
    ``on_epoch_end`` called after it)."""
    while True:
        order = utils.global_rng().permutation(len(sequence)) if shuffle else range(len(sequence))
        for i in order:
            yield sequence[int(i)]
        if hasattr(sequence, "on_epoch_end"):
            sequence.on_epoch_end()


def _validates(epoch, freq):
    """Whether fit validates after ``epoch`` (from 0): every ``freq``-th epoch counted from the first,
    initial_epoch or not, or the epochs (from 1) of a set, as Keras's _should_eval."""
    return epoch + 1 in freq if isinstance(freq, frozenset) else (epoch + 1) % freq == 0


def _refuse_call_override(model, kind):
    """A subclass of a Sequential or of a functional model with its own call(): fastnn runs such a
    model's graph (predict, fit, evaluate and calls), so the override would be silently skipped
    (``return super().call(x) * 2`` giving x once); refused, with the form that works."""
    cls = type(model)
    if cls.call is not Model.call:
        raise NotImplementedError(
            f"{cls.__name__} subclasses a {kind} and overrides call(): fastnn runs the layers of a {kind} as its "
            f"graph, so predict, fit and calls would not run this call(). Subclass keras.Model instead, hold the "
            f"layers (self.body = keras.Sequential([...]) in __init__) and write call(self, x): return self.body(x) ...")


def _init_arguments(cls):
    """The names of the arguments a model subclass's ``__init__`` takes beyond Model's own."""
    init = getattr(cls.__init__, "__wrapped__", cls.__init__)
    try:
        parameters = list(inspect.signature(init).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in ("name", "trainable")]


def _times_class_weights(sw, cw):
    """Sample weights (None, per sample, or per step/pixel) times class weights (per sample, or
    per step/pixel of id targets), each broadcast over the other's extra axes."""
    if sw is None:
        return cw
    a, b = (sw, cw) if sw.ndim <= cw.ndim else (cw, sw)
    return np.ascontiguousarray(a.reshape(a.shape + (1,) * (b.ndim - a.ndim)) * b)


def _as_float(x, dtype):
    """An input (a list of them for a merge layer) of integers, booleans or another float dtype as
    ``dtype`` (Keras casts a layer's inputs to its compute dtype: a float32 layer after a float64
    one computes in float32)."""
    if isinstance(x, list):
        return [_as_float(v, dtype) for v in x]
    return x.astype(dtype) if isinstance(x, np.ndarray) and x.dtype.kind in "iubf" and x.dtype != dtype else x


def _joined_batches(parts):
    """What a predict_step gave for each batch, joined along the batch axis: arrays, or lists,
    tuples and dicts of them (as Keras joins its outputs' structure)."""
    first = parts[0]
    if isinstance(first, dict):
        return {k: _joined_batches([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_joined_batches([p[i] for p in parts]) for i in range(len(first)))
    arrays = [np.asarray(autodiff._value(p)) for p in parts]
    return np.concatenate(arrays) if arrays[0].ndim else np.stack(arrays)


def _steps(value, name):
    """A number of batches: old scripts pass ``len(x_train) / batch_size``, a float; a whole one
    is taken (a fraction rounds up, as the last partial batch would)."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value > 0:
        return int(math.ceil(value))
    return value


def _array_batches(xs, y, sw, batch_size, perm=None, bufs=None):
    """(inputs, targets, sample weights) of each batch of arrays, in order or in ``perm``'s; a
    full shuffled batch is gathered into ``bufs`` (reused every step)."""
    n = len(xs[0])
    for lo in range(0, n, batch_size):
        hi = min(lo + batch_size, n)
        if perm is None:
            yield [a[lo:hi] for a in xs], _rows(y, slice(lo, hi)), _rows(sw, slice(lo, hi))
            continue
        idx = perm[lo:hi]
        # idx comes from a permutation of range(n), so always in range: mode="clip" writes
        # straight into the buffer, where the default "raise" goes through a temporary copy
        if bufs is not None and hi - lo == batch_size:
            xb = [np.take(a, idx, axis=0, out=buf, mode="clip") for a, buf in zip(xs, bufs)]
        else:
            xb = [a[idx] for a in xs]
        yield xb, _rows(y, idx), _rows(sw, idx)


class _ContinuingPasses:
    """fit(x_array, y_array, steps_per_epoch=k): each epoch the next k batches of passes over the
    arrays, a new pass (reshuffled) begun where one ends. Keras's epoch iterator likewise goes on
    across epochs when steps_per_epoch is given (the callbacks guide's fit(..., steps_per_epoch=5))."""

    def __init__(self, new_pass, steps):
        self.new_pass, self.steps, self.current = new_pass, steps, None

    def epoch(self):
        for _ in range(self.steps):
            batch = next(self.current, None) if self.current is not None else None
            if batch is None:
                self.current = self.new_pass()
                batch = next(self.current, None)
                if batch is None:  # (no samples at all)
                    return
            yield batch


def _first_rows(data, count):
    """The first ``count`` samples of an array, or of each array in a list, tuple or dict (evaluate
    and predict with ``steps`` on arrays: steps * batch_size samples, as Keras runs that many batches)."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: _first_rows(v, count) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and not (data and np.isscalar(data[0])):
        return type(data)(_first_rows(v, count) for v in data)
    return data[:count] if hasattr(data, "__getitem__") and np.ndim(data) else data


class _Batches:
    """Batches from a Python generator or iterator (``steps`` of them per epoch), or from a Keras
    ``Sequence``/``PyDataset``-like object (``len()`` batches by index, shuffled if asked, its
    ``on_epoch_end`` called after each epoch; ImageDataGenerator.flow gives one). A batch is
    ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""

    def __init__(self, data, steps, fn):
        self.data, self.fn = data, fn
        self.indexed = hasattr(data, "__getitem__") and hasattr(data, "__len__")
        if steps is None and getattr(data, "endless", False):
            raise ValueError(f"{fn}: the dataset repeats for ever (repeat() without a count); pass the number of "
                             "batches per epoch (steps_per_epoch in fit, validation_steps, or steps in evaluate and "
                             "predict)")
        if steps is not None:
            steps = _positive_int(steps, "steps")
        elif self.indexed:
            steps = len(data)
            if steps == 0:
                raise ValueError(f"{fn}: the data gave no batches (a Sequence or dataset of length 0)")
        else:
            raise ValueError(f"{fn}: a generator has no length; pass the number of batches per epoch "
                             "(steps_per_epoch in fit, validation_steps, or steps in evaluate and predict)")
        if self.indexed and steps > len(data):
            raise ValueError(f"{fn}: asked for {steps} batches per epoch of a Sequence that has {len(data)}")
        self.steps = steps
        self.iterator = None if self.indexed else iter(data)
        self.cursor = 0  # the next batch of an indexed source read in order: epochs go on from it

    def restart(self):
        """The next epoch from a new pass: validation data is read from its start at every evaluation,
        as Keras resets its iterator (a fair comparison across epochs)."""
        if self.indexed and self.cursor:
            self._end_of_pass()

    def _end_of_pass(self):
        self.cursor = 0
        if hasattr(self.data, "on_epoch_end"):
            self.data.on_epoch_end()

    @staticmethod
    def of(data, steps, fn):
        """A `_Batches` for a generator or Sequence; None for arrays (and lists, tuples, dicts of them)."""
        if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)) or hasattr(data, "__array__"):
            return None
        if hasattr(data, "__iter__") or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            return _Batches(data, steps, fn)
        return None

    def epoch(self, shuffle, rng):
        """One epoch's batches as (x, y, sample_weight)."""
        if self.indexed:
            # (a tf.data-like dataset keeps its own order, as fit(shuffle=...) leaves a tf.data.Dataset's: its
            # .shuffle() reshuffles each pass)
            shuffle = shuffle and not isinstance(self.data, BatchDataset)
            if shuffle and rng is not None:  # (steps of a long Sequence: drawn, not a permutation of all of it)
                n = len(self.data)
                order = rng.permutation(n)[:self.steps] if self.steps * 4 >= n else rng.choice(n, self.steps,
                                                                                             replace=False)
                for i in order:
                    yield _unpack(self.data[int(i)], self.fn)
                self._end_of_pass()
                return
            # in order: an epoch of fewer steps than the data has goes on where the last one stopped,
            # wrapping around at the end (a new pass), as Keras's iterator does
            for _ in range(self.steps):
                if self.cursor == len(self.data):
                    self._end_of_pass()
                batch = self.data[self.cursor]
                self.cursor += 1
                yield _unpack(batch, self.fn)
            if self.cursor == len(self.data):
                self._end_of_pass()
            return
        for step in range(self.steps):
            try:
                batch = next(self.iterator)
            except StopIteration:
                raise ValueError(f"{self.fn}: the generator ran out of data after {step} of the {self.steps} batches "
                                 "asked for; make it loop (as ImageDataGenerator.flow does) or ask for fewer") from None
            yield _unpack(batch, self.fn)


def _unpack(batch, fn):
    """A batch as (x, y, sample_weight), Keras's rule: a tuple (or list) of 1 to 3 is (x, y, w)."""
    if isinstance(batch, (tuple, list)):
        if not 1 <= len(batch) <= 3:
            raise ValueError(f"{fn}: a batch must be x, (x, y) or (x, y, sample_weight). Received a "
                             f"{type(batch).__name__} of {len(batch)}")
        return tuple(batch) + (None,) * (3 - len(batch))
    return batch, None, None


def _takes_keyword(fn, name):
    """Whether the callable ``fn`` accepts the keyword argument ``name``."""
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _with_compiled_trainability(method):
    """Run a training entry point with each layer's trainable flag as it was when `compile` ran
    (Keras: "the trainable attribute values at the time the model is compiled should be preserved
    ... until compile is called again"). A GAN relies on it: the discriminator is compiled, then
    frozen for the combined model, and its own train_on_batch still updates it. The flags are
    restored after; a step whose flags are unchanged (the usual case) pays only the check."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        changed = [(layer, now) for layer, flag in self._trainable_at_compile if (now := layer.trainable) != flag]
        for layer, now in changed:
            layer.trainable = not now
        try:
            return method(self, *args, **kwargs)
        finally:
            for layer, now in changed:
                layer.trainable = now
    return wrapper


class _Head:
    """One output of a model with several: its loss, the loss's weight, its metrics, and the
    running mean of its loss (for the logs)."""

    def __init__(self, name, loss, weight, metrics):
        self.name, self.loss, self.weight, self.metrics = name, loss, weight, metrics
        self.last = 0.0
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0


class _CompiledMetrics:
    """A model's compiled metrics as tf.keras 2's ``model.compiled_metrics``."""

    def __init__(self, model):
        self._model = model

    @property
    def metrics(self):
        return list(self._model._metrics)

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._model._update_compiled_metrics(y_true, y_pred, sample_weight)

    def reset_state(self):
        for m in self._model._metrics:
            m.reset_state()


class _CompiledMetricView:
    """A compiled metric as `Model.metrics` lists it: Keras 3 lists the compiled metrics as one
    container whose update_state gives the sample weights to the weighted_metrics alone, so a
    train_step that loops over ``self.metrics`` with ``sample_weight=`` (Keras 3's guide) leaves
    the others unweighted; everything else is the metric's own."""

    def __init__(self, metric):
        self.__dict__["_metric"] = metric

    def update_state(self, y_true, y_pred, sample_weight=None):
        return self._metric.update_state(y_true, y_pred)

    def __getattr__(self, name):
        return getattr(self._metric, name)

    def __setattr__(self, name, value):
        setattr(self._metric, name, value)

    def __eq__(self, other):
        return self._metric is (other._metric if isinstance(other, _CompiledMetricView) else other)

    def __hash__(self):
        return id(self._metric)

    def __repr__(self):
        return repr(self._metric)


class Model:
    """A functional model: ``Model(inputs=Input(shape=(2,)), outputs=Dense(1)(...), name=...)``.

    The graph may branch (a tensor feeding several layers, joined again by a merge layer such
    as ``Add`` or ``concatenate``), take several inputs (``Model([left, right], out)``, fed a
    list of arrays in that order, or a dict by Input name) and give several outputs
    (``Model(x, [source, label])``: one loss per output, targets as a list or a dict by output
    layer name, predictions as a list); each layer is called once. A built model called on
    tensors nests in a larger one (``Model(x, decoder(encoder(x)))``).
    `Sequential` is the linear special case. Methods follow Keras: ``compile``, ``fit``,
    ``evaluate``, ``predict``, ``train_on_batch``, ``test_on_batch``, ``predict_on_batch``,
    ``summary``, ``get_weights``/``set_weights``, ``save``/``save_weights``/``load_weights``.

    A subclass may define ``call`` (traced into a graph), and may override Keras 3's step API,
    ``train_step`` / ``test_step`` / ``compute_loss``, differentiating with `fastnn.GradientTape`;
    ``fit`` then runs those steps (`_step_loop`), else its own step fused in the kernels.
    """

    def __init_subclass__(cls, **kwargs):
        """A user's subclass records its ``__init__`` arguments (Keras 3's auto config), so that
        `get_config` rebuilds it when they are plain values."""
        super().__init_subclass__(**kwargs)
        if not cls.__module__.startswith("fastnn.") and "__init__" in cls.__dict__ \
                and not getattr(cls.__dict__["__init__"], "_records_arguments", False):
            cls.__init__ = _recording_init(cls.__dict__["__init__"])

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unexpected keyword arguments {sorted(kwargs)}")
        if inputs is self and outputs is None:  # (super().__init__(self), which tf.keras 2 let pass)
            inputs = None
        if inputs is None and outputs is None and type(self) not in (Model, Sequential):
            # a subclass with its own call(): traced into a graph on the first data (or build());
            # one with only a train_step (Keras's VAE and GAN): it trains the models it holds; one
            # with neither (the text-generation tutorial's OneStep, methods around a model it
            # holds): a container, as in Keras, until something calls it
            self._init_state(name or utils.unique_name(utils.to_snake_case(type(self).__name__)))
            self._subclassed = True
            self._holder = type(self).call is Model.call
            self.built = self._holder
            if not trainable:
                self._trainable = False
            self._state_attrs = frozenset(vars(self)) | {"_state_attrs"}
            return
        _refuse_call_override(self, "functional model (built from inputs and outputs)")
        self._init_state(name or utils.unique_name("functional"))
        if inputs is None or outputs is None:
            raise ValueError("fastnn builds models from a graph: Model(inputs=..., outputs=...) with tensors from "
                             "fastnn.layers.Input(), a Sequential([...]), or a subclass of Model that defines "
                             "call(inputs).")
        # dicts (Keras 3: outputs={"priority": ..., "department": ...}): their keys name the model's
        # inputs (the data's dict keys) and outputs (the losses', targets' and predictions' keys)
        if isinstance(inputs, dict):
            self._input_keys, inputs = list(inputs), list(inputs.values())
        if isinstance(outputs, dict):
            self._output_keys, outputs = list(outputs), list(outputs.values())
        self._init_functional(inputs, outputs)
        if not trainable:
            self.trainable = False

    def call(self, inputs, training=False):
        """A subclass's forward pass: its layers (and ``fastnn.backend`` functions) applied to
        ``inputs``. fastnn calls it once, on a symbolic input of the data's shape, and runs the
        graph it records (so Python code in it runs once); a call that tests ``training`` in Python
        (``if training:``), or reads tf.Variables the model holds, runs every step instead."""
        raise NotImplementedError("Model.call: a functional model runs its graph; a subclass of Model defines call()")

    def build(self, input_shape):
        """Build a subclassed model for inputs of ``input_shape`` (batch axis included, e.g.
        ``(None, 784)``; a list of shapes for a call that takes a list) by tracing its `call`; a
        functional model is built already."""
        if not self._subclassed:
            return
        several = isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple))
        shapes = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
        if any(len(shape) < 1 for shape in shapes):
            raise ValueError(f"build: model '{self.name}' expects an input shape with a batch axis, e.g. (None, 784). "
                             f"Received: input_shape={input_shape!r}")
        keys = self._input_keys if self._input_keys and len(self._input_keys) == len(shapes) else None
        # (built from data: an integer input traced as one, as Keras runs call on the data itself: ids
        # that index, gather or segment stay integers)
        dtypes = self.__dict__.get("_data_dtypes") or [None] * len(shapes)
        inputs = [Input(batch_shape=(None,) + shape[1:], name=keys[i] if keys else None,
                        dtype=np.dtype(d).name if d is not None and np.dtype(d).kind in "iu" else None)
                  for i, (shape, d) in enumerate(zip(shapes, dtypes))]
        inputs = inputs if several or keys else inputs[0]
        called_on = dict(zip(keys, inputs)) if keys else inputs  # (a call that takes a dict gets one)
        traced_losses = self._traced_losses = []  # what call() gives add_loss while it is traced
        try:  # a call() that reads tf.Variables the model holds itself runs on the tape every step
            if held_variables(self, self._state_attrs):
                self._eager_call = _EagerCall(self)
                outputs = self._eager_call(called_on)
            else:
                outputs = self._traced_call(called_on)
        except ValueError as e:
            self._eager_call = None
            if any(len(shape) > 1 for shape in shapes):
                raise
            # (an input of the batch axis alone is a batch of scalars, as in Keras: name the likelier slip)
            raise ValueError(f"{e} (build: model '{self.name}' read input_shape={input_shape!r} as a batch axis "
                             f"alone, inputs of shape (batch,); for samples of shape {shapes[0]!r} give the batch "
                             f"axis first: {(None,) + shapes[0]!r})") from e
        finally:
            del self._traced_losses
        flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        if not flat or not all(isinstance(t, KerasTensor) for t in flat):
            raise ValueError(f"Model '{self.name}': call() must return the output of its layers (a tensor or a list "
                             f"of them). On a symbolic input it returned {type(outputs).__name__}")
        self._added_losses = traced_losses
        self._init_functional(inputs, outputs)
        pending = self.__dict__.pop("_pending_compile", None)
        if pending is not None:  # (compiled before its outputs were known: compiled again now, as
            Model.compile(self, **pending)  # Model's: a subclass's own compile() called it with these)

    def _traced_call(self, inputs):
        """call() on symbolic ``inputs``, traced once into the graph; a call whose Python code
        tests its training flag (``if training:`` adding noise or updating a metric, as Géron's
        ReconstructingRegressor) runs every step instead, with the step's flag (`_EagerCall`), as
        TensorFlow runs it: a graph traced once would keep one branch for both fit and predict."""
        try:
            if not _takes_keyword(type(self).call, "training"):
                return self.call(inputs)
            return self.call(inputs, training=TRACED_TRAINING)
        except _BranchesOnTraining:
            del self._traced_losses[:]  # (what the abandoned trace added)
            self._eager_call = _EagerCall(self)
            return self._eager_call(inputs)
        except (ValueError, TypeError) as e:
            # a call that needs the batch's size as a number (tf.zeros((tf.shape(x)[0], units)) for an
            # initial state, tf.random.normal(shape=tf.shape(z_mean)) for a sampling step) cannot be
            # traced on a symbolic batch: it runs every step, as TensorFlow runs it; a call that fails
            # on data too keeps the trace's error
            if self.__dict__.get("_trace_only"):
                raise
            del self._traced_losses[:]
            try:
                self._eager_call = _EagerCall(self)
                return self._eager_call(inputs)
            except Exception:
                self._eager_call = None
                raise e from None

    def _init_state(self, name):
        if not isinstance(name, str) or not name:
            raise ValueError(f"Expected a non-empty string as the model name. Received: name={name!r}")
        self.name = name
        self.optimizer = None
        self.loss = None
        self._loss = None
        self._metrics = []
        self._weighted = set()  # ids of the compiled metrics that take the sample weights (weighted_metrics)
        self._compile_args = None
        self._loss_weight = 1.0  # (compile's loss_weights for a model with one output)
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.built = False
        self._trainable = True
        self._input_layer = None  # a Sequential's input, once known
        self._input_layers = []  # the built graph's inputs, in order
        self._layers = []
        self._steps = []
        self._nslots = 0
        self._vals = []
        self._slot_shapes = []
        self._output_slot = 0
        self._output_slots = [0]  # several for a model with several outputs (the first is _output_slot)
        self._multi_output = False
        self._heads = None  # compile()'d per-output losses, weights and metrics, with several outputs
        self._fused = None
        self._activity_loss = 0.0
        self._keep_finite_weights = False
        self._trainable_at_compile = []  # (layer, its trainable flag when compile() ran)
        self._step_owners = []  # per step: the model it was nested from (summary rows), or None
        self._nested_inputs = {}  # id(nested model) -> for each of its calls, the slots it was called on
        self._nested_outputs = {}  # slot -> (nested model, which of its outputs, the slots that call took)
        self._symbolic_calls = 0  # calls of this model on symbolic tensors (as a nested model): its node indices
        self._step_nodes = []  # a functional model's graph node per step
        self._step_training = {}  # step -> the training flag its call was given (it wins over fit's/predict's)
        self._input_keys = self._output_keys = None  # a model built from dicts of inputs / outputs: their keys
        self._added_losses = []  # add_loss()'s symbolic tensors
        self._added_metrics = []  # add_metric()'s (name, symbolic tensor) pairs
        self._metric_slots = []  # their slots: each value's mean over an epoch's batches is logged
        self._added_metric_means = {}  # name -> the Mean of an add_metric value (the model's or a layer's)
        self._loss_slots = []  # their slots: each value's sum is added to the loss
        self._added_loss_values = []
        self._prediction_steps = None  # with add_loss: the steps the outputs need (predict skips the rest)
        self._subclassed = False  # a subclass of Model with its own call(), built by tracing it
        self._holder = False  # a subclass without call(): its layers are the ones it holds (`sublayers`)
        self._loss_tracker = metrics_module.Mean(name="loss")  # the loss's mean, for train_step/test_step
        self._call_losses = []  # the last call's activity penalties and add_loss terms (`losses`)
        self._loss_adding_steps = set()  # the steps of custom layers (their call may add_loss)
        self._call_sites = _CallSites(())  # the steps of shared layers (called more than once)
        self._masking = False  # some layer may create a mask: forward runs _forward_masked
        self._masks = []  # that pass's mask per slot (None: no mask)
        self._out_masks = None  # the outputs' masks from the last masked forward pass

    # ---- graph -------------------------------------------------------------------------------

    def _init_functional(self, inputs, outputs):
        ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if not outs:
            raise ValueError("Model needs at least one output tensor. Received: outputs=[]")
        if not ins:
            raise ValueError("Model needs at least one input tensor from fastnn.layers.Input(). Received: inputs=[]")
        cut = {}  # id(an intermediate tensor given as an input) -> the Input that stands at it
        for x in ins:
            if not isinstance(x, KerasTensor) or x.node is None:
                raise ValueError(f"Model inputs must be tensors from fastnn.layers.Input(). Received: inputs={x!r}")
            if not isinstance(x.node.layer, InputLayer):
                # Keras 3's clone_graph_nodes: a fresh Input at a layer's output (a decoder cut out of an
                # autoencoder, keras.Model(ae.get_layer("code").output, ae.output)); the layers before it
                # are not part of this model
                cut[id(x)] = Input(batch_shape=x.shape, dtype=x.dtype, name=utils.unique_name(f"{x.node.layer.name}_input"))
        if len({id(x) for x in ins}) != len(ins):
            raise ValueError("The same Input tensor is listed more than once in the model's inputs")
        for y in outs:
            if not isinstance(y, KerasTensor):
                raise ValueError(f"Model outputs must be tensors produced by calling layers. Received: outputs={y!r}")
        # an Input given back as an output (the functional guide's [layer.output for layer in model.layers]):
        # one identity step gives it its own slot
        given_inputs = {id(x) for x in ins}
        if any(id(y) in given_inputs for y in outs):
            from .layers.core import Identity

            outs = [Identity(name=utils.unique_name(f"{y.node.layer.name}_identity"))(y) if id(y) in given_inputs
                    else y for y in outs]
        if len({id(y) for y in outs}) != len(outs):
            raise ValueError("The same tensor is listed more than once in the model's outputs")
        # the layer calls the outputs and loss terms need, each after those it takes
        roots = [y.node for y in outs + self._added_losses + [t for _, t in self._added_metrics] if id(y) not in cut]
        order = post_order(roots, lambda node: [t.node for t in node.inputs if id(t) not in cut])
        # a model nested in this one runs whole, as Keras runs it as one layer: the outputs of its
        # calls that nothing here uses are computed too, and its weights are all this model's
        unused, calls = [], set()
        for node in order:
            owner = getattr(node, "nested_in", None)
            if owner is not None and owner is not self and (id(owner), node.nested_call_index) not in calls:
                calls.add((id(owner), node.nested_call_index))
                unused += owner.__dict__.get("_symbolic_outputs", {}).get(node.nested_call_index, [])
        placed = {id(node) for node in order}
        unused = [t.node for t in unused if id(t.node) not in placed and id(t) not in cut]
        if unused:
            order = post_order(unused + roots, lambda node: [t.node for t in node.inputs if id(t) not in cut])
        # slots 0 .. k-1 hold the k inputs, in the order given
        slot_of = {id(x): i for i, x in enumerate(ins)}
        input_nodes = {id(x.node) for x in ins if id(x) not in cut}
        shapes = [x.shape for x in ins]
        input_layers = [cut[id(x)].node.layer if id(x) in cut else x.node.layer for x in ins]
        steps, layers, seen, owners, nested_inputs, step_nodes = [], list(input_layers), set(), [], {}, []
        nested_outputs = {}
        for node in order:
            layer = node.layer
            if isinstance(layer, InputLayer):
                if id(node) not in input_nodes:
                    done = [l.name for l in layers]
                    raise ValueError(f"Graph disconnected: cannot obtain value for tensor {node.outputs[0]!r} at layer "
                                     f"'{layer.name}'. The following previous layers were accessed without issue: {done}")
                continue
            ins_slots = tuple(slot_of[id(t)] for t in node.inputs)
            out_slots = []
            for t in node.outputs:  # one slot per output
                slot_of[id(t)] = len(shapes)
                out_slots.append(len(shapes))
                shapes.append(t.shape)
            steps.append((layer, ins_slots, out_slots[0] if len(out_slots) == 1 else tuple(out_slots)))
            if id(layer) not in seen:  # a shared layer (called more than once) is listed once
                seen.add(id(layer))
                layers.append(layer)
            owner = getattr(node, "nested_in", None)
            owners.append(None if owner is self else owner)
            step_nodes.append(node)
            if hasattr(node, "nested_call"):
                inner, tensors = node.nested_call
                nested_inputs.setdefault(id(inner), {})[id(tensors)] = [slot_of[id(t)] for t in tensors]
                for t in node.outputs:  # (get_config: which output of which call of the nested model)
                    if hasattr(t, "nested_output_index"):
                        nested_outputs[slot_of[id(t)]] = (inner, t.nested_output_index,
                                                          [slot_of[id(x)] for x in tensors])
        # names are unique among the model's own layers and the models nested in it, as in Keras; a
        # nested model's layers were checked when it was built (the notes' InfoGAN has an Input
        # 'code1' and, inside its discriminator, an output layer 'code1')
        names = [l.name for l in input_layers]
        names += [l.name for l in dict.fromkeys(step[0] for step, owner in zip(steps, owners) if owner is None)]
        names += [m.name for m in dict.fromkeys(owners) if m is not None and m is not self]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"The name {dupes[0]!r} is used by more than one layer in model '{self.name}'. "
                             "All layer names should be unique.")
        for y in outs:
            if id(y) not in slot_of or slot_of[id(y)] < len(ins):
                raise ValueError(f"Model outputs must be tensors produced by calling layers. Received: outputs={y!r}")
        self.inputs, self.outputs = [cut.get(id(x), x) for x in ins], outs
        self._layers = layers
        self._finalize(steps, shapes, input_layers, [slot_of[id(y)] for y in outs],
                       [slot_of[id(t)] for t in self._added_losses])
        self._metric_slots = [(name, slot_of[id(t)]) for name, t in self._added_metrics]
        if self._metric_slots:  # (predict skips their steps too)
            self._prediction_steps = self._steps_needed(self._output_slots)
        self._step_owners, self._step_nodes = owners, step_nodes
        self._nested_inputs = {key: list(calls.values()) for key, calls in nested_inputs.items()}
        self._nested_outputs = nested_outputs
        # the steps whose call gave its own training flag (bn(x, training=False), base_model(x, training=False))
        self._step_training = {k: node.training for k, node in enumerate(step_nodes) if node.training is not None}

    def _finalize(self, steps, shapes, input_layers, output_slots=None, loss_slots=()):
        """Install the graph: steps ``(layer, input slots, output slot)`` in topological order over
        slots 0 .. k-1 for the k `input_layers`, then one per step output (a tuple of slots for a
        layer with several outputs, which returns a list and takes a list in backward). The outputs are
        ``output_slots`` (default: the last step's), and `add_loss` terms are at ``loss_slots``."""
        self._input_layers = list(input_layers)
        self._steps = [(layer, ins, out, layer._multi_input, None if layer.activity_regularizer is None
                        else regularizers.per_sample(layer.activity_regularizer)) for layer, ins, out in steps]
        self._nslots = len(shapes)
        self._vals = [None] * self._nslots
        self._slot_shapes = [tuple(s) for s in shapes]
        last = self._steps[-1][2] if self._steps else 0
        self._output_slots = list(output_slots) if output_slots else [last]
        self._output_slot = self._output_slots[0]
        self._output_step = next((k for k, step in enumerate(self._steps) if step[2] == self._output_slot), None)
        self._multi_output = len(self._output_slots) > 1
        self._loss_slots = list(loss_slots)
        self._prediction_steps = self._steps_needed(self._output_slots) if self._loss_slots else None
        self._fused = None
        # steps of a layer called more than once (shared weights): each call keeps its own state
        # between forward and backward (_CallSites)
        calls = {}
        for k, (layer, _, _, _, _) in enumerate(self._steps):
            calls.setdefault(id(layer), []).append(k)
        self._call_sites = _CallSites([k for ks in calls.values() if len(ks) > 1 for k in ks])
        self._masking = any(layer._creates_mask for layer, _, _, _, _ in self._steps)
        self._masks = [None] * self._nslots
        self._out_masks = None
        self._pool_fusion = self._find_conv_pool_pairs()
        # the steps of custom layers, whose call may add_loss (their backward includes its gradient)
        self._loss_adding_steps = {k for k, step in enumerate(self._steps)
                                   if hasattr(type(step[0]), "_call_on_arrays")}
        self._fused_pools = set(self._pool_fusion.values())
        # the steps of built-in layers that compute in floats: integer data from an integer Input
        # (or a layer giving ids) reaches them as floats, as a layer called on an array gets it
        # (`Layer._as_input`; Keras's Rescaling and Normalization cast so): 1/255 of uint8 pixels
        # is not 0
        self._float_steps = {k for k, (layer, _, _, _, _) in enumerate(self._steps)
                             if layer.input_dtype is None and not hasattr(type(layer), "_call_on_arrays")
                             and not layer._keeps_int_inputs and str(layer.dtype).startswith("float")}
        self.built = True
        self._update_grad_flags()

    def _steps_needed(self, slots):
        """The indices of the steps that the values at ``slots`` depend on, in order."""
        wanted, needed = set(slots), []
        for k in range(len(self._steps) - 1, -1, -1):
            _, ins, out, _, _ = self._steps[k]
            if not wanted.isdisjoint(_slots(out)):
                needed.append(k)
                wanted.update(ins)
        return needed[::-1]

    def _find_conv_pool_pairs(self):
        """{step of a convolution: step of the max pooling that alone consumes its output}.

        Such pairs (the course notes' Conv2D(relu) -> MaxPooling2D) run as one fused op: the
        convolution's full-size output and its gradient never leave the cache (for the notes' first
        layer, 128 x 26 x 26 x 64 floats = 22 MB per batch each way). A convolution whose output is
        the model's, feeds anything else, or carries an activity regularizer (or whose pooling
        does) is left alone.
        """
        from .layers.conv import _Conv
        from .layers.pooling import _Pooling

        consumers = {}
        for j, (_, ins, _, _, _) in enumerate(self._steps):
            for i in ins:
                consumers.setdefault(i, []).append(j)
        pairs = {}
        for i, (layer, _, out, _, areg) in enumerate(self._steps):
            users = consumers.get(out, [])
            if not isinstance(layer, _Conv) or areg is not None or out in self._output_slots \
                    or out in self._loss_slots or len(users) != 1 or i in self._call_sites.steps \
                    or users[0] in self._call_sites.steps or self._steps[users[0]][4] is not None:
                continue
            pool = self._steps[users[0]][0]
            if isinstance(pool, _Pooling) and pool.kind == "max" and pool.rank == layer.rank \
                    and layer._act != "softmax" and layer._unfused is None:
                pairs[i] = users[0]
        return pairs

    def _update_grad_flags(self):
        """Tell each layer whether backward must return its input gradient: only when some layer
        upstream of it has trainable weights (a first layer, or layers after a frozen or
        weightless prefix such as Flatten, skip that product; PERFORMANCE.md)."""
        needs = [False] * self._nslots
        shared = set()  # a shared layer computes its input gradient if any of its calls needs it
        for k, (layer, ins, out, _, _) in enumerate(self._steps):
            need = any(needs[i] for i in ins)
            if k in self._call_sites.steps and id(layer) in shared:
                layer._need_input_grad |= need
            else:
                layer._need_input_grad = need
                shared.add(id(layer))
            for o in _slots(out):
                needs[o] = need or bool(layer.trainable_weights)

    @property
    def layers(self):
        """The model's layers in order, as Keras lists them: a functional model's list starts with
        its InputLayers, and a model nested in it is one entry (``adversarial.layers`` is
        ``[z_input, generator, discriminator]``). `_all_layers` has every layer."""
        if self._subclassed or self._holder:  # (Keras's: the layers and models it holds, in assignment order)
            return [value for _, value in _held(self, self._state_attrs | {"_eager_call"},
                                                lambda v: isinstance(v, (Layer, Model)), lambda v: None)]
        return _keras_layer_order(self)

    @property
    def _all_layers(self):
        """Every layer the model runs, nested models' layers included, in order (a model without
        call(): the layers and models it holds as attributes)."""
        if self._holder or (self._subclassed and not self.built):
            # (a subclass not traced yet: the ones it holds, so a trainer that calls only the model
            # it holds trains its weights, as Keras tracks a layer's attributes)
            return [layer for _, layer in sublayers(self, skip=self._state_attrs)]
        if self._subclassed:  # (and the layers it holds that call() does not use: a distiller's teacher,
            # a head that only a custom train_step applies; Keras tracks every layer held)
            traced = dict.fromkeys(self._layers)
            return list(traced) + [layer for _, layer in sublayers(self, skip=self._state_attrs | {"_eager_call"})
                                   if layer not in traced]
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` (also a nested model's name) or by ``index`` into `layers`."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has {len(layers)} layers.")
            return layers[index]
        # the model's own layers and nested models first (as Keras sees them), then theirs
        nested = [m for m in dict.fromkeys(self._step_owners) if m is not None]
        own = self._input_layers + [step[0] for step, owner in zip(self._steps, self._step_owners) if owner is None]
        for layer in own + nested + self._all_layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")

    @property
    def submodules(self):
        """Every layer the model runs or holds, and theirs, each once (TensorFlow's ``submodules``)."""
        return nested_layers(self._all_layers)

    @property
    def input(self):
        """The model's symbolic input (a list for several), as Keras's ``model.input``: with the
        layers' outputs it builds a model that shows what they compute."""
        self._require_built("input")
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self):
        """The model's symbolic output (a list for several)."""
        self._require_built("output")
        return self.outputs[0] if len(self.outputs) == 1 else list(self.outputs)

    @property
    def input_shape(self):
        """The input's shape with a None batch axis; a list of them for a model with several inputs."""
        self._require_built("input_shape")
        shapes = [layer.batch_shape for layer in self._input_layers]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        """The output's shape with a None batch axis; a list of them for a model with several outputs."""
        self._require_built("output_shape")
        shapes = [self._slot_shapes[s] for s in self._output_slots]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_names(self):
        """The names of the layers that produce the outputs, in order (Keras's per-output keys); the
        keys of a model built with a dict of outputs."""
        if self._output_keys is not None:
            return list(self._output_keys)
        producer = _slot_producers(self)
        # one layer giving several outputs (a Dense applied at each step, each its own output: the
        # Jazz and machine-translation models): "dense", "dense_1"..., as tf.keras 2 made them unique
        names, counts = [], {}
        for slot in self._output_slots:
            name = proposal = producer[slot]
            while proposal in names:
                counts[name] = counts.get(name, 1)
                proposal = f"{name}_{counts[name]}"
                counts[name] += 1
            names.append(proposal)
        return names

    @property
    def dtype(self):
        return self._dtype

    @property
    def _dtype(self):
        """The compute dtype (targets, sample weights): the output layer's."""
        return self._steps[-1][0].dtype if self._steps else utils.floatx()

    def _require_call(self, what):
        if self._holder:
            raise NotImplementedError(f"Model '{self.name}' ({type(self).__name__}) defines no call(), so it cannot "
                                      f"{what}. Define call(inputs), or use the models it holds")

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"This model has not yet been built (needed for {what}). Build the model first by calling "
                             "`build()` or by calling the model on a batch of data, or give the first layer an "
                             "`input_shape`.")

    def _ensure_built(self, data_shape, text=False, dtypes=None):
        """Build from the data's shape (a list of shapes for several inputs; ``dtypes``, the data's
        dtypes): a subclass traces call."""
        if not self.built and self._subclassed:
            shape = [(None,) + tuple(s[1:]) for s in data_shape] if isinstance(data_shape, list) \
                else (None,) + tuple(data_shape[1:])
            self._build_subclassed_from_data(shape, dtypes or [None] * len(_listed(shape)))
        if not self.built:
            raise ValueError("The model has no input shape")

    def _build_subclassed_from_data(self, shape, dtypes):
        """Keras runs a subclass's call on each batch as it comes; fastnn traces it once, so on the
        data's shape with its steps free: the axes between the batch and the features (all of an
        integer input's, token ids), so that batches of other lengths (``padded_batch``, bucketing)
        run the same graph. A call that needs them known (Flatten before Dense, Python arithmetic on
        ``x.shape[1]``) is traced on the data's shape."""
        shapes = _listed(shape)
        free = [s[:1] + (None,) * (len(s) - 1) if dtype is not None and np.dtype(dtype).kind in "iu" and len(s) == 2
                else s[:1] + (None,) * (len(s) - 2) + s[-1:] if len(s) > 2 else s for s, dtype in zip(shapes, dtypes)]
        # (a model it holds that is not built yet would keep the free shape a failed trace gave it)
        unbuilt = any(isinstance(m, Model) and not m.built for m in _held_layers(self))

        def trace():
            if free != shapes and not unbuilt:
                self._trace_only = True  # (a call that cannot be traced so is traced on the data's shape below)
                try:
                    self._build_subclassed(free if isinstance(shape, list) else free[0])
                    return
                except Exception:  # (traced again below, where its error, if any, is the user's to see)
                    self._eager_call = None
                    self.built = False
                finally:
                    del self._trace_only
            self._build_subclassed(shape)

        try:
            trace()  # on float Inputs: later float data is not cast to the first data's integer dtype
        except Exception:
            # a call that needs its integer input as integers (ids it gathers or segments by, keras.io's
            # GNN and GAT): traced on Inputs of the data's integer dtypes, as Keras runs call on the data
            if len(dtypes) != len(shapes) or not any(d is not None and np.dtype(d).kind in "iu" for d in dtypes):
                raise
            self._eager_call = None
            self.built = False
            self._data_dtypes = list(dtypes)  # (`build`'s Inputs)
            try:
                trace()
            finally:
                del self._data_dtypes

    def _build_subclassed(self, shape):
        self.build(shape)
        if not self.built:  # (a build() of its own that made layers without calling super().build(): Keras's
            Model.build(self, shape)  # models run call() anyway, so fastnn traces it)

    # ---- weights -----------------------------------------------------------------------------

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._all_layers:
            layer.trainable = value
        for nested in dict.fromkeys(self._step_owners):  # (the models nested in it, as Keras sets them too)
            if nested is not None and nested is not self:
                nested.trainable = value

    @property
    def weights(self):
        """All weights, layer by layer (each layer's trainable ones first), each once: a layer
        that a custom layer holds and the model also calls (tied weights) lists its weights once."""
        return _unique([w for layer in self._all_layers for w in layer.weights])

    @property
    def trainable_weights(self):
        return _unique([w for layer in self._all_layers for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return _unique([w for layer in self._all_layers for w in layer.non_trainable_weights if id(w) not in trainable])

    # Keras 3's other names for them (its weights are Variables; fastnn's are the arrays)
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """Copies of all weights, layer by layer, in Keras's layouts (each weight once, as `weights`)."""
        seen, copies = set(), []
        for layer in self._all_layers:
            for w, array in zip(layer.weights, layer.get_weights()):
                if id(w) not in seen:
                    seen.add(id(w))
                    copies.append(array)
        return copies

    def set_weights(self, weights):
        """Overwrite all weights from a list like `get_weights`'; checks every shape first."""
        weights = list(weights)
        expected = len(self.weights)
        if len(weights) != expected:
            raise ValueError(f"You called `set_weights(weights)` on model '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the model was expecting {expected} weights.")
        chunks, given, i = [], {}, 0  # (given: id(weight) -> its new value, for a weight two layers list)
        for layer in self._all_layers:
            chunk = []
            for w in layer.weights:
                if id(w) not in given:
                    given[id(w)], i = weights[i], i + 1
                new = given[id(w)]
                if np.shape(new) != w.shape:
                    raise ValueError(f"Layer '{layer.name}' weight shape {w.shape} is not compatible with provided "
                                     f"weight shape {np.shape(new)}.")
                chunk.append(new)
            chunks.append((layer, chunk))
        for layer, chunk in chunks:
            if chunk:
                layer.set_weights(chunk)

    def reset_states(self):
        """Zero the carried states of the model's stateful recurrent layers (Keras's
        ``model.reset_states()`` between independent sequences)."""
        for layer in self._all_layers:
            for sub in [layer, *layer._inner_layers()]:
                if getattr(sub, "stateful", False):
                    sub.reset_states()

    reset_state = reset_states  # Keras 3's name

    def count_params(self):
        """The number of values in all weights (also of a model never built itself whose layers
        were, inside another model: Sequential([generator, discriminator]))."""
        if not (self.built or (self._all_layers and all(layer.built for layer in self._all_layers))):
            self._require_built("count_params")
        return sum(int(np.prod(w.shape)) for w in self.weights)

    def add_weight(self, *args, **kwargs):
        """Keras's Model is a Layer: a weight of the subclassed model's own (``self.pi =
        self.add_weight(shape=[leaves, classes])``, keras.io's decision forest), a tf.Variable its
        call reads (such a call runs every step: `_EagerCall`); default initializer glorot_uniform.
        Arguments as `Layer.add_weight`'s."""
        from . import constraints, initializers

        name, shape, initializer, regularizer, trainable, dtype, constraint = weight_arguments(
            args, kwargs, f"Model '{self.name}': add_weight")
        shape = _weight_shape(shape, f"Model '{self.name}': add_weight {name!r}")
        dtype = _standardize_dtype(dtype)
        value = np.asarray(initializers.get(initializer if initializer is not None else "glorot_uniform")(shape, dtype),
                           dtype=dtype)
        variable = autodiff.Variable(value, trainable=trainable, name=name, constraint=constraints.get(constraint))
        variable._regularizer = regularizers.get(regularizer)  # (the layer that tracks it adds its penalty)
        return variable

    def add_loss(self, losses):
        """Add a loss term: a symbolic tensor computed from the model's tensors (``vae.add_loss(
        K.mean(reconstruction_loss + kl_loss))``), or a list of them. The sum of its values is
        added to the loss the model trains on (compile's loss, if any, plus these); its layers
        run in fit and evaluate, not in predict."""
        tensors = list(losses) if isinstance(losses, (list, tuple)) else [losses]
        if self.__dict__.get("_eager_call") is not None:  # in a call() run on the tape every step
            for t in tensors:
                self._eager_call.add_loss(t)
            return
        traced = self.__dict__.get("_traced_losses")
        for t in tensors:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"add_loss: expected a tensor computed from the model's layers (for example "
                                 f"K.mean(K.square(outputs - inputs))). Received: {type(t).__name__}")
        if traced is not None:  # in a subclass's call() being traced: the graph takes them once built
            traced.extend(tensors)
            return
        if isinstance(self, Sequential) or not self._input_layers:
            raise ValueError("add_loss: loss tensors are added to functional models, Model(inputs, outputs), and "
                             "by a subclassed model's call()")
        self._rebuilt_with("_added_losses", tensors, "add_loss: the loss tensor")

    def add_metric(self, value, name=None, aggregation="mean"):
        """tf.keras 2's ``model.add_metric(tensor, name=...)``: a symbolic tensor computed from the
        model's tensors, whose mean over each epoch's batches is logged as ``name`` (it trains
        nothing; its layers run in fit and evaluate, not in predict). In a call() run every step
        (`_traced_call`), a value or a metric's result (``self.add_metric(self.mean(x))``, which logs
        that metric), as a custom layer's."""
        if self.__dict__.get("_eager_call") is not None and not isinstance(value, KerasTensor):
            return self._eager_call.add_metric(value, name, aggregation)
        _check_added_metric(name, aggregation, "model.add_metric")
        if not isinstance(value, KerasTensor):
            raise ValueError(f"model.add_metric: expected a tensor computed from the model's layers. Received: "
                             f"{type(value).__name__}")
        if isinstance(self, Sequential) or not self._input_layers:
            raise ValueError("model.add_metric: metric tensors are added to functional models, Model(inputs, outputs)")
        self._rebuilt_with("_added_metrics", [(name, value)], "model.add_metric: the tensor")

    def _rebuilt_with(self, attr, added, what):
        """The graph rebuilt with ``added`` appended to the list ``attr`` (add_loss's or add_metric's
        tensors); unchanged, and a ValueError naming ``what``, when they are not computed from the inputs."""
        previous = getattr(self, attr)
        setattr(self, attr, previous + list(added))
        try:
            self._init_functional(self.inputs, self.outputs)
        except ValueError as e:
            setattr(self, attr, previous)
            self._init_functional(self.inputs, self.outputs)
            raise ValueError(f"{what} is not computed from model '{self.name}''s inputs: {e}") from None

    # ---- compile -----------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True,
                sample_weight_mode=None):
        """Configure training: an optimizer (name or instance), a loss and metrics.

        Args:
            optimizer: ``"sgd"``, ``"adam"``, ``"rmsprop"``, ``"adagrad"`` or an optimizer.
            loss: a loss name (``"categorical_crossentropy"``, ``"mse"``...), a `fastnn.losses`
                object, or a function ``fn(y_true, y_pred)`` of the ``fastnn.backend`` functions
                (differentiated by `fastnn.autodiff`). None for a model whose loss is what
                `add_loss` added; it then reads no targets (fit(x) or, as Keras, ignores y).
            metrics: a list of names (``"accuracy"``, ``"mse"``...) or metric objects.
            With several outputs: ``loss`` is one loss for all, a list (one per output) or a dict
            by output layer name; ``loss_weights`` (default all 1) a list or dict: the trained
            loss is their weighted sum; ``metrics`` a flat list (each metric on every output, as
            tf.keras does), a list of lists or a dict. Logs name them ``<output>_loss`` and
            ``<output>_<metric>``.
            sample_weight_mode: Keras 2's None or "temporal"; weights per step ((N, T) for an
                (N, T, C) output) are taken either way, as Keras 3 does.
            The other arguments exist for Keras compatibility and are ignored (weighted_metrics
            must be None, and loss_weights None for a model with one output).
        """
        optimizer_object = optimizers.get(optimizer)
        if self._subclassed and not self.built and not self._holder:
            # a subclass not traced yet: how many outputs it has is known once built (`build` compiles
            # it again then); a loss per output is taken as given until then, as Keras defers it
            self._pending_compile = {"optimizer": optimizer_object, "loss": loss, "loss_weights": loss_weights,
                                     "metrics": metrics, "weighted_metrics": weighted_metrics,
                                     "sample_weight_mode": sample_weight_mode}
            if isinstance(loss, (list, tuple, dict)) or loss_weights is not None or isinstance(metrics, dict):
                self.optimizer, self.loss = optimizer_object, loss
                self._loss, self._metrics, self._heads = None, [], None
                self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                                      "metrics": metrics}
                self.compiled = True
                return
        self._loss_weight = 1.0 if self._multi_output else \
            _single_loss_weight(loss_weights, self.output_names if isinstance(loss_weights, dict) else None)
        if weighted_metrics and (self._multi_output or loss is None):
            raise ValueError("compile: weighted_metrics are supported for a model with one output and a loss. "
                             f"Received: weighted_metrics={weighted_metrics!r}")
        self._weighted = set()
        if sample_weight_mode not in (None, "temporal"):
            raise ValueError(f"compile: sample_weight_mode must be None or 'temporal'. "
                             f"Received: sample_weight_mode={sample_weight_mode!r}")
        self.optimizer = optimizer_object
        self.loss = loss
        if loss is None and self._multi_output:  # the add_loss terms are the loss
            if metrics:
                raise ValueError("compile: a model with several outputs takes its metrics per output, with their losses. "
                                 f"Received: loss=None, metrics={metrics!r}")
            self._heads, self._loss, self._metrics = [], None, []
            self._compile_args = {"optimizer": optimizer, "loss": None, "metrics": []}
        elif self._multi_output:
            self._compile_heads(loss, loss_weights, metrics)
            self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                                  "metrics": metrics}
        else:
            if isinstance(loss, (list, tuple)) and len(loss) == 1:  # (one loss per output, for the one output)
                loss = loss[0]
            elif isinstance(loss, dict) and list(loss) == self.output_names:
                loss = loss[self.output_names[0]]
            self._loss = None if loss is None else _compiled_loss(loss)
            if metrics is None:
                metrics = []
            elif isinstance(metrics, dict):
                raise ValueError("compile: metrics must be a list (single-output models)")
            elif not isinstance(metrics, (list, tuple)):
                metrics = [metrics]
            kernel = self._loss.kernel if self._loss is not None else None
            self._metrics = [metrics_module.get(m, loss=kernel) for m in metrics]
            names = [m.name for m in self._metrics]
            if len(set(names)) != len(names) or "loss" in names:
                raise ValueError(f"compile: metric names must be unique and not 'loss'. Received: {names}")
            self._compile_args = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics)}
            if loss_weights is not None:
                self._compile_args["loss_weights"] = loss_weights
            if weighted_metrics:
                self._compile_weighted_metrics(weighted_metrics, kernel, names)
        self._fused = False if self._multi_output else None  # (fusing the output with the loss: one output)
        self._trainable_at_compile = [(layer, layer.trainable) for layer in self._all_layers]
        self.compiled = True
        self._warn_activation_before_logits()

    def _warn_activation_before_logits(self):
        """A loss ``from_logits=True`` on an output layer that already applies softmax or sigmoid
        applies it twice; Keras 3's TensorFlow backend warns so, and so does fastnn."""
        if not self.built or self._steps is None:
            return
        slots = self._output_slots if self._multi_output else [self._output_slot]
        losses = [head.loss for head in self._heads] if self._multi_output and self._heads else [self._loss]
        for slot, loss in zip(slots, losses):
            step = next((step for step in self._steps if slot in _slots(step[2])), None)
            activation = getattr(step[0], "_fusable_activation", None) if step is not None else None
            if loss is not None and getattr(loss, "from_logits", False) and activation in ("softmax", "sigmoid"):
                warnings.warn(f"compile: the loss '{loss.name}' has from_logits=True, but the output of layer "
                              f"'{step[0].name}' comes from a {activation} activation and thus does not represent "
                              f"logits: the {activation} is applied twice. Remove the layer's activation or use "
                              "from_logits=False", stacklevel=3)

    def _compile_heads(self, loss, loss_weights, metrics):
        """Per output: its loss object, weight and metrics (named ``<output>_<metric>``)."""
        names = self.output_names
        k = len(names)

        def per_output(value, what, default):
            if isinstance(value, dict):
                unknown = sorted(set(value) - set(names))
                if unknown:
                    raise ValueError(f"compile: {what} names unknown outputs {unknown}; the outputs are {names}")
                return [value.get(name, default) for name in names]
            if isinstance(value, (list, tuple)):
                if len(value) != k:
                    raise ValueError(f"compile: {what} must have one entry per output ({k}: {names}). "
                                     f"Received {len(value)}")
                return list(value)
            return [value] * k

        if loss is None:
            raise ValueError(f"compile: a model with {k} outputs needs a loss (one for all, a list or a dict)")
        losses = per_output(loss, "loss", None)
        if all(l is None for l in losses):  # (an output may go without one: not trained by the loss, as Keras)
            raise ValueError(f"compile: no output has a loss. Received: loss={loss!r} for outputs {names}")
        weights = per_output(1.0 if loss_weights is None else loss_weights, "loss_weights", 1.0)
        if metrics is None:
            metrics = []
        if isinstance(metrics, dict) or (isinstance(metrics, (list, tuple)) and metrics
                                         and all(isinstance(m, (list, tuple)) or m is None for m in metrics)):
            per = per_output(metrics, "metrics", [])
        else:  # a flat list: every metric on every output
            per = [list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]] * k
        self._heads = []
        for name, l, w, ms in zip(names, losses, weights, per):
            loss_obj = _compiled_loss(l) if l is not None else None
            objs = []
            # an output's metrics: a list, or one metric ({"out": "accuracy"}, as Keras takes it)
            for m in (ms if isinstance(ms, (list, tuple)) else [ms] if ms is not None else []):
                obj = metrics_module.get(copy.deepcopy(m) if isinstance(m, metrics_module.Metric) else m,
                                         loss=loss_obj.kernel if loss_obj is not None else None)
                obj.name = f"{name}_{obj.name}"
                objs.append(obj)
            if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
                raise ValueError(f"compile: loss_weights must be numbers. Received: {w!r} for output '{name}'")
            self._heads.append(_Head(name, loss_obj, float(w), objs))
        self._loss = next(head.loss for head in self._heads if head.loss is not None)  # "compiled with a loss"
        self._metrics = [m for head in self._heads for m in head.metrics]
        all_names = self.metrics_names
        if len(set(all_names)) != len(all_names):
            raise ValueError(f"compile: metric names must be unique. Received: {all_names}")

    @property
    def metrics_names(self):
        heads = [f"{head.name}_loss" for head in self._heads if head.loss is not None] \
            if self._heads and self._multi_output else []
        return ["loss"] + heads + [m.name for m in self._metrics]

    def _check_compiled(self, fn):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before calling `{fn}()`.")
        if self._loss is None and not self._loss_slots and not self._loss_adding_steps \
                and "_pending_compile" not in self.__dict__:  # (a subclass compiled before its trace: built first)
            raise ValueError(f"No loss to compute. Provide a `loss` argument in `compile()` before calling `{fn}()`.")
        if self._loss is None and self._metrics:
            raise ValueError(f"{fn}: metrics compare the outputs with targets, which a model compiled without a loss "
                             "(its loss is what add_loss added) does not take; a subclass with its own compute_loss "
                             f"or train_step updates them. Received: metrics={[m.name for m in self._metrics]}")

    def _fusion(self):
        """'softmax' / 'sigmoid' when the output activation folds into the cross-entropy, else False."""
        layer = self._steps[self._output_step][0] if self._output_step is not None else None
        key = None if layer is None else layer._fusable_activation
        if self._fused is None or (not self._multi_output and self.__dict__.get("_fused_for", key) != key):
            # (again when the output layer's activation was assigned since: Grad-CAM's activation = None)
            self._fused_for = key
            self._fused = False
            loss = self._loss
            # the output's gradient must come from the loss alone (not also from add_loss terms)
            feeds_others = any(self._output_slot in ins for _, ins, _, _, _ in self._steps)
            if layer is not None and loss is not None and not self._multi_output and not loss.from_logits \
                    and getattr(loss, "ignore_class", None) is None \
                    and layer.activity_regularizer is None and not feeds_others \
                    and self._output_step not in self._call_sites.steps \
                    and len(self._slot_shapes[self._output_slot]) == 2:
                act = layer._fusable_activation
                if act == "softmax" and loss.kernel in _CE_SOFTMAX:
                    self._fused = "softmax"
                elif act == "sigmoid" and loss.kernel == "binary_crossentropy":
                    self._fused = "sigmoid"
        return self._fused

    # ---- data checks -------------------------------------------------------------------------

    def _input_arrays(self, x, fn):
        """``x`` as a list of arrays, one per model input: an array for a one-input model; a list
        (or a dict by Input name) of arrays for several."""
        k = max(1, len(self._input_layers))
        if self._subclassed and not self.built and isinstance(x, (list, tuple)) and x \
                and all(isinstance(a, np.ndarray) for a in x):
            k = len(x)  # a subclass not traced yet: as many inputs as arrays given
        if self._subclassed and not self.built and isinstance(x, dict) and x and self._input_keys is None:
            self._input_keys = list(x)  # (and called on a dict: its call takes the dict, as Chollet's ticket model)
            k = len(x)
        names = self._input_keys or [layer.name for layer in self._input_layers]
        if isinstance(x, dict):
            # (keys no input takes are left out, as tf.keras 2 and Keras 3 do: the TF structured-data
            # tutorial's feature dicts also hold the 'target' column)
            missing = [name for name in names if name not in x]
            if missing:
                raise ValueError(f"{fn}: a dict `x` must hold one array per model input, keyed by the Input names "
                                 f"{names}. Missing: {missing}. Received keys: {sorted(x, key=str)}")
            x = [x[name] for name in names]
        if k == 1:
            if isinstance(x, (list, tuple)) and len(x) > 1 and all(isinstance(a, np.ndarray) for a in x):
                raise ValueError(f"{fn}: model '{self.name}' has one input, but `x` is a list of {len(x)} arrays")
            return [_as_array(x, "x", fn)]
        if not isinstance(x, (list, tuple)) or len(x) != k:
            got = f"a list of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
            raise ValueError(f"{fn}: model '{self.name}' has {k} inputs {names}; pass `x` as a list of {k} arrays in "
                             f"that order (or a dict by name). Received: {got}")
        return [_as_array(a, f"x[{i}]", fn) for i, a in enumerate(x)]

    def _prepare_x(self, x, fn):
        """The checked input arrays (a list, one per model input), contiguous in the inputs' dtypes."""
        xs = self._input_arrays(x, fn)
        sizes = [len(a) for a in xs]
        # (a call runs on the tensors as given, as Keras's: a graph model's nodes (N, F) and edges (E, 2);
        # fit, evaluate and predict cut batches of samples from every input)
        if len(set(sizes)) > 1 and fn != "__call__":
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of samples. "
                             f"'x' sizes: {', '.join(map(str, sizes))}")
        if sizes[0] == 0:
            raise ValueError(f"{fn}: `x` is empty (0 samples)")
        if self.built:
            self._check_batch_axis(xs, fn)
        self._ensure_built(xs[0].shape if len(xs) == 1 else [a.shape for a in xs],
                           text=len(xs) == 1 and xs[0].dtype.kind in "USO", dtypes=[a.dtype for a in xs])
        if get_backend() == "cpp" and any(layer.dtype == "float64" for layer in self._layers):
            raise ValueError(f"{fn}: model '{self.name}' has float64 layers, but the C++ kernels compute in float32. "
                             "Run float64 models on the NumPy backend (with fastnn.backend('numpy'): ...), or build "
                             "the model in float32 (the default, fastnn.utils.set_floatx('float32')).")
        if (self._subclassed and not self._holder or self.__dict__.get("_input_from_data")) \
                and len(xs) == len(self._input_layers) and any(
                    len(a.shape) == len(l.batch_shape) and any(e is not None and e != d for e, d in
                                                               zip(l.batch_shape[1:], a.shape[1:]))
                    for a, l in zip(xs, self._input_layers)):
            # a subclass traced on data of other steps (a text model fit on 100-step batches, then run on
            # a 6-step prompt): traced again on these, as Keras runs a subclass's call on any shape
            shapes = [(None,) + tuple(a.shape[1:]) for a in xs]
            if self._subclassed:
                self.built = False
                self._build_subclassed_from_data(shapes if len(xs) > 1 else shapes[0], [a.dtype for a in xs])
            else:  # (a Sequential built by its first data, with no Input of the user's: as Keras calls its layers)
                previous = self._input_layer
                self._input_layer = InputLayer(batch_shape=shapes[0], dtype=previous.dtype)
                try:
                    self._rebuild()
                except ValueError:  # (its layers do not take this shape: as it was, and the check below says so)
                    self._input_layer = previous
                    self._rebuild()
        xs = [_input_array(_adjust_rank(a, layer), layer, i, fn)
              for i, (a, layer) in enumerate(zip(xs, self._input_layers))]
        self._check_data_shape([a.shape for a in xs])
        return xs

    def _check_batch_axis(self, xs, fn):
        """One sample given without its batch axis (``predict(image)`` for ``predict(image[None])``,
        the commonest beginner's mistake): said so, where an inner layer would report a shape the
        data never had."""
        def fits(shape, expected):
            return len(shape) == len(expected) and all(e is None or e == d for e, d in zip(expected, shape))

        for i, (a, layer) in enumerate(zip(xs, self._input_layers)):
            expected = tuple(layer.batch_shape)
            if not fits(_adjust_rank(a, layer).shape[1:], expected[1:]) and fits(a.shape, expected[1:]):
                raise ValueError(f"{fn}: model '{self.name}' takes a batch of samples of shape {_shape_str(expected)}; "
                                 f"`x`{f'[{i}]' if len(xs) > 1 else ''} has shape {_shape_str(a.shape)}, one sample "
                                 f"without the batch axis. Pass x[None] (np.expand_dims(x, 0)) for one sample (a dataset of "
                                 "samples: batch it, ds.batch(32))")

    def _check_data_shape(self, data_shapes):
        """Propagate the data's shapes (one per input) through the graph, checking each layer's input spec."""
        shapes = [None] * self._nslots
        for i, shape in enumerate(data_shapes):  # (the batch axis as the Input gives it: Input(batch_size=8))
            batch = self._input_layers[i].batch_shape[0] if i < len(self._input_layers) else None
            shapes[i] = (batch,) + tuple(shape[1:])

        def check_inputs():
            for i, layer in enumerate(self._input_layers):
                expected, shape = layer.batch_shape, shapes[i]
                if len(shape) != len(expected) or any(e is not None and e != d
                                                      for e, d in zip(expected[1:], shape[1:])):
                    raise ValueError(f"Input {i} of model '{self.name}' is incompatible with the model: expected "
                                     f"shape {_shape_str(expected)}, found {_shape_str(shape)}")

        # several inputs: say first which one is wrong; one: the first layer's message, as Keras gives
        several = len(data_shapes) > 1
        if several:
            check_inputs()
        for layer, ins, out, multi, _ in self._steps:
            s = [shapes[i] for i in ins] if multi else shapes[ins[0]]
            if layer._multi_input is not multi:
                layer._multi_input = multi
            layer._check_input(s)
            got = layer.compute_output_shape(s)
            for o, shape in zip(_slots(out), got if type(out) is tuple else [got]):
                shapes[o] = tuple(shape)
        if not several:
            check_inputs()

    def _prepare_y(self, y, n, fn, out_shapes=None):
        """The checked targets: an array, or with several outputs a list of arrays, one per output
        (given as a list in the outputs' order or a dict by output layer name); checked against
        ``out_shapes`` (one per output) when given, else the model's output shapes."""
        if self._loss is None:  # the add_loss terms are the whole loss: targets, if given, are not read (Keras)
            return None
        shapes = out_shapes or [self._slot_shapes[slot] for slot in self._output_slots]
        if not self._multi_output:
            return self._prepare_one_y(y, n, fn, self._loss.kernel, shapes[0], "y",
                                       getattr(self._loss, "ignore_class", None))
        names = self.output_names
        if isinstance(y, dict):
            # (an output without a loss needs no target)
            wanted = [name for name, head in zip(names, self._heads) if head.loss is not None]
            if not set(wanted) <= set(y) or not set(y) <= set(names):
                raise ValueError(f"{fn}: a dict `y` must hold one array per model output with a loss, keyed by the "
                                 f"output names {wanted}. Received keys: {sorted(y, key=str)}")
            y = [y.get(name) for name in names]
        with_loss = [i for i, head in enumerate(self._heads) if head.loss is not None]
        if len(with_loss) < len(names) and (len(with_loss) == 1 and not isinstance(y, (list, tuple))
                                            or isinstance(y, (list, tuple)) and len(y) == len(with_loss)):
            # targets for the outputs with a loss only (compile(loss=[fn, None]); Keras 3's "loss
            # partially defined over y_pred"), in their order
            given = iter([y] if not isinstance(y, (list, tuple)) else y)
            y = [next(given) if i in with_loss else None for i in range(len(names))]
        if not isinstance(y, (list, tuple)) or len(y) != len(names):
            got = f"a list of {len(y)}" if isinstance(y, (list, tuple)) else type(y).__name__
            raise ValueError(f"{fn}: model '{self.name}' has {len(names)} outputs {names}; pass `y` as a list of "
                             f"{len(names)} arrays in that order (or a dict by name). Received: {got}")
        return [self._prepare_one_y(a, n, fn, head.loss.kernel, shape, f"y[{i}]",
                                    getattr(head.loss, "ignore_class", None)) if head.loss is not None else None
                for i, (a, head, shape) in enumerate(zip(y, self._heads, shapes))]

    def _prepare_one_y(self, y, n, fn, kernel, out_shape, name, ignore_class=None):
        y = _as_array(y, name, fn)
        if y.dtype.kind in "USO" and kernel is not None:
            first = y.reshape(-1)[0] if y.size else ""
            raise TypeError(f"{fn}: `{name}` holds strings (such as {str(first)!r}); the loss {kernel} needs numbers. Map the "
                            "labels to integers first (keras.layers.StringLookup, or a dict of class names)")
        if len(y) != n:
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of samples. "
                             f"'x' sizes: {n} '{name}' sizes: {len(y)}")
        units = out_shape[-1]
        if kernel == "sparse_categorical_crossentropy":
            steps = tuple(out_shape[1:-1])  # a sequence of class scores: one label per step
            rest = y.shape[1:-1] if len(y.shape) == len(steps) + 2 and y.shape[-1] == 1 else y.shape[1:]
            if len(rest) != len(steps) or any(s is not None and s != d for s, d in zip(steps, rest)):
                want = "(N,) or (N, 1)" if not steps else f"(N, {', '.join(map(str, steps))}) (one label per step)"
                hint = (" They look one-hot encoded: use loss='categorical_crossentropy'."
                        if y.ndim >= 2 and y.shape[-1] == units and units != 1 else
                        f" The model gives {_shape_str(steps)} predictions per sample: a Dense on unflattened inputs "
                        "(add Flatten() before it), or a recurrent layer with return_sequences=True before the last "
                        "layer." if steps and y.ndim == 1 else "")
                raise ValueError(f"{fn}: sparse_categorical_crossentropy expects integer class labels of shape {want}. "
                                 f"Received: y.shape={y.shape}.{hint}")
            if y.dtype.kind == "f" and not np.all(y == np.floor(y)):
                raise ValueError(f"{fn}: sparse_categorical_crossentropy expects integer class labels. Received "
                                 f"non-integer values such as {y[np.flatnonzero(y != np.floor(y))[0]]}")
            counted = y if ignore_class is None else y[y != ignore_class]  # (the loss's ignore_class: any value)
            lo, hi = (counted.min(), counted.max()) if counted.size else (0, 0)
            if units is not None and (lo < 0 or hi >= units):
                raise ValueError(f"{fn}: sparse_categorical_crossentropy expects labels in [0, {units}) for a model "
                                 f"with {units} outputs. Received: labels from {lo} to {hi}.")
            # (the metrics get the labels as given, (N, 1) too, as Keras gives them: a user's metric may
            # compare them with argmax(y_pred) reshaped to (-1, 1))
            self.__dict__.setdefault("_given_target_shapes", {})[name] = tuple(y.shape[1:])
            return np.ascontiguousarray(y.reshape((len(y),) + tuple(rest)), dtype=np.int64)
        per_sample = math.prod(out_shape[1:]) if None not in out_shape[1:] else None
        if kernel == "categorical_crossentropy":
            if y.ndim != len(out_shape) or any(s is not None and s != d for s, d in zip(out_shape[1:], y.shape[1:])):
                hint = ""
                if (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)) and units and units > 1:
                    hint = (" Integer labels need loss='sparse_categorical_crossentropy' (or "
                            f"fastnn.utils.to_categorical(y, {units})).")
                elif len(out_shape) > 2 and y.ndim == 2 and y.shape[1] == units:
                    hint = (f" The model gives {_shape_str(out_shape[1:-1])} of them per sample: a Dense on unflattened "
                            "inputs (add Flatten() before it), or a recurrent layer with return_sequences=True "
                            "before the last layer.")
                want = f"(N, {', '.join(str(d) for d in out_shape[1:])})"
                raise ValueError(f"{fn}: categorical_crossentropy expects one-hot targets of shape {want} matching "
                                 f"the model's output {_shape_str(out_shape)}. Received: y.shape={y.shape}.{hint}")
        elif kernel is not None and per_sample is not None and math.prod(y.shape[1:]) != per_sample:
            raise ValueError(f"{fn}: the targets do not fit the model's output: {kernel} needs {per_sample} values per "
                             f"sample like the output {_shape_str(out_shape)}. Received: y.shape={y.shape}")
        if kernel == "binary_crossentropy" and y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{fn}: binary_crossentropy expects targets in [0, 1]. Received values from {y.min()} to "
                             f"{y.max()}")
        return np.ascontiguousarray(y, dtype=self._dtype)

    def _prepare_weights(self, sample_weight, n, fn, output=None):
        """None, one weight per sample (n,) — or per step (n, T) for an output with a time axis
        (N, T, C), as Keras 3 takes them (Keras 2's sample_weight_mode="temporal") — or with several
        outputs a list (or a dict by output name) of them, one per output (entries may be None); an
        array applies to every output."""
        if self._multi_output and isinstance(sample_weight, (list, tuple, dict)):
            names = self.output_names
            if isinstance(sample_weight, dict):
                unknown = sorted(set(sample_weight) - set(names), key=str)
                if unknown:
                    raise ValueError(f"{fn}: sample_weight names unknown outputs {unknown}; the outputs are {names}")
                sample_weight = [sample_weight.get(name) for name in names]
            if len(sample_weight) != len(names):
                raise ValueError(f"{fn}: sample_weight must be one array for all outputs or one per output "
                                 f"({len(names)}: {names}). Received a list of {len(sample_weight)}")
            return [None if w is None else self._prepare_weights(np.asarray(w), n, fn, k)
                    for k, w in enumerate(sample_weight)]
        if sample_weight is None:
            return None
        if self._loss is None:
            raise ValueError(f"{fn}: sample_weight weighs the compiled loss's samples; model '{self.name}' was "
                             "compiled without a loss (only add_loss terms)")
        w = _as_array(sample_weight, "sample_weight", fn)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w.reshape(-1)
        outs = [self._slot_shapes[s] for s in self._output_slots]
        shape = outs[output if output is not None else 0]

        def per_value(o, w):  # a weight per step (n, T) or per pixel (n, H, W): the output's shape less its last axis
            inner = tuple(o[1:-1])
            return len(w) == n and w.ndim == len(inner) + 1 and all(d is None or d == e for d, e in zip(inner, w.shape[1:]))

        if w.ndim >= 3 and w.shape[-1] == 1 and per_value(shape, w[..., 0]):  # (the masks' (n, H, W, 1) layout)
            w = w[..., 0]
        per_step = w.ndim >= 2 and per_value(shape, w) and (output is not None or all(per_value(o, w) for o in outs))
        if w.shape != (n,) and not per_step:
            inner = ", ".join("None" if d is None else str(d) for d in shape[1:-1])
            steps = f" or ({n}, {inner}), one per step or pixel," if len(shape) >= 3 else ""
            raise ValueError(f"{fn}: sample_weight must have shape ({n},), one weight per sample{steps}. "
                             f"Received: sample_weight.shape={w.shape}")
        return np.ascontiguousarray(w, dtype=self._dtype)

    def _class_weights(self, y, class_weight, fn):
        if y is None:
            raise ValueError(f"{fn}: class_weight needs targets; model '{self.name}' takes none (compiled without a "
                             "loss)")
        if self._multi_output:
            raise ValueError(f"{fn}: class_weight is not supported for a model with several outputs; pass "
                             "sample_weight instead")
        if not isinstance(class_weight, dict) or not class_weight:
            raise ValueError(f"{fn}: class_weight must be a non-empty dict {{class index: weight}}. "
                             f"Received: {class_weight!r}")
        if not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight):
            raise ValueError(f"{fn}: class_weight keys must be class indices (ints). Received: {list(class_weight)!r}")
        keys = np.array([int(k) for k in class_weight], dtype=np.int64)
        if keys.min() < 0:
            raise ValueError(f"{fn}: class_weight keys must be class indices >= 0. Received: {sorted(class_weight)}")
        # each target's class: its id (a weight per sample, or per step or pixel of a sequence or
        # image of ids, as Keras 3 gathers them), or the arg-max of its one-hot last axis
        # (a model that holds others has no output shape of its own: a 2-D target is one-hot, as tf.keras 2 read it)
        units = self._slot_shapes[self._output_slot][-1] if self._slot_shapes else y.shape[-1] if y.ndim == 2 else None
        if y.ndim >= 2 and y.shape[-1] == units and units not in (None, 1):
            labels = np.argmax(y, axis=-1)
        else:
            labels = np.rint(y[..., 0] if y.ndim >= 2 and y.shape[-1] == 1 else y).astype(np.int64)
        table = np.ones(max(int(keys.max()), int(labels.max(initial=0))) + 1, dtype=np.float64)
        table[keys] = [float(v) for v in class_weight.values()]
        return table[labels].astype(self._dtype)

    # ---- the step ----------------------------------------------------------------------------

    def _forward(self, x, training, losses=True):
        """The output for ``x``: the list of input arrays (or the one input's array). ``losses``:
        also compute the `add_loss` terms (predict does not)."""
        vals, steps, fusion = self._vals, self._steps, self._pool_fusion
        if isinstance(x, list):
            vals[:len(x)] = x
        else:
            vals[0] = x
        order = range(len(steps)) if losses or self._prediction_steps is None else self._prediction_steps
        if self._masking:
            return self._forward_masked(order, training, losses)
        sites = self._call_sites
        activity = 0.0
        for k in order:
            layer, ins, out, multi, areg = steps[k]
            if layer._multi_input is not multi:  # (a recurrent layer last called eagerly with initial states)
                layer._multi_input = multi
            if k in fusion:  # convolution + max pooling in one op, straight into the pooling's slot
                pool = steps[fusion[k]]
                vals[pool[2]] = layer.call_pooled(vals[ins[0]], pool[0])
                continue
            if k in self._fused_pools:  # the pooling half of a fused pair: already done
                continue
            t = self._step_training.get(k, layer._training_default if training is None else training)
            x = [vals[i] for i in ins] if multi else vals[ins[0]]
            v = layer.call(_as_float(x, layer.dtype) if k in self._float_steps else x, training=t)
            if type(out) is tuple:  # several outputs
                for o, value in zip(out, v):
                    vals[o] = value
                v = v[0]
            else:
                vals[out] = v
            if k in sites.steps:
                sites.keep(k, layer)
            if areg is not None:
                activity += areg(v)
            if k in self._loss_adding_steps:  # a custom layer's add_loss terms of this call
                activity += layer._added_loss
        return self._forward_result(activity, losses)

    def _forward_result(self, activity, losses):
        """The end of a forward pass: keep the activity penalty (with what custom layers gave their
        add_loss: `_loss_adding_steps`) and the add_loss terms' values, return the output (a list
        with several)."""
        vals = self._vals
        self._activity_loss = activity
        self._added_loss_values = [vals[s] for s in self._loss_slots] if losses else []
        if self._multi_output:
            return [vals[s] for s in self._output_slots]
        return vals[self._output_slot]

    def _forward_masked(self, order, training, losses):
        """`_forward`'s loop, also carrying each slot's mask: a layer gets its input's mask in
        ``call`` when its call takes one (a list for a merge layer, None when no input has one),
        and its output's mask is its ``compute_mask`` when it supports masking, else None."""
        vals, steps, fusion, masks, sites = self._vals, self._steps, self._pool_fusion, self._masks, self._call_sites
        for i in range(len(self._input_layers)):
            masks[i] = None
        activity = 0.0
        for k in order:
            layer, ins, out, multi, areg = steps[k]
            if layer._multi_input is not multi:  # (a recurrent layer last called eagerly with initial states)
                layer._multi_input = multi
            if k in fusion:  # convolution + max pooling: neither carries a mask
                pool = steps[fusion[k]]
                vals[pool[2]] = layer.call_pooled(vals[ins[0]], pool[0])
                masks[out] = masks[pool[2]] = None
                continue
            if k in self._fused_pools:
                continue
            if multi:
                x, mask = [vals[i] for i in ins], [masks[i] for i in ins]
                if all(m is None for m in mask):
                    mask = None
            else:
                x, mask = vals[ins[0]], masks[ins[0]]
            if k in self._float_steps:
                x = _as_float(x, layer.dtype)
            t = self._step_training.get(k, layer._training_default if training is None else training)
            if mask is not None and (layer._call_takes_mask or layer._takes_input_masks):
                v = layer.call(x, training=t, mask=mask)
            else:
                v = layer.call(x, training=t)
            # (a custom layer's output keeps the mask its last inner layer gave it, as in Keras: a
            # Transformer's self-attention block passes its input's padding mask on)
            m = layer.compute_mask(x, mask) if layer.supports_masking else \
                layer.__dict__.get("_carried_mask") if layer._takes_input_masks else None
            if type(out) is tuple:  # several outputs: compute_mask's list gives each its own (one mask: the first's)
                each = list(m) if isinstance(m, (list, tuple)) else [m]
                for i, (o, value) in enumerate(zip(out, v)):
                    mi = each[i] if i < len(each) else None
                    vals[o] = value
                    masks[o] = None if mi is None else check_mask(mi, np.shape(value), layer,
                                                                  f"output {i}'s mask (compute_mask)")
                v = v[0]
            else:
                vals[out] = v
                if isinstance(m, (list, tuple)):  # (one output, a mask per input: the first's, as Keras zips them)
                    m = m[0] if m else None
                masks[out] = None if m is None else check_mask(m, np.shape(v), layer,
                                                               "the output's mask (compute_mask)")
            if k in sites.steps:
                sites.keep(k, layer)
            if areg is not None:
                activity += areg(v)
            if k in self._loss_adding_steps:  # a custom layer's add_loss terms of this call
                activity += layer._added_loss
        self._out_masks = [masks[s] for s in self._output_slots]
        if all(m is None for m in self._out_masks):
            self._out_masks = None
        return self._forward_result(activity, losses)

    def _fold_mask(self, sw, out, k, scale):
        """Output ``k``'s sample weights with its mask from the last forward pass folded in, as
        Keras 3's ``apply_mask``: ``sw`` (None, (N,) or (N, T)) times the mask, a weight per step
        ((N, T) for an (N, T, C) output). ``scale`` (the loss, a mean over all the steps)
        multiplies them by steps / unmasked steps, so that the loss is the mean over the
        unmasked ones (0 when every step is masked); the metrics take them unscaled."""
        mask = self._out_masks[k]
        if mask is None:
            return sw
        shape = np.shape(out)
        if mask.shape != shape[:-1]:
            raise ValueError(f"Model '{self.name}': output '{self.output_names[k]}' of shape {_shape_str(shape)} "
                             f"carries a mask of shape {_shape_str(mask.shape)}; the loss and metrics of a masked "
                             f"output need a mask of its shape without the last axis, {_shape_str(shape[:-1])}")
        w = mask.astype(self._dtype)
        if scale:
            valid = np.count_nonzero(mask)
            w *= w.size / valid if valid else 0.0
        if sw is not None:
            sw = np.asarray(sw, dtype=self._dtype)
            w *= sw.reshape(sw.shape + (1,) * (w.ndim - sw.ndim))
        return w

    def _backward(self, dy, fused):
        vals, steps = self._vals, self._steps
        for layer in self._layers:  # (a layer the loss does not reach keeps none: its weights get zeros)
            if layer._weights:
                layer._gradients = None
        grads = [None] * self._nslots
        seeds = list(zip(self._output_slots, dy)) if self._multi_output else [(self._output_slot, dy)]
        # each add_loss term adds the sum of its values to the loss
        seeds += [(slot, np.ones_like(vals[slot])) for slot in self._loss_slots]
        for slot, d in seeds:
            if d is not None:
                grads[slot] = d if grads[slot] is None else grads[slot] + d
        inputs = len(self._input_layers)
        sites = self._call_sites
        sites.start_backward()
        for i in range(len(steps) - 1, -1, -1):
            layer, ins, out, multi, areg = steps[i]
            if type(out) is tuple:  # several outputs: backward takes their gradients as a list
                g = [grads[o] for o in out]
                if all(d is None for d in g):
                    continue
                for o in out:
                    grads[o] = None
                if areg is not None and g[0] is not None:
                    g[0] = g[0] + areg.gradient(vals[out[0]])
                areg = None
            else:
                g = grads[out]
                if g is None and i in self._loss_adding_steps and layer.__dict__.get("_adds_loss"):
                    g = np.zeros_like(vals[out])  # (its add_loss terms alone reach the loss)
                if g is None:
                    continue
                grads[out] = None
            if not layer._need_input_grad and not layer.trainable_weights:
                continue  # frozen, and nothing upstream learns: its backward would compute nothing used
            if i in self._fused_pools:  # its convolution takes the pooled gradient
                grads[ins[0]] = g
                continue
            if i in self._pool_fusion:
                dx = layer.backward_pooled(g)
            elif i == self._output_step and fused:
                dx = layer.backward_from_logits(g)
            elif i in sites.steps:  # a shared layer: this call's state, gradients summed over its calls
                if areg is not None:
                    g = g + areg.gradient(vals[out])
                dx = sites.backward(i, layer, g)
            else:
                if areg is not None:
                    g = g + areg.gradient(vals[out])
                dx = layer.backward(g)
            for s, d in (zip(ins, dx) if multi else ((ins[0], dx),)):
                if d is None or s < inputs:  # no gradient for the data
                    continue
                # a tensor feeding several layers gets the sum of their gradients
                grads[s] = d if grads[s] is None else grads[s] + d
        sites.finish_backward()

    def _regularization_loss(self):
        return float(_step_loop.regularization(self._layers))  # (a weight two layers list: its penalty once)

    def _batch_loss(self, y, out, sw):
        total = self._activity_loss
        for v in self._added_loss_values:
            total += float(np.sum(v))
        if self._loss is None:  # compiled with loss=None: the add_loss terms are the loss
            if not self._loss_slots and not any(self._steps[k][0].__dict__.get("_adds_loss")
                                                for k in self._loss_adding_steps):
                raise ValueError(f"No loss to compute: model '{self.name}' was compiled without a loss, and no layer "
                                 "called add_loss in this batch. Provide a `loss` argument in `compile()`.")
            return total
        masked = self._out_masks is not None
        if not self._multi_output:
            value = _loss_value(self._loss, y, out, self._fold_mask(sw, out, 0, True) if masked else sw)
            return (value if self._loss_weight == 1.0 else self._loss_weight * value) + total
        for k, (head, yk, ok) in enumerate(zip(self._heads, y, out)):
            if head.loss is None:
                continue
            swk = _per_output(sw, k)
            head.last = _loss_value(head.loss, yk, ok, self._fold_mask(swk, ok, k, True) if masked else swk)
            total += head.weight * head.last
        return total

    def _loss_gradient(self, y, out, sw, fused):
        """d loss / d output (a list, one per output, with several outputs; None without a loss)."""
        if self._loss is None:
            return [None] * len(self._output_slots) if self._multi_output else None
        masked = self._out_masks is not None
        if self._multi_output:
            return [head.weight * head.loss.gradient(yk, ok, self._fold_mask(_per_output(sw, k), ok, k, True)
                                                     if masked else _per_output(sw, k)) if head.loss is not None else None
                    for k, (head, yk, ok) in enumerate(zip(self._heads, y, out))]
        if masked:  # (a fused output is (N, C): its mask, if any, is (N,), a weight per sample as sw is)
            sw = self._fold_mask(sw, out, 0, True)
        if fused:  # (the kernel's gradient is sum_over_batch_size's)
            g = ops.crossentropy_logits_backward(self._loss._targets(y, out), out, fused == "sigmoid", sw)
            scale = self._loss._scale(out, sw) * self._loss_weight
            return g * np.asarray(scale, dtype=g.dtype) if scale != 1.0 else g
        g = self._loss.gradient(y, out, sw)
        return g if self._loss_weight == 1.0 else g * np.asarray(self._loss_weight, dtype=g.dtype)

    def _reset_metrics(self):
        for m in self._metrics:
            m.reset_state()
        for m in self._added_metric_means.values():
            m.reset_state()
        for head in self._heads if self._multi_output else []:
            head.reset()

    def _update_metrics(self, y, out, sw):
        """Add a batch to the metrics (and, with several outputs, to each output's loss mean: the
        batch's loss from the last `_batch_loss`)."""
        added = [(name, self._vals[slot]) for name, slot in self._metric_slots]
        added += [pair for k in self._loss_adding_steps for pair in self._steps[k][0].__dict__.get("_added_metrics", ())]
        for name, value in added:  # add_metric's: the mean of its value over the batches
            if isinstance(value, metrics_module.Metric):  # (a metric's result: the metric, updated by the call)
                self._added_metric_means.setdefault(name, value)
                continue
            mean = self._added_metric_means.get(name)
            if mean is None:
                mean = self._added_metric_means[name] = metrics_module.Mean(name=name)
            mean.update_state(float(np.mean(autodiff._value(value))))
        if self._loss is None:
            return
        if not self._multi_output:
            self._add_to_metrics([y], [out], sw)
            return
        n = len(out[0])
        for head in self._heads:
            head.total += head.last * n
            head.count += n
        self._add_to_metrics(y, out, sw)

    def _compile_weighted_metrics(self, weighted_metrics, kernel, names):
        """``compile(weighted_metrics=...)``: metrics that take the sample and class weights (the
        others take none, as Keras's), appended to the compiled metrics. A name the metrics already
        have is logged as Keras 3 logs it: ``metrics=["accuracy"], weighted_metrics=["accuracy"]``
        gives ``accuracy`` and ``weighted_accuracy`` (then ``weighted_accuracy_1``...)."""
        if not isinstance(weighted_metrics, (list, tuple)):
            weighted_metrics = [weighted_metrics]
        taken = set(names) | {"loss"}
        for given in weighted_metrics:
            metric = metrics_module.get(given, loss=kernel)
            if metric.name in taken:
                name = f"weighted_{metric.name}"
                index = 1
                while name in taken:
                    name = f"weighted_{metric.name}_{index}"
                    index += 1
                metric.name = name
            taken.add(metric.name)
            self._metrics.append(metric)
            self._weighted.add(id(metric))
        self._compile_args["weighted_metrics"] = list(weighted_metrics)

    def _output_heads(self):
        """Each output's loss, weight and metrics: the compiled heads, or with one output one head
        of the model's loss and metrics."""
        return self._heads if self._multi_output else [_Head("", self._loss, self._loss_weight, self._metrics)]

    def _add_to_metrics(self, ys, outs, sw):
        """Add a batch to each output's metrics (``ys``, ``outs``: one array per output), its mask
        from the last forward pass folded into its sample weights."""
        for k, (head, yk, ok) in enumerate(zip(self._output_heads(), ys, outs)):
            if yk is None:  # (an output without a loss: no targets)
                continue
            # (Keras gives the sample and class weights to weighted_metrics only; every metric
            # takes the output's mask)
            mask = self._fold_mask(None, ok, k, False) if self._out_masks is not None else None
            weighted = None
            if self._weighted:
                weighted = _per_output(sw, k) if self._multi_output else sw
                if self._out_masks is not None:
                    weighted = self._fold_mask(weighted, ok, k, False)
            given = self.__dict__.get("_given_target_shapes", {}).get(f"y[{k}]" if self._multi_output else "y")
            if given is not None and yk.shape[1:] != given:
                yk = yk.reshape((len(yk),) + given)
            for m in head.metrics:
                m.update_state(yk, ok, weighted if id(m) in self._weighted else mask)

    @_with_compiled_trainability
    def _gradients(self, x, y, sw):
        """Forward (training), loss and backward: ``(loss, output, grads of trainable_weights)``.

        The gradients include the regularizers'. Nothing is updated (besides BatchNormalization
        moving statistics, as in any training-mode forward pass).
        """
        self._update_grad_flags()
        out = self._forward(x, True)
        loss = self._batch_loss(y, out, sw) + self._regularization_loss()
        fused = self._fusion()
        self._backward(self._loss_gradient(y, out, sw, fused), fused)
        grads = []
        for layer in self._layers:
            if layer._weights:
                grads += layer._regularized_gradients()
        self._trainable_layers = [layer for layer in self._layers if layer.trainable_weights]
        self._merge_plan(self.trainable_weights)
        return loss, out, self._merged_gradients(grads)

    def _train_step(self, x, y, sw, params):
        out = self._forward(x, True)
        loss = self._batch_loss(y, out, sw)
        if self._has_regularizers:
            loss += self._regularization_loss()
        if not math.isfinite(loss):
            return loss, out, False
        fused = self._fusion()
        self._backward(self._loss_gradient(y, out, sw, fused), fused)
        grads = []
        for layer in self._trainable_layers:
            grads += layer._regularized_gradients()
        self.optimizer.apply(self._merged_gradients(grads), params)  # (and the weights' constraints)
        return loss, out, True

    def _prepare_training(self):
        """Parameter list, optimizer slots and the per-step layer lists for a run."""
        params = self.trainable_weights
        opt = self.optimizer
        if not opt.built or opt._param_ids != [id(p) for p in params]:
            opt._build_state(params)
        self._trainable_layers = [layer for layer in self._layers if layer.trainable_weights]
        self._merge_plan(params)
        self._update_grad_flags()
        self._has_regularizers = any(w.regularizer is not None for layer in self._trainable_layers
                                     for w in layer._weights if w.trainable)
        return params

    def _merge_plan(self, params):
        """How the layers' gradient lists map onto ``params`` (the deduplicated trainable weights):
        None when one to one; else, with a weight listed by two layers (a Dense that the model
        calls and a custom layer holds, as a tied decoder does), the first listing of each weight
        and the later ones, whose gradients are added without their regularizer's a second time."""
        listed = [r for layer in self._trainable_layers for r in layer._weights if r.trainable]
        if len(listed) == len(params):
            self._grad_plan = None
            return
        index = {id(p): i for i, p in enumerate(params)}
        first, later = [None] * len(params), []
        for position, record in enumerate(listed):
            target = index[id(record.value)]
            if first[target] is None:
                first[target] = position
            else:
                later.append((position, target, record))
        self._grad_plan = (first, later)

    def _merged_gradients(self, grads):
        """The layers' gradient lists as gradients of the deduplicated `trainable_weights`."""
        plan = self.__dict__.get("_grad_plan")
        if plan is None:
            return grads
        first, later = plan
        merged = [grads[i] for i in first]
        for position, target, record in later:
            g = grads[position]
            if record.regularizer is not None:
                g = g - record.regularizer.gradient(record.value)
            merged[target] = merged[target] + g
        return merged

    # ---- Keras 3's step API: train_step, test_step, compute_loss, compute_metrics, metrics ---------

    @property
    def metrics(self):
        """The metrics a `train_step` updates and `fit` resets each epoch, as Keras 3 lists them:
        once compiled, the loss's mean (named "loss") and the compiled metrics; then the metric
        objects the model holds as attributes (a subclass may override this property)."""
        found = [self._loss_tracker] + [m if id(m) in self._weighted else _CompiledMetricView(m)
                                        for m in self._metrics] if self.compiled else []
        for attr, value in vars(self).items():
            if isinstance(value, metrics_module.Metric) and attr != "_loss_tracker" and value not in found:
                found.append(value)
        return found

    def reset_metrics(self):
        """Reset every metric of `metrics`."""
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """``{name: result}`` of `metrics` (a metric whose result is a dict adds its entries)."""
        return _step_loop.results(self.metrics)

    @property
    def losses(self):
        """The loss terms besides the compiled loss, as Keras 3 lists them: the weights'
        regularization penalty, and the last call's activity penalties and (under a
        `fastnn.GradientTape`) add_loss terms; on a recording tape, tensors on it."""
        penalty = _step_loop.regularization(self._all_layers)
        return ([penalty] if isinstance(penalty, autodiff.Tensor) or penalty else []) + list(self._call_losses)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``y_pred`` against ``y`` (an output's mask folded into its sample
        weights) plus the `losses`, as Keras 3's: in a `train_step` under a
        `fastnn.GradientTape`, a tensor on its tape."""
        return self._compiled_loss(y, y_pred, sample_weight, self.losses, "compute_loss")

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """tf.keras 2's spelling in a train_step: the compiled loss plus ``regularization_losses``
        (``self.losses``); it also adds the loss to the "loss" entry of `metrics`, as tf.keras did."""
        loss = self._compiled_loss(y, y_pred, sample_weight, regularization_losses or [], "compiled_loss")
        self._loss_tracker.update_state(loss, sample_weight=len(autodiff._value(
            y_pred[0] if self._multi_output else y_pred)))
        return loss

    @property
    def compiled_metrics(self):
        """tf.keras 2's spelling in a train_step: ``compiled_metrics.update_state(y, y_pred)``."""
        return _CompiledMetrics(self)

    def _compiled_loss(self, y, y_pred, sample_weight, extra, fn):
        """The compiled loss of ``y_pred`` (masks folded in) plus the terms ``extra``. The targets
        are checked against ``y_pred`` (a train_step may pass other values than the model's own
        outputs: a similarity matrix of its embeddings)."""
        total = 0.0
        for term in extra:
            total = total + term
        if self._loss is None:
            return total
        preds = list(y_pred) if self._multi_output else [y_pred]
        n = len(autodiff._value(preds[0]))
        ys = self._prepare_y(y, n, fn, [(None,) + np.shape(autodiff._value(p))[1:] for p in preds])
        sw = self._prepare_weights(sample_weight, n, fn)
        ys = ys if self._multi_output else [ys]
        for k, (head, yk, pk) in enumerate(zip(self._output_heads(), ys, preds)):
            if head.loss is None:
                continue
            swk = _per_output(sw, k) if self._multi_output else sw
            if self._out_masks is not None:
                swk = self._fold_mask(swk, autodiff._value(pk), k, True)
            term = head.loss(yk, pk, swk)
            total = total + (term if head.weight == 1.0 else head.weight * term)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Add a batch to the compiled metrics; returns `get_metrics_result`."""
        self._update_compiled_metrics(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _update_compiled_metrics(self, y, y_pred, sample_weight):
        if self._metrics:
            fn = "compute_metrics"
            preds = [autodiff._value(p) for p in (y_pred if self._multi_output else [y_pred])]
            n = len(preds[0])
            if self._loss is None:  # compiled with metrics and no loss (a subclass's own compute_loss)
                ys, sw = np.asarray(y), None if sample_weight is None else np.asarray(sample_weight)
            else:
                ys = self._prepare_y(y, n, fn, [(None,) + p.shape[1:] for p in preds])
                sw = self._prepare_weights(sample_weight, n, fn)
            self._add_to_metrics(ys if self._multi_output else [ys], preds, sw)

    def train_step(self, data):
        """One training step on a batch ``data`` (``x``, or ``(x, y)``, ``(x, y, sample_weight)``),
        as Keras 3's; returns the logs. `fit` calls a subclass's override of it (with a
        `fastnn.GradientTape`, as in Keras's "customizing what happens in fit()" guide); without
        one, `fit` runs the same step fused in the kernels."""
        x, y, sample_weight = _unpack(data, "train_step")
        with _gradient_tape.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        self._loss_tracker.update_state(loss, sample_weight=len(autodiff._value(
            y_pred[0] if self._multi_output else y_pred)))
        weights = self.trainable_weights
        if weights:
            self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        """One evaluation step on a batch ``data``, as Keras 3's; returns the logs. `evaluate` (and
        `fit`'s validation) call a subclass's override of it."""
        x, y, sample_weight = _unpack(data, "test_step")
        y_pred = self(x, training=False)
        # (an override with Keras 3.0's signature takes no `training`)
        extra = {"training": False} if _takes_keyword(self.compute_loss, "training") else {}
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **extra)
        self._loss_tracker.update_state(loss, sample_weight=len(y_pred[0] if self._multi_output else y_pred))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The outputs for one batch of inputs ``data``, as Keras 3's; `predict` calls a subclass's
        override of it for every batch and joins what it returns (arrays, or lists, tuples and dicts
        of them) along the batch axis."""
        x, _, _ = _unpack(data, "predict_step")
        return self(x, training=False)

    def _custom_steps(self):
        """Whether `fit` runs `train_step` (a subclass's own, or the default one because the subclass
        has its own compute_loss) rather than the fused step."""
        cls = type(self)
        return cls.train_step is not Model.train_step or cls.compute_loss is not Model.compute_loss \
            or cls.compute_metrics is not Model.compute_metrics

    def _custom_test_steps(self):
        """Whether `evaluate` runs `test_step` rather than the fused pass."""
        cls = type(self)
        return cls.test_step is not Model.test_step or cls.compute_loss is not Model.compute_loss \
            or cls.compute_metrics is not Model.compute_metrics

    # ---- fit / evaluate / predict -------------------------------------------------------------

    @_with_compiled_trainability
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs on NumPy arrays; returns a `History`.

        Args:
            x, y: inputs (N, ...) and targets (one-hot, integer labels or values, per the loss).
            batch_size: default 32. epochs: the last epoch's index (training runs
                ``initial_epoch .. epochs-1``). verbose: 0 silent, 1 progress bar, 2 one
                line per epoch, "auto" = 1.
            callbacks: a list of `fastnn.callbacks.Callback`.
            validation_split: the fraction in [0, 1) of the data (taken from the end, before
                shuffling) held out for validation. validation_data: ``(x_val, y_val)`` or
                ``(x_val, y_val, sample_weight)``, which overrides validation_split.
            shuffle: reshuffle the training samples every epoch.
            class_weight: ``{class: weight}`` scaling each sample's loss by its class.
            sample_weight: (N,) per-sample loss weights.
            initial_epoch: the epoch to start from (to resume training).
            validation_batch_size: default batch_size. validation_freq: validate every n epochs.

        A batch whose loss is NaN or infinite is reported and stops training cleanly (its
        update is not applied; see `fastnn.callbacks.TerminateOnNaN` to also roll back).
        """
        fn = "fit"
        batch_size = 32 if batch_size is None else _positive_int(batch_size, "batch_size")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Received an invalid value for `epochs`, expected a non-negative integer (0 trains "
                             f"nothing, as in Keras). Received: epochs={epochs!r}")
        epochs = int(epochs)
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
            raise ValueError(f"Expected `initial_epoch` to be a non-negative integer. Received: initial_epoch={initial_epoch!r}")
        verbose = _check_verbose(verbose)
        if isinstance(validation_freq, (list, tuple, set, range)):  # (Keras: the epochs, from 1, to validate after)
            if not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) and e >= 1 for e in validation_freq):
                raise ValueError(f"fit: validation_freq must be a positive int or a list of epochs (from 1). "
                                 f"Received: validation_freq={validation_freq!r}")
            validation_freq = frozenset(int(e) for e in validation_freq)
        else:
            validation_freq = _positive_int(validation_freq, "validation_freq")
        # (checked here so an error names the argument, not the generic `steps`)
        steps_per_epoch = None if steps_per_epoch is None else _positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = None if validation_steps is None else _positive_int(validation_steps, "validation_steps")
        if not (shuffle == "batch" if isinstance(shuffle, str)
                else isinstance(shuffle, (bool, np.bool_, int, np.integer)) and shuffle in (0, 1)):  # (Keras: in (True, False, "batch"))
            raise ValueError(f"fit: `shuffle` must be True, False or 'batch'. Received: shuffle={shuffle!r}")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.floating)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"`validation_split` must be a float in [0, 1). Received: validation_split={validation_split!r}")
        if self._custom_steps():
            return _step_loop.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                                  validation_data, shuffle, sample_weight, class_weight, initial_epoch,
                                  steps_per_epoch, validation_steps, validation_batch_size, validation_freq)
        self._check_compiled(fn)
        source = _Batches.of(x, steps_per_epoch, fn)
        if source is not None:
            if y is not None or sample_weight is not None or validation_split:
                raise ValueError("fit: a generator or Sequence yields the targets (and sample weights) with the "
                                 "inputs, (x, y) or (x, y, sample_weight) batches; leave y, sample_weight and "
                                 "validation_split unset")
        val = _Batches.of(validation_data, validation_steps, "fit (validation_data)")
        if val is None and validation_steps is not None:
            raise ValueError("fit: validation_steps applies to a generator or Sequence as validation_data")
        if source is not None:
            xs = y = sw = None
        else:
            xs = self._prepare_x(x, fn)
            n = len(xs[0])
            y = self._prepare_y(y, n, fn)
            sw = self._prepare_weights(sample_weight, n, fn)
        if val is not None:
            pass
        elif validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight). "
                                 f"Received: {type(validation_data).__name__}")
            vfn = "fit (validation_data)"  # (its errors say so: the training data above were fine)
            try:
                vxs = self._prepare_x(validation_data[0], vfn)
                vy = self._prepare_y(validation_data[1], len(vxs[0]), vfn)
                vsw = self._prepare_weights(validation_data[2] if len(validation_data) == 3 else None, len(vxs[0]),
                                            vfn + " (its third element: the validation sample weights)")
            except (ValueError, TypeError) as e:
                if "validation_data" in str(e):
                    raise
                raise type(e)(f"{vfn}: {e}") from None
            val = (vxs, vy, vsw)
        elif validation_split:
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(f"Training data contains {n} samples, which is not sufficient to split it into a "
                                 f"validation and training set as specified by `validation_split={validation_split}`. "
                                 "Either provide more data, or a different value for the `validation_split` argument.")
            val = ([a[split_at:] for a in xs], _rows(y, slice(split_at, None)), _rows(sw, slice(split_at, None)))
            xs, y, sw = [a[:split_at] for a in xs], _rows(y, slice(split_at)), _rows(sw, slice(split_at))
            n = split_at
        if class_weight is not None and source is None:
            sw = _times_class_weights(sw, self._class_weights(y, class_weight, fn))

        steps = source.steps if source is not None else steps_per_epoch or -(-n // batch_size)
        cblist, history = callbacks_module.fit_callbacks(callbacks, self, verbose, epochs, steps)
        batch_logs = cblist.wants("on_train_batch_end")
        batch_begin = cblist.wants("on_train_batch_begin")

        built = self.built  # (else its first batch, a dataset's or a generator's, builds it: see below)
        params = self._prepare_training()
        rng = utils.global_rng()
        xbufs = [np.empty((batch_size,) + a.shape[1:], dtype=a.dtype) for a in xs] \
            if source is None and shuffle and n >= batch_size else None
        passes = _ContinuingPasses(lambda: _array_batches(xs, y, sw, batch_size, rng.permutation(n) if shuffle else None,
                                                          xbufs), steps_per_epoch) \
            if source is None and steps_per_epoch is not None else None
        self.stop_training = False
        self._keep_finite_weights = False
        cblist.on_train_begin()
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch  # (BackupAndRestore's)
        keep = self._keep_finite_weights
        if keep:
            backup = [[np.empty_like(w) for w in self.weights] for _ in range(2)]
            have_prev = False
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cblist.on_epoch_begin(epoch)
            if source is not None:
                batches = self._prepared(source.epoch(shuffle, rng), fn, class_weight)
            elif passes is not None:
                batches = passes.epoch()
            else:
                batches = _array_batches(xs, y, sw, batch_size, rng.permutation(n) if shuffle else None, xbufs)
            loss_sum, seen, finite = 0.0, 0, True
            for step, (xb, yb, swb) in enumerate(batches):
                size = len(xb[0])
                if not built:  # (the first batch built the model: its weights exist now, and are trained)
                    built = True
                    params = self._prepare_training()
                    if keep:
                        backup = [[np.empty_like(w) for w in self.weights] for _ in range(2)]
                if batch_begin:
                    cblist.batch("on_train_batch_begin", step)
                if keep:
                    for b, w in zip(backup[0], self.weights):
                        np.copyto(b, w)
                loss, out, finite = self._train_step(xb, yb, swb, params)
                if not finite:
                    if any(isinstance(cb, callbacks_module.TerminateOnNaN) and cb.raise_error for cb in cblist.callbacks):
                        raise RuntimeError(f"NaN or Inf loss encountered at batch {step}. Loss value: {loss}. "
                                           "Terminating training immediately.")
                    print(f"Batch {step}: Invalid loss, terminating training")
                    if keep and have_prev:
                        self.set_weights(backup[1])
                    self.stop_training = True
                    break
                if keep:
                    backup.reverse()
                    have_prev = True
                loss_sum += loss * size
                seen += size
                self._update_metrics(yb, out, swb)
                if batch_logs:
                    cblist.batch("on_train_batch_end", step, self._logs(loss_sum / seen))
                if self.stop_training:
                    break
            logs = self._logs(loss_sum / seen if finite and seen else math.nan)
            if val is not None and finite and _validates(epoch, validation_freq):
                cblist.on_test_begin()  # (validation is an evaluate: its hooks fire, as in Keras)
                if isinstance(val, _Batches):
                    val.restart()
                    val_logs = self._evaluate_batches(self._prepared(val.epoch(False, rng), fn, None), cblist)
                else:
                    val_logs = self._evaluate_batches(_array_batches(*val, validation_batch_size or batch_size), cblist)
                cblist.on_test_end(val_logs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cblist.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        if epochs > initial_epoch:  # (use_ema: the weights become their moving averages, as Keras's fit ends)
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cblist.on_train_end(logs)
        self._keep_finite_weights = False
        return history

    def _logs(self, loss):
        logs = {m.name: m.result() for m in self._metrics}
        logs.update({name: m.result() for name, m in self._added_metric_means.items() if getattr(m, "_count", 1)})
        for head in self._heads if self._multi_output else []:
            if head.loss is not None:
                logs[f"{head.name}_loss"] = head.total / head.count if head.count else 0.0
        logs["loss"] = loss
        return {k: logs[k] for k in sorted(logs)}

    def _prepared(self, batches, fn, class_weight):
        """A generator's or Sequence's batches, checked as fit's arrays are: (x list, y, sw)."""
        for x, y, sample_weight in batches:
            xs = self._prepare_x(x, fn)
            n = len(xs[0])
            y = self._prepare_y(y, n, fn)
            sw = self._prepare_weights(sample_weight, n, fn)
            if class_weight is not None:
                sw = _times_class_weights(sw, self._class_weights(y, class_weight, fn))
            yield xs, y, sw

    def _evaluate_batches(self, batches, cblist=None):
        """The loss and metrics over prepared batches (inference mode), weighted by their sizes."""
        self._reset_metrics()
        total, n = 0.0, 0
        want = cblist is not None and cblist.wants("on_test_batch_end")
        begin = cblist is not None and cblist.wants("on_test_batch_begin")
        for step, (xb, yb, swb) in enumerate(batches):
            if begin:
                cblist.batch("on_test_batch_begin", step)
            out = self._forward(xb, False)
            total += self._batch_loss(yb, out, swb) * len(xb[0])
            n += len(xb[0])
            self._update_metrics(yb, out, swb)
            if want:
                cblist.batch("on_test_batch_end", step, self._logs(total / n))
        if n == 0:
            raise ValueError("evaluate: the data gave no batches")
        return self._logs(total / n + self._regularization_loss())

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss (and metrics) on ``x, y``: a float, or ``[loss, metric...]`` with metrics,
        or a dict with ``return_dict=True`` (Keras's convention). Regularization penalties are
        included in the loss, as in Keras."""
        fn = "evaluate"
        custom = self._custom_test_steps()
        if not custom:
            self._check_compiled(fn)
        elif not self.compiled:
            raise RuntimeError(f"You must call `compile()` before calling `{fn}()`.")
        batch_size = 32 if batch_size is None else _positive_int(batch_size, "batch_size")
        verbose = _check_verbose(verbose)
        source = _Batches.of(x, steps, fn)
        if source is not None:
            if y is not None or sample_weight is not None:
                raise ValueError("evaluate: a generator or Sequence yields the targets with the inputs; leave y and "
                                 "sample_weight unset")
            batches, nsteps = source.epoch(False, None), source.steps
            if not custom:
                batches = self._prepared(batches, fn, None)
        elif custom:
            if steps is not None:
                x, y, sample_weight = (_first_rows(d, steps * batch_size) for d in (x, y, sample_weight))
            batches, nsteps = _step_loop.array_batches(x, y, sample_weight, batch_size, fn)
        else:
            if steps is not None:
                x, y, sample_weight = (_first_rows(d, steps * batch_size) for d in (x, y, sample_weight))
            xs = self._prepare_x(x, fn)
            n = len(xs[0])
            y = self._prepare_y(y, n, fn)
            sw = self._prepare_weights(sample_weight, n, fn)
            batches, nsteps = _array_batches(xs, y, sw, batch_size), -(-n // batch_size)
        cbs = ([callbacks_module.ProgbarLogger()] if verbose else []) + callbacks_module.as_list(callbacks)
        cblist = callbacks_module.CallbackList(cbs, model=self, verbose=verbose, epochs=1, steps=nsteps)
        cblist.on_test_begin()
        logs = _step_loop.evaluate(self, batches, cblist) if custom else self._evaluate_batches(batches, cblist)
        cblist.on_test_end(logs)
        if return_dict:
            return logs
        values = list(logs.values()) if custom else [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for ``x`` (inference mode), computed in batches."""
        self._require_call("predict")
        fn = "predict"
        batch_size = 32 if batch_size is None else _positive_int(batch_size, "batch_size")
        verbose = _check_verbose(verbose)
        source = _Batches.of(x, steps, fn)
        n = None
        if source is not None:  # the inputs of each batch (targets, if any, are ignored)
            batches = (self._prepare_x(bx, fn) for bx, _, _ in source.epoch(False, None))
            nsteps = source.steps
        else:
            if steps is not None:
                x = _first_rows(x, steps * batch_size)
            xs = self._prepare_x(x, fn)
            n = len(xs[0])
            nsteps = -(-n // batch_size)
            batches = ([a[lo:lo + batch_size] for a in xs] for lo in range(0, n, batch_size))
        cbs = ([callbacks_module.ProgbarLogger()] if verbose else []) + callbacks_module.as_list(callbacks)
        cblist = callbacks_module.CallbackList(cbs, model=self, verbose=verbose, epochs=1, steps=nsteps)
        want = cblist.wants("on_predict_batch_end")
        begin = cblist.wants("on_predict_batch_begin")
        cblist.on_predict_begin()
        pieces, done = [], 0  # arrays: one result filled in place; a generator: its batches joined
        own_step = type(self).predict_step is not Model.predict_step
        for step, xb in enumerate(batches):
            if begin:
                cblist.batch("on_predict_batch_begin", step)
            if own_step:  # (a subclass's predict_step: what it returns, batch after batch, joined)
                # (the batch as Keras packs it: x alone; a list of inputs in a tuple, (x,))
                out = self.predict_step(dict(zip(self._input_keys, xb)) if self._input_keys and
                                        len(self._input_keys) == len(xb) else (xb,) if len(xb) > 1 else xb[0])
                pieces.append(out)
                if want:
                    cblist.batch("on_predict_batch_end", step, {"outputs": out})
                continue
            out = self._forward(xb, False, losses=False)
            outs = out if self._multi_output else [out]
            if n is None:
                pieces.append([np.array(o) for o in outs])
            else:
                if not pieces:
                    pieces = [np.empty((n,) + o.shape[1:], dtype=o.dtype) for o in outs]
                for r, o in zip(pieces, outs):
                    r[done:done + len(o)] = o
                done += len(outs[0])
            if want:
                cblist.batch("on_predict_batch_end", step, {"outputs": out})
        cblist.on_predict_end()
        if not pieces:
            raise ValueError("predict: the data gave no batches")
        if own_step:
            return _joined_batches(pieces)
        result = pieces if n is not None else [np.concatenate(parts) for parts in zip(*pieces)]
        return self._structured(result if self._multi_output else result[0])

    def _structured(self, out):
        """Outputs as the model was built: a dict by key for a dict of outputs, else as they are."""
        if self._output_keys is None:
            return out
        return dict(zip(self._output_keys, out if self._multi_output else [out]))

    # TensorFlow 1 and early 2 scripts' spellings, still in many course notes
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose="auto", callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """`fit` on a generator or Sequence (Keras's old name; the queue and worker arguments are
        accepted and ignored: fastnn draws the batches in the training thread). A Sequence asked for
        more batches per epoch than it has is read pass after pass, as Keras 2's enqueuer cycled it
        (Chollet's first edition: steps_per_epoch=100 of a flow_from_directory of 63 batches)."""
        steps_per_epoch = _steps(steps_per_epoch, "steps_per_epoch")
        if isinstance(steps_per_epoch, (int, np.integer)) and hasattr(generator, "__getitem__") \
                and hasattr(generator, "__len__") and 0 < len(generator) < steps_per_epoch:
            generator = _passes(generator, shuffle)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs,
                        verbose=verbose, callbacks=callbacks, validation_data=validation_data,
                        validation_steps=_steps(validation_steps, "validation_steps"),
                        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0):
        """`evaluate` on a generator or Sequence (Keras's old name)."""
        return self.evaluate(generator, steps=_steps(steps, "steps"), callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0):
        """`predict` on a generator or Sequence (Keras's old name)."""
        return self.predict(generator, steps=_steps(steps, "steps"), callbacks=callbacks, verbose=verbose)

    def predict_on_batch(self, x):
        """The outputs for one batch ``x`` (inference mode)."""
        self._require_call("predict")
        out = self._forward(self._prepare_x(x, "predict_on_batch"), False, losses=False)
        return self._structured([np.array(o) for o in out] if self._multi_output else np.array(out))

    @_with_compiled_trainability
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on the batch ``x, y``; returns its loss (and metrics), like `evaluate`."""
        fn = "train_on_batch"
        self._check_compiled(fn)
        xs = self._prepare_x(x, fn)
        y = self._prepare_y(y, len(xs[0]), fn)
        sw = self._prepare_weights(sample_weight, len(xs[0]), fn)
        if class_weight is not None:
            sw = _times_class_weights(sw, self._class_weights(y, class_weight, fn))
        params = self._prepare_training()
        loss, out, finite = self._train_step(xs, y, sw, params)
        self._reset_metrics()
        if finite:
            self._update_metrics(y, out, sw)
        logs = self._logs(loss)
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, in inference mode."""
        fn = "test_on_batch"
        self._check_compiled(fn)
        xs = self._prepare_x(x, fn)
        y = self._prepare_y(y, len(xs[0]), fn)
        sw = self._prepare_weights(sample_weight, len(xs[0]), fn)
        logs = self._evaluate_batches(_array_batches(xs, y, sw, len(xs[0])))
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def __call__(self, inputs, *args, training=None, **kwargs):
        """Run the model on an array (inference unless ``training=True``), or, on symbolic tensors,
        nest it in the graph being built: ``Model(x, decoder(encoder(x)))``; inside a custom
        layer's call(), on its tape tensors (``self.ffn = Sequential([...])``, as Keras's
        Transformer block has it). A subclass whose call() takes more than its inputs and the
        training flag (``transformer(inp, tar, True, enc_padding_mask, look_ahead_mask,
        dec_padding_mask)``) runs that call as Python calls it (`_call_as_written`)."""
        self._require_call("be called")
        inputs = autodiff.eager_if_constant(inputs)
        if args or kwargs:
            if self._subclassed and _more_than_inputs(type(self).call, args, kwargs):
                return self._call_as_written(inputs, args, dict(kwargs, training=training))
            if len(args) > 1 or kwargs:
                raise TypeError(f"Model '{self.name}' takes its inputs and training. Received: {len(args) + 1} "
                                f"positional arguments and {sorted(kwargs)}")
            if args:
                training = args[0]
        if training is TRACED_TRAINING:  # (called in a subclassed model's call being traced: the step's flag)
            training = None
        if isinstance(inputs, dict) and self.built and any(_is_symbolic(v) or _on_tape(v) for v in inputs.values()):
            inputs = self._listed_inputs(inputs)
        if isinstance(self, Sequential) and self._stack and getattr(self._stack[0], "_takes_single_images", False) \
                and isinstance(inputs, np.ndarray) and inputs.ndim == 3 and (
                    self._input_layer is None or len(self._input_layer.batch_shape) == 4):
            # one (height, width, channels) image, as its first layer takes it (the data-augmentation
            # tutorial's resize_and_rescale(image), also inside a dataset map before batching)
            return self(inputs[None], training=training)[0]
        if training is not None and not isinstance(training, (bool, np.bool_, int)):
            raise TypeError(f"Model '{self.name}': training must be True, False or None. Received: "
                            f"{type(training).__name__} (a model takes one argument of inputs: give several as a "
                            "list, model([x1, x2]))")
        if _is_symbolic(inputs):
            return self._call_symbolic(inputs, training)
        if _on_tape(inputs):
            return self._call_on_tape(inputs, tape_training(training))
        if _gradient_tape.recording() is not None:  # under a GradientTape: each layer a node of its tape
            xs = self._prepare_x(inputs, "__call__")
            raw = self._listed_inputs(inputs) if isinstance(inputs, dict) and self.built else inputs
            raw = raw if isinstance(raw, (list, tuple)) and len(raw) == len(xs) else [raw]
            xs = [_gradient_tape.watched_input(r, x) for r, x in zip(raw, xs)]
            return self._call_on_tape(xs if len(xs) > 1 else xs[0], tape_training(training))
        # training None: each layer's own default (Keras's), e.g. an augmentation layer augments
        # (with add_loss terms, their steps run too, as Keras's call fills `losses`; predict skips them)
        out = self._forward(self._prepare_x(inputs, "__call__"), None if training is None else bool(training),
                            losses=bool(self._loss_slots))
        self._call_losses = ([self._activity_loss] if self._activity_loss else []) + \
            [np.asarray(np.sum(v), dtype=np.asarray(v).dtype) for v in self._added_loss_values]
        # arrays with an eager tensor's numpy(): `model(x_train[:1]).numpy()` in TensorFlow's quickstart
        return self._structured([o.view(EagerArray) for o in out] if self._multi_output else out.view(EagerArray))

    def _listed_inputs(self, inputs):
        """A dict of tensors as the list of this model's inputs: by the keys it was built with, else
        by its Input layers' names (``inner({"a": a, "b": b})`` nested in a larger model)."""
        keys = list(self._input_keys) if self._input_keys is not None else [l.name for l in self._input_layers]
        if set(inputs) != set(keys):
            raise ValueError(f"Model '{self.name}' takes a dict with the keys {keys}. Received: {sorted(inputs)}")
        listed = [inputs[k] for k in keys]
        return listed if len(listed) > 1 else listed[0]

    def _call_as_written(self, inputs, args, kwargs):
        """A subclass's call() on these arguments, its layers run as they are called (on the tape
        under a GradientTape), as Keras runs a subclassed model. It is not traced into a graph: fit,
        evaluate and predict give call() its inputs alone."""
        if kwargs.get("training") is None:
            kwargs.pop("training")
        return type(self).call(self, inputs, *args, **kwargs)

    def _call_on_tape(self, inputs, training):
        """Its layers called one by one on tape tensors (each a node of the tape: `Layer.__call__`),
        with the masks the layers make. The activity regularizers' penalties and the add_loss
        terms of this call are kept as tape nodes in `_call_losses` (`compute_loss` adds them),
        the outputs' masks in `_out_masks` (`compute_loss` folds them into the sample weights)."""
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not self.built:
            shapes = [(None,) + tuple(t.shape[1:]) for t in tensors]
            (self._build_subclassed if self._subclassed else self.build)(
                shapes if isinstance(inputs, (list, tuple)) else shapes[0])
        self._require_built(f"calling model '{self.name}' inside a custom layer")
        if len(tensors) != len(self._input_layers):
            raise ValueError(f"Model '{self.name}' expects {len(self._input_layers)} input(s), but it received "
                             f"{len(tensors)} input tensors")
        penalties = []

        def after_step(step, value, mask):
            if step[0].__dict__.get("_added_on_tape"):  # a custom layer's add_loss terms, on the GradientTape
                penalties.extend(autodiff.sum(t) for t in step[0]._added_on_tape)
            elif step[0].__dict__.get("_added_loss"):  # (inside a custom layer: its node's backward takes them)
                penalties.append(step[0]._added_loss)
            areg = step[4]
            if areg is not None:
                v = autodiff._value(value)
                penalties.append(autodiff.Tensor(np.asarray(areg(v), dtype=v.dtype), (value,),
                                                 lambda g: [g * areg.gradient(v)])
                                 if isinstance(value, autodiff.Tensor) else areg(v))

        vals, masks = self._call_steps(tensors, after_step, masks=self._masking, fuse=True, training=training)
        self._call_losses = penalties + [autodiff.sum(vals[s]) for s in self._loss_slots]
        out_masks = [masks[s] for s in self._output_slots]
        self._out_masks = out_masks if any(m is not None for m in out_masks) else None
        outputs = [vals[s] for s in self._output_slots]
        return self._structured(outputs if self._multi_output else outputs[0])

    def _call_steps(self, tensors, after_step=None, masks=False, fuse=False, **call_kwargs):
        """Each step's layer called (``layer(..., **call_kwargs)``) on ``tensors`` and the values
        before it, slot by slot, with ``masks``: each layer's input mask and its output's (as
        `_forward_masked`); ``after_step(step, its first output, its mask)`` after each. With
        ``fuse`` (tape tensors), a convolution and the max pooling after it are one tape node, as
        in `_forward`. Returns every slot's value and mask."""
        vals = tensors + [None] * (self._nslots - len(tensors))
        slot_masks = [None] * self._nslots
        for k, step in enumerate(self._steps):
            layer, ins, out, multi, _ = step
            if fuse and k in self._fused_pools:
                continue  # computed with its convolution
            if fuse and k in self._pool_fusion:
                pool = self._steps[self._pool_fusion[k]]
                vals[pool[2]] = layer._call_on_tensors([vals[ins[0]]], False,
                                                       lambda values, pool=pool[0]: layer.call_pooled(values[0], pool),
                                                       backward=layer.backward_pooled)
                continue
            x = [vals[i] for i in ins] if multi else vals[ins[0]]
            kwargs = call_kwargs
            if k in self._step_training:  # (its call's own flag wins)
                kwargs = dict(call_kwargs, training=self._step_training[k])
            if masks:
                mask = [slot_masks[i] for i in ins] if multi else slot_masks[ins[0]]
                mask = None if multi and all(m is None for m in mask) else mask
                kwargs = dict(call_kwargs, mask=mask)
            if multi and type(layer).__call__ is _bound_call and "_binding" in layer.__dict__:
                # (a user layer of several tensor arguments, call(self, anchor, positive, negative): its
                # inputs as the graph holds them, bound to those arguments as when it was built)
                result = Layer.__call__(layer, x, **kwargs)
            else:
                result = layer(x, **kwargs)
            for o, tensor in zip(_slots(out), result if type(out) is tuple else [result]):
                vals[o] = tensor
            first = _slots(out)[0]
            if masks and layer.supports_masking:
                values = [autodiff._value(t) for t in x] if multi else autodiff._value(x)
                m = layer.compute_mask(values, mask)
                # (several outputs: each its own mask, as compute_mask lists; one output: the first)
                each = list(m) if isinstance(m, (list, tuple)) else [m]
                for i, o in enumerate(_slots(out)):  # (several outputs: each its own mask, as compute_mask lists)
                    mi = each[i] if i < len(each) else None
                    slot_masks[o] = None if mi is None else \
                        check_mask(mi, np.shape(autodiff._value(vals[o])), layer, "the output's mask (compute_mask)")
            elif masks and type(out) is not tuple and getattr(result, "_keras_mask", None) is not None:
                slot_masks[first] = result._keras_mask  # (a custom layer's output: its inner layer's mask)
            if after_step is not None:
                after_step(step, vals[first], slot_masks[first])
        return vals, slot_masks

    def _call_symbolic(self, inputs, training=None):
        """Call this model's layers on ``inputs``, step by step in its own order (each with
        ``training`` when given, unless its own call gave one), and return the
        output tensor. The model that is built from it holds the same layer objects (the weights
        are shared, so training it trains them here too) and lists them one by one: it does not
        keep this model as one layer, so its summary and saved file show the layers."""
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not self.built and isinstance(self, Sequential) and len(tensors) == 1:
            takes_strings = getattr(self._stack[0], "_takes_strings", None) if self._stack else None
            if self._input_layer is None and str(tensors[0].dtype) == "string" and takes_strings is not None \
                    and takes_strings():
                # (built on the string tensor it is called on when its first layer looks strings up, a
                # StringLookup: keras.io's embedding_encoder helper; otherwise on its first layer's dtype,
                # so that later float data is not cast to an integer tensor's dtype)
                self._input_layer = InputLayer(batch_shape=(None,) + tuple(tensors[0].shape[1:]), dtype="string")
            self.build(tensors[0].shape)
        elif not self.built and self._subclassed:
            self._build_subclassed([t.shape for t in tensors] if isinstance(inputs, (list, tuple)) else tensors[0].shape)
        self._require_built(f"calling model '{self.name}' on symbolic tensors")
        if len(tensors) != len(self._input_layers):
            raise ValueError(f"Model '{self.name}' expects {len(self._input_layers)} input(s), but it received "
                             f"{len(tensors)} input tensors")
        for i, (t, layer) in enumerate(zip(tensors, self._input_layers)):
            want, got = tuple(layer.batch_shape[1:]), tuple(t.shape[1:])
            off = _axis_off(t.shape, layer.batch_shape) if None not in got else None
            if off is not None:  # (data (N, 28, 28) for an Input (28, 28, 1): a Reshape in the graph)
                from .layers.core import Reshape
                tensors[i] = t = Reshape(got + (1,) if off == "add" else got[:-1])(t)
                got = tuple(t.shape[1:])
            if len(want) != len(got) or any(w is not None and g is not None and w != g for w, g in zip(want, got)):
                raise ValueError(f"Input {i} of model '{self.name}' is incompatible with the layer: expected "
                                 f"shape={_shape_str(layer.batch_shape)}, found shape={_shape_str(t.shape)}")
        if getattr(self, "inputs", None) is not None and len(tensors) == len(self.inputs) \
                and all(t is x for t, x in zip(tensors, self.inputs)):
            # called on its own inputs (``vae = Model(inputs, decoder(encoder(inputs)))``): the same
            # values as its own outputs, which other tensors of the graph (z_mean) may also use
            outputs = list(self.outputs)
            call = self._next_symbolic_call()
            for node, owner in zip(self._step_nodes, self._step_owners):
                if owner is None:
                    node.nested_in, node.nested_call_index = self, call
            for k, output in enumerate(outputs):
                output.node.nested_call, output.nested_output_index = (self, tensors), k
            self.__dict__.setdefault("_symbolic_outputs", {})[call] = outputs
            return outputs if self._multi_output else outputs[0]
        call = self._next_symbolic_call()

        def mark(step, tensor, mask):  # the summary shows these steps as one row
            tensor.node.nested_in, tensor.node.nested_call_index = self, call

        vals, _ = self._call_steps(tensors, mark, training=training)
        outputs = [vals[s] for s in self._output_slots]
        for k, output in enumerate(outputs):
            output.node.nested_call = (self, tensors)  # and that row's inputs
            output.nested_output_index = k  # (and which of the model's outputs this tensor is)
        self.__dict__.setdefault("_symbolic_outputs", {})[call] = outputs  # (the outer model runs them all)
        return outputs if self._multi_output else outputs[0]

    def _next_symbolic_call(self):
        call, self._symbolic_calls = self._symbolic_calls, self._symbolic_calls + 1
        return call

    # ---- summary -----------------------------------------------------------------------------

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print Keras's table: layer (type), output shape, parameter count; then the totals.

        ``print_fn`` receives each line (default: print to stdout). A Sequential not built yet whose
        first layer is (an adapted Normalization, as TensorFlow's regression tutorial has it) is
        built from that layer's input shape first.
        """
        first = self._stack[0] if isinstance(self, Sequential) and self._stack else None
        shape = getattr(first, "_build_input_shape", None) if first is not None and first.built else None
        if not self.built and shape is not None and not isinstance(shape, list):
            self.build(shape)
        if not (isinstance(self, Sequential) and self._stack):  # (an unbuilt Sequential: its layers, as Keras 3 lists them)
            self._require_built("summary")
        _print_summary(self, line_length, positions, print_fn, show_trainable)

    # ---- config and saving -------------------------------------------------------------------

    def get_config(self):
        """Keras's config: a functional model's architecture (`_graph_config`); a subclass's the
        arguments that rebuild it with ``cls(**config)``: its name and trainable flag, and its
        ``__init__`` arguments when they are plain values (Keras 3's auto config). A subclass
        whose arguments are not (a layer, a function) overrides get_config, as in Keras."""
        if not self._subclassed or type(self) in (Model, Sequential):
            return self._graph_config()
        auto = self.__dict__.get("_auto_config")
        if auto is None and _init_arguments(type(self)):
            raise NotImplementedError(
                f"Object {type(self).__name__} was created by passing non-serializable argument values in `__init__()`, "
                "and therefore the object must override `get_config()` in order to be serializable. Please implement "
                "`get_config()`.")
        return {"name": self.name, "trainable": self._trainable, **(auto or {})}

    def _graph_config(self):
        """The model's architecture as a JSON-serialisable dict (layers by class name and config). A
        model nested in it is one entry holding its own config, as in Keras, so the loaded model
        lists it (``model.layers[1]`` is the base model again) and its layers' names need only be
        unique inside it (two towers with a layer "proj" each); where that cannot be (`_config_units`),
        every layer is listed flat."""
        self._require_built("get_config")
        units = _config_units(self)
        if units is None:
            _check_unique_names(self, "save the architecture")
            units = [("step", k) for k in range(len(self._steps))]
        refs = {i: (layer.name, 0, 0) for i, layer in enumerate(self._input_layers)}
        calls = {}  # id(layer or nested model) -> its calls so far

        def ref(slot):  # a layer's name, or [name, c, k]: the k-th output of its c-th call in the model
            name, c, k = refs[slot]
            return [name, c, k] if c or k else name

        layers = [{"class_name": "InputLayer", "config": layer.get_config(), "inbound": []}
                  for layer in self._input_layers]
        for unit in units:
            if unit[0] == "model":  # one call of a nested model
                _, nested, ins, outputs, training = unit
                c = calls[id(nested)] = calls.get(id(nested), -1) + 1
                if c:
                    layers.append({"call": nested.name, "inbound": [ref(i) for i in ins]})
                else:
                    layers.append({"class_name": "Sequential" if isinstance(nested, Sequential) else "Functional",
                                   "name": nested.name, "config": nested.get_config(),
                                   "inbound": [ref(i) for i in ins]})
                if training is not None:
                    layers[-1]["training"] = training
                refs.update((slot, (nested.name, c, k)) for slot, k in outputs.items())
                continue
            k = unit[1]
            layer, ins, out, _, _ = self._steps[k]
            c = calls[id(layer)] = calls.get(id(layer), -1) + 1
            if c:  # another call of a shared layer: the layer by name, its inputs
                layers.append({"call": layer.name, "inbound": [ref(i) for i in ins]})
            else:
                layers.append({"class_name": type(layer).__name__, "name": layer.name, "config": layer.get_config(),
                               "inbound": [ref(i) for i in ins]})
            refs.update((o, (layer.name, c, j)) for j, o in enumerate(_slots(out)))
            if k in self._step_training:  # a call's own training argument (base(x, training=False))
                layers[-1]["training"] = self._step_training[k]
            if layer.__dict__.get("_input_keys") is not None:  # a user layer called on a dict
                layers[-1]["input_keys"] = list(layer._input_keys)
        config = {"name": self.name, "trainable": self._trainable, "layers": layers,
                  "input_layers": [layer.name for layer in self._input_layers],
                  "output_layers": [ref(s) for s in self._output_slots]}
        if self._loss_slots:
            config["added_losses"] = [ref(s) for s in self._loss_slots]
        if self._input_keys is not None:
            config["input_keys"] = list(self._input_keys)
        if self._output_keys is not None:
            config["output_keys"] = list(self._output_keys)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a functional model from `get_config`'s dict (allow-listed layer classes only); a
        subclass from its arguments, ``cls(**config)``, as Keras does."""
        if "layers" not in config and cls not in (Model, Sequential):
            try:
                return cls(**config)
            except TypeError as e:
                raise TypeError(
                    "Unable to revive model from config. When overriding the `get_config()` method, make sure that the "
                    "returned config contains all items used as arguments in the constructor to "
                    f"{cls.__name__}, which is the default behavior. You can override this default behavior by "
                    f"defining a `from_config(cls, config)` class method to specify how to create an instance of "
                    f"{cls.__name__} from its config.\n\nReceived config={config}\n\nError encountered during "
                    f"deserialization: {e}") from None
        from .saving import _layer_from_config, deserialize_model

        def new_layer(entry):
            if _is_model_entry(entry):  # a nested model, with its own config
                return deserialize_model({"class_name": entry["class_name"], "config": entry["config"]},
                                         custom_objects)
            layer = _layer_from_config(entry, custom_objects)
            if entry.get("name"):  # (a user layer's get_config may leave its name out: the model's holds it)
                layer.name = entry["name"]
            return layer

        return cls._from_graph_config(config, new_layer)

    @classmethod
    def _from_graph_config(cls, config, new_layer, call_layer=None, input_tensors=None):
        """The functional model of ``config`` (`get_config`'s), each entry's layer made by
        ``new_layer(entry)`` (Input entries too, unless ``input_tensors`` stand for them), each call
        made by ``call_layer(layer, inputs, training=...)`` (default: ``layer(inputs, training=...)``)."""
        tensors, made = {}, {}  # (layer name, call) -> its output (a list for several); name -> layer
        given_inputs = dict(zip(config["input_layers"], input_tensors)) if input_tensors is not None else {}

        def tensor(ref):  # a layer's name, or [name, c, k]: the k-th output of its c-th call
            name, c, k = (ref, 0, 0) if isinstance(ref, str) else ref
            t = tensors[(name, c)]
            return t[k] if isinstance(t, list) else t

        for entry in config["layers"]:
            if "call" in entry:  # another call of a shared layer
                if entry["call"] not in made:
                    raise ValueError(f"Invalid layer entry in the model config: {entry!r} (a call of a layer that no "
                                     "entry before it defines)")
                layer = made[entry["call"]]
            elif _entry_name(entry) in given_inputs:  # (clone_model's input_tensors)
                tensors[(_entry_name(entry), 0)] = given_inputs[_entry_name(entry)]
                continue
            else:
                layer = new_layer(entry)
                made[_entry_name(entry) or layer.name] = layer
            if isinstance(layer, InputLayer):
                tensors[(_entry_name(entry) or layer.name, 0)] = layer.output
                continue
            ins = [tensor(ref) for ref in entry.get("inbound", [])]
            if not ins:
                raise ValueError(f"Layer '{layer.name}' has no inbound layers in the config")
            key = entry["call"] if "call" in entry else _entry_name(entry) or layer.name
            c = sum(1 for name, _ in tensors if name == key)
            if isinstance(layer, Model):
                ins = ins if len(ins) > 1 else ins[0]
            else:
                if entry.get("input_keys"):
                    ins = [dict(zip(entry["input_keys"], ins))]
                ins = ins if layer._multi_input or len(ins) > 1 else ins[0]
            tensors[(key, c)] = layer(ins, training=entry.get("training")) if call_layer is None else \
                call_layer(layer, ins, training=entry.get("training"))
        inputs = [tensors[(name, 0)] for name in config["input_layers"]]
        outputs = [tensor(ref) for ref in config["output_layers"]]
        inputs = dict(zip(config["input_keys"], inputs)) if config.get("input_keys") else \
            inputs[0] if len(inputs) == 1 else inputs
        outputs = dict(zip(config["output_keys"], outputs)) if config.get("output_keys") else \
            outputs[0] if len(outputs) == 1 else outputs
        model = cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))
        if config.get("added_losses"):
            model.add_loss([tensor(ref) for ref in config["added_losses"]])
        return model

    def to_yaml(self, **kwargs):
        raise RuntimeError("Method `model.to_yaml()` has been removed due to security risk of arbitrary code "
                           "execution (as in tf.keras 2.6+). Please use `model.to_json()` instead.")

    def to_json(self, **kwargs):
        """The architecture as a JSON string (see `model_from_json`)."""
        from .saving import serialize_model

        return json.dumps(serialize_model(self), **kwargs)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save architecture, weights and compile arguments to one safetensors-layout file (atomic)."""
        from .saving import save_model

        self._require_call("be saved whole (save_weights saves its weights)")
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights only (safetensors layout, tensors named ``<layer>.<weight>``)."""
        from .saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Load weights saved by `save_weights` or `save`; every name and shape is checked first,
        so a bad file leaves the model untouched."""
        from .saving import load_weights

        if skip_mismatch:
            raise ValueError("load_weights: skip_mismatch is not supported")
        load_weights(self, filepath)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Dense(64, activation="relu", input_shape=(784,)),
    Dense(10, activation="softmax")])``.

    The input shape comes from an ``Input``/``InputLayer`` added first, from the first layer's
    ``input_shape``/``input_dim``, from `build`, or from the first batch of data.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        _refuse_call_override(self, "Sequential")
        if isinstance(layers, Layer) or isinstance(name, Layer):
            given = [type(x).__name__ for x in (layers, name) if isinstance(x, Layer)]
            raise TypeError(f"Sequential takes a list of layers: Sequential([Dense(10), Dense(1)]). Received: "
                            f"{' and '.join(given)} {'as separate arguments' if len(given) > 1 else 'not in a list'}")
        self._init_state(name or utils.unique_name("sequential"))
        self._stack = []
        self._added_from = {}  # id(layer) -> the model it was added with (_add_model), for the summary
        self._chain_nodes = []  # (layer, node): the symbolic graph of the stack, see _rebuild
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    @property
    def layers(self):
        """The stack, a model added with `add` (Sequential([generator, discriminator])) as one entry."""
        return list(dict.fromkeys(self._added_from.get(id(layer), layer) for layer in self._stack))

    @property
    def _all_layers(self):
        return list(self._stack)

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Keras 2's class predictions: the arg-max of each output row, or ``output > 0.5`` (as
        int32, shape (N, 1)) for a single output unit."""
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        """Keras 2's name for `predict` (the outputs are the probabilities)."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def add(self, layer):
        """Append a layer (or an ``Input(...)`` tensor / ``InputLayer`` as the first element)."""
        if isinstance(layer, KerasTensor):
            if layer.node is None or not isinstance(layer.node.layer, InputLayer):
                raise ValueError("Sequential.add accepts layers, or an Input() tensor as the first element. "
                                 f"Received: {layer!r}")
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(f"Sequential model '{self.name}' already has an input; an Input/InputLayer must be "
                                 "the first element")
            self._input_layer = layer
            self._rebuild()
            return
        if isinstance(layer, Model):
            self._add_model(layer)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be an instance of class Layer. Received: layer={layer!r} of type "
                            f"{type(layer)}.")
        if layer._multi_input:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) takes several inputs and cannot be used "
                             "in a Sequential model; use the functional API")
        # (names are unique among the model's own entries: a model added whole is one, whose layers
        # may share names with the others, as in Keras)
        entry = self._added_from.get(id(layer), layer)
        if any(e is not entry and e.name == entry.name for e in (self._added_from.get(id(l), l) for l in self._stack)):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{entry.name}' is "
                             "already the name of a layer in this model. Update the `name` argument to pass a unique "
                             "name.")
        created_input = False
        batch_shape = layer._batch_input_shape
        if batch_shape is None and type(layer).__name__ == "Embedding":
            batch_shape = (None, None)  # (tf.keras's Embedding: sequences of any length, so summary() works at once)
        if self._input_layer is None and not self._stack and batch_shape is not None:
            self._input_layer = InputLayer(batch_shape=batch_shape, dtype=layer.input_dtype or layer.dtype)
            created_input = True
            self._input_implied = layer._batch_input_shape is None  # (the Embedding's (None, None) above)
        self._stack.append(layer)
        try:
            self._rebuild()
        except Exception:
            self._stack.pop()
            if created_input:
                self._input_layer = None
            elif self.__dict__.get("_input_implied") and self._input_layer is not None:
                # sequences of any length cannot reach this layer (Embedding, Flatten, Dense): built on
                # the first data instead, as Keras 3 builds a Sequential without an Input
                self._input_layer, self._input_implied = None, False
                self._stack.append(layer)
                self._rebuild()
                return
            self._rebuild()
            raise

    def _add_model(self, model):
        """``Sequential([generator, discriminator])``: a model whose layers form one chain is added
        layer by layer (the same layer objects, so the weights are shared); its input, when it has
        one and this model has none yet, becomes this model's input."""
        chain = model.built and len(model._input_layers) == 1 and all(
            ins == (k,) and out == k + 1 for k, (_, ins, out, _, _) in enumerate(model._steps))
        if isinstance(model, Sequential) and not model.built:
            chain = True
        if not chain:
            raise TypeError(f"Model '{model.name}' is not a single chain of layers and cannot be added to a Sequential "
                            "model; nest it with the functional API instead: Model(inputs, model(inputs))")
        stack = model._stack if isinstance(model, Sequential) else [step[0] for step in model._steps]
        if not stack:
            raise ValueError(f"Model '{model.name}' has no layers")
        if model.built and self._input_layer is None and not self._stack:
            self.add(InputLayer(batch_shape=model._input_layers[0].batch_shape,
                                dtype=model._input_layers[0].dtype))
        for layer in stack:
            self._added_from[id(layer)] = model
            try:
                self.add(layer)
            except Exception:
                del self._added_from[id(layer)]
                raise

    def pop(self):
        """Remove the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._added_from.pop(id(layer), None)
        self._rebuild()
        return layer

    def build(self, input_shape=None):
        """Build for inputs of ``input_shape`` (batch axis included, e.g. ``(None, 784)``)."""
        if input_shape is not None:
            shape = tuple(input_shape)
            have = tuple(self._input_layer.batch_shape[1:]) if self._input_layer is not None else None
            if have is not None and (len(have) != len(shape) - 1 or any(
                    h is not None and d is not None and h != d for h, d in zip(have, shape[1:]))):
                raise ValueError(f"Sequential model '{self.name}' already has input shape "
                                 f"{_shape_str(self._input_layer.batch_shape)}. Received: input_shape={shape}")
            if self._input_layer is None:
                dtype = (self._stack[0].input_dtype or self._stack[0].dtype) if self._stack else None
                self._input_layer = InputLayer(batch_shape=(None,) + shape[1:], dtype=dtype)
        if self._input_layer is None:
            raise ValueError("You must provide an `input_shape` argument.")
        self._rebuild()

    def _ensure_built(self, data_shape, text=False, dtypes=None):
        if self._input_layer is None:
            if not self._stack:
                raise ValueError(f"Sequential model '{self.name}' has no layers")
            first = self._stack[0]
            # (strings for a first layer that takes them: TensorFlow's text tutorial exports
            # Sequential([vectorize_layer, model, Activation("sigmoid")]) and feeds it raw reviews)
            takes_strings = getattr(first, "_takes_strings", None)
            text = text and takes_strings is not None and takes_strings()
            self._input_layer = InputLayer(batch_shape=(None,) + tuple(data_shape[1:]),
                                           dtype="string" if text else first.input_dtype or first.dtype)
            self._input_from_data = True  # (data of another shape builds it again: `_prepare_x`)
            try:
                self._rebuild()
            except Exception:
                self._input_layer = None
                self.built = False
                raise
        elif not self.built:
            self._rebuild()

    def _rebuild(self):
        if self._input_layer is None or not self._stack:
            self.built = False
            self._steps = []
            self._input_layers = []
            self._layers = list(self._stack)
            return
        shape = self._input_layer.batch_shape
        shapes, steps = [shape], []
        for i, layer in enumerate(self._stack):
            layer._maybe_build(shape)
            layer._check_input(shape)
            shape = layer.compute_output_shape(shape)
            if isinstance(shape, list):
                raise ValueError(f"All layers in a Sequential model should have a single output tensor; layer "
                                 f"'{layer.name}' has {len(shape)} (return_state). For layers with several outputs, "
                                 "use the functional API")
            shape = tuple(shape)
            steps.append((layer, (i,), i + 1))
            shapes.append(shape)
        self._layers = list(self._stack)
        self._finalize(steps, shapes, [self._input_layer])
        # the symbolic graph Keras's Sequential has too: model.input and .output, each layer's input
        # and output (an activation model: Model(model.input, [l.output for l in model.layers[:4]]))
        for layer, node in self._chain_nodes:
            if node in layer._inbound_nodes:
                layer._inbound_nodes.remove(node)
        tensor, self._chain_nodes = self._input_layer.output, []
        for layer in self._stack:
            tensor = layer(tensor)
            self._chain_nodes.append((layer, tensor.node))
        self.inputs, self.outputs = [self._input_layer.output], [tensor]
        # layers added with a model show as that model's row, fed by its first layer's input
        self._step_owners = [self._added_from.get(id(layer)) for layer in self._stack]
        self._nested_inputs = {}
        for i, owner in enumerate(self._step_owners):
            if owner is not None:
                self._nested_inputs.setdefault(id(owner), [[i]])

    def get_config(self):
        """Keras's: the InputLayer, then each layer's class and config; a built model added whole
        (``Sequential([base_model, Dense(10)])``) is one entry holding its own config."""
        if self._input_layer is None and not self._stack:
            self._require_built("get_config")
        # (one not built yet, as a data-augmentation Sequential added to a model: its layers alone)
        layers = [] if self._input_layer is None else [{"class_name": "InputLayer",
                                                         "config": self._input_layer.get_config()}]
        i = 0
        while i < len(self._stack):
            nested = self._added_from.get(id(self._stack[i]))
            inner = None if nested is None or type(nested) not in (Model, Sequential) \
                else list(nested._stack) if isinstance(nested, Sequential) \
                else [step[0] for step in nested._steps] if nested.built else None
            if inner and self._stack[i:i + len(inner)] == inner:
                layers.append({"class_name": "Sequential" if isinstance(nested, Sequential) else "Functional",
                               "config": nested.get_config()})
                i += len(inner)
                continue
            layers.append({"class_name": type(self._stack[i]).__name__, "config": self._stack[i].get_config()})
            i += 1
        return {"name": self.name, "trainable": self._trainable, "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .saving import _layer_from_config, deserialize_model

        model = cls(name=config.get("name"))
        for entry in config["layers"]:
            model.add(deserialize_model(entry, custom_objects) if _is_model_entry(entry)
                      else _layer_from_config(entry, custom_objects))
        if not config.get("trainable", True):
            model.trainable = False
        return model


# ---- summary ------------------------------------------------------------------------------------


def _readable_size(nbytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes / 1024 < 1:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"


def _wrap(text, width):
    return textwrap.wrap(text, width) or [""]


def _check_unique_names(model, action, layers=None):
    """A saved model names its layers (the config's graph, the weights' keys): a nested model's
    layer named like one of the outer model's (allowed, as in Keras) cannot be saved that way."""
    seen = {}
    for layer in model._all_layers if layers is None else layers:
        if layer.name in seen and seen[layer.name] is not layer:
            raise ValueError(f"Cannot {action} of model '{model.name}': the layer name {layer.name!r} is used twice "
                             "(by a layer of a nested model and another layer). Save the nested models on their own "
                             "(generator.save(...)), or rename one of the layers")
        seen[layer.name] = layer


def _keras_layer_order(model):
    """A functional model's layers in Keras's order (its ``map_graph``): by decreasing depth from the
    outputs, and at one depth in the order a depth-first walk back from the outputs first meets
    them. An InputLayer comes where it is used (the machine-translation notebook rebuilds its
    attention model from ``model.layers[2:10]``); a nested model is one entry."""
    owners = model._step_owners or [None] * len(model._steps)
    n_inputs = len(model._input_layers)
    nodes = [(layer, ()) for layer in model._input_layers] + \
        [(owner or step[0], tuple(step[1])) for step, owner in zip(model._steps, owners)]
    producer = {i: i for i in range(n_inputs)}
    for k, step in enumerate(model._steps):
        for o in _slots(step[2]):
            producer[o] = n_inputs + k
    first_met, finished, depth = {}, [], {}
    for slot in model._output_slots:  # (iterative depth-first walks: deep models nest no recursion)
        stack = [(producer[slot], False)]
        while stack:
            node, done = stack.pop()
            if done:
                finished.append(node)
                continue
            if node in depth:
                continue
            depth[node] = 0
            first_met.setdefault(nodes[node][0], len(first_met))
            stack.append((node, True))
            stack.extend((producer[i], False) for i in reversed(nodes[node][1]))
    for node in reversed(finished):  # (consumers before their producers)
        for i in nodes[node][1]:
            depth[producer[i]] = max(depth[producer[i]], depth[node] + 1)
    layer_depth = {}
    for node, d in depth.items():
        layer = nodes[node][0]
        layer_depth[layer] = max(layer_depth.get(layer, 0), d)
    ordered = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], first_met[layer]))
    unused = [layer for layer, _ in nodes if layer not in layer_depth]  # (an input no output needs)
    return list(dict.fromkeys(unused + ordered))


def _slot_producers(model):
    """{slot: the name of the layer that produces it}: the InputLayers' for the input slots."""
    producer = {i: layer.name for i, layer in enumerate(model._input_layers)}
    for layer, _, out, _, _ in model._steps:
        for o in _slots(out):
            producer[o] = layer.name
    return producer


def _output_indices(model):
    """{slot: k} for the k-th output (k > 0) of a layer with several outputs."""
    return {o: k for _, _, out, _, _ in model._steps if type(out) is tuple for k, o in enumerate(out) if k}


def _call_indices(model):
    """{slot: c} for the outputs of the c-th call (c > 0) of a shared layer in the model."""
    calls, index = {}, {}
    for layer, _, out, _, _ in model._steps:
        c = calls[id(layer)] = calls.get(id(layer), -1) + 1
        if c:
            for o in _slots(out):
                index[o] = c
    return index


def _entry_name(entry):
    """The layer name a config entry is known by (an Input's is in its config)."""
    return entry.get("name") or (entry.get("config") or {}).get("name")


def _is_model_entry(entry):
    """Whether a config entry is a nested model's (its own config, with a list of layers)."""
    return entry.get("class_name") in ("Functional", "Sequential", "Model") and isinstance(entry.get("config"), dict) \
        and isinstance(entry["config"].get("layers"), list)


def _config_units(model):
    """A functional model's config entries in a valid order: ``("step", k)`` for a step of its own
    layers, ``("model", nested, input slots, {slot: output index}, training)`` for one call of a
    model nested in it. None where a nested model cannot stand as one entry, so the config lists
    every layer flat: one of its layers also used outside it, a subclass (rebuilt only from its
    class), only part of it in the graph, or an inner tensor of it used outside it (a VAE's add_loss
    on the encoder's hidden layer)."""
    steps = model._steps
    owners = model._step_owners or [None] * len(steps)
    nodes = model._step_nodes or [None] * len(steps)
    groups = {}  # (id(nested model), its call) -> its steps here
    for k, owner in enumerate(owners):
        if owner is not None and owner is not model:
            if type(owner) not in (Model, Sequential) or nodes[k] is None:
                return None
            groups.setdefault((id(owner), getattr(nodes[k], "nested_call_index", 0)), []).append(k)
    if not groups:
        return [("step", k) for k in range(len(steps))]
    group_of = {k: key for key, ks in groups.items() for k in ks}
    home = {}  # id(layer) -> the nested model it belongs to (None: the model's own)
    for k, step in enumerate(steps):
        where = id(owners[k]) if k in group_of else None
        if home.setdefault(id(step[0]), where) != where:
            return None
    producer = {o: k for k, step in enumerate(steps) for o in _slots(step[2])}
    calls = {}  # group -> (nested model, input slots, {slot: output index})
    for slot, (nested, index, ins) in model._nested_outputs.items():
        key = group_of.get(producer.get(slot))
        if key is None or key[0] != id(nested) or calls.setdefault(key, (nested, ins, {}))[1] != ins:
            return None
        calls[key][2][slot] = index
    # the slots something outside their producer's group reads (and the model's outputs, loss terms, metrics)
    used_outside = {i for k, (_, ins, _, _, _) in enumerate(steps) for i in ins
                    if i in producer and group_of.get(producer[i]) != group_of.get(k)}
    used_outside.update(model._output_slots, model._loss_slots, (s for _, s in model._metric_slots))
    units, deps = [], []
    for key, ks in groups.items():
        nested, ins, outputs = calls.get(key, (None, None, None))
        if nested is None or len(ks) != len(nested._steps):
            return None
        inside = {o for k in ks for o in _slots(steps[k][2])}
        if any(o in used_outside and o not in outputs for o in inside) or \
                any(i not in inside and i not in ins for k in ks for i in steps[k][1]):
            return None
        # the call's training argument: the flag of its steps whose layers have none of their own
        own = {id(nested._steps[j][0]) for j in nested._step_training}
        flags = {model._step_training.get(k) for k in ks if id(steps[k][0]) not in own}
        if len(flags) > 1:
            return None
        units.append((max(ks), ("model", nested, ins, outputs, flags.pop() if flags else None), ks))
        deps.append({producer[i] for i in ins if i in producer})
    for k, (_, ins, _, _, _) in enumerate(steps):
        if k not in group_of:
            units.append((k, ("step", k), [k]))
            deps.append({producer[i] for i in ins if i in producer})
    # in dependency order (Kahn's), earliest last step first: a unit after the units it reads from
    unit_of = {k: u for u, (_, _, ks) in enumerate(units) for k in ks}
    waiting = [{unit_of[p] for p in d} for d in deps]
    readers = [[] for _ in units]
    for u, ws in enumerate(waiting):
        for w in ws:
            readers[w].append(u)
    ready = [(units[u][0], u) for u, ws in enumerate(waiting) if not ws]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, u = heapq.heappop(ready)
        ordered.append(units[u][1])
        for r in readers[u]:
            waiting[r].discard(u)
            if not waiting[r]:
                heapq.heappush(ready, (units[r][0], r))
    return ordered if len(ordered) == len(units) else None


def _display_type(obj):
    """A row's type as Keras prints it: a nested functional model is "Functional"."""
    return "Functional" if type(obj) is Model else type(obj).__name__


def _layer_graph(model):
    """The layers as summary and plot_model show them, in topological order: a list of
    (layer, inbound layer names, input shapes, output shape, (node, tensor) index pairs of the
    inbound tensors as Keras prints them, ``name[node][tensor]``). A functional model's
    InputLayer comes first; a Sequential's is left out, as Keras does (its first layer's inbound
    name is still the InputLayer's). The steps of a model nested with ``outer(inner(x))`` make one
    row for that model, where its last step is, fed by the tensors it was called on; with several
    outputs its output shape is their list. A shared layer (called more than once) has one row,
    where its first call is, with the inbound tensors of all its calls and its last call's shape."""
    shapes = model._slot_shapes
    owners = model._step_owners or [None] * len(model._steps)
    nodes = model._step_nodes or [None] * len(model._steps)
    producer = _slot_producers(model)
    index = _output_indices(model)  # which output of a layer with several a slot is
    node_index = {}  # which call of its layer made a slot: the node's place among the layer's calls
    last, outputs = {}, {}
    for k, ((layer, _, out, _, _), owner, node) in enumerate(zip(model._steps, owners, nodes)):
        if node is not None and node in layer._inbound_nodes:
            for o in _slots(out):
                node_index[o] = layer._inbound_nodes.index(node)
        if owner is not None:
            last[id(owner)] = k
            for o, tensor in zip(_slots(out), node.outputs if node is not None else []):
                producer[o] = owner.name
                index.pop(o, None)
                node_index[o] = getattr(node, "nested_call_index", 0)
                if hasattr(tensor, "nested_output_index"):
                    index[o] = tensor.nested_output_index
                    shown = outputs.setdefault(id(owner), {})
                    shown.setdefault(index[o], shapes[o])  # (each call has the same outputs)
    # Keras shows no InputLayer row for a Sequential or subclassed model
    hidden = type(model) is Sequential or model._subclassed
    rows = [] if hidden else [(layer, [], [], shapes[i], []) for i, layer in enumerate(model._input_layers)]

    def which(ins):
        return [(node_index.get(i, 0), index.get(i, 0)) for i in ins]

    row_of = {}  # a shared layer's row
    for k, ((layer, ins, out, _, _), owner) in enumerate(zip(model._steps, owners)):
        if owner is None:
            shape = [shapes[o] for o in out] if type(out) is tuple else shapes[out]
            if id(layer) in row_of:  # another call of a shared layer
                r = row_of[id(layer)]
                _, names, in_shapes, _, pairs = rows[r]
                rows[r] = (layer, names + [producer[i] for i in ins], in_shapes + [shapes[i] for i in ins], shape,
                           pairs + which(ins))
                continue
            row_of[id(layer)] = len(rows)
            rows.append((layer, [producer[i] for i in ins], [shapes[i] for i in ins], shape, which(ins)))
        elif last[id(owner)] == k:  # one row for a nested model, fed by the inputs of all its calls
            ins = [i for call in model._nested_inputs[id(owner)] for i in call]
            outs = [shape for _, shape in sorted(outputs.get(id(owner), {}).items())]
            rows.append((owner, [producer[i] for i in ins], [shapes[i] for i in ins],
                         outs if len(outs) > 1 else shapes[_slots(out)[0]], which(ins)))
    return rows


def _shapes_str(shape):
    """A shape as Keras prints it; a list of shapes (a nested model's outputs) as their list."""
    return "[" + ", ".join(_shape_str(s) for s in shape) + "]" if isinstance(shape, list) else _shape_str(shape)


def _more_than_inputs(call, args, kwargs):
    """Whether a model's ``call`` gets more than its inputs and the training flag from these
    arguments (after the inputs): another positional one, or another keyword (a mask too)."""
    names = [n for n, p in inspect.signature(call).parameters.items()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][2:]
    if len(args) > 1 or kwargs:
        return True
    return bool(args) and bool(names) and names[0] != "training"


def _listed(shape):
    """A shape, or a list of shapes (several inputs), as a list of tuples."""
    return [tuple(s) for s in shape] if isinstance(shape, list) else [tuple(shape)]


def _loss_value(loss, y, out, sw):
    """The batch loss of the compiled loss object: a subclass that overrides ``__call__`` itself
    (a loss of the whole batch) is called on a tape leaf for the output, its result checked, and the
    tape kept for its gradient (`Loss._trace`)."""
    if type(loss).__call__ is not losses_module.Loss.__call__ and isinstance(loss, losses_module.Loss):
        return loss._batch_loss(y, out, sw)
    return loss(y, out, sw)


def _held_layers(model):
    """The layers and models a model without call() holds in its attributes, in assignment order."""
    held = []
    for attr, value in vars(model).items():
        if attr not in model._state_attrs and isinstance(value, (Layer, Model)) and value not in held:
            held.append(value)
    return held


def _print_summary(model, line_length, positions, print_fn, show_trainable):
    emit = print_fn or print
    steps = model._steps
    consumers = {}
    for _, ins, _, _, _ in steps:
        for i in ins:
            consumers[i] = consumers.get(i, 0) + 1
    unbuilt = isinstance(model, Sequential) and not model.built
    sequential_like = unbuilt or model._holder or (  # (a model without call(): the models it holds, one row each)
        len(model._input_layers) == 1 and all(len(ins) == 1 for _, ins, _, _, _ in steps)
        and all(c <= 1 for c in consumers.values()) and not model._call_sites.steps)  # (Keras: no shared layer)
    header = ["Layer (type)", "Output Shape", "Param #"]
    align = ["left", "left", "right"]
    if sequential_like:
        line_length = line_length or 88
        positions = positions or [0.45, 0.80, 1.0]
    else:
        line_length = line_length or 108
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        header.append("Connected to")
        align.append("left")
    if show_trainable:
        line_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        align.append("center")
    if positions[-1] > 1:  # absolute positions, as Keras also accepts
        positions = [p / line_length for p in positions]
    inner = line_length - len(header) - 1  # the cells, without the vertical borders
    cuts = [int(round(p * inner)) for p in positions]
    widths = [max(c - p, 4) for p, c in zip([0] + cuts[:-1], cuts)]

    rows = []
    for held in _held_layers(model) if model._holder else []:
        shape = held.output_shape if isinstance(held, Model) and held.built else None
        rows.append([f"{held.name} ({_display_type(held)})", _shapes_str(shape) if shape is not None else "?",
                     f"{held.count_params():,}"] + ([("Y" if held.trainable else "N")] if show_trainable else []))
    for layer in model.layers if unbuilt else []:  # Keras 3's rows for a Sequential not built yet
        rows.append([f"{layer.name} ({_display_type(layer)})", "?",
                     f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"]
                    + ([("Y" if layer.trainable else "N") if layer.weights else "-"] if show_trainable else []))
    for layer, inbound, _, out_shape, which in [] if unbuilt else _layer_graph(model):
        fields = [f"{layer.name} ({_display_type(layer)})", _shapes_str(out_shape), f"{layer.count_params():,}"]
        if not sequential_like:
            fields.append(", ".join(f"{name}[{node}][{k}]" for name, (node, k) in zip(inbound, which)) if inbound
                          else "-")
        if show_trainable:
            fields.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows.append(fields)

    fancy = callbacks_module._can_encode("┏━┳┓┃┡╇┩│├┼┤└─┴┘")
    if fancy:
        top, head_sep, mid, bottom = ("┏", "━", "┳", "┓"), ("┡", "━", "╇", "┩"), ("├", "─", "┼", "┤"), ("└", "─", "┴", "┘")
        head_bar, bar = "┃", "│"
    else:
        top, head_sep, mid, bottom = ("+", "-", "+", "+"), ("+", "=", "+", "+"), ("+", "-", "+", "+"), ("+", "-", "+", "+")
        head_bar, bar = "|", "|"

    def rule(chars):
        left, fill, cross, right = chars
        return left + cross.join(fill * w for w in widths) + right

    def cells(fields, vbar):
        wrapped = [_wrap(f, w - 2) for f, w in zip(fields, widths)]
        lines = []
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for c, w, a in zip(wrapped, widths, align):
                text = c[k] if k < len(c) else ""
                text = text.rjust(w - 2) if a == "right" else text.center(w - 2) if a == "center" else text.ljust(w - 2)
                parts.append(" " + text + " ")
            lines.append(vbar + vbar.join(parts) + vbar)
        return lines

    out_lines = [f'Model: "{model.name}"', rule(top), *cells(header, head_bar), rule(head_sep)]
    for i, fields in enumerate(rows):
        if i:
            out_lines.append(rule(mid))
        out_lines += cells(fields, bar)
    out_lines.append(rule(bottom))

    def size(arrays):
        return sum(a.size for a in arrays), sum(a.nbytes for a in arrays)

    trainable, trainable_bytes = size(model.trainable_weights)
    frozen, frozen_bytes = size(model.non_trainable_weights)
    built = model.optimizer is not None and model.optimizer.built
    opt_count, opt_bytes = size(model.optimizer.variables if built else [])
    if built:  # Keras 3 counts the iteration counter and the learning rate too
        count, nbytes = model.optimizer._scalar_variables()
        opt_count, opt_bytes = opt_count + count, opt_bytes + nbytes
    out_lines.append(f" Total params: {trainable + frozen + opt_count:,} "
                     f"({_readable_size(trainable_bytes + frozen_bytes + opt_bytes)})")
    out_lines.append(f" Trainable params: {trainable:,} ({_readable_size(trainable_bytes)})")
    out_lines.append(f" Non-trainable params: {frozen:,} ({_readable_size(frozen_bytes)})")
    if built:
        out_lines.append(f" Optimizer params: {opt_count:,} ({_readable_size(opt_bytes)})")
    for line in out_lines:
        emit(line)


# ---- loading ------------------------------------------------------------------------------------


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `Model.save` (see `fastnn.saving.load_model`)."""
    from .saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """``keras.models.save_model(model, path)``: `Model.save`."""
    model.save(filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def model_from_json(json_string, custom_objects=None):
    """A new (untrained) model from `Model.to_json`'s string."""
    from .saving import deserialize_model

    return deserialize_model(json.loads(json_string), custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new model with the same architecture and freshly initialised weights, compiled as
    ``model`` is (a fresh optimizer and metrics of the same configs), as Keras 3 clones.

    Args:
        input_tensors: symbolic tensors to build the clone on, in the structure of
            ``model.input`` (a Sequential model: one tensor); default new Inputs.
        clone_function: ``fn(layer)`` giving the layer to use in the clone for each layer
            (not the Inputs); default ``layer.__class__.from_config(layer.get_config())``.
            ``lambda layer: layer`` reuses the layers (and their weights).
        call_function: ``fn(layer, inputs, **kwargs)`` making each call of a layer in a
            functional model (to add a layer after some: ``out = layer(*args, **kwargs)``
            then ``Dropout(0.5)(out)``); default ``layer(inputs, **kwargs)``.
        recursive: clone nested models with `clone_model` (the same functions) instead of
            passing them whole to ``clone_function``.
    A subclass of Model with its own call() is rebuilt by its class from its config; it takes
    none of these arguments, as in Keras."""
    if kwargs:
        raise ValueError(f"clone_model: unexpected keyword argument(s): {tuple(kwargs)}")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(f"clone_model: expected `clone_function` to be a callable. Received: clone_function="
                         f"{clone_function!r}")
    if call_function is not None and not callable(call_function):
        raise ValueError(f"clone_model: expected `call_function` to be a callable. Received: call_function="
                         f"{call_function!r}")
    if model._subclassed and type(model) not in (Model, Sequential):
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ValueError("clone_model: `clone_function`, `call_function` and `input_tensors` are only supported "
                             f"for Sequential and functional models. Received a model of type "
                             f"'{type(model).__name__}' (a subclass with its own call)")
        return _compiled_like(model, _clone_from_config(model))
    if isinstance(model, Sequential) and call_function is not None:
        raise ValueError("clone_model: `call_function` is not supported with Sequential models (their layers are "
                         "not called at construction); use it with functional models")
    if clone_function is None and call_function is None and input_tensors is None and not recursive:
        return _compiled_like(model, _clone_from_config(model))
    return _compiled_like(model, _clone_graph(model, clone_function, call_function, recursive, input_tensors, {}))


def _clone_from_config(model):
    """``model`` rebuilt from its config: each layer by its own class (a user's layer too, as
    Keras's ``layer.__class__.from_config``), a Lambda with its own function."""
    from . import saving
    from .saving import deserialize_model, serialize_model

    custom_objects = {type(model).__name__: type(model)}  # (a subclass: rebuilt by its class, as Keras does)
    for layer in model._all_layers:
        custom_objects[type(layer).__name__] = type(layer)
        for attr in ("function", "mask"):  # (a Lambda's named functions, by name, as its config holds them)
            fn = getattr(layer, attr, None) if hasattr(type(layer), "_functions_from_custom_objects") else None
            if callable(fn) and getattr(fn, "__name__", "<lambda>") != "<lambda>":
                custom_objects[fn.__name__] = fn
    token = saving._safe_mode.set(False)  # (a lambda's bytecode comes from this process, not from a file)
    try:
        return deserialize_model(serialize_model(model), custom_objects)
    finally:
        saving._safe_mode.reset(token)


def _clone_graph(model, clone_function, call_function, recursive, input_tensors, cache):
    """`clone_model` with a clone_function, call_function or input_tensors: each layer (each nested
    model, unless ``recursive``) given by ``clone_function`` once (``cache``: id -> clone, so a
    shared layer stays shared), the graph called again on the new inputs."""

    def clone_layer(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, Model) and not (layer._subclassed and type(layer) not in (Model, Sequential)):
                cache[id(layer)] = _clone_graph(layer, clone_function, call_function, recursive, None, cache)
            elif clone_function is None:
                cache[id(layer)] = _clone_from_config(layer) if isinstance(layer, Model) else \
                    type(layer).from_config(layer.get_config())
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]

    if isinstance(model, Sequential):
        if input_tensors is not None:
            if isinstance(input_tensors, (list, tuple)):
                if len(input_tensors) != 1:
                    raise ValueError(f"clone_model: a Sequential model's input_tensors must be one tensor. "
                                     f"Received {len(input_tensors)}")
                input_tensors = input_tensors[0]
            if not isinstance(input_tensors, KerasTensor):
                raise ValueError(f"clone_model: input_tensors must be symbolic tensors (keras.Input). Received: "
                                 f"{type(input_tensors).__name__}")
        clone = Sequential([clone_layer(layer) for layer in model.layers], name=model.name)
        if input_tensors is not None:
            return Model(input_tensors, clone(input_tensors), name=model.name)
        if model.built and model._input_layers:
            first = model._input_layers[0]
            clone._ensure_built(tuple(first.batch_shape), dtypes=[first.dtype])
        if not model.trainable:
            clone.trainable = False
        return clone
    config = model.get_config()
    by_name = {layer.name: layer for layer in model._all_layers}
    by_name.update((layer.name, layer) for layer in model.layers)  # (a nested model's entry is the model)
    if input_tensors is not None:
        if isinstance(input_tensors, dict):
            flat = [input_tensors[k] for k in config.get("input_keys") or list(input_tensors)]
        else:
            flat = list(input_tensors) if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(flat) != len(config["input_layers"]) or not all(isinstance(t, KerasTensor) for t in flat):
            raise ValueError(f"clone_model: input_tensors must be symbolic tensors (keras.Input) in the structure of "
                             f"model.input ({len(config['input_layers'])} tensor(s)). Received: {input_tensors!r}"[:400])
        input_tensors = flat

    def new_layer(entry):
        original = by_name[_entry_name(entry)]
        if isinstance(original, InputLayer):
            return InputLayer(batch_shape=original.batch_shape, dtype=original.dtype, name=original.name)
        return clone_layer(original)

    call = None if call_function is None else (lambda layer, ins, training=None: call_function(
        layer, ins, **({} if training is None else {"training": training})))
    return Model._from_graph_config(config, new_layer, call, input_tensors)


def _compiled_like(model, clone):
    """``clone`` compiled with ``model``'s compile arguments, a fresh optimizer and fresh metric
    objects of the same configs (Keras 3's clone_model compiles the clone)."""
    args = getattr(model, "_compile_args", None)
    if not getattr(model, "compiled", False) or not args:
        return clone
    args = dict(args)
    optimizer = args.get("optimizer")
    if isinstance(optimizer, optimizers.Optimizer):
        args["optimizer"] = type(optimizer).from_config(optimizer.get_config())

    def fresh(metric):
        if isinstance(metric, metrics_module.Metric):
            return type(metric).from_config(metric.get_config())
        if isinstance(metric, (list, tuple)):
            return [fresh(m) for m in metric]
        if isinstance(metric, dict):
            return {k: fresh(m) for k, m in metric.items()}
        return metric

    for key in ("metrics", "weighted_metrics"):
        if args.get(key) is not None:
            args[key] = fresh(args[key])
    try:
        clone.compile(**args)
    except (TypeError, ValueError) as e:  # (a clone_function that changed the outputs: compile it yourself)
        warnings.warn(f"clone_model: the clone is returned uncompiled, as it cannot take the model's compile "
                      f"arguments ({e}); compile it", stacklevel=3)
    return clone


__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_json", "clone_model"]
