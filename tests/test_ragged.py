"""tf.RaggedTensor as the text tutorials use it: unicode_split of a batch, the lookup layers on its
values and back, to_tensor, reduce_join; tf.ragged.constant and map_flat_values."""

import numpy as np
import pytest

import fastnn as tf


def test_text_generation_tutorials_round_trip():
    # "Text generation with an RNN": characters -> ids (ragged) -> dense ids; ids -> characters -> text
    chars = tf.strings.unicode_split(["abcdefg", "xyz"], input_encoding="UTF-8")
    assert isinstance(chars, tf.RaggedTensor) and chars.shape == (2, None)
    assert chars.to_list() == [list("abcdefg"), list("xyz")]
    ids_from_chars = tf.keras.layers.StringLookup(vocabulary=sorted(set("abcdefgxyz")), mask_token=None)
    ids = ids_from_chars(chars)
    assert isinstance(ids, tf.RaggedTensor) and ids.to_list() == [[1, 2, 3, 4, 5, 6, 7], [8, 9, 10]]
    np.testing.assert_array_equal(ids.to_tensor(), [[1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 0, 0, 0, 0]])
    np.testing.assert_array_equal(ids.row_lengths(), [7, 3])
    chars_from_ids = tf.keras.layers.StringLookup(vocabulary=ids_from_chars.get_vocabulary(), invert=True,
                                                  mask_token=None)
    text = tf.strings.reduce_join(chars_from_ids(ids), axis=-1)
    assert [t.decode() if isinstance(t, bytes) else t for t in np.asarray(text).tolist()] == ["abcdefg", "xyz"]
    assert tf.strings.unicode_split("abc", "UTF-8").tolist() == ["a", "b", "c"]  # (one string: dense)
    with pytest.raises(ValueError, match="takes a ragged tensor only where it maps each value to one value"):
        tf.keras.layers.StringLookup(vocabulary=list("abc"), output_mode="one_hot")(chars)


def test_ragged_tensor_basics():
    rt = tf.ragged.constant([[1, 2], [], [3, 4, 5]])
    assert rt.nrows() == 3 and rt.dtype == np.int32 and rt.row_splits.tolist() == [0, 2, 2, 5]
    assert rt[2].tolist() == [3, 4, 5] and rt[-2].tolist() == [] and rt[1:].to_list() == [[], [3, 4, 5]]
    assert [r.tolist() for r in rt] == [[1, 2], [], [3, 4, 5]]
    np.testing.assert_array_equal(rt.to_tensor(default_value=-1), [[1, 2, -1], [-1, -1, -1], [3, 4, 5]])
    np.testing.assert_array_equal(rt.to_tensor(shape=(2, 2)), [[1, 2], [0, 0]])
    assert (rt * 2 + 1).to_list() == [[3, 5], [], [7, 9, 11]]
    assert tf.ragged.map_flat_values(np.negative, rt).to_list() == [[-1, -2], [], [-3, -4, -5]]
    same = tf.RaggedTensor.from_row_lengths([1, 2, 3, 4, 5], [2, 0, 3])
    assert same.to_list() == rt.to_list()
    assert tf.RaggedTensor.from_tensor(np.array([[1, 2, 0], [3, 0, 0]]), padding=0).to_list() == [[1, 2], [3]]
    assert tf.RaggedTensor.from_tensor(np.array([[1, 2, 0], [3, 0, 0]]), lengths=[3, 1]).to_list() == [[1, 2, 0], [3]]
    assert [a.tolist() for a in rt.numpy()] == [[1, 2], [], [3, 4, 5]]
    with pytest.raises(ValueError, match="row_splits must start at 0"):
        tf.RaggedTensor.from_row_splits([1, 2, 3], [0, 2])
    with pytest.raises(IndexError, match="row 3 is outside its 3 rows"):
        rt[3]
