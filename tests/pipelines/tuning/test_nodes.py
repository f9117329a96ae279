"""Trial 0 of every study is exactly what conf trains with today."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rossmann_forecast.pipelines.tuning.nodes import _current_values

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"


def _base(name: str) -> dict:
    return yaml.safe_load((CONF / name).read_text())


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_trial_zero_is_base_conf_for_every_booster(library):
    member = _base("parameters_training.yml")["training"]["members"][library]
    space = _base("parameters_tuning.yml")["tuning"]["search_space"][library]

    values = _current_values(member, space)

    assert set(values) == set(space)
    for name, value in values.items():
        expected = member["num_rounds"] if name == "num_rounds" else member["params"][name]
        assert value == expected, f"{library}.{name}: conf {expected} is outside the search space"


def test_a_searched_parameter_that_conf_does_not_set_is_refused():
    member = {"library": "catboost", "num_rounds": 300, "params": {"depth": 6}}
    space = {
        "depth": {"type": "int", "low": 4, "high": 9},
        "l2_leaf_reg": {"type": "float", "low": 0.5, "high": 30.0},
    }

    with pytest.raises(ValueError, match=r"searches l2_leaf_reg.*catboost\.params does not set"):
        _current_values(member, space)


def test_conf_values_outside_the_space_are_clipped_into_it():
    member = {"library": "lightgbm", "num_rounds": 5000, "params": {"learning_rate": 0.001}}
    space = {
        "num_rounds": {"type": "int", "low": 150, "high": 1200},
        "learning_rate": {"type": "float", "low": 0.02, "high": 0.2},
    }

    assert _current_values(member, space) == {"num_rounds": 1200, "learning_rate": 0.02}
