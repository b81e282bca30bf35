"""ImageDataGenerator (fastnn.preprocessing.image): Keras's transforms, draws and iterators.

The golden transforms below were computed with Keras's ``apply_affine_transform`` (its matrix
code, with ``scipy.ndimage.affine_transform``) on a 4x5 image; fastnn has no SciPy dependency, so
the values are stored here. (An ad-hoc sweep of 300 random transforms, every fill mode and both
interpolation orders against that Keras code agreed to 1e-6 on every pixel.)
"""

import numpy as np
import pytest

import fastnn
from fastnn.layers import Conv2D, Dense, Flatten
from fastnn.models import Sequential
from fastnn.preprocessing.image import ImageDataGenerator

PARAMS = dict(theta=30.0, tx=0.7, ty=-1.2, shear=10.0, zx=1.1, zy=0.9)
GOLDEN = {
    "nearest": [[15.0, 12.4083280984, 9.7621133715, 7.5590091267, 5.3559048819],
                [15.0, 15.1068895178, 15.0752530923, 12.8721488475, 10.6690446027],
                [15.0, 15.6568895178, 16.3463295167, 17.0357695155, 15.9821843235],
                [15.517449519, 16.2068895178, 16.8963295167, 17.5857695155, 18.2752095143]],
    "constant": [[-1.0, -1.0, 9.7621133715, 7.5590091267, 5.3559048819],
                 [-1.0, -1.0, 15.0752530923, 12.8721488475, 10.6690446027],
                 [-1.0, -1.0, -1.0, -1.0, 15.9821843235],
                 [-1.0, -1.0, -1.0, -1.0, -1.0]],
    "reflect": [[15.132550481, 12.4083280984, 9.7621133715, 7.5590091267, 5.3559048819],
                [14.9359879372, 15.1068895178, 15.0752530923, 12.8721488475, 10.6690446027],
                [10.1728482164, 13.7222819778, 16.3463295167, 17.0357695155, 15.9821843235],
                [5.9271580146, 9.509142257, 13.0911264994, 16.6731107418, 18.2752095143]],
    "wrap": [[3.168321861, 15.9652176162, 9.7621133715, 7.5590091267, 5.3559048819],
             [8.4814615818, 2.278357337, 15.0752530923, 12.8721488475, 10.6690446027],
             [13.7946013026, 7.5914970579, 5.3883928131, 3.1852885683, 15.9821843235],
             [15.1077410235, 12.9046367787, 10.7015325339, 8.4984282891, 6.2953240443]],
}


@pytest.mark.parametrize("mode", sorted(GOLDEN))
def test_affine_transform_matches_keras(mode):
    x = np.arange(20, dtype=np.float64).reshape(4, 5, 1)
    gen = ImageDataGenerator(fill_mode=mode, cval=-1.0, dtype="float64")
    np.testing.assert_allclose(gen.apply_transform(x, PARAMS)[..., 0], GOLDEN[mode], rtol=0, atol=1e-9)


def test_simple_transforms():
    x = np.random.default_rng(0).random((5, 6, 2))
    gen = ImageDataGenerator(fill_mode="constant", cval=0.0, dtype="float64")
    np.testing.assert_array_equal(gen.apply_transform(x, {}), x)
    shifted = gen.apply_transform(x, {"tx": 1})  # rows move up by one; the last row is cval
    np.testing.assert_allclose(shifted[:-1], x[1:], atol=1e-12)
    assert np.all(shifted[-1] == 0)
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    # Keras turns about (rows/2 + 0.5, cols/2 + 0.5), past the middle (its
    # transform_matrix_offset_center): a quarter turn is a clockwise np.rot90 moved two columns
    square = np.arange(25.0).reshape(5, 5, 1)
    turned = gen.apply_transform(square, {"theta": 90})[..., 0]
    np.testing.assert_allclose(turned[:, 2:], np.rot90(square[..., 0], k=-1)[:, :3], atol=1e-12)
    assert np.all(turned[:, :2] == 0)
    shift = gen.apply_transform(x, {"channel_shift_intensity": 0.3})
    np.testing.assert_allclose(shift, np.clip(x + 0.3, x.min(), x.max()))


def test_random_draws_follow_the_ranges_and_the_seed():
    gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.1, height_shift_range=3, shear_range=5,
                             zoom_range=[0.8, 1.2], horizontal_flip=True)
    draws = [gen.get_random_transform((28, 20, 1)) for _ in range(300)]
    assert all(-20 <= d["theta"] <= 20 and -2 <= d["ty"] <= 2 and -5 <= d["shear"] <= 5 for d in draws)
    assert {d["tx"] for d in draws} <= {-2.0, -1.0, 0.0, 1.0, 2.0}  # an int range: whole pixels below 3
    assert all(0.8 <= d["zx"] <= 1.2 and 0.8 <= d["zy"] <= 1.2 for d in draws)
    assert 0.3 < np.mean([d["flip_horizontal"] for d in draws]) < 0.7
    assert not any(d["flip_vertical"] for d in draws)
    assert gen.get_random_transform((28, 20, 1), seed=4) == gen.get_random_transform((28, 20, 1), seed=4)


def images(n=40):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 8, 8, 1)).astype(np.uint8), rng.integers(0, 3, n)


def test_flow_batches_order_and_subsets():
    x, y = images()
    plain = ImageDataGenerator(rescale=1 / 255)
    it = plain.flow(x, y, batch_size=16, shuffle=False)
    assert len(it) == 3
    bx, by = it[2]
    np.testing.assert_allclose(bx, x[32:].astype(np.float32) / 255, rtol=1e-6)
    np.testing.assert_array_equal(by, y[32:])
    firsts = [next(it)[1] for _ in range(4)]  # an endless iterator: the fourth batch starts again
    np.testing.assert_array_equal(firsts[3], y[:16])
    assert next(plain.flow(x, batch_size=4)).shape == (4, 8, 8, 1)  # no labels: images only
    bx, by, bw = next(plain.flow(x, y, sample_weight=np.arange(40.0), batch_size=5, shuffle=False))
    np.testing.assert_array_equal(bw, np.arange(5.0))
    split = ImageDataGenerator(validation_split=0.25)
    assert split.flow(x, y, subset="validation").n == 10 and split.flow(x, y, subset="training").n == 30
    a = [next(ImageDataGenerator(rotation_range=30).flow(x, y, seed=3))[0] for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])  # a seed fixes the order and the transforms


def test_standardization():
    x, _ = images()
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    with pytest.raises(ValueError, match="call fit\\(x_train\\) first"):
        next(gen.flow(x))
    gen.fit(x)
    batch = next(gen.flow(x, batch_size=40, shuffle=False))
    assert abs(batch.mean()) < 1e-4 and abs(batch.std() - 1) < 1e-3
    sample = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True,
                                preprocessing_function=lambda im: im + 1)
    batch = next(sample.flow(x, batch_size=8))
    np.testing.assert_allclose(batch.mean(axis=(1, 2, 3)), 0, atol=1e-4)


def test_fit_a_cnn_on_augmented_batches():
    x, y = images(64)
    fastnn.set_random_seed(0)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), Flatten(),
                        Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    datagen = ImageDataGenerator(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1, zoom_range=0.1,
                                 rescale=1 / 255)
    history = model.fit(datagen.flow(x, y, batch_size=16), epochs=2, validation_data=(x / 255, y), verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
    model.fit(datagen.flow(x, y, batch_size=16), steps_per_epoch=2, epochs=1, verbose=0)


def test_errors():
    with pytest.raises(ValueError, match="zca_whitening is not supported"):
        ImageDataGenerator(zca_whitening=True)
    with pytest.raises(ValueError, match="brightness_range is not supported"):
        ImageDataGenerator(brightness_range=[0.5, 1.5])
    with pytest.raises(ValueError, match="fill_mode must be one of"):
        ImageDataGenerator(fill_mode="mirror")
    with pytest.raises(ValueError, match="rotation_range must be a non-negative number"):
        ImageDataGenerator(rotation_range=-3)
    with pytest.raises(ValueError, match="x must be images of rank 4"):
        ImageDataGenerator().flow(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="x and y must have the same length"):
        ImageDataGenerator().flow(np.zeros((4, 8, 8, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="must be an existing directory"):
        ImageDataGenerator().flow_from_directory("no-such-images/")
    with pytest.raises(IndexError, match="Sequence has length 1"):
        ImageDataGenerator().flow(np.zeros((4, 8, 8, 1)))[1]
