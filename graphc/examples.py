"""The light model-zoo models shipped inside the onnx wheel, by short name."""

from __future__ import annotations

from pathlib import Path

from .errors import GraphcError

__all__ = ["example_names", "example_path"]


def _light_dir() -> Path:
    import onnx

    return Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"


def example_names() -> list[str]:
    """Short names (``resnet50``, ``squeezenet``, ...) of the shipped light models."""
    return sorted(p.stem.removeprefix("light_") for p in _light_dir().glob("light_*.onnx") if not p.stem.endswith("_output_0"))


def example_path(name: str) -> Path:
    """Path of the light model ``name`` (``light_`` prefix optional)."""
    path = _light_dir() / f"light_{name.removeprefix('light_')}.onnx"
    if not path.is_file():
        raise GraphcError(f"no example model {name!r}; choose one of: {', '.join(example_names())}")
    return path
