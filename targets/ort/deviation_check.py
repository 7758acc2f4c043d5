"""Which declared deviations the installed onnxruntime really shows, checked once and cached.

An entry of :data:`targets.ort.deviations.DEVIATIONS` is *present* when its case, compiled
for onnxruntime's own kernels only (``OrtTarget(fallback=False)``), fails or gives another
answer than the case expects. The answers are cached in memory and in
``<cache>/ort-deviations.json`` under a fingerprint of the onnxruntime and onnx versions
and the processor (one entry depends on the instruction set), so each environment checks
each entry once, and only when a model has a node the entry's predicate matches.
``<cache>`` is ``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else
``~/.cache/graphc``; an unwritable cache only costs the check again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from graphc.atomic import atomic_write_bytes
from graphc.conformance import NodeCase, collect_node_cases, outputs_match

if TYPE_CHECKING:
    from .deviations import Deviation

__all__ = ["DeviationCheck", "default_check", "environment_fingerprint", "shows_deviation", "deviation_evidence",
           "case_of"]
logger = logging.getLogger(__name__)

CACHE_FILE = "ort-deviations.json"


def environment_fingerprint() -> str:
    """onnxruntime and onnx versions and the processor's identity (machine and CPU flags)."""
    import onnx
    import onnxruntime

    return (f"onnxruntime {onnxruntime.__version__}; onnx {onnx.__version__}; {platform.machine()} "
            f"cpu {hashlib.sha256(_cpu_flags().encode()).hexdigest()[:16]}")


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def case_of(dev: Deviation) -> NodeCase:
    """The case that shows ``dev``: built by its probe, or found in the node suite."""
    if dev.probe is not None:
        return dev.probe()
    found = [c for c in collect_node_cases() if c.name == dev.case]
    if not found:
        raise LookupError(f"deviation {dev.key}: the installed onnx has no node-suite case {dev.case!r}")
    return found[0]


def shows_deviation(dev: Deviation) -> bool:
    """Run ``dev``'s case on onnxruntime's own kernels: True when it fails or differs from the case."""
    return deviation_evidence(dev) is not None


def deviation_evidence(dev: Deviation) -> str | None:
    """How onnxruntime's own kernels get ``dev``'s case wrong ("fails: ..." or "differs: ..."), or None."""
    import graphc
    from graphc.errors import GraphcError

    case = case_of(dev)
    try:
        with np.errstate(all="ignore"):  # the ort target by name: this module is imported by the target's
            out = graphc.compile(case.model, target="ort", fallback=False).run(case.feeds)
    except GraphcError as e:
        return f"fails: {str(e)[:300]}"
    names = [o.name for o in case.model.graph.output]
    whys = [outputs_match(want, out[n], case.rtol, case.atol) for n, want in zip(names, case.outputs)]
    return next((f"differs: {why}" for why in whys if why is not None), None)


class DeviationCheck:
    """Answers "does the installed onnxruntime show this deviation?", each entry checked once.

    ``forced`` fixes answers by entry key (tests route around a deviation the machine does
    not show); ``cache_dir=None`` keeps answers in memory only.
    """

    def __init__(self, cache_dir: Path | None = None, forced: Mapping[str, bool] | None = None):
        self.cache_dir = cache_dir
        self.forced = dict(forced or {})
        self._lock = threading.Lock()
        self._answers: dict[str, bool] | None = None
        self._fingerprint = environment_fingerprint()

    def present(self, dev: Deviation) -> bool:
        if dev.key in self.forced:
            return self.forced[dev.key]
        with self._lock:
            answers = self._load()
            if dev.key not in answers:
                answers[dev.key] = shows_deviation(dev)
                logger.info("onnxruntime deviation %s: %s (%s)", dev.key,
                            "present" if answers[dev.key] else "absent", self._fingerprint)
                self._store(answers)
            return answers[dev.key]

    def _path(self) -> Path | None:
        return self.cache_dir / CACHE_FILE if self.cache_dir is not None else None

    def _load(self) -> dict[str, bool]:
        if self._answers is None:
            self._answers = {}
            path = self._path()
            try:
                stored = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else {}
                mine = stored.get(self._fingerprint, {}) if isinstance(stored, dict) else {}
                self._answers = {k: v for k, v in mine.items() if isinstance(v, bool)}
            except (OSError, ValueError):
                pass  # unreadable cache: check again
        return self._answers

    def _store(self, answers: dict[str, bool]) -> None:
        path = self._path()
        if path is None:
            return
        try:
            stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            if not isinstance(stored, dict):
                stored = {}
        except (OSError, ValueError):
            stored = {}
        stored[self._fingerprint] = answers
        try:
            atomic_write_bytes(path, json.dumps(stored, indent=1, sort_keys=True).encode())
        except OSError as e:
            logger.info("cannot cache onnxruntime deviation answers in %s: %s", path, e)


def default_cache_dir() -> Path:
    """``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else ``~/.cache/graphc``."""
    if os.environ.get("GRAPHC_CACHE_DIR"):
        return Path(os.environ["GRAPHC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphc"


@functools.cache
def default_check() -> DeviationCheck:
    """The process's check (one per process: the answers depend only on the environment)."""
    return DeviationCheck(default_cache_dir())
