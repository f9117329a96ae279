"""Inference pipeline: the registered model (from the catalog) -> predict the input -> record it."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    check_drift,
    describe_prediction_run,
    make_submission,
    predict_sales,
    prediction_log_entry,
    prediction_metrics,
    shadow_forecast,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Batch predictions with the Production version (or ``inference.stage``/``version``).

    Writes the Kaggle submission (``Id,Sales``), the detailed predictions (Store, Date, Sales
    and the version that made them; logged as an artifact), a partition of the prediction log
    that monitoring reads (with the Staging version's forecasts of the same rows, in the
    shadow), the batch's drift verdict and report against the version's reference (and the
    version's ``monitoring.input_drift`` tags), and the run's record (version, stage, training
    run, input hash).
    """
    return Pipeline(
        [
            Node(
                predict_sales,
                inputs=["inference_model", "inference_input"],
                outputs=["inference_predictions", "inference_reference"],
                name="predict_sales",
            ),
            Node(
                make_submission,
                inputs="inference_predictions",
                outputs="inference_submission",
                name="make_submission",
            ),
            Node(
                shadow_forecast,
                inputs=["shadow_model", "inference_reference", "inference_input"],
                outputs="shadow_predictions",
                name="forecast_in_the_shadow",
            ),
            Node(
                prediction_log_entry,
                inputs=["inference_predictions", "shadow_predictions"],
                outputs="prediction_log",
                name="append_prediction_log",
            ),
            Node(
                check_drift,
                inputs=[
                    "inference_reference",
                    "inference_input",
                    "inference_predictions",
                    "inference_stores",
                    "params:drift",
                ],
                outputs=["drift_verdict", "drift_report", "drift_history", "drift_version_tags"],
                name="check_drift",
            ),
            Node(
                describe_prediction_run,
                inputs=["inference_reference", "inference_input", "inference_predictions"],
                outputs="inference_record",
                name="describe_prediction_run",
            ),
            Node(
                prediction_metrics,
                inputs="inference_predictions",
                outputs="inference_metrics",
                name="log_inference_metrics",
            ),
        ]
    )
