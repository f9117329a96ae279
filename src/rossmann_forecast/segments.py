"""Accuracy by segment: where a forecast goes wrong cannot hide in the average.

The segments a retail forecast is judged on (store type, assortment, weekday, promo, the days
around a state holiday, the first days after a closure, Christmas, Easter and the summer
school holidays) are derived here from the calendar alone, so the rolling benchmark
(``scripts/rolling_benchmark.py``) and the review report build the same table.

Pure pandas: no I/O, no MLflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dateutil.easter import easter

from rossmann_forecast.metrics import mean_percentage_error, rmspe
from rossmann_forecast.model.intervals import (
    carried_quantile_columns,
    column_level,
    interval_scores,
)

# How close to an event a day must be to count as "around" it.
HOLIDAY_WINDOW_DAYS = 3
CLOSURE_MIN_DAYS = 3
AFTER_CLOSURE_DAYS = 7
EASTER_WINDOW_DAYS = 7
WEEKDAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


def _days(dates: pd.Series) -> np.ndarray:
    return ((dates - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1)).to_numpy(dtype="int64")


def _near_state_holiday(calendar: pd.DataFrame, window: int) -> pd.Series:
    """Per (Store, Date): a state holiday of the store within ``window`` days, not the day itself."""
    ordered = calendar.sort_values(["Store", "Date"])
    day = pd.Series(_days(ordered["Date"]), index=ordered.index, dtype="float64")
    holiday = ordered["StateHoliday"].astype(str) != "0"
    event = day.where(holiday.to_numpy())
    last = event.groupby(ordered["Store"]).ffill()
    following = event.groupby(ordered["Store"]).bfill()
    near = ((day - last) <= window) | ((following - day) <= window)
    return (near & ~holiday).reindex(calendar.index)


def _after_closure(calendar: pd.DataFrame, min_days: int, after_days: int) -> pd.Series:
    """Per (Store, Date): within ``after_days`` of reopening after ``min_days`` or more shut.

    A store is shut on a day with ``Open == 0`` or with no row at all (a refurbishment gap).
    """
    opened = calendar.loc[calendar["Open"] == 1, ["Store", "Date"]].sort_values(["Store", "Date"])
    day = pd.Series(_days(opened["Date"]), index=opened.index)
    gap = day - day.groupby(opened["Store"]).shift()  # days since the previous open day
    reopen = day.where(gap > min_days)  # more than min_days-1 shut days in between
    last_reopen = reopen.groupby(opened["Store"]).ffill()
    flag = ((day - last_reopen) < after_days).reindex(calendar.index)
    return flag.fillna(False).astype(bool)


def _easter_days(dates: pd.Series, window: int) -> np.ndarray:
    years = sorted(set(dates.dt.year))
    sundays = np.array([_days(pd.Series([pd.Timestamp(easter(y))]))[0] for y in years])
    days = _days(dates)
    return (np.abs(days[:, None] - sundays[None, :]) <= window).any(axis=1)


def label_segments(
    rows: pd.DataFrame, stores: pd.DataFrame, calendar: pd.DataFrame
) -> pd.DataFrame:
    """The segment each scored row belongs to, one column per segmentation.

    Args:
        rows: Scored rows with ``Store``, ``Date``, ``DayOfWeek``, ``Promo`` (and the forecast).
        stores: store.csv (``Store``, ``StoreType``, ``Assortment``).
        calendar: Every known row of the stores (``Store``, ``Date``, ``Open``, ``StateHoliday``):
            train.csv and the forecast rows together, so that a closure just before the
            forecast window is seen.

    Returns:
        ``rows`` with ``StoreType``, ``Assortment``, ``weekday``, ``promo``, ``holiday``,
        ``after_closure`` and ``season`` added.
    """
    calendar = calendar[["Store", "Date", "Open", "StateHoliday"]].drop_duplicates(
        ["Store", "Date"], keep="last"
    )
    calendar = calendar.reset_index(drop=True)
    flags = calendar[["Store", "Date"]].assign(
        near_holiday=_near_state_holiday(calendar, HOLIDAY_WINDOW_DAYS).to_numpy(),
        after_closure=_after_closure(calendar, CLOSURE_MIN_DAYS, AFTER_CLOSURE_DAYS).to_numpy(),
    )
    out = rows.drop(columns=["StoreType", "Assortment"], errors="ignore").merge(
        stores[["Store", "StoreType", "Assortment"]], on="Store", how="left"
    )
    out = out.merge(flags, on=["Store", "Date"], how="left")
    date = out["Date"]
    christmas = ((date.dt.month == 12) & (date.dt.day >= 1)) | (
        (date.dt.month == 1) & (date.dt.day <= 10)
    )
    summer = date.dt.month.isin([7, 8]) & (out.get("SchoolHoliday", 0) == 1)
    season = np.select(
        [christmas.to_numpy(), _easter_days(date, EASTER_WINDOW_DAYS), summer.to_numpy()],
        ["Christmas (1 Dec - 10 Jan)", "Easter (±7 days)", "summer school holidays"],
        default="other days",
    )
    return out.assign(
        StoreType="StoreType " + out["StoreType"].astype(str),
        Assortment="Assortment " + out["Assortment"].astype(str),
        weekday=out["DayOfWeek"].astype(int).map(WEEKDAYS),
        promo=np.where(out["Promo"].astype(int) == 1, "promo", "no promo"),
        holiday=np.where(
            out["near_holiday"].fillna(False).astype(bool),
            f"±{HOLIDAY_WINDOW_DAYS} days of a state holiday",
            "other days",
        ),
        after_closure=np.where(
            out["after_closure"].fillna(False).astype(bool),
            f"first {AFTER_CLOSURE_DAYS} days after {CLOSURE_MIN_DAYS}+ days shut",
            "other days",
        ),
        season=season,
    ).drop(columns=["near_holiday"])


SEGMENTATIONS = (
    "StoreType",
    "Assortment",
    "weekday",
    "promo",
    "holiday",
    "after_closure",
    "season",
)


def segment_table(
    labelled: pd.DataFrame, prediction: str = "prediction", baseline: str | None = None
) -> pd.DataFrame:
    """RMSPE, bias and row count per segment (rows with positive sales only), and how well
    the forecast quantiles cover each segment when the rows carry them.

    A band calibrated on the folds' store-days as a whole can hold 80% of them overall while
    it under-covers the days around holidays and over-covers ordinary ones: its coverage by
    segment shows which.

    Args:
        labelled: ``label_segments`` output with ``Sales`` and the ``prediction`` column, and
            optionally quantile columns (``Sales_p10``, ``Sales_p50``, ``Sales_p90``...).
        prediction: The forecast column.
        baseline: An optional baseline forecast column, scored on the same rows.

    Returns:
        One row per (segmentation, segment): ``segmentation``, ``segment``, ``rows``,
        ``rmspe``, ``bias`` (and ``baseline_rmspe``, ``skill`` with a baseline; with the
        quantiles including P50, ``coverage`` of the outer interval, its ``width`` relative
        to P50 and the ``quantile_loss``: ``model.intervals.interval_scores``).
    """
    scored = labelled.loc[labelled["Sales"] > 0]
    quantiles = carried_quantile_columns(scored)
    levels = [column_level(c) for c in quantiles]
    if 0.5 not in levels or len(levels) < 2:
        quantiles = []
    records = []
    for segmentation in SEGMENTATIONS:
        for segment, part in scored.groupby(segmentation, sort=True):
            if part.empty:
                continue
            record = {
                "segmentation": segmentation,
                "segment": str(segment),
                "rows": int(len(part)),
                "rmspe": rmspe(part["Sales"], part[prediction]),
                "bias": mean_percentage_error(part["Sales"], part[prediction]),
            }
            if baseline is not None:
                record["baseline_rmspe"] = rmspe(part["Sales"], part[baseline])
                record["skill"] = record["rmspe"] / record["baseline_rmspe"]
            if quantiles:
                scores = interval_scores(
                    part["Sales"].to_numpy(), part[quantiles].to_numpy(), levels
                )
                record["coverage"] = scores["interval_coverage"]
                record["width"] = scores["interval_width"]
                record["quantile_loss"] = scores["quantile_loss"]
            records.append(record)
    return pd.DataFrame.from_records(records)


def error_concentration(
    scored: pd.DataFrame, prediction: str = "prediction", baseline: str | None = None, top: int = 3
) -> dict:
    """How much of a window's error a few stores carry.

    RMSPE averages squared percentage errors, so one store whose sales moved for a reason the
    data does not hold (a competitor opening next door, a local event) can carry a tenth of a
    window's error among 80 stores: the segment table cannot show that, since a store is not a
    segment. This says which stores cost most and what the window scores without the worst.

    Args:
        scored: Rows with ``Store``, ``Sales`` and the ``prediction`` column (and ``baseline``).
        prediction: The forecast column.
        baseline: An optional baseline forecast column, scored on the same rows.
        top: How many of the costliest stores to list.

    Returns:
        ``rows``, ``stores``, ``rmspe``; ``top``: the costliest stores, each with ``store``,
        ``rows``, ``share`` (of the summed squared percentage error of the stores forecast on
        every day; NaN for a store with a hole in its forecast), ``rmspe`` (infinite for such a
        store) and ``bias``;
        ``without_worst``: ``rmspe`` over every other store's rows (with a baseline,
        ``baseline_rmspe`` and ``skill`` there too, and in the window's own figures).

    Raises:
        ValueError: No row with sales, or a single store (nothing to compare it with).
    """
    rows = scored.loc[scored["Sales"] > 0]
    if rows.empty:
        raise ValueError("error_concentration needs rows with sales > 0")
    sales = rows["Sales"].to_numpy(dtype="float64")
    error = (rows[prediction].to_numpy(dtype="float64") - sales) / sales
    # A day without a forecast (a hole) is an error without bound: its store comes first.
    squared = np.where(np.isfinite(error), error**2, np.inf)
    per_store = (
        pd.DataFrame({"Store": rows["Store"].to_numpy(), "sq": squared, "error": error})
        .groupby("Store")
        .agg(sse=("sq", "sum"), rows=("sq", "size"), bias=("error", "mean"))
        .sort_values(["sse"], ascending=False, kind="stable")
    )
    if len(per_store) < 2:
        raise ValueError("error_concentration needs the rows of at least two stores")
    # Shares of what the stores with a forecast on every day sum to (a hole has no share).
    finite = np.isfinite(per_store["sse"])
    total = float(per_store.loc[finite, "sse"].sum())
    worst = per_store.index[0]
    rest = rows.loc[rows["Store"] != worst]
    result = {
        "rows": int(len(rows)),
        "stores": int(len(per_store)),
        "rmspe": rmspe(rows["Sales"], rows[prediction]),
        "top": [
            {
                "store": int(store),
                "rows": int(r["rows"]),
                "share": float(r["sse"] / total)
                if np.isfinite(r["sse"]) and total > 0
                else float("nan"),
                "rmspe": float(np.sqrt(r["sse"] / r["rows"])),
                "bias": float(r["bias"]),
            }
            for store, r in per_store.head(top).iterrows()
        ],
        "without_worst": {"rmspe": rmspe(rest["Sales"], rest[prediction])},
    }
    if baseline is not None:
        result["baseline_rmspe"] = rmspe(rows["Sales"], rows[baseline])
        result["skill"] = result["rmspe"] / result["baseline_rmspe"]
        without = result["without_worst"]
        without["baseline_rmspe"] = rmspe(rest["Sales"], rest[baseline])
        without["skill"] = without["rmspe"] / without["baseline_rmspe"]
    return result


def concentration_text(top: list[dict]) -> str:
    """The costliest stores of ``error_concentration`` as a table cell:
    ``722: 10.1% (+25.3%), 1066: 3.5% (+12.7%)``; a store with a hole in its forecast reads
    ``722: forecast missing``."""
    return ", ".join(
        f"{t['store']}: {t['share']:.1%} ({t['bias']:+.1%})"
        if np.isfinite(t["rmspe"])
        else f"{t['store']}: forecast missing"
        for t in top
    )
