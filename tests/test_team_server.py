"""`make server`: PostgreSQL + `mlflow server` on loopback, and the `server` environment."""

from __future__ import annotations

import json

from mlflow.tracking import MlflowClient

from tests.conftest import make_kedro_project
from tests.team_support import TeamServer

# Fast boosters for the members conf/server does not override (tiny data, as in conf/test).
TINY_OTHERS = (
    "training.members.xgboost.num_rounds=30,training.members.catboost.num_rounds=30,"
    "training.members.catboost.params.depth=4"
)


def test_start_prints_the_uri_and_uses_postgresql_and_proxied_artifacts(team_server: TeamServer):
    output = team_server.start_output  # type: ignore[attr-defined]
    state = team_server.state
    assert f"export MLFLOW_TRACKING_URI={team_server.uri}" in output
    assert state["backend_store_uri"].startswith("postgresql://postgres@127.0.0.1:")
    assert (team_server.state_dir / "pg" / "data" / "PG_VERSION").read_text().strip() == "15"
    status = team_server.script("status")
    assert status.returncode == 0 and team_server.uri in status.stdout
    again = team_server.script("start", "--port", str(state["port"]))
    assert again.returncode == 1
    assert "already running" in again.stderr and "Traceback" not in again.stderr


def test_kedro_run_in_the_server_environment_uses_its_overrides(tmp_path, monkeypatch, team_server):
    # Arrange: a project copy pointed at the team server by conf/server alone (no URI override)
    project = make_kedro_project(tmp_path)
    project.synthesize("--n-stores", "8")
    project.env.pop("MLFLOW_TRACKING_URI")
    project.env.pop("ROSSMANN_ARTIFACT_ROOT")
    # conf/server/mlflow.yml falls back to MLFLOW_TRACKING_URI; the server is on a test port.
    project.env.update(team_server.credentials("admin"), MLFLOW_TRACKING_URI=team_server.uri)

    # Act
    result = project.run("-e", "server", "--params", TINY_OTHERS)

    # Assert: the run is on the server, with conf/server's stricter gate and longer LightGBM
    assert result.returncode == 0, result.output[-5000:]
    verdict = json.loads((project.path / "data/08_reporting/gate_status.json").read_text())
    assert verdict["threshold"] == 0.08
    for key, value in team_server.credentials("admin").items():
        monkeypatch.setenv(key, value)
    client = MlflowClient(tracking_uri=team_server.uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("rossmann-forecast").experiment_id],
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    params = runs[0].data.params
    assert params["validation.threshold"] == "0.08"
    assert params["training.members.lightgbm.num_rounds"] == "800"
    assert params["training.members.xgboost.num_rounds"] == "30"
