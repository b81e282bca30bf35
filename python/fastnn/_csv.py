"""TensorFlow's CSV readers, as the "Load CSV data" and "Overfit and underfit" tutorials call them:
``tf.io.decode_csv`` (lines to columns), ``tf.data.experimental.CsvDataset`` (a file's rows as tuples
of scalars) and ``tf.data.experimental.make_csv_dataset`` (batches of a dict of columns, with the
label apart, types inferred from the data).

A column's type and default come from its ``record_defaults`` entry as TensorFlow reads it: a
value (``0.0``: float32, ``0``: int32, ``""``: string; an array of one value keeps its dtype), or
an empty tensor or a dtype (``tf.constant([], tf.float32)``, ``tf.float32``): that type, with no
default, so an empty field is an error. The files are read whole (fastnn's datasets hold their
elements), which suits the tutorials' CSV files, not multi-gigabyte ones.
"""

from __future__ import annotations

import collections
import csv
import gzip
import zlib

import numpy as np

from ._batch_dataset import EagerArray, TensorSlices
from .autodiff import _value

_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64", np.dtype(np.int32): "int32",
          np.dtype(np.int64): "int64", np.dtype(np.str_): "string"}


def _column_types(record_defaults, fn):
    """[(dtype, default or None)] for each column (see the module docstring)."""
    types = []
    for i, entry in enumerate(record_defaults):
        if isinstance(entry, (type, np.dtype)):  # (tf.float32 is NumPy's float32 here: a required column)
            dtype, default = np.dtype(str if entry in (str, bytes, np.str_, np.bytes_) else entry), None
        else:
            value = np.asarray(_value(entry))
            if value.size > 1:
                raise ValueError(f"{fn}: record_defaults[{i}] must hold one default value (or none). Received "
                                 f"{value.size} values")
            dtype = value.dtype
            if isinstance(entry, (float, list)) or (dtype == np.float64 and not isinstance(entry, np.ndarray)):
                dtype = np.dtype(np.float32) if dtype.kind == "f" else dtype  # (a Python float: float32)
            if dtype.kind == "i" and not isinstance(entry, np.ndarray):
                dtype = np.dtype(np.int32)  # (a Python int: int32)
            if dtype.kind in "SUO":
                dtype = np.dtype(str)
            default = value.reshape(-1)[0] if value.size else None
        if dtype.kind not in "fiU":
            raise TypeError(f"{fn}: record_defaults[{i}] must give a float, int or string column. Received: {entry!r}")
        types.append((dtype, default))
    return types


def _parse_rows(lines, types, fn, field_delim=",", use_quote_delim=True, na_value="", select_cols=None):
    """The columns (arrays) of ``lines`` (strings), parsed with ``types``."""
    reader = csv.reader(lines, delimiter=field_delim, quotechar='"' if use_quote_delim else None,
                        quoting=csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE)
    rows = []
    for number, fields in enumerate(reader):
        if select_cols is not None:
            try:
                fields = [fields[c] for c in select_cols]
            except IndexError:
                raise ValueError(f"{fn}: line {number} has {len(fields)} fields; select_cols asks for column "
                                 f"{max(select_cols)}") from None
        if len(fields) != len(types):
            raise ValueError(f"{fn}: expect {len(types)} fields but have {len(fields)} in record {number}: "
                             f"{field_delim.join(fields)!r}"[:300])
        rows.append(fields)
    columns = []
    for c, (dtype, default) in enumerate(types):
        texts = [row[c] for row in rows]
        missing = [k for k, t in enumerate(texts) if t == "" or t == na_value]
        if missing and default is None:
            raise ValueError(f"{fn}: field {c} is required but missing in record {missing[0]}")
        filled = [str(default) if (t == "" or t == na_value) else t for t in texts]
        try:
            column = np.array(filled, dtype=str)
            column = column if dtype.kind == "U" else column.astype(dtype)  # (NumPy parses the numbers)
        except ValueError as e:
            raise ValueError(f"{fn}: field {c} of type {_NAMES.get(dtype, dtype)} cannot be parsed: {e}") from None
        columns.append(column)
    return columns


def decode_csv(records, record_defaults, field_delim=",", use_quote_delim=True, name=None, na_value="",
               select_cols=None):
    """Each string of ``records`` (any shape) split into fields and parsed: a list of tensors, one
    per column, each of ``records``' shape (``tf.io.decode_csv``)."""
    fn = "io.decode_csv"
    texts = np.asarray(_value(records))
    if texts.dtype.kind == "S":
        texts = np.char.decode(texts, "utf-8")
    if texts.dtype.kind not in "UO":
        raise TypeError(f"{fn}: records must be strings. Received dtype {texts.dtype}")
    types = _column_types(record_defaults, fn)
    columns = _parse_rows([str(t) for t in texts.reshape(-1).tolist()], types, fn, field_delim, use_quote_delim,
                          na_value, select_cols)
    return [c.reshape(texts.shape).view(EagerArray) for c in columns]


def file_lines(filenames, compression_type, fn):
    """The lines of each text file of ``filenames`` (one or a list), as TensorFlow's text readers
    split them: on "\\n", a "\\r" before it dropped, no empty line after a final newline
    (``compression_type`` "", "GZIP" or "ZLIB")."""
    paths = [filenames] if isinstance(filenames, (str, bytes)) or hasattr(filenames, "__fspath__") else \
        list(np.asarray(_value(filenames)).reshape(-1).tolist())
    kind = (compression_type or "").upper()
    if kind not in ("", "GZIP", "ZLIB"):
        raise ValueError(f"{fn}: compression_type must be '', 'GZIP' or 'ZLIB'. Received: {compression_type!r}")
    per_file = []
    for path in paths:
        path = path.decode() if isinstance(path, bytes) else str(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise FileNotFoundError(f"{fn}: cannot read {path!r}: {e.strerror}") from None
        data = gzip.decompress(data) if kind == "GZIP" else zlib.decompress(data) if kind == "ZLIB" else data
        lines = data.decode("utf-8", errors="replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # (a final newline ends the last line; it does not start an empty one)
        per_file.append([line[:-1] if line.endswith("\r") else line for line in lines])
    return per_file


def CsvDataset(filenames, record_defaults, compression_type=None, buffer_size=None, header=False, field_delim=",",
               use_quote_delim=True, na_value="", select_cols=None, exclude_cols=None, name=None):
    """The rows of the CSV files, each a tuple of scalars, one per column of ``record_defaults``
    (``tf.data.experimental.CsvDataset``; ``header``: skip each file's first line)."""
    fn = "data.experimental.CsvDataset"
    if exclude_cols is not None:
        raise ValueError(f"{fn}: exclude_cols is not supported; pass select_cols")
    types = _column_types(record_defaults, fn)
    lines = [line for file in file_lines(filenames, compression_type, fn) for line in file[1 if header else 0:]]
    columns = _parse_rows(lines, types, fn, field_delim, use_quote_delim, na_value,
                          sorted(select_cols) if select_cols is not None else None)
    ds = TensorSlices(tuple(columns))
    ds._name = "CsvDataset"
    return ds


def _infer(texts, na_value):
    """A column's type as make_csv_dataset infers it: int32, then float32, then string."""
    present = [t for t in texts if t not in ("", na_value)]
    for dtype, parse in ((np.int32, int), (np.float32, float)):
        try:
            for t in present:
                parse(t)
            return dtype
        except ValueError:
            continue
    return str


def make_csv_dataset(file_pattern, batch_size, column_names=None, column_defaults=None, label_name=None,
                     select_columns=None, field_delim=",", use_quote_delim=True, na_value="", header=True,
                     num_epochs=None, shuffle=True, shuffle_buffer_size=10000, shuffle_seed=None,
                     prefetch_buffer_size=None, num_parallel_reads=None, sloppy=False, num_rows_for_inference=100,
                     compression_type=None, ignore_errors=False, encoding="utf-8"):
    """Batches of ``(features, label)``: an ordered dict of each column's ``batch_size`` values, and
    the ``label_name`` column's (no label: the dict alone), from the CSV files matching
    ``file_pattern``; column names from the header, types from ``column_defaults`` or inferred
    (int32, float32, string); ``num_epochs`` passes (None: for ever), shuffled by default."""
    fn = "data.experimental.make_csv_dataset"
    from ._tf_io import matching_files

    paths = [p.decode() if isinstance(p, bytes) else str(p)
             for p in np.asarray(matching_files(file_pattern)).reshape(-1).tolist()]
    if not paths:
        raise ValueError(f"{fn}: no files matched pattern: {file_pattern!r}")
    files = file_lines(paths, compression_type, fn)
    rows = []
    names = list(column_names) if column_names is not None else None
    for lines in files:
        if header:
            first = next(csv.reader(lines[:1], delimiter=field_delim))
            names = names or first
            lines = lines[1:]
        rows += lines
    if names is None:
        raise ValueError(f"{fn}: the files have no header; give column_names")
    reader = list(csv.reader(rows, delimiter=field_delim, quotechar='"' if use_quote_delim else None,
                             quoting=csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE))
    if column_defaults is None:
        sample = reader[:num_rows_for_inference] if num_rows_for_inference else reader
        column_defaults = [{np.int32: 0, np.float32: 0.0, str: ""}[_infer([r[c] for r in sample if c < len(r)], na_value)]
                           for c in range(len(names))]
    if len(column_defaults) != len(names):
        raise ValueError(f"{fn}: {len(names)} column names but {len(column_defaults)} column_defaults")
    types = _column_types(column_defaults, fn)
    keep = list(range(len(names))) if select_columns is None else \
        [c if isinstance(c, int) else names.index(c) for c in select_columns]
    if label_name is not None and label_name not in names:
        raise ValueError(f"{fn}: label_name {label_name!r} is not a column: {names}")
    columns = _parse_rows(rows, types, fn, field_delim, use_quote_delim, na_value)
    features = collections.OrderedDict((names[c], columns[c]) for c in keep if names[c] != label_name)
    parts = (features, columns[names.index(label_name)]) if label_name is not None else features
    ds = TensorSlices(parts)
    if shuffle:
        ds = ds.shuffle(min(shuffle_buffer_size, max(1, len(ds))), seed=shuffle_seed)
    ds = ds.repeat(num_epochs)
    return ds.batch(int(batch_size))
