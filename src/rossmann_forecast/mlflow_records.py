"""Kedro datasets that write a run's record and a report onto MLflow runs.

``MlflowRunRecordDataset`` turns a node's small record (which version predicted, from which
input) into searchable tags and a JSON artifact of the run kedro-mlflow opened. The report
dataset writes a Markdown report with its PNG plots to a folder and logs that folder on the
runs the report belongs to (e.g. the Staging version's validation run), so nodes only build
text and figures and never touch files or MLflow.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:  # matplotlib is imported where a figure is written: not by inference
    from matplotlib.figure import Figure

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


class MarkdownReportDataset(AbstractDataset[dict[str, Any], str]):
    """A Markdown report with PNG plots in one folder, logged on MLflow runs.

    Saves ``{"markdown": str, "figures": {name: Figure}, "attachments": {file: dict},
    "log_to_runs": [run_id, ...]}``: ``<path>/<report_file>``, ``<path>/plots/<name>.png`` (the
    Markdown refers to ``plots/<name>.png``) and each attachment as JSON, then logs the folder under ``artifact_path`` on every run of
    ``log_to_runs`` and on the active run. Loads the Markdown text.

    Args:
        path: The report folder, e.g. ``data/08_reporting/review``.
        report_file: File name of the Markdown report.
        artifact_path: Where the folder goes in each run's artifacts.
        dpi: Resolution of the PNG plots.
        metadata: Kedro-Viz and other tools' metadata (unused here).
    """

    def __init__(
        self,
        path: str,
        report_file: str = "report.md",
        artifact_path: str = "report",
        dpi: int = 110,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(path)
        self._report_file = report_file
        self._artifact_path = artifact_path
        self._dpi = dpi
        self.metadata = metadata

    @property
    def report_path(self) -> Path:
        """Where the Markdown report is written."""
        return self._path / self._report_file

    def load(self) -> str:
        return self.report_path.read_text(encoding="utf-8")

    def save(self, data: dict[str, Any]) -> None:
        plots = self._path / "plots"
        if plots.exists():
            shutil.rmtree(plots)  # plots of an earlier report must not linger beside this one
        plots.mkdir(parents=True)
        for name, figure in data.get("figures", {}).items():
            _write_png(figure, plots / f"{name}.png", self._dpi)
        for file_name, content in data.get("attachments", {}).items():
            (self._path / file_name).write_text(
                json.dumps(content, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
            )
        (self._path / self._report_file).write_text(data["markdown"], encoding="utf-8")
        folder = self._path.as_posix()
        for run_id in dict.fromkeys(data.get("log_to_runs") or []):
            MlflowClient().log_artifacts(run_id, folder, self._artifact_path)
            logger.info("Report logged on run %s under %s/", run_id, self._artifact_path)
        if mlflow.active_run() is not None:
            mlflow.log_artifacts(folder, self._artifact_path)

    def _exists(self) -> bool:
        return (self._path / self._report_file).exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path.as_posix(), "report_file": self._report_file}


def _write_png(figure: Figure, target: Path, dpi: int) -> None:
    # Explicit Agg canvas: no pyplot state and no GUI backend, whatever the environment.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

    FigureCanvasAgg(figure)
    figure.savefig(target, format="png", dpi=dpi, bbox_inches="tight")


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
