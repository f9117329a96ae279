"""The calibration study: one real run on tiny data, each period calibrated on older folds."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from calibration_study import (
    LEVELS,
    ROOT,
    level_carry_over,
    scaled,
    season_scale,
    store_scaled,
    store_scales,
)


def _periods(errors_by_period: list[list[float]]) -> pd.DataFrame:
    """Three stores' out-of-fold forecasts, 20 days a period, off by the given log errors."""
    rows = []
    for fold, errors in enumerate(errors_by_period):
        origin = pd.Timestamp("2015-01-01") + pd.Timedelta(days=42 * fold)
        for store, error in enumerate(errors, start=1):
            for day in range(20):
                sales = 1000.0 * store + 10 * day
                rows.append({"Store": store, "Sales": sales, "fold": fold, "fold_origin": origin,
                             "forecast": sales * np.exp(-error + 0.01 * (day % 3 - 1))})  # fmt: skip
    return pd.DataFrame(rows)


def test_a_store_error_that_persists_is_found_and_carrying_it_forward_helps():
    rows = level_carry_over(_periods([[0.2, 0.0, -0.2], [0.2, 0.0, -0.2]]))

    (pair,) = rows
    assert pair["origin"] == "2015-02-12" and pair["correlation"] == pytest.approx(1.0)
    assert pair["rmspe"][1.0] < 0.02 < pair["rmspe"][0.0]  # the store errors are taken out


def test_a_store_error_that_flips_is_found_and_carrying_it_forward_hurts():
    rows = level_carry_over(_periods([[0.2, 0.0, -0.2], [-0.2, 0.0, 0.2]]))

    (pair,) = rows
    assert pair["correlation"] == pytest.approx(-1.0)
    assert pair["rmspe"][0.0] < pair["rmspe"][0.5] < pair["rmspe"][1.0]


def test_a_volatile_store_gets_a_wider_band_and_a_steady_one_a_narrower():
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(3):
        for store, noise in ((1, 0.02), (2, 0.10), (3, 0.30)):
            for day in range(42):
                error = rng.normal(0.0, noise)
                rows.append({"Store": store, "Sales": 1000.0, "forecast": 1000.0 * np.exp(error),
                             "fold": fold, "days_ahead": day})  # fmt: skip
    scales = store_scales(pd.DataFrame(rows), {1: "a", 2: "a", 3: "a"})

    assert scales[1] < 1.0 < scales[3]
    # Shrunk towards 1 by STORE_PRIOR_DAYS: 126 own days against 60.
    assert scales[1] > 0.02 / 0.10 and scales[3] < 0.30 / 0.10


def _sales(noisy_from: str, noisy_days: int, days: int = 900) -> pd.DataFrame:
    """Two stores' daily sales, steady but for ``noisy_days`` of large swings from a date."""
    rng = np.random.default_rng(1)
    dates = pd.date_range("2013-01-01", periods=days, freq="D")
    noisy = (dates >= pd.Timestamp(noisy_from)) & (
        dates < pd.Timestamp(noisy_from) + pd.Timedelta(days=noisy_days)
    )
    frames = []
    for store in (1, 2):
        swing = np.where(noisy, rng.normal(0.0, 0.4, days), rng.normal(0.0, 0.05, days))
        frames.append(pd.DataFrame({
            "Store": store, "Date": dates, "DayOfWeek": dates.day_of_week + 1, "Open": 1,
            "Promo": 0, "Sales": 1000.0 * store * np.exp(swing),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_a_period_whose_weeks_were_hard_a_year_earlier_gets_a_season_scale_above_one():
    # The weeks a year before the period (2013-06-01 on) were wild, the folds' calm.
    sales = _sales("2013-06-01", 42)
    folds = ["2014-08-30", "2014-10-11", "2014-11-22"]
    assert season_scale(sales, "2014-05-31", folds) > 3.0
    # The folds' weeks a year earlier were the wild ones: the period looks easier.
    assert season_scale(sales, "2015-03-28", ["2014-05-31", "2014-10-11"]) < 1.0
    # Too little history before the weeks a year earlier: no scale.
    assert season_scale(sales, "2013-08-01", folds) == 1.0


def test_scaling_a_band_keeps_its_median_and_stretches_the_rest():
    calibration = {"offsets": {"all": {"1": [-0.2, 0.01, 0.1]}}}
    stretched = scaled(calibration, 1.5)["offsets"]["all"]["1"]
    assert stretched == pytest.approx([0.01 - 0.21 * 1.5, 0.01, 0.01 + 0.09 * 1.5])

    quantiles = np.array([[80.0, 100.0, 120.0], [50.0, 60.0, 70.0]])
    wider = store_scaled(quantiles, np.array([7, 8]), {7: 2.0})
    assert wider[:, LEVELS.index(0.5)] == pytest.approx([100.0, 60.0])
    assert wider[0, 0] == pytest.approx(100 * 0.8**2) and wider[0, 2] == pytest.approx(100 * 1.2**2)
    assert wider[1] == pytest.approx(quantiles[1])  # a store without a scale keeps its band


def test_each_period_is_scored_by_every_variant_from_older_folds_only(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "KEDRO_ENV"}}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "calibration_study.py"), "--env", "test",
         "--n-stores", "30", "--results", str(tmp_path), "--label", "tiny"],
        env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    (path,) = tmp_path.glob("*-calibration-study-tiny.md")
    text = path.read_text()
    # Ten folds; a period needs the folds two to four periods before it: six periods, newest
    # (the six weeks before the holdout) first.
    periods = re.findall(r"^\| (\d{4}-\d{2}-\d{2}) \| ([+-]\d\.\d{3}) \|", text, re.MULTILINE)
    assert [p[0] for p in periods] == sorted((p[0] for p in periods), reverse=True)
    assert len(periods) == 6
    assert periods[0][0] == "2015-05-09"  # 42 days before the holdout (2015-06-20)
    variants = ("today", "fold_shift", "+recent", "recentred", "season", "widen", "per-store",
                "by day class")  # fmt: skip
    for variant in variants:
        (row,) = re.findall(rf"^\| {re.escape(variant)} \| ([\d.]+)% \|", text, re.MULTILINE)
        assert 0.0 < float(row) <= 100.0
    # Coverage by day class: every variant, the ordinary days always there.
    by_class = text.split("## By day class, over periods")[1]
    for variant in variants:
        (ordinary,) = re.findall(
            rf"^\| {re.escape(variant)} \|.*\| ([\d.]+)% \([\d,]+\) \|$", by_class, re.M
        )
        assert 0.0 < float(ordinary) <= 100.0
    # fold_shift only ever widens today's band.
    pattern = r"^\| (today|fold_shift|widen) \|(?:[^|]*\|){6} ([\d.]+) \|"
    widths = dict(re.findall(pattern, text, re.M))
    assert float(widths["fold_shift"]) >= float(widths["today"])
    assert float(widths["widen"]) >= float(widths["today"])  # widen never narrows
    # The point forecast's side: one row per pair of consecutive folds (ten folds: nine).
    carried = re.findall(r"^\| (\d{4}-\d{2}-\d{2}) \| ([+-]\d\.\d{2}) \| ", text, re.MULTILINE)
    assert len(carried) == 9
