"""Reuters: 11,228 newswires labelled over 46 topics (Reuters-21578), as Keras loads them.

``load_data()`` reads Keras's ``reuters.npz`` (every newswire as a list of word indices, 1 = the
most frequent word, and its topic) and processes it exactly as
``keras.datasets.reuters.load_data`` does: one shuffle of all the samples
(``np.random.RandomState(seed)``), ``start_char`` and ``index_from``, the ``maxlen`` filter
(sequences of ``maxlen`` indices or more are dropped), ``num_words`` / ``skip_top`` /
``oov_char``, then the first ``int(n * (1 - test_split))`` samples for training and the rest for
testing. The same arguments give the same arrays as Keras.

``path`` is Keras's: a bare file name (default ``"reuters.npz"``) is looked for in
``$FASTNN_DATA/``, ``~/.fastnn/datasets/``, ``~/.keras/datasets/`` and ``/usr/share/datasets/``,
and, found nowhere, downloaded from Keras's URL into ``~/.fastnn/datasets/`` with Keras's SHA-256
checked; a path with a directory part is the only place looked at. The sequences are read with a
restricted unpickler that can only rebuild NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from . import _checks, _locate, _sequences

URL = _sequences.BASE_URL + "reuters.npz"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # keras.datasets.reuters's
WORD_INDEX_URL = _sequences.BASE_URL + "reuters_word_index.json"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"  # Keras pins only the MD5 of this file
CALLER = "reuters.load_data"

LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
    "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
    "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail",
    "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
    "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip
NUM_CLASSES = len(LABEL_NAMES)  # 46


def load_data(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Load the Reuters newswires as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: Keras's file name (searched, then downloaded), or a path with a directory part
            (the only place looked at); see the module's docstring.
        num_words: keep the indices below ``num_words`` (after ``index_from`` is added); others
            become ``oov_char``. None: Keras's default, the largest index found (which itself
            becomes ``oov_char``, as in Keras).
        skip_top: indices below ``skip_top`` also become ``oov_char``.
        maxlen: drop the sequences of ``maxlen`` or more indices (None: keep all).
        test_split: the fraction of the samples kept for testing, in [0, 1).
        seed: the seed of the shuffle (``np.random.RandomState(seed)``).
        start_char: put before each sequence (None: nothing).
        oov_char: what cut words become (None: they are removed).
        index_from: added to every word index.

    Returns:
        ``x_train``, ``x_test``: object arrays of lists of ints; ``y_train``, ``y_test``: int
        arrays of topics 0..45 (indices into ``get_label_names()``).

    Raises:
        ValueError: a bad argument (named), nothing left after ``maxlen``, or a file that is
            corrupt, truncated, not Keras's format, or pickles anything but NumPy arrays.
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable.
    """
    num_words, skip_top, maxlen, seed, start_char, oov_char, index_from = _sequences.check_args(
        CALLER, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from
    )
    test_split = _checks.check_test_split(CALLER, test_split)
    file = _locate.locate_keras_file(path, "reuters.npz", "Reuters", CALLER, URL, SHA256)
    f = _sequences.read(file, (("x", "y"),), num_classes=NUM_CLASSES)

    rng = np.random.RandomState(seed)
    xs, labels = _sequences.shuffle(rng, f["x"], f["y"])
    xs = _sequences.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = _sequences.drop_long(maxlen, xs, labels)
        if not xs:
            raise ValueError(
                f"{CALLER}: after dropping the sequences of maxlen={maxlen} or more indices, no "
                f"sequence is left. Increase maxlen."
            )
    if num_words is None:
        num_words = _sequences.largest_index(xs)
    xs = _sequences.cut(xs, num_words, skip_top, oov_char)

    idx = int(len(xs) * (1 - test_split))
    # As Keras: the labels are a list after maxlen (np.array of it), an array otherwise.
    x_train, y_train = np.array(xs[:idx], dtype="object"), np.array(labels[:idx])
    x_test, y_test = np.array(xs[idx:], dtype="object"), np.array(labels[idx:])
    return (x_train, y_train), (x_test, y_test)


def get_word_index(path="reuters_word_index.json"):
    """Keras's ``reuters.get_word_index``: the dict word -> index (1 = the most frequent word; add
    ``index_from`` to match ``load_data``'s sequences).

    ``path`` is searched (a bare name) or used as given (a path with a directory part) as in
    ``load_data``; downloaded, the file's MD5 is checked (the hash Keras pins).
    """
    file = _locate.locate_keras_file(
        path,
        "reuters_word_index.json",
        "the Reuters word index",
        "reuters.get_word_index",
        WORD_INDEX_URL,
        WORD_INDEX_MD5,
    )
    return _sequences.read_word_index(file)


def get_label_names():
    """Keras's ``reuters.get_label_names``: the 46 topic names, indexed by label."""
    return LABEL_NAMES
