"""fastnn.optimizers.schedules — learning rates that change with the optimizer's step.

A schedule is called with the optimizer's ``iterations`` (the number of updates applied so
far, 0-based) and returns the learning rate of the next update, as in Keras 3.
"""

from __future__ import annotations

import math

from .._config import Configurable, serialize


class LearningRateSchedule(Configurable):
    """Base class: ``schedule(step) -> float``; ``get_config``/``from_config``."""

    def __call__(self, step):
        raise NotImplementedError


def _positive(value, name, cls):
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{cls}: expected a positive {name}. Received: {name}={value!r}")
    return v


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate · decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored, so the rate drops in steps every ``decay_steps`` updates."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate", "ExponentialDecay")
        self.decay_steps = _positive(decay_steps, "decay_steps", "ExponentialDecay")
        self.decay_rate = _positive(decay_rate, "decay_rate", "ExponentialDecay")
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate · step / decay_steps)`` (floored with staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate", "InverseTimeDecay")
        self.decay_steps = _positive(decay_steps, "decay_steps", "InverseTimeDecay")
        self.decay_rate = float(decay_rate)
        if not (math.isfinite(self.decay_rate) and self.decay_rate >= 0):
            raise ValueError(f"InverseTimeDecay: expected a non-negative decay_rate. Received: decay_rate={decay_rate!r}")
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A step schedule: ``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while
    ``step <= boundaries[1]``, ..., ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: the number of values must be one more than the number of "
                             f"boundaries. Received: {len(self.boundaries)} boundaries, {len(self.values)} values")
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must increase. Received: {self.boundaries}")
        self.name = name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """``initial_learning_rate · ((1 - alpha) · (1 + cos(pi · min(step, decay_steps) / decay_steps)) / 2 + alpha)``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay"):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate", "CosineDecay")
        self.decay_steps = _positive(decay_steps, "decay_steps", "CosineDecay")
        self.alpha = float(alpha)
        self.name = name

    def __call__(self, step):
        p = min(step, self.decay_steps) / self.decay_steps
        return self.initial_learning_rate * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * p)) + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)}



def deserialize(config):
    """A schedule from `serialize`'s dict (built-in schedules only)."""
    cls = _CLASSES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule: {config!r}")
    return cls.from_config(dict(config.get("config") or {}))


__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay",
           "serialize", "deserialize"]
