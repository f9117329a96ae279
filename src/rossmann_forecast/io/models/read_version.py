"""One registered version read from the registry as the pure ``RegisteredVersion`` nodes get."""

from __future__ import annotations

from typing import Any

import mlflow

from rossmann_forecast.registry.facade import ModelRegistry
from rossmann_forecast.registry.version import RegisteredVersion


def load_pyfunc(model_uri: str) -> Any:
    """MLflow's pyfunc loader: what a ``RegisteredVersion`` read here loads its models with."""
    return mlflow.pyfunc.load_model(model_uri)


def read_version(models: ModelRegistry, version: int) -> RegisteredVersion:
    """The ``RegisteredVersion`` of ``version`` as the registry holds it now."""
    summary = models.version_summary(version)
    tags = dict(models.client.get_model_version(models.model_name, str(version)).tags)
    return RegisteredVersion(
        models.model_name, version, summary["stage"], tags, summary["holdout_rmspe"],
        loader=load_pyfunc,
    )  # fmt: skip
