"""``RegisteredVersionDataset`` on a temporary SQLite registry."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro_mlflow.io.models import MlflowModelRegistryDataset

from rossmann_forecast.io.models import RegisteredVersionDataset
from rossmann_forecast.registry.version import RegisteredVersion
from tests.registry_support import validated


def test_the_alias_resolves_to_the_version_in_the_stage(factory, models, settings):
    factory.register()
    staged = validated(models, factory)

    found = RegisteredVersionDataset(registry=settings, alias="staging").load()

    assert isinstance(found, RegisteredVersion)
    assert (found.model_name, found.version, found.stage) == (
        settings["model_name"],
        staged,
        "Staging",
    )
    assert found.tags["validation.status"] == "passed"
    assert found.holdout_rmspe == pytest.approx(0.09)


def test_the_resolved_version_loads_its_served_model(factory, models, settings):
    validated(models, factory)

    found = RegisteredVersionDataset(registry=settings, alias="staging").load()

    assert found.load_model().predict(pd.DataFrame({"Store": [1, 2]})).tolist() == [1.0, 1.0]


def test_a_requested_version_wins_over_the_alias(factory, models, settings):
    first = factory.register()
    validated(models, factory)

    dataset = RegisteredVersionDataset(registry=settings, alias="staging", model_version=str(first))

    assert dataset.load().version == first
    assert dataset.requested == f"version {first}"
    assert dataset.model_uri == f"models:/{settings['model_name']}/{first}"


def test_an_optional_stage_with_no_version_loads_as_none(factory, settings):
    factory.register()

    assert (
        RegisteredVersionDataset(registry=settings, alias="production", optional=True).load()
        is None
    )


def test_an_empty_stage_names_the_stage_and_adds_the_hint(factory, settings):
    factory.register()
    dataset = RegisteredVersionDataset(
        registry=settings, alias="staging", hint="Promote a version to Staging first."
    )

    with pytest.raises(DatasetError, match=r"(?s)Staging.*Promote a version to Staging first\."):
        dataset.load()


def test_it_wraps_kedro_mlflows_registry_dataset_for_its_address(settings):
    dataset = RegisteredVersionDataset(registry=settings, alias="production")

    assert not isinstance(dataset, MlflowModelRegistryDataset)
    assert dataset.model_uri == f"models:/{settings['model_name']}@production"
    assert "@production" in str(dataset)


def test_saving_is_refused_naming_the_registered_model(settings):
    dataset = RegisteredVersionDataset(registry=settings, alias="staging")

    with pytest.raises(
        DatasetError, match=rf"models:/{settings['model_name']}@staging is read-only"
    ):
        dataset.save({"anything": 1})
