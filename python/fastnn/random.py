"""fastnn.random — Keras 3's ``keras.random``: random tensors for a script's own code.

``keras.random.normal(shape=(batch, dim), seed=self.seed_generator)`` in a VAE's Sampling layer,
``keras.random.uniform``, ``keras.random.dropout``... Every function draws with NumPy from

* ``seed=None`` (the default): fastnn's global generator, which `fastnn.utils.set_random_seed`
  seeds (as `fastnn.backend.random_normal` and the layers draw);
* an int: a generator of that seed, so the same draw at every call (Keras's rule);
* a `SeedGenerator`: the next seed of its stream, so a new draw at every call, the same sequence
  for the same seed.

A draw needs its shape: inside a layer's ``call``, a Lambda or a custom loss the tensors have their
batch size, so ``ops.shape(z_mean)`` is all ints; a symbolic tensor's shape has None for the batch
axis, which is an error here (draw inside the layer that needs the values, as Keras's examples do).
The shape inference of a layer (its trial runs on small batches) draws from a throwaway generator
and leaves every SeedGenerator's stream where it was. The results are arrays: constants on the
tape, except `dropout` and `shuffle` of a tensor, whose gradient flows through the kept values.
"""

from __future__ import annotations

import numpy as np

from . import autodiff, utils
from .autodiff import Operators, Tensor, _value


class SeedGenerator:
    """A stream of seeds for the random functions (Keras 3's ``keras.random.SeedGenerator``):
    ``normal(shape, seed=gen)`` gives a new draw at each call, and the same sequence of draws for
    the same ``seed``.

    Args:
        seed: the stream's starting seed, an int; None draws one from fastnn's global generator
            (reproducible under `fastnn.utils.set_random_seed`).
        name: a name (``seed_generator``, ``seed_generator_1``... when None).

    ``state`` holds the seed and the number of draws so far.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        kwargs.pop("backend", None)  # Keras's own
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {kwargs}")
        self._initial_seed = seed
        if seed is None:
            seed = utils.draw_seed()
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: the seed must be an int or None. Received: seed={seed!r}")
        self.name = name if name is not None else utils.unique_name("seed_generator")
        self.state = np.array([int(seed), 0], dtype=np.int64)

    def next(self, ordered=True):
        """The next seed of the stream (an int). A trial run (a layer's shape inference) gets a
        throwaway seed and leaves the stream where it was."""
        if utils.in_scratch_rng():
            return utils.draw_seed()
        seed, count = int(self.state[0]), int(self.state[1])
        self.state[1] += 1
        return utils.derive_seed(seed, count)

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name!r} seed={int(self.state[0])} draws={int(self.state[1])}>"


def _generator(seed, name):
    """The NumPy generator a draw uses for ``seed`` (see the module docstring)."""
    if seed is None:
        return utils.global_rng()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng(seed.next())
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return np.random.default_rng(int(seed) % 2**64)
    raise ValueError(f"fastnn.random.{name}: seed must be None, an int or a SeedGenerator. Received: "
                     f"seed={seed!r} (of type {type(seed).__name__})")


def _shape(shape, name):
    """``shape`` as a tuple of non-negative ints: an int, or a list/tuple of ints, 0-d arrays or
    tensors (``ops.shape(x)`` of a layer's tensor)."""
    if isinstance(shape, Operators) and not isinstance(shape, Tensor):
        raise ValueError(f"fastnn.random.{name}: shape must be a tuple of ints. Received a symbolic tensor")
    value = _value(shape)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        dims = [value]
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        dims = value.tolist()
    elif isinstance(value, (list, tuple)):
        dims = [_value(d) for d in value]
    else:
        raise ValueError(f"fastnn.random.{name}: shape must be an int or a tuple of ints. Received: shape={shape!r}")
    if any(d is None for d in dims):
        raise ValueError(
            f"fastnn.random.{name}: the shape {tuple(dims)} has an unknown (None) size: the batch axis of a "
            "symbolic tensor of the functional API. Draw inside the layer that uses the values (a custom layer's "
            "call, as Keras's Sampling layer, or a Lambda), where ops.shape(x) gives the batch size")
    out = []
    for d in dims:
        a = np.asarray(d)
        whole = a.ndim == 0 and (a.dtype.kind in "iu" or a.dtype.kind == "f" and float(a).is_integer())
        if not whole or int(a) < 0:
            raise ValueError(f"fastnn.random.{name}: shape must be non-negative ints. Received: shape={tuple(dims)}")
        out.append(int(a))
    return tuple(out)


def _float_dtype(dtype, name):
    dtype = np.dtype(dtype or utils.floatx())
    if dtype.kind != "f":
        raise ValueError(f"fastnn.random.{name} requires a floating point dtype. Received: dtype={dtype}")
    return dtype


def _int_dtype(dtype, name):
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"fastnn.random.{name} requires an integer dtype. Received: dtype={dtype}")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of a normal distribution N(mean, stddev²) of ``shape`` (dtype: floatx). ``mean`` and
    ``stddev`` may be tensors: ``mean + stddev * z`` then, with their gradients."""
    shape, dtype = _shape(shape, "normal"), _float_dtype(dtype, "normal")
    if not isinstance(stddev, Operators) and np.any(np.asarray(stddev) < 0):
        raise ValueError(f"fastnn.random.normal: stddev must be >= 0. Received: stddev={stddev!r}")
    rng = _generator(seed, "normal")
    if isinstance(mean, Operators) or isinstance(stddev, Operators):
        return mean + stddev * rng.standard_normal(shape).astype(dtype)
    return rng.normal(mean, stddev, shape).astype(dtype)


def uniform(shape, minval=0.0, maxval=None, dtype=None, seed=None):
    """Samples of the uniform distribution on [minval, maxval) of ``shape`` (dtype: floatx;
    ``maxval`` 1 unless given). As TensorFlow's ``tf.random.uniform`` (``import fastnn as tf``), an
    integer dtype with ``maxval`` given draws integers in [minval, maxval) (``randint``)."""
    if dtype is not None and np.dtype(dtype).kind in "iu" and maxval is not None:
        return randint(shape, int(_value(minval)), int(_value(maxval)), dtype=dtype, seed=seed)
    shape, dtype = _shape(shape, "uniform"), _float_dtype(dtype, "uniform")
    maxval = 1.0 if maxval is None else maxval
    if np.any(np.asarray(_value(maxval)) < np.asarray(_value(minval))):
        raise ValueError(f"fastnn.random.uniform: maxval must not be below minval. Received: minval={minval!r}, "
                         f"maxval={maxval!r}")
    return _generator(seed, "uniform").uniform(_value(minval), _value(maxval), shape).astype(dtype)


def set_seed(seed):
    """TensorFlow's ``tf.random.set_seed``: `fastnn.utils.set_random_seed`."""
    utils.set_random_seed(seed)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval) (dtype: int32)."""
    shape, dtype = _shape(shape, "randint"), _int_dtype(dtype, "randint")
    if maxval <= minval:
        raise ValueError(f"fastnn.random.randint: maxval must be greater than minval. Received: minval={minval}, "
                         f"maxval={maxval}")
    return _generator(seed, "randint").integers(minval, maxval, shape).astype(dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev²) within two standard deviations of the mean (the others drawn
    again), of ``shape`` (dtype: floatx)."""
    shape, dtype = _shape(shape, "truncated_normal"), _float_dtype(dtype, "truncated_normal")
    rng = _generator(seed, "truncated_normal")
    n = int(np.prod(shape))
    values = rng.standard_normal(n)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return (mean + stddev * values).reshape(shape).astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each value zeroed with probability ``rate`` and the others scaled by
    1 / (1 - rate) (inverted dropout); ``noise_shape`` (None entries: the input's sizes) shares a
    draw along the axes of size 1. On a tensor the gradient flows through the kept values."""
    if isinstance(inputs, Operators) and not isinstance(inputs, Tensor):
        raise ValueError("fastnn.random.dropout: the inputs are a symbolic tensor; use the Dropout layer, or call "
                         "this inside a layer's call or a Lambda")
    if not 0 <= rate < 1:
        raise ValueError(f"fastnn.random.dropout: rate must be in [0, 1). Received: rate={rate!r}")
    x = inputs if isinstance(inputs, Tensor) else np.asarray(inputs)
    full = tuple(x.shape)
    if noise_shape is None:
        noise = full
    else:
        if len(noise_shape) != len(full):
            raise ValueError(f"fastnn.random.dropout: noise_shape {tuple(noise_shape)} must have the inputs' rank "
                             f"{len(full)}")
        noise = _shape([full[i] if n is None else n for i, n in enumerate(noise_shape)], "dropout")
    keep = _generator(seed, "dropout").uniform(size=noise) >= rate
    scale = (np.broadcast_to(keep, full) / (1 - rate)).astype(x.dtype if x.dtype.kind == "f" else utils.floatx())
    return autodiff.multiply(x, scale)


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order (the gradient follows them)."""
    from . import _keras_ops

    if isinstance(x, Operators) and not isinstance(x, Tensor):
        raise ValueError("fastnn.random.shuffle: x is a symbolic tensor; shuffle the data, or call this inside a "
                         "layer's call or a Lambda")
    x = x if isinstance(x, Tensor) else np.asarray(x)
    n = x.shape[_keras_ops._axis(axis, x.ndim)]
    return _keras_ops.take(x, _generator(seed, "shuffle").permutation(n), axis=axis)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn with the
    probabilities softmax(logits): (batch, num_samples)."""
    dtype = _int_dtype(dtype, "categorical")
    z = np.asarray(_value(logits), dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"fastnn.random.categorical: logits must be 2-D (batch, classes). Received shape {z.shape}")
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = _generator(seed, "categorical").random((len(z), int(num_samples)))
    draws = (u[:, :, None] >= cdf[:, None, :]).sum(axis=-1)
    return np.minimum(draws, z.shape[1] - 1).astype(dtype)


def gamma(shape, alpha, beta=None, dtype=None, seed=None):
    """Samples of the Gamma distributions of shape parameters ``alpha`` and rates (inverse scales)
    ``beta`` (1 unless given), as TensorFlow's ``tf.random.gamma``: ``alpha`` and ``beta`` (numbers or
    arrays, > 0) broadcast together, one distribution per entry, and the result has the shape
    ``shape + broadcast(alpha, beta).shape``; its mean is alpha / beta (dtype: floatx; constants on
    the tape). Keras 3's ``keras.random.gamma(shape, alpha)`` is the case of a number alpha."""
    shape, dtype = _shape(shape, "gamma"), _float_dtype(dtype, "gamma")
    params = {}
    for name, value in (("alpha", alpha), ("beta", 1.0 if beta is None else beta)):
        try:
            params[name] = np.asarray(_value(value), dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"fastnn.random.gamma: {name} must be a positive number or an array of them (give dtype "
                             f"by keyword). Received: {name}={value!r}") from None
        if not np.all(params[name] > 0):
            raise ValueError(f"fastnn.random.gamma: {name} must be > 0. Received: {name}={value!r}")
    try:
        batch = np.broadcast_shapes(params["alpha"].shape, params["beta"].shape)
    except ValueError:
        raise ValueError(f"fastnn.random.gamma: alpha {params['alpha'].shape} and beta {params['beta'].shape} must "
                         f"broadcast together") from None
    return _generator(seed, "gamma").gamma(params["alpha"], 1.0 / params["beta"], shape + batch).astype(dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples of the binomial distribution of ``counts`` trials of success probability
    ``probabilities`` (as floats, dtype floatx)."""
    shape, dtype = _shape(shape, "binomial"), _float_dtype(dtype, "binomial")
    return _generator(seed, "binomial").binomial(_value(counts), _value(probabilities), shape).astype(dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples of the Beta(alpha, beta) distribution."""
    shape, dtype = _shape(shape, "beta"), _float_dtype(dtype, "beta")
    return _generator(seed, "beta").beta(_value(alpha), _value(beta), shape).astype(dtype)


# ---- TensorFlow's stateless draws and Generator (tf.random.stateless_*, tf.random.Generator) -------
# A seed is a pair of integers (TensorFlow's shape [2]): the same pair gives the same draw, another
# pair another. The streams are NumPy's, not TensorFlow's Philox: the values differ from
# TensorFlow's for a given pair.


def stateless_rng(seed, who):
    """The NumPy generator of a stateless op's ``seed`` pair, or a ValueError naming ``who``."""
    value = np.asarray(_value(seed))
    if value.shape != (2,) or value.dtype.kind not in "iu":
        raise ValueError(f"{who}: seed must be a pair of integers (shape [2]), as TensorFlow's stateless ops take, "
                         f"e.g. seed=(1, 2). Received: {seed!r}")
    return np.random.default_rng([int(v) & 0xFFFFFFFFFFFFFFFF for v in value.tolist()])


def _seed_pairs(rng, count):
    """``count`` new seed pairs as TensorFlow's (2, count) int64 array."""
    return rng.integers(-2**63, 2**63 - 1, size=(2, count), dtype=np.int64, endpoint=True)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype="float32", name=None):
    """`uniform` drawn from the ``seed`` pair (integers in [minval, maxval) for an integer dtype)."""
    rng = stateless_rng(seed, "random.stateless_uniform")
    if np.dtype(dtype).kind in "iu":
        if maxval is None:
            raise ValueError("random.stateless_uniform: an integer dtype needs maxval")
        return rng.integers(int(_value(minval)), int(_value(maxval)), _shape(shape, "stateless_uniform")).astype(dtype)
    return rng.uniform(_value(minval), 1.0 if maxval is None else _value(maxval),
                       _shape(shape, "stateless_uniform")).astype(_float_dtype(dtype, "stateless_uniform"))


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", name=None):
    """`normal` drawn from the ``seed`` pair."""
    rng = stateless_rng(seed, "random.stateless_normal")
    return rng.normal(_value(mean), _value(stddev), _shape(shape, "stateless_normal")).astype(
        _float_dtype(dtype, "stateless_normal"))


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", name=None):
    """`truncated_normal` drawn from the ``seed`` pair."""
    return truncated_normal(shape, mean, stddev, dtype, seed=int(_seed_pairs(
        stateless_rng(seed, "random.stateless_truncated_normal"), 1)[0, 0]) % 2**63)


def stateless_split(seed, num=2, alg=None):
    """``num`` new seed pairs, as a (num, 2) int64 array, made from the ``seed`` pair (for the
    data-augmentation tutorial's ``new_seed = tf.random.split(seed, num=1)[0, :]``)."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"random.split: num must be a positive integer. Received: num={num!r}")
    return _seed_pairs(stateless_rng(seed, "random.split"), int(num)).T.copy()


def stateless_fold_in(seed, data, alg=None):
    """A new seed pair from the ``seed`` pair and the integer ``data``."""
    return _seed_pairs(np.random.default_rng([int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(
        _value(stateless_split(seed, 1))).ravel().tolist()] + [int(_value(data)) & 0xFFFFFFFFFFFFFFFF]), 1)[:, 0]


split, fold_in = stateless_split, stateless_fold_in


class Generator:
    """TensorFlow's ``tf.random.Generator``: a stream of draws with a state, made from a seed
    (``from_seed``) or from fastnn's global generator (``from_non_deterministic_state``).
    ``make_seeds(count)`` gives (2, count) int64 seed pairs for the stateless ops, as the
    data-augmentation tutorial's ``rng.make_seeds(2)[0]`` takes them."""

    def __init__(self, seed=None, alg=None):
        self._seed = utils.draw_seed() if seed is None else int(_value(seed)) & 0xFFFFFFFFFFFFFFFF
        self.algorithm = alg
        self._rng = np.random.default_rng(self._seed)

    @classmethod
    def from_seed(cls, seed, alg=None):
        return cls(seed, alg)

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        return cls(None, alg)

    def reset_from_seed(self, seed):
        self.__init__(seed, self.algorithm)

    @property
    def state(self):
        return np.array([self._seed], np.int64)

    def make_seeds(self, count=1):
        return _seed_pairs(self._rng, int(count))

    def split(self, count=1):
        return [Generator(int(self._rng.integers(0, 2**63)), self.algorithm) for _ in range(int(count))]

    def normal(self, shape, mean=0.0, stddev=1.0, dtype="float32", name=None):
        return self._rng.normal(_value(mean), _value(stddev), _shape(shape, "Generator.normal")).astype(
            _float_dtype(dtype, "Generator.normal"))

    def uniform(self, shape, minval=0, maxval=None, dtype="float32", name=None):
        if np.dtype(dtype).kind in "iu":
            return self._rng.integers(int(minval), int(maxval), _shape(shape, "Generator.uniform")).astype(dtype)
        return self._rng.uniform(minval, 1.0 if maxval is None else maxval,
                                 _shape(shape, "Generator.uniform")).astype(_float_dtype(dtype, "Generator.uniform"))

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype="float32", name=None):
        return truncated_normal(shape, mean, stddev, dtype, seed=int(self._rng.integers(0, 2**63)))

    def binomial(self, shape, counts, probs, dtype="int32", name=None):
        return self._rng.binomial(_value(counts), _value(probs), _shape(shape, "Generator.binomial")).astype(dtype)


_global_generator = None


def get_global_generator():
    """TensorFlow's global Generator (seeded from fastnn's global generator on first use)."""
    global _global_generator
    if _global_generator is None:
        _global_generator = Generator()
    return _global_generator


def set_global_generator(generator):
    global _global_generator
    _global_generator = generator


class experimental:  # noqa: N801 (TensorFlow's namespace tf.random.experimental)
    """``tf.random.experimental``: stateless_split, stateless_fold_in, Generator."""

    stateless_split = staticmethod(stateless_split)
    stateless_fold_in = staticmethod(stateless_fold_in)
    Generator = Generator
    get_global_generator = staticmethod(get_global_generator)
    set_global_generator = staticmethod(set_global_generator)


__all__ = ["SeedGenerator", "normal", "uniform", "randint", "set_seed", "truncated_normal", "dropout", "shuffle", "categorical",
           "gamma", "binomial", "beta", "stateless_uniform", "stateless_normal", "stateless_truncated_normal", "split",
           "fold_in", "Generator", "get_global_generator", "set_global_generator", "experimental"]
