"""kedro-viz renders the project's pipelines: its data, and the site in a real browser."""

import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.browser_support import render, serve_directory
from tests.conftest import _kedro_command, make_kedro_project

# Kedro's data layers, in the order data flows through them (data/01_raw .. 08_reporting).
LAYER_ORDER = (
    "raw",
    "intermediate",
    "primary",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
)
# What the rendered default pipeline must show: both ends of the flow and the gate.
SHOWN_NODES = {"sales_raw", "build_model_input", "assemble_and_register_ensemble", "apply_gate"}
# kedro-viz 12.5's "publish" dialog asks the live server for package versions (api/metadata);
# a static build has no server, so the request gets a 404 and the app logs that it caught it.
# Only the static site may show these two messages; `kedro viz run` must show none.
STATIC_BUILD_GAPS = {
    ("api/metadata", "Failed to load resource: the server responded with a status of 404"),
    ("api/metadata", "HTTP 404"),
}
STATIC_BUILD_LOGGED = "metadata fetch error:"


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
        (
            "validation",
            "ensemble_model",
            "RegisteredEnsembleDataset",
            {"score_candidate", "find_season_window"},
        ),
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


def test_every_dataset_of_the_default_pipeline_has_a_layer_in_flow_order(viz_build):
    main = json.loads((viz_build.parent / "main").read_text())
    default = json.loads((viz_build / "__default__").read_text())
    datasets = [n for n in default["nodes"] if n["type"] == "data"]

    assert datasets
    assert [n["name"] for n in datasets if n.get("layer") not in LAYER_ORDER] == []
    for layers in (main["layers"], default["layers"]):
        assert layers == sorted(layers, key=LAYER_ORDER.index)
        assert layers[0] == "raw"
        assert layers[-1] == "reporting"
    assert {"intermediate", "model_input", "models", "model_output"} <= set(main["layers"])


def _static_build_gaps(base_url: str) -> set[tuple[str, str]]:
    return {(base_url + path, text) for path, text in STATIC_BUILD_GAPS}


def test_the_static_site_renders_the_pipelines_in_chromium(viz_build, tmp_path):
    site = viz_build.parent.parent

    with serve_directory(site) as url:
        shown = render(url, tmp_path / "kedro-viz-static.png")
        gaps = _static_build_gaps(url)
        # The app's own log line about the same 404, from its script.
        logged = [e for e in shown.console if e.text.startswith(STATIC_BUILD_LOGGED)]

    assert set(shown.node_labels) >= SHOWN_NODES, shown.node_labels
    assert shown.layer_labels == json.loads((site / "api" / "main").read_text())["layers"]
    assert shown.screenshot.stat().st_size > 10_000
    unexplained = [e for e in shown.errors(gaps) if e not in logged]
    assert unexplained == [], "\n".join(map(str, unexplained))


def _free_registered_port() -> int:
    """A free loopback port below 49152: kedro-viz refuses the ephemeral range above it."""
    for port in random.sample(range(20_000, 49_000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port between 20000 and 49000 on 127.0.0.1")


@pytest.fixture(scope="module")
def viz_server(tmp_path_factory):
    """``kedro viz run`` (what ``make viz`` starts) on a free loopback port; yields its URL."""
    project = make_kedro_project(tmp_path_factory.mktemp("viz_run"))
    port = _free_registered_port()
    log_path = project.path.parent / "viz_run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*_kedro_command(), "viz", "run", "--host", "127.0.0.1", "--port", str(port)]
            + ["--no-browser"],
            cwd=project.path,
            env=project.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "api/main", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, log_path.read_text()[-4000:]
            assert time.monotonic() < deadline, log_path.read_text()[-4000:]
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_kedro_viz_run_serves_the_pipelines_to_chromium_with_a_clean_console(viz_server, tmp_path):
    shown = render(viz_server, tmp_path / "kedro-viz-run.png")

    assert set(shown.node_labels) >= SHOWN_NODES, shown.node_labels
    assert shown.layer_labels[0] == "raw"
    assert shown.layer_labels[-1] == "reporting"
    assert shown.errors() == [], "\n".join(map(str, shown.errors()))
