"""Print the synthetic generator's calibrated statistics next to the real Kaggle figures.

Usage: python scripts/generator_stats.py [--n-stores 1115] [--seed 42]

The real figures come from DATA_FACTS.md. The two holdout bands (last 42 days of train) are the
ones the generator promises: a per-(Store, DayOfWeek, Promo) median baseline at RMSPE 0.13-0.16
and the generator's own noise-free expectation at 0.06-0.08.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import rmspe
from rossmann_forecast.synthetic import KAGGLE_N_STORES, SyntheticData, generate

HOLDOUT_START = "2015-06-20"
# A leak-free reference that uses recent history: the long-run median profile rescaled by the
# store's median ratio to it over the last weeks before the holdout.
RECENT_WEEKS = 8


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
    return table


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
