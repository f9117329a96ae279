"""Tuning pipeline: an Optuna study per booster on the training CV folds -> a parameters file.

``kedro run --pipelines tuning`` runs ``data_processing`` first (see ``pipeline_registry``),
then one namespaced study per booster; the trials become nested MLflow runs of the tuning run,
and the best parameters ``conf/local/parameters_tuned.yml``, which the next ``kedro run``
trains with.
"""

from kedro.pipeline import Node, Pipeline

from rossmann_forecast.model.boosters import MEMBERS

from .nodes import tune_member, tuned_parameters, tuning_metrics


def _member_pipeline(member: str) -> Pipeline:
    template = Pipeline(
        [
            Node(
                tune_member,
                inputs=[
                    "model_input_table",
                    "forecast_origins",
                    "params:training.cv",
                    "params:member",
                    "params:search_space",
                    "params:tuning",
                    "feature_settings",
                    "params:training.fit_rows",
                ],
                outputs=["tuning_trials", "best_member"],
                name="tune",
            )
        ]
    )
    return Pipeline(
        template,
        namespace=member,
        inputs={"model_input_table", "forecast_origins", "feature_settings"},
        # Names without dots: Kedro reserves the dot for its namespaces and warns otherwise.
        outputs={
            "best_member": f"{member}_tuned_member",
            "tuning_trials": f"{member}_tuning_trials",
        },
        parameters={
            "params:member": f"params:training.members.{member}",
            "params:search_space": f"params:tuning.search_space.{member}",
            "params:training.cv": "params:training.cv",
            "params:training.fit_rows": "params:training.fit_rows",
            "params:tuning": "params:tuning",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Tune each booster, then write the best parameters and the tuning metrics."""
    studies = sum((_member_pipeline(m) for m in MEMBERS), Pipeline([]))
    return studies + Pipeline(
        [
            Node(
                tuned_parameters,
                inputs={m: f"{m}_tuned_member" for m in MEMBERS},
                outputs="tuned_parameters",
                name="write_tuned_parameters",
            ),
            Node(
                tuning_metrics,
                inputs={m: f"{m}_tuning_trials" for m in MEMBERS},
                outputs="tuning_metrics",
                name="log_tuning_metrics",
            ),
        ]
    )
