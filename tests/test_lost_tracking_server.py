"""A real ``mlflow server`` killed by PID during a real ``kedro run``, at three steps: during a
fit, right after the version was created, and during the gate. What the run says, and what the
next commands find once the server is back (issue 20, case 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import _kedro_command, make_kedro_project
from tests.registry_support import start_mlflow_server

MODEL = "rossmann-ensemble"
# Ahead of the first booster's cross-validation, the registration, and the gate's candidate.
KILL_POINTS = {
    "during a fit": "Running node: cross_validate",
    "after the version was created": "Created version '1'",
    "during the gate": "Candidate: rossmann-ensemble version 1",
}


def _run_and_kill_server(project, server, marker: str) -> tuple[int, str, float]:
    """``kedro run -e test``; SIGKILL the server when ``marker`` appears in the output.

    Returns the exit code, the output and the seconds from the kill to the run's exit.
    """
    process = subprocess.Popen(
        [*_kedro_command(), "run", "-e", "test"], cwd=project.path, env=project.env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines, killed_at = [], None
    for line in process.stdout:
        lines.append(line)
        if killed_at is None and marker in line:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
            killed_at = time.monotonic()
    process.wait(timeout=600)
    assert killed_at is not None, "".join(lines)
    return process.returncode, "".join(lines), time.monotonic() - killed_at


@pytest.mark.parametrize("step", KILL_POINTS)
def test_a_run_that_loses_its_server_fails_fast_and_the_next_command_settles_it(tmp_path, step):
    project = make_kedro_project(tmp_path)
    project.synthesize()
    server_dir = tmp_path / "server"
    uri, server = start_mlflow_server(server_dir)
    project.env.update(MLFLOW_TRACKING_URI=uri, ROSSMANN_ARTIFACT_ROOT="mlflow-artifacts:/e2e")
    try:
        code, output, seconds = _run_and_kill_server(project, server, KILL_POINTS[step])
        # Seconds, not MLflow's 8 minutes of retries; one message naming the server.
        assert code == 1, output
        assert seconds < 60, output
        [message] = [line for line in output.splitlines() if line.startswith("Error: ")]
        assert message.startswith(f"Error: Lost the MLflow tracking server {uri}: "), output
        assert (project.path / "data" / ".unfinished_runs.json").is_file()
        assert not (project.path / "data" / ".run.lock").exists()  # the run lock was given back

        if step == "during a fit":  # a registry command meanwhile: one line, exit 1
            down = project.kedro("model", "status", "-e", "test")
            assert down.returncode == 1, down.output
            assert f"Error: Lost the MLflow tracking server {uri}: " in down.stderr, down.output
            assert "Traceback" not in down.output

        uri, server = start_mlflow_server(server_dir, int(uri.rsplit(":", 1)[1]))
        client = MlflowClient(tracking_uri=uri)
        [run] = client.search_runs(
            [client.get_experiment_by_name("rossmann-forecast").experiment_id]
        )
        assert run.info.status == "RUNNING"  # what the lost server left

        status = project.kedro("model", "status", "-e", "test")
        assert status.returncode == 0, status.output
        assert client.get_run(run.info.run_id).info.status == "FAILED"
        assert not (project.path / "data" / ".unfinished_runs.json").exists()
        versions = client.search_model_versions(f"name='{MODEL}'")
        if step == "during a fit":
            assert versions == []
        else:
            [version] = versions
            assert version.tags["validation.status"] == "abandoned", version.tags
            assert "abandoned" in status.stdout
        if step == "after the version was created":  # the gate and promote refuse it
            check = project.kedro("model", "check", "-e", "test")
            assert check.returncode == 0, check.output
            gate = project.run("--pipelines", "validation")
            assert gate.returncode == 1, gate.output
            assert f"No version of '{MODEL}' waits for validation" in gate.output
            promote = project.kedro(
                "model", "promote", "-e", "test", "--version", "1", "--reason", "try"
            )
            assert promote.returncode == 1, promote.output
            assert "validation.status=abandoned" in promote.output
            assert client.get_model_version(MODEL, "1").aliases == []
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
