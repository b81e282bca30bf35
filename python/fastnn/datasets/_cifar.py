"""Reading CIFAR-10 and CIFAR-100 in both official versions, from a directory or straight from the archive.

The Python version (what Keras downloads) is a directory ``cifar-10-batches-py/`` of pickled
batches ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (``cifar-100-python/``: ``train``
and ``test``): each a dict whose ``data`` is a uint8 array (N, 3072), the 1024 red, then green,
then blue values of each 32x32 image, row by row, and whose ``labels`` (``fine_labels``,
``coarse_labels``) is a list of N ints. They are read with the restricted unpickler of
_pickle.py, never with ``pickle.load``.

The binary version is a directory ``cifar-10-batches-bin/`` of ``data_batch_1.bin`` ..
``data_batch_5.bin`` and ``test_batch.bin`` (``cifar-100-binary/``: ``train.bin``, ``test.bin``):
records of one label byte (CIFAR-100: the coarse, then the fine label byte) and the same 3072
pixel bytes.

Either directory is read where it lies, or from inside its ``.tar.gz`` archive without extracting
it (only regular members with the expected names are read). A file that is truncated, corrupt,
not the expected format, has the wrong shape or label count, or a label out of range, is a
ValueError naming the file (``archive[member]`` inside an archive) and what is wrong.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _locate, _pickle

PIXELS = 3 * 32 * 32
KERAS_INT = np.asarray([0]).dtype  # what np.reshape(list_of_ints) gives: CIFAR-100's label dtype in Keras


@dataclass(frozen=True)
class Layout:
    """One version of the dataset: its directory name (also inside the archive) and files."""

    dirname: str
    train: tuple
    test: tuple
    binary: bool

    @property
    def members(self) -> tuple:
        return self.train + self.test


@dataclass(frozen=True)
class CifarSet:
    title: str  # "CIFAR-10"
    layouts: tuple  # Layout: the Python version, then the binary one
    binary_labels: tuple  # label keys in the order of a binary record's label bytes
    spec: _locate.FileSpec


def forms(python: Layout, binary: Layout, archives: tuple, binary_archive: str) -> tuple:
    """The Forms of a CIFAR dataset under a search root, in order of preference: Keras's extracted
    directory (Keras <= 3.5, then Keras >= 3.6's ``<dir>-target/<dir>``), the Python archives,
    the binary directory, the binary archive."""
    return (
        _locate.Form(python.dirname, python.members),
        _locate.Form(f"{python.dirname}-target/{python.dirname}", python.members),
        *(_locate.Form(a) for a in archives),
        _locate.Form(binary.dirname, binary.members),
        _locate.Form(binary_archive),
    )


# ---- one batch --------------------------------------------------------------------------------


def _check_labels(labels, n, num_classes, where, key):
    try:
        y = np.asarray(labels)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"{where}: {key} is not a list of integer labels ({type(e).__name__}: {e})") from None
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: {key} must be a list of integers. "
            f"Received: {type(labels).__name__} of shape {y.shape}, dtype {y.dtype}"
        )
    if y.shape[0] != n:
        raise ValueError(f"{where}: holds {n} images but {y.shape[0]} {key}: the counts must be equal")
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise ValueError(f"{where}: {key} must be in [0, {num_classes}). Received: label {bad}")
    return y


def read_python_batch(f, where, label_key, num_classes):
    """``(x uint8 (N, 3, 32, 32), y (N,))`` of one pickled batch read from the binary file ``f``."""
    d = _pickle.load(f, where, encoding="bytes")  # as Keras: Python 2's str become bytes
    if not isinstance(d, dict):
        raise ValueError(f"{where}: a CIFAR batch is a pickled dict. Received: {type(d).__name__}")
    batch = {}
    for k, v in d.items():
        if isinstance(k, bytes):
            try:
                k = k.decode("utf8")
            except UnicodeDecodeError:
                continue
        batch[k] = v
    for key in ("data", label_key):
        if key not in batch:
            raise ValueError(f"{where}: the batch has no {key!r} entry. Received keys: {sorted(map(str, batch))}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        got = f"shape {data.shape}, dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{where}: 'data' must be a uint8 array (N, {PIXELS}). Received: {got}")
    if data.shape[0] == 0:
        raise ValueError(f"{where}: the batch holds no images")
    y = _check_labels(batch[label_key], data.shape[0], num_classes, where, repr(label_key))
    return data.reshape(-1, 3, 32, 32), y


def read_binary_batch(f, where, n_label_bytes, label_index, num_classes, label_key):
    """``(x uint8 (N, 3, 32, 32), y (N,))`` of one binary batch read from the binary file ``f``."""
    try:
        data = f.read()
    except (EOFError, zlib.error, OSError) as e:
        raise ValueError(f"{where}: corrupt or truncated ({type(e).__name__}: {e})") from None
    record = n_label_bytes + PIXELS
    if not data:
        raise ValueError(f"{where}: the file is empty")
    if len(data) % record:
        raise ValueError(
            f"{where}: {len(data)} bytes is not a whole number of {record}-byte records "
            f"({n_label_bytes} label byte(s) and {PIXELS} pixels): the file is truncated or not a CIFAR binary batch"
        )
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    x = rows[:, n_label_bytes:].reshape(-1, 3, 32, 32)
    y = _check_labels(rows[:, label_index], rows.shape[0], num_classes, where, label_key)
    return x, y


# ---- a whole dataset --------------------------------------------------------------------------


def _reader(cifar: CifarSet, label_key: str, num_classes: int):
    label_index = cifar.binary_labels.index(label_key)

    def read(f, where, layout):
        if layout.binary:
            return read_binary_batch(f, where, len(cifar.binary_labels), label_index, num_classes, label_key)
        return read_python_batch(f, where, label_key, num_classes)

    return read


def _read_directory(cifar, found, read):
    layout = next(layout for layout in cifar.layouts if layout.members == found.form.members)
    batches = {}
    for m in layout.members:
        p = found.path / m
        with open(p, "rb") as f:
            batches[m] = read(f, str(p), layout)
    return layout, batches


def _read_archive(cifar, path: Path, read):
    wanted = {f"{layout.dirname}/{m}": (layout, m) for layout in cifar.layouts for m in layout.members}
    parsed = {layout.dirname: {} for layout in cifar.layouts}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # one pass over the (compressed) stream, members in archive order
                name = posixpath.normpath(member.name.lstrip("/"))
                if name not in wanted or not member.isfile():
                    continue
                layout, m = wanted[name]
                f = tar.extractfile(member)
                parsed[layout.dirname][m] = read(f, f"{path}[{name}]", layout)
                if len(parsed[layout.dirname]) == len(layout.members):
                    return layout, parsed[layout.dirname]
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(
            f"{path}: not a readable {cifar.title} archive (corrupt, truncated or not a tar file: "
            f"{type(e).__name__}: {e})"
        ) from None
    best = max(cifar.layouts, key=lambda layout: len(parsed[layout.dirname]))
    missing = [f"{best.dirname}/{m}" for m in best.members if m not in parsed[best.dirname]]
    expected = " or ".join(f"{layout.dirname}/{{{', '.join(layout.members)}}}" for layout in cifar.layouts)
    raise ValueError(
        f"{path}: not a complete {cifar.title} archive: it must hold {expected}; missing {', '.join(missing)}"
    )


def _stack(batches, names, label_dtype):
    """Channels-last C-contiguous images (N, 32, 32, 3) and labels (N, 1) of the batches ``names``."""
    n = sum(batches[m][0].shape[0] for m in names)
    x = np.empty((n, 32, 32, 3), dtype=np.uint8)
    y = np.empty((n, 1), dtype=label_dtype)
    i = 0
    for m in names:
        xb, yb = batches[m]
        k = xb.shape[0]
        x[i : i + k] = xb.transpose(0, 2, 3, 1)
        y[i : i + k, 0] = yb
        i += k
    return x, y


def load(cifar: CifarSet, path, label_key: str, num_classes: int, label_dtype):
    """Locate (searching, else downloading) and read the dataset: Keras's
    ``(x_train, y_train), (x_test, y_test)`` with channels-last images and (N, 1) labels."""
    found = _locate.locate_file(cifar.spec, path)
    read = _reader(cifar, label_key, num_classes)
    if found.form.is_dir:
        layout, batches = _read_directory(cifar, found, read)
    else:
        layout, batches = _read_archive(cifar, found.path, read)
    return _stack(batches, layout.train, label_dtype), _stack(batches, layout.test, label_dtype)
