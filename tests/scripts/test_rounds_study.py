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
    by_seed,
    level_free_rmspe,
    parse_seeds,
    parse_variant,
    render_by_seed,
    seed_conflicts,
    study_origins,
    summarise,
    with_seed,
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


def test_seeds_are_distinct_integers_and_none_means_as_configured():
    assert parse_seeds(None) == [None]
    assert parse_seeds("42,7") == [42, 7]
    with pytest.raises(ValueError, match=r"--seeds '42,x': expected integers"):
        parse_seeds("42,x")
    with pytest.raises(ValueError, match=r"--seeds '7,7': a seed is given twice"):
        parse_seeds("7,7")


def test_a_seed_goes_to_each_librarys_own_seed_parameter():
    catboost = {"library": "catboost", "num_rounds": 10, "params": {"depth": 6}}
    xgboost = {"library": "xgboost", "num_rounds": 10, "params": {"seed": 42}}

    assert with_seed(catboost, 7)["params"] == {"depth": 6, "random_seed": 7}
    assert with_seed(xgboost, 7)["params"] == {"seed": 7}
    assert with_seed(xgboost, None) is xgboost
    assert catboost["params"] == {"depth": 6}  # the member itself is not touched


def test_a_variant_that_sets_its_own_seed_conflicts_with_seeds():
    members = {
        "catboost": {"library": "catboost", "params": {"random_seed": 42}},
        "variant1": {"library": "catboost", "params": {"random_seed": 7}},
        "variant2": {"library": "catboost", "params": {"random_seed": 42, "depth": 8}},
    }

    conflicts = seed_conflicts(members, {"variant1": "catboost", "variant2": "catboost"})

    assert conflicts == ["variant1 sets 'random_seed'"]


def _summary(blend: float, variant: float, members: dict[str, float]) -> dict:
    """A summary as ``summarise`` returns it, one origin, every score given."""
    origin = "2015-01-03"
    return {
        "alone": {name: {origin: score} for name, score in members.items()},
        "blends": {1.0: {"rounds": {}, "rmspe": {origin: blend}}},
        "swapped": {"variant1": {origin: variant}},
    }


def test_a_variant_counts_as_better_only_under_every_seed():
    configured = {"lightgbm": 10, "variant1": 10}
    members = {"lightgbm": 0.100, "variant1": 0.099}
    # Better with seed 42, worse with seed 7: within a seed's reach.
    mixed = by_seed(
        {42: _summary(0.100, 0.098, members), 7: _summary(0.100, 0.101, members)},
        configured,
        {"variant1": "lightgbm"},
    )
    better = by_seed(
        {42: _summary(0.100, 0.098, members), 7: _summary(0.102, 0.101, members)},
        configured,
        {"variant1": "lightgbm"},
    )
    worse = by_seed(
        {42: _summary(0.100, 0.101, members), 7: _summary(0.100, 0.100 + 1e-6, members)},
        configured,
        {"variant1": "lightgbm"},
    )

    assert mixed["verdicts"] == {"variant1": "mixed"}
    assert better["verdicts"] == {"variant1": "better"}
    assert worse["verdicts"] == {"variant1": "worse"}
    assert better["blend"] == {42: 0.100, 7: 0.102}
    assert better["members"]["lightgbm"] == {42: 0.100, 7: 0.100}
    text = render_by_seed(mixed, {"variant1": "LightGBM (num_leaves=127)"})
    assert "| the equal blend (x1) | 0.1000 | 0.1000 | 0.1000 | 0.0% |" in text
    assert (
        "| x1, LightGBM (num_leaves=127) in its booster's place | 0.0980 (-2.0%) | 0.1010 (+1.0%) "
        "| 0.0995 | 3.1% |" in text
    )
    assert "- LightGBM (num_leaves=127): mixed: within a seed's reach" in text


def test_a_tiny_run_scores_every_booster_at_every_number_of_rounds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "KEDRO_ENV"}}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rounds_study.py"), "--env", "test",
         "--n-stores", "30", "--origins", "2", "--grid", "10,20,40",
         "--variant", "catboost:bootstrap_type=Bernoulli,subsample=0.5", "--seeds", "5,6",
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
    # With --seeds, every booster is fitted under each seed, and the seeds really differ:
    # CatBoost (random_strength) never fits the same trees with another seed.
    assert "Every booster fitted with seeds 5, 6; the tables before the last are seed 5's." in text
    by_seed = text.split("## By seed: mean over origins at the configured rounds")[1]
    row = re.search(r"^\| CatBoost alone \| ([\d.]+) \| ([\d.]+) \| ", by_seed, re.MULTILINE)
    assert row and row.group(1) != row.group(2), by_seed
    assert re.search(rf"^- {variant}: (better|worse|mixed)", by_seed, re.MULTILINE), by_seed
