"""fastnn.preprocessing — Keras's data preprocessing: ``image.ImageDataGenerator``."""

from . import image

__all__ = ["image"]
