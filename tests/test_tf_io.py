"""tf.io (files, raw bytes, serialized tensors, gfile), the image decoders and encoders, and
Dataset.list_files, against files written here and independent readings of them (Pillow where a
test needs it; NumPy's frombuffer, pathlib)."""

import io
import os
import sys

import numpy as np
import pytest

import fastnn as tf

RNG = np.random.default_rng(0)


def _smooth(h, w, c=3):
    """A photo-like image (gradients and a little noise), so JPEG keeps it close."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)][:c] + [np.full((h, w), 200.0)] * max(0, c - 3)
    return (np.stack(planes, -1) + RNG.integers(0, 4, (h, w, c))).clip(0, 255).astype(np.uint8)


# ---- PNG: encoding without Pillow, decoding ----------------------------------------------------


def test_png_round_trip_is_exact_for_each_channel_count_and_depth():
    for dtype, top in ((np.uint8, 256), (np.uint16, 65536)):
        for channels in (1, 2, 3, 4):
            image = RNG.integers(0, top, (7, 9, channels)).astype(dtype)
            image[2:5] = image[2]  # (rows that some filters shrink)
            encoded = tf.io.encode_png(image)
            assert encoded.shape == () and encoded.dtype == object and encoded.numpy().startswith(b"\x89PNG\r\n\x1a\n")
            decoded = tf.io.decode_png(encoded, dtype=dtype)
            assert decoded.dtype == dtype and decoded.shape == image.shape
            np.testing.assert_array_equal(decoded, image)
            np.testing.assert_array_equal(tf.image.decode_image(encoded, dtype=dtype), image)
    eight = RNG.integers(0, 256, (3, 4, 3)).astype(np.uint8)
    np.testing.assert_array_equal(tf.io.decode_png(tf.io.encode_png(eight), dtype=tf.uint16),
                                  eight.astype(np.uint16) * 257)  # (libpng's expansion: the byte repeated)
    sixteen = RNG.integers(0, 65536, (3, 4, 3)).astype(np.uint16)
    np.testing.assert_array_equal(tf.io.decode_png(tf.io.encode_png(sixteen)), sixteen >> 8)  # (the high byte)
    floats = tf.io.decode_image(tf.io.encode_png(eight), dtype=tf.float32).numpy()
    np.testing.assert_allclose(floats, eight / 255.0, rtol=1e-6)
    with pytest.raises(TypeError, match="image.encode_png: expected a uint8 or uint16 image"):
        tf.io.encode_png(eight.astype(np.float32))
    with pytest.raises(ValueError, match=r"image.encode_png: expected one image \(H, W, C\)"):
        tf.io.encode_png(eight[None])
    with pytest.raises(ValueError, match="image.encode_png: the image must have 1 to 4 channels"):
        tf.io.encode_png(np.zeros((2, 2, 5), np.uint8))


def test_png_decoding_needs_no_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # (as if Pillow were not installed)
    image = _smooth(6, 5, 4)
    encoded = tf.io.encode_png(image)
    np.testing.assert_array_equal(tf.io.decode_png(encoded), image)
    np.testing.assert_array_equal(tf.io.decode_png(encoded, channels=3), image[..., :3])
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1) * 20
    np.testing.assert_array_equal(tf.io.decode_png(tf.io.encode_png(gray), channels=4)[..., 3], 255)
    with pytest.raises(ImportError, match="image.encode_jpeg: .*need Pillow.*pip install pillow"):
        tf.io.encode_jpeg(image[..., :3])


def test_decode_png_reads_pillow_files_with_tensorflows_channels():
    Image = pytest.importorskip("PIL.Image")
    rgba = _smooth(9, 11, 4)
    cases = {"L": Image.fromarray(rgba[..., 0]), "LA": Image.fromarray(rgba[..., :2]),
             "RGB": Image.fromarray(rgba[..., :3]), "RGBA": Image.fromarray(rgba),
             "1": Image.fromarray(rgba[..., 0] > 128), "P": Image.fromarray(rgba[..., :3]).convert("P"),
             "I;16": Image.fromarray(rgba[..., 0].astype(np.uint16) * 250)}
    natural = {"L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA", "1": "L", "P": "RGB"}
    for mode, picture in cases.items():
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        data = buffer.getvalue()
        if mode == "I;16":
            np.testing.assert_array_equal(tf.io.decode_png(data, dtype=tf.uint16)[..., 0], np.asarray(picture))
            continue
        want = np.asarray(picture.convert(natural[mode]))
        np.testing.assert_array_equal(tf.io.decode_png(data), want.reshape(want.shape[:2] + (-1,)), err_msg=mode)
        for channels, target in ((1, "L"), (3, "RGB"), (4, "RGBA")):
            got = tf.io.decode_png(data, channels=channels)
            assert got.shape == (9, 11, channels) and got.dtype == np.uint8
            if channels == 1 and mode in ("RGB", "RGBA", "P"):  # (libpng's png_set_rgb_to_gray(0.299, 0.587))
                rgb = np.asarray(picture.convert("RGB")).astype(np.int64)
                gray = (rgb[..., 0] * 9797 + rgb[..., 1] * 19234 + rgb[..., 2] * 3737) >> 15
                np.testing.assert_array_equal(got[..., 0], gray)
            elif mode != "LA" or channels != 1:
                np.testing.assert_array_equal(got, np.asarray(picture.convert(target)).reshape(9, 11, channels))
    transparent = Image.fromarray(rgba[..., :3]).convert("P")
    buffer = io.BytesIO()
    transparent.save(buffer, "PNG", transparency=0)
    assert tf.io.decode_png(buffer.getvalue()).shape == (9, 11, 4)  # (a palette with tRNS: RGBA, as libpng)


# ---- JPEG, GIF, BMP (Pillow) --------------------------------------------------------------------


def test_jpeg_encode_and_decode():
    pytest.importorskip("PIL")
    image = _smooth(24, 32)
    encoded = tf.io.encode_jpeg(image, quality=95)
    assert tf.io.is_jpeg(encoded).numpy() and not tf.io.is_jpeg(tf.io.encode_png(image)).numpy()
    assert tf.io.extract_jpeg_shape(encoded).numpy().tolist() == [24, 32, 3]
    decoded = tf.io.decode_jpeg(encoded)
    assert decoded.dtype == np.uint8 and decoded.shape == image.shape
    assert np.abs(decoded.numpy().astype(int) - image).mean() < 3
    gray = tf.io.decode_jpeg(encoded, channels=1).numpy()
    luma = image.astype(float) @ [0.299, 0.587, 0.114]
    assert gray.shape == (24, 32, 1) and np.abs(gray[..., 0] - luma).mean() < 3
    assert tf.io.decode_jpeg(encoded, ratio=4).shape == (6, 8, 3)
    one_channel = tf.io.encode_jpeg(image[..., :1], quality=90)
    assert tf.io.decode_image(one_channel).shape == (24, 32, 1)
    assert tf.io.decode_image(one_channel, channels=3).shape == (24, 32, 3)
    # TensorFlow's documented adjust_jpeg_quality examples, exactly (libjpeg's fast DCT, TensorFlow's default)
    pixels = np.arange(1, 13, dtype=np.uint8).reshape(2, 2, 3)
    assert tf.image.adjust_jpeg_quality(pixels, 100).numpy().tolist() == [[[0, 1, 3], [3, 4, 6]],
                                                                         [[6, 7, 9], [9, 10, 12]]]
    floats = tf.image.adjust_jpeg_quality(pixels.astype(np.float32) / 100, 75)
    assert floats.dtype == np.float32
    np.testing.assert_allclose(floats.numpy(), np.array([[[1, 5, 8], [7, 11, 14]], [[15, 19, 22], [21, 25, 28]]]) / 255,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="image.encode_jpeg: the image must have 1 or 3 channels"):
        tf.io.encode_jpeg(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="image.decode_jpeg: channels must be one of 0, 1, 3"):
        tf.io.decode_jpeg(encoded, channels=4)


def test_jpeg_chroma_upsampling_and_colour_conversion_are_libjpegs():
    Image = pytest.importorskip("PIL.Image")
    from fastnn import _image

    # 16x16 blocks of one colour: each coded chroma sample is its block's value, which libjpeg's
    # own smooth upsampling (Pillow's YCbCr output) gives back in the block's middle
    for (h, w), subsampling in (((40, 56), 2), ((40, 88), 1)):
        blocks = RNG.integers(0, 256, (-(-h // 16), -(-w // 16), 3)).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(np.repeat(np.repeat(blocks, 16, 0), 16, 1)[:h, :w]).save(buffer, "JPEG", quality=75,
                                                                                  subsampling=subsampling)
        picture = Image.open(io.BytesIO(buffer.getvalue()))
        picture.draft("YCbCr", None)
        ycc = np.asarray(picture).astype(np.int64)
        down = 2 if subsampling == 2 else 1
        middles = ycc[np.minimum(np.arange(0, h, 16) + 8, h - 1)][:, np.minimum(np.arange(0, w, 16) + 8, w - 1)]
        for channel in (1, 2):
            coded = np.repeat(np.repeat(middles[..., channel], 16 // down, 0), 8, 1)[:-(-h // down), :-(-w // 2)]
            np.testing.assert_array_equal(_image._fancy_upsampled(coded, down)[:h, :w], ycc[..., channel])
        rgb = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
        np.testing.assert_array_equal(_image._ycc_to_rgb(ycc[..., 0], ycc[..., 1], ycc[..., 2]), rgb)


def test_jpeg_accurate_dct_is_pillows_decoding():
    Image = pytest.importorskip("PIL.Image")
    image = _smooth(16, 24)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=80)
    want = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    np.testing.assert_array_equal(tf.io.decode_jpeg(buffer.getvalue(), dct_method="INTEGER_ACCURATE"), want)
    fast = tf.io.decode_jpeg(buffer.getvalue()).numpy().astype(int)  # (TensorFlow's default: the fast DCT)
    assert 0 < np.abs(fast - want).max() <= 8
    with pytest.raises(ValueError, match="image.decode_jpeg: dct_method must be"):
        tf.io.decode_jpeg(buffer.getvalue(), dct_method="FLOAT")


def test_gif_frames_and_bmp():
    Image = pytest.importorskip("PIL.Image")
    frames = [Image.fromarray(np.full((4, 5, 3), v, np.uint8)) for v in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=10, loop=0)
    gif = buffer.getvalue()
    decoded = tf.io.decode_gif(gif)
    assert decoded.shape == (3, 4, 5, 3) and decoded.numpy()[:, 0, 0, 0].tolist() == [0, 128, 255]
    assert tf.io.decode_image(gif).shape == (3, 4, 5, 3)
    assert tf.io.decode_image(gif, expand_animations=False).shape == (4, 5, 3)
    with pytest.raises(ValueError, match=r"image.decode_png: the GIF is animated \(3 frames\)"):
        tf.io.decode_png(gif)
    with pytest.raises(ValueError, match="image.decode_image: channels must be 0 or 3 for GIF"):
        tf.io.decode_image(gif, channels=1)
    image = _smooth(5, 6)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "BMP")
    np.testing.assert_array_equal(tf.io.decode_bmp(buffer.getvalue()), image)
    np.testing.assert_array_equal(tf.io.decode_image(buffer.getvalue()), image)
    with pytest.raises(ValueError, match="image.decode_jpeg: Trying to decode BMP format using decode_jpeg"):
        tf.io.decode_jpeg(buffer.getvalue())


def test_decoders_reject_bad_contents_clearly():
    png = tf.io.encode_png(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="image.decode_image: Unknown image file format. One of JPEG, PNG, GIF, BMP"):
        tf.io.decode_image(b"not an image")
    with pytest.raises(TypeError, match="image.decode_png: expected the encoded image's bytes .* a file name"):
        tf.io.decode_png("cat.png")
    with pytest.raises(ValueError, match="image.decode_png: contents must be 0-D"):
        tf.io.decode_png(np.array([png.numpy()] * 2, dtype=object))
    with pytest.raises(ValueError, match="image.decode_image: channels must be one of 0, 1, 3, 4"):
        tf.io.decode_image(png, channels=2)
    with pytest.raises(TypeError, match="image.decode_png: dtype must be uint8 or uint16"):
        tf.io.decode_png(png, dtype=tf.float32)
    with pytest.raises(ValueError, match="image.decode_png: the PNG data could not be decoded"):
        tf.io.decode_png(png.numpy()[:40] + b"\0" * 30)


# ---- files, raw bytes, serialized tensors -------------------------------------------------------


def test_read_file_and_write_file(tmp_path):
    path = tmp_path / "new" / "folder" / "data.bin"
    payload = bytes(range(256)) + b"\0\0"  # (trailing NULs kept: NumPy's bytes dtype would drop them)
    assert tf.io.write_file(str(path), payload) is None  # (its folders are created)
    contents = tf.io.read_file(str(path))
    assert contents.shape == () and contents.numpy() == payload == path.read_bytes()
    tf.io.write_file(path, "héllo")  # (text: UTF-8; a pathlib path; an existing file is replaced)
    assert tf.io.read_file(os.fsencode(path)).numpy() == "héllo".encode("utf-8")
    name = tf.constant(str(path))  # (a string tensor, as a Dataset.list_files element is)
    assert tf.io.read_file(name).numpy() == "héllo".encode("utf-8")
    tf.io.write_file(str(path), tf.io.read_file(str(path)))
    with pytest.raises(tf.errors.NotFoundError, match=r"io.read_file: .*missing.png; No such file"):
        tf.io.read_file(str(tmp_path / "missing.png"))
    with pytest.raises(OSError, match=r"io.read_file: .*new"):
        tf.io.read_file(str(tmp_path / "new"))
    with pytest.raises(NotImplementedError, match="io.read_file: only local files"):
        tf.io.read_file("gs://bucket/image.png")


def test_decode_raw_reads_bytes_as_numbers():
    data = RNG.integers(-30000, 30000, 6).astype(np.int16)
    got = tf.io.decode_raw(data.tobytes(), tf.int16)
    assert got.dtype == np.int16 and got.numpy().tolist() == data.tolist()
    big = tf.io.decode_raw(data.astype(">i2").tobytes(), tf.int16, little_endian=False)
    assert big.numpy().tolist() == data.tolist()
    floats = RNG.random((2, 3)).astype(np.float32)
    rows = np.array([row.tobytes() for row in floats], dtype=object)
    np.testing.assert_array_equal(tf.io.decode_raw(rows, tf.float32), np.frombuffer(floats.tobytes(), np.float32)
                                  .reshape(2, 3))
    assert tf.io.decode_raw(b"\x01\x02\x03", tf.uint8, fixed_length=5).numpy().tolist() == [1, 2, 3, 0, 0]
    with pytest.raises(ValueError, match="io.decode_raw: DecodeRaw requires input strings to all be the same size"):
        tf.io.decode_raw(np.array([b"ab", b"abcd"], dtype=object), tf.uint8)
    with pytest.raises(ValueError, match="io.decode_raw: Input to DecodeRaw has length 5 that is not a multiple of 4"):
        tf.io.decode_raw(b"12345", tf.float32)


def test_serialize_and_parse_tensor_round_trip():
    for value in (RNG.random((2, 3)).astype(np.float32), np.arange(5, dtype=np.int64), np.array(["a", "bé"]),
                  np.float64(2.5)):
        serialized = tf.io.serialize_tensor(value)
        assert serialized.shape == () and isinstance(serialized.numpy(), bytes)
        back = tf.io.parse_tensor(serialized, np.asarray(value).dtype if np.asarray(value).dtype.kind != "U"
                                  else tf.string)
        np.testing.assert_array_equal(back, value)
    with pytest.raises(ValueError, match=r"io.parse_tensor: Type mismatch between parsed tensor \(float32\) and "
                                         r"dtype \(int32\)"):
        tf.io.parse_tensor(tf.io.serialize_tensor(np.zeros(2, np.float32)), tf.int32)
    with pytest.raises(ValueError, match="io.parse_tensor: expected one tensor serialized by fastnn"):
        tf.io.parse_tensor(b"\x08\x01", tf.float32)


# ---- file lists: matching_files, Dataset.list_files, gfile -------------------------------------


def _files(root, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    return sorted(str(root / n) for n in names)


def test_list_files_lists_sorted_then_shuffled_paths(tmp_path):
    paths = _files(tmp_path, ["b/2.png", "a/1.png", "a/3.png", "b/.hidden.png", "a/skip.txt"])
    pngs = [p for p in paths if p.endswith(".png")]
    pattern = str(tmp_path / "*" / "*.png")
    assert tf.io.matching_files(pattern).numpy().astype(str).tolist() == pngs
    assert tf.io.matching_files(str(tmp_path / "*.jpg")).shape == (0,)
    ordered = [e.numpy().decode() for e in tf.data.Dataset.list_files(pattern, shuffle=False)]
    assert ordered == pngs
    shuffled = tf.data.Dataset.list_files(pattern, seed=3)
    first = [e.numpy().decode() for e in shuffled]
    assert sorted(first) == pngs
    passes = {tuple(first)} | {tuple(e.numpy().decode() for e in shuffled) for _ in range(6)}
    assert len(passes) > 1  # (shuffled again at each pass, as TensorFlow's)
    again = [e.numpy().decode() for e in tf.data.Dataset.list_files(pattern, seed=3)]
    assert again == first
    both = tf.data.Dataset.list_files([str(tmp_path / "a" / "*.png"), str(tmp_path / "b" / "2.png")], shuffle=False)
    assert len(both) == 3
    with pytest.raises(ValueError, match=r"Dataset.list_files: No files matched pattern: .*\*\.jpg"):
        tf.data.Dataset.list_files(str(tmp_path / "*" / "*.jpg"))


def test_list_files_map_read_decode_feeds_keras(tmp_path):
    for k in range(5):
        path = tmp_path / ("cats" if k % 2 else "dogs") / f"{k}.png"
        tf.io.write_file(str(path), tf.io.encode_png(_smooth(6 + k, 8)))
    class_names = np.array(["cats", "dogs"])

    def load(file_path):
        label = np.argmax(os.path.basename(os.path.dirname(str(file_path))) == class_names)
        image = tf.io.decode_png(tf.io.read_file(file_path), channels=3)
        image = tf.image.convert_image_dtype(image, tf.float32)
        return tf.image.resize(image, [4, 4]), label

    ds = tf.data.Dataset.list_files(str(tmp_path / "*" / "*.png"), seed=1).map(load).batch(2)
    images, labels = next(iter(ds))
    assert images.shape == (2, 4, 4, 3) and images.dtype == np.float32 and 0 <= images.numpy().min()
    model = tf.keras.Sequential([tf.keras.Input((4, 4, 3)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
    assert model.predict(ds, verbose=0).shape == (5, 2)


def test_gfile_on_local_files(tmp_path):
    gfile = tf.io.gfile
    root = str(tmp_path / "root")
    gfile.makedirs(os.path.join(root, "x", "y"))
    gfile.makedirs(os.path.join(root, "x", "y"))  # (nothing if it exists)
    assert gfile.exists(root) and gfile.isdir(root) and not gfile.exists(os.path.join(root, "nope"))
    with pytest.raises(FileExistsError, match=r"io.gfile.mkdir: .*x"):
        gfile.mkdir(os.path.join(root, "x"))
    with gfile.GFile(os.path.join(root, "a.txt"), "w") as f:
        f.write("one\r\ntwo\n")
    with gfile.GFile(os.path.join(root, "a.txt")) as f:
        assert f.size() == 9 and list(f) == ["one\r\n", "two\n"]  # (no newline translation)
    with gfile.GFile(os.path.join(root, "b.bin"), "wb") as f:
        f.write(b"\0\1")
    assert gfile.GFile(os.path.join(root, "b.bin"), "rb").read() == b"\0\1"
    assert gfile.listdir(root) == ["a.txt", "b.bin", "x"]
    assert gfile.glob(os.path.join(root, "*.txt")) == [os.path.join(root, "a.txt")]
    gfile.copy(os.path.join(root, "a.txt"), os.path.join(root, "c.txt"))
    with pytest.raises(FileExistsError, match="io.gfile.copy: .*c.txt; File already exists"):
        gfile.copy(os.path.join(root, "b.bin"), os.path.join(root, "c.txt"))
    gfile.copy(os.path.join(root, "b.bin"), os.path.join(root, "c.txt"), overwrite=True)
    gfile.rename(os.path.join(root, "c.txt"), os.path.join(root, "x", "d.bin"))
    assert gfile.stat(os.path.join(root, "x", "d.bin")).length == 2 and gfile.stat(root).is_directory
    walked = [(os.path.relpath(d, root), sorted(ds), sorted(fs)) for d, ds, fs in gfile.walk(root)]
    assert walked == [(".", ["x"], ["a.txt", "b.bin"]), ("x", ["y"], ["d.bin"]), (os.path.join("x", "y"), [], [])]
    gfile.remove(os.path.join(root, "a.txt"))
    with pytest.raises(FileNotFoundError, match=r"io.gfile.remove: .*a.txt; No such file"):
        gfile.remove(os.path.join(root, "a.txt"))
    with pytest.raises(tf.errors.NotFoundError, match=r"io.gfile.GFile: .*a.txt"):
        gfile.GFile(os.path.join(root, "a.txt"), "r")
    gfile.rmtree(os.path.join(root, "x"))
    assert gfile.listdir(root) == ["b.bin"]
    with pytest.raises(NotImplementedError, match="io.gfile.exists: only local files"):
        gfile.exists("s3://bucket/key")


def test_io_module_and_tfrecord_names():
    from fastnn import io as tf_io

    assert tf_io is tf.io and tf.io.decode_png is tf.image.decode_png
    with pytest.raises(NotImplementedError, match="tf.io.FixedLenFeature: TFRecord files .* are not supported"):
        tf.io.FixedLenFeature
    assert not hasattr(tf.io, "no_such_function")


def test_decode_jpeg_ratio_of_a_4_2_0_jpeg_keeps_its_colours(tmp_path):
    # libjpeg scales a 4:2:0 JPEG's chroma with the inverse DCT at ratio 2 and 4 (TensorFlow's pixels);
    # rebuilding it by upsampling every other sample gave colours off by up to 83 levels
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(5)
    pixels = np.clip(np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((8, 8, 1))) + rng.normal(0, 8, (64, 64, 3)),
                     0, 255).astype(np.uint8)
    path = tmp_path / "p.jpg"
    Image.fromarray(pixels).save(path, quality=95, subsampling=2)  # (4:2:0)
    data = tf.io.read_file(str(path))
    for ratio in (2, 4):
        picture = Image.open(path)
        picture.draft("RGB", (64 // ratio, 64 // ratio))
        reference = np.asarray(picture.convert("RGB")).astype(int)
        got = np.asarray(tf.io.decode_jpeg(data, ratio=ratio)).astype(int)
        assert got.shape == reference.shape == (64 // ratio, 64 // ratio, 3)
        assert np.abs(got - reference).mean() < 1.5, ratio
