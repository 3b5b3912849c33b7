"""Atomic file and directory replacement: a failure mid-write leaves the old version."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False, having changed nothing, where the call is unavailable (other systems,
    old kernels or C libraries, file systems without support); raises ``OSError`` on
    any other failure.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block succeeds.

    The temporary directory is created beside ``target`` (same filesystem). On any
    exception it is removed and ``target`` is untouched. On success it takes the place of
    ``target`` in one atomic swap where the system supports it (Linux), so a reader or a
    crash at any moment sees either the complete old or the complete new directory;
    elsewhere the swap is two renames, and a failure between them moves the old version
    back.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.is_dir() and not target.is_symlink():
        try:
            swapped = _exchange(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if swapped:  # tmp now holds the previous version
            shutil.rmtree(tmp, ignore_errors=True)
            return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    moved = False
    try:
        if target.exists() or target.is_symlink():
            os.replace(target, old)
            moved = True
        os.replace(tmp, target)
    except BaseException:
        if moved and not target.exists():
            os.replace(old, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if moved:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


def _umask() -> int:
    """The process umask, read without changing it where possible (thread safety)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(target: str | Path, mode: str = "wb") -> Iterator:
    """Open a temporary file that replaces ``target`` only if the block succeeds.

    The content is flushed to disk before the rename, and the file gets the usual
    permissions (``0o666`` minus the umask) rather than the private ``0o600`` of a
    temporary file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
