"""``RegisteredModelDataset``: the registered version inference predicts with, its model loaded."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
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

    Args:
        drift_reference: Where the version's training run logged its drift reference
            (``drift/drift_reference.json``); read with the version so that the drift check
            judges the batch against the version that forecast it. None: not read.
        **kwargs: ``RegisteredVersionDataset``'s.

    Returns:
        ``{"model": <pyfunc>, "model_name", "version", "stage", "requested", "model_uri",
        "training_run_id", "run_id", "predicted_at", "load_seconds", "drift_reference"}``;
        ``run_id`` is the MLflow run that loads it (kedro-mlflow's run of this ``kedro run``),
        if any; ``drift_reference`` is None when not asked for or when the version has none
        (registered before drift checks existed). None when ``optional`` and nothing is in
        the stage.
    """

    def __init__(self, *, drift_reference: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._drift_reference = drift_reference

    def load(self) -> dict[str, Any] | None:  # type: ignore[override]
        started = time.perf_counter()
        found = self._resolve()
        if found is None:  # optional, and nothing in the stage
            logger.info("No version of %s is in %s", self.model_name, self.requested_stage)
            return None
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
            "drift_reference": self._read_drift_reference(found.version, found.training_run_id),
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

    def _read_drift_reference(self, version: int, run_id: str | None) -> dict[str, Any] | None:
        if not self._drift_reference or not run_id:
            return None
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=self._drift_reference
            )
        except (mlflow.exceptions.MlflowException, OSError):
            logger.info(
                "%s version %d has no drift reference (%s on run %s): registered before drift "
                "checks existed; its batches are not judged",
                self.model_name,
                version,
                self._drift_reference,
                run_id,
            )
            return None
        return json.loads(Path(path).read_text())

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "drift_reference": self._drift_reference}
