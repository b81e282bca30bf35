"""fastnn.preprocessing — Keras's data preprocessing: ``image.ImageDataGenerator`` (``flow`` and
``flow_from_directory``), ``sequence.pad_sequences``, ``text.Tokenizer``, and Keras 2's paths of the dataset
functions (``image_dataset_from_directory``, ``text_dataset_from_directory``,
``timeseries_dataset_from_array``, also in `fastnn.utils`)."""

from .. import utils as _utils
from . import image, sequence, text

image_dataset_from_directory = _utils.image_dataset_from_directory
text_dataset_from_directory = _utils.text_dataset_from_directory
timeseries_dataset_from_array = _utils.timeseries_dataset_from_array

__all__ = ["image", "sequence", "text", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
