"""Boston Housing: 506 census tracts of the Boston suburbs, 13 attributes each, as Keras loads them.

**As Keras warns**, this dataset has an ethical problem: one attribute ("B") assumes that racial
self-segregation influences house prices. Keras discourages its use except to illustrate ethical
issues in data science; ``california_housing.load_data(version="small")`` is its replacement.

``load_data()`` reads Keras's ``boston_housing.npz`` (arrays ``x`` (506, 13) and ``y`` (506,),
float64; no pickle), shuffles with ``np.random.RandomState(seed)`` and splits as Keras does.
``path`` is Keras's: a bare file name is looked for in ``$FASTNN_DATA/``, ``~/.fastnn/datasets/``,
``~/.keras/datasets/`` and ``/usr/share/datasets/``, then downloaded from Keras's URL with its
SHA-256 checked; a path with a directory part is the only place looked at.
"""

from __future__ import annotations

from . import _checks, _housing, _locate

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # keras.datasets.boston_housing's
CALLER = "boston_housing.load_data"
NUM_FEATURES = 13


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Load Boston Housing as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Returns:
        ``x_train`` (404, 13), ``y_train`` (404,), ``x_test`` (102, 13), ``y_test`` (102,) with
        the default ``test_split``: float64, the targets in k$.

    Raises:
        ValueError: ``test_split`` outside [0, 1) or a bad ``seed`` / ``path``; a file that is
            corrupt, truncated or not Keras's format (named in the message).
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable.
    """
    test_split = _checks.check_test_split(CALLER, test_split)
    seed = _checks.check_seed(CALLER, seed)
    file = _locate.locate_keras_file(path, "boston_housing.npz", "Boston Housing", CALLER, URL, SHA256)
    x, y = _housing.read_xy(file, NUM_FEATURES, "Boston Housing")
    return _housing.split(x, y, test_split, seed)
