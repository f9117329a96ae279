"""``TableRecord``: a table's MLflow record built from its dtypes, without visiting every cell."""

from __future__ import annotations

import json
import warnings

import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source

from rossmann_forecast.io.tracking.table_record import TableRecord


def _record(data: pd.DataFrame, tmp_path) -> TableRecord:
    with warnings.catch_warnings():  # MLflow registers the local source twice (see mlflow_input)
        warnings.filterwarnings("ignore", message="The specified dataset source can be")
        source = resolve_dataset_source((tmp_path / "t.csv").as_uri())
    return TableRecord(data, source, "table")


def test_the_schema_follows_the_dtypes_and_missing_values(tmp_path):
    data = pd.DataFrame(
        {"f": [1.0, None], "i": [1, 2], "d": pd.to_datetime(["2015-01-01", "2015-01-02"]),
         "s": ["a", "b"], "h": pd.Series([1.0, 2.0], dtype="float32")}
    )  # fmt: skip

    columns = {c.name: c for c in _record(data, tmp_path).schema.inputs}

    assert {n: c.type.name for n, c in columns.items()} == {
        "f": "double", "i": "long", "d": "datetime", "s": "string", "h": "float",
    }  # fmt: skip
    assert (columns["f"].required, columns["i"].required) == (False, True)


def test_the_profile_counts_rows_and_the_digest_follows_the_content(tmp_path):
    data = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})

    record = _record(data, tmp_path)

    assert record.profile == {"num_rows": 3, "num_elements": 6}
    assert json.loads(record.to_dict()["profile"]) == record.profile
    assert record.digest == _record(data.copy(), tmp_path).digest
    assert record.digest != _record(data.assign(b=[4, 5, 7]), tmp_path).digest
