"""Fixtures for the dataset tests: a temporary SQLite MLflow registry with tiny real versions."""

from __future__ import annotations

import uuid

import mlflow
import pytest

from rossmann_forecast.registry import ModelRegistry
from tests.registry_support import VersionFactory


@pytest.fixture(scope="session")
def sqlite_uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('io_mlflow') / 'mlflow.db'}"


@pytest.fixture
def model_name():
    return f"rossmann-io-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def factory(sqlite_uri, model_name, tmp_path_factory):
    """Registers tiny constant-model versions; points MLflow (and so the datasets) at SQLite."""
    return VersionFactory(sqlite_uri, model_name, tmp_path_factory.getbasetemp() / "io_artifacts")


@pytest.fixture
def settings(model_name):
    """The catalog's ``registry:`` block of every registry dataset."""
    return {"model_name": model_name, "lock_ttl_seconds": 30, "lock_wait_seconds": 5}


@pytest.fixture
def models(factory, settings):
    return ModelRegistry.from_params(settings, factory.client)


@pytest.fixture
def active_run(factory):
    """An MLflow run like the one kedro-mlflow opens for a ``kedro run``."""
    mlflow.set_experiment("io-tests")
    with mlflow.start_run() as run:
        yield run
