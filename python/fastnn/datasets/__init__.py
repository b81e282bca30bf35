"""fastnn.datasets: MNIST and Fashion-MNIST as Keras loads them, from IDX files on disk.

``mnist.load_data()`` and ``fashion_mnist.load_data()`` return Keras's
``(x_train, y_train), (x_test, y_test)`` uint8 arrays. They search ``path``, ``$FASTNN_DATA``,
``~/.fastnn/datasets``, ``~/.keras/datasets`` and ``/usr/share/datasets`` (Debian's
``dataset-fashion-mnist``), else download with checksum verification; offline they fail with a
message saying where they looked and how to provide the files. ``fashion_mnist.load_data(
subset="small")`` reads a class-balanced 6,000/1,000-image subset shipped with fastnn, offline.
``available()`` says which of them can be loaded now, and from where.

Keras's other ``keras.datasets`` loaders are here too, with Keras's signatures, return values and
processing (the same seed gives the same arrays): ``cifar10.load_data()``,
``cifar100.load_data(label_mode="fine")`` (Keras's cache, the official Python or binary version,
extracted or as the archive), ``imdb.load_data(...)`` / ``imdb.get_word_index()``,
``reuters.load_data(...)`` / ``reuters.get_word_index()`` / ``reuters.get_label_names()``,
``boston_housing.load_data(...)`` and ``california_housing.load_data(...)``. They search the same
places (their files lie directly in each root, as in ``~/.keras/datasets``), download from
Keras's URLs with Keras's checksums, and read pickled data (CIFAR's batches, the object arrays of
imdb.npz and reuters.npz) with a restricted unpickler that can only rebuild NumPy arrays.
"""

from __future__ import annotations

from . import (
    _locate,
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from ._locate import ENV_VAR, DatasetNotFoundError
from ._pickle import UnsafePickleError


def available() -> dict:
    """Where each dataset would be loaded from without a download, by the CLI's dataset names.

    Returns ``{"mnist": str or None, "fashion_mnist": str or None, "fashion_mnist_small": str or
    None}``: the directory of the IDX files (or the ``.npz`` file) that ``load_data()`` would
    read, or None when it would have to download. Only looks for the files; does not parse them.
    """
    found = {}
    for key, spec in (("mnist", mnist.SPEC), ("fashion_mnist", fashion_mnist.SPEC)):
        loc, _ = _locate.find(spec)
        found[key] = None if loc is None else str(loc.where)
    _, missing = _locate.find_idx_files(fashion_mnist.SMALL_DIR)
    found["fashion_mnist_small"] = None if missing else str(fashion_mnist.SMALL_DIR)
    return found


__all__ = [
    "ENV_VAR",
    "DatasetNotFoundError",
    "UnsafePickleError",
    "available",
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
