"""Hostile artifacts and bundles: they read nothing outside themselves, only regular files of bounded
size, and every refusal is a GraphcError (never a hang, a read of /dev/zero or a file's bytes leaked)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import GraphcError, ModelFormatError

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not really"


def _relu_model() -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "t",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _external(name: str, location: str, n: int = len(SECRET)) -> onnx.TensorProto:
    t = helper.make_tensor(name, TensorProto.UINT8, [n], b"\0" * n, raw=True)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    return t


def _leaking(model: onnx.ModelProto, location: str) -> onnx.ModelProto:
    """``model`` plus an external-data initializer at ``location`` copied to output ``leak``."""
    model.graph.initializer.append(_external("secret", location))
    model.graph.node.append(helper.make_node("Identity", ["secret"], ["leak"]))
    model.graph.output.append(helper.make_tensor_value_info("leak", TensorProto.UINT8, [len(SECRET)]))
    return model


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A working directory holding ``.ssh/id_rsa`` (onnxruntime resolves external data against it)."""
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_rsa").write_bytes(SECRET)
    monkeypatch.chdir(tmp_path / "home")
    return tmp_path / "home"


def _tamper_bundle(bundle: Path, location: str) -> None:
    """Rewrite the bundle's model.onnx (folder or zip) with an external-data initializer, and the
    manifest's record of the model's digest to match (as a hostile bundle would)."""
    import hashlib

    if bundle.is_dir():
        files = {n: (bundle / n).read_bytes() for n in ("model.onnx", "manifest.json")}
    else:
        with zipfile.ZipFile(bundle) as z:
            files = {n: z.read(n) for n in z.namelist()}
    files["model.onnx"] = _leaking(onnx.load_model_from_string(files["model.onnx"]), location).SerializeToString()
    manifest = json.loads(files["manifest.json"])
    manifest["model_sha256"] = hashlib.sha256(files["model.onnx"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    if bundle.is_dir():
        for n, data in files.items():
            (bundle / n).write_bytes(data)
        return
    with zipfile.ZipFile(bundle, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_a_bundle_with_external_data_outside_it_is_refused(tmp_path, home, kind):
    bundle = tmp_path / ("b.zip" if kind == "zip" else "b")
    graphc.compile(_relu_model(), target="ort").save(bundle)
    _tamper_bundle(bundle, ".ssh/id_rsa")
    with pytest.raises(ModelFormatError, match=r"secret.*\.ssh/id_rsa"):
        graphc.load(bundle).run({"x": np.ones(2, np.float32)})


def test_graphc_run_of_a_bundle_reading_the_home_folder_writes_nothing(tmp_path, home):
    bundle = tmp_path / "b"
    graphc.compile(_relu_model(), target="ort").save(bundle)
    _tamper_bundle(bundle, ".ssh/id_rsa")
    r = _cli("run", str(bundle), "--random-inputs", "0", "--output-dir", "out", cwd=home)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "external data" in r.stderr
    assert not (home / "out").exists() or not any((home / "out").iterdir())


def test_external_data_inside_a_folder_bundle_is_read_confined(tmp_path, home):
    """Confinement, not a blanket refusal: data beside model.onnx is read (by graphc, into the proto)."""
    bundle = tmp_path / "b"
    graphc.compile(_relu_model(), target="ort").save(bundle)
    (bundle / "weights.bin").write_bytes(b"inside!" + bytes(len(SECRET) - 7))
    _tamper_bundle(bundle, "weights.bin")
    out = graphc.load(bundle).run({"x": np.ones(2, np.float32)})
    assert bytes(out["leak"][:7]) == b"inside!"


def test_a_bundle_linking_its_external_data_out_is_refused(tmp_path, home):
    bundle = tmp_path / "b"
    graphc.compile(_relu_model(), target="ort").save(bundle)
    (bundle / "weights.bin").symlink_to(home / ".ssh" / "id_rsa")
    _tamper_bundle(bundle, "weights.bin")
    with pytest.raises(ModelFormatError, match="outside"):
        graphc.load(bundle)


@pytest.mark.parametrize("where", ["initializer", "sparse initializer", "function body", "subgraph constant"])
def test_a_numpy_artifact_with_external_data_is_refused(tmp_path, home, where):
    """The numpy artifact's model.onnx is parsed from bytes: any external tensor, wherever it hides, is refused."""
    art = graphc.compile(_relu_model(), target="numpy")
    path = tmp_path / "a.graphc"
    art.save(path)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    model = onnx.load_model_from_string(files["model.onnx"])
    _hide_external(model, where)
    files["model.onnx"] = model.SerializeToString()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    with pytest.raises(ModelFormatError, match=r"external data '\.ssh/id_rsa'"):
        graphc.load(path)


def _hide_external(model: onnx.ModelProto, where: str) -> None:
    t = _external("secret", ".ssh/id_rsa")
    if where == "initializer":
        model.graph.initializer.append(t)
    elif where == "sparse initializer":
        idx = helper.make_tensor("secret_idx", TensorProto.INT64, [1], [0])
        model.graph.sparse_initializer.append(helper.make_sparse_tensor(t, idx, [len(SECRET)]))
    elif where == "function body":
        fn = helper.make_function("acme", "Leak", [], ["o"], [helper.make_node("Constant", [], ["o"], value=t)],
                                  [helper.make_opsetid("", 17)])
        model.functions.append(fn)
    else:
        branch = helper.make_graph([helper.make_node("Constant", [], ["o"], value=t)], "b", [],
                                   [helper.make_tensor_value_info("o", TensorProto.UINT8, None)])
        model.graph.node.append(helper.make_node("If", ["c"], ["unused"], then_branch=branch, else_branch=branch))


# ------------------------------------------------------------------------- files that are not files
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a child process: bounded in time (a FIFO would block) and address space (/dev/zero)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, preexec_fn=limit)


def _one_line_error(r: subprocess.CompletedProcess, pattern: str) -> None:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr, r.stderr[-2000:]
    assert pattern in r.stderr, r.stderr[-2000:]


def _saved(tmp_path: Path, target: str) -> Path:
    path = tmp_path / ("b" if target == "ort" else "a")
    art = graphc.compile(_relu_model(), target=target)
    if target == "numpy":  # a folder artifact: the zip's members, extracted
        art.save(tmp_path / "a.graphc")
        path.mkdir()
        with zipfile.ZipFile(tmp_path / "a.graphc") as z:
            z.extractall(path)
    else:
        art.save(path)
    return path


@pytest.mark.parametrize("target", ["numpy", "ort"])
@pytest.mark.parametrize("member", ["manifest.json", "model.onnx"])
def test_a_folder_member_linked_to_dev_zero_is_refused_quickly(tmp_path, target, member):
    path = _saved(tmp_path, target)
    (path / member).unlink()
    (path / member).symlink_to("/dev/zero")
    r = _cli("run", str(path), "--random-inputs", "0", cwd=tmp_path)
    _one_line_error(r, "outside the artifact folder")


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_folder_member_that_is_a_fifo_is_refused_quickly(tmp_path, target):
    path = _saved(tmp_path, target)
    (path / "model.onnx").unlink()
    os.mkfifo(path / "model.onnx")
    r = _cli("run", str(path), "--random-inputs", "0", cwd=tmp_path)
    _one_line_error(r, "FIFO")


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_model_linked_to_a_file_outside_the_folder_is_refused(tmp_path, target):
    path = _saved(tmp_path, target)
    other = tmp_path / "other.onnx"
    onnx.save(_relu_model(), other)
    (path / "model.onnx").unlink()
    (path / "model.onnx").symlink_to(other)
    with pytest.raises(ModelFormatError, match="outside the artifact folder"):
        graphc.load(path)


def test_a_link_inside_the_folder_is_followed(tmp_path):
    path = _saved(tmp_path, "ort")
    (path / "model.onnx").rename(path / "real.onnx")
    (path / "model.onnx").symlink_to("real.onnx")
    np.testing.assert_array_equal(graphc.load(path).run({"x": np.array([-1, 2], np.float32)})["y"], [0, 2])


@pytest.mark.parametrize("name", ["/abs/other.onnx", "../other.onnx", 5])
def test_a_manifest_naming_a_model_outside_the_bundle_is_refused(tmp_path, name):
    path = _saved(tmp_path, "ort")
    onnx.save(_relu_model(), tmp_path / "other.onnx")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["model"] = str(tmp_path / "other.onnx") if name == "/abs/other.onnx" else name
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="artifact folder|must be a string"):
        graphc.load(path)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_graphc_run_of_a_device_or_fifo_is_refused_quickly(tmp_path, special):
    if special == "fifo":
        os.mkfifo(tmp_path / "fifo")
        special = str(tmp_path / "fifo")
    r = _cli("run", special, "--random-inputs", "0", cwd=tmp_path)
    _one_line_error(r, "not a regular file")


def test_an_oversized_folder_manifest_is_refused(tmp_path):
    path = _saved(tmp_path, "ort")
    with open(path / "manifest.json", "r+b") as f:
        f.truncate(65 << 20)  # sparse: no disk used
    with pytest.raises(ModelFormatError, match="over the 67108864-byte limit"):
        graphc.load(path)


def test_a_manifest_subgraph_with_external_data_is_refused(tmp_path, home):
    """An op run by onnx.reference carries its subgraphs in the manifest; onnx.reference would read their
    external data relative to the working directory."""
    import base64

    path = _saved(tmp_path, "ort")
    branch = helper.make_graph([helper.make_node("Identity", ["secret"], ["o"])], "b", [],
                               [helper.make_tensor_value_info("o", TensorProto.UINT8, None)],
                               [_external("secret", ".ssh/id_rsa")])
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["custom_ops"] = [{"node": "flex", "lowering": "onnx-reference", "params": "{}",
                               "source": {"domain": "", "op_type": "FlexAttention", "opset": 24},
                               "slots": {"node_slots": [0], "blob_slots": [], "runtime_slots": [0], "n_slots": 1},
                               "input_dtypes": ["float32"], "output_dtypes": ["float32"], "output_shapes": [None],
                               "subgraphs": {"score_mod": base64.b64encode(branch.SerializeToString()).decode()}}]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match=r"subgraph 'score_mod' of node 'flex'.*external data"):
        graphc.load(path)


def test_every_flipped_byte_of_a_compressed_model_is_a_model_format_error(tmp_path):
    """One flipped byte in the deflated model.onnx used to escape as zlib.error (62 of 206 positions). A flip
    in bits the inflater ignores (the final block's padding) changes nothing: that artifact loads and runs."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [64], np.arange(64, dtype=np.float32))
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])], [w])
    path = tmp_path / "a.graphc"
    graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy").save(path)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model.onnx")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(info.compress_size):
        flipped = bytearray(data)
        flipped[start + k] ^= 0x55
        (tmp_path / "f.graphc").write_bytes(bytes(flipped))
        try:
            art = graphc.load(tmp_path / "f.graphc")
        except ModelFormatError:
            continue
        np.testing.assert_array_equal(art.run({"x": np.ones(64, np.float32)})["y"], np.arange(64) + 1)


def _field_paths(obj, prefix=()):
    """Every field of a manifest (lists: their first two items)."""
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _field_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:2]):
            yield from _field_paths(v, prefix + (i,))


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_every_manifest_field_of_a_wrong_type_is_a_graphc_error(tmp_path, target):
    """Each field of a saved manifest replaced by null, a number, a string, an array, an object: load and run
    end in a GraphcError naming the problem, or work (unused fields). Before the manifest schemas, 23 (numpy)
    and 105 (ort) of these cases escaped as TypeError/AttributeError/KeyError/ValueError/StopIteration."""
    import copy

    from graphc.layers import load_layer_modules
    from tests.layers.models import CAFFE_LAYERS, interp_model

    layers = load_layer_modules([str(CAFFE_LAYERS)])
    x = np.linspace(-1, 1, 60, dtype=np.float32).reshape(1, 3, 4, 5)
    art = graphc.compile(interp_model(4, 4), target, layers=layers, **({"mode": "single"} if target == "ort" else {}))
    path = tmp_path / ("a.graphc" if target == "numpy" else "b")
    art.save(path)
    files = {}
    if target == "numpy":
        with zipfile.ZipFile(path) as z:
            files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files["manifest.json"] if files else (path / "manifest.json").read_text())
    escaped = []
    for field in _field_paths(manifest):
        for bad in (None, 5, "x", [1], {"a": 1}):
            edited = copy.deepcopy(manifest)
            holder = edited
            for key in field[:-1]:
                holder = holder[key]
            holder[field[-1]] = bad
            text = json.dumps(edited).encode()
            if files:
                with zipfile.ZipFile(path, "w") as z:
                    for name, data in dict(files, **{"manifest.json": text}).items():
                        z.writestr(name, data)
            else:
                (path / "manifest.json").write_bytes(text)
            try:
                graphc.load(path, layers=layers).run({"x": x})
            except GraphcError:
                pass
            except Exception as e:  # noqa: BLE001 - what this test is about
                escaped.append(f"{'.'.join(map(str, field))}={bad!r}: {type(e).__name__}: {e}"[:160])
    assert not escaped, f"{len(escaped)} escaped:\n" + "\n".join(escaped[:20])


def test_external_data_larger_than_its_tensor_is_refused_before_reading(tmp_path):
    """An 8-byte tensor whose external file is a sparse 900 MB file: refused from the sizes alone (it used to be
    read whole, peaking at 1.87 GB)."""
    import tracemalloc

    model = _relu_model()
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], b"\0" * 8, raw=True)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="w.bin")
    model.graph.initializer.append(t)
    with open(tmp_path / "w.bin", "wb") as f:
        f.truncate(900 << 20)
    onnx.save(model, tmp_path / "m.onnx")
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match=r"'w'.*holds 943718400 bytes.*need 8"):
            graphc.load_model(tmp_path / "m.onnx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"refusing it allocated {peak} bytes"
    with open(tmp_path / "w.bin", "r+b") as f:  # the right size loads
        f.truncate(8)
    assert graphc.load_model(tmp_path / "m.onnx") is not None


def test_a_zip_member_inflating_past_its_declared_size_is_refused_without_inflating_it(tmp_path):
    """A member declaring 1000 bytes whose data inflates to 256 MiB: it used to be inflated whole (the peak twice
    its size) before the CRC check failed; now at most 1 MiB is inflated at a time."""
    import struct
    import tracemalloc

    from graphc.archive import read_member

    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("manifest.json", "w", force_zip64=False) as f:
            for _ in range(256):
                f.write(bytes(1 << 20))
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 1000)  # the local header's uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)  # and the central directory's
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError):
            read_member(path, "manifest.json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"reading the member allocated {peak} bytes"


_DOUBLE_LAYER = '''
import graphc


@graphc.register_layer("Double", domain="acme")
class Double(graphc.Layer):
    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = 2 * inputs[0]
'''


@pytest.mark.parametrize("damage", [[], [{"name": "x"}], [{"name": "zz"}]])
def test_a_python_stage_not_listing_what_it_reads_is_refused_at_load(tmp_path, damage):
    """A partitioned bundle (Relu | Python Double | Neg) whose Python stage's ``inputs`` record drops the value
    its node reads: the run freed that value after the first stage and the Python stage died of a KeyError;
    now loading is a ModelFormatError naming the stage, the node and the value."""
    layers = tmp_path / "double.py"
    layers.write_text(_DOUBLE_LAYER)
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Double", ["r"], ["d"], domain="acme", name="double"),
             helper.make_node("Neg", ["d"], ["y"], name="neg")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    path = tmp_path / "a.graphc"
    graphc.compile(model, target="ort", mode="partitioned", layers=str(layers)).save(path)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(graphc.load(path, layers=str(layers)).run({"x": x})["y"], -2 * x)
    manifest = json.loads((path / "manifest.json").read_text())
    stage = manifest["partition"]["stages"][1]
    assert stage["kind"] == "python" and [r["name"] for r in stage["inputs"]] == ["r"]
    stage["inputs"] = damage
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match=r"stage 1: node 'double' reads 'r', which the stage's inputs do not"):
        graphc.load(path, layers=str(layers)).run({"x": x})
