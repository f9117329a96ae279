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
