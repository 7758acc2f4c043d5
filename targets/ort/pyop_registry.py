"""The process's onnxruntime-extensions registrations: one Python op per signature, each alone
in its own domain, and the SessionOptions that load them.

Why. onnxruntime-extensions (0.15) keeps the Python ops of a domain in a ``std::vector``
*by value* and hands onnxruntime pointers into it. Registering one more op in a domain may
grow that vector, which moves every op registered before: each session created earlier now
holds dangling ``OrtCustomOp`` pointers, and running or destroying it reads freed memory
(a segmentation fault sooner or later; registering ops under unique names in the one
``ai.onnx.contrib`` domain, as graphc once did, crashes this way). So:

* every op is alone in its own domain (``graphc.pyop.<digest>``, op type ``PyOp``): a
  one-element vector never grows, its op never moves, and sessions may be created, run
  and destroyed in any order;
* ops are keyed by their signature (the element types crossing into Python), registered
  once per process and shared by every artifact: registrations grow with the number of
  distinct signatures, not with the number of compiles or loads;
* a node reaches its Python function through its ``config`` attribute, a token looked up
  in a weak table (:meth:`PyOpRegistry.bind`): the function, and the layer and blobs it
  holds, live as long as the artifact that owns them;
* the library is added to one shared ``SessionOptions``, rebuilt only after a new
  signature was registered (the library reads the registered ops when it is added).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from graphc.errors import GraphcError

__all__ = ["PyOpRegistry", "PYOPS", "OP_TYPE", "DOMAIN_PREFIX"]

#: the op type of every registered Python op (the domain tells them apart)
OP_TYPE = "PyOp"
#: the domains of the registered Python ops start with this
DOMAIN_PREFIX = "graphc.pyop."

Signature = tuple[tuple[str, ...], tuple[str, ...]]


class PyOpRegistry:
    """The Python ops registered with onnxruntime-extensions in this process (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._domains: dict[Signature, str] = {}
        self._calls: weakref.WeakValueDictionary[str, Callable[..., Any]] = weakref.WeakValueDictionary()
        self._options: Any = None
        self._options_ops = -1

    def domain_for(self, inputs: Sequence[str], outputs: Sequence[str]) -> str:
        """The domain of the op taking ``inputs`` and returning ``outputs`` (onnxruntime-extensions
        type names, ``dt_float``...), registered on first use."""
        PyCustomOpDef, onnx_op = _extensions("PyCustomOpDef", "onnx_op")

        sig: Signature = (tuple(inputs), tuple(outputs))
        with self._lock:
            domain = self._domains.get(sig)
            if domain is None:
                domain = DOMAIN_PREFIX + hashlib.sha1(repr(sig).encode()).hexdigest()[:16]
                onnx_op(op_type=f"{domain}::{OP_TYPE}", inputs=[getattr(PyCustomOpDef, t) for t in inputs],
                        outputs=[getattr(PyCustomOpDef, t) for t in outputs],
                        attrs={"config": PyCustomOpDef.dt_string})(self._dispatcher(sig[1]))
                self._domains[sig] = domain
            return domain

    def bind(self, fn: Callable[..., Any]) -> str:
        """A fresh token for ``fn``; a node whose ``config`` is the token runs ``fn``. The table holds
        ``fn`` weakly: the caller keeps it alive as long as a session may run it."""
        token = uuid.uuid4().hex
        self._calls[token] = fn
        return token

    def session_options(self) -> Any:
        """SessionOptions with the extensions library added after every op registered so far.

        Shared: onnxruntime only reads SessionOptions when a session is created."""
        import onnxruntime as ort

        (get_library_path,) = _extensions("get_library_path")

        with self._lock:
            if self._options is None or self._options_ops != len(self._domains):
                so = ort.SessionOptions()
                so.log_severity_level = 4  # a refusal or run failure becomes our exception, not a log line
                so.register_custom_ops_library(get_library_path())
                self._options, self._options_ops = so, len(self._domains)
            return self._options

    @property
    def signatures(self) -> int:
        """How many ops (signatures) are registered."""
        return len(self._domains)

    def _dispatcher(self, outputs: tuple[str, ...]) -> Callable[..., Any]:
        """The function registered for one signature: runs the function bound to the node's token.
        Kept by onnxruntime-extensions for the life of the process, so it holds no artifact."""
        calls = self._calls

        def dispatch(*args: np.ndarray, config: str = "") -> Any:
            fn = calls.get(config)
            if fn is not None:
                return fn(*args)
            # unreachable while the artifact owning the session lives; never raise into onnxruntime
            empty: list[np.ndarray] = [np.zeros((0,), dtype=_NUMPY.get(t, np.float32)) for t in outputs]
            return empty[0] if len(empty) == 1 else tuple(empty)

        return dispatch


_NUMPY = {"dt_float": np.float32, "dt_double": np.float64, "dt_uint8": np.uint8, "dt_int8": np.int8,
          "dt_uint16": np.uint16, "dt_int16": np.int16, "dt_int32": np.int32, "dt_int64": np.int64,
          "dt_uint32": np.uint32, "dt_uint64": np.uint64, "dt_bool": np.bool_, "dt_string": object}

#: the process's registry (onnxruntime-extensions' own registry is process-wide too)
PYOPS = PyOpRegistry()


def _extensions(*names: str) -> tuple[Any, ...]:
    """Names from onnxruntime-extensions, or a GraphcError saying how to get it."""
    try:
        import onnxruntime_extensions
    except ImportError as e:
        raise GraphcError(
            "this model needs Python ops inside onnxruntime (a layer or graphc kernel in an If/Loop/Scan body, "
            "or mode='single'), which onnxruntime-extensions provides: pip install 'graphc[ort]' "
            "(or compile for --target numpy)") from e
    return tuple(getattr(onnxruntime_extensions, n) for n in names)
