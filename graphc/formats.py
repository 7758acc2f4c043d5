"""Which frontend reads a model file: its suffix when graphc knows it, else its content.

People ship models under names graphc cannot guess from: ``deploy.prototxt.txt``,
``model.hdf5``, ``face_mask_detector.model``. :func:`detect_format` looks at the bytes
(HDF5 signature, zip members, text that reads as a prototxt / pbtxt / JSON, a binary
protobuf that parses as an ONNX model, a TensorFlow GraphDef or a Caffe net) and says what it
found and how, so errors can name the format that was tried.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Detected", "FRAMEWORK_SUFFIXES", "detect_format"]

#: file suffix -> (format, text?) for the suffixes graphc knows
FRAMEWORK_SUFFIXES: dict[str, tuple[str, bool | None]] = {
    ".onnx": ("onnx", False),
    ".pbtxt": ("tensorflow", True), ".pb": ("tensorflow", False),
    ".prototxt": ("caffe", True), ".caffemodel": ("caffe", False),
    ".keras": ("keras", None), ".json": ("keras", True),
    ".h5": ("keras-h5", False), ".hdf5": ("keras-h5", False),
}
_HDF5 = b"\x89HDF\r\n\x1a\n"
_HEAD = 4096
_TF_TEXT = re.compile(r"^\s*node\s*\{|\bop\s*:\s*\"", re.M)
_CAFFE_TEXT = re.compile(r"^\s*(layers?\s*\{|input\s*:|input_shape\s*\{|input_dim\s*:)", re.M)


@dataclass(frozen=True)
class Detected:
    """``format``: onnx, tensorflow, caffe, keras, keras-h5, graphc-artifact or unknown; ``text``:
    whether it is the text form (None where that does not apply); ``how``: what decided it;
    ``sniffed``: decided from the content, not the suffix."""

    format: str
    text: bool | None
    how: str
    sniffed: bool = True

    def describe(self) -> str:
        kind = {True: " (text)", False: " (binary)", None: ""}[self.text]
        return f"{self.format}{kind}, {self.how}"


def detect_format(path: str | os.PathLike) -> Detected:
    """The format of the model file at ``path``: by a known suffix, else by its content."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in FRAMEWORK_SUFFIXES:
        fmt, text = FRAMEWORK_SUFFIXES[suffix]
        return Detected(fmt, text, f"from the suffix {suffix!r}", sniffed=False)
    if not path.is_file():
        return Detected("unknown", None, f"{str(path)!r} is not a regular file")
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    how = f"detected from the content (the suffix {suffix or '(none)'!r} says nothing)"
    if head.startswith(_HDF5):
        return Detected("keras-h5", False, how + ": an HDF5 signature")
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(path, how)
    decoded = _as_text(head)
    if decoded is not None:
        return _text_format(decoded, how)
    return _binary_protobuf_format(path, how)


def _zip_format(path: Path, how: str) -> Detected:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return Detected("unknown", None, how + ": a damaged zip archive")
    if "config.json" in names:
        return Detected("keras", None, how + ": a zip holding config.json (a .keras archive)")
    if "manifest.json" in names:
        return Detected("graphc-artifact", None, how + ": a zip holding manifest.json (a compiled graphc artifact)")
    return Detected("unknown", None, how + f": a zip archive of {len(names)} files, none a model graphc knows")


def _as_text(head: bytes) -> str | None:
    """``head`` decoded when it is UTF-8 text without control bytes (a cut multi-byte tail allowed)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:
            return None
        text = head[: e.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    return text


def _text_format(text: str, how: str) -> Detected:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return Detected("keras", True, how + ": JSON text (a Keras model config)")
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    if _TF_TEXT.search(body):
        return Detected("tensorflow", True, how + ": text with node { op: ... } (a GraphDef pbtxt)")
    if _CAFFE_TEXT.search(body):
        return Detected("caffe", True, how + ": text with layer { ... } (a Caffe prototxt)")
    return Detected("unknown", True, how + ": text that is neither a prototxt, a pbtxt nor JSON")


def _binary_protobuf_format(path: Path, how: str) -> Detected:
    """Parse the whole file as each binary protobuf graphc reads; the one that holds a graph wins."""
    import onnx
    from google.protobuf.message import DecodeError

    data = path.read_bytes()
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
        if model.graph.node or model.ir_version:
            return Detected("onnx", False, how + ": a binary protobuf that parses as an ONNX model")
    except (DecodeError, RuntimeError, ValueError):
        pass
    for fmt, parse in (("tensorflow", _graphdef_nodes), ("caffe", _caffe_layers)):
        try:
            if parse(data):
                return Detected(fmt, False, how + f": a binary protobuf that parses as a {_NAMES[fmt]}")
        except (DecodeError, RuntimeError, ValueError):
            continue
    return Detected("unknown", False, how + ": binary data that parses as no model format graphc reads")


_NAMES = {"tensorflow": "TensorFlow GraphDef", "caffe": "Caffe net"}


def _graphdef_nodes(data: bytes) -> bool:
    from .frontends.tf_schema import tf_messages

    gd = tf_messages()["GraphDef"]()
    gd.ParseFromString(data)
    return bool(gd.node) and all(n.op for n in gd.node)


def _caffe_layers(data: bytes) -> bool:
    from .frontends.caffe_schema import caffe_messages

    net = caffe_messages()["NetParameter"]()
    net.ParseFromString(data)
    return bool(net.layer) or bool(net.layers)
