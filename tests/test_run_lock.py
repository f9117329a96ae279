"""Two `kedro run` in one project folder at once (issue 20 case 1): the second one waits or
stops, so that no version is fit and gated on tables another run wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import KEDRO_TIMEOUT_SECONDS, KedroProject, _kedro_command

LOCK = "data/.run.lock"
START_TIMEOUT_SECONDS = 120


def _start(project: KedroProject, *args: str) -> tuple[subprocess.Popen, Path]:
    """`kedro run -e test <args>` in the background; its output goes to the returned file."""
    log_path = project.path.parent / f"run_{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*_kedro_command(), "run", "-e", "test", *args],
            cwd=project.path,
            env=project.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return process, log_path


def _wait_until_running(process: subprocess.Popen, log_path: Path) -> None:
    """Return once the background run is running its nodes."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()[-3000:]
        if "Running node:" in log_path.read_text():
            return
        time.sleep(0.1)
    pytest.fail("the first run did not start its nodes")


def _finish(process: subprocess.Popen) -> int:
    try:
        return process.wait(timeout=KEDRO_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
def synthesized(kedro_project: KedroProject) -> KedroProject:
    kedro_project.synthesize()
    return kedro_project


def test_a_second_run_stops_naming_the_run_that_holds_the_data(synthesized):
    """`kedro run -e test & kedro run -e test --params data_processing.holdout_days=28`: both
    exited 0, and the first run's version was gated on the second run's 28-day tables."""
    first, log = _start(synthesized)  # the whole run: it holds data/ for a minute or more
    _wait_until_running(first, log)

    second = synthesized.run("--params", "data_processing.holdout_days=28")
    owner = json.loads((synthesized.path / LOCK).read_text())  # the first run still holds it

    assert second.returncode == 75, second.output[-3000:]
    message = " ".join(second.stderr.split())
    assert f"Error: Another run is using this project's data/ (pid {first.pid} on " in message
    assert "`kedro run -e test`" in message
    assert "Nothing was run." in message
    assert "Running node" not in second.output
    assert owner["pid"] == first.pid
    assert _finish(first) == 0, log.read_text()[-3000:]
    assert not (synthesized.path / LOCK).exists()
    origins = json.loads(
        (synthesized.path / "data/05_model_input/forecast_origins.json").read_text()
    )
    assert origins["holdout_origin"] == "2015-06-20"  # the first run's 42 days, not 28


def test_with_a_wait_the_second_run_starts_when_the_first_has_finished(synthesized):
    (synthesized.path / "conf" / "test" / "globals.yml").write_text(
        "run_lock:\n  wait_seconds: 600\n  poll_seconds: 0.2\n"
    )
    first, log = _start(synthesized)
    _wait_until_running(first, log)

    second = synthesized.run(
        "--pipelines", "data_processing", "--params", "data_processing.holdout_days=28"
    )

    assert second.returncode == 0, second.output[-3000:]
    assert f"Another run holds the project's run lock (pid {first.pid} " in second.output
    assert first.poll() == 0  # it had finished before the second one ran a node
    origins = json.loads(
        (synthesized.path / "data/05_model_input/forecast_origins.json").read_text()
    )
    assert origins["holdout_origin"] == "2015-07-04"  # the second run's 28 days


def test_a_lock_left_by_a_killed_run_is_broken(synthesized):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(gone.stdout)
    lock = synthesized.path / LOCK
    lock.write_text(
        json.dumps(
            {"pid": dead_pid, "host": __import__("socket").gethostname(),
             "command": "kedro run", "started": "2026-01-01T00:00:00Z"}
        )
    )  # fmt: skip

    result = synthesized.run("--pipelines", "data_processing")

    assert result.returncode == 0, result.output[-3000:]
    assert f"Broke a stale run lock: its run (pid {dead_pid} on " in result.output
    assert not lock.exists()
