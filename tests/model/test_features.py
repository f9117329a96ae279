"""Tests of the shared feature logic: what each feature may see, and when."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.model.features import (
    _GROUP_KEYS,
    FeatureConfig,
    _group_means,
    block_origins,
    build_training_table,
    counters_known_at,
    event_counters,
    feature_names,
    features_for_request,
    fit_state,
    load_state,
    save_state,
)
from tests.synthetic_support import typed_synthetic

# As conf/base sets it: the Easter-aligned day effect on, thin windows filled from longer ones
# (FeatureConfig() leaves both off, as in the models saved before they existed).
CONFIG = FeatureConfig(easter_window_days=70, min_window_share=0.25)
# In generate(n_stores=12, seed=3), store 7 has no rows in the second half of 2014.
REFURBISHED_STORE = 7


@pytest.fixture(scope="module")
def data():
    return typed_synthetic(n_stores=12, seed=3)


def test_event_counters_count_days_to_and_from_events():
    calendar = pd.DataFrame(
        {
            "Store": 1,
            "Date": pd.date_range("2015-01-01", periods=6),
            "Open": [1, 1, 0, 1, 1, 1],
            "Promo": [0, 1, 1, 0, 0, 0],
            "StateHoliday": ["0", "0", "a", "0", "0", "0"],
            "SchoolHoliday": 0,
        }
    )
    counters = event_counters(calendar, cap=30)
    assert counters["days_until_holiday"].tolist() == [2, 1, 0, 30, 30, 30]
    assert counters["days_since_holiday"].tolist() == [30, 30, 0, 1, 2, 3]
    assert counters["days_since_promo"].tolist() == [30, 0, 0, 1, 2, 3]
    assert counters["days_since_school"].eq(30).all()


def test_state_ignores_rows_on_or_after_the_origin(data):
    sales, stores = data
    origin = pd.Timestamp("2015-03-01")
    changed = sales.copy()
    later = changed["Date"] >= origin
    changed.loc[later, "Sales"] = changed.loc[later, "Sales"] * 50
    before = fit_state(sales, stores, origin, CONFIG)
    after = fit_state(changed, stores, origin, CONFIG)
    pd.testing.assert_frame_equal(before.store_stats, after.store_stats)
    for name, stat in before.group_stats.items():
        pd.testing.assert_frame_equal(stat, after.group_stats[name])


def test_state_reacts_to_history_before_the_origin(data):
    """The check above must be able to fail: earlier sales do move the statistics."""
    sales, stores = data
    origin = pd.Timestamp("2015-03-01")
    changed = sales.copy()
    earlier = changed["Date"] < origin
    changed.loc[earlier, "Sales"] = changed.loc[earlier, "Sales"] * 2
    before = fit_state(sales, stores, origin, CONFIG)
    after = fit_state(changed, stores, origin, CONFIG)
    assert not before.store_stats.equals(after.store_stats)


def test_training_rows_see_only_statistics_from_before_their_block(data):
    sales, stores = data
    origin = sales["Date"].max() - pd.Timedelta(days=41)
    window = sales.loc[sales["Date"] < origin]
    table = build_training_table(window, stores, origin, CONFIG)
    assert (table["Date"] >= table["block_origin"]).all()
    assert (table["Date"] < table["block_origin"] + pd.Timedelta(days=CONFIG.block_days)).all()
    assert (table["Sales"] > 0).all()
    assert list(table.columns[4:]) == feature_names(CONFIG)
    # Sales inside the last block change nothing in that block's features.
    last = table["block_origin"].max()
    changed = window.copy()
    inside = changed["Date"] >= last
    changed.loc[inside, "Sales"] *= 50
    again = build_training_table(changed, stores, origin, CONFIG)
    pd.testing.assert_frame_equal(
        table.drop(columns="Sales"), again.drop(columns="Sales"), check_exact=True
    )


def test_block_origins_align_on_the_holdout_origin():
    origins = block_origins(pd.Timestamp("2015-01-01"), pd.Timestamp("2015-06-20"), CONFIG)
    assert origins[0] == pd.Timestamp("2015-05-09")
    assert all((a - b).days == 42 for a, b in zip(origins, origins[1:], strict=False))
    assert origins[-1] - pd.Timedelta(days=CONFIG.min_history_days) >= pd.Timestamp("2015-01-01")


def test_request_features_equal_the_training_path_for_the_same_origin(data):
    """The same rows, featurised as a request (closed days included) and by the training
    table, give the same matrix: the two paths are one function."""
    sales, stores = data
    end = sales["Date"].max() + pd.Timedelta(days=1)
    origin = end - pd.Timedelta(days=42)
    table = build_training_table(sales, stores, end, CONFIG)
    trained = table[table["block_origin"] == origin].set_index(["Store", "Date"])
    request = sales.loc[sales["Date"] >= origin].drop(columns=["Sales", "Customers"])
    assert (request["Open"] == 0).any()

    state = fit_state(sales, stores, origin, CONFIG)
    features = features_for_request(request, state)
    features.index = pd.MultiIndex.from_frame(request[["Store", "Date"]])

    assert list(features.columns) == feature_names(CONFIG)
    pd.testing.assert_frame_equal(
        features.loc[trained.index], trained[feature_names(CONFIG)], check_exact=True
    )
    # Store statistics come from the state, identical for every row of a store.
    per_store = features.groupby(level="Store")["w91_mean"].nunique()
    assert (per_store == 1).all()


def test_every_row_is_trained_once_per_block_alignment(data):
    sales, stores = data
    end = sales["Date"].max() + pd.Timedelta(days=1)
    table = build_training_table(sales, stores, end, CONFIG)
    late = table[table["Date"] >= end - pd.Timedelta(days=200)]
    copies = late.groupby(["Store", "Date"])["block_origin"].nunique()
    assert (copies == len(CONFIG.block_offsets_days)).all()
    # Each copy sees the statistics of its own block's start, and a horizon from it.
    horizon = (late["Date"] - late["block_origin"]).dt.days
    assert (late["horizon"] == horizon.clip(upper=CONFIG.block_days)).all()
    assert set(late["block_origin"].dt.day_of_week) == {
        (end - pd.Timedelta(days=offset)).day_of_week for offset in CONFIG.block_offsets_days
    }


def test_without_customers_the_customer_statistics_are_left_out(data):
    sales, stores = data
    config = FeatureConfig(customers=False, easter_window_days=70)
    origin = pd.Timestamp("2015-03-01")
    state = fit_state(sales.drop(columns="Customers"), stores, origin, config)
    names = feature_names(config)
    assert not [name for name in names if "customers" in name]
    assert set(feature_names(CONFIG)) - set(names) == {
        "w28_customers",
        "w91_customers",
        "w364_customers",
    }
    rows = sales.loc[sales["Date"] >= origin].drop(columns=["Sales", "Customers"])
    assert list(features_for_request(rows, state).columns) == names


def _training_table_block_by_block(sales, stores, origin, config):
    """The training table built the plain way: per block, ``fit_state`` on the whole past
    before the block and ``features_for_request`` on the block, then concatenated and sorted."""
    parts = []
    for offset in config.block_offsets_days:
        for start in block_origins(sales["Date"].min(), origin, config, offset):
            end = min(start + pd.Timedelta(days=config.block_days), origin)
            block = sales.loc[(sales["Date"] >= start) & (sales["Date"] < end)]
            state = fit_state(sales.loc[sales["Date"] < start], stores, start, config)
            features = features_for_request(block, state)
            selling = ((block["Open"] == 1) & (block["Sales"] > 0)).to_numpy()
            keys = block.loc[selling, ["Store", "Date", "Sales"]].assign(block_origin=start)
            parts.append(pd.concat([keys, features.loc[selling]], axis=1))
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["Date", "Store", "block_origin"], ignore_index=True)


@pytest.mark.parametrize(
    ("row_order", "config"),
    [
        ("as in train.csv", CONFIG),
        # A longest window past the year-ago one; no Customers column.
        (
            "shuffled",
            FeatureConfig(customers=False, windows_days=(14, 91, 400), easter_window_days=70),
        ),
    ],
)
def test_training_table_equals_the_block_by_block_build(data, row_order, config):
    """The build that derives the shared history once gives, to the bit, the table of
    ``fit_state`` per block, whatever the row order (float sums follow it)."""
    sales, stores = data
    if row_order == "shuffled":
        sales = sales.sample(frac=1, random_state=0)
    if not config.customers:
        sales = sales.drop(columns="Customers")
    end = sales["Date"].max() + pd.Timedelta(days=1)
    # A store refurbished (no rows for months) reopens after the first blocks start.
    reopened = sales.loc[sales["Store"] == REFURBISHED_STORE, "Date"].sort_values().diff()
    reopen_date = sales.loc[reopened.idxmax(), "Date"]
    assert reopened.max() >= pd.Timedelta(days=config.gap_min_days)

    table = build_training_table(sales, stores, end, config)
    expected = _training_table_block_by_block(sales, stores, end, config)

    pd.testing.assert_frame_equal(table, expected, check_exact=True)
    assert table["block_origin"].min() < reopen_date < table["block_origin"].max()
    # Blocks that start before the reopening do not know of it; later ones do.
    refurbished = table.loc[table["Store"] == REFURBISHED_STORE]
    known = refurbished["block_origin"] > reopen_date
    assert refurbished.loc[~known, "days_since_reopen"].isna().all()
    assert refurbished.loc[known, "days_since_reopen"].between(0, 364).all() and known.any()
    assert (table.dtypes[feature_names(config)] == np.float32).all()


@pytest.mark.parametrize("weeks_back", [6, 46])
def test_rows_before_an_earlier_origin_with_counters_known_there_are_that_origins_table(
    data, weeks_back
):
    """A fit at an earlier origin (a CV fold, the backtest) takes the served table's rows
    before it with ``counters_known_at``: that is, to the bit, the table a run at that origin
    builds (the model Production was fit on when the data were the same)."""
    sales, stores = data
    served = sales["Date"].max() + pd.Timedelta(days=1)
    # A block start of every alignment (0, 14, 28) is 42 days apart: 6 and 46 weeks back are
    # the holdout's and the year-earlier fold's origins of conf/base.
    origin = served - pd.Timedelta(weeks=weeks_back)
    table = build_training_table(sales, stores, served, CONFIG)
    earlier = build_training_table(sales.loc[sales["Date"] < origin], stores, origin, CONFIG)
    names = feature_names(CONFIG)

    before = table.loc[table["Date"] < origin].reset_index(drop=True)
    as_served = before[names].to_numpy(dtype="float32")
    known = counters_known_at(as_served.copy(), before["Date"].to_numpy(), names, origin, 30)

    keys = ["Store", "Date", "Sales", "block_origin"]
    pd.testing.assert_frame_equal(before[keys], earlier[keys], check_exact=True)
    np.testing.assert_array_equal(known, earlier[names].to_numpy(dtype="float32"))
    # The served table's counters did see past the origin (so the check above can fail).
    changed = ((known != as_served) & ~np.isnan(as_served)).any(axis=0)
    assert changed.any()
    assert {names[i] for i in np.flatnonzero(changed)} <= {
        n for n in names if n.startswith("days_until_")
    }


def test_counters_known_at_refuses_rows_on_or_after_the_origin():
    names = ["days_until_promo"]
    dates = np.array(["2015-03-01", "2015-03-02"], dtype="datetime64[ns]")
    with pytest.raises(ValueError, match="on or after 2015-03-02"):
        counters_known_at(np.zeros((2, 1), "float32"), dates, names, pd.Timestamp("2015-03-02"), 30)


def test_training_table_needs_history_before_a_block(data):
    sales, stores = data
    first = sales["Date"].min()
    short = sales.loc[sales["Date"] < first + pd.Timedelta(days=CONFIG.min_history_days)]
    with pytest.raises(ValueError, match="no training block.*min_history_days"):
        build_training_table(short, stores, short["Date"].max() + pd.Timedelta(days=1), CONFIG)


def _flat_store(data):
    """Store 1 selling 1000 every open day, except 500 on carnival Monday 2014 (3 March:
    Easter Sunday 2014 was 20 April, 48 days later)."""
    sales, stores = data
    one = sales.loc[sales["Store"] == 1].copy()
    one["Sales"] = np.where(one["Open"] == 1, 1000, 0)
    carnival = one["Date"] == pd.Timestamp("2014-03-03")
    assert one.loc[carnival, "Open"].eq(1).all() and carnival.any()
    one.loc[carnival, "Sales"] = 500
    return one, stores


def test_the_easter_effect_is_the_stores_day_a_year_earlier_as_far_from_easter(data):
    """Carnival Monday 2015 (16 February, 48 days before Easter Sunday on 5 April) sees the
    store's dip on carnival Monday 2014 against the Mondays two and four weeks around it."""
    one, stores = _flat_store(data)
    origin = pd.Timestamp("2015-02-01")
    state = fit_state(one, stores, origin, CONFIG)
    days = ["2015-02-16", "2015-02-23", "2015-06-30", "2014-11-03"]
    request = pd.DataFrame(
        {
            "Store": 1,
            "Date": pd.to_datetime(days),
            "DayOfWeek": [1, 1, 2, 1],
            "Open": 1,
            "Promo": 0,
            "StateHoliday": "0",
            "SchoolHoliday": 0,
        }
    )

    effect = features_for_request(request, state)["easter_effect"].to_numpy()

    assert effect[0] == pytest.approx(np.log1p(500) - np.log1p(1000), abs=1e-6)
    assert effect[1] == pytest.approx(0.0, abs=1e-6)  # aligned with 10 March 2014: a usual day
    assert np.isnan(effect[2])  # 86 days after Easter: outside the window
    assert np.isnan(effect[3])  # 2013's aligned day: before the state's look-back


def test_a_days_effect_is_known_only_once_its_neighbours_precede_the_origin(data):
    one, stores = _flat_store(data)
    carnival = pd.Timestamp("2014-03-03")
    early = fit_state(one, stores, carnival + pd.Timedelta(days=28), CONFIG)
    later = fit_state(one, stores, carnival + pd.Timedelta(days=29), CONFIG)
    assert carnival not in set(early.easter_effects["Date"])
    assert carnival in set(later.easter_effects["Date"])
    # Without the setting (a model saved before the feature) there is no such column.
    assert "easter_effect" not in feature_names(FeatureConfig())
    assert feature_names(CONFIG)[-1] == "easter_effect"


def test_a_store_back_from_a_long_closure_takes_the_longest_windows_statistics(data):
    """Two days after six months closed are no level: the short windows fall back on the
    year's, so the store is forecast at its own level, not at a post-New-Year peak."""
    sales, stores = data
    rows = sales.loc[(sales["Store"] == REFURBISHED_STORE) & (sales["Date"] >= "2014-07-01")]
    reopened = rows["Date"].min()
    origin = reopened + pd.Timedelta(days=3)
    plain = fit_state(sales, stores, origin, replace(CONFIG, min_window_share=0.0))
    state = fit_state(sales, stores, origin, CONFIG)

    before, after = plain.store_stats, state.store_stats
    assert before.loc[REFURBISHED_STORE, "w28_days"] < 0.25 * 28
    assert before.loc[REFURBISHED_STORE, "w28_mean"] != before.loc[REFURBISHED_STORE, "w364_mean"]
    for window in ("w28", "w91"):
        for stat in ("mean", "std", "customers"):
            assert after.loc[REFURBISHED_STORE, f"{window}_{stat}"] == pytest.approx(
                after.loc[REFURBISHED_STORE, f"w364_{stat}"]
            )
        for group in ("dow", "promo", "dowpromo", "month"):
            filled = state.group_stats[f"{window}_{group}"].xs(REFURBISHED_STORE, level="Store")
            year = state.group_stats[f"w364_{group}"].xs(REFURBISHED_STORE, level="Store")
            np.testing.assert_array_equal(filled.to_numpy(), year.to_numpy())
    # The days actually there stay, so the boosters see how thin the window was.
    assert after.loc[REFURBISHED_STORE, "w28_days"] == before.loc[REFURBISHED_STORE, "w28_days"]
    assert after.loc[REFURBISHED_STORE, "trend"] == 0.0
    assert np.isnan(after.loc[REFURBISHED_STORE, "yoy"])
    # Stores with enough days in every window keep their own statistics.
    full = (before["w28_days"] >= 0.25 * 28) & (before["w91_days"] >= 0.25 * 91)
    assert full.sum() >= len(before) - 2
    pd.testing.assert_frame_equal(after.loc[full], before.loc[full])


def test_a_saved_state_gives_the_same_features(data, tmp_path):
    sales, stores = data
    origin = sales["Date"].max() - pd.Timedelta(days=41)
    state = fit_state(sales, stores, origin, CONFIG)
    assert len(state.easter_effects) > 0
    request = sales.loc[sales["Date"] >= origin].drop(columns=["Sales", "Customers"])

    save_state(state, tmp_path / "state")
    loaded = load_state(tmp_path / "state")

    pd.testing.assert_frame_equal(
        features_for_request(request, loaded), features_for_request(request, state)
    )


def test_group_means_equal_pandas_grouping_on_the_columns():
    """The statistics group on one packed label per row: the same means, to the last bit, and
    the same index (level values, dtypes, order) as grouping on the key columns."""
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame(
        {
            "Store": rng.choice([3, 17, 250, 1115], n).astype("int64"),
            "DayOfWeek": rng.integers(1, 8, n).astype("int64"),
            "Promo": rng.integers(0, 2, n).astype("int64"),
            "Month": rng.integers(1, 13, n).astype("int32"),
            "log_sales": rng.normal(8.7, 0.3, n),
        }
    )
    for keys in _GROUP_KEYS.values():
        expected = frame.groupby(keys)["log_sales"].mean()
        got = _group_means(frame, keys)
        pd.testing.assert_series_equal(got, expected, check_exact=True)
        for level, key in zip(got.index.levels, keys, strict=True):
            assert level.dtype == frame[key].dtype
    # A code that does not fit its 4 bits would mix groups: refused, not packed.
    with pytest.raises(ValueError, match="Month must lie in"):
        _group_means(frame.assign(Month=frame["Month"] + 10), ["Store", "Month"])
