"""``RegisteredModelDataset``: the registered version inference predicts with, its model loaded."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import mlflow
from kedro_mlflow.io.models import MlflowModelRegistryDataset

from rossmann_forecast.io.models.registered_version import RegisteredVersionDataset
from rossmann_forecast.registry.errors import RegistryError
from rossmann_forecast.registry.facade import ModelRegistry

logger = logging.getLogger(__name__)


class RegisteredModelDataset(RegisteredVersionDataset):
    """``RegisteredVersionDataset`` with the served model loaded: what inference predicts with.

    The model is loaded by kedro-mlflow's ``MlflowModelRegistryDataset`` pinned to the version
    the stage resolved to, so a move of the alias while it loads changes nothing.

    Returns:
        ``{"model": <pyfunc>, "model_name", "version", "stage", "requested", "model_uri",
        "training_run_id", "run_id", "predicted_at", "load_seconds"}``; ``run_id`` is the
        MLflow run that loads it (kedro-mlflow's run of this ``kedro run``), if any.
    """

    def load(self) -> dict[str, Any]:  # type: ignore[override]
        started = time.perf_counter()
        found = self._resolve()
        assert found is not None  # not optional: _resolve raised
        problem = ModelRegistry.from_params(self._registry).model_files_problem(found.version)
        if problem:
            raise RegistryError(
                f"Cannot predict with {self.model_name} version {found.version} ({found.stage}; "
                f"requested: {self.requested}): {problem}. `kedro model check` lists broken "
                "versions; promote or roll back to one that loads."
            )
        pinned = MlflowModelRegistryDataset(
            model_name=self.model_name, stage_or_version=found.version, load_args=self._load_args
        )
        model = pinned.load()
        run = mlflow.active_run()
        reference = {
            "model": model,
            "model_name": self.model_name,
            "version": found.version,
            "stage": found.stage,
            "requested": self.requested,
            "model_uri": found.model_uri,
            "training_run_id": found.training_run_id,
            "run_id": run.info.run_id if run else None,
            "predicted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_seconds": time.perf_counter() - started,
        }
        logger.info(
            "Predicting with %s version %d (%s; requested: %s), loaded in %.2f s",
            self.model_name,
            found.version,
            found.stage,
            self.requested,
            reference["load_seconds"],
        )
        return reference
