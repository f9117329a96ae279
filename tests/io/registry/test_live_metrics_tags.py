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


def test_loading_says_where_live_metrics_are_read(settings):
    with pytest.raises(DatasetError, match="kedro model describe"):
        LiveMetricsTagsDataset(registry=settings).load()
