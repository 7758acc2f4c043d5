"""onnxruntime as the numeric oracle: quiet sessions and one-call runs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

__all__ = ["ort_session", "ort_run", "random_feeds"]


def ort_session(model, threads: int = 0) -> ort.InferenceSession:
    """An onnxruntime CPU session that logs only errors (``threads`` 0 = its default)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def ort_run(model, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``model`` once in onnxruntime; outputs by name."""
    sess = ort_session(model)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def random_feeds(model, seed: int = 0, normal: bool = False) -> dict[str, np.ndarray]:
    """Seeded random values for a model's runtime inputs (graph inputs that are not initializers):
    floats uniform in [0, 1) (standard normal with ``normal``), integers in [0, 4); symbolic dims are 1."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if dtype.kind == "f":
            values = rng.standard_normal(shape) if normal else rng.random(shape)
        else:
            values = rng.integers(0, 4, shape)
        feeds[vi.name] = values.astype(dtype)
    return feeds
