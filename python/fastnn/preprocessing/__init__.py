"""fastnn.preprocessing — Keras's data preprocessing: ``image.ImageDataGenerator`` and
``sequence.pad_sequences``."""

from . import image, sequence

__all__ = ["image", "sequence"]
