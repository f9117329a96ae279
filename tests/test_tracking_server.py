"""A team's setup: every command against a real `mlflow server` on loopback instead of SQLite;
and what happens when that server stops answering (``rossmann_forecast.tracking_server``)."""

import json
import os
import subprocess
import sys

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry import (
    ModelRegistry,
    PromotionRefused,
    RegistryError,
    initial_version_tags,
)
from rossmann_forecast.tracking_server import (
    RETRY_VARIABLES,
    UnfinishedRuns,
    apply_retry_settings,
    lost_server_message,
    no_answer,
    retry_budget,
    settle,
)
from tests.conftest import make_kedro_project
from tests.registry_support import VersionFactory, free_port

MODEL = "rossmann-ensemble"


def test_train_gate_promote_and_load_through_a_tracking_server(tmp_path, mlflow_server):
    project = make_kedro_project(tmp_path)
    project.synthesize()
    # Artifacts go where the server keeps them (proxied), as they would for a team.
    project.env.update(
        MLFLOW_TRACKING_URI=mlflow_server, ROSSMANN_ARTIFACT_ROOT="mlflow-artifacts:/e2e"
    )

    trained = project.run()
    assert trained.returncode == 0, trained.output
    assert "✓ Model version 1 promoted to Staging" in trained.output
    promoted = project.kedro("model", "promote", "-e", "test", "--reason", "team review ok")
    assert promoted.returncode == 0, promoted.output
    status = project.kedro("model", "status", "-e", "test")
    assert f"tracking: {mlflow_server}" in status.stdout

    script = (
        "import mlflow, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model('models:/{MODEL}@production')\n"
        f"rows = pd.read_csv(r'{project.raw_dir / 'test.csv'}', dtype={{'StateHoliday': str}})\n"
        "print('ROWS', len(m.predict(rows)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], env=project.env, capture_output=True, text=True,
        timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "ROWS" in loaded.stdout


# --- a lost server: retries, the message, and what the next command settles --------------------


def test_retries_come_from_conf_unless_the_environment_sets_them(monkeypatch):
    for variable in RETRY_VARIABLES.values():  # set, then removed: restored after the test
        monkeypatch.setenv(variable, "0")
        monkeypatch.delenv(variable)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")
    applied = apply_retry_settings({"max_retries": 2, "backoff_factor": 1, "timeout_seconds": 30})
    assert applied == {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"  # the user's own value wins
    assert retry_budget() == "3 tries over about 4 s"
    with pytest.raises(ValueError, match="tracking_server.max_retries"):
        apply_retry_settings({"max_retries": -1})


def test_a_server_that_does_not_answer_is_told_from_one_that_answers_with_an_error(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MlflowException) as lost:
        MlflowClient(tracking_uri=nobody).get_run("0" * 32)
    assert no_answer(lost.value) == "Connection refused"
    message = lost_server_message(lost.value, nobody, "abc123")
    assert message.startswith(f"Lost the MLflow tracking server {nobody}: Connection refused")
    assert "(MLflow run abc123) FAILED" in message
    assert "\n" not in message

    local = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(MlflowException) as answered:
        local.get_run("0" * 32)
    assert no_answer(answered.value) == ""
    assert lost_server_message(answered.value, "sqlite:///m.db", None) == ""


def _half_registered(tmp_path, model_name="rossmann-ensemble"):
    """A version registered by a run that never ended (left RUNNING), as a lost server leaves it."""
    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    factory = VersionFactory(uri, model_name, tmp_path / "artifacts")
    experiment = factory.client.get_experiment_by_name("registry-tests").experiment_id
    run_id = factory.client.create_run(experiment).info.run_id
    factory.register()  # a first, finished version: the model exists
    tags = {**initial_version_tags(), "lineage.complete": "true"}
    version = factory.client.create_model_version(
        model_name, factory.model_uri, run_id=run_id, tags=tags
    )
    registry = ModelRegistry(model_name, factory.client, lock_wait_seconds=5)
    return uri, factory, registry, run_id, int(version.version)


def test_the_gate_never_judges_a_version_whose_training_run_did_not_finish(tmp_path):
    _, factory, registry, run_id, version = _half_registered(tmp_path)
    assert registry.versions_to_validate() == [version - 1]  # the running run's version is skipped
    with pytest.raises(RegistryError, match=f"training run {run_id} is still RUNNING"):
        registry.record_validation(
            version, passed=True, metrics={"holdout_rmspe": 0.05}, threshold=0.1,
            reason="ok", run_id=None,
        )  # fmt: skip
    assert registry.check_invariants() == []  # a running run may still be saving its version

    factory.client.set_terminated(run_id, "FAILED")
    with pytest.raises(RegistryError, match=f"training run {run_id} is FAILED"):
        registry.record_validation(
            version, passed=True, metrics={"holdout_rmspe": 0.05}, threshold=0.1,
            reason="ok", run_id=None,
        )  # fmt: skip
    [problem] = registry.check_invariants()
    assert f"version {version}'s training run {run_id} is FAILED" in problem
    registry.repair(user="ops")
    assert registry.check_invariants() == []
    assert registry.version_summary(version)["validation_status"] == "abandoned"
    with pytest.raises(PromotionRefused):
        registry.promote(version=version, reason="try")


def test_the_next_command_settles_runs_whose_process_is_gone(tmp_path):
    uri, factory, registry, run_id, version = _half_registered(tmp_path)
    records = UnfinishedRuns(tmp_path / "data")
    records.add(run_id, uri, "rossmann-ensemble")
    assert records.mine().run_id == run_id
    assert settle(records, uri, {}) == []  # this process is alive: its run is not touched
    assert factory.client.get_run(run_id).info.status == "RUNNING"

    gone = _dead_pid()
    rows = json.loads(records.path.read_text())
    rows[0]["pid"] = gone
    records.path.write_text(json.dumps(rows))
    assert settle(records, "sqlite:///elsewhere.db", {}) == []  # another server's run: later
    done = settle(records, uri, {})
    assert len(done) == 2, done
    assert "marked FAILED" in done[0]
    assert f"version(s) {version} of rossmann-ensemble" in done[1]
    assert factory.client.get_run(run_id).info.status == "FAILED"
    assert registry.version_summary(version)["validation_status"] == "abandoned"
    assert records.read() == []
    assert not records.path.exists()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
