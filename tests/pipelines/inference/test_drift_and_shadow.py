"""Every batch is judged before its sales are known, and Staging forecasts it in the shadow:
real `kedro run --pipelines inference` runs against the shared lifecycle (Production = v1,
Staging = v2), with the batches a user meets: the clean test.csv, and each must-flag case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from rossmann_forecast.pipelines.inference.nodes import check_drift

MODEL = "rossmann-ensemble"


def _verdicts(lifecycle) -> list[dict]:
    """Every batch's verdict in the drift history, oldest first."""
    drift = lifecycle.project.path / "data/08_reporting/drift"
    return [json.loads(p.read_text()) for p in sorted(drift.glob("*.verdict.json"))]


def _verdict(lifecycle) -> dict:
    """The newest batch's verdict, as inference left it beside its report."""
    reporting = lifecycle.project.path / "data/08_reporting"
    verdict = json.loads((reporting / "drift_verdict.json").read_text())
    assert verdict == _verdicts(lifecycle)[-1]
    return verdict


def _predict(lifecycle, tmp_path: Path, rows: pd.DataFrame, *params: str):
    batch = tmp_path / "batch.csv"
    rows.to_csv(batch, index=False)
    out = ",".join(
        [
            f"inference.input_path={batch}",
            f"inference.output_path={tmp_path / 'submission.csv'}",
            f"inference.predictions_path={tmp_path / 'predictions.csv'}",
            f"inference.prediction_log_dir={tmp_path / 'log'}",
            *params,
        ]
    )
    result = lifecycle.project.run("--pipelines", "inference", "--params", out)
    assert result.returncode == 0, result.output[-4000:]
    return result


def test_a_clean_batch_is_no_alarm_and_its_verdict_is_everywhere(lifecycle, production_batch):
    result, submission_path, detailed_path = production_batch
    (run_id,) = set(pd.read_csv(detailed_path)["run_id"])
    (verdict,) = [v for v in _verdicts(lifecycle) if v["run_id"] == run_id]
    drift = lifecycle.project.path / "data/08_reporting/drift"
    (report,) = drift.glob(f"*_v1_{run_id[:8]}.report.html")
    html = report.read_text()

    assert verdict["status"] == "no_drift", verdict
    assert verdict["version"] == lifecycle.production
    assert verdict["batch"]["rows"] == len(lifecycle.test_rows)
    assert "No drift" in html and "Promo uniformity" in html
    assert "✓ No drift against version 1's reference" in result.output
    # On the run; and on the version, for `kedro model status` and the webhooks (the newest
    # batch's verdict: other tests of this worker may have run batches since).
    logged = {a.path for a in lifecycle.client.list_artifacts(run_id, "drift")}
    assert logged == {"drift/drift_verdict.json", "drift/drift_report.html"}
    tags = lifecycle.client.get_model_version(MODEL, str(lifecycle.production)).tags
    assert tags["monitoring.input_drift"] in ("no_drift", "drift", "too_few_rows")
    assert "monitoring.input_drift.run_id" in tags


def test_staging_forecasts_the_same_rows_in_the_shadow_only(lifecycle, production_batch):
    result, submission_path, detailed_path = production_batch
    # This batch's partition, by its run: other tests on this worker log batches of their own
    # (the shadow off, no Staging yet) into the same folder, and glob order is the disk's.
    (run_id,) = set(pd.read_csv(detailed_path)["run_id"])
    log = lifecycle.project.path / "data/07_model_output/prediction_log"
    (partition,) = log.glob(f"*_v1_{run_id[:8]}.csv")
    logged = pd.read_csv(partition)
    served, shadow = logged[logged["role"] == "served"], logged[logged["role"] == "shadow"]

    assert set(served["model_version"]) == {1} and set(shadow["model_version"]) == {2}
    assert sorted(shadow["Id"]) == sorted(served["Id"]) == sorted(lifecycle.test_rows["Id"])
    assert set(shadow["run_id"]) == set(served["run_id"])
    # Both versions' ranges are logged, for live coverage once the sales arrive.
    bands = ["Sales_p10", "Sales_p50", "Sales_p90"]
    assert logged[bands].notna().all().all()
    # Never in what is served.
    assert set(pd.read_csv(detailed_path)["model_version"]) == {1}
    assert len(pd.read_csv(submission_path)) == len(lifecycle.test_rows)


def test_the_shadow_can_be_switched_off_and_the_version_carries_the_verdict(lifecycle, tmp_path):
    _predict(lifecycle, tmp_path, lifecycle.test_rows, "inference.shadow=false")

    (partition,) = (tmp_path / "log").glob("*.csv")
    logged = pd.read_csv(partition)
    assert set(logged["role"]) == {"served"}
    tags = lifecycle.client.get_model_version(MODEL, str(lifecycle.production)).tags
    assert tags["monitoring.input_drift"] == "no_drift"
    assert tags["monitoring.input_drift.checks"] == "none"
    assert tags["monitoring.input_drift.run_id"] == logged["run_id"].iloc[0]
    assert f"{len(lifecycle.test_rows):,} rows" in tags["monitoring.input_drift.batch"]


def _flip_promo(rows: pd.DataFrame) -> pd.DataFrame:
    flip = np.random.default_rng(0).random(len(rows)) < 0.5
    return rows.assign(Promo=np.where(flip, 1 - rows["Promo"], rows["Promo"]))


def _half_the_stores(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["Store"].isin(sorted(rows["Store"].unique())[::2])]


def _a_year_later(rows: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(rows["Date"]) + pd.Timedelta(days=364)
    return rows.assign(Date=dates.dt.strftime("%Y-%m-%d"))


@pytest.mark.parametrize(
    ("change", "drifted"),
    [
        (_flip_promo, "Promo uniformity"),
        (_half_the_stores, "Stores present"),
        (_a_year_later, "Dates"),
    ],
    ids=["promo-flipped-on-half", "half-the-stores", "a-year-off"],
)
def test_a_bad_batch_is_flagged_naming_what_drifted(lifecycle, tmp_path, change, drifted):
    result = _predict(lifecycle, tmp_path, change(lifecycle.test_rows), "inference.shadow=false")

    verdict = _verdict(lifecycle)
    assert verdict["status"] == "drift"
    assert drifted in verdict["drifted"]
    assert f"Drift in this batch against version 1's reference: {drifted}" in result.output
    tags = lifecycle.client.get_model_version(MODEL, "1").tags
    assert tags["monitoring.input_drift"] == "drift"
    assert drifted in tags["monitoring.input_drift.checks"]
    # The forecast itself is still written: drift is a warning, not a refusal.
    assert len(pd.read_csv(tmp_path / "submission.csv")) == len(change(lifecycle.test_rows))


def test_store_csv_in_another_unit_is_flagged(lifecycle, tmp_path):
    store_csv = lifecycle.project.raw_dir / "store.csv"
    kept = tmp_path / "store.csv.orig"
    shutil.copy2(store_csv, kept)
    stores = pd.read_csv(store_csv)
    try:
        stores.assign(CompetitionDistance=stores["CompetitionDistance"] * 1000).to_csv(
            store_csv, index=False
        )
        _predict(lifecycle, tmp_path, lifecycle.test_rows, "inference.shadow=false")
    finally:
        shutil.copy2(kept, store_csv)

    verdict = _verdict(lifecycle)
    assert verdict["drifted"] == ["store.csv CompetitionDistance"]
    check = next(c for c in verdict["checks"] if c["drifted"])
    assert "median new/old 1e+03" in check["detail"]


def test_one_store_is_too_few_rows_to_judge_and_no_alarm(lifecycle, tmp_path):
    rows = lifecycle.test_rows
    result = _predict(lifecycle, tmp_path, rows[rows["Store"] == rows["Store"].iloc[0]])

    verdict = _verdict(lifecycle)
    assert verdict["status"] == "too_few_rows"
    assert "too few rows to judge" in verdict["reason"]
    assert "Drift in this batch" not in result.output


def test_forecasts_30_percent_too_high_are_flagged(lifecycle, production_batch):
    """A version that forecasts 30% high (say, trained on sales in other units): the served
    forecasts of the clean batch scaled, judged against version 1's real reference."""
    version = lifecycle.client.get_model_version(MODEL, str(lifecycle.production))
    path = mlflow.artifacts.download_artifacts(
        run_id=version.run_id,
        artifact_path="drift/drift_reference.json",
        tracking_uri=lifecycle.project.env["MLFLOW_TRACKING_URI"],
    )
    reference = json.loads(Path(path).read_text())
    detailed = pd.read_csv(production_batch[2])
    model = {
        "model_name": MODEL, "version": 1, "stage": "Production", "run_id": "r",
        "predicted_at": "2026-01-05T10:00:00+00:00", "drift_reference": reference,
    }  # fmt: skip

    settings = yaml.safe_load(
        (lifecycle.project.path / "conf/base/parameters_drift.yml").read_text()
    )

    clean, *_ = check_drift(model, lifecycle.test_rows, detailed, None, settings["drift"])
    high, *_ = check_drift(
        model, lifecycle.test_rows, detailed.assign(Sales=detailed["Sales"] * 1.3), None,
        settings["drift"],
    )  # fmt: skip

    assert clean["status"] == "no_drift"
    assert high["drifted"] == ["Forecast level"]
