"""MNIST: 70,000 handwritten digits, 28x28 grey levels (LeCun, Cortes and Burges).

``load_data()`` reads the four IDX files (or Keras's ``mnist.npz``) from the first place that
holds them (see fastnn.datasets._locate: ``path``, ``$FASTNN_DATA/mnist``,
``~/.fastnn/datasets/mnist``, ``~/.keras/datasets``, ``/usr/share/datasets/mnist``), else
downloads them into ``~/.fastnn/datasets/mnist`` and checks their SHA-256.

The SHA-256 constants are those of the DECOMPRESSED files, as pinned by many public projects
(the gzipped files they come from have the widely published SHA-256 440fcabf..., 3552534a...,
8d422c7b..., f7ae60f9...). fastnn could not download MNIST where it was written, so they were
not recomputed here.
"""

from __future__ import annotations

from . import _locate

CLASS_NAMES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")

SPEC = _locate.DatasetSpec(
    name="mnist",
    title="MNIST",
    caller="mnist.load_data",
    sha256={
        _locate.TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        _locate.TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        _locate.TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        _locate.TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    # LeCun's page is the canonical source but now often refuses downloads; these mirror it.
    urls=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://yann.lecun.com/exdb/mnist/",
    ),
    npz="mnist.npz",
)


def load_data(path=None):
    """Load MNIST as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: a directory holding the four IDX files (train-images-idx3-ubyte,
            train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain
            or ``.gz``) or Keras's ``mnist.npz``, or the path of such an ``.npz`` file. When given,
            nothing else is searched and nothing is downloaded. When None, the search path is
            tried, then a download into ``~/.fastnn/datasets/mnist``.

    Returns:
        ``x_train`` uint8 (60000, 28, 28), ``y_train`` uint8 (60000,) with values 0..9,
        ``x_test`` uint8 (10000, 28, 28), ``y_test`` uint8 (10000,).

    Raises:
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable; the message
            lists every place looked at and how to provide the files.
        ValueError: a file is not a valid IDX file or ``.npz`` archive (named in the message).
    """
    return _locate.load(SPEC, path)
