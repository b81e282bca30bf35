"""Writing a file whole: into a temporary file beside it, renamed over it only when complete.

Every file fastnn writes (saved models, downloaded and converted datasets, the command's
history and pictures) goes through `atomic_write`, so a crash, an exception or Ctrl-C part way
leaves either the old file or none — never half a file that a later load trips over.
"""

from __future__ import annotations

import contextlib
import os
import uuid


@contextlib.contextmanager
def atomic_write(path, mode="wb", durable=False, **open_kwargs):
    """Yield a file object opened with ``mode``; when the block ends normally it replaces
    ``path`` in one rename, and when it raises the temporary file is removed and ``path`` left
    as it was (the exception propagates: a check inside the block can veto the file).

    A new file gets the permissions ``open`` would give (0o666 less the umask; ``tempfile.mkstemp``
    would make it private, 0o600); a file replaced keeps its own permissions (a private 0o600 model
    stays private). A symbolic link is followed: its target is replaced and the link kept, as
    ``open`` would write through it. ``durable`` also fsyncs the data and then the directory, so
    the new file survives a power cut once this returns (saved models).
    """
    path = os.path.realpath(os.fspath(path))  # (through a symlink: the target is the file written)
    directory = os.path.dirname(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot write {os.fspath(path)!r}: it is a directory; give a file name")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot write {os.fspath(path)!r}: its directory {directory!r} does not exist")
    try:
        kept_mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        kept_mode = None
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)  # RDWR: "w+b" may read back
    if kept_mode is not None:
        os.chmod(tmp, kept_mode)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        with contextlib.suppress(OSError):  # not every filesystem can fsync a directory
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
