"""``LiveMetricsTagsDataset``: monitoring's judgement of each version, as its version tags."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from rossmann_forecast.registry.facade import ModelRegistry


class LiveMetricsTagsDataset(AbstractDataset[list[dict[str, Any]], None]):
    """Saves monitoring's judgement of each version as its ``monitoring.*`` version tags.

    Each entry is ``{"version", "rmspe", "drift", "threshold", "window"}`` and, optionally,
    the window's band figures ``{"interval", "coverage", "interval_width", "quantile_loss"}``
    (None for a version without quantiles); the run of this ``kedro run`` is recorded with it. These tags are not lifecycle state (no alias moves), so
    the facade writes them without its lock: the newest monitoring run wins.

    Args:
        registry: ``model_name`` (and the lock settings): the registry, as ``params:registry``.
    """

    def __init__(self, registry: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self._registry = dict(registry)
        self.metadata = metadata

    def save(self, data: list[dict[str, Any]]) -> None:
        run = mlflow.active_run()
        models = ModelRegistry.from_params(self._registry)
        for entry in data:
            models.record_live_metrics(
                int(entry["version"]),
                rmspe=entry["rmspe"],
                drift=entry["drift"],
                threshold=entry["threshold"],
                window=entry["window"],
                run_id=run.info.run_id if run else None,
                interval=entry.get("interval"),
                coverage=entry.get("coverage"),
                interval_width=entry.get("interval_width"),
                quantile_loss=entry.get("quantile_loss"),
            )

    def load(self) -> None:
        raise DatasetError("Live metrics are read from the registry (`kedro model describe N`)")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._registry.get("model_name")}
