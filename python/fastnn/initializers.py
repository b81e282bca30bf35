"""fastnn.initializers — Keras 3's weight initialisers, drawn with NumPy.

An initialiser is called as ``init(shape, dtype)`` and returns a new C-contiguous array. Unseeded
ones draw from fastnn's global generator (`fastnn.utils.set_random_seed`); a seeded one
(``seed=int``) returns the same values on every call, as in Keras 3. Values are drawn in
float64 and then cast, so a float64 model starts from the float32 model's weights.

Variance scaling (Keras): ``fan_in``/``fan_out`` of a kernel (..., C, OC) are ``C·rf`` and
``OC·rf`` with ``rf`` the product of the leading (spatial) dims.
"""

from __future__ import annotations

import math

import numpy as np

from . import utils
from ._config import Configurable, FromFunction, lookup, serialize

# The truncated normal's std over the normal's, for a cut at 2 standard deviations.
_TRUNC_STD = 0.87962566103423978


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape`` (Keras's rule)."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer(Configurable):
    """Base class: ``__call__(shape, dtype=None)`` returns an array; ``get_config`` its arguments."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError


def _dtype(dtype):
    return np.dtype(dtype or utils.floatx())


class _Random(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{type(self).__name__}: expected a non-negative integer seed or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        return utils.global_rng() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal samples re-drawn until all lie within two standard deviations."""
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2
    return mean + stddev * x


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), _dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), _dtype(dtype))


class Constant(Initializer):
    """Every value set to ``value``; or, as Keras takes it, an array broadcast to the weight's shape
    (``Embedding(..., embeddings_initializer=Constant(embedding_matrix))``, Chollet's GloVe)."""

    def __init__(self, value=0.0):
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"Constant: expected a number or a numeric array. Received: value of dtype {array.dtype}")
        self.value = float(array) if array.ndim == 0 else array

    def __call__(self, shape, dtype=None):
        if np.ndim(self.value) == 0:
            return np.full(tuple(shape), self.value, _dtype(dtype))
        try:
            return np.array(np.broadcast_to(self.value, tuple(shape)), dtype=_dtype(dtype))
        except ValueError:
            raise ValueError(f"Constant: an array of shape {self.value.shape} cannot initialize a weight of shape "
                             f"{tuple(shape)}") from None

    def get_config(self):
        return {"value": self.value if np.ndim(self.value) == 0 else self.value.tolist()}


class RandomNormal(_Random):
    """Normal with ``mean`` (default 0) and ``stddev`` (default 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, tuple(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(_Random):
    """Uniform on ``[minval, maxval)`` (default ±0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, tuple(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(_Random):
    """Normal with ``mean`` and ``stddev`` (default 0.05), re-drawn beyond two stddevs."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), tuple(shape), self.mean, self.stddev).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(_Random):
    """Samples with variance ``scale / n``, ``n`` the fan_in, fan_out or their average.

    ``distribution``: ``"truncated_normal"`` (std ``sqrt(scale/n)/0.8796``), ``"untruncated_normal"``
    or ``"uniform"`` (limit ``sqrt(3·scale/n)``).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if not (scale > 0):
            raise ValueError(f"VarianceScaling: expected a positive scale. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg'. Received: mode={mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: distribution must be 'truncated_normal', 'untruncated_normal' or "
                             f"'uniform'. Received: distribution={distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            x = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / _TRUNC_STD)
        elif self.distribution == "untruncated_normal":
            x = rng.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            x = rng.uniform(-limit, limit, shape)
        return x.astype(_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class _Preset(VarianceScaling):
    _args = ()

    def __init__(self, seed=None):
        super().__init__(*self._args, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform on ±sqrt(6 / (fan_in + fan_out)) (Keras's default kernel initialiser)."""

    _args = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with std sqrt(2 / (fan_in + fan_out))."""

    _args = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Preset):
    """Truncated normal with std sqrt(2 / fan_in) (for relu layers)."""

    _args = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """Uniform on ±sqrt(6 / fan_in)."""

    _args = (2.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with std sqrt(1 / fan_in) (for selu layers)."""

    _args = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform on ±sqrt(3 / fan_in)."""

    _args = (1.0, "fan_in", "uniform")


class Orthogonal(_Random):
    """A (semi-)orthogonal matrix times ``gain``: rows = product of all dims but the last."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have at least 2 dims. Received: shape={shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # a unique, uniformly distributed q
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(self.gain * q.reshape(shape), dtype=_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: the shape must be 2-D. Received: shape={shape}")
        return self.gain * np.eye(*shape, dtype=_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


_CLASSES = {c.__name__: c for c in (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal,
                                    VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform,
                                    LecunNormal, LecunUniform, Orthogonal, Identity)}
_ALIASES = {"zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
            "random_normal": RandomNormal, "normal": RandomNormal, "random_uniform": RandomUniform,
            "uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
            "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
            "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
            "orthogonal": Orthogonal, "identity": Identity}

# Keras's function-style spellings: ``fastnn.initializers.glorot_uniform(seed=1)``.
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
glorot_uniform, glorot_normal, he_normal, he_uniform = GlorotUniform, GlorotNormal, HeNormal, HeUniform
lecun_normal, lecun_uniform = LecunNormal, LecunUniform


class _FromFunction(FromFunction, Initializer):
    """An initializer from a plain function ``fn(shape, dtype=None)`` (Géron's my_glorot_initializer)."""

    def __call__(self, shape, dtype=None):
        from . import autodiff

        dtype = _dtype(dtype)
        return np.asarray(autodiff._value(self.function(tuple(shape), dtype=dtype.name)), dtype=dtype)


def get(identifier):
    """An initialiser from a name (``"he_normal"``, ``"HeNormal"``), a config dict, an instance, a
    plain function ``fn(shape, dtype=None)`` or a number (a constant)."""
    if isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return Constant(identifier)
    if isinstance(identifier, dict) and identifier.get("class_name") in _ALIASES:  # ({"class_name": "he_normal"})
        return _ALIASES[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    return lookup(identifier, "initializer", Initializer, _CLASSES, _ALIASES, _FromFunction)



def deserialize(config):
    """The inverse of `serialize`."""
    return get(config)


__all__ = [
    "serialize", "compute_fans", "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
    "LecunUniform", "Orthogonal", "Identity", "zeros", "ones", "constant", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "orthogonal", "identity", "glorot_uniform", "glorot_normal",
    "he_normal", "he_uniform", "lecun_normal", "lecun_uniform", "get", "deserialize"
]
