"""data_processing nodes, called directly on tiny tables."""

from __future__ import annotations

import pandas as pd
import pytest

from rossmann_forecast.pipelines.data_processing.nodes import (
    build_raw_data_lineage,
    check_sales_dates,
    check_stores_known,
    validate_sales,
    validate_stores,
    validate_test,
)
from rossmann_forecast.raw.schemas import RawDataError


@pytest.fixture
def validated(raw_frames) -> dict[str, pd.DataFrame]:
    return {
        "sales": validate_sales(raw_frames["train.csv"]),
        "stores": validate_stores(raw_frames["store.csv"]),
        "test": validate_test(raw_frames["test.csv"]),
    }


def test_validate_nodes_type_the_tables_without_changing_their_input(raw_frames):
    raw = raw_frames["train.csv"]
    before = raw.copy()

    sales = validate_sales(raw)

    pd.testing.assert_frame_equal(raw, before)
    assert str(sales["Date"].dtype) == "datetime64[us]"
    assert sales["Open"].dtype == "int64"
    assert len(sales) == len(raw)


def test_validate_node_raises_the_project_error(raw_frames):
    stores = raw_frames["store.csv"]
    stores.loc[0, "Store"] = -1

    with pytest.raises(RawDataError, match=r"store\.csv failed validation"):
        validate_stores(stores)


def test_check_stores_known_passes_the_tables_through(validated):
    sales, stores, test = check_stores_known(
        validated["sales"], validated["stores"], validated["test"]
    )

    assert sales is validated["sales"]
    assert stores is validated["stores"]
    assert test is validated["test"]


def test_unknown_store_in_test_names_test_csv(validated):
    test = validated["test"].copy()
    test.loc[0, "Store"] = 99

    with pytest.raises(RawDataError) as caught:
        check_stores_known(validated["sales"], validated["stores"], test)

    message = str(caught.value)
    assert caught.value.file_name == "test.csv"
    assert message.startswith("test.csv failed validation")
    assert "column 'Store', rule 'known_to_store_csv'" in message
    assert "line 2 (Id=1, Date=2015-08-03): Store=99" in message


def test_unknown_store_in_train_names_train_csv(validated):
    stores = validated["stores"][validated["stores"]["Store"] != 2]

    with pytest.raises(RawDataError, match=r"train\.csv failed validation"):
        check_stores_known(validated["sales"], stores, validated["test"])


def test_lineage_adds_row_counts_to_the_fingerprint(validated):
    fingerprint = {
        "source": "synthetic",
        "synthetic": {"seed": 42, "n_stores": 3},
        "files": {
            name: {"path": f"data/01_raw/{name}", "sha256": "ab" * 32, "dvc_md5": None}
            for name in ("train.csv", "store.csv", "test.csv")
        },
    }

    lineage = build_raw_data_lineage(
        fingerprint, validated["sales"], validated["stores"], validated["test"]
    )

    assert lineage["source"] == "synthetic"
    assert lineage["synthetic"] == {"seed": 42, "n_stores": 3}
    assert lineage["files"]["train.csv"] == {
        "path": "data/01_raw/train.csv",
        "sha256": "ab" * 32,
        "dvc_md5": None,
        "rows": 15,
    }
    assert lineage["files"]["store.csv"]["rows"] == 3
    assert lineage["files"]["test.csv"]["rows"] == 6
    assert "rows" not in fingerprint["files"]["train.csv"]  # input not mutated


def test_check_sales_dates_names_a_row_dated_in_test_csvs_days(validated):
    sales = pd.concat(
        [validated["sales"], validated["sales"].iloc[[0]].assign(Date=pd.Timestamp("2015-08-02"))],
        ignore_index=True,
    )

    with pytest.raises(RawDataError) as raised:
        check_sales_dates(sales, validated["test"], 7)

    message = str(raised.value)
    assert "rule 'before_test_start'" in message
    assert f"line {len(sales) + 1} (Store=1): Date=2015-08-02" in message


def test_check_sales_dates_allows_a_store_a_few_days_past_the_others(validated):
    test = validated["test"].assign(Date=validated["test"]["Date"] + pd.Timedelta(days=30))
    late = validated["sales"].iloc[[0]].assign(Date=pd.Timestamp("2015-08-05"))
    sales = pd.concat([validated["sales"], late], ignore_index=True)

    assert check_sales_dates(sales, test, 7) is sales
    with pytest.raises(RawDataError, match="rule 'within_data_end'"):
        check_sales_dates(sales, test, 3)
