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
from ._batch_dataset import EagerArray
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
# TensorFlow's Philox4x32-10 streams, so a seed gives TensorFlow's numbers: a stateless op's seed is
# a pair of integers (shape [2]), scrambled into Philox's key and counter as stateless_random_ops.cc
# does; a Generator's state is the counter (seed, 0) with key 0. Floats from the bits as
# random_distributions.h makes them (the mantissa's bits, minus 1; Box-Muller for normals).

_MASK32 = 0xFFFFFFFF


def _philox(counters, key):
    """Philox4x32-10 of (n, 4) uint64 counter words (32-bit values) under ``key`` (two ints):
    (n, 4) uint64 words."""
    c = [counters[:, i].copy() for i in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    m0, m1, mask = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), np.uint64(_MASK32)
    for _ in range(10):
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & mask, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & mask]
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & mask, (k1 + np.uint64(0xBB67AE85)) & mask
    return np.stack(c, axis=1)


class _PhiloxStream:
    """TensorFlow's random bits from a Philox key and 128-bit counter (four 32-bit words), with
    the draws TensorFlow's distributions make of them; ``skip`` advances the counter."""

    def __init__(self, key, counter):
        self.key, self.counter = [int(k) & _MASK32 for k in key], [int(c) & _MASK32 for c in counter]

    @classmethod
    def stateless(cls, seed, who):
        value = np.asarray(_value(seed))
        if value.shape != (2,) or value.dtype.kind not in "iu":
            raise ValueError(f"{who}: seed must be a pair of integers (shape [2]), as TensorFlow's stateless ops "
                             f"take, e.g. seed=(1, 2). Received: {seed!r}")
        s0, s1 = (int(v) & 0xFFFFFFFFFFFFFFFF for v in value.tolist())
        # (stateless_random_ops.cc's GenerateKey: the seed scrambled by one Philox call)
        mixed = _philox(np.array([[s0 & _MASK32, s0 >> 32, s1 & _MASK32, s1 >> 32]], np.uint64),
                        (0x3EC8F720, 0x02461E29))[0]
        return cls(mixed[:2], (0, 0, mixed[2], mixed[3]))

    def bits(self, n):
        """The next ``n`` random uint32 (four per counter value, the counter counting up)."""
        blocks = -(-n // 4)
        start = np.uint64(self.counter[0] | self.counter[1] << 32)
        low = start + np.arange(blocks, dtype=np.uint64)  # (the 128-bit counter's low half, wrapping...)
        high = np.uint64(self.counter[2] | self.counter[3] << 32) + (low < start)  # (...into its high half)
        mask, shift = np.uint64(_MASK32), np.uint64(32)
        words = np.stack([low & mask, low >> shift, high & mask, high >> shift], axis=1)
        return _philox(words, self.key).reshape(-1)[:n].astype(np.uint32)

    def skip(self, blocks):
        value = sum(c << (32 * i) for i, c in enumerate(self.counter)) + int(blocks)
        self.counter = [(value >> (32 * i)) & _MASK32 for i in range(4)]

    # the distributions (random_distributions.h), each from the stream's next bits
    def _floats(self, n, dtype):
        if np.dtype(dtype) == np.float64:  # (Uint64ToDouble: 52 bits of two uint32)
            b = self.bits(2 * n).astype(np.uint64).reshape(-1, 2)
            mantissa = ((b[:, 0] & np.uint64(0xFFFFF)) << np.uint64(32)) | b[:, 1]
            return (mantissa | np.uint64(0x3FF0000000000000)).view(np.float64) - 1.0
        b = self.bits(n)  # (Uint32ToFloat: 23 bits)
        return ((b & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float32):
        n = int(np.prod(size)) if size is not None else 1
        dtype = np.dtype(dtype)
        u = self._floats(n, dtype)
        out = (u * dtype.type(high - low) + dtype.type(low)).astype(dtype)
        return out.reshape(size) if size is not None else dtype.type(out[0])

    def random(self, size=None):
        return self.uniform(0.0, 1.0, size)

    def integers(self, low, high, size=None, dtype=np.int32):
        n = int(np.prod(size)) if size is not None else 1
        span = int(high) - int(low)
        if np.dtype(dtype).itemsize == 8:
            b = self.bits(2 * n).astype(np.uint64).reshape(-1, 2)
            draws = (b[:, 0] << np.uint64(32)) | b[:, 1]
        else:
            draws = self.bits(n).astype(np.uint64)
        # (low + bits % span, as random_distributions.h's UniformDistribution; span < 2**64)
        out = ((draws % np.uint64(span)).astype(np.int64) + np.int64(low)).astype(dtype)
        return out.reshape(size) if size is not None else out[0]

    def full_ints(self, size, dtype):
        """Every value of ``dtype`` equally likely (the raw bits)."""
        n = int(np.prod(size))
        if np.dtype(dtype).itemsize == 8:
            b = self.bits(2 * n).astype(np.uint64).reshape(-1, 2)
            return ((b[:, 0] << np.uint64(32)) | b[:, 1]).view(np.int64).astype(dtype).reshape(size)
        return self.bits(n).view(np.int32).astype(dtype).reshape(size)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=np.float32):
        n = int(np.prod(size)) if size is not None else 1
        dtype = np.dtype(dtype)
        pairs = -(-n // 2)
        # (Box-Muller on pairs of uniforms, the first clamped at 1e-7: BoxMullerFloat / BoxMullerDouble)
        u = self._floats(2 * pairs, dtype).reshape(-1, 2)
        u1 = np.maximum(u[:, 0], dtype.type(1e-7))
        v1 = dtype.type(2 * np.pi) * u[:, 1]
        r = np.sqrt(dtype.type(-2) * np.log(u1))
        z = np.stack([np.sin(v1) * r, np.cos(v1) * r], axis=1).reshape(-1)[:n]
        out = (z * dtype.type(scale) + dtype.type(loc)).astype(dtype)
        return out.reshape(size) if size is not None else dtype.type(out[0])


def stateless_rng(seed, who):
    """The random stream of a stateless op's ``seed`` pair (TensorFlow's), or a ValueError naming
    ``who``: ``uniform``, ``random``, ``integers`` and ``normal`` as NumPy's generators name them."""
    return _PhiloxStream.stateless(seed, who)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype="float32", name=None):
    """`uniform` drawn from the ``seed`` pair (integers in [minval, maxval) for an integer dtype;
    every integer for maxval None), TensorFlow's numbers."""
    rng = stateless_rng(seed, "random.stateless_uniform")
    shape = _shape(shape, "stateless_uniform")
    if np.dtype(dtype).kind in "iu":
        if maxval is None:
            return rng.full_ints(shape, dtype)
        return rng.integers(int(_value(minval)), int(_value(maxval)), shape, dtype=dtype)
    return rng.uniform(_value(minval), 1.0 if maxval is None else _value(maxval), shape,
                       dtype=_float_dtype(dtype, "stateless_uniform"))


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", name=None):
    """`normal` drawn from the ``seed`` pair, TensorFlow's numbers."""
    rng = stateless_rng(seed, "random.stateless_normal")
    return rng.normal(_value(mean), _value(stddev), _shape(shape, "stateless_normal"),
                      dtype=_float_dtype(dtype, "stateless_normal"))


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", name=None):
    """`truncated_normal` (within two standard deviations) from the ``seed`` pair: repeatable,
    not TensorFlow's numbers (its truncation draws differently)."""
    rng = stateless_rng(seed, "random.stateless_truncated_normal")
    return truncated_normal(shape, mean, stddev, dtype, seed=int(rng.full_ints((1,), np.int64)[0]) % 2**63)


def stateless_split(seed, num=2, alg=None):
    """``num`` new seed pairs, a (num, 2) array of the seed's integer dtype (int32 for a list),
    TensorFlow's numbers: the data-augmentation tutorial's ``tf.random.split(seed, num=1)[0, :]``."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"random.split: num must be a positive integer. Received: num={num!r}")
    value = np.asarray(_value(seed))
    dtype = np.int32 if not isinstance(seed, np.ndarray) and value.dtype.kind in "iu" else value.dtype
    return stateless_rng(seed, "random.split").full_ints((int(num), 2), dtype).view(EagerArray)


def stateless_fold_in(seed, data, alg=None):
    """A new seed pair: [a random integer of the ``seed`` pair, ``data``], as TensorFlow's."""
    data = np.asarray(_value(data))
    dtype = np.int32 if data.dtype.kind in "iu" and data.dtype.itemsize <= 4 else np.int64
    first = stateless_rng(seed, "random.fold_in").full_ints((1,), dtype)[0]
    return np.array([first, data], dtype=dtype).view(EagerArray)


split, fold_in = stateless_split, stateless_fold_in


class Generator:
    """TensorFlow's ``tf.random.Generator`` (Philox): ``from_seed(seed)`` starts its counter at
    (seed, 0) with key 0, as TensorFlow does, so its first draws are TensorFlow's; each draw then
    advances the counter by 256 per value (TensorFlow's stateful ops' skip). ``make_seeds(count)``
    gives (2, count) int64 seed pairs for the stateless ops (the data-augmentation tutorial's
    ``rng.make_seeds(2)[0]``)."""

    def __init__(self, seed=None, alg=None):
        seed = utils.draw_seed() if seed is None else int(_value(seed)) & 0xFFFFFFFFFFFFFFFF
        self.algorithm = alg
        self._stream = _PhiloxStream((0, 0), (seed & _MASK32, seed >> 32, 0, 0))

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
        c = self._stream.counter
        return np.array([c[0] | c[1] << 32, c[2] | c[3] << 32, 0], np.uint64).view(np.int64)

    def _draw(self, make, n):
        out = make(self._stream)
        self._stream.skip(256 * max(n, 1))  # (TensorFlow's UpdateMemWithPhiloxRandom)
        return out

    def make_seeds(self, count=1):
        keys = self.uniform_full_int((int(count),), np.int64)
        return np.stack([keys, np.zeros_like(keys)]).view(EagerArray)

    def split(self, count=1):
        return [Generator(int(k), self.algorithm) for k in self.uniform_full_int((int(count),), np.int64)]

    def uniform_full_int(self, shape, dtype=np.int64, name=None):
        shape = _shape(shape, "Generator.uniform_full_int")
        return self._draw(lambda s: s.full_ints(shape, dtype), int(np.prod(shape)))

    def normal(self, shape, mean=0.0, stddev=1.0, dtype="float32", name=None):
        shape = _shape(shape, "Generator.normal")
        dtype = _float_dtype(dtype, "Generator.normal")
        return self._draw(lambda s: s.normal(_value(mean), _value(stddev), shape, dtype=dtype), int(np.prod(shape)))

    def uniform(self, shape, minval=0, maxval=None, dtype="float32", name=None):
        shape = _shape(shape, "Generator.uniform")
        if np.dtype(dtype).kind in "iu":
            if maxval is None:
                return self.uniform_full_int(shape, dtype)
            return self._draw(lambda s: s.integers(int(minval), int(maxval), shape, dtype=dtype),
                              int(np.prod(shape)))
        dtype = _float_dtype(dtype, "Generator.uniform")
        return self._draw(lambda s: s.uniform(minval, 1.0 if maxval is None else maxval, shape, dtype=dtype),
                          int(np.prod(shape)))

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype="float32", name=None):
        """Repeatable, not TensorFlow's numbers (its truncation draws differently)."""
        seed = int(self.uniform_full_int((1,), np.int64)[0]) % 2**63
        return truncated_normal(shape, mean, stddev, dtype, seed=seed)


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
