"""``LoggedEnsembleDataset``: the backtest ensemble logged on the run with its lineage."""

from __future__ import annotations

import mlflow
import pytest

from rossmann_forecast.io.models import LoggedEnsembleDataset
from tests.model.conftest import build_tiny_model


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    model = build_tiny_model(tmp_path_factory.mktemp("tiny")).python_model
    model.lineage = {"cv_metrics": {"rmspe_ensemble": 0.1}, "training_window": {"origin": "x"}}
    return model


def test_saving_logs_the_model_with_its_lineage_and_loads_back(ensemble, active_run):
    dataset = LoggedEnsembleDataset(
        flavor="mlflow.pyfunc", pyfunc_workflow="python_model", save_args={"name": "backtest"}
    )

    dataset.save(ensemble)

    logged = mlflow.get_logged_model(dataset.model_info.model_id)
    assert logged.tags["lineage.run_id"] == active_run.info.run_id
    assert logged.tags["cv.rmspe_ensemble"] == "0.100000"
    saved = mlflow.artifacts.load_dict(f"runs:/{active_run.info.run_id}/backtest/lineage.json")
    assert saved["run_id"] == active_run.info.run_id
    assert "run_id" not in ensemble.lineage  # the node's model is left as it was
    assert dataset.load().unwrap_python_model().lineage["run_id"] == active_run.info.run_id


def test_save_args_as_configured_are_left_unchanged(ensemble, active_run):
    dataset = LoggedEnsembleDataset(
        flavor="mlflow.pyfunc", pyfunc_workflow="python_model", save_args={"name": "backtest"}
    )

    dataset.save(ensemble)

    assert dataset._save_args == {"name": "backtest"}
