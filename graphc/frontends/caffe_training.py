"""Training-only layers of a Caffe net (a ``.caffemodel`` holds the train net): dropped at import.

* Loss, accuracy and ``Silence`` layers compute nothing inference needs: dropped.
* Data layers (``Data``, ``MemoryData``, ``ImageData``, ...) feed the net from a database:
  dropped, and each top a kept layer reads becomes a graph input of that name (shape from
  ``memory_data_param`` / ``input_param`` when the prototxt gives one, else unknown), so the
  net runs on arrays. Labels only the dropped loss layers read never become inputs.

:func:`drop_training_layer` is what the Caffe frontend calls for each layer; one warning
lists what was dropped (:func:`report_dropped`).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["TRAINING_ONLY", "DATA_LAYERS", "drop_training_layer", "report_dropped"]
logger = logging.getLogger("graphc.frontends")

#: layer types that exist for training only (losses, metrics, Silence)
TRAINING_ONLY = frozenset({
    "SoftmaxWithLoss", "Accuracy", "Silence", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
    "InfogainLoss", "MultinomialLogisticLoss", "ContrastiveLoss", "MultiBoxLoss", "SmoothL1Loss",
    "DetectionEvaluate", "HDF5Output",
})

#: layer types that read training data: their tops become graph inputs where a kept layer reads them
DATA_LAYERS = frozenset({
    "Data", "MemoryData", "ImageData", "HDF5Data", "WindowData", "DummyData", "AnnotatedData", "VideoData",
})


def drop_training_layer(layer: Any, text: dict[str, list[Any]], pending: dict[str, list[int | None] | None],
                        dropped: list[str]) -> bool:
    """Whether ``layer`` (a LayerParameter) is training-only and left out.

    A data layer's tops are added to ``pending`` (top -> shape or None): the frontend makes
    one a graph input when a kept layer first reads it. ``dropped`` collects a description
    of every layer left out, for :func:`report_dropped`.
    """
    if layer.type in TRAINING_ONLY:
        dropped.append(f"{layer.name!r} ({layer.type})")
        return True
    if layer.type not in DATA_LAYERS:
        return False
    shape = _data_shape(text)
    for i, top in enumerate(layer.top):
        pending.setdefault(top, shape if i == 0 else None)  # the data, then labels
    dropped.append(f"{layer.name!r} ({layer.type}; its tops read by the net become graph inputs)")
    return True


def _data_shape(text: dict[str, list[Any]]) -> list[int | None] | None:
    """``[batch_size, channels, height, width]`` of a prototxt's ``memory_data_param``, if given."""
    blocks = [b for b in text.get("memory_data_param", []) if isinstance(b, dict)]
    if not blocks:
        return None
    dims = [blocks[0].get(k, [None])[0] for k in ("batch_size", "channels", "height", "width")]
    return [int(d) if isinstance(d, int) else None for d in dims]


def report_dropped(dropped: list[str]) -> None:
    """One warning naming every training-only layer left out of the net."""
    if dropped:
        logger.warning("dropped %d training-only layer(s) of the Caffe net: %s", len(dropped), ", ".join(dropped))
