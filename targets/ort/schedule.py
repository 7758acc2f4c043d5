"""Checking the schedule a partitioned bundle's manifest records, before anything is built from it.

A bundle is input from outside: its ``partition.stages`` must describe a run of its own
``model.onnx``, or loading stops with a :class:`~graphc.errors.ModelFormatError` saying what
is wrong (a KeyError halfway through a run is not an answer). :func:`check_schedule` holds:

1. ``stages`` is a list of records, each with an integer ``stage`` equal to its place, a
   ``kind`` (``onnxruntime`` or ``python``), ``nodes`` (names), ``inputs`` and ``outputs``
   (records with a ``name`` and, for an onnxruntime stage, a decodable ``type``);
2. every top-level node of the model is in exactly one stage, a Python stage's nodes are
   Python nodes (``custom_ops`` entries not lowered to functions) and an onnxruntime stage's
   are not;
3. every value a stage reads exists when the stage runs: a graph input, an initializer, or an
   output of an earlier stage (an onnxruntime stage reads only its recorded inputs, each of
   which must be such a value; its recorded outputs must be outputs of its nodes; a Python
   stage's recorded inputs list every value but initializers its nodes read from outside it);
4. every graph output exists after the last stage.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from graphc.errors import ModelFormatError

from .lowering import FUNCTION
from .partition import ONNXRUNTIME, PYTHON

__all__ = ["check_schedule"]


def check_schedule(model: onnx.ModelProto, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's stages, checked against ``model`` (ModelFormatError naming the first problem)."""
    partition = manifest.get("partition")
    stages = partition.get("stages") if isinstance(partition, dict) else None
    if not isinstance(stages, list) or not stages:
        raise ModelFormatError("the manifest's partition has no list of stages; the bundle is damaged")
    nodes = {n.name: n for n in model.graph.node}
    entries = manifest.get("custom_ops", [])
    python = {e.get("node") for e in entries if isinstance(e, dict) and e.get("lowering") != FUNCTION} \
        if isinstance(entries, list) else set()
    inits = {t.name for t in model.graph.initializer}
    available = {i.name for i in model.graph.input} | inits
    placed: set[str] = set()
    for k, st in enumerate(stages):
        where = f"schedule stage {k}"
        _check_record(st, k, where)
        for name in st["nodes"]:
            if name not in nodes:
                raise ModelFormatError(f"{where} names node {name!r}, which model.onnx has not at top level")
            if name in placed:
                raise ModelFormatError(f"{where}: node {name!r} is in two stages")
            if (st["kind"] == PYTHON) != (name in python):
                which = "is not a Python node of the manifest" if st["kind"] == PYTHON else \
                    "is a Python node, which onnxruntime cannot run"
                raise ModelFormatError(f"{where}: node {name!r} {which}")
            placed.add(name)
        produced = {o for name in st["nodes"] for o in nodes[name].output if o}
        if st["kind"] == PYTHON:
            _check_python_stage(st, nodes, available, inits, where)
            available |= produced
            continue
        reads = [r["name"] for r in st["inputs"]]
        missing = [n for n in reads if n not in available]
        if missing:
            raise ModelFormatError(f"{where} reads {missing[0]!r} before any stage makes it")
        stray = [r["name"] for r in st["outputs"] if r["name"] not in produced]
        if stray:
            raise ModelFormatError(f"{where} hands on {stray[0]!r}, which none of its nodes makes")
        available |= {r["name"] for r in st["outputs"]}
    unplaced = sorted(set(nodes) - placed)
    if unplaced:
        raise ModelFormatError(f"the schedule runs no stage for node(s) {unplaced[:5]}; the bundle is damaged")
    lost = [o.name for o in model.graph.output if o.name not in available]
    if lost:
        raise ModelFormatError(f"graph output {lost[0]!r} is made by no stage of the schedule")
    return stages


def _check_python_stage(st: dict[str, Any], nodes: dict[str, onnx.NodeProto], available: set[str],
                        inits: set[str], where: str) -> None:
    """Each node of a Python stage reads only what an earlier stage, a graph input, an initializer or an
    earlier node of the stage makes, and the stage's ``inputs`` list every such value but initializers
    (a run keeps a value only while a later stage lists it: an unlisted one was a KeyError mid-run)."""
    listed = {r["name"] for r in st["inputs"]}
    made: set[str] = set()
    for name in st["nodes"]:
        for i in (i for i in nodes[name].input if i and i not in made):
            if i not in available:
                raise ModelFormatError(f"{where}: node {name!r} reads {i!r} before any stage makes it")
            if i not in listed and i not in inits:
                raise ModelFormatError(f"{where}: node {name!r} reads {i!r}, which the stage's inputs do not list; "
                                       "the bundle is damaged")
        made |= {o for o in nodes[name].output if o}


def _check_record(st: Any, k: int, where: str) -> None:
    if not isinstance(st, dict) or st.get("stage") != k or st.get("kind") not in (ONNXRUNTIME, PYTHON):
        raise ModelFormatError(f"{where} is not a stage record (stage {k}, kind onnxruntime or python)")
    for key in ("nodes", "inputs", "outputs"):
        if not isinstance(st.get(key), list):
            raise ModelFormatError(f"{where} has no list {key!r}")
    if not all(isinstance(n, str) for n in st["nodes"]):
        raise ModelFormatError(f"{where}: node names must be strings")
    for r in st["inputs"] + st["outputs"]:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise ModelFormatError(f"{where}: a boundary value record has no name")
        if st["kind"] == ONNXRUNTIME:
            try:
                onnx.TypeProto.FromString(base64.b64decode(r.get("type", ""), validate=True))
            except (binascii.Error, TypeError, ValueError, DecodeError) as e:
                raise ModelFormatError(f"{where}: value {r['name']!r} has no readable type ({e})") from e
