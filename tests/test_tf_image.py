"""tf.image (and keras.ops.image): the functions the tutorials call, against NumPy and torch."""

import numpy as np
import pytest

import fastnn as tf

RNG = np.random.default_rng(0)


def test_resize_matches_torch_half_pixel_bilinear():
    torch = pytest.importorskip("torch")
    images = RNG.random((2, 5, 7, 3)).astype(np.float32)
    got = tf.image.resize(images, [9, 4]).numpy()
    want = torch.nn.functional.interpolate(torch.tensor(images).permute(0, 3, 1, 2), size=(9, 4), mode="bilinear",
                                           align_corners=False).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert tf.image.resize(images[0], (3, 3)).shape == (3, 3, 3)  # (one image)
    assert tf.image.resize(images.astype(np.uint8), (2, 2), method="nearest").dtype == np.uint8
    assert tf.image.resize(images, (10, 10), preserve_aspect_ratio=True).shape == (2, 7, 10, 3)
    assert tf.keras.ops.image.resize(images, (9, 4)).shape == (2, 9, 4, 3)


def test_flips_rotations_and_crops():
    image = RNG.random((4, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(tf.image.flip_left_right(image), image[:, ::-1])
    np.testing.assert_array_equal(tf.image.flip_up_down(image[None]), image[None, ::-1])
    for k in range(4):
        np.testing.assert_array_equal(tf.image.rot90(image, k), np.rot90(image, k, axes=(0, 1)))
    np.testing.assert_array_equal(tf.image.transpose(image), image.transpose(1, 0, 2))
    assert tf.image.central_crop(np.zeros((10, 10, 1)), 0.5).shape == (6, 6, 1)  # (TensorFlow's rounding)
    np.testing.assert_array_equal(tf.image.crop_to_bounding_box(image, 1, 2, 2, 3), image[1:3, 2:5])
    padded = tf.image.resize_with_crop_or_pad(np.ones((3, 5, 1)), 5, 3).numpy()[..., 0]
    np.testing.assert_array_equal(padded, [[0, 0, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0]])
    flipped = tf.image.random_flip_left_right(np.stack([image] * 16), seed=1).numpy()
    kinds = {bool(np.array_equal(f, image[:, ::-1])) for f in flipped}
    assert kinds == {True, False} and all(np.array_equal(f, image) or np.array_equal(f, image[:, ::-1]) for f in flipped)
    with pytest.raises(ValueError, match=r"image.flip_left_right: expected an image \(H, W, C\)"):
        tf.image.flip_left_right(np.zeros((4, 4)))


def test_colour_and_dtype_functions():
    image = RNG.random((4, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(tf.image.rgb_to_grayscale(image)[..., 0], image @ [0.2989, 0.5870, 0.1140], rtol=1e-6)
    assert tf.image.grayscale_to_rgb(image[..., :1]).shape == (4, 6, 3)
    assert tf.image.convert_image_dtype(np.array([[[255, 0]]], np.uint8), tf.float32).numpy().tolist() == [[[1.0, 0.0]]]
    assert tf.image.convert_image_dtype(np.array([[[0.5]]], np.float32), tf.uint8).numpy().tolist() == [[[127]]]
    np.testing.assert_allclose(tf.image.adjust_brightness(image, 0.1), image + 0.1, rtol=1e-6)
    mean = image.mean(axis=(0, 1))
    np.testing.assert_allclose(tf.image.adjust_contrast(image, 2.0), (image - mean) * 2 + mean, rtol=1e-5)
    std = tf.image.per_image_standardization(image).numpy()
    np.testing.assert_allclose(std, (image - image.mean()) / image.std(), rtol=1e-4, atol=1e-5)


def test_flips_are_differentiable_on_the_tape():
    x = tf.Variable(RNG.random((1, 2, 3, 1)).astype(np.float32))
    weights = RNG.random((1, 2, 3, 1)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.image.flip_left_right(x) * weights)
    np.testing.assert_allclose(tape.gradient(loss, x), weights[:, :, ::-1])


def test_colour_adjustments_of_uint8_images_work_in_unit_floats_and_saturate():
    # TensorFlow: convert_image_dtype to [0, 1] floats, adjust, convert back to uint8 saturating
    import fastnn as tf

    pixel = np.array([[[10, 100, 250]]], np.uint8)
    bright = tf.image.adjust_brightness(pixel, 0.4)
    assert bright.dtype == np.uint8 and np.asarray(bright).ravel().tolist() == [112, 202, 255]
    contrast = tf.image.adjust_contrast(np.array([[[0, 0, 0]], [[200, 200, 200]]], np.uint8), 2.0)
    assert contrast.dtype == np.uint8 and np.asarray(contrast).ravel().tolist() == [0, 0, 0, 255, 255, 255]
    gray = tf.image.rgb_to_grayscale(pixel)
    assert gray.dtype == np.uint8 and np.asarray(gray).ravel().tolist() == [90]
    # float images are adjusted as they are
    assert np.asarray(tf.image.adjust_brightness(pixel / 255.0, 0.1)).ravel()[0] == pytest.approx(10 / 255 + 0.1)


# ---- colour spaces and adjustments --------------------------------------------------------------

import colorsys  # noqa: E402

# TensorFlow's documented examples (image_ops_impl.py docstrings) use this 2x2 image outside [0, 1]
DOC_IMAGE = np.array([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]], np.float32)


def _edge_pixels():
    corners = [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1],
               [0.2, 0.2, 0.9], [0.9, 0.2, 0.2]]
    return np.concatenate([np.array(corners, np.float32), RNG.random((60, 3)).astype(np.float32)])


def test_hsv_conversions_match_colorsys():
    pixels = _edge_pixels()
    hsv = tf.image.rgb_to_hsv(pixels.reshape(1, -1, 3)).numpy().reshape(-1, 3)
    want = np.array([colorsys.rgb_to_hsv(*p) for p in pixels.astype(float)])
    np.testing.assert_allclose(hsv, want, atol=1e-6)
    assert hsv[:, 0].min() >= 0 and hsv[:, 0].max() < 1
    back = tf.image.hsv_to_rgb(want.astype(np.float32)).numpy()  # (any rank >= 1 with 3 values last)
    np.testing.assert_allclose(back, [colorsys.hsv_to_rgb(*p) for p in want], atol=1e-6)
    assert tf.image.rgb_to_hsv(pixels[None, None]).shape == (1, 1, len(pixels), 3)
    with pytest.raises(TypeError, match="image.rgb_to_hsv: expected float images"):
        tf.image.rgb_to_hsv(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="image.hsv_to_rgb: the last axis must hold 3 values"):
        tf.image.hsv_to_rgb(np.zeros((2, 2, 4), np.float32))


def test_yuv_and_yiq_use_tensorflows_matrices():
    pixels = _edge_pixels()
    yuv = tf.image.rgb_to_yuv(pixels).numpy()
    np.testing.assert_allclose(yuv[:, 0], pixels @ [0.299, 0.587, 0.114], rtol=1e-6, atol=1e-7)  # (the luma)
    np.testing.assert_allclose(tf.image.yuv_to_rgb(yuv).numpy(), pixels, atol=2e-6)
    np.testing.assert_allclose(tf.image.rgb_to_yiq(np.array([[[1.0, 2.0, 3.0]]], np.float32)).numpy(),
                               [[[1.815, -0.91724455, 0.09962624]]], rtol=1e-5)  # (TensorFlow's doc example)
    np.testing.assert_allclose(tf.image.yiq_to_rgb(tf.image.rgb_to_yiq(pixels)).numpy(), pixels, atol=1e-4)
    with pytest.raises(TypeError, match="image.rgb_to_yuv: expected float images"):
        tf.image.rgb_to_yuv(np.zeros((1, 3), np.uint8))


def test_adjust_saturation_and_hue_match_colorsys_and_tensorflows_examples():
    pixels = _edge_pixels()[None]
    for factor in (0.0, 0.5, 3.0):
        got = tf.image.adjust_saturation(pixels, factor).numpy()[0]
        want = [colorsys.hsv_to_rgb(h, min(s * factor, 1.0), v)
                for h, s, v in (colorsys.rgb_to_hsv(*p) for p in pixels[0].astype(float))]
        np.testing.assert_allclose(got, want, atol=1e-6)
    for delta in (-1.0, -0.3, 0.0, 0.45, 1.0):
        got = tf.image.adjust_hue(pixels, delta).numpy()[0]
        want = []
        for p in pixels[0].astype(float):
            h, s, v = colorsys.rgb_to_hsv(*p)
            want.append(colorsys.hsv_to_rgb((h + delta) % 1.0, s, v))
        np.testing.assert_allclose(got, want, atol=1e-6)
    # TensorFlow's documented outputs, exactly (its kernels keep the extreme channels exact)
    np.testing.assert_array_equal(tf.image.adjust_saturation(DOC_IMAGE, 0.5).numpy(),
                                  [[[2.0, 2.5, 3.0], [5.0, 5.5, 6.0]], [[8.0, 8.5, 9.0], [11.0, 11.5, 12.0]]])
    np.testing.assert_allclose(tf.image.adjust_hue(DOC_IMAGE, 0.2).numpy(),
                               [[[2.3999996, 1.0, 3.0], [5.3999996, 4.0, 6.0]], [[8.4, 7.0, 9.0], [11.4, 10.0, 12.0]]],
                               rtol=1e-7)
    ints = np.arange(1, 19, dtype=np.int32).reshape(3, 2, 3)
    assert tf.image.adjust_hue(ints, 0.2).numpy().tolist() == [[[2, 1, 3], [5, 4, 6]], [[8, 7, 9], [11, 10, 12]],
                                                               [[14, 13, 15], [17, 16, 18]]]
    gray = tf.image.adjust_saturation(np.array([[[200, 100, 50]]], np.uint8), 0.0)
    assert gray.dtype == np.uint8 and gray.numpy().ravel().tolist() == [200, 200, 200]  # (v kept)
    with pytest.raises(ValueError, match=r"image.adjust_hue: delta must be in the interval \[-1, 1\]"):
        tf.image.adjust_hue(pixels, 1.5)
    with pytest.raises(ValueError, match=r"image.adjust_saturation: expected RGB images \(3 channels"):
        tf.image.adjust_saturation(np.zeros((2, 2, 1), np.float32), 2.0)


def test_adjust_gamma_is_gain_times_power_and_saturates_integers():
    image = RNG.random((3, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(tf.image.adjust_gamma(image, 2.2, 0.7).numpy(), 0.7 * image ** 2.2, rtol=1e-6)
    np.testing.assert_allclose(tf.image.adjust_gamma(DOC_IMAGE, 0.2).numpy().ravel()[:3], [1.0, 1.1486983, 1.2457309],
                               rtol=1e-6)
    pixels = np.array([[[0, 64, 255]]], np.uint8)
    assert tf.image.adjust_gamma(pixels, 2.0).numpy().ravel().tolist() == [0, 16, 255]  # (64/255)² · 255.5 = 16.09
    doubled = tf.image.adjust_gamma(pixels, 1.0, gain=2.0)
    assert doubled.dtype == np.uint8 and doubled.numpy().ravel().tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match="image.adjust_gamma: Gamma should be a non-negative real number"):
        tf.image.adjust_gamma(image, -1.0)


def test_convert_image_dtype_between_integers_as_tensorflow():
    # TensorFlow's documented examples: scaling up keeps a round trip, scaling down floors
    up = tf.image.convert_image_dtype(np.array([[[1], [2]], [[127], [127]]], np.int8), tf.int16)
    assert up.dtype == np.int16 and up.numpy().ravel().tolist() == [256, 512, 32512, 32512]
    assert tf.image.convert_image_dtype(up, tf.int8).numpy().ravel().tolist() == [1, 2, 127, 127]
    down = tf.image.convert_image_dtype(np.array([[[1000], [2000]], [[3000], [4000]]], np.int16), tf.uint8)
    assert tf.image.convert_image_dtype(down, tf.int16).numpy().ravel().tolist() == [896, 1920, 2944, 3968]
    assert tf.image.convert_image_dtype(np.array([[[-5, 3]]], np.int8), tf.uint8, saturate=True).numpy().tolist() == \
        [[[0, 6]]]


# ---- random and stateless augmentations --------------------------------------------------------


def test_stateless_ops_are_deterministic_per_seed_and_differ_across_seeds():
    image = RNG.random((2, 6, 8, 3)).astype(np.float32)
    ops = {
        "flip_left_right": lambda s: tf.image.stateless_random_flip_left_right(image, seed=s),
        "flip_up_down": lambda s: tf.image.stateless_random_flip_up_down(image, seed=s),
        "brightness": lambda s: tf.image.stateless_random_brightness(image, 0.5, seed=s),
        "contrast": lambda s: tf.image.stateless_random_contrast(image, 0.2, 1.8, seed=s),
        "saturation": lambda s: tf.image.stateless_random_saturation(image, 0.2, 1.8, seed=s),
        "hue": lambda s: tf.image.stateless_random_hue(image, 0.4, seed=s),
        "crop": lambda s: tf.image.stateless_random_crop(image, [2, 3, 4, 3], seed=s),
    }
    seeds = [(0, 0), (1, 2), (2, 1), (7, 99), (123, 4)]
    for name, op in ops.items():
        results = [op(s).numpy() for s in seeds]
        np.testing.assert_array_equal(results[1], op(np.array([1, 2], np.int64)).numpy(), err_msg=name)
        assert len({r.tobytes() for r in results}) > 1, name
    delta = tf.image.stateless_random_brightness(image, 0.5, seed=(3, 4)).numpy() - image
    assert np.ptp(delta) < 1e-6 and -0.5 <= delta.flat[0] < 0.5  # (one delta for the batch)
    for flipped in tf.image.stateless_random_flip_left_right(image, seed=(5, 6)).numpy():
        assert any(np.array_equal(flipped, im[:, ::-1]) or np.array_equal(flipped, im) for im in image)
    for bad in ((1,), (1, 2, 3), (0.5, 1.0), 7):
        with pytest.raises(ValueError, match=r"image.stateless_random_brightness: seed must be a pair of integers"):
            tf.image.stateless_random_brightness(image, 0.1, seed=bad)


def test_random_ops_draw_in_range_follow_seeds_and_check_arguments():
    image = RNG.random((5, 7, 3)).astype(np.float32)
    crop = tf.image.random_crop(image, [3, 4, 3], seed=1).numpy()
    assert any(np.array_equal(crop, image[i:i + 3, j:j + 4]) for i in range(3) for j in range(4))
    pair = tf.image.random_crop(np.stack([image, image + 1]), [2, 3, 4, 3]).numpy()  # (pix2pix: one window for both)
    np.testing.assert_allclose(pair[1], pair[0] + 1)
    factor_image = tf.image.random_contrast(image, 0.5, 0.6, seed=3).numpy()
    mean = image.mean(axis=(0, 1))
    factor = ((factor_image - mean) / (image - mean)).mean()
    assert 0.5 <= factor < 0.6
    np.testing.assert_array_equal(tf.image.random_hue(image, 0.3, seed=5), tf.image.random_hue(image, 0.3, seed=5))
    tf.keras.utils.set_random_seed(11)  # (unseeded draws: fastnn's global generator)
    first = tf.image.random_saturation(image, 0.1, 3.0).numpy()
    tf.keras.utils.set_random_seed(11)
    np.testing.assert_array_equal(tf.image.random_saturation(image, 0.1, 3.0).numpy(), first)
    with pytest.raises(ValueError, match="image.random_contrast: upper must be > lower"):
        tf.image.random_contrast(image, 0.5, 0.5)
    with pytest.raises(ValueError, match="image.random_saturation: lower must be non-negative"):
        tf.image.random_saturation(image, -0.1, 0.5)
    with pytest.raises(ValueError, match="image.random_hue: max_delta must be <= 0.5"):
        tf.image.random_hue(image, 0.6)
    with pytest.raises(ValueError, match="image.random_crop: Need value.shape >= size"):
        tf.image.random_crop(image, [6, 4, 3])
    with pytest.raises(ValueError, match="image.random_crop: size must have one entry per axis"):
        tf.image.random_crop(image, [3, 4])
    with pytest.raises(ValueError, match="image.random_jpeg_quality: `min_jpeg_quality` must be less than"):
        tf.image.random_jpeg_quality(image, 50, 50)


# ---- gradients, boxes ---------------------------------------------------------------------------


def test_image_gradients_pad_the_last_row_and_column_with_zeros():
    image = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)  # (TensorFlow's doc example)
    dy, dx = tf.image.image_gradients(image)
    want_dy, want_dx = np.full((5, 5), 5.0), np.full((5, 5), 1.0)
    want_dy[-1], want_dx[:, -1] = 0, 0
    np.testing.assert_array_equal(dy.numpy()[0, ..., 0], want_dy)
    np.testing.assert_array_equal(dx.numpy()[0, ..., 0], want_dx)
    with pytest.raises(ValueError, match=r"image_gradients expects a 4D tensor \[batch_size, h, w, d\]"):
        tf.image.image_gradients(image[0])


def _bilinear(picture, y, x, fill):
    """An independent reading of one point (y, x), in pixels, of an (H, W, C) picture."""
    h, w = picture.shape[:2]
    if not (0 <= y <= h - 1 and 0 <= x <= w - 1):
        return np.full(picture.shape[2], fill)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    fy, fx = y - y0, x - x0
    return ((1 - fy) * ((1 - fx) * picture[y0, x0] + fx * picture[y0, x1])
            + fy * ((1 - fx) * picture[y1, x0] + fx * picture[y1, x1]))


def test_crop_and_resize_samples_as_tensorflow():
    image = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    crop = lambda boxes, size, **kw: tf.image.crop_and_resize(image, boxes, [0] * len(boxes), size, **kw).numpy()
    np.testing.assert_array_equal(crop([[0, 0, 1, 1]], [3, 3])[0], image[0])
    np.testing.assert_array_equal(crop([[0.25, 0.25, 0.75, 0.75]], [2, 2])[0, ..., 0], [[2, 3], [5, 6]])  # (means)
    assert crop([[0, 0, 1, 1]], [1, 1]).ravel().tolist() == [4.0]  # (one sample: the box's centre)
    np.testing.assert_array_equal(crop([[1, 0, 0, 1]], [3, 3])[0, ..., 0], image[0, ::-1, :, 0])  # (y1 > y2 flips)
    np.testing.assert_array_equal(crop([[-1, 0, 0, 1]], [2, 3], extrapolation_value=-7.0)[0, ..., 0],
                                  [[-7, -7, -7], [0, 1, 2]])
    # (nearest: rows 0, 0.5, 1, 1.5, 2 round half away from zero; one column: the centre, 1)
    np.testing.assert_array_equal(crop([[0, 0, 1, 1]], [5, 1], method="nearest")[0, :, 0, 0], [1, 4, 4, 7, 7])
    batch = RNG.random((2, 6, 7, 2)).astype(np.float32)
    boxes = np.array([[0.1, 0.2, 0.9, 0.7], [-0.2, 0.5, 0.6, 1.3], [0.8, 0.9, 0.3, 0.1]], np.float32)
    got = tf.image.crop_and_resize(batch, boxes, [1, 0, 1], [4, 5], extrapolation_value=0.5).numpy()
    assert got.shape == (3, 4, 5, 2) and got.dtype == np.float32
    for k, ((y1, x1, y2, x2), b) in enumerate(zip(boxes.astype(float), [1, 0, 1])):
        for i in range(4):
            for j in range(5):
                y, x = (y1 + i * (y2 - y1) / 3) * 5, (x1 + j * (x2 - x1) / 4) * 6
                np.testing.assert_allclose(got[k, i, j], _bilinear(batch[b], y, x, 0.5), atol=1e-5)
    with pytest.raises(ValueError, match=r"image.crop_and_resize: box_indices has values outside \[0, batch_size\)"):
        tf.image.crop_and_resize(image, [[0, 0, 1, 1]], [1], [2, 2])
    with pytest.raises(ValueError, match=r"image.crop_and_resize: boxes must be 2-D \[num_boxes, 4\]"):
        tf.image.crop_and_resize(image, [0, 0, 1, 1], [0], [2, 2])
    with pytest.raises(ValueError, match="image.crop_and_resize: image must be 4-D"):
        tf.image.crop_and_resize(image[0], [[0, 0, 1, 1]], [0], [2, 2])


def test_draw_bounding_boxes_outlines_boxes_as_tensorflow():
    # TensorFlow's documented example: a 3x3 one-channel image, the box [0, 0, 0.5, 0.5] in colour 1
    image = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    drawn = tf.image.draw_bounding_boxes(image, [[[0.0, 0.0, 0.5, 0.5]]], np.array([[1.0, 0, 0], [0, 0, 1.0]]))
    assert drawn.numpy()[0, ..., 0].tolist() == [[1, 1, 3], [1, 1, 6], [7, 8, 9]]
    canvas = np.zeros((1, 5, 6, 3), np.float32)
    out = tf.image.draw_bounding_boxes(canvas, [[[0, 0, 1, 1], [2, 2, 3, 3]]], [[1, 0, 0, 1]]).numpy()[0]
    border = np.zeros((5, 6), bool)
    border[[0, -1], :], border[:, [0, -1]] = True, True
    assert (out[border] == [1, 0, 0]).all() and (out[~border] == 0).all()  # (the second box is outside: not drawn)
    default = tf.image.draw_bounding_boxes(canvas, [[[0.25, 0.2, 0.75, 0.8]]]).numpy()[0]
    assert default[1, 1].tolist() == [1, 1, 0] and default[2, 2].tolist() == [0, 0, 0]  # (yellow, TensorFlow's first)
    np.testing.assert_array_equal(canvas, 0)  # (a copy is drawn on)
    with pytest.raises(ValueError, match="image.draw_bounding_boxes: colors must be a 2-D matrix with at least 3"):
        tf.image.draw_bounding_boxes(canvas, [[[0, 0, 1, 1]]], [[1.0, 0.0]])
    with pytest.raises(TypeError, match="image.draw_bounding_boxes: expected float images"):
        tf.image.draw_bounding_boxes(canvas.astype(np.uint8), [[[0, 0, 1, 1]]])


def _iou(a, b):
    ya0, ya1, xa0, xa1 = min(a[0], a[2]), max(a[0], a[2]), min(a[1], a[3]), max(a[1], a[3])
    yb0, yb1, xb0, xb1 = min(b[0], b[2]), max(b[0], b[2]), min(b[1], b[3]), max(b[1], b[3])
    inter = max(min(ya1, yb1) - max(ya0, yb0), 0) * max(min(xa1, xb1) - max(xa0, xb0), 0)
    union = (ya1 - ya0) * (xa1 - xa0) + (yb1 - yb0) * (xb1 - xb0) - inter
    return inter / union if union > 0 else 0.0


def _greedy(boxes, scores, limit, threshold, floor=-np.inf, sigma=0.0):
    """Brute-force (soft) NMS: take the best remaining score, keep it, drop or decay the rest."""
    scores = {i: float(s) for i, s in enumerate(scores) if s > floor}
    kept = []
    while scores and len(kept) < limit:
        best = max(scores, key=lambda i: (scores[i], -i))
        kept.append((best, scores.pop(best)))
        for i in list(scores):
            overlap = _iou(boxes[best], boxes[i])
            if sigma > 0:
                scores[i] *= np.exp(-overlap * overlap / (2 * sigma))
                if scores[i] <= floor:
                    del scores[i]
            elif overlap > threshold:
                del scores[i]
    return [k for k, _ in kept], [s for _, s in kept]


def test_non_max_suppression_matches_a_brute_force_greedy_loop():
    corners = RNG.random((60, 2)).astype(np.float32)
    boxes = np.concatenate([corners, corners + RNG.random((60, 2)).astype(np.float32) * 0.4], axis=1)
    boxes[::7] = boxes[::7][:, [2, 3, 0, 1]]  # (some given with their corners swapped)
    scores = RNG.random(60).astype(np.float32)
    for limit, threshold, floor in ((100, 0.5, -np.inf), (5, 0.3, -np.inf), (100, 0.2, 0.4), (100, 0.0, -np.inf)):
        got = tf.image.non_max_suppression(boxes, scores, limit, threshold, floor)
        assert got.dtype == np.int32 and got.numpy().tolist() == _greedy(boxes, scores, limit, threshold, floor)[0]
    indices, kept = tf.image.non_max_suppression_with_scores(boxes, scores, 10, 0.4)
    np.testing.assert_array_equal(kept, scores[indices.numpy()])
    want_indices, want_scores = _greedy(boxes, scores, 20, 0.5, 0.1, sigma=0.3)
    indices, soft = tf.image.non_max_suppression_with_scores(boxes, scores, 20, 0.5, 0.1, soft_nms_sigma=0.3)
    assert indices.numpy().tolist() == want_indices
    np.testing.assert_allclose(soft, want_scores, rtol=1e-5)
    overlaps = np.array([[_iou(a, b) for b in boxes] for a in boxes], np.float32)
    np.testing.assert_array_equal(tf.image.non_max_suppression_overlaps(overlaps, scores, 100, 0.5),
                                  tf.image.non_max_suppression(boxes, scores, 100, 0.5))
    assert tf.image.non_max_suppression(boxes, scores, 0).shape == (0,)
    with pytest.raises(ValueError, match=r"image.non_max_suppression: boxes must be 2-D \[num_boxes, 4\]"):
        tf.image.non_max_suppression(boxes[:, :3], scores, 5)
    with pytest.raises(ValueError, match="image.non_max_suppression: scores must be 1-D, one per box"):
        tf.image.non_max_suppression(boxes, scores[:5], 5)
    with pytest.raises(ValueError, match=r"image.non_max_suppression: the IoU threshold must be in"):
        tf.image.non_max_suppression(boxes, scores, 5, iou_threshold=1.5)


def test_round30_tensorflow_rules():
    # central_crop's TensorFlow 2 offset int((h - h·f) / 2); per_image_standardization keeps a float
    # dtype (float32 for integers); rgb_to_grayscale keeps float64; uint16 decodes of non-PNG formats
    # scale by 256; crop_and_resize's nearest rounds as roundf; an overlaps threshold may exceed 1
    image = np.zeros((100, 10, 3), np.float32)
    assert tf.image.central_crop(image, 0.4).shape == (40, 4, 3)
    assert tf.image.per_image_standardization(np.arange(12, dtype=np.int32).reshape(2, 2, 3)).dtype == np.float32
    assert tf.image.per_image_standardization(np.ones((2, 2, 3), np.float64)).dtype == np.float64
    assert tf.image.rgb_to_grayscale(np.ones((2, 2, 3), np.float64)).dtype == np.float64
    x = np.nextafter(np.float32(0.5), np.float32(0))
    picked = tf.image.crop_and_resize(np.array([[[[10.0], [20.0]]]], np.float32), np.array([[0, x, 0, x]], np.float32),
                                      [0], (1, 1), method="nearest")
    assert float(np.asarray(picked).ravel()[0]) == 10.0
    overlaps = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
    kept = tf.image.non_max_suppression_overlaps(overlaps, [0.9, 0.8, 0.7], 3, overlap_threshold=1.5)
    assert np.asarray(kept).tolist() == [0, 2]
    pytest.importorskip("PIL")
    jpeg = tf.io.encode_jpeg(np.full((8, 8, 3), 255, np.uint8))
    assert int(np.asarray(tf.io.decode_image(jpeg, dtype=tf.uint16)).max()) == 255 * 256
    with pytest.raises(ValueError, match="crop_to_bounding_box: target_height and target_width must be > 0"):
        tf.image.crop_to_bounding_box(np.zeros((4, 4, 3)), 0, 0, 0, 4)
    with pytest.raises(ValueError, match="convert_image_dtype: dtype must be either floating point or integer"):
        tf.image.convert_image_dtype(np.zeros((2, 2, 3), np.uint8), str)
