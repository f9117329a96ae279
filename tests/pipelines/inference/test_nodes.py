"""Inference nodes called directly: the input checks (with the shared lifecycle's real model),
the submission and the prediction log partition."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from rossmann_forecast.model.ensemble import InvalidInputError
from rossmann_forecast.pipelines.inference.nodes import (
    check_drift,
    forecast,
    make_submission,
    prediction_log_entry,
    shadow_forecast,
)

REFERENCE = {
    "model_name": "rossmann-ensemble",
    "version": 2,
    "stage": "Staging",
    "requested": "Staging",
    "model_uri": "models:/rossmann-ensemble/2",
    "training_run_id": "abc",
    "run_id": "0123456789abcdef",
    "predicted_at": "2026-01-05T10:00:00+00:00",
}


@pytest.fixture(scope="module")
def model(lifecycle):
    """Version 2 loaded from its artifact folder (no tracking URI needed in this process)."""
    source = lifecycle.client.get_model_version_download_uri("rossmann-ensemble", "2")
    return mlflow.pyfunc.load_model(source)


def test_forecast_labels_every_row_with_the_version(lifecycle, model):
    rows = lifecycle.test_rows.head(50)

    predictions = forecast(model, rows, REFERENCE)

    assert predictions["Id"].tolist() == rows["Id"].tolist()
    assert set(predictions["model_version"]) == {2}
    assert set(predictions["model_stage"]) == {"Staging"}
    assert (predictions.loc[predictions["Open"] == 0, "Sales"] == 0).all()


def test_a_version_trained_before_quantiles_forecasts_the_point_alone_and_says_so(
    lifecycle, model, caplog
):
    source = lifecycle.client.get_model_version_download_uri("rossmann-ensemble", "2")
    older = mlflow.pyfunc.load_model(source)
    older.unwrap_python_model().intervals = None  # as a version's ensemble.json was before
    rows = lifecycle.test_rows.head(50)

    with caplog.at_level("WARNING"):
        point_only = forecast(older, rows, REFERENCE)
    banded = forecast(model, rows, REFERENCE)

    assert not [c for c in point_only.columns if c.startswith("Sales_p")]
    assert point_only["Sales"].tolist() == banded["Sales"].tolist()
    assert "Version 2 of rossmann-ensemble was trained before forecasts had quantiles" in (
        caplog.text
    )
    # Logged beside a version with quantiles (the shadow), its rows have none: not zeros.
    (rows_logged,) = prediction_log_entry(point_only, banded).values()
    served = rows_logged[rows_logged["role"] == "served"]
    assert served["Sales_p10"].isna().all()
    assert rows_logged.loc[rows_logged["role"] == "shadow", "Sales_p10"].notna().all()


def test_rows_without_id_are_numbered(lifecycle, model):
    predictions = forecast(model, lifecycle.test_rows.head(5).drop(columns="Id"), REFERENCE)

    assert predictions["Id"].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.drop(columns=["StateHoliday", "Date"]), "missing column(s) ['Date', 'State"),
        (lambda r: r.assign(Promo="yes"), "Column 'Promo' must be a whole number"),
        (lambda r: r.assign(StateHoliday="x"), "Column 'StateHoliday' must be 0, a, b or c"),
        (lambda r: r.assign(Store=r["Store"].where(r.index > 0, 9999)), "Unknown store(s)"),
        (lambda r: r.assign(Id=1), "Column 'Id' must be unique"),
        (lambda r: r.head(0), "The input has no rows"),
    ],
    ids=["missing", "integer", "holiday", "unknown-store", "duplicate-id", "empty"],
)
def test_bad_rows_are_refused_naming_the_problem(lifecycle, model, change, message):
    rows = change(lifecycle.test_rows.head(10).copy())

    with pytest.raises(InvalidInputError) as raised:
        forecast(model, rows, REFERENCE)

    assert message in str(raised.value)


def test_submission_is_id_and_sales_ordered_by_id():
    predictions = pd.DataFrame({"Id": [3, 1, 2], "Sales": [30.0, 10.0, 20.0], "Store": [1, 1, 1]})

    submission = make_submission(predictions)

    assert list(submission.columns) == ["Id", "Sales"]
    assert submission["Id"].tolist() == [1, 2, 3]


def test_log_partition_is_named_after_time_version_and_run():
    predictions = pd.DataFrame(
        {
            "model_version": [2],
            "predicted_at": [REFERENCE["predicted_at"]],
            "run_id": ["0123456789"],
        }
    )

    assert list(prediction_log_entry(predictions)) == ["20260105T100000Z_v2_01234567"]


def _shadow(model, version=3):
    return {**REFERENCE, "model": model, "version": version, "stage": "Staging"}


def test_the_shadow_forecasts_the_same_rows_labelled_with_its_version(lifecycle, model):
    rows = lifecycle.test_rows.head(20)
    served = {**REFERENCE, "stage": "Production"}

    shadow = shadow_forecast(_shadow(model), served, rows)

    assert shadow["Id"].tolist() == rows["Id"].tolist()
    assert set(shadow["model_version"]) == {3}
    assert set(shadow["run_id"]) == {REFERENCE["run_id"]}
    assert shadow_forecast(None, served, rows).empty
    assert shadow_forecast(_shadow(model, version=2), served, rows).empty  # itself


def test_a_shadow_that_refuses_the_rows_is_skipped_not_fatal(lifecycle, model, caplog):
    rows = lifecycle.test_rows.head(5).assign(Store=9999)

    with caplog.at_level("WARNING"):
        shadow = shadow_forecast(_shadow(model), REFERENCE, rows)

    assert shadow.empty
    assert "Shadow forecast by rossmann-ensemble version 3 skipped: Unknown store(s)" in caplog.text


def test_the_log_partition_holds_served_rows_then_shadow_rows():
    served = pd.DataFrame(
        {"Id": [1, 2], "model_version": [2, 2], "predicted_at": [REFERENCE["predicted_at"]] * 2,
         "run_id": ["0123456789"] * 2}
    )  # fmt: skip
    shadow = served.assign(model_version=3)

    (rows,) = prediction_log_entry(served, shadow).values()

    assert rows["role"].tolist() == ["served", "served", "shadow", "shadow"]
    assert rows["model_version"].tolist() == [2, 2, 3, 3]
    (alone,) = prediction_log_entry(served, shadow.head(0)).values()
    assert alone["role"].tolist() == ["served", "served"]


DRIFT = {"enabled": True, "min_rows": 1, "min_stores": 1, "limits": {}}


def test_a_version_without_drift_reference_is_skipped_with_a_clear_reason(lifecycle):
    rows = lifecycle.test_rows.head(10)

    verdict, html, history, tags = check_drift(REFERENCE, rows, rows.assign(Sales=1.0), None, DRIFT)

    assert verdict["status"] == "skipped"
    assert "no drift reference (registered before drift checks existed)" in verdict["reason"]
    assert tags == {
        "version": 2, "status": "skipped", "drifted": [], "batch": verdict["batch"],
        "reason": verdict["reason"], "checked_at": REFERENCE["predicted_at"],
    }  # fmt: skip
    assert "Not judged: the version has no drift reference" in html
    assert history == {
        "20260105T100000Z_v2_01234567.verdict.json": json.dumps(verdict, indent=2),
        "20260105T100000Z_v2_01234567.report.html": html,
    }


def test_drift_switched_off_and_unknown_columns_are_said(lifecycle):
    rows = lifecycle.test_rows.head(10).assign(Weather="sunny")

    verdict, *_ = check_drift(REFERENCE, rows, rows, None, {**DRIFT, "enabled": False})

    assert verdict["status"] == "skipped"
    assert verdict["reason"] == "switched off (drift.enabled: false)"
    assert verdict["not_judged"] == "columns the reference does not know: Weather"
