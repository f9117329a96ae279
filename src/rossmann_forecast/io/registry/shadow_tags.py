"""``ShadowTagsDataset``: how a version did live in another's shadow, as its version tags."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from rossmann_forecast.registry.facade import ModelRegistry


class ShadowTagsDataset(AbstractDataset[list[dict[str, Any]], None]):
    """Saves monitoring's shadow comparisons as each challenger's ``monitoring.shadow.*`` tags
    (``ModelRegistry.record_shadow_comparison``), which ``kedro model promote`` and the
    review read.

    Each entry is ``{"challenger", "champion", "challenger_rmspe", "champion_rmspe",
    "store_days", "since", "until"}``.

    Args:
        registry: ``model_name`` (and the lock settings): the registry, as ``params:registry``.
    """

    def __init__(self, registry: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self._registry = dict(registry)
        self.metadata = metadata

    def save(self, data: list[dict[str, Any]]) -> None:
        if not data:
            return
        run = mlflow.active_run()
        models = ModelRegistry.from_params(self._registry)
        for entry in data:
            models.record_shadow_comparison(
                int(entry["challenger"]),
                champion=int(entry["champion"]),
                rmspe=entry["challenger_rmspe"],
                champion_rmspe=entry["champion_rmspe"],
                store_days=entry["store_days"],
                since=entry["since"],
                until=entry["until"],
                run_id=run.info.run_id if run else None,
            )

    def load(self) -> None:
        raise DatasetError(
            "Shadow comparisons are read from the registry (`kedro model describe N`)"
        )

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._registry.get("model_name")}
