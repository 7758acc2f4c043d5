"""`graphc run` on hostile or awkward inputs (issue 20, Low): a .npy header claiming more than the file
holds, random inputs larger than the memory budget, and outputs whose names collide as file names —
each a clear error or a distinct file, never a traceback or a silently lost output."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _relu(name: str, shape) -> onnx.ModelProto:
    return helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]))


def test_a_npy_header_claiming_more_than_the_file_holds(tmp_path):
    onnx.save(_relu("g", [2]), tmp_path / "m.onnx")
    assert _cli("compile", "m.onnx", "-o", "m.graphc", cwd=tmp_path).returncode == 0
    with open(tmp_path / "liar.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
        f.write(b"\0" * 16)
    r = _cli("run", "m.graphc", "--input", "x=liar.npy", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "header claims shape (1000000, 1000000)" in r.stderr and "holds 16 bytes" in r.stderr


def test_random_inputs_over_the_memory_budget(tmp_path):
    onnx.save(_relu("g", [100000, 100000, 100]), tmp_path / "big.onnx")
    # the ort target's compile checks static sizes against the budget too: allow this 4 TB model there, so the
    # run's own check of --random-inputs (under the default budget, the stricter one at load) is what refuses
    assert _cli("compile", "big.onnx", "--target", "ort", "-o", "big.bundle", "--memory-budget", str(10**16),
                cwd=tmp_path).returncode == 0
    r = _cli("run", "big.bundle", "--random-inputs", "0", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "over the memory budget" in r.stderr and "--input x=FILE.npy" in r.stderr


def test_outputs_whose_names_collide_as_files_are_all_written(tmp_path):
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["a/b"]), helper.make_node("Neg", ["x"], ["a_b"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("a/b", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("a_b", TensorProto.FLOAT, [3])]))
    onnx.save(model, tmp_path / "two.onnx")
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    np.save(tmp_path / "x.npy", x)
    assert _cli("compile", "two.onnx", "-o", "two.graphc", cwd=tmp_path).returncode == 0
    r = _cli("run", "two.graphc", "--input", "x=x.npy", "--output-dir", "outs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "outs" / "a%2Fb.npy"), np.maximum(x, 0))
    np.testing.assert_array_equal(np.load(tmp_path / "outs" / "a_b.npy"), -x)
