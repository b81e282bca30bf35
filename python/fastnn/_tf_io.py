"""TensorFlow's ``tf.io`` for the input pipelines of the image tutorials ("Load and preprocess
images", pix2pix, CycleGAN): ``read_file`` and ``write_file``, the image decoders and encoders
(the same functions as ``tf.image``'s), ``decode_raw``, ``serialize_tensor`` / ``parse_tensor``,
``matching_files`` and ``tf.io.gfile`` on local files, and ``Dataset.list_files``' file listing.

Byte strings (a file's contents, an encoded image) are 0-d `EagerArray`s of dtype object holding
``bytes`` (``.numpy()`` gives the bytes, as TensorFlow's); file names may be str, bytes, paths or
fastnn's string tensors (a ``Dataset.list_files`` element inside ``map``). TFRecord files are not
supported."""

from __future__ import annotations

import fnmatch
import glob as _glob
import io as _stdio
import os
import shutil
import sys
import types

import numpy as np

from . import autodiff
from ._batch_dataset import EagerArray
from ._image import (_bytes_tensor, decode_bmp, decode_gif, decode_image, decode_jpeg, decode_png, encode_jpeg,
                     encode_png, extract_jpeg_shape, is_jpeg)


def _path(filename, fn):
    """A file name as str: str, bytes, os.PathLike, or a 0-d string tensor (NumPy str or bytes,
    an EagerArray of them); remote URLs (gs://, s3://) are refused."""
    value = autodiff._value(filename)
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError(f"io.{fn}: expected one file name (a 0-d string). Received shape {value.shape}")
        value = np.asarray(value)[()]  # (a plain array's: an EagerArray's [()] is a 0-d EagerArray)
    if isinstance(value, (bytes, np.bytes_)):
        value = os.fsdecode(bytes(value))
    elif isinstance(value, os.PathLike):
        value = os.fspath(value)
        value = os.fsdecode(value) if isinstance(value, bytes) else value
    if not isinstance(value, str):
        raise TypeError(f"io.{fn}: expected a file name (a string). Received {type(value).__name__}: {value!r}"[:300])
    if "://" in value:
        raise NotImplementedError(f"io.{fn}: only local files are supported (fastnn has no file systems for URLs). "
                                  f"Received: {value!r}")
    return str(value)


def _failed(error, fn, path):
    """An OSError of ``path`` as TensorFlow words it, naming the path (NotFoundError is
    FileNotFoundError)."""
    reason = error.strerror or str(error)
    kind = {FileNotFoundError: FileNotFoundError, FileExistsError: FileExistsError,
            IsADirectoryError: IsADirectoryError, NotADirectoryError: NotADirectoryError}.get(type(error), OSError)
    return kind(f"io.{fn}: {path}; {reason}")


def read_file(filename, name=None):
    """The whole contents of ``filename`` as a 0-d bytes tensor (``.numpy()`` the bytes), for
    `decode_image` and the other decoders."""
    path = _path(filename, "read_file")
    try:
        with open(path, "rb") as f:
            return _bytes_tensor(f.read())
    except OSError as e:
        raise _failed(e, "read_file", path) from None


def write_file(filename, contents, name=None):
    """Write ``contents`` (bytes, a 0-d bytes tensor, or text: written as UTF-8) to ``filename``,
    creating its folders, replacing the file if it exists."""
    path = _path(filename, "write_file")
    data = autodiff._value(contents)
    if isinstance(data, np.ndarray):
        if data.ndim != 0:
            raise ValueError(f"io.write_file: contents must be 0-D (one string). Received shape {data.shape}")
        data = np.asarray(data)[()]
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"io.write_file: contents must be bytes or a string. Received {type(data).__name__}")
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "wb") as f:
            f.write(bytes(data))
    except OSError as e:
        raise _failed(e, "write_file", path) from None


def _strings(value):
    """Each string of a tensor or list of them, as bytes (text encoded as UTF-8), and its shape."""
    value = autodiff._value(value)
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        value = [value]
        shape = ()
    else:
        value = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
        shape = value.shape
        value = value.reshape(-1).tolist()
    return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value], shape


def decode_raw(input_bytes, out_type, little_endian=True, fixed_length=None, name=None):
    """The bytes of each string reinterpreted as numbers of ``out_type``: shape ``input.shape +
    (length / itemsize,)`` (all strings of one length, or ``fixed_length`` bytes each: cut or
    zero-padded); ``little_endian`` says how multi-byte numbers are stored."""
    dtype = np.dtype(getattr(out_type, "name", out_type))
    if dtype.kind not in "biufc":
        raise TypeError(f"io.decode_raw: out_type must be a number type. Received: {out_type!r}")
    strings, shape = _strings(input_bytes)
    if fixed_length is not None:
        fixed_length = int(fixed_length)
        if fixed_length < 0 or fixed_length % dtype.itemsize:
            raise ValueError(f"io.decode_raw: fixed_length must be a non-negative multiple of the size of "
                             f"{dtype.name} ({dtype.itemsize}). Received: {fixed_length}")
        strings = [s[:fixed_length].ljust(fixed_length, b"\0") for s in strings]
    width = len(strings[0]) if strings else 0
    for k, s in enumerate(strings):
        if len(s) != width:
            raise ValueError(f"io.decode_raw: DecodeRaw requires input strings to all be the same size, but element "
                             f"{k} has size {len(s)} != {width}")
    if width % dtype.itemsize:
        raise ValueError(f"io.decode_raw: Input to DecodeRaw has length {width} that is not a multiple of "
                         f"{dtype.itemsize}, the size of {dtype.name}")
    stored = dtype.newbyteorder("<" if little_endian else ">") if dtype.itemsize > 1 else dtype
    values = np.frombuffer(b"".join(strings), dtype=stored).astype(dtype)
    return np.ascontiguousarray(values.reshape(shape + (width // dtype.itemsize,))).view(EagerArray)


_NPY_MAGIC = b"\x93NUMPY"


def serialize_tensor(tensor, name=None):
    """``tensor`` as bytes (a 0-d string tensor) that `parse_tensor` reads back: NumPy's .npy
    format, not TensorFlow's TensorProto, so only fastnn reads them."""
    value = np.asarray(autodiff._value(tensor))
    if value.dtype == object:
        raise TypeError("io.serialize_tensor: tensors of Python objects (byte strings) are not supported; text "
                        "(str) tensors and numbers are")
    out = _stdio.BytesIO()
    np.save(out, value, allow_pickle=False)
    return _bytes_tensor(out.getvalue())


def parse_tensor(serialized, out_type, name=None):
    """The tensor `serialize_tensor` wrote, checked to be of ``out_type``."""
    data = _strings(serialized)[0]
    if len(data) != 1 or not data[0].startswith(_NPY_MAGIC):
        raise ValueError("io.parse_tensor: expected one tensor serialized by fastnn's io.serialize_tensor (NumPy's "
                         ".npy bytes; TensorFlow's TensorProto bytes are not read)")
    value = np.load(_stdio.BytesIO(data[0]), allow_pickle=False)
    wanted = np.dtype(str) if out_type in (str, np.str_, "string") else np.dtype(getattr(out_type, "name", out_type))
    if value.dtype != wanted and not (value.dtype.kind == wanted.kind == "U"):
        raise ValueError(f"io.parse_tensor: Type mismatch between parsed tensor ({value.dtype.name}) and dtype "
                         f"({wanted.name})")
    return value.view(EagerArray)


def _patterns(pattern, fn):
    value = autodiff._value(pattern)
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim):
        return [_path(p, fn) for p in np.asarray(value, dtype=object).reshape(-1).tolist()]
    return [_path(value, fn)]


def _glob_one(pattern):
    """TensorFlow's matching: ``*``, ``?`` and ``[...]`` within one path component, hidden files
    included; a pattern without them matches the path if it exists."""
    if sys.version_info >= (3, 11):
        return _glob.glob(pattern, include_hidden=True)
    if not _glob.has_magic(pattern):  # (before Python 3.11 glob has no include_hidden: by component)
        return [pattern] if os.path.lexists(pattern) else []
    directory, name = os.path.split(pattern)
    found = []
    for d in (_glob_one(directory) if _glob.has_magic(directory) else [directory]):
        if not _glob.has_magic(name):
            found += [os.path.join(d, name)] if os.path.lexists(os.path.join(d, name)) else []
            continue
        try:
            names = os.listdir(d or os.curdir)
        except OSError:  # (not a directory)
            continue
        found += [os.path.join(d, n) for n in fnmatch.filter(names, name)]
    return found


def matching_files(pattern, name=None):
    """The sorted paths matching ``pattern`` (a glob, or a list of them), as a 1-D string tensor
    (empty when nothing matches)."""
    found = sorted(p for one in _patterns(pattern, "matching_files") for p in _glob_one(one))
    return (np.array(found, dtype=str) if found else np.zeros((0,), dtype=str)).view(EagerArray)


def list_files(file_pattern, shuffle=None, seed=None, name=None):
    """``tf.data.Dataset.list_files``: a dataset of the paths matching ``file_pattern`` (a glob or a
    list of them), one string each, sorted, then shuffled (a new order each pass) unless
    ``shuffle=False``. Nothing matching is TensorFlow's InvalidArgumentError (a ValueError)."""
    from ._batch_dataset import TensorSlices

    patterns = _patterns(file_pattern, "Dataset.list_files")
    files = np.asarray(matching_files(patterns))
    if not len(files):
        raise ValueError(f"Dataset.list_files: No files matched pattern: {', '.join(patterns)}")
    dataset = TensorSlices(files)
    dataset._name = "Dataset.list_files"
    return dataset.shuffle(len(files), seed=seed) if shuffle is None or shuffle else dataset


# ---- tf.io.gfile: local files ------------------------------------------------------------------


class GFile:
    """``tf.io.gfile.GFile(name, mode)``: a local file opened in ``mode`` ("r", "rb", "w", "wb",
    "a", "ab", with "+"), text as UTF-8 without newline translation, with TensorFlow's ``size()``;
    a context manager and iterable of lines, as Python's file objects."""

    def __init__(self, name, mode="r"):
        self.name = _path(name, "gfile.GFile")
        if not isinstance(mode, str) or mode.replace("b", "").replace("+", "") not in ("r", "w", "a") or \
                mode.count("b") > 1:
            raise ValueError(f"io.gfile.GFile: mode must be 'r', 'w' or 'a' (with 'b' and '+'). Received: {mode!r}")
        self.mode = mode
        try:
            self._file = open(self.name, mode) if "b" in mode else open(self.name, mode, encoding="utf-8", newline="")
        except OSError as e:
            raise _failed(e, "gfile.GFile", self.name) from None

    def size(self):
        """The file's size in bytes (what was written so far, for a file being written)."""
        if not self._file.closed and self.mode != "r" and self.mode != "rb":
            self._file.flush()
        return os.path.getsize(self.name)

    def __getattr__(self, attribute):  # read, write, readline, readlines, seek, tell, flush, close, closed...
        if "_file" not in self.__dict__:
            raise AttributeError(attribute)
        return getattr(self.__dict__["_file"], attribute)

    def __iter__(self):
        return iter(self._file)

    def __next__(self):
        return next(self._file)

    def __enter__(self):
        return self

    def __del__(self):  # (``GFile(path, "rb").read()`` closes its file, quietly, as TensorFlow's)
        file = self.__dict__.get("_file")
        if file is not None and not file.closed:
            file.close()

    def __exit__(self, *exc):
        self._file.close()
        return False

    def __repr__(self):
        return f"<io.gfile.GFile {self.name!r} mode={self.mode!r}>"


def _exists(path):
    return os.path.exists(_path(path, "gfile.exists"))


def _glob_files(pattern):
    """The paths matching ``pattern`` (or a list of patterns), as a sorted list of str."""
    return sorted(p for one in _patterns(pattern, "gfile.glob") for p in _glob_one(one))


def _isdir(path):
    return os.path.isdir(_path(path, "gfile.isdir"))


def _on_file(fn, action, path):
    """``action(path)``, an OSError reported as `_failed` does it, naming ``fn`` and ``path``."""
    try:
        return action(path)
    except OSError as e:
        raise _failed(e, fn, path) from None


def _listdir(path):
    """The names in the folder ``path`` (sorted; no "." or "..")."""
    return sorted(_on_file("gfile.listdir", os.listdir, _path(path, "gfile.listdir")))


def _makedirs(path):
    """Create ``path`` and its missing parents (nothing if it exists)."""
    _on_file("gfile.makedirs", lambda p: os.makedirs(p, exist_ok=True), _path(path, "gfile.makedirs"))


def _mkdir(path):
    """Create the folder ``path`` (its parent must exist; FileExistsError if it exists)."""
    _on_file("gfile.mkdir", os.mkdir, _path(path, "gfile.mkdir"))


def _remove(path):
    _on_file("gfile.remove", os.remove, _path(path, "gfile.remove"))


def _rmtree(path):
    path = _path(path, "gfile.rmtree")
    if not os.path.exists(path):
        raise FileNotFoundError(f"io.gfile.rmtree: {path}; No such file or directory")
    _on_file("gfile.rmtree", lambda p: shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p)
             else os.remove(p), path)


def _target(src, dst, overwrite, fn):
    src, dst = _path(src, fn), _path(dst, fn)
    if not os.path.exists(src):
        raise FileNotFoundError(f"io.{fn}: {src}; No such file or directory")
    if os.path.exists(dst) and not overwrite:
        raise FileExistsError(f"io.{fn}: {dst}; File already exists (pass overwrite=True to replace it)")
    return src, dst


def _copy(src, dst, overwrite=False):
    src, dst = _target(src, dst, overwrite, "gfile.copy")
    _on_file("gfile.copy", lambda d: shutil.copyfile(src, d), dst)


def _rename(src, dst, overwrite=False):
    src, dst = _target(src, dst, overwrite, "gfile.rename")
    _on_file("gfile.rename", lambda d: os.replace(src, d), dst)


def _walk(top, topdown=True, onerror=None):
    """(folder, subfolder names, file names) for ``top`` and each folder under it, as os.walk."""
    return os.walk(_path(top, "gfile.walk"), topdown=topdown, onerror=onerror)


def _stat(path):
    """``length``, ``mtime_nsec`` and ``is_directory`` of ``path``, as TensorFlow's FileStatistics."""
    path = _path(path, "gfile.stat")
    info = _on_file("gfile.stat", os.stat, path)
    return types.SimpleNamespace(length=info.st_size, mtime_nsec=info.st_mtime_ns,
                                 is_directory=os.path.isdir(path))


def _join(path, *paths):
    return os.path.join(_path(path, "gfile.join"), *(_path(p, "gfile.join") for p in paths))


gfile = types.ModuleType("fastnn.io.gfile", "TensorFlow's tf.io.gfile on local files: GFile, exists, glob, isdir, "
                                            "listdir, makedirs, mkdir, remove, rmtree, copy, rename, walk, stat, join.")
gfile.__dict__.update(GFile=GFile, exists=_exists, glob=_glob_files, isdir=_isdir, listdir=_listdir,
                      makedirs=_makedirs, mkdir=_mkdir, remove=_remove, rmtree=_rmtree, copy=_copy, rename=_rename,
                      walk=_walk, stat=_stat, join=_join)
for _name, _fn in list(gfile.__dict__.items()):
    if callable(_fn) and _name != "GFile":
        _fn.__name__ = _fn.__qualname__ = _name
gfile.Open = GFile  # (TensorFlow 1's spelling)

_TFRECORD = ("TFRecordWriter", "TFRecordOptions", "tf_record_iterator", "FixedLenFeature", "VarLenFeature",
             "FixedLenSequenceFeature", "SparseFeature", "RaggedFeature", "parse_example", "parse_single_example",
             "parse_sequence_example", "parse_single_sequence_example")


def _missing(attribute):
    if attribute in _TFRECORD:
        raise NotImplementedError(f"tf.io.{attribute}: TFRecord files and tf.train.Example protos are not supported "
                                  "by fastnn; keep the data as image files (tf.io.read_file, Dataset.list_files) or "
                                  "NumPy arrays (Dataset.from_tensor_slices)")
    raise AttributeError(f"module 'fastnn.io' has no attribute {attribute!r}")


from ._csv import decode_csv  # noqa: E402

_NAMES = ["read_file", "write_file", "decode_csv", "decode_image", "decode_jpeg", "decode_png", "decode_bmp", "decode_gif",
          "encode_png", "encode_jpeg", "is_jpeg", "extract_jpeg_shape", "decode_raw", "serialize_tensor",
          "parse_tensor", "matching_files", "gfile"]
io = types.ModuleType("fastnn.io", "TensorFlow's tf.io: " + ", ".join(_NAMES) + ".")
io.__dict__.update({n: globals()[n] for n in _NAMES})
io.__getattr__ = _missing
