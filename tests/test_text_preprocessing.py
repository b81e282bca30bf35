"""Keras 3's lookup and text preprocessing layers (StringLookup, IntegerLookup, TextVectorization,
CategoryEncoding, Hashing, Discretization) and `utils.timeseries_dataset_from_array`.

Expected outputs are Keras's documented examples (its docstrings' worked outputs), FarmHash's and
SipHash's reference vectors, and small cases computed by hand from Keras's rules (vocabulary by
count, ties by token, both descending; idf = log(1 + documents / (1 + document frequency)))."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastnn
from fastnn.layers import (CategoryEncoding, Dense, Discretization, Embedding, Flatten, GlobalAveragePooling1D,
                           Hashing, Input, IntegerLookup, StringLookup, TextVectorization, registered_layers)
from fastnn.layers.lookup import farmhash64, siphash64
from fastnn.models import Model, Sequential, load_model
from fastnn.utils import timeseries_dataset_from_array

VOCAB = ["a", "b", "c", "d"]
IVOCAB = [12, 36, 1138, 42]


def eq(got, want, dtype=None):
    got = np.asarray(got)
    np.testing.assert_array_equal(got, np.asarray(want))
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), got.dtype


def close(got, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


# ---- hashes ------------------------------------------------------------------------------------


def _farmhash_test_data(n):
    """The byte stream of FarmHash's self-test (farmhash.cc, Setup())."""
    m, k0 = (1 << 64) - 1, 0xC3A5C85C97CB3127
    a, b, out = 9, 777, bytearray(n)
    for i in range(n):
        a = (a + b) & m
        b = (b + a) & m
        a = ((a ^ (a >> 41)) * k0) & m
        b = (((b ^ (b >> 41)) * k0) + i) & m
        out[i] = (b >> 37) & 0xFF
    return bytes(out)


def test_farmhash64_matches_farmhash_self_test_vectors():
    # farmhashnaTest's expected Hash64 of data[i*i : i*i + i] (every code path: 0-16, 17-32, 33-64, > 64 bytes)
    expected = {3: 0xEF923A7A1AF78EAB, 7: 0x1B5A063FB4C7F9F1, 13: 0x851FFF285561DCA0, 20: 0x4182832B52D63735,
                31: 0x55BDB0E71E3EDEBD, 45: 0xF5A57EADC6C581D, 64: 0xDEF74BF4C9F1BC1B, 65: 0x3CCEAB392BC39B3F,
                100: 0x5AD36F677825CE0, 200: 0x40F32EB90E5CAA01}
    data = _farmhash_test_data(200 * 200 + 200)
    for i, h in expected.items():
        assert farmhash64(data[i * i:i * i + i]) == h, i
    assert farmhash64(b"") == 0x9AE16A3B2F90404F


def test_siphash64_matches_reference_vectors():
    key = bytes(range(16))
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    assert siphash64(k0, k1, b"") == 0x726FDB47DD0E0E31
    assert siphash64(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5


# ---- StringLookup ------------------------------------------------------------------------------


def test_string_lookup_keras_examples():
    data = [["a", "c", "d"], ["d", "z", "b"]]
    eq(StringLookup(vocabulary=VOCAB)(data), [[1, 3, 4], [4, 0, 2]], "int64")
    layer = StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    eq(layer(data), [[5, 3, 1], [1, 2, 4]])
    # two OOV indices: FarmHash64 of the string, as tf.strings.to_hash_bucket_fast
    eq(StringLookup(vocabulary=VOCAB, num_oov_indices=2)([["a", "c", "d"], ["m", "z", "b"]]), [[2, 4, 5], [0, 1, 3]])
    eq(StringLookup(vocabulary=VOCAB, output_mode="one_hot")(["a", "b", "c", "d", "z"]),
       [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]], "float32")
    d2 = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    eq(StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(d2), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    eq(StringLookup(vocabulary=VOCAB, output_mode="count")(d2), [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    close(layer(d2), [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]])
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(["[UNK]"] + VOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    close(layer(d2), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]])
    inverse = StringLookup(vocabulary=VOCAB, invert=True)
    out = inverse([[1, 3, 4], [4, 0, 2]])
    assert out.dtype == object
    eq(out, np.array([[b"a", b"c", b"d"], [b"d", b"[UNK]", b"b"]], dtype=object))


def test_string_lookup_invert_round_trip_and_mask():
    forward = StringLookup(vocabulary=VOCAB, mask_token="[MASK]")
    assert forward.get_vocabulary() == ["[MASK]", "[UNK]", "a", "b", "c", "d"]
    data = np.array([["a", "[MASK]", "d"], ["zz", "b", "c"]])
    idx = forward(data)
    eq(idx, [[2, 0, 5], [1, 3, 4]])
    back = StringLookup(vocabulary=forward.get_vocabulary(), mask_token="[MASK]", invert=True)
    eq(back(idx), np.array([[b"a", b"[MASK]", b"d"], [b"[UNK]", b"b", b"c"]], dtype=object))
    eq(back([7, -1]), np.array([b"[UNK]", b"[UNK]"], dtype=object))  # out of range: the OOV token
    # in the encodings the mask is not in the vocabulary and is dropped
    hot = StringLookup(vocabulary=VOCAB, mask_token="[MASK]", output_mode="multi_hot")
    assert hot.vocabulary_size() == 5
    eq(hot([["a", "[MASK]"], ["[MASK]", "[MASK]"]]), [[0, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    # scalars, bytes and object arrays
    assert forward("c") == 4 and forward("c").shape == ()
    eq(forward(np.array([b"a", b"d"])), [2, 5])
    eq(forward(np.array(["a", b"b"], dtype=object)), [2, 3])


def test_string_lookup_adapt_ties_max_tokens_and_batches():
    data = ["b", "a", "c", "a", "b", "e", "[UNK]", "[UNK]", "[UNK]"]
    layer = StringLookup()
    layer.adapt(data)  # a and b twice (tie: b first, descending), c and e once (e first); the OOV token dropped
    assert layer.get_vocabulary() == ["[UNK]", "b", "a", "e", "c"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["b", "a", "e", "c"]
    assert layer.vocabulary_size() == 5
    capped = StringLookup(max_tokens=3, mask_token="")
    capped.adapt(data + ["", "", "", ""])  # the mask token is not counted either; 3 = mask + OOV + 1 term
    assert capped.get_vocabulary() == ["", "[UNK]", "b"]
    gen = StringLookup()
    gen.adapt(np.array(b) for b in (["x", "y"], ["y"], ["z", "y", "x"]))  # an iterable of batches
    assert gen.get_vocabulary() == ["[UNK]", "y", "x", "z"]
    steps = StringLookup()
    steps.adapt(iter([["x"], ["y"], ["y"]]), steps=2)
    assert steps.get_vocabulary() == ["[UNK]", "y", "x"]
    ragged = StringLookup()
    ragged.adapt([["p", "q", "q"], ["q"]])
    assert ragged.get_vocabulary() == ["[UNK]", "q", "p"]
    # characters order by code point (TensorFlow sorts UTF-8 bytes: the same order)
    uni = StringLookup()
    uni.adapt(["é", "z", "a", "Z"])
    assert uni.get_vocabulary() == ["[UNK]", "é", "z", "a", "Z"]


def test_string_lookup_tf_idf_adapt():
    layer = StringLookup(output_mode="tf_idf")
    layer.adapt([["a", "a", "b"], ["b", "c", "c"], ["c", "d", "d"]])  # each row a document
    assert layer.get_vocabulary() == ["[UNK]", "c", "d", "b", "a"]  # c 3, then a/b/d 2 (descending)
    idf = {"d": np.log(1 + 3 / 2), "c": np.log(1 + 3 / 3), "b": np.log(1 + 3 / 3), "a": np.log(1 + 3 / 2)}
    unk = np.mean(list(idf.values()))
    close(layer([["a", "a", "zz"]]), [[unk, 0, 0, 0, 2 * idf["a"]]])


# ---- IntegerLookup -----------------------------------------------------------------------------


def test_integer_lookup_keras_examples():
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    eq(IntegerLookup(vocabulary=IVOCAB)(data), [[1, 3, 4], [4, 0, 2]], "int64")
    layer = IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    eq(layer(data), [[5, 2, 1], [1, 3, 4]])
    eq(IntegerLookup(vocabulary=IVOCAB, num_oov_indices=2)(np.array([[12, 1138, 42], [37, 1000, 36]])),
       [[2, 4, 5], [1, 0, 3]])
    oov = np.array([100, 300, 700, 1100, 1700, 2000])
    eq(IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="floormod")(oov), [0] * 6)
    eq(IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")(oov), [3, 3, 2, 2, 0, 1])
    eq(IntegerLookup(vocabulary=IVOCAB, output_mode="one_hot")(np.array([12, 36, 1138, 42, 7])),
       np.eye(5)[[1, 2, 3, 4, 0]])
    d2 = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
    eq(IntegerLookup(vocabulary=IVOCAB, output_mode="multi_hot")(d2), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    eq(IntegerLookup(vocabulary=IVOCAB, output_mode="count")(d2), [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    close(IntegerLookup(output_mode="tf_idf", vocabulary=IVOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])(d2),
          [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]])
    close(IntegerLookup(output_mode="tf_idf", vocabulary=[-1] + IVOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])(d2),
          [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]])
    eq(IntegerLookup(vocabulary=IVOCAB, invert=True)(np.array([[1, 3, 4], [4, 0, 2]])), [[12, 1138, 42], [42, -1, 36]])
    forward = IntegerLookup(vocabulary=IVOCAB)
    inverse = IntegerLookup(vocabulary=forward.get_vocabulary(), invert=True)
    eq(inverse(forward(data)), [[12, 1138, 42], [42, -1, 36]])


def test_integer_lookup_mask_and_negative_floormod():
    layer = IntegerLookup(vocabulary=[5, 6], mask_token=0, num_oov_indices=3)
    assert layer.get_vocabulary() == [0, -1, -1, -1, 5, 6]
    eq(layer([[0, 5, 7, -7, 6]]), [[0, 4, 1 + 7 % 3, 1 + (-7) % 3, 5]])  # floormod: -7 -> 2
    adapted = IntegerLookup(mask_token=0)
    adapted.adapt(np.array([0, 0, 0, 4, 4, 9, -1]))  # mask and OOV tokens are not counted
    assert adapted.get_vocabulary() == [0, -1, 4, 9]
    eq(IntegerLookup(vocabulary=[1, 2])(np.array([2.0, 1.0])), [2, 1])  # whole floats are taken


# ---- TextVectorization -------------------------------------------------------------------------


def test_text_vectorization_keras_examples():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    eq(layer([["foo qux bar"], ["qux baz"]]), [[4, 1, 3, 0], [1, 2, 0, 0]], "int64")
    layer = TextVectorization(max_tokens=5000, output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    assert layer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]


def test_text_vectorization_standardize_split_and_padding():
    vec = TextVectorization()
    vec.adapt(["The cat, the HAT!", "a cat"])  # the 2, cat 2, hat 1, a 1
    assert vec.get_vocabulary() == ["", "[UNK]", "the", "cat", "hat", "a"]
    out = vec(["the  cat\tsat", "", "  HAT...  "])  # runs of whitespace, empty strings, padding with 0
    eq(out, [[2, 3, 1], [0, 0, 0], [4, 0, 0]], "int64")
    eq(vec("a cat"), [5, 3])  # a scalar string gives one sequence
    cut = TextVectorization(vocabulary=["x", "y"], output_sequence_length=2)
    eq(cut(["x y x y", "y"]), [[2, 3], [3, 0]])
    # lowercasing is ASCII only and only the 32 ASCII punctuation marks go, as TensorFlow does
    lower = TextVectorization(standardize="lower", split=None, vocabulary=["Àb-c"])
    eq(lower([["ÀB-C"], ["àb-c"]]), [[2], [1]])
    strip = TextVectorization(standardize="strip_punctuation", split=None, vocabulary=["AbC«»"])
    eq(strip([["A!b?C«»"]]), [[2]])
    raw = TextVectorization(standardize=None, vocabulary=["Hi!"])
    eq(raw(["Hi! hi!"]), [[2, 1]])
    chars = TextVectorization(split="character", standardize=None, output_mode="count")
    chars.adapt(["abca", "bb"])  # b 3, a 2, c 1
    assert chars.get_vocabulary() == ["[UNK]", "b", "a", "c"]
    eq(chars(["aab", "zz"]), [[0, 1, 2, 0], [2, 0, 0, 0]], "float32")
    whole = TextVectorization(split=None, vocabulary=["hello world", "x"])
    eq(whole(["Hello, World!", "y"]), [2, 1])  # split=None: each string is one token
    eq(whole([["x"], ["hello world"]]), [[3], [2]])


def test_text_vectorization_ngrams_and_modes():
    vec = TextVectorization(ngrams=2)
    vec.adapt(["The cat sat.", "the CAT!"])
    # the 2, cat 2, "the cat" 2, sat 1, "cat sat" 1: ties by token, descending
    assert vec.get_vocabulary() == ["", "[UNK]", "the cat", "the", "cat", "sat", "cat sat"]
    eq(vec(["the cat", "sat on"]), [[3, 4, 2], [5, 1, 1]])  # per string: the 1-grams, then the 2-grams
    only2 = TextVectorization(ngrams=(2,), vocabulary=["a b"])
    eq(only2(["a b c", "a"]), [[2, 1], [0, 0]])
    multi = TextVectorization(output_mode="multi_hot", max_tokens=5, pad_to_max_tokens=True)
    multi.adapt(["x y", "y"])
    eq(multi(["y y q"]), [[1, 1, 0, 0, 0]], "float32")
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(["a a b", "b c", "c c c d"])  # c 4, b 2, a 2, d 1
    assert tfidf.get_vocabulary() == ["[UNK]", "c", "b", "a", "d"]
    idf = np.log(1 + 3 / (1 + np.array([2, 2, 1, 1])))
    close(tfidf(["a b z"]), [[idf.mean(), 0, idf[1], idf[2], 0]])


def upper(strings):
    return np.char.upper(strings)


def dash_split(strings):
    return [s.split("-") for s in strings]


def test_text_vectorization_callables_and_config():
    vec = TextVectorization(standardize=upper, split=dash_split, vocabulary=["A", "B"])
    eq(vec(["a-b-c"]), [[2, 3, 1]])
    config = vec.get_config()
    assert config["standardize"] == {"function": "upper"} and config["split"] == {"function": "dash_split"}
    again = TextVectorization.from_config(config, custom_objects={"upper": upper, "dash_split": dash_split})
    eq(again(["b-a"]), [[3, 2]])
    with pytest.raises(ValueError, match="custom_objects"):
        TextVectorization.from_config(config)
    with pytest.raises(ValueError, match="named function"):
        TextVectorization(standardize=lambda s: s).get_config()


def test_text_vectorization_and_lookup_config_round_trips():
    adapted = TextVectorization(max_tokens=10, output_sequence_length=3)
    adapted.adapt(["b a b", "c"])
    config = adapted.get_config()
    assert config["vocabulary"] == ["", "[UNK]", "b", "c", "a"]  # the learned vocabulary travels in the config
    clone = TextVectorization.from_config(config)
    assert clone.get_config() == config
    eq(clone(["a b z"]), adapted(["a b z"]))
    clone.adapt(["q"])  # still adaptable, as the original
    assert clone.get_vocabulary() == ["", "[UNK]", "q"]
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(["x y", "y"])
    clone = TextVectorization.from_config(tfidf.get_config())
    close(clone(["x y y q"]), tfidf(["x y y q"]))
    for layer in (StringLookup(vocabulary=VOCAB, mask_token="", num_oov_indices=2, salt=7),
                  IntegerLookup(vocabulary=IVOCAB, invert=True, oov_token=-9),
                  IntegerLookup(output_mode="count", oov_method="farmhash", salt=[1, 2], num_oov_indices=3)):
        if layer.vocabulary_size() == layer._token_start_index():
            layer.adapt(np.array([[5, 5, 6], [7, 5, 5]]))
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        sample = np.array([["a", "zz", "", "q"]]) if isinstance(layer, StringLookup) else np.array([[12, 1, 5, 6]])
        eq(clone(sample), layer(sample))
    given = StringLookup(vocabulary=VOCAB)
    assert given.get_config()["vocabulary"] == VOCAB  # as given, as Keras
    with pytest.raises(ValueError, match="vocabulary file"):
        StringLookup.from_config({**given.get_config(), "vocabulary": "/etc/passwd"})
    for name in ("StringLookup", "IntegerLookup", "TextVectorization", "CategoryEncoding", "Hashing", "Discretization"):
        assert name in registered_layers()


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("earth\nwind\n\n", encoding="utf-8")
    layer = StringLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "earth", "wind"]
    assert layer.get_config()["vocabulary"] == ["[UNK]", "earth", "wind"]
    (tmp_path / "ints.txt").write_text("7\n3\n")
    eq(IntegerLookup(vocabulary=os.fspath(tmp_path / "ints.txt"))([3, 7, 1]), [2, 1, 0])


# ---- CategoryEncoding, Hashing, Discretization -------------------------------------------------


def test_category_encoding_keras_examples():
    eq(CategoryEncoding(num_tokens=4, output_mode="one_hot")([3, 2, 0, 1]), np.eye(4)[[3, 2, 0, 1]], "float32")
    data = [[0, 1], [0, 0], [1, 2], [3, 1]]
    eq(CategoryEncoding(num_tokens=4, output_mode="multi_hot")(data),
       [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    eq(CategoryEncoding(num_tokens=4)(data), CategoryEncoding(num_tokens=4, output_mode="binary")(data))
    eq(CategoryEncoding(num_tokens=4, output_mode="count")([[0, 0, 3], [2, 2, 2]]), [[2, 0, 0, 1], [0, 0, 3, 0]])
    weights = np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]])
    close(CategoryEncoding(num_tokens=4, output_mode="count")(data, count_weights=weights),
          [[0.1, 0.2, 0, 0], [0.2, 0, 0, 0], [0, 0.2, 0.3, 0], [0, 0.2, 0, 0.4]])
    eq(CategoryEncoding(num_tokens=3, output_mode="one_hot")([[1], [2]]), [[0, 1, 0], [0, 0, 1]])
    eq(CategoryEncoding(num_tokens=3, output_mode="one_hot", dtype="int64")([1]), [[0, 1, 0]], "int64")
    layer = CategoryEncoding(num_tokens=6, output_mode="count")
    assert CategoryEncoding.from_config(layer.get_config()).get_config() == layer.get_config()


def test_hashing_keras_examples():
    inp = [["A"], ["B"], ["C"], ["D"], ["E"]]
    eq(Hashing(num_bins=3)(inp), [[1], [0], [1], [1], [2]], "int64")  # FarmHash64
    eq(Hashing(num_bins=3, mask_value="")([["A"], ["B"], [""], ["C"], ["D"]]), [[1], [1], [0], [2], [2]])
    eq(Hashing(num_bins=3, salt=[133, 137])(inp), [[1], [2], [1], [0], [2]])  # SipHash64
    eq(Hashing(num_bins=3, salt=133)(inp), [[0], [0], [2], [1], [0]])


def test_hashing_integers_modes_and_config():
    layer = Hashing(num_bins=7)
    ints = np.array([[100, -3], [7, 123456789012]])
    eq(layer(ints), layer(np.array([["100", "-3"], ["7", "123456789012"]])))  # integers hash as decimal strings
    eq(layer(np.array([[100.9, -3.7]])), layer(np.array([[100, -3]])))  # floats truncate first
    eq(Hashing(num_bins=5, mask_value=0)([[0, 4]])[0, 0], 0)
    hot = Hashing(num_bins=4, output_mode="one_hot")([["A"], ["E"]])
    eq(hot, np.eye(4)[[Hashing(num_bins=4)([["A"]])[0, 0], Hashing(num_bins=4)([["E"]])[0, 0]]], "float32")
    count = Hashing(num_bins=3, output_mode="count")([["A", "B", "C", "E"]])
    eq(count, [[1, 2, 1]])
    assert Hashing(num_bins=3, dtype="int32")([["A"]]).dtype == np.int32
    config = Hashing(num_bins=3, salt=133, mask_value="").get_config()
    assert config["salt"] == [133, 133] and config["dtype"] == "int64"
    assert Hashing.from_config(config).get_config() == config


def test_discretization_keras_examples_and_modes():
    x = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]])
    eq(Discretization(bin_boundaries=[0., 1., 2.])(x), [[0, 2, 3, 1], [1, 3, 2, 1]], "int32")
    layer = Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(x)
    eq(layer(x), [[0, 2, 3, 2], [1, 3, 3, 1]])
    assert layer.bin_boundaries == pytest.approx([0.0, 0.5, 1.3])
    clone = Discretization.from_config(layer.get_config())  # both num_bins and boundaries in an adapted config
    assert clone.bin_boundaries == layer.bin_boundaries and clone.num_bins == 4
    eq(Discretization(bin_boundaries=[0., 1.], output_mode="one_hot")([[-1.], [1.]]), [[1, 0, 0], [0, 0, 1]], "float32")
    eq(Discretization(bin_boundaries=[0., 1.], output_mode="multi_hot")([[-1., 5.], [0.5, 0.7]]),
       [[1, 0, 1], [0, 1, 0]])
    eq(Discretization(bin_boundaries=[0., 1.], output_mode="count")([[-1., 5., 6.]]), [[1, 0, 2]])
    big = Discretization(num_bins=4)
    big.adapt(np.arange(1000.0))  # quantiles through Keras's compressing summary
    eq(big(np.array([[0.0, 300.0, 600.0, 999.0]])), [[0, 1, 2, 3]])


# ---- inside models -----------------------------------------------------------------------------


def test_text_vectorization_then_embedding_model_trains():
    fastnn.utils.set_random_seed(3)
    positive = ["good great fun", "great movie", "fun and good", "loved it great", "good good film"]
    negative = ["bad awful boring", "boring movie", "awful and bad", "hated it bad", "bad bad film"]
    texts = positive * 4 + negative * 4
    labels = np.array([1.0] * 20 + [0.0] * 20, dtype=np.float32)
    vec = TextVectorization(max_tokens=30, output_sequence_length=4)
    vec.adapt(texts)
    x = vec(texts)
    assert x.dtype == np.int64 and x.shape == (40, 4)
    model = Sequential([Input(shape=(4,), dtype="int64"), Embedding(vec.vocabulary_size(), 8),
                        GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, labels, epochs=40, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.1
    assert model.evaluate(vec(["great fun", "awful boring"]), np.array([1.0, 0.0]), verbose=0)[1] == 1.0


def test_numeric_preprocessing_layers_first_in_models(tmp_path):
    fastnn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.choice([3, 7, 11, 42, 99], size=(48, 5))
    y = (x == 42).any(axis=1).astype(np.float32)
    lookup = IntegerLookup(vocabulary=[3, 7, 11, 42])
    model = Sequential([lookup, Embedding(lookup.vocabulary_size(), 4), GlobalAveragePooling1D(),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "lookup.safetensors"
    model.save(path)
    close(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    ints = Input(shape=(3,), dtype="int64")
    floats = Input(shape=(2,))
    merged = fastnn.layers.concatenate([CategoryEncoding(num_tokens=6)(ints),
                                        Hashing(num_bins=5, output_mode="multi_hot")(ints),
                                        Flatten()(Discretization(bin_boundaries=[0.0], output_mode="one_hot")(floats))])
    assert merged.shape == (None, 15)
    model = Model([ints, floats], Dense(1)(merged))
    model.compile(loss="mse", optimizer="sgd")
    xi, xf = rng.integers(0, 6, (32, 3)), rng.standard_normal((32, 2))
    model.fit([xi, xf], np.ones(32), epochs=1, verbose=0)
    path = tmp_path / "numeric.safetensors"
    model.save(path)
    close(load_model(path).predict([xi, xf], verbose=0), model.predict([xi, xf], verbose=0))


def test_preprocessing_layers_have_no_gradient_and_strings_only_from_string_inputs():
    inputs = Input(shape=(4,))
    hidden = Discretization(bin_boundaries=[0.0], output_mode="multi_hot")(Dense(4)(inputs))
    model = Model(inputs, Dense(1)(hidden))
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="preprocessing layer.*no gradient"):
        model.fit(np.random.default_rng(0).standard_normal((8, 4)), np.ones(8), verbose=0)
    with pytest.raises(TypeError, match=r"takes the strings of an Input\(dtype='string'\).*'float32'"):
        StringLookup(vocabulary=VOCAB)(Input(shape=(1,)))
    with pytest.raises(TypeError, match=r"takes the strings of an Input\(dtype='string'\)"):
        TextVectorization()(Input(shape=(1,)))
    with pytest.raises(TypeError, match="cannot output strings"):  # strings out: no place in a model
        StringLookup(vocabulary=VOCAB, invert=True)(Input(shape=(1,), dtype="string"))
    with pytest.raises(ValueError, match="set the vocabulary"):
        StringLookup(output_mode="multi_hot").compute_output_shape((None, 3))


def test_end_to_end_model_on_raw_strings(tmp_path):
    # Keras's "text classification from scratch" end: Input(shape=(1,), dtype="string") -> the
    # vectorizer -> the trained model, which then evaluates and predicts on raw strings
    fastnn.set_random_seed(0)
    texts = np.array(["the cat sat", "a dog ran", "the cat ran fast", "dogs bark loud", "cats purr", "a dog sat"] * 4)
    labels = np.array([1, 0, 1, 0, 1, 0] * 4)
    vectorize = TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(texts)
    core = Sequential([Input(shape=(4,), dtype="int64"), Embedding(20, 8), GlobalAveragePooling1D(),
                       Dense(1, activation="sigmoid")])
    raw = Input(shape=(1,), dtype="string")
    model = Model(raw, core(vectorize(raw)))
    model.compile(optimizer=fastnn.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(texts[:, None], labels, epochs=20, batch_size=8, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0], history["loss"]
    queries = np.array([["the cat"], ["a dog"]])
    np.testing.assert_allclose(model.predict(queries, verbose=0), core.predict(vectorize(queries), verbose=0),
                               rtol=1e-6)
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").predict(queries, verbose=0),
                                  model.predict(queries, verbose=0))
    with pytest.raises(TypeError, match=r"takes strings \(dtype 'string'\). Received: x.dtype=float64"):
        model.predict(np.zeros((2, 1)), verbose=0)
    with pytest.raises(TypeError, match="strings go to an Input"):
        core.predict(queries, verbose=0)


# ---- bad inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("make, match", [
    (lambda: StringLookup(output_mode="onehot"), r"StringLookup.*`output_mode`.*Received: output_mode='onehot'"),
    (lambda: StringLookup(num_oov_indices=-1),
     r"StringLookup: `num_oov_indices` must be an integer greater than or equal to 0. Received: num_oov_indices=-1"),
    (lambda: StringLookup(max_tokens=1), r"`max_tokens`.*greater than 1.*Received: max_tokens=1"),
    (lambda: StringLookup(pad_to_max_tokens=True), r"pad_to_max_tokens.*`max_tokens`"),
    (lambda: StringLookup(sparse=True), r"StringLookup.*sparse=True.*not supported"),
    (lambda: StringLookup(invert=True, output_mode="count"), r"'int' when `invert`"),
    (lambda: StringLookup(vocabulary=["a", "b", "a"]), r"repeated.*\['a'\]"),
    (lambda: StringLookup(vocabulary=["a", "[MASK]"], mask_token="[MASK]"), r"reserved mask token '\[MASK\]'"),
    (lambda: StringLookup(vocabulary=["a", "[UNK]"], invert=True), r"reserved OOV token '\[UNK\]'"),
    (lambda: StringLookup(vocabulary=[]), r"empty vocabulary"),
    (lambda: StringLookup(vocabulary=VOCAB, max_tokens=3), r"larger than the maximum.*5.*3"),
    (lambda: StringLookup(output_mode="tf_idf", vocabulary=VOCAB), r"idf_weights"),
    (lambda: StringLookup(idf_weights=[1.0]), r"`idf_weights` should only be set"),
    (lambda: StringLookup(salt="x"), r"`salt`.*Received: salt='x'"),
    (lambda: StringLookup(encoding="nope"), r"`encoding`.*Received: encoding='nope'"),
    (lambda: IntegerLookup(vocabulary=[1, 2, 2]), r"IntegerLookup.*repeated.*\[2\]"),
    (lambda: IntegerLookup(salt=3), r"`salt` can only be used when `oov_method='farmhash'`"),
    (lambda: IntegerLookup(oov_method="mod"), r"`oov_method`.*Received: oov_method='mod'"),
    (lambda: IntegerLookup(vocabulary_dtype="int32"), r"vocabulary_dtype='int64'"),
    (lambda: IntegerLookup(mask_token="a"), r"`mask_token` must be an integer"),
    (lambda: TextVectorization(standardize="upper"),
     r"TextVectorization.*`standardize`.*Received: standardize='upper'"),
    (lambda: TextVectorization(split="comma"), r"`split`.*Received: split='comma'"),
    (lambda: TextVectorization(ngrams=0), r"`ngrams`.*Received: ngrams=0"),
    (lambda: TextVectorization(output_sequence_length=0), r"`output_sequence_length`.*positive"),
    (lambda: TextVectorization(output_mode="count", output_sequence_length=3), r"must not be set"),
    (lambda: TextVectorization(ragged=True), r"ragged=True"),
    (lambda: TextVectorization(max_tokens=1), r"TextVectorization.*`max_tokens`"),
    (lambda: CategoryEncoding(), r"CategoryEncoding: `num_tokens` must be set"),
    (lambda: CategoryEncoding(num_tokens=0), r"`num_tokens` must be an integer >= 1. Received: num_tokens=0"),
    (lambda: CategoryEncoding(num_tokens=3, output_mode="int"), r"CategoryEncoding.*`output_mode`"),
    (lambda: Hashing(num_bins=0), r"Hashing.*`num_bins`.*Received: num_bins=0"),
    (lambda: Hashing(num_bins=3, dtype="float32"), r"output_mode='int'.*integer type"),
    (lambda: Discretization(), r"either `num_bins` or `bin_boundaries`"),
    (lambda: Discretization(num_bins=3, bin_boundaries=[0.]), r"both `num_bins` and `bin_boundaries`"),
    (lambda: Discretization(bin_boundaries=[1., 0.]), r"sorted.*Received: bin_boundaries=\[1.0, 0.0\]"),
    (lambda: Discretization(num_bins=-1), r"`num_bins` must be a positive integer"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_calls_and_adapts():
    with pytest.raises(ValueError, match=r"StringLookup 'string_lookup\w*': the layer has no vocabulary yet"):
        StringLookup()(["a"])
    with pytest.raises(ValueError, match="TextVectorization.*no vocabulary yet"):
        TextVectorization()(["a b"])
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*OOV values \['z'\]"):
        StringLookup(vocabulary=VOCAB, num_oov_indices=0)(["a", "z"])
    with pytest.raises(TypeError, match="StringLookup.*expected strings"):
        StringLookup(vocabulary=VOCAB)(np.array([1, 2]))
    with pytest.raises(ValueError, match="IntegerLookup.*must hold integers.*1.5"):
        IntegerLookup(vocabulary=[1])(np.array([1.5]))
    with pytest.raises(ValueError, match="cannot adapt the layer after setting a static vocabulary"):
        StringLookup(vocabulary=VOCAB).adapt(["a"])
    with pytest.raises(ValueError, match="`steps` must be None or a positive integer"):
        StringLookup().adapt(iter([["a"]]), steps=0)
    with pytest.raises(TypeError, match="expected an array, a list, or an iterable"):
        StringLookup().adapt("abc")
    with pytest.raises(ValueError, match="rank must be 1 or the last shape dimension must be 1"):
        TextVectorization(vocabulary=["a"])([["a", "b"]])
    with pytest.raises(ValueError, match=r"must be integers in \[0, num_tokens\) = \[0, 3\). Received the value 3"):
        CategoryEncoding(num_tokens=3)([[0, 3]])
    with pytest.raises(ValueError, match="`count_weights` is not used"):
        CategoryEncoding(num_tokens=3)([[0]], count_weights=[[1.0]])
    with pytest.raises(ValueError, match="rank 1 or 2"):
        CategoryEncoding(num_tokens=3)(np.zeros((2, 2, 2), int))
    with pytest.raises(ValueError, match="call `adapt"):
        Discretization(num_bins=3)([[1.0]])
    with pytest.raises(ValueError, match="initialized with `bin_boundaries`"):
        Discretization(bin_boundaries=[0.]).adapt(np.ones(3))
    with pytest.raises(TypeError, match="mask_value=0 cannot be compared"):
        Hashing(num_bins=3, mask_value=0)([["a"]])


# ---- timeseries_dataset_from_array -------------------------------------------------------------


def windows_by_loop(data, targets, length, stride, rate, start, end):
    start = start or 0
    end = len(data) if end is None else end
    xs, ys = [], []
    s = start
    while s + (length - 1) * rate < end and (targets is None or s - start < len(targets)):
        xs.append(data[s:s + (length - 1) * rate + 1:rate])
        ys.append(None if targets is None else targets[s])
        s += stride
    return xs, ys


@pytest.mark.parametrize("length, stride, rate, batch, start, end", [
    (9, 1, 1, 5, None, None), (10, 3, 2, 128, None, None), (4, 2, 3, 7, 5, 60), (1, 1, 1, 1, None, None),
    (6, 5, 1, 4, 10, None), (3, 4, 2, 3, None, 50)])
def test_timeseries_windows_match_a_direct_loop(length, stride, rate, batch, start, end):
    data = np.arange(70 * 2, dtype=np.float32).reshape(70, 2)
    targets = np.arange(70) * 10
    ds = timeseries_dataset_from_array(data, targets, length, sequence_stride=stride, sampling_rate=rate,
                                       batch_size=batch, start_index=start, end_index=end)
    want_x, want_y = windows_by_loop(data, targets, length, stride, rate, start, end)
    assert len(ds) == -(-len(want_x) // batch)
    got_x = np.concatenate([x for x, _ in ds])
    got_y = np.concatenate([y for _, y in ds])
    eq(got_x, np.stack(want_x), "float32")
    eq(got_y, want_y)
    sizes = [len(x) for x, _ in ds]
    assert sizes[:-1] == [batch] * (len(sizes) - 1) and 1 <= sizes[-1] <= batch  # the last batch holds the rest


def test_timeseries_keras_examples():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3)
    batch = ds[0]  # targets=None: the inputs only
    eq(batch[0], np.arange(0, 20, 2))
    eq(batch[1], np.arange(3, 23, 2))
    eq(batch[-1], np.arange(78, 98, 2))  # the last two points are dropped
    assert len(ds) == 1 and batch.shape == (27, 10)
    data = np.arange(10)
    ds = timeseries_dataset_from_array(data, data[3:], sequence_length=3, batch_size=1)  # targets shorter than data
    pairs = [(x[0].tolist(), y[0]) for x, y in ds]
    assert pairs == [(list(range(i, i + 3)), i + 3) for i in range(7)]
    ds = timeseries_dataset_from_array(np.arange(100), np.arange(100) * 2, sequence_length=9, batch_size=5)
    assert len(ds) == 19 and ds[18][0].shape == (2, 9)
    for inputs in timeseries_dataset_from_array(np.arange(50), None, sequence_length=10, batch_size=5):
        assert inputs.shape[1] == 10
    single = timeseries_dataset_from_array(np.arange(8), np.arange(8), 3, batch_size=None)
    assert len(single) == 6
    eq(single[2][0], [2, 3, 4])
    assert single[2][1] == 2


def test_timeseries_shuffle_with_seed():
    data, targets = np.arange(40), np.arange(40) * 2
    kwargs = dict(sequence_length=5, batch_size=3, shuffle=True, seed=123)
    ds = timeseries_dataset_from_array(data, targets, **kwargs)
    starts = np.arange(36)
    np.random.RandomState(123).shuffle(starts)  # Keras's first stage, exactly
    eq(ds._positions, starts)
    first = [x.copy() for x, _ in ds]
    second = [x.copy() for x, _ in ds]  # each pass draws a new local order, as tf.data's reshuffle
    for x, y in ds:
        eq(x[:, 0] * 2, y)  # targets stay with their windows
    assert sorted(np.concatenate(first)[:, 0].tolist()) == list(range(36))  # every window, once
    assert sorted(np.concatenate(second)[:, 0].tolist()) == list(range(36))
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))
    again = timeseries_dataset_from_array(data, targets, **kwargs)
    for a, (b, _) in zip(first, again):
        eq(a, b)  # the same seed, the same batches
    np.random.seed(5)
    unseeded = timeseries_dataset_from_array(data, None, 5, shuffle=True)
    np.random.seed(5)
    eq(timeseries_dataset_from_array(data, None, 5, shuffle=True)[0], unseeded[0])


def test_model_fits_on_a_timeseries_dataset():
    fastnn.utils.set_random_seed(1)
    t = np.arange(400, dtype=np.float32)
    series = np.sin(t / 8).astype(np.float32)
    ds = timeseries_dataset_from_array(series[:-6, None], series[6:], sequence_length=6, batch_size=32)
    assert isinstance(ds, fastnn.utils.PyDataset)
    model = Sequential([Input(shape=(6, 1)), Flatten(), Dense(16, activation="tanh"), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(ds, epochs=15, verbose=0, shuffle=False)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert np.isfinite(model.evaluate(ds, verbose=0))
    predictions = model.predict(ds, verbose=0)
    assert predictions.shape == (ds.num_windows, 1)
    shuffled = timeseries_dataset_from_array(series[:-6, None], series[6:], 6, batch_size=32, shuffle=True, seed=2)
    model.fit(shuffled, epochs=2, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sequence_length=0), r"timeseries_dataset_from_array: `sequence_length` must be a positive integer. "
                              r"Received: sequence_length=0"),
    (dict(sequence_length=3, sequence_stride=0), r"`sequence_stride` must be a positive integer"),
    (dict(sequence_length=3, sampling_rate=10), r"`sampling_rate` must be lower than the length of the data"),
    (dict(sequence_length=3, start_index=-1), r"`start_index` must be an integer >= 0"),
    (dict(sequence_length=3, start_index=10), r"`start_index` must be lower than the length"),
    (dict(sequence_length=3, end_index=10), r"`end_index` must be lower than the length"),
    (dict(sequence_length=3, start_index=5, end_index=4), r"`end_index` must be higher than `start_index`"),
    (dict(sequence_length=3, batch_size=0), r"`batch_size` must be a positive integer or None"),
    (dict(sequence_length=20), r"no window fits: a window spans 20 steps"),
    (dict(sequence_length=3, targets=np.arange(3), start_index=2), r"needs targets\[4\].*only 3 entries"),
    (dict(sequence_length=3, targets=5), r"`targets` must be an array"),
    (dict(sequence_length=3, shuffle="yes"), r"`shuffle` must be True or False"),
])
def test_timeseries_bad_inputs(kwargs, match):
    kwargs = {"targets": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        timeseries_dataset_from_array(np.arange(10), **kwargs)
    with pytest.raises(ValueError, match="non-empty array"):
        timeseries_dataset_from_array(np.zeros(0), None, 1)


def test_preprocessing_layers_give_eager_tensors():
    # vectorizer(["the cat sat"]).numpy(), as the pretrained-embeddings example prints it
    from fastnn.layers import CategoryEncoding, Hashing, IntegerLookup, StringLookup, TextVectorization

    vectorizer = TextVectorization(output_sequence_length=4)
    vectorizer.adapt(["the cat sat", "the dog"])
    assert vectorizer(["the cat sat"]).numpy().tolist() == [[2, 5, 3, 0]]  # (ties: descending, as Keras)
    assert StringLookup(vocabulary=["a", "b"])(["b"]).numpy().tolist() == [2]
    assert IntegerLookup(vocabulary=[7, 9])([9]).numpy().tolist() == [2]
    assert CategoryEncoding(3, output_mode="one_hot")([1]).numpy().tolist() == [[0, 1, 0]]
    assert Hashing(4)([[1]]).numpy().shape == (1, 1)


def test_backend_functions_on_a_string_input():
    # the Wide & Deep example: keras.ops.expand_dims(inputs[name], -1) of a string Input, then StringLookup
    from fastnn import Input, Model, ops
    from fastnn.layers import StringLookup

    words = Input((), dtype="string")
    expanded = ops.expand_dims(words, -1)
    assert expanded.dtype == "string" and expanded.shape == (None, 1)
    model = Model(words, StringLookup(vocabulary=["a", "b"])(expanded))
    assert model.predict(np.array(["b", "a", "c"]), verbose=0).tolist() == [[2], [1], [0]]


def test_timeseries_targets_are_needed_only_where_windows_start():
    # Keras: windows start every sequence_stride steps; with targets shorter than the data, the last
    # window (data[42]) needs targets[42] only
    ds = timeseries_dataset_from_array(np.arange(50), np.arange(43) * 10, sequence_length=3, sequence_stride=13,
                                       start_index=3)
    windows, targets = next(iter(ds))
    assert np.asarray(windows).tolist() == [[3, 4, 5], [16, 17, 18], [29, 30, 31], [42, 43, 44]]
    assert np.asarray(targets).tolist() == [30, 160, 290, 420]


def test_a_sequential_starting_with_string_lookup_called_on_a_string_input():
    # keras.io's embedding_encoder: Sequential([StringLookup, Embedding])(Input(shape=(), dtype="string"))
    vocabulary = ["a", "b", "c"]
    encoder = Sequential([StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0),
                          Embedding(input_dim=3, output_dim=4)])
    user = Input(name="user_id", shape=(), dtype="string")
    model = Model(user, encoder(user))
    assert model.output_shape == (None, 4)
    table = encoder.layers[-1].get_weights()[0]
    np.testing.assert_array_equal(model.predict(np.array(["a", "c"]), verbose=0), table[[0, 2]])


def test_a_custom_layer_takes_strings_its_call_looks_up():
    # keras.io's QREmbedding: a StringLookup inside the layer's call; Keras casts floating inputs only
    class QuotientRemainder(fastnn.layers.Layer):
        def __init__(self, vocabulary):
            super().__init__()
            self.lookup = StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0)
            self.quotient, self.remainder = Embedding(4, 3), Embedding(4, 3)

        def call(self, inputs):
            ids = self.lookup(inputs)
            return self.quotient(fastnn.math.floordiv(ids, 4)) * self.remainder(fastnn.math.floormod(ids, 4))

    layer = QuotientRemainder([f"user_{i}" for i in range(10)])
    out = layer(fastnn.constant(np.array(["user_0", "user_9", "user_4"])))
    ids = np.array([0, 9, 4])
    q, r = layer.quotient.get_weights()[0], layer.remainder.get_weights()[0]
    np.testing.assert_allclose(out, q[ids // 4] * r[ids % 4], rtol=1e-6)


def test_an_embedding_then_flatten_then_dense_sequential_builds_on_its_first_data():
    # Keras 3 builds a Sequential without an Input on its first data: sequences of any length (the
    # Embedding's) cannot reach Dense through Flatten, so the stack waits for the data's length
    rng = np.random.default_rng(0)
    model = Sequential([Embedding(20, 3), Flatten(), Dense(1)])
    ids = rng.integers(0, 20, (8, 5))
    assert model(ids).shape == (8, 1)
    table, kernel, bias = model.get_weights()
    np.testing.assert_allclose(model.predict(ids, verbose=0), table[ids].reshape(8, 15) @ kernel + bias, rtol=1e-5,
                               atol=1e-6)
