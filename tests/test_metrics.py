"""Tests for the competition metric and the bias measure."""

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.metrics import error_summary, mean_percentage_error, rescaled_rmspe, rmspe


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


def test_the_rescaled_rmspe_of_a_zero_forecast_is_one():
    assert rescaled_rmspe([100.0, 200.0], [0.0, 0.0]) == 1.0
