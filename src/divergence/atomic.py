"""Atomic file and directory replacement: a failure mid-write leaves the old version.

Output paths are validated before anything is written (:func:`check_output_file`,
:func:`check_output_dir`): a directory, device, FIFO or socket is never replaced by a
file, a file or device never by a directory, a symbolic link only where explicitly
allowed, and an output never equals an input. Temporary names carry the writer's host
and pid, so the next writer of the same target removes those of a killed process
(:func:`divergence.recovery.sweep_stale`).
"""

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

from divergence.errors import DivergenceError
from divergence.recovery import sweep_stale, tmp_tag

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


class OutputPathError(DivergenceError):
    """An output path that must not be written (wrong kind, equal to an input, not writable)."""


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_parent(path: Path) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():  # dangling link as an ancestor
            raise OutputPathError(f"{path}: parent {parent} is a broken symbolic link")
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"{path}: parent {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: directory {parent} is not writable")


def _check_common(target: str | Path, inputs, what: str) -> Path:
    if isinstance(target, str) and ("\0" in target or not target.strip()):
        raise OutputPathError(f"{target!r}: not a valid {what} path")
    path = Path(target)
    if "\0" in str(path) or str(path) in ("", "."):
        raise OutputPathError(f"{str(path)!r}: not a valid {what} path")
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise OutputPathError(
            f"{os.fsdecode(os.fsencode(path))!r}: {what} path is not valid UTF-8"
        ) from None
    for src in inputs or ():
        if src is None:
            continue
        src = Path(src)
        if src.exists() and path.exists() and _same(path, src):
            raise OutputPathError(f"{path}: {what} is the same file as the input {src}")
        if src.is_dir() and path.resolve().is_relative_to(src.resolve()):
            raise OutputPathError(f"{path}: {what} lies inside the input directory {src}")
    return path


def check_output_file(
    target: str | Path, inputs=(), allow_symlink: bool = False, what: str = "output"
) -> Path:
    """Refuse an output file path that must not be replaced; returns it as a Path.

    Parameters
    ----------
    target : path
        The file to be written.
    inputs : iterable of path
        Inputs of the same command: the output may not be (or lie inside) any of them.
    allow_symlink : bool
        Accept an existing symbolic link (its target, a regular file, is replaced).
    what : str
        Name of the path in the message (``--output``).

    Raises
    ------
    OutputPathError
        One line naming the path and the reason.
    """
    path = _check_common(target, inputs, what)
    if path.is_symlink():
        if not allow_symlink:
            raise OutputPathError(f"{path}: {what} is a symbolic link (refused)")
        path = Path(os.path.realpath(path))
    if path.exists():
        if path.is_dir():
            raise OutputPathError(f"{path}: {what} is a directory, expected a file")
        if not path.is_file():
            raise OutputPathError(f"{path}: {what} is not a regular file (device, FIFO or socket)")
    _check_parent(path)
    return path


def check_output_dir(target: str | Path, inputs=(), what: str = "output directory") -> Path:
    """Refuse an output directory path that must not be replaced; returns it as a Path.

    An existing target must be a real directory (not a symbolic link, file or device);
    it may not be, contain or lie inside any of ``inputs``.
    """
    path = _check_common(target, inputs, what)
    if path.is_symlink():
        raise OutputPathError(f"{path}: {what} is a symbolic link (refused)")
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path}: {what} exists and is not a directory")
    for src in inputs or ():
        if src is not None and Path(src).exists():
            if Path(src).resolve().is_relative_to(path.resolve()):
                raise OutputPathError(f"{path}: {what} contains the input {src}")
    _check_parent(path)
    return path


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
    target = check_output_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{tmp_tag()}-", dir=target.parent))
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
    old = target.parent / f".{target.name}.old-{tmp_tag()}"
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
def atomic_file(
    target: str | Path, mode: str = "wb", allow_symlink: bool = False, **open_kwargs
) -> Iterator:
    """Open a temporary file that replaces ``target`` only if the block succeeds.

    ``target`` is checked first (:func:`check_output_file`; an allowed symbolic link has
    its target replaced). The content is flushed to disk before the rename, and the file
    gets the usual permissions (``0o666`` minus the umask) rather than the private
    ``0o600`` of a temporary file. ``open_kwargs`` (``encoding``, ``newline``) go to
    :func:`open`.
    """
    target = check_output_file(target, allow_symlink=allow_symlink)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-{tmp_tag()}-", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
