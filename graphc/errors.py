"""The graphc exception hierarchy: every failure a user can cause is a GraphcError."""

from __future__ import annotations

__all__ = [
    "GraphcError",
    "ModelFormatError",
    "UnsupportedOpError",
    "ShapeInferenceError",
    "LayerError",
    "PlanError",
    "InputError",
    "PassError",
    "VerifyError",
]


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose.

    The message says what is wrong, where (node name and op type when there is one)
    and what to do about it. The CLI prints it without a traceback.

    The same facts are fields for code to read, never parsed from the message: ``node``
    (the node's name) and ``op_type`` (its qualified op type) when the error is about one
    node, ``pass_name`` when a pass raised it (the pass manager sets it; a raiser that sets
    it itself declares its message complete, so the manager adds no context). Each is None
    when it does not apply.
    """

    node: str | None = None
    op_type: str | None = None
    pass_name: str | None = None

    def __init__(self, *args: object, node: str | None = None, op_type: str | None = None,
                 pass_name: str | None = None) -> None:
        super().__init__(*args)
        if node is not None:
            self.node = node
        if op_type is not None:
            self.op_type = op_type
        if pass_name is not None:
            self.pass_name = pass_name

    def with_message(self, message: str, *, node: str | None = None, op_type: str | None = None,
                     pass_name: str | None = None) -> GraphcError:
        """A copy of this error (same class, same fields, whatever its constructor takes) with
        ``message``; the fields given here fill the ones still None."""
        new = type(self).__new__(type(self), message)
        new.__dict__.update(self.__dict__)
        new.args = (message,)
        for key, value in (("node", node), ("op_type", op_type), ("pass_name", pass_name)):
            if value is not None and getattr(new, key) is None:
                setattr(new, key, value)
        return new


class ModelFormatError(GraphcError):
    """The model file or proto is corrupt, malformed or unsafe to load."""


class UnsupportedOpError(GraphcError):
    """Ops the target cannot run and no registered layer implements."""


class ShapeInferenceError(GraphcError):
    """Shapes conflict or cannot be computed for a node."""


class LayerError(GraphcError):
    """A custom layer is ill-formed, its parameters cannot be serialized, or it raised."""


class PlanError(GraphcError):
    """Buffer planning failed (for example a tensor exceeds the memory budget)."""


class InputError(GraphcError):
    """Run-time inputs do not match what the model declares."""


class PassError(GraphcError):
    """A pass failed, or a pipeline is ill-ordered."""


class VerifyError(GraphcError):
    """A graph breaks an IR invariant."""
