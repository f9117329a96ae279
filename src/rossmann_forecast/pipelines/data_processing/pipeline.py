"""data_processing pipeline: raw Kaggle files -> validated, typed tables and their lineage.

The raw layer: each file is validated alone, then the cross-file check releases all three
validated tables together, so a bad file means no validated table is written. Feature
engineering nodes follow and read ``sales_validated``, ``stores_validated``, ``test_validated``.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_model_input,
    build_raw_data_lineage,
    check_sales_dates,
    check_stores_known,
    resolve_feature_settings,
    split_holdout,
    validate_sales,
    validate_stores,
    validate_test,
)


def create_raw_pipeline() -> Pipeline:
    """Validate and type the three raw files, check stores across files, record lineage."""
    return Pipeline(
        [
            Node(validate_sales, "sales_raw", "sales_checked", name="validate_sales"),
            Node(validate_stores, "stores_raw", "stores_checked", name="validate_stores"),
            Node(validate_test, "test_raw", "test_checked", name="validate_test"),
            Node(
                check_sales_dates,
                inputs=[
                    "sales_checked",
                    "test_checked",
                    "params:data_processing.max_days_past_data_end",
                ],
                outputs="sales_dates_checked",
                name="check_sales_dates",
            ),
            Node(
                check_stores_known,
                inputs=["sales_dates_checked", "stores_checked", "test_checked"],
                outputs=["sales_validated", "stores_validated", "test_validated"],
                name="check_stores_known",
            ),
            Node(
                build_raw_data_lineage,
                inputs=[
                    "raw_data_fingerprint",
                    "sales_validated",
                    "stores_validated",
                    "test_validated",
                ],
                outputs="raw_data_lineage",
                name="build_raw_data_lineage",
            ),
        ]
    )


def create_feature_pipeline() -> Pipeline:
    """Split off the holdout, settle the feature settings, build leak-free features."""
    return Pipeline(
        [
            Node(
                split_holdout,
                inputs=["sales_validated", "params:data_processing"],
                outputs=["sales_train_window", "holdout_table", "forecast_origins"],
                name="split_holdout",
            ),
            Node(
                resolve_feature_settings,
                inputs=["sales_validated", "params:data_processing.features"],
                outputs="feature_settings",
                name="resolve_feature_settings",
            ),
            Node(
                build_model_input,
                inputs=["sales_validated", "stores_validated", "feature_settings"],
                outputs="model_input_table",
                name="build_model_input",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The data_processing pipeline: raw files -> validated tables -> model inputs."""
    return create_raw_pipeline() + create_feature_pipeline()
