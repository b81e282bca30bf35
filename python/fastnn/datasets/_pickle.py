"""Reading Keras's dataset files without running code: a restricted unpickler and an .npz reader.

CIFAR's Python batches are pickles, and IMDB's and Reuters's ``.npz`` archives hold object arrays
(ragged lists of word indices) that NumPy can only store as pickles. ``pickle.load`` and
``np.load(allow_pickle=True)`` would run whatever a tampered file asks for (``os.system``...), so
fastnn never calls them: ``RestrictedUnpickler.find_class`` lets a pickle name only the NumPy
functions that rebuild arrays, dtypes and scalars (``numpy.ndarray``, ``numpy.dtype``,
``numpy[._]core.multiarray._reconstruct`` and ``scalar``, ``numpy[._]core.numeric._frombuffer``,
under NumPy 1's and NumPy 2's module names, and ``_codecs.encode`` limited to latin1, which
Python 3 uses to pickle bytes with protocols 0 to 2) and refuses any other global with
``UnsafePickleError``. Lists, dicts, tuples, strings, bytes and numbers need no global and load
as usual; nothing else can be built.

``read_npz`` reads the ``.npy`` members of the zip archive itself: numeric arrays straight from
their bytes, object arrays through the restricted unpickler. Every problem (not a zip, a missing
or truncated member, a bad ``.npy`` header, a pickle that fails or names a refused global, extra
bytes) is a ValueError that names the file, the member and what is wrong.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
import zlib

import numpy as np

# The objects a pickle of NumPy arrays needs, found without importing numpy.core (deprecated in
# NumPy 2): what NumPy itself reduces an array, an array under protocol 5 and a scalar to.
_RECONSTRUCT = np.array(0).__reduce__()[0]
_FROMBUFFER = np.array([0]).__reduce_ex__(5)[0]
_SCALAR = np.int64(0).__reduce__()[0]


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle named a global outside ALLOWED_GLOBALS: it was refused, not run."""


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` as Python 3 uses it to pickle bytes with protocols 0 to 2
    (``encode(str, "latin1")``); any other use is refused."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise UnsafePickleError(
            f"refusing _codecs.encode({type(text).__name__}, {encoding!r}) in a pickle: only the "
            f"latin1 encoding of bytes is allowed"
        )
    return text.encode("latin1")


ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # NumPy 1 (and Python 2) pickles
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # NumPy 2
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,  # arrays pickled with protocol 5
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("_codecs", "encode"): _latin1_encode,  # bytes pickled by Python 3 with protocol <= 2
}

_MAX_NPY_HEADER = 10000  # bytes; NumPy's own default limit


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that builds NumPy arrays, dtypes, scalars and plain Python data, and nothing else.

    ``where`` names the file in the error message.
    """

    def __init__(self, file, where="<pickle>", **kwargs):
        super().__init__(file, **kwargs)
        self.where = where

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            allowed = ", ".join(sorted({f"{m}.{n}" for m, n in ALLOWED_GLOBALS}))
            raise UnsafePickleError(
                f"{self.where}: refusing to load {module}.{name} from a pickle: a dataset file may only "
                f"rebuild NumPy arrays ({allowed}); the file is corrupt or malicious"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.where}: refusing a persistent id in a pickle; the file is corrupt or malicious")


def load(f, where, encoding="ASCII"):
    """Unpickle one object from the binary file ``f`` with RestrictedUnpickler; the whole rest of
    ``f`` must be that pickle. ValueError naming ``where`` on any failure (UnsafePickleError, a
    ValueError, for a refused global)."""
    try:
        obj = RestrictedUnpickler(f, where=where, encoding=encoding).load()
    except UnsafePickleError as e:
        if str(e).startswith(f"{where}: "):
            raise
        raise UnsafePickleError(f"{where}: {e}") from None
    except Exception as e:  # truncated or garbled streams fail in many ways; all mean "corrupt"
        raise ValueError(f"{where}: corrupt or truncated pickle ({type(e).__name__}: {e})") from None
    if f.read(1):
        raise ValueError(f"{where}: extra bytes after the end of the pickle")
    return obj


def loads(data: bytes, where, encoding="ASCII"):
    """``load`` from a bytes object."""
    return load(io.BytesIO(data), where, encoding)


# ---- .npy and .npz ----------------------------------------------------------------------------


def read_npy(f, where, allow_object=True) -> np.ndarray:
    """Read one ``.npy`` stream (versions 1.0 to 3.0) from the binary file ``f``.

    A numeric array is read from its bytes (no pickle involved); an object array, when
    ``allow_object``, through RestrictedUnpickler. ValueError naming ``where`` when the header is
    bad, the data is truncated or followed by extra bytes, or the unpickled object is not the
    array the header announces.
    """
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=_MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):
            # 3.0 differs from 2.0 only in the header's text encoding (UTF-8, not latin-1): the
            # same reader parses the ASCII headers NumPy writes.
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=_MAX_NPY_HEADER)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, OSError, SyntaxError, UnicodeDecodeError) as e:
        raise ValueError(f"{where}: not a valid .npy array ({type(e).__name__}: {e})") from None
    if dtype.hasobject:
        if not allow_object:
            raise ValueError(f"{where}: holds an object array (dtype={dtype}); expected a numeric array")
        a = load(f, where, encoding="latin1")  # latin1: also reads arrays pickled by Python 2
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != tuple(shape):
            got = f"array of shape {a.shape}, dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(
                f"{where}: the pickle holds {got}, but the .npy header announces shape {shape}, dtype {dtype}"
            )
        return a
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(
            f"{where}: truncated .npy data: shape {shape} of {dtype} needs {nbytes} bytes, found {len(data)}"
        )
    if f.read(1):
        raise ValueError(f"{where}: extra bytes after the .npy data of shape {shape}, dtype {dtype}")
    a = np.frombuffer(data, dtype=dtype, count=count)
    return a.reshape(shape, order="F" if fortran else "C").copy(order="K")  # writable, owns its memory


def read_npz(path, keys, allow_object=True) -> dict:
    """The arrays ``keys`` (member names without ``.npy``) of the ``.npz`` archive ``path``.

    Only the members asked for are read. ValueError naming the file and member when the archive
    is not a zip, is corrupt or truncated, or lacks one of ``keys``; see read_npy for the members.
    """
    path = os.fspath(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            present = sorted(n[: -len(".npy")] for n in names if n.endswith(".npy"))
            for key in keys:
                if key + ".npy" not in names:
                    raise ValueError(
                        f"{path}: missing array {key!r}; expected {', '.join(keys)}. Received: {present}"
                    )
            for key in keys:
                where = f"{path}[{key}]"
                try:
                    with archive.open(key + ".npy") as member:
                        raw = io.BytesIO(member.read())  # read whole: checks the member's CRC
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
                    raise ValueError(f"{where}: corrupt or truncated member ({type(e).__name__}: {e})") from None
                arrays[key] = read_npy(raw, where, allow_object=allow_object)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ValueError(
            f"{path}: not a valid .npz archive (corrupt or truncated zip: {type(e).__name__}: {e})"
        ) from None
    return arrays
