"""Module boundaries of the library packages (graphc/, passes/, targets/), checked with ``ast``.

* No module imports a private (``_``-prefixed) name from another module: a helper two
  modules need lives in a leaf module under a public name. Importing a public name from
  a private leaf module (``from ._window import conv_geometry``) is fine.
* The import graph is acyclic, imports inside functions (lazy imports) included; imports
  under ``if TYPE_CHECKING:`` are not edges (they never run; annotations may name each
  other's types). Edges are the explicit imports: ``import a.b`` and ``from a import b``
  point at the submodule ``a.b`` when it exists, otherwise at the package ``a``; relative
  imports are resolved. Importing a submodule also runs its packages' ``__init__`` at run
  time, but those implicit parent edges are not part of the graph (every package would
  form a cycle with the submodules its ``__init__`` re-exports). A failure prints the cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graphc", "passes", "targets")


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name -> file."""
    modules = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _import_base(modules: dict[str, Path], module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    # level 1 is the package itself for an __init__, the enclosing package for a plain module
    anchor = parts if modules[module].name == "__init__.py" else parts[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join(anchor + ([node.module] if node.module else []))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import statements inside ``if TYPE_CHECKING:`` blocks (never executed)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _imports(modules: dict[str, Path], module: str, runtime_only: bool = False
             ) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, names imported from it) per import, lazy ones included.

    ``import a.b`` gives ("a.b", []); ``from a import b, c`` gives ("a", ["b", "c"]).
    ``runtime_only`` leaves out the imports under ``if TYPE_CHECKING:``.
    """
    tree = ast.parse(modules[module].read_text(), str(modules[module]))
    skip = _type_checking_only(tree) if runtime_only else set()
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            found.append((node.lineno, _import_base(modules, module, node), [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names)
    return found


def _nearest_module(modules: dict[str, Path], name: str) -> str | None:
    """``name`` or its nearest enclosing package among ``modules`` (None: outside them)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(modules: dict[str, Path]) -> nx.DiGraph:
    """The module import graph (see the module docstring for what an edge is)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module in modules:
        for line, base, names in _imports(modules, module, runtime_only=True):
            targets = [f"{base}.{n}" if f"{base}.{n}" in modules else base for n in names] or [base]
            for target in targets:
                dep = _nearest_module(modules, target)
                if dep is not None and dep != module:
                    graph.add_edge(module, dep, line=line)
    return graph


def private_imports(modules: dict[str, Path], root: Path) -> list[str]:
    """``file:line: name from module`` for every imported name that starts with one underscore."""
    found = []
    for module in modules:
        for line, base, names in _imports(modules, module):
            for name in names or base.split("."):
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{modules[module].relative_to(root).as_posix()}:{line}: {name} from {base}")
    return found


MODULES = find_modules(ROOT, PACKAGES)


def test_the_walk_sees_the_library() -> None:
    # guards the checks below against passing vacuously on an empty or mis-rooted walk
    assert {"graphc.ir", "passes", "targets.numpy.kernels.registry"} <= set(MODULES)
    graph = import_graph(MODULES)
    assert graph.has_edge("targets.numpy.kernels.conv", "targets.numpy.kernels._window")
    assert graph.has_edge("targets.numpy.kernels.conv2d", "targets.numpy.kernels.blas")  # from . import blas


def test_no_module_imports_a_private_name() -> None:
    found = private_imports(MODULES, ROOT)
    assert not found, "private names imported across modules (give the helper a public home):\n" + "\n".join(found)


def test_import_graph_is_acyclic() -> None:
    graph = import_graph(MODULES)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    path = "\n".join(f"  {a} -> {b} (line {graph.edges[a, b]['line']})" for a, b in cycle)
    pytest.fail(f"import cycle (lazy imports count; move the shared piece to a leaf module):\n{path}")


def test_checks_catch_planted_violations(tmp_path: Path) -> None:
    """A private import and a lazy two-module cycle in a synthetic package are both reported."""
    pkg = tmp_path / "lib"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from ..a import public\n")
    (pkg / "a.py").write_text("import lib.sub\nfrom .b import _helper\npublic = 1\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import x\n"
                              "def _helper():\n    from . import a\n")
    modules = find_modules(tmp_path, ("lib",))
    assert private_imports(modules, tmp_path) == ["lib/a.py:2: _helper from lib.b"]
    graph = import_graph(modules)
    assert set(graph.edges) == {("lib.a", "lib.sub"), ("lib.a", "lib.b"), ("lib.b", "lib.a"), ("lib.sub", "lib.a")}
    assert nx.find_cycle(graph)


def imports_of_package(root: Path, folders: tuple[str, ...], package: str) -> list[str]:
    """``file:line: module`` for every import of ``package`` (or a submodule of it) in the .py
    files under ``folders``, lazy and ``TYPE_CHECKING`` imports included (relative imports
    never leave their own package, so only absolute ones can)."""
    found = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            statements = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
            for node in sorted(statements, key=lambda n: n.lineno):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                found.extend(f"{path.relative_to(root).as_posix()}:{node.lineno}: {n}" for n in names
                             if n == package or n.startswith(package + "."))
    return found


def test_the_library_reaches_targets_only_through_the_registry() -> None:
    """graphc/ and passes/ never import ``targets``: graphc/target.py's registry names the built-in
    targets as ``module:Class`` strings and imports them by name (docs/architecture.md)."""
    found = imports_of_package(ROOT, ("graphc", "passes"), "targets")
    assert not found, "graphc/ or passes/ imports a target (ask graphc.target.get_target(name)):\n" + "\n".join(found)
    assert '"targets.numpy.target:NumpyTarget"' in (ROOT / "graphc" / "target.py").read_text()


_LOADERS = ("sys.path", "spec_from_file_location", "SourceFileLoader", "run_path", "load_layer_modules")


def _names_tests(node: ast.AST, tainted: set[str]) -> bool:
    """True when ``node`` holds a string naming the tests folder ("tests", ".../tests/...") or a name
    bound to one."""
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "tests" in n.value.replace("\\", "/").split("/"):
            return True
        if isinstance(n, ast.Name) and n.id in tainted:
            return True
    return False


def loads_from_tests_by_path(root: Path, folders: tuple[str, ...]) -> list[str]:
    """``file:line`` of every statement in the .py files under ``folders`` that puts a path into the
    tests folder on ``sys.path`` or loads code from it by file path (importlib, runpy, layer module
    loading), directly or through a variable bound to such a path."""
    found = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            tainted: set[str] = set()
            for node in ast.walk(tree):  # names bound to a tests path, wherever they are used
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _names_tests(node.value, set()):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    tainted.update(t.id for t in targets if isinstance(t, ast.Name))
            for node in ast.walk(tree):
                if not isinstance(node, ast.stmt) or isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.If, ast.For,
                                                                       ast.While, ast.With, ast.Try)):
                    continue
                text = ast.unparse(node)
                if any(k in text for k in _LOADERS) and _names_tests(node, tainted):
                    found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    return found


def test_tools_never_import_the_tests_package() -> None:
    found = imports_of_package(ROOT, ("tools",), "tests")
    assert not found, "tools/ imports tests (move the helper into graphc/, e.g. graphc.feeds):\n" + "\n".join(found)


def test_tools_never_load_code_from_the_tests_folder_by_path() -> None:
    found = loads_from_tests_by_path(ROOT, ("tools",))
    assert not found, ("tools/ puts tests/ on sys.path or loads a module from it by path (move the builder into "
                       "the library, e.g. graphc.examples or targets.numpy.conformance):\n" + "\n".join(found))


def test_tests_path_check_catches_planted_tricks(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "a.py").write_text(
        'import sys\nfrom pathlib import Path\nROOT = Path(__file__).parent.parent\n'
        'sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "targets")]\n'  # 4
        'sys.path.insert(0, "/repo/tests/x")\n'  # 5
        'FIXTURES = ROOT / "tests"\n'
        'def f():\n    import importlib.util\n'
        '    spec = importlib.util.spec_from_file_location("m", FIXTURES / "m.py")\n'  # 9
        'MODELS = ROOT / "tests" / "real_models"\n'
        'print(MODELS, "the tests pass")\nsys.path.insert(0, str(ROOT / "tools"))\n')  # data paths are fine
    assert loads_from_tests_by_path(tmp_path, ("tools",)) == ["tools/a.py:4", "tools/a.py:5", "tools/a.py:9"]


def test_package_import_check_catches_planted_imports(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("import testsuite\ndef f():\n    from tests.oracle import ort_run\n"
                                           "import tests\nfrom .tests import x\n")
    assert imports_of_package(tmp_path, ("lib",), "tests") == ["lib/a.py:3: tests.oracle", "lib/a.py:4: tests"]
