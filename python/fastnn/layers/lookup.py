"""fastnn.layers.lookup — Keras 3's lookup and text preprocessing layers, in NumPy.

``StringLookup`` and ``IntegerLookup`` (a vocabulary: given, set with ``set_vocabulary`` or learned
by ``adapt``), ``TextVectorization`` (standardize, split, n-grams, then a StringLookup),
``CategoryEncoding``, ``Hashing``, ``HashedCrossing`` and ``Discretization``, with Keras 3's arguments, defaults,
vocabulary order (by count, ties by token, both descending), special tokens and output modes
(``"int"``, ``"one_hot"``, ``"multi_hot"``, ``"count"``, ``"tf_idf"`` where Keras has them).

They are data layers: no weights, no gradient. Called on Python lists or NumPy arrays they return
NumPy arrays: int64 indices (Discretization: int32, as Keras 3), float encodings in the layer's
dtype (float32). The numeric ones (IntegerLookup, CategoryEncoding, Hashing of integers,
Discretization) may also be the first layers of a model; StringLookup and TextVectorization take
or give strings, which fastnn models do not carry, so they run on the data before the model
(Keras's advice for every backend but TensorFlow).

Hashing follows TensorFlow's ops bit for bit: FarmHash64 (``Fingerprint64``, what
``tf.strings.to_hash_bucket_fast`` uses) and, with a salt, SipHash-2-4 (``to_hash_bucket_strong``),
both written here in pure Python integer arithmetic and checked against FarmHash's own test
vectors, SipHash's reference vectors and Keras's documented outputs. HashedCrossing follows
``tf.sparse.cross_hashed``: FarmHash64 of strings (integers as they are) folded by ``FingerprintCat64``.

Differences from Keras, all deliberate: no ``sparse=True`` or ``ragged=True`` (fastnn returns dense
arrays); a lookup layer called before it has a vocabulary raises (Keras's TensorFlow table maps
everything to the OOV index in ``"int"`` mode); the non-``"int"`` encodings of StringLookup and
IntegerLookup are float32 (Keras's declared output spec) where Keras's eager TensorFlow op returns
int64 of the same values; StringLookup's ``invert=True`` returns an object array of UTF-8
``bytes``, as Keras (TensorFlow strings) does.
"""

from __future__ import annotations

import codecs
import collections
import itertools
import os
import re
import string

import numpy as np

from .. import utils
from .._batch_dataset import EagerArray
from .base import KerasTensor, Layer, _is_symbolic, register_layer

# ---- hashes (TensorFlow's string -> bucket ops) ------------------------------------------------

_M64 = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _rotr(v, s):
    return v if s == 0 else ((v >> s) | (v << (64 - s))) & _M64


def _u64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def _u32(b, i):
    return int.from_bytes(b[i:i + 4], "little")


def _shift_mix(v):
    return v ^ (v >> 47)


def _len16(u, v, mul):
    a = ((u ^ v) * mul) & _M64
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M64
    b ^= b >> 47
    return (b * mul) & _M64


def _weak32(s, i, a, b):
    w, x, y, z = _u64(s, i), _u64(s, i + 8), _u64(s, i + 16), _u64(s, i + 24)
    a = (a + w) & _M64
    b = _rotr((b + a + z) & _M64, 21)
    c = a
    a = (a + x + y) & _M64
    b = (b + _rotr(a, 44)) & _M64
    return (a + z) & _M64, (b + c) & _M64


def farmhash64(s: bytes) -> int:
    """FarmHash's ``Fingerprint64`` (farmhashna::Hash64) of ``s``: TensorFlow's ``Fingerprint64``,
    the hash behind ``tf.strings.to_hash_bucket_fast`` (Keras's Hashing without a salt)."""
    n = len(s)
    if n <= 16:
        if n >= 8:
            mul = _K2 + n * 2
            a = (_u64(s, 0) + _K2) & _M64
            b = _u64(s, n - 8)
            return _len16((_rotr(b, 37) * mul + a) & _M64, ((_rotr(a, 25) + b) * mul) & _M64, mul)
        if n >= 4:
            return _len16((n + (_u32(s, 0) << 3)) & _M64, _u32(s, n - 4), _K2 + n * 2)
        if n > 0:
            y = s[0] + (s[n >> 1] << 8)
            z = n + (s[n - 1] << 2)
            return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M64) * _K2) & _M64
        return _K2
    if n <= 32:
        mul = _K2 + n * 2
        a = (_u64(s, 0) * _K1) & _M64
        b = _u64(s, 8)
        c = (_u64(s, n - 8) * mul) & _M64
        d = (_u64(s, n - 16) * _K2) & _M64
        return _len16((_rotr((a + b) & _M64, 43) + _rotr(c, 30) + d) & _M64,
                      (a + _rotr((b + _K2) & _M64, 18) + c) & _M64, mul)
    if n <= 64:
        mul = _K2 + n * 2
        a = (_u64(s, 0) * _K2) & _M64
        b = _u64(s, 8)
        c = (_u64(s, n - 8) * mul) & _M64
        d = (_u64(s, n - 16) * _K2) & _M64
        y = (_rotr((a + b) & _M64, 43) + _rotr(c, 30) + d) & _M64
        z = _len16(y, (a + _rotr((b + _K2) & _M64, 18) + c) & _M64, mul)
        e = (_u64(s, 16) * mul) & _M64
        f = _u64(s, 24)
        g = ((y + _u64(s, n - 32)) * mul) & _M64
        h = ((z + _u64(s, n - 24)) * mul) & _M64
        return _len16((_rotr((e + f) & _M64, 43) + _rotr(g, 30) + h) & _M64,
                      (e + _rotr((f + a) & _M64, 18) + g) & _M64, mul)
    x = 81
    y = (81 * _K1 + 113) & _M64
    z = (_shift_mix((y * _K2 + 113) & _M64) * _K2) & _M64
    v0 = v1 = w0 = w1 = 0
    x = (x * _K2 + _u64(s, 0)) & _M64
    end = ((n - 1) // 64) * 64
    i = 0
    while True:  # 64 bytes at a time, leaving 1 to 64 for the end
        x = (_rotr((x + y + v0 + _u64(s, i + 8)) & _M64, 37) * _K1) & _M64
        y = (_rotr((y + v1 + _u64(s, i + 48)) & _M64, 42) * _K1) & _M64
        x ^= w1
        y = (y + v0 + _u64(s, i + 40)) & _M64
        z = (_rotr((z + w0) & _M64, 33) * _K1) & _M64
        v0, v1 = _weak32(s, i, (v1 * _K1) & _M64, (x + w0) & _M64)
        w0, w1 = _weak32(s, i + 32, (z + w1) & _M64, (y + _u64(s, i + 16)) & _M64)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = _K1 + ((z & 0xFF) << 1)
    i = n - 64
    w0 = (w0 + ((n - 1) & 63)) & _M64
    v0 = (v0 + w0) & _M64
    w0 = (w0 + v0) & _M64
    x = (_rotr((x + y + v0 + _u64(s, i + 8)) & _M64, 37) * mul) & _M64
    y = (_rotr((y + v1 + _u64(s, i + 48)) & _M64, 42) * mul) & _M64
    x ^= (w1 * 9) & _M64
    y = (y + v0 * 9 + _u64(s, i + 40)) & _M64
    z = (_rotr((z + w0) & _M64, 33) * mul) & _M64
    v0, v1 = _weak32(s, i, (v1 * mul) & _M64, (x + w0) & _M64)
    w0, w1 = _weak32(s, i + 32, (z + w1) & _M64, (y + _u64(s, i + 16)) & _M64)
    z, x = x, z
    return _len16((_len16(v0, w0, mul) + _shift_mix(y) * _K0 + z) & _M64, (_len16(v1, w1, mul) + x) & _M64, mul)


def _rotl(v, s):
    return ((v << s) | (v >> (64 - s))) & _M64


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _M64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _M64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _M64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _M64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash64(key0: int, key1: int, s: bytes) -> int:
    """SipHash-2-4 of ``s`` with the 128-bit key ``(key0, key1)``: TensorFlow's
    ``StrongKeyedHash``, behind ``tf.strings.to_hash_bucket_strong`` (Keras's ``salt``)."""
    v0, v1 = key0 ^ 0x736F6D6570736575, key1 ^ 0x646F72616E646F6D
    v2, v3 = key0 ^ 0x6C7967656E657261, key1 ^ 0x7465646279746573
    n = len(s)
    end = n - n % 8
    for i in range(0, end, 8):
        m = _u64(s, i)
        v3 ^= m
        v0, v1, v2, v3 = _sip_round(*_sip_round(v0, v1, v2, v3))
        v0 ^= m
    m = ((n & 0xFF) << 56) | int.from_bytes(s[end:], "little")
    v3 ^= m
    v0, v1, v2, v3 = _sip_round(*_sip_round(v0, v1, v2, v3))
    v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def _value_bytes(v):
    """A value as TensorFlow hashes it: a string's UTF-8 bytes, bytes as they are, an integer as
    ``tf.as_string`` writes it (decimal), a bool as "true"/"false"."""
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool):
        return b"true" if v else b"false"
    return str(int(v)).encode("ascii")


def _hash_buckets(values, num_buckets, salt=None):
    """Each element of the array ``values`` (strings or integers) hashed into ``[0, num_buckets)``:
    FarmHash64, or SipHash64 keyed by ``salt`` (two integers). Each distinct value is hashed once."""
    flat = values.reshape(-1)
    if flat.size == 0:
        return np.zeros(values.shape, np.int64)
    uniq, inverse = np.unique(flat, return_inverse=True)
    if salt is None:
        hashed = [farmhash64(_value_bytes(u)) % num_buckets for u in uniq.tolist()]
    else:
        hashed = [siphash64(salt[0], salt[1], _value_bytes(u)) % num_buckets for u in uniq.tolist()]
    return np.asarray(hashed, np.int64)[inverse.reshape(-1)].reshape(values.shape)


# ---- argument checks and conversions -----------------------------------------------------------


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_mode(who, output_mode, allowed):
    if not isinstance(output_mode, str) or output_mode not in allowed:
        raise ValueError(f"{who}: invalid value for argument `output_mode`. Expected one of {list(allowed)}. "
                         f"Received: output_mode={output_mode!r}")
    return output_mode


def _no_sparse(who, sparse):
    if sparse:
        raise ValueError(f"{who}: fastnn layers return dense NumPy arrays; `sparse=True` is not supported. "
                         f"Received: sparse={sparse!r}")


def _check_salt(who, salt):
    """Keras's ``salt``: None, one integer (used twice) or two integers, as the 128-bit SipHash key."""
    if salt is None:
        return None
    if _is_int(salt):
        salt = [salt, salt]
    if not isinstance(salt, (list, tuple)) or len(salt) != 2 or not all(_is_int(s) for s in salt) \
            or not all(0 <= s < 2**64 for s in salt):
        raise ValueError(f"{who}: the `salt` argument can only be a single unsigned integer or a tuple/list of 2 "
                         f"unsigned integers (each in [0, 2**64)). Received: salt={salt!r}")
    return [int(s) for s in salt]


def _string_array(x, who, encoding="utf-8"):
    """``x`` (a string, a nested list of strings, a NumPy array of str, bytes or objects) as a
    NumPy array of Python strings (dtype ``U``); bytes are decoded with ``encoding``."""
    if isinstance(x, np.ndarray):
        a = x
    else:
        try:
            a = np.asarray(x)
        except ValueError as e:
            raise ValueError(f"{who}: inputs must be a rectangular list or array of strings (a batch). "
                             f"Received a ragged nested list ({e})") from None
    if a.dtype.kind == "U":
        return a
    if a.size == 0:
        return a.astype("U1")
    if a.dtype.kind == "S":
        return np.char.decode(a, encoding)
    if a.dtype.kind == "O":
        flat = a.reshape(-1).tolist()
        if all(isinstance(v, str) for v in flat):
            return np.asarray(flat, dtype=str).reshape(a.shape)
        if all(isinstance(v, (str, bytes)) for v in flat):
            return np.asarray([v.decode(encoding) if isinstance(v, bytes) else v for v in flat],
                              dtype=str).reshape(a.shape)
        bad = next(v for v in flat if not isinstance(v, (str, bytes)))
        raise TypeError(f"{who}: expected strings. Received an element of type {type(bad).__name__}: {bad!r}")
    raise TypeError(f"{who}: expected strings (a list or array of str). Received: an array of dtype {a.dtype}")


def _int_array(x, who, what="inputs"):
    """``x`` as an int64 array: integers as they are, floats only when they hold whole numbers."""
    try:
        a = np.asarray(x)
    except ValueError as e:
        raise ValueError(f"{who}: {what} must be a rectangular list or array of integers. Received a ragged "
                         f"nested list ({e})") from None
    if a.dtype.kind in "iub":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "f":
        if a.size and not np.all(np.isfinite(a) & (a == np.floor(a))):
            bad = a.reshape(-1)[np.flatnonzero(~(np.isfinite(a) & (a == np.floor(a))).reshape(-1))[0]]
            raise ValueError(f"{who}: {what} must hold integers. Received a float array with the value {bad!r}")
        return a.astype(np.int64)
    if a.size == 0:
        return a.astype(np.int64)
    raise TypeError(f"{who}: {what} must be integers. Received: an array of dtype {a.dtype}")


def _encode(indices, mode, depth, dtype, who, count_weights=None, rows=None):
    """Keras's ``encode_categorical_inputs`` for integer ``indices`` (entries outside ``[0, depth)``,
    the mask, are dropped). ``"one_hot"`` appends an axis of ``depth`` (replacing a last axis of
    1); ``"multi_hot"``/``"count"`` reduce the last axis of a (batch, n) input (a rank-1 input is
    one sample, as in Keras). ``rows`` = (row of each index, number of rows): flat indices from
    ragged rows, reduced per row."""
    if mode == "int":
        return indices.astype(dtype, copy=False)
    x = indices.reshape(1) if indices.ndim == 0 else indices
    if mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        out = np.zeros(x.shape + (depth,), dtype)
        flat, fx = out.reshape(-1, depth), x.reshape(-1)
        ok = np.flatnonzero((fx >= 0) & (fx < depth))
        flat[ok, fx[ok]] = 1
        return out
    if rows is not None:
        row_ids, nrows = rows
        fx = x.reshape(-1)
    else:
        if x.ndim > 2:
            raise ValueError(f"{who}: output_mode={mode!r} encodes inputs of rank 1 or 2 (batch, tokens), as "
                             f"Keras. Received an input of shape {indices.shape}")
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        nrows = x2.shape[0]
        row_ids = np.repeat(np.arange(nrows), x2.shape[1])
        fx = x2.reshape(-1)
    ok = (fx >= 0) & (fx < depth)
    weights = None if count_weights is None else np.asarray(count_weights, np.float64).reshape(-1)[ok]
    counts = np.bincount(row_ids[ok] * depth + fx[ok], weights=weights, minlength=nrows * depth)
    counts = counts.reshape(nrows, depth)
    if mode == "multi_hot":
        counts = counts > 0
    out = counts.astype(dtype)
    return out[0] if rows is None and x.ndim == 1 else out


def _depth_shape(input_shape, mode, depth):
    """The output shape of an encoding (see `_encode`) for ``input_shape``."""
    input_shape = tuple(input_shape)
    if mode == "int":
        return input_shape
    if len(input_shape) == 0:
        return (depth,)
    if mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)


def _batches(data, steps, who, whole=(list, tuple, np.ndarray)):
    """What ``adapt`` iterates: ``[data]`` for data of the ``whole`` types, else each batch of an
    iterable (a generator, a Sequence, a dataset), at most ``steps`` of them."""
    if steps is not None and (not _is_int(steps) or steps < 1):
        raise ValueError(f"{who}.adapt: `steps` must be None or a positive integer. Received: steps={steps!r}")
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"{who}.adapt: expected an array, a list, or an iterable of batches. Received: "
                        f"{type(data).__name__} {data!r}"[:300])
    if isinstance(data, whole) or not hasattr(data, "__iter__"):
        return None
    return itertools.islice(iter(data), steps)


# ---- the base of the data layers ---------------------------------------------------------------


class _DataLayer(Layer):
    """No weights, no gradient; called eagerly on lists or arrays (strings where the layer takes
    them); in a model, as a first layer on the model's numeric input."""

    _string_io = False  # takes or gives strings: in a model only on an Input(dtype="string")

    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    def _takes_strings(self):
        """Whether it maps strings to numbers (so it may take a model's string input)."""
        return self._string_io and not getattr(self, "invert", False)

    _elementwise = False  # (maps each value to one value: a ragged tensor's flat values, row by row alike)

    def __call__(self, inputs, training=False, mask=None, **kwargs):
        from .._ragged import RaggedTensor

        if isinstance(inputs, RaggedTensor):  # (the ids of unicode_split's characters, and back)
            if not self._elementwise:
                raise ValueError(f"{self._who}: takes a ragged tensor only where it maps each value to one value "
                                 "(StringLookup, IntegerLookup, Hashing, Discretization); call .to_tensor() first")
            return inputs.with_flat_values(np.asarray(self(inputs.flat_values, training=training, **kwargs)))
        if _is_symbolic(inputs):
            string_in = isinstance(inputs, KerasTensor) and inputs.dtype == "string"
            if self._string_io and not (string_in and self._takes_strings()):
                raise TypeError(f"{self._who}: in a fastnn model, {type(self).__name__} takes the strings of an "
                                "Input(dtype='string') and gives numbers; it cannot output strings. Apply it to the "
                                "data before the model (x = layer(strings), then model.fit(x, y)) otherwise. "
                                f"Received: an input of dtype {getattr(inputs, 'dtype', None)!r}")
            if kwargs:
                raise ValueError(f"{self._who}: {sorted(kwargs)} can be given only when calling the layer on "
                                 "arrays, not in a model")
            return super().__call__(inputs, training=training, mask=mask)
        out = self.call(inputs, training=training, **kwargs)
        if not self.built:
            self.built = True
            self._build_input_shape = (None,) + tuple(np.shape(inputs))[1:]
        # (an eager tensor, as every layer's output: vectorizer(["the cat"]).numpy())
        # (one id looked up: a 0-d tensor too, ``inv(np.array(1)).numpy().decode()``)
        return out.view(EagerArray) if type(out) is np.ndarray else \
            np.asarray(out, dtype=object if isinstance(out, (bytes, str)) else None).view(EagerArray) \
            if isinstance(out, (np.generic, bytes, str)) else out

    _int_output_dtype = "int64"  # (Discretization's ids are int32)

    def _symbolic_output_dtype(self):
        """Keras's: ids (output_mode "int") as int64, unless a ``dtype`` says otherwise; encodings in
        the layer's output dtype."""
        mode = getattr(self, "output_mode", getattr(self, "_output_mode", None))
        given = getattr(self, "_out_dtype", None)
        if mode == "int":
            return given if given is not None and given.startswith("int") else self._int_output_dtype
        return given or self.dtype

    def backward(self, dy):
        if not self._need_input_grad:
            return None
        raise ValueError(f"{self._who} is a preprocessing layer: its output has no gradient with respect to its "
                         "input, so no layer with trainable weights can come before it. Put it first in the model "
                         "(on the raw data), or apply it to the data before the model.")


# ---- StringLookup, IntegerLookup ---------------------------------------------------------------

_INDEX_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class _IndexLookup(_DataLayer):
    """The vocabulary machinery of StringLookup and IntegerLookup (Keras's IndexLookup)."""

    @property
    def _elementwise(self):
        return self.output_mode == "int"

    _strings = True

    def __init__(self, *, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                 output_mode, pad_to_max_tokens, sparse, oov_method, salt, encoding, kwargs):
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", None)
        owner = kwargs.pop("_owner", None)
        kwargs.pop("dtype", None)  # Keras ignores it too: int64 indices, float encodings
        super().__init__(**kwargs)
        who = owner or type(self).__name__
        if max_tokens is not None and (not _is_int(max_tokens) or max_tokens <= 1):
            raise ValueError(f"{who}: if set, `max_tokens` must be an integer greater than 1 (it counts the mask "
                             f"and OOV tokens). Received: max_tokens={max_tokens!r}")
        if not isinstance(pad_to_max_tokens, (bool, np.bool_)):
            raise ValueError(f"{who}: `pad_to_max_tokens` must be True or False. "
                             f"Received: pad_to_max_tokens={pad_to_max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{who}: if pad_to_max_tokens is True, `max_tokens` must be set. "
                             f"Received: max_tokens={max_tokens}")
        if not _is_int(num_oov_indices) or num_oov_indices < 0:
            raise ValueError(f"{who}: `num_oov_indices` must be an integer greater than or equal to 0. "
                             f"Received: num_oov_indices={num_oov_indices!r}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{who}: invalid value for argument `oov_method`. Expected one of ['floormod', "
                             f"'farmhash']. Received: oov_method={oov_method!r}")
        salt = _check_salt(who, salt)
        if salt is not None and not self._strings and oov_method != "farmhash":
            raise ValueError(f"{who}: `salt` can only be used when `oov_method='farmhash'`. "
                             f"Received: oov_method={oov_method!r}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode) \
            if isinstance(output_mode, str) else output_mode
        _check_mode(who, output_mode, _INDEX_MODES)
        if not isinstance(invert, (bool, np.bool_)):
            raise ValueError(f"{who}: `invert` must be True or False. Received: invert={invert!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{who}: `output_mode` must be 'int' when `invert` is True. "
                             f"Received: output_mode={output_mode!r}")
        _no_sparse(who, sparse)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{who}: `idf_weights` should only be set if `output_mode` is 'tf_idf'. "
                             f"Received: output_mode={output_mode!r} and idf_weights={idf_weights!r}"[:400])
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError(f"{who}: when specifying the `vocabulary` argument in 'tf_idf' output mode, the "
                             "`idf_weights` argument must also be provided.")
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"{who}: `encoding` must name a text encoding such as 'utf-8'. "
                             f"Received: encoding={encoding!r}") from None
        self.encoding = encoding
        self.mask_token = self._check_token(mask_token, "mask_token", who)
        self.oov_token = self._check_token(oov_token, "oov_token", who)
        if invert and self.oov_token is None and num_oov_indices > 0:
            raise ValueError(f"{who}: with invert=True, `oov_token` (the token returned for OOV indices) must be "
                             "set. Received: oov_token=None")
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = int(num_oov_indices)
        self.output_mode = output_mode
        self.invert = bool(invert)
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = False
        self.oov_method = oov_method
        self.salt = salt
        self._frozen_vocab_size = vocabulary_size
        self._has_input_vocabulary = vocabulary is not None if has_input_vocabulary is None \
            else bool(has_input_vocabulary)
        self._tokens = None  # the learned/given terms, without the special tokens; None: no vocabulary yet
        self._idf = None
        self._input_vocabulary = self._input_idf = None
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
            if not isinstance(vocabulary, (str, os.PathLike)):  # (a file's terms go to the config as a list)
                self._input_vocabulary = self._vocab_keys(vocabulary).tolist()
                self._input_idf = None if idf_weights is None else np.asarray(idf_weights, np.float64).tolist()

    @property
    def _who(self):
        owner = getattr(self, "_owner_who", None)  # TextVectorization's lookup speaks in its name
        return owner or f"{type(self).__name__} '{self.name}'"

    # -- tokens ---------------------------------------------------------------------------------

    def _check_token(self, token, arg, who):
        if token is None:
            return None
        if self._strings:
            if isinstance(token, bytes):
                token = token.decode(self.encoding)
            if not isinstance(token, str):
                raise ValueError(f"{who}: `{arg}` must be a string or None. Received: {arg}={token!r}")
            return token
        if not _is_int(token):
            raise ValueError(f"{who}: `{arg}` must be an integer or None. Received: {arg}={token!r}")
        return int(token)

    def _keys(self, x, what="inputs"):
        """Inputs as an array of keys: strings (StringLookup) or int64 (IntegerLookup)."""
        if self._strings:
            return _string_array(x, self._who, self.encoding)
        return _int_array(x, self._who, what)

    def _vocab_keys(self, vocabulary):
        who = self._who
        if isinstance(vocabulary, (str, os.PathLike)):
            path = os.fspath(vocabulary)
            if not os.path.isfile(path):
                raise ValueError(f"{who}: vocabulary file {path!r} does not exist.")
            with open(path, encoding=self.encoding) as f:
                lines = f.read().splitlines()
            while lines and lines[-1] == "":
                lines.pop()
            if self._strings:
                return np.asarray(lines, dtype=str)
            try:
                return np.asarray([int(line) for line in lines], np.int64)
            except ValueError:
                raise ValueError(f"{who}: the vocabulary file {path!r} must hold one integer per line") from None
        if np.ndim(vocabulary) != 1:
            raise ValueError(f"{who}: `vocabulary` must be a 1-D list, tuple or array of terms (or a file path). "
                             f"Received: an object of shape {np.shape(vocabulary)}")
        return self._keys(vocabulary, "the vocabulary")

    def _special_tokens(self):
        return [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices

    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (a list, tuple or 1-D array of terms, or a text file with one term a
        line), and for ``"tf_idf"`` the idf weights, replacing any vocabulary the layer had. The
        mask and OOV tokens may lead the list in their places (as `get_vocabulary` gives them)."""
        who = self._who
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{who}: `idf_weights` must be set if output_mode is 'tf_idf'.")
            if isinstance(vocabulary, (str, os.PathLike)):
                raise ValueError(f"{who}: output_mode 'tf_idf' does not support loading a vocabulary from file.")
        elif idf_weights is not None:
            raise ValueError(f"{who}: `idf_weights` should only be set if output_mode is 'tf_idf'. Received: "
                             f"output_mode={self.output_mode!r} and idf_weights={idf_weights!r}"[:400])
        vocab = self._vocab_keys(vocabulary)
        if vocab.size == 0:
            raise ValueError(f"{who}: cannot set an empty vocabulary. Received: vocabulary={vocabulary!r}")
        terms = vocab.tolist()
        start = self._token_start_index()
        special = self._special_tokens()
        found_special = terms[:start] == special
        tokens = terms[start:] if found_special else terms
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{who}: the passed vocabulary has at least one repeated term. Please uniquify your "
                             f"dataset. The repeated terms are: {repeated[:20]}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(f"{who}: found the reserved mask token {self.mask_token!r} at an unexpected location "
                             f"in `vocabulary` (index {terms.index(self.mask_token)}). The vocabulary does not need "
                             "to include the mask and OOV tokens; either remove them, or include them only at the "
                             f"start of the vocabulary in precisely this order: {special}")
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(f"{who}: found the reserved OOV token {self.oov_token!r} at an unexpected location in "
                             f"`vocabulary` (index {terms.index(self.oov_token)}). The vocabulary does not need to "
                             "include the mask and OOV tokens; either remove them, or include them only at the "
                             f"start of the vocabulary in precisely this order: {special}")
        size = start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{who}: attempted to set a vocabulary larger than the maximum vocab size. Received "
                             f"vocabulary size is {size}; `max_tokens` is {self.max_tokens}.")
        idf = None
        if self.output_mode == "tf_idf":
            weights = np.asarray(idf_weights, np.float64)
            if weights.ndim != 1:
                raise ValueError(f"{who}: `idf_weights` must be a 1-D array. Received shape {weights.shape}")
            if len(weights) != len(terms):
                raise ValueError(f"{who}: `idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(weights)}; len(vocabulary) is {len(terms)}")
            front = 0 if found_special else start
            back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
            idf = np.concatenate([np.full(front, np.average(weights) if len(weights) else 0.0), weights,
                                  np.zeros(max(back, 0))]).astype(utils.floatx())
        self._set_tokens(tokens, idf)
        self._input_vocabulary = self._input_idf = None

    def _set_tokens(self, tokens, idf=None):
        size = self._token_start_index() + len(tokens)
        if self.built and self.output_mode != "int" and not self.pad_to_max_tokens \
                and self._frozen_vocab_size is not None and size != self._frozen_vocab_size:
            raise RuntimeError(f"{self._who}: when using output_mode={self.output_mode!r} and "
                               "pad_to_max_tokens=False, the vocabulary size cannot be changed after the layer is "
                               f"called. Old vocab size is {self._frozen_vocab_size}, new vocab size is {size}")
        start = self._token_start_index()
        if self._strings:
            self._tokens = list(tokens)
            self._table = {t: start + i for i, t in enumerate(self._tokens)}
        else:
            self._tokens = np.asarray(tokens, np.int64).reshape(-1)
            order = np.argsort(self._tokens, kind="stable")
            self._sorted_keys = self._tokens[order]
            self._sorted_values = (start + order).astype(np.int64)
        self._idf = idf
        self._inverse_table = None
        self._frozen_vocab_size = size

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary: with the special tokens (mask at 0 in "int" mode, then the OOV tokens) a
        term's position is its index; without them, the terms only."""
        tokens = [] if self._tokens is None else list(self._tokens)
        if not self._strings:
            tokens = [int(t) for t in tokens]
        vocab = self._special_tokens() + tokens
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    def vocabulary_size(self):
        """The size of the vocabulary, mask and OOV indices included."""
        return self._token_start_index() + (0 if self._tokens is None else len(self._tokens))

    # -- adapt ----------------------------------------------------------------------------------

    def reset_state(self):
        self._counts = collections.Counter()
        self._doc_counts = collections.Counter()
        self._num_documents = 0

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from ``data`` (an array or list: all of it at once; any other
        iterable: its batches, at most ``steps``): the terms sorted by count, ties broken by the
        terms themselves, both descending (Keras's rule), cut to ``max_tokens``; in "tf_idf" mode
        also each term's idf, ``log(1 + documents / (1 + documents with the term))``."""
        who = self._who
        self._check_adaptable()
        batches = _batches(data, steps, who)
        self.reset_state()
        if batches is None:
            try:
                keys = self._keys(data)
            except ValueError:
                if not isinstance(data, (list, tuple)):
                    raise
                for row in data:  # a ragged list: each row one document
                    self.update_state(row)
            else:
                self.update_state(keys[:, None] if keys.ndim == 1 else keys)
        else:
            for batch in batches:
                self.update_state(batch)
        self.finalize_state()

    def _check_adaptable(self):
        if self._has_input_vocabulary:
            raise ValueError(f"{self._who}: cannot adapt the layer after setting a static vocabulary "
                             "via the `vocabulary` argument; create the layer without one to adapt it.")

    def update_state(self, data):
        """Count the terms of one batch (a rank-1 batch is one document, as in Keras)."""
        self._check_adaptable()
        keys = self._keys(data)
        if keys.ndim == 0:
            keys = keys.reshape(1)
        if keys.ndim == 1:
            keys = keys.reshape(1, -1)
        uniq, inverse, counts = np.unique(keys.reshape(-1), return_inverse=True, return_counts=True)
        for token, c in zip(uniq.tolist(), counts.tolist()):
            self._counts[token] += c
        if self.output_mode == "tf_idf":
            n_rows = keys.shape[0]
            rows = np.repeat(np.arange(n_rows), keys.size // max(n_rows, 1))
            pairs = np.unique(rows * max(len(uniq), 1) + inverse.reshape(-1))
            docs = np.bincount(pairs % max(len(uniq), 1), minlength=len(uniq))
            for token, c in zip(uniq.tolist(), docs.tolist()):
                self._doc_counts[token] += c
            self._num_documents += n_rows

    def _update_rows(self, rows):
        """Count the terms of ragged rows (lists of terms), one document each."""
        self._check_adaptable()
        self._counts.update(itertools.chain.from_iterable(rows))
        if self.output_mode == "tf_idf":
            for row in rows:
                self._doc_counts.update(set(row))
            self._num_documents += len(rows)

    def finalize_state(self):
        if self._has_input_vocabulary:
            return
        counts = self._counts
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(special, None)
        terms = list(counts)
        if terms:
            keys = np.asarray(terms, dtype=str if self._strings else np.int64)
            order = np.lexsort((keys, np.asarray([counts[t] for t in terms], np.int64)))[::-1]
            if self.max_tokens:
                order = order[:self.max_tokens - self._token_start_index()]
            tokens = [terms[i] for i in order]
        else:
            tokens = []
        idf = None
        if self.output_mode == "tf_idf":
            df = np.asarray([self._doc_counts[t] for t in tokens], np.float64)
            idf = np.log(1 + self._num_documents / (1 + df)).astype(utils.floatx())
            front = np.full(self._token_start_index(), idf.mean(dtype=idf.dtype) if len(idf) else 0.0, idf.dtype)
            idf = np.concatenate([front, idf])
            if self.pad_to_max_tokens:
                idf = np.concatenate([idf, np.zeros(max(self.max_tokens - len(idf), 0), idf.dtype)])
        self._set_tokens(tokens, idf)
        self._input_vocabulary = self._input_idf = None
        self.reset_state()

    # -- call -----------------------------------------------------------------------------------

    def _require_vocabulary(self):
        if self._tokens is None:
            raise ValueError(f"{self._who}: the layer has no vocabulary yet. Pass `vocabulary=` when creating "
                             "it, call set_vocabulary(...), or call adapt(data) before calling it.")

    def _lookup(self, keys):
        """Indices of ``keys`` (an array): the vocabulary's, OOV indices for unknown terms, the mask's
        (0 in "int" mode; -1, dropped by the encodings, otherwise)."""
        flat = keys.reshape(-1)
        if self._strings:
            uniq, inverse = np.unique(flat, return_inverse=True)
            table = self._table
            found = np.fromiter((table.get(u, -1) for u in uniq.tolist()), np.int64, len(uniq))
            found = found[inverse.reshape(-1)] if flat.size else np.zeros(0, np.int64)
        else:
            n = len(self._sorted_keys)
            if n:
                pos = np.minimum(np.searchsorted(self._sorted_keys, flat), n - 1)
                found = np.where(self._sorted_keys[pos] == flat, self._sorted_values[pos], -1)
            else:
                found = np.full(flat.shape, -1, np.int64)
        is_mask = flat == self.mask_token if self.mask_token is not None else None
        missing = found == -1
        if is_mask is not None:
            missing &= ~is_mask
        if missing.any():
            if self.num_oov_indices == 0:
                values = np.unique(flat[missing]).tolist()
                raise ValueError(f"{self._who}: when `num_oov_indices=0` all inputs should be in the vocabulary; "
                                 f"found OOV values {values[:20]}, consider setting `num_oov_indices=1`.")
            start = self._oov_start_index()
            if self.num_oov_indices == 1:
                found = np.where(missing, start, found)
            else:
                oov = flat[missing]
                if not self._strings and self.oov_method == "floormod":
                    buckets = np.mod(oov, self.num_oov_indices)
                else:
                    buckets = _hash_buckets(oov, self.num_oov_indices, self.salt)
                found = found.copy()
                found[missing] = start + buckets
        if is_mask is not None:
            found = np.where(is_mask, 0 if self.output_mode == "int" else -1, found)
        return found.reshape(keys.shape)

    def _invert(self, inputs):
        idx = _int_array(inputs, self._who, "indices (invert=True)")
        if self._inverse_table is None:
            vocab = self.get_vocabulary()
            if self._strings:
                table = np.empty(len(vocab), object)
                table[:] = [None if v is None else v.encode("utf-8") for v in vocab]
            else:
                table = np.asarray([self.oov_token if v is None else v for v in vocab], np.int64)
            self._inverse_table = table
        table = self._inverse_table
        oov = self.oov_token.encode("utf-8") if self._strings and self.oov_token is not None else self.oov_token
        valid = (idx >= 0) & (idx < len(table))
        out = table[np.clip(idx, 0, len(table) - 1)]
        if not valid.all():
            out[~valid] = oov
        return out

    def call(self, inputs, training=False):
        self._require_vocabulary()
        if self.invert:
            return self._invert(inputs)
        keys = self._keys(inputs)
        scalar = keys.ndim == 0
        idx = self._lookup(keys.reshape(1) if scalar else keys)
        if self.output_mode == "int":
            return idx.reshape(()) if scalar else idx
        return self._encode_indices(idx)

    def _encode_indices(self, idx, rows=None):
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = _encode(idx, mode, depth, self.dtype, self._who, rows=rows)
        if self.output_mode == "tf_idf":
            out = (out * self._idf[:depth]).astype(self.dtype, copy=False)
        return out

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if depth is None:
            raise ValueError(f"{self._who}: with output_mode={self.output_mode!r} the output size is the vocabulary "
                             "size; set the vocabulary (vocabulary=, set_vocabulary or adapt) before using the "
                             "layer in a model, or pass max_tokens with pad_to_max_tokens=True")
        return _depth_shape(input_shape, self.output_mode, depth)

    # -- config ---------------------------------------------------------------------------------

    def get_config(self):
        """Keras's config, the vocabulary in it: the one given, else the current one (special
        tokens included) with its idf weights, so that a saved model carries what adapt learned."""
        vocabulary, idf = self._input_vocabulary, self._input_idf
        if vocabulary is None and self._tokens is not None:
            vocabulary = self.get_vocabulary()
            if self._idf is not None:
                idf = [float(v) for v in self._idf[:len(vocabulary)]]
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": idf, "vocabulary": vocabulary, "vocabulary_size": self._frozen_vocab_size,
                "oov_method": self.oov_method, "salt": self.salt, "has_input_vocabulary": self._has_input_vocabulary}

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("vocabulary"), str):
            raise ValueError(f"{cls.__name__}.from_config: a config names a vocabulary file "
                             f"({config['vocabulary']!r}); fastnn reads vocabularies only from the config itself "
                             "(a file path in a saved model could point anywhere). Give the terms as a list.")
        return cls(**config)


@register_layer
class StringLookup(_IndexLookup):
    """Maps strings to integer indices through a vocabulary (Keras 3's ``keras.layers.StringLookup``).

    The vocabulary is given (``vocabulary=``, a list or a text file with a term a line), set with
    `set_vocabulary`, or learned with `adapt`. In ``"int"`` mode index 0 is the ``mask_token`` (when
    set), then ``num_oov_indices`` OOV indices (default 1: index 0 or 1 is ``"[UNK]"``), then the
    terms. Several OOV indices spread unknown strings by FarmHash64 (SipHash64 with ``salt``),
    exactly as TensorFlow does. ``output_mode`` ``"one_hot"``, ``"multi_hot"``, ``"count"`` and
    ``"tf_idf"`` give float encodings of width `vocabulary_size` (``max_tokens`` with
    ``pad_to_max_tokens``), the mask token dropped. ``invert=True`` maps indices back to terms (an
    object array of UTF-8 bytes, as Keras returns TensorFlow strings).

        >>> StringLookup(vocabulary=["a", "b", "c", "d"])([["a", "c", "d"], ["d", "z", "b"]])
        array([[1, 3, 4],
               [4, 0, 2]])

    In a model it takes the strings of an ``Input(shape=(1,), dtype="string")`` (not with
    ``invert=True``: a model carries no string outputs); or apply it to the data and feed the
    indices to the model (an ``Embedding`` takes them). ``sparse=True`` is not supported.
    """

    _string_io = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, oov_method="floormod", **kwargs):
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse,
                         oov_method=oov_method, salt=salt, encoding=encoding, kwargs={"name": name, **kwargs})

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


@register_layer
class IntegerLookup(_IndexLookup):
    """Maps integers to contiguous indices through a vocabulary (Keras 3's ``IntegerLookup``).

    As `StringLookup`, for int64 terms: OOV token ``-1``; with ``num_oov_indices > 1`` unknown
    integers go to OOV index ``value mod num_oov_indices`` (``oov_method="floormod"``) or by
    FarmHash64 of their decimal string (``"farmhash"``; SipHash64 with ``salt``), as Keras.

        >>> IntegerLookup(vocabulary=[12, 36, 1138, 42])(np.array([[12, 1138, 42], [42, 1000, 36]]))
        array([[1, 3, 4],
               [4, 0, 2]])

    It may be the first layer of a model (its input is cast to int64). ``sparse=True`` is not
    supported.
    """

    _strings = False
    input_dtype = "int64"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError("IntegerLookup: only `vocabulary_dtype='int64'` is supported. "
                             f"Received: vocabulary_dtype={vocabulary_dtype!r}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse,
                         oov_method=oov_method, salt=salt, encoding="utf-8", kwargs={"name": name, **kwargs})

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": "int64"}


# ---- TextVectorization -------------------------------------------------------------------------

_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_PUNCTUATION = dict.fromkeys(map(ord, string.punctuation))  # Keras's regex class: the 32 ASCII marks
_NON_SPACE = re.compile(r"[^ \t\n\v\f\r]+")  # TensorFlow splits on ASCII whitespace only


def _function_config(value):
    if value is None or isinstance(value, str):
        return value
    name = getattr(value, "__name__", None)
    if not name or name == "<lambda>":
        raise ValueError("TextVectorization: only a named function can be saved as `standardize` or `split` (the "
                         "config names it and from_config/load_model(custom_objects={name: function}) gives it "
                         f"back). Received: {value!r}")
    return {"function": name}


@register_layer
class TextVectorization(_DataLayer):
    """Maps strings to token indices or encodings (Keras 3's ``keras.layers.TextVectorization``).

    Each string is standardized (``"lower_and_strip_punctuation"``: ASCII letters lowercased and
    the 32 ASCII punctuation marks removed, as TensorFlow's ``tf.strings.lower`` and Keras's regex
    do; ``"lower"``, ``"strip_punctuation"``, None, or a function of a NumPy string array), split
    (``"whitespace"``: runs of ASCII whitespace; ``"character"``: code points; None; or a function
    from a 1-D string array to a list of token lists), joined into n-grams (``ngrams=2`` gives 1-
    and 2-grams, space-separated, per string the 1-grams first), then looked up in a vocabulary
    (a `StringLookup` with mask token ``""``). ``"int"`` output is an int64 (batch, tokens) array
    padded with 0 to the longest string (or cut/padded to ``output_sequence_length``); the other
    modes give float (batch, vocabulary size) encodings.

        >>> layer = TextVectorization(max_tokens=5000, output_sequence_length=4)
        >>> layer.adapt(["foo bar", "bar baz", "baz bada boom"])
        >>> layer([["foo qux bar"], ["qux baz"]])
        array([[4, 1, 3, 0],
               [1, 2, 0, 0]])

    In a model it takes the strings of an ``Input(shape=(1,), dtype="string")`` (Keras's end-to-end
    text model); or vectorize the data and feed the indices to the model. ``sparse=True`` and
    ``ragged=True`` are not supported.
    """

    _string_io = True
    _functions_from_custom_objects = True

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs):
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        who = "TextVectorization"
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"{who}: invalid value for argument `standardize`. Expected one of {list(_STANDARDIZE)}, "
                             f"None or a callable. Received: standardize={standardize!r}")
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(f"{who}: invalid value for argument `split`. Expected one of {list(_SPLIT)}, None or a "
                             f"callable. Received: split={split!r}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode) \
            if isinstance(output_mode, str) else output_mode
        _check_mode(who, output_mode, _INDEX_MODES)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (_is_int(ngrams) and ngrams >= 1)
                or (isinstance(ngrams, tuple) and ngrams and all(_is_int(n) and n >= 1 for n in ngrams))):
            raise ValueError(f"{who}: `ngrams` must be None, a positive integer, or a tuple of positive integers. "
                             f"Received: ngrams={ngrams!r}")
        if output_mode == "int":
            if output_sequence_length is not None and (not _is_int(output_sequence_length)
                                                       or output_sequence_length < 1):
                raise ValueError(f"{who}: `output_sequence_length` must be either None or a positive integer when "
                                 f"`output_mode` is 'int'. Received: output_sequence_length={output_sequence_length!r}")
        elif output_sequence_length is not None:
            raise ValueError(f"{who}: `output_sequence_length` must not be set if `output_mode` is not 'int'. "
                             f"Received: output_mode={output_mode!r}, "
                             f"output_sequence_length={output_sequence_length!r}")
        _no_sparse(who, sparse)
        if ragged:
            raise ValueError(f"{who}: fastnn returns dense arrays (padded with 0); `ragged=True` is not supported. "
                             f"Received: ragged={ragged!r}")
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if _is_int(ngrams) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = None if output_sequence_length is None else int(output_sequence_length)
        self._encoding = encoding
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                          encoding=encoding, has_input_vocabulary=self._has_input_vocabulary,
                                          vocabulary_size=vocabulary_size, name=f"{self.name}_lookup", _owner=who)
        self._lookup_layer._owner_who = self._who

    # -- preprocessing --------------------------------------------------------------------------

    def _standardized(self, x):
        if callable(self._standardize):
            out = self._standardize(x)
            return _string_array(out, f"{self._who} (the standardize function's result)", self._encoding)
        if self._standardize is None:
            return x
        table = {}
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            table.update(_ASCII_LOWER)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            table.update(_PUNCTUATION)
        flat = [s.translate(table) for s in x.reshape(-1).tolist()]
        return np.asarray(flat, dtype=str).reshape(x.shape) if flat else x

    def _ngram_rows(self, rows):
        if self._ngrams is None:
            return rows
        out = []
        for row in rows:
            grams = []
            for n in self._ngrams:
                grams += [" ".join(row[i:i + n]) for i in range(len(row) - n + 1)]
            out.append(grams)
        return out

    def _preprocess(self, inputs):
        """``(rows, None)``: the token lists of a batch of strings (split); or ``(None, array)``:
        the standardized strings, one token each (split=None without n-grams)."""
        x = self._standardized(_string_array(inputs, self._who, self._encoding))
        if self._split is None:
            if self._ngrams is None:
                return None, x
            x2 = x.reshape(-1, 1) if x.ndim <= 1 else x.reshape(-1, x.shape[-1])
            return self._ngram_rows([list(r) for r in x2.tolist()]), None
        if x.ndim > 1:
            if x.shape[-1] != 1:
                raise ValueError(f"{self._who}: when using TextVectorization to tokenize strings, the input rank must "
                                 "be 1 or the last shape dimension must be 1. Received: inputs.shape="
                                 f"{x.shape} with rank={x.ndim}")
            x = x.reshape(x.shape[:-1])
        if x.ndim > 1:
            raise ValueError(f"{self._who}: expected a batch of strings of shape (batch,) or (batch, 1). Received: "
                             f"inputs.shape={x.shape + (1,)}")
        strings = x.reshape(-1)
        if self._split == "whitespace":
            rows = [_NON_SPACE.findall(s) for s in strings.tolist()]
        elif self._split == "character":
            rows = [list(s) for s in strings.tolist()]
        else:
            result = self._split(strings)
            try:
                rows = [[t.decode(self._encoding) if isinstance(t, bytes) else str(t)
                         for t in np.asarray(r).reshape(-1).tolist()] for r in result]
            except TypeError:
                raise TypeError(f"{self._who}: the split function must return one list of tokens per string. "
                                f"Received: {type(result).__name__}") from None
            if len(rows) != len(strings):
                raise ValueError(f"{self._who}: the split function returned {len(rows)} token lists for "
                                 f"{len(strings)} strings")
        return self._ngram_rows(rows), None

    # -- adapt ----------------------------------------------------------------------------------

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from ``data`` (a list or array of strings: each string one document;
        any other iterable: its batches of strings, at most ``steps``); see `StringLookup.adapt`."""
        self._lookup_layer._check_adaptable()
        batches = _batches(data, steps, self._who)
        self._lookup_layer.reset_state()
        if batches is None:
            x = _string_array(data, self._who, self._encoding)
            self.update_state(x.reshape(-1, 1) if x.ndim == 1 else x)
        else:
            for batch in batches:
                self.update_state(batch)
        self._lookup_layer.finalize_state()

    def update_state(self, data):
        rows, dense = self._preprocess(data)
        if rows is not None:
            self._lookup_layer._update_rows(rows)
        else:
            self._lookup_layer.update_state(dense)

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary; with the special tokens ("" for padding in "int" mode, "[UNK]") a term's
        position is its index."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (and the idf weights in "tf_idf" mode); see `StringLookup.set_vocabulary`."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # -- call -----------------------------------------------------------------------------------

    def call(self, inputs, training=False):
        lookup = self._lookup_layer
        lookup._require_vocabulary()
        scalar = np.ndim(inputs) == 0
        rows, dense = self._preprocess([inputs] if scalar else inputs)
        length = self._output_sequence_length
        if rows is None:  # one token per string
            idx = lookup._lookup(dense)
            if self._output_mode != "int":
                out = lookup._encode_indices(idx.reshape(-1, 1) if idx.ndim == 1 else idx)
                return out[0] if scalar else out
            if length is not None:
                idx = idx.reshape(-1, 1) if idx.ndim == 1 else idx
                idx = idx[..., :length]
                pad = length - idx.shape[-1]
                if pad:
                    idx = np.concatenate([idx, np.zeros(idx.shape[:-1] + (pad,), np.int64)], axis=-1)
            return idx[0] if scalar else idx
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        flat = np.asarray(list(itertools.chain.from_iterable(rows)), dtype=str)
        idx = lookup._lookup(flat)
        row_ids = np.repeat(np.arange(len(rows)), lengths)
        if self._output_mode in ("multi_hot", "count", "tf_idf"):
            out = lookup._encode_indices(idx, rows=(row_ids, len(rows)))
            return out[0] if scalar else out
        width = length if length is not None else int(lengths.max(initial=0))
        positions = np.arange(len(idx)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keep = positions < width
        out = np.zeros((len(rows), width), np.int64)
        out[row_ids[keep], positions[keep]] = idx[keep]
        if self._output_mode == "one_hot":
            padded = np.full((len(rows), width), -1, np.int64)
            padded[row_ids[keep], positions[keep]] = idx[keep]
            out = lookup._encode_indices(padded)
        return out[0] if scalar else out

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            shape = tuple(input_shape) + (1,) if len(input_shape) <= 1 else tuple(input_shape)
        else:  # (a (batch, 1) column of strings is a batch of strings, as Keras squeezes it, then split)
            strings = tuple(input_shape)[:-1] if len(input_shape) > 1 and input_shape[-1] == 1 else tuple(input_shape)
            shape = strings + (None,)
        return self._lookup_layer.compute_output_shape(shape)

    # -- config ---------------------------------------------------------------------------------

    def get_config(self):
        lookup = self._lookup_layer
        inner = lookup.get_config()
        return {**super().get_config(), "max_tokens": lookup.max_tokens,
                "standardize": _function_config(self._standardize), "split": _function_config(self._split),
                "ngrams": list(self._ngrams_arg) if isinstance(self._ngrams_arg, tuple) else self._ngrams_arg,
                "output_mode": self._output_mode, "output_sequence_length": self._output_sequence_length,
                "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False, "ragged": False,
                "vocabulary": inner["vocabulary"], "idf_weights": inner["idf_weights"], "encoding": self._encoding,
                "vocabulary_size": self.vocabulary_size() if lookup._tokens is not None else None,
                "has_input_vocabulary": self._has_input_vocabulary}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("standardize", "split"):
            value = config.get(key)
            if isinstance(value, dict):
                name = value.get("function")
                function = (custom_objects or {}).get(name)
                if not callable(function):
                    raise ValueError(f"TextVectorization layer '{config.get('name')}' uses the function {name!r} as "
                                     f"`{key}`, which fastnn does not save. Pass it: custom_objects={{{name!r}: "
                                     f"{name}}}")
                config[key] = function
        if isinstance(config.get("vocabulary"), str):
            raise ValueError("TextVectorization.from_config: a config names a vocabulary file; fastnn reads "
                             "vocabularies only from the config itself. Give the terms as a list.")
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)


# ---- CategoryEncoding, Hashing, Discretization --------------------------------------------------


def _output_dtype(who, dtype, default):
    """A data layer's ``dtype``: the dtype of its output (Keras's), and the float dtype for Layer."""
    if dtype is None:
        dtype = default
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64", "int32", "int64"):
        raise ValueError(f"{who}: `dtype` must be one of 'float32', 'float64', 'int32', 'int64'. "
                         f"Received: dtype={dtype!r}")
    return name, (name if name.startswith("float") else None)


@register_layer
class CategoryEncoding(_DataLayer):
    """Encodes integer features in ``[0, num_tokens)`` (Keras 3's ``keras.layers.CategoryEncoding``):
    ``"one_hot"`` (an axis of ``num_tokens`` appended, or replacing a last axis of 1),
    ``"multi_hot"`` (default: a 1 for each value present in a sample's last axis) or ``"count"``
    (how many times, weighted by ``count_weights`` when given). Values outside the range raise a
    ValueError, as Keras documents. It may be the first layer of a model (int64 input)."""

    input_dtype = "int64"

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        self._out_dtype, float_dtype = _output_dtype("CategoryEncoding", kwargs.pop("dtype", None), utils.floatx())
        super().__init__(dtype=float_dtype, **kwargs)
        who = "CategoryEncoding"
        if output_mode == "binary":
            output_mode = "multi_hot"
        _check_mode(who, output_mode, ("count", "one_hot", "multi_hot"))
        if num_tokens is None:
            raise ValueError(f"{who}: `num_tokens` must be set to use this layer. If the number of tokens is not "
                             "known beforehand, use the IntegerLookup layer instead.")
        if not _is_int(num_tokens) or num_tokens < 1:
            raise ValueError(f"{who}: `num_tokens` must be an integer >= 1. Received: num_tokens={num_tokens!r}")
        _no_sparse(who, sparse)
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None, training=False):
        x = _int_array(inputs, self._who)
        if x.size and (x.min() < 0 or x.max() >= self.num_tokens):
            bad = int(x.min()) if x.min() < 0 else int(x.max())
            raise ValueError(f"{self._who}: inputs must be integers in [0, num_tokens) = [0, {self.num_tokens}). "
                             f"Received the value {bad}")
        dtype = self._out_dtype
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(f"{self._who}: `count_weights` is not used when `output_mode` is not 'count'. "
                                 f"Received: output_mode={self.output_mode!r} and count_weights given")
            count_weights = np.asarray(count_weights, dtype=self.dtype)
            if count_weights.shape != x.shape:
                raise ValueError(f"{self._who}: `count_weights` must have the shape of the inputs {x.shape}. "
                                 f"Received: count_weights.shape={count_weights.shape}")
            dtype = self.dtype
        return _encode(x, self.output_mode, self.num_tokens, dtype, self._who, count_weights=count_weights)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and input_shape[-1] == 1 and len(input_shape) == 1:
            return input_shape + (self.num_tokens,)
        return _depth_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "dtype": self._out_dtype, "num_tokens": self.num_tokens,
                "output_mode": self.output_mode, "sparse": False}


@register_layer
class Hashing(_DataLayer):
    """Hashes strings or integers into ``num_bins`` bins (Keras 3's ``keras.layers.Hashing``), with
    TensorFlow's hashes exactly: FarmHash64 (``Fingerprint64``) by default, SipHash64 keyed by
    ``salt`` (one integer, used twice, or two). Integers are hashed as their decimal strings and
    floats are first truncated to integers, as Keras does. With ``mask_value``, that value goes to
    bin 0 and the rest to ``1 + hash % (num_bins - 1)``.

        >>> Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]])[:, 0]
        array([1, 0, 1, 1, 2])

    ``output_mode``: ``"int"`` (int64 by default; ``dtype`` "int32" or "int64"), ``"one_hot"``,
    ``"multi_hot"``, ``"count"`` (float32). It may be the first layer of a model on integer data.
    Hashing runs in Python integer arithmetic, once per distinct value of a batch."""

    @property
    def _elementwise(self):
        return self.output_mode == "int"

    input_dtype = "int64"

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        who = "Hashing"
        _check_mode(who, output_mode, ("int", "one_hot", "multi_hot", "count"))
        dtype = kwargs.pop("dtype", None)
        self._out_dtype, float_dtype = _output_dtype(who, dtype, "int64" if output_mode == "int" else utils.floatx())
        super().__init__(dtype=float_dtype, **kwargs)
        if not _is_int(num_bins) or num_bins <= 0:
            raise ValueError(f"{who}: the `num_bins` for Hashing cannot be None or non-positive values. "
                             f"Received: num_bins={num_bins!r}")
        if output_mode == "int" and self._out_dtype not in ("int32", "int64"):
            raise ValueError(f"{who}: when output_mode='int', `dtype` should be an integer type, 'int32' or 'int64'. "
                             f"Received: dtype={dtype!r}")
        _no_sparse(who, sparse)
        if not (mask_value is None or isinstance(mask_value, (str, bytes)) or _is_int(mask_value)):
            raise ValueError(f"{who}: `mask_value` must be None, a string or an integer. "
                             f"Received: mask_value={mask_value!r}")
        self.num_bins = int(num_bins)
        self.mask_value = mask_value.decode("utf-8") if isinstance(mask_value, bytes) else mask_value
        self.salt = _check_salt(who, salt)
        self.strong_hash = self.salt is not None
        self.output_mode = output_mode
        self.sparse = False

    def _values(self, inputs):
        a = inputs if isinstance(inputs, np.ndarray) else None
        if a is None:
            try:
                a = np.asarray(inputs)
            except ValueError as e:
                raise ValueError(f"{self._who}: inputs must be a rectangular list or array. Received a ragged "
                                 f"nested list ({e})") from None
        if a.dtype.kind in "USO":
            return _string_array(a, self._who)
        if a.dtype.kind == "f":
            if a.size and not np.all(np.isfinite(a)):
                raise ValueError(f"{self._who}: float inputs are cast to integers before hashing and must be finite")
            return a.astype(np.int64)  # truncation, as tf.cast
        if a.dtype.kind in "iub":
            return a
        raise TypeError(f"{self._who}: expected strings or integers. Received: an array of dtype {a.dtype}")

    def _hash_values_to_bins(self, values):
        bins, mask = self.num_bins, None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            if (values.dtype.kind == "U") != isinstance(self.mask_value, str):
                raise TypeError(f"{self._who}: mask_value={self.mask_value!r} cannot be compared with inputs of dtype "
                                f"{values.dtype}")
            mask = values == self.mask_value
        out = _hash_buckets(values, bins, self.salt)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return out

    def call(self, inputs, training=False):
        values = self._values(inputs)
        if self.output_mode == "one_hot" and values.ndim >= 1 and values.shape[-1] == 1:
            values = values.reshape(values.shape[:-1])
        return _encode(self._hash_values_to_bins(values), self.output_mode, self.num_bins, self._out_dtype, self._who)

    def compute_output_shape(self, input_shape):
        return _depth_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        return {**super().get_config(), "dtype": self._out_dtype, "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode, "sparse": False}


# TensorFlow's feature crossing (``tf.sparse.cross_hashed``, the op behind Keras's HashedCrossing):
# the fingerprint starts at the op's default hash key and takes in each feature in turn with
# ``FingerprintCat64``; a string feature enters as its FarmHash64 (``Fingerprint64``), an integer
# one as its own value (cast to int64, read as uint64); the bin is ``fingerprint % num_bins``
# (unsigned).
_CROSS_HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's _DEFAULT_HASH_KEY
_CAT_MUL = np.uint64(0xC6A4A7935BD1E995)
_SHIFT_47 = np.uint64(47)


def _fingerprint_cat64(fp1, fp2):
    """TensorFlow's ``FingerprintCat64`` on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        result = fp1 ^ _CAT_MUL
        t = fp2 * _CAT_MUL
        result = result ^ ((t ^ (t >> _SHIFT_47)) * _CAT_MUL)
        result = result * _CAT_MUL
        result = (result ^ (result >> _SHIFT_47)) * _CAT_MUL
        return result ^ (result >> _SHIFT_47)


def _cross_fingerprints(a):
    """The uint64 each element of the 1-D array ``a`` enters a cross with: FarmHash64 of a string,
    the int64 value of an integer."""
    if a.dtype.kind in "US":
        uniq, inverse = np.unique(a, return_inverse=True)
        hashed = np.fromiter((farmhash64(_value_bytes(u)) for u in uniq.tolist()), np.uint64, len(uniq))
        return hashed[inverse.reshape(-1)]
    return a.astype(np.int64).view(np.uint64)


def hashed_cross(columns, num_bins):
    """``tf.sparse.cross_hashed`` of dense 1-D columns of one value per row (strings or
    integers), as int64 bins in ``[0, num_bins)``."""
    fp = np.full(len(columns[0]), _CROSS_HASH_KEY, np.uint64)
    for column in columns:
        fp = _fingerprint_cat64(fp, _cross_fingerprints(column))
    return (fp % np.uint64(num_bins)).astype(np.int64)


@register_layer
class HashedCrossing(_DataLayer):
    """Crosses categorical features with the hashing trick (Keras 3's ``keras.layers.HashedCrossing``):
    ``hash(concatenate(features)) % num_bins`` with TensorFlow's ``tf.sparse.cross_hashed``
    bit for bit (FarmHash64 of strings, integers as they are, combined by ``FingerprintCat64``).

        >>> HashedCrossing(num_bins=5)((np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])))
        array([1, 4, 1, 1, 3])

    Called on a list or tuple of at least two inputs of the same shape, ``()``, ``(batch,)`` or
    ``(batch, 1)``, of strings or integers. ``output_mode``: ``"int"`` (int64 bins of the input's
    shape; ``dtype`` "int32" or "int64") or ``"one_hot"`` (float32, an axis of ``num_bins``
    replacing a last axis of 1). ``sparse=True`` is not supported (fastnn returns dense arrays)."""

    input_dtype = "int64"
    _multi_input = True

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        who = "HashedCrossing"
        _check_mode(who, output_mode, ("int", "one_hot"))
        self._out_dtype, float_dtype = _output_dtype(who, dtype, "int64" if output_mode == "int" else utils.floatx())
        super().__init__(name=name, dtype=float_dtype, **kwargs)
        if not _is_int(num_bins) or num_bins <= 0:
            raise ValueError(f"{who}: `num_bins` must be a positive integer. Received: num_bins={num_bins!r}")
        if output_mode == "int" and not self._out_dtype.startswith("int"):
            raise ValueError(f"{who}: when output_mode='int', `dtype` should be an integer type, 'int32' or 'int64'. "
                             f"Received: dtype={dtype!r}")
        _no_sparse(who, sparse)
        self.num_bins = int(num_bins)
        self.output_mode = output_mode
        self.sparse = False

    def _check_at_least_two_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"`HashedCrossing` should be called on a list or tuple of inputs. Received: "
                             f"inputs={inputs!r}"[:400])
        if len(inputs) < 2:
            raise ValueError(f"`HashedCrossing` should be called on at least two inputs. Received: "
                             f"inputs={inputs!r}"[:400])

    def __call__(self, inputs, training=False, mask=None, **kwargs):
        self._check_at_least_two_inputs(inputs)
        return super().__call__(inputs, training=training, mask=mask, **kwargs)

    def _columns(self, inputs):
        arrays = []
        for x in inputs:
            try:
                a = x if isinstance(x, np.ndarray) else np.asarray(x)
            except ValueError as e:
                raise ValueError(f"{self._who}: each input must be a rectangular array ({e})") from None
            arrays.append(a)
        first = arrays[0].shape
        if len(first) > 2 or (len(first) == 2 and first[-1] != 1):
            raise ValueError("All `HashedCrossing` inputs should have shape `()`, `(batch_size)` or `(batch_size, 1)`. "
                             f"Received: inputs of shapes {[a.shape for a in arrays]}")
        if not all(a.shape == first for a in arrays[1:]):
            raise ValueError(f"All `HashedCrossing` inputs should have equal shape. Received: inputs of shapes "
                             f"{[a.shape for a in arrays]}")
        columns = []
        for a in arrays:
            if a.dtype.kind == "O":
                a = _string_array(a, self._who)
            if a.dtype.kind == "S":
                a = _string_array(a, self._who)
            if a.dtype.kind not in "iuU":
                raise ValueError(f"All `HashedCrossing` inputs should have an integer or string dtype. Received: "
                                 f"inputs of dtypes {[str(b.dtype) for b in arrays]}")
            columns.append(a.reshape(-1))
        return first, columns

    def call(self, inputs, training=False):
        self._check_at_least_two_inputs(inputs)
        shape, columns = self._columns(inputs)
        bins = hashed_cross(columns, self.num_bins).reshape(shape)
        if self.output_mode == "int":
            return bins.astype(self._out_dtype)
        out = _encode(bins.reshape(-1), "one_hot", self.num_bins, self._out_dtype, self._who)
        return out[0] if len(shape) == 0 else out

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if isinstance(input_shape, (list, tuple)) and input_shape and \
            all(isinstance(s, (list, tuple)) for s in input_shape) else None
        if shapes is None or len(shapes) < 2:
            raise ValueError(f"Expected as input a list/tuple of at least 2 tensors. Received input_shape={input_shape}")
        first = shapes[0]
        if len(first) > 2 or (len(first) == 2 and first[-1] != 1):
            raise ValueError("All `HashedCrossing` inputs should have shape `()`, `(batch_size)` or `(batch_size, 1)`. "
                             f"Received: input_shape={input_shape}")
        if any(len(s) != len(first) or (s[-1:] != first[-1:]) for s in shapes[1:]):
            raise ValueError(f"Expected the input tensors to have identical shapes. Received input_shape={input_shape}")
        if self.output_mode == "int":
            return first
        if not first:
            return (self.num_bins,)
        return (first[0], self.num_bins)

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode, "sparse": False, "name": self.name,
                "dtype": self._out_dtype, "trainable": self.trainable}


def _summarize(values, epsilon):
    """Keras's quantile summary of a batch: (2, k) values and weights, every step-th sorted value."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(np.size(values) / (1.0 / epsilon), 1)
    kept = values[int(step - 1)::int(step)]
    return np.stack([kept, np.ones_like(kept) * step])


def _compress(summary, epsilon):
    """Interpolate a summary down to 1/epsilon bins (Keras's compress_summary)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    cum_percents = cum / cum[-1]
    new_bins = np.interp(percents, cum_percents, summary[0])
    cum = np.interp(percents, cum_percents, cum)
    new_weights = cum - np.concatenate((np.array([0]), cum[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


@register_layer
class Discretization(_DataLayer):
    """Buckets numbers by ranges (Keras 3's ``keras.layers.Discretization``): with
    ``bin_boundaries=[0., 1., 2.]`` the bins are (-inf, 0), [0, 1), [1, 2), [2, inf) and the output
    is each value's bin index (int32, as Keras 3), or its ``"one_hot"``, ``"multi_hot"`` or
    ``"count"`` encoding (float32). ``num_bins`` with ``adapt(data)`` learns the boundaries from
    approximate quantiles with Keras's own summary algorithm (same boundaries, given the same
    batches; ``epsilon`` its tolerance). It may be the first layer of a model (float input)."""

    @property
    def _elementwise(self):
        return self.output_mode == "int"

    _int_output_dtype = "int32"

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, dtype=None,
                 name=None, **kwargs):
        super().__init__(dtype=dtype, name=name, **kwargs)
        who = "Discretization"
        _no_sparse(who, sparse)
        _check_mode(who, output_mode, ("int", "one_hot", "multi_hot", "count"))
        if num_bins is not None and (not _is_int(num_bins) or num_bins < 1):
            raise ValueError(f"{who}: `num_bins` must be a positive integer. Received: num_bins={num_bins!r}")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"{who}: both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"num_bins={num_bins!r} and bin_boundaries={bin_boundaries!r}")
        if num_bins is None and bin_boundaries is None:
            raise ValueError(f"{who}: you need to set either `num_bins` or `bin_boundaries`.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) or not 0 < epsilon <= 1:
            raise ValueError(f"{who}: `epsilon` must be a number in (0, 1]. Received: epsilon={epsilon!r}")
        self.bin_boundaries = None if bin_boundaries is None else self._check_boundaries(bin_boundaries)
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False
        self.summary = None if self.bin_boundaries else np.array([[], []], dtype="float32")

    @staticmethod
    def _check_boundaries(bin_boundaries, who="Discretization"):
        try:
            b = np.asarray(bin_boundaries, dtype=np.float64)
        except (TypeError, ValueError):
            b = None
        if b is None or b.ndim != 1 or not np.all(np.isfinite(b)) or np.any(np.diff(b) < 0):
            raise ValueError(f"{who}: `bin_boundaries` must be a sorted 1-D list of finite numbers. "
                             f"Received: bin_boundaries={bin_boundaries!r}"[:400])
        return [float(v) for v in b]

    def adapt(self, data, batch_size=None, steps=None):
        """Learn ``num_bins - 1`` boundaries from ``data`` (an array: all of it; a list or other
        iterable: each element a batch, as Keras iterates them)."""
        if self.num_bins is None:
            raise ValueError(f"{self._who}: cannot adapt a Discretization layer that has been initialized with "
                             "`bin_boundaries`, use `num_bins` instead.")
        batches = _batches(data, steps, self._who, whole=(np.ndarray,))
        self.reset_state()
        for batch in ([data] if batches is None else batches):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        try:
            values = np.array(data).astype("float32")
        except (TypeError, ValueError):
            raise TypeError(f"{self._who}.adapt: expected numbers. Received: {type(data).__name__}") from None
        merged = np.concatenate((self.summary, _summarize(values, self.epsilon)), axis=1)
        self.summary = _compress(np.take(merged, np.argsort(merged[0]), axis=1), self.epsilon)

    def finalize_state(self):
        if self.num_bins is None:
            return
        if self.summary.shape[1] == 0:
            raise ValueError(f"{self._who}.adapt: the data holds no values to compute bin boundaries from")
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is not None:
            self.summary = np.array([[], []], dtype="float32")

    def call(self, inputs, training=False):
        if self.bin_boundaries is None:
            raise ValueError(f"{self._who}: you need to either pass the `bin_boundaries` argument at construction "
                             "time or call `adapt(dataset)` before you can start using the Discretization layer.")
        try:
            x = np.asarray(inputs)
        except ValueError as e:
            raise ValueError(f"{self._who}: inputs must be a rectangular list or array of numbers ({e})") from None
        if x.dtype.kind not in "iubf":
            raise TypeError(f"{self._who}: expected numbers. Received: an array of dtype {x.dtype}")
        if x.dtype.kind == "f":
            x = x.astype(np.float32, copy=False)
        indices = np.digitize(x, self.bin_boundaries).astype(np.int32) if self.bin_boundaries \
            else np.zeros(x.shape, np.int32)
        dtype = "int32" if self.output_mode == "int" else self.dtype
        return _encode(indices, self.output_mode, len(self.bin_boundaries) + 1, dtype, self._who)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            return _depth_shape(input_shape, "one_hot", depth)
        if len(input_shape) >= 2:
            return (input_shape[0],) + input_shape[2:] + (depth,)
        return (depth,)

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": False}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = cls._check_boundaries(config.pop("bin_boundaries"))  # adapted: both are set
            layer = cls(**config)
            layer.bin_boundaries = boundaries
            return layer
        return cls(**config)


__all__ = ["StringLookup", "IntegerLookup", "TextVectorization", "CategoryEncoding", "Hashing", "HashedCrossing",
           "Discretization"]
