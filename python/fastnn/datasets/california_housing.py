"""California Housing: 20,640 census block groups of the 1990 census, 8 features each, as Keras loads them.

``load_data()`` reads Keras's ``california_housing.npz`` (arrays ``x`` (20640, 8) and ``y``
(20640,); no pickle); ``version="small"`` keeps its first 600 samples. It then shuffles with
``np.random.RandomState(seed)`` and splits as Keras does. ``path`` is Keras's: a bare file name
is looked for in ``$FASTNN_DATA/``, ``~/.fastnn/datasets/``, ``~/.keras/datasets/`` and
``/usr/share/datasets/``, then downloaded from Keras's URL with its SHA-256 checked; a path with a
directory part is the only place looked at.

The features: MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude;
the target is the median house value in dollars.
"""

from __future__ import annotations

from . import _checks, _housing, _locate

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # keras.datasets.california_housing's
CALLER = "california_housing.load_data"
NUM_FEATURES = 8
FEATURE_NAMES = ("MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude")
VERSIONS = ("small", "large")
SMALL_SIZE = 600


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Load California Housing as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        version: ``"large"`` (all 20,640 samples) or ``"small"`` (the first 600, Keras's
            stand-in for Boston Housing).
        path, test_split, seed: as in ``boston_housing.load_data``.

    Returns:
        ``x_train`` (16512, 8), ``y_train`` (16512,), ``x_test`` (4128, 8), ``y_test`` (4128,)
        with the defaults (480 and 120 samples for ``"small"``), of the file's dtype.

    Raises:
        ValueError: a bad ``version``, ``test_split`` outside [0, 1), a bad ``seed`` / ``path``; a
            file that is corrupt, truncated or not Keras's format (named in the message).
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable.
    """
    _checks.check_choice(CALLER, "version", version, VERSIONS)
    test_split = _checks.check_test_split(CALLER, test_split)
    seed = _checks.check_seed(CALLER, seed)
    file = _locate.locate_keras_file(path, "california_housing.npz", "California Housing", CALLER, URL, SHA256)
    x, y = _housing.read_xy(file, NUM_FEATURES, "California Housing")
    if version == "small":
        x, y = x[:SMALL_SIZE], y[:SMALL_SIZE]
    return _housing.split(x, y, test_split, seed)
