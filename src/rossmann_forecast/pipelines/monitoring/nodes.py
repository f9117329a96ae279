"""Nodes of live monitoring: actual sales against the predictions that versions made.

Every inference run adds its detailed predictions (Store, Date, Sales, model version) to the
prediction log. Monitoring joins them with actual sales by Store and Date, scores each version
that predicted those days (RMSPE overall, per week and over the latest window) and flags drift
when the latest window's RMSPE exceeds the threshold in conf. A version whose forecasts carry
quantiles (``Sales_p10``, ``Sales_p50``, ``Sales_p90``) is also scored on its band: how often the
outer interval held the actual sales, how wide it was and its quantile loss, on the same spans.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import error_summary
from rossmann_forecast.model.intervals import QUANTILE_PREFIX, column_level, interval_scores

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("Store", "Date", "Sales", "model_name", "model_version", "predicted_at")
ACTUAL_COLUMNS = ("Store", "Date", "Sales")
SERVED, SHADOW = "served", "shadow"  # the prediction log's roles (inference/nodes.py)


class MonitoringInputError(ValueError):
    """The prediction log or the actual sales cannot be used: the message says why."""


def collect_predictions(
    monitoring_predictions: dict[str, Callable[[], pd.DataFrame]], monitoring: dict[str, Any]
) -> pd.DataFrame:
    """All logged predictions of the model, the newest per (version, role, Store, Date).

    A version's shadow forecast of a day and its served forecast of the same day (it was
    predicted with directly, or promoted, after scoring in the shadow) are both kept: the
    shadow comparison needs the first, and ``compute_live_metrics`` counts each day once.

    Args:
        monitoring_predictions: Partitions of the prediction log (lazy loaders by name).
        monitoring: ``params:monitoring`` (``model_name``).

    Returns:
        Columns ``Store, Date, model_version, prediction, predicted_at, source, role``
        (``served``, or ``shadow`` for a Staging version's forecast in Production's shadow;
        files logged before shadow scoring count as served), ``days_ahead`` (days after the
        version's origin; NaN for files logged before the origin was) and the forecast
        quantiles ``Sales_p10``... in level order (NaN in the rows of a version trained before
        forecasts had quantiles; no such column when no file has any).

    Raises:
        MonitoringInputError: The log is empty, or a file lacks the detailed columns.
    """
    if not monitoring_predictions:
        raise MonitoringInputError(
            "The prediction log is empty: run `kedro run --pipelines inference` (or "
            "`kedro model predict`) first, or point --params monitoring.predictions_dir=DIR at "
            "a folder of detailed prediction files."
        )
    frames = []
    for name, load in sorted(monitoring_predictions.items()):
        frame = load()
        missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
        if missing:
            raise MonitoringInputError(
                f"Prediction file {name!r} lacks column(s) {missing}: monitoring reads the "
                f"detailed predictions ({', '.join(PREDICTION_COLUMNS)}), not the submission."
            )
        origin = (
            frame["model_origin"]
            if "model_origin" in frame.columns
            else pd.Series("", index=frame.index)
        )
        role = frame["role"] if "role" in frame.columns else pd.Series(SERVED, index=frame.index)
        quantiles = [c for c in frame.columns if str(c).startswith(QUANTILE_PREFIX)]
        frames.append(
            frame[[*PREDICTION_COLUMNS, *quantiles]].assign(
                source=name,
                model_origin=origin.fillna("").astype(str),
                role=role.fillna(SERVED).astype(str),
            )
        )
    predictions = pd.concat(frames, ignore_index=True)  # NaN quantiles where a file has none
    predictions = predictions[predictions["model_name"] == monitoring["model_name"]]
    quantiles = sorted(_quantile_columns(predictions), key=column_level)
    predictions = predictions.assign(
        Date=pd.to_datetime(predictions["Date"]),
        model_version=predictions["model_version"].astype("int64"),
    ).rename(columns={"Sales": "prediction"})
    newest = predictions.sort_values("predicted_at").drop_duplicates(
        ["model_version", "role", "Store", "Date"], keep="last"
    )
    # A version is judged only on days after its origin: days it was fit on are not a forecast.
    origin = pd.to_datetime(newest["model_origin"].where(newest["model_origin"] != ""))
    newest = newest.assign(days_ahead=(newest["Date"] - origin).dt.days.astype("float64"))
    seen = origin.notna() & (newest["Date"] < origin)
    if seen.any():
        logger.warning(
            "%d logged prediction(s) for days before their version's origin (days the version "
            "was fit on) are left out of monitoring",
            int(seen.sum()),
        )
        newest = newest[~seen]
    logger.info(
        "%s logged predictions from %d file(s) by version(s) %s",
        f"{len(newest):,}",
        len(frames),
        sorted(newest["model_version"].unique().tolist()),
    )
    others = [c for c in newest.columns if c not in quantiles]
    kept = newest[[*others, *quantiles]].drop(columns=["model_name", "model_origin"])
    return kept.reset_index(drop=True)


def _quantile_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith(QUANTILE_PREFIX)]


def join_actuals(live_predictions: pd.DataFrame, actual_sales: pd.DataFrame) -> pd.DataFrame:
    """Predictions that have actual sales, matched by Store and Date.

    Args:
        live_predictions: Output of ``collect_predictions``.
        actual_sales: Actual sales in the train.csv format (Store, Date, Sales at least).

    Returns:
        ``live_predictions``' columns (``prediction``, ``days_ahead``, ``Sales_p10``... among
        them) and ``actual``; empty when no predicted day has actual sales yet.

    Raises:
        MonitoringInputError: The actual sales lack a column or hold malformed values.
    """
    missing = [c for c in ACTUAL_COLUMNS if c not in actual_sales.columns]
    if missing:
        raise MonitoringInputError(
            f"The actual sales lack column(s) {missing}: expected the train.csv format "
            "(Store, DayOfWeek, Date, Sales, Customers, Open, ...)."
        )
    actual = pd.DataFrame(
        {
            "Store": pd.to_numeric(actual_sales["Store"], errors="coerce"),
            "Date": pd.to_datetime(actual_sales["Date"], format="mixed", errors="coerce"),
            "actual": pd.to_numeric(actual_sales["Sales"], errors="coerce"),
        }
    )
    bad = actual.isna().any(axis=1)
    if bad.any():
        sample = actual_sales.loc[bad.to_numpy(), list(ACTUAL_COLUMNS)].head(3)
        raise MonitoringInputError(
            f"{int(bad.sum())} actual sales row(s) have a malformed Store, Date or Sales, "
            f"e.g. {sample.to_dict('records')}"
        )
    actual = actual.astype({"Store": "int64"}).drop_duplicates(["Store", "Date"], keep="last")
    joined = live_predictions.merge(actual, on=["Store", "Date"], how="inner")
    if joined.empty:
        logger.warning(
            "No predicted day has actual sales yet: predictions cover %s..%s, actual sales %s..%s",
            _day(live_predictions["Date"].min()),
            _day(live_predictions["Date"].max()),
            _day(actual["Date"].min()),
            _day(actual["Date"].max()),
        )
    return joined


def _day(value: Any) -> str:
    return "-" if pd.isna(value) else str(pd.Timestamp(value).date())


def _scores(rows: pd.DataFrame) -> dict[str, float | int]:
    return error_summary(rows["actual"], rows["prediction"])


# The band's figures a week of the calendar shows beside its RMSPE (None when not measured).
WEEKLY_INTERVAL_KEYS = ("interval_coverage", "interval_width", "quantile_loss")
# ``interval_scores``' coverage of one week of horizon: interval_coverage_week1, ...
HORIZON_COVERAGE = "interval_coverage_week"


def _band_scores(rows: pd.DataFrame, columns: list[str]) -> dict[str, Any] | None:
    """``interval_scores`` of the rows that carry every quantile column and have sales, with
    their count (``rows``); None when there are none. Per week of horizon too
    (``interval_coverage_week<k>``) when every such row knows its days ahead."""
    scored = rows[rows[columns].notna().all(axis=1) & (rows["actual"] > 0)] if columns else rows[:0]
    if scored.empty:
        return None
    days = scored["days_ahead"] if "days_ahead" in scored.columns else None
    days_ahead = days.to_numpy() if days is not None and days.notna().all() else None
    scores = interval_scores(
        scored["actual"].to_numpy(),
        scored[columns].to_numpy(),
        [column_level(c) for c in columns],
        days_ahead,
    )
    return {**scores, "rows": int(len(scored))}


def _carried_quantiles(rows: pd.DataFrame) -> list[str]:
    """The quantile columns a version's rows carry (the concat leaves the others NaN)."""
    return sorted((c for c in _quantile_columns(rows) if rows[c].notna().any()), key=column_level)


def _band(
    rows: pd.DataFrame, columns: list[str], window_start: pd.Timestamp
) -> dict[str, Any] | None:
    """A version's live band scores (overall and over the window), or None when none of its
    rows carries quantiles (a version trained before forecasts had them)."""
    overall = _band_scores(rows, columns)
    if overall is None:
        return None
    low, high = column_level(columns[0]), column_level(columns[-1])
    selling = rows["actual"] > 0
    return {
        "levels": [column_level(c) for c in columns],
        "interval": f"P{low * 100:g}-P{high * 100:g}",
        "nominal_coverage": round(high - low, 6),
        "overall": overall,
        "window": _band_scores(rows[rows["Date"] >= window_start], columns),
        "rows_without_quantiles": int((rows[columns].isna().any(axis=1) & selling).sum()),
    }


def _weekly_band(part: pd.DataFrame, columns: list[str]) -> dict[str, float | None]:
    scores = _band_scores(part, columns)
    return {key: None if scores is None else scores[key] for key in WEEKLY_INTERVAL_KEYS}


def compute_live_metrics(live_joined: pd.DataFrame, monitoring: dict[str, Any]) -> dict[str, Any]:
    """Live RMSPE per version: overall, per week, and over the latest window (the drift test);
    and, for a version whose forecasts carry quantiles, the same spans' interval coverage.

    The band is scored only on rows that carry the quantiles (and have sales): a version
    trained before forecasts had quantiles gets ``"intervals": None`` and no weekly band figures.

    Args:
        live_joined: Output of ``join_actuals``.
        monitoring: ``params:monitoring`` (``drift_threshold``, ``window_days``, ``min_rows``).

    Returns:
        ``{"status": "drift"|"ok"|"no_data", "threshold", "window_days", "versions":
        {version: {"overall", "window", "weekly", "drift", "enough_data", "intervals", ...}}}``.
        ``intervals``: ``levels``, ``interval`` (``"P10-P90"``), ``nominal_coverage``,
        ``overall`` and ``window`` (``interval_scores``' figures and ``rows``; ``window`` None
        when its rows have no quantiles) and ``rows_without_quantiles``; each weekly entry
        carries ``interval_coverage``, ``interval_width``, ``quantile_loss`` (None unmeasured).
    """
    threshold = float(monitoring["drift_threshold"])
    window_days = int(monitoring["window_days"])
    min_rows = int(monitoring["min_rows"])
    versions: dict[str, Any] = {}
    # A day a version forecast both in the shadow and served counts once, as its newest forecast.
    live_joined = live_joined.sort_values("predicted_at", kind="stable").drop_duplicates(
        ["model_version", "Store", "Date"], keep="last"
    )
    for version, rows in live_joined.groupby("model_version"):
        end = rows["Date"].max()
        window_start = end - pd.Timedelta(days=window_days - 1)
        window = _scores(rows[rows["Date"] >= window_start])
        quantiles = _carried_quantiles(rows)
        weeks = rows.assign(week=rows["Date"].dt.to_period("W-SUN").dt.start_time)
        weekly = [
            {"week_start": str(week.date()), **_scores(part), **_weekly_band(part, quantiles)}
            for week, part in weeks.groupby("week")
        ]
        enough = window["rows"] >= min_rows
        versions[str(int(version))] = {
            "version": int(version),
            "start": _day(rows["Date"].min()),
            "end": _day(end),
            "window_start": _day(window_start),
            "overall": _scores(rows),
            "window": window,
            "weekly": weekly,
            "enough_data": bool(enough),
            "drift": bool(enough and np.isfinite(window["rmspe"]) and window["rmspe"] > threshold),
            "intervals": _band(rows, quantiles, window_start),
        }
    judged = [v for v in versions.values() if v["enough_data"]]
    status = "no_data" if not judged else "drift" if any(v["drift"] for v in judged) else "ok"
    return {
        "status": status,
        "threshold": threshold,
        "window_days": window_days,
        "min_rows": min_rows,
        "matched_rows": int(len(live_joined)),
        "versions": versions,
    }


def judge_live_metrics(
    live_metrics: dict[str, Any], monitoring: dict[str, Any], mlflow_run: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Say for each version whether it drifts; build the status and what to tag it with.

    Args:
        live_metrics: ``compute_live_metrics``'s output.
        monitoring: ``params:monitoring``.
        mlflow_run: This ``kedro run``'s MLflow run (``active_mlflow_run``), named in the status.

    Returns:
        The machine-readable status (``data/08_reporting/monitoring_status.json``), the
        run's record (tags ``monitoring.*`` of this run), and for each judged version its
        ``monitoring.*`` version tags (``live_version_tags`` writes them to the registry).
    """
    threshold = live_metrics["threshold"]
    entries = sorted(live_metrics["versions"].values(), key=lambda e: e["version"])
    for entry in entries:
        _log_verdict(entry, live_metrics, monitoring["model_name"])
        _log_band(entry)
    version_tags = [_version_tag(entry, threshold) for entry in entries if entry["enough_data"]]
    rows = [_status_row(entry) for entry in entries]
    if live_metrics["status"] == "no_data":
        logger.warning("Monitoring: no version has enough predicted days with actual sales yet")
    drifting = [row["version"] for row in rows if row["drift"]]
    status = {
        "model_name": monitoring["model_name"],
        "status": live_metrics["status"],
        "drift": bool(drifting),
        "drifting_versions": drifting,
        "threshold": threshold,
        "window_days": live_metrics["window_days"],
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": mlflow_run.get("run_id"),
        "versions": rows,
    }
    record = {
        "status": status["status"],
        "drift": status["drift"],
        "versions": ",".join(str(row["version"]) for row in rows),
        "drifting_versions": ",".join(map(str, drifting)),
        "threshold": threshold,
    }
    return status, record, version_tags


def _span(entry: dict[str, Any]) -> str:
    return f"{entry['window_start']}..{entry['end']}"


def _log_verdict(entry: dict[str, Any], live_metrics: dict[str, Any], model_name: str) -> None:
    """Log one version's verdict: not judged (too few days), drift, or no drift."""
    window = entry["window"]
    if not entry["enough_data"]:
        logger.warning(
            "Version %d: only %d day(s) with sales in %s (need %d): not judged",
            entry["version"],
            window["rows"],
            _span(entry),
            live_metrics["min_rows"],
        )
        return
    template = (
        "✗ DRIFT: %s version %d live RMSPE %.4f over %s (%d rows) > threshold %.2f"
        if entry["drift"]
        else "✓ No drift: %s version %d live RMSPE %.4f over %s (%d rows) <= threshold %.2f"
    )
    logger.log(
        logging.WARNING if entry["drift"] else logging.INFO,
        template,
        model_name,
        entry["version"],
        window["rmspe"],
        _span(entry),
        window["rows"],
        live_metrics["threshold"],
    )


def _log_band(entry: dict[str, Any]) -> None:
    """Log one version's live interval coverage, or that its forecasts carry no quantiles."""
    band = entry["intervals"]
    if band is None:
        logger.info(
            "Version %d: its forecasts carry no quantiles (trained before them): "
            "no live interval coverage",
            entry["version"],
        )
        return
    scores = band["window"] or band["overall"]
    logger.info(
        "Version %d: %s interval held %.1f%% of %d store-days with sales over %s (nominal "
        "%.0f%%), mean relative width %.3f, quantile loss %.4f",
        entry["version"],
        band["interval"],
        100 * scores["interval_coverage"],
        scores["rows"],
        _span(entry) if band["window"] else f"{entry['start']}..{entry['end']}",
        100 * band["nominal_coverage"],
        scores["interval_width"],
        scores["quantile_loss"],
    )
    if band["rows_without_quantiles"]:
        logger.info(
            "Version %d: %d store-day(s) with sales logged without quantiles are left out of "
            "its interval coverage",
            entry["version"],
            band["rows_without_quantiles"],
        )


def _window_band(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The version's band scores over the drift window, or None (no quantiles there)."""
    band = entry["intervals"]
    return None if band is None else band["window"]


def _version_tag(entry: dict[str, Any], threshold: float) -> dict[str, Any]:
    """What ``live_version_tags`` writes on a judged version (``monitoring.*``): the window's
    RMSPE and, beside it, the same window's interval coverage, width and quantile loss
    (``interval`` None and the three None for a version without quantiles)."""
    band = _window_band(entry)
    return {
        "version": entry["version"],
        "rmspe": entry["window"]["rmspe"],
        "drift": entry["drift"],
        "threshold": threshold,
        "window": _span(entry),
        "interval": entry["intervals"]["interval"] if band is not None else None,
        "coverage": band["interval_coverage"] if band is not None else None,
        "interval_width": band["interval_width"] if band is not None else None,
        "quantile_loss": band["quantile_loss"] if band is not None else None,
    }


def _status_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One version's row in the status file; non-finite figures become null (valid JSON).

    ``quantiles`` says whether the version's forecasts carried them; the ``live_coverage``,
    ``live_interval_width`` and ``live_quantile_loss`` are the window's (null without)."""
    window = entry["window"]
    band = entry["intervals"]
    scores = _window_band(entry) or {}
    return {
        "version": entry["version"],
        "live_rmspe": _finite(window["rmspe"]),
        "live_bias": _finite(window["bias"]),
        "overall_rmspe": _finite(entry["overall"]["rmspe"]),
        "window": _span(entry),
        "rows": window["rows"],
        "judged": entry["enough_data"],
        "drift": entry["drift"],
        "quantiles": band is not None,
        "interval": band["interval"] if band is not None else None,
        "nominal_coverage": band["nominal_coverage"] if band is not None else None,
        "live_coverage": _finite(scores.get("interval_coverage")),
        "live_interval_width": _finite(scores.get("interval_width")),
        "live_quantile_loss": _finite(scores.get("quantile_loss")),
        "overall_coverage": _finite(band["overall"]["interval_coverage"]) if band else None,
    }


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def live_metrics_for_mlflow(live_metrics: dict[str, Any]) -> dict[str, Any]:
    """Per version: live RMSPE and bias, and the weekly RMSPE as a history (step = YYYYWW);
    for a version with quantiles also its live interval coverage, width and quantile loss
    (the window's), its overall coverage, the weekly coverage (step = YYYYWW) and the coverage
    per week of horizon (``horizon_coverage``, step = week after the origin, 1-based).

    Returns:
        Metrics in the shape kedro-mlflow's metrics dataset logs (prefixed ``monitoring.``).
    """
    logged: dict[str, Any] = {}
    for key, entry in live_metrics["versions"].items():
        band = entry["intervals"] or {}
        window_band = band.get("window") or {}
        overall_band = band.get("overall") or {}
        for name, value in (
            ("live_rmspe", entry["window"]["rmspe"]),
            ("live_bias", entry["window"]["bias"]),
            ("overall_rmspe", entry["overall"]["rmspe"]),
            ("live_coverage", window_band.get("interval_coverage")),
            ("live_interval_width", window_band.get("interval_width")),
            ("live_quantile_loss", window_band.get("quantile_loss")),
            ("overall_coverage", overall_band.get("interval_coverage")),
        ):
            if value is not None and np.isfinite(value):
                logged[f"v{key}.{name}"] = {"value": float(value), "step": 0}
        for name, field in (("weekly_rmspe", "rmspe"), ("weekly_coverage", "interval_coverage")):
            weekly = [
                {"value": float(week[field]), "step": _week_step(week["week_start"])}
                for week in entry["weekly"]
                if week.get(field) is not None and np.isfinite(week[field])
            ]
            if weekly:
                logged[f"v{key}.{name}"] = weekly
        horizon = [
            {"value": float(value), "step": int(name.removeprefix(HORIZON_COVERAGE))}
            for name, value in overall_band.items()
            if name.startswith(HORIZON_COVERAGE) and np.isfinite(value)
        ]
        if horizon:
            logged[f"v{key}.horizon_coverage"] = sorted(horizon, key=lambda m: m["step"])
    return logged


def _week_step(week_start: str) -> int:
    year, week, _ = pd.Timestamp(week_start).isocalendar()
    return int(year) * 100 + int(week)


def compare_shadow(live_joined: pd.DataFrame) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each shadow version against the version that served the same store-days, on actual
    sales: the live comparison ``kedro model promote`` and the review show.

    Args:
        live_joined: ``join_actuals``'s output (with ``role``).

    Returns:
        ``{"comparisons": [...]}`` for the monitoring report, and the same entries
        (``challenger``, ``champion``, both RMSPEs, ``store_days``, ``since``, ``until``) for
        the challengers' ``monitoring.shadow.*`` tags; for each challenger only the champion
        it shared most store-days with.
    """
    role = (
        live_joined["role"] if "role" in live_joined else pd.Series(SERVED, index=live_joined.index)
    )
    keys = ["Store", "Date"]
    served = live_joined.loc[role == SERVED, [*keys, "model_version", "prediction"]]
    comparisons = []
    for challenger, rows in live_joined[role == SHADOW].groupby("model_version"):
        pairs = rows.merge(served, on=keys, suffixes=("", "_served"))
        pairs = pairs[pairs["model_version_served"] != challenger]
        for champion, part in pairs.groupby("model_version_served"):
            mine = error_summary(part["actual"], part["prediction"])
            theirs = error_summary(part["actual"], part["prediction_served"])
            if mine["rows"] == 0:
                continue
            comparisons.append(
                {
                    "challenger": int(challenger),
                    "champion": int(champion),
                    "challenger_rmspe": float(mine["rmspe"]),
                    "champion_rmspe": float(theirs["rmspe"]),
                    "store_days": int(mine["rows"]),
                    "since": _day(part["Date"].min()),
                    "until": _day(part["Date"].max()),
                }
            )
    for entry in comparisons:
        logger.info(
            "Shadow: version %d %.4f vs version %d %.4f (served) on %s store-days, %s..%s",
            entry["challenger"],
            entry["challenger_rmspe"],
            entry["champion"],
            entry["champion_rmspe"],
            f"{entry['store_days']:,}",
            entry["since"],
            entry["until"],
        )
    best: dict[int, dict[str, Any]] = {}
    for entry in comparisons:
        kept = best.get(entry["challenger"])
        if kept is None or entry["store_days"] > kept["store_days"]:
            best[entry["challenger"]] = entry
    if not comparisons:
        logger.info("Shadow: no shadow forecast has actual sales yet")
    return {"comparisons": comparisons}, list(best.values())
