"""The boosters the ensemble can hold: one adapter per library, in one table.

Everything that differs between libraries (how to fit, predict, save and load, the file
suffix, the pip requirement the logged model pins, the label in logs) is here and nowhere
else. Adding a booster: an entry in ``BOOSTERS``, its parameters under
``training.members.<name>`` (and a search space under ``tuning.search_space.<name>``), and a
test. The pipelines build one member per entry, in this order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from catboost import CatBoostRegressor


@dataclass(frozen=True)
class Booster:
    """How the ensemble fits, predicts with, saves and loads one library's boosters."""

    library: str
    label: str
    requirement: str  # the pip distribution the logged model pins
    suffix: str  # the file the booster is saved to, in the library's own format
    row_share: str  # the parameter: the share of the fit's rows each tree samples
    seed_param: str  # the parameter that seeds its row and feature sampling
    fit: Callable[[dict[str, Any], int, np.ndarray, np.ndarray], Any]
    predict: Callable[[Any, np.ndarray], np.ndarray]
    load: Callable[[Path], Any]

    def seeded(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """A copy of ``params`` with this library's own seed parameter set to ``seed``."""
        return {**params, self.seed_param: seed}

    def save(self, model: Any, path: Path) -> None:
        """All three libraries write their own format with ``save_model(path)``."""
        model.save_model(str(path))


def _fit_lightgbm(params: dict[str, Any], rounds: int, x: np.ndarray, y: np.ndarray) -> Any:
    data = lgb.Dataset(x, y, free_raw_data=True)
    return lgb.train({**params, "verbosity": -1}, data, num_boost_round=rounds)


def _fit_xgboost(params: dict[str, Any], rounds: int, x: np.ndarray, y: np.ndarray) -> Any:
    threads = params.get("nthread", 2)
    if params.get("tree_method", "hist") in ("hist", "auto"):
        # Quantised once, as the `hist` tree method bins it: the same trees as from a DMatrix
        # (tests/model/test_boosters.py), without the float copy of every row the DMatrix
        # keeps (150 MB less at 400,000 rows: the run's peak is set during XGBoost's fits).
        data = xgb.QuantileDMatrix(x, y, nthread=threads, max_bin=params.get("max_bin", 256))
    else:
        data = xgb.DMatrix(x, y, nthread=threads)
    return xgb.train(params, data, num_boost_round=rounds)


def _fit_catboost(params: dict[str, Any], rounds: int, x: np.ndarray, y: np.ndarray) -> Any:
    model = CatBoostRegressor(iterations=rounds, allow_writing_files=False, verbose=False, **params)
    return model.fit(x, y)


def _load_xgboost(path: Path) -> Any:
    booster = xgb.Booster()
    booster.load_model(str(path))
    return booster


def _load_catboost(path: Path) -> Any:
    model = CatBoostRegressor()
    model.load_model(str(path))
    return model


BOOSTERS: dict[str, Booster] = {
    "lightgbm": Booster(
        library="lightgbm",
        label="LightGBM",
        requirement="lightgbm",
        suffix="model.txt",
        row_share="bagging_fraction",
        seed_param="seed",
        fit=_fit_lightgbm,
        predict=lambda model, x: model.predict(x),
        load=lambda path: lgb.Booster(model_file=str(path)),
    ),
    "xgboost": Booster(
        library="xgboost",
        label="XGBoost",
        requirement="xgboost-cpu",  # same module, without 469 MB of CUDA libraries
        suffix="model.ubj",
        row_share="subsample",
        seed_param="seed",
        fit=_fit_xgboost,
        predict=lambda model, x: model.inplace_predict(x),
        load=_load_xgboost,
    ),
    "catboost": Booster(
        library="catboost",
        label="CatBoost",
        requirement="catboost",
        suffix="model.cbm",
        row_share="subsample",
        seed_param="random_seed",
        fit=_fit_catboost,
        predict=lambda model, x: model.predict(x),
        load=_load_catboost,
    ),
}

# The ensemble's members, one per booster, in this order everywhere (pipelines, lineage, logs).
MEMBERS: tuple[str, ...] = tuple(BOOSTERS)


def booster(library: str) -> Booster:
    """The adapter of ``library``; an unknown library is an error, never a fallback."""
    try:
        return BOOSTERS[library]
    except KeyError:
        raise ValueError(
            f"Unknown booster library {library!r}: use one of {', '.join(BOOSTERS)} "
            "(src/rossmann_forecast/model/boosters.py)"
        ) from None
