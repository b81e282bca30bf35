"""Datasets from directories (fastnn.utils.image_dataset_from_directory, text_dataset_from_directory),
the tf.data-like BatchDataset they return, Keras's image file helpers (load_img, img_to_array,
array_to_img, save_img) and ImageDataGenerator.flow_from_directory.

Files are real PNG/JPEG/BMP/GIF images written with Pillow under tmp_path. The expected file
lists, orders and splits are hand-computed or come from `keras_index_directory` below, a
transcription of Keras 3's keras/src/utils/dataset_utils.py (index_directory, iter_valid_files,
index_subdirectory, get_training_or_validation_split); resized pixels are checked against Pillow's
own resize (where Pillow and TensorFlow's ``image.resize`` agree: upsampling, nearest) and a
transcription of TensorFlow's half-pixel bilinear (downsampling, no antialiasing).
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import fastnn  # noqa: E402
from fastnn._batch_dataset import BatchDataset  # noqa: E402
from fastnn.layers import (Conv2D, Dense, GlobalAveragePooling2D, Input, RandomFlip,  # noqa: E402
                           Rescaling, TextVectorization)
from fastnn.models import Sequential  # noqa: E402
from fastnn.optimizers import Adam  # noqa: E402
from fastnn.preprocessing.image import ImageDataGenerator  # noqa: E402
from fastnn.utils import (AUTOTUNE, array_to_img, image_dataset_from_directory, img_to_array,  # noqa: E402
                          load_img, save_img, text_dataset_from_directory, timeseries_dataset_from_array)

KERAS_IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


# ---- helpers ---------------------------------------------------------------------------------------------


def keras_index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                          follow_links=False):
    """Keras 3's index_directory for a local directory, transcribed: (file_paths, labels, class_names)."""
    if labels == "inferred":
        subdirs = []
        for subdir in sorted(os.listdir(directory)):
            if os.path.isdir(os.path.join(directory, subdir)):
                if not subdir.startswith("."):
                    subdirs.append(subdir)
        if class_names is not None:
            subdirs = class_names
    else:
        subdirs = [""]
    class_names = subdirs
    class_indices = dict(zip(class_names, range(len(class_names))))
    filenames, found_labels = [], []
    for dirpath in (os.path.join(directory, subdir) for subdir in subdirs):
        dirname = os.path.basename(dirpath)
        walk = os.walk(dirpath) if not follow_links else os.walk(dirpath, followlinks=follow_links)
        for root, _, files in sorted(walk, key=lambda x: x[0]):
            for fname in sorted(files):
                if fname.lower().endswith(formats):
                    found_labels.append(class_indices[dirname])
                    absolute_path = os.path.join(root, fname)
                    filenames.append(os.path.join(dirname, os.path.relpath(absolute_path, dirpath)))
    if labels == "inferred":
        labels = found_labels
    elif labels is None:
        class_names = None
    else:
        labels = list(labels)
        class_names = [str(label) for label in sorted(set(labels))]
    file_paths = [os.path.join(directory, fname) for fname in filenames]
    if shuffle:
        rng = np.random.RandomState(seed)
        rng.shuffle(file_paths)
        if labels is not None:
            rng = np.random.RandomState(seed)
            rng.shuffle(labels)
    return file_paths, labels, class_names


def keras_split(samples, validation_split, subset):
    num_val = int(validation_split * len(samples))
    num_train = len(samples) - num_val
    return samples[:num_train] if subset == "training" else samples[num_train:]


def save(path, array, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, **kwargs)


def pixels(seed, h, w, c=3):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c) if c > 1 else (h, w), dtype=np.uint8)


@pytest.fixture
def tree(tmp_path):
    """Two classes of images of every allowed kind (and files that are not images), a hidden
    directory, a nested subdirectory and an image at the top level."""
    root = tmp_path / "data"
    save(root / "dogs" / "d2.png", pixels(1, 6, 5))
    save(root / "dogs" / "D1.JPG", pixels(2, 7, 9))
    save(root / "dogs" / "deep" / "d0.bmp", pixels(3, 4, 4))
    save(root / "cats" / "c1.jpeg", pixels(4, 5, 5))
    save(root / "cats" / "c0.gif", pixels(5, 8, 3))
    save(root / "cats" / "c2.png", pixels(6, 9, 9, 1))
    save(root / "cats" / "c3.Png", pixels(7, 3, 6, 1))
    save(root / ".hidden" / "h.png", pixels(8, 4, 4))
    save(root / "top.png", pixels(9, 4, 4))
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / "dogs" / "photo.tiff").write_bytes(b"ignored by Keras 3's formats")
    return str(root)


# ---- which files, in which order, with which labels ----------------------------------------------------------


def test_files_labels_and_messages_unshuffled(tree, capsys):
    ds = image_dataset_from_directory(tree, image_size=(4, 4), batch_size=3, shuffle=False)
    assert capsys.readouterr().out == "Found 7 files belonging to 2 classes.\n"
    want = ["cats/c0.gif", "cats/c1.jpeg", "cats/c2.png", "cats/c3.Png", "dogs/D1.JPG", "dogs/d2.png",
            "dogs/deep/d0.bmp"]  # classes sorted, a directory's files sorted, then its subdirectories
    assert ds.file_paths == [os.path.join(tree, p) for p in want]
    assert ds.class_names == ["cats", "dogs"]
    assert isinstance(ds, fastnn.utils.Sequence) and isinstance(ds, BatchDataset) and len(ds) == 3
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [3, 3, 1]
    labels = np.concatenate([y for _, y in batches])
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1] and labels.dtype == np.int32
    x, _ = batches[0]
    assert x.shape == (3, 4, 4, 3) and x.dtype == np.float32
    want_paths, want_labels, want_names = keras_index_directory(tree, "inferred", KERAS_IMAGE_FORMATS, shuffle=False)
    assert (ds.file_paths, labels.tolist(), ds.class_names) == (want_paths, want_labels, want_names)
    image_dataset_from_directory(tree, image_size=(4, 4), shuffle=False, verbose=False)
    assert capsys.readouterr().out == ""


def test_shuffle_is_keras_global_shuffle_then_a_buffer_per_pass(tree):
    ds = image_dataset_from_directory(tree, image_size=(4, 4), batch_size=2, seed=123, verbose=False)
    want_paths, want_labels, _ = keras_index_directory(tree, "inferred", KERAS_IMAGE_FORMATS, seed=123)
    assert ds.file_paths == want_paths  # Keras's RandomState(seed) shuffle of the file list, exactly
    label_of = dict(zip(want_paths, want_labels))
    order_of = {p: i for i, p in enumerate(want_paths)}

    def one_pass():
        images, labels = zip(*[(x, y) for x, y in ds])
        return np.concatenate(images), np.concatenate(labels)

    first_x, first_y = one_pass()
    second_x, second_y = one_pass()  # each pass goes through the buffer anew
    for x, y in ((first_x, first_y), (second_x, second_y)):
        assert len(x) == 7
        # every file once per pass, each with its own label: identify the images by their pixels
        singles = [image_dataset_from_directory(tree, image_size=(4, 4), shuffle=False, batch_size=None,
                                                verbose=False)]
        pool = {p: img for p, (img, _) in zip(singles[0].file_paths, singles[0])}
        seen = []
        for img, label in zip(x, y):
            match = [p for p, ref in pool.items() if np.array_equal(ref, img)]
            assert len(match) == 1
            seen.append(match[0])
            assert label == label_of[match[0]]
        assert sorted(seen, key=order_of.get) == want_paths
    assert not np.array_equal(first_x, second_x)
    again = image_dataset_from_directory(tree, image_size=(4, 4), batch_size=2, seed=123, verbose=False)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in again]), first_x)  # the same seed, the same passes
    np.random.seed(7)
    a = image_dataset_from_directory(tree, image_size=(4, 4), verbose=False).file_paths
    np.random.seed(7)
    assert image_dataset_from_directory(tree, image_size=(4, 4), verbose=False).file_paths == a  # seed from NumPy


def test_labels_none_and_explicit_lists(tree, capsys):
    ds = image_dataset_from_directory(tree, labels=None, image_size=(4, 4), shuffle=False, batch_size=4)
    assert capsys.readouterr().out == "Found 9 files.\n"  # every image from the top, hidden dirs included
    want, _, _ = keras_index_directory(tree, None, KERAS_IMAGE_FORMATS, shuffle=False)
    assert ds.file_paths == want and ds.class_names is None
    assert [os.path.relpath(p, tree) for p in want] == [  # the top directory first, then its subdirectories
        "top.png", ".hidden/h.png", "cats/c0.gif", "cats/c1.jpeg", "cats/c2.png", "cats/c3.Png", "dogs/D1.JPG",
        "dogs/d2.png", "dogs/deep/d0.bmp"]
    assert isinstance(ds[0], np.ndarray) and ds[0].shape == (4, 4, 4, 3)  # images only
    explicit = [3, 1, 4, 1, 5, 9, 2, 6, 5]
    ds = image_dataset_from_directory(tree, labels=explicit, image_size=(4, 4), seed=42, batch_size=None)
    assert capsys.readouterr().out == "Found 9 files belonging to 7 classes.\n"
    assert ds.class_names == ["1", "2", "3", "4", "5", "6", "9"]
    want_paths, want_labels, _ = keras_index_directory(tree, explicit, KERAS_IMAGE_FORMATS, seed=42)
    assert ds.file_paths == want_paths
    assert explicit == [3, 1, 4, 1, 5, 9, 2, 6, 5]  # (not shuffled in place)
    got = {p: int(ds._labels[i]) for i, p in enumerate(ds.file_paths)}
    assert got == dict(zip(want_paths, want_labels))
    unlabeled = image_dataset_from_directory(tree, labels=explicit, label_mode=None, image_size=(4, 4), verbose=False)
    assert unlabeled.class_names is None and isinstance(unlabeled[0], np.ndarray)
    with pytest.raises(ValueError, match=r"image_dataset_from_directory: `labels` must have one label per file "
                                         r"found. Received: len\(labels\)=3, for 9 files"):
        image_dataset_from_directory(tree, labels=[0, 1, 0], image_size=(4, 4), verbose=False)


def test_label_modes_and_dtypes(tree):
    kwargs = dict(image_size=(4, 4), shuffle=False, batch_size=7, verbose=False)
    _, y = image_dataset_from_directory(tree, label_mode="int", **kwargs)[0]
    assert y.dtype == np.int32 and y.shape == (7,)
    _, y = image_dataset_from_directory(tree, label_mode="categorical", **kwargs)[0]
    assert y.dtype == np.float32 and y.shape == (7, 2)
    np.testing.assert_array_equal(y, np.eye(2)[[0, 0, 0, 0, 1, 1, 1]])
    _, y = image_dataset_from_directory(tree, label_mode="binary", **kwargs)[0]
    assert y.dtype == np.float32 and y.shape == (7, 1) and y[:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1]
    x = image_dataset_from_directory(tree, label_mode=None, **kwargs)[0]
    assert isinstance(x, np.ndarray) and x.shape == (7, 4, 4, 3)
    single = image_dataset_from_directory(tree, label_mode="categorical", **{**kwargs, "batch_size": None})
    x, y = single[5]
    assert len(single) == 7 and x.shape == (4, 4, 3) and y.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"label_mode='binary' needs exactly 2 classes. Received: "
                                         r"class_names=\['1', '2', '3'\]"):
        image_dataset_from_directory(tree, labels=[1, 2, 3, 1, 2, 3, 1, 2, 3], label_mode="binary", **kwargs)
    with pytest.raises(ValueError, match=r"label_mode='categorical' needs labels in \[0, 2\)"):
        image_dataset_from_directory(tree, labels=[1, 2] * 4 + [1], label_mode="categorical", **kwargs)


def test_class_names_pick_and_order_the_classes(tree):
    ds = image_dataset_from_directory(tree, class_names=["dogs", "cats"], image_size=(4, 4), shuffle=False,
                                      batch_size=None, verbose=False)
    assert ds.class_names == ["dogs", "cats"]
    assert [os.path.relpath(p, tree).split(os.sep)[0] for p in ds.file_paths] == ["dogs"] * 3 + ["cats"] * 4
    assert [int(y) for _, y in ds] == [0] * 3 + [1] * 4
    only = image_dataset_from_directory(tree, class_names=["dogs"], image_size=(4, 4), verbose=False)
    assert len(only.file_paths) == 3
    with pytest.raises(ValueError, match=r"`class_names` must name subdirectories.*\['birds'\] not found"):
        image_dataset_from_directory(tree, class_names=["dogs", "birds"], image_size=(4, 4), verbose=False)


def test_follow_links(tree, tmp_path):
    outside = tmp_path / "outside"
    save(outside / "o.png", pixels(10, 4, 4))
    os.symlink(outside, os.path.join(tree, "cats", "linked"))
    kwargs = dict(image_size=(4, 4), shuffle=False, verbose=False)
    assert len(image_dataset_from_directory(tree, **kwargs).file_paths) == 7
    linked = image_dataset_from_directory(tree, follow_links=True, **kwargs).file_paths
    assert os.path.join(tree, "cats", "linked", "o.png") in linked and len(linked) == 8
    assert linked == keras_index_directory(tree, "inferred", KERAS_IMAGE_FORMATS, shuffle=False,
                                           follow_links=True)[0]


@pytest.mark.parametrize("split", [0.2, 0.3, 0.5])
def test_validation_split_subsets(tmp_path, capsys, split):
    root = str(tmp_path / "d")
    for c in "abc":
        for i in range(4):
            save(os.path.join(root, c, f"{i}.png"), np.full((3, 3, 3), 20 * i + 80 * "abc".index(c)))
    kwargs = dict(image_size=(3, 3), validation_split=split, seed=99, batch_size=5)
    train = image_dataset_from_directory(root, subset="training", **kwargs)
    n_val = int(split * 12)
    found = "Found 12 files belonging to 3 classes.\n"
    assert capsys.readouterr().out == f"{found}Using {12 - n_val} files for training.\n"
    val = image_dataset_from_directory(root, subset="validation", **kwargs)
    assert capsys.readouterr().out == f"Found 12 files belonging to 3 classes.\nUsing {n_val} files for validation.\n"
    paths, _, _ = keras_index_directory(root, "inferred", KERAS_IMAGE_FORMATS, seed=99)
    assert train.file_paths == keras_split(paths, split, "training")
    assert val.file_paths == keras_split(paths, split, "validation")
    both = image_dataset_from_directory(root, subset="both", **kwargs)
    assert capsys.readouterr().out == (f"Found 12 files belonging to 3 classes.\nUsing {12 - n_val} files for "
                                       f"training.\nUsing {n_val} files for validation.\n")
    assert isinstance(both, list) and len(both) == 2
    assert both[0].file_paths == train.file_paths and both[1].file_paths == val.file_paths
    assert not set(train.file_paths) & set(val.file_paths)
    assert both[0].class_names == both[1].class_names == ["a", "b", "c"]
    # the validation dataset of "both" is not shuffled: its batches follow file_paths
    labels = np.concatenate([y for _, y in both[1]])
    assert labels.tolist() == [int(os.path.basename(os.path.dirname(p)) != "a") + (os.path.dirname(p)[-1] == "c")
                               for p in both[1].file_paths]
    unshuffled = image_dataset_from_directory(root, subset="training", validation_split=split, shuffle=False,
                                              image_size=(3, 3), verbose=False)
    assert unshuffled.file_paths == keras_split(sorted(paths), split, "training")


# ---- image values ------------------------------------------------------------------------------------------------


def pil_resize(x, size, method, box=None):
    """``x`` (h, w, c) resized by Pillow channel by channel in float ("F") mode."""
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(x[:, :, c], dtype=np.float32))
                                .resize((size[1], size[0]), method, box=box)) for c in range(x.shape[2])], axis=2)


def tf_bilinear(x, size):
    """TensorFlow's ``image.resize(method="bilinear", antialias=False)``: half-pixel centres, edge
    pixels repeated."""
    def axis(n_in, n_out):
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        low = np.floor(src)
        return np.clip(low, 0, n_in - 1).astype(int), np.clip(low + 1, 0, n_in - 1).astype(int), src - low

    r0, r1, fr = axis(x.shape[0], size[0])
    c0, c1, fc = axis(x.shape[1], size[1])
    fc = fc[None, :, None]
    top = x[r0][:, c0] * (1 - fc) + x[r0][:, c1] * fc
    bottom = x[r1][:, c0] * (1 - fc) + x[r1][:, c1] * fc
    return top * (1 - fr)[:, None, None] + bottom * fr[:, None, None]


def one_image(tmp_path, array, name="a.png", **kwargs):
    root = tmp_path / f"one{len(os.listdir(tmp_path))}"  # a fresh directory per image
    save(root / "k" / name, array)
    kwargs = {"shuffle": False, "batch_size": None, "verbose": False, "label_mode": None, **kwargs}
    return image_dataset_from_directory(str(root), **kwargs)[0]


def test_resized_values(tmp_path):
    src = pixels(11, 5, 7)
    x = src.astype(np.float32)
    close = dict(rtol=0, atol=1e-3)
    np.testing.assert_array_equal(one_image(tmp_path, src, image_size=(5, 7)), x)  # same size: the pixels
    np.testing.assert_allclose(one_image(tmp_path, src, image_size=(11, 16)),
                               pil_resize(x, (11, 16), Image.Resampling.BILINEAR), **close)
    np.testing.assert_allclose(one_image(tmp_path, src, image_size=(11, 16), interpolation="bicubic"),
                               pil_resize(x, (11, 16), Image.Resampling.BICUBIC), **close)
    for size in [(3, 4), (2, 7), (11, 3)]:
        np.testing.assert_array_equal(one_image(tmp_path, src, image_size=size, interpolation="nearest"),
                                      pil_resize(x, size, Image.Resampling.NEAREST))
    big = pixels(12, 17, 23)
    np.testing.assert_allclose(one_image(tmp_path, big, image_size=(5, 7)), tf_bilinear(big.astype(np.float32), (5, 7)),
                               **close)  # no antialiasing, unlike Pillow's downscaling
    area = one_image(tmp_path, pixels(13, 8, 8), image_size=(4, 4), interpolation="area")
    np.testing.assert_allclose(area, pixels(13, 8, 8).astype(np.float32).reshape(4, 2, 4, 2, 3).mean(axis=(1, 3)),
                               **close)
    for name in ("lanczos3", "lanczos5", "gaussian", "mitchellcubic"):  # a flat image stays flat
        flat = one_image(tmp_path, np.full((5, 6, 3), 77), image_size=(9, 4), interpolation=name)
        np.testing.assert_allclose(flat, 77, atol=1e-3)
    assert one_image(tmp_path, src, image_size=8).shape == (8, 8, 3)  # an int: a square


def test_crop_and_pad_to_aspect_ratio(tmp_path):
    src = pixels(14, 6, 12)  # 6 x 12 into 10 x 10: the centred 6 x 6 window, or the whole image padded
    x = src.astype(np.float32)
    crop = one_image(tmp_path, src, image_size=(10, 10), crop_to_aspect_ratio=True)
    np.testing.assert_allclose(crop, pil_resize(x[:, 3:9], (10, 10), Image.Resampling.BILINEAR), atol=1e-3)
    wide = one_image(tmp_path, src, image_size=(3, 2), crop_to_aspect_ratio=True, interpolation="nearest")
    np.testing.assert_array_equal(wide, pil_resize(x[:, 4:8], (3, 2), Image.Resampling.NEAREST))  # 6 x 4 window
    pad = one_image(tmp_path, src, image_size=(24, 24), pad_to_aspect_ratio=True)
    # TensorFlow's resize_with_pad: scale by 24/12 = 2 to 12 x 24, then 6 rows of zeros above and below
    np.testing.assert_array_equal(pad[:6], 0)
    np.testing.assert_array_equal(pad[18:], 0)
    np.testing.assert_allclose(pad[6:18], pil_resize(x, (12, 24), Image.Resampling.BILINEAR), atol=1e-3)
    tall = one_image(tmp_path, pixels(15, 8, 2), image_size=(4, 4), pad_to_aspect_ratio=True, interpolation="nearest")
    # 8 x 2 fits 4 x 4 as 4 x 1 (ratio 2), one column of zeros on the left (floor(1.5)), two on the right
    np.testing.assert_array_equal(tall[:, [0, 2, 3]], 0)
    np.testing.assert_array_equal(tall[:, 1], pixels(15, 8, 2)[[1, 3, 5, 7], 1])


def test_color_modes_and_formats(tmp_path):
    rgb = pixels(16, 6, 5)
    gray = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32)[:, :, None]
    kwargs = dict(image_size=(6, 5))
    np.testing.assert_array_equal(one_image(tmp_path, rgb, color_mode="grayscale", **kwargs), gray)
    rgba = one_image(tmp_path, rgb, color_mode="rgba", **kwargs)
    assert rgba.shape == (6, 5, 4) and np.all(rgba[:, :, 3] == 255)
    np.testing.assert_array_equal(rgba[:, :, :3], rgb)
    alpha = pixels(17, 6, 5, 4)
    np.testing.assert_array_equal(one_image(tmp_path, alpha, name="t.png", color_mode="rgba", **kwargs), alpha)
    np.testing.assert_array_equal(one_image(tmp_path, alpha, name="t.png", **kwargs), alpha[:, :, :3])  # alpha dropped
    root = tmp_path / "formats"
    save(root / "k" / "j.jpg", rgb, quality=90)
    save(root / "k" / "b.bmp", rgb)
    frames = [Image.fromarray(np.full((6, 5, 3), v, np.uint8)) for v in (40, 200)]
    os.makedirs(root / "k", exist_ok=True)
    frames[0].save(root / "k" / "g.gif", save_all=True, append_images=frames[1:])
    Image.fromarray((np.arange(30, dtype=np.uint16).reshape(6, 5) * 2000)).save(root / "k" / "s.png")  # 16-bit
    ds = image_dataset_from_directory(str(root), label_mode=None, shuffle=False, batch_size=None, image_size=(6, 5),
                                      verbose=False)
    assert [os.path.basename(p) for p in ds.file_paths] == ["b.bmp", "g.gif", "j.jpg", "s.png"]
    np.testing.assert_array_equal(ds[0], rgb)
    np.testing.assert_allclose(ds[1], 40, atol=2)  # the first frame
    with Image.open(root / "k" / "j.jpg") as jpeg:
        np.testing.assert_array_equal(ds[2], np.asarray(jpeg))  # Pillow's JPEG decoder
    np.testing.assert_array_equal(ds[3][:, :, 0], (np.arange(30).reshape(6, 5) * 2000) >> 8)  # the high byte
    chans_first = image_dataset_from_directory(str(root), label_mode=None, shuffle=False, batch_size=2,
                                               image_size=(6, 5), data_format="channels_first", verbose=False)
    np.testing.assert_array_equal(chans_first[0][0], rgb.transpose(2, 0, 1))


def test_undecodable_image_is_named(tmp_path):
    root = tmp_path / "bad"
    save(root / "a" / "fine.png", pixels(18, 4, 4))
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    ds = image_dataset_from_directory(str(root), image_size=(4, 4), shuffle=False, verbose=False)  # lazy: fine here
    with pytest.raises(ValueError, match=r"image_dataset_from_directory: cannot decode the image file '.*broken\.png'"):
        list(ds)


# ---- text --------------------------------------------------------------------------------------------------


def test_text_dataset(tmp_path, capsys):
    root = tmp_path / "texts"
    docs = {"neg/b.txt": "bad movie", "neg/a.txt": "awful, really awful", "neg/c.TXT": "dull\r\nand slow",
            "pos/x.txt": "great fun", "pos/deep/y.txt": "héllo wörld, lovely", "pos/z.md": "not a .txt file"}
    for name, text in docs.items():
        os.makedirs(os.path.dirname(root / name), exist_ok=True)
        (root / name).write_bytes(text.encode("utf-8"))
    ds = text_dataset_from_directory(str(root), batch_size=2, shuffle=False)
    assert capsys.readouterr().out == "Found 5 files belonging to 2 classes.\n"
    assert ds.class_names == ["neg", "pos"]
    assert [os.path.relpath(p, root) for p in ds.file_paths] == ["neg/a.txt", "neg/b.txt", "neg/c.TXT", "pos/x.txt",
                                                                  "pos/deep/y.txt"]
    texts = np.concatenate([x for x, _ in ds])
    assert texts.dtype.kind == "U"
    assert texts.tolist() == ["awful, really awful", "bad movie", "dull\r\nand slow", "great fun",
                              "héllo wörld, lovely"]
    assert np.concatenate([y for _, y in ds]).tolist() == [0, 0, 0, 1, 1]
    cut = text_dataset_from_directory(str(root), shuffle=False, batch_size=None, max_length=2, verbose=False,
                                      label_mode=None)
    assert [str(t) for t in cut] == ["aw", "ba", "du", "gr", "h"]  # 2 bytes: "é" cut in two is dropped
    want, _, _ = keras_index_directory(str(root), "inferred", (".txt",), seed=5)
    shuffled = text_dataset_from_directory(str(root), seed=5, verbose=False)
    assert shuffled.file_paths == want
    train, val = text_dataset_from_directory(str(root), seed=5, validation_split=0.4, subset="both", verbose=False,
                                             label_mode="binary")
    assert (train.file_paths, val.file_paths) == (want[:3], want[3:])
    vectorize = TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(ds.map(lambda x, y: x))
    assert "awful" in vectorize.get_vocabulary()
    tokens = ds.map(lambda x, y: (vectorize(x[:, None]), y))[0][0]
    assert tokens.shape == (2, 4)


# ---- the dataset's tf.data methods --------------------------------------------------------------------------


@pytest.fixture
def flat_tree(tmp_path):
    """10 images of 2 x 2 whose pixels all hold the image's number (0..9), 5 per class."""
    root = tmp_path / "flat"
    for i in range(10):
        save(root / ("a" if i < 5 else "b") / f"{i}.png", np.full((2, 2, 3), i))
    return str(root)


def numbers(x):
    return x[..., 0, 0, 0].astype(int).tolist()


def test_map_take_skip_cache_unbatch_batch(flat_tree):
    ds = image_dataset_from_directory(flat_tree, image_size=(2, 2), batch_size=4, shuffle=False, verbose=False)
    calls = []

    def double(x, y):
        calls.append(len(x))
        return x * 2, y

    mapped = ds.map(double, num_parallel_calls=AUTOTUNE)
    assert calls == [] and len(mapped) == 3  # lazy
    assert numbers(mapped[1][0]) == [8, 10, 12, 14] and calls == [4]
    assert mapped.class_names == ["a", "b"] and mapped.file_paths == ds.file_paths
    assert ds.prefetch(AUTOTUNE) is ds and ds.prefetch(buffer_size=2) is ds
    assert [numbers(x) for x, _ in ds.take(2)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [numbers(x) for x, _ in ds.skip(2)] == [[8, 9]]
    assert len(ds.take(-1)) == 3 and len(ds.skip(5)) == 0 and len(ds.take(10)) == 3
    cached = mapped.cache()
    calls.clear()
    assert [numbers(x) for x, _ in cached] == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]
    list(cached)
    assert calls == [4, 4, 2]  # computed once
    singles = ds.unbatch()
    assert len(singles) == 10
    x, y = singles[6]
    assert x.shape == (2, 2, 3) and numbers(x) == 6 and y == 1
    rebatched = ds.unbatch().batch(3)
    assert [numbers(x) for x, _ in rebatched] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [y.tolist() for _, y in rebatched][-1] == [1]
    assert len(ds.unbatch().batch(3, drop_remainder=True)) == 3
    assert [numbers(x) for x in ds.map(lambda x, y: x).as_numpy_iterator()] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert ds.cardinality() == 3
    shuffled = ds.shuffle(3, seed=1)
    first = [numbers(x) for x, _ in shuffled]
    assert sorted(first) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [numbers(x) for x, _ in ds.shuffle(3, seed=1)] == first
    with pytest.raises(ValueError, match="unbatch: batch 0 has 2 rows where 4 were expected"):
        list(ds.map(lambda x, y: (x[:2], y[:2])).unbatch())
    with pytest.raises(TypeError, match=r"image_dataset_from_directory.map: `map_func` must be a callable"):
        ds.map(3)
    with pytest.raises(ValueError, match=r"\.take: `count` must be a non-negative integer or -1"):
        ds.take(-2)
    with pytest.raises(ValueError, match=r"\.batch: `batch_size` must be a positive integer"):
        ds.batch(0)
    with pytest.raises(IndexError, match="batch index 3 is out of range for a dataset of 3 batches"):
        ds[3]
    with pytest.raises(TypeError, match="indexed by batch number"):
        ds["0"]
    assert numbers(ds[-1][0]) == [8, 9]


def test_map_with_a_layer_and_shuffled_passes(flat_tree):
    fastnn.utils.set_random_seed(3)
    flip = Sequential([RandomFlip("horizontal")])
    root = os.path.dirname(flat_tree)
    save(os.path.join(root, "ramp", "k", "r.png"), np.tile(np.arange(4, dtype=np.uint8)[None, :, None] * 60, (2, 1, 3)))
    ramp = image_dataset_from_directory(os.path.join(root, "ramp"), image_size=(2, 4), batch_size=1, shuffle=False,
                                        verbose=False).unbatch().batch(1)
    many = ramp.map(lambda x, y: (np.repeat(x, 16, axis=0), np.repeat(y, 16)))
    augmented = many.map(lambda x, y: (flip(x, training=True), y))
    x = augmented[0][0]
    rows = {tuple(row) for row in x[:, 0, :, 0].tolist()}
    assert rows == {(0, 60, 120, 180), (180, 120, 60, 0)}  # some flipped, some not
    assert np.array_equal(many.map(lambda x, y: (flip(x, training=False), y))[0][0], many[0][0])
    bare = many.map(lambda x, y: (flip(x), y))[0][0]  # as Keras: a bare call augments
    assert {tuple(row) for row in bare[:, 0, :, 0].tolist()} == {(0, 60, 120, 180), (180, 120, 60, 0)}
    rescale = image_dataset_from_directory(flat_tree, image_size=(2, 2), label_mode=None, shuffle=False,
                                           verbose=False).map(Rescaling(1 / 9))
    np.testing.assert_allclose(rescale[0][:, 0, 0, 0], np.arange(10) / 9, rtol=1e-6)
    ds = image_dataset_from_directory(flat_tree, image_size=(2, 2), batch_size=2, seed=4, verbose=False)
    passes = [sum((numbers(x) for x, _ in ds.map(lambda x, y: (x, y))), []) for _ in range(3)]
    assert all(sorted(p) == list(range(10)) for p in passes) and len({tuple(p) for p in passes}) > 1


def test_timeseries_dataset_shares_the_base():
    ts = timeseries_dataset_from_array(np.arange(20), np.arange(20) * 10, sequence_length=3, batch_size=4)
    assert isinstance(ts, BatchDataset)
    doubled = ts.map(lambda x, y: (x * 2, y))
    np.testing.assert_array_equal(doubled[0][0][1], [2, 4, 6])
    assert len(ts.unbatch()) == ts.num_windows == 18
    x, y = ts.unbatch()[17]
    assert x.tolist() == [17, 18, 19] and y == 170
    assert [len(x) for x, _ in ts.unbatch().batch(5)] == [5, 5, 5, 3]
    assert len(ts.take(2)) == 2 and len(ts.skip(4)) == 1 and ts.prefetch(AUTOTUNE) is ts
    with pytest.raises(IndexError, match="timeseries_dataset_from_array: batch index 9"):
        ts[9]


# ---- models train on them -----------------------------------------------------------------------------------


@pytest.fixture
def shapes_tree(tmp_path):
    """64 small RGB images: dark ones (class "dark") and bright ones ("light"), with noise."""
    root = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for i in range(32):
        for name, base in (("dark", 40), ("light", 200)):
            save(root / name / f"{i}.png", np.clip(base + rng.integers(-30, 30, (10, 12, 3)), 0, 255))
    return str(root)


def small_cnn(classes, activation):
    model = Sequential([Input(shape=(8, 8, 3)), Rescaling(1 / 255), Conv2D(8, 3, activation="relu"),
                        GlobalAveragePooling2D(), Dense(classes, activation=activation)])
    return model


def test_cnn_trains_on_image_dataset_from_directory(shapes_tree):
    fastnn.utils.set_random_seed(0)
    train, val = image_dataset_from_directory(shapes_tree, image_size=(8, 8), batch_size=16, seed=1,
                                              validation_split=0.25, subset="both", verbose=False)
    train = train.prefetch(buffer_size=AUTOTUNE)
    model = small_cnn(2, "softmax")
    model.compile(optimizer=Adam(0.03), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=12, validation_data=val.cache(), verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] >= 0.9
    loss, acc = model.evaluate(val, verbose=0)
    assert acc >= 0.9
    assert model.predict(val, verbose=0).shape == (16, 2)


def test_flow_from_directory(shapes_tree, tmp_path, capsys):
    os.makedirs(os.path.join(shapes_tree, ".cache"))  # Keras 2 lists every subdirectory as a class
    save(os.path.join(shapes_tree, "light", "x.gif"), pixels(1, 4, 4))  # not among Keras 2's formats
    gen = ImageDataGenerator(rescale=1 / 255, validation_split=0.25)
    it = gen.flow_from_directory(shapes_tree, target_size=(8, 8), batch_size=10, shuffle=False)
    assert capsys.readouterr().out == "Found 64 images belonging to 3 classes.\n"
    assert it.class_indices == {".cache": 0, "dark": 1, "light": 2} and it.num_classes == 3
    assert it.samples == it.n == 64 and len(it) == 7
    want = sorted(f"dark/{i}.png" for i in range(32)) + sorted(f"light/{i}.png" for i in range(32))
    assert it.filenames == want and it.filepaths[0] == os.path.join(shapes_tree, want[0])
    assert it.classes.tolist() == [1] * 32 + [2] * 32 and it.classes.dtype == np.int32
    x, y = it[0]
    assert x.shape == (10, 8, 8, 3) and y.shape == (10, 3) and x.dtype == y.dtype == np.float32
    first = img_to_array(load_img(it.filepaths[0], target_size=(8, 8))) / 255
    np.testing.assert_allclose(x[0], first, rtol=1e-6)
    np.testing.assert_array_equal(y[:, 1], 1)
    val = gen.flow_from_directory(shapes_tree, target_size=(8, 8), classes=["dark", "light"], subset="validation",
                                  class_mode="sparse", shuffle=False)
    assert capsys.readouterr().out == "Found 16 images belonging to 2 classes.\n"
    assert val.filenames == want[:8] + want[32:40]  # the first quarter of each class (sorted)
    assert val[0][1].tolist() == [0] * 8 + [1] * 8
    train = gen.flow_from_directory(shapes_tree, target_size=(8, 8), classes=["dark", "light"], subset="training",
                                    class_mode="binary", batch_size=8, seed=3)
    assert train.samples == 48 and not set(train.filenames) & set(val.filenames)
    assert gen.flow_from_directory(shapes_tree, target_size=(8, 8), class_mode=None, batch_size=4)[0].shape == \
        (4, 8, 8, 3)
    xi, yi = gen.flow_from_directory(shapes_tree, target_size=(8, 8), class_mode="input", batch_size=2,
                                     color_mode="grayscale")[0]
    assert xi.shape == (2, 8, 8, 1) and np.array_equal(xi, yi)
    fastnn.utils.set_random_seed(0)
    model = small_cnn(1, "sigmoid")
    model.compile(optimizer=Adam(0.03), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=10, validation_data=val, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.fit(train, steps_per_epoch=2, epochs=1, verbose=0)
    saved = tmp_path / "saved"
    saved.mkdir()
    aug = ImageDataGenerator(rotation_range=20, horizontal_flip=True)
    next(aug.flow_from_directory(shapes_tree, target_size=(8, 8), batch_size=3, save_to_dir=str(saved),
                                 save_prefix="aug", save_format="jpeg"))
    files = sorted(os.listdir(saved))
    assert len(files) == 3 and all(f.startswith("aug_") and f.endswith(".jpeg") for f in files)
    with pytest.raises(ValueError, match=r"flow_from_directory: `class_mode` must be one of"):
        gen.flow_from_directory(shapes_tree, class_mode="raw")
    with pytest.raises(ValueError, match=r"flow_from_directory: `subset` must be 'training', 'validation' or None"):
        gen.flow_from_directory(shapes_tree, subset="both")
    with pytest.raises(ValueError, match=r"`classes` must name distinct subdirectories.*\['cows'\] not found"):
        gen.flow_from_directory(shapes_tree, classes=["dark", "cows"])
    with pytest.raises(ValueError, match=r"flow_from_directory: `directory` must be an existing directory"):
        gen.flow_from_directory(os.path.join(shapes_tree, "nope"))


# ---- load_img, img_to_array, array_to_img, save_img -----------------------------------------------------------


def test_image_file_helpers(tmp_path):
    src = pixels(20, 6, 9)
    path = tmp_path / "p.png"
    save(path, src)
    img = load_img(str(path))
    assert img.mode == "RGB" and img.size == (9, 6)
    a = img_to_array(img)
    assert a.shape == (6, 9, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, src)
    assert img_to_array(img, data_format="channels_first").shape == (3, 6, 9)
    assert img_to_array(img, dtype="uint8").dtype == np.uint8
    np.testing.assert_array_equal(img_to_array(load_img(path, target_size=(4, 5))),
                                  np.asarray(Image.fromarray(src).resize((5, 4), Image.Resampling.NEAREST)))
    np.testing.assert_array_equal(img_to_array(load_img(path, target_size=(4, 5), interpolation="bilinear")),
                                  np.asarray(Image.fromarray(src).resize((5, 4), Image.Resampling.BILINEAR)))
    kept = load_img(path, target_size=(3, 3), keep_aspect_ratio=True)  # the centred 6 x 6 window
    np.testing.assert_array_equal(np.asarray(kept), np.asarray(Image.fromarray(src).resize(
        (3, 3), Image.Resampling.NEAREST, box=(1, 0, 7, 6))))
    gray = load_img(io.BytesIO(path.read_bytes()), color_mode="grayscale")
    assert gray.mode == "L" and img_to_array(gray).shape == (6, 9, 1)
    assert load_img(path, color_mode="rgba").mode == "RGBA"
    back = array_to_img(a, scale=False)
    np.testing.assert_array_equal(np.asarray(back), src)
    scaled = np.asarray(array_to_img(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4, 1)))
    assert scaled.min() == 0 and scaled.max() == 255
    assert array_to_img(a.transpose(2, 0, 1), data_format="channels_first").size == (9, 6)
    assert array_to_img(np.full((2, 2, 1), 1000.0), scale=False).mode == "I"
    assert array_to_img(np.zeros((2, 2, 4))).mode == "RGBA"
    save_img(tmp_path / "s.jpg", a)
    with Image.open(tmp_path / "s.jpg") as saved:
        assert saved.format == "JPEG"
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        save_img(str(tmp_path / "t.jpeg"), np.zeros((3, 3, 4)))
    buffer = io.BytesIO()
    save_img(buffer, a, file_format="png", scale=False)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))), src)
    import fastnn.preprocessing.image as keras2_image  # Keras 2's path
    assert keras2_image.load_img is load_img and keras2_image.save_img is save_img
    with pytest.raises(ValueError, match=r"array_to_img: expected a single image of rank 3"):
        array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"array_to_img: expected 1, 3 or 4 channels"):
        array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"load_img: `color_mode` must be 'grayscale', 'rgb' or 'rgba'"):
        load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match=r"load_img: `interpolation` must be one of"):
        load_img(path, target_size=(2, 2), interpolation="area")
    with pytest.raises(ValueError, match=r"load_img: `target_size` must be a tuple of 2 positive integers"):
        load_img(path, target_size=(2,))
    with pytest.raises(TypeError, match=r"load_img: `path` must be a path"):
        load_img(3)
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"load_img: cannot decode the image file '.*junk\.png'"):
        load_img(tmp_path / "junk.png")
    with pytest.raises(ValueError, match=r"img_to_array: `data_format` must be"):
        img_to_array(img, data_format="channels_middle")


def test_pillow_missing(tree, tmp_path, monkeypatch):
    made = image_dataset_from_directory(tree, image_size=(4, 4), verbose=False)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now raises ImportError
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    for call, name in [(lambda: image_dataset_from_directory(tree), "image_dataset_from_directory"),
                       (lambda: made[0], "image_dataset_from_directory"),
                       (lambda: load_img(os.path.join(tree, "top.png")), "load_img"),
                       (lambda: array_to_img(np.zeros((2, 2, 3))), "array_to_img"),
                       (lambda: save_img(str(tmp_path / "x.png"), np.zeros((2, 2, 3))), "array_to_img"),
                       (lambda: ImageDataGenerator().flow_from_directory(tree),
                        "ImageDataGenerator.flow_from_directory")]:
        with pytest.raises(ImportError, match=rf"{name} needs Pillow.*pip install pillow"):
            call()
    (tmp_path / "t" / "a").mkdir(parents=True)
    (tmp_path / "t" / "a" / "x.txt").write_text("no Pillow needed")
    assert text_dataset_from_directory(str(tmp_path / "t"), verbose=False)[0][0].tolist() == ["no Pillow needed"]


# ---- bad input ------------------------------------------------------------------------------------------------

FN = "image_dataset_from_directory"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(labels="folders"), ValueError, rf"{FN}: `labels` must be 'inferred', None, or a list of integer labels.*"
                                         r"Received: labels='folders'"),
    (dict(labels={"a": 1}), ValueError, r"`labels` must be 'inferred', None, or a list"),
    (dict(labels=[0, 1.5]), ValueError, r"`labels` must be integers. Received an element 1.5 of type float"),
    (dict(labels=[0] * 9, class_names=["cats"]), ValueError, r"`class_names` can only be given with "
                                                             r"labels='inferred'"),
    (dict(labels=None, class_names=["cats"]), ValueError, r"`class_names` cannot be given when there are no labels"),
    (dict(label_mode="sparse"), ValueError, rf"{FN}: `label_mode` must be one of 'int', 'categorical', 'binary', "
                                            r"or None. Received: label_mode='sparse'"),
    (dict(color_mode="cmyk"), ValueError, rf"{FN}: `color_mode` must be one of 'grayscale', 'rgb', 'rgba'. "
                                          r"Received: color_mode='cmyk'"),
    (dict(subset="test", validation_split=0.2, seed=1), ValueError,
     rf"{FN}: `subset` must be 'training', 'validation', 'both' or None. Received: subset='test'"),
    (dict(validation_split=0.2, seed=1), ValueError, r"`validation_split` and `subset` go together.*"
                                                     r"Received: validation_split=0.2, subset=None"),
    (dict(subset="training"), ValueError, r"`validation_split` and `subset` go together"),
    (dict(validation_split=1.5, subset="training", seed=1), ValueError, r"`validation_split` must be between 0 and 1"),
    (dict(validation_split="0.2", subset="training", seed=1), ValueError, r"`validation_split` must be a float"),
    (dict(validation_split=0.2, subset="training"), ValueError, r"a `seed` is needed.*Received: seed=None"),
    (dict(seed=-1), ValueError, r"`seed` must be an integer in \[0, 2\*\*32\) or None. Received: seed=-1"),
    (dict(batch_size=0), ValueError, r"`batch_size` must be a positive integer or None.*Received: batch_size=0"),
    (dict(image_size=(4, 0)), ValueError, r"`image_size` must be an integer or a tuple of 2 positive integers"),
    (dict(interpolation="cubic"), ValueError, r"`interpolation` must be one of .*Received: interpolation='cubic'"),
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError,
     r"only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio`"),
    (dict(data_format="channels_middle"), ValueError, r"`data_format` must be 'channels_last', 'channels_first'"),
    (dict(shuffle="yes"), TypeError, r"`shuffle` must be True or False. Received: shuffle='yes'"),
    (dict(class_names="cats"), ValueError, r"`class_names` must be a list of subdirectory names"),
    (dict(class_names=["cats", "cats"]), ValueError, r"`class_names` must not repeat a name"),
    (dict(format="torch"), ValueError, r"`format` must be 'tf' or 'grain'"),
])
def test_bad_arguments(tree, kwargs, error, match):
    with pytest.raises(error, match=match):
        image_dataset_from_directory(tree, **{"verbose": False, **kwargs})


def test_bad_directories(tmp_path, tree):
    missing = str(tmp_path / "nowhere")
    for fn, call in [(FN, image_dataset_from_directory), ("text_dataset_from_directory", text_dataset_from_directory)]:
        with pytest.raises(FileNotFoundError, match=rf"{fn}: `directory` must be an existing directory. Received: "
                                                    r"directory='.*nowhere', which does not exist"):
            call(missing)
        with pytest.raises(ValueError, match=r"which is not a directory"):
            call(os.path.join(tree, "top.png"))
    with pytest.raises(TypeError, match=rf"{FN}: `directory` must be a path"):
        image_dataset_from_directory(3)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match=rf"{FN}: no images found in directory '.*empty'. Allowed formats: "
                                         r"\('.bmp', '.gif', '.jpeg', '.jpg', '.png'\)"):
        image_dataset_from_directory(str(tmp_path / "empty"), verbose=False)
    with pytest.raises(ValueError, match=r"text_dataset_from_directory: no text files found.*Allowed format: .txt"):
        text_dataset_from_directory(str(tmp_path / "empty"), verbose=False)
    with pytest.raises(ValueError, match=r"no validation images found"):
        image_dataset_from_directory(tree, validation_split=0.1, subset="both", seed=1, verbose=False)
    with pytest.raises(ValueError, match=r"text_dataset_from_directory: `max_length` must be a positive integer"):
        text_dataset_from_directory(tree, max_length=0)


def test_unbatched_elements_and_rebatching(flat_tree):
    singles = image_dataset_from_directory(flat_tree, image_size=(2, 2), batch_size=None, shuffle=False, verbose=False)
    batched = singles.batch(4)
    assert [numbers(x) for x, _ in batched] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [y.dtype for _, y in batched] == [np.int32] * 3
    assert len(batched.unbatch()) == 10 and len(singles.map(lambda x, y: x).unbatch()) == 20  # rows of each image
    windows = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3, batch_size=None)
    assert len(windows.unbatch()) == 8 * 3 and windows.unbatch()[4] == 2  # the steps of each window
