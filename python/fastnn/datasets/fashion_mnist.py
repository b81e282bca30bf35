"""Fashion-MNIST: 70,000 Zalando article images in 10 classes, 28x28 grey levels (MIT licence).

``load_data()`` reads the four IDX files from the first place that holds them (see
fastnn.datasets._locate: ``path``, ``$FASTNN_DATA/fashion-mnist``,
``~/.fastnn/datasets/fashion-mnist``, ``~/.keras/datasets/fashion-mnist``,
``/usr/share/datasets/fashion-mnist``, where Debian's ``dataset-fashion-mnist`` puts them), else
downloads them into ``~/.fastnn/datasets/fashion-mnist`` and checks their SHA-256.
``load_data(subset="small")`` reads the class-balanced subset shipped inside the package (6,000
training and 1,000 test images: the first 600 and 100 of each class, in the original order),
which needs no search and no network.

The SHA-256 constants are those of the DECOMPRESSED files, computed from Debian's package; they
are the same as those other public projects derive from Zalando's archives (Debian recompressed
the .gz files, so their own checksums differ from Zalando's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import _locate

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

SMALL_DIR = Path(__file__).resolve().parent / "data" / "fashion_mnist_small"
SMALL_TRAIN_PER_CLASS = 600
SMALL_TEST_PER_CLASS = 100

SPEC = _locate.DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    caller="fashion_mnist.load_data",
    sha256={
        _locate.TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        _locate.TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        _locate.TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        _locate.TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    # Zalando's canonical URL (plain http: the S3 website endpoint has no https), then Keras's mirror.
    urls=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    hints=(
        "on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist)",
        'use the subset shipped with fastnn instead: fashion_mnist.load_data(subset="small")',
    ),
)

SMALL_SPEC = _locate.DatasetSpec(
    name="fashion_mnist_small",
    title="Fashion-MNIST (bundled subset)",
    caller='fashion_mnist.load_data(subset="small")',
    sha256={},
    urls=(),
)


def load_data(path=None, subset=None):
    """Load Fashion-MNIST as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: a directory holding the four IDX files (train-images-idx3-ubyte,
            train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain
            or ``.gz``). When given, nothing else is searched and nothing is downloaded. When
            None, the search path is tried, then a download into
            ``~/.fastnn/datasets/fashion-mnist``.
        subset: None for the full dataset, or ``"small"`` for the subset shipped inside the
            package (6,000 training and 1,000 test images, balanced over the 10 classes; no
            search, no network; ``path`` must then be None).

    Returns:
        ``x_train`` uint8 (60000, 28, 28), ``y_train`` uint8 (60000,) with values 0..9
        (indices into CLASS_NAMES), ``x_test`` uint8 (10000, 28, 28), ``y_test`` uint8 (10000,);
        with ``subset="small"``, 6000 and 1000 images.

    Raises:
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable; the message
            lists every place looked at and how to provide the files.
        ValueError: a file is not a valid IDX file (named in the message), or a bad ``subset``.
    """
    if subset is None:
        return _locate.load(SPEC, path)
    if not (isinstance(subset, str) and subset == "small"):
        raise ValueError(
            f"fashion_mnist.load_data: unknown subset. Expected None (the full dataset) or 'small' "
            f"(the subset shipped with fastnn). Received: subset={subset!r}"
        )
    if path is not None:
        raise ValueError(
            f'fashion_mnist.load_data: subset="small" is shipped inside the package and takes no path. '
            f"Received: path={path!r}"
        )
    return load_small()


def load_small():
    """The bundled class-balanced subset: ``(x_train, y_train), (x_test, y_test)`` of 6000 and 1000."""
    files, missing = _locate.find_idx_files(SMALL_DIR)
    if missing:
        raise _locate.DatasetNotFoundError(
            f'fashion_mnist.load_data(subset="small"): the subset shipped with fastnn is incomplete in '
            f"{SMALL_DIR} (missing {', '.join(missing)}); this installation of fastnn is broken: reinstall it"
        )
    return _locate.load_idx(SMALL_SPEC, files)


def select_small(x, y, per_class):
    """The first ``per_class`` images of each class, kept in their original order.

    How the bundled subset was made from the full dataset (see _make_small.py); ValueError when a
    class has fewer than ``per_class`` images.
    """
    y = np.asarray(y)
    keep = []
    for c in range(len(CLASS_NAMES)):
        idx = np.flatnonzero(y == c)
        if idx.size < per_class:
            raise ValueError(f"select_small: class {c} has {idx.size} images, fewer than per_class={per_class}")
        keep.append(idx[:per_class])
    keep = np.sort(np.concatenate(keep))
    return x[keep], y[keep]
