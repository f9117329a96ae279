"""A run that fails after registering a version leaves no usable registry entry."""

import json

from mlflow import MlflowClient

MODEL = "rossmann-ensemble"


def test_a_failed_run_abandons_the_version_it_registered(kedro_project):
    kedro_project.synthesize()
    # The gate fails on a bad setting (no recent days to score), after training registered v1.
    failed = kedro_project.run("--params", "validation.recent_days=0")
    assert failed.returncode != 0
    assert "Model registered: rossmann-ensemble version 1" in failed.output

    client = MlflowClient(tracking_uri=kedro_project.env["MLFLOW_TRACKING_URI"])
    tags = client.get_model_version(MODEL, "1").tags
    assert tags["validation.status"] == "abandoned"
    assert "run that registered it failed" in tags["validation.reason"]
    assert client.get_registered_model(MODEL).aliases == {}
    assert not (kedro_project.path / "data" / "08_reporting" / "gate_status.json").exists()

    # Nothing picks it up by itself, and it cannot be promoted.
    gate = kedro_project.run("--pipelines", "validation")
    assert gate.returncode != 0
    assert "waits for validation" in gate.output
    refused = kedro_project.kedro("model", "promote", "-e", "test", "--version", "1",
                                  "--reason", "try")  # fmt: skip
    assert refused.returncode != 0
    status = kedro_project.kedro("model", "status", "-e", "test")
    assert "abandoned" in status.stdout, json.dumps(status.output)
