"""The forecast quantiles' calibration, application and scores on constructed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.model.intervals import (
    apply_calibration,
    check_day_classes,
    check_levels,
    column_level,
    day_classes,
    fit_calibration,
    interval_scores,
    naive_quantiles,
    quantile_column,
    weighted_quantile_loss,
)

LEVELS = [0.1, 0.5, 0.9]


@pytest.mark.parametrize(
    ("levels", "says"),
    [
        ([0.9, 0.5, 0.1], "strictly increasing"),
        ([0.1, 0.5, 0.5, 0.9], "strictly increasing"),
        ([0.0, 0.5, 0.9], "strictly between 0 and 1: [0.0]"),
        ([0.1, 0.5, 1.5], "strictly between 0 and 1: [1.5]"),
        ([0.1, 0.9], "must include 0.5"),
        ([], "must be a list"),
        ("0.1,0.5", "must be a list"),
        (["low", 0.5], "must hold numbers"),
    ],
)
def test_bad_levels_are_refused_naming_the_parameter(levels, says):
    with pytest.raises(ValueError, match="training.quantiles.levels") as raised:
        check_levels(levels)
    assert says in str(raised.value)


def test_columns_are_named_by_their_level_and_back():
    assert [quantile_column(q) for q in (0.1, 0.5, 0.9, 0.025)] == [
        "Sales_p10", "Sales_p50", "Sales_p90", "Sales_p2.5",
    ]  # fmt: skip
    assert column_level("Sales_p2.5") == pytest.approx(0.025)
    assert check_levels([0.05, 0.5, 0.95]) == [0.05, 0.5, 0.95]


def _residual_frame(rng: np.random.Generator, spread_by_week: dict[int, float]) -> pd.DataFrame:
    """Out-of-fold rows whose log ratio actual/forecast is normal with a known spread per week,
    store 1 of type a, store 2 of type b (b twice as spread)."""
    parts = []
    for week, spread in spread_by_week.items():
        for store, factor in ((1, 1.0), (2, 2.0)):
            n = 4000
            ratio = rng.normal(0.0, spread * factor, n)
            parts.append(
                pd.DataFrame(
                    {
                        "Store": store,
                        "Sales": 1000.0 * np.exp(ratio),
                        "forecast": 1000.0,
                        "days_ahead": rng.integers((week - 1) * 7, week * 7, n),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def test_calibration_widens_with_the_horizon_and_by_store_group():
    rng = np.random.default_rng(0)
    frame = _residual_frame(rng, {1: 0.05, 2: 0.10})
    calibration = fit_calibration(frame, {1: "a", 2: "b"}, LEVELS, min_rows=100)

    a1, a2 = calibration["offsets"]["a"]["1"], calibration["offsets"]["a"]["2"]
    b1 = calibration["offsets"]["b"]["1"]
    # P90 of a normal is 1.2816 sigma; the empirical quantile is within a few percent.
    assert a1[2] == pytest.approx(1.2816 * 0.05, rel=0.08)
    assert a2[2] == pytest.approx(1.2816 * 0.10, rel=0.08)
    assert b1[2] == pytest.approx(1.2816 * 0.10, rel=0.08)
    assert a1[1] == pytest.approx(0.0, abs=0.005)

    # Fresh draws from the same law are covered ~80% by the calibrated interval, per week.
    fresh = _residual_frame(rng, {1: 0.05, 2: 0.10})
    bands = apply_calibration(
        calibration,
        fresh["Store"].to_numpy(),
        fresh["days_ahead"].to_numpy(),
        fresh["forecast"].to_numpy(),
    )
    scores = interval_scores(
        fresh["Sales"].to_numpy(), bands, LEVELS, fresh["days_ahead"].to_numpy()
    )
    assert scores["interval_coverage"] == pytest.approx(0.8, abs=0.02)
    assert scores["interval_coverage_week1"] == pytest.approx(0.8, abs=0.02)
    assert scores["interval_coverage_week2"] == pytest.approx(0.8, abs=0.02)


def test_a_thin_group_uses_the_pooled_offsets_and_an_unknown_store_too():
    rng = np.random.default_rng(1)
    frame = _residual_frame(rng, {1: 0.05})
    thin = pd.concat([frame, frame.head(10).assign(Store=3)], ignore_index=True)
    calibration = fit_calibration(thin, {1: "a", 2: "b", 3: "c"}, LEVELS, min_rows=100)

    assert calibration["rows"]["c"]["1"] == 10
    assert calibration["offsets"]["c"]["1"] == calibration["offsets"]["all"]["1"]
    bands = apply_calibration(calibration, np.array([3, 99]), np.array([0, 0]), np.full(2, 100.0))
    expected = 100.0 * np.exp(calibration["offsets"]["all"]["1"])
    assert bands == pytest.approx(np.vstack([expected, expected]))


def test_bands_are_monotone_zero_when_closed_and_extend_past_the_last_week():
    rng = np.random.default_rng(2)
    calibration = fit_calibration(
        _residual_frame(rng, {1: 0.05, 2: 0.1}), {1: "a", 2: "b"}, LEVELS, min_rows=100
    )
    stores = rng.integers(1, 3, 500)
    days = rng.integers(0, 60, 500)  # weeks 3..9 are past the two calibrated weeks
    point = np.where(rng.random(500) < 0.1, 0.0, rng.uniform(100, 20000, 500))
    bands = apply_calibration(calibration, stores, days, point)

    assert np.all(np.diff(bands, axis=1) >= 0)
    assert np.all(bands[point == 0] == 0)
    late = days >= 14
    week2 = apply_calibration(calibration, stores[late], np.full(late.sum(), 13), point[late])
    assert bands[late] == pytest.approx(week2)


DAY_CLASSES = {"holiday_window_days": 3}


def test_day_classes_read_the_holiday_counters():
    features = pd.DataFrame(
        {
            # A holiday 3 days ago; the holiday itself; tomorrow; an ordinary day; 4 days ahead.
            "days_since_holiday": [3, 0, 30, 30, 30],
            "days_until_holiday": [30, 0, 1, 30, 4],
        }
    )
    classes = day_classes(features, check_day_classes(DAY_CLASSES))

    assert list(classes) == ["holiday", "holiday", "holiday", "ordinary", "ordinary"]
    assert set(day_classes(features, None)) == {"ordinary"}


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ("3", "must be null or {holiday_window_days: N}"),
        ({"holiday_window": 3}, "must be null or {holiday_window_days: N}"),
        ({"holiday_window_days": -1}, "holiday_window_days must be an integer >= 0"),
        ({"holiday_window_days": 2.5}, "holiday_window_days must be an integer >= 0"),
        ({"holiday_window_days": True}, "holiday_window_days must be an integer >= 0"),
    ],
)
def test_bad_day_classes_are_refused_naming_the_parameter(settings, says):
    with pytest.raises(ValueError, match="training.quantiles.day_classes") as raised:
        check_day_classes(settings)
    assert says in str(raised.value)


def test_days_around_holidays_get_their_own_band_and_ordinary_days_a_narrower_one():
    """Ordinary days' log ratios spread 0.05, the days around holidays' 0.20 (a fifth of the
    rows): one band for all under-covers the holidays and over-covers the rest; by day class
    each is covered ~80%."""
    rng = np.random.default_rng(3)

    def rows(n: int) -> pd.DataFrame:
        holiday = rng.random(n) < 0.2
        ratio = rng.normal(0.0, np.where(holiday, 0.20, 0.05))
        return pd.DataFrame({"Store": rng.integers(1, 3, n), "Sales": 1000.0 * np.exp(ratio),
                             "forecast": 1000.0, "days_ahead": rng.integers(0, 14, n),
                             "day_class": np.where(holiday, "holiday", "ordinary")})  # fmt: skip

    calibration_rows, fresh = rows(20000), rows(20000)
    groups = {1: "a", 2: "b"}
    alike = fit_calibration(calibration_rows, groups, LEVELS, min_rows=100)
    by_class = fit_calibration(
        calibration_rows, groups, LEVELS, min_rows=100, day_class_settings=DAY_CLASSES
    )
    assert by_class["day_classes"] == DAY_CLASSES and alike["day_classes"] is None
    assert by_class["offsets"]["day:holiday"]["1"][2] == pytest.approx(1.2816 * 0.2, rel=0.1)
    assert by_class["offsets"]["a"]["1"][2] == pytest.approx(1.2816 * 0.05, rel=0.1)
    # Too few holiday rows in a week: those of every week; fewer than that: all rows'.
    few = calibration_rows.loc[~(calibration_rows["day_class"] == "holiday") | (
        calibration_rows["days_ahead"] < 7)].head(15000)  # fmt: skip
    thin = fit_calibration(few, groups, LEVELS, min_rows=100, day_class_settings=DAY_CLASSES)
    assert thin["rows"]["day:holiday"]["2"] == 0
    assert thin["offsets"]["day:holiday"]["2"] == thin["offsets"]["day:holiday"]["1"]
    none = fit_calibration(
        few.assign(day_class="ordinary"), groups, LEVELS, 100, day_class_settings=DAY_CLASSES
    )
    assert none["offsets"]["day:holiday"]["1"] == none["offsets"]["all"]["1"]

    args = (fresh["Store"].to_numpy(), fresh["days_ahead"].to_numpy(), fresh["forecast"].to_numpy())
    holiday = (fresh["day_class"] == "holiday").to_numpy()
    classes = fresh["day_class"].to_numpy()
    covered = {}
    for name, calibration in (("alike", alike), ("by_class", by_class)):
        bands = apply_calibration(calibration, *args, classes)
        inside = (fresh["Sales"] >= bands[:, 0]) & (fresh["Sales"] <= bands[:, 2])
        covered[name] = (inside[holiday].mean(), inside[~holiday].mean())
    assert covered["alike"][0] < 0.6 and covered["alike"][1] > 0.9
    assert covered["by_class"][0] == pytest.approx(0.8, abs=0.03)
    assert covered["by_class"][1] == pytest.approx(0.8, abs=0.03)
    # Without each row's class (or a calibration made before them), every day is ordinary.
    assert apply_calibration(by_class, *args) == pytest.approx(
        apply_calibration(by_class, *args, np.full(len(fresh), "ordinary"))
    )


def test_scores_on_a_constructed_case():
    actual = np.array([100.0, 100.0, 100.0, 100.0, 0.0])
    # Rows 1-2 inside [90, 110]; row 3 below, row 4 above; row 5 closed (not scored).
    quantiles = np.array(
        [[90, 100, 110], [95, 100, 105], [101, 110, 120], [80, 90, 99], [0, 0, 0]], dtype=float
    )
    scores = interval_scores(actual, quantiles, LEVELS, np.array([0, 7, 7, 14, 14]))

    assert scores["interval_coverage"] == 0.5
    assert scores["interval_coverage_week1"] == 1.0
    assert scores["interval_coverage_week2"] == 0.5
    assert scores["interval_coverage_week3"] == 0.0
    assert scores["interval_width"] == pytest.approx(np.mean([0.2, 0.1, 19 / 110, 19 / 90]))
    # Pinball by hand: P10 row 3 (y < q): 0.9 x 1; P90 row 4 (y > q): 0.9 x 1; ...
    by_hand = []
    for column, level in enumerate(LEVELS):
        error = actual[:4] - quantiles[:4, column]
        by_hand.append(2 * np.sum(np.maximum(level * error, (level - 1) * error)) / 400)
    assert scores["quantile_loss"] == pytest.approx(np.mean(by_hand))
    assert weighted_quantile_loss(actual[:4], quantiles[:4], LEVELS) == scores["quantile_loss"]


def test_the_naive_interval_is_each_stores_quantiles_by_weekday_and_promo():
    history = pd.DataFrame(
        {
            "Store": [1] * 10 + [1] * 5,
            "DayOfWeek": [1] * 10 + [2] * 5,
            "Promo": [0] * 10 + [1] * 5,
            "Sales": [*range(100, 1100, 100), 0, 50, 60, 70, 80],
        }
    )
    rows = pd.DataFrame(
        {"Store": [1, 1, 1], "DayOfWeek": [1, 3, 1], "Promo": [0, 0, 0], "Open": [1, 1, 0]}
    )
    bands = naive_quantiles(history, rows, LEVELS)

    assert bands[0] == pytest.approx(np.quantile(np.arange(100, 1100, 100), LEVELS))
    # No Wednesday without promo in the history: the store's quantiles over its days with sales.
    sold = [*range(100, 1100, 100), 50, 60, 70, 80]
    assert bands[1] == pytest.approx(np.quantile(sold, LEVELS))
    assert bands[2] == pytest.approx([0, 0, 0])


def test_the_fold_shift_widens_the_band_by_half_the_range_of_the_folds_levels():
    rng = np.random.default_rng(3)
    # Two folds with the same spread, one forecast 4% low on the whole, one 4% high.
    folds = [
        _residual_frame(rng, {1: 0.05}).assign(fold=fold, Sales=lambda f, s=shift: f["Sales"] * s)
        for fold, shift in ((1, np.exp(0.04)), (2, np.exp(-0.04)))
    ]
    frame = pd.concat(folds, ignore_index=True)
    plain = fit_calibration(frame, {1: "a", 2: "b"}, LEVELS, min_rows=100)
    shifted = fit_calibration(frame, {1: "a", 2: "b"}, LEVELS, min_rows=100, fold_shift=True)

    assert shifted["fold_shift"]["1"] == pytest.approx(0.04, abs=0.005)
    low, mid, high = np.subtract(shifted["offsets"]["a"]["1"], plain["offsets"]["a"]["1"])
    assert low == pytest.approx(-shifted["fold_shift"]["1"])
    assert high == pytest.approx(shifted["fold_shift"]["1"])
    assert mid == 0.0
    assert "widened by the folds' level shifts" in shifted["method"]
    assert plain["fold_shift"] == {}
