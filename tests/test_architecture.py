"""Boundaries the project keeps: nodes compute, the catalog does the MLflow and registry I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINES = Path(__file__).parents[1] / "src" / "rossmann_forecast" / "pipelines"
NODE_MODULES = sorted(PIPELINES.glob("*/nodes.py"))


def _io_calls(path: Path) -> list[str]:
    """``mlflow.<anything>`` attribute uses and ``ModelRegistry`` uses in a module's code."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id == "mlflow":
                found.append(f"line {node.lineno}: mlflow.{node.attr}")
        if isinstance(node, ast.Name) and node.id == "ModelRegistry":
            found.append(f"line {node.lineno}: ModelRegistry")
        if isinstance(node, ast.ImportFrom) and node.module == "mlflow":
            found.append(f"line {node.lineno}: from mlflow import ...")
    return found


def test_there_are_node_modules_to_check():
    assert {p.parent.name for p in NODE_MODULES} >= {
        "data_processing", "training", "validation", "inference", "review", "monitoring",
    }  # fmt: skip


@pytest.mark.parametrize("module", NODE_MODULES, ids=lambda p: p.parent.name)
def test_no_node_calls_mlflow_or_builds_the_registry(module):
    assert _io_calls(module) == []


def test_the_check_catches_what_it_looks_for(tmp_path):
    sample = tmp_path / "nodes.py"
    sample.write_text(
        "import mlflow\nfrom mlflow import log_metric\n"
        "def f():\n    mlflow.active_run()\n    return ModelRegistry('m')\n"
    )
    assert _io_calls(sample) == [
        "line 2: from mlflow import ...",
        "line 4: mlflow.active_run",
        "line 5: ModelRegistry",
    ]


# --- the import graph ----------------------------------------------------------------------------
PACKAGE = Path(__file__).parents[1] / "src" / "rossmann_forecast"
# Modules that read or write MLflow, the catalog's datasets, or the command line: no node
# imports them (nodes receive models and versions as plain inputs).
IO_PACKAGE = "rossmann_forecast.io"  # the catalog's datasets: every module under it
IO_MODULES = {
    IO_PACKAGE,
    "rossmann_forecast.hooks",
    "rossmann_forecast.cli",
    *(f"rossmann_forecast.cli.{path.stem}" for path in (PACKAGE / "cli").glob("[!_]*.py")),
    "rossmann_forecast.tracking_server",
}
REGISTRY_STORE = {
    f"rossmann_forecast.registry.{name}"
    for name in ("facade", "journal", "lock", "access", "notifications")
}
REGISTRY_PURE = {
    f"rossmann_forecast.registry.{name}"
    for name in ("stages", "errors", "state", "plan", "rules", "version")
}
THIRD_PARTY_IO = ("mlflow", "kedro_mlflow")


def _modules(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root`` by dotted name (packages by their name)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path], *, module_level: bool,
             type_checking: bool) -> set[str]:  # fmt: skip
    """What ``name`` imports: modules of the package by name, other packages by top name.

    ``module_level``: only imports run when the module is imported (not those inside
    functions); ``type_checking``: include those under ``if TYPE_CHECKING:``.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes, in_function: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                if type_checking:
                    visit(node.body, in_function)
                visit(node.orelse, in_function)
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if not module_level:
                    visit(ast.iter_child_nodes(node), True)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}".rstrip(".")
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in modules else base)
            else:
                visit(ast.iter_child_nodes(node), in_function)

    visit(ast.parse(path.read_text()).body, False)
    return {
        item if item in modules or item.startswith("rossmann_forecast") else item.split(".")[0]
        for item in found
    }


def _closure(start: str, modules: dict[str, Path]) -> set[str]:
    """Everything importing ``start`` runs: its module-level imports, their parent packages
    (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``), transitively."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in modules:
            continue
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_imports(name, modules[name], modules, module_level=True, type_checking=False))
    return seen


def _cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Import circles among the package's modules (module-level imports, TYPE_CHECKING ones
    included: a circle that only type hints close is still a circle for a reader)."""
    graph = {
        name: sorted(
            i for i in _imports(name, path, modules, module_level=True, type_checking=True)
            if i in modules and i != name
        )
        for name, path in modules.items()
    }  # fmt: skip
    cycles, state = [], {}

    def walk(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for nxt in graph[name]:
            if state.get(nxt) == "open":
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*stack, nxt])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    return cycles


MODULES = _modules(PACKAGE)
IO_MODULES |= {name for name in MODULES if name.startswith(f"{IO_PACKAGE}.")}


def test_the_io_modules_include_every_dataset_module():
    assert {
        "rossmann_forecast.io.models.registered_version",
        "rossmann_forecast.io.registry.gate_verdict",
        "rossmann_forecast.io.tracking.run_record",
        "rossmann_forecast.io.raw.raw_files_fingerprint",
    } <= IO_MODULES


@pytest.mark.parametrize("module", NODE_MODULES, ids=lambda p: p.parent.name)
def test_nodes_import_no_mlflow_no_dataset_module_and_no_registry_store(module):
    from rossmann_forecast.registry import _STORE  # noqa: PLC0415 - the lazily loaded names

    name = f"rossmann_forecast.pipelines.{module.parent.name}.nodes"
    direct = _imports(name, module, MODULES, module_level=False, type_checking=True)
    assert direct.isdisjoint({*THIRD_PARTY_IO, *IO_MODULES, *REGISTRY_STORE}), direct
    store_names = [
        f"line {node.lineno}: {alias.name}"
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "rossmann_forecast.registry"
        for alias in node.names
        if alias.name in _STORE
    ]
    assert store_names == []


@pytest.mark.parametrize("name", sorted(REGISTRY_PURE))
def test_the_registry_core_imports_no_mlflow_even_indirectly(name):
    reached = _closure(name, MODULES)
    assert reached.isdisjoint({*THIRD_PARTY_IO, *REGISTRY_STORE, *IO_MODULES}), sorted(
        reached & {*THIRD_PARTY_IO, *REGISTRY_STORE, *IO_MODULES}
    )


def test_the_shipped_model_imports_only_itself_and_third_party_libraries():
    for name, path in MODULES.items():
        if not name.startswith("rossmann_forecast.model"):
            continue
        ours = {
            i for i in _imports(name, path, MODULES, module_level=False, type_checking=True)
            if i.startswith("rossmann_forecast")
        }  # fmt: skip
        assert all(i.startswith("rossmann_forecast.model") for i in ours), (name, ours)


def test_no_module_imports_itself_in_a_circle():
    assert _cycles(MODULES) == []


def test_the_graph_checks_catch_what_they_look_for(tmp_path):
    root = tmp_path / "pkg"
    (root / "core").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "core" / "__init__.py").write_text("from pkg.core import store\n")
    (root / "core" / "pure.py").write_text("from pkg.core.helpers import f\n")
    (root / "core" / "helpers.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.core.pure import X\n"
        "def f():\n    import json\n"
    )
    (root / "core" / "store.py").write_text("import mlflow\n")
    modules = _modules(root)
    # pure -> helpers, and importing pure runs core/__init__ -> store -> mlflow
    assert {"pkg.core.store", "mlflow"} <= _closure("pkg.core.pure", modules)
    assert "json" not in _closure("pkg.core.pure", modules)  # inside a function: not run
    assert _cycles(modules) == [["pkg.core.helpers", "pkg.core.pure", "pkg.core.helpers"]]
