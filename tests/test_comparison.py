"""Two versions' forecasts compared with the stores resampled: when, and what it says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.comparison import (
    resampled_comparison,
    resampled_text,
    store_check,
    store_comparison,
)

SETTINGS = {"confidence": 0.95, "resamples": 500, "min_stores": 20, "seed": 0}


def _forecasts(stores: int, off: float) -> pd.DataFrame:
    """``stores`` stores over 6 days, forecast ``off`` high and low on alternate days."""
    rows = pd.DataFrame(
        [(s, d, 1000.0 + s) for s in range(1, stores + 1) for d in pd.date_range("2015-07-01", periods=6)],
        columns=["Store", "Date", "Sales"],
    )  # fmt: skip
    alternate = np.where(np.arange(len(rows)) % 2 == 0, 1.0, -1.0)
    return rows.assign(prediction=rows["Sales"] * (1 + off * alternate))


def _compare(candidate, reference, settings=SETTINGS, **options):
    return resampled_comparison(
        candidate, reference, settings, **({"rescaled": False, "tolerance": 0.02} | options)
    )


def test_the_forecasts_are_compared_on_the_same_store_days_in_any_order():
    candidate, reference = _forecasts(30, 0.06), _forecasts(30, 0.05)

    result = _compare(candidate, reference.sample(frac=1.0, random_state=1))

    assert result["ratio"] == pytest.approx(1.2) and result["worse"]
    assert result["stores"] == 30
    assert resampled_text(result).startswith("+20.0%, 90% sure ")
    assert resampled_text(result).endswith(" over 30 stores resampled")


def test_no_resampling_without_settings_too_few_stores_or_a_forecast_with_holes():
    reference = _forecasts(30, 0.05)
    holed = _forecasts(30, 0.06)
    holed.loc[4, "prediction"] = np.nan

    assert _compare(_forecasts(30, 0.06), reference, settings=None) is None
    assert _compare(_forecasts(19, 0.06), _forecasts(19, 0.05)) is None  # < min_stores
    assert _compare(holed, reference) is None
    assert resampled_text(None) == ""


def test_bad_settings_are_refused_naming_the_parameter_they_came_from():
    with pytest.raises(ValueError, match=r"Parameter review\.bootstrap\.seed must be a whole"):
        _compare(_forecasts(30, 0.06), _forecasts(30, 0.05), {**SETTINGS, "seed": -1},
                 parameter="review.bootstrap")  # fmt: skip


def test_each_stores_rmspe_is_scored_on_its_days_with_sales_the_biggest_loss_first():
    candidate = _forecasts(3, 0.05)
    reference = _forecasts(3, 0.05)
    store_2 = candidate["Store"] == 2
    candidate.loc[store_2, "prediction"] = candidate.loc[store_2, "Sales"] * 1.2
    candidate.loc[candidate.index[0], "Sales"] = 0.0  # a closed day of store 1: not scored

    table = store_comparison(candidate, reference.sample(frac=1, random_state=0), min_days=6)

    assert table["Store"].tolist() == [2, 3]  # store 1 has 5 days with sales, fewer than 6
    assert table["days"].tolist() == [6, 6]
    np.testing.assert_allclose(table["rmspe"], [0.2, 0.05])
    np.testing.assert_allclose(table["rmspe_reference"], [0.05, 0.05])
    np.testing.assert_allclose(table["increase"], [0.15, 0.0], atol=1e-12)
    assert store_comparison(candidate, reference, min_days=5)["Store"].tolist() == [2, 1, 3]


def test_stores_forecast_alike_tie_and_are_listed_by_store():
    """A refit of unchanged code forecasts as Production does, up to float noise: the
    worst store named must not change from run to run with that noise."""
    reference = _forecasts(5, 0.05)
    candidate = reference.copy()
    noise = np.array([3e-16, -2e-16, 5e-16, 0.0, -4e-16])
    candidate["prediction"] *= 1 + np.repeat(noise, 6)

    table = store_comparison(candidate, reference, min_days=6)

    assert table["Store"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(table["increase"], 0.0, atol=1e-12)


def test_rescaled_each_version_is_scored_at_its_own_level_over_all_stores():
    """A forecast 10% above another on every store is not worse store by store rescaled (two
    versions' blends differ in scale by a few percent at a seasonal origin), while one store
    forecast far off its own level still is: one scale serves all the stores."""
    reference = _forecasts(30, 0.05)
    level = reference.assign(prediction=reference["prediction"] * 1.10)

    as_is = store_comparison(level, reference, min_days=6)
    rescaled = store_comparison(level, reference, min_days=6, rescaled=True)

    assert (as_is["increase"] > 0.05).all() and as_is.attrs["scale"] == 1.0
    np.testing.assert_allclose(rescaled["increase"], 0.0, atol=1e-12)
    assert rescaled.attrs["scale"] * 1.10 == pytest.approx(rescaled.attrs["scale_reference"])
    assert rescaled.attrs["scale_reference"] == pytest.approx(1 / (1 + 0.05**2))

    broken = level.copy()
    broken.loc[broken["Store"] == 7, "prediction"] *= 2.0
    table = store_comparison(broken, reference, min_days=6, rescaled=True)
    assert table["Store"].iloc[0] == 7 and table["increase"].iloc[0] > 0.8
    assert (table["increase"].iloc[1:].abs() < 0.05).all()


def test_rescaled_a_store_with_holes_still_comes_first_and_the_others_are_scored():
    candidate, reference = _forecasts(3, 0.05), _forecasts(3, 0.05)
    candidate.loc[candidate["Store"] == 3, "prediction"] = np.nan

    table = store_comparison(candidate, reference, min_days=1, rescaled=True)

    assert table["Store"].iloc[0] == 3 and np.isnan(table["increase"].iloc[0])
    np.testing.assert_allclose(table["increase"].iloc[1:], 0.0, atol=1e-12)


def test_a_store_forecast_with_holes_comes_first():
    candidate, reference = _forecasts(3, 0.05), _forecasts(3, 0.05)
    candidate.loc[candidate["Store"] == 3, "prediction"] = np.nan

    table = store_comparison(candidate, reference, min_days=1)

    assert table["Store"].iloc[0] == 3 and np.isnan(table["increase"].iloc[0])


def test_one_model_compared_with_itself_reads_plus_zero():
    """Float noise around a ratio of 1 (the backtest against the Production version it is)
    is not shown as a sign: "+0.0%", never "-0.0%"."""
    itself = {"confidence": 0.95, "ratio": 1 - 4e-14, "low": 1 - 9e-14, "high": 1 + 4e-14,
              "stores": 82}  # fmt: skip
    barely = {**itself, "ratio": 0.9996, "low": 0.9984, "high": 1.0012}

    assert resampled_text(itself) == "+0.0%, 90% sure +0.0% to +0.0% over 82 stores resampled"
    assert resampled_text(barely) == "+0.0%, 90% sure -0.2% to +0.1% over 82 stores resampled"


def test_a_hole_counts_against_the_candidate_not_against_it_in_the_reference():
    candidate, reference = _forecasts(30, 0.05), _forecasts(30, 0.05)
    candidate.loc[candidate["Store"] == 3, "prediction"] = np.nan
    reference.loc[reference["Store"] == 4, "prediction"] = np.nan
    settings = {"min_days": 6, "max_rmspe_increase": 0.05}

    checked = store_check(candidate, reference, settings)

    assert checked["compared"] == 30 and checked["above"] == 1
    assert store_check(reference, candidate, settings)["above"] == 1  # store 4, the other way
    assert store_check(candidate, reference, None) is None
