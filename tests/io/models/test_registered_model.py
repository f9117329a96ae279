"""``RegisteredModelDataset`` on a temporary SQLite registry: the version inference uses."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.models import RegisteredModelDataset
from tests.registry_support import validated


def test_loading_gives_the_served_model_pinned_to_the_resolved_version(
    factory, models, settings, active_run
):
    staged = validated(models, factory)

    loaded = RegisteredModelDataset(registry=settings, alias="staging").load()

    assert loaded["model"].predict(pd.DataFrame({"Store": [1]})).tolist() == [1.0]
    assert (loaded["version"], loaded["stage"], loaded["requested"]) == (
        staged,
        "Staging",
        "Staging",
    )
    assert loaded["model_uri"] == f"models:/{settings['model_name']}/{staged}"
    assert loaded["run_id"] == active_run.info.run_id
    assert loaded["load_seconds"] >= 0


def test_no_version_in_the_stage_says_how_to_ask_for_one(factory, settings):
    factory.register()
    dataset = RegisteredModelDataset(
        registry=settings, alias="production", hint="Or predict with --params inference.version=N."
    )

    with pytest.raises(DatasetError, match=r"(?s)Production.*inference\.version=N"):
        dataset.load()
