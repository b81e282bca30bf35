"""fastnn._directory_datasets — Keras 3's datasets from directories and its image file utilities.

``image_dataset_from_directory`` and ``text_dataset_from_directory`` find the files as Keras does
(``keras/src/utils/dataset_utils.py``'s ``index_directory``: the sorted class subdirectories, or
the ones named in ``class_names`` in that order; in each, ``os.walk`` sorted by directory, the
files sorted by name and kept by Keras's extensions; the global shuffle
``np.random.RandomState(seed).shuffle`` of the file list; the split, training first), print
Keras's messages, and return a `fastnn._batch_dataset.BatchDataset` of batches (``fit``,
``evaluate``, ``predict``, ``for x, y in ds``, ``ds.map(...)``...) with ``class_names`` and
``file_paths``. A file is read (an image decoded with Pillow and resized) when a batch holding it
is asked for, never all up front.

``load_img``, ``img_to_array``, ``array_to_img`` and ``save_img`` are Keras's
(``keras/src/utils/image_utils.py``), on Pillow images. The directory scan behind Keras 2's
``ImageDataGenerator.flow_from_directory`` (`fastnn.preprocessing.image`) is here too.

Pillow is optional: it is imported when an image is read or written; without it, those
functions raise ImportError ("pip install pillow").
"""

from __future__ import annotations

import codecs
import functools
import io
import os
import pathlib
import warnings

import numpy as np

from ._batch_dataset import BatchDataset, buffer_shuffle
from .utils import floatx

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # Keras 3's ALLOWLIST_FORMATS
TEXT_FORMATS = (".txt",)
RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
                         "mitchellcubic")
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_MISSING = object()


class DirectoryNotFoundError(FileNotFoundError, ValueError):
    """The ``directory`` given to a ``*_from_directory`` function is not a directory (a
    FileNotFoundError, as Keras's ``os.listdir`` raises, and a ValueError, as for bad input)."""


def _pil(fn):
    """Pillow's Image module, imported when an image is read or written."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(f"{fn} needs Pillow to read and write image files: pip install pillow") from e
    return Image


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_bool(value, name, fn):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: `{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def _check_data_format(data_format, fn):
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{fn}: `data_format` must be 'channels_last', 'channels_first' or None. Received: "
                         f"data_format={data_format!r}")
    return data_format


def _check_color_mode(color_mode, fn):
    if not isinstance(color_mode, str) or color_mode not in _CHANNELS:
        raise ValueError(f"{fn}: `color_mode` must be one of 'grayscale', 'rgb', 'rgba'. Received: "
                         f"color_mode={color_mode!r}")
    return _CHANNELS[color_mode]


def _check_size(size, name, fn, allow_int=False):
    """(height, width) from a pair of positive integers (or one integer where Keras takes it)."""
    if allow_int and _is_int(size):
        size = (size, size)
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(_is_int(v) and v > 0 for v in size):
        want = "an integer or a tuple" if allow_int else "a tuple"
        raise ValueError(f"{fn}: `{name}` must be {want} of 2 positive integers (height, width). Received: "
                         f"{name}={size!r}")
    return int(size[0]), int(size[1])


def _check_directory(directory, fn):
    try:
        path = os.fspath(directory)
    except TypeError:
        raise TypeError(f"{fn}: `directory` must be a path (a str or os.PathLike). Received: {directory!r}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not os.path.isdir(path):
        what = "is not a directory" if os.path.exists(path) else "does not exist"
        raise DirectoryNotFoundError(f"{fn}: `directory` must be an existing directory. Received: "
                                     f"directory={path!r}, which {what}")
    return path


# ---- finding the files ---------------------------------------------------------------------------------------


def iter_valid_files(directory, follow_links, formats):
    """(root, file name) of the files under ``directory`` whose lower-cased name ends with one of
    ``formats``: ``os.walk`` sorted by directory path, each directory's files sorted (Keras)."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0]):
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                yield root, fname


def list_class_files(directory, subdir, follow_links, formats, split=None):
    """The files of one class, as paths relative to ``directory`` (``subdir/...``; ``subdir`` ""
    for the whole tree), Keras's ``index_subdirectory``; with ``split`` (a pair of fractions),
    only that part of them, Keras 2's rule for ImageDataGenerator's subsets."""
    dirpath = os.path.join(directory, subdir)
    dirname = os.path.basename(dirpath)
    found = iter_valid_files(dirpath, follow_links, formats)
    if split is not None:
        found = list(found)
        found = found[int(split[0] * len(found)):int(split[1] * len(found))]
    return [os.path.join(dirname, os.path.relpath(os.path.join(root, fname), dirpath)) for root, fname in found]


def _index_directory(fn, directory, labels, formats, class_names, shuffle, seed, follow_links, verbose):
    """Keras's ``index_directory``: (file paths, labels (int32 array or None), class names)."""
    if isinstance(labels, str):  # "inferred"
        subdirs = [s for s in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, s)) and not s.startswith(".")]
        if class_names is not None:
            missing = [c for c in class_names if c not in subdirs]
            if missing:
                raise ValueError(f"{fn}: `class_names` must name subdirectories of the target directory. Expected "
                                 f"names among {subdirs}. Received: class_names={list(class_names)} "
                                 f"({missing} not found)")
            subdirs = list(class_names)  # keep the given order
    else:
        subdirs = [""]  # explicit labels or none: the whole tree, from the top
        if class_names is not None:
            if labels is None:
                raise ValueError(f"{fn}: `class_names` cannot be given when there are no labels (labels=None or "
                                 f"label_mode=None). Received: class_names={class_names!r}")
            raise ValueError(f"{fn}: `class_names` cannot be given with explicit `labels` (the class names are then "
                             f"the sorted labels). Received: class_names={class_names!r}")
    filenames, inferred = [], []
    for index, subdir in enumerate(subdirs):
        found = list_class_files(directory, subdir, follow_links, formats)
        filenames += found
        inferred += [index] * len(found)
    if isinstance(labels, str):
        labels = np.asarray(inferred, dtype=np.int32)
        names = list(subdirs)
    elif labels is None:
        names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError(f"{fn}: `labels` must have one label per file found. Received: len(labels)="
                             f"{len(labels)}, for {len(filenames)} files found in directory {directory!r}")
        names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels, dtype=np.int64)
    if verbose:
        if labels is None:
            print(f"Found {len(filenames)} files.")
        else:
            print(f"Found {len(filenames)} files belonging to {len(names)} classes.")
    file_paths = [os.path.join(directory, name) for name in filenames]
    if shuffle:  # Keras's global shuffle, "to erase macro-structure"
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, names


def _split(samples, labels, validation_split, subset):
    """Keras's ``get_training_or_validation_split``: training is the first part, validation the
    last ``int(validation_split * n)`` files (Keras prints these lines whatever ``verbose``)."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    num_train = len(samples) - num_val
    if subset == "training":
        print(f"Using {num_train} files for training.")
        part = slice(None, num_train)
    else:
        print(f"Using {num_val} files for validation.")
        part = slice(num_train, None)
    return samples[part], None if labels is None else labels[part]


def _encode_labels(labels, label_mode, num_classes):
    """Keras's label encodings: "int" int32 (n,), "binary" float32 (n, 1), "categorical"
    float32 one-hot (n, num_classes)."""
    if label_mode is None:
        return None
    if label_mode == "int":
        return labels.astype(np.int32)
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    out = np.zeros((len(labels), num_classes), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1
    return out


# ---- the dataset ---------------------------------------------------------------------------------------------


class DirectoryDataset(BatchDataset):
    """The batches of `image_dataset_from_directory` / `text_dataset_from_directory`: ``len()``
    batches of ``batch_size`` files (the last holds the rest; single files with
    ``batch_size=None``), ``(inputs, labels)`` each (inputs only without labels), read when asked
    for; ``class_names`` and ``file_paths`` (Keras's order, after its global shuffle). With
    ``shuffle``, each pass (``fit``'s epoch, a ``for`` loop) also goes through a shuffle buffer
    of ``8 * batch_size`` files, as Keras's ``ds.shuffle(buffer_size, seed)`` (see
    `fastnn._batch_dataset.buffer_shuffle`)."""

    def __init__(self, name, file_paths, labels, batch_size, shuffle, seed, loader, class_names):
        self._name = name
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self._labels = labels
        self.batch_size, self._shuffle, self.seed = batch_size, shuffle, seed
        self._loader = loader
        self._epoch = 0
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch):
        order = np.arange(len(self.file_paths))
        if not self._shuffle:
            return order
        return buffer_shuffle(order, 8 * self.batch_size if self.batch_size is not None else 1024, self.seed, epoch)

    def on_epoch_end(self):
        """Called by ``fit`` after each epoch (and at the end of each pass of a ``for`` loop):
        with shuffle, the next pass draws a new order."""
        self._epoch += 1
        if self._shuffle:
            self._order = self._epoch_order(self._epoch)

    @property
    def num_files(self):
        return len(self.file_paths)

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self.batch_size)

    def _sizes(self):
        if self.batch_size is None:
            return None  # single images or texts: unbatch splits their first axis
        n, b = len(self.file_paths), self.batch_size
        return [min(b, n - i * b) for i in range(len(self))]

    def _get(self, index):
        if self.batch_size is None:
            j = int(self._order[index])
            x = self._loader(self.file_paths[j])
            return x if self._labels is None else (x, self._labels[j])
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self._loader.stack([self._loader(self.file_paths[j]) for j in rows.tolist()])
        return x if self._labels is None else (x, self._labels[rows])

    def __repr__(self):
        return (f"<DirectoryDataset ({self._name}): {len(self.file_paths)} files, {len(self)} batches of "
                f"{self.batch_size}, labels={'no' if self._labels is None else 'yes'}>")


def _dataset_from_directory(fn, what, formats, loader, directory, labels, label_mode, class_names, batch_size,
                            shuffle, seed, validation_split, subset, follow_links, verbose):
    """The checks, the scan, the split and the dataset(s), shared by the image and text
    functions (``what``: "images" / "text files", for the messages)."""
    if seed is None:
        seed = int(np.random.randint(1e6))  # Keras draws it here, shuffled or not
    file_paths, labels, class_names = _index_directory(fn, directory, labels, formats, class_names, shuffle, seed,
                                                       follow_links, verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{fn}: label_mode='binary' needs exactly 2 classes. Received: class_names={class_names}")
    if label_mode == "categorical" and labels is not None and len(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= len(class_names):
            raise ValueError(f"{fn}: label_mode='categorical' needs labels in [0, {len(class_names)}) (one per "
                             f"class). Received labels from {low} to {high}")
    num_classes = len(class_names) if class_names else 0
    encoded = _encode_labels(labels, label_mode, num_classes)
    allowed = f"Allowed formats: {formats}" if len(formats) > 1 else f"Allowed format: {formats[0]}"

    def make(paths, part_labels, part_shuffle):
        return DirectoryDataset(fn, paths, part_labels, batch_size, part_shuffle, seed, loader, class_names)

    if subset == "both":
        train = _split(file_paths, encoded, validation_split, "training")
        val = _split(file_paths, encoded, validation_split, "validation")
        if not train[0]:
            raise ValueError(f"{fn}: no training {what} found in directory {directory!r}. {allowed}")
        if not val[0]:
            raise ValueError(f"{fn}: no validation {what} found in directory {directory!r}. {allowed}")
        return [make(*train, shuffle), make(*val, False)]  # Keras returns a list; the validation set unshuffled
    paths, part_labels = _split(file_paths, encoded, validation_split, subset)
    if not paths:
        raise ValueError(f"{fn}: no {what} found in directory {directory!r}. {allowed}")
    return make(paths, part_labels, shuffle)


def _check_common(fn, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split, subset,
                  follow_links, verbose):
    """The arguments both functions share, checked as Keras checks them (clearer messages):
    returns (labels, label_mode)."""
    want_labels = ("'inferred', None, or a list of integer labels (one per file, in the order of the sorted "
                   "file paths)")
    if isinstance(labels, str):
        if labels != "inferred":
            raise ValueError(f"{fn}: `labels` must be {want_labels}. Received: labels={labels!r}")
    elif labels is not None:
        if isinstance(labels, np.ndarray) and labels.ndim == 1:
            labels = labels.tolist()
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"{fn}: `labels` must be {want_labels}. Received: labels={labels!r}"[:400])
        bad = next((v for v in labels if not _is_int(v)), _MISSING)
        if bad is not _MISSING:
            raise ValueError(f"{fn}: `labels` must be integers. Received an element {bad!r} of type "
                             f"{type(bad).__name__}")
        labels = [int(v) for v in labels]
        if class_names:
            raise ValueError(f"{fn}: `class_names` can only be given with labels='inferred'. Received: labels="
                             f"{labels!r}, class_names={class_names!r}"[:400])
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"{fn}: `label_mode` must be one of 'int', 'categorical', 'binary', or None. Received: "
                         f"label_mode={label_mode!r}")
    if class_names is not None:
        if (not isinstance(class_names, (list, tuple)) or not all(isinstance(c, str) for c in class_names)
                or not class_names):
            raise ValueError(f"{fn}: `class_names` must be a list of subdirectory names (strings). Received: "
                             f"class_names={class_names!r}")
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"{fn}: `class_names` must not repeat a name. Received: class_names={class_names!r}")
    if batch_size is not None and not (_is_int(batch_size) and batch_size > 0):
        raise ValueError(f"{fn}: `batch_size` must be a positive integer or None (no batching). Received: "
                         f"batch_size={batch_size!r}")
    _check_bool(shuffle, "shuffle", fn)
    _check_bool(follow_links, "follow_links", fn)
    if not isinstance(verbose, (bool, np.bool_, int, np.integer)):
        raise TypeError(f"{fn}: `verbose` must be True or False. Received: verbose={verbose!r}")
    if seed is not None and not (_is_int(seed) and 0 <= seed < 2**32):
        raise ValueError(f"{fn}: `seed` must be an integer in [0, 2**32) or None. Received: seed={seed!r}")
    is_number = isinstance(validation_split, (int, float, np.integer, np.floating)) and \
        not isinstance(validation_split, (bool, np.bool_))
    if validation_split is not None and not is_number:
        raise ValueError(f"{fn}: `validation_split` must be a float between 0 and 1, or None. Received: "
                         f"validation_split={validation_split!r}")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"{fn}: `validation_split` must be between 0 and 1. Received: "
                         f"validation_split={validation_split!r}")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"{fn}: `subset` must be 'training', 'validation', 'both' or None. Received: "
                         f"subset={subset!r}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(f"{fn}: `validation_split` and `subset` go together: set both (a fraction and 'training', "
                         f"'validation' or 'both') or neither. Received: validation_split={validation_split!r}, "
                         f"subset={subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{fn}: with `validation_split` and shuffle=True, a `seed` is needed, so that the training "
                         "and validation subsets do not overlap (pass the same seed to both calls). Received: "
                         "seed=None")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    return labels, label_mode


# ---- images ----------------------------------------------------------------------------------------------


def _decode_image(path, num_channels, fn):
    """The image file at ``path`` as uint8 (H, W, num_channels), as TensorFlow's ``decode_image``
    gives it (the first frame of a GIF; 16-bit samples reduced to their high byte), decoded
    with Pillow (grayscale: Pillow's ITU-R 601-2 luma)."""
    Image = _pil(fn)
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I", "F") or img.mode.startswith("I;16"):  # 16-bit grayscale
                gray = np.asarray(img)
                gray = np.clip(gray.astype(np.int64) >> 8 if gray.dtype.kind in "iu" else gray, 0, 255)
                gray = gray.astype(np.uint8)[:, :, None]
                x = gray if num_channels == 1 else np.repeat(gray, 3, axis=2)
                if num_channels == 4:
                    x = np.concatenate([x, np.full_like(gray, 255)], axis=2)
                return x
            target = {1: "L", 3: "RGB", 4: "RGBA"}[num_channels]
            x = np.asarray(img if img.mode == target else img.convert(target))
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError... for a bad file
        raise ValueError(f"{fn}: cannot decode the image file {path!r} ({type(e).__name__}: {e})") from e
    return x[:, :, None] if x.ndim == 2 else x


def _mitchell_cubic(t):
    t = np.abs(t)
    return np.where(t < 1, ((7 / 6 * t - 2) * t) * t + 8 / 9,
                    np.where(t < 2, ((-7 / 18 * t + 2) * t - 10 / 3) * t + 16 / 9, 0.0))


def _gaussian(t):
    t = np.abs(t)
    return np.where(t < 1.5, np.exp(-t * t / (2 * 0.5 ** 2)), 0.0)


@functools.lru_cache(maxsize=256)
def _resize_taps(n_in, n_out, interpolation):
    """How one axis is resized (TensorFlow's ``image.resize``, half-pixel centres, no
    antialiasing, as Keras's pipeline calls it): (indices, weights), each (n_out, taps), or None
    when the size does not change. The weights are those of fastnn's Resizing layer
    (`fastnn.layers.augmentation`); "gaussian" and "mitchellcubic" are TensorFlow's
    scale-and-translate kernels of the same form."""
    if n_in == n_out:
        return None
    if interpolation in ("gaussian", "mitchellcubic"):
        kernel = _gaussian if interpolation == "gaussian" else _mitchell_cubic
        centre = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        m = kernel(np.arange(n_in)[None, :] - centre[:, None])
        total = m.sum(axis=1, keepdims=True)
        m = np.where(np.abs(total) > 1e-4, m / np.where(total != 0, total, 1), 0.0)
    else:
        from .layers.augmentation import _resize_matrix  # (imported here: the layers import fastnn.utils)

        m = _resize_matrix(n_in, n_out, interpolation, False)
    nonzero = m != 0
    has = nonzero.any(axis=1)
    first = np.where(has, nonzero.argmax(axis=1), 0)
    last = np.where(has, n_in - 1 - nonzero[:, ::-1].argmax(axis=1), 0)
    taps = int((last - first).max()) + 1
    index = first[:, None] + np.arange(taps)
    weights = np.where(index <= last[:, None], np.take_along_axis(m, np.minimum(index, n_in - 1), axis=1), 0.0)
    return np.minimum(index, n_in - 1), weights.astype(np.float32)


def _resize_axis(x, taps, axis):
    if taps is None:
        return x
    index, weights = taps
    if index.shape[1] == 1 and np.all(weights == 1):  # nearest: a gather
        return np.take(x, index[:, 0], axis=axis)
    shape = [1] * x.ndim
    shape[axis] = index.shape[0]
    out = np.take(x, index[:, 0], axis=axis) * weights[:, 0].reshape(shape)
    for k in range(1, index.shape[1]):
        out += np.take(x, index[:, k], axis=axis) * weights[:, k].reshape(shape)
    return out


def _resize(x, size, interpolation):
    """(h, w, c) float32 resized to ``size`` (height, width), one axis after the other."""
    h, w = x.shape[:2]
    x = _resize_axis(x, _resize_taps(h, size[0], interpolation), 0)
    return _resize_axis(x, _resize_taps(w, size[1], interpolation), 1)


def _aspect_crop(h, w, target_h, target_w):
    """Keras's ``smart_resize`` window: the largest centred crop with the target aspect ratio,
    (top, left, height, width)."""
    crop_h = max(min(h, int(float(w * target_h) / target_w)), 1)
    crop_w = max(min(w, int(float(h * target_w) / target_h)), 1)
    return int((h - crop_h) / 2), int((w - crop_w) / 2), crop_h, crop_w


def _resize_with_pad(x, size, interpolation):
    """TensorFlow's ``image.resize_with_pad`` (Keras's pad_to_aspect_ratio in its pipeline):
    resize to fit inside ``size`` keeping the aspect ratio (float32 arithmetic, as TensorFlow),
    then pad with zeros, centred."""
    h, w = x.shape[:2]
    f32 = np.float32
    ratio = max(f32(w) / f32(size[1]), f32(h) / f32(size[0]))
    rh, rw = f32(h) / ratio, f32(w) / ratio
    top = max(0, int(np.floor((f32(size[0]) - rh) / f32(2))))
    left = max(0, int(np.floor((f32(size[1]) - rw) / f32(2))))
    rh, rw = max(1, int(np.floor(rh))), max(1, int(np.floor(rw)))
    out = np.zeros((size[0], size[1], x.shape[2]), dtype=np.float32)
    out[top:top + rh, left:left + rw] = _resize(x, (rh, rw), interpolation)
    return out


class _ImageLoader:
    """Reads one image file as Keras's pipeline does: decode to ``num_channels``, then resize to
    ``image_size`` (after the crop, or with the pad, to the aspect ratio), float32."""

    def __init__(self, fn, image_size, num_channels, interpolation, crop, pad, data_format):
        self.fn, self.image_size, self.num_channels = fn, image_size, num_channels
        self.interpolation, self.crop, self.pad, self.data_format = interpolation, crop, pad, data_format

    def __call__(self, path):
        x = _decode_image(path, self.num_channels, self.fn).astype(np.float32)
        if self.crop:
            top, left, h, w = _aspect_crop(x.shape[0], x.shape[1], *self.image_size)
            x = _resize(x[top:top + h, left:left + w], self.image_size, self.interpolation)
        elif self.pad:
            x = _resize_with_pad(x, self.image_size, self.interpolation)
        else:
            x = _resize(x, self.image_size, self.interpolation)
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x.transpose(2, 0, 1).copy() if self.data_format == "channels_first" else x

    @staticmethod
    def stack(images):
        return np.stack(images).astype(np.float32, copy=False)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None, validation_split=None,
                                 subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 format="tf", verbose=True):
    """Batches of images (and labels) from the image files of a directory (Keras 3's
    ``keras.utils.image_dataset_from_directory``, same files, order, labels, splits and
    messages).

    With ``labels="inferred"``, each subdirectory of ``directory`` is a class (sorted by name,
    hidden ones skipped; or those of ``class_names``, in its order), holding its images at any
    depth; the label of an image is its class's index. ``labels=None`` (or ``label_mode=None``)
    takes every image under ``directory`` with no labels; a list gives one integer label per
    image, in the sorted order of the file paths. Image files: .bmp, .gif (first frame), .jpeg,
    .jpg, .png (any case).

    Args:
        label_mode: "int" (int32 labels, (batch,)), "categorical" (float32 one-hot,
            (batch, num_classes)), "binary" (float32, (batch, 1); two classes) or None.
        color_mode: "grayscale", "rgb" or "rgba": 1, 3 or 4 channels.
        batch_size: images per batch (the last batch holds the rest); None yields single images.
        image_size: (height, width) every image is resized to: bilinear (or ``interpolation``:
            "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic"),
            half-pixel centres and no antialiasing, as TensorFlow's ``image.resize`` in Keras's
            pipeline.
        shuffle, seed: shuffle the files (Keras's ``RandomState(seed)`` shuffle of the list,
            then, at each pass, a shuffle buffer of ``8 * batch_size``); without shuffle, the
            sorted order. A ``seed`` of None is drawn from NumPy's global generator, as Keras does.
        validation_split, subset: keep the first ``1 - validation_split`` of the (shuffled)
            files ("training"), the rest ("validation"), or both (a list of two datasets; the
            validation one unshuffled). A seed is needed with shuffle, as in Keras.
        crop_to_aspect_ratio: resize the largest centred window with the target aspect ratio
            (Keras's ``smart_resize``). pad_to_aspect_ratio: resize to fit, then pad with zeros
            (TensorFlow's ``resize_with_pad``). At most one.
        data_format: "channels_last" (default: (batch, height, width, channels)) or
            "channels_first". format: "tf" or "grain" (both give this dataset). verbose: print
            "Found N files belonging to K classes.".

    Returns a `DirectoryDataset` (a `fastnn.utils.Sequence` that iterates like a ``tf.data``
    dataset: ``model.fit(ds, validation_data=val_ds)``, ``for images, labels in ds.take(1)``,
    ``ds.map(...)``, ``ds.prefetch(AUTOTUNE)``) with ``class_names`` and ``file_paths``; float32
    images, decoded with Pillow (``pip install pillow``) when a batch is asked for.
    """
    fn = "image_dataset_from_directory"
    labels, label_mode = _check_common(fn, labels, label_mode, class_names, batch_size, shuffle, seed,
                                       validation_split, subset, follow_links, verbose)
    num_channels = _check_color_mode(color_mode, fn)
    image_size = _check_size(image_size, "image_size", fn, allow_int=True)
    if not isinstance(interpolation, str) or interpolation.lower() not in RESIZE_INTERPOLATIONS:
        raise ValueError(f"{fn}: `interpolation` must be one of {RESIZE_INTERPOLATIONS}. Received: "
                         f"interpolation={interpolation!r}")
    interpolation = interpolation.lower()
    crop = _check_bool(crop_to_aspect_ratio, "crop_to_aspect_ratio", fn)
    pad = _check_bool(pad_to_aspect_ratio, "pad_to_aspect_ratio", fn)
    if crop and pad:
        raise ValueError(f"{fn}: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
                         "Received: both True")
    data_format = _check_data_format(data_format, fn)
    if format not in ("tf", "grain"):
        raise ValueError(f"{fn}: `format` must be 'tf' or 'grain'. Received: format={format!r}")
    directory = _check_directory(directory, fn)
    _pil(fn)  # fail now, not at the first batch
    loader = _ImageLoader(fn, image_size, num_channels, interpolation, crop, pad, data_format)
    return _dataset_from_directory(fn, "images", IMAGE_FORMATS, loader, directory, labels, label_mode, class_names,
                                   batch_size, shuffle, seed, validation_split, subset, follow_links, verbose)


# ---- text ------------------------------------------------------------------------------------------------


class _TextLoader:
    """Reads one text file: its bytes, cut to ``max_length`` bytes as TensorFlow's
    ``strings.substr`` does, decoded as UTF-8 (a character cut in two is dropped; invalid bytes
    become U+FFFD)."""

    def __init__(self, max_length):
        self.max_length = max_length

    def __call__(self, path):
        with open(path, "rb") as f:
            data = f.read() if self.max_length is None else f.read(self.max_length + 1)
        cut = self.max_length is not None and len(data) > self.max_length
        if cut:
            data = data[:self.max_length]
        return codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=not cut)

    @staticmethod
    def stack(texts):
        return np.asarray(texts, dtype=np.str_)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Batches of texts (and labels) from the .txt files of a directory (Keras 3's
    ``keras.utils.text_dataset_from_directory``: the files, order, labels, splits and messages
    of `image_dataset_from_directory`, for ``.txt`` files).

    A batch of texts is a NumPy array of str, shape (batch,) (each file's content, decoded as
    UTF-8; with ``max_length``, its first ``max_length`` bytes, as TensorFlow cuts them), ready for
    a ``TextVectorization`` layer (``vectorize_layer.adapt(ds.map(lambda x, y: x))``). Labels as
    in `image_dataset_from_directory`. Returns a `DirectoryDataset` with ``class_names``.
    """
    fn = "text_dataset_from_directory"
    labels, label_mode = _check_common(fn, labels, label_mode, class_names, batch_size, shuffle, seed,
                                       validation_split, subset, follow_links, verbose)
    if max_length is not None and not (_is_int(max_length) and max_length > 0):
        raise ValueError(f"{fn}: `max_length` must be a positive integer or None. Received: max_length={max_length!r}")
    if format not in ("tf", "grain"):
        raise ValueError(f"{fn}: `format` must be 'tf' or 'grain'. Received: format={format!r}")
    directory = _check_directory(directory, fn)
    return _dataset_from_directory(fn, "text files", TEXT_FORMATS, _TextLoader(max_length), directory, labels,
                                   label_mode, class_names, batch_size, shuffle, seed, validation_split, subset,
                                   follow_links, verbose)


# ---- audio ----------------------------------------------------------------------------------------------

AUDIO_FORMATS = (".wav",)


def _fft_resample(audio, num):
    """``audio`` (samples, channels) resampled to ``num`` samples by zero-padding or cutting its
    spectrum (scipy's ``signal.resample``, which Keras's scipy path uses)."""
    n = audio.shape[0]
    spectrum = np.fft.rfft(audio.astype(np.float64), axis=0)
    out = np.zeros((num // 2 + 1,) + audio.shape[1:], dtype=spectrum.dtype)
    keep = min(num, n)
    nyquist = keep // 2 + 1
    out[:nyquist] = spectrum[:nyquist]
    if keep % 2 == 0:
        if num < n:
            out[keep // 2] *= 2.0
        elif n < num:
            out[keep // 2] *= 0.5
    return (np.fft.irfft(out, num, axis=0) * (float(num) / float(n))).astype(np.float32)


class _AudioLoader:
    """Reads one WAV file as float32 (samples, channels) in [-1, 1) (`fastnn._signal.decode_wav_bytes`,
    TensorFlow's ``audio.decode_wav`` scaling), resampled to ``sampling_rate`` if given, cut or
    zero-padded to ``output_sequence_length`` if given; a batch pads its clips with zeros to the
    longest (Keras's ``padded_batch``)."""

    def __init__(self, fn, sampling_rate, output_sequence_length):
        self.fn, self.sampling_rate, self.length = fn, sampling_rate, output_sequence_length

    def __call__(self, path):
        from ._signal import decode_wav_bytes

        with open(path, "rb") as f:
            data = f.read()
        try:
            audio, rate = decode_wav_bytes(data)  # (its errors name tf.audio.decode_wav)
        except ValueError as e:
            raise ValueError(f"{self.fn}: cannot decode the WAV file {path!r}: {e}") from None
        if self.sampling_rate is not None and rate != self.sampling_rate and len(audio):
            audio = _fft_resample(audio, max(1, int(round(len(audio) * self.sampling_rate / rate))))
        if self.length is not None:
            audio = audio[:self.length]
            if len(audio) < self.length:
                audio = np.concatenate([audio, np.zeros((self.length - len(audio), audio.shape[1]), np.float32)])
        return np.ascontiguousarray(audio, dtype=np.float32)

    def stack(self, clips):
        channels = {c.shape[1] for c in clips}
        if len(channels) > 1:
            raise ValueError(f"{self.fn}: the WAV files of one batch have different numbers of channels "
                             f"({sorted(channels)}); a batch needs one (convert the files, or use batch_size=None)")
        longest = max(len(c) for c in clips)
        out = np.zeros((len(clips), longest, clips[0].shape[1]), dtype=np.float32)
        for i, c in enumerate(clips):
            out[i, :len(c)] = c
        return out


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, format="tf",
                                 verbose=True):
    """Batches of audio clips (and labels) from the .wav files of a directory (Keras 3's
    ``keras.utils.audio_dataset_from_directory``: the files, order, labels, splits, shuffling and
    messages of `image_dataset_from_directory`, for ``.wav`` files).

    A batch of audio is float32 (batch, samples, channels), each file decoded as TensorFlow's
    ``tf.audio.decode_wav`` does (16-bit PCM divided by 32768; 8, 24, 32-bit PCM and float files
    too): with ``output_sequence_length``, each clip cut or zero-padded to that many samples;
    without, each batch zero-padded to its longest clip (Keras's ``padded_batch``). With
    ``sampling_rate``, each clip is first resampled to it by cutting or zero-padding its spectrum
    (scipy's ``signal.resample``, Keras's scipy path; Keras's TensorFlow path needs tensorflow-io).
    ``ragged=True`` is not supported (fastnn's ragged tensors are 2-D). Labels as in
    `image_dataset_from_directory`; ``subset="both"`` returns a (training, validation) tuple.
    """
    fn = "audio_dataset_from_directory"
    if format not in ("tf", "grain"):
        raise ValueError(f'{fn}: `format` should be either "tf" or "grain". Received: format={format!r}')
    labels, label_mode = _check_common(fn, labels, label_mode, class_names, batch_size, shuffle, seed,
                                       validation_split, subset, follow_links, verbose)
    if ragged and output_sequence_length is not None:
        raise ValueError(f"{fn}: Cannot set both `ragged` and `output_sequence_length`")
    if ragged:
        raise NotImplementedError(f"{fn}: ragged=True is not supported (fastnn's ragged tensors are 2-D, audio "
                                  "batches are (batch, samples, channels)); leave ragged=False (each batch padded "
                                  "with zeros to its longest clip) or give output_sequence_length")
    if output_sequence_length is not None and not (_is_int(output_sequence_length) and output_sequence_length > 0):
        raise ValueError(f"{fn}: `output_sequence_length` must be a positive integer or None. Received: "
                         f"output_sequence_length={output_sequence_length!r}")
    if sampling_rate is not None:
        if not _is_int(sampling_rate):
            raise ValueError(f"{fn}: `sampling_rate` should have an integer value. Received: "
                             f"sampling_rate={sampling_rate!r}")
        if sampling_rate <= 0:
            raise ValueError(f"{fn}: `sampling_rate` should be higher than 0. Received: sampling_rate={sampling_rate}")
    directory = _check_directory(directory, fn)
    loader = _AudioLoader(fn, None if sampling_rate is None else int(sampling_rate),
                          None if output_sequence_length is None else int(output_sequence_length))
    made = _dataset_from_directory(fn, "audio files", AUDIO_FORMATS, loader, directory, labels, label_mode,
                                   class_names, batch_size, shuffle, seed, validation_split, subset, follow_links,
                                   verbose)
    return tuple(made) if isinstance(made, list) else made


# ---- image files (keras.utils.load_img and co) -----------------------------------------------------------


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """An image file as a Pillow image (Keras's ``keras.utils.load_img``).

    Args:
        path: a path (str, bytes, os.PathLike) or a file object (``io.BytesIO``).
        color_mode: "grayscale" (kept as it is when already 8, 16 or 32-bit grayscale, else
            converted to 8-bit "L"), "rgb" or "rgba".
        target_size: None (the file's size) or (height, width), resized with Pillow's
            ``interpolation``: "nearest" (default), "bilinear", "bicubic", "hamming", "box" or
            "lanczos".
        keep_aspect_ratio: resize the largest centred window with the target aspect ratio
            instead of the whole image.
    """
    fn = "load_img"
    Image = _pil(fn)
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f"{fn}: `color_mode` must be 'grayscale', 'rgb' or 'rgba'. Received: "
                         f"color_mode={color_mode!r}")
    if target_size is not None:
        target_size = _check_size(target_size, "target_size", fn)
        if interpolation not in PIL_INTERPOLATIONS:
            raise ValueError(f"{fn}: `interpolation` must be one of {PIL_INTERPOLATIONS}. Received: "
                             f"interpolation={interpolation!r}")
    if isinstance(path, io.IOBase) or hasattr(path, "read"):
        source, name = path, repr(path)
    elif isinstance(path, (str, bytes, os.PathLike)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            source, name = io.BytesIO(f.read()), repr(os.fsdecode(path))
    else:
        raise TypeError(f"{fn}: `path` must be a path (str, bytes, os.PathLike) or a file object (io.BytesIO). "
                        f"Received: {type(path).__name__}")
    try:
        img = Image.open(source)
        img.load()
    except Exception as e:
        raise ValueError(f"{fn}: cannot decode the image file {name} ({type(e).__name__}: {e})") from e
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if img.size != width_height:
            resample = getattr(Image.Resampling, interpolation.upper())
            if keep_aspect_ratio:
                width, height = img.size
                crop_height = min(height, (width * width_height[1]) // width_height[0])
                crop_width = min(width, (height * width_height[0]) // width_height[1])
                top, left = (height - crop_height) // 2, (width - crop_width) // 2
                img = img.resize(width_height, resample, box=(left, top, left + crop_width, top + crop_height))
            else:
                img = img.resize(width_height, resample)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image (or anything NumPy reads as an image) as a rank-3 array, (height, width,
    channels) (channels first with ``data_format="channels_first"``), of ``dtype`` (default:
    `fastnn.utils.floatx`) (Keras's ``keras.utils.img_to_array``)."""
    fn = "img_to_array"
    data_format = _check_data_format(data_format, fn)
    x = np.asarray(img, dtype=dtype or floatx())
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    if x.ndim == 2:
        return x.reshape((1,) + x.shape) if data_format == "channels_first" else x.reshape(x.shape + (1,))
    raise ValueError(f"{fn}: expected an image of rank 2 or 3. Received: an array of shape {x.shape}")


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A rank-3 array as a Pillow image (Keras's ``keras.utils.array_to_img``): 4 channels
    "RGBA", 3 "RGB", 1 "L" (or 32-bit "I" when a value exceeds 255); ``scale`` first maps the
    array's minimum to 0 and its maximum to 255."""
    fn = "array_to_img"
    data_format = _check_data_format(data_format, fn)
    Image = _pil(fn)
    x = np.asarray(x, dtype=dtype or floatx())
    if x.ndim != 3:
        raise ValueError(f"{fn}: expected a single image of rank 3 (height, width, channels). Received: an array "
                         f"of shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    if x.shape[2] in (3, 4):  # RGB, RGBA (Pillow takes the mode from the shape and dtype)
        return Image.fromarray(x.astype("uint8"))
    if x.shape[2] == 1:
        if np.max(x) > 255:  # a 32-bit signed integer grayscale image
            return Image.fromarray(x[:, :, 0].astype("int32"))
        return Image.fromarray(x[:, :, 0].astype("uint8"))
    raise ValueError(f"{fn}: expected 1, 3 or 4 channels. Received: an image of shape {x.shape} "
                     f"({data_format})")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save an image array to a path or file object (Keras's ``keras.utils.save_img``): the
    format from the file's extension unless ``file_format`` is given (needed for a file object);
    an RGBA image saved as JPEG is converted to RGB (with a warning). ``kwargs`` go to Pillow's
    ``Image.save``."""
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format or None, **kwargs)


__all__ = ["image_dataset_from_directory", "text_dataset_from_directory", "audio_dataset_from_directory",
           "DirectoryDataset", "load_img",
           "img_to_array", "array_to_img", "save_img", "DirectoryNotFoundError"]
