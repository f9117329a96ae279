"""``ActiveRunDataset``: the id of this ``kedro run``'s MLflow run, for nodes that record it."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError


class ActiveRunDataset(AbstractDataset[None, dict[str, Any]]):
    """The MLflow run of this ``kedro run`` (kedro-mlflow's), for nodes that record its id.

    Loads ``{"run_id", "experiment_id"}`` (both None outside a run), so that a node can say
    which run produced a record without calling MLflow itself.
    """

    def load(self) -> dict[str, Any]:
        run = mlflow.active_run()
        return {
            "run_id": run.info.run_id if run else None,
            "experiment_id": run.info.experiment_id if run else None,
        }

    def save(self, data: None) -> None:
        raise DatasetError("The active MLflow run is read-only")

    def _describe(self) -> dict[str, Any]:
        return {}
