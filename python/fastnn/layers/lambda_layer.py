"""fastnn.layers.lambda_layer — `Lambda`, a layer from a Python function of the backend functions
(``fastnn.backend``, ``K.exp``, ``K.random_normal``...), and the layers the functional API adds when
a backend function or an operator is applied to its symbolic tensors (``1 + z_log_var -
K.square(z_mean)``).

The function runs on `fastnn.autodiff.Tensor` values, which record the operations; the backward
pass walks that record back (`fastnn.autodiff.grad`). The output shape is found by running the
function on two small batches (2 and 3 samples): the axes that follow the batch size are the
batch axes (None).
"""

from __future__ import annotations

import base64
import builtins
import json
import marshal
import sys
import types

import numpy as np

from .. import autodiff, utils
from .base import KerasTensor, Layer, example_dtypes, example_output_shape, output_array, register_layer


@register_layer
class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer: ``Lambda(sampling)([z_mean, z_log_var])``.

    The function gets a tensor (or a list, for a list of inputs) and combines it with the
    functions of ``fastnn.backend`` (``from fastnn import backend as K``) and Python's
    operators; its gradient is derived from them. It has no weights.

    Args:
        function: the function.
        mask: optionally a function ``mask(inputs, previous_mask)`` giving the output's mask (as
            Keras); without one the layer drops its input's mask.
        output_shape: the output shape without the batch axis; found by running the function
            on small example batches when None.
        arguments: keyword arguments passed to the function.

    Saving: the config names a named function (a ``def``); ``load_model(path,
    custom_objects={name: function})`` gives it back. An anonymous function (``lambda x: x / 255``)
    is saved as Keras 3 saves it, as its bytecode (with its defaults and closure values); loading
    that runs code from the file, so, as in Keras 3, it takes ``load_model(..., safe_mode=False)``
    (or ``fastnn.config.enable_unsafe_deserialization()``), and the same Python version.
    """

    _functions_from_custom_objects = True
    _inputs_as_called = True  # one tensor or a list, as the function takes
    _takes_scalars = True  # (a function of a reduction: K.mean(...) * -0.5, an add_loss term)
    _keeps_int_inputs = True  # (ids above 2**24 would be rounded in float32: a hashing Lambda's buckets)

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable. Received: function={function!r}")
        if mask is not None and not callable(mask):
            raise ValueError(f"Lambda: mask must be a function mask(inputs, previous_mask) returning the output's "
                             f"mask, or None. Received: mask={mask!r}")
        # as Keras 3: with a mask function the layer has a mask, else it drops its input's
        self.mask = mask
        self.supports_masking = self._creates_mask = mask is not None
        if output_shape is not None and not callable(output_shape):
            output_shape = tuple(output_shape)
        self.function = function
        self._output_shape = output_shape
        self.arguments = dict(arguments or {})
        self._multi_input = False  # set by the first call: a list of inputs or one
        self._shapes = {}

    def _run(self, inputs):
        """The function on ``inputs`` (Tensors or arrays); its result checked to be one tensor."""
        out = self.function(inputs, **self.arguments)
        if isinstance(out, (list, tuple)):
            raise ValueError(f"Lambda '{self.name}': the function returned {len(out)} values; fastnn's Lambda layers "
                             "return one tensor (use one Lambda per output)")
        if not isinstance(out, (autodiff.Tensor, np.ndarray, np.generic, int, float)):
            raise TypeError(f"Lambda '{self.name}': the function must return a tensor. Received: {type(out).__name__}")
        return out

    def compute_output_shape(self, input_shape):
        multi = self._multi_input
        key = tuple(tuple(s) for s in input_shape) if multi else tuple(input_shape)
        if key in self._shapes:
            return self._shapes[key]
        if callable(self._output_shape):
            shape = tuple(self._output_shape(input_shape))
        elif self._output_shape is not None:
            batch = input_shape[0][0] if multi else input_shape[0]
            shape = (batch,) + self._output_shape
        else:
            shape = example_output_shape(self._run_example, input_shape, multi, example_dtypes(self, multi), self.name)
        self._shapes[key] = shape
        return shape

    def _run_example(self, inputs):
        """`_run` on the example inputs of `example_output_shape`, noting an integer or boolean
        result's dtype (an argmax, a comparison): the symbolic output's, as `call` returns it."""
        out = self._run(inputs)
        dtype = np.asarray(autodiff._value(out)).dtype
        self._result_dtype = "string" if dtype.kind in "US" else str(dtype) if dtype.kind in "biu" else None
        return out

    def _call_symbolic(self, inputs):
        out = super()._call_symbolic(inputs)
        if self.__dict__.get("_result_dtype"):  # (else the layer's float dtype)
            out.dtype = self._result_dtype
        return out

    def call(self, inputs, training=False):
        if self._multi_input:
            self._leaves = [autodiff.Tensor(x) for x in inputs]
            out = self._run(self._leaves)
        else:
            self._leaves = [autodiff.Tensor(inputs)]
            out = self._run(self._leaves[0])
        self._out = out if isinstance(out, autodiff.Tensor) else None
        return output_array(out, self.dtype)

    def backward(self, dy):
        if not self._need_input_grad:
            return [None] * len(self._leaves) if self._multi_input else None
        if self._out is None:  # the output does not depend on the inputs
            grads = [np.zeros_like(x.value) for x in self._leaves]
        else:
            grads = autodiff.grad(self._out, self._leaves, seed=dy)
        return grads if self._multi_input else grads[0]

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if self.mask is not None else None

    def get_config(self):
        config = {**super().get_config(), "function": _function_config(self, self.function, "function"),
                  "arguments": _encode_arrays(self.arguments)}
        if self.mask is not None:
            config["mask"] = _function_config(self, self.mask, "mask function")
        output_shape = self._output_shape
        if callable(output_shape):  # saved as the shape it gave (without the batch axis) when called
            if self._build_input_shape is None:
                raise ValueError(f"Lambda '{self.name}': its output_shape function can be saved only as the shape "
                                 "it gives, once the layer has been called")
            output_shape = tuple(self.compute_output_shape(self._build_input_shape))[1:]
        if output_shape is not None:
            config["output_shape"] = list(output_shape)
        _check_json(self, config)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _function_from_config(config.get("name"), config.get("function"), "function",
                                                   custom_objects)
        if config.get("arguments"):
            config["arguments"] = _decode_arrays(config["arguments"])
        if config.get("mask") is not None:
            config["mask"] = _function_from_config(config.get("name"), config["mask"], "mask function", custom_objects)
        return cls(**config)


def _function_config(layer, fn, what):
    """A Lambda's function in its config: a named function by its name (load_model's custom_objects
    gives it back); an anonymous one as Keras 3 writes it, ``{"class_name": "__lambda__", "config":
    {"code": base64 of its marshalled bytecode, "defaults", "closure", "python"}}`` plus its module."""
    name = getattr(fn, "__name__", None)
    if name and name != "<lambda>":
        return name
    code = getattr(fn, "__code__", None)
    if code is None:
        raise ValueError(f"Lambda '{layer.name}': its {what} {fn!r} is neither a def nor a lambda; only those can "
                         "be saved")
    closure = [c.cell_contents for c in fn.__closure__] if fn.__closure__ else None
    entry = {"class_name": "__lambda__",
             "config": {"code": base64.b64encode(marshal.dumps(code)).decode("ascii"),
                        "defaults": _encode_arrays(list(fn.__defaults__)) if fn.__defaults__ else None,
                        "closure": _encode_arrays(closure),
                        "python": "%d.%d" % sys.version_info[:2]},
             "module": getattr(fn, "__module__", None)}
    try:
        json.dumps(entry)
    except (TypeError, ValueError):
        raise ValueError(f"Lambda '{layer.name}': its {what} captures or defaults to values that cannot be saved "
                         f"(not JSON: {closure!r}, defaults {fn.__defaults__!r}); use a def and custom_objects") from None
    return entry


def _function_from_config(layer_name, entry, what, custom_objects):
    """The inverse of `_function_config`: a name looked up in custom_objects, or (outside safe mode)
    a lambda rebuilt from its bytecode, with the globals of its module when that module is loaded."""
    from .. import saving

    if isinstance(entry, str):
        function = (custom_objects or {}).get(entry)
        if function is None:
            raise ValueError(f"Lambda layer '{layer_name}' calls the {what} {entry!r}, which fastnn does not save. "
                             f"Pass it to load_model: custom_objects={{{entry!r}: {entry}}}")
        return function
    if not (isinstance(entry, dict) and entry.get("class_name") == "__lambda__" and isinstance(entry.get("config"), dict)):
        raise ValueError(f"Lambda layer '{layer_name}': invalid {what} in the config: {entry!r}")
    if saving.in_safe_mode():
        raise ValueError(f"Lambda layer '{layer_name}' holds a Python lambda saved as bytecode: loading it runs code "
                         "from the file. If you trust the file, pass safe_mode=False to load_model (or call "
                         "fastnn.config.enable_unsafe_deserialization()), as in Keras 3")
    config = entry["config"]
    python = "%d.%d" % sys.version_info[:2]
    if config.get("python") != python:
        raise ValueError(f"Lambda layer '{layer_name}': its lambda's bytecode is Python {config.get('python')}'s; "
                         f"this is Python {python}, which cannot run it. Re-create the layer, or use a def and "
                         "custom_objects")
    code = marshal.loads(base64.b64decode(config["code"]))
    module = sys.modules.get(entry.get("module") or "")
    globs = dict(vars(module)) if module is not None else {"__builtins__": builtins}
    globs.update(custom_objects or {})
    defaults = tuple(_decode_arrays(config["defaults"])) if config.get("defaults") else None
    closure = tuple(types.CellType(v) for v in _decode_arrays(config["closure"])) if config.get("closure") else None
    return types.FunctionType(code, globs, code.co_name, defaults, closure)


def _encode_arrays(value):
    """``value`` with each NumPy array (or scalar) as JSON: an array as ``{"__numpy__": nested
    lists, "dtype": ...}``, as Keras 3 writes an array argument into a config."""
    if isinstance(value, np.ndarray):
        return {"__numpy__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_encode_arrays(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_arrays(v) for k, v in value.items()}
    return value


def _decode_arrays(value):
    """The inverse of `_encode_arrays`."""
    if isinstance(value, dict):
        if set(value) == {"__numpy__", "dtype"}:
            return np.asarray(value["__numpy__"], dtype=value["dtype"])
        return {k: _decode_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_arrays(v) for v in value]
    return value


def _check_json(layer, config):
    try:
        json.dumps(config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) cannot be saved: its arguments are not "
                         f"plain numbers, strings or lists ({e})") from None


# ---- a backend function on symbolic tensors ----------------------------------------------------


def _find_tensors(args):
    """The KerasTensors among ``args`` (at top level or inside a list), in order."""
    found = []
    for a in args:
        if isinstance(a, KerasTensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found += [t for t in a if isinstance(t, KerasTensor)]
    return found


def _template(value, tensors):
    """``value`` with each KerasTensor replaced by ``{"tensor": its index}`` (JSON-friendly)."""
    if isinstance(value, KerasTensor):
        return {"tensor": next(i for i, t in enumerate(tensors) if t is value)}
    if isinstance(value, (list, tuple)):
        return [_template(v, tensors) for v in value]
    return _encode_arrays(value)  # a constant array argument: saved in the config


def _fill(value, xs):
    if isinstance(value, dict) and set(value) == {"tensor"}:
        return xs[value["tensor"]]
    if isinstance(value, list):
        return [_fill(v, xs) for v in value]
    return _decode_arrays(value)


@register_layer
class BackendFunction(Lambda):
    """One call of a `fastnn.backend` function, an operator or a `fastnn.losses` function on
    symbolic tensors, as a layer of the graph: ``K.square(z_mean)`` is
    ``BackendFunction("square", [{"tensor": 0}])`` on z_mean."""

    def __init__(self, function, args, kwargs=None, **layer_kwargs):
        if function not in autodiff._GRAPH_FUNCTIONS:
            raise ValueError(f"BackendFunction: unknown backend function {function!r}")
        self._fn = autodiff._GRAPH_FUNCTIONS[function]
        self.function_name, self.args, self.kwargs = function, list(args), dict(kwargs or {})
        layer_kwargs.setdefault("name", utils.unique_name(function.rpartition(".")[2]))
        super().__init__(self._apply, **layer_kwargs)

    def _apply(self, inputs):
        xs = inputs if self._multi_input else [inputs]
        args = [_fill(a, xs) for a in self.args]
        if self.function_name == "getitem":
            args[1] = _decode_index(self.args[1])
        return self._fn(*args, **{k: _fill(v, xs) for k, v in self.kwargs.items()})

    def get_config(self):
        config = {**Layer.get_config(self), "function": self.function_name, "args": self.args, "kwargs": self.kwargs}
        _check_json(self, config)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _encode_index(index):
    """A subscript as JSON values: slices as {"slice": [start, stop, step]}."""
    if isinstance(index, tuple):
        return [_encode_index(i) for i in index]
    if isinstance(index, slice):
        return {"slice": [index.start, index.stop, index.step]}
    if index is Ellipsis:
        return {"ellipsis": True}
    return index


def _decode_index(index):
    if isinstance(index, list):
        return tuple(_decode_index(i) for i in index)
    if isinstance(index, dict) and "slice" in index:
        return slice(*index["slice"])
    if isinstance(index, dict) and "ellipsis" in index:
        return Ellipsis
    return index


def symbolic_call(name, args, kwargs):
    """The function registered as ``name`` (`fastnn.autodiff.graph_function`) on ``args`` with
    KerasTensors among them: a `BackendFunction` layer called on them, returning its output."""
    tensors = _find_tensors(list(args) + list(kwargs.values()))  # (K.concatenate(tensors=[a, b]) too)
    for a in list(args) + list(kwargs.values()):
        for value in (a if isinstance(a, (list, tuple)) else [a]):
            if isinstance(value, autodiff.Tensor):  # a graph runs it again with new data, a tape value once
                what = "a tf.Variable" if isinstance(value, autodiff.Variable) else "a value on a tape"
                raise ValueError(f"{name}: called on a symbolic tensor and on {what} ({value.shape}). A graph of "
                                 "layers cannot train or recompute it: hold variables in a layer (add_weight, or a "
                                 "tf.Variable attribute of a keras.layers.Layer subclass) or in a subclassed "
                                 "Model whose call() uses them")
    template = [_template(a, tensors) for a in args]
    if name == "getitem":
        template[1] = _encode_index(args[1])
    layer = BackendFunction(name, template, {k: _template(v, tensors) for k, v in kwargs.items()})
    return layer(tensors if len(tensors) > 1 else tensors[0])
