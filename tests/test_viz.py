"""kedro-viz renders the project's pipelines (a static build, offline)."""

import json


def test_kedro_viz_build_shows_every_pipeline_and_the_gate(kedro_project):
    result = kedro_project.kedro("viz", "build")
    assert result.returncode == 0, result.output

    main = json.loads((kedro_project.path / "build" / "api" / "main").read_text())
    pipelines = {p["id"] for p in main["pipelines"]}
    assert {"__default__", "data_processing", "training", "validation"} <= pipelines
    names = {node["name"] for node in main["nodes"]}
    assert {"apply_gate", "build_model_input", "assemble_and_register_ensemble"} <= names


def test_kedro_viz_shows_the_registered_model_feeding_inference(kedro_project):
    result = kedro_project.kedro("viz", "build")
    assert result.returncode == 0, result.output

    api = kedro_project.path / "build" / "api" / "pipelines" / "inference"
    main = json.loads(api.read_text())
    by_id = {node["id"]: node for node in main["nodes"]}
    model = next(n for n in main["nodes"] if n["name"] == "inference_model")
    assert model["type"] == "data"
    assert "RegisteredModelDataset" in str(model.get("dataset_type", ""))
    fed = {by_id[e["target"]]["name"] for e in main["edges"] if e["source"] == model["id"]}
    assert "predict_sales" in fed


def test_kedro_viz_shows_the_raw_fingerprint_feeding_the_lineage(kedro_project):
    result = kedro_project.kedro("viz", "build")
    assert result.returncode == 0, result.output

    api = kedro_project.path / "build" / "api" / "pipelines" / "__default__"
    main = json.loads(api.read_text())
    by_id = {node["id"]: node for node in main["nodes"]}
    edges = {(by_id[e["source"]]["name"], by_id[e["target"]]["name"]) for e in main["edges"]}
    fingerprint = next(n for n in main["nodes"] if n["name"] == "raw_data_fingerprint")
    assert "RawFilesFingerprintDataset" in str(fingerprint.get("dataset_type", ""))
    assert fingerprint.get("layer") == "raw"
    assert {
        ("raw_data_fingerprint", "build_raw_data_lineage"),
        ("build_raw_data_lineage", "raw_data_lineage"),
        ("raw_data_lineage", "collect_lineage"),
    } <= edges
