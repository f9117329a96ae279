"""Tests for the synthetic Rossmann generator: Kaggle schema and quirks, determinism,
calibration against the real statistics (DATA_FACTS.md), the sales next to closures (figures
measured on the real dev slice) and the two holdout RMSPE bands.

One reduced-size data set (400 stores) is generated once for the module; counts of special stores
scale with the size, the bands and the statistics hold at this size too.
"""

import re

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.metrics import rmspe
from rossmann_forecast.raw.synthetic import (
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


# --- Sales next to closures ----------------------------------------------------------------------
# Real figures measured on the real dev slice (82 stores, 2013-2015) with closure_events in
# scripts/generator_stats.py: ratios to the store's typical level for the weekday and promo state.
REAL_BEFORE_HOLIDAY_CLOSURE = {"a": 1.24, "c": 1.31, "d": 1.27}
REAL_AFTER_HOLIDAY_CLOSURE = {"a": 1.29, "c": 1.36, "d": 1.28}
REAL_BEFORE_ONE_OFF_CLOSURE = 1.00
REAL_AFTER_ONE_OFF_CLOSURE = 1.29
REAL_SATURDAY_BEFORE_WHIT_MONDAY = 1.01
REAL_AFTER_TEMPORARY_CLOSURE = 1.63
WHIT_MONDAYS = pd.to_datetime(["2013-05-20", "2014-06-09", "2015-05-25"])


def _asof(rows: pd.DataFrame, events: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """merge_asof by Store on Date (both sides sorted by date)."""
    return pd.merge_asof(
        rows.sort_values("Date", kind="stable"),
        events.sort_values("Date", kind="stable"),
        on="Date",
        by="Store",
        **kwargs,
    )


def closure_neighbours(train: pd.DataFrame, store: pd.DataFrame) -> pd.DataFrame:
    """Open rows (Sales > 0) with their ratio to the store's typical level and nearby closures.

    A closure is a closed day on a weekday the store usually opens. ``before``/``after``: no open
    day lies between the row and the store's next/last closure, whose date and StateHoliday are
    ``NextClosure``/``NextHoliday`` and ``LastClosure``/``LastHoliday``. The typical level is the
    store's median for (DayOfWeek, Promo) on ordinary days (more than 4 days from any closure or
    state holiday, outside 15 Dec - 6 Jan), rescaled by its median ratio on them that month.
    """
    usual = train.groupby(["Store", "DayOfWeek"])["Open"].transform("mean") > 0.5
    closed = train[(train["Open"] == 0) & usual]
    opened = train[train["Open"] == 1].sort_values(["Store", "Date"])
    rows = opened.assign(
        NextOpen=opened.groupby("Store")["Date"].shift(-1),
        LastOpen=opened.groupby("Store")["Date"].shift(1),
    )
    rows = rows[rows["Sales"] > 0]
    for name, direction in (("Next", "forward"), ("Last", "backward")):
        closures = pd.DataFrame(
            {
                "Store": closed["Store"],
                "Date": closed["Date"],
                f"{name}Closure": closed["Date"],
                f"{name}Holiday": closed["StateHoliday"],
            }
        )
        rows = _asof(rows, closures, direction=direction)
    # Comparisons with NaT are False, so a closure with no open day beyond it needs its own test.
    rows["before"] = (rows["NextClosure"] < rows["NextOpen"]) | (
        rows["NextClosure"].notna() & rows["NextOpen"].isna()
    )
    rows["after"] = (rows["LastClosure"] > rows["LastOpen"]) | (
        rows["LastClosure"].notna() & rows["LastOpen"].isna()
    )

    events = pd.concat([closed, train[train["StateHoliday"] != "0"]])[["Store", "Date"]]
    near = _asof(
        rows[["Store", "Date"]],
        events.drop_duplicates().assign(Event=1),
        direction="nearest",
        tolerance=pd.Timedelta(days=4),
    )["Event"].notna()
    mmdd = rows["Date"].dt.strftime("%m-%d")
    ordinary = ~near & (mmdd > "01-06") & (mmdd < "12-15")
    keys = ["Store", "DayOfWeek", "Promo"]
    median = rows[ordinary].groupby(keys)["Sales"].median().rename("median")
    rows["r"] = rows["Sales"] / rows.join(median, on=keys)["median"]
    rows["month"] = rows["Date"].dt.to_period("M")
    local = rows[ordinary].groupby(["Store", "month"])["r"].median().rename("local")
    rows["ratio"] = rows["r"] / rows.join(local, on=["Store", "month"])["local"]
    rows["StoreType"] = rows["Store"].map(store.set_index("Store")["StoreType"])
    return rows.dropna(subset=["ratio"])


@pytest.fixture(scope="module")
def neighbours(data) -> pd.DataFrame:
    return closure_neighbours(data.train, data.store)


def _first_days_next_to_holiday_closures(neighbours: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Mean ratio by StoreType on the open day just before / after a state-holiday closure.

    Closures on New Year's Day and at Christmas are left out: the Christmas factors set them.
    """

    def holiday(code: pd.Series, date: pd.Series) -> pd.Series:
        return code.isin(["a", "b"]) & (date.dt.strftime("%m-%d") != "01-01")

    rows = neighbours
    pre = rows[rows["before"] & holiday(rows["NextHoliday"], rows["NextClosure"])]
    post = rows[rows["after"] & holiday(rows["LastHoliday"], rows["LastClosure"])]
    return pre.groupby("StoreType")["ratio"].mean(), post.groupby("StoreType")["ratio"].mean()


def test_days_next_to_holiday_closures_lift_sales_as_on_real_data(neighbours):
    pre, post = _first_days_next_to_holiday_closures(neighbours)

    for store_type, real in REAL_BEFORE_HOLIDAY_CLOSURE.items():
        assert pre[store_type] == pytest.approx(real, abs=0.03), store_type
    for store_type, real in REAL_AFTER_HOLIDAY_CLOSURE.items():
        assert post[store_type] == pytest.approx(real, abs=0.03), store_type


def test_store_types_differ_next_to_closures_in_the_measured_direction(neighbours):
    pre, post = _first_days_next_to_holiday_closures(neighbours)

    # Real: type c stocks up and catches up most (+0.07 over type a both ways); type d stocks up
    # a little more than type a (+0.03) and catches up alike (-0.01).
    assert pre["c"] - pre["a"] >= 0.035
    assert post["c"] - post["a"] >= 0.035
    assert pre["d"] - pre["a"] >= 0.015
    assert abs(post["d"] - post["a"]) <= 0.025


def test_no_stock_up_before_unannounced_or_sunday_extending_closures(neighbours):
    rows = neighbours
    one_off = rows[rows["before"] & (rows["NextHoliday"] == "0")]
    saturday_before_whit_monday = rows[
        rows["before"] & rows["NextClosure"].isin(WHIT_MONDAYS) & (rows["DayOfWeek"] == 6)
    ]

    assert one_off["ratio"].mean() == pytest.approx(REAL_BEFORE_ONE_OFF_CLOSURE, abs=0.04)
    assert saturday_before_whit_monday["ratio"].mean() == pytest.approx(
        REAL_SATURDAY_BEFORE_WHIT_MONDAY, abs=0.03
    )


def test_sales_catch_up_after_one_off_and_temporary_closures(neighbours):
    rows = neighbours[neighbours["after"]]
    closed_days = (rows["Date"] - rows["LastOpen"]).dt.days
    one_off = rows[(rows["LastHoliday"] == "0") & (closed_days <= 3)]
    # Closed for a week or more (the refurbishment gap has no rows and lasts 186 days), not
    # ending on a holiday.
    reopened = rows[closed_days.between(7, 100) & (rows["LastHoliday"] == "0")]

    assert one_off["ratio"].mean() == pytest.approx(REAL_AFTER_ONE_OFF_CLOSURE, abs=0.05)
    # The real figure rests on 4 closures and this one on a handful, so the band is wide; without
    # the reopening bump the mean is about 1.13.
    assert len(reopened) >= 5
    assert reopened["ratio"].mean() == pytest.approx(REAL_AFTER_TEMPORARY_CLOSURE, abs=0.38)


def test_days_after_christmas_and_new_year(neighbours):
    mmdd = neighbours["Date"].dt.strftime("%m-%d")

    # Real dev slice: 27 Dec 0.97 and 2 Jan 1.21 of the store's typical level.
    assert neighbours.loc[mmdd == "12-27", "ratio"].mean() == pytest.approx(0.97, abs=0.05)
    assert neighbours.loc[mmdd == "01-02", "ratio"].mean() == pytest.approx(1.21, abs=0.05)
