"""``MarkdownReportDataset``: a report folder written and logged on runs."""

from __future__ import annotations

import json

import mlflow
from matplotlib.figure import Figure

from rossmann_forecast.io.tracking import MarkdownReportDataset


def test_the_report_plots_and_attachments_are_written_and_logged(tmp_path, active_run, factory):
    with mlflow.start_run(nested=True) as other:
        pass
    figure = Figure()
    figure.add_subplot().plot([1, 2], [3, 4])
    (tmp_path / "report" / "plots").mkdir(parents=True)
    (tmp_path / "report" / "plots" / "stale.png").write_bytes(b"old")
    dataset = MarkdownReportDataset(path=str(tmp_path / "report"), report_file="r.md")

    dataset.save({
        "markdown": "# Review\n![x](plots/errors.png)\n",
        "figures": {"errors": figure},
        "attachments": {"summary.json": {"verdict": "ok"}},
        "log_to_runs": [other.info.run_id],
    })  # fmt: skip

    folder = tmp_path / "report"
    assert sorted(p.name for p in (folder / "plots").iterdir()) == ["errors.png"]
    assert json.loads((folder / "summary.json").read_text()) == {"verdict": "ok"}
    assert dataset.load() == "# Review\n![x](plots/errors.png)\n"
    for run_id in (other.info.run_id, active_run.info.run_id):
        logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "report")}
        assert {"report/r.md", "report/summary.json", "report/plots"} <= logged
