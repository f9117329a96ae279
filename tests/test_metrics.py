"""Tests for the competition metric and the bias measure."""

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.metrics import (
    best_scale,
    error_summary,
    mean_percentage_error,
    paired_store_bootstrap,
    rescaled_rmspe,
    rmspe,
)


def test_rmspe_is_zero_for_perfect_predictions():
    y = np.array([100.0, 250.0, 3000.0])

    assert rmspe(y, y) == 0.0


def test_rmspe_matches_hand_computed_value():
    y = [100.0, 200.0]
    yhat = [110.0, 150.0]  # errors -10% and +25%

    assert rmspe(y, yhat) == pytest.approx(np.sqrt((0.1**2 + 0.25**2) / 2))


def test_rmspe_ignores_rows_with_zero_sales():
    y = pd.Series([0.0, 100.0, 0.0])
    yhat = pd.Series([500.0, 90.0, 7.0])

    assert rmspe(y, yhat) == pytest.approx(0.1)


def test_rmspe_accepts_series_with_different_indexes():
    y = pd.Series([100.0, 200.0], index=[5, 6])
    yhat = pd.Series([100.0, 100.0], index=[0, 1])

    assert rmspe(y, yhat) == pytest.approx(np.sqrt(0.25 / 2))


def test_rmspe_raises_when_no_row_has_positive_sales():
    with pytest.raises(ValueError, match="no row has y_true > 0"):
        rmspe([0, 0], [1, 2])


def test_rmspe_raises_when_lengths_differ():
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        rmspe([1, 2], [1, 2, 3])


def test_mean_percentage_error_is_positive_for_over_prediction():
    y = [100.0, 200.0, 0.0]
    yhat = [110.0, 220.0, 50.0]

    assert mean_percentage_error(y, yhat) == pytest.approx(0.1)
    assert mean_percentage_error(y, [90.0, 180.0, 0.0]) == pytest.approx(-0.1)


def test_mean_percentage_error_raises_like_rmspe():
    with pytest.raises(ValueError, match="no row has y_true > 0"):
        mean_percentage_error([0.0], [1.0])
    with pytest.raises(ValueError, match="same length"):
        mean_percentage_error([1.0], [1.0, 2.0])


def test_error_summary_scores_only_rows_with_positive_actuals():
    summary = error_summary([100.0, 0.0, 200.0], [110.0, 50.0, 180.0])
    assert summary["rows"] == 2
    assert summary["rmspe"] == pytest.approx(0.1)
    assert summary["bias"] == pytest.approx(0.0)
    empty = error_summary([0.0], [5.0])
    assert empty["rows"] == 0 and empty["rmspe"] != empty["rmspe"]


def test_the_rescaled_rmspe_is_the_rmspe_at_the_best_constant_scale():
    y = np.array([100.0, 200.0, 400.0, 0.0])
    yhat = np.array([110.0, 190.0, 460.0, 30.0])  # the closed day is ignored, as by RMSPE

    scales = np.linspace(0.8, 1.2, 40001)
    best = min(rmspe(y, yhat * k) for k in scales)

    assert rescaled_rmspe(y, yhat) == pytest.approx(best, abs=1e-7)
    assert rescaled_rmspe(y, yhat * 1.3) == pytest.approx(rescaled_rmspe(y, yhat))  # level-free
    assert rescaled_rmspe(y, yhat) < rmspe(y, yhat)


def test_the_best_scale_is_the_one_the_rescaled_rmspe_applies_holes_left_out():
    y = np.array([100.0, 200.0, 400.0, 0.0])
    yhat = np.array([110.0, 190.0, 460.0, 30.0])

    scale = best_scale(y, yhat)

    assert rmspe(y, yhat * scale) == pytest.approx(rescaled_rmspe(y, yhat), abs=1e-12)
    assert best_scale(y, yhat * 2.0) == pytest.approx(scale / 2.0)
    # A row without a finite forecast does not move the others' scale.
    with_hole = best_scale(np.append(y, 50.0), np.append(yhat, np.nan))
    assert with_hole == pytest.approx(scale)
    assert best_scale([100.0], [0.0]) == 1.0  # zero everywhere: no scale helps


def test_a_forecast_with_a_hole_scores_nan_rescaled_as_as_is():
    assert np.isnan(rmspe([100.0, 200.0], [100.0, np.nan]))
    assert np.isnan(rescaled_rmspe([100.0, 200.0], [100.0, np.nan]))  # not a perfect 0


def test_the_rescaled_rmspe_of_a_zero_forecast_is_one():
    assert rescaled_rmspe([100.0, 200.0], [0.0, 0.0]) == 1.0


def _stores_days(stores: int = 40, days: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Store ids, positive sales, and a forecast 5% off either way on alternate days."""
    store = np.repeat(np.arange(1, stores + 1), days)
    sales = 1000.0 + 10.0 * np.arange(store.size) % 3000
    wobble = np.where(np.arange(store.size) % 2 == 0, 1.05, 0.95)
    return store, sales, sales * wobble


def _compare(store, sales, candidate, reference, **settings):
    options = {"rescaled": True, "tolerance": 0.02, "confidence": 0.95, "resamples": 2000,
               "seed": 0} | settings  # fmt: skip
    return paired_store_bootstrap(store, sales, candidate, reference, **options)


@pytest.mark.parametrize("rescaled", [True, False])
def test_the_resampled_comparison_reads_the_ratio_of_the_two_scores_on_all_rows(rescaled):
    store, sales, reference = _stores_days()
    # Off by more on some stores than on others: the resamples differ.
    candidate = reference * np.where(np.arange(sales.size) % 3 == 0, 1.0 + store / 500, 0.99)
    score = rescaled_rmspe if rescaled else rmspe

    result = _compare(store, sales, candidate, reference, rescaled=rescaled)

    assert result["ratio"] == pytest.approx(score(sales, candidate) / score(sales, reference))
    assert result["low"] < result["ratio"] < result["high"]
    assert result["stores"] == 40 and result["resamples"] == 2000
    assert result == _compare(store, sales, candidate, reference, rescaled=rescaled)  # seeded


def test_a_candidate_worse_on_every_store_is_worse_with_confidence():
    store, sales, reference = _stores_days()
    candidate = sales * np.where(np.arange(sales.size) % 2 == 0, 1.08, 0.92)  # 8% off, not 5%

    result = _compare(store, sales, candidate, reference)

    assert result["worse"] and result["low"] > 1.02
    # Rescaled, a forecast off by +-a on alternate days scores a / sqrt(1 + a^2).
    assert result["ratio"] == pytest.approx(0.08 / 1.0064**0.5 / (0.05 / 1.0025**0.5))


def test_a_candidate_worse_on_one_store_only_is_not_shown_worse():
    # Worse on 1 of 40 stores: 10% above Production's RMSPE on all rows, but a third of the
    # resamples do not hold that store, so it cannot be told from a draw of the stores.
    store, sales, reference = _stores_days()
    candidate = np.where(store == 7, sales * np.where(np.arange(sales.size) % 2 == 0, 1.2, 0.8),
                         reference)  # fmt: skip

    result = _compare(store, sales, candidate, reference)

    assert result["ratio"] > 1.1
    assert not result["worse"] and result["low"] <= 1.02
    # The same excess on every store is worse with confidence.
    everywhere = sales * np.where(np.arange(sales.size) % 2 == 0, 1.0 + 0.05 * result["ratio"],
                                  1.0 - 0.05 * result["ratio"])  # fmt: skip
    assert _compare(store, sales, everywhere, reference)["worse"]


def test_identical_forecasts_are_never_worse_and_closed_days_are_ignored():
    store, sales, reference = _stores_days()
    sales[::5] = 0.0  # closed days: no percentage error, as in RMSPE

    result = _compare(store, sales, reference, reference, rescaled=False)

    assert result["ratio"] == 1.0 and result["low"] == 1.0 and not result["worse"]


def test_the_resampled_comparison_refuses_rows_that_do_not_line_up():
    store, sales, reference = _stores_days()
    with pytest.raises(ValueError, match="same length"):
        _compare(store[1:], sales, reference, reference)
    with pytest.raises(ValueError, match="no row has y_true > 0"):
        _compare(store, sales * 0, reference, reference)
