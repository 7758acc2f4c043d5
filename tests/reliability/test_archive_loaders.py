"""Hostile zips and folders through the real loader (`graphc.load`), not through `safe_extract`,
which no loader calls (issue 21 item 4): each names what it refuses, and the model outside the
artifact never runs."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import ModelFormatError

X = np.array([-1.0, 2.0], np.float32)


def _model(op: str) -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "t",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _members(tmp_path: Path, target: str) -> dict[str, bytes]:
    """The members of a saved Relu artifact (numpy: .graphc zip; ort: .zip bundle)."""
    path = tmp_path / ("a.graphc" if target == "numpy" else "b.zip")
    graphc.compile(_model("Relu"), target=target).save(path)
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path: Path, members: dict[str | zipfile.ZipInfo, bytes]) -> Path:
    if path.suffix:
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
    else:
        path.mkdir()
        for name, data in members.items():
            (path / name).write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["zip", "folder"])
def test_a_bundle_manifest_naming_model_dot_dot_outside_is_refused(tmp_path, kind):
    """Manifest `model: ../outside.onnx`, with a Neg model there (beside a folder bundle; inside the
    zip as a member of that very name). Demonstrated: without the name check in
    `graphc.archive.read_member`, the zip bundle ran the Neg model ([1, -2] for [-1, 2])."""
    members = _members(tmp_path, "ort")
    outside = _model("Neg").SerializeToString()
    manifest = json.loads(members["manifest.json"])
    manifest["model"] = "../outside.onnx"
    manifest["model_sha256"] = hashlib.sha256(outside).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    work = tmp_path / "w"
    (work / "b").mkdir(parents=True) if kind == "zip" else work.mkdir()
    (work / "outside.onnx").write_bytes(outside)
    if kind == "zip":
        members["../outside.onnx"] = outside
        path = _write(work / "b" / "bundle.zip", members)
    else:
        path = _write(work / "bundle", members)
    with pytest.raises(ModelFormatError, match=r"'\.\./outside\.onnx' (would extract outside|is not a relative path inside)"):
        graphc.load(path).run({"x": X})


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_zip_model_member_that_is_a_symlink_entry_is_not_followed(tmp_path, target):
    """A zip entry marked as a symbolic link to another model on disk: the loader reads the entry's
    own bytes (the link text), never the file it points to, so the load fails as malformed instead
    of running the Neg model."""
    members = _members(tmp_path, target)
    onnx.save(_model("Neg"), tmp_path / "outside.onnx")
    name = "model.onnx" if target == "numpy" else json.loads(members["manifest.json"]).get("model", "model.onnx")
    del members[name]
    link = zipfile.ZipInfo(name)
    link.external_attr = 0o120777 << 16
    members[link] = str(tmp_path / "outside.onnx").encode()
    path = _write(tmp_path / ("x.graphc" if target == "numpy" else "x.zip"), members)
    with pytest.raises(ModelFormatError):
        graphc.load(path).run({"x": X})


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_zip_with_slip_members_loads_without_writing_outside(tmp_path, target):
    """Extra members named `../evil.txt` and `/abs/evil.txt` are never extracted by loading or running."""
    members = _members(tmp_path, target)
    members["../evil.txt"] = b"evil"
    members["a/../../evil2.txt"] = b"evil"
    (tmp_path / "in").mkdir()
    path = _write(tmp_path / "in" / ("x.graphc" if target == "numpy" else "x.zip"), members)
    np.testing.assert_array_equal(graphc.load(path).run({"x": X})["y"], [0, 2])
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "evil2.txt").exists()
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == [path.name]
