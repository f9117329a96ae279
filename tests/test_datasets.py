"""Project datasets, called directly: what a user sees when an input file is unusable."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from rossmann_forecast.datasets import MlflowInputDataset
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
