"""Nodes of live monitoring: actual sales against the predictions that versions made.

Every inference run adds its detailed predictions (Store, Date, Sales, model version) to the
prediction log. Monitoring joins them with actual sales by Store and Date, scores each version
that predicted those days (RMSPE overall, per week and over the latest window) and flags drift
when the latest window's RMSPE exceeds the threshold in conf.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import error_summary

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("Store", "Date", "Sales", "model_name", "model_version", "predicted_at")
ACTUAL_COLUMNS = ("Store", "Date", "Sales")
SERVED, SHADOW = "served", "shadow"  # the prediction log's roles (inference/nodes.py)


class MonitoringInputError(ValueError):
    """The prediction log or the actual sales cannot be used: the message says why."""


def collect_predictions(
    monitoring_predictions: dict[str, Callable[[], pd.DataFrame]], monitoring: dict[str, Any]
) -> pd.DataFrame:
    """All logged predictions of the model, the newest per (version, Store, Date).

    Args:
        monitoring_predictions: Partitions of the prediction log (lazy loaders by name).
        monitoring: ``params:monitoring`` (``model_name``).

    Returns:
        Columns ``Store, Date, model_version, prediction, predicted_at, source, role``
        (``served``, or ``shadow`` for a Staging version's forecast in Production's shadow;
        files logged before shadow scoring count as served).

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
        frames.append(
            frame[list(PREDICTION_COLUMNS)].assign(
                source=name,
                model_origin=origin.fillna("").astype(str),
                role=role.fillna(SERVED).astype(str),
            )
        )
    predictions = pd.concat(frames, ignore_index=True)
    predictions = predictions[predictions["model_name"] == monitoring["model_name"]]
    predictions = predictions.assign(
        Date=pd.to_datetime(predictions["Date"]),
        model_version=predictions["model_version"].astype("int64"),
    ).rename(columns={"Sales": "prediction"})
    newest = predictions.sort_values("predicted_at").drop_duplicates(
        ["model_version", "Store", "Date"], keep="last"
    )
    # A version is judged only on days after its origin: days it was fit on are not a forecast.
    origin = pd.to_datetime(newest["model_origin"].where(newest["model_origin"] != ""))
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
    return newest.drop(columns=["model_name", "model_origin"]).reset_index(drop=True)


def join_actuals(live_predictions: pd.DataFrame, actual_sales: pd.DataFrame) -> pd.DataFrame:
    """Predictions that have actual sales, matched by Store and Date.

    Args:
        live_predictions: Output of ``collect_predictions``.
        actual_sales: Actual sales in the train.csv format (Store, Date, Sales at least).

    Returns:
        Columns ``Store, Date, model_version, prediction, actual, predicted_at, source``;
        empty when no predicted day has actual sales yet.

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


def compute_live_metrics(live_joined: pd.DataFrame, monitoring: dict[str, Any]) -> dict[str, Any]:
    """Live RMSPE per version: overall, per week, and over the latest window (the drift test).

    Args:
        live_joined: Output of ``join_actuals``.
        monitoring: ``params:monitoring`` (``drift_threshold``, ``window_days``, ``min_rows``).

    Returns:
        ``{"status": "drift"|"ok"|"no_data", "threshold", "window_days", "versions":
        {version: {"overall", "window", "weekly", "drift", "enough_data", ...}}}``.
    """
    threshold = float(monitoring["drift_threshold"])
    window_days = int(monitoring["window_days"])
    min_rows = int(monitoring["min_rows"])
    versions: dict[str, Any] = {}
    for version, rows in live_joined.groupby("model_version"):
        end = rows["Date"].max()
        window_start = end - pd.Timedelta(days=window_days - 1)
        window = _scores(rows[rows["Date"] >= window_start])
        weeks = rows.assign(week=rows["Date"].dt.to_period("W-SUN").dt.start_time)
        weekly = [
            {"week_start": str(week.date()), **_scores(part)}
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


def _version_tag(entry: dict[str, Any], threshold: float) -> dict[str, Any]:
    """What ``live_version_tags`` writes on a judged version (``monitoring.*``)."""
    return {
        "version": entry["version"],
        "rmspe": entry["window"]["rmspe"],
        "drift": entry["drift"],
        "threshold": threshold,
        "window": _span(entry),
    }


def _status_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One version's row in the status file; non-finite figures become null (valid JSON)."""
    window = entry["window"]
    return {
        "version": entry["version"],
        "live_rmspe": _finite(window["rmspe"]),
        "live_bias": _finite(window["bias"]),
        "overall_rmspe": _finite(entry["overall"]["rmspe"]),
        "window": _span(entry),
        "rows": window["rows"],
        "judged": entry["enough_data"],
        "drift": entry["drift"],
    }


def _finite(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def live_metrics_for_mlflow(live_metrics: dict[str, Any]) -> dict[str, Any]:
    """Per version: live RMSPE and bias, and the weekly RMSPE as a history (step = YYYYWW).

    Returns:
        Metrics in the shape kedro-mlflow's metrics dataset logs (prefixed ``monitoring.``).
    """
    logged: dict[str, Any] = {}
    for key, entry in live_metrics["versions"].items():
        for name, value in (
            ("live_rmspe", entry["window"]["rmspe"]),
            ("live_bias", entry["window"]["bias"]),
            ("overall_rmspe", entry["overall"]["rmspe"]),
        ):
            if np.isfinite(value):
                logged[f"v{key}.{name}"] = {"value": float(value), "step": 0}
        weekly = [
            {"value": float(week["rmspe"]), "step": _week_step(week["week_start"])}
            for week in entry["weekly"]
            if np.isfinite(week["rmspe"])
        ]
        if weekly:
            logged[f"v{key}.weekly_rmspe"] = weekly
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
