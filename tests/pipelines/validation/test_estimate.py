"""The gate's estimate of the next weeks: when the forecast's weeks are another season.

The windows a year earlier are built from a constructed history whose median baseline misses
by known amounts, so the ratio of the two is known: 1,000 a day before each window, and in the
window a level the baseline (1,000) misses by ``1 - 1000 / level``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.pipelines.validation.estimate import (
    HOLDOUT_SEASON,
    SEASON,
    check_estimate_settings,
    configured_method,
    estimate_from_windows,
    estimate_range,
    estimate_windows,
    season_change,
    store_spread,
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
        kwargs.get("exponent"),
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


def test_the_tempered_ratio_carries_the_holdout_by_the_baselines_ratio_to_a_power():
    # 2.2x as hard for the baseline (see above); the model's figure moves by 2.2 ** 0.25.
    harder = _estimate(1250.0, factor=1.6, method="tempered_baseline_ratio", exponent=0.25)

    assert harder["method"] == "tempered_baseline_ratio"
    assert harder["rmspe"] == pytest.approx(0.05 * 2.2**0.25)
    # The median baseline's own estimate, made the same way: its holdout miss times 2.2 ** 0.25.
    holdout = next(w for w in harder["windows"] if w["name"] == "holdout")
    assert harder["baseline_rmspe"] == pytest.approx(holdout["baseline_rmspe"] * 2.2**0.25)
    assert harder["alternatives"]["tempered_baseline_ratio"] == harder["rmspe"]
    assert harder["alternatives"]["damped_baseline_ratio"] == pytest.approx(0.05 * 2.2**0.5)
    assert "carries the holdout into it by tempered_baseline_ratio" in harder["note"]
    # Within the factor it is still the holdout alone, and an easier season lowers the figure.
    same = _estimate(1150.0, factor=1.6, method="tempered_baseline_ratio", exponent=0.25)
    easier = _estimate(1020.0, factor=1.6, method="tempered_baseline_ratio", exponent=0.25)
    assert same["method"] == "holdout" and same["rmspe"] == pytest.approx(0.05)
    assert easier["rmspe"] < 0.05
    assert easier["rmspe"] == pytest.approx(0.05 * easier["season_change"]["ratio"] ** 0.25)


def test_the_tempered_ratio_spans_the_holdout_alone_and_the_baselines_ratio():
    windows = [
        {"name": "holdout", "rows": 10, "rmspe": 0.08, "baseline_rmspe": 0.12},
        {"name": SEASON, "rows": 10, "rmspe": 0.20, "baseline_rmspe": 0.30},
        {"name": HOLDOUT_SEASON, "rows": 10, "rmspe": 0.10, "baseline_rmspe": 0.12},
    ]

    def tempered(exponent):
        return estimate_from_windows("tempered_baseline_ratio", windows, exponent=exponent)

    assert tempered(0.25) == pytest.approx(0.08 * 2.5**0.25)
    assert tempered(0.5) == pytest.approx(estimate_from_windows("damped_baseline_ratio", windows))
    assert tempered(1) == pytest.approx(estimate_from_windows("baseline_ratio", windows))
    with pytest.raises(ValueError, match="needs validation.baseline_ratio_exponent"):
        tempered(None)


@pytest.mark.parametrize("exponent", [0, -0.25, 1.5, True, "0.25", float("nan")])
def test_an_exponent_outside_zero_to_one_is_refused_naming_the_parameter(exponent):
    settings = {"estimate": "tempered_baseline_ratio", "baseline_ratio_exponent": exponent}

    with pytest.raises(ValueError, match="Parameter validation.baseline_ratio_exponent must be"):
        check_estimate_settings(settings)


@pytest.mark.parametrize("name", ["estimate", "estimate_fallback"])
def test_the_tempered_ratio_without_an_exponent_is_refused_naming_both_parameters(name):
    with pytest.raises(ValueError) as raised:
        check_estimate_settings({name: "tempered_baseline_ratio"})

    assert f"Parameter validation.{name} is tempered_baseline_ratio" in str(raised.value)
    assert "validation.baseline_ratio_exponent" in str(raised.value)


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


def _store_errors(errors: dict[int, list[float]]) -> pd.DataFrame:
    """Holdout rows whose forecasts miss each store's sales (1,000) by the given fractions."""
    return pd.DataFrame(
        [{"Store": s, "Sales": 1000.0, "prediction": 1000.0 * (1 + e)}
         for s, misses in errors.items() for e in misses]
    )  # fmt: skip


def test_the_store_spread_is_nil_when_every_store_misses_alike_and_large_when_one_carries_it():
    alike = store_spread(_store_errors({s: [0.1, -0.1] for s in range(1, 11)}))
    assert alike == {"stores": 10, "spread": pytest.approx(0.0, abs=1e-12)}

    # One store of ten carries all the error: a draw of ten stores holds it about once, give
    # or take one (binomial: sd 0.95), so MSPE's relative error is about 1 and RMSPE's half.
    # m = 0.08 / 20; a = (0.08, 0, ..., 0), n = 2 each: the delta method's variance is
    # 10/9 * ((0.08 - 2m)^2 + 9 (2m)^2) / 20^2, and RMSPE's relative error is half of its sd / m.
    one = store_spread(_store_errors({1: [0.2, -0.2], **{s: [0.0, 0.0] for s in range(2, 11)}}))
    m = 0.08 / 20
    expected = 0.5 * np.sqrt(10 / 9 * ((0.08 - 2 * m) ** 2 + 9 * (2 * m) ** 2) / 400) / m
    assert one == {"stores": 10, "spread": pytest.approx(expected)}
    assert one["spread"] == pytest.approx(0.5, rel=1e-9)

    # Days without sales do not count; one store or no error gives no spread.
    closed = pd.concat([_store_errors({1: [0.1], 2: [0.3]}), pd.DataFrame(
        [{"Store": 3, "Sales": 0.0, "prediction": 50.0}])], ignore_index=True)  # fmt: skip
    assert store_spread(closed)["stores"] == 2
    assert np.isnan(store_spread(_store_errors({1: [0.1, 0.2]}))["spread"])
    assert np.isnan(store_spread(_store_errors({1: [0.0], 2: [0.0]}))["spread"])


def test_the_store_spread_agrees_with_resampling_the_stores():
    rng = np.random.default_rng(7)
    # 60 stores, 30 days each, errors whose size differs by store (a few stores much worse).
    scale = rng.lognormal(-2.5, 0.8, 60)
    frame = _store_errors({s + 1: list(rng.normal(0, scale[s], 30)) for s in range(60)})
    spread = store_spread(frame)["spread"]

    squares = ((frame["Sales"] - frame["prediction"]) / frame["Sales"]) ** 2
    a = squares.groupby(frame["Store"]).sum().to_numpy()
    draws = rng.integers(0, 60, (4000, 60))
    figures = np.sqrt(a[draws].sum(axis=1) / (30 * 60))
    assert spread == pytest.approx(figures.std() / figures.mean(), rel=0.1)


def test_the_likely_range_widens_for_fewer_stores_than_the_factors_were_measured_on():
    setting = {"reference": 82, "z": 1.28}
    spread = {"stores": 41, "spread": 0.2}
    likely = estimate_range(0.10, [0.8, 1.2], spread, setting)

    extra = (1.28 * 0.2) ** 2 * (1 - 41 / 82)  # the spread at 41 stores less its share at 82
    low = np.exp(-np.sqrt(np.log(0.8) ** 2 + extra))
    high = np.exp(np.sqrt(np.log(1.2) ** 2 + extra))
    assert (likely["low"], likely["high"]) == pytest.approx((0.10 * low, 0.10 * high))
    assert likely["low"] < 0.08 and likely["high"] > 0.12
    assert likely["factors"] == [0.8, 1.2]
    assert likely["widened_factors"] == pytest.approx([low, high])
    assert (likely["stores"], likely["reference_stores"]) == (41, 82)
    assert likely["store_spread"] == 0.2

    # As many stores as the reference, or more, or no spread: the factors as measured.
    for stores in (82, 1115):
        same = estimate_range(0.10, [0.8, 1.2], {"stores": stores, "spread": 0.2}, setting)
        assert (same["low"], same["high"]) == pytest.approx((0.08, 0.12))
        assert same["widened_factors"] == [0.8, 1.2]  # recorded, unwidened
        assert (same["stores"], same["store_spread"]) == (stores, 0.2)
    nan = estimate_range(0.10, [0.8, 1.2], {"stores": 1, "spread": float("nan")}, setting)
    assert (nan["low"], nan["high"]) == pytest.approx((0.08, 0.12)) and "stores" not in nan
    off = estimate_range(0.10, [0.8, 1.2], spread, None)
    assert (off["low"], off["high"]) == pytest.approx((0.08, 0.12))
    # Fewer stores, wider; the low end never reaches zero.
    few = estimate_range(0.10, [0.8, 1.2], {"stores": 5, "spread": 3.0}, setting)
    assert 0 < few["low"] < likely["low"] and few["high"] > likely["high"]


@pytest.mark.parametrize(
    "setting",
    [{"reference": 1, "z": 1.28}, {"reference": 82.5, "z": 1.28}, {"reference": 82, "z": 0},
     {"reference": 82, "z": "1"}, {"reference": 82}, [82, 1.28], {"reference": True, "z": 1}],
)  # fmt: skip
def test_a_bad_store_widening_is_refused_naming_the_parameter(setting):
    with pytest.raises(ValueError, match=r"validation\.estimate_range_stores"):
        check_estimate_settings({"estimate_range_stores": setting})


@pytest.mark.parametrize(
    "factors", [[1.2, 0.8], [0.9, 0.95], [1.05, 1.2], [0, 1.2], [0.8], "0.8,1.2", [0.8, True]]
)
def test_a_range_that_does_not_hold_the_estimate_is_refused_naming_the_parameter(factors):
    with pytest.raises(ValueError, match=r"validation\.estimate_range must"):
        check_estimate_settings({"estimate_range": factors})
