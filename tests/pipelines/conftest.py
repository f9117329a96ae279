"""One model lifecycle shared by the inference, review, serving and monitoring tests.

Training is the slow part, so it happens twice per test session, in one project copy with its
own MLflow database (`kedro run -e test`, 30 synthetic stores):

1. version 1 is trained and passes the gate -> Staging; the review runs with no Production
   version yet (its output and summary are kept);
2. version 1 is promoted -> Production;
3. version 2 (other boosting rounds) is trained and passes the gate -> Staging.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import CompletedKedro, KedroProject, make_kedro_project

MODEL = "rossmann-ensemble"


@dataclass
class Lifecycle:
    """The shared project: Production = version 1, Staging = version 2."""

    project: KedroProject
    client: MlflowClient
    first_review: CompletedKedro
    first_review_summary: dict
    first_report: str
    production: int = 1
    staging: int = 2

    @property
    def test_rows(self) -> pd.DataFrame:
        return pd.read_csv(self.project.raw_dir / "test.csv", dtype={"StateHoliday": str})

    @property
    def holdout(self) -> pd.DataFrame:
        return pd.read_parquet(self.project.path / "data/05_model_input/holdout_table.parquet")


def _ok(result: CompletedKedro) -> CompletedKedro:
    assert result.returncode == 0, result.output[-6000:]
    return result


@pytest.fixture(scope="session")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """Train v1 (Staging), review it alone, promote it, train v2 (Staging)."""
    project = make_kedro_project(tmp_path_factory.mktemp("lifecycle"))
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    project.synthesize()
    _ok(project.run())
    first_review = _ok(project.kedro("model", "review", "-e", "test"))
    reporting = project.path / "data" / "08_reporting"
    first_summary = json.loads((reporting / "review_summary.json").read_text())
    first_report = (reporting / "review" / "review_report.md").read_text()
    shutil.copytree(reporting / "review", project.path.parent / "first_review")
    _ok(project.kedro("model", "promote", "--reason", "first model", "-e", "test"))
    _ok(project.run("--params", "training.members.lightgbm.num_rounds=40"))
    assert int(client.get_model_version_by_alias(MODEL, "production").version) == 1
    assert int(client.get_model_version_by_alias(MODEL, "staging").version) == 2
    return Lifecycle(project, client, first_review, first_summary, first_report)


@pytest.fixture(scope="session")
def production_batch(lifecycle: Lifecycle) -> tuple[CompletedKedro, Path, Path]:
    """`kedro run --pipelines inference` with the defaults (Production, test.csv), once."""
    out = lifecycle.project.path.parent / "batch"
    out.mkdir()
    submission, detailed = out / "submission.csv", out / "predictions.csv"
    result = _ok(
        lifecycle.project.run(
            "--pipelines",
            "inference",
            "--params",
            f"inference.output_path={submission},inference.predictions_path={detailed}",
        )
    )
    return result, submission, detailed
