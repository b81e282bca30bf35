"""fastnn.saving — one file per model in the safetensors layout, written with the standard
library and NumPy, readable by the ``safetensors`` package.

Layout: an 8-byte little-endian header length ``n``; ``n`` bytes of UTF-8 JSON (padded with
spaces to a multiple of 8); then the raw little-endian tensor buffers, back to back. The header
maps each tensor name (``"<layer>.<weight>"``, e.g. ``"dense.kernel"``) to
``{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`` and holds string
``__metadata__``: ``format`` ("fastnn"), ``format_version``, ``model_config`` (the architecture
as JSON), ``compile_config`` (optional), and CRC-32 checksums of the tensor data and of the
header itself (``header_crc32``: over the canonical JSON of the header without that entry, so
any flipped bit in the header is caught).

Safety: layers are rebuilt only from the allow-list of registered classes
(`fastnn.layers.register_layer`) plus ``custom_objects``; no pickle, no eval (a Lambda's lambda
is saved as bytecode, as Keras 3 does, and rebuilt only with ``load_model(safe_mode=False)``). Saving is
atomic and durable (`fastnn._files.atomic_write`: a temporary file beside it, fsync, rename). Loading reads and
checks the whole file (structure, offsets, checksums, names and shapes against the model)
before anything is assigned, so a truncated, corrupted or mismatched file raises ValueError
and leaves the in-memory model untouched.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import struct
import warnings
import zlib

import numpy as np

from ._files import atomic_write

FORMAT = "fastnn"
FORMAT_VERSION = 1
_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_CODES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}
_MAX_HEADER = 100 * 2**20


# ---- custom objects: the user's classes and functions a config names --------------------------

# Keras's global custom objects (``get_custom_objects()``), what ``register_keras_serializable``
# adds (under its plain name, which fastnn's configs use, and Keras's "package>name"), and the
# dicts of the ``custom_object_scope``s open now
_GLOBAL_CUSTOM_OBJECTS: dict = {}
_scopes: list = []


def get_custom_objects():
    """The process-wide custom objects (a dict you may add to, as Keras's): every load reads them."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """``@keras.saving.register_keras_serializable(package="MyLayers")``: the class (or function)
    is found by name when a model that holds it is loaded, without ``custom_objects``."""
    def decorate(obj):
        key = name or getattr(obj, "__name__", None)
        if not key:
            raise ValueError(f"register_keras_serializable: {obj!r} has no name; give name=")
        registered = f"{package}>{key}"
        if registered in _GLOBAL_CUSTOM_OBJECTS and _GLOBAL_CUSTOM_OBJECTS[registered] is not obj:
            raise ValueError(f"register_keras_serializable: {registered} is already registered to "
                             f"{_GLOBAL_CUSTOM_OBJECTS[registered]!r}")
        _GLOBAL_CUSTOM_OBJECTS[registered] = _GLOBAL_CUSTOM_OBJECTS[key] = obj
        try:
            obj._registered_name = registered
        except (AttributeError, TypeError):
            pass
        return obj

    return decorate


def get_registered_name(obj):
    """The name ``obj`` is registered under ("package>name"), else its own name."""
    return getattr(obj, "_registered_name", None) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """What ``name`` stands for in ``custom_objects``, the open scopes, the registered objects or
    ``module_objects``; None if nothing."""
    return (custom_objects_with(custom_objects).get(name) or (module_objects or {}).get(name))


class custom_object_scope:  # noqa: N801 (Keras's name)
    """``with keras.saving.custom_object_scope({"CustomLayer": CustomLayer}):`` loads inside find
    these objects by name."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scopes.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes.remove(self.custom_objects)
        return False


CustomObjectScope = custom_object_scope


def custom_objects_with(custom_objects):
    """The registered objects, then the open scopes', then ``custom_objects`` (later ones win)."""
    merged = dict(_GLOBAL_CUSTOM_OBJECTS)
    for scope in _scopes:
        merged.update(scope)
    merged.update(custom_objects or {})
    return merged


# ---- model <-> config ----------------------------------------------------------------------------


def serialize_model(model):
    """``{"class_name": "Sequential" | "Functional", "config": model.get_config()}``; a subclass of
    Model with its own call(): its registered class name and `get_config` (None when its
    arguments cannot be saved), the input shapes and dtypes to trace it on when rebuilt, and the
    traced graph, which loads where the class is not at hand."""
    from .models import Model, Sequential

    if not model._subclassed or type(model) in (Model, Sequential):
        return {"class_name": "Sequential" if isinstance(model, Sequential) else "Functional",
                "config": model.get_config()}
    try:
        config = model.get_config()
        json.dumps(config)
    except (NotImplementedError, TypeError):
        config = None
    return {"class_name": get_registered_name(type(model)), "config": config,
            "build": {"shapes": [list(layer.batch_shape) for layer in model._input_layers],
                      "dtypes": [layer.dtype for layer in model._input_layers],
                      "several": len(model._input_layers) > 1 or model._input_keys is not None},
            "graph": {"class_name": "Functional", "config": model._graph_config()}}


def _layer_from_config(entry, custom_objects=None):
    """A layer from ``{"class_name", "config"}``, only for allow-listed classes."""
    from .layers.base import registered_layers

    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), dict):
        raise ValueError(f"Invalid layer entry in the model config: {entry!r}")
    name = entry["class_name"]
    custom_objects = custom_objects_with(custom_objects)
    cls = custom_objects.get(name) or registered_layers().get(name)
    if cls is None:
        known = ", ".join(sorted(registered_layers()))
        raise ValueError(f"Unknown layer class {name!r} in the model config. fastnn rebuilds only these layers: {known}. "
                         "(Pass custom_objects={'Name': cls} for your own layer classes.)")
    config = dict(entry["config"])
    if isinstance(config.get("activation"), str) and callable((custom_objects or {}).get(config["activation"])):
        # a Python activation, by its name
        config["activation"] = custom_objects[config["activation"]]
    try:
        if getattr(cls, "_functions_from_custom_objects", False):  # a Lambda: its function by name
            return cls.from_config(config, custom_objects)
        return cls.from_config(config)
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"Invalid config for layer class {name!r}: {e}") from None


def deserialize_model(config, custom_objects=None):
    """A new model from `serialize_model`'s dict."""
    from .models import Model, Sequential

    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError("Invalid model config: expected {'class_name': ..., 'config': {...}}")
    kind = config.get("class_name")
    cls = {"Sequential": Sequential, "Functional": Model, "Model": Model}.get(kind)
    if cls is None and isinstance(config.get("graph"), dict):  # a subclass of Model with its own call()
        return _subclassed_from(config, custom_objects)
    if cls is None:
        raise ValueError(f"Unknown model class {kind!r} in the model config; expected 'Sequential' or 'Functional'")
    body = config["config"]
    if not isinstance(body.get("layers"), list):
        raise ValueError("Invalid model config: no list of layers")
    try:
        return cls.from_config(body, custom_objects=custom_objects_with(custom_objects))
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"Invalid model config: {type(e).__name__}: {e}") from None


def _subclassed_from(config, custom_objects):
    """A saved subclass of Model rebuilt by its own class (``cls.from_config``, then traced on the
    saved input shapes), so its methods (train_step, its attributes) are there as in Keras. A class
    not registered nor in ``custom_objects``, or one whose config was not saved, gives its traced
    graph as a functional model, with a warning saying what it lacks."""
    kind = config["class_name"]
    objects = custom_objects_with(custom_objects)
    cls = objects.get(kind) or objects.get(kind.rpartition(">")[2])
    if cls is not None and config.get("config") is not None:
        model = cls.from_config(dict(config["config"]))
        build = config.get("build") or {}
        shapes = [tuple(s) for s in build.get("shapes", [])]
        if not model.built and shapes:
            model._ensure_built(shapes if build.get("several") else shapes[0], dtypes=build.get("dtypes"))
        return model
    why = f"its class {kind!r} is not registered (keras.saving.register_keras_serializable) nor given in " \
        f"custom_objects" if cls is None else f"{kind} has no config (give it a get_config)"
    warnings.warn(f"load_model: the model was saved from a subclass of Model, and {why}: it is loaded as a functional "
                  "model of the same layers and weights, without the subclass's own methods (train_step, ...)",
                  stacklevel=5)
    return deserialize_model(config["graph"], custom_objects)


def _compile_config(model):
    from . import losses, metrics, optimizers

    if not model.compiled or model._loss is None:
        return None
    heads = model._heads if model._multi_output else None
    loss_objs = [h.loss for h in heads] if heads else [model._loss]
    try:
        opt = optimizers.serialize(model.optimizer)
        loss = [losses.serialize(l) for l in loss_objs]
        if heads:  # per output, the metric names as compiled (without the "<output>_" prefix)
            names = [[metrics.serialize_without_prefix(m, h.name + "_") for m in h.metrics] for h in heads]
        else:
            names = [metrics.serialize(m) for m in model._metrics if id(m) not in model._weighted]
            # (weighted_metrics as given: a name clashing with a metric's got a suffix, and compiling
            # again gives it the same)
            weighted = [given if isinstance(given, str) else metrics.serialize(m) for given, m in
                        zip(model._compile_args.get("weighted_metrics", ()),
                            [m for m in model._metrics if id(m) in model._weighted])]
        json.dumps([opt, loss, names, weighted if not heads else None])
        custom = [type(model.optimizer).__name__] if type(model.optimizer) not in optimizers._CLASSES.values() else []
        # a user's Loss subclass, or a named function, is written by name (load_model's custom_objects
        # gives it back, as Keras's); an anonymous function cannot be
        custom += [l.name for l in loss_objs if type(l) not in losses._CLASSES.values()
                   and isinstance(l, losses.LossFunctionWrapper) and getattr(l.fn, "__name__", "<lambda>") == "<lambda>"]
    except (TypeError, ValueError):
        custom = ["a custom optimizer, loss or metric"]
    if custom:  # one that cannot be named: the model is saved uncompiled, and said so
        warnings.warn(f"save: the model is saved without its compile state ({', '.join(custom)} cannot be written "
                      "into the file): load_model returns it uncompiled; compile it again after loading",
                      stacklevel=3)
        return None
    if heads:
        return {"optimizer": opt, "loss": loss, "loss_weights": [h.weight for h in heads], "metrics": names}
    config = {"optimizer": opt, "loss": loss[0], "metrics": names}
    if weighted:
        config["weighted_metrics"] = weighted
    if model._loss_weight != 1.0:
        config["loss_weights"] = model._loss_weight
    return config


# ---- writing ------------------------------------------------------------------------------------


def _layer_scopes(model):
    """{id(layer): "outer/inner/"}: the nested models a layer is in, as Keras's weight paths name
    them, so two towers that each have a layer "proj" save "tower_a/proj.kernel" and
    "tower_b/proj.kernel"."""
    scopes, inner = {}, {}
    for step, owner in zip(model._steps, model._step_owners or [None] * len(model._steps)):
        if id(step[0]) in scopes:
            continue
        if owner is None or owner is model:
            scopes[id(step[0])] = ""
        else:
            if id(owner) not in inner:
                inner[id(owner)] = _layer_scopes(owner)
            scopes[id(step[0])] = f"{owner.name}/{inner[id(owner)].get(id(step[0]), '')}"
    return scopes


def _named_tensors(model):
    """``[("<scope><layer>.<weight>", array)]`` in the order of the model's layers."""
    scopes, tensors, owner = _layer_scopes(model), [], {}
    for layer in model._all_layers:
        scope = scopes.get(id(layer), "")
        for name, value in zip(layer.weight_names, layer.weights):
            full = f"{scope}{layer.name}.{name}"
            if owner.setdefault(full, layer) is not layer:
                raise ValueError(f"Cannot save or load the weights of model '{model.name}': two layers are named "
                                 f"{scope + layer.name!r}. Rename one of them")
            tensors.append((full, value))
    return tensors


def _write(filepath, tensors, metadata, overwrite):
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it")
    header, offset, arrays, crc = {}, 0, [], 0
    for name, value in tensors:
        a = np.asarray(value)
        code = _CODES.get(a.dtype)
        if code is None:
            raise TypeError(f"Cannot save tensor {name!r} of dtype {a.dtype}; fastnn saves float32/float64")
        a = np.asarray(a, dtype=_DTYPES[code], order="C")  # little-endian, contiguous (and () stays ())
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        crc = zlib.crc32(memoryview(a).cast("B"), crc)
        arrays.append(a)
    metadata = dict(metadata, data_crc32=str(crc))
    header = {"__metadata__": metadata, **header}
    metadata["header_crc32"] = str(_header_crc(header))
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    with atomic_write(filepath, "wb", durable=True) as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for a in arrays:
            f.write(memoryview(a).cast("B"))


def _header_crc(header):
    """CRC-32 of the header's canonical JSON, without its own ``header_crc32`` entry."""
    meta = {k: v for k, v in header["__metadata__"].items() if k != "header_crc32"}
    canonical = json.dumps({**header, "__metadata__": meta}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return zlib.crc32(canonical.encode("utf-8"))


def _base_metadata():
    from . import __version__

    return {"format": FORMAT, "format_version": str(FORMAT_VERSION), "fastnn_version": __version__}


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Write ``model`` (architecture, weights, compile arguments) to ``filepath``."""
    config = json.dumps(serialize_model(model), separators=(",", ":"))
    metadata = _base_metadata()
    metadata["model_config"] = config
    compiled = _compile_config(model) if include_optimizer else None
    tensors = _named_tensors(model)
    if compiled is not None:
        metadata["compile_config"] = json.dumps(compiled, separators=(",", ":"))
        tensors += _with_optimizer_state(model, metadata)
    _write(filepath, tensors, metadata, overwrite)


def _with_optimizer_state(model, metadata):
    """The optimizer's state slots as tensors to save, its step count and scalars put in
    ``metadata`` (Keras 3 saves them too: fit on the loaded model goes on where it stopped)."""
    state = _optimizer_state(model)
    if state is None:
        return []
    opt = model.optimizer
    metadata["optimizer_iterations"] = str(int(opt.iterations))
    metadata["optimizer_calls"] = str(int(opt.__dict__.get("_calls", 0)))  # (with gradient accumulation: the schedule's step)
    if opt._scalar_attrs:
        metadata["optimizer_scalars"] = json.dumps({a: float(getattr(opt, a)) for a in opt._scalar_attrs})
    return state


def save_training_state(model, filepath):
    """The weights and the optimizer's state (`fastnn.callbacks.BackupAndRestore`'s backup)."""
    metadata = _base_metadata()
    _write(filepath, _named_tensors(model) + _with_optimizer_state(model, metadata), metadata, True)


def load_training_state(model, filepath):
    """Restore what `save_training_state` wrote (all-or-nothing for the weights)."""
    path = os.fspath(filepath)
    metadata, tensors = read_file(path)
    _assign(model, _weights_only(tensors), path)
    if model.optimizer is not None:
        _restore_optimizer_state(model, metadata, tensors, path)


_OPTIMIZER = "__optimizer__."  # the prefix of the optimizer's state slots among a file's tensors


def _optimizer_state(model):
    """``[(name, array)]`` of the optimizer's state slots (``__optimizer__.<slot>.<i>``, one per
    trainable weight in order), or None when it has none for these weights."""
    opt = model.optimizer
    if opt is None or not opt.built or opt._param_ids != [id(p) for p in model.trainable_weights]:
        return None
    return [(f"{_OPTIMIZER}{attr}.{i}", slot) for attr in opt._slot_attrs
            for i, slot in enumerate(getattr(opt, attr, None) or []) if slot is not None]


def _restore_optimizer_state(model, metadata, tensors, path):
    """Give the loaded model's optimizer the state slots and iteration count the file holds."""
    state = {name[len(_OPTIMIZER):]: value for name, value in tensors.items() if name.startswith(_OPTIMIZER)}
    if model.optimizer is None or not state and "optimizer_iterations" not in metadata:
        return  # (plain SGD has no slots, but its step count drives its schedule: it is restored too)
    opt, params = model.optimizer, model.trainable_weights
    opt.build(params)
    wanted = opt._restored_slots(state, ".")
    if sorted(name for name, _ in wanted) != sorted(state) or any(state[n].shape != a.shape for n, a in wanted):
        raise ValueError(f"{path}: the optimizer state in the file does not fit model '{model.name}''s "
                         f"{type(opt).__name__} ({len(state)} slots in the file, {len(wanted)} expected)")
    for name, slot in wanted:
        np.copyto(slot, state[name])
    opt.iterations = int(metadata.get("optimizer_iterations", 0))
    steps = opt.__dict__.get("gradient_accumulation_steps") or 1
    opt._calls = int(metadata.get("optimizer_calls", int(opt.iterations) * steps))
    scalars = json.loads(metadata.get("optimizer_scalars", "{}"))
    for attr in opt._scalar_attrs:
        if attr in scalars:
            setattr(opt, attr, float(scalars[attr]))



def save_weights(model, filepath, overwrite=True):
    """Write only the weights of ``model`` to ``filepath``. A checkpoint prefix, tf.keras 2's
    TensorFlow format (``./training_checkpoints/ckpt_3``: no suffix, or ``.ckpt``), gets its directory made
    and is recorded in the directory's ``checkpoint`` file, as TensorFlow does, so that
    ``tf.train.latest_checkpoint(directory)`` finds it."""
    if not model.built:
        raise ValueError("save_weights: the model is not built yet, it has no weights")
    path = os.fspath(filepath)
    prefix = os.path.splitext(os.path.basename(path))[1].lower() in ("", ".ckpt")
    directory = os.path.dirname(os.path.abspath(path))
    if prefix:
        os.makedirs(directory, exist_ok=True)
    _write(path, _named_tensors(model), _base_metadata(), overwrite)
    if prefix:
        record_checkpoint(directory, path, [path])


def record_checkpoint(directory, latest, paths):
    """Write ``directory``'s ``checkpoint`` file, as TensorFlow does: the latest checkpoint
    prefix and all those kept (relative to the directory when inside it)."""
    def entry(path):
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(directory))
        return json.dumps(path if rel.startswith("..") else rel)

    lines = [f"model_checkpoint_path: {entry(latest)}"] + [f"all_model_checkpoint_paths: {entry(p)}" for p in paths]
    with atomic_write(os.path.join(directory, "checkpoint"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def recorded_checkpoints(checkpoint_dir, latest_filename=None, key="all_model_checkpoint_paths"):
    """The paths under ``key`` in ``checkpoint_dir``'s ``checkpoint`` file, in order ([] without one)."""
    state = os.path.join(os.fspath(checkpoint_dir), latest_filename or "checkpoint")
    try:
        with open(state, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    paths = []
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            try:
                path = json.loads(value.strip())
            except ValueError:
                continue
            paths.append(path if os.path.isabs(path) else os.path.join(os.fspath(checkpoint_dir), path))
    return paths


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """``tf.train.latest_checkpoint``: the path of the last checkpoint prefix `save_weights` or a
    `tf.train.Checkpoint` wrote in ``checkpoint_dir`` (read from its ``checkpoint`` file), or None
    when there is none."""
    paths = recorded_checkpoints(checkpoint_dir, latest_filename, key="model_checkpoint_path")
    return paths[0] if paths and os.path.exists(paths[0]) else None


# ---- reading ------------------------------------------------------------------------------------


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_file(filepath):
    """Read and check a fastnn file: returns ``(metadata, {name: array})`` or raises ValueError.

    The arrays are read-only views of the file's bytes.
    """
    path = os.fspath(filepath)
    with open(path, "rb") as f:
        data = f.read()

    def bad(msg):
        return ValueError(f"{path}: {msg}")

    if len(data) < 8:
        raise bad(f"not a fastnn model file: {len(data)} bytes, too short for a header (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n == 0 or n > _MAX_HEADER:
        raise bad(f"corrupted or not a fastnn model file: implausible header length {n}")
    if n > len(data) - 8:
        raise bad(f"file is truncated: the header needs {n} bytes, only {len(data) - 8} follow the length field")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"corrupted header (not valid JSON: {e})") from None
    if not isinstance(header, dict):
        raise bad("corrupted header: expected a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise bad("corrupted header or not a fastnn file: no string __metadata__")
    if metadata.get("format") != FORMAT:
        raise bad(f"not a fastnn file (metadata format={metadata.get('format')!r})")
    version = metadata.get("format_version", "")
    if not (version.isascii() and version.isdigit()):
        raise bad(f"corrupted header: format_version={version!r}")
    if int(version) > FORMAT_VERSION:
        raise bad(f"written by a newer fastnn (file format version {int(version)}); this fastnn reads format version "
                  f"{FORMAT_VERSION} and older. Upgrade fastnn to load it.")
    if metadata.get("header_crc32") != str(_header_crc({"__metadata__": metadata, **header})):
        raise bad("corrupted header: it does not match its checksum (header_crc32)")
    buffer = memoryview(data)[8 + n:]
    entries = []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"corrupted header: bad entry for tensor {name!r}")
        dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
        if dtype not in _DTYPES:
            raise bad(f"corrupted header: tensor {name!r} has unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise bad(f"corrupted header: tensor {name!r} has an invalid shape {shape!r}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
            raise bad(f"corrupted header: tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if end - begin != math.prod(shape) * _DTYPES[dtype].itemsize:
            raise bad(f"corrupted header: tensor {name!r} of shape {tuple(shape)} and dtype {dtype} cannot span bytes "
                      f"{begin}..{end}")
        entries.append((begin, end, name, dtype, tuple(shape)))
    entries.sort()
    position = 0
    for begin, end, name, _, _ in entries:
        if begin != position:
            raise bad(f"corrupted header: tensor {name!r} starts at byte {begin}, expected {position} (tensors must be "
                      "contiguous)")
        position = end
    if position > len(buffer):
        raise bad(f"file is truncated: the tensors need {position} bytes of data, only {len(buffer)} are present")
    if position < len(buffer):
        raise bad(f"corrupted file: {len(buffer) - position} unexpected bytes after the tensor data")
    if "data_crc32" in metadata and metadata["data_crc32"] != str(zlib.crc32(buffer)):
        raise bad("corrupted tensor data: checksum mismatch")
    tensors = {}
    for begin, end, name, dtype, shape in entries:
        tensors[name] = np.frombuffer(buffer[begin:end], dtype=_DTYPES[dtype]).reshape(shape)
    return metadata, tensors


def _assign(model, tensors, path):
    """Check every tensor of ``tensors`` against ``model``, then copy them in.

    Tensors are matched by name (``<layer>.<weight>``); when the names differ but the file holds
    the same weights in the same order (a model rebuilt in another session, whose automatic layer
    names moved on), they are matched by position, like Keras's ``load_weights``.
    """
    if not model.built:
        raise ValueError(f"{path}: the model is not built yet; build it (or give it an input shape) before "
                         "loading weights")
    expected = _named_tensors(model)
    names = [name for name, _ in expected]
    in_file = list(tensors)  # in data order, which is the order they were saved in
    problems = []
    if set(names) == set(in_file):
        pairs = [(name, name, value) for name, value in expected]
    elif len(in_file) == len(names) and all(f.rsplit(".", 1)[-1] == m.rsplit(".", 1)[-1] for f, m in zip(in_file, names)):
        pairs = [(f, m, value) for f, (m, value) in zip(in_file, expected)]
    else:
        pairs = [(name, name, value) for name, value in expected if name in tensors]
        problems += [f"missing tensor {name} (shape {value.shape}) in file" for name, value in expected
                     if name not in tensors]
        problems += [f"unexpected tensor {name} in file" for name in in_file if name not in names]
    for f, m, value in pairs:
        if tensors[f].shape != value.shape:
            label = m if f == m else f"{m} (file: {f})"
            problems.append(f"size mismatch for {label}: {tensors[f].shape} in file, {value.shape} in model")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"{path}: the file does not match model '{model.name}': {shown}")
    for f, _, value in pairs:
        value[...] = tensors[f]


def load_weights(model, filepath):
    """Copy the weights in ``filepath`` into ``model`` (all-or-nothing)."""
    _, tensors = read_file(filepath)
    _assign(model, _weights_only(tensors), os.fspath(filepath))


def _weights_only(tensors):
    """A file's tensors without the optimizer's state slots."""
    return {name: value for name, value in tensors.items() if not name.startswith(_OPTIMIZER)}


# Keras 3's safe mode: a config that holds code (a Lambda's lambda, saved as bytecode) is refused
# unless load_model(safe_mode=False) or enable_unsafe_deserialization() allows it
_unsafe_deserialization = False
_safe_mode = contextvars.ContextVar("fastnn_safe_mode", default=None)


def enable_unsafe_deserialization():
    """Allow loading lambdas saved as bytecode everywhere (Keras 3's ``keras.config.enable_unsafe_deserialization``)."""
    global _unsafe_deserialization
    _unsafe_deserialization = True


def in_safe_mode():
    """Whether a config's code is refused now: load_model's safe_mode while it runs, else the global setting."""
    scoped = _safe_mode.get()
    return (not _unsafe_deserialization) if scoped is None else scoped


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild the model saved in ``filepath``: architecture, weights, and (with ``compile``) its
    optimizer (with its state: fit goes on where it stopped), loss and metrics. ``safe_mode=False`` lets a Lambda's
    lambda, saved as bytecode, be rebuilt (that runs code from the file), as in Keras 3."""
    token = _safe_mode.set(bool(safe_mode) and not _unsafe_deserialization)
    try:
        return _load_model(filepath, custom_objects, compile)
    finally:
        _safe_mode.reset(token)


def _load_model(filepath, custom_objects, compile):
    path = os.fspath(filepath)
    metadata, tensors = read_file(path)
    if "feature_space_config" in metadata:  # (FeatureSpace.save's file: keras.models.load_model reads it, as Keras)
        from ._feature_space import feature_space_from_file
        return feature_space_from_file(metadata, tensors, path)
    if "model_config" not in metadata:
        raise ValueError(f"{path}: holds weights only (written by save_weights); build the model and call "
                         "model.load_weights() instead")
    try:
        config = json.loads(metadata["model_config"])
    except ValueError as e:
        raise ValueError(f"{path}: corrupted model config ({e})") from None
    custom_objects = custom_objects_with(custom_objects)
    with custom_object_scope(custom_objects):  # (a layer's initializer, regularizer or constraint of your own)
        return _built_from(config, metadata, tensors, path, custom_objects, compile)


def _built_from(config, metadata, tensors, path, custom_objects, compile):
    from . import losses, metrics, optimizers

    model = deserialize_model(config, custom_objects)
    _assign(model, _weights_only(tensors), path)
    if compile and "compile_config" in metadata:
        try:
            cc = json.loads(metadata["compile_config"])
            if isinstance(cc["loss"], list):  # several outputs: per-output losses, weights and metrics
                model.compile(optimizer=optimizers.deserialize(cc["optimizer"]),
                              loss=[losses.deserialize(l, custom_objects) for l in cc["loss"]],
                              loss_weights=cc.get("loss_weights"),
                              metrics=[list(m) for m in cc.get("metrics") or []] or None)
            else:
                model.compile(optimizer=optimizers.deserialize(cc["optimizer"]),
                              loss=losses.deserialize(cc["loss"], custom_objects),
                              loss_weights=cc.get("loss_weights"),
                              metrics=list(cc.get("metrics") or []),
                              weighted_metrics=list(cc.get("weighted_metrics") or []) or None)
        except metrics.UnknownMetric as e:  # (a metric of your own, not in custom_objects: the model loads)
            warnings.warn(f"load_model: {path} is returned uncompiled: {e}. Pass the metric in custom_objects to "
                          "load it compiled, or compile it again", stacklevel=4)
            return model
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{path}: invalid compile config ({e})") from None
        _restore_optimizer_state(model, metadata, tensors, path)
    return model


__all__ = ["get_custom_objects", "register_keras_serializable", "custom_object_scope", "CustomObjectScope",
           "get_registered_name", "get_registered_object", "save_model", "load_model", "save_weights", "load_weights", "read_file", "serialize_model",
           "deserialize_model", "FORMAT_VERSION"]
