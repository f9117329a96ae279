"""Review nodes called directly on small frames: metrics, checklist, plots."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from rossmann_forecast.pipelines.review.nodes import (
    compute_review_metrics,
    compute_review_segments,
    evaluate_checklist,
    plot_review,
    render_review_report,
    resolve_review_versions,
    score_review_versions,
)
from rossmann_forecast.registry.version import RegisteredVersion

PARAMS = {
    "recent_days": 2,
    "plot_stores": 2,
    "checklist": {
        "max_rmspe_increase": 0.0,
        "max_group_rmspe": 0.15,
        "max_abs_bias": 0.02,
        "max_abs_group_bias": 0.05,
        "max_recent_rmspe": 0.12,
    },
}
STORES = pd.DataFrame({"Store": [1, 2], "StoreType": ["a", "b"], "Assortment": ["a", "c"]})


def _predictions(staging_factor: float, production_factor: float | None) -> pd.DataFrame:
    dates = pd.date_range("2015-07-01", periods=4)
    base = pd.DataFrame(
        [(s, d, 1, 1000.0 * s) for s in (1, 2) for d in dates],
        columns=["Store", "Date", "Open", "Sales"],
    )
    frames = [base.assign(role="staging", version=2, prediction=base["Sales"] * staging_factor)]
    if production_factor is not None:
        frames.append(
            base.assign(role="production", version=1, prediction=base["Sales"] * production_factor)
        )
    return pd.concat(frames, ignore_index=True)


NO_LIVE = {"staging": {"live": None, "live_text": None}}


def _statuses(staging_factor, production_factor, versions=NO_LIVE):
    metrics = compute_review_metrics(
        _predictions(staging_factor, production_factor), STORES, PARAMS
    )
    return {i["item"]: i["status"] for i in evaluate_checklist(metrics, PARAMS, versions)}, metrics


def _live(rmspe: float, champion_rmspe: float) -> dict:
    tags = {
        "monitoring.shadow.vs_version": "1", "monitoring.shadow.rmspe": str(rmspe),
        "monitoring.shadow.champion_rmspe": str(champion_rmspe),
        "monitoring.shadow.store_days": "4212", "monitoring.shadow.since": "2015-08-03",
    }  # fmt: skip
    staging = _registered(2, "2015-08-01", [])
    staging.tags.update(tags)
    production = _registered(1, "2015-06-01", [])
    return resolve_review_versions(staging, production, {"model_name": "rossmann-ensemble"})


def test_live_weeks_in_the_shadow_decide_good_on_recent_data_when_there_are_some():
    metrics = compute_review_metrics(_predictions(1.2, 1.05), STORES, PARAMS)  # bad holdout tail

    better = evaluate_checklist(metrics, PARAMS, _live(0.091, 0.104))
    worse = evaluate_checklist(metrics, PARAMS, _live(0.110, 0.104))

    (item,) = [i for i in better if i["item"] == "Good on recent data"]
    assert item["status"] == "pass"
    assert item["detail"].startswith(
        "live since 2015-08-03, 4,212 store-days: version 2 0.0910 vs version 1 0.1040"
    )
    assert [i["status"] for i in worse if i["item"] == "Good on recent data"] == ["fail"]


def test_without_live_weeks_the_recent_item_says_so():
    metrics = compute_review_metrics(_predictions(1.01, 1.05), STORES, PARAMS)

    (item,) = [i for i in evaluate_checklist(metrics, PARAMS, NO_LIVE) if "recent" in i["item"]]

    assert "no live comparison yet" in item["detail"]


def test_a_good_candidate_passes_every_item():
    statuses, metrics = _statuses(1.01, 1.05)

    assert set(statuses.values()) == {"pass"}
    assert metrics["staging"]["overall"]["rmspe"] == pytest.approx(0.01)
    assert metrics["staging"]["overall"]["bias"] == pytest.approx(0.01)
    assert set(metrics["staging"]["store_type"]) == {"a", "b"}
    assert metrics["window"]["recent_start"] == "2015-07-03"


def test_a_worse_and_biased_candidate_fails():
    statuses, _ = _statuses(1.2, 1.05)

    assert statuses["Staging better than Production"] == "fail"
    assert statuses["No systematic over- or under-prediction"] == "fail"
    assert statuses["Good on recent data"] == "fail"
    assert statuses["Reasonable across store types"] == "fail"


def test_without_production_the_comparison_is_skipped():
    statuses, metrics = _statuses(1.01, None)

    assert statuses["Staging better than Production"] == "skipped"
    assert "production" not in metrics


def test_plots_are_figures():
    figures = plot_review(_predictions(1.01, 1.05), STORES, PARAMS)

    assert set(figures) == {"forecast_vs_actual", "residuals_by_store_type", "error_distribution"}
    assert all(isinstance(f, Figure) for f in figures.values())


class _Doubled:
    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"Sales": rows["Store"].to_numpy() * 2000.0})


def _registered(number: int, served_from: str, loaded: list[str]) -> RegisteredVersion:
    tags = {
        "lineage.training_window.origin": served_from,
        "lineage.backtest.origin": "2015-07-01",
        "lineage.backtest.model_uri": f"models:/m-backtest{number}",
        "validation.run_id": f"run{number}",
    }
    return RegisteredVersion(
        "rossmann-ensemble",
        number,
        "Staging",
        tags,
        0.05,
        loader=lambda u: loaded.append(u) or _Doubled(),
    )


def test_versions_are_resolved_and_scored_from_pure_inputs():
    loaded: list[str] = []
    holdout = _predictions(1.0, None)[["Store", "Date", "Open", "Sales"]].assign(
        DayOfWeek=3, Promo=0, StateHoliday="0", SchoolHoliday=0
    )
    staging = _registered(2, "2015-08-01", loaded)  # served model has seen the holdout
    production = _registered(1, "2015-06-01", loaded)  # served from before it: honest

    versions = resolve_review_versions(staging, production, {"model_name": "rossmann-ensemble"})
    scored = score_review_versions(staging, production, holdout)

    assert versions["staging"] == {
        "version": 2,
        "model_uri": "models:/rossmann-ensemble/2",
        "validation_run_id": "run2",
        "holdout_rmspe": 0.05,
        "live": None,  # not yet compared in Production's shadow
        "live_text": None,
    }
    assert versions["production"]["version"] == 1
    assert loaded == ["models:/m-backtest2", "models:/rossmann-ensemble/1"]
    assert scored.groupby("role")["scored_kind"].first().to_dict() == {
        "production": "served",
        "staging": "backtest",
    }
    assert (scored["prediction"] == scored["Store"] * 2000.0).all()


def test_without_production_only_staging_is_scored():
    loaded: list[str] = []
    holdout = _predictions(1.0, None)[["Store", "Date", "Open", "Sales"]].assign(
        DayOfWeek=3, Promo=0, StateHoliday="0", SchoolHoliday=0
    )
    staging = _registered(2, "2015-08-01", loaded)

    versions = resolve_review_versions(staging, None, {"model_name": "rossmann-ensemble"})

    assert versions["production"] is None
    assert set(score_review_versions(staging, None, holdout)["role"]) == {"staging"}


def test_the_report_shows_each_version_by_segment():
    predictions = _predictions(1.1, 1.2)
    calendar = predictions.loc[predictions["role"] == "staging", ["Store", "Date", "Open", "Sales"]]
    holdout = calendar.assign(DayOfWeek=calendar["Date"].dt.day_of_week + 1, Promo=0,
                              SchoolHoliday=0, StateHoliday="0")  # fmt: skip
    history = holdout.assign(Date=holdout["Date"] - pd.Timedelta(days=28))

    segments = compute_review_segments(predictions, holdout, history, STORES)
    report = render_review_report(
        {"model_name": "m", "staging": {"version": 2, "validation_run_id": None},
         "production": {"version": 1}},
        compute_review_metrics(predictions, STORES, PARAMS), [], {}, segments,
    )  # fmt: skip

    staging = {(r["segmentation"], r["segment"]): r for r in segments["staging"]}
    assert staging[("StoreType", "StoreType b")]["rmspe"] == pytest.approx(0.1)
    assert segments["production"][0]["bias"] == pytest.approx(0.2)
    assert "## By segment" in report["markdown"]
    assert "| promo | no promo | 8 | 0.1000 | +10.00% | 0.2000 | +20.00% |" in report["markdown"]
