"""Drift before the sales are known: a batch's inputs and forecasts against the version's
reference.

A version's *reference* (:func:`build_reference`) is a compact profile of the data it was
trained on, captured by the training pipeline and served with the version: per date, the shares
of open, promo and holiday rows and how uniform Promo was across stores; per store and week, the
mean sales of its open days over the last year; each store's attributes from ``store.csv``; and
the last date it saw. :func:`check_batch` compares an inference batch with it, respecting the
calendar: a batch in August is compared with the same weekdays 52 weeks earlier, never with the
whole year, and forecasts are compared with what each store sold in those weeks, scaled by how
the store's sales moved over the year up to the end of training.

Every check is an effect size with a limit from ``conf/base/parameters_inference.yml``
(``drift``), not a p-value: on 40,000 rows any test is "significant", and what a user needs is
"Promo share 0.50 against 0.38 a year earlier". Pure: pandas, numpy and scipy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.raw.synthetic import STORE_COLUMNS

REFERENCE_FORMAT = 1
YEAR = pd.Timedelta(days=364)  # 52 weeks: the same weekday a year earlier
# store.csv's columns the model joins, compared store by store (all but the key).
STORE_ATTRIBUTES = [column for column in STORE_COLUMNS if column != "Store"]
# The verdict's status words.
DRIFT, NO_DRIFT, TOO_FEW_ROWS, SKIPPED = "drift", "no_drift", "too_few_rows", "skipped"


def _daily_profile(rows: pd.DataFrame) -> pd.DataFrame:
    """Per date: rows, and the shares of open, promo, school- and state-holiday rows, and the
    share of rows whose Promo differs from the majority of their date (Rossmann's promotions
    run chain-wide, so this is near 0 in every real file)."""
    frame = pd.DataFrame(
        {
            "Date": pd.to_datetime(rows["Date"]).dt.normalize(),
            "Open": pd.to_numeric(rows["Open"], errors="coerce").fillna(1.0),
            "Promo": pd.to_numeric(rows["Promo"], errors="coerce"),
            "SchoolHoliday": pd.to_numeric(rows["SchoolHoliday"], errors="coerce"),
            "StateHoliday": (rows["StateHoliday"].astype(str) != "0").astype(float),
        }
    )
    daily = frame.groupby("Date").agg(
        rows=("Open", "size"),
        open=("Open", "mean"),
        promo=("Promo", "mean"),
        school_holiday=("SchoolHoliday", "mean"),
        state_holiday=("StateHoliday", "mean"),
    )
    daily["promo_split"] = np.minimum(daily["promo"], 1.0 - daily["promo"])
    return daily.reset_index()


def _weekly_sales(sales: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """Mean sales of each store's open days per week (weeks start on Monday) from ``since``."""
    rows = sales[(pd.to_datetime(sales["Date"]) >= since) & (sales["Open"] == 1)]
    dates = pd.to_datetime(rows["Date"])
    week = dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
    weekly = (
        pd.DataFrame({"Store": rows["Store"].to_numpy(), "week": week, "Sales": rows["Sales"]})
        .groupby(["Store", "week"], as_index=False)["Sales"]
        .mean()
    )
    weekly["Sales"] = weekly["Sales"].round(1)
    return weekly


def _store_trend(sales: pd.DataFrame, last: pd.Timestamp, weeks: int) -> pd.Series:
    """Each store's sales over its last ``weeks`` weeks against the same weeks a year earlier."""
    dates = pd.to_datetime(sales["Date"])
    open_rows = sales["Open"] == 1
    start = last - pd.Timedelta(weeks=weeks) + pd.Timedelta(days=1)
    recent = sales[open_rows & (dates >= start)].groupby("Store")["Sales"].mean()
    before = sales[open_rows & (dates >= start - YEAR) & (dates <= last - YEAR)]
    earlier = before.groupby("Store")["Sales"].mean()
    return (recent / earlier).replace([np.inf, -np.inf], np.nan).dropna().round(4)


def build_reference(
    sales: pd.DataFrame, stores: pd.DataFrame, settings: dict[str, Any]
) -> dict[str, Any]:
    """Profile the training data a version learns from, for :func:`check_batch`.

    Args:
        sales: The validated ``train.csv`` rows the version was fitted on (Store, Date, Open,
            Promo, StateHoliday, SchoolHoliday, Sales).
        stores: The validated ``store.csv`` rows.
        settings: ``drift`` parameters: ``reference_weeks`` (weeks of per-store sales kept)
            and ``trend_weeks`` (weeks that measure each store's change over a year).

    Returns:
        A JSON-ready dict: ``format``, ``trained_through``, ``daily`` (per-date shares),
        ``weekly_sales`` (Store, week, mean open-day sales), ``trend`` (per store), ``stores``
        (attributes per store) and ``recent_stores`` (stores open in the last four weeks).
    """
    dates = pd.to_datetime(sales["Date"])
    last = dates.max().normalize()
    since = last - pd.Timedelta(weeks=int(settings["reference_weeks"]))
    weekly = _weekly_sales(sales, since)
    recent = sales[(dates > last - pd.Timedelta(weeks=4)) & (sales["Open"] == 1)]
    attributes = stores[["Store", *[c for c in STORE_ATTRIBUTES if c in stores.columns]]]
    daily = _daily_profile(sales)
    return {
        "format": REFERENCE_FORMAT,
        "trained_through": last.date().isoformat(),
        "daily": {
            "Date": daily["Date"].dt.date.astype(str).tolist(),
            **{
                column: daily[column].round(4).tolist()
                for column in daily.columns
                if column != "Date"
            },
        },
        "weekly_sales": {
            "Store": weekly["Store"].astype(int).tolist(),
            "week": weekly["week"].dt.date.astype(str).tolist(),
            "Sales": weekly["Sales"].tolist(),
        },
        "trend": {
            str(int(store)): float(value)
            for store, value in _store_trend(sales, last, int(settings["trend_weeks"])).items()
        },
        "stores": {
            str(int(row["Store"])): {key: _plain(row[key]) for key in attributes.columns[1:]}
            for _, row in attributes.iterrows()
        },
        "recent_stores": sorted(int(store) for store in recent["Store"].unique()),
    }


def _plain(value: Any) -> Any:
    """A JSON value: numbers as float, missing as None, the rest as str."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return str(value)


def _check(name: str, value: float | None, limit: str, drifted: bool, detail: str) -> dict:
    return {
        "check": name,
        "value": None if value is None else round(float(value), 4),
        "limit": limit,
        "drifted": bool(drifted),
        "detail": detail,
    }


def _year_earlier(reference_daily: pd.DataFrame, batch_dates: pd.Series) -> pd.DataFrame:
    """The reference's days 52 weeks before the batch's days (same weekdays)."""
    wanted = set(pd.to_datetime(batch_dates).dt.normalize() - YEAR)
    return reference_daily[reference_daily["Date"].isin(wanted)]


def _share_checks(
    batch_daily: pd.DataFrame, reference_daily: pd.DataFrame, limits: dict[str, Any]
) -> list[dict]:
    """Open, promo and holiday shares against the same weekdays a year earlier (or, without
    them, against the reference's same weekdays overall), and Promo's uniformity per date."""
    earlier = _year_earlier(reference_daily, batch_daily["Date"])
    enough = len(earlier) >= 0.8 * len(batch_daily)
    if enough:
        against = earlier
        where = f"the same weekdays a year earlier ({len(earlier)} days)"
    else:
        weekdays = set(batch_daily["Date"].dt.day_of_week)
        against = reference_daily[reference_daily["Date"].dt.day_of_week.isin(weekdays)]
        where = "the same weekdays over the reference (no year-earlier days)"
    checks = []
    for column, label in (
        ("promo", "Promo"),
        ("open", "Open"),
        ("school_holiday", "SchoolHoliday"),
        ("state_holiday", "StateHoliday"),
    ):
        now = np.average(batch_daily[column], weights=batch_daily["rows"])
        then = np.average(against[column], weights=against["rows"])
        limit = float(limits["share_difference"][label])
        checks.append(
            _check(
                f"{label} share",
                abs(now - then),
                f"difference <= {limit}",
                abs(now - then) > limit,
                f"{now:.3f} in the batch against {then:.3f} on {where}",
            )
        )
    split_now = np.average(batch_daily["promo_split"], weights=batch_daily["rows"])
    split_then = np.average(reference_daily["promo_split"], weights=reference_daily["rows"])
    limit = float(limits["promo_split"])
    checks.append(
        _check(
            "Promo uniformity",
            split_now,
            f"share of rows against their date's majority <= {split_then + limit:.3f}",
            split_now > split_then + limit,
            f"{split_now:.1%} of rows have a Promo unlike most stores on their date "
            f"({split_then:.1%} in the training data, where promotions run chain-wide)",
        )
    )
    return checks


def _few(values: list[Any], most: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def _store_checks(batch_stores: set[int], reference: dict[str, Any], limits: dict) -> list:
    """Which of the version's stores the batch holds, and stores it never saw."""
    known = {int(s) for s in reference["stores"]}
    recent = set(reference["recent_stores"]) or known
    present = len(batch_stores & recent) / len(recent)
    missing = sorted(recent - batch_stores)
    unknown = sorted(batch_stores - known)
    minimum = float(limits["stores_present"])
    return [
        _check(
            "Stores present",
            present,
            f">= {minimum}",
            present < minimum,
            f"{len(batch_stores & recent):,} of the {len(recent):,} stores open in the last "
            f"four weeks of training" + (f"; missing: {_few(missing)}" if missing else ""),
        ),
        _check(
            "Unknown stores",
            len(unknown),
            "0",
            bool(unknown),
            f"stores the version never saw: {_few(unknown)}" if unknown else "none",
        ),
    ]


def _attribute_checks(stores_now: pd.DataFrame | None, reference: dict, limits: dict) -> list:
    """``store.csv`` today against the attributes the version was trained with, store by
    store: a column whose values changed for many stores (a new unit, a shifted column)."""
    if stores_now is None or stores_now.empty:
        return []
    then = pd.DataFrame.from_dict(reference["stores"], orient="index")
    then.index = then.index.astype(int)
    now = stores_now.set_index("Store")
    common = then.index.intersection(now.index)
    checks = []
    for column in then.columns:
        if column not in now.columns or common.empty:
            continue
        old = then.loc[common, column]
        new = now.loc[common, column]
        old_num = pd.to_numeric(old, errors="coerce")
        new_num = pd.to_numeric(new, errors="coerce")
        if old_num.notna().any():
            same = np.isclose(old_num, new_num, rtol=0.01, equal_nan=True)
            ratio = (new_num / old_num).replace([np.inf, -np.inf], np.nan).dropna()
            extra = f"; median new/old {ratio.median():.3g}" if len(ratio) else ""
        else:
            same = ((old.astype(str) == new.astype(str)) | (old.isna() & new.isna())).to_numpy()
            extra = ""
        changed = float(1.0 - np.mean(same))
        limit = float(limits["attributes_changed"])
        checks.append(
            _check(
                f"store.csv {column}",
                changed,
                f"share of stores changed <= {limit}",
                changed > limit,
                f"changed for {int(round(changed * len(common))):,} of {len(common):,} "
                f"stores{extra}",
            )
        )
    return checks


def _forecast_level(
    batch: pd.DataFrame, reference: dict[str, Any], limits: dict[str, Any]
) -> dict[str, Any]:
    """Median over stores of (mean forecast of the batch's open days) / (mean sales of the
    same weeks a year earlier x the store's change over the year)."""
    weekly = pd.DataFrame(reference["weekly_sales"])
    weekly["week"] = pd.to_datetime(weekly["week"])
    open_rows = batch[batch["Open"].fillna(1).astype(float) == 1.0]
    dates = pd.to_datetime(open_rows["Date"]) - YEAR
    week = dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
    wanted = pd.DataFrame({"Store": open_rows["Store"].astype(int).to_numpy(), "week": week})
    earlier = (
        wanted.drop_duplicates()
        .merge(weekly, on=["Store", "week"])
        .groupby("Store")["Sales"]
        .mean()
    )
    forecast = open_rows.groupby(open_rows["Store"].astype(int))["Sales"].mean()
    trend = pd.Series({int(k): v for k, v in reference["trend"].items()}, dtype=float)
    expected = (earlier * trend.reindex(earlier.index).fillna(1.0)).dropna()
    ratio = (forecast.reindex(expected.index) / expected).replace([np.inf, -np.inf], np.nan)
    ratio = ratio.dropna()
    limit = float(limits["forecast_level"])
    if len(ratio) == 0:
        return _check(
            "Forecast level",
            None,
            f"within {limit:.0%}",
            False,
            "not judged: no store has sales in the same weeks a year earlier",
        )
    level = float(ratio.median())
    off = sorted(ratio[(ratio > 1 + 2 * limit) | (ratio < 1 / (1 + 2 * limit))].index.tolist())
    return _check(
        "Forecast level",
        level,
        f"within {limit:.0%} of the year-earlier level",
        abs(np.log(level)) > np.log1p(limit),
        f"forecasts are {level - 1:+.1%} against the same weeks a year earlier scaled by each "
        f"store's change over the year (median of {len(ratio):,} stores)"
        + (f"; stores far off: {_few(off)}" if off else ""),
    )


def _date_check(batch_daily: pd.DataFrame, reference: dict[str, Any], limits: dict) -> dict:
    trained_through = pd.Timestamp(reference["trained_through"])
    first, last = batch_daily["Date"].min(), batch_daily["Date"].max()
    gap = (first - trained_through).days
    most = int(limits["max_days_after_training"])
    if gap <= 0:
        detail = (
            f"the batch starts on {first.date()}, on or before {trained_through.date()}, the "
            "last day the version was trained on"
        )
    else:
        detail = (
            f"{first.date()} to {last.date()}: starts {gap} day{'s' if gap != 1 else ''} after "
            "the last day the "
            f"version was trained on ({trained_through.date()})"
        )
    return _check(
        "Dates",
        gap,
        f"1 to {most} days after training",
        gap <= 0 or gap > most,
        detail,
    )


def batch_summary(batch: pd.DataFrame) -> dict[str, Any]:
    """Rows, stores, first and last date of a batch."""
    dates = pd.to_datetime(batch["Date"])
    return {
        "rows": int(len(batch)),
        "stores": int(batch["Store"].nunique()),
        "first_date": dates.min().date().isoformat() if len(batch) else None,
        "last_date": dates.max().date().isoformat() if len(batch) else None,
    }


def check_batch(
    batch: pd.DataFrame,
    predictions: pd.DataFrame,
    reference: dict[str, Any] | None,
    settings: dict[str, Any],
    stores_now: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Compare one inference batch and its forecasts with the version's reference.

    Args:
        batch: The input rows (Kaggle test format: Store, Date, Open, Promo, StateHoliday,
            SchoolHoliday).
        predictions: The forecasts (Store, Date, Open, Sales), one per input row.
        reference: The version's :func:`build_reference`, or None for a version registered
            before references existed.
        settings: ``drift`` parameters: ``min_rows``, ``min_stores`` and ``limits``.
        stores_now: ``store.csv`` as it is today, to compare with the version's attributes.

    Returns:
        The verdict: ``status`` (drift, no_drift, too_few_rows or skipped), ``drifted`` (the
        names of the checks that fired), ``checks`` (each with value, limit and detail),
        ``batch`` (rows, stores, first and last date) and ``reason`` when skipped.
    """
    stores = {int(s) for s in batch["Store"].unique()}
    verdict: dict[str, Any] = {"batch": batch_summary(batch), "drifted": [], "checks": []}
    if reference is None:
        reason = "the version has no drift reference (registered before drift checks existed)"
        return {**verdict, "status": SKIPPED, "reason": reason}
    if reference.get("format") != REFERENCE_FORMAT:
        reason = f"the version's drift reference has format {reference.get('format')!r}, "
        return {**verdict, "status": SKIPPED, "reason": reason + f"not {REFERENCE_FORMAT}"}
    if len(batch) < int(settings["min_rows"]) or len(stores) < int(settings["min_stores"]):
        reason = (
            f"too few rows to judge: {len(batch):,} rows of {len(stores):,} stores (at least "
            f"{settings['min_rows']} rows of {settings['min_stores']} stores)"
        )
        return {**verdict, "status": TOO_FEW_ROWS, "reason": reason}
    limits = settings["limits"]
    reference_daily = pd.DataFrame(reference["daily"])
    reference_daily["Date"] = pd.to_datetime(reference_daily["Date"])
    batch_daily = _daily_profile(batch)
    checks = [
        _date_check(batch_daily, reference, limits),
        *_store_checks(stores, reference, limits),
        *_share_checks(batch_daily, reference_daily, limits),
        *_attribute_checks(stores_now, reference, limits),
        _forecast_level(predictions, reference, limits),
    ]
    drifted = [check["check"] for check in checks if check["drifted"]]
    return {
        **verdict,
        "status": DRIFT if drifted else NO_DRIFT,
        "drifted": drifted,
        "checks": checks,
    }


def _figure_png(batch_daily: pd.DataFrame, reference: dict[str, Any]) -> str:
    """Per-day Promo, Open and holiday shares of the batch beside the same weekdays a year
    earlier, as a base64 PNG for the HTML report."""
    import base64  # noqa: PLC0415
    import io  # noqa: PLC0415

    import matplotlib.pyplot as plt  # noqa: PLC0415

    reference_daily = pd.DataFrame(reference["daily"])
    reference_daily["Date"] = pd.to_datetime(reference_daily["Date"]) + YEAR
    earlier = reference_daily.set_index("Date").reindex(batch_daily["Date"])
    columns = [("promo", "Promo"), ("open", "Open"), ("school_holiday", "SchoolHoliday")]
    figure, axes = plt.subplots(len(columns), 1, figsize=(9, 6), sharex=True)
    for axis, (column, label) in zip(axes, columns, strict=True):
        axis.plot(batch_daily["Date"], batch_daily[column], label="this batch", lw=1.6)
        axis.plot(earlier.index, earlier[column], label="52 weeks earlier", lw=1.0, ls="--")
        axis.set_ylabel(f"{label} share")
        axis.set_ylim(-0.05, 1.05)
    axes[0].legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(verdict: dict[str, Any], batch: pd.DataFrame, reference: dict | None) -> str:
    """A self-contained HTML page of a verdict: the status, every check with its value, limit
    and detail (drifted ones first, in red), and the per-day shares against a year earlier."""
    from html import escape  # noqa: PLC0415

    version = verdict.get("version", "?")
    status = verdict["status"]
    summary = verdict["batch"]
    colour = {DRIFT: "#b00020", NO_DRIFT: "#1b5e20"}.get(status, "#555")
    headline = {
        DRIFT: "Drift: " + ", ".join(verdict["drifted"]),
        NO_DRIFT: "No drift",
    }.get(status, f"Not judged: {verdict.get('reason', status)}")
    rows = "".join(
        f"<tr class='{'bad' if c['drifted'] else ''}'><td>{escape(c['check'])}</td>"
        f"<td>{'' if c['value'] is None else c['value']}</td><td>{escape(c['limit'])}</td>"
        f"<td>{escape(c['detail'])}</td></tr>"
        for c in sorted(verdict["checks"], key=lambda c: not c["drifted"])
    )
    figure = ""
    if reference is not None and status in (DRIFT, NO_DRIFT):
        png = _figure_png(_daily_profile(batch), reference)
        figure = (
            f"<h2>Inputs per day</h2><img alt='shares per day' src='data:image/png;base64,{png}'>"
        )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Drift: {escape(str(verdict.get("model_name", "")))} v{version}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}td,th{{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}
tr.bad td{{color:#b00020;font-weight:bold}}.status{{color:{colour};font-size:1.4em}}</style></head>
<body><h1>Input and forecast drift of version {version}</h1>
<p class="status">{escape(headline)}</p>
<p>Batch: {summary["rows"]:,} rows, {summary["stores"]:,} stores, {summary["first_date"]} to {summary["last_date"]}.
Judged before any sale is known, against the reference captured when the version was trained
(trained through {escape(str((reference or {}).get("trained_through", "unknown")))}).</p>
<table><tr><th>Check</th><th>Value</th><th>Limit</th><th>Detail</th></tr>{rows}</table>
{figure}</body></html>
"""
