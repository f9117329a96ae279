"""Leak-free feature logic, shared by the data pipeline and the registered model.

The same functions build the training table and run inside the pyfunc model at prediction
time, so inference cannot drift from training.

Every feature is known at the forecast origin ``o`` for a date ``d`` in ``[o, o + horizon)``:

==========================  ===============================================================
group                       history needed (how far back it looks)
==========================  ===============================================================
calendar                    none: DayOfWeek, day of month, month, week of year, days to
                            Christmas, Promo, SchoolHoliday, StateHoliday of the row itself
store attributes            none: StoreType, Assortment, CompetitionDistance, months since
                            the competition opened, Promo2 weeks and active Promo2 month
event counters              the calendar only (Open, Promo, holidays are published ahead,
                            as in test.csv): days since/until a state holiday, a school
                            holiday, a promo, a closed day; capped at ``counter_cap_days``;
                            days since the store reopened after a gap of at least
                            ``gap_min_days`` (refurbishment)
recent store statistics     sales strictly before ``o``: per store, store x weekday,
                            store x promo, store x weekday x promo, store x month means of
                            log sales over each window of ``windows_days`` (28, 91 and 364
                            days by default), their spread, customers (when train.csv has
                            them), short-vs-long trend and year-over-year growth (looks back
                            364 + 28 days); a window with fewer selling days than
                            ``min_window_share`` of its length (a store back from a long
                            closure) takes the next longer window's statistics
Easter-aligned day effect   sales strictly before ``o - 28`` days: the store's log sales on
                            the day with the same offset from Easter a year earlier, against
                            the same weekday two and four weeks around that day (carnival,
                            Easter week, Ascension, Whitsun, Corpus Christi move with Easter;
                            a store's own dip or peak there recurs). Only within
                            ``easter_window_days`` of Easter; looks back up to 364 + 35 + that
                            window days
horizon                     ``d - o`` in days, capped at ``block_days``
==========================  ===============================================================

Training rows are cut into blocks of ``block_days`` aligned on the forecast origin; the rows
of a block see statistics frozen at that block's start, exactly as the rows of a request see
them frozen at the model's origin. No row ever sees its own sales or a later one. The blocks
are cut once per offset in ``block_offsets_days`` (0, 14 and 28 days by default), so every row
is seen from three origins: three times the rows, and a horizon that is not tied to the
weekday (with one alignment every block starts on the origin's weekday).

Training and serving compute features with one function, ``features_for_request``: a block of
training rows is a request like any other (all its rows, closed days included, because the
event counters read them), so the two paths cannot drift apart.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

CALENDAR_COLUMNS = ["Store", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
STATE_HOLIDAY_CODES = {"0": 0, "a": 1, "b": 2, "c": 3}
STORE_TYPE_CODES = {"a": 0, "b": 1, "c": 2, "d": 3}
ASSORTMENT_CODES = {"a": 0, "b": 1, "c": 2}
PROMO_INTERVAL_MONTHS = {
    "Jan,Apr,Jul,Oct": (1, 4, 7, 10),
    "Feb,May,Aug,Nov": (2, 5, 8, 11),
    "Mar,Jun,Sept,Dec": (3, 6, 9, 12),
}
# The keys of each per-store group statistic ("w91_dowpromo" -> Store, DayOfWeek, Promo).
_GROUP_KEYS = {
    "dow": ["Store", "DayOfWeek"],
    "promo": ["Store", "Promo"],
    "dowpromo": ["Store", "DayOfWeek", "Promo"],
    "month": ["Store", "Month"],
}
# Codes of the group keys after Store are below this (weekday 1-7, promo 0-1, month 1-12).
_GROUP_CODE_RANGE = 16
# Year-over-year growth compares with the same weekdays 52 weeks earlier.
_YEAR_DAYS = 364
# The Easter-aligned day effect compares a day with the same weekday this many days around it
# (same weekday, and the promotion cycle of two weeks in the same phase).
_EFFECT_NEIGHBOURS_DAYS = (-28, -14, 14, 28)
# Easter moves by up to 35 days between years: the aligned day a year earlier lies at most
# this many days before the day forecast.
_EASTER_LOOKBACK_DAYS = 364 + 35


@dataclass(frozen=True)
class FeatureConfig:
    """Tunable settings of the feature logic (from ``params:data_processing.features``)."""

    windows_days: tuple[int, ...] = (28, 91, 364)
    block_days: int = 42
    block_offsets_days: tuple[int, ...] = (0, 14, 28)
    min_history_days: int = 91
    counter_cap_days: int = 30
    gap_min_days: int = 30
    calendar_tail_days: int = 60
    # Days either side of Easter Sunday with an Easter-aligned day effect (0: no such feature,
    # as in the models saved before it existed).
    easter_window_days: int = 0
    # A window holding fewer selling days than this share of its length (a store back from a
    # long closure: one day after six months) takes the next longer window's statistics
    # instead (0: no fallback, as in the models saved before it existed).
    min_window_share: float = 0.0
    # False when train.csv has no Customers column: the customer statistics are left out.
    customers: bool = True

    @classmethod
    def from_params(cls, params: dict | None) -> FeatureConfig:
        """Build from a parameters dict, ignoring nothing silently."""
        params = dict(params or {})
        for key in ("windows_days", "block_offsets_days"):
            if key in params:
                try:
                    params[key] = tuple(int(w) for w in params[key])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"Parameter data_processing.features.{key} must be a list of whole "
                        f"numbers of days, not {params[key]!r}"
                    ) from None
        unknown = set(params) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"Unknown settings in data_processing.features: {sorted(unknown)}")
        return cls(**params)


def _no_effects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Store": pd.Series(dtype="int64"),
            "Date": pd.Series(dtype="datetime64[us]"),
            "easter_effect": pd.Series(dtype="float32"),
        }
    )


@dataclass
class FeatureState:
    """Everything the features need that is known at the forecast origin."""

    origin: pd.Timestamp
    config: FeatureConfig
    stores: pd.DataFrame
    store_stats: pd.DataFrame
    group_stats: dict[str, pd.DataFrame] = field(default_factory=dict)
    calendar_tail: pd.DataFrame = field(default_factory=pd.DataFrame)
    last_reopen: pd.Series = field(default_factory=lambda: pd.Series(dtype="datetime64[ns]"))
    # Store, Date, easter_effect: ``_day_effects`` of the days the forecasts align with.
    easter_effects: pd.DataFrame = field(default_factory=_no_effects)

    @property
    def known_stores(self) -> set[int]:
        """Stores the state can forecast (present in store.csv)."""
        return set(self.stores.index.astype(int))

    @property
    def stores_with_history(self) -> set[int]:
        """Stores with sales in the longest statistics window before the origin.

        A store of store.csv without them (new, or closed all that time) has no statistic to
        forecast from: its forecast would be the boosters' guess for a store of no level.
        """
        level = self.store_stats[f"w{max(self.config.windows_days)}_mean"]
        return set(level.index[level.notna()].astype(int))


def _log_sales(sales: pd.DataFrame, customers: bool) -> pd.DataFrame:
    """Open rows with positive sales, with log1p targets; the basis of every statistic.

    Only the columns the statistics read are kept: every block's state copies its windows
    of these rows (that saved memory, not measurable time: 18.7 s -> 18.6 s for the
    full-size table).
    """
    counts = ["Sales", "Customers"] if customers else ["Sales"]
    opened = sales.loc[
        (sales["Open"] == 1) & (sales["Sales"] > 0),
        ["Store", "DayOfWeek", "Date", "Promo", *counts],
    ]
    columns = {
        "log_sales": np.log1p(opened["Sales"].to_numpy(dtype="float64")),
        "Month": opened["Date"].dt.month.to_numpy(),
    }
    if customers:
        columns["log_customers"] = np.log1p(opened["Customers"].to_numpy(dtype="float64"))
    return opened.drop(columns=counts).assign(**columns)


def _window_stats(
    opened: pd.DataFrame, origin: pd.Timestamp, window: int, customers: bool
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Per-store statistics of log sales over ``[origin - window, origin)``."""
    recent = opened.loc[
        (opened["Date"] >= origin - pd.Timedelta(days=window)) & (opened["Date"] < origin)
    ]
    prefix = f"w{window}"
    by_store = recent.groupby("Store")
    stats = {
        f"{prefix}_mean": by_store["log_sales"].mean(),
        f"{prefix}_std": by_store["log_sales"].std(),
        f"{prefix}_days": by_store["log_sales"].size().astype("float64"),
    }
    if customers:
        stats[f"{prefix}_customers"] = by_store["log_customers"].mean()
    store_stats = pd.DataFrame(stats)
    store_mean = store_stats[f"{prefix}_mean"]
    groups: dict[str, pd.DataFrame] = {}
    for name, keys in _GROUP_KEYS.items():
        stat = _group_means(recent, keys).rename(f"{prefix}_{name}")
        # Relative to the store's level so that the effect and the level are separate signals.
        stat = stat - store_mean.reindex(stat.index.get_level_values("Store")).to_numpy()
        groups[f"{prefix}_{name}"] = stat.to_frame()
    return store_stats, groups


def _group_means(recent: pd.DataFrame, keys: list[str]) -> pd.Series:
    """``recent.groupby(keys)["log_sales"].mean()``, grouped on one integer label per row.

    The same groups, sums in the same row order and the same sorted MultiIndex as grouping on
    the columns, but a single key is factorised instead of one per column and their product
    (the statistics of the 60 blocks of a full-size training table were a third of its build).
    The keys after ``Store`` are small codes (weekday, promo, month), packed 4 bits each.
    """
    label = recent[keys[0]].to_numpy(dtype="int64")
    for key in keys[1:]:
        codes = recent[key].to_numpy(dtype="int64")
        if codes.size and (codes.min() < 0 or codes.max() >= _GROUP_CODE_RANGE):
            raise ValueError(f"{key} must lie in [0, {_GROUP_CODE_RANGE}) to group on it")
        label = label * _GROUP_CODE_RANGE + codes
    means = recent["log_sales"].groupby(label).mean()
    packed = means.index.to_numpy()
    levels = []
    for key in reversed(keys[1:]):
        levels.append((packed % _GROUP_CODE_RANGE).astype(recent[key].dtype))
        packed = packed // _GROUP_CODE_RANGE
    levels.append(packed.astype(recent[keys[0]].dtype))
    means.index = pd.MultiIndex.from_arrays(levels[::-1], names=keys)
    return means.rename("log_sales")


def _fill_thin_windows(
    stats: pd.DataFrame, groups: dict[str, pd.DataFrame], config: FeatureConfig
) -> pd.Index:
    """Give a store with too few selling days in a window the next longer window's statistics.

    A store back from a long closure has one or two days in its short windows (on the
    synthetic default, 16% of the stores reopen on 2 January, a post-New-Year peak): their
    mean is no level to forecast from. Windows are filled from the longest down, so a store
    thin in every short window takes the longest window's statistics. ``w{n}_days`` keeps
    the days actually there, so the boosters see how thin the window was. ``stats`` and
    ``groups`` are changed in place.

    Returns:
        The stores thin in the shortest window (whose growth over a year is then unknown).
    """
    windows = sorted(config.windows_days)
    thin = pd.Index([], dtype=stats.index.dtype)
    if not config.min_window_share:
        return thin
    for short, long in reversed(list(itertools.pairwise(windows))):
        days = stats[f"w{short}_days"].fillna(0.0)
        thin = days.index[(days < config.min_window_share * short).to_numpy()]
        if thin.empty:  # the usual case: nothing to fill (the statistics stay sorted by key)
            continue
        for name in ("mean", "std", "customers"):
            if f"w{short}_{name}" in stats:
                stats.loc[thin, f"w{short}_{name}"] = stats.loc[thin, f"w{long}_{name}"]
        for group in _GROUP_KEYS:
            kept = groups[f"w{short}_{group}"]
            longer = groups[f"w{long}_{group}"]
            taken = longer.loc[longer.index.get_level_values("Store").isin(thin)]
            groups[f"w{short}_{group}"] = pd.concat(
                [
                    kept.loc[~kept.index.get_level_values("Store").isin(thin)],
                    taken.set_axis([f"w{short}_{group}"], axis=1),
                ]
            ).sort_index()
    return thin


def _easter_sundays(years: np.ndarray) -> np.ndarray:
    """Easter Sunday of each year (pandas' Western Easter offset, rolled from 1 January)."""
    unique, inverse = np.unique(np.asarray(years), return_inverse=True)
    sundays = np.array(
        [pd.Timestamp(year=int(y), month=1, day=1) + pd.offsets.Easter() for y in unique],
        dtype="datetime64[ns]",
    )
    # One lookup per row (a Python loop over 2M training rows took over a second).
    return sundays[inverse.reshape(-1)]


def _easter_offsets(dates: pd.Series) -> np.ndarray:
    """Days from each date's own year's Easter Sunday (negative before it)."""
    easter = _easter_sundays(dates.dt.year.to_numpy())
    return ((dates.to_numpy(dtype="datetime64[ns]") - easter) / np.timedelta64(1, "D")).astype(
        "int64"
    )


def _day_effects(opened: pd.DataFrame, window: int) -> pd.DataFrame:
    """Each selling day within ``window`` days of Easter against the same store's same weekday
    two and four weeks before and after it: log sales minus the mean of those that sold.

    Args:
        opened: ``_log_sales`` rows (any range).
        window: Days either side of Easter Sunday kept.

    Returns:
        ``Store``, ``Date``, ``easter_effect`` (float32; NaN when no neighbour sold), sorted;
        no rows when ``window`` is 0 (the feature is off).
    """
    if not window:
        return _no_effects()
    near = opened.loc[np.abs(_easter_offsets(opened["Date"])) <= window]
    if near.empty:
        return _no_effects()
    known = pd.Series(
        opened["log_sales"].to_numpy(), index=pd.MultiIndex.from_frame(opened[["Store", "Date"]])
    )
    neighbours = np.vstack(
        [
            known.reindex(
                pd.MultiIndex.from_arrays(
                    [near["Store"].to_numpy(), (near["Date"] + pd.Timedelta(days=k)).to_numpy()]
                )
            ).to_numpy()
            for k in _EFFECT_NEIGHBOURS_DAYS
        ]
    )
    sold = np.isfinite(neighbours)
    counts = sold.sum(axis=0)
    reference = np.where(sold, neighbours, 0.0).sum(axis=0) / np.maximum(counts, 1)
    effect = np.where(counts > 0, near["log_sales"].to_numpy() - reference, np.nan)
    frame = pd.DataFrame(
        {
            "Store": near["Store"].to_numpy(dtype="int64"),
            "Date": near["Date"].to_numpy(),
            "easter_effect": effect.astype("float32"),
        }
    )
    return frame.sort_values(["Store", "Date"], ignore_index=True)


def _effects_known_at(effects: pd.DataFrame, origin: pd.Timestamp, window: int) -> pd.DataFrame:
    """The day effects a state at ``origin`` may hold: days whose neighbours all lie before
    the origin (``Date + 28 < origin``), as far back as the aligned day of a forecast reaches."""
    latest = origin - pd.Timedelta(days=max(_EFFECT_NEIGHBOURS_DAYS))
    earliest = origin - pd.Timedelta(days=_EASTER_LOOKBACK_DAYS + window)
    dates = effects["Date"]
    return effects.loc[(dates < latest) & (dates >= earliest)].reset_index(drop=True)


def _easter_aligned_effect(rows: pd.DataFrame, effects: pd.DataFrame, window: int) -> np.ndarray:
    """Per row: the store's day effect on the day a year earlier that lay as far from Easter;
    NaN beyond ``window`` days of Easter or where the state has no such day."""
    offsets = _easter_offsets(rows["Date"])
    aligned = _easter_sundays(rows["Date"].dt.year.to_numpy() - 1) + offsets.astype(
        "timedelta64[D]"
    )
    known = pd.Series(
        effects["easter_effect"].to_numpy(),
        index=pd.MultiIndex.from_arrays(
            [
                effects["Store"].to_numpy(dtype="int64"),
                effects["Date"].to_numpy(dtype="datetime64[ns]"),
            ]
        ),
    )
    looked_up = known.reindex(
        pd.MultiIndex.from_arrays([rows["Store"].to_numpy(dtype="int64"), aligned])
    ).to_numpy(dtype="float64")
    return np.where(np.abs(offsets) <= window, looked_up, np.nan)


def _reopen_dates(calendar: pd.DataFrame, gap_min_days: int) -> pd.DataFrame:
    """Dates where a store's rows start again after a gap of at least ``gap_min_days``."""
    ordered = calendar[["Store", "Date"]].sort_values(["Store", "Date"])
    previous = ordered.groupby("Store")["Date"].shift()
    gap = (ordered["Date"] - previous).dt.days
    return ordered.loc[gap >= gap_min_days, ["Store", "Date"]]


def fit_state(
    history: pd.DataFrame,
    stores: pd.DataFrame,
    origin: pd.Timestamp,
    config: FeatureConfig,
) -> FeatureState:
    """Freeze everything the features need at ``origin``, from rows strictly before it.

    Args:
        history: Typed train rows (any range; rows on or after ``origin`` are ignored).
        stores: Typed store table (one row per store).
        origin: The forecast origin: the first day that may be forecast.
        config: Feature settings.

    Returns:
        The state, small enough to travel inside the registered model.
    """
    origin = pd.Timestamp(origin)
    past = history.loc[history["Date"] < origin]
    opened = _log_sales(past, config.customers)
    return _freeze_state(
        origin,
        config,
        store_attributes=_store_attributes(stores),
        opened=opened,
        calendar_tail=past.loc[
            past["Date"] >= origin - pd.Timedelta(days=config.calendar_tail_days),
            CALENDAR_COLUMNS,
        ],
        reopen=_reopen_dates(past, config.gap_min_days),
        easter_effects=_day_effects(opened, config.easter_window_days),
    )


def _lookback_days(config: FeatureConfig) -> int:
    """How far back before the origin the statistics read: the longest window, or the
    year-ago window of the growth feature when that reaches further."""
    return max(*config.windows_days, _YEAR_DAYS + min(config.windows_days))


def _freeze_state(
    origin: pd.Timestamp,
    config: FeatureConfig,
    store_attributes: pd.DataFrame,
    opened: pd.DataFrame,
    calendar_tail: pd.DataFrame,
    reopen: pd.DataFrame,
    easter_effects: pd.DataFrame,
) -> FeatureState:
    """The state at ``origin`` from its inputs, each restricted to rows before ``origin``.

    ``opened`` (``_log_sales`` rows) needs only the last ``_lookback_days`` before the origin,
    ``calendar_tail`` only the last ``calendar_tail_days``; ``reopen`` holds the
    ``_reopen_dates`` rows before the origin; ``easter_effects`` the ``_day_effects`` of the
    rows before the origin (any range; no rows without the feature).
    """
    store_stats = []
    group_stats: dict[str, pd.DataFrame] = {}
    for window in config.windows_days:
        stats, groups = _window_stats(opened, origin, window, config.customers)
        store_stats.append(stats)
        group_stats.update(groups)
    stats = pd.concat(store_stats, axis=1)
    thin = _fill_thin_windows(stats, group_stats, config)
    short, long = min(config.windows_days), max(config.windows_days)
    stats["trend"] = stats[f"w{short}_mean"] - stats[f"w{long}_mean"]
    # Year-over-year growth: the last `short` days against the same days a year earlier
    # (none for a store whose last `short` days were too thin to have a level of their own).
    year_ago = opened.loc[
        (opened["Date"] >= origin - pd.Timedelta(days=_YEAR_DAYS + short))
        & (opened["Date"] < origin - pd.Timedelta(days=_YEAR_DAYS))
    ]
    stats["yoy"] = stats[f"w{short}_mean"] - year_ago.groupby("Store")["log_sales"].mean()
    stats.loc[thin, "yoy"] = np.nan
    return FeatureState(
        origin=origin,
        config=config,
        stores=store_attributes,
        store_stats=stats.astype("float32"),
        group_stats={k: v.astype("float32") for k, v in group_stats.items()},
        calendar_tail=calendar_tail.reset_index(drop=True),
        last_reopen=reopen.groupby("Store")["Date"].max(),
        easter_effects=_effects_known_at(easter_effects, origin, config.easter_window_days),
    )


class _DateWindows:
    """Positions of a frame's rows in date windows, in the frame's own row order.

    One sort of the dates up front; a window is then two binary searches and a sort of the
    window's positions, whatever the length of the frame. The frame's row order is kept
    because the statistics' sums run in that order (and float sums depend on it).
    """

    def __init__(self, dates: pd.Series) -> None:
        values = dates.to_numpy()
        self._order = np.argsort(values, kind="stable")
        self._sorted = pd.DatetimeIndex(values[self._order])

    def positions(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Ascending positions of the rows with ``start <= Date < end``."""
        first, stop = self._sorted.searchsorted([start, end], side="left")
        return np.sort(self._order[first:stop])


class _SalesHistory:
    """What the states of all training blocks share, computed once for the whole table.

    ``fit_state(sales, stores, origin, config)`` copies and re-derives everything before the
    origin; for many origins on one table that is a pass over the whole past per block. Here
    the open, selling rows with their log sales and the reopen dates are derived once, and a
    block's state reads only the date windows it needs. ``state(origin)`` equals ``fit_state``
    at that origin: the rows of each window come in the same order, and a reopen date before
    the origin is one whatever follows it (a row's previous row is earlier than the row).
    """

    def __init__(self, sales: pd.DataFrame, stores: pd.DataFrame, config: FeatureConfig) -> None:
        self.sales = sales
        self.config = config
        self.selling = ((sales["Open"] == 1) & (sales["Sales"] > 0)).to_numpy()
        self._rows = _DateWindows(sales["Date"])
        self._calendar_columns = sales.columns.get_indexer(CALENDAR_COLUMNS)
        self._opened = _log_sales(sales, config.customers)
        self._opened_rows = _DateWindows(self._opened["Date"])
        self._reopen = _reopen_dates(sales, config.gap_min_days)
        # Computed once on every row: a state keeps only days whose neighbours precede it.
        self._easter_effects = _day_effects(self._opened, config.easter_window_days)
        self._store_attributes = _store_attributes(stores)

    def positions(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Positions in ``sales`` of the rows with ``start <= Date < end``, in table order."""
        return self._rows.positions(start, end)

    def state(self, origin: pd.Timestamp) -> FeatureState:
        """The state ``fit_state(sales, stores, origin, config)`` gives."""
        tail_start = origin - pd.Timedelta(days=self.config.calendar_tail_days)
        opened_start = origin - pd.Timedelta(days=_lookback_days(self.config))
        return _freeze_state(
            origin,
            self.config,
            store_attributes=self._store_attributes,
            opened=self._opened.take(self._opened_rows.positions(opened_start, origin)),
            calendar_tail=self.sales.iloc[
                self.positions(tail_start, origin), self._calendar_columns
            ],
            reopen=self._reopen.loc[self._reopen["Date"] < origin],
            easter_effects=self._easter_effects,
        )


def _store_attributes(stores: pd.DataFrame) -> pd.DataFrame:
    """Static store attributes, indexed by Store, with categorical columns as codes."""
    table = stores.set_index("Store").sort_index()
    return pd.DataFrame(
        {
            "StoreType": table["StoreType"].astype(str).map(STORE_TYPE_CODES),
            "Assortment": table["Assortment"].astype(str).map(ASSORTMENT_CODES),
            "CompetitionDistance": table["CompetitionDistance"].astype("float64"),
            "CompetitionOpenSinceMonth": table["CompetitionOpenSinceMonth"].astype("float64"),
            "CompetitionOpenSinceYear": table["CompetitionOpenSinceYear"].astype("float64"),
            "Promo2": table["Promo2"].astype("float64"),
            "Promo2SinceWeek": table["Promo2SinceWeek"].astype("float64"),
            "Promo2SinceYear": table["Promo2SinceYear"].astype("float64"),
            "PromoInterval": table["PromoInterval"]
            .astype("object")
            .where(table["PromoInterval"].notna(), None),
        },
        index=table.index,
    )


def event_counters(calendar: pd.DataFrame, cap: int) -> pd.DataFrame:
    """Days since and until each calendar event, per store, capped at ``cap``.

    Args:
        calendar: Rows with ``CALENDAR_COLUMNS`` (history tail plus the rows to forecast, or
            the whole train calendar); only the calendar is read, never sales.
        cap: Counters further than this many days (or unknown) are set to ``cap``.

    Returns:
        A frame aligned with ``calendar``'s index.
    """
    ordered = calendar[CALENDAR_COLUMNS].sort_values(["Store", "Date"])
    events = {
        "holiday": ordered["StateHoliday"].astype(str) != "0",
        "school": ordered["SchoolHoliday"] == 1,
        "promo": ordered["Promo"] == 1,
        "closed": ordered["Open"] == 0,
    }
    days = (ordered["Date"] - pd.Timestamp("2000-01-01")).dt.days.astype("float64")
    out = pd.DataFrame(index=ordered.index)
    for name, happened in events.items():
        event_day = days.where(happened.fillna(False).to_numpy(dtype=bool))
        last = event_day.groupby(ordered["Store"]).ffill()
        following = event_day.groupby(ordered["Store"]).bfill()
        out[f"days_since_{name}"] = (days - last).fillna(cap).clip(upper=cap)
        out[f"days_until_{name}"] = (following - days).fillna(cap).clip(upper=cap)
    return out.reindex(calendar.index).astype("float32")


def _promo2_features(rows: pd.DataFrame, attrs: pd.DataFrame) -> pd.DataFrame:
    """Weeks since Promo2 started and whether the row's month is a Promo2 month."""
    iso = rows["Date"].dt.isocalendar()
    weeks_since = (
        (iso["year"].astype("float64") - attrs["Promo2SinceYear"].to_numpy()) * 52
        + iso["week"].astype("float64")
        - attrs["Promo2SinceWeek"].to_numpy()
    )
    started = (attrs["Promo2"].to_numpy() == 1) & (weeks_since.to_numpy() >= 0)
    months = rows["Date"].dt.month.to_numpy()
    # One row per interval (and one for none), one column per month: is it a Promo2 month?
    table = np.zeros((len(PROMO_INTERVAL_MONTHS) + 1, 13), dtype=bool)
    for code, active in enumerate(PROMO_INTERVAL_MONTHS.values()):
        table[code, list(active)] = True
    codes = (
        attrs["PromoInterval"]
        .map({name: code for code, name in enumerate(PROMO_INTERVAL_MONTHS)})
        .fillna(len(PROMO_INTERVAL_MONTHS))
        .to_numpy(dtype="int64")
    )
    in_interval = table[codes, months]
    return pd.DataFrame(
        {
            "promo2_weeks": np.where(attrs["Promo2"].to_numpy() == 1, weeks_since, np.nan),
            "promo2_active_month": (started & in_interval).astype("float32"),
        },
        index=rows.index,
    )


def make_features(rows: pd.DataFrame, state: FeatureState, counters: pd.DataFrame) -> pd.DataFrame:
    """Feature matrix for rows to forecast from ``state``'s origin.

    Args:
        rows: Rows in the test format, typed (Date as datetime).
        state: The state frozen at the forecast origin.
        counters: ``event_counters`` output aligned with ``rows``' index.

    Returns:
        Float32 features in ``feature_names(state.config)`` order, aligned with ``rows``.
    """
    date = rows["Date"]
    attrs = state.stores.reindex(rows["Store"].to_numpy())
    attrs.index = rows.index
    christmas = pd.to_datetime(date.dt.year.astype(str) + "-12-25")
    competition_months = (date.dt.year - attrs["CompetitionOpenSinceYear"]) * 12 + (
        date.dt.month - attrs["CompetitionOpenSinceMonth"]
    )
    features = pd.DataFrame(
        {
            "DayOfWeek": rows["DayOfWeek"].astype("float32"),
            "Promo": rows["Promo"].astype("float32"),
            "SchoolHoliday": rows["SchoolHoliday"].astype("float32"),
            "StateHoliday": rows["StateHoliday"].astype(str).map(STATE_HOLIDAY_CODES),
            "day": date.dt.day,
            "month": date.dt.month,
            "week_of_year": date.dt.isocalendar()["week"].astype("float64"),
            "day_of_year": date.dt.day_of_year,
            "days_to_christmas": (christmas - date).dt.days.clip(-10, 60),
            "horizon": (date - state.origin).dt.days.clip(upper=state.config.block_days),
            "StoreType": attrs["StoreType"],
            "Assortment": attrs["Assortment"],
            "log_competition_distance": np.log1p(attrs["CompetitionDistance"]),
            "competition_months": competition_months.clip(-12, 120),
            "Promo2": attrs["Promo2"],
        },
        index=rows.index,
    )
    features = features.join(_promo2_features(rows, attrs))
    reopen = state.last_reopen.reindex(rows["Store"].to_numpy()).to_numpy()
    features["days_since_reopen"] = ((date.to_numpy() - reopen) / np.timedelta64(1, "D")).clip(
        max=365
    )
    features = features.join(counters.reindex(rows.index))
    if state.config.easter_window_days:
        features["easter_effect"] = _easter_aligned_effect(
            rows, state.easter_effects, state.config.easter_window_days
        )

    store_stats = state.store_stats.reindex(rows["Store"].to_numpy())
    store_stats.index = rows.index
    features = features.join(store_stats)
    lookup = rows[["Store", "DayOfWeek", "Promo"]].astype("int64").assign(Month=date.dt.month)
    for name, stat in state.group_stats.items():
        index = pd.MultiIndex.from_frame(lookup[_GROUP_KEYS[name.split("_", 1)[1]]])
        features[name] = stat.iloc[:, 0].reindex(index).to_numpy()
    return features[feature_names(state.config)].astype("float32")


def feature_names(config: FeatureConfig) -> list[str]:
    """The model's feature columns, in order."""
    names = [
        "DayOfWeek",
        "Promo",
        "SchoolHoliday",
        "StateHoliday",
        "day",
        "month",
        "week_of_year",
        "day_of_year",
        "days_to_christmas",
        "horizon",
        "StoreType",
        "Assortment",
        "log_competition_distance",
        "competition_months",
        "Promo2",
        "promo2_weeks",
        "promo2_active_month",
        "days_since_reopen",
    ]
    for name in ("holiday", "school", "promo", "closed"):
        names += [f"days_since_{name}", f"days_until_{name}"]
    store_stats = (
        ("mean", "std", "customers", "days") if config.customers else ("mean", "std", "days")
    )
    for window in config.windows_days:
        prefix = f"w{window}"
        names += [f"{prefix}_{stat}" for stat in store_stats]
        names += [f"{prefix}_{group}" for group in _GROUP_KEYS]
    names += ["trend", "yoy"]
    return [*names, "easter_effect"] if config.easter_window_days else names


def level_feature(config: FeatureConfig) -> str:
    """The store's level a booster's target can be relative to (``training.members.<name>.
    relative_to_level``): its mean log sales over the longest window.

    A store without it has no sales in that window: requests for it are refused
    (``FeatureState.stores_with_history``), and a relative booster is not fit on such rows.
    """
    return f"w{max(config.windows_days)}_mean"


def block_origins(
    first_date: pd.Timestamp, origin: pd.Timestamp, config: FeatureConfig, offset: int = 0
) -> list[pd.Timestamp]:
    """Starts of the training blocks of one alignment, newest first.

    Block ``k`` starts at ``origin - offset - k * block_days`` and ends ``block_days`` later or
    at ``origin``, whichever comes first (so with an offset the newest block is a short one);
    only blocks with at least ``min_history_days`` of history before them are kept.
    """
    origins = []
    start = pd.Timestamp(origin) - pd.Timedelta(days=offset)
    if offset % config.block_days == 0:
        start -= pd.Timedelta(days=config.block_days)
    while start - pd.Timedelta(days=config.min_history_days) >= pd.Timestamp(first_date):
        origins.append(start)
        start -= pd.Timedelta(days=config.block_days)
    return origins


def build_training_table(
    sales: pd.DataFrame, stores: pd.DataFrame, origin: pd.Timestamp, config: FeatureConfig
) -> pd.DataFrame:
    """Features and target for every open, selling row before ``origin``, once per alignment.

    Each block of rows is featurised exactly as the registered model featurises a request
    (``features_for_request`` on all of the block's rows, closed days included, with the state
    frozen at the block's start); then the closed and zero-sales rows are dropped.

    What the blocks' states share is derived once (``_SalesHistory``), so the build grows
    with the rows, not with blocks x rows. The rows kept and their order follow from the
    calendar alone, so the table is laid out first and each block writes its features straight
    into their final rows: the table is held once, not as parts, their concatenation and a
    sorted copy.

    Args:
        sales: Typed train rows strictly before ``origin``.
        stores: Typed store table.
        origin: The forecast origin the blocks align on (the day after the last row).
        config: Feature settings.

    Returns:
        One row per (Store, Date, block_origin) with ``Store``, ``Date``, ``block_origin``,
        ``Sales`` and the features, for rows with Open = 1 and Sales > 0, sorted by ``Date``,
        ``Store`` and ``block_origin``.

    Raises:
        ValueError: ``sales`` holds rows on or after ``origin``, or too few days for a block.
    """
    origin = pd.Timestamp(origin)
    if (sales["Date"] >= origin).any():
        raise ValueError("build_training_table received rows on or after the forecast origin")
    started = time.perf_counter()
    first_date = sales["Date"].min()
    alignments = [
        (offset, block_origins(first_date, origin, config, offset))
        for offset in config.block_offsets_days
    ]
    starts = [start for _, origins in alignments for start in origins]
    if not starts:
        raise ValueError(
            f"build_training_table found no training block: the rows from {first_date.date()} "
            f"to {origin.date()} leave less than min_history_days ({config.min_history_days}) "
            "of history before any block"
        )
    history = _SalesHistory(sales, stores, config)
    block = pd.Timedelta(days=config.block_days)
    rows = [history.positions(start, min(start + block, origin)) for start in starts]
    selling = [history.selling[block_rows] for block_rows in rows]
    kept = [
        block_rows[block_selling] for block_rows, block_selling in zip(rows, selling, strict=True)
    ]
    table, destinations = _sorted_keys(sales, kept, starts)
    names = feature_names(config)
    # One row per feature, so that each column is contiguous as in a concatenated frame.
    values = np.empty((len(names), len(table)), dtype="float32")
    blocks = iter(zip(starts, rows, selling, destinations, strict=True))
    for offset, origins in alignments:
        for start, block_rows, block_selling, destination in itertools.islice(blocks, len(origins)):
            features = features_for_request(sales.take(block_rows), history.state(start))
            values[:, destination] = features.to_numpy()[block_selling].T
        logger.info(
            "Features for the blocks at offset %d days: %d blocks from %s (%.0f s elapsed)",
            offset,
            len(origins),
            origins[-1].date() if origins else "-",
            time.perf_counter() - started,
        )
    table = pd.concat([table, pd.DataFrame(values.T, columns=names, copy=False)], axis=1)
    logger.info(
        "Training table: %s rows (%d alignments), %d features in %.1f s",
        f"{len(table):,}",
        len(config.block_offsets_days),
        len(names),
        time.perf_counter() - started,
    )
    return table


def counters_known_at(
    features: np.ndarray,
    dates: np.ndarray,
    names: list[str],
    origin: pd.Timestamp,
    cap: int,
) -> np.ndarray:
    """Training rows' days-until counters as a model fit at ``origin`` would have them.

    The training table is built once, at the served origin; a model fit on its rows before an
    earlier ``origin`` (a CV fold, the backtest the gate judges) takes them from blocks that
    may run past ``origin``, whose counters were counted over the block's whole calendar: a
    row a week before ``origin`` knew of a promo two weeks later. Fit at ``origin`` itself,
    that block would end there, and the promo would be unknown (``cap``), as on a request's
    last days. So every days-until counter that reaches ``origin`` or beyond is set to
    ``cap``; counters of blocks that end by ``origin`` never reach it, and days-since counters
    look back. The rows before ``origin`` then hold exactly the features of a table built at
    ``origin``, and the backtest is the procedure that would have been served there.

    Args:
        features: Float32 matrix of rows dated before ``origin``, columns in ``names`` order;
            changed in place.
        dates: The rows' dates (datetime64).
        names: The matrix's columns (``feature_names``).
        origin: The day the fit's knowledge ends.
        cap: ``FeatureConfig.counter_cap_days``.

    Returns:
        ``features``.
    """
    left = (pd.Timestamp(origin).to_datetime64() - np.asarray(dates, dtype="datetime64[ns]")) / (
        np.timedelta64(1, "D")
    )
    if (left <= 0).any():
        raise ValueError(
            f"counters_known_at received rows on or after {pd.Timestamp(origin).date()}"
        )
    for column, name in enumerate(names):
        if name.startswith("days_until_"):
            values = features[:, column]
            values[values >= left] = cap
    return features


def _sorted_keys(
    sales: pd.DataFrame, kept: list[np.ndarray], starts: list[pd.Timestamp]
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The training table's first columns in their final order, and where each block's rows go.

    Args:
        sales: Typed train rows.
        kept: Per block, the positions in ``sales`` of the rows trained on.
        starts: Per block, its start (the ``block_origin`` column).

    Returns:
        ``Store``, ``Date``, ``Sales`` and ``block_origin`` sorted by ``Date``, ``Store`` and
        ``block_origin`` (block by block first, ties then keep that order, as a sort of the
        concatenated blocks would), and per block the final positions of its selling rows.
    """
    counts = [len(block_kept) for block_kept in kept]
    keys = sales[["Store", "Date", "Sales"]].take(np.concatenate(kept)).reset_index(drop=True)
    keys["block_origin"] = np.repeat(np.array([start.to_datetime64() for start in starts]), counts)
    keys = keys.sort_values(["Date", "Store", "block_origin"])
    order = keys.index.to_numpy()
    final = np.empty_like(order)
    final[order] = np.arange(len(order))
    return keys.reset_index(drop=True), np.split(final, np.cumsum(counts)[:-1])


def features_for_request(rows: pd.DataFrame, state: FeatureState) -> pd.DataFrame:
    """Features for rows to forecast, as the registered model computes them.

    Event counters see the calendar tail kept in the state followed by the request's own rows,
    so send the whole horizon in one request for counters that look ahead (a single row only
    knows its own day: counters it cannot see are capped, as for the last day of a horizon).

    Args:
        rows: Typed rows in the test format (Open already filled).
        state: The state frozen at the model's forecast origin.

    Returns:
        The feature matrix aligned with ``rows``.
    """
    request = rows[CALENDAR_COLUMNS].reset_index(drop=True)
    tail = state.calendar_tail
    # The request's own rows win over history rows for the same store and day.
    requested = pd.MultiIndex.from_frame(request[["Store", "Date"]])
    tail = tail.loc[~pd.MultiIndex.from_frame(tail[["Store", "Date"]]).isin(requested)]
    calendar = pd.concat([tail[CALENDAR_COLUMNS], request], ignore_index=True)
    counters = event_counters(calendar, state.config.counter_cap_days)
    request_counters = counters.iloc[len(tail) :]
    request_counters.index = rows.index
    return make_features(rows, state, request_counters)


def save_state(state: FeatureState, directory: Path) -> None:
    """Write the state as Parquet tables and a JSON header (no pickles)."""
    directory.mkdir(parents=True, exist_ok=True)
    header = {
        "origin": state.origin.isoformat(),
        "config": asdict(state.config),
        "groups": sorted(state.group_stats),
    }
    (directory / "state.json").write_text(json.dumps(header, indent=2))
    state.stores.to_parquet(directory / "stores.parquet")
    state.store_stats.to_parquet(directory / "store_stats.parquet")
    state.calendar_tail.to_parquet(directory / "calendar_tail.parquet")
    state.last_reopen.rename("last_reopen").to_frame().to_parquet(directory / "last_reopen.parquet")
    if state.config.easter_window_days:
        state.easter_effects.to_parquet(directory / "easter_effects.parquet")
    for name, stat in state.group_stats.items():
        stat.reset_index().to_parquet(directory / f"{name}.parquet")


def load_state(directory: Path) -> FeatureState:
    """Read a state written by ``save_state``."""
    header = json.loads((directory / "state.json").read_text())
    config = FeatureConfig.from_params(header["config"])
    groups = {}
    for name in header["groups"]:
        keys = _GROUP_KEYS[name.split("_", 1)[1]]
        groups[name] = pd.read_parquet(directory / f"{name}.parquet").set_index(keys)
    return FeatureState(
        origin=pd.Timestamp(header["origin"]),
        config=config,
        stores=pd.read_parquet(directory / "stores.parquet"),
        store_stats=pd.read_parquet(directory / "store_stats.parquet"),
        group_stats=groups,
        calendar_tail=pd.read_parquet(directory / "calendar_tail.parquet"),
        last_reopen=pd.read_parquet(directory / "last_reopen.parquet")["last_reopen"],
        easter_effects=pd.read_parquet(directory / "easter_effects.parquet")
        if config.easter_window_days
        else _no_effects(),
    )
