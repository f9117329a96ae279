"""Forecast quantiles (P10/P50/P90 by default) by conformal calibration of the point forecast.

The method is split conformal prediction on the log ratio ``log(actual / point forecast)``:
the training run forecasts each CV fold from its own origin with boosters that never saw the
fold (the out-of-fold predictions the blend weights are fitted on), and the empirical quantiles
of those ratios, per week of horizon and store group, become multiplicative offsets of the
point forecast: ``P_tau = Sales * exp(offset_tau)``. The errors grow with the horizon and
differ by store type, and so do the bands. Nothing here sees a holdout row: the backtest the
gate scores is calibrated on the folds before its holdout, so the gate's coverage figure is
measured on days no part of the band was fitted on.

Why conformal and not quantile objectives of the boosters: it leaves the point forecast (and
its RMSPE) exactly as it is, costs no extra fit (three boosters x three quantiles would triple
training), and its calibration is honest by construction: the folds forecast days their models
did not fit. Pooling the fold a year before the forecast's weeks (``training.cv``) puts the
season's difficulty (Christmas, Easter) into the band.

Optionally (``training.quantiles.day_classes``, off by default: measured, it did not pay)
the days around a state holiday are calibrated on their own rows, read from the holiday
counters a row's features already hold.

Pure functions: numpy and pandas only, no MLflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# The parameter the levels come from, named in every refusal.
LEVELS_PARAMETER = "training.quantiles.levels"
# A week of horizon: the bands are calibrated per week after the origin (week 1 = days 0..6).
WEEK_DAYS = 7
# Every quantile column starts so: Sales_p10, Sales_p50, Sales_p90.
QUANTILE_PREFIX = "Sales_p"
# The store group of a store the calibration does not know (a store.csv row added later).
POOLED = "all"
# Day classes (``training.quantiles.day_classes``): the days around a state holiday can be
# calibrated on their own rows, the other days on theirs.
ORDINARY, HOLIDAY = "ordinary", "holiday"
# A day class's offsets are keyed so in ``offsets``, beside the store groups.
CLASS_PREFIX = "day:"
# The feature columns a row's day class is read from (model.features.feature_names).
DAY_CLASS_FEATURES = ("days_since_holiday", "days_until_holiday")


def quantile_column(level: float) -> str:
    """The answer's column of one quantile: ``Sales_p10`` for 0.1, ``Sales_p2.5`` for 0.025."""
    percent = round(float(level) * 100, 6)
    text = f"{percent:g}"
    return f"{QUANTILE_PREFIX}{text}"


def column_level(column: str) -> float:
    """The level of a quantile column: 0.1 for ``Sales_p10``."""
    return float(column.removeprefix(QUANTILE_PREFIX)) / 100


def quantile_columns(levels: Sequence[float]) -> list[str]:
    """The answer's quantile columns, in level order."""
    return [quantile_column(level) for level in levels]


def carried_quantile_columns(rows: pd.DataFrame) -> list[str]:
    """The quantile columns ``rows`` carry on every row, in level order (none: no quantiles,
    e.g. a version trained before forecasts had them)."""
    found = [
        c for c in rows.columns if str(c).startswith(QUANTILE_PREFIX) and rows[c].notna().all()
    ]
    return sorted(found, key=column_level)


def check_levels(levels: Any) -> list[float]:
    """The quantile levels, checked: a non-empty list, increasing, inside (0, 1), with 0.5.

    Raises:
        ValueError: Naming ``training.quantiles.levels`` and what is wrong with it.
    """
    where = f"Parameter {LEVELS_PARAMETER}"
    if not isinstance(levels, Sequence) or isinstance(levels, str) or not levels:
        raise ValueError(
            f"{where} must be a list of levels such as [0.1, 0.5, 0.9], not {levels!r}"
        )
    try:
        values = [float(level) for level in levels]
    except (TypeError, ValueError):
        raise ValueError(f"{where} must hold numbers, not {list(levels)!r}") from None
    outside = [v for v in values if not 0.0 < v < 1.0]
    if outside:
        raise ValueError(f"{where} must lie strictly between 0 and 1: {outside} do not")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{where} must be strictly increasing: {values} is not")
    if 0.5 not in values:
        raise ValueError(f"{where} must include 0.5 (the median, P50): {values} does not")
    return values


def interval_levels(levels: Sequence[float]) -> tuple[float, float]:
    """The outermost levels: the interval coverage and width are measured on (e.g. P10-P90)."""
    return float(levels[0]), float(levels[-1])


def horizon_week(days_ahead: np.ndarray | pd.Series) -> np.ndarray:
    """Week of horizon of each row, 1-based: days 0..6 after the origin are week 1."""
    return np.asarray(days_ahead, dtype="int64") // WEEK_DAYS + 1


def check_day_classes(settings: Any) -> dict[str, Any] | None:
    """``training.quantiles.day_classes``, checked: None (off) or ``holiday_window_days``, an
    integer >= 0.

    Raises:
        ValueError: Naming the parameter and what is wrong with it.
    """
    where = "Parameter training.quantiles.day_classes"
    if settings is None:
        return None
    if not isinstance(settings, dict) or set(settings) != {"holiday_window_days"}:
        raise ValueError(f"{where} must be null or {{holiday_window_days: N}}, not {settings!r}")
    window = settings["holiday_window_days"]
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"{where}.holiday_window_days must be an integer >= 0, not {window!r}")
    return {"holiday_window_days": window}


def day_classes(features: Any, settings: dict[str, Any] | None) -> np.ndarray:
    """Each row's day class from its features (``DAY_CLASS_FEATURES``): ``holiday`` within
    ``holiday_window_days`` of a state holiday of its store (the day itself included), else
    ``ordinary``.

    Args:
        features: A frame (or mapping) with the ``DAY_CLASS_FEATURES`` columns.
        settings: ``check_day_classes`` output; None: every row is ordinary.
    """
    since = np.asarray(features["days_since_holiday"], dtype="float64")
    classes = np.full(len(since), ORDINARY, dtype=object)
    if settings:
        window = settings["holiday_window_days"]
        until = np.asarray(features["days_until_holiday"], dtype="float64")
        classes[(since <= window) | (until <= window)] = HOLIDAY
    return classes


def fit_calibration(
    frame: pd.DataFrame,
    groups: dict[int, str],
    levels: Sequence[float],
    min_rows: int,
    fold_shift: bool = False,
    day_class_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Quantile offsets of ``log(actual / forecast)`` per week of horizon and store group.

    Args:
        frame: Out-of-fold rows: ``Store``, ``Sales`` (actual), ``forecast`` (the point
            forecast as the model makes it) and ``days_ahead`` (days after the fold's origin).
            Rows without sales (closed days) are left out, as RMSPE leaves them.
        groups: Store -> store group (its ``StoreType``), for every store the model knows.
        levels: Checked quantile levels (``check_levels``).
        min_rows: A group-week with fewer rows uses the week's offsets over all stores.
        fold_shift: Widen each week's band by half the range of the folds' median log ratios
            in that week (``frame`` then needs ``fold``): the whole chain's level is off by a
            different amount in each six-week period (the bias of the next weeks is not the
            bias of the folds), and a band fitted on pooled folds ignores that.
        day_class_settings: ``check_day_classes`` output (``frame`` then needs
            ``day_class``): the store groups are calibrated on ordinary days only, and the
            days around a state holiday get their own offsets per week (``day:holiday``),
            over all stores: a band fitted on every day alike is too wide on ordinary days
            and too narrow on these. With fewer than ``min_rows`` holiday rows in a week it
            uses those of every week, and with fewer than that in all, the week's offsets
            over all rows.

    Returns:
        JSON-ready: ``method``, ``levels``, ``weeks`` (how many were calibrated), ``groups``
        (store -> group), ``offsets`` (group -> week -> one log offset per level, ``all``
        included, and the day classes'), ``rows`` per group and week, and ``day_classes``
        (the settings a row's class is read with; None without them).

    Raises:
        ValueError: No out-of-fold row with sales and a positive forecast.
    """
    levels = check_levels(levels)
    usable = frame[(frame["Sales"] > 0) & (frame["forecast"] > 0)]
    if usable.empty:
        raise ValueError("No out-of-fold row with sales to calibrate the forecast quantiles on")
    ratio = np.log(usable["Sales"].to_numpy(dtype="float64") / usable["forecast"].to_numpy())
    week = horizon_week(usable["days_ahead"])
    group = usable["Store"].map(groups).fillna(POOLED).astype(str).to_numpy()
    weeks = int(week.max())
    offsets: dict[str, dict[str, list[float]]] = {POOLED: {}}
    rows: dict[str, dict[str, int]] = {POOLED: {}}
    for w in range(1, weeks + 1):
        in_week = week == w
        if not in_week.any():  # a gap: borrow the nearest earlier week
            offsets[POOLED][str(w)] = offsets[POOLED][str(w - 1)]
            rows[POOLED][str(w)] = 0
            continue
        offsets[POOLED][str(w)] = _offsets(ratio[in_week], levels)
        rows[POOLED][str(w)] = int(in_week.sum())
    day_class = (
        usable["day_class"].to_numpy() if day_class_settings else np.full(len(usable), ORDINARY)
    )
    ordinary = day_class == ORDINARY
    for name in sorted(set(groups.values())):
        offsets[name], rows[name] = {}, {}
        for w in range(1, weeks + 1):
            chosen = (week == w) & (group == name) & ordinary
            count = int(chosen.sum())
            rows[name][str(w)] = count
            offsets[name][str(w)] = (
                _offsets(ratio[chosen], levels) if count >= min_rows else offsets[POOLED][str(w)]
            )
    for name in (HOLIDAY,) if day_class_settings else ():
        in_class = day_class == name
        key = CLASS_PREFIX + name
        offsets[key], rows[key] = {}, {}
        for w in range(1, weeks + 1):
            chosen = in_class & (week == w)
            count = int(chosen.sum())
            rows[key][str(w)] = count
            if count < min_rows:
                chosen = in_class  # the class's rows of every week
            offsets[key][str(w)] = (
                _offsets(ratio[chosen], levels)
                if int(chosen.sum()) >= min_rows
                else offsets[POOLED][str(w)]
            )
    shifts = _fold_shifts(usable, ratio, week, weeks) if fold_shift else {}
    if shifts:
        below = np.array([-1.0 if level < 0.5 else 1.0 if level > 0.5 else 0.0 for level in levels])
        for by_week in offsets.values():
            for w, shift in shifts.items():
                by_week[w] = [float(v) for v in np.asarray(by_week[w]) + below * shift]
    return {
        "method": "split conformal on log(actual / forecast), out-of-fold CV rows"
        + (", the days around holidays apart" if day_class_settings else "")
        + (", widened by the folds' level shifts" if shifts else ""),
        "fold_shift": shifts,
        "levels": levels,
        "weeks": weeks,
        "min_rows": int(min_rows),
        "groups": {str(int(store)): str(name) for store, name in groups.items()},
        "offsets": offsets,
        "rows": rows,
        "day_classes": day_class_settings or None,
    }


def _fold_shifts(
    usable: pd.DataFrame, ratio: np.ndarray, week: np.ndarray, weeks: int
) -> dict[str, float]:
    """Per week of horizon: half the range of the folds' median log ratios (0 with one fold)."""
    folds = usable["fold"].to_numpy()
    shifts = {}
    for w in range(1, weeks + 1):
        medians = [
            float(np.median(ratio[(week == w) & (folds == fold)]))
            for fold in np.unique(folds[week == w])
        ]
        shifts[str(w)] = (max(medians) - min(medians)) / 2 if medians else 0.0
    return shifts


def _offsets(ratio: np.ndarray, levels: Sequence[float]) -> list[float]:
    """Empirical quantiles of the log ratios: monotone in the level by construction."""
    values = np.quantile(ratio, levels, method="linear")
    return [float(v) for v in np.maximum.accumulate(values)]


def apply_calibration(
    calibration: dict[str, Any],
    stores: np.ndarray,
    days_ahead: np.ndarray,
    point: np.ndarray,
    classes: np.ndarray | None = None,
) -> np.ndarray:
    """Quantiles of each row: ``point * exp(offset)`` of its store group and week of horizon.

    A week past the calibrated ones takes the last week's offsets (such rows are marked beyond
    the validated horizon by the model); a store not in ``groups`` takes the pooled offsets;
    a closed row (point forecast 0) gets 0 at every level. With a calibration by day class
    (``day_classes``) and each row's class (``day_classes()``), a row around a holiday takes
    the holiday offsets instead of its store group's.

    Returns:
        An array of shape ``(rows, levels)``, non-decreasing along each row.
    """
    levels = calibration["levels"]
    weeks = int(calibration["weeks"])
    store_groups = calibration["groups"]
    week = np.clip(horizon_week(np.maximum(days_ahead, 0)), 1, weeks)
    group = np.array([store_groups.get(str(int(s)), POOLED) for s in stores], dtype=object)
    if classes is not None and calibration.get("day_classes"):
        special = np.asarray(classes, dtype=object) != ORDINARY
        keyed = np.char.add(CLASS_PREFIX, np.asarray(classes, dtype=str))
        known = np.isin(keyed, list(calibration["offsets"]))
        group = np.where(special & known, keyed.astype(object), group)
    table = np.zeros((len(point), len(levels)), dtype="float64")
    for name, by_week in calibration["offsets"].items():
        in_group = group == name
        if not in_group.any():
            continue
        for w, offsets in by_week.items():
            chosen = in_group & (week == int(w))
            if chosen.any():
                table[chosen] = np.asarray(offsets, dtype="float64")
    return np.asarray(point, dtype="float64")[:, None] * np.exp(table)


def interval_scores(
    actual: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float],
    days_ahead: np.ndarray | None = None,
) -> dict[str, float]:
    """Coverage and sharpness of forecast quantiles against actual sales (days with sales only).

    - ``interval_coverage``: share of store-days whose actual lies inside the outer interval
      (P10..P90 by default, bounds included), and ``interval_coverage_week<k>`` per week of
      horizon when ``days_ahead`` is given;
    - ``interval_width``: mean of ``(upper - lower) / P50``: how wide the band is, relatively;
    - ``quantile_loss``: the weighted quantile loss (Amazon Forecast's wQL, mean over levels):
      ``2 * sum(pinball_tau) / sum(actual)``; lower is better, and it punishes both a band
      that misses and one that is needlessly wide.

    Raises:
        ValueError: No row with sales, or the shapes do not match the levels.
    """
    actual = np.asarray(actual, dtype="float64")
    quantiles = np.asarray(quantiles, dtype="float64")
    if quantiles.shape != (len(actual), len(levels)):
        raise ValueError(
            f"quantiles must have shape ({len(actual)}, {len(levels)}), not {quantiles.shape}"
        )
    keep = actual > 0
    if not keep.any():
        raise ValueError("no row has actual sales > 0: coverage is measured on days with sales")
    y, q = actual[keep], quantiles[keep]
    lower, upper = q[:, 0], q[:, -1]
    median = q[:, list(levels).index(0.5)]
    inside = (y >= lower) & (y <= upper)
    scores = {
        "interval_coverage": float(inside.mean()),
        "interval_width": float(np.mean((upper - lower) / np.where(median > 0, median, np.nan))),
        "quantile_loss": weighted_quantile_loss(y, q, levels),
    }
    if days_ahead is not None:
        week = horizon_week(np.asarray(days_ahead)[keep])
        for w in np.unique(week):
            scores[f"interval_coverage_week{int(w)}"] = float(inside[week == w].mean())
    return scores


def weighted_quantile_loss(y: np.ndarray, quantiles: np.ndarray, levels: Sequence[float]) -> float:
    """Mean over levels of ``2 * sum(pinball loss) / sum(|y|)`` (Amazon Forecast's wQL)."""
    total = np.abs(y).sum()
    losses = []
    for column, level in enumerate(levels):
        error = y - quantiles[:, column]
        pinball = np.maximum(level * error, (level - 1) * error)
        losses.append(2.0 * pinball.sum() / total)
    return float(np.mean(losses))


def naive_quantiles(
    history: pd.DataFrame, rows: pd.DataFrame, levels: Sequence[float]
) -> np.ndarray:
    """A naive interval to compare the bands with: each store's empirical quantiles of its
    sales on open days with sales, by weekday and promo, over ``history``.

    Rows whose (Store, DayOfWeek, Promo) has no history take the store's quantiles; closed
    rows get 0.

    Returns:
        An array of shape ``(rows, levels)``.
    """
    sold = history[(history["Sales"] > 0)]
    key = ["Store", "DayOfWeek", "Promo"]
    by_key = sold.groupby(key)["Sales"].quantile(list(levels)).unstack()
    by_store = sold.groupby("Store")["Sales"].quantile(list(levels)).unstack()
    joined = rows[key].merge(by_key, left_on=key, right_index=True, how="left")
    values = joined[list(by_key.columns)].to_numpy(dtype="float64")
    fallback = rows[["Store"]].merge(by_store, left_on="Store", right_index=True, how="left")
    values = np.where(np.isnan(values), fallback[list(by_store.columns)].to_numpy(), values)
    closed = rows["Open"].to_numpy() == 0 if "Open" in rows else np.zeros(len(rows), bool)
    values[closed] = 0.0
    return np.nan_to_num(values, nan=0.0)
