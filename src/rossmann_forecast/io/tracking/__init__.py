"""A run's own records on MLflow: its id, records, reports, tuning trials and input tables."""

from rossmann_forecast.io.tracking.active_run import ActiveRunDataset
from rossmann_forecast.io.tracking.markdown_report import MarkdownReportDataset
from rossmann_forecast.io.tracking.mlflow_input import MlflowInputDataset
from rossmann_forecast.io.tracking.run_record import MlflowRunRecordDataset
from rossmann_forecast.io.tracking.trial_runs import MlflowTrialRunsDataset

__all__ = [
    "ActiveRunDataset",
    "MarkdownReportDataset",
    "MlflowInputDataset",
    "MlflowRunRecordDataset",
    "MlflowTrialRunsDataset",
]
