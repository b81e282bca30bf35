"""fastnn.optimizers — SGD, Adagrad, RMSprop, Adam, AdamW, Adadelta, Adamax, Nadam and Lion with
Keras 3's defaults and update rules.

An optimizer's ``build(params)`` creates its state slots (float32 C-contiguous arrays like the
parameters, made with ``np.zeros_like``); each step (`Optimizer.apply`) clips the gradients if
asked, then updates ALL parameters in one fused call (``ops.sgd_update`` and friends), in place.
Where epsilon sits (as in Keras 3):

    SGD       v = momentum·v - lr·g;  w += v  (nesterov: w += momentum·v - lr·g)
    Adagrad   a += g²;  w -= lr·g / sqrt(a + eps)               (a starts at 0.1)
    RMSprop   v = rho·v + (1-rho)·g²;  w -= lr·g / sqrt(v + eps)
    Adam      m += (g-m)(1-b1); v += (g²-v)(1-b2);
              w -= lr·sqrt(1-b2^t)/(1-b1^t) · m / (sqrt(v) + eps)      (AdamW: and weight decay)
    Adadelta  a = rho·a + (1-rho)·g²; d = -sqrt(D + eps)/sqrt(a + eps)·g; D = rho·D + (1-rho)·d²; w += lr·d
    Adamax    m += (g-m)(1-b1); u = max(b2·u, |g|); w -= lr·m / ((1-b1^t)(u + eps))
    Nadam     Adam's moments with Nesterov's look-ahead and the momentum schedule b1·(1 - 0.5·0.96^t)
    Lion      w -= lr·sign(b1·m + (1-b1)·g); m = b2·m + (1-b2)·g

``learning_rate`` may be a float, a `schedules.LearningRateSchedule` (called with the number of
updates so far) or a callable without arguments. tf.keras's ``lr=`` and ``decay=`` (the
learning rate divided by ``1 + decay·iterations``) are accepted.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from .. import _backend, autodiff, ops
from . import schedules
from .schedules import LearningRateSchedule


def _check_rate(value, name, cls, low=0.0, high=None, low_open=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{cls}: expected a number for `{name}`. Received: {name}={value!r}") from None
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and (high is None or v <= high)
    if not ok:
        bounds = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}{']' if high is not None else ')'}"
        raise ValueError(f"{cls}: `{name}` must be in {bounds}. Received: {name}={value!r}")
    return v


class _LearningRate(float):
    """An optimizer's learning rate as a float that remembers its optimizer: ``assign(value)``
    sets it (what ``K.set_value`` calls, as on a Keras variable)."""

    def __new__(cls, value, optimizer):
        lr = super().__new__(cls, value)
        lr._optimizer = optimizer
        return lr

    def assign(self, value):
        self._optimizer.learning_rate = value

    def numpy(self):
        return float(self)


class Optimizer:
    """Base class of fastnn's optimizers.

    Args:
        learning_rate: float, schedule or callable (tf.keras spelling ``lr`` accepted).
        clipnorm: clip each gradient to this L2 norm. clipvalue: clip each value to
            [-clipvalue, clipvalue]. global_clipnorm: clip all gradients jointly to this norm.
            (At most one of the three.)
        weight_decay: decoupled weight decay: ``w -= lr · weight_decay · w`` before each step.
        decay: tf.keras's legacy time decay of the learning rate.
        name: the optimizer's name.
        use_ema, ema_momentum, ema_overwrite_frequency: Keras 3's moving average of the weights.
        gradient_accumulation_steps: update every that many calls, with the mean of their
            gradients (``iterations`` counts the updates; schedules count every call, as Keras 3's).
        loss_scale_factor: the gradients are divided by it (`scale_loss` multiplies a loss by it).
    """

    _default_name = "optimizer"

    def __init__(self, learning_rate=0.001, clipnorm=None, clipvalue=None, global_clipnorm=None, weight_decay=None,
                 name=None, lr=None, decay=None, use_ema=False, **kwargs):
        cls = type(self).__name__
        ema_momentum = kwargs.pop("ema_momentum", 0.99)
        ema_overwrite_frequency = kwargs.pop("ema_overwrite_frequency", None)
        loss_scale_factor = kwargs.pop("loss_scale_factor", None)
        steps = kwargs.pop("gradient_accumulation_steps", None)
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword arguments {sorted(kwargs)}")
        self.use_ema = bool(use_ema)
        self.ema_momentum = _check_rate(ema_momentum, "ema_momentum", cls, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (isinstance(ema_overwrite_frequency, bool) or not isinstance(
                ema_overwrite_frequency, int) or ema_overwrite_frequency < 1):
            raise ValueError(f"{cls}: `ema_overwrite_frequency` must be None or a positive integer. Received: "
                             f"ema_overwrite_frequency={ema_overwrite_frequency!r}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        # Keras 3's loss_scale_factor: the gradients are divided by it (scale_loss multiplies a
        # custom loop's loss by it); gradient_accumulation_steps: an update every that many calls,
        # with the mean of their gradients
        self.loss_scale_factor = None if loss_scale_factor is None else \
            _check_rate(loss_scale_factor, "loss_scale_factor", cls, low_open=True)
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2):
            raise ValueError(f"{cls}: `gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={steps!r}")
        self.gradient_accumulation_steps = None if steps is None else int(steps)
        self._calls = 0  # apply calls, updates or not (Keras's _iterations, its schedules' step)
        if lr is not None:
            learning_rate = lr
        self.learning_rate = learning_rate
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{cls}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.clipnorm = None if clipnorm is None else _check_rate(clipnorm, "clipnorm", cls, low_open=True)
        self.clipvalue = None if clipvalue is None else _check_rate(clipvalue, "clipvalue", cls, low_open=True)
        self.global_clipnorm = None if global_clipnorm is None else _check_rate(global_clipnorm, "global_clipnorm", cls,
                                                                                 low_open=True)
        self.weight_decay = None if weight_decay is None else _check_rate(weight_decay, "weight_decay", cls)
        self.decay = 0.0 if decay is None else _check_rate(decay, "decay", cls)
        self.name = name or self._default_name
        self.iterations = 0
        self.built = False
        self._param_ids = None

    @property
    def iterations(self):
        """The number of updates applied so far (an int with TensorFlow's ``numpy()``)."""
        return _StepCount(self._iterations, self)

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) and not (
                isinstance(value, (float, np.floating)) and float(value).is_integer()):
            raise TypeError(f"{type(self).__name__}: iterations must be an int. Received: {value!r}")
        self._iterations = int(value)

    # -- learning rate ---------------------------------------------------------------------------

    @property
    def learning_rate(self):
        """The learning rate of the next update, as a float (one that ``K.set_value(optimizer.lr,
        0.01)``, Keras 2's way to change it in a callback, can assign through); with tf.keras 2's
        ``decay``, the base rate, as tf.keras 2 gives it (the update divides it by ``1 + decay ·
        iterations``), so a callback that reads it and writes it back does not decay it twice."""
        return _LearningRate(self._scheduled_lr(), self)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or (callable(value) and not isinstance(value, (int, float))):
            self._lr = value
        elif isinstance(self.__dict__.get("_lr"), LearningRateSchedule):
            # Keras's rule: a number would silently replace the schedule (ReduceLROnPlateau with
            # ExponentialDecay would train on at constant rates, the decay lost)
            raise TypeError(f"{type(self).__name__}: this optimizer was created with a `LearningRateSchedule` "
                            f"({type(self._lr).__name__}) as its `learning_rate`, hence its learning rate is not "
                            "settable. If you need the learning rate to be settable (ReduceLROnPlateau, "
                            "LearningRateScheduler), create the optimizer with a float `learning_rate`. "
                            f"Received: learning_rate={value!r}")
        else:
            self._lr = _check_rate(value, "learning_rate", type(self).__name__)

    lr = learning_rate  # tf.keras spelling

    def scale_loss(self, loss):
        """``loss`` times ``loss_scale_factor`` (a custom loop's loss before its gradient), as Keras 3's."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def _scheduled_lr(self):
        lr = self._lr
        if isinstance(lr, LearningRateSchedule):
            # (with gradient accumulation Keras's schedules count every call, not only the updates)
            lr = lr(self.__dict__.get("_calls", 0) if self.__dict__.get("gradient_accumulation_steps")
                    else self.iterations)
        elif callable(lr):
            lr = lr()
        return float(lr)

    def _current_lr(self):
        """The rate the next update uses: the scheduled one, over ``1 + decay · iterations``."""
        lr = self._scheduled_lr()
        if self.decay:
            lr /= 1.0 + self.decay * self.iterations
        return lr

    # -- state and updates ---------------------------------------------------------------------

    # the attributes holding state slot lists (one array per parameter, in `_params` order; None
    # where the configuration needs none); once built, an instance's own adds the general options'
    # slots (`_general_slot_attrs`), saved and restored with the others as Keras 3 saves them
    _slot_attrs = ()
    _scalar_attrs = ()  # state that is one number, saved with the slots (Nadam's momentum-cache product)

    def _restored_slots(self, present, sep):
        """``[(name, slot)]`` of the built state a restore fills, named ``<attr><sep><i>``: every
        slot, but a general option's (`_general_slot_attrs`) only when the names ``present`` in the
        file have them (a file saved before they were, or with that option off)."""
        general = self._general_slot_attrs()
        return [(f"{attr}{sep}{i}", slot) for attr in self._slot_attrs
                for i, slot in enumerate(getattr(self, attr, None) or [])
                if slot is not None and (attr not in general or f"{attr}{sep}0" in present)]

    def _general_slot_attrs(self):
        """With use_ema, each weight's moving average; with gradient_accumulation_steps, the sum of
        its gradients since the last update."""
        return (("_ema_averages",) if self.__dict__.get("use_ema") else ()) + \
            (("_gradient_sums",) if self.__dict__.get("gradient_accumulation_steps") else ())

    def build(self, params):
        """Create the state slots for ``params`` (resets any previous state)."""
        self._set_params([p.value if isinstance(p, autodiff.Variable) else p for p in params])  # (tf.Variable: its array)
        self._slot_attrs = type(self)._slot_attrs + self._general_slot_attrs()
        # (a weight's average starts at its value, which a first step would give it anyway: one that
        # joins later starts there too)
        self._ema_averages = [np.array(p, copy=True) for p in self._params] if self.__dict__.get("use_ema") else None
        self._gradient_sums = _zeros(self._params) if self.__dict__.get("gradient_accumulation_steps") else None
        self._user_slots = []  # (what a subclass's build makes with add_variable: its state, counted as Keras's)
        self.built = True

    def _build_state(self, params):
        """`build` for ``params``, then the state a checkpoint restored before there was any
        (`fastnn._checkpoint`: by slot name and parameter index), as TensorFlow restores a slot
        variable when it is made."""
        self.build(params)
        for attr, value in self.__dict__.pop("_pending_scalars", {}).items():
            setattr(self, attr, value)
        pending = self.__dict__.pop("_pending_slots", None)
        if not pending:
            return
        slots = dict(self._restored_slots(pending, "/"))
        if set(pending) != set(slots) or any(slots[k].shape != np.shape(v) for k, v in pending.items()):
            raise ValueError(f"{type(self).__name__}: the state restored from a checkpoint ({len(pending)} slots) does "
                             f"not fit the {len(params)} parameters it now updates ({len(slots)} slots)")
        for k, v in pending.items():
            slots[k][...] = v

    @property
    def variables(self):
        """The state slot arrays (for counting optimizer parameters): the `_slot_attrs` lists in
        order, then what a subclass made with `add_variable`."""
        slots = [s for attr in self._slot_attrs for s in (getattr(self, attr, None) or [])]
        return slots + list(self.__dict__.get("_user_slots", []))

    def _scalar_variables(self):
        """(count, bytes) of what Keras 3 also keeps as optimizer variables and counts in a
        summary: the int64 iteration counter, and the float32 learning rate unless it is a
        schedule (or another callable)."""
        fixed = not (isinstance(self._lr, LearningRateSchedule) or callable(self._lr))
        return (2, 12) if fixed else (1, 8)

    def _clip(self, grads):
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = math.sqrt(float(np.dot(g.reshape(-1), g.reshape(-1))))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        total = math.sqrt(sum(float(np.dot(g.reshape(-1), g.reshape(-1))) for g in grads))
        if not math.isfinite(total):  # (Keras's clip_by_global_norm: every gradient NaN, not the finite ones zeroed)
            return [np.full_like(g, np.nan) for g in grads]
        if total > self.global_clipnorm:
            return [g * (self.global_clipnorm / total) for g in grads]
        return grads

    def apply(self, grads, params=None):
        """One step: update every array of ``params`` in place from ``grads`` (same order).

        The first call builds the state for ``params``; a later call may update some of them, or
        new ones (which get new state), as a custom train_step does with two optimizers or with
        a gradient that is None (that parameter is left as it is, as Keras does). Without
        ``params``, the ones given to `build` (Keras 3's ``optimizer.apply(grads)``)."""
        grads = list(grads)
        if params is not None:
            _check_not_swapped(grads, params, type(self).__name__)
        if params is None:
            if not self.built:
                raise ValueError(f"{type(self).__name__}.apply: give the variables (apply(grads, variables)), or "
                                 "call optimizer.build(variables) first")
            params = list(self._params)
        constraints = [_constraint_of(p) for p in params]
        excluded = self.__dict__.get("_no_decay")
        # (exclude_from_weight_decay: by the weight or Variable, or by a pattern of its name)
        self._skip_decay = set() if excluded is None else {
            id(p.value if isinstance(p, autodiff.Variable) else p) for p in params
            if id(p) in excluded[0] or any(re.search(pattern, str(getattr(p, "name", ""))) for pattern in excluded[1])}
        params = [p.value if isinstance(p, autodiff.Variable) else p for p in params]  # (tf.Variable: its array)
        if len(grads) != len(params):
            raise ValueError(f"{type(self).__name__}: got {len(grads)} gradients for {len(params)} parameters")
        if any(g is None for g in grads):
            if all(g is None for g in grads):  # (as Keras: the loss reaches none of them)
                raise ValueError(f"{type(self).__name__}: no gradients provided for any of the {len(params)} "
                                 "parameters (the loss does not depend on them)")
            shapes = [p.shape for g, p in zip(grads, params) if g is None]
            warnings.warn(f"{type(self).__name__}: gradients do not exist for the parameters of shapes {shapes} when "
                          "minimizing the loss; they are not updated", stacklevel=2)
            params = [p for g, p in zip(grads, params) if g is not None]
            constraints = [c for g, c in zip(grads, constraints) if g is not None]
            grads = [g for g in grads if g is not None]
        if self.__dict__.get("loss_scale_factor") is not None:
            grads = [g / np.asarray(self.loss_scale_factor, np.asarray(g).dtype) for g in grads]
        if not self.built:
            self._build_state(params)
        self._add_params(params)
        rows = self._rows(params)
        steps = self.__dict__.get("gradient_accumulation_steps")
        calls = self.__dict__.get("_calls", 0)
        # Keras 3's `iterations` before this call (the updates so far; with accumulation the calls
        # over the steps): its moving average starts while it is 0 and is copied in when it ends a
        # period of ema_overwrite_frequency
        iterations = calls // steps if steps else int(self.iterations)
        if steps and (calls + 1) % steps:  # (not an update: the gradients are added up)
            for g, i in zip(grads, rows):
                self._gradient_sums[i] += g
        else:
            if steps:  # the mean of this call's gradients and the ones added up since the last update
                grads = [(g + self._gradient_sums[i]) / steps for g, i in zip(grads, rows)]
                for i in rows:
                    self._gradient_sums[i].fill(0)
            if len(params) != len(self._params) or any(p is not q for p, q in zip(params, self._params)):
                self._apply_to_some(grads, params, rows)
            else:
                self._apply(grads, params)
        if "_calls" in self.__dict__:
            self._calls += 1
        if self.use_ema:  # (of the unconstrained values: Keras 3 averages, then constrains)
            self._update_moving_averages(params, rows, iterations)
        for p, constraint in zip(params, constraints):  # (each weight's constraint after its update, as Keras 3's)
            if constraint is not None:
                np.copyto(p, constraint(p))

    def _update_moving_averages(self, params, rows, iterations):
        """Keras 3's use_ema: each updated weight's exponential moving average (the weight itself
        while ``iterations``, Keras's count before this call, is 0), copied into the weights when
        this call ends a period of ``ema_overwrite_frequency`` and by `finalize_variable_values`
        (fit does it at its end)."""
        m = self.ema_momentum if iterations else 0.0
        for p, i in zip(params, rows):
            average = self._ema_averages[i]
            average[...] = m * average + (1 - m) * p
        if self.ema_overwrite_frequency and (iterations + 1) % self.ema_overwrite_frequency == 0:
            self.finalize_variable_values(params)

    def finalize_variable_values(self, var_list):
        """With use_ema, set the weights in ``var_list`` to their moving averages (Keras 3's; fit
        calls it when training ends)."""
        if not self.use_ema or not self.built:
            return
        for v in var_list:
            p = getattr(v, "value", v)
            if id(p) in self._param_rows:
                np.copyto(p, self._ema_averages[self._param_rows[id(p)]])

    def _set_params(self, params):
        """The built list of parameter arrays, their ids and places by id."""
        self._params = params
        self._param_ids = [id(p) for p in params]
        self._param_rows = {key: i for i, key in enumerate(self._param_ids)}

    def _rows(self, params):
        """The places of ``params`` (all built) in the built list."""
        return [self._param_rows[id(p)] for p in params]

    def _add_params(self, params):
        """Give those of ``params`` not in the built list new state, added to it."""
        new = list({id(p): p for p in params if id(p) not in self._param_rows}.values())
        if not new:
            return
        old_slots, old_params = {a: getattr(self, a) for a in self._slot_attrs}, self._params
        self.build(new)
        for a, slots in old_slots.items():
            if slots is not None:
                setattr(self, a, slots + getattr(self, a))
        self._set_params(old_params + new)

    def _apply_to_some(self, grads, params, rows):
        """`_apply` to ``params`` other than the built list (all built; at ``rows`` of it), each
        with its own state."""
        full = {a: getattr(self, a) for a in self._slot_attrs}
        for a, slots in full.items():
            if slots is not None:
                setattr(self, a, [slots[i] for i in rows])
        try:
            self._apply(grads, params)
        finally:
            for a, slots in full.items():
                setattr(self, a, slots)

    def _apply(self, grads, params):
        if self.clipvalue is not None or self.clipnorm is not None or self.global_clipnorm is not None:
            grads = self._clip(grads)
        lr = self._current_lr()
        if self.weight_decay:
            for p in params:
                if id(p) not in self.__dict__.get("_skip_decay", ()):
                    p -= (lr * self.weight_decay) * p
        if params and any(p.dtype != np.float32 for p in params):
            # (a float64 tf.Variable, tf.Variable(np.random.randn(3)) in a from-scratch regression:
            # the kernels update float32 in place, the NumPy backend any float dtype, as Keras 3
            # computes each update in its variable's dtype)
            with _backend.backend("numpy"):
                self._update(params, grads, lr)
        elif params:
            self._update(params, grads, lr)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars):
        """Keras's spelling: ``apply_gradients(zip(grads, params))``."""
        pairs = list(grads_and_vars)
        if any(not isinstance(pair, (tuple, list)) or len(pair) != 2 for pair in pairs):
            bad = next(pair for pair in pairs if not isinstance(pair, (tuple, list)) or len(pair) != 2)
            raise ValueError(f"{type(self).__name__}.apply_gradients: expected (gradient, variable) pairs, e.g. "
                             f"zip(grads, model.trainable_variables). Received an element of type "
                             f"{type(bad).__name__}" + (f" and shape {np.shape(bad)}" if hasattr(bad, "shape") else ""))
        self.apply([g for g, _ in pairs], [p for _, p in pairs])

    def minimize(self, loss, var_list, tape=None):
        """tf.keras 2's step: the gradient of ``loss`` (a function of no arguments, recorded here;
        or a tensor recorded on ``tape``) with respect to ``var_list`` (a list, or a function
        giving one), applied."""
        from .._gradient_tape import GradientTape

        if callable(loss):
            with GradientTape() as tape:
                value = loss()
        elif tape is None:
            raise ValueError(f"{type(self).__name__}.minimize: `tape` is required when `loss` is a tensor; give "
                             "the GradientTape it was recorded on, or a function of no arguments returning it")
        else:
            value = loss
        variables = list(var_list() if callable(var_list) else var_list)
        self.apply_gradients(zip(tape.gradient(value, variables), variables))

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Keras 3's: the weights (or Variables) of ``var_list``, and those whose name contains a match
        of a pattern of ``var_names`` (``["bias", "LayerNorm"]``), get no weight decay. A new call
        replaces the previous one's choice, as in Keras; it takes effect from the next update."""
        self._no_decay = ({id(v) for v in var_list or []}, [str(n) for n in var_names or []])

    def _update(self, params, grads, lr):
        if type(self).update_step is Optimizer.update_step:
            raise NotImplementedError(f"{type(self).__name__}: a subclass of Optimizer defines "
                                      "update_step(gradient, variable, learning_rate)")
        for g, p in zip(grads, params):  # (a subclass written to Keras 3's API: one weight at a time)
            self.update_step(g, p, lr)

    # -- Keras 3's API for writing an optimizer: build() makes slots, update_step() applies one ------

    def update_step(self, gradient, variable, learning_rate):
        """Keras 3's hook: update ``variable`` (the weight's array, in place, with `assign_sub` and
        friends) from its ``gradient``; `apply` calls it for each weight when a subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__}.update_step")

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="mean", name=None):
        """A new state array of ``shape`` (zeros, ones or an initializer's values)."""
        from .. import initializers

        value = np.asarray(initializers.get(initializer)(tuple(shape), dtype or "float32"))
        slot = np.array(value, dtype=dtype or value.dtype)
        self.__dict__.setdefault("_user_slots", []).append(slot)
        return slot

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A new state array of ``reference_variable``'s shape and dtype (zeros by default)."""
        ref = np.asarray(getattr(reference_variable, "value", reference_variable))
        return self.add_variable(ref.shape, initializer=initializer, dtype=ref.dtype, name=name)

    def _get_variable_index(self, variable):
        """The position of ``variable`` (a weight's array) among the weights the optimizer was built for."""
        target = id(getattr(variable, "value", variable)) if isinstance(variable, autodiff.Variable) else id(variable)
        try:
            return self._param_rows[target]
        except (AttributeError, KeyError):
            raise ValueError(f"{type(self).__name__}: the variable is not one the optimizer was built for") from None

    @staticmethod
    def _target(variable):
        return variable.value if isinstance(variable, autodiff.Variable) else variable

    def assign(self, variable, value):
        np.copyto(self._target(variable), np.asarray(autodiff._value(value)), casting="same_kind")

    def assign_add(self, variable, value):
        target = self._target(variable)
        np.add(target, np.asarray(autodiff._value(value), dtype=target.dtype), out=target)

    def assign_sub(self, variable, value):
        target = self._target(variable)
        np.subtract(target, np.asarray(autodiff._value(value), dtype=target.dtype), out=target)

    # -- config -----------------------------------------------------------------------------------

    def get_config(self):
        lr = self._lr
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = float(lr())
        config = {"name": self.name, "learning_rate": lr}
        for key in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        if self.__dict__.get("use_ema"):
            config.update(use_ema=True, ema_momentum=self.ema_momentum,
                          ema_overwrite_frequency=self.ema_overwrite_frequency)
        for key in ("loss_scale_factor", "gradient_accumulation_steps"):
            if self.__dict__.get(key) is not None:
                config[key] = self.__dict__[key]
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate:g}, iterations={self.iterations}>"


class _StepCount(int):
    """An optimizer's step count: an int, with a variable's ``numpy()`` (``optimizer.iterations.numpy()``)
    and ``assign`` (``optimizer.iterations.assign(0)``, ``K.set_value(optimizer.iterations, n)``: Keras's
    is a variable)."""

    def __new__(cls, value, optimizer=None):
        count = super().__new__(cls, value)
        count._optimizer = optimizer
        return count

    def numpy(self):
        return np.int64(self)

    def assign(self, value):
        if self._optimizer is None:
            raise ValueError("iterations.assign: this step count belongs to no optimizer")
        self._optimizer.iterations = value
        return self._optimizer.iterations

    def assign_add(self, delta):
        return self.assign(int(self._optimizer.iterations) + int(delta)) if self._optimizer is not None else \
            self.assign(delta)


def _constraint_of(param):
    """The constraint of a layer's weight (``kernel_constraint=MaxNorm(3)``) or of a tf.Variable (given
    as itself, or as its array, which a model lists for a Variable it tracks), or None."""
    constraint = getattr(param, "constraint", None)
    if constraint is None and isinstance(param, np.ndarray):
        variable = autodiff.variable_of(param)
        constraint = None if variable is None else variable.constraint
    return constraint


def _check_not_swapped(grads, params, who):
    """A weight given as the gradient, with a plain array as its variable, is
    ``zip(model.trainable_variables, grads)`` for ``zip(grads, model.trainable_variables)``: the
    update would go into the gradient arrays and the model would never train."""
    from .._batch_dataset import WeightArray

    weight = (WeightArray, autodiff.Variable)
    for i, (g, p) in enumerate(zip(grads, params)):
        if isinstance(g, weight) and not isinstance(p, weight):
            raise ValueError(f"{who}.apply_gradients: expected (gradient, variable) pairs, e.g. zip(grads, "
                             f"model.trainable_variables). Pair {i} has a model weight "
                             f"({getattr(g, 'name', None) or type(g).__name__}) first and a plain array second: "
                             "the gradients and variables look swapped")


def _zeros(params, value=0.0):
    # state slots: like the parameters (float32 C-contiguous on the C++ backend)
    # (plain arrays: a weight's WeightArray type is not the state's)
    arrays = [getattr(p, "value", p) for p in params]  # (a tf.Variable's array)
    return [np.full(a.shape, value, dtype=a.dtype) for a in arrays]


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    Args:
        learning_rate: default 0.01. momentum: float in [0, 1], default 0.
        nesterov: whether to use Nesterov momentum.
    """

    _default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = _check_rate(momentum, "momentum", "SGD", 0.0, 1.0)
        self.nesterov = bool(nesterov)
        self._velocities = None

    _slot_attrs = ("_velocities",)

    def build(self, params):
        super().build(params)
        self._velocities = _zeros(params) if self.momentum != 0 else None

    def _update(self, params, grads, lr):
        ops.sgd_update(params, grads, self._velocities, learning_rate=lr, momentum=self.momentum,
                       nesterov=self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """Adagrad: per-parameter rates shrinking with the accumulated squared gradients.

    Args:
        learning_rate: default 0.001. initial_accumulator_value: default 0.1.
        epsilon: default 1e-7, inside the square root.
    """

    _default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = _check_rate(initial_accumulator_value, "initial_accumulator_value", "Adagrad")
        self.epsilon = _check_rate(epsilon, "epsilon", "Adagrad")
        self._accumulators = None

    _slot_attrs = ("_accumulators",)

    def build(self, params):
        super().build(params)
        self._accumulators = _zeros(params, self.initial_accumulator_value)

    def _update(self, params, grads, lr):
        ops.adagrad_update(params, grads, self._accumulators, learning_rate=lr, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop: gradients divided by a moving RMS of recent gradients.

    Args:
        learning_rate: default 0.001. rho: default 0.9. momentum: default 0.
        epsilon: default 1e-7, inside the square root. centered: subtract the squared mean
            gradient from the second moment.
    """

    _default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = _check_rate(rho, "rho", "RMSprop", 0.0, 1.0)
        self.momentum = _check_rate(momentum, "momentum", "RMSprop", 0.0, 1.0)
        self.epsilon = _check_rate(epsilon, "epsilon", "RMSprop")
        self.centered = bool(centered)
        self._velocities = self._momentums = self._average_grads = None

    _slot_attrs = ("_velocities", "_momentums", "_average_grads")

    def build(self, params):
        super().build(params)
        self._velocities = _zeros(params)
        self._momentums = _zeros(params) if self.momentum > 0 else None
        self._average_grads = _zeros(params) if self.centered else None

    def _update(self, params, grads, lr):
        ops.rmsprop_update(params, grads, self._velocities, self._momentums, self._average_grads, learning_rate=lr,
                           rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adam(Optimizer):
    """Adam: bias-corrected moving averages of the gradient and its square.

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7, outside the square root. amsgrad: use the running maximum of
            the second moment.
    """

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_rate(beta_1, "beta_1", "Adam", 0.0, 1.0)
        self.beta_2 = _check_rate(beta_2, "beta_2", "Adam", 0.0, 1.0)
        self.epsilon = _check_rate(epsilon, "epsilon", "Adam")
        self.amsgrad = bool(amsgrad)
        self._ms = self._vs = self._v_hats = None

    _slot_attrs = ("_ms", "_vs", "_v_hats")

    def build(self, params):
        super().build(params)
        self._ms, self._vs = _zeros(params), _zeros(params)
        self._v_hats = _zeros(params) if self.amsgrad else None

    def _update(self, params, grads, lr):
        ops.adam_update(params, grads, self._ms, self._vs, learning_rate=lr, step=self.iterations + 1,
                        beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad,
                        v_hats=self._v_hats)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``w -= lr · weight_decay · w`` before each step), as
    Keras 3's AdamW: `Adam`'s arguments, and weight_decay default 0.004."""

    _default_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number (use Adam for none). Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, **kwargs)


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of moving RMS of past updates and of gradients.

    Args:
        learning_rate: default 0.001 (Keras 3's). rho: default 0.95. epsilon: default 1e-7,
            inside both square roots.
    """

    _default_name = "adadelta"
    _slot_attrs = ("_accumulated_grads", "_accumulated_deltas")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = _check_rate(rho, "rho", "Adadelta", 0.0, 1.0)
        self.epsilon = _check_rate(epsilon, "epsilon", "Adadelta")
        self._accumulated_grads = self._accumulated_deltas = None

    def build(self, params):
        super().build(params)
        self._accumulated_grads, self._accumulated_deltas = _zeros(params), _zeros(params)

    def _update(self, params, grads, lr):
        ops.adadelta_update(params, grads, self._accumulated_grads, self._accumulated_deltas, learning_rate=lr,
                            rho=self.rho, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm of past gradients in place of the second moment.

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7.
    """

    _default_name = "adamax"
    _slot_attrs = ("_ms", "_us")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_rate(beta_1, "beta_1", "Adamax", 0.0, 1.0)
        self.beta_2 = _check_rate(beta_2, "beta_2", "Adamax", 0.0, 1.0)
        self.epsilon = _check_rate(epsilon, "epsilon", "Adamax")
        self._ms = self._us = None

    def build(self, params):
        super().build(params)
        self._ms, self._us = _zeros(params), _zeros(params)

    def _update(self, params, grads, lr):
        ops.adamax_update(params, grads, self._ms, self._us, learning_rate=lr, step=self.iterations + 1,
                          beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (Keras 3's, with its momentum schedule
    ``beta_1 · (1 - 0.5 · 0.96^step)``).

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7.
    """

    _default_name = "nadam"
    _slot_attrs = ("_ms", "_vs")
    _scalar_attrs = ("_u_product",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_rate(beta_1, "beta_1", "Nadam", 0.0, 1.0)
        self.beta_2 = _check_rate(beta_2, "beta_2", "Nadam", 0.0, 1.0)
        self.epsilon = _check_rate(epsilon, "epsilon", "Nadam")
        self._ms = self._vs = None
        # Π beta_1·(1 - 0.5·0.96^s) over the steps so far (Keras's variable, in the first weight's dtype)
        self._u_product = 1.0

    def build(self, params):
        super().build(params)
        self._ms, self._vs = _zeros(params), _zeros(params)
        self._u_product = 1.0

    def _scalar_variables(self):
        count, nbytes = super()._scalar_variables()
        return count + 1, nbytes + 4  # and the float32 momentum-cache product

    def _update(self, params, grads, lr):
        step = self.iterations + 1
        f = np.float64 if self._params and self._params[0].dtype == np.float64 else np.float32
        self._u_product = float(f(self._u_product) * f(self.beta_1) * (f(1) - f(0.5) * f(0.96) ** f(step)))
        ops.nadam_update(params, grads, self._ms, self._vs, learning_rate=lr, step=step, u_product=self._u_product,
                         beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Lion(Optimizer):
    """Lion: steps of the sign of an interpolated momentum (Keras 3's; use a learning rate 3-10x
    smaller than Adam's).

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.99.
    """

    _default_name = "lion"
    _slot_attrs = ("_ms",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_rate(beta_1, "beta_1", "Lion", 0.0, 1.0)
        self.beta_2 = _check_rate(beta_2, "beta_2", "Lion", 0.0, 1.0)
        if self.beta_1 <= 0:
            raise ValueError(f"Lion: beta_1 must be in (0, 1]. Received: beta_1={beta_1}")
        self._ms = None

    def build(self, params):
        super().build(params)
        self._ms = _zeros(params)

    def _update(self, params, grads, lr):
        ops.lion_update(params, grads, self._ms, learning_rate=lr, beta_1=self.beta_1, beta_2=self.beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """FTRL-Proximal (Keras 3's ``Ftrl``): per-coordinate rates from accumulated squared
    gradients, with L1 (exact zeros), L2 and L2-shrinkage regularization; computed in NumPy, in
    each weight's dtype (it is rare in the models fastnn trains fast).

    Args:
        learning_rate: default 0.001. learning_rate_power: <= 0, default -0.5.
        initial_accumulator_value: >= 0, default 0.1. l1_regularization_strength,
        l2_regularization_strength, l2_shrinkage_regularization_strength: >= 0, default 0.
        beta: default 0.
    """

    _default_name = "ftrl"
    _slot_attrs = ("_accumulators", "_linears")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        for name, value in (("initial_accumulator_value", initial_accumulator_value),
                            ("l1_regularization_strength", l1_regularization_strength),
                            ("l2_regularization_strength", l2_regularization_strength),
                            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Ftrl: `{name}` needs to be positive or zero. Received: {name}={value!r}.")
        if not isinstance(learning_rate_power, (int, float)) or learning_rate_power > 0:
            raise ValueError(f"Ftrl: `learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power!r}.")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)
        self._accumulators = self._linears = None

    def build(self, params):
        super().build(params)
        self._accumulators = _zeros(params, self.initial_accumulator_value)
        self._linears = _zeros(params)

    def _update(self, params, grads, lr):
        power = -self.learning_rate_power
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        for p, g, accum, linear in zip(params, grads, self._accumulators, self._linears):
            dtype = accum.dtype.type
            g = np.asarray(g, dtype=accum.dtype)
            new_accum = accum + g * g
            linear += g + dtype(2 * self.l2_shrinkage_regularization_strength) * p \
                - (new_accum ** dtype(power) - accum ** dtype(power)) / dtype(lr) * p
            quadratic = new_accum ** dtype(power) / dtype(lr) + dtype(2 * l2)
            p[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
            accum[...] = new_accum

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Lamb(Optimizer):
    """LAMB (You et al., 2019; Keras 3's ``Lamb``): Adam's step scaled per weight by the trust ratio
    ``||w|| / ||step||`` (1 where either is 0); computed in NumPy.

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7 (added to the square root, as Keras does).
    """

    _default_name = "lamb"
    _slot_attrs = ("_ms", "_vs")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_rate(beta_1, "beta_1", "Lamb", 0.0, 1.0)
        self.beta_2 = _check_rate(beta_2, "beta_2", "Lamb", 0.0, 1.0)
        self.epsilon = _check_rate(epsilon, "epsilon", "Lamb")
        self._ms = self._vs = None

    def build(self, params):
        super().build(params)
        self._ms, self._vs = _zeros(params), _zeros(params)

    def _update(self, params, grads, lr):
        step = self.iterations + 1
        correction_1, correction_2 = 1.0 - self.beta_1 ** step, 1.0 - self.beta_2 ** step
        for p, g, m, v in zip(params, grads, self._ms, self._vs):
            dtype = p.dtype.type
            g = np.asarray(g, dtype=p.dtype)
            m += (g - m) * dtype(1 - self.beta_1)
            v += (g * g - v) * dtype(1 - self.beta_2)
            update = (m / dtype(correction_1)) / (np.sqrt(v / dtype(correction_2)) + dtype(self.epsilon))
            w_norm, u_norm = np.sqrt(np.sum(np.square(p))), np.sqrt(np.sum(np.square(update)))
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            p -= dtype(ratio * lr) * update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adafactor(Optimizer):
    """Adafactor (Shazeer and Stern, 2018; Keras 3's ``Adafactor``): Adam-like steps whose second
    moments of a matrix are kept factored, a row and a column average (the last two axes), and
    whose size is relative to the weights' RMS; computed in NumPy.

    Args:
        learning_rate: default 0.001 (with ``relative_step``, at most 1/sqrt(step)).
        beta_2_decay: default -0.8 (the decay is 1 - step ** beta_2_decay).
        epsilon_1: default 1e-30, added to the squared gradients. epsilon_2: default 1e-3, the
            least weight RMS a step is relative to. clip_threshold: default 1.0, the most RMS of
            a step. relative_step: default True.
    """

    _default_name = "adafactor"
    _slot_attrs = ("_r", "_c", "_v")

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        for name, value in (("beta_2_decay", beta_2_decay), ("epsilon_1", epsilon_1), ("epsilon_2", epsilon_2),
                            ("clip_threshold", clip_threshold)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise ValueError(f"Adafactor: expected a number for `{name}`. Received: {name}={value!r}")
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = float(beta_2_decay), float(epsilon_1), float(epsilon_2)
        self.clip_threshold = float(clip_threshold)
        self.relative_step = bool(relative_step)
        self._r = self._c = self._v = None

    def build(self, params):
        super().build(params)
        arrays = [getattr(p, "value", p) for p in params]
        # (a matrix's second moments factored over its last two axes: a row and a column average)
        self._r = [np.zeros(a.shape[:-1] if a.ndim >= 2 else (), a.dtype) for a in arrays]
        self._c = [np.zeros(a.shape[:-2] + a.shape[-1:] if a.ndim >= 2 else (), a.dtype) for a in arrays]
        self._v = _zeros(params)

    def _update(self, params, grads, lr):
        step = float(self.iterations + 1)
        if self.relative_step and not isinstance(self._lr, LearningRateSchedule) and not callable(self._lr):
            lr = min(lr, 1.0 / math.sqrt(step))
        rho = min(lr, 1.0 / math.sqrt(step))
        decay = 1.0 - step ** self.beta_2_decay
        for p, g, r, c, v in zip(params, grads, self._r, self._c, self._v):
            dtype = p.dtype.type
            g = np.asarray(g, dtype=p.dtype)
            alpha = dtype(max(self.epsilon_2, float(np.sqrt(np.mean(np.square(p))))) * rho)
            squared = g * g + dtype(self.epsilon_1)
            if p.ndim >= 2:
                r[...] = decay * r + (1 - decay) * squared.mean(axis=-1)
                c[...] = decay * c + (1 - decay) * squared.mean(axis=-2)
                v[...] = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
            else:
                v[...] = decay * v + (1 - decay) * squared
            u = g / np.sqrt(v)
            u /= dtype(max(1.0, float(np.sqrt(np.mean(np.square(u)))) / self.clip_threshold))
            p -= alpha * u

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}


_CLASSES = {"SGD": SGD, "Adagrad": Adagrad, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW, "Adadelta": Adadelta,
            "Adamax": Adamax, "Nadam": Nadam, "Lion": Lion, "Ftrl": Ftrl,
            "Lamb": Lamb, "Adafactor": Adafactor}
_ALIASES = {name.lower(): cls for name, cls in _CLASSES.items()}


def get(identifier):
    """An optimizer from a name (``"adam"``, ``"SGD"``), a config dict, a class, or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer: {identifier!r}. Expected one of {sorted(_ALIASES)}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer) and identifier is not Optimizer:
        return identifier()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(optimizer):
    """``{"class_name": ..., "config": {...}}``."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    """The inverse of `serialize` (built-in optimizers only)."""
    return get(config)


__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax", "Nadam", "Lion", "Ftrl",
           "Lamb", "Adafactor",
           "schedules", "get", "serialize", "deserialize"]
