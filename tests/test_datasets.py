"""fastnn.datasets: the strict IDX parser, the search path, the download, the bundled subset.

No test touches the network: an autouse fixture replaces the downloader, points HOME at an empty
temporary directory, unsets $FASTNN_DATA and hides /usr/share/datasets (except in the test that
uses Debian's full Fashion-MNIST when it is installed).
"""

import gzip
import hashlib
import io
import os
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from fastnn import datasets
from fastnn.datasets import _idx, _locate, fashion_mnist, mnist

IDX_FILES = _locate.IDX_FILES
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
_real_fetch_url = _locate.fetch_url  # before the autouse fixture replaces it


# ---- helpers ----------------------------------------------------------------------------------


def idx_bytes(a, magic=None, dims=None):
    """The IDX encoding of uint8 array ``a``, written here by hand (independent of _idx.write_idx)."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    magic = (0x0800 | a.ndim) if magic is None else magic
    dims = a.shape if dims is None else dims
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + a.tobytes()


def write(path, data, gz=False):
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def synthetic(n_train, n_test, seed=0):
    """A tiny dataset in the 28x28 / 10-class format: ((x_train, y_train), (x_test, y_test))."""
    rng = np.random.default_rng(seed)
    return (
        (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8)),
        (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8)),
    )


def write_dataset(directory, data, gz=False):
    """Write the four IDX files of ``data`` into ``directory`` (created); return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data
    suffix = ".gz" if gz else ""
    for base, a in zip(IDX_FILES, (x_train, y_train, x_test, y_test)):
        write(directory / (base + suffix), idx_bytes(a), gz=gz)
    return directory


def assert_same(loaded, data):
    for got_split, want_split in zip(loaded, data):
        for got, want in zip(got_split, want_split):
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, want)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Empty HOME, no $FASTNN_DATA, no /usr/share/datasets, and a downloader that is offline."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setattr(_locate, "SYSTEM_ROOT", tmp_path / "usr-share-datasets")
    calls = []

    def offline(url, out, timeout=_locate.DOWNLOAD_TIMEOUT):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known (test: no network)")

    monkeypatch.setattr(_locate, "fetch_url", offline)
    return calls


# ---- the bundled subset -----------------------------------------------------------------------


def test_bundled_subset_shapes_dtypes_balance():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(subset="small")
    assert x_train.shape == (6000, 28, 28) and y_train.shape == (6000,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
        assert a.flags.c_contiguous and a.flags.writeable
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [600] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [100] * 10)
    assert y_train.max() < len(fashion_mnist.CLASS_NAMES) == 10
    # Real images, not blanks: every class has ink, and the pixel range is used.
    assert x_train.max() == 255 and 40 < x_train.mean() < 100
    assert x_train.reshape(6000, -1).max(axis=1).min() > 0


def test_bundled_subset_needs_no_search(monkeypatch, tmp_path, isolated):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "nowhere"))
    (x_train, _), _ = fashion_mnist.load_data(subset="small")
    assert x_train.shape[0] == 6000 and isolated == []
    assert (fashion_mnist.SMALL_DIR / "LICENSE").is_file()
    assert "Zalando" in (fashion_mnist.SMALL_DIR / "LICENSE").read_text()


@pytest.mark.parametrize("subset", ["full", "Small", "", 1, ["small"]])
def test_bad_subset(subset):
    with pytest.raises(ValueError, match=r"unknown subset.*None.*'small'.*Received: subset="):
        fashion_mnist.load_data(subset=subset)


def test_subset_with_path_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r'subset="small".*takes no path'):
        fashion_mnist.load_data(path=tmp_path, subset="small")


# ---- IDX round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_hand_written(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    pi = write(tmp_path / "images", idx_bytes(images), gz=gz)  # no .gz suffix: detected by content
    pl = write(tmp_path / "labels", idx_bytes(labels), gz=gz)
    got = _idx.read_images(pi)
    assert got.shape == (7, 5, 3) and got.dtype == np.uint8 and got.flags.writeable and got.flags.owndata
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(_idx.read_labels(pl), labels)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_idx_round_trip_and_deterministic(tmp_path, name):
    tmp_path = tmp_path / "w"
    tmp_path.mkdir()
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _idx.write_idx(tmp_path / name, a)
    np.testing.assert_array_equal(_idx.read_images(tmp_path / name), a)
    assert _idx.is_gzip(tmp_path / name) == name.endswith(".gz")
    first = (tmp_path / name).read_bytes()
    _idx.write_idx(tmp_path / name, a)
    assert (tmp_path / name).read_bytes() == first
    if not name.endswith(".gz"):
        assert first == idx_bytes(a)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind


def test_write_idx_rejects_other_dtypes(tmp_path):
    with pytest.raises(TypeError, match=r"must be uint8. Received: array.dtype=float32"):
        _idx.write_idx(tmp_path / "x", np.zeros((2, 2), np.float32))


def test_idx_empty_count(tmp_path):
    p = write(tmp_path / "e", idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    assert _idx.read_images(p).shape == (0, 28, 28)


def test_idx_gzip_payload_read_in_chunks(tmp_path):
    # More than one 1 MiB chunk, so the chunked readinto loop runs several times.
    a = np.random.default_rng(2).integers(0, 256, (3000, 28, 28), dtype=np.uint8)
    p = write(tmp_path / "big.gz", idx_bytes(a), gz=True)
    np.testing.assert_array_equal(_idx.read_images(p), a)


# ---- IDX corruption ---------------------------------------------------------------------------

IMAGES = np.arange(4 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(4, 28, 28)
GOOD = idx_bytes(IMAGES)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "data, match",
    [
        (b"\x00\x00\x08", r"too short for an IDX file: 3 bytes"),
        (b"\x1f\x00" + GOOD[2:], r"not an IDX file: bad magic number 0x1F000803 \(expected 0x00000803"),
        (b"PK\x03\x04" + GOOD[4:], r"not an IDX file: bad magic number 0x504B0304"),
        (b"\x00\x00\x0d\x03" + GOOD[4:], r"unsupported IDX type code 0x0D in magic number 0x00000D03; only 0x08"),
        (b"\x00\x00\x08\x01" + GOOD[4:], r"bad magic number 0x00000801: the file has 1 dimension\(s\), expected 3"),
        (GOOD[:10], r"truncated IDX header: 3 dimension\(s\) need 12 bytes after the magic number, found 6"),
        (GOOD[:-1], r"truncated payload: the header says 4 x 28 x 28 = 3136 bytes, the file holds 3135"),
        (GOOD[:16], r"truncated payload: the header says 4 x 28 x 28 = 3136 bytes, the file holds 0"),
        (GOOD + b"\x00\x01", r"2 extra bytes after the payload of 4 x 28 x 28 = 3136 bytes"),
        (idx_bytes(IMAGES, dims=(5, 28, 28)), r"truncated payload: the header says 5 x 28 x 28 = 3920 bytes"),
        (idx_bytes(IMAGES, dims=(3, 28, 28)), r"784 extra bytes after the payload of 3 x 28 x 28 = 2352 bytes"),
    ],
)
def test_idx_corruption(tmp_path, data, match, gz):
    p = write(tmp_path / "bad-images", data, gz=gz)
    with pytest.raises(ValueError, match=match) as info:
        _idx.read_images(p)
    assert str(p) in str(info.value)


def test_idx_huge_claim_is_refused_before_allocating(tmp_path):
    # 4e9 images claimed by a small gzip file: no 3 TB allocation, a clear error.
    p = write(tmp_path / "huge.gz", idx_bytes(IMAGES, dims=(4_000_000_000, 28, 28)), gz=True)
    with pytest.raises(
        ValueError,
        match=r"truncated payload: the header says 4000000000 x 28 x 28 .* more than a \d+-byte gzip file can hold",
    ):
        _idx.read_images(p)
    p = write(tmp_path / "huge", idx_bytes(IMAGES, dims=(4_000_000_000, 28, 28)))
    with pytest.raises(
        ValueError,
        match=r"truncated payload: the header says 4000000000 x 28 x 28 = 3136000000000 bytes, the file holds 3136",
    ):
        _idx.read_images(p)


def test_idx_labels_given_images_file(tmp_path):
    p = write(tmp_path / "train-images-idx3-ubyte", GOOD)
    with pytest.raises(
        ValueError, match=r"bad magic number 0x00000803: the file has 3 dimension\(s\), expected 1 \(magic 0x00000801\)"
    ):
        _idx.read_labels(p)


def test_gzip_truncated_stream(tmp_path):
    blob = gzip.compress(GOOD, mtime=0)
    p = tmp_path / "cut.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"cut.gz: corrupt or truncated gzip stream \(EOFError"):
        _idx.read_images(p)


def test_gzip_bad_crc(tmp_path):
    blob = bytearray(gzip.compress(GOOD, mtime=0))
    blob[-8] ^= 0xFF  # the CRC-32 in the trailer
    p = tmp_path / "crc.gz"
    p.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"crc.gz: corrupt or truncated gzip stream \(BadGzipFile: CRC check failed"):
        _idx.read_images(p)


def test_gzip_corrupt_deflate_data(tmp_path):
    blob = bytearray(gzip.compress(GOOD, mtime=0))
    blob[12:20] = b"\xff" * 8  # inside the deflate stream
    p = tmp_path / "flip.gz"
    p.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"flip.gz: corrupt or truncated gzip stream"):
        _idx.read_images(p)


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        _idx.read_images(tmp_path / "absent")


# ---- dataset-level checks ---------------------------------------------------------------------


def test_count_mismatch_between_images_and_labels(tmp_path):
    (x_train, y_train), test = synthetic(5, 3)
    d = write_dataset(tmp_path / "d", ((x_train, y_train), test))
    write(d / "train-labels-idx1-ubyte", idx_bytes(y_train[:4]))
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte holds 5 images but .*train-labels-idx1-ubyte holds 4 labels"
    ):
        fashion_mnist.load_data(path=d)


def test_labels_out_of_range(tmp_path):
    (x_train, y_train), (x_test, y_test) = synthetic(5, 3)
    y_test = y_test.copy()
    y_test[1] = 10
    d = write_dataset(tmp_path / "d", ((x_train, y_train), (x_test, y_test)))
    with pytest.raises(
        ValueError, match=r"t10k-labels-idx1-ubyte: labels must be in \[0, 10\). Received: max label 10"
    ):
        mnist.load_data(path=d)


def test_images_must_be_28x28(tmp_path):
    (x_train, y_train), test = synthetic(5, 3)
    d = write_dataset(tmp_path / "d", ((x_train, y_train), test))
    write(d / "train-images-idx3-ubyte", idx_bytes(np.zeros((5, 28, 27), np.uint8)))
    with pytest.raises(
        ValueError,
        match=r"train-images-idx3-ubyte: Fashion-MNIST images must be \(N, 28, 28\). Received: shape=\(5, 28, 27\)",
    ):
        fashion_mnist.load_data(path=d)


def test_corrupt_file_in_search_path_is_reported_not_skipped(tmp_path, monkeypatch):
    data = synthetic(5, 3)
    d = write_dataset(tmp_path / "root" / "fashion-mnist", data, gz=True)
    write_dataset(Path.home() / ".fastnn" / "datasets" / "fashion-mnist", synthetic(2, 2))
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(data[1][0])[:-5]))
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "root"))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: truncated payload"):
        fashion_mnist.load_data()


# ---- search order -----------------------------------------------------------------------------


@pytest.mark.parametrize("module, name", [(fashion_mnist, "fashion-mnist"), (mnist, "mnist")])
def test_search_order(tmp_path, monkeypatch, module, name, isolated):
    home = Path.home()
    system = _locate.SYSTEM_ROOT
    # One dataset per place, told apart by its training-set size.
    places = [
        tmp_path / "explicit",
        tmp_path / "env" / name,
        home / ".fastnn" / "datasets" / name,
        home / ".keras" / "datasets" / name,
        system / name,
    ]
    for i, p in enumerate(places):
        write_dataset(p, synthetic(i + 1, 2, seed=i), gz=bool(i % 2))
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))

    (x, _), _ = module.load_data(path=places[0])
    assert len(x) == 1
    for i, p in enumerate(places[1:], start=1):
        (x, _), _ = module.load_data()
        assert len(x) == i + 1, f"expected the dataset in {p}"
        assert datasets.available()[module.__name__.rsplit(".", 1)[1]] == str(p)
        for f in p.iterdir():
            f.unlink()
        if i == 1:
            monkeypatch.delenv("FASTNN_DATA")
    assert isolated == []  # found every time: nothing downloaded


def test_same_content_plain_and_gz(tmp_path):
    data = synthetic(6, 4)
    assert_same(fashion_mnist.load_data(path=write_dataset(tmp_path / "plain", data)), data)
    assert_same(fashion_mnist.load_data(path=write_dataset(tmp_path / "gz", data, gz=True)), data)
    # Mixed: plain preferred when both exist, either accepted alone.
    mixed = write_dataset(tmp_path / "mixed", data, gz=True)
    write(mixed / "t10k-labels-idx1-ubyte", idx_bytes(data[1][1]))
    assert_same(mnist.load_data(path=mixed), data)


def test_explicit_path_is_the_only_place(tmp_path, isolated):
    write_dataset(Path.home() / ".fastnn" / "datasets" / "fashion-mnist", synthetic(2, 2))
    d = tmp_path / "typo"
    with pytest.raises(
        datasets.DatasetNotFoundError,
        match=r"(?s)Fashion-MNIST not found in path=.*typo.*nothing else is searched.*typo: no such directory",
    ):
        fashion_mnist.load_data(path=d)
    assert isolated == []  # an explicit path never triggers a download
    f = tmp_path / "afile"
    f.write_bytes(b"")
    with pytest.raises(datasets.DatasetNotFoundError, match=r"afile: not a directory"):
        fashion_mnist.load_data(path=f)


def test_incomplete_directory_is_skipped_and_reported(tmp_path, monkeypatch):
    d = write_dataset(tmp_path / "env" / "fashion-mnist", synthetic(3, 2))
    (d / "t10k-labels-idx1-ubyte").unlink()
    write_dataset(Path.home() / ".keras" / "datasets" / "fashion-mnist", synthetic(5, 2), gz=True)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    (x, _), _ = fashion_mnist.load_data()
    assert len(x) == 5
    (Path.home() / ".keras" / "datasets" / "fashion-mnist" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert f"{d}: only 3 of the 4 files; missing t10k-labels-idx1-ubyte(.gz)" in msg
    assert "only 3 of the 4 files; missing train-images-idx3-ubyte(.gz)" in msg


def test_fastnn_data_with_tilde(tmp_path, monkeypatch):
    write_dataset(Path.home() / "mydata" / "mnist", synthetic(4, 2))
    monkeypatch.setenv("FASTNN_DATA", "~/mydata")
    (x, _), _ = mnist.load_data()
    assert len(x) == 4


# ---- MNIST .npz -------------------------------------------------------------------------------


def save_npz(path, data, **override):
    (x_train, y_train), (x_test, y_test) = data
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test, **override}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def test_mnist_npz_in_keras_cache(tmp_path, isolated):
    data = synthetic(6, 3)
    keras = Path.home() / ".keras" / "datasets"
    keras.mkdir(parents=True)
    save_npz(keras / "mnist.npz", data)
    assert_same(mnist.load_data(), data)
    assert datasets.available()["mnist"] == str(keras / "mnist.npz")
    assert isolated == []


def test_mnist_npz_by_path_and_in_directory(tmp_path):
    data = synthetic(6, 3)
    f = save_npz(tmp_path / "custom.npz", data)
    assert_same(mnist.load_data(path=f), data)
    d = tmp_path / "dir"
    d.mkdir()
    save_npz(d / "mnist.npz", data)
    assert_same(mnist.load_data(path=d), data)


def test_mnist_npz_idx_preferred_in_same_root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    write_dataset(root / "mnist", synthetic(4, 2))
    save_npz(root / "mnist.npz", synthetic(7, 2))
    monkeypatch.setenv("FASTNN_DATA", str(root))
    (x, _), _ = mnist.load_data()
    assert len(x) == 4


def test_mnist_npz_object_array_is_rejected(tmp_path):
    data = synthetic(4, 2)
    objects = np.empty(4, dtype=object)
    objects[:] = [np.zeros(3)] * 4
    f = save_npz(tmp_path / "evil.npz", data, y_train=objects)
    with pytest.raises(
        ValueError, match=r"evil.npz: array 'y_train' cannot be loaded without pickle .*allow_pickle=False"
    ):
        mnist.load_data(path=f)


def test_mnist_npz_pickle_file_is_rejected(tmp_path):
    import pickle

    f = tmp_path / "pickled.npz"
    f.write_bytes(pickle.dumps({"x_train": 1}))
    with pytest.raises(ValueError, match=r"pickled.npz: cannot be read as an .npz archive without pickle"):
        mnist.load_data(path=f)


def test_mnist_npz_bad_contents(tmp_path):
    data = synthetic(4, 2)
    with pytest.raises(
        ValueError, match=r"missing array 'x_test'; a Keras mnist.npz holds x_train, y_train, x_test, y_test"
    ):
        mnist.load_data(path=save_npz(tmp_path / "a.npz", data, x_test=None))
    with pytest.raises(ValueError, match=r"array 'x_train' must be uint8. Received: dtype=float32"):
        mnist.load_data(path=save_npz(tmp_path / "b.npz", data, x_train=data[0][0].astype(np.float32)))
    with pytest.raises(ValueError, match=r"c.npz\[x_test\] holds 2 images but .*c.npz\[y_test\] holds 1 labels"):
        mnist.load_data(path=save_npz(tmp_path / "c.npz", data, y_test=data[1][1][:1]))
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.zeros(3, np.uint8))
    with pytest.raises(
        ValueError, match=r"single.npz: not an .npz archive \(it holds a single array of shape \(3,\)\)"
    ):
        mnist.load_data(path=single)


# ---- offline failure and download -------------------------------------------------------------


@pytest.mark.parametrize("module", [fashion_mnist, mnist])
def test_offline_failure_lists_every_place(tmp_path, monkeypatch, isolated, module):
    spec = module.SPEC
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        module.load_data()
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    home = Path.home()
    for d in (tmp_path / "env", home / ".fastnn" / "datasets", home / ".keras" / "datasets", _locate.SYSTEM_ROOT):
        assert f"{d / spec.name}" in msg
    assert (
        msg.index(str(tmp_path / "env"))
        < msg.index(".fastnn")
        < msg.index(".keras")
        < msg.index(str(_locate.SYSTEM_ROOT))
    )
    assert "Name or service not known" in msg
    assert f"Downloading into {home / '.fastnn' / 'datasets' / spec.name} failed" in msg
    assert "To provide the files" in msg and f"{spec.caller}(path=DIR)" in msg and "FASTNN_DATA=ROOT" in msg
    for base in IDX_FILES:
        assert base in msg
    # Every mirror was tried for the first file, then it gave up (no point trying the other three).
    assert isolated == [u + IDX_FILES[0] + ".gz" for u in spec.urls]
    assert not (home / ".fastnn" / "datasets" / spec.name).exists()  # no empty directory left behind
    if module is fashion_mnist:
        assert "apt-get install dataset-fashion-mnist" in msg and 'subset="small"' in msg
    else:
        assert "mnist.npz" in msg


def test_offline_message_without_fastnn_data():
    with pytest.raises(datasets.DatasetNotFoundError, match=r"\$FASTNN_DATA/fashion-mnist: FASTNN_DATA is not set"):
        fashion_mnist.load_data()


def fake_server(files, monkeypatch, bad_first_mirror=False):
    """Serve ``files`` (URL file name -> bytes) through a replaced fetch_url; record the URLs asked."""
    asked = []

    def fetch(url, out, timeout=_locate.DOWNLOAD_TIMEOUT):
        asked.append(url)
        if bad_first_mirror and url.startswith("https://one.example/"):
            out.write(b"<html>moved</html>")
            return
        out.write(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(_locate, "fetch_url", fetch)
    return asked


def synthetic_spec(data):
    raw = {base: idx_bytes(a) for base, a in zip(IDX_FILES, (*data[0], *data[1]))}
    spec = _locate.DatasetSpec(
        name="toy",
        title="Toy",
        caller="toy.load_data",
        sha256={base: hashlib.sha256(b).hexdigest() for base, b in raw.items()},
        urls=("https://one.example/", "https://two.example/"),
    )
    return spec, {base + ".gz": gzip.compress(b, mtime=0) for base, b in raw.items()}


def test_download_verifies_and_writes_atomically(monkeypatch):
    data = synthetic(6, 3)
    spec, served = synthetic_spec(data)
    asked = fake_server(served, monkeypatch, bad_first_mirror=True)
    assert_same(_locate.load(spec), data)
    d = Path.home() / ".fastnn" / "datasets" / "toy"
    assert sorted(p.name for p in d.iterdir()) == sorted(b + ".gz" for b in IDX_FILES)  # no .part left
    # The first mirror served garbage each time: its checksum failed and the second one was used.
    assert asked == [u + b + ".gz" for b in IDX_FILES for u in spec.urls]
    # Now found in ~/.fastnn/datasets: no second download.
    asked.clear()
    assert_same(_locate.load(spec), data)
    assert asked == []


def test_download_checksum_mismatch_everywhere(monkeypatch):
    data = synthetic(6, 3)
    spec, served = synthetic_spec(data)
    served["train-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(data[0][1][::-1]))
    fake_server(served, monkeypatch)
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        _locate.load(spec)
    msg = str(info.value)
    assert (
        msg.count("train-labels-idx1-ubyte.gz: ValueError: checksum mismatch: SHA-256 of the decompressed content is")
        == 2
    )
    d = Path.home() / ".fastnn" / "datasets" / "toy"
    # The verified file stays (the next attempt downloads only what is missing); no partial file.
    assert sorted(p.name for p in d.iterdir()) == ["train-images-idx3-ubyte.gz"]


def test_download_partial_directory_fetches_only_missing(monkeypatch):
    data = synthetic(6, 3)
    spec, served = synthetic_spec(data)
    d = Path.home() / ".fastnn" / "datasets" / "toy"
    d.mkdir(parents=True)
    (d / "train-images-idx3-ubyte.gz").write_bytes(served["train-images-idx3-ubyte.gz"])
    asked = fake_server(served, monkeypatch)
    assert_same(_locate.load(spec), data)
    assert [u.rsplit("/", 1)[1] for u in asked] == [b + ".gz" for b in IDX_FILES[1:]]


def test_fetch_url_streams_with_a_size_cap(monkeypatch):
    class Response(io.BytesIO):
        pass

    monkeypatch.setattr(_locate.urllib.request, "urlopen", lambda url, timeout: Response(b"x" * 100))
    monkeypatch.setattr(_locate, "MAX_DOWNLOAD_BYTES", 1000)
    out = io.BytesIO()
    _real_fetch_url("https://example/", out)
    assert out.getvalue() == b"x" * 100
    monkeypatch.setattr(_locate, "MAX_DOWNLOAD_BYTES", 50)
    with pytest.raises(ValueError, match=r"more than 50 bytes"):
        _real_fetch_url("https://example/", io.BytesIO())


# ---- available() ------------------------------------------------------------------------------


def test_available(tmp_path, monkeypatch):
    found = datasets.available()
    assert found["mnist"] is None and found["fashion_mnist"] is None
    assert Path(found["fashion_mnist_small"]) == fashion_mnist.SMALL_DIR
    d = write_dataset(tmp_path / "env" / "fashion-mnist", synthetic(2, 2), gz=True)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    assert datasets.available()["fashion_mnist"] == str(d)
    assert set(datasets.available()) == {"mnist", "fashion_mnist", "fashion_mnist_small"}


# ---- Debian's full Fashion-MNIST --------------------------------------------------------------


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist absent)",
)
def test_debian_full_fashion_mnist(monkeypatch, isolated):
    monkeypatch.setattr(_locate, "SYSTEM_ROOT", DEBIAN_FASHION.parent)
    assert datasets.available()["fashion_mnist"] == str(DEBIAN_FASHION)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    assert isolated == []
    # The checksums in the code are those of these files' decompressed content.
    for base in IDX_FILES:
        assert _locate.sha256_decompressed(DEBIAN_FASHION / (base + ".gz")) == fashion_mnist.SPEC.sha256[base]
    # The bundled subset is exactly the first 600/100 images of each class.
    (xs_train, ys_train), (xs_test, ys_test) = fashion_mnist.load_data(subset="small")
    for (x, y), (xs, ys), k in (
        ((x_train, y_train), (xs_train, ys_train), 600),
        ((x_test, y_test), (xs_test, ys_test), 100),
    ):
        xe, ye = fashion_mnist.select_small(x, y, k)
        np.testing.assert_array_equal(xs, xe)
        np.testing.assert_array_equal(ys, ye)


def test_select_small_rule():
    y = np.array([0, 1, 0, 2, 1, 0, 3, 4, 5, 6, 7, 8, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8], dtype=np.uint8)
    x = np.arange(len(y), dtype=np.uint8)
    xs, ys = fashion_mnist.select_small(x, y, 2)
    np.testing.assert_array_equal(xs, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21])
    np.testing.assert_array_equal(np.bincount(ys), [2] * 10)
    with pytest.raises(ValueError, match=r"class 0 has 3 images, fewer than per_class=4"):
        fashion_mnist.select_small(x, y, 4)


def test_public_names():
    assert fashion_mnist.CLASS_NAMES[0] == "T-shirt/top" and fashion_mnist.CLASS_NAMES[9] == "Ankle boot"
    assert len(fashion_mnist.CLASS_NAMES) == 10 and len(mnist.CLASS_NAMES) == 10
    assert issubclass(datasets.DatasetNotFoundError, FileNotFoundError)
    assert os.path.basename(_locate.download_dir(mnist.SPEC)) == "mnist"
