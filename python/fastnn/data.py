"""fastnn.data — the part of ``tf.data`` course scripts use to feed ``fit``:
``Dataset.from_tensor_slices((x, y)).shuffle(buffer_size).batch(batch_size)`` and ``AUTOTUNE``.
The datasets are fastnn's `BatchDataset`s (lazy, NumPy elements; ``map``, ``prefetch``,
``cache``, ``take``, ``skip``, ``shuffle``, ``repeat``, ``batch``, ``unbatch``; ``Dataset.range``),
and ``TextLineDataset`` for a text file's lines."""

import types

import numpy as np

from ._batch_dataset import AUTOTUNE, BatchDataset, Dataset, TensorSlices
from ._csv import CsvDataset, file_lines, make_csv_dataset

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
    lines = [line for file in file_lines(filenames, compression_type, "TextLineDataset") for line in file]
    ds = TensorSlices(np.array(lines, dtype=str) if lines else np.zeros((0,), dtype=str))
    ds._name = "TextLineDataset"
    return ds
