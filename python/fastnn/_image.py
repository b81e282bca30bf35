"""TensorFlow's ``tf.image`` (and Keras 3's ``keras.ops.image``) for the tutorials that call it
on images (``(H, W, C)``) or batches of them (``(N, H, W, C)``): resizing with `Resizing`'s kernel,
flips, rotations, crops, dtype conversion, brightness, contrast, saturation, hue and gamma, HSV and
YUV, grayscale, standardization, the random and stateless random augmentations of the data
augmentation tutorial, crop_and_resize, boxes and non-max suppression, and decoding and encoding
JPEG, PNG, GIF and BMP bytes (Pillow; PNG encoding needs only zlib). Results are eager tensors
(``.numpy()``); the flips, rotations and arithmetic ones also work on tape tensors."""

from __future__ import annotations

import heapq
import io
import struct
import types
import zlib

import numpy as np

from . import autodiff, ops, utils
from ._batch_dataset import EagerArray

_GRAY = np.array([0.2989, 0.5870, 0.1140], np.float32)  # (TensorFlow's rgb_to_grayscale weights)


def _images(image, fn):
    """``image`` as an array of rank 3 or 4 (a tape tensor as it is), else a clear error."""
    if isinstance(image, autodiff.Operators):
        rank = len(autodiff.shape(image))
    else:
        image = np.asarray(image)
        rank = image.ndim
    if rank not in (3, 4):
        raise ValueError(f"image.{fn}: expected an image (H, W, C) or a batch of them (N, H, W, C). Received: "
                         f"shape={autodiff.shape(image)}")
    return image


def _eager(value):
    return value.view(EagerArray) if type(value) is np.ndarray else value


def resize(images, size, method="bilinear", preserve_aspect_ratio=False, antialias=False, name=None):
    """Resize to ``size`` = (height, width) with `fastnn.layers.Resizing`'s kernel (half-pixel
    centres, as TensorFlow's): ``method`` bilinear, nearest, bicubic, lanczos3, lanczos5 or area.
    ``preserve_aspect_ratio``: the largest size within ``size`` of the same aspect ratio."""
    from .layers.augmentation import Resizing

    images = _images(images, "resize")
    height, width = (int(s) for s in size)
    if preserve_aspect_ratio:
        h, w = autodiff.shape(images)[-3:-1]
        scale = min(height / h, width / w)
        height, width = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    method = getattr(method, "value", method)
    layer = Resizing(height, width, interpolation=method, antialias=antialias)
    if isinstance(images, autodiff.Operators):  # (a tape or symbolic tensor: the layer's call, with its gradient)
        return layer(images)
    out = layer(images.astype(np.float32))
    # (TensorFlow's nearest keeps the dtype; the others give float32)
    return _eager(np.asarray(out).astype(images.dtype) if method == "nearest" else np.asarray(out))


def flip_left_right(image):
    return _eager(ops.flip(_images(image, "flip_left_right"), axis=-2))


def flip_up_down(image):
    return _eager(ops.flip(_images(image, "flip_up_down"), axis=-3))


def rot90(image, k=1, name=None):
    """Rotate by ``k`` quarter turns counter-clockwise (the height and width axes)."""
    image = _images(image, "rot90")
    k = int(k) % 4
    for _ in range(k):  # (a quarter turn: transpose H and W, then flip the new height axis)
        axes = list(range(len(autodiff.shape(image))))
        axes[-3], axes[-2] = axes[-2], axes[-3]
        image = ops.flip(ops.transpose(image, axes), axis=-3)
    return _eager(image)


def transpose(image, name=None):
    image = _images(image, "transpose")
    axes = list(range(len(autodiff.shape(image))))
    axes[-3], axes[-2] = axes[-2], axes[-3]
    return _eager(ops.transpose(image, axes))


def _on_floats(images, op):
    """``op`` on the images as TensorFlow's colour adjustments run it: an integer image as floats in
    [0, 1] (`convert_image_dtype`), the result converted back to its dtype, saturated (a uint8
    photo brightened by 0.4 gains 102 levels and stops at 255)."""
    dtype = np.asarray(autodiff._value(images)).dtype
    if dtype.kind not in "iu" or isinstance(images, autodiff.Tensor):
        return op(images)
    out = op(np.asarray(convert_image_dtype(images, np.float32)))
    return convert_image_dtype(np.asarray(autodiff._value(out)), dtype, saturate=True)


def rgb_to_grayscale(images, name=None):
    """The luma (0.2989 R + 0.5870 G + 0.1140 B), keeping a last axis of 1 (an integer image stays
    in its dtype, as TensorFlow's)."""
    images = _images(images, "rgb_to_grayscale")
    gray = _on_floats(images, lambda x: ops.expand_dims(
        ops.tensordot(ops.cast(x, "float32"), _GRAY, axes=[[-1], [0]]), -1))
    dtype = np.asarray(autodiff._value(images)).dtype
    return _eager(ops.cast(gray, dtype) if dtype.kind == "f" and dtype != np.float32 else gray)  # (float64 stays)


def grayscale_to_rgb(images, name=None):
    images = _images(images, "grayscale_to_rgb")
    return _eager(ops.concatenate([images, images, images], axis=-1))


def _dtype_max(dtype):
    return float(np.iinfo(dtype).max) if np.dtype(dtype).kind in "iu" else 1.0


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Between integer images (0 to the dtype's max) and float ones (0 to 1), as TensorFlow's:
    ints to floats multiply by ``1 / max`` in the float dtype, floats to ints by ``max + 0.5``
    (then truncate), ints to ints by the power-of-two ratio of the ranges (down: ``x // 256`` for
    uint16 to uint8; up: ``x * 256``, so a round trip keeps the values)."""
    image = np.asarray(_images(image, "convert_image_dtype"))
    dtype = np.dtype(getattr(dtype, "name", dtype))
    if dtype.kind not in "fiu":
        raise ValueError(f"image.convert_image_dtype: dtype must be either floating point or integer. Received: "
                         f"{dtype}")
    if image.dtype == dtype:
        return _eager(image)
    if dtype.kind == "f":
        if image.dtype.kind in "iu":
            return _eager(image.astype(dtype) * dtype.type(1.0 / _dtype_max(image.dtype)))
        return _eager(image.astype(dtype))
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    if image.dtype.kind == "f":
        scaled = np.multiply(image, _dtype_max(dtype) + 0.5, dtype=np.promote_types(image.dtype, np.float32))
        return _eager(np.clip(scaled, low, high).astype(dtype))
    scale_in, scale_out = np.iinfo(image.dtype).max, np.iinfo(dtype).max
    if scale_in > scale_out:  # (scale first, then cast)
        scaled = np.floor_divide(image, (scale_in + 1) // (scale_out + 1))
        return _eager((np.clip(scaled, low, high) if saturate else scaled).astype(dtype))
    if saturate:  # (both bounds inside the input's range, where NumPy can compare them)
        image = np.clip(image, max(low, np.iinfo(image.dtype).min), min(high, scale_in))
    cast = image.astype(dtype)
    return _eager(cast * dtype.type((scale_out + 1) // (scale_in + 1)))


def adjust_brightness(image, delta):
    """``image + delta`` (an integer image in [0, 1] units, saturated back to its dtype)."""
    return _eager(_on_floats(_images(image, "adjust_brightness"), lambda x: ops.add(x, delta)))


def adjust_contrast(images, contrast_factor):
    """``(x - mean) * factor + mean``, the mean of each image's channel over its pixels (an
    integer image in [0, 1] units, saturated back to its dtype)."""
    def contrast(x):
        mean = ops.mean(x, axis=(-3, -2), keepdims=True)
        return ops.add(ops.multiply(ops.subtract(x, mean), contrast_factor), mean)

    return _eager(_on_floats(_images(images, "adjust_contrast"), contrast))


def per_image_standardization(image):
    """``(x - mean) / max(std, 1 / sqrt(pixels · channels))`` per image (float32 for an integer
    image; a float one keeps its dtype, as TensorFlow's)."""
    given = np.asarray(autodiff._value(_images(image, "per_image_standardization"))).dtype
    dtype = given if given.kind == "f" else np.dtype(np.float32)
    image = ops.cast(image, dtype)
    count = float(np.prod(autodiff.shape(image)[-3:]))
    mean = ops.mean(image, axis=(-3, -2, -1), keepdims=True)
    std = ops.maximum(ops.std(image, axis=(-3, -2, -1), keepdims=True), dtype.type(1.0 / np.sqrt(count)))
    return _eager(ops.cast(ops.divide(ops.subtract(image, mean), std), dtype))


def central_crop(image, central_fraction):
    """The centred window of ``central_fraction`` of the height and width, with TensorFlow 2's
    rounding (its offset is ``int((size - size · central_fraction) / 2)``)."""
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"image.central_crop: central_fraction must be in (0, 1]. Received: {central_fraction}")
    image = _images(image, "central_crop")
    if central_fraction == 1.0:
        return _eager(image)
    h, w = autodiff.shape(image)[-3:-1]
    top, left = int((h - h * central_fraction) / 2), int((w - w * central_fraction) / 2)
    return _eager(image[..., top:h - top, left:w - left, :])


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    image = _images(image, "crop_to_bounding_box")
    h, w = autodiff.shape(image)[-3:-1]
    if target_height <= 0 or target_width <= 0:  # (TensorFlow's 'target_height must be > 0.')
        raise ValueError(f"image.crop_to_bounding_box: target_height and target_width must be > 0. Received: "
                         f"{target_height}, {target_width}")
    if offset_height + target_height > h or offset_width + target_width > w or min(offset_height, offset_width) < 0:
        raise ValueError(f"image.crop_to_bounding_box: the box ({offset_height}, {offset_width}, {target_height}, "
                         f"{target_width}) is not inside the image of {h}x{w}")
    return _eager(image[..., offset_height:offset_height + target_height, offset_width:offset_width + target_width, :])


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    image = _images(image, "pad_to_bounding_box")
    h, w = autodiff.shape(image)[-3:-1]
    bottom, right = target_height - offset_height - h, target_width - offset_width - w
    if min(offset_height, offset_width, bottom, right) < 0:
        raise ValueError(f"image.pad_to_bounding_box: an image of {h}x{w} at ({offset_height}, {offset_width}) does not "
                         f"fit in {target_height}x{target_width}")
    pad = [(0, 0)] * (len(autodiff.shape(image)) - 3) + [(offset_height, bottom), (offset_width, right), (0, 0)]
    return _eager(ops.pad(image, pad)) if isinstance(image, autodiff.Operators) else _eager(np.pad(image, pad))


def resize_with_crop_or_pad(image, target_height, target_width):
    """Centre-crop or zero-pad (evenly, the extra on the bottom and right) to the target size."""
    image = np.asarray(_images(image, "resize_with_crop_or_pad"))
    h, w = image.shape[-3:-1]
    top, left = max((h - target_height) // 2, 0), max((w - target_width) // 2, 0)
    image = image[..., top:top + min(h, target_height), left:left + min(w, target_width), :]
    h, w = image.shape[-3:-1]
    return pad_to_bounding_box(image, (target_height - h) // 2, (target_width - w) // 2, target_height, target_width)


def _generator(seed):
    """The random generator of an op's ``seed``: its own when given, else fastnn's global one
    (`fastnn.utils.set_random_seed` makes the unseeded draws repeatable)."""
    return np.random.default_rng(seed) if seed is not None else utils.global_rng()


def _flip_randomly(image, axis, seed, fn, rng=None):
    image = np.asarray(autodiff._value(_images(image, fn)))
    rng = rng if rng is not None else _generator(seed)
    if image.ndim == 3:
        return _eager(np.flip(image, axis).copy() if rng.random() < 0.5 else image.copy())
    flips = np.round(rng.random(len(image))) == 1  # (TensorFlow rounds a batch's draws: > 0.5 flips)
    return _eager(np.where(flips[:, None, None, None], np.flip(image, axis), image))


def random_flip_left_right(image, seed=None):
    return _flip_randomly(image, -2, seed, "random_flip_left_right")


def random_flip_up_down(image, seed=None):
    return _flip_randomly(image, -3, seed, "random_flip_up_down")


def random_brightness(image, max_delta, seed=None):
    """``image + delta``, one ``delta`` drawn uniformly from [-max_delta, max_delta)."""
    if max_delta < 0:
        raise ValueError(f"image.random_brightness: max_delta must be non-negative. Received: {max_delta}")
    rng = np.random.default_rng(seed) if seed is not None else utils.global_rng()
    return adjust_brightness(image, rng.uniform(-max_delta, max_delta))


class ResizeMethod:
    """TensorFlow's ``tf.image.ResizeMethod`` names."""

    BILINEAR, NEAREST_NEIGHBOR, BICUBIC, AREA = "bilinear", "nearest", "bicubic", "area"
    LANCZOS3, LANCZOS5 = "lanczos3", "lanczos5"


# ---- image quality and structure: psnr, ssim, total_variation, sobel_edges ---------------------


def _fail(kind, fn, message):
    """``kind`` (an exception class) naming ``image.<fn>``, passed through `autodiff.graph_function`
    as it is (not renamed a ValueError)."""
    error = kind(f"image.{fn}: {message}")
    error._fastnn_named = True
    return error


def _graph(fn):
    """Register ``fn`` as the graph function ``"tf.image.<name>"``: a watched array or a
    tf.Variable given to it takes its tape leaf, and on symbolic tensors it is a layer."""
    return autodiff.graph_function("tf.image." + fn.__name__)(fn)


def _float_image(image, fn):
    """TensorFlow's ``convert_image_dtype(image, float32)``: integer images scaled to [0, 1] by
    their dtype's max; float ones (tape tensors too) as they are."""
    if isinstance(image, autodiff.Operators):
        kind = np.dtype(image.dtype).kind
        image = image if kind == "f" else np.asarray(autodiff._value(image))
    else:
        image = np.asarray(image)
        kind = image.dtype.kind
    if kind == "f":
        return image
    if kind not in "iu":
        raise _fail(TypeError, fn, f"images must be numbers. Received dtype {image.dtype}")
    return (image.astype(np.float64) / _dtype_max(image.dtype)).astype(np.float32)


def _image_pair(a, b, fn):
    """Two images or batches as floats (`_float_image`); their last three axes (H, W, C) must agree,
    the batch axes broadcast."""
    a = a if isinstance(a, autodiff.Operators) else np.asarray(a)
    b = b if isinstance(b, autodiff.Operators) else np.asarray(b)
    sa, sb = tuple(autodiff.shape(a)), tuple(autodiff.shape(b))
    if len(sa) < 3 or len(sb) < 3 or sa[-3:] != sb[-3:]:
        raise _fail(ValueError, fn, f"expected two images (..., height, width, channels) of one size. Received "
                                    f"shapes {sa} and {sb}")
    try:
        np.broadcast_shapes(sa[:-3], sb[:-3])
    except ValueError:
        raise _fail(ValueError, fn, f"the batch axes of shapes {sa} and {sb} do not broadcast") from None
    return _float_image(a, fn), _float_image(b, fn), np.dtype(autodiff.dtype(a))


def _peak(max_val, dtype, fn):
    """``max_val`` as TensorFlow scales it: cast to the images' dtype, then as `_float_image`."""
    value = np.asarray(autodiff._value(max_val))
    if value.ndim or value.dtype.kind not in "iuf":
        raise _fail(ValueError, fn, f"max_val must be a number. Received: {max_val!r}")
    if dtype.kind in "iu":
        return float(value.astype(dtype)) / _dtype_max(dtype)
    return float(value)


@_graph
def psnr(a, b, max_val, name=None):
    """The peak signal-to-noise ratio of each pair of images, ``20 log10(max_val) - 10 log10(mse)``
    over (H, W, C): the batch shape; inf for identical images. Integer images and ``max_val`` are
    scaled as TensorFlow's (uint8 with max_val 255 reads as 1.0)."""
    x, y, dtype = _image_pair(a, b, "psnr")
    peak = _peak(max_val, dtype, "psnr")
    mse = ops.mean(ops.square(ops.subtract(x, y)), axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        return _eager(float(20 * np.log(peak) / np.log(10.0)) - ops.log(mse) * float(10 / np.log(10.0)))


def _gaussian(size, sigma):
    """TensorFlow's SSIM window as one axis of it (the 2-D window is its outer product)."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * coords * coords / (sigma * sigma))
    return g / g.sum()


def _window_mean(x, p):
    """``x`` (..., H, W, C) filtered over H and W with the outer product of ``p`` with itself,
    "VALID" (TensorFlow's depthwise convolution in SSIM): (..., H - k + 1, W - k + 1, C)."""
    xv = np.asarray(autodiff._value(x))
    p = p.astype(xv.dtype)
    k = len(p)

    def correlate(a, axis, kernel):
        return np.lib.stride_tricks.sliding_window_view(a, k, axis=axis) @ kernel

    def transposed(a, axis):  # the gradient of `correlate`: a full correlation with the flipped kernel
        pad = [(0, 0)] * a.ndim
        pad[axis % a.ndim] = (k - 1, k - 1)
        return correlate(np.pad(a, pad), axis, p[::-1].copy())

    return autodiff._result(correlate(correlate(xv, -3, p), -2, p), (x,),
                            lambda g: (transposed(transposed(np.asarray(g), -2), -3),))


@_graph
def ssim(img1, img2, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, return_index_map=False):
    """TensorFlow's structural similarity of each pair of images: a Gaussian window
    (``filter_size`` wide, ``filter_sigma``), ``c1 = (k1 max_val)²``, ``c2 = (k2 max_val)²``,
    luminance × contrast-structure averaged over the window positions (``return_index_map``:
    kept, (..., H-k+1, W-k+1)) and then the channels. 1.0 for identical images."""
    x, y, dtype = _image_pair(img1, img2, "ssim")
    size, sigma = int(filter_size), float(filter_sigma)
    h, w = tuple(autodiff.shape(x))[-3:-1]
    if size < 1 or h < size or w < size:
        raise _fail(ValueError, "ssim", f"img1 has dimensions less than filter_size: height {h}, width {w}, "
                                        f"filter_size {filter_size}")
    peak = _peak(max_val, dtype, "ssim")
    p = _gaussian(size, sigma)
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    mean0, mean1 = _window_mean(x, p), _window_mean(y, p)
    num0 = mean0 * mean1 * 2.0
    den0 = ops.square(mean0) + ops.square(mean1)
    luminance = (num0 + c1) / (den0 + c1)
    num1 = _window_mean(x * y, p) * 2.0
    den1 = _window_mean(ops.square(x) + ops.square(y), p)
    cs = (num1 - num0 + c2) / (den1 - den0 + c2)
    value = luminance * cs
    if not return_index_map:
        value = ops.mean(value, axis=(-3, -2))
    return _eager(ops.mean(value, axis=-1))


@_graph
def total_variation(images, name=None):
    """The sum of the absolute differences of neighbouring pixel values, down and across: a
    number for an image (H, W, C), one per image for a batch (N, H, W, C)."""
    images = images if isinstance(images, autodiff.Operators) else np.asarray(images)
    rank = len(autodiff.shape(images))
    if rank not in (3, 4):
        raise _fail(ValueError, "total_variation", f"'images' must be either 3 or 4-dimensional. Received shape "
                                                   f"{tuple(autodiff.shape(images))}")
    axes = None if rank == 3 else (1, 2, 3)
    down = images[..., 1:, :, :] - images[..., :-1, :, :]
    across = images[..., :, 1:, :] - images[..., :, :-1, :]
    total = ops.sum(ops.abs(down), axis=axes) + ops.sum(ops.abs(across), axis=axes)
    dtype = np.dtype(autodiff.dtype(images))
    return _eager(total if np.dtype(autodiff.dtype(total)) == dtype else ops.cast(total, dtype))


_SOBEL = (((-1, -2, -1), (0, 0, 0), (1, 2, 1)), ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)))  # (dy, dx)


@_graph
def sobel_edges(image):
    """The Sobel responses of each channel of a batch (N, H, W, C) of float images, the image
    reflected at its borders: (N, H, W, C, 2), the vertical one (dy) first, as TensorFlow's."""
    image = image if isinstance(image, autodiff.Operators) else np.asarray(image)
    shape = tuple(autodiff.shape(image))
    if len(shape) != 4:
        raise _fail(ValueError, "sobel_edges", f"expected a batch of images (N, H, W, C). Received shape {shape}")
    if np.dtype(autodiff.dtype(image)).kind != "f":
        raise _fail(TypeError, "sobel_edges", f"the images must be floats (convert_image_dtype first). Received "
                                              f"dtype {autodiff.dtype(image)}")
    h, w = shape[1:3]
    padded = ops.pad(image, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    edges = []
    for kernel in _SOBEL:
        total = None
        for a, row in enumerate(kernel):
            for b, weight in enumerate(row):
                if weight:
                    term = padded[:, a:a + h, b:b + w, :] * float(weight)
                    total = term if total is None else total + term
        edges.append(total)
    return _eager(ops.stack(edges, axis=-1))


def resize_with_pad(image, target_height, target_width, method=ResizeMethod.BILINEAR, antialias=False):
    """Resize to fit in (target_height, target_width) keeping the aspect ratio, then zero-pad to
    it, centred (TensorFlow's float32 arithmetic for the sizes and offsets)."""
    image = _images(image, "resize_with_pad")
    th, tw = int(target_height), int(target_width)
    if th <= 0 or tw <= 0:
        raise ValueError(f"image.resize_with_pad: target_height and target_width must be > 0. Received: "
                         f"{target_height}, {target_width}")
    h, w = (np.float32(d) for d in autodiff.shape(image)[-3:-1])
    ratio = max(w / np.float32(tw), h / np.float32(th))
    height, width = h / ratio, w / ratio
    top = max(0, int(np.floor((np.float32(th) - height) / np.float32(2))))
    left = max(0, int(np.floor((np.float32(tw) - width) / np.float32(2))))
    resized = resize(image, (int(np.floor(height)), int(np.floor(width))), method=method, antialias=antialias)
    return pad_to_bounding_box(resized, top, left, th, tw)


# ---- patches, crops and pads -------------------------------------------------------------------


def _patch_grid(n, k, stride, rate, padding):
    """Along one axis of length ``n``: the (out, k) positions, in the padded axis, of each patch's
    values, and the padding before and after (TensorFlow's SAME: the extra one after)."""
    span = (k - 1) * rate + 1
    if padding == "VALID":
        out, before, after = (max((n - span) // stride + 1, 0) if n >= span else 0), 0, 0
    else:
        out = -(-n // stride)
        total = max((out - 1) * stride + span - n, 0)
        before, after = total // 2, total - total // 2
    return (np.arange(out) * stride)[:, None] + (np.arange(k) * rate)[None, :], before, after


def _patches(images, size, strides, rates, padding, fn):
    """The patches of a batch (N, H, W, C) (an array or tape tensor): (N, out_h, out_w, kh · kw · C),
    each patch's values in (row, column, channel) order, zeros where it covers the padding; the
    gradient adds each copy back to its pixel."""
    padding = str(padding).upper()
    if padding not in ("VALID", "SAME"):
        raise _fail(ValueError, fn, f"padding must be 'VALID' or 'SAME'. Received: {padding!r}")
    for what, pair in (("sizes", size), ("strides", strides), ("rates", rates)):
        if len(pair) != 2 or min(pair) < 1:
            raise _fail(ValueError, fn, f"{what} must be positive. Received: {pair}")
    xv = np.asarray(autodiff._value(images))
    n, h, w, c = xv.shape
    rows, top, bottom = _patch_grid(h, size[0], strides[0], rates[0], padding)
    cols, left, right = _patch_grid(w, size[1], strides[1], rates[1], padding)
    padded = np.pad(xv, ((0, 0), (top, bottom), (left, right), (0, 0)))
    where = (slice(None), rows[:, None, :, None], cols[None, :, None, :], slice(None))
    picked = padded[where]  # (N, out_h, out_w, kh, kw, C)

    def backward(g):
        d = np.zeros(padded.shape, dtype=np.asarray(g).dtype)
        np.add.at(d, where, np.asarray(g).reshape(picked.shape))
        return (d[:, top:top + h, left:left + w, :],)

    return autodiff._result(picked.reshape(picked.shape[:3] + (-1,)), (images,), backward)



def _four(value, what, fn):
    values = [int(v) for v in np.asarray(autodiff._value(value)).reshape(-1)]
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise _fail(ValueError, fn, f"{what} must be [1, rows, cols, 1] (patches across space only). Received: "
                                    f"{value!r}")
    return values[1:3]


@_graph
def extract_patches(images, sizes, strides, rates, padding, name=None):
    """TensorFlow's patches of a batch (N, H, W, C): ``sizes``, ``strides``, ``rates`` as
    [1, rows, cols, 1], ``padding`` "VALID" or "SAME"; (N, out_h, out_w, rows · cols · C), each
    patch flattened in (row, column, channel) order."""
    images = images if isinstance(images, autodiff.Operators) else np.asarray(images)
    if len(autodiff.shape(images)) != 4:
        raise _fail(ValueError, "extract_patches", f"images must be a batch (N, H, W, C). Received shape "
                                                   f"{tuple(autodiff.shape(images))}")
    return _eager(_patches(images, _four(sizes, "sizes", "extract_patches"), _four(strides, "strides", "extract_patches"),
                           _four(rates, "rates", "extract_patches"), padding, "extract_patches"))


def _pair_arg(value, what, fn):
    values = (int(value),) * 2 if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(values) != 2:
        raise _fail(TypeError, fn, f"Invalid `{what}` argument. Expected an int or a tuple of length 2. Received: "
                                   f"{what}={value!r}")
    return values


def _keras_layout(images, data_format, fn):
    """Keras 3's images (3-D or 4-D, ``data_format``) as a channels-last batch, and the function
    that puts a result back in their layout."""
    images = images if isinstance(images, autodiff.Operators) else np.asarray(images)
    rank = len(autodiff.shape(images))
    if rank not in (3, 4):
        raise _fail(ValueError, fn, f"Invalid shape for argument `images`: it must have rank 3 or 4. Received: "
                                    f"images.shape={tuple(autodiff.shape(images))}")
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise _fail(ValueError, fn, f"data_format must be 'channels_last' or 'channels_first'. Received: "
                                    f"{data_format!r}")
    x = images if rank == 4 else ops.expand_dims(images, 0)
    if data_format == "channels_first":
        x = ops.moveaxis(x, 1, -1)

    def back(y):
        if data_format == "channels_first":
            y = ops.moveaxis(y, -1, 1)
        return _eager(y if rank == 4 else ops.squeeze(y, 0))

    return x, back


def extract_patches_keras(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Keras 3's ``keras.ops.image.extract_patches``: ``size`` (an int or (rows, cols)) patches
    every ``strides`` (default: ``size``) of an image or batch: (..., out_h, out_w, rows · cols · C)
    channels last, values in (row, column, channel) order, as TensorFlow's."""
    fn = "extract_patches"
    size = _pair_arg(size, "size", fn)
    strides = size if not strides else _pair_arg(strides, "strides", fn)
    x, back = _keras_layout(images, data_format, fn)
    return back(_patches(x, size, strides, _pair_arg(dilation_rate, "dilation_rate", fn), padding, fn))


def _infer_sides(first, second, total, length, names, fn, crop):
    """Two of (first, second, total) given (Keras's rule), the third inferred."""
    if [first, second, total].count(None) != 1:
        raise _fail(ValueError, fn, f"Must specify exactly two of {', '.join(names)}. Received: "
                                    f"{names[0]}={first}, {names[1]}={second}, {names[2]}={total}")
    if crop:  # length = first + total + second
        first = length - total - second if first is None else first
        total = length - second - first if total is None else total
        second = length - first - total
    else:  # total = first + length + second
        first = total - second - length if first is None else first
        second = total - first - length if second is None else second
        total = first + length + second
    for name, v in zip(names, (first, second, total)):
        if v < 0:
            raise _fail(ValueError, fn, f"{name} must be >= 0 (the {'crop' if crop else 'padding'} must fit the "
                                        f"image's {length}). Received or inferred: {name}={v}")
    return int(first), int(second), int(total)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Keras 3's ``keras.ops.image.crop_images``: two of (top, bottom, target height) and two of
    (left, right, target width) given, the image or batch cropped to the target size."""
    fn = "crop_images"
    x, back = _keras_layout(images, data_format, fn)
    h, w = tuple(autodiff.shape(x))[1:3]
    top, _, height = _infer_sides(top_cropping, bottom_cropping, target_height, h,
                                  ("top_cropping", "bottom_cropping", "target_height"), fn, True)
    left, _, width = _infer_sides(left_cropping, right_cropping, target_width, w,
                                  ("left_cropping", "right_cropping", "target_width"), fn, True)
    return back(x[:, top:top + height, left:left + width, :])


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Keras 3's ``keras.ops.image.pad_images``: two of (top, bottom, target height) and two of
    (left, right, target width) given, the image or batch zero-padded to the target size."""
    fn = "pad_images"
    x, back = _keras_layout(images, data_format, fn)
    h, w = tuple(autodiff.shape(x))[1:3]
    top, bottom, _ = _infer_sides(top_padding, bottom_padding, target_height, h,
                                  ("top_padding", "bottom_padding", "target_height"), fn, False)
    left, right, _ = _infer_sides(left_padding, right_padding, target_width, w,
                                  ("left_padding", "right_padding", "target_width"), fn, False)
    return back(ops.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))))


# ---- colour spaces: HSV, YUV, YIQ (TensorFlow's conventions: hue in [0, 1)) ---------------------


def _rgb_values(images, fn):
    """``images`` (any rank >= 1) as an array whose last axis is 3, else a clear error."""
    value = np.asarray(autodiff._value(images))
    if value.ndim < 1 or value.shape[-1] != 3:
        raise ValueError(f"image.{fn}: the last axis must hold 3 values (R, G, B or their conversions). Received "
                         f"shape {value.shape}")
    return value


def _float_values(images, fn):
    value = _rgb_values(images, fn)
    if value.dtype.kind != "f":
        raise TypeError(f"image.{fn}: expected float images (values in [0, 1]); convert an integer image with "
                        f"image.convert_image_dtype(image, tf.float32) first. Received dtype {value.dtype}")
    return value


def _to_hsv(x, offsets=None):
    """TensorFlow's RGB to HSV kernel: v the max, s the range over v (0 for black), h the sextant
    position of the largest channel (red first, then green) over 6, wrapped into [0, 1).
    ``offsets``: the dtype the 2/6 and 4/6 are added in (float64 in adjust_saturation's kernel)."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = np.max(x, axis=-1)
    spread = v - np.min(x, axis=-1)
    s = np.where(v > 0, spread / np.where(v > 0, v, 1), 0).astype(x.dtype)
    offsets = offsets or x.dtype
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = 1 / (6 * spread)
        h = np.where(r == v, norm * (g - b), np.where(g == v, (norm * (b - r)).astype(offsets) + 2 / 6,
                                                      (norm * (r - g)).astype(offsets) + 4 / 6)).astype(x.dtype)
    h = np.where(spread > 0, h, 0)
    h = np.where(h < 0, h + 1, h).astype(x.dtype)
    return np.stack([h, s, v], axis=-1)


def _to_rgb(x):
    """TensorFlow's HSV to RGB kernel: each channel ``v (1 - s + s d)``, ``d`` a clipped tent of
    ``6 h`` (red around 0 and 6, green around 2, blue around 4)."""
    h, s, v = x[..., 0], x[..., 1], x[..., 2]
    dh = h * 6
    dr = np.clip(np.abs(dh - 3) - 1, 0, 1)
    dg = np.clip(2 - np.abs(dh - 2), 0, 1)
    db = np.clip(2 - np.abs(dh - 4), 0, 1)
    one_s = 1 - s
    return np.stack([(one_s + s * dr) * v, (one_s + s * dg) * v, (one_s + s * db) * v], axis=-1).astype(x.dtype)


def rgb_to_hsv(images, name=None):
    """RGB floats (last axis 3, values in [0, 1]) to HSV, each in [0, 1] (hue in [0, 1), 0 for grays),
    as TensorFlow's (and the stdlib's colorsys)."""
    return _eager(_to_hsv(_float_values(images, "rgb_to_hsv")))


def hsv_to_rgb(images, name=None):
    """HSV floats (last axis 3, hue in [0, 1]) to RGB, TensorFlow's inverse of `rgb_to_hsv`."""
    return _eager(_to_rgb(_float_values(images, "hsv_to_rgb")))


_YUV = np.array([[0.299, -0.14714119, 0.61497538], [0.587, -0.28886916, -0.51496512],
                 [0.114, 0.43601035, -0.10001026]])
_YUV_INV = np.array([[1, 1, 1], [0, -0.394642334, 2.03206185], [1.13988303, -0.58062185, 0]])
_YIQ = np.array([[0.299, 0.59590059, 0.2115], [0.587, -0.27455667, -0.52273617], [0.114, -0.32134392, 0.31119955]])
_YIQ_INV = np.array([[1, 1, 1], [0.95598634, -0.27201283, -1.10674021], [0.6208248, -0.64720424, 1.70423049]])


def _mixed(images, kernel, fn):
    """``images @ kernel`` on the last axis, in the images' float dtype (a tape tensor keeps its
    gradient), as TensorFlow's tensordot with its kernel."""
    if not isinstance(images, autodiff.Operators):
        images = np.asarray(images)
    shape, dtype = tuple(autodiff.shape(images)), np.dtype(autodiff.dtype(images))
    if not shape or shape[-1] != 3:
        raise ValueError(f"image.{fn}: the last axis must hold 3 values. Received shape {shape}")
    if dtype.kind != "f":
        raise TypeError(f"image.{fn}: expected float images (image.convert_image_dtype(image, tf.float32) first). "
                        f"Received dtype {dtype}")
    return _eager(ops.tensordot(images, kernel.astype(dtype), axes=[[-1], [0]]))


def rgb_to_yuv(images):
    """RGB floats to YUV (Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]), TensorFlow's matrix."""
    return _mixed(images, _YUV, "rgb_to_yuv")


def yuv_to_rgb(images):
    return _mixed(images, _YUV_INV, "yuv_to_rgb")


def rgb_to_yiq(images):
    return _mixed(images, _YIQ, "rgb_to_yiq")


def yiq_to_rgb(images):
    return _mixed(images, _YIQ_INV, "yiq_to_rgb")


# ---- colour adjustments: saturation, hue, gamma, JPEG quality ----------------------------------


def _rgb_images(image, fn):
    image = _images(image, fn)
    if autodiff.shape(image)[-1] != 3:
        raise ValueError(f"image.{fn}: expected RGB images (3 channels in the last axis). Received shape "
                         f"{tuple(autodiff.shape(image))}")
    return image


def _float32_rgb(image, fn, op):
    """``op`` (float32 (..., 3) to float32) on RGB images as TensorFlow's hue and saturation
    kernels run: in float32, an integer image in [0, 1] units, converted back to its dtype."""
    def on_floats(x):
        x = np.asarray(autodiff._value(x))
        return op(x.astype(np.float32)).astype(x.dtype)

    return _eager(_on_floats(_rgb_images(image, fn), on_floats))


def _pick(category, *choices):
    """``choices[k]`` where ``category == k`` (the six hue sextants)."""
    return np.select([category == k for k in range(len(choices) - 1)], list(choices[:-1]), choices[-1])


def _saturated(x, factor):
    """TensorFlow's adjust_saturation kernel: RGB to HSV, ``s = clip(s · factor, 0, 1)``, back by
    sextants (``c = s v``, ``m = v - c``), so the extreme channels stay exact."""
    h, s, v = np.moveaxis(_to_hsv(x, np.float64), -1, 0)
    s = np.clip(s * factor, np.float32(0), np.float32(1))
    c = s * v
    m = v - c
    dh = h * np.float32(6)
    category = dh.astype(np.int32)
    between = c * (np.float32(1) - np.abs(np.fmod(dh, np.float32(2)) - np.float32(1)))
    zero = np.zeros_like(c)
    r = _pick(category, c, between, zero, zero, between, c, zero)
    g = _pick(category, between, c, c, between, zero, zero, zero)
    b = _pick(category, zero, zero, between, c, c, between, zero)
    return np.stack([r + m, g + m, b + m], axis=-1)


def _hue_rotated(x, delta):
    """TensorFlow's adjust_hue kernel: each pixel's hue (in sextants, [0, 6)) moved by ``6 delta``
    while its smallest and largest channels keep their values; only the middle one changes."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    conditions = [(r < g) & (b < r), (r < g) & (b > g), r < g, b < g, b > r]
    category = np.select(conditions, [1, 3, 2, 0, 4], 5)
    high = _pick(category, r, g, g, b, b, r)
    mid = _pick(category, g, r, b, g, r, b)
    low = _pick(category, b, b, r, r, g, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (mid - low) / (high - low)
    h = np.where(high == low, np.float32(0),
                 category + np.where(category % 2 == 0, ratio, np.float32(1) - ratio)).astype(np.float32)
    h = h + delta * np.float32(6)
    for _ in range(2):
        h = np.where(h < 0, h + np.float32(6), h)
        h = np.where(h >= 6, h - np.float32(6), h)
    category = h.astype(np.int32)
    ratio = h - category
    ratio = np.where(category % 2 == 0, ratio, np.float32(1) - ratio)
    mid = low + ratio * (high - low)
    return np.stack([_pick(category, high, mid, low, low, mid, high), _pick(category, mid, high, high, mid, low, low),
                     _pick(category, low, low, mid, high, high, mid)], axis=-1)


def adjust_saturation(image, saturation_factor, name=None):
    """Multiply the HSV saturation by ``saturation_factor`` (clipped to [0, 1]); 0 gives grays."""
    factor = np.float32(autodiff._value(saturation_factor))
    return _float32_rgb(image, "adjust_saturation", lambda x: _saturated(x, factor))


def adjust_hue(image, delta, name=None):
    """Rotate the hue by ``delta`` (in [-1, 1]; a turn is 1), wrapping around; each pixel's
    smallest and largest channels keep their values."""
    delta = np.float32(autodiff._value(delta))
    if not -1 <= delta <= 1:
        raise ValueError(f"image.adjust_hue: delta must be in the interval [-1, 1]. Received: {delta}")
    return _float32_rgb(image, "adjust_hue", lambda x: _hue_rotated(x, delta))


def adjust_gamma(image, gamma=1, gain=1):
    """``gain * image ** gamma`` (an integer image in [0, 1] units, saturated back to its dtype)."""
    if np.any(np.asarray(autodiff._value(gamma)) < 0):
        raise ValueError(f"image.adjust_gamma: Gamma should be a non-negative real number. Received: {gamma}")
    return _eager(_on_floats(_images(image, "adjust_gamma"), lambda x: ops.multiply(ops.power(x, gamma), gain)))


def adjust_jpeg_quality(image, jpeg_quality, dct_method="", name=None):
    """The image after a JPEG encode at ``jpeg_quality`` (0-100, TensorFlow's 4:2:0 chroma) and a
    decode (Pillow's libjpeg, TensorFlow's decoding: `_jpeg_pixels`), in its dtype. Needs Pillow."""
    image = np.asarray(autodiff._value(_images(image, "adjust_jpeg_quality")))
    channels = image.shape[-1]
    if channels not in (1, 3):
        raise ValueError(f"image.adjust_jpeg_quality: the image must have 1 or 3 channels. Received shape "
                         f"{image.shape}")
    quality = int(autodiff._value(jpeg_quality))
    if not 0 <= quality <= 100:
        raise ValueError(f"image.adjust_jpeg_quality: jpeg_quality must be in [0, 100]. Received: {jpeg_quality}")
    as_bytes = np.asarray(convert_image_dtype(image, np.uint8, saturate=True))

    def one(x):
        return np.asarray(_decode(_encode_jpeg(x, "", quality, "adjust_jpeg_quality"), "adjust_jpeg_quality",
                                  channels, (1, 3), ("JPEG",)))

    out = one(as_bytes) if as_bytes.ndim == 3 else np.stack([one(x) for x in as_bytes])
    return convert_image_dtype(out, image.dtype, saturate=True)


# ---- random and stateless random augmentations -------------------------------------------------


def _stateless(seed, fn):
    """The random stream of a stateless op's ``seed`` (a pair of integers, TensorFlow's shape [2]):
    TensorFlow's Philox stream, so a pair gives TensorFlow's draws (`fastnn.random.stateless_rng`)."""
    from .random import stateless_rng

    return stateless_rng(seed, f"image.{fn}")


def _check_range(lower, upper, fn):
    if upper <= lower:
        raise ValueError(f"image.{fn}: upper must be > lower. Received: lower={lower}, upper={upper}")
    if lower < 0:
        raise ValueError(f"image.{fn}: lower must be non-negative. Received: lower={lower}")


def _check_delta(max_delta, fn, most=None):
    if max_delta < 0:
        raise ValueError(f"image.{fn}: max_delta must be non-negative. Received: {max_delta}")
    if most is not None and max_delta > most:
        raise ValueError(f"image.{fn}: max_delta must be <= {most}. Received: {max_delta}")


def _check_qualities(low, high, fn):
    if min(low, high) < 0 or max(low, high) > 100:
        raise ValueError(f"image.{fn}: jpeg encoding range must be between 0 and 100. Received: {low}, {high}")
    if low >= high:
        raise ValueError(f"image.{fn}: `min_jpeg_quality` must be less than `max_jpeg_quality`. Received: {low}, "
                         f"{high}")


def _crop_randomly(value, size, rng, fn):
    """A window of ``size`` (one entry per axis) of ``value`` at offsets drawn uniformly."""
    value = value if isinstance(value, autodiff.Operators) else np.asarray(value)
    shape = tuple(autodiff.shape(value))
    size = [int(s) for s in np.asarray(autodiff._value(size)).reshape(-1)]
    if len(size) != len(shape):
        raise ValueError(f"image.{fn}: size must have one entry per axis of value. Received: value shape {shape}, "
                         f"size {size}")
    if any(s < 0 or s > d for s, d in zip(size, shape)):
        raise ValueError(f"image.{fn}: Need value.shape >= size, got shape {shape} and size {size}")
    # (TensorFlow's random_crop: one int32 in [0, 2**31 - 1) per axis, modulo the axis's offsets)
    draws = np.asarray(rng.integers(0, 2**31 - 1, size=len(shape)), dtype=np.int64)
    window = tuple(slice(int(o) % (d - s + 1), int(o) % (d - s + 1) + s) for o, d, s in zip(draws, shape, size))
    cropped = value[window]
    return _eager(cropped.copy() if isinstance(cropped, np.ndarray) else cropped)


def random_contrast(image, lower, upper, seed=None):
    """`adjust_contrast` by one factor drawn uniformly from [lower, upper)."""
    _check_range(lower, upper, "random_contrast")
    return adjust_contrast(image, _generator(seed).uniform(lower, upper))


def random_saturation(image, lower, upper, seed=None):
    """`adjust_saturation` by one factor drawn uniformly from [lower, upper)."""
    _check_range(lower, upper, "random_saturation")
    return adjust_saturation(image, _generator(seed).uniform(lower, upper))


def random_hue(image, max_delta, seed=None):
    """`adjust_hue` by one delta drawn uniformly from [-max_delta, max_delta) (max_delta <= 0.5)."""
    _check_delta(max_delta, "random_hue", 0.5)
    return adjust_hue(image, _generator(seed).uniform(-max_delta, max_delta))


def random_crop(value, size, seed=None, name=None):
    """A window of ``size`` (one entry per axis of ``value``: [2, h, w, 3] crops a stacked pair
    alike, as pix2pix does) at a uniformly drawn offset."""
    return _crop_randomly(value, size, _generator(seed), "random_crop")


def random_jpeg_quality(image, min_jpeg_quality, max_jpeg_quality, seed=None):
    """`adjust_jpeg_quality` at a quality drawn uniformly from [min, max) (needs Pillow)."""
    _check_qualities(min_jpeg_quality, max_jpeg_quality, "random_jpeg_quality")
    return adjust_jpeg_quality(image, int(_generator(seed).integers(min_jpeg_quality, max_jpeg_quality)))


def stateless_random_flip_left_right(image, seed):
    """Each image flipped left-right with probability 1/2, decided by ``seed`` (a pair of ints):
    TensorFlow's draws (see `_stateless`)."""
    rng = _stateless(seed, "stateless_random_flip_left_right")
    return _flip_randomly(image, -2, None, "stateless_random_flip_left_right", rng)


def stateless_random_flip_up_down(image, seed):
    """Each image flipped upside down with probability 1/2, decided by ``seed`` (a pair of ints)."""
    rng = _stateless(seed, "stateless_random_flip_up_down")
    return _flip_randomly(image, -3, None, "stateless_random_flip_up_down", rng)


def stateless_random_brightness(image, max_delta, seed):
    """`adjust_brightness` by a delta in [-max_delta, max_delta) fixed by ``seed`` (a pair of ints)."""
    _check_delta(max_delta, "stateless_random_brightness")
    return adjust_brightness(image, _stateless(seed, "stateless_random_brightness").uniform(-max_delta, max_delta))


def stateless_random_contrast(image, lower, upper, seed):
    """`adjust_contrast` by a factor in [lower, upper) fixed by ``seed`` (a pair of ints)."""
    _check_range(lower, upper, "stateless_random_contrast")
    return adjust_contrast(image, _stateless(seed, "stateless_random_contrast").uniform(lower, upper))


def stateless_random_saturation(image, lower, upper, seed):
    """`adjust_saturation` by a factor in [lower, upper) fixed by ``seed`` (a pair of ints)."""
    _check_range(lower, upper, "stateless_random_saturation")
    return adjust_saturation(image, _stateless(seed, "stateless_random_saturation").uniform(lower, upper))


def stateless_random_hue(image, max_delta, seed):
    """`adjust_hue` by a delta in [-max_delta, max_delta) fixed by ``seed`` (max_delta <= 0.5)."""
    _check_delta(max_delta, "stateless_random_hue", 0.5)
    return adjust_hue(image, _stateless(seed, "stateless_random_hue").uniform(-max_delta, max_delta))


def stateless_random_crop(value, size, seed, name=None):
    """`random_crop` at an offset fixed by ``seed`` (a pair of ints)."""
    return _crop_randomly(value, size, _stateless(seed, "stateless_random_crop"), "stateless_random_crop")


def stateless_random_jpeg_quality(image, min_jpeg_quality, max_jpeg_quality, seed):
    """`adjust_jpeg_quality` at a quality in [min, max) fixed by ``seed`` (needs Pillow)."""
    _check_qualities(min_jpeg_quality, max_jpeg_quality, "stateless_random_jpeg_quality")
    rng = _stateless(seed, "stateless_random_jpeg_quality")
    return adjust_jpeg_quality(image, int(rng.integers(min_jpeg_quality, max_jpeg_quality)))


# ---- gradients, boxes: image_gradients, crop_and_resize, draw_bounding_boxes, NMS ---------------


@_graph
def image_gradients(image):
    """The differences to the next pixel down (dy) and across (dx) of a batch (N, H, W, C), each
    (N, H, W, C) with zeros in the last row (dy) and column (dx), as TensorFlow's."""
    image = image if isinstance(image, autodiff.Operators) else np.asarray(image)
    shape = tuple(autodiff.shape(image))
    if len(shape) != 4:
        raise _fail(ValueError, "image_gradients", f"image_gradients expects a 4D tensor [batch_size, h, w, d], not "
                                                   f"{shape}")
    dy = ops.pad(image[:, 1:, :, :] - image[:, :-1, :, :], ((0, 0), (0, 1), (0, 0), (0, 0)))
    dx = ops.pad(image[:, :, 1:, :] - image[:, :, :-1, :], ((0, 0), (0, 0), (0, 1), (0, 0)))
    return _eager(dy), _eager(dx)


def _int_list(value, what, fn, length=None):
    values = np.asarray(autodiff._value(value))
    if values.dtype.kind not in "iu" and not (values.dtype.kind == "f" and np.all(values == np.round(values))):
        raise ValueError(f"image.{fn}: {what} must be integers. Received: {value!r}")
    values = [int(v) for v in values.reshape(-1)]
    if length is not None and len(values) != length:
        raise ValueError(f"image.{fn}: {what} must have {length} entries. Received: {value!r}")
    return values


def _sample_positions(low, high, size, extent):
    """TensorFlow's crop_and_resize sample positions (float32) along one axis of ``extent`` pixels."""
    low, high, last = np.float32(low), np.float32(high), np.float32(extent - 1)
    if size > 1:
        scale = (high - low) * last / np.float32(size - 1)
        return low * last + np.arange(size, dtype=np.float32) * scale
    return np.full(1, np.float32(0.5) * (low + high) * last, np.float32)


def crop_and_resize(image, boxes, box_indices, crop_size, method="bilinear", extrapolation_value=0.0, name=None):
    """TensorFlow's crops of a batch (N, H, W, C): box ``i`` ((y1, x1, y2, x2), normalised: 0 the
    first pixel's centre, 1 the last's; y1 > y2 flips) of image ``box_indices[i]``, sampled at
    ``crop_size`` (h, w) evenly spaced points (bilinear or nearest); points outside the image take
    ``extrapolation_value``. (num_boxes, h, w, C) float32."""
    fn = "crop_and_resize"
    image = np.asarray(autodiff._value(image))
    if image.ndim != 4:
        raise ValueError(f"image.{fn}: image must be 4-D (batch, height, width, depth). Received shape {image.shape}")
    boxes = np.asarray(autodiff._value(boxes), np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"image.{fn}: boxes must be 2-D [num_boxes, 4]. Received shape {boxes.shape}")
    indices = np.asarray(autodiff._value(box_indices))
    if indices.shape != (len(boxes),) or (indices.size and indices.dtype.kind not in "iu"):
        raise ValueError(f"image.{fn}: box_indices must be 1-D integers, one per box ({len(boxes)}). Received "
                         f"{indices.dtype} of shape {indices.shape}")
    n, h, w, depth = image.shape
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"image.{fn}: box_indices has values outside [0, batch_size) = [0, {n}): {indices.tolist()}")
    crop_h, crop_w = _int_list(crop_size, "crop_size", fn, 2)
    if crop_h <= 0 or crop_w <= 0:
        raise ValueError(f"image.{fn}: crop dimensions must be positive. Received crop_size {[crop_h, crop_w]}")
    method = getattr(method, "value", method)
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"image.{fn}: method must be 'bilinear' or 'nearest'. Received: {method!r}")
    out = np.empty((len(boxes), crop_h, crop_w, depth), np.float32)
    fill = np.float32(extrapolation_value)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        picture = image[int(indices[k])].astype(np.float32)
        ys, xs = _sample_positions(y1, y2, crop_h, h), _sample_positions(x1, x2, crop_w, w)
        inside = ((ys >= 0) & (ys <= h - 1))[:, None] & ((xs >= 0) & (xs <= w - 1))[None, :]
        if method == "nearest":  # (roundf: half away from zero, in double: floor(x + 0.5) in float32 rounds
            # 0.49999997 up; only in-image points are kept)
            yi, xi = (np.clip(np.sign(v) * np.floor(np.abs(v.astype(np.float64)) + 0.5), 0, n - 1).astype(np.intp)
                      for v, n in ((ys, h), (xs, w)))
            values = picture[yi[:, None], xi[None, :]]
        else:
            top, left = np.clip(np.floor(ys), 0, h - 1), np.clip(np.floor(xs), 0, w - 1)
            bottom, right = np.clip(np.ceil(ys), 0, h - 1), np.clip(np.ceil(xs), 0, w - 1)
            y_lerp, x_lerp = (ys - top)[:, None, None], (xs - left)[None, :, None]
            t, b = top.astype(np.intp)[:, None], bottom.astype(np.intp)[:, None]
            lft, rgt = left.astype(np.intp)[None, :], right.astype(np.intp)[None, :]
            upper = picture[t, lft] + (picture[t, rgt] - picture[t, lft]) * x_lerp
            lower = picture[b, lft] + (picture[b, rgt] - picture[b, lft]) * x_lerp
            values = upper + (lower - upper) * y_lerp
        out[k] = np.where(inside[..., None], values, fill)
    return _eager(out)


_BOX_COLOURS = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1],
                         [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]], np.float32)


def draw_bounding_boxes(images, boxes, colors=None, name=None):
    """A copy of a batch of float images (N, H, W, 1, 3 or 4 channels) with each box's one-pixel
    outline drawn: ``boxes`` (N, num_boxes, 4), (y_min, x_min, y_max, x_max) in [0, 1] of the
    height and width, as TensorFlow's (corners at ``int(y · (H - 1))``); box ``i`` in
    ``colors[i % len(colors)]`` (RGBA rows; default TensorFlow's table of 10, white for one channel)."""
    fn = "draw_bounding_boxes"
    images = np.asarray(autodiff._value(images))
    if images.ndim != 4:
        raise ValueError(f"image.{fn}: images must be 4-D (batch, height, width, depth). Received shape {images.shape}")
    if images.dtype.kind != "f":
        raise TypeError(f"image.{fn}: expected float images (image.convert_image_dtype(images, tf.float32) first). "
                        f"Received dtype {images.dtype}")
    n, h, w, depth = images.shape
    if depth not in (1, 3, 4):
        raise ValueError(f"image.{fn}: Channel depth should be either 1 (GRY), 3 (RGB), or 4 (RGBA). Received {depth}")
    boxes = np.asarray(autodiff._value(boxes), np.float32)
    if boxes.ndim != 3 or boxes.shape[0] != n or boxes.shape[2] != 4:
        raise ValueError(f"image.{fn}: boxes must be 3-D (batch {n}, num_boxes, 4). Received shape {boxes.shape}")
    table = None if colors is None else np.asarray(autodiff._value(colors), np.float32)
    if table is not None and (table.ndim != 2 or table.shape[1] < depth):
        raise ValueError(f"image.{fn}: colors must be a 2-D matrix with at least {depth} channels (the image's). "
                         f"Received shape {table.shape}")
    if table is None or not table.size:
        table = _BOX_COLOURS.copy()
        if depth == 1:
            table[:, 0] = 1
    canvas = images.copy()
    for b in range(n):
        for k, box in enumerate(boxes[b]):
            colour = table[k % len(table), :depth].astype(images.dtype)
            # (TensorFlow's int64 casts: truncated toward zero)
            top, bottom = int(box[0] * np.float32(h - 1)), int(box[2] * np.float32(h - 1))
            left, right = int(box[1] * np.float32(w - 1)), int(box[3] * np.float32(w - 1))
            if top > bottom or left > right or top >= h or bottom < 0 or left >= w or right < 0:
                continue  # (inverted, or wholly outside: not drawn)
            r0, r1, c0, c1 = max(top, 0), min(bottom, h - 1), max(left, 0), min(right, w - 1)
            if top >= 0:
                canvas[b, top, c0:c1 + 1] = colour
            if bottom < h:
                canvas[b, bottom, c0:c1 + 1] = colour
            if left >= 0:
                canvas[b, r0:r1 + 1, left] = colour
            if right < w:
                canvas[b, r0:r1 + 1, right] = colour
    return _eager(canvas)


def _box_iou(boxes):
    """The IoU of box ``i`` with boxes ``js`` (TensorFlow's, in float32: corners in any order, 0
    for a box of no area)."""
    y0, y1 = np.minimum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 0], boxes[:, 2])
    x0, x1 = np.minimum(boxes[:, 1], boxes[:, 3]), np.maximum(boxes[:, 1], boxes[:, 3])
    area = (y1 - y0) * (x1 - x0)

    def iou(i, js):
        inter = (np.maximum(np.minimum(y1[i], y1[js]) - np.maximum(y0[i], y0[js]), np.float32(0))
                 * np.maximum(np.minimum(x1[i], x1[js]) - np.maximum(x0[i], x0[js]), np.float32(0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            value = inter / (area[i] + area[js] - inter)
        return np.where((area[i] <= 0) | (area[js] <= 0), np.float32(0), value)

    return iou


def _suppress(similarity, scores, max_output_size, threshold, score_threshold, sigma, fn, iou=True):
    """TensorFlow's greedy (soft) non-max suppression: candidates above ``score_threshold`` by
    decreasing score (ties: the lower index first); one whose similarity to a selected one
    exceeds ``threshold`` is dropped (hard), or its score decays by exp(-sim² / 2 sigma) and it
    goes back in the queue (soft, sigma > 0)."""
    scores = np.asarray(autodiff._value(scores), np.float32)
    count = int(autodiff._value(max_output_size))
    if count < 0:
        raise ValueError(f"image.{fn}: max_output_size must be non-negative. Received: {max_output_size}")
    threshold, floor = np.float32(autodiff._value(threshold)), np.float32(autodiff._value(score_threshold))
    if iou and not 0 <= threshold <= 1:  # (TensorFlow checks the IoU threshold's range, not an overlap one's)
        raise ValueError(f"image.{fn}: the IoU threshold must be in [0, 1]. Received: {threshold}")
    sigma = np.float32(autodiff._value(sigma))
    if sigma < 0:
        raise ValueError(f"image.{fn}: soft_nms_sigma must be non-negative. Received: {sigma}")
    scale = np.float32(-0.5) / sigma if sigma > 0 else np.float32(0)
    queue = [(-float(s), i, 0) for i, s in enumerate(scores.tolist()) if s > floor]
    heapq.heapify(queue)
    chosen, chosen_scores = [], []
    while len(chosen) < count and queue:
        negative, i, begin = heapq.heappop(queue)
        score = original = np.float32(-negative)
        sims = similarity(i, np.asarray(chosen[begin:], np.intp))[::-1]
        dropped = False
        for sim in sims:  # (the latest selected first, as TensorFlow's loop)
            if sigma > 0:
                score = np.float32(score * np.exp(scale * sim * sim))
            elif sim > threshold:
                dropped = True
                break
            if score <= floor:
                break
        if dropped:
            continue
        if score == original:
            chosen.append(i)
            chosen_scores.append(score)
        elif score > floor:
            heapq.heappush(queue, (-float(score), i, len(chosen)))
    return _eager(np.asarray(chosen, np.int32)), _eager(np.asarray(chosen_scores, np.float32))


def _nms_boxes(boxes, scores, fn):
    boxes = np.asarray(autodiff._value(boxes), np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"image.{fn}: boxes must be 2-D [num_boxes, 4]. Received shape {boxes.shape}")
    if np.shape(autodiff._value(scores)) != (len(boxes),):
        raise ValueError(f"image.{fn}: scores must be 1-D, one per box ({len(boxes)}). Received shape "
                         f"{np.shape(autodiff._value(scores))}")
    return _box_iou(boxes)


def non_max_suppression(boxes, scores, max_output_size, iou_threshold=0.5, score_threshold=float("-inf"), name=None):
    """The indices (int32) of at most ``max_output_size`` boxes ((y1, x1, y2, x2), (num_boxes, 4))
    kept by greedy non-max suppression: by decreasing score, a box overlapping a kept one by IoU >
    ``iou_threshold`` is dropped; boxes scoring <= ``score_threshold`` are never kept."""
    fn = "non_max_suppression"
    return _suppress(_nms_boxes(boxes, scores, fn), scores, max_output_size, iou_threshold, score_threshold, 0.0, fn)[0]


def non_max_suppression_with_scores(boxes, scores, max_output_size, iou_threshold=0.5, score_threshold=float("-inf"),
                                    soft_nms_sigma=0.0, name=None):
    """(indices, scores) of `non_max_suppression`; ``soft_nms_sigma`` > 0 is Soft-NMS (Bodla et al.):
    overlapping boxes' scores decay by exp(-IoU² / (2 sigma)) instead of being dropped."""
    fn = "non_max_suppression_with_scores"
    return _suppress(_nms_boxes(boxes, scores, fn), scores, max_output_size, iou_threshold, score_threshold,
                     soft_nms_sigma, fn)


def non_max_suppression_overlaps(overlaps, scores, max_output_size, overlap_threshold=0.5,
                                 score_threshold=float("-inf"), name=None):
    """`non_max_suppression` with the overlaps given: ``overlaps[i, j]`` (num_boxes, num_boxes)
    replaces the IoU of boxes i and j."""
    fn = "non_max_suppression_overlaps"
    overlaps = np.asarray(autodiff._value(overlaps), np.float32)
    n = len(np.asarray(autodiff._value(scores)).reshape(-1))
    if overlaps.shape != (n, n):
        raise ValueError(f"image.{fn}: overlaps must be [num_boxes, num_boxes] ({n} scores). Received shape "
                         f"{overlaps.shape}")
    return _suppress(lambda i, js: overlaps[i, js], scores, max_output_size, overlap_threshold, score_threshold,
                     0.0, fn, iou=False)[0]


# ---- encoded images: decode (Pillow) and encode (PNG: zlib; JPEG: Pillow) -----------------------


def _pillow(fn):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"image.{fn}: JPEG, GIF and BMP images (and interlaced PNGs) need Pillow to be decoded or "
                          "encoded, and it is not installed: pip install pillow") from None
    return Image


def _bytes_tensor(data):
    """``data`` as fastnn's 0-d string tensor of bytes: an `EagerArray` of dtype object whose
    ``numpy()`` is the bytes (TensorFlow's ``tf.io.read_file(path).numpy()``)."""
    out = np.empty((), dtype=object)
    out[()] = bytes(data)
    return out.view(EagerArray)


def _contents(contents, fn):
    """The encoded bytes in ``contents``: bytes, or a 0-d tensor of them (`tf.io.read_file`'s)."""
    value = autodiff._value(contents)
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError(f"image.{fn}: contents must be 0-D (one encoded image). Received shape {value.shape}")
        value = np.asarray(value)[()]  # (a plain array's: an EagerArray's [()] is a 0-d EagerArray)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        raise TypeError(f"image.{fn}: expected the encoded image's bytes (tf.io.read_file(path)'s result). Received "
                        f"a text string {value[:80]!r}: a file name? Read it with tf.io.read_file first")
    raise TypeError(f"image.{fn}: expected the encoded image's bytes (tf.io.read_file(path)'s result). Received "
                    f"{type(value).__name__}")


_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"))
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_SIXTEEN = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _pixels(picture, channels):
    """A Pillow image as (H, W, C) uint8 (uint16 for 16-bit grays), with ``channels`` (0: as in
    the file) as TensorFlow's decoders give them (a palette as RGB, or RGBA with transparency)."""
    mode = picture.mode
    if mode in _SIXTEEN:
        gray = np.clip(np.asarray(picture), 0, 65535).astype(np.uint16)[..., None]
        if channels in (0, 1):
            return gray
        planes = [gray] * 3 + ([np.full_like(gray, 65535)] if channels == 4 else [])
        return np.concatenate(planes, axis=-1)
    if channels:
        target = _MODES[channels]
    elif mode in ("1", "L"):
        target = "L"
    elif mode in ("LA", "RGB", "RGBA"):
        target = mode
    elif mode == "P":
        target = "RGBA" if "transparency" in picture.info else "RGB"
    elif mode == "PA":
        target = "RGBA"
    else:  # (CMYK, YCbCr, RGBX...: as TensorFlow, RGB)
        target = "RGB"
    array = np.asarray(picture if mode == target else picture.convert(target))
    return (array[..., None] if array.ndim == 2 else array).astype(np.uint8, copy=False)


def _png_chunks(data):
    """The PNG's header fields and its PLTE, tRNS and joined IDAT data."""
    pos, found, idat = 8, {}, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            idat.append(body)
        elif kind in (b"IHDR", b"PLTE", b"tRNS"):
            found[kind] = body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if len(found.get(b"IHDR", b"")) != 13:
        raise ValueError("no valid IHDR chunk")
    return struct.unpack(">IIBBBBB", found[b"IHDR"]), found.get(b"PLTE"), found.get(b"tRNS"), b"".join(idat)


def _png_unfilter(rows, bpp):
    """Undo PNG's per-row filters (``rows``: (H, 1 + row bytes), each row's filter byte first)."""
    h, stride = rows.shape[0], rows.shape[1] - 1
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        kind, line = int(rows[y, 0]), rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # sub: a running sum, byte by byte, of each channel
            cur = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:
            cur = line + prev
        elif kind in (3, 4):  # average, Paeth: each byte needs the one reconstructed before it
            cur, raw, up = bytearray(stride), line.tobytes(), prev.tobytes()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                if kind == 3:
                    cur[i] = (raw[i] + ((a + up[i]) >> 1)) & 255
                else:
                    b, c = up[i], (up[i - bpp] if i >= bpp else 0)
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[i] = (raw[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.frombuffer(bytes(cur), np.uint8)
        else:
            raise ValueError(f"unknown PNG filter type {kind} in row {y}")
        out[y] = cur
        prev = out[y]
    return out


def _png_pixels(data):
    """A non-interlaced PNG decoded with zlib and NumPy: (H, W, C) uint8 or uint16 as in the file
    (a palette expanded to RGB, or RGBA with a tRNS chunk; 1/2/4-bit grays scaled to 8 bits), or
    None for an interlaced one."""
    (w, h, depth, color, _, _, interlace), palette, alpha, idat = _png_chunks(data)
    if interlace:
        return None
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bits = depth * channels
    stride = (w * bits + 7) // 8
    raw = np.frombuffer(zlib.decompress(idat), np.uint8)
    if raw.size < h * (stride + 1):
        raise ValueError("the PNG image data is truncated")
    packed = _png_unfilter(raw[:h * (stride + 1)].reshape(h, stride + 1), max(1, bits // 8))
    if depth == 16:
        values = packed.view(">u2").astype(np.uint16)
    elif depth == 8:
        values = packed
    else:
        shifts = np.arange(8 - depth, -1, -depth, dtype=np.uint8)
        values = ((packed[:, :, None] >> shifts) & ((1 << depth) - 1)).reshape(h, -1)[:, :w * channels]
    values = values.reshape(h, w, channels)
    if color == 3:
        table = np.frombuffer(palette or b"", np.uint8).reshape(-1, 3)
        if alpha is not None:
            opacity = np.full(len(table), 255, np.uint8)
            opacity[:len(alpha)] = np.frombuffer(alpha, np.uint8)[:len(table)]
            table = np.concatenate([table, opacity[:, None]], axis=1)
        return table[np.minimum(values[..., 0], len(table) - 1)]
    if depth < 8:  # (libpng's expansion of low-bit grays: 1 bit × 255, 2 bits × 85, 4 bits × 17)
        values = (values * (255 // ((1 << depth) - 1))).astype(np.uint8)
    return values


def _converted_channels(pixels, channels, png=False):
    """(H, W, C) pixels with ``channels`` (1, 3, 4; 0 keeps them): grays replicated, alpha
    dropped or made opaque, colours to luma with Pillow's integer weights (a PNG's with libpng's
    png_set_rgb_to_gray(0.299, 0.587), truncated, as TensorFlow's PNG decoder)."""
    have = pixels.shape[-1]
    if not channels or channels == have:
        return pixels
    top = np.iinfo(pixels.dtype).max
    gray = pixels[..., :1] if have <= 2 else None
    if channels == 1:
        if gray is not None:
            return gray
        rgb = pixels[..., :3].astype(np.int64)
        luma = (rgb[..., 0] * 9797 + rgb[..., 1] * 19234 + rgb[..., 2] * 3737) >> 15 if png else \
            (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
        return luma.astype(pixels.dtype)[..., None]
    rgb = np.concatenate([gray] * 3, axis=-1) if gray is not None else pixels[..., :3]
    if channels == 3:
        return rgb
    opacity = pixels[..., -1:] if have in (2, 4) else np.full(pixels.shape[:-1] + (1,), top, pixels.dtype)
    return np.concatenate([rgb, opacity], axis=-1)


def _decoded_dtype(pixels, dtype, fn, png=True):
    """8- or 16-bit pixels in ``dtype``: uint8 (16-bit values' high byte, as libpng strips them),
    uint16 (8-bit values × 257 for a PNG, as libpng expands them; × 256 for the other formats, as
    decode_image_op.cc scales them) or a float type ([0, 1])."""
    dtype = np.dtype(getattr(dtype, "name", dtype))
    if dtype == np.uint8:
        return pixels if pixels.dtype == np.uint8 else (pixels >> 8).astype(np.uint8)
    if dtype == np.uint16:
        return pixels if pixels.dtype == np.uint16 else pixels.astype(np.uint16) * np.uint16(257 if png else 256)
    if dtype.kind == "f":
        return np.asarray(convert_image_dtype(pixels, dtype))
    raise TypeError(f"image.{fn}: dtype must be uint8, uint16 or a float type. Received: {dtype}")


def _fast_dct(picture):
    """Pillow's "draft" decoding: libjpeg's fast integer DCT (TensorFlow's default), with box
    chroma upsampling."""
    config = tuple(getattr(picture, "decoderconfig", ()) or ())
    picture.decoderconfig = ((config[0] if config else 1), 1)


def _fancy_upsampled(plane, down):
    """libjpeg's "fancy" (triangle) chroma upsampling, twice across and ``down`` (1 or 2) times
    down, with jdsample.c's integer rounding and its edges (the outer samples repeated)."""
    p = plane.astype(np.int32)

    def beside(a, axis):  # (the previous and next samples along ``axis``, the edges repeated)
        first, last = np.take(a, [0], axis), np.take(a, [-1], axis)
        return (np.concatenate([first, np.delete(a, -1, axis)], axis),
                np.concatenate([np.delete(a, 0, axis), last], axis))

    if down == 2:
        above, below = beside(p, 0)
        sums = np.stack([3 * p + above, 3 * p + below], axis=1).reshape(-1, p.shape[1])
        left, right = beside(sums, 1)
        return np.stack([(3 * sums + left + 8) >> 4, (3 * sums + right + 7) >> 4], axis=2).reshape(len(sums), -1)
    left, right = beside(p, 1)
    return np.stack([(3 * p + left + 1) >> 2, (3 * p + right + 2) >> 2], axis=2).reshape(len(p), -1)


def _fix(x):
    return int(x * 65536 + 0.5)


_CODES = np.arange(256, dtype=np.int32) - 128  # (jdcolor.c's 16-bit fixed-point tables, by Cb or Cr code)
_CR_R = ((_fix(1.40200) * _CODES + 32768) >> 16).astype(np.int32)
_CB_B = ((_fix(1.77200) * _CODES + 32768) >> 16).astype(np.int32)
_CR_G = (-_fix(0.71414) * _CODES).astype(np.int32)
_CB_G = (-_fix(0.34414) * _CODES + 32768).astype(np.int32)


def _ycc_to_rgb(y, cb, cr):
    """libjpeg's YCbCr to RGB (jdcolor.c's tables), ``y``, ``cb``, ``cr`` integer planes."""
    y, cb, cr = (np.asarray(a, np.int32) for a in (y, cb, cr))
    out = np.empty(y.shape + (3,), np.uint8)
    out[..., 0] = np.clip(y + _CR_R[cr], 0, 255)
    out[..., 1] = np.clip(y + ((_CB_G[cb] + _CR_G[cr]) >> 16), 0, 255)
    out[..., 2] = np.clip(y + _CB_B[cb], 0, 255)
    return out


def _jpeg_pixels(picture, channels, ratio, dct_method, fancy):
    """A JPEG decoded as TensorFlow's decoder does (libjpeg's fast DCT by default, ``ratio``
    downscaling, the Y channel for ``channels=1``), as an (H, W, 3) array for the colour JPEGs it
    decodes itself, else None with ``picture`` set up for Pillow to decode. Pillow's switch for
    the fast DCT also turns the smooth chroma upsampling off, so a 4:2:0 or 4:2:2 JPEG's chroma
    planes are read with it and upsampled here, as libjpeg does; then the pixels are
    TensorFlow's. Left to Pillow, near TensorFlow's: ``dct_method="INTEGER_ACCURATE"`` with
    ``fancy_upscaling=False``, and other samplings (4:4:0, 4:1:1) and CMYK with the fast DCT."""
    w, h = picture.size
    size = (max(1, w // ratio), max(1, h // ratio)) if ratio != 1 else None
    fast = dct_method != "INTEGER_ACCURATE"
    if channels == 1 or picture.mode == "L":
        if size or channels == 1:
            picture.draft("L", size)
        if fast:
            _fast_dct(picture)
        return None
    if picture.mode != "RGB" or picture.info.get("adobe_transform", 1) == 0:
        return None
    from PIL import JpegImagePlugin

    sampling = JpegImagePlugin.get_sampling(picture)
    # (a 4:2:0 JPEG scaled down by 2 or 4: libjpeg makes its chroma at full size with the scaled
    # inverse DCT, not by upsampling, so Pillow's scaled decode is TensorFlow's)
    scaled_chroma = sampling == 2 and 1 < ratio < 8
    if sampling not in (0, 1, 2) or not fast or sampling == 0 or not fancy or scaled_chroma:
        if size:
            picture.draft("RGB", size)
        if fast and (sampling == 0 or not fancy or scaled_chroma):
            _fast_dct(picture)  # (no upsampling to do, or TensorFlow's is the box one too)
        return None
    picture.draft("YCbCr", size)
    _fast_dct(picture)
    ycc = np.asarray(picture).astype(np.int32)
    down = 2 if sampling == 2 else 1
    cb, cr = ycc[::down, ::2, 1], ycc[::down, ::2, 2]  # (the planes as coded: box-upsampled, so every other)
    if cb.shape[1] > 2 and ratio < 8:  # (libjpeg's condition for the fancy upsampling)
        cb, cr = _fancy_upsampled(cb, down)[:ycc.shape[0], :ycc.shape[1]], \
            _fancy_upsampled(cr, down)[:ycc.shape[0], :ycc.shape[1]]
    else:
        cb, cr = ycc[..., 1], ycc[..., 2]
    return _ycc_to_rgb(ycc[..., 0], cb, cr)


def _png_without_pillow(data):
    """Whether to decode a PNG with `_png_pixels`: without Pillow, or for 16-bit colour or
    gray-with-alpha PNGs (Pillow keeps 8 bits of those)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return True
    return len(data) >= 26 and data[24] == 16 and data[25] in (2, 4, 6)


def _decode(contents, fn, channels, allowed, formats, dtype=np.uint8, animations=None, ratio=1, dct_method="",
            fancy=True):
    """Decode ``contents`` (one of ``formats``) with Pillow: (H, W, C), or (frames, H, W, 3) for a
    GIF when ``animations`` is True (False: its first frame; None: one frame only, as
    decode_jpeg/decode_png take non-animated GIFs)."""
    data = _contents(contents, fn)
    kind = next((k for magic, k in _MAGIC if data.startswith(magic)), None)
    if kind is None:
        raise ValueError(f"image.{fn}: Unknown image file format. One of JPEG, PNG, GIF, BMP required. (The data "
                         f"begins {data[:12]!r}.)")
    if kind not in formats:
        raise ValueError(f"image.{fn}: Trying to decode {kind} format using {fn}. Use decode_{kind.lower()} or "
                         "decode_image instead")
    channels = 0 if channels is None else int(autodiff._value(channels))
    if channels not in allowed:
        raise ValueError(f"image.{fn}: channels must be one of {', '.join(map(str, allowed))}. Received: "
                         f"channels={channels}")
    if kind == "GIF" and channels not in (0, 3):
        raise ValueError(f"image.{fn}: channels must be 0 or 3 for GIF, got {channels}")
    if kind == "PNG" and _png_without_pillow(data):  # (16-bit colour, which Pillow reads as 8-bit; no Pillow)
        try:
            pixels = _png_pixels(data)
        except Exception as e:
            raise ValueError(f"image.{fn}: the PNG data could not be decoded: {e}") from None
        if pixels is not None:
            return _eager(_decoded_dtype(_converted_channels(pixels, channels, png=True), dtype, fn))
    image_module = _pillow(fn)
    try:
        picture = image_module.open(io.BytesIO(data))
        jpeg = _jpeg_pixels(picture, channels, ratio, dct_method, fancy) if kind == "JPEG" else None
        if kind == "GIF":
            frames = []
            for index in range(getattr(picture, "n_frames", 1)):
                picture.seek(index)
                frames.append(np.asarray(picture.convert("RGB")))
                if animations is False:
                    break
            if animations is None and len(frames) > 1:
                raise ValueError(f"image.{fn}: the GIF is animated ({len(frames)} frames); use decode_gif or "
                                 "decode_image")
            pixels = np.stack(frames) if animations else frames[0]
        elif kind == "PNG" and channels == 1:  # (libpng's gray, not Pillow's)
            pixels = _converted_channels(_pixels(picture, 0), 1, png=True)
        else:
            pixels = _pixels(picture, channels) if jpeg is None else _converted_channels(jpeg, channels)
    except ValueError as e:
        if str(e).startswith(f"image.{fn}:"):
            raise
        raise ValueError(f"image.{fn}: the {kind} data could not be decoded: {e}") from None
    except Exception as e:  # (Pillow's OSError, SyntaxError, EOFError on truncated or corrupt data)
        raise ValueError(f"image.{fn}: the {kind} data could not be decoded: {e}") from None
    return _eager(_decoded_dtype(pixels, dtype, fn, png=kind == "PNG"))


def decode_image(contents, channels=None, dtype=np.uint8, name=None, expand_animations=True):
    """The BMP, GIF, JPEG or PNG image in ``contents`` (bytes: `tf.io.read_file`'s): (H, W, C), C
    as in the file (``channels`` 0 or None) or 1, 3, 4; a GIF (frames, H, W, 3) unless
    ``expand_animations=False`` (its first frame); ``dtype`` uint8, uint16 or float ([0, 1]).
    Pillow decodes (JPEG: TensorFlow's pixels, see `_jpeg_pixels`)."""
    return _decode(contents, "decode_image", channels, (0, 1, 3, 4), ("JPEG", "PNG", "GIF", "BMP"), dtype,
                   bool(expand_animations))


def decode_jpeg(contents, channels=0, ratio=1, fancy_upscaling=True, try_recover_truncated=False,
                acceptable_fraction=1, dct_method="", name=None):
    """A JPEG (or PNG, non-animated GIF) as uint8 (H, W, C): ``channels`` 0 (as in the file), 1
    (libjpeg's grayscale) or 3; ``ratio`` 1, 2, 4 or 8 downscales while decoding; ``dct_method``
    and ``fancy_upscaling`` as TensorFlow's (`_jpeg_pixels`: TensorFlow's pixels). Needs Pillow."""
    ratio = int(ratio)
    if ratio not in (1, 2, 4, 8):
        raise ValueError(f"image.decode_jpeg: ratio must be 1, 2, 4 or 8. Received: {ratio}")
    if dct_method not in ("", "INTEGER_FAST", "INTEGER_ACCURATE"):
        raise ValueError(f"image.decode_jpeg: dct_method must be '', 'INTEGER_FAST' or 'INTEGER_ACCURATE'. Received: "
                         f"{dct_method!r}")
    return _decode(contents, "decode_jpeg", channels, (0, 1, 3), ("JPEG", "PNG", "GIF"), ratio=ratio,
                   dct_method=dct_method, fancy=bool(fancy_upscaling))


def decode_png(contents, channels=0, dtype=np.uint8, name=None):
    """A PNG (or JPEG, non-animated GIF) as (H, W, C) uint8 or uint16 (``dtype``): ``channels`` 0
    (as in the file), 1, 3 or 4. Pillow decodes; without it (and for 16-bit colour PNGs, which it
    reads as 8-bit) zlib and NumPy do, for non-interlaced PNGs."""
    dtype = np.dtype(getattr(dtype, "name", dtype))
    if dtype not in (np.uint8, np.uint16):
        raise TypeError(f"image.decode_png: dtype must be uint8 or uint16. Received: {dtype}")
    return _decode(contents, "decode_png", channels, (0, 1, 3, 4), ("JPEG", "PNG", "GIF"), dtype)


def decode_bmp(contents, channels=0, name=None):
    """A BMP as uint8 (H, W, C): ``channels`` 0 (as in the file), 1, 3 or 4. Needs Pillow."""
    return _decode(contents, "decode_bmp", channels, (0, 1, 3, 4), ("BMP",))


def decode_gif(contents, name=None):
    """A GIF's frames as uint8 (frames, H, W, 3), each the whole canvas as shown. Needs Pillow."""
    return _decode(contents, "decode_gif", 0, (0,), ("GIF",), animations=True)


def is_jpeg(contents, name=None):
    """Whether ``contents`` begins as a JPEG does (a 0-d bool tensor)."""
    return _eager(np.asarray(_contents(contents, "is_jpeg").startswith(b"\xff\xd8\xff")))


def extract_jpeg_shape(contents, output_type=np.int32, name=None):
    """(height, width, channels) of the JPEG in ``contents``, read from its header. Needs Pillow."""
    data = _contents(contents, "extract_jpeg_shape")
    if not data.startswith(b"\xff\xd8\xff"):
        raise ValueError(f"image.extract_jpeg_shape: the contents are not a JPEG (they begin {data[:12]!r})")
    try:
        picture = _pillow("extract_jpeg_shape").open(io.BytesIO(data))
    except Exception as e:
        raise ValueError(f"image.extract_jpeg_shape: the JPEG header could not be read: {e}") from None
    w, h = picture.size
    return _eager(np.array([h, w, len(picture.getbands())], dtype=getattr(output_type, "name", output_type)))


def _encoded_image(image, fn, dtypes):
    image = np.asarray(autodiff._value(image))
    if image.ndim != 3:
        raise ValueError(f"image.{fn}: expected one image (H, W, C). Received shape {image.shape}")
    if image.dtype not in dtypes:
        raise TypeError(f"image.{fn}: expected a {' or '.join(np.dtype(d).name for d in dtypes)} image "
                        f"(image.convert_image_dtype(image, tf.uint8) first). Received dtype {image.dtype}")
    if not image.shape[0] or not image.shape[1]:
        raise ValueError(f"image.{fn}: the image is empty. Received shape {image.shape}")
    return image


def _png_rows(raw, bpp):
    """PNG's filtered scanlines: each row (bytes, ``raw`` (H, row bytes)) with the filter of the
    five (none, sub, up, average, Paeth) whose bytes, read as signed, sum smallest (libpng's rule)."""
    x = raw.astype(np.int16)
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    up = np.zeros_like(x)
    up[1:] = x[:-1]
    corner = np.zeros_like(x)
    corner[1:, bpp:] = x[:-1, :-bpp]
    p = left + up - corner
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - corner)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
    filtered = np.stack([x, x - left, x - up, x - (left + up) // 2, x - paeth]).astype(np.uint8)  # (mod 256)
    cost = np.abs(filtered.view(np.int8).astype(np.int32)).sum(axis=2)  # (5, H)
    choice = cost.argmin(axis=0)
    rows = filtered[choice, np.arange(len(raw))]
    return np.concatenate([choice.astype(np.uint8)[:, None], rows], axis=1).tobytes()


def encode_png(image, compression=-1, name=None):
    """A uint8 or uint16 image (H, W, 1 to 4 channels: gray, gray+alpha, RGB, RGBA) as PNG bytes (a
    0-d string tensor); ``compression`` -1 (zlib's default) or 0-9. Lossless, written with zlib
    (no Pillow needed)."""
    image = _encoded_image(image, "encode_png", (np.uint8, np.uint16))
    h, w, channels = image.shape
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"image.encode_png: the image must have 1 to 4 channels. Received shape {image.shape}")
    level = int(compression)
    if not -1 <= level <= 9:
        raise ValueError(f"image.encode_png: compression must be in [-1, 9]. Received: {compression}")
    depth = 8 * image.dtype.itemsize
    raw = np.ascontiguousarray(image.astype(">u2") if depth == 16 else image).reshape(h, -1).view(np.uint8)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, depth, {1: 0, 2: 4, 3: 2, 4: 6}[channels], 0, 0, 0)
    rows = _png_rows(raw, channels * depth // 8)
    return _bytes_tensor(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, level))
                         + chunk(b"IEND", b""))


def _encode_jpeg(image, format, quality, fn, progressive=False, optimize_size=False, chroma_downsampling=True,
                 density_unit="in", x_density=300, y_density=300, xmp_metadata=""):
    image = _encoded_image(image, fn, (np.uint8,))
    channels = image.shape[-1]
    wanted = {"": None, "grayscale": 1, "rgb": 3}.get(format, -1)
    if wanted == -1:
        raise ValueError(f"image.{fn}: format must be '', 'grayscale' or 'rgb'. Received: {format!r}")
    if channels not in (1, 3) or (wanted is not None and channels != wanted):
        raise ValueError(f"image.{fn}: the image must have {wanted or '1 or 3'} channels"
                         f"{f' for format {format!r}' if wanted else ''}. Received shape {image.shape}")
    quality = int(quality)
    if not 0 <= quality <= 100:
        raise ValueError(f"image.{fn}: quality must be in [0, 100]. Received: {quality}")
    if density_unit not in ("in", "cm"):
        raise ValueError(f"image.{fn}: density_unit must be 'in' or 'cm'. Received: {density_unit!r}")
    per_inch = 2.54 if density_unit == "cm" else 1.0
    picture = _pillow(fn).fromarray(image[..., 0] if channels == 1 else image)  # (mode from the shape: L or RGB)
    options = dict(quality=quality, progressive=bool(progressive), optimize=bool(optimize_size),
                   subsampling=2 if chroma_downsampling else 0, dpi=(x_density * per_inch, y_density * per_inch))
    if xmp_metadata:
        options["xmp"] = xmp_metadata.encode("utf-8") if isinstance(xmp_metadata, str) else bytes(xmp_metadata)
    out = io.BytesIO()
    picture.save(out, format="JPEG", **options)
    return _bytes_tensor(out.getvalue())


def encode_jpeg(image, format="", quality=95, progressive=False, optimize_size=False, chroma_downsampling=True,
                density_unit="in", x_density=300, y_density=300, xmp_metadata="", name=None):
    """A uint8 image (H, W, 1 or 3) as JPEG bytes (a 0-d string tensor), Pillow's libjpeg with
    TensorFlow's options (quality 95, 4:2:0 chroma unless ``chroma_downsampling=False``). Needs Pillow."""
    return _encode_jpeg(image, format, quality, "encode_jpeg", progressive, optimize_size, chroma_downsampling,
                        density_unit, x_density, y_density, xmp_metadata)


_NAMES = ["resize", "flip_left_right", "flip_up_down", "rot90", "transpose", "rgb_to_grayscale", "grayscale_to_rgb",
          "convert_image_dtype", "adjust_brightness", "adjust_contrast", "per_image_standardization", "central_crop",
          "crop_to_bounding_box", "pad_to_bounding_box", "resize_with_crop_or_pad", "random_flip_left_right",
          "random_flip_up_down", "random_brightness", "ResizeMethod", "psnr", "ssim", "total_variation", "sobel_edges",
          "resize_with_pad", "extract_patches",
          "rgb_to_hsv", "hsv_to_rgb", "rgb_to_yuv", "yuv_to_rgb", "rgb_to_yiq", "yiq_to_rgb", "adjust_saturation",
          "adjust_hue", "adjust_gamma", "adjust_jpeg_quality", "random_contrast", "random_saturation", "random_hue",
          "random_crop", "random_jpeg_quality", "stateless_random_flip_left_right", "stateless_random_flip_up_down",
          "stateless_random_brightness", "stateless_random_contrast", "stateless_random_saturation",
          "stateless_random_hue", "stateless_random_crop", "stateless_random_jpeg_quality", "image_gradients",
          "crop_and_resize", "draw_bounding_boxes", "non_max_suppression", "non_max_suppression_with_scores",
          "non_max_suppression_overlaps", "decode_image", "decode_jpeg", "decode_png", "decode_bmp", "decode_gif",
          "is_jpeg", "extract_jpeg_shape", "encode_png", "encode_jpeg"]
image = types.ModuleType("fastnn.image", "TensorFlow's tf.image: " + ", ".join(_NAMES) + ".")
image.__dict__.update({n: globals()[n] for n in _NAMES})
