"""Validation pipeline: score the candidate on the holdout and decide Staging or rejected."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    decide_gate,
    evaluate_holdout,
    gate_metrics_for_mlflow,
    score_candidate,
    score_production,
    season_window,
)


def create_pipeline(**kwargs) -> Pipeline:
    """The gate: candidate -> holdout scores (and Production's) and the season fold a year
    earlier -> the estimate of the next weeks -> verdict in the registry.

    ``ensemble_model`` is the registered ensemble: training saves (registers) it, the gate loads
    the version to judge from it, so in one ``kedro run`` the gate judges exactly the version
    that run registered. ``production_model`` is ``rossmann-ensemble@production`` (None before
    the first promotion). ``gate_status`` records the verdict in the registry.
    """
    return Pipeline(
        [
            Node(
                score_candidate,
                inputs=["ensemble_model", "holdout_table"],
                outputs="candidate_holdout_predictions",
                name="score_candidate",
            ),
            Node(
                score_production,
                inputs=["production_model", "holdout_table"],
                outputs="production_holdout_predictions",
                name="score_production",
            ),
            Node(
                season_window,
                inputs=["ensemble_model", "params:validation"],
                outputs="candidate_season_window",
                name="find_season_window",
            ),
            Node(
                evaluate_holdout,
                inputs=[
                    "candidate_holdout_predictions",
                    "production_holdout_predictions",
                    "holdout_table",
                    "stores_validated",
                    "sales_train_window",
                    "candidate_season_window",
                    "params:validation",
                    "params:data_processing.features.block_days",
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
                decide_gate,
                inputs="validation_report",
                outputs="gate_status",
                name="apply_gate",
            ),
        ]
    )
