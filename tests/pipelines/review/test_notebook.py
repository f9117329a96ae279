"""The review notebook (notebooks/review_before_promotion.ipynb), executed headless.

It runs in a real Jupyter kernel (nbclient) inside a project copy, through the Kedro IPython
extension, against a real MLflow registry: the shared lifecycle (Staging and Production) and a
project where nothing is registered yet. The executed copies are kept in build/test-artifacts/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, KedroProject, _kedro_command, make_kedro_project
from tests.pipelines.conftest import MODEL, Lifecycle

NOTEBOOK = PROJECT_ROOT / "notebooks" / "review_before_promotion.ipynb"
ARTIFACT_DIR = PROJECT_ROOT / "build" / "test-artifacts"
CELL_TIMEOUT_SECONDS = 600
JUPYTER_START_SECONDS = 120


def _execute(project: KedroProject, artifact_name: str) -> nbformat.NotebookNode:
    """Run the notebook from ``<project>/notebooks`` with the project's environment and ``-e test``."""
    folder = project.path / "notebooks"
    folder.mkdir(exist_ok=True)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute(env={**project.env, "KEDRO_ENV": project.default_env})
    finally:
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, ARTIFACT_DIR / artifact_name)
    return notebook


def _text(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed notebook shows as text (streams, Markdown, tables)."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get("text/markdown", ""), data.get("text/plain", "")]
    return "\n".join(parts)


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


def test_the_notebook_is_kept_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)

    nbformat.validate(notebook)
    # nbformat 4.5 cells carry ids (a cell without one warns on every read, and will fail).
    assert [cell.cell_type for cell in notebook.cells if "id" not in cell] == []
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [cell.outputs for cell in code if cell.outputs] == []
    assert [cell.execution_count for cell in code if cell.execution_count] == []


def test_the_notebook_compares_staging_with_production(lifecycle: Lifecycle):
    staging = int(lifecycle.client.get_model_version_by_alias(MODEL, "staging").version)
    production = int(lifecycle.client.get_model_version_by_alias(MODEL, "production").version)

    notebook = _execute(lifecycle.project, "review_before_promotion.lifecycle.ipynb")
    shown = _text(notebook)

    assert f"Staging: version {staging}" in shown
    assert f"Production: version {production}" in shown
    assert "Verdict: " in shown
    # The status table, the history of moves (the promotion, with its reason) and StoreTypes.
    assert "first model" in shown
    assert "StoreType" in shown
    assert f"staging v{staging}" in shown
    assert f"production v{production}" in shown
    # Live: Staging in Production's shadow (compared once monitoring has run on this worker's
    # lifecycle, said to be missing before), and each version's latest drift verdict.
    assert (
        f"No live comparison of Staging version {staging} yet" in shown
        or f"Staging version {staging}, live since" in shown
    )
    assert "input_drift" in shown
    # Residuals by StoreType, RMSPE over time, forecast vs actual, error distribution.
    assert _images(notebook) == 4


def test_the_notebook_says_so_when_nothing_is_registered(tmp_path: Path):
    project = make_kedro_project(tmp_path)

    notebook = _execute(project, "review_before_promotion.empty.ipynb")
    shown = _text(notebook)

    assert f"No version of {MODEL} is registered yet" in shown
    assert "No version in Staging: nothing to review." in shown
    assert "No version in Production yet" in shown
    assert _images(notebook) == 0


def test_kedro_jupyter_notebook_starts_with_the_project_kernel(tmp_path: Path):
    """`kedro jupyter notebook` installs the project's kernel and serves on loopback."""
    project = make_kedro_project(tmp_path)
    jupyter_dirs = {
        "JUPYTER_DATA_DIR": tmp_path / "jupyter-data",
        "JUPYTER_CONFIG_DIR": tmp_path / "jupyter-config",
        "JUPYTER_RUNTIME_DIR": tmp_path / "jupyter-runtime",
    }
    env = {**project.env, **{key: str(path) for key, path in jupyter_dirs.items()}}
    token = "review-notebook-test"
    args = ["--no-browser", "--ip=127.0.0.1", "--port=0", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:  # Jupyter refuses root without it (CI and this container are root)
        args.append("--allow-root")
    log_path = tmp_path / "jupyter.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*_kedro_command(), "jupyter", "notebook", *args],
            cwd=project.path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = _wait_for_server(process, log_path, jupyter_dirs["JUPYTER_RUNTIME_DIR"])
        request = urllib.request.Request(
            f"{url}api/kernelspecs", headers={"Authorization": f"token {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            specs = json.loads(answer.read())
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    kernel = jupyter_dirs["JUPYTER_DATA_DIR"] / "kernels" / "kedro_rossmann_forecast"
    assert (kernel / "kernel.json").is_file()
    assert specs["default"] == "kedro_rossmann_forecast"
    assert "kedro_rossmann_forecast" in specs["kernelspecs"]


def _wait_for_server(process: subprocess.Popen, log_path: Path, runtime_dir: Path) -> str:
    """The server's base URL, from the server info file Jupyter writes once it listens."""
    deadline = time.monotonic() + JUPYTER_START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()[-4000:]
        for info in runtime_dir.glob("jpserver-*.json"):
            return json.loads(info.read_text())["url"]
        time.sleep(0.5)
    pytest.fail(f"Jupyter did not start in {JUPYTER_START_SECONDS} s:\n{log_path.read_text()}")
