"""fastnn.layers.base — the Layer protocol, the functional API's symbolic tensors, and Input.

Every layer follows one anatomy (after Keras):

- ``__init__`` validates and stores hyper-parameters; errors echo the bad value.
- ``build(input_shape)`` creates the weights through `Layer.add_weight`; ``input_shape``
  includes the batch axis (None when unknown).
- ``call(x, training=False)`` computes the output with `fastnn.ops` and keeps what
  ``backward`` needs (references, not copies).
- ``backward(dy)`` returns the input gradient (None when ``_need_input_grad`` is False: a
  model's first layer needs none) and stores the trainable weights' gradients, in
  ``trainable_weights`` order, in ``self._gradients``; `get_gradients` returns them.
- ``compute_output_shape``, ``get_config`` (``{**base_config, **config}``), ``from_config``.

Masks (Keras's convention): a boolean (batch, timesteps) array, True at the steps to use, made
by `Masking` or ``Embedding(mask_zero=True)`` and carried with the tensor through a model. A
layer's ``compute_mask(inputs, mask)`` gives the mask of its output; it is asked only when the
layer ``supports_masking`` (otherwise the mask stops there, as in Keras). A layer whose ``call``
has a ``mask`` parameter receives the mask of its input(s) there (a list for a merge layer).
``supports_masking`` is True for the layers that pass a mask on unchanged and for any layer
class that defines its own ``compute_mask``.

Weights are plain C-contiguous NumPy arrays owned by the layer and updated in place (by the
optimizer and by ``set_weights``), so their identity never changes after ``build``. A layer
takes a list of inputs when its class sets ``_multi_input`` (the merge layers). Layer classes
that `load_model` may rebuild from a file are registered with `register_layer`; nothing else
is ever instantiated from a file.

A user's layer written as Keras's guides write one — weights from ``add_weight`` in ``build``,
a ``call`` of ``fastnn.backend`` functions and operators, no ``backward`` — gets its backward
pass from `fastnn.autodiff`: ``call`` runs with its inputs and weights on the tape (see
`Layer.__init_subclass__`), and without a ``compute_output_shape`` the output shape comes from
running ``call`` on two small example batches.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import weakref

import numpy as np

from .. import _backend, autodiff, constraints, initializers, regularizers, utils
from .._batch_dataset import EagerArray, WeightArray
from ..autodiff import Operators

_REGISTRY: dict[str, type] = {}


def register_layer(cls):
    """Class decorator: allow `load_model` to rebuild ``cls`` from its config (by class name)."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"register_layer: a different layer class is already registered as {name!r}")
    _REGISTRY[name] = cls
    return cls


def registered_layers() -> dict:
    """The allow-list of layer classes `load_model` can rebuild, by class name."""
    return dict(_REGISTRY)


def _shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _positive_int(value, name):
    """``value`` as an int if it is a positive integer, else a Keras-style ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. "
                         f"Received: {name}={value!r}")
    return int(value)


def _standardize_shape(shape, name):
    """A shape tuple of positive ints or None; an int means a 1-tuple."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"Expected `{name}` to be a tuple of positive integers. Received: {name}={shape!r}") from None
    for d in dims:
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0):
            raise ValueError(f"Expected `{name}` to be a tuple of positive integers (or None). "
                             f"Received: {name}={shape!r}")
    return tuple(None if d is None else int(d) for d in dims)


def _standardize_dtype(dtype, allow_int=False, allow_string=False):
    if dtype is None:
        return utils.floatx()
    if type(dtype).__name__ in ("Policy", "DTypePolicy") and isinstance(getattr(dtype, "name", None), str):
        dtype = dtype.name  # (a dtype policy, Keras 3's dtype=keras.DTypePolicy("float32"))
    if allow_string and (dtype in ("string", "str", str, object, "object", np.str_, np.bytes_) or
                         (isinstance(dtype, np.dtype) and dtype.kind in "USO")):
        return "string"  # a model input of text (TextVectorization, StringLookup take it)
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name in ("float32", "float64") or (allow_int and name in _INPUT_INTS):
        return name
    raise ValueError(f"fastnn layers compute in 'float32' (or 'float64' on the NumPy backend)"
                     f"{'; inputs may also be integers or booleans (' + ', '.join(_INPUT_INTS) + ')' if allow_int else ''}. "
                     f"Received: dtype={dtype!r}")


# the integer dtypes a model's Input may have (uint8 pixels, int64 ids); float layers get them as
# floats (`Layer._as_input`, `Model._float_steps`)
_INPUT_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "bool")


# ---- Input specs ------------------------------------------------------------------------------


class ActivationAttribute:
    """A layer's ``activation`` (Dense, Conv*, Activation): assigning it re-resolves what the kernel
    fuses, as Keras reads the attribute at every call. Grad-CAM's ``model.layers[-1].activation =
    None`` ("remove the last layer's softmax") then gives logits, not the softmax of construction."""

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        return layer.__dict__.get("_activation_function")

    def __set__(self, layer, identifier):
        from .. import activations

        layer._act, layer._alpha, layer._unfused = activations.split(identifier)
        layer.__dict__["_activation_function"] = activations.get(identifier)


class InputSpec:
    """What a built layer accepts: ``ndim`` or ``min_ndim``, and fixed sizes of some ``axes``.

    `check` raises Keras's message: "Input 0 of layer 'dense' is incompatible with the layer:
    expected axis -1 to have value 784, found 28 (full input shape (None, 28))".
    """

    def __init__(self, ndim=None, min_ndim=None, max_ndim=None, axes=None):
        self.ndim, self.min_ndim, self.max_ndim = ndim, min_ndim, max_ndim
        self.axes = dict(axes or {})

    def check(self, layer_name, index, shape):
        prefix = f"Input {index} of layer '{layer_name}' is incompatible with the layer:"
        full = f"(full input shape {_shape_str(shape)})"
        n = len(shape)
        if self.ndim is not None and n != self.ndim:
            raise ValueError(f"{prefix} expected ndim={self.ndim}, found ndim={n} {full}")
        if self.min_ndim is not None and n < self.min_ndim:
            raise ValueError(f"{prefix} expected min_ndim={self.min_ndim}, found ndim={n} {full}")
        if self.max_ndim is not None and n > self.max_ndim:
            raise ValueError(f"{prefix} expected max_ndim={self.max_ndim}, found ndim={n} {full}")
        for axis, value in self.axes.items():
            if value is None or not -n <= axis < n:
                continue
            if shape[axis] is not None and shape[axis] != value:
                raise ValueError(f"{prefix} expected axis {axis} to have value {value}, found {shape[axis]} {full}")


# ---- Symbolic tensors (functional API) -------------------------------------------------------


class KerasTensor(Operators):
    """A symbolic tensor of the functional API: a shape (batch axis None), a dtype and the node
    (layer call) that produces it. Calling a layer on it records the graph; `fastnn.models.Model`
    turns the recorded graph into a model. Operators and the `fastnn.backend` functions applied
    to it add layers to the graph (`fastnn.layers.lambda_layer`)."""

    def __init__(self, shape, dtype, node=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = 0  # which output of its node (a layer may have several)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        producer = self.node.layer.name if self.node is not None else None
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, produced by layer {producer!r}>"


class Node:
    """One call of ``layer`` in a graph: its input tensors and its output tensor (a list of
    tensors for a layer with several outputs, such as an LSTM with return_state). ``outputs`` is
    always the list; each output tensor knows its ``index`` in it."""

    training = None  # the training flag the call gave, if any (bn(x, training=False)): it wins at run time

    def __init__(self, layer, inputs, output):
        self.layer = layer
        self.inputs = list(inputs)
        self.output = output
        self.outputs = list(output) if isinstance(output, list) else [output]
        for k, t in enumerate(self.outputs):
            t.node, t.index = self, k


def _is_symbolic(x):
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(t, KerasTensor) for t in x)


def _on_tape(x):
    """Whether ``x`` (or one of a list's items) is a `fastnn.autodiff.Tensor`: a layer called inside a
    custom layer's call()."""
    if isinstance(x, autodiff.Tensor):
        return True
    return isinstance(x, (list, tuple)) and any(isinstance(t, autodiff.Tensor) for t in x)


class TapeLeaves(dict):
    """The tape leaves of weight arrays, by id of the array: a custom layer's (`tape_weights`)."""

    # whether a custom layer called on this tape gives its add_loss terms tape tensors of their own
    # (a GradientTape's: ``loss + s * sum(model.losses)`` differentiates them as written), rather
    # than adding them to its output's gradient (a custom layer's tape: they join the outer layer's)
    separate_losses = False

    def leaf(self, weight):
        """The leaf of ``weight`` (an array), or None when it is not on this tape."""
        return self.get(id(weight))

    def records(self, layer):
        """Whether a call of ``layer`` on arrays is a node of this tape: it uses weights on it."""
        return any(id(w) in self for w in layer.trainable_weights)


class ThreadStack(threading.local):
    """A stack (list operations) of its own in each thread: a GradientTape recording, or a custom
    layer's call() running, in one thread is not seen by another (TensorFlow's tapes are
    thread-local: a model predicting in a second thread is not recorded on the first's tape)."""

    def __init__(self):
        self.items = []

    def append(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()

    def __getitem__(self, index):
        return self.items[index]

    def __delitem__(self, index):
        del self.items[index]

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


# While a custom layer's call() runs on the tape (or a `fastnn.GradientTape` records): the leaves of
# its weights (`TapeLeaves`), so a layer it calls routes its weight gradients there, and its training
# flag (which the layers it calls inherit, as in Keras). Stacks, per thread: custom layers may nest.
_tape_leaves = ThreadStack()
_tape_training = ThreadStack()
autodiff.current_leaves = lambda: _tape_leaves[-1] if _tape_leaves else None  # (where a tf.Variable records)


def set_weight_options(layer, **parts):
    """``part=(initializer, regularizer, constraint)`` -> ``layer.<part>_initializer``, ``_regularizer``
    and ``_constraint``, resolved (Keras's arguments of a layer's named weights: kernel, bias, gamma...)."""
    for part, (initializer, regularizer, constraint) in parts.items():
        setattr(layer, f"{part}_initializer", initializers.get(initializer))
        setattr(layer, f"{part}_regularizer", regularizers.get(regularizer))
        setattr(layer, f"{part}_constraint", constraints.get(constraint))


def weight_options_config(layer, *parts):
    """The config keys `set_weight_options` reads back, for the named weights."""
    config = {}
    for part in parts:
        config[f"{part}_initializer"] = initializers.serialize(getattr(layer, f"{part}_initializer"))
        config[f"{part}_regularizer"] = regularizers.serialize(getattr(layer, f"{part}_regularizer"))
        config[f"{part}_constraint"] = constraints.serialize(getattr(layer, f"{part}_constraint"))
    return config


_WEIGHT_ORDER = ("name", "shape", "initializer", "regularizer", "trainable", "dtype", "constraint")
_TF_KERAS2_WEIGHT_ORDER = ("name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint")
_KERAS3_WEIGHT_ORDER = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint",
                        "aggregation", "overwrite_with_gradient", "name")
_IGNORED_WEIGHT_ARGUMENTS = ("autocast", "aggregation", "overwrite_with_gradient", "synchronization", "use_resource",
                             "experimental_autocast", "caching_device", "partitioner")


def weight_arguments(args, kwargs, who):
    """(name, shape, initializer, regularizer, trainable, dtype, constraint) of an add_weight call:
    positional in fastnn's order (name, shape, initializer, ...) when the first is a name (a str) and
    the third no dtype, in tf.keras 2's (name, shape, dtype, initializer, ...) when it is one
    (``add_weight("w", (2,), "float32")``), else in Keras 3's (``add_weight((3,), "zeros", name="b")``).
    ``trainable=None`` is True, as tf.keras 2 reads it."""
    if args and not isinstance(args[0], str):
        order = _KERAS3_WEIGHT_ORDER
    elif len(args) > 2 and _is_dtype(args[2]):
        order = _TF_KERAS2_WEIGHT_ORDER
    else:
        order = _WEIGHT_ORDER
    given = bind_arguments(args, kwargs, order, _WEIGHT_ORDER + _IGNORED_WEIGHT_ARGUMENTS, who)
    trainable = given.get("trainable")
    return (given.get("name"), given.get("shape"), given.get("initializer"), given.get("regularizer"),
            True if trainable is None else trainable, given.get("dtype"), given.get("constraint"))


def bind_arguments(args, kwargs, order, allowed, who):
    """``{name: value}`` of a call's positional ``args`` (named by ``order``) and keyword ``kwargs`` (each
    in ``allowed``), with Python's TypeErrors for too many, repeated or unknown arguments, naming ``who``."""
    if len(args) > len(order):
        raise TypeError(f"{who}: takes at most {len(order)} positional arguments ({', '.join(order)}); "
                        f"received {len(args)}")
    given = dict(zip(order, args))
    for key, value in kwargs.items():
        if key in given:
            raise TypeError(f"{who}: got multiple values for argument {key!r}")
        if key not in allowed:
            raise TypeError(f"{who}: got an unexpected keyword argument {key!r}")
        given[key] = value
    return given


def _is_dtype(value):
    """Whether ``value`` names a dtype ("float32", np.float32, tf.float32), not an initializer."""
    if value is None or callable(value) and not isinstance(value, type):
        return False
    try:
        np.dtype(getattr(value, "as_numpy_dtype", value))
    except TypeError:
        return False
    return True


def _weight_shape(shape, who):
    """A weight's shape as a tuple of ints: None is a scalar's (), an int a vector's (Géron's
    ``add_weight(shape=self.dense.input_shape[-1])``)."""
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: shape must be a tuple of non-negative ints (or one int). Received: "
                         f"shape={shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{who}: shape must be a tuple of non-negative ints (or one int). Received: shape={shape!r}")
    return dims


class _BranchesOnTraining(Exception):
    """A subclassed model's call() took a Python branch on its training flag while traced."""


class _TracedTraining:
    """The ``training`` a subclassed model's call() gets while it is traced into a graph: passed on
    to a layer (``self.dropout(x, training=training)``) it is the step's flag, decided when the
    graph runs; tested in Python (``if training:``) it stops the trace, since a graph traced once
    would keep one branch for both fit and predict (`Model.build` then runs the call every step)."""

    def __bool__(self):
        raise _BranchesOnTraining

    def __repr__(self):
        return "<training flag of the step>"


TRACED_TRAINING = _TracedTraining()


def tape_training(training):
    """A layer's training flag inside a custom layer's call() (or under a GradientTape): as given,
    else the custom layer's; None where that layer got none either, so each layer takes its own
    default, as in Keras (an augmentation layer augments, Dropout does not)."""
    if training is not None:
        return bool(training)
    return _tape_training[-1] if _tape_training else None


# ---- Layer ------------------------------------------------------------------------------------


class _Weight:
    # variable: the `fastnn.autodiff.Variable` (tf.Variable) whose array ``value`` is, for a weight
    # a user layer holds as one (`track_variables`): its own leaf on the layer's tape
    __slots__ = ("name", "value", "trainable", "regularizer", "constraint", "variable")

    def __init__(self, name, value, trainable, regularizer, constraint=None, variable=None):
        self.name, self.value, self.trainable, self.regularizer = name, value, trainable, regularizer
        self.constraint, self.variable = constraint, variable


def owned_weights(layers):
    """A wrapper's weights: its inner layers' (the same arrays), named ``<inner layer>/<weight>``
    so that a saved file tells them apart (forward_lstm/kernel, backward_lstm/kernel)."""
    return [_Weight(f"{layer.name}/{w.name}", w.value, w.trainable, w.regularizer, w.constraint, w.variable)
            for layer in layers for w in layer._weights]


class Layer:
    """Base class of all fastnn layers (see the module docstring for the protocol).

    Args:
        name: unique name in a model; ``dense``, ``dense_1``... when None.
        trainable: False freezes the layer: no weight updates (and BatchNormalization runs
            in inference mode), gradients still flow through it.
        dtype: ``"float32"`` (default, `fastnn.utils.floatx`) or ``"float64"`` (NumPy backend).
        activity_regularizer: a penalty on the layer's output, added to the loss.
        input_shape / input_dim / batch_input_shape / batch_size: the model's input shape,
            given on a Sequential model's first layer (tf.keras style).
    """

    _multi_input = False
    # The training flag of a call that gives none (Keras's call-signature default): True for the
    # random augmentation layers, which augment when called directly, as in Keras
    _training_default = False
    # True for layers that take one input or a list, as called (Lambda, layers on the tape)
    _inputs_as_called = False
    # True for layers that may take a scalar (a Lambda after a reduction: an add_loss term)
    _takes_scalars = False
    # True for layers whose function gets integer and boolean inputs as they are (Lambda; a user
    # layer's call() too), as Keras casts floating inputs only
    _keeps_int_inputs = False
    # a user layer whose call() Layer.__call__'s (inputs, training, mask) cannot stand for: its
    # parameters, to which `_bound_call` binds each call's arguments
    _call_signature = None
    # The dtype inputs are cast to (None: the layer's dtype). A layer taking integer indices
    # (an embedding) sets "int32"; a Sequential model's input then takes that dtype too.
    input_dtype = None
    # masks (see the module docstring): whether compute_mask is asked for the output's mask;
    # whether call() takes a ``mask`` argument (found once per class from its signature); whether
    # the layer may make a mask where its input has none (a model runs its mask pass only then)
    supports_masking = False
    _call_takes_mask = False
    # a user layer's call (`_tape_call`) takes its inputs' masks even when the user's call() does
    # not: its inputs carry them to the layers it applies (Keras's ``_keras_mask``)
    _takes_input_masks = False
    _creates_mask = False

    def __init_subclass__(cls, **kwargs):
        """A class's mask traits (see above) come from what it defines: a ``mask`` parameter of its
        ``call``; its own ``compute_mask`` (which, as in Keras, means it supports masking, and for
        a class from outside fastnn that it may create masks).

        A layer class from outside fastnn with its own ``call`` and no ``backward`` (Keras's
        custom layers) is differentiated on the tape: its ``call`` is wrapped to record, and
        ``backward`` walks the record back (to the inputs and the trainable weights)."""
        super().__init_subclass__(**kwargs)
        if "call" in cls.__dict__:
            cls._call_takes_mask = "mask" in inspect.signature(cls.__dict__["call"]).parameters
        if "compute_output_shape" in cls.__dict__ and not cls.__module__.startswith("fastnn."):
            cls.compute_output_shape = _given_tensor_shapes(cls.__dict__["compute_output_shape"])
        if "compute_mask" in cls.__dict__:
            if "supports_masking" not in cls.__dict__:
                cls.supports_masking = True
            if not cls.__module__.startswith("fastnn.") and "_creates_mask" not in cls.__dict__:
                cls._creates_mask = True
        if "build" in cls.__dict__ and not cls.__module__.startswith("fastnn."):
            cls.build = _build_marking_built(cls.__dict__["build"])
        cls._set_up_user_call()

    @classmethod
    def _set_up_user_call(cls):
        """How a user layer's own ``call`` runs (below); once per call function, so a call attached
        after the class statement (the NMT tutorial's ``@Decoder.add_method def call(...)``) is set
        up when the first layer of the class is made (`Layer.__init__`)."""
        if cls.__module__.startswith("fastnn."):
            return
        if "call" not in cls.__dict__ or cls.__dict__.get("_set_up_call") is cls.__dict__["call"]:
            cls._set_up_call = cls.call
            return
        if getattr(cls, "backward") not in (Layer.backward, _backward_from_tape):
            if "backward" not in cls.__dict__:  # a built-in layer's backward under a call() that is not its own
                cls.call = _built_in_call_overridden(cls)
            cls._set_up_call = cls.call
            return
        if "__init__" in cls.__dict__ and not getattr(cls.__dict__["__init__"], "_records_arguments", False):
            cls.__init__ = _recording_init(cls.__dict__["__init__"])
        call = cls.__dict__["call"]
        parameters = inspect.signature(call).parameters
        cls._call_on_arrays = call
        cls._inputs_as_called = True
        cls._takes_input_masks = True
        # call(self, targets, logits, sample_weights=None), call(self, x, enc_output, training,
        # look_ahead_mask, padding_mask), call(self, x, scale=None): bound as Python binds them
        if len(parameters) > 1 and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters.values()):
            cls._call_signature = inspect.signature(call)
            cls.__call__ = _bound_call
        cls._call_takes_training = "training" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        cls.call = _tape_call(call)
        cls.backward = _backward_from_tape
        if "_inner_layers" not in cls.__dict__:  # its sublayers: frozen with it, as in Keras
            cls._inner_layers = lambda self: [sub for _, sub in sublayers(self)]
        if getattr(cls, "compute_output_shape") in (Layer.compute_output_shape, _inferred_output_shape):
            cls.compute_output_shape = _inferred_output_shape
        cls._set_up_call = cls.call

    def __init__(self, *, name=None, trainable=True, dtype=None, activity_regularizer=None, input_shape=None,
                 input_dim=None, batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        cls = type(self)
        if getattr(cls, "_set_up_call", cls.call) is not cls.call:  # (a call attached after the class statement)
            for klass in reversed(cls.__mro__):
                if isinstance(klass, type) and issubclass(klass, Layer) and klass is not Layer:
                    klass._set_up_user_call()
        if name is None:
            name = utils.unique_name(utils.to_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name:
            raise ValueError(f"Expected a non-empty string as the layer name. Received: name={name!r}")
        self.name = name
        self._trainable = bool(trainable)
        self.dtype = _standardize_dtype(dtype)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.built = False
        self.input_spec = None
        self._weights: list[_Weight] = []
        self._gradients = None
        self._need_input_grad = True
        self._build_input_shape = None
        self._inbound_nodes: list[Node] = []
        # tf.keras lets the first layer of a Sequential model carry the input shape
        self._batch_input_shape = None
        if batch_input_shape is not None:
            self._batch_input_shape = _standardize_shape(batch_input_shape, "batch_input_shape")
        elif input_shape is not None:
            batch = None if batch_size is None else _positive_int(batch_size, "batch_size")
            self._batch_input_shape = (batch,) + _standardize_shape(input_shape, "input_shape")
        elif input_dim is not None:
            self._batch_input_shape = (None, _positive_int(input_dim, "input_dim"))

    # -- weights -------------------------------------------------------------------------------

    def add_weight(self, *args, **kwargs):
        """``add_weight(name, shape, initializer, regularizer, trainable, dtype, constraint)``, or
        Keras 3's ``add_weight(shape, initializer, dtype, trainable, ...)`` when the first argument is
        not a name: create a weight of ``shape`` from ``initializer`` (default glorot_uniform) and
        return it.

        The array is the layer's own (C-contiguous, in the layer's dtype); optimizers update it
        in place. ``regularizer``: a penalty added to the loss and to this weight's gradient.
        ``constraint``: a projection applied after each optimizer step (`fastnn.constraints`).
        ``trainable=False`` weights (e.g. moving statistics) are saved but never optimised.
        (Keras's ``autocast``, ``aggregation``, ``synchronization``... are accepted and ignored.)
        """
        name, shape, initializer, regularizer, trainable, dtype, constraint = weight_arguments(
            args, kwargs, f"Layer '{self.name}': add_weight")
        if name is None:
            name = f"variable_{len(self._weights)}"
        if any(w.name == name for w in self._weights):
            raise ValueError(f"Layer '{self.name}' already has a weight named {name!r}")
        shape = _weight_shape(shape, f"Layer '{self.name}': add_weight {name!r}")
        dtype = _standardize_dtype(dtype or self.dtype)
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        value = np.asarray(init(shape, dtype), dtype=dtype, order="C")  # (ascontiguousarray makes () (1,))
        if value.shape != shape:
            raise ValueError(f"Layer '{self.name}': initializer {init!r} returned shape {value.shape} for weight "
                             f"{name!r}, expected {shape}")
        pending = self.__dict__.get("_pending_weights")
        if pending and name in pending:  # (restored from a checkpoint before the layer was built)
            restored = pending.pop(name)
            if np.shape(restored) != shape:
                raise ValueError(f"Layer '{self.name}': the checkpoint restored weight {name!r} of shape "
                                 f"{np.shape(restored)}, but the layer makes it {shape}")
            value[...] = restored
        value = value.view(WeightArray)  # (a variable's names and assign methods on the same array)
        value._name = name
        record = _Weight(name, value, bool(trainable), regularizers.get(regularizer), constraints.get(constraint))
        value._owner = (weakref.ref(self), record)
        self._weights.append(record)
        return value

    def _ordered_weights(self):
        # Keras's order: trainable weights first, then non-trainable, each in creation order; a
        # layer holding other layers lists its own so, then each sublayer's in its own order
        inner = getattr(self, "_sublayer_weight_ids", ())
        own = [w for w in self._weights if id(w.value) not in inner]
        return [w for w in own if w.trainable] + [w for w in own if not w.trainable] + \
            [w for w in self._weights if id(w.value) in inner]

    # Keras 3's dtype policy of a layer: one dtype in fastnn, for its computations and its weights
    compute_dtype = variable_dtype = property(lambda self: self.dtype)

    @property
    def dtype_policy(self):
        from ..mixed_precision import Policy
        policy = Policy.__new__(Policy)  # (an Input's may be an integer one: not a policy users may set)
        policy.name = self.dtype
        return policy

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for inner in self._inner_layers():  # a wrapper's layers are frozen with it
            inner.trainable = value

    def _inner_layers(self):
        """The layers a wrapper (TimeDistributed, Bidirectional) runs; none for a plain layer."""
        return ()

    @property
    def weights(self):
        """All weights, trainable first (Keras's order); the arrays themselves, not copies."""
        return [w.value for w in self._ordered_weights()]

    @property
    def trainable_weights(self):
        return [w.value for w in self._weights if w.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [w.value for w in self._weights if not w.trainable]

    def add_loss(self, loss):
        """In a custom layer's call: add ``loss`` (its sum; a function of the inputs or weights,
        written with the backend functions) to the model's loss, as Keras's ``self.add_loss``.
        Its gradient reaches the inputs and weights."""
        if not hasattr(type(self), "_call_on_arrays"):
            raise ValueError(f"Layer '{self.name}': add_loss is for a custom layer's call() (a Layer subclass with its "
                             "own call); fastnn's built-in layers take activity_regularizer")
        self.__dict__.setdefault("_added", []).append(loss)

    def add_metric(self, value, name=None, aggregation="mean"):
        """tf.keras 2's ``self.add_metric(K.std(x), name="std_of_activation")`` in a custom layer's
        call: a model that runs the layer logs the mean of ``value`` over each epoch's batches."""
        from .. import metrics as metrics_module
        from ..models import _check_added_metric

        if not hasattr(type(self), "_call_on_arrays"):
            raise ValueError(f"Layer '{self.name}': add_metric is for a custom layer's call() (a Layer subclass with "
                             "its own call)")
        metric = metrics_module.producer(value)
        if metric is not None:  # a metric's result: the metric itself is logged
            name = metric.name if name is None else name
            aggregation = "mean" if aggregation is None else aggregation
        _check_added_metric(name, aggregation, "add_metric")
        self.__dict__.setdefault("_added_metrics", []).append(
            (name, metric if metric is not None else np.asarray(autodiff._value(value))))

    @property
    def submodules(self):
        """The layers this layer holds, and theirs, each once (TensorFlow's ``Module.submodules``)."""
        return nested_layers(sub for _, sub in sublayers(self))

    @property
    def losses(self):
        """Keras's ``layer.losses``: the values given to add_loss by the last call of this layer and
        of the layers it holds (arrays; under a GradientTape that recorded the call, tensors on it),
        then its weights' regularization penalty (a tensor on a recording tape), if any."""
        from .._step_loop import regularization

        penalty = regularization([self])
        return self._added_losses() + ([penalty] if isinstance(penalty, autodiff.Tensor) or penalty else [])

    def _added_losses(self):
        on_tape = self.__dict__.get("_added_on_tape")
        if on_tape:  # (on a GradientTape: this call's terms with those of the layers it called)
            return list(on_tape)
        if "_call_loss_values" in self.__dict__:  # (a custom layer's call: its terms and its sublayers' calls')
            return list(self._call_loss_values)
        own = [np.asarray(autodiff._value(t)) for t in self.__dict__.get("_added", [])]
        return own + [term for _, sub in sublayers(self) for term in sub._added_losses()]

    # Keras 3's other names for them (its weights are Variables; fastnn's are the arrays)
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def weight_names(self):
        """The names of `weights`, in the same order (``kernel``, ``bias``...)."""
        return [w.name for w in self._ordered_weights()]

    def get_weights(self):
        """Copies of the weights in Keras's layouts and order (Dense: kernel (in, units), bias)."""
        return [np.array(w.value) for w in self._ordered_weights()]  # (plain arrays)

    def set_weights(self, weights):
        """Overwrite the weights (in place) from a list like `get_weights`'; checks everything first."""
        mine = self._ordered_weights()
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the layer was expecting {len(mine)} weights.")
        arrays = []
        for w, new in zip(mine, weights):
            a = np.asarray(new)
            if a.shape != w.value.shape:
                raise ValueError(f"Layer '{self.name}' weight shape {w.value.shape} is not compatible with provided "
                                 f"weight shape {a.shape} (weight {w.name!r}).")
            if a.dtype.kind not in "fiub":
                raise TypeError(f"Layer '{self.name}': weight {w.name!r} must be numeric. Received: dtype={a.dtype}")
            arrays.append(a)
        for w, a in zip(mine, arrays):
            w.value[...] = a

    def count_params(self):
        """The number of values in all weights (Keras's count, non-trainable included)."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                             "You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(w.value.size for w in self._weights))

    def get_gradients(self):
        """The gradients of `trainable_weights` from the last `backward`, in the same order."""
        if not self._trainable or not any(w.trainable for w in self._weights):
            return []
        if self._gradients is None:
            raise RuntimeError(f"Layer '{self.name}': no gradients yet; call the layer with training=True, then backward(dy)")
        return list(self._gradients)

    def regularization_loss(self):
        """The weight regularizers' penalty (trainable weights only), as a float."""
        if not self._trainable:
            return 0.0
        return sum(w.regularizer(w.value) for w in self._weights if w.trainable and w.regularizer is not None)

    def _regularized_gradients(self):
        """`get_gradients` with the regularizers' gradients added (new arrays where changed); zeros
        when the model's backward pass did not reach this layer (an output without a loss)."""
        if self._gradients is None and self._trainable:
            grads = [np.zeros_like(w.value) for w in self._weights if w.trainable]
        else:
            grads = self.get_gradients()
        if grads:
            trainable = [w for w in self._weights if w.trainable]
            for i, w in enumerate(trainable):
                if w.regularizer is not None:
                    grads[i] = grads[i] + w.regularizer.gradient(w.value)
        return grads

    # -- building and calling ------------------------------------------------------------------

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included). Default: none."""
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_input_shape = input_shape
            if getattr(type(self).call, "_records_on_tape", False):  # a user layer's build() may make tf.Variables
                track_variables(self)

    def _check_input(self, input_shape):
        """Check ``input_shape`` (one shape, or a list for multi-input layers) against input_spec."""
        if self.input_spec is None:
            return
        if self._multi_input:
            specs = self.input_spec if isinstance(self.input_spec, (list, tuple)) else [self.input_spec] * len(input_shape)
            for i, (spec, shape) in enumerate(zip(specs, input_shape)):
                spec.check(self.name, i, tuple(shape))
        else:
            self.input_spec.check(self.name, 0, tuple(input_shape))

    def call(self, inputs, training=False):
        """The forward computation (to be overridden)."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call()")

    def backward(self, dy):
        """The input gradient for the output gradient ``dy`` of the last `call` (to be overridden)."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement backward()")

    def compute_output_shape(self, input_shape):
        """The output shape for an input shape (batch axis included)."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement compute_output_shape()")

    def compute_mask(self, inputs, previous_mask):
        """The mask of the output for ``inputs`` whose mask is ``previous_mask`` (a boolean
        (batch, timesteps) array, a list of them for a merge layer, or None): by default the
        same mask when the layer `supports_masking`, else None (the mask stops here)."""
        return previous_mask if self.supports_masking else None

    # A layer whose output is activation(z) for a last activation the loss can absorb (softmax
    # or sigmoid before a cross-entropy) names it here and implements backward_from_logits(dz),
    # the backward pass given dz = d loss / d z; models then skip the activation's Jacobian.
    _fusable_activation = None

    def backward_from_logits(self, dz):
        """`backward` given the gradient with respect to the pre-activation (see above)."""
        raise NotImplementedError(f"Layer {type(self).__name__} has no fusable output activation")

    def __call__(self, inputs, training=None, mask=None):
        """On KerasTensors: record a graph node (functional API). On arrays: build if needed,
        check the input, run `call` (with ``mask``, the input's mask, when `call` takes one;
        `compute_mask` gives the output's). On the tape tensors of a custom layer's call(): the
        same on their values, and a tape node whose gradient is this layer's `backward`."""
        inputs = autodiff.eager_if_constant(inputs)
        if isinstance(inputs, (list, tuple)) and inputs and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in inputs):
            inputs = np.asarray(inputs)  # (a list of numbers is one tensor: layer([-1., 0., 1.]))
            inputs = inputs.astype(self.dtype) if inputs.dtype.kind == "f" else inputs
        if self._inputs_as_called:
            if isinstance(inputs, dict) and hasattr(type(self), "_call_on_arrays") and inputs:
                # a user layer called on a dict (of Inputs, or arrays): several inputs, given back to its
                # call() as the dict (`_user_call`)
                self._input_keys, inputs = list(inputs), list(inputs.values())
            self._multi_input = isinstance(inputs, (list, tuple))
        # under a GradientTape: an array it watches (or a tf.Variable) is called as its tape leaf, so
        # ``tape.watch(x); layer(x)`` gives the gradient with respect to x, as TensorFlow's
        swapped = None if self.__dict__.get("_in_tape_call") else autodiff.on_watched_now([inputs])
        if swapped is not None:
            inputs = swapped[0]
        if not self.__dict__.get("_in_tape_call") and (_on_tape(inputs) or (
                _tape_leaves and not _is_symbolic(inputs) and _tape_leaves[-1].records(self))):
            # inside a custom layer's call(): on its tensors, or on arrays with weights it trains
            training = tape_training(training)
            multi = isinstance(inputs, (list, tuple))
            if mask is None and not multi:  # (Keras's: a tensor's own mask, as a custom layer's input has it)
                mask = getattr(inputs, "_keras_mask", None)
            elif mask is None:  # (a merge of masked tensors: Add([x, attention(x)]) in a Transformer block)
                carried = [getattr(t, "_keras_mask", None) for t in inputs]
                mask = carried if any(m is not None for m in carried) else None
            out = self._call_on_tensors(list(inputs) if multi else [inputs], multi, lambda values: Layer.__call__(
                self, values if multi else values[0], training=training, mask=mask))
            owner = getattr(_tape_leaves[-1], "owner", None) if _tape_leaves else None
            if self.activity_regularizer is not None and owner is not None:
                # (Keras adds its penalty with add_loss whoever calls the layer: here, to the custom
                # layer whose call this is, as its own term)
                first = out[0] if isinstance(out, (list, tuple)) else out
                value = first.value
                penalty = regularizers.per_sample(self.activity_regularizer)  # (divided by the batch, as a model's)
                owner.__dict__.setdefault("_added", []).append(autodiff.Tensor(
                    np.asarray(penalty(value), dtype=value.dtype), (first,), lambda g: [g * penalty.gradient(value)]))
            return out
        if _is_symbolic(inputs):
            if mask is not None:
                raise ValueError(f"Layer '{self.name}': a mask is given with arrays; in a model, masks come from "
                                 "Masking or Embedding(mask_zero=True) layers. Received: a mask with symbolic inputs")
            out = self._call_symbolic(inputs)
            if training is not None and training is not TRACED_TRAINING:  # (a flag given in the graph: the model runs this call so)
                self._inbound_nodes[-1].training = bool(training)
            return out
        if self._computes_on_numpy():
            with _backend.backend("numpy"):
                return Layer.__call__(self, inputs, training=training, mask=mask)
        if training is None and hasattr(type(self), "_call_on_arrays"):
            self._training_unset = True  # (the layers its call applies take their own defaults: `_call_on_tape`)
        training = self._training_default if training is None else bool(training)
        if self._multi_input:
            if not isinstance(inputs, (list, tuple)):
                raise ValueError(f"Layer '{self.name}' expects a list of inputs. Received: {type(inputs).__name__}")
            xs = [self._as_input(x) for x in inputs]
            shapes = [(None,) + x.shape[1:] for x in xs]
            if getattr(self, "stateful", False):  # (a stateful layer called on data: its batch size is the data's)
                shapes[0] = xs[0].shape
            self._maybe_build(shapes)
            self._check_input([x.shape for x in xs])
            if mask is None:  # (eager outputs carry their masks to the next layer, as in Keras)
                carried = [getattr(x, "_keras_mask", None) for x in inputs]
                mask = carried if any(m is not None for m in carried) else None
            if mask is not None:
                mask = self._checked_masks(mask, xs)
            out = _eager(self.call(xs, training=training, mask=mask)
                         if mask is not None and (self._call_takes_mask or self._takes_input_masks)
                         else self.call(xs, training=training))
            # (Add([x, attention(x)]) of masked tensors is masked, though Add's call takes no mask)
            if mask is not None and self.supports_masking and isinstance(out, EagerArray):
                out_mask = self.compute_mask(xs, mask)
                out._keras_mask = out_mask[0] if isinstance(out_mask, (list, tuple)) else out_mask
            return out
        x = self._as_input(inputs)
        if x.ndim == 0 and not self._takes_scalars:
            raise ValueError(f"Layer '{self.name}' needs a batch axis. Received an input of shape ()")
        self._maybe_build(x.shape if getattr(self, "stateful", False) else (None,) + x.shape[1:])
        self._check_input(x.shape)
        if mask is None:  # (an eager output carries its mask to the next layer, as in Keras)
            mask = getattr(inputs, "_keras_mask", None)
        if mask is not None:
            mask = check_mask(mask, x.shape, self, "mask")
        out = _eager(self.call(x, training=training, mask=mask)
                     if mask is not None and (self._call_takes_mask or self._takes_input_masks)
                     else self.call(x, training=training))
        if (self.supports_masking or self._creates_mask) and isinstance(out, EagerArray):  # Keras's ``out._keras_mask``
            out._keras_mask = self.compute_mask(x, mask)  # (a layer of its own compute_mask: Keras 3 supports masking)
        elif self._takes_input_masks and isinstance(out, EagerArray) and self.__dict__.get("_carried_mask") is not None:
            out._keras_mask = self._carried_mask  # (a custom layer's output: its inner layer's mask)
        return out

    def _computes_on_numpy(self):
        """A float64 layer on the C++ backend, whose kernels compute in float32: its forward and
        backward run on the NumPy backend, in float64, as Keras's float64 layer computes."""
        return self.dtype == "float64" and not hasattr(type(self), "_call_on_arrays") \
            and _backend.get_backend() == "cpp"

    def _call_on_tensors(self, tensors, multi, forward, backward=None):
        """This layer called inside a custom layer's call() (or under a GradientTape): ``forward``
        (the layer's call on the values of ``tensors``, its inputs; ``multi``: `backward` returns
        one gradient per input) runs, and the outputs come back as tape tensors whose gradient
        runs ``backward`` (default `backward`) and hands the weight gradients to the tape's leaves
        of these weights (`_tape_leaves`). The layer's state after this forward pass is kept for
        that backward, so a layer called twice backpropagates each call through its own state."""
        backward_pass = backward or self.backward
        need_input_grad = self.__dict__.get("_need_input_grad", True)
        # (an input that is an array, not on the tape, needs no gradient: a model's data)
        self._need_input_grad = any(isinstance(t, autodiff.Tensor) for t in tensors)
        self._in_tape_call = True  # the forward below is this call's plain one
        leaves = _tape_leaves[-1] if _tape_leaves else TapeLeaves()
        # (a custom layer's call on a GradientTape: the add_loss terms of the layers it calls are
        # tensors of their own too, which its node hands on: `_call_on_tape`)
        self._separate_losses = leaves.separate_losses
        _tape_leaves.append(TapeLeaves())  # (and what it calls on arrays is plain too)
        try:
            out = forward([autodiff._value(t) for t in tensors])
        finally:
            _tape_leaves.pop()
            self._in_tape_call = False
            self._separate_losses = False
        states = call_states(self)
        state = states[0][1]
        self._need_input_grad = need_input_grad
        weight_leaves = [leaves.leaf(w) for w in self.trainable_weights]
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        # a custom layer's add_loss terms: tape tensors of their own (`losses`), or with its first output
        added = state["_tape"][4] if leaves.separate_losses and backward is None \
            and type(self).backward is _backward_from_tape and state.get("_tape") else []

        def backward_of(i, term=None):
            def backward(g):
                if term is not None:  # an add_loss term's gradient alone
                    seed, added_seeds = None, [g if k == term else None for k in range(len(added))]
                else:
                    seed = g if len(outs) == 1 else [g if j == i else np.zeros_like(o) for j, o in enumerate(outs)]
                    # the add_loss terms: not through an output when they are tensors of their own; else
                    # with the first output (None: each seeded with ones) and no other
                    added_seeds = [None] * len(added) if added else (None if i == 0 else [])
                current = call_states(self)
                restore_call_states(states)
                self._added_seeds = added_seeds
                try:
                    with _backend.backend("numpy") if self._computes_on_numpy() else contextlib.nullcontext():
                        dx = backward_pass(seed)
                    grads = self.get_gradients() if any(leaf is not None for leaf in weight_leaves) else []
                finally:
                    restore_call_states(current)
                dxs = [None] * len(tensors) if dx is None else list(dx) if multi else [dx]
                return dxs + [gw for gw, leaf in zip(grads, weight_leaves) if leaf is not None]
            return backward

        node_inputs = tuple(tensors) + tuple(leaf for leaf in weight_leaves if leaf is not None)
        # (an output's Keras mask, an Embedding(mask_zero=True)'s, goes on with it to the next layer)
        results = [autodiff.Tensor(o, node_inputs, backward_of(i)) if getattr(o, "_keras_mask", None) is None
                   else autodiff.MaskedTensor(o, node_inputs, backward_of(i), o._keras_mask) for i, o in enumerate(outs)]
        if added:
            self._added_on_tape = [autodiff.Tensor(t.value, node_inputs, backward_of(None, k))
                                   for k, t in enumerate(added)]
            if self.__dict__.get("_terms_in_call") is not None:  # (inside another custom layer's call)
                self._terms_in_call.extend(self._added_on_tape)
        return (tuple(results) if isinstance(out, tuple) else results) if isinstance(out, (list, tuple)) \
            else results[0]

    def _checked_masks(self, masks, xs):
        if isinstance(masks, (list, tuple)) and getattr(self, "_masks_of_first_inputs", len(xs)) <= len(masks) < len(xs):
            masks = list(masks) + [None] * (len(xs) - len(masks))  # (Attention's [query_mask, value_mask] for [q, v, k])
        if not isinstance(masks, (list, tuple)) or len(masks) != len(xs):
            got = f"a list of {len(masks)}" if isinstance(masks, (list, tuple)) else type(masks).__name__
            raise ValueError(f"Layer '{self.name}' takes {len(xs)} inputs, so `mask` must be a list of {len(xs)} masks "
                             f"(None for an input without one). Received: {got}")
        return [None if m is None else check_mask(m, x.shape, self, f"mask[{i}]")
                for i, (m, x) in enumerate(zip(masks, xs))]

    def _as_input(self, x):
        """An input as an array of the layer's input dtype; anything not numeric is a TypeError
        naming the layer (NumPy's own message would not say which layer or what it expects)."""
        dtype = self.input_dtype or self.dtype
        if (self._keeps_int_inputs or hasattr(type(self), "_call_on_arrays")) and self.input_dtype is None:
            # a user layer gets integer and boolean inputs as they are, as Keras casts floats alone
            # (ids above 2**24 would be rounded in float32)
            given = np.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else None
            if given is not None and given.dtype.kind in "iub":
                return given
            if given is not None and given.dtype.kind in "USO" and hasattr(type(self), "_call_on_arrays"):
                return given  # (strings its call looks up itself: a StringLookup inside, keras.io's QREmbedding)
        if np.dtype(dtype).kind in "iu" and isinstance(x, np.ndarray) and x.dtype.kind == "f" \
                and not np.isfinite(x).all():  # (a cast would make NaN a made-up index)
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects integer inputs ({dtype}). "
                             f"Received: {x.flat[np.flatnonzero(~np.isfinite(x))[0]]} among them")
        try:
            return np.asarray(x, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Layer '{self.name}' ({type(self).__name__}) expects numeric input convertible to "
                            f"{dtype}. Received: {type(x).__name__} ({e})") from None

    def _symbolic_output_dtype(self):
        """The dtype of its output tensors in a model (a layer giving ids: an integer one)."""
        return self.dtype

    def _call_symbolic(self, inputs):
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if self._multi_input:
            if not isinstance(inputs, (list, tuple)):
                raise ValueError(f"Layer '{self.name}' expects a list of inputs. Received a single tensor")
            shape = [t.shape for t in tensors]
        else:
            if len(tensors) != 1:
                raise ValueError(f"Layer '{self.name}' expects 1 input, but it received {len(tensors)} input tensors")
            shape = tensors[0].shape
        self._maybe_build(shape)
        self._check_input(shape)
        self._symbolic_dtypes = [getattr(t, "dtype", None) for t in tensors]  # (`example_dtypes`)
        out_shape = self.compute_output_shape(shape)
        # a list of shapes: one tensor per output (a recurrent layer with return_state)
        dtype = self._symbolic_output_dtype()
        out = [KerasTensor(s, dtype) for s in out_shape] if isinstance(out_shape, list) \
            else KerasTensor(out_shape, dtype)
        self._inbound_nodes.append(Node(self, tensors, out))
        return out

    # -- shapes ---------------------------------------------------------------------------------

    @property
    def input(self):
        """The symbolic input of the layer's (single) call in a functional graph."""
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called and thus has no defined input")
        ins = self._inbound_nodes[0].inputs
        if not ins:  # an InputLayer: its tensor (Keras's; the OCR example's get_layer("image").input)
            return self.output
        return ins if self._multi_input else ins[0]

    @property
    def output(self):
        """The symbolic output of the layer's (single) call in a functional graph (a list for a
        layer with several outputs)."""
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called and thus has no defined output")
        return self._inbound_nodes[0].output

    @property
    def input_shape(self):
        if self._build_input_shape is None:
            raise AttributeError(f"Layer '{self.name}' is not built yet and has no input shape")
        return self._build_input_shape

    @property
    def output_shape(self):
        return self.compute_output_shape(self.input_shape)

    # -- config ---------------------------------------------------------------------------------

    def get_config(self):
        """The arguments that rebuild this layer (JSON-serialisable)."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}
        # a user layer without its own get_config: its __init__ arguments, as Keras 3 records them
        config.update(getattr(self, "_auto_config", None) or {})
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# ---- masks ---------------------------------------------------------------------------------------


def _eager(out):
    """A layer's output arrays as `EagerArray` views (TensorFlow's ``layer(x).numpy()``; a value
    gathered from a weight, as an Embedding's, is not the weight)."""
    if isinstance(out, np.ndarray) and type(out) is not EagerArray:
        return out.view(EagerArray)
    if type(out) in (list, tuple):
        return type(out)(o.view(EagerArray) if isinstance(o, np.ndarray) and type(o) is not EagerArray else o
                         for o in out)
    return out


def check_mask(mask, shape, layer, what):
    """``mask`` as a boolean array that covers the leading axes of a tensor of ``shape`` ((batch,
    timesteps) for (batch, timesteps, features)), or, for a layer whose ``_mask_broadcasts``
    (Softmax's attention-style (batch, 1, keys) for (batch, queries, keys)), one of its rank that
    broadcasts to it; else a ValueError naming ``layer`` and ``what``."""
    m = np.asarray(mask)
    if m.dtype.kind not in "biuf":
        raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}): {what} must be a boolean array. "
                        f"Received: dtype={m.dtype}")
    if getattr(layer, "_mask_broadcasts", False) and m.ndim == len(shape) and m.shape != tuple(shape) \
            and all(a in (1, b) for a, b in zip(m.shape, shape)):
        return m if m.dtype == bool else m > 0.5  # (Keras's Softmax: True or > 0.5 is kept)
    if m.ndim == 0 or m.ndim > len(shape) or m.shape != tuple(shape[:m.ndim]):
        want = _shape_str(tuple(shape[:2])) if len(shape) > 1 else _shape_str(tuple(shape))
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {what} must cover the leading axes of the "
                         f"tensor of shape {_shape_str(tuple(shape))}, e.g. {want}. Received: {what} of shape "
                         f"{_shape_str(m.shape)}")
    return m if m.dtype == bool else m != 0


# ---- layers differentiated on the tape ---------------------------------------------------------


def output_array(out, dtype):
    """A tape layer's output as an array: floats in the layer's dtype; integer and boolean results
    (``K.argmax``, a comparison), complex ones (``tf.signal.stft``) and strings keep their type, as
    Keras's Lambda returns them (Keras casts floating outputs only)."""
    value = np.asarray(autodiff._value(out))
    return value if value.dtype.kind in "biuUSc" else value.astype(dtype, copy=False)


def example_output_shape(run, input_shape, multi, dtype, name):
    """The output shape of ``run`` (a function of tensors) for inputs of ``input_shape`` (a list
    of shapes when ``multi``): run on example batches of 2 and 3, the axes that follow the batch
    size are None. The examples are `fastnn.autodiff.Tensor` leaves, as in a real call, so ``run``
    takes the same code path (``ops.matmul`` of 3-D tensors is the batched product, not the 2-D
    kernel). Random draws come from a throwaway generator."""
    runs = []
    with utils.scratch_rng(), np.errstate(all="ignore"):
        for batch in (2, 3):
            shapes = input_shape if multi else [input_shape]
            dtypes = dtype if isinstance(dtype, list) else [dtype] * len(shapes)
            # (integer inputs, ids and time steps, get index 0; floats a value away from ReLU's kink)
            # (strings: "a", a string Input's reshaped before a StringLookup)
            xs = [autodiff.Tensor(np.full(tuple(batch if d is None else d for d in s), "a") if t == "string" else
                                  np.full(tuple(batch if d is None else d for d in s),
                                          0 if np.dtype(t).kind in "iub" else 0.5, dtype=t))
                  for s, t in zip(shapes, dtypes)]
            out = run(xs if multi else xs[0])
            runs.append([np.shape(autodiff._value(o)) for o in out] if isinstance(out, (list, tuple))
                        else np.shape(autodiff._value(out)))
    several = isinstance(runs[0], list)  # several outputs: a list of shapes
    shapes = []
    for two, three in (zip(*runs) if several else [runs]):
        if len(two) != len(three):
            raise ValueError(f"Layer '{name}': the output's rank depends on the batch size ({two} for 2 samples, "
                             f"{three} for 3); give the layer an output shape")
        shapes.append(tuple(a if a == b else None for a, b in zip(two, three)))
    return shapes if several else shapes[0]


def example_dtypes(layer, multi):
    """The dtypes of the example inputs a user layer or a Lambda runs on to infer its output shape:
    its symbolic inputs' own where they are integers or booleans (an int64 Input of token ids reaches
    the call as ints, as in Keras), else the layer's dtype."""
    given = layer.__dict__.get("_symbolic_dtypes")
    if not given or len(given) != (len(given) if multi else 1):
        return layer.dtype
    dtypes = [t if t == "string" or t is not None and np.dtype(t).kind in "iub" else layer.dtype for t in given]
    return dtypes if multi else dtypes[0]


def _plain(value):
    """Whether ``value`` survives a JSON config (numbers, strings, None, lists and dicts of them)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _recording_init(init):
    """A user layer's ``__init__`` that records its arguments (Keras 3's auto config: such a layer
    saves and loads without a get_config of its own, when they are plain values)."""
    signature = inspect.signature(init)

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        track_variables(self)  # (tf.Variables made in __init__: weights from the start, as in tf.keras)
        if type(self).__init__ is not __init__:  # a subclass's own records its arguments
            return
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return
        config = {}
        for name, value in list(bound.arguments.items())[1:]:
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                config.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                config[name] = value
        self._auto_config = config if _plain(config) else None

    __init__.__wrapped__ = init
    __init__._records_arguments = True
    return __init__


@contextlib.contextmanager
def tape_weights(layer, training=False, separate_losses=False):
    """Within it, each attribute of ``layer`` holding a weight array holds a `fastnn.autodiff.Tensor`
    leaf of it instead, and the layers it calls find the leaves of their weights (the ones ``layer``
    owns: `_tape_leaves`) and ``training``; yields the trainable weights' leaves (in
    `trainable_weights` order). ``separate_losses``: the layers it calls give their add_loss terms
    tensors of their own (`TapeLeaves`)."""
    on_tape = TapeLeaves((id(w.value), w.variable if w.variable is not None else autodiff.WeightLeaf(w.value))
                         for w in layer._weights)
    on_tape.separate_losses = separate_losses
    on_tape.owner = layer  # (whose add_loss the activity penalties of the layers it calls join)
    swapped = {attr: value for attr, value in vars(layer).items()
               if isinstance(value, np.ndarray) and id(value) in on_tape}
    for attr, value in swapped.items():
        setattr(layer, attr, on_tape[id(value)])
    _tape_leaves.append(on_tape)
    _tape_training.append(None if training is None else bool(training))
    try:
        yield [on_tape[id(w.value)] for w in layer._weights if w.trainable]
    finally:
        _tape_leaves.pop()
        _tape_training.pop()
        for attr, value in swapped.items():
            setattr(layer, attr, value)


def _held(obj, skip, wanted, inside):
    """``(path, value)`` for each value among the attributes of ``obj`` (not those named in
    ``skip``) that ``wanted`` accepts: directly, or in lists, tuples and dicts, or among the
    ``(name, child)`` pairs ``inside(value)`` gives (None: no such container); each once, in
    attribute order. The path names the value by where it is held (``hidden``, ``blocks/0``)."""
    found, seen = [], set()

    def visit(path, value):
        if wanted(value):
            if id(value) not in seen:
                seen.add(id(value))
                found.append((path, value))
            return
        children = inside(value)
        if children is None:
            children = enumerate(value) if isinstance(value, (list, tuple)) else \
                value.items() if isinstance(value, dict) else ()
        for name, child in children:
            visit(f"{path}/{name}", child)

    for attr, value in vars(obj).items():
        if attr not in skip:
            visit(attr, value)
    return found


def call_states(layer):
    """What a call of ``layer`` leaves for its backward: a shallow copy of its attributes and of
    those of the layers it runs (a wrapper's, a cell's), as ``[(layer, attributes)]``. A layer
    called twice (shared, or once on a tape and once more before the gradient) backpropagates each
    call in its own state (`restore_call_states`)."""
    states, todo = [], [layer]
    while todo:
        current = todo.pop()
        states.append((current, dict(vars(current))))
        todo.extend(current._inner_layers())
    return states


def restore_call_states(states):
    """Put back the attributes `call_states` took."""
    for layer, state in states:
        attributes = vars(layer)
        attributes.clear()
        attributes.update(state)


def sublayers(layer, skip=()):
    """The layers a user layer (or model) holds in its attributes (directly, in lists, tuples and
    dicts, or in a model; not in the attributes named in ``skip``), in assignment order, as
    ``(path, layer)``: the path (``hidden``, ``blocks/0``, ``ffn/1``) names the layer's weights in
    the user layer, so that they keep their names in a layer rebuilt from its config (which gives
    the sublayers new unique names)."""

    def inside(value):
        if isinstance(value, Layer):  # (the layer itself)
            return ()
        if hasattr(value, "_all_layers") and hasattr(value, "_steps"):  # a model: its layers, once built
            return enumerate(value._all_layers) if getattr(value, "built", False) else ()
        return None

    return _held(layer, ("_inbound_nodes", "_tape", "_weights", *skip),
                 lambda value: isinstance(value, Layer) and value is not layer, inside)


def nested_layers(layers):
    """``layers`` and the layers each holds (`Layer.submodules`), depth first, each once."""
    found = {}
    for layer in layers:
        for sub in [layer] + layer.submodules:
            found.setdefault(id(sub), sub)
    return list(found.values())


def held_variables(obj, skip=()):
    """``(path, Variable)`` for each `fastnn.autodiff.Variable` (tf.Variable) among the attributes
    of ``obj`` not named in ``skip``: directly, or in lists, tuples, dicts and tf.Modules (whose
    class marks itself ``_holds_variables``); each once, in attribute order."""
    return _held(obj, skip, lambda value: isinstance(value, autodiff.Variable),
                 lambda value: vars(value).items() if getattr(type(value), "_holds_variables", False) else None)


def track_variables(layer):
    """Make each tf.Variable a user layer holds (`held_variables`) one of its weights, as tf.keras
    tracks them: the layer's tape differentiates its call with respect to the Variable, and the
    optimizer updates its array. Named by where it is held unless given a name of its own; a
    Variable that is not of a float dtype is not trainable. (The layers it holds own theirs.)"""
    if "_weights" not in vars(layer):  # (an __init__ that has not called Layer's yet)
        return
    tracked = {id(w.value) for w in layer._weights}
    names = {w.name for w in layer._weights}
    for path, variable in held_variables(layer, skip=("_inbound_nodes", "_tape", "_weights", "_leaves")):
        if id(variable.value) in tracked:
            continue
        name = variable.name if variable.name != "Variable" and variable.name not in names else path
        names.add(name)
        trainable = variable.trainable and variable.dtype.kind == "f"
        # (its array is the weight: a plain one, the tape's values are; Model.add_weight's regularizer)
        layer._weights.append(_Weight(name, variable.value, trainable, getattr(variable, "_regularizer", None),
                                      variable.constraint, variable=variable))


def _track_sublayer_weights(self):
    """A user layer's weights: its own (add_weight), then those of the built layers it holds
    (`sublayers`), named ``<path>/<weight>``; a frozen sublayer's are not trainable. Returns
    whether the list changed."""
    previous = getattr(self, "_sublayer_weight_ids", frozenset())
    subs = [(path, s) for path, s in sublayers(self) if s.built]
    if not subs and not previous:
        return False
    before = [(id(w.value), w.trainable) for w in self._weights]
    own = [w for w in self._weights if id(w.value) not in previous]
    seen = {id(w.value) for w in own}
    inner = []
    for path, sub in subs:
        for w in sub._ordered_weights():
            if id(w.value) not in seen:
                seen.add(id(w.value))
                inner.append(_Weight(f"{path}/{w.name}", w.value, w.trainable and sub.trainable, w.regularizer,
                                     w.constraint, w.variable))
    self._weights = own + inner
    self._sublayer_weight_ids = frozenset(id(w.value) for w in inner)
    return [(id(w.value), w.trainable) for w in self._weights] != before


def _build_marking_built(build):
    """A user layer's build() that leaves the layer built, as Keras 3 wraps it: one that does not
    call ``super().build()``, called by hand (``layer.build((1, 2))``, MIT 6.S191's OurDenseLayer),
    is not run again by the first call (its add_weight would find its names taken)."""
    if getattr(build, "_marks_built", False):
        return build

    def marking_build(self, *args, **kwargs):
        out = build(self, *args, **kwargs)
        self.built = True
        if self.__dict__.get("_build_input_shape") is None and (args or "input_shape" in kwargs):
            shape = args[0] if args else kwargs["input_shape"]
            self._build_input_shape = [tuple(s) for s in shape] if isinstance(shape, list) and shape and \
                isinstance(shape[0], (list, tuple)) else tuple(shape) if isinstance(shape, (list, tuple)) else shape
        return out

    marking_build.__wrapped__ = build
    marking_build.__name__, marking_build.__qualname__, marking_build.__doc__ = \
        build.__name__, build.__qualname__, build.__doc__
    marking_build._marks_built = True
    return marking_build


def _built_in_call_overridden(cls):
    """The call of a subclass of a built-in layer that overrides call() without a backward of its
    own. The built-in backward differentiates the built-in call, so the override may only change
    how that call is made: it must hand its input to ``super().call(...)`` unchanged and return
    what that returns (Géron's MCDropout: ``return super().call(inputs, training=True)``); the
    backward then matches. Anything else (``super().call(x) * 2``, which would train on half its
    gradient) is refused, with the composition that works instead."""
    base = next(c for c in cls.__mro__[1:] if c.__module__.startswith("fastnn.") and "call" in c.__dict__)
    _record_super_calls(base)
    user_call = cls.__dict__["call"]
    parameters = inspect.signature(user_call).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())

    def call(self, inputs, *args, **kwargs):
        if not takes_any:  # (training= and mask= only when the override takes them, as Keras passes them)
            kwargs = {k: v for k, v in kwargs.items() if k in parameters}
        self._super_call = []  # (input, output) of each super().call this call makes
        try:
            out = user_call(self, inputs, *args, **kwargs)
        finally:
            made, self._super_call = self._super_call, None
        if len(made) == 1 and made[0][0] is inputs and made[0][1] is out:
            return out
        raise NotImplementedError(
            f"Layer '{self.name}' ({cls.__name__}) subclasses fastnn's {base.__name__} and overrides call() with more "
            f"than a call of super().call(inputs, ...) on its input, returned as it is: fastnn differentiates "
            f"{base.__name__} with its own kernel, which would not match this call. Subclass keras.layers.Layer "
            f"instead and hold a {base.__name__} (self.inner = {base.__name__}(...); call: return self.inner(x) * 2): "
            "its call is then differentiated as written")

    call.__wrapped__ = user_call
    return call


def _record_super_calls(base):
    """Wrap ``base.call`` (once) so that an instance whose overriding call is running records the
    input and output of each ``super().call`` (`_built_in_call_overridden`); other calls pass through."""
    original = base.__dict__["call"]
    if getattr(original, "_records_super_calls", False):
        return

    def call(self, inputs, *args, **kwargs):
        out = original(self, inputs, *args, **kwargs)
        made = self.__dict__.get("_super_call")
        if made is not None:
            made.append((inputs, out))
        return out

    call._records_super_calls = True
    call.__wrapped__ = original
    call.__doc__, call.__name__, call.__qualname__ = original.__doc__, original.__name__, original.__qualname__
    base.call = call


def _bound_call(self, *args, **kwargs):
    """A user layer's call with its arguments bound to its call()'s parameters, as Keras binds them:
    the first parameter and every other given a tensor (an array, a tape or symbolic tensor, a list
    of them) are the layer's inputs (several: a list, which `_run_user_call` spreads back by name);
    the others (None, numbers, flags) reach call() as given; ``training`` is found by name wherever
    it stands. A ``mask`` given explicitly is one of the call's arguments, unchecked (the
    Transformer notebooks' (batch, 1, steps) padding masks), and a required ``training`` or ``mask``
    left out is None, as Keras fills them."""
    signature = type(self)._call_signature
    parameters = list(signature.parameters.values())[1:]
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    # (a training flag for a call() without one still reaches the layers it calls; a mask is dropped)
    training = kwargs.pop("training", None) if "training" not in signature.parameters and not takes_all else None
    if "mask" not in signature.parameters and not takes_all:
        kwargs.pop("mask", None)
    try:
        bound = signature.bind_partial(self, *args, **kwargs)
    except TypeError as e:
        raise TypeError(f"Layer '{self.name}' ({type(self).__name__}): {e}") from None
    arguments = dict(list(bound.arguments.items())[1:])
    for p in parameters:  # (**kwargs: its names, as given)
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(p.name, {}))
    if "training" in arguments:
        training = arguments.pop("training")
    missing = [p.name for p in parameters if p.name not in arguments and p.name not in ("training", "mask")
               and p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD]
    if missing:  # (a required training or mask is filled: the flag, and the input's Keras mask or None)
        raise TypeError(f"Layer '{self.name}' ({type(self).__name__}): call() missing required arguments: "
                        f"{', '.join(repr(n) for n in missing)}")
    first = parameters[0].name
    names = [name for name, value in arguments.items() if name == first or _is_tensor_argument(value)]
    values = [arguments[name] for name in names]
    if len(values) > 1 and any(isinstance(v, (list, tuple, dict)) for v in values):
        raise TypeError(f"Layer '{self.name}' ({type(self).__name__}): fastnn takes several tensors as separate "
                        f"arguments or as one list, not both. Received: {', '.join(names)}")
    binding = (tuple(names), {name: value for name, value in arguments.items() if name not in names})
    inputs = values[0] if len(values) == 1 else values
    previous = self.__dict__.get("_binding")
    self._binding = binding
    try:
        return Layer.__call__(self, inputs, training=training)
    finally:
        if not _is_symbolic(inputs):  # (a graph's call keeps its binding for the model to run)
            self._binding = previous


def _is_tensor_argument(value):
    """Whether a call argument is a tensor (an array, a tape or symbolic tensor, a non-empty list of
    them) rather than a value call() takes as it is (None, a number, a flag, a string)."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_is_tensor_argument(v) for v in value)
    return isinstance(value, (np.ndarray, KerasTensor, autodiff.Operators))


def _given_tensor_shapes(compute_output_shape):
    """A user layer's compute_output_shape, given `TensorShape`s as tf.keras 2 gives them (tuples
    with ``as_list()``: Géron's ``batch_input_shape.as_list()[:-1] + [self.units]``)."""
    def wrapper(self, input_shape):
        from .._tensorflow import TensorShape

        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            shapes = [TensorShape(s) for s in input_shape]
        else:
            shapes = TensorShape(input_shape) if isinstance(input_shape, (list, tuple)) else input_shape
        return compute_output_shape(self, shapes)

    wrapper.__name__, wrapper.__doc__ = compute_output_shape.__name__, compute_output_shape.__doc__
    wrapper.__wrapped__ = compute_output_shape
    return wrapper


def _tape_call(user_call):
    """A user layer class's ``call``: `_call_on_tape`, which runs the instance's own call on the
    tape; called from inside that call (``super().call(inputs)`` in a subclass of a layer of your
    own), this class's code on the same tape, as plain Python does."""
    def call(self, *args, **kwargs):
        if self.__dict__.get("_in_user_call"):
            return user_call(self, *args, **kwargs)
        return _call_on_tape(self, *args, **kwargs)

    call._records_on_tape = True
    call.__doc__, call.__name__, call.__qualname__ = user_call.__doc__, "call", user_call.__qualname__
    return call


def _user_call(self, inputs, **extra):
    """A user layer's own call() on ``inputs``: one tensor or a list (a dict when it was called on
    one: `_input_keys`), or spread over its parameters."""
    outer = self.__dict__.get("_in_user_call", False)
    self._in_user_call = True
    try:
        return _run_user_call(self, inputs, **extra)
    finally:
        self._in_user_call = outer


def _run_user_call(self, inputs, **extra):
    keys = self.__dict__.get("_input_keys")
    if keys is not None and isinstance(inputs, (list, tuple)) and len(inputs) == len(keys):
        inputs = dict(zip(keys, inputs))
    binding = self.__dict__.get("_binding")
    if binding is not None:  # (`_bound_call`'s: the tensors by name, the other arguments as given)
        names, constants = binding
        if "mask" in names or "mask" in constants:
            extra.pop("mask", None)
        elif self._call_takes_mask:
            extra.setdefault("mask", None)
        tensors = dict(zip(names, inputs if len(names) > 1 else [inputs]))
        return type(self)._call_on_arrays(self, **tensors, **constants, **extra)
    return type(self)._call_on_arrays(self, inputs, **extra)


def _call_on_tape(self, inputs, training=False, mask=None):
    """A user layer's ``call`` with its inputs and weights as `fastnn.autodiff.Tensor` leaves
    (`tape_weights`; and the mask, an array, when its ``call`` takes one). The layers it calls run
    on the tape too (`Layer._call_on_tensors`)."""
    multi = isinstance(inputs, (list, tuple))
    # each input carries its mask to the layers the call applies to it (the MultiHeadAttention of a
    # decoder masks its padded queries and the padded context it attends to)
    masks = (mask if isinstance(mask, (list, tuple)) else [None] * len(inputs)) if multi else [mask]
    leaves = [autodiff.Tensor(x) if m is None else autodiff.MaskedLeaf(x, m)
              for x, m in zip(inputs if multi else [inputs], masks)]
    given_mask = mask
    binding = self.__dict__.get("_binding")
    if multi and binding is not None and len(binding[0]) > 1 and isinstance(mask, (list, tuple)):
        mask = mask[0]  # (call(self, inputs, encoder_outputs, mask=None): the first tensor's, as tf.keras 2)
    track_variables(self)
    self._added = []  # what this call gives add_loss
    self._added_metrics = []  # and add_metric
    self._added_on_tape = None  # (a GradientTape's tensors of them: `Layer._call_on_tensors`)
    # the custom layers it holds: their add_loss terms are this call's too (Keras's `losses` collects
    # them), so a layer this call does not run has none
    direct = _direct_custom_sublayers(self)
    inner = _custom_sublayers(direct)
    for sub in inner:  # (and what each of their calls in this one adds: a layer may be called twice)
        sub._added, sub._added_on_tape, sub._added_loss = [], None, 0.0
        sub._terms_in_call, sub._values_in_call = [], []
    unset = self.__dict__.pop("_training_unset", False)
    separate = self.__dict__.get("_separate_losses", False)
    with tape_weights(self, None if unset else training, separate) as weights:
        extra = {"training": training} if self._call_takes_training else {}
        if mask is not None and self._call_takes_mask:
            extra["mask"] = mask
        try:
            out = _user_call(self, leaves if multi else leaves[0], **extra)
        except BaseException:
            for sub in inner:  # (a failed call: its sublayers' calls elsewhere collect nothing more here)
                sub._terms_in_call = sub._values_in_call = None
            raise
    if _track_sublayer_weights(self):  # sublayers built by this call: again, with their weights' leaves
        return _call_on_tape(self, inputs, training, given_mask)
    added = [t for t in self._added if isinstance(t, autodiff.Tensor)]
    if separate:  # (else their nodes add them to the gradient of their outputs)
        added += [t for sub in direct for t in sub._terms_in_call]
    # the mask its output carries from the layer that made it (Keras keeps it on a custom layer's output)
    self._carried_mask = None if isinstance(out, (list, tuple)) else getattr(out, "_keras_mask", None)
    several = isinstance(out, (list, tuple))  # a call returning several tensors (an encoder's z_mean, z_log_var)
    outs = [o if isinstance(o, autodiff.Tensor) else None for o in (out if several else [out])]
    self._tape = (outs if several else outs[0], leaves, weights, multi, added)
    # (the values of this call's terms: its own, then each call's of the layers it holds, for `losses`)
    self._call_loss_values = [np.asarray(autodiff._value(t)) for t in self._added] + \
        [v for sub in direct for v in sub._values_in_call]
    self._added_loss = float(sum(float(np.sum(v)) for v in self._call_loss_values))
    self._adds_loss = bool(self._added) or any(sub.__dict__.get("_adds_loss") for sub in inner)
    for sub in inner:
        sub._terms_in_call = sub._values_in_call = None
    if self.__dict__.get("_values_in_call") is not None:  # (called inside another custom layer's call)
        self._values_in_call.extend(self._call_loss_values)
    arrays = [output_array(o, self.dtype) for o in (out if several else [out])]
    return (tuple(arrays) if isinstance(out, tuple) else arrays) if several else arrays[0]


def _direct_custom_sublayers(layer):
    """The custom layers (with their own call) ``layer`` holds: directly, or among a model's layers."""
    return [sub for _, sub in sublayers(layer) if hasattr(type(sub), "_call_on_arrays")]


def _custom_sublayers(direct):
    """The custom layers ``direct`` (those a layer holds) and those they hold, each once."""
    found, todo = {}, list(direct)
    while todo:
        sub = todo.pop()
        if id(sub) not in found:
            found[id(sub)] = sub
            todo.extend(_direct_custom_sublayers(sub))
    return list(found.values())


def _backward_from_tape(self, dy):
    """The gradients of the output (seeded with ``dy``; None: not at all) and of the call's add_loss
    terms: each seeded with ones (it adds its sum to the loss), or as `_added_seeds` says (one seed
    or None per term, on a GradientTape: `Layer._call_on_tensors`)."""
    out, leaves, weights, multi, added = self._tape
    seeds_of_added = self.__dict__.get("_added_seeds")
    if seeds_of_added is None:
        seeds_of_added = [np.ones_like(t.value) for t in added]
    if isinstance(out, list):  # several outputs: a gradient (or None, an output not used) for each
        pairs = [(o, d) for o, d in zip(out, dy or [None] * len(out)) if o is not None and d is not None]
    else:
        pairs = [(out, dy)] if out is not None and dy is not None else []
    pairs += [(t, np.broadcast_to(s, t.shape).astype(t.dtype)) for t, s in zip(added, seeds_of_added)
              if s is not None]
    if not pairs:  # the output does not depend on the inputs or weights
        grads = [np.zeros_like(t.value) for t in leaves + weights]
    else:
        grads = autodiff.grad_of_outputs([t for t, _ in pairs], [s for _, s in pairs], leaves + weights)
    self._gradients = grads[len(leaves):]
    dx = grads[:len(leaves)] if self._need_input_grad else [None] * len(leaves)
    return dx if multi else dx[0]


def _example_arguments(layer, x):
    """The call's other arguments on example batches: for a call that takes a mask, one keeping every
    step (a call may require one, as the masking guide's ``assert mask is not None``), for a (batch,
    steps, ...) input; for one that takes ``training`` (tf.keras 2's ``call(self, inputs, training)``
    requires it), None, as Keras passes it."""
    parameter = inspect.signature(type(layer)._call_on_arrays).parameters.get("training") \
        if layer._call_takes_training and hasattr(type(layer), "_call_on_arrays") else None
    required = parameter is not None and parameter.default is inspect.Parameter.empty \
        and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    extra = {"training": None} if required else {}
    if layer._call_takes_mask and not isinstance(x, (list, tuple)) and len(x.shape) >= 2:
        extra["mask"] = np.ones(x.shape[:2], dtype=bool)
    return extra


def _inferred_output_shape(self, input_shape):
    multi = isinstance(input_shape, list)
    # (once per input shape: a model checks its data's shapes on every fit, predict and call, and
    # each example run also runs whatever else the user's call does, a counter it keeps)
    key = (tuple(tuple(s) for s in input_shape) if multi else tuple(input_shape), repr(example_dtypes(self, multi)))
    known = self.__dict__.setdefault("_inferred_shapes", {})
    if key in known:
        track_variables(self)
        _track_sublayer_weights(self)  # (a sublayer frozen since: its weights' lists follow)
        return known[key]
    track_variables(self)
    with tape_weights(self):
        shape = example_output_shape(lambda x: _user_call(self, x, **_example_arguments(self, x)), input_shape, multi,
                                     example_dtypes(self, multi), self.name)
    self._added = []  # (what the example call gave add_loss is not a loss)
    self.__dict__.pop("_call_loss_values", None)
    _track_sublayer_weights(self)
    known[key] = shape
    return shape


# ---- Input ------------------------------------------------------------------------------------


@register_layer
class InputLayer(Layer):
    """The entry point of a model: holds the input shape (batch axis None) and dtype.

    Args:
        shape: the shape of one sample, e.g. ``(784,)`` (tf.keras spelling: ``input_shape``).
        batch_size: optional fixed batch size.
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, input_shape=None,
                 batch_input_shape=None, **kwargs):
        if name is None:
            name = utils.unique_name("input_layer")
        super().__init__(name=name, **kwargs)
        self.dtype = _standardize_dtype(dtype, allow_int=True, allow_string=True)
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape if batch_shape is not None else batch_input_shape
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("InputLayer: pass either shape or batch_shape, not both. "
                                 f"Received: shape={shape!r}, batch_shape={batch_shape!r}")
            batch_shape = _standardize_shape(batch_shape, "batch_shape")
            if not batch_shape:
                raise ValueError("InputLayer: batch_shape needs at least the batch axis. Received: batch_shape=()")
        else:
            if shape is None:
                raise ValueError("InputLayer: a `shape` (the shape of one sample, e.g. shape=(784,)) is required")
            batch = None if batch_size is None else _positive_int(batch_size, "batch_size")
            batch_shape = (batch,) + _standardize_shape(shape, "shape")
        self.batch_shape = batch_shape
        self.built = True
        self._build_input_shape = batch_shape
        out = KerasTensor(batch_shape, self.dtype)
        out.node = Node(self, [], out)
        self._inbound_nodes.append(out.node)

    def call(self, inputs, training=False):
        return inputs

    def backward(self, dy):
        return dy

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": tuple(self.batch_shape), "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """A symbolic input tensor: ``x = Input(shape=(784,)); y = Dense(10)(x); Model(x, y)``.

    Also accepted as the first element of a Sequential model.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output

