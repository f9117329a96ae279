"""Print the synthetic generator's calibrated statistics next to the real Kaggle figures.

Usage: python scripts/generator_stats.py [--n-stores 1115] [--seed 42]

The real figures come from DATA_FACTS.md, except the closure rows ("open day before/after ...",
"... store open on it", "27 Dec" and "2 Jan"): those are ratios to the store's typical level for
the weekday and promo state (see ``closure_events``), measured with the same function on the real
dev slice (82 stores of the real train.csv, 2013-01-01 .. 2015-07-31), with the number of stores or
closures each rests on. The two holdout bands (last 42 days of train) are the ones the generator
promises: a per-(Store, DayOfWeek, Promo) median baseline at RMSPE 0.13-0.16 and the generator's
own noise-free expectation at 0.06-0.08.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import rmspe
from rossmann_forecast.raw.synthetic import (
    KAGGLE_N_STORES,
    SyntheticData,
    _open_days_to_events,
    generate,
)

HOLDOUT_START = "2015-06-20"
# A leak-free reference that uses recent history: the long-run median profile rescaled by the
# store's median ratio to it over the last weeks before the holdout.
RECENT_WEEKS = 8


# Closure rows: sales on the open days next to a store's closures. The real figures were measured
# with closure_events on the real dev slice, so both columns mean the same.
# A closure of at least this many of the store's usual opening days, holidays not counted, is a
# long one (temporary closure, refurbishment gap); shorter ones are holidays and one-off closures.
LONG_CLOSURE_DAYS = 3
# Ordinary days, which set a store's typical level, are this many days away from any closure or
# state holiday and outside the Christmas season.
ORDINARY_MARGIN_DAYS = 4
CHRISTMAS_SEASON = ("12-15", "01-06")
# Closures from Christmas Eve to New Year (code "x") are left to the Christmas rows.
CHRISTMAS_CLOSURES = ("12-24", "01-01")


def _store_day_grid(train: pd.DataFrame) -> dict[str, np.ndarray]:
    """Train columns as (store, day) arrays over every calendar day; missing rows are closed."""
    dates = pd.date_range(train["Date"].min(), train["Date"].max())
    stores = np.sort(train["Store"].unique())
    at = (
        np.searchsorted(stores, train["Store"].to_numpy()),
        (train["Date"] - dates[0]).dt.days.to_numpy(),
    )
    shape = (stores.size, dates.size)
    grid = {"stores": stores, "dates": dates.to_numpy(), "present": np.zeros(shape, bool)}
    grid["present"][at] = True
    for name, column, fill in (
        ("open", train["Open"].to_numpy() == 1, False),
        ("sales", train["Sales"].to_numpy(), 0),
        ("promo", train["Promo"].to_numpy(), 0),
        ("holiday", train["StateHoliday"].astype(str).to_numpy(), "0"),
    ):
        grid[name] = np.full(shape, fill, dtype=np.asarray(column).dtype)
        grid[name][at] = column
    return grid


def _open_days_around(open_: np.ndarray, event: np.ndarray) -> dict[str, np.ndarray]:
    """The generator's own counts (``_open_days_to_events``), by name: open days to each
    store's next event and since its last one (1 = adjacent), and both days' indexes."""
    before, after, nxt, last = _open_days_to_events(open_, event)
    return {"before": before, "after": after, "next": nxt, "last": last}


def _near(event: np.ndarray, margin: int) -> np.ndarray:
    """(store, day) flag: an event lies within ``margin`` days either side."""
    padded = np.pad(np.cumsum(event, axis=1), ((0, 0), (margin + 1, margin)), mode="edge")
    padded[:, : margin + 1] = 0
    return padded[:, 2 * margin + 1 :] - padded[:, : -2 * margin - 1] > 0


def _long_closures(grid: dict[str, np.ndarray], closure: np.ndarray) -> tuple[np.ndarray, ...]:
    """Closure days in a spell of at least LONG_CLOSURE_DAYS closures: (gap, temporary).

    Holidays do not count towards the length, so a holiday next to a one-off closure is no long
    closure. A long spell with missing rows is the refurbishment gap, one with rows temporary.
    """
    closed = ~grid["open"]
    n, t = closed.shape
    spell = np.cumsum(closed & ~np.pad(closed, ((0, 0), (1, 0)))[:, :-1], axis=1) * closed
    spell += (np.arange(n) * (t + 1))[:, None]
    weights = (closure & (grid["holiday"] == "0")).ravel()
    closures = np.bincount(spell.ravel(), weights=weights, minlength=n * (t + 1))
    missing = np.bincount(spell.ravel(), weights=~grid["present"].ravel(), minlength=n * (t + 1))
    gap = closure & (missing[spell] > 0)
    return gap, closure & (closures[spell] >= LONG_CLOSURE_DAYS) & ~gap


def _typical_level_ratio(rows: pd.DataFrame) -> pd.Series:
    """Sales over the store's median for (DayOfWeek, Promo) on ordinary days, rescaled by the
    store's median of that ratio on the ordinary days of the month (takes out trend, season)."""
    ordinary = rows[rows["ordinary"]]
    keys = ["Store", "DayOfWeek", "Promo"]
    base = rows.join(ordinary.groupby(keys)["Sales"].median().rename("base"), on=keys)["base"]
    frame = pd.DataFrame(
        {"Store": rows["Store"], "month": rows["Date"].dt.to_period("M")}, index=rows.index
    ).assign(r=rows["Sales"] / base)
    local = frame[rows["ordinary"]].groupby(["Store", "month"])["r"].median().rename("local")
    return frame["r"] / frame.join(local, on=["Store", "month"])["local"]


def closure_events(train: pd.DataFrame, store: pd.DataFrame) -> pd.DataFrame:
    """Open rows with Sales > 0: their ratio to the store's typical level and nearby closures.

    A closure is a day on which the store is closed, or has no row, although it usually opens on
    that weekday (open on more than half of its rows for it): holidays, one-off and temporary
    closures, the refurbishment gap; not the usual Sunday. The typical level is the store's median
    for (DayOfWeek, Promo) on ordinary days, times its median ratio to that on the ordinary days
    of the same calendar month.

    Columns: ``Store, StoreType, Date, ratio``; ``before``/``after``: open days to the store's next
    closure and since its last one (1 = the adjacent open day); ``next_code``/``prev_code``: that
    closure's StateHoliday (``x`` from 24 Dec to 1 Jan); ``prev_temporary``/``prev_gap``: the last
    closure was a temporary closure / the refurbishment gap; ``on_holiday``,
    ``pre_open_holiday``, ``post_open_holiday``: on, the day before or the day after a state
    holiday a/b on which the store is open.
    """
    grid = _store_day_grid(train)
    open_, holiday = grid["open"], grid["holiday"]
    dates = pd.DatetimeIndex(grid["dates"])
    dow = dates.day_of_week.to_numpy()
    usual = np.stack(
        [open_[:, dow == w].sum(1) > 0.5 * grid["present"][:, dow == w].sum(1) for w in range(7)],
        axis=1,
    )
    closure = ~open_ & usual[:, dow]
    mmdd = dates.strftime("%m-%d").to_numpy()
    code = np.where((mmdd >= CHRISTMAS_CLOSURES[0]) | (mmdd <= CHRISTMAS_CLOSURES[1]), "x", holiday)
    around = _open_days_around(open_, closure)
    gap, temporary = _long_closures(grid, closure)
    open_holiday = open_ & np.isin(code, ("a", "b"))
    season = (mmdd >= CHRISTMAS_SEASON[0]) | (mmdd <= CHRISTMAS_SEASON[1])

    keep = open_ & (grid["sales"] > 0)
    n = open_.shape[0]
    rows = np.arange(n)[:, None]
    nxt, last = around["next"], around["last"]
    events = pd.DataFrame(
        {
            "Store": np.broadcast_to(grid["stores"][:, None], keep.shape)[keep],
            "Date": np.broadcast_to(grid["dates"][None, :], keep.shape)[keep],
            "DayOfWeek": np.broadcast_to(dow[None, :], keep.shape)[keep],
            "Promo": grid["promo"][keep],
            "Sales": grid["sales"][keep],
            "ordinary": (
                ~_near(closure | (holiday != "0"), ORDINARY_MARGIN_DAYS) & ~season[None, :]
            )[keep],
            "before": around["before"][keep],
            "after": around["after"][keep],
            "next_code": code[rows, nxt][keep],
            "prev_code": code[rows, last][keep],
            "prev_temporary": temporary[rows, last][keep],
            "prev_gap": gap[rows, last][keep],
            "on_holiday": open_holiday[keep],
            "pre_open_holiday": (np.pad(open_holiday[:, 1:], ((0, 0), (0, 1))) & ~open_holiday)[
                keep
            ],
            "post_open_holiday": (np.pad(open_holiday[:, :-1], ((0, 0), (1, 0))) & ~open_holiday)[
                keep
            ],
        }
    )
    events["ratio"] = _typical_level_ratio(events)
    events["StoreType"] = events["Store"].map(store.set_index("Store")["StoreType"])
    return events.dropna(subset=["ratio"])


def closure_rows(train: pd.DataFrame, store: pd.DataFrame) -> list[tuple[str, float, str]]:
    """(statistic, synthetic value, real figure) for the sales next to closures."""
    events = closure_events(train, store)
    mmdd = events["Date"].dt.strftime("%m-%d")
    short = ~events["prev_temporary"] & ~events["prev_gap"]
    before_holiday = events["next_code"].isin(["a", "b"])
    after_holiday = events["prev_code"].isin(["a", "b"]) & short
    type_b = events["StoreType"] == "b"

    def ratio(mask: pd.Series) -> float:
        return events.loc[mask, "ratio"].mean()

    table: list[tuple[str, float, str]] = []
    for store_type, real in (
        ("a", "1.24 (dev slice, 49 stores)"),
        ("c", "1.31 (dev slice, 9 stores)"),
        ("d", "1.27 (dev slice, 16 stores)"),
    ):
        table.append(
            (
                f"1st open day before holiday closure, type {store_type}",
                ratio(
                    before_holiday & (events["before"] == 1) & (events["StoreType"] == store_type)
                ),
                real,
            )
        )
    table += [
        (
            "2nd open day before holiday closure",
            ratio(before_holiday & (events["before"] == 2)),
            "1.10 (dev slice, 74 stores)",
        ),
        (
            "3rd open day before holiday closure",
            ratio(before_holiday & (events["before"] == 3)),
            "1.07 (dev slice, 74 stores)",
        ),
    ]
    for store_type, real in (
        ("a", "1.29 (dev slice, 49 stores)"),
        ("c", "1.36 (dev slice, 9 stores)"),
        ("d", "1.28 (dev slice, 16 stores)"),
    ):
        table.append(
            (
                f"1st open day after holiday closure, type {store_type}",
                ratio(after_holiday & (events["after"] == 1) & (events["StoreType"] == store_type)),
                real,
            )
        )
    table += [
        ("2nd open day after holiday closure", ratio(after_holiday & (events["after"] == 2)), "1.05 (dev slice, 74 stores)"),
        ("3rd open day after holiday closure", ratio(after_holiday & (events["after"] == 3)), "1.03 (dev slice, 74 stores)"),
        ("1st open day before Easter closure (b)", ratio((events["next_code"] == "b") & (events["before"] == 1)), "1.37 (dev slice, 74 stores)"),
        ("2nd open day before Easter closure (b)", ratio((events["next_code"] == "b") & (events["before"] == 2)), "1.24 (dev slice, 74 stores)"),
        ("1st open day after Easter closure (b)", ratio((events["prev_code"] == "b") & short & (events["after"] == 1)), "1.32 (dev slice, 74 stores)"),
        ("1st open day before one-off closure", ratio((events["next_code"] == "0") & (events["before"] == 1)), "1.00 (dev slice, 17 stores)"),
        ("1st open day after one-off closure", ratio((events["prev_code"] == "0") & short & (events["after"] == 1)), "1.29 (dev slice, 11 stores)"),
        ("1st open day after temporary closure", ratio(events["prev_temporary"] & (events["after"] == 1)), "1.63 (dev slice, 4 closures)"),
        ("2nd-3rd open day after temporary closure", ratio(events["prev_temporary"] & events["after"].between(2, 3)), "1.24 (dev slice, 5 closures)"),
        ("4th-7th open day after temporary closure", ratio(events["prev_temporary"] & events["after"].between(4, 7)), "1.07 (dev slice, 5 closures)"),
        ("1st open day after refurbishment gap", ratio(events["prev_gap"] & (events["after"] == 1)), "1.25 (dev slice, 2 stores)"),
        ("day before a holiday, store open, type b", ratio(events["pre_open_holiday"] & type_b), "1.15 (dev slice, 8 stores)"),
        ("state holiday, store open on it, type b", ratio(events["on_holiday"] & type_b), "1.22 (dev slice, 8 stores)"),
        ("day after a holiday, store open, type b", ratio(events["post_open_holiday"] & type_b), "1.10 (dev slice, 8 stores)"),
        ("27 Dec, ratio to typical level", ratio(mmdd == "12-27"), "0.97 (dev slice, 82 stores)"),
        ("2 Jan, ratio to typical level", ratio(mmdd == "01-02"), "1.21 (dev slice, 82 stores)"),
    ]  # fmt: skip
    return table


def _open_rows(data: SyntheticData) -> pd.DataFrame:
    train = data.train
    return train[(train["Open"] == 1) & (train["Sales"] > 0)]


def calibration_rows(data: SyntheticData) -> list[tuple[str, float, str]]:
    """(statistic, synthetic value, real figure) for every calibrated statistic."""
    train, store = data.train, data.store
    rows = _open_rows(data)
    store_mean = rows.groupby("Store")["Sales"].mean()
    ratio = rows["Sales"] / rows["Store"].map(store_mean)
    log_sales = np.log1p(rows["Sales"])
    quantiles = store_mean.quantile([0.1, 0.5, 0.9])
    by_promo = rows.groupby(["Store", "Promo"])["Sales"].mean().unstack()
    lift = (by_promo[1] / by_promo[0]).dropna()
    dow = ratio.groupby(rows["DayOfWeek"]).mean()
    dow_promo = ratio.groupby([rows["DayOfWeek"], rows["Promo"]]).mean()
    month = ratio.groupby(rows["Date"].dt.month).mean()
    mmdd = rows["Date"].dt.strftime("%m-%d")
    xmas_promo_monday = ratio[
        (rows["Date"].dt.month == 12)
        & (rows["Date"].dt.day.between(14, 22))
        & (rows["DayOfWeek"] == 1)
        & (rows["Promo"] == 1)
    ]
    by_type = store_mean.groupby(store.set_index("Store")["StoreType"]).mean()
    by_assortment = store_mean.groupby(store.set_index("Store")["Assortment"]).mean()
    holiday_rows = train[train["StateHoliday"] != "0"]
    customers_promo = rows.groupby("Promo")["Customers"].mean()
    yearly = rows.groupby(rows["Date"].dt.year)["Sales"].mean()
    type_share = store["StoreType"].value_counts(normalize=True)
    table: list[tuple[str, float, str]] = [
        ("train rows", len(train), "1,017,209"),
        ("test rows", len(data.test), "41,088"),
        ("closed share of rows", (train["Open"] == 0).mean(), "0.1699"),
        ("promo share of rows", train["Promo"].mean(), "0.38"),
        ("school holiday share of rows", train["SchoolHoliday"].mean(), "0.176"),
        ("StateHoliday a share", (train["StateHoliday"] == "a").mean(), "0.020"),
        ("StateHoliday b share", (train["StateHoliday"] == "b").mean(), "0.0066"),
        ("StateHoliday c share", (train["StateHoliday"] == "c").mean(), "0.0040"),
        ("open share on state holidays", holiday_rows["Open"].mean(), "0.014-0.032"),
        (
            "stores open on Sundays",
            train[train["DayOfWeek"] == 7].groupby("Store")["Open"].max().mean(),
            "~0.02",
        ),
        ("mean sales, open days", rows["Sales"].mean(), "6,955"),
        ("median sales, open days", rows["Sales"].median(), "~6,300"),
        ("log1p(Sales) mean", log_sales.mean(), "8.75"),
        ("log1p(Sales) sd", log_sales.std(), "0.42"),
        ("store mean p10", quantiles[0.1], "4,580"),
        ("store mean median", quantiles[0.5], "6,370"),
        ("store mean p90", quantiles[0.9], "9,690"),
        ("store mean min", store_mean.min(), "2,700"),
        ("store mean max", store_mean.max(), "16,600"),
    ]
    real_dow = (1.19, 1.02, 0.97, 0.98, 1.02, 0.83, 1.08)
    table += [
        (f"day-of-week ratio {d}", dow.get(d, np.nan), f"{real_dow[d - 1]:.2f}") for d in dow.index
    ]
    table += [
        ("Monday ratio, promo", dow_promo.get((1, 1), np.nan), "1.42"),
        ("Monday ratio, no promo", dow_promo.get((1, 0), np.nan), "0.89"),
        ("Tue-Fri ratio, promo", ratio[rows["DayOfWeek"].between(2, 5) & (rows["Promo"] == 1)].mean(), "1.10-1.20"),
        ("Tue-Fri ratio, no promo", ratio[rows["DayOfWeek"].between(2, 5) & (rows["Promo"] == 0)].mean(), "0.81-0.91"),
        ("promo lift (mean sales ratio)", rows.loc[rows["Promo"] == 1, "Sales"].mean() / rows.loc[rows["Promo"] == 0, "Sales"].mean(), "1.40"),
        ("per-store promo lift p10", lift.quantile(0.1), "1.21"),
        ("per-store promo lift median", lift.median(), "1.42"),
        ("per-store promo lift p90", lift.quantile(0.9), "1.63"),
        ("promo customer lift", customers_promo.get(1, np.nan) / customers_promo.get(0, np.nan), "1.22"),
    ]  # fmt: skip
    real_month = (0.94, 0.94, 1.00, 1.01, 1.02, 1.01, 1.00, 0.96, 0.94, 0.95, 1.04, 1.25)
    table += [
        (f"month ratio {m}", month.get(m, np.nan), f"{real_month[m - 1]:.2f}") for m in month.index
    ]
    table += [
        ("24 Dec ratio", ratio[mmdd == "12-24"].mean(), "0.69"),
        ("31 Dec ratio", ratio[mmdd == "12-31"].mean(), "0.58"),
        ("promo Monday before Christmas ratio", xmas_promo_monday.mean(), "1.9-2.06"),
        ("school holiday lift", ratio[rows["SchoolHoliday"] == 1].mean() / ratio[rows["SchoolHoliday"] == 0].mean(), "1.05"),
        ("mean sales 2013", yearly.get(2013, np.nan), "6,755"),
        ("mean sales 2014", yearly.get(2014, np.nan), "6,968"),
        ("mean sales 2015 (Jan-Jul)", yearly.get(2015, np.nan), "7,024"),
        ("customers, open days", rows["Customers"].mean(), "~750"),
        ("sales per customer (row mean)", (rows["Sales"] / rows["Customers"]).mean(), "~9.5"),
    ]  # fmt: skip
    table += [(f"StoreType {t} share", type_share.get(t, 0.0), real) for t, real in zip("abcd", ("0.540", "0.015", "0.133", "0.312"), strict=True)]  # fmt: skip
    table += [(f"store mean, StoreType {t}", by_type.get(t, np.nan), real) for t, real in zip("abcd", ("6,830", "8,510", "7,060", "6,860"), strict=True)]  # fmt: skip
    table += [(f"store mean, Assortment {a}", by_assortment.get(a, np.nan), real) for a, real in zip("abc", ("6,260", "9,750", "7,530"), strict=True)]  # fmt: skip
    log10_distance = np.log10(store["CompetitionDistance"].dropna())
    table += [
        ("CompetitionDistance missing", store["CompetitionDistance"].isna().sum(), "3"),
        ("CompetitionDistance median", store["CompetitionDistance"].median(), "2,325"),
        ("CompetitionDistance log10 mean", log10_distance.mean(), "3.32"),
        ("CompetitionDistance log10 sd", log10_distance.std(), "0.675"),
        ("CompetitionOpenSince missing share", store["CompetitionOpenSinceYear"].isna().mean(), "0.3175"),
        ("stores with competition opened 2013-2015", store["CompetitionOpenSinceYear"].between(2013, 2015).sum(), "191"),
        ("Promo2 share", store["Promo2"].mean(), "0.512"),
        ("refurbishment-gap stores", _gap_stores(train), "180"),
    ]  # fmt: skip
    return table + closure_rows(train, store)


def _gap_stores(train: pd.DataFrame) -> int:
    in_gap = train["Date"].between("2014-07-01", "2014-12-31")
    return train["Store"].nunique() - train.loc[in_gap, "Store"].nunique()


def holdout_bands(data: SyntheticData) -> dict[str, float]:
    """RMSPE on the last 42 days of train: median baseline, noise-free, recent-rescaled median."""
    train = data.train
    scored = (train["Open"] == 1) & (train["Sales"] > 0)
    in_holdout = train["Date"] >= HOLDOUT_START
    fit = train[scored & ~in_holdout]
    holdout = train[scored & in_holdout]
    keys = ["Store", "DayOfWeek", "Promo"]
    median = fit.groupby(keys)["Sales"].median().rename("pred")
    baseline = holdout.join(median, on=keys)["pred"].fillna(fit["Sales"].median())
    recent = fit.join(median, on=keys)
    recent = recent[
        recent["Date"] >= pd.Timestamp(HOLDOUT_START) - pd.Timedelta(weeks=RECENT_WEEKS)
    ]
    level = (recent["Sales"] / recent["pred"]).groupby(recent["Store"]).median()
    rescaled = baseline * holdout["Store"].map(level).fillna(1.0)
    return {
        "median baseline (band 0.13-0.16, real ~0.14)": rmspe(holdout["Sales"], baseline),
        "noise-free expected (band 0.06-0.08)": rmspe(
            holdout["Sales"], data.expected.loc[holdout.index]
        ),
        f"reference: median x last-{RECENT_WEEKS}-week store level": rmspe(
            holdout["Sales"], rescaled
        ),
    }


def _format(value: float) -> str:
    if isinstance(value, (int, np.integer)) or float(value).is_integer() and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.0f}"


def main() -> None:
    """Generate, then print the calibration table, the RMSPE bands and the generation time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-stores", type=int, default=KAGGLE_N_STORES)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    start = time.perf_counter()
    data = generate(n_stores=args.n_stores, seed=args.seed)
    elapsed = time.perf_counter() - start

    print(f"Synthetic Rossmann data: {args.n_stores} stores, seed {args.seed}\n")
    print(f"{'statistic':<45} {'synthetic':>12}   real")
    print("-" * 72)
    for name, value, real in calibration_rows(data):
        print(f"{name:<45} {_format(value):>12}   {real}")
    print(f"\nHoldout RMSPE, last 42 days of train ({HOLDOUT_START} .. 2015-07-31)")
    print("-" * 72)
    for name, value in holdout_bands(data).items():
        print(f"{name:<57} {value:.4f}")
    print(f"\ngeneration time: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
