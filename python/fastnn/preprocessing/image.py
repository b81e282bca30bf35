"""fastnn.preprocessing.image — Keras's ImageDataGenerator: real-time data augmentation.

``ImageDataGenerator(rotation_range=10, width_shift_range=0.1, ...).flow(x, y, batch_size=32)``
gives an endless iterator (and a Keras Sequence) of randomly transformed batches for
`Model.fit`. The transforms follow Keras's ``apply_affine_transform``: rotation, shift, shear and
zoom compose into one affine map about the image centre, sampled with linear interpolation
(``interpolation_order=1``, or 0 for nearest) and ``fill_mode`` outside the image, as
``scipy.ndimage.affine_transform`` does; then the channel shift, then the flips. The random
parameters are drawn from NumPy's global generator as Keras draws them (seeded by
`fastnn.utils.set_random_seed`). It runs on channels-last arrays in NumPy, the whole batch in
one gather, with no SciPy. Against Keras 3's code with SciPy (tf.keras's since 2.9), random
transforms give the same pixels; a position that lands exactly on a tie (a pure 45 or 90 degree turn) may round to
the other side with ``interpolation_order=0`` or ``fill_mode="wrap"``.

``flow_from_directory(directory, target_size=(256, 256), ...)`` reads the images of a directory
with one subdirectory per class (Keras 2's ``DirectoryIterator``: classes sorted, ``class_indices``,
``filenames``, ``samples``, the "Found N images belonging to K classes." message, ``validation_split``
subsets taken per class), loading each batch's files when it is asked for with `load_img`
(Pillow, ``pip install pillow``), then the same transforms and normalisation as ``flow``.
Keras's image file helpers are here too: `load_img`, `img_to_array`, `array_to_img`,
`save_img` (also ``fastnn.utils.load_img``...).

Not supported (each a clear error): zca_whitening, brightness_range (Keras goes through PIL),
``fit(augment=True)``, and reading images from data frames.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .._directory_datasets import (PIL_INTERPOLATIONS, _check_directory, _check_size, _pil, array_to_img,
                                   img_to_array, list_class_files, load_img, save_img)
from ..utils import Sequence

_DIRECTORY_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")  # Keras 2's white_list_formats


def _range(value, name):
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"ImageDataGenerator: {name} must be a non-negative number. Received: {name}={value!r}")
    return v


class ImageDataGenerator:
    """Random transforms and normalisation of image batches (Keras's arguments and defaults).

    Args:
        featurewise_center, featurewise_std_normalization: subtract the data's per-channel mean
            / divide by its std (from `fit`). samplewise_center, samplewise_std_normalization:
            the same per image.
        rotation_range: degrees, a rotation drawn from [-r, r].
        width_shift_range, height_shift_range: a float below 1 is a fraction of the width
            (height), 1 or more pixels; a shift drawn from [-r, r]. An int or a list: drawn from
            those values, with a random sign.
        shear_range: degrees (counter-clockwise). zoom_range: a float z for [1 - z, 1 + z], or
            [lower, upper]; each axis is zoomed independently.
        channel_shift_range: a shift drawn from [-r, r] added to every channel (clipped to the
            image's range, as Keras does).
        fill_mode: "nearest", "constant" (with ``cval``), "reflect" or "wrap".
        horizontal_flip, vertical_flip: flip half of the images.
        rescale: a factor applied after the transforms (``1/255``).
        preprocessing_function: applied to each image first (after the transforms).
        validation_split: the fraction `flow(subset="validation")` takes (from the start).
        interpolation_order: 1 (linear, Keras's default) or 0 (nearest).
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        if zca_whitening:
            raise ValueError("ImageDataGenerator: zca_whitening is not supported")
        if brightness_range is not None:
            raise ValueError("ImageDataGenerator: brightness_range is not supported (Keras applies it through PIL). "
                             f"Received: brightness_range={brightness_range!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"ImageDataGenerator: only data_format='channels_last' is supported. "
                             f"Received: data_format={data_format!r}")
        if fill_mode not in ("nearest", "constant", "reflect", "wrap"):
            raise ValueError("ImageDataGenerator: fill_mode must be one of 'nearest', 'constant', 'reflect', 'wrap'. "
                             f"Received: fill_mode={fill_mode!r}")
        if interpolation_order not in (0, 1):
            raise ValueError("ImageDataGenerator: interpolation_order must be 0 (nearest) or 1 (linear). "
                             f"Received: interpolation_order={interpolation_order!r}")
        if not 0 <= float(validation_split) < 1:
            raise ValueError(f"ImageDataGenerator: validation_split must be in [0, 1). Received: {validation_split!r}")
        self.featurewise_center, self.samplewise_center = bool(featurewise_center), bool(samplewise_center)
        self.featurewise_std_normalization = bool(featurewise_std_normalization)
        self.samplewise_std_normalization = bool(samplewise_std_normalization)
        self.rotation_range = _range(rotation_range, "rotation_range")
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.shear_range = _range(shear_range, "shear_range")
        if isinstance(zoom_range, (int, float, np.integer, np.floating)):
            z = _range(zoom_range, "zoom_range")
            self.zoom_range = (1 - z, 1 + z)
        elif isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2:
            self.zoom_range = (float(zoom_range[0]), float(zoom_range[1]))
        else:
            raise ValueError(f"ImageDataGenerator: zoom_range must be a float or [lower, upper]. "
                             f"Received: {zoom_range!r}")
        self.channel_shift_range = _range(channel_shift_range, "channel_shift_range")
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.validation_split = float(validation_split)
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or "float32")
        self.mean = self.std = None

    # -- statistics and normalisation -----------------------------------------------------------

    def fit(self, x, augment=False, rounds=1, seed=None):
        """The per-channel mean and std of ``x`` (N, rows, cols, channels), for the featurewise
        options, of ``x`` times ``rescale`` (as Keras's, which rescales first)."""
        if augment:
            raise ValueError("ImageDataGenerator.fit: augment=True is not supported")
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: expected images of rank 4 (N, rows, cols, channels). "
                             f"Received: shape={x.shape}")
        if self.rescale:
            x = x * self.rescale
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, 1, 2)).reshape(1, 1, -1)
            x = x - self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, 1, 2)).reshape(1, 1, -1)

    def standardize(self, x):
        """The normalisation of one image, in Keras's order: preprocessing_function, rescale,
        samplewise, featurewise."""
        if self.preprocessing_function is not None:
            x = self.preprocessing_function(x)
        if self.rescale:
            x = x * self.rescale
        if self.samplewise_center:
            x = x - np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x = x / (np.std(x, keepdims=True) + 1e-6)
        if self.featurewise_center:
            if self.mean is None:
                raise ValueError("ImageDataGenerator: featurewise_center needs the data's mean; call "
                                 "fit(x_train) first")
            x = x - self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                raise ValueError("ImageDataGenerator: featurewise_std_normalization needs the data's std; call "
                                 "fit(x_train) first")
            x = x / (self.std + 1e-6)
        return x

    # -- random transforms ----------------------------------------------------------------------

    def _shift(self, spec, size):
        if not spec:
            return 0.0
        if isinstance(spec, (list, tuple, np.ndarray)) or isinstance(spec, (int, np.integer)):
            shift = float(np.random.choice(spec)) * np.random.choice([-1, 1])
            largest = max(spec) if isinstance(spec, (list, tuple, np.ndarray)) else spec
        else:
            shift, largest = np.random.uniform(-spec, spec), spec
        return shift * size if largest < 1 else shift  # below 1: a fraction of the size

    def get_random_transform(self, img_shape, seed=None):
        """Random parameters for one image, drawn as Keras draws them: theta, tx (rows), ty
        (cols), shear, zx, zy, flip_horizontal, flip_vertical, channel_shift_intensity."""
        if seed is not None:
            np.random.seed(seed)
        theta = np.random.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = self._shift(self.height_shift_range, img_shape[0])
        ty = self._shift(self.width_shift_range, img_shape[1])
        shear = np.random.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = np.random.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_horizontal = (np.random.random() < 0.5) * self.horizontal_flip
        flip_vertical = (np.random.random() < 0.5) * self.vertical_flip
        channel_shift = None
        if self.channel_shift_range != 0:
            channel_shift = np.random.uniform(-self.channel_shift_range, self.channel_shift_range)
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
                "channel_shift_intensity": channel_shift, "brightness": None}

    def apply_transform(self, x, params):
        """One image (rows, cols, channels) transformed by ``params`` (`get_random_transform`)."""
        return self._apply_batch(np.asarray(x, dtype=self.dtype)[None], [params])[0]

    def random_transform(self, x, seed=None):
        """One image with a random transform."""
        x = np.asarray(x, dtype=self.dtype)
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def _apply_batch(self, images, params):
        """Each image (B, rows, cols, channels) transformed by its params, in one gather."""
        b, h, w, c = images.shape
        matrices = _affine_matrices(params, h, w)
        if not np.array_equal(matrices, np.broadcast_to(np.eye(3)[:2], matrices.shape)):
            images = _warp(images, matrices, self.fill_mode, self.cval, self.interpolation_order)
        else:
            images = images.copy()
        for i, p in enumerate(params):
            if p.get("channel_shift_intensity") is not None:
                low, high = images[i].min(), images[i].max()
                images[i] = np.clip(images[i] + p["channel_shift_intensity"], low, high)
            if p.get("flip_horizontal"):
                images[i] = images[i, :, ::-1]
            if p.get("flip_vertical"):
                images[i] = images[i, ::-1]
        return images

    # -- iterators ------------------------------------------------------------------------------

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """An endless iterator (and Sequence) of transformed batches: ``(x, y)``, ``x`` without
        labels, or ``(x, y, sample_weight)``. ``save_to_dir``: also write each transformed image
        there (`save_img`, Pillow), named ``{save_prefix}_{index}_{random}.{save_format}``."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, subset=subset, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                  save_format=save_format)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """An endless iterator (and Sequence) of transformed batches of the images of
        ``directory``, one subdirectory per class (Keras 2's ``DirectoryIterator``).

        Args:
            directory: holds one subdirectory per class, its images at any depth (.png, .jpg,
                .jpeg, .bmp, .ppm, .tif, .tiff).
            target_size: (height, width) every image is resized to with Pillow's
                ``interpolation`` ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos";
                ``keep_aspect_ratio`` crops the centred window of the target's aspect first).
            color_mode: "grayscale", "rgb" or "rgba" (1, 3 or 4 channels).
            classes: the class subdirectories, in label order (default: all, sorted).
            class_mode: "categorical" (one-hot), "binary" or "sparse" (the class index, as
                floats), "input" (the images themselves), or None (images only).
            batch_size, shuffle, seed: as in ``flow``.
            save_to_dir, save_prefix, save_format: as in ``flow``.
            subset: "training" or "validation": of each class's files (sorted), the first
                ``validation_split`` fraction is validation, the rest training (Keras's rule).

        Attributes: ``classes`` (each image's class index), ``class_indices`` ({name: index}),
        ``filenames`` (relative to ``directory``), ``filepaths``, ``samples``, ``num_classes``.
        """
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio)

    def flow_from_dataframe(self, *args, **kwargs):
        raise NotImplementedError("ImageDataGenerator.flow_from_dataframe is not supported: load the images into an "
                                  "array and use flow(x, y)")


def _affine_matrices(params, h, w):
    """Keras's transform matrices, one per image, (B, 2, 3): rotation · shift · shear · zoom
    about the image centre, mapping an output pixel (row, col, 1) to the input position it
    samples. The product is written out (it is Keras's, term by term), for the whole batch."""
    def get(key, default):
        return np.array([p.get(key, default) or default for p in params], dtype=np.float64)

    theta, shear = np.deg2rad(get("theta", 0.0)), np.deg2rad(get("shear", 0.0))
    tx, ty, zx, zy = get("tx", 0.0), get("ty", 0.0), get("zx", 1.0), get("zy", 1.0)
    c, s, sin_shear, cos_shear = np.cos(theta), np.sin(theta), np.sin(shear), np.cos(shear)
    m = np.empty((len(params), 2, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = c * zx, (-c * sin_shear - s * cos_shear) * zy, c * tx - s * ty
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = s * zx, (-s * sin_shear + c * cos_shear) * zy, s * tx + c * ty
    ox, oy = h / 2 - 0.5, w / 2 - 0.5  # Keras's centre (transform_matrix_offset_center)
    # offset · m · reset, summed in the order of Keras's matrix products (positions on an edge
    # then fall on the same side of it)
    m[:, 0, 2] = m[:, 0, 0] * -ox + m[:, 0, 1] * -oy + (m[:, 0, 2] + ox)
    m[:, 1, 2] = m[:, 1, 0] * -ox + m[:, 1, 1] * -oy + (m[:, 1, 2] + oy)
    # Keras (since tf.keras 2.9, and Keras 3) builds the matrix for (x, y) and applies it to (row,
    # col): the two coordinates swapped on both sides, P·M·P (so its "tx", the height shift, moves
    # the columns, as Keras's own ImageDataGenerator does)
    return m[:, ::-1][:, :, [1, 0, 2]].copy()


def _wrap(x, n):
    """scipy's "wrap": a position outside [0, n - 1] repeats with period n - 1."""
    if n == 1:
        return np.zeros_like(x)
    return np.where((x < 0) | (x > n - 1), np.mod(x, n - 1), x)


def _reflect(x, n):
    """scipy's "reflect" for a position: mirrored about -0.5 and n - 0.5 (d c b a | a b c d)."""
    x = np.mod(x + 0.5, 2 * n) - 0.5
    return np.where(x >= n - 0.5, 2 * n - 1 - x, x)


def _reflect_index(index, n):
    """Integer positions outside [0, n) mirrored as scipy.ndimage's "reflect" extends an image
    (d c b a | a b c d | d c b a)."""
    index = np.mod(index, 2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def _warp(images, matrices, mode, cval, order):
    """Sample every image at its matrix's positions: (B, H, W, C) from (B, 2, 3), as
    scipy.ndimage.affine_transform with ``mode`` and spline ``order`` 0 or 1 does."""
    b, h, w, c = images.shape
    rows = np.arange(h, dtype=np.float64)[None, :, None]
    cols = np.arange(w, dtype=np.float64)[None, None, :]
    m = matrices[:, :, :, None, None]
    src_r = (m[:, 0, 2] + m[:, 0, 0] * rows) + m[:, 0, 1] * cols  # scipy's order of the sums
    src_c = (m[:, 1, 2] + m[:, 1, 0] * rows) + m[:, 1, 1] * cols
    outside = ((src_r < 0) | (src_r > h - 1) | (src_c < 0) | (src_c > w - 1)) if mode == "constant" else None
    if mode == "wrap":
        src_r, src_c = _wrap(src_r, h), _wrap(src_c, w)
    elif mode in ("nearest", "constant"):  # beyond the edge: the edge (constant's are replaced below)
        src_r = np.minimum(np.maximum(src_r, 0), h - 1)
        src_c = np.minimum(np.maximum(src_c, 0), w - 1)
    flat = images.reshape(b * h * w, c)
    base = (np.arange(b) * (h * w))[:, None, None]

    def gather(index):  # one take of whole pixels (all channels) by linear index (b, h, w)
        return np.take(flat, index.reshape(-1), axis=0).reshape(b, h, w, c)

    if order == 0:  # the position mapped into the image, then rounded half up
        if mode == "reflect":
            src_r, src_c = _reflect(src_r, h), _reflect(src_c, w)
        r = np.clip(np.floor(src_r + 0.5), 0, h - 1).astype(np.int64)
        k = np.clip(np.floor(src_c + 0.5), 0, w - 1).astype(np.int64)
        out = gather(base + r * w + k)
    else:
        r0, c0 = np.floor(src_r), np.floor(src_c)
        fr, fc = (src_r - r0)[..., None], (src_c - c0)[..., None]
        r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
        if mode == "reflect":
            rows0, rows1 = base + _reflect_index(r0, h) * w, base + _reflect_index(r0 + 1, h) * w
            cols0, cols1 = _reflect_index(c0, w), _reflect_index(c0 + 1, w)
            i00, i01, i10, i11 = rows0 + cols0, rows0 + cols1, rows1 + cols0, rows1 + cols1
        else:  # the positions are inside [0, n - 1] already: only the upper neighbour can step out
            i00 = base + r0 * w + c0
            i01 = i00 + (c0 < w - 1)
            i10 = i00 + (r0 < h - 1) * w
            i11 = i10 + (c0 < w - 1)
        top = gather(i00) * (1 - fc) + gather(i01) * fc
        out = top * (1 - fr) + (gather(i10) * (1 - fc) + gather(i11) * fc) * fr
    if outside is not None:  # constant: no interpolation beyond the edges, cval there
        out[outside] = cval
    return out.astype(images.dtype, copy=False)


class Iterator(Sequence):
    """The base of the generator's iterators (Keras's ``Iterator``): ``n`` samples in batches
    of ``batch_size``, an endless iterator (``next(it)``) and a Keras Sequence (``len()``
    batches, ``it[i]``), whose sample order is reshuffled at each epoch end when ``shuffle``. A
    subclass defines ``_get_batches_of_transformed_samples(index_array)``."""

    def __init__(self, n, batch_size, shuffle, seed):
        self.n = n
        self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), seed
        self.total_batches_seen = 0
        self._batch_index = 0  # the next batch of next(); a new epoch (and order) starts at 0
        self._iterating = False
        self.index_array = None

    def __len__(self):
        return -(-self.n // self.batch_size)

    def _set_index_array(self):
        self.index_array = np.random.permutation(self.n) if self.shuffle else np.arange(self.n)

    def on_epoch_end(self):
        self._set_index_array()

    def reset(self):
        self._batch_index = 0

    def _next_indices(self, index):
        # as Keras's Iterator: with a seed, NumPy's generator is reseeded before every batch
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        if self.index_array is None or (index == 0 and self._batch_index == 0 and self._iterating):
            self._set_index_array()
        self.total_batches_seen += 1
        return self.index_array[self.batch_size * index:self.batch_size * (index + 1)]

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Asked to retrieve element {index}, but the Sequence has length {len(self)}")
        self._iterating = False
        return self._get_batches_of_transformed_samples(self._next_indices(index))

    def __iter__(self):
        return self

    def __next__(self):
        self._iterating = True
        index = self._batch_index
        indices = self._next_indices(index)
        self._batch_index = (index + 1) % len(self)
        return self._get_batches_of_transformed_samples(indices)

    def next(self):
        return self.__next__()

    def _get_batches_of_transformed_samples(self, index_array):
        raise NotImplementedError

    def _transform(self, images):
        """Each image of the batch with its random transform (drawn in order, as Keras draws
        them), then normalised (`ImageDataGenerator.standardize`)."""
        gen = self.image_data_generator
        params = [gen.get_random_transform(images.shape[1:]) for _ in range(len(images))]
        images = gen._apply_batch(images, params)
        if gen.preprocessing_function is not None or gen.samplewise_center or gen.samplewise_std_normalization:
            images = np.stack([gen.standardize(image) for image in images])  # per image, as Keras
        else:
            images = gen.standardize(images)  # the same arithmetic, on the whole batch at once
        return images.astype(gen.dtype, copy=False)

    def _save(self, images, indices):
        """Keras's save_to_dir: each image rescaled to [0, 255], named with a random number."""
        if self.save_to_dir is None:
            return
        for image, j in zip(images, indices):
            name = f"{self.save_prefix}_{j}_{np.random.randint(1e7)}.{self.save_format}"
            array_to_img(image, scale=True).save(os.path.join(self.save_to_dir, name))


def _check_save_args(save_to_dir, save_prefix, save_format, fn):
    if save_to_dir is None:
        return None
    save_to_dir = os.fspath(save_to_dir)
    if not os.path.isdir(save_to_dir):
        raise ValueError(f"{fn}: `save_to_dir` must be an existing directory. Received: save_to_dir={save_to_dir!r}")
    if not isinstance(save_prefix, str) or not isinstance(save_format, str) or not save_format:
        raise ValueError(f"{fn}: `save_prefix` and `save_format` must be strings (a format such as 'png'). "
                         f"Received: save_prefix={save_prefix!r}, save_format={save_format!r}")
    _pil(fn)
    return save_to_dir


class NumpyArrayIterator(Iterator):
    """Batches of transformed images from arrays (what `ImageDataGenerator.flow` returns): an
    endless iterator (``next(it)``) and a Keras Sequence (``len()`` batches, ``it[i]``), whose
    sample order is reshuffled at each epoch end when ``shuffle``."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=True, sample_weight=None, seed=None,
                 subset=None, dtype=None, save_to_dir=None, save_prefix="", save_format="png"):
        self.generator = self.image_data_generator = image_data_generator
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.flow: x must be images of rank 4 (N, rows, cols, channels). "
                             f"Received: shape={x.shape}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"ImageDataGenerator.flow: x and y must have the same length. Received: {len(x)} and "
                             f"{len(y)}")
        if sample_weight is not None and len(sample_weight) != len(x):
            raise ValueError(f"ImageDataGenerator.flow: sample_weight must have one weight per image. Received: "
                             f"{len(sample_weight)} for {len(x)}")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"ImageDataGenerator.flow: subset must be 'training' or 'validation'. Received: "
                                 f"{subset!r}")
            split = int(len(x) * image_data_generator.validation_split)
            part = slice(None, split) if subset == "validation" else slice(split, None)
            x = x[part]
            y = None if y is None else np.asarray(y)[part]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[part]
        if len(x) == 0:
            raise ValueError("ImageDataGenerator.flow: no images (check x, and validation_split with subset)")
        self.save_to_dir = _check_save_args(save_to_dir, save_prefix, save_format, "ImageDataGenerator.flow")
        self.save_prefix, self.save_format = save_prefix, save_format
        self.x = x.astype(dtype or image_data_generator.dtype, copy=False)
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, indices):
        images = self._transform(self.x[indices])
        self._save(images, indices)
        out = (images,) if self.y is None else (images, self.y[indices])
        if self.sample_weight is not None:
            out = out + (self.sample_weight[indices],)
        return out[0] if len(out) == 1 else out

    _batch = _get_batches_of_transformed_samples


class DirectoryIterator(Iterator):
    """Batches of transformed images read from a directory with one subdirectory per class
    (what `ImageDataGenerator.flow_from_directory` returns; Keras 2's ``DirectoryIterator``):
    the files of a batch are read (`load_img`) when the batch is asked for."""

    allowed_class_modes = ("categorical", "binary", "sparse", "input", None)
    white_list_formats = _DIRECTORY_FORMATS

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix="", save_format="png", follow_links=False, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, dtype=None):
        fn = "ImageDataGenerator.flow_from_directory"
        self.generator = self.image_data_generator = image_data_generator
        self.target_size = _check_size(target_size, "target_size", fn)
        if color_mode not in ("rgb", "rgba", "grayscale"):
            raise ValueError(f"{fn}: `color_mode` must be 'rgb', 'rgba' or 'grayscale'. Received: "
                             f"color_mode={color_mode!r}")
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"{fn}: `class_mode` must be one of {self.allowed_class_modes}. Received: "
                             f"class_mode={class_mode!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{fn}: only data_format='channels_last' is supported. Received: "
                             f"data_format={data_format!r}")
        if interpolation not in PIL_INTERPOLATIONS:
            raise ValueError(f"{fn}: `interpolation` must be one of {PIL_INTERPOLATIONS}. Received: "
                             f"interpolation={interpolation!r}")
        if subset is None:
            split = None
        elif subset == "validation":
            split = (0, image_data_generator.validation_split)
        elif subset == "training":
            split = (image_data_generator.validation_split, 1)
        else:
            raise ValueError(f"{fn}: `subset` must be 'training', 'validation' or None. Received: subset={subset!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{fn}: `batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
        self.color_mode, self.class_mode, self.data_format = color_mode, class_mode, "channels_last"
        self.image_shape = self.target_size + ({"rgba": 4, "rgb": 3, "grayscale": 1}[color_mode],)
        self.interpolation, self.keep_aspect_ratio = interpolation, bool(keep_aspect_ratio)
        self.subset, self.split = subset, split
        self.dtype = np.dtype(dtype or image_data_generator.dtype)
        self.directory = directory = _check_directory(directory, fn)
        self.save_to_dir = _check_save_args(save_to_dir, save_prefix, save_format, fn)
        self.save_prefix, self.save_format = save_prefix, save_format
        _pil(fn)
        if not classes:
            classes = [d for d in sorted(os.listdir(directory)) if os.path.isdir(os.path.join(directory, d))]
        else:
            if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
                raise ValueError(f"{fn}: `classes` must be a list of subdirectory names. Received: classes={classes!r}")
            missing = [c for c in classes if not os.path.isdir(os.path.join(directory, c))]
            if missing or len(set(classes)) != len(classes):
                raise ValueError(f"{fn}: `classes` must name distinct subdirectories of {directory!r}. Received: "
                                 f"classes={list(classes)}" + (f" ({missing} not found)" if missing else ""))
            classes = list(classes)
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        self.filenames, labels = [], []
        for index, subdir in enumerate(classes):
            found = list_class_files(directory, subdir, follow_links, self.white_list_formats, split)
            self.filenames += found
            labels += [index] * len(found)
        self.samples = len(self.filenames)
        self.classes = np.asarray(labels, dtype=np.int32)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        if self.samples == 0:
            raise ValueError(f"{fn}: no images found in the class subdirectories {classes} of {directory!r}"
                             + (f" for subset={subset!r} (validation_split={image_data_generator.validation_split})"
                                if subset else "") + f". Allowed formats: {self.white_list_formats}")
        self._filepaths = [os.path.join(directory, name) for name in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        """The path of each image (``directory`` joined to its ``filenames`` entry)."""
        return self._filepaths

    @property
    def labels(self):
        """Each image's class index (``classes``)."""
        return self.classes

    @property
    def sample_weight(self):
        return None

    def _get_batches_of_transformed_samples(self, index_array):
        images = np.empty((len(index_array),) + self.image_shape, dtype=self.dtype)
        for i, j in enumerate(index_array):
            img = load_img(self._filepaths[j], color_mode=self.color_mode, target_size=self.target_size,
                           interpolation=self.interpolation, keep_aspect_ratio=self.keep_aspect_ratio)
            x = img_to_array(img, dtype=self.dtype)
            img.close()
            if x.shape != self.image_shape:  # a 32-bit grayscale or other odd file
                raise ValueError(f"ImageDataGenerator.flow_from_directory: the image file {self._filepaths[j]!r} "
                                 f"reads as shape {x.shape}, expected {self.image_shape}")
            images[i] = x
        images = self._transform(images)
        self._save(images, index_array)
        if self.class_mode is None:
            return images
        if self.class_mode == "input":
            return images, images.copy()
        if self.class_mode in ("binary", "sparse"):
            return images, self.classes[index_array].astype(self.dtype)
        batch_y = np.zeros((len(index_array), self.num_classes), dtype=self.dtype)
        batch_y[np.arange(len(index_array)), self.classes[index_array]] = 1.0
        return images, batch_y


__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator", "load_img", "img_to_array",
           "array_to_img", "save_img"]
