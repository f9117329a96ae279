"""Helpers for the registry tests: a real MLflow server, tiny real pyfunc versions, workers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import ClassVar

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry import ModelRegistry, initial_version_tags

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("registry_worker.py")


class ConstantModel(mlflow.pyfunc.PythonModel):
    """Predicts 1.0 for every row: enough to prove a version loads and predicts."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:  # noqa: ARG002
        return pd.Series([1.0] * len(model_input), name="Sales")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow_server(workdir: Path, port: int | None = None) -> tuple[str, subprocess.Popen]:
    """Start ``mlflow server`` on loopback with a SQLite backend and artifacts in ``workdir``
    (on ``port``, else a free one: the same folder and port restart a stopped server)."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "server.log").open("a")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'server.db'}",
            "--artifacts-destination",
            str(workdir / "artifacts"),
            "--default-artifact-root",
            "mlflow-artifacts:/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(workdir / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=1) as response:
                if response.status == 200:
                    return uri, process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"mlflow server did not start: {(workdir / 'server.log').read_text()}")


class VersionFactory:
    """Registers real pyfunc versions of a model.

    The tiny model is logged once per tracking backend and registered as many versions as needed
    (each ``log_model`` costs a run and an artifact upload; registering costs one request).
    """

    _logged: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, tracking_uri: str, model_name: str, artifact_root: Path) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        if tracking_uri not in self._logged:
            self._logged[tracking_uri] = self._log_model(artifact_root)
        self.model_uri, self.run_id = self._logged[tracking_uri]

    def _log_model(self, artifact_root: Path) -> tuple[str, str]:
        experiment = "registry-tests"
        if self.client.get_experiment_by_name(experiment) is None:
            kwargs = {}
            if not self.tracking_uri.startswith("http"):
                kwargs["artifact_location"] = (artifact_root / experiment).as_uri()
            self.client.create_experiment(experiment, **kwargs)
        mlflow.set_experiment(experiment)
        with mlflow.start_run() as run:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ConstantModel(),
                pip_requirements=["mlflow", "pandas"],
            )
        return info.model_uri, run.info.run_id

    def register(self, *, lineage_complete: bool = True, **extra_tags: str) -> int:
        tags = {**initial_version_tags(), **extra_tags}
        if lineage_complete:
            tags.update(
                {
                    "lineage.complete": "true",
                    "lineage.data_source.source": "synthetic",
                    "lineage.data_source.seed": "42",
                    "lineage.data.train.sha256": "ab12cd34ef56ab12cd34",
                    "lineage.git.commit": "0123456789abcdef",
                    "cv.ensemble_rmspe": "0.101000",
                }
            )
        version = mlflow.register_model(self.model_uri, self.model_name, tags=tags)
        return int(version.version)


def validated(
    registry: ModelRegistry,
    factory: VersionFactory,
    *,
    passed: bool = True,
    rmspe: float = 0.09,
    user: str = "gate",
) -> int:
    """Register a version and run it through the gate."""
    version = factory.register()
    registry.record_validation(
        version,
        passed=passed,
        metrics={"holdout_rmspe": rmspe, "holdout_bias": -0.01},
        threshold=0.10,
        reason=f"holdout RMSPE {rmspe:.4f} {'<' if passed else '>='} 0.10",
        run_id=None,
        user=user,
    )
    return version


def _worker_env(tracking_uri: str, crash_at: str | None) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    env.pop("ROSSMANN_REGISTRY_CRASH_AT", None)
    env.pop("MLFLOW_REGISTRY_URI", None)  # exported by mlflow.set_registry_uri() in this process
    if crash_at:
        env["ROSSMANN_REGISTRY_CRASH_AT"] = crash_at
    return env


def start_worker(
    tracking_uri: str,
    model_name: str,
    *args: str,
    crash_at: str | None = None,
    barrier: Path | None = None,
    name: str = "worker",
) -> subprocess.Popen:
    """Start ``registry_worker.py`` in its own process (optionally waiting at a barrier)."""
    command = [sys.executable, str(WORKER), model_name, *args]
    if barrier is not None:
        command += ["--barrier", str(barrier), "--name", name]
    return subprocess.Popen(
        command,
        env=_worker_env(tracking_uri, crash_at),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def release_barrier(barrier: Path, count: int, timeout: float = 90) -> None:
    """Wait until ``count`` workers are connected and waiting, then let them all go at once."""
    deadline = time.monotonic() + timeout
    while len(list(barrier.glob("*.ready"))) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(barrier.glob('*.ready')))} workers got ready")
        time.sleep(0.05)
    (barrier / "go").touch()


def finish(worker: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    stdout, stderr = worker.communicate(timeout=timeout)
    return worker.returncode, stdout, stderr


def worker_result(stdout: str) -> dict:
    """The JSON line a worker prints last."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}
