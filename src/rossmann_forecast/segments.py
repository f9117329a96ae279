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
    """RMSPE, bias and row count per segment (rows with positive sales only).

    Args:
        labelled: ``label_segments`` output with ``Sales`` and the ``prediction`` column.
        prediction: The forecast column.
        baseline: An optional baseline forecast column, scored on the same rows.

    Returns:
        One row per (segmentation, segment): ``segmentation``, ``segment``, ``rows``,
        ``rmspe``, ``bias`` (and ``baseline_rmspe``, ``skill`` with a baseline).
    """
    scored = labelled.loc[labelled["Sales"] > 0]
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
            records.append(record)
    return pd.DataFrame.from_records(records)
