"""`kedro model ...` through real `kedro` subprocesses against a temporary tracking database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry import ModelRegistry
from tests.registry_support import REPO_ROOT, VersionFactory, validated

MODEL = "rossmann-ensemble"  # the name in conf/base/globals.yml


@pytest.fixture
def tracking(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "ROSSMANN_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "COLUMNS": "200",
    }
    # An earlier test's mlflow.set_registry_uri() exports MLFLOW_REGISTRY_URI: do not inherit it.
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_REGISTRY_URI"):
        env.pop(variable, None)
    factory = VersionFactory(uri, MODEL, tmp_path / "artifacts")
    registry = ModelRegistry(MODEL, MlflowClient(tracking_uri=uri))
    return env, factory, registry


def kedro_model(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    kedro = Path(sys.executable).with_name("kedro")
    return subprocess.run(
        [str(kedro), "model", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promote_status_history_describe_and_refusals(tracking):
    env, factory, registry = tracking
    v1 = validated(registry, factory, rmspe=0.0978)

    first = kedro_model(env, "promote", "--reason", "first model", "--user", "ann")
    assert first.returncode == 0, first.stderr
    assert f"✓ Model version {v1} is now in Production" in first.stdout
    assert "archived" not in first.stdout
    assert "Live: no comparison on actual sales yet" in first.stdout

    v2 = validated(registry, factory, rmspe=0.0921)
    # Monitoring compared v2, in v1's shadow, on live weeks; and inference judged v1's batch.
    registry.record_shadow_comparison(
        v2, champion=v1, rmspe=0.091, champion_rmspe=0.104, store_days=4212,
        since="2015-08-03", until="2015-09-14", run_id=None,
    )  # fmt: skip
    registry.record_input_drift(
        v1, status="drift", drifted=["Promo uniformity"], run_id=None, reason="",
        batch={"rows": 41088, "stores": 856, "first_date": "2015-08-01", "last_date": "2015-09-17"},
    )  # fmt: skip
    second = kedro_model(env, "promote", "--reason", "better on recent weeks", "--user", "bob")
    assert second.returncode == 0, second.stderr
    assert f"✓ Model version {v2} is now in Production" in second.stdout
    assert f"✓ Previous Production model (version {v1}) archived" in second.stdout
    assert (
        f"Live: live since 2015-08-03, 4,212 store-days: version {v2} 0.0910 vs version {v1} "
        "0.1040 (the version that served them)"
    ) in second.stdout

    rejected = validated(registry, factory, passed=False, rmspe=0.31)
    refused = kedro_model(env, "promote", "--version", str(rejected), "--reason", "please")
    assert refused.returncode == 1
    assert f"Version {rejected} was rejected by the validation gate" in refused.stderr

    status = kedro_model(env, "status")
    assert status.returncode == 0, status.stderr
    assert env["MLFLOW_TRACKING_URI"] in status.stdout  # same tracking URI as `kedro run`
    rows = {
        int(line.split()[0]): line
        for line in status.stdout.splitlines()
        if line.strip()[:1].isdigit() and len(line.split()) > 3
    }
    assert rows[v2].split()[1:4] == ["Production", "passed", "0.0921"]
    assert "bob" in rows[v2]
    assert rows[v1].split()[1:4] == ["Archived", "passed", "0.0978"]
    assert "synthetic (seed 42)" in rows[v1]
    assert "drift: Promo uniformity" in rows[v1]  # the latest batch's drift verdict
    assert rows[rejected].split()[1:3] == ["None", "rejected"]

    history = kedro_model(env, "history")
    assert history.returncode == 0, history.stderr
    lines = [line for line in history.stdout.splitlines() if "->" in line and "#" not in line]
    moves = [
        (int(line.split()[2]), line.split()[3], line.split()[5], line.split()[6]) for line in lines
    ]
    assert moves == [
        (v1, "None", "Staging", "gate"),
        (v1, "Staging", "Production", "ann"),
        (v2, "None", "Staging", "gate"),
        (v2, "Staging", "Production", "bob"),
        (v1, "Production", "Archived", "bob"),
        (rejected, "None", "None", "gate"),
    ]
    assert "better on recent weeks" in lines[4]

    describe = kedro_model(env, "describe", str(v1))
    assert describe.returncode == 0, describe.stderr
    assert f"{MODEL} version {v1}: Archived" in describe.stdout
    assert "git.commit: 0123456789abcdef" in describe.stdout

    retain = kedro_model(env, "retain", "--keep", "0", "--dry-run")
    assert retain.returncode == 0, retain.stderr
    assert f"Would delete: version {v1}" in retain.stdout
    assert {r.version for r in registry.status()} == {v1, v2, rejected}


def test_promote_without_staging_or_reason_exits_non_zero(tracking):
    env, _, _ = tracking
    nothing = kedro_model(env, "promote", "--reason", "ship")
    assert nothing.returncode == 1
    assert "No version of rossmann-ensemble is in Staging" in nothing.stderr
    no_reason = kedro_model(env, "promote")
    assert no_reason.returncode == 2
    assert "Missing option '--reason'" in no_reason.stderr


def test_commands_start_with_their_answer_and_columns_line_up(tracking):
    env, factory, registry = tracking
    user = "a.very-long-directory-user-name"
    first = validated(registry, factory, rmspe=0.0978)
    assert kedro_model(env, "promote", "--reason", "first", "--user", user).returncode == 0
    second = validated(registry, factory, rmspe=0.0921)

    status = kedro_model(env, "status")
    assert status.returncode == 0, status.stderr
    # No start-up noise before the answer (Kedro's logging INFO line, kedro-mlflow's warning).
    assert status.stdout.splitlines()[0].startswith(f"Model {MODEL}  (tracking: ")
    assert "Add type hints" not in status.stdout + status.stderr
    assert "as logging configuration" not in status.stdout + status.stderr

    header, *rows = status.stdout.splitlines()[1:]
    stage_at, by_at, note_at = (header.index(h) for h in ("STAGE", "PROMOTED BY", "NOTE"))
    cells = {int(row.split()[0]): row for row in rows}
    assert cells[first][stage_at:].startswith("Production ")
    assert cells[first][by_at:].startswith(user)
    assert cells[second][stage_at:].startswith("Staging ")
    assert cells[second][by_at:].split()[0] == "-"
    assert all(len(row) <= note_at or row[note_at - 2 : note_at] == "  " for row in rows)

    history = kedro_model(env, "history")
    assert history.returncode == 0, history.stderr
    header, *rows = history.stdout.splitlines()
    assert header.startswith("#")
    who_at, metrics_at = header.index("WHO"), header.index("METRICS")
    promoted = next(row for row in rows if "Staging -> Production" in row)
    assert promoted[who_at:].startswith(user)
    assert promoted[metrics_at:].startswith("holdout_bias=-0.0100 holdout_rmspe=0.0978")


def test_a_version_whose_artifacts_were_deleted_is_broken_and_never_promoted(tracking, tmp_path):
    """Issue 10: `check` said consistent and `promote` succeeded; predict then failed."""
    env, factory, registry = tracking
    staged = validated(registry, factory, rmspe=0.0978)
    location = registry.client.get_model_version_download_uri(MODEL, str(staged))
    assert kedro_model(env, "check").returncode == 0
    shutil.rmtree(unquote(urlparse(location).path))

    check = kedro_model(env, "check")

    assert check.returncode == 1
    assert f"✗ version {staged} is broken: its model does not load" in check.stdout
    assert f"no MLmodel file at {location}" in check.stdout
    assert "cannot be loaded and must not be promoted" in check.stderr
    assert "✓ Registry consistent" not in check.stdout

    promote = kedro_model(env, "promote", "--reason", "ship it")

    assert promote.returncode == 1
    assert f"Version {staged} of {MODEL} cannot be promoted" in promote.stderr
    assert location in promote.stderr
    assert registry.version_for_stage("production") is None
    assert registry.version_for_stage("staging") == staged
    assert [t.to_stage for t in registry.history()] == ["Staging"]  # nothing journaled

    rows = tmp_path / "rows.csv"
    rows.write_text(
        "Id,Store,DayOfWeek,Date,Open,Promo,StateHoliday,SchoolHoliday\n1,1,6,2015-08-01,1,0,0,0\n"
    )
    output = tmp_path / "out.csv"
    predict = kedro_model(
        env, "predict", "--stage", "Staging", "--input", str(rows), "--output", str(output)
    )

    assert predict.returncode == 1
    assert f"Cannot predict with {MODEL} version {staged} (Staging; requested: Staging)" in (
        predict.stderr
    )
    assert f"no MLmodel file at {location}" in predict.stderr
    assert "Traceback" not in predict.stderr
    assert not output.exists()


def test_a_note_with_line_breaks_stays_on_its_row(tracking):
    """Issue 20 case 7: a version abandoned with a multi-line error split its status row."""
    env, factory, registry = tracking
    version = factory.register()
    assert registry.abandon(version, "the run failed: OSError:\n[Errno 28] No space\tleft")

    status = kedro_model(env, "status")
    history = kedro_model(env, "history")

    assert status.returncode == 0, status.stderr
    rows = status.stdout.splitlines()[2:]
    assert len(rows) == 1, status.stdout  # one version, one line
    assert rows[0].startswith(f"{version:>7}  None")
    assert rows[0].endswith("abandoned: the run failed: OSError:\\n[Errno 28] No space\\tleft"), (
        status.stdout
    )
    assert history.returncode == 0, history.stderr
    assert len(history.stdout.splitlines()) == 2, history.stdout  # header + the abandon


@pytest.mark.parametrize(
    ("step", "serves_new"),
    [("after_intent", False), ("after_alias_production", True), ("after_version_tags", True)],
)
def test_a_killed_promote_is_seen_one_way_by_mlflow_and_every_command(tracking, step, serves_new):
    """Issue 20 case 3: `kill -9` in promote's write window left MLflow's production alias on
    the old version while `kedro model status` and `predict --stage Production` used the new."""
    env, factory, registry = tracking
    old = validated(registry, factory, rmspe=0.0978)
    assert kedro_model(env, "promote", "--reason", "first").returncode == 0
    new = validated(registry, factory, rmspe=0.0921)

    killed = kedro_model({**env, "ROSSMANN_REGISTRY_CRASH_AT": step}, "promote", "--reason", "2")
    status = kedro_model(env, "status")
    check = kedro_model(env, "check")

    assert killed.returncode == -9, killed.stderr
    serving = new if serves_new else old
    alias = registry.client.get_model_version_by_alias(MODEL, "production")
    assert int(alias.version) == serving
    assert status.returncode == 0, status.stderr
    production = [line.split()[0] for line in status.stdout.splitlines() if " Production " in line]
    assert production == [str(serving)], status.stdout
    warning = next(line for line in status.stdout.splitlines() if line.startswith("⚠"))
    assert f"version {serving} serves Production" in warning
    assert ("past its commit point" if serves_new else "before its commit point") in warning
    assert check.returncode == 1 and f"version {serving} serves Production" in check.stdout

    repaired = kedro_model(env, "check", "--repair")

    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert int(registry.client.get_model_version_by_alias(MODEL, "production").version) == serving
    assert "⚠" not in kedro_model(env, "status").stdout
