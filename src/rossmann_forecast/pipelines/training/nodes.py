"""Nodes of the training pipeline: rolling-origin CV, ensemble weights, final fits."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.ensemble import (
    MEMBER_LABELS,
    MemberSpec,
    RossmannEnsemble,
    fit_member,
    predict_member,
)
from rossmann_forecast.features import FeatureConfig, FeatureState, feature_names, fit_state
from rossmann_forecast.metrics import rmspe
from rossmann_forecast.registry import ModelRegistry

logger = logging.getLogger(__name__)


def _matrix(table: pd.DataFrame, names: list[str]) -> np.ndarray:
    return table[names].to_numpy(dtype="float32")


def fold_origins(table: pd.DataFrame, cv: dict[str, Any]) -> list[pd.Timestamp]:
    """Rolling origins, newest last: fold k validates on the ``fold_days`` before origin k+1."""
    end = table["Date"].max() + pd.Timedelta(days=1)
    days = int(cv["fold_days"])
    return [end - pd.Timedelta(days=days * k) for k in range(int(cv["n_folds"]), 0, -1)]


def cross_validate_member(
    model_input_table: pd.DataFrame,
    cv: dict[str, Any],
    member: dict[str, Any],
    features: dict[str, Any],
) -> pd.DataFrame:
    """Out-of-fold log predictions of one booster over rolling 6-week origins.

    Each fold trains on rows strictly before its origin and predicts the following
    ``fold_days``; the rows of the fold carry statistics frozen at that origin, so the fold
    sees what a forecast made on that day would see. The holdout is not in this table.

    Args:
        model_input_table: Training table (features, ``Sales``, ``Date``, ``Store``).
        cv: ``params:training.cv`` (``n_folds``, ``fold_days``).
        member: ``params:training.members.<name>``.
        features: ``params:data_processing.features``.

    Returns:
        ``Store``, ``Date``, ``fold``, ``Sales`` and this member's ``log_prediction``.
    """
    spec = MemberSpec.from_params(member)
    label = MEMBER_LABELS[spec.library]
    names = feature_names(FeatureConfig.from_params(features))
    parts = []
    origins = fold_origins(model_input_table, cv)
    for fold, origin in enumerate(origins, start=1):
        end = origin + pd.Timedelta(days=int(cv["fold_days"]))
        fit_rows = model_input_table.loc[model_input_table["Date"] < origin]
        valid_rows = model_input_table.loc[
            (model_input_table["Date"] >= origin) & (model_input_table["Date"] < end)
        ]
        started = time.perf_counter()
        model = fit_member(spec, _matrix(fit_rows, names), np.log1p(fit_rows["Sales"].to_numpy()))
        prediction = predict_member(spec.library, model, _matrix(valid_rows, names))
        score = rmspe(valid_rows["Sales"].to_numpy(), np.expm1(prediction))
        logger.info(
            "CV %s fold %d/%d (origin %s): RMSPE %.4f, %d rows, %.1f s",
            label,
            fold,
            len(origins),
            origin.date(),
            score,
            len(valid_rows),
            time.perf_counter() - started,
        )
        parts.append(
            valid_rows[["Store", "Date", "Sales"]].assign(fold=fold, log_prediction=prediction)
        )
    return pd.concat(parts, ignore_index=True)


def fit_final_member(
    model_input_table: pd.DataFrame, member: dict[str, Any], features: dict[str, Any]
) -> tuple[str, Any]:
    """Refit one booster on the whole training window.

    Returns:
        ``(library, fitted model)``.
    """
    spec = MemberSpec.from_params(member)
    names = feature_names(FeatureConfig.from_params(features))
    started = time.perf_counter()
    model = fit_member(
        spec, _matrix(model_input_table, names), np.log1p(model_input_table["Sales"].to_numpy())
    )
    logger.info(
        "Training %s... ✓ (%d rows, %d rounds, %.1f s)",
        MEMBER_LABELS[spec.library],
        len(model_input_table),
        spec.num_rounds,
        time.perf_counter() - started,
    )
    return spec.library, model


def _scaled(actual: np.ndarray, prediction: np.ndarray) -> tuple[float, np.ndarray]:
    """The RMSPE-optimal scale ``c = sum(p/y) / sum((p/y)^2)`` and the scaled prediction."""
    ratio = prediction / actual
    scale = float(ratio.sum() / (ratio**2).sum())
    return scale, prediction * scale


def simplex_grid(members: int, step: float) -> np.ndarray:
    """Every weight vector of ``members`` non-negative weights summing to one, on a grid."""
    steps = round(1.0 / step)
    points = [
        (*head, steps - sum(head))
        for head in itertools.product(range(steps + 1), repeat=members - 1)
        if sum(head) <= steps
    ]
    return np.array(points, dtype="float64") / steps


def fit_ensemble_weights(
    lightgbm_oof: pd.DataFrame,
    xgboost_oof: pd.DataFrame,
    catboost_oof: pd.DataFrame,
    ensemble: dict[str, Any],
) -> dict[str, Any]:
    """Blend weights and scale fitted on out-of-fold predictions only.

    Method: every non-negative weight vector summing to one on a grid of ``weight_step`` is
    tried; each blend ``expm1(sum_i w_i * log_prediction_i)`` gets its RMSPE-optimal scale
    ``c = sum(p/y) / sum((p/y)^2)`` (a log-target model is biased high for a percentage
    error), and the weights and scale with the lowest out-of-fold RMSPE win. An exhaustive
    grid, because the loss is nearly flat near equal weights and a gradient method stops there.

    Args:
        lightgbm_oof: Out-of-fold predictions of LightGBM (and the other two below).
        xgboost_oof: Same rows, XGBoost.
        catboost_oof: Same rows, CatBoost.
        ensemble: ``params:training.ensemble`` (``weight_step``).

    Returns:
        ``weights`` per member, ``scale``, and per-member and ensemble CV RMSPE (overall and
        per fold).
    """
    oof = {"lightgbm": lightgbm_oof, "xgboost": xgboost_oof, "catboost": catboost_oof}
    names = list(oof)
    base = lightgbm_oof[["Store", "Date", "fold", "Sales"]]
    for name, frame in oof.items():
        if not frame[["Store", "Date"]].equals(base[["Store", "Date"]]):
            raise ValueError(f"Out-of-fold rows of {name} do not line up with lightgbm's")
    actual = base["Sales"].to_numpy(dtype="float64")
    logs = np.column_stack([oof[n]["log_prediction"].to_numpy() for n in names])

    candidates = simplex_grid(len(names), float(ensemble["weight_step"]))
    losses = [rmspe(actual, _scaled(actual, np.expm1(logs @ w))[1]) for w in candidates]
    weights = candidates[int(np.argmin(losses))]
    scale, blend = _scaled(actual, np.expm1(logs @ weights))

    metrics: dict[str, float] = {}
    for i, name in enumerate(names):
        metrics[f"rmspe_{name}"] = rmspe(actual, np.expm1(logs[:, i]))
    metrics["rmspe_ensemble"] = rmspe(actual, blend)
    for fold, rows in base.groupby("fold").groups.items():
        position = base.index.get_indexer(rows)
        metrics[f"rmspe_ensemble_fold{fold}"] = rmspe(actual[position], blend[position])
    logger.info(
        "Creating ensemble... ✓ weights %s, scale %.4f, CV RMSPE %.4f (members: %s)",
        {n: round(float(w), 3) for n, w in zip(names, weights, strict=True)},
        scale,
        metrics["rmspe_ensemble"],
        ", ".join(f"{n} {metrics[f'rmspe_{n}']:.4f}" for n in names),
    )
    return {
        "weights": {n: round(float(w), 6) for n, w in zip(names, weights, strict=True)},
        "scale": scale,
        "metrics": metrics,
    }


def fit_model_state(
    sales_train_window: pd.DataFrame, stores_validated: pd.DataFrame, features: dict[str, Any]
) -> FeatureState:
    """Freeze store statistics at the end of the training window (the holdout's origin)."""
    origin = sales_train_window["Date"].max() + pd.Timedelta(days=1)
    return fit_state(
        sales_train_window, stores_validated, origin, FeatureConfig.from_params(features)
    )


def cv_metrics_for_mlflow(blend: dict[str, Any]) -> dict[str, dict[str, float | int]]:
    """CV metrics in the shape kedro-mlflow's metrics dataset logs (prefixed ``cv.``)."""
    return {name: {"value": float(v), "step": 0} for name, v in blend["metrics"].items()}


def assemble_ensemble(
    state: FeatureState,
    lightgbm_model: tuple[str, Any],
    xgboost_model: tuple[str, Any],
    catboost_model: tuple[str, Any],
    blend: dict[str, Any],
    lineage: dict[str, Any],
    features: dict[str, Any],
) -> RossmannEnsemble:
    """One pyfunc model: feature state, the three boosters, weights, scale and lineage."""
    return RossmannEnsemble(
        state=state,
        members={"lightgbm": lightgbm_model, "xgboost": xgboost_model, "catboost": catboost_model},
        weights=blend["weights"],
        scale=blend["scale"],
        feature_names=feature_names(FeatureConfig.from_params(features)),
        lineage=lineage,
    )


def collect_lineage(
    raw_data_lineage: dict[str, Any],
    model_input_table: pd.DataFrame,
    sales_train_window: pd.DataFrame,
    blend: dict[str, Any],
    training: dict[str, Any],
    features: dict[str, Any],
) -> dict[str, Any]:
    """Everything a reviewer needs to trace the model to its data and settings.

    The run id and git commit are added when the version is registered
    (``datasets.RegisteredEnsembleDataset``).
    """
    data_source = {"source": raw_data_lineage.get("source")}
    data_source.update(raw_data_lineage.get("synthetic") or {})
    origin = sales_train_window["Date"].max() + pd.Timedelta(days=1)
    return {
        "data_source": data_source,
        "raw_files": raw_data_lineage.get("files", {}),
        "training_window": {
            "start": str(sales_train_window["Date"].min().date()),
            "end": str(sales_train_window["Date"].max().date()),
            "origin": str(origin.date()),
            "rows": int(len(model_input_table)),
            "raw_rows": int(len(sales_train_window)),
            "stores": int(sales_train_window["Store"].nunique()),
        },
        "features": feature_names(FeatureConfig.from_params(features)),
        "feature_settings": dict(features),
        "hyperparameters": training["members"],
        "cv_folds": int(training["cv"]["n_folds"]),
        "cv_metrics": blend["metrics"],
        "ensemble_weights": blend["weights"],
        "ensemble_scale": blend["scale"],
    }


def confirm_registration(ensemble_model: Any, registry: dict[str, Any]) -> dict[str, Any]:
    """Load the registered ensemble back and name the version it became.

    Loading it back (through the catalog, from MLflow) proves the stored artifact loads; the
    version number lets the validation gate of the same run judge exactly this version.

    Args:
        ensemble_model: The pyfunc as loaded back from MLflow.
        registry: ``params:registry`` (``model_name``).

    Returns:
        ``model_name``, ``version``, ``run_id`` and ``model_uri`` of the new version.
    """
    run_id = ensemble_model.metadata.run_id
    version = ModelRegistry(registry["model_name"]).version_for_run(run_id)
    return {
        "model_name": registry["model_name"],
        "version": version,
        "run_id": run_id,
        "model_uri": f"models:/{registry['model_name']}/{version}",
    }
