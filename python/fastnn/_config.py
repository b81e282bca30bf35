"""The config protocol shared by initializers, regularizers, constraints, losses and
learning-rate schedules: ``get_config()`` returns the constructor's arguments, ``from_config``
rebuilds, ``serialize`` gives Keras's ``{"class_name": ..., "config": {...}}``, and `lookup`
turns a name, config or instance back into an object."""

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


def lookup(identifier, kind, base, classes, aliases):
    """An object of class ``base`` from an instance (returned as is), a name (one of
    ``aliases``, or a class name in ``classes``) or a config dict; None stays None. ``kind``
    names it in the errors ("regularizer", "constraint")."""
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        factory = aliases.get(identifier) or classes.get(identifier)
        if factory is None:
            raise ValueError(f"Unknown {kind}: {identifier!r}. Expected one of {sorted(aliases)}")
        return factory()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = classes.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"Unknown {kind} class: {identifier['class_name']!r}")
        return cls.from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")
