"""``ActiveRunDataset``: the ids of this ``kedro run``'s MLflow run."""

from __future__ import annotations

import mlflow
import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.tracking import ActiveRunDataset


def test_loading_in_a_run_gives_its_ids(active_run):
    assert ActiveRunDataset().load() == {
        "run_id": active_run.info.run_id,
        "experiment_id": active_run.info.experiment_id,
    }


def test_loading_outside_a_run_gives_none(factory):
    assert mlflow.active_run() is None
    assert ActiveRunDataset().load() == {"run_id": None, "experiment_id": None}


def test_it_is_read_only():
    with pytest.raises(DatasetError, match="read-only"):
        ActiveRunDataset().save({"run_id": "x"})
