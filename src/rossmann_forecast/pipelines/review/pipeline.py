"""Review pipeline: Staging vs Production on the holdout -> checklist, plots, report."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    compute_review_metrics,
    compute_review_segments,
    evaluate_checklist,
    plot_review,
    render_review_report,
    resolve_review_versions,
    review_metrics_for_mlflow,
    review_summary,
    score_review_versions,
)


def create_pipeline(**kwargs) -> Pipeline:
    """The review a promotion needs, as a report logged on the Staging version's validation run.

    ``staging_model`` and ``production_model`` are ``rossmann-ensemble@staging`` and
    ``@production`` from the catalog. Works before the first promotion too: without a
    Production version, Staging is reported alone and the comparison item of the checklist is
    skipped.
    """
    return Pipeline(
        [
            Node(
                resolve_review_versions,
                inputs=["staging_model", "production_model", "params:review"],
                outputs="review_versions",
                name="resolve_review_versions",
            ),
            Node(
                score_review_versions,
                inputs=["staging_model", "production_model", "holdout_table"],
                outputs="review_predictions",
                name="score_review_versions",
            ),
            Node(
                compute_review_metrics,
                inputs=["review_predictions", "stores_validated", "params:review"],
                outputs="review_metrics",
                name="compute_review_metrics",
            ),
            Node(
                evaluate_checklist,
                inputs=["review_metrics", "params:review", "review_versions"],
                outputs="review_checklist",
                name="evaluate_checklist",
            ),
            Node(
                plot_review,
                inputs=["review_predictions", "stores_validated", "params:review"],
                outputs="review_plots",
                name="plot_review",
            ),
            Node(
                compute_review_segments,
                inputs=[
                    "review_predictions",
                    "holdout_table",
                    "sales_train_window",
                    "stores_validated",
                ],
                outputs="review_segments",
                name="compute_review_segments",
            ),
            Node(
                render_review_report,
                inputs=[
                    "review_versions",
                    "review_metrics",
                    "review_checklist",
                    "review_plots",
                    "review_segments",
                ],
                outputs="review_report",
                name="render_review_report",
            ),
            Node(
                review_summary,
                inputs=["review_versions", "review_metrics", "review_checklist"],
                outputs="review_summary",
                name="summarise_review",
            ),
            Node(
                review_metrics_for_mlflow,
                inputs="review_metrics",
                outputs="review_mlflow_metrics",
                name="log_review_metrics",
            ),
        ]
    )
