"""Finding, downloading and loading the IDX datasets (MNIST, Fashion-MNIST).

A dataset called ``<name>`` ("mnist", "fashion-mnist": the directory names Keras, the LeCun and
Zalando pages and Debian use) is searched, in order, in

    path                           (when given to load_data: the only place looked at)
    $FASTNN_DATA/<name>
    ~/.fastnn/datasets/<name>
    ~/.keras/datasets/<name>
    /usr/share/datasets/<name>     (Debian's dataset-fashion-mnist installs there)

as the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte, each plain or gzipped (``.gz``). MNIST is also found as Keras's single
``mnist.npz`` in ``<root>/mnist/`` or ``<root>/`` (Keras keeps it in ``~/.keras/datasets/``).
When none holds the dataset, the four ``.gz`` files are downloaded into
``~/.fastnn/datasets/<name>``: each is streamed to a temporary file, the SHA-256 of its
decompressed content is checked against the dataset's constant, and only then is it renamed into
place. Without a network every place looked at and every download error is listed in one
DatasetNotFoundError (a FileNotFoundError) that says how to provide the files.

Found files are not checksummed (they may be a user's own IDX files); they are parsed strictly
(see _idx.py) and checked for 28x28 images, equal image and label counts, and labels in range.

The datasets Keras keeps as one file, one archive or one directory (CIFAR, IMDB, Reuters, the
housing sets) use the second half of this module: a FileSpec lists the Forms the dataset takes
under a search root (``imdb.npz``; ``cifar-10-batches-py/``, ``cifar-10-python.tar.gz``...), and
``locate_file`` looks for each Form directly in each root (``path``, else ``$FASTNN_DATA/``,
``~/.fastnn/datasets/``, ``~/.keras/datasets/``, ``/usr/share/datasets/``: Keras's own cache
layout), else downloads ``FileSpec.url`` into ``~/.fastnn/datasets/<download_name>`` through
``fetch_url``, checking the SHA-256 (or, where Keras pins only that, the MD5) of the file as
downloaded before renaming it into place.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_write
from . import _idx

ENV_VAR = "FASTNN_DATA"
SYSTEM_ROOT = Path("/usr/share/datasets")  # Debian's dataset-* packages
DOWNLOAD_TIMEOUT = 10.0  # seconds per connection attempt: an offline machine fails fast
MAX_DOWNLOAD_BYTES = 64 << 20  # the largest file (train images, gzipped) is ~26 MB

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is in none of the places searched and could not be downloaded."""


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is called, where it comes from and how to recognise it."""

    name: str  # directory name in every search root: "mnist", "fashion-mnist"
    title: str  # for messages: "MNIST"
    caller: str  # for messages: "mnist.load_data"
    sha256: dict  # IDX base name -> SHA-256 of the decompressed file
    urls: tuple  # base URLs of the four .gz files, tried in order
    npz: str | None = None  # Keras's single-file form ("mnist.npz"), if any
    num_classes: int = 10
    image_shape: tuple = (28, 28)
    hints: tuple = ()  # extra "how to provide the files" lines


@dataclass(frozen=True)
class Location:
    """Where a dataset was found: ``kind`` "idx" (``files``: base name -> path) or "npz" (``npz``)."""

    kind: str
    where: Path  # the directory of the IDX files, or the .npz file
    files: dict | None = None
    npz: Path | None = None


# ---- Searching --------------------------------------------------------------------------------


def search_roots() -> list:
    """``(label, directory or None)`` of each search root, in order (None: $FASTNN_DATA unset)."""
    env = os.environ.get(ENV_VAR)
    home = Path.home()
    return [
        (f"${ENV_VAR}", Path(env).expanduser() if env else None),
        ("~/.fastnn/datasets", home / ".fastnn" / "datasets"),
        ("~/.keras/datasets", home / ".keras" / "datasets"),
        (str(SYSTEM_ROOT), SYSTEM_ROOT),
    ]


def download_dir(spec: DatasetSpec) -> Path:
    """``~/.fastnn/datasets/<name>``, where a download goes."""
    return Path.home() / ".fastnn" / "datasets" / spec.name


def find_idx_files(directory: Path):
    """``(files, missing)``: base name -> path of each IDX file in ``directory`` (plain preferred)."""
    files = {}
    for base in IDX_FILES:
        for candidate in (directory / base, directory / (base + ".gz")):
            if candidate.is_file():
                files[base] = candidate
                break
    return files, [b for b in IDX_FILES if b not in files]


def _look_in(spec: DatasetSpec, directory: Path, npz_dirs=()):
    """``(Location or None, status)`` for one directory (and ``spec.npz`` in ``npz_dirs``)."""
    files, missing = find_idx_files(directory)
    if not missing:
        return Location("idx", directory, files=files), "found"
    if spec.npz:
        for d in npz_dirs:
            if (d / spec.npz).is_file():
                return Location("npz", d / spec.npz, npz=d / spec.npz), "found"
    if not directory.is_dir():
        status = "not a directory" if directory.exists() else "no such directory"
    elif not files:
        status = "no dataset files in it"
    else:
        status = f"only {len(files)} of the 4 files; missing {', '.join(m + '(.gz)' for m in missing)}"
    return None, status


def find(spec: DatasetSpec, path=None):
    """``(Location or None, places)``: the first place holding the dataset, and each place looked
    at with what was there (for messages). ``path``, when given, is the only place looked at."""
    places = []
    if path is not None:
        p = Path(os.fspath(path)).expanduser()
        if spec.npz and p.is_file():
            return Location("npz", p, npz=p), places
        loc, status = _look_in(spec, p, npz_dirs=(p,))
        places.append((f"{p}", status))
        return loc, places
    for label, root in search_roots():
        if root is None:
            places.append((f"{label}/{spec.name}", f"{ENV_VAR} is not set"))
            continue
        directory = root / spec.name
        loc, status = _look_in(spec, directory, npz_dirs=(directory, root))
        shown = f"{directory}" + (f" (or {spec.npz} in it or in {root})" if spec.npz else "")
        places.append((shown, status))
        if loc is not None:
            return loc, places
    return None, places


# ---- Downloading ------------------------------------------------------------------------------


def fetch_url(url: str, out, timeout: float = DOWNLOAD_TIMEOUT, max_bytes: int | None = None) -> None:
    """Stream ``url`` into the binary file ``out`` (at most ``max_bytes``, by default
    MAX_DOWNLOAD_BYTES). Every download of fastnn.datasets goes through here; tests replace it."""
    limit = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = 0
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                what = "an IDX file of this dataset" if max_bytes is None else "the file expected"
                raise ValueError(f"more than {limit} bytes; not {what}")
            out.write(chunk)


def sha256_decompressed(path) -> str:
    """SHA-256 of the file's content after gunzip (of the file itself when it is not gzipped)."""
    with open(path, "rb") as f:
        return _sha256_decompressed_stream(f)


def _sha256_decompressed_stream(raw) -> str:
    """sha256_decompressed of a binary file object, read from its start."""
    raw.seek(0)
    gz = raw.read(2) == _idx.GZIP_MAGIC
    raw.seek(0)
    digest = hashlib.sha256()
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") if gz else contextlib.nullcontext(raw) as f:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"corrupt or truncated gzip stream ({type(e).__name__}: {e})") from None
    return digest.hexdigest()


def _download_one(url: str, dest: Path, sha256: str) -> None:
    """Download ``url`` to ``dest`` if the SHA-256 of its decompressed content is ``sha256``."""
    with atomic_write(dest, "w+b", durable=True) as out:
        fetch_url(url, out)
        got = _sha256_decompressed_stream(out)
        if got != sha256:
            raise ValueError(f"checksum mismatch: SHA-256 of the decompressed content is {got}, expected {sha256}")


def download(spec: DatasetSpec) -> Location:
    """Download the dataset's missing files into ``download_dir(spec)``; return its Location.

    Each file is tried at each of ``spec.urls`` in turn. Raises ``_DownloadError`` listing every
    URL tried and why it failed.
    """
    directory = download_dir(spec)
    errors = []
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _DownloadError([f"cannot create {directory}: {e}"]) from None
    _, missing = find_idx_files(directory)
    for base in missing:
        for url_base in spec.urls:
            url = url_base + base + ".gz"
            try:
                _download_one(url, directory / (base + ".gz"), spec.sha256[base])
                break
            except (OSError, ValueError) as e:  # URLError and timeouts are OSErrors
                errors.append(f"{url}: {type(e).__name__}: {e}")
        else:
            # This file is unavailable from every mirror: the others would fail the same way.
            if created and not any(directory.iterdir()):
                directory.rmdir()  # leave no empty directory behind
            raise _DownloadError(errors)
    files, _ = find_idx_files(directory)
    return Location("idx", directory, files=files)


class _DownloadError(Exception):
    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = errors


# ---- Locating, with its message ---------------------------------------------------------------


def _not_found_message(spec: DatasetSpec, places, path, errors) -> str:
    lines = []
    if path is not None:
        lines.append(f"{spec.caller}: {spec.title} not found in path={os.fspath(path)!r}")
        lines.append("(with a path given, nothing else is searched and nothing is downloaded).")
    else:
        lines.append(f"{spec.caller}: {spec.title} not found, and downloading it failed.")
    lines.append("Looked in, in order:")
    lines += [f"  {where}: {status}" for where, status in places]
    if errors:
        lines.append(f"Downloading into {download_dir(spec)} failed:")
        lines += [f"  {e}" for e in errors]
    names = ", ".join(IDX_FILES)
    lines.append(f"To provide the files (the four IDX files {names}, each plain or .gz), either:")
    lines.append(f"  - put them in a directory DIR and call {spec.caller}(path=DIR)")
    lines.append(f"  - or put them in ROOT/{spec.name}/ and set {ENV_VAR}=ROOT")
    lines.append(f"  - or put them in ~/.fastnn/datasets/{spec.name}/")
    if spec.npz:
        lines.append(f"  - or put Keras's {spec.npz} in ~/.keras/datasets/, or pass its file name as path")
    lines += [f"  - or {h}" for h in spec.hints]
    if spec.urls:
        lines.append(f"  - or connect to the internet: they are downloaded from {spec.urls[0]} when path is None")
    return "\n".join(lines)


def locate(spec: DatasetSpec, path=None, download_missing: bool = True) -> Location:
    """The Location of the dataset: the first place searched that holds it, else a fresh download.

    ``path`` given: only ``path`` is looked at and nothing is downloaded. Raises
    DatasetNotFoundError with every place looked at and every download error.
    """
    return _found_or_downloaded(find(spec, path), lambda: download(spec), path is None and download_missing,
                                lambda places, errors: _not_found_message(spec, places, path, errors))


def _found_or_downloaded(search, download_one, may_download, message):
    """``search``'s find (the first place that holds the data, or None, and every place looked
    at); else ``download_one()`` when ``may_download``; else DatasetNotFoundError with
    ``message(places, download errors)``."""
    found, places = search
    if found is not None:
        return found
    errors = []
    if may_download:
        try:
            return download_one()
        except _DownloadError as e:
            errors = e.errors
    raise DatasetNotFoundError(message(places, errors))


# ---- Loading ----------------------------------------------------------------------------------


def check_split(spec: DatasetSpec, x, y, x_name, y_name):
    """Check a (images, labels) pair of the dataset; ValueError naming the files otherwise."""
    if x.ndim != 3 or x.shape[1:] != spec.image_shape:
        raise ValueError(
            f"{x_name}: {spec.title} images must be (N, {spec.image_shape[0]}, {spec.image_shape[1]}). "
            f"Received: shape={x.shape}"
        )
    if y.ndim != 1:
        raise ValueError(f"{y_name}: {spec.title} labels must be (N,). Received: shape={y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{x_name} holds {x.shape[0]} images but {y_name} holds {y.shape[0]} labels: the counts must be equal"
        )
    if y.size and int(y.max()) >= spec.num_classes:
        raise ValueError(f"{y_name}: labels must be in [0, {spec.num_classes}). Received: max label {int(y.max())}")


def load_idx(spec: DatasetSpec, files: dict):
    """Read and check the four IDX files; Keras's ``((x_train, y_train), (x_test, y_test))``."""
    x_train = _idx.read_images(files[TRAIN_IMAGES])
    y_train = _idx.read_labels(files[TRAIN_LABELS])
    check_split(spec, x_train, y_train, files[TRAIN_IMAGES], files[TRAIN_LABELS])
    x_test = _idx.read_images(files[TEST_IMAGES])
    y_test = _idx.read_labels(files[TEST_LABELS])
    check_split(spec, x_test, y_test, files[TEST_IMAGES], files[TEST_LABELS])
    return (x_train, y_train), (x_test, y_test)


def load_npz(spec: DatasetSpec, path: Path):
    """Read Keras's ``.npz`` form (x_train, y_train, x_test, y_test: uint8) without pickle."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(
            f"{path}: cannot be read as an .npz archive without pickle ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz archive (it holds a single array of shape {archive.shape})")
    arrays = {}
    with archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            if key not in archive.files:
                raise ValueError(
                    f"{path}: missing array {key!r}; a Keras {spec.npz} holds x_train, y_train, x_test, y_test. "
                    f"Received: {sorted(archive.files)}"
                )
            try:
                a = archive[key]
            except (ValueError, OSError, zipfile.BadZipFile, EOFError, zlib.error) as e:
                # An object array needs pickle: it is refused, never unpickled.
                raise ValueError(
                    f"{path}: array {key!r} cannot be loaded without pickle ({type(e).__name__}: {e})"
                ) from None
            if a.dtype != np.uint8:
                raise ValueError(f"{path}: array {key!r} must be uint8. Received: dtype={a.dtype}")
            arrays[key] = a
    check_split(spec, arrays["x_train"], arrays["y_train"], f"{path}[x_train]", f"{path}[y_train]")
    check_split(spec, arrays["x_test"], arrays["y_test"], f"{path}[x_test]", f"{path}[y_test]")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load(spec: DatasetSpec, path=None):
    """Locate (searching, else downloading) and load the dataset: Keras's nested tuples."""
    loc = locate(spec, path)
    if loc.kind == "npz":
        return load_npz(spec, loc.npz)
    return load_idx(spec, loc.files)


# ---- Keras's single-file, archive and directory datasets (CIFAR, IMDB, Reuters, housing) -------


@dataclass(frozen=True)
class Form:
    """One form a dataset takes under a search root: a file (``members`` empty) or a directory
    that must hold ``members``. ``relpath`` is relative to the root ("cifar-10-batches-py")."""

    relpath: str
    members: tuple = ()

    @property
    def is_dir(self) -> bool:
        return bool(self.members)

    def shown(self) -> str:
        return self.relpath + ("/" if self.is_dir else "")


@dataclass(frozen=True)
class FileSpec:
    """A dataset Keras keeps as one file, archive or directory, and where fastnn downloads it from."""

    title: str  # for messages: "CIFAR-10"
    caller: str  # for messages: "cifar10.load_data"
    forms: tuple  # Form, in order of preference within one root
    provide: str  # what to provide, for the message: "Keras's imdb.npz"
    path_hint: str  # how to pass a path, for the message
    url: str | None = None  # downloaded from here when found nowhere
    download_name: str | None = None  # ... into ~/.fastnn/datasets/<download_name>
    file_hash: str | None = None  # SHA-256 (64 hex digits) or MD5 (32) of the file as downloaded
    max_bytes: int = MAX_DOWNLOAD_BYTES
    hints: tuple = ()
    download_when: str = "when path is None"  # for the message


@dataclass(frozen=True)
class Found:
    """Where a FileSpec's dataset was found: ``path`` is a file, or a directory holding ``form.members``."""

    form: Form
    path: Path


def split_keras_path(path, default_name: str, caller: str):
    """Keras's ``path=`` argument of the single-file loaders: ``(explicit Path or None, name)``.

    A bare file name ("imdb.npz", Keras's meaning: the name in its cache directory) is looked up in
    every search root and downloaded under that name; a path with a directory part ("./imdb.npz",
    "/data/imdb.npz", "~/imdb.npz") is the only place looked at. None means ``default_name``.
    """
    if path is None:
        return None, default_name
    try:
        p = os.fspath(path)
    except TypeError:
        raise ValueError(
            f"{caller}: path must be a file name or a path (str or os.PathLike). Received: path={path!r}"
        ) from None
    if not isinstance(p, str) or p in ("", ".", ".."):
        raise ValueError(f"{caller}: path must be a file name or a path. Received: path={path!r}")
    if os.sep in p or (os.altsep and os.altsep in p) or p.startswith("~"):
        return Path(p).expanduser(), p
    return None, p


def _missing_members(directory: Path, form: Form):
    return [m for m in form.members if not (directory / m).is_file()]


def _probe(root: Path, form: Form):
    """``(Found or None, note or None)`` for ``form`` under ``root``; the note tells what is wrong
    with a candidate that is there but unusable (an incomplete directory...)."""
    p = root / form.relpath
    if form.is_dir:
        if not p.is_dir():
            return None, (f"{form.shown()} is not a directory" if p.exists() else None)
        missing = _missing_members(p, form)
        if missing:
            return None, f"{form.shown()} lacks {', '.join(missing)}"
        return Found(form, p), None
    if p.is_file():
        return Found(form, p), None
    return None, (f"{form.relpath} is not a file" if p.exists() else None)


def _root_status(spec: FileSpec, root: Path, notes) -> str:
    if root.exists() and not root.is_dir():
        return f"{root} is not a directory"
    if notes:
        return "; ".join(notes)
    if len(spec.forms) == 1:
        return "no such directory" if spec.forms[0].is_dir else "no such file"
    return "none of them there" if root.is_dir() else "no such directory"


def _shown_forms(spec: FileSpec, root) -> str:
    """A root as the message shows it: the file's path for one Form (the Forms are listed once
    above the roots otherwise)."""
    if len(spec.forms) == 1:
        return f"{root}/{spec.forms[0].shown()}"
    return f"{root}"


def find_file(spec: FileSpec, path=None):
    """``(Found or None, places)``: the first place holding the dataset, and each place looked at
    with what was there (for messages). ``path``, when given, is the only place looked at: a file,
    a directory that is itself one of the directory Forms, or a directory holding a Form."""
    places = []
    if path is not None:
        p = Path(os.fspath(path)).expanduser()
        if p.is_file():
            return Found(Form(p.name), p), places
        if not p.is_dir():
            places.append((str(p.absolute()), "no such file or directory"))
            return None, places
        for form in spec.forms:  # the directory given is the dataset directory itself
            if form.is_dir and not _missing_members(p, form):
                return Found(form, p), places
        notes = []
        for form in spec.forms:
            found, note = _probe(p, form)
            if found is not None:
                return found, places
            if note:
                notes.append(note)
        places.append((_shown_forms(spec, p.absolute()), _root_status(spec, p, notes)))
        return None, places
    for label, root in search_roots():
        if root is None:
            places.append((_shown_forms(spec, label), f"{ENV_VAR} is not set"))
            continue
        notes = []
        for form in spec.forms:
            found, note = _probe(root, form)
            if found is not None:
                return found, places
            if note:
                notes.append(note)
        places.append((_shown_forms(spec, root), _root_status(spec, root, notes)))
    return None, places


_HASH_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


def hash_algorithm(file_hash: str) -> str:
    """"sha256" for a 64-digit hash, "md5" for a 32-digit one (Keras's ``hash_algorithm="auto"``)."""
    return "md5" if len(file_hash) == 32 else "sha256"


def hash_stream(raw, algorithm: str) -> str:
    """The hex digest of a binary file object's whole content (read from its start)."""
    raw.seek(0)
    digest = hashlib.md5(usedforsecurity=False) if algorithm == "md5" else hashlib.sha256()
    while True:
        chunk = raw.read(_CHUNK)
        if not chunk:
            break
        digest.update(chunk)
    return digest.hexdigest()


def file_download_path(spec: FileSpec) -> Path:
    """``~/.fastnn/datasets/<download_name>``, where a download of ``spec`` goes."""
    return Path.home() / ".fastnn" / "datasets" / spec.download_name


def download_file(spec: FileSpec) -> Found:
    """Download ``spec.url`` to ``file_download_path(spec)``, checking its hash before it is renamed
    into place. Raises ``_DownloadError`` with the reason."""
    dest = file_download_path(spec)
    created = [d for d in (dest.parent, dest.parent.parent) if not d.exists()]  # deepest first
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _DownloadError([f"cannot create {dest.parent}: {e}"]) from None
    try:
        with atomic_write(dest, "w+b", durable=True) as out:
            fetch_url(spec.url, out, max_bytes=spec.max_bytes)
            if spec.file_hash:
                algorithm = hash_algorithm(spec.file_hash)
                got = hash_stream(out, algorithm)
                if got != spec.file_hash.lower():
                    raise ValueError(
                        f"checksum mismatch: the {_HASH_NAMES[algorithm]} of the download is {got}, "
                        f"expected {spec.file_hash}"
                    )
    except (OSError, ValueError) as e:  # URLError and timeouts are OSErrors
        for d in created:  # leave no empty directory behind
            with contextlib.suppress(OSError):
                d.rmdir()
        raise _DownloadError([f"{spec.url}: {type(e).__name__}: {e}"]) from None
    return Found(Form(spec.download_name), dest)


def _file_not_found_message(spec: FileSpec, places, path, errors) -> str:
    lines = []
    if path is not None:
        lines.append(f"{spec.caller}: {spec.title} not found at path={os.fspath(path)!r}")
        lines.append("(with a path given, nothing else is searched and nothing is downloaded).")
    elif spec.url:
        lines.append(f"{spec.caller}: {spec.title} not found, and downloading it failed.")
    else:
        lines.append(f"{spec.caller}: {spec.title} not found.")
    if len(spec.forms) == 1:
        lines.append("Looked in, in order:")
    else:
        lines.append(f"Looked for {', '.join(f.shown() for f in spec.forms)} (the first found is used) in, in order:")
    lines += [f"  {where}: {status}" for where, status in places]
    if errors:
        lines.append(f"Downloading into {file_download_path(spec)} failed:")
        lines += [f"  {e}" for e in errors]
    lines.append(f"To provide {spec.provide}, either:")
    lines.append(f"  - {spec.path_hint}")
    lines.append(f"  - or put it in a directory ROOT and set {ENV_VAR}=ROOT")
    lines.append("  - or put it in ~/.fastnn/datasets/")
    lines.append("  - or keep Keras's copy in ~/.keras/datasets/, where Keras downloads it")
    lines += [f"  - or {h}" for h in spec.hints]
    if spec.url:
        check = f" and checks its {_HASH_NAMES[hash_algorithm(spec.file_hash)]}" if spec.file_hash else ""
        lines.append(
            f"  - or connect to the internet: {spec.download_when}, {spec.caller} downloads it from "
            f"{spec.url} into ~/.fastnn/datasets/{spec.download_name}{check}"
        )
    return "\n".join(lines)


def locate_file(spec: FileSpec, path=None, download_missing: bool = True) -> Found:
    """Where the dataset is: the first place searched that holds it, else a fresh download.

    ``path`` given: only ``path`` is looked at and nothing is downloaded. Raises
    DatasetNotFoundError with every place looked at and every download error.
    """
    return _found_or_downloaded(find_file(spec, path), lambda: download_file(spec),
                                path is None and download_missing and bool(spec.url),
                                lambda places, errors: _file_not_found_message(spec, places, path, errors))


def locate_keras_file(
    path, default_name: str, title: str, caller: str, url: str, file_hash: str, max_bytes: int = MAX_DOWNLOAD_BYTES
) -> Path:
    """The file of a loader whose Keras signature has ``path=default_name`` (imdb.npz, reuters.npz,
    the word indices, the housing sets): see split_keras_path for what ``path`` means. A bare name
    is searched in every root and, found nowhere, downloaded from ``url`` under that name."""
    explicit, name = split_keras_path(path, default_name, caller)
    spec = FileSpec(
        title=title,
        caller=caller,
        forms=(Form(default_name if explicit is not None else name),),
        provide=f"Keras's {default_name}",
        path_hint=(
            f"pass its path with a directory part, {caller}(path=\"./{default_name}\") or "
            f"path=\"/data/{default_name}\" (a bare file name such as \"{default_name}\" is looked for in "
            f"$FASTNN_DATA, ~/.fastnn/datasets, ~/.keras/datasets and {SYSTEM_ROOT})"
        ),
        download_when="with path a bare file name",
        url=url,
        download_name=name if explicit is None else default_name,
        file_hash=file_hash,
        max_bytes=max_bytes,
    )
    return locate_file(spec, explicit).path
