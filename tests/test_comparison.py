"""Two versions' forecasts compared with the stores resampled: when, and what it says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.comparison import resampled_comparison, resampled_text

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
