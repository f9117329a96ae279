"""``MlflowTrialRunsDataset``: tuning trials as a file and as nested MLflow runs."""

from __future__ import annotations

import json
import logging
from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset

logger = logging.getLogger(__name__)


class MlflowTrialRunsDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A table of tuning trials, saved as a file and logged as nested MLflow runs.

    Each row becomes one run nested under the active run (kedro-mlflow's run of the tuning
    pipeline), named ``<run_name_prefix>-trial-<number>``, with the row's ``params`` (a JSON
    object) as parameters and every other numeric column (``rmspe``, ``rmspe_<fold origin>``,
    ``duration_seconds``) as metrics, so the MLflow UI compares trials side by side.

    Args:
        dataset: The file dataset the table is also written to (e.g. ``pandas.CSVDataset``).
        run_name_prefix: Prefix of the nested runs' names, e.g. ``lightgbm``.
        metadata: Kedro-Viz and other tools' metadata (unused here).
    """

    def __init__(
        self,
        dataset: dict[str, Any],
        run_name_prefix: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._dataset = AbstractDataset.from_config(run_name_prefix, dict(dataset))
        self._prefix = run_name_prefix
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        return self._dataset.load()

    def save(self, data: pd.DataFrame) -> None:
        self._dataset.save(data)
        if mlflow.active_run() is None:
            logger.warning("No active MLflow run: the %s trials are not logged", self._prefix)
            return
        numeric = [
            c for c in data.columns if c != "number" and pd.api.types.is_numeric_dtype(data[c])
        ]
        for _, row in data.iterrows():
            name = f"{self._prefix}-trial-{int(row['number'])}"
            with mlflow.start_run(run_name=name, nested=True):
                mlflow.log_params(json.loads(row["params"]))
                mlflow.log_metrics({c: float(row[c]) for c in numeric if pd.notna(row[c])})
                mlflow.set_tags({"tuning.member": self._prefix, "tuning.trial": int(row["number"])})
        logger.info("Logged %d %s trials as nested MLflow runs", len(data), self._prefix)

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "run_name_prefix": self._prefix}
