"""``RawFilesFingerprintDataset``: the identity of the three raw Kaggle files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from rossmann_forecast.paths import project_root
from rossmann_forecast.raw import files as raw_data


class RawFilesFingerprintDataset(AbstractDataset):
    """The identity of the three raw Kaggle files: loading it fingerprints them.

    Loads ``{"source": "synthetic"|"real", "synthetic": {"seed", "n_stores"}|None, "files":
    {name: {"path", "sha256", "dvc_md5"}}}`` (see ``rossmann_forecast.raw.files``), which the
    ``build_raw_data_lineage`` node turns into the run's raw-data lineage. Read-only: nothing in
    a run writes raw files (``kedro data synthesize`` does, on request).
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        """
        Args:
            path: The folder of ``train.csv``, ``store.csv`` and ``test.csv`` (Kedro makes a
                relative ``path`` absolute from the project root).
            metadata: Kedro-Viz and other plugins' metadata.
        """
        self.path = Path(path)
        self.metadata = metadata

    def check(self) -> None:
        """Refuse a folder a run cannot use (files missing, partial set, empty file).

        Raises:
            RawDataError: One line naming the file and what to do.
        """
        raw_data.check_raw_files(self.path)

    def load(self) -> dict[str, Any]:
        return raw_data.fingerprint_raw_files(self.path, project_root())

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"{type(self).__name__} is read-only: raw files are the user's, or written by "
            "`kedro data synthesize`."
        )

    def _exists(self) -> bool:
        return all(path.exists() for path in raw_data.raw_paths(self.path).values())

    def _describe(self) -> dict[str, Any]:
        return {"path": self.path.as_posix()}
