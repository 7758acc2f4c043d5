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
own copy, in memory, when the module is not importable). A missing module's error says
exactly what to pass: the manifest records, per module, the ``--layers`` argument the
bundle was compiled with (``layers_arg``: a module name or a .py path).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shlex
import sys
import zipfile
from pathlib import Path
from typing import Any

import onnx

from graphc.archive import read_folder_file, read_member
from graphc.atomic import atomic_write_bytes, atomic_write_folder
from graphc.errors import LayerError, ModelFormatError
from graphc.layers.registry import readable_import_path
from graphc.manifest_schema import COMMON, DIMS, OPTIONAL_STR, REQUIRED, check_manifest, map_of
from graphc.target import MANIFEST, read_manifest

__all__ = ["save_bundle", "read_bundle", "read_bundle_file", "read_bundle_model", "source_digest",
           "BUNDLE_FORMAT", "MODEL_FILE"]
logger = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
MODEL_FILE = "model.onnx"
_LAYER_DIR = "layers"
_CUSTOM_OP = {
    REQUIRED: ("node", "lowering", "source", "slots", "input_dtypes", "output_dtypes", "output_shapes"),
    "node": str, "lowering": str, "layer": OPTIONAL_STR, "params": str,
    "source": {REQUIRED: ("domain", "op_type"), "domain": str, "op_type": str, "opset": int},
    "slots": {REQUIRED: ("node_slots", "blob_slots", "runtime_slots"), "node_slots": [int], "blob_slots": [int],
              "runtime_slots": [int], "n_slots": int},
    "input_dtypes": [str], "output_dtypes": [str], "output_shapes": [DIMS],
    "subgraphs": map_of(str), "attr_kinds": map_of(int),
}
#: what loading reads from a bundle's manifest, checked first (graphc.manifest_schema)
MANIFEST_SCHEMA = {
    **COMMON, "model": str, "model_sha256": str,
    "onnxruntime": {"built_with": str, "min": str, "below": str},
    "custom_ops": [_CUSTOM_OP],
    "layer_modules": map_of({"sha256": str, "layers_arg": OPTIONAL_STR, "file": str}),
    "partition": dict,
    "options": {"memory_budget": (int, float, type(None))},
}


def source_digest(cls: type) -> tuple[str, bytes | None]:
    """(sha256 hex, source bytes) of the file defining ``cls`` (:func:`graphc.layers.loading.layer_source`)."""
    from graphc.layers.loading import layer_source

    return layer_source(cls)


def save_bundle(path: Path, model: onnx.ModelProto, manifest: dict[str, Any], sources: dict[str, bytes]) -> None:
    """Write the bundle to ``path`` (a zip when it ends in .zip, else a folder), atomically as a whole:
    a reader, or another save to the same path, sees the previous bundle or this one, never a mix.
    The manifest records the sha256 of ``model.onnx``; :func:`load_bundle` checks it."""
    data = model.SerializeToString()
    manifest = dict(manifest, model_sha256=hashlib.sha256(data).hexdigest())
    files: dict[str, bytes] = {MODEL_FILE: data}
    for module, source in sorted(sources.items()):
        files[f"{_LAYER_DIR}/{module}.py"] = source
    files[MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    if path.suffix.lower() == ".zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, member in files.items():
                z.writestr(name, member)
        atomic_write_bytes(path, buf.getvalue())
        return
    if path.exists() and not path.is_dir():
        raise ModelFormatError(f"{path} exists and is not a folder; choose another bundle path or end it in .zip")
    if path.is_dir():
        _check_replaceable(path)
    atomic_write_folder(path, files)


def _check_replaceable(path: Path) -> None:
    """Saving replaces the whole folder: refuse one holding anything a bundle does not."""
    ours = {MODEL_FILE, MANIFEST, _LAYER_DIR}
    other = sorted(p.name for p in path.iterdir() if p.name not in ours)
    layers = path / _LAYER_DIR
    if layers.is_dir():
        other += sorted(f"{_LAYER_DIR}/{p.name}" for p in layers.iterdir() if p.suffix != ".py")
    if other:
        raise ModelFormatError(f"{path} holds files that are not part of a bundle ({', '.join(other[:5])}); saving "
                               "replaces the whole folder, so choose an empty or new folder")


def read_bundle_file(path: Path, name: str) -> bytes | None:
    """The bytes of file ``name`` in the bundle at ``path`` (folder or zip), or None when it has none.

    Only a regular file inside the bundle, of bounded size (:func:`graphc.archive.read_folder_file`,
    :func:`graphc.archive.read_member`); anything else is a ModelFormatError."""
    if path.is_dir():
        return read_folder_file(path, name)
    return read_member(path, name, missing_ok=True)


def read_bundle(path: Path, layers: Any = None, trust: bool = False
                ) -> tuple[onnx.ModelProto, dict[str, Any], dict[str, type], dict[str, bytes]]:
    """A bundle's model, manifest, layer classes and layer sources, every check done (the
    manifest's schema and format, the onnxruntime version, subgraphs, the model's digest and
    external data, layer modules and their sources: see :func:`targets.ort.loader.load_bundle`)."""
    from graphc.layers import resolve_registry

    path = Path(path)
    manifest, data = _read_one_save(path)
    if manifest.get("target") != "ort":
        raise ModelFormatError(f"{path}: written by the {manifest.get('target')!r} target, not 'ort'")
    check_manifest(path, manifest, MANIFEST_SCHEMA)
    if int(manifest.get("format", 0)) > BUNDLE_FORMAT:
        raise ModelFormatError(f"{path}: bundle format {manifest.get('format')} is newer than this graphc reads "
                               f"({BUNDLE_FORMAT}); upgrade graphc")
    _check_ort_version(path, manifest)
    _check_manifest_subgraphs(path, manifest)
    model = _parse_model(path, data)
    registry = resolve_registry(layers)
    classes, sources = _resolve_layers(path, manifest, registry, trust)
    return model, manifest, classes, sources


def read_bundle_model(path: Path, manifest: dict[str, Any]) -> onnx.ModelProto:
    """The bundle's ``model.onnx`` (ModelFormatError when it is missing, unreadable, or not the one
    the manifest records)."""
    data = _model_bytes(path, manifest)
    _check_model_digest(path, manifest, data)
    return _parse_model(path, data)


def _read_one_save(path: Path, attempts: int = 3) -> tuple[dict[str, Any], bytes]:
    """The manifest and the ``model.onnx`` bytes of one save: a save swapping the folder in between
    the two reads shows as a digest mismatch and is read again; a lasting one is an error."""
    for _ in range(attempts - 1):
        manifest = read_manifest(path)
        data = _model_bytes(path, manifest)
        if _digest_matches(manifest, data):
            return manifest, data
    manifest = read_manifest(path)
    data = _model_bytes(path, manifest)
    _check_model_digest(path, manifest, data)
    return manifest, data


def _model_bytes(path: Path, manifest: dict[str, Any]) -> bytes:
    data = read_bundle_file(path, manifest.get("model", MODEL_FILE))
    if data is None:
        raise ModelFormatError(f"{path}: the bundle has no {MODEL_FILE}")
    return data


def _digest_matches(manifest: dict[str, Any], data: bytes) -> bool:
    want = manifest.get("model_sha256")
    return not want or hashlib.sha256(data).hexdigest() == want  # bundles written before the digest have none


def _check_model_digest(path: Path, manifest: dict[str, Any], data: bytes) -> None:
    if not _digest_matches(manifest, data):
        have, want = hashlib.sha256(data).hexdigest(), str(manifest.get("model_sha256"))
        raise ModelFormatError(f"{path}: {MODEL_FILE} is not the model the manifest records (sha256 {have[:12]}... "
                               f"!= {want[:12]}...): the bundle was modified, or mixed by an interrupted or "
                               "concurrent save; save or compile it again")


def _parse_model(path: Path, data: bytes) -> onnx.ModelProto:
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # noqa: BLE001 - protobuf's decode errors
        raise ModelFormatError(f"{path}: {MODEL_FILE} is not a readable ONNX model ({e})") from e
    _confine_external_data(path, model)
    return model


def _confine_external_data(path: Path, model: onnx.ModelProto) -> None:
    """Read external tensors into ``model`` as graphc's ONNX loader does (confined to the bundle's
    folder), so onnxruntime never resolves a location itself (it would against the working
    directory). graphc writes no external data, so a zip bundle holding any is refused."""
    from graphc.frontends.onnx import external_tensors, load_external_data

    if not path.is_dir():
        tensor = next(external_tensors(model), None)
        if tensor is not None:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            raise ModelFormatError(f"{path}: tensor {tensor.name!r} of {MODEL_FILE} refers to external data "
                                   f"{location!r}; a zip bundle carries none (graphc never writes it): rebuild "
                                   "the bundle with `graphc compile`")
        return
    try:
        load_external_data(model, path.resolve())
    except ModelFormatError as e:
        raise ModelFormatError(f"{path}: {MODEL_FILE}: {e}") from e


def _check_manifest_subgraphs(path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest subgraph (the base64 GraphProtos of an op run by onnx.reference) that
    refers to external data: onnx.reference would read it relative to the working directory."""
    import base64

    from graphc.frontends.onnx import external_tensors

    for entry in manifest.get("custom_ops") or []:
        for attr, text in ((entry.get("subgraphs") or {}) if isinstance(entry, dict) else {}).items():
            try:
                graph = onnx.GraphProto.FromString(base64.b64decode(text))
            except Exception as e:  # noqa: BLE001 - base64 and protobuf decode errors
                raise ModelFormatError(f"{path}: subgraph {attr!r} of node {entry.get('node')!r} in the manifest "
                                       f"is not a readable GraphProto ({e})") from e
            tensor = next(external_tensors(onnx.ModelProto(graph=graph)), None)
            if tensor is not None:
                raise ModelFormatError(f"{path}: subgraph {attr!r} of node {entry.get('node')!r} in the manifest "
                                       f"has tensor {tensor.name!r} with external data; a bundle's subgraphs carry "
                                       "their data inline: rebuild the bundle with `graphc compile`")


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
    from graphc.layers.loading import check_source_unchanged

    needed: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.get("custom_ops", []):
        if entry.get("layer"):
            needed.setdefault(entry["layer"], []).append(entry)
    modules = manifest.get("layer_modules", {})
    classes: dict[str, type] = {}
    sources: dict[str, bytes] = {}
    for import_path, entries in needed.items():
        module = import_path.partition(":")[0]
        info = modules.get(module, {})
        src = entries[0]["source"]
        cls, data = _from_registry(registry, import_path, src), None
        if cls is None and trust:
            cls, data = _import_trusted(path, module, import_path, src, info)
        if cls is None:
            raise LayerError(_missing_message(path, module, import_path, src, entries, info))
        want = info.get("sha256", "")
        have, file_data = source_digest(cls) if data is None else (hashlib.sha256(data).hexdigest(), data)
        check_source_unchanged(f"{path}: layer module {module!r} changed since the bundle was written", want, have,
                               trust, "rebuild the bundle with the current layers")
        classes[import_path] = cls
        if file_data is not None:
            sources[module] = file_data
    return classes, sources


def _missing_message(path: Path, module: str, import_path: str, src: dict[str, Any],
                     entries: list[dict[str, Any]], info: dict[str, Any]) -> str:
    """What to do about a layer module the caller did not give: the exact ``--layers`` argument."""
    nodes = ", ".join(e["node"] for e in entries[:5]) + (" ..." if len(entries) > 5 else "")
    op = f"{src['domain'] + '::' if src['domain'] else ''}{src['op_type']}"
    arg = info.get("layers_arg") or module
    trust = ("--trust (trust=True) to import the bundle's own copy of its source" if info.get("file")
             else "--trust (trust=True) to import it")
    head = f"{path}: layer module {arg!r} is missing: nodes {nodes} need {readable_import_path(import_path, arg)} for {op}."
    if arg == module and module.startswith("graphc_layers_"):  # a bundle from before layers_arg was recorded
        return (f"{head} It was loaded from a .py file the bundle does not name: pass that file "
                f"(`graphc run {path} --layers FILE.py`, or graphc.load(path, layers=['FILE.py'])), or {trust}")
    gone = " (that file no longer exists)" if arg.endswith(".py") and not Path(arg).is_file() else ""
    return (f"{head} Pass it: `graphc run {shlex.quote(str(path))} --layers {shlex.quote(arg)}`{gone} or "
            f"graphc.load(path, layers=[{arg!r}]); or {trust}")


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


def _import_trusted(path: Path, module: str, import_path: str, src: dict[str, Any],
                    info: dict[str, Any]) -> tuple[type | None, bytes | None]:
    """The layer class from the module the manifest names (``trust``): the installed module when it
    is importable, else the bundle's copy imported from memory (returned as its source bytes)."""
    import importlib.util

    from graphc.layers import load_layer_modules
    from graphc.layers.loading import load_layer_source

    try:
        importable = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        importable = False
    if importable:
        logger.warning("importing layer module %s named by bundle %s (trust)", module, path)
        return _from_registry(load_layer_modules([module]), import_path, src), None
    data = read_bundle_file(path, info["file"]) if info.get("file") else None
    if data is None:
        return None, None
    digest = hashlib.sha256(data).hexdigest()
    name = f"graphc_bundle_{module.replace('.', '_')}_{digest[:16]}"  # one import per distinct source
    logger.warning("importing the copy of layer module %s in bundle %s (trust)", module, path)
    registry = load_layer_source(name, data, f"{path}/{info['file']}")
    wanted = f"{name}:{import_path.partition(':')[2]}"  # the same class, in the module imported from memory
    found = next((e for e in registry.entries() if e.import_path == wanted), None) \
        or registry.lookup(src["domain"], src["op_type"], int(src.get("opset", 1)))
    return (found.cls if found is not None else None), data


def build_manifest(entries: list[dict[str, Any]], classes: dict[str, type], model: onnx.ModelProto,
                   include_sources: bool = True) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest for a freshly lowered model, and the layer sources to ship."""
    import onnxruntime as ort

    import graphc
    from graphc.layers.loading import layer_argument

    modules: dict[str, dict[str, Any]] = {}
    sources: dict[str, bytes] = {}
    for import_path, cls in sorted(classes.items()):
        module = import_path.partition(":")[0]
        digest, data = source_digest(cls)
        info: dict[str, Any] = {"sha256": digest, "layers_arg": layer_argument(module)}
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
