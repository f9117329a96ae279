"""The calibration study: one real run on tiny data, each period calibrated on older folds."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from calibration_study import ROOT, level_carry_over


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
    for variant in ("today", "fold_shift", "+recent", "recentred"):
        (row,) = re.findall(rf"^\| {re.escape(variant)} \| ([\d.]+)% \|", text, re.MULTILINE)
        assert 0.0 < float(row) <= 100.0
    # fold_shift only ever widens today's band.
    widths = dict(re.findall(r"^\| (today|fold_shift) \|(?:[^|]*\|){6} ([\d.]+) \|", text, re.M))
    assert float(widths["fold_shift"]) >= float(widths["today"])
    # The point forecast's side: one row per pair of consecutive folds (ten folds: nine).
    carried = re.findall(r"^\| (\d{4}-\d{2}-\d{2}) \| ([+-]\d\.\d{2}) \| ", text, re.MULTILINE)
    assert len(carried) == 9
