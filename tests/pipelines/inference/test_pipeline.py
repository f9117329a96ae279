"""End-to-end inference: real `kedro run --pipelines inference` and `kedro model predict` runs
against the shared lifecycle (Production = v1, Staging = v2), and the errors a user can hit."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import make_kedro_project

MODEL = "rossmann-ensemble"


def _inference_run(lifecycle, version: int):
    experiment = lifecycle.client.get_experiment_by_name("rossmann-forecast")
    runs = lifecycle.client.search_runs(
        [experiment.experiment_id],
        f"tags.`inference.model_version` = '{version}'",
        order_by=["attributes.start_time DESC"],
    )
    assert runs, f"no inference run logged for version {version}"
    return runs[0]


def test_kedro_run_predicts_with_production_by_default(lifecycle, production_batch):
    result, submission_path, detailed_path = production_batch
    test_rows = lifecycle.test_rows

    submission = pd.read_csv(submission_path)
    detailed = pd.read_csv(detailed_path)
    assert list(submission.columns) == ["Id", "Sales"]
    assert len(submission) == len(detailed) == len(test_rows)
    assert sorted(submission["Id"]) == sorted(test_rows["Id"])
    assert {"Store", "Date", "Sales", "model_version", "model_stage"} <= set(detailed.columns)
    assert set(detailed["model_version"]) == {lifecycle.production}
    assert set(detailed["model_stage"]) == {"Production"}
    closed = detailed["Open"].eq(0)
    assert (detailed.loc[closed, "Sales"] == 0).all() and (detailed.loc[~closed, "Sales"] > 0).all()
    assert f"predictions by {MODEL} version 1 (Production)" in result.output
    # Every row says how sure it is: quantiles right after Sales, monotone on every row, and
    # the open rows' band around the point forecast.
    bands = ["Sales_p10", "Sales_p50", "Sales_p90"]
    assert list(detailed.columns[4:8]) == ["Sales", *bands]
    q = detailed[bands].to_numpy()
    assert (q[:, :-1] <= q[:, 1:]).all()
    assert (detailed.loc[closed, bands] == 0).all().all()
    opened = detailed.loc[~closed]
    assert ((opened["Sales_p10"] < opened["Sales"]) & (opened["Sales"] < opened["Sales_p90"])).all()


def test_the_prediction_run_says_which_version_produced_the_file(
    lifecycle, production_batch, tmp_path
):
    # From the file to its run, as a user goes (other tests of the session predict with the
    # same version later, so "the newest run of version 1" need not be this one).
    detailed = pd.read_csv(production_batch[2])
    (run_id,) = set(detailed["run_id"])
    run = lifecycle.client.get_run(run_id)
    tags = run.data.tags
    assert tags["inference.model_version"] == str(lifecycle.production)
    version = lifecycle.client.get_model_version(MODEL, str(lifecycle.production))
    assert tags["inference.model_name"] == MODEL
    assert tags["inference.model_stage"] == "Production"
    assert tags["inference.requested"] == "Production"
    assert tags["inference.training_run_id"] == version.run_id
    assert len(tags["inference.input_sha256"]) == 64
    assert int(tags["inference.input_rows"]) == len(lifecycle.test_rows)
    assert run.data.metrics["inference.predicted_rows"] == len(lifecycle.test_rows)
    artifacts = {a.path for a in lifecycle.client.list_artifacts(run.info.run_id, "predictions")}
    assert artifacts == {"predictions/predictions.csv", "predictions/submission.csv"}
    inputs = {(d.dataset.name, t.value) for d in run.inputs.dataset_inputs for t in d.tags}
    assert ("inference_input", "inference") in inputs
    # The run holds the very file.
    logged = lifecycle.client.download_artifacts(run_id, "predictions/predictions.csv", tmp_path)
    pd.testing.assert_frame_equal(pd.read_csv(logged), detailed)


def test_model_predict_with_staging_writes_both_files(lifecycle, tmp_path):
    output = tmp_path / "predictions_staging.csv"

    result = lifecycle.project.kedro(
        "model", "predict", "--stage", "Staging", "--output", str(output), "-e", "test"
    )

    assert result.returncode == 0, result.output
    assert f"predictions by {MODEL} version 2 (Staging)" in result.stdout
    submission = pd.read_csv(output)
    detailed = pd.read_csv(tmp_path / "predictions_staging_detailed.csv")
    assert list(submission.columns) == ["Id", "Sales"]
    assert len(submission) == len(detailed) == len(lifecycle.test_rows)
    assert set(detailed["model_version"]) == {lifecycle.staging}
    assert _inference_run(lifecycle, lifecycle.staging).data.tags["inference.model_stage"] == (
        "Staging"
    )


def test_an_explicit_version_wins_over_the_stage(lifecycle, tmp_path):
    output = tmp_path / "v1.csv"

    result = lifecycle.project.kedro(
        "model", "predict", "--stage", "Staging", "--version", "1", "--output", str(output),
        "-e", "test",
    )  # fmt: skip

    assert result.returncode == 0, result.output
    assert set(pd.read_csv(tmp_path / "v1_detailed.csv")["model_version"]) == {1}


def test_a_bad_input_file_is_refused_with_a_clear_message(lifecycle, tmp_path):
    bad = tmp_path / "bad.csv"
    lifecycle.test_rows.head(20).drop(columns="Promo").to_csv(bad, index=False)

    result = lifecycle.project.kedro(
        "model", "predict", "--input", str(bad), "--output", str(tmp_path / "out.csv"), "-e", "test"
    )

    assert result.returncode == 1, result.output
    assert "Input is missing column(s) ['Promo']" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_nothing_in_the_stage_says_how_to_get_a_version_there(tmp_path):
    empty = make_kedro_project(tmp_path)

    production = empty.kedro("model", "predict", "-e", "test")
    staging = empty.run("--pipelines", "inference", "--params", "inference.stage=staging")
    review = empty.kedro("model", "review", "-e", "test")

    assert production.returncode == 1
    assert f"No version of {MODEL} is in Production" in production.stderr
    assert "kedro model promote" in production.stderr
    assert "Traceback" not in production.stderr
    assert staging.returncode != 0
    assert f"No version of {MODEL} is in Staging" in staging.output
    assert "kedro run --pipelines validation" in staging.output
    assert review.returncode == 1
    assert f"No version of {MODEL} is in Staging" in review.stderr


# --- issue 10: input that would have become a silent wrong forecast is refused ----------------


def _predict_file(lifecycle, tmp_path, rows: pd.DataFrame | None):
    """`kedro model predict --input <file>` on ``rows`` (None: a 0-byte file)."""
    path = tmp_path / "next_days.csv"
    if rows is None:
        path.write_bytes(b"")
    else:
        rows.to_csv(path, index=False)
    output = tmp_path / "out.csv"
    result = lifecycle.project.kedro(
        "model", "predict", "--input", str(path), "--output", str(output), "-e", "test"
    )
    return result, output


def _origin(lifecycle) -> pd.Timestamp:
    origins = lifecycle.project.path / "data/05_model_input/forecast_origins.json"
    return pd.Timestamp(json.loads(origins.read_text())["served_origin"])


def test_model_predict_refuses_rows_it_would_forecast_wrongly(lifecycle, tmp_path):
    """How `kedro model predict` reports a row the model refuses, shown on a day-first date.

    Every rule of the input contract (date spelling, weekday, dates before the origin, ...) is
    tested once in-process in tests/model/test_ensemble.py; this is the command's layer: one
    line naming the file and the row, no traceback, no output written.
    """
    rows = lifecycle.test_rows.head(20)
    rows = rows.assign(Date=pd.to_datetime(rows["Date"]).dt.strftime("%d/%m/%Y"))
    expected = "Column 'Date' is not a date as YYYY-MM-DD"

    result, output = _predict_file(lifecycle, tmp_path, rows)

    assert result.returncode == 1, result.output
    lines = [line for line in result.stderr.splitlines() if expected in line]
    assert len(lines) == 1, result.stderr  # one line, said once
    assert "Error: next_days.csv: Column" in lines[0]  # the file,
    assert "row 1 (Id=" in lines[0]  # and where in it
    assert "Traceback" not in result.stderr
    assert not output.exists()
    assert not output.with_name("out_detailed.csv").exists()


def test_model_predict_refuses_a_store_day_given_twice(lifecycle, tmp_path):
    """Issue 20 case 4: test.csv plus one row repeating a store-day under a new Id."""
    rows = lifecycle.test_rows
    repeat = rows.iloc[[5]].assign(Id=rows["Id"].max() + 1)
    store, date = int(repeat["Store"].iloc[0]), repeat["Date"].iloc[0]

    result, output = _predict_file(lifecycle, tmp_path, pd.concat([rows, repeat]))

    assert result.returncode == 1, result.output
    lines = [line for line in result.stderr.splitlines() if "must be unique" in line]
    assert len(lines) == 1, result.stderr
    assert "Error: next_days.csv: Columns 'Store' and 'Date' must be unique" in lines[0]
    repeated = f"(Id={int(repeat['Id'].iloc[0])}): Store={store}, Date='{date}' repeats row 6"
    assert repeated in lines[0]
    assert "Traceback" not in result.stderr
    assert not output.exists()


def test_model_predict_refuses_an_id_given_twice(lifecycle, tmp_path):
    rows = lifecycle.test_rows.head(20).copy()
    rows.loc[7, "Id"] = rows.loc[2, "Id"]

    result, output = _predict_file(lifecycle, tmp_path, rows)

    assert result.returncode == 1, result.output
    assert "Error: next_days.csv: Column 'Id' must be unique" in result.stderr
    assert str(int(rows.loc[2, "Id"])) in result.stderr
    assert not output.exists()


def test_model_predict_names_an_empty_input_file_in_one_line(lifecycle, tmp_path):
    result, output = _predict_file(lifecycle, tmp_path, None)

    assert result.returncode == 1, result.output
    assert "next_days.csv is empty (0 bytes)" in result.stderr
    assert "Traceback" not in result.stderr
    assert "EmptyDataError" not in result.output
    assert not output.exists()


def test_rows_past_the_validated_horizon_are_forecast_marked_and_warned(
    lifecycle, production_batch
):
    result, _, detailed_path = production_batch
    detailed = pd.read_csv(detailed_path)
    origin = _origin(lifecycle)
    holdout_days = 42  # conf/base parameters_data_processing.yml: the gate's horizon
    last_validated = origin + pd.Timedelta(days=holdout_days - 1)

    beyond = pd.to_datetime(detailed["Date"]) > last_validated

    assert beyond.any() and not beyond.all()  # test.csv runs 48 days past the origin
    assert detailed["beyond_validated_horizon"].tolist() == beyond.tolist()
    assert set(detailed["model_origin"]) == {str(origin.date())}
    first_beyond = (last_validated + pd.Timedelta(days=1)).date()
    last_date = pd.to_datetime(detailed["Date"]).max().date()
    assert f"for {first_beyond}..{last_date} lie past the {holdout_days} days" in result.output
