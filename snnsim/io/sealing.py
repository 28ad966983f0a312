"""Writing snnsim files safely: atomically (:func:`atomic_write`) and sealed with a checksum
(:func:`new_file`, :func:`seal`) that :func:`~snnsim.io.load` checks before HDF5 reads the
file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from typing import Iterator

import h5py

from ..errors import FileFormatError


# -- atomic writing ---------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[str]:
    """Write a file atomically: yield a temporary path in the same directory; when the block
    ends without an exception the file is flushed to disk (``fsync``) and renamed over
    ``path`` (``os.replace``), so ``path`` always holds either the old or the new complete
    file, even if the process is killed.  On an exception the temporary file is removed and
    ``path`` is untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> with atomic_write(p) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("hello")
    >>> with open(p) as f:
    ...     f.read()
    'hello'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
        os.chmod(tmp, mode)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the checksum seal --------------------------------------------------------------------------
#
# A file written by save (or new_file) starts with an HDF5 user block of _SEAL_SIZE bytes that
# HDF5 itself ignores; it holds the SHA-256 and the size of the rest of the file.  load checks
# them before the HDF5 library parses anything, so that a truncated file or one with flipped
# bits is refused cleanly (the HDF5 library can hang or misread damaged metadata).

_SEAL_SIZE = 512
_SEAL_MAGIC = b"snnsim-seal 1\n"
_SEAL_RE = re.compile(rb"snnsim-seal 1\nsha256 ([0-9a-f]{64})\nbytes ([0-9]{1,19})\n\0*\Z")


def _digest(path: str, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(_SEAL_SIZE)
        left = size - _SEAL_SIZE
        while left > 0:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def seal(path: str | os.PathLike) -> None:
    """Write the checksum block of a file written by :func:`save` or :func:`new_file`
    anew, after the file was changed on purpose (e.g. with h5py in ``"r+"`` mode):
    :func:`load` refuses a sealed file whose checksum does not match."""
    src = os.fspath(path)
    with open(src, "rb") as f:
        head = f.read(_SEAL_SIZE)
    if not head.startswith(_SEAL_MAGIC) and head.strip(b"\0"):
        raise FileFormatError(f"cannot seal {src!r}: it has no snnsim checksum block (only files "
                              "written by snnsim.io.save or new_file have one)")
    size = os.path.getsize(src)
    text = _SEAL_MAGIC + b"sha256 %s\nbytes %d\n" % (_digest(src, size).encode(), size)
    with open(src, "r+b") as f:
        f.write(text.ljust(_SEAL_SIZE, b"\0"))


@contextlib.contextmanager
def new_file(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Create an snnsim HDF5 file atomically (see :func:`atomic_write`): yields an
    ``h5py.File`` open for writing; when the block ends, the file is sealed with its
    checksum (see :func:`seal`) and renamed over ``path``."""
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=_SEAL_SIZE) as f:
            yield f
        seal(tmp)


def _check_seal(src: str) -> None:
    """Verify the checksum block of ``src`` if it has one (files written before snnsim
    sealed its files, or by other programs, have none and are read unchecked)."""
    try:
        with open(src, "rb") as f:
            head = f.read(_SEAL_SIZE)
        size = os.path.getsize(src)
    except OSError as exc:
        raise FileFormatError(f"cannot read {src!r}: {exc}") from None
    if not head.startswith(_SEAL_MAGIC):
        return
    m = _SEAL_RE.match(head) if len(head) == _SEAL_SIZE else None
    if m is None:
        raise FileFormatError(f"cannot read {src!r}: its checksum block (the first {_SEAL_SIZE} "
                              "bytes) is damaged or the file is truncated")
    want = int(m.group(2))
    if size != want:
        why = "truncated or incomplete" if size < want else "longer than written"
        raise FileFormatError(f"cannot read {src!r}: the file is {why} ({size} bytes; it was "
                              f"written with {want})")
    if _digest(src, size) != m.group(1).decode():
        raise FileFormatError(f"cannot read {src!r}: checksum mismatch: the file was damaged or "
                              "changed after snnsim wrote it (if you changed it on purpose, "
                              "snnsim.io.seal(path) records the change)")
