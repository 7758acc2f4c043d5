"""Zip artifacts extract nothing outside their folder and refuse oversized members."""

from __future__ import annotations

import zipfile

import pytest

from graphc import ModelFormatError
from graphc.archive import read_member, safe_extract


def _zip(tmp_path, members: dict[str, bytes]):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "..\\evil.txt", "C:/evil.txt"])
def test_zip_slip_is_refused(tmp_path, name):
    path = _zip(tmp_path, {"ok.txt": b"fine", name: b"evil"})
    dest = tmp_path / "out"
    with pytest.raises(ModelFormatError, match="outside"):
        safe_extract(path, dest)
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path):
    path = tmp_path / "l.zip"
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(ModelFormatError, match="symbolic link"):
        safe_extract(path, tmp_path / "out")


def test_oversized_member_is_refused(tmp_path):
    path = _zip(tmp_path, {"big.bin": b"\0" * 4096})
    with pytest.raises(ModelFormatError, match="over the 1024-byte limit"):
        safe_extract(path, tmp_path / "out", member_limit=1024)
    with pytest.raises(ModelFormatError, match="over the 1024-byte limit"):
        read_member(path, "big.bin", member_limit=1024)


def test_good_archive_extracts(tmp_path):
    path = _zip(tmp_path, {"manifest.json": b"{}", "w/a.npy": b"x"})
    files = safe_extract(path, tmp_path / "out")
    assert sorted(p.name for p in files) == ["a.npy", "manifest.json"]
    assert read_member(path, "manifest.json") == b"{}"


def test_not_a_zip_is_a_model_format_error(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"nope")
    with pytest.raises(ModelFormatError):
        safe_extract(p, tmp_path / "out")
