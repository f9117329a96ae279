"""Nodes of the validation gate.

A registered version is the *served* model: fit on every row of train.csv, it forecasts from
the day after the last one, so it has seen the holdout. The gate therefore judges the
procedure that made it, backtested: the same boosters, weights and scale fit on the rows
before the holdout (logged on the training run, named by the version's
``lineage.backtest.model_uri``), scored exactly as inference calls a model: holdout rows in
the test format, without their Sales, through the loaded pyfunc. The Production version is
scored on the same rows the same way (its served model if it forecasts from on or before the
holdout's first day, else its backtest). The decision (Staging or rejected) is a pure function
of the scores; the catalog's ``gate_status`` records it on the served version through the
registry module. Versions come in through the catalog (``ensemble_model``, ``production_model``).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import mean_percentage_error, rmspe
from rossmann_forecast.model.ensemble import forecast_through
from rossmann_forecast.registry import REJECTED, STAGING_ALIAS, RegistryError
from rossmann_forecast.registry_datasets import RegisteredVersion

logger = logging.getLogger(__name__)


def holdout_digest(holdout_table: pd.DataFrame) -> str:
    """Content hash of the holdout rows (order-sensitive), recorded with every verdict."""
    hashed = pd.util.hash_pandas_object(holdout_table, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def _holdout_start(holdout_table: pd.DataFrame) -> str:
    return str(holdout_table["Date"].min().date())


def score_candidate(candidate: RegisteredVersion, holdout_table: pd.DataFrame) -> pd.DataFrame:
    """Holdout predictions of the candidate's backtest (its procedure fit before the holdout).

    Args:
        candidate: The version to judge (``ensemble_model``: the one this run registered, or
            ``--params validation.version=N``, or the newest waiting for validation).
        holdout_table: The holdout rows, with their Sales.
    """
    model = candidate.scoring_model(_holdout_start(holdout_table))
    logger.info(
        "Scoring version %d's %s model (%s, forecasts from %s) on %d holdout rows",
        candidate.version,
        model["kind"],
        model["model_uri"],
        model["origin"],
        len(holdout_table),
    )
    return _scored(holdout_table, candidate.version, model)


def score_production(
    production: RegisteredVersion | None, holdout_table: pd.DataFrame
) -> pd.DataFrame:
    """Holdout predictions of the current Production version (empty before the first).

    Scored by the model of that version that was not fit on the holdout rows; when it has
    none (it was trained on these very rows and has no backtest), there is no honest
    comparison and the frame is empty.
    """
    empty = pd.DataFrame(columns=["Store", "Date", "Sales", "version", "prediction"])
    if production is None:
        logger.info("No Production version yet: nothing to compare the candidate with")
        return empty
    try:
        model = production.scoring_model(_holdout_start(holdout_table))
    except RegistryError as exc:
        logger.warning("No comparison with Production: %s", exc)
        return empty
    return _scored(holdout_table, production.version, model)


def _scored(holdout_table: pd.DataFrame, version: int, model: dict[str, Any]) -> pd.DataFrame:
    """The holdout's forecast by ``model`` (a ``scoring_model``), labelled with what scored it."""
    return holdout_table[["Store", "Date", "Sales"]].assign(
        version=version,
        prediction=forecast_through(model["model"], holdout_table),
        scored_kind=model["kind"],
        scored_model_uri=model["model_uri"],
        scored_origin=model["origin"],
    )


def _evidence(predictions: pd.DataFrame) -> dict[str, str]:
    first = predictions.iloc[0]
    return {
        "kind": str(first["scored_kind"]),
        "model_uri": str(first["scored_model_uri"]),
        "origin": str(first["scored_origin"]),
    }


def _scores(predictions: pd.DataFrame, stores: pd.DataFrame, recent_days: int) -> dict[str, float]:
    frame = predictions.merge(stores[["Store", "StoreType"]], on="Store", how="left")
    actual, predicted = frame["Sales"].to_numpy(), frame["prediction"].to_numpy()
    scores = {
        "holdout_rmspe": rmspe(actual, predicted),
        "holdout_bias": mean_percentage_error(actual, predicted),
    }
    recent = frame["Date"] >= frame["Date"].max() - pd.Timedelta(days=recent_days - 1)
    scores[f"holdout_rmspe_last_{recent_days}d"] = rmspe(actual[recent], predicted[recent])
    for store_type, rows in frame.groupby("StoreType"):
        position = frame.index.get_indexer(rows.index)
        if (actual[position] > 0).any():
            scores[f"holdout_rmspe_storetype_{store_type}"] = rmspe(
                actual[position], predicted[position]
            )
    return scores


def evaluate_holdout(
    candidate_predictions: pd.DataFrame,
    production_predictions: pd.DataFrame,
    holdout_table: pd.DataFrame,
    stores_validated: pd.DataFrame,
    validation: dict[str, Any],
) -> dict[str, Any]:
    """Holdout metrics of the candidate (and of Production on the same rows).

    Returns:
        The report: version, metrics, Production's metrics, threshold, holdout hash, time.
    """
    recent_days = int(validation["recent_days"])
    report: dict[str, Any] = {
        "version": int(candidate_predictions["version"].iloc[0]),
        "scored_model": _evidence(candidate_predictions),
        "threshold": float(validation["threshold"]),
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "holdout_sha256": holdout_digest(holdout_table),
        "holdout_rows": int(len(holdout_table)),
        "holdout_start": str(holdout_table["Date"].min().date()),
        "holdout_end": str(holdout_table["Date"].max().date()),
        "metrics": _scores(candidate_predictions, stores_validated, recent_days),
        "production": None,
    }
    if len(production_predictions):
        report["production"] = {
            "version": int(production_predictions["version"].iloc[0]),
            "scored_model": _evidence(production_predictions),
            "metrics": _scores(production_predictions, stores_validated, recent_days),
        }
    return report


def decide_gate(report: dict[str, Any]) -> dict[str, Any]:
    """The verdict: below the threshold the version goes to Staging, else it is rejected.

    A pure function of the report; the verdict is saved through ``gate_status``, which
    records it in the registry (under its lock, through its journal) before writing the file.

    Returns:
        ``version``, ``passed``, ``status``, ``holdout_rmspe``, ``threshold``, ``reason``,
        ``scored_model``, ``evaluated_at``, and what the registry records with it
        (``recorded_metrics``, ``evidence``).
    """
    version, threshold = report["version"], report["threshold"]
    score = report["metrics"]["holdout_rmspe"]
    passed = bool(np.isfinite(score) and score < threshold)
    production = report["production"]
    if production is not None:
        logger.info(
            "Production version %d on the same rows (%s model from %s): RMSPE %.4f",
            production["version"],
            production["scored_model"]["kind"],
            production["scored_model"]["origin"],
            production["metrics"]["holdout_rmspe"],
        )
    logger.info(
        "Validation RMSPE: %.4f (version %d's backtest from %s, on %s .. %s)",
        score,
        version,
        report["scored_model"]["origin"],
        report["holdout_start"],
        report["holdout_end"],
    )
    reason = (
        f"holdout RMSPE {score:.4f} < threshold {threshold:.2f}"
        if passed
        else f"holdout RMSPE {score:.4f} >= threshold {threshold:.2f}"
    )
    if passed:
        logger.info("✓ Performance meets threshold (< %.2f)", threshold)
    else:
        logger.warning("✗ Performance does not meet threshold (< %.2f)", threshold)
    # Stored as validation.<name> version tags, named as the run's metrics: holdout_rmspe, ...
    metrics = {k: float(v) for k, v in report["metrics"].items()}
    if production is not None:
        metrics["production_holdout_rmspe"] = float(production["metrics"]["holdout_rmspe"])
        metrics["production_version"] = float(production["version"])
    return {
        "version": version,
        "passed": passed,
        "status": STAGING_ALIAS if passed else REJECTED,
        "holdout_rmspe": score,
        "threshold": threshold,
        "reason": reason,
        "scored_model": report["scored_model"],
        "evaluated_at": report["evaluated_at"],
        "recorded_metrics": metrics,
        "evidence": {
            **report["scored_model"],
            "holdout_start": report["holdout_start"],
            "holdout_end": report["holdout_end"],
            "holdout_sha256": report["holdout_sha256"],
        },
    }


def gate_metrics_for_mlflow(report: dict[str, Any]) -> dict[str, dict[str, float | int]]:
    """The report's metrics in the shape kedro-mlflow's metrics dataset logs."""
    metrics = {k: {"value": float(v), "step": 0} for k, v in report["metrics"].items()}
    if report["production"] is not None:
        for key, value in report["production"]["metrics"].items():
            metrics[f"production_{key}"] = {"value": float(value), "step": 0}
    return metrics


__all__ = [
    "decide_gate",
    "evaluate_holdout",
    "gate_metrics_for_mlflow",
    "score_candidate",
    "score_production",
]
