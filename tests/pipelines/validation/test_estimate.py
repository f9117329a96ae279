"""The gate's estimate of the next weeks: when the forecast's weeks are another season.

The windows a year earlier are built from a constructed history whose median baseline misses
by known amounts, so the ratio of the two is known: 1,000 a day before each window, and in the
window a level the baseline (1,000) misses by ``1 - 1000 / level``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from rossmann_forecast.pipelines.validation.estimate import (
    HOLDOUT_SEASON,
    SEASON,
    check_estimate_settings,
    configured_method,
    estimate_range,
    estimate_windows,
    season_change,
)
from rossmann_forecast.registry.stages import GATE_METRIC

HOLDOUT_WINDOW = ("2015-03-01", 1100.0)  # the baseline misses by 1 - 1000/1100 = 0.0909
BLOCK_DAYS = 14


def _history(season_level: float) -> pd.DataFrame:
    """Two stores, every day of 2015 H1: 1,000 a day, the two windows at their levels."""
    dates = pd.date_range("2015-01-01", "2015-06-30")
    level = pd.Series(1000.0, index=dates)
    for start, sales in (HOLDOUT_WINDOW, ("2015-04-01", season_level)):
        level[pd.Timestamp(start) : pd.Timestamp(start) + pd.Timedelta(days=BLOCK_DAYS - 1)] = sales
    return pd.DataFrame(
        [
            {"Store": s, "DayOfWeek": d.day_of_week + 1, "Date": d, "Sales": level[d],
             "Open": 1, "Promo": 0}
            for s in (1, 2)
            for d in dates
        ]
    )  # fmt: skip


def _holdout() -> pd.DataFrame:
    dates = pd.date_range("2015-07-01", periods=BLOCK_DAYS)
    return pd.DataFrame(
        [
            {"Store": s, "DayOfWeek": d.day_of_week + 1, "Date": d, "Sales": 1050.0,
             "Open": 1, "Promo": 0}
            for s in (1, 2)
            for d in dates
        ]
    )  # fmt: skip


YEAR_EARLIER = {
    "found": True, "why": None, "learnt": True, "training_start": "2013-01-01",
    "season": {"found": True, "fold": "fold2", "origin": "2015-04-01", "rmspe": 0.15,
               "rows": 28},
    "holdout_season": {"found": True, "fold": "fold1", "origin": HOLDOUT_WINDOW[0],
                       "rmspe": 0.06, "rows": 28},
}  # fmt: skip


def _estimate(season_level: float, factor: float | None, year_earlier=YEAR_EARLIER, **kwargs):
    return estimate_windows(
        {GATE_METRIC: 0.05}, _holdout(), _history(season_level), year_earlier, BLOCK_DAYS,
        kwargs.get("method", "pooled"), kwargs.get("fallback", "damped_baseline_ratio"), factor,
    )  # fmt: skip


def test_weeks_about_as_hard_as_the_holdouts_are_estimated_by_the_holdout_alone():
    # The baseline misses the forecast's weeks by 1 - 1000/1150 = 0.1304: 1.43x the holdout's.
    same = _estimate(1150.0, factor=1.6)

    assert same["season_change"]["ratio"] == pytest.approx((1 - 1000 / 1150) / (1 - 1000 / 1100))
    assert same["season_change"]["changes"] is False
    assert same["method"] == "holdout"
    assert same["rmspe"] == pytest.approx(0.05)
    assert "1.43 times as hard" in same["note"] and "the same season" in same["note"]
    assert same["alternatives"]["pooled"] > 0.1  # what the pooled estimate would have said
    assert same["unlearnt_season"] is None


def test_another_season_ahead_is_carried_into_the_estimate():
    # 1 - 1000/1250 = 0.2: 2.2x as hard as the holdout's weeks, beyond 1.6.
    harder = _estimate(1250.0, factor=1.6)
    # Pooled: 28 holdout rows at 0.05 and 28 season rows at 0.15.
    pooled = ((28 * 0.05**2 + 28 * 0.15**2) / 56) ** 0.5

    assert harder["season_change"]["ratio"] == pytest.approx(2.2)
    assert harder["season_change"]["changes"] is True
    assert harder["method"] == "pooled"
    assert harder["rmspe"] == pytest.approx(pooled)
    assert (
        "another season, so the estimate carries the holdout into it by pooled" in (harder["note"])
    )


def test_an_easier_season_ahead_counts_as_a_change_too():
    # 1 - 1000/1020 = 0.0196: 0.22x the holdout's weeks, beyond 1 / 1.6.
    easier = _estimate(1020.0, factor=1.6)

    assert easier["season_change"]["ratio"] < 1 / 1.6
    assert easier["method"] == "pooled"


def test_without_a_factor_the_configured_method_always_applies():
    never = _estimate(1150.0, factor=None)

    assert never["season_change"] is None and never["note"] is None
    assert never["method"] == "pooled"


def test_an_unlearnt_season_fold_gives_way_to_the_fallback_only_when_the_season_changes():
    unlearnt = {**YEAR_EARLIER, "learnt": False, "training_start": "2014-06-01"}

    changed = _estimate(1250.0, factor=1.6, year_earlier=unlearnt)
    same = _estimate(1150.0, factor=1.6, year_earlier=unlearnt)

    assert changed["method"] == "damped_baseline_ratio"
    assert "trained from 2014-06-01, less than a year before it" in changed["unlearnt_season"]
    assert same["method"] == "holdout" and same["unlearnt_season"] is None


def test_the_rule_reads_recorded_windows_as_the_rolling_benchmark_gives_them():
    windows = [
        {"name": "holdout", "rows": 10, "rmspe": 0.08, "baseline_rmspe": 0.12},
        {"name": SEASON, "rows": 10, "rmspe": 0.20, "baseline_rmspe": 0.30},
        {"name": HOLDOUT_SEASON, "rows": 10, "rmspe": 0.10, "baseline_rmspe": 0.12},
    ]

    assert season_change(windows, 1.6) == {"ratio": 2.5, "factor": 1.6, "changes": True}
    assert configured_method(windows, "pooled", "holdout", False, 1.6)[0] == "pooled"
    assert configured_method(windows, "pooled", "holdout", False, 3.0)[0] == "holdout"
    assert configured_method(windows, "pooled", "damped_baseline_ratio", True, 1.6)[0] == (
        "damped_baseline_ratio"
    )
    no_yardstick = [*windows[:2], {**windows[2], "baseline_rmspe": float("nan")}]
    assert season_change(no_yardstick, 1.6) is None
    assert configured_method(no_yardstick, "pooled", "holdout", False, 1.6)[0] == "pooled"


@pytest.mark.parametrize("factor", [1.0, 0.5, -2, "2", True])
def test_a_factor_that_is_not_above_one_is_refused_naming_the_parameter(factor):
    with pytest.raises(ValueError, match=r"validation\.season_change_factor must be a number"):
        _estimate(1150.0, factor=factor)


def test_the_likely_range_is_the_estimate_times_each_factor():
    likely = estimate_range(0.10, [0.8, 1.2])
    assert (likely["low"], likely["high"]) == pytest.approx((0.08, 0.12))
    assert likely["factors"] == [0.8, 1.2]
    assert estimate_range(0.10, None) is None  # conf may turn it off
    assert estimate_range(float("nan"), [0.8, 1.2]) is None  # no figure, no range


@pytest.mark.parametrize(
    "factors", [[1.2, 0.8], [0.9, 0.95], [1.05, 1.2], [0, 1.2], [0.8], "0.8,1.2", [0.8, True]]
)
def test_a_range_that_does_not_hold_the_estimate_is_refused_naming_the_parameter(factors):
    with pytest.raises(ValueError, match=r"validation\.estimate_range must"):
        check_estimate_settings({"estimate_range": factors})
