"""``MlflowTrialRunsDataset``: tuning trials as a file and as nested runs."""

from __future__ import annotations

import json

import mlflow
import pandas as pd

from rossmann_forecast.io.tracking import MlflowTrialRunsDataset


def test_each_trial_becomes_a_nested_run_and_the_table_round_trips(tmp_path, active_run):
    trials = pd.DataFrame(
        {"number": [0, 1], "params": [json.dumps({"lr": 0.1}), json.dumps({"lr": 0.2})],
         "rmspe": [0.12, 0.11], "state": ["COMPLETE", "COMPLETE"]}
    )  # fmt: skip
    dataset = MlflowTrialRunsDataset(
        dataset={"type": "pandas.CSVDataset", "filepath": str(tmp_path / "trials.csv")},
        run_name_prefix="lightgbm",
    )

    dataset.save(trials)

    nested = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{active_run.info.run_id}'",
        output_format="list",
    )
    by_name = {run.info.run_name: run for run in nested}
    assert set(by_name) == {"lightgbm-trial-0", "lightgbm-trial-1"}
    assert by_name["lightgbm-trial-1"].data.params == {"lr": "0.2"}
    assert by_name["lightgbm-trial-1"].data.metrics == {"rmspe": 0.11}
    assert by_name["lightgbm-trial-0"].data.tags["tuning.member"] == "lightgbm"
    assert dataset.load().to_dict("list") == trials.to_dict("list")
