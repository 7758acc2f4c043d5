"""No input kills the process on the ort target: a layer that promises a huge output, or returns strings
onnxruntime-extensions cannot convert, is a LayerError naming the node, never an abort (exit 134).

Each case runs in a child process, so an abort is a failed test, not a dead pytest."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from onnx import TensorProto, helper, save

ROOT = Path(__file__).resolve().parents[2]

LAYERS = '''
import numpy as np
import graphc


@graphc.register_layer("Interp", domain="caffe")
class Interp(graphc.Layer):
    """The docs' Interp layer: nearest-neighbour resize to height x width."""
    height = graphc.Param(int)
    width = graphc.Param(int)

    def output_shapes(self, input_shapes):
        n, c, _, _ = input_shapes[0]
        return [(n, c, self.height, self.width)]

    def forward(self, inputs, outputs, internals):
        x = inputs[0]
        rows = np.arange(self.height) * x.shape[2] // self.height
        cols = np.arange(self.width) * x.shape[3] // self.width
        outputs[0][...] = x[:, :, rows][:, :, :, cols]


BAD = {"none": None, "int": 7, "list": ["a"], "surrogate": "\\ud800", "bytes": b"raw"}


@graphc.register_layer("Label", domain="acme")
class Label(graphc.Layer):
    """One string per element of the input; ``bad`` puts one value that is not a string among them."""
    bad = graphc.Param(str, default="")

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def output_dtypes(self, input_dtypes):
        return [np.dtype(object)]

    def forward(self, inputs, outputs, internals):
        out = np.array([f"v{v:g}" for v in inputs[0].reshape(-1)], dtype=object).reshape(inputs[0].shape)
        if self.bad:
            out.reshape(-1)[0] = BAD[self.bad]
        return [out]
'''

CHILD = '''
import sys
import numpy as np
import graphc
from graphc import LayerError

art = None
x = np.ones({shape}, np.float32)
for attempt in range(2):  # the artifact survives a failure and fails the same way again
    try:  # a refusal may come at compile time (static shapes) or at run time
        # mode="single": Python nodes as onnxruntime-extensions ops inside one session (where the
        # aborts were); an OrtTarget without the option ignores it
        art = art or graphc.compile(sys.argv[1], target="ort", layers=[sys.argv[2]], mode="single")
        out = art.run({{"x": x}})
    except LayerError as e:
        print("LayerError:", e)
    else:
        print("ran:", {{k: (v.shape, v.dtype.name) for k, v in out.items()}})
'''


def _model(path: Path, node: object, x_shape: list[int], y_type: int) -> Path:
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", y_type, None)])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(node.domain, 1)]), path)
    return path


def _run_child(tmp_path: Path, model: Path, x_shape: list[int], **env: str) -> subprocess.CompletedProcess:
    """The child, its address space bounded (8 GiB) so a regression fails fast instead of swapping."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))

    layers = tmp_path / "hostile_layers.py"
    layers.write_text(LAYERS)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(shape=tuple(x_shape))))
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, str(script), str(model), str(layers)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


def _assert_layer_error_twice(r: subprocess.CompletedProcess, node: str, pattern: str) -> None:
    assert r.returncode == 0, f"the process died (exit {r.returncode}): {r.stderr[-1500:]}"
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("LayerError", "ran"))]
    assert len(lines) == 2 and all(ln.startswith("LayerError") for ln in lines), r.stdout
    assert all(repr(node) in ln and pattern in ln for ln in lines), r.stdout


@pytest.mark.parametrize("size, budget", [(200_000, None), (40_000, 1 << 30)])
def test_a_layer_promising_a_huge_output_is_a_layer_error(tmp_path, size, budget):
    """200000 x 200000 float32 (160 GB) is over the default budget (half the memory); 40000 x 40000
    (6.4 GB, which the machine may allocate lazily and then die filling) over GRAPHC_MEMORY_BUDGET=1 GiB:
    both are refused before anything is allocated."""
    node = helper.make_node("Interp", ["x"], ["y"], domain="caffe", name="resize1", height=size, width=size)
    model = _model(tmp_path / "m.onnx", node, [1, 1, 2, 2], TensorProto.FLOAT)
    env = {"GRAPHC_MEMORY_BUDGET": str(budget)} if budget else {}
    r = _run_child(tmp_path, model, [1, 1, 2, 2], **env)
    _assert_layer_error_twice(r, "resize1", "memory budget")


def test_a_huge_output_that_fails_to_allocate_gets_a_small_placeholder(tmp_path):
    """With the budget raised past it, the 160 GB output fails to allocate inside the Python op; the
    placeholder handed back to onnxruntime must not try to allocate it again (it did, outside the
    op's try, and the process aborted)."""
    node = helper.make_node("Interp", ["x"], ["y"], domain="caffe", name="resize1", height=200_000, width=200_000)
    model = _model(tmp_path / "m.onnx", node, [1, 1, 2, 2], TensorProto.FLOAT)
    r = _run_child(tmp_path, model, [1, 1, 2, 2], GRAPHC_MEMORY_BUDGET=str(10**15))
    _assert_layer_error_twice(r, "resize1", "MemoryError")


@pytest.mark.parametrize("bad", ["none", "int", "list", "surrogate", "bytes"])
def test_a_string_output_holding_a_non_string_is_a_layer_error(tmp_path, bad):
    node = helper.make_node("Label", ["x"], ["y"], domain="acme", name="label1", bad=bad)
    model = _model(tmp_path / "m.onnx", node, [3], TensorProto.STRING)
    r = _run_child(tmp_path, model, [3])
    _assert_layer_error_twice(r, "label1", "output 0")


def test_a_string_output_of_strings_runs(tmp_path):
    node = helper.make_node("Label", ["x"], ["y"], domain="acme", name="label1")
    model = _model(tmp_path / "m.onnx", node, [3], TensorProto.STRING)
    r = _run_child(tmp_path, model, [3])
    assert r.returncode == 0 and r.stdout.count("ran: {'y': ((3,), 'object')}") == 2, r.stdout + r.stderr[-1500:]
