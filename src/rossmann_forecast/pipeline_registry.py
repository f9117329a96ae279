"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    The default pipeline is the model's path into the registry: data -> training ->
    registration -> validation gate. Inference, review and monitoring are run on demand.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    default_steps = ("data_processing", "training", "validation")
    pipelines["__default__"] = sum(
        (pipelines[name] for name in default_steps if name in pipelines), Pipeline([])
    )
    return pipelines
