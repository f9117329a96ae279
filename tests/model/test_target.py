"""What a booster fits (``training_target``) and how its forecasts become Sales again.

A member with ``relative_to_level: true`` fits log1p(Sales) minus the store's level (its mean
log sales over the longest window, ``level_feature``); the model adds the level back for that
member only. A model saved before the setting, and a member without it, fit and forecast
log1p(Sales) itself.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from rossmann_forecast.model.ensemble import (
    MemberSpec,
    RossmannEnsemble,
    predict_member,
    to_model_input,
    training_target,
)
from rossmann_forecast.model.features import FeatureConfig, level_feature


def test_the_level_is_the_longest_windows_mean():
    assert level_feature(FeatureConfig()) == "w364_mean"
    assert level_feature(FeatureConfig(windows_days=(28, 91))) == "w91_mean"


def test_the_target_is_log_sales_minus_the_level_and_the_forecast_adds_it_back():
    sales = np.array([1_000.0, 5_000.0, 12_000.0])
    level = np.array([7.0, 8.5, 9.4], dtype="float32")

    target = training_target(sales, level)

    np.testing.assert_allclose(target, np.log1p(sales) - level)
    np.testing.assert_array_equal(training_target(sales), np.log1p(sales))

    class Echo:  # a "booster" that forecasts exactly the target it was given
        def predict(self, features):
            return target

    np.testing.assert_allclose(
        np.expm1(predict_member("lightgbm", Echo(), np.zeros((3, 1)), level)), sales
    )


def test_a_member_is_absolute_unless_its_settings_say_relative():
    member = {"library": "catboost", "num_rounds": 5, "params": {}}

    assert MemberSpec.from_params(member).relative_to_level is False
    assert MemberSpec.from_params({**member, "relative_to_level": True}).relative_to_level
    with pytest.raises(ValueError, match="relative_to_level of the catboost member must be"):
        MemberSpec.from_params({**member, "relative_to_level": "true"})


def test_a_relative_member_forecasts_at_the_stores_level_through_the_pyfunc(
    tiny_relative_model, tiny_model
):
    """The saved and reloaded model adds each store's level back to the relative member's
    output: its forecasts are sales, not ratios around 1."""
    rows = tiny_relative_model.rows(days=7)
    answer = tiny_relative_model.pyfunc.predict(rows)
    model = tiny_relative_model.python_model
    matrix = model.feature_matrix(to_model_input(rows)).to_numpy(dtype="float32")
    library, booster = model.members["lightgbm"]
    level = matrix[:, model.feature_names.index("w364_mean")]

    expected = np.expm1(predict_member(library, booster, matrix) + level) * model.scale
    np.testing.assert_allclose(answer["Sales"].to_numpy(), expected, rtol=1e-6)
    # The level is a store's mean log sales: the answer is on the scale of the absolute model's.
    absolute = tiny_model.pyfunc.predict(tiny_model.rows(days=7))["Sales"].to_numpy()
    ratio = answer["Sales"].to_numpy() / absolute
    assert 0.7 < np.median(ratio) < 1.4, ratio
    # Which members are relative travels inside the model (its ensemble.json).
    assert model.relative_members == ["lightgbm"]
    assert tiny_model.python_model.relative_members == []


def test_a_model_saved_before_the_setting_has_no_relative_member(tiny_relative_model, tmp_path):
    """An ``ensemble.json`` written before ``relative_to_level`` existed has no such key:
    every member of that version forecasts log1p(Sales), as it was trained then."""
    artifacts = tiny_relative_model.path / "artifacts"
    header = json.loads((artifacts / "ensemble.json").read_text())
    assert header["relative_to_level"] == ["lightgbm"]
    header.pop("relative_to_level")
    (tmp_path / "ensemble.json").write_text(json.dumps(header))
    context = SimpleNamespace(
        artifacts={
            "ensemble": str(tmp_path / "ensemble.json"),
            "feature_state": str(artifacts / "feature_state"),
            "member.lightgbm": str(artifacts / "lightgbm.model.txt"),
        }
    )
    old = RossmannEnsemble()
    old.load_context(context)

    assert old.relative_members == []
    rows = to_model_input(tiny_relative_model.rows(days=3))
    matrix = old.feature_matrix(rows).to_numpy(dtype="float32")
    library, booster = old.members["lightgbm"]
    np.testing.assert_allclose(
        old.member_log_predictions(matrix)["lightgbm"], predict_member(library, booster, matrix)
    )
