"""``DriftTagsDataset``: a batch's drift verdict, as the serving version's tags."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from rossmann_forecast.registry.facade import ModelRegistry


class DriftTagsDataset(AbstractDataset[dict[str, Any], None]):
    """Saves the drift verdict of the latest batch as the version's ``monitoring.input_drift*``
    tags (``ModelRegistry.record_input_drift``), with the run that judged it, so that
    ``kedro model status`` shows it and the team server's webhooks announce it.

    Args:
        registry: ``model_name`` (and the lock settings): the registry, as ``params:registry``.
    """

    def __init__(self, registry: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self._registry = dict(registry)
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        run = mlflow.active_run()
        ModelRegistry.from_params(self._registry).record_input_drift(
            int(data["version"]),
            status=data["status"],
            drifted=list(data["drifted"]),
            batch=data.get("batch") or {},
            reason=data.get("reason", ""),
            run_id=run.info.run_id if run else None,
        )

    def load(self) -> None:
        raise DatasetError("Drift verdicts are read from the registry (`kedro model status`)")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._registry.get("model_name")}
