"""The rolling-origin benchmark: its pure parts, and one real run of it on tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rolling_benchmark import (
    ROOT,
    _gate_vs_production,
    forecast_origins,
    is_headline,
    origin_record,
    parse_args,
    season_exponents,
    summary,
)

from rossmann_forecast.pipelines.validation.estimate import ESTIMATES


def test_origins_step_back_from_the_last_window_oldest_first():
    origins = forecast_origins(pd.Timestamp("2015-07-31"), 3, 42, 42)

    assert [str(o.date()) for o in origins] == ["2015-03-28", "2015-05-09", "2015-06-20"]


def test_the_summary_says_how_far_the_gate_was_from_what_was_realised():
    origins = [
        {"origin": "a", "realised_rmspe": 0.10, "gate_error": -0.2, "skill": 0.7,
         "baseline_rmspe": 0.14, "gate_passed": True, "estimates": None},
        {"origin": "b", "realised_rmspe": 0.16, "gate_error": 0.1, "skill": 0.6,
         "baseline_rmspe": 0.26, "gate_passed": False, "estimates": None},
    ]  # fmt: skip

    result = summary(origins)

    assert result["mean_realised_rmspe"] == pytest.approx(0.13)
    assert result["worst_origin"] == "b" and result["worst_skill"] == pytest.approx(0.7)
    assert result["gate_mean_abs_error"] == pytest.approx(0.15)
    assert result["gate_max_flattery"] == pytest.approx(0.2)  # 20% below what was realised
    assert result["gate_passed"] == 1


def _record(version: int, passed: bool, realised: float, production: int | None,
            production_rmspe: float | None = None) -> dict:  # fmt: skip
    """One origin's record as run_origin makes it, from what the run and the scoring wrote."""
    cut = {"ensemble": realised, "bias": -0.01, "median_baseline": 0.15, "rows": 100}
    scores = {"version": version, "cv": {}, "cut": cut}
    if production_rmspe is not None:
        scores["production_cut"] = {"version": production, "ensemble": production_rmspe}
    gate = {"verdict": {"passed": passed, "estimate_rmspe": 0.09, "reason": "r"}}
    return origin_record(pd.Timestamp("2015-01-03"), scores, gate, passed, production, 60.0)


def test_where_the_season_changed_the_summary_measures_the_exponent_that_would_have_hit():
    def windows(season_baseline):
        return [
            {"name": "holdout", "rows": 10, "rmspe": 0.10, "baseline_rmspe": 0.12},
            {"name": "forecast weeks a year earlier", "rows": 10, "rmspe": 0.2,
             "baseline_rmspe": season_baseline},
            {"name": "holdout weeks a year earlier", "rows": 10, "rmspe": 0.1,
             "baseline_rmspe": 0.10},
        ]  # fmt: skip

    origins = [
        # The baseline found the forecast's weeks 2.5 times as hard; the model 2.5 ** 0.2.
        {"origin": "ahead", "realised_rmspe": 0.10 * 2.5**0.2, "gate_windows": windows(0.25)},
        # 1.5 times: within the configured factor (2), the same season.
        {"origin": "same", "realised_rmspe": 0.12, "gate_windows": windows(0.15)},
        {"origin": "none", "realised_rmspe": 0.12, "gate_windows": None},
    ]

    found = season_exponents(origins)

    assert [e["origin"] for e in found] == ["ahead"]
    assert found[0]["ratio"] == pytest.approx(2.5)
    assert found[0]["exponent"] == pytest.approx(0.2)


def test_what_users_were_served_and_which_verdicts_against_production_the_next_weeks_bore_out():
    origins = [
        _record(1, passed=True, realised=0.10, production=None),
        _record(2, passed=False, realised=0.11, production=1, production_rmspe=0.12),
        _record(3, passed=False, realised=0.14, production=1, production_rmspe=0.13),
        _record(4, passed=True, realised=0.09, production=1, production_rmspe=0.095),
        _record(5, passed=True, realised=0.10, production=4, production_rmspe=0.098),
    ]

    # A rejection leaves the Production version serving; a promotion serves the candidate.
    assert [(o["served_version"], o["served_rmspe"]) for o in origins] == [
        (1, 0.10), (1, 0.12), (1, 0.13), (4, 0.09), (5, 0.10)]  # fmt: skip
    result = summary(origins)
    assert result["mean_served_rmspe"] == pytest.approx((0.10 + 0.12 + 0.13 + 0.09 + 0.10) / 5)
    # Version 2 was better than version 1 over its window: turning it away cost; version 3's
    # rejection was right; version 4's promotion was right, version 5's was not.
    assert result["verdicts_compared"] == 4
    assert result["costly_rejections"] == 1 and result["costly_promotions"] == 1


def test_the_summary_counts_how_often_what_was_realised_fell_in_the_gates_likely_range():
    def record(realised: float, likely: dict | None) -> dict:
        cut = {"ensemble": realised, "bias": 0.0, "median_baseline": 0.15, "rows": 100}
        verdict = {"passed": True, "estimate_rmspe": 0.10, "estimate_range": likely}
        return origin_record(pd.Timestamp("2015-01-03"), {"version": 1, "cv": {}, "cut": cut},
                             {"verdict": verdict}, True, None, 60.0)  # fmt: skip

    likely = {"low": 0.08, "high": 0.12, "factors": [0.8, 1.2]}
    origins = [record(0.09, likely), record(0.125, likely), record(0.08, likely)]
    older = record(0.09, None)  # a gate without a range (or an older result)

    assert [o["realised_in_range"] for o in origins] == [True, False, True]  # bounds included
    assert origins[0]["gate_range"] == [0.08, 0.12] and older["gate_range"] is None
    widened = record(0.125, {"low": 0.07, "high": 0.13, "factors": [0.8, 1.2],
                             "widened_factors": [0.7, 1.3], "store_spread": 0.21})  # fmt: skip
    assert widened["realised_in_range"] and widened["gate_range_store_spread"] == 0.21
    assert widened["gate_range_widened"] and not origins[0]["gate_range_widened"]
    assert origins[0]["gate_range_store_spread"] is None  # an older gate: no spread
    result = summary([*origins, older])
    assert (result["range_hits"], result["range_origins"]) == (2, 3)
    assert result["range_widened"] == 0 and summary([*origins, widened])["range_widened"] == 1


def test_before_the_first_promotion_a_rejection_leaves_nothing_serving():
    (record,) = [_record(1, passed=False, realised=0.12, production=None)]

    assert record["served_version"] is None and record["served_rmspe"] is None
    assert summary([record])["mean_served_rmspe"] is None


@pytest.mark.parametrize(
    ("argv", "headline"),
    [
        ([], True),
        (["--data", "x", "--n-stores", "30", "--label", "after"], True),
        (["--params", "training.fit_rows.max_rows=31000"], False),
        (["--origins", "2"], False),
        (["--n-stores", "30"], False),
        (["--env", "test"], False),
        (["--no-promote"], False),
    ],
)
def test_only_a_run_with_the_default_settings_is_the_projects_headline(monkeypatch, argv, headline):
    monkeypatch.setattr(sys, "argv", ["rolling_benchmark.py", *argv])

    assert is_headline(parse_args()) is headline


@pytest.fixture(scope="module")
def rolling(tmp_path_factory) -> tuple[dict, Path]:
    results = tmp_path_factory.mktemp("results")
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "KEDRO_ENV"}}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rolling_benchmark.py"), "--env", "test",
         "--n-stores", "30", "--origins", "2", "--results", str(results), "--no-docs"],
        env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (path,) = results.glob("*.json")
    return json.loads(path.read_text()), path


def test_each_origin_is_trained_gated_promoted_and_scored_on_the_days_after_it(rolling):
    result, _ = rolling

    assert result["kind"] == "rolling-synthetic"
    assert result["headline"] is False  # 30 stores, 2 origins: never on the page
    first, second = result["origins"]
    assert [first["origin"], second["origin"]] == ["2015-05-09", "2015-06-20"]
    assert [first["version"], second["version"]] == [1, 2]
    for origin in result["origins"]:
        assert 0 < origin["realised_rmspe"] < 1 and 0 < origin["baseline_rmspe"] < 1
        assert origin["skill"] == pytest.approx(origin["realised_rmspe"] / origin["baseline_rmspe"])
        assert origin["gate_figure"] == pytest.approx(origin["estimates"][origin["gate_method"]])
        assert set(origin["estimates"]) == {*ESTIMATES, "conf", "cv"}
        # conf/base's validation.estimate_range: the gate says where the next weeks may land,
        # widened for 30 stores (fewer than the 82 its factors were measured on).
        low, high = origin["gate_range"]
        assert origin["gate_range_store_spread"] > 0 and origin["gate_range_widened"]
        assert low < origin["gate_figure"] * 0.8 and high > origin["gate_figure"] * 1.2
        assert origin["realised_in_range"] == (
            origin["gate_range"][0] <= origin["realised_rmspe"] <= origin["gate_range"][1]
        )
        assert origin["rows"] > 0
    # The lifecycle: a version the gate passed is promoted, so the next gate compares with it.
    assert first["gate_passed"] and first["promoted"]
    assert second["production_before"] == 1
    assert "Production v1" in second["gate_reason"]


def test_the_results_hold_the_segments_the_plot_and_the_markdown(rolling):
    result, path = rolling

    segments = {(r["segmentation"], r["segment"]) for r in result["segments"]}
    assert ("promo", "promo") in segments and ("weekday", "Mon") in segments
    # The served bands' coverage by segment: the rows of every origin pooled.
    assert all(0 <= r["coverage"] <= 1 and r["width"] > 0 for r in result["segments"])
    rows = sum(o["intervals"]["interval_coverage"] * o["rows"] for o in result["origins"])
    by_promo = [r for r in result["segments"] if r["segmentation"] == "promo"]
    assert sum(r["coverage"] * r["rows"] for r in by_promo) == pytest.approx(rows, abs=1e-6)
    assert (path.parent / result["plot"]).stat().st_size > 10_000
    markdown = path.with_suffix(".md").read_text()
    assert "**Mean realised RMSPE over origins:" in markdown
    # The host's speed before the runs, from fixed work: a slower run is told from a slower host.
    reference = result["machine"]["reference_fit"]
    assert reference["wall_s"] > 0 and reference["rows"] == 400_000
    cores = result["machine"]["cores"]
    assert f"min on {cores} cores; a reference LightGBM fit (the same work on every" in markdown
    assert "| 2015-06-20 | 2 |" in markdown
    # What users were served over each window: version 1 was promoted at the first origin.
    assert "What users were served" in markdown and "| v1: 0." in markdown
    # Version 2's verdict is checked against version 1 forecasting the same days.
    assert "verdicts against a Production version" in markdown
    assert 0 < result["origins"][1]["production_rmspe"] < 1
    assert "The gate's estimate, made each way" in markdown
    assert "within the gate's likely range" in markdown
    assert "widened at 2 for fewer stores" in markdown  # 30 stores at both origins
    # The forecast quantiles at every origin, beside the naive interval, and their targets.
    assert "Forecast quantiles per origin" in markdown
    for origin in result["origins"]:
        assert 0 < origin["intervals"]["interval_coverage"] <= 1
        assert origin["naive_intervals"]["quantile_loss"] > 0
        assert 0 < origin["gate_intervals"]["interval_coverage"] <= 1
    assert "lowest P10-P90 coverage" in result["targets"]
    assert "| skill | P10-P90 coverage | width |" in markdown
    # Which stores carry each window's error, and the window without the worst of them.
    assert "Where each window's error is" in markdown
    for origin in result["origins"]:
        concentration = origin["error_concentration"]
        assert concentration["rmspe"] == pytest.approx(origin["realised_rmspe"])
        assert concentration["skill"] == pytest.approx(origin["skill"])
        shares = [store["share"] for store in concentration["top"]]
        assert len(shares) == 3 and shares == sorted(shares, reverse=True)
        assert 0 < sum(shares) <= 1 and concentration["stores"] == 30
        assert concentration["without_worst"]["rmspe"] < concentration["rmspe"]
        assert concentration["store_spread"] > 0
        assert f"| {origin['origin']} | 30 | {origin['realised_rmspe']:.4f} |" in markdown


def test_the_gate_comparison_with_production_is_read_from_the_report_as_the_gate_recorded_it():
    report = {
        "metrics": {"holdout_rmspe": 0.1076, "holdout_rmspe_rescaled": 0.0981},
        "production": {"metrics": {"holdout_rmspe": 0.0882, "holdout_rmspe_rescaled": 0.0990}},
    }
    assert _gate_vs_production(report) == {
        "candidate": 0.1076,
        "production": 0.0882,
        "candidate_rescaled": 0.0981,
        "production_rescaled": 0.0990,
        "resampled": None,
    }
    resampled = {"ratio": 0.99, "low": 0.95, "high": 1.03, "worse": False, "stores": 82}
    report["production"]["comparison"] = resampled
    assert _gate_vs_production(report)["resampled"] == resampled
    assert _gate_vs_production({"metrics": {}, "production": None}) is None  # first version
