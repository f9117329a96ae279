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
