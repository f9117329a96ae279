"""``MlflowRunRecordDataset``: a node's small record as tags and a JSON artifact of the run."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)

_TAG_LIMIT = 5000  # MLflow run tags hold at most 8000 characters


class MlflowRunRecordDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Saves a flat record as ``<prefix>.<key>`` tags and ``<artifact_file>`` on the active run.

    Args:
        prefix: Tag prefix, e.g. ``inference`` gives ``inference.model_version``.
        artifact_file: Artifact path of the JSON copy, e.g. ``inference/record.json``.
        metadata: Kedro-Viz and other tools' metadata (unused here).
    """

    def __init__(
        self, prefix: str, artifact_file: str, metadata: dict[str, Any] | None = None
    ) -> None:
        self._prefix = prefix
        self._artifact_file = artifact_file
        self._record: dict[str, Any] | None = None
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        if self._record is None:
            raise DatasetError("Nothing saved yet: the record lives only during its run")
        return dict(self._record)

    def save(self, data: dict[str, Any]) -> None:
        self._record = dict(data)
        if mlflow.active_run() is None:
            logger.warning("No active MLflow run: the %s record is not logged", self._prefix)
            return
        tags = {
            f"{self._prefix}.{key}": str(value)[:_TAG_LIMIT]
            for key, value in data.items()
            if value is not None and not isinstance(value, dict | list)
        }
        mlflow.set_tags(tags)
        mlflow.log_dict(data, self._artifact_file)

    def _exists(self) -> bool:
        return self._record is not None

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix, "artifact_file": self._artifact_file}
