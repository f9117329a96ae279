"""Tests for the synthetic Rossmann generator: Kaggle schema and quirks, determinism,
calibration against the real statistics (DATA_FACTS.md) and the two holdout RMSPE bands.

One reduced-size data set (400 stores) is generated once for the module; counts of special stores
scale with the size, the bands and the statistics hold at this size too.
"""

import re

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.metrics import rmspe
from rossmann_forecast.synthetic import (
    STORE_COLUMNS,
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    SyntheticData,
    generate,
    write_raw_files,
)

N_STORES = 400
SEED = 42
HOLDOUT_START = pd.Timestamp("2015-06-20")


def _scaled(count: int) -> int:
    return round(count * N_STORES / 1115)


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(n_stores=N_STORES, seed=SEED)


@pytest.fixture(scope="module")
def open_rows(data) -> pd.DataFrame:
    train = data.train
    return train[(train["Open"] == 1) & (train["Sales"] > 0)]


@pytest.fixture(scope="module")
def ratio(open_rows) -> pd.Series:
    """Each open row's sales divided by its store's mean, as in DATA_FACTS."""
    store_mean = open_rows.groupby("Store")["Sales"].mean()
    return open_rows["Sales"] / open_rows["Store"].map(store_mean)


# --- Schema and quirks ---------------------------------------------------------------------------


def test_columns_and_types_match_kaggle(data):
    assert tuple(data.train.columns) == TRAIN_COLUMNS
    assert tuple(data.store.columns) == STORE_COLUMNS
    assert tuple(data.test.columns) == TEST_COLUMNS
    for col in ("Store", "DayOfWeek", "Sales", "Customers", "Open", "Promo", "SchoolHoliday"):
        assert data.train[col].dtype == np.int64, col
    assert data.test["Open"].dtype == np.float64
    assert pd.api.types.is_datetime64_any_dtype(data.train["Date"])
    assert set(data.train["StateHoliday"]) == {"0", "a", "b", "c"}
    assert set(data.store["StoreType"]) == {"a", "b", "c", "d"}


def test_train_covers_942_days_sorted_date_descending_then_store(data):
    train = data.train
    assert train["Date"].min() == pd.Timestamp("2013-01-01")
    assert train["Date"].max() == pd.Timestamp("2015-07-31")
    assert train["Date"].nunique() == 942
    expected_order = train.sort_values(["Date", "Store"], ascending=[False, True])
    assert train.index.equals(expected_order.index)
    assert (train["DayOfWeek"] == train["Date"].dt.day_of_week + 1).all()


def test_train_has_refurbishment_gap_and_one_missing_first_day(data):
    train = data.train
    in_gap = train["Date"].between("2014-07-01", "2014-12-31")
    gap_stores = set(train["Store"]) - set(train.loc[in_gap, "Store"])
    assert len(gap_stores) == _scaled(180)
    gap_rows = train[train["Store"].isin(gap_stores)]
    assert gap_rows.groupby("Store").size().max() == 942 - 184
    assert train.loc[train["Date"] == "2013-01-01", "Store"].nunique() == N_STORES - 1
    assert len(train) == N_STORES * 942 - len(gap_stores) * 184 - 1


def test_test_file_shape_ids_and_missing_open(data):
    test = data.test
    n_stores = test["Store"].nunique()
    assert n_stores == _scaled(856)
    assert len(test) == n_stores * 48
    assert test["Date"].min() == pd.Timestamp("2015-08-01")
    assert test["Date"].max() == pd.Timestamp("2015-09-17")
    assert (test["Id"] == np.arange(1, len(test) + 1)).all()
    assert test.index.equals(test.sort_values(["Date", "Store"], ascending=[False, True]).index)
    missing = test[test["Open"].isna()]
    assert len(missing) == 11
    assert missing["Store"].nunique() == 1


def test_store_missing_values_follow_kaggle(data):
    store = data.store
    assert len(store) == N_STORES
    assert store["CompetitionDistance"].isna().sum() == _scaled(3)
    assert store["CompetitionOpenSinceYear"].isna().mean() == pytest.approx(0.3175, abs=0.01)
    assert (
        store["CompetitionOpenSinceMonth"].isna().equals(store["CompetitionOpenSinceYear"].isna())
    )
    no_promo2 = store["Promo2"] == 0
    for col in ("Promo2SinceWeek", "Promo2SinceYear", "PromoInterval"):
        assert store[col].isna().equals(no_promo2), col
    assert set(store["PromoInterval"].dropna()) <= {
        "Jan,Apr,Jul,Oct",
        "Feb,May,Aug,Nov",
        "Mar,Jun,Sept,Dec",
    }
    assortment_b = store.loc[store["Assortment"] == "b", "StoreType"]
    assert len(assortment_b) > 0
    assert (assortment_b == "b").all()


def test_promo_is_the_same_for_every_store_on_a_date_and_weekdays_only(data):
    train = data.train
    assert (train.groupby("Date")["Promo"].nunique() == 1).all()
    assert train.loc[train["DayOfWeek"] >= 6, "Promo"].eq(0).all()


def test_closed_days_have_no_sales_and_zero_expectation(data):
    closed = data.train["Open"] == 0
    assert data.expected.index.equals(data.train.index)
    assert (data.train.loc[closed, ["Sales", "Customers"]] == 0).all().all()
    assert (data.expected[closed] == 0).all()
    assert (data.expected[~closed] > 0).all()


def test_state_holidays_close_almost_every_store(data):
    on_holiday = data.train[data.train["StateHoliday"] != "0"]
    assert on_holiday["Open"].mean() < 0.05


# --- Determinism and errors ----------------------------------------------------------------------


def test_same_seed_gives_identical_frames():
    first, second = generate(n_stores=20, seed=7), generate(n_stores=20, seed=7)

    for name in ("train", "store", "test"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    pd.testing.assert_series_equal(first.expected, second.expected)


def test_different_seed_gives_different_sales():
    first, second = generate(n_stores=20, seed=7), generate(n_stores=20, seed=8)

    assert not first.train["Sales"].equals(second.train["Sales"])


def test_generate_rejects_non_positive_store_count():
    with pytest.raises(ValueError, match="n_stores must be at least 1"):
        generate(n_stores=0)


# --- Raw files -----------------------------------------------------------------------------------


def test_write_raw_files_writes_kaggle_text_format(tmp_path):
    paths = write_raw_files(tmp_path / "raw", n_stores=15, seed=3)

    assert set(paths) == {"train.csv", "store.csv", "test.csv"}
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted(paths)  # no temp files
    train_lines = paths["train.csv"].read_text().splitlines()
    assert train_lines[0] == ",".join(TRAIN_COLUMNS)
    assert re.fullmatch(r"1,5,2015-07-31,\d+,\d+,1,1,0,[01]", train_lines[1])
    test_lines = paths["test.csv"].read_text().splitlines()
    assert test_lines[0] == ",".join(TEST_COLUMNS)
    assert re.fullmatch(r"1,\d+,4,2015-09-17,(1\.0|0\.0|),1,0,[01]", test_lines[1])
    store_text = paths["store.csv"].read_text()
    assert store_text.splitlines()[0] == ",".join(STORE_COLUMNS)
    assert re.search(r"^\d+,[abcd],[abc],[\d.]*,[\d.]*,[\d.]*,0,,,$", store_text, re.M)
    reread = pd.read_csv(paths["train.csv"])
    assert len(reread) == len(generate(n_stores=15, seed=3).train)


# --- Calibration against the real statistics ------------------------------------------------------


def test_closed_and_promo_shares(data):
    train = data.train
    assert (train["Open"] == 0).mean() == pytest.approx(0.1699, abs=0.01)
    assert train["Promo"].mean() == pytest.approx(0.38, abs=0.01)
    assert train["SchoolHoliday"].mean() == pytest.approx(0.176, abs=0.015)
    shares = train["StateHoliday"].value_counts(normalize=True)
    assert shares["a"] == pytest.approx(0.020, abs=0.004)
    assert shares["b"] == pytest.approx(0.0066, abs=0.001)
    assert shares["c"] == pytest.approx(0.0040, abs=0.001)


def test_store_type_shares(data):
    shares = data.store["StoreType"].value_counts(normalize=True)
    for store_type, real in {"a": 0.540, "b": 0.015, "c": 0.133, "d": 0.312}.items():
        assert shares[store_type] == pytest.approx(real, abs=0.005), store_type


def test_sales_levels_and_log_spread(open_rows):
    log_sales = np.log1p(open_rows["Sales"])
    assert log_sales.mean() == pytest.approx(8.75, abs=0.05)
    assert log_sales.std() == pytest.approx(0.42, abs=0.03)
    store_mean = open_rows.groupby("Store")["Sales"].mean()
    assert store_mean.median() == pytest.approx(6370, rel=0.06)
    assert store_mean.quantile(0.1) == pytest.approx(4580, rel=0.06)
    assert store_mean.quantile(0.9) == pytest.approx(9690, rel=0.08)


def test_promo_lift_and_its_spread_across_stores(open_rows):
    by_promo = open_rows.groupby(["Store", "Promo"])["Sales"].mean().unstack()
    lift = by_promo[1] / by_promo[0]
    assert lift.median() == pytest.approx(1.42, abs=0.04)
    assert lift.quantile(0.1) == pytest.approx(1.21, abs=0.04)
    assert lift.quantile(0.9) == pytest.approx(1.63, abs=0.05)
    customers = open_rows.groupby("Promo")["Customers"].mean()
    assert customers[1] / customers[0] == pytest.approx(1.22, abs=0.03)


def test_day_of_week_profile_and_monday_promo_interaction(open_rows, ratio):
    by_dow = ratio.groupby(open_rows["DayOfWeek"]).mean()
    real = {1: 1.19, 2: 1.02, 3: 0.97, 4: 0.98, 5: 1.02, 6: 0.83}
    for dow, value in real.items():
        assert by_dow[dow] == pytest.approx(value, abs=0.04), dow
    by_dow_promo = ratio.groupby([open_rows["DayOfWeek"], open_rows["Promo"]]).mean()
    assert by_dow_promo[(1, 1)] == pytest.approx(1.42, abs=0.04)
    assert by_dow_promo[(1, 0)] == pytest.approx(0.89, abs=0.04)


def test_december_and_christmas_effects(open_rows, ratio):
    by_month = ratio.groupby(open_rows["Date"].dt.month).mean()
    assert by_month[12] == pytest.approx(1.25, abs=0.04)
    assert by_month[1] == pytest.approx(0.94, abs=0.03)
    mmdd = open_rows["Date"].dt.strftime("%m-%d")
    assert ratio[mmdd == "12-24"].mean() == pytest.approx(0.69, abs=0.06)
    assert ratio[mmdd == "12-31"].mean() == pytest.approx(0.58, abs=0.06)


def test_customers_and_sales_per_customer(open_rows):
    assert open_rows["Customers"].mean() == pytest.approx(750, rel=0.07)
    assert (open_rows["Sales"] / open_rows["Customers"]).mean() == pytest.approx(9.5, rel=0.05)


# --- Forecast difficulty: the two holdout bands ---------------------------------------------------


@pytest.fixture(scope="module")
def holdout(data):
    train = data.train
    scored = (train["Open"] == 1) & (train["Sales"] > 0)
    in_holdout = train["Date"] >= HOLDOUT_START
    return train[scored & ~in_holdout], train[scored & in_holdout]


def test_median_baseline_is_as_hard_as_on_real_data(holdout):
    fit, test = holdout
    keys = ["Store", "DayOfWeek", "Promo"]
    median = fit.groupby(keys)["Sales"].median().rename("pred")
    prediction = test.join(median, on=keys)["pred"].fillna(fit["Sales"].median())

    assert 0.13 <= rmspe(test["Sales"], prediction) <= 0.16


def test_noise_free_expectation_scores_in_band(data, holdout):
    _, test = holdout

    assert 0.06 <= rmspe(test["Sales"], data.expected.loc[test.index]) <= 0.08
