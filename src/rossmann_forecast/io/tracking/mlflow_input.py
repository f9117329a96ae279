"""``MlflowInputDataset``: a pandas dataset whose load is recorded as an input of the MLflow run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from mlflow.data.dataset_source_registry import resolve_dataset_source

from rossmann_forecast.io.tracking.table_record import TableRecord
from rossmann_forecast.model.ensemble import InvalidInputError


class MlflowInputDataset(AbstractDataset):
    """Wraps a pandas dataset and records its load as an MLflow dataset input of the run.

    The run page then lists exactly which training or holdout table it used: name, content hash,
    schema and row count (not the data). Recorded once per run however many nodes load it, and
    on save when the run that builds the table uses it from memory.
    """

    def __init__(
        self,
        dataset: dict[str, Any],
        name: str,
        context: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._dataset = AbstractDataset.from_config(name, dict(dataset))
        self._name = name
        self._context = context
        self._recorded_for_run: str | None = None
        self.metadata = metadata

    def load(self) -> Any:
        path = Path(str(getattr(self._dataset, "_filepath", ""))).resolve()
        try:
            data = self._dataset.load()
        except DatasetError as exc:
            # pandas says "No columns to parse from file" 300 lines down a traceback.
            if isinstance(exc.__cause__, pd.errors.EmptyDataError):
                size = path.stat().st_size if path.is_file() else 0
                raise InvalidInputError(
                    f"{path.name} is empty ({size} bytes): {path} has no header and no rows"
                ) from None
            raise
        self._record(data, path)
        return data

    def _record(self, data: Any, path: Path) -> None:
        """Log ``data`` as the active run's input, once per run."""
        run = mlflow.active_run()
        if run is not None and run.info.run_id != self._recorded_for_run:
            with warnings.catch_warnings():
                # MLflow registers its local dataset source twice (for "" and "file" URIs) and
                # says a local path "can be interpreted in multiple ways"; both are one class.
                warnings.filterwarnings("ignore", message="The specified dataset source can be")
                source = resolve_dataset_source(path.as_uri())
            mlflow.log_input(TableRecord(data, source, self._name), context=self._context)
            self._recorded_for_run = run.info.run_id

    def save(self, data: Any) -> None:
        """Write the table; a run that builds it and uses it from memory (the catalog's
        ``CachedDataset``) records it here, since that run never loads it from the file."""
        self._dataset.save(data)
        self._record(data, Path(str(getattr(self._dataset, "_filepath", ""))).resolve())

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "name": self._name, "context": self._context}
