"""Calibrated synthetic stand-in for the Kaggle "Rossmann Store Sales" files.

The real files may not be redistributed, so the project generates ``train.csv``, ``store.csv``
and ``test.csv`` with the same columns, types, sort order and quirks, calibrated to the published
statistics in ``DATA_FACTS.md``. Besides the levels and calendar effects, the generator builds in
the structure that makes the real forecast hard for a static per-store median but learnable from
recent history: store-specific trend slopes, a slow random walk, level shifts (competition
openings, regime changes, refurbishments), store-specific day-of-week, promo and seasonal
profiles, on top of day-level noise. Sales on the open days around each store's own closures
(stocking up before a holiday, catching up after any closure, by StoreType) follow figures
measured on a slice of the real data, so that day counters to and from closures matter as much
as they do on the real data.

Everything is drawn as (store x day) numpy arrays, so the full size (1,115 stores x 990 days)
takes a few seconds. Each component draws from its own child of ``SeedSequence(seed)``, so the
output is deterministic for a given ``(n_stores, seed)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# --- Shape of the Kaggle files -------------------------------------------------------------------
TRAIN_START = np.datetime64("2013-01-01")
TRAIN_END = np.datetime64("2015-07-31")
TEST_START = np.datetime64("2015-08-01")
TEST_END = np.datetime64("2015-09-17")
KAGGLE_N_STORES = 1115
TRAIN_COLUMNS = (
    "Store",
    "DayOfWeek",
    "Date",
    "Sales",
    "Customers",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
)
STORE_COLUMNS = (
    "Store",
    "StoreType",
    "Assortment",
    "CompetitionDistance",
    "CompetitionOpenSinceMonth",
    "CompetitionOpenSinceYear",
    "Promo2",
    "Promo2SinceWeek",
    "Promo2SinceYear",
    "PromoInterval",
)
TEST_COLUMNS = (
    "Id",
    "Store",
    "DayOfWeek",
    "Date",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
)
# Real store counts, scaled to n_stores by largest remainder.
TYPE_ASSORTMENT_COUNTS = {
    ("a", "a"): 381,
    ("a", "c"): 221,
    ("b", "a"): 7,
    ("b", "b"): 9,
    ("b", "c"): 1,
    ("c", "a"): 77,
    ("c", "c"): 71,
    ("d", "a"): 128,
    ("d", "c"): 220,
}
TEST_STORE_COUNT = 856
MISSING_DISTANCE_COUNT = 3
MISSING_COMPETITION_SINCE_COUNT = 354
COMPETITION_IN_WINDOW_COUNT = 191
PROMO2_COUNT = 571
TEST_OPEN_MISSING_ROWS = 11
REFURBISHMENT_START = np.datetime64("2014-07-01")
REFURBISHMENT_END = np.datetime64("2014-12-31")
RAW_FILE_MODE = 0o644

# --- Calendar ------------------------------------------------------------------------------------
# Promo runs Monday-Friday of every other week; the week of this Monday is a promo week.
PROMO_ANCHOR_MONDAY = np.datetime64("2015-07-27")
# Off-weeks that were promo weeks anyway (consecutive promos before Christmas and a few others);
# they bring the promo share of rows from 36% to the real 38%.
EXTRA_PROMO_MONDAYS = (
    "2013-04-22",
    "2013-09-02",
    "2013-12-09",
    "2014-05-19",
    "2014-09-01",
    "2014-12-08",
    "2015-09-14",
)
EASTER_SUNDAYS = ("2013-03-31", "2014-04-20", "2015-04-05")
YEARS = (2013, 2014, 2015)


@dataclass(frozen=True)
class Region:
    """A German state as far as the data can tell: its holidays and school holidays."""

    code: str
    weight: float
    summer_starts: tuple[str, str, str]
    epiphany: bool = False
    corpus_christi: bool = False
    assumption: bool = False
    reformation: bool = False
    all_saints: bool = False
    whitsun_break: bool = False
    easter_break_offset: int = -7
    autumn_start: str = "10-14"


# Store weights follow Rossmann's footprint; the Bavarian stores (BY) are the ones closed for
# refurbishment in the second half of 2014, as in the real data (180 of 1,115 stores).
REGIONS = (
    Region("NW", 0.31, ("2013-07-22", "2014-07-07", "2015-06-29"), corpus_christi=True,
           all_saints=True, autumn_start="10-21"),
    Region("BY", 180 / KAGGLE_N_STORES, ("2013-07-31", "2014-07-30", "2015-08-01"),
           epiphany=True, corpus_christi=True, assumption=True, all_saints=True,
           whitsun_break=True, easter_break_offset=-6, autumn_start="10-28"),
    Region("SH", 0.10, ("2013-06-24", "2014-07-14", "2015-07-20"), autumn_start="10-04"),
    Region("HE", 0.10, ("2013-07-08", "2014-07-28", "2015-07-27"), corpus_christi=True,
           autumn_start="10-14"),
    Region("BE", 0.08, ("2013-06-20", "2014-07-09", "2015-07-16"), autumn_start="09-30"),
    Region("SN", 0.07, ("2013-07-15", "2014-07-21", "2015-07-13"), reformation=True,
           easter_break_offset=-3, autumn_start="10-21"),
    Region("BW", 0.06, ("2013-07-25", "2014-07-31", "2015-07-30"), epiphany=True,
           corpus_christi=True, all_saints=True, whitsun_break=True, autumn_start="10-28"),
    Region("ST", 0.05, ("2013-07-15", "2014-07-21", "2015-07-13"), epiphany=True,
           reformation=True, autumn_start="10-21"),
    Region("TH", 0.03, ("2013-07-15", "2014-07-21", "2015-07-13"), reformation=True,
           autumn_start="10-06"),
    Region("HH", 1.0 - 0.31 - 180 / KAGGLE_N_STORES - 0.49, ("2013-06-20", "2014-07-10",
           "2015-07-16"), autumn_start="10-01"),
)  # fmt: skip
REFURBISHED_REGION = "BY"
SUMMER_BREAK_DAYS = 38
EASTER_BREAK_DAYS = 11
CHRISTMAS_BREAK = ("12-23", "01-04")
AUTUMN_BREAK_DAYS = 5
WHITSUN_BREAK_DAYS = 7

# --- Store attributes ----------------------------------------------------------------------------
COMPETITION_LOG10_MEAN = 3.32
COMPETITION_LOG10_SD = 0.675
COMPETITION_DISTANCE_RANGE = (20.0, 75860.0)
# Years in which the competition of the stores outside the training window opened.
EARLY_COMPETITION_YEARS = {
    1900: 1, 1961: 1, 1990: 5, 1995: 2, 1998: 1, 1999: 8, 2000: 10, 2001: 16, 2002: 27,
    2003: 19, 2004: 22, 2005: 62, 2006: 81, 2007: 48, 2008: 54, 2009: 54, 2010: 55,
    2011: 54, 2012: 82,
}  # fmt: skip
PROMO2_SINCE_YEARS = {2009: 73, 2010: 64, 2011: 128, 2012: 81, 2013: 120, 2014: 95, 2015: 10}
PROMO_INTERVALS = {
    "Jan,Apr,Jul,Oct": (335, (1, 4, 7, 10)),
    "Feb,May,Aug,Nov": (130, (2, 5, 8, 11)),
    "Mar,Jun,Sept,Dec": (106, (3, 6, 9, 12)),
}
# Type b stores (train stations) open on Sundays and holidays; a few others do too.
SUNDAY_OPEN_EXTRA_SHARE = 0.006
HOLIDAY_OPEN_PROB_SUNDAY_STORES = 0.75
HOLIDAY_OPEN_PROB_OTHERS = 0.008

# --- Sales level (log space; a store's level is about the log of its mean on open days) -----------
# 1% below 6,600 because the days next to closures (below) lift every store's mean by about 1%.
LEVEL_LOG_MEDIAN = np.log(6600.0) - 0.010
LEVEL_SD = 0.275
# Right skew of the store level distribution (real p10/median/p90: 4,580 / 6,370 / 9,690).
LEVEL_SKEW = 0.04
TYPE_LEVEL = {"a": 0.0, "b": 0.06, "c": 0.02, "d": -0.05}
ASSORTMENT_LEVEL = {"a": -0.09, "b": 0.18, "c": 0.11}
PROMO2_STORE_LEVEL = -0.04

# --- Calendar profile (log multipliers relative to the store level) ------------------------------
# Mon..Sun without promo and Mon..Fri with promo, as ratios to the store mean; weekday and month
# factors are those of ordinary days, so that with the days next to closures (which fall on
# Tuesdays to Saturdays, and in the months with holidays) the ratios come out as the real ones.
DOW_NO_PROMO = (0.897, 0.851, 0.82, 0.83, 0.89, 0.83, 1.08)
DOW_PROMO = (1.431, 1.188, 1.12, 1.11, 1.14)
MONTH_FACTOR = (0.944, 0.965, 1.019, 0.997, 0.995, 0.997, 0.982, 0.968, 0.912, 0.947, 1.059, 1.086)
CHRISTMAS_RUSH_DAYS = ("12-15", "12-23")
CHRISTMAS_RUSH_FACTOR = 1.30
# 24 and 31 Dec are absolute ratios to the store mean (shops close early), Christmas rush included.
CHRISTMAS_EVE_FACTOR = 0.80
# The open days after Christmas and before New Year differ (real dev slice, ratios to the
# store's early-December level: 27-28 Dec 0.94, 29-30 Dec 1.17; 2 Jan 1.21, in school holidays).
AFTER_CHRISTMAS_FACTOR = 0.90
BETWEEN_YEARS_FACTOR = 1.10
NEW_YEARS_EVE_FACTOR = 0.487
AFTER_NEW_YEAR_FACTOR = 1.15
# Closures from Christmas Eve to New Year's Day: the factors above set the open days around
# them, so the closure effects below leave those days alone.
CHRISTMAS_CLOSURES = ("12-24", "01-01")
SCHOOL_HOLIDAY_LOG = 0.045
SCHOOL_HOLIDAY_STORE_SD = 0.04
PROMO2_MONTH_LOG = 0.02

# --- Store-specific structure (what a static median cannot see) -----------------------------------
PROMO_LIFT_STORE_SD = 0.11
DOW_STORE_SD = 0.14
PROMO_DOW_STORE_SD = 0.06
SEASON_AMPLITUDE_SD = 0.30
SEASON_HARMONIC_SD = 0.05
TREND_CENTER = np.datetime64("2014-04-15")
TREND_MEAN_PER_YEAR = 0.03
TREND_SD_PER_YEAR = 0.05
RANDOM_WALK_SD_PER_YEAR = 0.07
REGIME_SHIFT_SHARE = 0.20
REGIME_SHIFT_SD = 0.15
REGIME_SHIFT_EARLIEST = np.datetime64("2013-03-01")
REFURBISHMENT_SHIFT_MEAN = 0.05
REFURBISHMENT_SHIFT_SD = 0.08
COMPETITION_DROP_RANGE = (0.03, 0.18)
COMPETITION_DROP_NEAR_BONUS = 0.08
COMPETITION_DROP_NEAR_M = 1000.0
COMPETITION_RAMP_DAYS = 14
TEMP_CLOSURE_SHARE = 0.03
TEMP_CLOSURE_DAYS = (5, 25)
RANDOM_CLOSURE_PROB = 0.0015
ZERO_SALES_OPEN_PROB = 5.3e-5

# --- Sales next to closures (log, by open days to or since the closure: 1st, 2nd, 3rd) -----------
# Measured on the real dev slice (82 stores, 2013-2015) as ratios to the store's median for the
# weekday and promo state, rescaled to its month (scripts/generator_stats.py, closure_events).
# The log values below are for type a stores, fitted so that the generated data measure as the
# real; the Easter ones are smaller than the ratios because the Easter school break adds its own.
# Customers stock up on the open days before a closure they know of (a state holiday): 1.26,
# 1.09, 1.06 before holidays of code a, 1.36, 1.25, 1.14 before Good Friday. A closure that only
# extends the usual Sunday closure (Whit or Easter Monday) brings none: the Saturday before stays
# at 1.01, it already is the shopping day before a closed day. Nor do unannounced ones (1.00).
PRE_CLOSURE_LOG = {"a": (0.21, 0.075, 0.038), "b": (0.275, 0.15, 0.075)}
# They catch up on the open days after any short closure: 1.29, 1.04, 1.03 after a holiday of
# code a, 1.32, 1.09, 1.05 after Easter; one-off closures (20 events) look like code a (1.29).
POST_CLOSURE_LOG = {"a": (0.245, 0.04, 0.021), "b": (0.225, 0.03, 0.042)}
# The effects scale with StoreType, per open day (ratios on the 1st-3rd open day before a holiday
# closure: a 1.24, 1.09, 1.06 on 49 stores, c 1.31, 1.15, 1.12 on 9, d 1.27, 1.11, 1.07 on 16;
# after: a 1.29, 1.05, 1.03, c 1.36, 1.07, 1.04, d 1.28, 1.04, 1.02). Type b stores (train
# stations) stay open on holidays, so their scale is unmeasured and kept at 1.
PRE_CLOSURE_TYPE_SCALE = {
    "a": (1, 1, 1),
    "b": (1, 1, 1),
    "c": (1.3, 1.6, 2.0),
    "d": (1.2, 1.25, 1.2),
}
POST_CLOSURE_TYPE_SCALE = {
    "a": (1, 1, 1),
    "b": (1, 1, 1),
    "c": (1.25, 1.45, 1.45),
    "d": (1, 0.7, 0.55),
}
# Reopening after a temporary closure of days or weeks (4-5 closures): 1.63 on the 1st open day,
# 1.24 on the 2nd-3rd, 1.07 on the 4th-7th, with a wide spread between closures (0.66 to 2.33 on
# the 1st day). After the refurbishment gap (2 stores) 2 Jan was 1.25, as for any store (1.21),
# so the refurbished stores get no bump.
REOPENING_BUMP_LOG = 0.43
REOPENING_BUMP_SD = 0.35
REOPENING_BUMP_OPEN_DAYS = 2.0
# Stores open on state holidays (the 8 type b stores): 1.15 the day before, 1.10 the day after,
# 1.22 on the holiday itself, with a wide spread between stores (log mean 0.15, sd 0.37).
HOLIDAY_OPEN_PRE_LOG = 0.13
HOLIDAY_OPEN_POST_LOG = 0.095
HOLIDAY_OPEN_LOG = 0.14
HOLIDAY_OPEN_STORE_SD = 0.35

# --- Noise and customers --------------------------------------------------------------------------
NOISE_SD = 0.062
OUTLIER_PROB = 0.01
OUTLIER_SD = 0.25
SALES_PER_CUSTOMER = 8.6
SPC_STORE_SD = 0.17
SPC_TYPE = {"a": 0.0, "b": -0.62, "c": 0.0, "d": 0.12}
SPC_ASSORTMENT = {"a": -0.04, "b": 0.0, "c": 0.05}
# Promo lifts sales x1.40 but customers only x1.22: promo baskets are bigger.
PROMO_CUSTOMER_SHARE = np.log(1.22) / np.log(1.40)
CUSTOMER_NOISE_SD = 0.05

# Child seed streams, one per component, so that changing one leaves the others alone.
_STREAMS = (
    "stores",
    "competition",
    "promo2",
    "profile",
    "trend",
    "walk",
    "shifts",
    "closures",
    "noise",
    "customers",
    "test",
    "events",
)


@dataclass(frozen=True)
class SyntheticData:
    """The three Kaggle frames plus the generator's own noise-free expected sales.

    Frames hold the columns, order and sort of the Kaggle files; ``Date`` is ``datetime64``,
    ``StateHoliday`` is a string (``0, a, b, c``) and missing values are ``NaN``.
    ``expected`` has the index of ``train`` and is 0 on closed days. ``test_actuals`` are the
    sales of the test period as they later "arrive", in the train.csv format (never written to
    ``data/01_raw``: they are what live monitoring compares the forecasts of test.csv with).
    """

    train: pd.DataFrame
    store: pd.DataFrame
    test: pd.DataFrame
    expected: pd.Series
    test_actuals: pd.DataFrame


def _quota(n: int, weights: np.ndarray) -> np.ndarray:
    """Split n into integer counts proportional to weights (largest remainder)."""
    raw = np.asarray(weights, dtype=float) / np.sum(weights) * n
    counts = np.floor(raw).astype(int)
    short = n - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return counts


def _scaled(count: int, n_stores: int) -> int:
    """Scale a real store count to n_stores."""
    return round(count * n_stores / KAGGLE_N_STORES)


def _assign(n: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category index per store with exact quotas, in random order."""
    return rng.permutation(np.repeat(np.arange(len(weights)), _quota(n, weights)))


def _mmdd(year: int, mmdd: str) -> np.datetime64:
    return np.datetime64(f"{year}-{mmdd}")


@dataclass(frozen=True)
class _Calendar:
    dates: np.ndarray  # datetime64[D], train then test
    dow: np.ndarray  # 0 = Monday
    month: np.ndarray  # 1..12
    promo: np.ndarray  # bool, same for every store
    holiday: np.ndarray  # (region, day) str: 0/a/b/c
    school: np.ndarray  # (region, day) bool
    common_log: np.ndarray  # (day,) Christmas-season multipliers
    month_log: np.ndarray  # (day,) month profile
    christmas: np.ndarray  # (day,) bool: 24 Dec .. 1 Jan
    pre_holiday: np.ndarray  # (region, day) bool: the day before a state holiday a/b
    post_holiday: np.ndarray  # (region, day) bool: the day after a state holiday a/b


def _span(dates: np.ndarray, start: np.datetime64, days: int) -> np.ndarray:
    return (dates >= start) & (dates < start + np.timedelta64(days, "D"))


def _region_days(region: Region, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """StateHoliday codes and SchoolHoliday flags of one region."""
    holiday = np.full(dates.shape, "0", dtype="<U1")
    school = np.zeros(dates.shape, dtype=bool)
    fixed_a = ["01-01", "05-01", "10-03"]
    fixed_a += ["01-06"] * region.epiphany + ["08-15"] * region.assumption
    fixed_a += ["10-31"] * region.reformation + ["11-01"] * region.all_saints
    for year, easter_str, summer in zip(YEARS, EASTER_SUNDAYS, region.summer_starts, strict=True):
        easter = np.datetime64(easter_str)
        for mmdd in fixed_a:
            holiday[dates == _mmdd(year, mmdd)] = "a"
        moving_a = [39, 50] + [60] * region.corpus_christi  # Ascension, Whit Monday, Corpus C.
        for offset in moving_a:
            holiday[dates == easter + np.timedelta64(offset, "D")] = "a"
        for offset in (-2, 1):  # Good Friday, Easter Monday
            holiday[dates == easter + np.timedelta64(offset, "D")] = "b"
        for mmdd in ("12-25", "12-26"):
            holiday[dates == _mmdd(year, mmdd)] = "c"
        school |= _span(dates, np.datetime64(summer), SUMMER_BREAK_DAYS)
        school |= _span(
            dates, easter + np.timedelta64(region.easter_break_offset, "D"), EASTER_BREAK_DAYS
        )
        school |= _span(dates, _mmdd(year, region.autumn_start), AUTUMN_BREAK_DAYS)
        if region.whitsun_break:
            school |= _span(dates, easter + np.timedelta64(51, "D"), WHITSUN_BREAK_DAYS)
    return holiday, school


def _christmas_breaks(dates: np.ndarray) -> np.ndarray:
    start, end = CHRISTMAS_BREAK
    flag = np.zeros(dates.shape, dtype=bool)
    for year in (2012, *YEARS):
        flag |= (dates >= _mmdd(year, start)) & (dates <= _mmdd(year + 1, end))
    return flag


def _build_calendar() -> _Calendar:
    dates = np.arange(TRAIN_START, TEST_END + np.timedelta64(1, "D"))
    # 1970-01-01 was a Thursday.
    dow = (dates.astype("int64") + 3) % 7
    month = dates.astype("datetime64[M]").astype("int64") % 12 + 1
    monday = dates - dow.astype("timedelta64[D]")
    weeks = (monday - PROMO_ANCHOR_MONDAY).astype("int64") // 7
    promo_week = (weeks % 2 == 0) | np.isin(monday, np.array(EXTRA_PROMO_MONDAYS, "datetime64[D]"))
    promo = promo_week & (dow < 5)

    holiday = np.empty((len(REGIONS), dates.size), dtype="<U1")
    school = np.empty((len(REGIONS), dates.size), dtype=bool)
    christmas_break = _christmas_breaks(dates)
    for r, region in enumerate(REGIONS):
        holiday[r], school[r] = _region_days(region, dates)
        school[r] |= christmas_break

    common = np.zeros(dates.size)
    mmdd = np.array([str(d)[5:] for d in dates])
    rush = (mmdd >= CHRISTMAS_RUSH_DAYS[0]) & (mmdd <= CHRISTMAS_RUSH_DAYS[1])
    common[rush] = np.log(CHRISTMAS_RUSH_FACTOR)
    # Christmas Eve and New Year's Eve are absolute ratios to the store mean (shops close early).
    december = np.log(MONTH_FACTOR[11])
    common[mmdd == "12-24"] = np.log(CHRISTMAS_EVE_FACTOR) - december
    common[(mmdd >= "12-27") & (mmdd <= "12-28")] = np.log(AFTER_CHRISTMAS_FACTOR)
    common[(mmdd >= "12-29") & (mmdd <= "12-30")] = np.log(BETWEEN_YEARS_FACTOR)
    common[mmdd == "12-31"] = np.log(NEW_YEARS_EVE_FACTOR) - december
    common[mmdd == "01-02"] = np.log(AFTER_NEW_YEAR_FACTOR)
    month_log = np.log(np.array(MONTH_FACTOR))[month - 1]
    christmas = (mmdd >= CHRISTMAS_CLOSURES[0]) | (mmdd <= CHRISTMAS_CLOSURES[1])

    # Days next to a holiday, for the stores that stay open on it; Christmas days set their own.
    holiday_ab = np.isin(holiday, ("a", "b"))
    pre_holiday = np.zeros_like(holiday_ab)
    pre_holiday[:, :-1] = holiday_ab[:, 1:] & ~christmas[1:]
    post_holiday = np.zeros_like(holiday_ab)
    post_holiday[:, 1:] = holiday_ab[:, :-1] & ~christmas[:-1]
    no_holiday = holiday == "0"
    return _Calendar(
        dates,
        dow,
        month,
        promo,
        holiday,
        school,
        common,
        month_log,
        christmas,
        pre_holiday & no_holiday,
        post_holiday & no_holiday,
    )


@dataclass(frozen=True)
class _Competition:
    distance: np.ndarray  # metres, NaN when unknown
    since_month: np.ndarray  # NaN when unknown
    since_year: np.ndarray
    opened: np.ndarray  # datetime64[D], NaT unless it opened inside the training window
    drop: np.ndarray  # log drop of the store's level after the opening


def _draw_competition(n: int, rng: np.random.Generator) -> _Competition:
    """Distance to the nearest competitor and when it opened (unknown, in the window, earlier)."""
    log10_distance = rng.normal(COMPETITION_LOG10_MEAN, COMPETITION_LOG10_SD, n)
    distance = np.round(np.clip(10**log10_distance, *COMPETITION_DISTANCE_RANGE), -1)
    order = rng.permutation(n)
    n_missing_distance = _scaled(MISSING_DISTANCE_COUNT, n)
    # Stores without a known distance have no opening date either, as in the real file.
    n_missing_since = max(_scaled(MISSING_COMPETITION_SINCE_COUNT, n), n_missing_distance)
    n_window = min(_scaled(COMPETITION_IN_WINDOW_COUNT, n), n - n_missing_since)
    distance[order[:n_missing_distance]] = np.nan
    missing_since = np.zeros(n, bool)
    missing_since[order[:n_missing_since]] = True
    in_window = np.zeros(n, bool)
    in_window[order[n_missing_since : n_missing_since + n_window]] = True
    window_days = int((TRAIN_END - TRAIN_START).astype(int)) + 1
    opened = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    opened[in_window] = TRAIN_START + rng.integers(0, window_days, in_window.sum()).astype(
        "timedelta64[D]"
    )
    early = ~missing_since & ~in_window
    years = np.array(list(EARLY_COMPETITION_YEARS))
    year_p = np.array(list(EARLY_COMPETITION_YEARS.values()), float)
    since_year = np.full(n, np.nan)
    since_month = np.full(n, np.nan)
    since_year[early] = rng.choice(years, size=early.sum(), p=year_p / year_p.sum())
    since_month[early] = rng.integers(1, 13, early.sum())
    since_year[in_window] = opened[in_window].astype("datetime64[Y]").astype(int) + 1970
    since_month[in_window] = opened[in_window].astype("datetime64[M]").astype(int) % 12 + 1
    # A competitor next door takes more than one across town.
    near = np.nan_to_num(distance, nan=COMPETITION_DISTANCE_RANGE[1])
    drop = rng.uniform(*COMPETITION_DROP_RANGE, n) + COMPETITION_DROP_NEAR_BONUS * np.exp(
        -near / COMPETITION_DROP_NEAR_M
    )
    return _Competition(distance, since_month, since_year, opened, np.where(in_window, drop, 0.0))


@dataclass(frozen=True)
class _Promo2:
    flag: np.ndarray  # bool
    since_week: np.ndarray  # NaN where flag is False
    since_year: np.ndarray
    interval: np.ndarray  # object: interval name or None
    since: np.ndarray  # datetime64[D], NaT where flag is False
    months: np.ndarray  # (store, 13) bool: month m is a Promo2 month


def _draw_promo2(n: int, rng: np.random.Generator) -> _Promo2:
    """Which stores run Promo2, since when, and in which months."""
    flag = np.zeros(n, bool)
    flag[rng.choice(n, size=min(n, _scaled(PROMO2_COUNT, n)), replace=False)] = True
    n2 = int(flag.sum())
    p2_years = np.array(list(PROMO2_SINCE_YEARS))
    p2_p = np.array(list(PROMO2_SINCE_YEARS.values()), float)
    year = rng.choice(p2_years, size=n2, p=p2_p / p2_p.sum())
    # Promo2 starts in 2015 fall in its first half, before the end of the training data.
    week = np.where(year == 2015, rng.integers(5, 24, n2), rng.integers(1, 51, n2))
    names = list(PROMO_INTERVALS)
    shares = np.array([count for count, _ in PROMO_INTERVALS.values()], float)
    interval_idx = rng.choice(len(names), size=n2, p=shares / shares.sum())
    since = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    since[flag] = jan1 + ((week - 1) * 7).astype("timedelta64[D]")
    months = np.zeros((n, 13), bool)
    for store, idx in zip(np.flatnonzero(flag), interval_idx, strict=True):
        months[store, list(PROMO_INTERVALS[names[idx]][1])] = True
    since_week = np.full(n, np.nan)
    since_week[flag] = week
    since_year = np.full(n, np.nan)
    since_year[flag] = year
    interval = np.full(n, None, dtype=object)
    interval[flag] = np.array(names, dtype=object)[interval_idx]
    return _Promo2(flag, since_week, since_year, interval, since, months)


@dataclass(frozen=True)
class _Stores:
    frame: pd.DataFrame  # store.csv
    region: np.ndarray
    refurbished: np.ndarray
    sunday_open: np.ndarray
    level: np.ndarray
    spc_log: np.ndarray
    competition: _Competition
    promo2: _Promo2


def _draw_stores(n: int, rngs: dict[str, np.random.Generator]) -> _Stores:
    """Store attributes (store.csv) and the hidden per-store parameters behind the sales."""
    rng = rngs["stores"]
    pairs = list(TYPE_ASSORTMENT_COUNTS)
    pair_idx = _assign(n, np.array(list(TYPE_ASSORTMENT_COUNTS.values()), float), rng)
    store_type = np.array([pairs[i][0] for i in pair_idx])
    assortment = np.array([pairs[i][1] for i in pair_idx])
    region = _assign(n, np.array([r.weight for r in REGIONS]), rng)
    refurbished = np.array([r.code for r in REGIONS])[region] == REFURBISHED_REGION
    sunday_open = store_type == "b"
    others = np.flatnonzero(~sunday_open)
    extra = min(others.size, round(SUNDAY_OPEN_EXTRA_SHARE * n))
    sunday_open[rng.choice(others, size=extra, replace=False)] = True
    competition = _draw_competition(n, rngs["competition"])
    promo2 = _draw_promo2(n, rngs["promo2"])

    srng = rngs["profile"]
    z = srng.standard_normal(n)
    level = (
        LEVEL_LOG_MEDIAN
        + np.vectorize(TYPE_LEVEL.get)(store_type)
        + np.vectorize(ASSORTMENT_LEVEL.get)(assortment)
        + PROMO2_STORE_LEVEL * promo2.flag
        + LEVEL_SD * z
        + LEVEL_SKEW * (z**2 - 1)
    )
    spc_log = (
        np.log(SALES_PER_CUSTOMER)
        + np.vectorize(SPC_TYPE.get)(store_type)
        + np.vectorize(SPC_ASSORTMENT.get)(assortment)
        + srng.normal(0.0, SPC_STORE_SD, n)
    )
    frame = pd.DataFrame(
        {
            "Store": np.arange(1, n + 1, dtype="int64"),
            "StoreType": pd.array(store_type, dtype="str"),
            "Assortment": pd.array(assortment, dtype="str"),
            "CompetitionDistance": competition.distance,
            "CompetitionOpenSinceMonth": competition.since_month,
            "CompetitionOpenSinceYear": competition.since_year,
            "Promo2": promo2.flag.astype("int64"),
            "Promo2SinceWeek": promo2.since_week,
            "Promo2SinceYear": promo2.since_year,
            "PromoInterval": pd.array(promo2.interval, dtype="str"),
        }
    )
    return _Stores(frame, region, refurbished, sunday_open, level, spc_log, competition, promo2)


def _step(dates: np.ndarray, when: np.ndarray, ramp_days: int = 1) -> np.ndarray:
    """(store, day) ramp from 0 to 1 starting at ``when`` (NaT: never)."""
    offset = (dates[None, :] - when[:, None]).astype("float64")  # NaT -> nan
    return np.clip(np.nan_to_num((offset + 1) / ramp_days, nan=0.0), 0.0, 1.0)


def _calendar_profile(
    cal: _Calendar, stores: _Stores, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Log multipliers from weekday, promo, season, holidays and Promo2, store by store.

    Returns the (store, day) log profile and the store's log promo lift on each day.
    """
    n, t = stores.level.size, cal.dates.size
    is_promo = cal.promo[None, :]
    no_promo = np.log(np.array(DOW_NO_PROMO))
    with_promo = np.log(np.array(DOW_PROMO + (DOW_NO_PROMO[5], DOW_NO_PROMO[6])))
    # Store-specific weekday profile (Mon-Sat centred) and promo lift, spread over the weekdays.
    dow_dev = rng.normal(0.0, DOW_STORE_SD, (n, 7))
    dow_dev[:, :6] -= dow_dev[:, :6].mean(axis=1, keepdims=True)
    lift_dev = rng.normal(0.0, PROMO_LIFT_STORE_SD, n)
    promo_dow_dev = rng.normal(0.0, PROMO_DOW_STORE_SD, (n, 7))
    promo_dow_dev[:, :5] -= promo_dow_dev[:, :5].mean(axis=1, keepdims=True)
    promo_dow_dev[:, 5:] = 0.0
    log_mu = np.where(cal.promo, with_promo[cal.dow], no_promo[cal.dow])[None, :].repeat(n, 0)
    log_mu += dow_dev[:, cal.dow] + (lift_dev[:, None] + promo_dow_dev[:, cal.dow]) * is_promo

    # Seasonality: common month profile scaled per store, a store harmonic, Christmas days.
    amplitude = rng.normal(1.0, SEASON_AMPLITUDE_SD, n)
    harmonic = rng.normal(0.0, SEASON_HARMONIC_SD, (n, 2))
    day_of_year = 2 * np.pi * (cal.dates - cal.dates.astype("datetime64[Y]")).astype(int) / 365.25
    log_mu += amplitude[:, None] * cal.month_log[None, :] + cal.common_log[None, :]
    log_mu += harmonic[:, :1] * np.sin(day_of_year) + harmonic[:, 1:] * np.cos(day_of_year)

    # School holidays of the store's region (the days around closures: _closure_effects).
    school_effect = rng.normal(SCHOOL_HOLIDAY_LOG, SCHOOL_HOLIDAY_STORE_SD, n)
    log_mu += school_effect[:, None] * cal.school[stores.region]

    # Promo2 months after the store joined.
    active2 = (cal.dates[None, :] >= stores.promo2.since[:, None]) & np.take_along_axis(
        stores.promo2.months, np.broadcast_to(cal.month, (n, t)), axis=1
    )
    log_mu += PROMO2_MONTH_LOG * active2
    promo_lift = ((with_promo - no_promo)[cal.dow][None, :] + lift_dev[:, None]) * is_promo
    return log_mu, promo_lift


def _level_path(
    cal: _Calendar, stores: _Stores, rngs: dict[str, np.random.Generator]
) -> np.ndarray:
    """(store, day) log level: trend, slow random walk and level shifts.

    This is the structure a static per-store median misses but recent history reveals.
    """
    n, t = stores.level.size, cal.dates.size
    years_from_center = (cal.dates - TREND_CENTER).astype(int) / 365.25
    slope = rngs["trend"].normal(TREND_MEAN_PER_YEAR, TREND_SD_PER_YEAR, n)
    path = stores.level[:, None] + slope[:, None] * years_from_center[None, :]
    walk = np.cumsum(
        rngs["walk"].normal(0.0, RANDOM_WALK_SD_PER_YEAR / np.sqrt(365.25), (n, t)), axis=1
    )
    # Centre the walk on the training period so that the store level stays its mean.
    path += walk - walk[:, : _train_days()].mean(axis=1, keepdims=True)

    shifts = rngs["shifts"]
    shifted = shifts.random(n) < REGIME_SHIFT_SHARE
    shift_day = REGIME_SHIFT_EARLIEST + shifts.integers(
        0, int((TEST_END - REGIME_SHIFT_EARLIEST).astype(int)), n
    ).astype("timedelta64[D]")
    shift_day = np.where(shifted, shift_day, np.datetime64("NaT"))
    path += shifts.normal(0.0, REGIME_SHIFT_SD, n)[:, None] * _step(cal.dates, shift_day)
    reopened = np.where(
        stores.refurbished, REFURBISHMENT_END + np.timedelta64(1, "D"), np.datetime64("NaT")
    )
    refurbishment_shift = shifts.normal(REFURBISHMENT_SHIFT_MEAN, REFURBISHMENT_SHIFT_SD, n)
    path += refurbishment_shift[:, None] * _step(cal.dates, reopened)
    path -= stores.competition.drop[:, None] * _step(
        cal.dates, stores.competition.opened, COMPETITION_RAMP_DAYS
    )
    return path


@dataclass(frozen=True)
class _Opening:
    """Which stores open on which days, and why they close."""

    open_: np.ndarray  # (store, day) bool
    temporary: np.ndarray  # (store, day) bool: closed for days or weeks
    holiday_open: np.ndarray  # (store,) bool: open on state holidays


def _opening(cal: _Calendar, stores: _Stores, rng: np.random.Generator) -> _Opening:
    """Sunday and holiday closures, one-off closures and temporary closures of days or weeks."""
    n, t = stores.level.size, cal.dates.size
    holiday = cal.holiday[stores.region]
    holiday_open = rng.random(n) < np.where(
        stores.sunday_open, HOLIDAY_OPEN_PROB_SUNDAY_STORES, HOLIDAY_OPEN_PROB_OTHERS
    )
    open_ = np.ones((n, t), bool)
    open_ &= ~((cal.dow[None, :] == 6) & ~stores.sunday_open[:, None])
    open_ &= ~((holiday != "0") & ~holiday_open[:, None])
    open_ &= rng.random((n, t)) >= RANDOM_CLOSURE_PROB
    temp = rng.random(n) < TEMP_CLOSURE_SHARE
    temp_start = rng.integers(0, t - TEMP_CLOSURE_DAYS[1], n)
    temp_len = rng.integers(TEMP_CLOSURE_DAYS[0], TEMP_CLOSURE_DAYS[1] + 1, n)
    day_idx = np.arange(t)[None, :]
    temporary = temp[:, None] & (day_idx >= temp_start[:, None])
    temporary &= day_idx < (temp_start + temp_len)[:, None]
    return _Opening(open_ & ~temporary, temporary, holiday_open)


def _open_days_to_events(
    open_: np.ndarray, event: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Open days to each store's next event and since its last one (1 = the adjacent open day).

    Closed days in between (Sundays) do not count. Returns both counts and the day index of the
    next and the last event; without one, the count is the number of days and the index 0.
    """
    n, t = open_.shape
    rows = np.arange(n)[:, None]
    day = np.broadcast_to(np.arange(t), (n, t))
    nxt = np.minimum.accumulate(np.where(event, day, t)[:, ::-1], axis=1)[:, ::-1]
    last = np.maximum.accumulate(np.where(event, day, -1), axis=1)
    count = np.cumsum(open_, axis=1)
    to_next = np.where(nxt < t, count[rows, np.minimum(nxt, t - 1)] - count + 1, t)
    since = np.where(last >= 0, count - count[rows, np.maximum(last, 0)], t)
    return to_next, since, np.where(nxt < t, nxt, 0), np.maximum(last, 0)


def _by_open_days(
    effects: dict[str, tuple[float, ...]], code: np.ndarray, days: np.ndarray
) -> np.ndarray:
    """Look up ``effects[code][days - 1]`` (code indexes the dict's keys), zero further away."""
    width = len(next(iter(effects.values())))
    table = np.zeros((len(effects), width + 1))
    table[:, :width] = list(effects.values())
    return table[code.astype(int), np.clip(days, 1, width + 1) - 1]


def _closure_effects(
    cal: _Calendar, stores: _Stores, opening: _Opening, rng: np.random.Generator
) -> np.ndarray:
    """(store, day) log sales effect of each store's own closures on the open days around them.

    Customers stock up before a closure they know of (a state holiday that does not just extend
    the Sunday closure) and catch up after any short closure; the two do not add up on a day
    between two closures. After a long closure, sales start with a bump that fades. Stores that
    stay open on holidays see the days around and on the holiday instead.
    """
    n = stores.level.size
    rows = np.arange(n)[:, None]
    open_ = opening.open_
    holiday = cal.holiday[stores.region]
    usual_day = (cal.dow[None, :] != 6) | stores.sunday_open[:, None]
    closure = ~open_ & usual_day
    open_day_before = np.pad(open_, ((0, 0), (1, 0)), constant_values=True)[:, :-1]
    known = closure & open_day_before & np.isin(holiday, ("a", "b")) & ~cal.christmas[None, :]
    to_known, _, next_known, _ = _open_days_to_events(open_, known)
    _, since, _, last = _open_days_to_events(open_, closure)

    types = pd.Index(list(PRE_CLOSURE_TYPE_SCALE))
    type_idx = types.get_indexer(stores.frame["StoreType"])[:, None]
    pre = _by_open_days(PRE_CLOSURE_LOG, holiday[rows, next_known] == "b", to_known)
    pre *= _by_open_days(PRE_CLOSURE_TYPE_SCALE, type_idx, to_known)
    post = _by_open_days(POST_CLOSURE_LOG, holiday[rows, last] == "b", since)
    post *= _by_open_days(POST_CLOSURE_TYPE_SCALE, type_idx, since)
    last_long = opening.temporary[rows, last]
    # After Christmas and New Year the Christmas factors apply; after a long closure, the bump.
    post[cal.christmas[last] | last_long] = 0.0

    holiday_open = opening.holiday_open[:, None]
    pre = np.maximum(pre, HOLIDAY_OPEN_PRE_LOG * (holiday_open & cal.pre_holiday[stores.region]))
    post = np.maximum(
        post, HOLIDAY_OPEN_POST_LOG * (holiday_open & cal.post_holiday[stores.region])
    )
    on_holiday = holiday_open & np.isin(holiday, ("a", "b"))
    holiday_effect = rng.normal(HOLIDAY_OPEN_LOG, HOLIDAY_OPEN_STORE_SD, n)[:, None]
    reopening = rng.normal(REOPENING_BUMP_LOG, REOPENING_BUMP_SD, n)[:, None]
    bump = reopening * np.exp(-(since - 1) / REOPENING_BUMP_OPEN_DAYS) * last_long
    # A day between two closures gets the larger effect, not both.
    return (
        np.where(pre > 0, np.maximum(pre, post + bump), post + bump) + holiday_effect * on_holiday
    )


@dataclass(frozen=True)
class _Panel:
    """(store, day) arrays over train and test days."""

    open_: np.ndarray
    sales: np.ndarray
    customers: np.ndarray
    expected: np.ndarray
    holiday: np.ndarray
    school: np.ndarray


def _train_days() -> int:
    return int((TRAIN_END - TRAIN_START).astype(int)) + 1


def generate(n_stores: int = KAGGLE_N_STORES, seed: int = 42) -> SyntheticData:
    """Generate the three Kaggle frames and the noise-free expected sales.

    Args:
        n_stores: Number of stores (the real data has 1,115); counts of special stores scale.
        seed: Seed of the random streams; the output is deterministic for (n_stores, seed).

    Returns:
        The ``train``, ``store`` and ``test`` frames and ``expected`` sales of every train row.

    Raises:
        ValueError: If ``n_stores`` is smaller than 1.
    """
    if n_stores < 1:
        raise ValueError(f"n_stores must be at least 1, got {n_stores}")
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rngs = {
        name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)
    }
    cal = _build_calendar()
    stores = _draw_stores(n_stores, rngs)
    shape = (n_stores, cal.dates.size)
    profile, promo_lift = _calendar_profile(cal, stores, rngs["profile"])
    opening = _opening(cal, stores, rngs["closures"])
    open_ = opening.open_
    log_mu = (
        profile
        + _level_path(cal, stores, rngs)
        + _closure_effects(cal, stores, opening, rngs["events"])
    )

    # Sales = expectation x day noise (with a few outliers); customers follow sales, but a
    # promo brings fewer extra customers than extra sales.
    nrng = rngs["noise"]
    noise = nrng.normal(0.0, NOISE_SD, shape)
    noise += (nrng.random(shape) < OUTLIER_PROB) * nrng.normal(0.0, OUTLIER_SD, shape)
    sales = np.where(open_, np.round(np.exp(log_mu + noise)), 0.0)
    sales[open_ & (nrng.random(shape) < ZERO_SALES_OPEN_PROB)] = 0.0
    cust_log = (
        log_mu
        + noise
        - stores.spc_log[:, None]
        - (1 - PROMO_CUSTOMER_SHARE) * promo_lift
        + rngs["customers"].normal(0.0, CUSTOMER_NOISE_SD, shape)
    )
    panel = _Panel(
        open_=open_,
        sales=sales,
        customers=np.where(sales > 0, np.round(np.exp(cust_log)), 0.0),
        expected=np.where(open_, np.exp(log_mu), 0.0),
        holiday=cal.holiday[stores.region],
        school=cal.school[stores.region],
    )
    missing_first_day = int(rngs["closures"].integers(0, n_stores))
    train, expected = _train_frame(cal, stores, panel, missing_first_day)
    test, test_actuals = _test_frame(cal, stores, panel, rngs["test"])
    logger.debug("Generated %d train rows for %d stores (seed %d)", len(train), n_stores, seed)
    return SyntheticData(
        train=train, store=stores.frame, test=test, expected=expected, test_actuals=test_actuals
    )


def _long(arr: np.ndarray, days: slice) -> np.ndarray:
    """(store, day) -> rows sorted by date descending, then store ascending."""
    return arr[:, days][:, ::-1].T.ravel()


def _calendar_columns(cal: _Calendar, panel: _Panel, keep: np.ndarray, days: slice) -> dict:
    """Store, DayOfWeek, Date, Promo, StateHoliday, SchoolHoliday of the kept rows."""
    rows = _long(keep, days)
    n = keep.shape[0]

    def column(values: np.ndarray) -> np.ndarray:
        return _long(np.broadcast_to(values, keep.shape), days)[rows]

    return {
        "Store": column(np.arange(1, n + 1)[:, None]).astype("int64"),
        "DayOfWeek": column(cal.dow[None, :] + 1).astype("int64"),
        "Date": column(cal.dates[None, :]).astype("datetime64[s]"),
        "Promo": column(cal.promo[None, :]).astype("int64"),
        "StateHoliday": pd.array(column(panel.holiday), dtype="str"),
        "SchoolHoliday": column(panel.school).astype("int64"),
        "_rows": rows,
    }


def _train_frame(
    cal: _Calendar, stores: _Stores, panel: _Panel, missing_first_day: int
) -> tuple[pd.DataFrame, pd.Series]:
    days = slice(0, _train_days())
    keep = np.zeros(panel.open_.shape, bool)
    keep[:, days] = True
    gap = (cal.dates >= REFURBISHMENT_START) & (cal.dates <= REFURBISHMENT_END)
    keep[np.ix_(stores.refurbished, gap)] = False
    keep[missing_first_day, 0] = False  # one store lacks the first day, as in Kaggle
    cols = _calendar_columns(cal, panel, keep, days)
    rows = cols.pop("_rows")
    cols["Sales"] = _long(panel.sales, days)[rows].astype("int64")
    cols["Customers"] = _long(panel.customers, days)[rows].astype("int64")
    cols["Open"] = _long(panel.open_, days)[rows].astype("int64")
    frame = pd.DataFrame({name: cols[name] for name in TRAIN_COLUMNS})
    expected = pd.Series(_long(panel.expected, days)[rows], index=frame.index, name="expected")
    return frame, expected


def _test_frame(
    cal: _Calendar, stores: _Stores, panel: _Panel, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """test.csv, and the actual sales of its rows in the train.csv format."""
    n = stores.level.size
    days = slice(_train_days(), cal.dates.size)
    in_test = np.zeros(n, bool)
    in_test[rng.choice(n, size=max(1, min(n, _scaled(TEST_STORE_COUNT, n))), replace=False)] = True
    keep = np.broadcast_to(in_test[:, None], panel.open_.shape)
    open_f = panel.open_.astype(float)
    # One test store has Open missing on its last non-Sunday days, as store 622 in Kaggle.
    blank = rng.choice(np.flatnonzero(in_test))
    blank_days = np.flatnonzero(cal.dow[days] != 6)[-TEST_OPEN_MISSING_ROWS:] + days.start
    open_f[blank, blank_days] = np.nan
    cols = _calendar_columns(cal, panel, keep, days)
    rows = cols.pop("_rows")
    cols["Open"] = _long(open_f, days)[rows]
    cols["Id"] = np.arange(1, rows.sum() + 1, dtype="int64")
    test = pd.DataFrame({name: cols[name] for name in TEST_COLUMNS})
    actuals = {
        **cols,
        "Open": _long(panel.open_, days)[rows].astype("int64"),
        "Sales": _long(panel.sales, days)[rows].astype("int64"),
        "Customers": _long(panel.customers, days)[rows].astype("int64"),
    }
    return test, pd.DataFrame({name: actuals[name] for name in TRAIN_COLUMNS})


def _atomic_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a CSV next to its destination, to be renamed into place by the caller."""
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    # mkstemp creates owner-only files; the raw data are ordinary readable files.
    os.chmod(tmp, RAW_FILE_MODE)
    frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    return Path(tmp)


def write_raw_files(
    directory: str | os.PathLike[str], n_stores: int = KAGGLE_N_STORES, seed: int = 42
) -> dict[str, Path]:
    """Write ``train.csv``, ``store.csv`` and ``test.csv`` in the Kaggle text format.

    All three are written to temporary files first and renamed into place at the end, so an
    interrupted run never leaves a half-written file behind.

    Args:
        directory: Target folder (created if missing).
        n_stores: Number of stores, passed to :func:`generate`.
        seed: Random seed, passed to :func:`generate`.

    Returns:
        The written paths keyed by file name.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    data = generate(n_stores=n_stores, seed=seed)
    frames = {"train.csv": data.train, "store.csv": data.store, "test.csv": data.test}
    temporary: dict[str, Path] = {}
    try:
        for name, frame in frames.items():
            temporary[name] = _atomic_csv(frame, target / name)
        paths = {}
        for name, tmp in temporary.items():
            paths[name] = target / name
            os.replace(tmp, paths[name])
    finally:
        for tmp in temporary.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    logger.info(
        "Wrote synthetic Rossmann files to %s (%d stores, seed %d, %d train rows)",
        target,
        n_stores,
        seed,
        len(data.train),
    )
    return paths
