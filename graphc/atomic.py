"""Atomic writes: a file, or a whole folder, appears complete or not at all.

* :func:`atomic_write_bytes` writes into an unnamed file of the target's folder (Linux
  ``O_TMPFILE``; elsewhere a hidden temporary file) and renames it over the target, so a
  process killed mid-write (``kill -9``, SIGTERM) leaves the previous file and, with
  ``O_TMPFILE``, no temporary file either.
* :func:`atomic_write_folder` writes every file into a hidden sibling folder, then swaps it
  in with one atomic rename (Linux ``renameat2(RENAME_EXCHANGE)`` when the target exists),
  so readers and concurrent writers only ever see one complete folder.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_folder"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the whole new one.

    The file is created with mode 0o666, so the process umask gives the result the
    permissions any newly written file gets (``tempfile.mkstemp`` would make it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _unnamed_file(path.parent)
    if fd is None:
        tmp = _temporary_name(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        _write_and_rename(fd, data, tmp, path, named=True)
        return
    _write_and_rename(fd, data, _temporary_name(path), path, named=False)


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"


def _unnamed_file(folder: Path) -> int | None:
    """A writable file in ``folder`` with no name yet (``O_TMPFILE``), or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:  # a file system without O_TMPFILE support
        return None


def _write_and_rename(fd: int, data: bytes, tmp: Path, path: Path, named: bool) -> None:
    """Write ``data`` to ``fd``, give it the name ``tmp`` (unless ``named``), rename ``tmp`` to ``path``."""
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if not named:  # the window in which a kill leaves a temporary file is this link and the rename
                _give_name(f.fileno(), tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _give_name(fd: int, name: Path) -> None:
    """Link the unnamed file ``fd`` as ``name`` (linkat with AT_SYMLINK_FOLLOW through /proc: os.link
    without a directory descriptor calls link(2), which would link the /proc symlink itself)."""
    folder = os.open(name.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(f"/proc/self/fd/{fd}", name.name, dst_dir_fd=folder, follow_symlinks=True)
    finally:
        os.close(folder)


def atomic_write_folder(path: Path, files: dict[str, bytes]) -> None:
    """Make ``path`` a folder holding exactly ``files`` (relative name -> bytes), replacing what
    was there in one atomic step; the caller checks that replacing ``path`` is intended."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    tmp.mkdir()
    try:
        for name, data in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        _swap_in(tmp, path)
    finally:
        _remove(tmp)


def _swap_in(tmp: Path, path: Path) -> None:
    """Put folder ``tmp`` at ``path``; what was at ``path`` ends up at ``tmp`` (the caller removes it)."""
    for _ in range(1000):  # concurrent writers: each attempt either lands or finds the other's folder
        try:
            os.rename(tmp, path)  # path missing, or an empty folder: atomic
            return
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        swapped = _exchange(tmp, path)
        if swapped:
            return
        if swapped is None and _swap_by_two_renames(tmp, path):
            return
    raise OSError(errno.EBUSY, f"{path}: could not replace the folder (concurrent writers)")


def _swap_by_two_renames(tmp: Path, path: Path) -> bool:
    """Where renames cannot exchange: ``path`` aside, ``tmp`` in (a short window without the folder)."""
    old = _temporary_name(path)
    try:
        os.rename(path, old)
    except FileNotFoundError:
        return False
    try:
        os.rename(tmp, path)
    except OSError:  # another writer's complete folder got there first: try again over it
        _remove(old)
        return False
    os.rename(old, tmp)  # the previous folder, for the caller to remove
    return True


def _exchange(a: Path, b: Path) -> bool | None:
    """Atomically exchange ``a`` and ``b`` (Linux renameat2); False when ``b`` vanished meanwhile,
    None when the system cannot exchange."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:
        return None
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOENT:
        return False
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return None
    raise OSError(err, f"cannot replace {b}: {os.strerror(err)}")


def _remove(p: Path) -> None:
    if p.is_symlink() or p.is_file():
        p.unlink(missing_ok=True)
    elif p.exists():
        shutil.rmtree(p, ignore_errors=True)
