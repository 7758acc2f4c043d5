"""The ort bundle: ``model.onnx`` + ``manifest.json`` (+ layer sources), as a folder or a zip.

``model.onnx`` is plain ONNX (it passes ``onnx.checker``; custom ops are
``ai.onnx.contrib`` nodes whose ``config`` attribute holds the layer's parameters as
JSON, so Netron and other tools see them). ``manifest.json`` records the graphc
version, the onnxruntime version range, and per custom op: its lowering, the source
op, the layer's import path, its parameters and the sha256 of the layer's source file.
``layers/<module>.py`` holds a copy of each layer module's source.

Loading imports no code the caller did not name: a layer module comes from the
``layers`` the caller passes (a LayerRegistry, module names or .py paths); only with
``trust=True`` does the loader import a module the manifest names (from the bundle's
own copy when the module is not importable).
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import logging
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import onnx

from graphc.archive import read_member
from graphc.atomic import atomic_write_bytes
from graphc.errors import LayerError, ModelFormatError
from graphc.target import MANIFEST, read_manifest

__all__ = ["save_bundle", "load_bundle", "source_digest", "BUNDLE_FORMAT", "MODEL_FILE"]
logger = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
MODEL_FILE = "model.onnx"
_LAYER_DIR = "layers"


def source_digest(cls: type) -> tuple[str, bytes | None]:
    """(sha256 hex, source bytes) of the file defining ``cls``; ("", None) when it has none."""
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if not path or not Path(path).is_file():
        return "", None
    data = Path(path).read_bytes()
    return hashlib.sha256(data).hexdigest(), data


def save_bundle(path: Path, model: onnx.ModelProto, manifest: dict[str, Any], sources: dict[str, bytes]) -> None:
    """Write the bundle to ``path`` (a zip when it ends in .zip, else a folder); each file atomically."""
    files: dict[str, bytes] = {MODEL_FILE: model.SerializeToString()}
    for module, data in sorted(sources.items()):
        files[f"{_LAYER_DIR}/{module}.py"] = data
    files[MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    if path.suffix.lower() == ".zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
        atomic_write_bytes(path, buf.getvalue())
        return
    if path.exists() and not path.is_dir():
        raise ModelFormatError(f"{path} exists and is not a folder; choose another bundle path or end it in .zip")
    for name, data in files.items():  # the manifest last: a reader never sees a manifest without its model
        atomic_write_bytes(path / name, data)


def _read(path: Path, name: str) -> bytes | None:
    if path.is_dir():
        p = path / name
        return p.read_bytes() if p.is_file() else None
    try:
        return read_member(path, name)
    except ModelFormatError:
        return None


def load_bundle(path: str | Path, layers: Any = None, trust: bool = False):
    """Load an ort bundle (folder or zip) into a runnable :class:`OrtArtifact`.

    ``layers``: a LayerRegistry, or module names / .py paths holding the layers the
    bundle's custom ops need. A needed layer module that the caller did not name is an
    error saying which one (and for which nodes); so is a layer whose source changed
    since the bundle was written. ``trust=True`` imports missing modules the manifest
    names (the bundle's own copy when they are not importable) and accepts changed
    sources with a warning.
    """
    from graphc.layers import resolve_registry

    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("target") != "ort":
        raise ModelFormatError(f"{path}: written by the {manifest.get('target')!r} target, not 'ort'")
    if int(manifest.get("format", 0)) > BUNDLE_FORMAT:
        raise ModelFormatError(f"{path}: bundle format {manifest.get('format')} is newer than this graphc reads "
                               f"({BUNDLE_FORMAT}); upgrade graphc")
    _check_ort_version(path, manifest)
    data = _read(path, manifest.get("model", MODEL_FILE))
    if data is None:
        raise ModelFormatError(f"{path}: the bundle has no {MODEL_FILE}")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # noqa: BLE001 - protobuf's decode errors
        raise ModelFormatError(f"{path}: {MODEL_FILE} is not a readable ONNX model ({e})") from e
    registry = resolve_registry(layers)
    classes, sources = _resolve_layers(path, manifest, registry, trust)
    from .artifact import OrtArtifact

    return OrtArtifact(model, manifest, classes, sources)


def _check_ort_version(path: Path, manifest: dict[str, Any]) -> None:
    import onnxruntime as ort

    rng = manifest.get("onnxruntime", {})
    lo, hi = rng.get("min"), rng.get("below")
    have = _version_tuple(ort.__version__)
    if (lo and have < _version_tuple(lo)) or (hi and have >= _version_tuple(hi)):
        raise ModelFormatError(f"{path}: the bundle needs onnxruntime >= {lo}, < {hi}; this is {ort.__version__}. "
                               "Install a matching onnxruntime or recompile the model")


def _version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def _resolve_layers(path: Path, manifest: dict[str, Any], registry: Any, trust: bool):
    """Layer classes for every import path the manifest needs, checked against its hashes."""
    needed: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.get("custom_ops", []):
        if entry.get("layer"):
            needed.setdefault(entry["layer"], []).append(entry)
    modules = manifest.get("layer_modules", {})
    classes: dict[str, type] = {}
    sources: dict[str, bytes] = {}
    for import_path, entries in needed.items():
        module = import_path.partition(":")[0]
        src = entries[0]["source"]
        cls = _from_registry(registry, import_path, src)
        if cls is None and trust:
            cls = _import_trusted(path, module, import_path, src, modules.get(module, {}))
        if cls is None:
            nodes = ", ".join(e["node"] for e in entries[:5])
            bundled = " (the bundle carries a copy of its source)" if modules.get(module, {}).get("file") else ""
            raise LayerError(
                f"{path}: layer module {module!r} is missing: nodes {nodes} need {import_path} for "
                f"{src['domain'] + '::' if src['domain'] else ''}{src['op_type']}. Pass layers=[{module!r}] "
                f"(or --layers {module}) naming it, or trust=True to import it{bundled}")
        want = modules.get(module, {}).get("sha256", "")
        have, data = source_digest(cls)
        if want and have and want != have:
            msg = (f"{path}: layer module {module!r} changed since the bundle was written (source sha256 "
                   f"{have[:12]}... != {want[:12]}... recorded)")
            if not trust:
                raise LayerError(msg + "; rebuild the bundle with the current layers, or pass trust=True to run "
                                 "it with the changed module")
            logger.warning("%s; running it anyway (trust=True)", msg)
        classes[import_path] = cls
        if data is not None:
            sources[module] = data
    return classes, sources


def _from_registry(registry: Any, import_path: str, src: dict[str, Any]) -> type | None:
    entry = registry.lookup(src["domain"], src["op_type"], int(src.get("opset", 1))) if registry else None
    if entry is not None and entry.import_path == import_path:
        return entry.cls
    for e in registry.entries() if registry else ():
        if e.import_path == import_path:
            return e.cls
    if entry is not None:  # the caller named a layer for this op, under another name
        logger.warning("bundle layer %s for %s::%s resolved to %s", import_path, src["domain"], src["op_type"],
                       entry.import_path)
        return entry.cls
    return None


def _import_trusted(path: Path, module: str, import_path: str, src: dict[str, Any], info: dict[str, Any]):
    import importlib.util

    from graphc.layers import load_layer_modules

    names: list[str] = []
    try:
        if importlib.util.find_spec(module) is not None:
            names = [module]
    except (ImportError, ValueError):
        names = []
    if not names and info.get("file"):
        data = _read(path, info["file"])
        if data is not None:
            tmp = Path(tempfile.mkdtemp(prefix="graphc_bundle_layers_")) / f"{module.replace('.', '_')}.py"
            tmp.write_bytes(data)
            names = [str(tmp)]
    if not names:
        return None
    logger.warning("importing layer module %s named by bundle %s (trust=True)", names[0], path)
    registry = load_layer_modules(names)
    return _from_registry(registry, import_path, src)


def build_manifest(entries: list[dict[str, Any]], classes: dict[str, type], model: onnx.ModelProto,
                   include_sources: bool = True) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest for a freshly lowered model, and the layer sources to ship."""
    import onnxruntime as ort

    import graphc

    modules: dict[str, dict[str, Any]] = {}
    sources: dict[str, bytes] = {}
    for import_path, cls in sorted(classes.items()):
        module = import_path.partition(":")[0]
        digest, data = source_digest(cls)
        info: dict[str, Any] = {"sha256": digest}
        if data is not None and include_sources:
            info["file"] = f"{_LAYER_DIR}/{module}.py"
            sources[module] = data
        modules[module] = info
    major, minor = _version_tuple(ort.__version__)[:2]
    manifest = {
        "target": "ort", "format": BUNDLE_FORMAT, "graphc_version": graphc.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "onnxruntime": {"built_with": ort.__version__, "min": f"{major}.{minor}", "below": f"{major + 1}.0"},
        "model": MODEL_FILE, "ir_version": model.ir_version,
        "opset_imports": {o.domain: o.version for o in model.opset_import},
        "custom_ops": entries, "layer_modules": modules,
    }
    return manifest, sources
