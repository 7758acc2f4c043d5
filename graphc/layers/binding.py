"""Binding an op to its registered layer: parameter validation and serializability, at compile time.

:func:`bind_layer` is what ``legalize`` calls for every op a registered layer
implements. It turns the node's attributes into the layer's parameters and refuses,
with a :class:`LayerError` naming the node, op type and what to change:

* with declared parameters (``name = graphc.Param(type, default=...)``): an attribute
  the layer does not declare, a value of the wrong type, a required parameter the
  node lacks;
* without a declaration: a layer whose class does not implement ``get_config()``,
  or whose ``get_config()`` returns values that are not JSON data or numpy arrays,
  or does not rebuild the same layer;
* either way: parameters that do not survive JSON encoding unchanged.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..errors import LayerError
from .base import Layer, Param
from .registry import LayerEntry, display_name
from .serialize import check_round_trip, normalize, params_equal
from .slots import split_inputs

if TYPE_CHECKING:
    from ..ir import Op

__all__ = ["LayerBinding", "bind_layer", "construct_layer", "layer_config", "validate_params", "describe_op"]

_PARAM_TYPES = (int, float, str, bool, list, np.ndarray)


@dataclass
class LayerBinding:
    """Which registered layer implements an op, and the parameters it is built with.

    ``params`` are JSON data and numpy arrays, already checked to round-trip through
    :func:`graphc.layers.serialize.encode_params`; ``override`` is True when the layer
    took precedence over an op the target runs natively.
    """

    entry: LayerEntry
    params: dict[str, Any]
    override: bool = False
    config: str = field(default="", repr=False)  # the params as JSON (checked at bind time)

    @property
    def cls(self) -> type[Layer]:
        return self.entry.cls

    @property
    def import_path(self) -> str:
        """``"module:QualName"`` of the layer class."""
        return self.entry.import_path

    @property
    def display_name(self) -> str:
        """How messages name the layer (``my_layers.py:Interp`` for a layer file)."""
        return self.entry.display_name

    def build(self, blobs: Sequence[np.ndarray] = (), blob_slots: Sequence[int] = ()) -> Layer:
        """A layer instance from the bound params and the given blobs."""
        return construct_layer(self.cls, self.params, blobs, blob_slots)


def describe_op(op: Op) -> str:
    return f"node {op.name!r} ({op.qualified_type})"


def construct_layer(cls: type[Layer], params: Mapping[str, Any], blobs: Sequence[np.ndarray] = (),
                    blob_slots: Sequence[int] = ()) -> Layer:
    """``cls(params, blobs, blob_slots)``, or ``cls(params, blobs)`` for OpenCV-style
    constructors that take no slots (``blob_slots`` is then set on the instance)."""
    params, blobs, blob_slots = dict(params), list(blobs), list(blob_slots)
    if _accepts_slots(cls):
        return cls(params, blobs, blob_slots)
    layer = cls(params, blobs)
    if not getattr(layer, "blob_slots", None):
        layer.blob_slots = blob_slots
    if not hasattr(layer, "params"):
        layer.params = params
    if not hasattr(layer, "blobs"):
        layer.blobs = blobs
    return layer


def _accepts_slots(cls: type[Layer]) -> bool:
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return True
    params = list(sig.parameters.values())[1:]  # skip self
    if any(p.kind == p.VAR_POSITIONAL for p in params) or "blob_slots" in sig.parameters:
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


def validate_params(op: Op, cls: type[Layer], declared: Mapping[str, Param]) -> dict[str, Any]:
    """The node's attributes checked against ``declared``, with defaults filled in."""
    where = f"{describe_op(op)}, layer {display_name(cls)}"
    for name, p in declared.items():
        if p.type not in _PARAM_TYPES:
            raise LayerError(f"{where}: parameter {name!r} is declared as {getattr(p.type, '__name__', p.type)}; "
                             "use one of int, float, str, bool, list, np.ndarray")
    unknown = sorted(set(op.attrs) - set(declared))
    if unknown:
        raise LayerError(f"{where}: attribute {unknown[0]!r} is not a parameter of the layer "
                         f"(declared: {', '.join(sorted(declared)) or 'none'}). Declare it on the class, e.g. "
                         f"`{unknown[0]} = graphc.Param({_guess_type(op.attrs[unknown[0]])})`, or drop it from the model")
    params: dict[str, Any] = {}
    for name, p in declared.items():
        if name in op.attrs:
            params[name] = _coerce(op.attrs[name], p.type, f"{where}: attribute {name!r}")
        elif p.required:
            raise LayerError(f"{where}: required parameter {name!r} ({p.type.__name__}) is missing from the node; "
                             f"add the attribute to the model or give the Param a default")
        else:
            params[name] = p.default
    return params


def _guess_type(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "np.ndarray"
    return "list" if isinstance(value, (list, tuple)) else type(value).__name__


def _coerce(value: Any, typ: type, where: str) -> Any:
    ok: Any = None
    if typ is bool:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            ok = bool(value)
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            ok = int(value)
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ok = float(value)
    elif typ is str:
        if isinstance(value, str):
            ok = value
    elif typ is list:
        if isinstance(value, (list, tuple)):
            ok = list(value)
        elif isinstance(value, np.ndarray) and value.ndim == 1:
            ok = value.tolist()
    elif typ is np.ndarray:
        if isinstance(value, np.ndarray):
            ok = value
        elif isinstance(value, (list, tuple)):
            ok = np.asarray(value)
    if ok is None:
        raise LayerError(f"{where} is {_describe_value(value)}, expected {typ.__name__}; fix the model's attribute "
                         "or change the Param's type")
    return ok


def _describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} tensor of shape {list(value.shape)}"
    text = repr(value)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({type(value).__name__})"


def bind_layer(op: Op, entry: LayerEntry, override: bool = False) -> LayerBinding:
    """Bind ``op`` to the registered layer ``entry``; validate and serialize its params.

    Declared layers get the node's attributes checked and defaulted; undeclared layers
    are built once from the attributes and blobs, and their ``get_config()`` becomes
    the params (it must rebuild an equal config). Raises LayerError otherwise.
    """
    cls = entry.cls
    where = f"{describe_op(op)}, layer {entry.display_name}"
    for k, _ in op.subgraphs():
        raise LayerError(f"{where}: attribute {k!r} is a subgraph; custom layers take only data parameters")
    declared = cls.declared_params()
    if declared:
        params = validate_params(op, cls, declared)
    else:
        params = _config_params(op, cls, where)
    text = check_round_trip(params, where)
    return LayerBinding(entry, normalize(params), override, text)


def _config_params(op: Op, cls: type[Layer], where: str) -> dict[str, Any]:
    if cls.get_config is Layer.get_config:
        if not op.attrs and cls.__init__ is Layer.__init__:
            return {}  # a layer without parameters (and no constructor of its own): nothing to save
        raise LayerError(f"{where}: the layer declares no parameters and has no get_config(), so graphc cannot "
                         "save what builds it. Declare each parameter as a class attribute "
                         "(`height = graphc.Param(int)`) or implement get_config() returning a dict of JSON data "
                         "and numpy arrays that rebuilds the layer")
    _, blobs, slots = split_inputs(op)
    attrs = {k: v for k, v in op.attrs.items()}
    config = _get_config(cls, attrs, blobs, slots, where)
    rebuilt = _get_config(cls, normalize_lenient(config), blobs, slots, where + " (rebuilt from its get_config())")
    if not params_equal(normalize_lenient(config), normalize_lenient(rebuilt)):
        raise LayerError(f"{where}: get_config() does not rebuild the layer: built again from {sorted(config)} it "
                         "returns a different config. Return exactly the parameters __init__ reads")
    return config


def normalize_lenient(config: Mapping[str, Any]) -> Any:
    """``normalize`` where possible (the round-trip check reports what is not serializable)."""
    try:
        return normalize(dict(config))
    except LayerError:
        return dict(config)


def _get_config(cls: type[Layer], params: Mapping[str, Any], blobs, slots, where: str) -> dict[str, Any]:
    try:
        layer = construct_layer(cls, params, blobs, slots)
        config = layer.get_config()
    except LayerError:
        raise
    except Exception as e:  # noqa: BLE001 - user code: report it against the node
        raise LayerError(f"{where}: building the layer from the node's attributes failed: "
                         f"{type(e).__name__}: {e}") from e
    if not isinstance(config, Mapping):
        raise LayerError(f"{where}: get_config() returned {type(config).__name__}, expected a dict")
    return dict(config)


def layer_config(binding_or_layer: Any) -> dict[str, Any]:
    """The JSON-safe config that rebuilds a layer: a binding's params, or a layer instance's config.

    For a :class:`~graphc.layers.base.Layer` instance: its declared parameters' values,
    else its ``get_config()``. Raises LayerError saying what to add when neither exists
    or a value cannot be serialized.
    """
    if isinstance(binding_or_layer, LayerBinding):
        where = f"layer {binding_or_layer.display_name}"
        config = binding_or_layer.params
    elif isinstance(binding_or_layer, Layer):
        cls = type(binding_or_layer)
        where = f"layer {display_name(cls)}"
        try:
            config = binding_or_layer.get_config()
        except NotImplementedError:
            raise LayerError(f"{where} declares no parameters and does not implement get_config(): declare them "
                             "as class attributes (`height = graphc.Param(int)`) or implement get_config() "
                             "returning the dict of JSON data / numpy arrays that rebuilds the layer") from None
        if not isinstance(config, Mapping):
            raise LayerError(f"{where}: get_config() returned {type(config).__name__}, expected a dict")
    else:
        raise LayerError(f"layer_config() takes a LayerBinding or a Layer instance, not {type(binding_or_layer).__name__}")
    check_round_trip(config, where)
    return normalize(dict(config))
