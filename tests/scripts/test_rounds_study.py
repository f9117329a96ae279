"""The rounds study: the level-free score, the origins it picks, one real run on tiny data."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from rounds_study import (
    ROOT,
    blend_rounds,
    level_free_rmspe,
    parse_variant,
    study_origins,
    summarise,
)

ACTUAL = np.array([1000.0, 2000.0, 1500.0, 800.0, 1200.0])
SHAPE = np.array([1.05, 0.97, 1.02, 0.94, 1.03])  # how far off each day is


def test_a_forecast_off_by_the_same_factor_everywhere_scores_as_the_level_free_one():
    exact = level_free_rmspe(ACTUAL, np.log1p(ACTUAL * SHAPE))
    high = level_free_rmspe(ACTUAL, np.log1p(ACTUAL * SHAPE * 1.08))

    assert high == pytest.approx(exact, rel=1e-9)
    assert 0.0 < exact < np.sqrt(np.mean((SHAPE - 1) ** 2))  # the scale helps, never hurts


def test_a_forecast_that_follows_the_days_better_scores_lower():
    closer = level_free_rmspe(ACTUAL, np.log1p(ACTUAL * (1 + (SHAPE - 1) / 2)))

    assert closer < level_free_rmspe(ACTUAL, np.log1p(ACTUAL * SHAPE))


def test_the_origins_are_block_starts_42_days_apart_back_from_the_holdout():
    starts = pd.date_range("2014-01-04", periods=12, freq="14D")
    table = pd.DataFrame({"Date": starts, "block_origin": starts})

    origins = study_origins(table, pd.Timestamp("2014-05-10"), count=5)

    # 2014-05-10 and 42 and 84 days before; 126 days before is the table's first day (no rows
    # to fit on before it) and 168 days before is not in the table.
    assert origins == [pd.Timestamp("2014-02-15"), pd.Timestamp("2014-03-29"),
                       pd.Timestamp("2014-05-10")]  # fmt: skip


def test_the_blend_rounds_are_multiples_of_the_configured_capped_at_the_largest_fitted():
    assert blend_rounds({"lightgbm": 300, "xgboost": 250}, 2.0, 550) == {
        "lightgbm": 550,
        "xgboost": 500,
    }


MEMBERS = {
    "catboost": {"library": "catboost", "num_rounds": 600, "params": {"depth": 6, "seed": 1}},
    "lightgbm": {"library": "lightgbm", "num_rounds": 600, "params": {"num_leaves": 63}},
}


def test_a_variant_changes_its_boosters_parameters_and_nothing_else():
    label, member = parse_variant("catboost:bootstrap_type=Bernoulli,subsample=0.5", MEMBERS)

    assert label == "CatBoost (bootstrap_type=Bernoulli, subsample=0.5)"
    assert member == {
        "library": "catboost",
        "num_rounds": 600,
        "params": {"depth": 6, "seed": 1, "bootstrap_type": "Bernoulli", "subsample": 0.5},
        "variant_of": "catboost",
    }
    assert MEMBERS["catboost"]["params"] == {"depth": 6, "seed": 1}  # the conf is not touched


def test_a_variant_can_change_the_member_itself():
    _, member = parse_variant("lightgbm:num_rounds=300,relative_to_level=false", MEMBERS)

    assert member["num_rounds"] == 300 and member["relative_to_level"] is False
    assert member["params"] == {"num_leaves": 63}


@pytest.mark.parametrize(
    "text", ["catboost", "catboost:", "ridge:alpha=1", "catboost:depth", "catboost:=3"]
)
def test_a_variant_that_is_not_booster_key_value_is_refused_naming_it(text):
    with pytest.raises(ValueError, match=r"--variant"):
        parse_variant(text, MEMBERS)


def test_the_blend_with_a_variant_puts_it_in_its_boosters_place():
    actual = np.array([100.0, 200.0, 300.0, 400.0])
    day = np.log1p(actual)
    off = np.array([0.1, -0.1, 0.05, -0.05])  # a booster that follows the days worse
    # The same forecast after any number of rounds (the blend is also scored at half of them).
    logs = {
        "lightgbm": dict.fromkeys((5, 10), day + off / 2),
        "catboost": dict.fromkeys((5, 10), day + off),
        "variant1": dict.fromkeys((5, 10), day + off / 4),  # a better catboost
    }
    scored = {pd.Timestamp("2015-01-03"): {"actual": actual, "logs": logs, "seconds": {
        "lightgbm": 1.0, "catboost": 2.0, "variant1": 1.0}}}  # fmt: skip
    configured = {"lightgbm": 10, "catboost": 10, "variant1": 10}

    summary = summarise(scored, configured, [10], {"variant1": "catboost"})

    configured_blend = summary["blends"][1.0]
    assert configured_blend["rounds"] == {"lightgbm": 10, "catboost": 10}  # no variant in it
    swapped = summary["swapped"]["variant1"]["2015-01-03"]
    assert swapped == pytest.approx(
        level_free_rmspe(actual, (logs["lightgbm"][10] + logs["variant1"][10]) / 2)
    )
    assert swapped < configured_blend["rmspe"]["2015-01-03"]


def test_a_tiny_run_scores_every_booster_at_every_number_of_rounds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "KEDRO_ENV"}}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rounds_study.py"), "--env", "test",
         "--n-stores", "30", "--origins", "2", "--grid", "10,20,40",
         "--variant", "catboost:bootstrap_type=Bernoulli,subsample=0.5",
         "--results", str(tmp_path), "--label", "tiny"],
        env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    (path,) = tmp_path.glob("*-rounds-study-tiny.md")
    text = path.read_text()
    for label in ("LightGBM", "XGBoost", "CatBoost"):
        row = re.search(rf"^\| {label} \| 30 \| [\d.]+ \| (.+) \|$", text, re.MULTILINE)
        assert row, f"no curve for {label}:\n{text}"
        scores = [float(cell.strip("* ")) for cell in row.group(1).split("|")]
        assert len(scores) == 3 and all(0.0 < s < 1.0 for s in scores)
    # The blend at the configured rounds (30 each, the test env's) is the reference row.
    assert re.search(r"^\| x1 \(30/30/30\) \|.* \| \+0\.0% \|$", text, re.MULTILINE), text
    assert re.search(r"^\| x2 \(40/40/40\) \|", text, re.MULTILINE), text  # capped at 40
    variant = "CatBoost \\(bootstrap_type=Bernoulli, subsample=0.5\\)"
    assert re.search(rf"^\| {variant} \| 30 \| [\d.]+ \| ", text, re.MULTILINE), text
    assert re.search(rf"^\| x1, {variant} in its booster's place \| ", text, re.MULTILINE), text
