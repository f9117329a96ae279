"""End-to-end monitoring on the shared lifecycle: Production forecasts test.csv (the 48 days
after train.csv ends, from its origin), then the days' actual sales "arrive" (the synthetic
generator's own sales of those days) and `kedro run --pipelines monitoring` judges it against
them, and against actuals shifted by x1.3."""

from __future__ import annotations

import json

import pytest

from rossmann_forecast.raw.synthetic import generate

MODEL = "rossmann-ensemble"


@pytest.fixture(scope="module")
def holdout_predicted(lifecycle, production_batch, tmp_path_factory):
    """Production (v1) has predicted test.csv; write the actual sales of those days."""
    folder = tmp_path_factory.mktemp("monitoring")
    actuals = generate(n_stores=30, seed=42).test_actuals  # the test env's synthetic data
    test = lifecycle.test_rows
    assert len(actuals) == len(test)  # the same rows the model forecast
    dated = actuals.assign(Date=actuals["Date"].dt.strftime("%Y-%m-%d"))
    dated.to_csv(folder / "actuals.csv", index=False)
    shifted = dated.assign(Sales=(dated["Sales"] * 1.3).round().astype("int64"))
    shifted.to_csv(folder / "shifted_actuals.csv", index=False)
    return folder


def _status(lifecycle) -> dict:
    path = lifecycle.project.path / "data" / "08_reporting" / "monitoring_status.json"
    return json.loads(path.read_text())


def test_faithful_actuals_raise_no_drift(lifecycle, holdout_predicted):
    result = lifecycle.project.run(
        "--pipelines",
        "monitoring",
        "--params",
        f"monitoring.actuals_path={holdout_predicted / 'actuals.csv'}",
    )

    assert result.returncode == 0, result.output
    status = _status(lifecycle)
    assert status["status"] == "ok" and status["drift"] is False
    (entry,) = [v for v in status["versions"] if v["version"] == 1]
    assert entry["live_rmspe"] < status["threshold"]
    assert f"✓ No drift: {MODEL} version 1 live RMSPE" in result.output
    tags = lifecycle.client.get_model_version(MODEL, "1").tags
    assert tags["monitoring.drift"] == "false"
    assert float(tags["monitoring.live_rmspe"]) == pytest.approx(entry["live_rmspe"])
    # v1's logged forecasts carried quantiles: its live P10-P90 coverage sits beside the RMSPE.
    log = lifecycle.project.path / "data" / "07_model_output" / "prediction_log"
    header = next(log.glob("*.csv")).read_text().splitlines()[0].split(",")
    assert {"Sales_p10", "Sales_p50", "Sales_p90"} <= set(header)
    assert entry["quantiles"] is True and entry["interval"] == "P10-P90"
    assert entry["nominal_coverage"] == pytest.approx(0.8)
    assert 0.0 < entry["live_coverage"] <= 1.0
    assert entry["live_interval_width"] > 0 and entry["live_quantile_loss"] > 0
    assert tags["monitoring.live_interval"] == "P10-P90"
    assert float(tags["monitoring.live_coverage"]) == pytest.approx(entry["live_coverage"])
    assert float(tags["monitoring.live_quantile_loss"]) == pytest.approx(
        entry["live_quantile_loss"]
    )
    assert "Version 1: P10-P90 interval held" in result.output
    # Staging (v2) forecast the same rows in Production's shadow: compared on the same days.
    reporting = lifecycle.project.path / "data" / "08_reporting"
    comparisons = json.loads((reporting / "shadow_comparison.json").read_text())["comparisons"]
    (shadow,) = [c for c in comparisons if (c["challenger"], c["champion"]) == (2, 1)]
    assert shadow["store_days"] > 500  # 30 stores, the open days of test.csv with sales
    assert shadow["champion_rmspe"] == pytest.approx(entry["live_rmspe"], rel=0.05)
    staging = lifecycle.client.get_model_version(MODEL, "2").tags
    assert staging["monitoring.shadow.vs_version"] == "1"
    assert int(staging["monitoring.shadow.store_days"]) == shadow["store_days"]
    assert "Shadow: version 2" in result.output


def test_shifted_actuals_are_flagged_as_drift(lifecycle, holdout_predicted):
    result = lifecycle.project.run(
        "--pipelines",
        "monitoring",
        "--params",
        f"monitoring.actuals_path={holdout_predicted / 'shifted_actuals.csv'}",
    )

    assert result.returncode == 0, result.output
    status = _status(lifecycle)
    assert status["status"] == "drift" and status["drift"] is True
    # Every version that forecast these days is judged (other tests of the shared lifecycle
    # may have predicted test.csv with the Staging version too): all of them drift, v1 included.
    judged = sorted(v["version"] for v in status["versions"])
    assert 1 in judged
    assert status["drifting_versions"] == judged
    assert all(v["live_rmspe"] > status["threshold"] for v in status["versions"])
    (entry,) = [v for v in status["versions"] if v["version"] == 1]
    assert f"✗ DRIFT: {MODEL} version 1 live RMSPE" in result.output
    # Recorded against the version: a tag on it and metrics on the monitoring run.
    tags = lifecycle.client.get_model_version(MODEL, "1").tags
    assert tags["monitoring.drift"] == "true"
    assert tags["monitoring.run_id"] == status["run_id"]
    run = lifecycle.client.get_run(status["run_id"])
    assert run.data.metrics["monitoring.v1.live_rmspe"] == pytest.approx(entry["live_rmspe"])
    weekly = lifecycle.client.get_metric_history(status["run_id"], "monitoring.v1.weekly_rmspe")
    assert len(weekly) >= 6 and all(m.step > 201500 for m in weekly)
    assert run.data.metrics["monitoring.v1.live_coverage"] == pytest.approx(entry["live_coverage"])
    assert float(tags["monitoring.live_coverage"]) == pytest.approx(entry["live_coverage"])
    horizon = lifecycle.client.get_metric_history(
        status["run_id"], "monitoring.v1.horizon_coverage"
    )
    assert sorted(m.step for m in horizon)[0] == 1  # week 1 after the origin
    # Sales 30% above the forecast fall above most P90s: the band covers less than it should.
    assert entry["live_coverage"] < entry["nominal_coverage"]
    assert run.data.tags["monitoring.drifting_versions"] == ",".join(map(str, judged))
