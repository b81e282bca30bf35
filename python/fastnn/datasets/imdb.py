"""IMDB: 50,000 movie reviews labelled by sentiment (Maas et al., 2011), as Keras loads them.

``load_data()`` reads Keras's ``imdb.npz`` (25,000 training and 25,000 test reviews, each a list of
word indices, 1 = the most frequent word) and processes it exactly as
``keras.datasets.imdb.load_data`` does: the same shuffle (``np.random.RandomState(seed)``, the
training set first, then the test set), ``start_char`` and ``index_from``, the ``maxlen`` filter
(sequences of ``maxlen`` words or more, start character included, are dropped, not truncated), and
``num_words`` / ``skip_top`` / ``oov_char``. The same arguments give the same arrays as Keras.

``path`` is Keras's: a bare file name (default ``"imdb.npz"``) is looked for in
``$FASTNN_DATA/``, ``~/.fastnn/datasets/``, ``~/.keras/datasets/`` (Keras's cache) and
``/usr/share/datasets/``, and, found nowhere, downloaded from Keras's URL into
``~/.fastnn/datasets/`` with Keras's SHA-256 checked. A path with a directory part
(``"./imdb.npz"``, ``"/data/imdb.npz"``) is the only place looked at. The sequences are object
arrays, which the file stores as pickles: they are read with a restricted unpickler that can only
rebuild NumPy arrays, never with ``np.load(allow_pickle=True)``.
"""

from __future__ import annotations

import numpy as np

from . import _locate, _sequences

URL = _sequences.BASE_URL + "imdb.npz"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # keras.datasets.imdb's
WORD_INDEX_URL = _sequences.BASE_URL + "imdb_word_index.json"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"  # Keras pins only the MD5 of this file
CALLER = "imdb.load_data"


def load_data(
    path="imdb.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Load the IMDB reviews as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: Keras's file name (searched, then downloaded), or a path with a directory part
            (the only place looked at); see the module's docstring.
        num_words: keep the ``num_words`` most frequent words (indices below ``num_words`` after
            ``index_from`` is added); others become ``oov_char``. None: Keras's default, the
            largest index found (which itself becomes ``oov_char``, as in Keras).
        skip_top: indices below ``skip_top`` also become ``oov_char``.
        maxlen: drop the sequences of ``maxlen`` or more indices (None: keep all).
        seed: the seed of the shuffle (``np.random.RandomState(seed)``).
        start_char: put before each sequence (None: nothing).
        oov_char: what cut words become (None: they are removed).
        index_from: added to every word index.

    Returns:
        ``x_train``, ``x_test``: object arrays of lists of ints (as Keras builds them with
        ``np.array(lists, dtype="object")``); ``y_train``, ``y_test``: int arrays of 0/1 labels.

    Raises:
        ValueError: a bad argument (named), nothing left after ``maxlen``, or a file that is
            corrupt, truncated, not Keras's format, or pickles anything but NumPy arrays.
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable.
    """
    num_words, skip_top, maxlen, seed, start_char, oov_char, index_from = _sequences.check_args(
        CALLER, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from
    )
    file = _locate.locate_keras_file(path, "imdb.npz", "IMDB", CALLER, URL, SHA256)
    f = _sequences.read(file, (("x_train", "y_train"), ("x_test", "y_test")), num_classes=2)

    rng = np.random.RandomState(seed)
    x_train, labels_train = _sequences.shuffle(rng, f["x_train"], f["y_train"])
    x_test, labels_test = _sequences.shuffle(rng, f["x_test"], f["y_test"])

    x_train = _sequences.shift(x_train, start_char, index_from)
    x_test = _sequences.shift(x_test, start_char, index_from)

    if maxlen:
        x_train, labels_train = _sequences.drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = _sequences.drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(
                f"{CALLER}: after dropping the sequences of maxlen={maxlen} or more indices, no "
                f"{'training' if not x_train else 'test'} sequence is left. Increase maxlen."
            )

    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if num_words is None:
        num_words = _sequences.largest_index(xs)
    xs = _sequences.cut(xs, num_words, skip_top, oov_char)

    idx = len(x_train)
    # np.array(..., dtype="object") as Keras: a 1-D array of lists (2-D, should every
    # sequence have the same length, as in Keras).
    return (np.array(xs[:idx], dtype="object"), labels[:idx]), (np.array(xs[idx:], dtype="object"), labels[idx:])


def get_word_index(path="imdb_word_index.json"):
    """Keras's ``imdb.get_word_index``: the dict word -> index (1 = the most frequent word; add
    ``index_from`` to match ``load_data``'s sequences).

    ``path`` is searched (a bare name) or used as given (a path with a directory part) as in
    ``load_data``; downloaded, the file's MD5 is checked (the hash Keras pins).
    """
    file = _locate.locate_keras_file(
        path, "imdb_word_index.json", "the IMDB word index", "imdb.get_word_index", WORD_INDEX_URL, WORD_INDEX_MD5
    )
    return _sequences.read_word_index(file)
