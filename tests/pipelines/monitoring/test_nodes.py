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
            # version 1's forecasts carry no quantiles: no band figures to tag
            "interval": None,
            "coverage": None,
            "interval_width": None,
            "quantile_loss": None,
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


def test_a_shadow_forecast_survives_a_later_served_forecast_by_the_same_version():
    # Version 2 forecast the days in Production's shadow; later someone predicted the same
    # days with version 2 directly (`kedro model predict --version 2`, or after promoting it).
    served = _log(1, 1.10, "2015-06-30T10:00:00").assign(role="served")  # 10% high
    shadow = _log(2, 0.95, "2015-06-30T10:00:00").assign(role="shadow")  # 5% low
    direct = _log(2, 1.02, "2015-07-01T09:00:00").assign(role="served")  # 2% high, newer
    log = {"a": lambda: pd.concat([served, shadow]), "b": lambda: direct}
    joined = join_actuals(collect_predictions(log, PARAMS), ACTUALS)

    report, _ = compare_shadow(joined)
    metrics = compute_live_metrics(joined, PARAMS)

    (comparison,) = [c for c in report["comparisons"] if c["champion"] == 1]
    assert comparison["challenger"] == 2 and comparison["store_days"] == 14
    assert comparison["challenger_rmspe"] == pytest.approx(0.05)  # the shadow forecast's
    # Version 2's live figures count each day once, as its newest forecast (the direct one).
    assert metrics["versions"]["2"]["overall"]["rows"] == 14
    assert metrics["versions"]["2"]["overall"]["rmspe"] == pytest.approx(0.02)
    assert metrics["matched_rows"] == 28


def test_a_log_without_shadow_rows_compares_nothing():
    joined = join_actuals(collect_predictions({"a": lambda: _log(1, 1.0, "t")}, PARAMS), ACTUALS)

    assert set(joined["role"]) == {"served"}  # files from before shadow scoring count as served
    assert compare_shadow(joined) == ({"comparisons": []}, [])


# Version 1's band: [900, 1100] around 1000 holds the actual 1000, except on 2015-07-08..11
# (days 7..10 after its origin 2015-07-01) where its P10 is 1010: it misses the four of them.
MISSED = slice(7, 11)


def _banded_log(version: int, predicted_at: str) -> pd.DataFrame:
    low = pd.Series(900.0, index=range(len(DATES)))
    low[MISSED] = 1010.0
    return _log(version, 1.0, predicted_at).assign(
        Sales_p10=low, Sales_p50=1000.0, Sales_p90=1100.0, model_origin="2015-07-01"
    )


def test_live_coverage_is_measured_per_version_on_its_quantiles():
    predictions = collect_predictions({"a": lambda: _banded_log(1, "2026-01-01T00:00:00")}, PARAMS)
    joined = join_actuals(predictions, ACTUALS)

    metrics = compute_live_metrics(joined, PARAMS)

    assert list(joined.columns[-4:]) == ["Sales_p10", "Sales_p50", "Sales_p90", "actual"]
    assert joined["days_ahead"].tolist() == list(range(14))
    band = metrics["versions"]["1"]["intervals"]
    assert band["interval"] == "P10-P90"
    assert band["levels"] == [0.1, 0.5, 0.9]
    assert band["nominal_coverage"] == pytest.approx(0.8)
    assert band["rows_without_quantiles"] == 0
    # The window (the last 7 days, 2015-07-08..14) holds 3 of 7; all 14 days, 10 of 14.
    assert band["window"]["interval_coverage"] == pytest.approx(3 / 7)
    assert band["window"]["rows"] == 7
    assert band["overall"]["interval_coverage"] == pytest.approx(10 / 14)
    assert band["overall"]["interval_coverage_week1"] == pytest.approx(1.0)
    assert band["overall"]["interval_coverage_week2"] == pytest.approx(3 / 7)
    # Width (P90 - P10) / P50: 0.09 on the 4 missed days, 0.2 on the 3 others of the window.
    assert band["window"]["interval_width"] == pytest.approx((4 * 0.09 + 3 * 0.2) / 7)
    # wQL: pinball sums over the window 66 (P10), 0 (P50), 70 (P90); 2 * sum / 7000, mean.
    assert band["window"]["quantile_loss"] == pytest.approx((2 * 66 + 2 * 70) / 7000 / 3)
    weekly = {w["week_start"]: w["interval_coverage"] for w in metrics["versions"]["1"]["weekly"]}
    assert weekly == {
        "2015-06-29": pytest.approx(1.0),
        "2015-07-06": pytest.approx(3 / 7),
        "2015-07-13": pytest.approx(1.0),
    }


def test_a_version_without_quantiles_beside_one_with_them_gets_no_coverage(caplog):
    log = {
        "a": lambda: _banded_log(1, "2026-01-01T00:00:00"),
        "b": lambda: _log(2, 1.0, "2026-01-02T00:00:00"),  # trained before quantiles
    }
    caplog.set_level("INFO")
    metrics = compute_live_metrics(join_actuals(collect_predictions(log, PARAMS), ACTUALS), PARAMS)

    status, _, version_tags = judge_live_metrics(metrics, PARAMS, {"run_id": "r1"})
    logged = live_metrics_for_mlflow(metrics)

    assert metrics["versions"]["2"]["intervals"] is None
    assert metrics["versions"]["2"]["window"]["rmspe"] == pytest.approx(0.0)  # still judged
    assert all(w["interval_coverage"] is None for w in metrics["versions"]["2"]["weekly"])
    rows = {row["version"]: row for row in status["versions"]}
    assert rows[1]["quantiles"] is True and rows[1]["interval"] == "P10-P90"
    assert rows[1]["live_coverage"] == pytest.approx(3 / 7)
    assert rows[1]["overall_coverage"] == pytest.approx(10 / 14)
    assert rows[2]["quantiles"] is False
    assert rows[2]["live_coverage"] is None and rows[2]["interval"] is None
    tags = {tag["version"]: tag for tag in version_tags}
    assert tags[1]["interval"] == "P10-P90"
    assert tags[1]["coverage"] == pytest.approx(3 / 7)
    assert tags[1]["interval_width"] == pytest.approx((4 * 0.09 + 3 * 0.2) / 7)
    assert tags[2]["coverage"] is None and tags[2]["interval"] is None
    assert logged["v1.live_coverage"]["value"] == pytest.approx(3 / 7)
    assert logged["v1.overall_coverage"]["value"] == pytest.approx(10 / 14)
    assert [m["step"] for m in logged["v1.weekly_coverage"]] == [201527, 201528, 201529]
    assert [(m["step"], m["value"]) for m in logged["v1.horizon_coverage"]] == [
        (1, pytest.approx(1.0)), (2, pytest.approx(3 / 7)),
    ]  # fmt: skip
    assert "v2.live_rmspe" in logged
    assert not [key for key in logged if key.startswith("v2.") and "coverage" in key]
    assert "Version 1: P10-P90 interval held 42.9% of 7 store-days" in caplog.text
    assert "Version 2: its forecasts carry no quantiles" in caplog.text


def test_coverage_counts_only_the_rows_that_carry_quantiles():
    """Rows of the version logged without quantiles (an old file) are left out of its band."""
    log = {
        "a": lambda: _banded_log(1, "2026-01-02T00:00:00").head(7),
        "b": lambda: _log(1, 1.0, "2026-01-01T00:00:00").tail(7),  # the window, no quantiles
    }

    metrics = compute_live_metrics(join_actuals(collect_predictions(log, PARAMS), ACTUALS), PARAMS)

    band = metrics["versions"]["1"]["intervals"]
    assert band["overall"]["rows"] == 7
    assert band["overall"]["interval_coverage"] == pytest.approx(1.0)
    assert band["rows_without_quantiles"] == 7
    assert band["overall"]["interval_coverage_week1"] == pytest.approx(1.0)
    assert "interval_coverage_week2" not in band["overall"]  # days 7..13: the old rows only
    assert band["window"] is None  # the window's rows carry none: no window figure


def test_without_the_origin_coverage_is_not_split_by_week_of_horizon():
    log = {"a": lambda: _banded_log(1, "2026-01-01T00:00:00").drop(columns="model_origin")}

    metrics = compute_live_metrics(join_actuals(collect_predictions(log, PARAMS), ACTUALS), PARAMS)

    overall = metrics["versions"]["1"]["intervals"]["overall"]
    assert overall["interval_coverage"] == pytest.approx(10 / 14)
    assert not [key for key in overall if key.startswith("interval_coverage_week")]
    assert "v1.horizon_coverage" not in live_metrics_for_mlflow(metrics)
