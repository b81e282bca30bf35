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
    """``{"class_name": ..., "config": {...}}`` for a config file (None stays None); a plain
    function given in place of an object (`FromFunction`) is written by its name, which
    load_model's ``custom_objects`` gives back."""
    if obj is None:
        return None
    if isinstance(obj, FromFunction):
        name = getattr(obj.function, "__name__", "<lambda>")
        if name == "<lambda>":
            raise ValueError(f"{obj.function!r} is a lambda, which a config cannot name; use a def and "
                             "load_model(..., custom_objects={name: function})")
        return name
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


class FromFunction:
    """Mixed into an initializer, regularizer or constraint made from a plain function (Keras
    takes ``kernel_regularizer=my_l1_regularizer``): ``function`` is that function."""

    def __init__(self, function):
        self.function = function

    def __repr__(self):
        return f"{type(self).__name__}({getattr(self.function, '__name__', self.function)!r})"


def _custom(name):
    from .saving import custom_objects_with  # (the scopes load_model opens, the registered objects)

    return custom_objects_with(None).get(name)


def lookup(identifier, kind, base, classes, aliases, from_function):
    """An object of class ``base`` from an instance (returned as is), a subclass (made with no
    arguments), a plain function (``from_function(fn)``, Géron's ``my_l1_regularizer``), a name (one
    of ``aliases``, a class name in ``classes``, or a custom object's name) or a config dict (of a
    class of ``classes`` or a custom object, as load_model's ``custom_objects`` give them); None
    stays None. ``kind`` names it in the errors ("regularizer", "constraint")."""
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, base):
        return identifier()
    if callable(identifier) and not isinstance(identifier, type):
        return from_function(identifier)
    if isinstance(identifier, str):
        factory = aliases.get(identifier) or classes.get(identifier)
        if factory is not None:
            return factory()
        custom = _custom(identifier)  # (an object of your own, or a function: by the name a config holds)
        if custom is None:
            raise ValueError(f"Unknown {kind}: {identifier!r}. Expected one of {sorted(aliases)}, or a custom "
                             "object's name (load_model(..., custom_objects={name: object}))")
        return lookup(custom, kind, base, classes, aliases, from_function)
    if isinstance(identifier, dict) and "class_name" in identifier:
        name = identifier["class_name"]
        cls = classes.get(name) or _custom(name)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ValueError(f"Unknown {kind} class: {name!r} (pass custom_objects={{{name!r}: {name}}} for your own "
                             "classes)")
        return cls.from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")
