"""Monitoring pipeline: prediction log + actual sales -> live RMSPE (and interval coverage)
per version -> drift."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    collect_predictions,
    compare_shadow,
    compute_live_metrics,
    join_actuals,
    judge_live_metrics,
    live_metrics_for_mlflow,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Live accuracy of the versions that made predictions, recorded against each version.

    ``live_version_tags`` writes each judged version's ``monitoring.*`` tags to the registry
    (its live RMSPE and, when its forecasts carry quantiles, its live P10-P90 coverage);
    ``shadow_version_tags`` each shadow version's live RMSPE beside the version that served
    the same store-days (``monitoring.shadow.*``).
    """
    return Pipeline(
        [
            Node(
                collect_predictions,
                inputs=["monitoring_predictions", "params:monitoring"],
                outputs="live_predictions",
                name="collect_predictions",
            ),
            Node(
                join_actuals,
                inputs=["live_predictions", "actual_sales"],
                outputs="live_joined",
                name="join_actuals",
            ),
            Node(
                compute_live_metrics,
                inputs=["live_joined", "params:monitoring"],
                outputs="live_metrics",
                name="compute_live_metrics",
            ),
            Node(
                live_metrics_for_mlflow,
                inputs="live_metrics",
                outputs="monitoring_metrics",
                name="log_live_metrics",
            ),
            Node(
                compare_shadow,
                inputs="live_joined",
                outputs=["shadow_comparison", "shadow_version_tags"],
                name="compare_shadow",
            ),
            Node(
                judge_live_metrics,
                inputs=["live_metrics", "params:monitoring", "active_mlflow_run"],
                outputs=["monitoring_status", "monitoring_record", "live_version_tags"],
                name="judge_live_metrics",
            ),
        ]
    )
