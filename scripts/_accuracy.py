"""Accuracy of the newest registered version, the way a user lives it. Prints one JSON line.

Run by benchmark.py inside a project copy after ``kedro run``, with ``MLFLOW_TRACKING_URI`` set:

* ``cv``: the CV estimate recorded on the version (``cv.*`` tags);
* ``gate``: the holdout (last 42 days of the project's train.csv) forecast by the version's
  backtest, through its pyfunc: what the gate saw;
* ``cut``: with ``--cut-days FILE`` (the rows cut off the end of train.csv before the run),
  those days forecast by the registered (served) version through its pyfunc: what a user who
  deploys the version gets;
* ``production_cut``: with ``--also-version N`` as well, the same days forecast by version N (the
  Production version a rejected candidate leaves serving).

Each block holds the ensemble, each booster alone, the per-(Store, DayOfWeek, Promo) median
baseline fitted on the rows the model saw, the bias and the row count; and, for a version with
forecast quantiles, ``intervals`` (coverage of the P10-P90 interval overall and per week of
horizon, its mean relative width, the weighted quantile loss) beside ``naive_intervals``: each
store's empirical quantiles of sales by weekday and promo over the same history.

Usage: ``python scripts/_accuracy.py [--cut-days cut.csv [--also-version N]]``
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from rossmann_forecast.baseline import median_baseline
from rossmann_forecast.metrics import mean_percentage_error, rmspe
from rossmann_forecast.model.ensemble import to_model_input
from rossmann_forecast.model.intervals import (
    QUANTILE_PREFIX,
    column_level,
    interval_scores,
    naive_quantiles,
)

MODEL = "rossmann-ensemble"


def score(
    pyfunc: Any, rows: pd.DataFrame, history: pd.DataFrame, rows_out: str | None = None
) -> dict[str, float]:
    """Ensemble, members and baseline on ``rows`` (all rows asked, open selling rows scored).

    With ``rows_out``, the scored rows with their forecast and baseline go to that Parquet
    file (for the rolling benchmark's segment table).
    """
    model = pyfunc.unwrap_python_model()
    request = to_model_input(rows.drop(columns=["Sales", "Customers"], errors="ignore"))
    answer = pyfunc.predict(request)
    sales = answer["Sales"].to_numpy()
    scored = ((rows["Open"] == 1) & (rows["Sales"] > 0)).to_numpy()
    actual = rows["Sales"].to_numpy(dtype="float64")[scored]
    result = {
        "ensemble": rmspe(actual, sales[scored]),
        "bias": mean_percentage_error(actual, sales[scored]),
        "rows": int(scored.sum()),
    }
    matrix = model.feature_matrix(request).to_numpy(dtype="float32")[scored]
    for name, log_forecast in model.member_log_predictions(matrix).items():
        result[name] = rmspe(actual, np.expm1(log_forecast))
    baseline = median_baseline(history, rows)
    result["median_baseline"] = rmspe(actual, baseline[scored])
    result["median_baseline_bias"] = mean_percentage_error(actual, baseline[scored])
    bands = [c for c in answer.columns if str(c).startswith(QUANTILE_PREFIX)]
    if bands:
        levels = [column_level(c) for c in bands]
        days = (rows["Date"] - model.state.origin).dt.days.to_numpy()[scored]
        quantiles = answer[bands].to_numpy(dtype="float64")[scored]
        naive = naive_quantiles(history, rows, levels)[scored]
        result["intervals"] = interval_scores(actual, quantiles, levels, days)
        result["naive_intervals"] = interval_scores(actual, naive, levels, days)
    if rows_out:
        columns = ["Store", "Date", "DayOfWeek", "Promo", "SchoolHoliday", "Sales"]
        bands_out = {c: answer[c].to_numpy() for c in bands}
        rows[columns].assign(prediction=sales, baseline=baseline, **bands_out).loc[
            scored
        ].to_parquet(rows_out)
    result["origin"] = str(model.state.origin.date())
    return result


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        Date=pd.to_datetime(frame["Date"]), StateHoliday=frame["StateHoliday"].astype(str)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut-days", help="the rows cut off train.csv before the run (CSV)")
    parser.add_argument("--rows-out", help="write the cut days' scored rows here (Parquet)")
    parser.add_argument("--also-version", type=int, help="score this version on the cut days too")
    args = parser.parse_args()

    client = mlflow.MlflowClient()
    version = max(int(v.version) for v in client.search_model_versions(f"name='{MODEL}'"))
    tags = client.get_model_version(MODEL, str(version)).tags
    result: dict[str, Any] = {
        "version": version,
        "gate_status": tags.get("validation.status"),
        "cv": {
            key.removeprefix("cv."): float(value)
            for key, value in tags.items()
            if key.startswith("cv.")
        },
        "cv_folds": {
            key.removeprefix("lineage.cv_folds."): value
            for key, value in tags.items()
            if key.startswith("lineage.cv_folds.")
        },
    }
    holdout = pd.read_parquet("data/05_model_input/holdout_table.parquet")
    window = pd.read_parquet("data/03_primary/sales_train_window.parquet")
    backtest = mlflow.pyfunc.load_model(tags["lineage.backtest.model_uri"])
    result["gate"] = score(backtest, holdout, window)
    if args.cut_days:
        cut = typed(pd.read_csv(args.cut_days, dtype={"StateHoliday": str}))
        history = pd.concat([window, holdout], ignore_index=True)
        served = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
        result["cut"] = score(served, cut.sort_values(["Date", "Store"]), history, args.rows_out)
        if args.also_version:
            other = mlflow.pyfunc.load_model(f"models:/{MODEL}/{args.also_version}")
            result["production_cut"] = {
                "version": args.also_version,
                **score(other, cut.sort_values(["Date", "Store"]), history),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
