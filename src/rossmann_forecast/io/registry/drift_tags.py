"""``DriftTagsDataset``: a batch's drift verdict, as the serving version's tags."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException

from rossmann_forecast.registry.facade import ModelRegistry

logger = logging.getLogger(__name__)
# A team server refuses tag writes of users who may only read: they still predict.
REFUSED = {"PERMISSION_DENIED", "UNAUTHENTICATED"}


class DriftTagsDataset(AbstractDataset[dict[str, Any], None]):
    """Saves the drift verdict of the latest batch as the version's ``monitoring.input_drift*``
    tags (``ModelRegistry.record_input_drift``), with the run that judged it, so that
    ``kedro model status`` shows it and the team server's webhooks announce it. A user the
    server lets read but not write (READ on a team server) still predicts: the verdict stays
    in ``data/08_reporting`` and on the run, and a warning says why the version lacks it.

    Args:
        registry: ``model_name`` (and the lock settings): the registry, as ``params:registry``.
    """

    def __init__(self, registry: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self._registry = dict(registry)
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        run = mlflow.active_run()
        try:
            ModelRegistry.from_params(self._registry).record_input_drift(
                int(data["version"]),
                status=data["status"],
                drifted=list(data["drifted"]),
                batch=data.get("batch") or {},
                reason=data.get("reason", ""),
                run_id=run.info.run_id if run else None,
            )
        except MlflowException as error:
            if error.error_code not in REFUSED:
                raise
            logger.warning(
                "The drift verdict (%s) is in data/08_reporting and on this run, not on %s "
                "version %s: the tracking server refused the tag (%s; tagging a version needs "
                "EDIT on the registered model)",
                data["status"],
                self._registry.get("model_name"),
                data["version"],
                error.error_code,
            )

    def load(self) -> None:
        raise DatasetError("Drift verdicts are read from the registry (`kedro model status`)")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._registry.get("model_name")}
