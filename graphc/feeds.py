"""Seeded random feeds for a model's runtime inputs (benchmarks, tools and tests share them)."""

from __future__ import annotations

import numpy as np
import onnx

__all__ = ["random_feeds"]


def random_feeds(model: onnx.ModelProto, seed: int = 0, normal: bool = False) -> dict[str, np.ndarray]:
    """Seeded random values for ``model``'s runtime inputs (graph inputs that are not initializers):
    floats uniform in [0, 1) (standard normal with ``normal``), integers in [0, 4); symbolic dims are 1."""
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        values: np.ndarray
        if dtype.kind == "f":
            values = rng.standard_normal(shape) if normal else rng.random(shape)
        else:
            values = rng.integers(0, 4, shape)
        feeds[vi.name] = values.astype(dtype)
    return feeds
