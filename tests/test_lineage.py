"""The version's description reads the booster table: a booster added there is named in it."""

from __future__ import annotations

import dataclasses

import pytest

from rossmann_forecast.lineage import version_description
from rossmann_forecast.model.boosters import BOOSTERS

LINEAGE = {
    "cv_metrics": {"rmspe_ensemble": 0.09, "rmspe_lightgbm": 0.1},
    "training_window": {"start": "2013-01-01", "end": "2015-07-31", "rows": 1000,
                        "origin": "2015-08-01"},
    "git": {"commit": "abc1234def"},
    "run_id": "r1",
}  # fmt: skip


@pytest.fixture
def fourth_booster(monkeypatch):
    """A fourth entry in the booster table, as a contributor adding one would write it."""
    fourth = dataclasses.replace(BOOSTERS["lightgbm"], library="fourth", label="FourthBoost")
    monkeypatch.setitem(BOOSTERS, "fourth", fourth)
    return fourth


def test_the_description_names_the_boosters_of_the_table_in_its_order():
    text = version_description("rossmann-ensemble", LINEAGE)

    assert text.startswith("rossmann-ensemble: LightGBM + XGBoost + CatBoost ensemble on")
    assert "members: lightgbm 0.1000 (w=0.00), xgboost nan (w=0.00), catboost nan" in text


def test_a_booster_added_to_the_table_is_named_in_the_description(fourth_booster):
    text = version_description("rossmann-ensemble", LINEAGE)

    assert "LightGBM + XGBoost + CatBoost + FourthBoost ensemble" in text
    assert "fourth nan (w=0.00)" in text  # listed among the members before weights exist


def test_the_description_says_what_the_boosters_fit():
    """log1p(Sales) itself for a version of before ``relative_to_level`` (no such setting),
    and which members fit it relative to the store's level over the longest window."""
    members = {
        "lightgbm": {"library": "lightgbm", "relative_to_level": True},
        "xgboost": {"library": "xgboost", "relative_to_level": True},
        "catboost": {"library": "catboost", "relative_to_level": False},
    }
    relative = {**LINEAGE, "hyperparameters": members,
                "feature_settings": {"windows_days": [28, 91, 364]}}  # fmt: skip

    assert "ensemble on log1p(Sales), " in version_description("rossmann-ensemble", LINEAGE)
    assert (
        "ensemble on log1p(Sales) (LightGBM and XGBoost relative to the store's 364-day level), "
        in version_description("rossmann-ensemble", relative)
    )
