"""The calibration study: one real run on tiny data, each period calibrated on older folds."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from calibration_study import ROOT


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
