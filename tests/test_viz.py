"""kedro-viz renders the project's pipelines (a static build, offline)."""

import json

import pytest

from tests.conftest import make_kedro_project


@pytest.fixture(scope="module")
def viz_build(tmp_path_factory):
    """``kedro viz build`` once for the module: the folder of per-pipeline JSON data."""
    kedro_project = make_kedro_project(tmp_path_factory.mktemp("viz"))
    result = kedro_project.kedro("viz", "build")
    assert result.returncode == 0, result.output
    return kedro_project.path / "build" / "api" / "pipelines"


def test_kedro_viz_build_shows_every_pipeline_and_the_gate(viz_build):
    main = json.loads((viz_build.parent / "main").read_text())
    pipelines = {p["id"] for p in main["pipelines"]}
    assert {"__default__", "data_processing", "training", "validation"} <= pipelines
    names = {node["name"] for node in main["nodes"]}
    assert {"apply_gate", "build_model_input", "assemble_and_register_ensemble"} <= names


def _fed_by(api_dir, pipeline: str, dataset: str) -> tuple[dict, set[str]]:
    """The dataset's node in ``pipeline``'s kedro-viz data, and the names of the nodes it feeds."""
    data = json.loads((api_dir / pipeline).read_text())
    by_id = {node["id"]: node for node in data["nodes"]}
    found = next(n for n in data["nodes"] if n["name"] == dataset)
    fed = {by_id[e["target"]]["name"] for e in data["edges"] if e["source"] == found["id"]}
    return found, fed


@pytest.mark.parametrize(
    ("pipeline", "dataset", "dataset_type", "nodes"),
    [
        ("inference", "inference_model", "RegisteredModelDataset", {"predict_sales"}),
        ("validation", "ensemble_model", "RegisteredEnsembleDataset", {"score_candidate"}),
        ("validation", "production_model", "RegisteredVersionDataset", {"score_production"}),
        (
            "review",
            "staging_model",
            "RegisteredVersionDataset",
            {"resolve_review_versions", "score_review_versions"},
        ),
        (
            "review",
            "production_model",
            "RegisteredVersionDataset",
            {"resolve_review_versions", "score_review_versions"},
        ),
    ],
)
def test_kedro_viz_shows_registry_datasets_feeding_the_nodes_that_use_them(
    viz_build, pipeline, dataset, dataset_type, nodes
):
    found, fed = _fed_by(viz_build, pipeline, dataset)

    assert found["type"] == "data"
    assert dataset_type in str(found.get("dataset_type", ""))
    assert fed == nodes


def test_kedro_viz_shows_the_gate_writing_its_verdict_through_the_registry(viz_build):
    data = json.loads((viz_build / "validation").read_text())
    by_id = {node["id"]: node for node in data["nodes"]}
    verdict = next(n for n in data["nodes"] if n["name"] == "gate_status")
    writers = {by_id[e["source"]]["name"] for e in data["edges"] if e["target"] == verdict["id"]}

    assert "GateVerdictDataset" in str(verdict.get("dataset_type", ""))
    assert writers == {"apply_gate"}


def test_kedro_viz_shows_the_raw_fingerprint_feeding_the_lineage(viz_build):
    main = json.loads((viz_build / "__default__").read_text())
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
