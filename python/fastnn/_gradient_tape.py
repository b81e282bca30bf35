"""fastnn.GradientTape — TensorFlow's tape, for a custom ``train_step`` (Keras's "customizing
what happens in fit()" guide, its VAE and GAN examples)::

    with fastnn.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(y=y, y_pred=y_pred)
    grads = tape.gradient(loss, model.trainable_weights)
    model.optimizer.apply_gradients(zip(grads, model.trainable_weights))

While the tape records, a model or layer called on arrays returns a `fastnn.autodiff.Tensor`: each
layer is one node of the tape, whose gradient is the layer's own backward pass (the C++ kernels),
and each trainable weight it uses gets a leaf. The ``fastnn.ops`` / ``keras.ops`` functions and
the losses applied to these tensors are recorded too. `gradient` walks the tape back from the
target to the weights asked for (the arrays of ``trainable_weights``).

What it does not do: differentiate NumPy code (``np.mean(loss)`` takes the tensor's value and is
not recorded) or differentiate a gradient (second order). An array given to `watch` is recorded
where a model, a layer or a backend function (`fastnn.ops`, TensorFlow's names) takes it, and in
Python's operators when it is an `EagerArray` (what ``tf.constant`` gives).
"""

from __future__ import annotations

import contextlib
import functools
import operator
import threading

import numpy as np

from . import autodiff
from ._batch_dataset import EagerArray
from .layers.base import TapeLeaves, _tape_leaves, _tape_training


class RecordedLeaves(TapeLeaves):
    """A GradientTape's leaves: one per trainable weight a layer called under it uses (made on
    first use; only the watched ones with ``watch_accessed_variables=False``), and one per array
    given to `GradientTape.watch`."""

    separate_losses = True

    def __init__(self, watch_accessed=True):
        super().__init__()
        self.watch_accessed = watch_accessed
        # the tapes recording with these leaves (nested tapes share them: a GAN's gen_tape and
        # disc_tape) and how many of them are done (took their one gradient, or were deleted); the
        # nodes recorded while these were the innermost leaves; the sessions recording when these
        # began (their graphs may use these nodes), and the inner sessions waiting for this one
        self.tapes, self.done, self.nodes, self.enclosing, self.waiting = 0, 0, [], [], []
        self.watchers = {}  # key of an array or variable given to watch() -> the tapes that watched it

    def leaf(self, weight):
        leaf = self.get(id(weight))
        if leaf is None and self.watch_accessed:
            leaf = self[id(weight)] = autodiff.Tensor(weight)
        return leaf

    def records(self, layer):
        if self.watch_accessed:  # (a layer built by this call: its weights get leaves after it)
            return not layer.built or bool(layer.trainable_weights)
        return super().records(layer)

    def watch(self, array):
        if id(array) not in self:
            self[id(array)] = autodiff.Tensor(array)


def _finish(session):
    """Once every tape of ``session`` (leaves shared by nested tapes) is done, let its graph go: each
    node it recorded keeps its value only, as TensorFlow's tape frees its record after gradient()
    (a non-persistent tape) or when it is deleted. A loss kept after the step (``losses.append(loss)``,
    ``total_loss += loss``) would otherwise hold every layer's inputs and caches of that step,
    memory growing with every step of a custom training loop. A tape that recorded while an outer one
    (of other leaves) did waits for that one: the outer graph may run through these nodes."""
    if session.done < session.tapes:
        return
    pending = [outer for outer in session.enclosing if outer.done < outer.tapes]
    if pending:
        pending[0].waiting.append(session)  # (tried again when that one is done)
        return
    _release_nodes(session)
    waiting, session.waiting = session.waiting, []
    for inner in waiting:
        _finish(inner)


def _release_nodes(session):
    """Each node ``session`` recorded keeps its value only (a constant from now on)."""
    nodes, session.nodes = session.nodes, []
    for node in nodes:
        node._inputs, node._backward = autodiff.RELEASED, None


class _StoppedLeaves(TapeLeaves):
    """On the stack inside `GradientTape.stop_recording`."""


# (gradient() in a stop_recording() block still sums its targets on the tape: `_state.building_gradient`)
autodiff.recording_stopped = lambda: bool(_tape_leaves) and type(_tape_leaves[-1]) is _StoppedLeaves \
    and not _state.building_gradient


class _ThreadState(threading.local):
    """Per thread, as the tape stack: the record tokens of the GradientTapes recording now (a tuple,
    shared by the nodes they make), and whether gradient() builds its own nodes (the sum of the
    targets: no tape's)."""

    recording_tokens = ()
    building_gradient = False


_state = _ThreadState()


def _register(node):
    """A node made while a GradientTape records: one of that tape's (`_finish`), differentiated by
    the tapes recording now only (`_tapes`), as TensorFlow's tape sees the ops run while it is active."""
    if _tape_leaves and not _state.building_gradient:
        top = _tape_leaves[-1]
        if type(top) is RecordedLeaves:
            top.nodes.append(node)
            node._tapes = _state.recording_tokens


autodiff.register_node = _register


def recording():
    """The leaves of the GradientTape recording now, or None (none does, or a layer's plain
    forward pass runs inside it)."""
    return _tape_leaves[-1] if _tape_leaves and isinstance(_tape_leaves[-1], RecordedLeaves) else None


autodiff.watched_leaves = recording  # (the backend functions take the leaves of watched arrays)


def watched_input(x, prepared):
    """``prepared`` (a model's input array made from the caller's ``x``) on the recording tape:
    the leaf of ``x`` when it is watched (through a cast when ``prepared`` is a converted copy),
    else the array itself."""
    leaves = recording()
    leaf = leaves.get(id(x)) if leaves is not None else None
    if leaf is None:
        return prepared
    if leaf.value is prepared:
        return leaf
    return autodiff.Tensor(prepared, (leaf,), lambda g: [np.asarray(g).reshape(leaf.shape)])


def flatten(structure):
    """The arrays of ``structure`` (an array, or nested lists, tuples and dicts of them), in order."""
    if isinstance(structure, dict):
        return [x for v in structure.values() for x in flatten(v)]
    if isinstance(structure, (list, tuple)):
        return [x for v in structure for x in flatten(v)]
    return [structure]


def _no_second_order(g):
    if not np.any(g):  # (nothing reaches the gradient: the adversarial step x + eps·sign(g) of FGSM)
        return [None]
    raise NotImplementedError(
        "GradientTape.gradient: this loss is made of gradients computed while the tape recorded (a gradient "
        "penalty, as WGAN-GP's): fastnn does not differentiate gradients (no second-order derivatives), which "
        "TensorFlow does. Leave that term out of the loss, or replace it (e.g. weight clipping, as the original "
        "WGAN, or spectral normalization)")


def _outer_targets(target):
    """The tensors of ``target`` when a gradient of it is taken while a tape records (another one's
    with-block, or a custom layer's call() under one: a PINN's du/dx): its results are then nodes
    on their targets whose gradient raises (`_no_second_order`), so a loss made of them fails
    instead of training without them. None otherwise."""
    if recording() is None and not any(type(s) is RecordedLeaves for s in _tape_leaves):
        return None
    tensors = tuple(t for t in flatten(target) if isinstance(t, autodiff.Tensor))
    return tensors or None


def _rebuild(structure, values):
    """``structure`` (nested lists, tuples and dicts) with its leaves replaced, in order, by
    ``values`` (an iterator)."""
    if isinstance(structure, dict):
        return {k: _rebuild(v, values) for k, v in structure.items()}
    if isinstance(structure, tuple):
        return tuple(_rebuild(v, values) for v in structure)
    if isinstance(structure, list):
        return [_rebuild(v, values) for v in structure]
    return next(values)


class GradientTape:
    """Records the models and layers called inside ``with GradientTape() as tape:`` (and the
    backend functions applied to their outputs), so `gradient` can differentiate a loss built
    from them with respect to the weights.

    Args:
        persistent: allow more than one `gradient` call (else the second raises).
        watch_accessed_variables: give every trainable weight the layers use a leaf; with False,
            only the ones passed to `watch`.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._leaves = RecordedLeaves(self._watch_accessed)
        self._token = object()  # its record's (`_register`): a new one when it records afresh
        self._recording = False
        self._used = False
        self._done = False

    def __enter__(self):
        if self._recording:
            raise RuntimeError("GradientTape: this tape is already recording")
        if self._used and not self._persistent:  # (its gradient was taken: it records afresh, as TensorFlow's)
            self._used = False
            self._leaves = RecordedLeaves(self._watch_accessed)
            self._token = object()
        outer = recording()
        if outer is not None:
            # nested tapes share the leaves: each one's gradient sees the nodes recorded while it records, as
            # TensorFlow records every op on every active tape; what each differentiates is filtered by
            # what it watches (`_watches`). Accessed weights get leaves while any of them watches those.
            self._leaves = outer
            outer.watch_accessed = outer.watch_accessed or self._watch_accessed
        elif not self._leaves.tapes:
            self._leaves.enclosing = [s for s in _tape_leaves if type(s) is RecordedLeaves and s is not self._leaves]
        _tape_leaves.append(self._leaves)
        if self.__dict__.get("_pushed") is not self._leaves:  # (a tape entered again counts once)
            self._leaves.tapes += 1
            self._done = False
        _tape_training.append(None)  # a layer called without training= takes its own default, as in Keras
        self._pushed = self._leaves
        self._recording = True
        _state.recording_tokens = _state.recording_tokens + (self._token,)
        return self

    def __exit__(self, *exc):
        self._stop()
        return False

    def _stop(self):
        if self._recording:
            at = max(i for i, leaves in enumerate(_tape_leaves) if leaves is self._pushed)
            del _tape_leaves[at], _tape_training[-1]
            self._recording = False
            _state.recording_tokens = tuple(t for t in _state.recording_tokens if t is not self._token)
            if self._done:  # (gradient() inside the with-block: what it recorded after that goes too)
                _finish(self._pushed)

    def _mark_done(self):
        session = self.__dict__.get("_pushed")
        if session is not None and not self._done:
            self._done = True
            session.done += 1
            _finish(session)

    def _release(self):
        """After a non-persistent tape's gradient: done, and its record freed (the recorded layers'
        states); what it watched stays listed (`watched_variables`, as TensorFlow's)."""
        self._watched_before_release = self.watched_variables()
        self._mark_done()
        self._leaves = RecordedLeaves(self._watch_accessed)

    def __del__(self):  # (a persistent tape, or one whose gradient was never taken: its record goes with it)
        try:
            self._mark_done()
        except Exception:  # (at interpreter exit)
            pass

    def watch(self, tensor):
        """Give ``tensor`` (a weight array, or a model input array; or a list of them) a leaf, so
        `gradient` can differentiate with respect to it."""
        for x in flatten(tensor):
            if isinstance(x, autodiff.Variable):  # recorded from here on, trainable or not
                self._leaves.setdefault(id(x.value), x)
                self._leaves.watchers.setdefault(id(x.value), set()).add(id(self))
                continue
            if isinstance(x, autodiff.Tensor):  # already a node or leaf: a source of this tape's from here on
                self._leaves.watchers.setdefault(id(x), set()).add(id(self))
                continue
            if not isinstance(x, np.ndarray):
                raise TypeError(f"GradientTape.watch: expected NumPy arrays (weights or model inputs). Received: "
                                f"{type(x).__name__}")
            self._leaves.watch(x)
            self._leaves.watchers.setdefault(id(x), set()).add(id(self))

    def _watches(self, source):
        """Whether this tape differentiates with respect to ``source``, as TensorFlow's: a tensor it
        computed, what it was given to watch, and, watching accessed variables, the trainable
        weights and variables (not an array only a nested tape watched)."""
        key = id(source.value) if isinstance(source, autodiff.Variable) else id(source)
        watchers = self._leaves.watchers.get(key)
        if watchers is not None and id(self) in watchers:
            return True
        if isinstance(source, autodiff.Tensor) and not isinstance(source, autodiff.Variable) and source._inputs:
            # a tensor it computed (or one computed off every tape), not another tape's it did not watch
            return source._tapes is None or self._token in source._tapes
        if not self._watch_accessed:
            return watchers is None and not isinstance(source, (np.ndarray, autodiff.Variable))
        trainable = getattr(source, "trainable", None) or getattr(getattr(source, "weight", None), "trainable", False)
        return watchers is None or bool(trainable)

    def watched_variables(self):
        """What has a leaf on this tape: the tf.Variables used or watched, and the arrays (weights
        used, arrays watched)."""
        if not self._leaves and self._used and not self._persistent:
            return list(self.__dict__.get("_watched_before_release", []))
        return [leaf if isinstance(leaf, autodiff.Variable) else leaf.value for leaf in self._leaves.values()]

    @contextlib.contextmanager
    def stop_recording(self):
        """Within it nothing is recorded: models and layers run as outside any tape, and what is
        computed from the tape's tensors is a constant to it (an eager array), as TensorFlow's."""
        _tape_leaves.append(_StoppedLeaves())
        # (a tape opened inside records its own ops only: this one records none of them)
        token, suspended = self._token, self._token in _state.recording_tokens
        _state.recording_tokens = tuple(t for t in _state.recording_tokens if t is not token)
        try:
            yield
        finally:
            _tape_leaves.pop()
            if suspended:
                _state.recording_tokens = _state.recording_tokens + (token,)

    def reset(self):
        """Forget what was recorded and watched (what it computes from here on is its record), as
        exiting and entering a new tape. A tape nested with others forgets only its own part of
        the record they share; alone, it lets the recorded graph go (a persistent tape reset every
        step keeps no step's graph)."""
        old, self._token = self._token, object()
        _state.recording_tokens = tuple(self._token if t is old else t for t in _state.recording_tokens)
        session = self._leaves
        for watchers in session.watchers.values():
            watchers.discard(id(self))
        if session.tapes <= 1 and not any(outer.done < outer.tapes for outer in session.enclosing):
            _release_nodes(session)
            session.clear()
            session.watchers.clear()

    def jacobian(self, target, sources, unconnected_gradients="none", parallel_iterations=None,
                 experimental_use_pfor=True):
        """d target[i] / d source for every value i of ``target`` (one tensor): for each of
        ``sources`` (structured as in `gradient`) an array of shape ``target.shape +
        source.shape``; None for a source the target does not depend on (zeros with
        ``unconnected_gradients="zero"``). One backward pass per value of the target."""
        if isinstance(target, (list, tuple, dict)):
            raise TypeError("GradientTape.jacobian: target must be one tensor")
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians); create it with GradientTape(persistent=True) for more")
        value = np.asarray(autodiff._value(target))
        flat = flatten(sources)
        persistent, self._persistent = self._persistent, True  # (the same tape, once per value)
        try:
            rows = []
            for i in range(value.size):
                seed = np.zeros(value.size, value.dtype)
                seed[i] = 1
                self._used = False
                rows.append(flatten(self.gradient(target, sources, output_gradients=seed.reshape(value.shape),
                                                  unconnected_gradients=unconnected_gradients)))
        finally:
            self._persistent, self._used = persistent, True
        if not persistent:
            self._release()
        out = []
        for k, s in enumerate(flat):
            shape = value.shape + np.shape(autodiff._value(s))
            column = [row[k] for row in rows]
            if value.size and all(g is None for g in column):
                out.append(None)
                continue
            dtype = np.result_type(value.dtype, autodiff._value(s).dtype)
            stacked = np.stack([np.zeros(shape[value.ndim:], dtype) if g is None else np.asarray(g) for g in column]) \
                if column else np.zeros(shape, dtype)
            out.append(stacked.reshape(shape).view(EagerArray))
        outer = _outer_targets(target)
        if outer:  # (a Jacobian inside another tape: not differentiated further, as `gradient`'s)
            out = [g if g is None else autodiff.Tensor(g, outer, _no_second_order) for g in out]
        if not isinstance(sources, (list, tuple, dict)):
            return out[0]
        return _rebuild(sources, iter(out))

    def batch_jacobian(self, target, source, unconnected_gradients="none", parallel_iterations=None,
                       experimental_use_pfor=True):
        """d target[b, i] / d source[b, j] for each example b: an array of shape ``target.shape +
        source.shape[1:]``, for a target whose row b depends on row b of ``source`` alone (the
        examples of a batch are independent). One backward pass per value of a target's row, each
        seeding that value in every row at once."""
        if isinstance(target, (list, tuple, dict)) or isinstance(source, (list, tuple, dict)):
            raise TypeError("GradientTape.batch_jacobian: target and source must be one tensor each")
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians); create it with GradientTape(persistent=True) for more")
        value = np.asarray(autodiff._value(target))
        x = np.asarray(autodiff._value(source))
        if value.ndim < 1 or x.ndim < 1 or value.shape[0] != x.shape[0]:
            raise ValueError(f"GradientTape.batch_jacobian: target and source must share their first (batch) axis. "
                             f"Received: target.shape={value.shape}, source.shape={x.shape}")
        per_row = int(np.prod(value.shape[1:], dtype=np.int64))
        persistent, self._persistent = self._persistent, True  # (the same tape, once per value of a row)
        try:
            columns = []
            for i in range(per_row):
                seed = np.zeros((value.shape[0], per_row), value.dtype)
                seed[:, i] = 1
                self._used = False
                columns.append(self.gradient(target, source, output_gradients=seed.reshape(value.shape),
                                             unconnected_gradients=unconnected_gradients))
        finally:
            self._persistent, self._used = persistent, True
        if not persistent:
            self._release()
        if per_row and all(g is None for g in columns):
            return None
        dtype = np.result_type(value.dtype, x.dtype)
        stacked = np.stack([np.zeros(x.shape, dtype) if g is None else np.asarray(g) for g in columns], axis=1) \
            if columns else np.zeros((x.shape[0], 0) + x.shape[1:], dtype)
        result = stacked.reshape(value.shape + x.shape[1:]).view(EagerArray)
        outer = _outer_targets(target)
        return autodiff.Tensor(result, outer, _no_second_order) if outer else result

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d source for each of ``sources`` (an array, or a list, tuple or dict of them:
        weights from ``trainable_weights``, or arrays given to `watch`), in the same structure. A
        non-scalar target is summed (weighted by ``output_gradients`` when given; a list of targets
        adds up). A source the target does not depend on gets None, or zeros with
        ``unconnected_gradients="zero"``."""
        unconnected_gradients = getattr(unconnected_gradients, "value", unconnected_gradients)  # (the enum)
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"GradientTape.gradient: unconnected_gradients must be 'none' or 'zero'. "
                             f"Received: {unconnected_gradients!r}")
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians); create it with GradientTape(persistent=True) for more")
        self._used = True
        # (called while another tape records: WGAN-GP's gradient penalty, a Hessian. TensorFlow
        # differentiates these gradients; fastnn cannot, so they are nodes of that tape whose
        # gradient raises: a loss made of them fails there, instead of training without them)
        outer = _outer_targets(target)
        flat = flatten(sources)
        for s in flat:
            if not isinstance(s, (np.ndarray, autodiff.Tensor)):
                raise TypeError(f"GradientTape.gradient: sources must be arrays (the model's trainable_weights, or "
                                f"arrays given to watch()). Received: {type(s).__name__}")
        # each source's leaves: an array's (a layer's weight, or watched); a tf.Variable itself, and
        # its array's when a layer holding it (`track_variables`) was called on the tape; none for what
        # this tape does not watch
        leaves = [[] if not self._watches(s)
                  else list({id(leaf): leaf for leaf in (s, self._leaves.get(id(s.value))) if leaf is not None}.values())
                  if isinstance(s, autodiff.Variable) else [s] if isinstance(s, autodiff.Tensor)
                  else [self._leaves[id(s)]] if id(s) in self._leaves else [] for s in flat]
        targets = flatten(target)
        seeds = flatten(output_gradients) if output_gradients is not None else [None] * len(targets)
        if len(seeds) != len(targets):
            raise ValueError(f"GradientTape.gradient: {len(seeds)} output_gradients for {len(targets)} targets")
        total = None
        _state.building_gradient = True  # (the sum of the targets is no tape's node: `_register`)
        try:
            for t, seed in zip(targets, seeds):
                if isinstance(t, autodiff.Variable):  # the variable itself (tf.identity(v)): d v / d v = 1, as TensorFlow's
                    t = autodiff.Tensor(t.value.copy(), (t,), lambda g: (g,))
                elif isinstance(t, np.ndarray) and id(t) in self._leaves:  # (a weight or watched array itself: its leaf)
                    t = autodiff.Tensor(t.copy(), (self._leaves[id(t)],), lambda g: (g,))
                if not isinstance(t, autodiff.Tensor):
                    continue  # a value not computed on the tape: a constant
                term = autodiff.sum(t if seed is None else t * np.asarray(seed, dtype=t.dtype))
                total = term if total is None else total + term
        finally:
            _state.building_gradient = False
        if not isinstance(total, autodiff.Tensor):
            total = None  # (targets whose graph another tape let go: constants now, as a target this tape did not record)
        # (a target not computed on this tape, e.g. with NumPy, reaches no source: all None, as TensorFlow's)
        on_tape = [leaf for ls in leaves for leaf in ls] if total is not None else []
        # through the nodes this tape recorded (and those made off every tape), not another tape's:
        # what an outer tape computed before this one began is a constant here, as in TensorFlow
        token = self._token
        grads = iter(autodiff.grad(total, on_tape, unconnected="none", through=lambda node: (
            node._tapes is None or token in node._tapes)) if on_tape else [])
        out = []
        for s, ls in zip(flat, leaves):
            terms = [g for g in (next(grads) for _ in ls) if g is not None] if on_tape else []
            g = functools.reduce(operator.add, terms) if terms else None
            if g is None and unconnected_gradients == "zero":
                g = np.zeros_like(autodiff._value(s))
            # (TensorFlow's .numpy(); a sum of two paths' gradients of a scalar is a NumPy scalar)
            g = np.asarray(g).view(EagerArray) if isinstance(g, (np.ndarray, np.generic)) else g
            out.append(autodiff.Tensor(g, outer, _no_second_order) if outer and g is not None else g)
        if not self._persistent:
            self._release()
        if not isinstance(sources, (list, tuple, dict)):
            return out[0]
        return _rebuild(sources, iter(out))
