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
    """


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
