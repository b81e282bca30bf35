"""fastnn.data — the part of ``tf.data`` course scripts use to feed ``fit``:
``Dataset.from_tensor_slices((x, y)).shuffle(buffer_size).batch(batch_size)`` and ``AUTOTUNE``.
The datasets are fastnn's `BatchDataset`s (lazy, NumPy elements; ``map``, ``prefetch``,
``cache``, ``take``, ``skip``, ``shuffle``, ``repeat``, ``batch``, ``unbatch``; ``Dataset.range``)."""

from ._batch_dataset import AUTOTUNE, BatchDataset, Dataset

__all__ = ["AUTOTUNE", "BatchDataset", "Dataset"]
