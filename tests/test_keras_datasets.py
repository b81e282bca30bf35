"""fastnn.datasets' Keras loaders: CIFAR-10/100, IMDB, Reuters, Boston and California Housing.

Every file is a tiny synthetic one written here in the real format (CIFAR's batches pickled as
Python 2's cPickle wrote them, the binary records, the .tar.gz archives, Keras's .npz files with
object arrays). Keras's processing is checked against a transcription of Keras's own steps
written here (keras_imdb, keras_reuters, keras_split), run on the arrays the files were made
from. No test touches the network: an autouse fixture replaces the downloader with one that
fails and records the URLs asked, points HOME at an empty directory, unsets $FASTNN_DATA and
hides /usr/share/datasets.
"""

import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
import urllib.error
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastnn import datasets
from fastnn.datasets import (
    _locate,
    _pickle,
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    imdb,
    reuters,
)

# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Empty HOME, no $FASTNN_DATA, no /usr/share/datasets, and a downloader that is offline."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setattr(_locate, "SYSTEM_ROOT", tmp_path / "usr-share-datasets")
    calls = []

    def fetch(url, out, timeout=None, max_bytes=None):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known (test: no network)")

    monkeypatch.setattr(_locate, "fetch_url", fetch)
    return calls


def serve(monkeypatch, payload):
    """A downloader that serves ``payload`` for any URL; returns the list of URLs asked."""
    calls = []

    def fetch(url, out, timeout=None, max_bytes=None):
        calls.append(url)
        out.write(payload)

    monkeypatch.setattr(_locate, "fetch_url", fetch)
    return calls


def keras_cache():
    d = Path.home() / ".keras" / "datasets"
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---- writing CIFAR files as the official ones are -----------------------------------------------

_RECONSTRUCT = np.array(0).__reduce__()[0]


class Py2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did for CIFAR (protocol 2): every str and bytes as BINSTRING
    (a Python 2 str), NumPy's globals under their NumPy 1 names (numpy.core.multiarray)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        names = {
            id(_RECONSTRUCT): ("numpy.core.multiarray", "_reconstruct"),
            id(np.ndarray): ("numpy", "ndarray"),
            id(np.dtype): ("numpy", "dtype"),
        }
        module, name = names[id(obj)]
        self.write(pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n")
        self.memoize(obj)


def py2_pickle(obj) -> bytes:
    f = io.BytesIO()
    Py2Pickler(f, protocol=2).dump(obj)
    return f.getvalue()


def images(n, seed):
    """n CIFAR images as the files store them: uint8 rows of 3072 (R plane, G plane, B plane)."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def channels_last(rows):
    """The expected (N, 32, 32, 3) images of the rows, computed pixel by pixel from the format."""
    n = rows.shape[0]
    out = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        for c in range(3):
            for r in range(32):
                out[i, r, :, c] = rows[i, c * 1024 + r * 32 : c * 1024 + r * 32 + 32]
    return out


def cifar10_data(sizes=(2, 1, 3, 1, 2), n_test=2, seed=0):
    """{member: (rows, labels)} of a tiny CIFAR-10: five training batches and the test batch."""
    rng = np.random.default_rng(seed + 100)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {
        name: (images(n, seed + k), [int(v) for v in rng.integers(0, 10, n)])
        for k, (name, n) in enumerate(zip(names, list(sizes) + [n_test]))
    }


def cifar10_python_files(data):
    return {
        name: py2_pickle(
            {
                "batch_label": f"training batch {name}",
                "labels": labels,
                "data": rows,
                "filenames": [f"img_{i}.png" for i in range(len(labels))],
            }
        )
        for name, (rows, labels) in data.items()
    }


def cifar10_binary_files(data):
    out = {}
    for name, (rows, labels) in data.items():
        records = np.concatenate([np.asarray(labels, np.uint8)[:, None], rows], axis=1)
        out[name + ".bin"] = records.tobytes()
    return out


def cifar100_data(n_train=4, n_test=3, seed=0):
    rng = np.random.default_rng(seed + 7)
    out = {}
    for k, (name, n) in enumerate((("train", n_train), ("test", n_test))):
        out[name] = (images(n, seed + k), [int(v) for v in rng.integers(0, 100, n)], [int(v) for v in rng.integers(0, 20, n)])
    return out


def cifar100_python_files(data):
    return {
        name: py2_pickle(
            {
                "filenames": [f"f{i}.png" for i in range(len(fine))],
                "batch_label": f"{name} batch 1 of 1",
                "fine_labels": fine,
                "coarse_labels": coarse,
                "data": rows,
            }
        )
        for name, (rows, fine, coarse) in data.items()
    }


def cifar100_binary_files(data):
    out = {}
    for name, (rows, fine, coarse) in data.items():
        records = np.concatenate(
            [np.asarray(coarse, np.uint8)[:, None], np.asarray(fine, np.uint8)[:, None], rows], axis=1
        )
        out[name + ".bin"] = records.tobytes()
    return out


def write_dir(directory, files):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def write_tar(path, dirname, files, extra=None):
    """A .tar.gz holding ``dirname/<name>`` for each file (plus ``extra``), as the official archives."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(dirname)
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, data in list(files.items()) + list((extra or {}).items()):
            info = tarfile.TarInfo(f"{dirname}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def expected_cifar10(data):
    train = [f"data_batch_{i}" for i in range(1, 6)]
    x_train = channels_last(np.concatenate([data[m][0] for m in train]))
    y_train = np.concatenate([data[m][1] for m in train]).astype(np.uint8).reshape(-1, 1)
    x_test = channels_last(data["test_batch"][0])
    y_test = np.asarray(data["test_batch"][1], np.uint8).reshape(-1, 1)
    return (x_train, y_train), (x_test, y_test)


def assert_cifar(got, want, label_dtype):
    for (gx, gy), (wx, wy) in zip(got, want):
        assert gx.dtype == np.uint8 and gx.shape == wx.shape and gx.shape[1:] == (32, 32, 3)
        assert gy.dtype == label_dtype and gy.shape == (gx.shape[0], 1)
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)


# ---- the restricted unpickler -----------------------------------------------------------------


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_unpickler_refuses_os_system(tmp_path, protocol):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"data": Evil(marker)}, protocol=protocol)
    with pytest.raises(datasets.UnsafePickleError, match=r"evil\.pkl: refusing to load (posix|os|nt)\.system"):
        _pickle.loads(data, "evil.pkl")
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name", [("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load"), ("copyreg", "_reconstructor")]
)
def test_unpickler_refuses_other_globals(module, name):
    data = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
    with pytest.raises(datasets.UnsafePickleError, match=rf"refusing to load {module}\.{name}.*corrupt or malicious"):
        _pickle.loads(data, "f")
    assert issubclass(datasets.UnsafePickleError, ValueError)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_unpickler_rebuilds_numpy_arrays(protocol):
    obj = {
        "u8": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "f": np.asfortranarray(np.linspace(0, 1, 6).reshape(2, 3)),
        "obj": np.array([[1, 2], [3]], dtype=object),
        "scalar": np.int64(7),
        "plain": [1, "a", (2.5, None)],
    }
    got = _pickle.loads(pickle.dumps(obj, protocol=protocol), "f")
    for k in ("u8", "f"):
        np.testing.assert_array_equal(got[k], obj[k])
        assert got[k].dtype == obj[k].dtype
    assert got["obj"].dtype == object and list(got["obj"]) == [[1, 2], [3]]
    assert got["scalar"] == 7 and got["plain"] == [1, "a", (2.5, None)]


def test_unpickler_codecs_encode_only_for_latin1_bytes():
    # Python 3 pickles bytes with protocol <= 2 as _codecs.encode(str, "latin1"): allowed, nothing else
    assert _pickle.loads(pickle.dumps(b"\x00\xffab", protocol=2), "f") == b"\x00\xffab"
    data = b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00abX\x06\x00\x00\x00base64\x86R."
    with pytest.raises(datasets.UnsafePickleError, match=r"^g: refusing _codecs\.encode\(str, 'base64'\)"):
        _pickle.loads(data, "g")


def test_unpickler_truncated_and_extra_bytes():
    data = pickle.dumps(np.arange(100), protocol=2)
    with pytest.raises(ValueError, match=r"^x: corrupt or truncated pickle"):
        _pickle.loads(data[:-20], "x")
    with pytest.raises(ValueError, match=r"^x: extra bytes after the end of the pickle"):
        _pickle.loads(data + b"junk", "x")


# ---- CIFAR-10 ---------------------------------------------------------------------------------


def test_cifar10_python_batches_in_keras_cache():
    data = cifar10_data()
    write_dir(keras_cache() / "cifar-10-batches-py", cifar10_python_files(data))
    got = cifar10.load_data()
    assert_cifar(got, expected_cifar10(data), np.uint8)
    (x_train, _), _ = got
    assert x_train.shape == (9, 32, 32, 3) and x_train.flags.c_contiguous and x_train.flags.writeable


def python3_batch(rows, labels):
    """A batch pickled by Python 3 (str keys, NumPy 2's module names): read the same way."""
    return pickle.dumps({"data": rows, "labels": labels, "batch_label": "b"}, protocol=4)


def test_cifar10_python3_pickles():
    data = cifar10_data(seed=3)
    write_dir(keras_cache() / "cifar-10-batches-py", {m: python3_batch(*v) for m, v in data.items()})
    assert_cifar(cifar10.load_data(), expected_cifar10(data), np.uint8)


FORMS_10 = [
    ("cifar-10-batches-py-target/cifar-10-batches-py", "dir", "python"),
    ("cifar-10-python.tar.gz", "tar", "python"),
    ("cifar-10-batches-py.tar.gz", "tar", "python"),
    ("cifar-10-batches-py-target_archive", "tar", "python"),
    ("cifar-10-batches-bin", "dir", "binary"),
    ("cifar-10-binary.tar.gz", "tar", "binary"),
]


def write_cifar10_form(root, relpath, kind, version, data):
    files = cifar10_python_files(data) if version == "python" else cifar10_binary_files(data)
    dirname = "cifar-10-batches-py" if version == "python" else "cifar-10-batches-bin"
    if kind == "dir":
        return write_dir(Path(root) / relpath, files)
    return write_tar(Path(root) / relpath, dirname, files, extra={"batches.meta": b"meta", "readme.html": b"<html>"})


@pytest.mark.parametrize("relpath,kind,version", FORMS_10)
def test_cifar10_every_form(relpath, kind, version):
    data = cifar10_data(seed=5)
    write_cifar10_form(keras_cache(), relpath, kind, version, data)
    assert_cifar(cifar10.load_data(), expected_cifar10(data), np.uint8)


def test_cifar10_search_order(tmp_path, monkeypatch, offline):
    roots = {
        "env": tmp_path / "env",
        "fastnn": Path.home() / ".fastnn" / "datasets",
        "keras": Path.home() / ".keras" / "datasets",
        "system": tmp_path / "usr-share-datasets",
    }
    monkeypatch.setenv("FASTNN_DATA", str(roots["env"]))
    data = {k: cifar10_data(sizes=(1, 1, 1, 1, 1), n_test=1, seed=10 * i) for i, k in enumerate(roots)}
    for k, root in roots.items():
        write_cifar10_form(root, "cifar-10-python.tar.gz", "tar", "python", data[k])
    for k in roots:
        assert_cifar(cifar10.load_data(), expected_cifar10(data[k]), np.uint8)
        (roots[k] / "cifar-10-python.tar.gz").unlink()
    assert offline == []
    with pytest.raises(datasets.DatasetNotFoundError):
        cifar10.load_data()
    assert offline == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]


def test_cifar10_forms_order_within_a_root():
    a, b = cifar10_data(seed=1), cifar10_data(seed=2)
    write_cifar10_form(keras_cache(), "cifar-10-batches-bin", "dir", "binary", b)
    write_cifar10_form(keras_cache(), "cifar-10-python.tar.gz", "tar", "python", a)
    assert_cifar(cifar10.load_data(), expected_cifar10(a), np.uint8)  # the Python archive comes first


def test_cifar10_incomplete_directory_is_skipped_and_reported(offline):
    data = cifar10_data()
    files = cifar10_python_files(data)
    del files["test_batch"]
    write_dir(keras_cache() / "cifar-10-batches-py", files)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"cifar-10-batches-py/ lacks test_batch"):
        cifar10.load_data()
    write_cifar10_form(Path.home() / ".fastnn" / "datasets", "cifar-10-binary.tar.gz", "tar", "binary", data)
    assert_cifar(cifar10.load_data(), expected_cifar10(data), np.uint8)


@pytest.mark.parametrize("which", ["batches_dir", "parent_dir", "archive"])
def test_cifar10_path_argument(tmp_path, which, offline):
    data = cifar10_data(seed=9)
    if which == "archive":
        path = write_cifar10_form(tmp_path, "mine.tgz", "tar", "python", data)
    elif which == "batches_dir":
        path = write_dir(tmp_path / "anywhere", cifar10_binary_files(data))
    else:
        write_cifar10_form(tmp_path / "parent", "cifar-10-batches-py", "dir", "python", data)
        path = tmp_path / "parent"
    assert_cifar(cifar10.load_data(path=path), expected_cifar10(data), np.uint8)
    assert offline == []


def test_cifar10_path_not_found_searches_and_downloads_nothing(tmp_path, offline):
    write_cifar10_form(keras_cache(), "cifar-10-batches-py", "dir", "python", cifar10_data())
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        cifar10.load_data(path=tmp_path / "nope")
    msg = str(info.value)
    assert "not found at path=" in msg and "nothing else is searched and nothing is downloaded" in msg
    assert f"{tmp_path / 'nope'}: no such file or directory" in msg
    assert offline == []


def test_cifar10_offline_message(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "envroot"))
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        cifar10.load_data()
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    home = Path.home()
    for line in (
        "cifar10.load_data: CIFAR-10 not found, and downloading it failed.",
        "cifar-10-batches-py/, cifar-10-batches-py-target/cifar-10-batches-py/, cifar-10-python.tar.gz, "
        "cifar-10-batches-py.tar.gz, cifar-10-batches-py-target_archive, cifar-10-batches-bin/, cifar-10-binary.tar.gz",
        f"  {tmp_path / 'envroot'}: no such directory",
        f"  {home / '.fastnn' / 'datasets'}: no such directory",
        f"  {home / '.keras' / 'datasets'}: no such directory",
        f"  {tmp_path / 'usr-share-datasets'}: no such directory",
        f"Downloading into {home / '.fastnn' / 'datasets' / 'cifar-10-python.tar.gz'} failed:",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: URLError:",
        "cifar10.load_data(path=DIR_OR_ARCHIVE)",
        "set FASTNN_DATA=ROOT",
        "~/.keras/datasets/",
        "checks its SHA-256",
    ):
        assert line in msg, line
    lines = msg.splitlines()  # the roots in the search order
    order = [next(i for i, s in enumerate(lines) if s.startswith(f"  {r}")) for r in
             (tmp_path / "envroot", home / ".fastnn" / "datasets", home / ".keras" / "datasets", tmp_path / "usr-share-datasets")]
    assert order == sorted(order)
    assert offline == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert not (home / ".fastnn").exists()  # a failed download leaves no directory behind


def test_cifar10_download_checks_the_checksum(tmp_path, monkeypatch):
    data = cifar10_data(seed=4)
    archive = write_cifar10_form(tmp_path, "a.tar.gz", "tar", "python", data).read_bytes()
    good = replace(cifar10.SPEC, file_hash=hashlib.sha256(archive).hexdigest())
    monkeypatch.setattr(cifar10, "DATASET", replace(cifar10.DATASET, spec=good))
    calls = serve(monkeypatch, archive)
    assert_cifar(cifar10.load_data(), expected_cifar10(data), np.uint8)
    dest = Path.home() / ".fastnn" / "datasets" / "cifar-10-python.tar.gz"
    assert dest.read_bytes() == archive and calls == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert_cifar(cifar10.load_data(), expected_cifar10(data), np.uint8)  # found now: no second download
    assert len(calls) == 1
    dest.unlink()
    bad = replace(cifar10.SPEC, file_hash="0" * 64)
    monkeypatch.setattr(cifar10, "DATASET", replace(cifar10.DATASET, spec=bad))
    with pytest.raises(datasets.DatasetNotFoundError, match=r"checksum mismatch: the SHA-256 of the download is [0-9a-f]{64}, expected 0{64}"):
        cifar10.load_data()
    assert list((Path.home() / ".fastnn" / "datasets").iterdir()) == []


def corrupt_cases():
    data = cifar10_data(sizes=(1, 1, 1, 1, 1), n_test=1)
    rows, labels = data["data_batch_3"]
    good = py2_pickle({"data": rows, "labels": labels})
    return {
        "truncated": (good[:-50], r"data_batch_3: corrupt or truncated pickle"),
        "extra": (good + b"x", r"data_batch_3: extra bytes after the end of the pickle"),
        "not a dict": (py2_pickle([rows, labels]), r"data_batch_3: a CIFAR batch is a pickled dict. Received: list"),
        "no labels": (py2_pickle({"data": rows}), r"data_batch_3: the batch has no 'labels' entry"),
        "shape": (py2_pickle({"data": rows[:, :3000], "labels": labels}), r"data_batch_3: 'data' must be a uint8 array \(N, 3072\). Received: shape \(1, 3000\)"),
        "dtype": (py2_pickle({"data": rows.astype(np.int16), "labels": labels}), r"'data' must be a uint8 array .* dtype int16"),
        "label range": (py2_pickle({"data": rows, "labels": [10]}), r"data_batch_3: 'labels' must be in \[0, 10\)\. Received: label 10"),
        "negative label": (py2_pickle({"data": rows, "labels": [-1]}), r"'labels' must be in \[0, 10\)\. Received: label -1"),
        "label count": (py2_pickle({"data": rows, "labels": [1, 2]}), r"data_batch_3: holds 1 images but 2 'labels'"),
        "label type": (py2_pickle({"data": rows, "labels": ["cat"]}), r"'labels' must be a list of integers"),
        "evil": (pickle.dumps({"data": Evil("/tmp/never"), "labels": labels}, protocol=2), r"data_batch_3: refusing to load (posix|os)\.system"),
    }


@pytest.mark.parametrize("case", list(corrupt_cases()))
def test_cifar10_corrupt_python_batch(case):
    data = cifar10_data(sizes=(1, 1, 1, 1, 1), n_test=1)
    files = cifar10_python_files(data)
    files["data_batch_3"], pattern = corrupt_cases()[case]
    d = write_dir(keras_cache() / "cifar-10-batches-py", files)
    with pytest.raises(ValueError, match=pattern) as info:
        cifar10.load_data()
    assert str(d / "data_batch_3") in str(info.value)


def test_cifar10_corrupt_in_archive_names_archive_and_member(tmp_path):
    data = cifar10_data(sizes=(1, 1, 1, 1, 1), n_test=1)
    files = cifar10_python_files(data)
    files["test_batch"] = files["test_batch"][:-10]
    path = write_tar(tmp_path / "c.tar.gz", "cifar-10-batches-py", files)
    with pytest.raises(ValueError, match=r"c\.tar\.gz\[cifar-10-batches-py/test_batch\]: corrupt or truncated pickle"):
        cifar10.load_data(path=path)


def test_cifar10_bad_archives(tmp_path):
    data = cifar10_data(sizes=(1, 1, 1, 1, 1), n_test=1)
    whole = write_tar(tmp_path / "w.tar.gz", "cifar-10-batches-py", cifar10_python_files(data)).read_bytes()
    (tmp_path / "t.tar.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"t\.tar\.gz.*(corrupt|truncated)"):
        cifar10.load_data(path=tmp_path / "t.tar.gz")
    (tmp_path / "n.tar.gz").write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match=r"n\.tar\.gz: not a readable CIFAR-10 archive"):
        cifar10.load_data(path=tmp_path / "n.tar.gz")
    files = cifar10_python_files(data)
    del files["data_batch_5"]
    write_tar(tmp_path / "m.tar.gz", "cifar-10-batches-py", files)
    with pytest.raises(ValueError, match=r"m\.tar\.gz: not a complete CIFAR-10 archive: .*missing cifar-10-batches-py/data_batch_5"):
        cifar10.load_data(path=tmp_path / "m.tar.gz")


def test_cifar10_corrupt_binary_batch(tmp_path):
    data = cifar10_data(sizes=(2, 1, 1, 1, 1), n_test=1)
    files = cifar10_binary_files(data)
    d = tmp_path / "bin"
    bad = dict(files, **{"data_batch_1.bin": files["data_batch_1.bin"][:-1]})
    write_dir(d, bad)
    with pytest.raises(ValueError, match=r"data_batch_1\.bin: 6145 bytes is not a whole number of 3073-byte records"):
        cifar10.load_data(path=d)
    record = bytearray(files["data_batch_2.bin"])
    record[0] = 10
    write_dir(d, dict(files, **{"data_batch_2.bin": bytes(record)}))
    with pytest.raises(ValueError, match=r"data_batch_2\.bin: labels must be in \[0, 10\)\. Received: label 10"):
        cifar10.load_data(path=d)
    write_dir(d, dict(files, **{"test_batch.bin": b""}))
    with pytest.raises(ValueError, match=r"test_batch\.bin: the file is empty"):
        cifar10.load_data(path=d)


# ---- CIFAR-100 --------------------------------------------------------------------------------


def expected_cifar100(data, mode):
    k = 1 if mode == "fine" else 2
    return tuple(
        (channels_last(data[m][0]), np.asarray(data[m][k]).reshape(-1, 1)) for m in ("train", "test")
    )


@pytest.mark.parametrize("mode", ["fine", "coarse"])
@pytest.mark.parametrize(
    "relpath,version",
    [
        ("cifar-100-python", "python"),
        ("cifar-100-python-target/cifar-100-python", "python"),
        ("cifar-100-python.tar.gz", "python"),
        ("cifar-100-binary", "binary"),
        ("cifar-100-binary.tar.gz", "binary"),
    ],
)
def test_cifar100(mode, relpath, version):
    data = cifar100_data()
    files = cifar100_python_files(data) if version == "python" else cifar100_binary_files(data)
    if relpath.endswith(".tar.gz"):
        write_tar(keras_cache() / relpath, "cifar-100-python" if version == "python" else "cifar-100-binary", files)
    else:
        write_dir(keras_cache() / relpath, files)
    got = cifar100.load_data(label_mode=mode) if mode == "coarse" else cifar100.load_data()
    # Keras: np.reshape of the label list, NumPy's default int (int64)
    assert_cifar(got, expected_cifar100(data, mode), np.asarray([1]).dtype)


@pytest.mark.parametrize("mode", ["bogus", "Fine", "", None, 1])
def test_cifar100_bad_label_mode(mode, offline):
    with pytest.raises(ValueError, match=r"cifar100\.load_data: label_mode must be one of 'fine', 'coarse'\. Received: label_mode="):
        cifar100.load_data(label_mode=mode)
    assert offline == []


def test_cifar100_label_out_of_range(tmp_path):
    data = cifar100_data()
    data["test"][1][0] = 100
    write_dir(tmp_path / "c", cifar100_python_files(data))
    with pytest.raises(ValueError, match=r"c/test: 'fine_labels' must be in \[0, 100\)\. Received: label 100"):
        cifar100.load_data(path=tmp_path / "c")
    data = cifar100_data()
    data["train"][2][1] = 20
    write_dir(tmp_path / "b", cifar100_binary_files(data))
    with pytest.raises(ValueError, match=r"b/train\.bin: coarse_labels must be in \[0, 20\)\. Received: label 20"):
        cifar100.load_data("coarse", path=tmp_path / "b")


def test_cifar100_archive_in_fastnn_data(tmp_path, monkeypatch, offline):
    data = cifar100_data(seed=2)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "root"))
    write_tar(tmp_path / "root" / "cifar-100-python-target_archive", "cifar-100-python", cifar100_python_files(data))
    assert_cifar(cifar100.load_data("coarse"), expected_cifar100(data, "coarse"), np.asarray([1]).dtype)
    assert offline == []


def test_cifar100_names():
    assert len(cifar100.FINE_LABEL_NAMES) == 100 and len(cifar100.COARSE_LABEL_NAMES) == 20
    assert cifar100.FINE_LABEL_NAMES[:3] == ("apple", "aquarium_fish", "baby")
    assert cifar10.CLASS_NAMES[0] == "airplane" and cifar10.CLASS_NAMES[9] == "truck"


# ---- Keras's processing, transcribed ----------------------------------------------------------


def keras_remove_long_seq(maxlen, seq, label):
    new_seq, new_label = [], []
    for x, y in zip(seq, label):
        if len(x) < maxlen:
            new_seq.append(x)
            new_label.append(y)
    return new_seq, new_label


def keras_imdb(f, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2, index_from=3):
    """keras.datasets.imdb.load_data's steps on the arrays of the file."""
    x_train, labels_train = f["x_train"], f["y_train"]
    x_test, labels_test = f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train = x_train[indices]
    labels_train = labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test = x_test[indices]
    labels_test = labels_test[indices]
    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [[w for w in x] for x in x_train]
        x_test = [[w for w in x] for x in x_test]
    if maxlen:
        x_train, labels_train = keras_remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = keras_remove_long_seq(maxlen, x_test, labels_test)
    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = len(x_train)
    return (np.array(xs[:idx], dtype="object"), labels[:idx]), (np.array(xs[idx:], dtype="object"), labels[idx:])


def keras_reuters(f, num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113, start_char=1, oov_char=2, index_from=3):
    """keras.datasets.reuters.load_data's steps on the arrays of the file."""
    xs, labels = f["x"], f["y"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    xs = xs[indices]
    labels = labels[indices]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    if maxlen:
        xs, labels = keras_remove_long_seq(maxlen, xs, labels)
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = int(len(xs) * (1 - test_split))
    x_train, y_train = np.array(xs[:idx], dtype="object"), np.array(labels[:idx])
    x_test, y_test = np.array(xs[idx:], dtype="object"), np.array(labels[idx:])
    return (x_train, y_train), (x_test, y_test)


def keras_split(x, y, test_split=0.2, seed=113):
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x = x[indices]
    y = y[indices]
    n = int(len(x) * (1 - test_split))
    return (np.array(x[:n]), np.array(y[:n])), (np.array(x[n:]), np.array(y[n:]))


def assert_same_arrays(got, want):
    for g_split, w_split in zip(got, want):
        for g, w in zip(g_split, w_split):
            assert type(g) is np.ndarray
            assert g.dtype == w.dtype and g.shape == w.shape
            if g.dtype == object:
                assert g.tolist() == w.tolist()
                assert [type(v) for v in g.ravel().tolist()] == [type(v) for v in w.ravel().tolist()]
            else:
                np.testing.assert_array_equal(g, w)


# ---- IMDB -------------------------------------------------------------------------------------


def ragged(n, seed, vocab=30, max_len=9):
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(w) for w in rng.integers(1, vocab, rng.integers(1, max_len))]
    return out


def imdb_arrays(seed=0, n_train=12, n_test=9):
    rng = np.random.default_rng(seed + 1)
    return {
        "x_train": ragged(n_train, seed),
        "y_train": rng.integers(0, 2, n_train),
        "x_test": ragged(n_test, seed + 2),
        "y_test": rng.integers(0, 2, n_test),
    }


def write_npz(path, arrays):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)  # object arrays are pickled into the .npy members, as in Keras's files
    return path


IMDB_ARGS = [
    {},
    {"num_words": 20, "skip_top": 5},
    {"maxlen": 7},
    {"maxlen": 8, "num_words": 15, "seed": 0},
    {"start_char": None, "oov_char": None, "num_words": 25},
    {"start_char": None, "index_from": 0},
    {"start_char": 9, "oov_char": 0, "index_from": 1, "skip_top": 4, "seed": 2**32 - 1},
]


@pytest.mark.parametrize("kwargs", IMDB_ARGS)
def test_imdb_matches_keras(kwargs):
    arrays = imdb_arrays()
    write_npz(keras_cache() / "imdb.npz", arrays)
    assert_same_arrays(imdb.load_data(**kwargs), keras_imdb(arrays, **kwargs))


def test_imdb_equal_lengths_give_a_2d_object_array_as_in_keras(tmp_path):
    x = np.empty(3, dtype=object)
    for i in range(3):
        x[i] = [i + 1, i + 2]
    arrays = {"x_train": x, "y_train": np.array([0, 1, 1]), "x_test": x.copy(), "y_test": np.array([1, 0, 0])}
    got = imdb.load_data(path=write_npz(tmp_path / "eq.npz", arrays))
    assert got[0][0].shape == (3, 3)
    assert_same_arrays(got, keras_imdb(arrays))


def test_imdb_maxlen_keeps_nothing(tmp_path):
    path = write_npz(tmp_path / "i.npz", imdb_arrays())
    with pytest.raises(ValueError, match=r"imdb\.load_data: after dropping the sequences of maxlen=1 or more .* Increase maxlen"):
        imdb.load_data(path=path, maxlen=1)


def test_imdb_search_and_path(tmp_path, monkeypatch, offline):
    a, b, c = imdb_arrays(1), imdb_arrays(2), imdb_arrays(3)
    write_npz(keras_cache() / "imdb.npz", a)
    write_npz(Path.home() / ".fastnn" / "datasets" / "imdb.npz", b)
    assert_same_arrays(imdb.load_data(), keras_imdb(b))  # ~/.fastnn before ~/.keras
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    write_npz(tmp_path / "env" / "imdb.npz", c)
    assert_same_arrays(imdb.load_data(), keras_imdb(c))  # $FASTNN_DATA first
    write_npz(tmp_path / "env" / "other.npz", a)
    assert_same_arrays(imdb.load_data(path="other.npz"), keras_imdb(a))  # a bare name: searched
    monkeypatch.chdir(tmp_path / "env")
    assert_same_arrays(imdb.load_data(path="./other.npz"), keras_imdb(a))  # a directory part: as given
    assert_same_arrays(imdb.load_data(path=tmp_path / "env"), keras_imdb(c))  # a directory: imdb.npz in it
    with pytest.raises(datasets.DatasetNotFoundError, match=r"not found at path="):
        imdb.load_data(path="./missing.npz")
    assert offline == []
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        imdb.load_data(path="missing.npz")
    assert offline == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"]
    msg = str(info.value)
    assert f"{tmp_path / 'env' / 'missing.npz'}: no such file" in msg
    assert f"{keras_cache() / 'missing.npz'}: no such file" in msg
    assert f"Downloading into {Path.home() / '.fastnn' / 'datasets' / 'missing.npz'} failed" in msg
    assert 'imdb.load_data(path="./imdb.npz")' in msg and "checks its SHA-256" in msg


def test_imdb_download(monkeypatch):
    arrays = imdb_arrays(4)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    payload = buf.getvalue()
    monkeypatch.setattr(imdb, "SHA256", hashlib.sha256(payload).hexdigest())
    calls = serve(monkeypatch, payload)
    assert_same_arrays(imdb.load_data(seed=5), keras_imdb(arrays, seed=5))
    assert calls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"]
    assert (Path.home() / ".fastnn" / "datasets" / "imdb.npz").read_bytes() == payload


BAD_SEQUENCE_ARGS = [
    ("num_words", 0, "an integer >= 1 or None"),
    ("num_words", -3, "an integer >= 1 or None"),
    ("num_words", 2.5, "an integer >= 1 or None"),
    ("num_words", True, "an integer >= 1 or None"),
    ("skip_top", -1, "an integer >= 0"),
    ("skip_top", None, "an integer >= 0"),
    ("maxlen", 0, "an integer >= 1 or None"),
    ("seed", -1, r"an integer in \[0, 2\*\*32\) or None"),
    ("seed", 2**32, r"an integer in \[0, 2\*\*32\) or None"),
    ("seed", "1", r"an integer in \[0, 2\*\*32\) or None"),
    ("start_char", -1, "an integer >= 0 or None"),
    ("oov_char", 1.0, "an integer >= 0 or None"),
    ("index_from", -1, "an integer >= 0"),
]


@pytest.mark.parametrize("name,value,expected", BAD_SEQUENCE_ARGS)
@pytest.mark.parametrize("loader", [imdb, reuters])
def test_sequence_loaders_bad_arguments(loader, name, value, expected, offline):
    caller = f"{loader.__name__.rsplit('.', 1)[1]}.load_data"
    with pytest.raises(ValueError, match=rf"{caller}: {name} must be {expected}\. Received: {name}={value!r}"):
        loader.load_data(**{name: value})
    assert offline == []


@pytest.mark.parametrize("test_split", [1, 1.0, -0.1, 2, "0.2", None, True])
@pytest.mark.parametrize("loader", [reuters, boston_housing, california_housing])
def test_bad_test_split(loader, test_split, offline):
    with pytest.raises(ValueError, match=rf"test_split must be a number in \[0, 1\).*Received: test_split={test_split!r}"):
        loader.load_data(test_split=test_split)
    assert offline == []


def obj_array(items):
    a = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        a[i] = v
    return a


def npy_member_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def imdb_corrupt_cases():
    good = imdb_arrays()
    return {
        "str word": (dict(good, x_train=obj_array([[1, "the"]] + list(good["x_train"][1:]))), r"\[x_train\]: sequence 0 holds a str; word indices must be integers"),
        "float word": (dict(good, x_test=obj_array([[1.5]] + list(good["x_test"][1:]))), r"\[x_test\]: sequence 0 holds a float"),
        "negative": (dict(good, x_train=obj_array([[1, -4]] + list(good["x_train"][1:]))), r"\[x_train\]: sequence 0 holds the word index -4"),
        "not a list": (dict(good, x_train=obj_array(["text"] + list(good["x_train"][1:]))), r"\[x_train\]: sequence 0 is a str"),
        "2-d": (dict(good, x_train=np.zeros((12, 3), dtype=np.int64)), r"\[x_train\]: must be a 1-D object array of sequences"),
        "label 2": (dict(good, y_test=np.array([2] + [0] * 8)), r"\[y_test\]: labels must be in \[0, 2\)\. Received: label 2"),
        "float labels": (dict(good, y_train=good["y_train"].astype(float)), r"\[y_train\]: labels must be a 1-D integer array"),
        "label count": (dict(good, y_train=good["y_train"][:-1]), r"\[x_train\] holds 12 sequences but .*\[y_train\] holds 11 labels"),
        "missing key": ({k: v for k, v in good.items() if k != "y_test"}, r"missing array 'y_test'; expected x_train, y_train, x_test, y_test"),
        "evil": (dict(good, x_test=obj_array([Evil("/tmp/never")])), r"\[x_test\]: refusing to load (posix|os)\.system"),
    }


@pytest.mark.parametrize("case", list(imdb_corrupt_cases()))
def test_imdb_corrupt(tmp_path, case):
    arrays, pattern = imdb_corrupt_cases()[case]
    path = write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(ValueError, match=pattern) as info:
        imdb.load_data(path=path)
    assert str(path) in str(info.value)


def test_npz_truncated_and_not_a_zip(tmp_path):
    whole = write_npz(tmp_path / "w.npz", imdb_arrays()).read_bytes()
    (tmp_path / "t.npz").write_bytes(whole[: len(whole) - 200])
    with pytest.raises(ValueError, match=r"t\.npz: not a valid \.npz archive"):
        imdb.load_data(path=tmp_path / "t.npz")
    (tmp_path / "n.npz").write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"n\.npz: not a valid \.npz archive"):
        reuters.load_data(path=tmp_path / "n.npz")
    # a member whose .npy data is cut short, in an otherwise valid zip
    member = npy_member_bytes(np.arange(10.0))
    with zipfile.ZipFile(tmp_path / "m.npz", "w") as z:
        z.writestr("x.npy", member[:-8])
        z.writestr("y.npy", npy_member_bytes(np.arange(10.0)))
    with pytest.raises(ValueError, match=r"m\.npz\[x\]: truncated \.npy data: shape \(10,\) of float64 needs 80 bytes, found 72"):
        boston_housing.load_data(path=tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "p.npz", "w") as z:
        z.writestr("x.npy", npy_member_bytes(obj_array([[1], [2, 3]]))[:-5])
        z.writestr("y.npy", npy_member_bytes(np.array([0, 1])))
    with pytest.raises(ValueError, match=r"p\.npz\[x\]: corrupt or truncated pickle"):
        reuters.load_data(path=tmp_path / "p.npz")


def test_word_index(tmp_path, monkeypatch, offline):
    words = {"the": 1, "and": 2, "a": 3}
    (keras_cache() / "imdb_word_index.json").write_text(json.dumps(words))
    assert imdb.get_word_index() == words
    (tmp_path / "r.json").write_text(json.dumps({"said": 1}))
    assert reuters.get_word_index(path=tmp_path / "r.json") == {"said": 1}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json: not a valid JSON word index"):
        imdb.get_word_index(path=tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"list\.json: a word index is a JSON object"):
        imdb.get_word_index(path=tmp_path / "list.json")
    (tmp_path / "val.json").write_text('{"x": "1"}')
    with pytest.raises(ValueError, match=r"val\.json: the index of 'x' must be an integer >= 0\. Received: '1'"):
        reuters.get_word_index(path=tmp_path / "val.json")
    assert offline == []
    with pytest.raises(datasets.DatasetNotFoundError, match=r"checks its MD5"):
        reuters.get_word_index()
    assert offline == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json"]


def test_word_index_download_checks_md5(monkeypatch):
    payload = json.dumps({"movie": 1}).encode()
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(payload).hexdigest())
    calls = serve(monkeypatch, payload)
    assert imdb.get_word_index() == {"movie": 1}
    assert calls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"]
    (Path.home() / ".fastnn" / "datasets" / "imdb_word_index.json").unlink()
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", "0" * 32)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"checksum mismatch: the MD5 of the download is [0-9a-f]{32}, expected 0{32}"):
        imdb.get_word_index()
    assert not (Path.home() / ".fastnn" / "datasets" / "imdb_word_index.json").exists()


# ---- Reuters ----------------------------------------------------------------------------------


def reuters_arrays(seed=0, n=15):
    return {"x": ragged(n, seed, vocab=40), "y": np.random.default_rng(seed + 9).integers(0, 46, n)}


REUTERS_ARGS = [
    {},
    {"num_words": 25, "skip_top": 3, "test_split": 0.4},
    {"maxlen": 6, "seed": 1},
    {"maxlen": 6, "test_split": 0.0},  # Keras's np.array([]): an empty float64 y_test
    {"test_split": 0.0},
    {"start_char": None, "index_from": 0, "oov_char": None, "num_words": 30},
    {"start_char": None, "test_split": 0.99},
]


@pytest.mark.parametrize("kwargs", REUTERS_ARGS)
def test_reuters_matches_keras(kwargs):
    arrays = reuters_arrays()
    write_npz(keras_cache() / "reuters.npz", arrays)
    assert_same_arrays(reuters.load_data(**kwargs), keras_reuters(arrays, **kwargs))


def test_reuters_corrupt_and_labels(tmp_path):
    arrays = reuters_arrays()
    arrays["y"][3] = 46
    with pytest.raises(ValueError, match=r"r\.npz\[y\]: labels must be in \[0, 46\)\. Received: label 46"):
        reuters.load_data(path=write_npz(tmp_path / "r.npz", arrays))
    with pytest.raises(ValueError, match=r"reuters\.load_data: after dropping the sequences of maxlen=1"):
        reuters.load_data(path=write_npz(tmp_path / "ok.npz", reuters_arrays()), maxlen=1)
    names = reuters.get_label_names()
    assert len(names) == 46 and names[:4] == ("cocoa", "grain", "veg-oil", "earn") and names[-1] == "lead"


# ---- Boston and California Housing ------------------------------------------------------------


def housing_arrays(n, features, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(n, features)), "y": rng.uniform(5, 50, n)}


@pytest.mark.parametrize("kwargs", [{}, {"test_split": 0.0}, {"test_split": 0.5, "seed": 7}])
def test_boston_housing_matches_keras(kwargs):
    arrays = housing_arrays(25, 13)
    write_npz(keras_cache() / "boston_housing.npz", arrays)
    got = boston_housing.load_data(**kwargs)
    assert_same_arrays(got, keras_split(arrays["x"], arrays["y"], **kwargs))
    assert got[0][0].shape == (int(25 * (1 - kwargs.get("test_split", 0.2))), 13)


@pytest.mark.parametrize("version", ["large", "small"])
def test_california_housing_matches_keras(tmp_path, version):
    arrays = housing_arrays(650, 8, seed=1)
    path = write_npz(tmp_path / "cal.npz", arrays)
    got = california_housing.load_data(version=version, path=path, seed=3)
    n = 650 if version == "large" else 600
    assert_same_arrays(got, keras_split(arrays["x"][:n], arrays["y"][:n], seed=3))
    assert got[0][0].shape[0] + got[1][0].shape[0] == n


@pytest.mark.parametrize("version", ["medium", "Small", None, 600])
def test_california_housing_bad_version(version, offline):
    with pytest.raises(ValueError, match=r"california_housing\.load_data: version must be one of 'small', 'large'\. Received: version="):
        california_housing.load_data(version=version)
    assert offline == []


def test_housing_bad_files(tmp_path, offline):
    with pytest.raises(ValueError, match=r"b\.npz\[x\]: Boston Housing samples must be \(N, 13\)\. Received: shape=\(5, 8\)"):
        boston_housing.load_data(path=write_npz(tmp_path / "b.npz", housing_arrays(5, 8)))
    with pytest.raises(ValueError, match=r"c\.npz\[x\] holds 5 samples but .*c\.npz\[y\] holds 4 targets"):
        california_housing.load_data(path=write_npz(tmp_path / "c.npz", {"x": np.zeros((5, 8)), "y": np.zeros(4)}))
    with pytest.raises(ValueError, match=r"o\.npz\[x\]: holds an object array"):
        boston_housing.load_data(path=write_npz(tmp_path / "o.npz", {"x": obj_array([[1.0]] * 3), "y": np.zeros(3)}))
    with pytest.raises(ValueError, match=r"s\.npz\[y\]: must be a numeric array"):
        boston_housing.load_data(path=write_npz(tmp_path / "s.npz", {"x": np.zeros((2, 13)), "y": np.array(["a", "b"])}))
    assert offline == []
    with pytest.raises(datasets.DatasetNotFoundError, match=r"boston_housing\.npz: no such file"):
        boston_housing.load_data()
    assert offline == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"]


@pytest.mark.parametrize("path", ["", ".", 3, b"imdb.npz"])
def test_bad_path_argument(path, offline):
    with pytest.raises(ValueError, match=r"imdb\.load_data: path must be a file name or a path"):
        imdb.load_data(path=path)
    assert offline == []
