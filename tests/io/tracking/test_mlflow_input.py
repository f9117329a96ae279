"""``MlflowInputDataset``: what a user sees when an input file is unusable; the run's input record."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.tracking import MlflowInputDataset
from rossmann_forecast.model.ensemble import InvalidInputError


def _input_dataset(path) -> MlflowInputDataset:
    return MlflowInputDataset(
        dataset={"type": "pandas.CSVDataset", "filepath": str(path)},
        name="inference_input",
        context="inference",
    )


def test_an_empty_input_file_is_named_in_one_line(tmp_path):
    """Issue 10: a 0-byte file used to end 300 lines down in pandas' EmptyDataError."""
    path = tmp_path / "next_week.csv"
    path.write_bytes(b"")

    with pytest.raises(DatasetError) as raised:
        _input_dataset(path).load()

    cause = raised.value.__cause__
    assert isinstance(cause, InvalidInputError)
    assert str(cause) == f"next_week.csv is empty (0 bytes): {path} has no header and no rows"


def test_a_readable_input_file_loads_as_rows(tmp_path):
    path = tmp_path / "next_week.csv"
    path.write_text("Id,Store\n1,2\n")

    assert _input_dataset(path).load().to_dict("list") == {"Id": [1], "Store": [2]}


def test_a_load_in_a_run_is_recorded_once_as_the_runs_input(tmp_path, active_run):
    path = tmp_path / "next_week.csv"
    path.write_text("Id,Store\n1,2\n3,4\n")
    dataset = _input_dataset(path)

    dataset.load()
    dataset.load()

    inputs = mlflow.get_run(active_run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "inference_input"
    assert [tag.value for tag in inputs[0].tags if tag.key == "mlflow.data.context"] == [
        "inference"
    ]
    assert '"num_rows": 2' in inputs[0].dataset.profile


def test_saving_writes_the_table_and_records_it(tmp_path, active_run):
    path = tmp_path / "built.csv"
    dataset = _input_dataset(path)

    dataset.save(pd.DataFrame({"Id": [1], "Store": [2]}))

    assert path.read_text().splitlines() == ["Id,Store", "1,2"]
    assert len(mlflow.get_run(active_run.info.run_id).inputs.dataset_inputs) == 1
