"""Without onnxruntime-extensions installed, a model needing Python ops inside onnxruntime says how
to get it (a GraphcError, not a bare ModuleNotFoundError); partitioned execution needs none.
Run in a fresh process: this one may have registered Python ops already."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import sys
    sys.modules["onnxruntime_extensions"] = None  # as if it were not installed: importing it fails
    import numpy as np
    from onnx import TensorProto, helper
    import graphc

    class Double(graphc.Layer):
        def output_shapes(self, input_shapes):
            return [input_shapes[0]]

        def forward(self, inputs, outputs, internals):
            outputs[0][...] = inputs[0] * 2

    reg = graphc.LayerRegistry()
    reg.register("Double", domain="test.ext")(Double)
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Double", ["x"], ["y"], domain="test.ext")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])]),
        opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("test.ext", 1)])
    x = np.arange(3, dtype=np.float32)
    y = graphc.compile(model, "ort", layers=reg).run({"x": x})["y"]  # partitioned: the layer runs in-process
    assert np.array_equal(y, 2 * x), y
    try:
        graphc.compile(model, "ort", layers=reg, mode="single")
    except graphc.GraphcError as e:
        print("GraphcError:", e)
''')


def test_without_extensions_partitioned_runs_and_single_says_what_to_install():
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "GraphcError:" in done.stdout and "pip install 'graphc[ort]'" in done.stdout, done.stdout
