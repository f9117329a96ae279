"""Gate nodes called directly on pure inputs: no registry, no MLflow run.

Versions are ``RegisteredVersion`` values as the catalog would load them; their ``loader``
returns a small in-process model, so what is tested is the gate's arithmetic and its choice of
which model of a version may be scored, not MLflow's loading (the lifecycle tests do that).
"""

from __future__ import annotations

import pandas as pd
import pytest

from rossmann_forecast.pipelines.validation.nodes import (
    decide_gate,
    evaluate_holdout,
    score_candidate,
    score_production,
)
from rossmann_forecast.registry import RegistryError
from rossmann_forecast.registry_datasets import RegisteredVersion

MODEL = "rossmann-ensemble"
STORES = pd.DataFrame({"Store": [1, 2], "StoreType": ["a", "b"]})


class ScaledSales:
    """Predicts a fixed multiple of each store's true sales (known to the test)."""

    def __init__(self, truth: pd.DataFrame, factor: float) -> None:
        self.truth = truth.set_index(["Store", "Date"])["Sales"]
        self.factor = factor

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        keys = pd.MultiIndex.from_arrays([rows["Store"], pd.to_datetime(rows["Date"])])
        return pd.DataFrame({"Sales": self.truth.reindex(keys).to_numpy() * self.factor})


def _holdout() -> pd.DataFrame:
    dates = pd.date_range("2015-07-01", periods=4)
    return pd.DataFrame(
        [
            {
                "Store": s,
                "DayOfWeek": d.day_of_week + 1,
                "Date": d,
                "Sales": 1000.0 * s + d.day,
                "Open": 1,
                "Promo": 0,
                "StateHoliday": "0",
                "SchoolHoliday": 0,
            }
            for s in (1, 2)
            for d in dates
        ]
    )


def _version(number: int, factor: float, loaded: list[str], **tags: str) -> RegisteredVersion:
    holdout = _holdout()

    def loader(uri: str) -> ScaledSales:
        loaded.append(uri)
        return ScaledSales(holdout, factor)

    return RegisteredVersion(MODEL, number, "None", dict(tags), loader=loader)


PARAMS = {"threshold": 0.10, "recent_days": 2}


def _backtested(number: int, factor: float, loaded: list[str]) -> RegisteredVersion:
    """A version served from after the holdout, with a backtest from its first day."""
    return _version(
        number,
        factor,
        loaded,
        **{
            "lineage.training_window.origin": "2015-08-01",
            "lineage.backtest.origin": "2015-07-01",
            "lineage.backtest.model_uri": f"models:/m-backtest{number}",
        },
    )


def test_the_candidate_is_scored_by_its_backtest_and_passes_below_the_threshold():
    loaded: list[str] = []
    holdout = _holdout()

    scored = score_candidate(_backtested(3, 1.05, loaded), holdout)
    report = evaluate_holdout(scored, score_production(None, holdout), holdout, STORES, PARAMS)
    verdict = decide_gate(report)

    assert loaded == ["models:/m-backtest3"]  # never the served model: it has seen these rows
    assert report["metrics"]["holdout_rmspe"] == pytest.approx(0.05, rel=1e-9)
    assert report["production"] is None
    assert verdict["passed"] and verdict["status"] == "staging"
    assert verdict["version"] == 3
    assert verdict["evidence"]["kind"] == "backtest"
    assert verdict["evidence"]["holdout_start"] == "2015-07-01"
    assert verdict["recorded_metrics"]["holdout_rmspe"] == pytest.approx(0.05, rel=1e-9)


def test_a_candidate_at_or_above_the_threshold_is_rejected_with_production_compared():
    loaded: list[str] = []
    holdout = _holdout()
    production = _version(
        1, 1.02, loaded, **{"lineage.training_window.origin": "2015-06-30"}
    )  # served from before the holdout: its served model is an honest forecast

    report = evaluate_holdout(
        score_candidate(_backtested(4, 1.25, loaded), holdout),
        score_production(production, holdout),
        holdout,
        STORES,
        PARAMS,
    )
    verdict = decide_gate(report)

    assert loaded == ["models:/m-backtest4", f"models:/{MODEL}/1"]
    assert not verdict["passed"] and verdict["status"] == "rejected"
    assert verdict["reason"] == "holdout RMSPE 0.2500 >= threshold 0.10"
    assert verdict["recorded_metrics"]["production_version"] == 1.0
    assert verdict["recorded_metrics"]["production_holdout_rmspe"] == pytest.approx(0.02, rel=1e-9)


def test_production_fit_on_the_holdout_without_a_backtest_is_not_compared():
    loaded: list[str] = []
    production = _version(1, 1.0, loaded, **{"lineage.training_window.origin": "2015-08-01"})

    assert score_production(production, _holdout()).empty
    assert loaded == []  # nothing was loaded, let alone scored on rows it was fit on


def test_a_candidate_without_an_honest_model_is_refused():
    loaded: list[str] = []
    fitted_on_holdout = _version(5, 1.0, loaded, **{"lineage.training_window.origin": "2015-08-01"})

    with pytest.raises(RegistryError, match="Version 5 of rossmann-ensemble has no model"):
        score_candidate(fitted_on_holdout, _holdout())
