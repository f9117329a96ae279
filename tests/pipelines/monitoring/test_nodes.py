"""Monitoring nodes called directly: joins, per-version metrics, drift rules, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from rossmann_forecast.pipelines.monitoring.nodes import (
    MonitoringInputError,
    collect_predictions,
    compare_shadow,
    compute_live_metrics,
    join_actuals,
    judge_live_metrics,
    live_metrics_for_mlflow,
)

PARAMS = {"model_name": "m", "drift_threshold": 0.15, "window_days": 7, "min_rows": 5}
DATES = pd.date_range("2015-07-01", periods=14)


def _log(version: int, factor: float, predicted_at: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Store": 1,
            "Date": DATES.strftime("%Y-%m-%d"),
            "Sales": 1000.0 * factor,
            "model_name": "m",
            "model_version": version,
            "predicted_at": predicted_at,
        }
    )


ACTUALS = pd.DataFrame({"Store": 1, "Date": DATES.strftime("%Y-%m-%d"), "Sales": 1000})


def test_each_version_is_judged_on_its_own_predictions():
    log = {
        "a": lambda: _log(1, 1.02, "2026-01-01T00:00:00"),
        "b": lambda: _log(2, 1.5, "2026-01-02T00:00:00"),
    }
    predictions = collect_predictions(log, PARAMS)

    metrics = compute_live_metrics(join_actuals(predictions, ACTUALS), PARAMS)

    assert metrics["status"] == "drift"
    assert metrics["versions"]["1"]["window"]["rmspe"] == pytest.approx(0.02)
    assert metrics["versions"]["1"]["drift"] is False
    assert metrics["versions"]["2"]["drift"] is True
    assert metrics["versions"]["2"]["window"]["rows"] == 7
    assert [w["week_start"] for w in metrics["versions"]["1"]["weekly"]] == [
        "2015-06-29", "2015-07-06", "2015-07-13",
    ]  # fmt: skip
    logged = live_metrics_for_mlflow(metrics)
    assert [m["step"] for m in logged["v1.weekly_rmspe"]] == [201527, 201528, 201529]


def test_the_newest_prediction_of_a_day_counts():
    log = {
        "old": lambda: _log(1, 2.0, "2026-01-01T00:00:00"),
        "new": lambda: _log(1, 1.0, "2026-01-02T00:00:00"),
    }

    predictions = collect_predictions(log, PARAMS)

    assert len(predictions) == len(DATES)
    assert (predictions["prediction"] == 1000.0).all()


def test_too_few_matched_days_are_not_judged():
    predictions = collect_predictions({"a": lambda: _log(1, 3.0, "2026-01-01")}, PARAMS)

    metrics = compute_live_metrics(join_actuals(predictions, ACTUALS.head(3)), PARAMS)

    assert metrics["status"] == "no_data"
    assert metrics["versions"]["1"]["drift"] is False


def test_errors_name_the_problem():
    with pytest.raises(MonitoringInputError, match="prediction log is empty"):
        collect_predictions({}, PARAMS)
    with pytest.raises(MonitoringInputError, match=r"lacks column\(s\) \['Store', 'Date'"):
        collect_predictions({"sub": lambda: pd.DataFrame({"Id": [1], "Sales": [1.0]})}, PARAMS)
    predictions = collect_predictions({"a": lambda: _log(1, 1.0, "2026-01-01")}, PARAMS)
    with pytest.raises(MonitoringInputError, match=r"lack column\(s\) \['Sales'\]"):
        join_actuals(predictions, ACTUALS.drop(columns="Sales"))
    with pytest.raises(MonitoringInputError, match="malformed"):
        join_actuals(predictions, ACTUALS.assign(Sales="n/a"))


def test_days_before_a_versions_origin_are_not_judged(caplog):
    """A version is judged on days after its origin only: earlier days it was fit on."""
    log = {"a": lambda: _log(1, 1.0, "2026-01-01T00:00:00").assign(model_origin="2015-07-08")}

    predictions = collect_predictions(log, PARAMS)

    assert predictions["Date"].min() == pd.Timestamp("2015-07-08")
    assert len(predictions) == 7
    assert "7 logged prediction(s) for days before their version's origin" in caplog.text


def test_the_judgement_names_the_run_and_tags_only_judged_versions():
    log = {
        "a": lambda: _log(1, 1.02, "2026-01-01T00:00:00"),
        "b": lambda: _log(2, 1.5, "2026-01-02T00:00:00"),
    }
    metrics = compute_live_metrics(join_actuals(collect_predictions(log, PARAMS), ACTUALS), PARAMS)
    metrics["versions"]["2"]["enough_data"] = False  # as if version 2 had too few days

    status, record, version_tags = judge_live_metrics(metrics, PARAMS, {"run_id": "r1"})

    assert status["run_id"] == "r1"
    assert [row["version"] for row in status["versions"]] == [1, 2]
    assert record["versions"] == "1,2"
    assert version_tags == [
        {
            "version": 1,
            "rmspe": pytest.approx(0.02),
            "drift": False,
            "threshold": 0.15,
            "window": "2015-07-08..2015-07-14",
        }
    ]


def test_a_shadow_version_is_compared_with_the_served_one_on_the_same_store_days():
    served = _log(1, 1.10, "2015-06-30T10:00:00")  # 10% high
    shadow = _log(2, 0.95, "2015-06-30T10:00:00").assign(role="shadow")  # 5% low
    later = _log(2, 1.0, "2015-07-20T10:00:00").head(0)  # nothing else
    joined = join_actuals(
        collect_predictions(
            {"a": lambda: pd.concat([served.assign(role="served"), shadow]), "b": lambda: later},
            PARAMS,
        ),
        ACTUALS,
    )

    report, tags = compare_shadow(joined)

    assert tags == report["comparisons"] == [
        {
            "challenger": 2, "champion": 1, "challenger_rmspe": pytest.approx(0.05),
            "champion_rmspe": pytest.approx(0.10), "store_days": 14,
            "since": "2015-07-01", "until": "2015-07-14",
        }
    ]  # fmt: skip


def test_a_log_without_shadow_rows_compares_nothing():
    joined = join_actuals(collect_predictions({"a": lambda: _log(1, 1.0, "t")}, PARAMS), ACTUALS)

    assert set(joined["role"]) == {"served"}  # files from before shadow scoring count as served
    assert compare_shadow(joined) == ({"comparisons": []}, [])
