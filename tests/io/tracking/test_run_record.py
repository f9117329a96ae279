"""``MlflowRunRecordDataset``: a record as prefixed run tags and a JSON artifact."""

from __future__ import annotations

import mlflow
import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.tracking import MlflowRunRecordDataset


def _dataset() -> MlflowRunRecordDataset:
    return MlflowRunRecordDataset(prefix="inference", artifact_file="inference/record.json")


def test_a_record_becomes_tags_and_an_artifact_and_loads_back(active_run):
    record = {"model_version": 3, "input": {"rows": 2}, "note": None, "long": "x" * 6000}
    dataset = _dataset()

    dataset.save(record)

    run = mlflow.get_run(active_run.info.run_id)
    tags = {k: v for k, v in run.data.tags.items() if k.startswith("inference.")}
    assert tags == {"inference.model_version": "3", "inference.long": "x" * 5000}
    artifact = f"runs:/{active_run.info.run_id}/inference/record.json"
    assert mlflow.artifacts.load_dict(artifact) == record
    assert dataset.load() == record


def test_outside_a_run_the_record_is_kept_but_not_logged(factory, caplog):
    dataset = _dataset()

    dataset.save({"model_version": 3})

    assert dataset.load() == {"model_version": 3}
    assert "No active MLflow run: the inference record is not logged" in caplog.text


def test_loading_before_saving_says_the_record_lives_in_its_run():
    with pytest.raises(DatasetError, match="Nothing saved yet"):
        _dataset().load()
