"""TensorFlow's atrous (dilated) convolution pattern folded into one dilated convolution, on the GraphDef.

``tf.nn.atrous_conv2d`` and dilated ``depthwise_conv2d`` / ``separable_conv2d`` write
``SpaceToBatchND(x, block, paddings) -> Conv2D | DepthwiseConv2dNative (VALID, stride 1) ->
BatchToSpaceND(y, block, crops)``. That is the convolution with ``dilations = block`` on ``x`` with
explicit pads ``paddings[:, 0] - crops[:, 0]`` before and ``paddings[:, 1] - crops[:, 1]`` after (output
row ``i`` of the triple reads input rows ``i + crop_top - pad_top + block * k``), as OpenCV's TF
importer folds it. The fold rewrites the convolution's NodeDef (``dilations``, ``padding: EXPLICIT``,
``explicit_paddings``, input ``x``) and turns the BatchToSpaceND into an ``Identity`` of it; a pattern
that does not fit (another reader in between, a constant that is not one, NCHW, negative pads) is left
alone and its ops map one by one.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["fold_atrous_convolutions"]

_CONVS = ("Conv2D", "DepthwiseConv2dNative")


def fold_atrous_convolutions(nodes: list[Any], const_value: Callable[[Any], np.ndarray | None]) -> list[Any]:
    """``nodes`` with each foldable SpaceToBatchND -> conv -> BatchToSpaceND triple folded (module docstring).

    ``const_value(ref)`` is the array of a Const input reference, or None. The NodeDefs passed in are not
    modified: folded ones are copies.
    """
    by_name = {n.name: n for n in nodes}
    readers: dict[str, list[Any]] = {}
    for n in nodes:
        for ref in n.input:
            if not ref.startswith("^"):
                readers.setdefault(ref.partition(":")[0], []).append(n)
    replaced: dict[str, Any] = {}
    for b2s in nodes:
        if b2s.op != "BatchToSpaceND" or len(b2s.input) < 3:
            continue
        conv = by_name.get(b2s.input[0].partition(":")[0])
        if conv is None or conv.op not in _CONVS or len(readers.get(conv.name, [])) != 1 or len(conv.input) < 2:
            continue
        s2b = by_name.get(conv.input[0].partition(":")[0])
        if s2b is None or s2b.op != "SpaceToBatchND" or len(readers.get(s2b.name, [])) != 1 or len(s2b.input) < 3:
            continue
        try:
            folded = _fold(s2b, conv, b2s, const_value)
        except (ValueError, TypeError, IndexError):  # malformed constants: the ops map (or fail) one by one
            folded = None
        if folded is not None:
            replaced[conv.name], replaced[b2s.name] = folded
            replaced[s2b.name] = None
    return [replaced.get(n.name, n) for n in nodes if replaced.get(n.name, n) is not None]


def _fold(s2b: Any, conv: Any, b2s: Any, const_value: Callable[[Any], np.ndarray | None]) -> tuple[Any, Any] | None:
    block, block2 = const_value(s2b.input[1]), const_value(b2s.input[1])
    pads, crops = const_value(s2b.input[2]), const_value(b2s.input[2])
    if any(v is None for v in (block, block2, pads, crops)):
        return None
    block, block2 = np.asarray(block).reshape(-1), np.asarray(block2).reshape(-1)
    pads, crops = np.asarray(pads).reshape(-1, 2), np.asarray(crops).reshape(-1, 2)
    fmt = conv.attr["data_format"].s.decode() if "data_format" in conv.attr else "NHWC"
    dil = list(conv.attr["dilations"].list.i) if "dilations" in conv.attr else [1, 1, 1, 1]
    strides = list(conv.attr["strides"].list.i) if "strides" in conv.attr else [1, 1, 1, 1]
    padding = conv.attr["padding"].s.decode() if "padding" in conv.attr else "VALID"
    if (block.size != 2 or not np.array_equal(block, block2) or pads.shape != (2, 2) or crops.shape != (2, 2)
            or fmt != "NHWC" or padding != "VALID" or any(int(v) != 1 for v in dil + strides)):
        return None
    before, after = pads[:, 0] - crops[:, 0], pads[:, 1] - crops[:, 1]
    if np.any(before < 0) or np.any(after < 0):
        return None
    new_conv = type(conv)()
    new_conv.CopyFrom(conv)
    new_conv.input[0] = s2b.input[0]
    new_conv.attr["dilations"].list.i[:] = [1, int(block[0]), int(block[1]), 1]
    new_conv.attr["padding"].s = b"EXPLICIT"
    new_conv.attr["explicit_paddings"].list.i[:] = [0, 0, int(before[0]), int(after[0]),
                                                    int(before[1]), int(after[1]), 0, 0]
    identity = type(b2s)()
    identity.name, identity.op = b2s.name, "Identity"
    identity.input.append(conv.name)
    identity.input.extend(ref for ref in b2s.input if ref.startswith("^"))
    if "T" in b2s.attr:
        identity.attr["T"].CopyFrom(b2s.attr["T"])
    return new_conv, identity
