"""onnxruntime as the numeric oracle: one-call runs (the quiet session and the random feeds are
the library's :mod:`graphc.ort_session` and :mod:`graphc.feeds`, re-exported here).

``ort_run`` asks onnxruntime for the exact answer of a quantized model: on x86-64 processors
without AVX-VNNI its uint8 x int8 kernels saturate (targets/ort/widen_weights.py), so
constant int8 weights that could saturate are first re-expressed as uint8 (the same real
values; ``test_deviations.py`` checks the rewrite changes nothing where onnxruntime is exact).
"""

from __future__ import annotations

import numpy as np
import onnx

from graphc.feeds import random_feeds
from graphc.ort_session import ort_session

__all__ = ["ort_session", "ort_run", "random_feeds", "run_keeping_inputs", "without_u8s8_saturation"]


def without_u8s8_saturation(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model``, or a copy whose int8 weights onnxruntime could saturate with are re-expressed as uint8."""
    import graphc
    from targets.ort.widen_weights import needs_widening, widen_signed_weights

    if not any(t.data_type == onnx.TensorProto.INT8 for t in model.graph.initializer):
        return model
    named = onnx.ModelProto()
    named.CopyFrom(model)
    for i, node in enumerate(named.graph.node):
        node.name = node.name or f"oracle_node_{i}"
    graph = graphc.load_model(named)
    graphc.PassManager("infer-shapes").run(graph)
    names = [op.name for op in graph.topological_order() if needs_widening(op)]
    if names:
        widen_signed_weights(named, names)
    return named


def ort_run(model, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``model`` once in onnxruntime (its exact integer answer: :func:`without_u8s8_saturation`);
    outputs by name."""
    if isinstance(model, onnx.ModelProto):
        model = without_u8s8_saturation(model)
    sess = ort_session(model)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def run_keeping_inputs(art, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``art.run(feeds)``, asserting the run left every caller array as it was ("inputs are never
    modified", docs/reliability.md): dtype, shape and every bit (NaNs and ml_dtypes types included)."""
    before = {k: np.array(v, copy=True) for k, v in feeds.items()}
    out = art.run(feeds)
    for k, v in before.items():
        now = np.asarray(feeds[k])
        same = now.dtype == v.dtype and now.shape == v.shape and (
            now.tobytes() == v.tobytes() if now.dtype != object else now.tolist() == v.tolist())
        assert same, f"the run modified the caller's input {k!r}"
    return out
