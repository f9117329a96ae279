"""``RegisteredEnsembleDataset``: registered by training, loaded by the gate as the candidate."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.models import RegisteredEnsembleDataset
from tests.model.conftest import build_tiny_model


def _dataset(settings, **kwargs) -> RegisteredEnsembleDataset:
    return RegisteredEnsembleDataset(
        registry=settings, flavor="mlflow.pyfunc", pyfunc_workflow="python_model",
        save_args={"name": "ensemble"}, **kwargs,
    )  # fmt: skip


def test_the_registered_model_name_is_required():
    with pytest.raises(DatasetError, match="needs registry.model_name"):
        RegisteredEnsembleDataset(registry={})


def test_a_different_registered_model_name_in_save_args_is_refused(settings):
    with pytest.raises(
        DatasetError, match=r"registers 'rossmann-io-\w+' \(registry.model_name\), not .*'other'"
    ):
        RegisteredEnsembleDataset(registry=settings, save_args={"registered_model_name": "other"})


def test_saving_registers_a_pending_version_that_the_same_run_then_judges(
    tmp_path, settings, factory, active_run
):
    model = build_tiny_model(tmp_path).python_model
    model.lineage = {
        "cv_metrics": {"rmspe_ensemble": 0.1},
        "training_window": {"start": "2015-01-01", "end": "2015-06-30", "rows": 540},
    }
    dataset = _dataset(settings)

    dataset.save(model)
    found = dataset.load()

    assert found.version == dataset.registered_version == 1
    assert found.tags["validation.status"] == "pending"
    assert found.tags["lineage.run_id"] == active_run.info.run_id
    description = factory.client.get_model_version(settings["model_name"], "1").description
    assert settings["model_name"] in description


def test_alone_the_gate_loads_the_newest_pending_version(factory, settings):
    factory.register()
    newest = factory.register()
    factory.register(lineage_complete=False)  # not complete: never judged by itself

    assert _dataset(settings).load().version == newest


def test_a_requested_version_is_loaded_whatever_waits(factory, settings):
    first = factory.register()
    factory.register()

    assert _dataset(settings, model_version=str(first)).load().version == first


def test_with_nothing_pending_the_message_says_how_to_get_a_version(factory, settings):
    factory.register(lineage_complete=False)

    with pytest.raises(DatasetError, match="No version of .* waits for validation"):
        _dataset(settings).load()
