"""fastnn.data — the part of ``tf.data`` course scripts use to feed ``fit``:
``Dataset.from_tensor_slices((x, y)).shuffle(buffer_size).batch(batch_size)`` and ``AUTOTUNE``.
The datasets are fastnn's `BatchDataset`s (lazy, NumPy elements; ``map``, ``prefetch``,
``cache``, ``take``, ``skip``, ``shuffle``, ``repeat``, ``batch``, ``unbatch``; ``Dataset.range``),
and ``TextLineDataset`` for a text file's lines."""

import gzip
import types
import zlib

import numpy as np

from ._batch_dataset import AUTOTUNE, BatchDataset, Dataset, TensorSlices
from ._csv import CsvDataset, make_csv_dataset

__all__ = ["AUTOTUNE", "BatchDataset", "Dataset", "INFINITE_CARDINALITY", "TextLineDataset", "UNKNOWN_CARDINALITY",
           "experimental"]

INFINITE_CARDINALITY, UNKNOWN_CARDINALITY = -1, -2
# (TensorFlow 2.x before 2.4: tf.data.experimental.AUTOTUNE; the transfer-learning tutorial's cardinality)
experimental = types.SimpleNamespace(AUTOTUNE=AUTOTUNE, cardinality=lambda dataset: dataset.cardinality(),
                                     INFINITE_CARDINALITY=INFINITE_CARDINALITY,
                                     UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY, Counter=Dataset.counter,
                                     sample_from_datasets=Dataset.sample_from_datasets,
                                     choose_from_datasets=Dataset.choose_from_datasets, CsvDataset=CsvDataset,
                                     make_csv_dataset=make_csv_dataset)


def TextLineDataset(filenames, compression_type=None, buffer_size=None, num_parallel_reads=None, name=None):
    """The lines of the text files ``filenames`` (one or a list), in order, one string element each,
    without their line endings, as ``tf.data.TextLineDataset`` (``compression_type`` "", "GZIP" or "ZLIB")."""
    paths = [filenames] if isinstance(filenames, (str, bytes)) or hasattr(filenames, "__fspath__") else \
        list(np.asarray(filenames).reshape(-1).tolist())
    kind = (compression_type or "").upper()
    if kind not in ("", "GZIP", "ZLIB"):
        raise ValueError(f"TextLineDataset: compression_type must be '', 'GZIP' or 'ZLIB'. "
                         f"Received: {compression_type!r}")
    lines = []
    for path in paths:
        path = path.decode() if isinstance(path, bytes) else path
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise FileNotFoundError(f"TextLineDataset: cannot read {str(path)!r}: {e.strerror}") from None
        data = gzip.decompress(data) if kind == "GZIP" else zlib.decompress(data) if kind == "ZLIB" else data
        text = data.decode("utf-8", errors="replace")
        file_lines = text.split("\n")
        if file_lines and file_lines[-1] == "":
            file_lines.pop()  # (a final newline ends the last line; it does not start an empty one)
        lines += [line[:-1] if line.endswith("\r") else line for line in file_lines]
    ds = TensorSlices(np.array(lines, dtype=str) if lines else np.zeros((0,), dtype=str))
    ds._name = "TextLineDataset"
    return ds
