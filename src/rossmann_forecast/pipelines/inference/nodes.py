"""Nodes of batch inference.

The model comes from the catalog (``inference_model``, a ``RegisteredModelDataset``): the alias
of a stage, or an explicit version, resolved once and loaded by its version URI, so that the
version recorded is the one that predicted even if an alias moves during the run. No node here
reads the registry. Rows are checked by the model's own input contract
(``RossmannEnsemble.prepare_input``), which names missing or malformed columns, dates before
the model's origin and stores it cannot forecast, before MLflow sees them. Rows past the horizon
the version was validated for are forecast, warned about and marked
(``beyond_validated_horizon``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import pandas as pd

from rossmann_forecast.model.ensemble import HORIZON_COLUMN, InvalidInputError, to_model_input
from rossmann_forecast.model.intervals import QUANTILE_PREFIX

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "Id",
    "Store",
    "Date",
    "Open",
    "Sales",
    "model_name",
    "model_version",
    "model_stage",
    "predicted_at",
    "run_id",
    "model_origin",
    "beyond_validated_horizon",
]
# Between Sales and model_name: the version's forecast quantiles (Sales_p10, Sales_p50,
# Sales_p90 by default); none for a version trained before forecasts had quantiles.
# The prediction log's ``role``: the forecast that was served, or the Staging version's forecast
# of the same rows in its shadow (monitoring compares the two once sales arrive).
SERVED, SHADOW = "served", "shadow"


def predict_sales(
    inference_model: dict[str, Any], inference_input: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Forecast every input row with the model the catalog resolved and loaded.

    Args:
        inference_model: ``RegisteredModelDataset``'s load: the pyfunc under ``model`` and the
            version it is (name, number, stage, what was requested, run, time).
        inference_input: Rows in the Kaggle test format (``Id`` optional).

    Returns:
        One row per input row (``PREDICTION_COLUMNS``), and the version that predicted
        (``inference_model`` without the model itself) for the run's record.
    """
    started = time.perf_counter()
    predictions = forecast(inference_model["model"], inference_input, inference_model)
    reference = {key: value for key, value in inference_model.items() if key != "model"}
    logger.info(
        "Model load %.2f s, predict %.2f s (%d rows)",
        float(inference_model.get("load_seconds", 0.0)),
        time.perf_counter() - started,
        len(predictions),
    )
    return predictions, reference


def forecast(
    model: Any, inference_input: pd.DataFrame, model_reference: dict[str, Any]
) -> pd.DataFrame:
    """Check the rows with the model's input contract, predict, and label the predictions.

    Args:
        model: A loaded pyfunc of the registered model.
        inference_input: Rows in the Kaggle test format (``Id`` optional).
        model_reference: The version that predicts (``RegisteredModelDataset``'s load).

    Returns:
        One row per input row: ``PREDICTION_COLUMNS``.

    Raises:
        InvalidInputError: No rows, a missing or malformed column (a Date not written
            YYYY-MM-DD, a DayOfWeek that is not Date's weekday), duplicate Ids, a date before
            the model's origin, or a store the model does not know or has no sales history of.
    """
    if inference_input.empty:
        raise InvalidInputError("The input has no rows: expected rows in the test.csv format")
    ids = _row_ids(inference_input)
    python_model = _python_model(model)
    if hasattr(python_model, "prepare_input"):
        rows = python_model.prepare_input(inference_input)  # names what is wrong, and where
    else:
        rows = inference_input
    model_input = to_model_input(rows.assign(Id=ids.to_numpy()))
    answer = model.predict(model_input)
    sales = answer["Sales"].to_numpy(dtype="float64")
    quantiles = [c for c in answer.columns if str(c).startswith(QUANTILE_PREFIX)]
    if not quantiles:
        logger.warning(
            "Version %s of %s was trained before forecasts had quantiles: its predictions "
            "carry the point forecast (Sales) alone, no Sales_p10..Sales_p90. Retrain "
            "(kedro run) for a version with calibrated quantiles.",
            model_reference["version"],
            model_reference["model_name"],
        )
    dates = pd.to_datetime(model_input["Date"])
    if HORIZON_COLUMN in answer.columns:  # the model marks and warns itself
        origin = str(python_model.state.origin.date()) if python_model is not None else ""
        beyond = answer[HORIZON_COLUMN].astype(bool).set_axis(dates.index)
    else:  # a version trained before its answer had the column
        origin, beyond = _horizon_check(python_model, dates, model_reference)
    predictions = pd.DataFrame(
        {
            "Id": ids.to_numpy(),
            "Store": model_input["Store"].to_numpy(),
            "Date": model_input["Date"].to_numpy(),
            "Open": model_input["Open"].fillna(1).astype("int64").to_numpy(),
            "Sales": sales,
            **{column: answer[column].to_numpy(dtype="float64") for column in quantiles},
        }
    ).assign(
        model_name=model_reference["model_name"],
        model_version=int(model_reference["version"]),
        model_stage=model_reference["stage"],
        predicted_at=model_reference["predicted_at"],
        run_id=model_reference.get("run_id") or "",
        model_origin=origin,
        beyond_validated_horizon=beyond.to_numpy(),
    )
    logger.info(
        "✓ %s predictions by %s version %d (%s) for %s..%s",
        f"{len(predictions):,}",
        model_reference["model_name"],
        model_reference["version"],
        model_reference["stage"],
        dates.min().date(),
        dates.max().date(),
    )
    return predictions[prediction_columns(quantiles)]


def prediction_columns(quantiles: list[str]) -> list[str]:
    """``PREDICTION_COLUMNS`` with the quantile columns after ``Sales``."""
    after = PREDICTION_COLUMNS.index("Sales") + 1
    return [*PREDICTION_COLUMNS[:after], *quantiles, *PREDICTION_COLUMNS[after:]]


def _horizon_check(
    python_model: Any, dates: pd.Series, model_reference: dict[str, Any]
) -> tuple[str, pd.Series]:
    """The model's origin, and which rows lie past the horizon its gate validated (warned)."""
    if python_model is None or getattr(python_model, "state", None) is None:
        return "", pd.Series(False, index=dates.index)
    origin = python_model.state.origin
    beyond = python_model.beyond_horizon(dates)
    if beyond.any():
        late = dates[beyond]
        logger.warning(
            "%d row(s) for %s..%s lie past the %d days after %s that version %s was validated "
            "for: forecast anyway and marked beyond_validated_horizon=True in the detailed file",
            int(beyond.sum()),
            late.min().date(),
            late.max().date(),
            int(python_model.horizon_days),
            origin.date(),
            model_reference["version"],
        )
    return str(origin.date()), beyond


def _python_model(model: Any) -> Any:
    """The Python model inside a pyfunc, or None (a pyfunc of another flavour raises MLflow's
    error, which the node does not import: nodes get models as plain inputs)."""
    unwrap = getattr(model, "unwrap_python_model", None)
    try:
        return unwrap() if unwrap is not None else None
    except Exception:  # noqa: BLE001 - MlflowException: not a PythonModel
        return None


def _row_ids(rows: pd.DataFrame) -> pd.Series:
    """The input's Id column (checked), or 1..n when the file has none."""
    if "Id" not in rows.columns:
        logger.warning("The input has no Id column: rows are numbered 1..%d", len(rows))
        return pd.Series(range(1, len(rows) + 1), index=rows.index, dtype="int64")
    ids = pd.to_numeric(rows["Id"], errors="coerce")
    bad = ids.isna() | (ids % 1 != 0)
    if bad.any():
        sample = rows.loc[bad, "Id"].head(3).tolist()
        raise InvalidInputError(
            f"Column 'Id' must be a whole number: {int(bad.sum())} bad row(s), e.g. {sample}"
        )
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise InvalidInputError(
            f"Column 'Id' must be unique: {len(duplicated)} duplicate(s), e.g. "
            f"{duplicated.astype('int64').head(3).tolist()}"
        )
    return ids.astype("int64")


def make_submission(predictions: pd.DataFrame) -> pd.DataFrame:
    """The Kaggle submission: ``Id,Sales`` ordered by Id."""
    return predictions[["Id", "Sales"]].sort_values("Id").reset_index(drop=True)


def describe_prediction_run(
    model_reference: dict[str, Any], inference_input: pd.DataFrame, predictions: pd.DataFrame
) -> dict[str, Any]:
    """What produced the predictions: logged as ``inference.*`` tags of the run.

    Returns:
        Model name, version, stage as resolved, training run, input hash and row counts.
    """
    hashed = pd.util.hash_pandas_object(inference_input, index=False).to_numpy()
    dates = pd.to_datetime(predictions["Date"])
    return {
        "model_name": model_reference["model_name"],
        "model_version": int(model_reference["version"]),
        "model_stage": model_reference["stage"],
        "requested": model_reference["requested"],
        "model_uri": model_reference["model_uri"],
        "training_run_id": model_reference["training_run_id"],
        "input_sha256": hashlib.sha256(hashed.tobytes()).hexdigest(),
        "input_rows": int(len(inference_input)),
        "predicted_rows": int(len(predictions)),
        "open_rows": int(predictions["Open"].eq(1).sum()),
        "stores": int(predictions["Store"].nunique()),
        "date_start": str(dates.min().date()),
        "date_end": str(dates.max().date()),
        "predicted_at": model_reference["predicted_at"],
    }


def prediction_metrics(predictions: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Row counts in the shape kedro-mlflow's metrics dataset logs (prefixed ``inference.``)."""
    counts = {
        "predicted_rows": len(predictions),
        "open_rows": int(predictions["Open"].eq(1).sum()),
        "stores": predictions["Store"].nunique(),
    }
    return {key: {"value": float(value), "step": 0} for key, value in counts.items()}


def check_drift(
    model_reference: dict[str, Any],
    inference_input: pd.DataFrame,
    predictions: pd.DataFrame,
    stores_now: pd.DataFrame | None,
    drift: dict[str, Any],
) -> tuple[dict[str, Any], str, dict[str, str], dict[str, Any]]:
    """Judge the batch and its forecasts against the version's reference, before any sale is
    known (``rossmann_forecast.drift``); never fails the run.

    Args:
        model_reference: The version that predicted, with its ``drift_reference`` (None for a
            version registered before references existed).
        inference_input: The batch as read.
        predictions: Its forecasts (``predict_sales``).
        stores_now: ``store.csv`` as it is now, or None when there is none.
        drift: ``params:drift``.

    Returns:
        The verdict (JSON), its HTML report, both again as this batch's files of the drift
        history (``<partition>.verdict.json`` and ``.report.html``, the partition named as the
        prediction log's), and the entry the registry records as the version's
        ``monitoring.input_drift`` tags.
    """
    from rossmann_forecast.drift import (  # noqa: PLC0415
        SKIPPED,
        batch_summary,
        check_batch,
        render_html,
    )

    reference = model_reference.get("drift_reference")
    if not drift.get("enabled", True):
        verdict = {"status": SKIPPED, "reason": "switched off (drift.enabled: false)"}
        verdict.update(batch=batch_summary(inference_input), drifted=[], checks=[])
    else:
        verdict = check_batch(inference_input, predictions, reference, drift, stores_now)
    verdict = {
        "model_name": model_reference["model_name"],
        "version": int(model_reference["version"]),
        "stage": model_reference["stage"],
        "run_id": model_reference.get("run_id") or "",
        "checked_at": model_reference["predicted_at"],
        **verdict,
    }
    known = {"Id", "Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"}
    unknown = sorted(set(inference_input.columns) - known)
    if unknown:
        verdict["not_judged"] = f"columns the reference does not know: {', '.join(unknown)}"
    _log_drift(verdict)
    html = render_html(verdict, inference_input, reference)
    name = _partition_name(verdict["checked_at"], verdict["version"], verdict["run_id"])
    history = {
        f"{name}.verdict.json": json.dumps(verdict, indent=2),
        f"{name}.report.html": html,
    }
    tags = {
        "version": verdict["version"],
        "status": verdict["status"],
        "drifted": verdict["drifted"],
        "batch": verdict.get("batch", {}),
        "reason": verdict.get("reason", ""),
        "checked_at": verdict["checked_at"],
    }
    return verdict, html, history, tags


def _log_drift(verdict: dict[str, Any]) -> None:
    where = f"version {verdict['version']}'s reference"
    if verdict["status"] == "drift":
        fired = [c for c in verdict["checks"] if c["drifted"]]
        logger.warning(
            "Drift in this batch against %s: %s (report: data/08_reporting/drift/)",
            where,
            "; ".join(f"{c['check']}: {c['detail']}" for c in fired),
        )
    elif verdict["status"] == "no_drift":
        logger.info("✓ No drift against %s (%d checks)", where, len(verdict["checks"]))
    else:
        logger.info("Drift not judged against %s: %s", where, verdict.get("reason"))
    if verdict.get("not_judged"):
        logger.info("Drift: %s", verdict["not_judged"])


def shadow_forecast(
    shadow_model: dict[str, Any] | None,
    model_reference: dict[str, Any],
    inference_input: pd.DataFrame,
) -> pd.DataFrame:
    """The Staging version's forecasts of the same rows, for the prediction log only.

    The catalog's ``shadow_model`` loads Staging only when inference serves Production (the
    default) and ``inference.shadow`` is on; a version that refuses the rows or fails is
    logged and skipped: the shadow never stops the served forecast.

    Args:
        shadow_model: The Staging version loaded (as ``inference_model``), or None.
        model_reference: The version that served the batch.
        inference_input: The batch as read.

    Returns:
        Its forecasts (``PREDICTION_COLUMNS``), or an empty frame when there is no shadow.
    """
    empty = pd.DataFrame(columns=PREDICTION_COLUMNS)
    if shadow_model is None:
        return empty
    if int(shadow_model["version"]) == int(model_reference["version"]):
        return empty
    reference = {
        **{key: value for key, value in shadow_model.items() if key != "model"},
        "run_id": model_reference.get("run_id"),
        "predicted_at": model_reference["predicted_at"],
    }
    try:
        shadow = forecast(shadow_model["model"], inference_input, reference)
    except Exception as error:  # noqa: BLE001 - the served forecast must not depend on it
        logger.warning(
            "Shadow forecast by %s version %s skipped: %s",
            shadow_model["model_name"],
            shadow_model["version"],
            error,
        )
        return empty
    return shadow


def prediction_log_entry(
    predictions: pd.DataFrame, shadow_predictions: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """One partition of the prediction log (read by monitoring), named after run and version.

    The served rows are marked ``role=served``; the Staging version's shadow forecasts of the
    same rows, if any, follow them marked ``role=shadow`` (never in the submission or the
    detailed predictions file).

    Returns:
        ``{"<UTC time>_v<version>_<run id>": rows}``.
    """
    first = predictions.iloc[0]
    rows = predictions.assign(role=SERVED)
    if shadow_predictions is not None and len(shadow_predictions):
        rows = pd.concat([rows, shadow_predictions.assign(role=SHADOW)], ignore_index=True)
    return {_partition_name(first["predicted_at"], first["model_version"], first["run_id"]): rows}


def _partition_name(predicted_at: str, version: int, run_id: str) -> str:
    """``<UTC time>_v<version>_<run id's first 8>``: one batch's files in the logs."""
    stamp = pd.Timestamp(predicted_at).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}_v{int(version)}_{str(run_id)[:8] or 'norun'}"
