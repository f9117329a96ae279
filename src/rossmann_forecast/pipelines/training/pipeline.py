"""Training pipeline: one namespaced CV + refit template per booster, then the ensemble.

Like the kedro-viz demo's model template, the three boosters share one pipeline template
and differ only by their parameters (``params:training.members.<name>``).
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    assemble_ensemble,
    collect_lineage,
    confirm_registration,
    cross_validate_member,
    cv_metrics_for_mlflow,
    fit_ensemble_weights,
    fit_final_member,
    fit_model_state,
)

MEMBERS = ("lightgbm", "xgboost", "catboost")


def _member_pipeline(member: str) -> Pipeline:
    template = Pipeline(
        [
            Node(
                cross_validate_member,
                inputs=[
                    "model_input_table",
                    "params:training.cv",
                    "params:member",
                    "params:data_processing.features",
                ],
                outputs="oof_predictions",
                name="cross_validate",
            ),
            Node(
                fit_final_member,
                inputs=["model_input_table", "params:member", "params:data_processing.features"],
                outputs="model",
                name="fit_final",
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=member,
        inputs={"model_input_table"},
        # Plain names outside the namespace: the ensemble node reads them.
        outputs={"oof_predictions": f"{member}_oof_predictions", "model": f"{member}_model"},
        parameters={
            "params:member": f"params:training.members.{member}",
            "params:training.cv": "params:training.cv",
            "params:data_processing.features": "params:data_processing.features",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Cross-validate and refit each booster, blend them, and register the ensemble."""
    members = sum((_member_pipeline(m) for m in MEMBERS), Pipeline([]))
    ensemble = Pipeline(
        [
            Node(
                fit_ensemble_weights,
                inputs=[*(f"{m}_oof_predictions" for m in MEMBERS), "params:training.ensemble"],
                outputs="ensemble_blend",
                name="fit_ensemble_weights",
            ),
            Node(
                cv_metrics_for_mlflow,
                inputs="ensemble_blend",
                outputs="cv_metrics",
                name="log_cv_metrics",
            ),
            Node(
                fit_model_state,
                inputs=[
                    "sales_train_window",
                    "stores_validated",
                    "params:data_processing.features",
                ],
                outputs="model_feature_state",
                name="fit_model_state",
            ),
            Node(
                collect_lineage,
                inputs=[
                    "raw_data_lineage",
                    "model_input_table",
                    "sales_train_window",
                    "ensemble_blend",
                    "params:training",
                    "params:data_processing.features",
                ],
                outputs="model_lineage",
                name="collect_lineage",
            ),
            Node(
                assemble_ensemble,
                inputs=[
                    "model_feature_state",
                    *(f"{m}_model" for m in MEMBERS),
                    "ensemble_blend",
                    "model_lineage",
                    "params:data_processing.features",
                ],
                outputs="ensemble_model",
                name="assemble_and_register_ensemble",
            ),
            Node(
                confirm_registration,
                inputs=["ensemble_model", "params:registry"],
                outputs="registered_model_version",
                name="confirm_registration",
            ),
        ]
    )
    return members + ensemble
