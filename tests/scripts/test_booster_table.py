"""The benchmark scripts read the booster table: a fourth booster there is never left out.

Adding a booster is one entry in ``rossmann_forecast.model.boosters.BOOSTERS`` plus its conf and
requirements; these tests put a fake fourth entry in the table and check that every script that
lists boosters follows it instead of a list of its own.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _bare_training import fit
from _measure import packages
from benchmark_report import accuracy_table

from rossmann_forecast.model.boosters import BOOSTERS


@pytest.fixture
def fourth_booster(monkeypatch):
    fitted: list[tuple[dict, int, int]] = []
    fourth = dataclasses.replace(
        BOOSTERS["lightgbm"],
        library="fourth",
        label="FourthBoost",
        requirement="fourthboost",
        fit=lambda params, rounds, x, y: fitted.append((params, rounds, len(y))),
    )
    monkeypatch.setitem(BOOSTERS, "fourth", fourth)
    return fitted


def _block(**members: float) -> dict:
    return {"ensemble": 0.09, "median_baseline": 0.14, "bias": -0.01, "rows": 100,
            "origin": "2015-06-20", **members}  # fmt: skip


def test_the_accuracy_table_has_a_column_per_booster(fourth_booster):
    lines = accuracy_table({"gate": _block(lightgbm=0.1, xgboost=0.2, catboost=0.3, fourth=0.4)})

    header, rule, row = lines
    assert "| ensemble | LightGBM | XGBoost | CatBoost | FourthBoost | median baseline |" in header
    assert header.count("|") == rule.count("|") == row.count("|")
    assert "| 0.1000 | 0.2000 | 0.3000 | 0.4000 | 0.1400 |" in row


def test_a_result_recorded_before_a_booster_existed_shows_a_dash_for_it(fourth_booster):
    row = accuracy_table({"gate": _block(lightgbm=0.1, xgboost=0.2, catboost=0.3)})[-1]

    assert "| 0.3000 | - | 0.1400 |" in row


def test_the_bare_training_reference_fits_through_the_table(fourth_booster):
    fit("fourth", {"seed": 1}, 7, np.zeros((3, 2), "float32"), np.zeros(3))

    assert fourth_booster == [({"seed": 1}, 7, 3)]


def test_a_benchmark_records_every_boosters_library_version(fourth_booster):
    found = packages()

    assert {"lightgbm", "xgboost-cpu", "catboost", "fourthboost"} <= set(found)
    assert found.index("pyarrow") < found.index("lightgbm") < found.index("pandera")
