"""A quiet onnxruntime CPU session: the reference runs of benchmarks, tools and tests."""

from __future__ import annotations

import onnx
import onnxruntime as ort

__all__ = ["ort_session"]


def ort_session(model: onnx.ModelProto | bytes | str, threads: int = 0) -> ort.InferenceSession:
    """An onnxruntime CPU session for ``model`` (a ModelProto, its bytes, or a path) that logs
    only errors; ``threads`` 0 keeps onnxruntime's default thread counts."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
