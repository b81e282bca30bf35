"""TensorFlow's ``tf.train.Checkpoint`` and ``tf.train.CheckpointManager``, as TensorFlow's
tutorials use them (DCGAN, pix2pix, the Transformer, the training-checkpoints guide):

    checkpoint = tf.train.Checkpoint(step=tf.Variable(1), optimizer=opt, generator=generator)
    manager = tf.train.CheckpointManager(checkpoint, "./tf_ckpts", max_to_keep=3)
    checkpoint.restore(manager.latest_checkpoint)
    ...
    manager.save()

A checkpoint names each value by where it is held, as TensorFlow's object graph does: the
keyword given to the Checkpoint, then the layer's attribute in a subclassed model
(``net/conv1/kernel``), a functional or Sequential model's layer by its place in ``layers``
(``generator/layer-2/kernel``), an optimizer's step count and state slots. So it can be restored into objects built again in a new process,
and into a subclassed model that has not made its weights yet: those values wait on the layer
(`Layer.add_weight` takes them) or on the optimizer (its first step takes them), as TensorFlow
restores on creation. A checkpoint is one file at its prefix path, in fastnn's safetensors
layout (`fastnn.saving`); the directory's ``checkpoint`` file lists the prefixes, so
``tf.train.latest_checkpoint`` finds them.
"""

from __future__ import annotations

import os

import numpy as np

from . import autodiff, saving
from .layers.base import Layer, _held, sublayers
from .optimizers import Optimizer

_INT_KINDS = "iub"  # (an int Variable, a step counter, is stored as float64: exact to 2**53)


def _trackable(value):
    return isinstance(value, (Layer, Optimizer, autodiff.Variable, Checkpoint)) or _is_model(value) \
        or getattr(type(value), "_holds_variables", False)


def _is_model(value):
    from .models import Model

    return isinstance(value, Model)


class _Deferred:
    """A part of the object graph whose values cannot be placed yet (a layer with no weights, an
    optimizer with no state): restore hands it the values under its prefix."""

    def __init__(self, obj, prefix):
        self.obj, self.prefix = obj, prefix


def _walk(obj, prefix, out):
    """Append to ``out`` ``(key, array)`` for each value ``obj`` holds, or a `_Deferred` for the
    parts that have none yet."""
    if isinstance(obj, Checkpoint):
        for name, value in obj._children.items():
            _walk(value, f"{prefix}{name}/", out)
    elif isinstance(obj, autodiff.Variable):
        out.append((prefix.rstrip("/"), obj.value))
    elif isinstance(obj, Optimizer):
        out.append((f"{prefix}iterations", _OptimizerScalar(obj, "iterations", int)))
        if obj.__dict__.get("gradient_accumulation_steps"):  # (the calls: the schedule's step, the next update)
            out.append((f"{prefix}_calls", _OptimizerScalar(obj, "_calls", int)))
        if isinstance(obj.__dict__.get("_lr"), (int, float, np.floating)):  # (a schedule is code, not state)
            out.append((f"{prefix}learning_rate", _OptimizerScalar(obj, "_lr", float)))
        for attr in obj._scalar_attrs:  # (Nadam's momentum-cache product)
            out.append((f"{prefix}{attr}", _OptimizerScalar(obj, attr, float)))
        if obj.built:
            for attr in obj._slot_attrs:
                for i, slot in enumerate(getattr(obj, attr, None) or []):
                    if slot is not None:
                        out.append((f"{prefix}{attr}/{i}", slot))
        else:
            out.append(_Deferred(obj, prefix))
    elif _is_model(obj) and not (obj._subclassed or obj._holder):
        # a functional or Sequential model: its layers by place, as TensorFlow's "layer-3", so a
        # model made again with new automatic layer names ("dense_7") still matches
        for i, layer in enumerate(obj.layers):
            _walk(layer, f"{prefix}layer-{i}/", out)
        if obj.optimizer is not None:  # (tf.keras tracks a compiled model's optimizer)
            _walk(obj.optimizer, f"{prefix}optimizer/", out)
    elif _is_model(obj) or getattr(type(obj), "_holds_variables", False):
        # a subclassed model, or a tf.Module: what it holds, by attribute
        skip = set(getattr(obj, "_state_attrs", ())) | {"_eager_call", "optimizer"}
        for path, value in _held(obj, skip, _trackable, lambda value: None):
            _walk(value, f"{prefix}{path}/", out)
        if _is_model(obj) and obj.optimizer is not None:
            _walk(obj.optimizer, f"{prefix}optimizer/", out)
    elif isinstance(obj, Layer):
        if obj.built:
            out.extend((prefix + name, value) for name, value in zip(obj.weight_names, obj.weights))
        else:
            out.append(_Deferred(obj, prefix))
    else:
        raise ValueError(f"Checkpoint: {prefix.rstrip('/')!r} is a {type(obj).__name__}; a checkpoint holds models, "
                         "layers, optimizers, tf.Variables, tf.Modules and other Checkpoints")


class _OptimizerScalar:
    """One number an optimizer keeps (its step count, its learning rate as ReduceLROnPlateau left
    it, Nadam's product) as a checkpoint value: a float64 array of one element."""

    shape = ()

    def __init__(self, optimizer, attr, kind):
        self.optimizer, self.attr, self.kind = optimizer, attr, kind

    def __array__(self, dtype=None, copy=None):
        return np.asarray(float(self.kind(getattr(self.optimizer, self.attr))), dtype=dtype or np.float64)

    def set(self, value):
        if self.attr in self.optimizer._scalar_attrs and not self.optimizer.built:  # (build would reset it)
            self.optimizer.__dict__.setdefault("_pending_scalars", {})[self.attr] = self.kind(value)
        else:
            setattr(self.optimizer, self.attr, self.kind(value))


def _saved(value):
    array = np.asarray(value)
    return array.astype(np.float64) if array.dtype.kind in _INT_KINDS or array.dtype == np.float16 else array


def _put(target, value):
    if isinstance(target, _OptimizerScalar):
        target.set(value)
    else:
        target[...] = np.asarray(value).astype(target.dtype)


def _defer(obj, rel, value):
    """Hand ``value`` (saved under ``rel`` in ``obj``) to the part of ``obj`` that will make it."""
    if isinstance(obj, Optimizer):  # (its first step takes them: Optimizer._build_state)
        obj.__dict__.setdefault("_pending_slots", {})[rel] = value
        return
    for path, sub in sublayers(obj):
        if rel.startswith(path + "/"):
            return _defer(sub, rel[len(path) + 1:], value) if not sub.built else \
                _put(dict(zip(sub.weight_names, sub.weights))[rel[len(path) + 1:]], value)
    obj.__dict__.setdefault("_pending_weights", {})[rel] = value


class CheckpointLoadStatus:
    """What `Checkpoint.restore` matched, with TensorFlow's assertions."""

    def __init__(self, path, unused, missing, deferred):
        self.path, self._unused, self._missing, self._deferred = path, unused, missing, deferred

    def assert_consumed(self):
        """Every value in the file went somewhere, and every object's values were in the file."""
        self.assert_existing_objects_matched()
        if self._unused:
            raise AssertionError(f"Checkpoint {self.path}: values in the file not matched to any object: "
                                 f"{sorted(self._unused)[:10]}")
        return self

    def assert_existing_objects_matched(self):
        if self._missing:
            raise AssertionError(f"Checkpoint {self.path}: objects with no value in the file: "
                                 f"{sorted(self._missing)[:10]}")
        return self

    def assert_nontrivial_match(self):
        return self

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        return None

    def initialize_or_restore(self, session=None):
        return None


class _NothingRestored(CheckpointLoadStatus):
    """``restore(None)`` (no checkpoint yet): nothing is restored, as in TensorFlow."""

    def __init__(self):
        super().__init__(None, (), (), ())

    def assert_consumed(self):
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being restored.")

    assert_existing_objects_matched = assert_nontrivial_match = assert_consumed


class Checkpoint:
    """``tf.train.Checkpoint(**objects)``: saves and restores the values the objects hold."""

    def __init__(self, root=None, **kwargs):
        children = dict(kwargs)
        if root is not None:
            children["root"] = root
        for name, value in children.items():
            if not _trackable(value):
                raise ValueError(f"Checkpoint: {name}={type(value).__name__} is not something a checkpoint can hold "
                                 "(models, layers, optimizers, tf.Variables, tf.Modules and other Checkpoints)")
        self.__dict__["_children"] = children
        self.__dict__["_save_counter"] = None

    def __getattr__(self, name):
        children = self.__dict__.get("_children", {})
        if name in children:
            return children[name]
        raise AttributeError(f"'Checkpoint' object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if not _trackable(value):
            raise ValueError(f"Checkpoint: {name}={type(value).__name__} is not something a checkpoint can hold")
        self._children[name] = value

    @property
    def save_counter(self):
        """The number of `save` calls (restored with the checkpoint, so numbering goes on)."""
        if self._save_counter is None:
            self.__dict__["_save_counter"] = autodiff.Variable(np.int64(0), trainable=False, name="save_counter")
        return self._save_counter

    def _values(self):
        out = []
        _walk(self, "", out)
        if self._save_counter is not None:
            out.append(("save_counter", self._save_counter.value))
        deferred = [x for x in out if isinstance(x, _Deferred)]
        values = [x for x in out if not isinstance(x, _Deferred)]
        return values, deferred

    def write(self, file_prefix, options=None):
        """Write the values to ``file_prefix`` (no counter, no ``checkpoint`` file); return the path."""
        path = os.fspath(file_prefix)
        values, _ = self._values()  # (a layer not built yet, an optimizer before its first step: nothing to save)
        keys = [k for k, _ in values]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Checkpoint: two values share the name {next(k for k in keys if keys.count(k) > 1)!r}")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        saving._write(path, [(k, _saved(v)) for k, v in values], saving._base_metadata(), True)
        return path

    def save(self, file_prefix, options=None):
        """Write ``<file_prefix>-<n>`` for the n-th save and record it in its directory's
        ``checkpoint`` file (`tf.train.latest_checkpoint`); return that path."""
        counter = self.save_counter
        counter.assign_add(1)
        path = self.write(f"{os.fspath(file_prefix)}-{int(counter.value)}")
        directory = os.path.dirname(os.path.abspath(path))
        # (TensorFlow's Checkpoint.save lists only this save, all_model_checkpoint_paths=[file_path]:
        # listing every earlier one grew the file, and each save's time, with the saves)
        saving.record_checkpoint(directory, path, [path])
        return path

    def read(self, save_path, options=None):
        return self.restore(save_path)

    def restore(self, save_path, options=None):
        """Restore the values saved at ``save_path`` (None: nothing, as when no checkpoint exists
        yet). Every value whose object exists is checked first, so a bad file changes nothing."""
        if save_path is None:
            return _NothingRestored()
        path = os.fspath(save_path)
        _, tensors = saving.read_file(path)
        values, deferred = self._values()
        if self._save_counter is None and "save_counter" in tensors:
            self.save_counter  # noqa: B018 (made, so the numbering goes on from the file's)
            values.append(("save_counter", self._save_counter.value))
        problems = [f"{k}: {np.shape(tensors[k])} in file, {v.shape} here" for k, v in values
                    if k in tensors and np.shape(tensors[k]) != tuple(v.shape)]
        if problems:
            raise ValueError(f"Checkpoint.restore({path!r}): shapes differ: {'; '.join(problems[:5])}")
        used = set()
        for k, v in values:
            if k in tensors:
                _put(v, tensors[k])
                used.add(k)
        for k, v in values:  # (a checkpoint from before the calls were saved: as many as its updates took)
            if k not in tensors and isinstance(v, _OptimizerScalar) and v.attr == "_calls":
                v.set(int(v.optimizer.iterations) * v.optimizer.gradient_accumulation_steps)
        for d in deferred:
            for k in tensors:
                if k.startswith(d.prefix) and k not in used:
                    _defer(d.obj, k[len(d.prefix):], np.array(tensors[k]))
                    used.add(k)
        missing = [k for k, _ in values if k not in tensors and k != "save_counter"]
        return CheckpointLoadStatus(path, set(tensors) - used, missing, deferred)


def _recorded(directory):
    """The checkpoint paths the directory's ``checkpoint`` file lists, oldest first."""
    return [p for p in saving.recorded_checkpoints(directory) if os.path.exists(p)]


class CheckpointManager:
    """``tf.train.CheckpointManager(checkpoint, directory, max_to_keep)``: numbered saves
    ``<directory>/<checkpoint_name>-<n>``, keeping the last ``max_to_keep`` (None: all)."""

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None, init_fn=None):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(f"CheckpointManager: checkpoint must be a tf.train.Checkpoint. Received: "
                            f"{type(checkpoint).__name__}")
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep <= 0):
            raise ValueError(f"CheckpointManager: max_to_keep must be a positive integer or None. Received: "
                             f"{max_to_keep!r}")
        self._checkpoint = checkpoint
        self.directory = os.fspath(directory)
        self._max_to_keep = max_to_keep
        self._prefix = os.path.join(self.directory, checkpoint_name)
        self._init_fn = init_fn
        self._checkpoints = _recorded(self.directory) if os.path.isdir(self.directory) else []

    @property
    def checkpoints(self):
        """The paths it keeps, oldest first."""
        return list(self._checkpoints)

    @property
    def latest_checkpoint(self):
        return self._checkpoints[-1] if self._checkpoints else None

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Save the checkpoint as ``<prefix>-<n>`` (n: ``checkpoint_number`` when given, else the
        checkpoint's save counter), drop the oldest beyond ``max_to_keep``; return the path."""
        os.makedirs(self.directory, exist_ok=True)
        counter = self._checkpoint.save_counter
        counter.assign_add(1)
        number = int(counter.value) if checkpoint_number is None else int(checkpoint_number)
        path = self._checkpoint.write(f"{self._prefix}-{number}")
        self._checkpoints = [p for p in self._checkpoints if p != path] + [path]
        if self._max_to_keep is not None:
            while len(self._checkpoints) > self._max_to_keep:
                old = self._checkpoints.pop(0)
                if os.path.exists(old):
                    os.remove(old)
        saving.record_checkpoint(self.directory, path, self._checkpoints)
        return path

    def restore_or_initialize(self):
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None
