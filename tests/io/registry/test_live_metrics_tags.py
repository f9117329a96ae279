"""``LiveMetricsTagsDataset``: monitoring's judgement of each version as its version tags."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.registry import LiveMetricsTagsDataset


def test_each_entry_becomes_monitoring_tags_of_its_version(factory, settings, active_run):
    version = factory.register()
    entry = {"version": version, "rmspe": 0.12, "drift": True, "threshold": 0.15, "window": 28}

    LiveMetricsTagsDataset(registry=settings).save([entry])

    tags = factory.client.get_model_version(settings["model_name"], str(version)).tags
    monitoring = {k: v for k, v in tags.items() if k.startswith("monitoring.")}
    assert monitoring
    assert any(v == active_run.info.run_id for v in monitoring.values())
    assert any("0.12" in v for v in monitoring.values())


def test_the_live_coverage_is_tagged_beside_the_live_rmspe(factory, settings, active_run):
    banded, plain = factory.register(), factory.register()
    entry = {"rmspe": 0.12, "drift": False, "threshold": 0.15, "window": "2015-07-08..2015-07-14"}
    band = {"interval": "P10-P90", "coverage": 0.75, "interval_width": 0.3, "quantile_loss": 0.05}
    no_band = dict.fromkeys(band)  # a version trained before forecasts had quantiles

    LiveMetricsTagsDataset(registry=settings).save(
        [{"version": banded, **entry, **band}, {"version": plain, **entry, **no_band}]
    )

    def tags(version):
        return factory.client.get_model_version(settings["model_name"], str(version)).tags

    assert tags(banded)["monitoring.live_interval"] == "P10-P90"
    assert float(tags(banded)["monitoring.live_coverage"]) == 0.75
    assert float(tags(banded)["monitoring.live_interval_width"]) == 0.3
    assert float(tags(banded)["monitoring.live_quantile_loss"]) == 0.05
    assert float(tags(plain)["monitoring.live_rmspe"]) == 0.12
    assert tags(plain)["monitoring.live_interval"] == "none"
    assert "monitoring.live_coverage" not in tags(plain)


def test_loading_says_where_live_metrics_are_read(settings):
    with pytest.raises(DatasetError, match="kedro model describe"):
        LiveMetricsTagsDataset(registry=settings).load()
