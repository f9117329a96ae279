"""Bare library fits, the training ratio's reference: the same fits the training pipeline makes.

Run by ``benchmark.py`` from a project copy after ``kedro run`` (it reads the run's
``model_input_table``, ``forecast_origins`` and ``feature_settings`` and the project's
parameters). For every booster it makes the fits the training pipeline makes, on the same rows
(the same ``training.fit_rows`` sample; the CV folds' with its ``cv_max_rows``), the same
matrices and the same parameters: one per CV fold, the backtest and the served model. Only
the library calls are timed (building the library's dataset and boosting), nothing of the
project's code around them, and the script prints one JSON line: every fit's seconds and
their sum.

Usage: ``python scripts/_bare_training.py`` (from the project copy's root).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.config import OmegaConfigLoader

from rossmann_forecast.model.boosters import booster
from rossmann_forecast.model.ensemble import MemberSpec
from rossmann_forecast.model.features import FeatureConfig, feature_names, level_feature
from rossmann_forecast.pipelines.training.nodes import (
    cv_fit_rows,
    fit_arrays,
    fold_origins,
    member_positions,
)


def fit(library: str, params: dict[str, Any], rounds: int, x: np.ndarray, y: np.ndarray) -> None:
    """The library's own fit: the booster table's adapter, which is the library's call as its
    documentation spells it (build its dataset, boost) and nothing of the project around it."""
    booster(library).fit(params, rounds, x, y)


def main() -> None:
    parameters = OmegaConfigLoader("conf", base_env="base", default_run_env="local")["parameters"]
    training = parameters["training"]
    table = pd.read_parquet("data/05_model_input/model_input_table.parquet")
    origins = json.loads(Path("data/05_model_input/forecast_origins.json").read_text())
    settings = json.loads(Path("data/05_model_input/feature_settings.json").read_text())
    config = FeatureConfig.from_params(settings)
    names, level = feature_names(config), level_feature(config)  # level: relative members
    holdout = pd.Timestamp(origins["holdout_origin"])

    dates = table["Date"]
    fit_rows = training.get("fit_rows")
    subsets = [
        (f"cv fold {k}", (dates < origin).to_numpy(), origin, cv_fit_rows(fit_rows))
        for k, origin in enumerate(fold_origins(origins, training["cv"]), start=1)
        if (table["block_origin"] == origin).any()
    ]
    subsets += [
        ("backtest", (dates < holdout).to_numpy(), holdout, fit_rows),
        ("served", np.ones(len(table), bool), None, fit_rows),
    ]
    fits = []
    for member, spec in training["members"].items():
        for role, where, origin, cap in subsets:
            # The pipeline's own draw (the CV folds' with training.fit_rows.cv_max_rows),
            # matrix (row-major float32) and target: the same input, so that only what
            # happens around the library calls differs.
            positions, drawn = member_positions(where, cap, MemberSpec.from_params(spec))
            known_at = None if origin is None else (origin, config.counter_cap_days)
            relative = level if drawn.relative_to_level else None
            x, y = fit_arrays(table, positions, names, relative, known_at)
            started = time.perf_counter()
            fit(spec["library"], drawn.params, int(spec["num_rounds"]), x, y)
            fits.append({"member": member, "fit": role, "rows": len(y),
                         "seconds": round(time.perf_counter() - started, 2)})  # fmt: skip
    print(json.dumps({"fits": fits, "fit_s": round(sum(f["seconds"] for f in fits), 2)}))


if __name__ == "__main__":
    main()
