"""``OptionalCsvDataset``: a CSV file that may not be there (loads as None)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from kedro_datasets.pandas import CSVDataset

logger = logging.getLogger(__name__)


class OptionalCsvDataset(CSVDataset):
    """kedro-datasets' ``pandas.CSVDataset`` that loads as ``None`` when its file is missing.

    For inputs a node can do without (the drift check's ``store.csv`` where only a batch file
    was dropped in): the node says what it could not judge instead of the run failing.
    """

    def load(self) -> pd.DataFrame | None:  # type: ignore[override]
        if not self._exists():
            logger.info("%s is not there: read as nothing", self._filepath)
            return None
        return super().load()

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "optional": True}
