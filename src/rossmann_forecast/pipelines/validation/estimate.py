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
from rossmann_forecast.comparison import check_production_bootstrap, check_store_check
from rossmann_forecast.metrics import rmspe
from rossmann_forecast.registry.stages import GATE_METRIC

HOLDOUT = "holdout"
SEASON, HOLDOUT_SEASON = "forecast weeks a year earlier", "holdout weeks a year earlier"
ESTIMATES = (
    "holdout",
    "pooled",
    "season_ratio",
    "baseline_ratio",
    "damped_baseline_ratio",
    "tempered_baseline_ratio",
)
# The estimate whose exponent conf sets (``validation.baseline_ratio_exponent``).
TEMPERED = "tempered_baseline_ratio"
# validation.production_comparison -> the holdout metric the candidate and Production are
# compared on: as forecast, or each at its best constant scale on the holdout.
PRODUCTION_COMPARISONS = {"rmspe": GATE_METRIC, "rescaled": f"{GATE_METRIC}_rescaled"}
# season_window's keys -> the window's name in the verdict.
_YEAR_EARLIER = {"season": SEASON, "holdout_season": HOLDOUT_SEASON}
# How far the median baseline's seasonal ratio carries into the model's estimate.
EXPONENT_PARAMETER = "validation.baseline_ratio_exponent"
# The parameter that says when the season changes, named in its refusal.
SEASON_CHANGE_PARAMETER = "validation.season_change_factor"
# The likely range of what the next weeks will score, as factors of the estimate.
RANGE_PARAMETER = "validation.estimate_range"
# How the range widens for a chain of fewer stores than the factors were measured on.
RANGE_STORES_PARAMETER = "validation.estimate_range_stores"


def check_season_change(factor: Any) -> float | None:
    """``validation.season_change_factor``, checked: ``None`` (always carry the holdout into
    the forecast's season) or a number above 1.

    Raises:
        ValueError: Naming the parameter and what is wrong with it.
    """
    if factor is None:
        return None
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 1:
        raise ValueError(
            f"Parameter {SEASON_CHANGE_PARAMETER} must be a number above 1 (such as 1.6) or "
            f"null, not {factor!r}"
        )
    return float(factor)


def check_exponent(exponent: Any) -> float | None:
    """``validation.baseline_ratio_exponent``, checked: ``None`` or a number in (0, 1] (0
    would be the holdout alone, 1 ``baseline_ratio``).

    Raises:
        ValueError: Naming the parameter and what is wrong with it.
    """
    if exponent is None:
        return None
    if isinstance(exponent, bool) or not isinstance(exponent, int | float) or not 0 < exponent <= 1:
        raise ValueError(
            f"Parameter {EXPONENT_PARAMETER} must be a number in (0, 1] (such as 0.25) or "
            f"null, not {exponent!r}"
        )
    return float(exponent)


def check_estimate_range(factors: Any) -> tuple[float, float] | None:
    """``validation.estimate_range``, checked: ``None`` (no range) or two factors of the
    estimate, ``[low, high]`` with ``0 < low <= 1 <= high``.

    Raises:
        ValueError: Naming the parameter and what is wrong with it.
    """
    if factors is None:
        return None
    where = f"Parameter {RANGE_PARAMETER}"
    if (
        isinstance(factors, str | bytes)
        or not hasattr(factors, "__len__")
        or len(factors) != 2
        or any(isinstance(f, bool) or not isinstance(f, int | float) for f in factors)
    ):
        raise ValueError(f"{where} must be two factors such as [0.8, 1.2] or null, not {factors!r}")
    low, high = float(factors[0]), float(factors[1])
    if not 0 < low <= 1 <= high or not np.isfinite(high):
        raise ValueError(
            f"{where} must hold a low factor in (0, 1] and a high factor of at least 1 (the "
            f"range holds the estimate), not {list(factors)!r}"
        )
    return low, high


def check_range_stores(setting: Any) -> dict[str, float] | None:
    """``validation.estimate_range_stores``, checked: ``None`` (the factors as they are) or
    ``{reference: <stores the factors were measured on, at least 2>, z: <a number above 0>}``.

    Raises:
        ValueError: Naming the parameter and what is wrong with it.
    """
    if setting is None:
        return None
    where = f"Parameter {RANGE_STORES_PARAMETER}"
    if not isinstance(setting, dict) or set(setting) != {"reference", "z"}:
        raise ValueError(f"{where} must be {{reference: 82, z: 1.28}} or null, not {setting!r}")
    reference, z = setting["reference"], setting["z"]
    if isinstance(reference, bool) or not isinstance(reference, int) or reference < 2:
        raise ValueError(
            f"{where}.reference must be a whole number of stores >= 2, not {reference!r}"
        )
    if isinstance(z, bool) or not isinstance(z, int | float) or not 0 < z < np.inf:
        raise ValueError(f"{where}.z must be a number above 0, not {z!r}")
    return {"reference": int(reference), "z": float(z)}


def store_spread(predictions: pd.DataFrame) -> dict[str, Any]:
    """How much the holdout's RMSPE owes to which stores the chain has: its relative standard
    error over stores.

    RMSPE squared is a ratio of two sums over stores (squared percentage errors over rows),
    so its variance over a draw of as many stores is the ratio estimator's (the delta method:
    ``S / (S - 1) * sum((a_s - m * n_s)^2) / (sum n_s)^2``), and RMSPE's relative error is half
    the square's. A few stores that carry most of the error (a month-long dip, a reopening)
    make it large; it shrinks as the square root of the stores. Deterministic, no resampling.

    Returns:
        ``stores`` (stores with a sale in the holdout) and ``spread`` (NaN below two stores or
        without an error).
    """
    rows = predictions.loc[predictions["Sales"] > 0]
    actual = rows["Sales"].to_numpy(dtype="float64")
    squares = ((actual - rows["prediction"].to_numpy(dtype="float64")) / actual) ** 2
    per_store = pd.DataFrame({"Store": rows["Store"].to_numpy(), "a": squares}).groupby("Store")
    a, n = per_store["a"].sum().to_numpy(), per_store["a"].size().to_numpy(dtype="float64")
    stores = len(a)
    mean = a.sum() / n.sum() if stores else float("nan")
    if stores < 2 or not mean > 0:
        return {"stores": stores, "spread": float("nan")}
    variance = stores / (stores - 1) * ((a - mean * n) ** 2).sum() / n.sum() ** 2
    return {"stores": stores, "spread": float(0.5 * np.sqrt(variance) / mean)}


def estimate_range(
    figure: float,
    factors: Any,
    spread: dict[str, Any] | None = None,
    stores_setting: Any = None,
) -> dict[str, Any] | None:
    """The likely range of the RMSPE the next weeks will score: ``figure`` times each factor
    (``validation.estimate_range``, measured over the rolling benchmark's origins), or
    ``None`` without factors or a finite figure.

    The factors were measured on a chain of ``stores_setting["reference"]`` stores, so they
    hold that many stores' share of the noise (which stores carry a window's error). A chain
    of fewer stores has more of it: with the holdout's ``spread`` (``store_spread``) at its
    ``stores``, the same stores' spread at the reference is ``spread * sqrt(stores /
    reference)``, and each factor's distance from 1, on the log scale, grows by ``z`` times
    the difference (added in quadrature). A chain of as many stores or more keeps the factors
    as measured: narrowing them would claim what nothing measured. Either way the record
    holds ``stores``, ``store_spread`` and the factors used (``widened_factors``: the measured
    ones from ``reference`` stores up).
    """
    checked = check_estimate_range(factors)
    if checked is None or not np.isfinite(figure):
        return None
    low, high = checked
    likely: dict[str, Any] = {"factors": [low, high]}
    setting = check_range_stores(stores_setting)
    if setting is not None and spread is not None and np.isfinite(spread["spread"]):
        stores, reference = int(spread["stores"]), setting["reference"]
        if stores < reference:
            extra = (setting["z"] * spread["spread"]) ** 2 * (1 - stores / reference)
            low = float(np.exp(-np.sqrt(np.log(low) ** 2 + extra)))
            high = float(np.exp(np.sqrt(np.log(high) ** 2 + extra)))
        likely.update(
            stores=stores,
            reference_stores=reference,
            store_spread=float(spread["spread"]),
            widened_factors=[low, high],
        )
    return {"low": float(figure * low), "high": float(figure * high), **likely}


def check_estimate_settings(validation: dict[str, Any]) -> float | None:
    """``validation.estimate``, ``estimate_fallback``, ``baseline_ratio_exponent`` (needed
    when either is ``tempered_baseline_ratio``), ``season_change_factor``,
    ``estimate_range``, ``estimate_range_stores``, ``production_comparison``,
    ``production_bootstrap`` and ``store_check``, checked.

    Returns:
        The season-change factor (``check_season_change``).

    Raises:
        ValueError: Naming the parameter and what is wrong with it.
    """
    for name in ("estimate", "estimate_fallback"):
        value = validation.get(name, "holdout")
        if value not in ESTIMATES:
            raise ValueError(
                f"Parameter validation.{name} must be one of {list(ESTIMATES)}, not {value!r}"
            )
        if value == TEMPERED and check_exponent(validation.get("baseline_ratio_exponent")) is None:
            raise ValueError(
                f"Parameter validation.{name} is {TEMPERED}, which needs {EXPONENT_PARAMETER} "
                "(a number in (0, 1], such as 0.25)"
            )
    check_exponent(validation.get("baseline_ratio_exponent"))
    comparison = validation.get("production_comparison", "rmspe")
    if comparison not in PRODUCTION_COMPARISONS:
        raise ValueError(
            "Parameter validation.production_comparison must be one of "
            f"{list(PRODUCTION_COMPARISONS)}, not {comparison!r}"
        )
    check_estimate_range(validation.get("estimate_range"))
    check_range_stores(validation.get("estimate_range_stores"))
    check_production_bootstrap(validation.get("production_bootstrap"))
    check_store_check(validation.get("store_check"))
    return check_season_change(validation.get("season_change_factor"))


def season_change(windows: list[dict[str, Any]], factor: float | None) -> dict[str, Any] | None:
    """Whether the forecast's weeks are another season than the holdout's weeks.

    The median baseline's RMSPE on the forecast's weeks a year earlier over its RMSPE on the
    holdout's weeks a year earlier (``ratio``) says how much harder the coming weeks are for a
    model that needs little history. Within ``factor`` either way the season does not change
    (``changes`` false): the holdout is the same kind of weeks as the forecast's, and the
    folds a year earlier, fitted with a year less data than the served version, add their
    pessimism and their noise and nothing else. Beyond it (Christmas ahead, or behind) the
    holdout is the wrong season, and the estimate carries it into the forecast's.

    Returns:
        ``None`` without the windows a year earlier, a factor or a baseline on both; else
        ``ratio``, ``factor``, ``changes``.
    """
    named = {w["name"]: w for w in windows}
    season, before = named.get(SEASON), named.get(HOLDOUT_SEASON)
    if factor is None or season is None or before is None:
        return None
    ratio = season["baseline_rmspe"] / before["baseline_rmspe"]
    if not np.isfinite(ratio) or not ratio > 0:
        return None
    return {
        "ratio": float(ratio),
        "factor": float(factor),
        "changes": bool(not 1 / factor <= ratio <= factor),
    }


def configured_method(
    windows: list[dict[str, Any]],
    method: str,
    fallback: str,
    unlearnt: bool,
    factor: float | None,
) -> tuple[str, dict[str, Any] | None]:
    """The way the gate makes its estimate from these windows, as conf configures it.

    The holdout alone when the season does not change (``season_change``); else ``method``,
    or ``fallback`` where the forecast-weeks fold had never seen those weeks (``unlearnt``).
    The rolling benchmark calls this too, so that its ``conf`` column is the gate's rule.

    Returns:
        The method and the ``season_change`` record.
    """
    change = season_change(windows, factor)
    if change is not None and not change["changes"]:
        return "holdout", change
    if unlearnt and method != fallback:
        return fallback, change
    return method, change


def estimate_windows(
    holdout_scores: dict[str, float],
    holdout_table: pd.DataFrame,
    sales_train_window: pd.DataFrame,
    year_earlier: dict[str, Any],
    block_days: int,
    method: str,
    fallback: str = "holdout",
    season_change_factor: float | None = None,
    exponent: float | None = None,
) -> dict[str, Any]:
    """The gate's estimate of the next weeks, from the holdout and the folds a year earlier.

    Returns:
        ``method``, ``rmspe`` (the estimate), ``baseline_rmspe`` (the median baseline's, made
        the same way from the same windows), ``skill`` (their ratio), ``windows``: what each
        window is, its dates, rows, RMSPE and baseline RMSPE, and ``season_change``: how much
        harder the forecast's weeks were than the holdout's for the baseline a year earlier,
        and whether that counts as another season (``configured_method``).
    """
    factor = check_estimate_settings(
        {"estimate": method, "estimate_fallback": fallback,
         "season_change_factor": season_change_factor, "baseline_ratio_exponent": exponent}
    )  # fmt: skip
    windows = [_holdout_window(holdout_scores, holdout_table, sales_train_window)]
    if year_earlier["found"]:
        windows += _year_earlier_windows(year_earlier, sales_train_window, block_days)
    found = len(windows) > 1
    unlearnt = found and not year_earlier.get("learnt", True)
    chosen, change = configured_method(windows, method, fallback, unlearnt, factor)
    note = unlearnt_note = None
    if change is not None:
        hard = (
            f"the median baseline found the forecast's weeks a year earlier {change['ratio']:.2f} "
            "times as hard as the holdout's weeks"
        )
        note = (
            f"{hard}, beyond the factor {factor:g} either way: another season, so the estimate "
            f"carries the holdout into it by {chosen}"
            if change["changes"]
            else f"{hard}, within the factor {factor:g} either way: the same season, so the "
            "estimate is the holdout alone"
        )
    same_season = change is not None and not change["changes"]
    if unlearnt and method != fallback and not same_season:
        unlearnt_note = (
            f"the fold of the forecast's weeks a year earlier ({windows[1]['start']}) was trained "
            f"from {year_earlier.get('training_start')}, less than a year before it: it had never "
            f"seen those weeks, so the estimate is made by {fallback}"
        )
    estimate = estimate_from_windows(chosen, windows, exponent=exponent)
    baseline_estimate = estimate_from_windows(chosen, windows, "baseline_rmspe", exponent)
    return {
        "method": chosen if found else "holdout",
        "unlearnt_season": unlearnt_note,
        "season_change": change,
        "note": note,
        "rmspe": estimate,
        "baseline_rmspe": baseline_estimate,
        "skill": estimate / baseline_estimate,
        "windows": windows,
        # The other ways, for the record (the rolling benchmark compares them over origins).
        "alternatives": alternatives(windows, exponent),
        "season_missing": None if found else year_earlier["why"],
    }


def estimate_from_windows(
    method: str,
    windows: list[dict[str, Any]],
    key: str = "rmspe",
    exponent: float | None = None,
) -> float:
    """The estimate by ``method`` from a gate's ``windows`` (as its verdict records them).

    ``key`` is ``rmspe`` (the candidate's) or ``baseline_rmspe`` (the median baseline's, made
    the same way, for the skill); ``exponent`` is ``validation.baseline_ratio_exponent``, which
    ``tempered_baseline_ratio`` needs. The gate makes its estimate with it, and the rolling
    benchmark uses it to compare every method on the same recorded windows.
    """
    named = {w["name"]: w for w in windows}
    season, before = named.get(SEASON), named.get(HOLDOUT_SEASON)
    return _combine(method, named[HOLDOUT], season, before, key, exponent)


def alternatives(windows: list[dict[str, Any]], exponent: float | None) -> dict[str, float]:
    """Every way of making the estimate from ``windows`` (``tempered_baseline_ratio`` only
    with an exponent), for the record: the rolling benchmark compares them over origins."""
    return {
        m: estimate_from_windows(m, windows, exponent=exponent)
        for m in ESTIMATES
        if m != TEMPERED or exponent is not None
    }


def _combine(
    method: str,
    holdout: dict,
    season: dict | None,
    before: dict | None,
    key: str,
    exponent: float | None = None,
) -> float:
    """One way of carrying the holdout's figure into the forecast's season (see conf).

    The ratios measure how much harder the forecast's weeks were than the holdout's weeks a
    year earlier: for the same procedure (``season_ratio``), or for the median baseline
    (``baseline_ratio``), which needs little history, so that a fold a year earlier that had
    too little data to learn a season from (the data's first Christmas) does not count as the
    season's difficulty. The model's error does not grow as fast as the baseline's with the
    season (it learns Christmas; the baseline cannot), so the baseline's ratio is tempered:
    raised to ``exponent`` (``tempered_baseline_ratio``) or to 0.5
    (``damped_baseline_ratio``).
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
    elif method == TEMPERED:
        checked = check_exponent(exponent)
        if checked is None:
            raise ValueError(f"{TEMPERED} needs {EXPONENT_PARAMETER} (a number in (0, 1])")
        ratio = ratio**checked
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
