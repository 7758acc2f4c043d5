"""onnxruntime as the numeric oracle: quiet sessions and one-call runs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

__all__ = ["ort_session", "ort_run"]


def ort_session(model, threads: int = 0) -> ort.InferenceSession:
    """An onnxruntime CPU session that logs only errors (``threads`` 0 = its default)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def ort_run(model, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``model`` once in onnxruntime; outputs by name."""
    sess = ort_session(model)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))
