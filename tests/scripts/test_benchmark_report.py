"""The benchmark's results files and the blocks of docs/benchmarks.md generated from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_report import (
    KINDS,
    latest,
    render_markdown,
    result_stem,
    update_page,
    write_result,
)

MACHINE = {
    "cores": 2, "memory_gib": 24.0, "cpu": "Test CPU", "load_average_at_start": [0.1, 0.2, 0.3],
    "platform": "Linux", "python": "3.11.9", "versions": {"kedro": "1.0", "mlflow": "3.0"},
}  # fmt: skip


def synthetic_result(created: str = "2026-12-01T10:00:00Z", wall: float = 170.0) -> dict:
    return {
        "schema": 1, "kind": "synthetic", "created": created, "commit": "abc1234",
        "dirty": False, "command": "make benchmark", "machine": MACHINE,
        "data": {"source": "synthetic", "n_stores": 1115, "train_rows": 1017209,
                 "description": "full-size synthetic data (1,115 stores, 1,017,209 train rows)"},
        "steps": [
            {"name": "kedro run", "wall_s": wall, "cpu_s": 300.0, "peak_rss_mib": 2200.0,
             "returncode": 0, "stopped": None, "steal_pct": 12.4,
             "nodes": [{"name": "lightgbm.fit_served", "seconds": 20.0, "peak_rss_gib": 2.1},
                       {"name": "build_model_input", "seconds": 30.0, "peak_rss_gib": 1.9}]},
        ],
        "targets": [
            {"name": "`make run` wall time", "value": wall, "limit": 180.0, "unit": "s",
             "op": "<", "met": wall < 180, "detail": ""},
            {"name": "inference ratio", "value": 1.31, "limit": 1.2, "unit": "x", "op": "<=",
             "met": False, "detail": "9.2 s / 7.0 s"},
        ],
        "accuracy": {
            "version": 1, "gate_status": "passed", "cut_days": 42,
            "cv": {"rmspe_ensemble": 0.0875, "rmspe_lightgbm": 0.086, "rmspe_xgboost": 0.088,
                   "rmspe_catboost": 0.089, "bias_ensemble": -0.01},
            "cv_folds": {"1": "2014-06-21", "2": "2015-05-09"},
            "gate": {"ensemble": 0.0874, "lightgbm": 0.086, "xgboost": 0.0879,
                     "catboost": 0.0885, "median_baseline": 0.1439, "bias": -0.027,
                     "rows": 39000, "origin": "2015-06-20"},
        },
    }  # fmt: skip


def test_markdown_shows_every_target_with_its_verdict_and_the_accuracy() -> None:
    text = render_markdown(synthetic_result())
    assert "| `make run` wall time | 170.0 s | < 180 s | met |" in text
    assert "| inference ratio | 1.31x (9.2 s / 7.0 s) | <= 1.2x | **not met** |" in text
    assert "**0.0874**" in text and "0.1439" in text
    assert "commit `abc1234`" in text and "2 cores, 24 GiB" in text
    # the host's steal next to the step's times: a slow host is told apart from slow code
    assert "| kedro run | 170.0 s | 300.0 s | 2.15 GiB | 12% |" in text
    # the slowest node first, with its share of the run and the peak after it
    assert text.index("| build_model_input | 30.0 | 18% | 1.90 GiB |") < text.index(
        "| lightgbm.fit_served |"
    )


def test_the_header_gives_the_reference_fit_where_the_result_has_it() -> None:
    """How long fixed work took on the host before the runs, beside the load: a result
    recorded before the reference fit existed renders as it did."""
    reference = {"wall_s": 8.31, "cpu_s": 16.07, "rows": 400_000, "rounds": 100, "checksum": 1.0}
    result = {**synthetic_result(), "machine": {**MACHINE, "reference_fit": reference}}

    text = render_markdown(result)
    assert (
        "load average 0.1/0.2/0.3 at the start; a reference LightGBM fit (the same work on every "
        "host: 400,000 rows, 100 rounds) took 8.31 s, 16.07 s CPU; Python 3.11.9" in text
    )
    assert "reference" not in render_markdown(synthetic_result())


def test_the_quantiles_are_shown_beside_the_naive_interval_for_each_window() -> None:
    result = synthetic_result()
    bands = {
        "interval_coverage": 0.801,
        "interval_coverage_week1": 0.85,
        "interval_coverage_week2": 0.78,
        "interval_width": 0.261,
        "quantile_loss": 0.0412,
    }
    naive = {
        "interval_coverage": 0.74,
        "interval_coverage_week1": 0.74,
        "interval_coverage_week2": 0.74,
        "interval_width": 0.52,
        "quantile_loss": 0.0703,
    }
    result["accuracy"]["gate"] |= {"intervals": bands, "naive_intervals": naive}
    result["accuracy"]["cut"] = {**result["accuracy"]["gate"], "origin": "2015-08-01"}

    text = render_markdown(result)

    assert "# Forecast quantiles\n" in text
    assert (
        "| holdout (the gate's backtest): calibrated bands | 80.1% | 85% 78% | 0.261 | 0.0412 |"
        in text
    )
    assert (
        "| 42 cut days (the served version): naive interval | 74.0% | 74% 74% | 0.520 | 0.0703 |"
        in text
    )
    # A result from before the quantiles has no such table.
    assert "Forecast quantiles" not in render_markdown(synthetic_result())


def test_time_and_accuracy_of_each_row_cap_are_side_by_side() -> None:
    result = synthetic_result()
    result["trade"] = [
        {"max_rows": 300000, "configured": True, "wall_s": 160.2, "cpu_s": 290.0,
         "peak_rss_mib": 1600.0, "gate": 0.0878, "cut": 0.0877, "cut_bias": -0.027,
         "steal_pct": 3.2},
        {"max_rows": 450000, "configured": False, "wall_s": 205.0, "cpu_s": 380.0,
         "peak_rss_mib": 1700.0, "gate": 0.0874, "cut": 0.0874, "cut_bias": -0.027},
    ]  # fmt: skip
    text = render_markdown(result)
    assert (
        "| 300,000 (conf) | 160.2 s | 290.0 s | 1.56 GiB | 3% | 0.0878 | 0.0877 | -2.70% |"
    ) in text
    assert "| 450,000 | 205.0 s |" in text


def test_results_are_written_as_json_and_markdown_named_by_date_and_commit(
    tmp_path: Path,
) -> None:
    path = write_result(synthetic_result(), tmp_path)
    assert path.name == "2026-12-01-abc1234.json"
    assert json.loads(path.read_text())["steps"][0]["wall_s"] == 170.0
    assert path.with_suffix(".md").read_text().startswith("# Benchmark: full-size synthetic")
    real = {**synthetic_result(), "kind": "real",
            "data": {"label": "realdata-dev", "description": "x"}}  # fmt: skip
    assert result_stem(real) == "2026-12-01-abc1234-realdata-dev"


def test_page_block_is_refilled_from_the_newest_result_of_its_kind(tmp_path: Path) -> None:
    results = tmp_path / "benchmark" / "results"
    write_result(synthetic_result("2026-11-30T09:00:00Z", wall=230.0), results)
    newest = synthetic_result("2026-12-01T11:00:00Z", wall=170.0)
    newest["commit"] = "def5678"
    write_result(newest, results)
    assert latest("synthetic", results)[1]["commit"] == "def5678"
    # A newer run with settings of its own (parts skipped, a row cap forced) is kept, not shown.
    variant = synthetic_result("2026-12-02T08:00:00Z", wall=999.0)
    variant["commit"], variant["headline"] = "0dd0dd0", False
    write_result(variant, results)
    assert latest("synthetic", results)[1]["commit"] == "def5678"
    page = tmp_path / "docs" / "benchmarks.md"
    page.parent.mkdir()
    blocks = "".join(
        f"<!-- benchmark:{kind} start -->\nold {kind}\n<!-- benchmark:{kind} end -->\n"
        for kind in KINDS
    )
    page.write_text(f"# Benchmarks\n\nintro\n\n{blocks}\nafter\n")

    assert update_page(page, results) == ["synthetic"]
    text = page.read_text()
    assert "old synthetic" not in text and "170.0 s" in text and "230.0 s" not in text
    assert "old real" in text and "old scale" in text  # no result of those kinds: left alone
    # links are relative to the page, and lead to the result's files
    link = "../benchmark/results/2026-12-01-def5678.json"
    assert f"]({link})" in text and (page.parent / link).is_file()
    assert "](../benchmark/results/2026-12-01-def5678.md)" in text
    assert text.startswith("# Benchmarks\n\nintro\n") and text.rstrip().endswith("after")
    update_page(page, results)
    assert page.read_text() == text  # refilling twice changes nothing


def test_page_without_markers_is_refused_by_name(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n<!-- benchmark:synthetic start -->\n")
    with pytest.raises(ValueError, match="benchmark:synthetic end"):
        update_page(page, tmp_path)


def test_scale_result_renders_sizes_where_they_stopped_and_the_plot() -> None:
    result = {**synthetic_result(), "kind": "scale", "plot": "x-scale.png", "sizes": [
        {"n_stores": 100, "train_rows": 91000, "synthesize": {"wall_s": 1.0},
         "run": {"wall_s": 60.0, "cpu_s": 90.0, "peak_rss_mib": 900.0, "returncode": 0,
                 "steal_pct": 0.4},
         "dominant": {"name": "cross_validate", "seconds": 20.0, "share": 0.33}},
        {"n_stores": 11150, "train_rows": 10000000, "synthesize": {"wall_s": 80.0},
         "run": {"wall_s": 900.0, "cpu_s": 1500.0, "peak_rss_mib": 21600.0, "returncode": -9,
                 "stopped": "memory: resident 21.1 GiB passed the 21 GiB ceiling"},
         "stopped_in": "build_model_input"},
    ]}  # fmt: skip
    text = render_markdown(result)
    assert (
        "| 100 | 91,000 | 1.0 s | 60.0 s | 90.0 s | 0.88 GiB | 0% | cross_validate (33%) |"
    ) in text
    assert "passed the 21 GiB ceiling; stopped in build_model_input" in text
    assert "![cost by chain size](x-scale.png)" in text


def test_the_project_benchmarks_page_holds_every_block(tmp_path: Path) -> None:
    """`make benchmark` refills docs/benchmarks.md at its end: its markers must be there."""
    page = tmp_path / "benchmarks.md"
    page.write_text((Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md").read_text())
    assert update_page(page, tmp_path / "no-results") == []
