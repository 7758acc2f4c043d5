"""Safe zip handling for artifacts and bundles: no zip-slip, no oversized members."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path, PurePosixPath

from .errors import ModelFormatError

__all__ = ["safe_extract", "read_member", "DEFAULT_MEMBER_LIMIT"]

#: members above this size are refused unless the caller raises the limit
DEFAULT_MEMBER_LIMIT = 4 << 30


def _checked_name(archive: Path, name: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if not p.parts or p.is_absolute() or ".." in p.parts or ":" in p.parts[0]:
        raise ModelFormatError(f"{archive}: member {name!r} would extract outside the target folder (zip-slip)")
    return p


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, member_limit: int = DEFAULT_MEMBER_LIMIT) -> list[Path]:
    """Extract every member of ``archive`` under ``dest``; refuse escapes, links and oversized members."""
    archive, dest = Path(archive), Path(dest).resolve()
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
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFormatError(f"{archive}: not a readable zip archive ({e})") from e
    return out


def read_member(archive: str | os.PathLike, name: str, member_limit: int = DEFAULT_MEMBER_LIMIT) -> bytes:
    """The bytes of one member, refusing oversized ones."""
    archive = Path(archive)
    _checked_name(archive, name)
    try:
        with zipfile.ZipFile(archive) as z:
            info = z.getinfo(name)
            if info.file_size > member_limit:
                raise ModelFormatError(f"{archive}: member {name!r} is {info.file_size} bytes, over the {member_limit}-byte limit")
            with z.open(info) as src:
                data = src.read(member_limit + 1)
            if len(data) > member_limit:
                raise ModelFormatError(f"{archive}: member {name!r} inflates past the {member_limit}-byte limit")
            return data
    except KeyError:
        raise ModelFormatError(f"{archive}: has no member {name!r}") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFormatError(f"{archive}: not a readable zip archive ({e})") from e
