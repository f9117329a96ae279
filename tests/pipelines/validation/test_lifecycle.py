"""The whole model lifecycle, end to end, with real `kedro run` and `kedro model` calls.

train v1 -> gate passes -> promote -> train v2 -> gate passes -> promote (v1 archived) ->
rollback to v1 (v2 archived) -> v3 judged with a stricter threshold is rejected and cannot be
promoted -> history shows every move with users and reasons.
"""

import json

import pytest
from mlflow import MlflowClient

from tests.conftest import make_kedro_project

MODEL = "rossmann-ensemble"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_kedro_project(tmp_path_factory.mktemp("lifecycle"))
    project.synthesize()
    return project


def _ok(result):
    assert result.returncode == 0, result.output
    return result


def _gate_status(project):
    return json.loads((project.path / "data" / "08_reporting" / "gate_status.json").read_text())


def _stages(project):
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    model = client.get_registered_model(MODEL)
    tags = {
        int(v.version): v.tags.get("lifecycle.stage")
        for v in client.search_model_versions(f"name='{MODEL}'")
    }
    return dict(model.aliases), tags


def _assert_interval_record(status):
    """The backtest's P10-P90 band was scored on the holdout too (coverage, width, loss)."""
    assert status["intervals"]["levels"] == [0.1, 0.5, 0.9]
    assert status["intervals"]["interval"] == [0.1, 0.9]
    scores = status["intervals"]["scores"]
    assert 0.0 <= scores["interval_coverage"] <= 1.0 and scores["interval_width"] > 0
    assert {f"interval_coverage_week{w}" for w in range(1, 7)} <= set(scores)
    assert status["checks"]["coverage"] is (scores["interval_coverage"] >= 0.70)


def _assert_likely_range(status: dict) -> dict:
    """Where the next weeks may land: conf/base's validation.estimate_range times the
    estimate, widened because this chain has far fewer stores than the factors were measured
    on (validation.estimate_range_stores)."""
    likely = status["estimate_range"]
    low, high = likely["widened_factors"]
    assert likely["factors"] == [0.8, 1.2] and likely["reference_stores"] == 82
    assert 2 <= likely["stores"] < 82 and likely["store_spread"] > 0
    assert low < 0.8 and high > 1.2
    assert (likely["low"], likely["high"]) == pytest.approx(
        (status["estimate_rmspe"] * low, status["estimate_rmspe"] * high)
    )
    return likely


def test_train_gate_promote_rollback_reject_and_history(project):
    # v1: the default pipeline trains, registers and gates it.
    first = _ok(project.run())
    assert "Validation RMSPE: " in first.output
    assert "✓ Performance meets the gate (< 0.15): estimate RMSPE" in first.output
    assert "✓ Model version 1 promoted to Staging" in first.output
    assert _gate_status(project) | {"evaluated_at": None} == _gate_status(project) | {
        "version": 1,
        "passed": True,
        "status": "passed",
        "evaluated_at": None,
    }
    promoted = _ok(project.kedro("model", "promote", "-e", "test", "--reason", "first model",
                                 "--user", "ann"))  # fmt: skip
    assert "✓ Model version 1 is now in Production" in promoted.stdout

    # v2: trained and gated in a second run; promoting it archives v1.
    _ok(project.run("--pipelines", "training,validation"))
    assert _gate_status(project)["version"] == 2 and _gate_status(project)["passed"]
    second = _ok(project.kedro("model", "promote", "-e", "test", "--reason", "better recent weeks",
                               "--user", "bob"))  # fmt: skip
    assert "✓ Model version 2 is now in Production" in second.stdout
    assert "✓ Previous Production model (version 1) archived" in second.stdout
    aliases, stages = _stages(project)
    assert aliases == {"production": 2}
    assert stages == {1: "Archived", 2: "Production"}

    # Rollback to v1 in one command: v2 is archived.
    rollback = _ok(project.kedro("model", "promote", "-e", "test", "--version", "1",
                                 "--reason", "v2 over-forecasts Sundays", "--user", "carol"))  # fmt: skip
    assert "✓ Model version 1 is now in Production" in rollback.stdout
    assert "✓ Previous Production model (version 2) archived" in rollback.stdout
    aliases, stages = _stages(project)
    assert aliases == {"production": 1}
    assert stages == {1: "Production", 2: "Archived"}

    # v3, judged with a stricter threshold as a hard floor (no seasonal waiver, which would let
    # a version no worse than Production through), is rejected and cannot be promoted.
    _ok(project.run("--pipelines", "training"))
    strict = _ok(project.run("--pipelines", "validation", "--params",
                             "validation.threshold=0.05,validation.seasonal_waiver=false"))  # fmt: skip
    assert "✗ Model version 3 rejected" in strict.output
    status = _gate_status(project)
    figures = ("evaluated_at", "estimate_rmspe", "estimate_range", "estimate_method",
               "estimate_note", "holdout_rmspe", "skill", "windows", "reason", "scored_model",
               "checks", "intervals")  # fmt: skip
    assert status | dict.fromkeys(figures) == {
        "version": 3,
        "passed": False,
        "status": "rejected",
        "threshold": 0.05,
        **dict.fromkeys(figures),
    }
    assert status["checks"]["threshold"] is False and status["checks"]["waived"] is False
    _assert_interval_record(status)
    likely = _assert_likely_range(status)
    assert status["reason"].startswith(
        f"estimate RMSPE {status['estimate_rmspe']:.4f} (likely {likely['low']:.4f}-"
        f"{likely['high']:.4f}) >= threshold"
    )
    assert [w["name"] for w in status["windows"]] == [
        "holdout",
        "forecast weeks a year earlier",
        "holdout weeks a year earlier",
    ]
    # The gate judged v3's backtest (fit before the holdout), named on the version.
    tags = (
        MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
        .get_model_version(MODEL, "3")
        .tags
    )
    assert status["scored_model"] == {
        "kind": "backtest",
        "model_uri": tags["lineage.backtest.model_uri"],
        "origin": "2015-06-20",
    }
    assert tags["validation.evidence.model_uri"] == tags["lineage.backtest.model_uri"]
    assert tags["validation.evidence.holdout_start"] == "2015-06-20"
    assert float(tags["validation.estimate_rmspe_high"]) == pytest.approx(likely["high"])
    refused = project.kedro("model", "promote", "-e", "test", "--version", "3", "--reason", "try")
    assert refused.returncode != 0
    assert "Version 3 was rejected" in refused.output
    aliases, stages = _stages(project)
    assert aliases == {"production": 1}
    assert stages[3] == "None"

    # History: every move, in order, with who and why.
    history = _ok(project.kedro("model", "history", "-e", "test")).stdout
    lines = [line for line in history.splitlines() if "->" in line and "#" not in line]
    expected = [
        ("1", "None -> Staging", "estimate RMSPE"),
        ("1", "Staging -> Production", "first model"),
        ("2", "None -> Staging", "estimate RMSPE"),
        ("2", "Staging -> Production", "better recent weeks"),
        ("1", "Production -> Archived", "better recent weeks"),
        ("1", "Archived -> Production", "v2 over-forecasts Sundays"),
        ("2", "Production -> Archived", "v2 over-forecasts Sundays"),
        ("3", "None -> None", "rejected"),
    ]
    assert len(lines) == len(expected), history
    for line, (version, move, why) in zip(lines, expected, strict=True):
        assert f" {version} " in line and move in line and why in line, line
    for who in ("ann", "bob", "carol"):
        assert who in history
