"""graphc run OUT [--input NAME=FILE.npy]... [--random-inputs SEED] [--output-dir DIR]: run a saved artifact."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ..errors import GraphcError, InputError
from ..limits import memory_budget
from .common import add_layers_argument, console


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a compiled artifact on inputs from .npy files or seeded random data")
    p.add_argument("artifact", help="artifact written by graphc compile")
    p.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy", help="an input from a .npy file (repeatable)")
    p.add_argument("--random-inputs", type=int, metavar="SEED",
                   help="seeded random values for every input not given (symbolic dimensions become 1)")
    p.add_argument("--output-dir", help="write each output as NAME.npy into this folder")
    add_layers_argument(p)
    p.add_argument("--trust", action="store_true", help="import the layer modules the artifact names (runs their code)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compiler import load
    from ..target import read_manifest

    path = Path(args.artifact)
    if not path.exists():
        raise GraphcError(f"{path}: no such artifact (write one with `graphc compile MODEL -o {path}`)")
    if args.random_inputs is not None and args.random_inputs < 0:
        raise InputError(f"--random-inputs {args.random_inputs}: the seed must be a non-negative integer")
    manifest = read_manifest(path)
    feeds = _read_inputs(args.input)
    art = load(path, layers=args.layers or None, trust=args.trust)
    specs = input_specs(art, manifest)
    _check_names(feeds, specs)
    if args.random_inputs is not None:
        rng = np.random.default_rng(args.random_inputs)
        for spec in specs:
            if spec["name"] not in feeds:
                feeds[spec["name"]] = random_input(spec, rng)
    missing = [s["name"] for s in specs if s["name"] not in feeds]
    if missing:
        raise InputError(f"missing input(s) {', '.join(map(repr, missing))}: pass --input NAME=FILE.npy for each, "
                         "or --random-inputs SEED")
    outputs = art.run(feeds)
    out = console()
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for name, value in outputs.items():
        arr = np.asarray(value)
        out.print(f"{name}: shape {tuple(arr.shape)} {arr.dtype}  {summarize(arr)}", highlight=False)
        if out_dir is not None:
            np.save(out_dir / f"{safe_name(name)}.npy", arr, allow_pickle=False)
    return 0


def input_specs(art: Any, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The artifact's runtime inputs as {name, dtype, shape}: from the artifact, its manifest, or its ONNX model."""
    if hasattr(art, "input_specs"):
        return list(art.input_specs())
    if manifest.get("inputs"):
        return list(manifest["inputs"])
    model = getattr(art, "model", None)
    if model is None:
        return []
    from ..frontends.types import type_from_proto

    inits = {t.name for t in model.graph.initializer}
    specs = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        t = type_from_proto(vi.type)
        specs.append({"name": vi.name, "dtype": None if t.dtype is None else np.dtype(t.dtype).name,
                      "shape": None if t.shape is None else list(t.shape)})
    return specs


def _check_names(feeds: dict[str, np.ndarray], specs: list[dict[str, Any]]) -> None:
    """Refuse an --input NAME the artifact does not have, naming the ones it has."""
    known = [s["name"] for s in specs]
    unknown = [name for name in feeds if known and name not in known]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"--input {unknown[0]}=...: the artifact has no input {unknown[0]!r}{hint}; "
                         f"its inputs are {', '.join(map(repr, known))}")


def _read_inputs(items: list[str]) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    for item in items:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise InputError(f"--input {item!r}: expected NAME=FILE.npy")
        try:
            _check_npy_header(Path(file))
            feeds[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"--input {name}={file}: cannot read a .npy array ({e})") from e
    return feeds


def _check_npy_header(path: Path) -> None:
    """Refuse a .npy whose header claims more data than the file holds (np.load would try to allocate
    it first: a 128-byte file claiming 1e6 x 1e6 floats), before reading any of it."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            return  # not .npy: np.load says so
        f.seek(0)
        version = np.lib.format.read_magic(f)
        shape, _, dtype = _header(f, version)
        claimed = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        held = path.stat().st_size - f.tell()
    if dtype.hasobject or claimed > held:
        raise ValueError(f"its header claims shape {tuple(shape)} {dtype} ({claimed:.3g} bytes) but the file "
                         f"holds {held} bytes of data")


def _header(f: Any, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype]:
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return reader(f)


def random_input(spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Seeded values of the declared dtype and shape (unknown or symbolic dimensions become 1)."""
    if spec.get("dtype") is None or spec.get("shape") is None:
        raise InputError(f"input {spec['name']!r} has no declared type/shape; give it with --input {spec['name']}=FILE.npy")
    shape = tuple(d if isinstance(d, int) else 1 for d in spec["shape"])
    dt = np.dtype(spec["dtype"])
    size = float(np.prod(shape, dtype=np.float64)) * dt.itemsize
    if size > memory_budget(None):
        raise InputError(f"input {spec['name']!r} is {list(shape)} {dt} ({size:.3g} bytes), over the memory budget "
                         f"({memory_budget(None)} bytes): give it with --input {spec['name']}=FILE.npy")
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(0, 4, shape).astype(dt)
    raise InputError(f"input {spec['name']!r}: cannot make random {dt} data; give it with --input")


def summarize(arr: np.ndarray) -> str:
    if arr.size == 0:
        return "(empty)"
    if arr.dtype.kind in "fiub":
        a = arr.astype(np.float64)
        finite = np.isfinite(a)
        text = f"min {np.nanmin(a):.6g} max {np.nanmax(a):.6g} mean {np.nanmean(a):.6g}"
        if not finite.all():
            text += f" ({int((~finite).sum())} non-finite)"
        if arr.ndim >= 1 and arr.shape[-1] > 1 and arr.dtype.kind == "f":
            text += f" argmax {int(np.argmax(a.reshape(-1)))}"
        return text
    flat = arr.reshape(-1)[:3].tolist()
    return f"first {flat}"


def safe_name(name: str) -> str:
    """A file name for output ``name``: letters, digits and ``_.-`` kept, anything else %-escaped, so two
    outputs never share a file (``a/b`` -> ``a%2Fb``, ``a_b`` stays)."""
    return quote(name, safe="") if name not in ("", ".", "..") else f"output{quote(name, safe='')}"
