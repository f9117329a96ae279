"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from rossmann_forecast.pipelines import data_processing


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    The default pipeline is the model's path into the registry: data -> training ->
    registration -> validation gate. Inference, review and monitoring are run on demand.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    # Kedro 1.7 loads only the pipelines a run asks for; the default needs all three.
    steps = ("data_processing", "training", "validation")
    if all(step in pipelines for step in steps):
        pipelines["__default__"] = sum((pipelines[step] for step in steps), Pipeline([]))
    # Tuning searches on the training table: it builds it first, so it runs from raw data.
    if "tuning" in pipelines:
        pipelines["tuning"] = data_processing.create_pipeline() + pipelines["tuning"]
    return pipelines
