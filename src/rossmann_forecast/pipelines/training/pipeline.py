"""Training pipeline: one namespaced CV + backtest + served template per booster, then the
two ensembles: the backtest (logged for the gate) and the served model (registered).

Like the kedro-viz demo's model template, the three boosters share one pipeline template
and differ only by their parameters (``params:training.members.<name>``).
"""

from kedro.pipeline import Node, Pipeline

from rossmann_forecast.model.boosters import MEMBERS

from .nodes import (
    assemble_backtest_ensemble,
    assemble_served_ensemble,
    calibrate_intervals,
    capture_drift_reference,
    collect_lineage,
    cross_validate_member,
    cv_metrics_for_mlflow,
    describe_backtest,
    fit_backtest_member,
    fit_ensemble_weights,
    fit_model_states,
    fit_served_member,
)


def _member_pipeline(member: str) -> Pipeline:
    template = Pipeline(
        [
            Node(
                cross_validate_member,
                inputs=[
                    "model_input_table",
                    "forecast_origins",
                    "params:training.cv",
                    "params:member",
                    "feature_settings",
                    "params:training.fit_rows",
                ],
                outputs="oof_predictions",
                name="cross_validate",
            ),
            Node(
                fit_backtest_member,
                inputs=[
                    "model_input_table",
                    "forecast_origins",
                    "params:member",
                    "feature_settings",
                    "params:training.fit_rows",
                ],
                outputs="backtest_model",
                name="fit_backtest",
            ),
            Node(
                fit_served_member,
                inputs=[
                    "model_input_table",
                    "params:member",
                    "feature_settings",
                    "params:training.fit_rows",
                ],
                outputs="model",
                name="fit_served",
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=member,
        inputs={"model_input_table", "forecast_origins", "feature_settings"},
        # Plain names outside the namespace: the ensemble nodes read them.
        outputs={
            "oof_predictions": f"{member}_oof_predictions",
            "backtest_model": f"{member}_backtest_model",
            "model": f"{member}_model",
        },
        parameters={
            "params:member": f"params:training.members.{member}",
            "params:training.cv": "params:training.cv",
            "params:training.fit_rows": "params:training.fit_rows",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Cross-validate and fit each booster twice, blend them, log the backtest, register."""
    members = sum((_member_pipeline(m) for m in MEMBERS), Pipeline([]))
    ensemble = Pipeline(
        [
            Node(
                fit_ensemble_weights,
                inputs={
                    "ensemble": "params:training.ensemble",
                    **{m: f"{m}_oof_predictions" for m in MEMBERS},
                },
                outputs="ensemble_blend",
                name="fit_ensemble_weights",
            ),
            Node(
                calibrate_intervals,
                inputs={
                    "stores_validated": "stores_validated",
                    "blend": "ensemble_blend",
                    "quantiles": "params:training.quantiles",
                    **{m: f"{m}_oof_predictions" for m in MEMBERS},
                },
                outputs="interval_calibration",
                name="calibrate_intervals",
            ),
            Node(
                cv_metrics_for_mlflow,
                inputs="ensemble_blend",
                outputs="cv_metrics",
                name="log_cv_metrics",
            ),
            Node(
                fit_model_states,
                inputs=[
                    "sales_validated",
                    "stores_validated",
                    "forecast_origins",
                    "feature_settings",
                ],
                outputs=["backtest_feature_state", "served_feature_state"],
                name="fit_model_states",
            ),
            Node(
                collect_lineage,
                inputs=[
                    "raw_data_lineage",
                    "model_input_table",
                    "sales_validated",
                    "forecast_origins",
                    "ensemble_blend",
                    "params:training",
                    "feature_settings",
                ],
                outputs="model_lineage",
                name="collect_lineage",
            ),
            Node(
                assemble_backtest_ensemble,
                inputs={
                    "backtest_state": "backtest_feature_state",
                    "blend": "ensemble_blend",
                    "lineage": "model_lineage",
                    "feature_settings": "feature_settings",
                    "intervals": "interval_calibration",
                    "member_settings": "params:training.members",
                    **{m: f"{m}_backtest_model" for m in MEMBERS},
                },
                outputs="backtest_ensemble_model",
                name="assemble_and_log_backtest",
            ),
            Node(
                describe_backtest,
                inputs="backtest_ensemble_model",
                outputs="backtest_reference",
                name="describe_backtest",
            ),
            Node(
                capture_drift_reference,
                inputs=["sales_validated", "stores_validated", "params:drift"],
                outputs="drift_reference",
                name="capture_drift_reference",
            ),
            Node(
                assemble_served_ensemble,
                inputs={
                    "served_state": "served_feature_state",
                    "blend": "ensemble_blend",
                    "lineage": "model_lineage",
                    "backtest_reference": "backtest_reference",
                    "feature_settings": "feature_settings",
                    "drift_reference": "drift_reference",
                    "intervals": "interval_calibration",
                    "member_settings": "params:training.members",
                    **{m: f"{m}_model" for m in MEMBERS},
                },
                outputs="ensemble_model",
                name="assemble_and_register_ensemble",
            ),
        ]
    )
    return members + ensemble
