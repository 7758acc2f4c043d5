"""Safe reading of artifacts and bundles: no zip-slip, no oversized members, and from a folder
artifact only regular files inside the folder (no links out, no devices or FIFOs)."""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import ModelFormatError

__all__ = ["safe_extract", "read_member", "read_folder_file", "read_regular_file", "require_regular_file",
           "DEFAULT_MEMBER_LIMIT"]

#: members above this size are refused unless the caller raises the limit
DEFAULT_MEMBER_LIMIT = 4 << 30


def _checked_name(archive: Path, name: str, escape: str = "would extract outside the target folder (zip-slip)") -> PurePosixPath:
    if not isinstance(name, str):
        raise ModelFormatError(f"{archive}: a file name must be a string, got {type(name).__name__}")
    p = PurePosixPath(name.replace("\\", "/"))
    if not p.parts or p.is_absolute() or ".." in p.parts or ":" in p.parts[0]:
        raise ModelFormatError(f"{archive}: member {name!r} {escape}")
    return p


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, member_limit: int = DEFAULT_MEMBER_LIMIT) -> list[Path]:
    """Extract every member of ``archive`` under ``dest``; refuse escapes, links and oversized members."""
    archive, dest = Path(archive), Path(dest).resolve()
    require_regular_file(archive)
    out = []
    try:
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                rel = _checked_name(archive, info.filename)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ModelFormatError(f"{archive}: member {info.filename!r} is a symbolic link; refused")
                if info.file_size > member_limit:
                    raise ModelFormatError(f"{archive}: member {info.filename!r} is {info.file_size} bytes, over the {member_limit}-byte limit")
                target = (dest / rel).resolve()
                if not target.is_relative_to(dest):
                    raise ModelFormatError(f"{archive}: member {info.filename!r} would extract outside {dest} (zip-slip)")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "wb") as f:
                    remaining = member_limit
                    while chunk := src.read(1 << 20):
                        remaining -= len(chunk)
                        if remaining < 0:
                            raise ModelFormatError(f"{archive}: member {info.filename!r} inflates past its declared size")
                        f.write(chunk)
                out.append(target)
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:  # zlib: a damaged compressed member
        raise ModelFormatError(f"{archive}: not a readable zip archive ({e})") from e
    return out


def read_member(archive: str | os.PathLike, name: str, member_limit: int = DEFAULT_MEMBER_LIMIT,
                missing_ok: bool = False) -> bytes | None:
    """The bytes of one member, refusing oversized ones (None for a missing one if ``missing_ok``)."""
    archive = Path(archive)
    _checked_name(archive, name)
    require_regular_file(archive)
    try:
        with zipfile.ZipFile(archive) as z:
            info = z.getinfo(name)
            if info.file_size > member_limit:
                raise ModelFormatError(f"{archive}: member {name!r} is {info.file_size} bytes, over the {member_limit}-byte limit")
            with z.open(info) as src:
                return _read_declared(archive, name, src, info.file_size)
    except KeyError:
        if missing_ok:
            return None
        raise ModelFormatError(f"{archive}: has no member {name!r}") from None
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:  # zlib: a damaged compressed member
        raise ModelFormatError(f"{archive}: not a readable zip archive ({e})") from e


def _read_declared(archive: Path, name: str, src: IO[bytes], declared: int) -> bytes:
    """A member's bytes, inflated 1 MiB at a time and never past its declared size (a member declaring
    1000 bytes that inflates to 1 GB is refused after 1 MiB, not after inflating it all)."""
    overflow = f"{archive}: member {name!r} inflates past its declared {declared} bytes"
    return _read_at_most(src, declared, 1 << 20, overflow)


def _read_at_most(src: IO[bytes], limit: int, chunk_size: int, overflow: str) -> bytes:
    """All of ``src``, read ``chunk_size`` bytes at a time; ModelFormatError(``overflow``) as soon as it
    holds more than ``limit`` bytes (never more than one chunk past the limit is read)."""
    data = bytearray()
    while chunk := src.read(min(chunk_size, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            raise ModelFormatError(overflow)
    return bytes(data)


def require_regular_file(path: str | os.PathLike) -> None:
    """ModelFormatError unless ``path`` (links followed) is a regular file: a device such as
    /dev/zero would be read forever, a FIFO would block the reader."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ModelFormatError(f"{path}: cannot read ({e.strerror or e})") from e
    if not stat.S_ISREG(mode):
        raise ModelFormatError(f"{path} is {_kind(mode)}, not a regular file; an artifact is a folder or a zip file")


def read_regular_file(path: str | os.PathLike, limit: int = DEFAULT_MEMBER_LIMIT, follow: bool = True) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them.

    Opened without blocking (a FIFO cannot hang the reader) and checked on the open
    descriptor, so a file swapped for a device between a check and the read is still refused;
    ``follow=False`` refuses a symbolic link as the last component.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ModelFormatError(f"{path}: cannot open ({e.strerror or e})") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelFormatError(f"{path} is {_kind(st.st_mode)}, not a regular file; refused")
        if st.st_size > limit:
            raise ModelFormatError(f"{path} is {st.st_size} bytes, over the {limit}-byte limit")
        return _read_at_most(f, limit, 1 << 24, f"{path} grew past the {limit}-byte limit while it was read")


def read_folder_file(folder: str | os.PathLike, name: str, limit: int = DEFAULT_MEMBER_LIMIT) -> bytes | None:
    """The bytes of file ``name`` of a folder artifact, or None when it has no such file.

    ``name`` comes from the artifact (a manifest may name it): it must be a relative path
    without ``..`` that resolves inside ``folder`` (a link to another file of the folder is
    fine, a link out is refused), to a regular file of at most ``limit`` bytes.
    """
    folder = Path(folder)
    rel = _checked_name(folder, name, "is not a relative path inside the artifact folder; refused")
    root = folder.resolve()
    candidate = root.joinpath(*rel.parts)
    if not os.path.lexists(candidate):
        return None
    target = candidate.resolve()
    if not target.is_relative_to(root):
        raise ModelFormatError(f"{folder}: {name!r} is a link to {target}, outside the artifact folder; refused")
    return read_regular_file(target, limit, follow=False)


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"
