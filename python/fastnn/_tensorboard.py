"""TensorBoard's event files, written without TensorFlow: what the `TensorBoard` callback needs.

An event file is a sequence of records (TFRecord framing: the length as a little-endian uint64,
its masked CRC-32C, the payload, the payload's masked CRC-32C), each payload an ``Event``
protocol buffer. The few messages used are encoded here by hand:

    Event          1: wall_time (double)  2: step (int64)  3: file_version (string)  5: summary
    Summary        1: value (repeated Summary.Value)
    Summary.Value  1: tag (string)  2: simple_value (float)  5: histo (HistogramProto)
    HistogramProto 1: min  2: max  3: num  4: sum  5: sum_squares (doubles)
                   6: bucket_limit  7: bucket (packed repeated doubles)

Scalars are TF1's ``simple_value`` and histograms TF1's ``HistogramProto``, which TensorBoard's
scalar and histogram dashboards read (as they read tensorboardX's files).
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time

import numpy as np


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of ``data``, as TFRecord frames use."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(payload):
    """One TFRecord frame around ``payload``."""
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc32c(length)) + payload + struct.pack("<I", masked_crc32c(payload))


# ---- protocol buffer encoding -------------------------------------------------------------------


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_bytes(number, data):  # wire type 2: length-delimited
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _field_double(number, value):  # wire type 1: 64-bit
    return _varint(number << 3 | 1) + struct.pack("<d", value)


def _field_float(number, value):  # wire type 5: 32-bit
    return _varint(number << 3 | 5) + struct.pack("<f", value)


def _field_int(number, value):  # wire type 0: varint (non-negative here)
    return _varint(number << 3) + _varint(value)


def _packed_doubles(number, values):
    return _field_bytes(number, np.asarray(values, dtype="<f8").tobytes())


def event(wall_time, step=0, file_version=None, values=()):
    """An ``Event`` payload; ``values`` are encoded ``Summary.Value``s."""
    out = _field_double(1, wall_time)
    if step:
        out += _field_int(2, step)
    if file_version is not None:
        out += _field_bytes(3, file_version.encode())
    if values:
        out += _field_bytes(5, b"".join(_field_bytes(1, v) for v in values))
    return out


def scalar_value(tag, value):
    return _field_bytes(1, tag.encode()) + _field_float(2, float(value))


def histogram_value(tag, values, bins=30):
    """A ``Summary.Value`` holding the histogram of ``values`` in ``bins`` equal buckets (each
    bucket's right edge is its limit, as TensorFlow's summaries give them)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        lo = hi = 0.0
        limits, counts = np.array([0.0]), np.array([0.0])
    else:
        lo, hi = float(v.min()), float(v.max())
        counts, edges = np.histogram(v, bins=bins if hi > lo else 1, range=(lo, hi) if hi > lo else (lo - 0.5, lo + 0.5))
        limits, counts = edges[1:], counts.astype(np.float64)
    return histogram_proto_value(tag, lo, hi, v.size, v.sum(), np.dot(v, v), limits, counts)


def histogram_proto_value(tag, lo, hi, count, total, squares, limits, counts):
    """A ``Summary.Value`` holding a ``HistogramProto`` with these fields."""
    histo = (_field_double(1, lo) + _field_double(2, hi) + _field_double(3, float(count)) +
             _field_double(4, float(total)) + _field_double(5, float(squares)) +
             _packed_doubles(6, limits) + _packed_doubles(7, counts))
    return _field_bytes(1, tag.encode()) + _field_bytes(5, histo)


# ---- the file ------------------------------------------------------------------------------------

_file_counter = itertools.count(1)


class EventFileWriter:
    """An event file in ``logdir`` (created), named as TensorFlow 2 names them
    (``events.out.tfevents.<time>.<host>.<pid>.<n>.v2``), its first record the file version.
    Each write is flushed, so TensorBoard sees the run as it trains."""

    def __init__(self, logdir):
        os.makedirs(logdir, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.{next(_file_counter)}.v2"
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "wb")
        self._write(event(now, file_version="brain.Event:2"))

    def _write(self, payload):
        self._file.write(record(payload))
        self._file.flush()

    def scalars(self, step, scalars):
        """Write ``{tag: value}`` at ``step``, one event."""
        if scalars:
            self._write(event(time.time(), step, values=[scalar_value(t, v) for t, v in scalars.items()]))

    def histograms(self, step, histograms):
        """Write ``{tag: array}`` as histograms at ``step``, one event."""
        if histograms:
            self._write(event(time.time(), step, values=[histogram_value(t, v) for t, v in histograms.items()]))

    def close(self):
        if not self._file.closed:
            self._file.close()
