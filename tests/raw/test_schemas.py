"""Schemas of the raw Kaggle files: good tables pass typed, bad ones fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog

from rossmann_forecast.raw.schemas import (
    MAX_ROWS_SHOWN,
    RawDataError,
    check_known_stores,
    normalise_raw_quirks,
    validate_raw_table,
)

CATALOG_FILE = Path(__file__).resolve().parents[2] / "conf/base/catalog_data_processing.yml"
DATASET_FOR_FILE = {"train.csv": "sales_raw", "store.csv": "stores_raw", "test.csv": "test_raw"}


def load_like_the_catalog(path: Path) -> pd.DataFrame:
    """Load a CSV with the project's own raw dataset definition (same load args)."""
    name = DATASET_FOR_FILE[path.name]
    config = yaml.safe_load(CATALOG_FILE.read_text())[name]
    catalog = DataCatalog.from_config({name: {**config, "filepath": str(path)}})
    return catalog.load(name)


@pytest.fixture
def roundtrip(tmp_path, write_raw_csvs):
    """Write frames as CSV and load them back through the catalog's dataset definitions."""

    def _roundtrip(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        paths = write_raw_csvs(tmp_path / "01_raw", frames)
        return {name: load_like_the_catalog(path) for name, path in paths.items()}

    return _roundtrip


def raise_message(df: pd.DataFrame, file_name: str) -> str:
    with pytest.raises(RawDataError) as caught:
        validate_raw_table(df, file_name)
    assert caught.value.file_name == file_name
    return str(caught.value)


def test_valid_tables_come_back_typed(raw_frames, roundtrip):
    loaded = roundtrip(raw_frames)

    train = validate_raw_table(loaded["train.csv"], "train.csv")
    stores = validate_raw_table(loaded["store.csv"], "store.csv")
    test = validate_raw_table(loaded["test.csv"], "test.csv")

    assert list(train.columns) == list(raw_frames["train.csv"].columns)
    assert str(train["Date"].dtype) == "datetime64[us]"
    assert str(train["StateHoliday"].dtype) == "str"
    assert set(train["StateHoliday"]) == {"0", "a"}
    for column in ("Store", "DayOfWeek", "Sales", "Customers", "Open", "Promo", "SchoolHoliday"):
        assert train[column].dtype == "int64", column
    assert str(stores["StoreType"].dtype) == "str"
    assert stores["CompetitionDistance"].dtype == "float64"
    assert str(stores["Promo2SinceYear"].dtype) == "Int64"
    assert str(test["Open"].dtype) == "Int64"
    assert test["Open"].isna().sum() == 1
    assert test["Id"].dtype == "int64"


def test_state_holiday_int_zero_and_string_zero_both_become_string_zero(raw_frames):
    train = raw_frames["train.csv"].astype({"StateHoliday": object})
    train.loc[0, "StateHoliday"] = 0  # the raw file mixes int 0 and "0"

    assert normalise_raw_quirks(train)["StateHoliday"].tolist().count("0") == len(train) - 1
    validated = validate_raw_table(train, "train.csv")
    assert validated.loc[0, "StateHoliday"] == "0"


def test_missing_column_names_file_column_and_rule(raw_frames):
    message = raise_message(raw_frames["train.csv"].drop(columns="Promo"), "train.csv")

    assert message.startswith("train.csv failed validation")
    assert "column 'Promo'" in message
    assert "column_in_dataframe" in message
    assert "required column is missing" in message


def test_train_without_customers_is_accepted_and_typed(raw_frames):
    validated = validate_raw_table(raw_frames["train.csv"].drop(columns="Customers"), "train.csv")

    assert "Customers" not in validated.columns
    assert list(validated.columns) == [
        "Store", "DayOfWeek", "Date", "Sales", "Open", "Promo", "StateHoliday", "SchoolHoliday"
    ]  # fmt: skip
    assert str(validated["Sales"].dtype) == "int64"


def test_customers_present_with_bad_values_is_still_refused(raw_frames):
    train = raw_frames["train.csv"].copy()
    train.loc[4, "Customers"] = -3

    message = raise_message(train, "train.csv")

    assert "column 'Customers'" in message
    assert "greater_than_or_equal_to(0)" in message
    assert "Customers=-3" in message


@pytest.mark.parametrize("file_name", ["train.csv", "store.csv", "test.csv"])
def test_an_unused_column_is_dropped_with_a_warning_naming_it(raw_frames, caplog, file_name):
    """Issue 10: an export's extra column (a note) is ignored, never refused nor used."""
    clean = validate_raw_table(raw_frames[file_name], file_name)

    with caplog.at_level("WARNING", logger="rossmann_forecast.raw.schemas"):
        noted = validate_raw_table(raw_frames[file_name].assign(Note="checked"), file_name)

    assert f"{file_name} has a column the model does not use: 'Note' (ignored)" in caplog.text
    pd.testing.assert_frame_equal(noted, clean)


def test_wrong_type_names_column_rule_and_line(raw_frames, roundtrip):
    frames = dict(raw_frames)
    frames["train.csv"] = frames["train.csv"].astype({"Sales": object})
    frames["train.csv"].loc[3, "Sales"] = "abc"
    loaded = roundtrip(frames)

    message = raise_message(loaded["train.csv"], "train.csv")

    assert "train.csv" in message
    assert "column 'Sales'" in message
    assert "rule 'type integer'" in message
    assert "line 5" in message  # frame row 3 = CSV line 5 (line 1 is the header)
    assert "Sales='abc'" in message


@pytest.mark.parametrize("file_name", ["train.csv", "test.csv"])
@pytest.mark.parametrize(
    "spelling",
    [
        lambda d: d.strftime("%d/%m/%Y"),
        lambda d: d.strftime("%m/%d/%Y"),
        lambda d: d.strftime("%Y-%m-%dT00:00:00-02:00"),
        lambda d: d.strftime("%Y-%m-%dT00:00:00+00:00"),
        lambda d: d.strftime("%Y-%m-%dT00:00:00+02:00"),
        lambda d: d.strftime("%Y-%m-%d 00:00:00"),
        lambda d: f"{d.year}-{d.month}-{d.day}",
    ],
    ids=["day-first", "month-first", "zone-minus-2", "zone-utc", "zone-plus-2", "time", "unpadded"],
)
def test_dates_must_be_written_yyyy_mm_dd(raw_frames, roundtrip, file_name, spelling):
    """Issue 10: pandas alone would guess day or month first, or shift a date by its zone."""
    frame = raw_frames[file_name]
    dates = pd.to_datetime(frame["Date"])
    frame["Date"] = [spelling(d) for d in dates]
    loaded = roundtrip({file_name: frame})[file_name]

    message = raise_message(loaded, file_name)

    assert message.startswith(f"{file_name} failed validation: 1 rule broken")
    assert "column 'Date', rule 'type date' (dates as YYYY-MM-DD, no time, no zone)" in message
    assert f"{len(frame)} rows, e.g. line 2 (" in message
    assert f"Date={spelling(dates[0])!r}" in message
    assert "day_of_week_matches_date" not in message


def test_fractional_number_in_integer_column_is_a_wrong_type(raw_frames):
    train = raw_frames["train.csv"].astype({"Customers": "float64"})
    train.loc[2, "Customers"] = 12.5

    message = raise_message(train, "train.csv")

    assert "column 'Customers', rule 'type integer'" in message
    assert "Customers=12.5" in message


def test_duplicate_store_date_names_both_rows(raw_frames):
    train = raw_frames["train.csv"]
    duplicated = pd.concat([train, train.iloc[[1]]], ignore_index=True)

    message = raise_message(duplicated, "train.csv")

    assert "columns 'Store', 'Date'" in message
    assert "multiple_fields_uniqueness" in message
    assert "2 rows" in message
    assert f"line 3: Store={train.loc[1, 'Store']}" in message


def test_duplicate_test_id(raw_frames):
    test = raw_frames["test.csv"]
    test.loc[1, "Id"] = test.loc[0, "Id"]

    message = raise_message(test, "test.csv")

    assert "test.csv" in message
    assert "column 'Id'" in message
    assert "field_uniqueness" in message


def test_negative_sales_names_rule_and_offending_row(raw_frames):
    train = raw_frames["train.csv"]
    train.loc[4, "Sales"] = -7

    message = raise_message(train, "train.csv")

    assert message.splitlines()[0] == "train.csv failed validation: 1 rule broken"
    assert "column 'Sales', rule 'greater_than_or_equal_to(0)'" in message
    assert "1 row, e.g. line 6" in message
    assert "Sales=-7" in message


@pytest.mark.parametrize(
    ("file_name", "column", "bad_value"),
    [
        ("train.csv", "StateHoliday", "x"),
        ("store.csv", "StoreType", "e"),
        ("store.csv", "Assortment", "d"),
        ("store.csv", "PromoInterval", "Jan,Feb"),
        ("train.csv", "Promo", 2),
    ],
)
def test_unknown_category_names_column_and_allowed_values(raw_frames, file_name, column, bad_value):
    frame = raw_frames[file_name].astype({column: object})
    frame.loc[1, column] = bad_value

    message = raise_message(frame, file_name)

    assert message.startswith(f"{file_name} failed validation")
    assert f"column '{column}', rule 'isin(" in message
    assert f"{column}={bad_value!r}" in message


def test_day_of_week_must_match_date(raw_frames):
    train = raw_frames["train.csv"]
    train.loc[0, "DayOfWeek"] = 1  # 2015-07-31 is a Friday (5)

    message = raise_message(train, "train.csv")

    assert "columns 'DayOfWeek', 'Date', rule 'day_of_week_matches_date'" in message
    assert "DayOfWeek=1, Date='2015-07-31'" in message


def test_closed_day_with_sales_is_rejected(raw_frames):
    train = raw_frames["train.csv"]
    train.loc[0, "Open"] = 0

    message = raise_message(train, "train.csv")

    assert "closed_days_have_zero_sales" in message


def test_promo2_details_only_where_promo2(raw_frames):
    stores = raw_frames["store.csv"]
    stores.loc[0, "PromoInterval"] = "Jan,Apr,Jul,Oct"  # store 1 has Promo2 = 0

    message = raise_message(stores, "store.csv")

    assert "promo2_details_present_iff_promo2" in message


def test_missing_open_allowed_in_test_but_not_in_train(raw_frames):
    train = raw_frames["train.csv"].astype({"Open": "float64"})
    train.loc[0, "Open"] = None

    message = raise_message(train, "train.csv")

    assert "column 'Open', rule 'not_nullable'" in message
    validate_raw_table(raw_frames["test.csv"], "test.csv")  # has one missing Open: fine


def test_header_only_file_is_empty(raw_frames):
    message = raise_message(raw_frames["store.csv"].iloc[0:0], "store.csv")

    assert message.startswith("store.csv is empty: it has a header but no rows")


def test_message_shows_a_few_rows_not_all(raw_frames):
    train = pd.concat([raw_frames["train.csv"]] * 10, ignore_index=True)
    train["Store"] = range(1, len(train) + 1)
    train["Sales"] = -1
    train["Open"] = 1

    message = raise_message(train, "train.csv")

    assert f"{len(train)} rows" in message
    assert message.count("Sales=-1") == MAX_ROWS_SHOWN
    assert len(message.splitlines()) == 2


def test_unknown_store_names_file_column_and_store(raw_frames):
    train = validate_raw_table(raw_frames["train.csv"], "train.csv")

    with pytest.raises(RawDataError) as caught:
        check_known_stores(train, [1, 2], "train.csv")

    message = str(caught.value)
    assert message.startswith("train.csv failed validation")
    assert "column 'Store', rule 'known_to_store_csv'" in message
    assert "Store=3" in message
    assert "5 rows" in message  # store 3 has 5 days in the tiny table
