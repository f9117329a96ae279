"""``MarkdownReportDataset``: a Markdown report with its PNG plots, logged on MLflow runs.

Nodes only build text and figures; this writes them to a folder and logs that folder on the
runs the report belongs to (e.g. the Staging version's validation run) and on the active run.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from kedro.io import AbstractDataset
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:  # matplotlib is imported where a figure is written: not by inference
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


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
