"""A strict reader and writer of IDX files (the MNIST format), plain or gzipped.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the payload in C order. fastnn reads only type code 0x08
(unsigned byte), which MNIST and Fashion-MNIST use: images 0x00000803 (N, rows, cols), labels
0x00000801 (N,). Whether a file is gzipped is read from its first two bytes, not its name.

Every inconsistency is a ValueError that names the file and what is wrong: a magic number that is
not IDX, another type code or number of dimensions, a payload shorter or longer than the dimensions
say, a gzip stream that is truncated or corrupt. The payload is read straight into the array that
is returned (no intermediate bytes object of the file's size), so the array is writable and owns
its memory. Not handled: the other IDX types (int8, int16, int32, float32, float64).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from .._files import atomic_write

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
UBYTE = 0x08

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# deflate expands at most ~1032:1, so a gzip file of C bytes cannot hold more than this many.
_MAX_DEFLATE_RATIO = 1032


def is_gzip(path) -> bool:
    """True when the file at ``path`` starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_idx(path, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file with ``ndim`` dimensions (gzipped or not) into a uint8 array.

    Raises ValueError naming ``path`` when the file is not exactly such a file: wrong magic number,
    type code or number of dimensions, payload truncated or followed by extra bytes, gzip stream
    corrupt. Raises OSError (FileNotFoundError...) when the file cannot be opened.
    """
    path = os.fspath(path)
    size = os.stat(path).st_size
    gz = is_gzip(path)
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as f:
            return _read_stream(f, path, ndim, size, gz)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        # EOFError: the gzip stream ends early; BadGzipFile: bad header, CRC or length trailer.
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({type(e).__name__}: {e})") from None


def _read_stream(f, path, ndim, size, gz):
    magic_bytes = f.read(4)
    if len(magic_bytes) < 4:
        raise ValueError(f"{path}: too short for an IDX file: {len(magic_bytes)} bytes, the magic number alone is 4")
    magic = int.from_bytes(magic_bytes, "big")
    expected_magic = (UBYTE << 8) | ndim
    if magic_bytes[0] != 0 or magic_bytes[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: bad magic number 0x{magic:08X} "
            f"(expected 0x{expected_magic:08X}: unsigned bytes, {ndim} dimension(s))"
        )
    if magic_bytes[2] != UBYTE:
        raise ValueError(
            f"{path}: unsupported IDX type code 0x{magic_bytes[2]:02X} in magic number 0x{magic:08X}; "
            f"only 0x08 (unsigned byte) is supported"
        )
    if magic_bytes[3] != ndim:
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}: the file has {magic_bytes[3]} dimension(s), expected {ndim} "
            f"(magic 0x{expected_magic:08X})"
        )
    dims_bytes = f.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimension(s) need {4 * ndim} bytes after the magic number, found {len(dims_bytes)}"
        )
    dims = struct.unpack(f">{ndim}I", dims_bytes)
    expected = 1
    for d in dims:
        expected *= d
    header = 4 + 4 * ndim
    shape_text = " x ".join(str(d) for d in dims)

    # Rule out an impossible payload before allocating it (a corrupt header can claim terabytes).
    if not gz and size - header != expected:
        have = size - header
        if have < expected:
            raise ValueError(
                f"{path}: truncated payload: the header says {shape_text} = {expected} bytes, the file holds {have}"
            )
        raise ValueError(f"{path}: {have - expected} extra bytes after the payload of {shape_text} = {expected} bytes")
    if gz and expected > size * _MAX_DEFLATE_RATIO:
        raise ValueError(
            f"{path}: truncated payload: the header says {shape_text} = {expected} bytes, "
            f"more than a {size}-byte gzip file can hold"
        )

    out = np.empty(dims, dtype=np.uint8)
    view = memoryview(out).cast("B") if expected else memoryview(bytearray(0))
    got = 0
    while got < expected:
        # Chunked readinto: GzipFile.readinto reads into a temporary of the requested size.
        n = f.readinto(view[got : got + _CHUNK])
        if not n:
            break
        got += n
    if got < expected:
        raise ValueError(
            f"{path}: truncated payload: the header says {shape_text} = {expected} bytes, the file holds {got}"
        )
    extra = 0
    while True:
        chunk = f.read(_CHUNK)  # also makes gzip check its CRC and length trailer
        if not chunk:
            break
        extra += len(chunk)
    if extra:
        raise ValueError(f"{path}: {extra} extra bytes after the payload of {shape_text} = {expected} bytes")
    return out


def read_images(path) -> np.ndarray:
    """Read an IDX image file (magic 0x00000803) into a uint8 array (N, rows, cols)."""
    return read_idx(path, 3)


def read_labels(path) -> np.ndarray:
    """Read an IDX label file (magic 0x00000801) into a uint8 array (N,)."""
    return read_idx(path, 1)


def write_idx(path, array) -> None:
    """Write a uint8 array (1 to 255 dimensions) as an IDX file, gzipped when ``path`` ends in ``.gz``.

    The gzip header carries no name or time, so equal arrays give byte-identical files. The file
    is written beside its destination and renamed into place.
    """
    a = np.ascontiguousarray(array)
    if a.dtype != np.uint8:
        raise TypeError(f"write_idx: array must be uint8. Received: array.dtype={a.dtype}")
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions. Received: array.ndim={a.ndim}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"write_idx: each dimension must be < 2**32. Received: array.shape={a.shape}")
    path = os.fspath(path)
    header = bytes([0, 0, UBYTE, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    with atomic_write(path, "wb") as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
                f.write(header)
                f.write(memoryview(a).cast("B") if a.size else b"")
        else:
            raw.write(header)
            raw.write(memoryview(a).cast("B") if a.size else b"")
