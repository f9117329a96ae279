"""Nodes of the review: the manual checklist before a promotion, automated.

The Staging version and the Production version (if any) score the same holdout rows, loaded
through the catalog (``staging_model``, ``production_model``) and called exactly as inference
calls them. Metrics, checklist,
plots and the Markdown report are built here from data only; the catalog writes the report
folder and logs it on the Staging version's validation run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rossmann_forecast.comparison import (
    above_limit,
    resampled_comparison,
    resampled_text,
    store_comparison,
    store_records,
)
from rossmann_forecast.metrics import error_summary
from rossmann_forecast.model.ensemble import answer_through
from rossmann_forecast.model.intervals import (
    QUANTILE_PREFIX,
    carried_quantile_columns,
    column_level,
    interval_scores,
)
from rossmann_forecast.registry.stages import PRODUCTION_ALIAS as PRODUCTION
from rossmann_forecast.registry.stages import STAGING_ALIAS as STAGING
from rossmann_forecast.registry.state import (
    gate_estimate,
    likely_text,
    live_comparison,
    shadow_record,
)
from rossmann_forecast.registry.version import RegisteredVersion
from rossmann_forecast.segments import (
    concentration_text,
    error_concentration,
    label_segments,
    segment_table,
)

if TYPE_CHECKING:  # imported where a figure is drawn: every `kedro` command builds this
    from matplotlib.figure import Figure  # pipeline, and matplotlib's import takes ~0.5 s
else:  # Kedro's parameter validation resolves every node's type hints when a run starts
    Figure = Any

logger = logging.getLogger(__name__)

# Roles in the review are the stages' aliases: "staging", "production".
ROLES = (STAGING, PRODUCTION)
COLOURS = {"actual": "#222222", STAGING: "#1f77b4", PRODUCTION: "#ff7f0e"}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Opacity of a version's P10-P90 band in the forecast plot: its line stays readable over it.
BAND_ALPHA = 0.2
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
# interval_scores' per-week coverage keys: interval_coverage_week1, ...
WEEK_KEY = "interval_coverage_week"


def resolve_review_versions(
    staging_model: RegisteredVersion,
    production_model: RegisteredVersion | None,
    review: dict[str, Any],
) -> dict[str, Any]:
    """The Staging version to review and the Production version to compare it with.

    Args:
        staging_model: ``rossmann-ensemble@staging`` (the catalog refuses when there is none:
            nothing to review).
        production_model: ``rossmann-ensemble@production``, None before the first promotion.
        review: ``params:review`` (``model_name``).

    Returns:
        ``{"model_name", "staging": {...}, "production": {...} | None}``; each entry holds
        ``version``, ``model_uri``, ``validation_run_id``, ``holdout_rmspe`` (gate).
    """
    versions: dict[str, Any] = {"model_name": review["model_name"], PRODUCTION: None}
    for role, found in ((STAGING, staging_model), (PRODUCTION, production_model)):
        if found is not None:
            versions[role] = {
                "version": found.version,
                "model_uri": found.model_uri,
                "validation_run_id": found.validation_run_id,
                "holdout_rmspe": found.holdout_rmspe,
                "gate": gate_estimate(found.tags),
                "live": shadow_record(found.tags),
                "live_text": live_comparison(found.tags, found.version),
            }
    if production_model is None:
        logger.info(
            "No version of %s is in Production yet (first promotion): reviewing Staging "
            "version %d alone",
            review["model_name"],
            staging_model.version,
        )
    else:
        logger.info(
            "Reviewing Staging version %d against Production version %d",
            staging_model.version,
            production_model.version,
        )
    return versions


def score_review_versions(
    staging_model: RegisteredVersion,
    production_model: RegisteredVersion | None,
    holdout_table: pd.DataFrame,
) -> pd.DataFrame:
    """Holdout predictions of Staging (and Production), one row per holdout row and version.

    Each version is scored by its model that was not fit on the holdout rows (its served model
    if it forecasts from on or before the holdout's first day, else the backtest the gate
    judged), so the comparison is between forecasts, never a fit. The model's whole answer is
    kept: its forecast quantiles too, when the version has them.

    Returns:
        Columns ``Store, Date, Open, Sales, role, version, prediction, scored_kind,
        scored_origin`` and the quantile columns (``Sales_p10``...) of the versions that have
        them (NaN on the rows of a version that has not: one trained before quantiles).
    """
    first_date = str(holdout_table["Date"].min().date())
    frames = []
    for role, found in ((STAGING, staging_model), (PRODUCTION, production_model)):
        if found is None:
            continue
        model = found.scoring_model(first_date)
        logger.info(
            "%s version %s scored by its %s model (forecasts from %s)",
            role.capitalize(),
            found.version,
            model["kind"],
            model["origin"],
        )
        answer = answer_through(model["model"], holdout_table)
        quantiles = [c for c in answer.columns if str(c).startswith(QUANTILE_PREFIX)]
        if not quantiles:
            logger.info(
                "%s version %s has no forecast quantiles (trained before them): reviewed on "
                "its point forecast alone",
                role.capitalize(),
                found.version,
            )
        frames.append(
            holdout_table[["Store", "Date", "Open", "Sales"]].assign(
                role=role,
                version=found.version,
                prediction=answer["Sales"].to_numpy(dtype="float64"),
                scored_kind=model["kind"],
                scored_origin=model["origin"],
                **{c: answer[c].to_numpy(dtype="float64") for c in quantiles},
            )
        )
    return pd.concat(frames, ignore_index=True)


def _interval_label(levels: list[float]) -> str:
    """``P10-P90`` for the outer levels 0.1 and 0.9."""
    return f"P{levels[0] * 100:g}-P{levels[-1] * 100:g}"


def _interval_stats(rows: pd.DataFrame) -> dict[str, Any] | None:
    """Coverage, relative width and quantile loss of one version's quantiles, or None when it
    has none (trained before forecasts had quantiles).

    Days of horizon count from the scored model's origin (``scored_origin``), so the weeks are
    the version's own; without an origin the coverage is overall only.

    Returns:
        ``levels``, ``interval`` (e.g. ``"P10-P90"``), ``origin`` and ``scores``:
        ``interval_coverage`` (and ``_week<k>``), ``interval_width``, ``quantile_loss``
        (``model.intervals.interval_scores``).
    """
    columns = carried_quantile_columns(rows)
    if not columns:
        return None
    levels = [column_level(c) for c in columns]
    origin = rows["scored_origin"].iloc[0] if "scored_origin" in rows else None
    days_ahead = None
    if origin is not None and not pd.isna(origin):
        days_ahead = (rows["Date"] - pd.Timestamp(origin)).dt.days.to_numpy()
    scores = interval_scores(rows["Sales"].to_numpy(), rows[columns].to_numpy(), levels, days_ahead)
    return {
        "levels": levels,
        "interval": _interval_label(levels),
        "origin": None if days_ahead is None else str(origin)[:10],
        "scores": scores,
    }


def _error_stats(rows: pd.DataFrame) -> dict[str, float | int]:
    """RMSPE, bias and row count over the rows with positive sales (NaN if none)."""
    return error_summary(rows["Sales"], rows["prediction"])


def _distribution(values: pd.Series) -> dict[str, float]:
    stats = {f"q{int(q * 100):02d}": float(values.quantile(q)) for q in QUANTILES}
    return {"mean": float(values.mean()), **stats}


def compute_review_metrics(
    review_predictions: pd.DataFrame, stores_validated: pd.DataFrame, review: dict[str, Any]
) -> dict[str, Any]:
    """Overall, recent, per-StoreType and per-Assortment RMSPE and bias of each version, and
    the coverage, width and quantile loss of its forecast quantiles when it has them.

    Args:
        review_predictions: Output of ``score_review_versions``.
        stores_validated: Store attributes (StoreType, Assortment).
        review: ``params:review`` (``recent_days``, ``bootstrap``, ``stores``).

    Returns:
        ``{"window": {...}, "<role>": {"version", "overall", "recent", "store_type": {...},
        "assortment": {...}, "predictions": {...}, "intervals": {...} | None,
        "concentration": {...} | None},
        "actuals": {...}, "comparison": {...} | None}``; ``intervals`` is
        ``_interval_stats``'s (None for a version without quantiles); ``concentration`` the
        stores that carry most of the version's holdout error (``segments.error_concentration``;
        None with fewer than two stores with sales); ``comparison`` (with a
        Production version only) is Staging's RMSPE over Production's with its interval over
        the stores resampled (``comparison.resampled_comparison``); ``stores`` (with a
        Production version only) the stores where Staging lost most (``_store_rows``).
    """
    frame = review_predictions.merge(
        stores_validated[["Store", "StoreType", "Assortment"]], on="Store", how="left"
    )
    end = frame["Date"].max()
    recent_start = end - pd.Timedelta(days=int(review["recent_days"]) - 1)
    metrics: dict[str, Any] = {
        "window": {
            "start": str(frame["Date"].min().date()),
            "end": str(end.date()),
            "recent_start": str(recent_start.date()),
            "recent_days": int(review["recent_days"]),
        }
    }
    for role, rows in frame.groupby("role", sort=False):
        open_rows = rows[rows["Open"] == 1]
        metrics[str(role)] = {
            "version": int(rows["version"].iloc[0]),
            "overall": _error_stats(rows),
            "recent": _error_stats(rows[rows["Date"] >= recent_start]),
            "store_type": {str(k): _error_stats(g) for k, g in rows.groupby("StoreType")},
            "assortment": {str(k): _error_stats(g) for k, g in rows.groupby("Assortment")},
            "predictions": _distribution(open_rows["prediction"]),
            "intervals": _interval_stats(rows),
            "concentration": _concentration(rows),
        }
    first_role = frame[frame["role"] == frame["role"].iloc[0]]
    metrics["actuals"] = _distribution(first_role.loc[first_role["Open"] == 1, "Sales"])
    if PRODUCTION in metrics:
        # Staging / Production RMSPE as forecast, with its interval over the stores resampled
        # (the checklist's item compares the figures; this says how sure the difference is).
        metrics["comparison"] = resampled_comparison(
            frame[frame["role"] == STAGING],
            frame[frame["role"] == PRODUCTION],
            review.get("bootstrap"),
            rescaled=False,
            tolerance=0.0,
            parameter="review.bootstrap",
        )
        metrics["stores"] = _store_rows(
            frame[frame["role"] == STAGING], frame[frame["role"] == PRODUCTION], review
        )
    return metrics


def _concentration(rows: pd.DataFrame) -> dict[str, Any] | None:
    """Which stores carry the version's holdout error (None with fewer than two stores)."""
    with_sales = rows.loc[rows["Sales"] > 0]
    if with_sales["Store"].nunique() < 2:
        return None
    return error_concentration(with_sales)


def _store_rows(
    staging: pd.DataFrame, production: pd.DataFrame, review: dict[str, Any]
) -> dict[str, Any]:
    """The stores where Staging lost most against Production (``comparison.store_comparison``):
    ``min_days``, ``compared`` (stores with at least that many days with sales) and ``worst``,
    the first ``store_rows`` of them (``Store``, ``days``, ``rmspe``, ``rmspe_reference``,
    ``increase``)."""
    settings = review["stores"]
    table = store_comparison(staging, production, int(settings["min_days"]))
    worst = store_records(table, int(settings["rows"]))
    return {"min_days": int(settings["min_days"]), "compared": len(table), "worst": worst}


def compute_review_segments(
    review_predictions: pd.DataFrame,
    holdout_table: pd.DataFrame,
    sales_train_window: pd.DataFrame,
    stores_validated: pd.DataFrame,
) -> dict[str, list[dict[str, Any]]]:
    """RMSPE and bias of each version by segment, as the rolling benchmark reports them.

    StoreType, Assortment, weekday, promo, the days around a state holiday, the first days after
    a closure and the season (``rossmann_forecast.segments``), so that a weak segment cannot
    hide in the holdout's average.

    Returns:
        Per role, the segment table's rows (``segmentation``, ``segment``, ``rows``, ``rmspe``,
        ``bias``; ``coverage``, ``width`` and ``quantile_loss`` of the version's forecast band
        when it has one).
    """
    calendar = pd.concat([sales_train_window, holdout_table], ignore_index=True)
    calendar_columns = ["Store", "Date", "DayOfWeek", "Promo", "SchoolHoliday"]
    scored = review_predictions.drop(columns=["DayOfWeek", "Promo", "SchoolHoliday"],
                                     errors="ignore").merge(
        holdout_table[calendar_columns], on=["Store", "Date"], how="left"
    )  # fmt: skip
    tables = {}
    for role, rows in scored.groupby("role", sort=False):
        labelled = label_segments(rows, stores_validated, calendar)
        tables[str(role)] = segment_table(labelled).to_dict(orient="records")
    return tables


def evaluate_checklist(
    review_metrics: dict[str, Any], review: dict[str, Any], review_versions: dict[str, Any]
) -> list[dict]:
    """The review checklist, one pass/fail (or skipped) per item, thresholds from conf.

    Args:
        review_metrics: Output of ``compute_review_metrics``.
        review: ``params:review.checklist`` thresholds: ``max_rmspe_increase``,
            ``max_group_rmspe``, ``max_abs_bias``, ``max_abs_group_bias``, ``max_recent_rmspe``,
            ``min_interval_coverage``, ``max_interval_coverage``, ``max_store_rmspe_increase``.
        review_versions: ``resolve_review_versions``'s output: Staging's live comparison in
            Production's shadow, if monitoring has one.

    Returns:
        ``[{"item", "status", "detail"}, ...]`` in the checklist's order.
    """
    limits = review["checklist"]
    staging, production = review_metrics[STAGING], review_metrics.get(PRODUCTION)
    recent_days = review_metrics["window"]["recent_days"]
    return [
        _better_than_production(
            staging,
            production,
            float(limits["max_rmspe_increase"]),
            review_metrics.get("comparison"),
        ),
        _reasonable_across_groups(staging, float(limits["max_group_rmspe"])),
        _unbiased(staging, float(limits["max_abs_bias"]), float(limits["max_abs_group_bias"])),
        _good_on_recent_data(
            staging,
            recent_days,
            float(limits["max_recent_rmspe"]),
            review_versions[STAGING],
            float(limits["max_rmspe_increase"]),
        ),
        _calibrated_ranges(
            staging,
            float(limits["min_interval_coverage"]),
            float(limits["max_interval_coverage"]),
        ),
        _no_store_much_worse(
            review_metrics.get("stores"), production, float(limits["max_store_rmspe_increase"])
        ),
    ]


def _better_than_production(
    staging: dict[str, Any],
    production: dict[str, Any] | None,
    max_increase: float,
    comparison: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Staging's holdout RMSPE at most ``max_increase`` above Production's (skipped if none);
    the detail gives ``comparison``, the ratio's interval over the stores resampled."""
    name = "Staging better than Production"
    if production is None:
        return _item(
            name, SKIPPED, "no version in Production yet (first promotion): nothing to compare with"
        )
    overall = staging["overall"]["rmspe"]
    reference = production["overall"]["rmspe"]
    allowed = reference + max_increase
    resampled = resampled_text(comparison)
    return _item(
        name,
        PASS if overall <= allowed else FAIL,
        f"holdout RMSPE {overall:.4f} (v{staging['version']}) vs {reference:.4f} "
        f"(v{production['version']}); allowed up to {allowed:.4f}"
        + (f"; Staging / Production {resampled}" if resampled else ""),
    )


def _reasonable_across_groups(staging: dict[str, Any], limit: float) -> dict[str, str]:
    """The worst StoreType or Assortment group's RMSPE within the limit."""
    groups = {
        f"{kind} {name}": stats["rmspe"]
        for kind, key in (("StoreType", "store_type"), ("Assortment", "assortment"))
        for name, stats in staging[key].items()
        if stats["rows"]
    }
    worst = max(groups, key=groups.get)
    return _item(
        "Reasonable across store types",
        PASS if groups[worst] <= limit else FAIL,
        f"worst group {worst}: RMSPE {groups[worst]:.4f} (limit {limit:.2f})",
    )


def _unbiased(staging: dict[str, Any], max_bias: float, max_group_bias: float) -> dict[str, str]:
    """Overall bias, and the most biased StoreType's, each within its limit."""
    bias = staging["overall"]["bias"]
    group_bias = {
        f"StoreType {name}": stats["bias"]
        for name, stats in staging["store_type"].items()
        if stats["rows"]
    }
    worst = max(group_bias, key=lambda k: abs(group_bias[k]))
    unbiased = abs(bias) <= max_bias and abs(group_bias[worst]) <= max_group_bias
    return _item(
        "No systematic over- or under-prediction",
        PASS if unbiased else FAIL,
        f"bias {bias:+.2%} overall (limit ±{max_bias:.0%}), "
        f"{group_bias[worst]:+.2%} for {worst} (limit ±{max_group_bias:.0%})",
    )


def _good_on_recent_data(
    staging: dict[str, Any],
    recent_days: int,
    limit: float,
    version: dict[str, Any],
    max_increase: float,
) -> dict[str, str]:
    """On live weeks when there are some: Staging's RMSPE in Production's shadow at most
    ``max_increase`` above the served version's on the same store-days. Before any: the
    holdout's last ``recent_days`` days within ``limit``."""
    recent = staging["recent"]["rmspe"]
    holdout = f"RMSPE {recent:.4f} over the holdout's last {recent_days} days (limit {limit:.2f})"
    live = version.get("live")
    if live is None:
        return _item(
            "Good on recent data",
            PASS if recent <= limit else FAIL,
            f"{holdout}; no live comparison yet (Staging is scored in Production's shadow by "
            "every inference run, and compared once monitoring has the sales)",
        )
    good = live["rmspe"] <= live["champion_rmspe"] * (1 + max_increase)
    return _item(
        "Good on recent data",
        PASS if good else FAIL,
        f"{version['live_text']}; allowed up to {max_increase:.0%} above; {holdout}",
    )


def _calibrated_ranges(
    staging: dict[str, Any], min_coverage: float, max_coverage: float
) -> dict[str, str]:
    """Staging's outer interval (P10-P90) holds between ``min_coverage`` and ``max_coverage``
    of the review window's store-days with sales: under it the band is too narrow to trust,
    over it too wide to use. Skipped for a version without quantiles (trained before them)."""
    name = "Calibrated ranges"
    intervals = staging.get("intervals")
    if intervals is None:
        return _item(
            name,
            SKIPPED,
            f"version {staging['version']} has no forecast quantiles (trained before them): "
            "no range to check; retrain (kedro run) for a version with P10-P90",
        )
    scores = intervals["scores"]
    coverage = scores["interval_coverage"]
    if coverage < min_coverage:
        verdict = "too narrow"
    elif coverage > max_coverage:
        verdict = "too wide"
    else:
        verdict = "calibrated"
    weeks = ", ".join(f"{week}: {value:.0%}" for week, value in _weeks(scores))
    by_week = f"; by week of horizon {weeks}" if weeks else ""
    return _item(
        name,
        PASS if verdict == "calibrated" else FAIL,
        f"{intervals['interval']} covers {coverage:.1%} of the holdout's store-days with sales "
        f"(allowed {min_coverage:.0%}..{max_coverage:.0%}: {verdict}){by_week}; "
        f"mean relative width {scores['interval_width']:.2f}",
    )


def _no_store_much_worse(
    stores: dict[str, Any] | None, production: dict[str, Any] | None, limit: float
) -> dict[str, str]:
    """No store's holdout RMSPE more than ``limit`` above Production's on the same days: the
    comparison over all stores (and the gate's, stores resampled) lets a version through that
    is much worse on one or two stores only. Skipped without Production or a store with
    enough days."""
    name = "No store much worse than Production"
    if production is None:
        return _item(name, SKIPPED, "no version in Production yet: nothing to compare with")
    if stores is None or not stores["worst"]:
        return _item(
            name,
            SKIPPED,
            f"no store has {0 if stores is None else stores['min_days']} days with sales in "
            "the holdout: too few to compare a store",
        )
    worst = stores["worst"]
    above = int(above_limit(pd.DataFrame(worst), limit).sum())
    shown = len(worst) < stores["compared"]
    count = f"at least {above}" if shown and above == len(worst) else above
    first = worst[0]
    detail = (
        f"worst store {first['Store']}: RMSPE {_fmt(first['rmspe'])} vs "
        f"{_fmt(first['rmspe_reference'])} ({_points(first['increase'])} over {first['days']} "
        f"days); allowed up to +{limit:.2f}; {count} of {stores['compared']} stores above it"
    )
    return _item(name, FAIL if above else PASS, detail)


def _weeks(scores: dict[str, float]) -> list[tuple[int, float]]:
    """``(week, coverage)`` from ``interval_coverage_week<k>``, by week (none without days
    ahead)."""
    return sorted(
        (int(key.removeprefix(WEEK_KEY)), value)
        for key, value in scores.items()
        if key.startswith(WEEK_KEY)
    )


def _item(name: str, status: str, detail: str) -> dict[str, str]:
    return {"item": name, "status": status, "detail": detail}


def plot_review(
    review_predictions: pd.DataFrame, stores_validated: pd.DataFrame, review: dict[str, Any]
) -> dict[str, Figure]:
    """The review's plots: forecast vs actual, residuals by store type, error distribution.

    Returns:
        ``{"forecast_vs_actual": Figure, "residuals_by_store_type": Figure,
        "error_distribution": Figure}``.
    """
    frame = review_predictions.merge(stores_validated[["Store", "StoreType"]], on="Store")
    return {
        "forecast_vs_actual": plot_forecast_vs_actual(frame, int(review["plot_stores"])),
        "residuals_by_store_type": plot_residuals_by_store_type(frame),
        "error_distribution": plot_error_distribution(frame),
    }


def _pick_stores(frame: pd.DataFrame, count: int) -> list[int]:
    """Stores spread over the sales ranking: the biggest, the smallest and some in between."""
    totals = frame[frame["role"] == STAGING].groupby("Store")["Sales"].sum().sort_values()
    positions = np.unique(np.linspace(0, len(totals) - 1, num=min(count, len(totals))).round())
    return [int(totals.index[int(p)]) for p in positions[::-1]]


def plot_forecast_vs_actual(frame: pd.DataFrame, count: int) -> Figure:
    """Daily actual sales and each version's forecast over the holdout for a few stores, with
    its outer interval (P10-P90) shaded in its colour when the version has quantiles."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    stores = _pick_stores(frame, count)
    figure = Figure(figsize=(11, 2.4 * len(stores)), layout="constrained")
    axes = figure.subplots(len(stores), 1, squeeze=False, sharex=True)[:, 0]
    for ax, store in zip(axes, stores, strict=True):
        rows = frame[frame["Store"] == store].sort_values("Date")
        actual = rows[rows["role"] == STAGING]
        ax.plot(actual["Date"], actual["Sales"], color=COLOURS["actual"], lw=1.6, label="actual")
        for role, part in rows.groupby("role", sort=False):
            columns = carried_quantile_columns(part)
            if columns:
                levels = [column_level(c) for c in columns]
                ax.fill_between(
                    part["Date"],
                    part[columns[0]],
                    part[columns[-1]],
                    color=COLOURS[str(role)],
                    alpha=BAND_ALPHA,
                    lw=0,
                    label=f"{role} {_interval_label(levels)}",
                )
            ax.plot(
                part["Date"],
                part["prediction"],
                color=COLOURS[str(role)],
                lw=1.1,
                ls="--" if role == PRODUCTION else "-",
                label=f"{role} v{int(part['version'].iloc[0])}",
            )
        store_type = rows["StoreType"].iloc[0]
        ax.set_title(f"Store {store} (type {store_type})", loc="left", fontsize=10)
        ax.set_ylabel("Sales")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", ncols=3, fontsize=8)
    figure.suptitle("Forecast vs actual over the holdout")
    return figure


def _percentage_errors(frame: pd.DataFrame) -> pd.DataFrame:
    selling = frame[frame["Sales"] > 0]
    return selling.assign(error=(selling["prediction"] - selling["Sales"]) / selling["Sales"])


def plot_residuals_by_store_type(frame: pd.DataFrame) -> Figure:
    """Box plots of the percentage error per StoreType, each version side by side."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    errors = _percentage_errors(frame)
    types = sorted(errors["StoreType"].unique())
    roles = [r for r in ROLES if r in set(errors["role"])]
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / len(roles)
    for offset, role in enumerate(roles):
        part = errors[errors["role"] == role]
        data = [part.loc[part["StoreType"] == t, "error"].to_numpy() for t in types]
        positions = np.arange(len(types)) + (offset - (len(roles) - 1) / 2) * width
        boxes = ax.boxplot(
            data,
            positions=positions,
            widths=width * 0.9,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black"},
        )
        for box in boxes["boxes"]:
            box.set_facecolor(COLOURS[role])
            box.set_alpha(0.6)
        ax.plot([], [], color=COLOURS[role], lw=6, alpha=0.6, label=role)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(types)), [f"type {t}" for t in types])
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:+.0%}")
    ax.set_ylabel("(forecast - actual) / actual")
    ax.set_title("Residuals by store type (open days with sales, no outliers shown)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return figure


def plot_error_distribution(frame: pd.DataFrame) -> Figure:
    """Histogram of percentage errors and of predicted vs actual daily sales."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    errors = _percentage_errors(frame)
    figure = Figure(figsize=(11, 4), layout="constrained")
    left, right = figure.subplots(1, 2)
    bins = np.linspace(-0.5, 0.5, 61)
    for role, part in errors.groupby("role", sort=False):
        colour = COLOURS[str(role)]
        left.hist(part["error"].clip(-0.5, 0.5), bins=bins, alpha=0.5, color=colour, label=role)
        right.hist(part["prediction"], bins=50, alpha=0.5, color=colour, label=f"{role} forecast")
    actual = errors[errors["role"] == errors["role"].iloc[0]]["Sales"]
    right.hist(actual, bins=50, histtype="step", color=COLOURS["actual"], lw=1.5, label="actual")
    left.xaxis.set_major_formatter(lambda value, _: f"{value:+.0%}")
    left.set_title("Percentage error (clipped to ±50%)")
    right.set_title("Daily sales on open days: forecast vs actual")
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return figure


def render_review_report(
    review_versions: dict[str, Any],
    review_metrics: dict[str, Any],
    review_checklist: list[dict],
    review_plots: dict[str, Figure],
    review_segments: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The Markdown report with its plots, and where to log it.

    Returns:
        ``{"markdown", "figures", "attachments", "log_to_runs"}`` for the report dataset: logged
        on the Staging version's validation run (when the gate recorded one).
    """
    summary = review_summary(review_versions, review_metrics, review_checklist)
    markdown = _markdown(review_versions, review_metrics, review_checklist, list(review_plots))
    if review_segments:
        markdown += _segments_markdown(review_segments, review_metrics)
    run_id = review_versions[STAGING]["validation_run_id"]
    if not run_id:
        logger.warning(
            "Staging version %d has no validation run recorded: the report is not logged on it",
            review_versions[STAGING]["version"],
        )
    return {
        "markdown": markdown,
        "figures": review_plots,
        "attachments": {"review_summary.json": summary},
        "log_to_runs": [run_id] if run_id else [],
    }


def _segments_markdown(segments: dict[str, list[dict[str, Any]]], metrics: dict[str, Any]) -> str:
    roles = [r for r in ROLES if r in segments]
    # A version with forecast quantiles also shows how its band covers each segment.
    banded = {r: bool(segments[r]) and "coverage" in segments[r][0] for r in roles}
    header = []
    for r in roles:
        header += [f"RMSPE {r} v{metrics[r]['version']}", f"bias {r}"]
        header += [f"band coverage {r}"] if banded[r] else []
    lines = [
        "",
        "## By segment",
        "",
        "The holdout's rows by segment (the same table as the rolling benchmark's), with the "
        "share of each segment's store-days inside a version's forecast band where it has one "
        "(a band that holds 80% overall can under-cover the days around holidays):",
        "",
        "| segmentation | segment | rows | " + " | ".join(header) + " |",
        "|---|---|---|" + "---|" * len(header),
    ]
    keyed = {r: {(x["segmentation"], x["segment"]): x for x in segments[r]} for r in roles}
    for key, first in keyed[roles[0]].items():
        cells = []
        for role in roles:
            found = keyed[role].get(key)
            cells += [_fmt(found["rmspe"]) if found else "-",
                      _fmt(found["bias"], pct=True) if found else "-"]  # fmt: skip
            if banded[role]:
                cells.append(f"{found['coverage']:.1%}" if found else "-")
        lines.append(f"| {key[0]} | {key[1]} | {first['rows']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def review_summary(
    review_versions: dict[str, Any],
    review_metrics: dict[str, Any],
    review_checklist: list[dict],
) -> dict[str, Any]:
    """Machine-readable outcome of the review (what the CLI prints and scripts read)."""
    failed = [item["item"] for item in review_checklist if item["status"] == FAIL]
    production = review_versions[PRODUCTION]
    return {
        "model_name": review_versions["model_name"],
        "staging_version": review_versions[STAGING]["version"],
        "production_version": production["version"] if production else None,
        "verdict": "ready to promote" if not failed else f"needs attention: {', '.join(failed)}",
        "checklist": review_checklist,
        "metrics": review_metrics,
        "logged_on_run": review_versions[STAGING]["validation_run_id"],
    }


def review_metrics_for_mlflow(review_metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Overall and recent RMSPE and bias per role, the interval's coverage (overall and per
    week), width and quantile loss of a role with quantiles, and Staging's RMSPE over
    Production's with its interval (stores resampled), for kedro-mlflow (prefixed
    ``review.``)."""
    logged = {}
    for role in ROLES:
        if role not in review_metrics:
            continue
        for scope in ("overall", "recent"):
            for stat in ("rmspe", "bias"):
                value = review_metrics[role][scope][stat]
                if np.isfinite(value):
                    logged[f"{role}_{scope}_{stat}"] = {"value": float(value), "step": 0}
        intervals = review_metrics[role].get("intervals")
        for key, value in (intervals or {}).get("scores", {}).items():
            if np.isfinite(value):
                logged[f"{role}_{key}"] = {"value": float(value), "step": 0}
    comparison = review_metrics.get("comparison")
    for key in ("ratio", "low", "high") if comparison else ():
        logged[f"staging_vs_production_{key}"] = {"value": float(comparison[key]), "step": 0}
    return logged


def _points(value: float) -> str:
    """A difference of RMSPE: ``+0.0123``, or ``not finite`` (a forecast with holes)."""
    return f"{value:+.4f}" if np.isfinite(value) else "not finite"


def _fmt(value: float, pct: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:+.2%}" if pct else f"{value:.4f}"


def _markdown(
    versions: dict[str, Any], metrics: dict[str, Any], checklist: list[dict], plots: list[str]
) -> str:
    roles = [r for r in ROLES if r in metrics]
    lines = [
        *_header_lines(versions, metrics["window"]),
        *_checklist_lines(checklist),
        *_overall_lines(metrics, roles),
        *_interval_lines(metrics, roles),
        *_group_lines(metrics, roles, "store_type", "StoreType"),
        *_group_lines(metrics, roles, "assortment", "Assortment"),
        *_store_lines(metrics),
        *_concentration_lines(metrics, roles),
        *_distribution_lines(metrics, roles),
        *_plot_lines(plots),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _header_lines(versions: dict[str, Any], window: dict[str, Any]) -> list[str]:
    """The title, what Staging is compared with, and the holdout's dates."""
    staging, production = versions[STAGING], versions[PRODUCTION]
    lines = [f"# Review: {versions['model_name']} version {staging['version']} (Staging)", ""]
    if production is None:
        lines.append(
            "**No version is in Production yet (first promotion): Staging is reported alone.**"
        )
    else:
        lines.append(f"Compared with version {production['version']} (Production).")
    gate = staging.get("gate")
    if gate is not None:
        lines += [
            "",
            f"The gate's estimate of the six weeks version {staging['version']} will forecast: "
            f"RMSPE {gate['rmspe']:.4f}{likely_text(gate)}.",
        ]
    return [
        *lines,
        "",
        f"Holdout: {window['start']} .. {window['end']}; recent data: the last "
        f"{window['recent_days']} days ({window['recent_start']} .. {window['end']}). "
        "Errors over open days with sales, as the Kaggle metric.",
    ]


def _checklist_lines(checklist: list[dict]) -> list[str]:
    marks = {PASS: "✅ pass", FAIL: "❌ fail", SKIPPED: "➖ skipped"}
    return [
        "",
        "## Checklist",
        "",
        "| Item | Result | Detail |",
        "|---|---|---|",
        *(f"| {i['item']} | {marks[i['status']]} | {i['detail']} |" for i in checklist),
    ]


def _overall_lines(metrics: dict[str, Any], roles: list[str]) -> list[str]:
    """RMSPE and bias of each version over the whole holdout and over its recent days."""
    header = " | ".join(f"{r} v{metrics[r]['version']}" for r in roles)
    lines = [
        "",
        "## Overall and recent",
        "",
        f"| Metric | {header} |",
        "|---|" + "---|" * len(roles),
    ]
    for scope, label in (("overall", "holdout"), ("recent", "recent days")):
        rmspe = " | ".join(_fmt(metrics[r][scope]["rmspe"]) for r in roles)
        bias = " | ".join(_fmt(metrics[r][scope]["bias"], pct=True) for r in roles)
        lines += [f"| RMSPE ({label}) | {rmspe} |", f"| bias ({label}) | {bias} |"]
    return lines


def _interval_lines(metrics: dict[str, Any], roles: list[str]) -> list[str]:
    """Each version's outer interval: coverage (overall and per week of horizon from its
    origin), mean relative width and quantile loss; "-" for a version without quantiles."""
    intervals = {r: metrics[r].get("intervals") for r in roles}
    lines = ["", "## Forecast ranges", ""]
    if all(found is None for found in intervals.values()):
        return [*lines, "No version reviewed has forecast quantiles (trained before them)."]
    weeks = sorted(
        {week for found in intervals.values() if found for week, _ in _weeks(found["scores"])}
    )
    labels = [
        "interval",
        "coverage",
        *(f"coverage, week {w}" for w in weeks),
        "mean relative width",
        "quantile loss",
    ]
    cells = {r: _interval_cells(found) for r, found in intervals.items()}
    header = " | ".join(f"{r} v{metrics[r]['version']}" for r in roles)
    return [
        *lines,
        "The outer quantiles' interval on the holdout's store-days with sales; weeks of horizon "
        "count from each version's origin. Coverage should be near the interval's nominal share "
        "(80% for P10-P90); lower width and quantile loss are better.",
        "",
        f"| Metric | {header} |",
        "|---|" + "---|" * len(roles),
        *(
            f"| {label} | " + " | ".join(cells[r].get(label, "-") for r in roles) + " |"
            for label in labels
        ),
    ]


def _interval_cells(found: dict[str, Any] | None) -> dict[str, str]:
    """One version's column of the forecast ranges table, by row label (empty: no quantiles)."""
    if found is None:
        return {}
    scores = found["scores"]
    return {
        "interval": found["interval"],
        "coverage": f"{scores['interval_coverage']:.1%}",
        **{f"coverage, week {w}": f"{value:.1%}" for w, value in _weeks(scores)},
        "mean relative width": f"{scores['interval_width']:.3f}",
        "quantile loss": f"{scores['quantile_loss']:.4f}",
    }


def _group_lines(metrics: dict[str, Any], roles: list[str], key: str, title: str) -> list[str]:
    """RMSPE and bias of each version per group (StoreType or Assortment) of Staging's rows."""
    lines = [
        "",
        f"## By {title}",
        "",
        f"| {title} | rows | " + " | ".join(f"RMSPE {r} | bias {r}" for r in roles) + " |",
        "|---|---|" + "---|---|" * len(roles),
    ]
    for name in sorted(metrics[STAGING][key]):
        cells = []
        for role in roles:
            stats = metrics[role][key].get(name, {"rmspe": None, "bias": None})
            cells += [_fmt(stats["rmspe"]), _fmt(stats["bias"], pct=True)]
        rows = metrics[STAGING][key][name]["rows"]
        lines.append(f"| {name} | {rows:,} | " + " | ".join(cells) + " |")
    return lines


def _store_lines(metrics: dict[str, Any]) -> list[str]:
    """The stores where Staging lost most against Production (none without Production)."""
    stores = metrics.get("stores")
    if not stores or not stores["worst"]:
        return []
    staging, production = metrics[STAGING]["version"], metrics[PRODUCTION]["version"]
    return [
        "",
        "## Stores where Staging lost most",
        "",
        f"Holdout RMSPE per store, the {len(stores['worst'])} of {stores['compared']} stores "
        f"(with at least {stores['min_days']} days with sales) where Staging is furthest above "
        "Production:",
        "",
        f"| Store | days | Staging v{staging} | Production v{production} | difference |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {row['Store']} | {row['days']} | {_fmt(row['rmspe'])} | "
            f"{_fmt(row['rmspe_reference'])} | {_points(row['increase'])} |"
            for row in stores["worst"]
        ),
    ]


def _concentration_lines(metrics: dict[str, Any], roles: list[str]) -> list[str]:
    """Per version, the stores that carry most of its holdout error and the holdout without
    the worst (as the rolling benchmark shows per origin)."""
    found = {r: metrics[r].get("concentration") for r in roles}
    if not any(found.values()):
        return []
    lines = [
        "",
        "## Stores that carry the holdout's error",
        "",
        "Share of the holdout's summed squared percentage error and bias of the costliest stores: "
        "one store whose sales moved for a reason the data does not hold can weigh far beyond its "
        "share of the rows.",
        "",
        "| version | RMSPE | costliest stores | without the worst |",
        "|---|---:|---|---:|",
    ]
    for role, c in found.items():
        if not c:
            continue
        top = concentration_text(c["top"])
        lines.append(
            f"| {role} v{metrics[role]['version']} | {_fmt(c['rmspe'])} | {top} | "
            f"{_fmt(c['without_worst']['rmspe'])} |"
        )
    return lines


def _distribution_lines(metrics: dict[str, Any], roles: list[str]) -> list[str]:
    """Quantiles of each version's daily predictions and of the actual sales (open days)."""
    lines = [
        "",
        "## Distribution of daily predictions (open days)",
        "",
        "| | mean | 5% | 25% | median | 75% | 95% |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [(f"{r} v{metrics[r]['version']}", metrics[r]["predictions"]) for r in roles]
    for label, dist in [*rows, ("actual", metrics["actuals"])]:
        values = [dist["mean"], dist["q05"], dist["q25"], dist["q50"], dist["q75"], dist["q95"]]
        lines.append(f"| {label} | " + " | ".join(f"{v:,.0f}" for v in values) + " |")
    return lines


def _plot_lines(plots: list[str]) -> list[str]:
    titles = {
        "forecast_vs_actual": "Forecast vs actual over time",
        "residuals_by_store_type": "Residuals by store type",
        "error_distribution": "Error distribution",
    }
    lines = ["", "## Plots", ""]
    for name in plots:
        lines += [f"### {titles.get(name, name)}", "", f"![{name}](plots/{name}.png)", ""]
    return lines
