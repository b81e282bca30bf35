"""ImageDataGenerator (fastnn.preprocessing.image): Keras's transforms, draws and iterators.

The golden transforms below were computed with Keras 3's ``apply_affine_transform`` (its matrix
code, which tf.keras has had since 2.9: the centre at ``h / 2 - 0.5`` and the row and column
coordinates swapped, with ``scipy.ndimage.affine_transform``) on a 4x5 image; fastnn has no SciPy
dependency, so the values are stored here. (An ad-hoc sweep of 200 random transforms on images of
3 to 8 rows and columns, every fill mode and both interpolation orders, against that Keras code
agreed to 1e-6 on every pixel.)
"""

import numpy as np
import pytest

import fastnn
from fastnn.layers import Conv2D, Dense, Flatten
from fastnn.models import Sequential
from fastnn.preprocessing.image import ImageDataGenerator

PARAMS = dict(theta=30.0, tx=0.7, ty=-1.2, shear=10.0, zx=1.1, zy=0.9)
GOLDEN = {
    "nearest": [[2.4342935638, 3.386921508, 5.0344475892, 7.7844475892, 10.5344475892],
                [1.8557847151, 4.5400602425, 8.2426881867, 11.2316475833, 13.9816475833],
                [3.7061234437, 7.4087513879, 11.111379332, 14.6788475773, 17.4288475773],
                [6.574814589, 10.2774425332, 13.9800704773, 17.6826984215, 19.0]],
    "constant": [[-1.0, -1.0, -1.0, -1.0, -1.0],
                 [-1.0, 4.5400602425, 8.2426881867, -1.0, -1.0],
                 [3.7061234437, 7.4087513879, 11.111379332, -1.0, -1.0],
                 [6.574814589, 10.2774425332, 13.9800704773, 17.6826984215, -1.0]],
    "reflect": [[2.4342935638, 3.386921508, 5.0344475892, 7.4922701929, 9.2896422487],
                [1.8557847151, 4.5400602425, 8.2426881867, 11.2316475833, 13.3153510915],
                [3.7061234437, 7.4087513879, 11.111379332, 14.6788475773, 17.3410599342],
                [6.574814589, 10.2774425332, 13.9800704773, 17.6826984215, 19.0]],
    "wrap": [[12.9687411531, 16.6713690972, 1.3739970414, 5.0766249856, 8.7792529297],
             [15.8374322984, 4.5400602425, 8.2426881867, 7.9453161309, 11.647944075],
             [3.7061234437, 7.4087513879, 11.111379332, 10.8140072762, 14.5166352203],
             [6.574814589, 10.2774425332, 13.9800704773, 17.6826984215, 2.3853263657]],
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
    # Keras 3's (and tf.keras 2.9+'s): "tx", the height shift's parameter, moves the columns left by
    # one (its matrix is built for (x, y) and applied to (row, col)); the last column is cval
    shifted = gen.apply_transform(x, {"tx": 1})
    np.testing.assert_allclose(shifted[:, :-1], x[:, 1:], atol=1e-12)
    assert np.all(shifted[:, -1] == 0)
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    # Keras turns about the centre (rows/2 - 0.5, cols/2 - 0.5; its transform_matrix_offset_center):
    # a quarter turn of a 5x5 image is np.rot90 (counter-clockwise, the coordinates being swapped)
    square = np.arange(25.0).reshape(5, 5, 1)
    turned = gen.apply_transform(square, {"theta": 90})[..., 0]
    np.testing.assert_allclose(turned, np.rot90(square[..., 0], k=1), atol=1e-12)
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


def test_fit_rescales_first_as_keras_does():
    """Keras (tf.keras 2.9+, Keras 3) multiplies by ``rescale`` before the featurewise statistics,
    so batches of rescaled images come out with mean 0 and std 1."""
    x = np.random.default_rng(1).integers(0, 256, (64, 6, 6, 3)).astype(np.float32)
    gen = ImageDataGenerator(rescale=1 / 255, featurewise_center=True, featurewise_std_normalization=True)
    gen.fit(x)
    np.testing.assert_allclose(gen.mean.ravel(), (x / 255).mean(axis=(0, 1, 2)), rtol=1e-5)
    batch = next(gen.flow(x, batch_size=64, shuffle=False))
    np.testing.assert_allclose(batch.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(batch.std(axis=(0, 1, 2)), 1, rtol=1e-3)
