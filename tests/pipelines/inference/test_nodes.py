"""Inference nodes called directly: the input checks (with the shared lifecycle's real model),
the submission and the prediction log partition."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from rossmann_forecast.model.ensemble import InvalidInputError
from rossmann_forecast.pipelines.inference.nodes import (
    forecast,
    make_submission,
    prediction_log_entry,
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
