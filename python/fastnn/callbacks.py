"""fastnn.callbacks — hooks into ``fit``/``evaluate``/``predict``, as in Keras.

`History` (added to every ``fit``), `ProgbarLogger` (added when verbose), `EarlyStopping`,
`ModelCheckpoint`, `CSVLogger`, `TensorBoard`, `LearningRateScheduler`, `ReduceLROnPlateau`,
`TerminateOnNaN` and `LambdaCallback`. ``logs`` dicts hold running means over the epoch so far
(``loss`` and the compiled metrics; ``val_*`` at epoch end).

Progress output goes to ``sys.stdout``: on a terminal, verbose=1 redraws one live line per epoch
(carriage return, bold/colour); when stdout is a file or a pipe it writes one plain line per
epoch, so logs stay readable.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np

from ._files import atomic_write


class Callback:
    """Base class. ``self.model`` is the model being trained, ``self.params`` the run's
    ``{"verbose", "epochs", "steps"}``. Override any of the ``on_*`` methods."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...

    # tf.keras's on_batch_* are the training batch hooks
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
          "on_predict_batch_begin", "on_predict_batch_end")


def _overrides(cb, hook):
    """Whether ``cb`` does anything in the per-batch ``hook`` (so the loop can skip the call)."""
    if hook in vars(cb):
        return True
    base = getattr(Callback, hook)
    if getattr(type(cb), hook) is not base:
        return True
    if hook in ("on_train_batch_begin", "on_train_batch_end"):
        legacy = hook.replace("train_", "")
        return legacy in vars(cb) or getattr(type(cb), legacy) is not getattr(Callback, legacy)
    return False


class CallbackList:
    """Calls a list of callbacks in order; per-batch hooks only reach callbacks that use them."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        """Keras's signature, for a custom training loop that drives the callbacks itself:
        ``CallbackList(callbacks, add_history=True, model=model, verbose=1, epochs=2, steps=100)``."""
        self.callbacks = as_list(callbacks)
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        self.model, self.params = None, dict(params)
        if model is not None:
            self.set_model(model)
        for cb in self.callbacks:
            cb.set_params(self.params)
        self._refresh()

    def _refresh(self):
        # a callback may declare its batch hooks idle for this run (the progress bar off a terminal)
        self._batch = {h: [getattr(cb, h) for cb in self.callbacks
                           if _overrides(cb, h) and not getattr(cb, "_idle_batch_hooks", False)] for h in _HOOKS}

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)
            if isinstance(cb, History):
                model.history = cb

    def set_params(self, params):
        self.params = dict(params)
        for cb in self.callbacks:
            cb.set_params(self.params)

    def append(self, callback):
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        callback.set_params(self.params)
        self._refresh()

    def wants(self, hook):
        return bool(self._batch[hook])

    def _call(self, name, *args):
        *head, logs = args  # (a hook with nothing to log gets {}, as Keras's: logs.keys() works in every hook)
        for cb in self.callbacks:
            getattr(cb, name)(*head, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def batch(self, hook, batch, logs=None):
        for fn in self._batch[hook]:
            fn(batch, {} if logs is None else logs)

    # (Keras's batch hooks by name, for a loop of one's own)
    def on_train_batch_begin(self, batch, logs=None):
        self.batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self.batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self.batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self.batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self.batch("on_predict_batch_end", batch, logs)

    on_batch_begin, on_batch_end = on_train_batch_begin, on_train_batch_end


# ---- History and progress ---------------------------------------------------------------------


def as_list(callbacks):
    """The ``callbacks`` argument as a list: None, one callback (as Keras 3 takes it) or a list."""
    return [callbacks] if isinstance(callbacks, Callback) else list(callbacks or [])


def fit_callbacks(callbacks, model, verbose, epochs, steps):
    """The CallbackList of a fit and its History: a ProgbarLogger first when verbose, the user's
    ``callbacks`` (checked), the History last."""
    history = History()
    cbs = as_list(callbacks)
    for cb in cbs:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be fastnn.callbacks.Callback instances. Received: {cb!r}")
    cbs = ([ProgbarLogger()] if verbose else []) + cbs + [history]
    return CallbackList(cbs, model=model, verbose=verbose, epochs=epochs, steps=steps), history


class _Logs(dict):
    """The history's dict: tf.keras 2's name ``"lr"`` reads Keras 3's ``"learning_rate"``
    (``history.history["lr"]`` after a LearningRateScheduler sweep, as the TensorFlow course plots it)."""

    def __missing__(self, key):
        if key == "lr" and "learning_rate" in self:
            return self["learning_rate"]
        raise KeyError(key)


class History(Callback):
    """Records the epoch logs: ``history.history["loss"]`` is the list of per-epoch losses."""

    def __init__(self):
        super().__init__()
        self.history = _Logs()
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


def _format_value(v):
    if isinstance(v, (float, np.floating)) or isinstance(v, (int, np.integer)):
        v = float(v)
        return f"{v:.4f}" if abs(v) > 1e-3 or v == 0 or not math.isfinite(v) else f"{v:.4e}"
    return str(v)


def _format_time(seconds_per_unit, unit):
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f"{seconds_per_unit:.0f}s/{unit}"
    if seconds_per_unit >= 1e-3:
        return f"{seconds_per_unit * 1e3:.0f}ms/{unit}"
    return f"{seconds_per_unit * 1e6:.0f}us/{unit}"


def _can_encode(text):
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


class Progbar:
    """Keras's progress bar: ``469/469 ━━━━━━━━━━━━━━━━━━━━ 2s 4ms/step - loss: 0.3012``.

    Args:
        target: the number of steps. width: the bar's width. verbose: 1 (a bar; live on a
            terminal, one line per ``finalize`` elsewhere) or 2 (one plain line at the end).
        interval: the minimum seconds between redraws. unit_name: "step".
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step"):
        self.target, self.width, self.verbose, self.interval, self.unit_name = target, width, verbose, interval, unit_name
        isatty = getattr(sys.stdout, "isatty", None)
        self._dynamic = bool(isatty and isatty())
        self._bar_char = "━" if _can_encode("━") else "="
        self._start = time.time()
        self._last_update = 0.0
        self._after_first = None
        self._prev_width = 0

    def _step_time(self, current, now):
        if not current:
            return 0.0
        if self._after_first is not None and current > 1:
            t = (now - self._after_first) / (current - 1)
        else:
            t = (now - self._start) / current
        if current == 1 and self._after_first is None:
            self._after_first = now
        return t

    def _style(self, text, code):
        return f"\x1b[{code}m{text}\x1b[0m" if self._dynamic and text else text

    def update(self, current, values=None, finalize=None):
        """Show step ``current`` with ``values`` (name, value) pairs, already averaged."""
        if finalize is None:
            finalize = current >= self.target
        now = time.time()
        per_step = self._step_time(current, now)
        if self.verbose == 1:
            if not finalize and (not self._dynamic or now - self._last_update < self.interval):
                return
            digits = int(math.log10(max(self.target, 1))) + 1
            count = f"{current:{digits}d}/{self.target}"
            filled = int(self.width * current / self.target) if self.target else self.width
            bar = self._style(self._bar_char * filled, 32) + self._style(self._bar_char * (self.width - filled), 37)
            if finalize:
                when = f"{now - self._start:.0f}s"
            else:
                eta = per_step * (self.target - current)
                when = (f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}" if eta > 3600 else
                        f"{int(eta // 60)}:{int(eta % 60):02d}" if eta > 60 else f"{eta:.0f}s")
            line = f"{self._style(count, 1)} {bar} {self._style(when, 1)} {_format_time(per_step, self.unit_name)}"
            line += "".join(f" - {k}: {_format_value(v)}" for k, v in (values or []))
            out = sys.stdout
            if self._dynamic:
                plain = len(_strip_ansi(line))  # pad over the previous (longer) line's visible chars
                pad = " " * max(0, self._prev_width - plain)
                out.write("\r" + line + pad + ("\n" if finalize else ""))
                self._prev_width = plain
            else:
                out.write(line + "\n")
            out.flush()
        elif self.verbose == 2 and finalize:
            digits = int(math.log10(max(self.target, 1))) + 1
            line = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s - {_format_time(per_step, self.unit_name)}"
            line += "".join(f" - {k}: {_format_value(v)}" for k, v in (values or []))
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        self._last_update = now


class AveragingProgbar(Progbar):
    """``keras.utils.Progbar`` for a custom training loop: `update` takes each step's values and
    shows their mean over the steps so far (weighted by the steps between updates), as Keras's
    does; the names in ``stateful_metrics`` are shown as given. ``add(n, values)`` moves n steps on."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, unit_name="step"):
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
            raise ValueError(f"Progbar: target must be the number of steps, an int >= 0. Received: target={target!r}")
        super().__init__(int(target), width=width, verbose=verbose, interval=interval, unit_name=unit_name)
        self.stateful_metrics = set(stateful_metrics or ())
        self._sums = {}  # name -> (weighted sum, steps)
        self._seen = 0

    def update(self, current, values=None, finalize=None):
        steps = max(current - self._seen, 1)
        for name, value in values or []:
            value = float(np.asarray(value))
            if name in self.stateful_metrics:
                self._sums[name] = (value, 1)
            else:
                total, count = self._sums.get(name, (0.0, 0))
                self._sums[name] = (total + value * steps, count + steps)
        self._seen = current
        super().update(current, [(k, total / count) for k, (total, count) in self._sums.items()], finalize)

    def add(self, n, values=None):
        self.update(self._seen + n, values)


def _strip_ansi(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            j = text.find("m", i)
            i = j + 1 if j >= 0 else len(text)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class ProgbarLogger(Callback):
    """Prints Keras's per-epoch progress (added by ``fit``/``evaluate``/``predict`` when verbose)."""

    def __init__(self):
        super().__init__()
        self._bar = None
        self._epochs = 1

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self._epochs = params.get("epochs", 1)
        self._steps = params.get("steps", 0)
        self._dynamic = bool(getattr(sys.stdout, "isatty", None) and sys.stdout.isatty())
        self._idle_batch_hooks = not (self.verbose == 1 and self._dynamic)

    def _new_bar(self):
        self._bar = Progbar(self._steps, verbose=self.verbose)

    def on_epoch_begin(self, epoch, logs=None):
        if self._epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self._epochs}\n")
            sys.stdout.flush()
        self._new_bar()

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose == 1 and self._dynamic:
            if self._bar is None:  # (a loop of one's own that calls no on_epoch_begin)
                self._new_bar()
            self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is None:
            self._new_bar()
        self._bar.update(self._steps, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    # evaluate() (fit's own validation pass shows no bar, as in Keras)
    _in_fit = False

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if self.verbose == 1 and self._dynamic and not self._in_fit:
            self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._bar.update(self._steps, list((logs or {}).items()), finalize=True)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        if self.verbose == 1 and self._dynamic:
            self._bar.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        self._bar.update(self._steps, finalize=True)


# ---- Monitoring helpers -------------------------------------------------------------------------


def _monitor_direction(callback, monitor, mode, unknown="raise"):
    """'min' or 'max' for ``monitor`` under ``mode`` ('auto' asks the model's metrics). A name
    neither a loss nor a metric of the model (a value another callback logs, a typo) raises, as
    Keras 3's EarlyStopping and ModelCheckpoint do, or with ``unknown="guess"`` gets Keras's
    ReduceLROnPlateau rule: 'max' when "acc" is in the name, else 'min'."""
    if mode in ("min", "max"):
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):  # the total, or one output's loss (several outputs)
        return "min"
    model = callback.model
    for m in getattr(model, "_metrics", None) or []:
        if m.name == name:
            return "max" if getattr(m, "direction", "down") == "up" else "min"
    if "acc" in name:
        return "max"
    if unknown == "guess":
        return "min"
    raise ValueError(f"{type(callback).__name__} callback received monitor={monitor} but fastnn isn't able to "
                     "automatically determine whether that metric should be maximized or minimized. Pass "
                     "`mode='max'` in order to monitor based on the highest metric value, or pass `mode='min'` in "
                     "order to use the lowest value.")


def _check_mode(mode, cls):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{cls}: mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving (Keras 3's rules).

    Args:
        monitor: the quantity, default ``"val_loss"``. min_delta: the smallest change that
            counts as an improvement. patience: epochs without improvement before stopping.
        mode: ``"auto"``, ``"min"`` or ``"max"``. baseline: a value the quantity must beat.
        restore_best_weights: at the end, restore the weights of the best epoch.
        start_from_epoch: epochs to wait before monitoring. verbose: 1 prints when it stops.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative integer. Received: patience={patience!r}")
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _check_mode(mode, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._direction = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self._direction = None

    def _improved(self, value, reference):
        # an improvement must beat the reference by more than min_delta
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_epoch_end(self, epoch, logs=None):
        if self._direction is None:
            self._direction = _monitor_direction(self, self.monitor, self.mode)
            self.best = math.inf if self._direction == "min" else -math.inf
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) every epoch or every ``save_freq`` batches.

    Args:
        filepath: the file; may hold ``{epoch:02d}`` and log names, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.2f}.fastnn"`` (epochs count from 1).
        monitor, mode: the quantity ``save_best_only`` compares (default ``"val_loss"``).
        save_best_only: only save when the monitored quantity improved.
        save_weights_only: `Model.save_weights` instead of `Model.save`.
        save_freq: ``"epoch"`` or a number of batches.
        initial_value_threshold: the value to beat for the first save (with save_best_only).
        verbose: 1 prints a line per save decision.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _check_mode(mode, "ModelCheckpoint")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a positive integer")
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self._direction = None
        self._batches_seen = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._direction = _monitor_direction(self, self.monitor, self.mode) if self.save_best_only else "min"
        if self.initial_value_threshold is not None:
            self.best = float(self.initial_value_threshold)
        else:
            self.best = math.inf if self._direction == "min" else -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches_seen += 1
            if self._batches_seen % self.save_freq == 0:
                self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs):
        try:
            if batch is None:
                return self.filepath.format(epoch=epoch + 1, **(logs or {}))
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: no key {e} in the logs "
                           f"(available: {sorted(logs or {})})") from None

    def _save(self, epoch, batch, logs):
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            better = current < self.best if self._direction == "min" else current > self.best
            if not better:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """Write the epoch logs to a CSV file: a header ``epoch,<names...>`` then one row per epoch.

    Args:
        filename: the CSV file. separator: default ``","``. append: add to an existing file.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._keys = None
        self._header_written = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys, delimiter=self.separator)
            if not self._header_written:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: logs.get(k, "NA") for k in self._keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoard(Callback):
    """Logs for TensorBoard (``tensorboard --logdir logs``; ``pip install tensorboard``, which needs
    no TensorFlow), as Keras's callback writes them: event files in ``<log_dir>/train`` and
    ``<log_dir>/validation`` with each epoch's ``epoch_<name>`` scalars (the training logs and
    ``epoch_learning_rate`` in train, the ``val_`` logs in validation, step = epoch).

    Args (Keras's):
        log_dir: default "logs".
        histogram_freq: every this many epochs, a histogram of each weight (``<layer>/<weight>
            /histogram`` in train); 0: none.
        write_steps_per_second: also log ``steps_per_second``.
        update_freq: "epoch"; "batch" or an integer n: also ``batch_<name>`` scalars every n
            training batches (step = batches since fit began).
        write_graph: accepted; fastnn has no TensorFlow graph to write.
        write_images, profile_batch, embeddings_freq, embeddings_metadata: not supported; a
            value other than the default warns that nothing of it is written.
    `evaluate(..., callbacks=[tensorboard])` adds ``evaluation_<name>_vs_iterations`` scalars in
    validation (step = the optimizer's iterations).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative integer. "
                             f"Received: histogram_freq={histogram_freq!r}")
        self.histogram_freq = histogram_freq
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer. "
                             f"Received: update_freq={update_freq!r}")
        self.update_freq = update_freq
        self.write_graph = write_graph
        self.write_steps_per_second = bool(write_steps_per_second)
        for name, value, default in (("write_images", write_images, False), ("profile_batch", profile_batch, 0),
                                     ("embeddings_freq", embeddings_freq, 0),
                                     ("embeddings_metadata", embeddings_metadata, None)):
            if value != default:
                warnings.warn(f"TensorBoard: {name} is not supported by fastnn; nothing of it is written "
                              f"(received {name}={value!r})", stacklevel=2)
        self._writers = {}
        self._global_train_batch = 0

    def _writer(self, which):
        from ._tensorboard import EventFileWriter

        if which not in self._writers:
            self._writers[which] = EventFileWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._in_fit = True

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        scalars = {"batch_" + k: v for k, v in (logs or {}).items() if np.ndim(v) == 0}
        if self.write_steps_per_second:
            scalars["batch_steps_per_second"] = 1.0 / max(time.time() - self._batch_start, 1e-9)
        self._writer("train").scalars(self._global_train_batch, scalars)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_start_iterations = getattr(self.model.optimizer, "iterations", 0)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: v for k, v in (logs or {}).items() if np.ndim(v) == 0}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = self.model.optimizer
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            steps = getattr(optimizer, "iterations", 0) - self._epoch_start_iterations
            train["steps_per_second"] = steps / max(time.time() - self._epoch_start, 1e-9)
        self._writer("train").scalars(epoch, {"epoch_" + k: v for k, v in train.items()})
        val = {"epoch_" + k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if val:
            self._writer("validation").scalars(epoch, val)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._writer("train").histograms(epoch, {
                f"{layer.name}/{name}/histogram": value for layer in self.model._all_layers
                for name, value in zip(layer.weight_names, layer.weights)})

    def on_test_end(self, logs=None):
        optimizer = self.model.optimizer
        if logs and optimizer is not None and hasattr(optimizer, "iterations"):
            self._writer("validation").scalars(optimizer.iterations, {
                f"evaluation_{k}_vs_iterations": v for k, v in logs.items() if np.ndim(v) == 0})
            if not self._in_fit:  # (fit's validation writes on: its epoch's scalars come next)
                self._close("validation")

    _in_fit = False

    def on_train_end(self, logs=None):
        self._in_fit = False
        for which in list(self._writers):
            self._close(which)

    def _close(self, which):
        writer = self._writers.pop(which, None)
        if writer is not None:
            writer.close()


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``).

    The epoch's rate is added to the logs as ``learning_rate``.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be callable. Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = float(optimizer.learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:  # a one-argument schedule, as in older Keras
            new = self.schedule(epoch)
        try:  # (a number or a 0-d tensor, as `lr * tf.math.exp(-0.1)` gives; never a str or a bool)
            if isinstance(new, (str, bytes, bool, np.bool_)):
                raise TypeError
            new = float(new)
        except (TypeError, ValueError):
            raise ValueError(f'The output of the "schedule" function should be a float. Got: {new!r}') from None
        optimizer.learning_rate = new
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when the monitored quantity stops improving.

    Args (Keras's): monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
    min_delta=1e-4, cooldown=0, min_lr=0.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received: factor={factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.mode = _check_mode(mode, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), float(min_lr)

    def on_train_begin(self, logs=None):
        # (Keras's ReduceLROnPlateau never refuses a monitor: one it cannot place is minimised, and
        # a missing one warns each epoch)
        self._direction = _monitor_direction(self, self.monitor, self.mode, unknown="guess")
        self.best = math.inf if self._direction == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        better = (current < self.best - self.min_delta if self._direction == "min"
                  else current > self.best + self.min_delta)
        if better:
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite (``raise_error=True``: raise
    a RuntimeError there instead, as Keras 3 does, skipping the other callbacks' on_train_end).

    ``fit`` always stops on a non-finite loss (and never applies that batch's update); with
    ``keep_last_finite_weights=True`` it also rolls the weights back to those that produced the
    last finite loss (it then keeps a copy of the weights at each step, which costs a little
    time).
    """

    def __init__(self, raise_error=False, keep_last_finite_weights=False):
        super().__init__()
        self.raise_error = bool(raise_error)
        self.keep_last_finite_weights = bool(keep_last_finite_weights)

    def on_train_begin(self, logs=None):
        if self.keep_last_finite_weights:
            self.model._keep_finite_weights = True

    def on_train_batch_end(self, batch, logs=None):
        # Keras 3's raise_error=True: a RuntimeError at once, not a graceful stop
        loss = (logs or {}).get("loss")
        if self.raise_error and loss is not None and not np.isfinite(loss):
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. Terminating "
                               "training immediately.")


class BackupAndRestore(Callback):
    """Keras's fault tolerance: at each epoch's end (or every ``save_freq`` batches) the weights,
    the optimizer's state and the epoch reached go to ``backup_dir``; a ``fit`` started again
    after an interruption restores them and goes on from that epoch. The backup is deleted when
    training ends (``delete_checkpoint``); ``double_checkpoint`` keeps the one before as well, for
    an interruption during a save."""

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: save_freq={save_freq}. Expected either "
                             "'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._current_epoch = self._batches_since_save = self._last_batch = 0

    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, you model must be built before you call `fit()`. "
                             f"Model {self.model} is unbuilt. You can build it beforehand by calling it on a batch of "
                             "data.")
        weights, metadata = self._weights_path, self._metadata_path
        if not os.path.exists(weights) and os.path.exists(weights + ".bkp"):  # (interrupted while saving)
            weights, metadata = weights + ".bkp", metadata + ".bkp"
        if os.path.exists(weights):
            from .saving import load_training_state

            load_training_state(self.model, weights)
        if os.path.exists(metadata):
            with open(metadata, encoding="utf-8") as f:
                self.model._initial_epoch = int(json.load(f)["epoch"])  # (fit starts there)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch = epoch + 1, 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += batch + 1 if batch <= self._last_batch else batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save()

    def _save(self):
        from .saving import save_training_state

        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path in (self._weights_path, self._metadata_path):
                if os.path.exists(path):
                    shutil.copyfile(path, path + ".bkp")
        save_training_state(self.model, self._weights_path)
        with atomic_write(self._metadata_path, "w", encoding="utf-8") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch}, f)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_batch_begin=on_batch_begin,
                     on_batch_end=on_batch_end, on_train_begin=on_train_begin, on_train_end=on_train_end, **kwargs)
        for name, fn in given.items():
            if fn is None:
                continue
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)
        if on_batch_begin is not None:
            self.on_train_batch_begin = on_batch_begin
        if on_batch_end is not None:
            self.on_train_batch_end = on_batch_end


__all__ = ["Callback", "CallbackList", "History", "Progbar", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
           "CSVLogger", "TensorBoard", "LearningRateScheduler", "ReduceLROnPlateau", "TerminateOnNaN", "LambdaCallback",
           "BackupAndRestore"]
