"""Project hooks: the raw-files check before a run (the failed-run hook: tests/pipelines/validation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from rossmann_forecast.hooks import FINGERPRINT_DATASET, RawFilesCheckHook
from rossmann_forecast.io.raw import RawFilesFingerprintDataset
from rossmann_forecast.raw.schemas import RawDataError


def identity(df):
    return df


def catalog_for(raw_dir: Path) -> DataCatalog:
    catalog = DataCatalog()
    catalog[FINGERPRINT_DATASET] = RawFilesFingerprintDataset(path=raw_dir.as_posix())
    return catalog


def test_a_pipeline_reading_raw_files_stops_before_any_node_when_they_are_missing(tmp_path):
    pipeline = Pipeline([Node(identity, "sales_raw", "sales_copy", name="copy_sales")])

    with pytest.raises(RawDataError, match="train.csv is missing"):
        RawFilesCheckHook().before_pipeline_run(pipeline, catalog_for(tmp_path / "01_raw"))


class CountingFingerprint:
    """Stands in for the fingerprint dataset: counts the checks the hook asks of it."""

    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1


def test_pipelines_that_do_not_read_raw_files_are_not_checked():
    fingerprint = CountingFingerprint()
    catalog = {FINGERPRINT_DATASET: fingerprint}
    hook = RawFilesCheckHook()

    hook.before_pipeline_run(Pipeline([Node(identity, "sales_validated", "x", name="o")]), catalog)
    assert fingerprint.checks == 0
    hook.before_pipeline_run(Pipeline([Node(identity, "sales_raw", "y", name="c")]), catalog)
    assert fingerprint.checks == 1  # the same hook checks a pipeline that reads train.csv
