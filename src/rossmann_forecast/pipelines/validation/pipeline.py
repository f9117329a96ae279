"""Validation pipeline: score the candidate on the holdout and decide Staging or rejected."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    apply_gate,
    evaluate_holdout,
    gate_metrics_for_mlflow,
    score_candidate,
    score_production,
    select_candidate,
)


def create_pipeline(**kwargs) -> Pipeline:
    """The gate: candidate -> holdout scores (and Production's) -> verdict in the registry.

    ``registered_model_version`` (written by training) orders the gate after training when both
    run together, so that it judges the version the same run registered.
    """
    return Pipeline(
        [
            Node(
                select_candidate,
                inputs=["params:validation", "registered_model_version"],
                outputs="candidate_version",
                name="select_candidate",
            ),
            Node(
                score_candidate,
                inputs=["candidate_version", "holdout_table", "params:validation"],
                outputs="candidate_holdout_predictions",
                name="score_candidate",
            ),
            Node(
                score_production,
                inputs=["holdout_table", "params:validation"],
                outputs="production_holdout_predictions",
                name="score_production",
            ),
            Node(
                evaluate_holdout,
                inputs=[
                    "candidate_holdout_predictions",
                    "production_holdout_predictions",
                    "holdout_table",
                    "stores_validated",
                    "params:validation",
                ],
                outputs="validation_report",
                name="evaluate_holdout",
            ),
            Node(
                gate_metrics_for_mlflow,
                inputs="validation_report",
                outputs="validation_metrics",
                name="log_validation_metrics",
            ),
            Node(
                apply_gate,
                inputs=["validation_report", "params:validation", "params:registry"],
                outputs="gate_status",
                name="apply_gate",
            ),
        ]
    )
