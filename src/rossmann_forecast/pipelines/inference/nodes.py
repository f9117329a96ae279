"""Nodes of batch inference.

The version is resolved through the registry (the alias of a stage, or an explicit version) and
then loaded by its version URI, so that the version recorded is the one that predicted even if
an alias moves during the run. Rows are checked by the model's own input contract
(``RossmannEnsemble.prepare_input``), which names missing or malformed columns and unknown
stores, before MLflow sees them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from rossmann_forecast.model.ensemble import InvalidInputError, to_model_input
from rossmann_forecast.registry import ModelRegistry, NothingInStage

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


def resolve_model(inference: dict[str, Any]) -> dict[str, Any]:
    """The version to predict with: ``inference.version`` if set, else the one in ``stage``.

    Args:
        inference: ``params:inference`` (``model_name``, ``stage``, ``version``).

    Returns:
        ``{"model_name", "version", "stage", "requested", "model_uri", "training_run_id",
        "run_id", "predicted_at"}``: ``stage`` is the version's stage now, ``run_id`` the
        MLflow run of this prediction.

    Raises:
        NothingInStage: No version holds the requested stage (the message says how to fix it).
        RegistryError: Unknown stage name or version.
    """
    registry = ModelRegistry(inference["model_name"])
    if inference.get("version") is not None:
        version, _ = registry.resolve(int(inference["version"]))
        requested = f"version {version}"
    else:
        stage = str(inference.get("stage") or "production")
        try:
            version, _ = registry.resolve(stage)
        except NothingInStage as exc:
            raise NothingInStage(
                f"{exc} Or predict with a given version: --params inference.version=N "
                "(`kedro model status` lists them)."
            ) from exc
        requested = stage.strip().capitalize()
    summary = registry.version_summary(version)
    run = mlflow.active_run()
    reference = {
        "model_name": inference["model_name"],
        "version": version,
        "stage": summary["stage"],
        "requested": requested,
        "model_uri": registry.model_uri(version),
        "training_run_id": summary["training_run_id"],
        "run_id": run.info.run_id if run else None,
        "predicted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    logger.info(
        "Predicting with %s version %d (%s; requested: %s)",
        reference["model_name"],
        version,
        reference["stage"],
        requested,
    )
    return reference


def predict_sales(model_reference: dict[str, Any], inference_input: pd.DataFrame) -> pd.DataFrame:
    """Load the resolved version from the registry and forecast every input row.

    Args:
        model_reference: Output of ``resolve_model``.
        inference_input: Rows in the Kaggle test format (``Id`` optional).

    Returns:
        One row per input row: ``PREDICTION_COLUMNS``.
    """
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_reference["model_uri"])
    loaded = time.perf_counter()
    predictions = forecast(model, inference_input, model_reference)
    logger.info(
        "Model load %.2f s, predict %.2f s (%d rows)",
        loaded - started,
        time.perf_counter() - loaded,
        len(predictions),
    )
    return predictions


def forecast(
    model: Any, inference_input: pd.DataFrame, model_reference: dict[str, Any]
) -> pd.DataFrame:
    """Check the rows with the model's input contract, predict, and label the predictions.

    Args:
        model: A loaded pyfunc of the registered model.
        inference_input: Rows in the Kaggle test format (``Id`` optional).
        model_reference: Output of ``resolve_model``.

    Returns:
        One row per input row: ``PREDICTION_COLUMNS``.

    Raises:
        InvalidInputError: No rows, a missing or malformed column, duplicate Ids, or stores
            the model does not know.
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
    sales = model.predict(model_input)["Sales"].to_numpy(dtype="float64")
    dates = pd.to_datetime(model_input["Date"])
    origin, beyond = _horizon_check(python_model, dates, model_reference)
    predictions = pd.DataFrame(
        {
            "Id": ids.to_numpy(),
            "Store": model_input["Store"].to_numpy(),
            "Date": model_input["Date"].to_numpy(),
            "Open": model_input["Open"].fillna(1).astype("int64").to_numpy(),
            "Sales": sales,
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
    return predictions[PREDICTION_COLUMNS]


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
    try:
        return model.unwrap_python_model()
    except (AttributeError, MlflowException):
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


def prediction_log_entry(predictions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One partition of the prediction log (read by monitoring), named after run and version.

    Returns:
        ``{"<UTC time>_v<version>_<run id>": predictions}``.
    """
    first = predictions.iloc[0]
    stamp = pd.Timestamp(first["predicted_at"]).strftime("%Y%m%dT%H%M%SZ")
    run = str(first["run_id"])[:8] or "norun"
    return {f"{stamp}_v{int(first['model_version'])}_{run}": predictions}


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
