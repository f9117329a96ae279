"""``GateVerdictDataset``: the verdict in the registry first, then in the status file."""

from __future__ import annotations

import json

import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.registry import GateVerdictDataset


def _verdict(version: int, passed: bool) -> dict:
    return {
        "version": version, "passed": passed, "status": "passed" if passed else "rejected",
        "threshold": 0.15, "reason": "estimate 0.09 < 0.15", "recorded_metrics": {"holdout_rmspe": 0.09},
        "evidence": {"holdout_sha256": "ab12"},
    }  # fmt: skip


def test_a_passed_verdict_moves_the_version_to_staging_then_writes_the_file(
    tmp_path, factory, settings, models, active_run
):
    version = factory.register()
    dataset = GateVerdictDataset(filepath=str(tmp_path / "gate.json"), registry=settings)

    dataset.save(_verdict(version, True))

    assert models.version_for_stage("staging") == version
    tags = factory.client.get_model_version(settings["model_name"], str(version)).tags
    assert tags["validation.status"] == "passed"
    assert tags["validation.run_id"] == active_run.info.run_id
    assert tags["validation.evidence.holdout_sha256"] == "ab12"
    written = json.loads((tmp_path / "gate.json").read_text())
    assert written["status"] == tags["validation.status"]  # one vocabulary
    assert "recorded_metrics" not in written and "evidence" not in written
    assert dataset.load() == written


def test_a_refused_verdict_writes_no_file(tmp_path, factory, settings):
    dataset = GateVerdictDataset(filepath=str(tmp_path / "gate.json"), registry=settings)

    with pytest.raises(DatasetError, match="version 99"):
        dataset.save(_verdict(99, True))
    assert not (tmp_path / "gate.json").exists()
