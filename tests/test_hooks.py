"""Project hooks: the raw-files and parameter checks before a run (the failed-run hook:
tests/pipelines/validation)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from rossmann_forecast.hooks import FINGERPRINT_DATASET, ParametersCheckHook, RawFilesCheckHook
from rossmann_forecast.io.raw import RawFilesFingerprintDataset
from rossmann_forecast.raw.schemas import RawDataError
from rossmann_forecast.settings import CONFIG_LOADER_ARGS


def identity(df):
    return df


def catalog_for(raw_dir: Path) -> DataCatalog:
    catalog = DataCatalog()
    catalog[FINGERPRINT_DATASET] = RawFilesFingerprintDataset(path=raw_dir.as_posix())
    return catalog


def test_a_pipeline_reading_raw_files_stops_before_any_node_when_they_are_missing(tmp_path):
    pipeline = Pipeline([Node(identity, "sales_raw", "sales_copy", name="copy_sales")])

    with pytest.raises(RawDataError, match="train.csv is missing"):
        RawFilesCheckHook().before_pipeline_run(pipeline, catalog_for(tmp_path / "01_raw"))


class CountingFingerprint:
    """Stands in for the fingerprint dataset: counts the checks the hook asks of it."""

    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1


def test_pipelines_that_do_not_read_raw_files_are_not_checked():
    fingerprint = CountingFingerprint()
    catalog = {FINGERPRINT_DATASET: fingerprint}
    hook = RawFilesCheckHook()

    hook.before_pipeline_run(Pipeline([Node(identity, "sales_validated", "x", name="o")]), catalog)
    assert fingerprint.checks == 0
    hook.before_pipeline_run(Pipeline([Node(identity, "sales_raw", "y", name="c")]), catalog)
    assert fingerprint.checks == 1  # the same hook checks a pipeline that reads train.csv


def _quantiles_catalog(levels, day_classes=None) -> DataCatalog:
    catalog = DataCatalog()
    catalog["params:training.quantiles"] = MemoryDataset(
        {"levels": levels, "min_rows": 300, "day_classes": day_classes}
    )
    return catalog


CALIBRATES = Pipeline(
    [Node(identity, "params:training.quantiles", "interval_calibration", name="calibrate")]
)


@pytest.mark.parametrize(
    ("levels", "says"),
    [([0.9, 0.5, 0.1], "strictly increasing"), ([0.1, 0.5, 1.2], "strictly between 0 and 1"),
     ([0.1, 0.9], "must include 0.5")],
)  # fmt: skip
def test_bad_quantile_levels_stop_the_run_before_any_node_naming_the_parameter(levels, says):
    with pytest.raises(click.ClickException) as raised:
        ParametersCheckHook().before_pipeline_run(CALIBRATES, _quantiles_catalog(levels))

    assert "Parameter training.quantiles.levels" in raised.value.message
    assert says in raised.value.message


def test_bad_day_classes_stop_the_run_before_any_node_naming_the_parameter():
    catalog = _quantiles_catalog([0.1, 0.5, 0.9], {"holiday_window_days": -2})
    with pytest.raises(click.ClickException) as raised:
        ParametersCheckHook().before_pipeline_run(CALIBRATES, catalog)

    assert "Parameter training.quantiles.day_classes.holiday_window_days" in raised.value.message


FEATURES = Pipeline(
    [Node(identity, "params:data_processing.features", "model_input_table", name="features")]
)


@pytest.mark.parametrize(
    ("settings", "says"),
    [({"windows_days": [28, "a quarter"]},
      "Parameter data_processing.features.windows_days must be a list of whole numbers of days"),
     ({"block_offsets_days": 14}, "block_offsets_days must be a list of whole numbers of days"),
     ({"closure_days": 3}, "Unknown settings in data_processing.features: ['closure_days']")],
)  # fmt: skip
def test_bad_feature_settings_stop_the_run_before_any_node(settings, says):
    catalog = DataCatalog()
    catalog["params:data_processing.features"] = MemoryDataset(settings)

    with pytest.raises(click.ClickException) as raised:
        ParametersCheckHook().before_pipeline_run(FEATURES, catalog)

    assert says in raised.value.message


def test_the_configured_feature_settings_pass_the_parameter_check():
    conf = Path(__file__).resolve().parents[1] / "conf/base/parameters_data_processing.yml"
    catalog = DataCatalog()
    features = yaml.safe_load(conf.read_text())["data_processing"]["features"]
    catalog["params:data_processing.features"] = MemoryDataset(features)

    ParametersCheckHook().before_pipeline_run(FEATURES, catalog)
    assert features["windows_days"] == [28, 91, 364]


def test_good_levels_and_pipelines_without_them_pass_the_parameter_check():
    ParametersCheckHook().before_pipeline_run(CALIBRATES, _quantiles_catalog([0.05, 0.5, 0.95]))
    holidays = _quantiles_catalog([0.1, 0.5, 0.9], {"holiday_window_days": 3})
    ParametersCheckHook().before_pipeline_run(CALIBRATES, holidays)
    other = Pipeline([Node(identity, "sales_raw", "sales_copy", name="copy_sales")])
    # Not read by this pipeline: not loaded (the catalog has no such entry), not checked.
    ParametersCheckHook().before_pipeline_run(other, DataCatalog())


GATES = Pipeline([Node(identity, "params:validation", "gate_report", name="gate")])


@pytest.mark.parametrize(
    ("settings", "says"),
    [({"season_change_factor": 0.8}, "validation.season_change_factor must be a number above 1"),
     ({"season_change_factor": "often"}, "validation.season_change_factor must be a number"),
     ({"estimate": "mean"}, "validation.estimate must be one of"),
     ({"baseline_ratio_exponent": 2}, "validation.baseline_ratio_exponent must be a number"),
     ({"estimate": "tempered_baseline_ratio"},
      "validation.estimate is tempered_baseline_ratio, which needs"),
     ({"production_comparison": "level"}, "validation.production_comparison must be one of"),
     ({"estimate_range": [1.2, 0.8]}, "validation.estimate_range must hold a low factor"),
     ({"production_bootstrap": {"confidence": 1.5, "resamples": 100, "min_stores": 20,
                                "seed": 0}}, "validation.production_bootstrap.confidence must be"),
     ({"production_bootstrap": {"confidence": 0.95, "resamples": 0, "min_stores": 20,
                                "seed": 0}}, "validation.production_bootstrap.resamples must be"),
     ({"production_bootstrap": {"confidence": 0.95}},
      "validation.production_bootstrap must be null or hold exactly"),
     ({"store_check": {"min_days": 14, "max_rmspe_increase": 0}},
      "validation.store_check.max_rmspe_increase must be a number above 0"),
     ({"store_check": {"min_days": 0.5, "max_rmspe_increase": 0.05}},
      "validation.store_check.min_days must be a whole number of at least 1"),
     ({"store_check": {"max_rmspe_increase": 0.05}},
      "validation.store_check must be null or hold exactly")],
)  # fmt: skip
def test_bad_estimate_settings_stop_the_run_before_training_naming_the_parameter(settings, says):
    catalog = DataCatalog()
    catalog["params:validation"] = MemoryDataset(
        {"estimate": "pooled", "estimate_fallback": "holdout", **settings}
    )

    with pytest.raises(click.ClickException) as raised:
        ParametersCheckHook().before_pipeline_run(GATES, catalog)

    assert f"Parameter {says}" in raised.value.message


def test_the_configured_estimate_settings_pass_the_parameter_check():
    # Through Kedro's loader, as a run reads them (globals resolved: production_bootstrap).
    conf = Path(__file__).resolve().parents[1] / "conf"
    loader = OmegaConfigLoader(conf_source=str(conf), env="base", **CONFIG_LOADER_ARGS)
    catalog = DataCatalog()
    catalog["params:validation"] = MemoryDataset(loader["parameters"]["validation"])

    ParametersCheckHook().before_pipeline_run(GATES, catalog)


FITS = Pipeline(
    [Node(identity, "params:training.members.xgboost", "xgboost_model", name="fit_xgboost")]
)


@pytest.mark.parametrize(
    ("member", "says"),
    [({"library": "xgboost", "num_rounds": 5, "params": {}, "relative_to_level": "yes"},
      "relative_to_level of the xgboost member must be true or false, not 'yes'"),
     ({"library": "sklearn", "num_rounds": 5, "params": {}}, "Unknown booster library"),
     ({"library": "xgboost", "num_rounds": 5, "params": {}, "draw_factor": 0.5},
      "draw_factor of the xgboost member must be a number of at least 1")],
)  # fmt: skip
def test_bad_member_settings_stop_the_run_before_any_node_naming_the_member(member, says):
    catalog = DataCatalog()
    catalog["params:training.members.xgboost"] = MemoryDataset(member)

    with pytest.raises(click.ClickException) as raised:
        ParametersCheckHook().before_pipeline_run(FITS, catalog)

    assert raised.value.message.startswith("Parameter training.members.xgboost: ")
    assert says in raised.value.message


def test_the_configured_members_pass_the_parameter_check():
    conf = Path(__file__).resolve().parents[1] / "conf/base/parameters_training.yml"
    catalog = DataCatalog()
    members = yaml.safe_load(conf.read_text())["training"]["members"]
    catalog["params:training.members.xgboost"] = MemoryDataset(members["xgboost"])

    ParametersCheckHook().before_pipeline_run(FITS, catalog)
    assert members["xgboost"]["relative_to_level"] is True


DRAWS = Pipeline([Node(identity, "params:training.fit_rows", "drawn", name="draw_rows")])


def test_a_bad_cv_row_cap_stops_the_run_before_any_node_naming_it():
    catalog = DataCatalog()
    catalog["params:training.fit_rows"] = MemoryDataset({"max_rows": 400_000, "cv_max_rows": 0})

    with pytest.raises(click.ClickException, match=r"training\.fit_rows\.cv_max_rows .*not 0"):
        ParametersCheckHook().before_pipeline_run(DRAWS, catalog)


def test_the_configured_row_caps_pass_the_parameter_check():
    conf = Path(__file__).resolve().parents[1] / "conf/base/parameters_training.yml"
    fit_rows = yaml.safe_load(conf.read_text())["training"]["fit_rows"]
    catalog = DataCatalog()
    catalog["params:training.fit_rows"] = MemoryDataset(fit_rows)

    ParametersCheckHook().before_pipeline_run(DRAWS, catalog)
    assert 0 < fit_rows["cv_max_rows"] <= fit_rows["max_rows"]
