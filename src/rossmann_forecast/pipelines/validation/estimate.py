"""The gate's estimate of the next weeks: the holdout carried into the forecast's season.

The served version forecasts the 42 days after train.csv; the holdout is the 42 days before
them. The CV folds that forecast the same calendar weeks a year earlier (``season_window``) say
how much harder the forecast's weeks are than the holdout's. Each of ``ESTIMATES`` is a way of
combining the windows (``validation.estimate`` in conf picks one); the gate records the windows
so that the rolling benchmark can recompute every way from them (``estimate_from_windows``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.baseline import median_baseline
from rossmann_forecast.metrics import rmspe
from rossmann_forecast.registry.stages import GATE_METRIC

HOLDOUT = "holdout"
SEASON, HOLDOUT_SEASON = "forecast weeks a year earlier", "holdout weeks a year earlier"
ESTIMATES = ("holdout", "pooled", "season_ratio", "baseline_ratio", "damped_baseline_ratio")
# season_window's keys -> the window's name in the verdict.
_YEAR_EARLIER = {"season": SEASON, "holdout_season": HOLDOUT_SEASON}


def estimate_windows(
    holdout_scores: dict[str, float],
    holdout_table: pd.DataFrame,
    sales_train_window: pd.DataFrame,
    year_earlier: dict[str, Any],
    block_days: int,
    method: str,
    fallback: str = "holdout",
) -> dict[str, Any]:
    """The gate's estimate of the next weeks, from the holdout and the folds a year earlier.

    Returns:
        ``method``, ``rmspe`` (the estimate), ``baseline_rmspe`` (the median baseline's, made
        the same way from the same windows), ``skill`` (their ratio) and ``windows``: what each
        window is, its dates, rows, RMSPE and baseline RMSPE.
    """
    for name, value in (("estimate", method), ("estimate_fallback", fallback)):
        if value not in ESTIMATES:
            raise ValueError(f"validation.{name} must be one of {list(ESTIMATES)}, not {value!r}")
    windows = [_holdout_window(holdout_scores, holdout_table, sales_train_window)]
    if year_earlier["found"]:
        windows += _year_earlier_windows(year_earlier, sales_train_window, block_days)
    found = len(windows) > 1
    unlearnt = None
    if found and not year_earlier.get("learnt", True) and method != fallback:
        unlearnt = (
            f"the fold of the forecast's weeks a year earlier ({windows[1]['start']}) was trained "
            f"from {year_earlier.get('training_start')}, less than a year before it: it had never "
            f"seen those weeks, so the estimate is made by {fallback}"
        )
        method = fallback
    estimate = estimate_from_windows(method, windows)
    baseline_estimate = estimate_from_windows(method, windows, "baseline_rmspe")
    return {
        "method": method if found else "holdout",
        "unlearnt_season": unlearnt,
        "rmspe": estimate,
        "baseline_rmspe": baseline_estimate,
        "skill": estimate / baseline_estimate,
        "windows": windows,
        # The other ways, for the record (the rolling benchmark compares them over origins).
        "alternatives": {m: estimate_from_windows(m, windows) for m in ESTIMATES},
        "season_missing": None if found else year_earlier["why"],
    }


def estimate_from_windows(method: str, windows: list[dict[str, Any]], key: str = "rmspe") -> float:
    """The estimate by ``method`` from a gate's ``windows`` (as its verdict records them).

    ``key`` is ``rmspe`` (the candidate's) or ``baseline_rmspe`` (the median baseline's, made
    the same way, for the skill). The gate makes its estimate with it, and the rolling
    benchmark uses it to compare every method on the same recorded windows.
    """
    named = {w["name"]: w for w in windows}
    return _combine(method, named[HOLDOUT], named.get(SEASON), named.get(HOLDOUT_SEASON), key)


def _combine(
    method: str, holdout: dict, season: dict | None, before: dict | None, key: str
) -> float:
    """One way of carrying the holdout's figure into the forecast's season (see conf).

    The ratios measure how much harder the forecast's weeks were than the holdout's weeks a
    year earlier: for the same procedure (``season_ratio``), or for the median baseline
    (``baseline_ratio``, and its square root ``damped_baseline_ratio``), which needs little
    history, so that a fold a year earlier that had too little data to learn a season from
    (the data's first Christmas) does not count as the season's difficulty.
    """
    if method == "holdout" or season is None or before is None:
        return float(holdout[key])
    if method == "pooled":
        return _pooled([holdout, season], key)
    source = "rmspe" if method == "season_ratio" else "baseline_rmspe"
    if not before[source] > 0 or not np.isfinite(season[source]):  # no yardstick: pool
        return _pooled([holdout, season], key)
    ratio = season[source] / before[source]
    if method == "damped_baseline_ratio":
        ratio = np.sqrt(ratio)
    return float(holdout[key] * ratio)


def _pooled(windows: list[dict[str, Any]], key: str) -> float:
    """RMSPE over the union of the windows' rows, from each window's RMSPE and row count."""
    rows = np.array([w["rows"] for w in windows], dtype="float64")
    squares = np.array([w[key] for w in windows], dtype="float64") ** 2
    return float(np.sqrt((rows * squares).sum() / rows.sum()))


def _holdout_window(
    holdout_scores: dict[str, float], holdout_table: pd.DataFrame, sales_train_window: pd.DataFrame
) -> dict[str, Any]:
    """The holdout as a window: the candidate's backtest's RMSPE and the median baseline's."""
    start = holdout_table["Date"].min()
    history = pd.concat([sales_train_window, holdout_table], ignore_index=True)
    baseline = _window_baseline(history, start, int(holdout_table["Date"].nunique()))
    return {
        "name": HOLDOUT,
        "start": str(start.date()),
        "end": str(holdout_table["Date"].max().date()),
        "rows": int((holdout_table["Sales"] > 0).sum()),
        "rmspe": float(holdout_scores[GATE_METRIC]),
        "baseline_rmspe": baseline["rmspe"],
        "model": "the candidate's backtest",
    }


def _year_earlier_windows(
    year_earlier: dict[str, Any], sales_train_window: pd.DataFrame, block_days: int
) -> list[dict[str, Any]]:
    """The candidate's CV folds a year before the forecast and the holdout, as windows."""
    windows = []
    for key, name in _YEAR_EARLIER.items():
        fold = year_earlier[key]
        origin = pd.Timestamp(fold["origin"])
        baseline = _window_baseline(sales_train_window, origin, block_days)
        windows.append(
            {
                "name": name,
                "start": fold["origin"],
                "end": str((origin + pd.Timedelta(days=block_days - 1)).date()),
                "rows": fold["rows"],
                "rmspe": fold["rmspe"],
                "baseline_rmspe": baseline["rmspe"],
                "model": f"the candidate's CV {fold['fold']}",
            }
        )
    return windows


def _window_baseline(history: pd.DataFrame, start: pd.Timestamp, days: int) -> dict[str, Any]:
    """The median baseline fitted before ``start``, scored on the ``days`` after it."""
    dates = history["Date"]
    rows = history.loc[(dates >= start) & (dates < start + pd.Timedelta(days=days))]
    rows = rows.loc[(rows["Open"] == 1) & (rows["Sales"] > 0)]
    forecast = median_baseline(history.loc[dates < start], rows)
    known = np.isfinite(forecast)
    if not known.any():  # no store of the window sold before it: no baseline to compare with
        return {"rmspe": float("nan"), "rows": 0}
    return {
        "rmspe": rmspe(rows["Sales"].to_numpy()[known], forecast[known]),
        "rows": int(known.sum()),
    }
