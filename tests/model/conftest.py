"""A tiny registered-model package, built once per session, for fast tests of the pyfunc.

``tiny_model`` is a real ``RossmannEnsemble`` saved exactly as the training pipeline logs it
(models from code, the ``rossmann_forecast.model`` code slice, the signature) and loaded back
with ``mlflow.pyfunc.load_model``, so MLflow's own schema enforcement runs as for any caller.
It is fit in a couple of seconds: 6 synthetic stores, one block of rows, one 20-round LightGBM.
Store ``NO_HISTORY_STORE`` is listed in its store.csv but has no sales rows at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.io.models.packaging import (
    MODEL_ENTRYPOINT,
    model_code_tree,
    model_pip_requirements,
)
from rossmann_forecast.model.boosters import booster
from rossmann_forecast.model.ensemble import RossmannEnsemble, predict_member, training_target
from rossmann_forecast.model.features import (
    FeatureConfig,
    feature_names,
    features_for_request,
    fit_state,
    level_feature,
)
from rossmann_forecast.model.intervals import fit_calibration
from tests.synthetic_support import typed_synthetic

HORIZON_DAYS = 42
QUANTILE_LEVELS = [0.1, 0.5, 0.9]
NO_HISTORY_STORE = 6
LIGHTGBM = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5, "seed": 1}


@dataclass
class TinyModel:
    """The loaded pyfunc, its Python model, and the rows it can forecast."""

    pyfunc: mlflow.pyfunc.PyFuncModel
    path: Path
    origin: pd.Timestamp
    stores: list[int]  # stores with sales history

    @property
    def python_model(self) -> RossmannEnsemble:
        return self.pyfunc.unwrap_python_model()

    def rows(self, stores: list[int] | None = None, days: int = 3) -> pd.DataFrame:
        """Valid rows in the test.csv format: ``days`` days from the origin for ``stores``."""
        dates = pd.date_range(self.origin, periods=days)
        grid = [(s, d) for d in dates for s in (stores or self.stores)]
        rows = pd.DataFrame(grid, columns=["Store", "Date"])
        rows.insert(0, "Id", range(1, len(rows) + 1))
        rows.insert(2, "DayOfWeek", rows["Date"].dt.day_of_week + 1)
        rows["Date"] = rows["Date"].dt.strftime("%Y-%m-%d")
        rows["Open"] = 1.0
        rows["Promo"] = 0
        rows["StateHoliday"] = "0"
        rows["SchoolHoliday"] = 0
        return rows


def _typed_synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    sales, stores = typed_synthetic(n_stores=NO_HISTORY_STORE, seed=3)
    # A store of store.csv that never sold anything: opened after the data ends, say.
    sales = sales.loc[sales["Store"] != NO_HISTORY_STORE].reset_index(drop=True)
    return sales, stores


def build_tiny_model(directory: Path, relative_target: bool = False) -> TinyModel:
    """Fit, save (as the training pipeline logs it) and load a tiny ensemble.

    ``relative_target``: its booster fits log1p(Sales) minus the store's level, as a member
    with ``relative_to_level: true`` does (the default fixture stays a model of before that
    setting, whose members fitted log1p(Sales) itself).
    """
    sales, stores = _typed_synthetic()
    config = FeatureConfig()
    origin = sales["Date"].max() + pd.Timedelta(days=1)
    block_start = origin - pd.Timedelta(days=config.block_days)
    block = sales.loc[sales["Date"] >= block_start].reset_index(drop=True)
    features = features_for_request(block, fit_state(sales, stores, block_start, config))
    selling = ((block["Open"] == 1) & (block["Sales"] > 0)).to_numpy()
    names = feature_names(config)
    matrix = features.loc[selling, names].to_numpy(dtype="float32")
    level = matrix[:, names.index(level_feature(config))] if relative_target else None
    fitted = booster("lightgbm").fit(
        LIGHTGBM,
        20,
        matrix,
        training_target(block.loc[selling, "Sales"].to_numpy(dtype="float64"), level),
    )
    # Quantiles calibrated on the block's own residuals: in-sample, which a fixture may be
    # (the training pipeline calibrates on out-of-fold rows).
    fitted_block = np.expm1(predict_member("lightgbm", fitted, matrix, level))
    residuals = pd.DataFrame(
        {
            "Store": block.loc[selling, "Store"].to_numpy(),
            "Sales": block.loc[selling, "Sales"].to_numpy(dtype="float64"),
            "forecast": fitted_block,
            "days_ahead": (block.loc[selling, "Date"] - block_start).dt.days.to_numpy(),
        }
    )
    groups = dict(zip(stores["Store"].astype(int), stores["StoreType"].astype(str), strict=True))
    model = RossmannEnsemble(
        state=fit_state(sales, stores, origin, config),
        members={"lightgbm": ("lightgbm", fitted)},
        weights={"lightgbm": 1.0},
        feature_names=names,
        horizon_days=HORIZON_DAYS,
        intervals=fit_calibration(residuals, groups, QUANTILE_LEVELS, min_rows=50),
        relative_members=["lightgbm"] if relative_target else None,
    )
    path = directory / "model"
    mlflow.pyfunc.save_model(
        path=str(path),
        python_model=str(MODEL_ENTRYPOINT),
        artifacts=model.save_artifacts(directory / "artifacts"),
        code_paths=[str(model_code_tree(directory / "code"))],
        signature=model.signature(),
        input_example=model.input_example(),
        pip_requirements=model_pip_requirements(),
    )
    return TinyModel(
        pyfunc=mlflow.pyfunc.load_model(str(path)),
        path=path,
        origin=origin,
        stores=sorted(int(s) for s in sales["Store"].unique()),
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A tiny ensemble saved as a real MLflow model and loaded back through the pyfunc."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_relative_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The same, its booster fitted on log1p(Sales) relative to the store's level."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_relative_model"), relative_target=True)
