"""The Layer base class: a custom op implementation built from params and blobs."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Sequence, TypeVar, overload

import numpy as np

__all__ = ["Layer", "Param"]

_MISSING = object()

_T = TypeVar("_T")


@dataclass(frozen=True)
class Param(Generic[_T]):
    """A declared layer parameter: ``Param(int, default=0, doc="...")``.

    ``type`` is one of int, float, str, bool, list (of numbers or strings) or np.ndarray.
    A Param without a default is required.
    """

    type: type[_T]
    default: Any = _MISSING
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    if TYPE_CHECKING:
        # Layer.__init__ stores each param's decoded value on the instance, shadowing the
        # class attribute: to the type checker, ``self.height`` is the value, ``cls.height`` the Param.
        @overload
        def __get__(self, obj: None, owner: builtins.type) -> Param[_T]: ...
        @overload
        def __get__(self, obj: object, owner: builtins.type) -> _T: ...
        def __get__(self, obj: object, owner: builtins.type) -> Any: ...


class Layer:
    """Base class of custom layers (OpenCV's custom-layer model, made serializable).

    Subclass, declare parameters as class attributes of type :class:`Param` (or
    implement :meth:`get_config`), and implement :meth:`output_shapes` and
    :meth:`forward`::

        @graphc.register_layer("Interp", domain="caffe")
        class Interp(graphc.Layer):
            height = Param(int)
            width = Param(int)

            def output_shapes(self, input_shapes):
                n, c, _, _ = input_shapes[0]
                return [(n, c, self.height, self.width)]

            def forward(self, inputs, outputs, internals):
                outputs[0][...] = resize(inputs[0], self.height, self.width)

    ``params`` are the node's attributes (decoded), ``blobs`` its constant inputs in
    input order; ``blob_slots[i]`` is the input slot ``blobs[i]`` came from.
    """

    #: filled by register_layer: (domain, op_type)
    op_key: ClassVar[tuple[str, str]] = ("", "")

    def __init__(self, params: dict[str, Any], blobs: Sequence[np.ndarray] = (), blob_slots: Sequence[int] = ()):
        self.params = dict(params)
        self.blobs = list(blobs)
        self.blob_slots = list(blob_slots)
        for name, p in self.declared_params().items():
            setattr(self, name, self.params.get(name, None if p.required else p.default))

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        """Parameters declared on the class (and its bases) as ``Param`` attributes."""
        out: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for k, v in vars(klass).items():
                if isinstance(v, Param):
                    out[k] = v
        return out

    def get_config(self) -> dict[str, Any]:
        """The parameters that rebuild this layer; JSON data or numpy arrays only.

        The default returns the declared parameters' values, and ``{}`` for a layer that
        declares none and keeps Layer's constructor (it has no parameters). A layer with
        its own constructor and no declaration must override it (graphc refuses it at
        compile time otherwise).
        """
        declared = self.declared_params()
        if not declared:
            if type(self).__init__ is Layer.__init__:
                return {}
            raise NotImplementedError
        return {k: getattr(self, k) for k in declared}

    def output_shapes(self, input_shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """Output shapes from input shapes (blobs excluded). May return
        ``(output_shapes, internal_shapes)`` to request scratch buffers."""
        raise NotImplementedError

    def output_dtypes(self, input_dtypes: Sequence[np.dtype]) -> list[np.dtype]:
        """Output dtypes; default: every output has the first input's dtype."""
        return [input_dtypes[0]] * self.num_outputs

    #: how many outputs the layer writes (override for multi-output layers)
    num_outputs: int = 1

    def finalize(self, input_types: Sequence[tuple[tuple[int, ...], np.dtype]],
                 output_types: Sequence[tuple[tuple[int, ...], np.dtype]]) -> None:
        """Called once per concrete input shape signature, before forward."""

    def forward(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                internals: Sequence[np.ndarray]) -> Sequence[np.ndarray] | None:
        """Compute: write into ``outputs`` (planned buffers) or return arrays."""
        raise NotImplementedError

    def to_onnx(self, builder: Any) -> Sequence[str] | None:
        """Optional: this layer as standard ONNX ops, so the ort target runs it with no Python.

        ``builder`` (a :class:`targets.ort.function_builder.FunctionBuilder`) offers
        ``builder.inputs`` (the names of the runtime inputs, as ``forward`` gets them),
        ``builder.blobs`` (the names of the blobs, fed from initializers),
        ``builder.op(op_type, *inputs, outputs=1, **attrs)`` (adds a node, returns its
        output name or names) and ``builder.const(array)`` (a constant's name). Return
        the names of the layer's outputs, or None to decline (the ort target then runs
        ``forward`` as a Python custom op). The ops must compute what ``forward``
        computes, for every input shape ``output_shapes`` accepts::

            def to_onnx(self, g):
                sizes = g.const(np.array([self.height, self.width], np.int64))
                n_c = g.op("Slice", g.op("Shape", g.inputs[0]), g.const(np.array([0])), g.const(np.array([2])))
                return [g.op("Resize", g.inputs[0], "", "", g.op("Concat", n_c, sizes, axis=0),
                             mode="linear", coordinate_transformation_mode="align_corners")]
        """
        return None
