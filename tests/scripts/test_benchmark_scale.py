"""The scale benchmark's reading of a run: the dominant step and where a stopped run was."""

from __future__ import annotations

from benchmark_scale import dominant_step, running_at_stop

LOG = """INFO kedro.pipeline.node: Running node: build_model_input: build_model_input([a]) -> [b]
INFO rossmann_forecast.hooks: [8/29] build_model_input done in 30.0 s (32 s elapsed, peak RSS 2.18 GiB)
INFO kedro.pipeline.node: Running node: cross_validate: cross_validate_member([b]) -> [c]
"""


def test_the_dominant_step_sums_a_step_over_the_boosters() -> None:
    nodes = [
        {"name": "build_model_input", "seconds": 30.0},
        {"name": "lightgbm.cross_validate", "seconds": 20.0},
        {"name": "xgboost.cross_validate", "seconds": 20.0},
    ]
    dominant = dominant_step(nodes, wall_s=100.0)
    assert dominant["name"] == "cross_validate" and dominant["seconds"] == 40.0
    assert dominant["share"] == 0.4
    # time outside the nodes is a step of its own
    assert dominant_step(nodes[:1], wall_s=100.0)["name"].startswith("start-up")


def test_a_stopped_run_names_the_node_it_was_in() -> None:
    assert running_at_stop(LOG) == "cross_validate"
    assert running_at_stop(LOG.rsplit("\n", 2)[0]) == "build_model_input"
