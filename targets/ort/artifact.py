"""OrtArtifact: a lowered model in an onnxruntime session, its Python ops registered."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx

from graphc.errors import GraphcError, InputError
from graphc.limits import begin_run, current_budget, end_run

from .budget import RunSizes, check_outputs

from .feeds import check_feeds, feed_specs
from .loop_guard import guard_loops
from .lowered_artifact import LoweredArtifact
from .lowering import FUNCTION
from .protos import initializers_of
from .pyop_registry import PYOPS
from .pynodes import node_spec
from .pyops import HostedOp, PyOpHost, PyOpSpec, rewrite_for_host
from .tensors import BoundaryTypes

__all__ = ["OrtArtifact", "SessionRefused"]
logger = logging.getLogger(__name__)


class SessionRefused(GraphcError):
    """onnxruntime refused to create a session for the lowered model; ``detail`` is its message,
    ``model`` the refused model (set by the target while it re-lowers)."""

    def __init__(self, detail: str, model: onnx.ModelProto | None = None):
        super().__init__(f"onnxruntime refused the lowered model: {detail[:500]}")
        self.detail = detail
        self.model = model


class OrtArtifact(LoweredArtifact):
    """Runs a lowered model in onnxruntime; ``save`` writes the bundle.

    ``manifest["custom_ops"]`` describes every node that is not plain ONNX;
    ``classes`` maps each layer import path it names to the layer class (resolved by
    the compile, or by :func:`targets.ort.loader.load_bundle` from the layers the caller
    named); ``sources`` are the layer modules' source bytes to ship in the bundle.
    """

    def __init__(self, model: onnx.ModelProto, manifest: dict[str, Any], classes: dict[str, type],
                 sources: dict[str, bytes] | None = None):
        super().__init__(model, manifest, classes, sources)
        self.host = PyOpHost()
        self._session, views = self._make_session()
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self._io = BoundaryTypes(self._session, views)
        self._feeds = feed_specs(self._session, self._io, self.model)
        self._sizes = RunSizes(self.model)

    # ----------------------------------------------------------------- session
    def _make_session(self) -> tuple[Any, dict[str, str]]:
        """The session, and the graph inputs/outputs it carries as uint8 codes (name -> dtype name)."""
        import onnxruntime as ort

        inits = initializers_of(self.model.graph)
        renames: dict[str, tuple[HostedOp, PyOpSpec]] = {}
        for entry in self.manifest.get("custom_ops", []):
            if entry["lowering"] == FUNCTION:
                continue
            spec = self._spec(entry, inits)
            renames[entry["node"]] = (self.host.register(spec), spec)
        guarded, guards = guard_loops(self.model, self.host)  # Loop iteration bounds (loop_guard.py)
        renames.update(guards)
        model, views = rewrite_for_host(guarded, renames) if renames else (guarded, {})
        if renames:  # shared, and built after every Python op is registered (see pyop_registry)
            so = PYOPS.session_options()
        else:
            so = ort.SessionOptions()
            so.log_severity_level = 4  # a refusal or run failure becomes our exception, not a log line
        try:
            session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
            raise SessionRefused(str(e).strip()) from e
        return session, views

    def _spec(self, entry: dict[str, Any], inits: dict[str, onnx.TensorProto]) -> PyOpSpec:
        return node_spec(entry, self.model, inits, self.classes)

    # --------------------------------------------------------------------- run
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once; return output name -> array. A failing layer raises LayerError naming its node."""
        feeds = check_feeds(self._feeds, feeds)  # names, dtypes (byte order by value), shapes: InputError
        token = begin_run(self.memory_budget)  # the run's budget (an enclosing run's when nested)
        try:
            budget = current_budget()
            self._sizes.check(feeds, budget)  # sizes predicted from the feeds, before onnxruntime allocates
            got = self._run(feeds)
            check_outputs(self.output_names, got, budget)
        finally:
            end_run(token)
        return dict(zip(self.output_names, got))

    def _run(self, feeds: dict[str, Any]) -> list[Any]:
        with self.host.running():  # one run at a time; begins the run's failures and budget
            try:
                if self._io.bitwise:
                    got = self._io.run(self._session, {name: feeds[name] for name in self.input_names})
                else:
                    got = self._session.run(None, {name: np.asarray(feeds[name]) for name in self.input_names})
            except InputError:
                raise
            except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
                self.host.raise_errors(cause=e)
                raise GraphcError(f"onnxruntime failed to run the model: {str(e).strip()[:500]}") from e
            self.host.raise_errors()
        return list(got)
