"""The config protocol shared by initializers, regularizers, losses and learning-rate schedules:
``get_config()`` returns the constructor's arguments, ``from_config`` rebuilds, ``serialize``
gives Keras's ``{"class_name": ..., "config": {...}}``."""

from __future__ import annotations


class Configurable:
    """``get_config`` / ``from_config`` / a repr built from the config."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def serialize(obj):
    """``{"class_name": ..., "config": {...}}`` for a config file (None stays None)."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}
