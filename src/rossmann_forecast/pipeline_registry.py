"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from rossmann_forecast.pipelines import validation


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    The default pipeline is the model's path into the registry: data -> training ->
    registration -> validation gate. Inference, review and monitoring are run on demand.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = (
        pipelines["data_processing"]
        + pipelines["training"]
        # The gate judges the version this very run registered, so it runs after it.
        + validation.create_pipeline(after_training=True)
    )
    return pipelines
