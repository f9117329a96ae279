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


def create_pipeline(after_training: bool = False, **kwargs) -> Pipeline:
    """The gate: candidate -> holdout scores (and Production's) -> verdict in the registry.

    Args:
        after_training: In the default pipeline the gate judges the version that the same run
            just registered (``registered_model_version``), and so runs after it. Alone, it
            judges ``validation.version`` or the newest version not yet validated.
    """
    candidate_inputs = ["params:validation"]
    if after_training:
        candidate_inputs.append("registered_model_version")
    return Pipeline(
        [
            Node(
                select_candidate,
                inputs=candidate_inputs,
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
                inputs=["validation_report", "params:validation"],
                outputs="gate_status",
                name="apply_gate",
            ),
        ]
    )
