"""End-to-end review on the shared lifecycle: first with no Production version (kept by the
fixture), then Staging v2 against Production v1 with `kedro run --pipelines review`."""

from __future__ import annotations

import json

import pytest

CHECKLIST = [
    "Staging better than Production",
    "Reasonable across store types",
    "No systematic over- or under-prediction",
    "Good on recent data",
    "Calibrated ranges",
    "No store much worse than Production",
]
PLOTS = ("forecast_vs_actual", "residuals_by_store_type", "error_distribution")


@pytest.fixture(scope="module")
def second_review(lifecycle):
    result = lifecycle.project.run("--pipelines", "review")
    assert result.returncode == 0, result.output
    folder = lifecycle.project.path / "data" / "08_reporting" / "review"
    return result, folder, json.loads((folder / "review_summary.json").read_text())


def test_without_production_the_review_reports_staging_alone(lifecycle):
    summary, output = lifecycle.first_review_summary, lifecycle.first_review.stdout

    assert summary["staging_version"] == 1
    assert summary["production_version"] is None
    assert "alone: no version is in Production yet" in output
    assert "No version is in Production yet (first promotion)" in lifecycle.first_report
    statuses = {item["item"]: item["status"] for item in summary["checklist"]}
    assert list(statuses) == CHECKLIST
    assert statuses["Staging better than Production"] == "skipped"
    assert "production" not in summary["metrics"]
    first_plots = lifecycle.project.path.parent / "first_review" / "plots"
    assert sorted(p.stem for p in first_plots.glob("*.png")) == sorted(PLOTS)


def test_the_review_compares_staging_with_production(second_review):
    _, folder, summary = second_review

    assert (summary["staging_version"], summary["production_version"]) == (2, 1)
    assert [item["item"] for item in summary["checklist"]] == CHECKLIST
    assert {item["status"] for item in summary["checklist"]} <= {"pass", "fail"}
    for role in ("staging", "production"):
        metrics = summary["metrics"][role]
        assert 0 < metrics["overall"]["rmspe"] < 1
        assert 0 < metrics["recent"]["rmspe"] < 1
        assert set(metrics["store_type"]) and set(metrics["assortment"])
        assert all("bias" in stats for stats in metrics["store_type"].values())
        assert metrics["predictions"]["q05"] <= metrics["predictions"]["q95"]
        assert metrics["intervals"]["interval"] == "P10-P90"  # both trained with quantiles
        assert 0 < metrics["intervals"]["scores"]["interval_coverage"] <= 1
        # The stores that carry the holdout's error, costliest first.
        concentration = metrics["concentration"]
        shares = [store["share"] for store in concentration["top"]]
        assert concentration["stores"] == 30 and shares == sorted(shares, reverse=True)
        assert concentration["rmspe"] == pytest.approx(metrics["overall"]["rmspe"])
    # 30 stores: the difference comes with its interval over the stores resampled.
    comparison = summary["metrics"]["comparison"]
    assert comparison["stores"] == 30 and comparison["low"] <= comparison["high"]
    # Every store has 14 days with sales in the holdout: each is compared, the worst first.
    stores = summary["metrics"]["stores"]
    assert stores["compared"] == 30 and len(stores["worst"]) == 10
    increases = [row["increase"] for row in stores["worst"]]
    assert increases == sorted(increases, reverse=True)
    (first,) = [item for item in summary["checklist"] if item["item"] == CHECKLIST[0]]
    assert "; Staging / Production " in first["detail"]
    assert first["detail"].endswith(" over 30 stores resampled")
    report = (folder / "review_report.md").read_text()
    assert "version 2 (Staging)" in report and "version 1 (Production)" in report
    assert "The gate's estimate of the six weeks version 2 will forecast: RMSPE 0." in report
    assert "(likely 0." in report  # conf/base's validation.estimate_range
    headings = ("## Checklist", "## Forecast ranges", "## By StoreType", "## By Assortment",
                "## Stores where Staging lost most", "## Stores that carry the holdout's error",
                "## Distribution")  # fmt: skip
    for heading in headings:
        assert heading in report


def test_the_report_has_its_plots_as_png(second_review):
    _, folder, _ = second_review
    report = (folder / "review_report.md").read_text()

    for name in PLOTS:
        png = folder / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 10_000
        assert f"(plots/{name}.png)" in report


def test_the_report_is_logged_on_the_staging_versions_validation_run(lifecycle, second_review):
    version = lifecycle.client.get_model_version("rossmann-ensemble", "2")
    run_id = version.tags["validation.run_id"]

    logged = {a.path for a in lifecycle.client.list_artifacts(run_id, "review")}
    plots = {a.path for a in lifecycle.client.list_artifacts(run_id, "review/plots")}

    assert {"review/review_report.md", "review/review_summary.json"} <= logged
    assert plots == {f"review/plots/{name}.png" for name in PLOTS}
