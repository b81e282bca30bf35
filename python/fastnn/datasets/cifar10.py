"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky, 2009), as Keras loads them.

``load_data()`` returns Keras's ``(x_train, y_train), (x_test, y_test)``: uint8 images
(50000, 32, 32, 3) and (10000, 32, 32, 3), channels last, and uint8 labels (50000, 1) and
(10000, 1) with values 0..9 (indices into CLASS_NAMES). The images are C-contiguous (Keras returns
a transposed view of the same values).

It reads the first of these found directly in ``path``, else in ``$FASTNN_DATA/``,
``~/.fastnn/datasets/``, ``~/.keras/datasets/`` (Keras's cache) and ``/usr/share/datasets/``:

    cifar-10-batches-py/                              Keras <= 3.5's extracted download
    cifar-10-batches-py-target/cifar-10-batches-py/   Keras >= 3.6's
    cifar-10-python.tar.gz                            the official archive (what fastnn downloads)
    cifar-10-batches-py.tar.gz                        Keras <= 3.5's copy of it
    cifar-10-batches-py-target_archive                Keras >= 3.6's copy of it
    cifar-10-batches-bin/                             the official binary version, extracted
    cifar-10-binary.tar.gz                            the official binary archive

Archives are read in place, not extracted. Found nowhere, the official archive is downloaded into
``~/.fastnn/datasets/cifar-10-python.tar.gz`` and its SHA-256 (the one Keras pins) checked. The
pickled batches are read with a restricted unpickler that can only rebuild NumPy arrays.
"""

from __future__ import annotations

from . import _cifar, _locate

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

PYTHON = _cifar.Layout(
    "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), binary=False
)
BINARY = _cifar.Layout(
    "cifar-10-batches-bin", tuple(f"data_batch_{i}.bin" for i in range(1, 6)), ("test_batch.bin",), binary=True
)

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # keras.datasets.cifar10's

SPEC = _locate.FileSpec(
    title="CIFAR-10",
    caller="cifar10.load_data",
    forms=_cifar.forms(
        PYTHON,
        BINARY,
        ("cifar-10-python.tar.gz", "cifar-10-batches-py.tar.gz", "cifar-10-batches-py-target_archive"),
        "cifar-10-binary.tar.gz",
    ),
    provide=(
        "CIFAR-10 (the directory cifar-10-batches-py/ or cifar-10-batches-bin/, or the archive "
        "cifar-10-python.tar.gz or cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html)"
    ),
    path_hint="pass the directory or the archive: cifar10.load_data(path=DIR_OR_ARCHIVE)",
    url=URL,
    download_name="cifar-10-python.tar.gz",
    file_hash=SHA256,
    max_bytes=256 << 20,  # the archive is 170,498,071 bytes
)

DATASET = _cifar.CifarSet("CIFAR-10", (PYTHON, BINARY), ("labels",), SPEC)


def load_data(path=None):
    """Load CIFAR-10 as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: fastnn's addition to Keras's signature: a directory (``cifar-10-batches-py/`` or
            ``cifar-10-batches-bin/`` itself, or one holding one of the forms listed in the
            module's docstring) or an archive. When given, nothing else is searched and nothing
            is downloaded.

    Returns:
        ``x_train`` uint8 (50000, 32, 32, 3), ``y_train`` uint8 (50000, 1) with values 0..9,
        ``x_test`` uint8 (10000, 32, 32, 3), ``y_test`` uint8 (10000, 1).

    Raises:
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable; the message
            lists every place looked at and how to provide the files.
        ValueError: a file is corrupt, truncated, not a CIFAR-10 batch, or has a label out of
            range (named in the message), or pickles anything but NumPy arrays.
    """
    return _cifar.load(DATASET, path, "labels", 10, "uint8")
